//! The registry HTTP client: authentication, the tag list paging loop, manifest digests.
//!
//! All wire traffic goes through one `reqwest` client (rustls). oci-client's `Client` is not
//! used for it because (1) its `list_tags` returns one page and hides the response headers, so
//! the `Link: <...>; rel="next"` loop and `Retry-After` cannot be built on it; (2) its
//! `ClientConfig` has no client certificate; (3) its errors drop the HTTP status that
//! [`Error::is_transient`] and the auth messages need; (4) it has no OAuth2 refresh-token
//! (`identitytoken`) exchange. oci-client still provides the OCI media types and the tag grammar.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine as _;
use reqwest::header::{self, HeaderMap, HeaderValue};
use reqwest::{Method, Response, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use sha2::{Digest as _, Sha256};
use url::Url;

use crate::cloud::{self, CloudOptions, LoginCache, LoginContext, Provider};
use crate::credentials::Credentials;
use crate::error::{Error, Result};
use crate::metadata::{ConfigDoc, ImageMetadata, ManifestDoc};
use crate::proxy::{EnvProxy, ProxyOptions};
use crate::reference::ImageReference;

/// The `Accept` header for manifest requests: OCI index, OCI manifest, Docker manifest list,
/// Docker v2 manifest. Without it distribution answers 404 for OCI manifests and converts Docker
/// ones to schema 1 (a different digest).
pub const MANIFEST_ACCEPT: [&str; 4] = [
    oci_client::manifest::OCI_IMAGE_INDEX_MEDIA_TYPE,
    oci_client::manifest::OCI_IMAGE_MEDIA_TYPE,
    oci_client::manifest::IMAGE_MANIFEST_LIST_MEDIA_TYPE,
    oci_client::manifest::IMAGE_MANIFEST_MEDIA_TYPE,
];

/// The largest manifest or config read for metadata (4 MiB, as distribution's manifest limit).
const MAX_DOCUMENT_BYTES: u64 = 4 << 20;

/// Page size asked for with `tags/list?n=`; GGCR's default (`remote` `options.go`).
pub const PAGE_SIZE: usize = 1000;

/// Stop after this many pages: a guard against a registry that keeps sending new `Link`s.
const MAX_PAGES: usize = 100_000;

/// TLS settings for one registry (Flux `certSecretRef`: `ca.crt`, `tls.crt`, `tls.key`).
#[derive(Clone, Default)]
pub struct TlsOptions {
    /// PEM bundle of extra CA certificates to trust, in addition to the system roots.
    pub ca_pem: Option<Vec<u8>>,
    /// PEM client certificate (chain) to present; needs [`TlsOptions::client_key_pem`].
    pub client_cert_pem: Option<Vec<u8>>,
    /// PEM private key of the client certificate.
    pub client_key_pem: Option<SecretString>,
}

impl std::fmt::Debug for TlsOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsOptions")
            .field("ca_pem", &self.ca_pem.as_ref().map(|c| c.len()))
            .field(
                "client_cert_pem",
                &self.client_cert_pem.as_ref().map(|c| c.len()),
            )
            .field(
                "client_key_pem",
                &self.client_key_pem.as_ref().map(|_| "[REDACTED]"),
            )
            .finish()
    }
}

