//! Tag selection exactly as Flux's ImagePolicy does it: semver ranges
//! (Masterminds/semver v3), alphabetical and numerical order, and
//! `filterTags` (pattern and extract), with one documented, deterministic rule
//! where Flux itself is not deterministic.
//!
//! The main type is [`TagSelector`], built from an [`ImagePolicySpec`] (the
//! Flux `ImagePolicy.spec` shape). [`TagSelector::select_latest`] is the fast
//! path; [`TagSelector::explain`] also says why every other tag was not picked.
//!
//! This crate is pure and synchronous: it knows nothing of registries, Git,
//! Pulumi or async. Behaviour and upstream references:
//! fluxcd/image-reflector-controller `internal/policy/*.go`.
//!
//! # Determinism
//! Flux stores a repository's tags in descending byte order and runs the
//! policy over them in that order, so ties are broken by that order:
//! - semver: among equal versions (`1.0.0`, `v1.0.0`, `1.0.0+b`) the first,
//!   i.e. the greatest string, wins (Flux: strict `GreaterThan`);
//! - numerical: among equal values (`1`, `1.0`) the last, i.e. the smallest
//!   string, wins (Flux: the comparison that skips a tag is strict);
//! - filterTags: when two tags extract the same key, the smallest original
//!   wins (Flux: later map writes win).
//!
//! With `filterTags` Flux runs the policy over Go map keys in random order;
//! here the keys are put in the same descending byte order, so the rules above
//! apply to keys. The result never depends on the order of the input.

#![warn(missing_docs)]

pub mod constraint;
mod expand;
mod go_regexp;
mod numeric;
pub mod version;

use std::borrow::Cow;
use std::cmp::Ordering;

use regex::Regex;
use serde::{Deserialize, Serialize};

pub use constraint::{ConstraintError, Constraints};
pub use version::{TagVersionError, Version, VersionError, parse_tag_version};

/// The part of a Flux `ImagePolicy.spec` that selects a tag: `policy` and
/// `filterTags`. Other `ImagePolicy.spec` fields are ignored here, so a whole
/// spec can be read.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImagePolicySpec {
    /// Which tag wins: exactly one of `semver`, `alphabetical`, `numerical`.
    #[serde(default)]
    pub policy: PolicyChoice,
    /// Optional filter applied before the policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter_tags: Option<FilterTags>,
}

/// `spec.policy`: a union of which exactly one member must be set.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyChoice {
    /// `policy.semver`: the greatest version in a range.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub semver: Option<SemVerPolicy>,
    /// `policy.alphabetical`: the last (`asc`) or first (`desc`) tag in byte order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alphabetical: Option<OrderPolicy>,
    /// `policy.numerical`: the greatest (`asc`) or smallest (`desc`) number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub numerical: Option<OrderPolicy>,
}

/// `policy.semver`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SemVerPolicy {
    /// A Masterminds v3 range, e.g. `5.0.x`, `>=1.0.0 <2.0.0`, `^1.2 || ~2.0`.
    pub range: String,
}

/// `policy.alphabetical` and `policy.numerical`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrderPolicy {
    /// `asc` (default: the greatest wins) or `desc` (the smallest wins);
    /// case-insensitive, as Flux upper-cases it (with Unicode rules: `aſc` is `asc`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order: Option<String>,
}

/// `spec.filterTags`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilterTags {
    /// A regular expression in Go's `regexp` syntax (RE2, as Flux compiles it: ASCII `\d`,
    /// `\w`, `\s`, `\b`), unanchored; `""` matches every tag.
    #[serde(default)]
    pub pattern: String,
    /// A Go `ExpandString` template (`$1`, `${name}`) giving the key the policy
    /// compares; `""` compares the tag itself.
    #[serde(default)]
    pub extract: String,
}

