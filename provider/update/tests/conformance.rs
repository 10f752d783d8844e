//! Flux's setters conformance cases (`testdata/conformance/cases.json`, fixtures from
//! fluxcd/image-automation-controller `d36e2ea07a39`), run against `apply_setters`.
//!
//! Flux re-serialises the files it changes; we change only the marked scalars. So a changed file
//! is compared with Flux's expected file as YAML documents plus "only the marked lines differ",
//! and every other file byte for byte.

mod support;

use std::fs;
use std::path::Path;

use imageautomation_update::{LatestRef, Mode, Policies, apply_setters};
use serde_json::Value;
use support::{assert_rewrite_matches, copy_tree, read_tree, testdata};

fn cases() -> Vec<Value> {
    let text = fs::read_to_string(testdata().join("conformance/cases.json")).expect("cases.json");
    let v: Value = serde_json::from_str(&text).expect("cases.json is JSON");
    v["cases"].as_array().expect("cases").clone()
}

fn case(id: &str) -> Value {
    cases()
        .into_iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("case {id} in cases.json"))
}

fn fixture(dir: &str) -> std::path::PathBuf {
    testdata()
        .join("conformance/upstream/image-automation-controller")
        .join(dir)
}

fn policies(case: &Value) -> Policies {
    case["policies"]
        .as_array()
        .expect("policies")
        .iter()
        .map(|p| {
            let latest: LatestRef =
                serde_json::from_value(p["latestRef"].clone()).expect("latestRef");
            assert_eq!(
                latest.to_string(),
                p["latestImage"].as_str().expect("image")
            );
            (
                format!(
                    "{}:{}",
                    p["namespace"].as_str().expect("ns"),
                    p["name"].as_str().expect("name")
                ),
                latest,
            )
        })
        .collect()
}

/// Copies `dir` to a temporary directory, substituting the marker placeholder when asked.
fn work_copy(dir: &str, marker: Option<&str>) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().expect("tempdir");
    copy_tree(&fixture(dir), tmp.path());
    if let Some(marker) = marker {
        substitute(tmp.path(), marker);
    }
    tmp
}

/// Flux `testutil.ReplaceMarker`: `SETTER_SITE` -> `{"$imagepolicy": "<ns>:<policy>"}`.
fn substitute(root: &Path, marker: &str) {
    for (rel, contents) in read_tree(root) {
        let text = String::from_utf8(contents).expect("utf-8");
        if text.contains("SETTER_SITE") {
            let replaced = text.replace(
                "SETTER_SITE",
                &format!("{{\"$imagepolicy\": \"{marker}\"}}"),
            );
            fs::write(root.join(rel), replaced).expect("write");
        }
    }
}

/// Compares the tree at `ours` (rewritten from `original`) with `expected`.
fn compare_trees(original: &Path, ours: &Path, expected: &Path) {
    let original = read_tree(original);
    let ours = read_tree(ours);
    let expected = read_tree(expected);
    assert_eq!(
        ours.keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>(),
        "not the same files"
    );
    for (rel, exp) in &expected {
        let got = &ours[rel];
        let orig = &original[rel];
        if orig == exp {
            assert_eq!(
                got, exp,
                "{rel}: unchanged upstream, must be byte-identical"
            );
        } else {
            let s = |b: &Vec<u8>| String::from_utf8(b.clone()).expect("utf-8");
            assert_rewrite_matches(rel, &s(orig), &s(got), &s(exp));
        }
    }
}

