//! The step executor: walks the plan in dependency order, running
//! independent steps concurrently (bounded by `parallelism`, and per
//! service by its pacing limit, see `pacing.rs`), deletes in reverse
//! dependency order. Every intent that waits on no other step is written
//! before the first call, in one write; each step then records its send
//! time and its result, which the writer checkpoints (see `writer.rs`).
//! When a step fails, what is in flight finishes, nothing that depends on
//! the failed step starts, and state is recorded.

use crate::calls::{in_step, StepCounters, StepScope};
use crate::error::EngineError;
use crate::events::{Event, EventSink, StepAction};
use crate::kind::{Kinds, Observed, OpCtx, Props, WaitError};
use crate::pacing::{Pacer, ServicePacing};
use crate::plan::{Action, Plan, ResourcePlan};
use crate::planner::display;
use crate::resolve::{read_secrets, Known};
use crate::secrets::client_token;
use crate::writer::StateWriter;
use deployctl_state::{Deposed, Pending, PendingOp, ResourceState, State};
use futures::stream::{FuturesUnordered, StreamExt};
use petgraph::graph::{DiGraph, NodeIndex};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// A step of the critical path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CriticalStep {
    pub display: String,
    pub action: StepAction,
    pub calls: u64,
    /// Its calls one after another (side by side counted once).
    pub round_trips: u64,
}

/// How the run went.
#[derive(Debug, Default)]
pub struct ApplyReport {
    pub completed: Vec<(String, StepAction)>,
    pub failed: Vec<EngineError>,
    /// Not started: a dependency failed, or the run was interrupted.
    pub skipped: Vec<(String, StepAction)>,
    pub interrupted: bool,
    pub outputs: BTreeMap<String, Value>,
    /// The chain of steps, each depending on the one before, with the most
    /// round trips in all (a step's calls one after another, those side by
    /// side counted once): no apply of this plan could take fewer round
    /// trips than their sum.
    pub critical_path: Vec<CriticalStep>,
    /// By service: what pacing did (throttles seen, the lowest limit).
    pub pacing: BTreeMap<String, ServicePacing>,
}

impl ApplyReport {
    pub fn ok(&self) -> bool {
        self.failed.is_empty() && !self.interrupted && self.skipped.is_empty()
    }
}

