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

use crate::error::from_sdk;
use crate::kit::tagger::SnsTags;
use crate::kit::{attrs, is_gone, model, own_tags, tagging, Adopt, Created, Kind, Live, Model, Tagger, Tags};
use crate::tags::{is_ours, is_this_stacks};
use aws_sdk_sns::types::Tag;
use aws_sdk_sns::Client;
use deployctl_engine::kind::TAG_STACK;
use deployctl_engine::{Observed, OpCtx, Props, ProviderError, ReadCtx};
use deployctl_spec::{Attr, KindSchema};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

/// A subscription not yet confirmed has this instead of an ARN.
const PENDING: &str = "PendingConfirmation";

/// "No such topic" codes beyond `*NotFound`.
pub(super) const GONE: &[&str] = &["NotFoundException"];

model! {
    pub struct Subscription {
        protocol: String = "`email`, `email-json`, `https`, `http`, `sms`, `sqs`, `lambda`, `firehose` or \
                            `application`." [required],
        endpoint: String = "Where messages go: an address for email, a URL for http(s), a phone number for sms, an \
                            ARN for sqs, lambda and firehose." [required],
    }
}

model! {
    pub struct TopicModel {
        name: Option<String> = "The topic name: letters, digits, `-` and `_` (a FIFO topic's ends with `.fifo`). \
                                Unset: `<stack>-<address>`." [replace, unique],
        display_name: Option<String> = "The name shown as the sender of SMS and email messages.",
        kms_master_key_id: Option<String> = "The KMS key that encrypts messages at rest (`alias/aws/sns` for the \
                                             AWS managed key). Unset: not managed.",
        fifo_topic: bool = "Whether the topic is FIFO (ordered, deduplicated)." [default("false"), replace],
        policy: Option<Value> = "The topic's access policy, written as YAML. Unset: not managed (SNS's default \
                                 lets the owner account use the topic).",
        subscriptions: Option<Vec<Subscription>> = "The topic's subscriptions. Unset: not managed; `[]` removes \
                                                    them all (except those still pending confirmation)."
            [typed(<Subscription as Model>::SET)],
    }
}

pub static SCHEMA: KindSchema = KindSchema {
    type_name: "sns.topic",
    doc: "An SNS topic and its subscriptions. Email subscriptions wait for their owner to confirm them (a link in \
          the email); until then they cannot be removed. Alarms publish to it through `alarm_actions: \
          [\"${topic.arn}\"]`; with `kms_master_key_id` set, the key's policy must let the publishing service use \
          it.",
    properties: <TopicModel as crate::kit::Model>::PROPS,
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
    tags: SnsTags,
    tagging: Option<tagging::StackTags>,
}

/// `<stack>-<address>` as a topic name (letters, digits, `-`, `_`; at most
/// 256 with `.fifo`).
pub fn default_name(stack: &str, address: &str, fifo: bool) -> String {
    let allowed = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    if fifo {
        format!("{}.fifo", crate::kit::names::sanitized_name(&format!("{stack}-{address}"), allowed, 251))
    } else {
        crate::kit::names::sanitized_name(&format!("{stack}-{address}"), allowed, 256)
    }
}

/// The name the spec's literals ask for, or the default one.
fn topic_name(stack: &str, address: &str, literals: &Props) -> String {
    match literals.get("name").and_then(Value::as_str) {
        Some(name) => name.to_string(),
        None => default_name(stack, address, literals.get("fifo_topic").and_then(Value::as_bool).unwrap_or(false)),
    }
}

fn name_of(arn: &str) -> &str {
    arn.rsplit(':').next().unwrap_or(arn)
}

