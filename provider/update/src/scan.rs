//! Finding `$imagepolicy`-marked scalars in one file's text and computing byte-precise edits.
//!
//! The structure comes from a real YAML parser (`saphyr-parser` events with spans); comments are
//! not reported by YAML parsers, so a scalar's line comment is read from the raw text right after
//! the scalar's end, and a block sequence item's head comment from the comment lines right above
//! it. Nothing here searches the whole text for markers.

use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle, Span};

use crate::quote::{double_quoted, needs_double_quotes, single_quoted};
use crate::result::{Change, ObjectChanges, ObjectId};

/// The marker key in a line comment's JSON object (Flux IAC `setters.go`).
pub(crate) const MARKER_KEY: &str = "$imagepolicy";

/// Setter name (`ns:name`, `ns:name:tag`, ...) -> value.
pub(crate) type SetterValues = HashMap<String, String>;

/// One byte-range replacement in the original text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Edit {
    pub start: usize,
    pub end: usize,
    pub text: String,
}

/// What one file holds: the edits to make and the changes they record.
#[derive(Debug, Default)]
pub(crate) struct Scan {
    pub edits: Vec<Edit>,
    pub objects: Vec<ObjectChanges>,
    /// Scalars carrying a marker for a known setter (changed or not).
    pub marked: usize,
}

impl Scan {
    /// The text with all edits applied.
    pub(crate) fn apply(&self, text: &str) -> String {
        let extra: usize = self.edits.iter().map(|e| e.text.len()).sum();
        let mut out = String::with_capacity(text.len() + extra);
        let mut at = 0;
        for e in &self.edits {
            out.push_str(&text[at..e.start]);
            out.push_str(&e.text);
            at = e.end;
        }
        out.push_str(&text[at..]);
        out
    }
}

/// Char index -> byte offset (saphyr's markers count characters).
struct Offsets(Option<Vec<usize>>);

impl Offsets {
    fn new(text: &str) -> Self {
        if text.is_ascii() {
            Offsets(None)
        } else {
            let mut v: Vec<usize> = text.char_indices().map(|(b, _)| b).collect();
            v.push(text.len());
            Offsets(Some(v))
        }
    }
    fn byte(&self, char_index: usize) -> usize {
        match &self.0 {
            None => char_index,
            Some(v) => v.get(char_index).copied().unwrap_or(usize::MAX),
        }
    }
}

enum Frame {
    Map {
        expect_key: bool,
        key: Option<String>,
        in_key: bool,
    },
    Seq {
        in_key: bool,
    },
}

impl Frame {
    fn in_key(&self) -> bool {
        match self {
            Frame::Map { in_key, .. } | Frame::Seq { in_key } => *in_key,
        }
    }
}

struct Doc {
    id: ObjectId,
    changes: Vec<Change>,
}

