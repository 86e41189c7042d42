//! A YAML tree with positions, built from yaml-rust2's event parser.
//!
//! serde_yaml gives no positions for nodes, so the spec is parsed once into
//! this tree and everything else reads it. Scalars are typed the way
//! serde_yaml 0.9 types them (YAML 1.2 core schema): plain `true`/`false` are
//! booleans, plain integers (decimal, `0x`, `0o`, `0b`) and floats are
//! numbers, plain `~`/`null`/empty are null, and anything quoted or written
//! as a block scalar is a string.
//!
//! Positions are 1-based lines and columns (columns counted in characters).

use crate::model::Pos;
use serde_json::{Number, Value};
use std::collections::HashMap;
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser, Tag};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// Deepest nesting of lists and mappings accepted.
pub(crate) const MAX_DEPTH: usize = 128;
/// Most nodes in a document, counting alias expansions (guards against
/// "billion laughs" documents).
const MAX_NODES: usize = 1_000_000;
/// yaml-rust2's parser recurses once per nesting level and has no limit for
/// block collections. Block nesting needs indentation (or `- `/`? ` indicators)
/// so a line whose indentation prefix is longer than this is refused before
/// parsing.
const MAX_INDENT: usize = 1000;
/// Stack for the parser thread; with MAX_INDENT and the scanner's flow limit
/// (255) the parser stays well under it.
const PARSER_STACK: usize = 64 * 1024 * 1024;

/// The core schema tag prefix (`!!str` is `tag:yaml.org,2002:str`).
const CORE_TAG: &str = "tag:yaml.org,2002:";

/// One YAML node with the position where it is written.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Node {
    pub pos: Pos,
    pub kind: Kind,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Kind {
    Null,
    Bool(bool),
    Number(Number),
    Str(Str),
    Seq(Vec<Node>),
    Map(Vec<Entry>),
}

/// A string scalar.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Str {
    pub value: String,
    /// The column of the value's first character, when the value is written
    /// on one line exactly as it reads (no escapes, no folding), so that the
    /// position of any character in it is known. `None` otherwise.
    pub inline_col: Option<usize>,
}

/// One `key: value` pair of a mapping. Keys are always strings: a scalar key
/// is kept as written (`80: x` has the key `"80"`).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Entry {
    pub key: String,
    pub key_pos: Pos,
    pub value: Node,
}

/// A problem found while reading YAML.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Problem {
    pub pos: Pos,
    pub message: String,
    pub hint: Option<String>,
}

impl Problem {
    fn new(pos: Pos, message: impl Into<String>, hint: Option<String>) -> Problem {
        Problem { pos, message: message.into(), hint }
    }
}

/// A parsed document: its root (`None` for an empty stream) and the
/// problems that did not stop the parse (duplicate keys, unsupported tags…).
#[derive(Debug)]
pub(crate) struct Parsed {
    pub root: Option<Node>,
    pub problems: Vec<Problem>,
}

impl Node {
    /// "a string", "an integer"… for messages.
    pub fn describe(&self) -> &'static str {
        match &self.kind {
            Kind::Null => "null",
            Kind::Bool(_) => "a boolean",
            Kind::Number(n) if n.is_f64() => "a number",
            Kind::Number(_) => "an integer",
            Kind::Str(_) => "a string",
            Kind::Seq(_) => "a list",
            Kind::Map(_) => "a mapping",
        }
    }

    /// The entries of a mapping, `None` for anything else.
    pub fn entries(&self) -> Option<&[Entry]> {
        match &self.kind {
            Kind::Map(e) => Some(e),
            _ => None,
        }
    }

    /// The node as plain JSON data (no interpolation).
    pub fn to_json(&self) -> Value {
        match &self.kind {
            Kind::Null => Value::Null,
            Kind::Bool(b) => Value::Bool(*b),
            Kind::Number(n) => Value::Number(n.clone()),
            Kind::Str(s) => Value::String(s.value.clone()),
            Kind::Seq(items) => Value::Array(items.iter().map(Node::to_json).collect()),
            Kind::Map(entries) => Value::Object(entries.iter().map(|e| (e.key.clone(), e.value.to_json())).collect()),
        }
    }

    /// Number of nodes in this subtree.
    fn size(&self) -> usize {
        1 + match &self.kind {
            Kind::Seq(items) => items.iter().map(Node::size).sum(),
            Kind::Map(entries) => entries.iter().map(|e| e.value.size()).sum(),
            _ => 0,
        }
    }

    /// Nesting levels of collections in this subtree (0 for a scalar).
    fn height(&self) -> usize {
        match &self.kind {
            Kind::Seq(items) => 1 + items.iter().map(Node::height).max().unwrap_or(0),
            Kind::Map(entries) => 1 + entries.iter().map(|e| e.value.height()).max().unwrap_or(0),
            _ => 0,
        }
    }
}

