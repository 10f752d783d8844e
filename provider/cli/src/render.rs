//! `imageautomation render DIR`: the Flux objects that cluster mode would
//! apply, as multi-document YAML on stdout, for a GitOps repository. Secrets
//! are never rendered (stderr says so): the Flux objects reference them by
//! the names the provider gives them (`<name>-registry-auth`,
//! `<name>-registry-tls`, `<automation>-git-auth`), to be provided another
//! way (SOPS, External Secrets, `kubectl create secret`).
//!
//! `DIR` is either
//! - a Pulumi YAML project (it has `Pulumi.yaml`): its
//!   `imageautomation:index:*` resources, whose properties must be literal
//!   values, config defaults (`${name}` of a `config:` entry with a
//!   `default`), or the standard wiring `${repo.imageRepositoryRef}` /
//!   `${policy.imagePolicyRef}` between them; or
//! - a folder of Flux manifests (read as `imageautomation run` reads them):
//!   the objects are rendered again as `image.toolkit.fluxcd.io/v1` with the
//!   provider's labels and an automation's `policySelector` resolved to the
//!   exact policies it selects in the folder.
//!
//! Exit codes: 0 rendered, 2 bad input (every problem listed on stderr).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::LazyLock;

use imageautomation_engine::flux_objects::{
    Defaults, image_policy_input, image_repository_input, update_automation_input,
};
use imageautomation_kube::{
    GitAuth, GitInput, ImagePolicyInput, ImageRepositoryInput, Kind, Manifest, ObjectRef, Order,
    Policy, RegistryCredentials, SecretsMode, TlsCertificate, UpdateAutomationInput,
    render_image_policy, render_image_repository, render_update_automation, to_yaml_documents,
};
use imageautomation_model::git::{GitCommit, KeyPair, SigningFormat, SigningKey, UpdateStrategy};
use imageautomation_model::{args, checkout_ref};
use regex::Regex;
use secrecy::SecretString;
use serde_json::{Map, Value, json};

use imageautomation_model::manifests::{self, LabelSelector};
use imageautomation_model::policy_options::ANNOTATION_PREFIX;
use kube_core::SelectorExt as _;

/// Render the Flux objects (never Secrets) of a Pulumi YAML project or a
/// folder of Flux manifests, as multi-document YAML on stdout.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A Pulumi YAML project folder (with `Pulumi.yaml`) or a folder of Flux manifests.
    pub dir: PathBuf,
    /// Namespace of the resources of a Pulumi project that give none (`fluxNamespace`).
    /// Default: the project's `imageautomation:fluxNamespace` config, else `flux-system`.
    #[arg(long)]
    pub flux_namespace: Option<String>,
}

/// The note printed on stderr with every successful render.
pub const NO_SECRETS_NOTE: &str = "note: Secrets are not rendered; the Flux objects reference them by name (spec.secretRef, spec.certSecretRef): provide them another way (SOPS, External Secrets, kubectl create secret)";

/// Runs `imageautomation render`.
pub fn run(args: Args) -> ExitCode {
    let rendered = if project_file(&args.dir).is_some() {
        from_project(&args.dir, args.flux_namespace.as_deref())
    } else {
        from_manifests(&args.dir)
    };
    match rendered {
        Ok(mut objects) => {
            // Kubernetes apply order: sources before the objects that use them.
            objects.sort_by_key(|m| Kind::ALL.iter().position(|k| *k == m.key().kind));
            eprintln!("{NO_SECRETS_NOTE}");
            print!("{}", to_yaml_documents(&objects));
            ExitCode::SUCCESS
        }
        Err(errors) => {
            for e in errors {
                eprintln!("error: {e}");
            }
            ExitCode::from(2)
        }
    }
}

fn project_file(dir: &Path) -> Option<PathBuf> {
    ["Pulumi.yaml", "Pulumi.yml"]
        .iter()
        .map(|f| dir.join(f))
        .find(|p| p.is_file())
}

