//! What the suite's modules share: a local AWS endpoint of a test's own and
//! the round trips' helpers.

pub mod engine;
pub mod kit;
pub mod moto;
