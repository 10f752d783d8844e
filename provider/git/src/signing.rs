//! Signed automation commits (Flux `spec.git.commit.signingKey`, IAC `internal/source/signing.go`):
//! an OpenPGP detached signature (rpgp) or an SSH signature (SSHSIG, namespace `git`, from the
//! `ssh-key` crate) over the commit buffer, stored in the commit's `gpgsig` header as `git commit
//! -S` does. `git verify-commit` checks both (with `gpg.format=ssh` for the second).

use pgp::composed::{ArmorOptions, Deserializable, DetachedSignature, SignedSecretKey};
use pgp::crypto::hash::HashAlgorithm;
use pgp::types::{Password, SigningKey as _};
use secrecy::{ExposeSecret, SecretString};

use imageautomation_model::git::SigningFormat;

use crate::error::Error;

/// The field errors name, as the schema spells it.
const FIELD: &str = "git.commit.signingKey";

/// A signing key as given: the key text and its passphrase, both secret.
#[derive(Clone)]
pub enum SigningKey {
    /// An ASCII-armored OpenPGP secret key (`gpg --export-secret-keys --armor`; Flux's
    /// `git.asc`) holding one key whose primary key can sign, and the passphrase when the key is
    /// encrypted (Flux's `passphrase`).
    OpenPgp {
        /// The armored key.
        private_key: SecretString,
        /// Its passphrase; `None` for an unencrypted key.
        passphrase: Option<SecretString>,
    },
    /// An OpenSSH private key (`ssh-keygen`'s format; Flux's `identity`): ed25519, ECDSA P-256
    /// or RSA, and its passphrase when encrypted (Flux's `password`).
    Ssh {
        /// The key, `-----BEGIN OPENSSH PRIVATE KEY-----`.
        private_key: SecretString,
        /// Its passphrase; `None` for an unencrypted key.
        passphrase: Option<SecretString>,
    },
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SigningKey::OpenPgp { .. } => "SigningKey::OpenPgp([REDACTED])",
            SigningKey::Ssh { .. } => "SigningKey::Ssh([REDACTED])",
        })
    }
}

impl SigningKey {
    /// The key in `format`: OpenPGP or SSH.
    pub fn new(
        format: SigningFormat,
        private_key: SecretString,
        passphrase: Option<SecretString>,
    ) -> Self {
        match format {
            SigningFormat::OpenPgp => SigningKey::OpenPgp {
                private_key,
                passphrase,
            },
            SigningFormat::Ssh => SigningKey::Ssh {
                private_key,
                passphrase,
            },
        }
    }

    /// Reads and unlocks the key as a write-back would, without signing anything: for checks
    /// before a run (Pulumi `Check`).
    ///
    /// # Errors
    /// As the write-back's: [`Error::InvalidSpec`] on `git.commit.signingKey` when the key
    /// does not parse or the passphrase is missing or wrong.
    pub fn check(&self) -> Result<(), Error> {
        Signer::new(self).map(drop)
    }
}

/// A key read and unlocked, ready to sign commit buffers.
pub(crate) enum Signer {
    OpenPgp(Box<SignedSecretKey>, Password),
    Ssh(Box<ssh_key::PrivateKey>),
}

fn invalid(reason: impl Into<String>) -> Error {
    Error::InvalidSpec {
        field: FIELD,
        reason: reason.into(),
    }
}

