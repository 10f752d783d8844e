//! Validation of Kubernetes objects as the API server would do it, for the
//! kinds `imageautomation-kube` renders: the Flux kinds against the real CRD
//! `openAPIV3Schema` in `fixtures/flux-crds/` (converted to JSON Schema
//! 2020-12), Secrets against the core `v1` Secret schema from `k8s-openapi`
//! plus the API server's type-specific Secret rules. Also applies CRD
//! structural defaults, as the API server does on every write.
//!
//! The conversion is strict where the API server is lenient: unknown fields
//! are errors (the API server would prune them silently, which hides bugs;
//! kubectl's `--validate=strict` reports them too). `x-kubernetes-*` keys
//! are handled as follows: `preserve-unknown-fields` keeps an object open,
//! `int-or-string` allows both types, `list-type`/`map-type` only affect
//! merging and are dropped, and `validations` (CEL) are evaluated for the
//! rules these CRDs contain; an unknown rule is reported as an error so a
//! CRD refresh cannot silently skip one.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use base64::Engine as _;
use serde_json::{Map, Value, json};

const CRDS: [&str; 4] = [
    include_str!("../fixtures/flux-crds/image.toolkit.fluxcd.io_imagerepositories.yaml"),
    include_str!("../fixtures/flux-crds/image.toolkit.fluxcd.io_imagepolicies.yaml"),
    include_str!("../fixtures/flux-crds/image.toolkit.fluxcd.io_imageupdateautomations.yaml"),
    include_str!("../fixtures/flux-crds/source.toolkit.fluxcd.io_gitrepositories.yaml"),
];

/// One served kind: its raw structural schema (for defaults), the compiled
/// strict validator, and its CEL rules by instance location.
struct KindSchema {
    raw: Value,
    validator: jsonschema::Validator,
    cel: Vec<(Vec<String>, String, String)>,
}

/// Schemas for every kind, keyed by `(apiVersion, kind)`.
pub struct Schemas {
    kinds: BTreeMap<(String, String), KindSchema>,
    object_meta: jsonschema::Validator,
}

static SCHEMAS: LazyLock<Schemas> = LazyLock::new(Schemas::load);

/// The schemas, loaded once per test process.
pub fn schemas() -> &'static Schemas {
    &SCHEMAS
}

/// Validates `object` (see [`Schemas::validate`]).
///
/// # Errors
/// Every violation as `path: message`.
pub fn validate(object: &Value) -> Result<(), Vec<String>> {
    schemas().validate(object)
}

impl Schemas {
    fn load() -> Self {
        let mut kinds = BTreeMap::new();
        for text in CRDS {
            let crd: Value = serde_norway::from_str(text).expect("CRD fixture is YAML");
            let group = crd["spec"]["group"]
                .as_str()
                .expect("spec.group")
                .to_owned();
            let kind = crd["spec"]["names"]["kind"]
                .as_str()
                .expect("kind")
                .to_owned();
            for version in crd["spec"]["versions"].as_array().expect("versions") {
                if version["served"] != json!(true) {
                    continue;
                }
                let name = version["name"].as_str().expect("version name");
                let raw = version["schema"]["openAPIV3Schema"].clone();
                let mut cel = Vec::new();
                let mut converted = convert(&raw, &mut Vec::new(), &mut cel);
                // `metadata` is `{type: object}` in CRDs; the API server
                // validates it as ObjectMeta, which we do separately.
                converted["properties"]["metadata"] = json!({"type": "object"});
                let validator = jsonschema::options()
                    .with_draft(jsonschema::Draft::Draft202012)
                    .should_validate_formats(false)
                    .build(&converted)
                    .expect("converted CRD schema compiles");
                kinds.insert(
                    (format!("{group}/{name}"), kind.clone()),
                    KindSchema {
                        raw,
                        validator,
                        cel,
                    },
                );
            }
        }
        let secret = serde_json::to_value(k8s_openapi::schemars::schema_for!(
            k8s_openapi::api::core::v1::Secret
        ))
        .expect("schema serialises");
        let mut cel = Vec::new();
        let secret_converted = convert(&secret, &mut Vec::new(), &mut cel);
        let validator = jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .should_validate_formats(false)
            .build(&secret_converted)
            .expect("Secret schema compiles");
        kinds.insert(
            ("v1".to_owned(), "Secret".to_owned()),
            KindSchema {
                raw: json!({}),
                validator,
                cel,
            },
        );
        let meta = serde_json::to_value(k8s_openapi::schemars::schema_for!(
            k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta
        ))
        .expect("schema serialises");
        let meta = convert(&meta, &mut Vec::new(), &mut Vec::new());
        let object_meta = jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .should_validate_formats(false)
            .build(&meta)
            .expect("ObjectMeta schema compiles");
        Self { kinds, object_meta }
    }