impl TlsOptions {
    /// A fingerprint of these options for cache keys (SHA-256 over the PEMs; the key only
    /// hashed, never shown).
    pub fn identity(&self) -> String {
        if self.ca_pem.is_none() && self.client_cert_pem.is_none() && self.client_key_pem.is_none()
        {
            return "system".into();
        }
        let mut h = Sha256::new();
        for part in [
            self.ca_pem.as_deref(),
            self.client_cert_pem.as_deref(),
            self.client_key_pem
                .as_ref()
                .map(|k| k.expose_secret().as_bytes()),
        ] {
            h.update(part.unwrap_or_default());
            h.update([0xff]);
        }
        h.finalize()
            .iter()
            .take(16)
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

/// Options of a [`RegistryClient`].
///
/// `Default` reads the process environment once: the proxy variables into
/// [`ClientOptions::env_proxy`] and the cloud login variables into [`ClientOptions::cloud`].
#[derive(Clone, Debug)]
pub struct ClientOptions {
    /// CA bundle and client certificate.
    pub tls: TlsOptions,
    /// Time limit of one HTTP request (connect to last byte). Default 60 s.
    pub request_timeout: Duration,
    /// Connect time limit. Default 10 s.
    pub connect_timeout: Duration,
    /// An explicit proxy for all registry traffic (Flux `spec.proxySecretRef`), loopback
    /// included; when set, [`ClientOptions::env_proxy`] is ignored. Default none.
    pub proxy: Option<ProxyOptions>,
    /// The `HTTPS_PROXY`/`HTTP_PROXY`/`ALL_PROXY`/`NO_PROXY` variables, used when
    /// [`ClientOptions::proxy`] is `None` (rules in [`crate::proxy`]). Default
    /// [`EnvProxy::from_env`].
    pub env_proxy: EnvProxy,
    /// Where cloud logins ([`RegistryClient::cloud_credentials`]) find identities and
    /// endpoints. Default [`CloudOptions::from_env`].
    pub cloud: CloudOptions,
}

impl Default for ClientOptions {
    fn default() -> Self {
        Self {
            tls: TlsOptions::default(),
            request_timeout: Duration::from_secs(60),
            connect_timeout: Duration::from_secs(10),
            proxy: None,
            env_proxy: EnvProxy::from_env(),
            cloud: CloudOptions::from_env(),
        }
    }
}

impl ClientOptions {
    /// A fingerprint of what makes two clients behave differently on the wire (TLS and
    /// proxy), for keeping one client per distinct configuration. Secrets are only hashed.
    pub fn identity(&self) -> String {
        let proxy = match &self.proxy {
            Some(p) => p.identity(),
            None => {
                let mut h = Sha256::new();
                for v in [
                    &self.env_proxy.http_proxy,
                    &self.env_proxy.https_proxy,
                    &self.env_proxy.all_proxy,
                    &self.env_proxy.no_proxy,
                ] {
                    h.update(v.as_deref().unwrap_or_default().as_bytes());
                    h.update([0]);
                }
                let hex: String = h
                    .finalize()
                    .iter()
                    .take(8)
                    .map(|b| format!("{b:02x}"))
                    .collect();
                format!("env:{hex}")
            }
        };
        format!("{}|{proxy}", self.tls.identity())
    }
}

/// What a token or Basic decision applies to: registry, repository, credentials.
type AuthKey = (String, String, String);

#[derive(Clone)]
enum CachedAuth {
    Basic,
    Bearer {
        token: SecretString,
        expires: Instant,
    },
}

/// An OCI distribution client for listing tags and resolving digests.
///
/// Cheap to share (`Arc`); it caches Bearer tokens per registry, repository and credentials
/// (until their `expires_in`, default 60 s), remembers which registries want Basic, and which
/// local registries speak plain HTTP.
pub struct RegistryClient {
    http: reqwest::Client,
    /// Link-local metadata servers (GCE, Azure IMDS): never proxied.
    metadata_http: reqwest::Client,
    auth: Mutex<HashMap<AuthKey, CachedAuth>>,
    schemes: Mutex<HashMap<String, &'static str>>,
    proxy: Option<ProxyOptions>,
    env_proxy: EnvProxy,
    cloud: CloudOptions,
    logins: LoginCache,
}

impl std::fmt::Debug for RegistryClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryClient").finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct TagPage {
    #[serde(default)]
    tags: Option<Vec<String>>,
}

#[derive(Deserialize)]
struct ErrorEnvelope {
    #[serde(default)]
    errors: Vec<ErrorItem>,
}

#[derive(Deserialize)]
struct ErrorItem {
    #[serde(default)]
    code: String,
}

#[derive(Deserialize)]
struct TokenResponse {
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    access_token: Option<String>,
    #[serde(default)]
    expires_in: Option<u64>,
}

/// What a request is for, to word errors.
#[derive(Clone, Copy)]
enum Purpose<'a> {
    Tags,
    Manifest(&'a str),
    Blob(&'a str),
}

impl RegistryClient {
    /// Builds a client.
    ///
    /// Registry traffic (and cloud token requests) goes through [`ClientOptions::proxy`] when
    /// set, with HTTP Basic proxy authentication when it has a user name; otherwise through
    /// the proxies of [`ClientOptions::env_proxy`] (`HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY`,
    /// minus `NO_PROXY`, localhost and loopback; rules in [`crate::proxy`]); otherwise
    /// directly.
    ///
    /// # Errors
    /// [`Error::InvalidTlsConfig`] when the CA bundle, client certificate or key is not PEM, or
    /// a certificate comes without its key (or the reverse); [`Error::InvalidProxy`] when a
    /// proxy URL (explicit or from the environment) is unusable.
    pub fn new(options: &ClientOptions) -> Result<Self> {
        let tls_err = |reason: String| Error::InvalidTlsConfig { reason };
        let mut builder = reqwest::Client::builder()
            .user_agent(concat!("imageautomation/", env!("CARGO_PKG_VERSION")))
            .timeout(options.request_timeout)
            .connect_timeout(options.connect_timeout)
            // Replaced by the explicit proxies below; reqwest's own reading of the
            // environment would also proxy loopback.
            .no_proxy()
            .redirect(reqwest::redirect::Policy::limited(5));
        match &options.proxy {
            Some(p) => builder = builder.proxy(p.to_reqwest()?),
            None => {
                for p in options.env_proxy.to_reqwest()? {
                    builder = builder.proxy(p);
                }
            }
        }
        if let Some(ca) = &options.tls.ca_pem {
            let certs = reqwest::Certificate::from_pem_bundle(ca)
                .map_err(|e| tls_err(format!("the CA bundle is not PEM certificates: {e}")))?;
            if certs.is_empty() {
                return Err(tls_err("the CA bundle holds no PEM certificate".into()));
            }
            builder = builder.tls_certs_merge(certs);
        }
        match (&options.tls.client_cert_pem, &options.tls.client_key_pem) {
            (Some(cert), Some(key)) => {
                let mut pem = cert.clone();
                pem.push(b'\n');
                pem.extend_from_slice(key.expose_secret().as_bytes());
                let identity = reqwest::Identity::from_pem(&pem).map_err(|_| {
                    tls_err(
                        "the client certificate and key are not a PEM certificate and its \
                         private key"
                            .into(),
                    )
                })?;
                builder = builder.identity(identity);
            }
            (None, None) => {}
            (Some(_), None) => {
                return Err(tls_err(
                    "a client certificate needs its private key (`--key-file`, `tls.key`)".into(),
                ));
            }
            (None, Some(_)) => {
                return Err(tls_err(
                    "a client key needs its certificate (`--cert-file`, `tls.crt`)".into(),
                ));
            }
        }
        let http = builder
            .build()
            .map_err(|e| tls_err(format!("cannot build the HTTP client: {e}")))?;
        let metadata_http = reqwest::Client::builder()
            .user_agent(concat!("imageautomation/", env!("CARGO_PKG_VERSION")))
            .timeout(options.cloud.token_timeout)
            .connect_timeout(options.cloud.token_timeout.min(Duration::from_secs(5)))
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| tls_err(format!("cannot build the HTTP client: {e}")))?;
        Ok(Self {
            http,
            metadata_http,
            auth: Mutex::new(HashMap::new()),
            schemes: Mutex::new(HashMap::new()),
            proxy: options.proxy.clone(),
            env_proxy: options.env_proxy.clone(),
            cloud: options.cloud.clone(),
            logins: LoginCache::default(),
        })
    }

    /// Registry credentials from the cloud identity of `provider` for the registry of `image`
    /// (Flux `spec.provider`; the flows are in [`crate::cloud`]): `aws` →
    /// `Basic{"AWS", <ECR token password>}`, `gcp` → `Basic{"oauth2accesstoken", <access
    /// token>}`, `azure` → `Basic{"00000000-0000-0000-0000-000000000000", <ACR refresh
    /// token>}`. Pass them to [`RegistryClient::list_tags`] and [`RegistryClient::digest`]
    /// in place of `secretRef` credentials, which Flux then ignores.
    ///
    /// Logins are cached in this client per provider and registry host and reused until
    /// `min(CloudOptions::refresh_margin, lifetime / 2)` before their expiry (default margin
    /// 5 minutes), then renewed on the next call; concurrent calls for one registry log in
    /// once. A token that comes already expired (moto's ECR tokens) serves this one call.
    ///
    /// # Errors
    /// [`Error::InvalidProvider`] for [`Provider::Generic`], which has no cloud login (use the
    /// Secret's credentials); [`Error::RegistryNotForProvider`] when the host is not the
    /// provider's; [`Error::CloudCredentialsNotFound`] when no identity is configured;
    /// [`Error::CloudLoginFailed`] when the cloud refuses it; [`Error::CloudLoginUnavailable`]
    /// (transient) when a login service cannot be reached or fails on its side.
    pub async fn cloud_credentials(
        &self,
        provider: Provider,
        image: &ImageReference,
    ) -> Result<Credentials> {
        if !provider.is_cloud() {
            return Err(Error::InvalidProvider {
                provider: provider.to_string(),
                reason: "`generic` has no cloud login; its credentials come from secretRef \
                         (or none: anonymous)"
                    .into(),
            });
        }
        let registry = image.registry();
        provider.check_registry(registry)?;
        let registry_base = self.base_url(image).await?;
        let ctx = LoginContext {
            provider,
            registry,
            options: &self.cloud,
            token_http: &self.http,
            metadata_http: &self.metadata_http,
            registry_http: &self.http,
            registry_base,
            proxy: self.proxy.as_ref(),
        };
        self.logins
            .get_or_login(provider, registry, self.cloud.refresh_margin, || async {
                match provider {
                    Provider::Aws => cloud::aws::login(&ctx).await,
                    Provider::Gcp => cloud::gcp::login(&ctx).await,
                    Provider::Azure => cloud::azure::login(&ctx).await,
                    Provider::Generic => unreachable!("refused above"),
                }
            })
            .await
    }

    /// The proxy a request to `url` went through, for messages.
    fn proxy_shown(&self, url: &Url) -> (String, bool) {
        match &self.proxy {
            Some(p) => (p.display_address(), p.username.is_some()),
            None => (
                self.env_proxy
                    .display_for(url)
                    .unwrap_or_else(|| "from the environment".into()),
                false,
            ),
        }
    }

    /// Lists every tag of `image`, in the registry's order, following `Link` pages.
    ///
    /// `GET /v2/<repository>/tags/list?n=1000`, then each `Link: <url>; rel="next"` (relative
    /// URLs resolved against the request URL) until there is none, as GGCR `remote.List` does
    /// for Flux (flux-spec 3.3). A registry that ignores `n` and answers everything at once
    /// (distribution 2.8) is one page. A `Link` to another origin is refused, so credentials
    /// never leave the registry.
    ///
    /// # Errors
    /// Authentication, not-found, transport, TLS, rate-limit and server errors as
    /// [`Error`] variants; [`Error::Protocol`] when a page is not JSON, a `Link` is malformed,
    /// or the registry serves the same page twice.
    pub async fn list_tags(
        &self,
        image: &ImageReference,
        credentials: &Credentials,
    ) -> Result<Vec<String>> {
        let base = self.base_url(image).await?;
        let mut url = base
            .join(&format!("v2/{}/tags/list", image.repository()))
            .map_err(|e| self.protocol(image, format!("cannot build the tags URL: {e}")))?;
        url.query_pairs_mut()
            .append_pair("n", &PAGE_SIZE.to_string());
        let mut seen: HashSet<Url> = HashSet::new();
        seen.insert(url.clone());
        let mut tags: Vec<String> = Vec::new();
        let mut previous_page: Option<(usize, Option<String>, Option<String>)> = None;
        for _ in 0..MAX_PAGES {
            let resp = self
                .send(
                    image,
                    credentials,
                    Method::GET,
                    url.clone(),
                    None,
                    Purpose::Tags,
                )
                .await?;
            let next = next_link(resp.headers());
            let body = resp.bytes().await.map_err(|e| self.transport(image, e))?;
            let page: TagPage = serde_json::from_slice(&body).map_err(|e| {
                self.protocol(image, format!("the tag list of {url} is not JSON: {e}"))
            })?;
            drop(body);
            let page = page.tags.unwrap_or_default();
            let fingerprint = (page.len(), page.first().cloned(), page.last().cloned());
            let Some(next) = next else {
                tags.extend(page);
                return Ok(tags);
            };
            if !page.is_empty() && previous_page.as_ref() == Some(&fingerprint) {
                return Err(self.protocol(
                    image,
                    format!("it served the same tag page twice (at {url}); stopping"),
                ));
            }
            previous_page = Some(fingerprint);
            tags.extend(page);
            let next_url = url.join(&next).map_err(|e| {
                self.protocol(image, format!("invalid Link header target {next:?}: {e}"))
            })?;
            // Credentials must not follow a Link to another server.
            if next_url.origin() != url.origin() {
                return Err(self.protocol(
                    image,
                    format!("its Link header points to another server ({next_url}); stopping"),
                ));
            }
            if !seen.insert(next_url.clone()) {
                return Err(self.protocol(
                    image,
                    format!("its Link header points back to a page already read ({next_url})"),
                ));
            }
            url = next_url;
        }
        Err(self.protocol(image, format!("more than {MAX_PAGES} tag pages")))
    }

    /// Returns the digest (`sha256:<64 hex>`) of the manifest that `tag` points at: an image
    /// index for a multi-arch image, else the image manifest.
    ///
    /// `HEAD /v2/<repository>/manifests/<tag>` with [`MANIFEST_ACCEPT`], reading
    /// `Docker-Content-Digest`; where a registry omits the header, `GET` and SHA-256 of the
    /// body (as oci-client `fetch_manifest_digest` and GGCR `remote.Head`/`Get` do).
    ///
    /// # Errors
    /// [`Error::InvalidTag`] for a tag outside the OCI grammar, [`Error::ManifestNotFound`] for
    /// an unknown tag, [`Error::Protocol`] for a malformed digest header; otherwise as
    /// [`RegistryClient::list_tags`].
    pub async fn digest(
        &self,
        image: &ImageReference,
        tag: &str,
        credentials: &Credentials,
    ) -> Result<String> {
        let full = format!("{}/{}:{tag}", image.registry(), image.repository());
        match oci_client::Reference::try_from(full.as_str()) {
            Ok(r) if r.tag() == Some(tag) && r.digest().is_none() => {}
            Ok(_) => {
                return Err(Error::InvalidTag {
                    tag: tag.to_string(),
                    reason: "not a plain tag".into(),
                });
            }
            Err(e) => {
                return Err(Error::InvalidTag {
                    tag: tag.to_string(),
                    reason: e.to_string(),
                });
            }
        }
        let base = self.base_url(image).await?;
        let url = base
            .join(&format!("v2/{}/manifests/{tag}", image.repository()))
            .map_err(|e| self.protocol(image, format!("cannot build the manifest URL: {e}")))?;
        let accept = MANIFEST_ACCEPT.join(", ");
        let resp = self
            .send(
                image,
                credentials,
                Method::HEAD,
                url.clone(),
                Some(&accept),
                Purpose::Manifest(tag),
            )
            .await?;
        if let Some(value) = resp.headers().get("docker-content-digest") {
            let digest = value.to_str().unwrap_or_default().trim().to_string();
            return if is_sha256_digest(&digest) {
                Ok(digest)
            } else {
                Err(self.protocol(
                    image,
                    format!("Docker-Content-Digest {digest:?} is not sha256:<64 hex>"),
                ))
            };
        }
        let resp = self
            .send(
                image,
                credentials,
                Method::GET,
                url,
                Some(&accept),
                Purpose::Manifest(tag),
            )
            .await?;
        let body = resp.bytes().await.map_err(|e| self.transport(image, e))?;
        Ok(sha256_digest(&body))
    }

    /// The build time and platforms of the manifest `digest` of `image` (for `minimumAge` and
    /// `platforms`; see [`ImageMetadata`] for where each comes from).
    ///
    /// Requests: `GET` of the manifest; for an image index, the first platform's manifest and
    /// its config only when the index has no `created` annotation; for an image manifest, its
    /// config. So 2 or 3 `GET`s, none for other tags. Each body must hash to its digest.
    ///
    /// # Errors
    /// [`Error::Protocol`] for a document that is not JSON, does not match its digest, or is
    /// neither a manifest nor an index; [`Error::ManifestNotFound`]; otherwise as
    /// [`RegistryClient::list_tags`].
    pub async fn metadata(
        &self,
        image: &ImageReference,
        digest: &str,
        credentials: &Credentials,
    ) -> Result<ImageMetadata> {
        let doc: ManifestDoc = self.document(image, credentials, digest, false).await?;
        if doc.manifests.is_some() {
            let entries = doc.platform_entries();
            let platforms: Vec<String> = entries.iter().map(|(_, p)| p.clone()).collect();
            let created = match (doc.created(), entries.first()) {
                (Some(created), _) => Some(created),
                (None, Some((first, _))) => {
                    let child: ManifestDoc = self
                        .document(image, credentials, &first.digest, false)
                        .await?;
                    match (child.created(), &child.config) {
                        (Some(created), _) => Some(created),
                        (None, Some(config)) => {
                            let config: ConfigDoc = self
                                .document(image, credentials, &config.digest, true)
                                .await?;
                            config.created()
                        }
                        (None, None) => None,
                    }
                }
                (None, None) => None,
            };
            return Ok(ImageMetadata { created, platforms });
        }
        let Some(config) = &doc.config else {
            return Err(self.protocol(
                image,
                format!("the manifest {digest} is neither an image manifest nor an image index"),
            ));
        };
        let config: ConfigDoc = self
            .document(image, credentials, &config.digest, true)
            .await?;
        Ok(ImageMetadata {
            created: doc.created().or_else(|| config.created()),
            platforms: config.platform().into_iter().collect(),
        })
    }

    /// `GET` of the manifest (or, with `blob`, the blob) `digest`, checked against its digest
    /// and parsed as JSON.
    async fn document<T: serde::de::DeserializeOwned>(
        &self,
        image: &ImageReference,
        credentials: &Credentials,
        digest: &str,
        blob: bool,
    ) -> Result<T> {
        if !is_sha256_digest(digest) {
            return Err(self.protocol(
                image,
                format!("a descriptor names {digest:?}, which is not sha256:<64 hex>"),
            ));
        }
        let base = self.base_url(image).await?;
        let (kind, purpose, accept) = if blob {
            ("blobs", Purpose::Blob(digest), None)
        } else {
            (
                "manifests",
                Purpose::Manifest(digest),
                Some(MANIFEST_ACCEPT.join(", ")),
            )
        };
        let url = base
            .join(&format!("v2/{}/{kind}/{digest}", image.repository()))
            .map_err(|e| self.protocol(image, format!("cannot build the {kind} URL: {e}")))?;
        let resp = self
            .send(
                image,
                credentials,
                Method::GET,
                url,
                accept.as_deref(),
                purpose,
            )
            .await?;
        if resp
            .content_length()
            .is_some_and(|n| n > MAX_DOCUMENT_BYTES)
        {
            return Err(self.protocol(
                image,
                format!("{digest} is larger than {MAX_DOCUMENT_BYTES} bytes"),
            ));
        }
        let body = resp.bytes().await.map_err(|e| self.transport(image, e))?;
        let served = sha256_digest(&body);
        if digest != served {
            return Err(self.protocol(
                image,
                format!("the content served for {digest} has digest {served}"),
            ));
        }
        serde_json::from_slice(&body)
            .map_err(|e| self.protocol(image, format!("{digest} is not a JSON document: {e}")))
    }

    /// `scheme://registry/` for `image`: HTTP when `insecure`; for local registries (GGCR:
    /// loopback, RFC 1918, `localhost`, `*.local`) HTTPS when it answers, else HTTP, as GGCR's
    /// transport ping does; HTTPS otherwise.
    async fn base_url(&self, image: &ImageReference) -> Result<Url> {
        let scheme = if image.insecure() {
            "http"
        } else if !image.is_local_registry() {
            "https"
        } else {
            self.local_scheme(image).await
        };
        Url::parse(&format!("{scheme}://{}/", image.registry())).map_err(|e| Error::InvalidImage {
            image: image.canonical_name(),
            reason: format!("registry is not a valid host: {e}"),
        })
    }

    async fn local_scheme(&self, image: &ImageReference) -> &'static str {
        let registry = image.registry().to_string();
        if let Some(s) = lock(&self.schemes).get(&registry) {
            return s;
        }
        let probe = self
            .http
            .get(format!("https://{registry}/v2/"))
            .timeout(Duration::from_secs(10))
            .send()
            .await;
        let scheme = match probe {
            Ok(_) => Some("https"),
            // The server answered the TLS ClientHello in plain text: it speaks HTTP.
            Err(e) if speaks_plain_http(&e) => Some("http"),
            // A certificate problem is reported by the real request over HTTPS.
            Err(e) if mentions_certificate(&e) => Some("https"),
            // Otherwise HTTP wins only if the registry API answers there (`/v2/` is 200 or
            // 401 on a registry; a TLS port answers plain HTTP with 400). Anything else (a
            // refused client certificate, the registry being down) is reported by the real
            // request over HTTPS, and nothing is remembered.
            Err(_) => {
                let http = self
                    .http
                    .get(format!("http://{registry}/v2/"))
                    .timeout(Duration::from_secs(10))
                    .send()
                    .await;
                match http {
                    Ok(r) if matches!(r.status().as_u16(), 200 | 401) => Some("http"),
                    _ => None,
                }
            }
        };
        match scheme {
            Some(s) => {
                lock(&self.schemes).insert(registry, s);
                s
            }
            None => "https",
        }
    }

