//! The commands.

use crate::cli::{shell_word, Cli, Command, Global};
use crate::render::{self, EventView};
use anyhow::{anyhow, bail, Context, Result};
use deployctl_aws::Aws;
use deployctl_engine::writer::LockCheck;
use deployctl_engine::{ApiCalls, EventSink, Executor, Mode, Plan, StateWriter};
use deployctl_spec::{BackendSpec, Stack, VarOverrides};
use deployctl_state::{Backend, LocalBackend, Lock, LockInfo, S3Backend, State, StateError};
use is_terminal::IsTerminal;
use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

pub const EXIT_OK: u8 = 0;
pub const EXIT_ERROR: u8 = 1;
pub const EXIT_CHANGES: u8 = 2;
pub const EXIT_INTERRUPTED: u8 = 130;

pub async fn main(cli: Cli) -> Result<u8> {
    let spec = cli.command.spec().map(Path::to_path_buf);
    dispatch(&cli).await.map_err(|e| match spec {
        Some(spec) => with_spec_hint(e, &cli.global, &spec),
        None => e,
    })
}

/// A state error whose next step is a command on this stack gets that
/// command, spelled with the spec and the options of this run. (The state
/// library cannot know them.)
fn with_spec_hint(e: anyhow::Error, g: &Global, spec: &Path) -> anyhow::Error {
    let hint = match e.chain().find_map(|c| c.downcast_ref::<StateError>()) {
        Some(StateError::LockLost { .. }) => {
            format!("another run may have taken over; see where things stand with: {}", g.again("diff", spec))
        }
        Some(StateError::NoSuchLock(_)) => {
            format!("no run holds that lock now; `{}` warns when one holds this stack's lock", g.again("diff", spec))
        }
        Some(StateError::Aws { code, .. }) if code == "NoSuchBucket" => {
            format!("create the backend's bucket and lock table with: {}", g.again("init", spec))
        }
        Some(StateError::Aws { code, .. }) if code == "ResourceNotFoundException" => {
            format!("the lock table does not exist; create it with: {}", g.again("init", spec))
        }
        _ => return e,
    };
    anyhow::Error::new(Hinted { error: e, hint })
}

/// An error and the command to run next.
#[derive(Debug)]
struct Hinted {
    error: anyhow::Error,
    hint: String,
}

impl std::fmt::Display for Hinted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The error with its causes, then the hint last, where hints go.
        write!(f, "{}\n  hint: {}", crate::message(&self.error), self.hint)
    }
}

impl std::error::Error for Hinted {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(self.error.as_ref())
    }
}

