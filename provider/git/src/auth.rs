//! Credentials and server trust for Git remotes, handed to libgit2 through its
//! callbacks only: a token or password never appears in a remote URL (so never
//! in `.git/config`), in a log line or in an error message.
//!
//! Mirrors what Flux reads from a GitRepository's `spec.secretRef` (flux-spec
//! 5.2): `username`/`password` or a bearer-style token for HTTPS, `ca.crt` for
//! a private CA, `identity`/`identity.pub`/`known_hosts` for SSH.

use imageautomation_model::url_forms::ScpLike;
use std::cell::RefCell;

use git2::{CertificateCheckStatus, Cred, CredentialType, RemoteCallbacks};
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, ServerName, TrustAnchor, UnixTime};
use secrecy::{ExposeSecret, SecretString};

use crate::error::Error;
use crate::known_hosts::{KnownHosts, Verdict, host_name, key_type};
pub use imageautomation_model::args::Proxy;

/// The user name GitHub expects with an installation or personal access token.
pub const TOKEN_USERNAME: &str = "x-access-token";

/// How to authenticate to the Git server.
#[derive(Clone, Default)]
pub enum Credentials {
    /// No credentials (public repositories, `file://`).
    #[default]
    Anonymous,
    /// HTTPS with a token, sent as HTTP Basic `x-access-token:<token>`
    /// (GitHub App installation tokens, personal access tokens).
    Token(SecretString),
    /// HTTPS with HTTP Basic `username:password`.
    Basic {
        /// The user name.
        username: String,
        /// The password or token.
        password: SecretString,
    },
    /// SSH with a private key. The server's host key must be in
    /// [`Auth::known_hosts`].
    SshKey {
        /// The private key in OpenSSH or PEM format (Flux secret key
        /// `identity`).
        private_key: SecretString,
        /// The key's passphrase when it is encrypted (Flux `password`).
        passphrase: Option<SecretString>,
    },
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credentials::Anonymous => f.write_str("Anonymous"),
            Credentials::Token(_) => f.write_str("Token([redacted])"),
            Credentials::Basic { username, .. } => {
                write!(
                    f,
                    "Basic {{ username: {username:?}, password: [redacted] }}"
                )
            }
            Credentials::SshKey { .. } => f.write_str("SshKey([redacted])"),
        }
    }
}

/// Credentials plus the trust settings for the server.
#[derive(Debug, Clone, Default)]
pub struct Auth {
    /// The credentials.
    pub credentials: Credentials,
    /// PEM CA certificates trusted for HTTPS in addition to the system's
    /// (Flux secret key `ca.crt`). The server's certificate must chain
    /// directly to one of them. `None`: system roots only.
    pub ca_bundle: Option<String>,
    /// `known_hosts` text for SSH remotes (Flux secret key `known_hosts`).
    /// Required for `ssh://` URLs: an unknown host key is refused.
    pub known_hosts: Option<String>,
    /// The proxy for HTTP(S) remotes (the GitRepository's `proxySecretRef`), with Basic
    /// authentication when it has a username; it carries loopback remotes too. `None`:
    /// libgit2's automatic proxy, which honours `https_proxy`/`HTTPS_PROXY` and
    /// `no_proxy`/`NO_PROXY` (libgit2 `git_remote__http_proxy`, 1.9), except for loopback
    /// remotes (`localhost`, `127.0.0.0/8`, `::1`), which Go (and so Flux) never sends to an
    /// environment proxy. libgit2 sends only `https://` remotes through a proxy (`CONNECT`);
    /// plain `http://` and SSH remotes never use one.
    pub proxy: Option<Proxy>,
}

impl Auth {
    /// The secrets that must never appear in a message.
    pub(crate) fn secrets(&self) -> Vec<String> {
        let proxy = self
            .proxy
            .as_ref()
            .and_then(|p| p.password.as_ref())
            .map(|p| p.expose_secret().to_string());
        let mut secrets = self.credential_secrets();
        secrets.extend(proxy);
        secrets
    }

