//! The kind toolkit: what every resource kind shares, written once.
//!
//! A kind is a typed model ([`model!`]) plus its API calls ([`Kind`]).
//! [`Adapter`] implements the engine's `ResourceKind` once for every kind:
//!
//! - it turns the engine's JSON properties into the kind's model, with the
//!   schema's defaults filled in, and the model back into JSON;
//! - it owns adoption: by tag ([`Kind::find_tagged`]) or by natural key
//!   ([`Adopt::ByName`]), batched, and a create that finds its own resource
//!   already there ([`Kind::EXISTS`]) adopts it instead of failing;
//! - it owns tags: a tag change never reaches the kind's `update`; the
//!   kind's [`Tagger`] converges them;
//! - it owns not-found: deleting what is already gone is success;
//! - it owns eventual consistency: a create or update that AWS refuses
//!   because it does not see yet what was just made is retried, bounded
//!   ([`consistency`]);
//! - it hands `delete` the properties state recorded, typed.
//!
//! What is left to a kind is its calls and its mapping: read (batched),
//! create (returning the id and attributes from the create response, with no
//! read-back), update of the properties that changed, delete.

pub mod consistency;
pub mod names;
pub mod policy;
pub mod tagger;
pub mod tagging;

pub use tagger::{TagChange, Tagger};

use crate::tags::{is_ours, is_this_stacks, tag_changes};
use async_trait::async_trait;
use deployctl_engine::kind::{coexistence_by_schema, Wanted, TAG_RESOURCE, TAG_STACK};
use deployctl_engine::{Observed, OpCtx, Props, ProviderError, ReadCtx, ResourceKind};
use deployctl_spec::{Check, KindSchema, Literals, Prop, RuleViolation, Type};
use futures::future::join_all;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;

/// Tags as a map.
pub type Tags = BTreeMap<String, String>;

/// A kind's properties as a Rust type. Written with [`model!`], which
/// derives the schema's property list from the fields.
pub trait Model: Serialize + DeserializeOwned + Clone + Send + Sync + 'static {
    /// The schema of each field, in declaration order.
    const PROPS: &'static [Prop];
    /// An ordered list of this model: the type of a `Vec<Self>` field.
    const LIST: Type;
    /// A set of this model (order does not matter): for
    /// `[typed(Nested::SET)]` on a `Vec<Nested>` field.
    const SET: Type;

    /// The model of `props` (what the engine resolved from the spec, or
    /// what state recorded), with the schema's defaults for what is unset.
    fn from_props(props: &Props) -> Result<Self, ProviderError> {
        let mut full = props.clone();
        fill_defaults(Self::PROPS, &mut full);
        serde_json::from_value(Value::Object(full))
            .map_err(|e| ProviderError::new(Some("InvalidProperties".into()), format!("properties: {e}")))
    }

    /// The model as JSON properties, in the spec's shape.
    fn to_props(&self) -> Props {
        match serde_json::to_value(self) {
            Ok(Value::Object(m)) => m,
            _ => Props::new(),
        }
    }
}

/// Fills each unset property that has a default, nested objects included.
fn fill_defaults(props: &[Prop], values: &mut Props) {
    for p in props {
        let v = values.get(p.name).filter(|v| !v.is_null()).cloned();
        let v = match v {
            Some(v) => Some(v),
            None => p.default.and_then(|d| serde_json::from_str(d).ok()),
        };
        let Some(mut v) = v else { continue };
        coerce(&p.ty, &mut v);
        match (&p.ty, &mut v) {
            (Type::Object(inner), Value::Object(m)) => fill_defaults(inner, m),
            (Type::Set(Type::Object(inner)) | Type::List(Type::Object(inner)), Value::Array(items)) => {
                for item in items {
                    if let Value::Object(m) = item {
                        fill_defaults(inner, m);
                    }
                }
            }
            _ => {}
        }
        values.insert(p.name.to_string(), v);
    }
}

