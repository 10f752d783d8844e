//! One UpdateAutomation run: clone, apply the setters, commit and push, open
//! or update the pull request (Flux IAC `imageupdateautomation_controller.go`,
//! flux-spec 5.1); or, for a preview, the same clone with the setters in
//! dry-run mode, which leaves the work tree unchanged so that nothing is
//! committed or pushed.
//!
//! With `pullRequest.groupBy` (`policy` or `image`) the run is split into groups, each with
//! its own branch (`pullRequest.branch`, a Go template) and pull request: each group clones
//! the checkout ref (or its existing branch), applies only its policies' setters, commits,
//! pushes to its branch, and opens or updates its pull request. Pull requests are never
//! closed, neither the automation's nor anyone else's.

use std::sync::{Arc, Mutex};

use imageautomation_git::{
    Auth, BranchTemplate, BranchTemplateData, Change, ChangeSet, CommitAuthor,
    DEFAULT_IMAGE_BRANCH_TEMPLATE, DEFAULT_POLICY_BRANCH_TEMPLATE, EarlierPush, NamespacedName,
    ObjectChanges, ObjectIdentifier, PUSH_RETRY, PullRequest, PullRequestClient, PullRequestSpec,
    PushResult, SigningKey, WriteBackResult, WriteBackSpec, commit_and_push,
};
use imageautomation_model::CheckoutRef;
use imageautomation_model::args::GroupBy;
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
    /// `pullRequest.groupBy`: one pull request ([`GroupBy::None`]) or one per group.
    pub group_by: GroupBy,
    /// `pullRequest.branch`: the Go template of each group's branch; `None` is the default
    /// of [`pull_request_groups`].
    pub branch_template: Option<String>,
}

/// One pull request group (`pullRequest.groupBy`): the policies whose bumps go to one
/// branch and pull request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullRequestGroup {
    /// What the policies share: the policy `namespace:name` (`groupBy: policy`) or the image,
    /// `latestRef.name` (`groupBy: image`).
    pub key: String,
    /// The group's head branch, rendered from `pullRequest.branch`.
    pub branch: String,
    /// The group's policies, `"namespace:name"` -> `latestRef`: the only setters the group
    /// applies.
    pub policies: Policies,
}

/// Splits `policies` into the groups of `group_by` (sorted by key), each with its branch
/// rendered from `branch_template`, by default
/// `{{ .PushBranch }}-{{ .Policy.Namespace }}-{{ .Policy.Name }}` for `policy` and
/// `{{ .PushBranch }}-{{ .Image | replace ":" "-" }}` for `image` (no tag: a newer tag updates
/// the same branch and pull request). `.PushBranch` is `git.push.branch`, which grouped
/// pull requests need (their branches are named after it; nothing is pushed to it). Empty for
/// [`GroupBy::None`].
///
/// # Errors
/// [`imageautomation_git::Error::InvalidSpec`] when `git.push.branch` is not set, a branch
/// is not a valid branch name, is the checkout branch, or is rendered for two groups;
/// template errors.
pub fn pull_request_groups(
    policies: &Policies,
    group_by: GroupBy,
    branch_template: Option<&str>,
    write_back: &WriteBackSpec,
) -> Result<Vec<PullRequestGroup>, imageautomation_git::Error> {
    use imageautomation_git::Error;
    let source = match group_by {
        GroupBy::None => return Ok(Vec::new()),
        GroupBy::Policy => DEFAULT_POLICY_BRANCH_TEMPLATE,
        GroupBy::Image => DEFAULT_IMAGE_BRANCH_TEMPLATE,
    };
    let template = BranchTemplate::parse(branch_template.unwrap_or(source))?;
    let push_branch = write_back
        .push_branch
        .clone()
        .filter(|b| !b.is_empty())
        .ok_or_else(|| Error::InvalidSpec {
            field: "git.push.branch",
            reason: format!(
                "pullRequest.groupBy {} names each group's branch after git.push.branch: set it to a branch other than the checkout branch",
                group_by.as_str()
            ),
        })?;
    let mut by_key: std::collections::BTreeMap<String, Policies> = Default::default();
    for (marker, latest) in policies {
        let key = match group_by {
            GroupBy::Image => latest.name.clone(),
            _ => marker.clone(),
        };
        by_key
            .entry(key)
            .or_default()
            .insert(marker.clone(), latest.clone());
    }
    let mut groups: Vec<PullRequestGroup> = Vec::new();
    for (key, members) in by_key {
        let Some((marker, latest)) = members.iter().next() else {
            continue;
        };
        let (namespace, name) = marker.split_once(':').unwrap_or(("", marker));
        let branch = template.render(&BranchTemplateData {
            automation_object: write_back.automation_object.clone(),
            policy: NamespacedName {
                namespace: namespace.to_owned(),
                name: name.to_owned(),
            },
            image: latest.name.clone(),
            new_tag: latest.tag.clone(),
            push_branch: push_branch.clone(),
        })?;
        if matches!(&write_back.checkout, CheckoutRef::Branch(b) if *b == branch) {
            return Err(Error::InvalidSpec {
                field: "pullRequest.branch",
                reason: format!(
                    "renders the checkout branch {branch:?} for {key}: a pull request needs a head branch other than its base"
                ),
            });
        }
        if let Some(other) = groups.iter().find(|g| g.branch == branch) {
            return Err(Error::InvalidSpec {
                field: "pullRequest.branch",
                reason: format!(
                    "renders {branch:?} for both {} and {key}: each group needs a branch of its own (use .Policy.Name or .Image)",
                    other.key
                ),
            });
        }
        groups.push(PullRequestGroup {
            key,
            branch,
            policies: members,
        });
    }
    Ok(groups)
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
    /// With `pullRequest.groupBy`: each group's run, in key order (empty without). Then
    /// `changes` holds every group's files (a file changed in two groups once per group),
    /// `push` and `pull_request` the last group that pushed, `checkout_commit` the first
    /// group's.
    pub groups: Vec<GroupOutcome>,
}

