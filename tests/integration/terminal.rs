//! What a person at a terminal meets: the prompt (on stderr, so that the
//! plan on stdout can be redirected), what declining does, and a saved plan
//! applied as it was reviewed. The terminal is a real pty (util-linux's
//! `script`).

use crate::harness::*;
use std::io::Write;
use std::process::{Command, Stdio};

const SPEC: &str = "stack: tty
region: us-east-1
resources:
  logs:
    type: logs.log_group
    properties: {log_group_name: /tty/logs, retention_in_days: 7}
";

/// Runs deployctl in a pty with `input` typed at it; stdout goes to
/// `stdout_file`, so the pty shows only what went to stderr.
fn in_terminal(p: &Project, args: &[&str], input: &str, stdout_file: &std::path::Path) -> (i32, String) {
    let mut c = script(p, "", args, Some(stdout_file));
    let mut child = c.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("script");
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned())
}

/// `script` running deployctl `args` in a pty (after the shell commands
/// `before`), with the project's environment, stdout to `stdout_file` (or,
/// with `None`, to the pty too).
fn script(p: &Project, before: &str, args: &[&str], stdout_file: Option<&std::path::Path>) -> Command {
    let to = stdout_file.map(|f| format!(" > {}", f.display())).unwrap_or_default();
    let line = format!("{before}{} {}{to}", env!("CARGO_BIN_EXE_deployctl"), args.join(" "));
    let mut c = Command::new("script");
    c.args(["-qec", &line, "/dev/null"]);
    p.around(c)
}

/// `c` with NO_COLOR set, or with it unset whatever the test's environment.
fn no_color(mut c: Command, set: bool) -> Command {
    if set {
        c.env("NO_COLOR", "1");
    } else {
        c.env_remove("NO_COLOR");
    }
    c
}

fn groups(moto: &Moto) -> usize {
    rt().block_on(async {
        let logs = aws_sdk_cloudwatchlogs::Client::new(&moto.sdk_config().await);
        logs.describe_log_groups().log_group_name_prefix("/tty/").send().await.unwrap().log_groups().len()
    })
}

#[test]
fn declining_the_prompt_exits_1_and_the_prompt_is_on_stderr() {
    let moto = Moto::start();
    let p = Project::new(&moto);
    let spec = p.spec("tty.yaml", SPEC).display().to_string();
    let stdout = p.dir.path().join("stdout.txt");
    let (code, terminal) = in_terminal(&p, &["up", &spec], "no\n", &stdout);
    let plan = std::fs::read_to_string(&stdout).unwrap();
    assert_eq!(code, 1, "declining is not success: {terminal}");
    assert!(terminal.contains("Do you want to apply these changes? Only 'yes' will be accepted"), "{terminal}");
    assert!(terminal.contains("Cancelled; nothing was changed."), "{terminal}");
    assert!(plan.contains("logs.log_group.logs will be created"), "the plan is on stdout: {plan}");
    assert!(!plan.contains("Do you want"), "the prompt is not: {plan}");
    assert_eq!(groups(&moto), 0, "nothing was created");

    let (code, terminal) = in_terminal(&p, &["up", &spec], "yes\n", &stdout);
    assert_eq!(code, 0, "{terminal}");
    assert_eq!(groups(&moto), 1);
}

#[test]
fn a_saved_plan_is_applied_as_reviewed_without_asking_again() {
    let moto = Moto::start();
    let p = Project::new(&moto);
    let spec = p.spec("tty.yaml", SPEC).display().to_string();
    let plan = p.dir.path().join("plan.json").display().to_string();
    p.ok(&["diff", &spec, "-o", &plan]);
    // No terminal and no --yes: a fresh plan would be refused; the saved one
    // is what was reviewed.
    assert_eq!(p.run(&["up", &spec]).code, 1);
    // Unless asked to confirm: declined, nothing is applied.
    let stdout = p.dir.path().join("confirm.txt");
    let (code, terminal) = in_terminal(&p, &["up", &spec, "--plan", &plan, "--confirm"], "no\n", &stdout);
    assert_eq!(code, 1, "{terminal}");
    assert!(terminal.contains("Do you want"), "{terminal}");
    assert_eq!(groups(&moto), 0);
    let r = p.ok(&["up", &spec, "--plan", &plan]);
    assert!(!r.stderr.contains("Do you want"), "{r:?}");
    assert_eq!(groups(&moto), 1);
    assert_eq!(p.run(&["diff", &spec, "--detailed-exitcode"]).code, 0);
}

