//! Field deserializers for the shapes Pulumi property values and Flux manifests share: an
//! empty string is no value (Flux's `omitempty`, and what a Pulumi program sends for an
//! unset config), a flag may come as `"true"` (Pulumi YAML config values are strings), and a
//! `map[string]string` keeps a non-string value as its JSON text.

use std::collections::BTreeMap;

use secrecy::SecretString;
use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// `null`, absent and `""` are `None`.
pub fn text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(Option::<String>::deserialize(d)?.filter(|s| !s.is_empty()))
}

/// `null` and absent are `""`.
pub fn string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(Option::<String>::deserialize(d)?.unwrap_or_default())
}

/// As [`text`], held as a secret from the moment it is read.
pub fn secret<'de, D: Deserializer<'de>>(d: D) -> Result<Option<SecretString>, D::Error> {
    Ok(text(d)?.map(SecretString::from))
}

/// `true`, `false`, `"true"`, `"false"`; `null` and absent are `false`.
pub fn flag<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Flag {
        Bool(bool),
        Text(String),
    }
    match Option::<Flag>::deserialize(d)? {
        None => Ok(false),
        Some(Flag::Bool(b)) => Ok(b),
        Some(Flag::Text(s)) => match s.as_str() {
            "true" => Ok(true),
            "false" | "" => Ok(false),
            _ => Err(serde::de::Error::custom(format!(
                "expected true or false, found {s:?}"
            ))),
        },
    }
}

/// A `map[string]string` (`messageTemplateValues`, `push.options`): a value that is not a
/// string is kept as its JSON text (`1` -> `"1"`); `null` and absent are empty.
pub fn string_map<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, String>, D::Error> {
    let map = Option::<BTreeMap<String, Value>>::deserialize(d)?.unwrap_or_default();
    Ok(map
        .into_iter()
        .map(|(k, v)| {
            let text = match v {
                Value::String(s) => s,
                other => other.to_string(),
            };
            (k, text)
        })
        .collect())
}

/// A list; `null` and absent are empty.
pub fn list<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Vec<T>, D::Error> {
    Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
}
