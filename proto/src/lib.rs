//! The Pulumi provider protocol (`pulumirpc`) and `google.rpc.Status`, generated
//! from the vendored protos in this folder (see README.md for their source).
//!
//! Servers and clients for every service are generated: the plugin serves
//! `ResourceProvider` and calls `Engine`; the test harness does the opposite.
//! Unimplemented `ResourceProvider` methods answer `Unimplemented` by default.

#![allow(missing_docs, clippy::all, clippy::pedantic)]

/// `package pulumirpc`.
pub mod pulumirpc {
    tonic::include_proto!("pulumirpc");
}

/// `package google.rpc` (the envelope of gRPC error details).
pub mod google_rpc {
    tonic::include_proto!("google.rpc");
}
