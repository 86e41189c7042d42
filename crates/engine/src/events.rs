//! What the engine reports while it works. The engine never prints: the CLI
//! renders these events (a live view on a terminal, plain lines otherwise).

use serde::Serialize;
use std::time::Duration;
use tokio::sync::mpsc;

/// The mutating half of a plan step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StepAction {
    Create,
    Update,
    Delete,
}

impl StepAction {
    /// "creating", "updating", "deleting".
    pub fn verb_ing(self) -> &'static str {
        match self {
            StepAction::Create => "creating",
            StepAction::Update => "updating",
            StepAction::Delete => "deleting",
        }
    }
    /// "created", "updated", "deleted".
    pub fn verb_ed(self) -> &'static str {
        match self {
            StepAction::Create => "created",
            StepAction::Update => "updated",
            StepAction::Delete => "deleted",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// Reading live resources, once per kind.
    Reading {
        type_name: String,
        count: usize,
    },
    StepStarted {
        address: String,
        action: StepAction,
    },
    StepProgress {
        address: String,
        action: StepAction,
        message: String,
        elapsed: Duration,
    },
    StepFinished {
        address: String,
        action: StepAction,
        id: Option<String>,
        elapsed: Duration,
    },
    StepFailed {
        address: String,
        action: StepAction,
        error: String,
    },
    /// Not started: something it depends on failed (`failed`: its
    /// display name), or the run was interrupted (`None`).
    StepSkipped {
        address: String,
        action: StepAction,
        failed: Option<String>,
    },
    /// State persisted; `steps` is how many step results this one write
    /// carried (coalescing).
    StateWritten {
        serial: u64,
        mutations: usize,
    },
}

/// Where events go. Cloning shares the channel; a sink with no receiver
/// drops events.
#[derive(Debug, Clone)]
pub struct EventSink(Option<mpsc::UnboundedSender<Event>>);

impl EventSink {
    pub fn new() -> (EventSink, mpsc::UnboundedReceiver<Event>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (EventSink(Some(tx)), rx)
    }
    pub fn discard() -> EventSink {
        EventSink(None)
    }
    pub fn send(&self, e: Event) {
        if let Some(tx) = &self.0 {
            let _ = tx.send(e);
        }
    }
}