/// A stand-in for a secret value: with [`SecretsMode::Omit`] only the
/// presence of credentials matters (it makes the object reference a Secret).
fn placeholder() -> SecretString {
    SecretString::from("{\"auths\":{}}".to_owned())
}

/// Stands in for a `proxySecretRef` Secret's fields: only the reference is rendered.
fn placeholder_proxy() -> args::Proxy {
    args::Proxy {
        address: Some("http://proxy.invalid:3128".to_owned()),
        ..args::Proxy::default()
    }
}

/// The commit settings with a Flux `signingKey` (a Secret reference and `type`) replaced by
/// a stand-in key of that type: only the reference is rendered.
fn placeholder_signing_key(commit: &GitCommit) -> Result<GitCommit, String> {
    let mut commit = commit.clone();
    if let Some(key) = &commit.signing_key {
        let pair = Some(KeyPair {
            private_key: Some(placeholder()),
            passphrase: None,
        });
        commit.signing_key = Some(match key.flux_format()? {
            SigningFormat::OpenPgp => SigningKey {
                openpgp: pair,
                ..SigningKey::default()
            },
            SigningFormat::Ssh => SigningKey {
                ssh: pair,
                ..SigningKey::default()
            },
        });
    }
    Ok(commit)
}

fn keep(manifests: Vec<Manifest>) -> impl Iterator<Item = Manifest> {
    manifests.into_iter().filter(|m| !m.is_secret())
}

// ---------------------------------------------------------------------------
// A Pulumi YAML project.

static WHOLE_REFERENCE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\$\{([^}]+)\}$").expect("static regex"));

struct Declared {
    name: String,
    token: String,
    properties: Value,
}

