//! `filterTags.pattern` in Go's regular expression syntax, as Flux compiles it
//! (`regexp.Compile`: Go `regexp/syntax` with Perl flags), translated into the `regex` crate's
//! syntax with the same meaning.
//!
//! The two dialects share most of RE2's syntax but not all of it, and the differential tests
//! against Flux found both kinds of gap: patterns Go accepts that `regex` refuses (`\Q..\E`,
//! octal escapes, `x{,3}` as text, group names starting with a digit, duplicate group names,
//! `[[a]`), patterns `regex` accepts that Go refuses (`x{1001}`, `a**`, `(?x)`, group names
//! outside `[A-Za-z0-9_]`, `\p{Emoji}`), and patterns both accept with different meanings
//! (`\<`, `\b{start}`, `[a&&b]`, `[a--b]`, Unicode-aware `\d\w\s\b`, which Go keeps ASCII).
//!
//! So the pattern is parsed here the way Go's parser reads it (`regexp/syntax/parse.go`:
//! escapes, classes, flags, repetition rules and limits) and written out in `regex` syntax:
//! literals as `\x{..}`, Go's ASCII classes spelled out, groups unnamed (the names are kept
//! here, see [`GoRegex::names`]), repetitions wrapped in `(?:..)`. What Go refuses is refused
//! with Go's message. Not reproduced: Go's limits on huge patterns (about 3.3 million program
//! instructions, nesting depth 1000) and `regex`'s own (10 MiB compiled, nesting depth 250).

use regex::{Regex, RegexBuilder};

/// A compiled Go pattern.
#[derive(Debug, Clone)]
pub(crate) struct GoRegex {
    /// The `regex` translation.
    pub regex: Regex,
    /// Capture group names by index, `""` for unnamed groups and for index 0 (the whole
    /// match). Go allows repeated names; the translation's groups are unnamed.
    pub names: Vec<String>,
}

/// Compiles `pattern` as Go's `regexp.Compile` would.
///
/// # Errors
/// Go's error message (`missing closing ]: ...`) when Go refuses the pattern, or the
/// `regex` crate's when the translation exceeds its size limits.
pub(crate) fn compile(pattern: &str) -> Result<GoRegex, String> {
    let (translated, names) = Parser::new(pattern).parse()?;
    let regex = RegexBuilder::new(&translated).build().map_err(|e| {
        e.to_string()
            .lines()
            .last()
            .unwrap_or_default()
            .trim()
            .to_owned()
    })?;
    Ok(GoRegex { regex, names })
}

/// The canonical names Go accepts in `\p{..}` (Go 1.26: `unicode.Categories`, `Scripts`,
/// `CategoryAliases` and `Any`, `Assigned`, `Ascii`, `Lc`, each under `canonicalName`, which
/// drops `_`, `-` and spaces, so multi-word script names like `Old_Italic` are not found).
const UNICODE_CLASSES: &str = "Adlam Ahom Any Arabic Armenian Ascii Assigned Avestan Balinese \
    Bamum Batak Bengali Bhaiksuki Bopomofo Brahmi Braille Buginese Buhid C Carian Casedletter Cc \
    Cf Chakma Cham Cherokee Chorasmian Closepunctuation Cn Cntrl Co Combiningmark Common \
    Connectorpunctuation Control Coptic Cs Cuneiform Currencysymbol Cypriot Cyrillic \
    Dashpunctuation Decimalnumber Deseret Devanagari Digit Dogra Duployan Elbasan Elymaic \
    Enclosingmark Ethiopic Finalpunctuation Format Georgian Glagolitic Gothic Grantha Greek \
    Gujarati Gurmukhi Han Hangul Hanunoo Hatran Hebrew Hiragana Inherited Initialpunctuation \
    Javanese Kaithi Kannada Katakana Kawi Kharoshthi Khmer Khojki Khudawadi L Lao Latin Lc Lepcha \
    Letter Letternumber Limbu Lineseparator Lisu Ll Lm Lo Lowercaseletter Lt Lu Lycian Lydian M \
    Mahajani Makasar Malayalam Mandaic Manichaean Marchen Mark Mathsymbol Mc Me Medefaidrin Miao \
    Mn Modi Modifierletter Modifiersymbol Mongolian Mro Multani Myanmar N Nabataean Nandinagari \
    Nd Newa Nko Nl No Nonspacingmark Number Nushu Ogham Openpunctuation Oriya Osage Osmanya Other \
    Otherletter Othernumber Otherpunctuation Othersymbol P Palmyrene Paragraphseparator Pc Pd Pe \
    Pf Phoenician Pi Po Privateuse Ps Punct Punctuation Rejang Runic S Samaritan Saurashtra Sc \
    Separator Sharada Shavian Siddham Sinhala Sk Sm So Sogdian Soyombo Spaceseparator Spacingmark \
    Sundanese Surrogate Symbol Syriac Tagalog Tagbanwa Takri Tamil Tangsa Tangut Telugu Thaana \
    Thai Tibetan Tifinagh Tirhuta Titlecaseletter Toto Ugaritic Unassigned Uppercaseletter Vai \
    Vithkuqi Wancho Yezidi Yi Z Zl Zp Zs";

