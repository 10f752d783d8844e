//! Cluster mode (provider config `kubernetes`): each resource's checked
//! inputs mapped to the `imageautomation_kube` input structs, the rendered
//! Flux objects and Secrets server-side applied (`dryRun=All` in previews),
//! read back for drift, and deleted with the resource.
//!
//! The resource modules know nothing of this: `provider.rs` calls
//! [`sync`] after `Create`/`Update`, [`observe`] after `Read`, [`remove`]
//! before `Delete` and [`drifted`] in `Diff`, and puts the result in the
//! output `fluxObjects` (the rendered objects, Secret data redacted).

use imageautomation_engine::flux_objects::{
    Defaults, image_policy_input, image_repository_input, update_automation_input,
};
use imageautomation_kube::{
    Applier, ApplyMode, Change, DeleteOutcome, Error as KubeError, Kind, Manifest, REDACTED,
    SecretsMode, render_image_policy, render_image_repository, render_update_automation,
};
use imageautomation_model::args;
use imageautomation_proto::codec;
use serde_json::{Map, Value};

use super::{Ctx, OpError};
use crate::config::Failure;
use crate::schema;

/// The output holding the rendered objects.
pub const FLUX_OBJECTS: &str = "fluxObjects";

/// What a drifted Secret value shows in `fluxObjects` after a refresh (the
/// data itself is never shown).
pub const CHANGED_IN_CLUSTER: &str = "[redacted; differs in the cluster]";

/// Whether cluster mode is on.
pub fn enabled(ctx: &Ctx) -> bool {
    ctx.config.kubernetes.is_some()
}

/// Maps a kube error to the gRPC classification (HOUSE_STYLE "Errors" 3).
/// The kube crate's messages never hold Secret data or kubeconfig contents.
pub fn kube_error(e: KubeError) -> OpError {
    let message = e.to_string();
    match &e {
        KubeError::InvalidInput { .. } => OpError::InvalidArgument(message),
        KubeError::NoKubeconfig | KubeError::Kubeconfig { .. } => OpError::InvalidArgument(
            format!("cluster mode (imageautomation:kubernetes): {message}"),
        ),
        KubeError::Client { .. } => OpError::FailedPrecondition(message),
        KubeError::Conflict { .. } | KubeError::NotServed { .. } => {
            OpError::FailedPrecondition(message)
        }
        KubeError::Rejected { code: 401, .. } => OpError::Unauthenticated(message),
        KubeError::Rejected { code: 403, .. } => OpError::PermissionDenied(message),
        KubeError::Rejected {
            code: 400 | 422, ..
        } => OpError::InvalidArgument(message),
        KubeError::Rejected { .. } => OpError::FailedPrecondition(message),
        KubeError::Server { .. } | KubeError::UnexpectedResponse { .. } => {
            OpError::Unavailable(message)
        }
        KubeError::Unreachable { .. } => OpError::Unavailable(format!(
            "{message} (cluster mode: check imageautomation:kubernetes, or set its enabled: false)"
        )),
    }
}

/// What the inputs leave open, from the provider configuration: the
/// namespace, the resource name, `registryAuth` and `githubToken` (the Docker
/// config file of the machine running Pulumi is not copied into the cluster).
fn defaults(ctx: &Ctx) -> Defaults {
    Defaults {
        namespace: ctx.config.flux_namespace.clone(),
        name: ctx.name.clone(),
        registry_auth: ctx
            .config
            .registry_auth
            .iter()
            .map(|a| (a.address.clone(), (a.username.clone(), a.password.clone())))
            .collect(),
        github_token: ctx.config.github_token.clone(),
    }
}

/// `Check` in cluster mode: the inputs must also make valid Kubernetes
/// objects (a `name` that is a Kubernetes name, an interval Flux accepts);
/// the first problem as a failure on its property. Unknown inputs are not
/// checked.
pub fn check(ctx: &Ctx, token: &str, inputs: &Value) -> Option<Failure> {
    let (plain, _) = codec::reveal(inputs);
    if codec::contains_unknown(&plain) {
        return None;
    }
    let Err(e @ KubeError::InvalidInput { .. }) = render_kube(token, ctx, &plain) else {
        return None;
    };
    let property = match &e {
        KubeError::InvalidInput { field, .. } => (*field).to_owned(),
        _ => String::new(),
    };
    let hint = if property == "name" {
        " (cluster mode: the Flux object needs a Kubernetes name; set `name`, e.g. \"fleet-automation\")"
    } else {
        " (cluster mode)"
    };
    Some(Failure {
        property,
        reason: format!("{e}{hint}"),
    })
}

