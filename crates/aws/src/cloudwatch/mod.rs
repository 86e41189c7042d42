//! CloudWatch resource kinds.

pub mod alarm;
pub mod dashboard;
