//! One UpdateAutomation run: clone, apply the setters, commit and push, open
//! or update the pull request (Flux IAC `imageupdateautomation_controller.go`,
//! flux-spec 5.1); or, for a preview, the same clone with the setters in
//! dry-run mode, which leaves the work tree unchanged so that nothing is
//! committed or pushed.

use std::sync::{Arc, Mutex};

use imageautomation_git::{
    Auth, Change, ChangeSet, CommitAuthor, EarlierPush, NamespacedName, ObjectChanges,
    ObjectIdentifier, PUSH_RETRY, PullRequest, PullRequestClient, PullRequestSpec, PushResult,
    SigningKey, WriteBackSpec, commit_and_push,
};
use imageautomation_model::CheckoutRef;
use imageautomation_model::git::{GitCommit, GitPush};
use imageautomation_update::{
    DowngradeGuards, LatestRef, Mode, Policies, UpdateResult, apply_setters_guarded,
};

use super::ReconcileError;

/// Preview (read-only) or apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunMode {
    /// Clone read-only and compute the changes (with unified diffs); write,
    /// commit and push nothing.
    Preview,
    /// Rewrite, commit, push, and open or update the pull request.
    Apply,
}

/// The pull request to open after a push to a branch other than the checkout branch.
#[derive(Debug, Clone)]
pub struct PullRequestSettings {
    /// Title, body, labels, repository.
    pub spec: PullRequestSpec,
    /// The GitHub API client (with its token).
    pub client: PullRequestClient,
}

/// The inputs of one run.
#[derive(Debug, Clone)]
pub struct AutomationRequest {
    /// Repository, credentials, checkout, commit and push settings.
    pub write_back: WriteBackSpec,
    /// `update.path`, relative to the repository root.
    pub update_path: String,
    /// `"namespace:name"` -> the policy's `latestRef`.
    pub policies: Policies,
    /// The policies with `downgrade: Deny`: their refusals are in
    /// [`UpdateResult::refused`] of the outcome's `changes`.
    pub downgrade_guards: DowngradeGuards,
    /// Optional pull request.
    pub pull_request: Option<PullRequestSettings>,
}

/// The key of a Pulumi `git.commit.signingKey` (`openpgp` or `ssh`), `None` when not set.
///
/// # Errors
/// The model's message ([`imageautomation_model::git::SigningKey::inline`]) when neither or
/// both formats, or no `privateKey`, are given.
pub fn signing_key(commit: &GitCommit) -> Result<Option<SigningKey>, String> {
    let Some(key) = &commit.signing_key else {
        return Ok(None);
    };
    let (format, pair) = key.inline()?;
    Ok(Some(SigningKey::new(
        format,
        pair.private_key.clone().unwrap_or_default(),
        pair.passphrase.clone(),
    )))
}

/// The write-back of an automation, as the plugin (Pulumi `git`) and `imageautomation run`
/// (Flux's `spec.git` and its GitRepository) both build it: `url` and `auth` from the
/// repository, the resolved `checkout` ([`imageautomation_model::checkout_ref`]), `commit`
/// and `push` as given, the commit signing key (the plugin's from [`signing_key`], the CLI's
/// from a file), Flux's default retries of a push overtaken by another, and a shallow clone
/// (Flux's `GitShallowClone` default).
pub fn write_back_spec(
    url: String,
    auth: Auth,
    checkout: CheckoutRef,
    commit: &GitCommit,
    signing_key: Option<SigningKey>,
    push: Option<&GitPush>,
    automation_object: NamespacedName,
) -> WriteBackSpec {
    let push = push.cloned().unwrap_or_default();
    WriteBackSpec {
        url,
        auth,
        checkout,
        push_branch: push.branch,
        push_refspec: push.refspec,
        push_options: push.options,
        author: CommitAuthor {
            name: commit.author.name.clone(),
            email: commit.author.email.clone(),
        },
        message_template: commit.message_template.clone(),
        message_template_values: commit.message_template_values.clone(),
        signing_key,
        automation_object,
        retry: PUSH_RETRY,
        shallow: true,
        find_earlier_push: false,
    }
}

