//! The validated stack: what the engine consumes. Everything here is already
//! checked: types exist, properties are known and well typed, references
//! point at real resources and attributes, and the graph has no cycle.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// A 1-based position in the spec file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default)]
pub struct Pos {
    pub line: usize,
    pub column: usize,
}

/// A loaded, validated stack, with `for_each` expanded into instances and
/// variables substituted. References between resources remain as [`Expr::Ref`]
/// and [`Part::Ref`]: they are resolved at apply time.
#[derive(Debug, Clone, PartialEq)]
pub struct Stack {
    /// The file the stack came from, as given on the command line.
    pub file: String,
    pub name: String,
    /// Which instance of the stack this is (`environment:`); `None` for a
    /// stack with one instance.
    pub environment: Option<Environment>,
    pub region: String,
    pub backend: Option<BackendSpec>,
    /// Final variable values (defaults merged with --var-file and --var).
    pub vars: BTreeMap<String, serde_json::Value>,
    /// Stack-wide tags, applied to every taggable resource.
    pub tags: BTreeMap<String, String>,
    /// Resource instances in file order (for_each instances in key order).
    pub resources: Vec<Resource>,
    pub outputs: Vec<Output>,
    /// `stacks:`: the other stacks whose outputs this one reads.
    pub remote_stacks: Vec<RemoteStack>,
    /// `data:`: existing resources looked up, not owned.
    pub data: Vec<DataSource>,
}

impl Stack {
    pub fn resource(&self, address: &str) -> Option<&Resource> {
        self.resources.iter().find(|r| r.address == address)
    }

    /// The resource a whole-reference expression names (`${task.arn}` →
    /// `task`; its first instance for a for_each name), for offline checks.
    pub fn referenced(&self, e: Option<&Expr>) -> Option<&Resource> {
        let Some(Expr::Ref(r)) = e else { return None };
        self.resources.iter().find(|x| x.name == r.resource)
    }

    /// The stack instance's identity: `NAME` for a stack without an
    /// environment, `NAME/ENVIRONMENT` otherwise. It is what the
    /// `deployctl:stack` tag holds and what state records, so that two
    /// environments of one stack never adopt each other's resources.
    pub fn instance(&self) -> String {
        match &self.environment {
            Some(e) => format!("{}/{}", self.name, e.name),
            None => self.name.clone(),
        }
    }
}

/// `environment:` as loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Environment {
    pub name: String,
    /// Written with a `${…}` (usually `${var.env}`): the spec is meant for
    /// several environments, so a fixed name that AWS requires to be unique
    /// would collide between them.
    pub templated: bool,
    pub pos: Pos,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum BackendSpec {
    /// `backend: {s3: {bucket, key, lock_table, region?}}`
    S3 { bucket: String, key: String, lock_table: String, region: Option<String> },
}

/// One resource instance.
#[derive(Debug, Clone, PartialEq)]
pub struct Resource {
    /// Unique in the stack: `vpc`, or `nat[a]` for a for_each instance.
    pub address: String,
    /// The name written in the spec (`nat` for `nat[a]`).
    pub name: String,
    /// The for_each key, when the resource has one.
    pub key: Option<String>,
    /// `ec2.vpc`
    pub type_name: String,
    pub properties: BTreeMap<String, Expr>,
    /// The resource's own tags (stack tags are in [`Stack::tags`]).
    pub tags: BTreeMap<String, Expr>,
    /// Explicit `depends_on`, as addresses (a name with for_each means all its
    /// instances and is expanded here).
    pub depends_on: Vec<String>,
    pub timeouts: Timeouts,
    /// `lifecycle: {replace: …}`.
    pub lifecycle: Lifecycle,
    /// `lint_ignore: {RULE: reason}`: lint rules that do not apply here.
    pub lint_ignore: BTreeMap<String, Suppression>,
    /// Where each property's value is written, for messages about it.
    pub property_pos: BTreeMap<String, Pos>,
    /// Where the resource is declared (its key under `resources:`).
    pub pos: Pos,
}

