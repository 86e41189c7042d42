//! From the YAML tree to a validated [`Stack`].

use crate::diag::{Diagnostic, Diagnostics};
use crate::expr::is_key;
use crate::model::{
    dependencies, BackendSpec, DataSource, Environment, Expr, Lifecycle, Lookups, Output, Pos, RemoteSource,
    RemoteStack, ReplaceOrder, Resource, Stack, Timeouts, VarOverrides,
};
use crate::report::Report;
use crate::schema::{KindSchema, SchemaRegistry};
use crate::suggest;
use crate::value::{self, build, untyped, Each, Region, Remote, Scope, Target, Targets, Typer, Val};
use crate::vars::{self, Vars};
use crate::yaml::{self, Entry, Kind, Node};
use petgraph::graph::{DiGraph, NodeIndex};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::path::Path;
use std::time::Duration;

const TOP_KEYS: &[&str] =
    &["stack", "environment", "region", "backend", "stacks", "data", "tags", "vars", "resources", "outputs"];
const RESOURCE_KEYS: &[&str] =
    &["type", "properties", "depends_on", "tags", "timeouts", "lifecycle", "for_each", "lint_ignore"];
const LIFECYCLE_KEYS: &[&str] = &["replace", "ignore_changes"];
const TIMEOUT_KEYS: &[&str] = &["create", "update", "delete"];
const S3_KEYS: &[&str] = &["bucket", "key", "lock_table", "region"];
/// Names that would be ambiguous in `${…}`.
const RESERVED: &[&str] = &["var", "each", "stack", "region"];

/// Reads and loads a spec file; see [`load_str`]. A file that cannot be read
/// is one diagnostic without a position.
pub fn load(path: &Path, overrides: &VarOverrides, registry: &dyn SchemaRegistry) -> Result<Stack, Diagnostics> {
    load_with(path, overrides, registry, &Lookups::NotRead)
}

/// [`load`] with the outputs of the stacks the spec reads (`stacks:`), so
/// that `${stack.NAME.outputs.KEY}` has its value and is type-checked.
pub fn load_with(
    path: &Path,
    overrides: &VarOverrides,
    registry: &dyn SchemaRegistry,
    outputs: &Lookups,
) -> Result<Stack, Diagnostics> {
    let file = path.display().to_string();
    let fail = |pos: Option<Pos>, message: String| {
        Err(Diagnostics(vec![Diagnostic { file: file.clone(), pos, message, hint: None }]))
    };
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => return fail(None, format!("cannot read the spec: {e}")),
    };
    match String::from_utf8(bytes) {
        Ok(text) => load_str_with(&file, &text, overrides, registry, outputs),
        Err(e) => {
            let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
            let text = String::from_utf8_lossy(valid);
            let line = text.matches('\n').count() + 1;
            let column = text.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            fail(Some(Pos { line, column }), "the spec is not UTF-8 text".into())
        }
    }
}

/// Loads a spec from text. `file` names it in diagnostics. `--var-file`
/// paths in `overrides` are read here (relative to the current directory),
/// then `--var` pairs are applied.
///
/// Returns the validated stack, or every problem found.
pub fn load_str(
    file: &str,
    text: &str,
    overrides: &VarOverrides,
    registry: &dyn SchemaRegistry,
) -> Result<Stack, Diagnostics> {
    load_str_with(file, text, overrides, registry, &Lookups::NotRead)
}

pub fn load_str_with(
    file: &str,
    text: &str,
    overrides: &VarOverrides,
    registry: &dyn SchemaRegistry,
    outputs: &Lookups,
) -> Result<Stack, Diagnostics> {
    let mut report = Report::new(file);
    let stack = Loader { report: &mut report, registry, outputs }.run(file, text, overrides);
    report.finish(stack)
}

/// A resource as declared, before its instances are built.
struct Decl<'n> {
    name: String,
    pos: Pos,
    fields: HashMap<&'n str, &'n Entry>,
    kind: Option<&'static KindSchema>,
    /// `None` without for_each; `Some(None)` when it could not be evaluated.
    for_each: Option<Option<Vec<(String, Value)>>>,
}

struct Loader<'a> {
    report: &'a mut Report,
    registry: &'a dyn SchemaRegistry,
    outputs: &'a Lookups,
}

/// The parts of a scope that stay the same for the whole stack.
#[derive(Clone, Copy)]
struct Base<'a> {
    /// `environment:` is written with a `${…}`: the spec serves several
    /// environments, so fixed unique names would collide between them.
    several_environments: bool,
    vars: &'a Vars,
    stack: Option<&'a str>,
    region: Region<'a>,
    remote: Remote<'a>,
}

impl<'a> Base<'a> {
    fn scope(&self, each: Each<'a>, targets: Option<&'a Targets>, context: &'a str) -> Scope<'a> {
        Scope { vars: self.vars, stack: self.stack, region: self.region, each, targets, context, remote: self.remote }
    }
}

fn is_resource_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

fn is_output_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

fn address(name: &str, key: Option<&str>) -> String {
    match key {
        Some(k) => format!("{name}[{k}]"),
        None => name.to_string(),
    }
}

/// The entries of a mapping node; null is an empty mapping.
fn map_entries(node: &Node) -> Option<&[Entry]> {
    match &node.kind {
        Kind::Null => Some(&[]),
        Kind::Map(entries) => Some(entries),
        _ => None,
    }
}

impl Loader<'_> {
    fn error(&mut self, pos: Pos, message: impl Into<String>, hint: Option<String>) {
        self.report.error(pos, message, hint);
    }