/// Go's POSIX classes (ASCII, the same sets as `regex`'s).
const POSIX_CLASSES: &[&str] = &[
    "alnum", "alpha", "ascii", "blank", "cntrl", "digit", "graph", "lower", "print", "punct",
    "space", "upper", "word", "xdigit",
];

/// Go's Perl classes are ASCII: `\d`, `\s` (no `\v`), `\w`, as class contents.
fn perl_class(letter: char) -> Option<(bool, &'static str)> {
    match letter {
        'd' => Some((true, "0-9")),
        'D' => Some((false, "0-9")),
        's' => Some((true, r"\t\n\x0C\r ")),
        'S' => Some((false, r"\t\n\x0C\r ")),
        'w' => Some((true, "0-9A-Za-z_")),
        'W' => Some((false, "0-9A-Za-z_")),
        _ => None,
    }
}

/// The largest repetition count Go accepts.
const MAX_REPEAT: i64 = 1000;

/// Nested counted repetitions, for Go's `repeatIsValid`.
#[derive(Debug, Clone)]
struct Repeat {
    min: i64,
    max: i64,
    inner: Vec<Repeat>,
}

/// Go `repeatIsValid`: the nested counts may not multiply past `n` copies of the innermost
/// expression (with Go's integer division).
fn repeat_is_valid(r: &Repeat, mut n: i64) -> bool {
    let mut m = r.max;
    if m == 0 {
        return true;
    }
    if m < 0 {
        m = r.min;
    }
    if m > n {
        return false;
    }
    if m > 0 {
        n /= m;
    }
    r.inner.iter().all(|i| repeat_is_valid(i, n))
}

/// One element of a concatenation, already in `regex` syntax.
#[derive(Debug)]
struct Item {
    text: String,
    /// False for a flags-only group like `(?i)`, which Go does not push: a repetition after it
    /// applies to the item before.
    operand: bool,
    /// Whether `U` (ungreedy) was in effect where this item was written.
    ungreedy: bool,
    repeats: Vec<Repeat>,
}

/// An open group (or the whole pattern).
#[derive(Debug, Default)]
struct Frame {
    open: String,
    done: Vec<String>,
    items: Vec<Item>,
    /// Counted repetitions of the finished alternatives.
    repeats: Vec<Repeat>,
    ungreedy: bool,
}

impl Frame {
    fn end_alternative(&mut self) {
        let text: String = self.items.iter().map(|i| i.text.as_str()).collect();
        self.done.push(text);
        for item in self.items.drain(..) {
            self.repeats.extend(item.repeats);
        }
    }
}

struct Parser<'a> {
    whole: &'a str,
    rest: &'a str,
    frames: Vec<Frame>,
    names: Vec<String>,
    /// The text of the repetition operator just read, if the last thing read was one.
    last_repeat: Option<&'a str>,
}

fn err(code: &str, expr: &str) -> String {
    format!("error parsing regexp: {code}: `{expr}`")
}

fn literal(c: char) -> String {
    if c.is_ascii_alphanumeric() || c == '_' {
        c.to_string()
    } else {
        format!("\\x{{{:X}}}", u32::from(c))
    }
}

/// A literal from a Go escape that may name a surrogate (Go accepts `\x{D800}`); no valid
/// UTF-8 text contains one, so it matches nothing.
fn literal_code(code: u32) -> String {
    char::from_u32(code).map_or_else(|| r"[^\x00-\x{10FFFF}]".to_owned(), literal)
}

