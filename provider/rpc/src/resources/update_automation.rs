//! `imageautomation:index:UpdateAutomation` (doc: `update_automation.md`).
//!
//! Preview and refresh clone the repository read-only (the setters run in
//! dry-run mode); `up` pushes one commit with every pending bump. Refresh
//! reads the marked values in Git and reports them as the old `policies`
//! inputs, so a bump that is pending because the repository changed (a
//! reverted tag) shows as `latestRef.tag: "5.0.0" => "5.0.3"` like any other.
//! The id is the automation object `namespace/name` (`fluxNamespace`, the
//! resource name), Flux's `.AutomationObject`.

use chrono::{SecondsFormat, Utc};
use imageautomation_engine::flux_objects::{GitCredential, git_credential};
use imageautomation_engine::reconcile::{
    AutomationOutcome, AutomationRequest, GroupOutcome, PullRequestSettings, RunMode,
    describe_changes, pull_request_groups, run_update_automation, signing_key, write_back_spec,
};
use imageautomation_engine::token_rule::{TokenOrigin, Withheld, token_destination};
use imageautomation_git::{
    Auth, BranchTemplate, Credentials as GitCredentials, MessageTemplate, NamespacedName,
    PullRequestClient, PullRequestSpec, SigningKey, WriteBackSpec, list_remote_refs,
};
use imageautomation_proto::codec;
use imageautomation_update::{LatestRef, Policies, UpdateResult};
use serde_json::{Map, Value, json};

use imageautomation_model::args::{GroupBy, UpdateAutomationArgs};
use imageautomation_model::git::UpdateStrategy;
use imageautomation_model::{CheckoutRef, checkout_ref};

use super::common::{Inputs, check_duration, default_str, failure, op_error, with_plain};
use super::{Ctx, Kind, OpError, ReadResult, Resource, diff_inputs};
use crate::config::Failure;

const SECRET_INPUTS: &[&str] = &[
    "git.auth.token",
    "git.auth.password",
    "git.auth.sshPrivateKey",
    "git.commit.signingKey.openpgp.privateKey",
    "git.commit.signingKey.openpgp.passphrase",
    "git.commit.signingKey.ssh.privateKey",
    "git.commit.signingKey.ssh.passphrase",
    "git.proxy.password",
];

/// The UpdateAutomation resource.
pub struct UpdateAutomation;

/// `"namespace:name"` -> `latestRef` of each `policies` entry.
fn policies_of(args: &UpdateAutomationArgs) -> Result<Policies, OpError> {
    if let Some(i) = args
        .policies
        .iter()
        .flatten()
        .position(|p| p.latest_ref.is_none())
    {
        return Err(OpError::InvalidArgument(format!(
            "policies[{i}].latestRef: expected {{name, tag, digest}}"
        )));
    }
    Ok(args.latest_refs().into_iter().collect())
}

/// The Flux object name of the automation: the `name` input, default the
/// resource name (`.AutomationObject`, the id, and in cluster mode the
/// `ImageUpdateAutomation` object).
pub(crate) fn flux_name(ctx: &Ctx, args: &UpdateAutomationArgs) -> String {
    args.name.clone().unwrap_or_else(|| ctx.name.clone())
}

