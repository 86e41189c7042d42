//! ECR resource kinds.

pub mod repository;
