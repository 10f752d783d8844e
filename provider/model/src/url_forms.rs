//! The scp-like Git remote form `[user@]host:path` (as `git clone` reads it: no `://`, and a
//! `:` before the first `/`), one rule for the Git client and the rendered Flux
//! `GitRepository`, which takes `ssh://` URLs only.

use std::sync::LazyLock;

use regex::Regex;

static SCP_LIKE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?:(?P<user>[^@/:]+)@)?(?P<host>[^@/:\[\]]+):(?P<path>.+)$")
        .expect("static regex")
});

/// A remote written `[user@]host:path`, e.g. `git@github.com:org/repo.git`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScpLike<'a> {
    /// The SSH user, e.g. `git`.
    pub user: Option<&'a str>,
    /// The host name or address.
    pub host: &'a str,
    /// The path after the `:`, e.g. `org/repo.git`.
    pub path: &'a str,
}

impl<'a> ScpLike<'a> {
    /// The scp-like form of `url`, `None` for a URL with a scheme or any other text.
    pub fn parse(url: &'a str) -> Option<Self> {
        if url.contains("://") {
            return None;
        }
        let c = SCP_LIKE.captures(url)?;
        Some(ScpLike {
            user: c.name("user").map(|m| m.as_str()),
            host: c.name("host")?.as_str(),
            path: c.name("path")?.as_str(),
        })
    }

    /// The same remote as an `ssh://` URL: `ssh://git@github.com/org/repo.git`.
    pub fn to_ssh_url(&self) -> String {
        let user = self.user.map(|u| format!("{u}@")).unwrap_or_default();
        format!(
            "ssh://{user}{}/{}",
            self.host,
            self.path.trim_start_matches('/')
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scp_like_forms_and_what_is_not_one() {
        let s = ScpLike::parse("git@github.com:org/repo.git").expect("scp-like");
        assert_eq!(
            (s.user, s.host, s.path),
            (Some("git"), "github.com", "org/repo.git")
        );
        assert_eq!(s.to_ssh_url(), "ssh://git@github.com/org/repo.git");
        let no_user = ScpLike::parse("example.com:/srv/repo.git").expect("no user");
        assert_eq!(no_user.to_ssh_url(), "ssh://example.com/srv/repo.git");
        assert_eq!(ScpLike::parse("https://github.com/org/repo"), None);
        assert_eq!(ScpLike::parse("ssh://git@host:22/repo"), None);
        assert_eq!(ScpLike::parse("repo/with:colon"), None);
        assert_eq!(ScpLike::parse("plain-path"), None);
    }
}