async fn dispatch(cli: &Cli) -> Result<u8> {
    let g = &cli.global;
    match &cli.command {
        Command::Version => {
            println!("deployctl {}", env!("CARGO_PKG_VERSION"));
            Ok(EXIT_OK)
        }
        Command::State { action } => crate::operator::state(action, g).await,
        Command::Import { spec, address, id, allow_replace, generate, type_name } => {
            let how =
                crate::operator::Import { address, id, allow_replace: *allow_replace, type_name: type_name.as_deref() };
            if *generate {
                crate::operator::generate(spec, how, g).await
            } else {
                crate::operator::import(spec, how, g).await
            }
        }
        Command::Graph { spec, format, plan } => crate::operator::graph(spec, *format, *plan, g).await,
        Command::Completions { shell } => Ok(crate::operator::completions(*shell)),
        Command::Validate { spec } => {
            let stack = load(spec, g)?;
            println!(
                "{}: valid: stack {} ({}), {} resources, {} outputs",
                spec.display(),
                stack.name,
                stack.region,
                stack.resources.len(),
                stack.outputs.len()
            );
            let findings = deployctl_aws::lint::lint(&stack);
            for f in &findings {
                eprintln!("{f}");
            }
            if !findings.is_empty() {
                eprintln!(
                    "{} (see them again with: {})",
                    crate::operator::lint_summary(&findings),
                    g.again("lint", spec)
                );
            }
            Ok(EXIT_OK)
        }
        Command::Lint { spec, strict, json } => crate::operator::lint(spec, *strict, *json, g),
        Command::Cost { spec, compare, json } => crate::operator::cost(spec, compare, *json, g),
        Command::Verify { spec, json } => crate::operator::verify(spec, *json, g).await,
        Command::Diff { spec, detailed_exitcode, json, out, targets, cost } => {
            let stack = load_live(spec, g).await?;
            let ctx = Ctx::new(&stack, g).await;
            // diff does not lock: if a run holds the lock, say so. (Asked
            // side by side with the state's read: one round trip.)
            let (state, holder) = tokio::join!(read_state(ctx.backend.as_ref(), &stack, g), ctx.backend.holder());
            let (state, _) = state?;
            if let Some(h) = holder? {
                eprintln!(
                    "warning: {} is running '{}' on this stack (since {}): what this diff read may change under it",
                    h.who, h.operation, h.created
                );
            }
            let plan = plan_viewed(&stack, state.as_ref(), &ctx, g, targets).await?;
            if let Some(path) = out {
                std::fs::write(path, plan.to_json()).with_context(|| format!("writing {}", path.display()))?;
            }
            if *json {
                print!("{}", plan.to_json());
            } else {
                print!("{}", render::plan_for(&plan, g.colour(std::io::stdout().is_terminal())));
                if let Some(path) = out {
                    println!(
                        "\nSaved the plan to {}. Apply exactly it with: {} --plan {}",
                        path.display(),
                        g.again("up", spec),
                        shell_word(&path.display().to_string())
                    );
                }
            }
            if *cost {
                use deployctl_aws::cost::{as_recorded, difference, estimate};
                let recorded: Vec<_> = state
                    .iter()
                    .flat_map(|s| &s.resources)
                    .map(|(a, r)| (a.clone(), r.type_name.clone(), r.properties.clone()))
                    .collect();
                println!("\n{}", difference(&estimate(&as_recorded(&stack, &recorded)), &estimate(&stack)).trim_end());
            }
            if g.verbose {
                eprint!("{}", render::calls_table(&ctx.calls));
            }
            Ok(if *detailed_exitcode && plan.has_changes() { EXIT_CHANGES } else { EXIT_OK })
        }
        Command::Up { spec, yes, plan, confirm, json, targets } => {
            let stack = load_live(spec, g).await?;
            let saved = match plan {
                Some(p) => {
                    let text = std::fs::read_to_string(p).with_context(|| format!("reading plan {}", p.display()))?;
                    let plan = Plan::from_json(&text)
                        .map_err(|e| anyhow!(e))
                        .with_context(|| format!("reading plan {}", p.display()))?;
                    Some(Saved {
                        plan,
                        remake: format!("{} -o {}", g.again("diff", spec), shell_word(&p.display().to_string())),
                        confirm: *confirm,
                    })
                }
                None => None,
            };
            let how = Apply { mode: Mode::Apply, yes: *yes, json: *json, saved, targets, operation: "up" };
            apply(&stack, spec, g, how).await
        }
        Command::Destroy { spec, yes, json, targets } => {
            let stack = load(spec, g)?;
            let how = Apply { mode: Mode::Destroy, yes: *yes, json: *json, saved: None, targets, operation: "destroy" };
            apply(&stack, spec, g, how).await
        }
        Command::Init { spec } => {
            let stack = load(spec, g)?;
            let Some(BackendSpec::S3 { bucket, key, lock_table, region }) = &stack.backend else {
                println!(
                    "Stack {} keeps its state in {}/{}.json: nothing to create.",
                    stack.name,
                    g.state_dir.display(),
                    stack.name
                );
                return Ok(EXIT_OK);
            };
            let calls = ApiCalls::new();
            let aws = Aws::connect(Some(region.as_deref().unwrap_or(&stack.region)), g.profile.as_deref(), calls).await;
            let backend = S3Backend::new(aws.s3(), aws.dynamodb(), bucket, key, lock_table);
            let over_tls = aws.config.endpoint_url().is_none_or(|u| u.starts_with("https://"));
            let report = backend.bootstrap(over_tls).await?;
            for step in &report.steps {
                println!("  {step}");
            }
            println!(
                "Backend ready: state at s3://{bucket}/{key}, locks in {lock_table}.{}",
                if report.bucket_created || report.table_created { "" } else { " (nothing needed creating)" }
            );
            Ok(EXIT_OK)
        }
        Command::ForceUnlock { spec, id } => {
            let stack = load(spec, g)?;
            let ctx = Ctx::new(&stack, g).await;
            ctx.backend.force_unlock(id).await?;
            println!("Lock {id} on {} removed.", ctx.backend.location());
            Ok(EXIT_OK)
        }
        Command::Output { spec, name, json, raw } => {
            let stack = load(spec, g)?;
            let ctx = Ctx::new(&stack, g).await;
            let (state, _) = read_state(ctx.backend.as_ref(), &stack, g).await?;
            let outputs = state.map(|s| s.outputs).unwrap_or_default();
            if let Some(name) = name {
                let Some(v) = outputs.get(name) else {
                    let names: Vec<&str> = outputs.keys().map(String::as_str).collect();
                    let hint = if names.is_empty() {
                        format!("none are recorded yet: run `{}` first", g.again("up", spec))
                    } else {
                        format!("the outputs are: {}", names.join(", "))
                    };
                    bail!("stack {} has no output '{name}'\n  hint: {hint}", stack.instance());
                };
                match v {
                    serde_json::Value::String(s) if *raw => println!("{s}"),
                    v if *json || !v.is_string() => println!("{}", serde_json::to_string_pretty(v)?),
                    v => println!("{v}"),
                }
                return Ok(EXIT_OK);
            }
            if *json {
                println!("{}", serde_json::to_string_pretty(&outputs)?);
            } else if outputs.is_empty() {
                println!("No outputs recorded for stack {} (run `{}` first).", stack.name, g.again("up", spec));
            } else {
                for (k, v) in outputs {
                    println!("{k} = {}", v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string()));
                }
            }
            Ok(EXIT_OK)
        }
    }
}

