//! AWS Certificate Manager kinds: a certificate, and the wait for it to be
//! issued once its DNS validation records exist.

pub mod certificate;
pub mod validation;

use crate::error::from_sdk;
use aws_sdk_acm::types::CertificateDetail;
use aws_sdk_acm::Client;
use deployctl_engine::ProviderError;

/// One certificate's details; `None` when it is gone.
pub(crate) async fn describe(client: &Client, arn: &str) -> Result<Option<CertificateDetail>, ProviderError> {
    match client.describe_certificate().certificate_arn(arn).send().await.map_err(from_sdk) {
        Ok(out) => Ok(out.certificate),
        Err(e) if crate::is_not_found(&e) || e.code_is("InvalidArnException") => Ok(None),
        Err(e) => Err(e),
    }
}
