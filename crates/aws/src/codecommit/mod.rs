//! CodeCommit resource kinds.

pub mod repository;
