//! `cloudwatch.alarm`: a CloudWatch metric alarm on one metric, or on metric
//! math over several.
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

use crate::error::from_sdk;
use crate::kit::tagger::CloudWatchTags;
use crate::kit::{attrs, is_gone, model, own_tags, tagging, unless_gone, Adopt, Created, Kind, Live, Tagger, Tags};
use crate::tags::{is_ours, is_this_stacks};
use aws_sdk_cloudwatch::types::{
    AlarmType, ComparisonOperator, Dimension, Metric, MetricAlarm, MetricDataQuery, MetricStat, StandardUnit,
    Statistic, Tag,
};
use aws_sdk_cloudwatch::Client;
use deployctl_engine::kind::TAG_STACK;
use deployctl_engine::{Observed, OpCtx, Props, ProviderError, ReadCtx};
use deployctl_spec::{Attr, KindSchema, Literals, RuleViolation, Type};
use futures::future::join_all;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// The most names one DescribeAlarms takes.
const NAME_CHUNK: usize = 100;

model! {
    pub struct MetricStatModel {
        namespace: String = "The metric's namespace." [required],
        metric_name: String = "The metric." [required],
        dimensions: BTreeMap<String, String> = "The metric's dimensions." [default("{}")],
        period: i64 = "Seconds over which the statistic is taken: 10, 30, or a multiple of 60." [required],
        stat: String = "`Sum`, `Average`, `Minimum`, `Maximum`, `SampleCount`, or a percentile (`p99`)." [required],
    }
}

model! {
    pub struct MetricQueryModel {
        id: String = "The query's id, which expressions name: a lowercase letter first." [required],
        metric: Option<MetricStatModel> = "A metric to fetch. Exactly one of `metric` and `expression`.",
        expression: Option<String> = "Metric math over the other queries' ids, e.g. `100 * (1 - errors / requests)`.",
        label: Option<String> = "A name shown on graphs.",
        return_data: bool = "Whether this query is what the alarm watches: exactly one is." [default("false")],
    }
}

model! {
    pub struct AlarmModel {
        alarm_name: Option<String> = "The alarm's name, unique in the region. Unset: `<stack>-<address>`."
            [replace, unique],
        alarm_description: Option<String> = "What the alarm means, shown in notifications.",
        namespace: Option<String> = "The metric's namespace, e.g. `AWS/ECS` or `AWS/ApplicationELB`.",
        metric_name: Option<String> = "The metric, e.g. `CPUUtilization` or `UnHealthyHostCount`. Exactly one of \
                                       `metric_name` and `metrics`.",
        statistic: Option<String> = "`Average`, `Sum`, `Minimum`, `Maximum` or `SampleCount` (or set \
                                     `extended_statistic`)." [one_of(Statistic::values())],
        extended_statistic: Option<String> = "A percentile instead of `statistic`, e.g. `p99`.",
        period: Option<i64> = "Seconds over which the statistic is taken: 10, 30, or a multiple of 60 (with \
                               `metric_name`).",
        evaluation_periods: i64 = "How many recent periods are compared with the threshold." [required],
        datapoints_to_alarm: Option<i64> = "How many of those periods must breach (M out of N). Unset: all of them.",
        // A JSON value, so that it reads back as written (`80`, not `80.0`).
        threshold: Value = "The value the statistic is compared with, e.g. `80` or `0.5`."
            [required, typed(Type::Number)],
        comparison_operator: String = "`GreaterThanThreshold`, `GreaterThanOrEqualToThreshold`, \
                                       `LessThanThreshold` or `LessThanOrEqualToThreshold`."
            [required, one_of(ComparisonOperator::values())],
        dimensions: BTreeMap<String, String> = "The metric's dimensions, name to value, e.g. `{ClusterName: \
                                                \"${cluster.name}\", ServiceName: \"${service.name}\"}`."
            [default("{}")],
        treat_missing_data: String = "How periods without data count: `missing`, `notBreaching`, `breaching` or \
                                      `ignore`." [default("\"missing\"")],
        actions_enabled: bool = "Whether the actions run on state changes." [default("true")],
        alarm_actions: Vec<String> = "ARNs notified when the alarm goes to ALARM (SNS topics, Auto Scaling \
                                      policies)." [default("[]")],
        ok_actions: Vec<String> = "ARNs notified when the alarm goes back to OK." [default("[]")],
        insufficient_data_actions: Vec<String> = "ARNs notified when the alarm goes to INSUFFICIENT_DATA."
            [default("[]")],
        unit: Option<String> = "The metric's unit, e.g. `Percent`, when it matters to select the data.",
        metrics: Option<Vec<MetricQueryModel>> = "Metric math instead of one metric: metrics fetched by id, and \
                                                  the expression the alarm watches (`return_data: true`), e.g. a \
                                                  success rate from requests and 5xx counts.",
    }
}

