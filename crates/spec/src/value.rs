//! Values as written: `${…}` interpolation ([`build`]) and checking against
//! a property [`Type`] ([`Typer`]) to produce [`Expr`]s.
//!
//! [`build`] turns a YAML node into a [`Val`]: variables, `${stack}`,
//! `${region}` and `each.*` are substituted, references are checked against
//! the stack's resources and kept. [`Typer`] then checks a `Val` against a
//! type and produces the [`Expr`] the engine consumes, collapsing every
//! subtree without references into one [`Expr::Literal`].

use crate::expr::{self, Ast, Sel};
use crate::model::{Expr, Part, Pos, Reference, SecretSource, Selector};
use crate::report::Report;
use crate::schema::{KindSchema, Prop, Type};
use crate::suggest;
use crate::vars::Vars;
use crate::yaml::{Kind, Node, Str};
use serde_json::Value;
use std::collections::BTreeMap;

/// A value after substitution, before type checking.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Val {
    /// Data without references: a scalar as written, or whatever a whole
    /// `${var.x}`/`${each.value}` gave (possibly a list or a mapping).
    Lit(Value, Pos),
    Ref(Reference),
    /// Text with references.
    Template(Vec<Part>, Pos),
    List(Vec<Val>, Pos),
    /// Entries in written order, with the position of each key.
    Map(Vec<(String, Pos, Val)>, Pos),
    /// A value that cannot be known here: its problem is already reported,
    /// or it depends on `each` while checking a resource with no instances.
    Unknown(Pos),
}

impl Val {
    pub fn pos(&self) -> Pos {
        match self {
            Val::Lit(_, p) | Val::Template(_, p) | Val::List(_, p) | Val::Map(_, p) | Val::Unknown(p) => *p,
            Val::Ref(r) => r.pos,
        }
    }

    /// A literal list or mapping as a [`Val::List`] or [`Val::Map`] whose
    /// items all sit at the literal's position.
    pub fn explode(self) -> Val {
        match self {
            Val::Lit(Value::Array(items), pos) => Val::List(items.into_iter().map(|v| Val::Lit(v, pos)).collect(), pos),
            Val::Lit(Value::Object(map), pos) => {
                Val::Map(map.into_iter().map(|(k, v)| (k, pos, Val::Lit(v, pos))).collect(), pos)
            }
            other => other,
        }
    }

    /// The value as plain data, when it has no reference and nothing unknown.
    pub fn to_json(&self) -> Option<Value> {
        match self {
            Val::Lit(v, _) => Some(v.clone()),
            Val::List(items, _) => items.iter().map(Val::to_json).collect::<Option<Vec<_>>>().map(Value::Array),
            Val::Map(entries, _) => entries
                .iter()
                .map(|(k, _, v)| v.to_json().map(|v| (k.clone(), v)))
                .collect::<Option<serde_json::Map<_, _>>>()
                .map(Value::Object),
            Val::Ref(_) | Val::Template(..) | Val::Unknown(_) => None,
        }
    }

    /// "a string (\"80\")", "a list"… for messages.
    pub fn describe(&self) -> String {
        match self {
            Val::Lit(v, _) => describe_json(v),
            Val::Ref(r) => format!("a reference ({r})"),
            Val::Template(..) => "text with references".into(),
            Val::List(..) => "a list".into(),
            Val::Map(..) => "a mapping".into(),
            Val::Unknown(_) => "an unknown value".into(),
        }
    }
}

/// Describes a JSON value for messages, showing short scalars.
pub(crate) fn describe_json(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => format!("a boolean ({b})"),
        Value::Number(n) if n.is_f64() => format!("a number ({n})"),
        Value::Number(n) => format!("an integer ({n})"),
        Value::String(s) => {
            let short: String = s.chars().take(40).collect();
            let ellipsis = if short.len() < s.len() { "…" } else { "" };
            format!("a string (\"{short}{ellipsis}\")")
        }
        Value::Array(_) => "a list".into(),
        Value::Object(_) => "a mapping".into(),
    }
}

