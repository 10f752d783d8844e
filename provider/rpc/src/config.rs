//! Provider configuration (namespace `imageautomation`): `githubToken`,
//! `registryAuth`, `fluxNamespace`, `kubernetes` (cluster mode).
//!
//! The default provider gets stack config as strings (objects as JSON text);
//! an explicit provider gets typed values; both are accepted and `check_config`
//! returns typed values (Pulumi engine notes, section (h)). The `GITHUB_TOKEN`
//! fallback is applied at `Configure` time only, so an environment token never
//! lands in the stack's state.

use secrecy::SecretString;
use serde_json::{Map, Value};

use imageautomation_proto::codec;

/// Default `fluxNamespace`.
pub const DEFAULT_FLUX_NAMESPACE: &str = "flux-system";

/// Credentials for one registry.
#[derive(Debug, Clone)]
pub struct RegistryAuth {
    /// Registry host (with port).
    pub address: String,
    /// User name.
    pub username: String,
    /// Password or token.
    pub password: SecretString,
}

/// Cluster mode (provider config `kubernetes`): where the Flux objects go.
/// `Debug` never shows the kubeconfig (a `SecretString`).
#[derive(Debug, Clone, Default)]
pub struct KubernetesConfig {
    /// `kubeconfig`: contents or a path; `None` falls back to `KUBECONFIG`,
    /// then `~/.kube/config` (see `imageautomation_kube::ClusterConfig`).
    pub kubeconfig: Option<SecretString>,
    /// `context`; `None` for the kubeconfig's `current-context`.
    pub context: Option<String>,
}

impl KubernetesConfig {
    /// The kube crate's view of it.
    pub fn cluster_config(&self) -> imageautomation_kube::ClusterConfig {
        imageautomation_kube::ClusterConfig {
            kubeconfig: self.kubeconfig.clone(),
            context: self.context.clone(),
        }
    }
}

/// The configured provider.
#[derive(Debug, Clone, Default)]
pub struct ProviderConfig {
    /// `githubToken`, else `$GITHUB_TOKEN`.
    pub github_token: Option<SecretString>,
    /// `registryAuth`.
    pub registry_auth: Vec<RegistryAuth>,
    /// `fluxNamespace` (default `flux-system`).
    pub flux_namespace: String,
    /// `kubernetes`: `Some` when cluster mode is on (the object is given and
    /// its `enabled` is not `false`).
    pub kubernetes: Option<KubernetesConfig>,
}

/// A validation problem: the property path and the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// Property path, e.g. `registryAuth[0].address`.
    pub property: String,
    /// What is wrong and how to fix it.
    pub reason: String,
}

/// Reads a value that may arrive as JSON text (default provider) or typed.
fn typed(value: &Value) -> Value {
    match value {
        Value::String(s) if s.trim_start().starts_with(['[', '{']) => {
            serde_json::from_str(s).unwrap_or_else(|_| value.clone())
        }
        other => other.clone(),
    }
}

