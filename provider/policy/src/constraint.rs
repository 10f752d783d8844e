//! Version ranges in the Masterminds/semver v3 constraint grammar, as Flux's
//! semver policy uses them (`semver.NewConstraint`, `Constraints.Check` with
//! `IncludePrerelease == false`; MM `constraints.go`).
//!
//! Grammar: `||` separates OR groups; inside a group, constraints separated by
//! spaces or commas are ANDed; `A - B` is rewritten to `>= A, <= B`; operators
//! `= != > < >= => <= =< ~ ~> ^` or none; versions may be partial (`1`, `1.2`)
//! or use the wildcards `x`, `X`, `*`. The lexical patterns are Masterminds'
//! own regular expressions, evaluated with the `regex` crate, whose
//! leftmost-first alternation is Go's.

use std::sync::LazyLock;

use regex::Regex;

use crate::version::Version;

/// Masterminds `cvRegex`: a constraint's version part (note the `|` inside the
/// character classes, a Masterminds quirk kept for compatibility).
const CV: &str = r"v?([0-9|x|X|\*]+)(\.[0-9|x|X|\*]+)?(\.[0-9|x|X|\*]+)?(-([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?(\+([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?";
/// Masterminds operators, in its alternation order (the empty one second).
const OPS: &str = r"=||!=|>|<|>=|=>|<=|=<|~|~>|\^";
/// Go's `\s` is ASCII only.
const WS: &str = r"[\t\n\x0C\r ]";

fn compile(pattern: String) -> Regex {
    Regex::new(&pattern).expect("the Masterminds constraint patterns are valid")
}

static CONSTRAINT: LazyLock<Regex> =
    LazyLock::new(|| compile(format!(r"^{WS}*({OPS}){WS}*({CV}){WS}*$")));
static RANGE: LazyLock<Regex> =
    LazyLock::new(|| compile(format!(r"{WS}*({CV}){WS}+-{WS}+({CV}){WS}*")));
static FIND: LazyLock<Regex> = LazyLock::new(|| compile(format!(r"({OPS}){WS}*({CV})")));
static VALID_GROUP: LazyLock<Regex> = LazyLock::new(|| {
    compile(format!(
        r"^({WS}*({OPS}){WS}*({CV}){WS}*)((?:{WS}+|,{WS}*)({OPS}){WS}*({CV}){WS}*)*$"
    ))
});

/// Masterminds refuses longer ranges (`MaxConstraintLen`, v3.5.0 `constraints.go`).
pub const MAX_RANGE_LEN: usize = 512;

/// Masterminds refuses ranges with more `||` groups, counted after hyphen ranges are rewritten
/// (`MaxConstraintGroups`, v3.5.0 `constraints.go`).
pub const MAX_GROUPS: usize = 32;

/// A parsed range: OR groups of ANDed constraints.
#[derive(Debug, Clone)]
pub struct Constraints {
    groups: Vec<Group>,
}

#[derive(Debug, Clone)]
struct Group {
    constraints: Vec<Constraint>,
    /// Whether some constraint of the group names a prerelease: only then may
    /// a prerelease version satisfy the group (MM `containsPre`).
    contains_pre: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    TildeOrEqual,
    NotEqual,
    Greater,
    Less,
    GreaterEqual,
    LessEqual,
    Tilde,
    Caret,
}

#[derive(Debug, Clone)]
struct Constraint {
    op: Op,
    version: Version,
    /// A wildcard or missing part somewhere (`1.x`, `1`, `*`).
    dirty: bool,
    /// The minor part is a wildcard or missing (`1`, `1.x`).
    minor_dirty: bool,
    /// The patch part is a wildcard or missing (`1.2`, `1.2.x`).
    patch_dirty: bool,
}

/// Why a range does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConstraintError {
    /// The range is empty (Masterminds refuses `""`).
    #[error("the range is empty; give one, for example \">=1.0.0\" or \"5.0.x\"")]
    Empty,
    /// An OR group does not follow the grammar.
    #[error("improper constraint: {group:?}")]
    Improper {
        /// The offending `||` group, as written.
        group: String,
    },
    /// The range is longer than [`MAX_RANGE_LEN`] bytes.
    #[error("the range is longer than {MAX_RANGE_LEN} bytes")]
    TooLong,
    /// The range has more than [`MAX_GROUPS`] `||` groups.
    #[error("the range has more than {MAX_GROUPS} alternatives joined with \"||\"")]
    TooManyGroups,
    /// A version inside a constraint is not a version (`1x.2`, a number over 2^64).
    #[error("improper version in constraint {constraint:?}")]
    Version {
        /// The offending constraint, as written.
        constraint: String,
    },
}

