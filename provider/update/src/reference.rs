//! `latestRef`: the image reference an ImagePolicy selected, and the four setter values made
//! from it.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::Error;

/// An ImagePolicy's `status.latestRef`: `{name, tag, digest}`, rendered as
/// `name:tag[@digest]` (Flux IRC `api/v1/imagepolicy_types.go` `ImageRef.String()`).
///
/// `name` is `registry/repository` (the registry part may carry a port, `localhost:5000/app`),
/// `tag` an OCI tag, `digest` `algorithm:encoded` (`sha256:<64 hex>`) or empty when the policy
/// does not reflect digests. The JSON form is Flux's: `{"name", "tag", "digest"}` with `digest`
/// omitted when empty.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LatestRef {
    /// `registry/repository`, e.g. `ghcr.io/stefanprodan/podinfo`.
    pub name: String,
    /// The tag, e.g. `6.5.0`.
    pub tag: String,
    /// `sha256:<hex>`, or empty.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub digest: String,
}

/// The characters go-containerregistry allows in a repository path and in a tag
/// (`pkg/name/repository.go`, `tag.go`).
const REPOSITORY_CHARS: &str = "abcdefghijklmnopqrstuvwxyz0123456789_-./";
const TAG_CHARS: &str = "abcdefghijklmnopqrstuvwxyz0123456789_-.ABCDEFGHIJKLMNOPQRSTUVWXYZ";

impl LatestRef {
    /// The full reference `name:tag[@digest]`: the value of the `<namespace>:<name>` setter.
    pub fn full(&self) -> String {
        self.to_string()
    }

    /// Checks the reference as Flux does before it runs the setters: go-containerregistry's
    /// `name.ParseReference(name:tag[@digest], name.WeakValidation)` (v0.21.6, IAC
    /// `internal/update/setters.go`), plus the OCI distribution rule that a tag does not start
    /// with `.` or `-`, which no registry breaks (Flux's check lets such a tag through).
    ///
    /// - `name`: an optional registry (the first `/`-separated part, when it contains `.` or
    ///   `:`; a host Go's `net/url` reads back unchanged, e.g. `localhost:5000`,
    ///   `[::1]:5000`), then a repository of 2 to 255 characters of `[a-z0-9_./-]`;
    /// - `tag`: 1 to 128 characters of `[A-Za-z0-9_.-]`, not starting with `.` or `-`;
    /// - `digest`: empty, or `sha256:` and 64 lowercase hexadecimal digits.
    ///
    /// # Errors
    /// [`Error::InvalidReference`] naming the part that is wrong.
    pub fn validate(&self) -> Result<(), Error> {
        let fail = |reason: String| {
            Err(Error::InvalidReference {
                reference: self.to_string(),
                reason,
            })
        };
        if let Err(reason) = check_name(&self.name) {
            return fail(reason);
        }
        let tag_len = self.tag.chars().count();
        if !(1..=128).contains(&tag_len)
            || !self.tag.chars().all(|c| TAG_CHARS.contains(c))
            || self.tag.starts_with(['.', '-'])
        {
            return fail(format!(
                "tag {:?} is not a valid tag (1 to 128 characters of [A-Za-z0-9_.-], not starting with '.' or '-')",
                self.tag
            ));
        }
        if !self.digest.is_empty() {
            let ok = self.digest.strip_prefix("sha256:").is_some_and(|hex| {
                hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
            });
            if !ok {
                return fail(format!(
                    "digest {:?} is not sha256: followed by 64 lowercase hex digits",
                    self.digest
                ));
            }
        }
        Ok(())
    }
}

/// go-containerregistry `NewRepository` with weak validation.
fn check_name(name: &str) -> Result<(), String> {
    let (registry, repository) = match name.split_once('/') {
        Some((first, rest)) if first.contains(['.', ':']) => (first, rest),
        _ => ("", name),
    };
    let len = repository.chars().count();
    if !(2..=255).contains(&len) || !repository.chars().all(|c| REPOSITORY_CHARS.contains(c)) {
        return Err(format!(
            "repository {repository:?} in name {name:?} is not 2 to 255 characters of [a-z0-9_./-]"
        ));
    }
    if !registry_ok(registry) {
        return Err(format!(
            "registry {registry:?} in name {name:?} is not a host[:port] (go-containerregistry \
             requires that Go's net/url reads it back unchanged)"
        ));
    }
    Ok(())
}

