//! Cluster mode (provider config `kubernetes`) driven as the Pulumi engine
//! drives the plugin (tests/src/engine.rs), with the real `docker-registry`
//! and Git over smart HTTP, and a real `kube-apiserver` with the Flux CRDs
//! (`imageautomation_tests::kube_cluster`; each test applies into a namespace
//! of its own, set with the provider config `fluxNamespace`).
//! Preview (`dryRun=All` only), up, preview of an update, update, no-op,
//! drift (deleted and changed objects: refresh warns, the next update
//! re-applies or names the conflicting manager), destroy twice, and an
//! unreachable cluster. One plugin process per operation, as the engine
//! runs them.

use imageautomation_tests::engine::{Inputs, Plugin, StackState, Step, Urn, without_secrets};
use imageautomation_tests::git_server::{GitHttpServer, seed_repo};
use imageautomation_tests::kube_cluster::{self, Call, Namespace};
use imageautomation_tests::registry::Registry;
use serde_json::{Value, json};

const TOKEN: &str = "ghp_clusterSecretToken0123456789";
const REPO: &str = "imageautomation:index:ImageRepository";
const POLICY: &str = "imageautomation:index:ImagePolicy";
const AUTOMATION: &str = "imageautomation:index:UpdateAutomation";

struct Fleet {
    _registry: Registry,
    git: GitHttpServer,
    image: String,
}

