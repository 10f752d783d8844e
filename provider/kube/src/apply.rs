//! Applying: server-side apply with one field manager, dry runs for
//! previews, drift detection by GET, and idempotent DELETE.

use std::path::PathBuf;

use kube::api::{Api, DeleteParams, DynamicObject, Patch, PatchParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

use crate::error::{Error, Result};
use crate::manifest::{Manifest, ObjectKey, redact};

/// The field manager of every apply (`metadata.managedFields[].manager`).
/// Stable across versions: changing it would make the API server see a new
/// owner and report conflicts with our own earlier applies.
pub const FIELD_MANAGER: &str = "pulumi-imageautomation";

/// How long one request may wait for the API server's answer (kube-rs' own
/// connect timeout applies before that).
pub const READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// Where the kubeconfig comes from and which context to use (provider
/// config `kubernetes {kubeconfig, context}`).
#[derive(Debug, Clone, Default)]
pub struct ClusterConfig {
    /// The kubeconfig's contents, a path to it, or its base64 (secret: it
    /// may hold tokens and client keys). A value containing a newline or
    /// starting with `{` or `apiVersion` is contents; a one-line value is the
    /// path of a file when one exists there (`~/` expanded), else base64 of
    /// the contents. `None`: `KUBECONFIG`, then `~/.kube/config`.
    pub kubeconfig: Option<SecretString>,
    /// The context to use; `None` for the kubeconfig's `current-context`.
    pub context: Option<String>,
}

/// What an apply did, or with [`ApplyMode::DryRun`] would do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// The object did not exist and was (would be) created.
    Created,
    /// The object existed and these fields changed (`.spec.interval`, ...),
    /// as the API server's answer compared to the object before: includes
    /// fields removed because we no longer set them. Secret data shows only
    /// key names.
    Updated {
        /// Changed field paths, sorted.
        fields: Vec<String>,
    },
    /// The object already was as applied (the server kept its `resourceVersion`).
    Unchanged,
}

/// Whether an apply persists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApplyMode {
    /// Persist (Pulumi `create`/`update`).
    Apply,
    /// `dryRun=All`: the API server validates, defaults and reports the
    /// result without persisting (Pulumi preview).
    DryRun,
}

/// The result of applying one object.
#[derive(Debug, Clone)]
pub struct ApplyOutcome {
    /// Which object.
    pub key: ObjectKey,
    /// What changed.
    pub change: Change,
    /// The object as the API server returned it (after defaulting), Secret
    /// data redacted.
    pub live: Value,
}

/// The state of an applied object in the cluster compared to what was applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LiveState {
    /// Every field we applied has the value we applied (fields others added,
    /// CRD defaults and `status` are not drift).
    InSync,
    /// Someone changed or removed these fields (`.spec.interval`); sorted.
    Drifted {
        /// The field paths that differ from what was applied.
        fields: Vec<String>,
    },
    /// The object is gone from the cluster.
    Deleted,
}

/// What a delete did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeleteOutcome {
    /// The API server accepted the deletion (Flux finalizers may still run).
    Deleted,
    /// The object did not exist: nothing to do, which is success.
    AlreadyGone,
}

/// Applies, reads and deletes rendered objects with server-side apply under
/// [`FIELD_MANAGER`], never forcing ownership.
#[derive(Clone)]
pub struct Applier {
    client: kube::Client,
}

