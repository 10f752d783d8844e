//! The Flux objects of a directory: every `*.yaml`/`*.yml` file under it
//! (recursively, `.git` and other dot-directories skipped), each document of a
//! multi-document file, kept when it is an `ImageRepository`, `ImagePolicy`,
//! `ImageUpdateAutomation` (`image.toolkit.fluxcd.io/v1`, `v1beta2`) or a
//! `GitRepository` (`source.toolkit.fluxcd.io/v1`, `v1beta2`, `v1beta1`);
//! every other kind and API group is ignored. Field names and defaults are
//! those of the Flux CRDs (flux-spec 1.1-1.3).

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use imageautomation_policy::ImagePolicySpec;
use kube_core::{Expression, Selector};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_norway::Value;

/// The API versions of the image automation kinds that are read.
const IMAGE_API_VERSIONS: &[&str] = &[
    "image.toolkit.fluxcd.io/v1",
    "image.toolkit.fluxcd.io/v1beta2",
];
/// The API versions of `GitRepository` that are read.
const SOURCE_API_VERSIONS: &[&str] = &[
    "source.toolkit.fluxcd.io/v1",
    "source.toolkit.fluxcd.io/v1beta2",
    "source.toolkit.fluxcd.io/v1beta1",
];

/// Where an object was read and what it is, for messages:
/// `clusters/dev/podinfo.yaml (document 2): ImagePolicy flux-system/podinfo`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// The file, relative to the directory given.
    pub file: PathBuf,
    /// The 1-based index of the document in the file.
    pub document: usize,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (document {})", self.file.display(), self.document)
    }
}

/// `metadata` of an object.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Metadata {
    /// `metadata.name` (required).
    pub name: String,
    /// `metadata.namespace`; `default` when absent, as `kubectl apply` without a namespace.
    #[serde(default = "default_namespace")]
    pub namespace: String,
    /// `metadata.labels`, what `policySelector` matches.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

fn default_namespace() -> String {
    "default".to_owned()
}

/// One Flux object: where it was read, its metadata and its spec.
#[derive(Debug, Clone)]
pub struct Object<S> {
    /// File and document.
    pub origin: Origin,
    /// `metadata`.
    pub metadata: Metadata,
    /// `spec`.
    pub spec: S,
}

impl<S> Object<S> {
    /// `namespace/name`.
    pub fn id(&self) -> String {
        format!("{}/{}", self.metadata.namespace, self.metadata.name)
    }
}

/// A reference to an object in the same namespace (`secretRef`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct LocalRef {
    /// The object's name.
    #[serde(default)]
    pub name: String,
}

/// A reference with an optional namespace (`imageRepositoryRef`, `sourceRef`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct NamespacedRef {
    /// `kind` (only `sourceRef` has one: `GitRepository`).
    #[serde(default)]
    pub kind: Option<String>,
    /// The object's name.
    pub name: String,
    /// The object's namespace; the referring object's namespace when absent.
    #[serde(default)]
    pub namespace: Option<String>,
}

/// `ImageRepository.spec` (flux-spec 1.1).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageRepositorySpec {
    /// The repository to scan, without tag: `ghcr.io/org/app`.
    pub image: String,
    /// Scan period, a Go duration.
    #[serde(default)]
    pub interval: Option<String>,
    /// Timeout of one scan, a Go duration; default: the interval.
    #[serde(default)]
    pub timeout: Option<String>,
    /// Regexes of tags not stored; default `["^.*\\.sig$"]`.
    #[serde(default)]
    pub exclusion_list: Option<Vec<String>>,
    /// Plain-HTTP registry.
    #[serde(default)]
    pub insecure: bool,
    /// Registry credentials in a Kubernetes Secret (not read here).
    #[serde(default)]
    pub secret_ref: Option<LocalRef>,
    /// TLS material in a Kubernetes Secret (not read here).
    #[serde(default)]
    pub cert_secret_ref: Option<LocalRef>,
    /// Proxy settings in a Kubernetes Secret (not read here).
    #[serde(default)]
    pub proxy_secret_ref: Option<LocalRef>,
    /// `generic` (default), `aws`, `azure`, `gcp`.
    #[serde(default)]
    pub provider: Option<String>,
    /// Skip this object.
    #[serde(default)]
    pub suspend: bool,
}

