//! CloudFront resource kinds, and what they share: every change goes
//! through an ETag (`IfMatch`), and a distribution's change is done when it
//! is `Deployed` everywhere, which takes minutes.

pub mod distribution;
pub mod origin_access_control;

use deployctl_engine::{OpCtx, Poll, ProviderError};
use std::future::Future;

/// The error codes of a resource that is gone.
pub const GONE: &[&str] = &["NoSuchDistribution", "NoSuchOriginAccessControl"];

/// Reads the current ETag with `read`, then makes the change with `write`
/// under it; a change refused with `PreconditionFailed` (something else
/// changed the resource between the two) is read and made once more.
pub async fn with_etag<R, RF, W, WF, T>(read: R, write: W) -> Result<T, ProviderError>
where
    R: Fn() -> RF,
    RF: Future<Output = Result<String, ProviderError>>,
    W: Fn(String) -> WF,
    WF: Future<Output = Result<T, ProviderError>>,
{
    let etag = read().await?;
    match write(etag).await {
        Err(e) if e.code_is("PreconditionFailed") => write(read().await?)
            .await
            .map_err(|e| e.with_hint("the resource changed twice while deployctl changed it; run deployctl up again")),
        other => other,
    }
}

/// Waits until the distribution `id` is `Deployed`, with `status` reading
/// its status (one GetDistribution), through the one waiter.
pub async fn wait_deployed<S, SF>(ctx: &OpCtx, id: &str, status: S) -> Result<(), ProviderError>
where
    S: Fn() -> SF,
    SF: Future<Output = Result<String, ProviderError>>,
{
    let what = format!("distribution {id} to be deployed");
    ctx.wait_for(&what, || {
        let read = status();
        async move {
            let s = read.await?;
            Ok(if s == "Deployed" { Poll::Ready(()) } else { Poll::Pending(s) })
        }
    })
    .await?;
    Ok(())
}
