//! Cloud registry logins for Flux's `spec.provider` (`aws`, `azure`, `gcp`), as `fluxcd/pkg`
//! `auth/{aws,azure,gcp}/provider.go` do them for image-reflector-controller
//! (`internal/registry/options.go`): a cloud identity from the environment, exchanged for
//! registry credentials with an expiry.
//!
//! - `aws`: the AWS SDK's standard credential chain, then ECR `GetAuthorizationToken` in the
//!   region of the registry host; the token is base64 of `AWS:<password>`
//!   ([`aws`]).
//! - `gcp`: an OAuth2 access token from a service-account key
//!   (`GOOGLE_APPLICATION_CREDENTIALS`) or the GCE metadata server; user name
//!   `oauth2accesstoken` ([`gcp`]).
//! - `azure`: an Entra ID (AAD) token from workload identity or managed identity (IMDS),
//!   exchanged at the registry's `/oauth2/exchange` for an ACR refresh token; user name
//!   `00000000-0000-0000-0000-000000000000` ([`azure`]).
//!
//! Everything the production code reads from the environment for GCP and Azure is read once
//! into [`CloudOptions`] ([`CloudOptions::from_env`], the default of
//! [`ClientOptions`](crate::ClientOptions)), so tests pass endpoints explicitly instead of
//! changing the process environment. The AWS SDK reads its own variables (`AWS_*`).

pub(crate) mod aws;
pub(crate) mod azure;
pub(crate) mod gcp;

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};
use url::Url;

use crate::credentials::Credentials;
use crate::error::{Error, Result};
use crate::proxy::ProxyOptions;

/// Flux's `spec.provider`: where an ImageRepository's registry credentials come from
/// (IRC `api/v1/imagerepository_types.go`, `GetProvider`).
///
/// Spelled `generic` (the default: `secretRef` or anonymous), `aws`, `azure`, `gcp` by
/// [`FromStr`], [`fmt::Display`] and serde.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    /// Credentials from `secretRef` (a Docker config JSON), else anonymous.
    #[default]
    Generic,
    /// Amazon ECR through the AWS credential chain.
    Aws,
    /// Azure Container Registry through Entra ID workload or managed identity.
    Azure,
    /// Google Container Registry and Artifact Registry through Google credentials.
    Gcp,
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Provider::Generic => "generic",
            Provider::Aws => "aws",
            Provider::Azure => "azure",
            Provider::Gcp => "gcp",
        })
    }
}

impl FromStr for Provider {
    type Err = Error;

    /// Parses Flux's spellings exactly (lower case, as the CRD's enum has them).
    ///
    /// # Errors
    /// [`Error::InvalidProvider`] for anything else.
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "generic" => Ok(Provider::Generic),
            "aws" => Ok(Provider::Aws),
            "azure" => Ok(Provider::Azure),
            "gcp" => Ok(Provider::Gcp),
            other => Err(Error::InvalidProvider {
                provider: other.to_string(),
                reason: "must be one of `generic`, `aws`, `azure`, `gcp`".into(),
            }),
        }
    }
}

/// The host forms each provider accepts, for messages.
const AWS_FORMS: &str = "ECR registries look like `<12-digit account>.dkr.ecr.<region>.amazonaws.com` \
     (also `.dkr.ecr-fips.`, `.amazonaws.com.cn` and the isolated partitions); ECR Public \
     (`public.ecr.aws`) is not supported here";
const AZURE_FORMS: &str =
    "ACR registries look like `<name>.azurecr.io` (or `.azurecr.cn`, `.azurecr.de`, `.azurecr.us`)";
const GCP_FORMS: &str = "Google registries are `gcr.io`, `<region>.gcr.io` and \
     `<location>-docker.pkg.dev`";

impl Provider {
    /// True for `aws`, `azure` and `gcp`.
    pub fn is_cloud(&self) -> bool {
        !matches!(self, Provider::Generic)
    }

