//! Cluster mode (provider config `kubernetes`) driven as the Pulumi engine
//! drives the plugin (tests/src/engine.rs), with the real `docker-registry`
//! and Git over smart HTTP, and the FAKE Kubernetes API server
//! (`imageautomation_tests::kube_fake`: no real API server can run here; it
//! validates every body against the real Flux CRD schemas and Secret rules).
//! Preview (`dryRun=All` only), up, preview of an update, update, no-op,
//! drift (deleted and changed objects: refresh warns, the next update
//! re-applies or names the conflicting manager), destroy twice, and an
//! unreachable cluster. One plugin process per operation, as the engine
//! runs them.

use imageautomation_tests::engine::{Inputs, Plugin, StackState, Step, Urn, without_secrets};
use imageautomation_tests::git_server::{GitHttpServer, seed_repo};
use imageautomation_tests::kube_fake::{self, Call, FakeKubeApi};
use imageautomation_tests::registry::Registry;
use serde_json::{Value, json};

const TOKEN: &str = "ghp_clusterSecretToken0123456789";
const REPO: &str = "imageautomation:index:ImageRepository";
const POLICY: &str = "imageautomation:index:ImagePolicy";
const AUTOMATION: &str = "imageautomation:index:UpdateAutomation";
const NS: &str = "flux-system";

struct Fleet {
    _registry: Registry,
    git: GitHttpServer,
    image: String,
}

impl Fleet {
    fn start() -> Fleet {
        let registry = Registry::anonymous();
        registry
            .storage()
            .seed_tags("podinfo", &["5.0.0", "5.0.3", "6.0.0"]);
        let image = registry.image("podinfo");
        let git = GitHttpServer::start(&[("x-access-token", TOKEN)]);
        let bare = git.create_repo("fleet");
        let manifest = format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: podinfo\nspec:\n  template:\n    spec:\n      containers:\n        - name: podinfod\n          image: {image}:5.0.0 # {{\"$imagepolicy\": \"flux-system:podinfo\"}}\n"
        );
        seed_repo(
            &bare,
            "main",
            &[("clusters/dev/podinfo.yaml", manifest.as_str())],
            "initial",
        );
        Fleet {
            _registry: registry,
            git,
            image,
        }
    }

    fn program(&self, interval: &str) -> Vec<(Urn, Inputs)> {
        self.program_with(interval, json!({}))
    }

    /// The program with `extra` merged into the automation's inputs.
    fn program_with(&self, interval: &str, extra: Value) -> Vec<(Urn, Inputs)> {
        let image = self.image.clone();
        let interval = interval.to_owned();
        let url = self.git.url("fleet");
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
                        "policy": {"semver": {"range": "5.0.x"}},
                    })
                }),
            ),
            (
                Urn::new(AUTOMATION, "fleet"),
                Box::new(move |s: &StackState| {
                    let mut inputs = json!({
                        "git": {
                            "url": url,
                            "auth": {"token": imageautomation_proto::codec::secret(json!(TOKEN))},
                            "checkout": {"ref": {"branch": "main"}},
                            "commit": {"author": {"name": "Flux Bot", "email": "flux@example.com"}},
                            "push": {"branch": "main"},
                        },
                        "update": {"path": "./clusters/dev"},
                        "policies": [s["podinfoPolicy"].outputs["imagePolicyRef"]],
                    });
                    if let (Some(map), Some(extra)) = (inputs.as_object_mut(), extra.as_object()) {
                        map.extend(extra.clone());
                    }
                    inputs
                }),
            ),
        ]
    }
}

/// The stack config as the engine sends it for a default provider: objects
/// as JSON text.
fn config(kubeconfig: &str) -> Value {
    json!({"kubernetes": json!({"kubeconfig": kubeconfig}).to_string()})
}

/// What one plugin run returned and logged.
struct Run {
    result: Result<Vec<(String, Step)>, tonic::Status>,
    /// Every persistent diagnostic, with its severity (1 info, 2 warning).
    diagnostics: Vec<(i32, String)>,
    /// Everything logged or printed, for the secret grep.
    text: String,
}

async fn run(
    fleet: &Fleet,
    kubeconfig: &str,
    state: &mut StackState,
    interval: &str,
    preview: bool,
) -> Run {
    run_program(kubeconfig, &fleet.program(interval), state, preview).await
}

async fn run_program(
    kubeconfig: &str,
    program: &[(Urn, Inputs)],
    state: &mut StackState,
    preview: bool,
) -> Run {
    run_configured(config(kubeconfig), program, state, preview).await
}

