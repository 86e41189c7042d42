//! `sns.topic`: an SNS topic, its display name, encryption, access policy
//! and subscriptions.
//!
//! The id is the topic ARN. Reads are one GetTopicAttributes, one
//! ListTagsForResource and one ListSubscriptionsByTopic per topic, the
//! topics concurrently. Topics cannot be listed by tag and their ARN needs
//! the account id: adoption lists the topics (ListTopics, 100 a page),
//! picks the candidate's name and adopts it only if it carries this stack's
//! and this resource's tags.
//!
//! CreateTopic answers with the existing ARN when the name is taken (with
//! the same attributes): create then checks the tags before it records the
//! topic as this resource's.
//!
//! Subscriptions are the topic's `(protocol, endpoint)` pairs: new ones are
//! subscribed, removed ones unsubscribed. An email (or HTTP) subscription
//! stays `PendingConfirmation` until its owner confirms it: it counts as
//! present, but has no ARN to unsubscribe, so removing it is skipped with a
//! progress note (AWS drops unconfirmed subscriptions after three days).

use crate::elbv2::{want, want_str};
use crate::error::from_sdk;
use crate::tags::{is_ours, is_this_stacks, tag_changes};
use async_trait::async_trait;
use aws_sdk_sns::types::Tag;
use aws_sdk_sns::Client;
use deployctl_engine::kind::{TAG_RESOURCE, TAG_STACK};
use deployctl_engine::{Observed, OpCtx, Props, ProviderError, ReadCtx, ResourceKind};
use deployctl_spec::{Attr, KindSchema, Prop, Type};
use futures::future::join_all;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

/// A subscription not yet confirmed has this instead of an ARN.
const PENDING: &str = "PendingConfirmation";

static SUBSCRIPTION: [Prop; 2] = [
    Prop::new(
        "protocol",
        Type::String,
        "`email`, `email-json`, `https`, `http`, `sms`, `sqs`, `lambda`, `firehose` or `application`.",
    )
    .required(),
    Prop::new(
        "endpoint",
        Type::String,
        "Where messages go: an address for email, a URL for http(s), a phone number for sms, an ARN for sqs, \
         lambda and firehose.",
    )
    .required(),
];

pub static SCHEMA: KindSchema = KindSchema {
    type_name: "sns.topic",
    doc: "An SNS topic and its subscriptions. Email subscriptions wait for their owner to confirm them (a link in \
          the email); until then they cannot be removed. Alarms publish to it through `alarm_actions: \
          [\"${topic.arn}\"]`; with `kms_master_key_id` set, the key's policy must let the publishing service use \
          it.",
    properties: &[
        Prop::new(
            "name",
            Type::String,
            "The topic name: letters, digits, `-` and `_` (a FIFO topic's ends with `.fifo`). Unset: \
             `<stack>-<address>`.",
        )
        .replace()
        .unique(),
        Prop::new("display_name", Type::String, "The name shown as the sender of SMS and email messages."),
        Prop::new(
            "kms_master_key_id",
            Type::String,
            "The KMS key that encrypts messages at rest (`alias/aws/sns` for the AWS managed key). Unset: not \
             managed.",
        ),
        Prop::new("fifo_topic", Type::Bool, "Whether the topic is FIFO (ordered, deduplicated).")
            .default("false")
            .replace(),
        Prop::new(
            "policy",
            Type::Document,
            "The topic's access policy, written as YAML. Unset: not managed (SNS's default lets the owner \
             account use the topic).",
        ),
        Prop::new(
            "subscriptions",
            Type::Set(&Type::Object(&SUBSCRIPTION)),
            "The topic's subscriptions. Unset: not managed; `[]` removes them all (except those still pending \
             confirmation).",
        ),
    ],
    attributes: &[
        Attr { name: "id", doc: "The topic ARN." },
        Attr { name: "arn", doc: "The topic ARN, for alarm actions and notifications." },
        Attr { name: "name", doc: "The topic name." },
    ],
    taggable: true,
    rules: &[],
    example: "alerts:\n  type: sns.topic\n  properties:\n    display_name: Shop alerts\n    subscriptions:\n      \
              - {protocol: email, endpoint: ops@example.com}\n",
};