/// Why selection failed: an invalid policy (fix the spec) or no tag selected
/// (the tags do not contain a match).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// No member of `spec.policy` is set.
    #[error(
        "policy: no policy is set; set exactly one of policy.semver.range, policy.alphabetical or policy.numerical"
    )]
    NoPolicy,
    /// More than one member of `spec.policy` is set.
    #[error("policy: {set} are set; set exactly one of them")]
    ManyPolicies {
        /// The members that are set, e.g. `policy.semver and policy.numerical`.
        set: String,
    },
    /// `policy.semver.range` does not parse.
    #[error(
        "policy.semver.range: invalid range {range:?}: {problem}; write constraints like \">=1.2.0 <2.0.0\", \"1.2.x\", \"^1.2\", \"~1.2.3\" or \"1.2 - 1.4\", alternatives joined with \"||\""
    )]
    InvalidRange {
        /// The range as given.
        range: String,
        /// What is wrong with it.
        problem: ConstraintError,
    },
    /// `policy.alphabetical.order` or `policy.numerical.order` is not `asc` or `desc`.
    #[error("policy.{policy}.order: unknown order {order:?}; use \"asc\" or \"desc\"")]
    InvalidOrder {
        /// `alphabetical` or `numerical`.
        policy: &'static str,
        /// The order as given.
        order: String,
    },
    /// `filterTags.pattern` is not a valid regular expression.
    #[error("filterTags.pattern: invalid regular expression {pattern:?}: {message}")]
    InvalidPattern {
        /// The pattern as given.
        pattern: String,
        /// The regex engine's explanation.
        message: String,
    },
    /// The tag list is empty (Flux: "version list argument cannot be empty").
    #[error("no tag selected: the tag list is empty")]
    NoTags,
    /// `filterTags.pattern` matched no tag.
    #[error("no tag selected: no tag matches filterTags.pattern {pattern:?}")]
    NoTagMatchesPattern {
        /// The pattern.
        pattern: String,
    },
    /// No tag is a version inside `policy.semver.range` (Flux: "unable to
    /// determine latest version from provided list").
    #[error(
        "no tag selected: no tag is a version in the range {range:?} ({considered} tags considered)"
    )]
    NoVersionInRange {
        /// The range.
        range: String,
        /// How many tags (or extracted keys) were looked at.
        considered: usize,
    },
    /// A tag is not a number under `policy.numerical`: Flux fails the whole
    /// policy on the first one in its stored order.
    #[error(
        "no tag selected: failed to parse invalid numeric value {value:?} (policy.numerical needs every tag to be a number; exclude the others with filterTags.pattern)"
    )]
    NotANumber {
        /// The tag (or extracted key) that is not a number.
        value: String,
    },
}

impl Error {
    /// Whether the policy itself is invalid (Flux: Stalled, reason
    /// `InvalidPolicy`) rather than the tags containing no match (Flux:
    /// Ready=False, retried).
    pub fn is_invalid_policy(&self) -> bool {
        matches!(
            self,
            Error::NoPolicy
                | Error::ManyPolicies { .. }
                | Error::InvalidRange { .. }
                | Error::InvalidOrder { .. }
                | Error::InvalidPattern { .. }
        )
    }
}

/// Why a tag was not selected, as [`TagSelector::explain`] reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RejectReason {
    /// `filterTags.pattern` does not match the tag.
    FilteredOut,
    /// Another tag extracted the same key and won it (the smaller original).
    SameKeyAs(String),
    /// Semver: the tag has fewer than three dot-separated parts.
    NotThreeParts,
    /// Semver: the tag is not a semantic version.
    NotSemver(VersionError),
    /// Semver: the version is outside the range.
    OutsideRange,
    /// Semver: a prerelease, and the range names no prerelease.
    PrereleaseExcluded,
    /// Numerical: the tag is not a number.
    NotANumber,
    /// The tag satisfies the policy but another one wins.
    LostTo(String),
}

impl std::fmt::Display for RejectReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RejectReason::FilteredOut => f.write_str("filtered out by filterTags.pattern"),
            RejectReason::SameKeyAs(tag) => {
                write!(f, "extracts the same key as {tag:?}, which wins the key")
            }
            RejectReason::NotThreeParts => f.write_str(
                "not three dot-separated parts (Flux considers only tags like 1.2.3 or v1.2.3-rc.1)",
            ),
            RejectReason::NotSemver(e) => write!(f, "not semver: {e}"),
            RejectReason::OutsideRange => f.write_str("outside the range"),
            RejectReason::PrereleaseExcluded => f.write_str(
                "prerelease excluded by the range (name a prerelease in the range, e.g. \">=1.0.0-0\", to include prereleases)",
            ),
            RejectReason::NotANumber => f.write_str("not a number"),
            RejectReason::LostTo(tag) => write!(f, "lost to a greater tag: {tag:?}"),
        }
    }
}