/// A number or boolean that arrives as text (a reference interpolated into
/// a string resolves to one) becomes the schema's type, as the hand-written
/// kinds accepted it; anything else is left for deserialization to refuse.
fn coerce(ty: &Type, v: &mut Value) {
    let Value::String(text) = v else { return };
    let parsed = match ty {
        Type::Int | Type::Duration => text.trim().parse::<i64>().ok().map(Value::from),
        Type::Number => text.trim().parse::<f64>().ok().and_then(serde_json::Number::from_f64).map(Value::Number),
        Type::Bool => text.trim().parse::<bool>().ok().map(Value::Bool),
        _ => None,
    };
    if let Some(p) = parsed {
        *v = p;
    }
}

/// The schema type a field's Rust type means. [`Prop::typed`] overrides it
/// where one Rust type serves several (a list versus a set, seconds versus
/// a duration).
pub trait PropType {
    const TYPE: Type;
}

macro_rules! prop_types {
    ($($t:ty => $v:expr),* $(,)?) => { $(impl PropType for $t { const TYPE: Type = $v; })* };
}
prop_types! {
    String => Type::String,
    i64 => Type::Int,
    i32 => Type::Int,
    f64 => Type::Number,
    bool => Type::Bool,
    Value => Type::Document,
    Vec<String> => Type::Set(&Type::String),
    Vec<Value> => Type::List(&Type::Document),
    BTreeMap<String, String> => Type::Map(&Type::String),
}
impl<T: PropType> PropType for Option<T> {
    const TYPE: Type = T::TYPE;
}
impl<T: Model> PropType for Vec<T> {
    const TYPE: Type = T::LIST;
}

/// Declares a kind's model: a struct whose fields are its properties. The
/// field's name is the property's name, its Rust type gives the schema
/// type, and the bracket lists the [`Prop`] builders that apply:
///
/// ```ignore
/// model! {
///     pub struct VpcModel {
///         cidr_block: String = "The IPv4 range." [required, replace, cidr(16, 28)],
///         enable_dns_support: bool = "Whether DNS resolves." [default("true")],
///     }
/// }
/// ```
///
/// `VpcModel::PROPS` is then the schema's property list, and code that
/// misspells a property does not compile. A property whose name is a Rust
/// keyword is written `r#type as "type": String = ...`.
#[macro_export]
macro_rules! model {
    ($(#[$meta:meta])* $vis:vis struct $name:ident {
        $( $field:ident $(as $rename:literal)? : $ty:ty = $doc:literal
           $([ $($m:ident $(( $($arg:expr),* ))?),* $(,)? ])? ),* $(,)?
    }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
        $vis struct $name {
            $( $(#[serde(rename = $rename)])? pub $field: $ty, )*
        }
        impl $crate::kit::Model for $name {
            const PROPS: &'static [deployctl_spec::Prop] = &[
                $( deployctl_spec::Prop::new(
                    $crate::kit::prop_name!($field $(, $rename)?),
                    <$ty as $crate::kit::PropType>::TYPE,
                    $doc,
                ) $($( .$m($($($arg),*)?) )*)? ),*
            ];
            const LIST: deployctl_spec::Type =
                deployctl_spec::Type::List(&<$name as $crate::kit::PropType>::TYPE);
            const SET: deployctl_spec::Type =
                deployctl_spec::Type::Set(&<$name as $crate::kit::PropType>::TYPE);
        }
        impl $crate::kit::PropType for $name {
            const TYPE: deployctl_spec::Type =
                deployctl_spec::Type::Object(<$name as $crate::kit::Model>::PROPS);
        }
    };
}
pub use model;

/// A property's name: the field's, or the `as "name"` given for a field
/// whose name is a Rust keyword (`r#type as "type"`).
#[doc(hidden)]
#[macro_export]
macro_rules! prop_name {
    ($field:ident) => {
        stringify!($field)
    };
    ($field:ident, $rename:literal) => {
        $rename
    };
}
pub use prop_name;

/// A write-only value (the plaintext the engine hands over, or the recorded
/// fingerprint): it serializes as null and debugs as `<redacted>`, so the
/// adapter's results (built from the model) never carry it.
#[derive(Clone, PartialEq, serde::Deserialize)]
#[serde(transparent)]
pub struct WriteOnly(pub String);

impl WriteOnly {
    /// `e` with this value replaced by `<redacted>`, in case AWS (or a
    /// transport error) ever echoes it.
    pub fn redact(&self, mut e: ProviderError) -> ProviderError {
        if !self.0.is_empty() {
            e.message = e.message.replace(&self.0, "<redacted>");
            e.hint = e.hint.map(|h| h.replace(&self.0, "<redacted>"));
        }
        e
    }

    /// `e` with `secret`'s value, if there is one, redacted.
    pub fn redact_any(secret: Option<&WriteOnly>, e: ProviderError) -> ProviderError {
        match secret {
            Some(s) => s.redact(e),
            None => e,
        }
    }
}

impl std::fmt::Debug for WriteOnly {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}
impl serde::Serialize for WriteOnly {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_none()
    }
}
impl PropType for WriteOnly {
    const TYPE: Type = Type::Secret;
}

