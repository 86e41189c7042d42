//! ECS resource kinds (`ecs.cluster`, `ecs.task_definition`, `ecs.service`)
//! and what they share: tags (ECS spells them `key`/`value`), default names,
//! "not found" errors, the capacity provider strategy, and the checks of
//! `validate` that a property's own check cannot make (a list's items).

pub mod cluster;
pub mod service;
pub mod task_definition;

use crate::error::from_sdk;
use crate::kit::model;
use aws_sdk_ecs::types::{CapacityProviderStrategyItem, Tag};
use aws_sdk_ecs::Client;
use deployctl_engine::{OpCtx, ProviderError};
use deployctl_spec::{KindSchema, Literals, RuleViolation, Type};
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
    crate::kit::own_tags(tags.iter().filter_map(|t| Some((t.key()?, t.value().unwrap_or_default()))))
}

/// Whether an ECS error says the thing (or its cluster) does not exist:
/// `ClusterNotFoundException`, `ServiceNotFoundException`, …
pub(crate) fn is_gone(e: &ProviderError) -> bool {
    crate::is_not_found(e) || e.code.as_deref().is_some_and(|c| c.contains("NotFound"))
}

/// A message for an SDK builder that refused a value (a required member
/// left out).
pub(crate) fn invalid(what: &str, e: impl std::fmt::Display) -> ProviderError {
    ProviderError::new(Some("InvalidParameter".into()), format!("{what}: {e}"))
}

model! {
    /// One entry of a capacity provider strategy (clusters and services).
    pub struct StrategyItem {
        capacity_provider: String = "The capacity provider: `FARGATE`, `FARGATE_SPOT`, or your own." [required],
        weight: i32 = "The relative share of tasks placed with this provider."
            [default("0"), range(0, 1000)],
        base: i32 = "How many tasks, at least, run on this provider (one entry only may set it)."
            [default("0"), range(0, 100_000)],
    }
}

/// A capacity provider strategy as ECS takes it.
pub(crate) fn strategy(items: &[StrategyItem]) -> Result<Vec<CapacityProviderStrategyItem>, ProviderError> {
    items
        .iter()
        .map(|i| {
            let b = CapacityProviderStrategyItem::builder().capacity_provider(&i.capacity_provider);
            b.weight(i.weight).base(i.base).build().map_err(|e| invalid("capacity provider strategy", e))
        })
        .collect()
}

/// A capacity provider strategy as the model holds it.
pub(crate) fn strategy_model(items: &[CapacityProviderStrategyItem]) -> Vec<StrategyItem> {
    let item = |i: &CapacityProviderStrategyItem| StrategyItem {
        capacity_provider: i.capacity_provider().to_string(),
        weight: i.weight(),
        base: i.base(),
    };
    items.iter().map(item).collect()
}

/// The capacity providers ECS defines; a provider of your own may not be
/// named `fargate…` (nor `aws…`, `ecs…`), so a name of that shape that is
/// not one of these is a typo that `validate` refuses.
const FARGATE_PROVIDERS: [&str; 2] = ["FARGATE", "FARGATE_SPOT"];

/// Why `name` cannot be a capacity provider.
fn bad_provider(name: &str) -> Option<String> {
    let lower = name.to_ascii_lowercase();
    let reserved = ["fargate", "aws", "ecs"].into_iter().any(|p| lower.starts_with(p));
    (reserved && !FARGATE_PROVIDERS.contains(&name)).then(|| format!("'{name}' is not a capacity provider"))
}

/// Rule: the capacity providers written in `field` (a list of names, or a
/// strategy's entries) are FARGATE, FARGATE_SPOT or names a provider of
/// your own may have.
pub(crate) fn check_providers(p: &Literals, field: &'static str) -> Option<RuleViolation> {
    let Some(Some(Value::Array(items))) = p.get(field) else { return None };
    let names = items.iter().filter_map(|i| i.as_str().or_else(|| i.get("capacity_provider")?.as_str()));
    let message = names.filter_map(bad_provider).next()?;
    Some(RuleViolation {
        field,
        message,
        hint: "AWS's are FARGATE and FARGATE_SPOT; a provider of your own cannot be named aws…, ecs… or fargate…"
            .into(),
    })
}
