//! Fakes of what cannot run here for the cloud login tests, each validating every request it
//! gets: the GCE metadata server and Google's OAuth2 token endpoint ([`GcpFake`]), Entra ID's
//! token endpoint, Azure IMDS and ACR's `/oauth2/exchange` ([`AzureFake`]); plus
//! [`ForwardProxy`], a small recording forward HTTP proxy that sends requests for cloud registry
//! hosts (`123456789012.dkr.ecr.us-east-1.amazonaws.com`, `x.azurecr.io`) to the real
//! `docker-registry` on loopback, so that images keep their cloud names end to end.
//!
//! They are fakes (the brief's "in-process fake that validates every request"): what they
//! check is written beside each handler, from Google's and Microsoft's protocol documentation
//! and `fluxcd/pkg` `auth/{gcp,azure}`. A request that breaks a rule gets HTTP 400 and is
//! recorded in `violations()`, which tests assert empty. Servers run on the caller's tokio
//! runtime, on `127.0.0.1:0`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use tempfile::TempDir;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
}

fn form(body: &[u8]) -> HashMap<String, String> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

fn json(status: StatusCode, value: serde_json::Value) -> Response {
    (status, axum::Json(value)).into_response()
}

/// What a fake recorded: rule violations and counters.
#[derive(Debug, Default)]
struct Record {
    violations: Vec<String>,
    issued: Vec<String>,
    exchanges: usize,
}

impl Record {
    fn violate(&mut self, what: String) -> Response {
        self.violations.push(what.clone());
        json(
            StatusCode::BAD_REQUEST,
            serde_json::json!({"error": "invalid_request", "error_description": what}),
        )
    }
}

async fn serve(router: Router) -> (SocketAddr, JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("local addr");
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    (addr, task)
}

// ------------------------------------------------------------------------------------------
// GCP

/// The service account the GCP fake's token endpoint knows.
pub const GCP_CLIENT_EMAIL: &str = "image-scanner@test-project.iam.gserviceaccount.com";
/// The key id written into generated key files.
pub const GCP_KEY_ID: &str = "0123456789abcdef0123456789abcdef01234567";
const GCP_SCOPES: [&str; 2] = [
    "https://www.googleapis.com/auth/cloud-platform",
    "https://www.googleapis.com/auth/userinfo.email",
];

#[derive(Debug)]
struct GcpState {
    record: Record,
    expires_in: Vec<u64>,
    token_uri: String,
    public_key: PathBuf,
    dir: PathBuf,
}

impl GcpState {
    fn issue(&mut self) -> Response {
        let n = self.record.issued.len() + 1;
        let token = GcpFake::token(n);
        self.record.issued.push(token.clone());
        let expires_in = self
            .expires_in
            .get(n - 1)
            .or(self.expires_in.last())
            .copied()
            .unwrap_or(3599);
        json(
            StatusCode::OK,
            serde_json::json!({"access_token": token, "expires_in": expires_in, "token_type": "Bearer"}),
        )
    }
}

/// The GCE metadata server's token endpoint and Google's OAuth2 token endpoint (for
/// service-account key JSON files), on one loopback port. A fake.
///
/// Metadata (`GET /computeMetadata/v1/instance/service-accounts/default/token`): requires
/// `Metadata-Flavor: Google`, no `X-Forwarded-For` (the real server refuses proxied requests)
/// and `scopes` = Flux's two scopes, comma-separated.
/// Token endpoint (`POST /token`): requires a form `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer`
/// and an `assertion` JWT whose header is `RS256` with `kid` = [`GCP_KEY_ID`], whose claims
/// have `aud` = this token URI, `scope` = both scopes space-separated, `exp` = `iat` + 3600
/// within a minute of now, and whose signature verifies (`openssl dgst -sha256 -verify`)
/// against the generated key; an `iss` other than [`GCP_CLIENT_EMAIL`] is answered as Google
/// does for an unknown account (400 `invalid_grant`), not as a violation.
#[derive(Debug)]
pub struct GcpFake {
    addr: SocketAddr,
    state: Arc<Mutex<GcpState>>,
    task: JoinHandle<()>,
    dir: TempDir,
    private_key_pem: String,
}

