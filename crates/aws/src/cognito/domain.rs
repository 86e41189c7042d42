//! `cognito.user_pool_domain`: the hosted sign-in pages' domain, a prefix
//! of `auth.<region>.amazoncognito.com` or a domain of one's own with an
//! ACM certificate (in us-east-1).
//!
//! The domain is the id and natural key. Create is one
//! CreateUserPoolDomain; one repeated after a crash finds the domain
//! already the pool's and takes it. The certificate changes in place
//! (UpdateUserPoolDomain); the domain and pool force a new one. Reads:
//! one DescribeUserPoolDomain per domain (a domain that does not exist
//! describes as empty).

use crate::error::from_sdk;
use crate::kit::{attrs, model, Adopt, Created, Kind, Live, Model};
use aws_sdk_cognitoidentityprovider::types::{CustomDomainConfigType, DomainDescriptionType};
use aws_sdk_cognitoidentityprovider::Client;
use deployctl_engine::{Observed, OpCtx, Props, ProviderError, ReadCtx};
use deployctl_spec::{Attr, KindSchema, Literals, RuleViolation};
use serde_json::{json, Value};

model! {
    pub struct DomainModel {
        domain: String = "A prefix (`shop-signin` gives `shop-signin.auth.<region>.amazoncognito.com`), or a full \
            domain of your own with `certificate_arn`." [required, replace, unique, name(1, 63, "a-z0-9.-")],
        user_pool_id: String = "The `cognito.user_pool`'s id." [required, replace],
        certificate_arn: Option<String> = "For a domain of your own: an ACM certificate for it, in us-east-1." [],
    }
}

pub static SCHEMA: KindSchema = KindSchema {
    type_name: "cognito.user_pool_domain",
    doc: "The domain of a user pool's hosted sign-in pages: a prefix under `amazoncognito.com`, or a domain of your \
          own with an ACM certificate in us-east-1 (Cognito serves it through CloudFront; point an alias record at \
          the `cloudfront_distribution` attribute).",
    properties: <DomainModel as Model>::PROPS,
    attributes: &[
        Attr { name: "id", doc: "The domain." },
        Attr { name: "domain", doc: "The domain." },
        Attr { name: "url", doc: "The hosted pages' base URL (`https://…`)." },
        Attr { name: "cloudfront_distribution", doc: "For a domain of your own: the CloudFront name to alias it to." },
    ],
    taggable: false,
    rules: &[prefix_or_domain],
    example: "auth:\n  type: cognito.user_pool_domain\n  properties:\n    domain: shop-signin\n    user_pool_id: ${users.id}\n",
};

/// A prefix has no dots and may not say `aws`, `amazon` or `cognito`; a
/// domain of one's own has dots and a certificate.
fn prefix_or_domain(p: &Literals) -> Option<RuleViolation> {
    let Some(Some(Value::String(d))) = p.get("domain") else { return None };
    let custom = p.contains_key("certificate_arn");
    let violation = |message: String, hint: &str| Some(RuleViolation { field: "domain", message, hint: hint.into() });
    if !custom && d.contains('.') {
        return violation(
            format!("{d:?} has dots: a domain of your own needs certificate_arn"),
            "write a prefix without dots, or add certificate_arn: an ACM certificate in us-east-1",
        );
    }
    if !custom && ["aws", "amazon", "cognito"].iter().any(|w| d.contains(w)) {
        return violation(
            format!("{d:?}: a Cognito prefix may not contain aws, amazon or cognito"),
            "choose another prefix",
        );
    }
    if d.starts_with('-') || d.ends_with('-') {
        return violation(format!("{d:?} starts or ends with '-'"), "start and end with a letter or digit");
    }
    None
}

fn attributes(d: &DomainDescriptionType, region: &str) -> Props {
    let domain = d.domain().unwrap_or_default();
    let host = if d.custom_domain_config().is_some() || domain.contains('.') {
        domain.to_string()
    } else {
        format!("{domain}.auth.{region}.amazoncognito.com")
    };
    attrs([
        ("id", json!(domain)),
        ("domain", json!(domain)),
        ("url", json!(format!("https://{host}"))),
        ("cloudfront_distribution", json!(d.cloud_front_distribution())),
    ])
}

pub struct Domain {
    client: Client,
}

impl Domain {
    pub fn new(client: Client) -> Domain {
        Domain { client }
    }

