//! Where state lives, and the lock that guards it.

use crate::model::State;
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Who holds (or wants) the lock, and why. Stored with the lock so that a
/// second run can name the holder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockInfo {
    /// Random per run; `deployctl force-unlock <id>` names it.
    pub id: String,
    /// `user@host (pid N)`.
    pub who: String,
    /// `up`, `destroy`, …
    pub operation: String,
    /// RFC 3339.
    pub created: String,
    /// RFC 3339: when the lease runs out unless renewed by the holder's
    /// heartbeat. A killed run's lock expires instead of wedging the stack.
    pub expires: String,
}

/// The state as read, with the version it was read at. Writes are
/// conditional on that version, so a writer that lost its lock can never
/// overwrite newer state.
#[derive(Debug, Clone, PartialEq)]
pub struct Versioned {
    pub state: State,
    /// An opaque version: the S3 ETag, or a digest of the local file.
    pub version: String,
}

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("state is locked by {} running '{}' since {} (lock id {}, expires {})\n  hint: wait for it to finish, or retry with --lock-timeout 5m", .0.who, .0.operation, .0.created, .0.id, .0.expires)]
    Locked(LockInfo),
    /// (The CLI adds the hint: a command on the spec.)
    #[error("the state lock {id} is no longer held by this run (it expired or was force-unlocked)")]
    LockLost { id: String },
    #[error("state was changed by someone else since it was read (expected version {expected}, found {found})\n  hint: another run wrote state; re-run to plan against the current state")]
    Conflict { expected: String, found: String },
    #[error("no lock with id {0} is held")]
    NoSuchLock(String),
    #[error("state format version {found} is newer than this deployctl understands ({supported})\n  hint: upgrade deployctl")]
    TooNew { found: u32, supported: u32 },
    #[error("state in {location} is not valid: {message}\n  hint: restore it from the backup or the previous S3 object version")]
    Corrupt { location: String, message: String },
    #[error(
        "state in {location} belongs to stack '{found}', not '{expected}'\n  hint: check the backend key in the spec"
    )]
    WrongStack { location: String, expected: String, found: String },
    #[error("{operation} {location}: {message}")]
    Io { operation: String, location: String, message: String },
    #[error("{operation} {location}: {code}: {message}{}", hint_suffix(.code))]
    Aws { operation: String, location: String, code: String, message: String },
}

fn hint_suffix(code: &str) -> String {
    match code {
        // NoSuchBucket and ResourceNotFoundException (the lock table): the
        // CLI's hint names `deployctl init` with the spec.
        "HTTP403" => "\n  hint: access denied: check the credentials' permissions and the bucket policy (a TLS-only policy refuses a plain-http endpoint)".into(),
        "AccessDenied" | "AccessDeniedException" => {
            "\n  hint: the credentials in use lack permission for the state backend".into()
        }
        _ => String::new(),
    }
}

/// A held lock. Dropping it without [`Lock::release`] leaves the lease to
/// expire (a local lock is released by the OS when the process ends).
#[async_trait]
pub trait Lock: Send + Sync {
    fn info(&self) -> &LockInfo;
    /// False once the heartbeat found the lock taken over or gone.
    fn is_held(&self) -> bool;
    async fn release(self: Box<Self>) -> Result<(), StateError>;
}

impl std::fmt::Debug for dyn Lock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lock").field("info", self.info()).field("held", &self.is_held()).finish()
    }
}

#[async_trait]
pub trait Backend: Send + Sync {
    /// Where state lives, for messages: `state/network.json`, `s3://b/k`.
    fn location(&self) -> String;
    /// Takes the lock, waiting up to `timeout` for a holder to release it or
    /// for its lease to expire; then fails with [`StateError::Locked`].
    async fn lock(&self, info: LockInfo, timeout: Duration) -> Result<Box<dyn Lock>, StateError>;
    /// The current state, or `None` when the stack has none yet.
    async fn read(&self) -> Result<Option<Versioned>, StateError>;
    /// Who holds the lock now, without taking it (`None`: nobody, or a
    /// lease that has run out): what a reader that does not lock (`diff`)
    /// tells its user, since what it read may be mid-change.
    async fn holder(&self) -> Result<Option<LockInfo>, StateError>;
    /// Writes `state` if the stored version is still `expected` (`None`: no
    /// state may exist yet). Returns the new version. The caller bumps serial.
    async fn write(&self, state: &State, expected: Option<&str>) -> Result<String, StateError> {
        self.write_encoded(state, crate::format::to_json(state), expected).await
    }
    /// [`Backend::write`] with `state` already encoded as `text` (its
    /// [`crate::to_json`]), for a caller that needs the bytes too.
    async fn write_encoded(&self, state: &State, text: String, expected: Option<&str>) -> Result<String, StateError>;
    /// Where the state from before a write is kept once the write is done,
    /// for an operator's edit to name: `None` when this backend keeps no
    /// copy (an S3 bucket without versioning), and an edit is refused.
    async fn backup(&self) -> Result<Option<String>, StateError> {
        Ok(None)
    }
    /// Removes a lock by id, whoever holds it.
    async fn force_unlock(&self, id: &str) -> Result<(), StateError>;
}