    /// Checks that `registry` (`host[:port]`, as [`ImageReference::registry`]) is served by this
    /// provider, as Flux does before any login (`fluxcd/pkg` `auth/*/provider.go`
    /// `ParseArtifactRepository`):
    ///
    /// - `aws`: `<account>.dkr.ecr[-fips].<region>.amazonaws.com[.cn]` and the isolated
    ///   partitions (`sc2s.sgov.gov`, `c2s.ic.gov`, `cloud.adc-e.uk`, `csp.hci.ic.gov`), the
    ///   pattern of AWS's ECR credential helper, anchored, with a 12-digit account and a
    ///   region like `us-east-1`. `public.ecr.aws` (which Flux serves through ECR Public) is
    ///   refused: ECR Public needs another API (`ecr-public`), not built here.
    /// - `azure`: `<name>.azurecr.io`, `.azurecr.cn`, `.azurecr.de`, `.azurecr.us`.
    /// - `gcp`: `gcr.io`, `<anything>.gcr.io`, `<anything>-docker.pkg.dev`.
    /// - `generic`: any registry.
    ///
    /// A port is part of the host as Flux compares it, so `x.azurecr.io:443` is refused.
    ///
    /// # Errors
    /// [`Error::RegistryNotForProvider`] naming the provider, the host and the accepted forms.
    ///
    /// [`ImageReference::registry`]: crate::ImageReference::registry
    pub fn check_registry(&self, registry: &str) -> Result<()> {
        let ok = match self {
            Provider::Generic => true,
            Provider::Aws => aws::parse_ecr_host(registry).is_some(),
            Provider::Azure => azure::is_acr_host(registry),
            Provider::Gcp => gcp::is_google_registry(registry),
        };
        if ok {
            return Ok(());
        }
        Err(Error::RegistryNotForProvider {
            provider: *self,
            registry: registry.to_string(),
            accepted: match self {
                Provider::Aws => AWS_FORMS,
                Provider::Azure => AZURE_FORMS,
                _ => GCP_FORMS,
            },
        })
    }
}

/// Where the cloud logins find their identity and endpoints, read once from the environment
/// by [`CloudOptions::from_env`] (the default). Tests set the fields instead of the process
/// environment. The AWS SDK is not configured here: it reads `AWS_*` itself (see [`aws`]).
#[derive(Clone, Debug)]
pub struct CloudOptions {
    /// `GCE_METADATA_HOST`: the GCE metadata server as `host[:port]`, contacted over plain
    /// HTTP as Google's libraries do. Default `metadata.google.internal`.
    pub gce_metadata_host: String,
    /// `GOOGLE_APPLICATION_CREDENTIALS`: a service-account key JSON file; when set it is used
    /// instead of the metadata server (Google's Application Default Credentials order).
    pub google_application_credentials: Option<PathBuf>,
    /// `AZURE_FEDERATED_TOKEN_FILE`: the projected service-account token of Entra workload
    /// identity; when set, workload identity is used instead of managed identity.
    pub azure_federated_token_file: Option<PathBuf>,
    /// `AZURE_CLIENT_ID`: the application (client) ID for workload identity, or the
    /// user-assigned managed identity to ask IMDS for.
    pub azure_client_id: Option<String>,
    /// `AZURE_TENANT_ID`: the tenant for workload identity (also sent to the ACR exchange).
    pub azure_tenant_id: Option<String>,
    /// `AZURE_AUTHORITY_HOST`: the Entra ID authority. Default
    /// `https://login.microsoftonline.com/`.
    pub azure_authority_host: Url,
    /// The managed-identity token endpoint (IMDS). Default
    /// `http://169.254.169.254/metadata/identity/oauth2/token`;
    /// `AZURE_POD_IDENTITY_AUTHORITY_HOST` replaces its scheme, host and port, as Azure's
    /// `azidentity` does for aad-pod-identity.
    pub azure_imds_endpoint: Url,
    /// How long before its expiry a cached login is renewed: the login is reused while more
    /// than `min(refresh_margin, lifetime / 2)` of its lifetime remains. Default 5 minutes
    /// (ECR tokens last 12 hours, ACR refresh tokens 3 hours, Google access tokens 1 hour).
    pub refresh_margin: Duration,
    /// Time limit of each token request. Default 10 s, as `fluxcd/pkg` `auth` uses.
    pub token_timeout: Duration,
}

/// Entra ID's public-cloud authority.
pub const AZURE_PUBLIC_AUTHORITY: &str = "https://login.microsoftonline.com/";
/// Azure IMDS managed-identity token endpoint.
pub const AZURE_IMDS_ENDPOINT: &str = "http://169.254.169.254/metadata/identity/oauth2/token";
/// The GCE metadata server's host.
pub const GCE_METADATA_HOST: &str = "metadata.google.internal";

impl Default for CloudOptions {
    fn default() -> Self {
        Self::from_env()
    }
}

