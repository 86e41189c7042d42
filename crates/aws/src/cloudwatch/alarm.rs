//! `cloudwatch.alarm`: a CloudWatch metric alarm on one metric.
//!
//! The id is the alarm name. PutMetricAlarm is an upsert: create and update
//! are the same call, sending the whole configuration (a field left out is
//! reset), except tags, which it takes only when it creates the alarm; an
//! update changes them with TagResource/UntagResource. Reads are batched:
//! one DescribeAlarms for up to 100 names (names that are gone are just not
//! in the answer), then one ListTagsForResource per alarm, concurrently.
//! Alarms cannot be listed by tag: adoption looks each candidate up by its
//! name (or the default name) and adopts it only if it carries this stack's
//! and this resource's tags; create refuses a name that an alarm not of
//! this resource already has, rather than overwrite it.

use crate::elbv2::{want, want_str};
use crate::error::from_sdk;
use crate::tags::{is_ours, is_this_stacks, tag_changes};
use async_trait::async_trait;
use aws_sdk_cloudwatch::types::{AlarmType, ComparisonOperator, Dimension, MetricAlarm, StandardUnit, Statistic, Tag};
use aws_sdk_cloudwatch::Client;
use deployctl_engine::kind::{TAG_RESOURCE, TAG_STACK};
use deployctl_engine::{Observed, OpCtx, Props, ProviderError, ReadCtx, ResourceKind};
use deployctl_spec::{Attr, KindSchema, Prop, Type};
use futures::future::join_all;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// The most names one DescribeAlarms takes.
const NAME_CHUNK: usize = 100;

pub static SCHEMA: KindSchema = KindSchema {
    type_name: "cloudwatch.alarm",
    doc: "A CloudWatch alarm on one metric, changed in place (PutMetricAlarm) except for its name. Dimensions \
          name what the metric is about, usually with references: an ECS service's `ClusterName: \
          ${cluster.name}` and `ServiceName: ${service.name}`; a load balancer's `LoadBalancer: \
          ${alb.arn_suffix}`; a target group's `TargetGroup: ${tg.arn_suffix}` (with `LoadBalancer` too). Actions \
          are ARNs, typically an SNS topic's: `alarm_actions: [\"${alerts.arn}\"]`.",
    properties: &[
        Prop::new("alarm_name", Type::String, "The alarm's name, unique in the region. Unset: `<stack>-<address>`.")
            .replace()
            .unique(),
        Prop::new("alarm_description", Type::String, "What the alarm means, shown in notifications."),
        Prop::new("namespace", Type::String, "The metric's namespace, e.g. `AWS/ECS` or `AWS/ApplicationELB`.")
            .required(),
        Prop::new("metric_name", Type::String, "The metric, e.g. `CPUUtilization` or `UnHealthyHostCount`.").required(),
        Prop::new(
            "statistic",
            Type::String,
            "`Average`, `Sum`, `Minimum`, `Maximum` or `SampleCount` (or set `extended_statistic`).",
        )
        .one_of(aws_sdk_cloudwatch::types::Statistic::values()),
        Prop::new("extended_statistic", Type::String, "A percentile instead of `statistic`, e.g. `p99`."),
        Prop::new("period", Type::Int, "Seconds over which the statistic is taken: 10, 30, or a multiple of 60.")
            .required(),
        Prop::new("evaluation_periods", Type::Int, "How many recent periods are compared with the threshold.")
            .required(),
        Prop::new(
            "datapoints_to_alarm",
            Type::Int,
            "How many of those periods must breach (M out of N). Unset: all of them.",
        ),
        Prop::new("threshold", Type::Number, "The value the statistic is compared with, e.g. `80` or `0.5`.")
            .required(),
        Prop::new(
            "comparison_operator",
            Type::String,
            "`GreaterThanThreshold`, `GreaterThanOrEqualToThreshold`, `LessThanThreshold` or \
             `LessThanOrEqualToThreshold`.",
        )
        .required()
        .one_of(aws_sdk_cloudwatch::types::ComparisonOperator::values()),
        Prop::new(
            "dimensions",
            Type::Map(&Type::String),
            "The metric's dimensions, name to value, e.g. `{ClusterName: \"${cluster.name}\", ServiceName: \
             \"${service.name}\"}`.",
        )
        .default("{}"),
        Prop::new(
            "treat_missing_data",
            Type::String,
            "How periods without data count: `missing`, `notBreaching`, `breaching` or `ignore`.",
        )
        .default("\"missing\""),
        Prop::new("actions_enabled", Type::Bool, "Whether the actions run on state changes.").default("true"),
        Prop::new(
            "alarm_actions",
            Type::Set(&Type::String),
            "ARNs notified when the alarm goes to ALARM (SNS topics, Auto Scaling policies).",
        )
        .default("[]"),
        Prop::new("ok_actions", Type::Set(&Type::String), "ARNs notified when the alarm goes back to OK.")
            .default("[]"),
        Prop::new(
            "insufficient_data_actions",
            Type::Set(&Type::String),
            "ARNs notified when the alarm goes to INSUFFICIENT_DATA.",
        )
        .default("[]"),
        Prop::new("unit", Type::String, "The metric's unit, e.g. `Percent`, when it matters to select the data."),
    ],
    attributes: &[
        Attr { name: "id", doc: "The alarm name." },
        Attr { name: "name", doc: "The alarm name." },
        Attr { name: "arn", doc: "The alarm's ARN." },
    ],
    taggable: true,
    rules: &[],
    example: "cpu_high:\n  type: cloudwatch.alarm\n  properties:\n    alarm_description: Service CPU above 80% for 10 \
              minutes\n    namespace: AWS/ECS\n    metric_name: CPUUtilization\n    statistic: Average\n    \
              period: 300\n    evaluation_periods: 2\n    threshold: 80\n    comparison_operator: \
              GreaterThanThreshold\n    dimensions: {ClusterName: shop, ServiceName: web}\n    alarm_actions: \
              [\"${alerts.arn}\"]\n",
};