/// `CheckConfig`: canonicalises `news` (typed values; `version` and unknown
/// keys kept) and validates them. Secrets inside stay wrapped as they came.
pub fn check_config(news: &Value) -> (Value, Vec<Failure>) {
    let mut out = news.as_object().cloned().unwrap_or_default();
    let mut failures = Vec::new();
    if let Some(auth) = out.get("registryAuth").cloned() {
        let (plain, _) = codec::reveal(&auth);
        let parsed = typed(&plain);
        match &parsed {
            _ if codec::contains_unknown(&parsed) => {}
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    for key in ["address", "username", "password"] {
                        if item.get(key).and_then(Value::as_str).is_none_or(str::is_empty) {
                            failures.push(Failure {
                                property: format!("registryAuth[{i}].{key}"),
                                reason: format!("{key} is required: give {{address, username, password}} for each registry"),
                            });
                        }
                    }
                }
                // Passwords stay secret even when the list came as plain text.
                let mut typed_list = parsed.clone();
                if let Value::Array(items) = &mut typed_list {
                    for item in items {
                        codec::mark_secret_paths(item, &["password"]);
                    }
                }
                out.insert("registryAuth".into(), typed_list);
            }
            _ => failures.push(Failure {
                property: "registryAuth".into(),
                reason: "expected a list of {address, username, password}, e.g. pulumi config set --path --secret 'imageautomation:registryAuth[0].password' ...".into(),
            }),
        }
    }
    if let Some(ns) = out.get("fluxNamespace") {
        let (plain, _) = codec::reveal(ns);
        if !codec::is_unknown(&plain) && plain.as_str().is_none_or(|s| !valid_namespace(s)) {
            failures.push(Failure {
                property: "fluxNamespace".into(),
                reason: format!("{plain} is not a Kubernetes namespace name (lowercase letters, digits and '-', at most 63)"),
            });
        }
    }
    if let Some(kubernetes) = out.get("kubernetes").cloned() {
        let (plain, _) = codec::reveal(&kubernetes);
        let parsed = typed(&plain);
        match &parsed {
            _ if codec::contains_unknown(&parsed) => {}
            Value::Object(map) => {
                for key in ["kubeconfig", "context"] {
                    if map.get(key).is_some_and(|v| !v.is_null() && !v.is_string()) {
                        failures.push(Failure {
                            property: format!("kubernetes.{key}"),
                            reason: format!("{key} must be a string"),
                        });
                    }
                }
                if map
                    .get("enabled")
                    .is_some_and(|v| !v.is_null() && !v.is_boolean() && v != "true" && v != "false")
                {
                    failures.push(Failure {
                        property: "kubernetes.enabled".into(),
                        reason: "enabled must be true or false".into(),
                    });
                }
                // The kubeconfig stays secret even when it came as plain text.
                let mut typed_object = parsed.clone();
                codec::mark_secret_paths(&mut typed_object, &["kubeconfig"]);
                out.insert("kubernetes".into(), typed_object);
            }
            _ => failures.push(Failure {
                property: "kubernetes".into(),
                reason: "expected an object {kubeconfig, context, enabled}, e.g. pulumi config set --path --secret 'imageautomation:kubernetes.kubeconfig' \"$(cat ~/.kube/config)\"".into(),
            }),
        }
    }
    if let Some(token) = out.get("githubToken").cloned() {
        // A token set without --secret is still treated as one.
        out.insert("githubToken".into(), codec::secret(codec::reveal(&token).0));
    }
    (Value::Object(out), failures)
}