    /// libgit2's proxy setting: the explicit proxy as a URL with its credentials (never shown:
    /// libgit2's messages go through [`redact`]), else automatic.
    pub(crate) fn proxy_options(
        &self,
        remote: &RemoteUrl,
    ) -> Result<git2::ProxyOptions<'static>, Error> {
        let mut options = git2::ProxyOptions::new();
        let Some(proxy) = &self.proxy else {
            if !remote.is_loopback() {
                options.auto();
            }
            return Ok(options);
        };
        let mut url = proxy.url().map_err(|reason| Error::InvalidSpec {
            field: "git.proxy",
            reason,
        })?;
        if remote.scheme == Scheme::Http {
            // libgit2 1.9 writes the absolute URL for a proxy but connects to the server
            // itself for plain http:// (httpclient.c `use_connect_proxy`): refuse rather
            // than go around the proxy.
            return Err(Error::InvalidSpec {
                field: "git.proxy",
                reason: format!(
                    "{} is plain http://, which libgit2 does not send through a proxy; use the https:// URL",
                    remote.display
                ),
            });
        }
        // The url crate percent-encodes user info; libgit2 decodes it.
        if let Some(user) = &proxy.username {
            let _ = url.set_username(user);
            let _ = url.set_password(proxy.password.as_ref().map(|p| p.expose_secret()));
        }
        options.url(url.as_str());
        Ok(options)
    }

    fn credential_secrets(&self) -> Vec<String> {
        match &self.credentials {
            Credentials::Anonymous => Vec::new(),
            Credentials::Token(t) => vec![t.expose_secret().to_string()],
            Credentials::Basic { password, .. } => vec![password.expose_secret().to_string()],
            Credentials::SshKey {
                private_key,
                passphrase,
            } => {
                let mut v = vec![private_key.expose_secret().to_string()];
                v.extend(passphrase.iter().map(|p| p.expose_secret().to_string()));
                v
            }
        }
    }
}

/// A remote URL, checked and split for the callbacks.
#[derive(Debug, Clone)]
pub(crate) struct RemoteUrl {
    /// What libgit2 connects to (no password in it).
    pub url: String,
    /// For messages: the URL without user info.
    pub display: String,
    pub scheme: Scheme,
    pub port: u16,
    pub username: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scheme {
    Http,
    Https,
    Ssh,
    File,
}

impl RemoteUrl {
    /// The host is `localhost` or a loopback address.
    pub(crate) fn is_loopback(&self) -> bool {
        url::Url::parse(&self.url)
            .ok()
            .is_some_and(|u| match u.host() {
                Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
                Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
                Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
                None => false,
            })
    }

