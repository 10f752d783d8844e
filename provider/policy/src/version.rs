//! Versions as Masterminds/semver v3 `NewVersion` reads them, and Flux's tag rule.
//!
//! Built on the `semver` crate's [`Prerelease`] and [`BuildMetadata`], whose
//! validation and ordering match Masterminds for every identifier that fits in a
//! `u64`. The numeric core (`v` prefix, coercion of a missing minor or patch,
//! leading zeros) is Masterminds' own and parsed here, because the `semver`
//! crate implements strict SemVer 2.0 and refuses all three.
//!
//! Known difference, ours and deliberate: Masterminds compares a numeric
//! prerelease identifier longer than `u64` as a string (and then ranks it above
//! every number); `semver` compares it as the number it is.

use std::cmp::Ordering;
use std::fmt;

use semver::{BuildMetadata, Prerelease};

/// A parsed version: `major.minor.patch[-prerelease][+build]`.
///
/// Equality and ordering follow Masterminds `Version.Compare`: numeric core
/// first, then "no prerelease" above any prerelease, then the prerelease
/// identifiers; build metadata is ignored (MM `version.go` `Compare`).
#[derive(Debug, Clone)]
pub struct Version {
    /// Major version number.
    pub major: u64,
    /// Minor version number (0 when the text had none).
    pub minor: u64,
    /// Patch version number (0 when the text had none).
    pub patch: u64,
    /// Prerelease identifiers, empty for a release.
    pub pre: Prerelease,
    /// Build metadata, ignored in comparisons.
    pub build: BuildMetadata,
}

/// Why a text is not a version, for `--explain` and constraint errors.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VersionError {
    /// The text does not have the shape `v?N[.N[.N]][-pre][+build]`.
    #[error("not a semantic version")]
    Syntax,
    /// A numeric part does not fit in 64 bits.
    #[error("a version number is larger than 2^64-1")]
    Overflow,
    /// A prerelease identifier is numeric with a leading zero (`1.0.0-01`).
    #[error("prerelease identifier has a leading zero or is invalid")]
    Prerelease,
    /// Build metadata has an invalid identifier.
    #[error("build metadata is invalid")]
    Build,
    /// The text is longer than [`MAX_VERSION_LEN`] bytes.
    #[error("longer than {MAX_VERSION_LEN} bytes")]
    TooLong,
}

/// Masterminds refuses longer versions (`MaxVersionLen`, v3.5.0 `version.go`), also the versions
/// inside a range.
pub const MAX_VERSION_LEN: usize = 256;

impl Version {
    /// Parses `text` as Masterminds v3 `NewVersion` does with its default
    /// `CoerceNewVersion = true`: optional lowercase `v`, one to three dot
    /// separated decimal numbers (leading zeros allowed, missing parts are 0),
    /// optional `-prerelease` and `+build` made of dot separated non-empty
    /// `[0-9A-Za-z-]` identifiers; numeric prerelease identifiers without a
    /// leading zero; at most [`MAX_VERSION_LEN`] bytes.
    ///
    /// # Errors
    /// [`VersionError`] saying which part is wrong.
    pub fn parse(text: &str) -> Result<Version, VersionError> {
        if text.len() > MAX_VERSION_LEN {
            return Err(VersionError::TooLong);
        }
        let bytes = text.as_bytes();
        let mut i = usize::from(bytes.first() == Some(&b'v'));
        let mut core = [0u64; 3];
        let mut parts = 0;
        loop {
            let start = i;
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
            if i == start {
                return Err(VersionError::Syntax);
            }
            core[parts] = text[start..i]
                .parse::<u64>()
                .map_err(|_| VersionError::Overflow)?;
            parts += 1;
            // Another numeric part follows only when a digit comes after the dot.
            if parts < 3
                && bytes.get(i) == Some(&b'.')
                && bytes.get(i + 1).is_some_and(u8::is_ascii_digit)
            {
                i += 1;
                continue;
            }
            break;
        }
        let rest = &text[i..];
        let (pre, build) = if rest.is_empty() {
            (None, None)
        } else if let Some(after) = rest.strip_prefix('-') {
            match after.split_once('+') {
                Some((pre, build)) => (Some(pre), Some(build)),
                None => (Some(after), None),
            }
        } else if let Some(build) = rest.strip_prefix('+') {
            (None, Some(build))
        } else {
            return Err(VersionError::Syntax);
        };
        if ![pre, build]
            .into_iter()
            .flatten()
            .all(identifiers_well_formed)
        {
            return Err(VersionError::Syntax);
        }
        let (pre, build) = (pre.unwrap_or(""), build.unwrap_or(""));
        let pre = if pre.is_empty() {
            Prerelease::EMPTY
        } else {
            Prerelease::new(pre).map_err(|_| VersionError::Prerelease)?
        };
        let build = if build.is_empty() {
            BuildMetadata::EMPTY
        } else {
            BuildMetadata::new(build).map_err(|_| VersionError::Build)?
        };
        Ok(Version {
            major: core[0],
            minor: core[1],
            patch: core[2],
            pre,
            build,
        })
    }

