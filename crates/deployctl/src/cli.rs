//! The command line.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(name = "deployctl", version, about = "Deploy AWS stacks from one YAML file, through the AWS API.")]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Args)]
pub struct Global {
    /// AWS region; overrides the spec's `region`.
    #[arg(long, global = true, env = "DEPLOYCTL_REGION")]
    pub region: Option<String>,
    /// AWS profile from ~/.aws/config.
    #[arg(long, global = true)]
    pub profile: Option<String>,
    /// Set a variable: `--var image_tag=v2` (repeatable; the value is YAML).
    #[arg(long = "var", global = true, value_name = "NAME=VALUE")]
    pub vars: Vec<String>,
    /// Read variables from a YAML file (repeatable; later ones win).
    #[arg(long = "var-file", global = true, value_name = "FILE")]
    pub var_files: Vec<String>,
    /// How many steps run at once.
    #[arg(long, global = true, default_value_t = 10)]
    pub parallelism: usize,
    /// Where local state lives when the spec names no backend.
    #[arg(long, global = true, env = "DEPLOYCTL_STATE_DIR", default_value = "state")]
    pub state_dir: PathBuf,
    /// How long to wait for another run's lock before giving up.
    #[arg(long, global = true, default_value = "0s", value_parser = parse_duration)]
    pub lock_timeout: std::time::Duration,
    /// Take over the resources that another instance of this stack owns
    /// (`NAME/ENVIRONMENT`, as the refusal names it) where the spec names
    /// them; their ownership tags are rewritten to this instance.
    #[arg(long = "take-over", global = true, value_name = "INSTANCE")]
    pub take_over: Option<String>,
    /// More detail: API calls per operation, state writes, reads.
    #[arg(short, long, global = true)]
    pub verbose: bool,
    /// No colour in the plan or the live view (also: the NO_COLOR
    /// environment variable).
    #[arg(long = "no-color", global = true)]
    pub no_color: bool,
}

impl Global {
    /// Whether output to a stream (a terminal or not) is coloured: only a
    /// terminal, and not with `--no-color` or a non-empty NO_COLOR.
    pub fn colour(&self, terminal: bool) -> bool {
        terminal && !self.no_color && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
    }

    /// `deployctl COMMAND SPEC` with the options that chose this run's stack
    /// instance, region, profile and state: a command for a hint that works
    /// as printed, on the same environment (a dev run's hint never points
    /// at prod).
    pub fn again(&self, command: &str, spec: &std::path::Path) -> String {
        let mut words = vec!["deployctl".to_string(), command.to_string(), shell_word(&spec.display().to_string())];
        let mut opt = |name: &str, value: &str| {
            words.push(name.to_string());
            words.push(shell_word(value));
        };
        if let Some(r) = &self.region {
            opt("--region", r);
        }
        if let Some(p) = &self.profile {
            opt("--profile", p);
        }
        // Given on the command line: not the default, nor what the
        // environment (which the user's shell still has) set.
        let from_env = std::env::var_os("DEPLOYCTL_STATE_DIR").map(std::path::PathBuf::from);
        if self.state_dir != std::path::Path::new("state") && from_env.as_ref() != Some(&self.state_dir) {
            opt("--state-dir", &self.state_dir.display().to_string());
        }
        for f in &self.var_files {
            opt("--var-file", f);
        }
        for v in &self.vars {
            opt("--var", v);
        }
        words.join(" ")
    }
}

/// A Terraform command line's flags in deployctl's spelling
/// (`-auto-approve` is `--yes`, `-out=plan` is `-o plan`, `-var-file=f` is
/// `--var-file f`); anything else as it was.
pub fn terraform_flags(args: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for a in args {
        let Some(flag) = a.strip_prefix("--").or_else(|| a.strip_prefix('-')).filter(|f| !f.is_empty()) else {
            out.push(a.clone());
            continue;
        };
        let (name, value) = match flag.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (flag, None),
        };
        let ours = match name {
            "auto-approve" => "--yes",
            "out" => "-o",
            "var" => "--var",
            "var-file" => "--var-file",
            "detailed-exitcode" => "--detailed-exitcode",
            "json" => "--json",
            "no-color" => "--no-color",
            _ => {
                out.push(a.clone());
                continue;
            }
        };
        out.push(ours.to_string());
        out.extend(value.map(str::to_string));
    }
    out
}