pub struct Executor {
    pub kinds: Kinds,
    pub events: EventSink,
    pub parallelism: usize,
    pub cancel: CancellationToken,
    /// Used when the spec gives no timeout.
    pub default_timeout: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Step {
    index: usize,
    action: StepAction,
}

struct Shared {
    kinds: Kinds,
    events: EventSink,
    cancel: CancellationToken,
    writer: StateWriter,
    lineage: String,
    stack: String,
    region: String,
    known: Mutex<Known>,
    /// Each step's generation (see [`generations`]).
    generations: BTreeMap<StepKey, u64>,
    /// Addresses whose create an earlier run started and never recorded the
    /// result of.
    interrupted_creates: BTreeSet<String>,
    /// The steps whose call this run sent (or was about to send).
    sent: Mutex<BTreeSet<StepKey>>,
    /// What this run creates or changes: a step depending on one of them
    /// may find AWS has not caught up with it yet.
    changing: BTreeSet<String>,
    default_timeout: Duration,
}

impl Executor {
    /// Applies `plan` exactly. `state` is the state the plan was made
    /// against; the writer persists every change to it.
    pub async fn apply(&self, plan: &Plan, state: &State, writer: StateWriter) -> ApplyReport {
        let mut report = ApplyReport::default();

        // First, what the plan learned by reading: adopted ids, fresh
        // attributes, forgotten entries. One write.
        let mut known =
            Known { attributes: BTreeMap::new(), keys: plan.for_each_keys.clone(), secrets: BTreeMap::new() };
        let refresh: Vec<(String, String, Observed)> = plan
            .resources
            .iter()
            .filter_map(|r| r.prior.as_ref().map(|p| (r.address.clone(), r.type_name.clone(), p.observed())))
            .collect();
        for (address, _, o) in &refresh {
            known.attributes.insert(address.clone(), o.attributes.clone());
        }
        let forget = plan.forget.clone();
        let generations = generations(plan, state);
        let Upfront { intents, undo } = upfront_intents(plan, state, &generations);
        let noops: BTreeSet<String> =
            plan.resources.iter().filter(|r| r.action == Action::NoOp).map(|r| r.address.clone()).collect();
        let deps: BTreeMap<String, Vec<String>> =
            plan.resources.iter().map(|r| (r.address.clone(), r.dependencies.clone())).collect();
        // Deposed objects the plan did not find are gone: forgotten.
        let live_deposed: BTreeMap<String, BTreeSet<String>> = plan
            .resources
            .iter()
            .map(|r| (r.address.clone(), r.deposed.iter().map(|d| d.id.clone()).collect()))
            .collect();
        if let Err(e) = writer
            .commit(move |s: &mut State| {
                for a in &forget {
                    s.resources.remove(a);
                }
                for (address, ids) in &live_deposed {
                    if let Some(e) = s.resources.get_mut(address) {
                        e.deposed.retain(|d| ids.contains(&d.id));
                    }
                }
                for (address, type_name, o) in refresh {
                    let e = s.resources.entry(address.clone()).or_insert_with(|| ResourceState::new(&type_name));
                    e.id = Some(o.id);
                    e.attributes = o.attributes;
                    if noops.contains(&address) {
                        e.pending = None;
                        e.dependencies = deps.get(&address).cloned().unwrap_or_default();
                        // Unchanged: the live tags are the ones applied.
                        e.tags = o.tags;
                    }
                }
                // The intents of every step whose intent does not wait on
                // another step: durable before any call is sent.
                for (address, intent) in intents {
                    intent.apply(s, &address);
                }
            })
            .await
        {
            report.failed.push(EngineError::PlanMismatch(format!("recording state before apply: {e}")));
            return report;
        }

        let shared = Arc::new(Shared {
            kinds: self.kinds.clone(),
            events: self.events.clone(),
            cancel: self.cancel.clone(),
            writer: writer.clone(),
            lineage: state.lineage.clone(),
            // The instance: what ownership tags and generated names carry.
            stack: plan.instance(),
            region: plan.region.clone(),
            known: Mutex::new(known),
            generations,
            interrupted_creates: state
                .resources
                .iter()
                .filter(|(_, r)| r.id.is_none() && r.pending.as_ref().is_some_and(|p| p.op == PendingOp::Create))
                .map(|(a, _)| a.clone())
                .collect(),
            default_timeout: self.default_timeout,
            sent: Mutex::new(BTreeSet::new()),
            changing: plan
                .resources
                .iter()
                .filter(|r| matches!(r.action, Action::Create | Action::Update | Action::Replace))
                .map(|r| r.address.clone())
                .collect(),
        });

        let (graph, nodes) = step_graph(plan);
        if let Err(cycle) = petgraph::algo::toposort(&graph, None) {
            let step = graph[cycle.node_id()];
            let r = &plan.resources[step.index];
            report.failed.push(EngineError::PlanMismatch(format!(
                "the plan's steps form a cycle through {} {}; nothing was applied\n  hint: this is a deployctl bug; please report it with the plan (deployctl diff -o plan.json)",
                step.action.verb_ing(),
                display(&r.type_name, &r.address)
            )));
            return report;
        }
        let mut indeg: HashMap<NodeIndex, usize> =
            graph.node_indices().map(|n| (n, graph.neighbors_directed(n, petgraph::Incoming).count())).collect();
        let mut ready: VecDeque<NodeIndex> = graph.node_indices().filter(|n| indeg[n] == 0).collect();
        let mut done: BTreeSet<NodeIndex> = BTreeSet::new();
        let mut blocked: BTreeMap<NodeIndex, String> = BTreeMap::new();
        let mut running = FuturesUnordered::new();
        let mut step_calls: HashMap<NodeIndex, Arc<StepCounters>> = HashMap::new();
        let pacer = Pacer::new(self.parallelism);

        loop {
            while running.len() < self.parallelism.max(1) {
                if self.cancel.is_cancelled() {
                    report.interrupted = true;
                    break;
                }
                // The first ready step whose service is below its limit.
                let type_of = |n: &NodeIndex| &plan.resources[graph[*n].index].type_name;
                let Some(at) = ready.iter().position(|n| pacer.service(type_of(n)).try_acquire()) else { break };
                let Some(n) = ready.remove(at) else { break };
                let step = graph[n];
                let rp = plan.resources[step.index].clone();
                let shared = shared.clone();
                let scope = StepScope {
                    counters: step_calls.entry(n).or_default().clone(),
                    limit: pacer.service(&rp.type_name),
                };
                running.push(async move {
                    let result = tokio::spawn(in_step(scope, run_step(shared, rp, step.action))).await;
                    (n, result)
                });
            }
            let Some((n, result)) = running.next().await else { break };
            done.insert(n);
            let step = graph[n];
            let rp = &plan.resources[step.index];
            pacer.service(&rp.type_name).release(matches!(result, Ok(Ok(()))));
            let outcome = result.unwrap_or_else(|join| {
                Err(EngineError::PlanMismatch(format!(
                    "{} {}: the step stopped unexpectedly: {join}",
                    step.action.verb_ing(),
                    display(&rp.type_name, &rp.address)
                )))
            });
            match outcome {
                Ok(()) => {
                    report.completed.push((rp.address.clone(), step.action));
                    for m in graph.neighbors_directed(n, petgraph::Outgoing) {
                        if let Some(d) = indeg.get_mut(&m) {
                            *d -= 1;
                            if *d == 0 && !blocked.contains_key(&m) {
                                ready.push_back(m);
                            }
                        }
                    }
                }
                Err(e) => {
                    report.failed.push(e);
                    let because = display(&rp.type_name, &rp.address);
                    let mut stack = vec![n];
                    while let Some(x) = stack.pop() {
                        for m in graph.neighbors_directed(x, petgraph::Outgoing) {
                            if blocked.insert(m, because.clone()).is_none() {
                                stack.push(m);
                            }
                        }
                    }
                }
            }
        }
        if self.cancel.is_cancelled() {
            report.interrupted = true;
        }
        for n in graph.node_indices() {
            if done.contains(&n) {
                continue;
            }
            let step = graph[n];
            let rp = &plan.resources[step.index];
            self.events.send(Event::StepSkipped {
                address: display(&rp.type_name, &rp.address),
                action: step.action,
                failed: blocked.get(&n).cloned(),
            });
            report.skipped.push((rp.address.clone(), step.action));
        }
        let _ = nodes;
        report.critical_path = critical_path(&graph, plan, &step_calls);
        report.pacing = pacer.report();

        // Outputs, from what is now known.
        let known = shared.known.lock().unwrap_or_else(|p| p.into_inner()).clone();
        for (name, e) in &plan.outputs {
            if let Some(v) = known.eval_recorded(e, &shared.lineage) {
                report.outputs.insert(name.clone(), v);
            }
        }
        let outputs = report.outputs.clone();
        let complete = report.failed.is_empty() && !report.interrupted;
        let destroy = plan.mode == crate::plan::Mode::Destroy;
        // A targeted run knows only its part of the stack: it updates the
        // outputs it could compute and drops those that read a resource it
        // deleted; the rest stay as recorded.
        let targeted = !plan.targets.is_empty();
        let deleted: BTreeSet<&str> =
            report.completed.iter().filter(|(_, act)| *act == StepAction::Delete).map(|(a, _)| a.as_str()).collect();
        let stale: Vec<String> = plan
            .outputs
            .iter()
            .filter(|(name, _)| !outputs.contains_key(*name))
            .filter(|(_, e)| {
                let mut refs = Vec::new();
                e.collect_refs(&mut refs);
                refs.iter().any(|r| {
                    let keys = plan.for_each_keys.get(&r.resource).cloned().unwrap_or_default();
                    r.addresses(&keys).iter().any(|a| deleted.contains(a.as_str()))
                })
            })
            .map(|(name, _)| name.clone())
            .collect();
        // The intents of steps that never sent their call are taken back:
        // the next run has nothing of theirs to look for.
        let sent = shared.sent.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let undo: Vec<(String, Undo)> = undo
            .into_iter()
            .filter(|((a, act), _)| !sent.contains(&(a.clone(), *act)))
            .map(|((a, _), u)| (a, u))
            .collect();
        if let Err(e) = writer
            .commit(move |s: &mut State| {
                for (address, u) in undo {
                    u.apply(s, &address);
                }
                if targeted {
                    s.outputs.retain(|name, _| !stale.contains(name));
                    s.outputs.extend(outputs);
                } else if destroy && complete {
                    s.outputs.clear();
                } else {
                    s.outputs = outputs;
                }
            })
            .await
        {
            report.failed.push(EngineError::PlanMismatch(format!("recording state after apply: {e}")));
        }
        report
    }
}

/// The chain of steps with the most round trips in all: each node weighs
/// the round trips its step made.
fn critical_path(
    graph: &DiGraph<Step, ()>,
    plan: &Plan,
    counters: &HashMap<NodeIndex, Arc<StepCounters>>,
) -> Vec<CriticalStep> {
    let Ok(order) = petgraph::algo::toposort(graph, None) else { return Vec::new() };
    let load = |n: NodeIndex, f: fn(&StepCounters) -> &AtomicU64| {
        counters.get(&n).map(|c| f(c).load(Ordering::Relaxed)).unwrap_or(0)
    };
    let weight = |n: NodeIndex| load(n, |c| &c.round_trips);
    let mut best: HashMap<NodeIndex, (u64, Option<NodeIndex>)> = HashMap::new();
    for &n in &order {
        let before = graph
            .neighbors_directed(n, petgraph::Incoming)
            .map(|p| (best[&p].0, Some(p)))
            .max_by_key(|(w, _)| *w)
            .unwrap_or((0, None));
        best.insert(n, (before.0 + weight(n), before.1));
    }
    let mut at = best.iter().max_by_key(|(n, (w, _))| (*w, std::cmp::Reverse(n.index()))).map(|(n, _)| *n);
    let mut chain = Vec::new();
    while let Some(n) = at {
        let step = graph[n];
        let r = &plan.resources[step.index];
        chain.push(CriticalStep {
            display: display(&r.type_name, &r.address),
            action: step.action,
            calls: load(n, |c| &c.calls),
            round_trips: weight(n),
        });
        at = best[&n].1;
    }
    chain.reverse();
    chain
}

/// Builds the step graph: a create/update after what it depends on; a
/// delete before what it depended on; a replacement's halves in its order
/// (a deposed object's delete after its address's create or update); and
/// an old object deleted only once whatever used it has let go: deleted
/// itself, or (when the replacement exists already) updated.
fn step_graph(plan: &Plan) -> (DiGraph<Step, ()>, BTreeMap<(String, StepAction), NodeIndex>) {
    let mut g = DiGraph::new();
    let mut nodes: BTreeMap<(String, StepAction), NodeIndex> = BTreeMap::new();
    for (index, r) in plan.resources.iter().enumerate() {
        for &action in &steps_of(r) {
            nodes.insert((r.address.clone(), action), g.add_node(Step { index, action }));
        }
    }
    let by_address: BTreeMap<&str, &ResourcePlan> = plan.resources.iter().map(|r| (r.address.as_str(), r)).collect();
    let find = |a: &str, act: StepAction| nodes.get(&(a.to_string(), act)).copied();
    let mut edges = Vec::new();
    for r in &plan.resources {
        let me_c = find(&r.address, StepAction::Create).or_else(|| find(&r.address, StepAction::Update));
        let me_d = find(&r.address, StepAction::Delete);
        if let (Some(d), Some(c)) = (me_d, me_c) {
            edges.push(if deletes_after_create(r) { (c, d) } else { (d, c) });
        }
        for dep in r.dependencies.iter().chain(&r.previous_dependencies) {
            let dep_c = find(dep, StepAction::Create).or_else(|| find(dep, StepAction::Update));
            let current = r.dependencies.contains(dep);
            if let (Some(a), Some(b), true) = (dep_c, me_c, current) {
                edges.push((a, b));
            }
            let Some(dd) = find(dep, StepAction::Delete) else { continue };
            // What depended on `dep`'s old object goes before it is
            // deleted: this resource's own old object's delete, and its
            // update (which may be what lets go of it) where that can come
            // first: when the old object outlives its replacement, or
            // there is no replacement to wait for.
            if let Some(d) = me_d {
                edges.push((d, dd));
            }
            let dep_after = by_address.get(dep.as_str()).is_some_and(|p| deletes_after_create(p));
            if let Some(c) = me_c.filter(|_| dep_after || (me_d.is_none() && dep_c.is_none())) {
                edges.push((c, dd));
            }
        }
    }
    for (a, b) in edges {
        if a != b && g.find_edge(a, b).is_none() {
            g.add_edge(a, b, ());
        }
    }
    (g, nodes)
}

/// Whether `rp`'s delete step removes its current object (a delete, or a
/// replacement that deletes first), rather than only old ones (deposed, or
/// replaced by a create that came first).
fn deletes_current(rp: &ResourcePlan) -> bool {
    rp.action == Action::Delete || (rp.action == Action::Replace && !rp.creates_first())
}

/// Whether `rp`'s delete step comes after its create or update.
fn deletes_after_create(rp: &ResourcePlan) -> bool {
    !deletes_current(rp) && rp.action != Action::Delete
}

/// A step's intent: the pending operation it records before its call.
struct Intent {
    type_name: String,
    /// For a create: the resource has no id until the call returns one, a
    /// new generation, and the dependencies it is created with.
    fresh: Option<(u64, Vec<String>)>,
    /// For a create before destroy: the object it replaces, kept as
    /// deposed until its delete.
    depose: Option<Deposed>,
    pending: Pending,
}

impl Intent {
    fn of(rp: &ResourcePlan, action: StepAction, generation: u64, token: String) -> Intent {
        let op = match action {
            StepAction::Create => PendingOp::Create,
            // A resumed create stays a pending create until it is seen through.
            StepAction::Update if rp.resume => PendingOp::Create,
            StepAction::Update => PendingOp::Update,
            StepAction::Delete => PendingOp::Delete,
        };
        Intent {
            type_name: rp.type_name.clone(),
            fresh: (action == StepAction::Create).then(|| (generation, rp.dependencies.clone())),
            depose: None,
            pending: Pending { op, started_at: None, token: Some(token) },
        }
    }

