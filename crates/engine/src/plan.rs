//! The plan is data: computed, printed, serialized, then applied exactly.
//!
//! For each resource it holds one [`Action`] and says why: the fields that
//! change (old → new), the immutable field that forces a replacement, or the
//! drift that made a no-op into a create.

use deployctl_spec::Expr;
pub use deployctl_spec::ReplaceOrder;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// The version of the plan format (`deployctl diff -o plan.json`).
///
/// - 2: a replacement's order (`replacement`), the deposed objects to
///   delete (`deposed`), and `lineage`. A version 1 plan would apply every
///   replacement delete-first: it is refused, and made again with
///   `deployctl diff`.
pub const PLAN_FORMAT_VERSION: u32 = 2;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// `up`: make the world match the spec.
    Apply,
    /// `destroy`: remove everything the stack owns.
    Destroy,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub format_version: u32,
    pub mode: Mode,
    pub stack: String,
    /// The stack instance's environment (`environment:`), if it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    pub region: String,
    /// The state the plan was computed against; `up --plan` refuses to apply
    /// it once state has moved on. `None`: there was no state yet.
    pub state_lineage: Option<String>,
    pub state_serial: Option<u64>,
    /// The lineage the plan's secret fingerprints (and the apply's tokens)
    /// are made with: the state's, or, for a stack with no state yet, the
    /// one its first state gets when the plan is applied. So a saved plan's
    /// fingerprints can be checked against the secrets at apply.
    pub lineage: String,
    /// In dependency order.
    pub resources: Vec<ResourcePlan>,
    /// State entries whose resource no longer exists and which nothing in the
    /// spec wants: dropped from state, no API call.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub forget: Vec<String>,
    /// The for_each keys of every resource name, in spec order (for `[*]`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub for_each_keys: BTreeMap<String, Vec<String>>,
    /// Outputs as written in the spec, evaluated after apply.
    #[serde(default)]
    pub outputs: BTreeMap<String, Expr>,
    /// `--target`: the addresses the run was limited to, as given. The
    /// rest of the stack was not read, and its state is kept as it is.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    NoOp,
    Create,
    Update,
    Replace,
    Delete,
}

impl Action {
    /// Terraform-like symbol (a replacement that creates first is `+/-`,
    /// see [`ResourcePlan::symbol`]).
    pub fn symbol(self) -> &'static str {
        match self {
            Action::NoOp => " ",
            Action::Create => "+",
            Action::Update => "~",
            Action::Replace => "-/+",
            Action::Delete => "-",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResourcePlan {
    /// `vpc`, `nat[a]`.
    pub address: String,
    #[serde(rename = "type")]
    pub type_name: String,
    pub action: Action,
    /// The live id (none for a create).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Why, beyond the field changes: drift, adoption, a replaced dependency.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reasons: Vec<String>,
    /// Per field: before → after. For a create, every field set; for a
    /// delete, none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<Change>,
    /// For a replace: the immutable fields that force it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub forced_by: Vec<String>,
    /// For a replace: in which order, and why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replacement: Option<Replacement>,
    /// Objects an earlier create-before-destroy replaced and did not get to
    /// delete (its run was killed or failed): deleted once nothing uses
    /// them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deposed: Vec<Prior>,
    /// Addresses this resource depends on (spec for create/update, state for
    /// delete): the executor orders steps by them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dependencies: Vec<String>,
    /// What the resource depended on when last applied (from state), when
    /// that differs: an update that lets go of something runs before that
    /// something is deleted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub previous_dependencies: Vec<String>,
    /// The properties to apply, as written (references unresolved until their
    /// resources exist). Absent for delete and no-op.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub desired: BTreeMap<String, Expr>,
    /// The tags to apply (all of them, deployctl's own included).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, Expr>,
    /// The live resource at plan time (properties, tags, attributes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prior: Option<Prior>,
    /// An earlier run started creating this resource and did not finish
    /// (its wait was interrupted): the update step first resumes the wait.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub resume: bool,
    /// Step timeouts, seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeouts: Option<Timeouts>,
    /// The resource was not in state: it was found live and is taken into
    /// state by this run (say how).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adopt: Option<Adoption>,
}

impl ResourcePlan {
    /// The plan's symbol: [`Action::symbol`], with `+/-` for a replacement
    /// that creates the new resource before it deletes the old one.
    pub fn symbol(&self) -> &'static str {
        match (&self.action, &self.replacement) {
            (Action::Replace, Some(r)) if r.create_first() => "+/-",
            (a, _) => a.symbol(),
        }
    }

    /// Whether the replacement (or the deposed objects' deletion) keeps an
    /// old object alive while the new one is made.
    pub fn creates_first(&self) -> bool {
        self.replacement.as_ref().is_some_and(Replacement::create_first)
    }
}

/// How a replacement is ordered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Replacement {
    pub order: ReplaceOrder,
    /// Why this order: the spec's `lifecycle`, or what lets (or keeps) the
    /// new resource exist beside the old one.
    pub why: String,
}