/// A tag that satisfies the filter and the policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Candidate {
    /// The original tag.
    pub tag: String,
    /// The value the policy compared: the extracted key, or the tag.
    pub key: String,
}

/// A tag that was not selected, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// The original tag.
    pub tag: String,
    /// Why it was not selected.
    pub reason: RejectReason,
}

/// The full account of one selection.
#[derive(Debug, Clone, PartialEq)]
pub struct Selection {
    /// The selected original tag, or why none was.
    pub result: Result<String, Error>,
    /// The tags that satisfy the filter and the policy, the winner first, then
    /// in the order the policy ranks them.
    pub candidates: Vec<Candidate>,
    /// Every other tag with its reason, in Flux's stored order (descending bytes).
    pub rejected: Vec<Rejection>,
}

impl Selection {
    /// Makes `winner`, a candidate, the selected tag, when checks after the policy (our
    /// `minimumAge` and `platforms`) set aside every candidate ranked above it: `winner` moves
    /// first, its own "lost to" rejection goes, the set-aside candidates lose theirs (the
    /// caller gives their reasons), and every other "lost to" names `winner`. Does nothing
    /// when `winner` is not a candidate.
    pub fn prefer(&mut self, winner: &str) {
        let Some(rank) = self.candidates.iter().position(|c| c.tag == winner) else {
            return;
        };
        let set_aside: Vec<String> = self.candidates[..rank]
            .iter()
            .map(|c| c.tag.clone())
            .collect();
        let chosen = self.candidates.remove(rank);
        self.candidates.insert(0, chosen);
        self.rejected.retain(|r| {
            !matches!(r.reason, RejectReason::LostTo(_))
                || (r.tag != winner && !set_aside.contains(&r.tag))
        });
        for r in &mut self.rejected {
            if let RejectReason::LostTo(to) = &mut r.reason {
                winner.clone_into(to);
            }
        }
        self.result = Ok(winner.to_owned());
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Order {
    Asc,
    Desc,
}

#[derive(Debug, Clone)]
enum Policer {
    SemVer {
        range: String,
        constraints: Constraints,
    },
    Alphabetical(Order),
    Numerical(Order),
}

#[derive(Debug, Clone)]
struct TagFilter {
    pattern: String,
    regex: Regex,
    /// `None` when `extract` is empty: the key is the tag itself.
    extract: Option<expand::Template>,
}

/// A compiled ImagePolicy selection: validate once, select many times.
#[derive(Debug, Clone)]
pub struct TagSelector {
    policer: Policer,
    filter: Option<TagFilter>,
}

/// One tag after the filter: the key the policy compares and the original.
struct Keyed<'a> {
    key: Cow<'a, str>,
    tag: &'a str,
}

fn parse_order(policy: &'static str, order: Option<&str>) -> Result<Order, Error> {
    // Unicode upper-casing, as Go's `strings.ToUpper` in Flux's factory: `aſc` is `ASC`.
    match order.map(str::to_uppercase).as_deref() {
        None | Some("") | Some("ASC") => Ok(Order::Asc),
        Some("DESC") => Ok(Order::Desc),
        Some(_) => Err(Error::InvalidOrder {
            policy,
            order: order.unwrap_or_default().to_owned(),
        }),
    }
}

impl TagSelector {
    /// Validates `spec` and compiles it (Flux IRC `internal/policy/factory.go`,
    /// except that setting more than one policy is an error here, where Flux
    /// silently takes the first of semver, alphabetical, numerical).
    ///
    /// # Errors
    /// An [`Error`] for which [`Error::is_invalid_policy`] holds, naming the field.
    pub fn new(spec: &ImagePolicySpec) -> Result<TagSelector, Error> {
        let choice = &spec.policy;
        let set: Vec<&str> = [
            choice.semver.as_ref().map(|_| "policy.semver"),
            choice.alphabetical.as_ref().map(|_| "policy.alphabetical"),
            choice.numerical.as_ref().map(|_| "policy.numerical"),
        ]
        .into_iter()
        .flatten()
        .collect();
        if set.len() > 1 {
            return Err(Error::ManyPolicies {
                set: set.join(" and "),
            });
        }
        let policer = if let Some(semver) = &choice.semver {
            let constraints =
                Constraints::parse(&semver.range).map_err(|problem| Error::InvalidRange {
                    range: semver.range.clone(),
                    problem,
                })?;
            Policer::SemVer {
                range: semver.range.clone(),
                constraints,
            }
        } else if let Some(alphabetical) = &choice.alphabetical {
            Policer::Alphabetical(parse_order("alphabetical", alphabetical.order.as_deref())?)
        } else if let Some(numerical) = &choice.numerical {
            Policer::Numerical(parse_order("numerical", numerical.order.as_deref())?)
        } else {
            return Err(Error::NoPolicy);
        };
        let filter = match &spec.filter_tags {
            None => None,
            Some(f) => {
                let compiled =
                    go_regexp::compile(&f.pattern).map_err(|message| Error::InvalidPattern {
                        pattern: f.pattern.clone(),
                        message,
                    })?;
                let extract = (!f.extract.is_empty())
                    .then(|| expand::Template::new(&f.extract, &compiled.names));
                Some(TagFilter {
                    pattern: f.pattern.clone(),
                    regex: compiled.regex,
                    extract,
                })
            }
        };
        Ok(TagSelector { policer, filter })
    }