/// `ImagePolicy.spec` (flux-spec 1.2): the selection part and the rest.
#[derive(Debug, Clone)]
pub struct ImagePolicyManifest {
    /// `policy` and `filterTags`.
    pub selection: ImagePolicySpec,
    /// `imageRepositoryRef`, `digestReflectionPolicy`, `suspend`.
    pub spec: ImagePolicyRest,
}

/// The fields of `ImagePolicy.spec` besides `policy` and `filterTags`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImagePolicyRest {
    /// The ImageRepository; its namespace defaults to the policy's.
    pub image_repository_ref: NamespacedRef,
    /// `Never` (default), `IfNotPresent`, `Always`.
    #[serde(default)]
    pub digest_reflection_policy: Option<String>,
    /// Skip this object.
    #[serde(default)]
    pub suspend: bool,
}

/// A Kubernetes label selector (`policySelector`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LabelSelector {
    /// Labels that must all be present with these values.
    #[serde(default)]
    pub match_labels: BTreeMap<String, String>,
    /// Requirements that must all hold.
    #[serde(default)]
    pub match_expressions: Vec<LabelRequirement>,
}

/// One `matchExpressions` entry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct LabelRequirement {
    /// The label key.
    pub key: String,
    /// `In`, `NotIn`, `Exists` or `DoesNotExist`.
    pub operator: String,
    /// The values for `In` and `NotIn`.
    #[serde(default)]
    pub values: Vec<String>,
}

impl LabelSelector {
    /// The selector, evaluated by kube-core's [`Selector`] (`SelectorExt::matches` over an
    /// object's labels), after the checks the Kubernetes API server makes
    /// (`metav1.LabelSelectorAsSelector`), which kube-core's own conversion does not all make.
    ///
    /// # Errors
    /// A message naming the entry: an unknown operator, `In`/`NotIn` without values,
    /// `Exists`/`DoesNotExist` with values.
    pub fn selector(&self) -> Result<Selector, String> {
        let equal = self
            .match_labels
            .iter()
            .map(|(k, v)| Ok(Expression::Equal(k.clone(), v.clone())));
        let requirements = self.match_expressions.iter().enumerate().map(|(i, r)| {
            let (key, values) = (r.key.clone(), r.values.iter().cloned().collect());
            match r.operator.as_str() {
                "In" | "NotIn" if r.values.is_empty() => Err(format!(
                    "matchExpressions[{i}]: operator {} needs at least one value",
                    r.operator
                )),
                "Exists" | "DoesNotExist" if !r.values.is_empty() => Err(format!(
                    "matchExpressions[{i}]: operator {} takes no values",
                    r.operator
                )),
                "In" => Ok(Expression::In(key, values)),
                "NotIn" => Ok(Expression::NotIn(key, values)),
                "Exists" => Ok(Expression::Exists(key)),
                "DoesNotExist" => Ok(Expression::DoesNotExist(key)),
                other => Err(format!(
                    "matchExpressions[{i}]: unknown operator {other:?}; use In, NotIn, Exists or DoesNotExist"
                )),
            }
        });
        equal.chain(requirements).collect()
    }
}

/// `spec.git.checkout.ref` and `GitRepository.spec.ref`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct GitRef {
    /// A branch.
    #[serde(default)]
    pub branch: Option<String>,
    /// A tag.
    #[serde(default)]
    pub tag: Option<String>,
    /// A semver range over tags (not supported here).
    #[serde(default)]
    pub semver: Option<String>,
    /// A reference name such as `refs/pull/1/head` (not supported here).
    #[serde(default)]
    pub name: Option<String>,
    /// A commit SHA-1.
    #[serde(default)]
    pub commit: Option<String>,
}

impl GitRef {
    /// Whether no field is set.
    pub fn is_empty(&self) -> bool {
        *self == GitRef::default()
    }
}

/// `spec.git.checkout`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct GitCheckout {
    /// The ref, over the GitRepository's `spec.ref`.
    #[serde(default, rename = "ref")]
    pub reference: Option<GitRef>,
}

