//! Pacing per AWS service: how many steps of one service run at once,
//! adapted to throttling by additive increase, multiplicative decrease.
//!
//! Every service starts at the run's `--parallelism`. A throttled call
//! (reported by the aws crate's interceptor, through the step's task-local
//! scope, see `calls.rs`) halves its service's limit, at most once a
//! [`COOL_DOWN`] so that one storm's retries cut it once; every step that
//! succeeds adds `1/limit`, back up to `--parallelism`. A step waits in the
//! ready queue while its service is at its limit; the steps of other
//! services go ahead of it.

use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The shortest time between two cuts of one service's limit.
pub const COOL_DOWN: Duration = Duration::from_millis(500);

/// What pacing did to one service over a run.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ServicePacing {
    /// Throttled attempts seen.
    pub throttled: u64,
    /// The lowest limit it was cut to.
    pub lowest_limit: usize,
    /// The limit at the end of the run.
    pub limit: usize,
    /// The most steps that ran at once.
    pub most_at_once: usize,
}

#[derive(Debug)]
struct Limit {
    limit: f64,
    in_flight: usize,
    last_cut: Option<Instant>,
    report: ServicePacing,
}

/// One service's limit. Cheap to clone.
#[derive(Debug, Clone)]
pub struct ServiceLimit {
    max: usize,
    inner: Arc<Mutex<Limit>>,
}

impl ServiceLimit {
    fn new(max: usize) -> ServiceLimit {
        let max = max.max(1);
        ServiceLimit {
            max,
            inner: Arc::new(Mutex::new(Limit {
                limit: max as f64,
                in_flight: 0,
                last_cut: None,
                report: ServicePacing { throttled: 0, lowest_limit: max, limit: max, most_at_once: 0 },
            })),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Limit> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Takes a slot if the service is below its limit.
    pub fn try_acquire(&self) -> bool {
        let mut l = self.lock();
        if l.in_flight < (l.limit.floor() as usize).max(1) {
            l.in_flight += 1;
            l.report.most_at_once = l.report.most_at_once.max(l.in_flight);
            true
        } else {
            false
        }
    }

    /// Gives the slot back; a step that succeeded grows the limit.
    pub fn release(&self, succeeded: bool) {
        let max = self.max as f64;
        let mut l = self.lock();
        l.in_flight = l.in_flight.saturating_sub(1);
        if succeeded {
            l.limit = (l.limit + 1.0 / l.limit).min(max);
        }
        l.report.limit = l.limit.floor() as usize;
    }

    /// A call of this service was throttled.
    pub fn throttled(&self) {
        let mut l = self.lock();
        l.report.throttled += 1;
        if l.last_cut.is_none_or(|t| t.elapsed() >= COOL_DOWN) {
            l.limit = (l.limit / 2.0).max(1.0);
            l.last_cut = Some(Instant::now());
            let now = l.limit.floor() as usize;
            l.report.lowest_limit = l.report.lowest_limit.min(now);
            l.report.limit = now;
        }
    }

    pub fn report(&self) -> ServicePacing {
        self.lock().report
    }
}

/// The limits of a run, by service (a kind's type name up to its first
/// dot: `ec2`, `logs`).
#[derive(Debug)]
pub struct Pacer {
    max: usize,
    services: Mutex<BTreeMap<String, ServiceLimit>>,
}

impl Pacer {
    pub fn new(max: usize) -> Pacer {
        Pacer { max, services: Mutex::new(BTreeMap::new()) }
    }

    /// The limit of the service `type_name` belongs to.
    pub fn service(&self, type_name: &str) -> ServiceLimit {
        let service = type_name.split('.').next().unwrap_or(type_name);
        let mut m = self.services.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(l) = m.get(service) {
            return l.clone();
        }
        m.entry(service.to_string()).or_insert_with(|| ServiceLimit::new(self.max)).clone()
    }

    pub fn report(&self) -> BTreeMap<String, ServicePacing> {
        let m = self.services.lock().unwrap_or_else(|p| p.into_inner());
        m.iter().map(|(k, v)| (k.clone(), v.report())).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_throttle_halves_the_limit_once_per_cool_down_and_successes_grow_it_back() {
        let s = ServiceLimit::new(8);
        s.throttled();
        s.throttled(); // the same storm: no second cut
        assert_eq!(s.report().limit, 4);
        assert_eq!(s.report().throttled, 2);
        let taken = (0..8).filter(|_| s.try_acquire()).count();
        assert_eq!(taken, 4, "at most the limit at once");
        for _ in 0..4 {
            s.release(true);
        }
        // +1/limit per success: four successes at ~4 add about one.
        assert_eq!(s.report().limit, 4);
        for _ in 0..40 {
            assert!(s.try_acquire());
            s.release(true);
        }
        assert_eq!(s.report().limit, 8, "back to the maximum, and no further");
        assert_eq!(s.report().lowest_limit, 4);
    }

    #[test]
    fn the_limit_never_falls_below_one() {
        let s = ServiceLimit::new(2);
        for _ in 0..5 {
            s.inner.lock().unwrap().last_cut = None;
            s.throttled();
        }
        assert_eq!(s.report().limit, 1);
        assert!(s.try_acquire());
        assert!(!s.try_acquire());
    }

    #[test]
    fn services_are_paced_apart() {
        let p = Pacer::new(4);
        p.service("logs.log_group").throttled();
        assert_eq!(p.service("logs.metric_filter").report().limit, 2, "one limit per service");
        assert_eq!(p.service("sns.topic").report().limit, 4);
    }
}