    fn run(&mut self, file: &str, text: &str, overrides: &VarOverrides) -> Option<Stack> {
        let parsed = match yaml::parse(text) {
            Ok(p) => p,
            Err(p) => {
                self.error(p.pos, p.message, p.hint);
                return None;
            }
        };
        for p in parsed.problems {
            self.error(p.pos, p.message, p.hint);
        }
        let Some(root) = parsed.root else {
            self.error(
                Pos { line: 1, column: 1 },
                "the spec is empty",
                Some("a spec needs at least 'stack: NAME' and 'region: REGION'".into()),
            );
            return None;
        };
        let Some(entries) = root.entries() else {
            self.error(
                root.pos,
                format!("the spec must be a mapping (stack:, region:, resources:…), not {}", root.describe()),
                None,
            );
            return None;
        };
        let mut sections: HashMap<&str, &Entry> = HashMap::new();
        // Keys a misspelt key was probably meant to be: not reported again as missing.
        let mut meant: Vec<&str> = Vec::new();
        for e in entries {
            if let Some(known) = TOP_KEYS.iter().find(|k| **k == e.key) {
                sections.insert(known, e);
            } else {
                meant.extend(suggest::closest(&e.key, TOP_KEYS.iter().copied()));
                self.error(
                    e.key_pos,
                    format!("unknown top-level key '{}'", e.key),
                    suggest::hint(&e.key, TOP_KEYS, "top-level keys are: ", ""),
                );
            }
        }
        let section = |k: &str| sections.get(k).copied();

        let vars = vars::resolve(section("vars"), overrides, self.report);
        let name = self.stack_name(section("stack"), root.pos, meant.contains(&"stack"));
        let region = self.region(section("region"), root.pos, &vars, name.as_deref(), meant.contains(&"region"));
        // `stacks:` and `data:` are read before what may refer to them.
        let declaring = Base {
            several_environments: false,
            vars: &vars,
            stack: name.as_deref(),
            region: region.as_deref().map_or(Region::Failed, Region::Known),
            remote: Remote { declared: &[], data: &[], outputs: &Lookups::NotRead },
        };
        let remote_stacks = section("stacks")
            .map(|e| self.remote_stacks(e, &declaring.scope(Each::None, None, "stacks")))
            .unwrap_or_default();
        let data = section("data")
            .map(|e| self.data_sources(e, &declaring.scope(Each::None, None, "data")))
            .unwrap_or_default();
        let mut base = Base {
            several_environments: false,
            vars: &vars,
            stack: name.as_deref(),
            region: region.as_deref().map_or(Region::Failed, Region::Known),
            remote: Remote { declared: &remote_stacks, data: &data, outputs: self.outputs },
        };
        let environment = section("environment").and_then(|e| self.environment(e, &base));
        base.several_environments = environment.as_ref().is_some_and(|e| e.templated);
        let backend = section("backend").and_then(|e| self.backend(e, &base.scope(Each::None, None, "the backend")));
        let tags = section("tags")
            .map(|e| self.stack_tags(e, &base.scope(Each::None, None, "stack tags")))
            .unwrap_or_default();
        let resources = self.resources(section("resources"), base);
        let outputs = section("outputs").map(|e| self.outputs(e, base, &resources.1)).unwrap_or_default();

        let stack = Stack {
            file: file.to_string(),
            name: name.unwrap_or_default(),
            environment,
            region: region.unwrap_or_default(),
            backend,
            vars: BTreeMap::new(),
            tags,
            resources: resources.0,
            outputs,
            remote_stacks: remote_stacks.clone(),
            data: data.clone(),
        };
        self.check_cycles(&stack);
        if self.report.has_errors() {
            return None;
        }
        Some(Stack { vars: vars.into_values(), ..stack })
    }

    /// The stack name. `misspelt`: a misspelt key for it was already reported.
    fn stack_name(&mut self, entry: Option<&Entry>, root_pos: Pos, misspelt: bool) -> Option<String> {
        let hint = || Some("use 1 to 64 lowercase letters, digits and '-'".to_string());
        let Some(e) = entry else {
            if !misspelt {
                self.error(
                    root_pos,
                    "missing 'stack': the stack's name",
                    Some("add 'stack: NAME' (lowercase letters, digits and '-')".into()),
                );
            }
            return None;
        };
        let name = match &e.value.kind {
            Kind::Str(s) => s.value.clone(),
            Kind::Number(n) if !n.is_f64() => n.to_string(),
            _ => {
                self.error(e.value.pos, format!("'stack' must be a name, not {}", e.value.describe()), hint());
                return None;
            }
        };
        let valid = (1..=64).contains(&name.len())
            && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !valid {
            self.error(e.value.pos, format!("invalid stack name '{name}'"), hint());
            return None;
        }
        Some(name)
    }

    /// The environment: which instance of the stack this run is (`prod`,
    /// `dev`…), usually `${var.env}` so that a var file selects it.
    fn environment(&mut self, e: &Entry, base: &Base) -> Option<Environment> {
        let hint = || Some("use 1 to 32 lowercase letters, digits and '-', e.g. 'environment: ${var.env}'".to_string());
        let templated = matches!(&e.value.kind, Kind::Str(s) if s.value.contains("${"));
        match build(&e.value, &base.scope(Each::None, None, "the environment"), self.report) {
            Val::Lit(v @ (Value::String(_) | Value::Number(_)), pos) => {
                let name = value::render(&v);
                let valid = (1..=32).contains(&name.len())
                    && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
                if !valid {
                    self.error(pos, format!("invalid environment '{name}'"), hint());
                    return None;
                }
                Some(Environment { name, templated, pos })
            }
            Val::Unknown(_) => None,
            other => {
                self.error(other.pos(), format!("'environment' must be a name, not {}", other.describe()), hint());
                None
            }
        }
    }

