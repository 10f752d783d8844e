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
//! The scheduler knows nothing of HTTP or OCI (that is `imageautomation-registry`, reached
//! through the [`TagSource`] trait). The crate also holds the reconcilers the plugin and the
//! CLI share ([`reconcile`]: scan, select, and write back through `imageautomation-git`) and
//! the typed inputs -> Flux objects mapping of cluster mode ([`flux_objects`], rendered by
//! `imageautomation-kube`); the shapes and rules they work on are `imageautomation-model`'s. Scan results live in
//! memory, one cache per process; [`Scheduler::restore`] hands back a result kept elsewhere
//! (Pulumi state).
//!
//! ```no_run
//! use std::time::Duration;
//! use imageautomation_engine::{Credentials, ScanRequest, Scheduler};
//!
//! # async fn example() -> Result<(), imageautomation_engine::Error> {
//! let scheduler = Scheduler::default();
//! let request = ScanRequest {
//!     interval: Duration::from_secs(600),
//!     credentials: Credentials::basic("bot", "token"),
//!     ..ScanRequest::new("ghcr.io/org/app")
//! };
//! let result = scheduler.scan(&request).await?; // scans the registry
//! let again = scheduler.scan(&request).await?; // reuses the stored result for 10 minutes
//! assert_eq!(result.last_scan_result.revision, again.last_scan_result.revision);
//! println!("{} tags, latest {:?}", result.tags.len(), result.last_scan_result.latest_tags);
//! # Ok(())
//! # }
//! ```

mod error;
pub mod flux_objects;
pub mod reconcile;
mod scheduler;
mod should_scan;
mod source;

pub use backon::ExponentialBuilder;
pub use error::{Error, Result};
pub use imageautomation_model::{parse_go_duration, token_rule};
pub use scheduler::{
    DEFAULT_MAX_CONCURRENT_PER_REGISTRY, DigestRequest, REGISTRY_RETRY, ScanRequest, Scheduler,
    SchedulerConfig, default_timeout,
};
pub use should_scan::{ScanDecision, ScanReason, same_patterns, should_scan};
pub use source::{Access, RegistryTagSource, TagSource, proxy_options};

pub use imageautomation_registry::{
    Credentials, DockerConfig, LastScanResult, Provider, ProxyOptions, ScanResult, TlsOptions,
};
