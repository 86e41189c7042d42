//! The operator's commands: `state list | show | rm | mv`, `graph` and
//! `completions`.

use crate::cli::{shell_word, Cli, Global, GraphFormat, StateAction};
use crate::run::{self, Ctx, EXIT_OK};
use anyhow::{bail, Result};
use deployctl_engine::{Action, Plan};
use deployctl_spec::Stack;
use deployctl_state::{ResourceState, State, StateError};
use std::collections::BTreeMap;
use std::path::Path;

pub async fn state(action: &StateAction, g: &Global) -> Result<u8> {
    let spec = action.spec();
    let stack = run::load(spec, g)?;
    let ctx = Ctx::new(&stack, g).await;
    match action {
        StateAction::List { json, .. } => {
            let (state, _) = run::read_state(ctx.backend.as_ref(), &stack, g).await?;
            let Some(state) = state else {
                return no_state(&stack, spec, g, &ctx, *json);
            };
            if *json {
                let list: Vec<_> = state
                    .resources
                    .iter()
                    .map(|(a, r)| serde_json::json!({"address": a, "type": r.type_name, "id": r.id, "pending": r.pending.as_ref().map(|p| p.op)}))
                    .collect();
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else {
                print!("{}", list(&state));
            }
            Ok(EXIT_OK)
        }
        StateAction::Show { address, json, .. } => {
            let (state, _) = run::read_state(ctx.backend.as_ref(), &stack, g).await?;
            let Some(state) = state else {
                return no_state(&stack, spec, g, &ctx, *json);
            };
            let Some(r) = state.resources.get(address) else {
                let known = state.resources.keys().cloned().collect();
                let e = deployctl_state::EditError::NotRecorded { address: address.clone(), known };
                bail!(
                    "{e} in {}\n  hint: list what it records with: {}",
                    ctx.backend.location(),
                    g.again("state list", spec)
                );
            };
            if *json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&serde_json::json!({ "address": address, "resource": r }))?
                );
            } else {
                print!("{}", show(address, r));
            }
            Ok(EXIT_OK)
        }
        StateAction::Rm { addresses, .. } => {
            let report = edit(&stack, spec, g, &ctx, "state rm", |state| {
                let mut lines = Vec::new();
                for address in addresses {
                    refuse_pending(state, address, spec, g)?;
                    for (a, r) in state.forget(address)? {
                        lines.push(format!(
                            "Removed {a} ({} {}) from state. It was not deleted: it is still in AWS, and deployctl no longer manages it.",
                            r.type_name,
                            r.id.as_deref().unwrap_or("with no recorded id")
                        ));
                        if stack.resource(&a).is_some() {
                            lines.push(format!(
                                "  note: the spec still has {a}: the next `up` finds it again by its tags and adopts it; remove it from the spec to leave it alone"
                            ));
                        }
                    }
                }
                Ok(lines)
            })
            .await?;
            print!("{report}");
            Ok(EXIT_OK)
        }
        StateAction::Mv { from, to, .. } => {
            let report = edit(&stack, spec, g, &ctx, "state mv", |state| {
                refuse_pending(state, from, spec, g)?;
                let moves = state.rename(from, to)?;
                let mut lines = Vec::new();
                for (old, new) in &moves {
                    let recorded = &state.resources[new].type_name;
                    match stack.resource(new) {
                        Some(r) if &r.type_name != recorded => bail!(
                            "{new} is a {} in the spec, and {old} is a {recorded}: a resource keeps its kind when it moves\n  hint: move it to an address of kind {recorded}, or remove it with: {} {old}",
                            r.type_name,
                            g.again("state rm", spec)
                        ),
                        Some(_) => lines.push(format!("Moved {old} to {new}.")),
                        None => lines.push(format!(
                            "Moved {old} to {new}.\n  note: the spec has no {new}: the next `up` deletes it unless the spec gets one"
                        )),
                    }
                }
                lines.push(format!(
                    "Its ownership tag names the old address until the next `up` updates it in place; see it with: {}",
                    g.again("diff", spec)
                ));
                Ok(lines)
            })
            .await?;
            print!("{report}");
            Ok(EXIT_OK)
        }
    }
}

