//! Integration tests: the real deployctl binary, through the real AWS SDK,
//! against the local AWS endpoint (moto's server behind deployctl's protocol
//! front) over real HTTP. Each test starts its own endpoint on free loopback
//! ports, so tests run in parallel.

mod harness;

mod architecture;
mod canary;
mod crash;
mod delivery;
mod environments;
mod front_door;
mod init;
mod interrupt;
mod local_aws;
mod network;
mod network_tier;
mod operator;
mod prod;
mod replacement;
mod s3_backend;
mod secrets;
mod shop;
mod spec_errors;
mod terminal;
