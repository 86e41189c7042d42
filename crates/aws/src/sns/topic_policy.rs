//! `sns.topic_policy`: the access policy of an SNS topic, as a resource of
//! its own (Terraform's `aws_sns_topic_policy`).
//!
//! A topic's policy usually names the topic's own ARN (`Resource`), which
//! the topic's `policy` property cannot reference without a cycle; this kind
//! comes after the topic and can. The id is the topic ARN. Reads are one
//! GetTopicAttributes per topic, concurrently. Create and update are one
//! SetTopicAttributes (`Policy`), idempotent, with the id recorded before
//! the call, so a run killed in between finds it and converges it again.
//! Delete puts back the policy SNS gives a new topic (the owner account
//! may do everything); a topic already gone is success.

use crate::error::from_sdk;
use crate::kit::{attrs, model, Adopt, Created, Kind, Live};
use aws_sdk_sns::Client;
use deployctl_engine::{Observed, OpCtx, Props, ProviderError, ReadCtx};
use deployctl_spec::{Attr, KindSchema};
use serde_json::{json, Value};

model! {
    pub struct TopicPolicyModel {
        arn: String = "The topic's ARN (`${alerts.arn}`)." [required, replace],
        policy: Value = "The policy document, written as YAML (sent as JSON, compared semantically). Every \
                         statement's `Resource` is the topic's ARN." [required],
    }
}

pub static SCHEMA: KindSchema = KindSchema {
    type_name: "sns.topic_policy",
    doc: "The access policy of an SNS topic, as its own resource, so that the policy can name the topic's ARN \
          (`Resource: ${alerts.arn}`) and let services publish to it: EventBridge rules (`Principal: {Service: \
          events.amazonaws.com}`), S3 event notifications, CodeStar notifications. Do not also set the topic's \
          own `policy`. Destroying it puts back the policy SNS gives a new topic (only the owner account may use \
          it).",
    properties: <TopicPolicyModel as crate::kit::Model>::PROPS,
    attributes: &[Attr { name: "id", doc: "The topic ARN." }, Attr { name: "arn", doc: "The topic ARN." }],
    taggable: false,
    rules: &[],
    example: "alerts_policy:\n  type: sns.topic_policy\n  properties:\n    arn: ${alerts.arn}\n    policy:\n      \
              Version: \"2012-10-17\"\n      Statement:\n        - Sid: PipelineEvents\n          Effect: Allow\n          \
              Principal: {Service: events.amazonaws.com}\n          Action: sns:Publish\n          Resource: \
              ${alerts.arn}\n",
};

pub struct TopicPolicy {
    client: Client,
}

/// The policy SNS gives a new topic: the owner account may do everything.
pub fn default_policy(arn: &str) -> Value {
    let account = arn.split(':').nth(4).unwrap_or_default();
    json!({
        "Version": "2008-10-17",
        "Id": "__default_policy_ID",
        "Statement": [{
            "Sid": "__default_statement_ID",
            "Effect": "Allow",
            "Principal": {"AWS": "*"},
            "Action": [
                "SNS:GetTopicAttributes", "SNS:SetTopicAttributes", "SNS:AddPermission", "SNS:RemovePermission",
                "SNS:DeleteTopic", "SNS:Subscribe", "SNS:ListSubscriptionsByTopic", "SNS:Publish"
            ],
            "Resource": arn,
            "Condition": {"StringEquals": {"AWS:SourceOwner": account}}
        }]
    })
}

/// The policy to send; an empty one is refused before any call.
fn policy_text(v: &Value) -> Result<String, ProviderError> {
    super::topic::policy_text(Some(v)).ok_or_else(|| {
        ProviderError::new(Some("InvalidParameter".into()), "policy is empty")
            .with_hint("write the policy document as a YAML mapping")
    })
}

fn attributes(arn: &str) -> Props {
    attrs([("id", json!(arn)), ("arn", json!(arn))])
}

