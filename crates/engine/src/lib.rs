//! deployctl-engine: the graph, the plan, the executor, the resource-kind
//! trait and the events.
//!
//! The engine is independent of AWS: kinds implement [`ResourceKind`] in the
//! aws crate. It never prints; it reports through [`events::Event`]s.

pub mod calls;
pub mod diff;
mod error;
pub mod events;
pub mod executor;
pub mod import;
pub mod kind;
pub mod pacing;
pub mod plan;
pub mod planner;
pub mod resolve;
pub mod secrets;
pub mod target;
pub mod writer;

pub use calls::{ApiCalls, CallCount};
pub use error::EngineError;
pub use events::{Event, EventSink, StepAction};
pub use executor::{ApplyReport, CriticalStep, Executor};
pub use kind::{Kinds, Observed, OpCtx, Poll, Props, ProviderError, ReadCtx, ResourceKind, WaitError};
pub use pacing::ServicePacing;
pub use plan::{Action, Adoption, Change, Mode, Plan, Planned, ResourcePlan, Summary};
pub use planner::{plan, plan_with, secrets_changed_since, PlanOptions};
pub use writer::{LockCheck, StateWriter, Written};