/// A Terraform word gets the deployctl command it means; a usage error
/// exits 1, never 2 (which means "changes present"); `version` prints it.
#[test]
fn terraform_words_get_a_did_you_mean_and_usage_errors_exit_1() {
    let moto = Moto::start();
    let p = Project::new(&moto);
    for (word, ours) in [("plan", "diff"), ("apply", "up"), ("show", "output")] {
        let r = p.run(&[word, "stack.yaml"]);
        assert_eq!(r.code, 1, "{r:?}");
        assert!(r.stderr.contains(&format!("hint: did you mean `deployctl {ours} stack.yaml`?")), "{r:?}");
    }
    // Terraform's flags are spelled as deployctl takes them.
    let r = p.run(&["apply", "stack.yaml", "-auto-approve", "-var-file=dev.yaml"]);
    assert!(r.stderr.contains("did you mean `deployctl up stack.yaml --yes --var-file dev.yaml`?"), "{r:?}");
    let r = p.run(&["up", "--no-such-flag"]);
    assert_eq!(r.code, 1, "a usage error is an error, not 'changes present': {r:?}");
    let r = p.ok(&["version"]);
    assert_eq!(r.stdout, format!("deployctl {}\n", env!("CARGO_PKG_VERSION")));
    assert_eq!(p.run(&["--help"]).code, 0);
}

/// What a pty of `cols` columns showed during `args` (stderr; stdout goes
/// to a file), with NO_COLOR set or not.
fn on_screen(p: &Project, args: &[&str], cols: usize, no_color_set: bool) -> String {
    let c = script(p, &format!("stty cols {cols} rows 40; "), args, Some(&p.dir.path().join("stdout.txt")));
    let done = no_color(c, no_color_set).stdin(Stdio::null()).output().expect("script");
    assert_eq!(done.status.code(), Some(0), "{}", String::from_utf8_lossy(&done.stdout));
    String::from_utf8_lossy(&done.stdout).into_owned()
}

/// A plan shown on a terminal has its symbols coloured, unless NO_COLOR or
/// --no-color says not to.
#[test]
fn a_plan_on_a_terminal_is_coloured_unless_told_not_to() {
    let moto = Moto::start();
    let p = Project::new(&moto);
    let spec = p.spec("tty.yaml", SPEC).display().to_string();
    let shown = |args: &[&str], set: bool| {
        let out = no_color(script(&p, "", args, None), set).stdin(Stdio::null()).output().expect("script");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let coloured = shown(&["diff", &spec], false);
    assert!(coloured.contains("\u{1b}[32m+\u{1b}[0m logs.log_group.logs will be created"), "{coloured:?}");
    for plain in [shown(&["diff", &spec], true), shown(&["diff", &spec, "--no-color"], false)] {
        assert!(plain.contains("+ logs.log_group.logs will be created") && !plain.contains('\u{1b}'), "{plain:?}");
    }
}

/// `text` without its escape sequences (CSI: ESC [ … final byte).
fn plain(text: &str) -> String {
    let mut out = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' && chars.peek() == Some(&'[') {
            chars.next();
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The live view in a real terminal at 80 and 150 columns, during an `up`
/// of stacks/network.yaml: nothing drawn is wider than the screen (so
/// nothing wraps and every redraw lands in place), each finished step is on
/// the final screen once, and colour codes appear exactly when colour is on.
#[test]
fn the_live_view_fits_the_terminal_and_leaves_no_stale_lines() {
    let spec = repo_file("stacks/network.yaml").display().to_string();
    for (cols, no_color) in [(80, false), (150, true)] {
        // Every request held, so that several steps are in flight at once.
        let moto = Moto::start_with_delay(std::time::Duration::from_millis(150));
        let p = Project::new(&moto);
        let plan = p.ok(&["diff", &spec, "--json"]).json();
        let resources = plan["resources"].as_array().unwrap().clone();
        assert_eq!(resources.len(), 15, "{plan}");
        let screen = on_screen(&p, &["up", &spec, "--yes"], cols, no_color);
        // Every piece drawn between carriage returns and newlines fits.
        for piece in screen.split(['\r', '\n']) {
            let shown = plain(piece);
            assert!(shown.chars().count() <= cols, "{} columns at {cols}: {shown:?}", shown.chars().count());
        }
        assert!(screen.contains("… creating"), "the status line was drawn at {cols} columns: {screen:?}");
        // The final screen: what each line shows once its redraws are done
        // (the pty ends lines with \r\n).
        let lines: Vec<String> = screen
            .split('\n')
            .map(|l| plain(l.trim_end_matches('\r').rsplit('\r').next().unwrap_or_default()))
            .collect();
        for r in &resources {
            let done = format!("{}.{}: created", r["type"].as_str().unwrap(), r["address"].as_str().unwrap());
            let n = lines.iter().filter(|l| l.starts_with(&done)).count();
            assert_eq!(n, 1, "{done} shown {n} times at {cols} columns: {lines:#?}");
        }
        let sgr = screen.contains("\u{1b}[32m");
        assert_eq!(sgr, !no_color, "colour codes at {cols} columns with NO_COLOR={no_color}: {screen:?}");
        // The plan went to a file, not a terminal: plain.
        let plan = std::fs::read_to_string(p.dir.path().join("stdout.txt")).unwrap();
        assert!(plan.contains("will be created") && !plan.contains('\u{1b}'), "{plan:?}");
        assert_eq!(p.run(&["diff", &spec, "--detailed-exitcode"]).code, 0);
    }
}
