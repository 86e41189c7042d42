//! The planner and the executor against an in-memory resource kind and an
//! in-memory state backend: ordering, concurrency, failure, state writes,
//! adoption, replacement, drift and cancellation.
//!
//! `Mem` is a resource kind for the engine's own tests, not a fake of AWS:
//! its world is a map from id to [`Observed`], and it logs every mutating
//! call with its start and end so ordering can be asserted.

use async_trait::async_trait;
use deployctl_engine::kind::{TAG_RESOURCE, TAG_STACK};
use deployctl_engine::{
    plan, Action, ApplyReport, Change, Event, EventSink, Executor, Kinds, Mode, Observed, OpCtx, Plan, Planned, Props,
    ProviderError, ReadCtx, ResourceKind, StateWriter, StepAction, Written,
};
use deployctl_spec::{load_str, Attr, KindSchema, Prop, ReplaceOrder, Stack, Type, VarOverrides};
use deployctl_state::{Backend, Lock, LockInfo, Pending, PendingOp, ResourceState, State, StateError, Versioned};
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

// ---------------------------------------------------------------------------
// The test kind
// ---------------------------------------------------------------------------

static SCHEMA: KindSchema = KindSchema {
    type_name: "test.kind",
    doc: "An in-memory resource for engine tests.",
    properties: &[
        Prop::new("name", Type::String, "Cannot change in place.").replace(),
        Prop::new("size", Type::Int, "Changes in place."),
        Prop::new("parent", Type::String, "Another resource's id, usually."),
        Prop::new("items", Type::List(&Type::String), "A list, for values known in part."),
        Prop::new("handle", Type::String, "Unique, as AWS names are; generated when unset; cannot change in place.")
            .replace()
            .unique()
            .generated(),
    ],
    attributes: &[Attr { name: "id", doc: "The id." }],
    taggable: true,
    rules: &[],
    example: "",
};

static REGISTRY: [&KindSchema; 1] = [&SCHEMA];

/// One mutating call the kind received.
#[derive(Debug, Clone)]
struct Call {
    address: String,
    action: StepAction,
    start: Instant,
    end: Instant,
}

type Hook = Arc<dyn Fn(&str, StepAction) + Send + Sync>;

#[derive(Default)]
struct Mem {
    /// The live resources, by id.
    world: Mutex<BTreeMap<String, Observed>>,
    next_id: AtomicUsize,
    /// Addresses whose every mutating call fails with this error.
    fail: Mutex<BTreeMap<String, ProviderError>>,
    /// How long each mutating call takes.
    delay: Mutex<Duration>,
    log: Mutex<Vec<Call>>,
    running: AtomicUsize,
    max_running: AtomicUsize,
    /// Called at the start of every mutating call.
    hook: Mutex<Option<Hook>>,
    /// What each read was told it may leave unset: by id, of every property.
    unset_seen: Mutex<BTreeMap<String, Vec<&'static str>>>,
}

impl Mem {
    fn set_delay(&self, d: Duration) {
        *self.delay.lock().unwrap() = d;
    }
    fn fail(&self, address: &str, e: ProviderError) {
        self.fail.lock().unwrap().insert(address.to_string(), e);
    }
    fn on_call(&self, f: impl Fn(&str, StepAction) + Send + Sync + 'static) {
        *self.hook.lock().unwrap() = Some(Arc::new(f));
    }
    fn log(&self) -> Vec<Call> {
        self.log.lock().unwrap().clone()
    }
    fn clear_log(&self) {
        self.log.lock().unwrap().clear();
    }
    /// The one logged call for `address` and `action`.
    #[track_caller]
    fn call(&self, address: &str, action: StepAction) -> Call {
        let found: Vec<Call> = self.log().into_iter().filter(|c| c.address == address && c.action == action).collect();
        assert_eq!(found.len(), 1, "{action:?} calls for {address}: {:?}", self.log());
        found.into_iter().next().unwrap()
    }
    fn world(&self) -> BTreeMap<String, Observed> {
        self.world.lock().unwrap().clone()
    }
    /// The live resource tagged with `address`.
    fn live(&self, address: &str) -> Option<Observed> {
        self.world().into_values().find(|o| o.tags.get(TAG_RESOURCE).map(String::as_str) == Some(address))
    }

    /// Runs one mutating call: logs it, counts concurrency, waits the delay,
    /// then fails or applies `f` to the world.
    async fn mutate<T>(
        &self,
        ctx: &OpCtx,
        f: impl FnOnce(&mut BTreeMap<String, Observed>) -> Result<T, ProviderError>,
    ) -> Result<T, ProviderError> {
        let start = Instant::now();
        let now = self.running.fetch_add(1, SeqCst) + 1;
        self.max_running.fetch_max(now, SeqCst);
        let hook = self.hook.lock().unwrap().clone();
        if let Some(h) = hook {
            h(&ctx.address, ctx.action);
        }
        let delay = *self.delay.lock().unwrap();
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        let failure = self.fail.lock().unwrap().get(&ctx.address).cloned();
        let result = match failure {
            Some(e) => Err(e),
            None => f(&mut self.world.lock().unwrap()),
        };
        self.running.fetch_sub(1, SeqCst);
        self.log.lock().unwrap().push(Call {
            address: ctx.address.clone(),
            action: ctx.action,
            start,
            end: Instant::now(),
        });
        result
    }
}

fn set_props(desired: &Props) -> Props {
    desired.iter().filter(|(_, v)| !v.is_null()).map(|(k, v)| (k.clone(), v.clone())).collect()
}

