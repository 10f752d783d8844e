//! A FAKE of the few GitHub REST API endpoints the pull request code uses,
//! served in-process by axum on `127.0.0.1:0`. GitHub cannot run here, so this
//! is the one place (with the Kubernetes API) where the tests use a fake.
//!
//! It validates every request as GitHub documents it (REST API version
//! `2022-11-28`) and records each violation, which tests assert is empty:
//! `Authorization: Bearer <token>` (401 `Bad credentials` otherwise), `Accept:
//! application/vnd.github+json`, `X-GitHub-Api-Version: 2022-11-28`, a
//! `User-Agent`, the owner/repo in the path, and JSON bodies with exactly the
//! documented fields and types. Endpoints:
//!
//! - `GET /repos/{owner}/{repo}/pulls?state=open&head=owner:branch&base=b`
//! - `POST /repos/{owner}/{repo}/pulls` `{title, head, base, body}`: 201, or
//!   422 "A pull request already exists" for an open one with the same head
//!   and base, as GitHub does
//! - `PATCH /repos/{owner}/{repo}/pulls/{number}` `{title?, body?, state?, base?}`; `state`
//!   must be `open` or `closed`, and a closed pull request is no longer listed as open
//! - `POST /repos/{owner}/{repo}/issues/{number}/labels` `{labels: [..]}`
//!
//! All routes may sit under a prefix (`/api/v3` for GitHub Enterprise Server).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use serde_json::{Value, json};

/// A pull request as the fake stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakePull {
    /// Its number (1, 2, ...).
    pub number: u64,
    /// Head branch (without owner).
    pub head: String,
    /// Base branch.
    pub base: String,
    /// Title.
    pub title: String,
    /// Body.
    pub body: String,
    /// Labels, in the order added.
    pub labels: Vec<String>,
    /// `open` or `closed`.
    pub state: String,
    /// How many `PATCH` requests changed it.
    pub updates: u32,
}

#[derive(Default)]
struct Inner {
    /// The next list answers `[]` (GitHub's search-backed list can lag).
    lag_next_list: bool,
    pulls: Vec<FakePull>,
    violations: Vec<String>,
    requests: Vec<String>,
}

#[derive(Clone)]
struct Shared {
    token: String,
    owner: String,
    repo: String,
    base_url: String,
    inner: Arc<Mutex<Inner>>,
}

/// The running fake; stops when dropped.
pub struct FakeGitHub {
    /// API base URL to configure, e.g. `http://127.0.0.1:PORT/api/v3`.
    pub api_base_url: String,
    shared: Shared,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl FakeGitHub {
    /// Starts the fake for repository `owner/repo` accepting `token`, with
    /// routes under `prefix` (`""` or `"/api/v3"`). Call inside a tokio
    /// runtime.
    ///
    /// # Panics
    /// When 127.0.0.1:0 cannot be bound.
    pub async fn start(token: &str, owner: &str, repo: &str, prefix: &str) -> FakeGitHub {
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local addr");
        let api_base_url = format!("http://{addr}{prefix}");
        let shared = Shared {
            token: token.to_string(),
            owner: owner.to_string(),
            repo: repo.to_string(),
            base_url: api_base_url.clone(),
            inner: Arc::new(Mutex::new(Inner::default())),
        };
        let routes = Router::new()
            .route(
                "/repos/{owner}/{repo}/pulls",
                get(list_pulls).post(create_pull),
            )
            .route("/repos/{owner}/{repo}/pulls/{number}", patch(update_pull))
            .route(
                "/repos/{owner}/{repo}/issues/{number}/labels",
                post(add_labels),
            )
            .fallback(fallback)
            .with_state(shared.clone());
        let app = if prefix.is_empty() {
            routes
        } else {
            Router::new().nest(prefix, routes)
        };
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
        });
        FakeGitHub {
            api_base_url,
            shared,
            shutdown: Some(tx),
        }
    }

    /// The pull requests, in creation order.
    pub fn pulls(&self) -> Vec<FakePull> {
        self.shared.inner.lock().expect("lock").pulls.clone()
    }

    /// Makes the next `GET pulls` answer `[]`, as a lagging GitHub would.
    pub fn lag_next_list(&self) {
        self.shared.inner.lock().expect("lock").lag_next_list = true;
    }

    /// Every request that broke the API contract (should be empty).
    pub fn violations(&self) -> Vec<String> {
        self.shared.inner.lock().expect("lock").violations.clone()
    }

    /// `METHOD path` of every request received.
    pub fn requests(&self) -> Vec<String> {
        self.shared.inner.lock().expect("lock").requests.clone()
    }
}

impl Drop for FakeGitHub {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

fn error(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(json!({ "message": message }))).into_response()
}

