//! The one error type of this crate, classified once for retries.

use std::time::Duration;

/// Everything that can go wrong while parsing an image reference, building a client or talking
/// to a registry.
///
/// Messages name the registry and repository and say how to fix the problem; they never contain
/// a password, token or server error body that could echo one. [`Error::is_transient`] separates
/// "retry with backoff" from "stall until the input changes" (Flux's Ready=False vs Stalled).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// `spec.image` is not a valid image reference (Flux `ImageURLInvalid`): it has a URL
    /// scheme, a tag or digest, or characters GGCR's `name.ParseReference` refuses.
    #[error("invalid image {image:?}: {reason}")]
    InvalidImage {
        /// The image as given.
        image: String,
        /// What is wrong and how to fix it.
        reason: String,
    },

    /// A tag given for a digest lookup is not a valid OCI tag.
    #[error("invalid tag {tag:?}: {reason}")]
    InvalidTag {
        /// The tag as given.
        tag: String,
        /// What is wrong.
        reason: String,
    },

    /// An `exclusionList` entry is not a valid regular expression (Flux: "failed to compile
    /// regex").
    #[error("failed to compile regex {pattern:?} in exclusionList: {source}")]
    InvalidExclusionPattern {
        /// The pattern as given.
        pattern: String,
        /// The regex compiler's complaint.
        #[source]
        source: regex::Error,
    },

    /// A Docker config JSON (`~/.docker/config.json`, a `kubernetes.io/dockerconfigjson`
    /// Secret) cannot be read or decoded.
    #[error("invalid Docker config {origin}: {reason}")]
    InvalidDockerConfig {
        /// Where the config came from (a path, or "input").
        origin: String,
        /// What is wrong (never the secret values themselves).
        reason: String,
    },

    /// The TLS options are unusable: a CA bundle, client certificate or key that is not PEM, or
    /// a certificate without its key.
    #[error("invalid TLS configuration: {reason}")]
    InvalidTlsConfig {
        /// What is wrong and which option to fix.
        reason: String,
    },

    /// The registry asked for credentials (HTTP 401) and none were given.
    #[error(
        "authentication required by registry {registry} for repository {repository}: supply \
         credentials (username and password, or a Docker config JSON with an `auths` entry for \
         {registry})"
    )]
    AuthenticationRequired {
        /// Registry host (`host[:port]`).
        registry: String,
        /// Repository path.
        repository: String,
    },

    /// The registry or its token service refused the credentials given (HTTP 401 or 403).
    #[error(
        "registry {registry} refused the credentials for repository {repository} (HTTP \
         {status}): check the username and password or the Docker config entry for {registry}, \
         and that the account may pull {repository}"
    )]
    AuthenticationFailed {
        /// Registry host.
        registry: String,
        /// Repository path.
        repository: String,
        /// HTTP status of the refusal.
        status: u16,
    },

    /// The repository does not exist or has no tags (HTTP 404 `NAME_UNKNOWN`).
    #[error("repository {repository} not found on registry {registry} (HTTP 404)")]
    RepositoryNotFound {
        /// Registry host.
        registry: String,
        /// Repository path.
        repository: String,
    },

    /// The tag whose digest was asked for does not exist (HTTP 404 `MANIFEST_UNKNOWN`).
    #[error("tag {tag:?} not found in {registry}/{repository} (HTTP 404)")]
    ManifestNotFound {
        /// Registry host.
        registry: String,
        /// Repository path.
        repository: String,
        /// The tag.
        tag: String,
    },

    /// The registry could not be reached: DNS, connection refused or reset.
    #[error("registry {registry} is unreachable: {reason}")]
    Unreachable {
        /// Registry host.
        registry: String,
        /// The transport error, without credentials.
        reason: String,
    },

    /// The registry's TLS certificate did not verify.
    #[error(
        "TLS verification failed for registry {registry}: {reason}; if the registry uses a \
         private CA, pass its certificate as the CA bundle (`--ca-file`, certSecretRef `ca.crt`)"
    )]
    Tls {
        /// Registry host.
        registry: String,
        /// What the TLS layer reported.
        reason: String,
    },

    /// The registry answered HTTP 429 Too Many Requests.
    #[error("registry {registry} is rate limiting requests (HTTP 429){}", retry_after_text(*retry_after))]
    RateLimited {
        /// Registry host.
        registry: String,
        /// The server's `Retry-After`, when it sent one.
        retry_after: Option<Duration>,
    },

    /// A request did not complete within its time limit.
    #[error("request to registry {registry} timed out")]
    Timeout {
        /// Registry host.
        registry: String,
    },

    /// The registry answered with an unexpected status (5xx, or a 4xx not covered above).
    #[error("registry {registry} answered HTTP {status} for {what}{}{}", code_text(code.as_deref()), retry_after_text(*retry_after))]
    Server {
        /// Registry host.
        registry: String,
        /// What was being requested ("tags/list of team/app").
        what: String,
        /// HTTP status.
        status: u16,
        /// The registry's error code (`errors[0].code`), when it sent one.
        code: Option<String>,
        /// The server's `Retry-After`, when it sent one (503).
        retry_after: Option<Duration>,
    },

    /// The registry broke the distribution protocol: undecodable JSON, a bad `Link` header, a
    /// page served twice, a malformed digest.
    #[error("registry {registry} sent an invalid response: {reason}")]
    Protocol {
        /// Registry host.
        registry: String,
        /// What was wrong.
        reason: String,
    },
}

fn retry_after_text(retry_after: Option<Duration>) -> String {
    match retry_after {
        Some(d) => format!("; retry after {}s", d.as_secs()),
        None => String::new(),
    }
}

fn code_text(code: Option<&str>) -> String {
    match code {
        Some(c) => format!(" ({c})"),
        None => String::new(),
    }
}

impl Error {
    /// True when retrying the same request later may succeed: the registry is unreachable, rate
    /// limiting, timing out or failing with 5xx. False for everything the user must fix first.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Unreachable { .. } | Error::RateLimited { .. } | Error::Timeout { .. } => true,
            Error::Server { status, .. } => *status >= 500,
            _ => false,
        }
    }

    /// The delay the registry asked for with `Retry-After` (429, 503), if any.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::RateLimited { retry_after, .. } | Error::Server { retry_after, .. } => {
                *retry_after
            }
            _ => None,
        }
    }

    /// True for authentication problems (missing or refused credentials).
    pub fn is_auth(&self) -> bool {
        matches!(
            self,
            Error::AuthenticationRequired { .. } | Error::AuthenticationFailed { .. }
        )
    }
}

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