/// Loads and validates the spec: every problem, as file:line:column.
pub(crate) fn load(spec: &Path, g: &Global) -> Result<Stack> {
    load_with(spec, g, &deployctl_spec::Lookups::NotRead)
}

/// [`load`] with what was read from outside the spec.
fn load_with(spec: &Path, g: &Global, lookups: &deployctl_spec::Lookups) -> Result<Stack> {
    let mut overrides = VarOverrides { files: g.var_files.clone(), pairs: Vec::new() };
    for v in &g.vars {
        let (k, val) = v
            .split_once('=')
            .ok_or_else(|| anyhow!("--var {v}: expected NAME=VALUE\n  hint: for example --var image_tag=v2"))?;
        overrides.pairs.push((k.to_string(), val.to_string()));
    }
    let schemas = deployctl_aws::schemas();
    let mut stack = deployctl_spec::load_with(spec, &overrides, &schemas, lookups)?;
    let across = deployctl_aws::checks::check(&stack);
    if !across.is_empty() {
        return Err(deployctl_spec::Diagnostics(across).into());
    }
    if let Some(r) = &g.region {
        stack.region = r.clone();
    }
    Ok(stack)
}

/// [`load`], then, when the spec reads other stacks' outputs (`stacks:`),
/// their states read (without their locks) and the spec loaded again with
/// the outputs, so `${stack.NAME.outputs.KEY}` has its value and is
/// type-checked: for the commands that plan against AWS.
pub(crate) async fn load_live(spec: &Path, g: &Global) -> Result<Stack> {
    let stack = load(spec, g)?;
    if stack.remote_stacks.is_empty() && stack.data.is_empty() {
        return Ok(stack);
    }
    // One connection, for the lookups and the S3 states in the stack's region.
    let aws = Aws::connect(Some(&stack.region), g.profile.as_deref(), ApiCalls::new()).await;
    let mut data = std::collections::BTreeMap::new();
    if !stack.data.is_empty() {
        let kinds = aws.kinds();
        for source in &stack.data {
            data.insert(source.name.clone(), deployctl_aws::data::lookup(&stack, &aws, &kinds, source).await?);
        }
    }
    let mut outputs = std::collections::BTreeMap::new();
    for remote in &stack.remote_stacks {
        let at = format!("{}:{}:{}", stack.file, remote.pos.line, remote.pos.column);
        let state = match &remote.source {
            deployctl_spec::RemoteSource::Local { path } => match std::fs::read_to_string(path) {
                Ok(text) => Some(deployctl_state::from_json(path, &text)?),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                Err(e) => return Err(e).with_context(|| format!("reading the state of stack {} ({at})", remote.name)),
            },
            deployctl_spec::RemoteSource::S3 { bucket, key, region } => {
                let elsewhere = match region {
                    Some(r) if r != &stack.region => {
                        Some(Aws::connect(Some(r), g.profile.as_deref(), ApiCalls::new()).await)
                    }
                    _ => None,
                };
                let aws = elsewhere.as_ref().unwrap_or(&aws);
                S3Backend::new(aws.s3(), aws.dynamodb(), bucket, key, "").read().await?.map(|v| v.state)
            }
        };
        let Some(state) = state else {
            let location = match &remote.source {
                deployctl_spec::RemoteSource::Local { path } => path.clone(),
                deployctl_spec::RemoteSource::S3 { bucket, key, .. } => format!("s3://{bucket}/{key}"),
            };
            bail!(
                "{at}: stack {} has no state at {location}, so its outputs cannot be read; nothing was changed\n  hint: deploy stack {} first (or fix where stacks.{} says its state is)",
                remote.name,
                remote.name,
                remote.name
            );
        };
        outputs.insert(remote.name.clone(), state.outputs.into_iter().collect());
    }
    load_with(spec, g, &deployctl_spec::Lookups::Read(deployctl_spec::LookedUp { stacks: outputs, data }))
}

