//! Variables: declarations under `vars:`, then `--var-file` files, then
//! `--var` pairs (later values win). A variable whose default is null is
//! required. Variable values are data: `${…}` inside them is not interpreted.

use crate::diag::Diagnostic;
use crate::model::{Pos, VarOverrides};
use crate::report::Report;
use crate::suggest;
use crate::yaml::{self, Entry, Kind};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// The final variable values.
#[derive(Debug, Default)]
pub(crate) struct Vars {
    /// Declared names, in file order.
    order: Vec<String>,
    values: BTreeMap<String, Value>,
    /// Required variables that were given no value (already reported).
    failed: BTreeSet<String>,
}

impl Vars {
    pub fn is_declared(&self, name: &str) -> bool {
        self.values.contains_key(name)
    }

    /// The value, or `None` for a required variable with no value.
    pub fn value(&self, name: &str) -> Option<&Value> {
        if self.failed.contains(name) {
            return None;
        }
        self.values.get(name)
    }

    pub fn names(&self) -> Vec<&str> {
        self.order.iter().map(String::as_str).collect()
    }

    pub fn into_values(self) -> BTreeMap<String, Value> {
        self.values
    }
}

/// Whether `s` is a valid variable name: `[A-Za-z_][A-Za-z0-9_]*`.
pub(crate) fn is_var_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `did you mean 'x'? declared variables: a, b`
fn declared_hint(vars: &Vars, name: &str) -> Option<String> {
    let names = vars.names();
    if names.is_empty() {
        return Some("the spec declares no variables; declare them under vars:".into());
    }
    let list = format!("declared variables: {}", suggest::list_some(&names, 12));
    Some(match suggest::closest(name, names.iter().copied()) {
        Some(c) => format!("did you mean '{c}'? {list}"),
        None => list,
    })
}

/// Reads the declarations (the `vars:` entry, if any) and applies the
/// overrides.
pub(crate) fn resolve(section: Option<&Entry>, overrides: &VarOverrides, report: &mut Report) -> Vars {
    let mut vars = Vars::default();
    let mut required: Vec<(String, Pos)> = Vec::new();
    if let Some(section) = section {
        match &section.value.kind {
            Kind::Null => {}
            Kind::Map(entries) => {
                for e in entries {
                    if !is_var_name(&e.key) {
                        report.error(
                            e.key_pos,
                            format!("invalid variable name '{}'", e.key),
                            Some("use letters, digits and '_', starting with a letter or '_'".into()),
                        );
                        continue;
                    }
                    let default = e.value.to_json();
                    if default.is_null() {
                        required.push((e.key.clone(), e.key_pos));
                    }
                    vars.order.push(e.key.clone());
                    vars.values.insert(e.key.clone(), default);
                }
            }
            _ => report.error(
                section.value.pos,
                format!("'vars' must be a mapping of names to default values, not {}", section.value.describe()),
                Some("write vars: {NAME: DEFAULT}, with ~ as the default of a required variable".into()),
            ),
        }
    }
    for path in &overrides.files {
        var_file(&mut vars, path, report);
    }
    for (name, text) in &overrides.pairs {
        if !vars.is_declared(name) {
            report.general(format!("--var {name}: the spec declares no variable '{name}'"), declared_hint(&vars, name));
            continue;
        }
        match parse_value(text) {
            Ok(v) => {
                vars.values.insert(name.clone(), v);
            }
            Err(why) => report.general(
                format!("--var {name}: the value is not valid YAML: {why}"),
                Some("quote the value if it is text, like --var 'name=\"a: b\"'".into()),
            ),
        }
    }
    for (name, pos) in required {
        if !matches!(vars.values.get(&name), Some(v) if !v.is_null()) {
            report.error(
                pos,
                format!("variable '{name}' is required: it has no default and no value was given"),
                Some(format!("pass --var {name}=VALUE or set it in a --var-file")),
            );
            vars.failed.insert(name);
        }
    }
    vars
}

/// A `--var` value, parsed as YAML: `3` is a number, `[a, b]` a list, `v2`
/// a string, nothing at all null.
fn parse_value(text: &str) -> Result<Value, String> {
    let parsed = yaml::parse(text).map_err(|p| p.message)?;
    if let Some(p) = parsed.problems.into_iter().next() {
        return Err(p.message);
    }
    Ok(parsed.root.map(|n| n.to_json()).unwrap_or(Value::Null))
}

fn var_file(vars: &mut Vars, path: &str, report: &mut Report) {
    let diag = |pos: Option<Pos>, message: String, hint: Option<String>| Diagnostic {
        file: path.to_string(),
        pos,
        message,
        hint,
    };
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => {
            report.push(diag(None, format!("cannot read the var file: {e}"), None));
            return;
        }
    };
    let Ok(text) = String::from_utf8(bytes) else {
        report.push(diag(None, "the var file is not UTF-8 text".into(), None));
        return;
    };
    let parsed = match yaml::parse(&text) {
        Ok(p) => p,
        Err(p) => {
            report.push(diag(Some(p.pos), p.message, p.hint));
            return;
        }
    };
    for p in parsed.problems {
        report.push(diag(Some(p.pos), p.message, p.hint));
    }
    let Some(root) = parsed.root else { return };
    match &root.kind {
        Kind::Null => {}
        Kind::Map(entries) => {
            for e in entries {
                if vars.is_declared(&e.key) {
                    vars.values.insert(e.key.clone(), e.value.to_json());
                } else {
                    report.push(diag(
                        Some(e.key_pos),
                        format!("the spec declares no variable '{}'", e.key),
                        declared_hint(vars, &e.key),
                    ));
                }
            }
        }
        _ => report.push(diag(
            Some(root.pos),
            format!("a var file must be a mapping of variable names to values, not {}", root.describe()),
            None,
        )),
    }
}
