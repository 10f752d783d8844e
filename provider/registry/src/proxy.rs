//! HTTP proxies for registry traffic: an explicit proxy (Flux `spec.proxySecretRef`), else the
//! `HTTPS_PROXY`/`HTTP_PROXY`/`NO_PROXY` environment variables.
//!
//! The rules are those of Go's `net/http.ProxyFromEnvironment`, which Flux's controllers use
//! (`golang.org/x/net/http/httpproxy`), carried out by reqwest's own proxy matcher:
//!
//! - `HTTPS_PROXY` for `https://` registries, `HTTP_PROXY` for `http://` ones (`insecure`),
//!   each upper case first, then lower case (`https_proxy`, `http_proxy`); `ALL_PROXY` /
//!   `all_proxy` is the fallback for both, as curl and reqwest have it (Go has no
//!   `ALL_PROXY`). A value without a scheme (`proxy:3128`) means `http://proxy:3128`.
//! - `NO_PROXY` / `no_proxy`: comma-separated hosts (`example.com` also matches its
//!   subdomains, `.example.com` likewise), IP addresses, CIDR ranges, or `*` for everything.
//! - `localhost` and loopback addresses (`127.0.0.0/8`, `::1`) are never sent to an
//!   environment proxy, as Go never does; reqwest alone would proxy them (it follows curl).
//!
//! An explicit [`ProxyOptions`] replaces the environment entirely and carries every request,
//! loopback included (Go's `http.ProxyURL`, which Flux builds from `proxySecretRef`).

use std::fmt;

use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use url::Url;

use crate::error::{Error, Result};

/// Hosts that an environment proxy never carries (Go `httpproxy.Config.useProxy`).
const ALWAYS_DIRECT: &str = "localhost,127.0.0.0/8,::1";

/// An explicit proxy for all registry traffic: Flux's `spec.proxySecretRef` Secret, whose keys
/// are `address` (required), `username` and `password` (`fluxcd/pkg` `runtime/secrets`
/// `ProxyURLFromSecret`).
///
/// `Debug` shows the address without credentials and `[REDACTED]` for the password.
#[derive(Clone)]
pub struct ProxyOptions {
    /// The proxy URL, `http://host:port` or `https://host:port`, without credentials.
    pub address: Url,
    /// User name for HTTP Basic proxy authentication (`Proxy-Authorization`), if any.
    pub username: Option<String>,
    /// Its password.
    pub password: Option<SecretString>,
}

impl fmt::Debug for ProxyOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProxyOptions")
            .field("address", &redact(&self.address))
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "[REDACTED]"))
            .finish()
    }
}

impl ProxyOptions {
    /// Builds the options from the Secret's fields as written.
    ///
    /// `address` must be an absolute `http://` or `https://` URL with a host (`http://proxy:3128`).
    /// Credentials written in the address (`http://user:pass@proxy:3128`) are taken from it
    /// when `username` is not set, as Go's `net/url` would send them; the stored address never
    /// keeps them.
    ///
    /// # Errors
    /// [`Error::InvalidProxy`] naming the field: `address` when it does not parse, has
    /// another scheme or no host; `username` when a password comes without a user name.
    /// The messages never contain the password.
    pub fn new(
        address: &str,
        username: Option<String>,
        password: Option<SecretString>,
    ) -> Result<Self> {
        let mut url = parse_proxy_url("address", address)?;
        let mut username = username.filter(|u| !u.is_empty());
        let mut password = password.filter(|p| !p.expose_secret().is_empty());
        if !url.username().is_empty() || url.password().is_some() {
            if username.is_none() {
                let decode = |s: &str| {
                    percent_decode(s).ok_or_else(|| Error::InvalidProxy {
                        field: "address".into(),
                        reason: "the credentials in the URL are not valid percent-encoded \
                                 UTF-8; put them in the `username` and `password` fields"
                            .into(),
                    })
                };
                username = Some(decode(url.username())?);
                if password.is_none() {
                    password = url
                        .password()
                        .map(decode)
                        .transpose()?
                        .map(SecretString::from);
                }
            }
            // Cannot fail: the URL has a host (checked above).
            let _ = url.set_username("");
            let _ = url.set_password(None);
        }
        if password.is_some() && username.is_none() {
            return Err(Error::InvalidProxy {
                field: "username".into(),
                reason: "a proxy password needs a user name; set `username` as well".into(),
            });
        }
        Ok(Self {
            address: url,
            username,
            password,
        })
    }

    /// The proxy as shown in messages: `scheme://host:port`, no credentials.
    pub fn display_address(&self) -> String {
        redact(&self.address)
    }

