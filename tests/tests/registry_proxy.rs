//! Registry traffic through a real proxy (Debian `tinyproxy`): the explicit proxy of Flux's
//! `spec.proxySecretRef` with and without Basic proxy authentication, and the
//! `HTTP_PROXY`/`NO_PROXY` environment, each checked in tinyproxy's own log.
//!
//! The environment is process-global, so the environment cases run the scan in a child
//! process: this test binary started again with `--exact child_scan_with_env`, the variables
//! set only there. That child test does nothing when run on its own.

use std::process::Command;

use imageautomation_registry::{
    ClientOptions, Credentials, EnvProxy, Error, ImageReference, ProxyOptions, RegistryClient,
};
use imageautomation_tests::cloud_fakes::ForwardProxy;
use imageautomation_tests::registry::{Auth, PASSWORD, Registry, RegistryOptions, USER};
use imageautomation_tests::tinyproxy::TinyProxy;
use secrecy::SecretString;

const PROXY_USER: &str = "proxy-user";
const PROXY_PASSWORD: &str = "pr0xy-s3cret";

fn basic_registry() -> Registry {
    let registry = Registry::start(RegistryOptions {
        auth: Auth::Basic,
        ..RegistryOptions::default()
    });
    registry
        .storage()
        .seed_tags("team/app", &["1.0.0", "1.1.0", "2.0.0"]);
    registry
}

