//! The on-disk (and in-S3) encoding of [`State`]: pretty JSON with a stable
//! key order, so that the same state always gives the same bytes and diffs of
//! state files are readable.

use crate::backend::StateError;
use crate::model::{State, FORMAT_VERSION};
use serde_json::{Map, Value};

/// Encodes `state` as pretty-printed JSON ending in a newline.
///
/// The output is canonical: struct fields come in declaration order and every
/// JSON object inside properties, attributes and outputs has its keys sorted,
/// whatever order they were inserted in. Encoding a state parsed by
/// [`from_json`] from canonical text gives back the identical bytes.
pub fn to_json(state: &State) -> String {
    let mut state = state.clone();
    for resource in state.resources.values_mut() {
        sort_map(&mut resource.properties);
        sort_map(&mut resource.attributes);
    }
    for value in state.outputs.values_mut() {
        sort_value(value);
    }
    // Serializing a `State` cannot fail: every map has string keys and there
    // is no custom `Serialize` impl that could return an error.
    let mut text = match serde_json::to_string_pretty(&state) {
        Ok(text) => text,
        Err(e) => unreachable!("State always serializes to JSON: {e}"),
    };
    text.push('\n');
    text
}

/// Decodes state read from `location` (used in error messages only).
///
/// Checks `format_version` before anything else, so a file written by a newer
/// deployctl is refused with [`StateError::TooNew`] rather than reported as
/// corrupt because of fields this build does not know. Text that is not JSON,
/// lacks a usable `format_version`, or has unknown or missing fields gives
/// [`StateError::Corrupt`], with serde's line and column in the message.
pub fn from_json(location: &str, text: &str) -> Result<State, StateError> {
    let corrupt = |message: String| StateError::Corrupt { location: location.to_string(), message };

    let doc: Value = serde_json::from_str(text).map_err(|e| corrupt(e.to_string()))?;
    let Value::Object(fields) = &doc else {
        return Err(corrupt(format!("expected a JSON object at the top level, found {}", kind_of(&doc))));
    };
    let version = match fields.get("format_version") {
        None => return Err(corrupt("the format_version field is missing".into())),
        Some(v) => v
            .as_u64()
            .ok_or_else(|| corrupt(format!("format_version must be a non-negative integer, found {}", kind_of(v))))?,
    };
    if version > u64::from(FORMAT_VERSION) {
        return Err(StateError::TooNew {
            found: u32::try_from(version).unwrap_or(u32::MAX),
            supported: FORMAT_VERSION,
        });
    }
    if version < 1 {
        return Err(corrupt(format!("format_version {version} does not exist (versions start at 1)")));
    }
    // Parse the text again (not `doc`) so that errors carry the line and
    // column. Version 1 has the same fields minus `environment` (serde's
    // default, `None`), versions 1 and 2 always have a pending
    // operation's `started_at`, and versions before 4 have no deposed
    // objects: migrating them is stamping the current version.
    let mut state = serde_json::from_str::<State>(text).map_err(|e| corrupt(e.to_string()))?;
    if version == 1 && state.environment.is_some() {
        return Err(corrupt("format_version 1 has no 'environment' field".into()));
    }
    if version < 3 && state.resources.values().any(|r| r.pending.as_ref().is_some_and(|p| p.started_at.is_none())) {
        return Err(corrupt(format!("format_version {version} requires a pending operation's 'started_at'")));
    }
    if version < 4 && state.resources.values().any(|r| !r.deposed.is_empty()) {
        return Err(corrupt(format!("format_version {version} has no 'deposed' objects")));
    }
    if version < 4 && state.resources.values().any(|r| !r.tags.is_empty()) {
        return Err(corrupt(format!("format_version {version} records no 'tags'")));
    }
    state.format_version = FORMAT_VERSION;
    Ok(state)
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn sort_map(map: &mut Map<String, Value>) {
    let mut entries: Vec<(String, Value)> = std::mem::take(map).into_iter().collect();
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    for (key, mut value) in entries {
        sort_value(&mut value);
        map.insert(key, value);
    }
}

fn sort_value(value: &mut Value) {
    match value {
        Value::Object(map) => sort_map(map),
        Value::Array(items) => items.iter_mut().for_each(sort_value),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ResourceState;
    use serde_json::json;

    #[test]
    fn keys_are_sorted_whatever_the_insertion_order() {
        let mut state = State::new("net", "us-east-1");
        let mut r = ResourceState::new("aws_vpc");
        r.attributes.insert("zeta".into(), json!(1));
        r.attributes.insert("alpha".into(), json!({"y": 1, "b": [{"z": 0, "a": 1}]}));
        state.resources.insert("vpc".into(), r);
        let text = to_json(&state);
        let alpha = text.find("\"alpha\"").unwrap_or(usize::MAX);
        let zeta = text.find("\"zeta\"").unwrap_or(0);
        assert!(alpha < zeta, "{text}");
        assert!(text.find("\"b\"") < text.find("\"y\""), "{text}");
        assert!(text.find("\"a\": 1") < text.find("\"z\": 0"), "{text}");
        assert!(text.ends_with("}\n"));
        // Struct fields keep declaration order, they are not sorted.
        assert!(text.find("format_version") < text.find("lineage"));
    }

    #[test]
    fn not_json_is_corrupt_with_line_and_column() {
        let err = from_json("state/x.json", "{\n  \"format_version\": 1,\n  oops\n}").unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, StateError::Corrupt { .. }), "{msg}");
        assert!(msg.contains("line 3 column"), "{msg}");
        assert!(msg.contains("state/x.json"), "{msg}");
    }

    #[test]
    fn empty_text_is_corrupt() {
        let err = from_json("l", "").unwrap_err();
        assert!(matches!(err, StateError::Corrupt { .. }), "{err}");
        assert!(err.to_string().contains("line 1 column 0"), "{err}");
    }

    #[test]
    fn missing_or_bad_version_is_corrupt() {
        for text in [r#"{"lineage": "x"}"#, r#"{"format_version": "1"}"#, r#"{"format_version": 0}"#, "[1]"] {
            let err = from_json("l", text).unwrap_err();
            assert!(matches!(err, StateError::Corrupt { .. }), "{text}: {err}");
        }
    }

    #[test]
    fn newer_version_is_refused_even_with_unknown_fields() {
        let err = from_json("l", r#"{"format_version": 5, "something_new": true}"#).unwrap_err();
        assert!(matches!(err, StateError::TooNew { found: 5, supported: 4 }), "{err}");
        let err = from_json("l", r#"{"format_version": 99999999999}"#).unwrap_err();
        assert!(matches!(err, StateError::TooNew { found: u32::MAX, .. }), "{err}");
    }

    #[test]
    fn missing_required_field_is_corrupt() {
        let err = from_json("l", r#"{"format_version": 1, "lineage": "x", "serial": 1}"#).unwrap_err();
        assert!(err.to_string().contains("missing field `stack`"), "{err}");
    }
}
