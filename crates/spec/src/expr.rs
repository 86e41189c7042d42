//! `${…}` expressions inside string scalars.
//!
//! A string is split into text and expressions. `$${` is a literal `${`.
//! Inside `${…}` (surrounding spaces allowed):
//!
//! - `var.NAME`, `stack`, `region`: substituted at load time;
//! - `each.key`, `each.value`, `each.value.FIELD…`: substituted per for_each
//!   instance;
//! - `NAME.ATTR`, `NAME[KEY].ATTR`, `NAME[each.key].ATTR`, `NAME[*].ATTR`:
//!   references to resource attributes, resolved at apply time.
//!
//! Offsets are in characters from the start of the string.

/// A piece of a string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Seg {
    Text(String),
    Expr {
        ast: Ast,
        /// Offset of the `$`.
        offset: usize,
        /// The expression as written, `${…}` included, for messages.
        src: String,
    },
}

/// One parsed `${…}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Ast {
    Var(String),
    Stack,
    /// `stack.NAME.outputs.KEY`: another stack's output.
    StackOutput {
        stack: String,
        output: String,
    },
    /// `data.NAME.ATTR`: what a `data:` lookup found.
    Data {
        name: String,
        attribute: String,
    },
    Region,
    EachKey,
    /// `each.value` followed by field names.
    EachValue(Vec<String>),
    Ref {
        resource: String,
        selector: Sel,
        attribute: String,
    },
}

/// The `[…]` part of a reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Sel {
    /// No brackets.
    Single,
    Key(String),
    /// `[each.key]`
    EachKey,
    /// `[each.value]` or `[each.value.FIELD…]`: the instance whose key is
    /// that value (one NAT shared by several zones, say).
    EachValue(Vec<String>),
    /// `[*]`
    All,
}

/// A malformed expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SyntaxError {
    pub offset: usize,
    pub message: String,
    pub hint: Option<String>,
}

const FORMS: &str =
    "write ${var.NAME}, ${stack}, ${region}, ${each.key}, ${each.value}, ${RESOURCE.ATTRIBUTE}, ${RESOURCE[KEY].ATTRIBUTE} or ${RESOURCE[*].ATTRIBUTE}";

/// Splits a string into text and expressions. Malformed expressions are
/// reported and left out.
pub(crate) fn parse(s: &str) -> (Vec<Seg>, Vec<SyntaxError>) {
    let chars: Vec<char> = s.chars().collect();
    let mut segs = Vec::new();
    let mut errors = Vec::new();
    let mut text = String::new();
    let mut i = 0;
    while i < chars.len() {
        let next = |k: usize| chars.get(i + k).copied();
        if chars[i] == '$' && next(1) == Some('$') && next(2) == Some('{') {
            text.push_str("${");
            i += 3;
        } else if chars[i] == '$' && next(1) == Some('{') {
            let Some(close) = (i + 2..chars.len()).find(|&j| chars[j] == '}') else {
                let rest: String = chars[i..].iter().collect();
                errors.push(SyntaxError {
                    offset: i,
                    message: format!("unterminated expression '{rest}': '${{' without a closing '}}'"),
                    hint: Some("close it with '}', or write '$${' for a literal '${'".into()),
                });
                break;
            };
            let body: String = chars[i + 2..close].iter().collect();
            let src: String = chars[i..=close].iter().collect();
            if !text.is_empty() {
                segs.push(Seg::Text(std::mem::take(&mut text)));
            }
            match parse_body(&body, &src) {
                Ok(ast) => segs.push(Seg::Expr { ast, offset: i, src }),
                Err((message, hint)) => errors.push(SyntaxError { offset: i, message, hint }),
            }
            i = close + 1;
        } else {
            text.push(chars[i]);
            i += 1;
        }
    }
    if !text.is_empty() {
        segs.push(Seg::Text(text));
    }
    (segs, errors)
}

