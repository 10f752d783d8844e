//! Clone, commit and push against real servers: smart HTTP with Basic auth
//! (lighttpd + git http-backend), HTTPS with a private CA, SSH with a key and
//! known_hosts (private sshd), and a `file://` bare repository.

mod git_common;

use git_common::{DEPLOY, NEW, bump, expected_message, spec};
use imageautomation_git::{Auth, Credentials, Error, commit_and_push, list_remote_refs};
use imageautomation_tests::git_server::{GitHttpServer, GitSshServer, bare_repo, git, seed_repo};
use secrecy::SecretString;

const TOKEN: &str = "ghs_rightToken0123456789";

fn token(t: &str) -> Auth {
    Auth {
        credentials: Credentials::Token(SecretString::from(t)),
        ..Auth::default()
    }
}

/// Asserts that `main` of `bare` is one commit on top of `before`, by Flux
/// Bot, with the expected message and the bumped image.
fn assert_bumped(bare: &std::path::Path, branch: &str, parent: &str, commit: &str) {
    let head = git(bare, &["rev-parse", branch]).trim().to_string();
    assert_eq!(head, commit);
    assert_eq!(
        git(bare, &["rev-parse", &format!("{branch}^")]).trim(),
        parent
    );
    assert_eq!(
        git(bare, &["log", "-1", "--format=%an <%ae>|%cn <%ce>", branch]).trim(),
        "Flux Bot <fluxbot@example.com>|Flux Bot <fluxbot@example.com>"
    );
    assert_eq!(
        git(bare, &["log", "-1", "--format=%B", branch]).trim_end(),
        expected_message().trim_end()
    );
    let file = git(bare, &["show", &format!("{branch}:deploy.yaml")]);
    assert!(file.contains(NEW), "{file}");
}

#[test]
fn smart_http_with_the_right_token_clones_commits_and_pushes() {
    let server = GitHttpServer::start(&[("x-access-token", TOKEN)]);
    let bare = server.create_repo("fleet/apps");
    let before = seed_repo(&bare, "main", &[("deploy.yaml", DEPLOY)], "initial");

    let result = commit_and_push(
        &spec(&server.url("fleet/apps"), token(TOKEN), None),
        |root| {
            // The clone is shallow, and the token is nowhere in .git/config.
            assert!(root.join(".git/shallow").exists(), "shallow clone");
            let config = std::fs::read_to_string(root.join(".git/config")).expect("config");
            assert!(!config.contains(TOKEN), "{config}");
            assert!(config.contains(&server.url("fleet/apps")), "{config}");
            bump(root)
        },
    )
    .expect("write-back over smart HTTP");

    let push = result.push.expect("a push");
    assert_eq!(push.branch, "main");
    // ls-remote sees the pushed head without a clone; a wrong token is refused.
    let refs = list_remote_refs(&server.url("fleet/apps"), &token(TOKEN)).expect("ls-remote");
    assert_eq!(refs.get("refs/heads/main"), Some(&push.commit));
    let err = list_remote_refs(&server.url("fleet/apps"), &token("ghs_nope0000")).expect_err("401");
    assert!(matches!(err, Error::Authentication { .. }), "{err:?}");
    assert_eq!(result.checkout_commit, before);
    assert_eq!(push.message, expected_message());
    assert_bumped(&bare, "main", &before, &push.commit);
    assert!(push.summary().starts_with(&format!(
        "pushed commit '{}' to branch 'main'\n",
        &push.commit[..7]
    )));
}

#[test]
fn smart_http_with_username_and_password() {
    let server = GitHttpServer::start(&[("alice", "s3cret-pw")]);
    let bare = server.create_repo("fleet/apps");
    let before = seed_repo(&bare, "main", &[("deploy.yaml", DEPLOY)], "initial");
    let auth = Auth {
        credentials: Credentials::Basic {
            username: "alice".into(),
            password: SecretString::from("s3cret-pw"),
        },
        ..Auth::default()
    };
    let result = commit_and_push(&spec(&server.url("fleet/apps"), auth, None), bump).expect("push");
    assert_bumped(&bare, "main", &before, &result.push.expect("push").commit);
}