    /// Sends one request with authentication: cached Bearer token or Basic first; on a 401
    /// challenge, answers it (Basic, or the Bearer token flow) and retries once. Returns only
    /// 2xx responses; everything else becomes an [`Error`].
    async fn send(
        &self,
        image: &ImageReference,
        credentials: &Credentials,
        method: Method,
        url: Url,
        accept: Option<&str>,
        purpose: Purpose<'_>,
    ) -> Result<Response> {
        let key: AuthKey = (
            image.registry().to_string(),
            image.repository().to_string(),
            credentials.identity(),
        );
        let cached = {
            let mut map = lock(&self.auth);
            match map.get(&key) {
                Some(CachedAuth::Bearer { expires, .. }) if *expires <= Instant::now() => {
                    map.remove(&key);
                    None
                }
                other => other.cloned(),
            }
        };
        let resp = self
            .request(image, &method, &url, accept, cached.as_ref(), credentials)
            .await?;
        if resp.status() != StatusCode::UNAUTHORIZED {
            return self.check(image, credentials, resp, purpose).await;
        }
        // Answer the challenge once.
        let challenge = resp
            .headers()
            .get_all(header::WWW_AUTHENTICATE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .map(str::to_string)
            .collect::<Vec<_>>()
            .join(", ");
        let auth = self
            .answer_challenge(image, credentials, &challenge)
            .await?;
        let Some(auth) = auth else {
            return self.check(image, credentials, resp, purpose).await;
        };
        lock(&self.auth).insert(key, auth.clone());
        let resp = self
            .request(image, &method, &url, accept, Some(&auth), credentials)
            .await?;
        self.check(image, credentials, resp, purpose).await
    }

    async fn request(
        &self,
        image: &ImageReference,
        method: &Method,
        url: &Url,
        accept: Option<&str>,
        auth: Option<&CachedAuth>,
        credentials: &Credentials,
    ) -> Result<Response> {
        let mut req = self.http.request(method.clone(), url.clone());
        if let Some(accept) = accept {
            req = req.header(header::ACCEPT, accept);
        }
        match (auth, credentials) {
            (Some(CachedAuth::Bearer { token, .. }), _) => {
                req = req.header(header::AUTHORIZATION, bearer(image, token)?);
            }
            (Some(CachedAuth::Basic), Credentials::Basic { username, password }) => {
                req = req.header(header::AUTHORIZATION, basic(image, username, password)?);
            }
            _ => {}
        }
        req.send().await.map_err(|e| self.transport(image, e))
    }

    /// Works out how to answer a 401 challenge. `None`: nothing we can answer with (no
    /// credentials for Basic, or no challenge).
    async fn answer_challenge(
        &self,
        image: &ImageReference,
        credentials: &Credentials,
        challenge: &str,
    ) -> Result<Option<CachedAuth>> {
        let parsed = http_auth::parse_challenges(challenge).unwrap_or_default();
        if let Some(bearer) = parsed
            .iter()
            .find(|c| c.scheme.eq_ignore_ascii_case("bearer"))
        {
            let param = |name: &str| {
                bearer
                    .params
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(name))
                    .map(|(_, v)| v.to_unescaped())
            };
            let Some(realm) = param("realm") else {
                return Err(self.protocol(image, "Bearer challenge without realm".into()));
            };
            let scope =
                param("scope").unwrap_or_else(|| format!("repository:{}:pull", image.repository()));
            let service = param("service");
            return self
                .fetch_token(image, credentials, &realm, service.as_deref(), &scope)
                .await
                .map(Some);
        }
        if parsed
            .iter()
            .any(|c| c.scheme.eq_ignore_ascii_case("basic"))
            && matches!(credentials, Credentials::Basic { .. })
        {
            return Ok(Some(CachedAuth::Basic));
        }
        if let Credentials::RegistryToken { token } = credentials {
            return Ok(Some(CachedAuth::Bearer {
                token: token.clone(),
                expires: Instant::now() + Duration::from_secs(3600),
            }));
        }
        Ok(None)
    }

