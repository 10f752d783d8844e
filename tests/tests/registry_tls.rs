//! TLS against the real registry under a test CA: the CA bundle option, verification failures,
//! and client certificates.

use imageautomation_registry::{
    ClientOptions, Credentials, Error, ImageReference, RegistryClient, TlsOptions,
};
use imageautomation_tests::registry::{Auth, PASSWORD, Registry, RegistryOptions, USER, certs};

fn image(s: &str) -> ImageReference {
    ImageReference::parse(s, false).expect("valid image")
}

fn read(p: &std::path::Path) -> Vec<u8> {
    std::fs::read(p).expect("read cert")
}

fn client(tls: TlsOptions) -> RegistryClient {
    RegistryClient::new(&ClientOptions {
        tls,
        ..ClientOptions::default()
    })
    .expect("client")
}

fn with_ca() -> TlsOptions {
    TlsOptions {
        ca_pem: Some(read(&certs().ca)),
        ..TlsOptions::default()
    }
}

#[tokio::test]
async fn https_with_the_ca_bundle_and_basic_auth() {
    let registry = Registry::start(RegistryOptions {
        auth: Auth::Basic,
        tls: true,
        ..RegistryOptions::default()
    });
    registry.storage().seed_tags("team/app", &["1.0.0"]);
    let (index, _) = registry.storage().seed_index("team/app", "2.0.0");
    let img = image(&registry.image("team/app"));
    let c = client(with_ca());
    let creds = Credentials::basic(USER, PASSWORD);
    let mut tags = c.list_tags(&img, &creds).await.expect("tls");
    tags.sort();
    assert_eq!(tags, ["1.0.0", "2.0.0"]);
    assert_eq!(
        c.digest(&img, "2.0.0", &creds).await.expect("digest"),
        index
    );
}

#[tokio::test]
async fn unknown_ca_is_a_tls_error_that_names_the_ca_option() {
    let registry = Registry::start(RegistryOptions {
        tls: true,
        ..RegistryOptions::default()
    });
    registry.storage().seed_tags("team/app", &["1.0.0"]);
    let err = client(TlsOptions::default())
        .list_tags(&image(&registry.image("team/app")), &Credentials::Anonymous)
        .await
        .expect_err("unknown CA");
    assert!(matches!(err, Error::Tls { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains("CA bundle") && msg.contains("--ca-file"),
        "{msg}"
    );
    assert!(!err.is_transient());
}

#[tokio::test]
async fn client_certificates() {
    let registry = Registry::start(RegistryOptions {
        client_certs: true,
        ..RegistryOptions::default()
    });
    registry.storage().seed_tags("team/app", &["1.0.0"]);
    let img = image(&registry.image("team/app"));

    let err = client(with_ca())
        .list_tags(&img, &Credentials::Anonymous)
        .await
        .expect_err("no client certificate");
    assert!(
        matches!(err, Error::Tls { .. } | Error::Unreachable { .. }),
        "{err:?}"
    );

    let tls = TlsOptions {
        client_cert_pem: Some(read(&certs().client_cert)),
        client_key_pem: Some(
            String::from_utf8(read(&certs().client_key))
                .expect("pem")
                .into(),
        ),
        ..with_ca()
    };
    let tags = client(tls)
        .list_tags(&img, &Credentials::Anonymous)
        .await
        .expect("client certificate");
    assert_eq!(tags, ["1.0.0"]);
}

/// Token auth with the registry and its token realm both on HTTPS under the private CA: the CA
/// bundle applies to the realm too.
#[tokio::test]
async fn https_token_auth_with_the_ca_bundle() {
    let registry = Registry::start(RegistryOptions {
        auth: Auth::Token {
            anonymous_pull: false,
            deny: Vec::new(),
            refresh_tokens: Vec::new(),
        },
        tls: true,
        ..RegistryOptions::default()
    });
    registry.storage().seed_tags("team/app", &["1.0.0"]);
    let img = image(&registry.image("team/app"));
    let tags = client(with_ca())
        .list_tags(&img, &Credentials::basic(USER, PASSWORD))
        .await
        .expect("https token flow");
    assert_eq!(tags, ["1.0.0"]);
    assert!(registry.token_log().contains(r#""user": "alice""#));
    let err = client(with_ca())
        .list_tags(&img, &Credentials::Anonymous)
        .await
        .expect_err("no credentials");
    assert!(
        matches!(err, Error::AuthenticationRequired { .. }),
        "{err:?}"
    );
}