/// What a command against AWS needs.
pub(crate) struct Ctx {
    pub calls: ApiCalls,
    pub kinds: deployctl_engine::Kinds,
    pub backend: Arc<dyn Backend>,
}

impl Ctx {
    pub(crate) async fn new(stack: &Stack, g: &Global) -> Ctx {
        let calls = ApiCalls::new();
        let aws = Aws::connect(Some(&stack.region), g.profile.as_deref(), calls.clone()).await;
        let backend: Arc<dyn Backend> = match &stack.backend {
            Some(BackendSpec::S3 { bucket, key, lock_table, region }) => {
                let aws = match region {
                    Some(r) if r != &stack.region => Aws::connect(Some(r), g.profile.as_deref(), calls.clone()).await,
                    _ => aws.clone(),
                };
                Arc::new(S3Backend::new(aws.s3(), aws.dynamodb(), bucket, key, lock_table))
            }
            None => Arc::new(LocalBackend::for_instance(
                &g.state_dir,
                &stack.name,
                stack.environment.as_ref().map(|e| e.name.as_str()),
            )),
        };
        Ctx { calls, kinds: aws.kinds(), backend }
    }
}

/// An apply plan, with the live view of its reads on stderr: what `diff`
/// and `graph --plan` show.
pub(crate) async fn plan_viewed(
    stack: &Stack,
    state: Option<&State>,
    ctx: &Ctx,
    g: &Global,
    targets: &[String],
) -> Result<Plan> {
    let (sink, rx) = EventSink::new();
    let view = spawn_view(rx, g);
    let plan =
        deployctl_engine::plan_with(stack, state, &ctx.kinds, Mode::Apply, &sink, &plan_options(g, targets)).await;
    drop(sink);
    let _ = view.await;
    Ok(plan?)
}