/// Text for a value inside a string: strings as they are, anything else as JSON.
pub(crate) fn render(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// What references may point at: every resource of the stack.
#[derive(Debug)]
pub(crate) struct Target {
    /// `None` when the resource's type is missing or unknown.
    pub kind: Option<&'static KindSchema>,
    /// `None` without for_each; `Some(None)` when its for_each could not be
    /// evaluated; otherwise its instance keys.
    pub keys: Option<Option<Vec<String>>>,
}

pub(crate) type Targets = BTreeMap<String, Target>;

/// What `${region}` gives.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Region<'a> {
    Known(&'a str),
    /// The region is invalid (already reported).
    Failed,
    /// We are evaluating the region itself.
    Itself,
}

/// What `${each.…}` gives.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Each<'a> {
    /// Not inside a resource with for_each: `each` is an error.
    None,
    Instance {
        key: &'a str,
        value: &'a Value,
    },
    /// Inside a resource with for_each but no instance (checking only).
    Unknown,
}

/// Everything interpolation needs.
pub(crate) struct Scope<'a> {
    pub vars: &'a Vars,
    /// `None` when the stack name is invalid (already reported).
    pub stack: Option<&'a str>,
    pub region: Region<'a>,
    pub each: Each<'a>,
    /// `None` where resource references are not allowed.
    pub targets: Option<&'a Targets>,
    /// Where we are, for messages: "the region", "for_each"…
    pub context: &'a str,
    /// The stacks `stacks:` declares, and their outputs if read.
    pub remote: Remote<'a>,
}

/// What `${stack.NAME.outputs.KEY}` can see.
#[derive(Clone, Copy)]
pub(crate) struct Remote<'a> {
    pub declared: &'a [crate::model::RemoteStack],
    pub data: &'a [crate::model::DataSource],
    pub outputs: &'a crate::model::Lookups,
}

/// One expression's result.
enum Piece {
    Value(Value),
    Ref(Reference),
    Unknown,
}

/// Builds a [`Val`] from a node, substituting and checking every `${…}`.
pub(crate) fn build(node: &Node, scope: &Scope, report: &mut Report) -> Val {
    let pos = node.pos;
    match &node.kind {
        Kind::Null => Val::Lit(Value::Null, pos),
        Kind::Bool(b) => Val::Lit(Value::Bool(*b), pos),
        Kind::Number(n) => Val::Lit(Value::Number(n.clone()), pos),
        Kind::Str(s) => interpolate(s, pos, scope, report),
        Kind::Seq(items) => Val::List(items.iter().map(|n| build(n, scope, report)).collect(), pos),
        Kind::Map(entries) => {
            Val::Map(entries.iter().map(|e| (e.key.clone(), e.key_pos, build(&e.value, scope, report))).collect(), pos)
        }
    }
}

/// Interpolates one string scalar written at `pos`.
pub(crate) fn interpolate(s: &Str, pos: Pos, scope: &Scope, report: &mut Report) -> Val {
    let at = |offset: usize| match s.inline_col {
        Some(col) => Pos { line: pos.line, column: col + offset },
        None => pos,
    };
    let (segs, errors) = expr::parse(&s.value);
    if !errors.is_empty() {
        for e in errors {
            report.error(at(e.offset), e.message, e.hint);
        }
        return Val::Unknown(pos);
    }
    if let [expr::Seg::Expr { ast, offset, src }] = segs.as_slice() {
        return match resolve(ast, at(*offset), src, scope, report) {
            Piece::Value(v) => Val::Lit(v, pos),
            Piece::Ref(r) => Val::Ref(r),
            Piece::Unknown => Val::Unknown(pos),
        };
    }
    let mut parts: Vec<Part> = Vec::new();
    let mut unknown = false;
    let push_text = |parts: &mut Vec<Part>, t: &str| match parts.last_mut() {
        Some(Part::Text(last)) => last.push_str(t),
        _ => parts.push(Part::Text(t.to_string())),
    };
    for seg in &segs {
        match seg {
            expr::Seg::Text(t) => push_text(&mut parts, t),
            expr::Seg::Expr { ast, offset, src } => match resolve(ast, at(*offset), src, scope, report) {
                Piece::Value(v) => push_text(&mut parts, &render(&v)),
                Piece::Ref(r) => parts.push(Part::Ref(r)),
                Piece::Unknown => unknown = true,
            },
        }
    }
    if unknown {
        return Val::Unknown(pos);
    }
    match parts.as_slice() {
        [] => Val::Lit(Value::String(String::new()), pos),
        [Part::Text(t)] => Val::Lit(Value::String(t.clone()), pos),
        _ => Val::Template(parts, pos),
    }
}

