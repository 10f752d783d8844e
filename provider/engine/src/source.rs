//! Where tags and digests come from: the registry, behind a trait the scheduler is generic over.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use imageautomation_registry::{
    self as registry, ClientOptions, Credentials, ImageMetadata, ImageReference, Provider,
    ProxyOptions, RegistryClient, TlsOptions,
};

/// Credentials, TLS options, proxy and cloud provider of one request.
#[derive(Debug, Clone, Default)]
pub struct Access {
    /// How to authenticate (with [`Provider::Generic`]).
    pub credentials: Credentials,
    /// CA bundle and client certificate.
    pub tls: TlsOptions,
    /// An explicit proxy; `None` uses the environment's.
    pub proxy: Option<ProxyOptions>,
    /// Unless `generic`, the registry credentials come from this cloud's login
    /// ([`RegistryClient::cloud_credentials`]) and `credentials` is ignored, as in Flux.
    pub provider: Provider,
}

/// The registry's [`ProxyOptions`] for the model's `proxy` (a resource's input, or the
/// fields `imageautomation run` takes for a `proxySecretRef`), checked by
/// [`Proxy::url`](imageautomation_model::args::Proxy::url).
///
/// # Errors
/// A message naming the field that is wrong (`address`, `username`), never the password.
pub fn proxy_options(proxy: &imageautomation_model::args::Proxy) -> Result<ProxyOptions, String> {
    let url = proxy.url()?;
    ProxyOptions::new(url.as_str(), proxy.username.clone(), proxy.password.clone())
        .map_err(|e| e.to_string())
}

/// A source of tag lists and digests: one attempt each, no retries (the scheduler retries).
///
/// [`RegistryTagSource`] is the real one; the scheduler's unit tests use an in-process double
/// to control timing on paused tokio time.
pub trait TagSource: Send + Sync + 'static {
    /// Every tag of `image`, in any order.
    fn list_tags(
        &self,
        image: &ImageReference,
        access: &Access,
    ) -> impl Future<Output = registry::Result<Vec<String>>> + Send;

    /// The digest (`sha256:<hex>`) of `image:tag`.
    fn digest(
        &self,
        image: &ImageReference,
        tag: &str,
        access: &Access,
    ) -> impl Future<Output = registry::Result<String>> + Send;

    /// The build time and platforms of the manifest `digest` of `image`.
    fn metadata(
        &self,
        image: &ImageReference,
        digest: &str,
        access: &Access,
    ) -> impl Future<Output = registry::Result<ImageMetadata>> + Send;
}

/// The real [`TagSource`]: a [`RegistryClient`] per distinct TLS and proxy configuration,
/// created on first use and kept (so Bearer tokens, cloud logins and connections are reused
/// across scans).
#[derive(Debug, Default)]
pub struct RegistryTagSource {
    options: ClientOptions,
    clients: Mutex<HashMap<String, Arc<RegistryClient>>>,
}

impl RegistryTagSource {
    /// A source whose clients use `options` (request timeouts, environment proxies, cloud
    /// endpoints); the TLS and proxy parts of `options` are replaced by each request's own
    /// [`Access::tls`] and [`Access::proxy`].
    pub fn new(options: ClientOptions) -> Self {
        Self {
            options,
            clients: Mutex::new(HashMap::new()),
        }
    }

    fn client(&self, access: &Access) -> registry::Result<Arc<RegistryClient>> {
        let options = ClientOptions {
            tls: access.tls.clone(),
            proxy: access.proxy.clone(),
            ..self.options.clone()
        };
        let key = options.identity();
        let mut clients = self
            .clients
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(c) = clients.get(&key) {
            return Ok(c.clone());
        }
        let client = Arc::new(RegistryClient::new(&options)?);
        clients.insert(key, client.clone());
        Ok(client)
    }
}

impl TagSource for RegistryTagSource {
    async fn list_tags(
        &self,
        image: &ImageReference,
        access: &Access,
    ) -> registry::Result<Vec<String>> {
        let client = self.client(access)?;
        let credentials = credentials(&client, image, access).await?;
        client.list_tags(image, &credentials).await
    }

    async fn digest(
        &self,
        image: &ImageReference,
        tag: &str,
        access: &Access,
    ) -> registry::Result<String> {
        let client = self.client(access)?;
        let credentials = credentials(&client, image, access).await?;
        client.digest(image, tag, &credentials).await
    }

    async fn metadata(
        &self,
        image: &ImageReference,
        digest: &str,
        access: &Access,
    ) -> registry::Result<ImageMetadata> {
        let client = self.client(access)?;
        let credentials = credentials(&client, image, access).await?;
        client.metadata(image, digest, &credentials).await
    }
}

/// The request's credentials, or its cloud provider's login (cached by the client).
async fn credentials(
    client: &RegistryClient,
    image: &ImageReference,
    access: &Access,
) -> registry::Result<Credentials> {
    if access.provider.is_cloud() {
        client.cloud_credentials(access.provider, image).await
    } else {
        Ok(access.credentials.clone())
    }
}
