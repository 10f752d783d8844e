//! The scan scheduler: due time, single flight, per-registry politeness, retries, timeout.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};

use imageautomation_registry::{
    self as registry, ClientOptions, Credentials, ExclusionList, ImageMetadata, ImageReference,
    Provider, ProxyOptions, ScanResult, TlsOptions,
};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use crate::error::{Error, Result};
use crate::should_scan::should_scan;
use crate::source::{Access, RegistryTagSource, TagSource};

/// Default bound on concurrent requests to one registry host.
pub const DEFAULT_MAX_CONCURRENT_PER_REGISTRY: usize = 4;

/// The per-scan timeout used when a request sets none: the interval, at least 1 s, at most
/// 10 min (Flux uses `spec.timeout`, else the interval).
pub fn default_timeout(interval: Duration) -> Duration {
    interval.clamp(Duration::from_secs(1), Duration::from_secs(600))
}

/// One ImageRepository scan: Flux's `spec` fields that decide what and when to scan.
#[derive(Debug, Clone)]
pub struct ScanRequest {
    /// `spec.image`: `registry/repository` without scheme or tag (`ghcr.io/org/app`, `alpine`).
    pub image: String,
    /// `spec.insecure`: plain HTTP.
    pub insecure: bool,
    /// `spec.exclusionList`: `None` or empty = Flux's default `["^.*\\.sig$"]`.
    pub exclusion_list: Option<Vec<String>>,
    /// Credentials (Flux `secretRef`).
    pub credentials: Credentials,
    /// CA bundle and client certificate (Flux `certSecretRef`).
    pub tls: TlsOptions,
    /// `spec.proxySecretRef`: an explicit proxy; `None` uses the environment's.
    pub proxy: Option<ProxyOptions>,
    /// `spec.provider`: a cloud login replaces `credentials` unless `generic`.
    pub provider: Provider,
    /// `spec.interval`: a stored result younger than this is reused.
    pub interval: Duration,
    /// `spec.timeout` for the whole scan (all pages and retries); `None` =
    /// [`default_timeout`] of the interval.
    pub timeout: Option<Duration>,
    /// Scan even if a fresh result is stored (Flux: reconcile requested).
    pub force: bool,
}

impl ScanRequest {
    /// A request for `image` with Flux's defaults: anonymous, system CAs, default exclusion
    /// list, interval 5 min (a common `spec.interval`), no forced scan.
    pub fn new(image: impl Into<String>) -> Self {
        Self {
            image: image.into(),
            insecure: false,
            exclusion_list: None,
            credentials: Credentials::Anonymous,
            tls: TlsOptions::default(),
            proxy: None,
            provider: Provider::Generic,
            interval: Duration::from_secs(300),
            timeout: None,
            force: false,
        }
    }
}

/// A digest lookup of one tag (for `digestReflectionPolicy`).
#[derive(Debug, Clone)]
pub struct DigestRequest {
    /// `spec.image` of the ImageRepository.
    pub image: String,
    /// `spec.insecure`.
    pub insecure: bool,
    /// The tag whose digest to resolve.
    pub tag: String,
    /// Credentials.
    pub credentials: Credentials,
    /// CA bundle and client certificate.
    pub tls: TlsOptions,
    /// An explicit proxy; `None` uses the environment's.
    pub proxy: Option<ProxyOptions>,
    /// A cloud login replaces `credentials` unless `generic`.
    pub provider: Provider,
    /// Overall time limit including retries; `None` = 1 min.
    pub timeout: Option<Duration>,
}

impl DigestRequest {
    /// The image and how to reach it.
    fn target(&self) -> Result<(ImageReference, Access)> {
        let image = ImageReference::parse(&self.image, self.insecure).map_err(invalid)?;
        let access = Access {
            credentials: self.credentials.clone(),
            tls: self.tls.clone(),
            proxy: self.proxy.clone(),
            provider: self.provider,
        };
        Ok((image, access))
    }

    /// `timeout`, default 1 min.
    fn time_limit(&self) -> Duration {
        self.timeout.unwrap_or(Duration::from_secs(60))
    }
}

/// Retries of transient registry failures (429, 5xx, connection errors, request timeouts):
/// 4 (5 attempts in all), waiting 500 ms, then twice as long each time up to 30 s, plus up
/// to as much again at random (backon's jitter). A server's `Retry-After` replaces the wait.
pub const REGISTRY_RETRY: ExponentialBuilder = ExponentialBuilder::new()
    .with_min_delay(Duration::from_millis(500))
    .with_max_delay(Duration::from_secs(30))
    .with_max_times(4)
    .with_jitter();