/// `s` as one word for a POSIX shell: as it is when that is safe, else in
/// single quotes.
pub fn shell_word(s: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "-_./=:@,+%".contains(c);
    if !s.is_empty() && s.chars().all(safe) {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    deployctl_spec::parse_duration(s).ok_or_else(|| format!("'{s}' is not a duration (write 30s, 10m or 1h)"))
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create or update everything in the spec, in dependency order.
    Up {
        /// The stack's spec file (YAML), e.g. stacks/network.yaml.
        spec: PathBuf,
        /// Apply without asking.
        #[arg(long)]
        yes: bool,
        /// Apply exactly this plan (from `diff -o`); refused if state moved on.
        #[arg(long)]
        plan: Option<PathBuf>,
        /// With --plan: ask before applying it anyway.
        #[arg(long, requires = "plan")]
        confirm: bool,
        /// Print the run summary as JSON on stdout.
        #[arg(long)]
        json: bool,
        /// Plan and apply only this resource (repeatable) and what it
        /// depends on: an address as the plan shows it (`vpc`, `nat[a]`, or
        /// `nat` for every instance). The rest of the stack is not read.
        #[arg(long = "target", value_name = "ADDRESS", conflicts_with = "plan")]
        targets: Vec<String>,
    },
    /// Show what `up` would change, drift included.
    Diff {
        /// The stack's spec file (YAML), e.g. stacks/network.yaml.
        spec: PathBuf,
        /// Exit 0 when there are no changes, 2 when there are, 1 on error.
        #[arg(long)]
        detailed_exitcode: bool,
        /// Print the plan as JSON.
        #[arg(long)]
        json: bool,
        /// Save the plan for `up --plan`.
        #[arg(short = 'o', long = "out")]
        out: Option<PathBuf>,
        /// Plan only this resource (repeatable) and what it depends on.
        #[arg(long = "target", value_name = "ADDRESS")]
        targets: Vec<String>,
        /// After the plan, what it changes in the monthly cost estimate.
        #[arg(long, conflicts_with = "json")]
        cost: bool,
    },
    /// Delete everything the stack owns, in reverse dependency order.
    Destroy {
        /// The stack's spec file (YAML), e.g. stacks/network.yaml.
        spec: PathBuf,
        /// Destroy without asking.
        #[arg(long)]
        yes: bool,
        /// Print the run summary as JSON on stdout.
        #[arg(long)]
        json: bool,
        /// Destroy only these (repeatable) and what depends on them.
        #[arg(long = "target", value_name = "ADDRESS")]
        targets: Vec<String>,
    },
    /// Create the S3 backend the spec names (bucket and lock table), idempotently.
    Init {
        /// The stack's spec file (YAML), e.g. stacks/network.yaml.
        spec: PathBuf,
    },
    /// Check the spec without touching AWS.
    Validate {
        /// The stack's spec file (YAML), e.g. stacks/network.yaml.
        spec: PathBuf,
    },
    /// Check the spec against the built-in security rules (offline).
    Lint {
        /// The stack's spec file (YAML), e.g. stacks/network.yaml.
        spec: PathBuf,
        /// Fail (exit 1) on warnings too, not only on errors.
        #[arg(long)]
        strict: bool,
        /// Print the findings as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Estimate what the stack costs a month, per resource and in total
    /// (offline, from the price table shipped with deployctl).
    Cost {
        /// The stack's spec file (YAML), e.g. stacks/network.yaml.
        spec: PathBuf,
        /// Also estimate the spec with this var file added (repeatable),
        /// side by side: `--compare stacks/env/dev.yaml`.
        #[arg(long = "compare", value_name = "VAR_FILE")]
        compare: Vec<String>,
        /// Print the estimate as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Preflight against the live account (reads only): images in ECR,
    /// roles ECS can assume, secrets and logs the execution role reaches,
    /// load balancer ports the containers map.
    Verify {
        /// The stack's spec file (YAML), e.g. stacks/network.yaml.
        spec: PathBuf,
        /// Print the problems as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Remove a stuck lock by its id (from the "state is locked" message).
    ForceUnlock {
        /// The stack's spec file (YAML), e.g. stacks/network.yaml.
        spec: PathBuf,
        /// The lock's id, as the "state is locked" message names it.
        id: String,
    },
    /// Print the stack's outputs, or one of them.
    Output {
        /// The stack's spec file (YAML), e.g. stacks/network.yaml.
        spec: PathBuf,
        /// One output's name: print only its value.
        name: Option<String>,
        #[arg(long)]
        json: bool,
        /// With NAME: a string as it is, without quotes (for scripts).
        #[arg(long, requires = "name")]
        raw: bool,
    },
    /// Take over a resource made outside deployctl: read it by its AWS id
    /// and record it in state as ADDRESS. The next `up` converges it to
    /// the spec, tags included.
    Import {
        /// The stack's spec file (YAML), e.g. stacks/network.yaml.
        spec: PathBuf,
        /// The address in the spec it becomes: `vpc`, `public[a]`.
        address: String,
        /// Its AWS id, as `state list` shows ids of that kind (`vpc-0abc…`,
        /// a role name, an ARN).
        id: String,
        /// Import even if the spec would then replace it (delete it and
        /// create another) on the next `up`.
        #[arg(long)]
        allow_replace: bool,
        /// Print the spec YAML for what is live instead of importing it.
        #[arg(long)]
        generate: bool,
        /// With --generate, for an address the spec does not have yet: its
        /// kind, e.g. ec2.vpc.
        #[arg(long = "type", value_name = "KIND", requires = "generate")]
        type_name: Option<String>,
    },
    /// List, show or edit what state records: list, show, rm (forget), mv (rename).
    State {
        #[command(subcommand)]
        action: StateAction,
    },
    /// Print the stack's dependency graph, in DOT or Mermaid.
    Graph {
        /// The stack's spec file (YAML), e.g. stacks/network.yaml.
        spec: PathBuf,
        /// `dot` (Graphviz: `| dot -Tsvg > stack.svg`) or `mermaid`.
        #[arg(long, value_enum, default_value_t = GraphFormat::Dot)]
        format: GraphFormat,
        /// Read state and AWS, and mark each node with what `up` would do
        /// to it.
        #[arg(long)]
        plan: bool,
    },
    /// Print a shell completion script, e.g.
    /// `deployctl completions bash > ~/.local/share/bash-completion/completions/deployctl`.
    Completions {
        /// bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },
    /// Print deployctl's version.
    Version,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum GraphFormat {
    Dot,
    Mermaid,
}

#[derive(Debug, Subcommand)]
pub enum StateAction {
    /// Every resource state records: address, kind and AWS id.
    List {
        /// The stack's spec file (YAML), e.g. stacks/network.yaml.
        spec: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Everything state records for one resource (secrets are fingerprints).
    Show {
        /// The stack's spec file (YAML), e.g. stacks/network.yaml.
        spec: PathBuf,
        /// As `state list` prints it: `vpc`, `nat[a]`.
        address: String,
        #[arg(long)]
        json: bool,
    },
    /// Forget resources without deleting them: they stay in AWS, and
    /// deployctl no longer manages them. Remove them from the spec too, or
    /// the next `up` adopts them again by their tags.
    Rm {
        /// The stack's spec file (YAML), e.g. stacks/network.yaml.
        spec: PathBuf,
        /// One instance (`nat[a]`), or a name for every instance (`nat`).
        #[arg(required = true, value_name = "ADDRESS")]
        addresses: Vec<String>,
    },
    /// Record a resource under a new address, after renaming it in the
    /// spec or moving it into a for_each, so that `up` keeps it instead of
    /// replacing it. Its ownership tag follows on the next `up`.
    Mv {
        /// The stack's spec file (YAML), e.g. stacks/network.yaml.
        spec: PathBuf,
        /// The recorded address (or a name: every instance).
        from: String,
        /// The new address (`app`, `subnet[a]`; or a name for every instance).
        to: String,
    },
}

impl StateAction {
    pub fn spec(&self) -> &std::path::Path {
        match self {
            StateAction::List { spec, .. }
            | StateAction::Show { spec, .. }
            | StateAction::Rm { spec, .. }
            | StateAction::Mv { spec, .. } => spec,
        }
    }
}

impl Command {
    /// The spec the command works on.
    pub fn spec(&self) -> Option<&std::path::Path> {
        match self {
            Command::Up { spec, .. }
            | Command::Diff { spec, .. }
            | Command::Destroy { spec, .. }
            | Command::Init { spec, .. }
            | Command::Validate { spec }
            | Command::ForceUnlock { spec, .. }
            | Command::Output { spec, .. }
            | Command::Graph { spec, .. }
            | Command::Import { spec, .. }
            | Command::Lint { spec, .. }
            | Command::Cost { spec, .. }
            | Command::Verify { spec, .. } => Some(spec),
            Command::State { action } => Some(action.spec()),
            Command::Version | Command::Completions { .. } => None,
        }
    }
}

/// The deployctl command a Terraform (or Pulumi) user's word means.
pub fn meant(word: &str) -> Option<(&'static str, &'static str)> {
    Some(match word {
        "plan" | "preview" | "refresh" => ("diff", "shows what up would change, drift included"),
        "apply" => ("up", "creates or updates everything in the spec"),
        "show" => ("output", "prints the stack's outputs"),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// docs/cli.md is the manual: every command `--help` lists is in its
    /// synopsis, and every option is described.
    #[test]
    fn docs_cli_md_names_every_command_and_option_that_help_prints() {
        let doc =
            std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/cli.md")).unwrap();
        fn walk(path: &str, cmd: &clap::Command, doc: &str, missing: &mut Vec<String>) {
            for arg in cmd.get_arguments() {
                if let Some(long) = arg.get_long().filter(|l| !["help", "version"].contains(l)) {
                    if !doc.contains(&format!("--{long}")) {
                        missing.push(format!("{path} --{long}"));
                    }
                }
            }
            for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
                let path = format!("{path} {}", sub.get_name());
                if !doc.contains(&path) {
                    missing.push(path.clone());
                }
                walk(&path, sub, doc, missing);
            }
        }
        let mut missing = Vec::new();
        walk("deployctl", &<Cli as clap::CommandFactory>::command(), &doc, &mut missing);
        assert!(missing.is_empty(), "docs/cli.md does not mention: {missing:?}");
    }

    #[test]
    fn terraform_flags_are_spelled_as_deployctl_takes_them() {
        let args: Vec<String> =
            ["s.yaml", "-auto-approve", "-out=plan.json", "-var", "a=1", "--var-file=dev.yaml", "-lock=false"]
                .map(String::from)
                .to_vec();
        assert_eq!(
            terraform_flags(&args),
            ["s.yaml", "--yes", "-o", "plan.json", "--var", "a=1", "--var-file", "dev.yaml", "-lock=false"]
        );
    }

    #[test]
    fn a_hints_command_repeats_what_chose_the_environment_quoted_for_a_shell() {
        let cli = Cli::try_parse_from([
            "deployctl",
            "--var-file",
            "stacks/env/dev.yaml",
            "up",
            "stacks/my net.yaml",
            "--var",
            "image_tag=v2",
            "--var",
            "note=it's",
            "--yes",
        ])
        .unwrap();
        assert_eq!(
            cli.global.again("diff", cli.command.spec().unwrap()),
            "deployctl diff 'stacks/my net.yaml' --var-file stacks/env/dev.yaml --var image_tag=v2 --var 'note=it'\\''s'"
        );
    }
}
