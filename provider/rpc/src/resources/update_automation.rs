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
use imageautomation_engine::flux_objects::string_map;
use imageautomation_engine::reconcile::{
    AutomationOutcome, AutomationRequest, PullRequestSettings, RunMode, describe_changes,
    run_update_automation,
};
use imageautomation_engine::token_rule::{TokenOrigin, Withheld, token_destination};
use imageautomation_git::{
    Auth, CheckoutRef, CommitAuthor, Credentials as GitCredentials, MessageTemplate,
    NamespacedName, PullRequestClient, PullRequestSpec, RetryPolicy, WriteBackSpec,
    list_remote_refs,
};
use imageautomation_proto::codec;
use imageautomation_update::{LatestRef, Policies, UpdateResult};
use secrecy::SecretString;
use serde_json::{Map, Value, json};

use super::common::{
    bool_at, check_duration, default_str, failure, op_error, str_at, unknown_at, with_plain,
};
use super::{Ctx, Kind, OpError, ReadResult, Resource, diff_inputs};
use crate::config::Failure;

const SECRET_INPUTS: &[&str] = &[
    "git.auth.token",
    "git.auth.password",
    "git.auth.sshPrivateKey",
];

/// The UpdateAutomation resource.
pub struct UpdateAutomation;

/// `"namespace:name"` -> `latestRef` of each `policies` entry.
fn policies_of(plain: &Value) -> Result<Policies, OpError> {
    let mut policies = Policies::new();
    for (i, p) in plain
        .get("policies")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let key = format!(
            "{}:{}",
            str_at(p, "namespace").unwrap_or_default(),
            str_at(p, "name").unwrap_or_default()
        );
        let latest: LatestRef = p
            .get("latestRef")
            .and_then(|r| serde_json::from_value(r.clone()).ok())
            .ok_or_else(|| {
                OpError::InvalidArgument(format!(
                    "policies[{i}].latestRef: expected {{name, tag, digest}}"
                ))
            })?;
        policies.insert(key, latest);
    }
    Ok(policies)
}

/// The Flux object name of the automation: the `name` input, default the
/// resource name (`.AutomationObject`, the id, and in cluster mode the
/// `ImageUpdateAutomation` object).
pub(crate) fn flux_name(ctx: &Ctx, plain: &Value) -> String {
    str_at(plain, "name").map_or_else(|| ctx.name.clone(), str::to_owned)
}

