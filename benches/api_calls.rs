//! The API-call benchmark: what each command costs in AWS calls, retries and
//! state writes, on the example stacks against the local endpoint. Speed
//! goals are stated in these numbers (they do not depend on the machine),
//! not in seconds. Run with `scripts/bench`; it prints a
//! Markdown table (docs/benchmarks.md holds the latest figures).

use deployctl_localaws::LocalAws;
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

fn start_moto() -> LocalAws {
    LocalAws::start().unwrap_or_else(|e| panic!("{e}"))
}

/// Secrets the example stacks read (`env:`), with throwaway values.
const SECRETS: [(&str, &str); 2] = [("ALPHA_VANTAGE_API_KEY", "bench-api-key"), ("GITHUB_TOKEN", "bench-github-token")];

fn run(moto: &LocalAws, state: &Path, args: &[&str]) -> std::process::Output {
    let bin =
        root().join(std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into())).join("debug/deployctl");
    let out = Command::new(&bin)
        .args(args)
        .current_dir(root())
        .envs(moto.client_env())
        .env("DEPLOYCTL_STATE_DIR", state)
        .envs(SECRETS)
        .output()
        .unwrap_or_else(|e| panic!("{}: {e} (cargo build first)", bin.display()));
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    out
}

fn deployctl(moto: &LocalAws, state: &Path, args: &[&str]) -> serde_json::Value {
    serde_json::from_slice(&run(moto, state, args).stdout).expect("JSON summary")
}

fn main() {
    // The stacks with an S3 backend need `init` first (not counted).
    let stacks = [
        ("stacks/network.yaml", false),
        ("stacks/network-endpoints.yaml", false),
        ("stacks/prod.yaml", true),
        ("stacks/cicd.yaml", true),
        ("stacks/actions.yaml", true),
        ("stacks/shop.yaml", true),
    ];
    println!("| stack | command | resources changed | API calls | retries | mutating calls | state writes |");
    println!("|---|---|---|---|---|---|---|");
    for (stack, init) in stacks {
        let moto = start_moto();
        let state = tempfile::tempdir().expect("tempdir");
        if init {
            run(&moto, state.path(), &["init", stack]);
        }
        for (label, args) in [
            ("up (create)", vec!["up", stack, "--yes", "--json"]),
            ("up (no changes)", vec!["up", stack, "--yes", "--json"]),
            ("destroy", vec!["destroy", stack, "--yes", "--json"]),
        ] {
            let s = deployctl(&moto, state.path(), &args);
            let p = &s["plan"];
            let changed =
                ["create", "update", "replace", "delete"].iter().map(|k| p[k].as_u64().unwrap_or(0)).sum::<u64>();
            let mut mutating = 0;
            for ops in s["api_calls"].as_object().into_iter().flat_map(|m| m.values()) {
                for (op, c) in ops.as_object().into_iter().flatten() {
                    let read = ["Describe", "Get", "List", "BatchGet", "Head"].iter().any(|p| op.starts_with(p));
                    if !read {
                        mutating += c["calls"].as_u64().unwrap_or(0);
                    }
                }
            }
            println!(
                "| {stack} | {label} | {changed} | {} | {} | {mutating} | {} |",
                s["api_calls_total"], s["api_retries_total"], s["state_writes"]
            );
        }
    }
}