    fn apply(self, s: &mut State, address: &str) {
        let e = s.resources.entry(address.to_string()).or_insert_with(|| ResourceState::new(&self.type_name));
        if let Some(d) = self.depose {
            if !e.deposed.iter().any(|x| x.id == d.id) {
                e.deposed.push(d);
            }
        }
        if let Some((generation, deps)) = self.fresh {
            e.id = None;
            e.generation = generation;
            e.dependencies = deps;
        }
        e.pending = Some(self.pending);
    }
}

/// How to take back an intent whose call was never sent.
enum Undo {
    /// A create's: the entry as it was (none, or one whose resource is gone).
    Entry(Option<Box<ResourceState>>),
    /// An update's or a delete's: the pending operation as it was.
    Pending(Option<Pending>),
}

impl Undo {
    fn apply(self, s: &mut State, address: &str) {
        match self {
            Undo::Entry(Some(e)) => {
                s.resources.insert(address.to_string(), *e);
            }
            Undo::Entry(None) => {
                s.resources.remove(address);
            }
            Undo::Pending(p) => {
                if let Some(e) = s.resources.get_mut(address) {
                    e.pending = p;
                }
            }
        }
    }
}

type StepKey = (String, StepAction);

/// The intents to write before apply, by address, and how to take each back.
struct Upfront {
    intents: Vec<(String, Intent)>,
    undo: Vec<(StepKey, Undo)>,
}

/// The steps of a resource's plan: a replacement is a delete and a create,
/// in its order; deposed objects add a delete.
fn steps_of(rp: &ResourcePlan) -> Vec<StepAction> {
    let mut steps = match rp.action {
        Action::NoOp => vec![],
        Action::Create => vec![StepAction::Create],
        Action::Update => vec![StepAction::Update],
        Action::Replace if rp.creates_first() => vec![StepAction::Create, StepAction::Delete],
        Action::Replace => vec![StepAction::Delete, StepAction::Create],
        Action::Delete => vec![StepAction::Delete],
    };
    if !rp.deposed.is_empty() && !steps.contains(&StepAction::Delete) {
        steps.push(StepAction::Delete);
    }
    steps
}

/// Each step's generation, which seeds its idempotency token: the one in
/// state, one more for a create of something that had an id (a
/// replacement, or a re-create of what is gone: deleted outside
/// deployctl, or failed). A create that never got an id keeps its
/// generation, so a retried call is deduplicated by AWS. A resource state
/// has no entry for starts at the state's serial: one destroyed and made
/// again at the same address gets a new token (AWS would otherwise answer
/// the new create with the deleted resource).
fn generations(plan: &Plan, state: &State) -> BTreeMap<StepKey, u64> {
    let mut out = BTreeMap::new();
    for rp in &plan.resources {
        let before = state.resources.get(&rp.address);
        let (previous, had_id) = before.map(|r| (r.generation, r.id.is_some())).unwrap_or((state.serial, false));
        for action in steps_of(rp) {
            out.insert((rp.address.clone(), action), previous + u64::from(action == StepAction::Create && had_id));
        }
    }
    out
}

/// The intents written before apply (all but the create of a replacement
/// that deletes first, which waits for its delete), and how to take each
/// back. A delete of old objects only (deposed, or replaced by a create
/// that came first) needs none: state records them as deposed.
fn upfront_intents(plan: &Plan, state: &State, generations: &BTreeMap<StepKey, u64>) -> Upfront {
    let mut intents = Vec::new();
    let mut undo = Vec::new();
    for rp in &plan.resources {
        let before = state.resources.get(&rp.address);
        for action in steps_of(rp) {
            let waits = rp.action == Action::Replace && !rp.creates_first() && action == StepAction::Create;
            if waits || (action == StepAction::Delete && !deletes_current(rp)) {
                continue;
            }
            let key = (rp.address.clone(), action);
            let token = client_token(&state.lineage, &rp.address, generations[&key]);
            let mut intent = Intent::of(rp, action, generations[&key], token);
            if rp.action == Action::Replace && action == StepAction::Create {
                intent.depose = before.and_then(|b| {
                    Some(Deposed {
                        id: b.id.clone()?,
                        properties: b.properties.clone(),
                        dependencies: b.dependencies.clone(),
                    })
                });
            }
            intents.push((rp.address.clone(), intent));
            let u = match action {
                StepAction::Create => Undo::Entry(before.cloned().map(Box::new)),
                _ => Undo::Pending(before.and_then(|r| r.pending.clone())),
            };
            undo.push((key, u));
        }
    }
    Upfront { intents, undo }
}

fn timeout_for(shared: &Shared, rp: &ResourcePlan, action: StepAction) -> Duration {
    let t = rp.timeouts.unwrap_or_default();
    let secs = match action {
        StepAction::Create => t.create_secs,
        StepAction::Update => t.update_secs,
        StepAction::Delete => t.delete_secs,
    };
    secs.map(Duration::from_secs).unwrap_or(shared.default_timeout)
}

fn now() -> String {
    time::OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
}

async fn run_step(shared: Arc<Shared>, rp: ResourcePlan, action: StepAction) -> Result<(), EngineError> {
    let disp = display(&rp.type_name, &rp.address);
    let started = Instant::now();
    shared.events.send(Event::StepStarted { address: disp.clone(), action });
    let result = step_body(&shared, &rp, action, &disp).await;
    match &result {
        Ok(id) => shared.events.send(Event::StepFinished {
            address: disp.clone(),
            action,
            id: id.clone(),
            elapsed: started.elapsed(),
        }),
        Err(e) => shared.events.send(Event::StepFailed { address: disp.clone(), action, error: e.to_string() }),
    }
    result.map(|_| ())
}

async fn step_body(
    shared: &Arc<Shared>,
    rp: &ResourcePlan,
    action: StepAction,
    disp: &str,
) -> Result<Option<String>, EngineError> {
    let kind = shared
        .kinds
        .get(&rp.type_name)
        .ok_or_else(|| EngineError::UnknownKind { type_name: rp.type_name.clone(), address: rp.address.clone() })?
        .clone();
    let schema = kind.schema();
    let state_err = |e: String| EngineError::Resolve {
        display: disp.to_string(),
        action,
        message: format!("could not record state: {e}"),
    };
    let generation = shared.generations.get(&(rp.address.clone(), action)).copied().unwrap_or_default();
    let address = rp.address.clone();
    let writer = shared.writer.clone();
    let on_id: Arc<dyn Fn(String) + Send + Sync> = {
        let address = address.clone();
        Arc::new(move |id: String| {
            let address = address.clone();
            writer.record(move |s: &mut State| {
                if let Some(e) = s.resources.get_mut(&address) {
                    e.id = Some(id);
                }
            })
        })
    };

    // Resolve what to send (secrets in plaintext, for the call only) and
    // what to record (secrets as fingerprints).
    let (desired, recorded, tags) = if action == StepAction::Delete {
        (Props::new(), Props::new(), BTreeMap::new())
    } else {
        // Secrets Manager secrets are read now, after whatever this step
        // depends on (a secret of the same stack) is in place.
        let missing = shared
            .known
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .secrets_to_read(rp.desired.values(), &BTreeSet::new());
        if !missing.is_empty() {
            let read = read_secrets(missing, shared.kinds.secret_store()).await;
            shared.known.lock().unwrap_or_else(|p| p.into_inner()).secrets.extend(read);
        }
        let known = shared.known.lock().unwrap_or_else(|p| p.into_inner());
        let mut desired = Props::new();
        let mut recorded = Props::new();
        for (name, e) in &rp.desired {
            let (plain, rec) = known.eval_for_apply(e, &shared.lineage).map_err(|m| EngineError::Resolve {
                display: disp.to_string(),
                action,
                message: format!("property {name}: {m}"),
            })?;
            desired.insert(name.clone(), plain);
            recorded.insert(name.clone(), rec);
        }
        let mut tags = BTreeMap::new();
        for (k, e) in &rp.tags {
            let (v, _) = known.eval_for_apply(e, &shared.lineage).map_err(|m| EngineError::Resolve {
                display: disp.to_string(),
                action,
                message: format!("tag {k}: {m}"),
            })?;
            tags.insert(k.clone(), v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string()));
        }
        (desired, recorded, tags)
    };