    /// The `(apiVersion, kind)` pairs known.
    pub fn known(&self) -> Vec<(String, String)> {
        self.kinds.keys().cloned().collect()
    }

    /// Validates an object as the API server would on create or update:
    /// schema (strict), CEL rules, `metadata` as ObjectMeta plus name and
    /// label syntax, and for Secrets the type-specific rules.
    ///
    /// # Errors
    /// Every violation as `path: message`.
    pub fn validate(&self, object: &Value) -> Result<(), Vec<String>> {
        let api_version = object["apiVersion"].as_str().unwrap_or_default();
        let kind = object["kind"].as_str().unwrap_or_default();
        let Some(schema) = self.kinds.get(&(api_version.to_owned(), kind.to_owned())) else {
            return Err(vec![format!(
                "apiVersion/kind: no schema for {api_version} {kind}"
            )]);
        };
        let mut errors: Vec<String> = schema
            .validator
            .iter_errors(object)
            .map(|e| format!("{}: {e}", e.instance_path()))
            .collect();
        errors.extend(
            self.object_meta
                .iter_errors(&object["metadata"])
                .map(|e| format!("/metadata{}: {e}", e.instance_path())),
        );
        errors.extend(check_metadata(&object["metadata"]));
        for (path, rule, message) in &schema.cel {
            let mut node = object;
            let mut present = true;
            for p in path {
                match node.get(p) {
                    Some(n) => node = n,
                    None => {
                        present = false;
                        break;
                    }
                }
            }
            if present && let Err(e) = eval_cel(rule, message, node) {
                errors.push(format!("/{}: {e}", path.join("/")));
            }
        }
        if kind == "Secret" {
            errors.extend(check_secret(object));
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }

    /// Fills in the CRD's structural defaults where `object` lacks them
    /// (the API server's defaulting, done on create, update and read).
    pub fn apply_defaults(&self, object: &mut Value) {
        let key = (
            object["apiVersion"].as_str().unwrap_or_default().to_owned(),
            object["kind"].as_str().unwrap_or_default().to_owned(),
        );
        if let Some(schema) = self.kinds.get(&key) {
            default_into(&schema.raw, object);
        }
    }
}

fn default_into(schema: &Value, value: &mut Value) {
    match value {
        Value::Object(map) => {
            if let Some(Value::Object(props)) = schema.get("properties") {
                for (name, sub) in props {
                    if !map.contains_key(name)
                        && let Some(d) = sub.get("default")
                    {
                        map.insert(name.clone(), d.clone());
                    }
                    if let Some(child) = map.get_mut(name) {
                        default_into(sub, child);
                    }
                }
            }
        }
        Value::Array(items) => {
            if let Some(sub) = schema.get("items") {
                for item in items {
                    default_into(sub, item);
                }
            }
        }
        _ => {}
    }
}

/// Converts an OpenAPI v3 structural schema to a strict JSON Schema,
/// collecting CEL rules with the instance path they apply to.
fn convert(
    schema: &Value,
    path: &mut Vec<String>,
    cel: &mut Vec<(Vec<String>, String, String)>,
) -> Value {
    let Value::Object(src) = schema else {
        return schema.clone();
    };
    let mut out = Map::new();
    let preserve = src.get("x-kubernetes-preserve-unknown-fields") == Some(&json!(true));
    for (k, v) in src {
        match k.as_str() {
            "description"
            | "format"
            | "x-kubernetes-list-type"
            | "x-kubernetes-map-type"
            | "x-kubernetes-list-map-keys"
            | "x-kubernetes-preserve-unknown-fields"
            | "x-kubernetes-embedded-resource" => {}
            "x-kubernetes-int-or-string" => {
                out.insert("type".into(), json!(["integer", "string"]));
            }
            "x-kubernetes-validations" => {
                for rule in v.as_array().into_iter().flatten() {
                    cel.push((
                        path.clone(),
                        rule["rule"].as_str().unwrap_or_default().to_owned(),
                        rule["message"].as_str().unwrap_or_default().to_owned(),
                    ));
                }
            }
            "nullable" => {}
            "properties" => {
                let mut props = Map::new();
                for (name, sub) in v.as_object().into_iter().flatten() {
                    path.push(name.clone());
                    props.insert(name.clone(), convert(sub, path, cel));
                    path.pop();
                }
                out.insert(k.clone(), Value::Object(props));
            }
            "items" | "additionalProperties" if v.is_object() => {
                // CEL under items/maps is not used by these CRDs; rules found
                // there are still collected, at the container's path.
                out.insert(k.clone(), convert(v, path, cel));
            }
            "$defs" | "definitions" => {
                let mut defs = Map::new();
                for (name, sub) in v.as_object().into_iter().flatten() {
                    defs.insert(name.clone(), convert(sub, &mut Vec::new(), cel));
                }
                out.insert(k.clone(), Value::Object(defs));
            }
            "allOf" | "anyOf" | "oneOf" => {
                let list = v
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|s| convert(s, path, cel))
                    .collect();
                out.insert(k.clone(), Value::Array(list));
            }
            _ => {
                out.insert(k.clone(), v.clone());
            }
        }
    }
    if src.get("nullable") == Some(&json!(true))
        && let Some(Value::String(t)) = out.get("type").cloned()
    {
        out.insert("type".into(), json!([t, "null"]));
    }
    if out.contains_key("properties") && !out.contains_key("additionalProperties") && !preserve {
        out.insert("additionalProperties".into(), json!(false));
    }
    Value::Object(out)
}

