//! `provider: aws`: ECR login with the official AWS SDK, as `fluxcd/pkg` `auth/aws/provider.go`
//! (`NewArtifactRegistryCredentials`) does with the Go SDK.
//!
//! The identity comes from the SDK's standard credential chain: `AWS_ACCESS_KEY_ID` /
//! `AWS_SECRET_ACCESS_KEY` (/ `AWS_SESSION_TOKEN`), `AWS_PROFILE` and the shared config files,
//! web identity (`AWS_WEB_IDENTITY_TOKEN_FILE` + `AWS_ROLE_ARN`, i.e. IRSA), ECS/EKS Pod
//! Identity container credentials, then EC2 instance metadata. `GetAuthorizationToken` is
//! called in the region of the registry host (Flux: the ECR region, so a node role works
//! without `AWS_REGION`). The SDK honours `AWS_ENDPOINT_URL_ECR` and `AWS_ENDPOINT_URL`
//! (tests point them at moto). With an explicit [`ProxyOptions`] the SDK's HTTP client uses
//! it; otherwise the SDK reads `HTTPS_PROXY`/`HTTP_PROXY`/`NO_PROXY` itself.

use std::time::SystemTime;

use aws_config::BehaviorVersion;
use aws_sdk_ecr::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use base64::Engine as _;
use secrecy::ExposeSecret;

use super::{Login, LoginContext};
use crate::credentials::Credentials;
use crate::error::{Error, Result};
use crate::proxy::ProxyOptions;

const CREDENTIALS_HINT: &str = "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE, \
     or AWS_WEB_IDENTITY_TOKEN_FILE with AWS_ROLE_ARN (IRSA), or run with an EKS Pod Identity \
     or EC2 instance role";

/// `(account, region)` of an ECR host
/// `<account>.dkr.ecr[-fips].<region>.<partition domain>`; `None` for any other host.
pub(crate) fn parse_ecr_host(registry: &str) -> Option<(String, String)> {
    const PARTITIONS: [&str; 6] = [
        "amazonaws.com",
        "amazonaws.com.cn",
        "sc2s.sgov.gov",
        "c2s.ic.gov",
        "cloud.adc-e.uk",
        "csp.hci.ic.gov",
    ];
    let (account, rest) = registry.split_once('.')?;
    if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let rest = rest
        .strip_prefix("dkr.ecr.")
        .or_else(|| rest.strip_prefix("dkr.ecr-fips."))?;
    let (region, domain) = rest.split_once('.')?;
    if !PARTITIONS.contains(&domain) || !is_region(region) {
        return None;
    }
    Some((account.to_string(), region.to_string()))
}