fn client_via(proxy: ProxyOptions) -> RegistryClient {
    RegistryClient::new(&ClientOptions {
        proxy: Some(proxy),
        env_proxy: EnvProxy::default(),
        ..ClientOptions::default()
    })
    .expect("client")
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread")]
async fn scan_goes_through_the_explicit_proxy() {
    let registry = basic_registry();
    let proxy = TinyProxy::start(None);
    let client = client_via(ProxyOptions::new(&proxy.url(), None, None).expect("proxy"));
    let image = ImageReference::parse(&registry.image("team/app"), false).expect("image");
    let tags = client
        .list_tags(&image, &Credentials::basic(USER, PASSWORD))
        .await
        .expect("scan through tinyproxy");
    assert_eq!(sorted(tags), ["1.0.0", "1.1.0", "2.0.0"]);
    // Loopback is not exempt from an explicit proxy (Go's http.ProxyURL): every request,
    // the local registry's HTTPS probe included, went through tinyproxy.
    let requests = proxy.requests();
    let want = format!(
        "GET http://{}/v2/team/app/tags/list?n=1000 HTTP/1.1",
        registry.host()
    );
    assert!(
        requests.iter().any(|r| r == &want),
        "tinyproxy log lacks {want:?}: {requests:#?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn proxy_basic_auth_is_sent_and_its_absence_is_a_clear_407() {
    let registry = basic_registry();
    let proxy = TinyProxy::start(Some((PROXY_USER, PROXY_PASSWORD)));
    let image = ImageReference::parse(&registry.image("team/app"), true).expect("image");
    let creds = Credentials::basic(USER, PASSWORD);

    let with = client_via(
        ProxyOptions::new(
            &proxy.url(),
            Some(PROXY_USER.into()),
            Some(SecretString::from(PROXY_PASSWORD)),
        )
        .expect("proxy"),
    );
    let tags = with
        .list_tags(&image, &creds)
        .await
        .expect("scan with proxy auth");
    assert_eq!(tags.len(), 3);
    let before = proxy.requests().len();
    assert!(before > 0, "{}", proxy.log());

    let without = client_via(ProxyOptions::new(&proxy.url(), None, None).expect("proxy"));
    let err = without.list_tags(&image, &creds).await.expect_err("407");
    let msg = err.to_string();
    assert!(
        matches!(
            err,
            Error::ProxyAuthenticationRequired {
                credentials_sent: false,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(
        msg.contains(&proxy.url()) && msg.contains("407") && msg.contains(&registry.host()),
        "{msg}"
    );
    assert!(
        msg.contains("set the proxy `username` and `password`"),
        "{msg}"
    );
    assert!(err.is_auth() && !err.is_transient());

    let wrong = client_via(
        ProxyOptions::new(
            &proxy.url(),
            Some(PROXY_USER.into()),
            Some(SecretString::from("not-the-password")),
        )
        .expect("proxy"),
    );
    // tinyproxy 1.11 answers a wrong proxy password with 401 and `WWW-Authenticate: Basic
    // realm="Tinyproxy"` (not 407), which a client cannot tell from the registry's own 401:
    // it surfaces as refused credentials.
    let err = wrong.list_tags(&image, &creds).await.expect_err("refused");
    let msg = err.to_string();
    assert!(err.is_auth() && !err.is_transient(), "{err:?}");
    assert!(!msg.contains("not-the-password") && !format!("{err:?}").contains("not-the-password"));
    assert!(
        proxy.requests().len() > before,
        "the refused requests reached tinyproxy"
    );
}

/// An explicit proxy's address in a Secret that is not a URL is refused with the field named.
#[test]
fn invalid_proxy_address_names_the_field() {
    let err = ProxyOptions::new("socks5://proxy:1080", Some("u".into()), Some("pw".into()))
        .expect_err("socks");
    assert!(
        err.to_string().starts_with("invalid proxy address:"),
        "{err}"
    );
    let err = RegistryClient::new(&ClientOptions {
        env_proxy: EnvProxy {
            https_proxy: Some("http://[bad".into()),
            ..EnvProxy::default()
        },
        ..ClientOptions::default()
    })
    .expect_err("bad HTTPS_PROXY");
    assert!(
        err.to_string().starts_with("invalid proxy HTTPS_PROXY:"),
        "{err}"
    );
}

/// What the child prints: `OK <tags>` or `ERR <Debug variant name>: <message>`.
fn run_child(image: &str, env: &[(&str, &str)]) -> String {
    let exe = std::env::current_exe().expect("test binary");
    let mut cmd = Command::new(exe);
    cmd.args([
        "child_scan_with_env",
        "--exact",
        "--nocapture",
        "--test-threads",
        "1",
    ])
    .env("IA_CHILD_IMAGE", image);
    for var in [
        "HTTP_PROXY",
        "http_proxy",
        "HTTPS_PROXY",
        "https_proxy",
        "ALL_PROXY",
        "all_proxy",
        "NO_PROXY",
        "no_proxy",
        "REQUEST_METHOD",
    ] {
        cmd.env_remove(var);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run the child test");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    stdout
        .lines()
        .find_map(|l| l.split_once("CHILD-RESULT ").map(|(_, r)| r))
        .unwrap_or_else(|| {
            panic!(
                "child printed no result: {stdout}\n{}",
                String::from_utf8_lossy(&out.stderr)
            )
        })
        .to_string()
}

/// Runs only as the child of the environment tests (`IA_CHILD_IMAGE` set): a scan with
/// `ClientOptions::default()`, which reads the proxy variables of this process.
#[tokio::test(flavor = "multi_thread")]
async fn child_scan_with_env() {
    let Ok(image) = std::env::var("IA_CHILD_IMAGE") else {
        return;
    };
    let image = ImageReference::parse(&image, true).expect("image");
    let client = RegistryClient::new(&ClientOptions {
        connect_timeout: std::time::Duration::from_secs(3),
        ..ClientOptions::default()
    })
    .expect("client");
    match client
        .list_tags(&image, &Credentials::basic(USER, PASSWORD))
        .await
    {
        Ok(tags) => println!("CHILD-RESULT OK {}", sorted(tags).join(",")),
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

/// `HTTP_PROXY` (and `http_proxy`) carry the scan of a registry named by a host only the
/// proxy can reach: the recording forward proxy of `cloud_fakes`, which sends
/// `registry.example` to the loopback registry (tinyproxy cannot map names, and chained behind
/// it the scan raced tinyproxy's closing of kept-alive connections). `NO_PROXY` sends the scan
/// direct (where the name does not resolve), and a loopback registry is never proxied.
#[tokio::test(flavor = "multi_thread")]
async fn environment_proxies_and_no_proxy() {
    let registry = basic_registry();
    let proxy = ForwardProxy::start().await;
    proxy.route(
        "registry.example",
        "/",
        format!("127.0.0.1:{}", registry.port())
            .parse()
            .expect("addr"),
    );
    let named = "registry.example/team/app";
    let run = |image: String, env: Vec<(&'static str, String)>| {
        tokio::task::spawn_blocking(move || {
            let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
            run_child(&image, &pairs)
        })
    };
    let count = || proxy.requests().len();

    // Upper case.
    let got = run(named.into(), vec![("HTTP_PROXY", proxy.url())])
        .await
        .expect("child");
    assert_eq!(got, "OK 1.0.0,1.1.0,2.0.0");
    let targets: Vec<String> = proxy.requests().into_iter().map(|r| r.target).collect();
    assert!(
        targets
            .iter()
            .any(|t| t == "http://registry.example/v2/team/app/tags/list?n=1000"),
        "{targets:#?}"
    );
    let seen = count();

    // Lower case, and a proxy URL without a scheme.
    let bare = proxy.url().trim_start_matches("http://").to_string();
    let got = run(named.into(), vec![("http_proxy", bare)])
        .await
        .expect("child");
    assert_eq!(got, "OK 1.0.0,1.1.0,2.0.0");
    assert!(count() > seen);
    let seen = count();

    // NO_PROXY: the client goes direct, where registry.example does not resolve.
    for no_proxy in ["registry.example", ".example", "*"] {
        let got = run(
            named.into(),
            vec![
                ("HTTP_PROXY", proxy.url()),
                ("NO_PROXY", no_proxy.to_string()),
            ],
        )
        .await
        .expect("child");
        assert!(
            got.starts_with("ERR Unreachable"),
            "NO_PROXY={no_proxy}: {got}"
        );
        assert_eq!(count(), seen, "NO_PROXY={no_proxy}: the proxy was used");
    }
    let got = run(
        named.into(),
        vec![
            ("HTTP_PROXY", proxy.url()),
            ("no_proxy", "other.example".to_string()),
        ],
    )
    .await
    .expect("child");
    assert_eq!(got, "OK 1.0.0,1.1.0,2.0.0", "no_proxy for another host");
    let seen = count();

    // Loopback is direct even with proxies set and no NO_PROXY (as in Go).
    let got = run(
        registry.image("team/app"),
        vec![("HTTP_PROXY", proxy.url()), ("HTTPS_PROXY", proxy.url())],
    )
    .await
    .expect("child");
    assert_eq!(got, "OK 1.0.0,1.1.0,2.0.0");
    assert_eq!(count(), seen, "loopback went through the proxy");
}
