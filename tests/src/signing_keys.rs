//! Commit signing keys made by the real tools, for the signed-commit tests: an OpenPGP key
//! from `gpg` (in its own GnuPG home, which then verifies) and an OpenSSH key from
//! `ssh-keygen` with an allowed-signers file. Both are protected by [`PASSPHRASE`].

use std::path::{Path, PathBuf};
use std::process::Command;

/// The passphrase of every key made here.
pub const PASSPHRASE: &str = "correct horse battery staple";

/// The author the keys belong to.
pub const EMAIL: &str = "fluxbot@example.com";

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().expect("spawn");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Makes an ed25519 signing key for `Flux Bot <`[`EMAIL`]`>` in the GnuPG home `home`
/// (created) and returns it exported armored, as Flux's `git.asc` holds it.
pub fn gpg_key(home: &Path) -> String {
    std::fs::create_dir_all(home).expect("gnupg home");
    let gpg = || {
        let mut c = Command::new("gpg");
        c.env("GNUPGHOME", home)
            .args(["--batch", "--pinentry-mode", "loopback", "--passphrase"])
            .arg(PASSPHRASE);
        c
    };
    run(gpg().args([
        "--quick-gen-key",
        &format!("Flux Bot <{EMAIL}>"),
        "ed25519",
        "sign",
        "never",
    ]));
    run(gpg().args(["--armor", "--export-secret-keys", EMAIL]))
}

/// Makes an ed25519 OpenSSH key in `dir` and an allowed-signers file for [`EMAIL`]; returns
/// the private key's text and the file's path.
pub fn ssh_key(dir: &Path) -> (String, PathBuf) {
    let key = dir.join("id_ed25519");
    run(Command::new("ssh-keygen")
        .args([
            "-q", "-t", "ed25519", "-C", "fluxbot", "-N", PASSPHRASE, "-f",
        ])
        .arg(&key));
    let public = std::fs::read_to_string(key.with_extension("pub")).expect("public key");
    let allowed = dir.join("allowed_signers");
    std::fs::write(&allowed, format!("{EMAIL} {public}")).expect("allowed signers");
    (std::fs::read_to_string(&key).expect("private key"), allowed)
}

/// Runs `git verify-commit --raw <rev>` in `repo` with `git -c` settings `config` and
/// environment `env`; returns what git printed (gpg's status lines or ssh-keygen's verdict).
///
/// # Panics
/// When the signature does not verify.
pub fn verify_commit(repo: &Path, rev: &str, env: &[(&str, &Path)], config: &[&str]) -> String {
    let mut cmd = Command::new("git");
    cmd.current_dir(repo);
    for c in config {
        cmd.args(["-c", c]);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd
        .args(["verify-commit", "--raw", rev])
        .output()
        .expect("git verify-commit");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "verify-commit {rev} failed: {text}");
    text
}