/// A lint rule switched off for one resource, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suppression {
    pub reason: String,
    pub pos: Pos,
}

impl Resource {
    /// What is known of a property before apply ([`Expr::known`]); `null`
    /// when it is not written.
    pub fn known(&self, property: &str) -> serde_json::Value {
        self.properties.get(property).map_or(serde_json::Value::Null, Expr::known)
    }

    /// Every resource reference in the properties and tags, in order.
    pub fn references(&self) -> Vec<&Reference> {
        let mut out = Vec::new();
        for e in self.properties.values().chain(self.tags.values()) {
            e.collect_refs(&mut out);
        }
        out
    }
}

/// Per-operation timeouts written as `timeouts: {create: 10m, delete: 10m}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Timeouts {
    pub create: Option<Duration>,
    pub update: Option<Duration>,
    pub delete: Option<Duration>,
}

/// How a resource is handled through its life: `lifecycle: {replace:
/// create_before_destroy, ignore_changes: [task_definition]}`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Lifecycle {
    /// The order of a replacement, when the spec forces one; `None`: the
    /// planner decides (create first wherever the new resource can exist
    /// beside the old one).
    pub replace: Option<ReplaceOrder>,
    /// Top-level properties whose live value the planner leaves alone once
    /// the resource exists (something else, a pipeline's deploy, changes
    /// them); a create still sends the spec's value. Each is a property of
    /// the kind, checked at load.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ignore_changes: Vec<String>,
}

/// The order of a replacement's two halves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReplaceOrder {
    /// The new resource first, then its dependents repointed at it, then
    /// the old one deleted: nothing is ever without it.
    CreateBeforeDestroy,
    /// The old resource for what cannot exist twice (a
    /// fixed unique name).
    DeleteBeforeCreate,
}

impl ReplaceOrder {
    pub const NAMES: &'static [&'static str] = &["create_before_destroy", "delete_before_create"];

    pub fn name(self) -> &'static str {
        match self {
            ReplaceOrder::CreateBeforeDestroy => "create_before_destroy",
            ReplaceOrder::DeleteBeforeCreate => "delete_before_create",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Output {
    pub name: String,
    pub value: Expr,
    pub pos: Pos,
}

/// A property value as written, with variables substituted but resource
/// references kept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Expr {
    /// A value with no reference in it.
    Literal(serde_json::Value),
    /// A string that is exactly one reference: `${vpc.id}`. Its value is the
    /// attribute's value, whatever its JSON type (a list for a splat).
    Ref(Reference),
    /// A string with references inside text: `${vpc.id}-web`.
    Template(Vec<Part>),
    List(Vec<Expr>),
    Map(BTreeMap<String, Expr>),
    /// A secret read at apply time. Never a literal.
    Secret(SecretSource),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Part {
    Text(String),
    Ref(Reference),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SecretSource {
    /// `env:NAME`
    Env(String),
    /// `file:PATH`
    File(String),
    /// `secretsmanager:ID` or `secretsmanager:ID#KEY`: the current value of
    /// a Secrets Manager secret (its name or ARN), or one key of it when the
    /// secret is a JSON object. The id may reference a secret of the same
    /// stack (`secretsmanager:${github_token.arn}`), which makes it a
    /// dependency.
    SecretsManager { id: Vec<Part>, json_key: Option<String> },
    /// `cognito:POOL_ID/CLIENT_ID`: the secret Cognito generated for a user
    /// pool client, usually this stack's
    /// (`cognito:${pool.id}/${web.id}`), which makes it a dependency.
    CognitoClientSecret { id: Vec<Part> },
}

impl SecretSource {
    /// The references in the source (a Secrets Manager id's).
    pub fn references(&self) -> impl Iterator<Item = &Reference> {
        let parts: &[Part] = match self {
            SecretSource::SecretsManager { id, .. } | SecretSource::CognitoClientSecret { id } => id,
            _ => &[],
        };
        parts.iter().filter_map(|p| match p {
            Part::Ref(r) => Some(r),
            Part::Text(_) => None,
        })
    }
}

/// The source as written, for messages: never a value.
impl std::fmt::Display for SecretSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SecretSource::Env(n) => write!(f, "env:{n}"),
            SecretSource::File(p) => write!(f, "file:{p}"),
            SecretSource::SecretsManager { id, json_key } => {
                f.write_str("secretsmanager:")?;
                for p in id {
                    match p {
                        Part::Text(t) => f.write_str(t)?,
                        Part::Ref(r) => write!(f, "{r}")?,
                    }
                }
                match json_key {
                    Some(k) => write!(f, "#{k}"),
                    None => Ok(()),
                }
            }
            SecretSource::CognitoClientSecret { id } => {
                f.write_str("cognito:")?;
                for p in id {
                    match p {
                        Part::Text(t) => f.write_str(t)?,
                        Part::Ref(r) => write!(f, "{r}")?,
                    }
                }
                Ok(())
            }
        }
    }
}

