//! Cloud registry logins (Flux `spec.provider`) end to end against the real `docker-registry`:
//! images keep their cloud names (`eu.gcr.io/...`, `flux.azurecr.io/...`,
//! `123456789012.dkr.ecr.us-east-1.amazonaws.com/...`, plain HTTP as `insecure`) and reach the
//! loopback registry through the explicit proxy option pointed at the recording forward proxy
//! of `cloud_fakes`. The registry's htpasswd holds exactly the user and token the login must
//! produce, so a scan passes only with the right credentials.
//!
//! GCP and Azure run against validating fakes (`cloud_fakes`: they are fakes), configured
//! through `CloudOptions` so no test changes the environment. AWS runs against moto in server
//! mode; the AWS SDK reads its own `AWS_*` variables, so those cases run in a child process
//! (this binary again, `--exact child_aws_scan`), which does nothing when run on its own.

use std::process::Command;
use std::time::Duration;

use imageautomation_registry::{
    ClientOptions, CloudOptions, Credentials, EnvProxy, Error, ImageReference, Provider,
    ProxyOptions, RegistryClient,
};
use imageautomation_tests::cloud_fakes::{
    AZURE_CLIENT_ID, AZURE_TENANT_ID, AzureFake, ForwardProxy, GCP_CLIENT_EMAIL, GcpFake,
};
use imageautomation_tests::moto::{self, Moto};
use imageautomation_tests::registry::{Auth, Registry, RegistryOptions};
use secrecy::ExposeSecret;

const TAGS: [&str; 3] = ["1.0.0", "1.1.0", "2.0.0"];

fn registry_for(user: &str, password: &str, repository: &str) -> Registry {
    let r = Registry::start(RegistryOptions {
        auth: Auth::Users(vec![(user.to_string(), password.to_string())]),
        ..RegistryOptions::default()
    });
    r.storage().seed_tags(repository, &TAGS);
    r
}

fn addr(r: &Registry) -> std::net::SocketAddr {
    format!("127.0.0.1:{}", r.port()).parse().expect("addr")
}

fn client(proxy: &ForwardProxy, cloud: CloudOptions) -> RegistryClient {
    RegistryClient::new(&ClientOptions {
        proxy: Some(ProxyOptions::new(&proxy.url(), None, None).expect("proxy")),
        env_proxy: EnvProxy::default(),
        cloud,
        ..ClientOptions::default()
    })
    .expect("client")
}

fn password(c: &Credentials) -> (String, String) {
    match c {
        Credentials::Basic { username, password } => {
            (username.clone(), password.expose_secret().to_string())
        }
        other => panic!("not Basic: {other:?}"),
    }
}

async fn scan(client: &RegistryClient, provider: Provider, image: &ImageReference) -> Vec<String> {
    let creds = client
        .cloud_credentials(provider, image)
        .await
        .unwrap_or_else(|e| panic!("{provider} login: {e}"));
    let mut tags = client
        .list_tags(image, &creds)
        .await
        .unwrap_or_else(|e| panic!("scan: {e}"));
    tags.sort();
    tags
}

/// The Basic credentials of the last registry request the proxy saw.
fn last_registry_basic(proxy: &ForwardProxy) -> Option<(String, String)> {
    proxy
        .requests()
        .iter()
        .rev()
        .filter(|r| r.target.contains("/v2/"))
        .find_map(|r| r.basic())
}

