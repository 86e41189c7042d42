//! The Resource Groups Tagging API: the tags of every resource that carries
//! a stack's `deployctl:stack` tag, in one paginated call per run
//! ([`StackTags`]), shared by the kinds whose service has no batch read of
//! tags (CloudWatch Logs, CloudWatch, SNS, EventBridge, ECR, S3, SSM,
//! CodeCommit: one ListTagsForResource per resource otherwise), and by
//! ELBv2's, whose DescribeTags batches 20 ARNs but only of one kind's
//! resources: one call a kind, three for a load balancer, its target group
//! and its listener.
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
use std::sync::Arc;
use tokio::sync::Mutex;

/// The services whose kinds take their tags from [`StackTags`]: the answer
/// leaves out the rest (EC2, ECS, IAM read tags with their properties, in
/// the same batch calls), which on a large stack is most of its pages.
pub const SERVICES: &[&str] =
    &["cloudwatch", "codecommit", "ecr", "elasticloadbalancing", "events", "logs", "s3", "sns", "ssm"];

/// By ARN, the tags of every resource of [`SERVICES`] tagged
/// `deployctl:stack = instance`, AWS's own (`aws:`) left out.
pub async fn stack_tags(client: &Client, instance: &str) -> Result<BTreeMap<String, Tags>, ProviderError> {
    let filter = TagFilter::builder().key(TAG_STACK).values(instance).build();
    let types = Some(SERVICES.iter().map(|s| s.to_string()).collect());
    let call = client.get_resources().tag_filters(filter).set_resource_type_filters(types).resources_per_page(100);
    let mut pages = call.into_paginator().send();
    let mut out = BTreeMap::new();
    while let Some(page) = pages.next().await {
        for r in page.map_err(from_sdk)?.resource_tag_mapping_list() {
            let Some(arn) = r.resource_arn() else { continue };
            out.insert(arn.to_string(), super::own_tags(r.tags().iter().map(|t| (t.key(), t.value()))));
        }
    }
    Ok(out)
}

/// The run's one answer of [`stack_tags`], shared by every kind (clones
/// share it). Each resource's entry is handed out once: a second read of
/// the same resource in the run asks its service again, so no read sees
/// tags older than the run's first read of them.
#[derive(Clone)]
pub struct StackTags {
    client: Client,
    answer: Arc<Mutex<Option<Answer>>>,
}

/// The instance asked for, and by ARN the tags not handed out yet.
type Answer = (String, BTreeMap<String, Tags>);

impl StackTags {
    pub fn new(client: Client) -> StackTags {
        StackTags { client, answer: Arc::default() }
    }

    /// Asks for the answer ahead of a read that will take from it (the
    /// adapter does, side by side with the kind's own calls), so that it is
    /// there when the read wants it: one round trip, not two. A failure is
    /// left for `take`, which asks again and reports it.
    pub async fn warm(&self, instance: &str) {
        let mut answer = self.answer.lock().await;
        let _ = self.load(&mut answer, instance).await;
    }

    /// The tags of those of `arns` the answer holds, taken out of it.
    async fn take(&self, instance: &str, arns: &[String]) -> Result<BTreeMap<String, Tags>, ProviderError> {
        let mut answer = self.answer.lock().await;
        self.load(&mut answer, instance).await?;
        let Some((_, tags)) = answer.as_mut() else { return Ok(BTreeMap::new()) };
        Ok(arns.iter().filter_map(|a| Some((a.clone(), tags.remove(a)?))).collect())
    }

    /// The answer for `instance`, asked for unless it is there.
    async fn load(&self, answer: &mut Option<Answer>, instance: &str) -> Result<(), ProviderError> {
        if answer.as_ref().map(|(i, _)| i.as_str()) != Some(instance) {
            let tags = match stack_tags(&self.client, instance).await {
                // Credentials without tag:GetResources: every kind asks its
                // own service, as without the tagging API.
                Err(e) if e.code.as_deref().is_some_and(|c| c.starts_with("AccessDenied")) => BTreeMap::new(),
                other => other?,
            };
            *answer = Some((instance.to_string(), tags));
        }
        Ok(())
    }
}

/// The tags of those of `arns` the run's one tagging-API answer (`run`:
/// it and the stack instance) holds, taken out of it; none without `run`.
/// The caller asks its service for the rest.
pub async fn taken(run: Option<(&StackTags, &str)>, arns: &[String]) -> Result<BTreeMap<String, Tags>, ProviderError> {
    match run {
        Some((s, instance)) if !arns.is_empty() => s.take(instance, arns).await,
        _ => Ok(BTreeMap::new()),
    }
}

/// The tags of each of `arns`: from the run's one tagging-API answer when
/// `stack` is given, and with `one` (the service's own tag read, `None`
/// when the resource is gone), concurrently, for the rest: what the answer
/// lacks (the tagging API is eventually consistent, and the emulator files
/// some services there not at all) or handed out already. A resource `one`
/// finds gone is left out.
pub async fn tags_of<F, Fut>(
    stack: Option<&StackTags>,
    instance: &str,
    arns: &[String],
    one: F,
) -> Result<BTreeMap<String, Tags>, ProviderError>
where
    F: Fn(String) -> Fut,
    Fut: Future<Output = Result<Option<Tags>, ProviderError>>,
{
    let mut found = taken(stack.map(|s| (s, instance)), arns).await?;
    let missing: Vec<String> = arns.iter().filter(|a| !found.contains_key(*a)).cloned().collect();
    for (arn, tags) in missing.iter().zip(join_all(missing.iter().map(|a| one(a.clone()))).await) {
        if let Some(t) = tags? {
            found.insert(arn.clone(), t);
        }
    }
    Ok(found)
}
