//! The ImagePolicy options `minimumAge`, `platforms` and `hold` against the real Debian
//! `docker-registry`: images with known build times and platforms (an image index with two
//! platforms, single images with one), the reasons, the interaction with
//! `digestReflectionPolicy`, the metadata cache, and the registry requests each costs.

use chrono::{DateTime, Duration, Utc};
use imageautomation_engine::reconcile::{
    DigestReflectionPolicy, MetadataCache, PolicyRequest, PolicyStatus, ReconcileError,
    select_image,
};
use imageautomation_engine::{DigestRequest, Scheduler, SchedulerConfig};
use imageautomation_model::policy_options::{Downgrade, PolicyOptions};
use imageautomation_policy::{ImagePolicySpec, PolicyChoice, SemVerPolicy, TagSelector};
use imageautomation_tests::registry::Registry;
use imageautomation_update::LatestRef;

struct Fixture {
    registry: Registry,
    image: String,
    tags: Vec<String>,
    now: DateTime<Utc>,
    /// tag -> manifest digest.
    digests: std::collections::BTreeMap<String, String>,
}

/// `app`: 5.0.0 .. 5.0.4 (below) and 200 older tags 4.x sharing one image.
///
/// | tag   | kind                  | created                       | platforms            |
/// | 5.0.4 | image                 | unknown                       | linux/amd64          |
/// | 5.0.3 | index (not annotated) | 2h ago (children's configs)   | linux/amd64, arm64   |
/// | 5.0.2 | image (annotated)     | 3 days ago                    | linux/amd64          |
/// | 5.0.1 | index (annotated)     | 5 days ago                    | linux/amd64, arm64   |
/// | 5.0.0 | image                 | 10 days ago (config)          | linux/arm64          |
fn fixture() -> Fixture {
    let registry = Registry::anonymous();
    let storage = registry.storage();
    let now = Utc::now();
    let ago = |d: Duration| (now - d).to_rfc3339();
    let mut digests = std::collections::BTreeMap::new();
    let mut put = |tag: &str, digest: String| digests.insert(tag.to_owned(), digest);
    put(
        "5.0.4",
        storage.seed_dated("app", "5.0.4", "amd64", None, false),
    );
    put(
        "5.0.3",
        storage.seed_dated_index(
            "app",
            "5.0.3",
            &["amd64", "arm64"],
            &ago(Duration::hours(2)),
            false,
        ),
    );
    put(
        "5.0.2",
        storage.seed_dated("app", "5.0.2", "amd64", Some(&ago(Duration::days(3))), true),
    );
    put(
        "5.0.1",
        storage.seed_dated_index(
            "app",
            "5.0.1",
            &["amd64", "arm64"],
            &ago(Duration::days(5)),
            true,
        ),
    );
    put(
        "5.0.0",
        storage.seed_dated(
            "app",
            "5.0.0",
            "arm64",
            Some(&ago(Duration::days(10))),
            false,
        ),
    );
    let old: Vec<String> = (0..200)
        .map(|i| format!("4.{}.{}", i / 100, i % 100))
        .collect();
    storage.seed_tags("app", &old);
    let mut tags: Vec<String> = ["5.0.4", "5.0.3", "5.0.2", "5.0.1", "5.0.0"]
        .map(String::from)
        .to_vec();
    tags.extend(old);
    Fixture {
        image: registry.image("app"),
        registry,
        tags,
        now,
        digests,
    }
}

fn selector() -> TagSelector {
    TagSelector::new(&ImagePolicySpec {
        policy: PolicyChoice {
            semver: Some(SemVerPolicy {
                range: ">=4.0.0".into(),
            }),
            ..Default::default()
        },
        filter_tags: None,
    })
    .expect("valid")
}

fn options(minimum_age: Option<&str>, platforms: &[&str]) -> PolicyOptions {
    let platforms: Vec<String> = platforms.iter().map(|p| (*p).to_owned()).collect();
    PolicyOptions::parse(Downgrade::Allow, minimum_age, &platforms, false).expect("valid")
}

struct Run<'a> {
    options: PolicyOptions,
    reflection: DigestReflectionPolicy,
    known: &'a MetadataCache,
    previous: Option<&'a LatestRef>,
}

impl Fixture {
    async fn select(&self, run: Run<'_>) -> Result<PolicyStatus, ReconcileError> {
        let scheduler = Scheduler::new(SchedulerConfig::default());
        let selector = selector();
        select_image(
            &scheduler,
            PolicyRequest {
                selector: &selector,
                image: &self.image,
                tags: &self.tags,
                digest_reflection: run.reflection,
                digest_access: DigestRequest {
                    image: self.image.clone(),
                    insecure: false,
                    tag: String::new(),
                    credentials: Default::default(),
                    tls: Default::default(),
                    proxy: None,
                    provider: Default::default(),
                    timeout: None,
                },
                previous: run.previous,
                previous_observed: None,
                options: &run.options,
                known_metadata: run.known,
                now: self.now,
            },
        )
        .await
    }

    /// The manifest and blob requests since `from` (the `/v2/` probe left out).
    fn image_requests(&self, from: usize) -> Vec<String> {
        self.registry.requests()[from..]
            .iter()
            .filter(|r| r.contains("/manifests/") || r.contains("/blobs/"))
            .cloned()
            .collect()
    }

    fn heads(&self, from: usize) -> Vec<String> {
        self.image_requests(from)
            .into_iter()
            .filter(|r| r.starts_with("HEAD "))
            .map(|r| r.rsplit('/').next().unwrap_or_default().to_owned())
            .collect()
    }
}

