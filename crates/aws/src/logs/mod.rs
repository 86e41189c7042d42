//! CloudWatch Logs resource kinds.

pub mod log_group;
