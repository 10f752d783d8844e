//! Property: a rewrite changes only the marked scalars.
//!
//! Random YAML documents (nested mappings and block sequences, plain/single/double-quoted
//! values, anchors, line comments with markers for known and unknown setters, head comments on
//! sequence items, LF or CRLF, with or without a final newline) are rendered as a list of fixed
//! text segments and marked value segments. After the rewrite every fixed segment must be there
//! byte for byte, every marked segment must read back (as YAML) as its setter's value in its
//! original quoting family, and a second scan must find nothing left to do.

use proptest::prelude::*;

use crate::scan::{SetterValues, scan};

const SETTERS: &[(&str, &str)] = &[
    (
        "t:p",
        "reg.example:5000/team/app:1.20@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    ),
    ("t:p:name", "reg.example:5000/team/app"),
    ("t:p:tag", "1.20"),
    ("t:p:digest", ""),
    ("t:q:tag", "yes"),
    ("t:r:tag", "v2.0.0-rc.1"),
];
/// Index `SETTERS.len()` is a marker for a policy we were not given.
const UNKNOWN: &str = "other:policy:tag";

#[derive(Debug, Clone, Copy)]
enum Style {
    Plain,
    Single,
    Double,
}

#[derive(Debug, Clone)]
enum Comment {
    None,
    Text,
    Marker(usize),
}

#[derive(Debug, Clone)]
struct Scalar {
    value: String,
    style: Style,
    anchor: bool,
    comment: Comment,
}

#[derive(Debug, Clone)]
enum Node {
    Scalar(Scalar),
    /// Items, each with an optional head-comment marker (then the item has no line comment).
    Seq(Vec<(Option<usize>, Scalar)>),
    Map(Vec<Node>),
    /// A literal block scalar whose text looks like a marker.
    Block,
}

#[derive(Debug, Clone, PartialEq)]
enum Segment {
    Fixed(String),
    Marked { setter: usize, style: Style },
}

impl PartialEq for Style {
    fn eq(&self, other: &Self) -> bool {
        std::mem::discriminant(self) == std::mem::discriminant(other)
    }
}

fn setter_name(i: usize) -> &'static str {
    SETTERS.get(i).map_or(UNKNOWN, |s| s.0)
}

fn scalar() -> impl Strategy<Value = Scalar> {
    let style = prop_oneof![Just(Style::Plain), Just(Style::Single), Just(Style::Double)];
    let comment = prop_oneof![
        2 => Just(Comment::None),
        1 => Just(Comment::Text),
        3 => (0..=SETTERS.len()).prop_map(Comment::Marker),
    ];
    (
        style,
        "[a-z][a-z0-9./-]{0,8}(:[a-z0-9]{1,4})?",
        "[ -~]{0,8}",
        any::<bool>(),
        comment,
    )
        .prop_map(|(style, plain, quoted, anchor, comment)| Scalar {
            value: if matches!(style, Style::Plain) {
                plain
            } else {
                quoted
            },
            style,
            anchor,
            comment,
        })
}

fn node() -> impl Strategy<Value = Node> {
    let leaf = prop_oneof![
        6 => scalar().prop_map(Node::Scalar),
        1 => Just(Node::Block),
        2 => prop::collection::vec(
            (prop::option::weighted(0.4, 0..=SETTERS.len()), scalar()),
            1..4
        )
        .prop_map(Node::Seq),
    ];
    leaf.prop_recursive(2, 24, 5, |inner| {
        prop::collection::vec(inner, 1..5).prop_map(Node::Map)
    })
}

struct Render {
    segments: Vec<Segment>,
    nl: &'static str,
    anchors: usize,
}

impl Render {
    fn fixed(&mut self, s: &str) {
        match self.segments.last_mut() {
            Some(Segment::Fixed(f)) => f.push_str(s),
            _ => self.segments.push(Segment::Fixed(s.to_owned())),
        }
    }

    fn scalar(&mut self, s: &Scalar, line_comment: bool) {
        if s.anchor {
            self.anchors += 1;
            let a = format!("&a{} ", self.anchors);
            self.fixed(&a);
        }
        let text = match s.style {
            Style::Plain => s.value.clone(),
            Style::Single => format!("'{}'", s.value.replace('\'', "''")),
            Style::Double => format!("\"{}\"", s.value.replace('\\', "\\\\").replace('"', "\\\"")),
        };
        match (&s.comment, line_comment) {
            (Comment::Marker(i), true) if *i < SETTERS.len() => {
                self.segments.push(Segment::Marked {
                    setter: *i,
                    style: s.style,
                })
            }
            _ => self.fixed(&text),
        }
        if line_comment {
            match s.comment {
                Comment::None => {}
                Comment::Text => self.fixed(" # a note: $imagepolicy is not JSON here"),
                Comment::Marker(i) => {
                    let m = format!(" # {{\"$imagepolicy\": \"{}\"}}", setter_name(i));
                    self.fixed(&m);
                }
            }
        }
        self.fixed(self.nl);
    }