impl Applier {
    /// Connects using the kubeconfig described by `config` (see
    /// [`ClusterConfig`]); no request is sent yet.
    ///
    /// # Errors
    /// [`Error::NoKubeconfig`] when none is given or found,
    /// [`Error::Kubeconfig`] when it cannot be read or parsed or lacks the
    /// context, [`Error::Client`] when the TLS client cannot be built.
    pub async fn connect(config: &ClusterConfig) -> Result<Self> {
        let options = KubeConfigOptions {
            context: config.context.clone(),
            ..KubeConfigOptions::default()
        };
        let (kubeconfig, origin) = match &config.kubeconfig {
            Some(value) => kubeconfig_from_value(value.expose_secret())?,
            None => {
                let origin = "KUBECONFIG or ~/.kube/config".to_owned();
                let env_set = std::env::var_os("KUBECONFIG").is_some_and(|v| !v.is_empty());
                let default_exists = home_dir().is_some_and(|h| h.join(".kube/config").exists());
                if !env_set && !default_exists {
                    return Err(Error::NoKubeconfig);
                }
                let kc = Kubeconfig::read().map_err(|e| kubeconfig_error(&origin, &e))?;
                (kc, origin)
            }
        };
        let mut config = kube::Config::from_custom_kubeconfig(kubeconfig, &options)
            .await
            .map_err(|e| kubeconfig_error(&origin, &e))?;
        // kube-rs leaves reads unbounded (for watches); every request here is
        // a single object, so a stalled API server must not hang an operation.
        config.read_timeout = Some(READ_TIMEOUT);
        ensure_crypto_provider();
        let client = kube::Client::try_from(config).map_err(|source| Error::Client { source })?;
        Ok(Self { client })
    }

    /// Uses an existing kube-rs client.
    pub fn from_client(client: kube::Client) -> Self {
        Self { client }
    }

    fn api(&self, key: &ObjectKey) -> Api<DynamicObject> {
        Api::namespaced_with(
            self.client.clone(),
            &key.namespace,
            &key.kind.api_resource(),
        )
    }

    /// Reads the object, `None` when it does not exist.
    ///
    /// # Errors
    /// As [`Applier::apply`] for `get`.
    pub async fn get(&self, key: &ObjectKey) -> Result<Option<Value>> {
        match self.api(key).get_opt(&key.name).await {
            Ok(Some(obj)) => Ok(Some(to_value(key, "get", &obj)?)),
            Ok(None) => Ok(None),
            Err(e) => Err(map_error(key, "get", e)),
        }
    }

    /// Server-side applies one object (PATCH `application/apply-patch+yaml`,
    /// `fieldManager=pulumi-imageautomation`, `fieldValidation=Strict`, no
    /// `force`; with
    /// [`ApplyMode::DryRun`] also `dryRun=All`), after a GET to tell what
    /// changes.
    ///
    /// # Errors
    /// [`Error::Conflict`] when another field manager owns a field with
    /// another value (409), [`Error::Rejected`] for invalid objects, missing
    /// CRDs or RBAC refusals, [`Error::Server`] / [`Error::Unreachable`]
    /// (transient) when the API server fails or cannot be reached.
    pub async fn apply(&self, manifest: &Manifest, mode: ApplyMode) -> Result<ApplyOutcome> {
        let key = manifest.key();
        let before = self.get(key).await?;
        // Strict: a field the cluster's CRD does not know (an older Flux) is
        // an error rather than silently pruned, so Flux never runs with less
        // than was declared.
        let mut params = PatchParams::apply(FIELD_MANAGER).validation_strict();
        if mode == ApplyMode::DryRun {
            params = params.dry_run();
        }
        let answer = self
            .api(key)
            .patch(&key.name, &params, &Patch::Apply(manifest.expose_body()))
            .await
            .map_err(|e| map_error(key, "apply", e))?;
        let after = to_value(key, "apply", &answer)?;
        let change = match &before {
            None => Change::Created,
            Some(before) => {
                let mut fields = Vec::new();
                diff_objects(before, &after, &mut String::new(), &mut fields);
                if fields.is_empty() {
                    Change::Unchanged
                } else {
                    fields.sort();
                    Change::Updated { fields }
                }
            }
        };
        Ok(ApplyOutcome {
            key: key.clone(),
            change,
            live: redact(key, &after),
        })
    }

    /// Applies objects in the given order (the render functions return
    /// Secrets first), stopping at the first error.
    ///
    /// # Errors
    /// The first [`Applier::apply`] error; objects before it stay applied.
    pub async fn apply_all(
        &self,
        manifests: &[Manifest],
        mode: ApplyMode,
    ) -> Result<Vec<ApplyOutcome>> {
        let mut out = Vec::with_capacity(manifests.len());
        for m in manifests {
            out.push(self.apply(m, mode).await?);
        }
        Ok(out)
    }

