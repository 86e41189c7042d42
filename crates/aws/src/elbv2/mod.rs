//! Elastic Load Balancing v2 resource kinds (application and network load
//! balancers, target groups, listeners), and what they share: tags read
//! from the run's tagging-API answer where it has them, else with
//! DescribeTags (20 ARNs a call; set by the adapter through `Elbv2Tags`), default names and their rules, ARN suffixes for CloudWatch
//! dimensions, and the schema rules run again on resolved values.

pub mod listener;
pub mod listener_rule;
pub mod load_balancer;
pub mod target_group;

use crate::error::from_sdk;
use crate::kit::tagging::{self, StackTags};
use crate::kit::{read_batched, Model, Tags};
use aws_sdk_elasticloadbalancingv2::types::{LoadBalancer, Tag};
use aws_sdk_elasticloadbalancingv2::Client;
use deployctl_engine::kind::TAG_STACK;
use deployctl_engine::{Props, ProviderError};
use deployctl_spec::{KindSchema, Literals, RuleViolation};
use serde_json::Value;
use std::collections::HashMap;
use std::future::Future;

/// The most ARNs one DescribeTags (and one Describe… by ARN) takes.
pub(crate) const ARN_CHUNK: usize = 20;

/// The longest load balancer or target group name.
const NAME_MAX: usize = 32;

/// `<stack>-<address>` as a load balancer or target group name: letters,
/// digits and hyphens, at most 32 characters, no hyphen at either end, not
/// starting with `internal-` (AWS reserves it). A name too long keeps its
/// start and ends with a hash of the whole, so it stays unique and
/// deterministic.
pub(crate) fn default_name(stack: &str, address: &str) -> String {
    let full = format!("{stack}-{address}");
    let mut name: String = full.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect();
    while name.contains("--") {
        name = name.replace("--", "-");
    }
    let mut name = name.trim_matches('-').to_string();
    if name.to_ascii_lowercase().starts_with("internal-") {
        name = format!("lb-{name}");
    }
    let hash = || format!("{:08x}", fnv1a(full.as_bytes()));
    if name.len() > NAME_MAX {
        name.truncate(NAME_MAX - 9);
        name = format!("{}-{}", name.trim_end_matches('-'), hash());
    }
    if name.is_empty() {
        name = hash();
    }
    name
}

/// 32-bit FNV-1a: a small stable hash for shortened names.
fn fnv1a(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5u32, |h, b| (h ^ u32::from(*b)).wrapping_mul(0x0100_0193))
}

/// What follows `marker` in an ARN: `loadbalancer/` gives `app/name/123`,
/// the LoadBalancer dimension of CloudWatch; for a target group the
/// dimension keeps the marker (`targetgroup/name/123`).
pub(crate) fn arn_suffix(arn: &str, marker: &str, keep_marker: bool) -> String {
    match arn.find(marker) {
        Some(i) if keep_marker => arn[i..].to_string(),
        Some(i) => arn[i + marker.len()..].to_string(),
        None => String::new(),
    }
}

/// Tags in ELBv2's shape, for the create calls.
pub(crate) fn elb_tags(tags: &Tags) -> Vec<Tag> {
    tags.iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect()
}

/// Every load balancer of the account and region.
pub(crate) async fn all_load_balancers(client: &Client) -> Result<Vec<LoadBalancer>, ProviderError> {
    let mut pages = client.describe_load_balancers().into_paginator().send();
    let mut out = Vec::new();
    while let Some(page) = pages.next().await {
        out.extend(page.map_err(from_sdk)?.load_balancers.unwrap_or_default());
    }
    Ok(out)
}

