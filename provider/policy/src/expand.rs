//! Go `regexp.Regexp.ExpandString` for `filterTags.extract` (Go `regexp.go`
//! `expand` and `extract`).
//!
//! `$1`, `${1}`, `$name`, `${name}` insert a submatch, `$$` inserts `$`. A name
//! is the LONGEST run of Unicode letters (`\pL`), decimal digits (`\p{Nd}`) and
//! `_` (`$1x` names group `1x`, use `${1}x`); up to nine ASCII digits without a
//! leading zero are an index, anything else a name. A group that does not exist
//! or did not participate expands to nothing; several groups may share a name
//! (Go allows it), and the first one that participated counts; a `$` that starts
//! no valid reference is kept as text.
//!
//! The template is compiled once against the pattern's group names: names become
//! group indices, so expanding a match is a few slice copies, and a template that
//! is one group reference (`$ts`) borrows from the tag without allocating.

use std::borrow::Cow;
use std::sync::LazyLock;

use regex::{CaptureLocations, Regex};

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Text(String),
    /// The groups a reference may mean, in order: the first that participated counts.
    Group(Vec<usize>),
}

/// Go `extract`'s name characters: `unicode.IsLetter`, `unicode.IsDigit` (decimal digits
/// only, unlike Rust's `char::is_numeric`), `_`.
static NAME: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[\pL\p{Nd}_]+").expect("the name pattern is valid"));

/// A compiled `extract` template.
#[derive(Debug, Clone)]
pub struct Template {
    segments: Vec<Segment>,
}

impl Template {
    /// Compiles `template` for a pattern whose capture groups are named `names` (by index,
    /// `""` for unnamed groups and for the whole match at index 0).
    pub fn new(template: &str, names: &[String]) -> Template {
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
                    let groups = group_indices(names, name);
                    if !groups.is_empty() {
                        if !text.is_empty() {
                            segments.push(Segment::Text(std::mem::take(&mut text)));
                        }
                        segments.push(Segment::Group(groups));
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
        let group = |groups: &[usize]| {
            groups
                .iter()
                .find_map(|&i| locations.get(i))
                .map_or("", |(start, end)| &haystack[start..end])
        };
        match self.segments.as_slice() {
            [] => Cow::Borrowed(""),
            [Segment::Group(groups)] => Cow::Borrowed(group(groups)),
            segments => {
                let mut out = String::new();
                for segment in segments {
                    match segment {
                        Segment::Text(text) => out.push_str(text),
                        Segment::Group(groups) => out.push_str(group(groups)),
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
    let len = NAME.find(body).map_or(0, |m| m.end());
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

/// The groups `name` refers to: an index when `name` is at most nine ASCII digits without a
/// leading zero (Go stops counting at 10^8), otherwise every group of that name.
fn group_indices(names: &[String], name: &str) -> Vec<usize> {
    let is_index = name.bytes().all(|b| b.is_ascii_digit())
        && name.len() <= 9
        && !(name.len() > 1 && name.starts_with('0'));
    if is_index {
        return name
            .parse::<usize>()
            .ok()
            .filter(|&i| i < names.len())
            .into_iter()
            .collect();
    }
    (1..names.len()).filter(|&i| names[i] == name).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(pattern: &str, template: &str, text: &str) -> String {
        let re = crate::go_regexp::compile(pattern).expect("valid");
        let mut locations = re.regex.capture_locations();
        re.regex
            .captures_read(&mut locations, text)
            .expect("matches");
        Template::new(template, &re.names)
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
        // Nine digits are an index, ten a name; Unicode digits other than decimal end a name.
        assert_eq!(run(p, "$000000001", "123-abc"), "");
        assert_eq!(run(p, "$123456789x", "123-abc"), "");
        assert_eq!(run(r"^(?P<1x>[0-9]+)", "$1x", "123-abc"), "123");
        assert_eq!(run(r"^([0-9]+)", "$1²", "123-abc"), "123²");
        // Repeated names: the first group that took part in the match.
        assert_eq!(
            run(r"^(?P<n>[a-z]+)$|^(?P<n>[0-9]+)", "[$n]", "123-abc"),
            "[123]"
        );
    }
}
