//! Where a Git token may be sent: one rule for the plugin and the command line.
//!
//! A token the user did not give for this repository ([`TokenOrigin::Ambient`]: the provider's
//! `githubToken`, the `GITHUB_TOKEN` environment variable) goes to GitHub only: Git remotes on
//! `github.com` and the API at `api.github.com`, over HTTPS. A token given for the repository
//! ([`TokenOrigin::Explicit`]: `git.auth`, `--git-token-stdin`) goes to the remotes (and the
//! pull-request API) the user named, over HTTPS, or over plain HTTP to a loopback host only,
//! where it cannot be read on the way.

/// Where a token came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenOrigin {
    /// From the environment or provider-wide config (`GITHUB_TOKEN`, `githubToken`).
    Ambient,
    /// Given for this repository (`git.auth.token`, `--git-token-stdin`).
    Explicit,
}

/// Why a token is not sent to a URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Withheld {
    /// An ambient token and a host other than GitHub's.
    #[error(
        "the token from GITHUB_TOKEN or imageautomation:githubToken goes to github.com only, not to {host}"
    )]
    NotGitHub {
        /// The URL's host (and port).
        host: String,
    },
    /// Plain `http://` to a host that is not loopback.
    #[error(
        "a token is never sent over plain http:// to {host} (only to loopback hosts); use https://"
    )]
    PlainHttp {
        /// The URL's host (and port).
        host: String,
    },
    /// Not an `http(s)://` URL (SSH remotes take keys, not tokens), or one that does not parse.
    #[error("a token goes to http(s):// URLs only")]
    NotHttp,
}

/// `Ok(host)` when a token of `origin` may be sent to `url` (a Git remote, or with
/// `api = true` the pull-request API base URL), with the host (and port) to name in output.
///
/// # Errors
/// [`Withheld`], saying why not.
pub fn token_destination(url: &str, origin: TokenOrigin, api: bool) -> Result<String, Withheld> {
    let parsed = url::Url::parse(url).map_err(|_| Withheld::NotHttp)?;
    let host = match (parsed.host_str(), parsed.port()) {
        (Some(h), Some(p)) => format!("{h}:{p}"),
        (Some(h), None) => h.to_owned(),
        (None, _) => return Err(Withheld::NotHttp),
    };
    let github = if api { "api.github.com" } else { "github.com" };
    match parsed.scheme() {
        "https" if origin == TokenOrigin::Explicit || parsed.host_str() == Some(github) => Ok(host),
        "https" => Err(Withheld::NotGitHub { host }),
        "http" if origin == TokenOrigin::Ambient => Err(Withheld::NotGitHub { host }),
        "http" if is_loopback(&parsed) => Ok(host),
        "http" => Err(Withheld::PlainHttp { host }),
        _ => Err(Withheld::NotHttp),
    }
}

fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use TokenOrigin::{Ambient, Explicit};

    #[test]
    fn ambient_tokens_go_to_github_only() {
        assert_eq!(
            token_destination("https://github.com/org/fleet.git", Ambient, false),
            Ok("github.com".into())
        );
        assert_eq!(
            token_destination("https://api.github.com", Ambient, true),
            Ok("api.github.com".into())
        );
        for url in [
            "https://gitlab.example.com/org/fleet.git",
            "http://127.0.0.1:8080/org/fleet.git",
            "https://github.com.evil.example/org/fleet.git",
        ] {
            assert!(
                matches!(
                    token_destination(url, Ambient, false),
                    Err(Withheld::NotGitHub { .. })
                ),
                "{url}"
            );
        }
        assert!(token_destination("https://github.example.com/api/v3", Ambient, true).is_err());
    }

    #[test]
    fn explicit_tokens_go_where_named_but_not_over_plain_http_off_loopback() {
        assert_eq!(
            token_destination("https://git.example.com/org/fleet.git", Explicit, false),
            Ok("git.example.com".into())
        );
        for url in [
            "http://127.0.0.1:8080/x.git",
            "http://[::1]:80/x.git",
            "http://localhost/x",
        ] {
            assert!(token_destination(url, Explicit, false).is_ok(), "{url}");
        }
        assert_eq!(
            token_destination("http://git.example.com/x.git", Explicit, false),
            Err(Withheld::PlainHttp {
                host: "git.example.com".into()
            })
        );
        assert_eq!(
            token_destination("ssh://git@github.com/org/x.git", Explicit, false),
            Err(Withheld::NotHttp)
        );
    }
}