/// Inside a class: one character, always as `\x{..}`, so that nothing can read as a `regex`
/// class operator (`&&`, `--`, `~~`, `[`).
fn class_code(code: u32) -> String {
    format!("\\x{{{code:X}}}")
}

/// Go `canonicalName`: `_`, `-`, ` ` dropped; first letter upper case, the rest lower case.
fn canonical_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars().filter(|c| !matches!(c, '_' | '-' | ' ')) {
        if out.is_empty() {
            out.push(c.to_ascii_uppercase());
        } else {
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

/// `\p{name}` or `\P{name}` as a `regex` class item (usable inside and outside brackets).
fn unicode_class(name: &str, positive: bool) -> Option<String> {
    let canonical = canonical_name(name);
    if !UNICODE_CLASSES.split_whitespace().any(|n| n == canonical) {
        return None;
    }
    Some(match (canonical.as_str(), positive) {
        // `regex` has no surrogate class: no valid UTF-8 text contains a surrogate.
        ("Cs" | "Surrogate", true) => r"[^\x00-\x{10FFFF}]".to_owned(),
        ("Cs" | "Surrogate", false) => r"[\x00-\x{10FFFF}]".to_owned(),
        (_, true) => format!("\\p{{{canonical}}}"),
        (_, false) => format!("\\P{{{canonical}}}"),
    })
}

impl<'a> Parser<'a> {
    fn new(pattern: &'a str) -> Self {
        Parser {
            whole: pattern,
            rest: pattern,
            frames: vec![Frame::default()],
            names: vec![String::new()],
            last_repeat: None,
        }
    }

    fn frame(&mut self) -> &mut Frame {
        self.frames
            .last_mut()
            .expect("the outermost frame is never popped")
    }

    fn push(&mut self, text: String) {
        let frame = self.frame();
        let ungreedy = frame.ungreedy;
        frame.items.push(Item {
            text,
            operand: true,
            ungreedy,
            repeats: Vec::new(),
        });
    }

    fn parse(mut self) -> Result<(String, Vec<String>), String> {
        while let Some(c) = self.rest.chars().next() {
            let before = self.rest;
            let mut repeat = None;
            match c {
                '(' => self.open_group()?,
                '|' => {
                    self.rest = &self.rest[1..];
                    self.frame().end_alternative();
                }
                ')' => {
                    self.rest = &self.rest[1..];
                    self.close_group()?;
                }
                '^' | '$' | '.' => {
                    self.rest = &self.rest[1..];
                    self.push(c.to_string());
                }
                '[' => {
                    let class = self.class()?;
                    self.push(class);
                }
                '*' | '+' | '?' => {
                    self.rest = &self.rest[1..];
                    self.repeat(before, c.to_string(), None)?;
                    repeat = Some(before);
                }
                '{' => match parse_repeat(self.rest) {
                    None => {
                        // Not a repetition: `{` is text.
                        self.rest = &self.rest[1..];
                        self.push(literal('{'));
                    }
                    Some((min, max, after)) => {
                        self.rest = after;
                        let op = &before[..before.len() - after.len()];
                        if !(0..=MAX_REPEAT).contains(&min)
                            || max > MAX_REPEAT
                            || (max >= 0 && min > max)
                        {
                            return Err(err("invalid repeat count", op));
                        }
                        let text = match max {
                            -1 => format!("{{{min},}}"),
                            m if m == min => format!("{{{min}}}"),
                            m => format!("{{{min},{m}}}"),
                        };
                        self.repeat(before, text, Some((min, max)))?;
                        repeat = Some(before);
                    }
                },
                '\\' => self.escape()?,
                _ => {
                    self.rest = &self.rest[c.len_utf8()..];
                    self.push(literal(c));
                }
            }
            self.last_repeat = repeat;
        }
        if self.frames.len() != 1 {
            return Err(err("missing closing )", self.whole));
        }
        let mut top = self.frames.pop().expect("one frame");
        top.end_alternative();
        Ok((top.done.join("|"), self.names))
    }

    /// `(`, `(?P<name>`, `(?<name>`, `(?flags)`, `(?flags:` (Go `parsePerlFlags`).
    fn open_group(&mut self) -> Result<(), String> {
        let t = self.rest;
        if !t.starts_with("(?") {
            self.rest = &t[1..];
            self.names.push(String::new());
            self.open_frame("(".to_owned(), None);
            return Ok(());
        }
        let named = if t.len() > 4 && t.starts_with("(?P<") {
            Some(4)
        } else if t.len() > 3 && t.starts_with("(?<") {
            Some(3)
        } else {
            None
        };
        if let Some(start) = named {
            let Some(end) = t.find('>') else {
                return Err(err("invalid named capture", t));
            };
            let name = &t[start..end];
            if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                return Err(err("invalid named capture", &t[..=end]));
            }
            self.names.push(name.to_owned());
            self.rest = &t[end + 1..];
            self.open_frame("(".to_owned(), None);
            return Ok(());
        }
        // Flags, then `)` (flags only) or `:` (a non-capturing group).
        let mut on = String::new();
        let mut off = String::new();
        let mut negated = false;
        let mut saw_flag = false;
        let mut ungreedy = self.frame().ungreedy;
        for (i, c) in t[2..].char_indices() {
            match c {
                'i' | 'm' | 's' | 'U' => {
                    let (add, remove) = if negated {
                        (&mut off, &mut on)
                    } else {
                        (&mut on, &mut off)
                    };
                    remove.retain(|f| f != c);
                    if !add.contains(c) {
                        add.push(c);
                    }
                    if c == 'U' {
                        ungreedy = !negated;
                    }
                    saw_flag = true;
                }
                '-' if !negated => {
                    negated = true;
                    saw_flag = false;
                }
                ':' | ')' if !negated || saw_flag => {
                    let flags = if off.is_empty() {
                        on
                    } else {
                        format!("{on}-{off}")
                    };
                    self.rest = &t[2 + i + 1..];
                    if c == ':' {
                        let open = if flags.is_empty() {
                            "(?:".to_owned()
                        } else {
                            format!("(?{flags}:")
                        };
                        self.open_frame(open, Some(ungreedy));
                    } else {
                        let frame = self.frame();
                        frame.ungreedy = ungreedy;
                        if !flags.is_empty() {
                            frame.items.push(Item {
                                text: format!("(?{flags})"),
                                operand: false,
                                ungreedy,
                                repeats: Vec::new(),
                            });
                        }
                    }
                    return Ok(());
                }
                _ => {
                    return Err(err(
                        "invalid or unsupported Perl syntax",
                        &t[..2 + i + c.len_utf8()],
                    ));
                }
            }
        }
        Err(err("invalid or unsupported Perl syntax", t))
    }

    fn open_frame(&mut self, open: String, ungreedy: Option<bool>) {
        let ungreedy = ungreedy.unwrap_or(self.frame().ungreedy);
        self.frames.push(Frame {
            open,
            ungreedy,
            ..Frame::default()
        });
    }

    fn close_group(&mut self) -> Result<(), String> {
        if self.frames.len() == 1 {
            return Err(err("unexpected )", self.whole));
        }
        let mut frame = self.frames.pop().expect("an open group");
        frame.end_alternative();
        let text = format!("{}{})", frame.open, frame.done.join("|"));
        let parent = self.frame();
        let ungreedy = parent.ungreedy;
        parent.items.push(Item {
            text,
            operand: true,
            ungreedy,
            repeats: frame.repeats,
        });
        Ok(())
    }

    /// Go `repeat`: `op` applies to the last operand of the current alternative.
    fn repeat(
        &mut self,
        before: &'a str,
        op: String,
        counted: Option<(i64, i64)>,
    ) -> Result<(), String> {
        let mut lazy = false;
        if self.rest.starts_with('?') {
            self.rest = &self.rest[1..];
            lazy = true;
        }
        let operator = &before[..before.len() - self.rest.len()];
        if let Some(last) = self.last_repeat {
            return Err(err(
                "invalid nested repetition operator",
                &last[..last.len() - self.rest.len()],
            ));
        }
        let frame = self.frames.last_mut().expect("a frame");
        let ungreedy_now = frame.ungreedy;
        let Some(item) = frame.items.iter_mut().rev().find(|i| i.operand) else {
            return Err(err("missing argument to repetition operator", operator));
        };
        if let Some((min, max)) = counted {
            let node = Repeat {
                min,
                max,
                inner: std::mem::take(&mut item.repeats),
            };
            if (min >= 2 || max >= 2) && !repeat_is_valid(&node, MAX_REPEAT) {
                return Err(err("invalid repeat count", operator));
            }
            item.repeats = vec![node];
        }
        // Greediness is decided where Go reads the operator; the operator is written right
        // after its operand, where `U` may differ (`a(?U)*`).
        let non_greedy = ungreedy_now != lazy;
        let suffix = if non_greedy != item.ungreedy { "?" } else { "" };
        item.text = format!("(?:{}){op}{suffix}", item.text);
        Ok(())
    }

    /// A backslash outside a class.
    fn escape(&mut self) -> Result<(), String> {
        let t = self.rest;
        let next = t[1..].chars().next();
        let simple = match next {
            Some('A') => Some(r"\A"),
            Some('z') => Some(r"\z"),
            // Go's word boundary is ASCII.
            Some('b') => Some(r"(?-u:\b)"),
            Some('B') => Some(r"(?-u:\B)"),
            Some('C') => return Err(err("invalid escape sequence", &t[..2])),
            _ => None,
        };
        if let Some(text) = simple {
            self.rest = &t[2..];
            self.push(text.to_owned());
            return Ok(());
        }
        if next == Some('Q') {
            // `\Q...\E`: text, up to `\E` or the end.
            let body = &t[2..];
            let (text, rest) = body.split_once(r"\E").unwrap_or((body, ""));
            self.rest = rest;
            for c in text.chars() {
                self.push(literal(c));
            }
            return Ok(());
        }
        if let Some(class) = self.unicode_escape()? {
            self.push(class);
            return Ok(());
        }
        if let Some((positive, set)) = next.and_then(perl_class) {
            self.rest = &t[2..];
            self.push(format!("[{}{set}]", if positive { "" } else { "^" }));
            return Ok(());
        }
        let (code, rest) = parse_escape(t)?;
        self.rest = rest;
        self.push(literal_code(code));
        Ok(())
    }

    /// `\pN`, `\p{Name}`, `\P{^Name}` at the start of `rest` (Go `parseUnicodeClass`).
    fn unicode_escape(&mut self) -> Result<Option<String>, String> {
        let t = self.rest;
        let mut positive = match t.get(..2) {
            Some(r"\p") => true,
            Some(r"\P") => false,
            _ => return Ok(None),
        };
        let after = &t[2..];
        let (sequence, mut name, rest) = match after.chars().next() {
            None => return Err(err("invalid character class range", t)),
            Some('{') => {
                let Some(end) = t.find('}') else {
                    return Err(err("invalid character class range", t));
                };
                (&t[..=end], &t[3..end], &t[end + 1..])
            }
            Some(c) => {
                let len = 2 + c.len_utf8();
                (&t[..len], &t[2..len], &t[len..])
            }
        };
        if let Some(n) = name.strip_prefix('^') {
            positive = !positive;
            name = n;
        }
        let class = unicode_class(name, positive)
            .ok_or_else(|| err("invalid character class range", sequence))?;
        self.rest = rest;
        Ok(Some(class))
    }

    /// A bracketed class (Go `parseClass`), as a `regex` class.
    fn class(&mut self) -> Result<String, String> {
        let whole = self.rest;
        let mut t = &whole[1..];
        let mut out = String::from("[");
        if let Some(after) = t.strip_prefix('^') {
            out.push('^');
            t = after;
        }
        let mut first = true;
        loop {
            if t.is_empty() {
                return Err(err("missing closing ]", whole));
            }
            if t.starts_with(']') && !first {
                t = &t[1..];
                break;
            }
            first = false;
            // POSIX `[:alpha:]`, `[:^alpha:]`.
            if t.len() > 2
                && t.starts_with("[:")
                && let Some(end) = t[2..].find(":]")
            {
                let name = &t[2..2 + end];
                let bare = name.strip_prefix('^').unwrap_or(name);
                if !POSIX_CLASSES.contains(&bare) {
                    return Err(err("invalid character class range", &t[..end + 4]));
                }
                out.push_str(&format!("[:{name}:]"));
                t = &t[end + 4..];
                continue;
            }
            self.rest = t;
            if let Some(class) = self.unicode_escape()? {
                out.push_str(&class);
                t = self.rest;
                continue;
            }
            if let Some((positive, set)) = t
                .strip_prefix('\\')
                .and_then(|e| e.chars().next())
                .and_then(perl_class)
            {
                if positive {
                    out.push_str(set);
                } else {
                    out.push_str(&format!("[^{set}]"));
                }
                t = &t[2..];
                continue;
            }
            let start = t;
            let (lo, rest) = class_char(t, whole)?;
            t = rest;
            let mut hi = lo;
            // `[a-]` is `a` and `-`.
            if t.len() >= 2 && t.starts_with('-') && !t[1..].starts_with(']') {
                let (h, rest) = class_char(&t[1..], whole)?;
                t = rest;
                hi = h;
                if hi < lo {
                    return Err(err(
                        "invalid character class range",
                        &start[..start.len() - t.len()],
                    ));
                }
            }
            // Surrogates (from `\x{D800}`) match nothing: keep only the valid part of a range.
            for (a, b) in [(lo, hi.min(0xD7FF)), (lo.max(0xE000), hi)] {
                if a <= b {
                    out.push_str(&class_code(a));
                    if b > a {
                        out.push('-');
                        out.push_str(&class_code(b));
                    }
                }
            }
        }
        self.rest = t;
        out.push(']');
        // A class of surrogates only: nothing left between the brackets.
        if out == "[]" {
            return Ok(r"[^\x00-\x{10FFFF}]".to_owned());
        }
        if out == "[^]" {
            return Ok(r"[\x00-\x{10FFFF}]".to_owned());
        }
        Ok(out)
    }
}

/// One character inside a class (Go `parseClassChar`): an escape or a character.
fn class_char<'t>(t: &'t str, whole: &str) -> Result<(u32, &'t str), String> {
    match t.chars().next() {
        None => Err(err("missing closing ]", whole)),
        Some('\\') => parse_escape(t),
        Some(c) => Ok((u32::from(c), &t[c.len_utf8()..])),
    }
}

