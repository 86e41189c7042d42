//! Comparing what the spec asks for with what is live, field by field, with
//! the semantics the schema gives each field: sets ignore order, documents
//! compare as JSON values (key order, `"x"` versus `["x"]`, `1` versus `"1"`),
//! nested objects fill in their defaults.

use deployctl_spec::{KindSchema, Prop, Type, Update};
use serde_json::{Map, Value};

/// A differing field of a desired resource.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldDiff {
    pub field: String,
    pub before: Option<Value>,
    /// `None`: known only after apply.
    pub after: Option<Value>,
    pub update: Update,
}

/// What the spec asks of one property: a value, a value not yet known, or
/// nothing (the property is not managed).
pub enum Want {
    Value(Value),
    Unknown,
    Unmanaged,
}

/// The default of a property, parsed.
pub fn default_of(p: &Prop) -> Option<Value> {
    p.default.and_then(|d| serde_json::from_str(d).ok())
}

/// Normalizes a value of the given type so that equal meanings compare
/// equal: sets sorted, objects with their defaults filled and nulls dropped,
/// documents canonicalized.
pub fn normalize(ty: &Type, v: &Value) -> Value {
    match (ty, v) {
        (Type::Set(inner), Value::Array(items)) => {
            let mut out: Vec<Value> = items.iter().map(|i| normalize(inner, i)).collect();
            out.sort_by_key(|a| a.to_string());
            out.dedup();
            Value::Array(out)
        }
        (Type::List(inner), Value::Array(items)) => Value::Array(items.iter().map(|i| normalize(inner, i)).collect()),
        (Type::Map(inner), Value::Object(m)) => {
            Value::Object(m.iter().map(|(k, v)| (k.clone(), normalize(inner, v))).collect())
        }
        (Type::Object(props), Value::Object(m)) => filled(props, m, normalize),
        (Type::Document, v) => canonical_document(v),
        // 80 and 80.0 are the same threshold.
        (Type::Number, Value::Number(n)) => n.as_f64().map(Value::from).unwrap_or_else(|| v.clone()),
        (Type::Number, Value::String(s)) => s.parse::<f64>().map(Value::from).unwrap_or_else(|_| v.clone()),
        (Type::Int, Value::String(s)) => s.parse::<i64>().map(Value::from).unwrap_or_else(|_| v.clone()),
        (Type::Duration, Value::String(s)) => {
            deployctl_spec::parse_duration(s).map(|d| Value::from(d.as_secs())).unwrap_or_else(|| v.clone())
        }
        _ => v.clone(),
    }
}

/// A value with the defaults of its nested objects filled in (and their
/// nulls dropped), as the kind's model declares them: what the plan shows on
/// both sides of a change, so that what AWS fills in (ECS's `cpu: 0`,
/// `essential: true`) is not shown as removed. Unlike [`normalize`] it keeps
/// order and spelling: sets are not sorted nor documents canonicalized.
pub fn with_defaults(ty: &Type, v: &Value) -> Value {
    match (ty, v) {
        (Type::Set(inner) | Type::List(inner), Value::Array(items)) => {
            Value::Array(items.iter().map(|i| with_defaults(inner, i)).collect())
        }
        (Type::Map(inner), Value::Object(m)) => {
            Value::Object(m.iter().map(|(k, v)| (k.clone(), with_defaults(inner, v))).collect())
        }
        (Type::Object(props), Value::Object(m)) => filled(props, m, with_defaults),
        _ => v.clone(),
    }
}

/// An object's properties, each by `each`, a missing or null one as its
/// default (or left out).
fn filled(props: &[Prop], m: &Map<String, Value>, each: fn(&Type, &Value) -> Value) -> Value {
    let mut out = Map::new();
    for p in props {
        let v = match m.get(p.name) {
            Some(Value::Null) | None => default_of(p),
            Some(v) => Some(each(&p.ty, v)),
        };
        if let Some(v) = v {
            out.insert(p.name.to_string(), v);
        }
    }
    Value::Object(out)
}

/// A policy document in canonical form: keys sorted (serde_json maps keep
/// insertion order, so rebuild), one-element lists as their element, numbers
/// and booleans as strings (IAM treats them alike), and lists of statements
/// sorted.
pub fn canonical_document(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            Value::Object(keys.into_iter().map(|k| (k.clone(), canonical_document(&m[k]))).collect())
        }
        Value::Array(items) if items.len() == 1 => canonical_document(&items[0]),
        Value::Array(items) => {
            let mut out: Vec<Value> = items.iter().map(canonical_document).collect();
            out.sort_by_key(|a| a.to_string());
            Value::Array(out)
        }
        Value::Number(n) => Value::String(n.to_string()),
        Value::Bool(b) => Value::String(b.to_string()),
        other => other.clone(),
    }
}