    /// Parses `http(s)://`, `ssh://`, scp-like `user@host:path` and `file://`
    /// URLs.
    pub(crate) fn parse(raw: &str) -> Result<Self, Error> {
        if let Some(scp) = ScpLike::parse(raw) {
            return Ok(RemoteUrl {
                url: raw.to_string(),
                display: format!("{}:{}", scp.host, scp.path),
                scheme: Scheme::Ssh,
                port: 22,
                username: scp.user.map(str::to_owned),
            });
        }
        let parsed = url::Url::parse(raw).map_err(|e| Error::InvalidUrl {
            url: display_url(raw),
            reason: format!("{e}; use https://host/org/repo.git, ssh://user@host[:port]/org/repo.git, user@host:org/repo.git or file:///path"),
        })?;
        let mut display = parsed.clone();
        let _ = display.set_username("");
        let _ = display.set_password(None);
        let display = display.to_string();
        if parsed.password().is_some() {
            return Err(Error::InvalidUrl {
                url: display,
                reason: "the URL carries a password; remove it and pass it as credentials instead, so it is never stored in .git/config".into(),
            });
        }
        let scheme = match parsed.scheme() {
            "http" => Scheme::Http,
            "https" => Scheme::Https,
            "ssh" => Scheme::Ssh,
            "file" => Scheme::File,
            other => {
                return Err(Error::InvalidUrl {
                    url: display,
                    reason: format!("unsupported scheme {other:?}; use https, http, ssh or file"),
                });
            }
        };
        let username = Some(parsed.username())
            .filter(|u| !u.is_empty())
            .map(str::to_string);
        Ok(RemoteUrl {
            url: raw.to_string(),
            display,
            scheme,
            port: parsed.port_or_known_default().unwrap_or(22),
            username,
        })
    }
}

/// `raw` for a message: parsed by the `url` crate and shown without user info; a URL that does
/// not parse is not shown when it has an `@` (its user info cannot be told from the rest).
fn display_url(raw: &str) -> String {
    match url::Url::parse(raw) {
        Ok(mut url) => {
            let _ = url.set_username("");
            let _ = url.set_password(None);
            url.to_string()
        }
        Err(_) if raw.contains('@') => "[a URL that does not parse, not shown]".to_owned(),
        Err(_) => raw.to_owned(),
    }
}

/// Removes secrets, then the user info of every URL (`scheme://...` up to white space) in a
/// message, by [`display_url`].
pub(crate) fn redact(message: &str, secrets: &[String]) -> String {
    let mut out = message.to_owned();
    for s in secrets.iter().filter(|s| s.len() >= 4) {
        out = out.replace(s.as_str(), "[redacted]");
    }
    static URLS: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"[A-Za-z][A-Za-z0-9+.-]*://\S+").expect("static regex is valid")
    });
    URLS.replace_all(&out, |c: &regex::Captures<'_>| display_url(&c[0]))
        .into_owned()
}

/// What the callbacks saw, read after an operation fails.
#[derive(Debug, Default)]
pub(crate) struct CallbackState {
    userpass_attempts: u32,
    key_attempts: u32,
    pub auth_rejected: bool,
    pub no_credentials: bool,
    pub trust_error: Option<Error>,
    /// libssh2 could not load the private key (format, passphrase).
    pub key_error: Option<String>,
    /// `(ref, message)` for each ref the server refused.
    pub rejected: Vec<(String, String)>,
}

/// Prepared trust material (parsed once per operation).
pub(crate) struct Trust {
    known_hosts: Option<KnownHosts>,
    anchors: Vec<TrustAnchor<'static>>,
}

impl Trust {
    pub(crate) fn new(auth: &Auth, remote: &RemoteUrl) -> Result<Self, Error> {
        let known_hosts = match (&auth.known_hosts, remote.scheme) {
            (Some(text), _) => Some(KnownHosts::parse(text)?),
            (None, Scheme::Ssh) => {
                return Err(Error::InvalidSpec {
                    field: "known_hosts",
                    reason: format!(
                        "{} is an SSH URL but no known_hosts was given; host keys are never accepted blindly",
                        remote.display
                    ),
                });
            }
            (None, _) => None,
        };
        let mut anchors = Vec::new();
        if let Some(pem) = &auth.ca_bundle {
            let bad = |reason: String| Error::InvalidTrust {
                what: "CA bundle",
                reason,
            };
            for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
                let cert = cert.map_err(|e| bad(format!("not PEM certificates: {e}")))?;
                let anchor = webpki::anchor_from_trusted_cert(&cert)
                    .map_err(|e| bad(format!("unusable CA certificate: {e}")))?;
                anchors.push(anchor.to_owned());
            }
            if anchors.is_empty() {
                return Err(bad("no certificate found".into()));
            }
        }
        Ok(Trust {
            known_hosts,
            anchors,
        })
    }
}

