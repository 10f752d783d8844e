//! The applier's lifecycle against a REAL Kubernetes API server
//! (`imageautomation_tests::kube_cluster`: kube-apiserver and etcd on
//! loopback, with the Flux CRDs): create, no-op, update, dry run, conflict
//! with another field manager, drift, delete and delete-when-gone, a missing
//! CRD or namespace, and wrong, expired and unreachable credentials. Each test
//! works in a namespace of its own and connects through a kubeconfig, as a
//! user's would. What the applier asked for is read from the API server's
//! audit log.

use imageautomation_kube::{
    Applier, ApplyMode, Change, ClusterConfig, DeleteOutcome, Error, FIELD_MANAGER, Kind,
    LiveState, Manifest, SecretsMode, render_image_repository,
};
use imageautomation_tests::kube_cluster::{self, Call, Cluster, Namespace};
use imageautomation_tests::kube_samples::{self, GIT_TOKEN, REGISTRY_PASSWORD};
use secrecy::SecretString;
use serde_json::json;

async fn connect(cluster: &Cluster) -> Applier {
    Applier::connect(&ClusterConfig {
        kubeconfig: Some(SecretString::from(cluster.kubeconfig())),
        context: None,
    })
    .await
    .expect("connects")
}

/// The shared cluster, a namespace of this test's own in it, and an applier.
async fn setup(prefix: &str) -> (Namespace<'static>, Applier) {
    let cluster = kube_cluster::shared();
    (cluster.namespace(prefix).await, connect(cluster).await)
}

fn patches(calls: &[Call]) -> Vec<&Call> {
    calls.iter().filter(|c| c.verb == "patch").collect()
}

fn repository_manifest(ns: &str, interval: &str, timeout: Option<&str>) -> Manifest {
    let mut input = kube_samples::repository(ns);
    input.interval = Some(interval.into());
    input.timeout = timeout.map(str::to_owned);
    render_image_repository(&input, SecretsMode::Include)
        .expect("renders")
        .into_iter()
        .find(|m| m.key().kind == Kind::ImageRepository)
        .expect("ImageRepository")
}

#[tokio::test]
async fn create_then_noop_then_update() {
    let (ns, applier) = setup("create").await;
    let all = kube_samples::all(ns.name(), SecretsMode::Include);

    let created = applier
        .apply_all(&all, ApplyMode::Apply)
        .await
        .expect("create");
    assert!(
        created.iter().all(|o| o.change == Change::Created),
        "{created:?}"
    );
    assert_eq!(ns.objects().await.len(), all.len());
    let calls = ns.calls().await;
    let applied = patches(&calls);
    assert_eq!(applied.len(), all.len());
    for c in &applied {
        assert_eq!(
            c.query.get("fieldManager").map(String::as_str),
            Some(FIELD_MANAGER)
        );
        assert!(!c.query.contains_key("dryRun"), "{c:?}");
        assert_eq!(
            c.query.get("fieldValidation").map(String::as_str),
            Some("Strict")
        );
        assert_ne!(
            c.query.get("force").map(String::as_str),
            Some("true"),
            "never forced"
        );
        assert_eq!(c.code, 201, "{c:?}");
    }
    let repo = ns.object("imagerepositories", "app").await.expect("stored");
    assert_eq!(repo["spec"]["interval"], "5m");
    assert_eq!(
        repo["spec"]["provider"], "generic",
        "CRD default applied by the server"
    );
    assert_eq!(
        repo["metadata"]["managedFields"][0]["manager"],
        FIELD_MANAGER
    );
    assert_eq!(repo["metadata"]["managedFields"][0]["operation"], "Apply");
    let secret = ns
        .object("secrets", "app-registry-auth")
        .await
        .expect("stored");
    assert_eq!(secret["type"], "kubernetes.io/dockerconfigjson");
    // The outcome's live view is redacted.
    let out =
        serde_json::to_string(&created.iter().map(|o| &o.live).collect::<Vec<_>>()).expect("JSON");
    assert!(!out.contains(REGISTRY_PASSWORD) && !out.contains(GIT_TOKEN));

    // No-op: applying the same objects changes nothing. (The real API server may still bump
    // `resourceVersion` on a no-op apply, so the generation is what is compared.)
    let generation = repo["metadata"]["generation"].clone();
    let again = applier
        .apply_all(&all, ApplyMode::Apply)
        .await
        .expect("no-op");
    assert!(
        again.iter().all(|o| o.change == Change::Unchanged),
        "{again:?}"
    );
    let repo = ns.object("imagerepositories", "app").await.expect("stored");
    assert_eq!(repo["metadata"]["generation"], generation);
    assert_eq!(repo["spec"]["interval"], "5m");

    // Update: a changed field, and a field no longer set is removed.
    let out = applier
        .apply(
            &repository_manifest(ns.name(), "10m", None),
            ApplyMode::Apply,
        )
        .await
        .expect("update");
    assert_eq!(
        out.change,
        Change::Updated {
            fields: vec![".spec.interval".into(), ".spec.timeout".into()]
        }
    );
    let repo = ns.object("imagerepositories", "app").await.expect("stored");
    assert_eq!(repo["spec"]["interval"], "10m");
    assert!(repo["spec"].get("timeout").is_none(), "{repo:#}");
    assert_eq!(repo["metadata"]["generation"], 2);
}