/// `us-east-1`, `us-gov-west-1`, `cn-north-1`, `us-isob-east-1`: lower-case words and a
/// number, joined by `-`.
fn is_region(region: &str) -> bool {
    let parts: Vec<&str> = region.split('-').collect();
    parts.len() >= 3
        && parts[..parts.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
        && parts[parts.len() - 1].parse::<u8>().is_ok_and(|n| n > 0)
}

/// Builds the SDK's HTTP client for an explicit proxy: the SDK's own default (rustls on
/// aws-lc-rs), with the proxy for all traffic.
fn with_proxy(
    loader: aws_config::ConfigLoader,
    ctx: &LoginContext<'_>,
    proxy: &ProxyOptions,
) -> Result<aws_config::ConfigLoader> {
    use aws_smithy_http_client::proxy::ProxyConfig;
    use aws_smithy_http_client::tls;
    let mut config = ProxyConfig::all(proxy.address.as_str()).map_err(|e| {
        ctx.failed(
            "the proxy",
            format!("the AWS SDK cannot use the proxy address: {e}"),
            "check the proxy `address`",
        )
    })?;
    if let Some(user) = &proxy.username {
        let pass = proxy
            .password
            .as_ref()
            .map(|p| p.expose_secret().to_string())
            .unwrap_or_default();
        config = config.with_basic_auth(user.clone(), pass);
    }
    Ok(loader.http_client(
        aws_smithy_http_client::Builder::new().build_with_connector_fn(
            move |settings, components| {
                let mut b = aws_smithy_http_client::Connector::builder().tls_provider(
                    tls::Provider::Rustls(tls::rustls_provider::CryptoMode::AwsLc),
                );
                b.set_connector_settings(settings.cloned());
                if let Some(c) = components {
                    b.set_sleep_impl(c.sleep_impl());
                }
                b.set_proxy_config(Some(config.clone()));
                b.build()
            },
        ),
    ))
}

/// Logs in to the ECR registry of `ctx`.
pub(crate) async fn login(ctx: &LoginContext<'_>) -> Result<Login> {
    // The caller checked the host with `Provider::check_registry`.
    let (_account, region) = parse_ecr_host(ctx.registry).ok_or_else(|| {
        ctx.failed(
            "the registry host",
            "it is not an ECR host",
            "name the image by its ECR host",
        )
    })?;
    let endpoint = format!("ECR GetAuthorizationToken in {region}");
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .region(aws_config::Region::new(region.clone()));
    if let Some(proxy) = ctx.proxy {
        loader = with_proxy(loader, ctx, proxy)?;
    }
    let config = loader.load().await;
    if config.credentials_provider().is_none() {
        return Err(ctx.not_found("the AWS SDK has no credential provider", CREDENTIALS_HINT));
    }
    let ecr = aws_sdk_ecr::Client::new(&config);
    let out = ecr
        .get_authorization_token()
        .send()
        .await
        .map_err(|e| map_sdk_error(ctx, &endpoint, e))?;
    let data = out
        .authorization_data()
        .first()
        .ok_or_else(|| ctx.failed(&endpoint, "no authorization data returned", "report this"))?;
    let token = data.authorization_token().ok_or_else(|| {
        ctx.failed(
            &endpoint,
            "the authorization token is missing",
            "report this",
        )
    })?;
    let expires_at = data
        .expires_at()
        .and_then(|t| SystemTime::try_from(*t).ok())
        .ok_or_else(|| {
            ctx.failed(
                &endpoint,
                "the authorization token has no expiry",
                "report this",
            )
        })?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(token.trim())
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| {
            ctx.failed(
                &endpoint,
                "the authorization token is not base64",
                "report this",
            )
        })?;
    let Some((username, password)) = decoded.split_once(':') else {
        return Err(ctx.failed(
            &endpoint,
            "the authorization token is not `user:password`",
            "report this",
        ));
    };
    Ok(Login {
        credentials: Credentials::basic(username, password),
        expires_at,
    })
}

fn map_sdk_error<E, R>(ctx: &LoginContext<'_>, endpoint: &str, e: SdkError<E, R>) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + 'static,
{
    // The SDK's messages name what failed; they carry no secret (requests are signed, never
    // echoed), but only the error code and message are kept from service errors.
    let chain = DisplayErrorContext(&e).to_string();
    let lower = chain.to_ascii_lowercase();
    if lower.contains("no credentials")
        || lower.contains("credentials provider was not enabled")
        || lower.contains("no providers in chain provided credentials")
        || lower.contains("failed to load credentials")
        || lower.contains("the credential provider was not enabled")
    {
        return ctx.not_found(
            "no AWS credentials in the environment, profile, web identity or instance \
             metadata",
            CREDENTIALS_HINT,
        );
    }
    match &e {
        SdkError::ServiceError(se) => {
            let err = se.err();
            let code = err.code().unwrap_or("unknown error");
            let reason = match err.message() {
                Some(m) => format!("{code}: {m}"),
                None => code.to_string(),
            };
            if matches!(
                code,
                "ThrottlingException" | "ServerException" | "ServiceUnavailableException"
            ) || code.contains("Throttl")
            {
                return ctx.unavailable(endpoint, reason);
            }
            ctx.failed(
                endpoint,
                reason,
                "check that the AWS identity may call ecr:GetAuthorizationToken in this \
                 region (IAM policy AmazonEC2ContainerRegistryReadOnly), and its keys",
            )
        }
        SdkError::TimeoutError(_) => ctx.unavailable(endpoint, "the request timed out"),
        SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            ctx.unavailable(endpoint, strip_urls(&chain))
        }
        _ => ctx.failed(endpoint, strip_urls(&chain), CREDENTIALS_HINT),
    }
}

/// SDK error chains may quote presigned or endpoint URLs; keep the text before any query.
fn strip_urls(text: &str) -> String {
    text.split_whitespace()
        .map(|w| match w.split_once('?') {
            Some((before, _)) if w.contains("://") => before,
            _ => w,
        })
        .collect::<Vec<_>>()
        .join(" ")
}
