//! Scheduler tests on paused tokio time.
//!
//! The tag source here is an in-process double (`Scripted`), not a registry: these tests are
//! about timing (due time, waits, backoff, timeouts), which needs virtual time. The real
//! registry is exercised in `tests/tests/registry_*.rs`.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::sync::atomic::AtomicUsize;

use super::*;

#[derive(Debug, Clone, Copy)]
enum Outcome {
    Tags,
    RateLimited(Option<u64>),
    Unavailable,
    AuthRequired,
    Hang,
}

struct Scripted {
    delay: Duration,
    script: Mutex<VecDeque<Outcome>>,
    calls: AtomicUsize,
    in_flight: Mutex<HashMap<String, (usize, usize)>>,
}

impl Scripted {
    fn new(delay: Duration, script: &[Outcome]) -> Self {
        Self {
            delay,
            script: Mutex::new(script.iter().copied().collect()),
            calls: AtomicUsize::new(0),
            in_flight: Mutex::new(HashMap::new()),
        }
    }

    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    fn max_in_flight(&self, registry: &str) -> usize {
        self.in_flight
            .lock()
            .expect("lock")
            .get(registry)
            .map_or(0, |(_, max)| *max)
    }

    async fn answer(&self, image: &ImageReference) -> registry::Result<Vec<String>> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let outcome = self
            .script
            .lock()
            .expect("lock")
            .pop_front()
            .unwrap_or(Outcome::Tags);
        {
            let mut m = self.in_flight.lock().expect("lock");
            let e = m.entry(image.registry().to_string()).or_default();
            e.0 += 1;
            e.1 = e.1.max(e.0);
        }
        tokio::time::sleep(self.delay).await;
        if let Outcome::Hang = outcome {
            std::future::pending::<()>().await;
        }
        self.in_flight
            .lock()
            .expect("lock")
            .get_mut(image.registry())
            .expect("entry")
            .0 -= 1;
        let registry = image.registry().to_string();
        match outcome {
            Outcome::Tags | Outcome::Hang => {
                Ok(vec!["1.0.0".into(), "2.0.0".into(), "x.sig".into()])
            }
            Outcome::RateLimited(s) => Err(registry::Error::RateLimited {
                registry,
                retry_after: s.map(Duration::from_secs),
            }),
            Outcome::Unavailable => Err(registry::Error::Server {
                registry,
                what: "tags".into(),
                status: 503,
                code: None,
                retry_after: None,
            }),
            Outcome::AuthRequired => Err(registry::Error::AuthenticationRequired {
                registry,
                repository: image.repository().into(),
            }),
        }
    }
}

impl TagSource for Scripted {
    async fn list_tags(
        &self,
        image: &ImageReference,
        _access: &Access,
    ) -> registry::Result<Vec<String>> {
        self.answer(image).await
    }

    async fn digest(
        &self,
        image: &ImageReference,
        _tag: &str,
        _access: &Access,
    ) -> registry::Result<String> {
        self.answer(image)
            .await
            .map(|_| format!("sha256:{}", "0".repeat(64)))
    }

    async fn metadata(
        &self,
        image: &ImageReference,
        _digest: &str,
        _access: &Access,
    ) -> registry::Result<registry::ImageMetadata> {
        self.answer(image).await.map(|_| Default::default())
    }
}

fn exact_retries() -> SchedulerConfig {
    SchedulerConfig {
        // REGISTRY_RETRY without jitter.
        retry: ExponentialBuilder::new()
            .with_min_delay(Duration::from_millis(500))
            .with_max_delay(Duration::from_secs(30))
            .with_max_times(4),
        ..SchedulerConfig::default()
    }
}

fn scheduler(delay_ms: u64, script: &[Outcome]) -> Arc<Scheduler<Scripted>> {
    Arc::new(Scheduler::with_source(
        Scripted::new(Duration::from_millis(delay_ms), script),
        exact_retries(),
    ))
}

fn request(image: &str) -> ScanRequest {
    ScanRequest {
        interval: Duration::from_secs(60),
        ..ScanRequest::new(image)
    }
}