    /// Selects the latest tag from `tags` (a repository's tag list, in any
    /// order) and returns the ORIGINAL tag.
    ///
    /// # Errors
    /// A "no tag selected" [`Error`]: empty list, nothing matched the pattern
    /// or the range, or a non-numeric tag under `numerical`.
    pub fn select_latest<S: AsRef<str>>(&self, tags: &[S]) -> Result<String, Error> {
        self.run(tags, &mut |_, _| {}, false).map(str::to_owned)
    }

    /// Like [`TagSelector::select_latest`], and also reports the candidates
    /// and why each other tag was not selected ("why was my tag not picked?").
    pub fn explain<S: AsRef<str>>(&self, tags: &[S]) -> Selection {
        let mut rejected: Vec<Rejection> = Vec::new();
        let result = self
            .run(
                tags,
                &mut |tag, reason| {
                    rejected.push(Rejection {
                        tag: tag.to_owned(),
                        reason,
                    })
                },
                true,
            )
            .map(str::to_owned);
        let mut candidates = self.rank_candidates(tags, &rejected);
        if let Ok(winner) = &result {
            for candidate in candidates.iter().filter(|c| &c.tag != winner) {
                rejected.push(Rejection {
                    tag: candidate.tag.clone(),
                    reason: RejectReason::LostTo(winner.clone()),
                });
            }
            // The winner first (ranking ties are broken like the selection).
            if let Some(i) = candidates.iter().position(|c| &c.tag == winner) {
                let w = candidates.remove(i);
                candidates.insert(0, w);
            }
        }
        rejected.sort_by(|a, b| b.tag.cmp(&a.tag));
        Selection {
            result,
            candidates,
            rejected,
        }
    }

    /// Orders two tags as this policy ranks them, after `filterTags` extraction:
    /// `Greater` when the policy prefers `a` over `b` (semver: higher version; alphabetical
    /// and numerical: later in `order`), `Equal` for equal keys. The semver range is not
    /// applied: a version outside it still has its place in the order.
    ///
    /// `None` when either tag is filtered out or its key cannot be ordered (not semver, not a
    /// number). Used by `downgrade: Deny` to tell whether a file's tag ranks above the selected
    /// one; this ordering is ours, Flux has no downgrade check.
    pub fn compare(&self, a: &str, b: &str) -> Option<Ordering> {
        let tags = [a, b];
        let keyed = self.filter(&tags, &mut |_, _| {});
        let [ka, kb] = keyed.as_slice() else {
            return None;
        };
        let (ka, kb) = (ka.key.as_ref(), kb.key.as_ref());
        match &self.policer {
            Policer::SemVer { .. } => {
                let va = parse_tag_version(ka).ok()?;
                let vb = parse_tag_version(kb).ok()?;
                Some(va.compare(&vb))
            }
            Policer::Alphabetical(order) => Some(directed(ka.cmp(kb), *order)),
            Policer::Numerical(order) => {
                let na = numeric::parse_go_float(ka)?;
                let nb = numeric::parse_go_float(kb)?;
                Some(directed(na.total_cmp(&nb), *order))
            }
        }
    }