/// `${vpc.id}`, `${nat[a].id}` or `${nat[*].id}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reference {
    /// The resource name as written (`nat`).
    pub resource: String,
    pub selector: Selector,
    pub attribute: String,
    /// Where the reference is written, for errors at apply time.
    pub pos: Pos,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Selector {
    /// A resource without for_each.
    Single,
    /// One instance of a for_each resource: `nat[a]`.
    Key(String),
    /// Every instance, as a list in key order: `nat[*]`.
    All,
}

impl Reference {
    /// The instance addresses this reference reads, given the keys of the
    /// referenced resource (empty when it has no for_each).
    pub fn addresses(&self, keys: &[String]) -> Vec<String> {
        match &self.selector {
            Selector::Single => vec![self.resource.clone()],
            Selector::Key(k) => vec![format!("{}[{}]", self.resource, k)],
            Selector::All => keys.iter().map(|k| format!("{}[{}]", self.resource, k)).collect(),
        }
    }
}

impl std::fmt::Display for Reference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.selector {
            Selector::Single => write!(f, "${{{}.{}}}", self.resource, self.attribute),
            Selector::Key(k) => write!(f, "${{{}[{}].{}}}", self.resource, k, self.attribute),
            Selector::All => write!(f, "${{{}[*].{}}}", self.resource, self.attribute),
        }
    }
}

impl Expr {
    /// What is known of the value before apply, as JSON, for offline checks
    /// (lint, cost, verify): a reference or a template as `null`, a secret
    /// source as `{"$secret": true}` (its value is never read here).
    pub fn known(&self) -> serde_json::Value {
        match self {
            Expr::Literal(v) => v.clone(),
            Expr::List(items) => serde_json::Value::Array(items.iter().map(Expr::known).collect()),
            Expr::Map(m) => serde_json::Value::Object(m.iter().map(|(k, v)| (k.clone(), v.known())).collect()),
            Expr::Secret(_) => serde_json::json!({"$secret": true}),
            Expr::Ref(_) | Expr::Template(_) => serde_json::Value::Null,
        }
    }

    pub fn collect_refs<'a>(&'a self, out: &mut Vec<&'a Reference>) {
        match self {
            Expr::Literal(_) => {}
            Expr::Secret(src) => out.extend(src.references()),
            Expr::Ref(r) => out.push(r),
            Expr::Template(parts) => out.extend(parts.iter().filter_map(|p| match p {
                Part::Ref(r) => Some(r),
                Part::Text(_) => None,
            })),
            Expr::List(items) => items.iter().for_each(|e| e.collect_refs(out)),
            Expr::Map(m) => m.values().for_each(|e| e.collect_refs(out)),
        }
    }

    /// Evaluates the expression. `lookup` gives a reference's value, or `None`
    /// while it is not known yet (the resource is still to be created); the
    /// whole result is then `None` ("known after apply"). `secret` reads a
    /// secret source (the engine decides how, and fingerprints it).
    pub fn eval(
        &self,
        lookup: &mut dyn FnMut(&Reference) -> Option<serde_json::Value>,
        secret: &mut dyn FnMut(&SecretSource) -> Option<serde_json::Value>,
    ) -> Option<serde_json::Value> {
        use serde_json::Value;
        Some(match self {
            Expr::Literal(v) => v.clone(),
            Expr::Ref(r) => lookup(r)?,
            Expr::Template(parts) => Value::String(render(parts, lookup)?),
            Expr::List(items) => {
                let mut out = Vec::with_capacity(items.len());
                for e in items {
                    out.push(e.eval(lookup, secret)?);
                }
                Value::Array(out)
            }
            Expr::Map(m) => {
                let mut out = serde_json::Map::new();
                for (k, e) in m {
                    out.insert(k.clone(), e.eval(lookup, secret)?);
                }
                Value::Object(out)
            }
            Expr::Secret(src) => secret(src)?,
        })
    }
}

