//! Property values on the wire: `google.protobuf.Struct` <-> `serde_json::Value`,
//! and the Pulumi sentinels inside them (Pulumi `sdk/go/common/resource/sig`,
//! `pkg/resource/plugin/rpc.go`; `../shared` notes, section (c)).
//!
//! A secret is `{"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270",
//! "value": <any>}`; an unknown is one of seven UUID strings. Numbers are f64 on the
//! wire and come back as JSON numbers; integral values are kept integral.

use prost_types::value::Kind;
use serde_json::{Map, Number, Value};

/// The key that marks a special object.
pub const SIG_KEY: &str = "4dabf18193072939515e22adb298388d";
/// The signature of a secret.
pub const SECRET_SIG: &str = "1b47061264138c4ac30d75fd1eb44270";
/// The unknown sentinel we emit (the string one, accepted for every type).
pub const UNKNOWN: &str = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";
const UNKNOWNS: [&str; 7] = [
    UNKNOWN,
    "1c4a061d-8072-4f0a-a4cb-0ff528b18fe7",
    "3eeb2bf0-c639-47a8-9e75-3b44932eb421",
    "6a19a0b0-7e62-4c92-b797-7f8e31da9cc2",
    "dd056dcd-154b-4c76-9bd3-c8f88648b5ff",
    "030794c1-ac77-496b-92df-f27374a8bd58",
    "e48ece36-62e2-4504-bad9-02848725956a",
];

/// Converts a wire `Struct` (absent = empty) to a JSON object.
pub fn from_struct(s: Option<&prost_types::Struct>) -> Value {
    Value::Object(
        s.map(|s| {
            s.fields
                .iter()
                .map(|(k, v)| (k.clone(), from_value(v)))
                .collect()
        })
        .unwrap_or_default(),
    )
}

fn from_value(v: &prost_types::Value) -> Value {
    match &v.kind {
        None | Some(Kind::NullValue(_)) => Value::Null,
        Some(Kind::BoolValue(b)) => Value::Bool(*b),
        Some(Kind::NumberValue(n)) => number(*n),
        Some(Kind::StringValue(s)) => Value::String(s.clone()),
        Some(Kind::ListValue(l)) => Value::Array(l.values.iter().map(from_value).collect()),
        Some(Kind::StructValue(s)) => from_struct(Some(s)),
    }
}

fn number(n: f64) -> Value {
    // Integral values within f64's exact range stay integers, so that they
    // print as `5`, not `5.0`.
    if n.fract() == 0.0 && n.abs() < 9.007_199_254_740_992e15 {
        Value::Number(Number::from(n as i64))
    } else {
        Number::from_f64(n).map_or(Value::Null, Value::Number)
    }
}

/// Converts a JSON object to a wire `Struct`; a non-object becomes an empty one.
pub fn to_struct(v: &Value) -> prost_types::Struct {
    let fields = match v {
        Value::Object(map) => map.iter().map(|(k, v)| (k.clone(), to_value(v))).collect(),
        _ => Default::default(),
    };
    prost_types::Struct { fields }
}

fn to_value(v: &Value) -> prost_types::Value {
    let kind = match v {
        Value::Null => Kind::NullValue(0),
        Value::Bool(b) => Kind::BoolValue(*b),
        Value::Number(n) => Kind::NumberValue(n.as_f64().unwrap_or_default()),
        Value::String(s) => Kind::StringValue(s.clone()),
        Value::Array(a) => Kind::ListValue(prost_types::ListValue {
            values: a.iter().map(to_value).collect(),
        }),
        Value::Object(_) => Kind::StructValue(to_struct(v)),
    };
    prost_types::Value { kind: Some(kind) }
}

/// Whether `v` is an unknown sentinel (any of the seven).
pub fn is_unknown(v: &Value) -> bool {
    v.as_str().is_some_and(|s| UNKNOWNS.contains(&s))
}

/// Whether `v`, or anything inside it, is unknown.
pub fn contains_unknown(v: &Value) -> bool {
    match v {
        Value::Array(a) => a.iter().any(contains_unknown),
        Value::Object(m) => m.values().any(contains_unknown),
        other => is_unknown(other),
    }
}

/// Whether `v` is a secret wrapper.
pub fn is_secret(v: &Value) -> bool {
    v.get(SIG_KEY).and_then(Value::as_str) == Some(SECRET_SIG)
}

/// Wraps `v` as a secret (a secret stays wrapped once).
pub fn secret(v: Value) -> Value {
    if is_secret(&v) {
        return v;
    }
    let mut m = Map::new();
    m.insert(SIG_KEY.to_owned(), Value::String(SECRET_SIG.to_owned()));
    m.insert("value".to_owned(), v);
    Value::Object(m)
}

