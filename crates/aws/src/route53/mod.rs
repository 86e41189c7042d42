//! Route 53 kinds: a public hosted zone and the records in a zone (owned by
//! the stack, or an existing one looked up with `data:`).

pub mod hosted_zone;
pub mod record;

use crate::error::from_sdk;
use aws_sdk_route53::types::ChangeStatus;
use aws_sdk_route53::Client;
use deployctl_engine::{OpCtx, Poll, ProviderError};

/// A zone id without the `/hostedzone/` AWS puts before it.
pub(crate) fn bare_zone_id(id: &str) -> String {
    id.trim_start_matches("/hostedzone/").to_string()
}

/// A DNS name as the spec writes it: no trailing dot, lower case, and the
/// `*` that Route 53 lists as `\052` written as itself.
pub(crate) fn dns_name(name: &str) -> String {
    name.trim_end_matches('.').replace("\\052", "*").to_ascii_lowercase()
}

/// Waits until a change is `INSYNC`: served by every Route 53 name server
/// (seconds; a minute at most).
pub(crate) async fn wait_insync(ctx: &OpCtx, client: &Client, change: Option<&str>) -> Result<(), ProviderError> {
    let Some(change) = change else { return Ok(()) };
    ctx.wait_for("the DNS change to reach every Route 53 name server", move || async move {
        let out = client.get_change().id(change).send().await.map_err(from_sdk)?;
        Ok(match out.change_info().map(|c| c.status()) {
            Some(ChangeStatus::Insync) => Poll::Ready(()),
            other => Poll::Pending(other.map_or("PENDING", |s| s.as_str()).to_string()),
        })
    })
    .await?;
    Ok(())
}

/// Every record set of a zone, 300 per ListResourceRecordSets page (which
/// pages by the next name and type, not a token).
pub(crate) async fn all_records(
    client: &Client,
    zone: &str,
) -> Result<Vec<aws_sdk_route53::types::ResourceRecordSet>, ProviderError> {
    let mut out = Vec::new();
    let (mut name, mut ty, mut identifier) = (None, None, None);
    loop {
        let call = client
            .list_resource_record_sets()
            .hosted_zone_id(zone)
            .set_start_record_name(name)
            .set_start_record_type(ty)
            .set_start_record_identifier(identifier);
        let page = call.send().await.map_err(from_sdk)?;
        out.extend(page.resource_record_sets);
        if !page.is_truncated {
            return Ok(out);
        }
        (name, ty, identifier) = (page.next_record_name, page.next_record_type, page.next_record_identifier);
    }
}
