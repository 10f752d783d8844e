//! Invariants of tag selection, over generated tag lists and ranges.

use imageautomation_policy::{
    Constraints, FilterTags, ImagePolicySpec, OrderPolicy, PolicyChoice, SemVerPolicy, TagSelector,
    Version, parse_tag_version,
};
use proptest::prelude::*;
use proptest::sample::select;

/// Tags as registries have them: versions with and without `v`, partial
/// versions, prereleases, build metadata, and words.
fn tag() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => (0u8..3, 0u8..4, 0u8..4, any::<bool>(), prop::option::of(0u8..3), prop::option::of(0u8..2))
            .prop_map(|(ma, mi, pa, v, pre, build)| {
                let mut t = format!("{}{ma}.{mi}.{pa}", if v { "v" } else { "" });
                if let Some(p) = pre { t.push_str(&format!("-rc.{p}")); }
                if let Some(b) = build { t.push_str(&format!("+b{b}")); }
                t
            }),
        1 => (0u8..3, 0u8..4).prop_map(|(a, b)| format!("{a}.{b}")),
        1 => select(vec!["latest", "main", "1.0.0.0", "01.2.3", "1.2.3-01", "1.2.3-", "v1"])
            .prop_map(str::to_owned),
        1 => "[a-z0-9.+-]{0,8}",
    ]
}

fn range() -> impl Strategy<Value = String> {
    select(vec![
        "*",
        ">=1.0.0",
        "1.x",
        "~1.2",
        "^1.2.3",
        "^0.1",
        "1.2 - 2.1",
        "<2.0.0 >0.1",
        "!=1.1.1",
        ">=1.0.0-0",
        "1.1.x || 2.x",
        ">1, <3",
        "=1.2.3",
        "~0.0.0",
        "^0.0.1",
    ])
    .prop_map(str::to_owned)
}

fn semver_selector(range: &str) -> (TagSelector, Constraints) {
    let spec = ImagePolicySpec {
        policy: PolicyChoice {
            semver: Some(SemVerPolicy {
                range: range.to_owned(),
            }),
            ..Default::default()
        },
        filter_tags: None,
    };
    (
        TagSelector::new(&spec).expect("range is valid"),
        Constraints::parse(range).expect("range is valid"),
    )
}