/// Scheduler settings.
#[derive(Debug, Clone)]
pub struct SchedulerConfig {
    /// Concurrent requests per registry host. Default 4.
    pub max_concurrent_per_registry: usize,
    /// Retries of transient failures; default [`REGISTRY_RETRY`].
    pub retry: ExponentialBuilder,
    /// HTTP settings of the real registry source (per-request timeouts).
    pub client: ClientOptions,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        Self {
            max_concurrent_per_registry: DEFAULT_MAX_CONCURRENT_PER_REGISTRY,
            retry: REGISTRY_RETRY,
            client: ClientOptions::default(),
        }
    }
}

/// Who a scan authenticates as: the cloud provider, else the credentials (never shown).
fn access_key(provider: &Provider, credentials: &Credentials) -> String {
    if provider.is_cloud() {
        provider.to_string()
    } else {
        credentials.identity()
    }
}

/// How a scan reaches the registry: TLS options and proxy (never shown).
fn network_key(tls: &TlsOptions, proxy: Option<&ProxyOptions>) -> String {
    format!(
        "{}|{}",
        tls.identity(),
        proxy.map(ProxyOptions::identity).unwrap_or_default()
    )
}

/// What identifies a stored scan: the scan inputs.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct ScanKey {
    canonical: String,
    insecure: bool,
    exclusion: Vec<String>,
    credentials: String,
    tls: String,
}

#[derive(Default)]
struct SlotState {
    stored: Option<(Arc<ScanResult>, Instant)>,
    last_outcome: Option<Result<Arc<ScanResult>>>,
}

#[derive(Default)]
struct Slot {
    state: tokio::sync::Mutex<SlotState>,
    completed: AtomicU64,
}

/// The embedded scan scheduler; share it in an `Arc` (all methods take `&self`).
///
/// Follows kube-rs `kube-runtime` `scheduler.rs` in spirit (keyed, deduplicated work) and Flux
/// IRC `shouldScan` for when to scan. Time is tokio time, so tests run on paused time.
pub struct Scheduler<S: TagSource = RegistryTagSource> {
    source: S,
    config: SchedulerConfig,
    slots: Mutex<HashMap<ScanKey, Arc<Slot>>>,
    hosts: Mutex<HashMap<String, Arc<Semaphore>>>,
}

impl<S: TagSource> std::fmt::Debug for Scheduler<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scheduler")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Scheduler<RegistryTagSource> {
    /// A scheduler that scans real registries.
    pub fn new(config: SchedulerConfig) -> Self {
        let source = RegistryTagSource::new(config.client.clone());
        Self::with_source(source, config)
    }
}

impl Default for Scheduler<RegistryTagSource> {
    fn default() -> Self {
        Self::new(SchedulerConfig::default())
    }
}