pub struct Alarm {
    client: Client,
}

/// `<stack>-<address>` as an alarm name.
pub fn default_name(stack: &str, address: &str) -> String {
    crate::iam::sanitized_name(&format!("{stack}-{address}"), |c| c.is_ascii_alphanumeric() || "-_.".contains(c), 255)
}

fn alarm_name(stack: &str, address: &str, desired: &Props) -> String {
    want_str(&SCHEMA, desired, "alarm_name").unwrap_or_else(|| default_name(stack, address))
}

fn not_found(e: &ProviderError) -> bool {
    e.code_is("ResourceNotFound") || e.code_is("ResourceNotFoundException")
}

fn cw_tags(tags: &BTreeMap<String, String>) -> Vec<Tag> {
    tags.iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect()
}

/// A number the spec gives (a JSON number, or a number written as text).
fn number(v: Option<Value>) -> Option<f64> {
    match v? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A number as it reads best: `80` rather than `80.0`.
pub(crate) fn number_value(n: f64) -> Value {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        json!(n as i64)
    } else {
        json!(n)
    }
}

fn int(desired: &Props, name: &str) -> Option<i32> {
    number(want(&SCHEMA, desired, name)).map(|n| n as i32)
}

fn strings(desired: &Props, name: &str) -> Vec<String> {
    want(&SCHEMA, desired, name)
        .and_then(|v| v.as_array().cloned())
        .unwrap_or_default()
        .iter()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect()
}

/// An alarm in the spec's shape.
fn observed(a: &MetricAlarm, tags: BTreeMap<String, String>) -> Observed {
    let name = a.alarm_name().unwrap_or_default().to_string();
    let mut p = Props::new();
    p.insert("alarm_name".into(), json!(name));
    if let Some(d) = a.alarm_description().filter(|d| !d.is_empty()) {
        p.insert("alarm_description".into(), json!(d));
    }
    p.insert("namespace".into(), json!(a.namespace()));
    p.insert("metric_name".into(), json!(a.metric_name()));
    if let Some(s) = a.statistic() {
        p.insert("statistic".into(), json!(s.as_str()));
    }
    if let Some(s) = a.extended_statistic() {
        p.insert("extended_statistic".into(), json!(s));
    }
    p.insert("period".into(), json!(a.period()));
    p.insert("evaluation_periods".into(), json!(a.evaluation_periods()));
    if let Some(d) = a.datapoints_to_alarm() {
        p.insert("datapoints_to_alarm".into(), json!(d));
    }
    if let Some(t) = a.threshold() {
        p.insert("threshold".into(), number_value(t));
    }
    p.insert("comparison_operator".into(), json!(a.comparison_operator().map(|c| c.as_str())));
    let dims: Map<String, Value> = a
        .dimensions()
        .iter()
        .filter_map(|d| Some((d.name()?.to_string(), json!(d.value().unwrap_or_default()))))
        .collect();
    p.insert("dimensions".into(), Value::Object(dims));
    p.insert("treat_missing_data".into(), json!(a.treat_missing_data().unwrap_or("missing")));
    p.insert("actions_enabled".into(), json!(a.actions_enabled().unwrap_or(true)));
    p.insert("alarm_actions".into(), json!(a.alarm_actions()));
    p.insert("ok_actions".into(), json!(a.ok_actions()));
    p.insert("insufficient_data_actions".into(), json!(a.insufficient_data_actions()));
    if let Some(u) = a.unit() {
        p.insert("unit".into(), json!(u.as_str()));
    }
    let mut attributes = Props::new();
    attributes.insert("id".into(), json!(name));
    attributes.insert("name".into(), json!(name));
    attributes.insert("arn".into(), json!(a.alarm_arn()));
    Observed { id: name, properties: p, tags, attributes }
}

