//! Golden directories `testdata/golden/<case>/{original,expected}` and `result.json`, compared
//! byte for byte after `apply_setters` with `testdata/golden/policies.json`.
//!
//! Refresh with `UPDATE_GOLDEN=1 cargo test -p imageautomation-update --test golden`, then review
//! the diff before committing.

mod support;

use std::fs;
use std::path::Path;

use imageautomation_update::{Mode, Policies, apply_setters};
use support::{copy_tree, read_tree, testdata};

fn run_case(name: &str) {
    let case = testdata().join("golden").join(name);
    let policies: Policies = serde_json::from_str(
        &fs::read_to_string(testdata().join("golden/policies.json")).expect("policies.json"),
    )
    .expect("policies.json is a map of namespace:name to latestRef");
    let work = tempfile::tempdir().expect("tempdir");
    copy_tree(&case.join("original"), work.path());

    // A dry run first: it must compute the same result and write nothing.
    let before = read_tree(work.path());
    let dry = apply_setters(work.path(), ".", &policies, Mode::DryRun).expect("dry run");
    assert_eq!(
        read_tree(work.path()),
        before,
        "{name}: the dry run wrote something"
    );

    let result = apply_setters(work.path(), ".", &policies, Mode::Write).expect("setters run");
    let json = serde_json::to_string_pretty(&result).expect("serialise") + "\n";
    assert_eq!(
        serde_json::to_string(&dry).expect("serialise"),
        serde_json::to_string(&result).expect("serialise"),
        "{name}: dry run and write disagree"
    );

    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        let expected = case.join("expected");
        let _ = fs::remove_dir_all(&expected);
        copy_tree(work.path(), &expected);
        fs::write(case.join("result.json"), &json).expect("write result.json");
        return;
    }
    let want = read_tree(&case.join("expected"));
    let got = read_tree(work.path());
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>(),
        "{name}: files"
    );
    for (rel, contents) in &want {
        assert!(
            &got[rel] == contents,
            "{name}/{rel} differs from the golden file:\n--- got:\n{}\n--- want:\n{}",
            String::from_utf8_lossy(&got[rel]),
            String::from_utf8_lossy(contents)
        );
    }
    let want_json = fs::read_to_string(case.join("result.json")).expect("result.json");
    assert_eq!(json, want_json, "{name}: result.json");

    // A second run has nothing left to do.
    let again = apply_setters(work.path(), ".", &policies, Mode::Write).expect("second run");
    assert!(
        again.files.is_empty(),
        "{name}: second run changed {:?}",
        again.files
    );
    assert_eq!(read_tree(work.path()), got);
}

#[test]
fn crlf_no_final_newline() {
    run_case("crlf-no-final-newline");
}

#[test]
fn quoting() {
    run_case("quoting");
}

#[test]
fn multi_document() {
    run_case("multi-document");
}

#[test]
fn head_comment() {
    run_case("head-comment");
}

#[test]
fn not_markers() {
    run_case("not-markers");
}

#[test]
fn helm_values() {
    run_case("helm-values");
}

/// The cases the differential tests against Flux found (`tests/differential.rs`): marked block
/// scalars, comments in flow collections and between sequence items, kyaml's `$ref` markers,
/// and two Flux bugs not copied.
#[test]
fn found_by_flux_diff() {
    run_case("found-by-flux-diff");
}

#[test]
fn every_case_is_run() {
    let mut cases: Vec<String> = fs::read_dir(testdata().join("golden"))
        .expect("golden dir")
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    cases.sort();
    let this = fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden.rs"))
        .expect("this file");
    for c in cases {
        assert!(
            this.contains(&format!("run_case(\"{c}\")")),
            "golden case {c} is not run"
        );
    }
}