fn assert_no_secret(err: &Error, secrets: &[&str]) {
    let text = format!("{err} {err:?}");
    for s in secrets {
        assert!(!text.contains(s), "secret {s:?} in {text}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn gcp_metadata_server_token_reaches_the_registry() {
    let gcp = GcpFake::start(vec![3599]).await;
    let registry = registry_for("oauth2accesstoken", &GcpFake::token(1), "test-project/app");
    let proxy = ForwardProxy::start().await;
    proxy.route("eu.gcr.io", "/", addr(&registry));
    let cloud = CloudOptions {
        gce_metadata_host: gcp.metadata_host(),
        ..CloudOptions::defaults_without_env()
    };
    let client = client(&proxy, cloud);
    let image = ImageReference::parse("eu.gcr.io/test-project/app", true).expect("image");
    assert_eq!(scan(&client, Provider::Gcp, &image).await, TAGS);
    assert_eq!(
        last_registry_basic(&proxy),
        Some(("oauth2accesstoken".into(), GcpFake::token(1)))
    );
    // Cached: a second scan logs in no more.
    assert_eq!(scan(&client, Provider::Gcp, &image).await, TAGS);
    assert_eq!(gcp.issued().len(), 1);
    assert!(gcp.violations().is_empty(), "{:?}", gcp.violations());
}

/// A token that lives 4 s is renewed after 2 s (`min(margin, lifetime / 2)`): the second
/// token reaches a registry that only knows it.
#[tokio::test(flavor = "multi_thread")]
async fn gcp_key_file_login_is_renewed_before_expiry() {
    let gcp = GcpFake::start(vec![4, 3599]).await;
    let first = registry_for("oauth2accesstoken", &GcpFake::token(1), "p/app");
    let second = registry_for("oauth2accesstoken", &GcpFake::token(2), "p/app");
    let proxy = ForwardProxy::start().await;
    proxy.route("europe-west1-docker.pkg.dev", "/", addr(&first));
    let cloud = CloudOptions {
        google_application_credentials: Some(gcp.write_key_file(GCP_CLIENT_EMAIL)),
        // Nothing listens here: the key file must be used, not the metadata server.
        gce_metadata_host: format!("127.0.0.1:{}", imageautomation_tests::free_port()),
        ..CloudOptions::defaults_without_env()
    };
    let client = client(&proxy, cloud);
    let image = ImageReference::parse("europe-west1-docker.pkg.dev/p/app", true).expect("image");
    assert_eq!(scan(&client, Provider::Gcp, &image).await, TAGS);
    assert_eq!(scan(&client, Provider::Gcp, &image).await, TAGS);
    assert_eq!(gcp.issued().len(), 1, "reused within its lifetime");
    tokio::time::sleep(Duration::from_millis(2500)).await;
    proxy.route("europe-west1-docker.pkg.dev", "/", addr(&second));
    assert_eq!(scan(&client, Provider::Gcp, &image).await, TAGS);
    assert_eq!(gcp.issued().len(), 2, "renewed past the margin");
    assert_eq!(
        last_registry_basic(&proxy),
        Some(("oauth2accesstoken".into(), GcpFake::token(2)))
    );
    assert!(gcp.violations().is_empty(), "{:?}", gcp.violations());
}

#[tokio::test(flavor = "multi_thread")]
async fn gcp_wrong_identity_and_missing_credentials_are_clear() {
    let gcp = GcpFake::start(vec![3599]).await;
    let proxy = ForwardProxy::start().await;
    let image = ImageReference::parse("gcr.io/test-project/app", true).expect("image");

    let key = gcp.write_key_file("someone-else@test-project.iam.gserviceaccount.com");
    let key_text = std::fs::read_to_string(&key).expect("key");
    let private_key =
        serde_json::from_str::<serde_json::Value>(&key_text).expect("json")["private_key"]
            .as_str()
            .expect("pem")
            .lines()
            .nth(1)
            .expect("a base64 line")
            .to_string();
    let client_wrong = client(
        &proxy,
        CloudOptions {
            google_application_credentials: Some(key),
            ..CloudOptions::defaults_without_env()
        },
    );
    let err = client_wrong
        .cloud_credentials(Provider::Gcp, &image)
        .await
        .expect_err("unknown account");
    let msg = err.to_string();
    assert!(matches!(err, Error::CloudLoginFailed { .. }), "{err:?}");
    assert!(
        msg.starts_with("gcp login for registry gcr.io failed at http://127.0.0.1:"),
        "{msg}"
    );
    assert!(msg.contains("HTTP 400 (invalid_grant)"), "{msg}");
    assert!(err.is_auth() && !err.is_transient());
    assert_no_secret(&err, &[&private_key]);

    let client_none = client(
        &proxy,
        CloudOptions {
            gce_metadata_host: format!("127.0.0.1:{}", imageautomation_tests::free_port()),
            ..CloudOptions::defaults_without_env()
        },
    );
    let err = client_none
        .cloud_credentials(Provider::Gcp, &image)
        .await
        .expect_err("no credentials");
    let msg = err.to_string();
    assert!(
        matches!(err, Error::CloudCredentialsNotFound { .. }),
        "{err:?}"
    );
    assert!(
        msg.starts_with("no gcp credentials found for registry gcr.io"),
        "{msg}"
    );
    assert!(msg.contains("set GOOGLE_APPLICATION_CREDENTIALS"), "{msg}");
    assert!(gcp.violations().is_empty(), "{:?}", gcp.violations());
}

const ACR: &str = "imageautomation.azurecr.io";
const ACR_USER: &str = "00000000-0000-0000-0000-000000000000";

fn azure_workload_identity(azure: &AzureFake) -> CloudOptions {
    CloudOptions {
        azure_federated_token_file: Some(azure.federated_token_file()),
        azure_client_id: Some(AZURE_CLIENT_ID.into()),
        azure_tenant_id: Some(AZURE_TENANT_ID.into()),
        azure_authority_host: azure.authority_host().parse().expect("url"),
        // Nothing listens here: workload identity must be used, not IMDS.
        azure_imds_endpoint: format!(
            "http://127.0.0.1:{}/metadata/identity/oauth2/token",
            imageautomation_tests::free_port()
        )
        .parse()
        .expect("url"),
        ..CloudOptions::defaults_without_env()
    }
}

/// Workload identity, exchange, and renewal of a refresh token that lives 4 s.
#[tokio::test(flavor = "multi_thread")]
async fn azure_workload_identity_login_is_exchanged_and_renewed() {
    let azure = AzureFake::start(ACR, &[4, 10_800]).await;
    let first = registry_for(ACR_USER, &azure.refresh_token(1), "team/app");
    let second = registry_for(ACR_USER, &azure.refresh_token(2), "team/app");
    let proxy = ForwardProxy::start().await;
    proxy.route(ACR, "/", addr(&first));
    proxy.route(ACR, "/oauth2/", azure.addr());
    let client = client(&proxy, azure_workload_identity(&azure));
    let image = ImageReference::parse(&format!("{ACR}/team/app"), true).expect("image");
    assert_eq!(scan(&client, Provider::Azure, &image).await, TAGS);
    assert_eq!(
        last_registry_basic(&proxy),
        Some((ACR_USER.into(), azure.refresh_token(1)))
    );
    assert_eq!(scan(&client, Provider::Azure, &image).await, TAGS);
    assert_eq!(azure.counts(), (1, 0, 1), "(aad, imds, exchanges): cached");
    tokio::time::sleep(Duration::from_millis(2500)).await;
    proxy.route(ACR, "/", addr(&second));
    assert_eq!(scan(&client, Provider::Azure, &image).await, TAGS);
    assert_eq!(azure.counts(), (2, 0, 2), "renewed past the margin");
    assert_eq!(
        last_registry_basic(&proxy),
        Some((ACR_USER.into(), azure.refresh_token(2)))
    );
    // The exchange went to the registry's host through the registry's proxy.
    assert!(
        proxy
            .requests()
            .iter()
            .any(|r| r.method == "POST" && r.target == format!("http://{ACR}/oauth2/exchange")),
        "{:#?}",
        proxy.requests()
    );
    assert!(azure.violations().is_empty(), "{:?}", azure.violations());
}

#[tokio::test(flavor = "multi_thread")]
async fn azure_managed_identity_login() {
    let azure = AzureFake::start(ACR, &[10_800]).await;
    let registry = registry_for(ACR_USER, &azure.refresh_token(1), "team/app");
    let proxy = ForwardProxy::start().await;
    proxy.route(ACR, "/", addr(&registry));
    proxy.route(ACR, "/oauth2/", azure.addr());
    let client = client(
        &proxy,
        CloudOptions {
            azure_imds_endpoint: azure.imds_endpoint().parse().expect("url"),
            ..CloudOptions::defaults_without_env()
        },
    );
    let image = ImageReference::parse(&format!("{ACR}/team/app"), true).expect("image");
    assert_eq!(scan(&client, Provider::Azure, &image).await, TAGS);
    assert_eq!(azure.counts(), (0, 1, 1));
    assert!(
        !proxy
            .requests()
            .iter()
            .any(|r| r.target.contains("/metadata/")),
        "IMDS must not be proxied"
    );
    assert!(azure.violations().is_empty(), "{:?}", azure.violations());
}

#[tokio::test(flavor = "multi_thread")]
async fn azure_wrong_client_and_missing_tenant_are_clear() {
    let azure = AzureFake::start(ACR, &[10_800]).await;
    let proxy = ForwardProxy::start().await;
    let image = ImageReference::parse(&format!("{ACR}/team/app"), true).expect("image");
    let wrong = client(
        &proxy,
        CloudOptions {
            azure_client_id: Some("not-the-app".into()),
            ..azure_workload_identity(&azure)
        },
    );
    let err = wrong
        .cloud_credentials(Provider::Azure, &image)
        .await
        .expect_err("unknown client");
    let msg = err.to_string();
    assert!(matches!(err, Error::CloudLoginFailed { .. }), "{err:?}");
    assert!(
        msg.starts_with(&format!(
            "azure login for registry {ACR} failed at http://127.0.0.1:"
        )),
        "{msg}"
    );
    assert!(
        msg.contains("HTTP 400 (invalid_client)") && msg.contains("check AZURE_CLIENT_ID"),
        "{msg}"
    );
    assert_no_secret(
        &err,
        &[imageautomation_tests::cloud_fakes::AZURE_FEDERATED_TOKEN],
    );

    let no_tenant = client(
        &proxy,
        CloudOptions {
            azure_tenant_id: None,
            ..azure_workload_identity(&azure)
        },
    );
    let err = no_tenant
        .cloud_credentials(Provider::Azure, &image)
        .await
        .expect_err("no tenant");
    assert!(
        matches!(err, Error::CloudCredentialsNotFound { .. }),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .contains("AZURE_FEDERATED_TOKEN_FILE is set but AZURE_TENANT_ID is not"),
        "{err}"
    );
    assert!(azure.violations().is_empty(), "{:?}", azure.violations());
}

#[tokio::test(flavor = "multi_thread")]
async fn provider_and_host_must_match() {
    let client = RegistryClient::new(&ClientOptions {
        env_proxy: EnvProxy::default(),
        cloud: CloudOptions::defaults_without_env(),
        ..ClientOptions::default()
    })
    .expect("client");
    for (provider, image) in [
        (Provider::Aws, "ghcr.io/org/app"),
        (
            Provider::Aws,
            "123456789012.dkr.ecr.moon_1.amazonaws.com/app",
        ),
        (Provider::Azure, "gcr.io/p/app"),
        (Provider::Gcp, "flux.azurecr.io/app"),
    ] {
        let image = ImageReference::parse(image, false).expect("image");
        let err = client
            .cloud_credentials(provider, &image)
            .await
            .expect_err("mismatch");
        let msg = err.to_string();
        assert!(
            matches!(err, Error::RegistryNotForProvider { .. }),
            "{err:?}"
        );
        assert!(
            msg.contains(image.registry()) && msg.contains(&format!("provider {provider}")),
            "{msg}"
        );
        assert!(!err.is_transient());
    }
    let err = client
        .cloud_credentials(
            Provider::Generic,
            &ImageReference::parse("ghcr.io/org/app", false).expect("image"),
        )
        .await
        .expect_err("generic");
    assert!(matches!(err, Error::InvalidProvider { .. }), "{err:?}");
}

const ECR: &str = "123456789012.dkr.ecr.us-east-1.amazonaws.com";

/// What the child prints: `OK <user> <tags>` or `ERR <variant>: <message>`.
fn run_aws_child(proxy: &str, env: &[(&str, &str)]) -> String {
    let exe = std::env::current_exe().expect("test binary");
    let home = tempfile::tempdir().expect("home");
    let mut cmd = Command::new(exe);
    cmd.args([
        "child_aws_scan",
        "--exact",
        "--nocapture",
        "--test-threads",
        "1",
    ])
    .env("IA_CHILD_PROXY", proxy)
    // No shared config or credentials files, no instance metadata: only what the test sets.
    .env("HOME", home.path())
    .env("AWS_CONFIG_FILE", home.path().join("config"))
    .env(
        "AWS_SHARED_CREDENTIALS_FILE",
        home.path().join("credentials"),
    )
    .env("AWS_EC2_METADATA_DISABLED", "true");
    for (k, _) in std::env::vars() {
        if k.starts_with("AWS_")
            && !matches!(
                k.as_str(),
                "AWS_CONFIG_FILE" | "AWS_SHARED_CREDENTIALS_FILE" | "AWS_EC2_METADATA_DISABLED"
            )
        {
            cmd.env_remove(k);
        }
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run the child test");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    stdout
        .lines()
        .find_map(|l| l.split_once("CHILD-RESULT ").map(|(_, r)| r.to_string()))
        .unwrap_or_else(|| {
            panic!(
                "child printed no result: {stdout}\n{}",
                String::from_utf8_lossy(&out.stderr)
            )
        })
}

/// Runs only as the child of the AWS tests (`IA_CHILD_PROXY` set): an ECR login with the
/// SDK reading this process's `AWS_*` variables, then a scan.
#[tokio::test(flavor = "multi_thread")]
async fn child_aws_scan() {
    let Ok(proxy) = std::env::var("IA_CHILD_PROXY") else {
        return;
    };
    let client = RegistryClient::new(&ClientOptions {
        proxy: Some(ProxyOptions::new(&proxy, None, None).expect("proxy")),
        ..ClientOptions::default()
    })
    .expect("client");
    let image = ImageReference::parse(&format!("{ECR}/team/app"), true).expect("image");
    let result = async {
        let creds = client.cloud_credentials(Provider::Aws, &image).await?;
        let user = password(&creds).0;
        let mut tags = client.list_tags(&image, &creds).await?;
        tags.sort();
        Ok::<_, Error>(format!("{user} {}", tags.join(",")))
    }
    .await;
    match result {
        Ok(r) => println!("CHILD-RESULT OK {r}"),
        Err(e) => {
            let kind = format!("{e:?}");
            let kind = kind
                .split([' ', '{', '('])
                .next()
                .unwrap_or_default()
                .to_string();
            println!("CHILD-RESULT ERR {kind}: {e}");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn aws_ecr_login_through_moto() {
    let moto = Moto::start();
    let registry = registry_for("AWS", &moto::ecr_password(moto::ACCOUNT), "team/app");
    let proxy = ForwardProxy::start().await;
    proxy.route(ECR, "/", addr(&registry));
    let proxy_url = proxy.url();
    let moto_url = moto.url();
    let got = tokio::task::spawn_blocking(move || {
        run_aws_child(
            &proxy_url,
            &[
                ("AWS_ENDPOINT_URL", &moto_url),
                ("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE"),
                (
                    "AWS_SECRET_ACCESS_KEY",
                    "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                ),
            ],
        )
    })
    .await
    .expect("child");
    assert_eq!(got, "OK AWS 1.0.0,1.1.0,2.0.0");
    assert_eq!(
        last_registry_basic(&proxy),
        Some(("AWS".into(), moto::ecr_password(moto::ACCOUNT)))
    );
    // The SDK's own call went through the explicit proxy too (Flux's proxied token client).
    let api = format!("{}/", moto.url());
    assert!(
        proxy
            .requests()
            .iter()
            .any(|r| r.method == "POST" && r.target.starts_with(&api)),
        "{:#?}",
        proxy.requests()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn aws_missing_credentials_name_what_to_set() {
    let moto = Moto::start();
    let proxy = ForwardProxy::start().await;
    let proxy_url = proxy.url();
    let moto_url = moto.url();
    let got = tokio::task::spawn_blocking(move || {
        run_aws_child(&proxy_url, &[("AWS_ENDPOINT_URL", &moto_url)])
    })
    .await
    .expect("child");
    assert!(got.starts_with("ERR CloudCredentialsNotFound: no aws credentials found for registry 123456789012.dkr.ecr.us-east-1.amazonaws.com"), "{got}");
    assert!(
        got.contains("set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE"),
        "{got}"
    );
}
