//! Whether a scan is due: Flux IRC `shouldScan` (`imagerepository_controller.go:368-422`).

use std::collections::BTreeSet;
use std::fmt;
use std::time::Duration;

use imageautomation_registry::ScanResult;

/// Why a scan runs now, in Flux's words (the trace event reasons).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScanReason {
    /// No stored result.
    FirstScan,
    /// Forced (Flux: the `reconcile.fluxcd.io/requestedAt` annotation changed).
    ReconcileRequested,
    /// The canonical image name differs from the stored one.
    NewImageName,
    /// The effective exclusion list differs (as a set) from the observed one.
    UpdatedExclusionList,
    /// The stored result has no tags.
    NoTagsInDatabase,
    /// Less than a second of the interval remains.
    TriggeredByInterval,
}

impl fmt::Display for ScanReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ScanReason::FirstScan => "first scan",
            ScanReason::ReconcileRequested => "reconcile requested",
            ScanReason::NewImageName => "new image name",
            ScanReason::UpdatedExclusionList => "updated exclusion list",
            ScanReason::NoTagsInDatabase => "no tags in database",
            ScanReason::TriggeredByInterval => "triggered by interval",
        })
    }
}

/// The outcome of [`should_scan`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScanDecision {
    /// `Some(reason)` when a scan is due now.
    pub scan: Option<ScanReason>,
    /// When to look again: the full interval after a scan, else what remains of it.
    pub next: Duration,
}

/// Decides whether to scan, checking in Flux's order: never scanned; forced; canonical name
/// changed; exclusion list changed (ignoring order); no stored tags; `interval - elapsed < 1s`.
///
/// `previous` is the stored result and the time elapsed since it was stored.
pub fn should_scan(
    previous: Option<(&ScanResult, Duration)>,
    canonical_image_name: &str,
    exclusion_list: &[String],
    interval: Duration,
    force: bool,
) -> ScanDecision {
    let due = |reason| ScanDecision {
        scan: Some(reason),
        next: interval,
    };
    let Some((stored, elapsed)) = previous else {
        return due(ScanReason::FirstScan);
    };
    if force {
        return due(ScanReason::ReconcileRequested);
    }
    if stored.canonical_image_name != canonical_image_name {
        return due(ScanReason::NewImageName);
    }
    if !same_patterns(&stored.observed_exclusion_list, exclusion_list) {
        return due(ScanReason::UpdatedExclusionList);
    }
    if stored.tags.is_empty() {
        return due(ScanReason::NoTagsInDatabase);
    }
    let remaining = interval.saturating_sub(elapsed);
    if remaining < Duration::from_secs(1) {
        return due(ScanReason::TriggeredByInterval);
    }
    ScanDecision {
        scan: None,
        next: remaining,
    }
}

/// Set equality of two pattern lists, ignoring order and duplicates (IRC
/// `isEqualSliceContent`).
pub fn same_patterns(a: &[String], b: &[String]) -> bool {
    a.iter().collect::<BTreeSet<_>>() == b.iter().collect::<BTreeSet<_>>()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use imageautomation_registry::ExclusionList;
    use serde_json::Value;

    fn stored(image: &str, tags: &[&str], exclusion: &[&str]) -> ScanResult {
        let list: Vec<String> = exclusion.iter().map(|s| s.to_string()).collect();
        ScanResult::new(
            image.into(),
            tags.iter().map(|s| s.to_string()).collect(),
            &ExclusionList::new(Some(&list)).expect("valid"),
            Utc::now(),
        )
    }

    fn controller_cases() -> Value {
        serde_json::from_str(include_str!(
            "../../registry/testdata/flux/controller_cases.json"
        ))
        .expect("valid JSON")
    }

    /// `controller_cases.json#shouldScan`, case for case, on the base object
    /// `example.com/foo/bar`, interval 1m, exclusionList ["aaa"].
    #[test]
    fn flux_should_scan_cases() {
        let all = controller_cases();
        let section = &all["shouldScan"];
        assert_eq!(section["baseObject"]["spec.interval"], "1m");
        let image = "example.com/foo/bar";
        let excl = vec!["aaa".to_string()];
        let minute = Duration::from_secs(60);
        let mut checked = 0;
        for case in section["cases"].as_array().expect("cases") {
            let name = case["name"].as_str().expect("name");
            let (previous, force) = match name {
                "new object" => (None, false),
                "second reconcile at annotation" => (
                    Some((stored(image, &["foo"], &["aaa"]), Duration::from_secs(30))),
                    true,
                ),
                "after the interval" => (
                    Some((stored(image, &["foo"], &["aaa"]), Duration::from_secs(120))),
                    false,
                ),
                // The stored result and its tags are one in-memory value here: there is no
                // separate database whose read could fail.
                "database read failure" => continue,
                other => panic!("unported shouldScan case {other:?}"),
            };
            let d = should_scan(
                previous.as_ref().map(|(r, e)| (r, *e)),
                image,
                &excl,
                minute,
                force,
            );
            assert_eq!(
                d.scan.is_some(),
                case["expectScan"].as_bool().expect("bool"),
                "{name}"
            );
            let reason = d.scan.map(|r| r.to_string()).unwrap_or_default();
            assert_eq!(
                reason,
                case["expectReason"].as_str().expect("reason"),
                "{name}"
            );
            assert_eq!(case["expectNext"], "1m", "{name}");
            assert_eq!(d.next, minute, "{name}");
            checked += 1;
        }
        assert_eq!(checked, 3);
    }

    #[test]
    fn the_other_reasons_and_the_remaining_time() {
        let image = "example.com/foo/bar";
        let excl = vec!["aaa".to_string()];
        let minute = Duration::from_secs(60);
        let s = stored(image, &["foo"], &["aaa"]);
        let at = |e: u64| Some((&s, Duration::from_secs(e)));
        let d = should_scan(at(30), image, &excl, minute, false);
        assert_eq!(
            d,
            ScanDecision {
                scan: None,
                next: Duration::from_secs(30)
            }
        );
        let d = should_scan(at(30), "example.com/foo/baz", &excl, minute, false);
        assert_eq!(d.scan, Some(ScanReason::NewImageName));
        let d = should_scan(at(30), image, &["bbb".into()], minute, false);
        assert_eq!(d.scan, Some(ScanReason::UpdatedExclusionList));
        // Less than one second left counts as due, as in Flux.
        let d = should_scan(
            Some((&s, Duration::from_millis(59_001))),
            image,
            &excl,
            minute,
            false,
        );
        assert_eq!(d.scan, Some(ScanReason::TriggeredByInterval));
        let empty = stored(image, &[], &["aaa"]);
        let d = should_scan(Some((&empty, Duration::ZERO)), image, &excl, minute, false);
        assert_eq!(d.scan, Some(ScanReason::NoTagsInDatabase));
    }

    /// `controller_cases.json#isEqualSliceContent`, plus order insensitivity.
    #[test]
    fn flux_is_equal_slice_content_cases() {
        let all = controller_cases();
        for case in all["isEqualSliceContent"].as_array().expect("cases") {
            let list = |k: &str| -> Vec<String> {
                case[k]
                    .as_array()
                    .expect("list")
                    .iter()
                    .map(|v| v.as_str().expect("str").to_string())
                    .collect()
            };
            assert_eq!(
                same_patterns(&list("a"), &list("b")),
                case["expect"].as_bool().expect("bool")
            );
        }
        assert!(same_patterns(
            &["a".into(), "b".into()],
            &["b".into(), "a".into()]
        ));
    }
}
