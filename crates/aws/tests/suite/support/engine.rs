//! Driving the real executor in the suite's mocked scenarios
//! (`use crate::support::engine::apply;`).

use deployctl_engine::{ApplyReport, EventSink, Executor, Kinds, Plan, StateWriter};
use deployctl_state::{Backend, State};
use std::sync::Arc;
use std::time::Duration;

/// Applies `plan` to `state` (stored in `backend` at `version`) as `up`
/// does, with `timeout` for steps that give none, and waits until the
/// state writer has written everything.
pub async fn apply(
    kinds: &Kinds,
    backend: Arc<dyn Backend>,
    state: &State,
    version: String,
    plan: &Plan,
    timeout: Duration,
) -> ApplyReport {
    let sink = EventSink::discard();
    let (writer, handle) = StateWriter::start(backend, None, state.clone(), Some(version), sink.clone());
    let executor = Executor {
        kinds: kinds.clone(),
        events: sink,
        parallelism: 4,
        cancel: tokio_util::sync::CancellationToken::new(),
        default_timeout: timeout,
    };
    let report = executor.apply(plan, state, writer).await;
    drop(executor);
    handle.await.expect("the state writer task");
    report
}