/// A resource as a kind reads it.
#[derive(Debug, Clone)]
pub struct Live<M> {
    pub id: String,
    pub model: M,
    /// Its tags, AWS's own (`aws:`) left out.
    pub tags: Tags,
    pub attributes: Props,
}

impl<M: Model> Live<M> {
    pub fn observed(self) -> Observed {
        Observed { id: self.id, properties: self.model.to_props(), tags: self.tags, attributes: self.attributes }
    }
}

/// What a create returns: the id and the attributes, from the create
/// call's (and its wait's) responses.
#[derive(Debug, Clone)]
pub struct Created {
    pub id: String,
    pub attributes: Props,
}

/// How a resource this stack created but did not record is found again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Adopt {
    /// By its tags, with [`Kind::find_tagged`].
    ByTag,
    /// By the natural key in this property, which is also the resource's
    /// id (a log group's name), or [`Kind::default_name`] where it is
    /// unset: read, and adopted if it carries this stack's tags.
    ByName(&'static str),
    /// By the kind's own [`Kind::find_existing`]: its natural key has a
    /// default (`<stack>-<address>`) or is not its id (a topic's name versus
    /// its ARN). It must return only resources carrying this stack's tags.
    Custom,
    /// Not at all (the create call itself is idempotent by client token).
    Never,
}

/// Those of `found` that carry `stack`'s tag, by the address their
/// `deployctl:resource` tag names: what every adoption lookup answers.
pub fn this_stacks<M: Model>(found: Vec<Live<M>>, stack: &str) -> Vec<(String, Observed)> {
    found
        .into_iter()
        .filter(|l| l.tags.get(TAG_STACK).map(String::as_str) == Some(stack))
        .filter_map(|l| Some((l.tags.get(TAG_RESOURCE)?.clone(), l.observed())))
        .collect()
}

/// Tags as a map, AWS's own (`aws:`) left out: how every kind reports them.
pub fn own_tags<K: Into<String>, V: Into<String>>(pairs: impl IntoIterator<Item = (K, V)>) -> Tags {
    pairs.into_iter().map(|(k, v)| (k.into(), v.into())).filter(|(k, _)| !k.starts_with("aws:")).collect()
}

/// The answer of a call about one resource, or `None` when `gone` says
/// the resource does not exist.
pub fn unless_gone<T>(
    r: Result<T, ProviderError>,
    gone: impl Fn(&ProviderError) -> bool,
) -> Result<Option<T>, ProviderError> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) if gone(&e) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The value the spec asks for `field`, when it is known and the same as
/// `old`'s: what keeps a replacement from existing beside the old object
/// where AWS allows one object per value.
pub fn kept(old: &Props, new: &Wanted, field: &str) -> Option<String> {
    let v = new.get(field)?.as_ref().filter(|v| old.get(field) == Some(*v))?;
    Some(v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string()))
}