/// Diffs the desired properties against the live ones. `want` says, per
/// property, what the spec asks. Properties the spec does not set and that
/// have no default are not managed and never differ.
pub fn diff_properties(schema: &KindSchema, want: &dyn Fn(&Prop) -> Want, live: &Map<String, Value>) -> Vec<FieldDiff> {
    let mut out = Vec::new();
    for p in schema.properties {
        let desired = match want(p) {
            Want::Unmanaged => match default_of(p) {
                Some(d) => Some(d),
                None => continue,
            },
            Want::Value(v) if v.is_null() => match default_of(p) {
                Some(d) => Some(d),
                None => continue,
            },
            Want::Value(v) => Some(v),
            Want::Unknown => None,
        };
        let before = live.get(p.name).filter(|v| !v.is_null()).cloned();
        let mut update = p.update;
        if p.update == Update::AtLeast {
            match (desired.as_ref().and_then(Value::as_f64), before.as_ref().and_then(Value::as_f64)) {
                (Some(want), Some(live)) if live >= want => continue,
                _ => update = Update::InPlace,
            }
        }
        if p.update == Update::Version {
            match (desired.as_ref().and_then(Value::as_str), before.as_ref().and_then(Value::as_str)) {
                (Some(want), Some(live)) if version_meets(want, live) => continue,
                (Some(want), Some(live)) if major_version(want) != major_version(live) => update = Update::Replace,
                _ => update = Update::InPlace,
            }
        }
        if !desired.as_ref().is_some_and(|d| same(&p.ty, d, before.as_ref())) {
            // Both sides as the model reads them, so that only what differs
            // shows (a create keeps the spec's own, sparser, value).
            let (before, after) = match (before, desired) {
                (Some(b), Some(a)) => (Some(with_defaults(&p.ty, &b)), Some(with_defaults(&p.ty, &a))),
                other => other,
            };
            out.push(FieldDiff { field: p.name.to_string(), before, after, update });
        }
    }
    out
}

/// Whether the live version is the one asked for, within it, or newer in
/// the same major version: `8.0` is met by `8.0.35`, not by `8.4.3` nor
/// `8.01`; `8.0.35` is met by `8.0.36` (an automatic minor upgrade, which
/// AWS will not take back: a downgrade is refused).
pub fn version_meets(want: &str, live: &str) -> bool {
    if live == want || live.strip_prefix(want).is_some_and(|rest| rest.starts_with('.')) {
        return true;
    }
    let parts = |v: &str| v.split('.').map(|p| p.parse::<u64>().ok()).collect::<Option<Vec<u64>>>();
    match (parts(want), parts(live)) {
        (Some(w), Some(l)) => major_version(want) == major_version(live) && l > w,
        _ => false,
    }
}

/// A version's major part: all but its last dot-separated component
/// (`8.0.35` → `8.0`, `15.4` → `15`, `10.11.6` → `10.11`), which is how
/// MySQL, MariaDB and PostgreSQL 10 and later number theirs.
pub fn major_version(v: &str) -> &str {
    v.rsplit_once('.').map_or(v, |(major, _)| major)
}

/// An empty list or map asks for nothing, and so matches an absent value.
/// Whether the live value (`None`: not set) means `want`: equal once
/// normalized, or both empty.
pub fn same(ty: &Type, want: &Value, live: Option<&Value>) -> bool {
    match live.filter(|v| !v.is_null()) {
        Some(b) => normalize(ty, want) == normalize(ty, b),
        None => is_empty_value(want),
    }
}

