//! The one trait every resource kind implements, and what the engine hands
//! to it. Kinds live in the aws crate, one module per kind; the engine knows
//! nothing of AWS beyond this trait.

use crate::events::{Event, EventSink, StepAction};
use crate::secrets::SecretStore;
use async_trait::async_trait;
use deployctl_spec::KindSchema;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// Properties or attributes as a JSON object.
pub type Props = Map<String, Value>;

/// A live resource as read from AWS.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Observed {
    pub id: String,
    /// The live values of the kind's properties, in the spec's shape, so that
    /// they compare directly against what the spec asks for.
    pub properties: Props,
    /// The tags on the resource (`aws:` tags left out).
    pub tags: BTreeMap<String, String>,
    /// Attributes other resources can reference (`id`, `arn`, …).
    pub attributes: Props,
}

/// What went wrong in a call to AWS, in AWS's terms.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{}{message}", code.as_ref().map(|c| format!("{c}: ")).unwrap_or_default())]
pub struct ProviderError {
    /// The AWS error code (`InvalidVpcID.NotFound`), when AWS gave one.
    pub code: Option<String>,
    pub message: String,
    /// What the user can do about it.
    pub hint: Option<String>,
}

impl ProviderError {
    pub fn new(code: Option<String>, message: impl Into<String>) -> Self {
        ProviderError { code, message: message.into(), hint: None }
    }
    pub fn msg(message: impl Into<String>) -> Self {
        ProviderError { code: None, message: message.into(), hint: None }
    }
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
    pub fn code_is(&self, code: &str) -> bool {
        self.code.as_deref() == Some(code)
    }
}

/// The context of a read (plan time).
#[derive(Clone)]
pub struct ReadCtx {
    pub stack: String,
    pub region: String,
    /// By id: the properties no one asks about, which a read may skip. The
    /// spec sets none of them, the schema gives them no default, so the
    /// planner compares nothing for them (they are not managed). Filled by
    /// the planner's `up` only; every other read (destroy, import, data, a
    /// resumed step) gets everything.
    unset: Arc<BTreeMap<String, BTreeSet<String>>>,
    /// The answers [`ReadCtx::shared`] keeps, for as long as the context
    /// (a plan's reads share one).
    memo: Arc<std::sync::Mutex<BTreeMap<String, Arc<Shared>>>>,
}

/// One call's answer, shared by the reads that ask for it.
type Shared = tokio::sync::OnceCell<Result<Arc<dyn std::any::Any + Send + Sync>, ProviderError>>;

impl ReadCtx {
    pub fn new(stack: impl Into<String>, region: impl Into<String>) -> ReadCtx {
        ReadCtx { stack: stack.into(), region: region.into(), unset: Arc::default(), memo: Arc::default() }
    }

    /// The answer of `call`, sent once for `key` however many reads with
    /// this context (and its clones: a plan's) ask for it, even at the same
    /// time: for two kinds that read the same AWS object (an SNS topic's
    /// attributes, read by the topic and by its policy). A read with
    /// another context asks again.
    pub async fn shared<T, F, Fut>(&self, key: &str, call: F) -> Result<Arc<T>, ProviderError>
    where
        T: Send + Sync + 'static,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, ProviderError>>,
    {
        let cell = self.memo.lock().unwrap_or_else(|p| p.into_inner()).entry(key.to_string()).or_default().clone();
        let answer = cell
            .get_or_init(|| async { call().await.map(|v| Arc::new(v) as Arc<dyn std::any::Any + Send + Sync>) })
            .await;
        match answer {
            Ok(v) => v
                .clone()
                .downcast::<T>()
                .map_err(|_| ProviderError::msg(format!("{key} was shared as another type (a bug in deployctl)"))),
            Err(e) => Err(e.clone()),
        }
    }

    /// The same reads, told which properties of which ids nobody compares.
    pub fn with_unset(mut self, unset: BTreeMap<String, BTreeSet<String>>) -> ReadCtx {
        self.unset = Arc::new(unset);
        self
    }

    /// Whether the read of `id` may leave `property` out: nothing compares
    /// it. A kind that skips the call reports the property as absent.
    pub fn leaves_unset(&self, id: &str, property: &str) -> bool {
        self.unset.get(id).is_some_and(|props| props.contains(property))
    }
}