impl Shared {
    /// Checks headers and path; returns the response to send on failure.
    fn check(&self, what: &str, headers: &HeaderMap, owner: &str, repo: &str) -> Option<Response> {
        let mut inner = self.inner.lock().expect("lock");
        inner.requests.push(what.to_string());
        let header = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
        };
        if header("authorization") != format!("Bearer {}", self.token) {
            return Some(error(StatusCode::UNAUTHORIZED, "Bad credentials"));
        }
        let mut bad = Vec::new();
        if header("accept") != "application/vnd.github+json" {
            bad.push(format!("{what}: Accept is {:?}", header("accept")));
        }
        if header("x-github-api-version") != "2022-11-28" {
            bad.push(format!(
                "{what}: X-GitHub-Api-Version is {:?}",
                header("x-github-api-version")
            ));
        }
        if header("user-agent").is_empty() {
            bad.push(format!("{what}: no User-Agent (GitHub rejects it)"));
        }
        if owner != self.owner || repo != self.repo {
            inner.violations.extend(bad);
            return Some(error(StatusCode::NOT_FOUND, "Not Found"));
        }
        if bad.is_empty() {
            None
        } else {
            inner.violations.extend(bad);
            Some(error(StatusCode::BAD_REQUEST, "bad headers"))
        }
    }

    fn violation(&self, message: String) -> Response {
        self.inner
            .lock()
            .expect("lock")
            .violations
            .push(message.clone());
        error(StatusCode::UNPROCESSABLE_ENTITY, &message)
    }

    fn pull_json(&self, p: &FakePull) -> Value {
        let web = self.base_url.replace("/api/v3", "");
        json!({
            "number": p.number,
            "state": p.state,
            "title": p.title,
            "body": p.body,
            "html_url": format!("{web}/{}/{}/pull/{}", self.owner, self.repo, p.number),
            "head": {"ref": p.head, "label": format!("{}:{}", self.owner, p.head)},
            "base": {"ref": p.base},
            "labels": p.labels.iter().map(|l| json!({"name": l})).collect::<Vec<_>>(),
        })
    }
}

/// Checks that `body` is an object with only `allowed` keys, the `required`
/// ones present, all strings.
fn check_fields(body: &Value, allowed: &[&str], required: &[&str]) -> Result<(), String> {
    let obj = body.as_object().ok_or("body is not a JSON object")?;
    for key in obj.keys() {
        if !allowed.contains(&key.as_str()) {
            return Err(format!("unexpected field {key:?}"));
        }
    }
    for key in required {
        match obj.get(*key) {
            Some(Value::String(s)) if !s.is_empty() => {}
            _ => return Err(format!("field {key:?} missing or not a non-empty string")),
        }
    }
    for (key, value) in obj {
        if !value.is_string() {
            return Err(format!("field {key:?} is not a string"));
        }
    }
    Ok(())
}

fn parse_body(bytes: &[u8], headers: &HeaderMap) -> Result<Value, String> {
    let ct = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !ct.starts_with("application/json") {
        return Err(format!("Content-Type is {ct:?}, not application/json"));
    }
    serde_json::from_slice(bytes).map_err(|e| format!("body is not JSON: {e}"))
}

async fn list_pulls(
    State(s): State<Shared>,
    Path((owner, repo)): Path<(String, String)>,
    Query(query): Query<BTreeMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    if let Some(r) = s.check("GET pulls", &headers, &owner, &repo) {
        return r;
    }
    for key in query.keys() {
        if !["state", "head", "base", "per_page", "page"].contains(&key.as_str()) {
            return s.violation(format!("GET pulls: unknown query parameter {key:?}"));
        }
    }
    let head = match query.get("head") {
        Some(h) => match h.split_once(':') {
            Some((o, b)) if o == s.owner => Some(b.to_string()),
            _ => return s.violation(format!("GET pulls: head {h:?} is not owner:branch")),
        },
        None => None,
    };
    if query.get("state").map(String::as_str) != Some("open") {
        return s.violation("GET pulls: state=open not asked".into());
    }
    let mut inner = s.inner.lock().expect("lock");
    if std::mem::take(&mut inner.lag_next_list) {
        return axum::Json(Value::Array(Vec::new())).into_response();
    }
    let list: Vec<Value> = inner
        .pulls
        .iter()
        .filter(|p| p.state == "open")
        .filter(|p| head.as_ref().is_none_or(|h| *h == p.head))
        .filter(|p| query.get("base").is_none_or(|b| *b == p.base))
        .map(|p| s.pull_json(p))
        .collect();
    axum::Json(Value::Array(list)).into_response()
}