/// The run's request, from checked inputs and the provider configuration.
fn request_of(ctx: &Ctx, args: &UpdateAutomationArgs) -> Result<AutomationRequest, OpError> {
    let git = &args.git;
    let url = git.url.clone().unwrap_or_default();
    // One rule with cluster mode and `render` (flux_objects::git_credential), and with the
    // CLI on where a token goes (token_rule): git.auth goes to the remote it is given for,
    // never over plain http:// off loopback; githubToken to github.com only.
    let credential = git_credential(git, ctx.config.github_token.as_ref());
    if let Some(GitCredential::Token(_, TokenOrigin::Explicit) | GitCredential::Basic { .. }) =
        &credential
        && let Err(e @ Withheld::PlainHttp { .. }) =
            token_destination(&url, TokenOrigin::Explicit, false)
    {
        return Err(OpError::InvalidArgument(format!("git.auth: {e}")));
    }
    let credentials = match credential.clone() {
        None => GitCredentials::Anonymous,
        Some(GitCredential::Token(token, _)) => GitCredentials::Token(token),
        Some(GitCredential::Basic { username, password }) => {
            GitCredentials::Basic { username, password }
        }
        Some(GitCredential::SshKey { private_key, .. }) => GitCredentials::SshKey {
            private_key,
            passphrase: None,
        },
    };
    let checkout = checkout_ref(git.checkout.as_ref(), None)
        .checkout()
        .map_err(|e| OpError::InvalidArgument(format!("git.{e}")))?;
    let write_back = write_back_spec(
        url,
        Auth {
            credentials,
            ca_bundle: git.ca_pem.clone(),
            known_hosts: git.auth.as_ref().and_then(|a| a.known_hosts.clone()),
            proxy: git.proxy.clone(),
        },
        checkout,
        &git.commit,
        signing_key(&git.commit)
            .map_err(|e| OpError::InvalidArgument(format!("git.commit.signingKey: {e}")))?,
        git.push.as_ref(),
        NamespacedName {
            namespace: ctx.config.flux_namespace.clone(),
            name: flux_name(ctx, args),
        },
    );
    let pull_request = match &args.pull_request {
        None => None,
        Some(pr) => {
            let api_base_url = pr.api_base_url.as_deref();
            let (api_token, origin) = match (credential, &ctx.config.github_token) {
                (Some(GitCredential::Token(t, origin)), _) => (t, origin),
                (_, Some(t)) => (t.clone(), TokenOrigin::Ambient),
                (_, None) => {
                    return Err(OpError::InvalidArgument(
                        "pullRequest needs a GitHub token: set git.auth.token, or imageautomation:githubToken with `pulumi config set --secret`, or GITHUB_TOKEN".into(),
                    ));
                }
            };
            token_destination(
                api_base_url.unwrap_or("https://api.github.com"),
                origin,
                true,
            )
            .map_err(|e| OpError::InvalidArgument(format!("pullRequest.apiBaseUrl: {e}")))?;
            let client = PullRequestClient::new(api_base_url, api_token, git.ca_pem.as_deref())
                .map_err(|e| OpError::InvalidArgument(e.to_string()))?;
            Some(PullRequestSettings {
                spec: PullRequestSpec {
                    title_template: pr.title.clone(),
                    body_template: pr.body.clone(),
                    labels: pr.labels.clone(),
                    api_base_url: pr.api_base_url.clone(),
                    repository: None,
                    group: None,
                },
                client,
                group_by: pr.group_by,
                branch_template: pr.branch.clone(),
            })
        }
    };
    Ok(AutomationRequest {
        write_back,
        update_path: UpdateStrategy::path(args.update.as_ref()).to_owned(),
        policies: policies_of(args)?,
        downgrade_guards: args
            .downgrade_guards()
            .map_err(|e| OpError::InvalidArgument(format!("{}: {}", e.property, e.reason)))?,
        pull_request,
    })
}

fn observed_policies(policies: &Policies) -> Value {
    Value::Object(
        policies
            .iter()
            .map(|(k, r)| (k.clone(), serde_json::to_value(r).unwrap_or(Value::Null)))
            .collect(),
    )
}

/// Outputs of a run: inputs + results. In preview, what a push would set is
/// unknown when there is something to push, else kept from `olds`.
fn outputs(
    inputs: &Value,
    olds: &Value,
    outcome: Option<(&AutomationOutcome, &Policies)>,
    grouped: bool,
    preview: bool,
) -> Value {
    let (olds_plain, _) = codec::reveal(olds);
    with_plain(inputs, SECRET_INPUTS, |map| {
        let keep = |map: &mut Map<String, Value>, key: &str| {
            if let Some(v) = olds_plain.get(key).filter(|v| !v.is_null()) {
                map.insert(key.into(), v.clone());
            }
        };
        let unknown = Value::String(codec::UNKNOWN.into());
        let Some((outcome, policies)) = outcome else {
            for key in [
                "lastPushCommit",
                "lastPushTime",
                "observedPolicies",
                "changes",
                "pullRequestUrl",
            ] {
                map.insert(key.into(), unknown.clone());
            }
            if grouped {
                map.insert(GROUPS.into(), unknown.clone());
            }
            return;
        };
        if grouped {
            map.insert(
                GROUPS.into(),
                Value::Array(
                    outcome
                        .groups
                        .iter()
                        .map(|g| group_output(g, olds_plain.get(GROUPS), preview))
                        .collect(),
                ),
            );
        }
        map.insert("observedPolicies".into(), observed_policies(policies));
        map.insert(
            "changes".into(),
            serde_json::to_value(&outcome.changes).unwrap_or_default(),
        );
        let pending = !outcome.changes.files.is_empty();
        match &outcome.push {
            Some(push) => {
                map.insert("lastPushCommit".into(), Value::String(push.commit.clone()));
                map.insert(
                    "lastPushTime".into(),
                    Value::String(Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true)),
                );
            }
            None if preview && pending => {
                map.insert("lastPushCommit".into(), unknown.clone());
                map.insert("lastPushTime".into(), unknown.clone());
            }
            None => match &outcome.earlier_push {
                // An earlier run's push that this one found done (its answer was lost, or
                // the plugin was killed after it): reported as that run would have.
                Some(earlier)
                    if olds_plain.get("lastPushCommit").and_then(Value::as_str)
                        != Some(earlier.commit.as_str()) =>
                {
                    map.insert(
                        "lastPushCommit".into(),
                        Value::String(earlier.commit.clone()),
                    );
                    let time =
                        chrono::DateTime::from_timestamp(earlier.time, 0).unwrap_or_else(Utc::now);
                    map.insert(
                        "lastPushTime".into(),
                        Value::String(time.to_rfc3339_opts(SecondsFormat::Secs, true)),
                    );
                }
                _ => {
                    keep(map, "lastPushCommit");
                    keep(map, "lastPushTime");
                }
            },
        }
        match &outcome.pull_request {
            Some(pr) => {
                map.insert("pullRequestUrl".into(), Value::String(pr.html_url.clone()));
            }
            None if preview && pending && map.get("pullRequest").is_some_and(Value::is_object) => {
                map.insert("pullRequestUrl".into(), unknown.clone());
            }
            None => keep(map, "pullRequestUrl"),
        }
    })
}