/// The context of one mutating step.
#[derive(Clone)]
pub struct OpCtx {
    pub stack: String,
    pub region: String,
    /// `ec2.vpc.vpc`: how messages name the resource.
    pub display: String,
    pub address: String,
    pub action: StepAction,
    /// `deployctl:stack`, `deployctl:resource`, then the stack's and the
    /// resource's own tags. Kinds set them in the create call where the API
    /// allows it.
    pub tags: BTreeMap<String, String>,
    /// Deterministic: derived from the state lineage, the address and the
    /// generation, so a retried create after a crash sends the same token.
    pub client_token: String,
    /// This create repeats one that an earlier run started (state recorded
    /// the intent) but never saw the result of (no id). A resource the kind
    /// then finds by its name, carrying none of deployctl's tags, is most
    /// likely that run's, killed between the create call and the tagging
    /// call: kinds whose API cannot tag in the create call adopt it.
    pub interrupted_create: bool,
    /// This create makes a replacement while the object it replaces still
    /// exists (create before destroy): a name deployctl generates must not
    /// be the old object's. See [`OpCtx::name_seed`].
    pub beside: bool,
    /// The resource's generation (see the state's `generation`).
    pub generation: u64,
    /// The ids of the objects this create replaces, still there: they
    /// carry the same ownership tags, and are never to be taken for what
    /// this create made.
    pub replaces: Vec<String>,
    /// Something this step depends on was created or changed in this run,
    /// moments ago: AWS refusing a call because it does not see that yet
    /// (a NotFound, a role it cannot assume) is eventual consistency, and
    /// the call is retried (the aws crate's `kit::consistency`).
    pub recent_dependencies: bool,
    /// Set once [`OpCtx::record_id`] was called: the create has made
    /// something, so it must not be started over.
    pub(crate) recorded: Arc<std::sync::atomic::AtomicBool>,
    pub timeout: Duration,
    pub(crate) events: EventSink,
    pub(crate) cancel: CancellationToken,
    pub(crate) on_id: Arc<dyn Fn(String) + Send + Sync>,
}

/// What one poll of a wait found.
pub enum Poll<T> {
    Ready(T),
    /// Not there yet; the string is the current status, for progress events.
    Pending(String),
}

/// Why a wait ended without the resource becoming ready.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum WaitError {
    #[error("{0}")]
    Provider(#[from] ProviderError),
    #[error("timed out after {}s waiting for {what} (last status: {last})", elapsed.as_secs())]
    Timeout { what: String, elapsed: Duration, last: String },
    #[error("interrupted while waiting for {what}")]
    Interrupted { what: String },
}

impl OpCtx {
    /// An OpCtx outside any run: for driving a kind directly (tests with
    /// mocked clients, tools). Recorded ids are dropped; events go to the
    /// returned receiver; cancel with the returned token.
    #[allow(clippy::too_many_arguments)]
    pub fn detached(
        stack: &str,
        region: &str,
        address: &str,
        type_name: &str,
        action: StepAction,
        tags: BTreeMap<String, String>,
        client_token: &str,
        timeout: Duration,
    ) -> (OpCtx, CancellationToken, tokio::sync::mpsc::UnboundedReceiver<Event>) {
        let (events, rx) = EventSink::new();
        let cancel = CancellationToken::new();
        let ctx = OpCtx {
            stack: stack.to_string(),
            region: region.to_string(),
            display: format!("{type_name}.{address}"),
            address: address.to_string(),
            action,
            tags,
            client_token: client_token.to_string(),
            interrupted_create: false,
            beside: false,
            generation: 0,
            replaces: Vec::new(),
            recent_dependencies: false,
            recorded: Arc::default(),
            timeout,
            events,
            cancel: cancel.clone(),
            on_id: Arc::new(|_| {}),
        };
        (ctx, cancel, rx)
    }

    /// What a generated name is made from: the address, or for a create
    /// beside the object it replaces, the address and the generation
    /// (`tg-3`), so that the two names differ. The same on a retried run.
    pub fn name_seed(&self) -> String {
        if self.beside {
            format!("{}-{}", self.address, self.generation)
        } else {
            self.address.clone()
        }
    }

    /// Records the id of a resource the moment the create call returned it,
    /// before any wait, so that an interrupted wait resumes on the next run
    /// instead of creating a second resource.
    pub fn record_id(&self, id: &str) {
        self.recorded.store(true, std::sync::atomic::Ordering::SeqCst);
        (self.on_id)(id.to_string())
    }

