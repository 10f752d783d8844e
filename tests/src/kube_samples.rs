//! Sample inputs for the Kubernetes tests: one ImageRepository (with
//! credentials and TLS), one ImagePolicy and one UpdateAutomation (token
//! auth over HTTPS with a CA), as the provider would map its resources'
//! inputs. Shared by the fake-server tests and the ignored real-cluster test.

use std::collections::BTreeMap;

use imageautomation_kube::{
    CommitAuthor, DigestReflectionPolicy, GitAuth, GitCommit, GitInput, GitPush, GitRef,
    ImagePolicyInput, ImageRepositoryInput, Manifest, ObjectRef, Policy, RegistryCredentials,
    SecretsMode, TlsCertificate, UpdateAutomationInput, render_image_policy,
    render_image_repository, render_update_automation,
};
use secrecy::SecretString;

/// The registry password in [`repository`]; tests assert it never leaks.
pub const REGISTRY_PASSWORD: &str = "registry-pa55word";
/// The Git token in [`automation`]; tests assert it never leaks.
pub const GIT_TOKEN: &str = "ghp_sampletoken0123456789";

/// An ImageRepository `app` for `ghcr.io/org/app` with basic credentials
/// and a CA.
pub fn repository(namespace: &str) -> ImageRepositoryInput {
    ImageRepositoryInput {
        namespace: namespace.into(),
        name: "app".into(),
        image: "ghcr.io/org/app".into(),
        interval: Some("5m".into()),
        timeout: Some("1m".into()),
        exclusion_list: Some(vec!["^.*\\.sig$".into(), "^sha-".into()]),
        insecure: false,
        suspend: false,
        credentials: Some(RegistryCredentials::Basic {
            username: "bot".into(),
            password: SecretString::from(REGISTRY_PASSWORD),
        }),
        certificate: Some(TlsCertificate {
            ca_pem: Some("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n".into()),
            cert_pem: None,
            key_pem: None,
        }),
        provider: None,
        proxy: None,
    }
}

/// An ImagePolicy `app` selecting semver `>=1.0.0` from [`repository`].
pub fn policy(namespace: &str) -> ImagePolicyInput {
    ImagePolicyInput {
        namespace: namespace.into(),
        name: "app".into(),
        image_repository_ref: ObjectRef {
            namespace: None,
            name: "app".into(),
        },
        policy: Policy::Semver {
            range: ">=1.0.0".into(),
        },
        filter_tags_pattern: Some("^v(?P<v>.*)$".into()),
        filter_tags_extract: Some("$v".into()),
        digest_reflection_policy: DigestReflectionPolicy::IfNotPresent,
        interval: None,
        suspend: false,
    }
}

/// An UpdateAutomation `apps` over HTTPS with a token and a CA, applying [`policy`].
pub fn automation(namespace: &str) -> UpdateAutomationInput {
    UpdateAutomationInput {
        namespace: namespace.into(),
        name: "apps".into(),
        interval: Some("10m".into()),
        source_ref: None,
        git: GitInput {
            url: "https://git.example.com/org/fleet.git".into(),
            auth: Some(GitAuth::Token(SecretString::from(GIT_TOKEN))),
            ca_pem: Some("-----BEGIN CERTIFICATE-----\nMIIC\n-----END CERTIFICATE-----\n".into()),
            proxy: None,
            checkout: Some(GitRef {
                branch: Some("main".into()),
                ..GitRef::default()
            }),
            commit: GitCommit {
                author: CommitAuthor {
                    name: "fluxcdbot".into(),
                    email: "fluxcdbot@users.noreply.github.com".into(),
                },
                message_template: Some(
                    "{{range .Changed.Changes}}{{print .OldValue}} -> {{println .NewValue}}{{end}}"
                        .into(),
                ),
                message_template_values: BTreeMap::from([("env".into(), "prod".into())]),
                signing_key: None,
            },
            push: GitPush {
                branch: Some("image-updates".into()),
                ..GitPush::default()
            },
        },
        update_path: Some("./clusters/prod".into()),
        policies: vec![ObjectRef {
            namespace: Some(namespace.into()),
            name: "app".into(),
        }],
        suspend: false,
    }
}

/// Everything the three samples render, in apply order (Secrets first within
/// each resource).
///
/// # Panics
/// When a sample does not render (a bug in the samples or the renderer).
pub fn all(namespace: &str, mode: SecretsMode) -> Vec<Manifest> {
    let mut out =
        render_image_repository(&repository(namespace), mode).expect("repository renders");
    out.push(render_image_policy(&policy(namespace)).expect("policy renders"));
    out.extend(render_update_automation(&automation(namespace), mode).expect("automation renders"));
    out
}
