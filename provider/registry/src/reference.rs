//! `spec.image` parsing as Flux does it: GGCR `name.ParseReference` defaults plus Flux's own
//! refusals of schemes and tags (IRC `internal/registry/helper.go` `ParseImageReference`).

use std::fmt;
use std::net::IpAddr;

use crate::error::{Error, Result};

/// Docker Hub's registry host, as GGCR spells it (`name.DefaultRegistry`).
pub const DOCKER_HUB: &str = "index.docker.io";

/// A parsed `spec.image`: a registry host and a repository path, without tag or digest.
///
/// Shape: `registry/repository`, e.g. `index.docker.io/library/alpine`,
/// `127.0.0.1:5000/team/app`. Built by [`ImageReference::parse`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ImageReference {
    registry: String,
    repository: String,
    insecure: bool,
}

impl ImageReference {
    /// Parses `spec.image` like Flux's `ParseImageReference(image, insecure)`.
    ///
    /// - Docker Hub defaults: `alpine` → `index.docker.io/library/alpine`, `docker.io/x/y` →
    ///   `index.docker.io/x/y` (GGCR: the first path segment is a registry only when it
    ///   contains `.` or `:`).
    /// - `insecure` selects plain HTTP (Flux `spec.insecure`, GGCR `name.Insecure`).
    ///
    /// # Errors
    /// [`Error::InvalidImage`] when the image has a URL scheme (`https://...`), a tag
    /// (`alpine:3`), a digest (`alpine@sha256:...`), is empty, or has characters outside GGCR's
    /// repository alphabet `[a-z0-9_./-]` (2 to 255 characters) or an invalid registry host.
    pub fn parse(image: &str, insecure: bool) -> Result<Self> {
        let invalid = |reason: String| Error::InvalidImage {
            image: image.to_string(),
            reason,
        };
        if let Some((scheme, _)) = image.split_once("://") {
            return Err(invalid(format!(
                "should not include URL scheme; remove '{scheme}://'"
            )));
        }
        if image.is_empty() {
            return Err(invalid("a repository name must be specified".into()));
        }
        if let Some((_, digest)) = image.split_once('@') {
            return Err(invalid(format!(
                "should not include a digest; remove '@{digest}'"
            )));
        }
        let (registry, repository) = match image.split_once('/') {
            Some((first, rest)) if first.contains('.') || first.contains(':') => {
                (first.to_string(), rest.to_string())
            }
            _ => (String::new(), image.to_string()),
        };
        // Flux strips the registry from the input and refuses any ':' left (a tag).
        if let Some((_, tag)) = repository.split_once(':') {
            return Err(invalid(format!(
                "should not include a tag; remove ':{tag}'"
            )));
        }
        check_repository(&repository).map_err(&invalid)?;
        let registry = match registry.as_str() {
            "" | "docker.io" => DOCKER_HUB.to_string(),
            other => {
                check_registry(other).map_err(&invalid)?;
                other.to_string()
            }
        };
        let repository = if registry == DOCKER_HUB && !repository.contains('/') {
            format!("library/{repository}")
        } else {
            repository
        };
        Ok(Self {
            registry,
            repository,
            insecure,
        })
    }

    /// Registry host with optional port (`index.docker.io`, `127.0.0.1:5000`).
    pub fn registry(&self) -> &str {
        &self.registry
    }

    /// Repository path (`library/alpine`, `team/app`).
    pub fn repository(&self) -> &str {
        &self.repository
    }

    /// Whether plain HTTP was asked for (`spec.insecure`).
    pub fn insecure(&self) -> bool {
        self.insecure
    }

    /// Flux's `status.canonicalImageName`: `registry/repository` (GGCR
    /// `ref.Context().String()`).
    pub fn canonical_name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }

    /// True when GGCR would default this registry to plain HTTP (after trying HTTPS first):
    /// `localhost:*`, loopback addresses, `*.local` and RFC 1918 addresses
    /// (GGCR `pkg/name/registry.go` `Scheme`).
    pub fn is_local_registry(&self) -> bool {
        let host = host_of(&self.registry);
        if host == "localhost" || host.ends_with(".local") {
            return true;
        }
        match host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
        {
            Ok(IpAddr::V4(ip)) => ip.is_loopback() || ip.is_private(),
            Ok(IpAddr::V6(ip)) => ip.is_loopback(),
            Err(_) => false,
        }
    }
}

impl fmt::Display for ImageReference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)
    }
}

/// `host` of `host[:port]`, keeping IPv6 brackets.
fn host_of(registry: &str) -> &str {
    if registry.starts_with('[') {
        return registry.split_once(']').map_or(registry, |(h, _)| h);
    }
    registry.rsplit_once(':').map_or(registry, |(h, _)| h)
}

/// GGCR `checkRepository`: characters `[a-z0-9_./-]`, 2 to 255 of them; plus no empty path
/// segment, which no registry accepts.
fn check_repository(repository: &str) -> std::result::Result<(), String> {
    if let Some(c) = repository
        .chars()
        .find(|c| !matches!(c, 'a'..='z' | '0'..='9' | '_' | '-' | '.' | '/'))
    {
        return Err(format!(
            "repository can only contain the characters `abcdefghijklmnopqrstuvwxyz0123456789_-./`, \
             found {c:?} in {repository:?}"
        ));
    }
    if repository.len() < 2 || repository.len() > 255 {
        return Err(format!(
            "repository must be between 2 and 255 characters in length: {repository:?}"
        ));
    }
    if repository.split('/').any(str::is_empty) {
        return Err(format!(
            "repository has an empty path segment: {repository:?}"
        ));
    }
    Ok(())
}

