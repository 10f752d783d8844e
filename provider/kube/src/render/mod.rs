//! Rendering: plain input structs (mirroring the provider's resource inputs)
//! to the Flux objects and Secrets that make Flux in the cluster do the same
//! automation. Pure functions: no I/O, no clock.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use regex::Regex;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Map, Value, json};

pub use imageautomation_model::args::Proxy;
use imageautomation_model::duration::{parse_flux_timeout, parse_go_duration};
pub use imageautomation_model::git::{CommitAuthor, GitCommit, GitPush, KeyPair, SigningKey};
use imageautomation_model::url_forms::ScpLike;
pub use imageautomation_model::{DigestReflectionPolicy, GitRef};

use crate::error::{Error, Result};
use crate::manifest::{Kind, MANAGED_BY_LABEL, MANAGED_BY_VALUE, Manifest, ObjectKey};

mod checks;
mod image_policy;
mod image_repository;
mod inputs;
mod update_automation;

use checks::Ctx;
pub use image_policy::render_image_policy;
pub use image_repository::render_image_repository;
pub use inputs::{
    GitAuth, GitInput, ImagePolicyInput, ImageRepositoryInput, ObjectRef, Order, Policy,
    RegistryCredentials, TlsCertificate, UpdateAutomationInput,
};
pub use update_automation::{flux_git_url, render_update_automation};

/// The label an `ImagePolicy` carries with its own name as value, and that an
/// `ImageUpdateAutomation`'s `spec.policySelector` selects on
/// (`matchExpressions: [{key, operator: In, values: [<policy names>]}]`).
pub const POLICY_LABEL: &str = "imageautomation.pulumi.com/policy";

/// Default `spec.interval` of a rendered `ImageRepository` (Pulumi input
/// default `5m`).
pub const DEFAULT_IMAGE_REPOSITORY_INTERVAL: &str = "5m";
/// Default `spec.interval` of a rendered `ImageUpdateAutomation` and its
/// `GitRepository` when the input gives none (Flux requires one).
pub const DEFAULT_AUTOMATION_INTERVAL: &str = "5m";

/// Whether Secrets are rendered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretsMode {
    /// Render the Secrets with their data (for applying to a cluster).
    Include,
    /// Leave the Secrets out; the Flux objects still reference them by name
    /// (`<name>-registry-auth`, ...) so a GitOps repository can provide them
    /// another way (SOPS, External Secrets). For `imageautomation render`.
    Omit,
}

fn metadata(namespace: &str, name: &str, extra_labels: &[(&str, &str)]) -> Value {
    let mut labels = Map::new();
    labels.insert(MANAGED_BY_LABEL.into(), MANAGED_BY_VALUE.into());
    for (k, v) in extra_labels {
        labels.insert((*k).into(), (*v).into());
    }
    json!({"name": name, "namespace": namespace, "labels": labels})
}

fn object(
    kind: Kind,
    namespace: &str,
    name: &str,
    meta: Value,
    rest: Map<String, Value>,
) -> Manifest {
    let mut body = Map::new();
    body.insert("apiVersion".into(), kind.api_version().into());
    body.insert("kind".into(), kind.as_str().into());
    body.insert("metadata".into(), meta);
    body.extend(rest);
    Manifest::new(
        ObjectKey {
            kind,
            namespace: namespace.to_owned(),
            name: name.to_owned(),
        },
        Value::Object(body),
    )
}

fn secret(namespace: &str, name: &str, type_: &str, data: BTreeMap<&str, &[u8]>) -> Manifest {
    let data: Map<String, Value> = data
        .into_iter()
        .map(|(k, v)| (k.to_owned(), Value::String(BASE64.encode(v))))
        .collect();
    let mut rest = Map::new();
    rest.insert("type".into(), type_.into());
    rest.insert("data".into(), Value::Object(data));
    object(
        Kind::Secret,
        namespace,
        name,
        metadata(namespace, name, &[]),
        rest,
    )
}

fn put_opt(map: &mut Map<String, Value>, key: &str, value: Option<&str>) {
    if let Some(v) = value {
        map.insert(key.into(), v.into());
    }
}

fn put_true(map: &mut Map<String, Value>, key: &str, value: bool) {
    if value {
        map.insert(key.into(), true.into());
    }
}

/// The name of the Secret referenced by an `ImageRepository`'s `spec.secretRef`.
pub fn registry_auth_secret_name(repository_name: &str) -> String {
    format!("{repository_name}-registry-auth")
}

/// The name of the Secret referenced by an `ImageRepository`'s `spec.certSecretRef`.
pub fn registry_tls_secret_name(repository_name: &str) -> String {
    format!("{repository_name}-registry-tls")
}

/// The name of the Secret referenced by a rendered `GitRepository`'s `spec.secretRef`.
pub fn git_auth_secret_name(automation_name: &str) -> String {
    format!("{automation_name}-git-auth")
}

