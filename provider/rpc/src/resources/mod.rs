//! The three resources behind one small trait, and what they share: the
//! detailed diff of inputs and the mapping of failures to gRPC codes.
//!
//! Each resource module owns its property shapes, its Markdown doc (embedded
//! into the schema) and the list of its secret output paths.

pub mod cluster;
mod common;
mod image_policy;
mod image_repository;
mod update_automation;

use std::collections::HashMap;
use std::sync::Arc;

use imageautomation_engine::Scheduler;

use imageautomation_proto::pulumirpc::{PropertyDiff, property_diff::Kind};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::config::{Failure, ProviderConfig};
use crate::engine_log::EngineLog;
use imageautomation_proto::codec;

/// What a resource operation knows about its call.
pub struct Ctx {
    /// The resource URN (for diagnostics).
    pub urn: String,
    /// The resource name (the default Flux `name`).
    pub name: String,
    /// The configured provider.
    pub config: Arc<ProviderConfig>,
    /// Where diagnostics and status messages go.
    pub log: Arc<EngineLog>,
    /// Set by `Cancel` and on shutdown.
    pub cancel: CancellationToken,
    /// The process's scan scheduler (single flight, per-registry bound, retries).
    pub scheduler: Arc<Scheduler>,
}

/// A resource operation that failed, classified once for the gRPC mapping
/// (HOUSE_STYLE "Errors" 3). Messages never contain secrets.
#[derive(Debug, thiserror::Error)]
pub enum OpError {
    /// Bad input that `Check` could not catch (it depends on other resources).
    #[error("{0}")]
    InvalidArgument(String),
    /// The inputs are fine but the state of the world does not allow it (no
    /// tag selected, a rejected push).
    #[error("{0}")]
    FailedPrecondition(String),
    /// Credentials missing or refused.
    #[error("{0}")]
    Unauthenticated(String),
    /// Credentials valid but not allowed, or a host key or certificate refused.
    #[error("{0}")]
    PermissionDenied(String),
    /// Someone else changed the target first (a push overtaken too often).
    #[error("{0}")]
    Aborted(String),
    /// A registry, Git server or API is down or rate limiting: retry later.
    #[error("{0}")]
    Unavailable(String),
    /// A timeout.
    #[error("{0}")]
    DeadlineExceeded(String),
    /// Cancelled by the user.
    #[error("cancelled")]
    Cancelled,
    /// A bug in the provider.
    #[error("internal error (please report it): {0}")]
    Internal(String),
}

impl OpError {
    /// Whether the failure is a server that is down, slow or rate limiting:
    /// worth a retry later, and no reason to throw away what is known.
    pub fn is_transient(&self) -> bool {
        matches!(self, OpError::Unavailable(_) | OpError::DeadlineExceeded(_))
    }
}

impl From<OpError> for tonic::Status {
    fn from(e: OpError) -> tonic::Status {
        let message = e.to_string();
        match e {
            OpError::InvalidArgument(_) => tonic::Status::invalid_argument(message),
            OpError::FailedPrecondition(_) => tonic::Status::failed_precondition(message),
            OpError::Unauthenticated(_) => tonic::Status::unauthenticated(message),
            OpError::PermissionDenied(_) => tonic::Status::permission_denied(message),
            OpError::Aborted(_) => tonic::Status::aborted(message),
            OpError::Unavailable(_) => tonic::Status::unavailable(message),
            OpError::DeadlineExceeded(_) => tonic::Status::deadline_exceeded(message),
            OpError::Cancelled => tonic::Status::cancelled(message),
            OpError::Internal(_) => tonic::Status::internal(message),
        }
    }
}

/// What `Read` found.
pub struct ReadResult {
    /// The id (empty: the resource is gone).
    pub id: String,
    /// The live outputs.
    pub outputs: Value,
    /// The live inputs, as `Check` would return them.
    pub inputs: Value,
}

