//! The plugin driven as the Pulumi engine drives it (tests/src/engine.rs),
//! against the real `docker-registry` and Git over smart HTTP with basic auth:
//! preview and up of a new stack, no-op runs, a new tag, a reverted manifest,
//! refresh, import, destroy, a wrong token, an invalid range, and the secret
//! grep. One plugin process per operation, as the engine runs them.

use std::path::PathBuf;

use imageautomation_tests::engine::{
    Inputs, Plugin, StackState, Step, Urn, detailed, without_secrets,
};
use imageautomation_tests::git_server::{GitHttpServer, git, seed_repo};
use imageautomation_tests::registry::Registry;
use serde_json::{Value, json};

const TOKEN: &str = "ghp_lifecycleSecretToken0123456789";
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
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: podinfo\n  namespace: default\nspec:\n  template:\n    spec:\n      containers:\n        - name: podinfod\n          image: {image}:{tag} # {{\"$imagepolicy\": \"flux-system:podinfo\"}}\n"
    )
}

impl Fleet {
    fn start() -> Fleet {
        let registry = Registry::anonymous();
        registry.storage().seed_tags(
            "podinfo",
            &["5.0.0", "5.0.1", "5.0.3", "5.1.0", "6.0.0-rc.1", "latest"],
        );
        let image = registry.image("podinfo");
        let git = GitHttpServer::start(&[("x-access-token", TOKEN)]);
        let bare = git.create_repo("fleet");
        seed_repo(
            &bare,
            "main",
            &[
                (
                    "clusters/dev/podinfo.yaml",
                    manifest(&image, "5.0.0").as_str(),
                ),
                ("README.md", "fleet\n"),
            ],
            "initial",
        );
        Fleet {
            registry,
            git,
            bare,
            image,
        }
    }

    fn head(&self) -> String {
        git(&self.bare, &["rev-parse", "main"]).trim().to_owned()
    }

    fn file(&self) -> String {
        git(&self.bare, &["show", "main:clusters/dev/podinfo.yaml"])
    }

    fn program(&self, range: &str, interval: &str, token: &str) -> Vec<(Urn, Inputs)> {
        let image = self.image.clone();
        let interval = interval.to_owned();
        let range = range.to_owned();
        let url = self.git.url("fleet");
        let token = token.to_owned();
        vec![
            (
                Urn::new(REPO, "podinfo"),
                Box::new(move |_: &StackState| json!({"image": image, "interval": interval})),
            ),
            (
                Urn::new(POLICY, "podinfoPolicy"),
                Box::new(move |s: &StackState| {
                    json!({
                        "name": "podinfo",
                        "imageRepositoryRef": s["podinfo"].outputs["imageRepositoryRef"],
                        "policy": {"semver": {"range": range}},
                    })
                }),
            ),
            (
                Urn::new(AUTOMATION, "fleet"),
                Box::new(move |s: &StackState| {
                    let policy = s["podinfoPolicy"].outputs["imagePolicyRef"].clone();
                    json!({
                        "git": {
                            "url": url,
                            "auth": {"token": imageautomation_proto::codec::secret(json!(token))},
                            "checkout": {"ref": {"branch": "main"}},
                            "commit": {
                                "author": {"name": "Flux Bot", "email": "flux@example.com"},
                                "messageTemplate": "Update images\n\n{{range .Changed.Changes}}{{.OldValue}} -> {{.NewValue}}\n{{end}}",
                            },
                            "push": {"branch": "main"},
                        },
                        "update": {"path": "./clusters/dev"},
                        "policies": [policy],
                    })
                }),
            ),
        ]
    }
}

fn diff_paths(steps: &[(String, Step)], name: &str) -> Vec<(String, i32)> {
    steps
        .iter()
        .filter(|(n, _)| n == name)
        .flat_map(|(_, s)| match s {
            Step::Update(d) => {
                let mut v: Vec<_> = detailed(d).into_iter().collect();
                v.sort();
                v
            }
            _ => Vec::new(),
        })
        .collect()
}

fn is_same(steps: &[(String, Step)]) -> bool {
    steps.iter().all(|(_, s)| matches!(s, Step::Same))
}

