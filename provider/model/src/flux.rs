//! Flux's objects as `imageautomation run` and `render` read them from manifests (field
//! names and defaults of the Flux CRDs, flux-spec 1.1-1.3), sharing the Git shapes of
//! [`crate::git`] with the Pulumi inputs ([`crate::args`]).

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use kube_core::{Expression, Selector};
use serde::Deserialize;

pub use crate::git::{GitCheckout, GitCommit, GitPush, GitRef, UpdateStrategy};

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
    /// `metadata.annotations`; `imageautomation.pulumi.com/<option>` ones carry
    /// [`PolicyOptions`](crate::policy_options::PolicyOptions).
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
}

fn default_namespace() -> String {
    "default".to_owned()
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
    /// Proxy settings in a Kubernetes Secret (`address`, `username`, `password`; not read
    /// here: `imageautomation run --proxy` gives them).
    #[serde(default)]
    pub proxy_secret_ref: Option<LocalRef>,
    /// `generic` (default), `aws`, `azure`, `gcp`.
    #[serde(default)]
    pub provider: Option<String>,
    /// Skip this object.
    #[serde(default)]
    pub suspend: bool,
}

/// The fields of `ImagePolicy.spec` besides `policy` and `filterTags`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImagePolicyRest {
    /// The ImageRepository; its namespace defaults to the policy's.
    pub image_repository_ref: NamespacedRef,
    /// `Never` (default), `IfNotPresent`, `Always`.
    #[serde(default)]
    pub digest_reflection_policy: DigestReflectionPolicy,
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
    pub update: Option<UpdateStrategy>,
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
    /// Proxy settings in a Kubernetes Secret (`address`, `username`, `password`; not read
    /// here: `imageautomation run --proxy` gives them).
    #[serde(default)]
    pub proxy_secret_ref: Option<LocalRef>,
}

/// `ImagePolicy.spec.digestReflectionPolicy` (Pulumi `digestReflectionPolicy`): whether
/// `latestRef.digest` is set.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(try_from = "Option<String>")]
pub enum DigestReflectionPolicy {
    /// No digest (default).
    #[default]
    Never,
    /// Look the digest up when the tag changes or no digest is known, then keep it.
    IfNotPresent,
    /// Look the digest up on every reconcile (tracks re-pushed tags); needs an `interval`.
    Always,
}

impl DigestReflectionPolicy {
    /// The value as the Flux CRD spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            DigestReflectionPolicy::Never => "Never",
            DigestReflectionPolicy::IfNotPresent => "IfNotPresent",
            DigestReflectionPolicy::Always => "Always",
        }
    }
}

impl FromStr for DigestReflectionPolicy {
    type Err = String;

    /// `Never`, `IfNotPresent` or `Always` (as spelled in the Flux CRD); `""` is `Never`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "" | "Never" => Ok(DigestReflectionPolicy::Never),
            "IfNotPresent" => Ok(DigestReflectionPolicy::IfNotPresent),
            "Always" => Ok(DigestReflectionPolicy::Always),
            other => Err(format!(
                "unknown digestReflectionPolicy {other:?}; use \"Never\", \"IfNotPresent\" or \"Always\""
            )),
        }
    }
}

impl TryFrom<Option<String>> for DigestReflectionPolicy {
    type Error = String;

    fn try_from(value: Option<String>) -> Result<Self, Self::Error> {
        value.as_deref().unwrap_or_default().parse()
    }
}

impl fmt::Display for DigestReflectionPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
