//! The API-call counter. The aws crate's SDK interceptor feeds it; the run
//! summary reports it (`-v`, `--json`), and every speed goal is measured in
//! these numbers.

use crate::pacing::ServiceLimit;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

tokio::task_local! {
    /// The step the current task runs (set by the executor).
    static STEP: StepScope;
}

/// What a step's calls report to: its counters and its service's pacing
/// limit.
#[derive(Clone)]
pub(crate) struct StepScope {
    pub counters: Arc<StepCounters>,
    pub limit: ServiceLimit,
}

/// A step's calls, and its round trips: how many times a call started
/// while none of the step's was in flight (calls made side by side count
/// once). The critical path is weighed in round trips.
#[derive(Debug, Default)]
pub struct StepCounters {
    pub calls: AtomicU64,
    pub round_trips: AtomicU64,
    in_flight: AtomicU64,
}

/// Runs `f` as the step of `scope`.
pub(crate) async fn in_step<F: std::future::Future>(scope: StepScope, f: F) -> F::Output {
    STEP.scope(scope, f).await
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct CallCount {
    /// Operations invoked (each counted once, however many attempts).
    pub calls: u64,
    /// Extra attempts the SDK's retry made (throttling, transient errors).
    pub retries: u64,
    /// Attempts the service refused as throttled.
    pub throttled: u64,
}

/// Counts per service and operation. Cheap to clone; clones share counts.
#[derive(Debug, Clone, Default)]
pub struct ApiCalls(Arc<Mutex<BTreeMap<(String, String), CallCount>>>);

impl ApiCalls {
    pub fn new() -> ApiCalls {
        ApiCalls::default()
    }
    fn bump(&self, service: &str, operation: &str, f: impl FnOnce(&mut CallCount)) {
        let mut m = self.0.lock().unwrap_or_else(|p| p.into_inner());
        f(m.entry((service.to_string(), operation.to_string())).or_default());
    }
    pub fn record_call(&self, service: &str, operation: &str) {
        let _ = STEP.try_with(|s| {
            s.counters.calls.fetch_add(1, Ordering::Relaxed);
            if s.counters.in_flight.fetch_add(1, Ordering::SeqCst) == 0 {
                s.counters.round_trips.fetch_add(1, Ordering::Relaxed);
            }
        });
        self.bump(service, operation, |c| c.calls += 1)
    }
    /// A call ended (answered, or failed for good).
    pub fn record_call_end(&self) {
        let _ = STEP.try_with(|s| {
            let _ = s.counters.in_flight.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1));
        });
    }
    pub fn record_retry(&self, service: &str, operation: &str) {
        self.bump(service, operation, |c| c.retries += 1)
    }
    /// An attempt refused as throttled: counted, and the step's service
    /// slows down (see `pacing.rs`).
    pub fn record_throttled(&self, service: &str, operation: &str) {
        let _ = STEP.try_with(|s| s.limit.throttled());
        self.bump(service, operation, |c| c.throttled += 1)
    }
    pub fn snapshot(&self) -> BTreeMap<(String, String), CallCount> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
    pub fn total(&self) -> CallCount {
        self.snapshot().values().fold(CallCount::default(), |a, c| CallCount {
            calls: a.calls + c.calls,
            retries: a.retries + c.retries,
            throttled: a.throttled + c.throttled,
        })
    }
    /// `{"EC2": {"DescribeVpcs": {"calls": 1, "retries": 0}}}`
    pub fn to_json(&self) -> serde_json::Value {
        let mut out = serde_json::Map::new();
        for ((svc, op), c) in self.snapshot() {
            let entry = out.entry(svc).or_insert_with(|| serde_json::json!({}));
            entry[op] = serde_json::json!({"calls": c.calls, "retries": c.retries, "throttled": c.throttled});
        }
        serde_json::Value::Object(out)
    }
}