/// The operations of one resource type. Inputs and outputs are wire values
/// (secrets wrapped, unknowns as sentinels); `news` are checked inputs.
#[tonic::async_trait]
pub trait Resource: Send + Sync {
    /// `Check`: defaults and validation; unknowns tolerated.
    fn check(&self, ctx: &Ctx, olds: &Value, news: &Value) -> (Value, Vec<Failure>);
    /// `Diff` of old inputs against new checked inputs: the detailed diff paths
    /// name inputs, so the CLI renders `old => new`.
    fn diff(&self, old_inputs: &Value, news: &Value) -> Vec<(String, Kind)> {
        diff_inputs(old_inputs, news)
    }
    /// Top-level inputs whose change replaces the resource: its id or its
    /// Flux identity (`namespace`, `name`) would change.
    fn replace_on(&self) -> &'static [&'static str] {
        &[]
    }
    /// Computed outputs derived from an input: `(input path, output keys)`. When the program
    /// marked anything at or under the input path secret, those outputs are returned secret too
    /// ([`keep_derived_secrets`]); `fluxObjects` derives from every input.
    fn derived_outputs(&self) -> &'static [(&'static str, &'static [&'static str])] {
        &[]
    }
    /// The input paths the schema marks secret (credentials, keys).
    fn secret_inputs(&self) -> &'static [&'static str];
    /// Whether the engine should refresh this resource before every update.
    fn refresh_before_update(&self, inputs: &Value) -> bool;
    /// An output a refresh found out of date while the inputs stayed the same (an
    /// ImagePolicy's `minimumAge` selection that matured): `Diff` then asks for an update,
    /// which recomputes it under the new inputs (so a `hold` added now still holds).
    fn pending_change(&self, _olds: &Value) -> Option<&'static str> {
        None
    }
    /// `Create`; with `preview` nothing is written anywhere.
    async fn create(
        &self,
        ctx: &Ctx,
        inputs: &Value,
        preview: bool,
    ) -> Result<(String, Value), OpError>;
    /// `Update`; with `preview` nothing is written anywhere.
    async fn update(
        &self,
        ctx: &Ctx,
        id: &str,
        olds: &Value,
        news: &Value,
        preview: bool,
    ) -> Result<Value, OpError>;
    /// `Read` (refresh, refresh-before-update, import: then `outputs` is absent).
    async fn read(
        &self,
        ctx: &Ctx,
        id: &str,
        outputs: Option<&Value>,
        inputs: Option<&Value>,
    ) -> Result<ReadResult, OpError>;
    /// `Delete`: idempotent.
    async fn delete(&self, ctx: &Ctx, id: &str, outputs: &Value) -> Result<(), OpError>;
}

/// Wraps as secret the outputs that derive from an input the program marked secret (Pulumi:
/// what is computed from a secret stays secret): the resource's
/// [`Resource::derived_outputs`], and `fluxObjects` when any input holds such a secret. The
/// schema's own secret inputs ([`Resource::secret_inputs`]: passwords, tokens, keys) do not
/// count: no computed output carries them (`fluxObjects` redacts Secret data).
pub fn keep_derived_secrets(resource: &dyn Resource, inputs: &Value, outputs: &mut Value) {
    let mut marked = inputs.clone();
    if let Value::Object(map) = &mut marked {
        for path in resource.secret_inputs() {
            remove_path(map, path);
        }
    }
    let holds_secret = |path: &str| {
        path.split('.')
            .try_fold(&marked, |v, key| v.get(key))
            .is_some_and(|v| codec::reveal(v).1)
    };
    let mut wrap = |key: &str| {
        if let Some(v) = outputs.get_mut(key)
            && !v.is_null()
            && !codec::is_unknown(v)
        {
            *v = codec::secret(v.take());
        }
    };
    for (input, keys) in resource.derived_outputs() {
        if holds_secret(input) {
            keys.iter().for_each(|k| wrap(k));
        }
    }
    if codec::reveal(&marked).1 {
        wrap(cluster::FLUX_OBJECTS);
    }
}

/// Removes the value at a dotted object path.
fn remove_path(map: &mut serde_json::Map<String, Value>, path: &str) {
    match path.split_once('.') {
        None => {
            map.remove(path);
        }
        Some((head, rest)) => {
            if let Some(Value::Object(child)) = map.get_mut(head) {
                remove_path(child, rest);
            }
        }
    }
}

/// The resource implementing `token`, if any.
pub fn for_token(token: &str) -> Option<&'static dyn Resource> {
    match token {
        crate::schema::IMAGE_REPOSITORY => Some(&image_repository::ImageRepository),
        crate::schema::IMAGE_POLICY => Some(&image_policy::ImagePolicy),
        crate::schema::UPDATE_AUTOMATION => Some(&update_automation::UpdateAutomation),
        _ => None,
    }
}

