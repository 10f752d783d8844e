//! Signed automation commits (issue #13 §3, Flux `git.commit.signingKey`), checked with the
//! real tools on the commit fetched back from the Git server: `git verify-commit` with `gpg`
//! and a keyring holding the public key (OpenPGP), and with `gpg.format=ssh` and an
//! `allowedSignersFile` (SSH). A wrong passphrase is refused before anything is pushed, and no
//! output carries the private key.

mod git_common;

use std::path::Path;
use std::process::Command;

use git_common::{DEPLOY, bump, spec};
use imageautomation_git::{Auth, Credentials, Error, SigningKey, commit_and_push};
use imageautomation_tests::git_server::{GitHttpServer, git, seed_repo};
use imageautomation_tests::signing_keys::{PASSPHRASE, gpg_key, ssh_key, verify_commit};
use secrecy::SecretString;

const TOKEN: &str = "ghs_signingTests000111";

fn auth() -> Auth {
    Auth {
        credentials: Credentials::Token(SecretString::from(TOKEN)),
        ..Auth::default()
    }
}

/// Clones `url` (the server, over HTTP) and verifies the branch's head there.
fn verify_fetched(url: &str, branch: &str, env: &[(&str, &Path)], config: &[&str]) -> String {
    let dir = tempfile::TempDir::new().expect("tempdir");
    let authed = url.replacen("http://", &format!("http://x-access-token:{TOKEN}@"), 1);
    let clone = dir.path().join("c");
    let status = Command::new("git")
        .args(["clone", "-q", "--branch", branch, &authed])
        .arg(&clone)
        .status()
        .expect("git clone");
    assert!(status.success());
    verify_commit(&clone, "HEAD", env, config)
}

#[test]
fn openpgp_signed_commits_verify_with_gpg_after_a_fetch() {
    let keys = tempfile::TempDir::new().expect("tempdir");
    let home = keys.path().join("gnupg");
    let armored = gpg_key(&home);
    let server = GitHttpServer::start(&[("x-access-token", TOKEN)]);
    let bare = server.create_repo("fleet/apps");
    seed_repo(&bare, "main", &[("deploy.yaml", DEPLOY)], "initial");
    let url = server.url("fleet/apps");

    let mut spec = spec(&url, auth(), Some("image-updates"));
    spec.signing_key = Some(SigningKey::OpenPgp {
        private_key: SecretString::from(armored.clone()),
        passphrase: Some(SecretString::from(PASSPHRASE)),
    });
    let result = commit_and_push(&spec, bump).expect("signed push");
    let push = result.push.expect("pushed");

    let raw = git(&bare, &["cat-file", "commit", &push.commit]);
    assert!(
        raw.contains("gpgsig -----BEGIN PGP SIGNATURE-----"),
        "{raw}"
    );
    let text = verify_fetched(&url, "image-updates", &[("GNUPGHOME", &home)], &[]);
    assert!(text.contains("GOODSIG"), "{text}");
    assert!(text.contains("Flux Bot <fluxbot@example.com>"), "{text}");
}

#[test]
fn ssh_signed_commits_verify_with_an_allowed_signers_file_after_a_fetch() {
    let keys = tempfile::TempDir::new().expect("tempdir");
    let (private_key, allowed) = ssh_key(keys.path());
    let server = GitHttpServer::start(&[("x-access-token", TOKEN)]);
    let bare = server.create_repo("fleet/apps");
    seed_repo(&bare, "main", &[("deploy.yaml", DEPLOY)], "initial");
    let url = server.url("fleet/apps");

    let mut spec = spec(&url, auth(), Some("image-updates"));
    spec.signing_key = Some(SigningKey::Ssh {
        private_key: SecretString::from(private_key),
        passphrase: Some(SecretString::from(PASSPHRASE)),
    });
    let push = commit_and_push(&spec, bump)
        .expect("signed push")
        .push
        .expect("pushed");

    let raw = git(&bare, &["cat-file", "commit", &push.commit]);
    assert!(
        raw.contains("gpgsig -----BEGIN SSH SIGNATURE-----"),
        "{raw}"
    );
    let allowed = format!("gpg.ssh.allowedSignersFile={}", allowed.display());
    let text = verify_fetched(
        &url,
        "image-updates",
        &[],
        &["gpg.format=ssh", allowed.as_str()],
    );
    assert!(
        text.contains("Good \"git\" signature for fluxbot@example.com"),
        "{text}"
    );
}

#[test]
fn a_wrong_passphrase_is_refused_and_nothing_is_pushed() {
    let keys = tempfile::TempDir::new().expect("tempdir");
    let armored = gpg_key(&keys.path().join("gnupg"));
    let (ssh_private, _) = ssh_key(keys.path());
    let server = GitHttpServer::start(&[("x-access-token", TOKEN)]);
    let bare = server.create_repo("fleet/apps");
    let main = seed_repo(&bare, "main", &[("deploy.yaml", DEPLOY)], "initial");
    let url = server.url("fleet/apps");

    for (key, needle, secret) in [
        (
            SigningKey::OpenPgp {
                private_key: SecretString::from(armored.clone()),
                passphrase: Some(SecretString::from("wrong-passphrase")),
            },
            "the OpenPGP key cannot be unlocked: its passphrase is wrong",
            &armored,
        ),
        (
            SigningKey::OpenPgp {
                private_key: SecretString::from(armored.clone()),
                passphrase: None,
            },
            "the OpenPGP key is encrypted: give its passphrase",
            &armored,
        ),
        (
            SigningKey::Ssh {
                private_key: SecretString::from(ssh_private.clone()),
                passphrase: Some(SecretString::from("wrong-passphrase")),
            },
            "the SSH key cannot be decrypted: its passphrase is wrong",
            &ssh_private,
        ),
    ] {
        let mut spec = spec(&url, auth(), None);
        spec.signing_key = Some(key);
        let err = commit_and_push(&spec, bump).expect_err("refused");
        assert!(matches!(err, Error::InvalidSpec { .. }), "{err:?}");
        let text = format!("{err} {err:?} {spec:?}");
        assert!(text.contains("git.commit.signingKey"), "{text}");
        assert!(text.contains(needle), "{text}");
        // Neither the key (any line of its body) nor a passphrase is in any output.
        let body = secret.lines().nth(3).expect("key body line");
        assert!(!text.contains(body), "{text}");
        assert!(!text.contains(PASSPHRASE) && !text.contains("wrong-passphrase"));
        assert_eq!(
            git(&bare, &["rev-parse", "main"]).trim(),
            main,
            "nothing was pushed"
        );
        assert_eq!(
            git(&bare, &["for-each-ref", "--count=2", "refs/heads"])
                .lines()
                .count(),
            1
        );
    }
}
