//! `appautoscaling.policy`: a target tracking scaling policy of a scalable
//! target (keep the ECS service's average CPU at 70 %, say).
//!
//! The id is the policy ARN, which names the namespace, the resource and the
//! policy (`…:scalingPolicy:<uuid>:resource/ecs/service/shop/web:policyName/cpu`).
//! PutScalingPolicy is an upsert: create and update are the same call; an
//! update may answer with a new ARN (moto does), which becomes the id. Reads
//! are batched: one DescribeScalingPolicies per namespace for up to 50
//! policy names, matched by ARN, or else by resource and name (so an id
//! whose ARN changed still reads). Policies take no tags: adoption finds a
//! candidate by its natural key (namespace, resource, dimension, name).

use super::target::Key;
use super::{is_gone, CHUNK};
use crate::cloudwatch::alarm::number_value;
use crate::elbv2::want;
use crate::error::from_sdk;
use async_trait::async_trait;
use aws_sdk_applicationautoscaling::types::{
    MetricType, PolicyType, PredefinedMetricSpecification, ScalableDimension, ScalingPolicy, ServiceNamespace,
    TargetTrackingScalingPolicyConfiguration,
};
use aws_sdk_applicationautoscaling::Client;
use deployctl_engine::diff::normalize;
use deployctl_engine::{Observed, OpCtx, Props, ProviderError, ReadCtx, ResourceKind};
use deployctl_spec::{Attr, KindSchema, Prop, Type};
use futures::future::join_all;
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, BTreeSet};

static PREDEFINED_METRIC: [Prop; 2] = [
    Prop::new(
        "predefined_metric_type",
        Type::String,
        "ECS: `ECSServiceAverageCPUUtilization`, `ECSServiceAverageMemoryUtilization` or \
         `ALBRequestCountPerTarget`.",
    )
    .required(),
    Prop::new(
        "resource_label",
        Type::String,
        "For `ALBRequestCountPerTarget`: `<load balancer arn_suffix>/<target group arn_suffix>`.",
    ),
];

static TARGET_TRACKING: [Prop; 5] = [
    Prop::new("target_value", Type::Number, "The value to keep the metric at, e.g. `70` (percent CPU).").required(),
    Prop::new("predefined_metric_specification", Type::Object(&PREDEFINED_METRIC), "The metric tracked.").required(),
    Prop::new("scale_in_cooldown", Type::Int, "Seconds after a scale-in before another scale-in."),
    Prop::new("scale_out_cooldown", Type::Int, "Seconds after a scale-out before another scale-out."),
    Prop::new("disable_scale_in", Type::Bool, "Whether the policy only ever scales out.").default("false"),
];

pub static SCHEMA: KindSchema = KindSchema {
    type_name: "appautoscaling.policy",
    doc: "A target tracking scaling policy: Application Auto Scaling adds or removes capacity to keep a metric \
          at a target value. It must come after its scalable target: write `resource_id: \
          \"${target.resource_id}\"` (the reference orders it), or add `depends_on: [target]`. Only target \
          tracking with a predefined metric is supported.",
    properties: &[
        Prop::new("policy_name", Type::String, "The policy's name, unique for its scalable target.")
            .required()
            .replace(),
        Prop::new("service_namespace", Type::String, "The target's service namespace, e.g. `ecs`.")
            .required()
            .replace()
            .one_of(aws_sdk_applicationautoscaling::types::ServiceNamespace::values()),
        Prop::new(
            "resource_id",
            Type::String,
            "The target's resource id, e.g. `${target.resource_id}` (`service/<cluster>/<service>`).",
        )
        .required()
        .replace(),
        Prop::new("scalable_dimension", Type::String, "The target's dimension, e.g. `ecs:service:DesiredCount`.")
            .required()
            .replace()
            .one_of(aws_sdk_applicationautoscaling::types::ScalableDimension::values()),
        Prop::new("policy_type", Type::String, "`TargetTrackingScaling`.")
            .default("\"TargetTrackingScaling\"")
            .replace(),
        Prop::new(
            "target_tracking_scaling_policy_configuration",
            Type::Object(&TARGET_TRACKING),
            "The metric, its target value and the cooldowns.",
        )
        .required(),
    ],
    attributes: &[
        Attr { name: "id", doc: "The policy ARN." },
        Attr { name: "arn", doc: "The policy ARN." },
        Attr { name: "name", doc: "The policy name." },
    ],
    taggable: false,
    rules: &[],
    example: "web_cpu:\n  type: appautoscaling.policy\n  properties:\n    policy_name: cpu70\n    service_namespace: \
              ecs\n    resource_id: service/shop/web\n    scalable_dimension: ecs:service:DesiredCount\n    \
              target_tracking_scaling_policy_configuration:\n      target_value: 70\n      \
              predefined_metric_specification: {predefined_metric_type: ECSServiceAverageCPUUtilization}\n      \
              scale_in_cooldown: 300\n      scale_out_cooldown: 300\n",
};

