//! The Git shapes the Pulumi `UpdateAutomation.git` input and Flux's
//! `ImageUpdateAutomation.spec.git` / `GitRepository.spec.ref` share, and the rules on them:
//! which ref is checked out ([`checkout_ref`], [`GitRef::checkout`]), the update strategy
//! ([`UpdateStrategy::check`]) and the update path ([`UpdateStrategy::path`]).

use std::collections::BTreeMap;

use secrecy::SecretString;
use serde::Deserialize;

use crate::de;

/// `spec.git.checkout.ref` and `GitRepository.spec.ref` (source-controller's
/// `GitRepositoryRef`). Empty strings are absent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct GitRef {
    /// A branch, e.g. `main`.
    #[serde(default, deserialize_with = "de::text")]
    pub branch: Option<String>,
    /// A tag, e.g. `v1.0.0`.
    #[serde(default, deserialize_with = "de::text")]
    pub tag: Option<String>,
    /// A semver range over tags (Flux only; refused by [`GitRef::checkout`]).
    #[serde(default, deserialize_with = "de::text")]
    pub semver: Option<String>,
    /// A reference name such as `refs/pull/1/head` (Flux only; refused by
    /// [`GitRef::checkout`]).
    #[serde(default, deserialize_with = "de::text")]
    pub name: Option<String>,
    /// A full commit SHA-1.
    #[serde(default, deserialize_with = "de::text")]
    pub commit: Option<String>,
}

/// What a write-back checks out, from a [`GitRef`] by Flux's priority.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckoutRef {
    /// A branch (`refs/heads/<name>`).
    Branch(String),
    /// A tag; the push branch must be set.
    Tag(String),
    /// A full commit SHA-1 (40 hex digits); the push branch must be set.
    /// Fetches every branch (a commit cannot be fetched shallowly).
    Commit(String),
}

impl Default for CheckoutRef {
    /// Flux's default when no ref is set: branch `master`.
    fn default() -> Self {
        CheckoutRef::Branch("master".to_owned())
    }
}

impl GitRef {
    /// No field set.
    pub fn is_empty(&self) -> bool {
        *self == GitRef::default()
    }

    /// What to check out, by Flux's priority: commit > tag > branch, else branch `master`
    /// (flux-spec 5.2, `pkg/git/gogit/client.go` `Clone`).
    ///
    /// # Errors
    /// A message naming the field when the ref is a `semver` range or a `name` without a
    /// commit, tag or branch: this engine checks out branches, tags and commits only.
    pub fn checkout(&self) -> Result<CheckoutRef, String> {
        if let Some(commit) = &self.commit {
            return Ok(CheckoutRef::Commit(commit.clone()));
        }
        if let Some(tag) = &self.tag {
            return Ok(CheckoutRef::Tag(tag.clone()));
        }
        for (field, value) in [("name", &self.name), ("semver", &self.semver)] {
            if value.is_some() && self.branch.is_none() {
                return Err(format!(
                    "checkout ref.{field} is not supported; check out a branch, tag or commit"
                ));
            }
        }
        Ok(self
            .branch
            .clone()
            .map_or_else(CheckoutRef::default, CheckoutRef::Branch))
    }
}

/// The ref an automation checks out, as Flux resolves it (flux-spec 5.2): the
/// automation's `spec.git.checkout.ref` when it has a `checkout` (an empty ref included: it
/// replaces the source's as a whole), else the `GitRepository`'s `spec.ref`; an empty result
/// means branch `master`. `imageautomation run`, `render` and the plugin all use this.
pub fn checkout_ref(automation: Option<&GitCheckout>, source: Option<&GitRef>) -> GitRef {
    match automation {
        Some(checkout) => checkout.reference.clone().unwrap_or_default(),
        None => source.cloned().unwrap_or_default(),
    }
}

/// `git.checkout`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct GitCheckout {
    /// `ref`: what to check out.
    #[serde(default, rename = "ref")]
    pub reference: Option<GitRef>,
}

/// `git.commit.author`: author and committer of the automation's commits.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct CommitAuthor {
    /// Name, e.g. `"Flux Bot"`; may be empty.
    #[serde(default, deserialize_with = "de::string")]
    pub name: String,
    /// E-mail address (required by Flux's CRD and by [`crate::args`]' checks).
    #[serde(default, deserialize_with = "de::string")]
    pub email: String,
}