/// The output listing the pull request groups (`pullRequest.groupBy`).
const GROUPS: &str = "groups";

/// One `groups` entry: the group, its last run's changes, and its last push and pull
/// request, kept from the old entry of the same branch when this run pushed nothing (unknown
/// in a preview with something to push).
fn group_output(group: &GroupOutcome, olds: Option<&Value>, preview: bool) -> Value {
    let old = olds
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find(|g| g.get("branch").and_then(Value::as_str) == Some(group.group.branch.as_str()));
    let kept = |key: &str| {
        old.and_then(|o| o.get(key))
            .filter(|v| !v.is_null())
            .cloned()
    };
    let pending = preview && !group.changes.files.is_empty();
    let unknown = Value::String(codec::UNKNOWN.into());
    let mut entry = Map::new();
    entry.insert("key".into(), Value::String(group.group.key.clone()));
    entry.insert("branch".into(), Value::String(group.group.branch.clone()));
    entry.insert(
        "policies".into(),
        Value::Array(
            group
                .group
                .policies
                .keys()
                .map(|k| Value::String(k.clone()))
                .collect(),
        ),
    );
    entry.insert(
        "changes".into(),
        serde_json::to_value(&group.changes).unwrap_or_default(),
    );
    let now = || Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true);
    let (commit, time) = match (&group.push, &group.earlier_push) {
        (Some(push), _) => (Some(json!(push.commit)), Some(json!(now()))),
        _ if pending => (Some(unknown.clone()), Some(unknown.clone())),
        (None, Some(earlier)) if kept("lastPushCommit") != Some(json!(earlier.commit)) => {
            let time = chrono::DateTime::from_timestamp(earlier.time, 0).unwrap_or_else(Utc::now);
            (
                Some(json!(earlier.commit)),
                Some(json!(time.to_rfc3339_opts(SecondsFormat::Secs, true))),
            )
        }
        _ => (kept("lastPushCommit"), kept("lastPushTime")),
    };
    let (url, number) = match &group.pull_request {
        Some(pr) => (Some(json!(pr.html_url)), Some(json!(pr.number))),
        None if pending => (Some(unknown.clone()), Some(unknown)),
        None => (kept("pullRequestUrl"), kept("pullRequestNumber")),
    };
    for (key, value) in [
        ("lastPushCommit", commit),
        ("lastPushTime", time),
        ("pullRequestUrl", url),
        ("pullRequestNumber", number),
    ] {
        if let Some(value) = value {
            entry.insert(key.into(), value);
        }
    }
    Value::Object(entry)
}