async fn run_configured(
    config: Value,
    program: &[(Urn, Inputs)],
    state: &mut StackState,
    preview: bool,
) -> Run {
    let mut plugin = Plugin::start(&[]).await;
    plugin.configure(config).await.expect("configure");
    let result = plugin.deploy(program, state, preview).await;
    let logs = plugin.logs();
    let diagnostics = logs
        .iter()
        .filter(|l| !l.ephemeral)
        .map(|l| (l.severity, l.message.clone()))
        .collect();
    let (_, output) = plugin.stop().await;
    // What the engine shows or stores unencrypted.
    let outputs: Vec<Value> = state
        .values()
        .map(|r| without_secrets(&r.outputs))
        .collect();
    let outputs: Vec<&Value> = outputs.iter().collect();
    let text = imageautomation_tests::engine::all_text(&outputs, &logs, &output);
    Run {
        result,
        diagnostics,
        text,
    }
}

fn patches(calls: &[Call]) -> Vec<&Call> {
    calls.iter().filter(|c| c.method == "PATCH").collect()
}

fn has(diagnostics: &[(i32, String)], severity: i32, text: &str) -> bool {
    diagnostics
        .iter()
        .any(|(s, m)| *s == severity && m.contains(text))
}

const INFO: i32 = 1;
const WARNING: i32 = 2;

fn no_secret(text: &str) {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(TOKEN);
    assert!(!text.contains(TOKEN), "the Git token leaked");
    assert!(!text.contains(&b64), "the Git token leaked in base64");
    assert!(
        !text.contains(kube_fake::TOKEN),
        "the kubeconfig token leaked"
    );
}