/// `spec.git.commit.author`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct CommitAuthor {
    /// The name (optional).
    #[serde(default)]
    pub name: String,
    /// The e-mail address (required).
    #[serde(default)]
    pub email: String,
}

/// `spec.git.commit`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GitCommit {
    /// The author and committer.
    #[serde(default)]
    pub author: CommitAuthor,
    /// A Go template; default `Update from image update automation`.
    #[serde(default)]
    pub message_template: Option<String>,
    /// `.Values` of the template.
    #[serde(default)]
    pub message_template_values: BTreeMap<String, String>,
    /// A signing key in a Kubernetes Secret (not read here).
    #[serde(default)]
    pub signing_key: Option<serde_norway::Value>,
}

/// `spec.git.push`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct GitPush {
    /// The branch to push to; default: the checkout branch.
    #[serde(default)]
    pub branch: Option<String>,
    /// An extra refspec pushed after the branch.
    #[serde(default)]
    pub refspec: Option<String>,
    /// Push options (`-o key=value`).
    #[serde(default)]
    pub options: BTreeMap<String, String>,
}

/// `spec.git`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct GitSpec {
    /// What to check out.
    #[serde(default)]
    pub checkout: Option<GitCheckout>,
    /// How to commit.
    #[serde(default)]
    pub commit: GitCommit,
    /// Where to push.
    #[serde(default)]
    pub push: Option<GitPush>,
}

/// `spec.update`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct UpdateSpec {
    /// The directory to update, relative to the repository root; default the root.
    #[serde(default)]
    pub path: Option<String>,
    /// `Setters` (the only strategy).
    #[serde(default)]
    pub strategy: Option<String>,
}

/// `ImageUpdateAutomation.spec` (flux-spec 1.3).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageUpdateAutomationSpec {
    /// The GitRepository.
    pub source_ref: NamespacedRef,
    /// Checkout, commit and push settings (required in practice).
    #[serde(default)]
    pub git: Option<GitSpec>,
    /// The ImagePolicies of the namespace to apply; `None` = all.
    #[serde(default)]
    pub policy_selector: Option<LabelSelector>,
    /// What to update.
    #[serde(default)]
    pub update: Option<UpdateSpec>,
    /// Skip this object.
    #[serde(default)]
    pub suspend: bool,
}

/// `GitRepository.spec`: URL and ref (and whether a Secret is named).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GitRepositorySpec {
    /// `https://...`, `http://...`, `ssh://...` or `file://...`.
    pub url: String,
    /// The ref checked out when the automation gives none.
    #[serde(default, rename = "ref")]
    pub reference: Option<GitRef>,
    /// Git credentials in a Kubernetes Secret (not read here).
    #[serde(default)]
    pub secret_ref: Option<LocalRef>,
}

/// Everything read from a directory.
#[derive(Debug, Clone, Default)]
pub struct Manifests {
    /// `ImageRepository` objects, in file order.
    pub repositories: Vec<Object<ImageRepositorySpec>>,
    /// `ImagePolicy` objects.
    pub policies: Vec<Object<ImagePolicyManifest>>,
    /// `ImageUpdateAutomation` objects.
    pub automations: Vec<Object<ImageUpdateAutomationSpec>>,
    /// `GitRepository` objects.
    pub git_repositories: Vec<Object<GitRepositorySpec>>,
    /// YAML files read.
    pub files: usize,
}

/// A file that cannot be read or a document that is not a valid object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestError {
    /// The file (as given, joined with the directory).
    pub path: PathBuf,
    /// What is wrong and where in the file.
    pub message: String,
}

impl fmt::Display for ManifestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.message)
    }
}

