//! Benchmarks of the write-back, each against a baseline measured in the same
//! run (ratios go to BENCHMARKS.md):
//!
//! - `message_template`: Flux's ResultV2 commit message template over 200
//!   changed files, against the same text produced by hand-written `write!`
//!   calls (the floor for producing that message).
//! - `write_back`: `commit_and_push` of one image bump in a 1,000-file
//!   repository served as `file://`, against the `git` CLI doing the same work
//!   (`clone --depth 1 --single-branch`, edit, `commit -a`, `push`).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;

use criterion::{Criterion, criterion_group, criterion_main};
use imageautomation_git::{
    Auth, Change, ChangeSet, CheckoutRef, CommitAuthor, MessageTemplate, NamespacedName,
    ObjectChanges, ObjectIdentifier, PUSH_RETRY, TemplateData, WriteBackSpec, commit_and_push,
};

const TEMPLATE: &str = "Commit summary with ResultV2\n\nAutomation: {{ .AutomationObject }}\n\n{{ range $filename, $objchange := .Changed.FileChanges -}}\n- File: {{ $filename }}\n{{- range $obj, $changes := $objchange }}\n  - Object: {{ $obj.Kind }}/{{ $obj.Namespace }}/{{ $obj.Name }}\n    Changes:\n{{- range $_ , $change := $changes }}\n    - {{ $change.OldValue }} -> {{ $change.NewValue }}\n{{ end -}}\n{{ end -}}\n{{ end -}}\n";

fn data(files: usize) -> TemplateData {
    let mut changed = ChangeSet::default();
    for i in 0..files {
        changed.file_changes.insert(
            format!("apps/app-{i:04}/deployment.yaml"),
            vec![ObjectChanges {
                object: ObjectIdentifier {
                    api_version: "apps/v1".into(),
                    kind: "Deployment".into(),
                    name: format!("app-{i:04}"),
                    namespace: "default".into(),
                },
                changes: vec![Change {
                    old_value: format!("ghcr.io/org/app-{i:04}:1.0.0"),
                    new_value: format!("ghcr.io/org/app-{i:04}:1.0.1"),
                    setter: format!("flux-system:app-{i:04}"),
                }],
            }],
        );
    }
    TemplateData {
        automation_object: NamespacedName {
            namespace: "flux-system".into(),
            name: "apps".into(),
        },
        changed,
        values: BTreeMap::new(),
    }
}

fn by_hand(d: &TemplateData) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "Commit summary with ResultV2\n\nAutomation: {}\n\n",
        d.automation_object
    );
    for (file, objects) in &d.changed.file_changes {
        let _ = write!(out, "- File: {file}");
        for o in objects {
            let _ = write!(
                out,
                "\n  - Object: {}/{}/{}\n    Changes:",
                o.object.kind, o.object.namespace, o.object.name
            );
            for c in &o.changes {
                let _ = writeln!(out, "\n    - {} -> {}", c.old_value, c.new_value);
            }
        }
    }
    out
}

fn bench_template(c: &mut Criterion) {
    let d = data(200);
    let t = MessageTemplate::commit_message(Some(TEMPLATE)).expect("parse");
    assert_eq!(t.render(&d).expect("render"), by_hand(&d), "same text");
    let mut g = c.benchmark_group("message_template");
    g.bench_function("baseline_write", |b| b.iter(|| by_hand(&d)));
    g.bench_function("gotmpl_render", |b| {
        b.iter(|| t.render(&d).expect("render"))
    });
    g.finish();
}

fn git(dir: &Path, args: &[&str]) {
    let ok = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "b")
        .env("GIT_AUTHOR_EMAIL", "b@example.com")
        .env("GIT_COMMITTER_NAME", "b")
        .env("GIT_COMMITTER_EMAIL", "b@example.com")
        .output()
        .expect("git")
        .status
        .success();
    assert!(ok, "git {args:?}");
}

/// Flips the marked image between two versions, so every run has a change.
fn flip(root: &Path) -> std::io::Result<ChangeSet> {
    let p = root.join("deploy.yaml");
    let text = std::fs::read_to_string(&p)?;
    let (old, new) = if text.contains("app:1.0.0") {
        ("app:1.0.0", "app:1.0.1")
    } else {
        ("app:1.0.1", "app:1.0.0")
    };
    std::fs::write(&p, text.replace(old, new))?;
    let mut changes = ChangeSet::default();
    changes.file_changes.insert(
        "deploy.yaml".into(),
        vec![ObjectChanges {
            object: ObjectIdentifier::default(),
            changes: vec![Change {
                old_value: old.into(),
                new_value: new.into(),
                setter: "ns:app".into(),
            }],
        }],
    );
    Ok(changes)
}

fn bench_write_back(c: &mut Criterion) {
    let dir = tempfile::TempDir::new().expect("tempdir");
    let bare = dir.path().join("repo.git");
    let seed = dir.path().join("seed");
    std::fs::create_dir_all(&bare).expect("mkdir");
    std::fs::create_dir_all(seed.join("apps")).expect("mkdir");
    git(&bare, &["init", "-q", "--bare", "-b", "main"]);
    for i in 0..1000 {
        std::fs::write(
            seed.join(format!("apps/app-{i:04}.yaml")),
            format!(
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app-{i:04}\ndata:\n  k: v\n"
            ),
        )
        .expect("write");
    }
    std::fs::write(
        seed.join("deploy.yaml"),
        "image: app:1.0.0 # {\"$imagepolicy\": \"ns:app\"}\n",
    )
    .expect("write");
    let url = format!("file://{}", bare.display());
    git(&seed, &["init", "-q", "-b", "main"]);
    git(&seed, &["add", "-A"]);
    git(&seed, &["commit", "-q", "-m", "seed"]);
    git(&seed, &["push", "-q", &url, "main"]);

    let spec = WriteBackSpec {
        url: url.clone(),
        auth: Auth::default(),
        checkout: CheckoutRef::Branch("main".into()),
        push_branch: None,
        push_refspec: None,
        push_options: BTreeMap::new(),
        author: CommitAuthor {
            name: "Bench".into(),
            email: "bench@example.com".into(),
        },
        message_template: None,
        message_template_values: BTreeMap::new(),
        signing_key: None,
        automation_object: NamespacedName::default(),
        retry: PUSH_RETRY,
        shallow: true,
        find_earlier_push: false,
    };
    let mut g = c.benchmark_group("write_back");
    g.sample_size(10);
    g.bench_function("baseline_git_cli", |b| {
        b.iter(|| {
            let work = tempfile::TempDir::new().expect("tempdir");
            let w = work.path();
            git(
                w,
                &[
                    "clone",
                    "-q",
                    "--depth",
                    "1",
                    "--single-branch",
                    "-b",
                    "main",
                    &url,
                    ".",
                ],
            );
            flip(w).expect("flip");
            git(w, &["commit", "-q", "-a", "-m", "bump"]);
            git(w, &["push", "-q", "origin", "main"]);
        })
    });
    g.bench_function("commit_and_push", |b| {
        b.iter(|| {
            let r = commit_and_push(&spec, flip).expect("write-back");
            assert!(r.push.is_some());
        })
    });
    g.finish();
}

criterion_group!(benches, bench_template, bench_write_back);
criterion_main!(benches);