/// Text with references, rendered: a string reference as it is, any other
/// value as JSON. `None` while a reference is not known yet.
pub fn render(parts: &[Part], lookup: &mut dyn FnMut(&Reference) -> Option<serde_json::Value>) -> Option<String> {
    let mut s = String::new();
    for p in parts {
        match p {
            Part::Text(t) => s.push_str(t),
            Part::Ref(r) => match lookup(r)? {
                serde_json::Value::String(v) => s.push_str(&v),
                other => s.push_str(&other.to_string()),
            },
        }
    }
    Some(s)
}

/// Another stack whose outputs this one reads (`${stack.NAME.outputs.KEY}`),
/// and where its state is: `stacks: {network: {state: state/network.prod.json}}`
/// or `{s3: {bucket, key, region}}`. Read-only, without its lock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteStack {
    pub name: String,
    pub source: RemoteSource,
    pub pos: Pos,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RemoteSource {
    /// A local state file (relative to the working directory).
    Local { path: String },
    /// An S3 object, as that stack's `backend.s3` names it.
    S3 { bucket: String, key: String, region: Option<String> },
}

/// What a load may know from outside the spec: the outputs of the stacks
/// it reads (`stacks:`) and what its `data:` lookups found. `NotRead`
/// where nothing may be read (`validate`: offline), so `${stack.…}` and
/// `${data.…}` are known only at plan time.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum Lookups {
    #[default]
    NotRead,
    Read(LookedUp),
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct LookedUp {
    /// Per stack name, its outputs.
    pub stacks: BTreeMap<String, BTreeMap<String, serde_json::Value>>,
    /// Per data source name, the attributes and properties of what it found.
    pub data: BTreeMap<String, BTreeMap<String, serde_json::Value>>,
}

/// An existing resource the stack uses but does not own: `data: {NAME:
/// {type: ec2.vpc, id: vpc-…}}` or `{type: ec2.vpc, tags: {Name: shared}}`.
/// Read at plan time, never changed or deleted; `${data.NAME.ATTR}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataSource {
    pub name: String,
    pub type_name: String,
    pub id: Option<String>,
    pub tags: BTreeMap<String, String>,
    /// `name:`: by the natural name (a hosted zone's domain).
    pub by_name: Option<String>,
    pub pos: Pos,
}

/// Variable values given on the command line, in the order given: later ones
/// win. `--var-file` files are read by [`crate::load`].
#[derive(Debug, Clone, Default)]
pub struct VarOverrides {
    /// `--var-file` paths.
    pub files: Vec<String>,
    /// `--var k=v` pairs; the value is parsed as a YAML scalar or flow value
    /// (`3` is a number, `[a, b]` a list, `v2` a string).
    pub pairs: Vec<(String, String)>,
}

/// Addresses a resource depends on: its references (splats expanded) and
/// its explicit depends_on.
pub fn dependencies(stack: &Stack, resource: &Resource) -> BTreeSet<String> {
    let mut out: BTreeSet<String> = resource.depends_on.iter().cloned().collect();
    for r in resource.references() {
        let keys: Vec<String> =
            stack.resources.iter().filter(|x| x.name == r.resource).filter_map(|x| x.key.clone()).collect();
        out.extend(r.addresses(&keys));
    }
    out
}
