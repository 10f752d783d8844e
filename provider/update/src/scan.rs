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
        flow: bool,
    },
    Seq {
        in_key: bool,
        flow: bool,
    },
}

impl Frame {
    fn in_key(&self) -> bool {
        match self {
            Frame::Map { in_key, .. } | Frame::Seq { in_key, .. } => *in_key,
        }
    }

    /// A flow collection (`[a, b]`, `{k: v}`), where a `,` may sit between a value and its
    /// line comment.
    fn flow(&self) -> bool {
        match self {
            Frame::Map { flow, .. } | Frame::Seq { flow, .. } => *flow,
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
    let mut last_collection_start = None;

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
                let at = offsets.byte(span.start.index());
                let flow = matches!(first_after_properties(text, at), Some(b'[' | b'{'));
                // saphyr starts a sequence without indentation (`key:\n- [a]`) at its first
                // item: when a flow collection starts there too, the first one is the block one.
                if last_collection_start == Some(at)
                    && let Some(Frame::Map { flow, .. } | Frame::Seq { flow, .. }) =
                        stack.last_mut()
                {
                    *flow = false;
                }
                last_collection_start = Some(at);
                stack.push(match event {
                    Event::MappingStart(..) => Frame::Map {
                        expect_key: true,
                        key: None,
                        in_key,
                        flow,
                    },
                    _ => Frame::Seq { in_key, flow },
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
            Event::Scalar(value, style, anchor, tag) => {
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
                    let in_seq = matches!(top, Frame::Seq { flow: false, .. });
                    let in_flow = top.flow();
                    if let Some(d) = doc.as_mut() {
                        record_identity(&stack, &value, &mut d.id);
                        let context = Context {
                            in_seq,
                            in_flow,
                            has_properties: anchor != 0 || tag.is_some(),
                        };
                        visit_value(
                            text, &offsets, span, &value, style, context, setters, d, &mut out,
                        )?;
                    }
                }
                node_done(&mut stack, is_key.then(|| value.into_owned()));
            }
            Event::StreamStart | Event::Nothing => {}
        }
    }
    out.edits.sort_by_key(|e| e.start);
    // Two edits of the same bytes would splice the text wrongly: refuse the file instead.
    if let Some(w) = out.edits.windows(2).find(|w| w[1].start < w[0].end) {
        return Err(format!(
            "two marked values overlap at byte {}; write each marked value as a plain or quoted scalar on its marker's line",
            w[1].start
        ));
    }
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

/// The first byte at or after `at` that is not part of a node's properties (`&anchor`, `!tag`).
fn first_after_properties(text: &str, mut at: usize) -> Option<u8> {
    let bytes = text.as_bytes();
    while matches!(bytes.get(at), Some(b'&' | b'!')) {
        while at < bytes.len() && !matches!(bytes[at], b' ' | b'\t' | b'\r' | b'\n') {
            at += 1;
        }
        while at < bytes.len() && matches!(bytes[at], b' ' | b'\t' | b'\r' | b'\n') {
            at += 1;
        }
    }
    bytes.get(at).copied()
}

/// Where a scalar sits: a block sequence item (which a comment above may mark), or inside a flow
/// collection (where `a, # comment` is `a`'s line comment, as yaml.v3 reads it).
#[derive(Debug, Clone, Copy)]
struct Context {
    in_seq: bool,
    in_flow: bool,
    /// The scalar has an anchor or a tag (saphyr's span then starts at it).
    has_properties: bool,
}

/// A value's line comment: after the value and blanks, and in a flow collection also after the
/// `,` that ends the item.
fn value_comment(text: &str, end: usize, in_flow: bool) -> Option<&str> {
    if in_flow {
        let rest = &text[end..];
        let after_blanks = rest.trim_start_matches([' ', '\t']);
        if let Some(after_comma) = after_blanks.strip_prefix(',') {
            let at = text.len() - after_comma.len();
            let comment = comment_after(text, at)?;
            // `a,# x` is no comment: `#` needs a blank before it.
            return (comment.as_ptr() != after_comma.as_ptr()).then_some(comment);
        }
    }
    comment_after(text, end)
}

/// The comment that starts on the same line after `at` (only blanks in between), `#` included.
fn comment_after(text: &str, at: usize) -> Option<&str> {
    let rest = &text[at..];
    let skipped = rest.len() - rest.trim_start_matches([' ', '\t']).len();
    let hash = at + skipped;
    (text.as_bytes().get(hash) == Some(&b'#')).then(|| &text[hash..line_end(text, hash)])
}

/// The head comment of a block sequence item starting at `at`: the comment-only lines directly
/// above the `- ` line, joined with `\n` (as yaml.v3 reports it). When the item before is a
/// collection (`- key: value`, `- - a`, or content on further lines), yaml.v3 gives the comment
/// lines indented more than the dash to that collection, as its foot comment: the head comment
/// is then only the lines below the last such line.
fn head_comment(text: &str, at: usize) -> Option<String> {
    let ls = line_start(text, at);
    let prefix = &text[ls..at];
    if !prefix.contains('-') || !prefix.chars().all(|c| c == '-' || c == ' ' || c == '\t') {
        return None;
    }
    let dash = prefix.rfind('-').unwrap_or_default();
    let indentation = |line: &str| line.len() - line.trim_start_matches(' ').len();
    let mut lines: Vec<(&str, usize)> = Vec::new();
    let mut end = ls;
    while end > 0 {
        let start = line_start(text, end - 1);
        let raw = text[start..end].trim_end_matches(['\n', '\r']);
        let line = raw.trim();
        if !line.starts_with('#') {
            break;
        }
        lines.push((line, indentation(raw)));
        end = start;
    }
    if lines.is_empty() {
        return None;
    }
    if previous_item_is_collection(text, end, dash)
        && let Some(deeper) = lines.iter().position(|&(_, indent)| indent > dash)
    {
        lines.truncate(deeper);
    }
    if lines.is_empty() {
        return None;
    }
    lines.reverse();
    Some(lines.iter().map(|&(l, _)| l).collect::<Vec<_>>().join("\n"))
}

/// Whether the content above `end` (the start of a comment block above a sequence item whose
/// dash is in column `dash`) is a previous item of the same sequence that is a collection.
fn previous_item_is_collection(text: &str, end: usize, dash: usize) -> bool {
    if end == 0 {
        return false;
    }
    let start = line_start(text, end - 1);
    let line = text[start..end].trim_end_matches(['\n', '\r']);
    let indent = line.len() - line.trim_start_matches(' ').len();
    if indent > dash {
        return true; // the item's content goes on over several lines
    }
    let Some(rest) = line[indent..].strip_prefix('-') else {
        return false;
    };
    if indent < dash || !(rest.is_empty() || rest.starts_with([' ', '\t'])) {
        return false;
    }
    let rest = rest.trim();
    rest.starts_with("- ") || rest == "-" || rest.contains(": ") || rest.ends_with(':')
}

/// Where a block scalar (`|`, `>`) is in the text.
struct Block<'t> {
    /// The indicator with its chomping and indentation indicators (`|`, `>-`, `|2+`).
    indicator: (usize, usize),
    /// The comment on the header line (`key: | # comment`), `#` included.
    comment: Option<&'t str>,
    /// From the end of the header line to the end of the last content line that is not blank:
    /// removed when the value is rewritten inline. `None` for an empty block scalar.
    content: Option<(usize, usize)>,
}

/// Finds the block scalar whose content saphyr places at `content_start` (its first non-blank
/// content character, or the next token for an empty one; its anchor or tag, on the header line,
/// when `has_properties`): the header is the nearest line above that is not blank, and the content is every following line that is blank or indented at
/// least as much as the first content line, which must be indented more than the node that owns
/// the scalar (the key, or the dash of a sequence item).
fn locate_block(text: &str, content_start: usize, has_properties: bool) -> Option<Block<'_>> {
    let mut header_start = line_start(text, content_start);
    // With an anchor or a tag, saphyr's span starts at it, on the header line. (An `&` or `!`
    // there may also be the next node's, after an empty block scalar: found by fuzzing.)
    let on_header =
        has_properties && matches!(text.as_bytes().get(content_start), Some(b'&' | b'!'));
    if !on_header {
        loop {
            if header_start == 0 {
                return None;
            }
            header_start = line_start(text, header_start - 1);
            if !text[header_start..line_end(text, header_start)]
                .trim()
                .is_empty()
            {
                break;
            }
        }
    }
    let header_end = line_end(text, header_start);
    let header = &text[header_start..header_end];
    // The first `|` or `>` after which only indicators, blanks and a comment follow.
    let (indicator, comment) = header.match_indices(['|', '>']).find_map(|(i, _)| {
        let rest = &header[i + 1..];
        let after = rest.trim_start_matches(|c: char| c.is_ascii_digit() || c == '+' || c == '-');
        let blank = after.trim_start_matches([' ', '\t']);
        let ok = blank.is_empty() || (blank.len() < after.len() && blank.starts_with('#'));
        ok.then(|| {
            let end = i + 1 + (rest.len() - after.len());
            (
                (header_start + i, header_start + end),
                (!blank.is_empty()).then_some(blank),
            )
        })
    })?;
    // The owner's column: a key on the header line, else the last dash before the indicator.
    let owner = {
        let before = &header[..indicator.0 - header_start];
        let mut col = before.len() - before.trim_start_matches(' ').len();
        let mut last_dash = None;
        while let Some(rest) = before[col..].strip_prefix('-')
            && (rest.starts_with([' ', '\t']) || rest.is_empty())
        {
            last_dash = Some(col);
            col = before.len() - rest.trim_start_matches([' ', '\t']).len();
        }
        let has_key = before[col..].trim_end().ends_with(':') || before[col..].contains(": ");
        if has_key { Some(col) } else { last_dash }
    };
    let owner = owner.unwrap_or(0);
    let indentation = |line: &str| line.len() - line.trim_start_matches(' ').len();
    let mut at = header_end;
    let mut content_indent = None;
    let mut last_content_end = None;
    while at < text.len() {
        let start = at + text[at..].find('\n').map_or(text.len() - at, |i| i + 1);
        if start >= text.len() {
            break;
        }
        let end = line_end(text, start);
        let line = &text[start..end];
        if !line.trim().is_empty() {
            let n = indentation(line);
            match content_indent {
                None if n > owner => content_indent = Some(n),
                Some(c) if n >= c => {}
                _ => break,
            }
            last_content_end = Some(end);
        }
        at = end;
    }
    Some(Block {
        indicator,
        comment,
        content: last_content_end.map(|end| (header_end, end)),
    })
}

