//! Eventual consistency, handled once. AWS answers a call about something
//! created (or changed) a moment ago as if it did not exist yet: a subnet's
//! CreateSubnet does not see the VPC just made (`InvalidVpcID.NotFound`), a
//! service cannot yet assume a role just created ("ECS was unable to assume
//! the role …"). Such refusals are not the user's mistake and pass within
//! seconds to a minute or two; the call is retried, bounded, with progress.
//!
//! Where it applies:
//!
//! - the [`Adapter`](super::Adapter) retries a kind's whole create that AWS
//!   refused this way *before it made anything* (no id recorded), and a
//!   kind's update refused this way about something other than the
//!   resource itself, when something the step depends on was created or
//!   changed in this run ([`OpCtx::recent_dependencies`]): a NotFound or a
//!   role refusal then means "not propagated yet", not "wrong";
//! - a kind's own calls right after its create, about the resource it has
//!   just made ([`super::retry_unseen`]).
//!
//! Both go through [`until_seen`]: one waiter, one bound.

use deployctl_engine::{OpCtx, Poll, ProviderError};
use std::future::Future;
use std::time::{Duration, Instant};

/// How long a call is retried at most (further bounded by the step's
/// timeout): what IAM and EC2 document as their propagation time.
pub const LIMIT: Duration = Duration::from_secs(120);

/// The progress message while a role propagates.
pub const WAITING_FOR_ROLE: &str = "waiting for IAM role to propagate…";

/// Why AWS refused a call for now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unseen {
    /// What the call names does not exist yet for the service answering.
    Missing,
    /// A service cannot yet assume a role.
    Role,
}

/// Whether `e` is AWS not having caught up yet, and how.
pub fn unseen(e: &ProviderError) -> Option<Unseen> {
    if is_propagation_error(e) {
        Some(Unseen::Role)
    } else if crate::is_not_found(e) {
        Some(Unseen::Missing)
    } else {
        None
    }
}

/// Whether `e` is a service refusing a role it cannot assume yet.
pub fn is_propagation_error(e: &ProviderError) -> bool {
    let m = e.message.to_lowercase();
    const PHRASES: [&str; 6] = [
        "unable to assume role and validate the specified targetgrouparn",
        "ecs was unable to assume the role",
        "is not authorized to perform: sts:assumerole",
        "the role defined for the function cannot be assumed",
        "cannot be assumed by",
        // CodePipeline: InvalidStructureException.
        "is not authorized to perform assumerole on role",
    ];
    if PHRASES.iter().any(|p| m.contains(p)) {
        return true;
    }
    let code = e.code.as_deref().unwrap_or_default();
    matches!(
        code,
        "InvalidParameterException" | "ClientException" | "InvalidInputException" | "InvalidParameterValueException"
    ) && m.contains("assume")
        && m.contains("role")
}

/// Calls `f` until it succeeds, retrying while it fails with an error
/// `retry` accepts: the engine's waiter (backoff from 1 s doubling to 8 s,
/// progress events, Ctrl-C honoured), for at most [`LIMIT`] or the step's
/// timeout, whichever is smaller. Any other error returns at once; so does
/// the last one when time is up, with a hint. `what` names the call in
/// progress messages ("creating the service").
pub async fn until_seen<T, F, Fut>(
    ctx: &OpCtx,
    what: &str,
    retry: impl Fn(&ProviderError) -> bool,
    f: F,
) -> Result<T, ProviderError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, ProviderError>>,
{
    until_seen_with(ctx, what, Duration::from_secs(1), Duration::from_secs(8), LIMIT, retry, f).await
}

/// [`until_seen`] with explicit backoff bounds and limit (tests use short
/// ones).
pub async fn until_seen_with<T, F, Fut>(
    ctx: &OpCtx,
    what: &str,
    first: Duration,
    max: Duration,
    limit: Duration,
    retry: impl Fn(&ProviderError) -> bool,
    mut f: F,
) -> Result<T, ProviderError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, ProviderError>>,
{
    let start = Instant::now();
    let bound = limit.min(ctx.timeout);
    let retry = &retry;
    let mut check = || {
        let attempt = f();
        async move {
            match attempt.await {
                Ok(v) => Ok(Poll::Ready(v)),
                Err(e) if retry(&e) && start.elapsed() < bound => Ok(Poll::Pending(match unseen(&e) {
                    Some(Unseen::Role) => WAITING_FOR_ROLE.to_string(),
                    _ => format!("not visible yet ({e})"),
                })),
                Err(e) if retry(&e) => {
                    let elapsed = start.elapsed().as_secs();
                    let hint = match unseen(&e) {
                        Some(Unseen::Role) => format!(
                            "the IAM role was still not usable after {elapsed}s; IAM changes can take a few minutes \
                             to propagate: re-run, and if it persists check the role's trust policy"
                        ),
                        _ => format!(
                            "AWS still did not see it after {elapsed}s; re-run, and if it persists check that what \
                             the property names exists in this account and region"
                        ),
                    };
                    Err(e.with_hint(hint))
                }
                Err(e) => Err(e),
            }
        }
    };
    let label = format!("{what} (eventual consistency)");
    ctx.wait_with(&label, first, max, &mut check).await.map_err(ProviderError::from)
}