    /// Whether this step recorded an id: its create made something.
    pub fn id_recorded(&self) -> bool {
        self.recorded.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Emits a progress line ("still creating … 30s").
    pub fn progress(&self, message: impl Into<String>, elapsed: Duration) {
        self.events.send(Event::StepProgress {
            address: self.display.clone(),
            action: self.action,
            message: message.into(),
            elapsed,
        });
    }

    pub fn is_cancelled(&self) -> bool {
        self.cancel.is_cancelled()
    }

    /// The one waiter: polls `check` with backoff (1 s doubling to 10 s, so
    /// AWS is not hammered) until it is ready, the step's timeout passes, or
    /// the run is interrupted, emitting a progress event every poll.
    pub async fn wait_for<T, F, Fut>(&self, what: &str, mut check: F) -> Result<T, WaitError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<Poll<T>, ProviderError>>,
    {
        self.wait_with(what, Duration::from_secs(1), Duration::from_secs(10), &mut check).await
    }

    /// [`OpCtx::wait_for`] with explicit backoff bounds (tests use short ones).
    pub async fn wait_with<T, F, Fut>(
        &self,
        what: &str,
        first: Duration,
        max: Duration,
        check: &mut F,
    ) -> Result<T, WaitError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<Poll<T>, ProviderError>>,
    {
        let start = Instant::now();
        let mut delay = first;
        loop {
            let last = match check().await? {
                Poll::Ready(v) => return Ok(v),
                Poll::Pending(status) => status,
            };
            let elapsed = start.elapsed();
            if elapsed >= self.timeout {
                return Err(WaitError::Timeout { what: what.to_string(), elapsed, last });
            }
            self.progress(format!("{what}: {last}"), elapsed);
            let sleep = delay.min(self.timeout.saturating_sub(elapsed)).max(Duration::from_millis(1));
            tokio::select! {
                _ = tokio::time::sleep(sleep) => {}
                _ = self.cancel.cancelled() => {
                    return Err(WaitError::Interrupted { what: what.to_string() });
                }
            }
            delay = (delay * 2).min(max);
        }
    }
}

/// The one trait every resource kind implements.
///
/// Reads are batched: the engine calls [`ResourceKind::read`] once per kind
/// with every id it tracks, and [`ResourceKind::find_tagged`] once per kind
/// when it needs to adopt. Mutations take an [`OpCtx`]. Implementations must
/// be idempotent in the level-based sense: `delete` of something already gone
/// is success, and `update` converges whatever the live state is.
#[async_trait]
pub trait ResourceKind: Send + Sync {
    fn schema(&self) -> &'static KindSchema;

    /// Whether a replacement with the properties `new` (a value, `None`
    /// when known only after apply; absent when not written) can exist
    /// beside `old`, the live resource it replaces, until its dependents
    /// are repointed: `Err` says why not. The default is
    /// [`coexistence_by_schema`].
    fn coexists(&self, old: &Props, new: &Wanted) -> Result<(), String> {
        coexistence_by_schema(self.schema(), old, new)
    }

    /// What the plan should say about a resource that stays (an update,
    /// or nothing to do) beyond its changes: when a change takes effect
    /// (a database's at its maintenance window), what AWS has pending.
    /// `changed` names the fields the plan changes. Shown as the plan's
    /// reasons; the default says nothing.
    fn notes(&self, live: &Observed, desired: &Wanted, changed: &[&str]) -> Vec<String> {
        let _ = (live, desired, changed);
        Vec::new()
    }

    /// Why AWS would refuse to delete `live` as it is (deletion protection
    /// on): the planner then refuses a plan that deletes or replaces it,
    /// before anything changes, instead of a destroy that stops half way.
    fn refuses_delete(&self, live: &Observed) -> Option<String> {
        let _ = live;
        None
    }

    /// The properties whose live value another controller owns (a
    /// CodeDeploy blue/green deployment switches a listener's target group
    /// and a service's task set), each with why: a difference there is not
    /// drift, and the plan leaves it alone and says so. The default: none.
    fn controlled(&self, live: &Observed, desired: &Wanted) -> Vec<(&'static str, String)> {
        let _ = (live, desired);
        Vec::new()
    }

    /// Reads the given ids in as few calls as the API allows. Ids that no
    /// longer exist are simply absent from the result.
    async fn read(&self, ctx: &ReadCtx, ids: &[String]) -> Result<Vec<Observed>, ProviderError>;

    /// Every resource of this kind tagged `deployctl:stack = ctx.stack`,
    /// paired with its `deployctl:resource` tag. This is how a create that
    /// was interrupted before its result was recorded is adopted, never
    /// repeated. Kinds that cannot be tagged find by natural key instead.
    async fn find_tagged(&self, ctx: &ReadCtx) -> Result<Vec<(String, Observed)>, ProviderError>;

    /// Finds resources this stack created but has not recorded: the planner
    /// passes every address it needs to resolve, with what is known of its
    /// properties (literal values). The default asks [`find_tagged`]; kinds
    /// whose API cannot filter by tag look each candidate up by its natural
    /// key (a role name, a log group name) and adopt it only if it carries
    /// this stack's `deployctl:stack` tag.
    ///
    /// [`find_tagged`]: ResourceKind::find_tagged
    async fn find_existing(
        &self,
        ctx: &ReadCtx,
        wanted: &[(String, Props)],
    ) -> Result<Vec<(String, Observed)>, ProviderError> {
        let _ = wanted;
        self.find_tagged(ctx).await
    }

