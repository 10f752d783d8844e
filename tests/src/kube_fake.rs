//! A FAKE Kubernetes API server, served in-process by axum on
//! `127.0.0.1:0`. No Kubernetes API server can run on the test machines, so
//! this is one of the two places (with the GitHub REST API) where the tests
//! use a fake. It implements exactly the requests `imageautomation-kube`'s
//! `Applier` makes, for the kinds it renders (core `v1` Secret, Flux
//! `GitRepository`, `ImageRepository`, `ImagePolicy`,
//! `ImageUpdateAutomation`), on the namespaced object path
//! (`/api/v1/namespaces/{ns}/secrets/{name}`,
//! `/apis/{group}/{version}/namespaces/{ns}/{plural}/{name}`):
//!
//! - `PATCH` with `Content-Type: application/apply-patch+yaml` (server-side
//!   apply): `fieldManager` required, `dryRun=All` computes the answer
//!   without storing, `force=true` takes ownership, `fieldValidation` is
//!   checked for a known value but validation is always strict (what the
//!   applier asks for). The body must be a
//!   complete object of the URL's kind and name; it is validated, and so is
//!   the merged result after CRD defaulting, against the real CRD schemas
//!   and the core Secret rules ([`crate::kube_schema`]): 422 `Invalid` with
//!   causes otherwise. Ownership is kept per leaf field and manager, like
//!   `metadata.managedFields` (which the answers carry as `FieldsV1`): a
//!   field another manager owns with a different value is a 409 `Conflict`
//!   with `FieldManagerConflict` causes, worded as the real API server
//!   words them; fields the applier owned alone and no longer sends are
//!   removed. An apply that changes nothing keeps `resourceVersion`.
//! - `GET`: 200 with the object, or 404 `NotFound`.
//! - `DELETE`: 200 with the object, or 404 `NotFound`.
//!
//! Every request needs `Authorization: Bearer <token>` (401 otherwise) and
//! is recorded ([`FakeKubeApi::calls`]). [`FakeKubeApi::edit`] and
//! [`FakeKubeApi::remove`] change objects behind the applier's back, as
//! `kubectl edit` and `kubectl delete` would; [`FakeKubeApi::uninstall`]
//! and [`FakeKubeApi::restrict_namespaces`] answer 404 as a cluster without
//! a CRD or a namespace does. Simplifications: lists are
//! atomic, there is no watch, list, discovery, finalizers or admission.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use serde_json::{Map, Value, json};

use crate::kube_schema::schemas;

/// The bearer token the fake accepts (written into [`FakeKubeApi::kubeconfig`]).
pub const TOKEN: &str = "fake-kube-token";
/// A fixed timestamp for `creationTimestamp` and `managedFields[].time`.
const TIME: &str = "2026-01-01T00:00:00Z";

/// One request the fake received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// `GET`, `PATCH`, `DELETE`, ...
    pub method: String,
    /// The URL path.
    pub path: String,
    /// The query parameters.
    pub query: BTreeMap<String, String>,
    /// The `Content-Type` header, if any.
    pub content_type: Option<String>,
    /// The status code the fake answered.
    pub status: u16,
}

type FieldPath = Vec<String>;

#[derive(Clone)]
struct Stored {
    object: Value,
    owners: BTreeMap<FieldPath, BTreeSet<String>>,
    operations: BTreeMap<String, &'static str>,
}

#[derive(Default)]
struct Inner {
    /// Plurals whose CRD is "not installed".
    uninstalled: BTreeSet<String>,
    /// When set, the only namespaces that exist.
    namespaces: Option<BTreeSet<String>>,
    objects: BTreeMap<(String, String, String), Stored>,
    calls: Vec<Call>,
    resource_version: u64,
}