impl Constraints {
    /// Parses a range as Masterminds `NewConstraint` does.
    ///
    /// # Errors
    /// [`ConstraintError`] naming the group or constraint that is wrong.
    pub fn parse(range: &str) -> Result<Constraints, ConstraintError> {
        if range.trim().is_empty() {
            return Err(ConstraintError::Empty);
        }
        if range.len() > MAX_RANGE_LEN {
            return Err(ConstraintError::TooLong);
        }
        let rewritten = rewrite_hyphen_ranges(range);
        if rewritten.split("||").count() > MAX_GROUPS {
            return Err(ConstraintError::TooManyGroups);
        }
        let mut groups = Vec::new();
        for group in rewritten.split("||") {
            if !VALID_GROUP.is_match(group) {
                return Err(ConstraintError::Improper {
                    group: group.trim().to_owned(),
                });
            }
            let constraints = FIND
                .find_iter(group)
                .map(|m| parse_constraint(m.as_str()))
                .collect::<Result<Vec<_>, _>>()?;
            let contains_pre = constraints.iter().any(|c| c.version.is_prerelease());
            groups.push(Group {
                constraints,
                contains_pre,
            });
        }
        Ok(Constraints { groups })
    }

    /// Whether `version` satisfies the range (MM `Constraints.Check` with
    /// `IncludePrerelease == false`): some OR group whose constraints all hold,
    /// a prerelease version only in a group that names a prerelease itself.
    pub fn matches(&self, version: &Version) -> bool {
        self.groups.iter().any(|group| {
            (group.contains_pre || !version.is_prerelease())
                && group.constraints.iter().all(|c| c.check(version))
        })
    }

    /// The number of ANDed constraints in each `||` group, in order.
    pub fn and_counts(&self) -> Vec<usize> {
        self.groups.iter().map(|g| g.constraints.len()).collect()
    }

    /// Whether the range would accept `version` if prereleases were allowed in
    /// every group: tells "prerelease excluded" from "outside the range".
    pub fn matches_ignoring_prerelease_rule(&self, version: &Version) -> bool {
        self.groups
            .iter()
            .any(|group| group.constraints.iter().all(|c| c.check(version)))
    }
}

/// MM `rewriteRange`: each `A - B` becomes `>= A, <= B `.
fn rewrite_hyphen_ranges(range: &str) -> String {
    if !range.contains('-') {
        return range.to_owned();
    }
    let mut out = range.to_owned();
    for caps in RANGE.captures_iter(range) {
        let (whole, from, to) = (&caps[0], &caps[1], &caps[11]);
        out = out.replacen(whole, &format!(">= {from}, <= {to} "), 1);
    }
    out
}

fn is_wildcard(part: &str) -> bool {
    matches!(part, "x" | "X" | "*")
}

/// MM `parseConstraint`: one operator and version.
fn parse_constraint(text: &str) -> Result<Constraint, ConstraintError> {
    let invalid = || ConstraintError::Version {
        constraint: text.trim().to_owned(),
    };
    let caps = CONSTRAINT.captures(text).ok_or_else(invalid)?;
    let group = |i: usize| caps.get(i).map_or("", |m| m.as_str());
    let (op, major, minor, patch, pre) = (group(1), group(3), group(4), group(5), group(6));
    let (mut dirty, mut minor_dirty, mut patch_dirty) = (false, false, false);
    let normalised;
    let version_text = if is_wildcard(major) || major.is_empty() {
        dirty = true;
        normalised = format!("0.0.0{pre}");
        &normalised
    } else if minor.is_empty() || is_wildcard(&minor[1..]) {
        dirty = true;
        minor_dirty = true;
        normalised = format!("{major}.0.0{pre}");
        &normalised
    } else if patch.is_empty() || is_wildcard(&patch[1..]) {
        dirty = true;
        patch_dirty = true;
        normalised = format!("{major}{minor}.0{pre}");
        &normalised
    } else {
        group(2)
    };
    let version = Version::parse(version_text).map_err(|_| invalid())?;
    let op = match op {
        "" | "=" => Op::TildeOrEqual,
        "!=" => Op::NotEqual,
        ">" => Op::Greater,
        "<" => Op::Less,
        ">=" | "=>" => Op::GreaterEqual,
        "<=" | "=<" => Op::LessEqual,
        "~" | "~>" => Op::Tilde,
        "^" => Op::Caret,
        _ => return Err(invalid()),
    };
    Ok(Constraint {
        op,
        version,
        dirty,
        minor_dirty,
        patch_dirty,
    })
}