impl Replacement {
    pub fn create_first(&self) -> bool {
        self.order == ReplaceOrder::CreateBeforeDestroy
    }
}

/// How a resource that state did not know was found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "by")]
pub enum Adoption {
    /// By this instance's ownership tags: its state was lost or moved.
    Tags,
    /// It carries another instance's ownership tags and is taken over on
    /// purpose (`--take-over FROM`); its tags are rewritten to this instance.
    TakeOver { from: String },
}

impl std::fmt::Display for Adoption {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Adoption::Tags => write!(f, "found by its deployctl tags, not in state"),
            Adoption::TakeOver { from } => write!(f, "taken over from stack instance {from}"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Timeouts {
    pub create_secs: Option<u64>,
    pub update_secs: Option<u64>,
    pub delete_secs: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Prior {
    pub id: String,
    #[serde(default)]
    pub properties: serde_json::Map<String, Value>,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    #[serde(default)]
    pub attributes: serde_json::Map<String, Value>,
    /// The properties state recorded at the last apply (secrets as
    /// fingerprints): what a delete needs to know that AWS does not keep,
    /// such as `force_destroy` or a secret's recovery window.
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub recorded: serde_json::Map<String, Value>,
    /// The tags deployctl last applied (from state).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub recorded_tags: BTreeMap<String, String>,
}

impl Prior {
    /// The live resource as the plan read it.
    pub fn observed(&self) -> crate::kind::Observed {
        crate::kind::Observed {
            id: self.id.clone(),
            properties: self.properties.clone(),
            tags: self.tags.clone(),
            attributes: self.attributes.clone(),
        }
    }
}

/// One field's change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    /// `cidr_block`, `tags.Name`.
    pub field: String,
    pub before: Option<Planned>,
    pub after: Option<Planned>,
    /// This field cannot change in place.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub forces_replacement: bool,
    /// The live value is not what deployctl last applied: it was changed
    /// outside deployctl (drift), rather than in the spec (configuration).
    #[serde(default)]
    pub drift: bool,
    /// For drift: what deployctl last applied (`before` is the live value);
    /// `None` with `drift`: it was not set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applied: Option<Planned>,
}

/// A value as the plan may show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Planned {
    Value(Value),
    /// Depends on a resource not yet created.
    KnownAfterApply,
    /// A list or a map known in part: each leaf known only after apply is
    /// `{"known_after_apply": true}` (`resolve::unknown_leaf`).
    Partial(Value),
    /// A secret: only its fingerprint, never its value.
    Sensitive {
        fingerprint: String,
    },
}

/// Counts for the summary line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub create: usize,
    pub update: usize,
    pub replace: usize,
    pub delete: usize,
    pub unchanged: usize,
    /// Resources taken into state (also counted in their action).
    pub adopt: usize,
}

impl Plan {
    pub fn summary(&self) -> Summary {
        let mut s = Summary::default();
        for r in &self.resources {
            match r.action {
                Action::NoOp => s.unchanged += 1,
                Action::Create => s.create += 1,
                Action::Update => s.update += 1,
                Action::Replace => s.replace += 1,
                Action::Delete => s.delete += 1,
            }
            if r.adopt.is_some() {
                s.adopt += 1;
            }
            // Left by an interrupted create-before-destroy: each is a delete.
            s.delete += r.deposed.len();
        }
        s
    }

    /// True when applying would change anything in AWS (deleting deposed
    /// objects included), or take a live resource into state.
    pub fn has_changes(&self) -> bool {
        self.resources.iter().any(|r| r.action != Action::NoOp || r.adopt.is_some() || !r.deposed.is_empty())
    }

    /// The stack instance's identity: `stack` or `stack/environment`.
    pub fn instance(&self) -> String {
        match &self.environment {
            Some(e) => format!("{}/{e}", self.stack),
            None => self.stack.clone(),
        }
    }

    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).unwrap_or_default();
        s.push('\n');
        s
    }

    pub fn from_json(text: &str) -> Result<Plan, String> {
        let v: Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
        match v.get("format_version").and_then(Value::as_u64) {
            Some(n) if n == PLAN_FORMAT_VERSION as u64 => {}
            Some(n) => {
                return Err(format!(
                    "plan format version {n} is not supported (this deployctl writes {PLAN_FORMAT_VERSION})"
                ))
            }
            None => return Err("not a deployctl plan: no format_version".into()),
        }
        serde_json::from_value(v).map_err(|e| e.to_string())
    }
}
