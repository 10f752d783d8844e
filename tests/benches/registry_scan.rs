//! Scan of a 10,000-tag repository on the real local registry, against the floor: one raw HTTP
//! GET of the same tag list (body read, not parsed) on a warm connection, measured in the same
//! run. Then the peak RSS of a 100,000-tag scan, measured in a fresh child process (this same
//! binary, re-run with `IA_BENCH_PEAK_RSS=1`).
//!
//! Run: `cargo bench -p imageautomation-tests --bench registry_scan` (needs the Debian
//! `docker-registry` package, like the tests). Results: `BENCHMARKS.md`.

use std::hint::black_box;
use std::process::Command;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group};
use imageautomation_engine::{ScanRequest, Scheduler};
use imageautomation_registry::{
    ClientOptions, Credentials, ExclusionList, ImageReference, RegistryClient, scan,
};
use imageautomation_tests::registry::{Registry, semver_tags};

const CHILD_ENV: &str = "IA_BENCH_PEAK_RSS";

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

fn ten_thousand(c: &mut Criterion) {
    let registry = Registry::anonymous();
    registry
        .storage()
        .seed_tags("big/ten-k", &semver_tags(10_000));
    let rt = runtime();
    let image = ImageReference::parse(&registry.image("big/ten-k"), true).expect("image");
    let client = RegistryClient::new(&ClientOptions::default()).expect("client");
    let exclusion = ExclusionList::new(None).expect("default");
    let raw = reqwest::Client::new();
    let url = format!("http://{}/v2/big/ten-k/tags/list?n=1000", registry.host());
    let scheduler = Scheduler::default();
    let forced = ScanRequest {
        insecure: true,
        force: true,
        ..ScanRequest::new(registry.image("big/ten-k"))
    };
    // Warm every connection pool and check the data once.
    rt.block_on(async {
        let r = scan(&client, &image, &Credentials::Anonymous, &exclusion)
            .await
            .expect("scan");
        assert_eq!(r.tags.len(), 10_000);
        assert_eq!(
            scheduler.scan(&forced).await.expect("scan").tags.len(),
            10_000
        );
        raw.get(&url)
            .send()
            .await
            .expect("get")
            .bytes()
            .await
            .expect("body");
    });

    let mut group = c.benchmark_group("registry_scan_10k");
    group
        .sample_size(50)
        .measurement_time(Duration::from_secs(8));
    group.bench_function("floor_raw_http_get", |b| {
        b.iter(|| {
            rt.block_on(async {
                let body = raw
                    .get(&url)
                    .send()
                    .await
                    .expect("get")
                    .bytes()
                    .await
                    .expect("body");
                black_box(body.len())
            })
        })
    });
    group.bench_function("registry_scan", |b| {
        b.iter(|| {
            rt.block_on(async {
                let r = scan(&client, &image, &Credentials::Anonymous, &exclusion)
                    .await
                    .expect("scan");
                black_box(r.tags.len())
            })
        })
    });
    group.bench_function("scheduler_forced_scan", |b| {
        b.iter(|| {
            rt.block_on(async {
                let r = scheduler.scan(&forced).await.expect("scan");
                black_box(r.tags.len())
            })
        })
    });
    group.finish();
}

/// VmHWM / VmRSS of this process in KiB.
fn rss_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .expect("/proc/self/status")
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("field")
}

/// In the child: one 100,000-tag scan, then the peak RSS.
fn peak_rss_child(image: &str) {
    let before = rss_kib("VmRSS:");
    let rt = runtime();
    let start = Instant::now();
    let tags = rt.block_on(async {
        let scheduler = Scheduler::default();
        let req = ScanRequest {
            insecure: true,
            ..ScanRequest::new(image)
        };
        scheduler.scan(&req).await.expect("scan").tags.len()
    });
    let elapsed = start.elapsed();
    assert_eq!(tags, 100_000);
    println!(
        "peak_rss_100k: tags={tags} rss_before_kib={before} peak_rss_kib={} scan_ms={}",
        rss_kib("VmHWM:"),
        elapsed.as_millis()
    );
}

fn peak_rss_100k() {
    let registry = Registry::anonymous();
    let seeding = Instant::now();
    registry
        .storage()
        .seed_tags("big/hundred-k", &semver_tags(100_000));
    eprintln!("seeded 100,000 tags in {:?}", seeding.elapsed());
    let out = Command::new(std::env::current_exe().expect("exe"))
        .env(CHILD_ENV, registry.image("big/hundred-k"))
        .output()
        .expect("child");
    assert!(
        out.status.success(),
        "child failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    print!("{}", String::from_utf8_lossy(&out.stdout));
}

criterion_group!(benches, ten_thousand);

fn main() {
    if let Ok(image) = std::env::var(CHILD_ENV) {
        peak_rss_child(&image);
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
    peak_rss_100k();
}
