//! Pull requests on GitHub (and GitHub Enterprise Server) through the REST
//! API: after a push to a branch other than the checkout branch, open a pull
//! request from the push branch to the checkout branch, or update the open one
//! for the same head branch (never a duplicate).
//!
//! Flux has no pull request feature; this follows GitHub's REST API v3
//! (`GET/POST /repos/{owner}/{repo}/pulls`, `PATCH .../pulls/{number}`,
//! `POST /repos/{owner}/{repo}/issues/{number}/labels`, API version
//! `2022-11-28`). Title and body are Go templates over the same data as the
//! commit message ([`TemplateData`]).

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::json;

use crate::auth::redact;
use crate::error::Error;
use crate::template::{MessageTemplate, TemplateData};
use crate::writeback::{CheckoutRef, WriteBackResult, WriteBackSpec};

/// GitHub.com's API base URL.
pub const GITHUB_API_URL: &str = "https://api.github.com";

/// Default title template: the first line of the commit message is not known
/// to templates, so the title names the automation.
pub const DEFAULT_TITLE_TEMPLATE: &str = "Update images ({{ .AutomationObject }})";

/// Default body template: the changes, one line each.
pub const DEFAULT_BODY_TEMPLATE: &str = "Automated image update by `{{ .AutomationObject }}`.\n\n{{ range .Changed.Changes }}- `{{ .OldValue }}` -> `{{ .NewValue }}` ({{ .Setter }})\n{{ end }}";

/// Default `pullRequest.branch` for `groupBy: policy`: one branch per policy, named after
/// the push branch and the policy (`flux-image-updates-flux-system-podinfo`). It holds no
/// tag, so a newer tag updates the same branch and pull request.
pub const DEFAULT_POLICY_BRANCH_TEMPLATE: &str =
    "{{ .PushBranch }}-{{ .Policy.Namespace }}-{{ .Policy.Name }}";

/// Default `pullRequest.branch` for `groupBy: image`: one branch per image, named after the
/// push branch and the image with `:` (a registry port, invalid in a branch name) as `-`
/// (`flux-image-updates-ghcr.io/stefanprodan/podinfo`).
pub const DEFAULT_IMAGE_BRANCH_TEMPLATE: &str =
    "{{ .PushBranch }}-{{ .Image | replace \":\" \"-\" }}";

/// The `pullRequest` settings.
#[derive(Debug, Clone, Default)]
pub struct PullRequestSpec {
    /// Title template (Go `text/template`, the commit message's data);
    /// default [`DEFAULT_TITLE_TEMPLATE`].
    pub title_template: Option<String>,
    /// Body template; default [`DEFAULT_BODY_TEMPLATE`].
    pub body_template: Option<String>,
    /// Labels added to the pull request (created by GitHub when missing).
    pub labels: Vec<String>,
    /// API base URL: `https://api.github.com` (default) or, for GitHub
    /// Enterprise Server, `https://HOST/api/v3`.
    pub api_base_url: Option<String>,
    /// `owner/repo` on GitHub; default: the last two path segments of the
    /// Git URL (`.git` removed).
    pub repository: Option<String>,
    /// The group of a grouped pull request (`pullRequest.groupBy`): the policy
    /// (`namespace:name`) or the image. The default title ends with it
    /// (`Update images (flux-system/fleet): flux-system:podinfo`), so that the
    /// group's pull requests can be told apart; `None` for one pull request.
    pub group: Option<String>,
}

/// Title and body rendered for one pull request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullRequestContent {
    /// The title.
    pub title: String,
    /// The body (Markdown).
    pub body: String,
}

