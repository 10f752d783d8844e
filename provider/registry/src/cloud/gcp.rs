//! `provider: gcp`: a Google OAuth2 access token used as the password of
//! `oauth2accesstoken`, as `fluxcd/pkg` `auth/gcp/provider.go` does (scopes `cloud-platform`
//! and `userinfo.email`).
//!
//! The token comes, in Google's Application Default Credentials order, from:
//! 1. a service-account key JSON named by `GOOGLE_APPLICATION_CREDENTIALS`
//!    ([`CloudOptions::google_application_credentials`]): a JWT (RS256, signed with the
//!    key's `private_key`, `kid` = `private_key_id`) sent to the key's `token_uri` with
//!    `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer` (RFC 7523, Google's
//!    "OAuth 2.0 for server to server applications");
//! 2. the GCE metadata server (GKE workload identity or the node's service account):
//!    `GET http://<GCE_METADATA_HOST>/computeMetadata/v1/instance/service-accounts/default/token?scopes=...`
//!    with `Metadata-Flavor: Google`.
//!
//! gcloud's user credentials (`~/.config/gcloud/application_default_credentials.json`) and
//! external-account (workload identity federation) files are not supported.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Deserialize;
use url::Url;

use super::{Login, LoginContext, endpoint_text, json_str};
use crate::credentials::Credentials;
use crate::error::Result;

/// The scopes Flux asks for.
pub(crate) const SCOPES: [&str; 2] = [
    "https://www.googleapis.com/auth/cloud-platform",
    "https://www.googleapis.com/auth/userinfo.email",
];

/// The registry user name for an access token.
pub(crate) const USERNAME: &str = "oauth2accesstoken";

const HINT: &str = "set GOOGLE_APPLICATION_CREDENTIALS to a service-account key JSON file, or \
     run on GCE/GKE with a service account (workload identity); GCE_METADATA_HOST overrides \
     the metadata server's host:port";

/// `gcr.io`, `*.gcr.io`, `*-docker.pkg.dev` (Flux's `^(((.+\.)?gcr\.io)|(.+-docker\.pkg\.dev))$`).
pub(crate) fn is_google_registry(registry: &str) -> bool {
    registry == "gcr.io"
        || registry
            .strip_suffix(".gcr.io")
            .is_some_and(|p| !p.is_empty())
        || registry
            .strip_suffix("-docker.pkg.dev")
            .is_some_and(|p| !p.is_empty())
}

#[derive(Deserialize)]
struct ServiceAccountKey {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    client_email: String,
    #[serde(default)]
    private_key: String,
    #[serde(default)]
    private_key_id: Option<String>,
    #[serde(default)]
    token_uri: Option<String>,
}

#[derive(serde::Serialize)]
struct JwtClaims<'a> {
    iss: &'a str,
    scope: String,
    aud: &'a str,
    iat: u64,
    exp: u64,
}

/// Google's token endpoint when a key names none.
const GOOGLE_TOKEN_URI: &str = "https://oauth2.googleapis.com/token";

pub(crate) async fn login(ctx: &LoginContext<'_>) -> Result<Login> {
    let (token, expires_in) = match &ctx.options.google_application_credentials {
        Some(path) => key_file_token(ctx, path).await?,
        None => metadata_token(ctx).await?,
    };
    Ok(Login {
        credentials: Credentials::basic(USERNAME, token),
        expires_at: SystemTime::now() + expires_in,
    })
}

