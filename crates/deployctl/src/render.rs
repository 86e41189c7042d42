//! Rendering for people: the plan, progress events, the run summary.
//! Nothing here decides anything; it only shows what the engine produced.

use deployctl_engine::plan::{Action, Change, Plan, Planned, ResourcePlan};
use deployctl_engine::planner::display;
use deployctl_engine::{ApiCalls, Event, StepAction};
use std::fmt::Write as _;
use std::io::Write;
use std::time::Duration;

/// [`plan_text`], its symbols coloured when `colour` (a terminal that
/// wants colour).
pub fn plan_for(plan: &Plan, colour: bool) -> String {
    let text = plan_text(plan);
    if colour {
        painted_plan(&text)
    } else {
        text
    }
}

/// Plan text with each line's leading symbol coloured as Terraform does:
/// create green, delete red, update yellow, replace red and green, adopt
/// cyan; comments dim and the summary bold.
fn painted_plan(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 5 / 4);
    for line in text.lines() {
        let body = line.trim_start();
        let indent = &line[..line.len() - body.len()];
        let symbol = body.split_once(' ').and_then(|(s, rest)| Some((painted_symbol(s)?, rest)));
        let _ = match symbol {
            _ if body.starts_with("Plan: ") => writeln!(out, "{}", sgr(BOLD, line)),
            _ if body.starts_with("# ") => writeln!(out, "{indent}{}", sgr(DIM, body)),
            Some((painted, rest)) => writeln!(out, "{indent}{painted} {rest}"),
            None => writeln!(out, "{line}"),
        };
    }
    out
}

const GREEN: &str = "32";
const RED: &str = "31";
const YELLOW: &str = "33";
const CYAN: &str = "36";
const BOLD: &str = "1";
const DIM: &str = "2";

/// `text` in the SGR colour `code`.
fn sgr(code: &str, text: &str) -> String {
    format!("\x1b[{code}m{text}\x1b[0m")
}

/// A plan symbol in its colour; `None` for what is not one.
fn painted_symbol(symbol: &str) -> Option<String> {
    Some(match symbol {
        "+" => sgr(GREEN, symbol),
        "-" => sgr(RED, symbol),
        "~" => sgr(YELLOW, symbol),
        "<=" => sgr(CYAN, symbol),
        "-/+" => format!("{}/{}", sgr(RED, "-"), sgr(GREEN, "+")),
        "+/-" => format!("{}/{}", sgr(GREEN, "+"), sgr(RED, "-")),
        _ => return None,
    })
}

/// The plan as a reviewer reads it: per resource and per field, with
/// Terraform-like symbols, secrets masked, and a summary line.
pub fn plan_text(plan: &Plan) -> String {
    let mut out = String::new();
    if !plan.targets.is_empty() {
        let reach = match plan.mode {
            deployctl_engine::Mode::Apply => "what they depend on",
            deployctl_engine::Mode::Destroy => "what depends on them",
        };
        let _ = writeln!(
            out,
            "Warning: targeted run (--target {}): only the targets and {reach} were read; the rest of the stack was \
             not looked at, and may have changed or drifted. Run without --target to see it all.\n",
            plan.targets.join(" --target ")
        );
    }
    let verb = match plan.mode {
        deployctl_engine::Mode::Apply => "up",
        deployctl_engine::Mode::Destroy => "destroy",
    };
    if !plan.has_changes() && plan.mode == deployctl_engine::Mode::Destroy {
        let what = if plan.targets.is_empty() { "has no resources" } else { "has none of them" };
        let _ = writeln!(out, "Nothing to destroy: stack {} ({}) {what}.", plan.instance(), plan.region);
        return out;
    }
    if !plan.has_changes() {
        let _ = writeln!(
            out,
            "No changes. Stack {} ({}) matches the spec: {} resources up to date.",
            plan.instance(),
            plan.region,
            plan.summary().unchanged
        );
        return out;
    }
    drift_text(&mut out, plan);
    let _ = writeln!(out, "deployctl {verb} will make these changes to stack {} ({}):", plan.instance(), plan.region);
    let _ = writeln!(
        out,
        "  + create   ~ update in place   +/- replace (new one first)   -/+ replace (old one deleted first)   - delete   <= adopt"
    );
    let _ = writeln!(out);
    for r in plan
        .resources
        .iter()
        .filter(|r| r.action != Action::NoOp || r.adopt.is_some() || !r.deposed.is_empty() || !r.reasons.is_empty())
    {
        resource_text(&mut out, r);
    }
    let _ = writeln!(out, "{}", summary_line(plan));
    out
}