impl GcpFake {
    /// Starts the fake. Token `n` (1-based) lives `expires_in[n-1]` seconds (the last value
    /// repeats; default 3599). Generates an RSA key with `openssl` for key-file tests.
    ///
    /// # Panics
    /// When `openssl` fails or loopback cannot be bound.
    pub async fn start(expires_in: Vec<u64>) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("ia-gcp-fake-")
            .tempdir()
            .expect("tempdir");
        let key = dir.path().join("key.pem");
        let public = dir.path().join("pub.pem");
        run_openssl(&[
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
            &key.display().to_string(),
        ]);
        run_openssl(&[
            "pkey",
            "-in",
            &key.display().to_string(),
            "-pubout",
            "-out",
            &public.display().to_string(),
        ]);
        let private_key_pem = std::fs::read_to_string(&key).expect("read key");
        let state = Arc::new(Mutex::new(GcpState {
            record: Record::default(),
            expires_in,
            token_uri: String::new(),
            public_key: public,
            dir: dir.path().to_path_buf(),
        }));
        let router = Router::new()
            .route(
                "/computeMetadata/v1/instance/service-accounts/default/token",
                get(gcp_metadata),
            )
            .route("/token", post(gcp_token))
            .fallback(unknown_path)
            .with_state(state.clone());
        let (addr, task) = serve(router).await;
        lock(&state).token_uri = format!("http://{addr}/token");
        Self {
            addr,
            state,
            task,
            dir,
            private_key_pem,
        }
    }

    /// `127.0.0.1:PORT`: the value for `GCE_METADATA_HOST`.
    pub fn metadata_host(&self) -> String {
        self.addr.to_string()
    }

    /// The `n`th access token issued (1-based).
    pub fn token(n: usize) -> String {
        format!("ya29.fake-gcp-access-token-{n}")
    }

    /// Writes a service-account key JSON for `client_email` whose `token_uri` is this fake, and
    /// returns its path (for `GOOGLE_APPLICATION_CREDENTIALS`).
    pub fn write_key_file(&self, client_email: &str) -> PathBuf {
        let path = self.dir.path().join(format!("key-{client_email}.json"));
        let body = serde_json::json!({
            "type": "service_account",
            "project_id": "test-project",
            "private_key_id": GCP_KEY_ID,
            "private_key": self.private_key_pem,
            "client_email": client_email,
            "client_id": "100000000000000000001",
            "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            "token_uri": format!("http://{}/token", self.addr),
        });
        std::fs::write(&path, serde_json::to_vec_pretty(&body).expect("json")).expect("write key");
        path
    }

    /// The tokens issued so far, in order.
    pub fn issued(&self) -> Vec<String> {
        lock(&self.state).record.issued.clone()
    }

    /// Requests that broke the protocol.
    pub fn violations(&self) -> Vec<String> {
        lock(&self.state).record.violations.clone()
    }
}

