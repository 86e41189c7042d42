//! EventBridge resource kinds.

pub mod rule;

use crate::Aws;
use deployctl_engine::ResourceKind;
use deployctl_spec::KindSchema;
use std::sync::Arc;

/// The schemas of this service's kinds.
pub fn schemas() -> Vec<&'static KindSchema> {
    vec![&rule::SCHEMA]
}

/// This service's kinds, with their clients.
pub fn kinds(aws: &Aws) -> Vec<Arc<dyn ResourceKind>> {
    vec![Arc::new(rule::Rule::new(aws.events()))]
}