impl UpdateAutomation {
    async fn run(
        &self,
        ctx: &Ctx,
        inputs: &Value,
        olds: &Value,
        preview: bool,
    ) -> Result<Value, OpError> {
        let parsed = Inputs::<UpdateAutomationArgs>::of(inputs)?;
        let grouped = parsed.args.group_by() != GroupBy::None;
        if parsed.any_unknown() {
            // The policies are not known yet (a new stack's preview with
            // unknown tags): the changes are not either.
            return Ok(outputs(inputs, olds, None, grouped, preview));
        }
        if parsed.args.suspend {
            let (olds_plain, _) = codec::reveal(olds);
            return Ok(with_plain(inputs, SECRET_INPUTS, |map| {
                for key in [
                    "lastPushCommit",
                    "lastPushTime",
                    "observedPolicies",
                    "changes",
                    "pullRequestUrl",
                    GROUPS,
                ] {
                    if let Some(v) = olds_plain.get(key) {
                        map.insert(key.into(), v.clone());
                    }
                }
                map.entry("observedPolicies").or_insert(json!({}));
                map.entry("changes")
                    .or_insert(json!({"files": [], "skipped": []}));
            }));
        }
        let request = request_of(ctx, &parsed.args)?;
        let policies = request.policies.clone();
        let update_path = request.update_path.clone();
        let url = request.write_back.url.clone();
        let write_back = request.write_back.clone();
        let status = match (preview, &request.write_back.push_branch) {
            (true, _) => format!("cloning {url} read-only"),
            (false, Some(_)) if grouped => {
                format!("cloning {url}, committing and pushing a branch per pull request group")
            }
            (false, Some(branch)) => format!("cloning {url}, committing and pushing to {branch}"),
            (false, None) => format!("cloning {url}, committing and pushing"),
        };
        ctx.log.status(&ctx.urn, status).await;
        let mode = if preview {
            RunMode::Preview
        } else {
            RunMode::Apply
        };
        let outcome = run_update_automation(request, mode)
            .await
            .map_err(op_error)?;
        if grouped {
            log_groups(ctx, &update_path, &outcome, preview).await;
        } else {
            for line in describe_changes(&update_path, &outcome.changes) {
                ctx.log.info(&ctx.urn, line).await;
            }
        }
        for skipped in &outcome.changes.skipped {
            ctx.log
                .warning(
                    &ctx.urn,
                    format!("{}: left untouched: {}", skipped.path, skipped.reason),
                )
                .await;
        }
        for refused in &outcome.changes.refused {
            ctx.log.warning(&ctx.urn, refused.to_string()).await;
        }
        if let Some(push) = outcome.push.as_ref().filter(|_| !grouped) {
            let short: String = push.commit.chars().take(7).collect();
            ctx.log
                .info(
                    &ctx.urn,
                    format!("pushed commit {short} to branch {}", push.branch),
                )
                .await;
        }
        if let Some(pr) = outcome.pull_request.as_ref().filter(|_| !grouped) {
            let verb = if pr.created { "opened" } else { "updated" };
            ctx.log
                .info(&ctx.urn, format!("{verb} pull request {}", pr.html_url))
                .await;
        }
        let mut out = outputs(inputs, olds, Some((&outcome, &policies)), grouped, preview);
        if let Value::Object(map) = &mut out {
            let pending = !outcome.changes.files.is_empty();
            match source_revision(&write_back, &outcome) {
                Some(revision) => {
                    map.insert("observedSourceRevision".into(), Value::String(revision));
                }
                None if preview && pending => {
                    map.insert(
                        "observedSourceRevision".into(),
                        Value::String(codec::UNKNOWN.into()),
                    );
                }
                None => {
                    map.remove("observedSourceRevision");
                }
            }
        }
        Ok(out)
    }
}

/// Each group's pending bumps (`branch <b>: <file>: <image> <old> => <new>`), then what
/// its run did or would do: the push and the pull request, or nothing to push.
async fn log_groups(ctx: &Ctx, update_path: &str, outcome: &AutomationOutcome, preview: bool) {
    for group in &outcome.groups {
        let branch = &group.group.branch;
        for line in describe_changes(update_path, &group.changes) {
            ctx.log
                .info(&ctx.urn, format!("branch {branch}: {line}"))
                .await;
        }
        let done = match (&group.push, &group.pull_request) {
            _ if preview && !group.changes.files.is_empty() => format!(
                "branch {branch}: would push a commit for {} and open or update its pull request",
                group.group.key
            ),
            (Some(push), pr) => {
                let short: String = push.commit.chars().take(7).collect();
                let pr = pr.as_ref().map_or(String::new(), |pr| {
                    let verb = if pr.created { "opened" } else { "updated" };
                    format!(", {verb} pull request {}", pr.html_url)
                });
                format!("pushed commit {short} to branch {branch}{pr}")
            }
            (None, _) => continue,
        };
        ctx.log.info(&ctx.urn, done).await;
    }
}

/// True for an HTTP(S) URL with user info (`https://token@host/...`, `https://user:pw@...`),
/// also one whose password makes it unparsable (an unencoded `/`). An SSH user
/// (`ssh://git@host`, `git@host:org/repo`) is not a credential.
fn carries_credentials(url: &str) -> bool {
    let Some((scheme, rest)) = url.split_once("://") else {
        return false;
    };
    if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
        return false;
    }
    match url::Url::parse(url) {
        Ok(parsed) => !parsed.username().is_empty() || parsed.password().is_some(),
        Err(_) => rest.contains('@'),
    }
}

