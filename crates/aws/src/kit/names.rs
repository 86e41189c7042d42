//! Deterministic default names: `<stack>-<address>` made to fit a
//! service's name rules, the same on every run.

/// A deterministic name from `raw` (`<stack>-<address>`): characters `allowed`
/// rejects become `-` (runs collapsed, none left at the end, so `nat[a]`
/// gives `nat-a`), and a name longer than `max` is cut and suffixed with a
/// hash of the whole, so that two long names stay distinct.
pub fn sanitized_name(raw: &str, allowed: impl Fn(char) -> bool, max: usize) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut replaced = false;
    for c in raw.chars() {
        if allowed(c) {
            out.push(c);
            replaced = false;
        } else if !replaced {
            out.push('-');
            replaced = true;
        }
    }
    if replaced {
        out.pop();
    }
    if out.chars().count() <= max {
        return out;
    }
    // FNV-1a: stable across runs and platforms.
    let hash = raw.bytes().fold(0x811c_9dc5u32, |h, b| (h ^ b as u32).wrapping_mul(0x0100_0193));
    let keep: String = out.chars().take(max - 9).collect();
    format!("{keep}-{hash:08x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_names_are_sanitized_and_bounded() {
        let role = |c: char| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c);
        assert_eq!(sanitized_name("web-nat[a]", role, 64), "web-nat-a");
        assert_eq!(sanitized_name("web-x/y z", role, 64), "web-x-y-z");
        let long = format!("stack-{}", "r".repeat(100));
        let a = sanitized_name(&long, role, 64);
        assert_eq!(a.len(), 64);
        assert_ne!(a, sanitized_name(&format!("{long}x"), role, 64));
        assert_eq!(a, sanitized_name(&long, role, 64));
    }
}
