//! Persisting state during a run, in few writes.
//!
//! Two kinds of change reach the writer:
//! - a **commit** (an intent, the state before apply, the outputs): it is
//!   written before [`StateWriter::commit`] returns, together with
//!   everything recorded before it;
//! - a **record** (a result, an id, when a call was sent): it is applied to
//!   the in-memory state at once and written with the next write. What a
//!   run loses if it is killed before that write is only what the next run
//!   finds again: a pending create is adopted, a pending update or delete is
//!   re-read (see `docs/ARCHITECTURE.md`, the invariant "A kill loses no
//!   resource").
//!
//! Results are also checkpointed on their own, so that a long run (an RDS
//! instance, a NAT gateway on AWS) keeps its progress: once the unwritten
//! results reach half the resources in state, or the oldest of them has
//! waited [`checkpoint_interval`]. Both thresholds grow with the state, so
//! the bytes written by a run grow linearly with the stack, not with the
//! square of it.

use crate::events::{Event, EventSink};
use deployctl_state::{Backend, State, StateError};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::Instant;

type Mutation = Box<dyn FnOnce(&mut State) + Send>;

enum Msg {
    Commit(Mutation, oneshot::Sender<Result<(), String>>),
    /// `weight` is how many results it carries towards a checkpoint.
    Record(Mutation, usize),
}

/// How the writer checks, before each write, that the run still holds its
/// lock. (Writes are also fenced by the backend's version check.)
#[derive(Clone)]
pub struct LockCheck {
    pub id: String,
    pub held: Arc<dyn Fn() -> bool + Send + Sync>,
}

/// A handle to the state writer task. Cheap to clone.
#[derive(Clone)]
pub struct StateWriter {
    tx: mpsc::UnboundedSender<Msg>,
    health: Arc<Health>,
}

struct Health {
    lock: Option<LockCheck>,
    failed: AtomicBool,
    error: Mutex<Option<String>>,
}

/// What the writer task hands back when it ends.
pub struct Written {
    pub state: State,
    pub version: Option<String>,
    /// How many writes it made (each carried one or more mutations).
    pub writes: usize,
    /// Bytes of state written, over all writes.
    pub bytes: u64,
    pub error: Option<StateError>,
}

/// The least number of unwritten results that makes a checkpoint.
const MIN_CHECKPOINT_RESULTS: usize = 4;

/// How long a result may wait for a checkpoint in a state of `resources`
/// entries: 5 s, and 50 ms more per resource beyond 100 (so that the bytes a
/// long run writes stay linear in the stack's size).
pub fn checkpoint_interval(resources: usize) -> Duration {
    Duration::from_secs(5).max(Duration::from_millis(50) * u32::try_from(resources).unwrap_or(u32::MAX))
}

impl StateWriter {
    /// Starts the writer over `state`, last stored at `version`.
    pub fn start(
        backend: Arc<dyn Backend>,
        lock: Option<LockCheck>,
        state: State,
        version: Option<String>,
        events: EventSink,
    ) -> (StateWriter, JoinHandle<Written>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let health = Arc::new(Health { lock, failed: AtomicBool::new(false), error: Mutex::new(None) });
        let handle = tokio::spawn(run(backend, health.clone(), state, version, events, rx));
        (StateWriter { tx, health }, handle)
    }

    /// Applies `f` to state and waits until a write carrying it succeeded.
    pub async fn commit(&self, f: impl FnOnce(&mut State) + Send + 'static) -> Result<(), String> {
        let (ack, done) = oneshot::channel();
        self.tx.send(Msg::Commit(Box::new(f), ack)).map_err(|_| "the state writer has stopped".to_string())?;
        done.await.map_err(|_| "the state writer has stopped".to_string())?
    }

    /// Applies `f` to state; it is written with the next write, without
    /// waiting.
    pub fn record(&self, f: impl FnOnce(&mut State) + Send + 'static) {
        let _ = self.tx.send(Msg::Record(Box::new(f), 0));
    }

    /// Like [`StateWriter::record`], for a step's result: it counts towards
    /// the next checkpoint.
    pub fn record_result(&self, f: impl FnOnce(&mut State) + Send + 'static) {
        let _ = self.tx.send(Msg::Record(Box::new(f), 1));
    }

    /// Whether the run may still make calls: no write has failed and the
    /// lock is still held. A step checks this before each mutating call,
    /// since its intent may have been written long before.
    pub fn check(&self) -> Result<(), String> {
        if self.health.failed.load(Ordering::SeqCst) {
            let e = self.health.error.lock().unwrap_or_else(|p| p.into_inner());
            return Err(e.clone().unwrap_or_else(|| "a state write failed".into()));
        }
        self.health.lock_lost().map_or(Ok(()), |e| Err(e.to_string()))
    }
}