pub struct Topic {
    client: Client,
}

/// `<stack>-<address>` as a topic name (letters, digits, `-`, `_`; at most
/// 256 with `.fifo`).
pub fn default_name(stack: &str, address: &str, fifo: bool) -> String {
    let allowed = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    if fifo {
        format!("{}.fifo", crate::iam::sanitized_name(&format!("{stack}-{address}"), allowed, 251))
    } else {
        crate::iam::sanitized_name(&format!("{stack}-{address}"), allowed, 256)
    }
}

fn is_fifo(desired: &Props) -> bool {
    want(&SCHEMA, desired, "fifo_topic").and_then(|v| v.as_bool()).unwrap_or(false)
}

/// The name the spec asks for, or the default one.
fn topic_name(stack: &str, address: &str, desired: &Props) -> String {
    want_str(&SCHEMA, desired, "name").unwrap_or_else(|| default_name(stack, address, is_fifo(desired)))
}

fn name_of(arn: &str) -> &str {
    arn.rsplit(':').next().unwrap_or(arn)
}

pub(super) fn not_found(e: &ProviderError) -> bool {
    e.code_is("NotFound") || e.code_is("NotFoundException") || e.code_is("ResourceNotFound")
}

fn sns_tags(tags: &BTreeMap<String, String>) -> Result<Vec<Tag>, ProviderError> {
    tags.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build().map_err(|e| ProviderError::msg(e.to_string())))
        .collect()
}

/// A policy document as text to send: YAML written as a mapping, or a JSON
/// string as it is.
pub(super) fn policy_text(v: Option<&Value>) -> Option<String> {
    match v {
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s.clone()),
        Some(v @ Value::Object(m)) if !m.is_empty() => Some(v.to_string()),
        _ => None,
    }
}

/// The `(protocol, endpoint)` pairs the spec asks for.
fn wanted_subscriptions(desired: &Props) -> Option<BTreeSet<(String, String)>> {
    let list = desired.get("subscriptions")?.as_array()?;
    Some(
        list.iter()
            .filter_map(|s| Some((s.get("protocol")?.as_str()?.to_string(), s.get("endpoint")?.as_str()?.to_string())))
            .collect(),
    )
}

/// One live subscription.
#[derive(Debug, Clone)]
struct Sub {
    arn: String,
    protocol: String,
    endpoint: String,
}

impl Topic {
    pub fn new(client: Client) -> Topic {
        Topic { client }
    }

    async fn tags(&self, arn: &str) -> Result<BTreeMap<String, String>, ProviderError> {
        let out = self.client.list_tags_for_resource().resource_arn(arn).send().await.map_err(from_sdk)?;
        Ok(out
            .tags()
            .iter()
            .map(|t| (t.key().to_string(), t.value().to_string()))
            .filter(|(k, _)| !k.starts_with("aws:"))
            .collect())
    }

    async fn subscriptions(&self, arn: &str) -> Result<Vec<Sub>, ProviderError> {
        let mut pages = self.client.list_subscriptions_by_topic().topic_arn(arn).into_paginator().send();
        let mut out = Vec::new();
        while let Some(page) = pages.next().await {
            for s in page.map_err(from_sdk)?.subscriptions() {
                let arn = s.subscription_arn().unwrap_or_default();
                if arn == "Deleted" {
                    continue;
                }
                out.push(Sub {
                    arn: arn.to_string(),
                    protocol: s.protocol().unwrap_or_default().to_string(),
                    endpoint: s.endpoint().unwrap_or_default().to_string(),
                });
            }
        }
        Ok(out)
    }

