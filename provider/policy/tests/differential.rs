//! Differential tests against Flux's own code: random versions, ranges, comparisons and whole
//! ImagePolicy selections, each answered by Masterminds/semver and image-reflector-controller
//! (the `flux-diff-policy` oracle of `tools/flux-diff`, built by `scripts/build-flux-diff.sh`)
//! and by this crate, which must agree.
//!
//! 10,000 cases per property; `DIFF_CASES=200000 cargo test -p imageautomation-policy --test
//! differential` for a longer run, `DIFF_SEED=<n>` to replay the run a failure names.
//!
//! Inputs that differ on purpose are not generated, each named where it is left out: numeric
//! prerelease identifiers beyond 2^64, several policies in one spec, an empty tag list (Flux
//! stops before the policy). Disagreements found are pinned in
//! `tests/fixtures/differential_cases.json`.

#[path = "../../../tools/flux-diff/client.rs"]
mod flux_diff;

use std::collections::{BTreeMap, HashSet};

use imageautomation_policy::{
    Constraints, FilterTags, ImagePolicySpec, OrderPolicy, PolicyChoice, SemVerPolicy, TagSelector,
    Version, parse_tag_version,
};
use proptest::prelude::*;
use serde_json::{Value, json};

use flux_diff::Oracle;

const ORACLE: &str = "flux-diff-policy";

const DIGITS: &str = "0123456789";
const NONZERO: &str = "123456789";
const LOWER: &str = "abcdefghijklmnopqrstuvwxyz";
const ALNUM: &str = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
const HEX: &str = "0123456789abcdef";
/// Printable ASCII.
const PRINTABLE: &str = " !\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~";

/// A string made of runs of characters, each run `min..=max` characters from its alphabet:
/// far cheaper to generate than proptest's regex strategies, which dominated the run time.
fn runs(spec: &[(&str, usize, usize)]) -> BoxedStrategy<String> {
    let parts: Vec<BoxedStrategy<String>> = spec
        .iter()
        .map(|&(alphabet, min, max)| {
            let chars: Vec<char> = alphabet.chars().collect();
            prop::collection::vec(prop::sample::select(chars), min..=max)
                .prop_map(String::from_iter)
                .boxed()
        })
        .collect();
    parts.prop_map(|p| p.concat()).boxed()
}

/// `runs(spec)` or nothing.
fn maybe(spec: &[(&str, usize, usize)]) -> BoxedStrategy<String> {
    prop::option::of(runs(spec))
        .prop_map(Option::unwrap_or_default)
        .boxed()
}

// --- generators ---------------------------------------------------------------------------------

/// A numeric version part: mostly small (so that ranges and versions meet), with leading zeros
/// and numbers around 2^64.
fn number() -> BoxedStrategy<String> {
    prop_oneof![
        6 => (0u8..4).prop_map(|n| n.to_string()),
        2 => runs(&[(NONZERO, 1, 1), (DIGITS, 0, 2)]),
        1 => runs(&[("0", 1, 1), (DIGITS, 1, 2)]),
        1 => runs(&[(DIGITS, 1, 1)]).prop_map(|d| format!("1844674407370955161{d}")),
        1 => runs(&[(NONZERO, 1, 1), (DIGITS, 19, 20)]),
    ]
    .boxed()
}

/// A prerelease or build identifier, sometimes invalid (empty, leading zero, odd characters).
/// Numeric identifiers stay below 2^64: Masterminds compares longer ones as strings, this crate
/// as numbers, a documented difference (`src/version.rs`).
fn identifier() -> BoxedStrategy<String> {
    prop_oneof![
        4 => runs(&[(LOWER, 1, 4)]),
        3 => (0u8..12).prop_map(|n| n.to_string()),
        2 => runs(&[(DIGITS, 1, 3), ("abcXYZ-", 1, 1), ("0a1B-", 0, 3)]),
        1 => runs(&[("aZ-", 1, 1), (ALNUM, 0, 5)]),
        1 => runs(&[("0", 1, 1), (DIGITS, 1, 2)]),
        1 => runs(&[(DIGITS, 5, 18)]),
        1 => Just(String::new()),
        1 => runs(&[("_~.!é ", 1, 1)]),
    ]
    .boxed()
}

