//! The one error type of this crate.

use std::sync::Arc;
use std::time::Duration;

use imageautomation_registry as registry;

/// Why a scan or digest request failed. Cheap to clone: concurrent requests that shared one
/// registry round trip all receive the same error.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The request itself is invalid: the image, the exclusion list or the TLS options (Flux
    /// Stalled: nothing changes until the input does).
    #[error("{source}")]
    Invalid {
        /// What was wrong.
        #[source]
        source: Arc<registry::Error>,
    },

    /// The registry failed the scan (after retries when the failure was transient).
    #[error("scan of {image} failed after {attempts} attempt(s): {source}")]
    Scan {
        /// The canonical image name.
        image: String,
        /// How many attempts were made.
        attempts: u32,
        /// The last registry error.
        #[source]
        source: Arc<registry::Error>,
    },

    /// The digest of a tag could not be resolved.
    #[error("digest of {image}:{tag} failed after {attempts} attempt(s): {source}")]
    Digest {
        /// The canonical image name.
        image: String,
        /// The tag.
        tag: String,
        /// How many attempts were made.
        attempts: u32,
        /// The last registry error.
        #[source]
        source: Arc<registry::Error>,
    },

    /// The build time and platforms of a tag's image could not be read (`minimumAge`,
    /// `platforms`).
    #[error("metadata of {image}:{tag} failed after {attempts} attempt(s): {source}")]
    Metadata {
        /// The canonical image name.
        image: String,
        /// The tag.
        tag: String,
        /// How many attempts were made.
        attempts: u32,
        /// The last registry error.
        #[source]
        source: Arc<registry::Error>,
    },

    /// The overall per-scan `timeout` passed (spanning all pages and retries, Flux
    /// `spec.timeout`).
    #[error("scan of {image} timed out after {}{}", humanize(*timeout), last_error_text(last_error.as_deref()))]
    Timeout {
        /// The canonical image name.
        image: String,
        /// The time limit that passed.
        timeout: Duration,
        /// The error of the last failed attempt, if any attempt failed before the deadline.
        last_error: Option<Arc<registry::Error>>,
    },
}

fn humanize(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}

fn last_error_text(e: Option<&registry::Error>) -> String {
    e.map(|e| format!(" (last error: {e})")).unwrap_or_default()
}

impl Error {
    /// True when the same request may succeed later without any input change (Flux
    /// Ready=False rather than Stalled).
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Invalid { .. } => false,
            Error::Scan { source, .. }
            | Error::Digest { source, .. }
            | Error::Metadata { source, .. } => source.is_transient(),
            Error::Timeout { .. } => true,
        }
    }

    /// The registry error underneath, if any.
    pub fn registry_error(&self) -> Option<&registry::Error> {
        match self {
            Error::Invalid { source }
            | Error::Scan { source, .. }
            | Error::Digest { source, .. }
            | Error::Metadata { source, .. } => Some(source),
            Error::Timeout { last_error, .. } => last_error.as_deref(),
        }
    }
}

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