/// Parses one YAML document. `Err` is a fatal problem (a syntax error, a
/// document too deep or too large); the tree is then unusable.
pub(crate) fn parse(text: &str) -> Result<Parsed, Problem> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    check_indentation(text)?;
    let chars: Vec<char> = text.chars().collect();
    // The parser recurses per nesting level: give it a stack of its own, and
    // turn a panic in it (there should be none) into a problem.
    let outcome = std::thread::scope(|scope| {
        let handle = std::thread::Builder::new().name("deployctl-yaml".into()).stack_size(PARSER_STACK).spawn_scoped(
            scope,
            || {
                let mut builder = Builder::new(&chars);
                let mut parser = Parser::new_from_str(text);
                let result = parser.load(&mut builder, true);
                (builder, result)
            },
        );
        match handle {
            Ok(h) => h.join().ok(),
            Err(_) => None,
        }
    });
    let Some((builder, result)) = outcome else {
        return Err(Problem::new(
            Pos { line: 1, column: 1 },
            "the YAML parser failed on this file",
            Some("check the file is valid YAML".into()),
        ));
    };
    if let Some(fatal) = builder.fatal {
        return Err(fatal);
    }
    if let Err(e) = result {
        let m = e.marker();
        let line = m.line().max(1);
        // The `}` of an unquoted `${…}` inside `{…}` closes the flow mapping:
        // the most common way to break a spec.
        let flow_ref = text.lines().nth(line - 1).is_some_and(|l| l.contains("${") && l.contains('{'))
            && e.info().contains("flow mapping");
        let hint = if flow_ref {
            Some("inside a {…} mapping, quote a reference: key: \"${res.attr}\"".to_string())
        } else {
            Some("fix the YAML syntax at this position; every other check runs once the file parses".to_string())
        };
        return Err(Problem::new(Pos { line, column: m.col() + 1 }, format!("invalid YAML: {}", e.info()), hint));
    }
    Ok(Parsed { root: builder.root, problems: builder.problems })
}

/// Refuses lines whose indentation (spaces, tabs and the block indicators
/// `-`, `?`, `:`) is longer than [`MAX_INDENT`]: such nesting would overflow
/// the parser's stack.
fn check_indentation(text: &str) -> Result<(), Problem> {
    for (i, line) in text.lines().enumerate() {
        let prefix = line.chars().take_while(|c| matches!(c, ' ' | '\t' | '-' | '?' | ':')).count();
        let rest_is_blank = line.chars().skip(prefix).all(char::is_whitespace);
        let blank_prefix = line.chars().take(prefix).all(|c| c == ' ' || c == '\t');
        if prefix > MAX_INDENT && !(rest_is_blank && blank_prefix) {
            return Err(Problem::new(
                Pos { line: i + 1, column: 1 },
                format!("nesting too deep: this line is indented by more than {MAX_INDENT} columns"),
                Some("flatten the document".into()),
            ));
        }
    }
    Ok(())
}

fn pos_of(m: &Marker) -> Pos {
    Pos { line: m.line().max(1), column: m.col() + 1 }
}

/// What the mapping on top of the stack expects next.
enum KeyState {
    Key,
    Value(String, Pos),
    /// The key was rejected: drop the value.
    Skip,
}

enum Frame {
    Seq { pos: Pos, anchor: usize, items: Vec<Node> },
    Map { pos: Pos, anchor: usize, entries: Vec<Entry>, next: KeyState },
}

/// Builds the tree from parser events.
struct Builder<'a> {
    chars: &'a [char],
    stack: Vec<Frame>,
    anchors: HashMap<usize, Node>,
    root: Option<Node>,
    documents: usize,
    nodes: usize,
    problems: Vec<Problem>,
    /// Set when building must stop; later events are ignored.
    fatal: Option<Problem>,
}