fn plan_options(g: &Global, targets: &[String]) -> deployctl_engine::PlanOptions {
    deployctl_engine::PlanOptions { take_over: g.take_over.clone(), targets: targets.to_vec() }
}

/// Before environments, every environment of a stack shared
/// `<state-dir>/<stack>.json`. An instance whose own file does not exist yet
/// must not start from nothing beside it: the resources in it would be
/// created a second time. Says which file to move.
fn check_legacy_local_state(stack: &Stack, g: &Global) -> Result<()> {
    let (None, Some(env)) = (&stack.backend, &stack.environment) else { return Ok(()) };
    let own = LocalBackend::for_instance(&g.state_dir, &stack.name, Some(&env.name)).path().to_path_buf();
    let legacy = LocalBackend::for_instance(&g.state_dir, &stack.name, None).path().to_path_buf();
    if own.exists() || !legacy.exists() {
        return Ok(());
    }
    let text = std::fs::read_to_string(&legacy).with_context(|| format!("reading {}", legacy.display()))?;
    let old = deployctl_state::from_json(&legacy.display().to_string(), &text)?;
    if old.environment.is_some() {
        return Ok(()); // another stack without an environment, or already split
    }
    bail!(
        "{} holds the state of stack {} from before environments (one state for every environment), and this run is environment {}\n  hint: if that state is environment {}'s, move it: mv {} {}",
        legacy.display(),
        stack.name,
        env.name,
        env.name,
        legacy.display(),
        own.display()
    )
}

pub(crate) async fn read_state(
    backend: &dyn Backend,
    stack: &Stack,
    g: &Global,
) -> Result<(Option<State>, Option<String>)> {
    check_legacy_local_state(stack, g)?;
    let environment = stack.environment.as_ref().map(|e| e.name.as_str());
    match backend.read().await? {
        Some(v) if v.state.stack != stack.name => bail!(
            "state in {} belongs to stack '{}', not '{}'\n  hint: give each stack its own backend key",
            backend.location(),
            v.state.stack,
            stack.name
        ),
        // A state without an environment predates them: it is this
        // instance's, since it is at this instance's location.
        Some(v) if v.state.environment.is_some() && v.state.environment.as_deref() != environment => bail!(
            "state in {} belongs to stack instance {}, not {}\n  hint: give each environment its own state: put the environment in the backend key, e.g. key: {}/${{var.env}}.json",
            backend.location(),
            v.state.instance(),
            stack.instance(),
            stack.name
        ),
        Some(v) => Ok((Some(v.state), Some(v.version))),
        None => Ok((None, None)),
    }
}

/// The state is locked: by whom, and what to do, as commands that work as
/// printed for this spec and backend (a local lock dies with its process:
/// there is nothing to force).
fn locked(holder: &LockInfo, unlock: &str, backend: &dyn Backend) -> String {
    let what = format!(
        "state is locked by {} running '{}' since {} (lock id {}, expires {})",
        holder.who, holder.operation, holder.created, holder.id, holder.expires
    );
    if backend.location().starts_with("s3://") {
        format!(
            "{what}\n  hint: wait for it to finish (or retry with --lock-timeout 5m); if that run is dead and its lease \
             has not run out, remove its lock with: {unlock} {}",
            holder.id
        )
    } else {
        format!(
            "{what}\n  hint: wait for it to finish (or retry with --lock-timeout 5m); a local lock is released the \
             moment its process ends"
        )
    }
}

fn lock_info(operation: &str, lease: Duration) -> LockInfo {
    let now = time::OffsetDateTime::now_utc();
    let fmt = &time::format_description::well_known::Rfc3339;
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .or_else(|_| std::env::var("HOSTNAME"))
        .unwrap_or_else(|_| "unknown-host".into());
    let user = std::env::var("USER").unwrap_or_else(|_| "unknown".into());
    LockInfo {
        id: uuid_like(),
        who: format!("{user}@{host} (pid {})", std::process::id()),
        operation: operation.to_string(),
        created: now.format(fmt).unwrap_or_default(),
        expires: (now + lease).format(fmt).unwrap_or_default(),
    }
}