/// The attributes object from `(name, value)` pairs.
pub fn attrs<const N: usize>(pairs: [(&str, Value); N]) -> Props {
    pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

/// A kind: its model and its API calls. [`Adapter`] does the rest.
#[async_trait]
pub trait Kind: Send + Sync + 'static {
    type Model: Model;

    fn schema(&self) -> &'static KindSchema;

    /// How lost resources are found again.
    const ADOPT: Adopt;

    /// Error codes of the create call meaning "a resource with this natural
    /// key exists": with [`Adopt::ByName`], the adapter then adopts it if it
    /// is this resource's (a create retried after a crash), and refuses
    /// otherwise.
    const EXISTS: &'static [&'static str] = &[];

    /// Error codes meaning "no such resource" beyond the ones every service
    /// shares (`*NotFound`, `NoSuchEntity`): a delete that gets one is done.
    const GONE: &'static [&'static str] = &[];

    /// With [`Adopt::ByName`], the name a resource gets when its property
    /// is unset (from `<stack>-<address>`), if it has one.
    fn default_name(&self, _stack: &str, _address: &str) -> Option<String> {
        None
    }

    /// Whether a replacement with the properties `new` can exist beside
    /// `old`, the object it replaces, until what uses it is repointed (the
    /// engine then creates it first): `Err` says why not. The default goes
    /// by the schema's unique properties.
    fn coexists(&self, old: &Props, new: &Wanted) -> Result<(), String> {
        coexistence_by_schema(self.schema(), old, new)
    }

    /// See the engine's `ResourceKind::notes`.
    fn notes(&self, _live: &Observed, _desired: &Wanted, _changed: &[&str]) -> Vec<String> {
        Vec::new()
    }

    /// See the engine's `ResourceKind::refuses_delete`.
    fn refuses_delete(&self, _live: &Observed) -> Option<String> {
        None
    }

    /// See the engine's `ResourceKind::controlled`.
    fn controlled(&self, _live: &Observed, _desired: &Wanted) -> Vec<(&'static str, String)> {
        Vec::new()
    }

    /// How the kind's tags are changed after create; `None` for kinds
    /// without tags.
    fn tagger(&self) -> Option<&dyn Tagger> {
        None
    }

    /// The run's tagging-API answer the kind's reads take tags from, if
    /// any: the adapter asks for it side by side with the kind's read.
    fn stack_tags(&self) -> Option<&tagging::StackTags> {
        None
    }

    /// Reads the given ids in as few calls as the API allows; ids that no
    /// longer exist are left out.
    async fn read(&self, ctx: &ReadCtx, ids: &[String]) -> Result<Vec<Live<Self::Model>>, ProviderError>;

    /// Every resource of the kind tagged `deployctl:stack = ctx.stack`
    /// (used with [`Adopt::ByTag`]).
    async fn find_tagged(&self, _ctx: &ReadCtx) -> Result<Vec<Live<Self::Model>>, ProviderError> {
        Ok(Vec::new())
    }

    /// With [`Adopt::Custom`]: the resources this stack created for the
    /// `wanted` addresses (with what is known of their properties), looked
    /// up in as few calls as the API allows.
    async fn find_existing(
        &self,
        _ctx: &ReadCtx,
        _wanted: &[(String, Props)],
    ) -> Result<Vec<(String, Observed)>, ProviderError> {
        Ok(Vec::new())
    }

    /// Creates the resource with `ctx.tags`, waits until it is usable, and
    /// calls `ctx.record_id` the moment the id is known.
    async fn create(&self, ctx: &OpCtx, want: &Self::Model) -> Result<Created, ProviderError>;

    /// Changes the properties named in `changed` (never `tags`) from
    /// `live` to `want`. Returns the new attributes if they changed.
    async fn update(
        &self,
        _ctx: &OpCtx,
        live: &Observed,
        _want: &Self::Model,
        changed: &[&str],
    ) -> Result<Option<Props>, ProviderError> {
        Err(ProviderError::msg(format!("{} cannot change {} in place", live.id, changed.join(", "))))
    }

    /// Deletes the resource. `recorded` is what the last apply recorded
    /// (`None` for a resource adopted and never applied). Not found is
    /// success: the adapter sees to it.
    async fn delete(&self, ctx: &OpCtx, live: &Observed, recorded: Option<&Self::Model>) -> Result<(), ProviderError>;

    /// Finishes an interrupted create: waits as `create` would have.
    async fn resume(&self, _ctx: &OpCtx, current: &Observed) -> Result<Observed, ProviderError> {
        Ok(current.clone())
    }
}