    /// One topic; `None` when it is gone.
    async fn read_topic(&self, arn: &str) -> Result<Option<(Observed, Vec<Sub>)>, ProviderError> {
        let attrs = async { self.client.get_topic_attributes().topic_arn(arn).send().await.map_err(from_sdk) };
        let (attrs, tags, subs) = futures::join!(attrs, self.tags(arn), self.subscriptions(arn));
        let (attrs, tags, subs) = match (attrs, tags, subs) {
            (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) if not_found(&e) => return Ok(None),
            (a, t, s) => (a?, t?, s?),
        };
        let empty = HashMap::new();
        let a = attrs.attributes().unwrap_or(&empty);
        let get = |k: &str| a.get(k).map(String::as_str).filter(|v| !v.is_empty());
        let name = name_of(arn);
        let mut properties = Props::new();
        properties.insert("name".into(), json!(name));
        properties.insert("display_name".into(), json!(get("DisplayName").unwrap_or_default()));
        if let Some(k) = get("KmsMasterKeyId") {
            properties.insert("kms_master_key_id".into(), json!(k));
        }
        properties.insert("fifo_topic".into(), json!(get("FifoTopic") == Some("true")));
        if let Some(p) = get("Policy") {
            properties.insert("policy".into(), serde_json::from_str(p).unwrap_or_else(|_| json!(p)));
        }
        properties.insert(
            "subscriptions".into(),
            Value::Array(subs.iter().map(|s| json!({"protocol": s.protocol, "endpoint": s.endpoint})).collect()),
        );
        let mut attributes = Props::new();
        attributes.insert("id".into(), json!(arn));
        attributes.insert("arn".into(), json!(arn));
        attributes.insert("name".into(), json!(name));
        Ok(Some((Observed { id: arn.to_string(), properties, tags, attributes }, subs)))
    }

    async fn read_arns(&self, arns: &[String]) -> Result<Vec<Observed>, ProviderError> {
        let mut out = Vec::new();
        for r in join_all(arns.iter().map(|a| self.read_topic(a))).await {
            out.extend(r?.map(|(o, _)| o));
        }
        Ok(out)
    }

    async fn must_read(&self, arn: &str) -> Result<Observed, ProviderError> {
        self.read_topic(arn).await?.map(|(o, _)| o).ok_or_else(|| {
            ProviderError::new(Some("NotFound".into()), format!("topic {arn} does not exist"))
                .with_hint("it was deleted outside deployctl; re-run to create it again")
        })
    }

    async fn list_all(&self) -> Result<Vec<String>, ProviderError> {
        let mut pages = self.client.list_topics().into_paginator().send();
        let mut out = Vec::new();
        while let Some(page) = pages.next().await {
            out.extend(page.map_err(from_sdk)?.topics().iter().filter_map(|t| t.topic_arn().map(str::to_string)));
        }
        Ok(out)
    }

    async fn set_attribute(&self, arn: &str, name: &str, value: String) -> Result<(), ProviderError> {
        self.client
            .set_topic_attributes()
            .topic_arn(arn)
            .attribute_name(name)
            .attribute_value(value)
            .send()
            .await
            .map_err(from_sdk)
            .map_err(|e| e.with_hint(format!("SNS refused the topic's {name}")))?;
        Ok(())
    }

