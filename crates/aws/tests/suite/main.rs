//! The integration tests of deployctl-aws, all in one test binary.
//!
//! Each test binary links all the AWS SDK crates this crate depends on (the
//! 15 service clients, aws-config and the smithy runtime), and linking them
//! is most of what a test build costs: one binary instead of one per file
//! links them once, which saves minutes on a 2-core machine (the same layout
//! as ripgrep's `tests/`). Hence `autotests = false` and the single
//! `[[test]]` in Cargo.toml: a new test file goes here as a `mod`, not beside
//! this file.
//!
//! The tests share one process and run on parallel threads: a test must not
//! change process-wide state (environment variables, the working directory)
//! that another test reads.
//!
//! Run one file's tests with `cargo test -p deployctl-aws --test suite ecs_roundtrip::`.

mod support;

mod appautoscaling_roundtrip;
mod cloudfront_roundtrip;
mod codebuild_codepipeline_roundtrip;
mod codecommit_repository;
mod codedeploy_roundtrip;
mod cognito_roundtrip;
mod ecr_elbv2_roundtrip;
mod ecs_roundtrip;
mod events_roundtrip;
mod iam_logs_secrets_roundtrip;
mod mocked_acm;
mod mocked_cloudfront;
mod mocked_codebuild_propagation;
mod mocked_codedeploy;
mod mocked_ecs_rollout;
mod mocked_iam_propagation;
mod mocked_nat;
mod mocked_oidc_provider;
mod mocked_rds;
mod mocked_throttling;
mod mocked_throttling_storm;
mod oidc_provider_roundtrip;
mod rds_roundtrip;
mod reference_doc;
mod s3_sns_cloudwatch_roundtrip;
mod ssm_roundtrip;
mod strict_aws;