fn resolve(ast: &Ast, pos: Pos, src: &str, scope: &Scope, report: &mut Report) -> Piece {
    match ast {
        Ast::Var(name) => {
            if !scope.vars.is_declared(name) {
                let declared = scope.vars.names();
                report.error(
                    pos,
                    format!("unknown variable '{name}' in '{src}'"),
                    suggest::hint(name, &declared, "declared variables: ", "declare it under vars:"),
                );
                return Piece::Unknown;
            }
            match scope.vars.value(name) {
                Some(v) => Piece::Value(v.clone()),
                None => Piece::Unknown,
            }
        }
        Ast::StackOutput { stack, output } => stack_output(stack, output, pos, src, scope, report),
        Ast::Data { name, attribute } => data_value(name, attribute, pos, src, scope, report),
        Ast::Stack => match scope.stack {
            Some(s) => Piece::Value(Value::String(s.to_string())),
            None => Piece::Unknown,
        },
        Ast::Region => match scope.region {
            Region::Known(r) => Piece::Value(Value::String(r.to_string())),
            Region::Failed => Piece::Unknown,
            Region::Itself => {
                report.error(pos, "the region cannot use '${region}'", Some("write the region, like us-east-1".into()));
                Piece::Unknown
            }
        },
        Ast::EachKey => match scope.each {
            Each::Instance { key, .. } => Piece::Value(Value::String(key.to_string())),
            Each::Unknown => Piece::Unknown,
            Each::None => {
                each_outside(pos, src, scope, report);
                Piece::Unknown
            }
        },
        Ast::EachValue(path) => match scope.each {
            Each::Instance { value, .. } => each_value(value, path, pos, src, report),
            Each::Unknown => Piece::Unknown,
            Each::None => {
                each_outside(pos, src, scope, report);
                Piece::Unknown
            }
        },
        Ast::Ref { resource, selector, attribute } => {
            resolve_ref(resource, selector, attribute, pos, src, scope, report)
        }
    }
}

/// Where a value from outside the spec comes from, as messages name it:
/// another stack's outputs (`stacks:`) or a lookup's attributes (`data:`).
struct Outside<'a> {
    /// `stack`, `data`: how a message names one.
    word: &'static str,
    /// `stacks`, `data`: the section that declares them.
    section: &'static str,
    /// `output`, `attribute`: what is read of one.
    member: &'static str,
    declared: Vec<&'a str>,
    /// The hint's list of those declared, and what to write when none are.
    declared_are: &'static str,
    declare: String,
    /// What was read, per name; `None` offline.
    read: Option<&'a BTreeMap<String, BTreeMap<String, Value>>>,
    /// The hint's list of what one has, and what to say when it has nothing.
    members_are: &'static str,
    has_nothing: Option<String>,
}

/// `${stack.NAME.outputs.KEY}` or `${data.NAME.ATTR}`: unknown until read
/// (offline), then its value, or an error naming what there is.
fn outside(o: Outside, name: &str, member: &str, pos: Pos, src: &str, report: &mut Report) -> Piece {
    let (word, section) = (o.word, o.section);
    if !o.declared.contains(&name) {
        let hint = suggest::hint(name, &o.declared, o.declared_are, "").unwrap_or(o.declare);
        report.error(pos, format!("'{src}' reads {word} '{name}', which is not under {section}:"), Some(hint));
        return Piece::Unknown;
    }
    let Some(read) = o.read else { return Piece::Unknown };
    let found = read.get(name);
    if let Some(v) = found.and_then(|m| m.get(member)) {
        return Piece::Value(v.clone());
    }
    let names: Vec<&str> = found.map(|m| m.keys().map(String::as_str).collect()).unwrap_or_default();
    let hint = match o.has_nothing {
        Some(nothing) if names.is_empty() => nothing,
        _ => suggest::hint(member, &names, o.members_are, "")
            .unwrap_or_else(|| format!("{}{}", o.members_are, names.join(", "))),
    };
    report.error(pos, format!("'{src}': {word} {name} has no {} '{member}'", o.member), Some(hint));
    Piece::Unknown
}