impl Drop for GcpFake {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn run_openssl(args: &[&str]) -> std::process::Output {
    let out = std::process::Command::new("openssl")
        .args(args)
        .output()
        .expect("run openssl (Debian package openssl)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

async fn unknown_path(uri: axum::http::Uri, headers: HeaderMap) -> Response {
    let host = headers
        .get("host")
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default()
        .to_string();
    json(
        StatusCode::NOT_FOUND,
        serde_json::json!({"error": "not_found", "path": uri.path(), "host": host}),
    )
}

async fn gcp_metadata(
    State(state): State<Arc<Mutex<GcpState>>>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let mut s = lock(&state);
    if headers.get("metadata-flavor").and_then(|v| v.to_str().ok()) != Some("Google") {
        return s
            .record
            .violate("metadata: missing `Metadata-Flavor: Google`".into());
    }
    if headers.contains_key("x-forwarded-for") {
        return s
            .record
            .violate("metadata: request came through a proxy".into());
    }
    if query.get("scopes").map(String::as_str) != Some(&GCP_SCOPES.join(",")) {
        return s
            .record
            .violate(format!("metadata: scopes {:?}", query.get("scopes")));
    }
    s.issue()
}

async fn gcp_token(
    State(state): State<Arc<Mutex<GcpState>>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (token_uri, public_key, dir) = {
        let s = lock(&state);
        (s.token_uri.clone(), s.public_key.clone(), s.dir.clone())
    };
    let check = || -> Result<Option<Response>, String> {
        if headers.get("content-type").and_then(|v| v.to_str().ok())
            != Some("application/x-www-form-urlencoded")
        {
            return Err("token: content type is not a form".into());
        }
        let f = form(&body);
        if f.get("grant_type").map(String::as_str)
            != Some("urn:ietf:params:oauth:grant-type:jwt-bearer")
        {
            return Err(format!("token: grant_type {:?}", f.get("grant_type")));
        }
        let assertion = f.get("assertion").ok_or("token: no assertion")?;
        let parts: Vec<&str> = assertion.split('.').collect();
        if parts.len() != 3 {
            return Err("token: assertion is not a JWS".into());
        }
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let decode = |p: &str| -> Result<serde_json::Value, String> {
            let bytes = b64
                .decode(p)
                .map_err(|e| format!("token: base64url: {e}"))?;
            serde_json::from_slice(&bytes).map_err(|e| format!("token: JSON: {e}"))
        };
        let header = decode(parts[0])?;
        let claims = decode(parts[1])?;
        if header["alg"] != "RS256" || header["kid"] != GCP_KEY_ID {
            return Err(format!("token: JWT header {header}"));
        }
        if claims["aud"] != token_uri.as_str() {
            return Err(format!("token: aud {} (want {token_uri})", claims["aud"]));
        }
        if claims["scope"] != GCP_SCOPES.join(" ").as_str() {
            return Err(format!("token: scope {}", claims["scope"]));
        }
        let (iat, exp) = (
            claims["iat"].as_u64().unwrap_or(0),
            claims["exp"].as_u64().unwrap_or(0),
        );
        if exp != iat + 3600 || iat.abs_diff(now()) > 60 {
            return Err(format!("token: iat {iat} exp {exp}"));
        }
        // The signature, checked by openssl against the generated public key.
        let input = dir.join(format!("input-{}", now_nanos()));
        let sig = dir.join(format!("sig-{}", now_nanos()));
        std::fs::write(&input, format!("{}.{}", parts[0], parts[1])).map_err(|e| e.to_string())?;
        std::fs::write(&sig, b64.decode(parts[2]).map_err(|e| e.to_string())?)
            .map_err(|e| e.to_string())?;
        let out = std::process::Command::new("openssl")
            .args(["dgst", "-sha256", "-verify"])
            .arg(&public_key)
            .arg("-signature")
            .arg(&sig)
            .arg(&input)
            .output()
            .map_err(|e| format!("openssl: {e}"))?;
        let _ = std::fs::remove_file(&input);
        let _ = std::fs::remove_file(&sig);
        if !out.status.success() {
            return Err("token: the JWT signature does not verify".into());
        }
        if claims["iss"] != GCP_CLIENT_EMAIL {
            // Google's answer for an account it does not know: not a protocol violation.
            return Ok(Some(json(
                StatusCode::BAD_REQUEST,
                serde_json::json!({"error": "invalid_grant",
                                   "error_description": "Invalid grant: account not found"}),
            )));
        }
        Ok(None)
    };
    let verdict = check();
    let mut s = lock(&state);
    match verdict {
        Err(v) => s.record.violate(v),
        Ok(Some(refusal)) => refusal,
        Ok(None) => s.issue(),
    }
}

fn now_nanos() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos()
}

// ------------------------------------------------------------------------------------------
// Azure

/// The tenant the Azure fake knows.
pub const AZURE_TENANT_ID: &str = "11111111-2222-3333-4444-555555555555";
/// The workload identity's client ID.
pub const AZURE_CLIENT_ID: &str = "66666666-7777-8888-9999-000000000000";
/// The projected service-account token the federated token file holds.
pub const AZURE_FEDERATED_TOKEN: &str = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6Zmx1eC1zeXN0ZW06aW1hZ2UtcmVmbGVjdG9yIn0.c2lnbmF0dXJl";
const AZURE_SCOPE: &str = "https://management.azure.com/.default";

#[derive(Debug)]
struct AzureState {
    record: Record,
    refresh_tokens: Vec<String>,
    registry: String,
    imds_requests: usize,
    aad_requests: usize,
}

/// Entra ID's token endpoint (`POST /{tenant}/oauth2/v2.0/token`), Azure IMDS
/// (`GET /metadata/identity/oauth2/token`) and ACR's exchange (`POST /oauth2/exchange`) on
/// one loopback port. A fake.
///
/// Entra: requires tenant [`AZURE_TENANT_ID`], a form with `grant_type=client_credentials`,
/// `client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer`,
/// `client_assertion` = [`AZURE_FEDERATED_TOKEN`] and `scope` =
/// `https://management.azure.com/.default`; another `client_id` than [`AZURE_CLIENT_ID`] is
/// answered as Entra does (400 `invalid_client`, AADSTS700016).
/// IMDS: requires `Metadata: true`, no proxy, `api-version=2018-02-01` and `resource` =
/// `https://management.azure.com`.
/// Exchange: requires `Host` = the registry, a form with `grant_type=access_token`, `service`
/// = the registry, `access_token` = the last AAD token issued, and `tenant` =
/// [`AZURE_TENANT_ID`] when given; answers refresh token `n` for the `n`th exchange.
#[derive(Debug)]
pub struct AzureFake {
    addr: SocketAddr,
    state: Arc<Mutex<AzureState>>,
    task: JoinHandle<()>,
    dir: TempDir,
}

impl AzureFake {
    /// Starts the fake for ACR host `registry`. Refresh token `n` (1-based) is a JWT whose
    /// `exp` is `lifetimes[n-1]` seconds after this call (the last value repeats).
    ///
    /// # Panics
    /// When loopback cannot be bound.
    pub async fn start(registry: &str, lifetimes: &[u64]) -> Self {
        let t0 = now();
        let refresh_tokens = (1..=8)
            .map(|n| {
                let life = lifetimes
                    .get(n - 1)
                    .or(lifetimes.last())
                    .copied()
                    .unwrap_or(10_800);
                Self::make_refresh_token(n, t0 + life)
            })
            .collect();
        let state = Arc::new(Mutex::new(AzureState {
            record: Record::default(),
            refresh_tokens,
            registry: registry.to_string(),
            imds_requests: 0,
            aad_requests: 0,
        }));
        let router = Router::new()
            .route("/{tenant}/oauth2/v2.0/token", post(azure_aad))
            .route("/metadata/identity/oauth2/token", get(azure_imds))
            .route("/oauth2/exchange", post(azure_exchange))
            .fallback(unknown_path)
            .with_state(state.clone());
        let (addr, task) = serve(router).await;
        let dir = tempfile::Builder::new()
            .prefix("ia-azure-fake-")
            .tempdir()
            .expect("tempdir");
        Self {
            addr,
            state,
            task,
            dir,
        }
    }

