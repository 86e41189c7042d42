//! Application Auto Scaling resource kinds: scalable targets (an ECS
//! service's desired count between a minimum and a maximum) and their
//! scaling policies.

pub mod policy;
pub mod target;

use crate::Aws;
use deployctl_engine::{ProviderError, ResourceKind};
use deployctl_spec::KindSchema;
use std::sync::Arc;

/// The schemas of this service's kinds.
pub fn schemas() -> Vec<&'static KindSchema> {
    vec![&target::SCHEMA, &policy::SCHEMA]
}

/// This service's kinds, with their clients.
pub fn kinds(aws: &Aws) -> Vec<Arc<dyn ResourceKind>> {
    let client = aws.appautoscaling();
    vec![Arc::new(target::Target::new(client.clone())), Arc::new(policy::Policy::new(client))]
}

/// The most resource ids (or policy names) one Describe… takes.
pub(crate) const CHUNK: usize = 50;

/// Whether the error says the target or policy does not exist: AWS answers
/// ObjectNotFoundException, some endpoints a ValidationException saying so.
pub(crate) fn is_gone(e: &ProviderError) -> bool {
    e.code_is("ObjectNotFoundException")
        || (e.code_is("ValidationException")
            && (e.message.contains("No scalable target") || e.message.contains("No scaling policy")))
}
