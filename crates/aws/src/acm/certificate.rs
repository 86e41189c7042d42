//! `acm.certificate`: a public certificate that AWS Certificate Manager
//! issues and renews, validated by DNS (or email).
//!
//! Create is one RequestCertificate with the tags and an idempotency token
//! (the step's client token: a create repeated by a run killed before it
//! recorded the ARN gets the same certificate back within the hour), then
//! DescribeCertificate until AWS has worked out the DNS records that prove
//! each name: seconds. Those records are the attributes, for the
//! `route53.record` that writes them; `acm.certificate_validation` then
//! waits until the certificate is issued. Every property forces a new
//! certificate, which is made before the old one is deleted, so a listener
//! moves over to it.
//!
//! Reads: one DescribeCertificate and one ListTagsForCertificate per
//! certificate (ACM has no batch read). Adoption after a crash of more than
//! an hour: one ListCertificates, then the tags of those with a wanted
//! domain name.

use crate::error::from_sdk;
use crate::kit::tagger::AcmTags;
use crate::kit::{attrs, model, own_tags, Adopt, Created, Kind, Live, Model, Tagger, Tags};
use aws_sdk_acm::types::{CertificateDetail, CertificateStatus, DomainValidation, KeyAlgorithm, Tag, ValidationMethod};
use aws_sdk_acm::Client;
use deployctl_engine::{Observed, OpCtx, Poll, Props, ProviderError, ReadCtx};
use deployctl_spec::{Attr, KindSchema, Literals, RuleViolation};
use serde_json::{json, Value};
use std::collections::BTreeSet;

model! {
    pub struct CertificateModel {
        domain_name: String = "The name it is for, e.g. `shop.example.com` or `*.example.com` (a wildcard \
            covers one level)." [required, replace, name(1, 253, "A-Za-z0-9.*-")],
        subject_alternative_names: Option<Vec<String>> = "More names it is for, e.g. `[\"*.example.com\"]`. \
            Unset: none." [replace],
        validation_method: String = "`DNS` (a CNAME record per name, which also lets AWS renew it) or `EMAIL`."
            [default("\"DNS\""), replace, one_of(ValidationMethod::values())],
        key_algorithm: String = "The key: `RSA_2048`, `EC_prime256v1`, `EC_secp384r1`, …"
            [default("\"RSA_2048\""), replace, one_of(KeyAlgorithm::values())],
    }
}

pub static SCHEMA: KindSchema = KindSchema {
    type_name: "acm.certificate",
    doc: "A public TLS certificate from AWS Certificate Manager, for a load balancer's HTTPS listener or a \
          CloudFront distribution. With DNS validation its attributes are the CNAME record that proves the names \
          (a name and its wildcard share one); write it with a `route53.record`, and let an \
          `acm.certificate_validation` wait until the certificate is issued. Every property forces a new \
          certificate, created before the old one is deleted.",
    properties: <CertificateModel as Model>::PROPS,
    attributes: &[
        Attr { name: "id", doc: "The certificate's ARN." },
        Attr { name: "arn", doc: "The certificate's ARN." },
        Attr { name: "status", doc: "`PENDING_VALIDATION`, `ISSUED`, `FAILED`, … as last read." },
        Attr { name: "validation_record_name", doc: "The CNAME record's name that proves `domain_name` (DNS)." },
        Attr { name: "validation_record_type", doc: "The validation record's type: `CNAME`." },
        Attr { name: "validation_record_value", doc: "The CNAME record's value that proves `domain_name` (DNS)." },
        Attr {
            name: "validation_records",
            doc: "Every name's validation record, as a list of `{domain_name, name, type, value}` (one per \
                  distinct record).",
        },
    ],
    taggable: true,
    rules: &[names_fit],
    example: "cert:\n  type: acm.certificate\n  properties:\n    domain_name: shop.example.com\n    subject_alternative_names: [\"*.shop.example.com\"]\n",
};

/// What RequestCertificate refuses: more than 10 names in all (the default
/// quota), a wildcard that is not the first label, a name repeated.
fn names_fit(p: &Literals) -> Option<RuleViolation> {
    let mut names = Vec::new();
    if let Some(Some(Value::String(d))) = p.get("domain_name") {
        names.push(d.as_str());
    }
    if let Some(Some(Value::Array(sans))) = p.get("subject_alternative_names") {
        names.extend(sans.iter().filter_map(Value::as_str));
    }
    let violation = |field, message: String, hint: &str| Some(RuleViolation { field, message, hint: hint.into() });
    if names.len() > 10 {
        return violation(
            "subject_alternative_names",
            format!("{} names in all; ACM takes 10 per certificate", names.len()),
            "split the names over two certificates (a listener takes several)",
        );
    }
    if let Some(bad) = names.iter().find(|n| n.contains('*') && !(n.starts_with("*.") && n.matches('*').count() == 1)) {
        return violation(
            "domain_name",
            format!("{bad:?}: a wildcard is only the whole first label, as in *.example.com"),
            "write the wildcard as *.NAME",
        );
    }
    let mut seen = BTreeSet::new();
    if let Some(dup) = names.iter().find(|n| !seen.insert(n.to_ascii_lowercase())) {
        return violation("subject_alternative_names", format!("{dup:?} is named twice"), "name each domain once");
    }
    None
}

