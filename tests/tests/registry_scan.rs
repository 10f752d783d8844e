//! Tag listing, Flux's scan result and digests against the real Debian `docker-registry`
//! (distribution 2.8), anonymous, plain HTTP on loopback.

use std::sync::Arc;
use std::time::Duration;

use imageautomation_engine::{ScanRequest, Scheduler};
use imageautomation_registry::{
    ClientOptions, Credentials, Error, ExclusionList, ImageReference, RegistryClient, scan,
};
use imageautomation_tests::registry::{Proxy, Registry, semver_tags, sha256_digest};
use serde_json::Value;

fn client() -> RegistryClient {
    RegistryClient::new(&ClientOptions::default()).expect("client")
}

fn image(s: &str) -> ImageReference {
    ImageReference::parse(s, false).expect("valid image")
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .map(|s| s.as_str().expect("str").to_string())
                .collect()
        })
        .unwrap_or_default()
}

fn controller_cases() -> Value {
    serde_json::from_str(include_str!(
        "../../provider/registry/testdata/flux/controller_cases.json"
    ))
    .expect("valid JSON")
}

/// `controller_cases.json#scan` (the cases with a registry) and the end-to-end
/// `#exclusionFilter` cases, each in its own repository of one real registry.
#[tokio::test]
async fn flux_scan_cases_against_the_registry() {
    let registry = Registry::anonymous();
    let storage = registry.storage();
    let client = client();
    let all = controller_cases();
    let mut ran = 0;
    for (i, case) in all["scan"]["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .enumerate()
    {
        let Some(tags) = case.get("tags") else {
            continue; // the Badger revision cases run in the registry crate
        };
        let name = case["name"].as_str().expect("name");
        let repo = format!("flux/scan{i}");
        storage.seed_tags(&repo, &strings(tags));
        let spec = case["exclusionList"]
            .as_array()
            .map(|_| strings(&case["exclusionList"]));
        let exclusion = ExclusionList::new(spec.as_deref()).expect("patterns");
        let img = image(&registry.image(&repo));
        let got = scan(&client, &img, &Credentials::Anonymous, &exclusion).await;
        if let Some(want) = case["expectErrorContains"].as_str() {
            let err = got.expect_err(name);
            assert!(
                matches!(err, Error::RepositoryNotFound { .. }),
                "{name}: {err:?}"
            );
            assert_eq!(want, "404 Not Found");
            assert!(err.to_string().contains("HTTP 404"), "{name}: {err}");
        } else {
            let r = got.expect(name);
            assert_eq!(r.tags, strings(&case["expectStoredTags"]), "{name}");
            assert_eq!(r.canonical_image_name, registry.image(&repo));
        }
        ran += 1;
    }
    for (i, case) in all["exclusionFilter"]["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .enumerate()
    {
        let Some(spec) = case.get("exclusionListSpec") else {
            continue; // pure filter cases run in the registry crate
        };
        let name = case["name"].as_str().expect("name");
        let repo = format!("flux/excl{i}");
        storage.seed_tags(&repo, &strings(&case["tags"]));
        let spec = spec.as_array().map(|_| strings(spec));
        let exclusion = ExclusionList::new(spec.as_deref()).expect("patterns");
        let img = image(&registry.image(&repo));
        let r = scan(&client, &img, &Credentials::Anonymous, &exclusion)
            .await
            .expect(name);
        let mut got = r.tags.clone();
        got.sort();
        let mut want = strings(&case["expectTagsUnordered"]);
        want.sort();
        assert_eq!(got, want, "{name}");
        assert_eq!(
            r.last_scan_result.tag_count as u64,
            case["expectTagCount"].as_u64().expect("count"),
            "{name}"
        );
        assert_eq!(
            r.observed_exclusion_list,
            strings(&case["patterns"]),
            "{name}"
        );
        ran += 1;
    }
    assert_eq!(ran, 8);
}

#[tokio::test]
async fn ten_thousand_tags_in_flux_order() {
    let registry = Registry::anonymous();
    let tags = semver_tags(10_000);
    registry.storage().seed_tags("big/ten-k", &tags);
    let img = image(&registry.image("big/ten-k"));
    let r = scan(
        &client(),
        &img,
        &Credentials::Anonymous,
        &ExclusionList::new(None).expect("default"),
    )
    .await
    .expect("scan");
    let mut want = tags.clone();
    want.sort_by(|a, b| b.as_bytes().cmp(a.as_bytes()));
    assert_eq!(r.tags.len(), 10_000);
    assert_eq!(r.tags, want);
    assert_eq!(r.tags[0], "0.99.99");
    assert_eq!(r.last_scan_result.latest_tags, want[..10]);
    assert_eq!(r.last_scan_result.tag_count, 10_000);
}

fn tags_requests(log: &std::path::Path) -> usize {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains("/tags/list"))
        .count()
}

/// Distribution 2.8 does not paginate tags; the proxy does, like Docker Hub and distribution 3.
#[tokio::test]
async fn follows_link_headers_page_by_page() {
    let registry = Registry::anonymous();
    let tags = semver_tags(2_345);
    registry.storage().seed_tags("team/paged", &tags);
    let small = semver_tags(100);
    registry.storage().seed_tags("team/small", &small);
    for (repo, tags, max_page, pages) in [
        ("team/paged", &tags, "1000", 3),
        ("team/paged", &tags, "500", 5),
        ("team/small", &small, "7", 15),
    ] {
        let log = tempfile::NamedTempFile::new().expect("log");
        let log_path = log.path().display().to_string();
        let proxy = Proxy::start(
            &registry.host(),
            &["--max-page", max_page, "--log", &log_path],
        );
        let got = client()
            .list_tags(&image(&proxy.image(repo)), &Credentials::Anonymous)
            .await
            .expect("list");
        let mut want = tags.clone();
        want.sort();
        assert_eq!(&got, &want, "page size {max_page}");
        assert_eq!(tags_requests(log.path()), pages, "page size {max_page}");
    }
}

#[tokio::test]
async fn a_server_repeating_a_page_is_an_error() {
    let registry = Registry::anonymous();
    registry.storage().seed_tags("team/loop", &semver_tags(25));
    let proxy = Proxy::start(&registry.host(), &["--max-page", "10", "--repeat-link"]);
    let err = client()
        .list_tags(&image(&proxy.image("team/loop")), &Credentials::Anonymous)
        .await
        .expect_err("loop");
    assert!(matches!(err, Error::Protocol { .. }), "{err:?}");
    assert!(err.to_string().contains("page"), "{err}");
    assert!(!err.is_transient());
}

#[tokio::test]
async fn digest_of_a_multi_arch_index_and_of_an_image() {
    let registry = Registry::anonymous();
    let storage = registry.storage();
    let (index, children) = storage.seed_index("team/multi", "v2");
    let single = storage.seed_unique("team/multi", "v1");
    assert_eq!(children.len(), 2);
    let img = image(&registry.image("team/multi"));
    let c = client();
    assert_eq!(
        c.digest(&img, "v2", &Credentials::Anonymous)
            .await
            .expect("index"),
        index
    );
    assert_eq!(
        c.digest(&img, "v1", &Credentials::Anonymous)
            .await
            .expect("image"),
        single
    );
    assert_ne!(index, single);

    // Without Docker-Content-Digest: GET and hash the manifest.
    let proxy = Proxy::start(&registry.host(), &["--strip-digest"]);
    let via = image(&proxy.image("team/multi"));
    assert_eq!(
        c.digest(&via, "v2", &Credentials::Anonymous)
            .await
            .expect("GET"),
        index
    );
    assert_eq!(
        c.digest(&via, "v1", &Credentials::Anonymous)
            .await
            .expect("GET"),
        single
    );
}

/// The Docker media types of the `Accept` header: without them distribution would convert a
/// schema 2 manifest to schema 1, whose digest differs.
#[tokio::test]
async fn digest_of_docker_manifests_and_lists() {
    let registry = Registry::anonymous();
    let storage = registry.storage();
    let list = storage.seed_docker_list("team/docker", "v2");
    let (bytes, single) = storage.docker_image("team/docker", "amd64", "v1");
    storage.tag("team/docker", "v1", &single);
    assert_eq!(sha256_digest(&bytes), single);
    let img = image(&registry.image("team/docker"));
    let c = client();
    assert_eq!(
        c.digest(&img, "v2", &Credentials::Anonymous)
            .await
            .expect("list"),
        list
    );
    assert_eq!(
        c.digest(&img, "v1", &Credentials::Anonymous)
            .await
            .expect("image"),
        single
    );
    let proxy = Proxy::start(&registry.host(), &["--strip-digest"]);
    let via = image(&proxy.image("team/docker"));
    assert_eq!(
        c.digest(&via, "v1", &Credentials::Anonymous)
            .await
            .expect("GET"),
        single
    );
}

#[tokio::test]
async fn a_link_to_another_server_is_refused() {
    let registry = Registry::anonymous();
    registry.storage().seed_tags("team/app", &semver_tags(30));
    let proxy = Proxy::start(
        &registry.host(),
        &["--max-page", "10", "--link-prefix", "http://127.0.0.2:9"],
    );
    let err = client()
        .list_tags(
            &image(&proxy.image("team/app")),
            &Credentials::basic("u", "p"),
        )
        .await
        .expect_err("foreign link");
    assert!(matches!(err, Error::Protocol { .. }), "{err:?}");
    assert!(err.to_string().contains("another server"), "{err}");
}

#[tokio::test]
async fn unknown_tags_and_repositories() {
    let registry = Registry::anonymous();
    registry.storage().seed_tags("team/app", &["1.0.0"]);
    let c = client();
    let err = c
        .digest(
            &image(&registry.image("team/app")),
            "9.9.9",
            &Credentials::Anonymous,
        )
        .await
        .expect_err("no tag");
    assert!(matches!(err, Error::ManifestNotFound { .. }), "{err:?}");
    let err = c
        .list_tags(
            &image(&registry.image("team/nope")),
            &Credentials::Anonymous,
        )
        .await
        .expect_err("no repo");
    assert!(matches!(err, Error::RepositoryNotFound { .. }), "{err:?}");
    assert!(!err.is_transient());
    let msg = err.to_string();
    assert!(
        msg.contains("team/nope") && msg.contains(&registry.host()),
        "{msg}"
    );
    let err = c
        .digest(
            &image(&registry.image("team/app")),
            "bad tag!",
            &Credentials::Anonymous,
        )
        .await
        .expect_err("bad tag");
    assert!(matches!(err, Error::InvalidTag { .. }), "{err:?}");
}

#[tokio::test]
async fn a_registry_that_is_down() {
    let port = imageautomation_tests::free_port();
    let img = image(&format!("127.0.0.1:{port}/team/app"));
    let err = client()
        .list_tags(&img, &Credentials::Anonymous)
        .await
        .expect_err("down");
    assert!(matches!(err, Error::Unreachable { .. }), "{err:?}");
    assert!(err.is_transient());
    assert!(
        err.to_string().contains(&format!("127.0.0.1:{port}")),
        "{err}"
    );
}

/// Loopback registries default to plain HTTP as GGCR does (HTTPS is tried first), and
/// `insecure` forces it.
#[tokio::test]
async fn loopback_speaks_plain_http_with_or_without_insecure() {
    let registry = Registry::anonymous();
    registry.storage().seed_tags("team/app", &["a", "b"]);
    let c = client();
    for insecure in [false, true] {
        let img = ImageReference::parse(&registry.image("team/app"), insecure).expect("image");
        let mut tags = c
            .list_tags(&img, &Credentials::Anonymous)
            .await
            .expect("list");
        tags.sort();
        assert_eq!(tags, ["a", "b"]);
    }
}

/// The scheduler on the real registry: the stored result is reused until forced, and a
/// forced scan sees tags added since.
#[tokio::test]
async fn scheduler_reuses_results_and_rescans_when_forced() {
    let registry = Registry::anonymous();
    let storage = registry.storage();
    storage.seed_tags("team/app", &["1.0.0"]);
    let scheduler = Arc::new(Scheduler::default());
    let req = ScanRequest {
        interval: Duration::from_secs(600),
        ..ScanRequest::new(registry.image("team/app"))
    };
    let first = scheduler.scan(&req).await.expect("scan");
    assert_eq!(first.tags, ["1.0.0"]);
    storage.seed_tags("team/app", &["1.1.0"]);
    let stored = scheduler.scan(&req).await.expect("stored");
    assert!(Arc::ptr_eq(&first, &stored));
    let forced = ScanRequest {
        force: true,
        ..req.clone()
    };
    let fresh = scheduler.scan(&forced).await.expect("forced");
    assert_eq!(fresh.tags, ["1.1.0", "1.0.0"]);
    assert_ne!(
        fresh.last_scan_result.revision,
        first.last_scan_result.revision
    );
}

/// Concurrent scans of the same inputs make one registry round trip.
#[tokio::test]
async fn concurrent_scans_share_one_request() {
    let registry = Registry::anonymous();
    registry.storage().seed_tags("team/app", &semver_tags(500));
    let log = tempfile::NamedTempFile::new().expect("log");
    let log_path = log.path().display().to_string();
    let proxy = Proxy::start(&registry.host(), &["--log", &log_path]);
    let scheduler = Arc::new(Scheduler::default());
    let req = ScanRequest::new(proxy.image("team/app"));
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let s = scheduler.clone();
            let r = req.clone();
            tokio::spawn(async move { s.scan(&r).await })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.expect("join").expect("scan").tags.len(), 500);
    }
    assert_eq!(tags_requests(log.path()), 1);
}