    fn entries(&mut self, nodes: &[Node], indent: usize) {
        let pad = " ".repeat(indent);
        for (i, n) in nodes.iter().enumerate() {
            self.fixed(&format!("{pad}k{i}:"));
            match n {
                Node::Scalar(s) => {
                    self.fixed(" ");
                    self.scalar(s, true);
                }
                Node::Block => {
                    let nl = self.nl;
                    self.fixed(&format!(
                        " |{nl}{pad}  image: x # {{\"$imagepolicy\": \"t:p\"}}{nl}"
                    ));
                }
                Node::Seq(items) => {
                    self.fixed(self.nl);
                    for (head, s) in items {
                        if let Some(h) = head {
                            let line = format!(
                                "{pad}  # {{\"$imagepolicy\": \"{}\"}}{}",
                                setter_name(*h),
                                self.nl
                            );
                            self.fixed(&line);
                            self.fixed(&format!("{pad}  - "));
                            let as_head = Scalar {
                                comment: Comment::Marker(*h),
                                ..s.clone()
                            };
                            // The marker is above the item: no line comment on it.
                            if *h < SETTERS.len() {
                                if as_head.anchor {
                                    self.anchors += 1;
                                    let a = format!("&a{} ", self.anchors);
                                    self.fixed(&a);
                                }
                                self.segments.push(Segment::Marked {
                                    setter: *h,
                                    style: s.style,
                                });
                                self.fixed(self.nl);
                            } else {
                                self.scalar(
                                    &Scalar {
                                        comment: Comment::None,
                                        ..s.clone()
                                    },
                                    true,
                                );
                            }
                        } else {
                            self.fixed(&format!("{pad}  - "));
                            self.scalar(s, true);
                        }
                    }
                }
                Node::Map(children) => {
                    self.fixed(self.nl);
                    self.entries(children, indent + 2);
                }
            }
        }
    }
}

/// The original text of a marked segment, as rendered (needed to build the input).
fn original_texts(nodes: &[Node]) -> Vec<(String, Style)> {
    let mut out = Vec::new();
    fn text(s: &Scalar) -> String {
        match s.style {
            Style::Plain => s.value.clone(),
            Style::Single => format!("'{}'", s.value.replace('\'', "''")),
            Style::Double => format!("\"{}\"", s.value.replace('\\', "\\\\").replace('"', "\\\"")),
        }
    }
    fn walk(nodes: &[Node], out: &mut Vec<(String, Style)>) {
        for n in nodes {
            match n {
                Node::Scalar(s) => {
                    if matches!(s.comment, Comment::Marker(i) if i < SETTERS.len()) {
                        out.push((text(s), s.style));
                    }
                }
                Node::Seq(items) => {
                    for (head, s) in items {
                        let marked = match head {
                            Some(h) => *h < SETTERS.len(),
                            None => matches!(s.comment, Comment::Marker(i) if i < SETTERS.len()),
                        };
                        if marked {
                            out.push((text(s), s.style));
                        }
                    }
                }
                Node::Map(children) => walk(children, out),
                Node::Block => {}
            }
        }
    }
    walk(nodes, &mut out);
    out
}

fn reads_as(text: &str, expected: &str) -> bool {
    let doc = format!("v: {text}\n");
    match serde_norway::from_str::<std::collections::BTreeMap<String, serde_norway::Value>>(&doc) {
        Ok(m) => m.get("v") == Some(&serde_norway::Value::String(expected.to_owned())),
        Err(_) => false,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn a_rewrite_changes_only_marked_scalars(
        nodes in prop::collection::vec(node(), 1..6),
        crlf in any::<bool>(),
        final_newline in any::<bool>(),
    ) {
        let mut r = Render { segments: Vec::new(), nl: if crlf { "\r\n" } else { "\n" }, anchors: 0 };
        r.entries(&nodes, 0);
        if !final_newline && let Some(Segment::Fixed(f)) = r.segments.last_mut() {
            let trimmed = f.trim_end_matches(['\r', '\n']).len();
            f.truncate(trimmed);
        }
        let segments = r.segments;
        let originals = original_texts(&nodes);
        let mut input = String::new();
        let mut o = originals.iter();
        for s in &segments {
            match s {
                Segment::Fixed(f) => input.push_str(f),
                Segment::Marked { .. } => input.push_str(&o.next().expect("one original per marked segment").0),
            }
        }
        let setters: SetterValues = SETTERS.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        let found = scan(&input, &setters).map_err(|e| TestCaseError::fail(format!("{e}\n{input}")))?;
        let output = found.apply(&input);

        // Fixed segments byte for byte; marked ones read back as the setter's value.
        let mut at = 0;
        for (i, s) in segments.iter().enumerate() {
            match s {
                Segment::Fixed(f) => {
                    prop_assert!(output[at..].starts_with(f.as_str()), "fixed text changed at byte {}:\n{}\n---\n{}", at, input, output);
                    at += f.len();
                }
                Segment::Marked { setter, style } => {
                    let end = match segments.get(i + 1) {
                        Some(Segment::Fixed(next)) => {
                            let stop = if next.starts_with(" # ") { next.as_str() } else { r.nl };
                            output[at..].find(stop).map_or(output.len(), |j| at + j)
                        }
                        _ => output.len(),
                    };
                    let text = &output[at..end];
                    let want = SETTERS[*setter].1;
                    prop_assert_eq!(text.trim(), text, "blanks around a rewritten value");
                    prop_assert!(reads_as(text, want), "{:?} does not read as {:?}\n{}", text, want, output);
                    match style {
                        Style::Single => prop_assert!(text.starts_with('\'')),
                        Style::Double => prop_assert!(text.starts_with('"')),
                        Style::Plain => {}
                    }
                    at = end;
                }
            }
        }
        prop_assert_eq!(at, output.len());
        // Nothing left to do, and every marker still found.
        let again = scan(&output, &setters).map_err(|e| TestCaseError::fail(format!("{e}\n{output}")))?;
        prop_assert!(again.edits.is_empty());
        prop_assert_eq!(again.marked, found.marked);
        prop_assert_eq!(found.marked, originals.len());
    }
}
