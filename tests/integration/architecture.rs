//! The invariants of docs/ARCHITECTURE.md that a test can check.

use crate::harness::repo_file;

/// The `[dependencies]` section of a Cargo.toml (not the dev-dependencies).
fn dependencies(manifest: &str) -> Vec<String> {
    let text = std::fs::read_to_string(repo_file(manifest)).unwrap();
    let mut out = Vec::new();
    let mut inside = false;
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            inside = line == "[dependencies]";
        } else if inside && !line.is_empty() && !line.starts_with('#') {
            out.push(line.split(['=', '.', ' ']).next().unwrap_or_default().to_string());
        }
    }
    out
}

/// Only crates/aws and crates/state depend on AWS SDK crates: the engine,
/// the spec, the local endpoint and the binary see AWS only through the
/// `ResourceKind` and `Backend` traits.
#[test]
fn only_the_aws_and_state_crates_depend_on_the_aws_sdk() {
    let sdk = |d: &str| {
        d.starts_with("aws-sdk-") || d.starts_with("aws-config") || d.starts_with("aws-smithy") || d == "aws-types"
    };
    for manifest in ["Cargo.toml", "crates/spec/Cargo.toml", "crates/engine/Cargo.toml", "crates/localaws/Cargo.toml"] {
        let deps = dependencies(manifest);
        assert!(!deps.is_empty(), "{manifest} has a [dependencies] section");
        let offending: Vec<&String> = deps.iter().filter(|d| sdk(d)).collect();
        assert!(offending.is_empty(), "{manifest} depends on {offending:?}");
    }
    assert!(dependencies("crates/aws/Cargo.toml").iter().any(|d| sdk(d)), "the check sees SDK dependencies");
}
