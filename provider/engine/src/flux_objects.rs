//! The resources' properties (Flux field names, as the Pulumi resources and a
//! Pulumi YAML program spell them) mapped to the Kubernetes objects'
//! inputs of `imageautomation-kube`. The provider (cluster mode) and
//! `imageautomation render` share this mapping; each says where defaults and
//! fallback credentials come from through [`Defaults`].

use std::collections::BTreeMap;

use imageautomation_kube::{
    DigestReflectionPolicy, Error as KubeError, GitAuth, GitInput, GitRef, ImagePolicyInput,
    ImageRepositoryInput, ObjectRef, Order, Policy, RegistryCredentials, TlsCertificate,
    UpdateAutomationInput,
};
use secrecy::SecretString;

use crate::token_rule::{TokenOrigin, token_destination};
use serde_json::Value;

/// What the properties leave open.
#[derive(Debug, Clone, Default)]
pub struct Defaults {
    /// `namespace` when the properties have none (the provider's
    /// `fluxNamespace`); an UpdateAutomation always uses it.
    pub namespace: String,
    /// `name` when the properties have none (the resource name).
    pub name: String,
    /// Registry credentials by registry host, used when an ImageRepository
    /// gives none (the provider's `registryAuth`).
    pub registry_auth: BTreeMap<String, (String, SecretString)>,
    /// The token for Git remotes on `github.com` without `git.auth` (the
    /// provider's `githubToken`).
    pub github_token: Option<SecretString>,
}

fn text(v: &Value, path: &str) -> Option<String> {
    path.split('.')
        .try_fold(v, |v, k| v.get(k))
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

fn secret(v: &Value, path: &str) -> Option<SecretString> {
    text(v, path).map(SecretString::from)
}

fn flag(v: &Value, path: &str) -> bool {
    path.split('.')
        .try_fold(v, |v, k| v.get(k))
        .is_some_and(|b| b == true || b == "true")
}

/// A `map[string]string` property (`messageTemplateValues`, `push.options`):
/// non-string values are kept as their JSON text; absent is empty.
pub fn string_map(v: Option<&Value>) -> BTreeMap<String, String> {
    v.and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| {
                    let text = v.as_str().map_or_else(|| v.to_string(), str::to_owned);
                    (k.clone(), text)
                })
                .collect()
        })
        .unwrap_or_default()
}

fn order(v: &Value, path: &str) -> Option<Order> {
    match text(v, path).as_deref() {
        Some("desc") => Some(Order::Desc),
        Some("asc") => Some(Order::Asc),
        _ => None,
    }
}

/// An ImageRepository's object inputs: credentials from `credentials`, else
/// `dockerConfigJson`, else [`Defaults::registry_auth`] for the image's registry.
pub fn image_repository_input(p: &Value, d: &Defaults) -> ImageRepositoryInput {
    let image = text(p, "image").unwrap_or_default();
    let credentials = if let (Some(username), Some(password)) = (
        text(p, "credentials.username"),
        secret(p, "credentials.password"),
    ) {
        Some(RegistryCredentials::Basic { username, password })
    } else if let Some(json) = secret(p, "dockerConfigJson") {
        Some(RegistryCredentials::DockerConfigJson(json))
    } else {
        imageautomation_registry::ImageReference::parse(&image, flag(p, "insecure"))
            .ok()
            .and_then(|r| d.registry_auth.get(r.registry()).cloned())
            .map(|(username, password)| RegistryCredentials::Basic { username, password })
    };
    let certificate = TlsCertificate {
        ca_pem: text(p, "certificate.caPem"),
        cert_pem: text(p, "certificate.certPem"),
        key_pem: secret(p, "certificate.keyPem"),
    };
    let has_certificate = certificate.ca_pem.is_some()
        || certificate.cert_pem.is_some()
        || certificate.key_pem.is_some();
    ImageRepositoryInput {
        namespace: text(p, "namespace").unwrap_or_else(|| d.namespace.clone()),
        name: text(p, "name").unwrap_or_else(|| d.name.clone()),
        image,
        interval: text(p, "interval"),
        timeout: text(p, "timeout"),
        exclusion_list: p
            .get("exclusionList")
            .and_then(|l| serde_json::from_value(l.clone()).ok()),
        insecure: flag(p, "insecure"),
        suspend: flag(p, "suspend"),
        credentials,
        certificate: has_certificate.then_some(certificate),
    }
}