#[test]
fn smart_http_with_a_wrong_token_fails_clearly_without_the_token() {
    let server = GitHttpServer::start(&[("x-access-token", TOKEN)]);
    let bare = server.create_repo("fleet/apps");
    let before = seed_repo(&bare, "main", &[("deploy.yaml", DEPLOY)], "initial");
    let wrong = "ghs_wrongToken9876543210";

    let err = commit_and_push(&spec(&server.url("fleet/apps"), token(wrong), None), bump)
        .expect_err("wrong token");

    assert!(matches!(err, Error::Authentication { .. }), "{err:?}");
    assert!(!err.is_transient());
    let text = err.to_string();
    assert!(text.contains(&server.url("fleet/apps")), "{text}");
    assert!(text.contains("credentials"), "{text}");
    assert!(
        !text.contains(wrong) && !format!("{err:?}").contains(wrong),
        "{text}"
    );
    assert_eq!(git(&bare, &["rev-parse", "main"]).trim(), before);

    // No credentials at all: the same clear error.
    let err = commit_and_push(
        &spec(&server.url("fleet/apps"), Auth::default(), None),
        bump,
    )
    .expect_err("anonymous");
    assert!(matches!(err, Error::Authentication { .. }), "{err:?}");
}

#[test]
fn a_missing_repository_or_a_server_that_is_down() {
    let server = GitHttpServer::start(&[("x-access-token", TOKEN)]);
    let err = commit_and_push(&spec(&server.url("fleet/nope"), token(TOKEN), None), bump)
        .expect_err("no such repository");
    assert!(matches!(err, Error::RepositoryNotFound { .. }), "{err:?}");
    assert!(!err.is_transient());
    assert!(err.to_string().contains("fleet/nope.git"), "{err}");

    let port = imageautomation_tests::free_port();
    let url = format!("http://127.0.0.1:{port}/fleet/apps.git");
    let err = commit_and_push(&spec(&url, token(TOKEN), None), bump).expect_err("nothing listens");
    assert!(matches!(err, Error::Transport { .. }), "{err:?}");
    assert!(err.is_transient(), "a server that is down is retried");
}

#[test]
fn a_password_in_the_url_is_refused_and_not_echoed() {
    let url = format!("http://x-access-token:{TOKEN}@127.0.0.1:1/fleet/apps.git");
    let err = commit_and_push(&spec(&url, Auth::default(), None), bump).expect_err("refused");
    assert!(matches!(err, Error::InvalidUrl { .. }), "{err:?}");
    assert!(!err.to_string().contains(TOKEN));
}

#[test]
fn https_with_a_private_ca_bundle() {
    let server = GitHttpServer::start_tls(&[("x-access-token", TOKEN)]);
    let bare = server.create_repo("fleet/apps");
    let before = seed_repo(&bare, "main", &[("deploy.yaml", DEPLOY)], "initial");
    let url = server.url("fleet/apps");

    // Without the CA the certificate is not trusted.
    let err = commit_and_push(&spec(&url, token(TOKEN), None), bump).expect_err("untrusted");
    assert!(matches!(err, Error::Certificate { .. }), "{err:?}");
    assert!(err.to_string().contains("CA bundle"), "{err}");
    assert!(!err.is_transient());

    let mut auth = token(TOKEN);
    auth.ca_bundle = server.ca_pem.clone();
    let result = commit_and_push(&spec(&url, auth, None), bump).expect("push over HTTPS");
    assert_bumped(&bare, "main", &before, &result.push.expect("push").commit);
}

