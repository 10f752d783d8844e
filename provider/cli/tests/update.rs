//! `imageautomation update`, run as the built binary: the contract of README.md.

use std::fs;
use std::path::Path;
use std::process::{Command, Output};

use serde_json::{Value, json};

const DIGEST: &str = "sha256:6745aaad46d795c9836632e1fb62f24b7e7f4c843144da8e47a5465c411a14be";

const DEPLOY: &str = "apiVersion: apps/v1\r\nkind: Deployment\r\nmetadata:\r\n  name: web\r\n  namespace: prod\r\nspec:\r\n  template:\r\n    spec:\r\n      containers:\r\n        - name: web\r\n          image: 'localhost:5000/team/web:1.0.0' # {\"$imagepolicy\": \"flux-system:web\"}\r\n        - name: side\r\n          image: docker.io/side:1.0 # not a marker: {\"$imagepolicy\": \"flux-system:web\"}\r\n";

const KUSTOMIZATION: &str = "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nimages:\n  - name: web\n    newName: localhost:5000/team/web # {\"$imagepolicy\": \"flux-system:web:name\"}\n    newTag: \"1.0.0\" # {\"$imagepolicy\": \"flux-system:web:tag\"}\n    digest: x # {\"$imagepolicy\": \"other-ns:web:digest\"}";

fn repo() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    fs::create_dir_all(dir.path().join("apps")).expect("mkdir");
    fs::write(dir.path().join("apps/deploy.yaml"), DEPLOY).expect("write");
    fs::write(dir.path().join("Kustomization"), KUSTOMIZATION).expect("write");
    fs::write(
        dir.path().join("apps/broken.yml"),
        "a: [x\nb: 1 # {\"$imagepolicy\": \"flux-system:web\"}\n",
    )
    .expect("write");
    fs::write(
        dir.path().join("notes.txt"),
        "x: 1 # {\"$imagepolicy\": \"flux-system:web\"}\n",
    )
    .expect("write");
    dir
}

