//! Our ImagePolicy options as a user meets them on the command line: `select --image` with
//! `--minimum-age` and `--platform`, `--downgrade Deny` and `--hold` with `--current`, and
//! `run` over Flux manifests carrying the annotations `imageautomation.pulumi.com/<option>`,
//! against the real registry and Git over smart HTTP.

mod common;

use std::process::{Command, Output, Stdio};

use chrono::{Duration, Utc};
use common::{Fleet, TOKEN, commits};
use imageautomation_tests::git_server::git;
use imageautomation_tests::registry::Registry;
use serde_json::Value;

fn select(args: &[&str], stdin: &str) -> (Output, String, String) {
    use std::io::Write as _;
    let mut child = Command::new(env!("CARGO_BIN_EXE_imageautomation"))
        .arg("select")
        .args(args)
        .env("DOCKER_CONFIG", "/nonexistent")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let _ = child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes());
    let out = child.wait_with_output().expect("the binary finishes");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    (out, stdout, stderr)
}

const SEMVER_50X: &str = r#"{"policy": {"semver": {"range": "5.0.x"}}}"#;

/// `app`: 5.0.3 built 2h ago (linux/amd64 and arm64), 5.0.2 three days ago (amd64 only),
/// 5.0.1 five days ago (amd64 and arm64).
fn dated_registry() -> (Registry, String) {
    let registry = Registry::anonymous();
    let storage = registry.storage();
    let ago = |d: Duration| (Utc::now() - d).to_rfc3339();
    storage.seed_dated_index(
        "app",
        "5.0.3",
        &["amd64", "arm64"],
        &ago(Duration::hours(2)),
        true,
    );
    storage.seed_dated("app", "5.0.2", "amd64", Some(&ago(Duration::days(3))), true);
    storage.seed_dated_index(
        "app",
        "5.0.1",
        &["amd64", "arm64"],
        &ago(Duration::days(5)),
        false,
    );
    let image = registry.image("app");
    (registry, image)
}

#[test]
fn select_walks_the_registry_for_minimum_age_and_platforms_and_explains() {
    let (_registry, image) = dated_registry();
    let (out, stdout, stderr) = select(
        &[
            "--policy",
            SEMVER_50X,
            "--image",
            &image,
            "--minimum-age",
            "24h",
            "--platform",
            "linux/arm64",
            "--explain",
            "--output",
            "json",
        ],
        "",
    );
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let json: Value = serde_json::from_str(&stdout).expect("JSON");
    assert_eq!(json["tag"], "5.0.1");
    assert_eq!(
        json["passedOver"],
        serde_json::json!([
            {"tag": "5.0.3", "reason": "younger than minimumAge 24h: created 2h ago"},
            {"tag": "5.0.2", "reason": "lacks linux/arm64"},
        ])
    );
    // The explanation follows the walk: 5.0.1 first, and nothing "lost to" 5.0.3.
    assert_eq!(json["candidates"][0]["tag"], "5.0.1");
    assert_eq!(json["rejected"], serde_json::json!([]), "{stdout}");
    assert!(!stderr.contains("lost to"), "{stderr}");
    assert!(
        stderr.contains("selected \"5.0.1\" out of 3 candidates"),
        "{stderr}"
    );
    assert!(
        stderr.contains("passed over:\n  5.0.3  younger than minimumAge 24h: created 2h ago"),
        "{stderr}"
    );

    // Without --image there is nowhere to read the metadata from.
    let (out, _, stderr) = select(&["--policy", SEMVER_50X, "--minimum-age", "24h"], "5.0.1\n");
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr.contains("give --image IMAGE"), "{stderr}");
    let (out, _, stderr) = select(&["--policy", SEMVER_50X, "--platform", "arm64"], "5.0.1\n");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr.contains("--platform: \"arm64\" is not a platform"),
        "{stderr}"
    );
}

#[test]
fn select_keeps_the_current_tag_when_held_or_when_the_selection_would_downgrade() {
    let tags = "5.0.0\n5.0.3\n";
    let (out, stdout, stderr) = select(
        &[
            "--policy",
            SEMVER_50X,
            "--downgrade",
            "Deny",
            "--current",
            "5.0.9",
            "--output",
            "json",
            "--explain",
        ],
        tags,
    );
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let json: Value = serde_json::from_str(&stdout).expect("JSON");
    assert_eq!(json["tag"], "5.0.9");
    assert_eq!(json["refused"], "would downgrade 5.0.9 to 5.0.3");
    assert!(stderr.starts_with("kept \"5.0.9\""), "{stderr}");
    // An upgrade is not refused; `Allow` (default) takes the selection as Flux does.
    let (_, stdout, _) = select(
        &[
            "--policy",
            SEMVER_50X,
            "--downgrade",
            "Deny",
            "--current",
            "5.0.1",
        ],
        tags,
    );
    assert_eq!(stdout, "5.0.3\n");
    let (_, stdout, _) = select(&["--policy", SEMVER_50X, "--current", "5.0.9"], tags);
    assert_eq!(stdout, "5.0.3\n");
    let (out, stdout, _) = select(
        &["--policy", SEMVER_50X, "--hold", "--current", "5.0.0"],
        tags,
    );
    assert_eq!((out.status.code(), stdout.as_str()), (Some(0), "5.0.0\n"));
    let (out, _, stderr) = select(&["--policy", SEMVER_50X, "--downgrade", "deny"], tags);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr.contains("use \"Allow\" (default) or \"Deny\""),
        "{stderr}"
    );
}