/// Builds the callbacks for one operation on `remote`.
pub(crate) fn callbacks<'a>(
    auth: &'a Auth,
    remote: &'a RemoteUrl,
    trust: &'a Trust,
    state: &'a RefCell<CallbackState>,
) -> RemoteCallbacks<'a> {
    let mut cb = RemoteCallbacks::new();
    cb.credentials(move |_url, username_from_url, allowed| {
        let mut st = state.borrow_mut();
        let fail = |st: &mut CallbackState| {
            st.auth_rejected = true;
            Err(git2::Error::from_str("the server rejected the credentials"))
        };
        match &auth.credentials {
            Credentials::Anonymous => {
                st.no_credentials = true;
                Err(git2::Error::from_str(
                    "the server asks for credentials but none are configured",
                ))
            }
            Credentials::Token(token) if allowed.contains(CredentialType::USER_PASS_PLAINTEXT) => {
                st.userpass_attempts += 1;
                if st.userpass_attempts > 1 {
                    return fail(&mut st);
                }
                Cred::userpass_plaintext(TOKEN_USERNAME, token.expose_secret())
            }
            Credentials::Basic { username, password }
                if allowed.contains(CredentialType::USER_PASS_PLAINTEXT) =>
            {
                st.userpass_attempts += 1;
                if st.userpass_attempts > 1 {
                    return fail(&mut st);
                }
                Cred::userpass_plaintext(username, password.expose_secret())
            }
            Credentials::SshKey {
                private_key,
                passphrase,
            } => {
                let user = username_from_url
                    .map(str::to_string)
                    .or_else(|| remote.username.clone())
                    .unwrap_or_else(|| "git".to_string());
                if allowed.contains(CredentialType::USERNAME) {
                    return Cred::username(&user);
                }
                if !allowed.contains(CredentialType::SSH_KEY) {
                    return fail(&mut st);
                }
                st.key_attempts += 1;
                if st.key_attempts > 1 {
                    return fail(&mut st);
                }
                Cred::ssh_key_from_memory(
                    &user,
                    None,
                    private_key.expose_secret(),
                    passphrase.as_ref().map(|p| p.expose_secret()),
                )
                .inspect_err(|e| st.key_error = Some(e.message().to_string()))
            }
            _ => {
                st.auth_rejected = true;
                Err(git2::Error::from_str(
                    "the configured credentials do not fit what the server accepts (token or username/password over HTTPS, a key over SSH)",
                ))
            }
        }
    });
    cb.certificate_check(move |cert, host| {
        if let Some(hostkey) = cert.as_hostkey() {
            let Some(kh) = &trust.known_hosts else {
                return Err(git2::Error::from_str("no known_hosts configured"));
            };
            let Some(key) = hostkey.hostkey() else {
                return Err(git2::Error::from_str("the server offered no raw host key"));
            };
            return match kh.verify(host, remote.port, key) {
                Verdict::Trusted => Ok(CertificateCheckStatus::CertificateOk),
                verdict => {
                    state.borrow_mut().trust_error = Some(Error::HostKey {
                        host: host_name(host, remote.port),
                        problem: if verdict == Verdict::Unknown {
                            "not in"
                        } else {
                            "different from the key in"
                        },
                        key_type: key_type(key),
                    });
                    Err(git2::Error::from_str("host key verification failed"))
                }
            };
        }
        if let Some(x509) = cert.as_x509() {
            if trust.anchors.is_empty() {
                return Ok(CertificateCheckStatus::CertificatePassthrough);
            }
            return match verify_x509(&trust.anchors, x509.data(), host, remote.port) {
                Ok(()) => Ok(CertificateCheckStatus::CertificateOk),
                Err(reason) => {
                    state.borrow_mut().trust_error = Some(Error::Certificate {
                        host: host.to_string(),
                        reason,
                    });
                    Err(git2::Error::from_str("certificate verification failed"))
                }
            };
        }
        Ok(CertificateCheckStatus::CertificatePassthrough)
    });
    cb.push_update_reference(move |refname, status| {
        if let Some(msg) = status {
            state
                .borrow_mut()
                .rejected
                .push((refname.to_string(), msg.to_string()));
        }
        Ok(())
    });
    cb
}

