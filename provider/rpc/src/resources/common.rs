//! What the resources share: reading checked inputs, Flux identities,
//! validation helpers, error classification, and the registry access an
//! ImageRepository hands on to its ImagePolicies.

use imageautomation_engine::reconcile::ReconcileError;
use imageautomation_engine::{Credentials, DockerConfig, TlsOptions, parse_go_duration};
use imageautomation_proto::codec;
use secrecy::SecretString;
use serde_json::{Map, Value};

use super::{Ctx, OpError};
use crate::config::Failure;

/// A string field of an object (`None` when absent, null, empty or unknown).
pub fn str_at<'a>(v: &'a Value, path: &str) -> Option<&'a str> {
    at(v, path)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty() && !codec::is_unknown(&Value::String((*s).to_owned())))
}

/// The value at a dotted path.
pub fn at<'a>(v: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(v, |v, key| v.get(key))
}

/// Whether the value at `path` is an unknown (or contains one).
pub fn unknown_at(v: &Value, path: &str) -> bool {
    at(v, path).is_some_and(codec::contains_unknown)
}

/// A boolean field; strings `"true"`/`"false"` accepted.
pub fn bool_at(v: &Value, path: &str) -> bool {
    match at(v, path) {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s == "true",
        _ => false,
    }
}

/// Sets `key` to `default` when absent or null.
pub fn default_str(map: &mut Map<String, Value>, key: &str, default: &str) {
    if map.get(key).is_none_or(Value::is_null) {
        map.insert(key.to_owned(), Value::String(default.to_owned()));
    }
}

/// A failure on `property`.
pub fn failure(property: impl Into<String>, reason: impl Into<String>) -> Failure {
    Failure {
        property: property.into(),
        reason: reason.into(),
    }
}

/// Validates a Go duration field when present and known.
pub fn check_duration(v: &Value, key: &str, failures: &mut Vec<Failure>) {
    if let Some(text) = str_at(v, key)
        && let Err(reason) = parse_go_duration(text)
    {
        failures.push(failure(key, reason));
    }
}

/// Validates the Flux identity `namespace` and `name`: they form the marker
/// `namespace:name` and must not contain `:` or whitespace; the namespace is a
/// Kubernetes namespace name.
pub fn check_identity(v: &Value, failures: &mut Vec<Failure>) {
    if let Some(ns) = str_at(v, "namespace")
        && !crate::config::valid_namespace(ns)
    {
        failures.push(failure(
            "namespace",
            format!(
                "{ns:?} is not a Kubernetes namespace name (lowercase letters, digits and '-')"
            ),
        ));
    }
    if let Some(name) = str_at(v, "name")
        && (name.contains(':') || name.chars().any(char::is_whitespace))
    {
        failures.push(failure(
            "name",
            format!(
                "{name:?} cannot be part of a marker \"namespace:name\": remove ':' and spaces"
            ),
        ));
    }
}