impl Alarm {
    pub fn new(client: Client) -> Alarm {
        Alarm { client }
    }

    async fn describe(&self, names: &[String]) -> Result<Vec<MetricAlarm>, ProviderError> {
        let calls = names.chunks(NAME_CHUNK).map(|chunk| async move {
            let mut pages = self
                .client
                .describe_alarms()
                .set_alarm_names(Some(chunk.to_vec()))
                .alarm_types(AlarmType::MetricAlarm)
                .into_paginator()
                .send();
            let mut out = Vec::new();
            while let Some(page) = pages.next().await {
                out.extend(page.map_err(from_sdk)?.metric_alarms().iter().cloned());
            }
            Ok::<_, ProviderError>(out)
        });
        let mut out = Vec::new();
        for r in join_all(calls).await {
            out.extend(r?);
        }
        // DescribeAlarms matches names exactly, but be sure.
        out.retain(|a| a.alarm_name().is_some_and(|n| names.iter().any(|x| x == n)));
        Ok(out)
    }

    /// The tags of an alarm; `None` when it is gone.
    async fn tags(&self, arn: &str) -> Result<Option<BTreeMap<String, String>>, ProviderError> {
        match self.client.list_tags_for_resource().resource_arn(arn).send().await.map_err(from_sdk) {
            Ok(out) => Ok(Some(
                out.tags()
                    .iter()
                    .filter_map(|t| Some((t.key()?.to_string(), t.value().unwrap_or_default().to_string())))
                    .filter(|(k, _)| !k.starts_with("aws:"))
                    .collect(),
            )),
            Err(e) if not_found(&e) => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn observe(&self, alarms: &[MetricAlarm]) -> Result<Vec<Observed>, ProviderError> {
        let tagged = join_all(alarms.iter().map(|a| self.tags(a.alarm_arn().unwrap_or_default()))).await;
        let mut out = Vec::new();
        for (a, tags) in alarms.iter().zip(tagged) {
            if let Some(tags) = tags? {
                out.push(observed(a, tags));
            }
        }
        Ok(out)
    }

    async fn read_names(&self, names: &[String]) -> Result<Vec<Observed>, ProviderError> {
        let found = self.describe(names).await?;
        self.observe(&found).await
    }

    async fn must_read(&self, name: &str) -> Result<Observed, ProviderError> {
        self.read_names(&[name.to_string()]).await?.into_iter().next().ok_or_else(|| {
            ProviderError::new(Some("ResourceNotFound".into()), format!("alarm {name} does not exist"))
                .with_hint("it was deleted outside deployctl; re-run to create it again")
        })
    }

    /// PutMetricAlarm with the whole configuration; `tags` only on create.
    async fn put(&self, name: &str, desired: &Props, tags: Option<Vec<Tag>>) -> Result<(), ProviderError> {
        let s = |k: &str| want_str(&SCHEMA, desired, k).filter(|v| !v.is_empty());
        let dims: Vec<Dimension> = want(&SCHEMA, desired, "dimensions")
            .and_then(|v| v.as_object().cloned())
            .unwrap_or_default()
            .iter()
            .map(|(k, v)| {
                let v = match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                Dimension::builder().name(k).value(v).build()
            })
            .collect();
        let threshold = number(want(&SCHEMA, desired, "threshold"))
            .ok_or_else(|| ProviderError::msg("threshold is required and must be a number"))?;
        self.client
            .put_metric_alarm()
            .alarm_name(name)
            .set_alarm_description(s("alarm_description"))
            .set_namespace(s("namespace"))
            .set_metric_name(s("metric_name"))
            .set_statistic(s("statistic").map(|v| Statistic::from(v.as_str())))
            .set_extended_statistic(s("extended_statistic"))
            .set_period(int(desired, "period"))
            .set_evaluation_periods(int(desired, "evaluation_periods"))
            .set_datapoints_to_alarm(int(desired, "datapoints_to_alarm"))
            .threshold(threshold)
            .set_comparison_operator(s("comparison_operator").map(|v| ComparisonOperator::from(v.as_str())))
            .set_dimensions(Some(dims))
            .set_treat_missing_data(s("treat_missing_data"))
            .actions_enabled(want(&SCHEMA, desired, "actions_enabled").and_then(|v| v.as_bool()).unwrap_or(true))
            .set_alarm_actions(Some(strings(desired, "alarm_actions")))
            .set_ok_actions(Some(strings(desired, "ok_actions")))
            .set_insufficient_data_actions(Some(strings(desired, "insufficient_data_actions")))
            .set_unit(s("unit").map(|v| StandardUnit::from(v.as_str())))
            .set_tags(tags)
            .send()
            .await
            .map_err(from_sdk)
            .map_err(|e| {
                if e.code_is("ValidationError")
                    || e.code_is("InvalidParameterValue")
                    || e.code_is("InvalidParameterCombination")
                {
                    e.with_hint(
                        "check statistic/extended_statistic (exactly one), period (10, 30 or a multiple of 60), \
                         comparison_operator and the action ARNs",
                    )
                } else {
                    e
                }
            })?;
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
                .set_tags(Some(cw_tags(&set)))
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
impl ResourceKind for Alarm {
    fn schema(&self) -> &'static KindSchema {
        &SCHEMA
    }

    async fn read(&self, _ctx: &ReadCtx, ids: &[String]) -> Result<Vec<Observed>, ProviderError> {
        self.read_names(ids).await
    }

    async fn find_tagged(&self, ctx: &ReadCtx) -> Result<Vec<(String, Observed)>, ProviderError> {
        let mut pages = self.client.describe_alarms().alarm_types(AlarmType::MetricAlarm).into_paginator().send();
        let mut all = Vec::new();
        while let Some(page) = pages.next().await {
            all.extend(page.map_err(from_sdk)?.metric_alarms().iter().cloned());
        }
        Ok(self
            .observe(&all)
            .await?
            .into_iter()
            .filter(|o| o.tags.get(TAG_STACK) == Some(&ctx.stack))
            .filter_map(|o| Some((o.tags.get(TAG_RESOURCE)?.clone(), o)))
            .collect())
    }

    async fn find_existing(
        &self,
        ctx: &ReadCtx,
        wanted: &[(String, Props)],
    ) -> Result<Vec<(String, Observed)>, ProviderError> {
        let by_name: BTreeMap<String, &String> =
            wanted.iter().map(|(address, p)| (alarm_name(&ctx.stack, address, p), address)).collect();
        if by_name.is_empty() {
            return Ok(Vec::new());
        }
        let names: Vec<String> = by_name.keys().cloned().collect();
        Ok(self
            .read_names(&names)
            .await?
            .into_iter()
            .filter_map(|o| {
                let address = by_name.get(&o.id)?;
                is_this_stacks(&o.tags, &ctx.stack, address).then(|| ((*address).clone(), o))
            })
            .collect())
    }

    async fn create(&self, ctx: &OpCtx, desired: &Props) -> Result<Observed, ProviderError> {
        let name = alarm_name(&ctx.stack, &ctx.address, desired);
        // PutMetricAlarm would overwrite an alarm of that name: refuse one
        // that is not this resource's.
        if let Some(existing) = self.read_names(std::slice::from_ref(&name)).await?.into_iter().next() {
            if !is_ours(&existing.tags, &ctx.stack, &ctx.address) {
                return Err(ProviderError::new(
                    Some("AlarmAlreadyExists".into()),
                    format!("an alarm named {name} already exists and is not this resource's"),
                )
                .with_hint("it lacks this stack's deployctl tags: set another alarm_name, or delete that alarm"));
            }
        }
        self.put(&name, desired, Some(cw_tags(&ctx.tags))).await?;
        ctx.record_id(&name);
        let live = self.must_read(&name).await?;
        // PutMetricAlarm ignores tags when the alarm existed (an earlier,
        // interrupted create).
        if live.tags != ctx.tags {
            let arn = live.attributes.get("arn").and_then(Value::as_str).unwrap_or_default().to_string();
            self.converge_tags(&arn, &live.tags, &ctx.tags).await?;
            return self.must_read(&name).await;
        }
        Ok(live)
    }

    async fn update(
        &self,
        ctx: &OpCtx,
        current: &Observed,
        desired: &Props,
        changed: &[String],
    ) -> Result<Observed, ProviderError> {
        let name = current.id.as_str();
        if changed.iter().any(|c| c != "tags") {
            self.put(name, desired, None).await?;
        }
        if changed.iter().any(|c| c == "tags") {
            let arn = current.attributes.get("arn").and_then(Value::as_str).unwrap_or_default().to_string();
            self.converge_tags(&arn, &current.tags, &ctx.tags).await?;
        }
        self.must_read(name).await
    }

    async fn delete(&self, _ctx: &OpCtx, current: &Observed, _recorded: &Props) -> Result<(), ProviderError> {
        match self.client.delete_alarms().alarm_names(&current.id).send().await.map_err(from_sdk) {
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
    fn thresholds_read_as_written() {
        assert_eq!(number_value(80.0), json!(80));
        assert_eq!(number_value(0.5), json!(0.5));
        assert_eq!(number(Some(json!("0.25"))), Some(0.25));
        assert_eq!(default_name("shop", "cpu_high[a]"), "shop-cpu_high-a");
    }
}
