//! Writing a new value in the scalar style of the old one.

use std::fmt::Write as _;

/// `true` when `value` written as a plain scalar would not read back as that string: a YAML 1.1
/// non-string (`1.20`, `123`, `yes`, `on`, `~`, `1e3`, `0x1F`: kyaml `yaml/compatibility.go`
/// `IsValueNonString`, which Flux's `FormatNonStringStyle` uses to double-quote such values), or
/// text that is not a safe plain scalar at all (empty, blanks, indicators, `: `, ` #`).
pub(crate) fn needs_double_quotes(value: &str) -> bool {
    is_yaml11_non_string(value) || !is_safe_plain(value)
}

/// Conservative plain-scalar test: image references, tags and digests pass.
fn is_safe_plain(value: &str) -> bool {
    let Some(first) = value.chars().next() else {
        return false;
    };
    (first.is_ascii_alphanumeric() || matches!(first, '_' | '.' | '/'))
        && !value.ends_with(':')
        && value.chars().all(|c| {
            c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '/' | ':' | '@' | '+' | '=')
        })
}

const YAML11_KEYWORDS: &[&str] = &[
    "y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO", "true", "True", "TRUE", "false",
    "False", "FALSE", "on", "On", "ON", "off", "Off", "OFF", "~", "null", "Null", "NULL", ".inf",
    ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", "-.inf", "-.Inf", "-.INF", ".nan", ".NaN", ".NAN",
    "<<",
];

/// go-yaml v2 `resolve()` for a plain scalar, reduced to "is it a string": keywords, then for a
/// value starting with a digit, sign or '.', Go `ParseInt`/`ParseUint` with base 0 (after
/// removing `_`), the YAML float regex and `0b` binary. Timestamps stay strings when decoded
/// into `interface{}`, so they are strings here too.
pub(crate) fn is_yaml11_non_string(value: &str) -> bool {
    if value.is_empty() || value.contains('\n') {
        return false;
    }
    if YAML11_KEYWORDS.contains(&value) {
        return true;
    }
    let first = value.as_bytes()[0];
    if !(first.is_ascii_digit() || matches!(first, b'+' | b'-' | b'.')) {
        return false;
    }
    let plain: String = value.chars().filter(|&c| c != '_').collect();
    go_int_base0(&plain) || yaml_float(&plain)
}

/// Go `strconv.ParseInt(s, 0, 64)` syntax (range ignored: an out-of-range integer still matches
/// the float regex): optional sign, then `0x`/`0o`/`0b` prefixed digits, `0` octal, or decimal.
fn go_int_base0(s: &str) -> bool {
    let s = s.strip_prefix(['+', '-']).unwrap_or(s);
    let (digits, radix) = if let Some(d) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        (d, 16)
    } else if let Some(d) = s.strip_prefix("0o").or_else(|| s.strip_prefix("0O")) {
        (d, 8)
    } else if let Some(d) = s.strip_prefix("0b").or_else(|| s.strip_prefix("0B")) {
        (d, 2)
    } else if s.len() > 1 && s.starts_with('0') {
        (&s[1..], 8)
    } else {
        (s, 10)
    };
    !digits.is_empty() && digits.chars().all(|c| c.is_digit(radix))
}

/// `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$` (go-yaml v2 `yamlStyleFloat`).
fn yaml_float(s: &str) -> bool {
    let s = s.strip_prefix(['+', '-']).unwrap_or(s);
    let (mantissa, exponent) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    let mantissa_ok = match mantissa.split_once('.') {
        Some(("", frac)) => digits(frac),
        Some((int, frac)) => digits(int) && (frac.is_empty() || digits(frac)),
        None => digits(mantissa),
    };
    let exponent_ok = exponent.is_none_or(|e| digits(e.strip_prefix(['+', '-']).unwrap_or(e)));
    mantissa_ok && exponent_ok
}

/// `"..."` with YAML double-quoted escapes.
pub(crate) fn double_quoted(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `'...'` with `'` doubled; only for values without control characters.
pub(crate) fn single_quoted(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml11_non_strings_as_kyaml_classifies_them() {
        for v in [
            "1.20", "123", "yes", "on", "Off", "~", "null", "1e3", "0x1F", "0o17", "0b101", "-1",
            "+.5", "1_000", ".inf", "012", "09", "1.",
        ] {
            assert!(is_yaml11_non_string(v), "{v} should not be a string");
        }
        for v in [
            "v1.0.1",
            "1.0.1",
            "2024-01-01",
            "image:v1",
            "sha256:abc",
            "",
            "1e",
            "0x",
            "1.2.3",
            "-",
            "true1",
            "e3",
        ] {
            assert!(!is_yaml11_non_string(v), "{v} should be a string");
        }
    }

    #[test]
    fn plain_safety() {
        assert!(!needs_double_quotes("ghcr.io/app:v1@sha256:0123"));
        assert!(!needs_double_quotes("localhost:5000/app"));
        for v in [
            "", "a b", "a #b", "-x", "@x", "x:", "[a]", "{a}", "a,b", "*a", "&a", "!a", "'a",
            "\"a", "%a", "|", ">", "1.0",
        ] {
            assert!(needs_double_quotes(v), "{v:?} must be quoted");
        }
    }

    #[test]
    fn escapes() {
        assert_eq!(double_quoted("a\"b\\c\n\u{1}"), "\"a\\\"b\\\\c\\n\\u0001\"");
        assert_eq!(single_quoted("it's"), "'it''s'");
    }
}