/// The running fake; stops when dropped.
pub struct FakeKubeApi {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    inner: Arc<Mutex<Inner>>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

/// `(group, version, plural)` -> (`apiVersion`, `kind`) of the kinds served.
fn resource(group: &str, version: &str, plural: &str) -> Option<(&'static str, &'static str)> {
    imageautomation_kube::Kind::ALL
        .into_iter()
        .find(|k| k.group() == group && k.version() == version && k.plural() == plural)
        .map(|k| (k.api_version(), k.as_str()))
}

impl FakeKubeApi {
    /// Starts the fake. Call inside a tokio runtime.
    ///
    /// # Panics
    /// When 127.0.0.1 cannot be bound.
    pub async fn start() -> FakeKubeApi {
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local addr");
        let inner = Arc::new(Mutex::new(Inner::default()));
        let app = Router::new()
            .route(
                "/api/{version}/namespaces/{ns}/{plural}/{name}",
                any(
                    |State(s): State<Arc<Mutex<Inner>>>,
                     method: Method,
                     Path((version, ns, plural, name)): Path<(String, String, String, String)>,
                     Query(q): Query<BTreeMap<String, String>>,
                     headers: HeaderMap,
                     body: Bytes| async move {
                        handle(
                            &s, method, "", &version, &ns, &plural, &name, q, &headers, &body,
                        )
                    },
                ),
            )
            .route(
                "/apis/{group}/{version}/namespaces/{ns}/{plural}/{name}",
                any(
                    |State(s): State<Arc<Mutex<Inner>>>,
                     method: Method,
                     Path((group, version, ns, plural, name)): Path<(
                        String,
                        String,
                        String,
                        String,
                        String,
                    )>,
                     Query(q): Query<BTreeMap<String, String>>,
                     headers: HeaderMap,
                     body: Bytes| async move {
                        handle(
                            &s, method, &group, &version, &ns, &plural, &name, q, &headers, &body,
                        )
                    },
                ),
            )
            .fallback(|method: Method, uri: axum::http::Uri| async move {
                status_response(
                    StatusCode::NOT_FOUND,
                    "NotFound",
                    &format!("the fake serves no {method} {uri}"),
                    json!({}),
                )
            })
            .with_state(inner.clone());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
        });
        FakeKubeApi {
            url: format!("http://{addr}"),
            inner,
            shutdown: Some(tx),
        }
    }

    /// A kubeconfig (YAML) pointing at the fake: context `fake`, namespace
    /// `default`, user with [`TOKEN`].
    pub fn kubeconfig(&self) -> String {
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster:\n    server: {}\n\
             contexts:\n- name: fake\n  context:\n    cluster: fake\n    user: fake\n    namespace: default\n\
             current-context: fake\nusers:\n- name: fake\n  user:\n    token: {TOKEN}\n",
            self.url
        )
    }

    /// Every request so far, in order.
    pub fn calls(&self) -> Vec<Call> {
        self.inner.lock().expect("lock").calls.clone()
    }

    /// The stored object, `None` when absent.
    pub fn object(&self, plural: &str, namespace: &str, name: &str) -> Option<Value> {
        let inner = self.inner.lock().expect("lock");
        inner
            .objects
            .get(&(plural.to_owned(), namespace.to_owned(), name.to_owned()))
            .map(|s| s.object.clone())
    }

    /// Number of stored objects.
    pub fn len(&self) -> usize {
        self.inner.lock().expect("lock").objects.len()
    }

    /// True when nothing is stored.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Changes a field as another client's update (`kubectl edit`) would:
    /// sets `path` (`["spec", "interval"]`) to `value`, and `manager` takes
    /// sole ownership of it (operation `Update`).
    ///
    /// # Panics
    /// When the object does not exist.
    pub fn edit(
        &self,
        plural: &str,
        namespace: &str,
        name: &str,
        path: &[&str],
        value: Value,
        manager: &str,
    ) {
        let mut inner = self.inner.lock().expect("lock");
        inner.resource_version += 1;
        let rv = inner.resource_version;
        let stored = inner
            .objects
            .get_mut(&(plural.to_owned(), namespace.to_owned(), name.to_owned()))
            .expect("object to edit exists");
        let path: FieldPath = path.iter().map(|s| (*s).to_owned()).collect();
        set_path(&mut stored.object, &path, value);
        stored
            .owners
            .insert(path, BTreeSet::from([manager.to_owned()]));
        stored.operations.insert(manager.to_owned(), "Update");
        bump(&mut stored.object, rv, true);
        let managed = managed_fields(stored);
        stored.object["metadata"]["managedFields"] = managed;
    }

    /// Stops serving a resource (`imageupdateautomations`), as a cluster
    /// without that CRD: every request on it is a 404 for the resource.
    pub fn uninstall(&self, plural: &str) {
        self.inner
            .lock()
            .expect("lock")
            .uninstalled
            .insert(plural.to_owned());
    }

    /// From now on only these namespaces exist; an apply elsewhere is a 404
    /// `namespaces "x" not found` (by default every namespace exists).
    pub fn restrict_namespaces(&self, namespaces: &[&str]) {
        self.inner.lock().expect("lock").namespaces =
            Some(namespaces.iter().map(|n| (*n).to_owned()).collect());
    }

    /// Deletes an object behind the applier's back (`kubectl delete`).
    pub fn remove(&self, plural: &str, namespace: &str, name: &str) -> bool {
        let mut inner = self.inner.lock().expect("lock");
        inner
            .objects
            .remove(&(plural.to_owned(), namespace.to_owned(), name.to_owned()))
            .is_some()
    }
}

