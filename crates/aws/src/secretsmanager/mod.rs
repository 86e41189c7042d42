//! Secrets Manager resource kinds.

pub mod secret;
pub mod store;

use crate::Aws;
use deployctl_engine::ResourceKind;
use deployctl_spec::KindSchema;
use std::sync::Arc;

/// The schemas of this service's kinds.
pub fn schemas() -> Vec<&'static KindSchema> {
    vec![&secret::SCHEMA]
}

/// This service's kinds, with their clients.
pub fn kinds(aws: &Aws) -> Vec<Arc<dyn ResourceKind>> {
    vec![Arc::new(secret::Secret::new(aws.secretsmanager()))]
}