impl Fleet {
    /// A registry and a fleet repository whose manifest is marked for the
    /// policy `podinfo` in `namespace`.
    fn start(namespace: &str) -> Fleet {
        let registry = Registry::anonymous();
        registry
            .storage()
            .seed_tags("podinfo", &["5.0.0", "5.0.3", "6.0.0"]);
        let image = registry.image("podinfo");
        let git = GitHttpServer::start(&[("x-access-token", TOKEN)]);
        let bare = git.create_repo("fleet");
        let manifest = format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: podinfo\nspec:\n  template:\n    spec:\n      containers:\n        - name: podinfod\n          image: {image}:5.0.0 # {{\"$imagepolicy\": \"{namespace}:podinfo\"}}\n"
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

/// The stack config as the engine sends it for a default provider (objects
/// as JSON text): the test cluster, Flux objects in the test's namespace.
fn config(ns: &Namespace<'_>) -> Value {
    let kubeconfig = kube_cluster::shared().kubeconfig();
    json!({
        "kubernetes": json!({"kubeconfig": kubeconfig}).to_string(),
        "fluxNamespace": ns.name(),
    })
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
    config: &Value,
    state: &mut StackState,
    interval: &str,
    preview: bool,
) -> Run {
    run_configured(config.clone(), &fleet.program(interval), state, preview).await
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
    calls.iter().filter(|c| c.verb == "patch").collect()
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
        !text.contains(kube_cluster::shared().token()),
        "the kubeconfig token leaked"
    );
}

async fn destroy(config: &Value, state: &StackState) {
    let mut plugin = Plugin::start(&[]).await;
    plugin.configure(config.clone()).await.expect("configure");
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
    let ns = kube_cluster::shared().namespace("provider").await;
    let config = config(&ns);
    let n = ns.name();
    let fleet = Fleet::start(n);
    let mut state = StackState::new();

    // Preview of a new stack: dry runs only, nothing stored.
    let mut copy = state.clone();
    let preview = run(&fleet, &config, &mut copy, "5m", true).await;
    preview.result.expect("preview succeeds");
    let calls = ns.calls().await;
    assert!(!patches(&calls).is_empty());
    assert!(
        patches(&calls)
            .iter()
            .all(|c| c.query.get("dryRun").map(String::as_str) == Some("All")),
        "{calls:?}"
    );
    assert!(ns.objects().await.is_empty(), "a preview persists nothing");
    assert!(has(
        &preview.diagnostics,
        INFO,
        &format!("ImageRepository {n}/podinfo: would be created")
    ));

    // Up: every object applied (the API server validated each against the CRDs).
    let up = run(&fleet, &config, &mut state, "5m", false).await;
    up.result.expect("up succeeds");
    for (plural, name) in [
        ("imagerepositories", "podinfo"),
        ("imagepolicies", "podinfo"),
        ("imageupdateautomations", "fleet"),
        ("gitrepositories", "fleet"),
    ] {
        assert!(ns.object(plural, name).await.is_some(), "{plural}/{name}");
    }
    let automation = ns
        .object("imageupdateautomations", "fleet")
        .await
        .expect("automation");
    assert_eq!(
        automation["spec"]["policySelector"]["matchExpressions"][0]["values"],
        json!(["podinfo"])
    );
    assert_eq!(automation["spec"]["sourceRef"]["name"], "fleet");
    let git_repository = ns.object("gitrepositories", "fleet").await.expect("git");
    assert_eq!(git_repository["spec"]["url"], fleet.git.url("fleet"));
    let secret_name = git_repository["spec"]["secretRef"]["name"]
        .as_str()
        .expect("secretRef")
        .to_owned();
    assert!(ns.object("secrets", &secret_name).await.is_some());
    let policy = ns.object("imagepolicies", "podinfo").await.expect("policy");
    assert_eq!(policy["spec"]["imageRepositoryRef"]["name"], "podinfo");
    assert!(
        patches(&ns.calls().await)
            .iter()
            .any(|c| !c.query.contains_key("dryRun") && c.code == 201)
    );
    assert!(has(
        &up.diagnostics,
        INFO,
        &format!("ImageUpdateAutomation {n}/fleet: created")
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
    let before = ns.calls().await.len();
    let mut copy = state.clone();
    let preview = run(&fleet, &config, &mut copy, "10m", true).await;
    preview.result.expect("preview succeeds");
    let calls = ns.calls().await;
    let new_patches = patches(&calls[before..]);
    assert!(!new_patches.is_empty());
    assert!(
        new_patches
            .iter()
            .all(|c| c.query.get("dryRun").map(String::as_str) == Some("All"))
    );
    let interval = |repo: Option<Value>| repo.expect("repo")["spec"]["interval"].clone();
    assert_eq!(
        interval(ns.object("imagerepositories", "podinfo").await),
        "5m"
    );
    assert!(has(
        &preview.diagnostics,
        INFO,
        &format!("ImageRepository {n}/podinfo: would be updated (.spec.interval)")
    ));

    // Update.
    let update = run(&fleet, &config, &mut state, "10m", false).await;
    update.result.expect("update succeeds");
    assert_eq!(
        interval(ns.object("imagerepositories", "podinfo").await),
        "10m"
    );
    assert!(has(
        &update.diagnostics,
        INFO,
        &format!("ImageRepository {n}/podinfo: updated (.spec.interval)")
    ));

    // No-op: refresh reads (GET), nothing is applied.
    let before = ns.calls().await.len();
    let noop = run(&fleet, &config, &mut state, "10m", false).await;
    let steps = noop.result.expect("no-op succeeds");
    assert!(
        steps.iter().all(|(_, s)| matches!(s, Step::Same)),
        "{steps:?}"
    );
    let calls = ns.calls().await;
    assert!(
        patches(&calls[before..]).is_empty(),
        "{:?}",
        &calls[before..]
    );
    assert!(calls[before..].iter().any(|c| c.verb == "get"));

    // Drift: an object deleted in the cluster is a warning, and re-applied.
    assert!(ns.remove("imagepolicies", "podinfo").await);
    let drift = run(&fleet, &config, &mut state, "10m", false).await;
    let steps = drift.result.expect("the update after drift succeeds");
    assert!(has(
        &drift.diagnostics,
        WARNING,
        &format!("ImagePolicy {n}/podinfo: deleted in the cluster")
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
    assert!(ns.object("imagepolicies", "podinfo").await.is_some());
    assert!(has(
        &drift.diagnostics,
        INFO,
        &format!("ImagePolicy {n}/podinfo: created")
    ));

    // Drift by another field manager (a whole-object PUT, as `kubectl edit`
    // makes it): refresh warns with the field, and the re-apply is a
    // conflict naming the field and the manager (never forced).
    ns.edit(
        "imagerepositories",
        "podinfo",
        &["spec", "interval"],
        json!("1h"),
        "kubectl-edit",
    )
    .await;
    let conflict = run(&fleet, &config, &mut state, "10m", false).await;
    assert!(has(
        &conflict.diagnostics,
        WARNING,
        &format!(
            "ImageRepository {n}/podinfo: differs in the cluster from the declaration (.spec.interval)"
        )
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
    let before = ns.calls().await.len();
    destroy(&config, &state).await;
    assert!(
        ns.objects().await.is_empty(),
        "everything the stack applied is deleted"
    );
    let calls = ns.calls().await;
    let deletes: Vec<_> = calls[before..]
        .iter()
        .filter(|c| c.verb == "delete")
        .collect();
    assert_eq!(deletes.len(), 5, "{deletes:?}");
    assert!(deletes.iter().all(|c| c.code == 200), "{deletes:?}");
    let after = calls.len();
    destroy(&config, &state).await;
    let again = ns.calls().await;
    let deletes: Vec<_> = again[after..]
        .iter()
        .filter(|c| c.verb == "delete")
        .collect();
    assert_eq!(deletes.len(), 5);
    assert!(deletes.iter().all(|c| c.code == 404), "already gone");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_cluster_warns_in_preview_and_fails_up() {
    const GONE_TOKEN: &str = "gone-cluster-token-0123456789";
    let fleet = Fleet::start("flux-system");
    let port = imageautomation_tests::free_port();
    let kubeconfig = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: gone\n  cluster:\n    server: http://127.0.0.1:{port}\ncontexts:\n- name: gone\n  context:\n    cluster: gone\n    user: gone\ncurrent-context: gone\nusers:\n- name: gone\n  user:\n    token: {GONE_TOKEN}\n"
    );
    let config = json!({"kubernetes": json!({"kubeconfig": kubeconfig}).to_string()});
    let mut state = StackState::new();
    let preview = run(&fleet, &config, &mut state.clone(), "5m", true).await;
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
    assert!(!preview.text.contains(GONE_TOKEN));

    let up = run(&fleet, &config, &mut state, "5m", false).await;
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
    let ns = kube_cluster::shared().namespace("provider").await;
    let config = config(&ns);
    let fleet = Fleet::start(ns.name());
    let mut state = StackState::new();
    run(&fleet, &config, &mut state, "5m", false)
        .await
        .result
        .expect("up succeeds");
    assert!(ns.object("gitrepositories", "fleet").await.is_some());
    assert!(ns.object("secrets", "fleet-git-auth").await.is_some());

    let program = fleet.program_with(
        "5m",
        json!({"sourceRef": {"name": "flux-system"}, "interval": "15m"}),
    );
    let update = run_configured(config, &program, &mut state, false).await;
    update.result.expect("update succeeds");
    assert!(ns.object("gitrepositories", "fleet").await.is_none());
    assert!(ns.object("secrets", "fleet-git-auth").await.is_none());
    let automation = ns
        .object("imageupdateautomations", "fleet")
        .await
        .expect("automation");
    assert_eq!(automation["spec"]["sourceRef"]["name"], "flux-system");
    assert_eq!(automation["spec"]["interval"], "15m");
    assert!(has(
        &update.diagnostics,
        INFO,
        &format!(
            "GitRepository {}/fleet: deleted (no longer declared)",
            ns.name()
        )
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
    let ns = kube_cluster::shared().namespace("provider").await;
    let mut plugin = Plugin::start(&[]).await;
    plugin.configure(config(&ns)).await.expect("configure");
    let inputs = json!({
        "git": {
            "url": "https://github.com/example/fleet",
            "commit": {"author": {"email": "flux@example.com"}},
        },
        "policies": [{"namespace": ns.name(), "name": "podinfo", "latestRef": {"name": "x", "tag": "1.0.0"}}],
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
async fn docker_password(ns: &Namespace<'_>, name: &str) -> String {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let secret = ns.object("secrets", name).await.expect("registry Secret");
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
    let ns = kube_cluster::shared().namespace("provider").await;
    let fleet = Fleet::start(ns.name());
    let registry = fleet.image.split('/').next().expect("host").to_owned();
    let configured = |password: &str| {
        let mut config = config(&ns);
        config["registryAuth"] =
            json!([{"address": registry, "username": "bot", "password": password}])
                .to_string()
                .into();
        config
    };
    let program: Vec<(Urn, Inputs)> = fleet.program("5m").into_iter().take(1).collect();
    let mut state = StackState::new();
    run_configured(configured("first-Secret-1"), &program, &mut state, false)
        .await
        .result
        .expect("up succeeds");
    assert_eq!(
        docker_password(&ns, "podinfo-registry-auth").await,
        "first-Secret-1"
    );

    let rotated = run_configured(configured("second-Secret-2"), &program, &mut state, false).await;
    let steps = rotated.result.expect("up succeeds");
    assert!(matches!(steps[0].1, Step::Update(_)), "{steps:?}");
    assert!(has(
        &rotated.diagnostics,
        WARNING,
        &format!(
            "Secret {}/podinfo-registry-auth: differs in the cluster from the declaration",
            ns.name()
        )
    ));
    assert_eq!(
        docker_password(&ns, "podinfo-registry-auth").await,
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
    let ns = kube_cluster::shared().namespace("provider").await;
    let fleet = Fleet::start(ns.name());
    let git = json!({
        "url": secret(json!(fleet.git.url("fleet"))),
        "auth": {"token": secret(json!(TOKEN))},
        "checkout": {"ref": {"branch": "main"}},
        "commit": {"author": {"name": "Flux Bot", "email": "flux@example.com"}},
        "push": {"branch": "main"},
    });
    let mut state = StackState::new();
    let up = run_configured(
        config(&ns),
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
