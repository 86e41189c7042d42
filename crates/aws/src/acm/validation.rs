//! `acm.certificate_validation`: the wait until a certificate is issued,
//! as a step of its own, after its DNS validation records are written (a
//! certificate cannot wait in its own create: the records need its
//! attributes). It makes nothing in AWS: its id is the certificate's ARN,
//! a read finds it only while the certificate is `ISSUED`, and delete
//! forgets it.
//!
//! The wait polls DescribeCertificate with progress until `ISSUED`, and
//! fails at once, with ACM's reason, on `FAILED`, `VALIDATION_TIMED_OUT`,
//! `REVOKED` or `EXPIRED`; the resource's `timeouts.create` bounds it
//! (AWS: minutes after the records resolve; ACM gives up after 72 hours).
//! Killed during the wait, the next run waits again: nothing is created.

use crate::kit::{attrs, model, Adopt, Created, Kind, Live, Model};
use aws_sdk_acm::types::{CertificateDetail, CertificateStatus};
use aws_sdk_acm::Client;
use deployctl_engine::{Observed, OpCtx, Poll, Props, ProviderError, ReadCtx};
use deployctl_spec::{Attr, KindSchema};
use serde_json::json;

model! {
    pub struct ValidationModel {
        certificate_arn: String = "The certificate, usually `${cert.arn}`." [required, replace],
        validation_record_fqdns: Option<Vec<String>> = "The validation records' names, e.g. \
            `[\"${cert_dns.fqdn}\"]`: they order the wait after the records exist, and are not sent to AWS."
            [state_only],
    }
}

pub static SCHEMA: KindSchema = KindSchema {
    type_name: "acm.certificate_validation",
    doc: "Waits until an ACM certificate is issued, after its DNS validation records exist (as Terraform's \
          aws_acm_certificate_validation). Use its `certificate_arn` in a listener, so the listener is made \
          with an issued certificate. Fails with ACM's reason if validation fails or times out. Makes and \
          deletes nothing in AWS.",
    properties: <ValidationModel as Model>::PROPS,
    attributes: &[
        Attr { name: "id", doc: "The certificate's ARN." },
        Attr { name: "certificate_arn", doc: "The issued certificate's ARN." },
        Attr { name: "not_after", doc: "When the certificate expires (RFC 3339); ACM renews it before." },
    ],
    taggable: false,
    rules: &[],
    example: "cert_valid:\n  type: acm.certificate_validation\n  properties:\n    certificate_arn: ${cert.arn}\n    validation_record_fqdns: [\"${cert_dns.fqdn}\"]\n",
};

fn attributes(c: &CertificateDetail) -> Props {
    let not_after = c.not_after().and_then(|t| t.fmt(aws_smithy_types::date_time::Format::DateTime).ok());
    attrs([
        ("id", json!(c.certificate_arn())),
        ("certificate_arn", json!(c.certificate_arn())),
        ("not_after", json!(not_after)),
    ])
}

/// Why a certificate will not be issued: ACM's status and reason, and what
/// to do.
fn refused(arn: &str, c: &CertificateDetail) -> ProviderError {
    let status = c.status().map_or("", |s| s.as_str());
    let reason = c.failure_reason().map(|r| r.as_str().to_string()).unwrap_or_else(|| "no reason given".into());
    let (message, hint) = match c.status() {
        Some(CertificateStatus::ValidationTimedOut) => (
            format!("certificate {arn} was not validated: ACM gave up waiting for its DNS records (72 hours)"),
            format!(
                "check that the validation CNAME resolves in public DNS (is the zone delegated?), then delete the \
                 certificate and run up again, which requests a new one: aws acm delete-certificate \
                 --certificate-arn {arn}"
            ),
        ),
        _ => (
            format!("certificate {arn} is {status}: {reason}"),
            match reason.as_str() {
                "CAA_ERROR" => "a CAA record of the domain forbids Amazon: add `0 issue \"amazon.com\"`",
                "DOMAIN_NOT_ALLOWED" | "ADDITIONAL_VERIFICATION_REQUIRED" => {
                    "ACM needs more for this domain: open a case with AWS Support"
                }
                _ => "fix what ACM names",
            }
            .to_string()
                + &format!(
                    "; then delete the certificate and run up again, which requests a new one: aws acm \
                     delete-certificate --certificate-arn {arn}"
                ),
        ),
    };
    ProviderError::new(Some(status.to_string()), message).with_hint(hint)
}

pub struct Validation {
    client: Client,
}

impl Validation {
    pub fn new(client: Client) -> Validation {
        Validation { client }
    }

    async fn wait_issued(&self, ctx: &OpCtx, arn: &str) -> Result<CertificateDetail, ProviderError> {
        let (client, arn) = (&self.client, arn);
        let c = ctx
            .wait_for("the certificate to be issued", move || async move {
                let Some(c) = super::describe(client, arn).await? else {
                    return Err(ProviderError::new(
                        Some("ResourceNotFoundException".into()),
                        format!("certificate {arn} is gone"),
                    ));
                };
                Ok(match c.status() {
                    Some(CertificateStatus::Issued) => Poll::Ready(c),
                    Some(CertificateStatus::PendingValidation) | None => Poll::Pending("PENDING_VALIDATION".into()),
                    Some(_) => return Err(refused(arn, &c)),
                })
            })
            .await?;
        Ok(c)
    }
}

#[async_trait::async_trait]
impl Kind for Validation {
    type Model = ValidationModel;
    const ADOPT: Adopt = Adopt::Never;

    fn schema(&self) -> &'static KindSchema {
        &SCHEMA
    }

    async fn read(&self, _ctx: &ReadCtx, ids: &[String]) -> Result<Vec<Live<ValidationModel>>, ProviderError> {
        let reads = ids.iter().map(|arn| async move {
            let c = super::describe(&self.client, arn).await?;
            // Not issued (any more): the next run waits, or says why not.
            let c = c.filter(|c| c.status() == Some(&CertificateStatus::Issued));
            Ok(c.map(|c| Live {
                id: arn.clone(),
                model: ValidationModel { certificate_arn: arn.clone(), validation_record_fqdns: None },
                tags: Default::default(),
                attributes: attributes(&c),
            }))
        });
        crate::read_each(reads).await
    }

    async fn create(&self, ctx: &OpCtx, want: &ValidationModel) -> Result<Created, ProviderError> {
        ctx.record_id(&want.certificate_arn);
        let c = self.wait_issued(ctx, &want.certificate_arn).await?;
        Ok(Created { id: want.certificate_arn.clone(), attributes: attributes(&c) })
    }

    async fn update(
        &self,
        _: &OpCtx,
        _: &Observed,
        _: &ValidationModel,
        _: &[&str],
    ) -> Result<Option<Props>, ProviderError> {
        // Only the records' names changed: nothing to do in AWS.
        Ok(None)
    }

    async fn resume(&self, ctx: &OpCtx, current: &Observed) -> Result<Observed, ProviderError> {
        let c = self.wait_issued(ctx, &current.id).await?;
        Ok(Observed { attributes: attributes(&c), ..current.clone() })
    }

    async fn delete(&self, _: &OpCtx, _: &Observed, _: Option<&ValidationModel>) -> Result<(), ProviderError> {
        Ok(())
    }
}