impl CloudOptions {
    /// The defaults, with nothing read from the environment.
    pub fn defaults_without_env() -> Self {
        Self {
            gce_metadata_host: GCE_METADATA_HOST.into(),
            google_application_credentials: None,
            azure_federated_token_file: None,
            azure_client_id: None,
            azure_tenant_id: None,
            azure_authority_host: Url::parse(AZURE_PUBLIC_AUTHORITY)
                .expect("a constant, valid URL"),
            azure_imds_endpoint: Url::parse(AZURE_IMDS_ENDPOINT).expect("a constant, valid URL"),
            refresh_margin: Duration::from_secs(300),
            token_timeout: Duration::from_secs(10),
        }
    }

    /// Reads `GCE_METADATA_HOST`, `GOOGLE_APPLICATION_CREDENTIALS`,
    /// `AZURE_FEDERATED_TOKEN_FILE`, `AZURE_CLIENT_ID`, `AZURE_TENANT_ID`,
    /// `AZURE_AUTHORITY_HOST` and `AZURE_POD_IDENTITY_AUTHORITY_HOST` (empty values count as
    /// unset; an unparsable URL is ignored and the default kept, so that a bad variable shows
    /// up as a failed login that names the endpoint rather than as a panic).
    pub fn from_env() -> Self {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let mut o = Self::defaults_without_env();
        if let Some(h) = var("GCE_METADATA_HOST") {
            o.gce_metadata_host = h;
        }
        o.google_application_credentials = var("GOOGLE_APPLICATION_CREDENTIALS").map(PathBuf::from);
        o.azure_federated_token_file = var("AZURE_FEDERATED_TOKEN_FILE").map(PathBuf::from);
        o.azure_client_id = var("AZURE_CLIENT_ID");
        o.azure_tenant_id = var("AZURE_TENANT_ID");
        if let Some(u) = var("AZURE_AUTHORITY_HOST").and_then(|h| Url::parse(&h).ok()) {
            o.azure_authority_host = u;
        }
        if let Some(u) = var("AZURE_POD_IDENTITY_AUTHORITY_HOST")
            .and_then(|h| Url::parse(&h).ok())
            .and_then(|u| u.join("metadata/identity/oauth2/token").ok())
        {
            o.azure_imds_endpoint = u;
        }
        o
    }
}

/// A cloud login's registry credentials and when they stop working.
#[derive(Clone)]
pub(crate) struct Login {
    pub credentials: Credentials,
    pub expires_at: SystemTime,
}

#[derive(Clone)]
struct CachedLogin {
    login: Login,
    refresh_at: SystemTime,
}

/// One registry's login, locked while it is being renewed.
type LoginSlot = Arc<tokio::sync::Mutex<Option<CachedLogin>>>;

/// Logins per provider and registry host, renewed shortly before they expire. Each key has its
/// own async lock, so concurrent scans of one registry log in once.
#[derive(Default)]
pub(crate) struct LoginCache {
    entries: Mutex<HashMap<(Provider, String), LoginSlot>>,
}

impl LoginCache {
    pub(crate) async fn get_or_login<F, Fut>(
        &self,
        provider: Provider,
        registry: &str,
        margin: Duration,
        login: F,
    ) -> Result<Credentials>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<Login>>,
    {
        let slot = {
            let mut map = self
                .entries
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            map.entry((provider, registry.to_string()))
                .or_default()
                .clone()
        };
        let mut guard = slot.lock().await;
        if let Some(c) = guard.as_ref()
            && SystemTime::now() < c.refresh_at
        {
            return Ok(c.login.credentials.clone());
        }
        let fresh = login().await?;
        let now = SystemTime::now();
        let lifetime = fresh
            .expires_at
            .duration_since(now)
            .unwrap_or(Duration::ZERO);
        let refresh_at = fresh.expires_at - margin.min(lifetime / 2);
        let credentials = fresh.credentials.clone();
        *guard = Some(CachedLogin {
            login: fresh,
            refresh_at,
        });
        Ok(credentials)
    }
}

/// What a provider's login needs: where it logs in from and the HTTP clients to use.
pub(crate) struct LoginContext<'a> {
    pub provider: Provider,
    pub registry: &'a str,
    pub options: &'a CloudOptions,
    /// For token services (STS-like endpoints): the registry traffic's proxy settings.
    pub token_http: &'a reqwest::Client,
    /// For link-local metadata servers (GCE metadata, Azure IMDS): never proxied, as
    /// Google's `compute/metadata` and Azure's IMDS clients never are.
    pub metadata_http: &'a reqwest::Client,
    /// For the ACR exchange: the registry client itself.
    pub registry_http: &'a reqwest::Client,
    /// `scheme://registry/` as the registry is reached.
    pub registry_base: Url,
    /// The explicit proxy, for clients this crate does not build (the AWS SDK's).
    pub proxy: Option<&'a ProxyOptions>,
}

