//! The state model and its versioned file format.
//!
//! State is one JSON document per stack. It records, for each resource
//! instance, how to find it again (its id), what was last applied, and any
//! operation that was started but not confirmed (`pending`), so that a run
//! killed at any moment can be resumed without duplicating or losing a
//! resource.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The version of the file format this build writes. Older versions are
/// migrated on read; newer ones are refused.
///
/// - 1: the first format.
/// - 2: `environment`, the stack instance's environment (`None` for a stack
///   with one instance). A version 1 state has none recorded: it is taken
///   as belonging to the instance whose state location it is in.
/// - 3: a pending operation's `started_at` may be absent: its intent was
///   written before the call was sent, and the run ended before it wrote
///   when (or whether) it was. A version 2 state always has one.
/// - 4: `deposed`, the objects a create-before-destroy replacement has
///   replaced and not yet deleted, and `tags`, the tags last applied. A
///   version 3 state has neither.
pub const FORMAT_VERSION: u32 = 4;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct State {
    pub format_version: u32,
    /// Random at the stack's first write and never changed after: it tells two
    /// unrelated states with the same name apart, and seeds idempotency tokens.
    pub lineage: String,
    /// Increases by one on every write.
    pub serial: u64,
    pub stack: String,
    /// The stack instance's environment; its identity is `stack/environment`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    pub region: String,
    /// By resource address (`vpc`, `nat[a]`).
    #[serde(default)]
    pub resources: BTreeMap<String, ResourceState>,
    #[serde(default)]
    pub outputs: BTreeMap<String, serde_json::Value>,
}

impl State {
    /// A state for a stack that has never been written.
    pub fn new(stack: &str, region: &str) -> State {
        State {
            format_version: FORMAT_VERSION,
            lineage: uuid::Uuid::new_v4().to_string(),
            serial: 0,
            stack: stack.to_string(),
            environment: None,
            region: region.to_string(),
            resources: BTreeMap::new(),
            outputs: BTreeMap::new(),
        }
    }

    /// A new state for one environment of a stack.
    pub fn for_instance(stack: &str, environment: Option<&str>, region: &str) -> State {
        State { environment: environment.map(str::to_string), ..State::new(stack, region) }
    }

    /// The instance identity: `stack` or `stack/environment`.
    pub fn instance(&self) -> String {
        match &self.environment {
            Some(e) => format!("{}/{e}", self.stack),
            None => self.stack.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourceState {
    #[serde(rename = "type")]
    pub type_name: String,
    /// The AWS identifier. `None` while a create has been started but its
    /// result was never recorded: the next run looks the resource up by its
    /// tags or natural key and adopts it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The properties last applied, resolved (secrets as fingerprints).
    #[serde(default)]
    pub properties: serde_json::Map<String, serde_json::Value>,
    /// The attributes last read (`id`, `arn`, …), which references resolve to.
    #[serde(default)]
    pub attributes: serde_json::Map<String, serde_json::Value>,
    /// The tags last applied, deployctl's own included: a live tag that
    /// differs was changed outside deployctl (drift).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
    /// Addresses this resource depended on when last applied, so that it can
    /// be deleted in the right order once it is gone from the spec.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dependencies: Vec<String>,
    /// Bumped each time the resource is replaced; part of idempotency tokens.
    #[serde(default)]
    pub generation: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending: Option<Pending>,
    /// Objects this address held before a create-before-destroy
    /// replacement, still to be deleted once nothing uses them: recorded
    /// when the replacement's create is about to be sent, removed once
    /// their delete is done. The next run reads them and deletes what is
    /// still there.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deposed: Vec<Deposed>,
}

/// An object replaced by a create-before-destroy and not yet deleted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Deposed {
    pub id: String,
    /// The properties last applied to it (how to delete it).
    #[serde(default)]
    pub properties: serde_json::Map<String, serde_json::Value>,
    /// What it depended on, so that it is deleted before they are.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dependencies: Vec<String>,
}

impl ResourceState {
    pub fn new(type_name: &str) -> ResourceState {
        ResourceState {
            type_name: type_name.to_string(),
            id: None,
            properties: Default::default(),
            attributes: Default::default(),
            tags: BTreeMap::new(),
            dependencies: Vec::new(),
            generation: 0,
            pending: None,
            deposed: Vec::new(),
        }
    }
}

/// An operation that was started and whose outcome is not yet recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pending {
    pub op: PendingOp,
    /// When the call was sent (RFC 3339). `None`: the intent was written
    /// before the call and nothing since says whether or when it was sent;
    /// the next run assumes it may have been sent just before the run ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    /// The idempotency token sent with the call, if the API takes one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PendingOp {
    Create,
    Update,
    Delete,
}