fn no_state(stack: &Stack, spec: &Path, g: &Global, ctx: &Ctx, json: bool) -> Result<u8> {
    if json {
        println!("[]");
    } else {
        println!(
            "No state is recorded for stack {} in {} (run `{}` first).",
            stack.instance(),
            ctx.backend.location(),
            g.again("up", spec)
        );
    }
    Ok(EXIT_OK)
}

/// An interrupted operation must be finished first: moving or forgetting
/// its intent would lose the resource it may have made.
fn refuse_pending(state: &State, address: &str, spec: &Path, g: &Global) -> Result<()> {
    for a in state.addresses_matching(address) {
        let r = &state.resources[&a];
        if let Some(p) = &r.pending {
            bail!(
                "{a} has an interrupted {:?} recorded; moving or forgetting it now could lose what that call made\n  hint: let a run finish it first: {}",
                p.op,
                g.again("up", spec)
            );
        }
        if !r.deposed.is_empty() {
            bail!(
                "{a} has replaced objects still to delete ({}); they would be lost\n  hint: let a run delete them first: {}",
                r.deposed.iter().map(|d| d.id.as_str()).collect::<Vec<_>>().join(", "),
                g.again("up", spec)
            );
        }
    }
    Ok(())
}

/// An operator's edit: under the lock, against the state as read, written
/// only if nobody wrote since (fenced), with a backup of what it replaced.
/// Returns what was done, for the operator.
async fn edit(
    stack: &Stack,
    spec: &Path,
    g: &Global,
    ctx: &Ctx,
    operation: &str,
    change: impl FnOnce(&mut State) -> Result<Vec<String>>,
) -> Result<String> {
    let location = ctx.backend.location();
    let Some(backup) = ctx.backend.backup().await? else {
        bail!(
            "{location} keeps no copy of the state from before a write (the bucket has no versioning), so this edit could not be undone; nothing was changed\n  hint: turn versioning on with: {}",
            g.again("init", spec)
        );
    };
    let lock = run::take_lock(ctx, spec, g, operation).await?;
    let result = async {
        let (state, version) = run::read_state(ctx.backend.as_ref(), stack, g).await?;
        let (Some(mut state), Some(version)) = (state, version) else {
            bail!("no state is recorded for stack {} in {location}; nothing was changed", stack.instance());
        };
        let mut lines = change(&mut state)?;
        let before = state.serial;
        state.serial += 1;
        if !lock.is_held() {
            return Err(StateError::LockLost { id: lock.info().id.clone() }.into());
        }
        ctx.backend.write(&state, Some(&version)).await?;
        lines.push(format!(
            "State {location}: serial {before} → {}. The state from before this edit is kept in {backup}.",
            state.serial
        ));
        Ok(lines)
    }
    .await;
    if let Err(e) = lock.release().await {
        eprintln!("warning: releasing the state lock: {e}");
    }
    Ok(result?.iter().map(|l| format!("{l}\n")).collect())
}