    let ctx = OpCtx {
        stack: shared.stack.clone(),
        region: shared.region.clone(),
        display: disp.to_string(),
        address: rp.address.clone(),
        action,
        tags,
        client_token: client_token(&shared.lineage, &rp.address, generation),
        interrupted_create: action == StepAction::Create && shared.interrupted_creates.contains(&rp.address),
        beside: action == StepAction::Create && (rp.creates_first() || !rp.deposed.is_empty()),
        generation,
        replaces: rp
            .deposed
            .iter()
            .chain(rp.prior.iter().filter(|_| rp.action == Action::Replace))
            .map(|p| p.id.clone())
            .collect(),
        recent_dependencies: rp.dependencies.iter().any(|d| shared.changing.contains(d)),
        recorded: Arc::default(),
        timeout: timeout_for(shared, rp, action),
        events: shared.events.clone(),
        cancel: shared.cancel.clone(),
        on_id,
    };

    // The intent, durable before the call: written before apply began,
    // except a replacement's create, which waits for its delete. Then, not
    // waited for, when the call was sent.
    let sent_at = now();
    if action == StepAction::Create && rp.action == Action::Replace && !rp.creates_first() {
        let mut intent = Intent::of(rp, action, generation, ctx.client_token.clone());
        intent.pending.started_at = Some(sent_at);
        shared.writer.commit(move |s: &mut State| intent.apply(s, &address)).await.map_err(state_err)?;
    } else if action == StepAction::Delete && !deletes_current(rp) {
        // Old objects only: state holds them as deposed, no intent.
        shared.writer.check().map_err(state_err)?;
    } else {
        // The intent may have been written long ago: this run must still
        // hold its lock, and its writes must still succeed.
        shared.writer.check().map_err(state_err)?;
        shared.writer.record(move |s: &mut State| {
            if let Some(p) = s.resources.get_mut(&address).and_then(|e| e.pending.as_mut()) {
                p.started_at = Some(sent_at);
            }
        });
    }
    shared.sent.lock().unwrap_or_else(|p| p.into_inner()).insert((rp.address.clone(), action));

