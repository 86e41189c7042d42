//! CodeBuild resource kinds.

pub mod project;