/// What changed outside deployctl since it last applied, before the plan
/// (which then shows what brings it back to the spec): per resource, each
/// drifted field from what was applied to what is live.
fn drift_text(out: &mut String, plan: &Plan) {
    let drifted: Vec<&ResourcePlan> = plan.resources.iter().filter(|r| r.changes.iter().any(|c| c.drift)).collect();
    if drifted.is_empty() {
        return;
    }
    let _ = writeln!(out, "Changed outside deployctl since it last applied:");
    let _ = writeln!(out);
    for r in drifted {
        let id = r.id.as_deref().map(|i| format!(" ({i})")).unwrap_or_default();
        let _ = writeln!(out, "  ~ {}{id}", display(&r.type_name, &r.address));
        let changes: Vec<&Change> = r.changes.iter().filter(|c| c.drift).collect();
        let width = changes.iter().map(|c| c.field.len()).max().unwrap_or(0);
        for c in changes {
            let field = format!("{:<width$}", c.field);
            if let (Some(Planned::Value(was)), Some(Planned::Value(now))) = (&c.applied, &c.before) {
                if let Some(lines) = crate::nested::lines(was, now) {
                    let _ = writeln!(out, "      ~ {}:", c.field);
                    for line in lines {
                        let _ = writeln!(out, "          {line}");
                    }
                    continue;
                }
            }
            let was = c.applied.as_ref().map(planned).unwrap_or_else(|| "(unset)".into());
            let now = c.before.as_ref().map(planned).unwrap_or_else(|| "(unset)".into());
            let _ = writeln!(out, "      ~ {field} = {was} -> {now}");
        }
    }
    let _ = writeln!(out);
}

fn resource_text(out: &mut String, r: &ResourcePlan) {
    let name = display(&r.type_name, &r.address);
    let id = r.id.as_deref().map(|i| format!(" ({i})")).unwrap_or_default();
    let what = match r.action {
        Action::Create => "will be created".to_string(),
        Action::Update => "will be updated in place".to_string(),
        Action::Replace => format!("must be replaced: {} cannot change in place", r.forced_by.join(", ")),
        Action::Delete => "will be deleted".to_string(),
        Action::NoOp if r.adopt.is_some() => "will be adopted into state, unchanged".to_string(),
        Action::NoOp => "unchanged".to_string(),
    };
    let symbol = if r.action == Action::NoOp && r.adopt.is_some() { "<=" } else { r.symbol() };
    let _ = writeln!(out, "{symbol:>3} {name}{id} {what}");
    if let Some(how) = &r.adopt {
        let _ = writeln!(out, "      # adopt: {how}");
    }
    if let Some(rep) = &r.replacement {
        let order = if rep.create_first() {
            "create the replacement, repoint what uses it, then delete the old one"
        } else {
            "delete the old one, then create the replacement"
        };
        let _ = writeln!(out, "      # {order} ({})", rep.why);
    }
    for d in &r.deposed {
        let _ = writeln!(
            out,
            "      # - {} will be deleted: replaced by an earlier run that stopped before deleting it",
            d.id
        );
    }
    for reason in &r.reasons {
        let _ = writeln!(out, "      # {reason}");
    }
    let width = r.changes.iter().map(|c| c.field.len()).max().unwrap_or(0);
    for c in &r.changes {
        let _ = writeln!(out, "      {}", change_text(c, r.action, width));
    }
    let _ = writeln!(out);
}