/// The setter named by a comment's marker: all leading `#` trimmed, the rest a JSON object of
/// strings with the key `$imagepolicy` (kyaml `fieldmeta.go` `processShortHand`). The name is
/// taken as written: `${ns:p}` names no setter.
pub(crate) fn marker(comment: &str) -> Option<String> {
    let json = comment.trim_start_matches('#');
    if !json.trim_start().starts_with('{') {
        return None;
    }
    let map: HashMap<String, String> = serde_json::from_str(json).ok()?;
    let name = map.get(MARKER_KEY)?;
    (!name.is_empty()).then(|| name.to_owned())
}

/// The setter of `setters` a comment marks, as kyaml `FieldMeta.Read` finds it: the
/// `$imagepolicy` shorthand when it names a setter; otherwise the comment read as an OpenAPI
/// schema whose `$ref` points at a setter definition,
/// `{"$ref": "#/definitions/io.k8s.cli.setters.<ns>:<name>[:tag]"}` (the older kyaml form,
/// which Flux accepts too).
fn setter_named(comment: &str, setters: &SetterValues) -> Option<String> {
    if let Some(name) = marker(comment)
        && setters.contains_key(&name)
    {
        return Some(name);
    }
    let json = comment.trim_start_matches('#');
    if !json.trim_start().starts_with('{') {
        return None;
    }
    let schema: serde_json::Map<String, serde_json::Value> = serde_json::from_str(json).ok()?;
    let pointer = schema.get("$ref")?.as_str()?;
    let name = pointer.strip_prefix("#/definitions/io.k8s.cli.setters.")?;
    // A JSON pointer token: `~1` is `/`, `~0` is `~`.
    let name = name.replace("~1", "/").replace("~0", "~");
    setters.contains_key(&name).then_some(name)
}