async fn create_pull(
    State(s): State<Shared>,
    Path((owner, repo)): Path<(String, String)>,
    headers: HeaderMap,
    bytes: axum::body::Bytes,
) -> Response {
    if let Some(r) = s.check("POST pulls", &headers, &owner, &repo) {
        return r;
    }
    let body = match parse_body(&bytes, &headers) {
        Ok(b) => b,
        Err(e) => return s.violation(format!("POST pulls: {e}")),
    };
    if let Err(e) = check_fields(
        &body,
        &["title", "head", "base", "body"],
        &["title", "head", "base"],
    ) {
        return s.violation(format!("POST pulls: {e}"));
    }
    let field = |k: &str| body[k].as_str().unwrap_or_default().to_string();
    let mut inner = s.inner.lock().expect("lock");
    if inner
        .pulls
        .iter()
        .any(|p| p.state == "open" && p.head == field("head") && p.base == field("base"))
    {
        let message = format!(
            "A pull request already exists for {}:{}.",
            s.owner,
            field("head")
        );
        return (
            StatusCode::UNPROCESSABLE_ENTITY,
            axum::Json(json!({"message": "Validation Failed", "errors": [{"resource": "PullRequest", "code": "custom", "message": message}]})),
        )
            .into_response();
    }
    let pull = FakePull {
        number: inner.pulls.len() as u64 + 1,
        head: field("head"),
        base: field("base"),
        title: field("title"),
        body: field("body"),
        labels: Vec::new(),
        state: "open".into(),
        updates: 0,
    };
    inner.pulls.push(pull.clone());
    (StatusCode::CREATED, axum::Json(s.pull_json(&pull))).into_response()
}

async fn update_pull(
    State(s): State<Shared>,
    Path((owner, repo, number)): Path<(String, String, u64)>,
    headers: HeaderMap,
    bytes: axum::body::Bytes,
) -> Response {
    if let Some(r) = s.check("PATCH pull", &headers, &owner, &repo) {
        return r;
    }
    let body = match parse_body(&bytes, &headers) {
        Ok(b) => b,
        Err(e) => return s.violation(format!("PATCH pull: {e}")),
    };
    if let Err(e) = check_fields(&body, &["title", "body", "state", "base"], &[]) {
        return s.violation(format!("PATCH pull: {e}"));
    }
    let state = body["state"].as_str();
    if state.is_some_and(|st| st != "open" && st != "closed") {
        return s.violation(format!("PATCH pull: state {state:?} is not open or closed"));
    }
    let mut inner = s.inner.lock().expect("lock");
    let Some(pull) = inner.pulls.iter_mut().find(|p| p.number == number) else {
        return error(StatusCode::NOT_FOUND, "Not Found");
    };
    if let Some(t) = body["title"].as_str() {
        pull.title = t.to_string();
    }
    if let Some(b) = body["body"].as_str() {
        pull.body = b.to_string();
    }
    if let Some(st) = state {
        pull.state = st.to_string();
    }
    if let Some(b) = body["base"].as_str() {
        pull.base = b.to_string();
    }
    pull.updates += 1;
    let pull = pull.clone();
    axum::Json(s.pull_json(&pull)).into_response()
}

async fn add_labels(
    State(s): State<Shared>,
    Path((owner, repo, number)): Path<(String, String, u64)>,
    headers: HeaderMap,
    bytes: axum::body::Bytes,
) -> Response {
    if let Some(r) = s.check("POST labels", &headers, &owner, &repo) {
        return r;
    }
    let body = match parse_body(&bytes, &headers) {
        Ok(b) => b,
        Err(e) => return s.violation(format!("POST labels: {e}")),
    };
    let labels: Option<Vec<String>> = body
        .as_object()
        .filter(|o| o.len() == 1)
        .and_then(|o| o.get("labels"))
        .and_then(Value::as_array)
        .and_then(|a| a.iter().map(|v| v.as_str().map(str::to_string)).collect());
    let Some(labels) = labels.filter(|l| !l.is_empty()) else {
        return s.violation(format!(
            "POST labels: body {body} is not {{\"labels\": [strings]}}"
        ));
    };
    let mut inner = s.inner.lock().expect("lock");
    let Some(pull) = inner.pulls.iter_mut().find(|p| p.number == number) else {
        return error(StatusCode::NOT_FOUND, "Not Found");
    };
    for l in labels {
        if !pull.labels.contains(&l) {
            pull.labels.push(l);
        }
    }
    let out: Vec<Value> = pull.labels.iter().map(|l| json!({"name": l})).collect();
    axum::Json(Value::Array(out)).into_response()
}

async fn fallback(
    State(s): State<Shared>,
    uri: axum::http::Uri,
    method: axum::http::Method,
) -> Response {
    s.violation(format!("unexpected request {method} {uri}"));
    error(StatusCode::NOT_FOUND, "Not Found")
}