    /// Whether this is a prerelease (`1.0.0-rc.1`).
    pub fn is_prerelease(&self) -> bool {
        !self.pre.is_empty()
    }

    /// Masterminds `Compare`: build metadata is ignored.
    pub fn compare(&self, other: &Version) -> Ordering {
        (self.major, self.minor, self.patch)
            .cmp(&(other.major, other.minor, other.patch))
            .then_with(|| self.pre.cmp(&other.pre))
    }
}

/// Checks the identifier list after `-` or `+`: dot separated, each
/// identifier non-empty and made of `[0-9A-Za-z-]`.
fn identifiers_well_formed(ids: &str) -> bool {
    ids.split('.')
        .all(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
}

impl PartialEq for Version {
    fn eq(&self, other: &Self) -> bool {
        self.compare(other) == Ordering::Equal
    }
}

impl Eq for Version {}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        self.compare(other)
    }
}

impl fmt::Display for Version {
    /// Masterminds `String()`: the normalised form without `v` and with all
    /// three numbers (`v1.2` prints `1.2.0`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)?;
        if !self.pre.is_empty() {
            write!(f, "-{}", self.pre)?;
        }
        if !self.build.is_empty() {
            write!(f, "+{}", self.build)?;
        }
        Ok(())
    }
}

/// Why Flux's semver policy does not consider a tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TagVersionError {
    /// The tag has fewer than three dot separated parts (`1.2`, `v1`), the
    /// textual rule of fluxcd/pkg `version.ParseVersion`.
    NotThreeParts,
    /// The tag has three parts but is not a version.
    NotSemver(VersionError),
}

/// Parses a tag the way Flux's semver policy does (fluxcd/pkg
/// `version/version.go` `ParseVersion`): `strings.SplitN(tag, ".", 3)` must
/// give three parts, i.e. the tag contains at least two dots, and then
/// Masterminds `NewVersion` must accept it. So `1.2` and `v1` are skipped while
/// `1.0-rc.1` (two dots) parses as `1.0.0-rc.1`.
///
/// # Errors
/// [`TagVersionError`] saying which of the two rules the tag fails.
pub fn parse_tag_version(tag: &str) -> Result<Version, TagVersionError> {
    if tag.bytes().filter(|&b| b == b'.').take(2).count() < 2 {
        return Err(TagVersionError::NotThreeParts);
    }
    Version::parse(tag).map_err(TagVersionError::NotSemver)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coerces_and_keeps_prefix_rules() {
        let v = Version::parse("v1.2").expect("v1.2 parses");
        assert_eq!(v.to_string(), "1.2.0");
        assert_eq!(Version::parse("2025.02.03").map(|v| v.minor), Ok(2));
        assert!(Version::parse("1.2.3.4").is_err());
        assert!(Version::parse("V1.2.3").is_err());
        assert!(Version::parse("1.2.3-").is_err());
        assert!(Version::parse("1.2.3+").is_err());
        assert!(Version::parse("1.2.3-a..b").is_err());
        assert!(Version::parse("1.2.3-01").is_err());
        assert!(Version::parse("1.2.3+01").is_ok());
        assert!(Version::parse("1.").is_err());
        assert!(Version::parse("18446744073709551616").is_err());
    }

    #[test]
    fn build_metadata_is_ignored_in_comparisons() {
        let a = Version::parse("1.0.0+a").expect("parses");
        let b = Version::parse("v1.0.0+b").expect("parses");
        assert_eq!(a, b);
        let rc = Version::parse("1.0.0-rc.1").expect("parses");
        assert!(rc < a);
    }

    #[test]
    fn flux_tag_rule_counts_dots_not_parts() {
        assert_eq!(
            parse_tag_version("1.2").err(),
            Some(TagVersionError::NotThreeParts)
        );
        assert_eq!(
            parse_tag_version("v1").err(),
            Some(TagVersionError::NotThreeParts)
        );
        assert_eq!(
            parse_tag_version("1.0-rc.1").map(|v| v.to_string()),
            Ok("1.0.0-rc.1".to_owned())
        );
        assert!(parse_tag_version("1-rc.1.2").is_ok());
    }
}