#[async_trait]
impl ResourceKind for Mem {
    fn schema(&self) -> &'static KindSchema {
        &SCHEMA
    }

    /// Size 13 stands for deletion protection.
    fn refuses_delete(&self, live: &Observed) -> Option<String> {
        (live.properties.get("size") == Some(&serde_json::json!(13))).then(|| "size 13 is protected".to_string())
    }

    /// Size 7 stands for a change the service holds for later.
    fn notes(&self, live: &Observed, _desired: &deployctl_engine::kind::Wanted, changed: &[&str]) -> Vec<String> {
        let held = live.properties.get("size") == Some(&serde_json::json!(7));
        held.then(|| format!("size 7 is held; changing {changed:?}")).into_iter().collect()
    }

    /// A parent named `controller` owns the size, as CodeDeploy owns a
    /// blue/green listener's target group.
    fn controlled(&self, _live: &Observed, desired: &deployctl_engine::kind::Wanted) -> Vec<(&'static str, String)> {
        let owned = matches!(desired.get("parent"), Some(Some(v)) if v == "controller");
        owned.then(|| ("size", "the controller's to change".to_string())).into_iter().collect()
    }

    async fn read(&self, ctx: &ReadCtx, ids: &[String]) -> Result<Vec<Observed>, ProviderError> {
        let mut seen = self.unset_seen.lock().unwrap();
        for id in ids {
            let props = SCHEMA.properties.iter().map(|p| p.name).filter(|p| ctx.leaves_unset(id, p));
            seen.insert(id.clone(), props.collect());
        }
        let world = self.world.lock().unwrap();
        Ok(ids.iter().filter_map(|id| world.get(id).cloned()).collect())
    }

    async fn find_tagged(&self, ctx: &ReadCtx) -> Result<Vec<(String, Observed)>, ProviderError> {
        let world = self.world.lock().unwrap();
        Ok(world
            .values()
            .filter(|o| o.tags.get(TAG_STACK) == Some(&ctx.stack))
            .filter_map(|o| Some((o.tags.get(TAG_RESOURCE)?.clone(), o.clone())))
            .collect())
    }

    async fn create(&self, ctx: &OpCtx, desired: &Props) -> Result<Observed, ProviderError> {
        let id = format!("mem-{}", self.next_id.fetch_add(1, SeqCst) + 1);
        let observed = Observed {
            id: id.clone(),
            properties: set_props(desired),
            tags: ctx.tags.clone(),
            attributes: [("id".to_string(), json!(id))].into_iter().collect(),
        };
        let o = observed.clone();
        let created = self
            .mutate(ctx, move |world| {
                world.insert(o.id.clone(), o);
                Ok(())
            })
            .await;
        if created.is_ok() {
            ctx.record_id(&id);
        }
        created.map(|()| observed)
    }

    async fn update(
        &self,
        ctx: &OpCtx,
        current: &Observed,
        desired: &Props,
        _changed: &[String],
    ) -> Result<Observed, ProviderError> {
        let (id, props, tags) = (current.id.clone(), set_props(desired), ctx.tags.clone());
        self.mutate(ctx, move |world| {
            let o = world
                .get_mut(&id)
                .ok_or_else(|| ProviderError::new(Some("NotFound".into()), format!("{id} does not exist")))?;
            o.properties = props;
            o.tags = tags;
            Ok(o.clone())
        })
        .await
    }

    async fn delete(&self, ctx: &OpCtx, current: &Observed, _recorded: &Props) -> Result<(), ProviderError> {
        let id = current.id.clone();
        self.mutate(ctx, move |world| {
            world.remove(&id);
            Ok(())
        })
        .await
    }
}

// ---------------------------------------------------------------------------
// The in-memory backend
// ---------------------------------------------------------------------------

#[derive(Default)]
struct MemBackend {
    /// The stored state and its version.
    stored: Mutex<Option<(State, u64)>>,
    writes: AtomicUsize,
    /// How long each write takes.
    write_delay: Mutex<Duration>,
}

impl MemBackend {
    fn state(&self) -> Option<State> {
        self.stored.lock().unwrap().as_ref().map(|(s, _)| s.clone())
    }
    fn put(&self, state: State) {
        *self.stored.lock().unwrap() = Some((state, 1));
    }
}

struct NoLock(LockInfo);

#[async_trait]
impl Lock for NoLock {
    fn info(&self) -> &LockInfo {
        &self.0
    }
    fn is_held(&self) -> bool {
        true
    }
    async fn release(self: Box<Self>) -> Result<(), StateError> {
        Ok(())
    }
}

#[async_trait]
impl Backend for MemBackend {
    fn location(&self) -> String {
        "memory".into()
    }
    async fn lock(&self, info: LockInfo, _timeout: Duration) -> Result<Box<dyn Lock>, StateError> {
        Ok(Box::new(NoLock(info)))
    }
    async fn read(&self) -> Result<Option<Versioned>, StateError> {
        Ok(self
            .stored
            .lock()
            .unwrap()
            .as_ref()
            .map(|(state, v)| Versioned { state: state.clone(), version: v.to_string() }))
    }
    async fn holder(&self) -> Result<Option<LockInfo>, StateError> {
        Ok(None) // NoLock: every run holds it, none excludes another
    }
    async fn write_encoded(&self, state: &State, _text: String, expected: Option<&str>) -> Result<String, StateError> {
        let delay = *self.write_delay.lock().unwrap();
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        let mut stored = self.stored.lock().unwrap();
        let current = stored.as_ref().map(|(_, v)| v.to_string());
        if current.as_deref() != expected {
            return Err(StateError::Conflict {
                expected: expected.unwrap_or("none").into(),
                found: current.unwrap_or_else(|| "none".into()),
            });
        }
        let version = stored.as_ref().map_or(1, |(_, v)| v + 1);
        *stored = Some((state.clone(), version));
        self.writes.fetch_add(1, SeqCst);
        Ok(version.to_string())
    }
    async fn force_unlock(&self, _id: &str) -> Result<(), StateError> {
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------

struct Run {
    report: ApplyReport,
    written: Written,
    events: Vec<Event>,
}

struct Harness {
    kind: Arc<Mem>,
    kinds: Kinds,
    backend: Arc<MemBackend>,
}

impl Harness {
    fn new() -> Harness {
        let kind = Arc::new(Mem::default());
        let kinds = Kinds::new(vec![kind.clone() as Arc<dyn ResourceKind>]);
        Harness { kind, kinds, backend: Arc::new(MemBackend::default()) }
    }

    async fn plan(&self, stack: &Stack, mode: Mode) -> Plan {
        let state = self.backend.state();
        match plan(stack, state.as_ref(), &self.kinds, mode, &EventSink::discard()).await {
            Ok(p) => p,
            Err(e) => panic!("planning failed: {e}"),
        }
    }

    async fn apply(&self, plan: &Plan, parallelism: usize) -> Run {
        self.apply_with(plan, parallelism, CancellationToken::new()).await
    }

    /// Applies `plan` against the backend's current state, as `up` does.
    async fn apply_with(&self, plan: &Plan, parallelism: usize, cancel: CancellationToken) -> Run {
        let (state, version) = match self.backend.read().await.unwrap() {
            Some(v) => (v.state, Some(v.version)),
            None => (State::new(&plan.stack, &plan.region), None),
        };
        let (events, mut rx) = EventSink::new();
        let (writer, handle) = StateWriter::start(self.backend.clone(), None, state.clone(), version, events.clone());
        let executor = Executor {
            kinds: self.kinds.clone(),
            events,
            parallelism,
            cancel,
            default_timeout: Duration::from_secs(60),
        };
        let report = executor.apply(plan, &state, writer).await;
        drop(executor);
        let written = handle.await.expect("the state writer task");
        let mut seen = Vec::new();
        while let Some(e) = rx.recv().await {
            seen.push(e);
        }
        Run { report, written, events: seen }
    }

    /// Plans and applies, asserting the run went through.
    async fn up(&self, stack: &Stack) -> Run {
        let p = self.plan(stack, Mode::Apply).await;
        let run = self.apply(&p, 10).await;
        assert!(run.report.ok(), "{:?}", run.report);
        run
    }
}

fn stack(yaml: &str) -> Stack {
    let text = format!("stack: mem\nregion: local-1\nresources:\n{yaml}");
    match load_str("test.yaml", &text, &VarOverrides::default(), &REGISTRY) {
        Ok(s) => s,
        Err(d) => panic!("invalid test spec:\n{d}\n{text}"),
    }
}

/// `n` independent resources `r0` … `r{n-1}`.
fn independent(n: usize) -> Stack {
    let mut yaml = String::new();
    for i in 0..n {
        yaml.push_str(&format!("  r{i}:\n    type: test.kind\n    properties: {{name: r{i}}}\n"));
    }
    stack(&yaml)
}

/// a → b → c (each references the previous one's id), and d on its own.
const CHAIN: &str = r#"
  a:
    type: test.kind
    properties: {name: a}
  b:
    type: test.kind
    properties: {name: b, parent: "${a.id}"}
  c:
    type: test.kind
    properties: {name: c, parent: "${b.id}"}
  d:
    type: test.kind
    properties: {name: d}
"#;

fn rp<'a>(plan: &'a Plan, address: &str) -> &'a deployctl_engine::ResourcePlan {
    plan.resources.iter().find(|r| r.address == address).unwrap_or_else(|| panic!("{address} not in {plan:#?}"))
}

