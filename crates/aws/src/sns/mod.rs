//! SNS resource kinds.

pub mod topic;
pub mod topic_policy;
