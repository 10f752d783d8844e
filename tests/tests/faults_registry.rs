//! Registry faults (issue #15 §2): the real `docker-registry` behind the fault-injecting proxy
//! (`tests/src/faults.rs`), which resets the connection in the middle of a tag list, truncates
//! its JSON body, or stalls it past the scan's timeout. A scan retries what may pass, fails
//! with a message that names the registry and what happened when it does not, and never
//! returns a partial tag list. (The plugin keeping the last good scan in the outputs is in
//! `pulumi_cli_faults.rs`.)

use std::time::{Duration, Instant};

use imageautomation_engine::{Error, REGISTRY_RETRY, ScanRequest, Scheduler, SchedulerConfig};
use imageautomation_tests::faults::{Fault, FaultProxy};
use imageautomation_tests::registry::{Registry, semver_tags};

const TAGS_LIST: &str = "/v2/team/app/tags/list";

/// A registry with 300 tags of `team/app` (a body of several KiB) behind a fault proxy.
fn registry() -> (Registry, FaultProxy) {
    let registry = Registry::anonymous();
    registry.storage().seed_tags("team/app", &semver_tags(300));
    let proxy = FaultProxy::start(&registry.host());
    (registry, proxy)
}

fn scheduler() -> Scheduler {
    Scheduler::new(SchedulerConfig {
        retry: REGISTRY_RETRY.with_min_delay(Duration::from_millis(100)),
        ..SchedulerConfig::default()
    })
}

fn request(proxy: &FaultProxy) -> ScanRequest {
    ScanRequest {
        insecure: true,
        timeout: Some(Duration::from_secs(5)),
        ..ScanRequest::new(format!("{}/team/app", proxy.host()))
    }
}

#[tokio::test]
async fn a_connection_reset_mid_tag_list_is_retried_and_the_list_is_whole() {
    let (_registry, proxy) = registry();
    proxy.arm(TAGS_LIST, Fault::ResetResponse { body_bytes: 100 }, 2);
    let scan = scheduler().scan(&request(&proxy)).await.expect("retried");
    assert_eq!(proxy.fired().len(), 2, "both resets happened");
    assert_eq!(
        scan.tags.len(),
        300,
        "the whole list, not the part before the reset"
    );
}

#[tokio::test]
async fn a_truncated_json_body_is_retried_and_never_taken_as_the_list() {
    let (_registry, proxy) = registry();
    proxy.arm(TAGS_LIST, Fault::TruncateResponse { body_bytes: 100 }, 1);
    let scan = scheduler().scan(&request(&proxy)).await.expect("retried");
    assert_eq!(proxy.fired().len(), 1);
    assert_eq!(scan.tags.len(), 300);
}

#[tokio::test]
async fn a_registry_that_keeps_cutting_the_list_fails_with_what_happened() {
    let (registry, proxy) = registry();
    proxy.arm(
        TAGS_LIST,
        Fault::TruncateResponse { body_bytes: 100 },
        usize::MAX,
    );
    let err = scheduler()
        .scan(&request(&proxy))
        .await
        .expect_err("always cut");
    assert!(proxy.fired().len() >= 2, "retried: {:?}", proxy.fired());
    assert!(err.is_transient(), "{err:?}");
    let message = err.to_string();
    assert!(message.contains(&proxy.host()), "{message}");
    assert!(
        message.contains(&format!(
            "the connection to registry {} broke while reading its answer",
            proxy.host()
        )),
        "{message}"
    );
    assert!(
        !message.contains(&registry.host()),
        "names the address used: {message}"
    );
    // hyper's own words for it, without reqwest's wrappers.
    assert!(
        message
            .ends_with("broke while reading its answer: end of file before message length reached"),
        "{message}"
    );
    // A clean, single-line message: no partial JSON, no Rust debug output.
    assert!(
        !message.contains('\n') && !message.contains("\"tags\""),
        "{message}"
    );
}

#[tokio::test]
async fn a_stall_past_the_timeout_fails_within_the_timeout() {
    let (_registry, proxy) = registry();
    proxy.arm(TAGS_LIST, Fault::Stall, usize::MAX);
    let start = Instant::now();
    let req = ScanRequest {
        timeout: Some(Duration::from_secs(3)),
        ..request(&proxy)
    };
    let err = scheduler().scan(&req).await.expect_err("stalled");
    let took = start.elapsed();
    // Well before the client's 60 s request timeout: the scan's own deadline ended it.
    assert!(took < Duration::from_secs(30), "{took:?}");
    assert!(
        took >= Duration::from_secs(3),
        "waited the timeout: {took:?}"
    );
    assert!(matches!(err, Error::Timeout { .. }), "{err:?}");
    assert!(err.to_string().contains(&proxy.host()), "{err}");
}

#[tokio::test]
async fn a_slow_registry_within_the_timeout_is_only_slow() {
    let (_registry, proxy) = registry();
    proxy.arm(TAGS_LIST, Fault::Delay(Duration::from_millis(1500)), 1);
    let start = Instant::now();
    let scan = scheduler().scan(&request(&proxy)).await.expect("slow");
    assert!(start.elapsed() >= Duration::from_millis(1500));
    assert_eq!(scan.tags.len(), 300);
    assert_eq!(proxy.fired().len(), 1);
}