fn identifiers() -> BoxedStrategy<String> {
    prop::collection::vec(identifier(), 1..4)
        .prop_map(|ids| ids.join("."))
        .boxed()
}

/// A version: `v`, one to four numeric parts, prerelease, build metadata, or text around
/// the grammar's edges.
fn version_text() -> BoxedStrategy<String> {
    let structured = (
        prop_oneof![8 => Just(""), 2 => Just("v"), 1 => Just("V")],
        prop::collection::vec(number(), 1..5),
        prop::option::weighted(0.35, identifiers()),
        prop::option::weighted(0.2, identifiers()),
    )
        .prop_map(|(v, core, pre, build)| {
            let mut s = format!("{v}{}", core.join("."));
            if let Some(pre) = pre {
                s = format!("{s}-{pre}");
            }
            if let Some(build) = build {
                s = format!("{s}+{build}");
            }
            s
        });
    prop_oneof![
        12 => structured.clone(),
        // One odd character anywhere.
        2 => (structured, any::<prop::sample::Index>(), runs(&[(" .+-v,x*|", 1, 1)]))
            .prop_map(|(s, at, c)| insert_at(&s, at, &c)),
        1 => runs(&[(PRINTABLE, 0, 10)]),
        // Masterminds refuses versions over 256 bytes.
        1 => (250usize..262).prop_map(|n| format!("1.2.3-{}", "a".repeat(n - 6))),
    ]
    .boxed()
}

fn insert_at(s: &str, at: prop::sample::Index, text: &str) -> String {
    let boundaries: Vec<usize> = s.char_indices().map(|(i, _)| i).chain([s.len()]).collect();
    let i = *at.get(&boundaries);
    format!("{}{text}{}", &s[..i], &s[i..])
}

/// A constraint's version: wildcards, partial versions, prerelease, build metadata.
fn constraint_version() -> BoxedStrategy<String> {
    let part = || {
        prop_oneof![
            8 => number(),
            1 => Just("x".to_owned()),
            1 => Just("X".to_owned()),
            1 => Just("*".to_owned()),
        ]
    };
    (
        prop_oneof![6 => Just(""), 1 => Just("v")],
        prop::collection::vec(part(), 1..4),
        prop::option::weighted(0.25, identifiers()),
        prop::option::weighted(0.1, identifiers()),
    )
        .prop_map(|(v, core, pre, build)| {
            let mut s = format!("{v}{}", core.join("."));
            if let Some(pre) = pre {
                s = format!("{s}-{pre}");
            }
            if let Some(build) = build {
                s = format!("{s}+{build}");
            }
            s
        })
        .boxed()
}

fn blank() -> BoxedStrategy<&'static str> {
    prop_oneof![6 => Just(""), 3 => Just(" "), 1 => Just("  "), 1 => Just("\t")].boxed()
}

/// One term of an AND group: `op version`, or a hyphen range.
fn term() -> BoxedStrategy<String> {
    let op = prop::sample::select(vec![
        "", "", "", "=", "!=", ">", "<", ">=", "=>", "<=", "=<", "~", "~>", "^", "==", "<>", "=~",
    ]);
    prop_oneof![
        6 => (op, blank(), constraint_version()).prop_map(|(op, b, v)| format!("{op}{b}{v}")),
        1 => (constraint_version(), prop::sample::select(vec![" - ", "  -  ", " -", "- ", "-"]), constraint_version())
            .prop_map(|(a, dash, b)| format!("{a}{dash}{b}")),
    ]
    .boxed()
}

