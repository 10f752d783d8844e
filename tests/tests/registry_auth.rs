//! Authentication against the real registry: htpasswd Basic, token (Bearer) auth through the
//! token server, Docker config JSON credentials; wrong and missing credentials.

use imageautomation_registry::{
    ClientOptions, Credentials, DockerConfig, Error, ImageReference, RegistryClient,
};
use imageautomation_tests::registry::{Auth, PASSWORD, Proxy, Registry, RegistryOptions, USER};

fn client() -> RegistryClient {
    RegistryClient::new(&ClientOptions::default()).expect("client")
}

fn image(s: &str) -> ImageReference {
    ImageReference::parse(s, false).expect("valid image")
}

fn good() -> Credentials {
    Credentials::basic(USER, PASSWORD)
}

fn wrong() -> Credentials {
    Credentials::basic(USER, "wrong-password-42")
}

/// No message or Debug output may contain a password.
fn assert_no_secret(err: &Error) {
    for text in [err.to_string(), format!("{err:?}")] {
        assert!(!text.contains(PASSWORD), "{text}");
        assert!(!text.contains("wrong-password-42"), "{text}");
        assert!(!text.contains("refresh-me-123"), "{text}");
    }
}

fn token_registry(anonymous_pull: bool) -> Registry {
    Registry::start(RegistryOptions {
        auth: Auth::Token {
            anonymous_pull,
            deny: vec!["secret/repo".into()],
            refresh_tokens: vec!["refresh-me-123".into()],
        },
        ..RegistryOptions::default()
    })
}

#[tokio::test]
async fn htpasswd_basic_auth() {
    let registry = Registry::start(RegistryOptions {
        auth: Auth::Basic,
        ..RegistryOptions::default()
    });
    registry
        .storage()
        .seed_tags("team/app", &["1.0.0", "1.1.0"]);
    let img = image(&registry.image("team/app"));
    let c = client();

    let mut tags = c.list_tags(&img, &good()).await.expect("right credentials");
    tags.sort();
    assert_eq!(tags, ["1.0.0", "1.1.0"]);
    assert!(
        c.digest(&img, "1.0.0", &good())
            .await
            .expect("digest")
            .starts_with("sha256:")
    );

    let err = c
        .list_tags(&img, &Credentials::Anonymous)
        .await
        .expect_err("missing");
    assert!(
        matches!(err, Error::AuthenticationRequired { .. }),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(
        msg.contains(&registry.host()) && msg.contains("credentials"),
        "{msg}"
    );
    assert!(!err.is_transient());

    let err = client().list_tags(&img, &wrong()).await.expect_err("wrong");
    assert!(
        matches!(err, Error::AuthenticationFailed { status: 401, .. }),
        "{err:?}"
    );
    assert!(err.is_auth() && !err.is_transient());
    assert_no_secret(&err);
}

#[tokio::test]
async fn docker_config_credentials() {
    let registry = Registry::start(RegistryOptions {
        auth: Auth::Basic,
        ..RegistryOptions::default()
    });
    registry.storage().seed_tags("team/app", &["1.0.0"]);
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("config.json");
    let auth = base64_encode(&format!("{USER}:{PASSWORD}"));
    std::fs::write(
        &path,
        format!(
            r#"{{"auths": {{"{}": {{"auth": "{auth}"}}}}}}"#,
            registry.host()
        ),
    )
    .expect("write");
    let config = DockerConfig::from_file(&path).expect("config");
    assert!(!format!("{config:?}").contains(PASSWORD));
    let creds = config.credentials_for(&registry.host());
    let tags = client()
        .list_tags(&image(&registry.image("team/app")), &creds)
        .await
        .expect("config credentials");
    assert_eq!(tags, ["1.0.0"]);
}

#[tokio::test]
async fn bearer_token_flow_with_credentials_and_anonymously() {
    let registry = token_registry(true);
    registry
        .storage()
        .seed_tags("team/app", &["1.0.0", "2.0.0"]);
    registry.storage().seed_tags("secret/repo", &["1.0.0"]);
    let img = image(&registry.image("team/app"));

    let tags = client()
        .list_tags(&img, &Credentials::Anonymous)
        .await
        .expect("anonymous pull");
    assert_eq!(tags.len(), 2);
    let c = client();
    c.list_tags(&img, &good()).await.expect("alice");
    c.digest(&img, "2.0.0", &good())
        .await
        .expect("digest with the same token");
    let log = registry.token_log();
    assert!(log.contains(r#""user": null"#), "{log}");
    assert!(log.contains(r#""user": "alice""#), "{log}");
    assert!(log.contains("repository:team/app:pull"), "{log}");
    // One token for alice, reused by the digest request.
    assert_eq!(log.matches(r#""user": "alice""#).count(), 1, "{log}");

    let err = client()
        .list_tags(&img, &wrong())
        .await
        .expect_err("wrong password");
    assert!(matches!(err, Error::AuthenticationFailed { .. }), "{err:?}");
    assert_no_secret(&err);

    let denied = image(&registry.image("secret/repo"));
    let err = client()
        .list_tags(&denied, &good())
        .await
        .expect_err("denied");
    assert!(matches!(err, Error::AuthenticationFailed { .. }), "{err:?}");
    assert!(err.to_string().contains("secret/repo"), "{err}");
}

#[tokio::test]
async fn bearer_token_flow_requires_credentials_without_anonymous_pull() {
    let registry = token_registry(false);
    registry.storage().seed_tags("team/app", &["1.0.0"]);
    let img = image(&registry.image("team/app"));
    let err = client()
        .list_tags(&img, &Credentials::Anonymous)
        .await
        .expect_err("anon");
    assert!(
        matches!(err, Error::AuthenticationRequired { .. }),
        "{err:?}"
    );
    assert_eq!(
        client().list_tags(&img, &good()).await.expect("alice"),
        ["1.0.0"]
    );
}

/// Docker config `identitytoken`: an OAuth2 refresh token exchanged at the realm by POST.
#[tokio::test]
async fn identity_token_from_docker_config() {
    let registry = token_registry(false);
    registry.storage().seed_tags("team/app", &["1.0.0"]);
    let json = format!(
        r#"{{"auths": {{"{}": {{"identitytoken": "refresh-me-123"}}}}}}"#,
        registry.host()
    );
    let config = DockerConfig::from_json(json.as_bytes(), "test").expect("config");
    let creds = config.credentials_for(&registry.host());
    let img = image(&registry.image("team/app"));
    assert_eq!(
        client()
            .list_tags(&img, &creds)
            .await
            .expect("refresh token"),
        ["1.0.0"]
    );
    assert!(registry.token_log().contains(r#""method": "POST""#));

    let bad = Credentials::IdentityToken {
        token: "not-a-refresh-token".to_string().into(),
    };
    let err = client().list_tags(&img, &bad).await.expect_err("bad token");
    assert!(matches!(err, Error::AuthenticationFailed { .. }), "{err:?}");
    assert_no_secret(&err);
}

/// Token auth and pagination together: one token serves every page.
#[tokio::test]
async fn pages_share_one_token() {
    let registry = token_registry(false);
    let tags = imageautomation_tests::registry::semver_tags(250);
    registry.storage().seed_tags("team/app", &tags);
    let proxy = Proxy::start(&registry.host(), &["--max-page", "100"]);
    let got = client()
        .list_tags(&image(&proxy.image("team/app")), &good())
        .await
        .expect("three pages");
    assert_eq!(got.len(), 250);
    assert_eq!(registry.token_log().lines().count(), 1);
}

fn base64_encode(s: &str) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let bytes = s.as_bytes();
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}
