//! IAM resource kinds, and what they and others share: default names,
//! policy documents as IAM returns them (URL-encoded JSON), and the retry
//! for services that cannot yet assume a just-created role.

pub mod oidc_provider;
pub mod propagation;
pub mod role;

pub use propagation::{is_propagation_error, while_role_propagates, while_role_propagates_with};

use serde_json::Value;

/// A deterministic name from `raw` (`<stack>-<address>`): characters `allowed`
/// rejects become `-` (runs collapsed, none left at the end, so `nat[a]`
/// gives `nat-a`), and a name longer than `max` is cut and suffixed with a
/// hash of the whole, so that two long names stay distinct.
pub(crate) fn sanitized_name(raw: &str, allowed: impl Fn(char) -> bool, max: usize) -> String {
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

/// Decodes `%XX` escapes (IAM returns policy documents URL-encoded, RFC 3986
/// style). Anything that is not a valid escape is kept as it is.
pub(crate) fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A policy document as IAM returns it (URL-encoded JSON, or plain JSON from
/// some emulators) parsed into JSON. Unparseable text stays a string, which
/// then shows as a difference rather than failing the read.
pub(crate) fn parse_policy(raw: &str) -> Value {
    if let Ok(v) = serde_json::from_str::<Value>(raw) {
        return v;
    }
    let decoded = percent_decode(raw);
    serde_json::from_str(&decoded).unwrap_or(Value::String(decoded))
}

/// A document property as the JSON text an API takes: a YAML document is
/// serialized; a string is taken to be JSON text already.
pub(crate) fn policy_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn url_encoded_policy_documents_parse_to_json() {
        let raw = "%7B%22Version%22%3A%20%222012-10-17%22%2C%20%22Statement%22%3A%20%5B%7B%22Action%22%3A%20%22s3%3A%2A%22%7D%5D%7D";
        assert_eq!(parse_policy(raw), json!({"Version": "2012-10-17", "Statement": [{"Action": "s3:*"}]}));
        assert_eq!(parse_policy("{\"a\": \"50%\"}"), json!({"a": "50%"}));
    }

    #[test]
    fn percent_decode_keeps_invalid_escapes() {
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("a%2"), "a%2");
        assert_eq!(percent_decode("%zz%41"), "%zzA");
        assert_eq!(percent_decode("caf%C3%A9"), "café");
    }

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
