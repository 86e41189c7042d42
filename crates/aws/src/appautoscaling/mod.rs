//! Application Auto Scaling resource kinds: scalable targets (an ECS
//! service's desired count between a minimum and a maximum) and their
//! scaling policies.

pub mod policy;
pub mod target;

use deployctl_engine::ProviderError;

/// The most resource ids (or policy names) one Describe… takes.
pub(crate) const CHUNK: usize = 50;

/// Whether the error says the target or policy does not exist: AWS answers
/// ObjectNotFoundException, some endpoints a ValidationException saying so.
pub(crate) fn is_gone(e: &ProviderError) -> bool {
    e.code_is("ObjectNotFoundException")
        || (e.code_is("ValidationException")
            && (e.message.contains("No scalable target") || e.message.contains("No scaling policy")))
}