/// `state list`: one line per resource, aligned.
fn list(state: &State) -> String {
    let width = |f: &dyn Fn(&(&String, &ResourceState)) -> usize| state.resources.iter().map(|r| f(&r)).max();
    let a = width(&|(a, _)| a.len()).unwrap_or(0);
    let t = width(&|(_, r)| r.type_name.len()).unwrap_or(0);
    let mut out = String::new();
    for (address, r) in &state.resources {
        let id = r.id.as_deref().unwrap_or("(no id yet)");
        let mut line = format!("{address:a$}  {:t$}  {id}", r.type_name);
        if let Some(p) = &r.pending {
            line.push_str(&format!("  (interrupted {:?})", p.op).to_lowercase());
        }
        if !r.deposed.is_empty() {
            line.push_str(&format!("  ({} replaced object(s) to delete)", r.deposed.len()));
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// `state show`: what is recorded, in the order an operator reads it.
fn show(address: &str, r: &ResourceState) -> String {
    let value = |v: &serde_json::Value| v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string());
    let mut out = format!("{address} ({})\n", r.type_name);
    out.push_str(&format!("  id         = {}\n", r.id.as_deref().unwrap_or("(none: its create was interrupted)")));
    out.push_str(&format!("  generation = {}\n", r.generation));
    if !r.dependencies.is_empty() {
        out.push_str(&format!("  depends on = {}\n", r.dependencies.join(", ")));
    }
    if let Some(p) = &r.pending {
        out.push_str(&format!(
            "  pending    = {:?} (started {})\n",
            p.op,
            p.started_at.as_deref().unwrap_or("unknown")
        ));
    }
    for (title, map) in [("properties", &r.properties), ("attributes", &r.attributes)] {
        if map.is_empty() {
            continue;
        }
        out.push_str(&format!("  {title}:\n"));
        for (k, v) in map {
            out.push_str(&format!("    {k} = {}\n", value(v)));
        }
    }
    if !r.tags.is_empty() {
        out.push_str("  tags:\n");
        for (k, v) in &r.tags {
            out.push_str(&format!("    {k} = {v}\n"));
        }
    }
    for d in &r.deposed {
        out.push_str(&format!("  replaced, still to delete: {}\n", d.id));
    }
    out
}

/// What `import` was asked to do.
pub struct Import<'a> {
    pub address: &'a str,
    pub id: &'a str,
    pub allow_replace: bool,
    pub type_name: Option<&'a str>,
}

/// `import --generate`: the spec YAML for a live object; nothing recorded.
pub async fn generate(spec: &Path, how: Import<'_>, g: &Global) -> Result<u8> {
    let stack = run::load(spec, g)?;
    let type_name = match (stack.resource(how.address), how.type_name) {
        (Some(r), Some(t)) if r.type_name != t => {
            bail!("{} is a {} in the spec, not a {t}\n  hint: leave out --type, or import to another address", how.address, r.type_name)
        }
        (Some(r), _) => r.type_name.clone(),
        (None, Some(t)) => t.to_string(),
        (None, None) => bail!(
            "the spec has no resource '{}', so its kind is not known\n  hint: name it: {} {} {} --generate --type KIND (e.g. ec2.vpc)",
            how.address,
            g.again("import", spec),
            shell_word(how.address),
            shell_word(how.id)
        ),
    };
    let ctx = Ctx::new(&stack, g).await;
    let observed = deployctl_engine::import::read_one(&stack, &ctx.kinds, &type_name, how.id).await?;
    let schema = ctx.kinds.get(&type_name).map(|k| k.schema()).expect("read_one found the kind");
    print!("{}", deployctl_engine::import::spec_yaml(schema, how.address, &observed));
    eprintln!(
        "\nAdd it under `resources:` in {} (replace literal ids of resources the stack manages with references, e.g. ${{vpc.id}}), then take it over with: {} {} {}",
        spec.display(),
        g.again("import", spec),
        shell_word(how.address),
        shell_word(how.id)
    );
    Ok(EXIT_OK)
}

/// `import`: under the lock, the live object recorded at an address, with
/// a fenced write; refused if the next `up` would replace it.
pub async fn import(spec: &Path, how: Import<'_>, g: &Global) -> Result<u8> {
    let stack = run::load_live(spec, g).await?;
    let ctx = Ctx::new(&stack, g).await;
    let location = ctx.backend.location();
    let lock = run::take_lock(&ctx, spec, g, "import").await?;
    let result = async {
        let (state, version) = run::read_state(ctx.backend.as_ref(), &stack, g).await?;
        let (sink, rx) = deployctl_engine::EventSink::new();
        let view = run::spawn_view(rx, g);
        let imported = deployctl_engine::import::import(
            &stack,
            state.as_ref(),
            &ctx.kinds,
            how.address,
            how.id,
            how.allow_replace,
            &sink,
        )
        .await;
        drop(sink);
        let _ = view.await;
        let mut imported = imported?;
        imported.state.environment = stack.environment.as_ref().map(|e| e.name.clone());
        imported.state.serial += 1;
        if !lock.is_held() {
            return Err(StateError::LockLost { id: lock.info().id.clone() }.into());
        }
        ctx.backend.write(&imported.state, version.as_deref()).await?;
        Ok::<_, anyhow::Error>(imported)
    }
    .await;
    if let Err(e) = lock.release().await {
        eprintln!("warning: releasing the state lock: {e}");
    }
    let imported = result?;
    println!(
        "Imported {} ({} {}) into {location} (serial {}).",
        imported.address, imported.type_name, imported.observed.id, imported.state.serial
    );
    // Properties by name, tags together: `cidr_block, tags (Name, deployctl:stack)`.
    let (tags, mut fields): (Vec<&str>, Vec<String>) = (
        imported.next.changes.iter().filter_map(|c| c.field.strip_prefix("tags.")).collect(),
        imported.next.changes.iter().filter(|c| !c.field.starts_with("tags.")).map(|c| c.field.clone()).collect(),
    );
    if !tags.is_empty() {
        fields.push(format!("tags ({})", tags.join(", ")));
    }
    match imported.next.action {
        Action::NoOp => println!("It is as the spec says: the next `up` changes nothing on it."),
        Action::Replace => println!(
            "warning: the next `up` replaces it (deletes it and creates another), because of: {}",
            imported.next.forced_by.join(", ")
        ),
        _ => println!("The next `up` updates it in place: {}.", fields.join(", ")),
    }
    println!("See the plan with: {}", g.again("diff", spec));
    Ok(EXIT_OK)
}

/// `lint`: the findings, then a count; exit 1 on an error, or on a
/// warning with `--strict`.
pub fn lint(spec: &Path, strict: bool, json: bool, g: &Global) -> Result<u8> {
    use deployctl_aws::lint::Severity;
    let stack = run::load(spec, g)?;
    let findings = deployctl_aws::lint::lint(&stack);
    if json {
        println!("{}", serde_json::to_string_pretty(&findings)?);
    } else if findings.is_empty() {
        println!("{}: no lint findings ({} rules).", spec.display(), deployctl_aws::lint::RULES.len());
    } else {
        for f in &findings {
            println!("{f}");
        }
        println!("\n{}", lint_summary(&findings));
    }
    let fails = findings.iter().any(|f| f.severity == Severity::Error || strict);
    Ok(if fails { run::EXIT_ERROR } else { EXIT_OK })
}

/// `2 errors, 3 warnings`.
pub fn lint_summary(findings: &[deployctl_aws::lint::Finding]) -> String {
    let errors = findings.iter().filter(|f| f.severity == deployctl_aws::lint::Severity::Error).count();
    let plural = |n: usize, w: &str| format!("{n} {w}{}", if n == 1 { "" } else { "s" });
    format!("lint: {}, {}", plural(errors, "error"), plural(findings.len() - errors, "warning"))
}

/// `cost`: the estimate, and each `--compare` variant beside it.
pub fn cost(spec: &Path, compare: &[String], json: bool, g: &Global) -> Result<u8> {
    use deployctl_aws::cost::{estimate, render};
    let base = estimate(&run::load(spec, g)?);
    let mut others = Vec::new();
    for file in compare {
        let variant = Global { var_files: [g.var_files.clone(), vec![file.clone()]].concat(), ..g.clone() };
        let name = Path::new(file).file_stem().map_or(file.clone(), |s| s.to_string_lossy().into_owned());
        others.push((name, estimate(&run::load(spec, &variant)?)));
    }
    if json {
        let variants: serde_json::Map<String, serde_json::Value> =
            others.iter().map(|(n, e)| Ok((n.clone(), serde_json::to_value(e)?))).collect::<Result<_>>()?;
        println!("{}", serde_json::to_string_pretty(&serde_json::json!({ "estimate": base, "compare": variants }))?);
    } else {
        print!("{}", render(&base, &others));
    }
    Ok(EXIT_OK)
}

/// `verify`: the preflight's problems, each on a resource with its fix;
/// exit 1 when there is one.
pub async fn verify(spec: &Path, json: bool, g: &Global) -> Result<u8> {
    let stack = run::load_live(spec, g).await?;
    let aws =
        deployctl_aws::Aws::connect(Some(&stack.region), g.profile.as_deref(), deployctl_engine::ApiCalls::new()).await;
    let mut problems = deployctl_aws::verify::offline(&stack);
    problems.extend(deployctl_aws::verify::live(&stack, &aws).await);
    if json {
        println!("{}", serde_json::to_string_pretty(&problems)?);
    } else if problems.is_empty() {
        println!("{}: verified: images, roles, secrets, logs and load balancer ports are in order.", spec.display());
    } else {
        for p in &problems {
            println!("{p}");
        }
        println!("\nverify: {} problem(s); `up` would start tasks that cannot run.", problems.len());
    }
    Ok(if problems.is_empty() { EXIT_OK } else { run::EXIT_ERROR })
}

/// `graph`: the spec's DAG, and with `--plan` what `up` would do.
pub async fn graph(spec: &Path, format: GraphFormat, with_plan: bool, g: &Global) -> Result<u8> {
    let stack = if with_plan { run::load_live(spec, g).await? } else { run::load(spec, g)? };
    let plan = if with_plan {
        let ctx = Ctx::new(&stack, g).await;
        let (state, _) = run::read_state(ctx.backend.as_ref(), &stack, g).await?;
        Some(run::plan_viewed(&stack, state.as_ref(), &ctx, g, &[]).await?)
    } else {
        None
    };
    print!("{}", render_graph(&stack, plan.as_ref(), format));
    Ok(EXIT_OK)
}

/// The graph as text. Edges run from a dependency to what depends on it:
/// the order `up` creates in (destroy runs them backwards).
pub fn render_graph(stack: &Stack, plan: Option<&Plan>, format: GraphFormat) -> String {
    let actions: BTreeMap<&str, Action> =
        plan.map(|p| p.resources.iter().map(|r| (r.address.as_str(), r.action)).collect()).unwrap_or_default();
    // The spec's resources, then what the plan deletes (gone from the spec).
    let mut nodes: Vec<(&str, &str)> =
        stack.resources.iter().map(|r| (r.address.as_str(), r.type_name.as_str())).collect();
    if let Some(p) = plan {
        nodes.extend(
            p.resources
                .iter()
                .filter(|r| stack.resource(&r.address).is_none())
                .map(|r| (r.address.as_str(), r.type_name.as_str())),
        );
    }
    let index: BTreeMap<&str, usize> = nodes.iter().enumerate().map(|(i, (a, _))| (*a, i)).collect();
    let mut edges = Vec::new();
    for r in &stack.resources {
        for d in deployctl_spec::dependencies(stack, r) {
            if let (Some(&from), Some(&to)) = (index.get(d.as_str()), index.get(r.address.as_str())) {
                edges.push((from, to));
            }
        }
    }
    edges.sort();
    let verb = |a: &str| {
        actions.get(a).map(|action| match action {
            Action::NoOp => ("no change", "unchanged"),
            Action::Create => ("+ create", "create"),
            Action::Update => ("~ update", "update"),
            Action::Replace => ("-/+ replace", "replace"),
            Action::Delete => ("- delete", "delete"),
        })
    };
    let mut out = String::new();
    match format {
        GraphFormat::Dot => {
            let q = |s: &str| format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""));
            out.push_str(&format!("digraph {} {{\n  rankdir=LR;\n  node [shape=box];\n", q(&stack.instance())));
            for (address, kind) in &nodes {
                let (label, style) = match verb(address) {
                    Some((what, class)) => (
                        format!("{address}\n{kind}\n{what}"),
                        match class {
                            "create" => ", color=green",
                            "update" => ", color=orange",
                            "replace" | "delete" => ", color=red",
                            _ => "",
                        },
                    ),
                    None => (format!("{address}\n{kind}"), ""),
                };
                out.push_str(&format!("  {} [label={}{style}];\n", q(address), q(&label).replace("\n", "\\n")));
            }
            for (from, to) in &edges {
                out.push_str(&format!("  {} -> {};\n", q(nodes[*from].0), q(nodes[*to].0)));
            }
            out.push_str("}\n");
        }
        GraphFormat::Mermaid => {
            let q = |s: &str| s.replace('"', "#quot;");
            out.push_str("flowchart LR\n");
            for (i, (address, kind)) in nodes.iter().enumerate() {
                let (label, class) = match verb(address) {
                    Some((what, class)) => (format!("{address}<br/>{kind}<br/>{what}"), Some(class)),
                    None => (format!("{address}<br/>{kind}"), None),
                };
                out.push_str(&format!("  n{i}[\"{}\"]", q(&label)));
                if let Some(c) = class {
                    out.push_str(&format!(":::{c}"));
                }
                out.push('\n');
            }
            for (from, to) in &edges {
                out.push_str(&format!("  n{from} --> n{to}\n"));
            }
            if plan.is_some() {
                out.push_str("  classDef create stroke:#2a2,stroke-width:2px\n");
                out.push_str("  classDef update stroke:#d80,stroke-width:2px\n");
                out.push_str("  classDef replace stroke:#d22,stroke-width:2px\n");
                out.push_str("  classDef delete stroke:#d22,stroke-dasharray:4\n");
                out.push_str("  classDef unchanged stroke:#999\n");
            }
        }
    }
    out
}

