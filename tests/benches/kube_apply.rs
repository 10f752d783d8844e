//! A preview's cluster work for a stack of 50 ImageRepositories, 50 ImagePolicies and one
//! UpdateAutomation (103 objects with the GitRepository and its Secret): `apply_all` with
//! `DryRun` when nothing changed, i.e. one GET and one server-side apply PATCH per object,
//! against the floor measured in the same run: the same number of raw HTTP GETs of the same
//! objects (reqwest, warm connection), so the ratio is the applier's own cost (kube-rs client,
//! serialisation, diffing) over bare round trips to the same REAL `kube-apiserver`
//! (`scripts/test-cluster.sh`, in a namespace of its own). Also the render time of the 103
//! objects against serialising them to JSON.
//!
//! Run: `cargo bench -p imageautomation-tests --bench kube_apply`. Results: `BENCHMARKS.md`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use imageautomation_kube::{
    Applier, ApplyMode, Change, ClusterConfig, Kind, Manifest, ObjectRef, SecretsMode,
    render_image_policy, render_image_repository, render_update_automation,
};
use imageautomation_tests::kube_cluster;
use imageautomation_tests::kube_samples;
use secrecy::SecretString;

fn render_stack(namespace: &str) -> Vec<Manifest> {
    let mut out = Vec::new();
    let mut policies = Vec::new();
    for i in 0..50 {
        let mut repo = kube_samples::repository(namespace);
        repo.name = format!("app-{i}");
        repo.credentials = None;
        repo.certificate = None;
        out.extend(render_image_repository(&repo, SecretsMode::Include).expect("renders"));
        let mut policy = kube_samples::policy(namespace);
        policy.name = format!("app-{i}");
        policy.image_repository_ref = ObjectRef {
            namespace: None,
            name: format!("app-{i}"),
        };
        out.push(render_image_policy(&policy).expect("renders"));
        policies.push(ObjectRef {
            namespace: None,
            name: format!("app-{i}"),
        });
    }
    let mut automation = kube_samples::automation(namespace);
    automation.policies = policies;
    out.extend(render_update_automation(&automation, SecretsMode::Include).expect("renders"));
    out
}

fn path(m: &Manifest) -> String {
    let k = m.key();
    match k.kind {
        Kind::Secret => format!("/api/v1/namespaces/{}/secrets/{}", k.namespace, k.name),
        kind => format!(
            "/apis/{}/{}/namespaces/{}/{}/{}",
            kind.group(),
            kind.version(),
            k.namespace,
            kind.plural(),
            k.name
        ),
    }
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let cluster = kube_cluster::shared();
    let namespace = rt.block_on(cluster.namespace("bench"));
    let manifests = render_stack(namespace.name());
    assert_eq!(manifests.len(), 103);
    let applier = rt.block_on(async {
        let applier = Applier::connect(&ClusterConfig {
            kubeconfig: Some(SecretString::from(cluster.kubeconfig())),
            context: None,
        })
        .await
        .expect("connects");
        applier
            .apply_all(&manifests, ApplyMode::Apply)
            .await
            .expect("create");
        applier
    });
    let ca = reqwest::Certificate::from_pem(&cluster.ca_certificate()).expect("CA");
    let raw = reqwest::Client::builder()
        .tls_certs_only([ca])
        .build()
        .expect("client");
    let urls: Vec<String> = manifests
        .iter()
        .map(|m| format!("{}{}", cluster.server(), path(m)))
        .collect();

    let mut group = c.benchmark_group("kube_preview_103_objects");
    group.sample_size(20);
    group.measurement_time(Duration::from_secs(10));
    group.bench_function("floor: 206 raw GETs", |b| {
        b.iter(|| {
            rt.block_on(async {
                for _ in 0..2 {
                    for url in &urls {
                        let body = raw
                            .get(url)
                            .bearer_auth(cluster.token())
                            .send()
                            .await
                            .and_then(reqwest::Response::error_for_status)
                            .expect("get")
                            .bytes()
                            .await
                            .expect("body");
                        black_box(body);
                    }
                }
            })
        })
    });
    group.bench_function("apply_all DryRun, no change", |b| {
        b.iter(|| {
            let out = rt
                .block_on(applier.apply_all(&manifests, ApplyMode::DryRun))
                .expect("dry run");
            assert!(out.iter().all(|o| o.change == Change::Unchanged));
            black_box(out);
        })
    });
    group.finish();

    let mut group = c.benchmark_group("kube_render_103_objects");
    group.bench_function("floor: serde_json::to_vec of the 103 bodies", |b| {
        b.iter(|| {
            for m in &manifests {
                black_box(serde_json::to_vec(m.expose_body()).expect("JSON"));
            }
        })
    });
    group.bench_function("render", |b| {
        b.iter(|| black_box(render_stack(namespace.name())))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