    fn make_refresh_token(n: usize, exp: u64) -> String {
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let header = b64.encode(br#"{"alg":"RS256","typ":"JWT"}"#);
        let claims = b64.encode(
            serde_json::json!({"jti": format!("refresh-{n}"), "exp": exp, "grant_type": "refresh_token"})
                .to_string(),
        );
        format!("{header}.{claims}.ZmFrZS1zaWduYXR1cmUt{n}")
    }

    /// The fake's address (route the registry's `/oauth2/` here in a [`ForwardProxy`]).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT/`: the value for `AZURE_AUTHORITY_HOST`.
    pub fn authority_host(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// `http://127.0.0.1:PORT/metadata/identity/oauth2/token`: the IMDS endpoint.
    pub fn imds_endpoint(&self) -> String {
        format!("http://{}/metadata/identity/oauth2/token", self.addr)
    }

    /// Writes the federated token file and returns its path (`AZURE_FEDERATED_TOKEN_FILE`).
    pub fn federated_token_file(&self) -> PathBuf {
        let path = self.dir.path().join("azure-identity-token");
        std::fs::write(&path, format!("{AZURE_FEDERATED_TOKEN}\n")).expect("write token file");
        path
    }

    /// The `n`th refresh token (1-based) the exchange hands out.
    pub fn refresh_token(&self, n: usize) -> String {
        lock(&self.state).refresh_tokens[n - 1].clone()
    }

    /// `(AAD token requests, IMDS requests, exchanges)` answered so far.
    pub fn counts(&self) -> (usize, usize, usize) {
        let s = lock(&self.state);
        (s.aad_requests, s.imds_requests, s.record.exchanges)
    }

    /// Requests that broke the protocol.
    pub fn violations(&self) -> Vec<String> {
        lock(&self.state).record.violations.clone()
    }
}

impl Drop for AzureFake {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn issue_aad(s: &mut AzureState) -> Response {
    let n = s.record.issued.len() + 1;
    let token = format!("fake-aad-access-token-{n}");
    s.record.issued.push(token.clone());
    json(
        StatusCode::OK,
        serde_json::json!({"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599,
                           "access_token": token}),
    )
}

async fn azure_aad(
    State(state): State<Arc<Mutex<AzureState>>>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut s = lock(&state);
    s.aad_requests += 1;
    if tenant != AZURE_TENANT_ID {
        return s.record.violate(format!("aad: tenant {tenant}"));
    }
    if headers.get("content-type").and_then(|v| v.to_str().ok())
        != Some("application/x-www-form-urlencoded")
    {
        return s.record.violate("aad: content type is not a form".into());
    }
    let f = form(&body);
    for (k, want) in [
        ("grant_type", "client_credentials"),
        (
            "client_assertion_type",
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        ),
        ("client_assertion", AZURE_FEDERATED_TOKEN),
        ("scope", AZURE_SCOPE),
    ] {
        if f.get(k).map(String::as_str) != Some(want) {
            return s.record.violate(format!("aad: {k} = {:?}", f.get(k)));
        }
    }
    if f.get("client_id").map(String::as_str) != Some(AZURE_CLIENT_ID) {
        return json(
            StatusCode::BAD_REQUEST,
            serde_json::json!({"error": "invalid_client",
                "error_description": "AADSTS700016: Application not found in the directory",
                "error_codes": [700016]}),
        );
    }
    issue_aad(&mut s)
}

async fn azure_imds(
    State(state): State<Arc<Mutex<AzureState>>>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let mut s = lock(&state);
    s.imds_requests += 1;
    if headers.get("metadata").and_then(|v| v.to_str().ok()) != Some("true") {
        return s.record.violate("imds: missing `Metadata: true`".into());
    }
    if headers.contains_key("x-forwarded-for") {
        return s
            .record
            .violate("imds: request came through a proxy".into());
    }
    if query.get("api-version").map(String::as_str) != Some("2018-02-01")
        || query.get("resource").map(String::as_str) != Some("https://management.azure.com")
    {
        return s.record.violate(format!("imds: query {query:?}"));
    }
    issue_aad(&mut s)
}

async fn azure_exchange(
    State(state): State<Arc<Mutex<AzureState>>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut s = lock(&state);
    let host = headers
        .get("host")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    if host != s.registry {
        return s.record.violate(format!("exchange: Host {host}"));
    }
    let f = form(&body);
    if f.get("grant_type").map(String::as_str) != Some("access_token") {
        return s
            .record
            .violate(format!("exchange: grant_type {:?}", f.get("grant_type")));
    }
    if f.get("service") != Some(&s.registry) {
        return s
            .record
            .violate(format!("exchange: service {:?}", f.get("service")));
    }
    if let Some(t) = f.get("tenant")
        && t != AZURE_TENANT_ID
    {
        return s.record.violate(format!("exchange: tenant {t}"));
    }
    if f.get("access_token") != s.record.issued.last() {
        return s
            .record
            .violate("exchange: access_token is not the last AAD token issued".into());
    }
    s.record.exchanges += 1;
    let n = s.record.exchanges;
    let token = s.refresh_tokens[n - 1].clone();
    json(StatusCode::OK, serde_json::json!({"refresh_token": token}))
}

// ------------------------------------------------------------------------------------------
// Forward proxy

/// One request as the [`ForwardProxy`] received it.
#[derive(Debug, Clone)]
pub struct ProxiedRequest {
    /// `GET`, `POST`, ...
    pub method: String,
    /// The absolute-form target (`http://host/v2/app/tags/list?n=1000`).
    pub target: String,
    /// The `Authorization` header, if any.
    pub authorization: Option<String>,
    /// Whether a `Proxy-Authorization` header came.
    pub proxy_authorization: bool,
}

impl ProxiedRequest {
    /// The Basic credentials of `Authorization`, decoded (`user`, `password`).
    pub fn basic(&self) -> Option<(String, String)> {
        let enc = self.authorization.as_deref()?.strip_prefix("Basic ")?;
        let raw = base64::engine::general_purpose::STANDARD.decode(enc).ok()?;
        let s = String::from_utf8(raw).ok()?;
        let (u, p) = s.split_once(':')?;
        Some((u.to_string(), p.to_string()))
    }
}

type Routes = Arc<Mutex<Vec<(String, String, SocketAddr)>>>;

/// A recording forward HTTP proxy for plain-HTTP traffic (absolute-form requests, no
/// `CONNECT`): requests for a routed host (and path prefix) go to the routed address,
/// others to the host they name. Each request is forwarded on its own upstream connection
/// with `Connection: close`, and the client connection closes after the answer.
#[derive(Debug)]
pub struct ForwardProxy {
    addr: SocketAddr,
    routes: Routes,
    log: Arc<Mutex<Vec<ProxiedRequest>>>,
    task: JoinHandle<()>,
}

impl ForwardProxy {
    /// Starts the proxy on `127.0.0.1:0`.
    ///
    /// # Panics
    /// When loopback cannot be bound.
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let routes: Routes = Arc::default();
        let log: Arc<Mutex<Vec<ProxiedRequest>>> = Arc::default();
        let (r, l) = (routes.clone(), log.clone());
        let task = tokio::spawn(async move {
            while let Ok((conn, _)) = listener.accept().await {
                let (r, l) = (r.clone(), l.clone());
                tokio::spawn(async move {
                    let _ = forward(conn, r, l).await;
                });
            }
        });
        Self {
            addr,
            routes,
            log,
            task,
        }
    }

    /// Sends requests for `host` (no port) whose path starts with `path_prefix` (`/` for all)
    /// to `to`; the longest matching prefix wins, and a later route replaces an equal one.
    pub fn route(&self, host: &str, path_prefix: &str, to: SocketAddr) {
        let mut routes = lock(&self.routes);
        routes.retain(|(h, p, _)| !(h == host && p == path_prefix));
        routes.push((host.to_string(), path_prefix.to_string(), to));
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The requests received so far.
    pub fn requests(&self) -> Vec<ProxiedRequest> {
        lock(&self.log).clone()
    }
}

impl Drop for ForwardProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn forward(
    conn: TcpStream,
    routes: Routes,
    log: Arc<Mutex<Vec<ProxiedRequest>>>,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(conn);
    let mut line = String::new();
    reader.read_line(&mut line).await?;
    let mut parts = line.split_whitespace();
    let (Some(method), Some(target)) = (parts.next(), parts.next()) else {
        return Ok(());
    };
    let (method, target) = (method.to_string(), target.to_string());
    let mut headers: Vec<(String, String)> = Vec::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).await? == 0 {
            return Ok(());
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    let header = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    };
    let mut body = vec![
        0;
        header("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    ];
    reader.read_exact(&mut body).await?;
    let mut conn = reader.into_inner();
    lock(&log).push(ProxiedRequest {
        method: method.clone(),
        target: target.clone(),
        authorization: header("authorization"),
        proxy_authorization: header("proxy-authorization").is_some(),
    });
    let Ok(url) = url::Url::parse(&target) else {
        conn.write_all(
            b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
        )
        .await?;
        return Ok(());
    };
    let host = url.host_str().unwrap_or_default().to_string();
    let path = url.path().to_string();
    let routed = lock(&routes)
        .iter()
        .filter(|(h, p, _)| *h == host && path.starts_with(p.as_str()))
        .max_by_key(|(_, p, _)| p.len())
        .map(|(_, _, a)| *a);
    let upstream = match routed {
        Some(a) => TcpStream::connect(a).await,
        None => {
            TcpStream::connect((host.as_str(), url.port_or_known_default().unwrap_or(80))).await
        }
    };
    let Ok(mut upstream) = upstream else {
        conn.write_all(
            b"HTTP/1.1 502 Bad Gateway\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
        )
        .await?;
        return Ok(());
    };
    let origin_form = match url.query() {
        Some(q) => format!("{path}?{q}"),
        None => path,
    };
    let mut head = format!("{method} {origin_form} HTTP/1.1\r\n");
    for (k, v) in &headers {
        let k_l = k.to_ascii_lowercase();
        if matches!(
            k_l.as_str(),
            "proxy-authorization" | "proxy-connection" | "connection" | "keep-alive"
        ) {
            continue;
        }
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("Connection: close\r\n\r\n");
    upstream.write_all(head.as_bytes()).await?;
    upstream.write_all(&body).await?;
    let mut answer = Vec::new();
    upstream.read_to_end(&mut answer).await?;
    conn.write_all(&answer).await?;
    conn.shutdown().await?;
    Ok(())
}