    /// Compares the cluster's object with what was applied (`manifest`): the
    /// basis of Pulumi `read`/refresh drift detection.
    ///
    /// # Errors
    /// As [`Applier::get`].
    pub async fn read(&self, manifest: &Manifest) -> Result<LiveState> {
        let Some(live) = self.get(manifest.key()).await? else {
            return Ok(LiveState::Deleted);
        };
        let mut fields = Vec::new();
        drifted_fields(
            manifest.expose_body(),
            &live,
            &mut String::new(),
            &mut fields,
        );
        if fields.is_empty() {
            Ok(LiveState::InSync)
        } else {
            fields.sort();
            Ok(LiveState::Drifted { fields })
        }
    }

    /// [`Applier::read`] for each object, in order.
    ///
    /// # Errors
    /// The first [`Applier::read`] error.
    pub async fn read_all(&self, manifests: &[Manifest]) -> Result<Vec<(ObjectKey, LiveState)>> {
        let mut out = Vec::with_capacity(manifests.len());
        for m in manifests {
            out.push((m.key().clone(), self.read(m).await?));
        }
        Ok(out)
    }

    /// Deletes one object; an object already gone is success.
    ///
    /// # Errors
    /// [`Error::Rejected`] (e.g. RBAC), [`Error::Server`], [`Error::Unreachable`].
    pub async fn delete(&self, key: &ObjectKey) -> Result<DeleteOutcome> {
        match self
            .api(key)
            .delete(&key.name, &DeleteParams::default())
            .await
        {
            Ok(_) => Ok(DeleteOutcome::Deleted),
            Err(kube::Error::Api(status)) if status.code == 404 => Ok(DeleteOutcome::AlreadyGone),
            Err(e) => Err(map_error(key, "delete", e)),
        }
    }

    /// Deletes objects in reverse order (automation before the Secrets it
    /// uses), stopping at the first error.
    ///
    /// # Errors
    /// The first [`Applier::delete`] error.
    pub async fn delete_all(
        &self,
        manifests: &[Manifest],
    ) -> Result<Vec<(ObjectKey, DeleteOutcome)>> {
        let mut out = Vec::with_capacity(manifests.len());
        for m in manifests.iter().rev() {
            out.push((m.key().clone(), self.delete(m.key()).await?));
        }
        Ok(out)
    }
}

/// kube-rs builds its rustls configuration with the process-wide default
/// `CryptoProvider`; when a process links both ring and aws-lc-rs (as this
/// workspace does through reqwest), rustls cannot choose one and panics. So
/// install ring's unless the process already chose one (a lost race with
/// another installer is fine: then that one is the default).
fn ensure_crypto_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}

fn to_value(key: &ObjectKey, verb: &'static str, obj: &DynamicObject) -> Result<Value> {
    serde_json::to_value(obj).map_err(|e| Error::UnexpectedResponse {
        object: key.to_string(),
        verb,
        reason: e.to_string(),
    })
}

/// The provider config's `kubeconfig`: kubeconfig YAML (or JSON), the path of an existing file
/// (`~/` expanded), or, on one line, base64 of kubeconfig YAML (as CI variables often hold it).
/// The value is secret whichever it is, so no error quotes it, not even as a path.
fn kubeconfig_from_value(text: &str) -> Result<(Kubeconfig, String)> {
    let line = text.trim();
    if line.contains('\n') || line.starts_with('{') || line.starts_with("apiVersion") {
        let origin = "the provider config (contents)".to_owned();
        let kc = Kubeconfig::from_yaml(text).map_err(|e| kubeconfig_error(&origin, &e))?;
        return Ok((kc, origin));
    }
    let path = expand_home(line);
    if path.is_file() {
        let origin = "the file the provider config names".to_owned();
        let kc = Kubeconfig::read_from(&path).map_err(|e| kubeconfig_error(&origin, &e))?;
        return Ok((kc, origin));
    }
    let origin = "the provider config (one line)".to_owned();
    let decoded = base64_text(line).ok_or_else(|| Error::Kubeconfig {
        origin: origin.clone(),
        reason: "it is neither the path of an existing file nor base64 of a kubeconfig; give \
                 the kubeconfig's contents, the path of the file, or its base64"
            .to_owned(),
    })?;
    let origin = "the provider config (base64 contents)".to_owned();
    let kc = Kubeconfig::from_yaml(&decoded).map_err(|e| kubeconfig_error(&origin, &e))?;
    Ok((kc, origin))
}

