//! The resources' typed inputs (`imageautomation-model`'s [`args`](imageautomation_model::args),
//! parsed from what the Pulumi resources and a Pulumi YAML program give) mapped to the
//! Kubernetes objects' inputs of `imageautomation-kube`, and the Git credential precedence
//! ([`git_credential`]) the plugin's own Git access uses too. The provider (cluster mode) and
//! `imageautomation render` share this mapping; each says where defaults and
//! fallback credentials come from through [`Defaults`].

use std::collections::BTreeMap;

use imageautomation_kube::{
    DigestReflectionPolicy, Error as KubeError, GitAuth, GitInput, ImagePolicyInput,
    ImageRepositoryInput, ObjectRef, Order, Policy, RegistryCredentials, TlsCertificate,
    UpdateAutomationInput,
};
use imageautomation_model::args::{
    GitArgs, GroupBy, ImagePolicyArgs, ImageRepositoryArgs, UpdateAutomationArgs,
};
use imageautomation_model::checkout_ref;
use imageautomation_model::policy_options::OPTIONS;
use imageautomation_model::token_rule::{TokenOrigin, token_destination};
use imageautomation_policy::OrderPolicy;
use secrecy::SecretString;

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

/// An ImageRepository's object inputs: credentials from `credentials`, else
/// `dockerConfigJson`, else [`Defaults::registry_auth`] for the image's registry.
pub fn image_repository_input(args: &ImageRepositoryArgs, d: &Defaults) -> ImageRepositoryInput {
    let image = args.image.clone().unwrap_or_default();
    let access = args.access();
    let credentials = if let Some((username, password)) = access.basic() {
        Some(RegistryCredentials::Basic {
            username: username.to_owned(),
            password: password.clone(),
        })
    } else if let Some(json) = &access.docker_config_json {
        Some(RegistryCredentials::DockerConfigJson(json.clone()))
    } else {
        imageautomation_registry::ImageReference::parse(&image, access.insecure)
            .ok()
            .and_then(|r| d.registry_auth.get(r.registry()).cloned())
            .map(|(username, password)| RegistryCredentials::Basic { username, password })
    };
    let certificate = access
        .certificate
        .as_ref()
        .filter(|c| !c.is_empty())
        .map(|c| TlsCertificate {
            ca_pem: c.ca_pem.clone(),
            cert_pem: c.cert_pem.clone(),
            key_pem: c.key_pem.clone(),
        });
    ImageRepositoryInput {
        namespace: args
            .namespace
            .clone()
            .unwrap_or_else(|| d.namespace.clone()),
        name: args.name.clone().unwrap_or_else(|| d.name.clone()),
        image,
        interval: args.interval.clone(),
        timeout: args.timeout.clone(),
        exclusion_list: args.exclusion_list.clone(),
        insecure: access.insecure,
        suspend: args.suspend,
        credentials,
        certificate,
        provider: access.provider.clone(),
        proxy: access.proxy.clone(),
    }
}

fn order(policy: Option<&OrderPolicy>) -> Option<Order> {
    match policy?.order.as_deref() {
        Some("desc") => Some(Order::Desc),
        Some("asc") => Some(Order::Asc),
        _ => None,
    }
}

