//! ECS resource kinds (`ecs.cluster`, `ecs.task_definition`, `ecs.service`)
//! and what they share: tags (ECS spells them `key`/`value`), default names,
//! "not found" errors, and reading JSON properties.

pub mod cluster;
pub mod service;
pub mod task_definition;

use crate::error::from_sdk;
use aws_sdk_ecs::types::{CapacityProviderStrategyItem, Tag};
use aws_sdk_ecs::Client;
use deployctl_engine::kind::{TAG_RESOURCE, TAG_STACK};
use deployctl_engine::{OpCtx, ProviderError};
use deployctl_spec::{KindSchema, Prop, Type};
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// `<stack>-<address>` in the characters ECS allows in cluster, service and
/// family names (letters, digits, `-`, `_`; at most 255).
pub(crate) fn default_name(stack: &str, address: &str) -> String {
    crate::kit::names::sanitized_name(
        &format!("{stack}-{address}"),
        |c| c.is_ascii_alphanumeric() || c == '-' || c == '_',
        255,
    )
}

/// `ctx.tags` as ECS tags.
pub(crate) fn tags_of(tags: &BTreeMap<String, String>) -> Vec<Tag> {
    tags.iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect()
}

/// Tags as a map, AWS's own (`aws:`) left out.
pub(crate) fn tag_map(tags: &[Tag]) -> BTreeMap<String, String> {
    tags.iter()
        .filter_map(|t| Some((t.key()?.to_string(), t.value().unwrap_or_default().to_string())))
        .filter(|(k, _)| !k.starts_with("aws:"))
        .collect()
}

/// Whether `tags` say the resource belongs to this stack (and, when given,
/// to this address).
pub(crate) fn tagged_for(tags: &BTreeMap<String, String>, stack: &str, address: Option<&str>) -> bool {
    tags.get(TAG_STACK).map(String::as_str) == Some(stack)
        && match address {
            Some(a) => tags.get(TAG_RESOURCE).map(String::as_str) == Some(a),
            None => true,
        }
}

/// Brings the tags of `arn` to `ctx.tags`: one TagResource for what is new or
/// changed, one UntagResource for what is gone.
pub(crate) async fn converge_tags(
    client: &Client,
    arn: &str,
    live: &BTreeMap<String, String>,
    ctx: &OpCtx,
) -> Result<(), ProviderError> {
    let set: Vec<Tag> = ctx
        .tags
        .iter()
        .filter(|(k, v)| live.get(*k) != Some(v))
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect();
    let unset: Vec<String> = live.keys().filter(|k| !ctx.tags.contains_key(*k)).cloned().collect();
    if !set.is_empty() {
        client.tag_resource().resource_arn(arn).set_tags(Some(set)).send().await.map_err(from_sdk)?;
    }
    if !unset.is_empty() {
        client.untag_resource().resource_arn(arn).set_tag_keys(Some(unset)).send().await.map_err(from_sdk)?;
    }
    Ok(())
}

/// Whether an ECS error says the thing (or its cluster) does not exist:
/// `ClusterNotFoundException`, `ServiceNotFoundException`, …
pub(crate) fn is_gone(e: &ProviderError) -> bool {
    crate::is_not_found(e) || e.code.as_deref().is_some_and(|c| c.contains("NotFound"))
}

/// A string property.
pub(crate) fn s(props: &serde_json::Map<String, Value>, key: &str) -> Option<String> {
    match props.get(key) {
        Some(Value::String(v)) => Some(v.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        Some(Value::Bool(b)) => Some(b.to_string()),
        _ => None,
    }
}

/// An integer property (a number, or a string of digits from a variable).
pub(crate) fn int(props: &serde_json::Map<String, Value>, key: &str) -> Option<i32> {
    match props.get(key) {
        Some(Value::Number(n)) => n.as_i64().map(|v| v as i32),
        Some(Value::String(v)) => v.trim().parse().ok(),
        _ => None,
    }
}

/// A boolean property (or `"true"`/`"false"` from a variable).
pub(crate) fn boolean(props: &serde_json::Map<String, Value>, key: &str) -> Option<bool> {
    match props.get(key) {
        Some(Value::Bool(b)) => Some(*b),
        Some(Value::String(v)) => v.parse().ok(),
        _ => None,
    }
}

/// A list of strings property.
pub(crate) fn strings(props: &serde_json::Map<String, Value>, key: &str) -> Option<Vec<String>> {
    match props.get(key) {
        Some(Value::Array(items)) => Some(
            items
                .iter()
                .map(|v| match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect(),
        ),
        _ => None,
    }
}

/// The objects of a list-of-objects property.
pub(crate) fn objects<'a>(
    props: &'a serde_json::Map<String, Value>,
    key: &str,
) -> Vec<&'a serde_json::Map<String, Value>> {
    match props.get(key) {
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_object).collect(),
        _ => Vec::new(),
    }
}

/// An object property.
pub(crate) fn object<'a>(
    props: &'a serde_json::Map<String, Value>,
    key: &str,
) -> Option<&'a serde_json::Map<String, Value>> {
    props.get(key).and_then(Value::as_object)
}

/// A message for an SDK builder that refused a value (a required member
/// left out).
pub(crate) fn invalid(what: &str, e: impl std::fmt::Display) -> ProviderError {
    ProviderError::new(Some("InvalidParameter".into()), format!("{what}: {e}"))
}

/// One entry of a capacity provider strategy (clusters and services).
pub(crate) static STRATEGY_ITEM: [Prop; 3] = [
    Prop::new("capacity_provider", Type::String, "The capacity provider: `FARGATE`, `FARGATE_SPOT`, or your own.")
        .required(),
    Prop::new("weight", Type::Int, "The relative share of tasks placed with this provider.").default("0"),
    Prop::new("base", Type::Int, "How many tasks, at least, run on this provider (one entry only may set it).")
        .default("0"),
];
pub(crate) static STRATEGY_TYPE: Type = Type::Object(&STRATEGY_ITEM);

/// A capacity provider strategy property as ECS takes it.
pub(crate) fn strategy_to_sdk(
    props: &serde_json::Map<String, Value>,
    key: &str,
) -> Result<Vec<CapacityProviderStrategyItem>, ProviderError> {
    objects(props, key)
        .into_iter()
        .map(|o| {
            CapacityProviderStrategyItem::builder()
                .set_capacity_provider(s(o, "capacity_provider"))
                .weight(int(o, "weight").unwrap_or(0))
                .base(int(o, "base").unwrap_or(0))
                .build()
                .map_err(|e| invalid(key, e))
        })
        .collect()
}

/// A capacity provider strategy as the spec writes it.
pub(crate) fn strategy_to_json(items: &[CapacityProviderStrategyItem]) -> Value {
    Value::Array(
        items
            .iter()
            .map(|i| json!({"capacity_provider": i.capacity_provider(), "weight": i.weight(), "base": i.base()}))
            .collect(),
    )
}