#[cfg(fuzzing)]
pub(crate) fn fuzzing_kubeconfig(text: &str) -> std::result::Result<(), String> {
    kubeconfig_from_value(text)
        .map(drop)
        .map_err(|e| e.to_string())
}

/// `text` decoded as base64 (standard or URL-safe alphabet, padding optional) when that gives
/// UTF-8 text.
fn base64_text(text: &str) -> Option<String> {
    use base64::Engine as _;
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
    let config =
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
    let alphabet = if text.contains(['-', '_']) {
        &base64::alphabet::URL_SAFE
    } else {
        &base64::alphabet::STANDARD
    };
    let bytes = GeneralPurpose::new(alphabet, config).decode(text).ok()?;
    String::from_utf8(bytes).ok()
}

/// Describes a kubeconfig error without quoting the kubeconfig: YAML errors
/// show the offending lines (which may hold a token) and base64 errors the
/// offending byte of a key, so those are reduced to their position or kind.
fn kubeconfig_error(origin: &str, err: &kube::config::KubeconfigError) -> Error {
    use kube::config::KubeconfigError as K;
    let first_line = |e: &K| e.to_string().lines().next().unwrap_or_default().to_owned();
    let reason = match err {
        K::Parse(_) => {
            let text = first_line(err);
            let at = text
                .find("line ")
                .map(|i| &text[i..])
                .and_then(|rest| rest.split(':').next())
                .map(|pos| format!(" (at {pos})"))
                .unwrap_or_default();
            format!("it is not valid kubeconfig YAML{at}")
        }
        K::LoadClientKey(_) => "cannot load the client key (client-key-data is not valid \
             base64, or the client-key file cannot be read)"
            .to_owned(),
        K::LoadClientCertificate(_) => "cannot load the client certificate \
             (client-certificate-data is not valid base64, or the file cannot be read)"
            .to_owned(),
        K::LoadCertificateAuthority(_) => "cannot load the certificate authority \
             (certificate-authority-data is not valid base64, or the file cannot be read)"
            .to_owned(),
        _ => first_line(err),
    };
    Error::Kubeconfig {
        origin: origin.to_owned(),
        reason,
    }
}

fn home_dir() -> Option<PathBuf> {
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
}

fn expand_home(path: &str) -> PathBuf {
    match (path.strip_prefix("~/"), home_dir()) {
        (Some(rest), Some(home)) => home.join(rest),
        _ => PathBuf::from(path),
    }
}

/// Maps a kube-rs error to ours, classifying once.
fn map_error(key: &ObjectKey, verb: &'static str, err: kube::Error) -> Error {
    let object = key.to_string();
    match err {
        kube::Error::Api(status) => {
            let conflicts: Vec<_> = status
                .details
                .as_ref()
                .map(|d| {
                    d.causes
                        .iter()
                        .filter(|c| c.reason == "FieldManagerConflict")
                        .collect()
                })
                .unwrap_or_default();
            if status.code == 409 && !conflicts.is_empty() {
                let mut fields: Vec<String> = conflicts.iter().map(|c| c.field.clone()).collect();
                let mut managers: Vec<String> = conflicts
                    .iter()
                    .map(|c| manager_from_message(&c.message))
                    .collect();
                fields.sort();
                fields.dedup();
                managers.sort();
                managers.dedup();
                return Error::Conflict {
                    object,
                    fields,
                    managers,
                };
            }
            // A missing object is a `NotFound` Status; a path the server does not serve (no
            // CRD) is a plain-text "404 page not found" on a real API server, for any verb.
            if status.code == 404 && (verb == "apply" || status.reason != "NotFound") {
                let kind = key.kind;
                let reason = match status.details.as_ref().map(|d| d.kind.as_str()) {
                    Some("namespaces") => format!(
                        "namespace {:?} does not exist: create it (kubectl create namespace {}) \
                         or set the resource's namespace",
                        key.namespace, key.namespace
                    ),
                    _ => format!(
                        "the cluster does not serve {} {kind} ({}): install Flux with the image \
                         automation components (flux install \
                         --components-extra=image-reflector-controller,image-automation-controller)",
                        kind.api_version(),
                        status.message
                    ),
                };
                return Error::NotServed { object, reason };
            }
            let transient = status.code == 429 || status.code >= 500 || status.code == 409;
            let (code, reason, message) =
                (status.code, status.reason.clone(), status.message.clone());
            if transient {
                Error::Server {
                    object,
                    verb,
                    code,
                    reason,
                    message,
                }
            } else {
                Error::Rejected {
                    object,
                    verb,
                    code,
                    reason,
                    message,
                }
            }
        }
        kube::Error::SerdeError(e) => Error::UnexpectedResponse {
            object,
            verb,
            reason: e.to_string(),
        },
        other => Error::Unreachable {
            object,
            verb,
            source: other,
        },
    }
}