impl PullRequestSpec {
    /// Renders the title and body templates (named `"pull request title"`
    /// and `"pull request body"` in errors).
    ///
    /// # Errors
    /// [`Error::TemplateParse`], [`Error::TemplateExecute`],
    /// [`Error::RemovedTemplateField`].
    /// With [`PullRequestSpec::group`] and no title template, the default
    /// title ends with `: <group>`.
    pub fn render(&self, data: &TemplateData) -> Result<PullRequestContent, Error> {
        let title = self
            .title_template
            .as_deref()
            .filter(|t| !t.is_empty())
            .unwrap_or(DEFAULT_TITLE_TEMPLATE);
        let body = self
            .body_template
            .as_deref()
            .filter(|t| !t.is_empty())
            .unwrap_or(DEFAULT_BODY_TEMPLATE);
        let title = MessageTemplate::parse("pull request title", title)?.render(data)?;
        let body = MessageTemplate::parse("pull request body", body)?.render(data)?;
        let mut title = title.lines().next().unwrap_or_default().trim().to_string();
        if let Some(group) = &self.group
            && self.title_template.as_deref().is_none_or(str::is_empty)
        {
            title = format!("{title}: {group}");
        }
        Ok(PullRequestContent { title, body })
    }
}

impl PullRequestSpec {
    /// The whole step after [`crate::commit_and_push`]: when `result` pushed
    /// to a branch other than the checkout branch ([`pull_request_branches`]),
    /// renders the title and body over the run's data and opens or updates
    /// the pull request in [`PullRequestSpec::repository`] (default: derived
    /// from `spec.url`). `Ok(None)` when no pull request is due.
    ///
    /// # Errors
    /// [`Error::InvalidSpec`] when `owner/repo` cannot be derived from the
    /// URL; template errors; the errors of [`PullRequestClient::ensure`].
    pub async fn ensure_after_push(
        &self,
        client: &PullRequestClient,
        spec: &WriteBackSpec,
        result: &WriteBackResult,
    ) -> Result<Option<PullRequest>, Error> {
        let Some((head, base)) = pull_request_branches(spec, result) else {
            return Ok(None);
        };
        let repository = self
            .repository
            .clone()
            .or_else(|| repository_from_url(&spec.url))
            .ok_or_else(|| Error::InvalidSpec {
                field: "pullRequest.repository",
                reason: "cannot derive owner/repo from the Git URL; set it".into(),
            })?;
        let content = self.render(&TemplateData {
            automation_object: spec.automation_object.clone(),
            changed: result.changes.clone(),
            values: spec.message_template_values.clone(),
        })?;
        client
            .ensure(&repository, &head, &base, &content, &self.labels)
            .await
            .map(Some)
    }
}

/// `(head, base)` when `result` pushed to a branch other than the checkout
/// branch, i.e. when a pull request should be opened; `None` when nothing was
/// pushed, the push went to the checkout branch, or the checkout is a tag or
/// commit (no base branch).
pub fn pull_request_branches(
    spec: &WriteBackSpec,
    result: &WriteBackResult,
) -> Option<(String, String)> {
    let push = result.push.as_ref()?;
    match &spec.checkout {
        CheckoutRef::Branch(base) if *base != push.branch => {
            Some((push.branch.clone(), base.clone()))
        }
        _ => None,
    }
}

/// `owner/repo` from a GitHub Git URL (`https://github.com/owner/repo.git`,
/// `git@github.com:owner/repo.git`, `ssh://git@host/owner/repo`).
pub fn repository_from_url(url: &str) -> Option<String> {
    let path = match url.split_once("://") {
        Some((_, rest)) => rest.split_once('/')?.1,
        None => url.split_once(':')?.1,
    };
    let path = path.trim_end_matches('/').trim_end_matches(".git");
    let mut parts = path.rsplit('/');
    let repo = parts.next().filter(|s| !s.is_empty())?;
    let owner = parts.next().filter(|s| !s.is_empty())?;
    Some(format!("{owner}/{repo}"))
}

/// An open pull request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullRequest {
    /// Its number.
    pub number: u64,
    /// Its web page.
    pub html_url: String,
    /// True when this call opened it, false when it updated an open one.
    pub created: bool,
}

#[derive(Deserialize)]
struct PullJson {
    number: u64,
    #[serde(default)]
    html_url: String,
}

/// A GitHub REST API client for pull requests.
#[derive(Clone)]
pub struct PullRequestClient {
    http: reqwest::Client,
    base: String,
    token: SecretString,
}