    /// The Bearer token flow (distribution `docs/spec/auth/token.md`, `oauth.md`).
    async fn fetch_token(
        &self,
        image: &ImageReference,
        credentials: &Credentials,
        realm: &str,
        service: Option<&str>,
        scope: &str,
    ) -> Result<CachedAuth> {
        let mut realm_url = Url::parse(realm).map_err(|e| {
            self.protocol(image, format!("Bearer realm {realm:?} is not a URL: {e}"))
        })?;
        let req = match credentials {
            Credentials::RegistryToken { token } => {
                return Ok(CachedAuth::Bearer {
                    token: token.clone(),
                    expires: Instant::now() + Duration::from_secs(3600),
                });
            }
            Credentials::IdentityToken { token } => {
                let mut form = url::form_urlencoded::Serializer::new(String::new());
                form.append_pair("grant_type", "refresh_token");
                form.append_pair("refresh_token", token.expose_secret());
                form.append_pair("client_id", "imageautomation");
                form.append_pair("scope", scope);
                if let Some(s) = service {
                    form.append_pair("service", s);
                }
                self.http
                    .post(realm_url)
                    .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                    .body(form.finish())
            }
            Credentials::Basic { username, password } => {
                {
                    let mut q = realm_url.query_pairs_mut();
                    q.append_pair("scope", scope);
                    if let Some(s) = service {
                        q.append_pair("service", s);
                    }
                }
                self.http
                    .get(realm_url)
                    .header(header::AUTHORIZATION, basic(image, username, password)?)
            }
            Credentials::Anonymous => {
                {
                    let mut q = realm_url.query_pairs_mut();
                    q.append_pair("scope", scope);
                    if let Some(s) = service {
                        q.append_pair("service", s);
                    }
                }
                self.http.get(realm_url)
            }
        };
        let resp = req.send().await.map_err(|e| self.transport(image, e))?;
        let status = resp.status();
        if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
            return Err(self.auth_error(image, credentials, status));
        }
        if !status.is_success() {
            // The token service's body may echo what was sent: report the status only.
            return Err(Error::Server {
                registry: image.registry().to_string(),
                what: "the Bearer token".into(),
                status: status.as_u16(),
                code: None,
                retry_after: retry_after(resp.headers()),
            });
        }
        let body = resp.bytes().await.map_err(|e| self.transport(image, e))?;
        let tr: TokenResponse = serde_json::from_slice(&body)
            .map_err(|_| self.protocol(image, "the token service answer is not JSON".into()))?;
        let token = tr
            .token
            .filter(|t| !t.is_empty())
            .or(tr.access_token.filter(|t| !t.is_empty()))
            .ok_or_else(|| self.protocol(image, "the token service sent no token".into()))?;
        // Distribution's default lifetime is 60 s; keep a margin.
        let ttl = tr.expires_in.unwrap_or(60).max(10);
        Ok(CachedAuth::Bearer {
            token: SecretString::from(token),
            expires: Instant::now() + Duration::from_secs(ttl - ttl / 10),
        })
    }

    /// Maps a non-2xx answer to an [`Error`]; passes 2xx through.
    async fn check(
        &self,
        image: &ImageReference,
        credentials: &Credentials,
        resp: Response,
        purpose: Purpose<'_>,
    ) -> Result<Response> {
        let status = resp.status();
        if status.is_success() {
            return Ok(resp);
        }
        let registry = image.registry().to_string();
        let retry_after = retry_after(resp.headers());
        if status == StatusCode::PROXY_AUTHENTICATION_REQUIRED {
            let (proxy, credentials_sent) = self.proxy_shown(resp.url());
            return Err(Error::ProxyAuthenticationRequired {
                proxy,
                registry,
                credentials_sent,
            });
        }
        if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
            return Err(self.auth_error(image, credentials, status));
        }
        if status == StatusCode::TOO_MANY_REQUESTS {
            return Err(Error::RateLimited {
                registry,
                retry_after,
            });
        }
        // Only the registry's error code is kept: bodies are not shown to users.
        let code = resp
            .bytes()
            .await
            .ok()
            .and_then(|b| serde_json::from_slice::<ErrorEnvelope>(&b).ok())
            .and_then(|e| e.errors.into_iter().next())
            .map(|e| e.code)
            .filter(|c| !c.is_empty() && c.len() <= 64);
        if status == StatusCode::NOT_FOUND {
            return Err(match (purpose, code.as_deref()) {
                (Purpose::Blob(digest), c) if c != Some("NAME_UNKNOWN") => Error::Server {
                    registry,
                    what: format!("the config blob {digest} of {}", image.repository()),
                    status: 404,
                    code: c.map(str::to_owned),
                    retry_after: None,
                },
                (Purpose::Manifest(tag), c) if c != Some("NAME_UNKNOWN") => {
                    Error::ManifestNotFound {
                        registry,
                        repository: image.repository().to_string(),
                        tag: tag.to_string(),
                    }
                }
                _ => Error::RepositoryNotFound {
                    registry,
                    repository: image.repository().to_string(),
                },
            });
        }
        let what = match purpose {
            Purpose::Tags => format!("the tags of {}", image.repository()),
            Purpose::Manifest(tag) => format!("the manifest of {}:{tag}", image.repository()),
            Purpose::Blob(digest) => format!("the config blob {digest} of {}", image.repository()),
        };
        Err(Error::Server {
            registry,
            what,
            status: status.as_u16(),
            code,
            retry_after,
        })
    }

    fn auth_error(
        &self,
        image: &ImageReference,
        credentials: &Credentials,
        status: StatusCode,
    ) -> Error {
        if credentials.is_anonymous() {
            Error::AuthenticationRequired {
                registry: image.registry().to_string(),
                repository: image.repository().to_string(),
            }
        } else {
            Error::AuthenticationFailed {
                registry: image.registry().to_string(),
                repository: image.repository().to_string(),
                status: status.as_u16(),
            }
        }
    }

    fn protocol(&self, image: &ImageReference, reason: String) -> Error {
        Error::Protocol {
            registry: image.registry().to_string(),
            reason,
        }
    }

    fn transport(&self, image: &ImageReference, e: reqwest::Error) -> Error {
        let registry = image.registry().to_string();
        if e.is_timeout() {
            return Error::Timeout { registry };
        }
        let reason = error_chain(&e);
        // An HTTPS registry behind a proxy: the CONNECT was answered 407.
        if reason.contains("proxy authorization required")
            && let Some(url) = e.url()
        {
            let (proxy, credentials_sent) = self.proxy_shown(url);
            return Error::ProxyAuthenticationRequired {
                proxy,
                registry,
                credentials_sent,
            };
        }
        if mentions_certificate(&e) {
            return Error::Tls { registry, reason };
        }
        if e.is_body() || e.is_decode() {
            return Error::ConnectionLost { registry, reason };
        }
        Error::Unreachable { registry, reason }
    }
}

