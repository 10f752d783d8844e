//! The Pulumi provider protocol: `pulumirpc` and `google.rpc.Status`, generated
//! from the vendored protos in this folder (see README.md for their source), and
//! [`codec`], the property values inside its messages.
//!
//! Servers and clients for every service are generated: the plugin serves
//! `ResourceProvider` and calls `Engine`; the test harness does the opposite.
//! Unimplemented `ResourceProvider` methods answer `Unimplemented` by default.

pub mod codec;

/// `package pulumirpc`.
#[allow(missing_docs, clippy::all, clippy::pedantic)]
pub mod pulumirpc {
    tonic::include_proto!("pulumirpc");
}

/// `package google.rpc` (the envelope of gRPC error details).
#[allow(missing_docs, clippy::all, clippy::pedantic)]
pub mod google_rpc {
    tonic::include_proto!("google.rpc");
}
