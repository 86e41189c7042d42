//! `deployctl import`: taking over a resource made outside deployctl. The
//! live resource is read by its id and recorded in state at an address, as
//! if deployctl had applied what it read; the next `up` then converges it
//! to the spec (tags included) in place. An import that the spec would
//! replace is refused unless asked for, so taking over never deletes.

use crate::kind::{Kinds, Observed, ProviderError, ReadCtx, TAG_STACK};
use crate::plan::{Action, Mode, ResourcePlan};
use crate::planner::{plan_with, PlanOptions};
use crate::{EngineError, EventSink};
use deployctl_spec::{dependencies, KindSchema, Stack};
use deployctl_state::{ResourceState, State};

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("the spec has no resource '{address}'\n  hint: add it to the spec first (`--generate` prints the YAML for what is live, given --type), or import to one of: {known}")]
    NotInSpec { address: String, known: String },
    #[error(
        "'{0}' is not a resource type deployctl knows\n  hint: the types are listed in docs/reference.md, e.g. ec2.vpc"
    )]
    UnknownType(String),
    #[error("state already records {address} (id {id})\n  hint: to import another object there, forget this one first with `deployctl state rm`")]
    Recorded { address: String, id: String },
    #[error("reading {type_name} {id}: {source}")]
    Read { type_name: String, id: String, source: ProviderError },
    #[error("no {type_name} with id {id} in {region}\n  hint: check the id and the region (--region); `deployctl state list` shows the shape of a {type_name} id")]
    NotFound { type_name: String, id: String, region: String },
    #[error("{type_name} {id} belongs to stack {owner} (its deployctl:stack tag), not {instance}\n  hint: move it between stacks by removing it from that stack's state (`deployctl state rm`) and its spec first")]
    Owned { type_name: String, id: String, owner: String, instance: String },
    #[error(
        "{id} is recorded in state as {address} already\n  hint: to give it another address, use `deployctl state mv`"
    )]
    AlreadyManaged { id: String, address: String },
    #[error("importing {id} as {address} would have the next up replace it (delete it and create another), because of: {}; nothing was changed\n  hint: make the spec say what is live for those properties (`--generate` prints it), or pass --allow-replace to import it anyway", .forced_by.join(", "))]
    WouldReplace { address: String, id: String, forced_by: Vec<String> },
    #[error(transparent)]
    Plan(#[from] EngineError),
}

/// What an import would record, and what the next `up` would then do to it.
#[derive(Debug)]
pub struct Imported {
    pub address: String,
    pub type_name: String,
    pub observed: Observed,
    /// The state with the resource recorded (serial unchanged: the caller
    /// writes it and bumps the serial).
    pub state: State,
    /// The plan of the imported resource against the spec: `NoOp`, or the
    /// in-place update (tags at least) the next `up` makes.
    pub next: ResourcePlan,
}

/// Reads `id` as the kind of `address` in the spec and records it in
/// (a copy of) `state`; refuses what would be replaced unless
/// `allow_replace`. Nothing is written.
pub async fn import(
    stack: &Stack,
    state: Option<&State>,
    kinds: &Kinds,
    address: &str,
    id: &str,
    allow_replace: bool,
    events: &EventSink,
) -> Result<Imported, ImportError> {
    let Some(resource) = stack.resource(address) else {
        let known = stack.resources.iter().map(|r| r.address.as_str()).collect::<Vec<_>>().join(", ");
        return Err(ImportError::NotInSpec { address: address.to_string(), known });
    };
    let mut state = state.cloned().unwrap_or_else(|| {
        State::for_instance(&stack.name, stack.environment.as_ref().map(|e| e.name.as_str()), &stack.region)
    });
    if let Some(r) = state.resources.get(address) {
        let id = r.id.clone().unwrap_or_else(|| "none yet: a create was interrupted".into());
        return Err(ImportError::Recorded { address: address.to_string(), id });
    }
    if let Some((other, _)) = state.resources.iter().find(|(_, r)| r.id.as_deref() == Some(id)) {
        return Err(ImportError::AlreadyManaged { id: id.to_string(), address: other.clone() });
    }
    let observed = read_one(stack, kinds, &resource.type_name, id).await?;
    if let Some(owner) = observed.tags.get(TAG_STACK).filter(|o| **o != stack.instance()) {
        return Err(ImportError::Owned {
            type_name: resource.type_name.clone(),
            id: id.to_string(),
            owner: owner.clone(),
            instance: stack.instance(),
        });
    }
    let mut recorded = ResourceState::new(&resource.type_name);
    recorded.id = Some(observed.id.clone());
    recorded.properties = observed.properties.clone();
    recorded.attributes = observed.attributes.clone();
    recorded.dependencies = dependencies(stack, resource).into_iter().collect();
    // No tags recorded: the live ones are someone else's until the next up
    // applies the spec's (and deployctl's own), which the plan shows.
    state.resources.insert(address.to_string(), recorded);

    let options = PlanOptions { take_over: None, targets: vec![address.to_string()] };
    let plan = plan_with(stack, Some(&state), kinds, Mode::Apply, events, &options).await?;
    let next = plan.resources.into_iter().find(|r| r.address == address).expect("a targeted plan plans its target");
    if next.action == Action::Replace && !allow_replace {
        return Err(ImportError::WouldReplace {
            address: address.to_string(),
            id: id.to_string(),
            forced_by: next.forced_by.clone(),
        });
    }
    Ok(Imported { address: address.to_string(), type_name: resource.type_name.clone(), observed, state, next })
}

