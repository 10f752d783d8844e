//! The `$imagepolicy` setters over arbitrary YAML bytes (issue #15): the edits are in order,
//! within the text and on character boundaries, on marked lines; bytes outside them never change; when the
//! input parses as YAML the output does too; and a second pass changes nothing.
#![no_main]

use imageautomation_update::fuzzing::set_text;
use imageautomation_update::{LatestRef, Policies};
use libfuzzer_sys::fuzz_target;

fn parses(text: &str) -> bool {
    let mut parser = saphyr_parser::Parser::new_from_str(text);
    while let Some(event) = parser.next_event() {
        if event.is_err() {
            return false;
        }
    }
    true
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // The first line picks the new tag, so that values of many shapes are written.
    let (tag, yaml) = text.split_once('\n').unwrap_or(("5.0.3", text));
    let tag = tag.trim();
    let tag = if tag.is_empty() { "5.0.3" } else { tag };
    let mut policies = Policies::new();
    policies.insert(
        "flux-system:podinfo".to_owned(),
        LatestRef {
            name: "ghcr.io/stefanprodan/podinfo".to_owned(),
            tag: tag.to_owned(),
            digest: String::new(),
        },
    );
    let Ok((out, edits)) = set_text(yaml, &policies) else {
        return;
    };
    // Edits in order, within the text, on character boundaries, each replacing a scalar
    // that carries a marker on its line; every other byte is the input's.
    let mut expected = String::new();
    let mut at = 0;
    for (start, end, text) in &edits {
        let (start, end) = (*start, *end);
        assert!(
            at <= start && start <= end && end <= yaml.len(),
            "{edits:?}"
        );
        assert!(yaml.is_char_boundary(start) && yaml.is_char_boundary(end));
        let line_end = yaml[end..].find('\n').map_or(yaml.len(), |i| end + i);
        let line_start = yaml[..start].rfind('\n').map_or(0, |i| i + 1);
        // Either marker form: `$imagepolicy`, or kyaml's older `$ref` to a setter definition
        // (an edit on a `$ref` line was reported as markerless before this was allowed).
        let marked = |t: &str| t.contains("$imagepolicy") || t.contains("io.k8s.cli.setters.");
        assert!(
            marked(&yaml[line_start..line_end]) || marked(&yaml[..line_start]),
            "an edit without a marker: {start}..{end}"
        );
        expected.push_str(&yaml[at..start]);
        expected.push_str(text);
        at = end;
    }
    expected.push_str(&yaml[at..]);
    assert_eq!(out, expected);
    if parses(yaml) {
        assert!(
            parses(&out),
            "the input parsed, the output does not:\n{out}"
        );
    }
    let (again, edits) = set_text(&out, &policies).expect("the output is scanned again");
    assert!(
        edits.is_empty() && again == out,
        "a second pass changed:\n{out}\n{again}"
    );
});