/// `conflict with "kubectl-edit" using image.toolkit.fluxcd.io/v1` ->
/// `kubectl-edit` (the API server's `FieldManagerConflict` cause message,
/// k8s.io/apiserver `internal/.../conflict.go`). Falls back to the message.
fn manager_from_message(message: &str) -> String {
    message
        .split_once("conflict with \"")
        .and_then(|(_, rest)| rest.split_once('"'))
        .map_or_else(|| message.to_owned(), |(m, _)| m.to_owned())
}

/// Object metadata the API server maintains; never a change of ours.
const SERVER_FIELDS: [&str; 7] = [
    ".metadata.resourceVersion",
    ".metadata.generation",
    ".metadata.managedFields",
    ".metadata.uid",
    ".metadata.creationTimestamp",
    ".metadata.selfLink",
    ".status",
];

/// Collects the paths where `a` and `b` differ (objects recursed, anything
/// else compared whole), skipping [`SERVER_FIELDS`].
fn diff_objects(a: &Value, b: &Value, path: &mut String, out: &mut Vec<String>) {
    if SERVER_FIELDS.contains(&path.as_str()) {
        return;
    }
    match (a, b) {
        (Value::Object(ma), Value::Object(mb)) => {
            for k in ma.keys().chain(mb.keys().filter(|k| !ma.contains_key(*k))) {
                let len = path.len();
                path.push('.');
                path.push_str(k);
                match (ma.get(k), mb.get(k)) {
                    (Some(x), Some(y)) => diff_objects(x, y, path, out),
                    _ => {
                        if !SERVER_FIELDS.contains(&path.as_str()) {
                            out.push(path.clone());
                        }
                    }
                }
                path.truncate(len);
            }
        }
        _ if a == b => {}
        _ => out.push(path.clone()),
    }
}