#[tokio::test(start_paused = true)]
async fn reuses_the_stored_result_until_the_interval_passes() {
    let s = scheduler(100, &[]);
    let req = request("r.io/team/app");
    let first = s.scan(&req).await.expect("scan");
    assert_eq!(first.tags, ["2.0.0", "1.0.0"]);
    assert_eq!(s.source().calls(), 1);

    tokio::time::advance(Duration::from_secs(30)).await;
    let again = s.scan(&req).await.expect("stored");
    assert!(Arc::ptr_eq(&first, &again));
    assert_eq!(s.source().calls(), 1);
    let left = s.due_in(&req).await.expect("not due");
    assert!(
        left <= Duration::from_secs(30) && left > Duration::from_secs(29),
        "{left:?}"
    );

    // Flux scans once less than a second of the interval remains.
    tokio::time::advance(Duration::from_millis(29_500)).await;
    let third = s.scan(&req).await.expect("rescan");
    assert!(!Arc::ptr_eq(&first, &third));
    assert_eq!(s.source().calls(), 2);

    let forced = ScanRequest {
        force: true,
        ..req.clone()
    };
    s.scan(&forced).await.expect("forced");
    assert_eq!(s.source().calls(), 3);
}

#[tokio::test(start_paused = true)]
async fn forgotten_scans_run_again() {
    let s = scheduler(10, &[]);
    let req = request("r.io/team/app");
    s.scan(&req).await.expect("scan");
    s.scan(&req).await.expect("stored");
    assert_eq!(s.source().calls(), 1);
    s.forget(&req);
    assert_eq!(s.due_in(&req).await, None);
    s.scan(&req).await.expect("scan again");
    assert_eq!(s.source().calls(), 2);
}

/// A result kept in Pulumi state is reused by a fresh process until its interval passes.
#[tokio::test(start_paused = true)]
async fn restored_results_are_reused_until_due() {
    let s = scheduler(10, &[]);
    let req = request("r.io/team/app");
    let fresh = ScanResult::new(
        "r.io/team/app".into(),
        vec!["9.9.9".into()],
        &ExclusionList::new(None).expect("default"),
        chrono::Utc::now() - chrono::Duration::seconds(30),
    );
    s.restore(&req, fresh.clone()).await;
    assert_eq!(s.scan(&req).await.expect("restored").tags, ["9.9.9"]);
    assert_eq!(s.source().calls(), 0);
    let left = s.due_in(&req).await.expect("not due");
    assert!(
        left > Duration::from_secs(28) && left <= Duration::from_secs(30),
        "{left:?}"
    );

    let stale = ScanResult {
        last_scan_result: registry::LastScanResult {
            scan_time: chrono::Utc::now() - chrono::Duration::seconds(120),
            ..fresh.last_scan_result.clone()
        },
        ..fresh.clone()
    };
    let s2 = scheduler(10, &[]);
    s2.restore(&req, stale).await;
    assert_eq!(
        s2.scan(&req).await.expect("rescan").tags,
        ["2.0.0", "1.0.0"]
    );
    assert_eq!(s2.source().calls(), 1);

    // A result for another image is not taken.
    let s3 = scheduler(10, &[]);
    s3.restore(&request("r.io/team/other"), fresh).await;
    s3.scan(&request("r.io/team/other")).await.expect("scan");
    assert_eq!(s3.source().calls(), 1);
}

#[tokio::test(start_paused = true)]
async fn changed_inputs_are_new_scans() {
    let s = scheduler(10, &[]);
    let req = request("r.io/team/app");
    s.scan(&req).await.expect("scan");
    let excl = ScanRequest {
        exclusion_list: Some(vec!["^1".into()]),
        ..req.clone()
    };
    assert_eq!(s.scan(&excl).await.expect("scan").tags, ["x.sig", "2.0.0"]);
    let creds = ScanRequest {
        credentials: Credentials::basic("alice", "pw"),
        ..req.clone()
    };
    s.scan(&creds).await.expect("scan");
    let other = request("r.io/team/web");
    s.scan(&other).await.expect("scan");
    assert_eq!(s.source().calls(), 4);
    // The same inputs in another spelling are the same scan.
    s.scan(&request("r.io/team/app")).await.expect("stored");
    assert_eq!(s.source().calls(), 4);
}

#[tokio::test(start_paused = true)]
async fn concurrent_requests_share_one_scan() {
    let s = scheduler(1_000, &[]);
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let s = s.clone();
            tokio::spawn(async move { s.scan(&request("r.io/team/app")).await })
        })
        .collect();
    let mut results = Vec::new();
    for t in tasks {
        results.push(t.await.expect("join").expect("scan"));
    }
    assert_eq!(s.source().calls(), 1);
    assert!(results.iter().all(|r| Arc::ptr_eq(r, &results[0])));
}

