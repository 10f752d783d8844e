//! Registry credentials and the Docker config JSON they usually come from.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use base64::Engine as _;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// How to authenticate to one registry.
///
/// Secrets are held in [`SecretString`]s: `Debug` prints `[REDACTED]`, and nothing in this
/// crate puts them in a message.
#[derive(Clone, Default)]
pub enum Credentials {
    /// No credentials: anonymous access, including anonymous Bearer tokens (Docker Hub, GHCR).
    #[default]
    Anonymous,
    /// A username and password: sent as HTTP Basic to a Basic challenge, or to the token
    /// service of a Bearer challenge.
    Basic {
        /// The user name (not secret).
        username: String,
        /// The password or personal access token.
        password: SecretString,
    },
    /// An OAuth2 refresh token (`identitytoken` in a Docker config), exchanged at the Bearer
    /// realm with `grant_type=refresh_token` (distribution `docs/spec/auth/oauth.md`).
    IdentityToken {
        /// The refresh token.
        token: SecretString,
    },
    /// A ready registry token (`registrytoken` in a Docker config), sent as `Bearer` as is.
    RegistryToken {
        /// The bearer token.
        token: SecretString,
    },
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credentials::Anonymous => f.write_str("Anonymous"),
            Credentials::Basic { username, .. } => f
                .debug_struct("Basic")
                .field("username", username)
                .field("password", &"[REDACTED]")
                .finish(),
            Credentials::IdentityToken { .. } => f.write_str("IdentityToken([REDACTED])"),
            Credentials::RegistryToken { .. } => f.write_str("RegistryToken([REDACTED])"),
        }
    }
}

impl Credentials {
    /// A username and password.
    pub fn basic(username: impl Into<String>, password: impl Into<String>) -> Self {
        Credentials::Basic {
            username: username.into(),
            password: SecretString::from(password.into()),
        }
    }

    /// A stable, non-reversible fingerprint of these credentials, for cache keys ("did the
    /// credentials change?"): the kind, the user name and a SHA-256 of the secret. Never shown
    /// to users.
    pub fn identity(&self) -> String {
        fn fp(kind: &str, user: &str, secret: &SecretString) -> String {
            let mut h = Sha256::new();
            h.update(kind.as_bytes());
            h.update([0]);
            h.update(user.as_bytes());
            h.update([0]);
            h.update(secret.expose_secret().as_bytes());
            let d = h.finalize();
            let hex: String = d.iter().take(16).map(|b| format!("{b:02x}")).collect();
            format!("{kind}:{user}:{hex}")
        }
        match self {
            Credentials::Anonymous => "anonymous".to_string(),
            Credentials::Basic { username, password } => fp("basic", username, password),
            Credentials::IdentityToken { token } => fp("identitytoken", "", token),
            Credentials::RegistryToken { token } => fp("registrytoken", "", token),
        }
    }

    /// True for [`Credentials::Anonymous`].
    pub fn is_anonymous(&self) -> bool {
        matches!(self, Credentials::Anonymous)
    }
}

/// A Docker config JSON: `{"auths": {"<registry>": {"auth": base64(user:pass)} | {"username",
/// "password"} | {"identitytoken"} | {"registrytoken"}}}`.
///
/// The format of `~/.docker/config.json` and of `kubernetes.io/dockerconfigjson` Secrets
/// (`.dockerconfigjson`). Credential helpers (`credsStore`, `credHelpers`) are not run.
#[derive(Clone, Default)]
pub struct DockerConfig {
    auths: BTreeMap<String, Credentials>,
}

impl fmt::Debug for DockerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DockerConfig")
            .field("registries", &self.auths.keys().collect::<Vec<_>>())
            .finish()
    }
}

#[derive(Deserialize)]
struct RawConfig {
    #[serde(default)]
    auths: BTreeMap<String, RawAuth>,
}

#[derive(Deserialize, Default)]
struct RawAuth {
    #[serde(default)]
    auth: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    identitytoken: Option<String>,
    #[serde(default)]
    registrytoken: Option<String>,
}