async fn up(
    fleet: &Fleet,
    state: &mut StackState,
    range: &str,
    interval: &str,
) -> (Vec<(String, Step)>, Vec<String>) {
    let mut plugin = Plugin::start(&[]).await;
    plugin.configure(json!({})).await.expect("configure");
    let steps = plugin
        .deploy(&fleet.program(range, interval, TOKEN), state, false)
        .await
        .expect("up succeeds");
    let diagnostics = plugin.diagnostics(&Urn::new(AUTOMATION, "fleet"));
    plugin.stop().await;
    (steps, diagnostics)
}

async fn preview(
    fleet: &Fleet,
    state: &StackState,
    range: &str,
    interval: &str,
) -> (Vec<(String, Step)>, StackState, Vec<String>) {
    let mut plugin = Plugin::start(&[]).await;
    plugin.configure(json!({})).await.expect("configure");
    let mut copy = state.clone();
    let steps = plugin
        .deploy(&fleet.program(range, interval, TOKEN), &mut copy, true)
        .await
        .expect("preview succeeds");
    let diagnostics = plugin.diagnostics(&Urn::new(AUTOMATION, "fleet"));
    plugin.stop().await;
    (steps, copy, diagnostics)
}

#[tokio::test(flavor = "multi_thread")]
async fn preview_up_noop_new_tag_revert_refresh_destroy() {
    let fleet = Fleet::start();
    let initial = fleet.head();
    let mut state = StackState::new();

    // Preview of a new stack: the bump is predicted, nothing is written.
    let (steps, predicted, diagnostics) = preview(&fleet, &state, "5.0.x", "1s").await;
    assert!(steps.iter().all(|(_, s)| matches!(s, Step::Create)));
    assert_eq!(fleet.head(), initial, "a preview pushes nothing");
    assert_eq!(predicted["podinfo"].outputs["tags"][0], "latest");
    assert_eq!(predicted["podinfoPolicy"].id, "flux-system:podinfo");
    assert_eq!(
        predicted["podinfoPolicy"].outputs["latestRef"]["tag"],
        "5.0.3"
    );
    let automation = &predicted["fleet"].outputs;
    assert_eq!(automation["changes"]["files"][0]["path"], "podinfo.yaml");
    assert_eq!(
        automation["changes"]["files"][0]["objects"][0]["changes"][0]["newValue"],
        format!("{}:5.0.3", fleet.image)
    );
    assert!(
        diagnostics.contains(&format!(
            "clusters/dev/podinfo.yaml: {} 5.0.0 => 5.0.3",
            fleet.image
        )),
        "{diagnostics:?}"
    );

    // Up: one commit with the bump, the right message and author.
    let (_, _) = up(&fleet, &mut state, "5.0.x", "1s").await;
    let pushed = fleet.head();
    assert_ne!(pushed, initial);
    assert!(
        fleet
            .file()
            .contains(&format!("{}:5.0.3 # {{\"$imagepolicy\"", fleet.image))
    );
    let log = git(
        &fleet.bare,
        &["log", "--format=%an <%ae>|%cn|%B", "-1", "main"],
    );
    assert!(
        log.starts_with("Flux Bot <flux@example.com>|Flux Bot|Update images"),
        "{log}"
    );
    assert!(
        log.contains(&format!("{}:5.0.0 -> {}:5.0.3", fleet.image, fleet.image)),
        "{log}"
    );
    assert_eq!(state["fleet"].outputs["lastPushCommit"], pushed.as_str());
    assert_eq!(
        git(&fleet.bare, &["rev-list", "--count", "main"]).trim(),
        "2"
    );

    // Preview and up with nothing pending: DIFF_NONE everywhere, no commit.
    let (steps, _, _) = preview(&fleet, &state, "5.0.x", "1s").await;
    assert!(is_same(&steps), "{steps:?}");
    let (steps, _) = up(&fleet, &mut state, "5.0.x", "1s").await;
    assert!(is_same(&steps), "{steps:?}");
    assert_eq!(fleet.head(), pushed);

    // A new tag: the preview shows the bump old => new and pushes nothing.
    fleet.registry.storage().seed_tags("podinfo", &["5.0.4"]);
    let (steps, _, diagnostics) = preview(&fleet, &state, "5.0.x", "1s").await;
    assert_eq!(
        diff_paths(&steps, "fleet"),
        vec![("policies[0].latestRef.tag".to_owned(), 4)],
        "{steps:?}"
    );
    assert!(
        diagnostics.iter().any(|d| d.ends_with("5.0.3 => 5.0.4")),
        "{diagnostics:?}"
    );
    assert_eq!(fleet.head(), pushed);
    let (_, _) = up(&fleet, &mut state, "5.0.x", "1s").await;
    let bumped = fleet.head();
    assert_ne!(bumped, pushed);
    assert!(fleet.file().contains(":5.0.4 #"));
    assert_eq!(
        git(&fleet.bare, &["rev-list", "--count", "main"]).trim(),
        "3"
    );

    // Someone reverts the manifest: detected although the policies did not change.
    seed_repo(
        &fleet.bare,
        "main",
        &[(
            "clusters/dev/podinfo.yaml",
            manifest(&fleet.image, "5.0.1").as_str(),
        )],
        "revert podinfo",
    );
    let (steps, _, _) = preview(&fleet, &state, "5.0.x", "1s").await;
    assert_eq!(
        diff_paths(&steps, "fleet"),
        vec![("policies[0].latestRef.tag".to_owned(), 4)]
    );
    let (_, _) = up(&fleet, &mut state, "5.0.x", "1s").await;
    assert!(fleet.file().contains(":5.0.4 #"));
    assert_eq!(
        git(&fleet.bare, &["rev-list", "--count", "main"]).trim(),
        "5"
    );

    // Refresh: Read of each resource changes nothing.
    let mut plugin = Plugin::start(&[]).await;
    plugin.configure(json!({})).await.expect("configure");
    for (urn, _) in fleet.program("5.0.x", "1s", TOKEN) {
        let r = &state[&urn.name];
        let (id, outputs, inputs) = plugin
            .read(&urn, &r.id, Some(&r.outputs), Some(&r.inputs))
            .await
            .expect("refresh reads");
        assert_eq!(id, r.id);
        assert_eq!(
            without_secrets(&inputs),
            without_secrets(&r.inputs),
            "{}",
            urn.name
        );
        if urn.token != REPO {
            assert_eq!(
                without_secrets(&outputs),
                without_secrets(&r.outputs),
                "{}",
                urn.name
            );
        }
    }

    // Destroy: Delete each resource; the repository is left alone.
    let head = fleet.head();
    for (urn, _) in fleet.program("5.0.x", "1s", TOKEN).iter().rev() {
        let r = &state[&urn.name];
        plugin.delete(urn, &r.id, &r.outputs).await.expect("delete");
        plugin
            .delete(urn, &r.id, &r.outputs)
            .await
            .expect("delete is idempotent");
    }
    assert_eq!(fleet.head(), head);
    plugin.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_scan_is_reused_within_its_interval() {
    let fleet = Fleet::start();
    let mut state = StackState::new();
    up(&fleet, &mut state, "5.0.x", "5m").await;
    let pushed = fleet.head();
    fleet.registry.storage().seed_tags("podinfo", &["5.0.9"]);
    let (steps, _, _) = preview(&fleet, &state, "5.0.x", "5m").await;
    assert!(is_same(&steps), "the 5m interval has not passed: {steps:?}");
    assert_eq!(fleet.head(), pushed);
}

#[tokio::test(flavor = "multi_thread")]
async fn import_of_an_image_repository_returns_its_inputs() {
    let fleet = Fleet::start();
    let mut plugin = Plugin::start(&[]).await;
    plugin.configure(json!({})).await.expect("configure");
    let urn = Urn::new(REPO, "imported");
    let (id, outputs, inputs) = plugin
        .read(&urn, &fleet.image, None, None)
        .await
        .expect("import reads by id");
    assert_eq!(id, fleet.image);
    assert_eq!(inputs["image"], fleet.image.as_str());
    assert_eq!(inputs["interval"], "5m");
    assert_eq!(inputs["namespace"], "flux-system");
    assert_eq!(outputs["lastScanResult"]["tagCount"], 6);
    let checked = plugin.check(&urn, &inputs, &inputs).await.expect("check");
    assert_eq!(checked.expect("no failures"), inputs);
    plugin.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_token_fails_clearly_and_keeps_the_state() {
    let fleet = Fleet::start();
    let mut state = StackState::new();
    up(&fleet, &mut state, "5.0.x", "1s").await;
    fleet.registry.storage().seed_tags("podinfo", &["5.0.7"]);
    let before = state.clone();
    let wrong = "ghp_wrongToken999999999999999";
    let mut plugin = Plugin::start(&[]).await;
    plugin.configure(json!({})).await.expect("configure");
    let error = plugin
        .deploy(&fleet.program("5.0.x", "1s", wrong), &mut state, false)
        .await
        .expect_err("a wrong token fails");
    assert_eq!(error.code(), tonic::Code::Unauthenticated, "{error:?}");
    assert!(!error.message().contains(wrong), "{}", error.message());
    assert!(
        error.message().contains("127.0.0.1"),
        "names the remote: {}",
        error.message()
    );
    let logs = plugin.logs();
    let (_, output) = plugin.stop().await;
    assert!(logs.iter().all(|l| !l.message.contains(wrong)));
    assert!(!output.contains(wrong));
    // The failed resource keeps its previous state (the engine does not save a failed step).
    assert_eq!(state["fleet"].outputs, before["fleet"].outputs);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_invalid_range_is_a_check_failure_on_the_property() {
    let mut plugin = Plugin::start(&[]).await;
    plugin.configure(json!({})).await.expect("configure");
    let failures = plugin
        .check(
            &Urn::new(POLICY, "bad"),
            &json!({}),
            &json!({"imageRepositoryRef": {"namespace": "flux-system", "name": "x", "image": "x", "tags": []},
                    "policy": {"semver": {"range": "*-*"}}}),
        )
        .await
        .expect("Check answers")
        .expect_err("the range is invalid");
    assert_eq!(failures.len(), 1);
    assert_eq!(failures[0].0, "policy.semver.range");
    assert!(failures[0].1.contains("\"*-*\""), "{failures:?}");
    plugin.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn no_secret_in_anything_printed_logged_or_returned_unwrapped() {
    let fleet = Fleet::start();
    let mut plugin = Plugin::start(&[("GITHUB_TOKEN", TOKEN)]).await;
    plugin
        .configure(json!({"githubToken": TOKEN}))
        .await
        .expect("configure");
    let mut state = StackState::new();
    plugin
        .deploy(&fleet.program("5.0.x", "1s", TOKEN), &mut state, false)
        .await
        .expect("up");
    let logs = plugin.logs();
    let (_, output) = plugin.stop().await;
    let mut everything = output;
    for r in state.values() {
        everything.push_str(&without_secrets(&r.outputs).to_string());
        everything.push_str(&without_secrets(&r.inputs).to_string());
    }
    for l in &logs {
        everything.push_str(&l.message);
    }
    assert!(!everything.contains(TOKEN), "the token leaked");
    // The token is still there, wrapped as a secret, where the inputs had it.
    assert!(imageautomation_proto::codec::is_secret(
        &state["fleet"].outputs["git"]["auth"]["token"]
    ));
    assert!(!fleet.git.access_log().contains(TOKEN));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_registry_that_is_down_keeps_the_last_scan_and_the_preview_goes_on() {
    let mut fleet = Fleet::start();
    let mut state = StackState::new();
    up(&fleet, &mut state, "5.0.x", "1s").await;
    let pushed = fleet.head();
    fleet.registry.stop();
    let mut plugin = Plugin::start(&[]).await;
    plugin.configure(json!({})).await.expect("configure");
    let mut copy = state.clone();
    let steps = plugin
        .deploy(&fleet.program("5.0.x", "1s", TOKEN), &mut copy, true)
        .await
        .expect("the preview succeeds with the last scan");
    assert!(is_same(&steps), "{steps:?}");
    let warnings: Vec<String> = plugin
        .logs()
        .into_iter()
        .filter(|l| {
            l.urn == Urn::new(REPO, "podinfo").urn()
                && l.severity == imageautomation_proto::pulumirpc::LogSeverity::Warning as i32
        })
        .map(|l| l.message)
        .collect();
    assert!(
        warnings
            .iter()
            .any(|w| w.starts_with("kept the last scan, the registry failed")),
        "{warnings:?}"
    );
    assert_eq!(
        copy["podinfo"].outputs["tags"],
        state["podinfo"].outputs["tags"]
    );
    plugin.stop().await;
    assert_eq!(fleet.head(), pushed);
}

/// A token in the user part of an HTTP(S) `git.url` is refused by Check (it would be stored
/// in the state and copied into the Flux GitRepository), and the failure never quotes it.
#[tokio::test(flavor = "multi_thread")]
async fn credentials_in_the_git_url_are_refused() {
    let mut plugin = Plugin::start(&[]).await;
    plugin.configure(json!({})).await.expect("configure");
    for url in [
        "https://ghp_userPartToken42@github.com/org/fleet.git",
        "https://bot:hunter2-pw42@git.example.com/org/fleet.git",
        "https://bot:pa/ss-pw42@git.example.com/org/fleet.git",
    ] {
        let failures = plugin
            .check(
                &Urn::new(AUTOMATION, "fleet"),
                &json!({}),
                &json!({
                    "git": {"url": url, "commit": {"author": {"name": "a", "email": "a@b.c"}}},
                    "policies": [],
                }),
            )
            .await
            .expect("Check answers")
            .expect_err("credentials in the URL");
        assert_eq!(failures.len(), 1, "{failures:?}");
        assert_eq!(failures[0].0, "git.url");
        assert!(failures[0].1.contains("git.auth"), "{failures:?}");
        for part in ["ghp_userPartToken42", "hunter2-pw42", "ss-pw42"] {
            assert!(!failures[0].1.contains(part), "{failures:?}");
        }
    }
    // An SSH user is not a credential.
    let ok = plugin
        .check(
            &Urn::new(AUTOMATION, "fleet"),
            &json!({}),
            &json!({
                "git": {"url": "ssh://git@github.com/org/fleet.git", "commit": {"author": {"name": "a", "email": "a@b.c"}}},
                "policies": [],
            }),
        )
        .await
        .expect("Check answers");
    assert!(ok.is_ok(), "{ok:?}");
    plugin.stop().await;
}

/// Check on inputs a program can give: a password without a user name is refused (it used to
/// be ignored: anonymous access), and a failure in a list with unknown entries (a preview) names
/// the entry by its index in the program's list.
#[tokio::test(flavor = "multi_thread")]
async fn check_names_half_credentials_and_list_entries_as_written() {
    let mut plugin = Plugin::start(&[]).await;
    plugin.configure(json!({})).await.expect("configure");
    let urn = Urn::new(AUTOMATION, "fleet");
    let git = json!({"url": "https://git.example.com/org/fleet.git", "commit": {"author": {"email": "a@b.c"}}});
    let mut half = git.clone();
    half["auth"] = json!({"password": "pw-only-42"});
    let failures = plugin
        .check(&urn, &json!({}), &json!({"git": half, "policies": []}))
        .await
        .expect("Check answers")
        .expect_err("a password without a user name");
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert_eq!(failures[0].0, "git.auth");
    assert!(!failures[0].1.contains("pw-only-42"), "{failures:?}");
    let unknown = imageautomation_proto::codec::UNKNOWN;
    let failures = plugin
        .check(
            &urn,
            &json!({}),
            &json!({"git": git, "policies": [unknown, {"namespace": "flux-system", "name": "app"}]}),
        )
        .await
        .expect("Check answers")
        .expect_err("the second entry has no latestRef");
    assert!(
        failures
            .iter()
            .all(|(p, _)| p.starts_with("policies[1].latestRef")),
        "{failures:?}"
    );
    plugin.stop().await;
}

/// The token rule the CLI follows too (engine::token_rule): `git.auth` is never sent over
/// plain http:// off loopback, and `githubToken` goes to GitHub's API only. Both are refused
/// before any connection, and the messages do not quote the token.
#[tokio::test(flavor = "multi_thread")]
async fn tokens_go_only_where_the_rule_allows() {
    let mut plugin = Plugin::start(&[]).await;
    plugin
        .configure(json!({"githubToken": TOKEN}))
        .await
        .expect("configure");
    let urn = Urn::new(AUTOMATION, "fleet");
    let inputs = |url: &str, auth: Value, pull_request: Value| {
        json!({
            "git": {
                "url": url,
                "auth": auth,
                "checkout": {"ref": {"branch": "main"}},
                "commit": {"author": {"name": "a", "email": "a@b.c"}},
                "push": {"branch": "updates"},
            },
            "update": {"path": "."},
            "policies": [],
            "pullRequest": pull_request,
        })
    };
    let plain_http = inputs(
        "http://git.example.com/org/fleet.git",
        json!({"token": imageautomation_proto::codec::secret(json!("ghs_explicitToken42"))}),
        Value::Null,
    );
    let err = plugin
        .create(&urn, &plain_http, true)
        .await
        .expect_err("refused");
    assert!(
        err.message()
            .contains("never sent over plain http:// to git.example.com"),
        "{err:?}"
    );
    assert!(!err.message().contains("ghs_explicitToken42"));

    let other_api = inputs(
        "https://git.example.com/org/fleet.git",
        Value::Null,
        json!({"apiBaseUrl": "https://git.example.com/api/v3"}),
    );
    let err = plugin
        .create(&urn, &other_api, true)
        .await
        .expect_err("refused");
    assert!(
        err.message().contains("pullRequest.apiBaseUrl")
            && err.message().contains("github.com only"),
        "{err:?}"
    );
    assert!(!err.message().contains(TOKEN));
    plugin.stop().await;
}

/// `git.commit.signingKey` from a program: `up` pushes a commit that `git verify-commit`
/// accepts (SSH, with an allowed-signers file), the key and passphrase stay secret in the
/// state and out of every log; a wrong passphrase fails `Check` on the property.
#[tokio::test(flavor = "multi_thread")]
async fn signed_commits_from_a_program_verify_and_the_key_stays_secret() {
    use imageautomation_proto::codec::{is_secret, secret};
    use imageautomation_tests::signing_keys::{PASSPHRASE, ssh_key, verify_commit};

    let fleet = Fleet::start();
    let keys = tempfile::TempDir::new().expect("tempdir");
    let (private_key, allowed) = ssh_key(keys.path());
    let with_key = |passphrase: &str| {
        let mut program = fleet.program("5.0.x", "1s", TOKEN);
        let (urn, automation) = program.pop().expect("automation");
        let key = json!({"ssh": {"privateKey": secret(json!(private_key)), "passphrase": secret(json!(passphrase))}});
        let inputs: Inputs = Box::new(move |s: &StackState| {
            let mut v = automation(s);
            v["git"]["commit"]["signingKey"] = key.clone();
            v
        });
        program.push((urn, inputs));
        program
    };

    let mut plugin = Plugin::start(&[]).await;
    plugin.configure(json!({})).await.expect("configure");
    let mut state = StackState::new();
    let wrong = plugin
        .deploy(&with_key("not the passphrase"), &mut state, false)
        .await
        .expect_err("a wrong passphrase fails Check")
        .message()
        .to_owned();
    assert!(
        wrong.contains("git.commit.signingKey") && wrong.contains("its passphrase is wrong"),
        "{wrong}"
    );
    let before = fleet.head();
    let mut state = StackState::new();
    plugin
        .deploy(&with_key(PASSPHRASE), &mut state, false)
        .await
        .expect("up with a signing key");
    let logs = plugin.logs();
    let (_, output) = plugin.stop().await;
    assert_ne!(fleet.head(), before, "the bump was pushed");
    let allowed = format!("gpg.ssh.allowedSignersFile={}", allowed.display());
    let verdict = verify_commit(
        &fleet.bare,
        "main",
        &[],
        &["gpg.format=ssh", allowed.as_str()],
    );
    assert!(verdict.contains("Good \"git\" signature"), "{verdict}");

    let key = &state["fleet"].outputs["git"]["commit"]["signingKey"]["ssh"];
    assert!(is_secret(&key["privateKey"]) && is_secret(&key["passphrase"]));
    let mut everything = output + &wrong;
    for r in state.values() {
        everything.push_str(&without_secrets(&r.outputs).to_string());
        everything.push_str(&without_secrets(&r.inputs).to_string());
    }
    for l in &logs {
        everything.push_str(&l.message);
    }
    let body = private_key.lines().nth(2).expect("key body");
    assert!(!everything.contains(body), "the private key leaked");
    assert!(!everything.contains(PASSPHRASE), "the passphrase leaked");
}