/// The engine's `ResourceKind` for any [`Kind`].
pub struct Adapter<K>(pub K);

impl<K: Kind> Adapter<K> {
    pub fn arc(kind: K) -> Arc<dyn ResourceKind> {
        Arc::new(Adapter(kind))
    }

    async fn converge_tags(&self, ctx: &OpCtx, live: &Observed) -> Result<(), ProviderError> {
        match self.0.tagger() {
            Some(tagger) => converge_tags(tagger, live, &ctx.tags).await,
            None => Ok(()),
        }
    }

    /// A create that found a resource of the same name: this resource's
    /// own, from a run killed before it recorded the id, is adopted and
    /// converged; anything else is refused.
    async fn adopt_existing(
        &self,
        ctx: &OpCtx,
        field: &str,
        name: &str,
        desired: &Props,
        conflict: ProviderError,
    ) -> Result<Observed, ProviderError> {
        let read = ReadCtx::new(ctx.stack.clone(), ctx.region.clone());
        let live = self.0.read(&read, &[name.to_string()]).await?.into_iter().next();
        let ours = |l: &Live<K::Model>| is_ours(&l.tags, &ctx.stack, &ctx.address) && !ctx.replaces.contains(&l.id);
        let Some(live) = live.filter(ours) else {
            return Err(ProviderError::new(
                conflict.code.clone(),
                format!(
                    "a {} with {field} {name} already exists and is not this stack's {}",
                    self.0.schema().type_name,
                    ctx.address
                ),
            )
            .with_hint(format!("choose another {field}, or delete the existing one")));
        };
        ctx.record_id(&live.id);
        let live = live.observed();
        let mut full = desired.clone();
        fill_defaults(K::Model::PROPS, &mut full);
        let mut changed: Vec<String> = K::Model::PROPS
            .iter()
            .filter(|p| {
                full.get(p.name).is_some_and(|v| !v.is_null()) && full.get(p.name) != live.properties.get(p.name)
            })
            .map(|p| p.name.to_string())
            .collect();
        changed.push("tags".into());
        self.update(ctx, &live, desired, &changed).await
    }
}