impl DockerConfig {
    /// Decodes a Docker config JSON. `origin` names it in error messages (a path or "Secret
    /// ns/name").
    ///
    /// # Errors
    /// [`Error::InvalidDockerConfig`] when the JSON does not decode or an `auth` value is not
    /// base64 of `username:password`. The message names the registry key, never the secret.
    /// Entries without credentials (`{}`, written beside a `credsStore`) are skipped.
    pub fn from_json(json: &[u8], origin: &str) -> Result<Self> {
        let invalid = |reason: String| Error::InvalidDockerConfig {
            origin: origin.to_string(),
            reason,
        };
        let raw: RawConfig = serde_json::from_slice(json).map_err(|e| {
            // serde_json quotes a value of the wrong type, which may be a password.
            invalid(format!(
                "not a Docker config JSON: {}",
                imageautomation_model::without_values(&e.to_string())
            ))
        })?;
        let mut auths = BTreeMap::new();
        for (key, entry) in raw.auths {
            let creds = if let Some(token) = entry.registrytoken.filter(|t| !t.is_empty()) {
                Credentials::RegistryToken {
                    token: SecretString::from(token),
                }
            } else if let Some(token) = entry.identitytoken.filter(|t| !t.is_empty()) {
                Credentials::IdentityToken {
                    token: SecretString::from(token),
                }
            } else if let Some(auth) = entry.auth.filter(|a| !a.is_empty()) {
                let decoded = base64::engine::general_purpose::STANDARD
                    .decode(auth.trim())
                    .ok()
                    .and_then(|b| String::from_utf8(b).ok())
                    .ok_or_else(|| {
                        invalid(format!(
                            "`auths.{key}.auth` is not base64 of `username:password`"
                        ))
                    })?;
                let (user, pass) = decoded.split_once(':').ok_or_else(|| {
                    invalid(format!(
                        "`auths.{key}.auth` is not base64 of `username:password`"
                    ))
                })?;
                Credentials::basic(user, pass)
            } else if let (Some(u), Some(p)) = (entry.username, entry.password) {
                Credentials::basic(u, p)
            } else {
                // `{}`: what Docker writes next to `credsStore`; the secret lives in a
                // credential helper, which is not run. Treated as no entry.
                continue;
            };
            auths.insert(key, creds);
        }
        Ok(Self { auths })
    }

    /// Reads and decodes a Docker config JSON file.
    ///
    /// # Errors
    /// [`Error::InvalidDockerConfig`] when the file cannot be read or decoded.
    pub fn from_file(path: &Path) -> Result<Self> {
        let origin = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|e| Error::InvalidDockerConfig {
            origin: origin.clone(),
            reason: format!("cannot read file: {e}"),
        })?;
        Self::from_json(&bytes, &origin)
    }

    /// Where Docker keeps its config: `$DOCKER_CONFIG/config.json`, else
    /// `~/.docker/config.json` (`None` without `HOME`).
    pub fn default_path() -> Option<std::path::PathBuf> {
        if let Some(dir) = std::env::var_os("DOCKER_CONFIG").filter(|d| !d.is_empty()) {
            return Some(Path::new(&dir).join("config.json"));
        }
        let home = std::env::var_os("HOME").filter(|h| !h.is_empty())?;
        Some(Path::new(&home).join(".docker").join("config.json"))
    }

    /// Reads the config at [`DockerConfig::default_path`]; `Ok(None)` when there is none.
    ///
    /// # Errors
    /// [`Error::InvalidDockerConfig`] when the file exists but cannot be read or decoded.
    pub fn load_default() -> Result<Option<Self>> {
        match Self::default_path() {
            Some(path) if path.is_file() => Self::from_file(&path).map(Some),
            _ => Ok(None),
        }
    }

    /// The registries this config has entries for, as written.
    pub fn registries(&self) -> impl Iterator<Item = &str> {
        self.auths.keys().map(String::as_str)
    }

    /// The credentials for `registry` (`host[:port]`), or [`Credentials::Anonymous`].
    ///
    /// Keys match like Docker and GGCR's keychain: the key may carry a scheme and path
    /// (`https://index.docker.io/v1/`), and Docker Hub's keys (`docker.io`, `index.docker.io`,
    /// `registry-1.docker.io`) are interchangeable.
    pub fn credentials_for(&self, registry: &str) -> Credentials {
        let wanted = normalize_key(registry);
        self.auths
            .iter()
            .find(|(k, _)| normalize_key(k) == wanted)
            .map(|(_, c)| c.clone())
            .unwrap_or_default()
    }
}