fn change_text(c: &Change, action: Action, width: usize) -> String {
    let field = format!("{:<width$}", c.field);
    let force = match (c.forces_replacement, c.drift) {
        (true, true) => "  # forces replacement; changed outside deployctl",
        (true, false) => "  # forces replacement",
        (false, true) => "  # changed outside deployctl",
        (false, false) => "",
    };
    match (&c.before, &c.after) {
        (None, Some(after)) if action == Action::Create => format!("+ {field} = {}", planned(after)),
        (None, Some(after)) => format!("+ {field} = {}{force}", planned(after)),
        (Some(before), None) => format!("- {field} = {}{force}", planned(before)),
        (Some(before), Some(after)) => match (before, after) {
            (Planned::Sensitive { .. }, Planned::Sensitive { .. }) => {
                format!("~ {field} = (sensitive value changed){force}")
            }
            // Nested values: only what changed inside them.
            (Planned::Value(b), Planned::Value(a) | Planned::Partial(a)) => match crate::nested::lines(b, a) {
                Some(lines) => {
                    let mut text = format!("~ {}:{force}", c.field);
                    for line in lines {
                        text.push_str("\n          ");
                        text.push_str(&line);
                    }
                    text
                }
                None => format!("~ {field} = {} -> {}{force}", planned(before), planned(after)),
            },
            _ => format!("~ {field} = {} -> {}{force}", planned(before), planned(after)),
        },
        (None, None) => format!("  {field}"),
    }
}

/// One value: JSON for data, markers for the rest. A secret shows only that
/// it is one.
pub fn planned(p: &Planned) -> String {
    match p {
        Planned::Value(v) => crate::nested::one_line(v),
        Planned::KnownAfterApply => "(known after apply)".into(),
        Planned::Partial(v) => crate::nested::one_line(v),
        Planned::Sensitive { .. } => "(sensitive value)".into(),
    }
}

pub fn summary_line(plan: &Plan) -> String {
    let s = plan.summary();
    let adopt = if s.adopt > 0 { format!(", {} to adopt", s.adopt) } else { String::new() };
    format!(
        "Plan: {} to create, {} to update, {} to replace, {} to delete{adopt}, {} unchanged.",
        s.create, s.update, s.replace, s.delete, s.unchanged
    )
}

/// Per-operation API call counts, for `-v`.
pub fn calls_table(calls: &ApiCalls) -> String {
    let mut out = String::new();
    let snap = calls.snapshot();
    let total = calls.total();
    let _ = writeln!(out, "API calls: {} ({} retries)", total.calls, total.retries);
    // Columns as wide as their longest entry (secretsmanager,
    // applicationautoscaling), so that the counts line up.
    let svc_w = snap.keys().map(|(s, _)| s.len()).max().unwrap_or(0);
    let op_w = snap.keys().map(|(_, o)| o.len()).max().unwrap_or(0);
    for ((svc, op), c) in snap {
        let retries = if c.retries > 0 { format!(" (+{} retries)", c.retries) } else { String::new() };
        let _ = writeln!(out, "  {svc:<svc_w$}  {op:<op_w$}  {:>4}{retries}", c.calls);
    }
    out
}

fn secs(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 60 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
}

/// Renders events as they come: on a terminal a live view (finished steps
/// scroll, a status line shows what is in flight, cut to the terminal's
/// width so that it never wraps and is redrawn in place), otherwise plain
/// lines.
pub struct EventView {
    live: bool,
    running: Vec<Running>,
    status_shown: bool,
    verbose: bool,
    colour: bool,
}

/// A step in flight, as the status line shows it.
struct Running {
    address: String,
    action: StepAction,
    since: std::time::Instant,
    /// What it last said it waits for (`NAT gateway to be available:
    /// pending`).
    waiting: Option<String>,
}

impl Running {
    fn is(&self, address: &str, action: StepAction) -> bool {
        self.address == address && self.action == action
    }
}