impl<'a> Builder<'a> {
    fn new(chars: &'a [char]) -> Builder<'a> {
        Builder {
            chars,
            stack: Vec::new(),
            anchors: HashMap::new(),
            root: None,
            documents: 0,
            nodes: 0,
            problems: Vec::new(),
            fatal: None,
        }
    }

    fn count(&mut self, n: usize, pos: Pos) {
        self.nodes = self.nodes.saturating_add(n);
        if self.nodes > MAX_NODES && self.fatal.is_none() {
            self.fatal = Some(Problem::new(
                pos,
                format!("the document is too large (more than {MAX_NODES} nodes once aliases are expanded)"),
                Some("avoid deeply repeated YAML aliases".into()),
            ));
        }
    }

    fn push_frame(&mut self, frame: Frame, pos: Pos) {
        if self.stack.len() >= MAX_DEPTH {
            self.fatal = Some(Problem::new(
                pos,
                format!("nesting too deep (more than {MAX_DEPTH} levels of lists and mappings)"),
                Some("flatten the document".into()),
            ));
            return;
        }
        self.stack.push(frame);
    }

    /// Adds a finished node where the stack expects one. `key_text` is the
    /// text to use if the node turns out to be a mapping key (scalars only);
    /// `empty` marks an empty plain scalar, which takes the position of its key.
    fn add(&mut self, mut node: Node, key_text: Option<String>, empty: bool) {
        let Some(top) = self.stack.last_mut() else {
            if self.root.is_none() {
                self.root = Some(node);
            }
            return;
        };
        match top {
            Frame::Seq { items, .. } => items.push(node),
            Frame::Map { entries, next, .. } => match std::mem::replace(next, KeyState::Key) {
                KeyState::Key => match key_text {
                    Some(key) => {
                        if let Some(first) = entries.iter().find(|e| e.key == key) {
                            let line = first.key_pos.line;
                            self.problems.push(Problem::new(
                                node.pos,
                                format!("duplicate key '{key}'"),
                                Some(format!("'{key}' is already set on line {line}; remove one of them")),
                            ));
                            *next = KeyState::Skip;
                        } else {
                            *next = KeyState::Value(key, node.pos);
                        }
                    }
                    None => {
                        self.problems.push(Problem::new(
                            node.pos,
                            format!("mapping keys must be strings, not {}", node.describe()),
                            None,
                        ));
                        *next = KeyState::Skip;
                    }
                },
                KeyState::Value(key, key_pos) => {
                    if empty {
                        node.pos = key_pos;
                    }
                    entries.push(Entry { key, key_pos, value: node });
                }
                KeyState::Skip => {}
            },
        }
    }

    fn scalar(&mut self, value: String, style: TScalarStyle, anchor: usize, tag: Option<Tag>, m: &Marker) {
        let pos = pos_of(m);
        self.count(1, pos);
        let empty = value.is_empty() && style == TScalarStyle::Plain && tag.is_none();
        let kind = match &tag {
            None if style == TScalarStyle::Plain => resolve_plain(&value),
            None => Kind::Str(Str { value: value.clone(), inline_col: None }),
            Some(tag) => self.resolve_tagged(&value, tag, pos),
        };
        let kind = match kind {
            Kind::Str(_) => Kind::Str(Str { inline_col: self.inline_col(&value, style, m), value: value.clone() }),
            other => other,
        };
        let node = Node { pos, kind };
        if anchor > 0 {
            self.anchors.insert(anchor, node.clone());
        }
        self.add(node, Some(value), empty);
    }

    /// The column of the first character of a string scalar written on one
    /// line exactly as its value reads.
    fn inline_col(&self, value: &str, style: TScalarStyle, m: &Marker) -> Option<usize> {
        if value.contains('\n') {
            return None;
        }
        let skip = match style {
            TScalarStyle::Plain => 0,
            TScalarStyle::SingleQuoted | TScalarStyle::DoubleQuoted => 1,
            TScalarStyle::Literal | TScalarStyle::Folded => return None,
        };
        let start = m.index().checked_add(skip)?;
        let n = value.chars().count();
        let source = self.chars.get(start..start.checked_add(n)?)?;
        if skip == 1 {
            let quote = if style == TScalarStyle::SingleQuoted { '\'' } else { '"' };
            if self.chars.get(m.index()) != Some(&quote) || self.chars.get(start + n) != Some(&quote) {
                return None;
            }
        }
        if source.iter().copied().eq(value.chars()) {
            Some(m.col() + 1 + skip)
        } else {
            None
        }
    }

    fn resolve_tagged(&mut self, value: &str, tag: &Tag, pos: Pos) -> Kind {
        let string = || Kind::Str(Str { value: value.to_string(), inline_col: None });
        if tag.handle == "!" && tag.suffix.is_empty() {
            return string();
        }
        if tag.handle == CORE_TAG {
            let resolved = match tag.suffix.as_str() {
                "str" => Some(string()),
                "null" => (value.is_empty() || parse_null(value)).then_some(Kind::Null),
                "bool" => parse_bool(value).map(Kind::Bool),
                "int" => parse_int(value).map(Kind::Number),
                "float" => parse_int(value).or_else(|| parse_float(value)).map(Kind::Number),
                _ => {
                    self.problems.push(unsupported_tag(tag, pos));
                    return resolve_plain(value);
                }
            };
            return resolved.unwrap_or_else(|| {
                self.problems.push(Problem::new(pos, format!("'{value}' is not a valid !!{}", tag.suffix), None));
                string()
            });
        }
        self.problems.push(unsupported_tag(tag, pos));
        resolve_plain(value)
    }

    fn check_collection_tag(&mut self, tag: Option<&Tag>, expected: &str, pos: Pos) {
        if let Some(tag) = tag {
            if !(tag.handle == CORE_TAG && tag.suffix == expected) {
                self.problems.push(unsupported_tag(tag, pos));
            }
        }
    }

    fn end_frame(&mut self) {
        let Some(frame) = self.stack.pop() else {
            return;
        };
        let (node, anchor) = match frame {
            Frame::Seq { pos, anchor, items } => (Node { pos, kind: Kind::Seq(items) }, anchor),
            Frame::Map { pos, anchor, entries, .. } => {
                // yaml-rust2 marks a block mapping's start after its first
                // key; the mapping starts at that key.
                let pos = entries.first().map_or(pos, |e| e.key_pos.min(pos));
                (Node { pos, kind: Kind::Map(entries) }, anchor)
            }
        };
        if anchor > 0 {
            self.anchors.insert(anchor, node.clone());
        }
        self.add(node, None, false);
    }

    fn alias(&mut self, id: usize, m: &Marker) {
        let pos = pos_of(m);
        let Some(node) = self.anchors.get(&id).cloned() else {
            self.problems.push(Problem::new(pos, "unknown YAML alias", None));
            self.add(Node { pos, kind: Kind::Null }, None, false);
            return;
        };
        self.count(node.size(), pos);
        if self.stack.len() + node.height() > MAX_DEPTH {
            self.fatal = Some(Problem::new(
                pos,
                format!("nesting too deep (more than {MAX_DEPTH} levels of lists and mappings)"),
                Some("flatten the document".into()),
            ));
            return;
        }
        let key_text = match &node.kind {
            Kind::Str(s) => Some(s.value.clone()),
            Kind::Null | Kind::Bool(_) | Kind::Number(_) => Some(node.to_json().to_string()),
            Kind::Seq(_) | Kind::Map(_) => None,
        };
        self.add(node, key_text, false);
    }
}

fn unsupported_tag(tag: &Tag, pos: Pos) -> Problem {
    let name =
        if tag.handle == CORE_TAG { format!("!!{}", tag.suffix) } else { format!("{}{}", tag.handle, tag.suffix) };
    Problem::new(
        pos,
        format!("unsupported YAML tag '{name}'"),
        Some("remove the tag; only !!str, !!int, !!float, !!bool, !!null, !!seq and !!map are understood".into()),
    )
}

impl MarkedEventReceiver for Builder<'_> {
    fn on_event(&mut self, ev: Event, m: Marker) {
        if self.fatal.is_some() {
            return;
        }
        match ev {
            Event::DocumentStart => {
                self.documents += 1;
                if self.documents == 2 {
                    self.problems.push(Problem::new(
                        pos_of(&m),
                        "a spec is one YAML document; this second document is ignored",
                        Some("remove the '---' line and everything after it, or merge the documents".into()),
                    ));
                }
            }
            _ if self.documents > 1 => {}
            Event::Nothing | Event::StreamStart | Event::StreamEnd | Event::DocumentEnd => {}
            Event::Scalar(value, style, anchor, tag) => self.scalar(value, style, anchor, tag, &m),
            Event::SequenceStart(anchor, tag) => {
                let pos = pos_of(&m);
                self.count(1, pos);
                self.check_collection_tag(tag.as_ref(), "seq", pos);
                self.push_frame(Frame::Seq { pos, anchor, items: Vec::new() }, pos);
            }
            Event::MappingStart(anchor, tag) => {
                let pos = pos_of(&m);
                self.count(1, pos);
                self.check_collection_tag(tag.as_ref(), "map", pos);
                self.push_frame(Frame::Map { pos, anchor, entries: Vec::new(), next: KeyState::Key }, pos);
            }
            Event::SequenceEnd | Event::MappingEnd => self.end_frame(),
            Event::Alias(id) => self.alias(id, &m),
        }
    }
}

