//! The plugin's network inputs end to end, driven as the Pulumi engine drives it
//! (tests/src/engine.rs): `proxy` (Flux `proxySecretRef`) through a real proxy (Debian
//! `tinyproxy` for the registry, `squid` for Git: HTTPS through `CONNECT`), both with Basic
//! authentication; and `provider: gcp` logging in at a metadata server on
//! loopback, the token reaching the registry.

use imageautomation_proto::codec::{is_secret, secret};
use imageautomation_tests::cloud_fakes::{ForwardProxy, GcpFake};
use imageautomation_tests::engine::{Inputs, Plugin, StackState, Urn, without_secrets};
use imageautomation_tests::git_server::{GitHttpServer, git, seed_repo};
use imageautomation_tests::registry::{Auth, Registry, RegistryOptions};
use imageautomation_tests::squid::Squid;
use imageautomation_tests::tinyproxy::TinyProxy;
use serde_json::{Value, json};

const TOKEN: &str = "ghp_networkTestsToken0123456789";
const PROXY_USER: &str = "fleet-proxy";
const PROXY_PASSWORD: &str = "proxy-s3cret-passw0rd";
const REPO: &str = "imageautomation:index:ImageRepository";
const POLICY: &str = "imageautomation:index:ImagePolicy";
const AUTOMATION: &str = "imageautomation:index:UpdateAutomation";

fn deployment(image: &str, tag: &str) -> String {
    format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app\nspec:\n  template:\n    spec:\n      containers:\n        - name: app\n          image: {image}:{tag} # {{\"$imagepolicy\": \"flux-system:app\"}}\n"
    )
}

/// ImageRepository `app` (with `repository` extra inputs), ImagePolicy semver `1.x`, and,
/// when `git` is given, an UpdateAutomation pushing to `main` (with `git` extra inputs).
fn program(repository: Value, git: Option<Value>) -> Vec<(Urn, Inputs)> {
    let mut program: Vec<(Urn, Inputs)> = vec![
        (
            Urn::new(REPO, "app"),
            Box::new(move |_: &StackState| repository.clone()),
        ),
        (
            Urn::new(POLICY, "appPolicy"),
            Box::new(|s: &StackState| {
                json!({
                    "name": "app",
                    "imageRepositoryRef": s["app"].outputs["imageRepositoryRef"],
                    "policy": {"semver": {"range": "1.x"}},
                })
            }),
        ),
    ];
    if let Some(git) = git {
        program.push((
            Urn::new(AUTOMATION, "fleet"),
            Box::new(move |s: &StackState| {
                let mut g = git.clone();
                g["auth"] = json!({"token": secret(json!(TOKEN))});
                g["checkout"] = json!({"ref": {"branch": "main"}});
                g["commit"] = json!({"author": {"name": "Flux Bot", "email": "flux@example.com"}});
                g["push"] = json!({"branch": "main"});
                json!({
                    "git": g,
                    "policies": [s["appPolicy"].outputs["imagePolicyRef"]],
                })
            }),
        ));
    }
    program
}

fn proxy_input(proxy: &TinyProxy) -> Value {
    json!({"address": proxy.url(), "username": PROXY_USER, "password": secret(json!(PROXY_PASSWORD))})
}

/// Everything the plugin printed, logged or returned, secrets removed.
fn everything(state: &StackState, output: &str, logs: &[String]) -> String {
    let mut all = output.to_owned();
    for r in state.values() {
        all.push_str(&without_secrets(&r.outputs).to_string());
        all.push_str(&without_secrets(&r.inputs).to_string());
    }
    for l in logs {
        all.push_str(l);
    }
    all
}