/// Collects the paths of `applied` (leaves; lists whole) whose value in
/// `live` differs or is missing.
fn drifted_fields(applied: &Value, live: &Value, path: &mut String, out: &mut Vec<String>) {
    match (applied, live) {
        (Value::Object(ma), Value::Object(ml)) => {
            for (k, v) in ma {
                let len = path.len();
                path.push('.');
                path.push_str(k);
                match ml.get(k) {
                    Some(l) => drifted_fields(v, l, path, out),
                    None => out.push(path.clone()),
                }
                path.truncate(len);
            }
        }
        _ if applied == live => {}
        _ => out.push(path.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn config(value: &str) -> ClusterConfig {
        ClusterConfig {
            kubeconfig: Some(SecretString::from(value.to_owned())),
            context: None,
        }
    }

    const KUBECONFIG: &str = "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: https://127.0.0.1:6443\ncontexts:\n- name: c\n  context:\n    cluster: c\n    user: u\ncurrent-context: c\nusers:\n- name: u\n  user:\n    token: kubeconfig-secret-token-123\n";

    /// A one-line value that is not an existing file is never echoed: not a base64 blob,
    /// not a path-like string (both are the secret).
    #[tokio::test]
    async fn a_one_line_kubeconfig_that_is_not_a_file_is_never_echoed() {
        for value in [
            "c2VjcmV0LWJ1dC1ub3QtYS1rdWJlY29uZmlnLXRva2VuLTQ1Njc4OQ==",
            "/nonexistent/dir/secret-token-in-a-path-4567",
            "just-some-secret-text-8910",
        ] {
            let err = Applier::connect(&config(value))
                .await
                .err()
                .expect("not a usable kubeconfig");
            let text = format!("{err} {err:?}");
            assert!(!text.contains(value.trim_end_matches('=')), "{text}");
            assert!(text.contains("kubeconfig"), "{text}");
        }
    }

    /// Base64 of a kubeconfig (common in CI variables) is decoded.
    #[tokio::test]
    async fn a_base64_kubeconfig_is_decoded() {
        use base64::Engine as _;
        let encoded = base64::engine::general_purpose::STANDARD.encode(KUBECONFIG);
        Applier::connect(&config(&encoded))
            .await
            .expect("base64 of a kubeconfig connects (no request is sent)");
    }

    #[test]
    fn manager_is_taken_from_the_cause_message() {
        assert_eq!(
            manager_from_message("conflict with \"kubectl-edit\" using image.toolkit.fluxcd.io/v1"),
            "kubectl-edit"
        );
        assert_eq!(manager_from_message("odd"), "odd");
    }

    #[test]
    fn diff_ignores_server_fields_and_sees_removals() {
        let a =
            json!({"metadata": {"resourceVersion": "1", "name": "x"}, "spec": {"a": 1, "b": [1]}});
        let b = json!({"metadata": {"resourceVersion": "2", "name": "x"}, "spec": {"a": 2}, "status": {}});
        let mut out = Vec::new();
        diff_objects(&a, &b, &mut String::new(), &mut out);
        out.sort();
        assert_eq!(out, vec![".spec.a", ".spec.b"]);
    }

    #[test]
    fn drift_ignores_extra_live_fields() {
        let applied = json!({"spec": {"interval": "5m", "list": ["a"]}});
        let live = json!({"spec": {"interval": "5m", "list": ["a"], "provider": "generic"}});
        let mut out = Vec::new();
        drifted_fields(&applied, &live, &mut String::new(), &mut out);
        assert!(out.is_empty());
        let live = json!({"spec": {"interval": "1h", "list": ["a", "b"]}});
        drifted_fields(&applied, &live, &mut String::new(), &mut out);
        assert_eq!(out, vec![".spec.interval", ".spec.list"]);
    }

    #[tokio::test]
    async fn missing_kubeconfig_path_is_a_clear_error() {
        let config = ClusterConfig {
            kubeconfig: Some(SecretString::from("/nonexistent/kubeconfig")),
            context: None,
        };
        let err = Applier::connect(&config).await.err().expect("must fail");
        let text = err.to_string();
        assert!(
            !text.contains("/nonexistent/kubeconfig"),
            "the value is secret: {text}"
        );
        assert!(
            text.contains("neither the path of an existing file nor base64"),
            "{text}"
        );
        assert!(!err.is_transient());
    }

    #[tokio::test]
    async fn kubeconfig_contents_never_appear_in_errors() {
        let config = ClusterConfig {
            kubeconfig: Some(SecretString::from(
                "apiVersion: v1\nkind: Config\nusers:\n- name: u\n  user: {token: sekrit-token}\n",
            )),
            context: Some("missing".into()),
        };
        let err = Applier::connect(&config).await.err().expect("must fail");
        let text = format!("{err} {err:?}");
        assert!(!text.contains("sekrit-token"), "{text}");
        // A YAML syntax error must not quote the document either.
        let config = ClusterConfig {
            kubeconfig: Some(SecretString::from(
                "apiVersion: v1\nusers:\n- name: u\n  user: {token: sekrit-token\n  : [\n",
            )),
            context: None,
        };
        let err = Applier::connect(&config).await.err().expect("must fail");
        let text = format!("{err} {err:?}");
        assert!(!text.contains("sekrit-token"), "{text}");
        assert!(
            text.contains("not valid kubeconfig YAML (at line 5 column 3)"),
            "{text}"
        );
    }
}