/// The run's request, from checked inputs and the provider configuration.
fn request_of(ctx: &Ctx, plain: &Value) -> Result<AutomationRequest, OpError> {
    let url = str_at(plain, "git.url").unwrap_or_default().to_owned();
    let github_token = ctx.config.github_token.clone();
    let token = str_at(plain, "git.auth.token").map(|t| SecretString::from(t.to_owned()));
    // One rule with the CLI (engine::token_rule): git.auth goes to the remote it is given for,
    // never over plain http:// off loopback; githubToken to github.com only.
    if (token.is_some() || str_at(plain, "git.auth.password").is_some())
        && let Err(e @ Withheld::PlainHttp { .. }) =
            token_destination(&url, TokenOrigin::Explicit, false)
    {
        return Err(OpError::InvalidArgument(format!("git.auth: {e}")));
    }
    let credentials = if let Some(token) = &token {
        GitCredentials::Token(token.clone())
    } else if let (Some(user), Some(password)) = (
        str_at(plain, "git.auth.username"),
        str_at(plain, "git.auth.password"),
    ) {
        GitCredentials::Basic {
            username: user.to_owned(),
            password: SecretString::from(password.to_owned()),
        }
    } else if let Some(key) = str_at(plain, "git.auth.sshPrivateKey") {
        GitCredentials::SshKey {
            private_key: SecretString::from(key.to_owned()),
            passphrase: None,
        }
    } else if let (true, Some(token)) = (
        token_destination(&url, TokenOrigin::Ambient, false).is_ok(),
        &github_token,
    ) {
        GitCredentials::Token(token.clone())
    } else {
        GitCredentials::Anonymous
    };
    let ca_pem = str_at(plain, "git.caPem").map(str::to_owned);
    let write_back = WriteBackSpec {
        url: url.clone(),
        auth: Auth {
            credentials,
            ca_bundle: ca_pem.clone(),
            known_hosts: str_at(plain, "git.auth.knownHosts").map(str::to_owned),
        },
        checkout: CheckoutRef::from_flux(
            str_at(plain, "git.checkout.ref.branch"),
            str_at(plain, "git.checkout.ref.tag"),
            str_at(plain, "git.checkout.ref.commit"),
        ),
        push_branch: str_at(plain, "git.push.branch").map(str::to_owned),
        push_refspec: str_at(plain, "git.push.refspec").map(str::to_owned),
        push_options: string_map(plain.pointer("/git/push/options")),
        author: CommitAuthor {
            name: str_at(plain, "git.commit.author.name")
                .unwrap_or_default()
                .to_owned(),
            email: str_at(plain, "git.commit.author.email")
                .unwrap_or_default()
                .to_owned(),
        },
        message_template: str_at(plain, "git.commit.messageTemplate").map(str::to_owned),
        message_template_values: string_map(plain.pointer("/git/commit/messageTemplateValues")),
        automation_object: NamespacedName {
            namespace: ctx.config.flux_namespace.clone(),
            name: flux_name(ctx, plain),
        },
        retry: RetryPolicy::default(),
        shallow: true,
    };
    let pull_request = match plain.get("pullRequest").filter(|p| p.is_object()) {
        None => None,
        Some(pr) => {
            let api_base_url = str_at(pr, "apiBaseUrl");
            let (api_token, origin) = match (token, github_token) {
                (Some(t), _) => (t, TokenOrigin::Explicit),
                (None, Some(t)) => (t, TokenOrigin::Ambient),
                (None, None) => {
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
            let client = PullRequestClient::new(api_base_url, api_token, ca_pem.as_deref())
                .map_err(|e| OpError::InvalidArgument(e.to_string()))?;
            Some(PullRequestSettings {
                spec: PullRequestSpec {
                    title_template: str_at(pr, "title").map(str::to_owned),
                    body_template: str_at(pr, "body").map(str::to_owned),
                    labels: pr
                        .get("labels")
                        .and_then(|l| serde_json::from_value(l.clone()).ok())
                        .unwrap_or_default(),
                    api_base_url: api_base_url.map(str::to_owned),
                    repository: None,
                },
                client,
            })
        }
    };
    Ok(AutomationRequest {
        write_back,
        update_path: str_at(plain, "update.path").unwrap_or(".").to_owned(),
        policies: policies_of(plain)?,
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
            return;
        };
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
            None => {
                keep(map, "lastPushCommit");
                keep(map, "lastPushTime");
            }
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

impl UpdateAutomation {
    async fn run(
        &self,
        ctx: &Ctx,
        inputs: &Value,
        olds: &Value,
        preview: bool,
    ) -> Result<Value, OpError> {
        let (plain, _) = codec::reveal(inputs);
        if codec::contains_unknown(&plain) {
            // The policies are not known yet (a new stack's preview with
            // unknown tags): the changes are not either.
            return Ok(outputs(inputs, olds, None, preview));
        }
        if bool_at(&plain, "suspend") {
            let (olds_plain, _) = codec::reveal(olds);
            return Ok(with_plain(inputs, SECRET_INPUTS, |map| {
                for key in [
                    "lastPushCommit",
                    "lastPushTime",
                    "observedPolicies",
                    "changes",
                    "pullRequestUrl",
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
        let request = request_of(ctx, &plain)?;
        let policies = request.policies.clone();
        let update_path = request.update_path.clone();
        let url = request.write_back.url.clone();
        let write_back = request.write_back.clone();
        let status = match (preview, &request.write_back.push_branch) {
            (true, _) => format!("cloning {url} read-only"),
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
        for line in describe_changes(&update_path, &outcome.changes) {
            ctx.log.info(&ctx.urn, line).await;
        }
        for skipped in &outcome.changes.skipped {
            ctx.log
                .warning(
                    &ctx.urn,
                    format!("{}: left untouched: {}", skipped.path, skipped.reason),
                )
                .await;
        }
        if let Some(push) = &outcome.push {
            let short: String = push.commit.chars().take(7).collect();
            ctx.log
                .info(
                    &ctx.urn,
                    format!("pushed commit {short} to branch {}", push.branch),
                )
                .await;
        }
        if let Some(pr) = &outcome.pull_request {
            let verb = if pr.created { "opened" } else { "updated" };
            ctx.log
                .info(&ctx.urn, format!("{verb} pull request {}", pr.html_url))
                .await;
        }
        let mut out = outputs(inputs, olds, Some((&outcome, &policies)), preview);
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

    fn check(&self, _ctx: &Ctx, _olds: &Value, news: &Value) -> (Value, Vec<Failure>) {
        let mut failures = Vec::new();
        let checked = with_plain(news, SECRET_INPUTS, |map| {
            if let Some(update) = map.get_mut("update").and_then(Value::as_object_mut) {
                default_str(update, "strategy", "Setters");
            } else if map.get("update").is_none_or(Value::is_null) {
                map.insert("update".into(), json!({"path": ".", "strategy": "Setters"}));
            }
        });
        let (plain, _) = codec::reveal(&checked);
        if str_at(&plain, "git.url").is_none() && !unknown_at(&plain, "git.url") {
            failures.push(failure(
                "git.url",
                "git.url is required: https://..., ssh://... or file://...",
            ));
        }
        if let Some(url) = str_at(&plain, "git.url")
            && carries_credentials(url)
        {
            failures.push(failure(
                "git.url",
                "the URL carries credentials in its user part (they would be stored in the state \
                 and in the Flux GitRepository): remove them, and give the token in git.auth, or \
                 imageautomation:githubToken for github.com, where it stays secret",
            ));
        }
        if str_at(&plain, "git.commit.author.email").is_none()
            && !unknown_at(&plain, "git.commit.author")
        {
            failures.push(failure(
                "git.commit.author.email",
                "the commit author's email is required",
            ));
        }
        if let Some(template) = str_at(&plain, "git.commit.messageTemplate")
            && let Err(e) = MessageTemplate::commit_message(Some(template))
        {
            failures.push(failure("git.commit.messageTemplate", e.to_string()));
        }
        if let Some(strategy) = str_at(&plain, "update.strategy")
            && strategy != "Setters"
        {
            failures.push(failure(
                "update.strategy",
                format!("unknown strategy {strategy:?}: only \"Setters\" is supported"),
            ));
        }
        let auth_kinds = [
            str_at(&plain, "git.auth.token").is_some(),
            str_at(&plain, "git.auth.password").is_some()
                || str_at(&plain, "git.auth.username").is_some(),
            str_at(&plain, "git.auth.sshPrivateKey").is_some(),
        ];
        if auth_kinds.iter().filter(|k| **k).count() > 1 {
            failures.push(failure(
                "git.auth",
                "give one of token, username and password, or sshPrivateKey",
            ));
        }
        match plain.get("policies") {
            Some(Value::Array(list)) => {
                for (i, p) in list.iter().enumerate() {
                    if codec::contains_unknown(p) {
                        continue;
                    }
                    for key in ["namespace", "name", "latestRef.name", "latestRef.tag"] {
                        if str_at(p, key).is_none() {
                            failures.push(failure(
                                format!("policies[{i}].{key}"),
                                "each policy is an ImagePolicy's imagePolicyRef output: {namespace, name, latestRef}",
                            ));
                        }
                    }
                }
            }
            Some(v) if codec::is_unknown(v) => {}
            _ => failures.push(failure(
                "policies",
                "policies is required: a list of ImagePolicy imagePolicyRef outputs",
            )),
        }
        check_duration(&plain, "interval", &mut failures);
        if plain.get("sourceRef").is_some_and(Value::is_object)
            && str_at(&plain, "sourceRef.name").is_none()
            && !unknown_at(&plain, "sourceRef")
        {
            failures.push(failure(
                "sourceRef.name",
                "sourceRef names an existing GitRepository: give its name (and namespace)",
            ));
        }
        if plain.get("pullRequest").is_some_and(Value::is_object) && !unknown_at(&plain, "git") {
            let checkout = str_at(&plain, "git.checkout.ref.branch");
            let push = str_at(&plain, "git.push.branch");
            if push.is_none() || push == checkout {
                failures.push(failure(
                    "pullRequest",
                    "a pull request needs git.push.branch set to a branch other than the checkout branch",
                ));
            }
        }
        (checked, failures)
    }

    fn refresh_before_update(&self, inputs: &Value) -> bool {
        !bool_at(&codec::reveal(inputs).0, "suspend")
    }

    fn secret_inputs(&self) -> &'static [&'static str] {
        SECRET_INPUTS
    }

    fn derived_outputs(&self) -> &'static [(&'static str, &'static [&'static str])] {
        &[
            ("git.url", &["pullRequestUrl"]),
            ("policies", &["observedPolicies", "changes"]),
        ]
    }

    async fn create(
        &self,
        ctx: &Ctx,
        inputs: &Value,
        preview: bool,
    ) -> Result<(String, Value), OpError> {
        let outputs = self.run(ctx, inputs, &Value::Null, preview).await?;
        let name = flux_name(ctx, &codec::reveal(inputs).0);
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
        let (plain, _) = codec::reveal(inputs);
        if bool_at(&plain, "suspend") || codec::contains_unknown(&plain) {
            return Ok(ReadResult {
                id: id.into(),
                outputs: outputs.clone(),
                inputs: inputs.clone(),
            });
        }
        let request = request_of(ctx, &plain)?;
        let update_path = request.update_path.clone();
        // As Flux (flux-spec 5.1 step 6): the same policies as at the last run and the branch
        // still at the commit where the markers matched them: nothing can differ, no clone.
        let (outputs_plain, _) = codec::reveal(outputs);
        if let Some(revision) = str_at(&outputs_plain, "observedSourceRevision")
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
        let observed = observed_inputs(&plain, &outcome.changes);
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
        let Some(policy) = list
            .iter_mut()
            .find(|p| str_at(p, "namespace") == Some(ns) && str_at(p, "name") == Some(name))
        else {
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