/// `git.commit.signingKey`: the key that signs the automation's commits. A Pulumi program
/// gives the key itself (`openpgp` or `ssh`); a Flux manifest names a Secret (`secretRef`,
/// `type`), whose key `imageautomation run` reads from a file flag instead.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SigningKey {
    /// `openpgp` (Pulumi): an ASCII-armored OpenPGP secret key (Flux's `git.asc`).
    #[serde(default)]
    pub openpgp: Option<KeyPair>,
    /// `ssh` (Pulumi): an OpenSSH private key (Flux's `identity`).
    #[serde(default)]
    pub ssh: Option<KeyPair>,
    /// `secretRef.name` (Flux): the Secret holding the key.
    #[serde(default)]
    pub secret_ref: Option<crate::flux::LocalRef>,
    /// `type` (Flux): `gpg` (the default when empty) or `ssh`.
    #[serde(default, rename = "type", deserialize_with = "de::text")]
    pub format: Option<String>,
}

/// A private key and its passphrase, both secret (`signingKey.openpgp`, `signingKey.ssh`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyPair {
    /// `privateKey` (required): the key text.
    #[serde(default, deserialize_with = "de::secret")]
    pub private_key: Option<SecretString>,
    /// `passphrase`: needed when the key is encrypted.
    #[serde(default, deserialize_with = "de::secret")]
    pub passphrase: Option<SecretString>,
}

/// Which signature a signing key makes: Flux's `signingKey.type`, the Pulumi input's
/// `openpgp` or `ssh`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SigningFormat {
    /// OpenPGP (`gpg`, Flux's default).
    OpenPgp,
    /// SSH (SSHSIG).
    Ssh,
}

impl SigningFormat {
    /// Flux's `signingKey.type` (`gpg`, `ssh`) and the keys of its Secret: the key, then the
    /// passphrase (IAC `signing.go`: `git.asc`/`passphrase`, `identity`/`password`).
    pub fn flux_names(self) -> (&'static str, &'static str, &'static str) {
        match self {
            SigningFormat::OpenPgp => ("gpg", "git.asc", "passphrase"),
            SigningFormat::Ssh => ("ssh", "identity", "password"),
        }
    }
}

impl SigningKey {
    /// The Pulumi input's key: its format and key pair.
    ///
    /// # Errors
    /// A message naming the field when neither or both of `openpgp` and `ssh` are set, the
    /// `privateKey` is missing, or the Flux-only `secretRef` is given.
    pub fn inline(&self) -> Result<(SigningFormat, &KeyPair), String> {
        if self.secret_ref.is_some() || self.format.is_some() {
            return Err(
                "secretRef and type name a Kubernetes Secret (Flux manifests); give the key as openpgp or ssh".into(),
            );
        }
        let (format, pair, name) = match (&self.openpgp, &self.ssh) {
            (Some(p), None) => (SigningFormat::OpenPgp, p, "openpgp"),
            (None, Some(p)) => (SigningFormat::Ssh, p, "ssh"),
            (None, None) => return Err("set openpgp or ssh".into()),
            (Some(_), Some(_)) => return Err("set openpgp or ssh, not both".into()),
        };
        if pair.private_key.is_none() {
            return Err(format!("{name}.privateKey is required"));
        }
        Ok((format, pair))
    }

    /// The Flux manifest's `type`: `gpg` or empty is OpenPGP, `ssh` is SSH.
    ///
    /// # Errors
    /// A message naming the value when it is neither (the CRD's enum).
    pub fn flux_format(&self) -> Result<SigningFormat, String> {
        match self.format.as_deref() {
            None | Some("gpg") => Ok(SigningFormat::OpenPgp),
            Some("ssh") => Ok(SigningFormat::Ssh),
            Some(other) => Err(format!(
                "type {other:?} is not supported; use \"gpg\" or \"ssh\""
            )),
        }
    }
}