#[tokio::test(start_paused = true)]
async fn concurrent_requests_share_one_failure() {
    let s = scheduler(1_000, &[Outcome::AuthRequired]);
    let tasks: Vec<_> = (0..5)
        .map(|_| {
            let s = s.clone();
            tokio::spawn(async move { s.scan(&request("r.io/team/app")).await })
        })
        .collect();
    for t in tasks {
        let err = t.await.expect("join").expect_err("auth");
        assert!(!err.is_transient());
        assert!(err.to_string().contains("authentication required"), "{err}");
    }
    assert_eq!(s.source().calls(), 1);
    // A failed scan stays due: the next request tries again.
    s.scan(&request("r.io/team/app")).await.expect("second try");
    assert_eq!(s.source().calls(), 2);
}

#[tokio::test(start_paused = true)]
async fn bounds_concurrent_requests_per_registry() {
    let s = scheduler(1_000, &[]);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..10 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            s.scan(&request(&format!("r.io/team/app{i}"))).await
        }));
    }
    for i in 0..2 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            s.scan(&request(&format!("s.io/team/app{i}"))).await
        }));
    }
    for t in tasks {
        t.await.expect("join").expect("scan");
    }
    assert_eq!(
        s.source().max_in_flight("r.io"),
        DEFAULT_MAX_CONCURRENT_PER_REGISTRY
    );
    assert_eq!(s.source().max_in_flight("s.io"), 2);
    // 10 scans of 1 s, 4 at a time: three waves.
    assert_eq!(start.elapsed(), Duration::from_secs(3));
}

#[tokio::test(start_paused = true)]
async fn retries_honour_retry_after() {
    let s = scheduler(
        0,
        &[Outcome::RateLimited(Some(7)), Outcome::RateLimited(Some(7))],
    );
    let start = Instant::now();
    let r = s.scan(&request("r.io/team/app")).await.expect("third try");
    assert_eq!(r.tags.len(), 2);
    assert_eq!(s.source().calls(), 3);
    assert_eq!(start.elapsed(), Duration::from_secs(14));
}

#[tokio::test(start_paused = true)]
async fn retries_back_off_exponentially() {
    let s = scheduler(
        0,
        &[
            Outcome::Unavailable,
            Outcome::RateLimited(None),
            Outcome::Unavailable,
        ],
    );
    let start = Instant::now();
    s.scan(&request("r.io/team/app")).await.expect("fourth try");
    assert_eq!(s.source().calls(), 4);
    // 0.5 s + 1 s + 2 s.
    assert_eq!(start.elapsed(), Duration::from_millis(3_500));
}

#[test]
fn registry_retries_are_four_doubling_waits_with_jitter_of_up_to_as_much_again() {
    for _ in 0..200 {
        let delays: Vec<Duration> = REGISTRY_RETRY.build().collect();
        assert_eq!(delays.len(), 4, "5 attempts in all");
        for (d, base) in delays.iter().zip([500u64, 1_000, 2_000, 4_000]) {
            let base = Duration::from_millis(base);
            assert!(*d >= base && *d <= base * 2, "{d:?} for {base:?}");
        }
    }
    let capped: Vec<Duration> = REGISTRY_RETRY.with_max_times(10).build().collect();
    assert!(capped[9] <= Duration::from_secs(60), "{:?}", capped[9]);
}

#[tokio::test(start_paused = true)]
async fn gives_up_after_max_attempts() {
    let s = scheduler(0, &[Outcome::Unavailable; 6]);
    let err = s.scan(&request("r.io/team/app")).await.expect_err("503s");
    assert_eq!(s.source().calls(), 5);
    assert!(err.is_transient());
    assert!(err.to_string().contains("after 5 attempt(s)"), "{err}");
    assert!(err.to_string().contains("HTTP 503"), "{err}");
}

#[tokio::test(start_paused = true)]
async fn permanent_errors_are_not_retried() {
    let s = scheduler(0, &[Outcome::AuthRequired]);
    let err = s.scan(&request("r.io/team/app")).await.expect_err("auth");
    assert_eq!(s.source().calls(), 1);
    assert!(matches!(err, Error::Scan { attempts: 1, .. }), "{err:?}");
}

