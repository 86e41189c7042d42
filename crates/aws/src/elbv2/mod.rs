//! Elastic Load Balancing v2 resource kinds (application and network load
//! balancers, target groups, listeners), and what they share: tags (read
//! with DescribeTags, 20 ARNs a call, and set with AddTags/RemoveTags),
//! default names, ARN suffixes for CloudWatch dimensions, attribute lists,
//! and batched reads that fall back to one call per ARN when AWS refuses a
//! whole batch because one ARN of it is gone.

pub mod listener;
pub mod load_balancer;
pub mod target_group;

use crate::error::from_sdk;
use crate::tags::tag_changes;
use aws_sdk_elasticloadbalancingv2::types::Tag;
use aws_sdk_elasticloadbalancingv2::Client;
use deployctl_engine::kind::{TAG_RESOURCE, TAG_STACK};
use deployctl_engine::{Observed, OpCtx, Props, ProviderError};
use deployctl_spec::KindSchema;
use futures::future::join_all;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};

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
    if name.len() > NAME_MAX {
        let hash = format!("{:08x}", fnv1a(full.as_bytes()));
        name.truncate(NAME_MAX - hash.len() - 1);
        name = format!("{}-{hash}", name.trim_end_matches('-'));
    }
    if name.is_empty() {
        name = format!("{:08x}", fnv1a(full.as_bytes()));
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

/// Tags in ELBv2's shape.
pub(crate) fn elb_tags(tags: &BTreeMap<String, String>) -> Vec<Tag> {
    tags.iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect()
}

/// Each resource with its tags (one DescribeTags per 20); with `stack`,
/// only those tagged with it. Resources without an ARN are left out.
pub(crate) async fn with_tags<T>(
    client: &Client,
    found: Vec<T>,
    arn: impl Fn(&T) -> Option<&str>,
    stack: Option<&str>,
) -> Result<Vec<(T, BTreeMap<String, String>)>, ProviderError> {
    let arns: Vec<String> = found.iter().filter_map(|t| arn(t).map(str::to_string)).collect();
    if arns.is_empty() {
        return Ok(Vec::new());
    }
    let tags = describe_tags(client, &arns).await?;
    Ok(found
        .into_iter()
        .filter_map(|t| {
            let own = tags.get(arn(&t)?).cloned().unwrap_or_default();
            Some((t, own))
        })
        .filter(|(_, t)| stack.is_none_or(|s| t.get(TAG_STACK).map(String::as_str) == Some(s)))
        .collect())
}

/// The tags of each ARN (AWS's own `aws:` tags left out), 20 ARNs a call,
/// the calls concurrent. ARNs that are gone are absent.
pub(crate) async fn describe_tags(
    client: &Client,
    arns: &[String],
) -> Result<HashMap<String, BTreeMap<String, String>>, ProviderError> {
    let calls = arns.chunks(ARN_CHUNK).map(|chunk| {
        let client = client.clone();
        let chunk = chunk.to_vec();
        async move {
            let r = client.describe_tags().set_resource_arns(Some(chunk.clone())).send().await.map_err(from_sdk);
            match r {
                Ok(out) => Ok(out.tag_descriptions().to_vec()),
                // One ARN of the batch vanished since it was described: ask
                // for each on its own.
                Err(e) if crate::is_not_found(&e) => {
                    let single = chunk.iter().map(|arn| {
                        let client = client.clone();
                        async move { client.describe_tags().resource_arns(arn).send().await.map_err(from_sdk) }
                    });
                    let mut out = Vec::new();
                    for r in join_all(single).await {
                        match r {
                            Ok(o) => out.extend(o.tag_descriptions().iter().cloned()),
                            Err(e) if crate::is_not_found(&e) => {}
                            Err(e) => return Err(e),
                        }
                    }
                    Ok(out)
                }
                Err(e) => Err(e),
            }
        }
    });
    let mut out = HashMap::new();
    for r in join_all(calls).await {
        for d in r? {
            let Some(arn) = d.resource_arn() else { continue };
            let tags = d
                .tags()
                .iter()
                .filter_map(|t| Some((t.key()?.to_string(), t.value().unwrap_or_default().to_string())))
                .filter(|(k, _)| !k.starts_with("aws:"))
                .collect();
            out.insert(arn.to_string(), tags);
        }
    }
    Ok(out)
}

/// Brings a resource's tags to `ctx.tags`: one AddTags for what is new or
/// changed, one RemoveTags for what is gone.
pub(crate) async fn converge_tags(
    client: &Client,
    arn: &str,
    live: &BTreeMap<String, String>,
    ctx: &OpCtx,
) -> Result<(), ProviderError> {
    let (set, unset) = tag_changes(live, &ctx.tags);
    if !set.is_empty() {
        client.add_tags().resource_arns(arn).set_tags(Some(elb_tags(&set))).send().await.map_err(from_sdk)?;
    }
    if !unset.is_empty() {
        client.remove_tags().resource_arns(arn).set_tag_keys(Some(unset)).send().await.map_err(from_sdk)?;
    }
    Ok(())
}

/// Whether an observed resource carries this stack's tag.
pub(crate) fn in_stack(o: &Observed, stack: &str) -> bool {
    o.tags.get(TAG_STACK).map(String::as_str) == Some(stack)
}

/// The `deployctl:resource` tag.
pub(crate) fn address_tag(tags: &BTreeMap<String, String>) -> Option<String> {
    tags.get(TAG_RESOURCE).cloned()
}

/// The value the spec asks for `name`, or the schema's default.
pub(crate) fn want(schema: &KindSchema, desired: &Props, name: &str) -> Option<Value> {
    match desired.get(name) {
        Some(v) if !v.is_null() => Some(v.clone()),
        _ => schema.property(name).and_then(deployctl_engine::diff::default_of),
    }
}

/// A string property (or its default).
pub(crate) fn want_str(schema: &KindSchema, desired: &Props, name: &str) -> Option<String> {
    want(schema, desired, name).and_then(|v| match v {
        Value::String(s) => Some(s),
        Value::Null => None,
        other => Some(other.to_string()),
    })
}

/// An integer property (or its default); numbers written as strings count.
pub(crate) fn want_i32(schema: &KindSchema, desired: &Props, name: &str) -> Option<i32> {
    want(schema, desired, name).and_then(|v| match v {
        Value::Number(n) => n.as_i64().map(|n| n as i32),
        Value::String(s) => s.parse().ok(),
        _ => None,
    })
}

/// A boolean property (or its default).
pub(crate) fn want_bool(schema: &KindSchema, desired: &Props, name: &str) -> Option<bool> {
    want(schema, desired, name).and_then(|v| match v {
        Value::Bool(b) => Some(b),
        Value::String(s) => s.parse().ok(),
        _ => None,
    })
}

/// A set-of-strings property.
pub(crate) fn want_strings(desired: &Props, name: &str) -> Option<Vec<String>> {
    desired
        .get(name)
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
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
}
