//! `deployctl-local-aws serve`: runs the local AWS endpoint (moto behind the
//! protocol front) in the foreground until it is killed, and writes the
//! shell environment that points clients at it. `scripts/local-aws start`
//! runs it in a process group of its own and prints that file; `stop` kills
//! the group.
//!
//! ```text
//! deployctl-local-aws serve --env-file PATH --state-dir DIR [--port PORT]
//! ```

use deployctl_localaws::{shell_quote, LocalAws};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

const USAGE: &str = "usage: deployctl-local-aws serve --env-file PATH --state-dir DIR [--port PORT]";

#[derive(Debug)]
struct Args {
    env_file: PathBuf,
    state_dir: PathBuf,
    port: u16,
}

fn parse(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
    if args.next().as_deref() != Some("serve") {
        return Err(USAGE.into());
    }
    let (mut env_file, mut state_dir, mut port) = (None, None, 0);
    while let Some(a) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{a} needs a value\n{USAGE}"));
        match a.as_str() {
            "--env-file" => env_file = Some(PathBuf::from(value()?)),
            "--state-dir" => state_dir = Some(PathBuf::from(value()?)),
            "--port" => port = value()?.parse().map_err(|_| format!("--port: not a port number\n{USAGE}"))?,
            _ => return Err(format!("unknown argument {a}\n{USAGE}")),
        }
    }
    match (env_file, state_dir) {
        (Some(env_file), Some(state_dir)) => Ok(Args { env_file, state_dir, port }),
        _ => Err(USAGE.into()),
    }
}

/// The environment as shell text: `export` lines, then `unset`.
fn env_text(aws: &LocalAws, state_dir: &std::path::Path) -> String {
    let mut out = String::from("# the local AWS endpoint: moto behind deployctl's protocol front\n");
    for (k, v) in aws.client_env() {
        out.push_str(&format!("export {k}={}\n", shell_quote(&v)));
    }
    out.push_str(&format!("export DEPLOYCTL_STATE_DIR={}\n", shell_quote(&state_dir.display().to_string())));
    out.push_str(&format!("unset {}\n", LocalAws::CLIENT_ENV_UNSET.join(" ")));
    out
}

fn main() -> ExitCode {
    let args = match parse(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let mut aws = match LocalAws::start_with(&[], args.port) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    };
    let text = env_text(&aws, &args.state_dir);
    let tmp = args.env_file.with_extension("tmp");
    if let Err(e) = std::fs::write(&tmp, &text).and_then(|_| std::fs::rename(&tmp, &args.env_file)) {
        eprintln!("error: writing {}: {e}", args.env_file.display());
        return ExitCode::from(1);
    }
    eprintln!("local AWS endpoint on {} (moto pid {})", aws.endpoint(), aws.moto_pid());
    while aws.alive() {
        std::thread::sleep(Duration::from_millis(500));
    }
    let _ = std::fs::remove_file(&args.env_file);
    eprintln!("error: moto_server exited; the endpoint is down");
    ExitCode::from(1)
}

#[cfg(test)]
mod tests {
    use super::parse;

    fn args(s: &str) -> impl Iterator<Item = String> + '_ {
        s.split_whitespace().map(str::to_string)
    }

    #[test]
    fn serve_takes_its_files_and_an_optional_port() {
        let a = parse(args("serve --env-file /tmp/e --state-dir /tmp/s --port 4566")).unwrap();
        assert_eq!((a.env_file.to_str(), a.state_dir.to_str(), a.port), (Some("/tmp/e"), Some("/tmp/s"), 4566));
        assert!(parse(args("serve --env-file /tmp/e")).unwrap_err().starts_with("usage:"));
        assert!(parse(args("start")).is_err());
        assert!(parse(args("serve --port x --env-file a --state-dir b")).unwrap_err().contains("not a port"));
    }
}