impl Drop for FakeKubeApi {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// A `metav1.Status` failure answer.
fn status_response(code: StatusCode, reason: &str, message: &str, details: Value) -> Response {
    let mut body = json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": message, "reason": reason, "code": code.as_u16(),
    });
    if details.as_object().is_some_and(|d| !d.is_empty()) {
        body["details"] = details;
    }
    (code, axum::Json(body)).into_response()
}

#[allow(clippy::too_many_arguments)]
fn handle(
    state: &Arc<Mutex<Inner>>,
    method: Method,
    group: &str,
    version: &str,
    ns: &str,
    plural: &str,
    name: &str,
    query: BTreeMap<String, String>,
    headers: &HeaderMap,
    body: &[u8],
) -> Response {
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let path = if group.is_empty() {
        format!("/api/{version}/namespaces/{ns}/{plural}/{name}")
    } else {
        format!("/apis/{group}/{version}/namespaces/{ns}/{plural}/{name}")
    };
    let mut inner = state.lock().expect("lock");
    let response = serve(
        &mut inner,
        &method,
        group,
        version,
        ns,
        plural,
        name,
        &query,
        headers,
        content_type.as_deref(),
        body,
    );
    inner.calls.push(Call {
        method: method.to_string(),
        path,
        query,
        content_type,
        status: response.status().as_u16(),
    });
    response
}