#[async_trait]
impl<K: Kind> ResourceKind for Adapter<K> {
    fn schema(&self) -> &'static KindSchema {
        self.0.schema()
    }

    fn coexists(&self, old: &Props, new: &Wanted) -> Result<(), String> {
        self.0.coexists(old, new)
    }

    fn notes(&self, live: &Observed, desired: &Wanted, changed: &[&str]) -> Vec<String> {
        self.0.notes(live, desired, changed)
    }

    fn refuses_delete(&self, live: &Observed) -> Option<String> {
        self.0.refuses_delete(live)
    }

    fn controlled(&self, live: &Observed, desired: &Wanted) -> Vec<(&'static str, String)> {
        self.0.controlled(live, desired)
    }

    async fn read(&self, ctx: &ReadCtx, ids: &[String]) -> Result<Vec<Observed>, ProviderError> {
        let warm = async {
            match self.0.stack_tags() {
                Some(tags) if !ids.is_empty() => tags.warm(&ctx.stack).await,
                _ => {}
            }
        };
        let (found, ()) = futures::join!(self.0.read(ctx, ids), warm);
        Ok(found?.into_iter().map(Live::observed).collect())
    }

    async fn find_tagged(&self, ctx: &ReadCtx) -> Result<Vec<(String, Observed)>, ProviderError> {
        if !matches!(K::ADOPT, Adopt::ByTag | Adopt::Custom) {
            return Ok(Vec::new());
        }
        let found = self.0.find_tagged(ctx).await?;
        // Checked here as well as by the kind's filter: adoption must never
        // take another stack's resource, and moto 5.2.5 ignores the tag
        // filter of some Describe calls (DescribeNatGateways).
        Ok(this_stacks(found, &ctx.stack))
    }

    async fn find_existing(
        &self,
        ctx: &ReadCtx,
        wanted: &[(String, Props)],
    ) -> Result<Vec<(String, Observed)>, ProviderError> {
        let field = match K::ADOPT {
            Adopt::ByName(field) => field,
            Adopt::Custom => return self.0.find_existing(ctx, wanted).await,
            Adopt::ByTag | Adopt::Never => return self.find_tagged(ctx).await,
        };
        // One batched read of every candidate's name.
        let mut by_name: BTreeMap<String, Vec<&String>> = BTreeMap::new();
        for (address, props) in wanted {
            let given = props.get(field).and_then(Value::as_str).map(str::to_string);
            if let Some(name) = given.or_else(|| self.0.default_name(&ctx.stack, address)) {
                by_name.entry(name).or_default().push(address);
            }
        }
        if by_name.is_empty() {
            return Ok(Vec::new());
        }
        let names: Vec<String> = by_name.keys().cloned().collect();
        let found = self.0.read(ctx, &names).await?;
        Ok(found
            .into_iter()
            .filter_map(|l| {
                let address = by_name.get(&l.id)?.iter().find(|a| is_this_stacks(&l.tags, &ctx.stack, a))?;
                Some(((*address).clone(), l.observed()))
            })
            .collect())
    }

    async fn create(&self, ctx: &OpCtx, desired: &Props) -> Result<Observed, ProviderError> {
        check_resolved(self.0.schema(), desired)?;
        let want = K::Model::from_props(desired)?;
        // Refused before it made anything, for what it names is not seen
        // yet: started over.
        let fresh =
            |e: &ProviderError| ctx.recent_dependencies && !ctx.id_recorded() && consistency::unseen(e).is_some();
        let what = format!("creating {}", ctx.display);
        match consistency::until_seen(ctx, &what, fresh, || self.0.create(ctx, &want)).await {
            Ok(created) => {
                debug_assert_attributes(self.0.schema(), &created.attributes);
                Ok(Observed {
                    id: created.id,
                    properties: want.to_props(),
                    tags: ctx.tags.clone(),
                    attributes: created.attributes,
                })
            }
            Err(e) => match K::ADOPT {
                Adopt::ByName(field) if e.code.as_deref().is_some_and(|c| K::EXISTS.contains(&c)) => {
                    let given = desired.get(field).and_then(Value::as_str).map(str::to_string);
                    let Some(name) = given.or_else(|| self.0.default_name(&ctx.stack, &ctx.address)) else {
                        return Err(e);
                    };
                    self.adopt_existing(ctx, field, &name, desired, e.clone()).await
                }
                _ => Err(e),
            },
        }
    }

    async fn update(
        &self,
        ctx: &OpCtx,
        current: &Observed,
        desired: &Props,
        changed: &[String],
    ) -> Result<Observed, ProviderError> {
        check_resolved(self.0.schema(), desired)?;
        let want = K::Model::from_props(desired)?;
        let mut attributes = current.attributes.clone();
        let rest: Vec<&str> = changed.iter().map(String::as_str).filter(|c| *c != "tags").collect();
        if !rest.is_empty() {
            // Refused for what it names (not the resource itself) is not
            // seen yet: an update converges, so it is asked again.
            let fresh = |e: &ProviderError| {
                ctx.recent_dependencies
                    && match consistency::unseen(e) {
                        Some(consistency::Unseen::Role) => true,
                        Some(consistency::Unseen::Missing) => !e.message.contains(&current.id),
                        None => false,
                    }
            };
            let update = || self.0.update(ctx, current, &want, &rest);
            let what = format!("updating {}", ctx.display);
            if let Some(a) = consistency::until_seen(ctx, &what, fresh, update).await? {
                debug_assert_attributes(self.0.schema(), &a);
                attributes = a;
            }
        }
        let tags = if changed.iter().any(|c| c == "tags") {
            self.converge_tags(ctx, current).await?;
            ctx.tags.clone()
        } else {
            current.tags.clone()
        };
        Ok(Observed { id: current.id.clone(), properties: want.to_props(), tags, attributes })
    }

    async fn delete(&self, ctx: &OpCtx, current: &Observed, recorded: &Props) -> Result<(), ProviderError> {
        let recorded = if recorded.is_empty() { None } else { K::Model::from_props(recorded).ok() };
        match self.0.delete(ctx, current, recorded.as_ref()).await {
            Err(e) if is_gone::<K>(&e) => Ok(()),
            other => other,
        }
    }

    async fn resume(&self, ctx: &OpCtx, current: &Observed) -> Result<Observed, ProviderError> {
        self.0.resume(ctx, current).await
    }
}

