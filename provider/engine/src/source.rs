//! Where tags and digests come from: the registry, behind a trait the scheduler is generic over.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use imageautomation_registry::{
    self as registry, ClientOptions, Credentials, ImageReference, RegistryClient, TlsOptions,
};

/// Credentials and TLS options of one request.
#[derive(Debug, Clone, Default)]
pub struct Access {
    /// How to authenticate.
    pub credentials: Credentials,
    /// CA bundle and client certificate.
    pub tls: TlsOptions,
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
}

/// The real [`TagSource`]: a [`RegistryClient`] per distinct TLS configuration, created on
/// first use and kept (so Bearer tokens and connections are reused across scans).
#[derive(Debug, Default)]
pub struct RegistryTagSource {
    options: ClientOptions,
    clients: Mutex<HashMap<String, Arc<RegistryClient>>>,
}

impl RegistryTagSource {
    /// A source whose clients use `options` (request timeouts); the TLS part of `options` is
    /// replaced by each request's own [`Access::tls`].
    pub fn new(options: ClientOptions) -> Self {
        Self {
            options,
            clients: Mutex::new(HashMap::new()),
        }
    }

    fn client(&self, tls: &TlsOptions) -> registry::Result<Arc<RegistryClient>> {
        let key = tls.identity();
        let mut clients = self
            .clients
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(c) = clients.get(&key) {
            return Ok(c.clone());
        }
        let options = ClientOptions {
            tls: tls.clone(),
            ..self.options.clone()
        };
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
        let client = self.client(&access.tls)?;
        client.list_tags(image, &access.credentials).await
    }

    async fn digest(
        &self,
        image: &ImageReference,
        tag: &str,
        access: &Access,
    ) -> registry::Result<String> {
        let client = self.client(&access.tls)?;
        client.digest(image, tag, &access.credentials).await
    }
}
