//! Secrets Manager resource kinds.

pub mod secret;
pub mod store;
