//! The ImagePolicy options `minimumAge`, `hold` and `downgrade` through the plugin, driven as
//! the Pulumi engine drives it (tests/src/engine.rs), against the real `docker-registry` and
//! Git over smart HTTP: the preview's diagnostics, the outputs (`passedOverTags`,
//! `tagMetadata`, `held`, `changes.refused`), and what is pushed.

use std::path::PathBuf;

use chrono::{Duration, Utc};
use imageautomation_tests::engine::{Inputs, Plugin, StackState, Urn};
use imageautomation_tests::git_server::{GitHttpServer, git, seed_repo};
use imageautomation_tests::registry::Registry;
use serde_json::{Value, json};

const TOKEN: &str = "ghp_policyOptionsSecret0123456789";
const REPO: &str = "imageautomation:index:ImageRepository";
const POLICY: &str = "imageautomation:index:ImagePolicy";
const AUTOMATION: &str = "imageautomation:index:UpdateAutomation";

struct Fleet {
    registry: Registry,
    git: GitHttpServer,
    bare: PathBuf,
    image: String,
}

fn manifest(image: &str, tag: &str) -> String {
    format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: podinfo\nspec:\n  template:\n    spec:\n      containers:\n        - name: podinfod\n          image: {image}:{tag} # {{\"$imagepolicy\": \"flux-system:podinfo\"}}\n"
    )
}

fn ago(d: Duration) -> String {
    (Utc::now() - d).to_rfc3339()
}

impl Fleet {
    /// podinfo: 5.0.0 ten days old, 5.0.1 five days old (linux/amd64 and arm64), 5.0.3 built
    /// two hours ago; the file at 5.0.0.
    fn start() -> Fleet {
        let registry = Registry::anonymous();
        let storage = registry.storage();
        storage.seed_dated(
            "podinfo",
            "5.0.0",
            "amd64",
            Some(&ago(Duration::days(10))),
            false,
        );
        storage.seed_dated_index(
            "podinfo",
            "5.0.1",
            &["amd64", "arm64"],
            &ago(Duration::days(5)),
            true,
        );
        storage.seed_dated(
            "podinfo",
            "5.0.3",
            "amd64",
            Some(&ago(Duration::hours(2))),
            true,
        );
        let image = registry.image("podinfo");
        let git = GitHttpServer::start(&[("x-access-token", TOKEN)]);
        let bare = git.create_repo("fleet");
        seed_repo(
            &bare,
            "main",
            &[(
                "clusters/dev/podinfo.yaml",
                manifest(&image, "5.0.0").as_str(),
            )],
            "initial",
        );
        Fleet {
            registry,
            git,
            bare,
            image,
        }
    }

    fn file(&self) -> String {
        git(&self.bare, &["show", "main:clusters/dev/podinfo.yaml"])
    }

    fn head(&self) -> String {
        git(&self.bare, &["rev-parse", "main"]).trim().to_owned()
    }

    fn program(&self, options: Value) -> Vec<(Urn, Inputs)> {
        let image = self.image.clone();
        let url = self.git.url("fleet");
        vec![
            (
                Urn::new(REPO, "podinfo"),
                Box::new(move |_: &StackState| json!({"image": image, "interval": "1s"})),
            ),
            (
                Urn::new(POLICY, "podinfoPolicy"),
                Box::new(move |s: &StackState| {
                    let mut inputs = json!({
                        "name": "podinfo",
                        "imageRepositoryRef": s["podinfo"].outputs["imageRepositoryRef"],
                        "policy": {"semver": {"range": "5.0.x"}},
                    });
                    for (k, v) in options.as_object().into_iter().flatten() {
                        inputs[k] = v.clone();
                    }
                    inputs
                }),
            ),
            (
                Urn::new(AUTOMATION, "fleet"),
                Box::new(move |s: &StackState| {
                    json!({
                        "git": {
                            "url": url,
                            "auth": {"token": imageautomation_proto::codec::secret(json!(TOKEN))},
                            "checkout": {"ref": {"branch": "main"}},
                            "commit": {"author": {"name": "Flux Bot", "email": "flux@example.com"}},
                            "push": {"branch": "main"},
                        },
                        "update": {"path": "./clusters/dev"},
                        "policies": [s["podinfoPolicy"].outputs["imagePolicyRef"].clone()],
                    })
                }),
            ),
        ]
    }
}