fn invalid(e: registry::Error) -> Error {
    Error::Invalid {
        source: Arc::new(e),
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Single map operations under these locks: a panic cannot leave them half-done.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl<S: TagSource> Scheduler<S> {
    /// A scheduler over any [`TagSource`].
    pub fn with_source(source: S, config: SchedulerConfig) -> Self {
        Self {
            source,
            config,
            slots: Mutex::new(HashMap::new()),
            hosts: Mutex::new(HashMap::new()),
        }
    }

    /// The tag source.
    pub fn source(&self) -> &S {
        &self.source
    }

    /// Returns the stored scan result for `request`, scanning the registry first when the scan
    /// is due ([`should_scan`]: never scanned, forced, or the interval has passed; other input
    /// changes make a different scan). Concurrent calls for the same inputs share one scan
    /// and its outcome. A failed scan keeps the previous result stored (and due).
    ///
    /// # Errors
    /// [`Error::Invalid`] for a bad image, exclusion list or TLS options; [`Error::Scan`] when
    /// the registry fails (after retries for transient failures); [`Error::Timeout`] when
    /// the request's timeout passes.
    pub async fn scan(&self, request: &ScanRequest) -> Result<Arc<ScanResult>> {
        let image = ImageReference::parse(&request.image, request.insecure).map_err(invalid)?;
        let exclusion = ExclusionList::new(request.exclusion_list.as_deref()).map_err(invalid)?;
        let canonical = image.canonical_name();
        let mut patterns = exclusion.patterns().to_vec();
        patterns.sort();
        patterns.dedup();
        let key = ScanKey {
            canonical: canonical.clone(),
            insecure: request.insecure,
            exclusion: patterns,
            credentials: access_key(&request.provider, &request.credentials),
            tls: network_key(&request.tls, request.proxy.as_ref()),
        };
        let slot = lock(&self.slots).entry(key).or_default().clone();

        let seen = slot.completed.load(Ordering::SeqCst);
        let mut state = slot.state.lock().await;
        if slot.completed.load(Ordering::SeqCst) != seen {
            // A scan that was in flight when we arrived has finished: share its outcome.
            if let Some(outcome) = &state.last_outcome {
                return outcome.clone();
            }
        }
        let now = Instant::now();
        let decision = should_scan(
            state
                .stored
                .as_ref()
                .map(|(r, at)| (r.as_ref(), now.saturating_duration_since(*at))),
            &canonical,
            exclusion.patterns(),
            request.interval,
            request.force,
        );
        if decision.scan.is_none()
            && let Some((stored, _)) = &state.stored
        {
            return Ok(stored.clone());
        }

        let access = Access {
            credentials: request.credentials.clone(),
            tls: request.tls.clone(),
            proxy: request.proxy.clone(),
            provider: request.provider,
        };
        let timeout = request
            .timeout
            .unwrap_or_else(|| default_timeout(request.interval));
        let outcome = self
            .run(
                &image,
                timeout,
                |attempts, source| Error::Scan {
                    image: canonical.clone(),
                    attempts,
                    source,
                },
                || self.source.list_tags(&image, &access),
            )
            .await
            .map(|tags| {
                Arc::new(ScanResult::new(
                    canonical.clone(),
                    tags,
                    &exclusion,
                    chrono::Utc::now(),
                ))
            });
        if let Ok(result) = &outcome {
            state.stored = Some((result.clone(), Instant::now()));
        }
        state.last_outcome = Some(outcome.clone());
        slot.completed.fetch_add(1, Ordering::SeqCst);
        outcome
    }

    /// Stores `result`, kept elsewhere, as the result of `request`, aged by its `scanTime`
    /// (wall clock): `scan` then reuses it until `interval` has passed since that time. For the
    /// Pulumi provider, whose every operation is a fresh process: hand back the result from
    /// the resource's state instead of rescanning. A result for another image is ignored.
    pub async fn restore(&self, request: &ScanRequest, result: ScanResult) {
        let Some(key) = Self::key(request) else {
            return;
        };
        if key.canonical != result.canonical_image_name {
            return;
        }
        let age = (chrono::Utc::now() - result.last_scan_result.scan_time)
            .to_std()
            .unwrap_or(Duration::ZERO);
        // An age beyond what the monotonic clock can express is due anyway: store nothing.
        let Some(at) = Instant::now().checked_sub(age) else {
            return;
        };
        let slot = lock(&self.slots).entry(key).or_default().clone();
        let mut state = slot.state.lock().await;
        let newer = state
            .stored
            .as_ref()
            .is_none_or(|(r, _)| r.last_scan_result.scan_time < result.last_scan_result.scan_time);
        if newer {
            state.stored = Some((Arc::new(result), at));
        }
    }

    /// Drops the stored result for `request` (e.g. when its ImageRepository is deleted). A scan
    /// in flight for it still completes for its callers, but its result is not kept.
    pub fn forget(&self, request: &ScanRequest) {
        if let Some(key) = Self::key(request) {
            lock(&self.slots).remove(&key);
        }
    }

    /// The cache key of `request`, or `None` when the request is invalid.
    fn key(request: &ScanRequest) -> Option<ScanKey> {
        let image = ImageReference::parse(&request.image, request.insecure).ok()?;
        let exclusion = ExclusionList::new(request.exclusion_list.as_deref()).ok()?;
        let mut patterns = exclusion.patterns().to_vec();
        patterns.sort();
        patterns.dedup();
        Some(ScanKey {
            canonical: image.canonical_name(),
            insecure: request.insecure,
            exclusion: patterns,
            credentials: access_key(&request.provider, &request.credentials),
            tls: network_key(&request.tls, request.proxy.as_ref()),
        })
    }

    /// How long until the stored scan for `request` is due; `None` when it is due now (never
    /// scanned, or the interval has passed). For requeueing.
    pub async fn due_in(&self, request: &ScanRequest) -> Option<Duration> {
        let image = ImageReference::parse(&request.image, request.insecure).ok()?;
        let exclusion = ExclusionList::new(request.exclusion_list.as_deref()).ok()?;
        let key = Self::key(request)?;
        let slot = lock(&self.slots).get(&key)?.clone();
        let state = slot.state.lock().await;
        let (stored, at) = state.stored.as_ref()?;
        let d = should_scan(
            Some((
                stored.as_ref(),
                Instant::now().saturating_duration_since(*at),
            )),
            &image.canonical_name(),
            exclusion.patterns(),
            request.interval,
            false,
        );
        match d.scan {
            Some(_) => None,
            None => Some(d.next),
        }
    }

    /// Resolves the digest of one tag, with the same politeness and retries as scans (not
    /// cached: `digestReflectionPolicy: Always` asks every time).
    ///
    /// # Errors
    /// [`Error::Invalid`] for a bad image or TLS options; [`Error::Digest`] when the registry
    /// fails; [`Error::Timeout`].
    pub async fn digest(&self, request: &DigestRequest) -> Result<String> {
        let (image, access) = request.target()?;
        let canonical = image.canonical_name();
        self.run(
            &image,
            request.time_limit(),
            |attempts, source| match &*source {
                registry::Error::InvalidTag { .. } | registry::Error::InvalidTlsConfig { .. } => {
                    Error::Invalid { source }
                }
                _ => Error::Digest {
                    image: canonical.clone(),
                    tag: request.tag.clone(),
                    attempts,
                    source,
                },
            },
            || self.source.digest(&image, &request.tag, &access),
        )
        .await
    }

    /// Reads the build time and platforms of `request.image`'s manifest `digest` (the digest
    /// of `request.tag`), with the same politeness and retries as scans; not cached here
    /// (callers keep it per digest, e.g. in the ImagePolicy's `tagMetadata` output).
    ///
    /// # Errors
    /// [`Error::Invalid`] for a bad image or TLS options; [`Error::Metadata`] when the
    /// registry fails; [`Error::Timeout`].
    pub async fn metadata(&self, request: &DigestRequest, digest: &str) -> Result<ImageMetadata> {
        let (image, access) = request.target()?;
        let canonical = image.canonical_name();
        self.run(
            &image,
            request.time_limit(),
            |attempts, source| match &*source {
                registry::Error::InvalidTlsConfig { .. } => Error::Invalid { source },
                _ => Error::Metadata {
                    image: canonical.clone(),
                    tag: request.tag.clone(),
                    attempts,
                    source,
                },
            },
            || self.source.metadata(&image, digest, &access),
        )
        .await
    }

    /// Runs `op` with a per-registry permit per attempt, retrying transient failures, all
    /// within `timeout` counted from the first permit.
    async fn run<T, F, Fut>(
        &self,
        image: &ImageReference,
        timeout: Duration,
        wrap: impl Fn(u32, Arc<registry::Error>) -> Error,
        mut op: F,
    ) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = registry::Result<T>>,
    {
        // The time limit starts once the first permit is held: waiting behind other scans
        // of the same registry is not this request's time (5,000 images on one registry
        // would otherwise time out in the queue).
        let mut first_permit = Some(self.permit(image.registry()).await);
        let deadline = Instant::now() + timeout;
        let mut last_error: Option<Arc<registry::Error>> = None;
        let mut delays = self.config.retry.build();
        let attempts = async {
            let mut failures = 0u32;
            loop {
                let result = {
                    let _permit = match first_permit.take() {
                        Some(permit) => permit,
                        None => self.permit(image.registry()).await,
                    };
                    op().await
                };
                let error = match result {
                    Ok(v) => return Ok(v),
                    Err(e) => Arc::new(e),
                };
                failures += 1;
                last_error = Some(error.clone());
                if let registry::Error::InvalidTlsConfig { .. } = &*error {
                    return Err(Error::Invalid { source: error });
                }
                let backoff = delays.next().filter(|_| error.is_transient());
                let Some(backoff) = backoff else {
                    return Err(wrap(failures, error));
                };
                let delay = error.retry_after().unwrap_or(backoff);
                if Instant::now() + delay >= deadline {
                    // Waiting would outlive the timeout: report the real cause now.
                    return Err(wrap(failures, error));
                }
                tokio::time::sleep(delay).await;
            }
        };
        let outcome = tokio::time::timeout_at(deadline, attempts).await;
        match outcome {
            Ok(outcome) => outcome,
            Err(_) => Err(Error::Timeout {
                image: image.canonical_name(),
                timeout,
                last_error,
            }),
        }
    }

    async fn permit(&self, registry: &str) -> OwnedSemaphorePermit {
        let semaphore = lock(&self.hosts)
            .entry(registry.to_string())
            .or_insert_with(|| {
                Arc::new(Semaphore::new(
                    self.config.max_concurrent_per_registry.max(1),
                ))
            })
            .clone();
        semaphore
            .acquire_owned()
            .await
            .expect("registry semaphores are never closed")
    }
}

#[cfg(test)]
#[path = "scheduler_tests.rs"]
mod tests;