    /// A stable, non-reversible fingerprint for cache keys: the address, the user name and a
    /// SHA-256 of the password. Never shown to users.
    pub fn identity(&self) -> String {
        let mut h = Sha256::new();
        h.update(self.address.as_str().as_bytes());
        h.update([0]);
        h.update(self.username.as_deref().unwrap_or_default().as_bytes());
        h.update([0]);
        if let Some(p) = &self.password {
            h.update(p.expose_secret().as_bytes());
        }
        let hex: String = h
            .finalize()
            .iter()
            .take(16)
            .map(|b| format!("{b:02x}"))
            .collect();
        format!("proxy:{hex}")
    }

    pub(crate) fn to_reqwest(&self) -> Result<reqwest::Proxy> {
        let mut proxy =
            reqwest::Proxy::all(self.address.as_str()).map_err(|e| Error::InvalidProxy {
                field: "address".into(),
                reason: format!("not usable as a proxy: {e}"),
            })?;
        if let Some(user) = &self.username {
            let pass = self
                .password
                .as_ref()
                .map(|p| p.expose_secret())
                .unwrap_or_default();
            proxy = proxy.basic_auth(user, pass);
        }
        Ok(proxy)
    }
}

/// The proxy variables of the environment, read once (see the module docs for the rules).
///
/// Reading them into a value lets a test build a client with any environment without changing
/// the process's (which every thread shares). `Debug` hides credentials in the URLs.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct EnvProxy {
    /// `HTTP_PROXY`, else `http_proxy`: the proxy for `http://` registries.
    pub http_proxy: Option<String>,
    /// `HTTPS_PROXY`, else `https_proxy`: the proxy for `https://` registries.
    pub https_proxy: Option<String>,
    /// `ALL_PROXY`, else `all_proxy`: the fallback for both.
    pub all_proxy: Option<String>,
    /// `NO_PROXY`, else `no_proxy`: hosts, domains, IPs and CIDRs reached directly.
    pub no_proxy: Option<String>,
}

impl fmt::Debug for EnvProxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let show = |v: &Option<String>| {
            v.as_deref().map(|s| match parse_proxy_url("", s) {
                Ok(u) => redact(&u),
                Err(_) => "[unparsable]".to_string(),
            })
        };
        f.debug_struct("EnvProxy")
            .field("http_proxy", &show(&self.http_proxy))
            .field("https_proxy", &show(&self.https_proxy))
            .field("all_proxy", &show(&self.all_proxy))
            .field("no_proxy", &self.no_proxy)
            .finish()
    }
}

impl EnvProxy {
    /// Reads `HTTP_PROXY`, `HTTPS_PROXY`, `ALL_PROXY` and `NO_PROXY`, each upper case first,
    /// then lower case; empty values count as unset.
    pub fn from_env() -> Self {
        fn first(names: [&str; 2]) -> Option<String> {
            names
                .iter()
                .filter_map(|n| std::env::var(n).ok())
                .find(|v| !v.trim().is_empty())
        }
        Self {
            http_proxy: first(["HTTP_PROXY", "http_proxy"]),
            https_proxy: first(["HTTPS_PROXY", "https_proxy"]),
            all_proxy: first(["ALL_PROXY", "all_proxy"]),
            no_proxy: first(["NO_PROXY", "no_proxy"]),
        }
    }

    /// True when no proxy variable is set.
    pub fn is_empty(&self) -> bool {
        self.http_proxy.is_none() && self.https_proxy.is_none() && self.all_proxy.is_none()
    }

    /// The reqwest proxies for these variables, in precedence order.
    pub(crate) fn to_reqwest(&self) -> Result<Vec<reqwest::Proxy>> {
        let no_proxy = match self.no_proxy.as_deref().map(str::trim) {
            Some(list) if !list.is_empty() => format!("{list},{ALWAYS_DIRECT}"),
            _ => ALWAYS_DIRECT.to_string(),
        };
        let mut out = Vec::new();
        let build = |var: &str, value: &str, make: fn(&str) -> reqwest::Result<reqwest::Proxy>| {
            let url = parse_proxy_url(var, value)?;
            make(url.as_str())
                .map(|p| p.no_proxy(reqwest::NoProxy::from_string(&no_proxy)))
                .map_err(|e| Error::InvalidProxy {
                    field: var.to_string(),
                    reason: format!("not usable as a proxy: {e}"),
                })
        };
        if let Some(v) = &self.https_proxy {
            out.push(build("HTTPS_PROXY", v, |u| reqwest::Proxy::https(u))?);
        }
        if let Some(v) = &self.http_proxy {
            out.push(build("HTTP_PROXY", v, |u| reqwest::Proxy::http(u))?);
        }
        if let Some(v) = &self.all_proxy {
            out.push(build("ALL_PROXY", v, |u| reqwest::Proxy::all(u))?);
        }
        Ok(out)
    }

