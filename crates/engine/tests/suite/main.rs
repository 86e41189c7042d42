//! The integration tests of deployctl-engine, all in one test binary.
//!
//! One binary per crate rather than one per file: each test binary links the
//! crate and all its dependencies again, so fewer binaries build faster (the
//! same layout as ripgrep's `tests/`, and as deployctl-aws's suite). Hence
//! `autotests = false` and the single `[[test]]` in Cargo.toml: a new test
//! file goes here as a `mod`, not beside this file.
//!
//! The tests share one process and run on parallel threads: a test must not
//! change process-wide state (environment variables, the working directory)
//! that another test reads. Golden files stay in `tests/golden/`, found
//! through `CARGO_MANIFEST_DIR`.
//!
//! Run one file's tests with `cargo test -p deployctl-engine --test suite executor::`.

mod executor;
mod plan_golden;
