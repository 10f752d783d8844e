//! Go duration strings as Flux's CRDs accept them for `interval` and
//! `timeout`: `^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$` (IRC `imagerepository_types.go`),
//! e.g. `5m`, `1h30m`, `1.5h`, `500ms`.

use std::time::Duration;

/// Writes `d` as a Go duration without zero parts: `24h`, `1h30m`, `1m30s`, `500ms`, `0s`.
pub fn format_go_duration(d: Duration) -> String {
    let millis = d.as_millis();
    if millis == 0 {
        return "0s".into();
    }
    if millis < 1_000 {
        return format!("{millis}ms");
    }
    let secs = d.as_secs();
    let (h, m, s) = (secs / 3_600, secs / 60 % 60, secs % 60);
    let mut out = String::new();
    for (value, unit) in [(h, "h"), (m, "m"), (s, "s")] {
        if value > 0 {
            out.push_str(&format!("{value}{unit}"));
        }
    }
    out
}

/// Parses a Flux interval such as `5m` or `1h30m`.
///
/// # Errors
/// A message saying what is wrong and what is accepted.
pub fn parse_go_duration(text: &str) -> Result<Duration, String> {
    let invalid = || {
        format!(
            "{text:?} is not a duration: use numbers with units ms, s, m or h, e.g. \"5m\", \"1h30m\", \"90s\""
        )
    };
    if text.is_empty() {
        return Err(invalid());
    }
    let mut rest = text;
    let mut total = 0f64;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(invalid)?;
        let number = &rest[..number_len];
        let valid_number = !number.is_empty()
            && !number.starts_with('.')
            && !number.ends_with('.')
            && number.matches('.').count() <= 1;
        if !valid_number {
            return Err(invalid());
        }
        let value: f64 = number.parse().map_err(|_| invalid())?;
        rest = &rest[number_len..];
        let (seconds_per_unit, unit_len) = if rest.starts_with("ms") {
            (0.001, 2)
        } else if rest.starts_with('s') {
            (1.0, 1)
        } else if rest.starts_with('m') {
            (60.0, 1)
        } else if rest.starts_with('h') {
            (3600.0, 1)
        } else {
            return Err(invalid());
        };
        total += value * seconds_per_unit;
        rest = &rest[unit_len..];
    }
    Duration::try_from_secs_f64(total).map_err(|_| invalid())
}

/// Parses a Flux `timeout` (ImageRepository, GitRepository): the grammar of
/// [`parse_go_duration`] without hours, `^([0-9]+(\.[0-9]+)?(ms|s|m))+$` in the CRDs.
///
/// # Errors
/// As [`parse_go_duration`], and for a value with an `h` unit.
pub fn parse_flux_timeout(text: &str) -> Result<Duration, String> {
    let duration = parse_go_duration(text)?;
    if text.contains('h') {
        return Err(format!(
            "{text:?} is not a timeout Flux accepts: use units ms, s or m, e.g. \"60s\", \"2m\""
        ));
    }
    Ok(duration)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flux_interval_grammar() {
        assert_eq!(parse_go_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_go_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_go_duration("1.5h"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_go_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_go_duration("0s"), Ok(Duration::ZERO));
        for bad in [
            "", "5", "m", "5 m", "1d", "-5m", ".5m", "5.m", "1.2.3s", "5mm",
        ] {
            assert!(parse_go_duration(bad).is_err(), "{bad:?}");
        }
    }
}