/// Types a plain scalar as serde_yaml 0.9 does.
pub(crate) fn resolve_plain(s: &str) -> Kind {
    if s.is_empty() || parse_null(s) {
        return Kind::Null;
    }
    if let Some(b) = parse_bool(s) {
        return Kind::Bool(b);
    }
    if let Some(n) = parse_int(s) {
        return Kind::Number(n);
    }
    if !digits_but_not_number(s) {
        if let Some(n) = parse_float(s) {
            return Kind::Number(n);
        }
    }
    Kind::Str(Str { value: s.to_string(), inline_col: None })
}

fn parse_null(s: &str) -> bool {
    matches!(s, "~" | "null" | "Null" | "NULL")
}

fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "true" | "True" | "TRUE" => Some(true),
        "false" | "False" | "FALSE" => Some(false),
        _ => None,
    }
}

/// Leading zeros followed by digits is a string in YAML 1.2 (`0123`).
fn digits_but_not_number(s: &str) -> bool {
    let s = s.strip_prefix(['-', '+']).unwrap_or(s);
    s.len() > 1 && s.starts_with('0') && s[1..].bytes().all(|b| b.is_ascii_digit())
}

fn radix_prefixed(s: &str) -> Option<(&str, u32)> {
    for (prefix, radix) in [("0x", 16), ("0o", 8), ("0b", 2)] {
        if let Some(rest) = s.strip_prefix(prefix) {
            if rest.starts_with(['+', '-']) {
                return None;
            }
            return Some((rest, radix));
        }
    }
    None
}

