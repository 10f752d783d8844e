//! `latestRef`: the image reference an ImagePolicy selected, and the four setter values made
//! from it.

use std::fmt;
use std::str::FromStr;
use std::sync::LazyLock;

use regex::Regex;
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

// The grammar of github.com/distribution/reference `regexp.go`.
const DOMAIN_COMPONENT: &str = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])";
const PATH_COMPONENT: &str = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*";

static NAME: LazyLock<Regex> = LazyLock::new(|| {
    let domain =
        format!(r"(?:{DOMAIN_COMPONENT}(?:\.{DOMAIN_COMPONENT})*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?");
    Regex::new(&format!(
        r"^(?:{domain}/)?{PATH_COMPONENT}(?:/{PATH_COMPONENT})*$"
    ))
    .expect("the reference name grammar is a valid regex")
});
static TAG: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[\w][\w.-]{0,127}$").expect("the tag grammar is a valid regex"));
static DIGEST: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$")
        .expect("the digest grammar is a valid regex")
});

impl LatestRef {
    /// The full reference `name:tag[@digest]`: the value of the `<namespace>:<name>` setter.
    pub fn full(&self) -> String {
        self.to_string()
    }

    /// Checks `name`, `tag` and `digest` against the OCI distribution reference grammar.
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
        if self.name.len() > 255 || !NAME.is_match(&self.name) {
            return fail(format!(
                "name {:?} is not registry/repository (lowercase path components, optional registry host with port)",
                self.name
            ));
        }
        if !TAG.is_match(&self.tag) {
            return fail(format!(
                "tag {:?} is not a valid tag (1 to 128 characters of [A-Za-z0-9_.-], not starting with '.' or '-')",
                self.tag
            ));
        }
        if !self.digest.is_empty() {
            let ok = DIGEST.is_match(&self.digest)
                && match self.digest.strip_prefix("sha256:") {
                    Some(hex) => {
                        hex.len() == 64
                            && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
                    }
                    None => true,
                };
            if !ok {
                return fail(format!(
                    "digest {:?} is not algorithm:hex (e.g. sha256: followed by 64 lowercase hex digits)",
                    self.digest
                ));
            }
        }
        Ok(())
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
}
