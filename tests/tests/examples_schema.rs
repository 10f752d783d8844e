//! The Pulumi YAML examples (`examples/*/Pulumi.yaml`) against `schema.json`,
//! since no `pulumi` CLI runs here: every `imageautomation:` resource type
//! exists, every property it sets is an input of that type (recursively
//! through object types, arrays and maps), and every `${resource.output}` it
//! reads is an output of that resource, every `${name}` a config variable or
//! a resource. A misspelt property would otherwise only fail in `pulumi up`.

use std::path::{Path, PathBuf};

use serde_json::Value as Json;
use serde_norway::Value as Yaml;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_owned()
}

fn schema() -> Json {
    let text = std::fs::read_to_string(root().join("schema.json")).expect("read schema.json");
    serde_json::from_str(&text).expect("schema.json is JSON")
}

/// The type a property spec points at (`$ref` to `#/types/<token>`), if any.
fn referenced<'a>(schema: &'a Json, spec: &Json) -> Option<&'a Json> {
    let token = spec.get("$ref")?.as_str()?.strip_prefix("#/types/")?;
    schema["types"].get(token)
}

/// Checks `value` against the property `spec`; problems go to `errors` with `path`.
fn check_value(schema: &Json, spec: &Json, value: &Yaml, path: &str, errors: &mut Vec<String>) {
    if value.as_str().is_some_and(|s| s.starts_with("${")) {
        return; // an interpolation: checked by check_interpolations
    }
    if let Some(t) = referenced(schema, spec) {
        check_object(schema, &t["properties"], value, path, errors);
        return;
    }
    match spec.get("type").and_then(Json::as_str) {
        Some("array") => {
            if let Some(items) = value.as_sequence() {
                for (i, item) in items.iter().enumerate() {
                    check_value(
                        schema,
                        &spec["items"],
                        item,
                        &format!("{path}[{i}]"),
                        errors,
                    );
                }
            }
        }
        Some("object") => {
            if let (Some(map), Some(additional)) =
                (value.as_mapping(), spec.get("additionalProperties"))
            {
                for (k, v) in map {
                    let key = k.as_str().unwrap_or_default();
                    check_value(schema, additional, v, &format!("{path}.{key}"), errors);
                }
            }
        }
        _ => {}
    }
}

fn check_object(
    schema: &Json,
    properties: &Json,
    value: &Yaml,
    path: &str,
    errors: &mut Vec<String>,
) {
    let Some(map) = value.as_mapping() else {
        return;
    };
    for (k, v) in map {
        let key = k.as_str().unwrap_or_default();
        match properties.get(key) {
            Some(spec) => check_value(schema, spec, v, &format!("{path}.{key}"), errors),
            None => errors.push(format!("{path}.{key}: not a property in schema.json")),
        }
    }
}

/// Every `${a}` / `${a.b...}` in `value`.
fn interpolations(value: &Yaml, out: &mut Vec<String>) {
    match value {
        Yaml::String(s) => {
            let mut rest = s.as_str();
            while let Some(start) = rest.find("${") {
                let Some(end) = rest[start..].find('}') else {
                    break;
                };
                out.push(rest[start + 2..start + end].to_owned());
                rest = &rest[start + end + 1..];
            }
        }
        Yaml::Sequence(items) => items.iter().for_each(|i| interpolations(i, out)),
        Yaml::Mapping(map) => map.values().for_each(|v| interpolations(v, out)),
        Yaml::Tagged(t) => interpolations(&t.value, out),
        _ => {}
    }
}

fn check_example(schema: &Json, file: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(file).expect("read example");
    let program: Yaml = serde_norway::from_str(&text).expect("example is YAML");
    let mut errors = Vec::new();
    let resources = program.get("resources").and_then(Yaml::as_mapping);
    let config = program.get("config").and_then(Yaml::as_mapping);
    let type_of = |name: &str| {
        resources
            .and_then(|r| r.get(name))
            .and_then(|r| r.get("type"))
            .and_then(Yaml::as_str)
    };
    for (name, resource) in resources.into_iter().flatten() {
        let name = name.as_str().unwrap_or_default();
        let token = resource
            .get("type")
            .and_then(Yaml::as_str)
            .unwrap_or_default();
        if !token.starts_with("imageautomation:") {
            continue;
        }
        let Some(spec) = schema["resources"].get(token) else {
            errors.push(format!("{name}: type {token} is not in schema.json"));
            continue;
        };
        if let Some(properties) = resource.get("properties") {
            check_object(
                schema,
                &spec["inputProperties"],
                properties,
                name,
                &mut errors,
            );
        }
    }
    let mut references = Vec::new();
    interpolations(&program, &mut references);
    for reference in references {
        let mut parts = reference.split('.');
        let head = parts.next().unwrap_or_default();
        let output = parts.next();
        match (type_of(head), output) {
            (Some(token), Some(output)) if token.starts_with("imageautomation:") => {
                if schema["resources"][token]["properties"]
                    .get(output)
                    .is_none()
                {
                    errors.push(format!(
                        "${{{reference}}}: {output} is not an output of {token}"
                    ));
                }
            }
            (Some(_), _) => {}
            (None, _) if config.is_some_and(|c| c.contains_key(head)) => {}
            // Config set in Pulumi.<stack>.yaml or an ESC environment, e.g. ${fleetRepository}.
            (None, None) if head.chars().all(|c| c.is_ascii_alphanumeric()) => {}
            (None, _) => errors.push(format!(
                "${{{reference}}}: {head} is neither a resource nor a config variable"
            )),
        }
    }
    errors
}

#[test]
fn every_example_uses_only_what_the_schema_declares() {
    let schema = schema();
    let mut checked = 0;
    let mut errors = Vec::new();
    for entry in std::fs::read_dir(root().join("examples")).expect("examples/") {
        let file = entry.expect("entry").path().join("Pulumi.yaml");
        if file.is_file() {
            checked += 1;
            for e in check_example(&schema, &file) {
                errors.push(format!("{}: {e}", file.display()));
            }
        }
    }
    assert!(checked >= 3, "examples/*/Pulumi.yaml: found only {checked}");
    assert!(errors.is_empty(), "{errors:#?}");
}

#[test]
fn a_misspelt_property_is_caught() {
    let schema = schema();
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("Pulumi.yaml");
    std::fs::write(
        &file,
        "name: x\nruntime: yaml\nresources:\n  repo:\n    type: imageautomation:index:ImageRepository\n    properties:\n      image: a/b\n  fleet:\n    type: imageautomation:index:UpdateAutomation\n    properties:\n      git:\n        url: https://example.com/x\n        auth:\n          tokn: x\n      policies:\n        - ${repo.imagePolicyRef}\n",
    )
    .expect("write");
    let errors = check_example(&schema, &file);
    assert_eq!(
        errors,
        [
            "fleet.git.auth.tokn: not a property in schema.json",
            "${repo.imagePolicyRef}: imagePolicyRef is not an output of imageautomation:index:ImageRepository",
        ],
    );
}