/// A random lock id (not a secret, just unique).
fn uuid_like() -> String {
    let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    format!("{:08x}-{:04x}-{:08x}", t.as_secs() as u32, std::process::id() as u16, t.subsec_nanos())
}

pub(crate) fn spawn_view(
    mut rx: tokio::sync::mpsc::UnboundedReceiver<deployctl_engine::Event>,
    g: &Global,
) -> tokio::task::JoinHandle<()> {
    let live = std::io::stderr().is_terminal();
    let colour = g.colour(live);
    let verbose = g.verbose;
    tokio::spawn(async move {
        let mut view = EventView::new(live, verbose).with_colour(colour);
        let mut tick = tokio::time::interval(Duration::from_millis(500));
        loop {
            tokio::select! {
                e = rx.recv() => match e {
                    Some(e) => view.show(&e),
                    None => break,
                },
                _ = tick.tick() => view.tick(),
            }
        }
        view.finish();
    })
}

/// Asks on a terminal; refuses without one.
fn confirm(what: &str) -> Result<bool> {
    if !std::io::stdin().is_terminal() {
        bail!("refusing to {what} without confirmation: stdin is not a terminal\n  hint: review the plan, then pass --yes");
    }
    // The prompt is not the plan: it goes to stderr, so `up > plan.txt`
    // still asks.
    eprint!("\nDo you want to {what}? Only 'yes' will be accepted: ");
    std::io::stderr().flush()?;
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer)?;
    Ok(answer.trim() == "yes")
}

/// What `up` or `destroy` was asked to do.
struct Apply<'a> {
    mode: Mode,
    yes: bool,
    json: bool,
    saved: Option<Saved>,
    targets: &'a [String],
    operation: &'a str,
}

/// Takes the state lock for `operation`; a held lock is an error that
/// names its holder and what to do, as commands on this spec.
pub(crate) async fn take_lock(ctx: &Ctx, spec: &Path, g: &Global, operation: &str) -> Result<Box<dyn Lock>> {
    match ctx.backend.lock(lock_info(operation, Duration::from_secs(60)), g.lock_timeout).await {
        Ok(lock) => Ok(lock),
        Err(StateError::Locked(holder)) => bail!(locked(&holder, &g.again("force-unlock", spec), ctx.backend.as_ref())),
        Err(e) => Err(e.into()),
    }
}

/// `up` and `destroy`: lock, read, plan, show, confirm, apply, record.
async fn apply(stack: &Stack, spec: &Path, g: &Global, how: Apply<'_>) -> Result<u8> {
    let started = Instant::now();
    let ctx = Ctx::new(stack, g).await;
    let lock = take_lock(&ctx, spec, g, how.operation).await?;
    let lock: Arc<Mutex<Option<Box<dyn Lock>>>> = Arc::new(Mutex::new(Some(lock)));
    let result = apply_locked(stack, g, how, &ctx, lock.clone(), started).await;
    let held = lock.lock().unwrap_or_else(|p| p.into_inner()).take();
    if let Some(l) = held {
        if let Err(e) = l.release().await {
            eprintln!("warning: releasing the state lock: {e}");
        }
    }
    result
}

