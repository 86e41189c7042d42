//! deployctl-state: the state model, its versioned file format, and the
//! backends that store it (a local file, or S3 with a DynamoDB lock).

mod backend;
mod bootstrap;
mod edit;
mod format;
pub mod local;
mod model;
pub mod s3;

pub use backend::*;
pub use bootstrap::{tls_only_policy, BootstrapReport};
pub use edit::EditError;
pub use format::*;
pub use local::LocalBackend;
pub use model::*;
pub use s3::{S3Backend, S3Lock};
