//! Whole policies: an `ImagePolicy` spec as JSON (`policy`, `filterTags.pattern`/`extract`)
//! on the first line, then one tag per line; selection and its explanation never panic, and
//! the latest tag is one of the tags.
#![no_main]

use imageautomation_policy::{ImagePolicySpec, TagSelector};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (spec, tags) = text.split_once('\n').unwrap_or((text, ""));
    let Ok(spec) = serde_json::from_str::<ImagePolicySpec>(spec) else {
        return;
    };
    let Ok(selector) = TagSelector::new(&spec) else {
        return;
    };
    let tags: Vec<&str> = tags.lines().collect();
    if let Ok(latest) = selector.select_latest(&tags) {
        assert!(tags.contains(&latest.as_str()), "{latest:?} is not a tag");
    }
    let _ = selector.explain(&tags);
});