/// What a run did (or, in preview, would do).
#[derive(Debug, Clone)]
pub struct AutomationOutcome {
    /// The setters result: files -> objects -> changes (with diffs in preview).
    pub changes: UpdateResult,
    /// The commit checked out, 40 hex digits.
    pub checkout_commit: String,
    /// The push, when something was pushed.
    pub push: Option<PushResult>,
    /// When nothing was pushed: the push branch's head recognised as this automation's
    /// update, pushed by an earlier run (see `imageautomation_git::EarlierPush`).
    pub earlier_push: Option<EarlierPush>,
    /// The pull request opened or updated.
    pub pull_request: Option<PullRequest>,
}

/// Runs the automation once. Nothing is written anywhere in
/// [`RunMode::Preview`]: the setters run in dry-run mode on a temporary clone,
/// the work tree stays clean, and `commit_and_push` commits only a changed
/// tree.
///
/// # Errors
/// [`ReconcileError::Git`] (clone, authentication, push rejected, pull
/// request), [`ReconcileError::Update`] (setters).
pub async fn run_update_automation(
    request: AutomationRequest,
    mode: RunMode,
) -> Result<AutomationOutcome, ReconcileError> {
    let AutomationRequest {
        write_back,
        update_path,
        policies,
        downgrade_guards,
        pull_request,
    } = request;
    let setters_mode = match mode {
        RunMode::Preview => Mode::DryRun,
        RunMode::Apply => Mode::Write,
    };
    let spec = WriteBackSpec {
        find_earlier_push: mode == RunMode::Apply,
        ..write_back.clone()
    };
    let captured: Arc<Mutex<Option<UpdateResult>>> = Arc::default();
    let sink = Arc::clone(&captured);
    let result = tokio::task::spawn_blocking(move || {
        commit_and_push(&spec, |root| {
            let result = apply_setters_guarded(
                root,
                &update_path,
                &policies,
                &downgrade_guards,
                setters_mode,
            )?;
            let change_set = match setters_mode {
                // Nothing was written: report no change, so nothing is committed.
                Mode::DryRun => ChangeSet::default(),
                Mode::Write => to_change_set(&result),
            };
            if let Ok(mut slot) = sink.lock() {
                *slot = Some(result);
            }
            Ok::<_, imageautomation_update::Error>(change_set)
        })
    })
    .await
    .map_err(|e| ReconcileError::Interrupted(e.to_string()))??;
    let changes = captured
        .lock()
        .ok()
        .and_then(|mut slot| slot.take())
        .unwrap_or_default();
    let mut outcome = AutomationOutcome {
        changes,
        checkout_commit: result.checkout_commit.clone(),
        push: result.push.clone(),
        earlier_push: result.earlier_push.clone(),
        pull_request: None,
    };
    if mode == RunMode::Apply
        && let Some(settings) = pull_request
    {
        outcome.pull_request = settings
            .spec
            .ensure_after_push(&settings.client, &write_back, &result)
            .await?;
    }
    Ok(outcome)
}

/// The setters result in the shape Flux's commit message templates see
/// (`.Changed`): file -> objects -> changes.
pub fn to_change_set(result: &UpdateResult) -> ChangeSet {
    let mut set = ChangeSet::default();
    for file in &result.files {
        let objects = file
            .objects
            .iter()
            .map(|o| ObjectChanges {
                object: ObjectIdentifier {
                    api_version: o.object.api_version.clone(),
                    kind: o.object.kind.clone(),
                    name: o.object.name.clone(),
                    namespace: o.object.namespace.clone(),
                },
                changes: o
                    .changes
                    .iter()
                    .map(|c| Change {
                        old_value: c.old_value.clone(),
                        new_value: c.new_value.clone(),
                        setter: c.setter.clone(),
                    })
                    .collect(),
            })
            .collect();
        set.file_changes.insert(file.path.clone(), objects);
    }
    set
}

