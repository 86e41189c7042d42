//! IAM is eventually consistent: a role created a moment ago may not yet be
//! assumable by ECS, CodeBuild or Lambda, which then refuse the call that
//! names it ("ECS was unable to assume the role …"). Such refusals are not
//! the user's mistake and go away within seconds to a minute or two, so the
//! kinds that pass a role to a service wrap that call in
//! [`while_role_propagates`].

use deployctl_engine::{OpCtx, Poll, ProviderError};
use std::future::Future;
use std::time::{Duration, Instant};

/// How long a call is retried at most (further bounded by the step's timeout).
pub const PROPAGATION_LIMIT: Duration = Duration::from_secs(120);

/// The progress message while waiting.
pub const WAITING: &str = "waiting for IAM role to propagate…";

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

/// Calls `f` until it succeeds, retrying while it fails with
/// [`is_propagation_error`]: the engine's waiter (backoff from 1 s doubling
/// to 8 s, progress events, Ctrl-C honoured), for at most two minutes or the
/// step's timeout, whichever is smaller. Any other error returns at once;
/// so does the last propagation error when time is up, with a hint.
/// `what` names the call in progress messages ("creating the service").
pub async fn while_role_propagates<T, F, Fut>(ctx: &OpCtx, what: &str, f: F) -> Result<T, ProviderError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, ProviderError>>,
{
    while_role_propagates_with(ctx, what, Duration::from_secs(1), Duration::from_secs(8), PROPAGATION_LIMIT, f).await
}

/// [`while_role_propagates`] with explicit backoff bounds and limit (tests
/// use short ones).
pub async fn while_role_propagates_with<T, F, Fut>(
    ctx: &OpCtx,
    what: &str,
    first: Duration,
    max: Duration,
    limit: Duration,
    mut f: F,
) -> Result<T, ProviderError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, ProviderError>>,
{
    let start = Instant::now();
    let bound = limit.min(ctx.timeout);
    let mut check = || {
        let attempt = f();
        async move {
            match attempt.await {
                Ok(v) => Ok(Poll::Ready(v)),
                Err(e) if is_propagation_error(&e) && start.elapsed() < bound => Ok(Poll::Pending(WAITING.into())),
                Err(e) if is_propagation_error(&e) => Err(e.with_hint(format!(
                    "the IAM role was still not usable after {}s; IAM changes can take a few minutes to propagate: \
                     re-run, and if it persists check the role's trust policy",
                    start.elapsed().as_secs()
                ))),
                Err(e) => Err(e),
            }
        }
    };
    ctx.wait_with(&format!("{what} (IAM role propagation)"), first, max, &mut check).await.map_err(ProviderError::from)
}