/// A range: `||` groups of terms joined by blanks or commas, with odd spacing.
fn range_text() -> BoxedStrategy<String> {
    let and = prop::sample::select(vec![" ", " ", ",", ", ", " , ", "  ", ",,", ""]);
    let group = (term(), prop::collection::vec((and, term()), 0..3)).prop_map(|(first, rest)| {
        rest.into_iter()
            .fold(first, |acc, (sep, t)| format!("{acc}{sep}{t}"))
    });
    let or = prop::sample::select(vec![" || ", "||", " ||", "|| ", " | ", "|||"]);
    let structured = (
        blank(),
        group.clone(),
        prop::collection::vec((or, group), 0..3),
        blank(),
    )
        .prop_map(|(lead, first, rest, trail)| {
            let body = rest
                .into_iter()
                .fold(first, |acc, (sep, g)| format!("{acc}{sep}{g}"));
            format!("{lead}{body}{trail}")
        });
    prop_oneof![
        14 => structured.clone(),
        2 => (structured, any::<prop::sample::Index>(), runs(&[(" ,|*x.v^~<>=!-", 1, 1)]))
            .prop_map(|(s, at, c)| insert_at(&s, at, &c)),
        1 => runs(&[(PRINTABLE, 0, 8)]),
        // Masterminds' limits: 512 bytes, 32 `||` groups.
        1 => (28usize..36).prop_map(|n| vec!["1.x"; n].join(" || ")),
        1 => (500usize..520).prop_map(|n| format!(">=1.0.0{}<2", " ".repeat(n - 9))),
    ]
    .boxed()
}

/// A tag: version-like, number-like, or a word.
fn tag() -> BoxedStrategy<String> {
    prop_oneof![
        5 => version_text(),
        4 => numeric_text(),
        2 => runs(&[(LOWER, 1, 1), ("abz09._-", 0, 8)]),
        1 => (prop::sample::select(vec!["main", "dev"]), runs(&[(HEX, 2, 4)]), runs(&[(DIGITS, 1, 4)]))
            .prop_map(|(b, h, n)| format!("{b}-{h}-{n}")),
        1 => runs(&[(DIGITS, 1, 2), ("-", 1, 1), (LOWER, 1, 3)]),
    ]
    .boxed()
}

/// Text for Go `strconv.ParseFloat`: decimals, exponents, hexadecimal floats (long
/// mantissas, extreme exponents), underscores, infinities, NaN, and near misses.
fn numeric_text() -> BoxedStrategy<String> {
    prop_oneof![
        6 => runs(&[("-", 0, 1), (DIGITS, 1, 4)]),
        3 => runs(&[(DIGITS, 0, 3), (".", 1, 1), (DIGITS, 0, 3)]),
        2 => runs(&[("+-", 0, 1), (DIGITS, 1, 2), ("eE", 1, 1), ("+-", 0, 1), (DIGITS, 1, 3)]),
        2 => (
            runs(&[("+-", 0, 1), ("0", 1, 1), ("xX", 1, 1), ("0123456789abcdefABCDEF_", 0, 3)]),
            maybe(&[(".", 1, 1), (HEX, 0, 2)]),
            maybe(&[("pP", 1, 1), ("+-", 0, 1), (DIGITS, 1, 2)]),
        )
            .prop_map(|(a, b, c)| format!("{a}{b}{c}")),
        2 => (
            runs(&[("0", 1, 1), ("x", 1, 1), ("123456789abcdef", 1, 1), (HEX, 12, 20)]),
            maybe(&[(".", 1, 1), (HEX, 0, 6)]),
            runs(&[("p", 1, 1), ("-", 0, 1), (DIGITS, 1, 2)]),
            prop::sample::select(vec!["", "", "10", "107"]),
        )
            .prop_map(|(a, b, c, d)| format!("{a}{b}{c}{d}")),
        2 => (
            runs(&[("0123456789_", 1, 6)]),
            maybe(&[(".", 1, 1), ("0123456789_", 0, 3)]),
            maybe(&[("eE", 1, 1), ("+_-", 0, 1), ("0123456789_", 1, 2)]),
        )
            .prop_map(|(a, b, c)| format!("{a}{b}{c}")),
        1 => (runs(&[(DIGITS, 15, 25)]), maybe(&[("e", 1, 1), ("-", 0, 1), (DIGITS, 3, 3)]))
            .prop_map(|(a, b)| format!("{a}{b}")),
        1 => prop::sample::select(vec![
            "inf", "Inf", "+Inf", "-inf", "infinity", "+Infinity", "INF", "NaN", "nan", "+NaN",
            "-nan", "infinit", "1e400", "-1e400", "1e-400", "0x1p-1080", "0x1p1024", ".", "e1",
            "1e", "0x", "0x.p1", "00", "-0", "+0", ".5", "5.", "1__0", "_1", "1_", "0x_1p0",
            "0x1_p0", "1.e5", "0x1.p1", "0x.8p1", "inf_", "0b101", "0o7", "1e1_0",
        ])
        .prop_map(str::to_owned),
    ]
    .boxed()
}