/// The status line: up to four steps in flight, each with its elapsed time
/// and, when it waits, what for and the state last seen; cut to `width`.
fn status_text(running: &[(&str, StepAction, Duration, Option<&str>)], width: usize) -> String {
    let parts: Vec<String> = running
        .iter()
        .take(4)
        .map(|(a, act, t, waiting)| match waiting {
            Some(w) => format!("{} {a} {} ({w})", act.verb_ing(), secs(*t)),
            None => format!("{} {a} {}", act.verb_ing(), secs(*t)),
        })
        .collect();
    let more = if running.len() > 4 { format!(" (+{} more)", running.len() - 4) } else { String::new() };
    fit(&format!("… {}{more}", parts.join(", ")), width)
}

/// The terminal's width in columns, if stderr is one that says.
fn terminal_width() -> Option<usize> {
    #[cfg(unix)]
    {
        // SAFETY: TIOCGWINSZ writes a winsize into the struct it is given.
        let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
        if unsafe { libc::ioctl(2, libc::TIOCGWINSZ, &mut ws) } == 0 && ws.ws_col > 0 {
            return Some(ws.ws_col as usize);
        }
    }
    std::env::var("COLUMNS").ok().and_then(|c| c.parse().ok()).filter(|c| *c > 0)
}

/// `text` cut to `width` characters, ending in `…` when it was longer.
pub fn fit(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_string();
    }
    let mut out: String = text.chars().take(width.saturating_sub(1)).collect();
    out.push('…');
    out
}

impl EventView {
    pub fn new(live: bool, verbose: bool) -> EventView {
        EventView { live, running: Vec::new(), status_shown: false, verbose, colour: false }
    }

    /// Colours finished steps (created green, updated yellow, deleted and
    /// failed red): for a terminal without NO_COLOR or --no-color.
    pub fn with_colour(mut self, colour: bool) -> EventView {
        self.colour = colour && self.live;
        self
    }

    fn line(&mut self, text: &str) {
        self.painted(text, None);
    }

    /// A finished line, in `colour` (an SGR code) when colour is on; on a
    /// terminal, cut to its width (it never wraps).
    fn painted(&mut self, text: &str, colour: Option<&str>) {
        let fitted;
        let text = if self.live {
            fitted = fit(text, terminal_width().unwrap_or(80).saturating_sub(1).max(10));
            fitted.as_str()
        } else {
            text
        };
        let mut err = std::io::stderr().lock();
        if self.status_shown {
            let _ = write!(err, "\r\x1b[2K");
            self.status_shown = false;
        }
        let _ = match colour.filter(|_| self.colour) {
            Some(c) => writeln!(err, "{}", sgr(c, text)),
            None => writeln!(err, "{text}"),
        };
    }

