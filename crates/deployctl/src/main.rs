//! deployctl: the command-line front of the engine. It parses arguments,
//! loads the spec, wires the AWS clients and the state backend, renders the
//! plan and the engine's events, and maps outcomes to exit codes (see
//! docs/cli.md):
//!
//! | code | meaning |
//! |------|---------|
//! | 0    | success (with `--detailed-exitcode`: no changes) |
//! | 1    | error |
//! | 2    | `diff --detailed-exitcode`: changes present |
//! | 130  | interrupted (Ctrl-C / SIGTERM); state recorded, lock released |

mod cli;
mod render;
mod run;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match rt.block_on(run::main(cli)) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("{}", report(&e));
            ExitCode::from(1)
        }
    }
}

/// An error as the user reads it: `error: ` once, then the message and
/// each cause that the message does not already spell out (the libraries'
/// errors embed their sources; a `context` does not). Spec diagnostics carry
/// their own `error: ` per problem.
fn report(e: &anyhow::Error) -> String {
    if let Some(d) = e.downcast_ref::<deployctl_spec::Diagnostics>() {
        return d.to_string();
    }
    let mut text = format!("error: {e}");
    for cause in e.chain().skip(1) {
        let c = cause.to_string();
        if !text.contains(&c) {
            text.push_str(&format!(": {c}"));
        }
    }
    text
}
