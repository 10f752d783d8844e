//! Numbers as Go `strconv.ParseFloat(s, 64)` reads them, for the numerical
//! policy (Flux IRC `internal/policy/numerical.go`).
//!
//! Go accepts what Rust's `f64::from_str` accepts for decimals, plus hexadecimal
//! floats with a binary exponent (`0x1p4`) and `_` between digits after a base
//! prefix; it refuses a signed `nan` and any value that overflows to infinity
//! (`1e400`), both of which Rust accepts.

/// Parses `text` as Go `strconv.ParseFloat(text, 64)`; `None` when Go returns an error.
pub fn parse_go_float(text: &str) -> Option<f64> {
    let (negative, unsigned) = match text.as_bytes().first()? {
        b'+' => (false, &text[1..]),
        b'-' => (true, &text[1..]),
        _ => (false, text),
    };
    let lower = unsigned.to_ascii_lowercase();
    let value = match lower.as_str() {
        "inf" | "infinity" => f64::INFINITY,
        "nan" if unsigned.len() == text.len() => f64::NAN,
        _ if lower.starts_with("0x") => parse_hex(&lower[2..])?,
        _ => {
            // Leave Rust only the plain decimal grammar: no words, no signs
            // other than the exponent's, no underscores.
            let decimal_chars = unsigned
                .bytes()
                .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'));
            if !decimal_chars || !unsigned.starts_with(|c: char| c.is_ascii_digit() || c == '.') {
                return None;
            }
            let value: f64 = unsigned.parse().ok()?;
            if value.is_infinite() {
                return None; // Go: ErrRange
            }
            value
        }
    };
    Some(if negative { -value } else { value })
}

/// A hexadecimal float after `0x`: hex digits with an optional point, then a
/// mandatory `p` exponent; `_` allowed between digits.
fn parse_hex(body: &str) -> Option<f64> {
    let (mantissa, exponent) = body.split_once('p')?;
    let mantissa = mantissa.replace('_', "");
    let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((&mantissa, ""));
    if int_part.is_empty() && frac_part.is_empty() {
        return None;
    }
    let mut value = 0f64;
    for c in int_part.chars().chain(frac_part.chars()) {
        value = value * 16.0 + f64::from(c.to_digit(16)?);
    }
    let exponent: i32 = exponent.replace('_', "").parse().ok()?;
    let shift = exponent.checked_sub(4 * i32::try_from(frac_part.len()).ok()?)?;
    let value = value * 2f64.powi(shift);
    value.is_finite().then_some(value)
}

#[cfg(test)]
mod tests {
    use super::parse_go_float;

    #[test]
    fn go_parse_float_grammar() {
        assert_eq!(parse_go_float("1606234201"), Some(1606234201.0));
        assert_eq!(parse_go_float("-27.85"), Some(-27.85));
        assert_eq!(parse_go_float("+5"), Some(5.0));
        assert_eq!(parse_go_float("1e3"), Some(1000.0));
        assert_eq!(parse_go_float(".5"), Some(0.5));
        assert_eq!(parse_go_float("0x1p4"), Some(16.0));
        assert_eq!(parse_go_float("0x1.8p1"), Some(3.0));
        assert_eq!(parse_go_float("-Inf"), Some(f64::NEG_INFINITY));
        assert!(parse_go_float("NaN").is_some_and(f64::is_nan));
        for bad in [
            "", "1a", "b", "latest", "+nan", "1e400", "0x10", "1_000", "1.2.3", ".", "e5",
        ] {
            assert_eq!(parse_go_float(bad), None, "{bad:?} must not parse");
        }
    }
}