/// Each resource with its tags: those the run's tagging-API answer holds
/// (`run`: it and the stack instance) from it, the rest with one
/// DescribeTags per 20 ARNs (`missing` is the code AWS refuses a batch with
/// when one ARN of it is gone); with `stack`, only those tagged with it.
/// Resources gone meanwhile are left out.
pub(crate) async fn with_tags<T>(
    client: &Client,
    run: Option<(&StackTags, &str)>,
    found: Vec<T>,
    arn: impl Fn(&T) -> Option<&str>,
    missing: &str,
    stack: Option<&str>,
) -> Result<Vec<(T, Tags)>, ProviderError> {
    let arns: Vec<String> = found.iter().filter_map(|t| arn(t).map(str::to_string)).collect();
    let mut tags: HashMap<String, Tags> = tagging::taken(run, &arns).await?.into_iter().collect();
    let rest: Vec<String> = arns.into_iter().filter(|a| !tags.contains_key(a)).collect();
    let described = read_batched(&rest, ARN_CHUNK, missing, |arns| async move {
        let out = client.describe_tags().set_resource_arns(Some(arns)).send().await.map_err(from_sdk)?;
        Ok(out.tag_descriptions.unwrap_or_default())
    })
    .await?;
    tags.extend(described.into_iter().filter_map(|d| {
        let own = d.tags.unwrap_or_default().into_iter().filter_map(|t| Some((t.key?, t.value.unwrap_or_default())));
        Some((d.resource_arn?, own.filter(|(k, _)| !k.starts_with("aws:")).collect()))
    }));
    Ok(found
        .into_iter()
        .filter_map(|t| {
            let own = tags.remove(arn(&t)?)?;
            Some((t, own))
        })
        .filter(|(_, t)| stack.is_none_or(|s| t.get(TAG_STACK).map(String::as_str) == Some(s)))
        .collect())
}

/// A read of known ARNs (a load balancer's or a target group's): the
/// resources, described 20 a call, with their tags ([`with_tags`]), and
/// each one's attributes asked for side by side with them, not after: one
/// round trip instead of two. What is gone is left out.
pub(crate) async fn read_known<T, D, DF, A, AF>(
    client: &Client,
    run: Option<(&StackTags, &str)>,
    ids: &[String],
    missing: &str,
    describe: D,
    arn: impl Fn(&T) -> Option<&str>,
    attributes: A,
) -> Result<Vec<(T, Tags, HashMap<String, String>)>, ProviderError>
where
    D: Fn(Vec<String>) -> DF,
    DF: Future<Output = Result<Vec<T>, ProviderError>>,
    A: Fn(String) -> AF,
    AF: Future<Output = Result<Option<HashMap<String, String>>, ProviderError>>,
{
    let found = async {
        let found = read_batched(ids, ARN_CHUNK, missing, describe).await?;
        with_tags(client, run, found, &arn, missing, None).await
    };
    let listed = futures::future::try_join_all(ids.iter().map(|id| {
        let listed = attributes(id.clone());
        async move { Ok::<_, ProviderError>((id.as_str(), listed.await?)) }
    }));
    let (found, listed) = futures::try_join!(found, listed)?;
    let mut listed: HashMap<&str, Option<HashMap<String, String>>> = listed.into_iter().collect();
    Ok(found
        .into_iter()
        .filter_map(|(t, tags)| {
            let attributes = listed.remove(arn(&t)?)??;
            Some((t, tags, attributes))
        })
        .collect())
}

/// Why `name` is not a load balancer or target group name AWS takes.
fn bad_name(name: &str, lb: bool) -> Option<String> {
    if name.is_empty() || name.len() > NAME_MAX {
        Some(format!("the name {name:?} has {} characters; AWS takes 1 to {NAME_MAX}", name.len()))
    } else if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        Some(format!("the name {name:?} has characters other than letters, digits and hyphens"))
    } else if name.starts_with('-') || name.ends_with('-') {
        Some(format!("the name {name:?} begins or ends with a hyphen"))
    } else if lb && name.to_ascii_lowercase().starts_with("internal-") {
        Some(format!("the name {name:?} begins with `internal-`, which AWS reserves"))
    } else {
        None
    }
}

/// A property's literal value (`None` when unset, null, or known only at
/// apply).
pub(crate) fn literal<'a>(p: &'a Literals, k: &str) -> Option<&'a Value> {
    p.get(k)?.as_ref().filter(|v| !v.is_null())
}

/// A literal string property.
pub(crate) fn literal_str<'a>(p: &'a Literals, k: &str) -> Option<&'a str> {
    literal(p, k)?.as_str()
}

pub(crate) fn violation(field: &'static str, message: String, hint: &str) -> Option<RuleViolation> {
    Some(RuleViolation { field, message, hint: hint.to_string() })
}