impl Signer {
    /// Reads and unlocks `key`. Called before anything is cloned, so that a bad key or a wrong
    /// passphrase stops the write-back before a commit exists.
    ///
    /// # Errors
    /// [`Error::InvalidSpec`] on `git.commit.signingKey` when the key does not parse, holds
    /// no key that can sign, or the passphrase is missing or wrong. The messages never quote
    /// the key or the passphrase.
    pub(crate) fn new(key: &SigningKey) -> Result<Self, Error> {
        match key {
            SigningKey::OpenPgp {
                private_key,
                passphrase,
            } => {
                let (key, _) = SignedSecretKey::from_armor_single(
                    private_key.expose_secret().as_bytes(),
                )
                .map_err(|e| {
                    invalid(format!(
                        "the key is not an ASCII-armored OpenPGP secret key ({}); export one with `gpg --export-secret-keys --armor <key id>`",
                        pgp_reason(&e)
                    ))
                })?;
                let password = passphrase
                    .as_ref()
                    .map_or_else(Password::empty, |p| Password::from(p.expose_secret()));
                let encrypted = key.primary_key.secret_params().is_encrypted();
                if encrypted && passphrase.is_none() {
                    return Err(invalid("the OpenPGP key is encrypted: give its passphrase"));
                }
                // Signing once proves the passphrase; rpgp only decrypts the key to sign.
                let signer = Signer::OpenPgp(Box::new(key), password);
                signer.sign(b"").map_err(|e| {
                    if encrypted {
                        invalid("the OpenPGP key cannot be unlocked: its passphrase is wrong")
                    } else {
                        e
                    }
                })?;
                Ok(signer)
            }
            SigningKey::Ssh {
                private_key,
                passphrase,
            } => {
                let key = ssh_key::PrivateKey::from_openssh(private_key.expose_secret())
                    .map_err(|e| {
                        invalid(format!(
                            "the key is not an OpenSSH private key ({e}); generate one with `ssh-keygen -t ed25519`"
                        ))
                    })?;
                let key = match (key.is_encrypted(), passphrase) {
                    (false, _) => key,
                    (true, None) => {
                        return Err(invalid("the SSH key is encrypted: give its passphrase"));
                    }
                    (true, Some(p)) => key.decrypt(p.expose_secret().as_bytes()).map_err(|_| {
                        invalid("the SSH key cannot be decrypted: its passphrase is wrong")
                    })?,
                };
                Ok(Signer::Ssh(Box::new(key)))
            }
        }
    }

    /// The armored signature of `buffer` (a commit as `git cat-file commit` prints it, without
    /// the signature), for the commit's `gpgsig` header.
    pub(crate) fn sign(&self, buffer: &[u8]) -> Result<String, Error> {
        match self {
            Signer::OpenPgp(key, password) => {
                let hash = match key.primary_key.hash_alg() {
                    // SHA-1 signatures are refused by gpg; use SHA-256 at least.
                    HashAlgorithm::Sha1 | HashAlgorithm::Md5 | HashAlgorithm::Ripemd160 => {
                        HashAlgorithm::Sha256
                    }
                    other => other,
                };
                let signature = DetachedSignature::sign_binary_data(
                    rand_core::OsRng,
                    &key.primary_key,
                    password,
                    hash,
                    buffer,
                )
                .map_err(|e| invalid(format!("OpenPGP signing failed: {}", pgp_reason(&e))))?;
                signature
                    .to_armored_string(ArmorOptions::default())
                    .map_err(|e| invalid(format!("OpenPGP signing failed: {}", pgp_reason(&e))))
            }
            Signer::Ssh(key) => {
                let signature = key
                    .sign("git", ssh_key::HashAlg::Sha512, buffer)
                    .map_err(|e| invalid(format!("SSH signing failed: {e}")))?;
                signature
                    .to_pem(ssh_key::LineEnding::LF)
                    .map_err(|e| invalid(format!("SSH signing failed: {e}")))
            }
        }
    }
}

/// rpgp's error kind without its details, which may carry key material in debug form.
fn pgp_reason(e: &pgp::errors::Error) -> String {
    let text = e.to_string();
    text.lines()
        .next()
        .unwrap_or("unknown error")
        .chars()
        .take(120)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_keys_are_refused_without_echoing_them() {
        for key in [
            SigningKey::OpenPgp {
                private_key: SecretString::from("not-a-key-s3cret"),
                passphrase: None,
            },
            SigningKey::Ssh {
                private_key: SecretString::from("not-a-key-s3cret"),
                passphrase: None,
            },
        ] {
            let err = Signer::new(&key).err().expect("refused");
            let text = format!("{err} {err:?} {key:?}");
            assert!(text.contains("git.commit.signingKey"), "{text}");
            assert!(!text.contains("s3cret"), "{text}");
        }
    }
}
