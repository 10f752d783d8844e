//! What the resources share: reading checked inputs, Flux identities,
//! validation helpers, error classification, and the registry access an
//! ImageRepository hands on to its ImagePolicies.

use imageautomation_engine::reconcile::ReconcileError;
use imageautomation_engine::{
    Access, Credentials, DockerConfig, Provider, TlsOptions, parse_go_duration, proxy_options,
};
use imageautomation_model::args::{self, RegistryAccess};
use imageautomation_proto::codec;
use secrecy::ExposeSecret;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::{Ctx, OpError};
use crate::config::Failure;

/// Checked inputs in the typed model (`imageautomation-model`'s `args`), and the
/// properties the program has left unknown (a preview before the values exist).
#[derive(Debug, Clone, Default)]
pub struct Inputs<T> {
    /// The inputs; an unknown property is absent here.
    pub args: T,
    /// Paths of unknown values: `git.url`, `policies[0]`.
    unknown: Vec<String>,
}

impl<T: DeserializeOwned + Default> Inputs<T> {
    /// Parses property values once: secrets revealed (the typed model holds them as
    /// `SecretString`s), nulls and unknowns removed (unknowns are remembered).
    ///
    /// # Errors
    /// A failure on the property whose value does not have the schema's shape.
    pub fn parse(v: &Value) -> Result<Self, Failure> {
        let (mut plain, _) = codec::reveal(v);
        let mut unknown = Vec::new();
        strip_unknowns(&mut plain, String::new(), &mut unknown);
        match args::parse(&plain) {
            Ok(args) => Ok(Inputs { args, unknown }),
            Err(e) => {
                let reason = if e.property.is_empty() {
                    e.reason
                } else {
                    format!("{}: {}", e.property, e.reason)
                };
                Err(failure(e.property, reason))
            }
        }
    }

    /// [`Inputs::parse`] for an operation: a shape error is `InvalidArgument`.
    ///
    /// # Errors
    /// `InvalidArgument` with the failure's reason.
    pub fn of(v: &Value) -> Result<Self, OpError> {
        Self::parse(v).map_err(|f| OpError::InvalidArgument(f.reason))
    }

    /// The inputs, or the defaults when they do not parse (for questions such as "is it
    /// suspended" asked of inputs that `Check` accepted).
    pub fn lenient(v: &Value) -> T {
        Self::parse(v).map(|i| i.args).unwrap_or_default()
    }
}

impl<T> Inputs<T> {
    /// Whether `property`, a property it is part of, or one of its parts is unknown.
    pub fn is_unknown(&self, property: &str) -> bool {
        let within = |outer: &str, inner: &str| {
            inner
                .strip_prefix(outer)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with(['.', '[']))
        };
        self.unknown
            .iter()
            .any(|u| within(u, property) || within(property, u))
    }

    /// The index in the program's list `list` (a property path) of the parsed list's entry
    /// `i`: unknown entries are not in the parsed list.
    pub fn index(&self, list: &str, i: usize) -> usize {
        let removed: std::collections::BTreeSet<usize> = self
            .unknown
            .iter()
            .filter_map(|u| {
                u.strip_prefix(list)?
                    .strip_prefix('[')?
                    .strip_suffix(']')?
                    .parse()
                    .ok()
            })
            .collect();
        (0..).filter(|k| !removed.contains(k)).nth(i).unwrap_or(i)
    }

    /// Whether any value is unknown.
    pub fn any_unknown(&self) -> bool {
        !self.unknown.is_empty()
    }
}

/// Removes nulls and unknowns from `v`, recording the unknowns' property paths.
fn strip_unknowns(v: &mut Value, path: String, unknown: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            map.retain(|key, x| {
                let at = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                if codec::is_unknown(x) {
                    unknown.push(at);
                    false
                } else {
                    !x.is_null()
                }
            });
            for (key, x) in map.iter_mut() {
                let at = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                strip_unknowns(x, at, unknown);
            }
        }
        Value::Array(list) => {
            // Paths keep the program's indices; `Inputs::index` maps the parsed list's back.
            for (i, x) in list.iter_mut().enumerate() {
                if codec::is_unknown(x) {
                    unknown.push(format!("{path}[{i}]"));
                } else {
                    strip_unknowns(x, format!("{path}[{i}]"), unknown);
                }
            }
            list.retain(|x| !codec::is_unknown(x));
        }
        _ => {}
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

/// Validates a Go duration field when present.
pub fn check_duration(key: &str, value: Option<&str>, failures: &mut Vec<Failure>) {
    if let Some(text) = value
        && let Err(reason) = parse_go_duration(text)
    {
        failures.push(failure(key, reason));
    }
}

