//! Flux's own controllers as the reference (issue #11 §2): the provider and
//! Flux's source-controller, image-reflector-controller and
//! image-automation-controller (built from their Go modules, `tools/flux`) do
//! the same job on the same registry and Git repository, and must agree.
//!
//! 1. `pulumi up` (the real CLI) of `tests/fixtures/flux-reference` in
//!    cluster mode: the provider scans, selects, pushes its bumps to the
//!    branch `provider`, and applies the Flux objects to a real
//!    `kube-apiserver` that has the CRDs of the controllers' releases.
//! 2. The applied ImageUpdateAutomation is pointed at the branch `flux` and
//!    suspended (a second user's edits), and the controllers start: they scan
//!    and select. Once every policy has selected, the automation is resumed
//!    and pushes from the same `main` (resumed earlier, Flux pushes one commit
//!    per policy that becomes ready, as its automation runs on each change).
//! 3. Every Flux `ImageRepository.status.lastScanResult` (`tagCount`,
//!    `revision`, `latestTags`) equals the provider's `lastScanResult`, every
//!    `ImagePolicy.status.latestRef` equals the provider's `latestRef`, and
//!    the two commits change the same files to the same values (compared as
//!    parsed YAML: Flux re-serialises whole files, the provider changes only
//!    the marked bytes), with the same message and author.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use imageautomation_tests::fleet::repo_root;
use imageautomation_tests::git_server::{GitHttpServer, git, seed_repo};
use imageautomation_tests::kube_cluster::{Cluster, Namespace};
use imageautomation_tests::pulumi::{Project, files_under};
use imageautomation_tests::registry::{Registry, semver_tags};
use serde_json::{Value, json};

const TOKEN: &str = "fluxReferenceToken0123456789abcdef";

/// The tags of each repository: edge cases of each policy kind.
fn tags() -> Vec<(&'static str, Vec<String>)> {
    let owned = |tags: &[&str]| tags.iter().map(|t| (*t).to_owned()).collect::<Vec<_>>();
    vec![
        (
            "app-semver",
            // A `v` prefix, a pre-release outside the range, a non-version tag, a
            // signature tag (Flux's default exclusionList drops it from the scan).
            owned(&[
                "sha256-0a1b2c.sig",
                "1.0.0",
                "1.2.0",
                "1.2.3",
                "1.3.0-rc.1",
                "v1.4.0",
                "2.0.0",
                "latest",
            ]),
        ),
        // More than one page of the tags list (the registry's page is 100).
        ("app-many", semver_tags(300)),
        (
            "app-alpha",
            owned(&[
                "2024-01-05-a1b2",
                "2024-03-17-c3d4",
                "2024-03-17-b000",
                "2023-12-31-ffff",
                "RELEASE",
                "2025-01-01-XYZ",
            ]),
        ),
        (
            "app-numeric",
            owned(&[
                "main-1-abc",
                "main-9-def",
                "main-10-aaa",
                "main-007-z",
                "feature-50-x",
                "main-x-bad",
            ]),
        ),
    ]
}

/// The fleet repository's files, `tests/fixtures/flux-reference/fleet` with
/// `REGISTRY` replaced by the registry's host: markers of every form (image,
/// `:name`, `:tag`), several per file and several documents per file, a tag
/// that is already the latest (the policy reflects digests, so it gains one),
/// a marker for a policy the automation does not select, and a marked file
/// outside `update.path`.
fn fleet_files(registry: &str) -> Vec<(String, String)> {
    let root = repo_root().join("tests/fixtures/flux-reference/fleet");
    files_under(&root)
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).expect("fixture");
            let relative = path.strip_prefix(&root).expect("under root");
            (
                relative.to_string_lossy().into_owned(),
                text.replace("REGISTRY", registry),
            )
        })
        .collect()
}

/// A file's YAML documents, parsed.
fn documents(text: &str) -> Vec<Value> {
    use serde::Deserialize as _;
    serde_norway::Deserializer::from_str(text)
        .map(|doc| Value::deserialize(doc).expect("YAML"))
        .collect()
}

/// What one branch's commit over `main` did.
#[derive(Debug)]
struct Commit {
    files: BTreeMap<String, Vec<Value>>,
    message: String,
    author: String,
    parents: usize,
}

fn commit(bare: &Path, branch: &str) -> Commit {
    let names = git(bare, &["diff", "--name-only", "main", branch]);
    let files = names
        .lines()
        .map(|path| {
            let text = git(bare, &["show", &format!("{branch}:{path}")]);
            (path.to_owned(), documents(&text))
        })
        .collect();
    let log = |format: &str| git(bare, &["log", "-1", &format!("--format={format}"), branch]);
    Commit {
        files,
        message: log("%B").trim_end().to_owned(),
        author: log("%an <%ae>").trim().to_owned(),
        parents: git(bare, &["rev-list", &format!("main..{branch}")])
            .lines()
            .count(),
    }
}

