//! The upstream Flux and Masterminds/semver test vectors (`fixtures/flux/`,
//! provenance in its README), run case for case, and the cases the differential
//! tests against Flux's own code found (`fixtures/differential_cases.json`).

use imageautomation_policy::{
    Constraints, ImagePolicySpec, TagSelector, Version, parse_tag_version,
};
use serde_json::Value;

fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/flux/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).expect("fixture is readable");
    serde_json::from_str(&text).expect("fixture is JSON")
}

fn spec_of(case: &Value) -> ImagePolicySpec {
    let mut spec = serde_json::json!({});
    if !case["policy"].is_null() {
        spec["policy"] = case["policy"].clone();
    }
    if !case["filterTags"].is_null() {
        spec["filterTags"] = case["filterTags"].clone();
    }
    serde_json::from_value(spec).expect("case spec has the ImagePolicy shape")
}

fn tags_of(case: &Value) -> Vec<String> {
    case["tags"]
        .as_array()
        .map(|tags| {
            tags.iter()
                .map(|t| t.as_str().expect("tag").to_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn policy_cases() {
    let cases = fixture("policy_cases.json");
    let mut ran = 0;
    for case in cases.as_array().expect("a list of cases") {
        let id = case["id"].as_str().expect("id");
        let expect_error = case["expectError"].as_bool().expect("expectError");
        match case["kind"].as_str().expect("kind") {
            "construct" => {
                let result = TagSelector::new(&spec_of(case));
                assert_eq!(result.is_err(), expect_error, "{id}: {result:?}");
                if let Err(e) = result {
                    assert!(e.is_invalid_policy(), "{id}: {e}");
                }
            }
            "select" => {
                let tags = tags_of(case);
                let result = TagSelector::new(&spec_of(case)).and_then(|s| s.select_latest(&tags));
                if expect_error {
                    assert!(result.is_err(), "{id}: expected an error, got {result:?}");
                } else {
                    let expected = case["expect"].as_str().expect("expect");
                    assert_eq!(result.as_deref(), Ok(expected), "{id}");
                    // Every case must hold for any input order, shuffled or not.
                    let mut reversed = tags.clone();
                    reversed.reverse();
                    let selector = TagSelector::new(&spec_of(case)).expect("valid");
                    assert_eq!(
                        selector.select_latest(&reversed).as_deref(),
                        Ok(expected),
                        "{id}"
                    );
                }
            }
            "filter" => {
                // Only the filter step: run an alphabetical policy over it and
                // read the candidates' keys.
                let mut spec = spec_of(case);
                spec.policy.alphabetical = Some(Default::default());
                let selection = TagSelector::new(&spec)
                    .expect("valid")
                    .explain(&tags_of(case));
                let mut keys: Vec<String> =
                    selection.candidates.into_iter().map(|c| c.key).collect();
                keys.sort();
                let expected: Vec<String> =
                    serde_json::from_value(case["expectTags"].clone()).expect("expectTags");
                assert_eq!(keys, expected, "{id}");
            }
            other => panic!("{id}: unknown kind {other}"),
        }
        ran += 1;
    }
    assert_eq!(ran, 35);
}

#[test]
fn semver_constraint_check() {
    let cases = fixture("semver_cases.json");
    let mut ran = 0;
    for case in cases["constraintCheck"].as_array().expect("cases") {
        let (constraint, version) = (
            case["constraint"].as_str().expect("constraint"),
            case["version"].as_str().expect("version"),
        );
        let expect = case["expect"].as_bool().expect("expect");
        let single = case["function"]
            .as_str()
            .is_some_and(|f| f.starts_with("internal"));
        if single && constraint.is_empty() {
            continue; // internal parseConstraint("") means "*"; NewConstraint refuses it
        }
        let parsed = Constraints::parse(constraint);
        let Ok(version) = Version::parse(version) else {
            assert!(!expect, "{constraint} / {version}: version must parse");
            ran += 1;
            continue;
        };
        let parsed = parsed.unwrap_or_else(|e| panic!("{constraint:?} must parse: {e}"));
        assert_eq!(
            parsed.matches(&version),
            expect,
            "{constraint:?} matches {version}"
        );
        ran += 1;
    }
    assert!(ran >= 150, "ran {ran} cases");
}

#[test]
fn semver_constraint_parse() {
    let cases = fixture("semver_cases.json");
    for case in cases["constraintParse"].as_array().expect("cases") {
        let constraint = case["constraint"].as_str().expect("constraint");
        let expect_error = case["expectParseError"]
            .as_bool()
            .expect("expectParseError");
        let parsed = Constraints::parse(constraint);
        assert_eq!(parsed.is_err(), expect_error, "{constraint:?}: {parsed:?}");
        if let (Ok(parsed), Some(ors)) = (&parsed, case["ors"].as_u64()) {
            let counts = parsed.and_counts();
            assert_eq!(counts.len() as u64, ors, "{constraint:?}");
            assert_eq!(
                Some(counts[0] as u64),
                case["andCountInFirstOr"].as_u64(),
                "{constraint:?}"
            );
        }
    }
}

#[test]
fn semver_version_parse() {
    let cases = fixture("semver_cases.json");
    for case in cases["versionParse"].as_array().expect("cases") {
        let version = case["version"].as_str().expect("version");
        let expect_error = case["expectParseError"]
            .as_bool()
            .expect("expectParseError");
        let function = case["function"].as_str().expect("function");
        let failed = if function.contains("ParseVersion") {
            parse_tag_version(version).is_err()
        } else {
            Version::parse(version).is_err()
        };
        assert_eq!(failed, expect_error, "{function}: {version:?}");
        if let Some(accepted) = case["versionAcceptedByFluxParseVersion"].as_bool() {
            assert_eq!(parse_tag_version(version).is_ok(), accepted, "{version:?}");
        }
    }
}

#[test]
fn semver_version_string_and_compare() {
    let cases = fixture("semver_cases.json");
    for case in cases["versionString"].as_array().expect("cases") {
        let version = Version::parse(case["version"].as_str().expect("version")).expect("parses");
        assert_eq!(
            Some(version.to_string().as_str()),
            case["expectString"].as_str()
        );
    }
    for case in cases["versionCompare"].as_array().expect("cases") {
        let parse = |key: &str| {
            let text = case[key].as_str().expect("version");
            Version::parse(text).unwrap_or_else(|e| panic!("{text:?} must parse: {e}"))
        };
        let (a, b) = (parse("v1"), parse("v2"));
        let ordering = a.compare(&b);
        let (op, expect) = (case["op"].as_str().expect("op"), &case["expect"]);
        match op {
            "Compare" => assert_eq!(Some(ordering as i64), expect.as_i64(), "{a} vs {b}"),
            "LessThan" => assert_eq!(Some(ordering.is_lt()), expect.as_bool(), "{a} < {b}"),
            "GreaterThan" => assert_eq!(Some(ordering.is_gt()), expect.as_bool(), "{a} > {b}"),
            "LessThanEqual" => assert_eq!(Some(ordering.is_le()), expect.as_bool(), "{a} <= {b}"),
            "GreaterThanEqual" => {
                assert_eq!(Some(ordering.is_ge()), expect.as_bool(), "{a} >= {b}")
            }
            other => panic!("unknown op {other}"),
        }
    }
}

/// The disagreements the differential tests against Flux found (`tests/differential.rs`), each
/// case with Flux's own answer (`fixtures/differential_cases.json`).
#[test]
fn found_by_flux_diff() {
    let cases = {
        let path = format!(
            "{}/tests/fixtures/differential_cases.json",
            env!("CARGO_MANIFEST_DIR")
        );
        let text = std::fs::read_to_string(&path).expect("fixture is readable");
        let v: Value = serde_json::from_str(&text).expect("fixture is JSON");
        v["cases"].as_array().expect("cases").clone()
    };
    let strings = |v: &Value| -> Vec<String> {
        serde_json::from_value(v.clone()).expect("a list of strings")
    };
    for case in &cases {
        let id = case["id"].as_str().expect("id");
        let expect_error = case["expectError"].as_bool().unwrap_or(false);
        match case["kind"].as_str().expect("kind") {
            "version" => {
                let parsed = Version::parse(case["version"].as_str().expect("version"));
                assert_eq!(parsed.is_err(), expect_error, "{id}: {parsed:?}");
                if let Ok(v) = parsed {
                    assert_eq!(
                        Some(v.to_string().as_str()),
                        case["expectString"].as_str(),
                        "{id}"
                    );
                }
            }
            "range" => {
                let parsed = Constraints::parse(case["range"].as_str().expect("range"));
                assert_eq!(parsed.is_err(), expect_error, "{id}: {parsed:?}");
                if let Ok(c) = parsed {
                    let checks: Vec<Option<bool>> = strings(&case["versions"])
                        .iter()
                        .map(|v| Version::parse(v).ok().map(|v| c.matches(&v)))
                        .collect();
                    let want: Vec<Option<bool>> =
                        serde_json::from_value(case["expectChecks"].clone()).expect("checks");
                    assert_eq!(checks, want, "{id}");
                }
            }
            "select" => {
                let spec: ImagePolicySpec =
                    serde_json::from_value(serde_json::json!({"policy": case["policy"]}))
                        .expect("a policy");
                let result =
                    TagSelector::new(&spec).and_then(|s| s.select_latest(&strings(&case["tags"])));
                match case["expect"].as_str() {
                    Some(tag) => assert_eq!(result.as_deref(), Ok(tag), "{id}"),
                    None => {
                        let e = result.expect_err(id);
                        assert_eq!(
                            e.is_invalid_policy(),
                            case["expectInvalidPolicy"].as_bool().unwrap_or(false),
                            "{id}: {e}"
                        );
                    }
                }
            }
            "filter" => {
                let spec: ImagePolicySpec = serde_json::from_value(serde_json::json!({
                    "policy": {"alphabetical": {}},
                    "filterTags": case["filterTags"],
                }))
                .expect("a filter");
                match TagSelector::new(&spec) {
                    Err(e) => {
                        assert!(expect_error, "{id}: {e}");
                        assert!(e.is_invalid_policy(), "{id}: {e}");
                    }
                    Ok(selector) => {
                        assert!(!expect_error, "{id}: Flux refuses the pattern");
                        let keys: std::collections::BTreeMap<String, String> = selector
                            .explain(&strings(&case["tags"]))
                            .candidates
                            .into_iter()
                            .map(|c| (c.key, c.tag))
                            .collect();
                        let want: std::collections::BTreeMap<String, String> =
                            serde_json::from_value(case["expectKeys"].clone()).expect("keys");
                        assert_eq!(keys, want, "{id}");
                    }
                }
            }
            other => panic!("{id}: unknown kind {other}"),
        }
    }
    assert_eq!(cases.len(), 32, "the fixture holds every case");
}
