//! Amazon Cognito user pool kinds: the pool, an app client and the hosted
//! domain. A client's generated secret is never read into state: other
//! resources take it through the `cognito:POOL_ID/CLIENT_ID` secret source
//! (see `secret_store`).

pub mod client;
pub mod domain;
pub mod user_pool;

use crate::error::from_sdk;
use aws_sdk_cognitoidentityprovider::types::UserPoolType;
use aws_sdk_cognitoidentityprovider::Client;
use deployctl_engine::ProviderError;

/// `<stack>-<address>` as Cognito names pools and clients.
pub(crate) fn default_name(stack: &str, address: &str) -> String {
    crate::kit::names::sanitized_name(
        &format!("{stack}-{address}"),
        |c| c.is_alphanumeric() || "+=,.@-_".contains(c),
        128,
    )
}

/// One pool; `None` when it is gone.
pub(crate) async fn describe_pool(client: &Client, id: &str) -> Result<Option<UserPoolType>, ProviderError> {
    let out = client.describe_user_pool().user_pool_id(id).send().await.map_err(from_sdk);
    Ok(crate::kit::unless_gone(out, crate::is_not_found)?.and_then(|o| o.user_pool))
}