fn actions(plan: &Plan) -> BTreeMap<String, Action> {
    plan.resources.iter().map(|r| (r.address.clone(), r.action)).collect()
}

#[track_caller]
fn before(first: &Call, then: &Call) {
    assert!(
        first.end <= then.start,
        "{} {:?} should end before {} {:?} starts: {first:?} / {then:?}",
        first.address,
        first.action,
        then.address,
        then.action
    );
}

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------

#[tokio::test]
async fn creates_run_after_their_dependencies_and_deletes_before_them() {
    let h = Harness::new();
    h.kind.set_delay(Duration::from_millis(30));
    let s = stack(CHAIN);

    let p = h.plan(&s, Mode::Apply).await;
    assert!(p.resources.iter().all(|r| r.action == Action::Create), "{p:#?}");
    assert_eq!(rp(&p, "c").dependencies, vec!["b".to_string()]);
    let run = h.apply(&p, 4).await;
    assert!(run.report.ok(), "{:?}", run.report);

    let (a, b, c, d) = (
        h.kind.call("a", StepAction::Create),
        h.kind.call("b", StepAction::Create),
        h.kind.call("c", StepAction::Create),
        h.kind.call("d", StepAction::Create),
    );
    before(&a, &b);
    before(&b, &c);
    // d depends on nothing: it runs alongside a, not after the chain.
    assert!(d.start < a.end, "d should run concurrently with a: {d:?} / {a:?}");
    // References resolved to the ids just created.
    let live_a = h.kind.live("a").unwrap();
    let live_b = h.kind.live("b").unwrap();
    assert_eq!(live_b.properties["parent"], json!(live_a.id));
    assert_eq!(h.kind.live("c").unwrap().properties["parent"], json!(live_b.id));

    // Destroy: the deletes run in reverse.
    let p = h.plan(&s, Mode::Destroy).await;
    assert_eq!(
        actions(&p),
        [("a", Action::Delete), ("b", Action::Delete), ("c", Action::Delete), ("d", Action::Delete)]
            .into_iter()
            .map(|(a, x)| (a.to_string(), x))
            .collect()
    );
    let run = h.apply(&p, 4).await;
    assert!(run.report.ok(), "{:?}", run.report);
    let (a, b, c) = (
        h.kind.call("a", StepAction::Delete),
        h.kind.call("b", StepAction::Delete),
        h.kind.call("c", StepAction::Delete),
    );
    before(&c, &b);
    before(&b, &a);
    assert!(h.kind.world().is_empty(), "{:?}", h.kind.world());
    assert!(run.written.state.resources.is_empty(), "{:?}", run.written.state.resources);
}

#[tokio::test]
async fn independent_steps_run_concurrently_bounded_by_parallelism() {
    let h = Harness::new();
    let delay = Duration::from_millis(100);
    h.kind.set_delay(delay);
    let p = h.plan(&independent(10), Mode::Apply).await;

    let started = Instant::now();
    let run = h.apply(&p, 3).await;
    let elapsed = started.elapsed();
    assert!(run.report.ok(), "{:?}", run.report);
    assert_eq!(run.report.completed.len(), 10);

    assert_eq!(h.kind.max_running.load(SeqCst), 3, "at most 3 at once, and 3 were");
    // 10 steps, 3 at a time: 4 rounds. Sequential would be 10.
    assert!(elapsed >= delay * 4, "{elapsed:?}");
    assert!(elapsed < delay * 10, "slower than sequential: {elapsed:?}");
}

#[tokio::test]
async fn a_failed_step_skips_its_dependents_and_finishes_independent_ones() {
    let h = Harness::new();
    h.kind.set_delay(Duration::from_millis(10));
    h.kind.fail("b", ProviderError::new(Some("InjectedFailure".into()), "no capacity for b"));
    let p = h.plan(&stack(CHAIN), Mode::Apply).await;
    let run = h.apply(&p, 4).await;
    let report = &run.report;

    assert!(!report.ok());
    assert!(!report.interrupted);
    assert_eq!(report.failed.len(), 1, "{report:?}");
    let err = &report.failed[0];
    let text = err.to_string();
    assert!(text.contains("creating test.kind.b"), "{text}");
    assert!(text.contains("InjectedFailure"), "{text}");
    assert_eq!(err.code(), Some("InjectedFailure"));

    let mut completed = report.completed.clone();
    completed.sort();
    assert_eq!(completed, vec![("a".to_string(), StepAction::Create), ("d".to_string(), StepAction::Create)]);
    assert_eq!(report.skipped, vec![("c".to_string(), StepAction::Create)]);
    assert!(
        run.events.contains(&Event::StepSkipped {
            address: "test.kind.c".into(),
            action: StepAction::Create,
            failed: Some("test.kind.b".into()),
        }),
        "{:?}",
        run.events
    );
    assert!(run.events.iter().any(|e| matches!(e, Event::StepFailed { address, .. } if address == "test.kind.b")));

    // c never reached the kind; d and a did.
    assert!(h.kind.log().iter().all(|c| c.address != "c"), "{:?}", h.kind.log());
    assert!(h.kind.live("c").is_none());
    assert!(h.kind.live("d").is_some());

    // State: a and d recorded, b's create recorded as started, c absent.
    let state = h.backend.state().unwrap();
    assert_eq!(state, run.written.state);
    for done in ["a", "d"] {
        let r = &state.resources[done];
        assert_eq!(r.id.as_deref(), Some(h.kind.live(done).unwrap().id.as_str()));
        assert_eq!(r.pending, None);
    }
    let b = &state.resources["b"];
    assert_eq!(b.id, None);
    assert_eq!(b.pending.as_ref().map(|p| p.op), Some(PendingOp::Create));
    assert!(!state.resources.contains_key("c"), "{:?}", state.resources);
}