impl TopicPolicy {
    pub fn new(client: Client) -> TopicPolicy {
        TopicPolicy { client }
    }

    async fn read_one(&self, ctx: &ReadCtx, arn: &str) -> Result<Option<Live<TopicPolicyModel>>, ProviderError> {
        let out = match super::topic_attributes(&self.client, ctx, arn).await {
            Ok(out) => out,
            Err(e) if crate::kit::is_gone::<Self>(&e) => return Ok(None),
            Err(e) => return Err(e),
        };
        let policy = out.attributes().and_then(|a| a.get("Policy"));
        let policy = policy.map(|p| serde_json::from_str(p).unwrap_or_else(|_| json!(p))).unwrap_or(Value::Null);
        Ok(Some(Live {
            id: arn.to_string(),
            model: TopicPolicyModel { arn: arn.to_string(), policy },
            tags: Default::default(),
            attributes: attributes(arn),
        }))
    }

    async fn put(&self, arn: &str, policy: String) -> Result<(), ProviderError> {
        let call = self.client.set_topic_attributes().topic_arn(arn).attribute_name("Policy");
        call.attribute_value(policy).send().await.map_err(from_sdk).map_err(|e| {
            if crate::kit::is_gone::<Self>(&e) {
                e.with_hint(format!("the topic {arn} does not exist; create it first (arn: ${{topic.arn}})"))
            } else {
                e.with_hint("SNS refused the policy: check its JSON, and that every Resource is the topic's ARN")
            }
        })?;
        Ok(())
    }
}

#[async_trait::async_trait]
impl Kind for TopicPolicy {
    type Model = TopicPolicyModel;
    /// Nothing to find: a policy is not tagged, and setting it again is
    /// harmless.
    const ADOPT: Adopt = Adopt::Never;
    const GONE: &'static [&'static str] = super::topic::GONE;

    fn schema(&self) -> &'static KindSchema {
        &SCHEMA
    }

    async fn read(&self, ctx: &ReadCtx, ids: &[String]) -> Result<Vec<Live<TopicPolicyModel>>, ProviderError> {
        crate::read_each(ids.iter().map(|arn| self.read_one(ctx, arn))).await
    }

    async fn create(&self, ctx: &OpCtx, want: &TopicPolicyModel) -> Result<Created, ProviderError> {
        let arn = &want.arn;
        if !arn.starts_with("arn:") {
            return Err(ProviderError::new(Some("InvalidParameter".into()), format!("'{arn}' is not a topic ARN"))
                .with_hint("write arn: ${topic.arn}"));
        }
        let policy = policy_text(&want.policy)?;
        ctx.record_id(arn);
        self.put(arn, policy).await?;
        Ok(Created { id: arn.clone(), attributes: attributes(arn) })
    }

    async fn update(
        &self,
        _ctx: &OpCtx,
        live: &Observed,
        want: &TopicPolicyModel,
        _changed: &[&str],
    ) -> Result<Option<Props>, ProviderError> {
        self.put(&live.id, policy_text(&want.policy)?).await?;
        Ok(None)
    }

    async fn delete(&self, _ctx: &OpCtx, live: &Observed, _: Option<&TopicPolicyModel>) -> Result<(), ProviderError> {
        self.put(&live.id, default_policy(&live.id).to_string()).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_policy_names_the_topic_and_its_owner() {
        let p = default_policy("arn:aws:sns:us-east-1:123456789012:alerts");
        assert_eq!(p["Statement"][0]["Resource"], "arn:aws:sns:us-east-1:123456789012:alerts");
        assert_eq!(p["Statement"][0]["Condition"]["StringEquals"]["AWS:SourceOwner"], "123456789012");
    }

    #[test]
    fn an_empty_policy_is_refused_before_any_call() {
        assert!(policy_text(&json!({})).is_err());
        assert!(policy_text(&Value::Null).is_err());
        assert_eq!(policy_text(&json!({"Version": "2012-10-17"})).unwrap(), r#"{"Version":"2012-10-17"}"#);
    }
}
