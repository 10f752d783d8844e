//! Numbers as Go `strconv.ParseFloat(s, 64)` reads them, for the numerical
//! policy (Flux IRC `internal/policy/numerical.go`).
//!
//! Go accepts what Rust's `f64::from_str` accepts for decimals, plus hexadecimal
//! floats with a binary exponent (`0x1p4`), and `_` between digits (or after a
//! `0x` prefix) anywhere in the number (`1_000`, `0x_1p1_0`); it refuses a signed
//! `nan` and any value that overflows to infinity (`1e400`), both of which Rust
//! accepts. Hexadecimal floats are rounded here (to nearest, ties to even), as Go
//! does; decimals are left to Rust, whose rounding is as exact as Go's.

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
        _ => {
            if lower.contains('_') && !underscores_ok(&lower) {
                return None;
            }
            let plain = lower.replace('_', "");
            if let Some(hex) = plain.strip_prefix("0x") {
                parse_hex(hex)?
            } else {
                // Leave Rust only the plain decimal grammar: no words, no signs
                // other than the exponent's.
                let decimal_chars = plain
                    .bytes()
                    .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'+' | b'-'));
                if !decimal_chars || !plain.starts_with(|c: char| c.is_ascii_digit() || c == '.') {
                    return None;
                }
                let value: f64 = plain.parse().ok()?;
                if value.is_infinite() {
                    return None; // Go: ErrRange
                }
                value
            }
        }
    };
    Some(if negative { -value } else { value })
}

/// Go `underscoreOK` (`strconv/atoi.go`) for an unsigned, lower-case number: every `_` sits
/// between two digits, or between a `0x` prefix and a digit (hex digits count in hex).
fn underscores_ok(s: &str) -> bool {
    #[derive(PartialEq)]
    enum Saw {
        Start,
        Digit,
        Underscore,
        Other,
    }
    let (hex, body, mut saw) = match s.strip_prefix("0x") {
        Some(body) => (true, body, Saw::Digit),
        None => (false, s, Saw::Start),
    };
    for b in body.bytes() {
        if b.is_ascii_digit() || (hex && (b'a'..=b'f').contains(&b)) {
            saw = Saw::Digit;
        } else if b == b'_' {
            if saw != Saw::Digit {
                return false;
            }
            saw = Saw::Underscore;
        } else if saw == Saw::Underscore {
            return false;
        } else {
            saw = Saw::Other;
        }
    }
    saw != Saw::Underscore
}

/// A hexadecimal float after `0x` (lower case, underscores removed): hex digits with an
/// optional point, at least one digit, then a mandatory `p` exponent; rounded to the nearest
/// `f64`, ties to even. `None` for bad syntax or overflow (Go: ErrRange); underflow gives 0.
fn parse_hex(body: &str) -> Option<f64> {
    let (mantissa, exponent) = body.split_once('p')?;
    let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if int_part.is_empty() && frac_part.is_empty() {
        return None;
    }
    let exponent = exponent.strip_prefix('+').unwrap_or(exponent);
    let (exp_negative, exp_digits) = match exponent.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, exponent),
    };
    if exp_digits.is_empty() || !exp_digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // Saturates: any exponent beyond a million over- or underflows whatever the mantissa.
    let exp_abs = exp_digits.bytes().fold(0i64, |acc, b| {
        (acc * 10 + i64::from(b - b'0')).min(1_000_000)
    });
    let mut exp2 = if exp_negative { -exp_abs } else { exp_abs };

    // The first 16 significant hex digits (64 bits); later ones only shift and stick.
    let mut mant: u64 = 0;
    let mut significant = 0;
    let mut sticky = false;
    for (i, c) in int_part.chars().chain(frac_part.chars()).enumerate() {
        let digit = u64::from(c.to_digit(16)?);
        let in_fraction = i >= int_part.len();
        if significant < 16 {
            if mant != 0 || digit != 0 {
                mant = mant * 16 + digit;
                significant += 1;
            }
            if in_fraction {
                exp2 -= 4;
            }
        } else {
            sticky |= digit != 0;
            if !in_fraction {
                exp2 += 4;
            }
        }
    }
    if mant == 0 {
        return Some(0.0);
    }
    // value = mant * 2^exp2 (+ a little when sticky). Normalise to 64 significant bits.
    let shift = mant.leading_zeros();
    let mant = mant << shift;
    let e = exp2 - i64::from(shift);
    // The unit in the last place of the result: 53 bits for normal numbers, 2^-1074 below.
    let top = e + 63; // exponent of the leading bit
    let ulp = (top - 52).max(-1074);
    let r = ulp - e; // right shift, at least 11
    let (mut m, half, below) = if r >= 65 {
        (0u64, false, true)
    } else if r == 64 {
        (0, mant >> 63 == 1, mant << 1 != 0 || sticky)
    } else {
        let kept = mant >> r;
        let rest = mant << (64 - r);
        (kept, rest >> 63 == 1, rest << 1 != 0 || sticky)
    };
    if half && (below || m & 1 == 1) {
        m += 1;
    }
    let mut ulp = ulp;
    if m == 1 << 53 {
        m >>= 1;
        ulp += 1;
    }
    if m < 1 << 52 {
        // Subnormal (or zero): exponent field 0, value m * 2^-1074.
        return Some(f64::from_bits(m));
    }
    let biased = ulp + 52 + 1023;
    if biased >= 0x7FF {
        return None; // Go: ErrRange
    }
    let biased = u64::try_from(biased).ok()?;
    Some(f64::from_bits((biased << 52) | (m & ((1 << 52) - 1))))
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
        // Underscores between digits, as Go's `underscoreOK` allows them.
        assert_eq!(parse_go_float("1_000"), Some(1000.0));
        assert_eq!(parse_go_float("1_000.5"), Some(1000.5));
        assert_eq!(parse_go_float("1e1_0"), Some(1e10));
        assert_eq!(parse_go_float("0x_1p0"), Some(1.0));
        assert_eq!(parse_go_float("0x1p4_0"), Some(1_099_511_627_776.0));
        for bad in [
            "", "1a", "b", "latest", "+nan", "1e400", "0x10", "1.2.3", ".", "e5", "_1", "1_",
            "1__0", "0x1_p0", "1e+_3", "1_.5", "0b101", "0x1p1024", "inf_",
        ] {
            assert_eq!(parse_go_float(bad), None, "{bad:?} must not parse");
        }
    }

    #[test]
    fn hex_floats_round_like_go() {
        assert_eq!(parse_go_float("0x1p-1074"), Some(f64::from_bits(1)));
        assert_eq!(parse_go_float("0x1p-1075"), Some(0.0)); // a tie, to even
        assert_eq!(parse_go_float("0x1.8p-1075"), Some(f64::from_bits(1)));
        assert_eq!(parse_go_float("0x1000p-1080"), Some(f64::from_bits(1 << 6)));
        assert_eq!(
            parse_go_float("0x1fffffffffffffp0"),
            Some(9_007_199_254_740_991.0)
        );
        assert_eq!(
            parse_go_float("0x1fffffffffffff8p0"),
            Some(144_115_188_075_855_872.0)
        );
        assert_eq!(parse_go_float("0x1.fffffffffffff8p1023"), None);
        assert_eq!(parse_go_float("0x1.fffffffffffff7ffp1023"), Some(f64::MAX));
        assert_eq!(parse_go_float("0x1p-99999999999"), Some(0.0));
        assert_eq!(
            parse_go_float("-0x0p0").map(f64::to_bits),
            Some((-0.0f64).to_bits())
        );
    }
}
