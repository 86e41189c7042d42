//! The integration tests of deployctl-state, all in one test binary.
//!
//! One binary per crate rather than one per file: each test binary links the
//! crate and all its dependencies again, the S3 and DynamoDB SDK crates among
//! them, so fewer binaries build faster (the same layout as ripgrep's
//! `tests/`, and as deployctl-aws's suite). Hence `autotests = false` and the
//! single `[[test]]` in Cargo.toml: a new test file goes here as a `mod`, not
//! beside this file.
//!
//! The tests share one process and run on parallel threads: a test must not
//! change process-wide state (environment variables, the working directory)
//! that another test reads. Golden files stay in `tests/golden/`, found
//! through `CARGO_MANIFEST_DIR`.
//!
//! Run one file's tests with `cargo test -p deployctl-state --test suite format_golden::`.

mod format_golden;
mod s3_backend;