/// The DNS records that prove the names, one per distinct record (a name
/// and its wildcard share one), the domain name's first.
fn validation_records(c: &CertificateDetail) -> Vec<(String, String, String, String)> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    let options: Vec<&DomainValidation> = c.domain_validation_options().iter().collect();
    for o in options {
        let Some(r) = o.resource_record() else { continue };
        let name = r.name().trim_end_matches('.').to_string();
        if seen.insert(name.clone()) {
            out.push((o.domain_name().to_string(), name, r.r#type().as_str().to_string(), r.value().to_string()));
        }
    }
    out
}

fn attributes(c: &CertificateDetail) -> Props {
    let arn = c.certificate_arn().unwrap_or_default();
    let records = validation_records(c);
    let first = records.first();
    let list: Vec<Value> =
        records.iter().map(|(d, n, t, v)| json!({"domain_name": d, "name": n, "type": t, "value": v})).collect();
    attrs([
        ("id", json!(arn)),
        ("arn", json!(arn)),
        ("status", json!(c.status().map(|s| s.as_str()))),
        ("validation_record_name", json!(first.map(|r| &r.1))),
        ("validation_record_type", json!(first.map(|r| &r.2))),
        ("validation_record_value", json!(first.map(|r| &r.3))),
        ("validation_records", Value::Array(list)),
    ])
}

fn model_of(c: &CertificateDetail) -> CertificateModel {
    let domain = c.domain_name().unwrap_or_default().to_string();
    // AWS lists the domain name among the alternative names.
    let sans: Vec<String> = c.subject_alternative_names().iter().filter(|n| **n != domain).cloned().collect();
    let method = c.domain_validation_options().first().and_then(|o| o.validation_method());
    CertificateModel {
        domain_name: domain,
        subject_alternative_names: Some(sans).filter(|s| !s.is_empty()),
        validation_method: method.map_or("DNS", |m| m.as_str()).to_string(),
        key_algorithm: c.key_algorithm().map_or("RSA_2048", |k| k.as_str()).to_string(),
    }
}

/// The idempotency token ACM takes: at most 32 letters and digits.
fn token(client_token: &str) -> String {
    client_token.chars().filter(char::is_ascii_alphanumeric).take(32).collect()
}

pub struct Certificate {
    client: Client,
    tags: AcmTags,
}

impl Certificate {
    pub fn new(client: Client) -> Certificate {
        Certificate { tags: AcmTags(client.clone()), client }
    }

    async fn tags_of(&self, arn: &str) -> Result<Option<Tags>, ProviderError> {
        let out = self.client.list_tags_for_certificate().certificate_arn(arn).send().await.map_err(from_sdk);
        let out = crate::kit::unless_gone(out, crate::is_not_found)?;
        Ok(out.map(|o| own_tags(o.tags().iter().map(|t| (t.key(), t.value().unwrap_or_default())))))
    }

    async fn read_one(&self, arn: &str) -> Result<Option<Live<CertificateModel>>, ProviderError> {
        let (detail, tags) = futures::try_join!(super::describe(&self.client, arn), self.tags_of(arn))?;
        let (Some(c), Some(tags)) = (detail, tags) else { return Ok(None) };
        Ok(Some(Live { id: arn.to_string(), model: model_of(&c), attributes: attributes(&c), tags }))
    }

    /// Waits until AWS has worked out the validation record of every name
    /// (DNS), and answers the certificate then.
    async fn with_records(&self, ctx: &OpCtx, arn: &str) -> Result<CertificateDetail, ProviderError> {
        let (client, arn) = (&self.client, arn);
        let c = ctx
            .wait_for("the certificate's DNS validation records", move || async move {
                let Some(c) = super::describe(client, arn).await? else {
                    return Ok(Poll::Pending("not visible yet".into()));
                };
                let dns = c
                    .domain_validation_options()
                    .iter()
                    .all(|o| o.validation_method() != Some(&ValidationMethod::Dns) || o.resource_record().is_some());
                let listed = !c.domain_validation_options().is_empty()
                    || c.status() != Some(&CertificateStatus::PendingValidation);
                Ok(if dns && listed { Poll::Ready(c) } else { Poll::Pending("records not listed yet".into()) })
            })
            .await?;
        Ok(c)
    }
}

#[async_trait::async_trait]
impl Kind for Certificate {
    type Model = CertificateModel;
    const ADOPT: Adopt = Adopt::Custom;

    fn schema(&self) -> &'static KindSchema {
        &SCHEMA
    }

    fn tagger(&self) -> Option<&dyn Tagger> {
        Some(&self.tags)
    }

    async fn read(&self, _ctx: &ReadCtx, ids: &[String]) -> Result<Vec<Live<CertificateModel>>, ProviderError> {
        crate::read_each(ids.iter().map(|arn| self.read_one(arn))).await
    }

    async fn find_existing(
        &self,
        ctx: &ReadCtx,
        wanted: &[(String, Props)],
    ) -> Result<Vec<(String, Observed)>, ProviderError> {
        let domains: BTreeSet<&str> = wanted.iter().filter_map(|(_, p)| p.get("domain_name")?.as_str()).collect();
        if domains.is_empty() {
            return Ok(Vec::new());
        }
        let mut arns = Vec::new();
        let mut pages = self.client.list_certificates().into_paginator().send();
        while let Some(page) = pages.next().await {
            for c in page.map_err(from_sdk)?.certificate_summary_list() {
                if c.domain_name().is_some_and(|d| domains.contains(d)) {
                    arns.extend(c.certificate_arn().map(str::to_string));
                }
            }
        }
        let found = crate::read_each(arns.iter().map(|arn| self.read_one(arn))).await?;
        Ok(crate::kit::this_stacks(found, &ctx.stack))
    }

    async fn create(&self, ctx: &OpCtx, want: &CertificateModel) -> Result<Created, ProviderError> {
        let tags = ctx.tags.iter().map(|(k, v)| Tag::builder().key(k).value(v).build());
        let tags = tags.collect::<Result<Vec<_>, _>>().map_err(|e| ProviderError::msg(e.to_string()))?;
        let out = self
            .client
            .request_certificate()
            .domain_name(&want.domain_name)
            .set_subject_alternative_names(want.subject_alternative_names.clone().filter(|s| !s.is_empty()))
            .validation_method(ValidationMethod::from(want.validation_method.as_str()))
            .key_algorithm(KeyAlgorithm::from(want.key_algorithm.as_str()))
            .idempotency_token(token(&ctx.client_token))
            .set_tags(Some(tags))
            .send()
            .await
            .map_err(from_sdk)?;
        let arn = out.certificate_arn().unwrap_or_default().to_string();
        ctx.record_id(&arn);
        let c = self.with_records(ctx, &arn).await?;
        Ok(Created { id: arn, attributes: attributes(&c) })
    }

    async fn resume(&self, ctx: &OpCtx, current: &Observed) -> Result<Observed, ProviderError> {
        let c = self.with_records(ctx, &current.id).await?;
        Ok(Observed { attributes: attributes(&c), ..current.clone() })
    }

    async fn delete(&self, ctx: &OpCtx, live: &Observed, _: Option<&CertificateModel>) -> Result<(), ProviderError> {
        // A listener deleted a moment ago may still hold the certificate.
        let what = "the certificate to be released by its load balancers";
        crate::kit::delete_when_released(ctx, what, "ResourceInUseException", || async {
            self.client.delete_certificate().certificate_arn(&live.id).send().await.map_err(from_sdk)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::kit::literals as lit;

    #[test]
    fn names_acm_refuses_are_refused_offline() {
        let ok = lit(json!({"domain_name": "shop.example.com", "subject_alternative_names": ["*.shop.example.com"]}));
        assert!(names_fit(&ok).is_none());
        let wild = lit(json!({"domain_name": "a.*.example.com"}));
        assert!(names_fit(&wild).unwrap().message.contains("first label"));
        let dup = lit(json!({"domain_name": "a.example.com", "subject_alternative_names": ["A.example.com"]}));
        assert!(names_fit(&dup).unwrap().message.contains("twice"));
        let many: Vec<String> = (0..10).map(|i| format!("n{i}.example.com")).collect();
        let many = lit(json!({"domain_name": "example.com", "subject_alternative_names": many}));
        assert!(names_fit(&many).unwrap().message.contains("11 names"));
    }

    #[test]
    fn the_idempotency_token_is_what_acm_takes() {
        let t = token("0123456789abcdef0123456789abcdef-extra");
        assert_eq!(t, "0123456789abcdef0123456789abcdef");
    }
}
