//! The plugin as the engine uses it, against baselines measured in the same run:
//!
//! - start: spawning the plugin until it prints its port, against spawning
//!   `/bin/echo` until it prints a line (the floor of starting any process);
//! - preview: a preview of a new stack with 50 ImageRepositories and 50
//!   ImagePolicies (one plugin process, Check and Create(preview) for each, the
//!   registry scanned for real), against 50 raw HTTP GETs of the same tag lists
//!   (the network floor of any preview).
//!
//! Run: `cargo build --release -p pulumi-resource-imageautomation && cargo bench -p
//! imageautomation-tests --bench plugin` (needs the Debian `docker-registry` package, like the
//! tests). Results: `BENCHMARKS.md`.

use std::hint::black_box;
use std::process::Stdio;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use imageautomation_tests::engine::{Inputs, Plugin, StackState, Urn, plugin_binary};
use imageautomation_tests::registry::{Registry, semver_tags};
use serde_json::json;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

const REPOSITORIES: usize = 50;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// Spawns `program` and returns once it printed its first line.
async fn first_line(program: &std::path::Path, args: &[&str]) {
    let mut child = Command::new(program)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .await
        .expect("read");
    assert!(!line.is_empty());
    let _ = child.kill().await;
}

fn start(c: &mut Criterion) {
    let rt = runtime();
    let plugin = plugin_binary();
    let echo = std::path::PathBuf::from("/bin/echo");
    let mut group = c.benchmark_group("plugin_start");
    group.sample_size(30);
    group.bench_function("baseline_echo", |b| {
        b.iter(|| rt.block_on(first_line(&echo, &["1"])))
    });
    group.bench_function("start_to_port", |b| {
        b.iter(|| rt.block_on(first_line(&plugin, &["127.0.0.1:1"])))
    });
    group.finish();
}

fn program(registry: &Registry) -> Vec<(Urn, Inputs)> {
    let mut program: Vec<(Urn, Inputs)> = Vec::new();
    for i in 0..REPOSITORIES {
        let image = registry.image(&format!("app{i}"));
        let repo = format!("repo{i}");
        program.push((
            Urn::new("imageautomation:index:ImageRepository", &repo),
            Box::new(move |_: &StackState| json!({"image": image})),
        ));
        program.push((
            Urn::new("imageautomation:index:ImagePolicy", &format!("policy{i}")),
            Box::new(move |s: &StackState| {
                json!({
                    "imageRepositoryRef": s[&repo].outputs["imageRepositoryRef"],
                    "policy": {"semver": {"range": ">=0.0.0"}},
                })
            }),
        ));
    }
    program
}

fn preview(c: &mut Criterion) {
    let registry = Registry::anonymous();
    let storage = registry.storage();
    for i in 0..REPOSITORIES {
        storage.seed_tags(&format!("app{i}"), &semver_tags(200));
    }
    let rt = runtime();
    let program = program(&registry);
    let raw = reqwest::Client::new();
    let urls: Vec<String> = (0..REPOSITORIES)
        .map(|i| format!("http://{}/v2/app{i}/tags/list?n=1000", registry.host()))
        .collect();
    let mut group = c.benchmark_group("preview_50");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(20));
    group.bench_function("baseline_50_raw_gets", |b| {
        b.iter(|| {
            rt.block_on(async {
                for url in &urls {
                    let body = raw
                        .get(url)
                        .send()
                        .await
                        .expect("get")
                        .bytes()
                        .await
                        .expect("body");
                    black_box(body);
                }
            })
        })
    });
    group.bench_function("preview_new_stack", |b| {
        b.iter(|| {
            rt.block_on(async {
                let mut plugin = Plugin::start(&[]).await;
                plugin.configure(json!({})).await.expect("configure");
                let mut state = StackState::new();
                plugin
                    .deploy(&program, &mut state, true)
                    .await
                    .expect("preview");
                assert_eq!(state.len(), 2 * REPOSITORIES);
                plugin.stop().await;
            })
        })
    });
    group.finish();
}

criterion_group!(benches, start, preview);
criterion_main!(benches);
