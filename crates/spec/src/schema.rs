//! The schema every resource kind publishes: its properties (with their types,
//! whether they are required, and whether a change updates in place or forces
//! replacement) and its attributes. The spec validates against it, the engine
//! diffs with it, and docs/reference.md describes it.

/// The type of a property value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Type {
    String,
    Int,
    /// Any number, integer or fractional (alarm thresholds).
    Number,
    Bool,
    /// A duration written as `30s`, `10m`, `1h` (or a number of seconds).
    Duration,
    /// A list whose order does not matter (compared as a set).
    Set(&'static Type),
    /// A list whose order matters.
    List(&'static Type),
    /// A map from string keys to values of one type.
    Map(&'static Type),
    /// A nested object with its own properties.
    Object(&'static [Prop]),
    /// A JSON document (IAM and other policies) written as YAML, compared
    /// semantically: key order, a one-element list versus a scalar, number
    /// versus string.
    Document,
    /// A secret: written only as `env:NAME`, `file:PATH` or
    /// `secretsmanager:ID[#KEY]`, never as a literal.
    /// State and plans hold a fingerprint, never the value.
    Secret,
}

/// What a change to a property does to the live resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Update {
    /// Changed by an update call on the existing resource.
    InPlace,
    /// Cannot be changed: the resource is deleted and created again.
    Replace,
}

/// One property of a resource kind (or of a nested object).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Prop {
    pub name: &'static str,
    pub ty: Type,
    pub required: bool,
    pub update: Update,
    /// What AWS (or deployctl) uses when the property is not written, as JSON
    /// text; `None` when there is no default and the property is then not
    /// managed at all (drift on it is ignored).
    pub default: Option<&'static str>,
    pub doc: &'static str,
    /// AWS requires the value to be unique in the account and region (for
    /// S3 buckets, everywhere): two instances of a stack that write the same
    /// fixed value collide.
    pub unique: bool,
}

impl Prop {
    /// A property that is optional, updated in place and has no default.
    pub const fn new(name: &'static str, ty: Type, doc: &'static str) -> Prop {
        Prop { name, ty, required: false, update: Update::InPlace, default: None, doc, unique: false }
    }
    pub const fn unique(mut self) -> Prop {
        self.unique = true;
        self
    }
    pub const fn required(mut self) -> Prop {
        self.required = true;
        self
    }
    pub const fn replace(mut self) -> Prop {
        self.update = Update::Replace;
        self
    }
    pub const fn default(mut self, json: &'static str) -> Prop {
        self.default = Some(json);
        self
    }
}

/// One attribute a resource exposes to references (`${vpc.id}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attr {
    pub name: &'static str,
    pub doc: &'static str,
}

/// Everything the spec, the engine and the docs need to know about a kind.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KindSchema {
    /// `<service>.<kind>`, for example `ec2.vpc`.
    pub type_name: &'static str,
    pub doc: &'static str,
    pub properties: &'static [Prop],
    pub attributes: &'static [Attr],
    /// Whether the kind takes tags (and so `tags:` and adoption by tag).
    pub taggable: bool,
    /// One example resource, as YAML, for the reference.
    pub example: &'static str,
}

impl KindSchema {
    pub fn property(&self, name: &str) -> Option<&'static Prop> {
        self.properties.iter().find(|p| p.name == name)
    }
    pub fn attribute(&self, name: &str) -> Option<&'static Attr> {
        self.attributes.iter().find(|a| a.name == name)
    }
}

/// The set of kinds a stack may use. The aws crate provides the real one.
pub trait SchemaRegistry: Sync {
    fn kind(&self, type_name: &str) -> Option<&'static KindSchema>;
    /// Every known type name, for "did you mean" hints and the reference.
    fn type_names(&self) -> Vec<&'static str>;
}

impl SchemaRegistry for [&'static KindSchema] {
    fn kind(&self, type_name: &str) -> Option<&'static KindSchema> {
        self.iter().copied().find(|k| k.type_name == type_name)
    }
    fn type_names(&self) -> Vec<&'static str> {
        self.iter().map(|k| k.type_name).collect()
    }
}

/// A slice reference is a registry too, so that `&reg` with
/// `let reg: &[&KindSchema] = &[&VPC, &SUBNET];` coerces to
/// `&dyn SchemaRegistry` (a bare slice is unsized and cannot).
impl SchemaRegistry for &[&'static KindSchema] {
    fn kind(&self, type_name: &str) -> Option<&'static KindSchema> {
        (**self).kind(type_name)
    }
    fn type_names(&self) -> Vec<&'static str> {
        (**self).type_names()
    }
}

/// An array of kinds is a registry: `&[&VPC, &SUBNET]` works directly.
impl<const N: usize> SchemaRegistry for [&'static KindSchema; N] {
    fn kind(&self, type_name: &str) -> Option<&'static KindSchema> {
        self.as_slice().kind(type_name)
    }
    fn type_names(&self) -> Vec<&'static str> {
        self.as_slice().type_names()
    }
}

impl SchemaRegistry for Vec<&'static KindSchema> {
    fn kind(&self, type_name: &str) -> Option<&'static KindSchema> {
        self.as_slice().kind(type_name)
    }
    fn type_names(&self) -> Vec<&'static str> {
        self.as_slice().type_names()
    }
}
