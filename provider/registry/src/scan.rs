//! From a raw tag list to Flux's stored scan result: exclusion, ordering, revision.

use chrono::{DateTime, SecondsFormat, Utc};
use regex::Regex;
use serde::{Deserialize, Serialize, Serializer};

use crate::error::{Error, Result};

/// Flux's default `exclusionList`: drop cosign signature tags (IRC `api/v1`
/// `imagerepository_types.go` `GetExclusionList`).
pub const DEFAULT_EXCLUSION_LIST: [&str; 1] = [r"^.*\.sig$"];

/// How many stored tags `lastScanResult.latestTags` shows (IRC `latestTagsCount`).
pub const LATEST_TAGS_COUNT: usize = 10;

static DEFAULT: std::sync::LazyLock<ExclusionList> = std::sync::LazyLock::new(|| {
    ExclusionList::compile(
        DEFAULT_EXCLUSION_LIST
            .iter()
            .map(|s| s.to_string())
            .collect(),
    )
    .expect("the default exclusion list compiles")
});

/// A compiled `exclusionList`: tags matching any pattern are dropped.
#[derive(Debug, Clone)]
pub struct ExclusionList {
    patterns: Vec<String>,
    regexes: Vec<Regex>,
}

impl ExclusionList {
    /// Compiles `spec.exclusionList`. `None` or an empty list gives the default
    /// [`DEFAULT_EXCLUSION_LIST`]; a non-empty user list replaces the default, as in Flux.
    /// Patterns are unanchored (Go `MatchString`).
    ///
    /// # Errors
    /// [`Error::InvalidExclusionPattern`] naming the first pattern that does not compile.
    pub fn new(spec: Option<&[String]>) -> Result<Self> {
        match spec {
            Some(list) if !list.is_empty() => Self::compile(list.to_vec()),
            // Compiled once: a fleet of 5,000 repositories asks for it ~15,000 times (a
            // `Regex` clone shares the compiled program).
            _ => Ok(DEFAULT.clone()),
        }
    }