impl std::fmt::Debug for PullRequestClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PullRequestClient")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

impl PullRequestClient {
    /// A client for `api_base_url` (default [`GITHUB_API_URL`]) with a token
    /// (sent as `Authorization: Bearer`), trusting `ca_bundle` (PEM) in
    /// addition to the system roots. Requests time out after 30 s.
    ///
    /// # Errors
    /// [`Error::InvalidUrl`] for a bad base URL, [`Error::InvalidTrust`] for
    /// a bad CA bundle.
    pub fn new(
        api_base_url: Option<&str>,
        token: SecretString,
        ca_bundle: Option<&str>,
    ) -> Result<Self, Error> {
        let base = api_base_url
            .unwrap_or(GITHUB_API_URL)
            .trim_end_matches('/')
            .to_string();
        let parsed = url::Url::parse(&base).map_err(|e| Error::InvalidUrl {
            url: base.clone(),
            reason: format!("{e}; use https://api.github.com or https://HOST/api/v3"),
        })?;
        if !matches!(parsed.scheme(), "https" | "http") || parsed.password().is_some() {
            return Err(Error::InvalidUrl {
                url: base,
                reason: "the API base URL must be http(s) without credentials".into(),
            });
        }
        let mut builder = reqwest::Client::builder()
            .user_agent(concat!("imageautomation/", env!("CARGO_PKG_VERSION")))
            .timeout(Duration::from_secs(30));
        if let Some(pem) = ca_bundle {
            let certs = reqwest::Certificate::from_pem_bundle(pem.as_bytes()).map_err(|e| {
                Error::InvalidTrust {
                    what: "CA bundle",
                    reason: e.to_string(),
                }
            })?;
            for cert in certs {
                builder = builder.add_root_certificate(cert);
            }
        }
        let http = builder.build().map_err(|e| Error::PullRequestTransport {
            operation: "create client",
            reason: e.to_string(),
        })?;
        Ok(PullRequestClient { http, base, token })
    }

    /// Opens a pull request from `head` to `base` in `repository`
    /// (`owner/repo`), or updates the title and body of the open one with the
    /// same head and base; then adds `labels`.
    ///
    /// # Errors
    /// [`Error::PullRequestApi`] with GitHub's status and message (401 for a
    /// bad token, 404 for an unknown repository or missing access, 422 for a
    /// head branch GitHub does not know); [`Error::PullRequestTransport`]
    /// when GitHub cannot be reached.
    pub async fn ensure(
        &self,
        repository: &str,
        head: &str,
        base: &str,
        content: &PullRequestContent,
        labels: &[String],
    ) -> Result<PullRequest, Error> {
        let (owner, _) = repository
            .split_once('/')
            .ok_or_else(|| Error::InvalidSpec {
                field: "pullRequest.repository",
                reason: format!("{repository:?} is not of the form owner/repo"),
            })?;
        let pulls_url = format!("{}/repos/{repository}/pulls", self.base);
        let list = || async {
            let open: Vec<PullJson> = self
                .send(
                    "list pull requests",
                    self.http.get(&pulls_url).query(&[
                        ("state", "open"),
                        ("head", &format!("{owner}:{head}")),
                        ("base", base),
                    ]),
                )
                .await?;
            Ok::<_, Error>(open.into_iter().next())
        };
        let update = |number: u64| {
            let request = self
                .http
                .patch(format!("{pulls_url}/{number}"))
                .json(&json!({"title": content.title, "body": content.body}));
            async move {
                let updated: PullJson = self.send("update pull request", request).await?;
                Ok::<_, Error>(PullRequest {
                    number: updated.number,
                    html_url: updated.html_url,
                    created: false,
                })
            }
        };
        let pull = match list().await? {
            Some(existing) => update(existing.number).await?,
            None => {
                let created: Result<PullJson, Error> = self
                    .send(
                        "create pull request",
                        self.http.post(&pulls_url).json(&json!({
                            "title": content.title,
                            "head": head,
                            "base": base,
                            "body": content.body,
                        })),
                    )
                    .await;
                match created {
                    Ok(created) => PullRequest {
                        number: created.number,
                        html_url: created.html_url,
                        created: true,
                    },
                    // Opened meanwhile by another run (or not yet listed):
                    // GitHub refuses a duplicate with 422; update that one.
                    Err(Error::PullRequestApi {
                        status: 422,
                        message,
                        ..
                    }) if message.contains("already exists") => match list().await? {
                        Some(existing) => update(existing.number).await?,
                        None => {
                            return Err(Error::PullRequestApi {
                                operation: "create pull request",
                                status: 422,
                                message,
                            });
                        }
                    },
                    Err(e) => return Err(e),
                }
            }
        };
        if !labels.is_empty() {
            let _: serde_json::Value = self
                .send(
                    "add labels",
                    self.http
                        .post(format!(
                            "{}/repos/{repository}/issues/{}/labels",
                            self.base, pull.number
                        ))
                        .json(&json!({ "labels": labels })),
                )
                .await?;
        }
        Ok(pull)
    }

