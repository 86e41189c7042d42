//! CodePipeline resource kinds.

pub mod pipeline;