/// go-containerregistry `checkRegistry`: `url.Parse("//" + registry)` succeeds and its host is
/// the registry unchanged (Go 1.26 `net/url` `parseHost`, for a URL without a scheme).
fn registry_ok(registry: &str) -> bool {
    let port_ok = |port: &str| {
        port.is_empty()
            || port
                .strip_prefix(':')
                .is_some_and(|digits| digits.bytes().all(|b| b.is_ascii_digit()))
    };
    // Characters `net/url` keeps as they are in a host; a `%` escape would change it.
    let host_char = |c: char| {
        !c.is_ascii() || c.is_ascii_alphanumeric() || "-._~!$&'()*+,;=:[]<>\"".contains(c)
    };
    if registry.contains(['#', '?', '@', '%']) || !registry.chars().all(host_char) {
        return false;
    }
    match registry.rfind('[') {
        None => {}
        Some(0) => {
            let Some(close) = registry.rfind(']') else {
                return false;
            };
            return port_ok(&registry[close + 1..])
                && registry[1..close].parse::<std::net::Ipv6Addr>().is_ok();
        }
        Some(_) => return false,
    }
    match registry.rfind(':') {
        Some(i) => port_ok(&registry[i..]),
        None => true,
    }
}

impl fmt::Display for LatestRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.name, self.tag)?;
        if !self.digest.is_empty() {
            write!(f, "@{}", self.digest)?;
        }
        Ok(())
    }
}

impl FromStr for LatestRef {
    type Err = Error;

    /// Parses `name:tag` or `name:tag@digest`; the registry part of `name` may have a port
    /// (`localhost:5000/app:1.0`). A reference without a tag is refused: a `latestRef` always
    /// has one.
    fn from_str(s: &str) -> Result<Self, Error> {
        let (name_tag, digest) = match s.split_once('@') {
            Some((nt, d)) => (nt, d),
            None => (s, ""),
        };
        let slash = name_tag.rfind('/').map_or(0, |i| i + 1);
        let Some(colon) = name_tag[slash..].rfind(':').map(|i| slash + i) else {
            return Err(Error::InvalidReference {
                reference: s.to_owned(),
                reason: "no tag: expected name:tag or name:tag@digest".to_owned(),
            });
        };
        let r = LatestRef {
            name: name_tag[..colon].to_owned(),
            tag: name_tag[colon + 1..].to_owned(),
            digest: digest.to_owned(),
        };
        r.validate()?;
        Ok(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA: &str = "sha256:6745aaad46d795c9836632e1fb62f24b7e7f4c843144da8e47a5465c411a14be";

    #[test]
    fn parses_name_tag_and_digest() {
        let r: LatestRef = format!("localhost:5000/team/app:v1.2.3@{SHA}")
            .parse()
            .unwrap();
        assert_eq!(r.name, "localhost:5000/team/app");
        assert_eq!(r.tag, "v1.2.3");
        assert_eq!(r.digest, SHA);
        assert_eq!(
            r.to_string(),
            format!("localhost:5000/team/app:v1.2.3@{SHA}")
        );
        let r: LatestRef = "helloworld:1.0.1".parse().unwrap();
        assert_eq!(
            (r.name.as_str(), r.tag.as_str(), r.digest.as_str()),
            ("helloworld", "1.0.1", "")
        );
    }

    #[test]
    fn refuses_bad_references() {
        for bad in [
            "helloworld",
            "localhost:5000/app",
            "app/Upper:1",
            "app:",
            "app:-x",
            "app:1 2",
            "app:1@sha256:zz",
            "app:1@sha256:abc",
            ":1",
            "app:1\n",
        ] {
            assert!(bad.parse::<LatestRef>().is_err(), "{bad:?} was accepted");
        }
    }

    /// Found by the differential tests against Flux (`tests/differential.rs`): Flux checks a
    /// latestRef with go-containerregistry's weak validation, not the distribution grammar.
    /// Every case here was run through image-automation-controller v1.2.4.
    #[test]
    fn validates_like_go_containerregistry() {
        let sha = |c: &str| format!("sha256:{}", c.repeat(64));
        let check = |name: &str, tag: &str, digest: &str| {
            LatestRef {
                name: name.into(),
                tag: tag.into(),
                digest: digest.into(),
            }
            .validate()
            .is_ok()
        };
        for name in [
            "ab",
            "app/",
            "a__b/c..d",
            "-app",
            "Reg.Example/app",
            "reg_1.example/app",
            "[::1]:5000/app",
            "reg.io:/app",
            "a:b:5000/app",
            "é.io/app",
        ] {
            assert!(check(name, "1", ""), "{name:?} is valid for Flux");
        }
        for name in [
            "a",
            "[1.2.3.4]/app",
            "[::1/app",
            "reg.io:x/app",
            "user@reg.io/app",
            "reg.io/App",
            "localhost:5000",
            "reg.io%41/app",
        ] {
            assert!(!check(name, "1", ""), "{name:?} is invalid for Flux");
        }
        assert!(check("app", "_x", ""));
        assert!(check("app", &"a".repeat(128), ""));
        assert!(!check("app", &"a".repeat(129), ""));
        assert!(!check("app", "1 2", ""));
        assert!(check("app", "1", &sha("a")));
        assert!(!check("app", "1", &sha("A")));
        assert!(!check("app", "1", &format!("sha512:{}", "a".repeat(128))));
        assert!(!check("app", "", &sha("a")));
        // Deliberately stricter than Flux, which accepts these tags no registry can have.
        assert!(!check("app", "-x", ""));
        assert!(!check("app", ".x", ""));
    }
}
