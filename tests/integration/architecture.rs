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

/// Validation is the schema's: `validate` checks literals, and the
/// toolkit's adapter runs the same property checks and rules on the
/// resolved values before any create or update (`kit::check_resolved`).
/// So every kind must be built through the adapter (a hand-written
/// `ResourceKind` would skip that check), and no kind runs a schema's rules
/// at apply on its own (the two would drift apart).
#[test]
fn every_kind_is_on_the_toolkit_and_no_kind_validates_at_apply_on_its_own() {
    let lib = std::fs::read_to_string(repo_file("crates/aws/src/lib.rs")).unwrap();
    let start = lib.find("pub static REGISTRY").expect("the registry");
    let registry = &lib[start..start + lib[start..].find("\n];").unwrap()];
    let entries: Vec<&str> = registry.split("Entry {").skip(1).collect();
    assert!(entries.len() >= 29, "{} registry entries seen", entries.len());
    let by_hand: Vec<&&str> = entries.iter().filter(|e| !e.contains("kit::Adapter::arc(")).collect();
    assert!(by_hand.is_empty(), "REGISTRY entries that do not build a kit::Adapter: {by_hand:?}");

    let mut offending = Vec::new();
    let mut dirs = vec![repo_file("crates/aws/src")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                if !path.ends_with("kit") {
                    dirs.push(path);
                }
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            let code = text.split("#[cfg(test)]").next().unwrap_or_default();
            // A schema's rules run, or a rule's finding turned into an
            // apply-time error, outside the toolkit.
            if code.contains("SCHEMA.rules") || code.contains("v.message).with_hint(v.hint)") {
                offending.push(path.display().to_string());
            }
        }
    }
    assert!(offending.is_empty(), "kinds that run validation at apply themselves: {offending:?}");
}