fn stack_output(stack: &str, output: &str, pos: Pos, src: &str, scope: &Scope, report: &mut Report) -> Piece {
    let o = Outside {
        word: "stack",
        section: "stacks",
        member: "output",
        declared: scope.remote.declared.iter().map(|r| r.name.as_str()).collect(),
        declared_are: "the stacks declared are: ",
        declare: format!("declare where its state is: stacks: {{{stack}: {{state: state/{stack}.json}}}}"),
        read: match scope.remote.outputs {
            crate::model::Lookups::Read(read) => Some(&read.stacks),
            crate::model::Lookups::NotRead => None,
        },
        members_are: "its outputs are: ",
        has_nothing: Some(format!("stack {stack} records no outputs yet: deploy it first")),
    };
    outside(o, stack, output, pos, src, report)
}

fn data_value(name: &str, attribute: &str, pos: Pos, src: &str, scope: &Scope, report: &mut Report) -> Piece {
    let o = Outside {
        word: "data",
        section: "data",
        member: "attribute",
        declared: scope.remote.data.iter().map(|d| d.name.as_str()).collect(),
        declared_are: "the data sources are: ",
        declare: format!("declare it: data: {{{name}: {{type: ec2.vpc, tags: {{Name: …}}}}}}"),
        read: match scope.remote.outputs {
            crate::model::Lookups::Read(read) => Some(&read.data),
            crate::model::Lookups::NotRead => None,
        },
        members_are: "it has: ",
        has_nothing: None,
    };
    outside(o, name, attribute, pos, src, report)
}

fn each_outside(pos: Pos, src: &str, scope: &Scope, report: &mut Report) {
    report.error(pos, format!("'{src}' is only available in a resource with for_each, not in {}", scope.context), None);
}

fn each_value(value: &Value, path: &[String], pos: Pos, src: &str, report: &mut Report) -> Piece {
    let mut v = value;
    let mut walked = String::from("each.value");
    for field in path {
        match v {
            Value::Object(map) => match map.get(field) {
                Some(x) => v = x,
                None => {
                    let fields: Vec<&str> = map.keys().map(String::as_str).collect();
                    report.error(
                        pos,
                        format!("'{src}': {walked} has no field '{field}'"),
                        suggest::hint(field, &fields, "its fields are: ", "it is an empty mapping"),
                    );
                    return Piece::Unknown;
                }
            },
            other => {
                report.error(
                    pos,
                    format!("'{src}': {walked} is {}, not a mapping", describe_json(other)),
                    Some(format!("write ${{{walked}}}")),
                );
                return Piece::Unknown;
            }
        }
        walked.push('.');
        walked.push_str(field);
    }
    Piece::Value(v.clone())
}