/// A block scalar (`|`, `>`) marked on its header line (or, as a sequence item, by the comment
/// above it): Flux sets its value, and so do we, by writing the new value inline in place of the
/// indicator and removing the old content lines (the comment stays where it is).
#[allow(clippy::too_many_arguments)]
fn visit_block(
    text: &str,
    offsets: &Offsets,
    span: Span,
    value: &str,
    context: Context,
    setters: &SetterValues,
    doc: &mut Doc,
    out: &mut Scan,
) -> Result<(), String> {
    let in_seq = context.in_seq;
    let content = offsets.byte(span.start.index()).min(text.len());
    let Some(block) = locate_block(text, content, context.has_properties) else {
        return Ok(());
    };
    let mut name = block.comment.and_then(|c| setter_named(c, setters));
    if name.is_none() && in_seq && block.comment.is_none() {
        name = head_comment(text, block.indicator.0)
            .as_deref()
            .and_then(|c| setter_named(c, setters));
    }
    let Some(name) = name else { return Ok(()) };
    // YAML ends a line at a lone `\r` too; the block's lines are found by `\n` here, so with
    // one the two disagree on where the content ends (found by fuzzing): refuse the file.
    let bytes = text.as_bytes();
    if bytes
        .iter()
        .enumerate()
        .any(|(i, b)| *b == b'\r' && bytes.get(i + 1) != Some(&b'\n'))
    {
        return Err(format!(
            "line {}: a marked block scalar in a file with a carriage return that does not end a line (\\r without \\n); save the file with \\n or \\r\\n line endings",
            span.start.line()
        ));
    }
    let new = &setters[&name];
    out.marked += 1;
    // saphyr-parser ends the value with a line break even when the file ends right after the
    // content, which has none to keep.
    let value = match block.content {
        Some((_, end)) if end == text.len() => value.strip_suffix('\n').unwrap_or(value),
        _ => value,
    };
    if value == new.as_str() {
        return Ok(());
    }
    let replacement = if new.is_empty() || needs_double_quotes(new) {
        double_quoted(new)
    } else {
        new.clone()
    };
    out.edits.push(Edit {
        start: block.indicator.0,
        end: block.indicator.1,
        text: replacement,
    });
    if let Some((start, end)) = block.content {
        out.edits.push(Edit {
            start,
            end,
            text: String::new(),
        });
    }
    doc.changes.push(Change {
        old_value: value.to_string(),
        new_value: new.clone(),
        setter: name,
    });
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn visit_value(
    text: &str,
    offsets: &Offsets,
    span: Span,
    value: &str,
    style: ScalarStyle,
    context: Context,
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
        return visit_block(text, offsets, span, value, context, setters, doc, out);
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
            None if value_comment(
                text,
                offsets.byte(span.end.index()).min(text.len()),
                context.in_flow,
            )
            .and_then(|c| setter_named(c, setters))
            .is_some() =>
            {
                return Err(unlocated());
            }
            None => return Ok(()),
        }
    };

    let comment = value_comment(text, end, context.in_flow);
    let mut name = comment.and_then(|c| setter_named(c, setters));
    if name.is_none() && context.in_seq && comment.is_none() {
        let item_start = offsets.byte(span.start.index()).min(start);
        name = head_comment(text, item_start)
            .as_deref()
            .and_then(|c| setter_named(c, setters));
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
        let mut end = start;
        let mut text_out = String::new();
        match bytes.get(at) {
            Some(b' ') => {
                at += 1;
                end = at;
            }
            // A tab between the indicator and a value does not parse everywhere (`:\tvalue`
            // with an empty key, found by fuzzing): it becomes a space.
            Some(b'\t') => {
                end = at + 1;
                text_out.push(' ');
            }
            _ => text_out.push(' '),
        }
        text_out.push_str(&replacement);
        if bytes.get(end) == Some(&b'#') {
            text_out.push(' ');
        }
        Edit {
            start: at,
            end,
            text: text_out,
        }
    } else {
        // Tabs between the `:` or `-` indicator and the value: saphyr, which reads the result
        // back, rejects some values after a tab (`a:\t5.0.3`, found by fuzzing), so they
        // become one space.
        let bytes = text.as_bytes();
        let blank = bytes[..start]
            .iter()
            .rev()
            .take_while(|b| matches!(b, b' ' | b'\t'))
            .count();
        let gap = start - blank;
        let after_indicator = gap > 0 && matches!(bytes[gap - 1], b':' | b'-');
        if after_indicator && bytes[gap..start].contains(&b'\t') {
            Edit {
                start: gap,
                end,
                text: format!(" {replacement}"),
            }
        } else {
            Edit {
                start,
                end,
                text: replacement,
            }
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
        // Flux (kyaml v0.21.1) looks the name up as written: `${ns:p}` is no setter's name.
        assert_eq!(
            marker(r#"# {"$imagepolicy": "${ns:p}"}"#).as_deref(),
            Some("${ns:p}")
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
        // A marked block scalar is no reason to refuse the file: Flux sets its value (see
        // `marked_block_scalars_are_rewritten_inline`).
        assert!(scan("b: |- # {\"$imagepolicy\": \"ns:p\"}\n  x\n", &setters()).is_ok());
        // A marker for an unknown policy on a block scalar is simply not ours.
        assert!(scan("b: | # {\"$imagepolicy\": \"other:p\"}\n  x\n", &setters()).is_ok());
        // Empty documents are fine.
        assert!(scan("---\n# nothing\n---\na: 1\n", &setters()).is_ok());
    }

    #[test]
    fn marked_block_scalars_are_rewritten_inline() {
        let text = "a: |+ # {\"$imagepolicy\": \"ns:p:tag\"}\n  old\n  more\n\nb: >-\r\n\r\n    x\r\nc:\n  # {\"$imagepolicy\": \"ns:n:tag\"}\n  - |\n    x\n# kept\nd: | # {\"$imagepolicy\": \"ns:p:digest\"}\n  gone\ne:\n- - &k | # {\"$imagepolicy\": \"ns:p\"}\n      x\n  - y\n";
        assert_eq!(
            rewrite(text),
            "a: v2 # {\"$imagepolicy\": \"ns:p:tag\"}\n\nb: >-\r\n\r\n    x\r\nc:\n  # {\"$imagepolicy\": \"ns:n:tag\"}\n  - \"1.20\"\n# kept\nd: \"\" # {\"$imagepolicy\": \"ns:p:digest\"}\ne:\n- - &k reg.example:5000/app:v2 # {\"$imagepolicy\": \"ns:p\"}\n  - y\n"
        );
    }

    /// Found by fuzzing (`setters`, fuzz/regressions/setters/empty-block-then-tagged-key): an
    /// empty `|` value is followed by a tagged key whose `>` value carries the marker. The empty
    /// scalar's span starts at the next line's `!`, which was taken for its own tag, so both
    /// scalars edited the same bytes and applying the edits panicked.
    #[test]
    fn an_empty_block_scalar_before_a_tagged_key_is_not_the_marked_one() {
        let text = "  : |\n  ! : > #{\"$imagepolicy\":\"ns:p\"}\n   F";
        assert_eq!(
            rewrite(text),
            "  : |\n  ! : reg.example:5000/app:v2 #{\"$imagepolicy\":\"ns:p\"}"
        );
    }

    /// Found by fuzzing (`setters`, fuzz/regressions/setters/block-scalar-lone-cr): YAML ends
    /// a line at a lone `\r`, the block scalar's lines were found by `\n`, and the rewritten
    /// file no longer parsed. Such a file is refused with a reason, untouched.
    #[test]
    fn a_marked_block_scalar_with_a_lone_carriage_return_is_refused() {
        let text = ": > #{\"$imagepolicy\":\"ns:p\"}\n  \r:\n .";
        let err = scan(text, &setters()).expect_err("refused");
        assert!(
            err.contains("carriage return that does not end a line"),
            "{err}"
        );
        // \r\n endings are fine.
        let text = "a: > #{\"$imagepolicy\":\"ns:p:tag\"}\r\n  old\r\nb: x\r\n";
        assert_eq!(
            rewrite(text),
            "a: v2 #{\"$imagepolicy\":\"ns:p:tag\"}\r\nb: x\r\n"
        );
    }

    /// Found by fuzzing (`setters`, fuzz/regressions/setters/empty-value-after-tab): an empty
    /// value marked after a tab (`:\t# m`) was written after the tab, and `:\tvalue` with an
    /// empty key does not parse. The tab becomes a space.
    #[test]
    fn an_empty_value_after_a_tab_is_written_after_a_space() {
        assert_eq!(
            rewrite(":\t#{\"$imagepolicy\":\"ns:p\"}"),
            ": reg.example:5000/app:v2 #{\"$imagepolicy\":\"ns:p\"}"
        );
        assert_eq!(
            rewrite("a:\t# {\"$imagepolicy\": \"ns:p:tag\"}\n"),
            "a: v2 # {\"$imagepolicy\": \"ns:p:tag\"}\n"
        );
        // Tabs before a marked value become one space, so that the result reads back.
        assert_eq!(
            rewrite("list:\t\t\t$ima 8.5.4 # {\"$imagepolicy\": \"ns:p:tag\"}\n"),
            "list: v2 # {\"$imagepolicy\": \"ns:p:tag\"}\n"
        );
        assert_eq!(
            rewrite("l:\n-\told # {\"$imagepolicy\": \"ns:p:tag\"}\n"),
            "l:\n- v2 # {\"$imagepolicy\": \"ns:p:tag\"}\n"
        );
        // After a space, the value is inserted there: an empty range, never an inverted one
        // (the smoke run of the fuzz target caught one in the first version of this fix).
        let text = "c: # {\"$imagepolicy\": \"ns:p:tag\"}\n";
        let edits = scan(text, &setters()).expect("scans").edits;
        assert_eq!((edits[0].start, edits[0].end), (3, 3), "{edits:?}");
    }
}