#[test]
fn update_with_setters() {
    let c = case("update-with-setters");
    let work = work_copy(c["inputDir"].as_str().expect("inputDir"), None);
    let result = apply_setters(work.path(), ".", &policies(&c), Mode::Write).expect("setters run");
    assert!(result.skipped.is_empty(), "{:?}", result.skipped);

    // The result, in Flux's shape: file -> [{object, changes}] with changes in order.
    let expect = c["expectResult"]["fileChanges"]
        .as_object()
        .expect("fileChanges");
    let mut got_paths: Vec<&str> = result.files.iter().map(|f| f.path.as_str()).collect();
    got_paths.sort_unstable();
    let mut want_paths: Vec<&str> = expect.keys().map(String::as_str).collect();
    want_paths.sort_unstable();
    assert_eq!(got_paths, want_paths);
    for file in &result.files {
        let got = serde_json::to_value(&file.objects).expect("serialise");
        let want: Vec<Value> = expect[&file.path]
            .as_array()
            .expect("objects")
            .iter()
            .map(|o| {
                let mut m = o["object"].as_object().expect("object").clone();
                m.insert("changes".into(), o["changes"].clone());
                Value::Object(m)
            })
            .collect();
        assert_eq!(got, Value::Array(want), "{}", file.path);
    }

    // The files: Flux writes only the changed ones into an empty output directory; every
    // other file must be byte-identical to the original here.
    let original = fixture(c["inputDir"].as_str().expect("inputDir"));
    let expected = fixture(c["expectedOutputDir"].as_str().expect("expected"));
    let orig = read_tree(&original);
    let ours = read_tree(work.path());
    assert_eq!(
        orig.keys().collect::<Vec<_>>(),
        ours.keys().collect::<Vec<_>>()
    );
    assert_eq!(
        ours["test.yaml"], b"-> testing.yaml",
        "the dangling symlink is kept as is"
    );
    let exp = read_tree(&expected);
    for (rel, contents) in &ours {
        match exp.get(rel) {
            Some(e) => assert_rewrite_matches(
                rel,
                std::str::from_utf8(&orig[rel]).expect("utf-8"),
                std::str::from_utf8(contents).expect("utf-8"),
                std::str::from_utf8(e).expect("utf-8"),
            ),
            None => assert_eq!(contents, &orig[rel], "{rel} must not be rewritten"),
        }
    }
}

/// The applier cases: in place, marker substituted in input and expected trees.
#[test]
fn apply_policies_cases() {
    let mut ran = 0;
    for c in cases() {
        let id = c["id"].as_str().expect("id");
        if !id.starts_with("apply-policies-") || c["expectError"] == true {
            // The two error cases are about the update strategy field, which belongs to the
            // UpdateAutomation resource, not to the setters.
            continue;
        }
        let marker = format!(
            "{}:{}",
            c["automation"]["namespace"].as_str().expect("namespace"),
            c["targetPolicy"].as_str().expect("targetPolicy")
        );
        let input = c["inputDir"].as_str().expect("inputDir");
        let work = work_copy(input, Some(&marker));
        let original = work_copy(input, Some(&marker));
        let expected = work_copy(
            c["expectedOutputDir"].as_str().expect("expected"),
            Some(&marker),
        );
        let path = c["update"]["path"].as_str().unwrap_or(".");
        let result = apply_setters(work.path(), path, &policies(&c), Mode::Write)
            .unwrap_or_else(|e| panic!("{id}: {e}"));
        assert_eq!(result.files.len(), 1, "{id}: {result:?}");
        compare_trees(original.path(), work.path(), expected.path());
        ran += 1;
    }
    assert_eq!(ran, 3, "the three successful applier cases ran");
}

/// Controller "no marker no update": the placeholder comment is not a marker.
#[test]
fn no_marker_no_update() {
    let c = case("controller-no-marker-no-update");
    let mut policies = Policies::new();
    policies.insert(
        "test-ns:policy".into(),
        "helloworld:v1.0.0".parse().expect("reference"),
    );
    let input = c["inputDir"].as_str().expect("inputDir");
    let work = work_copy(input, None);
    let result = apply_setters(work.path(), ".", &policies, Mode::Write).expect("run");
    assert!(result.files.is_empty() && result.skipped.is_empty());
    assert_eq!(read_tree(work.path()), read_tree(&fixture(input)));
}

/// The controller's update-path case: only `yes/` is touched, and the object is `update-yes`.
#[test]
fn controller_update_path() {
    let c = case("controller-update-path");
    let mut policies = Policies::new();
    policies.insert(
        "test-ns:policy-x".into(),
        "helloworld:v1.0.0".parse().expect("reference"),
    );
    let input = c["inputDir"].as_str().expect("inputDir");
    let work = work_copy(input, Some("test-ns:policy-x"));
    let result = apply_setters(work.path(), "./yes", &policies, Mode::Write).expect("run");
    assert_eq!(result.files.len(), 1);
    assert_eq!(result.files[0].path, "deploy.yaml");
    assert_eq!(result.files[0].objects[0].object.name, "update-yes");
    let no = fs::read_to_string(work.path().join("no/deploy.yaml")).expect("read");
    assert!(no.contains("helloworld:1.0.0"));
}