pub static SCHEMA: KindSchema = KindSchema {
    type_name: "cloudwatch.alarm",
    doc: "A CloudWatch alarm on one metric, or on metric math over several (`metrics`: a success rate from \
          request and error counts), changed in place (PutMetricAlarm) except for its name. Dimensions \
          name what the metric is about, usually with references: an ECS service's `ClusterName: \
          ${cluster.name}` and `ServiceName: ${service.name}`; a load balancer's `LoadBalancer: \
          ${alb.arn_suffix}`; a target group's `TargetGroup: ${tg.arn_suffix}` (with `LoadBalancer` too). Actions \
          are ARNs, typically an SNS topic's: `alarm_actions: [\"${alerts.arn}\"]`.",
    properties: <AlarmModel as crate::kit::Model>::PROPS,
    attributes: &[
        Attr { name: "id", doc: "The alarm name." },
        Attr { name: "name", doc: "The alarm name." },
        Attr { name: "arn", doc: "The alarm's ARN." },
    ],
    taggable: true,
    rules: &[one_metric_or_math],
    example: "cpu_high:\n  type: cloudwatch.alarm\n  properties:\n    alarm_description: Service CPU above 80% for 10 \
              minutes\n    namespace: AWS/ECS\n    metric_name: CPUUtilization\n    statistic: Average\n    \
              period: 300\n    evaluation_periods: 2\n    threshold: 80\n    comparison_operator: \
              GreaterThanThreshold\n    dimensions: {ClusterName: shop, ServiceName: web}\n    alarm_actions: \
              [\"${alerts.arn}\"]\n",
};

/// One metric (`metric_name`, `period`) or metric math (`metrics`, one of
/// which the alarm watches), as CloudWatch takes.
fn one_metric_or_math(p: &Literals) -> Option<RuleViolation> {
    let set = |k: &str| p.get(k).is_some_and(|v| !matches!(v, Some(Value::Null)));
    let violation =
        |field, message: &str, hint: &str| Some(RuleViolation { field, message: message.into(), hint: hint.into() });
    match (set("metric_name"), set("metrics")) {
        (true, true) => {
            return violation(
                "metrics",
                "an alarm watches one metric or metric math, not both",
                "drop metric_name, namespace, statistic and period, or drop metrics",
            )
        }
        (false, false) => {
            return violation(
                "metric_name",
                "an alarm needs a metric",
                "add metric_name, namespace, statistic and period, or metrics",
            )
        }
        (true, false) => {
            if !set("period") {
                return violation("period", "a metric alarm needs a period", "add period: 60 (seconds)");
            }
            return None;
        }
        (false, true) => {}
    }
    if let Some(field) = ["namespace", "statistic", "extended_statistic", "period", "unit"].into_iter().find(|k| set(k))
    {
        return violation(
            field,
            "with metrics, each query names its own metric and period",
            "move it into the metric query",
        );
    }
    let Some(Some(Value::Array(queries))) = p.get("metrics") else { return None };
    let watched = queries.iter().filter(|q| q["return_data"] == Value::Bool(true)).count();
    if watched != 1 {
        return violation(
            "metrics",
            &format!("exactly one query is what the alarm watches (return_data: true), not {watched}"),
            "set return_data: true on the expression the alarm compares with the threshold",
        );
    }
    for q in queries {
        if q.get("metric").is_some_and(|m| !m.is_null()) == q.get("expression").is_some_and(|e| !e.is_null()) {
            return violation(
                "metrics",
                "each query has exactly one of metric and expression",
                "give the query a metric: {...} or an expression",
            );
        }
    }
    None
}

pub struct Alarm {
    client: Client,
    tags: CloudWatchTags,
    tagging: Option<tagging::StackTags>,
}

/// `<stack>-<address>` as an alarm name.
pub fn default_name(stack: &str, address: &str) -> String {
    crate::kit::names::sanitized_name(
        &format!("{stack}-{address}"),
        |c| c.is_ascii_alphanumeric() || "-_.".contains(c),
        255,
    )
}

