//! imageautomation-kube: the Flux objects and Secrets that make Flux in a
//! cluster run the same image update automation the provider declares, and
//! the server-side apply that puts them there.
//!
//! - [`render`]: pure functions from plain input structs
//!   ([`ImageRepositoryInput`], [`ImagePolicyInput`], [`UpdateAutomationInput`])
//!   to [`Manifest`]s: Flux `ImageRepository`, `ImagePolicy`,
//!   `ImageUpdateAutomation` (`image.toolkit.fluxcd.io/v1`), `GitRepository`
//!   (`source.toolkit.fluxcd.io/v1`) and their Secrets, every one labelled
//!   `app.kubernetes.io/managed-by: pulumi-imageautomation`.
//!   [`Manifest::redacted`] is the view for outputs; [`SecretsMode::Omit`]
//!   renders for a GitOps repository without Secrets.
//! - [`Applier`]: server-side apply under one field manager
//!   ([`FIELD_MANAGER`], never forced; conflicts are [`Error::Conflict`]
//!   naming fields and managers), `dryRun=All` previews
//!   ([`ApplyMode::DryRun`]), drift detection ([`Applier::read`]) and
//!   deletion where "already gone" is success. It is built from a kubeconfig
//!   (contents or path, optional context, else `KUBECONFIG` and
//!   `~/.kube/config`), so a real cluster needs nothing else.
//!
//! It deliberately knows nothing of Pulumi (property values, secrets
//! marking, URNs), of registries or Git: the provider maps its inputs to the
//! structs here and the outcomes back to outputs.
//!
//! # Testing against a real cluster
//!
//! The tests in the workspace's `tests/` crate (`kube_lifecycle`,
//! `provider_cluster`, `pulumi_cli_cluster`) run against a real
//! `kube-apiserver` and etcd that `scripts/test-cluster.sh` builds from
//! their Go modules and starts on loopback with the Flux CRDs installed.

mod apply;
mod error;
mod manifest;
pub mod render;

pub use apply::{
    Applier, ApplyMode, ApplyOutcome, Change, ClusterConfig, DeleteOutcome, FIELD_MANAGER,
    LiveState, READ_TIMEOUT,
};
pub use error::{Error, Result};
pub use manifest::{
    Kind, MANAGED_BY_LABEL, MANAGED_BY_VALUE, Manifest, ObjectKey, REDACTED, removed_objects,
};
pub use render::{
    CommitAuthor, DigestReflectionPolicy, GitAuth, GitCommit, GitInput, GitPush, GitRef,
    ImagePolicyInput, ImageRepositoryInput, KeyPair, ObjectRef, Order, POLICY_LABEL, Policy, Proxy,
    RegistryCredentials, SecretsMode, SigningKey, TlsCertificate, UpdateAutomationInput,
    render_image_policy, render_image_repository, render_update_automation, to_yaml_documents,
};

/// Entry points for the fuzz targets (`fuzz/`), built only with `--cfg fuzzing`.
#[cfg(fuzzing)]
#[doc(hidden)]
pub mod fuzzing {
    /// The provider config's `kubeconfig` value read as [`ClusterConfig`] reads it: `Err`
    /// holds the message a user would see.
    pub fn kubeconfig(text: &str) -> Result<(), String> {
        crate::apply::fuzzing_kubeconfig(text)
    }
}
