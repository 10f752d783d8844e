//! Flux-compatible image tag selection (work in progress).