impl LoginContext<'_> {
    pub(crate) fn not_found(&self, reason: impl Into<String>, hint: impl Into<String>) -> Error {
        Error::CloudCredentialsNotFound {
            provider: self.provider,
            registry: self.registry.to_string(),
            reason: reason.into(),
            hint: hint.into(),
        }
    }

    pub(crate) fn failed(
        &self,
        endpoint: impl Into<String>,
        reason: impl Into<String>,
        hint: impl Into<String>,
    ) -> Error {
        Error::CloudLoginFailed {
            provider: self.provider,
            registry: self.registry.to_string(),
            endpoint: endpoint.into(),
            reason: reason.into(),
            hint: hint.into(),
        }
    }

    pub(crate) fn unavailable(
        &self,
        endpoint: impl Into<String>,
        reason: impl Into<String>,
    ) -> Error {
        Error::CloudLoginUnavailable {
            provider: self.provider,
            registry: self.registry.to_string(),
            endpoint: endpoint.into(),
            reason: reason.into(),
        }
    }

    /// Maps a failed token request's transport error.
    pub(crate) fn transport(&self, endpoint: &str, e: &reqwest::Error) -> Error {
        if e.is_timeout() {
            return self.unavailable(endpoint, "the request timed out");
        }
        self.unavailable(endpoint, crate::client::error_chain(e))
    }

    /// Sends a token request and decodes its JSON answer. Non-2xx answers become errors that
    /// keep only the status and the OAuth2 `error` code (bodies may echo secrets): 5xx and 429
    /// [`Error::CloudLoginUnavailable`], others [`Error::CloudLoginFailed`] with `hint`.
    pub(crate) async fn token_request(
        &self,
        endpoint: &str,
        request: reqwest::RequestBuilder,
        hint: &str,
    ) -> Result<serde_json::Value> {
        let resp = request
            .timeout(self.options.token_timeout)
            .send()
            .await
            .map_err(|e| self.transport(endpoint, &e))?;
        let status = resp.status();
        let body = resp
            .bytes()
            .await
            .map_err(|e| self.transport(endpoint, &e))?;
        let json: Option<serde_json::Value> = serde_json::from_slice(&body).ok();
        if !status.is_success() {
            let code = json
                .as_ref()
                .and_then(|j| j.get("error"))
                .and_then(|e| {
                    e.as_str().map(str::to_string).or_else(|| {
                        // Google APIs nest it: {"error": {"status": "PERMISSION_DENIED"}}.
                        e.get("status").and_then(|s| s.as_str()).map(str::to_string)
                    })
                })
                .filter(|c| {
                    c.len() <= 64
                        && c.bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
                });
            let reason = match code {
                Some(c) => format!("HTTP {} ({c})", status.as_u16()),
                None => format!("HTTP {}", status.as_u16()),
            };
            return Err(if status.is_server_error() || status.as_u16() == 429 {
                self.unavailable(endpoint, reason)
            } else {
                self.failed(endpoint, reason, hint)
            });
        }
        json.ok_or_else(|| {
            self.failed(
                endpoint,
                "the answer is not JSON",
                "check that the endpoint is the right token service",
            )
        })
    }
}