/// Flux's `status.observedSourceRevision` (`<branch>@sha1:<hex>`, flux-spec 5.1 steps 8-9): the
/// commit at which the markers match these inputs. Only when the automation reads and pushes
/// one branch: after a push to another branch (a pull request) or a checkout by tag or commit,
/// the next refresh clones as before.
fn source_revision(spec: &WriteBackSpec, outcome: &AutomationOutcome) -> Option<String> {
    let CheckoutRef::Branch(branch) = &spec.checkout else {
        return None;
    };
    if !outcome.groups.is_empty() {
        return None;
    }
    if spec.push_branch.as_ref().is_some_and(|p| p != branch) {
        return None;
    }
    match &outcome.push {
        Some(push) => Some(format!("{branch}@sha1:{}", push.commit)),
        None if outcome.changes.files.is_empty() => {
            Some(format!("{branch}@sha1:{}", outcome.checkout_commit))
        }
        None => None,
    }
}

/// `Check` of `pullRequest.groupBy` and `pullRequest.branch`: the template parses, is only
/// given with a grouping, no `git.push.refspec` beside a grouping (each group pushes its own
/// branch), and, when the policies are known, each group's branch renders to a valid branch
/// other than the checkout branch and other groups' ([`pull_request_groups`]).
fn check_grouping(
    ctx: &Ctx,
    inputs: &Inputs<UpdateAutomationArgs>,
    args: &UpdateAutomationArgs,
    pr: &imageautomation_model::args::PullRequestArgs,
    failures: &mut Vec<Failure>,
) {
    if pr.group_by == GroupBy::None {
        if pr.branch.is_some() {
            failures.push(failure(
                "pullRequest.branch",
                "pullRequest.branch names the branches of grouped pull requests: set pullRequest.groupBy to policy or image, or remove it (without groupBy the pull request's branch is git.push.branch)",
            ));
        }
        return;
    }
    if let Some(template) = &pr.branch
        && let Err(e) = BranchTemplate::parse(template)
    {
        failures.push(failure("pullRequest.branch", e.to_string()));
        return;
    }
    if args.git.push.as_ref().is_some_and(|p| p.refspec.is_some()) {
        failures.push(failure(
            "git.push.refspec",
            format!(
                "git.push.refspec cannot be combined with pullRequest.groupBy {}: each group pushes a branch of its own; remove the refspec",
                pr.group_by.as_str()
            ),
        ));
    }
    if inputs.any_unknown() {
        return;
    }
    let (Ok(policies), Ok(checkout)) = (
        policies_of(args),
        checkout_ref(args.git.checkout.as_ref(), None).checkout(),
    ) else {
        return; // reported by the checks of policies and git.checkout
    };
    let spec = write_back_spec(
        String::new(),
        Auth::default(),
        checkout,
        &args.git.commit,
        None,
        args.git.push.as_ref(),
        NamespacedName {
            namespace: ctx.config.flux_namespace.clone(),
            name: flux_name(ctx, args),
        },
    );
    if spec.push_branch.is_none() {
        return; // reported on pullRequest
    }
    if let Err(e) = pull_request_groups(&policies, pr.group_by, pr.branch.as_deref(), &spec) {
        failures.push(failure("pullRequest.branch", e.to_string()));
    }
}

/// True when the branch of `revision` (`<branch>@sha1:<hex>`) still points at its commit
/// (`git ls-remote`, no clone). Any error answers false: the caller then clones.
async fn source_unchanged(spec: &WriteBackSpec, revision: &str) -> bool {
    let Some((branch, commit)) = revision.split_once("@sha1:") else {
        return false;
    };
    let (url, auth) = (spec.url.clone(), spec.auth.clone());
    let head = format!("refs/heads/{branch}");
    let commit = commit.to_owned();
    tokio::task::spawn_blocking(move || {
        list_remote_refs(&url, &auth).is_ok_and(|refs| refs.get(&head) == Some(&commit))
    })
    .await
    .unwrap_or(false)
}

#[tonic::async_trait]
impl Resource for UpdateAutomation {
    /// As the default, except that an empty `latestRef.digest` in the old inputs is no input:
    /// state written before the policies omitted an empty digest (as Flux's `status.latestRef`
    /// does) holds `"digest": ""`, and that is not a change.
    fn diff(&self, old_inputs: &Value, news: &Value) -> Vec<(String, Kind)> {
        let mut old = old_inputs.clone();
        if let Some(policies) = old.get_mut("policies").and_then(Value::as_array_mut) {
            for latest in policies
                .iter_mut()
                .filter_map(|p| p.get_mut("latestRef").and_then(Value::as_object_mut))
            {
                if latest.get("digest").is_some_and(|d| d == "") {
                    latest.remove("digest");
                }
            }
        }
        diff_inputs(&old, news)
    }

