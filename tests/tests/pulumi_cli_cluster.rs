//! Cluster mode through the real `pulumi` CLI: `examples/cluster` with the
//! kubeconfig as secret stack config (`imageautomation:kubernetes.kubeconfig`,
//! as ESC's `pulumiConfig` would set it), against the real registry, Git over
//! smart HTTP and a real Kubernetes API server with the Flux CRDs
//! (`tests/src/kube_cluster.rs`): `preview` sends only dry-run applies, `up` applies the Flux objects and the Secret, and no
//! secret appears in anything the CLI printed or stored.

use imageautomation_tests::fleet::{Fleet, repo_root};
use imageautomation_tests::kube_cluster;
use imageautomation_tests::pulumi::{PASSPHRASE, Project};

/// `imageautomation:githubToken`: the fleet repository is not on github.com, so no Secret
/// gets it, and it appears nowhere.
const GITHUB_TOKEN: &str = "ghp_cliClusterToken0123456789abcdef";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_example_preview_then_up() {
    let cluster = kube_cluster::shared();
    // The example's objects go to flux-system; this is the only test of this binary.
    let ns = cluster.existing_namespace("flux-system").await;
    let fleet = Fleet::start(&[]);
    let project = Project::copy_of(&repo_root().join("examples/cluster"));
    // The CLI blocks; block_in_place lets the runtime's other worker go on.
    let preview = tokio::task::block_in_place(|| {
        // Not `dev`: Pulumi.dev.yaml imports an ESC environment, which needs Pulumi Cloud.
        project.ok(&["stack", "init", "test", "--non-interactive"]);
        project.set("image", &fleet.image);
        project.set("fleetRepository", &fleet.url());
        project.set_secret("imageautomation:githubToken", GITHUB_TOKEN);
        project.set_secret_path(
            "imageautomation:kubernetes.kubeconfig",
            &cluster.kubeconfig(),
        );
        // Preview: the API server's dry run only, nothing stored, nothing pushed.
        project.ok(&["preview", "--non-interactive"])
    });
    assert!(
        preview
            .stdout
            .contains("ImageUpdateAutomation flux-system/fleet-automation: would be created"),
        "{preview}"
    );
    let calls = ns.calls().await;
    let patches: Vec<_> = calls.iter().filter(|c| c.verb == "patch").collect();
    assert!(!patches.is_empty(), "{preview}");
    assert!(
        patches
            .iter()
            .all(|c| c.query.get("dryRun").map(String::as_str) == Some("All")),
        "{calls:?}"
    );
    assert!(ns.objects().await.is_empty(), "a preview stores nothing");
    assert_eq!(fleet.commits(), 1);

    // Up: the Flux objects are applied, the bump is pushed.
    let up = tokio::task::block_in_place(|| project.ok(&["up", "--yes", "--non-interactive"]));
    for (plural, name) in [
        ("imagerepositories", "podinfo"),
        ("imagepolicies", "podinfo"),
        ("imageupdateautomations", "fleet-automation"),
        ("gitrepositories", "fleet-automation"),
    ] {
        let object = ns.object(plural, name).await;
        assert!(object.is_some(), "{plural}/{name} not applied: {up}");
    }
    let repository = ns
        .object("gitrepositories", "fleet-automation")
        .await
        .expect("applied");
    assert_eq!(repository["spec"]["url"], fleet.url());
    assert_eq!(fleet.commits(), 2, "{up}");
    tokio::task::block_in_place(|| {
        project.ok(&["preview", "--non-interactive", "--expect-no-changes"]);
        for (place, text) in project.everything_written() {
            for secret in [cluster.token(), GITHUB_TOKEN, PASSPHRASE] {
                assert!(!text.contains(secret), "a secret appears in {place}");
            }
        }
    });
}