#[tokio::test(start_paused = true)]
async fn retry_after_beyond_the_timeout_fails_at_once() {
    let s = scheduler(0, &[Outcome::RateLimited(Some(3_600))]);
    let start = Instant::now();
    let req = ScanRequest {
        timeout: Some(Duration::from_secs(10)),
        ..request("r.io/team/app")
    };
    let err = s.scan(&req).await.expect_err("rate limited");
    assert_eq!(start.elapsed(), Duration::ZERO);
    assert!(err.to_string().contains("HTTP 429"), "{err}");
    assert_eq!(
        err.registry_error().and_then(registry::Error::retry_after),
        Some(Duration::from_secs(3_600))
    );
}

#[tokio::test(start_paused = true)]
async fn timeout_defaults_to_the_interval_clamped() {
    for (interval, want) in [
        (Duration::from_secs(1_800), Duration::from_secs(600)),
        (Duration::from_millis(100), Duration::from_secs(1)),
        (Duration::from_secs(20), Duration::from_secs(20)),
    ] {
        let s = scheduler(0, &[Outcome::Hang]);
        let start = Instant::now();
        let req = ScanRequest {
            interval,
            ..request("r.io/team/app")
        };
        let err = s.scan(&req).await.expect_err("hangs");
        assert_eq!(start.elapsed(), want, "{interval:?}");
        assert!(matches!(err, Error::Timeout { timeout, .. } if timeout == want));
        assert!(err.is_transient());
    }
}

#[tokio::test(start_paused = true)]
async fn timeout_spans_retries_and_names_the_last_error() {
    let s = scheduler(
        0,
        &[Outcome::Unavailable, Outcome::Unavailable, Outcome::Hang],
    );
    let req = ScanRequest {
        timeout: Some(Duration::from_secs(5)),
        ..request("r.io/team/app")
    };
    let err = s.scan(&req).await.expect_err("times out");
    let msg = err.to_string();
    assert!(msg.contains("timed out after 5s"), "{msg}");
    assert!(
        msg.contains("last error: registry r.io answered HTTP 503"),
        "{msg}"
    );
}

#[tokio::test(start_paused = true)]
async fn invalid_requests_fail_without_a_scan() {
    let s = scheduler(0, &[]);
    for (req, want) in [
        (request("https://r.io/app"), "URL scheme"),
        (request("r.io/app:v1"), "should not include a tag"),
        (
            ScanRequest {
                exclusion_list: Some(vec!["(".into()]),
                ..request("r.io/app")
            },
            "failed to compile regex",
        ),
    ] {
        let err = s.scan(&req).await.expect_err("invalid");
        assert!(matches!(err, Error::Invalid { .. }), "{err:?}");
        assert!(!err.is_transient());
        assert!(err.to_string().contains(want), "{err}");
    }
    assert_eq!(s.source().calls(), 0);
}

#[tokio::test(start_paused = true)]
async fn digests_are_retried_and_not_cached() {
    let s = scheduler(0, &[Outcome::RateLimited(Some(2))]);
    let req = DigestRequest {
        image: "r.io/team/app".into(),
        insecure: false,
        tag: "1.0.0".into(),
        credentials: Credentials::Anonymous,
        tls: TlsOptions::default(),
        proxy: None,
        provider: Default::default(),
        timeout: None,
    };
    let start = Instant::now();
    assert!(s.digest(&req).await.expect("digest").starts_with("sha256:"));
    assert_eq!(start.elapsed(), Duration::from_secs(2));
    s.digest(&req).await.expect("digest");
    assert_eq!(s.source().calls(), 3);
}

#[tokio::test(start_paused = true)]
async fn the_timeout_starts_when_the_registry_permit_is_held() {
    // 12 scans of 1 s on one registry, 4 at a time, each with a 1.5 s timeout: the last wave
    // starts after 2 s in the queue and must still succeed.
    let s = scheduler(1_000, &[]);
    let tasks: Vec<_> = (0..12)
        .map(|i| {
            let s = s.clone();
            tokio::spawn(async move {
                let req = ScanRequest {
                    timeout: Some(Duration::from_millis(1_500)),
                    ..request(&format!("r.io/team/app{i}"))
                };
                s.scan(&req).await
            })
        })
        .collect();
    for t in tasks {
        t.await
            .expect("join")
            .expect("a queued scan is not timed out");
    }
    assert_eq!(s.source().calls(), 12);
}