fn resolve_ref(
    resource: &str,
    selector: &Sel,
    attribute: &str,
    pos: Pos,
    src: &str,
    scope: &Scope,
    report: &mut Report,
) -> Piece {
    let Some(targets) = scope.targets else {
        report.error(
            pos,
            format!("{} cannot reference resources ('{src}')", scope.context),
            Some("it must be known before anything is created; use a variable instead".into()),
        );
        return Piece::Unknown;
    };
    let Some(target) = targets.get(resource) else {
        let names: Vec<&str> = targets.keys().map(String::as_str).collect();
        report.error(
            pos,
            format!("unknown resource '{resource}' in '{src}'"),
            suggest::hint(resource, &names, "resources in this stack: ", "this stack declares no resources"),
        );
        return Piece::Unknown;
    };
    let mut ok = true;
    let selected = match (selector, &target.keys) {
        (Sel::Single, None) => Some(Selector::Single),
        (Sel::Single, Some(_)) => {
            report.error(
                pos,
                format!("'{resource}' has for_each, so '{src}' must pick an instance"),
                Some(format!(
                    "write ${{{resource}[KEY].{attribute}}} for one instance, ${{{resource}[each.key].{attribute}}} for the matching one, or ${{{resource}[*].{attribute}}} for all of them"
                )),
            );
            None
        }
        (_, None) => {
            report.error(
                pos,
                format!("'{resource}' has no for_each, so '{src}' cannot select instances"),
                Some(format!("write ${{{resource}.{attribute}}}")),
            );
            None
        }
        (Sel::All, Some(_)) => Some(Selector::All),
        (Sel::Key(k), Some(keys)) => {
            if check_key(resource, k, keys.as_deref(), pos, src, "", report) {
                Some(Selector::Key(k.clone()))
            } else {
                None
            }
        }
        (Sel::EachValue(path), Some(keys)) => match scope.each {
            Each::Instance { value, .. } => match each_value(value, path, pos, src, report) {
                Piece::Value(Value::String(k)) => {
                    check_key(resource, &k, keys.as_deref(), pos, src, "", report).then_some(Selector::Key(k))
                }
                Piece::Value(Value::Number(n)) => {
                    let k = n.to_string();
                    check_key(resource, &k, keys.as_deref(), pos, src, "", report).then_some(Selector::Key(k))
                }
                Piece::Value(other) => {
                    report.error(
                        pos,
                        format!("'{src}': an instance key must be a string, not {}", describe_json(&other)),
                        None,
                    );
                    None
                }
                _ => None,
            },
            Each::Unknown => {
                ok = false;
                None
            }
            Each::None => {
                each_outside(pos, src, scope, report);
                None
            }
        },
        (Sel::EachKey, Some(keys)) => match scope.each {
            Each::Instance { key, .. } => {
                let from = format!(" (each.key is '{key}')");
                if check_key(resource, key, keys.as_deref(), pos, src, &from, report) {
                    Some(Selector::Key(key.to_string()))
                } else {
                    None
                }
            }
            Each::Unknown => {
                // Checking a resource with no instances: nothing to select.
                ok = false;
                None
            }
            Each::None => {
                each_outside(pos, src, scope, report);
                None
            }
        },
    };
    if let Some(kind) = target.kind {
        if kind.attribute(attribute).is_none() {
            let attrs: Vec<&str> = kind.attributes.iter().map(|a| a.name).collect();
            report.error(
                pos,
                format!("unknown attribute '{attribute}' of '{resource}' ({}) in '{src}'", kind.type_name),
                suggest::hint(
                    attribute,
                    &attrs,
                    "its attributes are: ",
                    &format!("{} exposes no attributes", kind.type_name),
                ),
            );
            ok = false;
        }
    }
    match selected {
        Some(selector) if ok => {
            Piece::Ref(Reference { resource: resource.to_string(), selector, attribute: attribute.to_string(), pos })
        }
        _ => Piece::Unknown,
    }
}

/// Whether `key` is an instance of `resource` (unknown keys pass).
fn check_key(
    resource: &str,
    key: &str,
    keys: Option<&[String]>,
    pos: Pos,
    src: &str,
    from: &str,
    report: &mut Report,
) -> bool {
    let Some(keys) = keys else { return true };
    if keys.iter().any(|k| k == key) {
        return true;
    }
    let names: Vec<&str> = keys.iter().map(String::as_str).collect();
    report.error(
        pos,
        format!("'{resource}' has no instance '{key}' in '{src}'{from}"),
        suggest::hint(key, &names, "its keys are: ", "its for_each is empty"),
    );
    false
}

/// Collapses a list whose items are all literals into one literal.
fn list_expr(items: Vec<Expr>) -> Expr {
    if items.iter().all(|e| matches!(e, Expr::Literal(_))) {
        Expr::Literal(Value::Array(
            items
                .into_iter()
                .map(|e| match e {
                    Expr::Literal(v) => v,
                    _ => Value::Null,
                })
                .collect(),
        ))
    } else {
        Expr::List(items)
    }
}

/// Collapses a mapping whose values are all literals into one literal (in
/// written order).
fn map_expr(entries: Vec<(String, Expr)>) -> Expr {
    if entries.iter().all(|(_, e)| matches!(e, Expr::Literal(_))) {
        Expr::Literal(Value::Object(
            entries
                .into_iter()
                .map(|(k, e)| match e {
                    Expr::Literal(v) => (k, v),
                    _ => (k, Value::Null),
                })
                .collect(),
        ))
    } else {
        Expr::Map(entries.into_iter().collect())
    }
}

/// An expression with no type to check against (outputs, documents, the
/// properties of an unknown type).
pub(crate) fn untyped(val: Val) -> Expr {
    match val {
        Val::Lit(v, _) => Expr::Literal(v),
        Val::Ref(r) => Expr::Ref(r),
        Val::Template(parts, _) => Expr::Template(parts),
        Val::List(items, _) => list_expr(items.into_iter().map(untyped).collect()),
        Val::Map(entries, _) => map_expr(entries.into_iter().map(|(k, _, v)| (k, untyped(v))).collect()),
        Val::Unknown(_) => Expr::Literal(Value::Null),
    }
}