#[tokio::test]
async fn dry_run_reports_and_changes_nothing() {
    let (ns, applier) = setup("dry-run").await;
    let all = kube_samples::all(ns.name(), SecretsMode::Include);

    let preview = applier
        .apply_all(&all, ApplyMode::DryRun)
        .await
        .expect("dry run");
    assert!(preview.iter().all(|o| o.change == Change::Created));
    assert!(ns.objects().await.is_empty(), "a dry run stores nothing");
    let calls = ns.calls().await;
    assert!(!patches(&calls).is_empty());
    assert!(
        patches(&calls)
            .iter()
            .all(|c| c.query.get("dryRun").map(String::as_str) == Some("All")),
        "{calls:?}"
    );
    // The server's answer (defaults included) is what a preview shows.
    let repo = preview
        .iter()
        .find(|o| o.key.kind == Kind::ImageRepository)
        .expect("repo");
    assert_eq!(repo.live["spec"]["provider"], "generic");

    applier
        .apply_all(&all, ApplyMode::Apply)
        .await
        .expect("create");
    let out = applier
        .apply(
            &repository_manifest(ns.name(), "1h", Some("1m")),
            ApplyMode::DryRun,
        )
        .await
        .expect("dry run update");
    assert_eq!(
        out.change,
        Change::Updated {
            fields: vec![".spec.interval".into()]
        }
    );
    let repo = ns.object("imagerepositories", "app").await.expect("stored");
    assert_eq!(repo["spec"]["interval"], "5m", "dry run did not persist");
}

#[tokio::test]
async fn conflict_with_another_manager_names_field_and_manager() {
    let (ns, applier) = setup("conflict").await;
    let all = kube_samples::all(ns.name(), SecretsMode::Include);
    applier
        .apply_all(&all, ApplyMode::Apply)
        .await
        .expect("create");

    // Another user changes the interval with `kubectl edit` (an update, not an apply).
    ns.edit(
        "imagerepositories",
        "app",
        &["spec", "interval"],
        json!("1h"),
        "kubectl-edit",
    )
    .await;
    let manifest = repository_manifest(ns.name(), "5m", Some("1m"));
    for mode in [ApplyMode::DryRun, ApplyMode::Apply] {
        let err = applier.apply(&manifest, mode).await.expect_err("conflict");
        let text = err.to_string();
        match &err {
            Error::Conflict {
                object,
                fields,
                managers,
            } => {
                assert_eq!(object, &format!("ImageRepository {}/app", ns.name()));
                assert_eq!(fields, &[".spec.interval"]);
                assert_eq!(managers, &["kubectl-edit"]);
            }
            other => panic!("expected a conflict, got {other:?}"),
        }
        assert!(
            text.contains("\"kubectl-edit\"") && text.contains(".spec.interval"),
            "{text}"
        );
        assert!(!err.is_transient());
    }
    assert_eq!(
        ns.object("imagerepositories", "app").await.expect("stored")["spec"]["interval"],
        "1h",
        "nothing forced"
    );
    // Applying the value the other manager set is no conflict (shared ownership).
    let out = applier
        .apply(
            &repository_manifest(ns.name(), "1h", Some("1m")),
            ApplyMode::Apply,
        )
        .await
        .expect("same value");
    assert_ne!(out.change, Change::Created);
}