#[tokio::test]
async fn parallel_completions_coalesce_state_writes() {
    let h = Harness::new();
    *h.backend.write_delay.lock().unwrap() = Duration::from_millis(50);
    let p = h.plan(&independent(20), Mode::Apply).await;
    let run = h.apply(&p, 20).await;
    assert!(run.report.ok(), "{:?}", run.report);

    // Uncoalesced: one write before apply, one per intent and one per
    // result (2 × 20), one for outputs. Now: the intents with the state
    // before apply, a checkpoint each time the unwritten results reach half
    // the resources (10 of 20), and the outputs with the last results.
    let writes = h.backend.writes.load(SeqCst);
    assert_eq!(writes, run.written.writes);
    assert!(writes <= 4, "{writes} writes for 20 parallel creates");
    let mutations: usize =
        run.events.iter().map(|e| if let Event::StateWritten { mutations, .. } = e { *mutations } else { 0 }).sum();
    assert!(mutations >= 40, "every intent and result is carried by some write: {mutations}");

    let state = h.backend.state().unwrap();
    assert_eq!(state.serial, writes as u64);
    assert_eq!(state.resources.len(), 20);
    for (address, r) in &state.resources {
        assert!(r.id.is_some(), "{address}: {r:?}");
        assert_eq!(r.pending, None, "{address}");
    }
}

#[tokio::test]
async fn pending_intent_is_persisted_before_the_mutating_call() {
    let h = Harness::new();
    // (address, action, the pending intent stored when the call ran)
    type Seen = Vec<(String, StepAction, Option<Pending>)>;
    let seen: Arc<Mutex<Seen>> = Arc::default();
    {
        let (backend, seen) = (h.backend.clone(), seen.clone());
        h.kind.on_call(move |address, action| {
            let pending = backend.state().and_then(|s| s.resources.get(address).and_then(|r| r.pending.clone()));
            seen.lock().unwrap().push((address.to_string(), action, pending));
        });
    }
    let s = stack(CHAIN);
    h.up(&s).await;
    let seen_up = std::mem::take(&mut *seen.lock().unwrap());
    assert_eq!(seen_up.len(), 4, "{seen_up:?}");
    for (address, action, pending) in &seen_up {
        assert_eq!(*action, StepAction::Create);
        let pending = pending.as_ref().unwrap_or_else(|| panic!("{address}: no pending intent when the call ran"));
        assert_eq!(pending.op, PendingOp::Create, "{address}");
        assert!(pending.token.is_some(), "{address}: the client token is recorded with the intent");
    }

    // The same for deletes.
    let p = h.plan(&s, Mode::Destroy).await;
    assert!(h.apply(&p, 4).await.report.ok());
    let seen_destroy = seen.lock().unwrap().clone();
    assert_eq!(seen_destroy.len(), 4, "{seen_destroy:?}");
    for (address, _, pending) in &seen_destroy {
        assert_eq!(pending.as_ref().map(|p| p.op), Some(PendingOp::Delete), "{address}");
    }
}

#[tokio::test]
async fn an_interrupted_create_is_adopted_by_tag_not_repeated() {
    let h = Harness::new();
    let s = stack(
        r#"
  a:
    type: test.kind
    properties: {name: a}
  b:
    type: test.kind
    properties: {name: b, size: 2}
"#,
    );
    // A previous run started both creates, the calls went through, and the
    // run died before recording the ids.
    let mut state = State::new("mem", "local-1");
    for address in ["a", "b"] {
        let mut r = ResourceState::new("test.kind");
        r.pending =
            Some(Pending { op: PendingOp::Create, started_at: Some("2024-01-01T00:00:00Z".into()), token: None });
        state.resources.insert(address.into(), r);
    }
    h.backend.put(state);
    for (address, id, props) in
        [("a", "mem-orphan-a", json!({"name": "a"})), ("b", "mem-orphan-b", json!({"name": "b", "size": 1}))]
    {
        let tags: BTreeMap<String, String> =
            [(TAG_STACK.to_string(), "mem".to_string()), (TAG_RESOURCE.to_string(), address.to_string())].into();
        h.kind.world.lock().unwrap().insert(
            id.into(),
            Observed {
                id: id.into(),
                properties: props.as_object().unwrap().clone(),
                tags,
                attributes: [("id".to_string(), json!(id))].into_iter().collect(),
            },
        );
    }

    // Both are adopted, and both are updates that resume the create: a
    // with nothing to change, b with its size to converge. Neither is a
    // create.
    let p = h.plan(&s, Mode::Apply).await;
    let a = rp(&p, "a");
    assert_eq!(a.action, Action::Update, "{a:#?}");
    assert!(a.resume);
    assert_eq!(a.id.as_deref(), Some("mem-orphan-a"));
    assert!(a.reasons.iter().any(|r| r.contains("adopted mem-orphan-a")), "{:?}", a.reasons);
    assert_eq!(a.changes, vec![]);
    let b = rp(&p, "b");
    assert_eq!(b.action, Action::Update, "{b:#?}");
    assert!(b.resume);
    assert!(b.reasons.iter().any(|r| r.contains("adopted mem-orphan-b")), "{:?}", b.reasons);
    assert_eq!(
        b.changes,
        vec![Change {
            field: "size".into(),
            before: Some(Planned::Value(json!(1))),
            after: Some(Planned::Value(json!(2))),
            forces_replacement: false,
            drift: false,
            applied: None,
        }]
    );

    let run = h.apply(&p, 4).await;
    assert!(run.report.ok(), "{:?}", run.report);
    assert!(h.kind.log().iter().all(|c| c.action != StepAction::Create), "no create call: {:?}", h.kind.log());
    // Only b had something to change.
    assert_eq!(h.kind.log().len(), 1, "{:?}", h.kind.log());
    assert_eq!(h.kind.call("b", StepAction::Update).address, "b");
    assert_eq!(h.kind.world()["mem-orphan-b"].properties["size"], json!(2));
    assert_eq!(h.kind.world().len(), 2, "nothing created twice: {:?}", h.kind.world());
    let state = h.backend.state().unwrap();
    assert_eq!(state.resources["a"].id.as_deref(), Some("mem-orphan-a"));
    assert_eq!(state.resources["b"].id.as_deref(), Some("mem-orphan-b"));
    assert!(state.resources.values().all(|r| r.pending.is_none()), "{:?}", state.resources);

    // And the next plan is clean.
    let p = h.plan(&s, Mode::Apply).await;
    assert!(!p.has_changes(), "{p:#?}");
}

#[tokio::test]
async fn a_replacement_that_keeps_a_unique_name_deletes_then_creates_and_bumps_generation() {
    let h = Harness::new();
    h.kind.set_delay(Duration::from_millis(10));
    h.up(&stack("  a:\n    type: test.kind\n    properties: {name: x, size: 1, handle: h}\n")).await;
    h.kind.clear_log();
    let old = h.kind.live("a").unwrap();
    let old_state = h.backend.state().unwrap().resources["a"].clone();
    assert_eq!(old_state.generation, 0);

    let s = stack("  a:\n    type: test.kind\n    properties: {name: y, size: 1, handle: h}\n");
    let p = h.plan(&s, Mode::Apply).await;
    let a = rp(&p, "a");
    assert_eq!(a.action, Action::Replace);
    assert_eq!(a.forced_by, vec!["name".to_string()]);
    assert_eq!(
        a.changes,
        vec![Change {
            field: "name".into(),
            before: Some(Planned::Value(json!("x"))),
            after: Some(Planned::Value(json!("y"))),
            forces_replacement: true,
            drift: false,
            applied: None,
        }]
    );
    let order = a.replacement.as_ref().expect("a replacement says its order");
    assert_eq!(order.order, ReplaceOrder::DeleteBeforeCreate);
    assert_eq!(order.why, "its handle 'h' must be unique and the replacement keeps it");

    let run = h.apply(&p, 4).await;
    assert!(run.report.ok(), "{:?}", run.report);
    before(&h.kind.call("a", StepAction::Delete), &h.kind.call("a", StepAction::Create));
    let new = h.kind.live("a").unwrap();
    assert_ne!(new.id, old.id);
    assert!(!h.kind.world().contains_key(&old.id), "the old resource is gone");
    assert_eq!(new.properties["name"], json!("y"));

    let rec = &h.backend.state().unwrap().resources["a"];
    assert_eq!(rec.generation, 1);
    assert_eq!(rec.id.as_deref(), Some(new.id.as_str()));
    assert_eq!(rec.pending, None);
    assert!(!h.plan(&s, Mode::Apply).await.has_changes());
}