    fn check(&self, ctx: &Ctx, _olds: &Value, news: &Value) -> (Value, Vec<Failure>) {
        let mut failures = Vec::new();
        let checked = with_plain(news, SECRET_INPUTS, |map| {
            if let Some(update) = map.get_mut("update").and_then(Value::as_object_mut) {
                default_str(update, "strategy", "Setters");
            } else if map.get("update").is_none_or(Value::is_null) {
                map.insert("update".into(), json!({"path": ".", "strategy": "Setters"}));
            }
        });
        let inputs = match Inputs::<UpdateAutomationArgs>::parse(&checked) {
            Ok(inputs) => inputs,
            Err(f) => return (checked, vec![f]),
        };
        let args = &inputs.args;
        let git = &args.git;
        match &git.url {
            None if !inputs.is_unknown("git.url") => failures.push(failure(
                "git.url",
                "git.url is required: https://..., ssh://... or file://...",
            )),
            Some(url) if carries_credentials(url) => failures.push(failure(
                "git.url",
                "the URL carries credentials in its user part (they would be stored in the state \
                 and in the Flux GitRepository): remove them, and give the token in git.auth, or \
                 imageautomation:githubToken for github.com, where it stays secret",
            )),
            _ => {}
        }
        if git.commit.author.email.is_empty() && !inputs.is_unknown("git.commit.author") {
            failures.push(failure(
                "git.commit.author.email",
                "the commit author's email is required",
            ));
        }
        if let Some(template) = &git.commit.message_template
            && let Err(e) = MessageTemplate::commit_message(Some(template))
        {
            failures.push(failure("git.commit.messageTemplate", e.to_string()));
        }
        if !inputs.is_unknown("git.commit.signingKey") {
            // The key is read and unlocked now, so that a wrong passphrase fails the preview.
            match signing_key(&git.commit) {
                Ok(key) => {
                    if let Some(Err(e)) = key.as_ref().map(SigningKey::check) {
                        failures.push(failure("git.commit.signingKey", e.to_string()));
                    }
                }
                Err(e) => failures.push(failure("git.commit.signingKey", e)),
            }
        }
        if let Some(Err(e)) = git.proxy.as_ref().map(|p| p.url())
            && !inputs.is_unknown("git.proxy")
        {
            failures.push(failure("git.proxy", e));
        }
        if let Some(Err(e)) = args.update.as_ref().map(UpdateStrategy::check) {
            failures.push(failure("update.strategy", e));
        }
        if let Err(e) = checkout_ref(git.checkout.as_ref(), None).checkout() {
            failures.push(failure("git.checkout.ref", e));
        }
        if let Some(auth) = &git.auth
            && auth.username.is_some() != auth.password.is_some()
            && !inputs.is_unknown("git.auth")
        {
            failures.push(failure(
                "git.auth",
                "username and password go together: give both (or a token, or sshPrivateKey)",
            ));
        }
        if git.auth.as_ref().is_some_and(|a| a.kinds() > 1) {
            failures.push(failure(
                "git.auth",
                "give one of token, username and password, or sshPrivateKey",
            ));
        }
        match &args.policies {
            Some(list) => {
                for (i, p) in list.iter().enumerate() {
                    let at = format!("policies[{}]", inputs.index("policies", i));
                    if inputs.is_unknown(&at) {
                        continue;
                    }
                    let latest = p.latest_ref.as_ref();
                    let missing = [
                        ("namespace", p.namespace.is_none()),
                        ("name", p.name.is_none()),
                        ("latestRef.name", latest.is_none_or(|r| r.name.is_empty())),
                        ("latestRef.tag", latest.is_none_or(|r| r.tag.is_empty())),
                    ];
                    for (key, _) in missing.iter().filter(|(_, missing)| *missing) {
                        failures.push(failure(
                            format!("{at}.{key}"),
                            "each policy is an ImagePolicy's imagePolicyRef output: {namespace, name, latestRef}",
                        ));
                    }
                }
            }
            None if inputs.is_unknown("policies") => {}
            None => failures.push(failure(
                "policies",
                "policies is required: a list of ImagePolicy imagePolicyRef outputs",
            )),
        }
        check_duration("interval", args.interval.as_deref(), &mut failures);
        if let Some(source) = &args.source_ref
            && source.name.is_none()
            && !inputs.is_unknown("sourceRef")
        {
            failures.push(failure(
                "sourceRef.name",
                "sourceRef names an existing GitRepository: give its name (and namespace)",
            ));
        }
        if args.pull_request.is_some() && !inputs.is_unknown("git") {
            let checkout = git
                .checkout
                .as_ref()
                .and_then(|c| c.reference.as_ref())
                .and_then(|r| r.branch.as_ref());
            let push = git.push.as_ref().and_then(|p| p.branch.as_ref());
            if push.is_none() || push == checkout {
                failures.push(failure(
                    "pullRequest",
                    "a pull request needs git.push.branch set to a branch other than the checkout branch",
                ));
            }
        }
        if let Some(pr) = &args.pull_request {
            check_grouping(ctx, &inputs, args, pr, &mut failures);
        }
        (checked, failures)
    }