async fn key_file_token(
    ctx: &LoginContext<'_>,
    path: &std::path::Path,
) -> Result<(String, Duration)> {
    let shown = format!("GOOGLE_APPLICATION_CREDENTIALS ({})", path.display());
    let bytes = std::fs::read(path).map_err(|e| {
        ctx.not_found(
            format!("cannot read the key file {}: {e}", path.display()),
            HINT,
        )
    })?;
    // serde_json's messages give a position only, never the input.
    let key: ServiceAccountKey = serde_json::from_slice(&bytes).map_err(|e| {
        ctx.failed(
            &shown,
            format!("not a service-account key JSON: {e}"),
            "download a JSON key for the service account (gcloud iam service-accounts keys create)",
        )
    })?;
    drop(bytes);
    if key.kind != "service_account" {
        return Err(ctx.failed(
            &shown,
            format!("credentials of type {:?} are not supported", key.kind),
            "use a service-account key (\"type\": \"service_account\") or the metadata server",
        ));
    }
    if key.client_email.is_empty() || key.private_key.is_empty() {
        return Err(ctx.failed(
            &shown,
            "the key has no `client_email` or `private_key`",
            "download the key again",
        ));
    }
    let token_uri = key.token_uri.as_deref().unwrap_or(GOOGLE_TOKEN_URI);
    let token_url = Url::parse(token_uri).map_err(|e| {
        ctx.failed(
            &shown,
            format!("`token_uri` is not a URL: {e}"),
            "fix the key's token_uri",
        )
    })?;
    let encoding_key = jsonwebtoken::EncodingKey::from_rsa_pem(key.private_key.as_bytes())
        .map_err(|_| {
            ctx.failed(
                &shown,
                "`private_key` is not an RSA private key in PEM",
                "download the key again",
            )
        })?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let claims = JwtClaims {
        iss: &key.client_email,
        scope: SCOPES.join(" "),
        aud: token_uri,
        iat: now,
        exp: now + 3600,
    };
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    header.kid = key.private_key_id.clone();
    let assertion = jsonwebtoken::encode(&header, &claims, &encoding_key).map_err(|e| {
        ctx.failed(
            &shown,
            format!("cannot sign the JWT: {e}"),
            "download the key again",
        )
    })?;
    let endpoint = endpoint_text(&token_url);
    let form = [
        ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
        ("assertion", assertion.as_str()),
    ];
    let request = ctx.token_http.post(token_url).form(&form);
    let json = ctx
        .token_request(
            &endpoint,
            request,
            "check that the service-account key is not deleted or disabled",
        )
        .await?;
    access_token(ctx, &endpoint, &json)
}

async fn metadata_token(ctx: &LoginContext<'_>) -> Result<(String, Duration)> {
    let host = &ctx.options.gce_metadata_host;
    let mut url = Url::parse(&format!(
        "http://{host}/computeMetadata/v1/instance/service-accounts/default/token"
    ))
    .map_err(|e| {
        ctx.failed(
            format!("the GCE metadata server {host}"),
            format!("not a host:port: {e}"),
            "fix GCE_METADATA_HOST",
        )
    })?;
    url.query_pairs_mut()
        .append_pair("scopes", &SCOPES.join(","));
    let endpoint = format!("the GCE metadata server ({})", endpoint_text(&url));
    let request = ctx
        .metadata_http
        .get(url)
        .header("Metadata-Flavor", "Google");
    let json = match ctx
        .token_request(
            &endpoint,
            request,
            "check that the node or workload has a service account with access to the registry",
        )
        .await
    {
        // Not on Google Cloud: the metadata host does not resolve or nothing listens there.
        Err(crate::Error::CloudLoginUnavailable { reason, .. })
            if ctx.options.google_application_credentials.is_none() && is_not_on_gce(&reason) =>
        {
            return Err(ctx.not_found(
                format!(
                    "no GOOGLE_APPLICATION_CREDENTIALS and {endpoint} is unreachable ({reason})"
                ),
                HINT,
            ));
        }
        other => other?,
    };
    access_token(ctx, &endpoint, &json)
}

fn is_not_on_gce(reason: &str) -> bool {
    let r = reason.to_ascii_lowercase();
    r.contains("dns error")
        || r.contains("failed to lookup")
        || r.contains("name or service not known")
        || r.contains("connection refused")
}

fn access_token(
    ctx: &LoginContext<'_>,
    endpoint: &str,
    json: &serde_json::Value,
) -> Result<(String, Duration)> {
    let token = json_str(json, "access_token")
        .ok_or_else(|| ctx.failed(endpoint, "the answer has no access_token", "report this"))?;
    let expires_in = json_str(json, "expires_in")
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or(3600);
    Ok((token, Duration::from_secs(expires_in)))
}