/// `git.commit`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GitCommit {
    /// `author`.
    #[serde(default)]
    pub author: CommitAuthor,
    /// `messageTemplate`: a Go `text/template`; `None` is Flux's default message.
    #[serde(default, deserialize_with = "de::text")]
    pub message_template: Option<String>,
    /// `messageTemplateValues`: the template's `.Values`.
    #[serde(default, deserialize_with = "de::string_map")]
    pub message_template_values: BTreeMap<String, String>,
    /// `signingKey`: sign the commits; `None` leaves them unsigned.
    #[serde(default)]
    pub signing_key: Option<SigningKey>,
}

/// `git.push`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct GitPush {
    /// `branch`; `None` pushes to the checkout branch.
    #[serde(default, deserialize_with = "de::text")]
    pub branch: Option<String>,
    /// `refspec`, pushed after the branch, e.g. `refs/heads/auto:refs/heads/other`.
    #[serde(default, deserialize_with = "de::text")]
    pub refspec: Option<String>,
    /// `options`: push options sent as `-o key=value`.
    #[serde(default, deserialize_with = "de::string_map")]
    pub options: BTreeMap<String, String>,
}

/// `spec.update` (Pulumi `update`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct UpdateStrategy {
    /// `path`: the folder to update, relative to the repository root; default the root.
    #[serde(default, deserialize_with = "de::text")]
    pub path: Option<String>,
    /// `strategy`: only `Setters` (the default).
    #[serde(default, deserialize_with = "de::text")]
    pub strategy: Option<String>,
}

/// The only update strategy, Flux's default.
pub const SETTERS: &str = "Setters";

impl UpdateStrategy {
    /// The folder to update: `path`, default `.`.
    pub fn path(update: Option<&Self>) -> &str {
        update.and_then(|u| u.path.as_deref()).unwrap_or(".")
    }

    /// Refuses a strategy other than `Setters` (Flux's CRD enum).
    ///
    /// # Errors
    /// A message naming the value and the one strategy there is.
    pub fn check(&self) -> Result<(), String> {
        match self.strategy.as_deref() {
            None | Some(SETTERS) => Ok(()),
            Some(other) => Err(format!(
                "{other:?} is not supported; the only strategy is \"Setters\""
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(branch: Option<&str>, tag: Option<&str>, commit: Option<&str>) -> GitRef {
        GitRef {
            branch: branch.map(str::to_owned),
            tag: tag.map(str::to_owned),
            commit: commit.map(str::to_owned),
            ..GitRef::default()
        }
    }

    #[test]
    fn checkout_priority_is_fluxs() {
        let of = |g: GitRef| g.checkout().expect("supported");
        assert_eq!(
            of(r(Some("main"), Some("v1"), Some("abc"))),
            CheckoutRef::Commit("abc".into())
        );
        assert_eq!(
            of(r(Some("main"), Some("v1"), None)),
            CheckoutRef::Tag("v1".into())
        );
        assert_eq!(
            of(r(None, None, None)),
            CheckoutRef::Branch("master".into())
        );
        let semver = GitRef {
            semver: Some("1.x".into()),
            ..GitRef::default()
        };
        assert!(
            semver
                .checkout()
                .expect_err("semver")
                .contains("ref.semver")
        );
    }

    #[test]
    fn an_empty_automation_ref_replaces_the_sources_as_flux_does() {
        let source = r(Some("main"), None, None);
        let empty = GitCheckout {
            reference: Some(GitRef::default()),
        };
        assert!(checkout_ref(Some(&empty), Some(&source)).is_empty());
        assert_eq!(checkout_ref(None, Some(&source)), source);
        let tag = GitCheckout {
            reference: Some(r(None, Some("v2"), None)),
        };
        assert_eq!(
            checkout_ref(Some(&tag), Some(&source)).tag.as_deref(),
            Some("v2")
        );
    }

    #[test]
    fn only_the_setters_strategy_passes() {
        let s = |v: Option<&str>| UpdateStrategy {
            strategy: v.map(str::to_owned),
            path: None,
        };
        assert!(s(None).check().is_ok());
        assert!(s(Some("Setters")).check().is_ok());
        assert!(
            s(Some("Merge"))
                .check()
                .expect_err("Merge")
                .contains("\"Merge\"")
        );
        assert_eq!(UpdateStrategy::path(None), ".");
    }
}