/// The objects of the resource `token` for its plain checked inputs, in
/// apply order (Secrets first), Secrets included.
///
/// # Errors
/// `InvalidArgument` for inputs Kubernetes or Flux would refuse.
pub fn render(token: &str, ctx: &Ctx, plain: &Value) -> Result<Vec<Manifest>, OpError> {
    render_kube(token, ctx, plain).map_err(kube_error)
}

/// [`render`] with the kube crate's error.
fn render_kube(token: &str, ctx: &Ctx, plain: &Value) -> Result<Vec<Manifest>, KubeError> {
    // Check has parsed the same values: a shape error here is not expected.
    let shape = |e: args::ShapeError| KubeError::InvalidInput {
        object: token.to_owned(),
        field: "inputs",
        reason: format!("{}: {}", e.property, e.reason),
    };
    match token {
        schema::IMAGE_REPOSITORY => render_image_repository(
            &image_repository_input(&args::parse(plain).map_err(shape)?, &defaults(ctx)),
            SecretsMode::Include,
        ),
        schema::IMAGE_POLICY => render_image_policy(&image_policy_input(
            &args::parse(plain).map_err(shape)?,
            &defaults(ctx),
        )?)
        .map(|m| vec![m]),
        schema::UPDATE_AUTOMATION => render_update_automation(
            &update_automation_input(&args::parse(plain).map_err(shape)?, &defaults(ctx))?,
            SecretsMode::Include,
        ),
        other => Err(KubeError::InvalidInput {
            object: other.to_owned(),
            field: "type",
            reason: "no Flux objects for this resource type".into(),
        }),
    }
}

/// The `fluxObjects` output: the objects with Secret data redacted.
pub fn flux_objects(manifests: &[Manifest]) -> Value {
    Value::Array(manifests.iter().map(Manifest::redacted).collect())
}

/// The objects recorded in `outputs.fluxObjects` (what the resource applied).
fn recorded(outputs: &Value) -> Vec<Manifest> {
    let (plain, _) = codec::reveal(outputs);
    plain
        .get(FLUX_OBJECTS)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|body| Manifest::from_body(body.clone()).ok())
        .collect()
}

async fn connect(ctx: &Ctx) -> Result<Applier, OpError> {
    let config = ctx
        .config
        .kubernetes
        .as_ref()
        .map(crate::config::KubernetesConfig::cluster_config)
        .unwrap_or_default();
    Applier::connect(&config).await.map_err(kube_error)
}

fn describe(change: &Change, preview: bool) -> String {
    let (verb, fields) = match change {
        Change::Created => ("created", String::new()),
        Change::Updated { fields } => ("updated", format!(" ({})", fields.join(", "))),
        Change::Unchanged => return "unchanged".into(),
    };
    if preview {
        format!("would be {verb}{fields}")
    } else {
        format!("{verb}{fields}")
    }
}