/// A JSON field as a string (token services send numbers as strings and the reverse).
pub(crate) fn json_str(v: &serde_json::Value, key: &str) -> Option<String> {
    match v.get(key)? {
        serde_json::Value::String(s) if !s.is_empty() => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Endpoint text for messages: scheme, host, port and path; never the query.
pub(crate) fn endpoint_text(url: &Url) -> String {
    let mut u = url.clone();
    u.set_query(None);
    u.set_fragment(None);
    let _ = u.set_username("");
    let _ = u.set_password(None);
    u.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_spellings_round_trip() {
        for (s, p) in [
            ("generic", Provider::Generic),
            ("aws", Provider::Aws),
            ("azure", Provider::Azure),
            ("gcp", Provider::Gcp),
        ] {
            assert_eq!(s.parse::<Provider>().expect(s), p);
            assert_eq!(p.to_string(), s);
            assert_eq!(serde_json::to_string(&p).expect("json"), format!("\"{s}\""));
        }
        assert_eq!(Provider::default(), Provider::Generic);
        let err = "AWS"
            .parse::<Provider>()
            .expect_err("case matters, as in the CRD");
        assert!(
            err.to_string().contains("`generic`, `aws`, `azure`, `gcp`"),
            "{err}"
        );
    }

    /// Cases from `fluxcd/pkg` `auth/{aws,azure,gcp}/provider_test.go`
    /// (`TestProvider_ParseArtifactRepository`), plus the anchoring this crate adds.
    #[test]
    fn registry_hosts_per_provider() {
        let cases = [
            (
                Provider::Aws,
                "012345678901.dkr.ecr.us-east-1.amazonaws.com",
                true,
            ),
            (
                Provider::Aws,
                "012345678901.dkr.ecr.cn-north-1.amazonaws.com.cn",
                true,
            ),
            (
                Provider::Aws,
                "012345678901.dkr.ecr-fips.us-gov-west-1.amazonaws.com",
                true,
            ),
            (
                Provider::Aws,
                "012345678901.dkr.ecr.us-isob-east-1.sc2s.sgov.gov",
                true,
            ),
            (Provider::Aws, "public.ecr.aws", false),
            (Provider::Aws, "gcr.io", false),
            (
                Provider::Aws,
                "012345678901.dkr.ecr.us_east_1.amazonaws.com",
                false,
            ),
            (
                Provider::Aws,
                "012345678901.dkr.ecr.us-east-1.amazonaws.com.evil.io",
                false,
            ),
            (Provider::Aws, "dkr.ecr.us-east-1.amazonaws.com", false),
            (Provider::Azure, "flux.azurecr.io", true),
            (Provider::Azure, "flux.azurecr.cn", true),
            (Provider::Azure, "flux.azurecr.de", true),
            (Provider::Azure, "flux.azurecr.us", true),
            (Provider::Azure, "azurecr.io", false),
            (Provider::Azure, "flux.azurecr.io:443", false),
            (Provider::Azure, "flux.azurecr.com", false),
            (Provider::Gcp, "gcr.io", true),
            (Provider::Gcp, "eu.gcr.io", true),
            (Provider::Gcp, "europe-west1-docker.pkg.dev", true),
            (Provider::Gcp, "docker.pkg.dev", false),
            (Provider::Gcp, "ghcr.io", false),
            (Provider::Generic, "anything.example:5000", true),
        ];
        for (p, host, ok) in cases {
            let got = p.check_registry(host);
            assert_eq!(got.is_ok(), ok, "{p} {host}: {got:?}");
            if let Err(e) = got {
                let msg = e.to_string();
                assert!(msg.contains(host) && msg.contains(&p.to_string()), "{msg}");
                assert!(matches!(e, Error::RegistryNotForProvider { .. }));
            }
        }
    }

    #[test]
    fn ecr_host_gives_account_and_region() {
        assert_eq!(
            aws::parse_ecr_host("123456789012.dkr.ecr.eu-central-2.amazonaws.com"),
            Some(("123456789012".into(), "eu-central-2".into()))
        );
    }

    #[tokio::test]
    async fn cached_logins_are_renewed_before_expiry() {
        let cache = LoginCache::default();
        let calls = std::sync::atomic::AtomicUsize::new(0);
        let login = |secs: u64| {
            calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let n = calls.load(std::sync::atomic::Ordering::SeqCst);
            async move {
                Ok(Login {
                    credentials: Credentials::basic("u", format!("t{n}")),
                    expires_at: SystemTime::now() + Duration::from_secs(secs),
                })
            }
        };
        let margin = Duration::from_secs(300);
        // A 12-hour token is reused.
        let a = cache
            .get_or_login(Provider::Aws, "r", margin, || login(43_200))
            .await
            .expect("login");
        let b = cache
            .get_or_login(Provider::Aws, "r", margin, || login(43_200))
            .await
            .expect("cached");
        assert_eq!(a.identity(), b.identity());
        assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 1);
        // Another registry is another login.
        cache
            .get_or_login(Provider::Aws, "other", margin, || login(43_200))
            .await
            .expect("login");
        assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 2);
        // A token already inside its margin (expired here) is fetched again each time.
        cache
            .get_or_login(Provider::Gcp, "g", margin, || login(0))
            .await
            .expect("login");
        cache
            .get_or_login(Provider::Gcp, "g", margin, || login(0))
            .await
            .expect("login");
        assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 4);
    }
}