    /// Redraws the status line (live mode only).
    pub fn tick(&mut self) {
        if !self.live || self.running.is_empty() {
            return;
        }
        let running: Vec<_> = self
            .running
            .iter()
            .map(|r| (r.address.as_str(), r.action, r.since.elapsed(), r.waiting.as_deref()))
            .collect();
        // One column short of the width: a line that fills it wraps on
        // some terminals, and a wrapped line is not redrawn in place.
        let status = status_text(&running, terminal_width().unwrap_or(80).saturating_sub(1).max(10));
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r\x1b[2K{status}");
        let _ = err.flush();
        self.status_shown = true;
    }

    pub fn show(&mut self, e: &Event) {
        match e {
            Event::Reading { type_name, count } => {
                if self.verbose {
                    self.line(&format!("reading {count} {type_name}"));
                }
            }
            Event::StepStarted { address, action } => {
                self.running.push(Running {
                    address: address.clone(),
                    action: *action,
                    since: std::time::Instant::now(),
                    waiting: None,
                });
                if !self.live {
                    self.line(&format!("{address}: {}…", action.verb_ing()));
                }
            }
            Event::StepProgress { address, action, message, elapsed } => {
                if let Some(r) = self.running.iter_mut().find(|r| r.is(address, *action)) {
                    r.waiting = Some(message.clone());
                }
                if !self.live || self.verbose {
                    self.line(&format!("{address}: still {}… {} ({message})", action.verb_ing(), secs(*elapsed)));
                }
            }
            Event::StepFinished { address, action, id, elapsed } => {
                self.running.retain(|r| !r.is(address, *action));
                let id = id.as_deref().map(|i| format!(" [{i}]")).unwrap_or_default();
                let colour = match action {
                    StepAction::Create => GREEN,
                    StepAction::Update => YELLOW,
                    StepAction::Delete => RED,
                };
                self.painted(&format!("{address}: {} after {}{id}", action.verb_ed(), secs(*elapsed)), Some(colour));
            }
            Event::StepFailed { address, action, error } => {
                self.running.retain(|r| !r.is(address, *action));
                let first = error.lines().next().unwrap_or_default();
                self.painted(&format!("{address}: {} failed: {first}", action.verb_ing()), Some("1;31"));
            }
            Event::StepSkipped { address, action, failed: Some(failed) } => {
                self.line(&format!("{address}: not {} because {failed} failed", action.verb_ed()));
            }
            Event::StepSkipped { address, action, failed: None } => {
                self.line(&format!("{address}: not {}: the run was interrupted", action.verb_ed()));
            }
            Event::StateWritten { serial, mutations } => {
                if self.verbose {
                    self.line(&format!("state written (serial {serial}, {mutations} changes)"));
                }
            }
        }
        self.tick();
    }

    pub fn finish(&mut self) {
        if self.status_shown {
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r\x1b[2K");
            self.status_shown = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use deployctl_engine::plan::{Prior, ReplaceOrder, Replacement, PLAN_FORMAT_VERSION};
    use deployctl_engine::secrets::fingerprint;
    use deployctl_engine::Mode;
    use serde_json::{json, Value};
    use std::collections::BTreeMap;

    const LINEAGE: &str = "5f0c1a52-7a0e-4d0b-9d3c-2b1e8f6a4c11";
    /// A secret's plaintext: it must never reach the rendered plan.
    const CANARY: &str = "canary-hunter2-do-not-print";

    fn change(field: &str, before: Option<Planned>, after: Option<Planned>) -> Change {
        Change { field: field.into(), before, after, forces_replacement: false, drift: false, applied: None }
    }

    fn v(value: Value) -> Option<Planned> {
        Some(Planned::Value(value))
    }

    fn sensitive(plaintext: &str) -> Option<Planned> {
        Some(Planned::Sensitive { fingerprint: fingerprint(LINEAGE, plaintext) })
    }

    fn resource(address: &str, type_name: &str, action: Action) -> ResourcePlan {
        ResourcePlan {
            address: address.into(),
            type_name: type_name.into(),
            action,
            id: None,
            reasons: vec![],
            changes: vec![],
            forced_by: vec![],
            replacement: None,
            deposed: vec![],
            dependencies: vec![],
            previous_dependencies: vec![],
            desired: BTreeMap::new(),
            tags: BTreeMap::new(),
            prior: None,
            resume: false,
            timeouts: None,
            adopt: None,
        }
    }

    fn plan(mode: Mode, resources: Vec<ResourcePlan>) -> Plan {
        Plan {
            format_version: PLAN_FORMAT_VERSION,
            mode,
            stack: "network".into(),
            environment: None,
            region: "us-east-1".into(),
            state_lineage: Some(LINEAGE.into()),
            lineage: LINEAGE.into(),
            state_serial: Some(7),
            resources,
            forget: vec![],
            for_each_keys: BTreeMap::new(),
            outputs: BTreeMap::new(),
            targets: vec![],
        }
    }

    /// Every action, with reasons, replacements in either order, a deposed
    /// object, a secret changed, a secret set on create and values known
    /// only after apply.
    fn every_action() -> Plan {
        // Two of its changes undo what was changed outside deployctl.
        let vpc = ResourcePlan {
            id: Some("vpc-0a1b".into()),
            changes: vec![
                Change {
                    drift: true,
                    applied: v(json!(true)),
                    ..change("enable_dns_hostnames", v(json!(false)), v(json!(true)))
                },
                change("tags.Name", v(json!("old")), v(json!("network-vpc"))),
                Change { drift: true, applied: None, ..change("tags.Stale", v(json!("yes")), None) },
            ],
            ..resource("vpc", "ec2.vpc", Action::Update)
        };
        let subnet = ResourcePlan {
            id: Some("subnet-1".into()),
            reasons: vec!["vpc is replaced".into()],
            changes: vec![
                Change {
                    forces_replacement: true,
                    ..change("cidr_block", v(json!("10.0.1.0/24")), v(json!("10.0.9.0/24")))
                },
                Change {
                    forces_replacement: true,
                    ..change("vpc_id", v(json!("vpc-0a1b")), Some(Planned::KnownAfterApply))
                },
                change("map_public_ip_on_launch", v(json!(false)), v(json!(true))),
            ],
            forced_by: vec!["cidr_block".into(), "vpc_id".into()],
            replacement: Some(Replacement {
                order: ReplaceOrder::DeleteBeforeCreate,
                why: "its dependency vpc is replaced delete-first".into(),
            }),
            ..resource("subnet[a]", "ec2.subnet", Action::Replace)
        };
        let tg = ResourcePlan {
            id: Some("arn:tg/web/1".into()),
            changes: vec![Change { forces_replacement: true, ..change("port", v(json!(80)), v(json!(8080))) }],
            forced_by: vec!["port".into()],
            replacement: Some(Replacement {
                order: ReplaceOrder::CreateBeforeDestroy,
                why: "the new one can exist beside the old".into(),
            }),
            ..resource("web", "elbv2.target_group", Action::Replace)
        };
        let nat = ResourcePlan {
            id: Some("nat-2".into()),
            deposed: vec![Prior { id: "nat-1".into(), ..Default::default() }],
            ..resource("nat", "ec2.nat_gateway", Action::NoOp)
        };
        let db = ResourcePlan {
            id: Some("db-1".into()),
            changes: vec![
                change("password", sensitive("old-password"), sensitive(CANARY)),
                change("port", v(json!(5432)), v(json!(5433))),
            ],
            ..resource("db", "rds.instance", Action::Update)
        };
        let sg = ResourcePlan {
            reasons: vec!["sg-123 was deleted outside deployctl".into()],
            changes: vec![
                change("vpc_id", None, Some(Planned::KnownAfterApply)),
                change("description", None, v(json!("web"))),
                change("ingress", None, v(json!([{"protocol": "tcp", "from_port": 443, "to_port": 443}]))),
                change("api_key", None, sensitive(CANARY)),
            ],
            ..resource("web", "ec2.security_group", Action::Create)
        };
        let igw = ResourcePlan { id: Some("igw-9".into()), ..resource("igw", "ec2.internet_gateway", Action::NoOp) };
        let old = ResourcePlan {
            id: Some("sg-old".into()),
            reasons: vec!["no longer in the spec".into()],
            prior: Some(Prior { id: "sg-old".into(), ..Default::default() }),
            ..resource("old_sg", "ec2.security_group", Action::Delete)
        };
        plan(Mode::Apply, vec![vpc, subnet, tg, db, sg, igw, nat, old])
    }

    #[test]
    fn plan_text_shows_every_action() {
        insta::assert_snapshot!(plan_text(&every_action()));
    }

    /// A nested value shows only what changed inside it, in the plan as in
    /// the drift section.
    #[test]
    fn plan_text_shows_only_what_changed_inside_a_nested_value() {
        let rule =
            |port: i64| json!({"ip_protocol": "tcp", "from_port": port, "to_port": port, "cidr_ipv4": "0.0.0.0/0"});
        let sg = ResourcePlan {
            id: Some("sg-1".into()),
            changes: vec![Change {
                drift: true,
                applied: v(json!([rule(80), rule(443)])),
                ..change("ingress", v(json!([rule(80), rule(443), rule(22)])), v(json!([rule(80), rule(443)])))
            }],
            ..resource("web_sg", "ec2.security_group", Action::Update)
        };
        let container = |image: &str| json!([{"name": "web", "image": image, "cpu": 0, "essential": true}]);
        let task = ResourcePlan {
            id: Some("arn:td/web:6".into()),
            changes: vec![Change {
                forces_replacement: true,
                ..change("container_definitions", v(container("shop/api:1.4.0")), v(container("shop/api:1.5.0")))
            }],
            forced_by: vec!["container_definitions".into()],
            replacement: Some(Replacement {
                order: ReplaceOrder::CreateBeforeDestroy,
                why: "the new one can exist beside the old".into(),
            }),
            ..resource("task", "ecs.task_definition", Action::Replace)
        };
        insta::assert_snapshot!(plan_text(&plan(Mode::Apply, vec![sg, task])));
    }

    #[test]
    fn plan_text_for_destroy() {
        let del = |a: &str, id: &str| ResourcePlan { id: Some(id.into()), ..resource(a, "ec2.subnet", Action::Delete) };
        insta::assert_snapshot!(plan_text(&plan(
            Mode::Destroy,
            vec![del("subnet[b]", "subnet-2"), del("subnet[a]", "subnet-1")]
        )));
    }

    #[test]
    fn plan_text_says_no_changes_when_nothing_changes() {
        let p = plan(
            Mode::Apply,
            vec![
                ResourcePlan { id: Some("vpc-1".into()), ..resource("vpc", "ec2.vpc", Action::NoOp) },
                ResourcePlan { id: Some("igw-1".into()), ..resource("igw", "ec2.internet_gateway", Action::NoOp) },
            ],
        );
        assert_eq!(plan_text(&p), "No changes. Stack network (us-east-1) matches the spec: 2 resources up to date.\n");
        let empty = plan(Mode::Apply, vec![]);
        assert!(plan_text(&empty).starts_with("No changes."), "{}", plan_text(&empty));
    }

    /// A targeted plan never reads as the whole stack's: it warns first,
    /// and a destroy names what a target takes with it.
    #[test]
    fn a_targeted_plan_warns_that_the_rest_of_the_stack_was_not_looked_at() {
        let del = |a: &str| ResourcePlan { id: Some(format!("{a}-1")), ..resource(a, "ec2.subnet", Action::Delete) };
        let targeted = |mode, resources| Plan { targets: vec!["nat[a]".into(), "vpc".into()], ..plan(mode, resources) };
        insta::assert_snapshot!(plan_text(&targeted(Mode::Destroy, vec![del("nat[a]"), del("rt")])), @r"
        Warning: targeted run (--target nat[a] --target vpc): only the targets and what depends on them were read; the rest of the stack was not looked at, and may have changed or drifted. Run without --target to see it all.

        deployctl destroy will make these changes to stack network (us-east-1):
          + create   ~ update in place   +/- replace (new one first)   -/+ replace (old one deleted first)   - delete   <= adopt

          - ec2.subnet.nat[a] (nat[a]-1) will be deleted

          - ec2.subnet.rt (rt-1) will be deleted

        Plan: 0 to create, 0 to update, 0 to replace, 2 to delete, 0 unchanged.
        ");
        let nothing = plan_text(&targeted(Mode::Apply, vec![]));
        assert!(nothing.starts_with("Warning: targeted run") && nothing.contains("\nNo changes."), "{nothing}");
    }

    #[test]
    fn destroy_of_nothing_says_there_is_nothing_to_destroy() {
        assert_eq!(
            plan_text(&plan(Mode::Destroy, vec![])),
            "Nothing to destroy: stack network (us-east-1) has no resources.\n"
        );
    }

    #[test]
    fn the_call_table_lines_up_whatever_the_service_names() {
        let calls = ApiCalls::new();
        calls.record_call("ec2", "DescribeVpcs");
        calls.record_call("applicationautoscaling", "DescribeScalableTargets");
        calls.record_call("applicationautoscaling", "DescribeScalableTargets");
        let table = calls_table(&calls);
        let counts: Vec<usize> = table.lines().skip(1).map(|l| l.rfind(char::is_numeric).unwrap()).collect();
        assert_eq!(counts.len(), 2, "{table}");
        assert!(counts.windows(2).all(|w| w[0] == w[1]), "the counts line up:\n{table}");
    }

    #[test]
    fn the_status_line_shows_what_a_step_waits_for_and_fits_the_width() {
        let secs = Duration::from_secs;
        let running = [
            ("nat[a]", StepAction::Create, secs(42), Some("NAT gateway to be available: pending")),
            ("subnet[b]", StepAction::Delete, secs(3), None),
        ];
        assert_eq!(
            status_text(&running, 200),
            "… creating nat[a] 42.0s (NAT gateway to be available: pending), deleting subnet[b] 3.0s"
        );
        let cut = status_text(&running, 40);
        assert_eq!(cut.chars().count(), 40, "{cut}");
        assert!(cut.starts_with("… creating nat[a] 42.0s (NAT gateway") && cut.ends_with('…'), "{cut}");
        let many: Vec<_> = (0..6).map(|i| ("log", StepAction::Create, secs(i), None)).collect();
        assert!(status_text(&many, 200).ends_with(" (+2 more)"));
    }

    #[test]
    fn a_coloured_plan_is_the_plain_plan_with_its_symbols_painted() {
        let p = every_action();
        let plain = plan_for(&p, false);
        assert_eq!(plain, plan_text(&p));
        assert!(!plain.contains('\x1b'));
        let coloured = plan_for(&p, true);
        assert!(coloured.contains("\n      \x1b[32m+\x1b[0m vpc_id"), "{coloured}");
        assert!(coloured.contains("\x1b[31m-\x1b[0m/\x1b[32m+\x1b[0m ec2.subnet.subnet[a]"), "{coloured}");
        assert!(coloured.contains("\x1b[1mPlan: "), "{coloured}");
        // Nothing but the escapes was added.
        assert_eq!(strip_sgr(&coloured), plain);
    }

    /// `text` without SGR sequences (ESC [ … m).
    fn strip_sgr(text: &str) -> String {
        let mut out = String::new();
        let mut rest = text;
        while let Some(i) = rest.find("\x1b[") {
            out.push_str(&rest[..i]);
            rest = &rest[i..];
            rest = &rest[rest.find('m').map(|m| m + 1).unwrap_or(rest.len())..];
        }
        out.push_str(rest);
        out
    }

    #[test]
    fn secrets_never_appear_in_the_plan_text() {
        let p = every_action();
        let text = plan_text(&p);
        let fp = fingerprint(LINEAGE, CANARY);
        assert!(!text.contains(CANARY), "plaintext in:\n{text}");
        assert!(!text.contains(&fp), "fingerprint in:\n{text}");
        // Not even part of the fingerprint's digest.
        assert!(!text.contains(&fp["sha256:".len()..][..12]), "{text}");
        assert!(!text.contains("sha256:"), "{text}");
        // The secret's fields are shown, masked.
        assert!(text.contains("~ password = (sensitive value changed)"), "{text}");
        assert!(text.contains("+ api_key     = (sensitive value)"), "{text}");
        // The plan itself does carry the fingerprint (that is what is
        // compared), so the check above is not vacuous.
        assert!(p.to_json().contains(&fp));
    }

    #[test]
    fn summary_line_counts_each_action() {
        assert_eq!(
            summary_line(&every_action()),
            "Plan: 1 to create, 2 to update, 2 to replace, 2 to delete, 2 unchanged."
        );
    }
}