/// Renders the `imageautomation:index:*` resources of the Pulumi YAML
/// project in `dir`.
///
/// # Errors
/// Every unreadable file, non-literal property and invalid input, each
/// with the resource and property.
pub fn from_project(
    dir: &Path,
    flux_namespace: Option<&str>,
) -> Result<Vec<Manifest>, Vec<String>> {
    let path =
        project_file(dir).ok_or_else(|| vec![format!("{}: no Pulumi.yaml", dir.display())])?;
    let text = std::fs::read_to_string(&path)
        .map_err(|e| vec![format!("{}: cannot be read: {e}", path.display())])?;
    let project: Value = serde_norway::from_str(&text)
        .map_err(|e| vec![format!("{}: not YAML: {e}", path.display())])?;
    let config = project.get("config").and_then(Value::as_object);
    let config_value = |key: &str| {
        config.and_then(|c| c.get(key)).and_then(|v| match v {
            Value::Object(m) => m.get("default").or_else(|| m.get("value")).cloned(),
            other => Some(other.clone()),
        })
    };
    let flux_namespace = flux_namespace
        .map(str::to_owned)
        .or_else(|| {
            config_value("imageautomation:fluxNamespace")
                .and_then(|v| v.as_str().map(str::to_owned))
        })
        .unwrap_or_else(|| "flux-system".to_owned());
    let declared: Vec<Declared> = project
        .get("resources")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .filter_map(|(name, r)| {
            let token = r.get("type")?.as_str()?;
            token
                .starts_with("imageautomation:index:")
                .then(|| Declared {
                    name: name.clone(),
                    token: token.to_owned(),
                    properties: r.get("properties").cloned().unwrap_or(json!({})),
                })
        })
        .collect();
    if declared.is_empty() {
        return Err(vec![format!(
            "{}: no imageautomation:index:* resources to render",
            path.display()
        )]);
    }
    // The Flux identity of each resource, for `${x.imageRepositoryRef}` and `${x.imagePolicyRef}`.
    let identity = |d: &Declared| -> (String, String) {
        let field = |k: &str| {
            d.properties
                .get(k)
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        if d.token.ends_with(":UpdateAutomation") {
            let name = field("name").unwrap_or_else(|| d.name.clone());
            return (flux_namespace.clone(), name);
        }
        (
            field("namespace").unwrap_or_else(|| flux_namespace.clone()),
            field("name").unwrap_or_else(|| d.name.clone()),
        )
    };
    let mut errors = Vec::new();
    let mut out = Vec::new();
    for d in &declared {
        let where_ = |p: &str| format!("{} (resources.{}.properties{p})", path.display(), d.name);
        let resolve_ref = |reference: &str, at: &str, errors: &mut Vec<String>| -> Value {
            if let Some((resource, output)) = reference.split_once('.') {
                let target = declared.iter().find(|x| x.name == resource);
                match (target, output) {
                    (Some(t), "imageRepositoryRef") if t.token.ends_with(":ImageRepository") => {
                        let (namespace, name) = identity(t);
                        return json!({"namespace": namespace, "name": name});
                    }
                    (Some(t), "imagePolicyRef") if t.token.ends_with(":ImagePolicy") => {
                        let (namespace, name) = identity(t);
                        return json!({"namespace": namespace, "name": name});
                    }
                    _ => {}
                }
            } else if let Some(v) = config_value(reference) {
                return v;
            }
            errors.push(format!(
                "{}: ${{{reference}}} cannot be rendered without running the program: use a literal value, a config entry with a default, or ${{<ImageRepository>.imageRepositoryRef}} / ${{<ImagePolicy>.imagePolicyRef}}",
                where_(at)
            ));
            Value::Null
        };
        let properties = resolve(&d.properties, "", &mut errors, &resolve_ref, &where_);
        let (namespace, name) = identity(d);
        // The same mapping as the provider's cluster mode; Secrets are omitted,
        // so credential values (often unresolved references here) never matter.
        let defaults = Defaults {
            namespace,
            name,
            ..Defaults::default()
        };
        let shape =
            |e: args::ShapeError| format!("{}: {}", where_(&format!(".{}", e.property)), e.reason);
        let rendered = match d.token.rsplit(':').next().unwrap_or_default() {
            "ImageRepository" => args::parse(&properties).map(|a| {
                render_image_repository(&image_repository_input(&a, &defaults), SecretsMode::Omit)
            }),
            "ImagePolicy" => args::parse(&properties).map(|a| {
                image_policy_input(&a, &defaults)
                    .and_then(|input| render_image_policy(&input).map(|m| vec![m]))
            }),
            "UpdateAutomation" => args::parse::<args::UpdateAutomationArgs>(&properties).map(|a| {
                update_automation_input(&a, &defaults)
                    .and_then(|input| render_update_automation(&input, SecretsMode::Omit))
            }),
            other => {
                errors.push(format!(
                    "{}: unknown resource type imageautomation:index:{other}",
                    where_("")
                ));
                continue;
            }
        };
        let rendered = match rendered {
            Ok(rendered) => rendered,
            Err(e) => {
                errors.push(shape(e));
                continue;
            }
        };
        match rendered {
            Ok(m) => out.extend(keep(m)),
            Err(e) => errors.push(format!("{}: {e}", where_(""))),
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// Replaces whole-string `${...}` references; any other interpolation or
/// `fn::` function is an error (secrets: `fn::secret` stands for a value
/// that is not rendered anyway).
fn resolve(
    v: &Value,
    at: &str,
    errors: &mut Vec<String>,
    reference: &dyn Fn(&str, &str, &mut Vec<String>) -> Value,
    where_: &dyn Fn(&str) -> String,
) -> Value {
    match v {
        Value::String(s) => {
            if let Some(c) = WHOLE_REFERENCE.captures(s) {
                reference(c[1].trim(), at, errors)
            } else if s.contains("${") {
                errors.push(format!(
                    "{}: interpolation {s:?} cannot be rendered without running the program: use a literal value",
                    where_(at)
                ));
                Value::Null
            } else {
                v.clone()
            }
        }
        Value::Object(m) if m.len() == 1 && m.contains_key("fn::secret") => {
            Value::String("[secret]".to_owned())
        }
        Value::Object(m) if m.keys().any(|k| k.starts_with("fn::")) => {
            errors.push(format!(
                "{}: functions (fn::...) cannot be rendered without running the program: use a literal value",
                where_(at)
            ));
            Value::Null
        }
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, x)| {
                    (
                        k.clone(),
                        resolve(x, &format!("{at}.{k}"), errors, reference, where_),
                    )
                })
                .collect::<Map<String, Value>>(),
        ),
        Value::Array(a) => Value::Array(
            a.iter()
                .enumerate()
                .map(|(i, x)| resolve(x, &format!("{at}[{i}]"), errors, reference, where_))
                .collect(),
        ),
        other => other.clone(),
    }
}

fn order(v: Option<&str>) -> Option<Order> {
    match v {
        Some("desc") => Some(Order::Desc),
        Some("asc") => Some(Order::Asc),
        _ => None,
    }
}

// ---------------------------------------------------------------------------
// A folder of Flux manifests.

/// Renders the Flux image automation objects of the manifests under `dir`.
///
/// # Errors
/// Every unreadable or invalid manifest, and objects that cannot be rendered
/// (an automation whose `sourceRef` is not a `GitRepository` in the folder
/// is rendered with that `sourceRef`).
pub fn from_manifests(dir: &Path) -> Result<Vec<Manifest>, Vec<String>> {
    let found = manifests::read_dir(dir)
        .map_err(|errors| errors.iter().map(ToString::to_string).collect::<Vec<_>>())?;
    if found.repositories.is_empty() && found.policies.is_empty() && found.automations.is_empty() {
        return Err(vec![format!(
            "{}: no ImageRepository, ImagePolicy or ImageUpdateAutomation objects to render",
            dir.display()
        )]);
    }
    let mut errors = Vec::new();
    let mut out = Vec::new();
    let mut push =
        |origin: &manifests::Origin, r: imageautomation_kube::Result<Vec<Manifest>>| match r {
            Ok(m) => out.extend(keep(m)),
            Err(e) => errors.push(format!("{}: {origin}: {e}", dir.display())),
        };
    for r in &found.repositories {
        let s = &r.spec;
        let input = ImageRepositoryInput {
            namespace: r.metadata.namespace.clone(),
            name: r.metadata.name.clone(),
            image: s.image.clone(),
            interval: s.interval.clone(),
            timeout: s.timeout.clone(),
            exclusion_list: s.exclusion_list.clone(),
            insecure: s.insecure,
            suspend: s.suspend,
            credentials: s
                .secret_ref
                .as_ref()
                .map(|_| RegistryCredentials::DockerConfigJson(placeholder())),
            provider: s.provider.clone(),
            proxy: s.proxy_secret_ref.as_ref().map(|_| placeholder_proxy()),
            certificate: s.cert_secret_ref.as_ref().map(|_| TlsCertificate {
                ca_pem: Some(String::new()),
                cert_pem: None,
                key_pem: None,
            }),
        };
        push(
            &r.origin,
            render_image_repository(&input, SecretsMode::Omit),
        );
    }
    for p in &found.policies {
        // The cluster's Flux controllers would select without our options: refuse, as cluster
        // mode does, rather than drop the annotations silently.
        if let Some(option) = p.spec.options.first_set() {
            push(
                &p.origin,
                Err(imageautomation_kube::Error::InvalidInput {
                    object: format!("ImagePolicy {}", p.id()),
                    field: "metadata.annotations",
                    reason: format!(
                        "{ANNOTATION_PREFIX}{option} (and any other {ANNOTATION_PREFIX}<option> annotation) cannot be rendered: Flux's controllers would select without it; remove it, or keep this policy to `imageautomation run`"
                    ),
                }),
            );
            continue;
        }
        let choice = &p.spec.selection.policy;
        let policy = if let Some(s) = &choice.semver {
            Policy::Semver {
                range: s.range.clone(),
            }
        } else if let Some(a) = &choice.alphabetical {
            Policy::Alphabetical {
                order: order(a.order.as_deref()),
            }
        } else if let Some(n) = &choice.numerical {
            Policy::Numerical {
                order: order(n.order.as_deref()),
            }
        } else {
            Policy::Alphabetical { order: None }
        };
        let filter = p.spec.selection.filter_tags.as_ref();
        let input = ImagePolicyInput {
            namespace: p.metadata.namespace.clone(),
            name: p.metadata.name.clone(),
            image_repository_ref: ObjectRef {
                namespace: p.spec.spec.image_repository_ref.namespace.clone(),
                name: p.spec.spec.image_repository_ref.name.clone(),
            },
            policy,
            filter_tags_pattern: filter.map(|f| f.pattern.clone()).filter(|s| !s.is_empty()),
            filter_tags_extract: filter.map(|f| f.extract.clone()).filter(|s| !s.is_empty()),
            digest_reflection_policy: p.spec.spec.digest_reflection_policy,
            interval: None,
            suspend: p.spec.spec.suspend,
        };
        push(&p.origin, render_image_policy(&input).map(|m| vec![m]));
    }
    for a in &found.automations {
        let ns = &a.metadata.namespace;
        let source_ns = a
            .spec
            .source_ref
            .namespace
            .clone()
            .unwrap_or_else(|| ns.clone());
        let source = found.git_repositories.iter().find(|g| {
            g.metadata.namespace == source_ns && g.metadata.name == a.spec.source_ref.name
        });
        // The provider renders the GitRepository under the automation's name;
        // any other source stays a reference.
        let own_source = source.filter(|g| g.metadata.name == a.metadata.name && &source_ns == ns);
        let git = a.spec.git.clone().unwrap_or_default();
        // The same rule as `run` and Flux: the automation's checkout replaces the source's.
        let checkout = checkout_ref(
            git.checkout.as_ref(),
            source.and_then(|g| g.spec.reference.as_ref()),
        );
        let checkout = (!checkout.is_empty()).then_some(checkout);
        let invalid = |field: &'static str, reason: String| {
            Err(imageautomation_kube::Error::InvalidInput {
                object: format!("ImageUpdateAutomation {ns}/{}", a.metadata.name),
                field,
                reason,
            })
        };
        if let Some(Err(reason)) = a.spec.update.as_ref().map(UpdateStrategy::check) {
            push(&a.origin, invalid("spec.update.strategy", reason));
            continue;
        }
        let selector = match a.spec.policy_selector.as_ref().map(LabelSelector::selector) {
            None => None,
            Some(Ok(selector)) => Some(selector),
            Some(Err(reason)) => {
                push(&a.origin, invalid("spec.policySelector", reason));
                continue;
            }
        };
        let policies = found
            .policies
            .iter()
            .filter(|p| {
                &p.metadata.namespace == ns
                    && selector
                        .as_ref()
                        .is_none_or(|s| s.matches(&p.metadata.labels))
            })
            .map(|p| ObjectRef {
                namespace: Some(p.metadata.namespace.clone()),
                name: p.metadata.name.clone(),
            })
            .collect();
        let commit = match placeholder_signing_key(&git.commit) {
            Ok(commit) => commit,
            Err(reason) => {
                push(&a.origin, invalid("spec.git.commit.signingKey", reason));
                continue;
            }
        };
        let input = UpdateAutomationInput {
            namespace: ns.clone(),
            name: a.metadata.name.clone(),
            interval: None,
            source_ref: own_source.is_none().then(|| ObjectRef {
                namespace: a.spec.source_ref.namespace.clone(),
                name: a.spec.source_ref.name.clone(),
            }),
            git: GitInput {
                url: source.map(|g| g.spec.url.clone()).unwrap_or_default(),
                auth: own_source
                    .and_then(|g| g.spec.secret_ref.as_ref())
                    .map(|_| GitAuth::Token(placeholder())),
                ca_pem: None,
                proxy: own_source
                    .and_then(|g| g.spec.proxy_secret_ref.as_ref())
                    .map(|_| placeholder_proxy()),
                checkout,
                commit,
                push: git.push.clone().unwrap_or_default(),
            },
            update_path: a.spec.update.as_ref().and_then(|u| u.path.clone()),
            policies,
            suspend: a.spec.suspend,
        };
        push(
            &a.origin,
            render_update_automation(&input, SecretsMode::Omit),
        );
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}