/// GGCR `checkRegistry`: the host must survive URL parsing unchanged.
fn check_registry(registry: &str) -> std::result::Result<(), String> {
    match url::Url::parse(&format!("http://{registry}/")) {
        Ok(u) => {
            let host = u.host_str().unwrap_or_default();
            let back = match u.port() {
                Some(p) => format!("{host}:{p}"),
                None => host.to_string(),
            };
            if back == registry {
                Ok(())
            } else {
                Err(format!(
                    "registries must be valid RFC 3986 URI authorities: {registry}"
                ))
            }
        }
        Err(_) => Err(format!(
            "registries must be valid RFC 3986 URI authorities: {registry}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_hub_defaults_like_ggcr() {
        let cases = [
            ("alpine", "index.docker.io/library/alpine"),
            ("docker.io/alpine", "index.docker.io/library/alpine"),
            ("docker.io/fluxcd/flux", "index.docker.io/fluxcd/flux"),
            ("index.docker.io/fluxcd/flux", "index.docker.io/fluxcd/flux"),
            ("fluxcd/flux", "index.docker.io/fluxcd/flux"),
            ("ghcr.io/fluxcd/flux", "ghcr.io/fluxcd/flux"),
            ("127.0.0.1:5000/team/app", "127.0.0.1:5000/team/app"),
            ("localhost:5000/app", "localhost:5000/app"),
            // GGCR treats a first segment without '.' or ':' as part of a Docker Hub path.
            ("localhost/app", "index.docker.io/localhost/app"),
            ("example.com/foo/bar", "example.com/foo/bar"),
        ];
        for (input, want) in cases {
            let r = ImageReference::parse(input, false).expect(input);
            assert_eq!(r.canonical_name(), want, "{input}");
        }
    }

    #[test]
    fn refuses_scheme_tag_digest_and_bad_characters() {
        let cases = [
            (
                "https://example.com/foo/bar",
                "should not include URL scheme; remove 'https://'",
            ),
            ("alpine:3.19", "should not include a tag; remove ':3.19'"),
            (
                "127.0.0.1:5000/app:v1",
                "should not include a tag; remove ':v1'",
            ),
            (
                "docker.io/alpine:1",
                "should not include a tag; remove ':1'",
            ),
            ("alpine@sha256:abc", "should not include a digest"),
            ("Alpine", "can only contain"),
            ("", "must be specified"),
            ("a", "between 2 and 255"),
            ("example.com//x", "empty path segment"),
        ];
        for (input, want) in cases {
            let err = ImageReference::parse(input, false).expect_err(input);
            assert!(
                matches!(err, Error::InvalidImage { .. }),
                "{input}: {err:?}"
            );
            assert!(err.to_string().contains(want), "{input}: {err}");
        }
    }

    #[test]
    fn local_registries_like_ggcr() {
        for (image, local) in [
            ("127.0.0.1:5000/a/b", true),
            ("localhost:5000/ab", true),
            ("[::1]:5000/ab", true),
            ("10.1.2.3/ab", true),
            ("192.168.0.1:443/ab", true),
            ("registry.local/ab", true),
            ("ghcr.io/ab", false),
            ("alpine", false),
        ] {
            let r = ImageReference::parse(image, false).expect(image);
            assert_eq!(r.is_local_registry(), local, "{image}");
        }
    }

    proptest::proptest! {
        /// Parsing a canonical name gives it back; with a tag appended it is refused.
        #[test]
        fn canonical_names_are_fixed_points(
            registry in proptest::sample::select(vec!["", "docker.io/", "ghcr.io/", "r.example:5000/", "127.0.0.1:5000/"]),
            repository in "[a-z0-9]{2,8}(/[a-z0-9][a-z0-9._-]{0,6}[a-z0-9]){0,2}",
            tag in "[A-Za-z0-9_][A-Za-z0-9._-]{0,10}",
        ) {
            let r = ImageReference::parse(&format!("{registry}{repository}"), false).expect("valid");
            let again = ImageReference::parse(&r.canonical_name(), false).expect("canonical");
            proptest::prop_assert_eq!(again.canonical_name(), r.canonical_name());
            proptest::prop_assert!(!r.canonical_name().starts_with("docker.io/"));
            let tagged = format!("{registry}{repository}:{tag}");
            proptest::prop_assert!(ImageReference::parse(&tagged, false).is_err());
        }
    }

    /// Flux `controller_cases.json#parseImageReference`, case for case.
    #[test]
    fn flux_parse_image_reference_cases() {
        let cases: serde_json::Value =
            serde_json::from_str(include_str!("../testdata/flux/controller_cases.json"))
                .expect("valid JSON");
        let cases = cases["parseImageReference"]["cases"]
            .as_array()
            .expect("cases");
        assert!(!cases.is_empty());
        for case in cases {
            let url = case["url"]
                .as_str()
                .expect("url")
                .replace("<registry>", "127.0.0.1:5000")
                .replace("<repo>", "foo/bar")
                .replace("<tag>", "v1");
            let insecure = case["insecure"].as_bool().unwrap_or(false);
            let got = ImageReference::parse(&url, insecure);
            if case["expectError"].as_bool() == Some(true) {
                let err = got.expect_err(&url);
                if let Some(want) = case["expectMessageContains"].as_str() {
                    assert!(err.to_string().contains(want), "{url}: {err}");
                }
            } else {
                let r = got.expect(&url);
                if let Some(want) = case["expectRefString"].as_str() {
                    assert_eq!(r.canonical_name(), want);
                }
            }
        }
    }
}