/// The live object `id` of `type_name`, for `import` and `--generate`.
pub async fn read_one(stack: &Stack, kinds: &Kinds, type_name: &str, id: &str) -> Result<Observed, ImportError> {
    let kind = kinds.get(type_name).ok_or_else(|| ImportError::UnknownType(type_name.to_string()))?;
    let ctx = ReadCtx::new(stack.instance(), stack.region.clone());
    let found = kind.read(&ctx, &[id.to_string()]).await.map_err(|source| ImportError::Read {
        type_name: type_name.to_string(),
        id: id.to_string(),
        source,
    })?;
    found.into_iter().next().ok_or_else(|| ImportError::NotFound {
        type_name: type_name.to_string(),
        id: id.to_string(),
        region: stack.region.clone(),
    })
}

/// The spec YAML for a live object at `address` (`name` or `name[key]`):
/// its properties as read, without those equal to their default or
/// deployctl's own, and its tags but deployctl's and AWS's. A for_each
/// instance is written as a for_each with that key.
pub fn spec_yaml(schema: &KindSchema, address: &str, observed: &Observed) -> String {
    let (name, key) = match address.split_once('[') {
        Some((n, rest)) => (n, rest.strip_suffix(']')),
        None => (address, None),
    };
    let mut properties = serde_yaml::Mapping::new();
    for p in schema.properties {
        let Some(v) = observed.properties.get(p.name) else { continue };
        let default = p.default.and_then(|d| serde_json::from_str::<serde_json::Value>(d).ok());
        if v.is_null() || p.state_only || default.as_ref() == Some(v) || is_empty(v) {
            continue;
        }
        if let Ok(y) = serde_yaml::to_value(v) {
            properties.insert(serde_yaml::Value::String(p.name.to_string()), y);
        }
    }
    let tags: serde_yaml::Mapping = observed
        .tags
        .iter()
        .filter(|(k, _)| !k.starts_with("deployctl:") && !k.starts_with("aws:"))
        .map(|(k, v)| (serde_yaml::Value::String(k.clone()), serde_yaml::Value::String(v.clone())))
        .collect();
    let mut body = serde_yaml::Mapping::new();
    body.insert("type".into(), schema.type_name.into());
    if let Some(key) = key {
        let mut each = serde_yaml::Mapping::new();
        each.insert(serde_yaml::Value::String(key.to_string()), serde_yaml::Value::Mapping(Default::default()));
        body.insert("for_each".into(), serde_yaml::Value::Mapping(each));
    }
    if !properties.is_empty() {
        body.insert("properties".into(), serde_yaml::Value::Mapping(properties));
    }
    if !tags.is_empty() {
        body.insert("tags".into(), serde_yaml::Value::Mapping(tags));
    }
    let mut top = serde_yaml::Mapping::new();
    top.insert(serde_yaml::Value::String(name.to_string()), serde_yaml::Value::Mapping(body));
    let yaml = serde_yaml::to_string(&top).unwrap_or_default();
    let mut out = format!("# {address}: {} {}, as read from AWS\n", schema.type_name, observed.id);
    if key.is_some() {
        out.push_str(
            "# one for_each key is shown: give the others their own entries, and write what differs as ${each.value}\n",
        );
    }
    out.push_str(&yaml);
    out
}

fn is_empty(v: &serde_json::Value) -> bool {
    match v {
        serde_json::Value::Array(a) => a.is_empty(),
        serde_json::Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use deployctl_spec::{Prop, Type};

    static PROPS: &[Prop] = &[
        Prop::new("cidr_block", Type::String, "the range"),
        Prop { default: Some("true"), ..Prop::new("enable_dns_support", Type::Bool, "dns") },
        Prop::new("ipv6", Type::List(&Type::String), "none"),
    ];
    static SCHEMA: KindSchema = KindSchema {
        type_name: "ec2.vpc",
        doc: "",
        properties: PROPS,
        attributes: &[],
        taggable: true,
        rules: &[],
        example: "",
    };

    fn observed() -> Observed {
        let props = serde_json::json!({"cidr_block": "10.0.0.0/16", "enable_dns_support": true, "ipv6": []});
        Observed {
            id: "vpc-1".into(),
            properties: props.as_object().unwrap().clone(),
            tags: [("Name", "legacy"), ("deployctl:stack", "x"), ("aws:cloudformation:stack-name", "y")]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            attributes: Default::default(),
        }
    }

    #[test]
    fn generated_yaml_keeps_what_differs_from_the_defaults_and_the_user_s_tags() {
        assert_eq!(
            spec_yaml(&SCHEMA, "vpc", &observed()),
            "# vpc: ec2.vpc vpc-1, as read from AWS\nvpc:\n  type: ec2.vpc\n  properties:\n    cidr_block: 10.0.0.0/16\n  tags:\n    Name: legacy\n"
        );
    }

    #[test]
    fn generated_yaml_for_a_for_each_address_is_a_for_each_with_that_key() {
        let yaml = spec_yaml(&SCHEMA, "vpc[a]", &observed());
        assert!(yaml.contains("vpc:\n  type: ec2.vpc\n  for_each:\n    a: {}\n  properties:\n"), "{yaml}");
        let parsed: serde_yaml::Value = serde_yaml::from_str(&yaml).unwrap();
        assert_eq!(parsed["vpc"]["properties"]["cidr_block"], "10.0.0.0/16");
    }
}
