//! CloudWatch resource kinds.

pub mod alarm;