/// An ImagePolicy's object inputs; `imageRepositoryRef` names the repository
/// object by its `namespace`/`name`.
///
/// # Errors
/// [`KubeError::InvalidInput`] without a policy or a repository name.
pub fn image_policy_input(p: &Value, d: &Defaults) -> Result<ImagePolicyInput, KubeError> {
    let namespace = text(p, "namespace").unwrap_or_else(|| d.namespace.clone());
    let name = text(p, "name").unwrap_or_else(|| d.name.clone());
    let invalid = |field: &'static str, reason: &str| KubeError::InvalidInput {
        object: format!("ImagePolicy {namespace}/{name}"),
        field,
        reason: reason.to_owned(),
    };
    let policy = if let Some(range) = text(p, "policy.semver.range") {
        Policy::Semver { range }
    } else if p
        .pointer("/policy/alphabetical")
        .is_some_and(Value::is_object)
    {
        Policy::Alphabetical {
            order: order(p, "policy.alphabetical.order"),
        }
    } else if p.pointer("/policy/numerical").is_some_and(Value::is_object) {
        Policy::Numerical {
            order: order(p, "policy.numerical.order"),
        }
    } else {
        return Err(invalid(
            "policy",
            "set one of semver, alphabetical or numerical",
        ));
    };
    let digest_reflection_policy = match text(p, "digestReflectionPolicy").as_deref() {
        Some("Always") => Some(DigestReflectionPolicy::Always),
        Some("IfNotPresent") => Some(DigestReflectionPolicy::IfNotPresent),
        _ => None,
    };
    let repository_name = text(p, "imageRepositoryRef.name").ok_or_else(|| {
        invalid(
            "imageRepositoryRef",
            "the repository's name is required: pass an ImageRepository's imageRepositoryRef",
        )
    })?;
    Ok(ImagePolicyInput {
        namespace: namespace.clone(),
        name: name.clone(),
        image_repository_ref: ObjectRef {
            namespace: text(p, "imageRepositoryRef.namespace"),
            name: repository_name,
        },
        policy,
        filter_tags_pattern: text(p, "filterTags.pattern"),
        filter_tags_extract: text(p, "filterTags.extract"),
        // Flux accepts (and then requires) an interval only with `Always`.
        interval: (digest_reflection_policy == Some(DigestReflectionPolicy::Always))
            .then(|| text(p, "interval"))
            .flatten(),
        digest_reflection_policy,
        suspend: flag(p, "suspend"),
    })
}