    /// Subscribes what is new, unsubscribes what is gone.
    async fn converge_subscriptions(
        &self,
        ctx: &OpCtx,
        arn: &str,
        live: &[Sub],
        want: &BTreeSet<(String, String)>,
    ) -> Result<(), ProviderError> {
        let have: BTreeSet<(String, String)> = live.iter().map(|s| (s.protocol.clone(), s.endpoint.clone())).collect();
        for (protocol, endpoint) in want.difference(&have) {
            self.client
                .subscribe()
                .topic_arn(arn)
                .protocol(protocol)
                .endpoint(endpoint)
                .return_subscription_arn(true)
                .send()
                .await
                .map_err(from_sdk)
                .map_err(|e| e.with_hint(format!("check the subscription {protocol}:{endpoint}")))?;
            if protocol.starts_with("email") || protocol.starts_with("http") {
                ctx.progress(
                    format!("subscribed {endpoint} ({protocol}): it stays pending until its owner confirms it"),
                    Duration::ZERO,
                );
            }
        }
        for s in live.iter().filter(|s| !want.contains(&(s.protocol.clone(), s.endpoint.clone()))) {
            if s.arn == PENDING || !s.arn.starts_with("arn:") {
                ctx.progress(
                    format!(
                        "cannot remove the subscription {} ({}): it is still pending confirmation (AWS drops it \
                         after 3 days unconfirmed)",
                        s.endpoint, s.protocol
                    ),
                    Duration::ZERO,
                );
                continue;
            }
            match self.client.unsubscribe().subscription_arn(&s.arn).send().await.map_err(from_sdk) {
                Ok(_) => {}
                Err(e) if not_found(&e) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    async fn converge_tags(
        &self,
        arn: &str,
        live: &BTreeMap<String, String>,
        want: &BTreeMap<String, String>,
    ) -> Result<(), ProviderError> {
        let (set, unset) = tag_changes(live, want);
        if !set.is_empty() {
            self.client
                .tag_resource()
                .resource_arn(arn)
                .set_tags(Some(sns_tags(&set)?))
                .send()
                .await
                .map_err(from_sdk)?;
        }
        if !unset.is_empty() {
            self.client.untag_resource().resource_arn(arn).set_tag_keys(Some(unset)).send().await.map_err(from_sdk)?;
        }
        Ok(())
    }
}

#[async_trait]
impl ResourceKind for Topic {
    fn schema(&self) -> &'static KindSchema {
        &SCHEMA
    }

    async fn read(&self, _ctx: &ReadCtx, ids: &[String]) -> Result<Vec<Observed>, ProviderError> {
        self.read_arns(ids).await
    }

    async fn find_tagged(&self, ctx: &ReadCtx) -> Result<Vec<(String, Observed)>, ProviderError> {
        let arns = self.list_all().await?;
        let tagged = join_all(arns.iter().map(|a| async move { (a, self.tags(a).await) })).await;
        let mut mine = Vec::new();
        for (arn, tags) in tagged {
            let tags = match tags {
                Ok(t) => t,
                Err(e) if not_found(&e) => continue,
                Err(e) => return Err(e),
            };
            if tags.get(TAG_STACK) == Some(&ctx.stack) {
                if let Some(address) = tags.get(TAG_RESOURCE) {
                    mine.push((address.clone(), arn.clone()));
                }
            }
        }
        let mut out = Vec::new();
        for (address, arn) in mine {
            if let Some((o, _)) = self.read_topic(&arn).await? {
                out.push((address, o));
            }
        }
        Ok(out)
    }

    async fn find_existing(
        &self,
        ctx: &ReadCtx,
        wanted: &[(String, Props)],
    ) -> Result<Vec<(String, Observed)>, ProviderError> {
        if wanted.is_empty() {
            return Ok(Vec::new());
        }
        let by_name: HashMap<String, String> =
            self.list_all().await?.into_iter().map(|a| (name_of(&a).to_string(), a)).collect();
        let lookups = wanted.iter().filter_map(|(address, props)| {
            let arn = by_name.get(&topic_name(&ctx.stack, address, props))?.clone();
            Some(async move {
                let tags = match self.tags(&arn).await {
                    Ok(t) => t,
                    Err(e) if not_found(&e) => return Ok(None),
                    Err(e) => return Err(e),
                };
                if !is_this_stacks(&tags, &ctx.stack, address) {
                    return Ok(None);
                }
                Ok::<_, ProviderError>(self.read_topic(&arn).await?.map(|(o, _)| (address.clone(), o)))
            })
        });
        let mut out = Vec::new();
        for r in join_all(lookups).await {
            out.extend(r?);
        }
        Ok(out)
    }

    async fn create(&self, ctx: &OpCtx, desired: &Props) -> Result<Observed, ProviderError> {
        let name = topic_name(&ctx.stack, &ctx.address, desired);
        let fifo = is_fifo(desired);
        let mut attributes = HashMap::new();
        if let Some(d) = want_str(&SCHEMA, desired, "display_name").filter(|d| !d.is_empty()) {
            attributes.insert("DisplayName".to_string(), d);
        }
        if let Some(k) = want_str(&SCHEMA, desired, "kms_master_key_id").filter(|k| !k.is_empty()) {
            attributes.insert("KmsMasterKeyId".to_string(), k);
        }
        if fifo {
            attributes.insert("FifoTopic".to_string(), "true".to_string());
        }
        if let Some(p) = policy_text(desired.get("policy")) {
            attributes.insert("Policy".to_string(), p);
        }
        let out = self
            .client
            .create_topic()
            .name(&name)
            .set_attributes(Some(attributes))
            .set_tags(Some(sns_tags(&ctx.tags)?))
            .send()
            .await
            .map_err(from_sdk)
            .map_err(|e| {
                if e.message.contains("already exists") {
                    e.with_hint(format!(
                        "a topic named {name} already exists and is not this resource's (other tags or settings): \
                         pick another name, or delete that topic"
                    ))
                } else if fifo && !name.ends_with(".fifo") {
                    e.with_hint("a FIFO topic's name must end with .fifo")
                } else {
                    e
                }
            })?;
        let arn = out.topic_arn().unwrap_or_default().to_string();
        // An existing topic of that name is answered too: ours only if it
        // carries this resource's tags.
        let tags = self.tags(&arn).await?;
        if !is_ours(&tags, &ctx.stack, &ctx.address) {
            return Err(ProviderError::new(
                Some("TopicAlreadyExists".into()),
                format!("a topic named {name} already exists and is not this resource's"),
            )
            .with_hint("it lacks this stack's deployctl tags: pick another name, or delete that topic"));
        }
        ctx.record_id(&arn);
        if let Some(want) = wanted_subscriptions(desired) {
            let live = self.subscriptions(&arn).await?;
            self.converge_subscriptions(ctx, &arn, &live, &want).await?;
        }
        self.must_read(&arn).await
    }

    async fn update(
        &self,
        ctx: &OpCtx,
        current: &Observed,
        desired: &Props,
        changed: &[String],
    ) -> Result<Observed, ProviderError> {
        let arn = current.id.as_str();
        let has = |p: &str| changed.iter().any(|c| c == p);
        if has("display_name") {
            self.set_attribute(arn, "DisplayName", want_str(&SCHEMA, desired, "display_name").unwrap_or_default())
                .await?;
        }
        if has("kms_master_key_id") {
            let key = want_str(&SCHEMA, desired, "kms_master_key_id").unwrap_or_default();
            self.set_attribute(arn, "KmsMasterKeyId", key).await?;
        }
        if has("policy") {
            match policy_text(desired.get("policy")) {
                Some(p) => self.set_attribute(arn, "Policy", p).await?,
                None => ctx.progress(
                    "an empty policy is not sent: SNS topics always have one (remove `policy` to leave it unmanaged)",
                    Duration::ZERO,
                ),
            }
        }
        if has("subscriptions") {
            let want = wanted_subscriptions(desired).unwrap_or_default();
            let live = self.subscriptions(arn).await?;
            self.converge_subscriptions(ctx, arn, &live, &want).await?;
        }
        if has("tags") {
            self.converge_tags(arn, &current.tags, &ctx.tags).await?;
        }
        self.must_read(arn).await
    }

    async fn delete(&self, _ctx: &OpCtx, current: &Observed, _recorded: &Props) -> Result<(), ProviderError> {
        match self.client.delete_topic().topic_arn(&current.id).send().await.map_err(from_sdk) {
            Ok(_) => Ok(()),
            Err(e) if not_found(&e) => Ok(()),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_names_fit_sns_rules() {
        assert_eq!(default_name("shop", "alerts", false), "shop-alerts");
        assert_eq!(default_name("shop", "alerts[a]", false), "shop-alerts-a");
        assert_eq!(default_name("shop", "events", true), "shop-events.fifo");
        let long = "x".repeat(300);
        assert!(default_name("shop", &long, true).len() <= 256);
        assert!(default_name("shop", &long, true).ends_with(".fifo"));
        assert_eq!(name_of("arn:aws:sns:us-east-1:123456789012:shop-alerts"), "shop-alerts");
    }
}