/// `completions SHELL`: the script clap derives from the command line.
pub fn completions(shell: clap_complete::Shell) -> u8 {
    let mut cmd = <Cli as clap::CommandFactory>::command();
    clap_complete::generate(shell, &mut cmd, "deployctl", &mut std::io::stdout());
    EXIT_OK
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stack() -> Stack {
        let schemas = deployctl_aws::schemas();
        let spec = Path::new(env!("CARGO_MANIFEST_DIR")).join("stacks/network.yaml");
        deployctl_spec::load(&spec, &Default::default(), &schemas).unwrap()
    }

    #[test]
    fn the_prod_stack_graph_in_mermaid_has_a_node_per_resource_and_an_edge_per_reference() {
        let schemas = deployctl_aws::schemas();
        let spec = Path::new(env!("CARGO_MANIFEST_DIR")).join("stacks/prod.yaml");
        let prod = deployctl_spec::load(&spec, &Default::default(), &schemas).unwrap();
        let mermaid = render_graph(&prod, None, GraphFormat::Mermaid);
        let id = |a: &str| prod.resources.iter().position(|r| r.address == a).unwrap();
        let mut edges = 0;
        for r in &prod.resources {
            for d in deployctl_spec::dependencies(&prod, r) {
                assert!(mermaid.contains(&format!("  n{} --> n{}\n", id(&d), id(&r.address))), "{d} -> {}", r.address);
                edges += 1;
            }
        }
        assert_eq!(mermaid.matches(" --> ").count(), edges, "one edge per dependency, no more");
        insta::assert_snapshot!(mermaid);
    }

    #[test]
    fn the_network_stack_graph_in_dot_quotes_for_each_addresses() {
        let dot = render_graph(&stack(), None, GraphFormat::Dot);
        assert!(dot.starts_with("digraph \"network/prod\" {\n"), "{dot}");
        assert!(dot.contains("  \"vpc\" -> \"public[a]\";\n"), "{dot}");
        assert!(dot.contains("  \"nat[a]\" [label=\"nat[a]\\nec2.nat_gateway\"];\n"), "{dot}");
    }
}