    fn refresh_before_update(&self, inputs: &Value) -> bool {
        !Inputs::<UpdateAutomationArgs>::lenient(inputs).suspend
    }

    fn secret_inputs(&self) -> &'static [&'static str] {
        SECRET_INPUTS
    }

    fn derived_outputs(&self) -> &'static [(&'static str, &'static [&'static str])] {
        &[
            ("git.url", &["pullRequestUrl", GROUPS]),
            ("policies", &["observedPolicies", "changes", GROUPS]),
        ]
    }

    async fn create(
        &self,
        ctx: &Ctx,
        inputs: &Value,
        preview: bool,
    ) -> Result<(String, Value), OpError> {
        let outputs = self.run(ctx, inputs, &Value::Null, preview).await?;
        let name = flux_name(ctx, &Inputs::<UpdateAutomationArgs>::lenient(inputs));
        Ok((format!("{}/{}", ctx.config.flux_namespace, name), outputs))
    }

    async fn update(
        &self,
        ctx: &Ctx,
        _id: &str,
        olds: &Value,
        news: &Value,
        preview: bool,
    ) -> Result<Value, OpError> {
        self.run(ctx, news, olds, preview).await
    }

    /// Reads the marked values in Git: pending changes become the old
    /// `policies` inputs, so the next diff shows them `old => new`.
    async fn read(
        &self,
        ctx: &Ctx,
        id: &str,
        outputs: Option<&Value>,
        inputs: Option<&Value>,
    ) -> Result<ReadResult, OpError> {
        let (Some(outputs), Some(inputs)) = (outputs, inputs) else {
            return Err(OpError::InvalidArgument(format!(
                "an UpdateAutomation cannot be imported ({id:?}): declare it with its git settings and policies"
            )));
        };
        let parsed = Inputs::<UpdateAutomationArgs>::of(inputs)?;
        if parsed.args.suspend || parsed.any_unknown() {
            return Ok(ReadResult {
                id: id.into(),
                outputs: outputs.clone(),
                inputs: inputs.clone(),
            });
        }
        let request = request_of(ctx, &parsed.args)?;
        let update_path = request.update_path.clone();
        // As Flux (flux-spec 5.1 step 6): the same policies as at the last run and the branch
        // still at the commit where the markers matched them: nothing can differ, no clone.
        let (outputs_plain, _) = codec::reveal(outputs);
        if let Some(revision) = outputs_plain
            .get("observedSourceRevision")
            .and_then(Value::as_str)
            && outputs_plain.get("observedPolicies") == Some(&observed_policies(&request.policies))
        {
            ctx.log
                .status(
                    &ctx.urn,
                    format!("checking {} for new commits", request.write_back.url),
                )
                .await;
            if source_unchanged(&request.write_back, revision).await {
                ctx.log
                    .status(
                        &ctx.urn,
                        format!("unchanged since the last run ({revision})"),
                    )
                    .await;
                return Ok(ReadResult {
                    id: id.into(),
                    outputs: outputs.clone(),
                    inputs: inputs.clone(),
                });
            }
        }
        ctx.log
            .status(&ctx.urn, format!("reading {}", request.write_back.url))
            .await;
        let outcome = match run_update_automation(request, RunMode::Preview)
            .await
            .map_err(op_error)
        {
            Ok(outcome) => outcome,
            // The Git server is down for a moment: keep what is known rather
            // than failing every preview (the next up reports the error).
            Err(e) if e.is_transient() => {
                ctx.log
                    .warning(
                        &ctx.urn,
                        format!("could not read the repository, kept the last state: {e}"),
                    )
                    .await;
                return Ok(ReadResult {
                    id: id.into(),
                    outputs: outputs.clone(),
                    inputs: inputs.clone(),
                });
            }
            Err(e) => return Err(e),
        };
        for line in describe_changes(&update_path, &outcome.changes) {
            ctx.log
                .info(
                    &ctx.urn,
                    format!("repository differs from the policies: {line}"),
                )
                .await;
        }
        let observed = observed_inputs(&codec::reveal(inputs).0, &outcome.changes);
        let mut inputs_out = observed;
        codec::mark_secret_paths(&mut inputs_out, SECRET_INPUTS);
        Ok(ReadResult {
            id: id.into(),
            outputs: outputs.clone(),
            inputs: inputs_out,
        })
    }

    async fn delete(&self, _ctx: &Ctx, _id: &str, _outputs: &Value) -> Result<(), OpError> {
        // The Git repository is left as it is: destroy only forgets the automation.
        Ok(())
    }
}