    /// The filter step: every matching tag with its key (the extracted value,
    /// or the tag); `reject` hears about the others. Keys may repeat.
    fn filter<'a, S: AsRef<str>>(
        &self,
        tags: &'a [S],
        reject: &mut dyn FnMut(&str, RejectReason),
    ) -> Vec<Keyed<'a>> {
        let Some(filter) = &self.filter else {
            return tags
                .iter()
                .map(|t| Keyed {
                    key: Cow::Borrowed(t.as_ref()),
                    tag: t.as_ref(),
                })
                .collect();
        };
        let mut keyed = Vec::with_capacity(tags.len());
        let mut locations = filter.regex.capture_locations();
        for tag in tags.iter().map(AsRef::as_ref) {
            let key = match &filter.extract {
                None if filter.regex.is_match(tag) => Cow::Borrowed(tag),
                Some(template) if filter.regex.captures_read(&mut locations, tag).is_some() => {
                    template.expand(tag, &locations)
                }
                _ => {
                    reject(tag, RejectReason::FilteredOut);
                    continue;
                }
            };
            keyed.push(Keyed { key, tag });
        }
        keyed
    }

    /// Flux's filter map: one entry per key, the smallest original winning
    /// (later writes in descending stored order win). Returns the entries in
    /// stored order of their keys (descending bytes).
    fn dedup_keys<'a>(
        mut keyed: Vec<Keyed<'a>>,
        reject: &mut dyn FnMut(&str, RejectReason),
    ) -> Vec<Keyed<'a>> {
        keyed.sort_unstable_by(|a, b| b.key.cmp(&a.key).then_with(|| a.tag.cmp(b.tag)));
        let mut out: Vec<Keyed<'a>> = Vec::with_capacity(keyed.len());
        for k in keyed {
            match out.last() {
                Some(last) if last.key == k.key => {
                    if last.tag != k.tag {
                        reject(k.tag, RejectReason::SameKeyAs(last.tag.to_owned()));
                    }
                }
                _ => out.push(k),
            }
        }
        out
    }

    /// The selection. Semver and alphabetical need no key map: breaking ties
    /// on (key, smallest original) gives what the map gives. `report` asks
    /// for the map anyway, so that key collisions are reported as such.
    fn run<'a, S: AsRef<str>>(
        &self,
        tags: &'a [S],
        reject: &mut dyn FnMut(&str, RejectReason),
        report: bool,
    ) -> Result<&'a str, Error> {
        if tags.is_empty() {
            return Err(Error::NoTags);
        }
        let mut keyed = self.filter(tags, reject);
        let considered = keyed.len();
        if report || matches!(self.policer, Policer::Numerical(_)) {
            keyed = Self::dedup_keys(keyed, reject);
        }
        if keyed.is_empty() {
            let pattern = self.filter.as_ref().map(|f| f.pattern.clone());
            return Err(Error::NoTagMatchesPattern {
                pattern: pattern.unwrap_or_default(),
            });
        }
        match &self.policer {
            Policer::SemVer { range, constraints } => {
                let mut best: Option<(Version, &Keyed<'a>)> = None;
                for k in &keyed {
                    let version = match parse_tag_version(&k.key) {
                        Ok(v) => v,
                        Err(TagVersionError::NotThreeParts) => {
                            reject(k.tag, RejectReason::NotThreeParts);
                            continue;
                        }
                        Err(TagVersionError::NotSemver(e)) => {
                            reject(k.tag, RejectReason::NotSemver(e));
                            continue;
                        }
                    };
                    if !constraints.matches(&version) {
                        let reason = if version.is_prerelease()
                            && constraints.matches_ignoring_prerelease_rule(&version)
                        {
                            RejectReason::PrereleaseExcluded
                        } else {
                            RejectReason::OutsideRange
                        };
                        reject(k.tag, reason);
                        continue;
                    }
                    // Equal versions: the greater key string comes first in
                    // Flux's stored order and wins; one key: the smallest original.
                    let better = best.as_ref().is_none_or(|(bv, bk)| {
                        version
                            .compare(bv)
                            .then_with(|| k.key.cmp(&bk.key))
                            .then_with(|| bk.tag.cmp(k.tag))
                            == Ordering::Greater
                    });
                    if better {
                        best = Some((version, k));
                    }
                }
                best.map(|(_, k)| k.tag)
                    .ok_or_else(|| Error::NoVersionInRange {
                        range: range.clone(),
                        considered,
                    })
            }
            Policer::Alphabetical(order) => {
                let pick = match order {
                    Order::Asc => keyed
                        .iter()
                        .max_by(|a, b| a.key.cmp(&b.key).then_with(|| b.tag.cmp(a.tag))),
                    Order::Desc => keyed
                        .iter()
                        .min_by(|a, b| a.key.cmp(&b.key).then_with(|| a.tag.cmp(b.tag))),
                };
                Ok(pick.map(|k| k.tag).unwrap_or_default())
            }
            Policer::Numerical(order) => select_numerical(&keyed, *order, reject),
        }
    }

    /// The candidates of a selection ranked best first (for `explain`).
    fn rank_candidates<S: AsRef<str>>(&self, tags: &[S], rejected: &[Rejection]) -> Vec<Candidate> {
        let rejected: std::collections::HashSet<&str> =
            rejected.iter().map(|r| r.tag.as_str()).collect();
        // In stored order, so that the stable sorts below break ties as Flux.
        let mut keyed = Self::dedup_keys(self.filter(tags, &mut |_, _| {}), &mut |_, _| {});
        keyed.retain(|k| !rejected.contains(k.tag));
        match &self.policer {
            Policer::SemVer { .. } => {
                keyed.sort_by_cached_key(|k| std::cmp::Reverse(parse_tag_version(&k.key).ok()));
            }
            Policer::Alphabetical(Order::Desc) => keyed.reverse(),
            Policer::Alphabetical(Order::Asc) => {}
            Policer::Numerical(order) => {
                // Flux keeps the LAST of equal values: reverse, then stable sort.
                keyed.reverse();
                let value = |k: &Keyed<'_>| numeric::parse_go_float(&k.key).unwrap_or(f64::NAN);
                keyed.sort_by(|a, b| {
                    let o = value(b).total_cmp(&value(a));
                    if *order == Order::Asc { o } else { o.reverse() }
                });
            }
        }
        keyed
            .into_iter()
            .map(|k| Candidate {
                tag: k.tag.to_owned(),
                key: k.key.into_owned(),
            })
            .collect()
    }
}