#[test]
fn ssh_with_a_key_and_known_hosts() {
    let server = GitSshServer::start();
    let bare = server.create_repo("fleet/apps");
    let before = seed_repo(&bare, "main", &[("deploy.yaml", DEPLOY)], "initial");
    let auth = Auth {
        credentials: Credentials::SshKey {
            private_key: SecretString::from(server.client_key.clone()),
            passphrase: None,
        },
        known_hosts: Some(server.known_hosts.clone()),
        ..Auth::default()
    };
    let result = commit_and_push(&spec(&server.url("fleet/apps"), auth.clone(), None), bump)
        .unwrap_or_else(|e| panic!("push over SSH: {e}\n{}", server.log()));
    assert_bumped(&bare, "main", &before, &result.push.expect("push").commit);

    // An unknown host key is refused, never accepted blindly.
    let mut unknown = auth.clone();
    unknown.known_hosts = Some(
        "[127.0.0.1]:1 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n".into(),
    );
    let err = commit_and_push(&spec(&server.url("fleet/apps"), unknown, None), bump)
        .expect_err("unknown host");
    assert!(
        matches!(
            err,
            Error::HostKey {
                problem: "not in",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(!err.is_transient());

    // A passphrase-protected copy of the authorised key works with its passphrase.
    let enc_dir = tempfile::TempDir::new().expect("tempdir");
    let enc = enc_dir.path().join("k");
    std::fs::write(&enc, &server.client_key).expect("write key");
    std::fs::set_permissions(&enc, std::os::unix::fs::PermissionsExt::from_mode(0o600))
        .expect("chmod");
    let status = std::process::Command::new("ssh-keygen")
        .args(["-q", "-p", "-P", "", "-N", "pass phrase 42", "-f"])
        .arg(&enc)
        .status()
        .expect("ssh-keygen -p");
    assert!(status.success());
    let mut with_passphrase = auth.clone();
    with_passphrase.credentials = Credentials::SshKey {
        private_key: SecretString::from(std::fs::read_to_string(&enc).expect("key")),
        passphrase: Some(SecretString::from("pass phrase 42")),
    };
    let result = commit_and_push(
        &spec(&server.url("fleet/apps"), with_passphrase.clone(), None),
        bump,
    )
    .unwrap_or_else(|e| panic!("encrypted key: {e}"));
    assert!(result.push.is_none(), "already bumped by the first run");
    // A wrong passphrase says so, without the passphrase.
    with_passphrase.credentials = Credentials::SshKey {
        private_key: SecretString::from(std::fs::read_to_string(&enc).expect("key")),
        passphrase: Some(SecretString::from("wrong phrase 43")),
    };
    let err = commit_and_push(
        &spec(&server.url("fleet/apps"), with_passphrase, None),
        bump,
    )
    .expect_err("wrong passphrase");
    assert!(
        matches!(
            err,
            Error::InvalidTrust {
                what: "SSH private key",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(!err.to_string().contains("wrong phrase 43"), "{err}");
    assert!(!err.is_transient());

    // A key the server does not know is refused as an authentication error.
    let other_key_dir = tempfile::TempDir::new().expect("tempdir");
    let status = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(other_key_dir.path().join("k"))
        .status()
        .expect("ssh-keygen");
    assert!(status.success());
    let other_key = std::fs::read_to_string(other_key_dir.path().join("k")).expect("key");
    let mut stranger = auth.clone();
    stranger.credentials = Credentials::SshKey {
        private_key: SecretString::from(other_key.clone()),
        passphrase: None,
    };
    let err = commit_and_push(&spec(&server.url("fleet/apps"), stranger, None), bump)
        .expect_err("unknown client key");
    assert!(matches!(err, Error::Authentication { .. }), "{err:?}");
    let key_body = other_key.lines().nth(1).expect("key line");
    assert!(!err.to_string().contains(key_body) && !format!("{err:?}").contains(key_body));

    // A different key for the same host is a mismatch.
    let mut changed = auth;
    changed.known_hosts = Some(format!(
        "[127.0.0.1]:{} ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n",
        server.port
    ));
    let err = commit_and_push(&spec(&server.url("fleet/apps"), changed, None), bump)
        .expect_err("changed host key");
    assert!(
        matches!(
            err,
            Error::HostKey {
                problem: "different from the key in",
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn file_url_bare_repository() {
    let dir = tempfile::TempDir::new().expect("tempdir");
    let bare = dir.path().join("apps.git");
    bare_repo(&bare);
    let before = seed_repo(&bare, "main", &[("deploy.yaml", DEPLOY)], "initial");
    let url = format!("file://{}", bare.display());
    let result = commit_and_push(&spec(&url, Auth::default(), None), bump).expect("push");
    assert_bumped(&bare, "main", &before, &result.push.expect("push").commit);
}

/// A private CA with an intermediate: the user gives the root as `ca.crt`, the server sends
/// its leaf and the intermediate (libgit2 hands the callback the leaf alone).
#[test]
fn https_with_a_private_ca_and_an_intermediate() {
    let server = GitHttpServer::start_tls_with_intermediate(&[("x-access-token", TOKEN)]);
    let bare = server.create_repo("fleet/apps");
    let before = seed_repo(&bare, "main", &[("deploy.yaml", DEPLOY)], "initial");
    let url = server.url("fleet/apps");
    let mut auth = token(TOKEN);
    auth.ca_bundle = server.ca_pem.clone();
    let result = commit_and_push(&spec(&url, auth, None), bump).expect("push over HTTPS");
    assert_bumped(&bare, "main", &before, &result.push.expect("push").commit);

    // Another CA's root is still refused.
    let other = GitHttpServer::start_tls(&[]);
    let mut auth = token(TOKEN);
    auth.ca_bundle = other.ca_pem.clone();
    let err = commit_and_push(&spec(&url, auth, None), bump).expect_err("untrusted");
    assert!(matches!(err, Error::Certificate { .. }), "{err:?}");
}