    fn compile(patterns: Vec<String>) -> Result<Self> {
        let regexes = patterns
            .iter()
            .map(|p| {
                Regex::new(p).map_err(|source| Error::InvalidExclusionPattern {
                    pattern: p.clone(),
                    source,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self { patterns, regexes })
    }

    /// The effective patterns (Flux `status.observedExclusionList`).
    pub fn patterns(&self) -> &[String] {
        &self.patterns
    }

    /// True when `tag` matches any pattern.
    pub fn excludes(&self, tag: &str) -> bool {
        self.regexes.iter().any(|r| r.is_match(tag))
    }

    /// Drops excluded tags, keeping the order of the rest (IRC `filterOutTags`).
    pub fn filter(&self, mut tags: Vec<String>) -> Vec<String> {
        tags.retain(|t| !self.excludes(t));
        tags
    }
}

/// Flux `status.lastScanResult`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LastScanResult {
    /// [`revision`] of the stored tag list.
    pub revision: String,
    /// Number of stored tags.
    pub tag_count: usize,
    /// When the scan finished (RFC 3339, seconds, UTC, like a Kubernetes `metav1.Time`).
    #[serde(serialize_with = "rfc3339_seconds")]
    pub scan_time: DateTime<Utc>,
    /// The first [`LATEST_TAGS_COUNT`] stored tags; omitted when there are none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub latest_tags: Vec<String>,
}

/// The result of one scan: what Flux's ImageRepository status and tag database hold.
///
/// JSON shape (the `imageautomation tags --output json` contract): `{"canonicalImageName",
/// "tags", "lastScanResult": {"revision", "tagCount", "scanTime", "latestTags"},
/// "observedExclusionList"}`. It deserializes from the same shape, so a result kept in
/// Pulumi state can be handed back to the scheduler.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScanResult {
    /// `registry/repository` (Flux `status.canonicalImageName`).
    pub canonical_image_name: String,
    /// The stored tags: excluded tags dropped, sorted in descending byte order.
    pub tags: Vec<String>,
    /// Flux `status.lastScanResult`.
    pub last_scan_result: LastScanResult,
    /// The exclusion patterns applied (Flux `status.observedExclusionList`).
    pub observed_exclusion_list: Vec<String>,
}

impl ScanResult {
    /// Builds the stored result from a raw tag list, as IRC `scan` does: filter with
    /// `exclusion`, stable sort in descending byte order, revision of the sorted list,
    /// `latestTags` = first 10.
    pub fn new(
        canonical_image_name: String,
        raw_tags: Vec<String>,
        exclusion: &ExclusionList,
        scan_time: DateTime<Utc>,
    ) -> Self {
        let tags = sort_descending(exclusion.filter(raw_tags));
        let last_scan_result = LastScanResult {
            revision: revision(&tags),
            tag_count: tags.len(),
            scan_time,
            latest_tags: tags.iter().take(LATEST_TAGS_COUNT).cloned().collect(),
        };
        Self {
            canonical_image_name,
            tags,
            last_scan_result,
            observed_exclusion_list: exclusion.patterns().to_vec(),
        }
    }
}

/// Sorts tags in Flux's stored order: stable, descending plain byte order
/// (`slices.SortStableFunc(tags, -strings.Compare)`).
pub fn sort_descending(mut tags: Vec<String>) -> Vec<String> {
    tags.sort_by(|a, b| b.as_bytes().cmp(a.as_bytes()));
    tags
}

/// The revision of a stored tag list: decimal Adler-32 of its JSON array, exactly what Flux's
/// default Badger database returns (IRC `internal/database/badger.go` `SetTags`:
/// `fmt.Sprintf("%v", adler32.Checksum(json.Marshal(tags)))`), so the same tags give the same
/// `lastScanResult.revision` here and in a cluster.
pub fn revision(tags: &[String]) -> String {
    let mut adler = adler2::Adler32::new();
    let mut buf = Vec::with_capacity(tags.iter().map(|t| t.len() + 3).sum::<usize>() + 2);
    write_go_json_array(&mut buf, tags);
    adler.write_slice(&buf);
    adler.checksum().to_string()
}

/// `json.Marshal([]string)` byte for byte: Go escapes `<`, `>`, `&`, U+2028 and U+2029 too.
fn write_go_json_array(out: &mut Vec<u8>, tags: &[String]) {
    if tags.is_empty() {
        // Go marshals an empty (non-nil) slice as [] and a nil slice as null; Flux stores
        // the filtered slice, which is non-nil.
        out.extend_from_slice(b"[]");
        return;
    }
    out.push(b'[');
    for (i, t) in tags.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.push(b'"');
        // Registry tags are `[A-Za-z0-9_.-]` (the OCI grammar): nothing to escape, one copy.
        if t.bytes()
            .all(|b| (0x20..0x80).contains(&b) && !matches!(b, b'"' | b'\\' | b'<' | b'>' | b'&'))
        {
            out.extend_from_slice(t.as_bytes());
            out.push(b'"');
            continue;
        }
        for c in t.chars() {
            match c {
                '"' => out.extend_from_slice(b"\\\""),
                '\\' => out.extend_from_slice(b"\\\\"),
                '\n' => out.extend_from_slice(b"\\n"),
                '\r' => out.extend_from_slice(b"\\r"),
                '\t' => out.extend_from_slice(b"\\t"),
                '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                    out.extend_from_slice(format!("\\u{:04x}", c as u32).as_bytes());
                }
                c if (c as u32) < 0x20 => {
                    out.extend_from_slice(format!("\\u{:04x}", c as u32).as_bytes());
                }
                c => {
                    let mut b = [0u8; 4];
                    out.extend_from_slice(c.encode_utf8(&mut b).as_bytes());
                }
            }
        }
        out.push(b'"');
    }
    out.push(b']');
}

