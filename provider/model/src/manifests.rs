//! The Flux objects of a directory: every `*.yaml`/`*.yml` file under it
//! (recursively, `.git` and other dot-directories skipped), each document of a
//! multi-document file, kept when it is an `ImageRepository`, `ImagePolicy`,
//! `ImageUpdateAutomation` (`image.toolkit.fluxcd.io/v1`, `v1beta2`) or a
//! `GitRepository` (`source.toolkit.fluxcd.io/v1`, `v1beta2`, `v1beta1`);
//! every other kind and API group is ignored. Field names and defaults are
//! those of the Flux CRDs (flux-spec 1.1-1.3). Read by `imageautomation run` and `render`;
//! [`read_file`] is fuzzed (`fuzz/fuzz_targets/flux_manifests.rs`).

use std::fmt;
use std::path::{Path, PathBuf};

pub use crate::flux::{
    GitRepositorySpec, ImagePolicyRest, ImageRepositorySpec, ImageUpdateAutomationSpec,
    LabelSelector, Metadata,
};
use imageautomation_policy::ImagePolicySpec;

use crate::policy_options::PolicyOptions;
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

/// `ImagePolicy.spec` (flux-spec 1.2): the selection part and the rest.
#[derive(Debug, Clone)]
pub struct ImagePolicyManifest {
    /// `policy` and `filterTags`.
    pub selection: ImagePolicySpec,
    /// `imageRepositoryRef`, `digestReflectionPolicy`, `suspend`.
    pub spec: ImagePolicyRest,
    /// The annotations `imageautomation.pulumi.com/<option>`; defaults (Flux's behaviour)
    /// without them.
    pub options: PolicyOptions,
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
                (Ok(selection), Ok(rest)) => {
                    match PolicyOptions::from_annotations(&metadata.annotations) {
                        Ok(options) => manifests.policies.push(Object {
                            origin,
                            metadata,
                            spec: ImagePolicyManifest {
                                selection,
                                spec: rest,
                                options,
                            },
                        }),
                        Err(e) => errors.push(error(format!("{}: {e}", what(&name)))),
                    }
                }
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
    use std::collections::BTreeMap;

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
