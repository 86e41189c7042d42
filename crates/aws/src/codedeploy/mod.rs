//! CodeDeploy resource kinds, and the ECS blue/green deployment that
//! `ecs.service` runs through them ([`deployment`]).
//!
//! What moto 5.2.5 does: over awsJson (the local endpoint translates the
//! SDK's RPC v2 CBOR), applications and deployment groups are created, read
//! and tagged; their update and delete answer 500, and a deployment stays
//! `Created` forever. The tests show those with mocked clients.

pub mod application;
pub mod deployment;
pub mod deployment_group;

use crate::error::from_sdk;
use crate::kit::{own_tags, unless_gone, Tags};
use aws_sdk_codedeploy::Client;
use deployctl_engine::ProviderError;

/// The error codes of a CodeDeploy resource that is gone.
pub const GONE: &[&str] = &["ApplicationDoesNotExistException", "DeploymentGroupDoesNotExistException"];

/// `arn:<partition>:codedeploy:<region>:<account>:<rest>`.
pub fn arn(region: &str, account: &str, rest: &str) -> String {
    format!("arn:{}:codedeploy:{region}:{account}:{rest}", crate::s3::partition(region))
}

/// The tags of the resource `arn`; `None` when it is gone.
pub async fn tags_of(client: &Client, arn: &str) -> Result<Option<Tags>, ProviderError> {
    let r = client.list_tags_for_resource().resource_arn(arn).send().await.map_err(from_sdk);
    let gone = |e: &ProviderError| crate::is_not_found(e) || GONE.iter().any(|c| e.code_is(c));
    let Some(out) = unless_gone(r, gone)? else { return Ok(None) };
    Ok(Some(own_tags(out.tags().iter().filter_map(|t| Some((t.key()?, t.value().unwrap_or_default()))))))
}

/// CodeDeploy's tags from `(key, value)` pairs.
pub fn tags(pairs: &Tags) -> Vec<aws_sdk_codedeploy::types::Tag> {
    pairs.iter().map(|(k, v)| aws_sdk_codedeploy::types::Tag::builder().key(k).value(v).build()).collect()
}