#[allow(clippy::too_many_arguments)]
fn serve(
    inner: &mut Inner,
    method: &Method,
    group: &str,
    version: &str,
    ns: &str,
    plural: &str,
    name: &str,
    query: &BTreeMap<String, String>,
    headers: &HeaderMap,
    content_type: Option<&str>,
    body: &[u8],
) -> Response {
    let authorized = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == format!("Bearer {TOKEN}"));
    if !authorized {
        return status_response(
            StatusCode::UNAUTHORIZED,
            "Unauthorized",
            "Unauthorized",
            json!({}),
        );
    }
    let served = resource(group, version, plural).filter(|_| !inner.uninstalled.contains(plural));
    let Some((api_version, kind)) = served else {
        return status_response(
            StatusCode::NOT_FOUND,
            "NotFound",
            "the server could not find the requested resource",
            json!({}),
        );
    };
    let resource_name = if group.is_empty() {
        plural.to_owned()
    } else {
        format!("{plural}.{group}")
    };
    let not_found = || {
        status_response(
            StatusCode::NOT_FOUND,
            "NotFound",
            &format!("{resource_name} \"{name}\" not found"),
            json!({"name": name, "group": group, "kind": plural}),
        )
    };
    let key = (plural.to_owned(), ns.to_owned(), name.to_owned());
    match *method {
        Method::GET => match inner.objects.get(&key) {
            Some(s) => (StatusCode::OK, axum::Json(s.object.clone())).into_response(),
            None => not_found(),
        },
        Method::DELETE => match inner.objects.remove(&key) {
            Some(s) => (StatusCode::OK, axum::Json(s.object)).into_response(),
            None => not_found(),
        },
        Method::PATCH => {
            if content_type != Some("application/apply-patch+yaml") {
                return status_response(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "UnsupportedMediaType",
                    &format!(
                        "the fake implements only server-side apply, got Content-Type {content_type:?}"
                    ),
                    json!({}),
                );
            }
            let Some(manager) = query.get("fieldManager").filter(|m| !m.is_empty()) else {
                return status_response(
                    StatusCode::BAD_REQUEST,
                    "BadRequest",
                    "PATCH, fieldManager: Required value: is required for apply patch",
                    json!({}),
                );
            };
            let dry_run = match query.get("dryRun").map(String::as_str) {
                None => false,
                Some("All") => true,
                Some(other) => {
                    return status_response(
                        StatusCode::BAD_REQUEST,
                        "BadRequest",
                        &format!("dryRun: Unsupported value: {other:?}: supported values: \"All\""),
                        json!({}),
                    );
                }
            };
            if inner
                .namespaces
                .as_ref()
                .is_some_and(|set| !set.contains(ns))
            {
                return status_response(
                    StatusCode::NOT_FOUND,
                    "NotFound",
                    &format!("namespaces \"{ns}\" not found"),
                    json!({"name": ns, "kind": "namespaces"}),
                );
            }
            if let Some(v) = query.get("fieldValidation")
                && !matches!(v.as_str(), "Strict" | "Warn" | "Ignore")
            {
                return status_response(
                    StatusCode::BAD_REQUEST,
                    "BadRequest",
                    &format!("fieldValidation: Unsupported value: {v:?}"),
                    json!({}),
                );
            }
            let force = query.get("force").map(String::as_str) == Some("true");
            let config: Value = match serde_norway::from_slice(body) {
                Ok(v) => v,
                Err(e) => {
                    return status_response(
                        StatusCode::BAD_REQUEST,
                        "BadRequest",
                        &format!("error decoding YAML: {e}"),
                        json!({}),
                    );
                }
            };
            let mismatch = |what: &str| {
                status_response(
                    StatusCode::BAD_REQUEST,
                    "BadRequest",
                    &format!("the body's {what} does not match the URL"),
                    json!({}),
                )
            };
            if config["apiVersion"] != api_version || config["kind"] != kind {
                return mismatch("apiVersion/kind");
            }
            if config["metadata"]["name"] != name {
                return mismatch("metadata.name");
            }
            if config["metadata"].get("namespace").is_some_and(|n| n != ns) {
                return mismatch("metadata.namespace");
            }
            if let Err(errors) = schemas().validate(&config) {
                return invalid(kind, name, group, plural, &errors);
            }
            apply(
                inner,
                key,
                &config,
                manager,
                force,
                dry_run,
                api_version,
                kind,
                group,
                plural,
            )
        }
        _ => status_response(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            &format!("the fake does not implement {method} on objects"),
            json!({}),
        ),
    }
}

fn invalid(kind: &str, name: &str, group: &str, plural: &str, errors: &[String]) -> Response {
    let causes: Vec<Value> = errors
        .iter()
        .map(|e| {
            let (field, message) = e.split_once(": ").unwrap_or(("", e));
            json!({"reason": "FieldValueInvalid", "message": message, "field": field})
        })
        .collect();
    status_response(
        StatusCode::UNPROCESSABLE_ENTITY,
        "Invalid",
        &format!(
            "{kind}.{group} \"{name}\" is invalid: {}",
            errors.join(", ")
        ),
        json!({"name": name, "group": group, "kind": plural, "causes": causes}),
    )
}

