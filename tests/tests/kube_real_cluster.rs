//! The applier's lifecycle against a REAL cluster (kind, k3s, ...), ignored by
//! default because no Kubernetes API server runs on the test machines; the
//! same steps run against the fake in `kube_lifecycle.rs`.
//!
//! ```text
//! kind create cluster                       # or k3s: export KUBECONFIG=/etc/rancher/k3s/k3s.yaml
//! kubectl apply -f tests/fixtures/flux-crds/
//! kubectl create namespace imageautomation-e2e
//! cargo test -p imageautomation-tests --test kube_real_cluster -- --ignored
//! ```
//!
//! It uses `KUBECONFIG` (else `~/.kube/config`) and its current context, and
//! the namespace `IMAGEAUTOMATION_KUBE_NAMESPACE` (default
//! `imageautomation-e2e`). Use a cluster with the CRDs but without the Flux
//! controllers: their finalizers would delay deletion.

use imageautomation_kube::{
    Applier, ApplyMode, Change, ClusterConfig, DeleteOutcome, Kind, LiveState, SecretsMode,
    render_image_repository,
};
use imageautomation_tests::kube_samples;

#[tokio::test]
#[ignore = "needs a real cluster: KUBECONFIG, the Flux CRDs and the namespace (see the module doc)"]
async fn lifecycle_against_a_real_cluster() {
    let ns = std::env::var("IMAGEAUTOMATION_KUBE_NAMESPACE")
        .unwrap_or_else(|_| "imageautomation-e2e".to_owned());
    let applier = Applier::connect(&ClusterConfig::default())
        .await
        .expect("KUBECONFIG or ~/.kube/config");
    let all = kube_samples::all(&ns, SecretsMode::Include);
    applier.delete_all(&all).await.expect("clean slate");

    let preview = applier
        .apply_all(&all, ApplyMode::DryRun)
        .await
        .expect("dry run");
    assert!(preview.iter().all(|o| o.change == Change::Created));
    for m in &all {
        assert_eq!(
            applier.read(m).await.expect("read"),
            LiveState::Deleted,
            "dry run stored {}",
            m.key()
        );
    }
    let created = applier
        .apply_all(&all, ApplyMode::Apply)
        .await
        .expect("create");
    assert!(created.iter().all(|o| o.change == Change::Created));
    let again = applier
        .apply_all(&all, ApplyMode::Apply)
        .await
        .expect("no-op");
    assert!(
        again.iter().all(|o| o.change == Change::Unchanged),
        "{again:?}"
    );
    for m in &all {
        assert_eq!(
            applier.read(m).await.expect("read"),
            LiveState::InSync,
            "{}",
            m.key()
        );
    }
    let mut input = kube_samples::repository(&ns);
    input.interval = Some("10m".into());
    let repo = render_image_repository(&input, SecretsMode::Include)
        .expect("renders")
        .into_iter()
        .find(|m| m.key().kind == Kind::ImageRepository)
        .expect("repository");
    let out = applier
        .apply(&repo, ApplyMode::Apply)
        .await
        .expect("update");
    assert!(
        matches!(&out.change, Change::Updated { fields } if fields.contains(&".spec.interval".to_owned())),
        "{out:?}"
    );
    let deleted = applier.delete_all(&all).await.expect("delete");
    assert!(deleted.iter().all(|(_, o)| *o == DeleteOutcome::Deleted));
    let gone = applier.delete_all(&all).await.expect("delete again");
    assert!(gone.iter().all(|(_, o)| *o == DeleteOutcome::AlreadyGone));
}