/// Whether `s` is a DNS-1123 label, the rule for namespace names.
pub fn valid_namespace(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// `Configure`: the configuration from `args` (secrets wrapped) and the
/// environment (`GITHUB_TOKEN`).
///
/// # Errors
/// A message naming the key when a value has the wrong shape.
pub fn configure(args: &Value, env_token: Option<String>) -> Result<ProviderConfig, String> {
    let (plain, _) = codec::reveal(args);
    let empty = Map::new();
    let map = plain.as_object().unwrap_or(&empty);
    let string = |key: &str| {
        map.get(key)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    };
    let github_token = string("githubToken")
        .map(str::to_owned)
        .or(env_token.filter(|t| !t.is_empty()))
        .map(SecretString::from);
    let mut registry_auth = Vec::new();
    if let Some(auth) = map.get("registryAuth") {
        let list = typed(auth);
        let items = list.as_array().ok_or_else(|| {
            "imageautomation:registryAuth: expected a list of {address, username, password}"
                .to_owned()
        })?;
        for (i, item) in items.iter().enumerate() {
            let field = |k: &str| {
                item.get(k)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned()
            };
            if field("address").is_empty() {
                return Err(format!(
                    "imageautomation:registryAuth[{i}].address is required"
                ));
            }
            registry_auth.push(RegistryAuth {
                address: field("address"),
                username: field("username"),
                password: SecretString::from(field("password")),
            });
        }
    }
    let kubernetes = match map.get("kubernetes").map(typed) {
        None | Some(Value::Null) => None,
        Some(Value::Object(k)) => {
            let enabled = !matches!(k.get("enabled"), Some(Value::Bool(false)))
                && k.get("enabled").and_then(Value::as_str) != Some("false");
            let text = |key: &str| {
                k.get(key)
                    .and_then(Value::as_str)
                    .filter(|s| !s.trim().is_empty())
                    .map(str::to_owned)
            };
            enabled.then(|| KubernetesConfig {
                kubeconfig: text("kubeconfig").map(SecretString::from),
                context: text("context"),
            })
        }
        Some(_) => {
            return Err(
                "imageautomation:kubernetes: expected an object {kubeconfig, context, enabled}"
                    .to_owned(),
            );
        }
    };
    Ok(ProviderConfig {
        github_token,
        registry_auth,
        kubernetes,
        flux_namespace: string("fluxNamespace")
            .unwrap_or(DEFAULT_FLUX_NAMESPACE)
            .to_owned(),
    })
}

/// `DiffConfig`: configuration changes never replace resources (a new token
/// or namespace default applies to the next operation); report what changed.
pub fn changed_keys(olds: &Value, news: &Value) -> Vec<String> {
    let (olds, _) = codec::reveal(olds);
    let (news, _) = codec::reveal(news);
    let keys = ["githubToken", "registryAuth", "fluxNamespace", "kubernetes"];
    keys.iter()
        .filter(|k| olds.get(**k) != news.get(**k))
        .map(|k| (*k).to_owned())
        .collect()
}

/// The checked config of a test, typed as an explicit provider would send it.
#[cfg(test)]
fn sample() -> Value {
    use serde_json::json;
    json!({"githubToken": "t0k3n", "registryAuth": "[{\"address\":\"ghcr.io\",\"username\":\"u\",\"password\":\"p\"}]", "version": "0.1.0"})
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;
    use serde_json::json;

    #[test]
    fn string_config_is_typed_and_secret() {
        let (checked, failures) = check_config(&sample());
        assert!(failures.is_empty(), "{failures:?}");
        assert!(codec::is_secret(&checked["githubToken"]));
        assert!(codec::is_secret(&checked["registryAuth"][0]["password"]));
        assert_eq!(checked["registryAuth"][0]["address"], "ghcr.io");
        assert_eq!(checked["version"], "0.1.0");
        let config = configure(&checked, None).expect("valid");
        assert_eq!(config.flux_namespace, "flux-system");
        assert_eq!(config.registry_auth[0].password.expose_secret(), "p");
        assert_eq!(
            config
                .github_token
                .as_ref()
                .map(|t| t.expose_secret().to_owned()),
            Some("t0k3n".into())
        );
    }

    #[test]
    fn github_token_falls_back_to_the_environment_only_at_configure() {
        let (checked, _) = check_config(&json!({}));
        assert!(checked.get("githubToken").is_none());
        let config = configure(&checked, Some("from-env".into())).expect("valid");
        assert_eq!(
            config.github_token.map(|t| t.expose_secret().to_owned()),
            Some("from-env".into())
        );
    }

    #[test]
    fn kubernetes_config_from_json_text_is_typed_secret_and_enabled() {
        let kubeconfig = "apiVersion: v1\nkind: Config\n";
        let text = serde_json::to_string(&json!({"kubeconfig": kubeconfig, "context": "kind"}))
            .expect("json");
        let (checked, failures) = check_config(&json!({"kubernetes": text}));
        assert!(failures.is_empty(), "{failures:?}");
        assert!(codec::is_secret(&checked["kubernetes"]["kubeconfig"]));
        assert_eq!(checked["kubernetes"]["context"], "kind");
        let config = configure(&checked, None).expect("valid");
        let k = config.kubernetes.expect("enabled when given");
        assert_eq!(
            k.kubeconfig.as_ref().map(|s| s.expose_secret().to_owned()),
            Some(kubeconfig.to_owned())
        );
        assert!(!format!("{k:?}").contains("kind: Config"), "redacted Debug");
        assert_eq!(k.context.as_deref(), Some("kind"));
    }

    #[test]
    fn kubernetes_is_off_unless_given_and_enabled() {
        let off = configure(&json!({}), None).expect("valid");
        assert!(off.kubernetes.is_none());
        let disabled = configure(&json!({"kubernetes": {"enabled": false}}), None).expect("valid");
        assert!(disabled.kubernetes.is_none());
        let fallback = configure(&json!({"kubernetes": {}}), None).expect("valid");
        let k = fallback
            .kubernetes
            .expect("on with the KUBECONFIG fallback");
        assert!(k.kubeconfig.is_none());
        let (_, failures) = check_config(&json!({"kubernetes": "[1]"}));
        assert_eq!(failures[0].property, "kubernetes");
    }

    #[test]
    fn bad_values_are_failures_with_the_path() {
        let (_, failures) = check_config(
            &json!({"registryAuth": [{"username": "u"}], "fluxNamespace": "Flux_System"}),
        );
        let paths: Vec<&str> = failures.iter().map(|f| f.property.as_str()).collect();
        assert_eq!(
            paths,
            [
                "registryAuth[0].address",
                "registryAuth[0].password",
                "fluxNamespace"
            ]
        );
    }
}