/// The CEL rules of the Flux CRDs, evaluated by hand (no CEL interpreter):
/// `rule` text -> predicate on the object the rule is attached to.
fn eval_cel(rule: &str, message: &str, node: &Value) -> Result<(), String> {
    let has = |k: &str| node.get(k).is_some();
    let ok = match rule {
        "!has(self.interval) || (has(self.digestReflectionPolicy) && self.digestReflectionPolicy == 'Always')" => {
            !has("interval") || node["digestReflectionPolicy"] == json!("Always")
        }
        "has(self.interval) || !has(self.digestReflectionPolicy) || self.digestReflectionPolicy != 'Always'" => {
            has("interval") || node["digestReflectionPolicy"] != json!("Always")
        }
        "!has(self.serviceAccountName) || (has(self.provider) && (self.provider == 'azure' || self.provider == 'aws'))" => {
            !has("serviceAccountName")
                || node["provider"] == json!("azure")
                || node["provider"] == json!("aws")
        }
        other => {
            return Err(format!(
                "unsupported CEL rule {other:?}: teach tests/src/kube_schema.rs eval_cel"
            ));
        }
    };
    if ok { Ok(()) } else { Err(message.to_owned()) }
}

fn is_dns_subdomain(s: &str) -> bool {
    static RE: LazyLock<regex::Regex> = LazyLock::new(|| {
        regex::Regex::new(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
            .expect("regex")
    });
    s.len() <= 253 && RE.is_match(s)
}

fn is_label_value(s: &str) -> bool {
    static RE: LazyLock<regex::Regex> = LazyLock::new(|| {
        regex::Regex::new(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$").expect("regex")
    });
    s.len() <= 63 && RE.is_match(s)
}

fn is_label_key(s: &str) -> bool {
    let (prefix, name) = match s.rsplit_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, s),
    };
    prefix.is_none_or(is_dns_subdomain) && !name.is_empty() && is_label_value(name)
}

/// apimachinery `ValidateObjectMeta`: name, namespace and label syntax.
fn check_metadata(meta: &Value) -> Vec<String> {
    let mut errors = Vec::new();
    match meta["name"].as_str() {
        Some(n) if is_dns_subdomain(n) => {}
        other => errors.push(format!(
            "/metadata/name: {other:?} is not a DNS-1123 subdomain"
        )),
    }
    if let Some(ns) = meta.get("namespace")
        && !ns
            .as_str()
            .is_some_and(|s| s.len() <= 63 && is_dns_subdomain(s) && !s.contains('.'))
    {
        errors.push(format!("/metadata/namespace: {ns} is not a DNS-1123 label"));
    }
    for (k, v) in meta["labels"].as_object().into_iter().flatten() {
        if !is_label_key(k) {
            errors.push(format!(
                "/metadata/labels: key {k:?} is not a qualified name"
            ));
        }
        if !v.as_str().is_some_and(is_label_value) {
            errors.push(format!(
                "/metadata/labels/{k}: {v} is not a valid label value"
            ));
        }
    }
    errors
}