async fn apply_locked(
    stack: &Stack,
    g: &Global,
    how: Apply<'_>,
    ctx: &Ctx,
    lock: Arc<Mutex<Option<Box<dyn Lock>>>>,
    started: Instant,
) -> Result<u8> {
    let Apply { mode, yes, json, saved, targets, .. } = how;
    let (state, version) = read_state(ctx.backend.as_ref(), stack, g).await?;
    let (sink, rx) = EventSink::new();
    let view = spawn_view(rx, g);

    // A saved plan is what was reviewed: `up --plan` applies it as it is,
    // unless asked to confirm.
    let reviewed = saved.as_ref().is_some_and(|s| !s.confirm);
    let plan = match saved {
        Some(Saved { plan, remake, .. }) => {
            check_saved_plan(&plan, stack, state.as_ref(), &remake)?;
            let changed = deployctl_engine::secrets_changed_since(&plan, &ctx.kinds).await;
            if !changed.is_empty() {
                bail!(
                    "a secret the plan applies has changed since the plan was made; nothing was changed\n{}\n  hint: make and review the plan again: {remake}",
                    changed.iter().map(|(r, p)| format!("  {r} property {p}")).collect::<Vec<_>>().join("\n")
                );
            }
            plan
        }
        None => {
            deployctl_engine::plan_with(stack, state.as_ref(), &ctx.kinds, mode, &sink, &plan_options(g, targets))
                .await?
        }
    };
    if !json {
        print!("{}", render::plan_for(&plan, g.colour(std::io::stdout().is_terminal())));
    }
    let verb = if mode == Mode::Destroy { "destroy these resources" } else { "apply these changes" };
    if plan.has_changes() && !yes && !reviewed && !confirm(verb)? {
        eprintln!("Cancelled; nothing was changed.");
        return Ok(EXIT_ERROR);
    }

    let environment = stack.environment.as_ref().map(|e| e.name.clone());
    // A first state gets the lineage the plan made its fingerprints with.
    let mut state = state.unwrap_or_else(|| State {
        lineage: plan.lineage.clone(),
        ..State::for_instance(&stack.name, environment.as_deref(), &stack.region)
    });
    // A state written before environments is this instance's (it is at this
    // instance's location): from now on it says so.
    state.environment = environment;
    let lock_check = {
        let lock = lock.clone();
        let id = lock.lock().ok().and_then(|l| l.as_ref().map(|l| l.info().id.clone())).unwrap_or_default();
        LockCheck {
            id,
            held: Arc::new(move || lock.lock().ok().and_then(|l| l.as_ref().map(|l| l.is_held())).unwrap_or(false)),
        }
    };
    let (writer, handle) =
        StateWriter::start(ctx.backend.clone(), Some(lock_check), state.clone(), version, sink.clone());
    let cancel = CancellationToken::new();
    let signals = spawn_signal_handler(cancel.clone());
    let executor = Executor {
        kinds: ctx.kinds.clone(),
        events: sink.clone(),
        parallelism: g.parallelism,
        cancel: cancel.clone(),
        default_timeout: Duration::from_secs(20 * 60),
    };
    let apply_started = Instant::now();
    let report = executor.apply(&plan, &state, writer).await;
    let apply_secs = apply_started.elapsed().as_secs_f64();
    signals.abort();
    // The view ends when the last event sink is gone.
    drop(executor);
    drop(sink);
    let written = handle.await.context("the state writer stopped")?;
    let _ = view.await;

    let s = plan.summary();
    let total = ctx.calls.total();
    if json {
        let summary = serde_json::json!({
            "stack": stack.name,
            "mode": plan.mode,
            "ok": report.ok(),
            "interrupted": report.interrupted,
            "plan": s,
            "completed": report.completed.len(),
            // In the order the steps finished: `deleted tg` after `updated listener`.
            "steps": report.completed.iter().map(|(a, act)| format!("{} {a}", act.verb_ed())).collect::<Vec<_>>(),
            "failed": report.failed.iter().map(|e| e.to_string()).collect::<Vec<_>>(),
            "skipped": report.skipped.iter().map(|(a, _)| a).collect::<Vec<_>>(),
            "outputs": report.outputs,
            "state_writes": written.writes,
            "state_bytes_written": written.bytes,
            "critical_path": {
                "round_trips": report.critical_path.iter().map(|c| c.round_trips).sum::<u64>(),
                "calls": report.critical_path.iter().map(|c| c.calls).sum::<u64>(),
                "steps": report
                    .critical_path
                    .iter()
                    .map(|c| format!("{} {} ({} calls, {} round trips)", c.action.verb_ing(), c.display, c.calls, c.round_trips))
                    .collect::<Vec<_>>(),
            },
            "apply_secs": apply_secs,
            "api_calls": ctx.calls.to_json(),
            "api_calls_total": total.calls,
            "api_retries_total": total.retries,
            "api_throttled_total": total.throttled,
            "pacing": report.pacing,
            "elapsed_secs": started.elapsed().as_secs_f64(),
        });
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        if report.ok() {
            let what = if mode == Mode::Destroy { "Destroy" } else { "Apply" };
            println!(
                "{what} complete: {} created, {} updated, {} replaced, {} deleted, {} unchanged.",
                s.create, s.update, s.replace, s.delete, s.unchanged
            );
            if mode == Mode::Apply && !report.outputs.is_empty() {
                println!("\nOutputs:");
                for (k, v) in &report.outputs {
                    println!("  {k} = {}", v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string()));
                }
            }
        }
        eprintln!(
            "{} API calls ({} retries), {} state writes, {:.1}s",
            total.calls,
            total.retries,
            written.writes,
            started.elapsed().as_secs_f64()
        );
        if g.verbose {
            eprint!("{}", render::calls_table(&ctx.calls));
        }
    }
    for e in &report.failed {
        eprintln!("error: {e}");
    }
    if let Some(e) = &written.error {
        eprintln!("error: recording state: {e}");
    }
    if report.interrupted {
        eprintln!("Interrupted: state is recorded and the lock released; run the same command again to resume.");
        return Ok(EXIT_INTERRUPTED);
    }
    if !report.failed.is_empty() || written.error.is_some() {
        if !report.skipped.is_empty() {
            eprintln!("{} steps were not started because of the failure.", report.skipped.len());
        }
        return Ok(EXIT_ERROR);
    }
    Ok(EXIT_OK)
}