fn attributes(arn: &str) -> Props {
    attrs([("id", json!(arn)), ("arn", json!(arn)), ("name", json!(name_of(arn)))])
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

impl Topic {
    pub fn new(client: Client) -> Topic {
        Topic { tags: SnsTags(client.clone()), client, tagging: None }
    }

    /// Tags from the run's one tagging-API read of the stack (shared by
    /// the kinds), rather than one tag read per topic.
    pub fn with_stack_tags(mut self, tags: tagging::StackTags) -> Topic {
        self.tagging = Some(tags);
        self
    }

    async fn tags(&self, arn: &str) -> Result<Tags, ProviderError> {
        let out = self.client.list_tags_for_resource().resource_arn(arn).send().await.map_err(from_sdk)?;
        Ok(own_tags(out.tags().iter().map(|t| (t.key(), t.value()))))
    }

    /// The live subscriptions, each with its ARN (or [`PENDING`]).
    async fn subscriptions(&self, arn: &str) -> Result<Vec<(String, Subscription)>, ProviderError> {
        let mut pages = self.client.list_subscriptions_by_topic().topic_arn(arn).into_paginator().send();
        let mut out = Vec::new();
        while let Some(page) = pages.next().await {
            for s in page.map_err(from_sdk)?.subscriptions().iter().filter(|s| s.subscription_arn() != Some("Deleted"))
            {
                let (protocol, endpoint) = (s.protocol().unwrap_or_default(), s.endpoint().unwrap_or_default());
                let sub = Subscription { protocol: protocol.to_string(), endpoint: endpoint.to_string() };
                out.push((s.subscription_arn().unwrap_or_default().to_string(), sub));
            }
        }
        Ok(out)
    }

    /// The tags of the topics `arns` (from the run's one tagging-API read,
    /// ListTagsForResource for what it lacks); those gone are left out.
    async fn tags_of(&self, instance: &str, arns: &[String]) -> Result<BTreeMap<String, Tags>, ProviderError> {
        tagging::tags_of(self.tagging.as_ref(), instance, arns, |arn| async move {
            match self.tags(&arn).await {
                Ok(tags) => Ok(Some(tags)),
                Err(e) if is_gone::<Self>(&e) => Ok(None),
                Err(e) => Err(e),
            }
        })
        .await
    }

    /// One topic, with `tags`; `None` when it is gone.
    async fn read_topic(
        &self,
        ctx: &ReadCtx,
        arn: &str,
        tags: Tags,
    ) -> Result<Option<Live<TopicModel>>, ProviderError> {
        let attrs = super::topic_attributes(&self.client, ctx, arn);
        let (attrs, subs) = futures::join!(attrs, self.subscriptions(arn));
        let (attrs, subs) = match (attrs, subs) {
            (Err(e), _) | (_, Err(e)) if is_gone::<Self>(&e) => return Ok(None),
            (a, s) => (a?, s?),
        };
        let empty = HashMap::new();
        let a = attrs.attributes().unwrap_or(&empty);
        let get = |k: &str| a.get(k).map(String::as_str).filter(|v| !v.is_empty());
        let model = TopicModel {
            name: Some(name_of(arn).to_string()),
            display_name: Some(get("DisplayName").unwrap_or_default().to_string()),
            kms_master_key_id: get("KmsMasterKeyId").map(str::to_string),
            fifo_topic: get("FifoTopic") == Some("true"),
            policy: get("Policy").map(|p| serde_json::from_str(p).unwrap_or_else(|_| json!(p))),
            subscriptions: Some(subs.into_iter().map(|(_, s)| s).collect()),
        };
        Ok(Some(Live { id: arn.to_string(), model, tags, attributes: attributes(arn) }))
    }

    /// The topics among `candidates` whose tags are `mine`, read in full.
    async fn read_if<T: Send + Sync>(
        &self,
        ctx: &ReadCtx,
        candidates: Vec<(String, T)>,
        mine: impl Fn(&Tags, &T) -> bool + Send + Sync,
    ) -> Result<Vec<(T, Live<TopicModel>)>, ProviderError> {
        let arns: Vec<String> = candidates.iter().map(|(arn, _)| arn.clone()).collect();
        let mut tags = self.tags_of(&ctx.stack, &arns).await?;
        let mine: Vec<(String, T, Tags)> = candidates
            .into_iter()
            .filter_map(|(arn, t)| {
                let tags = tags.remove(&arn)?;
                mine(&tags, &t).then_some((arn, t, tags))
            })
            .collect();
        crate::read_each(
            mine.into_iter()
                .map(|(arn, t, tags)| async move { Ok(self.read_topic(ctx, &arn, tags).await?.map(|l| (t, l))) }),
        )
        .await
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
        let call = self.client.set_topic_attributes().topic_arn(arn).attribute_name(name).attribute_value(value);
        call.send().await.map_err(from_sdk).map_err(|e| e.with_hint(format!("SNS refused the topic's {name}")))?;
        Ok(())
    }

    /// Subscribes what is new, unsubscribes what is gone.
    async fn converge_subscriptions(&self, ctx: &OpCtx, arn: &str, want: &[Subscription]) -> Result<(), ProviderError> {
        let live = self.subscriptions(arn).await?;
        for Subscription { protocol, endpoint } in want.iter().filter(|s| !live.iter().any(|(_, l)| l == *s)) {
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
        for (sub_arn, s) in live.iter().filter(|(_, l)| !want.contains(l)) {
            if sub_arn == PENDING || !sub_arn.starts_with("arn:") {
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
            match self.client.unsubscribe().subscription_arn(sub_arn).send().await.map_err(from_sdk) {
                Err(e) if !is_gone::<Self>(&e) => return Err(e),
                _ => {}
            }
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl Kind for Topic {
    type Model = TopicModel;
    const ADOPT: Adopt = Adopt::Custom;
    const GONE: &'static [&'static str] = GONE;

    fn schema(&self) -> &'static KindSchema {
        &SCHEMA
    }

    fn tagger(&self) -> Option<&dyn Tagger> {
        Some(&self.tags)
    }

    fn stack_tags(&self) -> Option<&crate::kit::tagging::StackTags> {
        self.tagging.as_ref()
    }

    async fn read(&self, ctx: &ReadCtx, ids: &[String]) -> Result<Vec<Live<TopicModel>>, ProviderError> {
        // The tags side by side with the attributes and subscriptions (the
        // ARNs are known): one round trip. A topic without tags is gone.
        let topics = crate::read_each(ids.iter().map(|arn| self.read_topic(ctx, arn, Tags::new())));
        let (tags, topics) = futures::join!(self.tags_of(&ctx.stack, ids), topics);
        let mut tags = tags?;
        Ok(topics?
            .into_iter()
            .filter_map(|mut l| {
                l.tags = tags.remove(&l.id)?;
                Some(l)
            })
            .collect())
    }

    /// Topics cannot be listed by tag: every topic's tags are read.
    async fn find_tagged(&self, ctx: &ReadCtx) -> Result<Vec<Live<TopicModel>>, ProviderError> {
        let all = self.list_all().await?.into_iter().map(|arn| (arn, ())).collect();
        let found = self.read_if(ctx, all, |tags, _| tags.get(TAG_STACK) == Some(&ctx.stack)).await?;
        Ok(found.into_iter().map(|(_, live)| live).collect())
    }

    async fn create(&self, ctx: &OpCtx, want: &TopicModel) -> Result<Created, ProviderError> {
        let name = want.name.clone().unwrap_or_else(|| default_name(&ctx.stack, &ctx.address, want.fifo_topic));
        let nonempty = |v: &Option<String>| v.clone().filter(|v| !v.is_empty());
        let settings: HashMap<String, String> = [
            ("DisplayName", nonempty(&want.display_name)),
            ("KmsMasterKeyId", nonempty(&want.kms_master_key_id)),
            ("FifoTopic", want.fifo_topic.then(|| "true".to_string())),
            ("Policy", policy_text(want.policy.as_ref())),
        ]
        .into_iter()
        .filter_map(|(k, v)| Some((k.to_string(), v?)))
        .collect();
        let tags = ctx.tags.iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect::<Result<_, _>>();
        let tags = tags.map_err(|e| ProviderError::msg(e.to_string()))?;
        let out = self
            .client
            .create_topic()
            .name(&name)
            .set_attributes(Some(settings))
            .set_tags(Some(tags))
            .send()
            .await
            .map_err(from_sdk)
            .map_err(|e| {
                if e.message.contains("already exists") {
                    e.with_hint(format!(
                        "a topic named {name} already exists and is not this resource's (other tags or settings): \
                         pick another name, or delete that topic"
                    ))
                } else if want.fifo_topic && !name.ends_with(".fifo") {
                    e.with_hint("a FIFO topic's name must end with .fifo")
                } else {
                    e
                }
            })?;
        let arn = out.topic_arn().unwrap_or_default().to_string();
        // An existing topic of that name is answered too: ours only if it
        // carries this resource's tags.
        if !is_ours(&self.tags(&arn).await?, &ctx.stack, &ctx.address) {
            return Err(ProviderError::new(
                Some("TopicAlreadyExists".into()),
                format!("a topic named {name} already exists and is not this resource's"),
            )
            .with_hint("it lacks this stack's deployctl tags: pick another name, or delete that topic"));
        }
        ctx.record_id(&arn);
        if let Some(subs) = &want.subscriptions {
            self.converge_subscriptions(ctx, &arn, subs).await?;
        }
        Ok(Created { attributes: attributes(&arn), id: arn })
    }

    async fn update(
        &self,
        ctx: &OpCtx,
        live: &Observed,
        want: &TopicModel,
        changed: &[&str],
    ) -> Result<Option<Props>, ProviderError> {
        let arn = live.id.as_str();
        for (field, attribute, value) in [
            ("display_name", "DisplayName", &want.display_name),
            ("kms_master_key_id", "KmsMasterKeyId", &want.kms_master_key_id),
        ] {
            if changed.contains(&field) {
                self.set_attribute(arn, attribute, value.clone().unwrap_or_default()).await?;
            }
        }
        if changed.contains(&"policy") {
            match policy_text(want.policy.as_ref()) {
                Some(p) => self.set_attribute(arn, "Policy", p).await?,
                None => ctx.progress(
                    "an empty policy is not sent: SNS topics always have one (remove `policy` to leave it unmanaged)",
                    Duration::ZERO,
                ),
            }
        }
        if changed.contains(&"subscriptions") {
            self.converge_subscriptions(ctx, arn, want.subscriptions.as_deref().unwrap_or_default()).await?;
        }
        Ok(None)
    }

    async fn delete(&self, _ctx: &OpCtx, live: &Observed, _: Option<&TopicModel>) -> Result<(), ProviderError> {
        self.client.delete_topic().topic_arn(&live.id).send().await.map_err(from_sdk)?;
        Ok(())
    }

    async fn find_existing(
        &self,
        ctx: &ReadCtx,
        wanted: &[(String, Props)],
    ) -> Result<Vec<(String, Observed)>, ProviderError> {
        let by_name: HashMap<String, String> =
            self.list_all().await?.into_iter().map(|a| (name_of(&a).to_string(), a)).collect();
        let candidates = wanted
            .iter()
            .filter_map(|(address, props)| {
                Some((by_name.get(&topic_name(&ctx.stack, address, props))?.clone(), address))
            })
            .collect();
        let found = self.read_if(ctx, candidates, |tags, address| is_this_stacks(tags, &ctx.stack, address)).await?;
        Ok(found.into_iter().map(|(address, live)| (address.clone(), live.observed())).collect())
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