/// `ordering` as the policy's `order` prefers: reversed for `DESC`.
fn directed(ordering: Ordering, order: Order) -> Ordering {
    match order {
        Order::Asc => ordering,
        Order::Desc => ordering.reverse(),
    }
}

/// Flux's numerical loop over the keys in stored order (descending bytes):
/// the first non-number fails the policy; a value replaces the current best
/// unless it is strictly worse, so among equal values the last wins.
fn select_numerical<'a>(
    keyed: &[Keyed<'a>],
    order: Order,
    reject: &mut dyn FnMut(&str, RejectReason),
) -> Result<&'a str, Error> {
    // `keyed` is deduplicated and in stored order (see `dedup_keys`).
    let sorted: Vec<(&Keyed<'a>, Option<f64>)> = keyed
        .iter()
        .map(|k| (k, numeric::parse_go_float(&k.key)))
        .collect();
    let mut first_bad = None;
    for (k, value) in &sorted {
        if value.is_none() {
            reject(k.tag, RejectReason::NotANumber);
            first_bad.get_or_insert(*k);
        }
    }
    if let Some(bad) = first_bad {
        return Err(Error::NotANumber {
            value: bad.key.clone().into_owned(),
        });
    }
    let mut best: Option<(&Keyed<'a>, f64)> = None;
    for (k, value) in sorted {
        let value = value.unwrap_or(f64::NAN);
        let skip = best.is_some_and(|(_, b)| match order {
            Order::Asc => value < b,
            Order::Desc => value > b,
        });
        if !skip {
            best = Some((k, value));
        }
    }
    Ok(best.map(|(k, _)| k.tag).unwrap_or_default())
}