/// A `filterTags.pattern`: common shapes, or a random string of Go regexp syntax, valid or
/// not (escapes, classes, flags, named groups, repetitions), where Go's dialect and the
/// `regex` crate's part ways.
fn pattern() -> BoxedStrategy<String> {
    let common = prop::sample::select(vec![
        "",
        "^v",
        "-rc",
        "^(?P<v>[0-9.]+)$",
        "^([0-9]+)-(.*)$",
        "^v?(?P<version>[0-9]+\\.[0-9]+\\.[0-9]+)",
        "^(main|dev)-[a-f0-9]+-(?P<ts>[0-9]+)",
        "(?P<major>\\d+)\\.(?P<minor>\\d+)",
        "^(?<n>[0-9]+)",
        "([0-9]+)",
        "(?i)^V",
        "^(?P<n>[a-z]+)$|^(?P<n>[0-9]+)",
    ])
    .prop_map(str::to_owned);
    let fragment = prop::sample::select(vec![
        "a",
        "1",
        "-",
        ".",
        "v",
        "é",
        "x",
        "^",
        "$",
        "|",
        "(",
        ")",
        "(?:",
        "(?P<v>",
        "(?<n>",
        "(?P<1x>",
        "(?P<é>",
        "(?P<a.b>",
        "(?i)",
        "(?i:",
        "(?U)",
        "(?s-i:",
        "(?x)",
        "(?)",
        "(?-)",
        "(?P<v",
        "*",
        "+",
        "?",
        "*?",
        "+?",
        "{2}",
        "{1,3}",
        "{,3}",
        "{2,}",
        "{1001}",
        "{01}",
        "{3,1}",
        "{",
        "}",
        "\\d",
        "\\D",
        "\\w",
        "\\W",
        "\\s",
        "\\S",
        "\\b",
        "\\B",
        "\\A",
        "\\z",
        "\\Z",
        "\\C",
        "\\pL",
        "\\pN",
        "\\p{Greek}",
        "\\p{greek}",
        "\\p{Old_Italic}",
        "\\p{Emoji}",
        "\\PL",
        "\\p{^Lu}",
        "\\pZ",
        "\\p",
        "\\Q.*\\E",
        "\\Q",
        "\\E",
        "\\x41",
        "\\x{2d}",
        "\\x{110000}",
        "\\x{}",
        "\\x4",
        "\\012",
        "\\0",
        "\\1",
        "\\8",
        "\\_",
        "\\<",
        "\\>",
        "\\-",
        "\\.",
        "\\q",
        "\\e",
        "\\",
        "[0-9]",
        "[^a-z]",
        "[[:alpha:]]",
        "[[:^digit:]x]",
        "[[:foo:]]",
        "[]a]",
        "[a-]",
        "[z-a]",
        "[\\d-z]",
        "[a&&b]",
        "[a--b]",
        "[a~~b]",
        "[[a]",
        "[\\pL0-9]",
        "[\\P{Lu}]",
        "[\\W]",
        "[\\x{41}-\\x{5A}]",
        "[^]",
        "[\\b]",
        "[",
        "]",
    ]);
    let random = prop::collection::vec(fragment, 1..7).prop_map(|f| f.concat());
    prop_oneof![1 => common, 2 => random].boxed()
}

/// A `filterTags.extract`: Go `Regexp.ExpandString` templates, valid and not.
fn extract() -> BoxedStrategy<String> {
    prop::sample::select(vec![
        "",
        "",
        "$1",
        "${1}",
        "$2",
        "$v",
        "${v}",
        "$version",
        "$ts",
        "$n",
        "$major.$minor.0",
        "$1x",
        "${1}x",
        "$$",
        "$$1",
        "$0",
        "$01",
        "$123456789",
        "$1234567890",
        "$2$1",
        "$1.$2",
        "${v",
        "$",
        "x$",
        "x",
        "$nope",
        "$é",
        "$1²",
        "${1x}",
        "$1_",
        "${}",
        "$ {1}",
    ])
    .prop_map(str::to_owned)
    .boxed()
}