/// The schema's property checks and rules on the resolved values, before
/// any call: what references hid from `validate` (a value known only once
/// the resource it names exists). Run here for every kind, so that no kind
/// validates at apply on its own and the two cannot disagree. A secret's
/// value is never shown to a rule, only that it is set.
pub fn check_resolved(schema: &KindSchema, desired: &Props) -> Result<(), ProviderError> {
    for p in schema.properties {
        if let Some((message, hint)) = desired.get(p.name).and_then(|v| p.check.violation(v)) {
            let message = format!("property '{}' of {}: {message}", p.name, schema.type_name);
            return Err(ProviderError::new(Some("InvalidProperty".into()), message).with_hint(hint));
        }
    }
    let secret = |name: &str| schema.property(name).is_some_and(|p| matches!(p.ty, Type::Secret));
    let values: Literals = desired
        .iter()
        .map(|(k, v)| (k.clone(), Some(if secret(k) { Value::from("<secret>") } else { v.clone() })))
        .collect();
    match schema.rules.iter().find_map(|rule| rule(&values)) {
        Some(v) => {
            let message = format!("{}: {}", schema.type_name, v.message);
            Err(ProviderError::new(Some("InvalidProperties".into()), message).with_hint(v.hint))
        }
        None => Ok(()),
    }
}

/// Brings `live`'s tags to `want` through `tagger`: what the adapter does on
/// update, for the kinds whose create is an upsert that ignores tags on a
/// resource that exists (PutMetricAlarm, PutRule).
pub async fn converge_tags(tagger: &dyn Tagger, live: &Observed, want: &Tags) -> Result<(), ProviderError> {
    let (set, unset) = tag_changes(&live.tags, want);
    if set.is_empty() && unset.is_empty() {
        return Ok(());
    }
    tagger.tag(live, &tagger::TagChange { want, set: &set, unset: &unset }).await
}

/// Retries a kind's own `call` about the resource it has just created
/// while AWS answers one of `codes` (another service, or another call of
/// the same one, does not see it yet), through [`consistency::until_seen`].
/// The first answer is the usual one, so this costs nothing when AWS is
/// consistent already; reads to "wait until visible" are not needed.
pub async fn retry_unseen<T, F, Fut>(ctx: &OpCtx, what: &str, codes: &[&str], call: F) -> Result<T, ProviderError>
where
    F: FnMut() -> Fut + Send,
    Fut: std::future::Future<Output = Result<T, ProviderError>> + Send,
    T: Send,
{
    let listed = |e: &ProviderError| e.code.as_deref().is_some_and(|c| codes.contains(&c));
    consistency::until_seen(ctx, what, listed, call).await
}