/// Adds `annotations` to the fleet's ImagePolicy in the checkout the user runs on.
fn annotate(fleet: &Fleet, annotations: &str) {
    let path = fleet.dir().join("podinfo-policy.yaml");
    let text = std::fs::read_to_string(&path).expect("read");
    let text = text.replacen(
        "  namespace: flux-system\n",
        &format!("  namespace: flux-system\n  annotations:\n{annotations}"),
        1,
    );
    std::fs::write(&path, text).expect("write");
}

#[test]
fn run_honours_the_annotations_and_the_flags() {
    let fleet = Fleet::start();
    let storage = fleet.registry.storage();
    let ago = |d: Duration| (Utc::now() - d).to_rfc3339();
    // 5.0.3 is too young; 5.0.1 is old enough.
    storage.seed_dated(
        "stefanprodan/podinfo",
        "5.0.3",
        "amd64",
        Some(&ago(Duration::hours(3))),
        true,
    );
    storage.seed_dated(
        "stefanprodan/podinfo",
        "5.0.1",
        "amd64",
        Some(&ago(Duration::days(2))),
        true,
    );
    annotate(&fleet, "    imageautomation.pulumi.com/minimumAge: 24h\n");
    let (out, stdout, stderr) = fleet.run(&["--dry-run"], Some(TOKEN));
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(
        stdout.contains(&format!(
            "flux-system/podinfo: selected {}:5.0.1",
            fleet.image
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains("passed over 5.0.3: younger than minimumAge 24h: created 3h ago"),
        "{stdout}"
    );
    assert!(
        stdout.contains("5.0.0 => 5.0.1") || stdout.contains(":5.0.1"),
        "{stdout}"
    );

    // --hold: nothing selected, the markers stay.
    let (out, stdout, stderr) =
        fleet.run(&["--dry-run", "--hold", "flux-system/podinfo"], Some(TOKEN));
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("flux-system/podinfo: held: nothing selected"),
        "{stdout}"
    );
    assert!(
        stdout.contains("no change: the markers are up to date"),
        "{stdout}"
    );
    let (out, _, stderr) = fleet.run(&["--dry-run", "--hold", "flux-system/nope"], Some(TOKEN));
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr.contains("--hold flux-system/nope: no ImagePolicy"),
        "{stderr}"
    );

    // A typo in an annotation is an invalid manifest, not silently nothing.
    let policy = fleet.dir().join("podinfo-policy.yaml");
    let text = std::fs::read_to_string(&policy).expect("read");
    std::fs::write(&policy, text.replace("/minimumAge:", "/minimumage:")).expect("write");
    let (out, _, stderr) = fleet.run(&["--dry-run"], Some(TOKEN));
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("unknown option \"minimumage\""), "{stderr}");
}

#[test]
fn run_with_downgrade_deny_keeps_a_file_ahead_of_the_selection() {
    let fleet = Fleet::start();
    // Someone pinned 5.0.4 by hand (not in the registry; the policy selects 5.0.3).
    let work = tempfile::tempdir().expect("tempdir");
    git(
        work.path(),
        &[
            "clone",
            "-q",
            &format!("file://{}", fleet.bare.display()),
            ".",
        ],
    );
    let path = work
        .path()
        .join("clusters/my-cluster/podinfo-deployment.yaml");
    let text = std::fs::read_to_string(&path).expect("read");
    std::fs::write(&path, text.replace("podinfo:5.0.0", "podinfo:5.0.4")).expect("write");
    git(work.path(), &["commit", "-qam", "Pin 5.0.4"]);
    git(work.path(), &["push", "-q", "origin", "main"]);
    let before = commits(&fleet);

    annotate(&fleet, "    imageautomation.pulumi.com/downgrade: Deny\n");
    let (out, stdout, stderr) = fleet.run(&[], Some(TOKEN));
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("kept 5.0.4 of flux-system:podinfo: the selection would downgrade it to 5.0.3 (downgrade: Deny)"),
        "{stdout}"
    );
    assert_eq!(commits(&fleet), before, "nothing committed");
    assert!(fleet.deployment().contains("podinfo:5.0.4"));

    // Flux's behaviour without the annotation: the downgrade is written and pushed.
    let (out, stdout, stderr) =
        common::run_in(&fleet.dir(), &["--downgrade", "Allow"], Some(TOKEN), None);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(
        fleet.deployment().contains("podinfo:5.0.4"),
        "the annotation still denies"
    );
    let policy = fleet.dir().join("podinfo-policy.yaml");
    let text = std::fs::read_to_string(&policy).expect("read");
    std::fs::write(
        &policy,
        text.replace(
            "    imageautomation.pulumi.com/downgrade: Deny\n",
            "    imageautomation.pulumi.com/downgrade: Allow\n",
        ),
    )
    .expect("write");
    let (out, stdout, stderr) = fleet.run(&[], Some(TOKEN));
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert_eq!(commits(&fleet), before + 1);
    assert!(fleet.deployment().contains("podinfo:5.0.3"));
}