/// Scans `text`; `Err(reason)` when the file must be left untouched.
pub(crate) fn scan(text: &str, setters: &SetterValues) -> Result<Scan, String> {
    let offsets = Offsets::new(text);
    let mut parser = Parser::new_from_str(text);
    let mut out = Scan::default();
    let mut stack: Vec<Frame> = Vec::new();
    let mut doc: Option<Doc> = None;
    let mut doc_number = 0usize;

    while let Some(next) = parser.next_event() {
        let (event, span) = next.map_err(|e| {
            format!(
                "malformed YAML at line {} column {}: {}; fix the YAML or remove the \"$imagepolicy\" marker",
                e.marker().line(),
                e.marker().col() + 1,
                e.info()
            )
        })?;
        match event {
            Event::StreamEnd => break,
            Event::DocumentStart(_) => {
                doc_number += 1;
                stack.clear();
                doc = Some(Doc {
                    id: ObjectId::default(),
                    changes: Vec::new(),
                });
            }
            Event::DocumentEnd => {
                if let Some(d) = doc.take()
                    && !d.changes.is_empty()
                {
                    match out.objects.iter_mut().find(|o| o.object == d.id) {
                        Some(o) => o.changes.extend(d.changes),
                        None => out.objects.push(ObjectChanges {
                            object: d.id,
                            changes: d.changes,
                        }),
                    }
                }
            }
            Event::MappingStart(..) | Event::SequenceStart(..) => {
                if stack.is_empty() && matches!(event, Event::SequenceStart(..)) {
                    return Err(not_a_mapping(doc_number, span, "a sequence"));
                }
                let in_key = stack.last().is_some_and(|f| {
                    f.in_key()
                        || matches!(
                            f,
                            Frame::Map {
                                expect_key: true,
                                ..
                            }
                        )
                });
                stack.push(match event {
                    Event::MappingStart(..) => Frame::Map {
                        expect_key: true,
                        key: None,
                        in_key,
                    },
                    _ => Frame::Seq { in_key },
                });
            }
            Event::MappingEnd | Event::SequenceEnd => {
                stack.pop();
                node_done(&mut stack, None);
            }
            Event::Alias(_) => {
                if stack.is_empty() {
                    return Err(not_a_mapping(doc_number, span, "an alias"));
                }
                node_done(&mut stack, None);
            }
            Event::Scalar(value, style, _, _) => {
                let Some(top) = stack.last() else {
                    if value.is_empty() && style == ScalarStyle::Plain {
                        continue; // an empty document: Flux drops it
                    }
                    return Err(not_a_mapping(doc_number, span, "a scalar"));
                };
                let is_key = matches!(
                    top,
                    Frame::Map {
                        expect_key: true,
                        ..
                    }
                );
                if !is_key && !top.in_key() {
                    let in_seq = matches!(top, Frame::Seq { .. });
                    if let Some(d) = doc.as_mut() {
                        record_identity(&stack, &value, &mut d.id);
                        visit_value(
                            text, &offsets, span, &value, style, in_seq, setters, d, &mut out,
                        )?;
                    }
                }
                node_done(&mut stack, is_key.then(|| value.into_owned()));
            }
            Event::StreamStart | Event::Nothing => {}
        }
    }
    out.edits.sort_by_key(|e| e.start);
    Ok(out)
}

fn not_a_mapping(doc_number: usize, span: Span, what: &str) -> String {
    format!(
        "document {doc_number} (line {}) is {what}, not a mapping: like Flux, only files whose documents are mappings are updated",
        span.start.line()
    )
}

/// A node finished: a key (its text when a scalar) or a value.
fn node_done(stack: &mut [Frame], key_text: Option<String>) {
    if let Some(Frame::Map {
        expect_key, key, ..
    }) = stack.last_mut()
    {
        if *expect_key {
            *expect_key = false;
            *key = key_text;
        } else {
            *expect_key = true;
        }
    }
}

/// `apiVersion`, `kind` at the root, `name`, `namespace` under `metadata`.
fn record_identity(stack: &[Frame], value: &str, id: &mut ObjectId) {
    let key_of = |f: &Frame| match f {
        Frame::Map { key, .. } => key.clone(),
        Frame::Seq { .. } => None,
    };
    match stack {
        [root] => match key_of(root).as_deref() {
            Some("apiVersion") => id.api_version = value.to_owned(),
            Some("kind") => id.kind = value.to_owned(),
            _ => {}
        },
        [root, meta @ Frame::Map { .. }] if key_of(root).as_deref() == Some("metadata") => {
            match key_of(meta).as_deref() {
                Some("name") => id.name = value.to_owned(),
                Some("namespace") => id.namespace = value.to_owned(),
                _ => {}
            }
        }
        _ => {}
    }
}

/// Where a scalar's own bytes are: `start..end` including quotes, excluding anchor and tag.
fn locate(text: &str, offsets: &Offsets, span: Span, style: ScalarStyle) -> Option<(usize, usize)> {
    let bytes = text.as_bytes();
    let mut start = offsets.byte(span.start.index());
    let span_end = offsets.byte(span.end.index());
    if start > text.len() || span_end > text.len() {
        return None;
    }
    // Skip properties (`&anchor`, `!tag`), which saphyr includes in the span.
    while start < span_end && matches!(bytes[start], b'&' | b'!') {
        while start < span_end && !matches!(bytes[start], b' ' | b'\t' | b'\r' | b'\n') {
            start += 1;
        }
        while start < span_end && matches!(bytes[start], b' ' | b'\t' | b'\r' | b'\n') {
            start += 1;
        }
    }
    match style {
        ScalarStyle::Plain => (start < span_end).then_some((start, span_end)),
        // saphyr's span of a quoted scalar may run past the closing quote: find it ourselves.
        ScalarStyle::SingleQuoted => {
            if bytes.get(start) != Some(&b'\'') {
                return None;
            }
            let mut i = start + 1;
            while i < bytes.len() {
                if bytes[i] == b'\'' {
                    if bytes.get(i + 1) == Some(&b'\'') {
                        i += 2;
                        continue;
                    }
                    return Some((start, i + 1));
                }
                i += 1;
            }
            None
        }
        ScalarStyle::DoubleQuoted => {
            if bytes.get(start) != Some(&b'"') {
                return None;
            }
            let mut i = start + 1;
            while i < bytes.len() {
                match bytes[i] {
                    b'\\' => i += 2,
                    b'"' => return Some((start, i + 1)),
                    _ => i += 1,
                }
            }
            None
        }
        ScalarStyle::Literal | ScalarStyle::Folded => Some((start, span_end)),
    }
}

