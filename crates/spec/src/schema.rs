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
    /// A version (`8.0.35`): a prefix at a dot asks for what AWS picks
    /// within it (`8.0` is met by `8.0.35`); a change within the major
    /// version (everything but the last component) is made in place, a new
    /// major version replaces.
    Version,
    /// An amount AWS only ever grows (RDS storage, which autoscaling also
    /// grows): a live value at or above the one asked for is met; a larger
    /// one is made in place.
    AtLeast,
}

/// A constraint on a property's literal value that AWS enforces and that
/// can be checked offline: `validate` refuses a value that breaks it, with
/// file:line:column, before any AWS call.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Check {
    None,
    /// One of these strings: the API model's enumeration (the SDK's
    /// `values()`).
    OneOf(&'static [&'static str]),
    /// One of these integers (CloudWatch Logs retention days, say).
    IntIn(&'static [i64]),
    /// An integer from `min` to `max`, both included.
    Range(i64, i64),
    /// An IPv4 CIDR block whose prefix length is from `min` to `max`.
    Cidr(u8, u8),
    /// A name of `min` to `max` characters, each in `chars`: a character
    /// class as in a regular expression's brackets (`A-Za-z0-9._/-`:
    /// ranges, and a `-` at the end stands for itself).
    Name {
        min: usize,
        max: usize,
        chars: &'static str,
    },
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
    /// Unset, deployctl generates the value (`<stack>-<address>`), and a
    /// replacement made beside the old object gets another one: it does
    /// not keep a create-before-destroy from happening.
    pub generated: bool,
    pub check: Check,
    /// AWS does not hold the value (how to delete: `force_destroy`, a
    /// recovery window). It is compared against what state recorded, never
    /// against a read, and only delete acts on it.
    pub state_only: bool,
}

impl Prop {
    /// A property that is optional, updated in place and has no default.
    pub const fn new(name: &'static str, ty: Type, doc: &'static str) -> Prop {
        Prop {
            name,
            ty,
            required: false,
            update: Update::InPlace,
            default: None,
            doc,
            unique: false,
            generated: false,
            check: Check::None,
            state_only: false,
        }
    }
    /// The value must be one of `values` (an SDK enum's `values()`).
    pub const fn one_of(mut self, values: &'static [&'static str]) -> Prop {
        self.check = Check::OneOf(values);
        self
    }
    pub const fn int_in(mut self, values: &'static [i64]) -> Prop {
        self.check = Check::IntIn(values);
        self
    }
    pub const fn range(mut self, min: i64, max: i64) -> Prop {
        self.check = Check::Range(min, max);
        self
    }
    pub const fn cidr(mut self, min_prefix: u8, max_prefix: u8) -> Prop {
        self.check = Check::Cidr(min_prefix, max_prefix);
        self
    }
    /// See [`Prop::state_only`].
    /// A name's length and characters (see [`Check::Name`]).
    pub const fn name(mut self, min: usize, max: usize, chars: &'static str) -> Prop {
        self.check = Check::Name { min, max, chars };
        self
    }
    pub const fn state_only(mut self) -> Prop {
        self.state_only = true;
        self
    }
    pub const fn unique(mut self) -> Prop {
        self.unique = true;
        self
    }
    /// Unset, the name is generated, and differs for a replacement made
    /// beside the old object (the kind's create uses `OpCtx::name_seed`).
    pub const fn generated(mut self) -> Prop {
        self.generated = true;
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
    /// See [`Update::Version`].
    pub const fn version(mut self) -> Prop {
        self.update = Update::Version;
        self
    }
    /// See [`Update::AtLeast`].
    pub const fn at_least(mut self) -> Prop {
        self.update = Update::AtLeast;
        self
    }
    /// Overrides the type a typed model derives from the field's Rust type
    /// (a `Vec<String>` is a set unless it says it is a list, an integer of
    /// seconds may be a duration).
    pub const fn typed(mut self, ty: Type) -> Prop {
        self.ty = ty;
        self
    }
    pub const fn default(mut self, json: &'static str) -> Prop {
        self.default = Some(json);
        self
    }
}

/// What a resource's properties are known to be offline: `Some(value)` for a
/// literal, `None` for a property that is written but depends on another
/// resource (known only at apply).
pub type Literals = std::collections::BTreeMap<String, Option<serde_json::Value>>;

/// A rule across a kind's properties that AWS enforces (an events rule
/// needs exactly one of a pattern and a schedule; a Fargate task's memory
/// must fit its CPU). `validate` runs every kind's rules with file:line:column.
pub type Rule = fn(&Literals) -> Option<RuleViolation>;

/// What a [`Rule`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleViolation {
    /// The property the message points at (the resource, if it is absent).
    pub field: &'static str,
    pub message: String,
    pub hint: String,
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
    /// The kind's cross-property rules.
    pub rules: &'static [Rule],
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