/// The inputs with each policy's `latestRef` replaced by the values found in
/// the repository where they differ (the old values of pending changes).
fn observed_inputs(plain: &Value, changes: &UpdateResult) -> Value {
    let mut out = plain.clone();
    let Some(list) = out.get_mut("policies").and_then(Value::as_array_mut) else {
        return out;
    };
    let mut seen = std::collections::BTreeSet::new();
    for change in changes
        .files
        .iter()
        .flat_map(|f| f.objects.iter().flat_map(|o| o.changes.iter()))
    {
        let mut parts = change.setter.splitn(3, ':');
        let (ns, name, field) = (
            parts.next().unwrap_or_default(),
            parts.next().unwrap_or_default(),
            parts.next().unwrap_or(""),
        );
        if !seen.insert((ns.to_owned(), name.to_owned(), field.to_owned())) {
            continue; // the first file in path order speaks for the policy
        }
        let Some(policy) = list.iter_mut().find(|p| {
            p.get("namespace") == Some(&json!(ns)) && p.get("name") == Some(&json!(name))
        }) else {
            continue;
        };
        let Some(latest) = policy.get_mut("latestRef").and_then(Value::as_object_mut) else {
            continue;
        };
        match field {
            "" => {
                if let Ok(old) = change.old_value.parse::<LatestRef>() {
                    latest.insert("name".into(), Value::String(old.name));
                    latest.insert("tag".into(), Value::String(old.tag));
                    if old.digest.is_empty() {
                        latest.remove("digest");
                    } else {
                        latest.insert("digest".into(), Value::String(old.digest));
                    }
                }
            }
            "name" | "tag" | "digest" => {
                latest.insert(field.into(), Value::String(change.old_value.clone()));
            }
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use imageautomation_update::{Change, FileChanges, ObjectChanges, ObjectId};

    fn result(setter: &str, old: &str, new: &str) -> UpdateResult {
        UpdateResult {
            files: vec![FileChanges {
                path: "podinfo.yaml".into(),
                objects: vec![ObjectChanges {
                    object: ObjectId::default(),
                    changes: vec![Change {
                        old_value: old.into(),
                        new_value: new.into(),
                        setter: setter.into(),
                    }],
                }],
                diff: None,
            }],
            skipped: vec![],
            refused: vec![],
        }
    }

    #[test]
    fn pending_changes_become_the_observed_old_inputs() {
        let plain = json!({"policies": [{"namespace": "flux-system", "name": "podinfo",
            "latestRef": {"name": "ghcr.io/stefanprodan/podinfo", "tag": "5.0.3", "digest": ""}}]});
        let changes = result(
            "flux-system:podinfo",
            "ghcr.io/stefanprodan/podinfo:5.0.0",
            "ghcr.io/stefanprodan/podinfo:5.0.3",
        );
        let observed = observed_inputs(&plain, &changes);
        assert_eq!(observed["policies"][0]["latestRef"]["tag"], "5.0.0");
        let tag_only = result("flux-system:podinfo:tag", "5.0.1", "5.0.3");
        assert_eq!(
            observed_inputs(&plain, &tag_only)["policies"][0]["latestRef"]["tag"],
            "5.0.1"
        );
    }

    #[test]
    fn changes_are_described_old_to_new() {
        let changes = result(
            "flux-system:podinfo",
            "ghcr.io/stefanprodan/podinfo:5.0.0",
            "ghcr.io/stefanprodan/podinfo:5.0.3",
        );
        assert_eq!(
            describe_changes("./clusters/dev", &changes),
            vec![
                "clusters/dev/podinfo.yaml: ghcr.io/stefanprodan/podinfo 5.0.0 => 5.0.3".to_owned()
            ]
        );
    }

    #[test]
    fn an_empty_digest_in_old_state_is_no_change() {
        let policy = |latest: Value| json!({"policies": [{"namespace": "flux-system", "name": "app", "latestRef": latest}]});
        let old = policy(json!({"name": "ghcr.io/a/app", "tag": "1.0.0", "digest": ""}));
        let new = policy(json!({"name": "ghcr.io/a/app", "tag": "1.0.0"}));
        assert!(UpdateAutomation.diff(&old, &new).is_empty());
        let bumped = policy(json!({"name": "ghcr.io/a/app", "tag": "1.0.1"}));
        assert_eq!(
            UpdateAutomation.diff(&old, &bumped),
            vec![("policies[0].latestRef.tag".to_owned(), Kind::Update)]
        );
    }
}