fn order() -> BoxedStrategy<Option<String>> {
    prop::option::weighted(
        0.8,
        prop::sample::select(vec![
            "",
            "asc",
            "ASC",
            "Asc",
            "desc",
            "DESC",
            "Desc",
            "ascending",
            " asc",
            "aſc",
            "deſc",
        ])
        .prop_map(str::to_owned),
    )
    .boxed()
}

/// A policy: exactly one of semver, alphabetical, numerical (Flux silently takes the first
/// of several where this crate refuses them, a documented difference), and maybe filterTags.
fn spec() -> BoxedStrategy<ImagePolicySpec> {
    let choice = prop_oneof![
        3 => range_text().prop_map(|range| PolicyChoice {
            semver: Some(SemVerPolicy { range }),
            ..PolicyChoice::default()
        }),
        1 => order().prop_map(|order| PolicyChoice {
            alphabetical: Some(OrderPolicy { order }),
            ..PolicyChoice::default()
        }),
        2 => order().prop_map(|order| PolicyChoice {
            numerical: Some(OrderPolicy { order }),
            ..PolicyChoice::default()
        }),
    ];
    let filter = prop::option::weighted(
        0.4,
        (pattern(), extract()).prop_map(|(pattern, extract)| FilterTags { pattern, extract }),
    );
    (choice, filter)
        .prop_map(|(policy, filter_tags)| ImagePolicySpec {
            policy,
            filter_tags,
        })
        .boxed()
}

/// A repository's tags: distinct (a registry lists each once) and at least one (with none,
/// Flux stops before the policy: "no tags in database"), in random order.
fn tags() -> BoxedStrategy<Vec<String>> {
    prop::collection::vec(tag(), 1..9)
        .prop_map(|tags| {
            let mut seen = HashSet::new();
            tags.into_iter()
                .filter(|t| seen.insert(t.clone()))
                .collect()
        })
        .boxed()
}

// --- comparisons --------------------------------------------------------------------------------

fn flux_ok(answer: &Value) -> bool {
    answer["ok"].as_bool().expect("the oracle says ok or not")
}

#[test]
fn versions_parse_like_masterminds_and_flux() {
    let mut oracle = Oracle::start(ORACLE);
    flux_diff::run(
        "version parse",
        &mut oracle,
        version_text(),
        |v| json!({"op": "version", "version": v}),
        |v, answer| {
            let ours = Version::parse(v);
            let ours_tag = parse_tag_version(v).is_ok();
            let agree = match &ours {
                Ok(parsed) => {
                    flux_ok(answer)
                        && answer["string"].as_str() == Some(parsed.to_string().as_str())
                        && answer["fluxOk"].as_bool() == Some(ours_tag)
                }
                Err(_) => !flux_ok(answer) && !ours_tag,
            };
            if agree {
                Ok(())
            } else {
                Err(format!(
                    "ours:    Version::parse = {:?}, parse_tag_version ok = {ours_tag}",
                    ours.map(|v| v.to_string())
                ))
            }
        },
    );
}

#[test]
fn versions_compare_like_masterminds() {
    let mut oracle = Oracle::start(ORACLE);
    flux_diff::run(
        "version compare",
        &mut oracle,
        (version_text(), version_text()),
        |(a, b)| json!({"op": "compare", "version": a, "other": b}),
        |(a, b), answer| {
            let (Ok(x), Ok(y)) = (Version::parse(a), Version::parse(b)) else {
                // Parsing is the other test's business; here both must at least agree it fails.
                return if flux_ok(answer) {
                    Err("ours:    one of the versions does not parse".to_owned())
                } else {
                    Ok(())
                };
            };
            let ours = x.compare(&y) as i64;
            if answer["compare"].as_i64() == Some(ours) {
                Ok(())
            } else {
                Err(format!("ours:    compare = {ours}"))
            }
        },
    );
}