/// k8s.io/kubernetes `pkg/apis/core/validation` `ValidateSecret`: key
/// syntax, base64 data, total size, and the keys each type requires.
fn check_secret(secret: &Value) -> Vec<String> {
    static KEY: LazyLock<regex::Regex> =
        LazyLock::new(|| regex::Regex::new(r"^[-._a-zA-Z0-9]+$").expect("regex"));
    let mut errors = Vec::new();
    let mut decoded = BTreeMap::new();
    let mut total = 0usize;
    for (k, v) in secret["data"].as_object().into_iter().flatten() {
        if !KEY.is_match(k) || k == "." || k == ".." || k.len() > 253 {
            errors.push(format!("/data: key {k:?} is not a valid config key"));
        }
        match v
            .as_str()
            .map(|s| base64::engine::general_purpose::STANDARD.decode(s))
        {
            Some(Ok(bytes)) => {
                total += bytes.len();
                decoded.insert(k.clone(), bytes);
            }
            _ => errors.push(format!("/data/{k}: not base64")),
        }
    }
    if total > 1024 * 1024 {
        errors.push("/data: Secret data must be at most 1 MiB".to_owned());
    }
    match secret["type"].as_str().unwrap_or("Opaque") {
        "kubernetes.io/dockerconfigjson" => match decoded.get(".dockerconfigjson") {
            None => errors.push("/data[.dockerconfigjson]: Required value".to_owned()),
            Some(bytes) => {
                if serde_json::from_slice::<Value>(bytes).is_err() {
                    errors.push("/data[.dockerconfigjson]: Invalid value: not JSON".to_owned());
                }
            }
        },
        "kubernetes.io/dockercfg" if !decoded.contains_key(".dockercfg") => {
            errors.push("/data[.dockercfg]: Required value".to_owned());
        }
        "kubernetes.io/tls" => {
            for k in ["tls.crt", "tls.key"] {
                if !decoded.contains_key(k) {
                    errors.push(format!("/data[{k}]: Required value"));
                }
            }
        }
        "kubernetes.io/basic-auth" | "kubernetes.io/ssh-auth" | "Opaque" => {}
        "" => errors.push("/type: must not be empty".to_owned()),
        _ => {}
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_schema_rejects_unknown_fields_and_checks_cel() {
        let ok = json!({"apiVersion": "image.toolkit.fluxcd.io/v1", "kind": "ImagePolicy",
            "metadata": {"name": "p", "namespace": "ns"},
            "spec": {"imageRepositoryRef": {"name": "r"}, "policy": {"semver": {"range": ">=1"}}}});
        validate(&ok).expect("valid");
        let mut bad = ok.clone();
        bad["spec"]["polcy"] = json!({});
        assert!(validate(&bad).is_err());
        let mut bad = ok.clone();
        bad["spec"]["interval"] = json!("5m");
        let errors = validate(&bad).expect_err("CEL rule");
        assert!(
            errors.iter().any(|e| e.contains("only accepted when")),
            "{errors:?}"
        );
        let mut bad = ok;
        bad["metadata"]["labels"] = json!({"a": "not valid!"});
        assert!(validate(&bad).is_err());
    }

    #[test]
    fn secrets_follow_core_rules() {
        let ok = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "ns"},
            "type": "kubernetes.io/dockerconfigjson", "data": {".dockerconfigjson": "e30="}});
        validate(&ok).expect("valid");
        let mut bad = ok.clone();
        bad["data"] = json!({"config.json": "e30="});
        assert!(validate(&bad).is_err());
        let mut bad = ok;
        bad["spec"] = json!({});
        assert!(validate(&bad).is_err());
    }

    #[test]
    fn defaults_are_filled_in() {
        let mut o = json!({"apiVersion": "image.toolkit.fluxcd.io/v1", "kind": "ImageRepository",
            "metadata": {"name": "r", "namespace": "ns"}, "spec": {"image": "x", "interval": "5m"}});
        schemas().apply_defaults(&mut o);
        assert_eq!(o["spec"]["exclusionList"], json!(["^.*\\.sig$"]));
        assert_eq!(o["spec"]["provider"], "generic");
    }
}