pub struct Policy {
    client: Client,
}

/// What an id (a policy ARN) names: the target's namespace and resource,
/// and the policy name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Named {
    namespace: String,
    resource_id: String,
    name: String,
}

/// `…:resource/<namespace>/<resource id>:policyName/<name>`.
fn parse_arn(arn: &str) -> Option<Named> {
    let (head, name) = arn.rsplit_once(":policyName/")?;
    let (_, resource) = head.split_once(":resource/")?;
    let (namespace, resource_id) = resource.split_once('/')?;
    Some(Named { namespace: namespace.to_string(), resource_id: resource_id.to_string(), name: name.to_string() })
}

/// A policy in the spec's shape; `id` is the id it is known by.
fn observed(p: &ScalingPolicy, id: &str) -> Observed {
    let mut props = Props::new();
    props.insert("policy_name".into(), json!(p.policy_name()));
    props.insert("service_namespace".into(), json!(p.service_namespace().as_str()));
    props.insert("resource_id".into(), json!(p.resource_id()));
    props.insert("scalable_dimension".into(), json!(p.scalable_dimension().as_str()));
    props.insert("policy_type".into(), json!(p.policy_type().as_str()));
    if let Some(c) = p.target_tracking_scaling_policy_configuration() {
        let mut m = Map::new();
        m.insert("target_value".into(), number_value(c.target_value()));
        if let Some(s) = c.predefined_metric_specification() {
            let mut spec = Map::new();
            spec.insert("predefined_metric_type".into(), json!(s.predefined_metric_type().as_str()));
            if let Some(l) = s.resource_label().filter(|l| !l.is_empty()) {
                spec.insert("resource_label".into(), json!(l));
            }
            m.insert("predefined_metric_specification".into(), Value::Object(spec));
        }
        if let Some(v) = c.scale_in_cooldown() {
            m.insert("scale_in_cooldown".into(), json!(v));
        }
        if let Some(v) = c.scale_out_cooldown() {
            m.insert("scale_out_cooldown".into(), json!(v));
        }
        m.insert("disable_scale_in".into(), json!(c.disable_scale_in().unwrap_or(false)));
        props.insert("target_tracking_scaling_policy_configuration".into(), Value::Object(m));
    }
    let mut a = Props::new();
    a.insert("id".into(), json!(id));
    a.insert("arn".into(), json!(p.policy_arn()));
    a.insert("name".into(), json!(p.policy_name()));
    Observed { id: id.to_string(), properties: props, tags: BTreeMap::new(), attributes: a }
}

fn configuration(desired: &Props) -> Result<TargetTrackingScalingPolicyConfiguration, ProviderError> {
    let name = "target_tracking_scaling_policy_configuration";
    let ty = SCHEMA.property(name).map(|p| p.ty).unwrap_or(Type::Document);
    let c = want(&SCHEMA, desired, name)
        .map(|v| normalize(&ty, &v))
        .ok_or_else(|| ProviderError::msg(format!("{name} is required")))?;
    let target = c
        .get("target_value")
        .and_then(|v| v.as_f64().or_else(|| v.as_str().and_then(|s| s.parse().ok())))
        .ok_or_else(|| ProviderError::msg("target_value is required and must be a number"))?;
    let int = |k: &str| c.get(k).and_then(Value::as_i64).map(|v| v as i32);
    let metric = c
        .get("predefined_metric_specification")
        .and_then(|m| m.get("predefined_metric_type"))
        .and_then(Value::as_str)
        .ok_or_else(|| ProviderError::msg("predefined_metric_specification.predefined_metric_type is required"))?;
    let label = c
        .get("predefined_metric_specification")
        .and_then(|m| m.get("resource_label"))
        .and_then(Value::as_str)
        .map(str::to_string);
    let spec = PredefinedMetricSpecification::builder()
        .predefined_metric_type(MetricType::from(metric))
        .set_resource_label(label)
        .build()
        .map_err(|e| ProviderError::msg(e.to_string()))?;
    TargetTrackingScalingPolicyConfiguration::builder()
        .target_value(target)
        .predefined_metric_specification(spec)
        .set_scale_in_cooldown(int("scale_in_cooldown"))
        .set_scale_out_cooldown(int("scale_out_cooldown"))
        .disable_scale_in(c.get("disable_scale_in").and_then(Value::as_bool).unwrap_or(false))
        .build()
        .map_err(|e| ProviderError::msg(e.to_string()))
}