    async fn describe(&self, domain: &str) -> Result<Option<DomainDescriptionType>, ProviderError> {
        let out = self.client.describe_user_pool_domain().domain(domain).send().await.map_err(from_sdk);
        let out = crate::kit::unless_gone(out, crate::is_not_found)?;
        Ok(out.and_then(|o| o.domain_description).filter(|d| d.domain().is_some_and(|n| !n.is_empty())))
    }
}

fn custom(arn: &str) -> Result<CustomDomainConfigType, ProviderError> {
    CustomDomainConfigType::builder().certificate_arn(arn).build().map_err(|e| ProviderError::msg(e.to_string()))
}

#[async_trait::async_trait]
impl Kind for Domain {
    type Model = DomainModel;
    const ADOPT: Adopt = Adopt::Never;

    fn schema(&self) -> &'static KindSchema {
        &SCHEMA
    }

    async fn read(&self, ctx: &ReadCtx, ids: &[String]) -> Result<Vec<Live<DomainModel>>, ProviderError> {
        let reads = ids.iter().map(|id| async move {
            Ok::<_, ProviderError>(self.describe(id).await?.map(|d| Live {
                id: id.clone(),
                model: DomainModel {
                    domain: d.domain().unwrap_or_default().to_string(),
                    user_pool_id: d.user_pool_id().unwrap_or_default().to_string(),
                    certificate_arn: d.custom_domain_config().map(|c| c.certificate_arn().to_string()),
                },
                attributes: attributes(&d, &ctx.region),
                tags: Default::default(),
            }))
        });
        crate::read_each(reads).await
    }

    async fn create(&self, ctx: &OpCtx, want: &DomainModel) -> Result<Created, ProviderError> {
        let call = self.client.create_user_pool_domain().domain(&want.domain).user_pool_id(&want.user_pool_id);
        let sent = call.set_custom_domain_config(want.certificate_arn.as_deref().map(custom).transpose()?).send().await;
        if let Err(e) = sent.map_err(from_sdk) {
            // A create repeated after a crash: the domain is already this pool's.
            let existing = self.describe(&want.domain).await?;
            if existing.as_ref().and_then(|d| d.user_pool_id()) != Some(want.user_pool_id.as_str()) {
                return Err(e);
            }
        }
        ctx.record_id(&want.domain);
        let d = self.describe(&want.domain).await?.unwrap_or_else(|| {
            DomainDescriptionType::builder().domain(&want.domain).user_pool_id(&want.user_pool_id).build()
        });
        Ok(Created { id: want.domain.clone(), attributes: attributes(&d, &ctx.region) })
    }

    async fn update(
        &self,
        _ctx: &OpCtx,
        live: &Observed,
        want: &DomainModel,
        _changed: &[&str],
    ) -> Result<Option<Props>, ProviderError> {
        let Some(arn) = want.certificate_arn.as_deref() else {
            return Err(ProviderError::msg(format!("{}: a domain of your own keeps a certificate", live.id))
                .with_hint("give certificate_arn another certificate, or replace the domain with a prefix"));
        };
        let call = self.client.update_user_pool_domain().domain(&live.id).user_pool_id(&want.user_pool_id);
        call.custom_domain_config(custom(arn)?).send().await.map_err(from_sdk)?;
        Ok(None)
    }

    async fn delete(&self, _ctx: &OpCtx, live: &Observed, recorded: Option<&DomainModel>) -> Result<(), ProviderError> {
        let pool = recorded
            .map(|r| r.user_pool_id.clone())
            .or_else(|| live.properties.get("user_pool_id").and_then(Value::as_str).map(str::to_string))
            .unwrap_or_default();
        let out = self.client.delete_user_pool_domain().domain(&live.id).user_pool_id(pool).send().await;
        match out.map_err(from_sdk) {
            // Cognito says a missing domain is an invalid parameter.
            Err(e) if e.code_is("InvalidParameterException") && self.describe(&live.id).await?.is_none() => Ok(()),
            other => other.map(|_| ()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::kit::literals as lit;

    #[test]
    fn prefixes_and_domains_of_ones_own_are_told_apart() {
        assert!(prefix_or_domain(&lit(json!({"domain": "shop-auth"}))).is_none());
        assert!(prefix_or_domain(&lit(json!({"domain": "auth.shop.com"})))
            .unwrap()
            .message
            .contains("certificate_arn"));
        assert!(prefix_or_domain(&lit(json!({"domain": "auth.shop.com", "certificate_arn": "arn:x"}))).is_none());
        assert!(prefix_or_domain(&lit(json!({"domain": "my-cognito"}))).is_some());
    }
}
