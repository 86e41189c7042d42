//! Durations written as `30s`, `10m`, `1h`, `1h30m`, `2d` or a bare number of
//! seconds.

use std::time::Duration;

/// Parses a duration: a number of seconds (`90`) or one or more
/// `<digits><unit>` groups with units `d`, `h`, `m`, `s`, each at most once
/// and from the largest to the smallest (`1h30m`, `2m30s`). Returns `None`
/// for anything else (empty text, spaces, fractions, unknown units,
/// overflow).
pub fn parse_duration(s: &str) -> Option<Duration> {
    if s.is_empty() {
        return None;
    }
    if s.bytes().all(|b| b.is_ascii_digit()) {
        return s.parse::<u64>().ok().map(Duration::from_secs);
    }
    let mut total: u64 = 0;
    let mut last_unit = u64::MAX;
    let mut digits = String::new();
    for c in s.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let unit = match c {
            'd' => 86_400,
            'h' => 3_600,
            'm' => 60,
            's' => 1,
            _ => return None,
        };
        if digits.is_empty() || unit >= last_unit {
            return None;
        }
        let n: u64 = digits.parse().ok()?;
        total = total.checked_add(n.checked_mul(unit)?)?;
        last_unit = unit;
        digits.clear();
    }
    if !digits.is_empty() {
        return None;
    }
    Some(Duration::from_secs(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        let secs = |s: &str| parse_duration(s).map(|d| d.as_secs());
        assert_eq!(secs("30s"), Some(30));
        assert_eq!(secs("10m"), Some(600));
        assert_eq!(secs("1h"), Some(3600));
        assert_eq!(secs("1h30m"), Some(5400));
        assert_eq!(secs("2m30s"), Some(150));
        assert_eq!(secs("1d2h"), Some(93_600));
        assert_eq!(secs("90"), Some(90));
        assert_eq!(secs("0"), Some(0));
        for bad in ["", "s", "1x", "1.5h", "30m1h", "1h1h", " 1h", "1h ", "-1s", "1h30", "99999999999999999999d"] {
            assert_eq!(parse_duration(bad), None, "{bad:?}");
        }
    }
}
