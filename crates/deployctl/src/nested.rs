//! Structured diffs of nested values, as a reviewer reads them: what was
//! added, removed or changed inside a list or an object, and only that.
//!
//! - Objects (maps, nested blocks, policy documents) are shown key by key.
//! - Lists of objects whose elements all have a `name` (containers) are
//!   matched by it; other lists first set aside the elements that did not
//!   change (a set's order means nothing), then pair what is left by
//!   position when as many went as came (a listener's actions), and show
//!   the rest as added and removed.
//! - Strings of several lines (an inline buildspec) are diffed line by line.
//!
//! Scalars, and values of different shapes, stay on one line. A leaf known
//! only after apply (in a partly known value) shows as `(known after
//! apply)`.

use deployctl_engine::resolve::is_unknown_leaf;
use serde_json::Value;

/// The lines that show how `before` became `after`, each starting with
/// `+`, `-` or `~` (nested ones indented further), or `None` when the two
/// are not both structured and are best shown on one line.
pub fn lines(before: &Value, after: &Value) -> Option<Vec<String>> {
    if is_unknown_leaf(before) || is_unknown_leaf(after) {
        return None;
    }
    match (before, after) {
        (Value::Object(b), Value::Object(a)) => Some(object(b, a)),
        (Value::Array(b), Value::Array(a)) if b.iter().chain(a).any(|v| v.is_object() || v.is_array()) => {
            Some(list(b, a))
        }
        (Value::Array(b), Value::Array(a)) => Some(scalars(b, a)),
        (Value::String(b), Value::String(a)) if b.contains('\n') || a.contains('\n') => Some(text(b, a)),
        _ => None,
    }
}

/// One value on one line: strings quoted, the rest as JSON, leaves known
/// only after apply as `(known after apply)`.
pub fn one_line(v: &Value) -> String {
    match v {
        v if is_unknown_leaf(v) => "(known after apply)".into(),
        Value::String(s) => format!("{s:?}"),
        Value::Array(items) => format!("[{}]", items.iter().map(json).collect::<Vec<_>>().join(",")),
        Value::Object(m) => {
            format!(
                "{{{}}}",
                m.iter().map(|(k, v)| format!("{}:{}", Value::from(k.as_str()), json(v))).collect::<Vec<_>>().join(",")
            )
        }
        other => other.to_string(),
    }
}

/// Compact JSON, leaves known only after apply as `(known after apply)`.
fn json(v: &Value) -> String {
    match v {
        Value::String(_) => v.to_string(),
        other => one_line(other),
    }
}

/// `label` changed from `b` to `a`: nested lines under it, or one line.
fn changed(label: &str, b: &Value, a: &Value) -> Vec<String> {
    match lines(b, a) {
        Some(inner) => {
            let mut out = vec![format!("~ {label}:")];
            out.extend(inner.into_iter().map(|l| format!("    {l}")));
            out
        }
        None => vec![format!("~ {label} = {} -> {}", one_line(b), one_line(a))],
    }
}

fn object(b: &serde_json::Map<String, Value>, a: &serde_json::Map<String, Value>) -> Vec<String> {
    let mut keys: Vec<&String> = b.keys().chain(a.keys()).collect();
    keys.sort();
    keys.dedup();
    let mut out = Vec::new();
    for k in keys {
        match (b.get(k).filter(|v| !v.is_null()), a.get(k).filter(|v| !v.is_null())) {
            (Some(x), Some(y)) if x == y => {}
            (Some(x), Some(y)) => out.extend(changed(k, x, y)),
            (Some(x), None) => out.push(format!("- {k} = {}", one_line(x))),
            (None, Some(y)) => out.push(format!("+ {k} = {}", one_line(y))),
            (None, None) => {}
        }
    }
    out
}

/// The element's `name`, when it is an object that has one.
fn name_of(v: &Value) -> Option<&str> {
    v.get("name").and_then(Value::as_str)
}

fn list(b: &[Value], a: &[Value]) -> Vec<String> {
    let named = |xs: &[Value]| {
        let names: Vec<&str> = xs.iter().filter_map(name_of).collect();
        let mut unique = names.clone();
        unique.sort_unstable();
        unique.dedup();
        names.len() == xs.len() && unique.len() == names.len()
    };
    if !b.is_empty() && !a.is_empty() && named(b) && named(a) {
        let mut out = Vec::new();
        for x in b {
            let n = name_of(x).unwrap_or_default();
            match a.iter().find(|y| name_of(y) == Some(n)) {
                Some(y) if y == x => {}
                Some(y) => out.extend(changed(&format!("[{n}]"), x, y)),
                None => out.push(format!("- [{n}]")),
            }
        }
        for y in a {
            let n = name_of(y).unwrap_or_default();
            if !b.iter().any(|x| name_of(x) == Some(n)) {
                out.push(format!("+ [{n}] = {}", one_line(y)));
            }
        }
        return out;
    }
    // What is in both is unchanged, wherever it is.
    let mut gone: Vec<&Value> = b.iter().collect();
    let mut came: Vec<&Value> = Vec::new();
    for y in a {
        match gone.iter().position(|x| *x == y) {
            Some(i) => {
                gone.remove(i);
            }
            None => came.push(y),
        }
    }
    let mut out = Vec::new();
    if gone.len() == came.len() {
        for (x, y) in gone.iter().zip(&came) {
            let at = a.iter().position(|v| v == *y).unwrap_or_default();
            out.extend(changed(&format!("[{at}]"), x, y));
        }
    } else {
        out.extend(gone.iter().map(|x| format!("- {}", one_line(x))));
        out.extend(came.iter().map(|y| format!("+ {}", one_line(y))));
    }
    if out.is_empty() {
        out.push("~ (the same elements, in another order)".into());
    }
    out
}