/// Renders `proxy` as Flux's `proxySecretRef` (fluxcd/pkg `runtime/secrets`: keys `address`,
/// `username`, `password`) into `spec`, and with [`SecretsMode::Include`] the `Opaque` Secret
/// `secret_name` into `out`.
fn render_proxy(
    cx: &Ctx,
    ns: &str,
    proxy: &Proxy,
    secret_name: &str,
    mode: SecretsMode,
    spec: &mut Map<String, Value>,
    out: &mut Vec<Manifest>,
) -> Result<()> {
    proxy.url().map_err(|e| cx.invalid("proxy", e))?;
    cx.check_object_name("name", secret_name)?;
    spec.insert("proxySecretRef".into(), json!({"name": secret_name}));
    if mode == SecretsMode::Include {
        let mut data: BTreeMap<&str, &[u8]> = BTreeMap::new();
        for (key, value) in [
            ("address", proxy.address.as_deref()),
            ("username", proxy.username.as_deref()),
            (
                "password",
                proxy.password.as_ref().map(|p| p.expose_secret()),
            ),
        ] {
            if let Some(v) = value {
                data.insert(key, v.as_bytes());
            }
        }
        out.push(secret(ns, secret_name, "Opaque", data));
    }
    Ok(())
}

/// The name of the Secret holding an automation's commit signing key.
pub fn signing_key_secret_name(automation_name: &str) -> String {
    format!("{automation_name}-signing-key")
}

/// The key under `auths` of a Docker config for the registry of `image`:
/// the first path component when it looks like a host (has `.` or `:`, or
/// is `localhost`, Docker's rule), else Docker Hub's `https://index.docker.io/v1/`.
pub fn docker_config_registry_key(image: &str) -> String {
    match image.split_once('/') {
        Some((first, _)) if first.contains('.') || first.contains(':') || first == "localhost" => {
            if first == "docker.io" || first == "index.docker.io" {
                "https://index.docker.io/v1/".to_owned()
            } else {
                first.to_owned()
            }
        }
        _ => "https://index.docker.io/v1/".to_owned(),
    }
}

/// Writes manifests as one multi-document YAML stream (`---` between
/// objects), as a GitOps repository holds them; for `imageautomation render`
/// with [`SecretsMode::Omit`]. Secret data would be written as it is, so do
/// not pass Secrets unless the output is itself secret.
pub fn to_yaml_documents(manifests: &[Manifest]) -> String {
    let mut out = String::new();
    for m in manifests {
        out.push_str("---\n");
        out.push_str(
            &serde_norway::to_string(m.expose_body()).expect("a JSON value serialises as YAML"),
        );
    }
    out
}

/// A URL for messages: user info removed.
fn redact_url(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
            let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
            format!("{scheme}://{host}{path}")
        }
        None => url.rsplit_once('@').map_or(url, |(_, h)| h).to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scp_like_urls_become_ssh_urls() {
        assert_eq!(
            flux_git_url("git@github.com:org/repo.git").as_deref(),
            Ok("ssh://git@github.com/org/repo.git")
        );
        assert_eq!(
            flux_git_url("https://github.com/org/repo").as_deref(),
            Ok("https://github.com/org/repo")
        );
        assert!(flux_git_url("ftp://x/y").is_err());
        let err = flux_git_url("https://u:hunter2@github.com/o/r").expect_err("password in URL");
        assert!(!err.contains("hunter2"));
    }

    #[test]
    fn redact_url_drops_user_info() {
        assert_eq!(redact_url("https://u:pw@host/p"), "https://host/p");
        assert_eq!(redact_url("ftp://x:pw@h"), "ftp://h");
    }

    #[test]
    fn docker_hub_and_registry_hosts() {
        assert_eq!(
            docker_config_registry_key("alpine"),
            "https://index.docker.io/v1/"
        );
        assert_eq!(
            docker_config_registry_key("library/alpine"),
            "https://index.docker.io/v1/"
        );
        assert_eq!(
            docker_config_registry_key("docker.io/library/alpine"),
            "https://index.docker.io/v1/"
        );
        assert_eq!(docker_config_registry_key("ghcr.io/org/app"), "ghcr.io");
        assert_eq!(
            docker_config_registry_key("127.0.0.1:5000/x"),
            "127.0.0.1:5000"
        );
        assert_eq!(docker_config_registry_key("localhost/x"), "localhost");
    }

    #[test]
    fn bad_docker_config_error_has_no_content() {
        let input = ImageRepositoryInput {
            namespace: "flux-system".into(),
            name: "app".into(),
            image: "ghcr.io/org/app".into(),
            interval: None,
            timeout: None,
            exclusion_list: None,
            insecure: false,
            suspend: false,
            credentials: Some(RegistryCredentials::DockerConfigJson(SecretString::from(
                "{\"auths\": {\"x\": \"supersecret\"",
            ))),
            certificate: None,
            provider: None,
            proxy: None,
        };
        let err = render_image_repository(&input, SecretsMode::Include)
            .expect_err("invalid JSON")
            .to_string();
        assert!(err.contains("dockerConfigJson"), "{err}");
        assert!(!err.contains("supersecret"), "{err}");
        // Without Secrets the content is not even parsed.
        assert!(render_image_repository(&input, SecretsMode::Omit).is_ok());
    }
}