impl Constraint {
    /// One operator's test (MM `*Pred` functions), the prerelease rule having
    /// been applied by the group.
    fn check(&self, v: &Version) -> bool {
        let c = &self.version;
        match self.op {
            Op::NotEqual => {
                if self.dirty {
                    if c.major != v.major {
                        return true;
                    }
                    if c.minor != v.minor && !self.minor_dirty {
                        return true;
                    }
                    if self.minor_dirty {
                        return false;
                    }
                    if c.patch != v.patch && !self.patch_dirty {
                        return true;
                    }
                    if self.patch_dirty {
                        return (v.is_prerelease() || c.is_prerelease()) && v.pre != c.pre;
                    }
                }
                v != c
            }
            Op::Greater => {
                if !self.dirty {
                    return v > c;
                }
                if v.major != c.major {
                    return v.major > c.major;
                }
                if self.minor_dirty {
                    return false;
                }
                if self.patch_dirty {
                    return v.minor > c.minor;
                }
                v > c
            }
            Op::Less => v < c,
            Op::GreaterEqual => v >= c,
            Op::LessEqual => {
                if !self.dirty {
                    return v <= c;
                }
                !(v.major > c.major
                    || (v.major == c.major && v.minor > c.minor && !self.minor_dirty))
            }
            Op::Tilde => self.tilde(v),
            Op::TildeOrEqual => {
                if self.dirty {
                    self.tilde(v)
                } else {
                    v == c
                }
            }
            Op::Caret => {
                if v < c {
                    return false;
                }
                if c.major > 0 || self.minor_dirty {
                    return v.major == c.major;
                }
                if v.major > 0 {
                    return false;
                }
                if c.minor > 0 || self.patch_dirty {
                    return v.minor == c.minor;
                }
                if v.minor > 0 {
                    return false;
                }
                c.patch == v.patch
            }
        }
    }

    /// `~1.2.3` is `>=1.2.3 <1.3.0`, `~1` is `>=1.0.0 <2.0.0`, `~0.0.0` is any.
    fn tilde(&self, v: &Version) -> bool {
        let c = &self.version;
        if v < c {
            return false;
        }
        if c.major == 0 && c.minor == 0 && c.patch == 0 && !self.minor_dirty && !self.patch_dirty {
            return true;
        }
        v.major == c.major && (v.minor == c.minor || self.minor_dirty)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(range: &str, version: &str) -> bool {
        let c = Constraints::parse(range).expect("range parses");
        c.matches(&Version::parse(version).expect("version parses"))
    }

    #[test]
    fn prerelease_needs_a_prerelease_in_its_group() {
        assert!(!check(">=1.0.0", "1.1.0-rc.1"));
        assert!(check(">=1.0.0-0", "1.1.0-rc.1"));
        assert!(check("^1.x-0", "1.5.0-rc.1"));
        assert!(!check("<1.0.0-0 || >=1.0.0", "1.1.0-rc.1"));
    }

    #[test]
    fn hyphen_ranges_and_wildcards() {
        assert!(check("1.2 - 1.4.5", "1.4.5"));
        assert!(!check("1.2 - 1.4.5", "1.4.6"));
        assert!(check("5.0.x", "5.0.3"));
        assert!(!check("5.0.x", "5.1.0"));
        assert!(check("*", "9.9.9"));
        assert!(check(">1.2, <2", "1.3.0"));
    }

    #[test]
    fn range_rewrite_cases() {
        let fixture: serde_json::Value =
            serde_json::from_str(include_str!("../tests/fixtures/flux/semver_cases.json"))
                .expect("fixture is JSON");
        for case in fixture["rangeRewrite"].as_array().expect("cases") {
            let input = case["input"].as_str().expect("input");
            assert_eq!(
                Some(rewrite_hyphen_ranges(input).as_str()),
                case["expect"].as_str()
            );
        }
    }

    #[test]
    fn empty_and_garbage_ranges_are_errors() {
        assert_eq!(Constraints::parse("").err(), Some(ConstraintError::Empty));
        assert!(Constraints::parse("*-*").is_err());
        assert!(Constraints::parse("1.0.0p").is_err());
        assert!(Constraints::parse("a").is_err());
    }
}