/// Validates the Flux identity `namespace` and `name`: they form the marker
/// `namespace:name` and must not contain `:` or whitespace; the namespace is a
/// Kubernetes namespace name.
pub fn check_identity(namespace: Option<&str>, name: Option<&str>, failures: &mut Vec<Failure>) {
    if let Some(ns) = namespace
        && !crate::config::valid_namespace(ns)
    {
        failures.push(failure(
            "namespace",
            format!(
                "{ns:?} is not a Kubernetes namespace name (lowercase letters, digits and '-')"
            ),
        ));
    }
    if let Some(name) = name
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

/// Registry access from `access` (an ImageRepository's inputs or its `imageRepositoryRef`):
/// with `provider` `aws`, `azure` or `gcp`, that cloud's login (the registry must be the
/// cloud's, as in Flux); else `credentials`, else `dockerConfigJson`, else the provider's
/// `registryAuth` for the image's registry, else the Docker config file. TLS from
/// `certificate`, the proxy from `proxy`.
///
/// # Errors
/// An invalid image, provider, proxy or Docker config JSON, or a registry that is not the
/// provider's.
pub fn registry_access(ctx: &Ctx, access: &RegistryAccess, image: &str) -> Result<Access, OpError> {
    let invalid = |e: String| OpError::InvalidArgument(e);
    let registry = imageautomation_registry::ImageReference::parse(image, access.insecure)
        .map(|r| r.registry().to_owned())
        .map_err(|e| invalid(e.to_string()))?;
    let provider = match access.provider.as_deref() {
        None => Provider::Generic,
        Some(p) => p
            .parse::<Provider>()
            .map_err(|e| invalid(format!("provider: {e}")))?,
    };
    provider
        .check_registry(&registry)
        .map_err(|e| invalid(format!("provider: {e}")))?;
    let proxy = access
        .proxy
        .as_ref()
        .map(proxy_options)
        .transpose()
        .map_err(|e| invalid(format!("proxy: {e}")))?;
    let credentials = if provider.is_cloud() {
        Credentials::Anonymous
    } else if let Some((username, password)) = access.basic() {
        Credentials::Basic {
            username: username.to_owned(),
            password: password.clone(),
        }
    } else if let Some(json) = &access.docker_config_json {
        DockerConfig::from_json(json.expose_secret().as_bytes(), "dockerConfigJson")
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
    let certificate = access.certificate.clone().unwrap_or_default();
    let tls = TlsOptions {
        ca_pem: certificate.ca_pem.map(String::into_bytes),
        client_cert_pem: certificate.cert_pem.map(String::into_bytes),
        client_key_pem: certificate.key_pem,
    };
    Ok(Access {
        credentials,
        tls,
        proxy,
        provider,
    })
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

#[cfg(test)]
mod tests {
    use super::*;
    use imageautomation_model::args::{ImageRepositoryArgs, UpdateAutomationArgs};
    use serde_json::json;

    #[test]
    fn unknowns_are_absent_in_the_model_and_remembered_by_path() {
        let v = json!({
            "git": {"url": codec::UNKNOWN, "commit": {"author": {"email": "bot@example.com"}}},
            "policies": [codec::UNKNOWN, {"namespace": "flux-system", "name": "app"}],
            "interval": null,
        });
        let inputs = Inputs::<UpdateAutomationArgs>::parse(&v).expect("parses");
        assert_eq!(inputs.args.git.url, None);
        assert!(inputs.is_unknown("git.url"));
        assert!(inputs.is_unknown("git"), "a part of git is unknown");
        assert!(!inputs.is_unknown("git.commit"));
        assert!(inputs.is_unknown("policies[0]"));
        assert!(!inputs.is_unknown("policies[1]"));
        assert!(!inputs.is_unknown("gitx"));
        assert_eq!(inputs.args.policies.as_ref().map(Vec::len), Some(1));
        // The parsed list's first entry is the program's second.
        assert_eq!(inputs.index("policies", 0), 1);
        assert_eq!(inputs.index("git", 0), 0);
    }

    #[test]
    fn a_value_of_the_wrong_shape_fails_on_its_property() {
        let f = Inputs::<ImageRepositoryArgs>::parse(&json!({"image": "a", "exclusionList": "x"}))
            .expect_err("a string is not a list");
        assert_eq!(f.property, "exclusionList");
        assert!(
            f.reason.starts_with("exclusionList: invalid type"),
            "{}",
            f.reason
        );
    }
}