/// The policy's target and name, from the spec's properties.
fn key_of(props: &Props) -> Option<(Key, String)> {
    let name = props.get("policy_name").and_then(Value::as_str).filter(|s| !s.is_empty())?;
    Some((Key::of(props)?, name.to_string()))
}

impl Policy {
    pub fn new(client: Client) -> Policy {
        Policy { client }
    }

    /// The policies of one namespace with these names (moto ignores the
    /// name filter: the caller matches).
    async fn describe(&self, namespace: &str, names: &[String]) -> Result<Vec<ScalingPolicy>, ProviderError> {
        let calls = names.chunks(CHUNK).map(|chunk| async move {
            let mut pages = self
                .client
                .describe_scaling_policies()
                .service_namespace(ServiceNamespace::from(namespace))
                .set_policy_names(Some(chunk.to_vec()))
                .into_paginator()
                .send();
            let mut out = Vec::new();
            while let Some(page) = pages.next().await {
                out.extend(page.map_err(from_sdk)?.scaling_policies().iter().cloned());
            }
            Ok::<_, ProviderError>(out)
        });
        let mut out = Vec::new();
        for r in join_all(calls).await {
            out.extend(r?);
        }
        Ok(out)
    }

    /// The policies of these ARNs that exist, each under the id asked.
    async fn read_arns(&self, ids: &[String]) -> Result<Vec<Observed>, ProviderError> {
        let named: Vec<(&String, Named)> = ids.iter().filter_map(|id| Some((id, parse_arn(id)?))).collect();
        let mut by_ns: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
        for (_, n) in &named {
            by_ns.entry(&n.namespace).or_default().insert(n.name.clone());
        }
        let calls = by_ns.iter().map(|(ns, names)| {
            let names: Vec<String> = names.iter().cloned().collect();
            async move { self.describe(ns, &names).await }
        });
        let mut found = Vec::new();
        for r in join_all(calls).await {
            found.extend(r?);
        }
        let mut out = Vec::new();
        for (id, n) in named {
            let hit = found.iter().find(|p| p.policy_arn() == id.as_str()).or_else(|| {
                found.iter().find(|p| {
                    p.service_namespace().as_str() == n.namespace
                        && p.resource_id() == n.resource_id
                        && p.policy_name() == n.name
                })
            });
            if let Some(p) = hit {
                out.push(observed(p, id));
            }
        }
        Ok(out)
    }

    async fn must_read(&self, arn: &str) -> Result<Observed, ProviderError> {
        self.read_arns(&[arn.to_string()]).await?.into_iter().next().ok_or_else(|| {
            ProviderError::new(Some("ObjectNotFoundException".into()), format!("scaling policy {arn} does not exist"))
                .with_hint("it was deleted outside deployctl (or with its scalable target); re-run to create it again")
        })
    }