/// Each policy kind (semver with `range`, alphabetical and numerical in `order`), with and
/// without a `filterTags` extraction.
fn every_policy(range: &str, order: &str) -> Vec<ImagePolicySpec> {
    let filter = FilterTags {
        pattern: r"^v?(?P<v>[0-9].*)$".into(),
        extract: "$v".into(),
    };
    let order = Some(OrderPolicy {
        order: Some(order.to_owned()),
    });
    let kinds = [
        PolicyChoice {
            semver: Some(SemVerPolicy {
                range: range.to_owned(),
            }),
            ..Default::default()
        },
        PolicyChoice {
            alphabetical: order.clone(),
            ..Default::default()
        },
        PolicyChoice {
            numerical: order,
            ..Default::default()
        },
    ];
    kinds
        .into_iter()
        .flat_map(|policy| {
            [None, Some(filter.clone())].map(|filter_tags| ImagePolicySpec {
                policy: policy.clone(),
                filter_tags,
            })
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn the_selected_tag_satisfies_the_range_and_no_candidate_is_greater(
        tags in prop::collection::vec(tag(), 0..30),
        range in range(),
    ) {
        let (selector, constraints) = semver_selector(&range);
        let satisfying: Vec<(Version, &String)> = tags
            .iter()
            .filter_map(|t| parse_tag_version(t).ok().map(|v| (v, t)))
            .filter(|(v, _)| constraints.matches(v))
            .collect();
        match selector.select_latest(&tags) {
            Ok(tag) => {
                prop_assert!(tags.contains(&tag), "an original tag is returned");
                let version = parse_tag_version(&tag).expect("selected tag parses");
                prop_assert!(constraints.matches(&version));
                for (other, t) in &satisfying {
                    prop_assert!(other <= &version, "{t} is greater than {tag}");
                }
            }
            Err(e) => {
                prop_assert!(!e.is_invalid_policy());
                prop_assert!(satisfying.is_empty(), "{e} but {satisfying:?} satisfy {range}");
            }
        }
    }

    #[test]
    fn the_result_does_not_depend_on_the_input_order(
        tags in prop::collection::vec(tag(), 0..30),
        range in range(),
        order in select(vec!["asc", "desc"]),
        seed in any::<u64>(),
    ) {
        let mut shuffled = tags.clone();
        // A deterministic shuffle from the seed (Fisher-Yates with an LCG).
        let mut state = seed;
        for i in (1..shuffled.len()).rev() {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            shuffled.swap(i, (state >> 33) as usize % (i + 1));
        }
        for spec in every_policy(&range, order) {
            let selector = TagSelector::new(&spec).expect("valid");
            prop_assert_eq!(selector.select_latest(&tags), selector.select_latest(&shuffled));
            let (a, b) = (selector.explain(&tags), selector.explain(&shuffled));
            prop_assert_eq!(&a.result, &selector.select_latest(&tags));
            prop_assert_eq!(a, b);
        }
    }

    #[test]
    fn no_candidate_compares_above_the_selected_tag(
        tags in prop::collection::vec(tag(), 1..30),
        range in range(),
        order in select(vec!["asc", "desc"]),
    ) {
        for spec in every_policy(&range, order) {
            let selector = TagSelector::new(&spec).expect("valid");
            let selection = selector.explain(&tags);
            let Ok(winner) = &selection.result else { continue };
            prop_assert_eq!(selector.compare(winner, winner), Some(std::cmp::Ordering::Equal));
            for candidate in &selection.candidates {
                let ordering = selector.compare(winner, &candidate.tag);
                prop_assert!(
                    ordering.is_some_and(|o| o != std::cmp::Ordering::Less),
                    "{:?} over {:?}: {:?}", winner, candidate.tag, ordering
                );
                prop_assert_eq!(ordering.map(std::cmp::Ordering::reverse), selector.compare(&candidate.tag, winner));
            }
        }
    }

    #[test]
    fn parsers_never_panic(text in any::<String>(), extract in any::<String>()) {
        let _ = Version::parse(&text);
        let _ = parse_tag_version(&text);
        let _ = Constraints::parse(&text);
        let spec = ImagePolicySpec {
            policy: PolicyChoice { alphabetical: Some(OrderPolicy::default()), ..Default::default() },
            filter_tags: Some(FilterTags { pattern: text.clone(), extract }),
        };
        if let Ok(selector) = TagSelector::new(&spec) {
            let _ = selector.explain(&[text.as_str(), "1.2.3", ""]);
        }
    }

    #[test]
    fn range_parser_never_panics_on_range_like_text(text in "[0-9xX*vV.,|<>=!~^ -]{0,24}") {
        if let Ok(c) = Constraints::parse(&text) {
            let _ = c.matches(&Version::parse("1.2.3").expect("valid"));
        }
    }
}

#[test]
fn compare_orders_by_the_policy_after_extraction() {
    use std::cmp::Ordering::{Greater, Less};
    let semver = TagSelector::new(&ImagePolicySpec {
        policy: PolicyChoice {
            semver: Some(SemVerPolicy {
                range: "5.0.x".into(),
            }),
            ..Default::default()
        },
        filter_tags: None,
    })
    .expect("valid");
    assert_eq!(semver.compare("5.1.0", "5.0.9"), Some(Greater));
    assert_eq!(semver.compare("5.0.10", "5.0.9"), Some(Greater));
    assert_eq!(semver.compare("v5.0.9", "5.1.0-rc.1"), Some(Less));
    assert_eq!(semver.compare("latest", "5.0.9"), None);
    let numerical_desc = TagSelector::new(&ImagePolicySpec {
        policy: PolicyChoice {
            numerical: Some(OrderPolicy {
                order: Some("desc".into()),
            }),
            ..Default::default()
        },
        filter_tags: Some(FilterTags {
            pattern: r"^main-[a-f0-9]+-(?P<ts>\d+)$".into(),
            extract: "$ts".into(),
        }),
    })
    .expect("valid");
    assert_eq!(
        numerical_desc.compare("main-ab-9", "main-cd-10"),
        Some(Greater)
    );
    assert_eq!(numerical_desc.compare("main-ab-9", "release-10"), None);
}

#[test]
fn prefer_makes_a_lower_candidate_the_selection() {
    let selector = TagSelector::new(&ImagePolicySpec {
        policy: PolicyChoice {
            semver: Some(SemVerPolicy {
                range: "5.0.x".into(),
            }),
            ..Default::default()
        },
        filter_tags: None,
    })
    .expect("valid");
    let tags = ["5.0.0", "5.0.1", "5.0.2", "5.0.3", "5.1.0"];
    let mut selection = selector.explain(&tags);
    selection.prefer("5.0.1");
    assert_eq!(selection.result, Ok("5.0.1".to_owned()));
    let candidates: Vec<&str> = selection
        .candidates
        .iter()
        .map(|c| c.tag.as_str())
        .collect();
    assert_eq!(candidates, ["5.0.1", "5.0.3", "5.0.2", "5.0.0"]);
    let rejected: Vec<String> = selection
        .rejected
        .iter()
        .map(|r| format!("{}: {}", r.tag, r.reason))
        .collect();
    // 5.0.3 and 5.0.2 were set aside (their reasons are the caller's); 5.0.0 lost to 5.0.1.
    assert_eq!(
        rejected,
        [
            "5.1.0: outside the range",
            "5.0.0: lost to a greater tag: \"5.0.1\""
        ]
    );
    let before = selection.clone();
    selection.prefer("6.0.0");
    assert_eq!(selection, before, "not a candidate: unchanged");
}