#[allow(clippy::too_many_arguments)]
fn apply(
    inner: &mut Inner,
    key: (String, String, String),
    config: &Value,
    manager: &str,
    force: bool,
    dry_run: bool,
    api_version: &str,
    kind: &str,
    group: &str,
    plural: &str,
) -> Response {
    let (_, ns, name) = key.clone();
    let leaves = leaves(config);
    let leaf_paths: BTreeSet<FieldPath> = leaves.iter().map(|(p, _)| p.clone()).collect();
    let old = inner.objects.get(&key).cloned();

    let mut conflicts: Vec<(FieldPath, String)> = Vec::new();
    if let Some(st) = &old {
        for (p, v) in &leaves {
            let others: Vec<&String> = st
                .owners
                .get(p)
                .into_iter()
                .flatten()
                .filter(|m| *m != manager)
                .collect();
            if !others.is_empty() && get_path(&st.object, p) != Some(v) {
                conflicts.extend(others.into_iter().map(|o| (p.clone(), o.clone())));
            }
        }
    }
    if !conflicts.is_empty() && !force {
        let n = conflicts.len();
        let causes: Vec<Value> = conflicts
            .iter()
            .map(|(p, m)| {
                json!({"reason": "FieldManagerConflict",
                       "message": format!("conflict with \"{m}\" using {api_version}"),
                       "field": dotted(p)})
            })
            .collect();
        let message = if n == 1 {
            let (p, m) = &conflicts[0];
            format!(
                "Apply failed with 1 conflict: conflict with \"{m}\" using {api_version}: {}",
                dotted(p)
            )
        } else {
            let managers: BTreeSet<&String> = conflicts.iter().map(|(_, m)| m).collect();
            let list: Vec<String> = conflicts
                .iter()
                .map(|(p, _)| format!("- {}", dotted(p)))
                .collect();
            format!(
                "Apply failed with {n} conflicts: conflicts with {} using {api_version}:\n{}",
                managers
                    .iter()
                    .map(|m| format!("\"{m}\""))
                    .collect::<Vec<_>>()
                    .join(", "),
                list.join("\n")
            )
        };
        return status_response(
            StatusCode::CONFLICT,
            "Conflict",
            &message,
            json!({"name": name, "group": group, "kind": plural, "causes": causes}),
        );
    }

    let mut object = match &old {
        Some(st) => st.object.clone(),
        None => json!({"apiVersion": api_version, "kind": kind,
                       "metadata": {"name": name, "namespace": ns}}),
    };
    let mut owners = old.as_ref().map(|s| s.owners.clone()).unwrap_or_default();
    let mut operations = old
        .as_ref()
        .map(|s| s.operations.clone())
        .unwrap_or_default();
    // Fields this manager owned alone and no longer applies are removed.
    for (p, mgrs) in &owners {
        if mgrs.len() == 1 && mgrs.contains(manager) && !leaf_paths.contains(p) {
            remove_path(&mut object, p);
        }
    }
    for set in owners.values_mut() {
        set.remove(manager);
    }
    if force {
        for (p, _) in &conflicts {
            owners.remove(p);
        }
    }
    for (p, v) in &leaves {
        set_path(&mut object, p, (*v).clone());
        owners
            .entry(p.clone())
            .or_default()
            .insert(manager.to_owned());
    }
    owners.retain(|_, m| !m.is_empty());
    operations.insert(manager.to_owned(), "Apply");
    let live: BTreeSet<&String> = owners.values().flatten().collect();
    operations.retain(|m, _| live.contains(m));
    schemas().apply_defaults(&mut object);
    if let Err(errors) = schemas().validate(&object) {
        return invalid(kind, &name, group, plural, &errors);
    }
    if let Some(st) = &old
        && st.object["type"] != object["type"]
        && kind == "Secret"
    {
        return invalid(
            kind,
            &name,
            group,
            plural,
            &["/type: field is immutable".to_owned()],
        );
    }

    let mut stored = Stored {
        object,
        owners,
        operations,
    };
    let changed = match &old {
        None => true,
        Some(st) => {
            strip_server_fields(&st.object) != strip_server_fields(&stored.object)
                || st.owners != stored.owners
        }
    };
    if !changed {
        let st = old.expect("unchanged implies it existed");
        return (StatusCode::OK, axum::Json(st.object)).into_response();
    }
    let rv = inner.resource_version + 1;
    let content_changed = match &old {
        None => true,
        Some(st) => without_metadata(&st.object) != without_metadata(&stored.object),
    };
    if old.is_none() {
        stored.object["metadata"]["uid"] = json!(format!("00000000-0000-4000-8000-{rv:012}"));
        stored.object["metadata"]["creationTimestamp"] = json!(TIME);
        stored.object["metadata"]["generation"] = json!(0);
    }
    bump(&mut stored.object, rv, content_changed);
    stored.object["metadata"]["managedFields"] = managed_fields(&stored);
    let answer = stored.object.clone();
    if !dry_run {
        inner.resource_version = rv;
        inner.objects.insert(key, stored);
    }
    let code = if old.is_none() {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    (code, axum::Json(answer)).into_response()
}

fn bump(object: &mut Value, rv: u64, content_changed: bool) {
    object["metadata"]["resourceVersion"] = json!(rv.to_string());
    if content_changed {
        let g = object["metadata"]["generation"].as_i64().unwrap_or(0);
        object["metadata"]["generation"] = json!(g + 1);
    }
}

fn strip_server_fields(object: &Value) -> Value {
    let mut o = object.clone();
    if let Some(m) = o["metadata"].as_object_mut() {
        for k in [
            "resourceVersion",
            "generation",
            "managedFields",
            "uid",
            "creationTimestamp",
        ] {
            m.remove(k);
        }
    }
    o
}

fn without_metadata(object: &Value) -> Value {
    let mut o = object.clone();
    if let Some(m) = o.as_object_mut() {
        m.remove("metadata");
    }
    o
}

/// `metadata.managedFields` in `FieldsV1` form (`{"f:spec": {"f:interval": {}}}`).
fn managed_fields(stored: &Stored) -> Value {
    let api_version = stored.object["apiVersion"].clone();
    let entries: Vec<Value> = stored
        .operations
        .iter()
        .map(|(manager, operation)| {
            let mut tree = Map::new();
            for (path, mgrs) in &stored.owners {
                if !mgrs.contains(manager) {
                    continue;
                }
                let mut node = &mut tree;
                for seg in path {
                    node = node
                        .entry(format!("f:{seg}"))
                        .or_insert_with(|| json!({}))
                        .as_object_mut()
                        .expect("fields tree nodes are objects");
                }
            }
            json!({"manager": manager, "operation": operation, "apiVersion": api_version,
                   "time": TIME, "fieldsType": "FieldsV1", "fieldsV1": tree})
        })
        .collect();
    Value::Array(entries)
}

/// The leaf fields of an apply configuration (maps recursed, lists and
/// empty maps atomic), without the identity fields nobody owns.
fn leaves(config: &Value) -> Vec<(FieldPath, &Value)> {
    fn walk<'a>(v: &'a Value, path: &mut FieldPath, out: &mut Vec<(FieldPath, &'a Value)>) {
        match v {
            Value::Object(m) if !m.is_empty() => {
                for (k, child) in m {
                    path.push(k.clone());
                    walk(child, path, out);
                    path.pop();
                }
            }
            _ => out.push((path.clone(), v)),
        }
    }
    let mut out = Vec::new();
    walk(config, &mut Vec::new(), &mut out);
    out.retain(|(p, _)| {
        let p: Vec<&str> = p.iter().map(String::as_str).collect();
        !matches!(
            p.as_slice(),
            ["apiVersion"]
                | ["kind"]
                | ["metadata", "name"]
                | ["metadata", "namespace"]
                | ["status", ..]
        )
    });
    out
}

fn dotted(path: &FieldPath) -> String {
    path.iter().map(|s| format!(".{s}")).collect()
}

fn get_path<'a>(v: &'a Value, path: &FieldPath) -> Option<&'a Value> {
    path.iter().try_fold(v, |node, seg| node.get(seg))
}

fn set_path(v: &mut Value, path: &FieldPath, value: Value) {
    let mut node = v;
    for seg in &path[..path.len().saturating_sub(1)] {
        if !node.get(seg).is_some_and(Value::is_object) {
            node[seg] = json!({});
        }
        node = &mut node[seg];
    }
    if let Some(last) = path.last() {
        node[last] = value;
    }
}

/// Removes the field and any map it leaves empty (never `metadata` itself).
fn remove_path(v: &mut Value, path: &FieldPath) {
    fn rec(node: &mut Value, path: &[String]) {
        let Some((first, rest)) = path.split_first() else {
            return;
        };
        let Some(map) = node.as_object_mut() else {
            return;
        };
        if rest.is_empty() {
            map.remove(first);
            return;
        }
        if let Some(child) = map.get_mut(first) {
            rec(child, rest);
            if child.as_object().is_some_and(Map::is_empty) && first != "metadata" {
                map.remove(first);
            }
        }
    }
    rec(v, path);
}