/// Describes `ids` in batches of `chunk` with `call`; when AWS refuses a
/// batch with `missing` (one id of it is gone: DescribeLoadBalancers and
/// friends fail the whole call), asks for each id of that batch on its own,
/// concurrently, and leaves out the ones that are gone.
pub async fn read_batched<T, F, Fut>(
    ids: &[String],
    chunk: usize,
    missing: &str,
    call: F,
) -> Result<Vec<T>, ProviderError>
where
    F: Fn(Vec<String>) -> Fut,
    Fut: Future<Output = Result<Vec<T>, ProviderError>>,
{
    let mut out = Vec::new();
    for batch in ids.chunks(chunk.max(1)) {
        match call(batch.to_vec()).await {
            Ok(found) => out.extend(found),
            Err(e) if e.code_is(missing) => {
                for r in join_all(batch.iter().map(|id| call(vec![id.clone()]))).await {
                    match r {
                        Ok(found) => out.extend(found),
                        Err(e) if e.code_is(missing) => {}
                        Err(e) => return Err(e),
                    }
                }
            }
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

/// Rule: each string of the list `field` is one of `values` (a
/// property's `one_of` checks a single string, not a list's items).
pub fn check_each(p: &Literals, field: &'static str, values: &'static [&'static str]) -> Option<RuleViolation> {
    let Some(Some(Value::Array(items))) = p.get(field) else { return None };
    let (message, hint) = items.iter().find_map(|v| Check::OneOf(values).violation(v))?;
    Some(RuleViolation { field, message, hint })
}

/// The strings of the literal list `field` (none when it is unset or not
/// known offline).
pub fn literal_strings<'a>(p: &'a Literals, field: &str) -> Vec<&'a str> {
    match p.get(field) {
        Some(Some(Value::Array(items))) => items.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

/// Deletes with `call`, again while AWS answers `in_use` (what the
/// resource is attached to was deleted a moment ago and still holds it),
/// through the one waiter.
pub async fn delete_when_released<T, F, Fut>(
    ctx: &OpCtx,
    what: &str,
    in_use: &str,
    mut call: F,
) -> Result<(), ProviderError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, ProviderError>>,
{
    ctx.wait_for(what, || {
        let sent = call();
        async move {
            match sent.await {
                Ok(_) => Ok(deployctl_engine::Poll::Ready(())),
                Err(e) if e.code_is(in_use) => Ok(deployctl_engine::Poll::Pending("in use".into())),
                Err(e) => Err(e),
            }
        }
    })
    .await?;
    Ok(())
}

/// Why AWS refuses to delete `live` when its `deletion_protection` is on:
/// what the kinds with that setting answer to `refuses_delete`.
pub fn deletion_protected(live: &Observed) -> Option<String> {
    let on = live.properties.get("deletion_protection") == Some(&Value::Bool(true));
    on.then(|| "deletion protection is on (set deletion_protection: false)".to_string())
}

/// Whether `e` says the resource does not exist.
pub fn is_gone<K: Kind>(e: &ProviderError) -> bool {
    crate::is_not_found(e) || e.code.as_deref().is_some_and(|c| K::GONE.contains(&c))
}

/// Every attribute a kind returns is one its schema declares, so that a
/// reference to it passes `validate` (checked in debug builds: the tests).
fn debug_assert_attributes(schema: &KindSchema, attributes: &Props) {
    if cfg!(debug_assertions) {
        for name in attributes.keys() {
            assert!(schema.attribute(name).is_some(), "{}: attribute {name} is not in the schema", schema.type_name);
        }
    }
}

/// A JSON object as the literal values a rule sees: what the kinds' rule
/// tests build their inputs with.
#[cfg(test)]
pub(crate) fn literals(v: Value) -> Literals {
    v.as_object().into_iter().flatten().map(|(k, v)| (k.clone(), Some(v.clone()))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    model! {
        struct Probe {
            period: i64 = "" [default("60")],
            threshold: f64 = "",
            enabled: bool = "" [default("true")],
            name: Option<String> = "",
        }
    }

    /// Guards numbers written through an interpolated reference: they
    /// resolve to text, and the hand-written kinds accepted them.
    #[test]
    fn numbers_and_booleans_given_as_text_take_the_schema_type() {
        let props = json!({"period": "300", "threshold": "80.5", "enabled": "false", "name": "42"});
        let m = Probe::from_props(props.as_object().unwrap()).unwrap();
        assert_eq!(m, Probe { period: 300, threshold: 80.5, enabled: false, name: Some("42".into()) });
        let defaults = Probe::from_props(json!({"threshold": 1}).as_object().unwrap()).unwrap();
        assert_eq!((defaults.period, defaults.enabled, defaults.name), (60, true, None));
        assert!(Probe::from_props(json!({"threshold": "eighty"}).as_object().unwrap()).is_err());
    }
}
