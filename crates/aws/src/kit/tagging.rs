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
use std::collections::BTreeMap;

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
