//! The three reconcilers that the Pulumi provider and the CLI share: one
//! ImageRepository scan, one ImagePolicy selection, one UpdateAutomation run.
//!
//! Each takes plain values (no Pulumi or Kubernetes types) and the state of the
//! previous run where Flux keeps it in `status` (the last scan, the last
//! `latestRef`), so that a fresh process decides exactly as a long-running
//! controller would: data flows through inputs and outputs, never a local cache.

mod image_policy;
mod image_repository;
mod update_automation;

pub use image_policy::{
    DigestReflectionPolicy, MAX_CANDIDATES_CHECKED, MetadataCache, PassedOver, PolicyRequest,
    PolicyStatus, disqualification, select_image,
};
pub use image_repository::{RepositoryScan, scan_image_repository};
pub use update_automation::{
    AutomationOutcome, AutomationRequest, GroupOutcome, PullRequestGroup, PullRequestSettings,
    RunMode, describe_changes, pull_request_groups, repository_path, run_update_automation,
    signing_key, to_change_set, write_back_spec,
};

/// Why a reconcile failed. Messages never contain secrets: the lower crates
/// redact credentials before they reach a message.
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    /// The registry scan or digest lookup failed (after retries).
    #[error(transparent)]
    Registry(#[from] crate::Error),
    /// The ImagePolicy spec is invalid (the field is named).
    #[error("{0}")]
    InvalidPolicy(imageautomation_policy::Error),
    /// The policy selected no tag; the message says why, tag by tag.
    #[error("{message}")]
    NoTagSelected {
        /// The reason and the rejection summary.
        message: String,
    },
    /// The setters failed (an invalid `latestRef`, an `update.path` outside
    /// the repository, an I/O error).
    #[error(transparent)]
    Update(#[from] imageautomation_update::Error),
    /// Clone, commit, push or the pull request failed.
    #[error(transparent)]
    Git(#[from] imageautomation_git::Error),
    /// The blocking Git task did not finish (the process is shutting down).
    #[error("the Git operation was interrupted: {0}")]
    Interrupted(String),
}

impl ReconcileError {
    /// Whether retrying later may succeed without a change of input
    /// (Flux: Ready=False and retried, versus Stalled).
    pub fn is_transient(&self) -> bool {
        match self {
            ReconcileError::Registry(e) => e.is_transient(),
            ReconcileError::Git(e) => e.is_transient(),
            ReconcileError::Update(e) => e.is_transient(),
            ReconcileError::NoTagSelected { .. } | ReconcileError::Interrupted(_) => true,
            ReconcileError::InvalidPolicy(_) => false,
        }
    }
}
