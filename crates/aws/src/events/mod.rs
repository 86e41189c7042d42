//! EventBridge resource kinds.

pub mod rule;