/// What the fuzz targets reach of the wire parsing: every parser the client runs on a
/// registry's answers.
#[cfg(fuzzing)]
pub(crate) mod fuzzing {
    use super::*;

    /// `Link` header -> next page URL.
    pub fn next_link(value: &[u8]) -> Option<String> {
        let mut headers = HeaderMap::new();
        headers.insert(header::LINK, HeaderValue::from_bytes(value).ok()?);
        super::next_link(&headers)
    }

    /// `Retry-After` header -> wait.
    pub fn retry_after(value: &[u8]) -> Option<Duration> {
        let mut headers = HeaderMap::new();
        headers.insert(header::RETRY_AFTER, HeaderValue::from_bytes(value).ok()?);
        super::retry_after(&headers)
    }

    /// A tags page, an error envelope, a token answer, a manifest or index body and the metadata
    /// documents (manifest, index, config), each parsed as the client parses them; `WWW-Authenticate` challenges as `http_auth` reads them.
    pub fn bodies(body: &[u8]) {
        let _ = serde_json::from_slice::<TagPage>(body);
        let _ = serde_json::from_slice::<ErrorEnvelope>(body);
        let _ = serde_json::from_slice::<TokenResponse>(body);
        let _ = serde_json::from_slice::<oci_client::manifest::OciManifest>(body);
        // The metadata documents of `minimumAge` and `platforms`, and what is derived from them.
        if let Ok(doc) = serde_json::from_slice::<crate::metadata::ManifestDoc>(body) {
            let _ = (doc.created(), doc.platform_entries());
        }
        if let Ok(config) = serde_json::from_slice::<crate::metadata::ConfigDoc>(body) {
            let _ = (config.created(), config.platform());
        }
        if let Ok(text) = std::str::from_utf8(body) {
            let _ = http_auth::parse_challenges(text);
        }
    }
}