/// Reads every YAML file under `dir` (see the module doc).
///
/// # Errors
/// Every problem found, not only the first: a directory or file that cannot
/// be read, malformed YAML (with its line and column), a kept object whose
/// `metadata` or `spec` does not have the Flux shape (named by kind and
/// `namespace/name`).
pub fn read_dir(dir: &Path) -> Result<Manifests, Vec<ManifestError>> {
    let mut manifests = Manifests::default();
    let mut errors = Vec::new();
    if !dir.is_dir() {
        return Err(vec![ManifestError {
            path: dir.to_owned(),
            message: "does not exist or is not a directory".into(),
        }]);
    }
    let walk = walkdir::WalkDir::new(dir)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| e.depth() == 0 || !e.file_name().to_string_lossy().starts_with('.'));
    for entry in walk {
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                errors.push(ManifestError {
                    path: e.path().unwrap_or(dir).to_owned(),
                    message: format!("cannot be read: {e}"),
                });
                continue;
            }
        };
        let path = entry.path();
        let yaml = path.extension().is_some_and(|x| x == "yaml" || x == "yml");
        if !entry.file_type().is_file() || !yaml {
            continue;
        }
        let relative = path.strip_prefix(dir).unwrap_or(path).to_owned();
        match std::fs::read_to_string(path) {
            Ok(text) => {
                manifests.files += 1;
                read_file(&text, &relative, &mut manifests, &mut errors, path);
            }
            Err(e) => errors.push(ManifestError {
                path: path.to_owned(),
                message: format!("cannot be read: {e}"),
            }),
        }
    }
    if errors.is_empty() {
        Ok(manifests)
    } else {
        Err(errors)
    }
}

/// Adds the objects of one file's text to `manifests`.
pub fn read_file(
    text: &str,
    relative: &Path,
    manifests: &mut Manifests,
    errors: &mut Vec<ManifestError>,
    path: &Path,
) {
    let error = |message: String| ManifestError {
        path: path.to_owned(),
        message,
    };
    for (i, document) in serde_norway::Deserializer::from_str(text).enumerate() {
        let origin = Origin {
            file: relative.to_owned(),
            document: i + 1,
        };
        let value = match Value::deserialize(document) {
            Ok(v) => v,
            Err(e) => {
                // The parser stops at the first syntax error of a file.
                let at = e
                    .location()
                    .map(|l| format!("line {} column {}: ", l.line(), l.column()))
                    .unwrap_or_default();
                errors.push(error(format!(
                    "{at}not valid YAML: {}",
                    strip_location(&e.to_string())
                )));
                return;
            }
        };
        let Some(map) = value.as_mapping() else {
            continue;
        };
        let field = |key: &str| map.get(key).and_then(Value::as_str).unwrap_or_default();
        let (api_version, kind) = (field("apiVersion"), field("kind"));
        let image = IMAGE_API_VERSIONS.contains(&api_version);
        let source = SOURCE_API_VERSIONS.contains(&api_version);
        let kept = matches!(
            (kind, image, source),
            (
                "ImageRepository" | "ImagePolicy" | "ImageUpdateAutomation",
                true,
                _
            ) | ("GitRepository", _, true)
        );
        if !kept {
            continue;
        }
        let what = |name: &str| format!("document {}: {kind} {name}", origin.document);
        let metadata: Metadata = match map.get("metadata").cloned().map(serde_norway::from_value) {
            Some(Ok(m)) => m,
            Some(Err(e)) => {
                errors.push(error(format!("{}: metadata: {e}", what("?"))));
                continue;
            }
            None => {
                errors.push(error(format!("{}: metadata.name is missing", what("?"))));
                continue;
            }
        };
        let name = format!("{}/{}", metadata.namespace, metadata.name);
        let spec = map.get("spec").cloned().unwrap_or(Value::Null);
        if spec.is_null() {
            errors.push(error(format!("{}: spec is missing", what(&name))));
            continue;
        }
        let parse_error = |e: serde_norway::Error| error(format!("{}: spec: {e}", what(&name)));
        match kind {
            "ImageRepository" => match typed(&spec) {
                Ok(spec) => manifests.repositories.push(Object {
                    origin,
                    metadata,
                    spec,
                }),
                Err(e) => errors.push(parse_error(e)),
            },
            "ImagePolicy" => match (typed::<ImagePolicySpec>(&spec), typed(&spec)) {
                (Ok(selection), Ok(rest)) => manifests.policies.push(Object {
                    origin,
                    metadata,
                    spec: ImagePolicyManifest {
                        selection,
                        spec: rest,
                    },
                }),
                (Err(e), _) | (_, Err(e)) => errors.push(parse_error(e)),
            },
            "ImageUpdateAutomation" => match typed(&spec) {
                Ok(spec) => manifests.automations.push(Object {
                    origin,
                    metadata,
                    spec,
                }),
                Err(e) => errors.push(parse_error(e)),
            },
            _ => match typed(&spec) {
                Ok(spec) => manifests.git_repositories.push(Object {
                    origin,
                    metadata,
                    spec,
                }),
                Err(e) => errors.push(parse_error(e)),
            },
        }
    }
}