/// A registry with `team/app` 1.0.0 and 1.2.0, and an HTTPS Git server whose `fleet`
/// repository deploys 1.0.0: (registry, image, server, bare repository, head of `main`).
fn fleet() -> (Registry, String, GitHttpServer, std::path::PathBuf, String) {
    let registry = Registry::anonymous();
    registry
        .storage()
        .seed_tags("team/app", &["1.0.0", "1.2.0"]);
    let image = registry.image("team/app");
    let server = GitHttpServer::start_tls(&[("x-access-token", TOKEN)]);
    let bare = server.create_repo("fleet");
    let head = seed_repo(
        &bare,
        "main",
        &[("app.yaml", deployment(&image, "1.0.0").as_str())],
        "initial",
    );
    (registry, image, server, bare, head)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_proxy_input_carries_the_scan_the_clone_and_the_push() {
    let (registry, image, server, bare, before) = fleet();
    // libgit2 fails a CONNECT after tinyproxy's 407 ("http parser error: Expected HTTP/"),
    // so Git goes through squid; both demand Basic authentication.
    let git_proxy = Squid::start(Some((PROXY_USER, PROXY_PASSWORD)));
    let proxy = TinyProxy::start(Some((PROXY_USER, PROXY_PASSWORD)));

    let program = program(
        json!({"image": image, "interval": "1m", "proxy": proxy_input(&proxy)}),
        Some(json!({
            "url": server.url("fleet"),
            "caPem": server.ca_pem,
            "proxy": {"address": git_proxy.url(), "username": PROXY_USER, "password": secret(json!(PROXY_PASSWORD))},
        })),
    );
    let mut plugin = Plugin::start(&[]).await;
    plugin.configure(json!({})).await.expect("configure");
    let mut state = StackState::new();
    plugin
        .deploy(&program, &mut state, false)
        .await
        .expect("up through the proxy");
    let logs: Vec<String> = plugin.logs().into_iter().map(|l| l.message).collect();
    let (_, output) = plugin.stop().await;

    let head = git(&bare, &["rev-parse", "main"]).trim().to_owned();
    assert_ne!(head, before, "the bump was pushed");
    assert!(git(&bare, &["show", "main:app.yaml"]).contains(":1.2.0 #"));
    let requests = proxy.requests().join("\n");
    let port = registry.port();
    let scan = format!("GET http://127.0.0.1:{port}/v2/team/app/tags/list");
    assert!(requests.contains(&scan), "no {scan:?} in:\n{requests}");
    // ls-remote, fetch, push: each a CONNECT tunnel to the Git server that squid let through
    // for the proxy user (HTTPS is end to end).
    let git_port = server.url("fleet");
    let git_port = git_port.split(':').nth(2).and_then(|p| p.split('/').next());
    let tunnel = format!(
        "CONNECT 127.0.0.1:{} {PROXY_USER} ",
        git_port.expect("port")
    );
    let log = git_proxy.log();
    let tunnels = log
        .lines()
        .filter(|l| l.contains("TCP_TUNNEL/200") && l.contains(&tunnel))
        .count();
    assert!(tunnels >= 3, "{log}");
    assert!(
        is_secret(&state["app"].outputs["proxy"]["password"])
            && is_secret(&state["app"].outputs["imageRepositoryRef"]["proxy"]["password"])
            && is_secret(&state["fleet"].outputs["git"]["proxy"]["password"])
    );
    let all = everything(&state, &output, &logs);
    assert!(!all.contains(PROXY_PASSWORD), "the proxy password leaked");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_proxy_password_or_address_is_a_clear_failure() {
    let registry = Registry::anonymous();
    registry.storage().seed_tags("team/app", &["1.0.0"]);
    let image = registry.image("team/app");
    let proxy = TinyProxy::start(Some((PROXY_USER, PROXY_PASSWORD)));
    let mut plugin = Plugin::start(&[]).await;
    plugin.configure(json!({})).await.expect("configure");

    let failures = plugin
        .check(
            &Urn::new(REPO, "app"),
            &json!({}),
            &json!({"image": image, "proxy": {"address": "socks5://127.0.0.1:1080"}}),
        )
        .await
        .expect("Check answers")
        .expect_err("a SOCKS address is refused");
    assert_eq!(failures[0].0, "proxy", "{failures:?}");
    assert!(failures[0].1.contains("http://host:port"), "{failures:?}");

    let mut state = StackState::new();
    let no_password = json!({"image": image, "interval": "1m", "proxy": {"address": proxy.url()}});
    let err = plugin
        .deploy(&program(no_password, None), &mut state, false)
        .await
        .expect_err("the proxy wants credentials");
    assert!(err.message().contains("407"), "{}", err.message());
    assert!(err.message().contains(&proxy.url()), "{}", err.message());
    plugin.stop().await;
}

/// `provider: gcp`: the plugin logs in at the metadata server named by `GCE_METADATA_HOST`
/// and the registry (behind a forward proxy that maps `eu.gcr.io` to it) accepts exactly that
/// token; the token never reaches the state or any output.
#[tokio::test(flavor = "multi_thread")]
async fn a_gcp_provider_logs_in_and_its_token_reaches_the_registry() {
    let gcp = GcpFake::start(vec![3599]).await;
    let token = GcpFake::token(1);
    let registry = Registry::start(RegistryOptions {
        auth: Auth::Users(vec![("oauth2accesstoken".into(), token.clone())]),
        ..RegistryOptions::default()
    });
    registry
        .storage()
        .seed_tags("test-project/app", &["1.0.0", "1.2.0"]);
    let forward = ForwardProxy::start().await;
    let addr = format!("127.0.0.1:{}", registry.port())
        .parse()
        .expect("address");
    forward.route("eu.gcr.io", "/", addr);

    let metadata = gcp.metadata_host();
    let mut plugin = Plugin::start(&[("GCE_METADATA_HOST", metadata.as_str())]).await;
    plugin.configure(json!({})).await.expect("configure");
    let repository = json!({
        "image": "eu.gcr.io/test-project/app",
        "insecure": true,
        "interval": "1m",
        "provider": "gcp",
        "proxy": {"address": forward.url()},
    });
    let mut state = StackState::new();
    plugin
        .deploy(&program(repository, None), &mut state, false)
        .await
        .expect("up with a gcp login");
    let logs: Vec<String> = plugin.logs().into_iter().map(|l| l.message).collect();
    let (_, output) = plugin.stop().await;

    assert_eq!(state["app"].outputs["tags"], json!(["1.2.0", "1.0.0"]));
    assert_eq!(
        state["appPolicy"].outputs["latestRef"]["tag"],
        json!("1.2.0")
    );
    let sent: Vec<_> = forward
        .requests()
        .iter()
        .filter_map(|r| r.basic())
        .collect();
    assert!(
        sent.contains(&("oauth2accesstoken".to_owned(), token.clone())),
        "{sent:?}"
    );
    assert_eq!(gcp.issued().len(), 1);
    assert!(gcp.violations().is_empty(), "{:?}", gcp.violations());
    let all = everything(&state, &output, &logs);
    assert!(!all.contains(&token), "the cloud token leaked");

    // A host that is not Google's is refused by Check, naming the provider.
    let mut plugin = Plugin::start(&[]).await;
    plugin.configure(json!({})).await.expect("configure");
    let failures = plugin
        .check(
            &Urn::new(REPO, "app"),
            &json!({}),
            &json!({"image": "ghcr.io/org/app", "provider": "gcp"}),
        )
        .await
        .expect("Check answers")
        .expect_err("ghcr.io is not Google's");
    assert_eq!(failures[0].0, "provider", "{failures:?}");
    assert!(failures[0].1.contains("gcr.io"), "{failures:?}");
    plugin.stop().await;
}

/// Without a `proxy` input, Git over HTTPS follows the environment: `HTTPS_PROXY` or
/// `https_proxy` carries a remote named `0.0.0.0` (not loopback by name; Linux connects it to
/// the loopback listener, and the test certificate names it), `NO_PROXY` naming the host goes
/// direct, and a `127.0.0.1` remote is never sent to an environment proxy (Go's rule, which
/// Flux follows).
#[tokio::test(flavor = "multi_thread")]
async fn git_follows_the_environments_https_proxy_and_no_proxy() {
    let (_registry, image, server, _bare, _) = fleet();
    let proxy = TinyProxy::start(None);
    let loopback_url = server.url("fleet");
    let named_url = loopback_url.replacen("127.0.0.1", "0.0.0.0", 1);
    let port = loopback_url
        .split(':')
        .nth(2)
        .and_then(|p| p.split('/').next());
    let port = port.expect("port").to_owned();
    let tunnels = || {
        proxy
            .requests()
            .iter()
            .filter(|r| r.starts_with("CONNECT ") && r.contains(&format!(":{port} ")))
            .count()
    };
    let proxy_url = proxy.url();
    for (env, url, proxied) in [
        (vec![("HTTPS_PROXY", proxy_url.as_str())], &named_url, true),
        (vec![("https_proxy", proxy_url.as_str())], &named_url, true),
        (
            vec![("HTTPS_PROXY", proxy_url.as_str()), ("NO_PROXY", "0.0.0.0")],
            &named_url,
            false,
        ),
        (
            vec![("HTTPS_PROXY", proxy_url.as_str())],
            &loopback_url,
            false,
        ),
    ] {
        let before = tunnels();
        let mut plugin = Plugin::start(&env).await;
        plugin.configure(json!({})).await.expect("configure");
        let program = program(
            json!({"image": image, "interval": "1m"}),
            Some(json!({"url": url, "caPem": server.ca_pem})),
        );
        let mut state = StackState::new();
        plugin
            .deploy(&program, &mut state, true)
            .await
            .unwrap_or_else(|e| panic!("preview with {env:?} of {url}: {}", e.message()));
        plugin.stop().await;
        assert_eq!(
            tunnels() > before,
            proxied,
            "{env:?} {url}: {:?}",
            proxy.requests()
        );
    }
}