    /// The proxy these variables name for a request to `url` that went through a proxy (by
    /// scheme, then `ALL_PROXY`), without credentials, for messages.
    pub(crate) fn display_for(&self, url: &Url) -> Option<String> {
        let chosen = match url.scheme() {
            "https" => self.https_proxy.as_ref(),
            _ => self.http_proxy.as_ref(),
        }
        .or(self.all_proxy.as_ref())?;
        parse_proxy_url("", chosen).ok().map(|u| redact(&u))
    }
}

/// Parses a proxy URL; a value without a scheme is `http://` (curl, Go).
fn parse_proxy_url(field: &str, value: &str) -> Result<Url> {
    let invalid = |reason: String| Error::InvalidProxy {
        field: field.to_string(),
        reason,
    };
    let value = value.trim();
    if value.is_empty() {
        return Err(invalid(
            "it is empty; give the proxy URL, e.g. `http://proxy.example.com:3128`".into(),
        ));
    }
    let with_scheme = if value.contains("://") {
        value.to_string()
    } else {
        format!("http://{value}")
    };
    // url's messages never echo the input, so a password in it cannot leak.
    let url = Url::parse(&with_scheme).map_err(|e| {
        invalid(format!(
            "not a URL ({e}); write it as `http://host:port` or `https://host:port`"
        ))
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid(format!(
            "scheme `{}` is not supported; use `http://host:port` or `https://host:port`",
            url.scheme()
        )));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(invalid(
            "it has no host; write it as `http://host:port`".into(),
        ));
    }
    Ok(url)
}

/// `scheme://host[:port]` of a proxy URL: never its credentials, path or query.
pub(crate) fn redact(url: &Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port() {
        Some(p) => format!("{}://{host}:{p}", url.scheme()),
        None => format!("{}://{host}", url.scheme()),
    }
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn address_is_validated_per_field_without_showing_the_password() {
        let ok = ProxyOptions::new("http://proxy:3128", Some("u".into()), Some("pw".into()))
            .expect("valid");
        assert_eq!(ok.display_address(), "http://proxy:3128");
        let dbg = format!("{ok:?}");
        assert!(!dbg.contains("pw\""), "{dbg}");
        assert!(dbg.contains("[REDACTED]"), "{dbg}");

        let bare = ProxyOptions::new("proxy.internal:8080", None, None).expect("no scheme");
        assert_eq!(bare.address.as_str(), "http://proxy.internal:8080/");

        for (address, want) in [
            ("socks5://proxy:1080", "scheme `socks5`"),
            ("http://", "not a URL"),
            ("", "empty"),
            ("http://[::1", "not a URL"),
        ] {
            let err = ProxyOptions::new(address, None, None).expect_err(address);
            let msg = err.to_string();
            assert!(msg.starts_with("invalid proxy address:"), "{msg}");
            assert!(msg.contains(want), "{address}: {msg}");
        }
        let err = ProxyOptions::new("http://proxy:3128", None, Some("hunter2".into()))
            .expect_err("password without user");
        assert!(err.to_string().contains("invalid proxy username"), "{err}");
        assert!(!err.to_string().contains("hunter2"));
    }

    #[test]
    fn credentials_in_the_address_move_to_the_fields() {
        let p = ProxyOptions::new("http://bob:p%40ss@proxy:3128", None, None).expect("valid");
        assert_eq!(p.username.as_deref(), Some("bob"));
        assert_eq!(p.password.as_ref().map(|s| s.expose_secret()), Some("p@ss"));
        assert_eq!(p.address.as_str(), "http://proxy:3128/");
        assert!(!format!("{p:?}").contains("p@ss"));
        let q = ProxyOptions::new(
            "http://proxy:3128",
            Some("bob".into()),
            Some("other".into()),
        )
        .expect("valid");
        assert_ne!(p.identity(), q.identity());
        assert!(!p.identity().contains("p@ss"));
    }

    #[test]
    fn environment_rules() {
        let env = EnvProxy {
            http_proxy: Some("http://u:secret@hp:1".into()),
            https_proxy: Some("hsp:2".into()),
            all_proxy: None,
            no_proxy: Some("internal.example, 10.0.0.0/8".into()),
        };
        let at = |u: &str| env.display_for(&Url::parse(u).expect("url"));
        assert_eq!(at("http://r.io/v2/").as_deref(), Some("http://hp:1"));
        assert_eq!(at("https://r.io/v2/").as_deref(), Some("http://hsp:2"));
        assert!(!format!("{env:?}").contains("secret"));
        assert_eq!(env.to_reqwest().expect("valid").len(), 2);
        let bad = EnvProxy {
            https_proxy: Some("ftp://x".into()),
            ..EnvProxy::default()
        };
        let err = bad.to_reqwest().expect_err("bad scheme");
        assert!(
            err.to_string().starts_with("invalid proxy HTTPS_PROXY"),
            "{err}"
        );
    }
}
