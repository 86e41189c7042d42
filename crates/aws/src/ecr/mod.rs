//! ECR resource kinds.

pub mod repository;

use crate::Aws;
use deployctl_engine::ResourceKind;
use deployctl_spec::KindSchema;
use std::sync::Arc;

/// The schemas of this service's kinds.
pub fn schemas() -> Vec<&'static KindSchema> {
    vec![&repository::SCHEMA]
}

/// This service's kinds, with their clients.
pub fn kinds(aws: &Aws) -> Vec<Arc<dyn ResourceKind>> {
    vec![Arc::new(repository::Repository::new(aws.ecr()))]
}