/// Verifies the server certificate libgit2 saw (`der`, the leaf alone: libgit2 passes no
/// chain) against the CA bundle. When the leaf is signed by an intermediate the bundle does not
/// hold, rustls verifies the server instead: a handshake with `host:port` checks the whole chain
/// the server presents against the same anchors, and the name, as any TLS client would; its
/// leaf must be the one libgit2 saw.
fn verify_x509(
    anchors: &[TrustAnchor<'static>],
    der: &[u8],
    host: &str,
    port: u16,
) -> Result<(), String> {
    let cert = CertificateDer::from(der.to_vec());
    let ee = webpki::EndEntityCert::try_from(&cert).map_err(|e| e.to_string())?;
    match ee.verify_for_usage(
        webpki::ALL_VERIFICATION_ALGS,
        anchors,
        &[],
        UnixTime::now(),
        webpki::KeyUsage::server_auth(),
        None,
        None,
    ) {
        Ok(_) => {}
        Err(webpki::Error::UnknownIssuer) => {
            return verify_with_server_chain(anchors, der, host, port);
        }
        Err(e) => return Err(e.to_string()),
    }
    let name = ServerName::try_from(host.to_string()).map_err(|e| e.to_string())?;
    ee.verify_is_valid_for_subject_name(&name)
        .map_err(|e| format!("{e}"))
}

/// How long the verifying handshake may take.
const HANDSHAKE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// A TLS handshake with `host:port` by rustls, trusting `anchors` only; `Ok` when it verifies
/// and the server's leaf is `leaf`.
fn verify_with_server_chain(
    anchors: &[TrustAnchor<'static>],
    leaf: &[u8],
    host: &str,
    port: u16,
) -> Result<(), String> {
    use std::net::ToSocketAddrs as _;
    let mut roots = rustls::RootCertStore::empty();
    roots.roots.extend(anchors.iter().cloned());
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = ServerName::try_from(host.to_string()).map_err(|e| e.to_string())?;
    let mut tls = rustls::ClientConnection::new(std::sync::Arc::new(config), name)
        .map_err(|e| e.to_string())?;
    let addr = (host, port)
        .to_socket_addrs()
        .map_err(|e| e.to_string())?
        .next()
        .ok_or_else(|| format!("{host} has no address"))?;
    let mut socket = std::net::TcpStream::connect_timeout(&addr, HANDSHAKE_TIMEOUT)
        .map_err(|e| e.to_string())?;
    socket
        .set_read_timeout(Some(HANDSHAKE_TIMEOUT))
        .and_then(|()| socket.set_write_timeout(Some(HANDSHAKE_TIMEOUT)))
        .map_err(|e| e.to_string())?;
    while tls.is_handshaking() {
        tls.complete_io(&mut socket).map_err(|e| e.to_string())?;
    }
    match tls.peer_certificates().and_then(|chain| chain.first()) {
        Some(presented) if presented.as_ref() == leaf => Ok(()),
        _ => Err("the server presented another certificate to a second connection".into()),
    }
}

/// Maps a failed network operation to the crate error, using what the
/// callbacks saw.
pub(crate) fn network_error(
    operation: &'static str,
    remote: &RemoteUrl,
    auth: &Auth,
    state: &RefCell<CallbackState>,
    err: git2::Error,
) -> Error {
    let mut st = state.borrow_mut();
    if let Some(e) = st.trust_error.take() {
        return e;
    }
    let key_failure = (remote.scheme == Scheme::Ssh
        && err.message().to_ascii_lowercase().contains("private key"))
    .then(|| err.message().to_string());
    if let Some(reason) = st.key_error.take().or(key_failure) {
        return Error::InvalidTrust {
            what: "SSH private key",
            reason: format!(
                "{}; check that it is an OpenSSH or PEM private key and that the passphrase is right",
                redact(&reason, &auth.secrets())
            ),
        };
    }
    let reason = redact(err.message(), &auth.secrets());
    if err.code() == git2::ErrorCode::Certificate || err.class() == git2::ErrorClass::Ssl {
        return Error::Certificate {
            host: remote.display.clone(),
            reason: format!(
                "{reason}; if the server uses a private CA, pass its certificate as the CA bundle (ca.crt)"
            ),
        };
    }
    let lower = reason.to_ascii_lowercase();
    if st.auth_rejected
        || st.no_credentials
        || err.code() == git2::ErrorCode::Auth
        || lower.contains("401")
        || lower.contains("403")
        || lower.contains("authentication")
    {
        return Error::Authentication {
            url: remote.display.clone(),
            operation,
            reason,
        };
    }
    if lower.contains("status code: 404")
        || lower.contains("does not appear to be a git repository")
        || lower.contains("repository not found")
    {
        return Error::RepositoryNotFound {
            url: remote.display.clone(),
            operation,
        };
    }
    // libgit2's words for a connection that ended part-way ("unexpected EOF", "early EOF",
    // "http parser did not consume entire buffer: Invalid EOF state", "unexpectedly large
    // parse", resets) say little to a user: say what happened first.
    let cut = [
        "eof",
        "unexpectedly large parse",
        "connection reset",
        "broken pipe",
    ]
    .iter()
    .any(|w| lower.contains(w));
    let reason = if cut {
        format!("the connection broke before the server's answer was complete ({reason})")
    } else {
        reason
    };
    Error::Transport {
        operation,
        url: remote.display.clone(),
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_with_a_password_are_refused_without_echoing_it() {
        let err = RemoteUrl::parse("https://x-access-token:ghs_secret123@github.com/o/r.git")
            .expect_err("password in URL");
        let text = err.to_string();
        assert!(!text.contains("ghs_secret123"), "{text}");
        assert!(text.contains("github.com/o/r.git"), "{text}");
    }

    #[test]
    fn scp_like_and_ssh_urls() {
        let u = RemoteUrl::parse("git@github.com:org/repo.git").expect("scp");
        assert_eq!((u.scheme, u.port), (Scheme::Ssh, 22));
        assert_eq!(u.username.as_deref(), Some("git"));
        let u = RemoteUrl::parse("ssh://root@127.0.0.1:2222/org/repo.git").expect("ssh");
        assert_eq!((u.scheme, u.port), (Scheme::Ssh, 2222));
        let u = RemoteUrl::parse("file:///tmp/x.git").expect("file");
        assert_eq!(u.scheme, Scheme::File);
        assert!(RemoteUrl::parse("ftp://host/x").is_err());
    }

    /// Passwords with an unencoded `/` or `@` (and tokens in the user part) never reach a
    /// message: not from a URL that does not parse, not from a message quoting a URL.
    #[test]
    fn userinfo_with_slash_or_at_is_never_shown() {
        for raw in [
            "https://bot:pa/ss0rd-42@git.example.com/org/repo.git",
            "https://bot:p@ss0rd-42@git.example.com/org/repo.git",
            "https://ghp_tokenInUser42@github.com/org/repo.git",
        ] {
            let shown = match RemoteUrl::parse(raw) {
                Ok(u) => u.display,
                Err(e) => e.to_string(),
            };
            for part in ["ss0rd-42", "pa/ss", "ghp_tokenInUser42"] {
                assert!(!shown.contains(part), "{shown}");
            }
            let message = redact(&format!("could not fetch '{raw}': 401; retry {raw}"), &[]);
            for part in ["ss0rd-42", "pa/ss", "ghp_tokenInUser42"] {
                assert!(!message.contains(part), "{message}");
            }
            assert!(message.contains("could not fetch"), "{message}");
        }
    }

    #[test]
    fn redact_removes_secrets_and_userinfo() {
        let out = redact(
            "failed https://u:tok12345@h/x with tok12345",
            &["tok12345".to_string()],
        );
        assert_eq!(out, "failed https://h/x with [redacted]");
    }

    #[test]
    fn debug_never_shows_secrets() {
        let c = Credentials::Basic {
            username: "u".into(),
            password: SecretString::from("hunter22"),
        };
        assert!(!format!("{c:?}").contains("hunter22"));
        let c = Credentials::Token(SecretString::from("ghs_abc"));
        assert!(!format!("{c:?}").contains("ghs_abc"));
    }
}