/// An ImagePolicy's object inputs; `imageRepositoryRef` names the repository
/// object by its `namespace`/`name`.
///
/// # Errors
/// [`KubeError::InvalidInput`] without a policy or a repository name.
pub fn image_policy_input(
    args: &ImagePolicyArgs,
    d: &Defaults,
) -> Result<ImagePolicyInput, KubeError> {
    let namespace = args
        .namespace
        .clone()
        .unwrap_or_else(|| d.namespace.clone());
    let name = args.name.clone().unwrap_or_else(|| d.name.clone());
    let invalid = |field: &'static str, reason: &str| KubeError::InvalidInput {
        object: format!("ImagePolicy {namespace}/{name}"),
        field,
        reason: reason.to_owned(),
    };
    // Flux's controllers would not honour our options between runs (a downgrade, a tag too
    // young, a platform missing, a held policy moving on): refuse rather than pretend.
    let options = args.options().map_err(|e| {
        let field = OPTIONS
            .into_iter()
            .find(|o| e.option.starts_with(o))
            .unwrap_or("policy");
        invalid(field, &e.message)
    })?;
    if let Some(field) = options.first_set() {
        return Err(invalid(
            field,
            &format!(
                "{field} is not in Flux: the ImagePolicy cluster mode applies would select without it between runs; remove {field}, or turn cluster mode off (imageautomation:kubernetes enabled: false)"
            ),
        ));
    }
    let choice = args.policy.clone().unwrap_or_default();
    let policy = if let Some(semver) = choice.semver.filter(|s| !s.range.is_empty()) {
        Policy::Semver {
            range: semver.range,
        }
    } else if let Some(alphabetical) = &choice.alphabetical {
        Policy::Alphabetical {
            order: order(Some(alphabetical)),
        }
    } else if let Some(numerical) = &choice.numerical {
        Policy::Numerical {
            order: order(Some(numerical)),
        }
    } else {
        return Err(invalid(
            "policy",
            "set one of semver, alphabetical or numerical",
        ));
    };
    let repository = args.image_repository_ref.clone().unwrap_or_default();
    let repository_name = repository.name.ok_or_else(|| {
        invalid(
            "imageRepositoryRef",
            "the repository's name is required: pass an ImageRepository's imageRepositoryRef",
        )
    })?;
    let filter = args.filter_tags.as_ref();
    let digest_reflection_policy = args.digest_reflection_policy;
    Ok(ImagePolicyInput {
        namespace: namespace.clone(),
        name: name.clone(),
        image_repository_ref: ObjectRef {
            namespace: repository.namespace,
            name: repository_name,
        },
        policy,
        filter_tags_pattern: filter.map(|f| f.pattern.clone()).filter(|s| !s.is_empty()),
        filter_tags_extract: filter.map(|f| f.extract.clone()).filter(|s| !s.is_empty()),
        // Flux accepts (and then requires) an interval only with `Always`.
        interval: (digest_reflection_policy == DigestReflectionPolicy::Always)
            .then(|| args.interval.clone())
            .flatten(),
        digest_reflection_policy,
        suspend: false,
    })
}

/// An UpdateAutomation's object inputs: the object is
/// [`Defaults::namespace`]/`name` (default [`Defaults::name`]), its policies
/// are exactly the `policies`, and its source is `sourceRef` when given, else a
/// rendered `GitRepository` with the Git credentials ([`git_credential`]'s rule) in its
/// Secret.
///
/// # Errors
/// [`KubeError::InvalidInput`] on `pullRequest.groupBy` other than `none`: the Flux
/// `ImageUpdateAutomation` pushes every bump to one branch and opens no pull request.
pub fn update_automation_input(
    args: &UpdateAutomationArgs,
    d: &Defaults,
) -> Result<UpdateAutomationInput, KubeError> {
    let name = args.name.clone().unwrap_or_else(|| d.name.clone());
    let group_by = args.group_by();
    if group_by != GroupBy::None {
        return Err(KubeError::InvalidInput {
            object: format!("UpdateAutomation {}/{name}", d.namespace),
            field: "pullRequest.groupBy",
            reason: format!(
                "{} is not in Flux: cluster mode cannot express it, as the Flux ImageUpdateAutomation pushes every bump to one branch (git.push.branch) and opens no pull request; remove groupBy, or turn cluster mode off (imageautomation:kubernetes enabled: false)",
                group_by.as_str()
            ),
        });
    }
    let git = &args.git;
    let url = git.url.clone().unwrap_or_default();
    let auth = git_credential(git, d.github_token.as_ref()).map(|c| match c {
        GitCredential::Token(token, _) => GitAuth::Token(token),
        GitCredential::Basic { username, password } => GitAuth::Basic { username, password },
        GitCredential::SshKey {
            private_key,
            known_hosts,
        } => GitAuth::Ssh {
            private_key,
            known_hosts: known_hosts.unwrap_or_default(),
            passphrase: None,
        },
    });
    let checkout = checkout_ref(git.checkout.as_ref(), None);
    Ok(UpdateAutomationInput {
        namespace: d.namespace.clone(),
        name,
        interval: args.interval.clone(),
        source_ref: args.source_ref.as_ref().and_then(|s| {
            Some(ObjectRef {
                namespace: s.namespace.clone(),
                name: s.name.clone()?,
            })
        }),
        git: GitInput {
            url,
            auth,
            ca_pem: git.ca_pem.clone(),
            proxy: git.proxy.clone(),
            checkout: (!checkout.is_empty()).then_some(checkout),
            commit: git.commit.clone(),
            push: git.push.clone().unwrap_or_default(),
        },
        update_path: args.update.as_ref().and_then(|u| u.path.clone()),
        policies: args
            .policies
            .iter()
            .flatten()
            .filter_map(|p| {
                Some(ObjectRef {
                    namespace: p.namespace.clone(),
                    name: p.name.clone()?,
                })
            })
            .collect(),
        suspend: args.suspend,
    })
}

