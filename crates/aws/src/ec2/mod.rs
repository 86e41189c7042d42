//! EC2 resource kinds, and what they share: tags, filters, batched reads.

pub mod elastic_ip;
pub mod internet_gateway;
pub mod nat_gateway;
pub mod route_table;
pub mod security_group;
pub mod subnet;
pub mod vpc;
pub mod vpc_endpoint;

use crate::error::from_sdk;
use aws_sdk_ec2::types::{Filter, ResourceType, Tag, TagSpecification};
use aws_sdk_ec2::Client;
use deployctl_engine::kind::TAG_STACK;
use deployctl_engine::{OpCtx, ProviderError};
use std::collections::BTreeMap;

/// The most values one EC2 filter takes.
pub(crate) const FILTER_CHUNK: usize = 200;

/// Runs `describe` once per [`FILTER_CHUNK`] ids and concatenates the
/// answers: the batched read of every EC2 kind.
pub(crate) async fn in_chunks<T, F, Fut>(ids: &[String], mut describe: F) -> Result<Vec<T>, ProviderError>
where
    F: FnMut(&[String]) -> Fut,
    Fut: std::future::Future<Output = Result<Vec<T>, ProviderError>>,
{
    let mut out = Vec::new();
    for chunk in ids.chunks(FILTER_CHUNK) {
        out.extend(describe(chunk).await?);
    }
    Ok(out)
}

pub(crate) fn filter(name: &str, values: &[String]) -> Filter {
    Filter::builder().name(name).set_values(Some(values.to_vec())).build()
}

/// The filter that finds everything this stack tagged.
pub(crate) fn stack_filter(stack: &str) -> Filter {
    filter(&format!("tag:{TAG_STACK}"), &[stack.to_string()])
}

pub(crate) fn tag_spec(rt: ResourceType, tags: &BTreeMap<String, String>) -> TagSpecification {
    TagSpecification::builder()
        .resource_type(rt)
        .set_tags(Some(tags.iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect()))
        .build()
}

/// Tags as a map, AWS's own (`aws:`) left out.
pub(crate) fn tag_map(tags: &[Tag]) -> BTreeMap<String, String> {
    crate::kit::own_tags(tags.iter().filter_map(|t| Some((t.key()?, t.value().unwrap_or_default()))))
}

/// Treats "not found" as success (deletes of what is already gone).
pub(crate) fn ignore_not_found(r: Result<(), ProviderError>) -> Result<(), ProviderError> {
    match r {
        Err(e) if crate::is_not_found(&e) => Ok(()),
        other => other,
    }
}

pub(crate) fn arn(region: &str, owner: Option<&str>, kind: &str, id: &str) -> String {
    format!("arn:aws:ec2:{region}:{}:{kind}/{id}", owner.unwrap_or_default())
}

/// The account id, for the ARNs of kinds whose Describe answer names no
/// owner (addresses, NAT gateways). Read once per run from
/// DescribeSecurityGroups: every VPC has a default group, owned by the
/// account. Clones share the answer, so the kinds of one run ask once.
#[derive(Clone, Default)]
pub struct Account(std::sync::Arc<tokio::sync::OnceCell<String>>);

impl Account {
    pub fn new() -> Account {
        Account::default()
    }

    /// The account id, asked once however many kinds ask at the same time
    /// (`None` when the account has no security group to tell it).
    pub(crate) async fn get(&self, client: &Client) -> Result<Option<String>, ProviderError> {
        let owner = self
            .0
            .get_or_try_init(|| async {
                let out = client.describe_security_groups().max_results(5).send().await.map_err(from_sdk)?;
                Ok::<_, ProviderError>(
                    out.security_groups().iter().find_map(|g| g.owner_id()).unwrap_or_default().to_string(),
                )
            })
            .await?;
        Ok(Some(owner.clone()).filter(|o| !o.is_empty()))
    }

    /// [`Account::get`] ahead of a read of `ids` that will want it, so that
    /// it runs side by side with the read's Describe rather than after it.
    /// Nothing to read, nothing asked.
    pub(crate) async fn ahead(&self, client: &Client, ids: &[String]) -> Result<(), ProviderError> {
        if !ids.is_empty() {
            self.get(client).await?;
        }
        Ok(())
    }
}

/// The ids of the stack's EC2 resources, from one paginated DescribeTags
/// (`deployctl:stack = <instance>`) per run, shared by every EC2 kind's
/// adoption lookup: a fresh stack costs one call instead of one Describe
/// per kind, and a kind none of whose resources is tagged makes no call.
/// Ids are told apart by their prefix (`vpc-`, `nat-`), which AWS fixes,
/// rather than by DescribeTags' resource type, which moto 5.2.5 spells
/// differently (`nat-gateway`, `vpc-elastic-ip`).
#[derive(Clone, Default)]
pub struct Tagged(std::sync::Arc<tokio::sync::Mutex<BTreeMap<String, std::sync::Arc<Vec<String>>>>>);

impl Tagged {
    /// The ids starting with `prefix` (`"subnet-"`) tagged with `stack`.
    pub(crate) async fn ids(&self, client: &Client, stack: &str, prefix: &str) -> Result<Vec<String>, ProviderError> {
        let mut cache = self.0.lock().await;
        let all = match cache.get(stack) {
            Some(all) => all.clone(),
            None => {
                let mut pages = client
                    .describe_tags()
                    .filters(filter("key", &[TAG_STACK.to_string()]))
                    .filters(filter("value", &[stack.to_string()]))
                    .into_paginator()
                    .send();
                let mut ids = Vec::new();
                while let Some(page) = pages.next().await {
                    ids.extend(
                        page.map_err(from_sdk)?.tags().iter().filter_map(|t| t.resource_id()).map(str::to_string),
                    );
                }
                let all = std::sync::Arc::new(ids);
                cache.insert(stack.to_string(), all.clone());
                all
            }
        };
        Ok(all.iter().filter(|id| id.starts_with(prefix)).cloned().collect())
    }
}