/// Reveals secrets, applies `fill` to the plain object, and wraps the schema's
/// secret paths again (precise secretness: HOUSE_STYLE "Pulumi specifics"), and
/// every path the program marked secret in `v` ([`codec::keep_secrets_of`]).
pub fn with_plain(
    v: &Value,
    secret_paths: &[&str],
    fill: impl FnOnce(&mut Map<String, Value>),
) -> Value {
    let (plain, _) = codec::reveal(v);
    let mut map = match plain {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    fill(&mut map);
    let mut out = Value::Object(map);
    codec::mark_secret_paths(&mut out, secret_paths);
    codec::keep_secrets_of(v, &mut out);
    out
}

/// Registry access from an object holding `credentials`, `dockerConfigJson`,
/// `certificate` (an ImageRepository's inputs or its `imageRepositoryRef`),
/// falling back to the provider's `registryAuth` and the Docker config file.
///
/// # Errors
/// An invalid Docker config JSON.
pub fn registry_access(
    ctx: &Ctx,
    plain: &Value,
    image: &str,
) -> Result<(Credentials, TlsOptions), OpError> {
    let registry =
        imageautomation_registry::ImageReference::parse(image, bool_at(plain, "insecure"))
            .map(|r| r.registry().to_owned())
            .map_err(|e| OpError::InvalidArgument(e.to_string()))?;
    let credentials = if let (Some(username), Some(password)) = (
        str_at(plain, "credentials.username"),
        str_at(plain, "credentials.password"),
    ) {
        Credentials::Basic {
            username: username.to_owned(),
            password: SecretString::from(password.to_owned()),
        }
    } else if let Some(json) = str_at(plain, "dockerConfigJson") {
        DockerConfig::from_json(json.as_bytes(), "dockerConfigJson")
            .map_err(|e| OpError::InvalidArgument(e.to_string()))?
            .credentials_for(&registry)
    } else if let Some(auth) = ctx
        .config
        .registry_auth
        .iter()
        .find(|a| a.address == registry)
    {
        Credentials::Basic {
            username: auth.username.clone(),
            password: auth.password.clone(),
        }
    } else {
        DockerConfig::load_default()
            .ok()
            .flatten()
            .map(|c| c.credentials_for(&registry))
            .unwrap_or_default()
    };
    let tls = TlsOptions {
        ca_pem: str_at(plain, "certificate.caPem").map(|s| s.as_bytes().to_vec()),
        client_cert_pem: str_at(plain, "certificate.certPem").map(|s| s.as_bytes().to_vec()),
        client_key_pem: str_at(plain, "certificate.keyPem")
            .map(|s| SecretString::from(s.to_owned())),
    };
    Ok((credentials, tls))
}

/// Classifies a reconcile failure for gRPC (HOUSE_STYLE "Errors" 3).
pub fn op_error(e: ReconcileError) -> OpError {
    use imageautomation_engine::Error as Engine;
    use imageautomation_git::Error as Git;
    use imageautomation_registry::Error as Registry;
    let message = e.to_string();
    let registry = |r: &Registry| match r {
        Registry::AuthenticationRequired { .. } | Registry::AuthenticationFailed { .. } => {
            OpError::Unauthenticated(message.clone())
        }
        Registry::RepositoryNotFound { .. } | Registry::ManifestNotFound { .. } => {
            OpError::FailedPrecondition(message.clone())
        }
        Registry::Timeout { .. } => OpError::DeadlineExceeded(message.clone()),
        Registry::InvalidImage { .. }
        | Registry::InvalidTag { .. }
        | Registry::InvalidExclusionPattern { .. }
        | Registry::InvalidDockerConfig { .. }
        | Registry::InvalidTlsConfig { .. } => OpError::InvalidArgument(message.clone()),
        _ => OpError::Unavailable(message.clone()),
    };
    match &e {
        ReconcileError::Registry(Engine::Invalid { .. }) => OpError::InvalidArgument(message),
        ReconcileError::Registry(Engine::Timeout { .. }) => OpError::DeadlineExceeded(message),
        ReconcileError::Registry(Engine::Scan { source, .. } | Engine::Digest { source, .. }) => {
            registry(source)
        }
        ReconcileError::Registry(_) => OpError::Unavailable(message),
        ReconcileError::InvalidPolicy(_) => OpError::InvalidArgument(message),
        ReconcileError::NoTagSelected { .. } => OpError::FailedPrecondition(message),
        ReconcileError::Update(_) => OpError::FailedPrecondition(message),
        ReconcileError::Git(g) => match g {
            Git::Authentication { .. } => OpError::Unauthenticated(message),
            Git::HostKey { .. } | Git::Certificate { .. } => OpError::PermissionDenied(message),
            Git::InvalidUrl { .. }
            | Git::InvalidSpec { .. }
            | Git::TemplateParse { .. }
            | Git::TemplateExecute { .. }
            | Git::RemovedTemplateField { .. }
            | Git::InvalidTrust { .. } => OpError::InvalidArgument(message),
            Git::RefNotFound { .. } | Git::RepositoryNotFound { .. } | Git::Update { .. } => {
                OpError::FailedPrecondition(message)
            }
            Git::PushRejected { .. } | Git::PushRaceLost { .. } => OpError::Aborted(message),
            _ if g.is_transient() => OpError::Unavailable(message),
            _ => OpError::FailedPrecondition(message),
        },
        ReconcileError::Interrupted(_) => OpError::Cancelled,
    }
}