#[tokio::test]
async fn drift_is_detected_when_changed_or_deleted_behind_our_back() {
    let (ns, applier) = setup("drift").await;
    let all = kube_samples::all(ns.name(), SecretsMode::Include);
    applier
        .apply_all(&all, ApplyMode::Apply)
        .await
        .expect("create");
    for m in &all {
        assert_eq!(
            applier.read(m).await.expect("read"),
            LiveState::InSync,
            "{}",
            m.key()
        );
    }
    let repo = all
        .iter()
        .find(|m| m.key().kind == Kind::ImageRepository)
        .expect("repo");
    ns.edit(
        "imagerepositories",
        "app",
        &["spec", "suspend"],
        json!(true),
        "kubectl-edit",
    )
    .await;
    assert_eq!(
        applier.read(repo).await.expect("read"),
        LiveState::InSync,
        "added fields are not drift"
    );
    ns.edit(
        "imagerepositories",
        "app",
        &["spec", "interval"],
        json!("1h"),
        "kubectl-edit",
    )
    .await;
    assert_eq!(
        applier.read(repo).await.expect("read"),
        LiveState::Drifted {
            fields: vec![".spec.interval".into()]
        }
    );
    // A Secret's drift names the key, never the value.
    let git_secret = all
        .iter()
        .find(|m| m.key().name == "apps-git-auth")
        .expect("secret");
    ns.edit(
        "secrets",
        "apps-git-auth",
        &["data", "password"],
        json!("b3RoZXI="),
        "kubectl-edit",
    )
    .await;
    let state = applier.read(git_secret).await.expect("read");
    assert_eq!(
        state,
        LiveState::Drifted {
            fields: vec![".data.password".into()]
        }
    );
    assert!(ns.remove("imagepolicies", "app").await);
    let policy = all
        .iter()
        .find(|m| m.key().kind == Kind::ImagePolicy)
        .expect("policy");
    assert_eq!(
        applier.read(policy).await.expect("read"),
        LiveState::Deleted
    );
}

#[tokio::test]
async fn delete_and_delete_when_gone() {
    let (ns, applier) = setup("delete").await;
    let all = kube_samples::all(ns.name(), SecretsMode::Include);
    applier
        .apply_all(&all, ApplyMode::Apply)
        .await
        .expect("create");

    let deleted = applier.delete_all(&all).await.expect("delete");
    assert!(deleted.iter().all(|(_, o)| *o == DeleteOutcome::Deleted));
    // Reverse order: the automation goes before the Secrets it uses.
    assert_eq!(deleted[0].0.kind, Kind::ImageUpdateAutomation);
    assert_eq!(ns.objects().await, Vec::<String>::new());
    let again = applier.delete_all(&all).await.expect("delete again");
    assert!(again.iter().all(|(_, o)| *o == DeleteOutcome::AlreadyGone));
    assert!(
        ns.calls()
            .await
            .iter()
            .any(|c| c.verb == "delete" && c.code == 404)
    );
}

#[tokio::test]
async fn server_validation_failures_are_rejections_not_retries() {
    let (ns, applier) = setup("invalid").await;
    // Built by hand: the renderer itself refuses this input.
    let bad = Manifest::from_body(json!({
        "apiVersion": "image.toolkit.fluxcd.io/v1", "kind": "ImagePolicy",
        "metadata": {"name": "p", "namespace": ns.name()},
        "spec": {"imageRepositoryRef": {"name": "app"}, "policy": {"semver": {"range": ">=1"}},
                 "interval": "5m"}}))
    .expect("manifest");
    let err = applier
        .apply(&bad, ApplyMode::Apply)
        .await
        .expect_err("invalid");
    match &err {
        Error::Rejected {
            code,
            reason,
            message,
            ..
        } => {
            assert_eq!((*code, reason.as_str()), (422, "Invalid"));
            assert!(message.contains("only accepted when"), "{message}");
        }
        other => panic!("expected a rejection, got {other:?}"),
    }
    assert!(!err.is_transient());
    assert!(ns.objects().await.is_empty());
}

