//! Setters over a synthetic repository: 5,000 YAML files in 50 directories, 200 of which carry
//! two `$imagepolicy` markers each, against the floor of reading every file once (walk + read),
//! measured in the same run.
//!
//! `cargo bench -p imageautomation-update --bench setters`

use std::fs;
use std::hint::black_box;
use std::io::Write as _;
use std::path::Path;

use criterion::{Criterion, criterion_group, criterion_main};
use imageautomation_update::{LatestRef, Mode, Policies, apply_setters};

const FILES: usize = 5_000;
const MARKED_EVERY: usize = 25; // 200 marked files

fn deployment(i: usize, marked: bool) -> String {
    let (image, tag) = if marked {
        (
            format!(
                "registry.example:5000/team/app{}:1.0.0 # {{\"$imagepolicy\": \"flux-system:app{}\"}}",
                i % 7,
                i % 7
            ),
            format!(
                "1.0.0 # {{\"$imagepolicy\": \"flux-system:app{}:tag\"}}",
                i % 7
            ),
        )
    } else {
        (
            format!("registry.example:5000/team/app{}:1.0.0", i % 7),
            "1.0.0".to_owned(),
        )
    };
    format!(
        r#"# Service {i}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: service-{i}
  namespace: team-{ns}
  labels:
    app.kubernetes.io/name: service-{i}
    app.kubernetes.io/part-of: shop
spec:
  replicas: 3
  selector:
    matchLabels:
      app.kubernetes.io/name: service-{i}
  template:
    metadata:
      labels:
        app.kubernetes.io/name: service-{i}
      annotations:
        example.com/version: "{tag_plain}"
    spec:
      containers:
        - name: app
          image: {image}
          args: ["--port=8080", "--log-level=info"]
          ports:
            - containerPort: 8080
              name: http
          resources:
            requests: {{cpu: 100m, memory: 128Mi}}
            limits: {{cpu: "1", memory: 256Mi}}
          env:
            - name: APP_VERSION
              value: {tag}
            - name: GREETING
              value: |
                hello from service {i}
                {greeting}
---
apiVersion: v1
kind: Service
metadata:
  name: service-{i}
spec:
  ports:
    - port: 80
      targetPort: http
"#,
        ns = i % 5,
        tag_plain = "1.0.0",
        // In marked files, text that looks like a marker inside a block scalar (not a marker).
        greeting = if marked {
            "\"$imagepolicy\" appears here only as text"
        } else {
            "no token here"
        },
    )
}

fn build_repo(root: &Path) {
    for i in 0..FILES {
        let dir = root.join(format!("apps/group-{:02}", i % 50));
        fs::create_dir_all(&dir).expect("create dir");
        let marked = i % MARKED_EVERY == 0;
        fs::write(
            dir.join(format!("service-{i:04}.yaml")),
            deployment(i, marked),
        )
        .expect("write");
    }
}

fn policies(tag: &str) -> Policies {
    (0..7)
        .map(|n| {
            (
                format!("flux-system:app{n}"),
                LatestRef {
                    name: format!("registry.example:5000/team/app{n}"),
                    tag: tag.to_owned(),
                    digest: String::new(),
                },
            )
        })
        .collect()
}

/// The floor: walk the tree and read every file once.
fn read_all(root: &Path) -> usize {
    let mut total = 0;
    for entry in walkdir::WalkDir::new(root).sort_by_file_name() {
        let entry = entry.expect("walk");
        if entry.file_type().is_file() {
            total += fs::read(entry.path()).expect("read").len();
        }
    }
    total
}

fn read_all_and_replace_marked(root: &Path) -> usize {
    let mut total = 0;
    for entry in walkdir::WalkDir::new(root).sort_by_file_name() {
        let entry = entry.expect("walk");
        if entry.file_type().is_file() {
            let bytes = fs::read(entry.path()).expect("read");
            total += bytes.len();
            if memchr::memmem::find(&bytes, b"\"$imagepolicy\"").is_some() {
                let dir = entry.path().parent().expect("parent");
                let mut tmp = tempfile::NamedTempFile::new_in(dir).expect("temp file");
                tmp.write_all(&bytes).expect("write");
                tmp.persist(entry.path()).expect("rename");
            }
        }
    }
    total
}

fn bench(c: &mut Criterion) {
    let repo = tempfile::tempdir().expect("tempdir");
    build_repo(repo.path());
    let v2 = policies("2.0.0");
    let v3 = policies("3.0.0");
    let first = apply_setters(repo.path(), ".", &v2, Mode::Write).expect("setters");
    assert_eq!(first.files.len(), FILES / MARKED_EVERY);

    let mut g = c.benchmark_group("setters_5000_files_200_marked");
    g.sample_size(20);
    g.bench_function("floor_read_every_file", |b| {
        b.iter(|| black_box(read_all(repo.path())))
    });
    // The repository is at v2; every iteration moves it to the other version.
    let mut flip = false;
    // A second floor for the writing run: read every file once and replace the 200 marked
    // files atomically (temporary file + rename) with their own contents.
    g.bench_function("floor_read_every_file_and_replace_200", |b| {
        b.iter(|| black_box(read_all_and_replace_marked(repo.path())))
    });
    g.bench_function("setters_write_200_files", |b| {
        b.iter(|| {
            flip = !flip;
            let p = if flip { &v3 } else { &v2 };
            let r = apply_setters(repo.path(), ".", p, Mode::Write).expect("setters");
            assert_eq!(r.files.len(), FILES / MARKED_EVERY);
            black_box(r)
        })
    });
    apply_setters(repo.path(), ".", &v3, Mode::Write).expect("setters");
    g.bench_function("setters_no_change", |b| {
        b.iter(|| {
            let r = apply_setters(repo.path(), ".", &v3, Mode::Write).expect("setters");
            assert!(r.files.is_empty());
            black_box(r)
        })
    });
    g.bench_function("setters_dry_run_with_diffs", |b| {
        b.iter(|| {
            let r = apply_setters(repo.path(), ".", &v2, Mode::DryRun).expect("setters");
            assert_eq!(r.files.len(), FILES / MARKED_EVERY);
            black_box(r)
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
