//! "Did you mean" hints.

/// The candidate closest to `input`, if one is close enough to be a likely
/// typo.
pub fn closest<'a>(input: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let mut best: Option<(f64, &'a str)> = None;
    for c in candidates {
        if c == input {
            continue;
        }
        let score = strsim::jaro_winkler(input, c);
        let close = score >= 0.8
            || (input.chars().count() > 2 && strsim::damerau_levenshtein(input, c) <= 2)
            || (input.len() >= 3 && (c.starts_with(input) || c.ends_with(input)));
        let better = match best {
            Some((s, _)) => score > s,
            None => true,
        };
        if close && better {
            best = Some((score, c));
        }
    }
    best.map(|(_, c)| c)
}

/// A comma-separated list of at most `max` names, noting how many there are
/// when some are left out.
pub fn list_some<S: AsRef<str>>(names: &[S], max: usize) -> String {
    let mut out: Vec<&str> = names.iter().take(max).map(AsRef::as_ref).collect();
    if names.len() > max {
        out.push("…");
        return format!("{} ({} in all)", out.join(", "), names.len());
    }
    out.join(", ")
}

/// `did you mean 'x'?`, or `fallback` followed by a list of the candidates
/// (or `none` when there are none).
pub fn hint(input: &str, candidates: &[&str], fallback: &str, none: &str) -> Option<String> {
    if let Some(c) = closest(input, candidates.iter().copied()) {
        return Some(format!("did you mean '{c}'?"));
    }
    if candidates.is_empty() {
        return (!none.is_empty()).then(|| none.to_string());
    }
    Some(format!("{fallback}{}", list_some(candidates, 12)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_names() {
        assert_eq!(closest("cidr", ["cidr_block", "vpc_id", "availability_zone"]), Some("cidr_block"));
        assert_eq!(closest("ec2.vcp", ["ec2.vpc", "ec2.subnet"]), Some("ec2.vpc"));
        assert_eq!(closest("resource", ["stack", "region", "resources", "vars"]), Some("resources"));
        assert_eq!(closest("zzz", ["stack", "region"]), None);
        assert_eq!(list_some(&["a", "b", "c"], 2), "a, b, … (3 in all)");
    }
}