/// One deployment (a preview when `preview`) in a fresh plugin process; the diagnostics of
/// the policy and of the automation.
async fn deploy(
    fleet: &Fleet,
    state: &mut StackState,
    options: Value,
    preview: bool,
) -> (Vec<String>, Vec<String>) {
    let mut plugin = Plugin::start(&[]).await;
    plugin.configure(json!({})).await.expect("configure");
    plugin
        .deploy(&fleet.program(options), state, preview)
        .await
        .expect("the deployment succeeds");
    let policy = plugin.diagnostics(&Urn::new(POLICY, "podinfoPolicy"));
    let automation = plugin.diagnostics(&Urn::new(AUTOMATION, "fleet"));
    plugin.stop().await;
    (policy, automation)
}

#[tokio::test(flavor = "multi_thread")]
async fn minimum_age_hold_and_downgrade_through_the_plugin() {
    let fleet = Fleet::start();
    let mut state = StackState::new();

    // minimumAge: 5.0.3 is two hours old, so 5.0.1 is selected; the preview says why.
    let mut predicted = state.clone();
    let (diagnostics, _) = deploy(&fleet, &mut predicted, json!({"minimumAge": "24h"}), true).await;
    let policy = &predicted["podinfoPolicy"].outputs;
    assert_eq!(policy["latestRef"]["tag"], "5.0.1");
    assert_eq!(
        policy["passedOverTags"],
        json!([{"tag": "5.0.3", "reason": "younger than minimumAge 24h: created 2h ago"}])
    );
    assert!(
        diagnostics
            .iter()
            .any(|d| d.ends_with("passed over 5.0.3: younger than minimumAge 24h: created 2h ago")),
        "{diagnostics:?}"
    );
    deploy(&fleet, &mut state, json!({"minimumAge": "24h"}), false).await;
    assert!(fleet.file().contains("podinfo:5.0.1 #"), "{}", fleet.file());
    let metadata = state["podinfoPolicy"].outputs["tagMetadata"].clone();
    assert_eq!(metadata.as_object().map(|m| m.len()), Some(2), "{metadata}");
    assert!(
        metadata
            .as_object()
            .into_iter()
            .flatten()
            .any(|(_, m)| m["platforms"] == json!(["linux/amd64", "linux/arm64"])),
        "{metadata}"
    );
    assert!(
        state["podinfoPolicy"].refresh_before_update,
        "minimumAge changes with time"
    );

    // hold: 5.0.3 comes of age, but a hold added in the same `up` keeps 5.0.1 (the refresh
    // before the update only records the new selection as pending).
    let storage = fleet.registry.storage();
    storage.seed_dated(
        "podinfo",
        "5.0.3",
        "amd64",
        Some(&ago(Duration::days(2))),
        true,
    );
    let held = json!({"minimumAge": "24h", "hold": true});
    let (diagnostics, _) = deploy(&fleet, &mut state, held, false).await;
    assert_eq!(state["podinfoPolicy"].outputs["held"], json!(true));
    assert_eq!(state["podinfoPolicy"].outputs["latestRef"]["tag"], "5.0.1");
    assert!(
        diagnostics
            .iter()
            .any(|d| d.contains("held at 5.0.1 (hold: true)")),
        "{diagnostics:?}"
    );
    assert!(fleet.file().contains("podinfo:5.0.1 #"));

    // Released: 5.0.3 qualifies.
    deploy(&fleet, &mut state, json!({"minimumAge": "24h"}), false).await;
    assert_eq!(state["podinfoPolicy"].outputs["held"], json!(false));
    assert!(fleet.file().contains("podinfo:5.0.3 #"), "{}", fleet.file());

    // A young 5.0.4 is passed over; once it comes of age, the next `up` with the same inputs
    // selects it (refresh, pending, update).
    storage.seed_dated(
        "podinfo",
        "5.0.4",
        "amd64",
        Some(&ago(Duration::hours(1))),
        true,
    );
    deploy(&fleet, &mut state, json!({"minimumAge": "24h"}), false).await;
    assert_eq!(
        state["podinfoPolicy"].outputs["latestRef"]["tag"], "5.0.3",
        "{}",
        state["podinfoPolicy"].outputs
    );
    storage.seed_dated(
        "podinfo",
        "5.0.4",
        "amd64",
        Some(&ago(Duration::days(1) + Duration::hours(1))),
        true,
    );
    deploy(&fleet, &mut state, json!({"minimumAge": "24h"}), false).await;
    assert_eq!(state["podinfoPolicy"].outputs["latestRef"]["tag"], "5.0.4");
    assert!(
        state["podinfoPolicy"]
            .outputs
            .get("pendingLatestRef")
            .is_none()
    );
    assert!(fleet.file().contains("podinfo:5.0.4 #"), "{}", fleet.file());

    // downgrade: Deny: someone pinned 5.0.9 by hand; the automation keeps it and says so.
    let work = tempfile::tempdir().expect("tempdir");
    git(
        work.path(),
        &[
            "clone",
            "-q",
            &format!("file://{}", fleet.bare.display()),
            ".",
        ],
    );
    let path = work.path().join("clusters/dev/podinfo.yaml");
    std::fs::write(&path, manifest(&fleet.image, "5.0.9")).expect("write");
    git(work.path(), &["commit", "-qam", "Pin 5.0.9"]);
    git(work.path(), &["push", "-q", "origin", "main"]);
    let pinned = fleet.head();
    let deny = json!({"minimumAge": "24h", "downgrade": "Deny"});
    let (_, diagnostics) = deploy(&fleet, &mut state, deny, false).await;
    let reference = &state["podinfoPolicy"].outputs["imagePolicyRef"];
    assert_eq!(reference["downgrade"], "Deny");
    assert_eq!(reference["policy"], json!({"semver": {"range": "5.0.x"}}));
    let refused = &state["fleet"].outputs["changes"]["refused"];
    assert_eq!(refused[0]["currentTag"], "5.0.9", "{refused}");
    assert_eq!(refused[0]["selectedTag"], "5.0.4");
    assert!(
        diagnostics
            .iter()
            .any(|d| d
                .contains("flux-system:podinfo would downgrade 5.0.9 to 5.0.4 (downgrade: Deny)")),
        "{diagnostics:?}"
    );
    assert_eq!(fleet.head(), pinned, "nothing pushed");
}

#[tokio::test(flavor = "multi_thread")]
async fn invalid_options_fail_check_on_their_property() {
    let fleet = Fleet::start();
    let mut plugin = Plugin::start(&[]).await;
    plugin.configure(json!({})).await.expect("configure");
    let urn = Urn::new(POLICY, "p");
    let base = json!({
        "imageRepositoryRef": {"name": "podinfo", "image": fleet.image, "tags": ["5.0.0"]},
        "policy": {"semver": {"range": "5.0.x"}},
    });
    for (field, value, property, message) in [
        (
            "minimumAge",
            json!("2 days"),
            "minimumAge",
            "is not a duration",
        ),
        (
            "platforms",
            json!(["linux/amd64", "arm64"]),
            "platforms[1]",
            "is not a platform",
        ),
    ] {
        let mut inputs = base.clone();
        inputs[field] = value;
        let failures = plugin
            .check(&urn, &json!({}), &inputs)
            .await
            .expect("check answers")
            .expect_err("a failure");
        assert!(
            failures
                .iter()
                .any(|(p, r): &(String, String)| p == property && r.contains(message)),
            "{failures:?}"
        );
    }
    plugin.stop().await;
}
