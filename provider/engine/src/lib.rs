//! `imageautomation-engine`: the embedded scan scheduler that the Pulumi provider and the CLI
//! share.
//!
//! Its main type is [`Scheduler`]: [`Scheduler::scan`] takes an ImageRepository-like
//! [`ScanRequest`] and returns the stored [`ScanResult`], scanning the registry only when the
//! scan is due ([`should_scan`], as Flux's `shouldScan`), sharing one registry round trip
//! between concurrent requests for the same scan (single flight), bounding the concurrent
//! requests per registry host, and retrying transient failures with exponential backoff and
//! jitter (honouring `Retry-After`) inside an overall per-scan timeout.
//!
//! It knows nothing of HTTP or OCI (that is `imageautomation-registry`, reached through the
//! [`TagSource`] trait), nor of Pulumi, Kubernetes or git. Results live in memory only: one
//! process, one cache.

mod error;
mod scheduler;
mod should_scan;
mod source;

pub use error::{Error, Result};
pub use scheduler::{
    DEFAULT_MAX_CONCURRENT_PER_REGISTRY, DigestRequest, RetryPolicy, ScanRequest, Scheduler,
    SchedulerConfig, default_timeout,
};
pub use should_scan::{ScanDecision, ScanReason, same_patterns, should_scan};
pub use source::{Access, RegistryTagSource, TagSource};

pub use imageautomation_registry::{Credentials, DockerConfig, ScanResult, TlsOptions};