fn update(path: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_imageautomation"))
        .arg("update")
        .arg("--path")
        .arg(path)
        .args(args)
        .output()
        .expect("run imageautomation")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn policy() -> String {
    format!("flux-system:web=localhost:5000/team/web:1.2.0@{DIGEST}")
}

#[test]
fn rewrites_in_place_and_prints_a_summary() {
    let repo = repo();
    let out = update(repo.path(), &["--policy", &policy()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("updated apps/deploy.yaml"), "{stdout}");
    assert!(stdout.contains("Deployment prod/web"), "{stdout}");
    assert!(
        stdout.contains("1.0.0 -> 1.2.0 (flux-system:web:tag)"),
        "{stdout}"
    );
    assert!(stdout.contains("changed 2 values in 2 files"), "{stdout}");
    assert!(text(&out.stderr).contains("skipped apps/broken.yml: malformed YAML at line 2"));

    let deploy = fs::read_to_string(repo.path().join("apps/deploy.yaml")).expect("read");
    assert_eq!(
        deploy,
        DEPLOY.replace(
            "'localhost:5000/team/web:1.0.0'",
            &format!("'localhost:5000/team/web:1.2.0@{DIGEST}'")
        ),
        "only the marked value changed; CRLF and the quotes kept"
    );
    let kustomization = fs::read_to_string(repo.path().join("Kustomization")).expect("read");
    assert_eq!(
        kustomization,
        KUSTOMIZATION.replace("newTag: \"1.0.0\"", "newTag: \"1.2.0\""),
        "unchanged name, no final newline added, other namespace ignored"
    );
    assert!(
        fs::read_to_string(repo.path().join("apps/broken.yml"))
            .expect("read")
            .contains("a: [x")
    );

    // A second run finds nothing to do and still exits 0.
    let again = update(repo.path(), &["--policy", &policy()]);
    assert_eq!(again.status.code(), Some(0));
    assert!(text(&again.stdout).contains("no changes"));
}

#[test]
fn dry_run_writes_nothing_and_prints_a_unified_diff() {
    let repo = repo();
    let out = update(repo.path(), &["--policy", &policy(), "--dry-run"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let diff = text(&out.stdout);
    assert!(
        diff.contains("--- a/apps/deploy.yaml\n+++ b/apps/deploy.yaml\n"),
        "{diff}"
    );
    assert!(diff.contains("-    newTag: \"1.0.0\""), "{diff}");
    assert!(diff.contains("+    newTag: \"1.2.0\""), "{diff}");
    assert!(text(&out.stderr).contains("would change 2 values in 2 files"));
    assert_eq!(
        fs::read_to_string(repo.path().join("apps/deploy.yaml")).expect("read"),
        DEPLOY
    );
    assert_eq!(
        fs::read_to_string(repo.path().join("Kustomization")).expect("read"),
        KUSTOMIZATION
    );
}

#[test]
fn json_output_has_the_documented_shape() {
    let repo = repo();
    let out = update(
        repo.path(),
        &["--policy", &policy(), "--dry-run", "--output", "json"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    let object = |api: &str, kind: &str, name: &str, ns: &str, changes: Value| json!({"apiVersion": api, "kind": kind, "name": name, "namespace": ns, "changes": changes});
    assert_eq!(
        v,
        json!({
            "files": [
                {"path": "Kustomization", "objects": [object(
                    "kustomize.config.k8s.io/v1beta1", "Kustomization", "", "",
                    json!([{"oldValue": "1.0.0", "newValue": "1.2.0", "setter": "flux-system:web:tag"}])
                )]},
                {"path": "apps/deploy.yaml", "objects": [object(
                    "apps/v1", "Deployment", "web", "prod",
                    json!([{
                        "oldValue": "localhost:5000/team/web:1.0.0",
                        "newValue": format!("localhost:5000/team/web:1.2.0@{DIGEST}"),
                        "setter": "flux-system:web"
                    }])
                )]}
            ],
            "skipped": [{
                "path": "apps/broken.yml",
                "reason": "malformed YAML at line 2 column 2: illegal placement of ':' indicator; fix the YAML or remove the \"$imagepolicy\" marker"
            }]
        })
    );

    // Nothing to change: files is empty.
    let none = update(
        repo.path(),
        &[
            "--policy",
            "flux-system:web=localhost:5000/team/web:1.0.0",
            "--output",
            "json",
        ],
    );
    assert_eq!(none.status.code(), Some(0));
    let v: Value = serde_json::from_slice(&none.stdout).expect("JSON");
    assert_eq!(v["files"], json!([]));
}

#[test]
fn several_policies_after_one_flag_or_repeated() {
    let repo = repo();
    let out = update(
        repo.path(),
        &[
            "--policy",
            "a:b=xy:1",
            &policy(),
            "--policy",
            "other-ns:web=localhost:5000/team/web:9.9.9",
            "--output",
            "json",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let setters: Vec<&str> = v["files"]
        .as_array()
        .expect("files")
        .iter()
        .flat_map(|f| f["objects"][0]["changes"].as_array().expect("changes"))
        .map(|c| c["setter"].as_str().expect("setter"))
        .collect();
    assert_eq!(
        setters,
        [
            "flux-system:web:tag",
            "other-ns:web:digest",
            "flux-system:web"
        ]
    );
}

#[test]
fn invalid_arguments_exit_2_with_a_clear_message() {
    let repo = repo();
    for (args, expect) in [
        (vec!["--policy", "flux-system:web"], "no '='"),
        (vec!["--policy", "web=nginx:1"], "is not NAMESPACE:NAME"),
        (vec!["--policy", "Flux:web=nginx:1"], "namespace \"Flux\""),
        (vec!["--policy", "a:b=nginx"], "no tag"),
        (vec!["--policy", "a:b=nginx:1@sha256:123"], "digest"),
        (
            vec!["--policy", "a:b=xy:1", "--policy", "a:b=xy:2"],
            "given twice",
        ),
        (
            vec!["--policy", "a:b=xy:1", "--output", "yaml"],
            "invalid value 'yaml'",
        ),
        (vec![], "--policy"),
    ] {
        let out = update(repo.path(), &args);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(expect), "{args:?}: {stderr}");
    }
    let out = update(&repo.path().join("missing"), &["--policy", "a:b=xy:1"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("not a directory"));
    // Nothing was touched by any of these.
    assert_eq!(
        fs::read_to_string(repo.path().join("apps/deploy.yaml")).expect("read"),
        DEPLOY
    );
}
