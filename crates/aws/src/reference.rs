//! The spec reference (docs/reference.md), generated from the kinds'
//! schemas so that it cannot drift from the code. A test checks that the
//! committed file is current.

use deployctl_spec::{KindSchema, Prop, Type, Update};
use std::fmt::Write as _;

fn type_name(t: &Type) -> String {
    match t {
        Type::String => "string".into(),
        Type::Int => "integer".into(),
        Type::Number => "number".into(),
        Type::Bool => "boolean".into(),
        Type::Duration => "duration".into(),
        Type::Set(inner) => format!("set of {}", type_name(inner)),
        Type::List(inner) => format!("list of {}", type_name(inner)),
        Type::Map(inner) => format!("map of {}", type_name(inner)),
        Type::Object(_) => "object".into(),
        Type::Document => "policy document (YAML map)".into(),
        Type::Secret => "secret (`secretsmanager:ID[#KEY]`, `env:NAME` or `file:PATH`)".into(),
    }
}

fn nested(t: &Type) -> Option<&'static [Prop]> {
    match t {
        Type::Object(p) => Some(p),
        Type::Set(inner) | Type::List(inner) | Type::Map(inner) => nested(inner),
        _ => None,
    }
}

/// What `validate` enforces of a property's value, for the reference.
fn constraint(c: &deployctl_spec::Check) -> String {
    use deployctl_spec::Check;
    match c {
        Check::None => String::new(),
        Check::OneOf(v) => format!(" One of: {}.", v.iter().map(|v| format!("`{v}`")).collect::<Vec<_>>().join(", ")),
        Check::IntIn(v) => format!(" One of: {}.", v.iter().map(i64::to_string).collect::<Vec<_>>().join(", ")),
        Check::Range(a, b) => format!(" From {a} to {b}."),
        Check::Cidr(a, b) => format!(" An IPv4 CIDR block, prefix /{a} to /{b}."),
        Check::Name { min, max, chars } => format!(" {min} to {max} characters from `[{chars}]`."),
    }
}

fn props_table(out: &mut String, props: &[Prop], indent: &str) {
    let _ = writeln!(out, "{indent}| property | type | required | on change | default | description |");
    let _ = writeln!(out, "{indent}|---|---|---|---|---|---|");
    for p in props {
        let change = match p.update {
            Update::InPlace => "update in place",
            Update::Replace => "**replace**",
            Update::Version => "in place within a major version; a new major version **replaces**",
            Update::AtLeast => "grows in place (more than asked for, as autoscaling makes it, is no change)",
        };
        let unique = if p.unique {
            " Unique: with `environment: ${var.env}`, `validate` refuses a fixed value (the environments would collide)."
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "{indent}| `{}` | {} | {} | {} | {} | {}{unique}{} |",
            p.name,
            type_name(&p.ty),
            if p.required { "yes" } else { "no" },
            change,
            p.default.map(|d| format!("`{d}`")).unwrap_or_else(|| "—".into()),
            p.doc.replace('|', "\\|"),
            constraint(&p.check)
        );
    }
    for p in props {
        if let Some(inner) = nested(&p.ty) {
            let _ = writeln!(out, "\n{indent}Each entry of `{}`:\n", p.name);
            props_table(out, inner, indent);
        }
    }
}

/// One section per kind: what it is, its properties (type, required,
/// in place or replace, default), its attributes, and an example.
pub fn markdown(kinds: &[&'static KindSchema]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# Resource reference\n");
    let _ = writeln!(
        out,
        "Generated from the kinds' schemas (`cargo test -p deployctl-aws --test suite reference_doc::` checks it; \
         run it with `UPDATE_REFERENCE=1` to regenerate). Property names are the AWS API member names in \
         snake_case; defaults are AWS's own unless noted. A property with no default that you leave out is not \
         managed: deployctl neither sets it nor reports drift on it. **replace** means a change deletes the \
         resource and creates it again (the plan names the property that forces it).\n"
    );
    let _ = writeln!(out, "Every taggable kind also takes `tags:` (a map), updated in place; deployctl adds `deployctl:stack` and `deployctl:resource` itself and finds resources by them after an interrupted run.\n");
    let _ = writeln!(out, "| kind | summary |\n|---|---|");
    for k in kinds {
        let anchor = k.type_name.replace('.', "");
        let first = k.doc.split(". ").next().unwrap_or(k.doc).trim_end_matches('.');
        let _ = writeln!(out, "| [`{}`](#{anchor}) | {first}. |", k.type_name);
    }
    for k in kinds {
        let _ = writeln!(out, "\n## `{}`\n", k.type_name);
        let _ = writeln!(out, "{}\n", k.doc);
        let _ = writeln!(out, "Tags: {}.\n", if k.taggable { "yes" } else { "no" });
        let _ = writeln!(out, "### Properties\n");
        props_table(&mut out, k.properties, "");
        let _ = writeln!(out, "\n### Attributes\n");
        let _ = writeln!(out, "| attribute | description |\n|---|---|");
        for a in k.attributes {
            let _ = writeln!(out, "| `{}` | {} |", a.name, a.doc);
        }
        let _ = writeln!(out, "\n### Example\n\n```yaml\n{}```", k.example);
    }
    let _ = writeln!(out, "\n## Lint rules\n");
    let _ = writeln!(
        out,
        "`deployctl lint SPEC` (and `validate`, which prints its findings) checks the spec against these rules, \
         offline: a value known only after apply is not judged. An `error` makes `lint` exit 1; a `warning` does \
         with `--strict`. A resource switches a rule off with a reason: `lint_ignore: {{logs-no-retention: \"kept \
         forever for audit\"}}`. The checkov ids are the checks each rule stands for.\n"
    );
    out.push_str(&crate::lint::reference());
    out
}