async fn destroy(kubeconfig: &str, state: &StackState) {
    let mut plugin = Plugin::start(&[]).await;
    plugin
        .configure(config(kubeconfig))
        .await
        .expect("configure");
    for (name, token) in [
        ("fleet", AUTOMATION),
        ("podinfoPolicy", POLICY),
        ("podinfo", REPO),
    ] {
        let r = &state[name];
        plugin
            .delete(&Urn::new(token, name), &r.id, &r.outputs)
            .await
            .expect("delete succeeds");
    }
    plugin.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn preview_up_update_noop_drift_destroy() {
    let fake = FakeKubeApi::start().await;
    let kubeconfig = fake.kubeconfig();
    let fleet = Fleet::start();
    let mut state = StackState::new();

    // Preview of a new stack: dry runs only, nothing stored.
    let mut copy = state.clone();
    let preview = run(&fleet, &kubeconfig, &mut copy, "5m", true).await;
    preview.result.expect("preview succeeds");
    let calls = fake.calls();
    assert!(!patches(&calls).is_empty());
    assert!(
        patches(&calls)
            .iter()
            .all(|c| c.query.get("dryRun").map(String::as_str) == Some("All")),
        "{calls:?}"
    );
    assert!(fake.is_empty(), "a preview persists nothing");
    assert!(has(
        &preview.diagnostics,
        INFO,
        "ImageRepository flux-system/podinfo: would be created"
    ));

    // Up: every object applied (the fake validated each body against the CRDs).
    let up = run(&fleet, &kubeconfig, &mut state, "5m", false).await;
    up.result.expect("up succeeds");
    for (plural, name) in [
        ("imagerepositories", "podinfo"),
        ("imagepolicies", "podinfo"),
        ("imageupdateautomations", "fleet"),
        ("gitrepositories", "fleet"),
    ] {
        assert!(fake.object(plural, NS, name).is_some(), "{plural}/{name}");
    }
    let automation = fake
        .object("imageupdateautomations", NS, "fleet")
        .expect("automation");
    assert_eq!(
        automation["spec"]["policySelector"]["matchExpressions"][0]["values"],
        json!(["podinfo"])
    );
    assert_eq!(automation["spec"]["sourceRef"]["name"], "fleet");
    let git_repository = fake.object("gitrepositories", NS, "fleet").expect("git");
    assert_eq!(git_repository["spec"]["url"], fleet.git.url("fleet"));
    let secret_name = git_repository["spec"]["secretRef"]["name"]
        .as_str()
        .expect("secretRef")
        .to_owned();
    assert!(fake.object("secrets", NS, &secret_name).is_some());
    let policy = fake.object("imagepolicies", NS, "podinfo").expect("policy");
    assert_eq!(policy["spec"]["imageRepositoryRef"]["name"], "podinfo");
    assert!(
        patches(&fake.calls())
            .iter()
            .any(|c| !c.query.contains_key("dryRun") && c.status == 201)
    );
    assert!(has(
        &up.diagnostics,
        INFO,
        "ImageUpdateAutomation flux-system/fleet: created"
    ));
    let objects = state["fleet"].outputs["fluxObjects"]
        .as_array()
        .expect("fluxObjects");
    let secret = objects
        .iter()
        .find(|o| o["kind"] == "Secret")
        .expect("the auth Secret is in fluxObjects");
    assert!(
        secret["data"]
            .as_object()
            .expect("data")
            .values()
            .all(|v| v == imageautomation_kube::REDACTED),
        "{secret}"
    );
    assert_eq!(
        state["podinfo"].outputs["fluxObjects"][0]["kind"],
        "ImageRepository"
    );
    no_secret(&up.text);
    no_secret(&without_secrets(&state["fleet"].outputs).to_string());
    no_secret(&preview.text);

    // Preview of an update: dryRun=All only, nothing persisted.
    let before = fake.calls().len();
    let mut copy = state.clone();
    let preview = run(&fleet, &kubeconfig, &mut copy, "10m", true).await;
    preview.result.expect("preview succeeds");
    let calls = fake.calls();
    let new_patches = patches(&calls[before..]);
    assert!(!new_patches.is_empty());
    assert!(
        new_patches
            .iter()
            .all(|c| c.query.get("dryRun").map(String::as_str) == Some("All"))
    );
    assert_eq!(
        fake.object("imagerepositories", NS, "podinfo")
            .expect("repo")["spec"]["interval"],
        "5m"
    );
    assert!(has(
        &preview.diagnostics,
        INFO,
        "ImageRepository flux-system/podinfo: would be updated (.spec.interval)"
    ));

    // Update.
    let update = run(&fleet, &kubeconfig, &mut state, "10m", false).await;
    update.result.expect("update succeeds");
    assert_eq!(
        fake.object("imagerepositories", NS, "podinfo")
            .expect("repo")["spec"]["interval"],
        "10m"
    );
    assert!(has(
        &update.diagnostics,
        INFO,
        "ImageRepository flux-system/podinfo: updated (.spec.interval)"
    ));

    // No-op: refresh reads (GET), nothing is applied.
    let before = fake.calls().len();
    let noop = run(&fleet, &kubeconfig, &mut state, "10m", false).await;
    let steps = noop.result.expect("no-op succeeds");
    assert!(
        steps.iter().all(|(_, s)| matches!(s, Step::Same)),
        "{steps:?}"
    );
    let calls = fake.calls();
    assert!(
        patches(&calls[before..]).is_empty(),
        "{:?}",
        &calls[before..]
    );
    assert!(calls[before..].iter().any(|c| c.method == "GET"));

    // Drift: an object deleted in the cluster is a warning, and re-applied.
    assert!(fake.remove("imagepolicies", NS, "podinfo"));
    let drift = run(&fleet, &kubeconfig, &mut state, "10m", false).await;
    let steps = drift.result.expect("the update after drift succeeds");
    assert!(has(
        &drift.diagnostics,
        WARNING,
        "ImagePolicy flux-system/podinfo: deleted in the cluster"
    ));
    let policy_step = steps
        .iter()
        .find(|(n, _)| n == "podinfoPolicy")
        .expect("policy step");
    match &policy_step.1 {
        Step::Update(diff) => {
            assert_eq!(diff.diffs, vec!["fluxObjects".to_owned()]);
            assert!(!diff.has_detailed_diff, "no path rendered as a deletion");
        }
        other => panic!("drift must update: {other:?}"),
    }
    assert!(
        steps
            .iter()
            .filter(|(n, _)| n != "podinfoPolicy")
            .all(|(_, s)| matches!(s, Step::Same))
    );
    assert!(fake.object("imagepolicies", NS, "podinfo").is_some());
    assert!(has(
        &drift.diagnostics,
        INFO,
        "ImagePolicy flux-system/podinfo: created"
    ));

    // Drift by another field manager: refresh warns with the field, and the
    // re-apply is a conflict naming the field and the manager (never forced).
    fake.edit(
        "imagerepositories",
        NS,
        "podinfo",
        &["spec", "interval"],
        json!("1h"),
        "kubectl-edit",
    );
    let conflict = run(&fleet, &kubeconfig, &mut state, "10m", false).await;
    assert!(has(
        &conflict.diagnostics,
        WARNING,
        "ImageRepository flux-system/podinfo: differs in the cluster from the declaration (.spec.interval)"
    ));
    let err = conflict.result.expect_err("a conflict fails the update");
    assert_eq!(err.code(), tonic::Code::FailedPrecondition, "{err:?}");
    assert!(err.message().contains("kubectl-edit"), "{}", err.message());
    assert!(
        err.message().contains(".spec.interval"),
        "{}",
        err.message()
    );
    no_secret(&conflict.text);
    no_secret(&drift.text);

    // Destroy: DELETE calls for everything applied; a second destroy is fine.
    let before = fake.calls().len();
    destroy(&kubeconfig, &state).await;
    assert!(fake.is_empty(), "everything the stack applied is deleted");
    let calls = fake.calls();
    let deletes: Vec<_> = calls[before..]
        .iter()
        .filter(|c| c.method == "DELETE")
        .collect();
    assert_eq!(deletes.len(), 5, "{deletes:?}");
    assert!(deletes.iter().all(|c| c.status == 200));
    let after = calls.len();
    destroy(&kubeconfig, &state).await;
    let again = fake.calls();
    let deletes: Vec<_> = again[after..]
        .iter()
        .filter(|c| c.method == "DELETE")
        .collect();
    assert_eq!(deletes.len(), 5);
    assert!(deletes.iter().all(|c| c.status == 404), "already gone");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_cluster_warns_in_preview_and_fails_up() {
    let fleet = Fleet::start();
    let port = imageautomation_tests::free_port();
    let kubeconfig = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: gone\n  cluster:\n    server: http://127.0.0.1:{port}\ncontexts:\n- name: gone\n  context:\n    cluster: gone\n    user: gone\ncurrent-context: gone\nusers:\n- name: gone\n  user:\n    token: {}\n",
        kube_fake::TOKEN
    );
    let mut state = StackState::new();
    let preview = run(&fleet, &kubeconfig, &mut state.clone(), "5m", true).await;
    let steps = preview.result.expect("the preview still succeeds");
    assert_eq!(steps.len(), 3);
    assert!(
        has(
            &preview.diagnostics,
            WARNING,
            "the preview cannot show what changes in the cluster"
        ),
        "{:?}",
        preview.diagnostics
    );
    no_secret(&preview.text);

    let up = run(&fleet, &kubeconfig, &mut state, "5m", false).await;
    let err = up.result.expect_err("up needs the cluster");
    assert_eq!(err.code(), tonic::Code::Unavailable, "{err:?}");
    assert!(
        err.message()
            .contains("cannot reach the Kubernetes API server"),
        "{}",
        err.message()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn naming_an_existing_git_repository_deletes_the_rendered_one() {
    let fake = FakeKubeApi::start().await;
    let kubeconfig = fake.kubeconfig();
    let fleet = Fleet::start();
    let mut state = StackState::new();
    run(&fleet, &kubeconfig, &mut state, "5m", false)
        .await
        .result
        .expect("up succeeds");
    assert!(fake.object("gitrepositories", NS, "fleet").is_some());
    assert!(fake.object("secrets", NS, "fleet-git-auth").is_some());

    let program = fleet.program_with(
        "5m",
        json!({"sourceRef": {"name": "flux-system"}, "interval": "15m"}),
    );
    let update = run_program(&kubeconfig, &program, &mut state, false).await;
    update.result.expect("update succeeds");
    assert!(fake.object("gitrepositories", NS, "fleet").is_none());
    assert!(fake.object("secrets", NS, "fleet-git-auth").is_none());
    let automation = fake
        .object("imageupdateautomations", NS, "fleet")
        .expect("automation");
    assert_eq!(automation["spec"]["sourceRef"]["name"], "flux-system");
    assert_eq!(automation["spec"]["interval"], "15m");
    assert!(has(
        &update.diagnostics,
        INFO,
        "GitRepository flux-system/fleet: deleted (no longer declared)"
    ));
    assert_eq!(
        state["fleet"].outputs["fluxObjects"]
            .as_array()
            .expect("fluxObjects")
            .len(),
        1
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_name_kubernetes_refuses_is_a_check_failure_in_cluster_mode() {
    let fake = FakeKubeApi::start().await;
    let mut plugin = Plugin::start(&[]).await;
    plugin
        .configure(config(&fake.kubeconfig()))
        .await
        .expect("configure");
    let inputs = json!({
        "git": {
            "url": "https://github.com/example/fleet",
            "commit": {"author": {"email": "flux@example.com"}},
        },
        "policies": [{"namespace": NS, "name": "podinfo", "latestRef": {"name": "x", "tag": "1.0.0"}}],
    });
    let failures = plugin
        .check(
            &Urn::new(AUTOMATION, "fleetAutomation"),
            &json!({}),
            &inputs,
        )
        .await
        .expect("check answers")
        .expect_err("a failure");
    assert_eq!(failures[0].0, "name", "{failures:?}");
    assert!(failures[0].1.contains("set `name`"), "{failures:?}");
    let mut named = inputs.clone();
    named["name"] = json!("fleet-automation");
    plugin
        .check(&Urn::new(AUTOMATION, "fleetAutomation"), &json!({}), &named)
        .await
        .expect("check answers")
        .expect("valid with a Kubernetes name");
    plugin.stop().await;
}

/// The password in the `.dockerconfigjson` of a stored registry Secret.
fn docker_password(fake: &FakeKubeApi, name: &str) -> String {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let secret = fake.object("secrets", NS, name).expect("registry Secret");
    let encoded = secret["data"][".dockerconfigjson"]
        .as_str()
        .expect(".dockerconfigjson");
    let config: Value =
        serde_json::from_slice(&b64.decode(encoded).expect("base64")).expect("JSON");
    let auth = config["auths"]
        .as_object()
        .and_then(|a| a.values().next())
        .expect("one auths entry");
    let pair = b64
        .decode(auth["auth"].as_str().expect("auth"))
        .expect("base64");
    String::from_utf8(pair)
        .expect("utf-8")
        .split_once(':')
        .expect("user:password")
        .1
        .to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rotated_registry_auth_password_reaches_the_cluster_on_the_next_up() {
    let fake = FakeKubeApi::start().await;
    let fleet = Fleet::start();
    let registry = fleet.image.split('/').next().expect("host").to_owned();
    let configured = |password: &str| {
        json!({
            "kubernetes": json!({"kubeconfig": fake.kubeconfig()}).to_string(),
            "registryAuth": json!([{"address": registry, "username": "bot", "password": password}]).to_string(),
        })
    };
    let program: Vec<(Urn, Inputs)> = fleet.program("5m").into_iter().take(1).collect();
    let mut state = StackState::new();
    run_configured(configured("first-Secret-1"), &program, &mut state, false)
        .await
        .result
        .expect("up succeeds");
    assert_eq!(
        docker_password(&fake, "podinfo-registry-auth"),
        "first-Secret-1"
    );

    let rotated = run_configured(configured("second-Secret-2"), &program, &mut state, false).await;
    let steps = rotated.result.expect("up succeeds");
    assert!(matches!(steps[0].1, Step::Update(_)), "{steps:?}");
    assert!(has(
        &rotated.diagnostics,
        WARNING,
        "Secret flux-system/podinfo-registry-auth: differs in the cluster from the declaration"
    ));
    assert_eq!(
        docker_password(&fake, "podinfo-registry-auth"),
        "second-Secret-2"
    );
    assert!(!rotated.text.contains("Secret-1") && !rotated.text.contains("Secret-2"));
}

/// Outputs derived from a value the program marked secret stay secret: a secret `git.url`
/// makes the automation's `fluxObjects` secret (its GitRepository holds the URL), while the
/// other resources' objects, and a token the schema already treats as secret, do not.
#[tokio::test(flavor = "multi_thread")]
async fn flux_objects_derived_from_a_secret_input_are_secret() {
    use imageautomation_proto::codec::{is_secret, secret};
    let fake = FakeKubeApi::start().await;
    let fleet = Fleet::start();
    let git = json!({
        "url": secret(json!(fleet.git.url("fleet"))),
        "auth": {"token": secret(json!(TOKEN))},
        "checkout": {"ref": {"branch": "main"}},
        "commit": {"author": {"name": "Flux Bot", "email": "flux@example.com"}},
        "push": {"branch": "main"},
    });
    let mut state = StackState::new();
    let up = run_program(
        &fake.kubeconfig(),
        &fleet.program_with("1s", json!({"git": git})),
        &mut state,
        false,
    )
    .await;
    up.result.expect("up");
    assert!(is_secret(&state["fleet"].outputs["fluxObjects"]));
    assert!(is_secret(&state["fleet"].outputs["git"]["url"]));
    assert!(!is_secret(&state["podinfo"].outputs["fluxObjects"]));
    assert!(!is_secret(&state["podinfoPolicy"].outputs["latestRef"]));
}
