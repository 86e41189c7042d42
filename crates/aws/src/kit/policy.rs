//! Policy documents as IAM-style APIs return them (URL-encoded JSON) and
//! take them (JSON text), shared by every kind that carries one.

use serde_json::Value;

/// Decodes `%XX` escapes (IAM returns policy documents URL-encoded, RFC 3986
/// style). Anything that is not a valid escape is kept as it is.
pub fn percent_decode(s: &str) -> String {
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
pub fn parse_policy(raw: &str) -> Value {
    if let Ok(v) = serde_json::from_str::<Value>(raw) {
        return v;
    }
    let decoded = percent_decode(raw);
    serde_json::from_str(&decoded).unwrap_or(Value::String(decoded))
}

/// A policy document's statements: `Statement` as a list, or the one
/// statement it may be written as.
pub fn statements(doc: &Value) -> Vec<Value> {
    match &doc["Statement"] {
        Value::Array(a) => a.clone(),
        s @ Value::Object(_) => vec![s.clone()],
        _ => Vec::new(),
    }
}

/// Whether a statement's element (`Action`, `Resource`, a principal),
/// written as one string or a list, names one of `any`.
pub fn names_any(v: &Value, any: &[&str]) -> bool {
    match v {
        Value::String(s) => any.contains(&s.as_str()),
        Value::Array(a) => a.iter().any(|s| s.as_str().is_some_and(|s| any.contains(&s))),
        _ => false,
    }
}

/// A document property as the JSON text an API takes: a YAML document is
/// serialized; a string is taken to be JSON text already.
pub fn policy_text(v: &Value) -> String {
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
}