/// `sha256:<64 hex>` of `bytes`: a content digest as OCI writes it.
fn sha256_digest(bytes: &[u8]) -> String {
    let hex: String = Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256:{hex}")
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding these locks cannot leave the maps inconsistent (single inserts).
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn bearer(image: &ImageReference, token: &SecretString) -> Result<HeaderValue> {
    let mut v =
        HeaderValue::from_str(&format!("Bearer {}", token.expose_secret())).map_err(|_| {
            Error::Protocol {
                registry: image.registry().to_string(),
                reason: "the Bearer token has characters not allowed in a header".into(),
            }
        })?;
    v.set_sensitive(true);
    Ok(v)
}

fn basic(image: &ImageReference, username: &str, password: &SecretString) -> Result<HeaderValue> {
    let raw = format!("{username}:{}", password.expose_secret());
    let enc = base64::engine::general_purpose::STANDARD.encode(raw.as_bytes());
    // Base64 is always a valid header value.
    let mut v = HeaderValue::from_str(&format!("Basic {enc}")).map_err(|_| Error::Protocol {
        registry: image.registry().to_string(),
        reason: "credentials cannot be encoded".into(),
    })?;
    v.set_sensitive(true);
    Ok(v)
}

/// The error and its sources on one line, without the URL (never contains credentials: they
/// are sent in headers only).
pub(crate) fn error_chain(e: &reqwest::Error) -> String {
    let mut out = String::new();
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    let mut first = true;
    while let Some(err) = cur {
        let text = if first {
            e.to_string()
                .split(" for url (")
                .next()
                .unwrap_or_default()
                .to_string()
        } else {
            err.to_string()
        };
        // reqwest's and hyper's generic wrappers say nothing the user can act on.
        let generic = text.starts_with("error sending request")
            || text.starts_with("client error (")
            || text.starts_with("error decoding response body")
            || text.starts_with("request or response body error")
            || text.starts_with("error reading a body from connection")
            || text.is_empty();
        if !generic && !out.contains(&text) {
            if !out.is_empty() {
                out.push_str(": ");
            }
            out.push_str(&text);
        }
        first = false;
        cur = err.source();
    }
    if out.is_empty() {
        // Only wrappers: keep the outermost words rather than nothing.
        out = e.to_string();
    }
    out
}

fn mentions_certificate(e: &reqwest::Error) -> bool {
    let chain = error_chain(e).to_ascii_lowercase();
    chain.contains("certificate") || chain.contains("unknownissuer")
}

/// rustls' complaint when a plain-HTTP server answers the ClientHello.
fn speaks_plain_http(e: &reqwest::Error) -> bool {
    let chain = error_chain(e).to_ascii_lowercase();
    chain.contains("invalidcontenttype") || chain.contains("corrupt message")
}

/// `Retry-After` as seconds or an HTTP date (RFC 9110 10.2.3).
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let v = headers.get(header::RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = httpdate::parse_http_date(v).ok()?;
    Some(
        when.duration_since(std::time::SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

/// The target of `Link: <url>; rel="next"` (RFC 8288), if any.
pub(crate) fn next_link(headers: &HeaderMap) -> Option<String> {
    for value in headers.get_all(header::LINK) {
        let Ok(value) = value.to_str() else { continue };
        // Links are comma-separated; a comma inside <...> is part of the URL.
        let mut rest = value;
        while let Some(start) = rest.find('<') {
            let Some(end) = rest[start..].find('>') else {
                break;
            };
            let target = &rest[start + 1..start + end];
            let after = &rest[start + end + 1..];
            let params_end = after.find('<').unwrap_or(after.len());
            let params = &after[..params_end];
            let is_next = params.split(';').any(|p| {
                let p = p.trim().trim_end_matches(',').trim();
                let Some((k, v)) = p.split_once('=') else {
                    return false;
                };
                k.trim().eq_ignore_ascii_case("rel")
                    && v.trim()
                        .trim_matches('"')
                        .split_ascii_whitespace()
                        .any(|r| r.eq_ignore_ascii_case("next"))
            });
            if is_next {
                return Some(target.to_string());
            }
            rest = &after[params_end..];
        }
    }
    None
}

fn is_sha256_digest(d: &str) -> bool {
    d.strip_prefix("sha256:").is_some_and(|hex| {
        hex.len() == 64
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).expect("valid"));
        }
        h
    }

    #[test]
    fn link_header_next() {
        let cases = [
            (
                r#"</v2/a/tags/list?last=x&n=10>; rel="next""#,
                Some("/v2/a/tags/list?last=x&n=10"),
            ),
            (
                r#"<https://r/v2/a/tags/list?last=x>; rel=next"#,
                Some("https://r/v2/a/tags/list?last=x"),
            ),
            (
                r#"</first>; rel="prev", </second>; rel="next""#,
                Some("/second"),
            ),
            (r#"</x?a=1,2>; rel="next""#, Some("/x?a=1,2")),
            (r#"</only>; rel="prev""#, None),
            ("garbage", None),
        ];
        for (value, want) in cases {
            assert_eq!(
                next_link(&headers(&[("link", value)])).as_deref(),
                want,
                "{value}"
            );
        }
        assert_eq!(next_link(&HeaderMap::new()), None);
    }

    proptest::proptest! {
        /// Any `Link` target without `>` comes back, whatever other links surround it.
        #[test]
        fn next_link_finds_the_next_target(
            target in "/v2/[a-z/]{1,10}/tags/list\\?last=[A-Za-z0-9.,;=_-]{0,12}&n=[0-9]{1,4}",
            before in proptest::option::of("</prev[a-z]{0,3}>; rel=\"prev\""),
        ) {
            let value = match &before {
                Some(b) => format!("{b}, <{target}>; rel=\"next\""),
                None => format!("<{target}>; rel=\"next\""),
            };
            proptest::prop_assert_eq!(next_link(&headers(&[("link", &value)])), Some(target));
        }
    }

    #[test]
    fn retry_after_seconds_and_dates() {
        assert_eq!(
            retry_after(&headers(&[("retry-after", "7")])),
            Some(Duration::from_secs(7))
        );
        assert_eq!(
            retry_after(&headers(&[(
                "retry-after",
                "Wed, 21 Oct 2015 07:28:00 GMT"
            )])),
            Some(Duration::ZERO)
        );
        let later =
            httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(120));
        let got = retry_after(&headers(&[("retry-after", &later)])).expect("date");
        assert!(
            got > Duration::from_secs(100) && got <= Duration::from_secs(120),
            "{got:?}"
        );
        assert_eq!(retry_after(&headers(&[("retry-after", "soon")])), None);
    }

    #[test]
    fn digest_format() {
        assert!(is_sha256_digest(&format!("sha256:{}", "a".repeat(64))));
        assert!(!is_sha256_digest(&format!("sha256:{}", "A".repeat(64))));
        assert!(!is_sha256_digest("sha512:abc"));
    }

    #[test]
    fn tls_options_are_checked() {
        let bad_ca = ClientOptions {
            tls: TlsOptions {
                ca_pem: Some(b"not a pem".to_vec()),
                ..TlsOptions::default()
            },
            ..ClientOptions::default()
        };
        let err = RegistryClient::new(&bad_ca).expect_err("bad CA");
        assert!(matches!(err, Error::InvalidTlsConfig { .. }), "{err}");
        let cert_only = ClientOptions {
            tls: TlsOptions {
                client_cert_pem: Some(b"x".to_vec()),
                ..TlsOptions::default()
            },
            ..ClientOptions::default()
        };
        let err = RegistryClient::new(&cert_only).expect_err("no key");
        assert!(err.to_string().contains("private key"), "{err}");
        let key = TlsOptions {
            client_key_pem: Some(SecretString::from("-----BEGIN PRIVATE KEY----- hush")),
            ..TlsOptions::default()
        };
        assert!(!format!("{key:?}").contains("hush"));
        assert_ne!(key.identity(), TlsOptions::default().identity());
    }
}