    async fn put(&self, desired: &Props) -> Result<String, ProviderError> {
        let (key, name) = key_of(desired).ok_or_else(|| {
            ProviderError::msg("policy_name, service_namespace, resource_id and scalable_dimension are required")
        })?;
        let policy_type = want(&SCHEMA, desired, "policy_type")
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_else(|| "TargetTrackingScaling".into());
        if policy_type != "TargetTrackingScaling" {
            return Err(ProviderError::msg(format!("policy_type {policy_type} is not supported"))
                .with_hint("only TargetTrackingScaling policies are supported"));
        }
        let out = self
            .client
            .put_scaling_policy()
            .policy_name(&name)
            .service_namespace(ServiceNamespace::from(key.namespace.as_str()))
            .resource_id(&key.resource_id)
            .scalable_dimension(ScalableDimension::from(key.dimension.as_str()))
            .policy_type(PolicyType::from(policy_type.as_str()))
            .target_tracking_scaling_policy_configuration(configuration(desired)?)
            .send()
            .await
            .map_err(from_sdk)
            .map_err(|e| {
                if e.code_is("ObjectNotFoundException") {
                    e.with_hint(
                        "the scalable target is not registered yet: reference it (resource_id: \
                         \"${target.resource_id}\") or add depends_on: [target]",
                    )
                } else if e.code_is("ValidationException") {
                    e.with_hint("check predefined_metric_type (and resource_label for ALBRequestCountPerTarget)")
                } else {
                    e
                }
            })?;
        Ok(out.policy_arn().to_string())
    }
}

#[async_trait]
impl ResourceKind for Policy {
    fn schema(&self) -> &'static KindSchema {
        &SCHEMA
    }

    async fn read(&self, _ctx: &ReadCtx, ids: &[String]) -> Result<Vec<Observed>, ProviderError> {
        self.read_arns(ids).await
    }

    /// Policies are not tagged: nothing to find by tag.
    async fn find_tagged(&self, _ctx: &ReadCtx) -> Result<Vec<(String, Observed)>, ProviderError> {
        Ok(Vec::new())
    }

    async fn find_existing(
        &self,
        _ctx: &ReadCtx,
        wanted: &[(String, Props)],
    ) -> Result<Vec<(String, Observed)>, ProviderError> {
        let keyed: Vec<(&String, Key, String)> =
            wanted.iter().filter_map(|(a, p)| key_of(p).map(|(k, n)| (a, k, n))).collect();
        let mut by_ns: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
        for (_, k, n) in &keyed {
            by_ns.entry(&k.namespace).or_default().insert(n.clone());
        }
        let calls = by_ns.iter().map(|(ns, names)| {
            let names: Vec<String> = names.iter().cloned().collect();
            async move { self.describe(ns, &names).await }
        });
        let mut found = Vec::new();
        for r in join_all(calls).await {
            found.extend(r?);
        }
        Ok(keyed
            .into_iter()
            .filter_map(|(address, k, n)| {
                let p = found.iter().find(|p| {
                    p.service_namespace().as_str() == k.namespace
                        && p.resource_id() == k.resource_id
                        && p.scalable_dimension().as_str() == k.dimension
                        && p.policy_name() == n
                })?;
                Some((address.clone(), observed(p, p.policy_arn())))
            })
            .collect())
    }

    async fn create(&self, ctx: &OpCtx, desired: &Props) -> Result<Observed, ProviderError> {
        let arn = self.put(desired).await?;
        ctx.record_id(&arn);
        self.must_read(&arn).await
    }

    async fn update(
        &self,
        _ctx: &OpCtx,
        _current: &Observed,
        desired: &Props,
        _changed: &[String],
    ) -> Result<Observed, ProviderError> {
        let arn = self.put(desired).await?;
        self.must_read(&arn).await
    }

    async fn delete(&self, _ctx: &OpCtx, current: &Observed, _recorded: &Props) -> Result<(), ProviderError> {
        let Some((key, name)) = key_of(&current.properties) else {
            return Err(ProviderError::msg(format!("scaling policy {} was read without its target", current.id)));
        };
        match self
            .client
            .delete_scaling_policy()
            .policy_name(&name)
            .service_namespace(ServiceNamespace::from(key.namespace.as_str()))
            .resource_id(&key.resource_id)
            .scalable_dimension(ScalableDimension::from(key.dimension.as_str()))
            .send()
            .await
            .map_err(from_sdk)
        {
            Ok(_) => Ok(()),
            Err(e) if is_gone(&e) => Ok(()),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_arns_name_their_target_and_policy() {
        let n = parse_arn(
            "arn:aws:autoscaling:us-east-1:123456789012:scalingPolicy:5afd800a-92f1-40d6-af35-2bf60053df41:\
             resource/ecs/service/c1/s1:policyName/cpu",
        )
        .unwrap();
        assert_eq!(n, Named { namespace: "ecs".into(), resource_id: "service/c1/s1".into(), name: "cpu".into() });
        assert!(parse_arn("arn:aws:sns:us-east-1:1:x").is_none());
    }
}
