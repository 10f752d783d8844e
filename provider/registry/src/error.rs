//! The one error type of this crate, classified once for retries.

use std::time::Duration;

use crate::cloud::Provider;

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

    /// The connection broke while the registry's answer was being read: reset, or closed
    /// before the end of the body (issue #15's fault tests). Nothing of the answer is used.
    #[error("the connection to registry {registry} broke while reading its answer: {reason}")]
    ConnectionLost {
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

    /// A proxy setting is unusable (Flux `proxySecretRef` fields `address`, `username`,
    /// `password`, or the `HTTPS_PROXY`/`HTTP_PROXY`/`ALL_PROXY` variables): not an
    /// `http://` or `https://` URL, no host, or a password without a user name. The message
    /// names the field and never shows the password.
    #[error("invalid proxy {field}: {reason}")]
    InvalidProxy {
        /// The field or variable (`address`, `username`, `HTTPS_PROXY`).
        field: String,
        /// What is wrong and how to fix it.
        reason: String,
    },

    /// The proxy answered HTTP 407 Proxy Authentication Required: it wants credentials that
    /// were not given, or refused those given.
    #[error(
        "proxy {proxy} refused to forward the request to registry {registry} (HTTP 407 Proxy \
         Authentication Required): {}",
        if *credentials_sent {
            "check the proxy `username` and `password`"
        } else {
            "set the proxy `username` and `password` (proxySecretRef) or put them in the proxy URL"
        }
    )]
    ProxyAuthenticationRequired {
        /// The proxy (`scheme://host:port`, without credentials).
        proxy: String,
        /// The registry host the request was for.
        registry: String,
        /// Whether proxy credentials were sent.
        credentials_sent: bool,
    },

    /// `spec.provider` is not one of Flux's spellings (`generic`, `aws`, `azure`, `gcp`), or
    /// a cloud login was asked of `generic`, which has none.
    #[error("invalid provider {provider:?}: {reason}")]
    InvalidProvider {
        /// The provider as given.
        provider: String,
        /// What is wrong and how to fix it.
        reason: String,
    },

    /// The registry host is not one the cloud provider serves (Flux: "invalid AWS registry",
    /// `fluxcd/pkg` `auth/{aws,azure,gcp}/provider.go` `ParseArtifactRepository`).
    #[error(
        "registry {registry} is not a registry of provider {provider}: {accepted}; use \
         provider `generic` with a secretRef for other registries"
    )]
    RegistryNotForProvider {
        /// The provider (`aws`, `azure`, `gcp`).
        provider: Provider,
        /// The registry host.
        registry: String,
        /// The host forms the provider accepts.
        accepted: &'static str,
    },

    /// No cloud identity was found: nothing in the provider's credential chain (no keys, no
    /// workload identity, no metadata server).
    #[error("no {provider} credentials found for registry {registry}: {reason}; {hint}")]
    CloudCredentialsNotFound {
        /// The provider.
        provider: Provider,
        /// The registry host.
        registry: String,
        /// What was looked for and not found.
        reason: String,
        /// What to set to fix it.
        hint: String,
    },

    /// The cloud refused the login: a token endpoint answered 400/401/403, an ECR call failed
    /// with an access or region error, a key file is malformed. Retrying will not help.
    #[error("{provider} login for registry {registry} failed at {endpoint}: {reason}; {hint}")]
    CloudLoginFailed {
        /// The provider.
        provider: Provider,
        /// The registry host.
        registry: String,
        /// Which service failed (`the GCE metadata server`, `ECR GetAuthorizationToken in
        /// us-east-1`, a token URL without query).
        endpoint: String,
        /// What it said (a status and error code; never a token or a response body that
        /// could echo one).
        reason: String,
        /// What to check or set.
        hint: String,
    },

    /// A cloud login service could not be reached or failed on its side (connection
    /// refused, timeout, HTTP 5xx or 429, ECR throttling). Transient.
    #[error("{provider} login for registry {registry} could not complete at {endpoint}: {reason}")]
    CloudLoginUnavailable {
        /// The provider.
        provider: Provider,
        /// The registry host.
        registry: String,
        /// Which service.
        endpoint: String,
        /// What happened.
        reason: String,
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
            Error::Unreachable { .. }
            | Error::ConnectionLost { .. }
            | Error::RateLimited { .. }
            | Error::Timeout { .. }
            | Error::CloudLoginUnavailable { .. } => true,
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

    /// True for authentication problems (missing or refused credentials, for the registry,
    /// the proxy or the cloud login).
    pub fn is_auth(&self) -> bool {
        matches!(
            self,
            Error::AuthenticationRequired { .. }
                | Error::AuthenticationFailed { .. }
                | Error::ProxyAuthenticationRequired { .. }
                | Error::CloudCredentialsNotFound { .. }
                | Error::CloudLoginFailed { .. }
        )
    }
}

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
