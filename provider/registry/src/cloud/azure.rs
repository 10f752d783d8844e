//! `provider: azure`: an ACR refresh token used as the password of
//! `00000000-0000-0000-0000-000000000000`, as `fluxcd/pkg` `auth/azure/provider.go`
//! (`NewArtifactRegistryCredentials`) does.
//!
//! 1. An Entra ID (AAD) access token for the Resource Manager scope of the registry's cloud
//!    (`https://management.azure.com/.default`; `.azurecr.cn` → `management.chinacloudapi.cn`,
//!    `.azurecr.us` → `management.usgovcloudapi.net`; Flux `GetAccessTokenOptionsForArtifactRepository`):
//!    - workload identity when `AZURE_FEDERATED_TOKEN_FILE` is set: `POST
//!      <AZURE_AUTHORITY_HOST><AZURE_TENANT_ID>/oauth2/v2.0/token` with
//!      `grant_type=client_credentials`, `client_id=<AZURE_CLIENT_ID>`,
//!      `client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer`,
//!      `client_assertion=<the file, read on every login: kubelet rotates it>`, `scope`
//!      (azidentity `WorkloadIdentityCredential`);
//!    - otherwise managed identity from IMDS: `GET <imds>?api-version=2018-02-01&resource=<scope
//!      without /.default>[&client_id=<AZURE_CLIENT_ID>]` with `Metadata: true`
//!      (azidentity `ManagedIdentityCredential`).
//! 2. The exchange at the registry: `POST <scheme>://<registry>/oauth2/exchange` with
//!    `grant_type=access_token`, `service=<registry>`, `access_token=<AAD token>` and `tenant`
//!    when known (ACR's `AuthenticationClient.ExchangeAADAccessTokenForACRRefreshToken`). The
//!    answer's `refresh_token` is a JWT whose `exp` gives the expiry (read without
//!    verification, as Flux does).

use std::time::{Duration, UNIX_EPOCH};

use url::Url;

use super::{Login, LoginContext, endpoint_text, json_str};
use crate::credentials::Credentials;
use crate::error::Result;

/// The user name ACR expects with a refresh token (Microsoft's "az acr login --expose-token").
pub(crate) const USERNAME: &str = "00000000-0000-0000-0000-000000000000";

const HINT: &str = "set AZURE_FEDERATED_TOKEN_FILE, AZURE_CLIENT_ID and AZURE_TENANT_ID \
     (workload identity), or run on Azure with a managed identity (AZURE_CLIENT_ID selects a \
     user-assigned one)";

/// `*.azurecr.io|cn|de|us` (Flux `^.+\.(azurecr\.io|azurecr\.cn|azurecr\.de|azurecr\.us)$`).
pub(crate) fn is_acr_host(registry: &str) -> bool {
    [".azurecr.io", ".azurecr.cn", ".azurecr.de", ".azurecr.us"]
        .iter()
        .any(|s| registry.strip_suffix(s).is_some_and(|p| !p.is_empty()))
}

/// The Resource Manager scope of the registry's cloud (azcore `cloud.Configuration`).
pub(crate) fn scope_for(registry: &str) -> &'static str {
    if registry.ends_with(".azurecr.cn") {
        "https://management.chinacloudapi.cn/.default"
    } else if registry.ends_with(".azurecr.us") {
        "https://management.usgovcloudapi.net/.default"
    } else {
        "https://management.azure.com/.default"
    }
}

pub(crate) async fn login(ctx: &LoginContext<'_>) -> Result<Login> {
    let scope = scope_for(ctx.registry);
    let aad_token = match &ctx.options.azure_federated_token_file {
        Some(file) => workload_identity_token(ctx, file, scope).await?,
        None => managed_identity_token(ctx, scope).await?,
    };
    exchange(ctx, &aad_token).await
}