fn expected(ty: &Type) -> &'static str {
    match ty {
        Type::String => "a string",
        Type::Int => "an integer",
        Type::Number => "a number",
        Type::Bool => "true or false",
        Type::Duration => "a duration (like 30s, 10m, 1h30m or a number of seconds)",
        Type::Set(_) | Type::List(_) => "a list",
        Type::Map(_) | Type::Object(_) => "a mapping",
        Type::Document => "a document",
        Type::Secret => "a secret",
    }
}

fn child(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// Checks values against a kind's property types.
pub(crate) struct Typer<'a> {
    /// The kind's type name, for messages.
    pub kind: &'a str,
    pub report: &'a mut Report,
}

impl Typer<'_> {
    /// Checks an object (a resource's `properties`, or a nested
    /// [`Type::Object`]) and returns its properties. `path` is empty at the
    /// top; `missing_at` is where a missing required property is reported.
    pub fn object(&mut self, val: Val, props: &[Prop], path: &str, missing_at: Pos) -> Option<Vec<(String, Expr)>> {
        let entries = match val.explode() {
            Val::Map(entries, _) => entries,
            Val::Unknown(_) => return None,
            other => {
                let what = if path.is_empty() { "properties".to_string() } else { format!("property '{path}'") };
                self.report.error(
                    other.pos(),
                    format!("{what} of {} must be a mapping, not {}", self.kind, other.describe()),
                    None,
                );
                return None;
            }
        };
        let mut out = Vec::new();
        // Properties an unknown key was probably meant to be: not reported
        // again as missing.
        let mut meant: Vec<&str> = Vec::new();
        for (key, key_pos, value) in entries {
            let full = child(path, &key);
            match props.iter().find(|p| p.name == key) {
                Some(prop) => {
                    if let (Val::Lit(v, pos), true) = (&value, prop.check != crate::schema::Check::None) {
                        if let Some((message, hint)) = prop.check.violation(v) {
                            self.report.error(
                                *pos,
                                format!("property '{full}' of {}: {message}", self.kind),
                                Some(hint),
                            );
                        }
                    }
                    out.push((key, self.typed(value, &prop.ty, &full)))
                }
                None => {
                    let names: Vec<&str> = props.iter().map(|p| p.name).collect();
                    meant.extend(suggest::closest(&key, names.iter().copied()));
                    let fallback = if path.is_empty() {
                        format!("{} properties: ", self.kind)
                    } else {
                        format!("properties of '{path}': ")
                    };
                    self.report.error(
                        key_pos,
                        format!("unknown property '{full}' for {}", self.kind),
                        suggest::hint(&key, &names, &fallback, "it takes no properties"),
                    );
                }
            }
        }
        for prop in props.iter().filter(|p| p.required && !meant.contains(&p.name)) {
            if !out.iter().any(|(k, _)| k == prop.name) {
                self.report.error(
                    missing_at,
                    format!("missing required property '{}' for {}", child(path, prop.name), self.kind),
                    (!prop.doc.is_empty()).then(|| format!("{}: {}", prop.name, prop.doc)),
                );
            }
        }
        Some(out)
    }

    fn mismatch(&mut self, val: &Val, ty: &Type, path: &str) {
        let hint = match (ty, val) {
            (Type::Number, Val::Lit(Value::String(s), _)) if s.trim().parse::<f64>().is_ok() => {
                Some(format!("remove the quotes: {}", s.trim()))
            }
            (Type::Int, Val::Lit(Value::String(s), _)) if s.trim().parse::<i64>().is_ok() => {
                Some(format!("remove the quotes: {}", s.trim()))
            }
            (Type::Bool, Val::Lit(Value::String(s), _)) if s == "true" || s == "false" => {
                Some(format!("remove the quotes: {s}"))
            }
            (Type::Bool, Val::Lit(Value::String(_), _)) => Some("write true or false".into()),
            (Type::String, Val::Lit(v @ (Value::Number(_) | Value::Bool(_)), _)) => Some(format!("quote it: \"{v}\"")),
            (_, Val::Lit(Value::Null, _)) => Some("remove it to leave it unset, or give it a value".into()),
            (_, Val::Template(..)) => Some(
                "only a string can mix text and references; a whole reference (like ${vpc.id}) fits any type".into(),
            ),
            _ => None,
        };
        self.report.error(
            val.pos(),
            format!("property '{path}' of {} must be {}, not {}", self.kind, expected(ty), val.describe()),
            hint,
        );
    }

    /// Checks one value against its type.
    pub fn typed(&mut self, val: Val, ty: &Type, path: &str) -> Expr {
        let placeholder = Expr::Literal(Value::Null);
        if let Val::Unknown(_) = val {
            return placeholder;
        }
        if let Type::Secret = ty {
            return self.secret(val, path);
        }
        if let Val::Ref(r) = val {
            return Expr::Ref(r);
        }
        match ty {
            Type::Document => untyped(val),
            Type::String => match val {
                Val::Lit(Value::String(s), _) => Expr::Literal(Value::String(s)),
                Val::Template(parts, _) => Expr::Template(parts),
                other => {
                    self.mismatch(&other, ty, path);
                    placeholder
                }
            },
            Type::Int => match val {
                Val::Lit(Value::Number(n), _) if n.is_i64() || n.is_u64() => Expr::Literal(Value::Number(n)),
                other => {
                    self.mismatch(&other, ty, path);
                    placeholder
                }
            },
            Type::Number => match val {
                Val::Lit(Value::Number(n), _) => Expr::Literal(Value::Number(n)),
                other => {
                    self.mismatch(&other, ty, path);
                    placeholder
                }
            },
            Type::Bool => match val {
                Val::Lit(Value::Bool(b), _) => Expr::Literal(Value::Bool(b)),
                other => {
                    self.mismatch(&other, ty, path);
                    placeholder
                }
            },
            Type::Duration => match val {
                Val::Lit(Value::String(s), _) if crate::parse_duration(&s).is_some() => Expr::Literal(Value::String(s)),
                Val::Lit(Value::Number(n), _) if n.is_u64() => Expr::Literal(Value::Number(n)),
                other => {
                    self.mismatch(&other, ty, path);
                    placeholder
                }
            },
            Type::Set(inner) | Type::List(inner) => match val.explode() {
                Val::List(items, _) => list_expr(
                    items
                        .into_iter()
                        .enumerate()
                        .map(|(i, item)| self.typed(item, inner, &format!("{path}[{i}]")))
                        .collect(),
                ),
                other => {
                    self.mismatch(&other, ty, path);
                    placeholder
                }
            },
            Type::Map(inner) => match val.explode() {
                Val::Map(entries, _) => map_expr(
                    entries
                        .into_iter()
                        .map(|(k, _, v)| {
                            let e = self.typed(v, inner, &child(path, &k));
                            (k, e)
                        })
                        .collect(),
                ),
                other => {
                    self.mismatch(&other, ty, path);
                    placeholder
                }
            },
            Type::Object(props) => match val.explode() {
                val @ Val::Map(..) => {
                    let pos = val.pos();
                    match self.object(val, props, path, pos) {
                        Some(entries) => map_expr(entries),
                        None => placeholder,
                    }
                }
                other => {
                    self.mismatch(&other, ty, path);
                    placeholder
                }
            },
            Type::Secret => placeholder,
        }
    }

    fn secret(&mut self, val: Val, path: &str) -> Expr {
        let pos = val.pos();
        if let Val::Lit(Value::String(s), _) = &val {
            if let Some(name) = s.strip_prefix("env:") {
                let valid = matches!(name.chars().next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
                    && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
                if valid {
                    return Expr::Secret(SecretSource::Env(name.to_string()));
                }
                self.report.error(
                    pos,
                    format!("property '{path}' of {}: '{s}' is not a valid environment variable name", self.kind),
                    Some("write env:NAME with letters, digits and '_'".into()),
                );
                return Expr::Literal(Value::Null);
            }
            if let Some(file) = s.strip_prefix("file:") {
                if !file.is_empty() {
                    return Expr::Secret(SecretSource::File(file.to_string()));
                }
                self.report.error(
                    pos,
                    format!("property '{path}' of {}: 'file:' needs a path", self.kind),
                    Some("write file:PATH".into()),
                );
                return Expr::Literal(Value::Null);
            }
        }
        let parts = match val {
            Val::Lit(Value::String(s), _) => vec![Part::Text(s)],
            Val::Template(parts, _) => parts,
            _ => Vec::new(),
        };
        if let Some(Part::Text(first)) = parts.first() {
            if first.starts_with(COGNITO) {
                return match cognito_source(parts) {
                    Ok(src) => Expr::Secret(src),
                    Err(message) => {
                        self.report.error(
                            pos,
                            format!("property '{path}' of {}: {message}", self.kind),
                            Some("write cognito:${POOL.id}/${CLIENT.id}".into()),
                        );
                        Expr::Literal(Value::Null)
                    }
                };
            }
            if first.starts_with(SECRETS_MANAGER) {
                return match secrets_manager_source(parts) {
                    Ok(src) => Expr::Secret(src),
                    Err(message) => {
                        self.report.error(
                            pos,
                            format!("property '{path}' of {}: {message}", self.kind),
                            Some(
                                "write secretsmanager:NAME_OR_ARN, or secretsmanager:NAME_OR_ARN#KEY for one key \
                                 of a JSON secret"
                                    .into(),
                            ),
                        );
                        Expr::Literal(Value::Null)
                    }
                };
            }
        }
        self.report.error(
            pos,
            format!(
                "property '{path}' of {} is a secret: secrets are never literals; write env:NAME, file:PATH, \
                 secretsmanager:NAME_OR_ARN or cognito:POOL_ID/CLIENT_ID",
                self.kind
            ),
            Some("the value is read when the stack is applied and never stored".into()),
        );
        Expr::Literal(Value::Null)
    }
}