/// A saved plan applies only to the state it was made against.
/// A plan read from `up --plan FILE`, the command that makes it again, and
/// whether to ask before applying it (`--confirm`).
struct Saved {
    plan: Plan,
    remake: String,
    confirm: bool,
}

fn check_saved_plan(plan: &Plan, stack: &Stack, state: Option<&State>, remake: &str) -> Result<()> {
    if plan.instance() != stack.instance() {
        bail!("the plan is for stack instance '{}', not '{}'", plan.instance(), stack.instance());
    }
    if plan.mode != Mode::Apply {
        bail!("the plan is a destroy plan; `up --plan` applies only plans from `deployctl diff -o`");
    }
    let now = (state.map(|s| s.lineage.clone()), state.map(|s| s.serial));
    if (plan.state_lineage.clone(), plan.state_serial) != now {
        bail!(
            "state has moved on since the plan was made (plan: serial {}, now: serial {})\n  hint: make and review the plan again: {remake}",
            plan.state_serial.map(|s| s.to_string()).unwrap_or_else(|| "none".into()),
            now.1.map(|s| s.to_string()).unwrap_or_else(|| "none".into())
        );
    }
    Ok(())
}

fn spawn_signal_handler(cancel: CancellationToken) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            let mut term = match signal(SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                    cancel.cancel();
                    return;
                }
            };
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
        eprintln!("\nInterrupt received: finishing the calls in flight, then recording state…");
        cancel.cancel();
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    /// The lost lock's hint is a diff of this spec, in this environment,
    /// after the error and its cause.
    #[test]
    fn a_lost_lock_hints_a_diff_of_the_same_stack_instance() {
        let cli = Cli::try_parse_from(["deployctl", "up", "stacks/network.yaml", "--var-file", "stacks/env/dev.yaml"])
            .unwrap();
        let lost = deployctl_engine::EngineError::State(StateError::LockLost { id: "L1".into() });
        let e = with_spec_hint(anyhow::Error::new(lost), &cli.global, cli.command.spec().unwrap());
        assert_eq!(
            crate::report(&e),
            "error: recording state: the state lock L1 is no longer held by this run (it expired or was \
             force-unlocked)\n  hint: another run may have taken over; see where things stand with: deployctl diff \
             stacks/network.yaml --var-file stacks/env/dev.yaml"
        );
    }
}