/// One line per changed value, paths relative to the repository root
/// (`update_path` joined with the file's path):
/// `clusters/dev/podinfo.yaml: ghcr.io/stefanprodan/podinfo 5.0.0 => 5.0.3` when
/// old and new are `name:tag` references of the same image, else
/// `<file>: <old value> => <new value>` (tags, digests, references with a
/// digest). In file, object and change order of `changes`. The provider logs
/// these as info diagnostics, `imageautomation run` prints them.
pub fn describe_changes(update_path: &str, changes: &UpdateResult) -> Vec<String> {
    let mut lines = Vec::new();
    for file in &changes.files {
        let path = repository_path(update_path, &file.path);
        for object in &file.objects {
            for c in &object.changes {
                let compact = match (
                    c.old_value.parse::<LatestRef>(),
                    c.new_value.parse::<LatestRef>(),
                ) {
                    (Ok(old), Ok(new))
                        if old.name == new.name
                            && old.digest.is_empty()
                            && new.digest.is_empty() =>
                    {
                        format!("{} {} => {}", new.name, old.tag, new.tag)
                    }
                    _ => format!("{} => {}", c.old_value, c.new_value),
                };
                lines.push(format!("{path}: {compact}"));
            }
        }
    }
    lines
}

/// `file` (relative to `update.path`) as a path relative to the repository
/// root: `("./clusters/dev", "podinfo.yaml")` -> `clusters/dev/podinfo.yaml`;
/// `"."`, `"./"` and `""` are the root.
pub fn repository_path(update_path: &str, file: &str) -> String {
    let mut prefix = update_path.trim_matches('/');
    while let Some(rest) = prefix.strip_prefix("./") {
        prefix = rest.trim_start_matches('/');
    }
    match prefix {
        "" | "." => file.to_owned(),
        p => format!("{p}/{file}"),
    }
}

#[cfg(test)]
mod tests {
    use imageautomation_update::{Change, FileChanges, ObjectChanges, ObjectId};

    use super::*;

    fn result(old: &str, new: &str) -> UpdateResult {
        UpdateResult {
            files: vec![FileChanges {
                path: "podinfo.yaml".into(),
                objects: vec![ObjectChanges {
                    object: ObjectId::default(),
                    changes: vec![Change {
                        old_value: old.into(),
                        new_value: new.into(),
                        setter: "flux-system:podinfo".into(),
                    }],
                }],
                diff: None,
            }],
            skipped: Vec::new(),
            refused: Vec::new(),
        }
    }

    #[test]
    fn describes_a_tag_bump_of_one_image_compactly() {
        let r = result(
            "ghcr.io/stefanprodan/podinfo:5.0.0",
            "ghcr.io/stefanprodan/podinfo:5.0.3",
        );
        assert_eq!(
            describe_changes("./clusters/dev/", &r),
            ["clusters/dev/podinfo.yaml: ghcr.io/stefanprodan/podinfo 5.0.0 => 5.0.3"]
        );
    }

    #[test]
    fn describes_other_values_as_old_and_new() {
        let r = result("5.0.0", "5.0.3");
        assert_eq!(describe_changes(".", &r), ["podinfo.yaml: 5.0.0 => 5.0.3"]);
    }

    #[test]
    fn repository_paths_join_the_update_path() {
        assert_eq!(repository_path("", "a.yaml"), "a.yaml");
        assert_eq!(repository_path("./", "a.yaml"), "a.yaml");
        assert_eq!(repository_path("./x/y", "a.yaml"), "x/y/a.yaml");
        assert_eq!(repository_path("x/", "a.yaml"), "x/a.yaml");
    }
}