#[tokio::test]
async fn kubeconfig_by_path_context_and_token() {
    let cluster = kube_cluster::shared();
    let ns = cluster.namespace("kubeconfig").await;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("config");
    std::fs::write(&path, cluster.kubeconfig()).expect("write kubeconfig");
    let applier = Applier::connect(&ClusterConfig {
        kubeconfig: Some(SecretString::from(path.display().to_string())),
        context: Some("test".into()),
    })
    .await
    .expect("connects by path");
    let m = repository_manifest(ns.name(), "5m", None);
    assert_eq!(applier.read(&m).await.expect("read"), LiveState::Deleted);

    let err = Applier::connect(&ClusterConfig {
        kubeconfig: Some(SecretString::from(path.display().to_string())),
        context: Some("nope".into()),
    })
    .await
    .err()
    .expect("unknown context");
    assert!(matches!(err, Error::Kubeconfig { .. }), "{err}");

    // A wrong token is refused for good (401), and the token is not shown.
    let bad = cluster.kubeconfig().replace(cluster.token(), "wrong-token");
    let applier = Applier::connect(&ClusterConfig {
        kubeconfig: Some(SecretString::from(bad)),
        context: None,
    })
    .await
    .expect("connects");
    let err = applier.read(&m).await.expect_err("401");
    assert!(matches!(err, Error::Rejected { code: 401, .. }), "{err:?}");
    assert!(!format!("{err} {err:?}").contains("wrong-token"));
    assert!(!err.is_transient());
}

