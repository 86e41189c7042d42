//! What the suite's modules share: a moto server of a test's own, the round
//! trips' helpers, and the CloudWatch CBOR-to-JSON shim in front of moto.
//!
//! `cbor_shim.rs` is also included on its own, by `#[path]`, outside this
//! crate (the workspace's integration tests and the API-call benchmark): it
//! must not refer to anything else here.

pub mod cbor_shim;
pub mod kit;
pub mod moto;