/// Go `parseEscape`: a single-character escape at the start of `t` (which starts with `\`).
fn parse_escape(t: &str) -> Result<(u32, &str), String> {
    let after = &t[1..];
    let Some(c) = after.chars().next() else {
        return Err("error parsing regexp: trailing backslash at end of expression: ``".to_owned());
    };
    let mut rest = &after[c.len_utf8()..];
    let invalid = |rest: &str| Err(err("invalid escape sequence", &t[..t.len() - rest.len()]));
    let octal = |s: &str| {
        s.as_bytes()
            .first()
            .is_some_and(|b| (b'0'..=b'7').contains(b))
    };
    match c {
        '1'..='7' if !octal(rest) => invalid(rest), // a backreference
        '0'..='7' => {
            let mut code = u32::from(c) - u32::from('0');
            for _ in 1..3 {
                if !octal(rest) {
                    break;
                }
                code = code * 8 + u32::from(rest.as_bytes()[0] - b'0');
                rest = &rest[1..];
            }
            Ok((code, rest))
        }
        'x' => {
            if let Some(body) = rest.strip_prefix('{') {
                let Some(end) = body.find('}') else {
                    return invalid("");
                };
                let digits = &body[..end];
                let valid = !digits.is_empty() && digits.chars().all(|c| c.is_ascii_hexdigit());
                match u32::from_str_radix(digits, 16) {
                    Ok(code) if valid && code <= 0x10FFFF => Ok((code, &body[end + 1..])),
                    _ => invalid(&body[end.min(body.len())..]),
                }
            } else {
                let mut chars = rest.chars();
                let (Some(a), Some(b)) = (chars.next(), chars.next()) else {
                    return invalid("");
                };
                match (a.to_digit(16), b.to_digit(16)) {
                    (Some(x), Some(y)) => Ok((x * 16 + y, chars.as_str())),
                    _ => invalid(chars.as_str()),
                }
            }
        }
        'a' => Ok((0x07, rest)),
        'f' => Ok((0x0C, rest)),
        'n' => Ok((0x0A, rest)),
        'r' => Ok((0x0D, rest)),
        't' => Ok((0x09, rest)),
        'v' => Ok((0x0B, rest)),
        c if c.is_ascii() && !c.is_ascii_alphanumeric() => Ok((u32::from(c), rest)),
        _ => invalid(rest),
    }
}