/// An UpdateAutomation's object inputs: the object is
/// [`Defaults::namespace`]/`name` (default [`Defaults::name`]), its policies
/// are exactly the `policies`, and its source is `sourceRef` when given, else a
/// rendered `GitRepository` with the Git credentials (or
/// [`Defaults::github_token`] for github.com) in its Secret.
pub fn update_automation_input(p: &Value, d: &Defaults) -> UpdateAutomationInput {
    let url = text(p, "git.url").unwrap_or_default();
    let auth = if let Some(token) = secret(p, "git.auth.token") {
        Some(GitAuth::Token(token))
    } else if let (Some(username), Some(password)) =
        (text(p, "git.auth.username"), secret(p, "git.auth.password"))
    {
        Some(GitAuth::Basic { username, password })
    } else if let Some(private_key) = secret(p, "git.auth.sshPrivateKey") {
        Some(GitAuth::Ssh {
            private_key,
            known_hosts: text(p, "git.auth.knownHosts").unwrap_or_default(),
            passphrase: None,
        })
    } else if token_destination(&url, TokenOrigin::Ambient, false).is_ok() {
        // The same rule as the plugin's own Git access: githubToken goes to GitHub only.
        d.github_token.clone().map(GitAuth::Token)
    } else {
        None
    };
    let checkout = GitRef {
        branch: text(p, "git.checkout.ref.branch"),
        tag: text(p, "git.checkout.ref.tag"),
        commit: text(p, "git.checkout.ref.commit"),
        ..GitRef::default()
    };
    let has_checkout = checkout != GitRef::default();
    UpdateAutomationInput {
        namespace: d.namespace.clone(),
        name: text(p, "name").unwrap_or_else(|| d.name.clone()),
        interval: text(p, "interval"),
        source_ref: text(p, "sourceRef.name").map(|name| ObjectRef {
            namespace: text(p, "sourceRef.namespace"),
            name,
        }),
        git: GitInput {
            url,
            auth,
            ca_pem: text(p, "git.caPem"),
            checkout: has_checkout.then_some(checkout),
            author_name: text(p, "git.commit.author.name"),
            author_email: text(p, "git.commit.author.email").unwrap_or_default(),
            message_template: text(p, "git.commit.messageTemplate"),
            message_template_values: string_map(p.pointer("/git/commit/messageTemplateValues")),
            push_branch: text(p, "git.push.branch"),
            push_refspec: text(p, "git.push.refspec"),
            push_options: string_map(p.pointer("/git/push/options")),
        },
        update_path: text(p, "update.path"),
        policies: p
            .get("policies")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|x| {
                Some(ObjectRef {
                    namespace: text(x, "namespace"),
                    name: text(x, "name")?,
                })
            })
            .collect(),
        suspend: flag(p, "suspend"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;
    use serde_json::json;

    #[test]
    fn the_github_token_goes_into_the_secret_of_https_github_remotes_only() {
        let d = Defaults {
            github_token: Some(SecretString::from("ghp_x".to_owned())),
            ..Defaults::default()
        };
        let auth_of = |url: &str| {
            update_automation_input(&json!({"git": {"url": url}}), &d)
                .git
                .auth
                .is_some()
        };
        assert!(auth_of("https://github.com/org/repo"));
        assert!(!auth_of("ssh://git@github.com/org/repo"));
        assert!(!auth_of("https://github.com.evil.example/org/repo"));
        assert!(!auth_of("http://127.0.0.1:8080/repo.git"));
    }

    #[test]
    fn defaults_and_fallback_credentials_apply_where_the_properties_are_silent() {
        let d = Defaults {
            namespace: "flux-system".into(),
            name: "podinfo".into(),
            registry_auth: BTreeMap::from([(
                "ghcr.io".to_owned(),
                ("bot".to_owned(), SecretString::from("pw")),
            )]),
            github_token: Some(SecretString::from("tok")),
        };
        let repo = image_repository_input(&json!({"image": "ghcr.io/a/b"}), &d);
        assert_eq!(
            (repo.namespace.as_str(), repo.name.as_str()),
            ("flux-system", "podinfo")
        );
        assert!(
            matches!(repo.credentials, Some(RegistryCredentials::Basic { ref username, .. }) if username == "bot")
        );
        let automation = update_automation_input(
            &json!({"name": "fleet", "git": {"url": "https://github.com/o/r"}, "policies": [{"namespace": "flux-system", "name": "podinfo"}]}),
            &d,
        );
        assert_eq!(automation.name, "fleet");
        assert!(
            matches!(&automation.git.auth, Some(GitAuth::Token(t)) if t.expose_secret() == "tok")
        );
        assert_eq!(automation.policies.len(), 1);
        assert!(
            image_policy_input(&json!({"imageRepositoryRef": {"name": "podinfo"}}), &d).is_err()
        );
    }
}