/// What one pull request group's run did (or, in preview, would do).
#[derive(Debug, Clone)]
pub struct GroupOutcome {
    /// The group: key, branch and policies.
    pub group: PullRequestGroup,
    /// The setters result of the group's policies, on its branch.
    pub changes: UpdateResult,
    /// The push to the group's branch, when something was pushed.
    pub push: Option<PushResult>,
    /// As [`AutomationOutcome::earlier_push`], for the group's branch.
    pub earlier_push: Option<EarlierPush>,
    /// The group's pull request, opened or updated.
    pub pull_request: Option<PullRequest>,
}

/// Runs the automation once. Nothing is written anywhere in
/// [`RunMode::Preview`]: the setters run in dry-run mode on a temporary clone,
/// the work tree stays clean, and `commit_and_push` commits only a changed
/// tree. With `pullRequest.groupBy`, one such run per group
/// ([`pull_request_groups`]), one after the other; the first failure ends the run.
///
/// # Errors
/// [`ReconcileError::Git`] (clone, authentication, push rejected, pull
/// request, a group's branch), [`ReconcileError::Update`] (setters).
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
    if let Some(settings) = pull_request.as_ref()
        && settings.group_by != GroupBy::None
    {
        return run_groups(
            write_back,
            update_path,
            &policies,
            &downgrade_guards,
            settings,
            mode,
        )
        .await;
    }
    let (changes, result) =
        write_back_once(&write_back, &update_path, policies, downgrade_guards, mode).await?;
    let mut outcome = AutomationOutcome {
        changes,
        checkout_commit: result.checkout_commit.clone(),
        push: result.push.clone(),
        earlier_push: result.earlier_push.clone(),
        pull_request: None,
        groups: Vec::new(),
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

/// The run of each group of `settings.group_by`, then the whole as one outcome.
async fn run_groups(
    write_back: WriteBackSpec,
    update_path: String,
    policies: &Policies,
    downgrade_guards: &DowngradeGuards,
    settings: &PullRequestSettings,
    mode: RunMode,
) -> Result<AutomationOutcome, ReconcileError> {
    let groups = pull_request_groups(
        policies,
        settings.group_by,
        settings.branch_template.as_deref(),
        &write_back,
    )?;
    let mut outcome = AutomationOutcome {
        changes: UpdateResult::default(),
        checkout_commit: String::new(),
        push: None,
        earlier_push: None,
        pull_request: None,
        groups: Vec::new(),
    };
    for group in groups {
        let spec = WriteBackSpec {
            push_branch: Some(group.branch.clone()),
            // Checked: a refspec pushes one branch elsewhere, groups have several.
            push_refspec: None,
            ..write_back.clone()
        };
        let (changes, result) = write_back_once(
            &spec,
            &update_path,
            group.policies.clone(),
            downgrade_guards.clone(),
            mode,
        )
        .await?;
        let pull_request = match mode {
            RunMode::Apply => {
                let pr_spec = PullRequestSpec {
                    group: Some(group.key.clone()),
                    ..settings.spec.clone()
                };
                pr_spec
                    .ensure_after_push(&settings.client, &spec, &result)
                    .await?
            }
            RunMode::Preview => None,
        };
        if outcome.checkout_commit.is_empty() {
            outcome.checkout_commit = result.checkout_commit.clone();
        }
        if result.push.is_some() {
            outcome.push = result.push.clone();
            outcome.pull_request = pull_request.clone();
        }
        outcome.changes.files.extend(changes.files.iter().cloned());
        outcome
            .changes
            .refused
            .extend(changes.refused.iter().cloned());
        for skipped in &changes.skipped {
            if !outcome
                .changes
                .skipped
                .iter()
                .any(|s| s.path == skipped.path)
            {
                outcome.changes.skipped.push(skipped.clone());
            }
        }
        outcome.groups.push(GroupOutcome {
            group,
            changes,
            push: result.push,
            earlier_push: result.earlier_push,
            pull_request,
        });
    }
    // Stable: a file changed in two groups stays in group order.
    outcome.changes.files.sort_by(|a, b| a.path.cmp(&b.path));
    outcome.changes.skipped.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(outcome)
}

/// One clone, setters, commit and push of `spec` with `policies`: the setters result of
/// the (last) update and what the write-back did.
async fn write_back_once(
    write_back: &WriteBackSpec,
    update_path: &str,
    policies: Policies,
    downgrade_guards: DowngradeGuards,
    mode: RunMode,
) -> Result<(UpdateResult, WriteBackResult), ReconcileError> {
    let setters_mode = match mode {
        RunMode::Preview => Mode::DryRun,
        RunMode::Apply => Mode::Write,
    };
    let spec = WriteBackSpec {
        find_earlier_push: mode == RunMode::Apply,
        ..write_back.clone()
    };
    let update_path = update_path.to_owned();
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
    Ok((changes, result))
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

    fn spec(push_branch: Option<&str>) -> WriteBackSpec {
        write_back_spec(
            "https://github.com/org/fleet".into(),
            Auth::default(),
            CheckoutRef::Branch("main".into()),
            &GitCommit::default(),
            None,
            Some(&GitPush {
                branch: push_branch.map(str::to_owned),
                ..GitPush::default()
            }),
            NamespacedName {
                namespace: "flux-system".into(),
                name: "fleet".into(),
            },
        )
    }

    fn policies() -> Policies {
        [
            ("apps:api", "ghcr.io/org/app:1.2.0"),
            ("apps:worker", "ghcr.io/org/app:1.3.0"),
            (
                "flux-system:podinfo",
                "127.0.0.1:5000/stefanprodan/podinfo:5.0.3",
            ),
        ]
        .into_iter()
        .map(|(k, r)| (k.to_owned(), r.parse().expect("reference")))
        .collect()
    }

    #[test]
    fn groups_by_policy_and_by_image_with_default_branches() {
        let by_policy = pull_request_groups(&policies(), GroupBy::Policy, None, &spec(Some("up")))
            .expect("groups");
        let summary: Vec<(&str, &str, usize)> = by_policy
            .iter()
            .map(|g| (g.key.as_str(), g.branch.as_str(), g.policies.len()))
            .collect();
        assert_eq!(
            summary,
            [
                ("apps:api", "up-apps-api", 1),
                ("apps:worker", "up-apps-worker", 1),
                ("flux-system:podinfo", "up-flux-system-podinfo", 1),
            ]
        );
        let by_image = pull_request_groups(&policies(), GroupBy::Image, None, &spec(Some("up")))
            .expect("groups");
        let summary: Vec<(&str, &str, Vec<&str>)> = by_image
            .iter()
            .map(|g| {
                (
                    g.key.as_str(),
                    g.branch.as_str(),
                    g.policies.keys().map(String::as_str).collect(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                (
                    "127.0.0.1:5000/stefanprodan/podinfo",
                    "up-127.0.0.1-5000/stefanprodan/podinfo",
                    vec!["flux-system:podinfo"]
                ),
                (
                    "ghcr.io/org/app",
                    "up-ghcr.io/org/app",
                    vec!["apps:api", "apps:worker"]
                ),
            ]
        );
        assert!(
            pull_request_groups(&policies(), GroupBy::None, None, &spec(None))
                .expect("none")
                .is_empty()
        );
    }

    #[test]
    fn group_branches_are_refused_when_they_cannot_work() {
        let refused = |group_by, template: Option<&str>, push: Option<&str>| {
            pull_request_groups(&policies(), group_by, template, &spec(push))
                .expect_err("refused")
                .to_string()
        };
        let e = refused(GroupBy::Policy, None, None);
        assert!(e.contains("git.push.branch"), "{e}");
        let e = refused(GroupBy::Policy, Some("{{ .PushBranch }}"), Some("up"));
        assert!(
            e.contains("\"up\" for both apps:api and apps:worker"),
            "{e}"
        );
        let e = refused(GroupBy::Image, Some("main"), Some("up"));
        assert!(e.contains("the checkout branch \"main\""), "{e}");
        let e = refused(GroupBy::Image, Some("{{ .Image }}"), Some("up"));
        assert!(e.contains("not a valid branch name"), "{e}");
        let e = refused(GroupBy::Policy, Some("{{ .Policy.Nmae }}"), Some("up"));
        assert!(e.contains("can't evaluate field Nmae"), "{e}");
        // A tag in the template: a branch (and pull request) per tag, when asked for.
        let per_tag = pull_request_groups(
            &policies(),
            GroupBy::Policy,
            Some("up/{{ .Policy.Name }}-{{ .NewTag }}"),
            &spec(Some("up")),
        )
        .expect("groups");
        assert_eq!(per_tag[0].branch, "up/api-1.2.0");
    }

    #[test]
    fn repository_paths_join_the_update_path() {
        assert_eq!(repository_path("", "a.yaml"), "a.yaml");
        assert_eq!(repository_path("./", "a.yaml"), "a.yaml");
        assert_eq!(repository_path("./x/y", "a.yaml"), "x/y/a.yaml");
        assert_eq!(repository_path("x/", "a.yaml"), "x/a.yaml");
    }
}