/// The detailed diff of two input values: one entry per changed leaf, with
/// Pulumi property paths (`a.b`, `a[0]`, `a["x.y"]`). Secrets are compared by
/// value; an unknown new value is a change.
pub fn diff_inputs(old: &Value, new: &Value) -> Vec<(String, Kind)> {
    let (old, _) = codec::reveal(old);
    let (new, _) = codec::reveal(new);
    let mut out = Vec::new();
    diff_into(&old, &new, "", &mut out);
    out
}

fn join_key(prefix: &str, key: &str) -> String {
    let plain = !key.is_empty()
        && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !key.starts_with(|c: char| c.is_ascii_digit());
    match (prefix.is_empty(), plain) {
        (true, true) => key.to_owned(),
        (false, true) => format!("{prefix}.{key}"),
        (_, false) => format!("{prefix}[{}]", serde_json::Value::String(key.to_owned())),
    }
}

fn diff_into(old: &Value, new: &Value, path: &str, out: &mut Vec<(String, Kind)>) {
    match (old, new) {
        (Value::Object(o), Value::Object(n)) => {
            let mut keys: Vec<&String> = o.keys().chain(n.keys()).collect();
            keys.sort();
            keys.dedup();
            for key in keys {
                let child = join_key(path, key);
                match (o.get(key), n.get(key)) {
                    (Some(a), Some(b)) => diff_into(a, b, &child, out),
                    (None, Some(b)) if !b.is_null() => out.push((child, Kind::Add)),
                    (Some(a), None) if !a.is_null() => out.push((child, Kind::Delete)),
                    _ => {}
                }
            }
        }
        (Value::Array(o), Value::Array(n)) => {
            for i in 0..o.len().max(n.len()) {
                let child = format!("{path}[{i}]");
                match (o.get(i), n.get(i)) {
                    (Some(a), Some(b)) => diff_into(a, b, &child, out),
                    (None, Some(_)) => out.push((child, Kind::Add)),
                    (Some(_), None) => out.push((child, Kind::Delete)),
                    (None, None) => {}
                }
            }
        }
        (a, b) if a == b && !codec::is_unknown(b) => {}
        (Value::Null, _) => out.push((path.to_owned(), Kind::Add)),
        (_, Value::Null) => out.push((path.to_owned(), Kind::Delete)),
        _ => out.push((path.to_owned(), Kind::Update)),
    }
}

/// The `detailedDiff` map of a diff, every entry an input diff.
pub fn detailed_diff(entries: &[(String, Kind)]) -> HashMap<String, PropertyDiff> {
    entries
        .iter()
        .map(|(path, kind)| {
            (
                path.clone(),
                PropertyDiff {
                    kind: *kind as i32,
                    input_diff: true,
                },
            )
        })
        .collect()
}

/// The top-level property of a path (`policies[0].latestRef.tag` -> `policies`).
pub fn top_level(path: &str) -> String {
    let end = path.find(['.', '[']).unwrap_or(path.len());
    if end == 0 {
        // `["x.y"]...`: a quoted top-level key.
        let rest = &path[1..];
        let close = rest.find(']').unwrap_or(rest.len());
        return serde_json::from_str(&rest[..close]).unwrap_or_default();
    }
    path[..end].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn diff_paths_name_the_changed_inputs() {
        let old =
            json!({"policies": [{"latestRef": {"name": "x", "tag": "5.0.0"}}], "suspend": false});
        let new = json!({"policies": [{"latestRef": {"name": "x", "tag": "5.0.3"}}], "suspend": false, "a.b": 1});
        let d = diff_inputs(&old, &new);
        assert_eq!(
            d,
            vec![
                ("[\"a.b\"]".to_owned(), Kind::Add),
                ("policies[0].latestRef.tag".to_owned(), Kind::Update),
            ]
        );
        assert_eq!(top_level("policies[0].latestRef.tag"), "policies");
        assert_eq!(top_level("[\"a.b\"]"), "a.b");
    }

    #[test]
    fn secrets_compare_by_value_and_unknowns_are_changes() {
        let old = json!({"p": codec::secret(json!("x"))});
        assert!(diff_inputs(&old, &json!({"p": "x"})).is_empty());
        let unknown = json!({"p": codec::UNKNOWN});
        assert_eq!(
            diff_inputs(&old, &unknown),
            vec![("p".to_owned(), Kind::Update)]
        );
    }
}
