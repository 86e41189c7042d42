//! SNS resource kinds, and what they share: a topic's attributes, which
//! both the topic and its policy read, asked for once per plan.

pub mod topic;
pub mod topic_policy;

use crate::error::from_sdk;
use aws_sdk_sns::operation::get_topic_attributes::GetTopicAttributesOutput;
use aws_sdk_sns::Client;
use deployctl_engine::{ProviderError, ReadCtx};
use std::sync::Arc;

/// GetTopicAttributes of `arn`, one call for every read of the plan
/// ([`ReadCtx::shared`]).
pub(crate) async fn topic_attributes(
    client: &Client,
    ctx: &ReadCtx,
    arn: &str,
) -> Result<Arc<GetTopicAttributesOutput>, ProviderError> {
    ctx.shared(&format!("sns:GetTopicAttributes:{arn}"), || async {
        client.get_topic_attributes().topic_arn(arn).send().await.map_err(from_sdk)
    })
    .await
}