impl Check {
    /// Why `v` breaks the constraint, and a hint; `None` when it holds (or
    /// when `v` is not of the kind of value the constraint is about: the
    /// type check reports that).
    pub fn violation(&self, v: &serde_json::Value) -> Option<(String, String)> {
        match (self, v) {
            (Check::OneOf(values), serde_json::Value::String(s)) if !values.contains(&s.as_str()) => {
                let hint = match crate::suggest::closest(s, values.iter().copied()) {
                    Some(c) => format!("did you mean '{c}'? (one of: {})", values.join(", ")),
                    None => format!("one of: {}", values.join(", ")),
                };
                Some((format!("'{s}' is not one of the values AWS accepts"), hint))
            }
            (Check::IntIn(values), serde_json::Value::Number(n)) => {
                let i = n.as_i64()?;
                if values.contains(&i) {
                    return None;
                }
                let nearest = values.iter().min_by_key(|v| (*v - i).abs()).copied().unwrap_or_default();
                let all: Vec<String> = values.iter().map(i64::to_string).collect();
                Some((
                    format!("{i} is not a value AWS accepts"),
                    format!("the nearest is {nearest}; one of: {}", all.join(", ")),
                ))
            }
            (Check::Range(min, max), serde_json::Value::Number(n)) => {
                let i = n.as_i64()?;
                (i < *min || i > *max)
                    .then(|| (format!("{i} is out of range"), format!("use a value from {min} to {max}")))
            }
            (Check::Cidr(min, max), serde_json::Value::String(s)) => match parse_cidr(s) {
                Some(prefix) if (*min..=*max).contains(&prefix) => None,
                Some(prefix) => Some((
                    format!("'{s}' has a /{prefix} prefix"),
                    format!("AWS takes a prefix length from /{min} to /{max} here"),
                )),
                None => Some((
                    format!("'{s}' is not an IPv4 CIDR block"),
                    "write it as four octets (0-255) and a prefix length, e.g. 10.0.0.0/16".to_string(),
                )),
            },
            (Check::Name { min, max, chars }, serde_json::Value::String(s)) => {
                let n = s.chars().count();
                let hint = || format!("use {min} to {max} characters from [{chars}]");
                if n < *min || n > *max {
                    return Some((format!("'{s}' is {n} characters long"), hint()));
                }
                let bad = s.chars().find(|c| !in_class(*c, chars))?;
                Some((format!("'{s}' has the character '{bad}', which AWS does not take here"), hint()))
            }
            _ => None,
        }
    }
}

/// Whether `c` is in the bracket class `class` (`a-z`, single characters).
fn in_class(c: char, class: &str) -> bool {
    let cs: Vec<char> = class.chars().collect();
    let mut i = 0;
    while i < cs.len() {
        if i + 2 < cs.len() && cs[i + 1] == '-' {
            if (cs[i]..=cs[i + 2]).contains(&c) {
                return true;
            }
            i += 3;
        } else {
            if cs[i] == c {
                return true;
            }
            i += 1;
        }
    }
    false
}

/// The prefix length of an IPv4 CIDR block, if `s` is one.
fn parse_cidr(s: &str) -> Option<u8> {
    let (addr, prefix) = s.split_once('/')?;
    let octets: Vec<&str> = addr.split('.').collect();
    let ok = octets.len() == 4
        && octets.iter().all(|o| {
            !o.is_empty()
                && o.len() <= 3
                && o.bytes().all(|b| b.is_ascii_digit())
                && o.parse::<u16>().is_ok_and(|v| v <= 255)
        });
    let prefix: u8 = prefix.parse().ok().filter(|p| *p <= 32 && !prefix.starts_with('+'))?;
    ok.then_some(prefix)
}

#[cfg(test)]
mod check_tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_enumeration_names_the_closest_value() {
        let c = Check::OneOf(&["EC2", "FARGATE", "EXTERNAL"]);
        assert_eq!(c.violation(&json!("FARGATE")), None);
        let (msg, hint) = c.violation(&json!("FARGATEE")).unwrap();
        assert_eq!(msg, "'FARGATEE' is not one of the values AWS accepts");
        assert!(hint.starts_with("did you mean 'FARGATE'?"), "{hint}");
    }

    #[test]
    fn names_are_checked_for_length_and_characters() {
        let c = Check::Name { min: 1, max: 10, chars: "A-Za-z0-9._/-" };
        assert_eq!(
            c.violation(&json!("/app/db-1.x")),
            Some(("'/app/db-1.x' is 11 characters long".into(), "use 1 to 10 characters from [A-Za-z0-9._/-]".into()))
        );
        assert_eq!(c.violation(&json!("/app/db_1")), None);
        assert!(c.violation(&json!("a b")).unwrap().0.contains("the character ' '"));
        assert!(c.violation(&json!("")).is_some());
    }

    #[test]
    fn retention_values_suggest_the_nearest() {
        let c = Check::IntIn(&[1, 3, 5, 7, 14, 30]);
        assert_eq!(c.violation(&json!(7)), None);
        assert!(c.violation(&json!(10)).unwrap().1.starts_with("the nearest is 7"), "ties go to the smaller");
        assert!(c.violation(&json!(-1)).is_some());
    }

    #[test]
    fn cidr_syntax_and_prefix_length() {
        let c = Check::Cidr(16, 28);
        assert_eq!(c.violation(&json!("10.0.0.0/16")), None);
        assert!(c.violation(&json!("10.0.0.0/33")).unwrap().0.contains("not an IPv4 CIDR"));
        assert!(c.violation(&json!("10.0.0.0/8")).unwrap().1.contains("/16 to /28"));
        for bad in ["10.0.0/16", "10.0.0.256/16", "10.0.0.0", "a.b.c.d/16", "10.0.0.0/+8"] {
            assert!(c.violation(&json!(bad)).is_some(), "{bad}");
        }
    }

    #[test]
    fn a_range_names_its_bounds() {
        let c = Check::Range(0, 65535);
        assert_eq!(c.violation(&json!(443)), None);
        assert_eq!(c.violation(&json!(70000)).unwrap().1, "use a value from 0 to 65535");
    }
}