fn parse_int(s: &str) -> Option<Number> {
    // Non-negative: optional '+', then a radix prefix or decimal digits.
    let unsigned = s.strip_prefix('+').unwrap_or(s);
    if !unsigned.starts_with(['+', '-']) {
        if let Some((rest, radix)) = radix_prefixed(unsigned) {
            if let Ok(n) = u64::from_str_radix(rest, radix) {
                return Some(n.into());
            }
        } else if !digits_but_not_number(s) {
            if let Ok(n) = unsigned.parse::<u64>() {
                return Some(n.into());
            }
        }
    }
    // Negative.
    if let Some(rest) = s.strip_prefix('-') {
        if let Some((digits, radix)) = radix_prefixed(rest) {
            if let Ok(n) = i64::from_str_radix(&format!("-{digits}"), radix) {
                return Some(n.into());
            }
        } else if !digits_but_not_number(s) {
            if let Ok(n) = s.parse::<i64>() {
                return Some(n.into());
            }
        }
    }
    None
}

/// A finite float. YAML's `.inf` and `.nan` have no JSON form and stay strings.
fn parse_float(s: &str) -> Option<Number> {
    let unsigned = match s.strip_prefix('+') {
        Some(rest) if rest.starts_with(['+', '-']) => return None,
        Some(rest) => rest,
        None => s,
    };
    match unsigned.parse::<f64>() {
        Ok(f) if f.is_finite() => Number::from_f64(f),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root(text: &str) -> Node {
        match parse(text) {
            Ok(Parsed { root: Some(n), .. }) => n,
            other => panic!("no root: {other:?}"),
        }
    }

    #[test]
    fn scalar_typing_matches_serde_yaml() {
        let cases = [
            "true",
            "True",
            "FALSE",
            "yes",
            "no",
            "on",
            "~",
            "null",
            "NULL",
            "",
            "1",
            "-1",
            "+1",
            "0x1f",
            "-0x1f",
            "0o17",
            "0b101",
            "0123",
            "-0123",
            "1.5",
            "1e3",
            "-.5",
            ".inf",
            "-.inf",
            ".nan",
            "1_000",
            "18446744073709551615",
            "-9223372036854775808",
            "3.0",
            "0",
            "-0",
            "0.",
            "abc",
            "1h",
            "10.0.0.0/16",
            "+",
            "-1.5e-3",
            "0x",
            "'80'",
            "\"true\"",
            "!!str 12",
            "!!int 12",
            "2001-01-01",
        ];
        for case in cases {
            let text = format!("v: {case}\n");
            let ours = root(&text).to_json();
            let theirs: serde_yaml::Value = serde_yaml::from_str(&text).expect("serde_yaml parses");
            let theirs = serde_json::to_value(&theirs).unwrap_or(Value::Null);
            // .inf/.nan: JSON has no such numbers; serde_json turns them into null.
            if matches!(case, ".inf" | "-.inf" | ".nan") {
                assert_eq!(ours["v"], Value::String(case.into()));
                continue;
            }
            assert_eq!(ours, theirs, "for {case:?}");
        }
    }

    #[test]
    fn positions_are_one_based() {
        let n = root("a: 1\nbb:\n  - x\n  - \"y z\"\n");
        let entries = n.entries().expect("map");
        assert_eq!(entries[0].key_pos, Pos { line: 1, column: 1 });
        assert_eq!(entries[0].value.pos, Pos { line: 1, column: 4 });
        assert_eq!(entries[1].key_pos, Pos { line: 2, column: 1 });
        let Kind::Seq(items) = &entries[1].value.kind else { panic!("seq") };
        assert_eq!(items[0].pos, Pos { line: 3, column: 5 });
        assert_eq!(items[1].pos, Pos { line: 4, column: 5 });
        let Kind::Str(s) = &items[1].kind else { panic!("str") };
        assert_eq!(s.inline_col, Some(6));
    }

    #[test]
    fn block_mapping_starts_at_its_first_key() {
        let n = root("stack: net\nr:\n  a: 1\nf: {b: 2}\n");
        assert_eq!(n.pos, Pos { line: 1, column: 1 });
        let e = n.entries().expect("map");
        assert_eq!(e[1].value.pos, Pos { line: 3, column: 3 });
        assert_eq!(e[2].value.pos, Pos { line: 4, column: 4 });
    }

    #[test]
    fn empty_value_takes_key_position() {
        let n = root("a:\nb: 1\n");
        let entries = n.entries().expect("map");
        assert_eq!(entries[0].value.kind, Kind::Null);
        assert_eq!(entries[0].value.pos, Pos { line: 1, column: 1 });
    }

    #[test]
    fn inline_col_only_when_source_matches() {
        let n = root("a: \"x\\ty\"\nb: 'it''s'\nc: plain text\nd: |\n  block\n");
        let e = n.entries().expect("map");
        let col = |i: usize| match &e[i].value.kind {
            Kind::Str(s) => s.inline_col,
            _ => panic!("str"),
        };
        assert_eq!(col(0), None);
        assert_eq!(col(1), None);
        assert_eq!(col(2), Some(4));
        assert_eq!(col(3), None);
    }

    #[test]
    fn duplicate_keys_and_aliases() {
        let parsed = parse("a: &x [1, 2]\nb: *x\na: 3\n").expect("parses");
        assert_eq!(parsed.problems.len(), 1);
        assert_eq!(parsed.problems[0].pos, Pos { line: 3, column: 1 });
        assert_eq!(parsed.problems[0].message, "duplicate key 'a'");
        let root = parsed.root.expect("root");
        assert_eq!(root.to_json(), serde_json::json!({"a": [1, 2], "b": [1, 2]}));
    }

    #[test]
    fn syntax_error_position() {
        let e = parse("a: [1, 2\nb: 3\n").expect_err("bad yaml");
        assert_eq!(e.pos.line, 2);
        assert!(e.message.starts_with("invalid YAML"), "{}", e.message);
    }

    #[test]
    fn deep_nesting_is_refused_not_overflowed() {
        let text = "- ".repeat(100_000) + "x";
        assert!(parse(&text).is_err());
        let text = "[".repeat(1000);
        assert!(parse(&text).is_err());
        let text = "- ".repeat(200) + "x";
        let e = parse(&text).expect_err("too deep");
        assert!(e.message.contains("nesting too deep"), "{}", e.message);
    }

    #[test]
    fn alias_bomb_is_refused() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..12 {
            let p = i - 1;
            text.push_str(&format!(
                "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
            ));
        }
        let e = parse(&text).expect_err("too large");
        assert!(e.message.contains("too large"), "{}", e.message);
    }
}