/// Polls `ready` every 0.5 s until it gives a value.
async fn wait_for<T, F, Fut>(what: &str, cluster: &Cluster, mut ready: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        if let Some(value) = ready().await {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "{what} not within 180 s.\n--- image-reflector-controller\n{}\n--- image-automation-controller\n{}\n--- source-controller\n{}",
            tail(&cluster.log("image-reflector-controller")),
            tail(&cluster.log("image-automation-controller")),
            tail(&cluster.log("source-controller")),
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

fn tail(log: &str) -> String {
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}

/// The `status` of an object once `field` is set in it.
async fn status_with(ns: &Namespace<'_>, plural: &str, name: &str, field: &str) -> Option<Value> {
    let object = ns.object(plural, name).await?;
    let status = object.get("status")?.clone();
    status.get(field).filter(|v| !v.is_null())?;
    Some(status)
}

fn condition(status: &Value, kind: &str) -> Option<Value> {
    status["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == kind)
        .cloned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_provider_and_fluxs_controllers_agree() {
    let registry = Registry::anonymous();
    for (repository, tags) in tags() {
        registry.storage().seed_tags(repository, &tags);
    }
    let git_server = GitHttpServer::start(&[("x-access-token", TOKEN), ("git", TOKEN)]);
    let bare = git_server.create_repo("fleet");
    let files = fleet_files(&registry.host());
    let files: Vec<(&str, &str)> = files
        .iter()
        .map(|(p, t)| (p.as_str(), t.as_str()))
        .collect();
    seed_repo(&bare, "main", &files, "initial");

    let cluster = Cluster::start_with_flux_crds();
    let ns = cluster.existing_namespace("flux-system").await;

    // 1. The provider: `pulumi up` pushes to `provider` and applies the Flux objects.
    let project = Project::copy_of(&repo_root().join("tests/fixtures/flux-reference"));
    let outputs = tokio::task::block_in_place(|| {
        project.ok(&["stack", "init", "test", "--non-interactive"]);
        project.set("registry", &registry.host());
        project.set("gitUrl", &git_server.url("fleet"));
        project.set_secret("gitToken", TOKEN);
        project.set_secret_path(
            "imageautomation:kubernetes.kubeconfig",
            &cluster.kubeconfig(),
        );
        project.ok(&["up", "--yes", "--non-interactive"]);
        project.outputs()
    });
    let provider = commit(&bare, "provider");
    assert_eq!(provider.parents, 1, "one commit over main: {provider:?}");

    // 2. Flux's automation pushes elsewhere from the same start, once the selections are in.
    let edit = |path: &'static [&'static str], value: Value| {
        ns.edit(
            "imageupdateautomations",
            "fleet",
            path,
            value,
            "kubectl-edit",
        )
    };
    edit(&["spec", "git", "push", "branch"], json!("flux")).await;
    edit(&["spec", "suspend"], json!(true)).await;
    cluster.start_flux_controllers();

    // 3a. Scans: Flux's lastScanResult against the provider's.
    for (repository, _) in tags() {
        let status = wait_for(&format!("{repository}'s scan"), &cluster, || {
            status_with(&ns, "imagerepositories", repository, "lastScanResult")
        })
        .await;
        let flux = &status["lastScanResult"];
        let ours = &outputs["scans"][repository];
        for field in ["tagCount", "revision", "latestTags"] {
            assert_eq!(
                ours[field], flux[field],
                "{repository}: lastScanResult.{field} differs (provider, Flux)"
            );
        }
        assert_eq!(
            status["canonicalImageName"],
            format!("{}/{repository}", registry.host()),
        );
    }

    // 3b. Selections: Flux's latestRef against the provider's.
    for policy in [
        "app-semver",
        "app-many",
        "app-alpha",
        "app-alpha-oldest",
        "app-numeric",
    ] {
        let status = wait_for(&format!("{policy}'s selection"), &cluster, || {
            status_with(&ns, "imagepolicies", policy, "latestRef")
        })
        .await;
        assert_eq!(
            outputs["latestRefs"][policy], status["latestRef"],
            "{policy}: latestRef differs (provider, Flux)"
        );
    }

    // 3c. The source: the provider's GitRepository and Secret work for source-controller.
    let source = wait_for("the GitRepository's artifact", &cluster, || {
        status_with(&ns, "gitrepositories", "fleet", "artifact")
    })
    .await;
    let ready = condition(&source, "Ready").expect("Ready condition");
    assert_eq!(ready["status"], "True", "{source}");

    // 3d. The commits: the same files, the same values, the same message and author.
    edit(&["spec", "suspend"], json!(false)).await;
    let status = wait_for("Flux's push", &cluster, || {
        status_with(&ns, "imageupdateautomations", "fleet", "lastPushCommit")
    })
    .await;
    let flux = commit(&bare, "flux");
    assert_eq!(
        status["lastPushCommit"],
        git(&bare, &["rev-parse", "flux"]).trim()
    );
    assert_eq!(flux.parents, 1, "one commit over main: {flux:?}");
    assert_eq!(
        provider.files.keys().collect::<Vec<_>>(),
        flux.files.keys().collect::<Vec<_>>(),
        "the changed files differ (provider, Flux)"
    );
    for (path, documents) in &provider.files {
        assert_eq!(
            documents, &flux.files[path],
            "{path}: the values differ (provider, Flux)"
        );
    }
    assert_eq!(provider.message, flux.message, "the commit messages differ");
    assert_eq!(provider.author, flux.author, "the authors differ");
    // current.yaml has the latest tag already, and gets its digest.
    assert_eq!(
        provider.files.keys().collect::<Vec<_>>(),
        [
            "clusters/dev/apps/deployment.yaml",
            "clusters/dev/apps/release.yaml",
            "clusters/dev/current.yaml",
            "clusters/dev/jobs.yaml"
        ],
    );
    assert!(
        outputs["latestRefs"]["app-semver"]["digest"]
            .as_str()
            .is_some_and(|d| d.starts_with("sha256:")),
        "{outputs}"
    );
    assert_eq!(
        outputs["lastPushCommit"],
        git(&bare, &["rev-parse", "provider"]).trim()
    );
}