/// A number the spec gives (a JSON number, or a number written as text).
fn number(v: &Value) -> Option<f64> {
    match v {
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

fn attributes(name: &str, arn: Option<&str>) -> Props {
    attrs([("id", json!(name)), ("name", json!(name)), ("arn", json!(arn))])
}

fn query_model(q: &MetricDataQuery) -> MetricQueryModel {
    let metric = q.metric_stat().and_then(|s| {
        let m = s.metric()?;
        Some(MetricStatModel {
            namespace: m.namespace().unwrap_or_default().to_string(),
            metric_name: m.metric_name().unwrap_or_default().to_string(),
            dimensions: m
                .dimensions()
                .iter()
                .filter_map(|d| Some((d.name()?.to_string(), d.value().unwrap_or_default().to_string())))
                .collect(),
            period: s.period().unwrap_or_default().into(),
            stat: s.stat().unwrap_or_default().to_string(),
        })
    });
    MetricQueryModel {
        id: q.id().unwrap_or_default().to_string(),
        metric,
        expression: q.expression().map(str::to_string),
        label: q.label().map(str::to_string),
        return_data: q.return_data().unwrap_or(true),
    }
}

fn query(q: &MetricQueryModel) -> MetricDataQuery {
    let stat = q.metric.as_ref().map(|m| {
        let dims = m.dimensions.iter().map(|(k, v)| Dimension::builder().name(k).value(v).build());
        let metric =
            Metric::builder().namespace(&m.namespace).metric_name(&m.metric_name).set_dimensions(Some(dims.collect()));
        MetricStat::builder().metric(metric.build()).period(m.period as i32).stat(&m.stat).build()
    });
    MetricDataQuery::builder()
        .id(&q.id)
        .set_metric_stat(stat)
        .set_expression(q.expression.clone())
        .set_label(q.label.clone())
        .return_data(q.return_data)
        .build()
}

/// An alarm in the spec's shape.
fn live(a: &MetricAlarm, tags: Tags) -> Live<AlarmModel> {
    let name = a.alarm_name().unwrap_or_default().to_string();
    let model = AlarmModel {
        alarm_name: Some(name.clone()),
        alarm_description: a.alarm_description().filter(|d| !d.is_empty()).map(str::to_string),
        namespace: a.namespace().filter(|n| !n.is_empty()).map(str::to_string),
        metric_name: a.metric_name().filter(|n| !n.is_empty()).map(str::to_string),
        statistic: a.statistic().map(|s| s.as_str().to_string()),
        extended_statistic: a.extended_statistic().map(str::to_string),
        period: a.period().map(Into::into),
        evaluation_periods: a.evaluation_periods().unwrap_or_default().into(),
        datapoints_to_alarm: a.datapoints_to_alarm().map(Into::into),
        threshold: a.threshold().map(number_value).unwrap_or(Value::Null),
        comparison_operator: a.comparison_operator().map(|c| c.as_str()).unwrap_or_default().to_string(),
        dimensions: a
            .dimensions()
            .iter()
            .filter_map(|d| Some((d.name()?.to_string(), d.value().unwrap_or_default().to_string())))
            .collect(),
        treat_missing_data: a.treat_missing_data().unwrap_or("missing").to_string(),
        actions_enabled: a.actions_enabled().unwrap_or(true),
        alarm_actions: a.alarm_actions().to_vec(),
        ok_actions: a.ok_actions().to_vec(),
        insufficient_data_actions: a.insufficient_data_actions().to_vec(),
        unit: a.unit().map(|u| u.as_str().to_string()),
        metrics: (!a.metrics().is_empty()).then(|| a.metrics().iter().map(query_model).collect()),
    };
    Live { attributes: attributes(&name, a.alarm_arn()), id: name, model, tags }
}

impl Alarm {
    pub fn new(client: Client) -> Alarm {
        Alarm { tags: CloudWatchTags(client.clone()), client, tagging: None }
    }

    /// Tags from the run's one tagging-API read of the stack (shared by
    /// the kinds), rather than one tag read per alarm.
    pub fn with_stack_tags(mut self, tags: tagging::StackTags) -> Alarm {
        self.tagging = Some(tags);
        self
    }

    /// DescribeAlarms of these names (all metric alarms for `None`).
    async fn describe(&self, names: Option<&[String]>) -> Result<Vec<MetricAlarm>, ProviderError> {
        let chunks: Vec<Option<Vec<String>>> = match names {
            Some(names) => names.chunks(NAME_CHUNK).map(|c| Some(c.to_vec())).collect(),
            None => vec![None],
        };
        let calls = chunks.into_iter().map(|chunk| async move {
            let call = self.client.describe_alarms().set_alarm_names(chunk).alarm_types(AlarmType::MetricAlarm);
            let mut pages = call.into_paginator().send();
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
        out.retain(|a| names.is_none_or(|names| a.alarm_name().is_some_and(|n| names.iter().any(|x| x == n))));
        Ok(out)
    }

    /// The alarms, each with its tags (from the run's one tagging-API read,
    /// ListTagsForResource for what it lacks); those gone meanwhile are left
    /// out.
    async fn read_alarms(
        &self,
        instance: &str,
        names: Option<&[String]>,
    ) -> Result<Vec<Live<AlarmModel>>, ProviderError> {
        let alarms = self.describe(names).await?;
        let arns: Vec<String> = alarms.iter().filter_map(|a| a.alarm_arn().map(str::to_string)).collect();
        let mut tags = tagging::tags_of(self.tagging.as_ref(), instance, &arns, |arn| self.tags_of(arn)).await?;
        Ok(alarms.iter().filter_map(|a| Some(live(a, tags.remove(a.alarm_arn()?)?))).collect())
    }

    async fn tags_of(&self, arn: String) -> Result<Option<Tags>, ProviderError> {
        let out = self.client.list_tags_for_resource().resource_arn(arn).send().await.map_err(from_sdk);
        let pairs = |o: &aws_sdk_cloudwatch::operation::list_tags_for_resource::ListTagsForResourceOutput| -> Tags {
            own_tags(o.tags().iter().filter_map(|t| Some((t.key()?, t.value().unwrap_or_default()))))
        };
        Ok(unless_gone(out, is_gone::<Self>)?.as_ref().map(pairs))
    }

    /// PutMetricAlarm with the whole configuration; `tags` only on create.
    async fn put(&self, name: &str, want: &AlarmModel, tags: Option<Vec<Tag>>) -> Result<(), ProviderError> {
        let text = |v: Option<&String>| v.filter(|v| !v.is_empty()).cloned();
        let dims: Vec<Dimension> =
            want.dimensions.iter().map(|(k, v)| Dimension::builder().name(k).value(v).build()).collect();
        let threshold =
            number(&want.threshold).ok_or_else(|| ProviderError::msg("threshold is required and must be a number"))?;
        self.client
            .put_metric_alarm()
            .alarm_name(name)
            .set_alarm_description(text(want.alarm_description.as_ref()))
            .set_namespace(text(want.namespace.as_ref()))
            .set_metric_name(text(want.metric_name.as_ref()))
            .set_statistic(text(want.statistic.as_ref()).map(|v| Statistic::from(v.as_str())))
            .set_extended_statistic(text(want.extended_statistic.as_ref()))
            .set_period(want.period.map(|p| p as i32))
            .set_metrics(want.metrics.as_ref().map(|m| m.iter().map(query).collect()))
            .evaluation_periods(want.evaluation_periods as i32)
            .set_datapoints_to_alarm(want.datapoints_to_alarm.map(|d| d as i32))
            .threshold(threshold)
            .comparison_operator(ComparisonOperator::from(want.comparison_operator.as_str()))
            .set_dimensions((want.metrics.is_none()).then_some(dims))
            .set_treat_missing_data(text(Some(&want.treat_missing_data)))
            .actions_enabled(want.actions_enabled)
            .set_alarm_actions(Some(want.alarm_actions.clone()))
            .set_ok_actions(Some(want.ok_actions.clone()))
            .set_insufficient_data_actions(Some(want.insufficient_data_actions.clone()))
            .set_unit(text(want.unit.as_ref()).map(|v| StandardUnit::from(v.as_str())))
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
}

#[async_trait::async_trait]
impl Kind for Alarm {
    type Model = AlarmModel;
    const ADOPT: Adopt = Adopt::Custom;

    fn schema(&self) -> &'static KindSchema {
        &SCHEMA
    }

    fn tagger(&self) -> Option<&dyn Tagger> {
        Some(&self.tags)
    }

    fn stack_tags(&self) -> Option<&crate::kit::tagging::StackTags> {
        self.tagging.as_ref()
    }

    async fn read(&self, ctx: &ReadCtx, ids: &[String]) -> Result<Vec<Live<AlarmModel>>, ProviderError> {
        self.read_alarms(&ctx.stack, Some(ids)).await
    }

    /// Alarms cannot be listed by tag: every metric alarm's tags are read.
    async fn find_tagged(&self, ctx: &ReadCtx) -> Result<Vec<Live<AlarmModel>>, ProviderError> {
        let mut all = self.read_alarms(&ctx.stack, None).await?;
        all.retain(|l| l.tags.get(TAG_STACK) == Some(&ctx.stack));
        Ok(all)
    }

    async fn create(&self, ctx: &OpCtx, want: &AlarmModel) -> Result<Created, ProviderError> {
        let name = want.alarm_name.clone().unwrap_or_else(|| default_name(&ctx.stack, &ctx.address));
        // PutMetricAlarm would overwrite an alarm of that name: refuse one
        // that is not this resource's.
        let existing = self.read_alarms(&ctx.stack, Some(std::slice::from_ref(&name))).await?.pop();
        if existing.as_ref().is_some_and(|e| !is_ours(&e.tags, &ctx.stack, &ctx.address)) {
            return Err(ProviderError::new(
                Some("AlarmAlreadyExists".into()),
                format!("an alarm named {name} already exists and is not this resource's"),
            )
            .with_hint("it lacks this stack's deployctl tags: set another alarm_name, or delete that alarm"));
        }
        let tags = ctx.tags.iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect();
        self.put(&name, want, Some(tags)).await?;
        ctx.record_id(&name);
        let arn = match existing {
            // PutMetricAlarm ignores tags when the alarm existed (an
            // earlier, interrupted create).
            Some(existing) => {
                let live = existing.observed();
                crate::kit::converge_tags(&self.tags, &live, &ctx.tags).await?;
                live.attributes.get("arn").and_then(Value::as_str).map(str::to_string)
            }
            // PutMetricAlarm answers nothing: the ARN is in DescribeAlarms
            // only (or would need the account id).
            None => self.describe(Some(std::slice::from_ref(&name))).await?.pop().and_then(|a| a.alarm_arn),
        };
        Ok(Created { attributes: attributes(&name, arn.as_deref()), id: name })
    }

    async fn update(
        &self,
        _ctx: &OpCtx,
        live: &Observed,
        want: &AlarmModel,
        _changed: &[&str],
    ) -> Result<Option<Props>, ProviderError> {
        self.put(&live.id, want, None).await?;
        Ok(None)
    }

    async fn delete(&self, _ctx: &OpCtx, live: &Observed, _: Option<&AlarmModel>) -> Result<(), ProviderError> {
        self.client.delete_alarms().alarm_names(&live.id).send().await.map_err(from_sdk)?;
        Ok(())
    }

    async fn find_existing(
        &self,
        ctx: &ReadCtx,
        wanted: &[(String, Props)],
    ) -> Result<Vec<(String, Observed)>, ProviderError> {
        let name = |address: &str, p: &Props| match p.get("alarm_name").and_then(Value::as_str) {
            Some(n) => n.to_string(),
            None => default_name(&ctx.stack, address),
        };
        let by_name: BTreeMap<String, &String> = wanted.iter().map(|(a, p)| (name(a, p), a)).collect();
        let names: Vec<String> = by_name.keys().cloned().collect();
        Ok(self
            .read_alarms(&ctx.stack, Some(&names))
            .await?
            .into_iter()
            .filter_map(|l| {
                let address = *by_name.get(&l.id)?;
                is_this_stacks(&l.tags, &ctx.stack, address).then(|| (address.clone(), l.observed()))
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_read_as_written() {
        assert_eq!(number_value(80.0), json!(80));
        assert_eq!(number_value(0.5), json!(0.5));
        assert_eq!(number(&json!("0.25")), Some(0.25));
        assert_eq!(default_name("shop", "cpu_high[a]"), "shop-cpu_high-a");
    }

    #[test]
    fn one_metric_or_metric_math_as_cloudwatch_takes_it() {
        use crate::kit::literals as lit;
        let field = |v: Value| one_metric_or_math(&lit(v)).map(|v| v.field);
        assert_eq!(field(json!({"metric_name": "CPUUtilization", "period": 60})), None);
        assert_eq!(field(json!({"metric_name": "CPUUtilization"})), Some("period"));
        assert_eq!(field(json!({})), Some("metric_name"));
        let math = json!([{"id": "e", "expression": "m * 2", "return_data": true},
                          {"id": "m", "metric": {"namespace": "N", "metric_name": "M", "period": 60, "stat": "Sum"}}]);
        assert_eq!(field(json!({"metrics": math})), None);
        assert_eq!(field(json!({"metrics": math, "metric_name": "M"})), Some("metrics"));
        assert_eq!(field(json!({"metrics": math, "period": 60})), Some("period"));
        let none_watched = json!([{"id": "e", "expression": "1"}]);
        assert_eq!(field(json!({"metrics": none_watched})), Some("metrics"));
        let both = json!([{"id": "e", "expression": "1", "return_data": true,
                           "metric": {"namespace": "N", "metric_name": "M", "period": 60, "stat": "Sum"}}]);
        assert_eq!(field(json!({"metrics": both})), Some("metrics"));
    }
}