pub fn is_empty_value(v: &Value) -> bool {
    match v {
        Value::Array(a) => a.is_empty(),
        Value::Object(m) => m.is_empty(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use deployctl_spec::{Attr, KindSchema};
    use serde_json::json;

    static RULE: [Prop; 3] = [
        Prop::new("protocol", Type::String, "").default("\"tcp\""),
        Prop::new("port", Type::Int, ""),
        Prop::new("cidr_blocks", Type::Set(&Type::String), ""),
    ];
    static KIND: KindSchema = KindSchema {
        type_name: "test.kind",
        doc: "",
        properties: &[
            Prop::new("cidr", Type::String, "").replace(),
            Prop::new("dns", Type::Bool, "").default("false"),
            Prop::new("rules", Type::Set(&Type::Object(&RULE)), ""),
            Prop::new("policy", Type::Document, ""),
            Prop::new("unmanaged", Type::String, ""),
            Prop::new("engine_version", Type::String, "").version(),
            Prop::new("storage", Type::Int, "").at_least(),
        ],
        attributes: &[Attr { name: "id", doc: "" }],
        taggable: true,
        rules: &[],
        example: "",
    };

    fn diff(desired: Value, live: Value) -> Vec<FieldDiff> {
        let d = desired.as_object().unwrap().clone();
        diff_properties(
            &KIND,
            &|p: &Prop| match d.get(p.name) {
                Some(v) => Want::Value(v.clone()),
                None => Want::Unmanaged,
            },
            live.as_object().unwrap(),
        )
    }

    #[test]
    fn set_order_and_nested_defaults_do_not_make_a_diff() {
        let d = diff(
            json!({"cidr": "10.0.0.0/16", "rules": [{"port": 443, "cidr_blocks": ["b", "a"]}, {"port": 80}]}),
            json!({"cidr": "10.0.0.0/16", "dns": false, "rules": [{"protocol": "tcp", "port": 80}, {"protocol": "tcp", "port": 443, "cidr_blocks": ["a", "b"]}], "unmanaged": "x"}),
        );
        assert_eq!(d, vec![]);
    }

    #[test]
    fn a_changed_nested_value_shows_the_defaults_aws_filled_in_on_both_sides() {
        let d = diff(
            json!({"rules": [{"port": 80}, {"port": 22}]}),
            json!({"dns": false, "rules": [{"protocol": "tcp", "port": 80}]}),
        );
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].before, Some(json!([{"protocol": "tcp", "port": 80}])));
        // The spec's order is kept; only the defaults are filled.
        assert_eq!(d[0].after, Some(json!([{"protocol": "tcp", "port": 80}, {"protocol": "tcp", "port": 22}])));
    }

    #[test]
    fn policy_documents_compare_semantically() {
        let d = diff(
            json!({"policy": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}}),
            json!({"dns": false, "policy": {"Statement": {"Resource": ["*"], "Action": ["s3:GetObject"], "Effect": "Allow"}, "Version": "2012-10-17"}}),
        );
        assert_eq!(d, vec![]);
    }

    #[test]
    fn default_applies_when_unset_and_detects_drift() {
        let d = diff(json!({}), json!({"dns": true}));
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].field, "dns");
        assert_eq!(d[0].after, Some(json!(false)));
    }

    #[test]
    fn a_version_prefix_is_met_a_minor_change_is_in_place_and_a_major_one_replaces() {
        let live = json!({"dns": false, "engine_version": "8.0.35"});
        assert_eq!(diff(json!({"engine_version": "8.0"}), live.clone()), vec![]);
        assert_eq!(diff(json!({"engine_version": "8.0.35"}), live.clone()), vec![]);
        let minor = diff(json!({"engine_version": "8.0.36"}), live.clone());
        assert_eq!((minor.len(), minor[0].update), (1, Update::InPlace));
        // An automatic minor upgrade past what the spec pins is not undone.
        assert_eq!(diff(json!({"engine_version": "8.0.34"}), live.clone()), vec![]);
        let major = diff(json!({"engine_version": "8.4.3"}), live.clone());
        assert_eq!((major.len(), major[0].update), (1, Update::Replace));
        // Not a prefix at a dot.
        assert_eq!(diff(json!({"engine_version": "8.03"}), live)[0].update, Update::Replace);
        let pg = diff(json!({"engine_version": "15.5"}), json!({"dns": false, "engine_version": "15.4"}));
        assert_eq!(pg[0].update, Update::InPlace);
        let pg = diff(json!({"engine_version": "16.1"}), json!({"dns": false, "engine_version": "15.4"}));
        assert_eq!(pg[0].update, Update::Replace);
    }

    #[test]
    fn an_amount_that_only_grows_is_met_by_more_and_grown_in_place() {
        let live = json!({"dns": false, "storage": 25});
        assert_eq!(diff(json!({"storage": 20}), live.clone()), vec![]);
        assert_eq!(diff(json!({"storage": 25}), live.clone()), vec![]);
        let more = diff(json!({"storage": 30}), live);
        assert_eq!((more.len(), more[0].update), (1, Update::InPlace));
    }

    #[test]
    fn immutable_field_change_is_marked_replace() {
        let d = diff(json!({"cidr": "10.1.0.0/16"}), json!({"cidr": "10.0.0.0/16", "dns": false}));
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].update, Update::Replace);
        assert_eq!(d[0].before, Some(json!("10.0.0.0/16")));
    }

    #[test]
    fn numbers_compare_by_value_whatever_their_json_form() {
        assert_eq!(normalize(&Type::Number, &json!(80)), normalize(&Type::Number, &json!(80.0)));
        assert_ne!(normalize(&Type::Number, &json!(80)), normalize(&Type::Number, &json!(80.5)));
    }

    #[test]
    fn empty_list_matches_absent_value() {
        assert_eq!(diff(json!({"rules": []}), json!({"dns": false})), vec![]);
    }
}