    let prior = rp.prior.as_ref().map(crate::plan::Prior::observed);
    let step_err = |source| EngineError::Step { display: disp.to_string(), action, source };
    let address = rp.address.clone();
    match action {
        StepAction::Delete => {
            // The old objects: deposed ones, and the one a replacement that
            // came first has replaced (`prior`), or the current one.
            let mut old: Vec<&crate::plan::Prior> = rp.deposed.iter().collect();
            old.extend(rp.prior.iter().filter(|_| rp.action == Action::Replace || rp.action == Action::Delete));
            for p in &old {
                kind.delete(&ctx, &p.observed(), &p.recorded).await.map_err(step_err)?;
            }
            let ids: BTreeSet<String> = old.iter().map(|p| p.id.clone()).collect();
            if deletes_current(rp) {
                shared.known.lock().unwrap_or_else(|p| p.into_inner()).attributes.remove(&address);
                shared.writer.record_result(move |s: &mut State| {
                    s.resources.remove(&address);
                });
            } else {
                shared.writer.record_result(move |s: &mut State| {
                    if let Some(e) = s.resources.get_mut(&address) {
                        e.deposed.retain(|d| !ids.contains(&d.id));
                    }
                });
            }
            Ok(old.last().map(|p| p.id.clone()))
        }
        StepAction::Create | StepAction::Update => {
            let observed = if action == StepAction::Create {
                kind.create(&ctx, &desired).await
            } else {
                let mut current = prior.clone().expect("an update has a prior");
                let changed: Vec<String> = {
                    let mut c: Vec<String> = rp
                        .changes
                        .iter()
                        .map(|c| if c.field.starts_with("tags.") { "tags".to_string() } else { c.field.clone() })
                        .collect();
                    c.dedup();
                    c
                };
                if rp.resume {
                    match kind.resume(&ctx, &current).await {
                        Ok(c) => current = c,
                        // The interrupted create did not end well (a rollout
                        // that failed, say), but the spec changed since: the
                        // update below supersedes it, and waits on its own.
                        Err(e) if !changed.is_empty() => ctx.progress(
                            format!("the interrupted create did not complete ({e}); applying the changes instead"),
                            Duration::ZERO,
                        ),
                        Err(e) => return Err(step_err(e)),
                    }
                }
                if changed.is_empty() {
                    Ok(current)
                } else {
                    kind.update(&ctx, &current, &desired, &changed).await
                }
            }
            .map_err(step_err)?;
            let mut attributes = observed.attributes.clone();
            attributes.entry("id".to_string()).or_insert_with(|| Value::String(observed.id.clone()));
            shared
                .known
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .attributes
                .insert(address.clone(), attributes.clone());
            let id = observed.id.clone();
            let deps = rp.dependencies.clone();
            let type_name = rp.type_name.clone();
            let tags = if schema.taggable { ctx.tags.clone() } else { BTreeMap::new() };
            shared.writer.record_result(move |s: &mut State| {
                let e = s.resources.entry(address.clone()).or_insert_with(|| ResourceState::new(&type_name));
                e.id = Some(id);
                e.properties = recorded;
                e.attributes = attributes;
                e.tags = tags;
                e.dependencies = deps;
                e.pending = None;
            });
            Ok(Some(observed.id))
        }
    }
}

impl From<WaitError> for crate::kind::ProviderError {
    fn from(e: WaitError) -> Self {
        match e {
            WaitError::Provider(p) => p,
            WaitError::Timeout { .. } => crate::kind::ProviderError::new(Some("Timeout".into()), e.to_string())
                .with_hint("raise the resource's timeouts (timeouts: {create: 20m}) or check its status in the AWS console; the next run resumes the wait"),
            WaitError::Interrupted { .. } => crate::kind::ProviderError::new(Some("Interrupted".into()), e.to_string())
                .with_hint("the next run resumes the wait; nothing will be created twice"),
        }
    }
}
