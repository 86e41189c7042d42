//! Engine errors. Each names what failed, on which resource, with the AWS
//! error code, and what to do next.

use crate::events::StepAction;
use crate::kind::ProviderError;
use deployctl_state::StateError;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("reading {type_name}: {source}{}", hint(&source.hint))]
    Read { type_name: String, source: ProviderError },
    #[error("{} {display}: {source}{}", action.verb_ing(), hint(&source.hint))]
    Step { display: String, action: StepAction, source: ProviderError },
    #[error("{} {display}: {message}", action.verb_ing())]
    Resolve { display: String, action: StepAction, message: String },
    #[error("{} {display}: {message}\n  hint: {hint}", action.verb_ing())]
    Wait { display: String, action: StepAction, message: String, hint: String },
    #[error("unknown resource type '{type_name}' for {address} in state\n  hint: this deployctl does not know that kind; use the version that created it")]
    UnknownKind { type_name: String, address: String },
    #[error("recording state: {0}")]
    State(#[from] StateError),
    #[error("{0}")]
    PlanMismatch(String),
    #[error(
        "{} resource(s) the spec names belong to another instance of this stack, not {instance}; nothing was changed\n{}\n  hint: give this instance's resources names of its own (derive them from the environment, e.g. ${{var.env}}), or, to take them over on purpose, re-run with --take-over {}",
        conflicts.len(),
        conflicts.iter().map(|c| format!("  {} ({}) is owned by {}", c.display, c.id, c.owner)).collect::<Vec<_>>().join("\n"),
        conflicts.first().map(|c| c.owner.as_str()).unwrap_or_default()
    )]
    OwnedElsewhere { instance: String, conflicts: Vec<OwnedElsewhere> },
    #[error("{display} must be replaced, and lifecycle.replace asks for create_before_destroy, but the new one cannot exist beside the old: {why}; nothing was changed\n  hint: {hint}")]
    CannotCreateFirst { display: String, why: String, hint: String },
    #[error("--target {target}: the stack has no resource '{target}'; nothing was read or changed\n  hint: {hint}")]
    UnknownTarget { target: String, hint: String },
    #[error(
        "{} resource(s) the plan deletes or replaces are protected from deletion; nothing was changed\n{}\n  hint: turn the protection off in the spec, with no other change to those resources, run up, then run this again",
        refusals.len(),
        refusals.iter().map(|(display, why)| format!("  {display}: {why}")).collect::<Vec<_>>().join("\n")
    )]
    DeleteRefused { refusals: Vec<(String, String)> },
    #[error("cannot read the secrets the spec names; nothing was changed\n{0}\n  hint: export the variable, create the file, or create the Secrets Manager secret (and give it a value), then re-run")]
    Secrets(String),
}

/// A resource the spec names that another stack instance owns.
#[derive(Debug, Clone)]
pub struct OwnedElsewhere {
    /// `logs.log_group.app`.
    pub display: String,
    pub id: String,
    /// The owner's identity, from its `deployctl:stack` tag.
    pub owner: String,
}

fn hint(h: &Option<String>) -> String {
    h.as_ref().map(|h| format!("\n  hint: {h}")).unwrap_or_default()
}

impl EngineError {
    /// The AWS error code, when the failure came from AWS.
    pub fn code(&self) -> Option<&str> {
        match self {
            EngineError::Read { source, .. } | EngineError::Step { source, .. } => source.code.as_deref(),
            _ => None,
        }
    }
}
