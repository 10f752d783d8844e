//! Git write-back for Flux-style image update automation: clone a repository
//! into a temporary directory, check out `git.checkout.ref`, switch to
//! `git.push.branch`, let the caller update the work tree, commit with a
//! message rendered from a Go `text/template` over Flux's data model, and push
//! (fast-forward only, retried when another push overtakes it); then,
//! optionally, open or update a GitHub pull request.
//!
//! The main entry points are [`commit_and_push`] (blocking, libgit2) with its
//! [`WriteBackSpec`], and [`PullRequestClient::ensure`] (async, GitHub REST
//! API), with [`BranchTemplate`] naming the branches of grouped pull
//! requests. Behaviour follows Flux image-automation-controller (flux-spec
//! section 5, IAC `internal/source/`).
//!
//! This crate does not know what the update does: the `$imagepolicy` setters
//! are the caller's closure, reporting a [`ChangeSet`]. It knows nothing of
//! OCI registries, Kubernetes or Pulumi.

mod auth;
mod changes;
mod error;
mod known_hosts;
mod pull_request;
mod signing;
mod sprig;
mod template;
mod writeback;

pub use auth::{Auth, Credentials, Proxy, TOKEN_USERNAME};
pub use changes::{Change, ChangeSet, NamespacedName, ObjectChanges, ObjectIdentifier};
pub use error::Error;
pub use known_hosts::KnownHosts;
pub use pull_request::{
    DEFAULT_BODY_TEMPLATE, DEFAULT_IMAGE_BRANCH_TEMPLATE, DEFAULT_POLICY_BRANCH_TEMPLATE,
    DEFAULT_TITLE_TEMPLATE, GITHUB_API_URL, PullRequest, PullRequestClient, PullRequestContent,
    PullRequestSpec, pull_request_branches, repository_from_url,
};
pub use signing::SigningKey;
pub use template::{
    BRANCH_TEMPLATE_NAME, BranchTemplate, BranchTemplateData, COMMIT_MESSAGE_TEMPLATE_NAME,
    DEFAULT_MESSAGE_TEMPLATE, MessageTemplate, TemplateData,
};
pub use writeback::{
    CheckoutRef, CommitAuthor, EarlierPush, PUSH_RETRY, PushResult, WriteBackResult, WriteBackSpec,
    commit_and_push, list_remote_refs,
};