#[tokio::test]
async fn an_expired_client_certificate_is_refused_for_good() {
    let cluster = kube_cluster::shared();
    let ns = cluster.namespace("expired").await;
    let applier = Applier::connect(&ClusterConfig {
        kubeconfig: Some(SecretString::from(
            cluster.kubeconfig_with_expired_certificate(),
        )),
        context: None,
    })
    .await
    .expect("connects lazily");
    let err = applier
        .apply(
            &repository_manifest(ns.name(), "5m", None),
            ApplyMode::DryRun,
        )
        .await
        .expect_err("expired");
    // The API server does not reject the TLS handshake: it treats the request as anonymous,
    // which it refuses (401, anonymous auth off for this server, or 403 when on).
    assert!(
        matches!(
            err,
            Error::Rejected {
                code: 401 | 403,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(!err.is_transient());
    assert!(ns.objects().await.is_empty());
}

#[tokio::test]
async fn unreachable_server_is_transient() {
    let port = imageautomation_tests::free_port();
    let kubeconfig = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: http://127.0.0.1:{port}\n\
         contexts:\n- name: c\n  context:\n    cluster: c\n    user: u\ncurrent-context: c\nusers:\n- name: u\n  user:\n    token: t\n"
    );
    let applier = Applier::connect(&ClusterConfig {
        kubeconfig: Some(SecretString::from(kubeconfig)),
        context: None,
    })
    .await
    .expect("connects lazily");
    let err = applier
        .apply(
            &repository_manifest("flux-system", "5m", None),
            ApplyMode::DryRun,
        )
        .await
        .expect_err("nothing listens");
    assert!(matches!(err, Error::Unreachable { .. }), "{err:?}");
    assert!(err.is_transient());
}

/// Runs the child half of [`kubeconfig_falls_back_to_env_then_home`]: only
/// when the parent sets `IMAGEAUTOMATION_KUBE_CHILD`, with the environment
/// under test (setting variables in this multi-threaded process is unsound).
/// The parent names the namespace to read in `IMAGEAUTOMATION_KUBE_CHILD_NS`.
#[tokio::test]
#[ignore = "run by kubeconfig_falls_back_to_env_then_home in a child process"]
async fn child_connects_with_default_config() {
    let Ok(expect) = std::env::var("IMAGEAUTOMATION_KUBE_CHILD") else {
        return;
    };
    let ns = std::env::var("IMAGEAUTOMATION_KUBE_CHILD_NS").expect("namespace");
    let result = Applier::connect(&ClusterConfig::default()).await;
    match expect.as_str() {
        "none" => assert!(
            matches!(result, Err(Error::NoKubeconfig)),
            "{:?}",
            result.err()
        ),
        _ => {
            let applier = result.expect("connects from the environment");
            let state = applier
                .read(&repository_manifest(&ns, "5m", None))
                .await
                .expect("GET reaches the API server");
            assert_eq!(state, LiveState::Deleted);
        }
    }
}

#[tokio::test]
async fn kubeconfig_falls_back_to_env_then_home() {
    let cluster = kube_cluster::shared();
    let ns = cluster.namespace("fallback").await;
    let dir = tempfile::tempdir().expect("tempdir");
    let env_file = dir.path().join("env-config");
    std::fs::write(&env_file, cluster.kubeconfig()).expect("write");
    let home = dir.path().join("home");
    std::fs::create_dir_all(home.join(".kube")).expect("mkdir");
    std::fs::write(home.join(".kube/config"), cluster.kubeconfig()).expect("write");
    let empty_home = dir.path().join("empty-home");
    std::fs::create_dir_all(&empty_home).expect("mkdir");

    let exe = std::env::current_exe().expect("test binary");
    for (case, kubeconfig, home) in [
        ("env", Some(&env_file), &empty_home),
        ("home", None, &home),
        ("none", None, &empty_home),
    ] {
        let mut cmd = tokio::process::Command::new(&exe);
        cmd.args([
            "--exact",
            "child_connects_with_default_config",
            "--ignored",
            "--nocapture",
        ])
        .env("IMAGEAUTOMATION_KUBE_CHILD", case)
        .env("IMAGEAUTOMATION_KUBE_CHILD_NS", ns.name())
        .env("HOME", home)
        .env_remove("KUBECONFIG");
        if let Some(path) = kubeconfig {
            cmd.env("KUBECONFIG", path);
        }
        let out = cmd.output().await.expect("run child");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.contains("1 passed"),
            "case {case}: {stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let gets = ns.calls().await.iter().filter(|c| c.verb == "get").count();
    assert_eq!(gets, 2, "the env and home cases reached the API server");
}

#[tokio::test]
async fn missing_crd_or_namespace_says_what_to_install_or_create() {
    // A cluster of its own: the CRDs are not installed there.
    let bare = Cluster::start_without_crds();
    let applier = connect(&bare).await;
    let err = applier
        .apply(
            &repository_manifest("flux-system", "5m", None),
            ApplyMode::DryRun,
        )
        .await
        .expect_err("no CRD");
    assert!(matches!(err, Error::NotServed { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains("image.toolkit.fluxcd.io/v1 ImageRepository"),
        "{text}"
    );
    assert!(text.contains("image-reflector-controller"), "{text}");
    assert!(!err.is_transient());
    drop(bare);

    let (_, applier) = setup("unused").await;
    let secret = kube_samples::all("no-such-namespace", SecretsMode::Include)
        .into_iter()
        .find(Manifest::is_secret)
        .expect("a Secret");
    let err = applier
        .apply(&secret, ApplyMode::Apply)
        .await
        .expect_err("no namespace");
    let text = err.to_string();
    assert!(
        text.contains("namespace \"no-such-namespace\" does not exist"),
        "{text}"
    );
    assert!(!text.contains(REGISTRY_PASSWORD));
}

#[tokio::test]
async fn update_deletes_objects_the_new_render_no_longer_has() {
    let (ns, applier) = setup("update").await;
    let mut input = kube_samples::automation(ns.name());
    let old = imageautomation_kube::render_update_automation(&input, SecretsMode::Include)
        .expect("renders");
    applier
        .apply_all(&old, ApplyMode::Apply)
        .await
        .expect("create");
    assert!(ns.object("gitrepositories", "apps").await.is_some());

    // The automation now uses an existing GitRepository.
    input.source_ref = Some(imageautomation_kube::ObjectRef {
        namespace: None,
        name: "fleet".into(),
    });
    let new = imageautomation_kube::render_update_automation(&input, SecretsMode::Include)
        .expect("renders");
    applier
        .apply_all(&new, ApplyMode::Apply)
        .await
        .expect("update");
    let removed = imageautomation_kube::removed_objects(&old, &new);
    let names: Vec<String> = removed.iter().map(ToString::to_string).collect();
    assert_eq!(
        names,
        [
            format!("GitRepository {}/apps", ns.name()),
            format!("Secret {}/apps-git-auth", ns.name())
        ]
    );
    for key in &removed {
        assert_eq!(
            applier.delete(key).await.expect("delete"),
            DeleteOutcome::Deleted
        );
    }
    assert!(ns.object("gitrepositories", "apps").await.is_none());
    assert!(ns.object("secrets", "apps-git-auth").await.is_none());
    let states = applier.read_all(&new).await.expect("read");
    assert!(
        states.iter().all(|(_, s)| *s == LiveState::InSync),
        "{states:?}"
    );
    assert_eq!(
        ns.object("imageupdateautomations", "apps")
            .await
            .expect("stored")["spec"]["sourceRef"]["name"],
        "fleet"
    );
}
