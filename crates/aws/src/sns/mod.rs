//! SNS resource kinds.

pub mod topic;
pub mod topic_policy;

use crate::Aws;
use deployctl_engine::ResourceKind;
use deployctl_spec::KindSchema;
use std::sync::Arc;

/// The schemas of this service's kinds.
pub fn schemas() -> Vec<&'static KindSchema> {
    vec![&topic::SCHEMA, &topic_policy::SCHEMA]
}

/// This service's kinds, with their clients.
pub fn kinds(aws: &Aws) -> Vec<Arc<dyn ResourceKind>> {
    vec![Arc::new(topic::Topic::new(aws.sns())), Arc::new(topic_policy::TopicPolicy::new(aws.sns()))]
}