fn typed<T: DeserializeOwned>(value: &Value) -> Result<T, serde_norway::Error> {
    serde_norway::from_value(value.clone())
}

/// serde_norway ends its messages with ` at line L column C`, which is given
/// first here.
fn strip_location(message: &str) -> &str {
    match message.rfind(" at line ") {
        Some(i) => &message[..i],
        None => message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> (Manifests, Vec<ManifestError>) {
        let mut manifests = Manifests::default();
        let mut errors = Vec::new();
        let path = Path::new("fleet/flux.yaml");
        read_file(
            text,
            Path::new("flux.yaml"),
            &mut manifests,
            &mut errors,
            path,
        );
        (manifests, errors)
    }

    const FLUX: &str = r#"
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImageRepository
metadata:
  name: podinfo
  namespace: flux-system
spec:
  image: ghcr.io/stefanprodan/podinfo
  interval: 5m
  secretRef:
    name: regcred
---
apiVersion: image.toolkit.fluxcd.io/v1beta2
kind: ImagePolicy
metadata:
  name: podinfo
  namespace: flux-system
  labels: {team: web}
spec:
  imageRepositoryRef:
    name: podinfo
  policy:
    semver:
      range: 5.0.x
---
# a comment-only document
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: podinfo}
spec: {}
---
apiVersion: image.toolkit.fluxcd.io/v1alpha1
kind: ImagePolicy
metadata: {name: old}
spec: {}
---
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImageUpdateAutomation
metadata:
  name: flux-system
  namespace: flux-system
spec:
  interval: 30m
  sourceRef:
    kind: GitRepository
    name: flux-system
  git:
    checkout:
      ref:
        branch: main
    commit:
      author:
        email: fluxcdbot@users.noreply.github.com
        name: fluxcdbot
      messageTemplate: '{{range .Changed.Changes}}{{print .OldValue}} -> {{println .NewValue}}{{end}}'
    push:
      branch: main
  update:
    path: ./clusters/my-cluster
    strategy: Setters
---
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata:
  name: flux-system
  namespace: flux-system
spec:
  interval: 1m0s
  ref:
    branch: main
  secretRef:
    name: flux-system
  url: ssh://git@github.com/example/fleet-infra
"#;

    #[test]
    fn keeps_the_flux_kinds_of_a_multi_document_file() {
        let (m, errors) = read(FLUX);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(m.repositories.len(), 1);
        assert_eq!(
            m.policies.len(),
            1,
            "the v1alpha1 policy and the Deployment are ignored"
        );
        assert_eq!(m.automations.len(), 1);
        assert_eq!(m.git_repositories.len(), 1);
        let repo = &m.repositories[0];
        assert_eq!(repo.id(), "flux-system/podinfo");
        assert_eq!(repo.spec.image, "ghcr.io/stefanprodan/podinfo");
        assert_eq!(
            repo.spec.secret_ref.as_ref().map(|r| r.name.as_str()),
            Some("regcred")
        );
        assert_eq!(repo.origin.to_string(), "flux.yaml (document 1)");
        let policy = &m.policies[0];
        assert_eq!(
            policy.metadata.labels.get("team").map(String::as_str),
            Some("web")
        );
        assert_eq!(policy.spec.spec.image_repository_ref.name, "podinfo");
        assert_eq!(policy.spec.spec.image_repository_ref.namespace, None);
        assert!(imageautomation_policy::TagSelector::new(&policy.spec.selection).is_ok());
        let automation = &m.automations[0].spec;
        assert_eq!(
            automation.update.as_ref().and_then(|u| u.path.as_deref()),
            Some("./clusters/my-cluster")
        );
        let git = automation.git.as_ref().expect("git");
        assert_eq!(git.commit.author.name, "fluxcdbot");
        assert_eq!(
            git.checkout
                .as_ref()
                .and_then(|c| c.reference.as_ref())
                .and_then(|r| r.branch.as_deref()),
            Some("main")
        );
        assert!(automation.policy_selector.is_none());
        let source = &m.git_repositories[0].spec;
        assert_eq!(source.url, "ssh://git@github.com/example/fleet-infra");
        assert_eq!(
            source.reference.as_ref().and_then(|r| r.branch.as_deref()),
            Some("main")
        );
    }

    #[test]
    fn namespace_defaults_to_default() {
        let (m, errors) = read(
            "apiVersion: image.toolkit.fluxcd.io/v1\nkind: ImageRepository\nmetadata: {name: a}\nspec: {image: x/y}\n",
        );
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(m.repositories[0].id(), "default/a");
    }

    #[test]
    fn malformed_yaml_names_the_file_and_line() {
        let (_, errors) = read("apiVersion: v1\nkind: ConfigMap\ndata: [a\nb: 1\n");
        assert_eq!(errors.len(), 1);
        let message = errors[0].to_string();
        assert!(message.starts_with("fleet/flux.yaml: line "), "{message}");
        assert!(message.contains("not valid YAML"), "{message}");
    }

    #[test]
    fn a_flux_object_of_the_wrong_shape_is_named() {
        let (_, errors) = read(
            "apiVersion: image.toolkit.fluxcd.io/v1\nkind: ImagePolicy\nmetadata: {name: p, namespace: ns}\nspec:\n  imageRepositoryRef: {name: r}\n  policy: {semver: {rang: 1.x}}\n",
        );
        assert_eq!(errors.len(), 1);
        let message = errors[0].to_string();
        assert!(
            message.contains("document 1: ImagePolicy ns/p: spec:"),
            "{message}"
        );
        assert!(message.contains("rang"), "{message}");
        let (_, errors) = read(
            "apiVersion: image.toolkit.fluxcd.io/v1\nkind: ImageRepository\nmetadata: {namespace: ns}\nspec: {image: x}\n",
        );
        assert!(errors[0].to_string().contains("metadata"), "{errors:?}");
    }

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect()
    }

    #[test]
    fn label_selectors_match_labels_and_expressions() {
        use kube_core::SelectorExt as _;
        let selector: LabelSelector = serde_norway::from_str(
            "matchLabels: {team: web}\nmatchExpressions:\n  - {key: env, operator: In, values: [dev, staging]}\n  - {key: frozen, operator: DoesNotExist}\n",
        )
        .expect("selector");
        let selector = selector.selector().expect("valid");
        assert!(selector.matches(&labels(&[("team", "web"), ("env", "dev")])));
        assert!(!selector.matches(&labels(&[("team", "web"), ("env", "prod")])));
        assert!(!selector.matches(&labels(&[("team", "api"), ("env", "dev")])));
        assert!(!selector.matches(&labels(&[("team", "web"), ("env", "dev"), ("frozen", "")])));
        let all = LabelSelector::default().selector().expect("valid");
        assert!(all.matches(&labels(&[])));
        let not_in: LabelSelector = serde_norway::from_str(
            "matchExpressions: [{key: env, operator: NotIn, values: [prod]}]",
        )
        .expect("selector");
        let not_in = not_in.selector().expect("valid");
        assert!(not_in.matches(&labels(&[])));
        assert!(!not_in.matches(&labels(&[("env", "prod")])));
        let bad: LabelSelector =
            serde_norway::from_str("matchExpressions: [{key: env, operator: Equals, values: [a]}]")
                .expect("selector");
        assert!(
            bad.selector()
                .expect_err("unknown operator")
                .contains("unknown operator")
        );
        let empty: LabelSelector =
            serde_norway::from_str("matchExpressions: [{key: env, operator: In}]")
                .expect("selector");
        assert!(empty.selector().is_err());
        let with_values: LabelSelector =
            serde_norway::from_str("matchExpressions: [{key: env, operator: Exists, values: [a]}]")
                .expect("selector");
        assert!(with_values.selector().is_err());
    }
}