fn reasons(status: &PolicyStatus) -> Vec<String> {
    status
        .passed_over
        .iter()
        .map(|p| format!("{}: {}", p.tag, p.reason))
        .collect()
}

#[tokio::test]
async fn minimum_age_walks_down_to_the_first_old_enough_tag() {
    let f = fixture();
    let before = f.registry.requests().len();
    let known = MetadataCache::new();
    let status = f
        .select(Run {
            options: options(Some("24h"), &[]),
            reflection: DigestReflectionPolicy::Never,
            known: &known,
            previous: None,
        })
        .await
        .expect("5.0.2 qualifies");
    assert_eq!(status.latest_ref.tag, "5.0.2");
    assert_eq!(status.latest_ref.digest, "", "digestReflectionPolicy Never");
    let reasons = reasons(&status);
    assert_eq!(reasons.len(), 2, "{reasons:?}");
    assert!(reasons[0].starts_with("5.0.4: age unknown"), "{reasons:?}");
    assert_eq!(
        reasons[1],
        "5.0.3: younger than minimumAge 24h: created 2h ago"
    );
    // One HEAD per tag looked at, best first; nothing for 5.0.1, 5.0.0 or the 200 others.
    assert_eq!(f.heads(before), ["5.0.4", "5.0.3", "5.0.2"]);
    // 5.0.4: manifest + config; 5.0.3: index + first child + its config; 5.0.2: manifest +
    // config (for its platform).
    assert_eq!(
        f.image_requests(before).len(),
        3 + 2 + 3 + 2,
        "{:?}",
        f.image_requests(before)
    );
    assert_eq!(status.metadata.len(), 3);
}

#[tokio::test]
async fn platforms_pass_over_images_that_lack_one() {
    let f = fixture();
    let known = MetadataCache::new();
    let status = f
        .select(Run {
            options: options(None, &["linux/arm64"]),
            reflection: DigestReflectionPolicy::Never,
            known: &known,
            previous: None,
        })
        .await
        .expect("5.0.3 provides arm64");
    assert_eq!(status.latest_ref.tag, "5.0.3");
    assert_eq!(reasons(&status), ["5.0.4: lacks linux/arm64"]);
    let both = f
        .select(Run {
            options: options(Some("24h"), &["linux/amd64", "linux/arm64"]),
            reflection: DigestReflectionPolicy::Never,
            known: &known,
            previous: None,
        })
        .await
        .expect("5.0.1 is old enough and has both");
    assert_eq!(both.latest_ref.tag, "5.0.1");
    let reasons = reasons(&both);
    assert_eq!(reasons.len(), 3, "{reasons:?}");
    assert!(reasons[0].ends_with("; lacks linux/arm64"), "{reasons:?}");
    assert_eq!(
        reasons[1],
        "5.0.3: younger than minimumAge 24h: created 2h ago"
    );
    assert_eq!(reasons[2], "5.0.2: lacks linux/arm64");
}

#[tokio::test]
async fn known_metadata_costs_one_head_per_tag_and_reflection_reuses_the_walks_digest() {
    let f = fixture();
    let empty = MetadataCache::new();
    let first = f
        .select(Run {
            options: options(Some("24h"), &["linux/arm64"]),
            reflection: DigestReflectionPolicy::IfNotPresent,
            known: &empty,
            previous: None,
        })
        .await
        .expect("5.0.1");
    assert_eq!(first.latest_ref.tag, "5.0.1");
    assert_eq!(first.latest_ref.digest, f.digests["5.0.1"]);
    let before = f.registry.requests().len();
    let again = f
        .select(Run {
            options: options(Some("24h"), &["linux/arm64"]),
            reflection: DigestReflectionPolicy::Always,
            known: &first.metadata,
            previous: Some(&first.latest_ref),
        })
        .await
        .expect("5.0.1 again");
    assert_eq!(again.latest_ref, first.latest_ref);
    assert_eq!(again.passed_over, first.passed_over);
    // Only the HEADs of the walk: no manifest or config is read again, and `Always` takes
    // the digest the walk just read.
    assert_eq!(
        f.image_requests(before)
            .iter()
            .map(|r| r.split(' ').next().unwrap_or_default())
            .collect::<Vec<_>>(),
        ["HEAD"; 4]
    );
    assert_eq!(f.heads(before), ["5.0.4", "5.0.3", "5.0.2", "5.0.1"]);
}

#[tokio::test]
async fn hold_keeps_the_previous_ref_without_a_request_and_none_qualifying_says_why() {
    let f = fixture();
    let known = MetadataCache::new();
    let previous = LatestRef {
        name: f.image.clone(),
        tag: "5.0.0".into(),
        digest: String::new(),
    };
    let before = f.registry.requests().len();
    let mut held = options(Some("24h"), &[]);
    held.hold = true;
    let status = f
        .select(Run {
            options: held,
            reflection: DigestReflectionPolicy::Always,
            known: &known,
            previous: Some(&previous),
        })
        .await
        .expect("held");
    assert!(status.held);
    assert_eq!(status.latest_ref, previous);
    assert_eq!(f.registry.requests().len(), before, "hold reads nothing");

    let e = f
        .select(Run {
            options: options(None, &["linux/s390x"]),
            reflection: DigestReflectionPolicy::Never,
            known: &known,
            previous: None,
        })
        .await
        .expect_err("no image has s390x");
    let message = e.to_string();
    assert!(
        message.starts_with("no tag selected: none of the 20 best candidate(s) qualifies (185 more not checked: at most 20 are)"),
        "{message}"
    );
    assert!(
        message.contains("\n  5.0.1: lacks linux/s390x"),
        "{message}"
    );
}
