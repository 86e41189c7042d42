//! Rendering for people: the plan, progress events, the run summary.
//! Nothing here decides anything; it only shows what the engine produced.

use deployctl_engine::plan::{Action, Change, Plan, Planned, ResourcePlan};
use deployctl_engine::planner::display;
use deployctl_engine::{ApiCalls, Event, StepAction};
use serde_json::Value;
use std::fmt::Write as _;
use std::io::Write;
use std::time::Duration;

/// The plan as a reviewer reads it: per resource and per field, with
/// Terraform-like symbols, secrets masked, and a summary line.
pub fn plan_text(plan: &Plan) -> String {
    let mut out = String::new();
    let verb = match plan.mode {
        deployctl_engine::Mode::Apply => "up",
        deployctl_engine::Mode::Destroy => "destroy",
    };
    if !plan.has_changes() {
        let _ = writeln!(
            out,
            "No changes. Stack {} ({}) matches the spec: {} resources up to date.",
            plan.stack,
            plan.region,
            plan.summary().unchanged
        );
        return out;
    }
    let _ = writeln!(out, "deployctl {verb} will make these changes to stack {} ({}):", plan.stack, plan.region);
    let _ = writeln!(out, "  + create   ~ update in place   -/+ replace   - delete");
    let _ = writeln!(out);
    for r in plan.resources.iter().filter(|r| r.action != Action::NoOp) {
        resource_text(&mut out, r);
    }
    let _ = writeln!(out, "{}", summary_line(plan));
    out
}

fn resource_text(out: &mut String, r: &ResourcePlan) {
    let name = display(&r.type_name, &r.address);
    let id = r.id.as_deref().map(|i| format!(" ({i})")).unwrap_or_default();
    let what = match r.action {
        Action::Create => "will be created".to_string(),
        Action::Update => "will be updated in place".to_string(),
        Action::Replace => format!("must be replaced: {} cannot change in place", r.forced_by.join(", ")),
        Action::Delete => "will be deleted".to_string(),
        Action::NoOp => "unchanged".to_string(),
    };
    let _ = writeln!(out, "{:>3} {name}{id} {what}", r.action.symbol());
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
    let force = if c.forces_replacement { "  # forces replacement" } else { "" };
    match (&c.before, &c.after) {
        (None, Some(after)) if action == Action::Create => format!("+ {field} = {}", planned(after)),
        (None, Some(after)) => format!("+ {field} = {}{force}", planned(after)),
        (Some(before), None) => format!("- {field} = {}", planned(before)),
        (Some(before), Some(after)) => match (before, after) {
            (Planned::Sensitive { .. }, Planned::Sensitive { .. }) => {
                format!("~ {field} = (sensitive value changed){force}")
            }
            _ => format!("~ {field} = {} -> {}{force}", planned(before), planned(after)),
        },
        (None, None) => format!("  {field}"),
    }
}

/// One value: JSON for data, markers for the rest. A secret shows only that
/// it is one.
pub fn planned(p: &Planned) -> String {
    match p {
        Planned::Value(v) => value(v),
        Planned::KnownAfterApply => "(known after apply)".into(),
        Planned::Sensitive { .. } => "(sensitive value)".into(),
    }
}

fn value(v: &Value) -> String {
    match v {
        Value::String(s) => format!("{s:?}"),
        other => other.to_string(),
    }
}

pub fn summary_line(plan: &Plan) -> String {
    let s = plan.summary();
    format!(
        "Plan: {} to create, {} to update, {} to replace, {} to delete, {} unchanged.",
        s.create, s.update, s.replace, s.delete, s.unchanged
    )
}

/// Per-operation API call counts, for `-v`.
pub fn calls_table(calls: &ApiCalls) -> String {
    let mut out = String::new();
    let snap = calls.snapshot();
    let total = calls.total();
    let _ = writeln!(out, "API calls: {} ({} retries)", total.calls, total.retries);
    for ((svc, op), c) in snap {
        let retries = if c.retries > 0 { format!(" (+{} retries)", c.retries) } else { String::new() };
        let _ = writeln!(out, "  {svc:<10} {op:<36} {:>4}{retries}", c.calls);
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
/// scroll, a status line shows what is in flight), otherwise plain lines.
pub struct EventView {
    live: bool,
    running: Vec<(String, StepAction, std::time::Instant)>,
    status_shown: bool,
    verbose: bool,
}

impl EventView {
    pub fn new(live: bool, verbose: bool) -> EventView {
        EventView { live, running: Vec::new(), status_shown: false, verbose }
    }

    fn line(&mut self, text: &str) {
        let mut err = std::io::stderr().lock();
        if self.status_shown {
            let _ = write!(err, "\r\x1b[2K");
            self.status_shown = false;
        }
        let _ = writeln!(err, "{text}");
    }

    /// Redraws the status line (live mode only).
    pub fn tick(&mut self) {
        if !self.live || self.running.is_empty() {
            return;
        }
        let parts: Vec<String> = self
            .running
            .iter()
            .take(4)
            .map(|(a, act, t)| format!("{} {a} {}", act.verb_ing(), secs(t.elapsed())))
            .collect();
        let more = if self.running.len() > 4 { format!(" (+{} more)", self.running.len() - 4) } else { String::new() };
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r\x1b[2K… {}{more}", parts.join(", "));
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
                self.running.push((address.clone(), *action, std::time::Instant::now()));
                if !self.live {
                    self.line(&format!("{address}: {}…", action.verb_ing()));
                }
            }
            Event::StepProgress { address, action, message, elapsed } => {
                if !self.live || self.verbose {
                    self.line(&format!("{address}: still {}… {} ({message})", action.verb_ing(), secs(*elapsed)));
                }
            }
            Event::StepFinished { address, action, id, elapsed } => {
                self.running.retain(|(a, act, _)| !(a == address && act == action));
                let id = id.as_deref().map(|i| format!(" [{i}]")).unwrap_or_default();
                self.line(&format!("{address}: {} after {}{id}", action.verb_ed(), secs(*elapsed)));
            }
            Event::StepFailed { address, action, error } => {
                self.running.retain(|(a, act, _)| !(a == address && act == action));
                let first = error.lines().next().unwrap_or_default();
                self.line(&format!("{address}: {} failed: {first}", action.verb_ing()));
            }
            Event::StepSkipped { address, action, because } => {
                self.line(&format!("{address}: not {} because {because} did not finish", action.verb_ed()));
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