/// Applies the resource's objects (`ApplyMode::DryRun` in a preview) and
/// deletes the ones it applied before (`olds.fluxObjects`) that the new
/// inputs no longer render; every object is an info diagnostic. Returns the
/// `fluxObjects` output (unknown while inputs are unknown).
///
/// A preview that cannot reach the cluster logs a warning and goes on.
///
/// # Errors
/// `InvalidArgument` for unrenderable inputs or an unusable kubeconfig,
/// `FailedPrecondition` for a conflict with another field manager,
/// `Unavailable` when the cluster cannot be reached (not in preview).
pub async fn sync(
    ctx: &Ctx,
    token: &str,
    inputs: &Value,
    olds: &Value,
    preview: bool,
) -> Result<Value, OpError> {
    let (plain, _) = codec::reveal(inputs);
    if codec::contains_unknown(&plain) {
        return Ok(Value::String(codec::UNKNOWN.to_owned()));
    }
    let manifests = render(token, ctx, &plain)?;
    let output = flux_objects(&manifests);
    let removed = imageautomation_kube::removed_objects(&recorded(olds), &manifests);
    let result = async {
        let applier = connect(ctx).await?;
        let mode = if preview {
            ApplyMode::DryRun
        } else {
            ApplyMode::Apply
        };
        for manifest in &manifests {
            let outcome = applier.apply(manifest, mode).await.map_err(kube_error)?;
            ctx.log
                .info(
                    &ctx.urn,
                    format!("{}: {}", outcome.key, describe(&outcome.change, preview)),
                )
                .await;
        }
        for key in &removed {
            let what = if preview {
                "would be deleted (no longer declared)".to_owned()
            } else {
                match applier.delete(key).await.map_err(kube_error)? {
                    DeleteOutcome::Deleted => "deleted (no longer declared)".to_owned(),
                    DeleteOutcome::AlreadyGone => "already gone".to_owned(),
                }
            };
            ctx.log.info(&ctx.urn, format!("{key}: {what}")).await;
        }
        Ok::<(), OpError>(())
    }
    .await;
    match result {
        Err(OpError::Unavailable(reason)) if preview => {
            ctx.log
                .warning(
                    &ctx.urn,
                    format!(
                        "the preview cannot show what changes in the cluster: {reason}; `pulumi up` needs the cluster"
                    ),
                )
                .await;
            Ok(output)
        }
        Err(e) => Err(e),
        Ok(()) => Ok(output),
    }
}

/// The applied fields (`applied`'s shape; lists whole) as the cluster has
/// them; fields missing in the cluster are left out.
fn project(applied: &Value, live: &Value) -> Value {
    match (applied, live) {
        (Value::Object(a), Value::Object(l)) => Value::Object(
            a.iter()
                .filter_map(|(k, v)| l.get(k).map(|lv| (k.clone(), project(v, lv))))
                .collect::<Map<String, Value>>(),
        ),
        (_, live) => live.clone(),
    }
}

fn changed_paths(a: &Value, b: &Value, path: &str, out: &mut Vec<String>) {
    match (a, b) {
        (Value::Object(ma), Value::Object(mb)) => {
            for (k, v) in ma {
                let child = format!("{path}.{k}");
                match mb.get(k) {
                    Some(w) => changed_paths(v, w, &child, out),
                    None => out.push(child),
                }
            }
        }
        _ if a == b => {}
        _ => out.push(path.to_owned()),
    }
}

/// Refresh: reads the resource's objects from the cluster and returns the
/// `fluxObjects` output as the cluster has them (on the fields we apply): an
/// object deleted in the cluster is missing, a differing Secret value shows
/// [`CHANGED_IN_CLUSTER`]. Each drifted object is a warning diagnostic; the
/// next `Diff` then differs from what the inputs render and the update
/// re-applies it. The comparison is with what the inputs and the current
/// provider config render, so a rotated `githubToken` or `registryAuth`
/// password also shows as a Secret that differs, and the next update
/// applies the new one.
///
/// # Errors
/// As [`sync`] (a refresh needs the cluster).
pub async fn observe(ctx: &Ctx, token: &str, inputs: &Value) -> Result<Value, OpError> {
    let (plain, _) = codec::reveal(inputs);
    if codec::contains_unknown(&plain) {
        return Ok(Value::String(codec::UNKNOWN.to_owned()));
    }
    let manifests = render(token, ctx, &plain)?;
    let applier = connect(ctx).await?;
    let mut observed = Vec::with_capacity(manifests.len());
    for manifest in &manifests {
        let key = manifest.key();
        let Some(live) = applier.get(key).await.map_err(kube_error)? else {
            ctx.log
                .warning(
                    &ctx.urn,
                    format!("{key}: deleted in the cluster; the next update re-applies it"),
                )
                .await;
            continue;
        };
        let body = manifest.expose_body();
        let projected = project(body, &live);
        if projected == *body {
            observed.push(manifest.redacted());
            continue;
        }
        let mut fields = Vec::new();
        changed_paths(body, &projected, "", &mut fields);
        ctx.log
            .warning(
                &ctx.urn,
                format!(
                    "{key}: differs in the cluster from the declaration ({}); the next update re-applies it",
                    fields.join(", ")
                ),
            )
            .await;
        let mut shown = projected.clone();
        if key.kind == Kind::Secret
            && let Some(Value::Object(data)) = shown.get_mut("data")
        {
            for (k, v) in data.iter_mut() {
                let same = body.pointer("/data").and_then(|d| d.get(k)) == Some(&*v);
                *v = Value::String(if same { REDACTED } else { CHANGED_IN_CLUSTER }.to_owned());
            }
        }
        observed.push(shown);
    }
    Ok(Value::Array(observed))
}

