//! Go `regexp.Regexp.ExpandString` for `filterTags.extract` (Go `regexp.go`
//! `expand` and `extract`).
//!
//! `$1`, `${1}`, `$name`, `${name}` insert a submatch, `$$` inserts `$`. A name
//! is the LONGEST run of letters, digits and `_` (`$1x` names group `1x`, use
//! `${1}x`); a number with a leading zero is a name, not an index. A group that
//! does not exist or did not participate expands to nothing; a `$` that starts
//! no valid reference is kept as text.
//!
//! The template is compiled once against the regex: names become group
//! indices, so expanding a match is a few slice copies, and a template that is
//! one group reference (`$ts`) borrows from the tag without allocating.

use std::borrow::Cow;

use regex::{CaptureLocations, Regex};

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Text(String),
    Group(usize),
}

/// A compiled `extract` template.
#[derive(Debug, Clone)]
pub struct Template {
    segments: Vec<Segment>,
}

impl Template {
    /// Compiles `template` for matches of `regex`.
    pub fn new(template: &str, regex: &Regex) -> Template {
        let mut segments = Vec::new();
        let mut text = String::new();
        let mut rest = template;
        while let Some(dollar) = rest.find('$') {
            text.push_str(&rest[..dollar]);
            rest = &rest[dollar + 1..];
            if let Some(after) = rest.strip_prefix('$') {
                text.push('$');
                rest = after;
                continue;
            }
            match reference(rest) {
                Some((name, after)) => {
                    rest = after;
                    // An unknown group expands to nothing: no segment at all.
                    if let Some(index) = group_index(regex, name) {
                        if !text.is_empty() {
                            segments.push(Segment::Text(std::mem::take(&mut text)));
                        }
                        segments.push(Segment::Group(index));
                    }
                }
                None => text.push('$'),
            }
        }
        text.push_str(rest);
        if !text.is_empty() {
            segments.push(Segment::Text(text));
        }
        Template { segments }
    }

    /// Expands the template for the match of `haystack` recorded in `locations`.
    pub fn expand<'h>(&self, haystack: &'h str, locations: &CaptureLocations) -> Cow<'h, str> {
        let group = |i: usize| {
            locations
                .get(i)
                .map_or("", |(start, end)| &haystack[start..end])
        };
        match self.segments.as_slice() {
            [] => Cow::Borrowed(""),
            [Segment::Group(i)] => Cow::Borrowed(group(*i)),
            segments => {
                let mut out = String::new();
                for segment in segments {
                    match segment {
                        Segment::Text(text) => out.push_str(text),
                        Segment::Group(i) => out.push_str(group(*i)),
                    }
                }
                Cow::Owned(out)
            }
        }
    }
}

/// Go `extract`: the leading `name` or `{name}` of `text` and what follows.
fn reference(text: &str) -> Option<(&str, &str)> {
    let (braced, body) = match text.strip_prefix('{') {
        Some(body) => (true, body),
        None => (false, text),
    };
    let len = body
        .char_indices()
        .find(|&(_, c)| !(c.is_alphabetic() || c.is_numeric() || c == '_'))
        .map_or(body.len(), |(i, _)| i);
    if len == 0 {
        return None;
    }
    let (name, after) = body.split_at(len);
    if braced {
        after.strip_prefix('}').map(|after| (name, after))
    } else {
        Some((name, after))
    }
}

/// The group `name` refers to: an index when `name` is a number without a
/// leading zero (below 10^8, as Go), otherwise a group name.
fn group_index(regex: &Regex, name: &str) -> Option<usize> {
    let is_index = name.bytes().all(|b| b.is_ascii_digit())
        && name.len() <= 8
        && !(name.len() > 1 && name.starts_with('0'));
    if is_index {
        let index: usize = name.parse().ok()?;
        return (index < regex.captures_len()).then_some(index);
    }
    // Rust's `regex` refuses duplicate group names, so the first is the only one.
    regex.capture_names().position(|n| n == Some(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(pattern: &str, template: &str, text: &str) -> String {
        let re = Regex::new(pattern).expect("valid");
        let mut locations = re.capture_locations();
        re.captures_read(&mut locations, text).expect("matches");
        Template::new(template, &re)
            .expand(text, &locations)
            .into_owned()
    }

    #[test]
    fn go_expand_semantics() {
        let p = r"^(?P<ts>[0-9]+)-(?P<sha>[a-f0-9]+)(?P<opt>x)?$";
        assert_eq!(run(p, "$ts", "123-abc"), "123");
        assert_eq!(run(p, "${ts}x", "123-abc"), "123x");
        assert_eq!(run(p, "$tsx", "123-abc"), "");
        assert_eq!(run(p, "$1.$2", "123-abc"), "123.abc");
        assert_eq!(run(p, "$$1", "123-abc"), "$1");
        assert_eq!(run(p, "$9", "123-abc"), "");
        assert_eq!(run(p, "${ts", "123-abc"), "${ts");
        assert_eq!(run(p, "$-", "123-abc"), "$-");
        assert_eq!(run(p, "$01", "123-abc"), "");
        assert_eq!(run(p, "a$", "123-abc"), "a$");
        assert_eq!(run(p, "[$opt]", "123-abc"), "[]");
        assert_eq!(run(p, "$0", "123-abc"), "123-abc");
    }
}
