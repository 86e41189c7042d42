//! Persisting state as steps complete, with writes coalesced: every
//! mutation that arrives while a write is in flight goes out in the next
//! single write. A step waits for the write that carries its mutation, so a
//! step is done only once its result is persisted.

use crate::events::{Event, EventSink};
use deployctl_state::{Backend, State, StateError};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

type Mutation = Box<dyn FnOnce(&mut State) + Send>;

enum Msg {
    Mutate(Mutation, Option<oneshot::Sender<Result<(), String>>>),
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
}

/// What the writer task hands back when it ends.
pub struct Written {
    pub state: State,
    pub version: Option<String>,
    /// How many writes it made (each carried one or more mutations).
    pub writes: usize,
    pub error: Option<StateError>,
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
        let handle = tokio::spawn(run(backend, lock, state, version, events, rx));
        (StateWriter { tx }, handle)
    }

    /// Applies `f` to state and waits until a write carrying it succeeded.
    pub async fn commit(&self, f: impl FnOnce(&mut State) + Send + 'static) -> Result<(), String> {
        let (ack, done) = oneshot::channel();
        self.tx.send(Msg::Mutate(Box::new(f), Some(ack))).map_err(|_| "the state writer has stopped".to_string())?;
        done.await.map_err(|_| "the state writer has stopped".to_string())?
    }

    /// Applies `f` to state; it is written with the next write, without
    /// waiting.
    pub fn record(&self, f: impl FnOnce(&mut State) + Send + 'static) {
        let _ = self.tx.send(Msg::Mutate(Box::new(f), None));
    }
}

async fn run(
    backend: Arc<dyn Backend>,
    lock: Option<LockCheck>,
    mut state: State,
    mut version: Option<String>,
    events: EventSink,
    mut rx: mpsc::UnboundedReceiver<Msg>,
) -> Written {
    let mut writes = 0;
    let mut failed: Option<StateError> = None;
    while let Some(first) = rx.recv().await {
        // Take everything queued behind the first message: one write for all.
        let mut batch = vec![first];
        while let Ok(m) = rx.try_recv() {
            batch.push(m);
        }
        let mut acks = Vec::new();
        let n = batch.len();
        let before = state.clone();
        for Msg::Mutate(f, ack) in batch {
            f(&mut state);
            acks.extend(ack);
        }
        let result = if let Some(e) = &failed {
            Err(e.to_string())
        } else if state == before && version.is_some() {
            // Nothing changed: no write, no new serial.
            Ok(())
        } else if let Some(id) = lock.as_ref().and_then(|l| (!(l.held)()).then(|| l.id.clone())) {
            let e = StateError::LockLost { id };
            let msg = e.to_string();
            failed = Some(e);
            Err(msg)
        } else {
            state.serial += 1;
            match backend.write(&state, version.as_deref()).await {
                Ok(v) => {
                    version = Some(v);
                    writes += 1;
                    events.send(Event::StateWritten { serial: state.serial, mutations: n });
                    Ok(())
                }
                Err(e) => {
                    state.serial -= 1;
                    let msg = e.to_string();
                    failed = Some(e);
                    Err(msg)
                }
            }
        };
        for ack in acks {
            let _ = ack.send(result.clone());
        }
    }
    Written { state, version, writes, error: failed }
}