async fn workload_identity_token(
    ctx: &LoginContext<'_>,
    file: &std::path::Path,
    scope: &str,
) -> Result<String> {
    let o = ctx.options;
    let (Some(client_id), Some(tenant_id)) = (&o.azure_client_id, &o.azure_tenant_id) else {
        let missing: Vec<&str> = [
            ("AZURE_CLIENT_ID", o.azure_client_id.is_none()),
            ("AZURE_TENANT_ID", o.azure_tenant_id.is_none()),
        ]
        .iter()
        .filter(|(_, m)| *m)
        .map(|(n, _)| *n)
        .collect();
        return Err(ctx.not_found(
            format!(
                "AZURE_FEDERATED_TOKEN_FILE is set but {} is not",
                missing.join(" and ")
            ),
            HINT,
        ));
    };
    let assertion = std::fs::read_to_string(file).map_err(|e| {
        ctx.not_found(
            format!(
                "cannot read AZURE_FEDERATED_TOKEN_FILE {}: {e}",
                file.display()
            ),
            HINT,
        )
    })?;
    let url = o
        .azure_authority_host
        .join(&format!("{tenant_id}/oauth2/v2.0/token"))
        .map_err(|e| {
            ctx.failed(
                "the Entra ID authority",
                format!("cannot build the token URL: {e}"),
                "check AZURE_AUTHORITY_HOST and AZURE_TENANT_ID",
            )
        })?;
    let endpoint = endpoint_text(&url);
    let form = [
        ("client_id", client_id.as_str()),
        ("grant_type", "client_credentials"),
        (
            "client_assertion_type",
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        ),
        ("client_assertion", assertion.trim()),
        ("scope", scope),
    ];
    let request = ctx.token_http.post(url).form(&form);
    let json = ctx
        .token_request(
            &endpoint,
            request,
            "check AZURE_CLIENT_ID and AZURE_TENANT_ID, and that the identity has a federated \
             credential for this service account",
        )
        .await?;
    json_str(&json, "access_token")
        .ok_or_else(|| ctx.failed(&endpoint, "the answer has no access_token", "report this"))
}

async fn managed_identity_token(ctx: &LoginContext<'_>, scope: &str) -> Result<String> {
    let mut url = ctx.options.azure_imds_endpoint.clone();
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("api-version", "2018-02-01");
        q.append_pair("resource", scope.trim_end_matches("/.default"));
        if let Some(id) = &ctx.options.azure_client_id {
            q.append_pair("client_id", id);
        }
    }
    let endpoint = format!("Azure IMDS ({})", endpoint_text(&url));
    let request = ctx.metadata_http.get(url).header("Metadata", "true");
    let json = match ctx
        .token_request(
            &endpoint,
            request,
            "check that the VM or node pool has a managed identity (and AZURE_CLIENT_ID names it \
             if it is user-assigned)",
        )
        .await
    {
        Err(crate::Error::CloudLoginUnavailable { reason, .. })
            if reason.to_ascii_lowercase().contains("connect")
                || reason.to_ascii_lowercase().contains("timed out")
                || reason.to_ascii_lowercase().contains("unreachable") =>
        {
            return Err(ctx.not_found(
                format!("no AZURE_FEDERATED_TOKEN_FILE and {endpoint} is unreachable ({reason})"),
                HINT,
            ));
        }
        other => other?,
    };
    json_str(&json, "access_token")
        .ok_or_else(|| ctx.failed(&endpoint, "the answer has no access_token", "report this"))
}

#[derive(serde::Deserialize)]
struct Exp {
    exp: u64,
}

async fn exchange(ctx: &LoginContext<'_>, aad_token: &str) -> Result<Login> {
    let url: Url = ctx.registry_base.join("oauth2/exchange").map_err(|e| {
        ctx.failed(
            "the ACR exchange",
            format!("cannot build the URL: {e}"),
            "report this",
        )
    })?;
    let endpoint = endpoint_text(&url);
    let mut form = vec![("grant_type", "access_token"), ("service", ctx.registry)];
    if let Some(t) = &ctx.options.azure_tenant_id {
        form.push(("tenant", t));
    }
    form.push(("access_token", aad_token));
    let request = ctx.registry_http.post(url).form(&form);
    let json = ctx
        .token_request(
            &endpoint,
            request,
            "check that the identity has the AcrPull role on the registry",
        )
        .await?;
    let refresh = json_str(&json, "refresh_token")
        .ok_or_else(|| ctx.failed(&endpoint, "the answer has no refresh_token", "report this"))?;
    let exp: Exp = jsonwebtoken::dangerous::insecure_decode_claims(&refresh).map_err(|_| {
        ctx.failed(
            &endpoint,
            "the refresh token is not a JWT with an `exp` claim",
            "report this",
        )
    })?;
    Ok(Login {
        credentials: Credentials::basic(USERNAME, refresh),
        expires_at: UNIX_EPOCH + Duration::from_secs(exp.exp),
    })
}