/// Destroy: deletes the objects the resource applied (`outputs.fluxObjects`),
/// in reverse order; an object already gone is success.
///
/// # Errors
/// As [`sync`].
pub async fn remove(ctx: &Ctx, outputs: &Value) -> Result<(), OpError> {
    let applied = recorded(outputs);
    if applied.is_empty() {
        return Ok(());
    }
    let applier = connect(ctx).await?;
    for (key, outcome) in applier.delete_all(&applied).await.map_err(kube_error)? {
        let what = match outcome {
            DeleteOutcome::Deleted => "deleted",
            DeleteOutcome::AlreadyGone => "already gone",
        };
        ctx.log.info(&ctx.urn, format!("{key}: {what}")).await;
    }
    Ok(())
}

/// Whether the objects recorded in `olds` (after a refresh: as the cluster
/// has them) differ from what `news` render: drift, or cluster mode newly on.
/// False while `news` hold unknowns (the input diff speaks for them) or when
/// the inputs cannot be rendered (`Update` reports that).
pub fn drifted(ctx: &Ctx, token: &str, olds: &Value, news: &Value) -> bool {
    let (plain, _) = codec::reveal(news);
    if codec::contains_unknown(&plain) {
        return false;
    }
    let Ok(manifests) = render(token, ctx, &plain) else {
        return false;
    };
    let (old_plain, _) = codec::reveal(olds);
    let old = old_plain
        .get(FLUX_OBJECTS)
        .cloned()
        .unwrap_or(Value::Array(Vec::new()));
    old != flux_objects(&manifests)
}

/// Sets `fluxObjects` in `outputs` (an object).
pub fn set_output(outputs: &mut Value, flux_objects: Value) {
    if let Some(map) = outputs.as_object_mut() {
        map.insert(FLUX_OBJECTS.to_owned(), flux_objects);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rejected(code: u16) -> KubeError {
        KubeError::Rejected {
            object: "ImagePolicy flux-system/podinfo".into(),
            verb: "apply",
            code,
            reason: "x".into(),
            message: "m".into(),
        }
    }

    #[test]
    fn kube_errors_map_to_grpc_classes() {
        let conflict = kube_error(KubeError::Conflict {
            object: "ImageRepository flux-system/podinfo".into(),
            fields: vec![".spec.interval".into()],
            managers: vec!["kubectl-edit".into()],
        });
        match conflict {
            OpError::FailedPrecondition(m) => {
                assert!(
                    m.contains("kubectl-edit") && m.contains(".spec.interval"),
                    "{m}"
                );
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            kube_error(rejected(401)),
            OpError::Unauthenticated(_)
        ));
        assert!(matches!(
            kube_error(rejected(403)),
            OpError::PermissionDenied(_)
        ));
        assert!(matches!(
            kube_error(rejected(422)),
            OpError::InvalidArgument(_)
        ));
        assert!(matches!(
            kube_error(KubeError::NoKubeconfig),
            OpError::InvalidArgument(_)
        ));
        let server = KubeError::Server {
            object: "o".into(),
            verb: "get",
            code: 503,
            reason: "ServiceUnavailable".into(),
            message: "m".into(),
        };
        assert!(matches!(kube_error(server), OpError::Unavailable(_)));
    }

    #[test]
    fn projection_keeps_the_applied_shape_and_drops_what_is_gone() {
        let applied = json!({"spec": {"interval": "5m", "image": "x"}, "metadata": {"name": "a"}});
        let live = json!({"spec": {"interval": "1h"}, "metadata": {"name": "a", "uid": "u"}, "status": {}});
        let p = project(&applied, &live);
        assert_eq!(
            p,
            json!({"spec": {"interval": "1h"}, "metadata": {"name": "a"}})
        );
        let mut fields = Vec::new();
        changed_paths(&applied, &p, "", &mut fields);
        assert_eq!(fields, vec![".spec.image", ".spec.interval"]);
    }
}