    /// The region. `misspelt`: a misspelt key for it was already reported.
    fn region(
        &mut self,
        entry: Option<&Entry>,
        root_pos: Pos,
        vars: &Vars,
        stack: Option<&str>,
        misspelt: bool,
    ) -> Option<String> {
        let Some(e) = entry else {
            if !misspelt {
                self.error(
                    root_pos,
                    "missing 'region'",
                    Some("add 'region: us-east-1' (or another AWS region)".into()),
                );
            }
            return None;
        };
        let scope = Scope {
            vars,
            stack,
            region: Region::Itself,
            each: Each::None,
            targets: None,
            context: "the region",
            remote: Remote { declared: &[], data: &[], outputs: &Lookups::NotRead },
        };
        match build(&e.value, &scope, self.report) {
            Val::Lit(Value::String(s), pos) => {
                if !s.is_empty() && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-') {
                    Some(s)
                } else {
                    self.error(pos, format!("invalid region '{s}'"), Some("a region looks like us-east-1".into()));
                    None
                }
            }
            Val::Unknown(_) => None,
            other => {
                self.error(other.pos(), format!("'region' must be a string, not {}", other.describe()), None);
                None
            }
        }
    }

    /// A string value of a plain field (the backend's); `None` after reporting.
    fn text(&mut self, node: &Node, scope: &Scope, what: &str) -> Option<String> {
        match build(node, scope, self.report) {
            Val::Lit(Value::String(s), _) if !s.is_empty() => Some(s),
            Val::Unknown(_) => None,
            other => {
                self.error(other.pos(), format!("{what} must be a non-empty string, not {}", other.describe()), None);
                None
            }
        }
    }

    fn backend(&mut self, e: &Entry, scope: &Scope) -> Option<BackendSpec> {
        let hint = || Some("write backend: {s3: {bucket: B, key: K, lock_table: T}}".to_string());
        let Some(entries) = e.value.entries() else {
            self.error(e.value.pos, format!("'backend' must be a mapping, not {}", e.value.describe()), hint());
            return None;
        };
        let mut s3 = None;
        for b in entries {
            if b.key == "s3" {
                s3 = Some(b);
            } else {
                self.error(b.key_pos, format!("unknown backend '{}'", b.key), Some("the only backend is s3".into()));
            }
        }
        let Some(s3) = s3 else {
            if entries.is_empty() {
                self.error(e.key_pos, "'backend' is empty", hint());
            }
            return None;
        };
        let Some(fields) = s3.value.entries() else {
            self.error(s3.value.pos, format!("'backend.s3' must be a mapping, not {}", s3.value.describe()), hint());
            return None;
        };
        let mut values: HashMap<&str, Option<String>> = HashMap::new();
        let mut meant: Vec<&str> = Vec::new();
        for f in fields {
            match S3_KEYS.iter().find(|k| **k == f.key) {
                Some(k) => {
                    let v = self.text(&f.value, scope, &format!("'backend.s3.{k}'"));
                    values.insert(k, v);
                }
                None => {
                    meant.extend(suggest::closest(&f.key, S3_KEYS.iter().copied()));
                    self.error(
                        f.key_pos,
                        format!("unknown key '{}' in backend.s3", f.key),
                        suggest::hint(&f.key, S3_KEYS, "backend.s3 takes: ", ""),
                    );
                }
            }
        }
        let mut required = |k: &str| match values.get(k) {
            Some(v) => v.clone(),
            None => {
                if !meant.contains(&k) {
                    self.error(s3.key_pos, format!("missing '{k}' in backend.s3"), hint());
                }
                None
            }
        };
        let bucket = required("bucket");
        let key = required("key");
        let lock_table = required("lock_table");
        let region = values.get("region").cloned().flatten();
        Some(BackendSpec::S3 { bucket: bucket?, key: key?, lock_table: lock_table?, region })
    }

    /// `data: {NAME: {type: KIND, id: ID}}`, `{type: KIND, tags: {K: V}}` or
    /// `{type: KIND, name: NAME}`.
    fn data_sources(&mut self, e: &Entry, scope: &Scope) -> Vec<DataSource> {
        let hint = || Some("write data: {shared: {type: ec2.vpc, tags: {Name: shared}}} (or id: vpc-…)".to_string());
        let Some(entries) = map_entries(&e.value) else {
            self.error(e.value.pos, format!("'data' must be a mapping, not {}", e.value.describe()), hint());
            return Vec::new();
        };
        let mut out = Vec::new();
        for d in entries {
            let fields = d.value.entries().unwrap_or_default();
            let (mut type_name, mut id, mut tags, mut by_name) = (None, None, BTreeMap::new(), None);
            for f in fields {
                match f.key.as_str() {
                    "type" => {
                        type_name = self.kind(f).map(|k| k.type_name.to_string());
                    }
                    "id" => id = self.text(&f.value, scope, "'id'"),
                    "name" => by_name = self.text(&f.value, scope, "'name'"),
                    "tags" => {
                        for t in map_entries(&f.value).unwrap_or_default() {
                            if let Some(v) = self.text(&t.value, scope, &format!("tag {}", t.key)) {
                                tags.insert(t.key.clone(), v);
                            }
                        }
                    }
                    other => self.error(
                        f.key_pos,
                        format!("unknown key '{other}' in data source '{}'", d.key),
                        Some("a data source takes: type, and one of id, tags, name".into()),
                    ),
                }
            }
            if type_name.is_none() && !fields.iter().any(|f| f.key == "type") {
                self.error(d.key_pos, format!("data source '{}' has no type", d.key), hint());
            }
            if [id.is_some(), !tags.is_empty(), by_name.is_some()].iter().filter(|b| **b).count() != 1 {
                let message = format!("data source '{}' needs exactly one of id:, tags: or name:", d.key);
                self.error(d.key_pos, message, hint());
                continue;
            }
            if let Some(type_name) = type_name {
                out.push(DataSource { name: d.key.clone(), type_name, id, tags, by_name, pos: d.key_pos });
            }
        }
        out
    }

    /// `stacks: {NAME: {state: PATH}}` or `{NAME: {s3: {bucket, key, region}}}`.
    fn remote_stacks(&mut self, e: &Entry, scope: &Scope) -> Vec<RemoteStack> {
        let hint = || {
            Some(
                "write stacks: {network: {state: state/network.json}} or {network: {s3: {bucket: B, key: K}}}"
                    .to_string(),
            )
        };
        let Some(entries) = map_entries(&e.value) else {
            self.error(e.value.pos, format!("'stacks' must be a mapping, not {}", e.value.describe()), hint());
            return Vec::new();
        };
        let mut out = Vec::new();
        for r in entries {
            let fields = r.value.entries().unwrap_or_default();
            let source = match fields {
                [f] if f.key == "state" => {
                    self.text(&f.value, scope, "'state'").map(|path| RemoteSource::Local { path })
                }
                [f] if f.key == "s3" => {
                    let s3 = f.value.entries().unwrap_or_default();
                    let mut get = |k: &str| s3.iter().find(|x| x.key == k).and_then(|x| self.text(&x.value, scope, k));
                    let (bucket, key, region) = (get("bucket"), get("key"), get("region"));
                    for x in s3.iter().filter(|x| !["bucket", "key", "region"].contains(&x.key.as_str())) {
                        self.error(x.key_pos, format!("unknown key '{}' in stacks.{}.s3", x.key, r.key), hint());
                    }
                    match (bucket, key) {
                        (Some(bucket), Some(key)) => Some(RemoteSource::S3 { bucket, key, region }),
                        _ => {
                            self.error(f.key_pos, format!("stacks.{}.s3 needs bucket and key", r.key), hint());
                            None
                        }
                    }
                }
                _ => {
                    self.error(r.key_pos, format!("stack '{}' needs one of state: or s3:", r.key), hint());
                    None
                }
            };
            if let Some(source) = source {
                out.push(RemoteStack { name: r.key.clone(), source, pos: r.key_pos });
            }
        }
        out
    }

    fn stack_tags(&mut self, e: &Entry, scope: &Scope) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        let Some(entries) = map_entries(&e.value) else {
            self.error(
                e.value.pos,
                format!("'tags' must be a mapping of tag names to values, not {}", e.value.describe()),
                None,
            );
            return out;
        };
        for t in entries {
            match build(&t.value, scope, self.report) {
                Val::Lit(v @ (Value::String(_) | Value::Number(_) | Value::Bool(_)), _) => {
                    out.insert(t.key.clone(), value::render(&v));
                }
                Val::Unknown(_) => {}
                other => {
                    self.error(other.pos(), format!("tag '{}' must be a string, not {}", t.key, other.describe()), None)
                }
            }
        }
        out
    }

    /// Every resource: declarations first (so references can be checked in
    /// any order), then the instances. Also returns the reference targets.
    fn resources(&mut self, section: Option<&Entry>, base: Base) -> (Vec<Resource>, Targets) {
        let Some(section) = section else {
            return (Vec::new(), Targets::new());
        };
        let Some(entries) = map_entries(&section.value) else {
            self.error(
                section.value.pos,
                format!("'resources' must be a mapping of names to resources, not {}", section.value.describe()),
                None,
            );
            return (Vec::new(), Targets::new());
        };
        let mut decls = Vec::new();
        for e in entries {
            if let Some(d) = self.declare(e, base) {
                decls.push(d);
            }
        }
        let targets: Targets = decls
            .iter()
            .map(|d| {
                let keys =
                    d.for_each.as_ref().map(|fe| fe.as_ref().map(|l| l.iter().map(|(k, _)| k.clone()).collect()));
                (d.name.clone(), Target { kind: d.kind, keys })
            })
            .collect();
        let mut resources = Vec::new();
        for d in &decls {
            match &d.for_each {
                None => resources.extend(self.instance(d, None, base, &targets)),
                Some(Some(list)) if !list.is_empty() => {
                    for (key, value) in list {
                        resources.extend(self.instance(d, Some((key, value)), base, &targets));
                    }
                }
                // No instances: check what can be checked, keep nothing.
                Some(_) => {
                    let _ = self.instance(d, None, base, &targets);
                }
            }
        }
        (resources, targets)
    }

    fn declare<'n>(&mut self, e: &'n Entry, base: Base) -> Option<Decl<'n>> {
        let name = &e.key;
        if RESERVED.contains(&name.as_str()) {
            self.error(e.key_pos, format!("'{name}' is reserved and cannot name a resource"), None);
        } else if !is_resource_name(name) {
            self.error(
                e.key_pos,
                format!("invalid resource name '{name}'"),
                Some("start with a lowercase letter, then use lowercase letters, digits and '_'".into()),
            );
        }
        let Some(entries) = e.value.entries() else {
            self.error(
                e.value.pos,
                format!("resource '{name}' must be a mapping with type and properties, not {}", e.value.describe()),
                Some("write: NAME: {type: TYPE, properties: {…}}".into()),
            );
            return None;
        };
        let mut fields: HashMap<&str, &Entry> = HashMap::new();
        let mut unknown = Vec::new();
        for f in entries {
            match RESOURCE_KEYS.iter().find(|k| **k == f.key) {
                Some(k) => {
                    fields.insert(k, f);
                }
                None => unknown.push(f),
            }
        }
        let kind = match fields.get("type") {
            None => {
                let example = self.registry.type_names().first().map(|t| format!(" (for example 'type: {t}')"));
                self.error(
                    e.key_pos,
                    format!("resource '{name}' has no type"),
                    Some(format!("add a type{}", example.unwrap_or_default())),
                );
                None
            }
            Some(t) => self.kind(t),
        };
        for f in unknown {
            let hint = match kind.and_then(|k| k.property(&f.key)) {
                Some(_) => Some(format!("'{}' is a property: move it under properties:", f.key)),
                None => suggest::hint(&f.key, RESOURCE_KEYS, "a resource takes: ", ""),
            };
            self.error(f.key_pos, format!("unknown key '{}' in resource '{name}'", f.key), hint);
        }
        let for_each = fields.get("for_each").map(|fe| self.for_each(fe, &base.scope(Each::None, None, "for_each")));
        Some(Decl { name: name.clone(), pos: e.key_pos, fields, kind, for_each })
    }

    fn kind(&mut self, t: &Entry) -> Option<&'static KindSchema> {
        let Kind::Str(s) = &t.value.kind else {
            self.error(t.value.pos, format!("'type' must be a type name, not {}", t.value.describe()), None);
            return None;
        };
        if let Some(kind) = self.registry.kind(&s.value) {
            return Some(kind);
        }
        let mut names = self.registry.type_names();
        names.sort_unstable();
        self.error(
            t.value.pos,
            format!("unknown resource type '{}'", s.value),
            suggest::hint(&s.value, &names, "known types: ", "no resource types are available"),
        );
        None
    }

    /// The instances of a for_each, `None` when they cannot be known.
    fn for_each(&mut self, e: &Entry, scope: &Scope) -> Option<Vec<(String, Value)>> {
        let mut items: Vec<(String, Pos, Value)> = Vec::new();
        match build(&e.value, scope, self.report).explode() {
            Val::List(list, _) => {
                let mut ok = true;
                for item in list {
                    match item {
                        Val::Lit(Value::String(s), p) => items.push((s.clone(), p, Value::String(s))),
                        Val::Lit(Value::Number(n), p) => items.push((n.to_string(), p, Value::Number(n))),
                        Val::Unknown(_) => ok = false,
                        other => {
                            self.error(
                                other.pos(),
                                format!("for_each list items must be strings or numbers, not {}", other.describe()),
                                Some("to give each instance several values, use a mapping: for_each: {KEY: {field: value}} with ${each.value.field}".into()),
                            );
                            ok = false;
                        }
                    }
                }
                if !ok {
                    return None;
                }
            }
            Val::Map(entries, _) => {
                for (k, p, v) in entries {
                    items.push((k, p, v.to_json()?));
                }
            }
            Val::Unknown(_) => return None,
            other => {
                self.error(
                    other.pos(),
                    format!("for_each must be a list or a mapping, not {}", other.describe()),
                    Some("write for_each: [a, b], for_each: {a: …, b: …} or for_each: ${var.NAME}".into()),
                );
                return None;
            }
        }
        let mut seen = HashSet::new();
        let mut ok = true;
        for (k, p, _) in &items {
            if !is_key(k) {
                self.error(
                    *p,
                    format!("invalid for_each key '{k}'"),
                    Some("keys are letters, digits, '_', '.' and '-'".into()),
                );
                ok = false;
            } else if !seen.insert(k.clone()) {
                self.error(*p, format!("duplicate for_each key '{k}'"), None);
                ok = false;
            }
        }
        ok.then(|| items.into_iter().map(|(k, _, v)| (k, v)).collect())
    }

    /// Builds one instance (`None` key and no for_each: the only one). For a
    /// resource with for_each but no instance, checks with `each` unknown.
    fn instance(
        &mut self,
        d: &Decl,
        instance: Option<(&String, &Value)>,
        base: Base,
        targets: &Targets,
    ) -> Option<Resource> {
        let each = match (instance, &d.for_each) {
            (Some((key, value)), _) => Each::Instance { key, value },
            (None, Some(_)) => Each::Unknown,
            (None, None) => Each::None,
        };
        let scope = base.scope(each, Some(targets), "this resource");
        let props_entry = d.fields.get("properties");
        let props = match props_entry {
            Some(e) => match build(&e.value, &scope, self.report) {
                Val::Lit(Value::Null, pos) => Val::Map(Vec::new(), pos),
                v => v,
            },
            None => Val::Map(Vec::new(), d.pos),
        };
        let missing_at = props_entry.map_or(d.pos, |e| e.key_pos);
        // What is known only once lookups are read (`${data.…}` offline):
        // the rules must not take it for unset.
        let unknown: Vec<String> = match &props {
            Val::Map(entries, _) => {
                entries.iter().filter(|(_, _, v)| matches!(v, Val::Unknown(_))).map(|(k, _, _)| k.clone()).collect()
            }
            _ => Vec::new(),
        };
        // Once per declaration, not per for_each instance.
        let first_key = d.for_each.as_ref().and_then(Option::as_ref).and_then(|v| v.first()).map(|(k, _)| k);
        let first = instance.is_none_or(|(k, _)| first_key == Some(k));
        if base.several_environments && first {
            if let (Some(kind), Some(entries)) = (d.kind, props_entry.and_then(|e| e.value.entries())) {
                self.check_shared_names(kind, entries);
            }
        }
        let properties = match d.kind {
            Some(kind) => Typer { kind: kind.type_name, report: self.report }
                .object(props, kind.properties, "", missing_at)
                .unwrap_or_default()
                .into_iter()
                .collect(),
            None => {
                untyped(props);
                BTreeMap::new()
            }
        };
        if let Some(kind) = d.kind.filter(|k| !k.rules.is_empty()) {
            self.check_rules(kind, d, &properties, &unknown, props_entry.copied());
        }
        let tags = d.fields.get("tags").map(|e| self.resource_tags(d, e, &scope)).unwrap_or_default();
        let timeouts =
            d.fields.get("timeouts").map(|e| self.timeouts(e, &base.scope(each, None, "timeouts"))).unwrap_or_default();
        let depends_on = d.fields.get("depends_on").map(|e| self.depends_on(d, e, targets)).unwrap_or_default();
        let lifecycle = d.fields.get("lifecycle").map(|e| self.lifecycle(e, d.kind)).unwrap_or_default();
        let lint_ignore = match d.fields.get("lint_ignore") {
            Some(e) if first => self.lint_ignore(e),
            Some(e) => self.lint_ignore_quiet(e),
            None => BTreeMap::new(),
        };
        let property_pos = props_entry
            .and_then(|e| e.value.entries())
            .map(|es| es.iter().map(|e| (e.key.clone(), e.value.pos)).collect())
            .unwrap_or_default();
        let kind = d.kind?;
        let key = instance.map(|(k, _)| k.clone());
        Some(Resource {
            address: address(&d.name, key.as_deref()),
            name: d.name.clone(),
            key,
            type_name: kind.type_name.to_string(),
            properties,
            tags,
            depends_on,
            timeouts,
            lifecycle,
            lint_ignore,
            property_pos,
            pos: d.pos,
        })
    }

    /// `lint_ignore: {RULE: reason}`: the lint rules not to apply to this
    /// resource, each with why. (The rule ids are lint's to check.)
    fn lint_ignore(&mut self, e: &Entry) -> BTreeMap<String, crate::model::Suppression> {
        let Some(entries) = map_entries(&e.value) else {
            self.error(
                e.value.pos,
                format!("'lint_ignore' must be a mapping of lint rule ids to reasons, not {}", e.value.describe()),
                Some("write lint_ignore: {logs-no-retention: \"kept forever for audit\"}".into()),
            );
            return BTreeMap::new();
        };
        let mut out = BTreeMap::new();
        for l in entries {
            match &l.value.kind {
                Kind::Str(s) if !s.value.trim().is_empty() => {
                    out.insert(l.key.clone(), crate::model::Suppression { reason: s.value.clone(), pos: l.key_pos });
                }
                _ => self.error(
                    l.value.pos,
                    format!("lint_ignore {} needs a reason, as a string", l.key),
                    Some(format!("write {}: \"why this rule does not apply here\"", l.key)),
                ),
            }
        }
        out
    }

    /// [`Self::lint_ignore`] for the second and later for_each instances:
    /// the same value, its problems reported once.
    fn lint_ignore_quiet(&mut self, e: &Entry) -> BTreeMap<String, crate::model::Suppression> {
        map_entries(&e.value)
            .into_iter()
            .flatten()
            .filter_map(|l| match &l.value.kind {
                Kind::Str(s) if !s.value.trim().is_empty() => {
                    Some((l.key.clone(), crate::model::Suppression { reason: s.value.clone(), pos: l.key_pos }))
                }
                _ => None,
            })
            .collect()
    }

    /// The kind's cross-property rules, on what is known offline.
    fn check_rules(
        &mut self,
        kind: &KindSchema,
        d: &Decl,
        properties: &BTreeMap<String, Expr>,
        unknown: &[String],
        entry: Option<&Entry>,
    ) {
        let literals: crate::schema::Literals = properties
            .iter()
            .map(|(k, e)| match e {
                Expr::Literal(v) if !unknown.contains(k) => (k.clone(), Some(v.clone())),
                _ => (k.clone(), None),
            })
            .collect();
        for rule in kind.rules {
            if let Some(v) = rule(&literals) {
                let pos = entry
                    .and_then(|e| e.value.entries())
                    .and_then(|es| es.iter().find(|e| e.key == v.field))
                    .map_or(d.pos, |e| e.value.pos);
                self.error(pos, format!("{} {}: {}", kind.type_name, d.name, v.message), Some(v.hint));
            }
        }
    }

    /// A unique name written as a fixed value in a spec for several
    /// environments: the second environment's create would fail, or, worse,
    /// find the first's resource. Caught here, before any AWS call.
    fn check_shared_names(&mut self, kind: &KindSchema, entries: &[Entry]) {
        for e in entries {
            let Some(prop) = kind.properties.iter().find(|p| p.name == e.key && p.unique) else { continue };
            let fixed = match &e.value.kind {
                Kind::Str(s) if !s.value.contains("${") => Some(s.value.clone()),
                Kind::Number(n) => Some(n.to_string()),
                _ => None,
            };
            if let Some(v) = fixed {
                self.error(
                    e.value.pos,
                    format!(
                        "{} '{v}' is the same in every environment of this stack, and AWS requires it to be unique: the environments would collide",
                        prop.name
                    ),
                    Some(format!("derive it from the environment, e.g. {}: {v}-${{var.env}}", prop.name)),
                );
            }
        }
    }

    fn resource_tags(&mut self, d: &Decl, e: &Entry, scope: &Scope) -> BTreeMap<String, Expr> {
        let mut out = BTreeMap::new();
        if let Some(kind) = d.kind {
            if !kind.taggable {
                self.error(e.key_pos, format!("{} does not take tags", kind.type_name), Some("remove tags:".into()));
                return out;
            }
        }
        let Some(entries) = map_entries(&e.value) else {
            self.error(
                e.value.pos,
                format!("'tags' must be a mapping of tag names to values, not {}", e.value.describe()),
                None,
            );
            return out;
        };
        for t in entries {
            let expr = match build(&t.value, scope, self.report) {
                Val::Lit(v @ (Value::String(_) | Value::Number(_) | Value::Bool(_)), _) => {
                    Expr::Literal(Value::String(value::render(&v)))
                }
                Val::Ref(r) => Expr::Ref(r),
                Val::Template(parts, _) => Expr::Template(parts),
                Val::Unknown(_) => continue,
                other => {
                    self.error(
                        other.pos(),
                        format!("tag '{}' must be a string, not {}", t.key, other.describe()),
                        None,
                    );
                    continue;
                }
            };
            out.insert(t.key.clone(), expr);
        }
        out
    }

    fn lifecycle(&mut self, e: &Entry, kind: Option<&'static KindSchema>) -> Lifecycle {
        let mut out = Lifecycle::default();
        let Some(entries) = map_entries(&e.value) else {
            self.error(
                e.value.pos,
                format!("'lifecycle' must be a mapping, not {}", e.value.describe()),
                Some("write lifecycle: {replace: create_before_destroy}".into()),
            );
            return out;
        };
        for l in entries {
            if l.key == "ignore_changes" {
                out.ignore_changes = self.ignore_changes(&l.value, kind);
                continue;
            }
            if l.key != "replace" {
                // Terraform writes `create_before_destroy = true`.
                let hint = if ReplaceOrder::NAMES.contains(&l.key.as_str()) {
                    Some(format!("write lifecycle: {{replace: {}}}", l.key))
                } else {
                    suggest::hint(&l.key, LIFECYCLE_KEYS, "lifecycle takes: ", "")
                };
                self.error(l.key_pos, format!("unknown key '{}' in lifecycle", l.key), hint);
                continue;
            }
            let order = match &l.value.kind {
                Kind::Str(s) => match s.value.as_str() {
                    "create_before_destroy" => Some(ReplaceOrder::CreateBeforeDestroy),
                    "delete_before_create" => Some(ReplaceOrder::DeleteBeforeCreate),
                    _ => None,
                },
                _ => None,
            };
            match order {
                Some(o) => out.replace = Some(o),
                None => {
                    let given = match &l.value.kind {
                        Kind::Str(s) => format!("'{}'", s.value),
                        _ => l.value.describe().to_string(),
                    };
                    let hint = match &l.value.kind {
                        Kind::Str(s) => suggest::hint(&s.value, ReplaceOrder::NAMES, "replace is one of: ", ""),
                        _ => None,
                    }
                    .or_else(|| Some(format!("replace is one of: {}", ReplaceOrder::NAMES.join(", "))));
                    self.error(l.value.pos, format!("invalid lifecycle replace {given}"), hint);
                }
            }
        }
        out
    }

    /// `ignore_changes: [task_definition]`: a list of the kind's top-level
    /// properties.
    fn ignore_changes(&mut self, v: &Node, kind: Option<&'static KindSchema>) -> Vec<String> {
        let Kind::Seq(items) = &v.kind else {
            self.error(
                v.pos,
                format!("lifecycle ignore_changes must be a list of property names, not {}", v.describe()),
                Some("write lifecycle: {ignore_changes: [task_definition]}".into()),
            );
            return Vec::new();
        };
        let mut out = Vec::new();
        for item in items {
            let Kind::Str(s) = &item.kind else {
                self.error(
                    item.pos,
                    format!("lifecycle ignore_changes takes property names, not {}", item.describe()),
                    None,
                );
                continue;
            };
            let Some(kind) = kind else { continue };
            match kind.property(&s.value) {
                Some(_) => out.push(s.value.clone()),
                None => {
                    let names: Vec<&str> = kind.properties.iter().map(|p| p.name).collect();
                    let fallback = format!("{} properties: ", kind.type_name);
                    let hint = suggest::hint(&s.value, &names, &fallback, "it takes no properties");
                    self.error(
                        item.pos,
                        format!("lifecycle ignore_changes names '{}', not a property of {}", s.value, kind.type_name),
                        hint,
                    );
                }
            }
        }
        out
    }

    fn timeouts(&mut self, e: &Entry, scope: &Scope) -> Timeouts {
        let mut out = Timeouts::default();
        let Some(entries) = map_entries(&e.value) else {
            self.error(
                e.value.pos,
                format!("'timeouts' must be a mapping, not {}", e.value.describe()),
                Some("write timeouts: {create: 10m, update: 10m, delete: 10m}".into()),
            );
            return out;
        };
        for t in entries {
            let Some(slot) = (match t.key.as_str() {
                "create" => Some(&mut out.create),
                "update" => Some(&mut out.update),
                "delete" => Some(&mut out.delete),
                _ => None,
            }) else {
                self.error(
                    t.key_pos,
                    format!("unknown timeout '{}'", t.key),
                    suggest::hint(&t.key, TIMEOUT_KEYS, "timeouts are: ", ""),
                );
                continue;
            };
            let duration = match build(&t.value, scope, self.report) {
                Val::Lit(Value::String(s), _) => crate::parse_duration(&s),
                Val::Lit(Value::Number(n), _) => n.as_u64().map(Duration::from_secs),
                Val::Unknown(_) => continue,
                _ => None,
            };
            match duration {
                Some(d) if d.is_zero() => {
                    self.error(t.value.pos, format!("timeout '{}' must be longer than 0", t.key), None);
                }
                Some(d) => *slot = Some(d),
                None => self.error(
                    t.value.pos,
                    format!("invalid timeout '{}': expected a duration, not {}", t.key, t.value.describe()),
                    Some("write a number and a unit: 30s, 10m, 1h or 1h30m".into()),
                ),
            }
        }
        out
    }

    fn depends_on(&mut self, d: &Decl, e: &Entry, targets: &Targets) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let items: Vec<&Node> = match &e.value.kind {
            Kind::Null => Vec::new(),
            Kind::Seq(items) => items.iter().collect(),
            _ => {
                self.error(
                    e.value.pos,
                    format!("'depends_on' must be a list of resource names, not {}", e.value.describe()),
                    Some("write depends_on: [NAME, …]".into()),
                );
                return out;
            }
        };
        let names: Vec<&str> = targets.keys().map(String::as_str).collect();
        for item in items {
            let Kind::Str(s) = &item.kind else {
                self.error(
                    item.pos,
                    format!("depends_on entries must be resource names, not {}", item.describe()),
                    None,
                );
                continue;
            };
            let (name, key) = match s.value.split_once('[') {
                Some((n, rest)) => match rest.strip_suffix(']') {
                    Some(k) => (n, Some(k)),
                    None => (s.value.as_str(), None),
                },
                None => (s.value.as_str(), None),
            };
            let Some(target) = targets.get(name) else {
                self.error(
                    item.pos,
                    format!("depends_on names an unknown resource '{}'", s.value),
                    suggest::hint(name, &names, "resources in this stack: ", "this stack declares no other resources"),
                );
                continue;
            };
            if name == d.name {
                self.error(
                    item.pos,
                    format!("resource '{name}' depends on itself"),
                    Some("remove it from depends_on".into()),
                );
                continue;
            }
            match (key, &target.keys) {
                (None, None) => out.push(name.to_string()),
                (None, Some(Some(keys))) => out.extend(keys.iter().map(|k| address(name, Some(k)))),
                (_, Some(None)) => {}
                (Some(_), None) => self.error(
                    item.pos,
                    format!("'{name}' has no for_each, so '{}' names no instance", s.value),
                    Some(format!("write {name}")),
                ),
                (Some(k), Some(Some(keys))) => {
                    if keys.iter().any(|x| x == k) {
                        out.push(address(name, Some(k)));
                    } else {
                        let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
                        self.error(
                            item.pos,
                            format!("'{name}' has no instance '{k}'"),
                            suggest::hint(k, &keys, "its keys are: ", "its for_each is empty"),
                        );
                    }
                }
            }
        }
        let mut seen = HashSet::new();
        out.retain(|a| seen.insert(a.clone()));
        out
    }

    fn outputs(&mut self, e: &Entry, base: Base, targets: &Targets) -> Vec<Output> {
        let Some(entries) = map_entries(&e.value) else {
            self.error(
                e.value.pos,
                format!("'outputs' must be a mapping of names to values, not {}", e.value.describe()),
                None,
            );
            return Vec::new();
        };
        let scope = base.scope(Each::None, Some(targets), "outputs");
        let mut out = Vec::new();
        for o in entries {
            if !is_output_name(&o.key) {
                self.error(
                    o.key_pos,
                    format!("invalid output name '{}'", o.key),
                    Some("use letters, digits, '_' and '-', starting with a letter or '_'".into()),
                );
            }
            let value = untyped(build(&o.value, &scope, self.report));
            out.push(Output { name: o.key.clone(), value, pos: o.key_pos });
        }
        out
    }

    /// Reports each dependency cycle once, starting from its resource that
    /// comes first in the file.
    fn check_cycles(&mut self, stack: &Stack) {
        let mut graph: DiGraph<usize, ()> = DiGraph::new();
        let nodes: Vec<NodeIndex> = (0..stack.resources.len()).map(|i| graph.add_node(i)).collect();
        let index: HashMap<&str, usize> =
            stack.resources.iter().enumerate().map(|(i, r)| (r.address.as_str(), i)).collect();
        for (i, r) in stack.resources.iter().enumerate() {
            for dep in dependencies(stack, r) {
                if let Some(&j) = index.get(dep.as_str()) {
                    graph.update_edge(nodes[i], nodes[j], ());
                }
            }
        }
        for scc in petgraph::algo::tarjan_scc(&graph) {
            let Some(&start) = scc.iter().min_by_key(|n| graph[**n]) else {
                continue;
            };
            if scc.len() == 1 && graph.find_edge(start, start).is_none() {
                continue;
            }
            let members: HashSet<NodeIndex> = scc.iter().copied().collect();
            let path = shortest_cycle(&graph, start, &members);
            let mut names: Vec<&str> = path.iter().map(|n| stack.resources[graph[*n]].address.as_str()).collect();
            names.push(stack.resources[graph[start]].address.as_str());
            self.error(
                stack.resources[graph[start]].pos,
                format!("dependency cycle: {}", names.join(" -> ")),
                Some("remove one of these references or depends_on entries".into()),
            );
        }
    }
}

/// The shortest path from `start` back to itself within `members`, as the
/// nodes from `start` up to the last one before returning.
fn shortest_cycle(graph: &DiGraph<usize, ()>, start: NodeIndex, members: &HashSet<NodeIndex>) -> Vec<NodeIndex> {
    let successors = |n: NodeIndex| {
        let mut next: Vec<NodeIndex> = graph.neighbors(n).filter(|m| members.contains(m)).collect();
        next.sort_by_key(|m| graph[*m]);
        next
    };
    let mut parent: HashMap<NodeIndex, NodeIndex> = HashMap::new();
    let mut queue = VecDeque::from([start]);
    while let Some(n) = queue.pop_front() {
        for m in successors(n) {
            if m == start {
                let mut path = vec![n];
                let mut cur = n;
                while let Some(&p) = parent.get(&cur) {
                    path.push(p);
                    cur = p;
                }
                path.reverse();
                return path;
            }
            if m != start && !parent.contains_key(&m) {
                parent.insert(m, n);
                queue.push_back(m);
            }
        }
    }
    vec![start]
}
