//! Integration tests: the real deployctl binary, through the real AWS SDK,
//! against moto's server over real HTTP. Each test starts its own server on
//! a free loopback port, so tests run in parallel.

mod harness;

mod crash;
mod delivery;
mod init;
mod interrupt;
mod network;
mod network_tier;
mod prod;
mod s3_backend;
mod secrets;
mod spec_errors;