fn scalars(b: &[Value], a: &[Value]) -> Vec<String> {
    let mut out: Vec<String> = b.iter().filter(|x| !a.contains(x)).map(|x| format!("- {}", one_line(x))).collect();
    out.extend(a.iter().filter(|y| !b.contains(y)).map(|y| format!("+ {}", one_line(y))));
    if out.is_empty() {
        out.push("~ (the same elements, in another order)".into());
    }
    out
}

/// A line diff (longest common subsequence), unchanged lines left out.
fn text(b: &str, a: &str) -> Vec<String> {
    let (x, y): (Vec<&str>, Vec<&str>) = (b.lines().collect(), a.lines().collect());
    let mut lcs = vec![vec![0usize; y.len() + 1]; x.len() + 1];
    for i in (0..x.len()).rev() {
        for j in (0..y.len()).rev() {
            lcs[i][j] = if x[i] == y[j] { lcs[i + 1][j + 1] + 1 } else { lcs[i + 1][j].max(lcs[i][j + 1]) };
        }
    }
    let (mut i, mut j, mut out) = (0, 0, Vec::new());
    while i < x.len() || j < y.len() {
        if i < x.len() && j < y.len() && x[i] == y[j] {
            i += 1;
            j += 1;
        } else if j < y.len() && (i == x.len() || lcs[i][j + 1] >= lcs[i + 1][j]) {
            out.push(format!("+ {}", y[j]));
            j += 1;
        } else {
            out.push(format!("- {}", x[i]));
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn show(b: Value, a: Value) -> String {
        lines(&b, &a).map(|l| l.join("\n")).unwrap_or_else(|| "(one line)".into())
    }

    #[test]
    fn one_added_ingress_rule_among_three_is_the_only_line() {
        let rule =
            |port: i64| json!({"ip_protocol": "tcp", "from_port": port, "to_port": port, "cidr_ipv4": "0.0.0.0/0"});
        insta::assert_snapshot!(show(
            json!([rule(80), rule(443), rule(8080)]),
            json!([rule(80), rule(443), rule(8080), rule(22)])
        ));
    }

    #[test]
    fn an_image_change_shows_only_the_containers_image() {
        let container = |image: &str| json!({"name": "web", "image": image, "cpu": 0, "essential": true, "portMappings": [{"containerPort": 8080}]});
        let sidecar = json!({"name": "envoy", "image": "envoy:1.29", "essential": false});
        insta::assert_snapshot!(show(
            json!([container("shop/api:1.4.0"), sidecar.clone()]),
            json!([sidecar, container("shop/api:1.5.0")])
        ));
    }

    #[test]
    fn a_listener_action_change_pairs_the_action_by_position() {
        insta::assert_snapshot!(show(
            json!([{"type": "forward", "target_group_arn": "arn:tg/blue"}]),
            json!([{"type": "forward", "target_group_arn": "arn:tg/green"}])
        ));
    }

    #[test]
    fn a_policy_document_change_is_shown_key_by_key() {
        let doc = |actions: Value| {
            json!({"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": actions, "Resource": "arn:aws:s3:::shop-images/*"},
                {"Effect": "Deny", "Action": "s3:*", "Resource": "*", "Condition": {"Bool": {"aws:SecureTransport": "false"}}}
            ]})
        };
        insta::assert_snapshot!(show(doc(json!(["s3:GetObject"])), doc(json!(["s3:GetObject", "s3:PutObject"]))));
    }

    #[test]
    fn a_multi_line_string_is_diffed_line_by_line() {
        let before = "version: 0.2\nphases:\n  build:\n    commands:\n      - make test\n";
        let after = "version: 0.2\nphases:\n  build:\n    commands:\n      - make lint\n      - make test\n";
        insta::assert_snapshot!(show(json!(before), json!(after)));
    }

    #[test]
    fn a_leaf_known_only_after_apply_is_marked_and_the_rest_shown() {
        let unknown = deployctl_engine::resolve::unknown_leaf();
        let env = |db: Value| json!([{"name": "web", "image": "shop/api:1.5.0", "environment": [{"name": "DB_HOST", "value": db}]}]);
        insta::assert_snapshot!(show(env(json!("db-old.internal")), env(unknown.clone())));
        assert_eq!(
            one_line(&env(unknown)),
            r#"[{"name":"web","image":"shop/api:1.5.0","environment":[{"name":"DB_HOST","value":(known after apply)}]}]"#
        );
    }

    #[test]
    fn scalars_and_shapes_that_differ_stay_on_one_line() {
        assert_eq!(show(json!(1), json!(2)), "(one line)");
        assert_eq!(show(json!("a"), json!("b")), "(one line)");
        assert_eq!(show(json!([1]), json!({"a": 1})), "(one line)");
        assert_eq!(show(json!(["a", "b"]), json!(["b", "c"])), "- \"a\"\n+ \"c\"");
    }
}