/// Go `parseRepeat`: `{n}`, `{n,}`, `{n,m}` at the start of `s`, with -1 for an unbounded
/// maximum and -1 as the minimum when a number is too large; `None` when `s` is not of that
/// form (then `{` is text).
fn parse_repeat(s: &str) -> Option<(i64, i64, &str)> {
    let s = s.strip_prefix('{')?;
    let (min, s) = parse_int(s)?;
    let (min, max, s) = if let Some(s) = s.strip_prefix(',') {
        if let Some(s) = s.strip_prefix('}') {
            return Some((min, -1, s));
        }
        let (max, s) = parse_int(s)?;
        (if max < 0 { -1 } else { min }, max, s)
    } else {
        (min, min, s)
    };
    let s = s.strip_prefix('}')?;
    Some((min, max, s))
}

/// Go `parseInt`: digits without a leading zero; -1 when the value reaches 10^8.
fn parse_int(s: &str) -> Option<(i64, &str)> {
    let digits = s.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 || (digits >= 2 && s.starts_with('0')) {
        return None;
    }
    let mut n: i64 = 0;
    for b in s[..digits].bytes() {
        if n >= 100_000_000 {
            n = -1;
            break;
        }
        n = n * 10 + i64::from(b - b'0');
    }
    Some((n, &s[digits..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn translate(p: &str) -> Result<String, String> {
        Parser::new(p).parse().map(|(t, _)| t)
    }

    fn is_match(p: &str, text: &str) -> bool {
        compile(p).expect("compiles").regex.is_match(text)
    }

    #[test]
    fn go_accepts_what_regex_would_refuse() {
        assert!(is_match(r"^\Q1.\E$", "1."));
        assert!(!is_match(r"^\Q1.\E$", "1x"));
        assert!(is_match(r"^x{,3}$", "x{,3}"));
        assert!(is_match(r"\012", "\n"));
        assert!(is_match(r"[[a]", "["));
        assert_eq!(
            compile(r"(?P<1x>a)|(?P<1x>b)").expect("compiles").names,
            vec!["", "1x", "1x"]
        );
        assert!(compile(r"(?)a").is_ok());
        assert!(compile(r"(?ii)a").is_ok());
    }

    #[test]
    fn go_refuses_what_regex_would_accept() {
        for p in [
            "x{1001}",
            "x{1,1001}",
            "(a{1000}){2}",
            "a**",
            "a*?*",
            "a?+",
            "a{1}{2}",
            "(?x)a",
            "(?R)a",
            "(?-u:a)",
            "(?P<é>a)",
            "(?P<a.b>a)",
            r"\p{Emoji}",
            r"\p{Old_Italic}",
            "[a--b]",
            "(?-)",
            "(?i-)",
            "*",
            "(*)",
            "a|*",
            "(?i)*",
            r"\8",
            r"\_a\q",
        ] {
            assert!(compile(p).is_err(), "{p:?} must be refused");
        }
        assert_eq!(
            compile("x{1001}").err().as_deref(),
            Some("error parsing regexp: invalid repeat count: `{1001}`")
        );
    }

    #[test]
    fn go_meanings() {
        // ASCII classes and word boundaries.
        assert!(!is_match(r"^\d$", "٣"));
        assert!(!is_match(r"^\w$", "é"));
        assert!(is_match(r"^\W$", "é"));
        assert!(!is_match(r"\bé", "é"));
        assert!(is_match(r"^\s$", "\x0C"));
        assert!(!is_match(r"^\s$", "\x0B"));
        // Text where `regex` has operators.
        assert!(is_match(r"^\<a$", "<a"));
        assert!(is_match(r"^x\b{start}$", "x{start}"));
        assert!(is_match(r"^[a&&b]$", "&"));
        assert!(is_match(r"^[a~~b]$", "~"));
        assert!(is_match(r"^[\d-z]$", "-"));
        // A repetition after a flags group applies to what came before it.
        assert!(is_match(r"^a(?i)*b$", "aaB"));
        assert!(is_match(r"^\p{greek}+$", "αβ"));
        assert!(is_match(r"^[\P{^Lu}]$", "A"));
    }

    #[test]
    fn repetitions_are_wrapped() {
        assert_eq!(translate("ab*").as_deref(), Ok("a(?:b)*"));
        assert_eq!(translate("(a)+?").as_deref(), Ok("(?:(a))+?"));
        assert_eq!(translate("a{2,}").as_deref(), Ok("(?:a){2,}"));
    }
}