/// Credentials for a Git remote, whatever carries them (the Git client, a Flux Secret).
#[derive(Debug, Clone)]
pub enum GitCredential {
    /// An HTTPS token, and where it came from.
    Token(SecretString, TokenOrigin),
    /// HTTPS basic auth.
    Basic {
        /// The user name.
        username: String,
        /// The password.
        password: SecretString,
    },
    /// An SSH key.
    SshKey {
        /// The private key.
        private_key: SecretString,
        /// `known_hosts` lines for the server.
        known_hosts: Option<String>,
    },
}

/// The credential precedence of the plugin, its cluster mode and `render`: `git.auth.token`,
/// else `git.auth.username` and `password`, else `git.auth.sshPrivateKey`, else the
/// ambient token (`githubToken`, `GITHUB_TOKEN`) when [`token_destination`] lets it go to
/// the remote (github.com over HTTPS); `None` is anonymous access.
pub fn git_credential(git: &GitArgs, ambient: Option<&SecretString>) -> Option<GitCredential> {
    let auth = git.auth.clone().unwrap_or_default();
    let url = git.url.as_deref().unwrap_or_default();
    if let Some(token) = auth.token {
        Some(GitCredential::Token(token, TokenOrigin::Explicit))
    } else if let (Some(username), Some(password)) = (auth.username, auth.password) {
        Some(GitCredential::Basic { username, password })
    } else if let Some(private_key) = auth.ssh_private_key {
        Some(GitCredential::SshKey {
            private_key,
            known_hosts: auth.known_hosts,
        })
    } else if token_destination(url, TokenOrigin::Ambient, false).is_ok() {
        ambient.map(|t| GitCredential::Token(t.clone(), TokenOrigin::Ambient))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;
    use serde_json::json;

    fn args<T: serde::de::DeserializeOwned>(v: serde_json::Value) -> T {
        imageautomation_model::args::parse(&v).expect("valid inputs")
    }

    #[test]
    fn the_github_token_goes_into_the_secret_of_https_github_remotes_only() {
        let d = Defaults {
            github_token: Some(SecretString::from("ghp_x".to_owned())),
            ..Defaults::default()
        };
        let auth_of = |url: &str| {
            update_automation_input(&args(json!({"git": {"url": url}})), &d)
                .expect("no groupBy")
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
    fn our_policy_options_are_refused_in_cluster_mode() {
        let d = Defaults::default();
        let base =
            json!({"imageRepositoryRef": {"name": "app"}, "policy": {"semver": {"range": "1.x"}}});
        assert!(image_policy_input(&args(base.clone()), &d).is_ok());
        for (field, value) in [
            ("downgrade", json!("Deny")),
            ("minimumAge", json!("24h")),
            ("platforms", json!(["linux/arm64"])),
            ("hold", json!(true)),
        ] {
            let mut inputs = base.clone();
            inputs[field] = value;
            let e = image_policy_input(&args(inputs), &d).expect_err(field);
            assert!(
                matches!(&e, KubeError::InvalidInput { field: f, .. } if *f == field),
                "{e}"
            );
            assert!(e.to_string().contains("is not in Flux"), "{e}");
        }
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
        let repo = image_repository_input(&args(json!({"image": "ghcr.io/a/b"})), &d);
        assert_eq!(
            (repo.namespace.as_str(), repo.name.as_str()),
            ("flux-system", "podinfo")
        );
        assert!(
            matches!(repo.credentials, Some(RegistryCredentials::Basic { ref username, .. }) if username == "bot")
        );
        let automation = update_automation_input(
            &args(
                json!({"name": "fleet", "git": {"url": "https://github.com/o/r"}, "policies": [{"namespace": "flux-system", "name": "podinfo"}]}),
            ),
            &d,
        )
        .expect("no groupBy");
        assert_eq!(automation.name, "fleet");
        assert!(
            matches!(&automation.git.auth, Some(GitAuth::Token(t)) if t.expose_secret() == "tok")
        );
        assert_eq!(automation.policies.len(), 1);
        assert!(
            image_policy_input(
                &args(json!({"imageRepositoryRef": {"name": "podinfo"}})),
                &d
            )
            .is_err()
        );
    }
}