fn line_start(text: &str, at: usize) -> usize {
    text[..at].rfind('\n').map_or(0, |i| i + 1)
}

fn line_end(text: &str, at: usize) -> usize {
    let end = text[at..].find('\n').map_or(text.len(), |i| at + i);
    if end > at && text.as_bytes()[end - 1] == b'\r' {
        end - 1
    } else {
        end
    }
}

/// The comment that starts on the same line after `at` (only blanks in between), `#` included.
fn comment_after(text: &str, at: usize) -> Option<&str> {
    let rest = &text[at..];
    let skipped = rest.len() - rest.trim_start_matches([' ', '\t']).len();
    let hash = at + skipped;
    (text.as_bytes().get(hash) == Some(&b'#')).then(|| &text[hash..line_end(text, hash)])
}

/// The head comment of a block sequence item starting at `at`: the comment-only lines directly
/// above the `- ` line, joined with `\n` (as yaml.v3 reports it).
fn head_comment(text: &str, at: usize) -> Option<String> {
    let ls = line_start(text, at);
    let prefix = &text[ls..at];
    if !prefix.contains('-') || !prefix.chars().all(|c| c == '-' || c == ' ' || c == '\t') {
        return None;
    }
    let mut lines = Vec::new();
    let mut end = ls;
    while end > 0 {
        let start = line_start(text, end - 1);
        let line = text[start..end].trim();
        if !line.starts_with('#') {
            break;
        }
        lines.push(line);
        end = start;
    }
    if lines.is_empty() {
        return None;
    }
    lines.reverse();
    Some(lines.join("\n"))
}

/// The comment on a block scalar's header line (`key: | # comment`).
fn block_header_comment(text: &str, content_start: usize) -> Option<&str> {
    let ls = line_start(text, content_start);
    if ls == 0 {
        return None;
    }
    let header_start = line_start(text, ls - 1);
    let header = &text[header_start..line_end(text, header_start)];
    let indicator = header.rfind(['|', '>'])?;
    let after = &header[indicator + 1..];
    let after = after.trim_start_matches(|c: char| c.is_ascii_digit() || c == '+' || c == '-');
    let comment = after.trim_start_matches([' ', '\t']);
    (comment.len() < after.len() && comment.starts_with('#')).then_some(comment)
}

/// The setter named by a comment's marker: all leading `#` trimmed, the rest a JSON object of
/// strings with the key `$imagepolicy` (kyaml `fieldmeta.go` `processShortHand`).
pub(crate) fn marker(comment: &str) -> Option<String> {
    if !comment.contains(MARKER_KEY) {
        return None;
    }
    let json = comment.trim_start_matches('#');
    let map: HashMap<String, String> = serde_json::from_str(json).ok()?;
    let name = map.get(MARKER_KEY)?;
    let name = name
        .strip_prefix("${")
        .and_then(|n| n.strip_suffix('}'))
        .unwrap_or(name);
    (!name.is_empty()).then(|| name.to_owned())
}

