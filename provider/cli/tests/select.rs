//! `imageautomation select` as a user runs it: the built binary, each exit
//! code, the JSON output and `--explain`.

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn select(args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_imageautomation"))
        .arg("select")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    // The binary stops before reading stdin when the policy is invalid: a
    // broken pipe here is expected then.
    let _ = child
        .stdin
        .take()
        .expect("stdin is piped")
        .write_all(stdin.as_bytes());
    child.wait_with_output().expect("the binary finishes")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).expect("UTF-8 output")
}

const TAGS: &str = "5.0.0\n\n5.0.3\n5.1.0\n5.0.4-rc.1\nlatest\n";
const SEMVER_50X: &str = r#"{"policy": {"semver": {"range": "5.0.x"}}}"#;

#[test]
fn selects_the_latest_tag_from_stdin() {
    let out = select(&["--policy", SEMVER_50X], TAGS);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "5.0.3\n");
    assert_eq!(text(&out.stderr), "");
}

#[test]
fn reads_a_tags_file_and_a_yaml_spec_from_a_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let tags = dir.path().join("tags.txt");
    std::fs::write(&tags, "main-100-abc\nmain-200-def\nfeature-300-fff\n").expect("write");
    let spec = dir.path().join("policy.yaml");
    std::fs::write(
        &spec,
        "apiVersion: image.toolkit.fluxcd.io/v1\nkind: ImagePolicy\nspec:\n  policy:\n    numerical:\n      order: asc\n  filterTags:\n    pattern: '^main-(?P<ts>[0-9]+)-'\n    extract: '$ts'\n",
    )
    .expect("write");
    let spec_arg = format!("@{}", spec.display());
    let tags_arg = tags.display().to_string();
    let out = select(&["--policy", &spec_arg, "--tags-file", &tags_arg], "");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "main-200-def\n");
}

#[test]
fn exit_1_when_no_tag_is_selected() {
    let out = select(
        &["--policy", r#"{"policy": {"semver": {"range": "6.x"}}}"#],
        TAGS,
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(text(&out.stdout), "");
    assert!(text(&out.stderr).contains("no tag is a version in the range \"6.x\""));

    let out = select(&["--policy", SEMVER_50X], "\n\n");
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("the tag list is empty"));

    let out = select(
        &["--policy", r#"{"policy": {"numerical": {}}}"#],
        "1\n2\nlatest\n",
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("\"latest\""));
}

#[test]
fn exit_2_when_the_policy_is_invalid_naming_the_field() {
    for (spec, field) in [
        (
            r#"{"policy": {"semver": {"range": "*-*"}}}"#,
            "policy.semver.range:",
        ),
        (
            r#"{"policy": {"semver": {"range": ""}}}"#,
            "policy.semver.range:",
        ),
        (
            r#"{"policy": {"alphabetical": {"order": "up"}}}"#,
            "policy.alphabetical.order:",
        ),
        (
            r#"{"policy": {"numerical": {"order": "x"}}}"#,
            "policy.numerical.order:",
        ),
        (r#"{"policy": {}}"#, "policy:"),
        (
            r#"{"policy": {"alphabetical": {}}, "filterTags": {"pattern": "(["}}"#,
            "filterTags.pattern:",
        ),
        ("{policy", "--policy: not valid JSON"),
        ("policy: [", "--policy: not valid YAML"),
    ] {
        let out = select(&["--policy", spec], TAGS);
        assert_eq!(out.status.code(), Some(2), "{spec}");
        let stderr = text(&out.stderr);
        assert!(stderr.contains(field), "{spec}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert_eq!(text(&out.stdout), "");
    }
}

#[test]
fn json_output_lists_candidates_and_rejections() {
    let out = select(&["--policy", SEMVER_50X, "--output", "json"], TAGS);
    assert_eq!(out.status.code(), Some(0));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    assert_eq!(json["tag"], "5.0.3");
    assert_eq!(
        json["candidates"],
        serde_json::json!([{"tag": "5.0.3", "key": "5.0.3"}, {"tag": "5.0.0", "key": "5.0.0"}])
    );
    let reason = |tag: &str| {
        json["rejected"]
            .as_array()
            .expect("rejected list")
            .iter()
            .find(|r| r["tag"] == tag)
            .and_then(|r| r["reason"].as_str())
            .map(str::to_owned)
            .unwrap_or_default()
    };
    assert_eq!(reason("5.1.0"), "outside the range");
    assert!(reason("5.0.4-rc.1").starts_with("prerelease excluded by the range"));
    assert!(reason("latest").starts_with("not three dot-separated parts"));
    assert!(reason("5.0.0").starts_with("lost to a greater tag"));

    let out = select(
        &[
            "--policy",
            r#"{"policy": {"semver": {"range": "9.x"}}}"#,
            "--output",
            "json",
        ],
        TAGS,
    );
    assert_eq!(out.status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    assert_eq!(json["tag"], serde_json::Value::Null);
    assert!(json["error"].as_str().is_some_and(|e| e.contains("9.x")));

    let out = select(&["--policy", "{}", "--output", "json"], TAGS);
    assert_eq!(out.status.code(), Some(2));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    assert_eq!(json["tag"], serde_json::Value::Null);
}

#[test]
fn explain_says_why_each_tag_was_not_picked() {
    let out = select(&["--policy", SEMVER_50X, "--explain"], TAGS);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(text(&out.stdout), "5.0.3\n");
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("selected \"5.0.3\" out of 2 candidates"),
        "{stderr}"
    );
    for line in [
        "5.1.0       outside the range",
        "latest      not three dot-separated parts",
        "5.0.4-rc.1  prerelease excluded by the range",
        "5.0.0       lost to a greater tag: \"5.0.3\"",
    ] {
        assert!(stderr.contains(line), "missing {line:?} in\n{stderr}");
    }
}
