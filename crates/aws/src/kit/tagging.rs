//! The Resource Groups Tagging API: the tags of every resource of one type
//! that carries a stack's `deployctl:stack` tag, in one paginated call.
//! For services whose own API has no batch read of tags (CloudWatch Logs:
//! one ListTagsForResource per log group).
//!
//! The tagging API is eventually consistent: a resource tagged a moment ago
//! may be missing, or show its old tags. Callers ask their service for the
//! ones missing, so what is missing costs a call, never a wrong answer.

use super::Tags;
use crate::error::from_sdk;
use aws_sdk_resourcegroupstagging::types::TagFilter;
use aws_sdk_resourcegroupstagging::Client;
use deployctl_engine::kind::TAG_STACK;
use deployctl_engine::ProviderError;
use futures::future::join_all;
use std::collections::BTreeMap;
use std::future::Future;

/// By ARN, the tags of every resource of `resource_type` tagged
/// `deployctl:stack = instance`, AWS's own (`aws:`) left out.
/// `resource_type` is `service[:type]`; callers pick their resources out
/// of the answer by ARN, so a service-wide filter (`logs`) serves too.
pub async fn stack_tags(
    client: &Client,
    resource_type: &str,
    instance: &str,
) -> Result<BTreeMap<String, Tags>, ProviderError> {
    let filter = TagFilter::builder().key(TAG_STACK).values(instance).build();
    let mut pages = client
        .get_resources()
        .tag_filters(filter)
        .resource_type_filters(resource_type)
        .resources_per_page(100)
        .into_paginator()
        .send();
    let mut out = BTreeMap::new();
    while let Some(page) = pages.next().await {
        for r in page.map_err(from_sdk)?.resource_tag_mapping_list() {
            let Some(arn) = r.resource_arn() else { continue };
            let tags = r
                .tags()
                .iter()
                .filter(|t| !t.key().starts_with("aws:"))
                .map(|t| (t.key().to_string(), t.value().to_string()))
                .collect();
            out.insert(arn.to_string(), tags);
        }
    }
    Ok(out)
}

/// Up to this many resources, one tag read per resource is cheaper than
/// the tagging API's call for the whole stack.
pub const ONE_BY_ONE: usize = 3;

/// The tags of each of `arns`: through the tagging API (`resource_type` as
/// for [`stack_tags`]) when there are more than [`ONE_BY_ONE`] and a client
/// is given, and with `one` (the service's own tag read, `None` when the
/// resource is gone), concurrently, for the rest and for what the tagging
/// API missed. A resource `one` finds gone is left out of the answer.
pub async fn tags_of<F, Fut>(
    tagging: Option<&Client>,
    resource_type: &str,
    instance: &str,
    arns: &[String],
    one: F,
) -> Result<BTreeMap<String, Tags>, ProviderError>
where
    F: Fn(String) -> Fut,
    Fut: Future<Output = Result<Option<Tags>, ProviderError>>,
{
    let mut found = match tagging {
        Some(t) if arns.len() > ONE_BY_ONE => stack_tags(t, resource_type, instance).await?,
        _ => BTreeMap::new(),
    };
    found.retain(|arn, _| arns.contains(arn));
    let missing: Vec<String> = arns.iter().filter(|a| !found.contains_key(*a)).cloned().collect();
    for (arn, tags) in missing.iter().zip(join_all(missing.iter().map(|a| one(a.clone()))).await) {
        if let Some(t) = tags? {
            found.insert(arn.clone(), t);
        }
    }
    Ok(found)
}