/// a → b (b references a's id), and c, new, referencing a too.
fn replaced_with_dependents(name: &str, lifecycle: &str) -> Stack {
    stack(&format!(
        "  a:\n    type: test.kind\n    properties: {{name: {name}}}\n{lifecycle}  b:\n    type: test.kind\n    properties: {{name: b, parent: \"${{a.id}}\"}}\n  c:\n    type: test.kind\n    properties: {{name: c, parent: \"${{a.id}}\"}}\n"
    ))
}

/// Where the new object can exist beside the old one, it is created first,
/// what uses the old one is repointed, and only then is the old one
/// deleted: nothing is ever without it (a listener without its target
/// group), and AWS never refuses the delete for a dependent still there.
#[tokio::test]
async fn a_replacement_that_can_exist_beside_the_old_creates_first_repoints_dependents_then_deletes() {
    let h = Harness::new();
    h.kind.set_delay(Duration::from_millis(10));
    let first = stack("  a:\n    type: test.kind\n    properties: {name: x}\n  b:\n    type: test.kind\n    properties: {name: b, parent: \"${a.id}\"}\n");
    h.up(&first).await;
    h.kind.clear_log();
    let old_a = h.kind.live("a").unwrap().id;

    let s = replaced_with_dependents("y", "");
    let p = h.plan(&s, Mode::Apply).await;
    let a = rp(&p, "a");
    assert_eq!(a.action, Action::Replace);
    assert_eq!(a.symbol(), "+/-");
    assert_eq!(a.replacement.as_ref().unwrap().order, ReplaceOrder::CreateBeforeDestroy);
    // The JSON plan records the order.
    let json: serde_json::Value = serde_json::from_str(&p.to_json()).unwrap();
    let a_json = json["resources"].as_array().unwrap().iter().find(|r| r["address"] == "a").unwrap();
    assert_eq!(a_json["replacement"]["order"], json!("create_before_destroy"));
    let b = rp(&p, "b");
    assert_eq!(b.action, Action::Update, "{b:#?}");
    assert_eq!(b.changes[0].after, Some(Planned::KnownAfterApply));

    let run = h.apply(&p, 4).await;
    assert!(run.report.ok(), "{:?}\nlog: {:?}", run.report, h.kind.log());
    let create_a = h.kind.call("a", StepAction::Create);
    let delete_a = h.kind.call("a", StepAction::Delete);
    let update_b = h.kind.call("b", StepAction::Update);
    before(&create_a, &update_b);
    before(&create_a, &h.kind.call("c", StepAction::Create));
    before(&update_b, &delete_a);
    // The recorded order of the run: create, repoint, delete.
    let finished: Vec<(String, StepAction)> = run
        .events
        .iter()
        .filter_map(|e| match e {
            Event::StepFinished { address, action, .. } if address.ends_with(".a") || address.ends_with(".b") => {
                Some((address.clone(), *action))
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        finished,
        vec![
            ("test.kind.a".to_string(), StepAction::Create),
            ("test.kind.b".to_string(), StepAction::Update),
            ("test.kind.a".to_string(), StepAction::Delete),
        ]
    );
    let new_a = h.kind.live("a").unwrap().id;
    assert!(!h.kind.world().contains_key(&old_a), "the old object is deleted");
    assert_eq!(h.kind.live("b").unwrap().properties["parent"], json!(new_a));
    assert_eq!(h.kind.live("c").unwrap().properties["parent"], json!(new_a));
    let state = h.backend.state().unwrap();
    assert!(state.resources["a"].deposed.is_empty(), "{:?}", state.resources["a"]);
    assert_eq!(state.resources["a"].generation, 1);
    assert!(!h.plan(&s, Mode::Apply).await.has_changes());
}

/// Guards the middle of a create-before-destroy: a run that ends after
/// the new object exists and before the old one is deleted (killed before
/// it recorded the new id) leaves both; the next run adopts the new one
/// by its tags, never the old one (which carries the same tags), repoints
/// what still uses the old one, and deletes it: one object, no orphan.
#[tokio::test]
async fn a_create_before_destroy_interrupted_before_the_delete_is_finished_by_the_next_run() {
    let h = Harness::new();
    h.up(&stack("  a:\n    type: test.kind\n    properties: {name: x}\n  b:\n    type: test.kind\n    properties: {name: b, parent: \"${a.id}\"}\n  c:\n    type: test.kind\n    properties: {name: c, parent: \"${a.id}\"}\n")).await;
    let old_a = h.kind.live("a").unwrap().id;
    let s = replaced_with_dependents("y", "");
    let p = h.plan(&s, Mode::Apply).await;
    // The run is cut off the moment a's new object exists.
    let cancel = CancellationToken::new();
    let c2 = cancel.clone();
    h.kind.on_call(move |address, action| {
        if address == "a" && action == StepAction::Create {
            c2.cancel();
        }
    });
    let run = h.apply_with(&p, 1, cancel).await;
    assert!(run.report.interrupted, "{:?}", run.report);
    h.kind.on_call(|_, _| {});
    assert_eq!(h.kind.world().values().filter(|o| o.tags[TAG_RESOURCE] == "a").count(), 2, "old and new");
    // As if killed before the result was written: the new id is lost.
    let mut state = h.backend.state().unwrap();
    let a = state.resources.get_mut("a").unwrap();
    assert_eq!(a.deposed.iter().map(|d| d.id.clone()).collect::<Vec<_>>(), vec![old_a.clone()]);
    a.id = None;
    a.pending = Some(Pending { op: PendingOp::Create, started_at: Some("2024-01-01T00:00:00Z".into()), token: None });
    h.backend.put(state);

    let p = h.plan(&s, Mode::Apply).await;
    let a = rp(&p, "a");
    assert_ne!(a.id.as_deref(), Some(old_a.as_str()), "the old object is never adopted: {a:#?}");
    assert_eq!(a.deposed.iter().map(|d| d.id.clone()).collect::<Vec<_>>(), vec![old_a.clone()]);
    assert!(p.has_changes());
    assert!(p.summary().delete >= 1, "{:?}", p.summary());
    h.kind.clear_log();
    let run = h.apply(&p, 4).await;
    assert!(run.report.ok(), "{:?}", run.report);
    assert!(h.kind.log().iter().all(|c| c.action != StepAction::Create || c.address != "a"), "{:?}", h.kind.log());
    before(&h.kind.call("b", StepAction::Update), &h.kind.call("a", StepAction::Delete));
    let left: Vec<Observed> = h.kind.world().into_values().filter(|o| o.tags[TAG_RESOURCE] == "a").collect();
    assert_eq!(left.len(), 1, "one a, no orphan: {left:?}");
    assert!(!h.kind.world().contains_key(&old_a));
    assert!(h.backend.state().unwrap().resources["a"].deposed.is_empty());
    assert!(!h.plan(&s, Mode::Apply).await.has_changes());
}

#[tokio::test]
async fn lifecycle_create_before_destroy_that_cannot_hold_is_refused_before_any_call() {
    let h = Harness::new();
    let with = |name: &str| {
        stack(&format!(
            "  a:\n    type: test.kind\n    properties: {{name: {name}, handle: h}}\n    lifecycle: {{replace: create_before_destroy}}\n"
        ))
    };
    h.up(&with("x")).await;
    h.kind.clear_log();
    let state = h.backend.state();
    let err = plan(&with("y"), state.as_ref(), &h.kinds, Mode::Apply, &EventSink::discard()).await.unwrap_err();
    let text = err.to_string();
    assert!(text.contains("test.kind.a must be replaced"), "{text}");
    assert!(text.contains("its handle 'h' must be unique and the replacement keeps it"), "{text}");
    assert!(text.contains("hint: "), "{text}");
    assert!(h.kind.log().is_empty());
    assert_eq!(h.backend.state(), state);
}

/// A delete-first replacement's dependents are replaced delete-first too:
/// their old objects use the old one, which goes first.
#[tokio::test]
async fn what_depends_on_a_delete_first_replacement_is_replaced_delete_first() {
    let h = Harness::new();
    let s = |handle: &str| {
        stack(&format!(
            "  a:\n    type: test.kind\n    properties: {{name: a, handle: {handle}}}\n  b:\n    type: test.kind\n    properties: {{name: \"b-${{a.id}}\"}}\n"
        ))
    };
    h.up(&s("h1")).await;
    // Forced: handle changes, but lifecycle says delete first.
    let forced = stack("  a:\n    type: test.kind\n    properties: {name: a, handle: h2}\n    lifecycle: {replace: delete_before_create}\n  b:\n    type: test.kind\n    properties: {name: \"b-${a.id}\"}\n");
    let p = h.plan(&forced, Mode::Apply).await;
    assert_eq!(rp(&p, "a").replacement.as_ref().unwrap().why, "lifecycle.replace is delete_before_create");
    let b = rp(&p, "b");
    assert_eq!(b.action, Action::Replace);
    assert_eq!(b.replacement.as_ref().unwrap().order, ReplaceOrder::DeleteBeforeCreate);
    assert_eq!(b.replacement.as_ref().unwrap().why, "its dependency a is replaced delete-first");
    h.kind.clear_log();
    let run = h.apply(&p, 4).await;
    assert!(run.report.ok(), "{:?}", run.report);
    before(&h.kind.call("b", StepAction::Delete), &h.kind.call("a", StepAction::Delete));
    before(&h.kind.call("a", StepAction::Create), &h.kind.call("b", StepAction::Create));
    assert!(!h.plan(&forced, Mode::Apply).await.has_changes());
    // Unforced, a new handle lets a be created first, and b with it (its
    // handle is generated): b's old object goes before a's.
    let p = h.plan(&s("h3"), Mode::Apply).await;
    assert_eq!(rp(&p, "a").replacement.as_ref().unwrap().order, ReplaceOrder::CreateBeforeDestroy);
    assert_eq!(rp(&p, "b").replacement.as_ref().unwrap().order, ReplaceOrder::CreateBeforeDestroy);
    h.kind.clear_log();
    let run = h.apply(&p, 4).await;
    assert!(run.report.ok(), "{:?}", run.report);
    before(&h.kind.call("a", StepAction::Create), &h.kind.call("b", StepAction::Create));
    before(&h.kind.call("b", StepAction::Create), &h.kind.call("b", StepAction::Delete));
    before(&h.kind.call("b", StepAction::Delete), &h.kind.call("a", StepAction::Delete));
    assert_eq!(h.kind.world().len(), 2, "{:?}", h.kind.world());
    assert!(!h.plan(&s("h3"), Mode::Apply).await.has_changes());
}

/// A list with one reference to a resource not created yet is known in
/// part: only that leaf is "known after apply".
#[tokio::test]
async fn a_value_known_in_part_marks_only_its_unknown_leaves() {
    let h = Harness::new();
    let s = stack("  a:\n    type: test.kind\n    properties: {name: a}\n  b:\n    type: test.kind\n    properties: {name: b, items: [fixed, \"${a.id}\"]}\n");
    let p = h.plan(&s, Mode::Apply).await;
    let items = rp(&p, "b").changes.iter().find(|c| c.field == "items").unwrap().after.clone();
    assert_eq!(items, Some(Planned::Partial(json!(["fixed", deployctl_engine::resolve::unknown_leaf()]))));
    h.up(&s).await;
    let a = h.kind.live("a").unwrap().id;
    assert_eq!(h.kind.live("b").unwrap().properties["items"], json!(["fixed", a]));
}

#[tokio::test]
async fn drift_a_resource_deleted_outside_deployctl_is_planned_as_a_create() {
    let h = Harness::new();
    let s = stack("  a:\n    type: test.kind\n    properties: {name: a, size: 1}\n");
    h.up(&s).await;
    let gone = h.kind.live("a").unwrap().id;
    h.kind.world.lock().unwrap().remove(&gone);

    let p = h.plan(&s, Mode::Apply).await;
    let a = rp(&p, "a");
    assert_eq!(a.action, Action::Create, "{a:#?}");
    assert_eq!(a.id, None);
    assert_eq!(a.reasons, vec![format!("{gone} was deleted outside deployctl")]);

    let generation_before = h.backend.state().unwrap().resources["a"].generation;
    let run = h.apply(&p, 4).await;
    assert!(run.report.ok(), "{:?}", run.report);
    let again = h.kind.live("a").unwrap();
    assert_ne!(again.id, gone);
    let recorded = &h.backend.state().unwrap().resources["a"];
    assert_eq!(recorded.id.as_deref(), Some(again.id.as_str()));
    // A new generation, so a new idempotency token: AWS must not answer the
    // re-create with the deleted resource's id.
    assert_eq!(recorded.generation, generation_before + 1);
}

#[tokio::test]
async fn drift_an_in_place_field_changed_outside_deployctl_is_planned_as_an_update() {
    let h = Harness::new();
    let s = stack("  a:\n    type: test.kind\n    properties: {name: a, size: 1}\n");
    h.up(&s).await;
    let id = h.kind.live("a").unwrap().id;
    {
        let mut world = h.kind.world.lock().unwrap();
        let live = world.get_mut(&id).unwrap();
        live.properties.insert("size".into(), json!(5));
        live.tags.insert("owner".into(), "bob".into());
    }

    // Both are drift: the live values are not what was applied.
    let p = h.plan(&s, Mode::Apply).await;
    let a = rp(&p, "a");
    assert_eq!(a.action, Action::Update, "{a:#?}");
    assert_eq!(a.id.as_deref(), Some(id.as_str()));
    assert_eq!(
        a.changes,
        vec![
            Change {
                field: "size".into(),
                before: Some(Planned::Value(json!(5))),
                after: Some(Planned::Value(json!(1))),
                forces_replacement: false,
                drift: true,
                applied: Some(Planned::Value(json!(1))),
            },
            Change {
                field: "tags.owner".into(),
                before: Some(Planned::Value(json!("bob"))),
                after: None,
                forces_replacement: false,
                drift: true,
                applied: None,
            }
        ]
    );
    // A change of the spec is configuration, not drift.
    let spec_moved = stack("  a:\n    type: test.kind\n    properties: {name: a, size: 2}\n");
    let moved = h.plan(&spec_moved, Mode::Apply).await;
    let size = rp(&moved, "a").changes.iter().find(|c| c.field == "size").unwrap().clone();
    assert!(size.drift, "still drifted from 1: {size:?}");
    h.kind.world.lock().unwrap().get_mut(&id).unwrap().properties.insert("size".into(), json!(1));
    let moved = h.plan(&spec_moved, Mode::Apply).await;
    let size = rp(&moved, "a").changes.iter().find(|c| c.field == "size").unwrap().clone();
    assert!(!size.drift && size.applied.is_none(), "the spec moved, AWS did not: {size:?}");

    let run = h.apply(&p, 4).await;
    assert!(run.report.ok(), "{:?}", run.report);
    assert_eq!(h.kind.call("a", StepAction::Update).address, "a");
    assert_eq!(h.kind.world()[&id].properties["size"], json!(1));
    assert!(!h.plan(&s, Mode::Apply).await.has_changes());
}

#[tokio::test]
async fn cancelling_stops_starting_new_steps() {
    let h = Harness::new();
    h.kind.set_delay(Duration::from_millis(20));
    let cancel = CancellationToken::new();
    {
        let cancel = cancel.clone();
        h.kind.on_call(move |_, _| cancel.cancel());
    }
    let p = h.plan(&independent(4), Mode::Apply).await;
    let run = h.apply_with(&p, 1, cancel).await;
    let report = &run.report;

    assert!(report.interrupted, "{report:?}");
    assert!(!report.ok());
    assert!(report.failed.is_empty(), "{report:?}");
    // The step in flight finished; nothing else started.
    assert_eq!(report.completed, vec![("r0".to_string(), StepAction::Create)]);
    assert_eq!(h.kind.log().len(), 1, "{:?}", h.kind.log());
    let mut skipped = report.skipped.clone();
    skipped.sort();
    assert_eq!(skipped, ["r1", "r2", "r3"].map(|a| (a.to_string(), StepAction::Create)).to_vec());
    let skipped_events: Vec<&Event> = run.events.iter().filter(|e| matches!(e, Event::StepSkipped { .. })).collect();
    assert_eq!(skipped_events.len(), 3);
    assert!(skipped_events.iter().all(|e| matches!(e, Event::StepSkipped { failed: None, .. })));

    // What finished is recorded; nothing else is.
    let state = h.backend.state().unwrap();
    assert_eq!(state.resources.keys().collect::<Vec<_>>(), vec!["r0"]);
    assert!(state.resources["r0"].id.is_some());
}

#[tokio::test]
async fn an_update_that_lets_go_of_a_resource_runs_before_that_resource_is_deleted() {
    // b points at a; then the spec drops a and points b elsewhere. b's update
    // must let go of a before a's delete, as a route table lets go of a
    // subnet before the subnet is deleted.
    let h = Harness::new();
    h.kind.set_delay(Duration::from_millis(20));
    h.up(&stack("  a:\n    type: test.kind\n    properties: {name: a}\n  b:\n    type: test.kind\n    properties: {name: b, parent: \"${a.id}\"}\n")).await;
    h.kind.clear_log();
    let s = stack("  b:\n    type: test.kind\n    properties: {name: b, parent: none}\n");
    let p = h.plan(&s, Mode::Apply).await;
    assert_eq!(rp(&p, "b").action, Action::Update, "{p:#?}");
    assert_eq!(rp(&p, "b").previous_dependencies, vec!["a".to_string()]);
    assert_eq!(rp(&p, "a").action, Action::Delete);
    let run = h.apply(&p, 4).await;
    assert!(run.report.ok(), "{:?}", run.report);
    before(&h.kind.call("b", StepAction::Update), &h.kind.call("a", StepAction::Delete));
}

/// Guards the progress of long runs (a NAT gateway or an RDS instance on
/// AWS takes minutes): a result recorded while nothing else is written
/// still reaches state, within the checkpoint interval, and not before.
#[tokio::test]
async fn a_lone_result_is_checkpointed_within_the_interval() {
    let backend = Arc::new(MemBackend::default());
    let (writer, handle) =
        StateWriter::start(backend.clone(), None, State::new("mem", "local-1"), None, EventSink::discard());
    writer.commit(|_| {}).await.unwrap();
    assert_eq!(backend.writes.load(SeqCst), 1);
    let recorded = Instant::now();
    writer.record_result(|s| {
        s.resources.insert("a".into(), ResourceState::new("test.kind"));
    });
    let interval = deployctl_engine::writer::checkpoint_interval(1);
    assert_eq!(interval, Duration::from_secs(5));
    while backend.writes.load(SeqCst) < 2 && recorded.elapsed() < Duration::from_secs(60) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(backend.writes.load(SeqCst), 2, "the result was checkpointed");
    assert!(recorded.elapsed() >= interval, "not before the interval: {:?}", recorded.elapsed());
    assert!(backend.state().unwrap().resources.contains_key("a"));
    drop(writer);
    let written = handle.await.unwrap();
    assert_eq!(written.writes, 2, "nothing left to write at the end");
}

#[test]
fn the_checkpoint_interval_grows_with_the_state_so_bytes_written_stay_linear() {
    use deployctl_engine::writer::checkpoint_interval;
    assert_eq!(checkpoint_interval(15), Duration::from_secs(5));
    assert_eq!(checkpoint_interval(1_000), Duration::from_secs(50));
    assert_eq!(checkpoint_interval(2_000), 2 * checkpoint_interval(1_000));
}

/// Guards a destroy that would stop half way at a resource AWS refuses to
/// delete (an RDS instance with deletion protection): the plan is refused,
/// naming it, before any call, whether it is destroyed, dropped from the
/// spec or replaced.
#[tokio::test]
async fn a_plan_that_deletes_or_replaces_a_protected_resource_is_refused_before_any_call() {
    let h = Harness::new();
    let s = stack("  a:\n    type: test.kind\n    properties: {name: x, size: 13}\n  b:\n    type: test.kind\n    properties: {name: y}\n");
    h.up(&s).await;
    h.kind.clear_log();
    let state = h.backend.state();
    let replaced = stack("  a:\n    type: test.kind\n    properties: {name: z, size: 13}\n  b:\n    type: test.kind\n    properties: {name: y}\n");
    let dropped = stack("  b:\n    type: test.kind\n    properties: {name: y}\n");
    for (spec, mode) in [(&s, Mode::Destroy), (&dropped, Mode::Apply), (&replaced, Mode::Apply)] {
        let err = plan(spec, state.as_ref(), &h.kinds, mode, &EventSink::discard()).await.unwrap_err();
        let text = err.to_string();
        assert!(text.contains("protected from deletion; nothing was changed"), "{text}");
        assert!(text.contains("test.kind.a (") && text.contains("size 13 is protected"), "{text}");
        assert!(!text.contains("test.kind.b"), "{text}");
    }
    assert!(h.kind.log().is_empty());
    assert_eq!(h.backend.state(), state);
    // Unprotected in place first, then destroyed.
    let unprotected = stack("  a:\n    type: test.kind\n    properties: {name: x, size: 1}\n  b:\n    type: test.kind\n    properties: {name: y}\n");
    h.up(&unprotected).await;
    let p = h.plan(&unprotected, Mode::Destroy).await;
    assert_eq!(actions(&p).values().filter(|a| **a == Action::Delete).count(), 2);
}

/// A property another controller owns (CodeDeploy's target group switch)
/// is not drift: the plan leaves it alone and says why, and only when it
/// differs.
#[tokio::test]
async fn a_property_another_controller_owns_is_not_drift_and_the_plan_says_so() {
    let h = Harness::new();
    let s = stack("  a:\n    type: test.kind\n    properties: {name: a, size: 1, parent: controller}\n  b:\n    type: test.kind\n    properties: {name: b, size: 1}\n");
    h.up(&s).await;
    let p = h.plan(&s, Mode::Apply).await;
    assert!(rp(&p, "a").reasons.is_empty(), "nothing to say while it matches");
    for address in ["a", "b"] {
        let id = h.kind.live(address).unwrap().id;
        h.kind.world.lock().unwrap().get_mut(&id).unwrap().properties.insert("size".into(), json!(5));
    }
    let p = h.plan(&s, Mode::Apply).await;
    assert_eq!(rp(&p, "a").action, Action::NoOp);
    assert_eq!(rp(&p, "a").reasons, ["size: the controller's to change"]);
    assert_eq!(rp(&p, "b").action, Action::Update, "the same difference elsewhere is drift");
}

/// `lifecycle: {ignore_changes: [size]}`: a change made outside (a
/// pipeline's deploy) stays, and so does a change of the spec, once the
/// resource exists; the create sends the spec's value.
#[tokio::test]
async fn ignore_changes_leaves_a_property_as_it_is_once_the_resource_exists() {
    let h = Harness::new();
    let ignoring = |size: u32| {
        stack(&format!(
            "  a:\n    type: test.kind\n    properties: {{name: a, size: {size}}}\n    lifecycle: {{ignore_changes: [size]}}\n"
        ))
    };
    h.up(&ignoring(1)).await;
    let id = h.kind.live("a").unwrap().id;
    assert_eq!(h.kind.world.lock().unwrap()[&id].properties["size"], json!(1), "created with the spec's value");
    h.kind.world.lock().unwrap().get_mut(&id).unwrap().properties.insert("size".into(), json!(5));
    for s in [ignoring(1), ignoring(2)] {
        let p = h.plan(&s, Mode::Apply).await;
        assert_eq!(rp(&p, "a").action, Action::NoOp);
        assert_eq!(rp(&p, "a").reasons, ["size: left as it is (lifecycle.ignore_changes)"]);
    }
    let p = h.plan(&stack("  a:\n    type: test.kind\n    properties: {name: a, size: 1}\n"), Mode::Apply).await;
    assert_eq!(rp(&p, "a").action, Action::Update, "without it, the same difference is drift");
}

/// A kind's notes (when a change applies, what is pending) are the plan's
/// reasons, for a resource that changes and for one that does not.
#[tokio::test]
async fn a_kinds_notes_are_the_plans_reasons_even_when_nothing_changes() {
    let h = Harness::new();
    let s = stack("  a:\n    type: test.kind\n    properties: {name: x, size: 7}\n");
    h.up(&s).await;
    let p = h.plan(&s, Mode::Apply).await;
    assert_eq!(rp(&p, "a").action, Action::NoOp);
    assert_eq!(rp(&p, "a").reasons, ["size 7 is held; changing []"]);
    let changed = stack("  a:\n    type: test.kind\n    properties: {name: x, size: 8}\n");
    let p = h.plan(&changed, Mode::Apply).await;
    assert_eq!(rp(&p, "a").action, Action::Update);
    assert_eq!(rp(&p, "a").reasons, ["size 7 is held; changing [\"size\"]"]);
}

/// A read may skip only what nobody compares: for `up`, the properties the
/// spec leaves out (and the schema gives no default); for `destroy`,
/// nothing, since delete gets what the read found.
#[tokio::test]
async fn reads_are_told_to_skip_only_what_the_spec_leaves_unset_and_only_for_up() {
    let h = Harness::new();
    let s = stack("  a:\n    type: test.kind\n    properties: {name: a, size: 1}\n");
    h.up(&s).await;
    let id = h.kind.live("a").unwrap().id;
    h.plan(&s, Mode::Apply).await;
    let unset = |h: &Harness| h.kind.unset_seen.lock().unwrap().get(&id).cloned().unwrap_or_default();
    assert_eq!(unset(&h), ["parent", "items", "handle"], "name and size are the spec's");
    h.plan(&stack("  a:\n    type: test.kind\n    properties: {name: a, size: 1, items: [x]}\n"), Mode::Apply).await;
    assert_eq!(unset(&h), ["parent", "handle"], "a property the spec sets is read");
    h.plan(&s, Mode::Destroy).await;
    assert!(unset(&h).is_empty(), "destroy reads everything: {:?}", unset(&h));
}

/// The reads of one plan (one context and its clones) that ask for the same
/// answer share one call, even when they ask at the same time; a read with
/// another context asks again.
#[tokio::test]
async fn reads_of_one_plan_share_an_answer_and_another_plan_asks_again() {
    let calls = AtomicUsize::new(0);
    let call = || async {
        calls.fetch_add(1, SeqCst);
        tokio::time::sleep(Duration::from_millis(20)).await;
        Ok::<_, ProviderError>(7u32)
    };
    let plan = ReadCtx::new("s", "us-east-1");
    let other_kind = plan.clone();
    let (a, b) = tokio::join!(plan.shared("topic", call), other_kind.shared("topic", call));
    assert_eq!((*a.unwrap(), *b.unwrap()), (7, 7));
    assert_eq!(calls.load(SeqCst), 1, "asked at the same time, sent once");
    let next_plan = ReadCtx::new("s", "us-east-1");
    assert_eq!(*next_plan.shared("topic", call).await.unwrap(), 7);
    assert_eq!(calls.load(SeqCst), 2, "another plan reads afresh");
}