/// The `name` rule of load balancers (`lb`) and target groups.
pub(crate) fn name_fits(p: &Literals, lb: bool) -> Option<RuleViolation> {
    let message = bad_name(literal_str(p, "name")?, lb)?;
    violation("name", message, "letters, digits and hyphens, at most 32, no hyphen at either end; or leave it unset")
}

/// Adds `hint` to an error with `code`.
pub(crate) fn hint_on(
    code: &'static str,
    hint: impl FnOnce() -> String,
) -> impl FnOnce(ProviderError) -> ProviderError {
    move |e| if e.code_is(code) { e.with_hint(hint()) } else { e }
}

/// Who else may switch what a listener or rule forwards to.
pub(crate) const CONTROLLERS: &[&str] = &["codedeploy", "ecs"];

/// What a listener's or rule's controller owns: its one forward action's
/// target groups (`field` is `default_actions` or `actions`).
pub(crate) fn forward_controlled(
    live: &deployctl_engine::Observed,
    desired: &deployctl_engine::kind::Wanted,
    field: &'static str,
) -> Vec<(&'static str, String)> {
    let controller = match desired.get("controlled_by") {
        Some(Some(Value::String(c))) => c.as_str(),
        _ => return Vec::new(),
    };
    let forwards =
        |v: Option<&Value>| v.and_then(Value::as_array).is_some_and(|a| a.len() == 1 && a[0]["type"] == "forward");
    let wanted = desired.get(field).and_then(Option::as_ref);
    if !(forwards(live.properties.get(field)) && forwards(wanted)) {
        return Vec::new();
    }
    let who = if controller == "ecs" { "ECS" } else { "CodeDeploy" };
    vec![(field, format!("{who} switches the target groups it forwards to"))]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_names_fit_aws_rules() {
        assert_eq!(default_name("shop", "alb"), "shop-alb");
        assert_eq!(default_name("shop", "tg[a]"), "shop-tg-a");
        assert_eq!(default_name("internal", "alb"), "lb-internal-alb");
        let long = default_name("a-very-long-stack-name", "and_a_long_resource_address");
        assert!(long.len() <= 32, "{long}");
        assert!(long.starts_with("a-very-long-stack-name-"), "{long}");
        assert_eq!(long, default_name("a-very-long-stack-name", "and_a_long_resource_address"));
        assert_ne!(long, default_name("a-very-long-stack-name", "and_a_long_resource_address2"));
        assert!(!long.ends_with('-') && !long.starts_with('-'));
    }

    #[test]
    fn arn_suffixes_are_the_cloudwatch_dimensions() {
        let lb = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/shop-alb/50dc6c495c0c9188";
        assert_eq!(arn_suffix(lb, "loadbalancer/", false), "app/shop-alb/50dc6c495c0c9188");
        let tg = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/shop-tg/73e2d6bc24d8a067";
        assert_eq!(arn_suffix(tg, "targetgroup/", true), "targetgroup/shop-tg/73e2d6bc24d8a067");
    }

    /// Guards a blue/green listener: what its controller switched must not
    /// be planned back, and nothing else is left alone.
    #[test]
    fn only_a_controlled_single_forward_is_left_to_its_controller() {
        let forward = |tg: &str| serde_json::json!([{"type": "forward", "target_group_arn": tg}]);
        let live = deployctl_engine::Observed {
            properties: [("default_actions".to_string(), forward("green"))].into_iter().collect(),
            ..Default::default()
        };
        let desired = |by: Option<&str>, actions: Value| -> deployctl_engine::kind::Wanted {
            [
                ("controlled_by".to_string(), Some(by.map_or(Value::Null, Value::from))),
                ("default_actions".to_string(), Some(actions)),
            ]
            .into_iter()
            .collect()
        };
        let owned = forward_controlled(&live, &desired(Some("codedeploy"), forward("blue")), "default_actions");
        assert_eq!(owned, [("default_actions", "CodeDeploy switches the target groups it forwards to".to_string())]);
        assert!(forward_controlled(&live, &desired(None, forward("blue")), "default_actions").is_empty());
        let redirect = serde_json::json!([{"type": "redirect", "redirect_config": {"protocol": "HTTPS"}}]);
        assert!(forward_controlled(&live, &desired(Some("ecs"), redirect), "default_actions").is_empty());
    }
}
