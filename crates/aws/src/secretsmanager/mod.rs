//! Secrets Manager resource kinds.

pub mod secret;