#[test]
fn ranges_parse_and_check_like_masterminds() {
    let mut oracle = Oracle::start(ORACLE);
    let versions = prop::collection::vec(
        prop_oneof![3 => constraint_version(), 2 => version_text()],
        0..6,
    );
    flux_diff::run(
        "range check",
        &mut oracle,
        (range_text(), versions),
        |(range, versions)| json!({"op": "check", "constraint": range, "versions": versions}),
        |(range, versions), answer| {
            let parsed = Constraints::parse(range);
            let Ok(constraints) = parsed else {
                return if flux_ok(answer) {
                    Err(format!("ours:    the range does not parse: {parsed:?}"))
                } else {
                    Ok(())
                };
            };
            if !flux_ok(answer) {
                return Err("ours:    the range parses".to_owned());
            }
            let ours: Vec<Option<bool>> = versions
                .iter()
                .map(|v| Version::parse(v).ok().map(|v| constraints.matches(&v)))
                .collect();
            let flux: Vec<Option<bool>> = answer["checks"]
                .as_array()
                .map(|a| a.iter().map(Value::as_bool).collect())
                .unwrap_or_else(|| vec![None; versions.len()]);
            if ours == flux {
                Ok(())
            } else {
                Err(format!("ours:    checks = {ours:?}"))
            }
        },
    );
}

/// Strings for the filter alone: tags, and text beyond the OCI tag grammar where Go's ASCII
/// classes and Unicode-aware ones would differ.
fn filter_input() -> BoxedStrategy<String> {
    prop_oneof![
        3 => tag(),
        1 => runs(&[("az09é٣ſKα中 _.{}<>&~[]-", 0, 6)]),
    ]
    .boxed()
}

#[test]
fn filters_extract_like_flux() {
    let mut oracle = Oracle::start(ORACLE);
    let inputs = prop::collection::vec(filter_input(), 0..8).prop_map(|tags| {
        let mut seen = HashSet::new();
        tags.into_iter()
            .filter(|t| seen.insert(t.clone()))
            .collect::<Vec<_>>()
    });
    flux_diff::run(
        "filter",
        &mut oracle,
        ((pattern(), extract()), inputs),
        |((pattern, extract), tags)| json!({"op": "filter", "filterTags": {"pattern": pattern, "extract": extract}, "tags": tags}),
        |((pattern, extract), tags), answer| {
            let spec = ImagePolicySpec {
                policy: PolicyChoice {
                    alphabetical: Some(OrderPolicy::default()),
                    ..PolicyChoice::default()
                },
                filter_tags: Some(FilterTags {
                    pattern: pattern.clone(),
                    extract: extract.clone(),
                }),
            };
            let ours = TagSelector::new(&spec).map(|s| {
                s.explain(tags)
                    .candidates
                    .into_iter()
                    .map(|c| (c.key, c.tag))
                    .collect::<BTreeMap<_, _>>()
            });
            let flux = answer["keys"].as_object().map(|keys| {
                keys.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                    .collect::<BTreeMap<_, _>>()
            });
            let agree = match (&ours, flux_ok(answer)) {
                (Ok(keys), true) => {
                    flux.as_ref().is_none_or(BTreeMap::is_empty) && keys.is_empty()
                        || flux.as_ref() == Some(keys)
                }
                (Err(_), false) => true,
                _ => false,
            };
            if agree {
                Ok(())
            } else {
                Err(format!("ours:    {ours:?}"))
            }
        },
    );
}

#[test]
fn policies_select_like_flux() {
    let mut oracle = Oracle::start(ORACLE);
    flux_diff::run(
        "select",
        &mut oracle,
        (spec(), tags()),
        |(spec, tags)| json!({"op": "select", "policy": spec.policy, "filterTags": spec.filter_tags, "tags": tags}),
        |(spec, tags), answer| {
            let ours = TagSelector::new(spec).and_then(|s| s.select_latest(tags));
            let agree = match &ours {
                Ok(tag) => answer["tag"].as_str() == Some(tag.as_str()),
                Err(e) => {
                    !flux_ok(answer)
                        && answer["invalidPolicy"].as_bool().unwrap_or(false)
                            == e.is_invalid_policy()
                }
            };
            if agree {
                Ok(())
            } else {
                Err(format!("ours:    {ours:?}"))
            }
        },
    );
}