fn normalize_key(key: &str) -> String {
    let key = key.split_once("://").map_or(key, |(_, rest)| rest);
    let host = key.split('/').next().unwrap_or(key).to_ascii_lowercase();
    match host.as_str() {
        "docker.io" | "index.docker.io" | "registry-1.docker.io" => "index.docker.io".into(),
        _ => host,
    }
}

#[cfg(test)]
mod tests {
    /// Found by fuzzing (fuzz/fuzz_targets/docker_config.rs, issue #15): serde_json quoted a
    /// value of the wrong type, e.g. a password given as a number, in the error.
    #[test]
    fn a_value_of_the_wrong_type_is_not_quoted_in_the_error() {
        for json in [
            "222222222222222",
            r#"{"auths": "s3cret-password"}"#,
            r#"{"auths": {"r.io": {"username": "u", "password": 987654321012}}}"#,
        ] {
            let err = DockerConfig::from_json(json.as_bytes(), "test").expect_err("invalid");
            let text = format!("{err} {err:?}");
            for secret in ["222222222222222", "s3cret-password", "987654321012"] {
                assert!(!text.contains(secret), "{text}");
            }
            assert!(text.contains("invalid type"), "{text}");
        }
    }

    use super::*;

    #[test]
    fn reads_every_auths_form() {
        let json = br#"{"auths": {
            "127.0.0.1:5000": {"auth": "YWxpY2U6czNjcjN0"},
            "https://index.docker.io/v1/": {"username": "bob", "password": "pw"},
            "ghcr.io": {"identitytoken": "refresh-me"},
            "quay.io": {"registrytoken": "tok"}
        }}"#;
        let cfg = DockerConfig::from_json(json, "test").expect("valid");
        match cfg.credentials_for("127.0.0.1:5000") {
            Credentials::Basic { username, password } => {
                assert_eq!(username, "alice");
                assert_eq!(password.expose_secret(), "s3cr3t");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            cfg.credentials_for("index.docker.io"),
            Credentials::Basic { ref username, .. } if username == "bob"
        ));
        assert!(matches!(
            cfg.credentials_for("ghcr.io"),
            Credentials::IdentityToken { .. }
        ));
        assert!(matches!(
            cfg.credentials_for("quay.io"),
            Credentials::RegistryToken { .. }
        ));
        assert!(cfg.credentials_for("example.com").is_anonymous());
    }

    #[test]
    fn errors_never_show_secrets() {
        let json = br#"{"auths": {"r.io": {"auth": "not base64 secretvalue!"}}}"#;
        let err = DockerConfig::from_json(json, "cfg.json").expect_err("bad auth");
        let msg = err.to_string();
        assert!(msg.contains("auths.r.io.auth"), "{msg}");
        assert!(!msg.contains("secretvalue"), "{msg}");

        let helper =
            DockerConfig::from_json(br#"{"auths": {"r.io": {}}, "credsStore": "desktop"}"#, "x")
                .expect("credential helper entries are skipped");
        assert!(helper.credentials_for("r.io").is_anonymous());
        let err = DockerConfig::from_json(b"{nope", "x").expect_err("not json");
        assert!(
            err.to_string().contains("not a Docker config JSON"),
            "{err}"
        );
    }

    #[test]
    fn debug_redacts_and_identity_tracks_the_secret() {
        let a = Credentials::basic("alice", "s3cret");
        let dbg = format!("{a:?}");
        assert!(!dbg.contains("s3cret"), "{dbg}");
        assert!(dbg.contains("alice"));
        assert_ne!(
            a.identity(),
            Credentials::basic("alice", "other").identity()
        );
        assert_eq!(
            a.identity(),
            Credentials::basic("alice", "s3cret").identity()
        );
        assert!(!a.identity().contains("s3cret"));
    }
}