/// Removes every secret wrapper, at any depth; returns the plain value and
/// whether any secret was found.
pub fn reveal(v: &Value) -> (Value, bool) {
    let mut found = false;
    let plain = reveal_into(v, &mut found);
    (plain, found)
}

fn reveal_into(v: &Value, found: &mut bool) -> Value {
    if is_secret(v) {
        *found = true;
        return reveal_into(v.get("value").unwrap_or(&Value::Null), found);
    }
    match v {
        Value::Array(a) => Value::Array(a.iter().map(|x| reveal_into(x, found)).collect()),
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, x)| (k.clone(), reveal_into(x, found)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Wraps as secret every value of `out` that sits where `original` had a secret (the same
/// object keys and array indices), so that a result built from revealed inputs keeps the
/// program's secretness on any path, not only the schema's (Pulumi: a secret input stays
/// secret in what is computed from it). Values `out` no longer has, nulls and unknowns are
/// left alone.
pub fn keep_secrets_of(original: &Value, out: &mut Value) {
    if is_secret(original) {
        if !out.is_null() && !is_unknown(out) {
            *out = secret(out.take());
        }
        return;
    }
    if is_secret(out) {
        return;
    }
    match (original, out) {
        (Value::Object(o), Value::Object(m)) => {
            for (key, child) in o {
                if let Some(target) = m.get_mut(key) {
                    keep_secrets_of(child, target);
                }
            }
        }
        (Value::Array(o), Value::Array(items)) => {
            for (child, target) in o.iter().zip(items.iter_mut()) {
                keep_secrets_of(child, target);
            }
        }
        _ => {}
    }
}

/// Wraps the values at `paths` (dotted object paths; `[]` steps into every
/// array element) as secrets, where present and not null.
pub fn mark_secret_paths(v: &mut Value, paths: &[&str]) {
    for path in paths {
        let steps: Vec<&str> = path.split('.').collect();
        mark_path(v, &steps);
    }
}

fn mark_path(v: &mut Value, steps: &[&str]) {
    let Some((first, rest)) = steps.split_first() else {
        if !v.is_null() && !is_unknown(v) {
            *v = secret(v.take());
        }
        return;
    };
    if let Some(key) = first.strip_suffix("[]") {
        if let Some(Value::Array(items)) = v.get_mut(key) {
            for item in items {
                mark_path(item, rest);
            }
        }
    } else if let Some(child) = v.get_mut(*first) {
        mark_path(child, rest);
    }
}

#[cfg(test)]
mod keep_secrets_tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secrets_are_kept_on_the_original_paths_only() {
        let original = json!({"a": {"b": secret(json!("x")), "c": "y"}, "l": [1, secret(json!(2))], "gone": secret(json!(3))});
        let mut out = json!({"a": {"b": "x", "c": "y", "new": "z"}, "l": [1, 2], "extra": 4});
        keep_secrets_of(&original, &mut out);
        assert_eq!(
            out,
            json!({"a": {"b": secret(json!("x")), "c": "y", "new": "z"}, "l": [1, secret(json!(2))], "extra": 4})
        );
        // Already secret stays wrapped once; a secret container wraps what is there.
        let mut out = json!({"a": secret(json!({"b": "x"}))});
        keep_secrets_of(&json!({"a": {"b": secret(json!("x"))}}), &mut out);
        assert_eq!(out, json!({"a": secret(json!({"b": "x"}))}));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn round_trips_through_struct() {
        let v = json!({"a": 1, "b": 1.5, "c": [true, null, "x"], "d": {"e": "f"}});
        assert_eq!(from_struct(Some(&to_struct(&v))), v);
    }

    #[test]
    fn reveals_and_marks_secrets() {
        let v = json!({"credentials": secret(json!({"username": "u", "password": "p"}))});
        let (plain, found) = reveal(&v);
        assert!(found);
        assert_eq!(
            plain,
            json!({"credentials": {"username": "u", "password": "p"}})
        );
        let mut out = plain;
        mark_secret_paths(&mut out, &["credentials.password", "missing.path"]);
        assert_eq!(out["credentials"]["username"], "u");
        assert!(is_secret(&out["credentials"]["password"]));
    }

    #[test]
    fn unknowns_are_recognised_at_any_depth() {
        let v = json!({"a": [{"b": "6a19a0b0-7e62-4c92-b797-7f8e31da9cc2"}]});
        assert!(contains_unknown(&v));
        assert!(!contains_unknown(&json!({"a": "b"})));
    }
}