    /// Creates the resource, converging every property, tags set in the
    /// create call where the API allows it. Calls [`OpCtx::record_id`] as
    /// soon as the id is known.
    async fn create(&self, ctx: &OpCtx, desired: &Props) -> Result<Observed, ProviderError>;

    /// Brings the live resource to `desired`. `changed` names the properties
    /// (and `tags`) that differ.
    async fn update(
        &self,
        ctx: &OpCtx,
        current: &Observed,
        desired: &Props,
        changed: &[String],
    ) -> Result<Observed, ProviderError>;

    /// Deletes the resource. Already gone is success. `recorded` holds the
    /// properties state recorded at the last apply (secrets as
    /// fingerprints; empty for a resource adopted by tag and never applied):
    /// how to delete (`force_destroy`, a recovery window) is read from
    /// there, never from AWS tags.
    async fn delete(&self, ctx: &OpCtx, current: &Observed, recorded: &Props) -> Result<(), ProviderError>;

    /// Finishes a create that an earlier run started but did not see through
    /// (it was killed or interrupted while waiting): waits for the resource
    /// to become ready, as `create` would have. The default has nothing to
    /// wait for.
    async fn resume(&self, _ctx: &OpCtx, current: &Observed) -> Result<Observed, ProviderError> {
        Ok(current.clone())
    }
}

/// What the spec asks of each property it writes: `Some` value, or `None`
/// when it is known only after apply.
pub type Wanted = BTreeMap<String, Option<Value>>;

/// Two objects of a kind can exist side by side unless a property AWS
/// requires to be unique would be the same in both: written and unchanged
/// (or not known until apply), or left to a default name that is the same
/// for both. A property marked `generated` gets a new name for a
/// replacement made beside the old object ([`OpCtx::name_seed`]).
pub fn coexistence_by_schema(schema: &KindSchema, old: &Props, new: &Wanted) -> Result<(), String> {
    for p in schema.properties.iter().filter(|p| p.unique) {
        match new.get(p.name) {
            Some(Some(v)) if old.get(p.name) == Some(v) => {
                return Err(format!("its {} {} must be unique and the replacement keeps it", p.name, shown(v)));
            }
            Some(Some(_)) => {}
            Some(None) => {
                return Err(format!("its {} must be unique and is known only after apply", p.name));
            }
            None if p.generated => {}
            None => {
                return Err(format!("its {} must be unique and the replacement would get the same default", p.name));
            }
        }
    }
    Ok(())
}

fn shown(v: &Value) -> String {
    match v {
        Value::String(s) => format!("'{s}'"),
        other => other.to_string(),
    }
}

/// The kinds a run can use, by type name.
#[derive(Clone, Default)]
pub struct Kinds {
    kinds: BTreeMap<&'static str, Arc<dyn ResourceKind>>,
    /// Where `secretsmanager:` secrets are read; `None` in runs that have
    /// no AWS (a spec naming one then fails to plan, saying so).
    secret_store: Option<Arc<dyn SecretStore>>,
}

impl Kinds {
    pub fn new(list: Vec<Arc<dyn ResourceKind>>) -> Kinds {
        Kinds { kinds: list.into_iter().map(|k| (k.schema().type_name, k)).collect(), secret_store: None }
    }
    pub fn with_secret_store(mut self, store: Arc<dyn SecretStore>) -> Kinds {
        self.secret_store = Some(store);
        self
    }
    pub fn secret_store(&self) -> Option<&dyn SecretStore> {
        self.secret_store.as_deref()
    }
    pub fn get(&self, type_name: &str) -> Option<&Arc<dyn ResourceKind>> {
        self.kinds.get(type_name)
    }

    /// Every kind's type name, sorted.
    pub fn type_names(&self) -> Vec<&'static str> {
        let mut names: Vec<&'static str> = self.kinds.values().map(|k| k.schema().type_name).collect();
        names.sort_unstable();
        names
    }
}

/// `deployctl:stack` and `deployctl:resource`.
pub const TAG_STACK: &str = "deployctl:stack";
pub const TAG_RESOURCE: &str = "deployctl:resource";

/// Fields of [`Observed::properties`] are compared to what the spec asks
/// for; this is the value used for "not set".
pub fn is_unset(v: Option<&Value>) -> bool {
    matches!(v, None | Some(Value::Null))
}