impl Health {
    /// `LockLost` when the run no longer holds its lock.
    fn lock_lost(&self) -> Option<StateError> {
        self.lock.as_ref().filter(|l| !(l.held)()).map(|l| StateError::LockLost { id: l.id.clone() })
    }
}

async fn run(
    backend: Arc<dyn Backend>,
    health: Arc<Health>,
    mut state: State,
    mut version: Option<String>,
    events: EventSink,
    mut rx: mpsc::UnboundedReceiver<Msg>,
) -> Written {
    let mut out = Written { state: State::new("", ""), version: None, writes: 0, bytes: 0, error: None };
    // What is applied in memory and not yet written.
    let mut unwritten_mutations = 0usize;
    let mut unwritten_results = 0usize;
    let mut oldest: Option<Instant> = None;
    loop {
        let deadline = oldest.map(|t| t + checkpoint_interval(state.resources.len()));
        let msg = match deadline {
            Some(d) => tokio::select! {
                m = rx.recv() => Wake::from(m),
                _ = tokio::time::sleep_until(d) => Wake::Deadline,
            },
            None => Wake::from(rx.recv().await),
        };
        let closed = matches!(msg, Wake::Closed);
        let mut acks = Vec::new();
        let mut before = None;
        if let Wake::Msg(first) = msg {
            // Take everything queued behind it: one write for all.
            let mut batch = vec![first];
            while let Ok(m) = rx.try_recv() {
                batch.push(m);
            }
            for m in batch {
                match m {
                    Msg::Commit(f, ack) => {
                        if unwritten_mutations == 0 && before.is_none() {
                            // Only a commit can be a no-op worth skipping
                            // (the state before apply of a run with nothing
                            // to do): compare, once, at the first.
                            before = Some(state.clone());
                        }
                        f(&mut state);
                        acks.push(ack);
                    }
                    Msg::Record(f, weight) => {
                        f(&mut state);
                        unwritten_mutations += 1;
                        unwritten_results += weight;
                        oldest.get_or_insert_with(Instant::now);
                    }
                }
            }
        }
        let due = !acks.is_empty()
            || closed && unwritten_mutations > 0
            || oldest.is_some_and(|t| t.elapsed() >= checkpoint_interval(state.resources.len()))
            || unwritten_results >= MIN_CHECKPOINT_RESULTS.max(state.resources.len() / 2);
        if due {
            let unchanged = unwritten_mutations == 0 && before.as_ref().is_some_and(|b| *b == state);
            let result = if let Some(e) = &out.error {
                Err(e.to_string())
            } else if unchanged && version.is_some() {
                // Nothing changed: no write, no new serial.
                Ok(())
            } else if let Some(lost) = health.lock_lost() {
                Err(fail(&health, &mut out, lost))
            } else {
                state.serial += 1;
                let text = deployctl_state::to_json(&state);
                let bytes = text.len() as u64;
                match backend.write_encoded(&state, text, version.as_deref()).await {
                    Ok(v) => {
                        version = Some(v);
                        out.writes += 1;
                        out.bytes += bytes;
                        events.send(Event::StateWritten {
                            serial: state.serial,
                            mutations: unwritten_mutations + acks.len(),
                        });
                        unwritten_mutations = 0;
                        unwritten_results = 0;
                        oldest = None;
                        Ok(())
                    }
                    Err(e) => {
                        state.serial -= 1;
                        Err(fail(&health, &mut out, e))
                    }
                }
            };
            if result.is_err() {
                // Nothing more will be written: stop checkpointing.
                oldest = None;
            }
            for ack in acks {
                let _ = ack.send(result.clone());
            }
        }
        if closed {
            break;
        }
    }
    out.state = state;
    out.version = version;
    out
}

enum Wake {
    Msg(Msg),
    Closed,
    Deadline,
}

impl From<Option<Msg>> for Wake {
    fn from(m: Option<Msg>) -> Wake {
        m.map_or(Wake::Closed, Wake::Msg)
    }
}

fn fail(health: &Health, out: &mut Written, e: StateError) -> String {
    let msg = e.to_string();
    *health.error.lock().unwrap_or_else(|p| p.into_inner()) = Some(msg.clone());
    health.failed.store(true, Ordering::SeqCst);
    out.error = Some(e);
    msg
}
