//! Versions and Masterminds constraints: any text parses or fails cleanly, and a parsed pair
//! can be matched and compared.
#![no_main]

use imageautomation_policy::{Constraints, Version, parse_tag_version};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (range, version) = text.split_once('\n').unwrap_or((text, text));
    let parsed = Version::parse(version);
    let tag = parse_tag_version(version);
    if let (Ok(v), Ok(t)) = (&parsed, &tag) {
        let _ = v.compare(t);
        let _ = v.is_prerelease();
    }
    if let Ok(c) = Constraints::parse(range) {
        let _ = c.and_counts();
        if let Ok(v) = &parsed {
            let _ = c.matches(v);
            let _ = c.matches_ignoring_prerelease_rule(v);
        }
    }
});