fn rfc3339_seconds<S: Serializer>(t: &DateTime<Utc>, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_str(&t.to_rfc3339_opts(SecondsFormat::Secs, true))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn cases(section: &str) -> Vec<Value> {
        let all: Value =
            serde_json::from_str(include_str!("../testdata/flux/controller_cases.json"))
                .expect("valid JSON");
        all[section]["cases"].as_array().expect("cases").clone()
    }

    fn strings(v: &Value) -> Vec<String> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .map(|s| s.as_str().expect("string").to_string())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// `controller_cases.json#exclusionFilter`, case for case.
    #[test]
    fn flux_exclusion_filter_cases() {
        let cases = cases("exclusionFilter");
        assert_eq!(cases.len(), 4);
        for case in cases {
            let name = case["name"].as_str().expect("name");
            let spec = if case.get("exclusionListSpec").is_some() {
                case["exclusionListSpec"]
                    .as_array()
                    .map(|_| strings(&case["exclusionListSpec"]))
            } else {
                Some(strings(&case["patterns"]))
            };
            let list = ExclusionList::new(spec.as_deref()).expect(name);
            assert_eq!(list.patterns(), strings(&case["patterns"]), "{name}");
            let got = list.filter(strings(&case["tags"]));
            if let Some(want) = case.get("expectTags") {
                assert_eq!(got, strings(want), "{name}");
            }
            if let Some(want) = case.get("expectTagsUnordered") {
                let mut g = got.clone();
                g.sort();
                let mut w = strings(want);
                w.sort();
                assert_eq!(g, w, "{name}");
                assert_eq!(
                    got.len() as u64,
                    case["expectTagCount"].as_u64().expect("count"),
                    "{name}"
                );
            }
        }
    }

    #[test]
    fn bad_pattern_is_named() {
        let err = ExclusionList::new(Some(&["ok".into(), "(".into()])).expect_err("bad");
        assert!(
            err.to_string().contains("failed to compile regex \"(\""),
            "{err}"
        );
        let default = ExclusionList::new(Some(&[])).expect("empty list = default");
        assert_eq!(default.patterns(), [r"^.*\.sig$"]);
    }

    /// `controller_cases.json#latestTags`, case for case.
    #[test]
    fn flux_latest_tags_cases() {
        for case in cases("latestTags") {
            let name = case["name"].as_str().expect("name");
            let r = ScanResult::new(
                "r/x".into(),
                strings(&case["tags"]),
                &ExclusionList::new(None).expect("default"),
                Utc::now(),
            );
            assert_eq!(
                r.last_scan_result.latest_tags,
                strings(&case["expectLatestTags"]),
                "{name}"
            );
            let json = serde_json::to_value(&r).expect("json");
            assert_eq!(
                json["lastScanResult"].get("latestTags").is_none(),
                case["expectLatestTags"].is_null(),
                "{name}"
            );
        }
    }

    /// `controller_cases.json#scan`, case for case (the registry part runs in the `tests` crate
    /// against a real registry; here the stored list and the Badger revisions).
    #[test]
    fn flux_scan_cases() {
        for case in cases("scan") {
            let name = case["name"].as_str().expect("name");
            if let Some(stored) = case.get("databaseSetTags") {
                assert_eq!(
                    revision(&strings(stored)),
                    case["expectRevision"].as_str().expect("revision"),
                    "{name}"
                );
                continue;
            }
            if case["expectErrorContains"].is_string() {
                continue; // a registry 404: covered by tests/tests/registry_scan.rs
            }
            let spec = case["exclusionList"]
                .as_array()
                .map(|_| strings(&case["exclusionList"]));
            let list = ExclusionList::new(spec.as_deref()).expect(name);
            let r = ScanResult::new("r/x".into(), strings(&case["tags"]), &list, Utc::now());
            assert_eq!(r.tags, strings(&case["expectStoredTags"]), "{name}");
            assert_eq!(r.last_scan_result.tag_count, r.tags.len());
            assert_eq!(
                r.last_scan_result.latest_tags,
                r.tags.iter().take(10).cloned().collect::<Vec<_>>()
            );
            if case.get("expectRevisionFromTestMock").is_some() {
                // Upstream's mock hashes "d,c,b,a"; the production Badger value of the same
                // sorted list, quoted in the case notes, is 580584407.
                assert_eq!(r.last_scan_result.revision, "580584407", "{name}");
            }
        }
    }

    proptest::proptest! {
        /// The stored list is the input minus excluded tags, in descending byte order, and the
        /// summary is consistent with it.
        #[test]
        fn stored_tags_are_a_sorted_filtered_permutation(
            tags in proptest::collection::vec("[a-z0-9._-]{1,12}", 0..60),
            pattern in "[a-z0-9]{1,2}",
        ) {
            let list = ExclusionList::new(Some(std::slice::from_ref(&pattern))).expect("valid");
            let r = ScanResult::new("r/x".into(), tags.clone(), &list, Utc::now());
            proptest::prop_assert!(r.tags.windows(2).all(|w| w[0].as_bytes() >= w[1].as_bytes()));
            proptest::prop_assert!(r.tags.iter().all(|t| !t.contains(&pattern)));
            let mut kept: Vec<_> = tags.into_iter().filter(|t| !t.contains(&pattern)).collect();
            kept.sort();
            let mut stored = r.tags.clone();
            stored.sort();
            proptest::prop_assert_eq!(kept, stored);
            proptest::prop_assert_eq!(r.last_scan_result.tag_count, r.tags.len());
            proptest::prop_assert_eq!(
                &r.last_scan_result.latest_tags[..],
                &r.tags[..r.tags.len().min(LATEST_TAGS_COUNT)]
            );
        }

        /// For tags without the characters Go escapes differently, the revision is the
        /// Adler-32 of serde_json's encoding of the list (an independent encoder).
        #[test]
        fn revision_is_adler32_of_the_json_array(
            tags in proptest::collection::vec("[a-zA-Z0-9._\\-\"\\\\]{0,16}", 0..40),
        ) {
            let json = serde_json::to_vec(&tags).expect("json");
            let mut a = adler2::Adler32::new();
            a.write_slice(&json);
            proptest::prop_assert_eq!(revision(&tags), a.checksum().to_string());
        }
    }

    #[test]
    fn json_round_trip() {
        let t = DateTime::parse_from_rfc3339("2026-11-21T10:00:00Z")
            .expect("time")
            .with_timezone(&Utc);
        let r = ScanResult::new(
            "r.io/a/b".into(),
            vec!["1".into(), "2".into()],
            &ExclusionList::new(None).expect("default"),
            t,
        );
        let json = serde_json::to_string(&r).expect("json");
        assert_eq!(serde_json::from_str::<ScanResult>(&json).expect("back"), r);
        let empty = ScanResult::new(
            "r.io/a/b".into(),
            vec![],
            &ExclusionList::new(None).expect("default"),
            t,
        );
        let json = serde_json::to_string(&empty).expect("json");
        assert!(!json.contains("latestTags"));
        assert_eq!(
            serde_json::from_str::<ScanResult>(&json).expect("back"),
            empty
        );
    }

    #[test]
    fn go_json_escaping() {
        let mut out = Vec::new();
        write_go_json_array(&mut out, &["a<b>&\"\\\u{1}é".to_string()]);
        assert_eq!(
            String::from_utf8(out).expect("utf8"),
            "[\"a\\u003cb\\u003e\\u0026\\\"\\\\\\u0001é\"]"
        );
        assert_eq!(revision(&[]), "18153657"); // adler32("[]")
    }

    #[test]
    fn json_shape() {
        let t = DateTime::parse_from_rfc3339("2026-11-21T10:00:00.123Z")
            .expect("time")
            .with_timezone(&Utc);
        let r = ScanResult::new(
            "127.0.0.1:5000/team/app".into(),
            vec!["1.0.0".into(), "2.0.0".into(), "2.0.0.sig".into()],
            &ExclusionList::new(None).expect("default"),
            t,
        );
        let v = serde_json::to_value(&r).expect("json");
        assert_eq!(
            v,
            serde_json::json!({
                "canonicalImageName": "127.0.0.1:5000/team/app",
                "tags": ["2.0.0", "1.0.0"],
                "lastScanResult": {
                    // Flux's value for these tags: decimal Adler-32 of `["2.0.0","1.0.0"]`
                    // (computed outside this code, with Python's zlib.adler32).
                    "revision": "495584072",
                    "tagCount": 2,
                    "scanTime": "2026-11-21T10:00:00Z",
                    "latestTags": ["2.0.0", "1.0.0"]
                },
                "observedExclusionList": ["^.*\\.sig$"]
            })
        );
    }
}