#[allow(clippy::too_many_arguments)]
fn visit_value(
    text: &str,
    offsets: &Offsets,
    span: Span,
    value: &str,
    style: ScalarStyle,
    in_seq: bool,
    setters: &SetterValues,
    doc: &mut Doc,
    out: &mut Scan,
) -> Result<(), String> {
    let line = span.start.line();
    let unlocated = || {
        format!(
            "line {line}: cannot locate the bytes of a marked value; write the value as a plain or quoted scalar on the marker's line"
        )
    };
    if matches!(style, ScalarStyle::Literal | ScalarStyle::Folded) {
        let content = offsets.byte(span.start.index()).min(text.len());
        if let Some(name) = block_header_comment(text, content).and_then(marker)
            && setters.contains_key(&name)
        {
            return Err(format!(
                "line {line}: the \"$imagepolicy\" marker {name:?} is on a block scalar (| or >); write the value as a plain or quoted scalar"
            ));
        }
        return Ok(());
    }

    // An empty plain value (`key: # marker`): saphyr places it on the ':' indicator.
    let empty_at_colon = value.is_empty()
        && style == ScalarStyle::Plain
        && text.as_bytes().get(offsets.byte(span.start.index())) == Some(&b':');
    let (start, end) = if empty_at_colon {
        let colon = offsets.byte(span.start.index());
        (colon + 1, colon + 1)
    } else {
        match locate(text, offsets, span, style) {
            Some(r) => r,
            None if comment_after(text, offsets.byte(span.end.index()).min(text.len()))
                .and_then(marker)
                .is_some_and(|n| setters.contains_key(&n)) =>
            {
                return Err(unlocated());
            }
            None => return Ok(()),
        }
    };

    let mut name = comment_after(text, end).and_then(marker);
    if name.is_none() && in_seq && comment_after(text, end).is_none() {
        let item_start = offsets.byte(span.start.index()).min(start);
        name = head_comment(text, item_start).as_deref().and_then(marker);
    }
    let Some(name) = name else { return Ok(()) };
    let Some(new) = setters.get(&name) else {
        return Ok(()); // a policy we were not given: Flux ignores it
    };
    out.marked += 1;
    if value == new.as_str() {
        return Ok(());
    }

    let replacement = match style {
        ScalarStyle::SingleQuoted if !new.chars().any(char::is_control) => single_quoted(new),
        ScalarStyle::SingleQuoted | ScalarStyle::DoubleQuoted => double_quoted(new),
        _ if new.is_empty() || needs_double_quotes(new) => double_quoted(new),
        _ => new.clone(),
    };
    let edit = if empty_at_colon {
        // `key: # m` -> `key: value # m`; `key:# m` cannot occur (the '#' would not be a comment).
        let bytes = text.as_bytes();
        let mut at = start;
        let mut text_out = String::new();
        if matches!(bytes.get(at), Some(b' ' | b'\t')) {
            at += 1;
        } else {
            text_out.push(' ');
        }
        text_out.push_str(&replacement);
        if bytes.get(at) == Some(&b'#') {
            text_out.push(' ');
        }
        Edit {
            start: at,
            end: at,
            text: text_out,
        }
    } else {
        Edit {
            start,
            end,
            text: replacement,
        }
    };
    out.edits.push(edit);
    doc.changes.push(Change {
        old_value: value.to_string(),
        new_value: new.clone(),
        setter: name,
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setters() -> SetterValues {
        [
            ("ns:p", "reg.example:5000/app:v2"),
            ("ns:p:name", "reg.example:5000/app"),
            ("ns:p:tag", "v2"),
            ("ns:p:digest", ""),
            ("ns:n:tag", "1.20"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
    }

    fn rewrite(text: &str) -> String {
        let s = scan(text, &setters()).expect("scans");
        s.apply(text)
    }

    #[test]
    fn marker_grammar() {
        assert_eq!(
            marker(r#"# {"$imagepolicy": "ns:p"}"#).as_deref(),
            Some("ns:p")
        );
        assert_eq!(
            marker(r#"### {"$imagepolicy":"ns:p:tag","other":"x"} "#).as_deref(),
            Some("ns:p:tag")
        );
        assert_eq!(
            marker(r#"# {"$imagepolicy": "${ns:p}"}"#).as_deref(),
            Some("ns:p")
        );
        assert_eq!(marker(r#"# {"$imagepolicy": "ns:p"} trailing"#), None);
        assert_eq!(marker(r#"# {"$imagepolicy": "ns:p", "n": 1}"#), None);
        assert_eq!(marker(r#"# {"$imagepolicy": ""}"#), None);
        assert_eq!(marker("# $imagepolicy ns:p"), None);
    }

    #[test]
    fn rewrites_only_the_marked_scalars() {
        let text = "a: old # {\"$imagepolicy\": \"ns:p\"}\nb: old\nc: 'x' # {\"$imagepolicy\": \"ns:p:tag\"}\r\nd: \"y\" # {\"$imagepolicy\": \"ns:p:name\"}";
        assert_eq!(
            rewrite(text),
            "a: reg.example:5000/app:v2 # {\"$imagepolicy\": \"ns:p\"}\nb: old\nc: 'v2' # {\"$imagepolicy\": \"ns:p:tag\"}\r\nd: \"reg.example:5000/app\" # {\"$imagepolicy\": \"ns:p:name\"}"
        );
    }

    #[test]
    fn quotes_yaml_1_1_non_strings_when_plain() {
        let text = "t: v1 # {\"$imagepolicy\": \"ns:n:tag\"}\nu: '1.0' # {\"$imagepolicy\": \"ns:n:tag\"}\n";
        assert_eq!(
            rewrite(text),
            "t: \"1.20\" # {\"$imagepolicy\": \"ns:n:tag\"}\nu: '1.20' # {\"$imagepolicy\": \"ns:n:tag\"}\n"
        );
    }

    #[test]
    fn keeps_anchors_tags_and_handles_empty_values() {
        let text = "a: &x old # {\"$imagepolicy\": \"ns:p:tag\"}\nb: !!str old # {\"$imagepolicy\": \"ns:p:tag\"}\nc: # {\"$imagepolicy\": \"ns:p:tag\"}\nd: sha256:1 # {\"$imagepolicy\": \"ns:p:digest\"}\n";
        assert_eq!(
            rewrite(text),
            "a: &x v2 # {\"$imagepolicy\": \"ns:p:tag\"}\nb: !!str v2 # {\"$imagepolicy\": \"ns:p:tag\"}\nc: v2 # {\"$imagepolicy\": \"ns:p:tag\"}\nd: \"\" # {\"$imagepolicy\": \"ns:p:digest\"}\n"
        );
    }

    #[test]
    fn head_comment_marks_a_sequence_item_only() {
        let text = "l:\n  # {\"$imagepolicy\": \"ns:p:tag\"}\n  - old\n  - other\n# {\"$imagepolicy\": \"ns:p:tag\"}\nk: old\nf: [old]\n";
        assert_eq!(
            rewrite(text),
            "l:\n  # {\"$imagepolicy\": \"ns:p:tag\"}\n  - v2\n  - other\n# {\"$imagepolicy\": \"ns:p:tag\"}\nk: old\nf: [old]\n"
        );
    }

    #[test]
    fn markers_inside_strings_and_block_scalars_are_not_markers() {
        let text = "a: \"old # {\\\"$imagepolicy\\\": \\\"ns:p\\\"}\"\nb: |\n  old # {\"$imagepolicy\": \"ns:p\"}\nc: 'it''s # {\"$imagepolicy\": \"ns:p\"}'\n";
        let s = scan(text, &setters()).unwrap();
        assert!(s.edits.is_empty(), "{:?}", s.edits);
    }

    #[test]
    fn keys_are_never_rewritten_and_identity_is_recorded() {
        let text = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: prod\nspec:\n  old: x # {\"$imagepolicy\": \"ns:p:tag\"}\n---\nkind: Other\nv: é # {\"$imagepolicy\": \"ns:p:tag\"}\n";
        let s = scan(text, &setters()).unwrap();
        assert_eq!(s.objects.len(), 2);
        assert_eq!(
            s.objects[0].object,
            ObjectId {
                api_version: "apps/v1".into(),
                kind: "Deployment".into(),
                name: "web".into(),
                namespace: "prod".into()
            }
        );
        assert_eq!(s.objects[1].object.kind, "Other");
        assert_eq!(s.objects[1].changes[0].old_value, "é");
        assert!(
            s.apply(text)
                .ends_with("v: v2 # {\"$imagepolicy\": \"ns:p:tag\"}\n")
        );
        assert!(s.apply(text).contains("  old: v2 #"));
    }

    #[test]
    fn malformed_and_non_mapping_documents_are_refused() {
        assert!(
            scan("a: [x\nb: 1 # {\"$imagepolicy\": \"ns:p\"}\n", &setters())
                .unwrap_err()
                .contains("line 2")
        );
        assert!(
            scan("- x # {\"$imagepolicy\": \"ns:p\"}\n", &setters())
                .unwrap_err()
                .contains("a sequence")
        );
        assert!(
            scan("b: |- # {\"$imagepolicy\": \"ns:p\"}\n  x\n", &setters())
                .unwrap_err()
                .contains("block scalar")
        );
        // A marker for an unknown policy on a block scalar is simply not ours.
        assert!(scan("b: | # {\"$imagepolicy\": \"other:p\"}\n  x\n", &setters()).is_ok());
        // Empty documents are fine.
        assert!(scan("---\n# nothing\n---\na: 1\n", &setters()).is_ok());
    }
}
