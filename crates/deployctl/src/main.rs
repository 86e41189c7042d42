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
mod nested;
mod operator;
mod render;
mod run;

use clap::Parser;

/// A command line clap refuses: its message, a hint for Terraform's words,
/// and exit 1 (clap's own 2 means "changes present" here). Help and
/// `--version` are not errors: exit 0.
fn usage_error(e: clap::Error) -> ExitCode {
    let _ = e.print();
    if !e.use_stderr() {
        return ExitCode::SUCCESS;
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some((ours, what)) = args.first().and_then(|word| cli::meant(word)) {
        // The rest of the line as it was typed, so that the command works
        // as printed.
        let rest: Vec<String> = cli::terraform_flags(&args[1..]).iter().map(|a| cli::shell_word(a)).collect();
        let command = [format!("deployctl {ours}")].into_iter().chain(rest).collect::<Vec<_>>().join(" ");
        let spec = if args.len() > 1 { "" } else { " (it takes the stack's spec file)" };
        eprintln!("  hint: did you mean `{command}`? It {what}{spec}");
    }
    ExitCode::from(1)
}
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(e),
    };
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

/// An error as the user reads it: `error: ` once, then its [`message`].
/// Spec diagnostics carry their own `error: ` per problem.
pub(crate) fn report(e: &anyhow::Error) -> String {
    if let Some(d) = e.downcast_ref::<deployctl_spec::Diagnostics>() {
        return d.to_string();
    }
    format!("error: {}", message(e))
}

/// The error's message and each cause that it does not already spell out
/// (the libraries' errors embed their sources; a `context` does not).
pub(crate) fn message(e: &anyhow::Error) -> String {
    let mut text = e.to_string();
    for cause in e.chain().skip(1) {
        let c = cause.to_string();
        if !text.contains(&c) {
            text.push_str(&format!(": {c}"));
        }
    }
    text
}