    async fn send<T: serde::de::DeserializeOwned>(
        &self,
        operation: &'static str,
        request: reqwest::RequestBuilder,
    ) -> Result<T, Error> {
        let secrets = [self.token.expose_secret().to_string()];
        let transport = |e: reqwest::Error| Error::PullRequestTransport {
            operation,
            reason: redact(&e.to_string(), &secrets),
        };
        let response = request
            .bearer_auth(self.token.expose_secret())
            .header(reqwest::header::ACCEPT, "application/vnd.github+json")
            .header("X-GitHub-Api-Version", "2022-11-28")
            .send()
            .await
            .map_err(transport)?;
        let status = response.status();
        if !status.is_success() {
            let body: serde_json::Value = response.json().await.unwrap_or_default();
            let mut message = body["message"].as_str().unwrap_or("").to_string();
            for e in body["errors"].as_array().into_iter().flatten() {
                if let Some(m) = e["message"].as_str() {
                    message.push_str(&format!("; {m}"));
                }
            }
            return Err(Error::PullRequestApi {
                operation,
                status: status.as_u16(),
                message: redact(&message, &secrets),
            });
        }
        response.json().await.map_err(transport)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repository_is_derived_from_github_urls() {
        for url in [
            "https://github.com/fluxcd/flux2-kustomize-helm-example.git",
            "git@github.com:fluxcd/flux2-kustomize-helm-example.git",
            "ssh://git@github.com/fluxcd/flux2-kustomize-helm-example",
            "https://ghe.example.com/fluxcd/flux2-kustomize-helm-example/",
        ] {
            assert_eq!(
                repository_from_url(url).as_deref(),
                Some("fluxcd/flux2-kustomize-helm-example"),
                "{url}"
            );
        }
        assert_eq!(repository_from_url("https://github.com/only"), None);
    }

    #[test]
    fn a_grouped_default_title_names_its_group() {
        let data = TemplateData {
            automation_object: crate::NamespacedName {
                namespace: "flux-system".into(),
                name: "fleet".into(),
            },
            ..TemplateData::default()
        };
        let mut spec = PullRequestSpec {
            group: Some("apps:podinfo".into()),
            ..PullRequestSpec::default()
        };
        assert_eq!(
            spec.render(&data).expect("render").title,
            "Update images (flux-system/fleet): apps:podinfo"
        );
        // A title template of the user's own is left as written.
        spec.title_template = Some("bump {{ .AutomationObject.Name }}".into());
        assert_eq!(spec.render(&data).expect("render").title, "bump fleet");
        spec.group = None;
        spec.title_template = None;
        assert_eq!(
            spec.render(&data).expect("render").title,
            "Update images (flux-system/fleet)"
        );
    }

    #[test]
    fn bad_base_urls_are_refused() {
        assert!(PullRequestClient::new(Some("ftp://x"), SecretString::from("t"), None).is_err());
        assert!(
            PullRequestClient::new(Some("https://u:p@x/api/v3"), SecretString::from("t"), None)
                .is_err()
        );
    }
}