const SECRETS_MANAGER: &str = "secretsmanager:";
const COGNITO: &str = "cognito:";

/// `cognito:POOL_ID/CLIENT_ID`, either possibly a reference: a user pool
/// client's generated secret.
fn cognito_source(mut parts: Vec<Part>) -> Result<SecretSource, String> {
    if let Some(Part::Text(first)) = parts.first_mut() {
        first.drain(..COGNITO.len());
        if first.is_empty() {
            parts.remove(0);
        }
    }
    let written: String = parts
        .iter()
        .map(|p| match p {
            Part::Text(t) => t.clone(),
            Part::Ref(_) => "x".into(),
        })
        .collect();
    match written.split_once('/') {
        Some((pool, client)) if !pool.is_empty() && !client.is_empty() && !client.contains('/') => {}
        _ => return Err("'cognito:' needs the user pool's id and the client's id, as POOL_ID/CLIENT_ID".into()),
    }
    if written.chars().any(char::is_whitespace) {
        return Err("a user pool id and client id have no spaces".into());
    }
    Ok(SecretSource::CognitoClientSecret { id: parts })
}

/// `secretsmanager:ID[#KEY]`, the id possibly with references in it. The
/// first part is text starting with the prefix.
fn secrets_manager_source(mut parts: Vec<Part>) -> Result<SecretSource, String> {
    if let Some(Part::Text(first)) = parts.first_mut() {
        first.drain(..SECRETS_MANAGER.len());
        if first.is_empty() {
            parts.remove(0);
        }
    }
    // A `#KEY` suffix can only be in the last text part.
    let mut json_key = None;
    if let Some(Part::Text(last)) = parts.last_mut() {
        if let Some(at) = last.find('#') {
            let key = last[at + 1..].to_string();
            if key.is_empty() {
                return Err("'#' must be followed by the key to read from the secret's JSON".into());
            }
            json_key = Some(key);
            last.truncate(at);
            if last.is_empty() {
                parts.pop();
            }
        }
    }
    let text = |p: &Part| match p {
        Part::Text(t) => t.clone(),
        Part::Ref(_) => String::new(),
    };
    let written: String = parts.iter().map(text).collect();
    if parts.is_empty() || (written.trim().is_empty() && !parts.iter().any(|p| matches!(p, Part::Ref(_)))) {
        return Err("'secretsmanager:' needs the secret's name or ARN".into());
    }
    if written.chars().any(char::is_whitespace) || written.contains('#') {
        return Err("a Secrets Manager secret name or ARN has no spaces and at most one '#' (before the key)".into());
    }
    Ok(SecretSource::SecretsManager { id: parts, json_key })
}
