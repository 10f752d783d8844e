//! The scheduler's retries against the real registry behind a loopback proxy that injects
//! 429 (with `Retry-After`) and 503 answers, and against a registry that is down.

use std::time::{Duration, Instant};

use imageautomation_engine::{Error, REGISTRY_RETRY, ScanRequest, Scheduler, SchedulerConfig};
use imageautomation_registry as registry;
use imageautomation_tests::registry::{Proxy, Registry};

fn requests(log: &std::path::Path) -> usize {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains("/tags/list"))
        .count()
}

#[tokio::test]
async fn rate_limited_scans_wait_for_retry_after() {
    let registry = Registry::anonymous();
    registry
        .storage()
        .seed_tags("team/app", &["1.0.0", "2.0.0"]);
    let log = tempfile::NamedTempFile::new().expect("log");
    let log_path = log.path().display().to_string();
    let proxy = Proxy::start(
        &registry.host(),
        &[
            "--fail-first",
            "2",
            "--fail-status",
            "429",
            "--retry-after",
            "1",
            "--log",
            &log_path,
        ],
    );
    // A direct request sees the typed error with the server's Retry-After.
    let client = registry::RegistryClient::new(&Default::default()).expect("client");
    let img = registry::ImageReference::parse(&proxy.image("team/app"), true).expect("image");
    let err = client
        .list_tags(&img, &registry::Credentials::Anonymous)
        .await
        .expect_err("429");
    assert!(
        matches!(err, registry::Error::RateLimited { .. }),
        "{err:?}"
    );
    assert_eq!(err.retry_after(), Some(Duration::from_secs(1)));
    assert!(err.is_transient());

    // The scheduler waits Retry-After once more and succeeds.
    let scheduler = Scheduler::default();
    let start = Instant::now();
    let req = ScanRequest {
        insecure: true,
        ..ScanRequest::new(proxy.image("team/app"))
    };
    let r = scheduler.scan(&req).await.expect("after Retry-After");
    assert_eq!(r.tags, ["2.0.0", "1.0.0"]);
    assert!(
        start.elapsed() >= Duration::from_secs(1),
        "{:?}",
        start.elapsed()
    );
    // The direct 429, the scheduler's 429, then its successful retry.
    assert_eq!(requests(log.path()), 3);
}

#[tokio::test]
async fn unavailable_registries_are_retried_with_backoff() {
    let registry = Registry::anonymous();
    registry.storage().seed_tags("team/app", &["1.0.0"]);
    let proxy = Proxy::start(
        &registry.host(),
        &["--fail-first", "2", "--fail-status", "503"],
    );
    let scheduler = Scheduler::new(SchedulerConfig {
        retry: REGISTRY_RETRY.with_min_delay(Duration::from_millis(100)),
        ..SchedulerConfig::default()
    });
    let r = scheduler
        .scan(&ScanRequest::new(proxy.image("team/app")))
        .await
        .expect("third attempt");
    assert_eq!(r.tags, ["1.0.0"]);
}

#[tokio::test]
async fn a_registry_that_stays_down_fails_within_the_timeout() {
    let port = imageautomation_tests::free_port();
    let scheduler = Scheduler::new(SchedulerConfig {
        retry: REGISTRY_RETRY.with_min_delay(Duration::from_millis(100)),
        ..SchedulerConfig::default()
    });
    let start = Instant::now();
    let req = ScanRequest {
        timeout: Some(Duration::from_secs(3)),
        ..ScanRequest::new(format!("127.0.0.1:{port}/team/app"))
    };
    let err = scheduler.scan(&req).await.expect_err("down");
    assert!(
        start.elapsed() < Duration::from_secs(4),
        "{:?}",
        start.elapsed()
    );
    assert!(err.is_transient());
    assert!(
        matches!(err, Error::Scan { attempts: 5, .. } | Error::Timeout { .. }),
        "{err:?}"
    );
    assert!(
        err.to_string().contains(&format!("127.0.0.1:{port}")),
        "{err}"
    );
}