fn is_ident(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Resource names in references: identifiers, and `-` too so that a name
/// like `my-vpc` is reported as an unknown resource rather than as bad syntax.
fn is_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// An output's name: letters, digits, '_' and '-'.
fn is_output_key(s: &str) -> bool {
    is_name(s)
}

/// Whether `s` is a valid for_each key: `[A-Za-z0-9_.-]+`.
pub(crate) fn is_key(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

type BodyError = (String, Option<String>);

fn malformed(src: &str, why: &str) -> BodyError {
    (format!("malformed expression '{src}': {why}"), Some(FORMS.into()))
}

fn parse_body(body: &str, src: &str) -> Result<Ast, BodyError> {
    let body = body.trim();
    if body.is_empty() {
        return Err((format!("empty expression '{src}'"), Some(FORMS.into())));
    }
    match body {
        "stack" => return Ok(Ast::Stack),
        "region" => return Ok(Ast::Region),
        "var" => return Err(malformed(src, "name the variable, like ${var.NAME}")),
        "each" => return Err(malformed(src, "use each.key or each.value")),
        "each.key" => return Ok(Ast::EachKey),
        "each.value" => return Ok(Ast::EachValue(Vec::new())),
        _ => {}
    }
    if let Some(rest) = body.strip_prefix("stack.") {
        return match rest.split('.').collect::<Vec<_>>().as_slice() {
            [stack, "outputs", output] if is_name(stack) && is_output_key(output) => {
                Ok(Ast::StackOutput { stack: stack.to_string(), output: output.to_string() })
            }
            _ => Err(malformed(src, "another stack's output is ${stack.NAME.outputs.KEY}")),
        };
    }
    // `data.NAME.ATTR`; `data.ATTR` stays a reference to a resource named data.
    if let Some([name, attribute]) = body.strip_prefix("data.").map(|r| r.split('.').collect::<Vec<_>>()).as_deref() {
        if is_name(name) && is_ident(attribute) {
            return Ok(Ast::Data { name: name.to_string(), attribute: attribute.to_string() });
        }
    }
    if let Some(name) = body.strip_prefix("var.") {
        if is_ident(name) {
            return Ok(Ast::Var(name.to_string()));
        }
        if let Some((var, _)) = name.split_once('.') {
            if is_ident(var) {
                return Err((
                    format!("malformed expression '{src}': a variable is used whole"),
                    Some(format!("write ${{var.{var}}}")),
                ));
            }
        }
        return Err(malformed(src, "a variable name is letters, digits and '_'"));
    }
    if let Some(path) = body.strip_prefix("each.value.") {
        let fields: Vec<String> = path.split('.').map(str::to_string).collect();
        if fields.iter().all(|f| is_key(f)) {
            return Ok(Ast::EachValue(fields));
        }
        return Err(malformed(src, "each.value fields are names separated by '.'"));
    }
    if body.starts_with("each.") {
        return Err(malformed(src, "each has only each.key and each.value"));
    }
    parse_reference(body, src)
}

fn parse_reference(body: &str, src: &str) -> Result<Ast, BodyError> {
    let name_end = body.find(['[', '.']).unwrap_or(body.len());
    let resource = &body[..name_end];
    if !is_name(resource) {
        return Err(malformed(src, "expected a resource name"));
    }
    let mut rest = &body[name_end..];
    let mut selector = Sel::Single;
    if let Some(after) = rest.strip_prefix('[') {
        let Some(close) = after.find(']') else {
            return Err(malformed(src, "'[' without ']'"));
        };
        let inner = after[..close].trim();
        selector = match inner {
            "*" => Sel::All,
            "each.key" => Sel::EachKey,
            "each.value" => Sel::EachValue(Vec::new()),
            v if v.starts_with("each.value.") => {
                let path: Vec<String> = v["each.value.".len()..].split('.').map(str::to_string).collect();
                if path.iter().any(|f| f.is_empty()) {
                    return Err(malformed(src, "each.value fields are names separated by '.'"));
                }
                Sel::EachValue(path)
            }
            _ => {
                let unquoted = inner.strip_prefix('"').and_then(|s| s.strip_suffix('"')).unwrap_or(inner);
                if !is_key(unquoted) {
                    return Err(malformed(
                        src,
                        "an instance key is letters, digits, '_', '.' and '-' (or * for all, each.key for the current one)",
                    ));
                }
                Sel::Key(unquoted.to_string())
            }
        };
        rest = &after[close + 1..];
    }
    if rest.is_empty() {
        let shown = match &selector {
            Sel::Single => resource.to_string(),
            Sel::Key(k) => format!("{resource}[{k}]"),
            Sel::EachKey => format!("{resource}[each.key]"),
            Sel::EachValue(path) if path.is_empty() => format!("{resource}[each.value]"),
            Sel::EachValue(path) => format!("{resource}[each.value.{}]", path.join(".")),
            Sel::All => format!("{resource}[*]"),
        };
        return Err((
            format!("incomplete reference '{src}': name an attribute"),
            Some(format!("write ${{{shown}.id}} (or another attribute)")),
        ));
    }
    let Some(attribute) = rest.strip_prefix('.') else {
        return Err(malformed(src, "expected '.' and an attribute after the resource"));
    };
    if !is_ident(attribute) {
        let why = if attribute.contains('.') {
            "an attribute is one name, like ${vpc.id}"
        } else {
            "expected an attribute name"
        };
        return Err(malformed(src, why));
    }
    Ok(Ast::Ref { resource: resource.to_string(), selector, attribute: attribute.to_string() })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(s: &str) -> Ast {
        let (segs, errors) = parse(s);
        assert!(errors.is_empty(), "{errors:?}");
        match segs.as_slice() {
            [Seg::Expr { ast, .. }] => ast.clone(),
            other => panic!("{other:?}"),
        }
    }

    fn error(s: &str) -> SyntaxError {
        let (_, errors) = parse(s);
        errors.into_iter().next().unwrap_or_else(|| panic!("no error for {s}"))
    }

    #[test]
    fn forms() {
        assert_eq!(one("${var.env}"), Ast::Var("env".into()));
        assert_eq!(one("${ var.env }"), Ast::Var("env".into()));
        assert_eq!(one("${stack}"), Ast::Stack);
        assert_eq!(one("${region}"), Ast::Region);
        assert_eq!(one("${each.key}"), Ast::EachKey);
        assert_eq!(one("${each.value}"), Ast::EachValue(vec![]));
        assert_eq!(one("${each.value.cidr}"), Ast::EachValue(vec!["cidr".into()]));
        assert_eq!(
            one("${vpc.id}"),
            Ast::Ref { resource: "vpc".into(), selector: Sel::Single, attribute: "id".into() }
        );
        assert_eq!(
            one("${nat[a-1].id}"),
            Ast::Ref { resource: "nat".into(), selector: Sel::Key("a-1".into()), attribute: "id".into() }
        );
        assert_eq!(
            one("${nat[\"a\"].id}"),
            Ast::Ref { resource: "nat".into(), selector: Sel::Key("a".into()), attribute: "id".into() }
        );
        assert_eq!(
            one("${nat[each.key].id}"),
            Ast::Ref { resource: "nat".into(), selector: Sel::EachKey, attribute: "id".into() }
        );
        assert_eq!(
            one("${nat[*].id}"),
            Ast::Ref { resource: "nat".into(), selector: Sel::All, attribute: "id".into() }
        );
    }

    #[test]
    fn text_escapes_and_offsets() {
        let (segs, errors) = parse("a-${var.x}-$${lit}-$x");
        assert!(errors.is_empty());
        assert_eq!(
            segs,
            vec![
                Seg::Text("a-".into()),
                Seg::Expr { ast: Ast::Var("x".into()), offset: 2, src: "${var.x}".into() },
                Seg::Text("-${lit}-$x".into()),
            ]
        );
    }

    #[test]
    fn malformed_expressions() {
        assert!(error("${").message.starts_with("unterminated"));
        assert_eq!(error("ab ${var.x").offset, 3);
        assert!(error("${}").message.starts_with("empty expression"));
        assert!(error("${ }").message.starts_with("empty expression"));
        assert!(error("${a.}").message.starts_with("malformed"));
        assert!(error("${a}").message.starts_with("incomplete reference"));
        assert!(error("${nat[*]}").message.starts_with("incomplete reference"));
        assert!(error("${var}").message.starts_with("malformed"));
        assert!(error("${var.a.b}").message.contains("used whole"));
        assert!(error("${each.foo}").message.starts_with("malformed"));
        assert!(error("${a[b}").message.starts_with("malformed"));
        assert!(error("${a[b c].id}").message.starts_with("malformed"));
        assert!(error("${vpc.tags.Name}").message.contains("one name"));
        assert!(error("${1abc.id}").message.starts_with("malformed"));
        assert_eq!(error("x ${}").offset, 2);
    }
}
