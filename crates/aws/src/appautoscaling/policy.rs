//! `appautoscaling.policy`: a target tracking scaling policy of a scalable
//! target (keep the ECS service's average CPU at 70 %, say).
//!
//! The id is the policy ARN, which names the namespace, the resource and the
//! policy (`…:scalingPolicy:<uuid>:resource/ecs/service/shop/web:policyName/cpu`).
//! PutScalingPolicy is an upsert: create and update are the same call, and
//! answer the ARN. An update may answer with a new ARN (moto does): it
//! becomes the `arn` attribute, and the id it is known by still reads.
//! Reads are batched: one DescribeScalingPolicies per namespace for up to
//! 50 policy names, matched by ARN, or else by resource and name. Adoption
//! finds a candidate by its natural key (namespace, resource, dimension,
//! name).

use super::{dimension_fits_namespace, is_gone, Key, CHUNK};
use crate::error::from_sdk;
use crate::kit::{attrs, kept, model, Adopt, Created, Kind, Live, Model};
use aws_sdk_applicationautoscaling::types::{
    MetricType, PolicyType, PredefinedMetricSpecification, ScalableDimension, ScalingPolicy, ServiceNamespace,
    TargetTrackingScalingPolicyConfiguration as Tracking,
};
use aws_sdk_applicationautoscaling::Client;
use deployctl_engine::kind::Wanted;
use deployctl_engine::{Observed, OpCtx, Props, ProviderError, ReadCtx};
use deployctl_spec::{Attr, KindSchema, Literals, RuleViolation};
use futures::future::join_all;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

const ALB_REQUESTS: &str = "ALBRequestCountPerTarget";

model! {
    pub struct PredefinedMetric {
        predefined_metric_type: String = "ECS: `ECSServiceAverageCPUUtilization`, \
            `ECSServiceAverageMemoryUtilization` or `ALBRequestCountPerTarget`."
            [required, one_of(MetricType::values())],
        resource_label: Option<String> =
            "For `ALBRequestCountPerTarget` (and only for it): `<load balancer arn_suffix>/<target group arn_suffix>`.",
    }
}

model! {
    pub struct TargetTracking {
        target_value: f64 = "The value to keep the metric at, e.g. `70` (percent CPU)." [required],
        predefined_metric_specification: PredefinedMetric = "The metric tracked." [required],
        scale_in_cooldown: Option<i32> = "Seconds after a scale-in before another scale-in."
            [range(0, 2147483647)],
        scale_out_cooldown: Option<i32> = "Seconds after a scale-out before another scale-out."
            [range(0, 2147483647)],
        disable_scale_in: bool = "Whether the policy only ever scales out." [default("false")],
    }
}

model! {
    pub struct PolicyModel {
        policy_name: String = "The policy's name, unique for its scalable target." [required, replace],
        service_namespace: String = "The target's service namespace, e.g. `ecs`."
            [required, replace, one_of(ServiceNamespace::values())],
        resource_id: String =
            "The target's resource id, e.g. `${target.resource_id}` (`service/<cluster>/<service>`)."
            [required, replace],
        scalable_dimension: String = "The target's dimension, e.g. `ecs:service:DesiredCount`."
            [required, replace, one_of(ScalableDimension::values())],
        policy_type: String = "`TargetTrackingScaling` (the only type supported)."
            [default("\"TargetTrackingScaling\""), replace, one_of(PolicyType::values())],
        target_tracking_scaling_policy_configuration: TargetTracking =
            "The metric, its target value and the cooldowns." [required],
    }
}

pub static SCHEMA: KindSchema = KindSchema {
    type_name: "appautoscaling.policy",
    doc: "A target tracking scaling policy: Application Auto Scaling adds or removes capacity to keep a metric \
          at a target value. It must come after its scalable target: write `resource_id: \
          \"${target.resource_id}\"` (the reference orders it), or add `depends_on: [target]`. Only target \
          tracking with a predefined metric is supported.",
    properties: <PolicyModel as Model>::PROPS,
    attributes: &[
        Attr { name: "id", doc: "The policy ARN." },
        Attr { name: "arn", doc: "The policy ARN." },
        Attr { name: "name", doc: "The policy name." },
    ],
    taggable: false,
    rules: &[dimension_fits_namespace, target_tracking_only, label_with_alb_requests, positive_target],
    example: "web_cpu:\n  type: appautoscaling.policy\n  properties:\n    policy_name: cpu70\n    service_namespace: \
              ecs\n    resource_id: service/shop/web\n    scalable_dimension: ecs:service:DesiredCount\n    \
              target_tracking_scaling_policy_configuration:\n      target_value: 70\n      \
              predefined_metric_specification: {predefined_metric_type: ECSServiceAverageCPUUtilization}\n      \
              scale_in_cooldown: 300\n      scale_out_cooldown: 300\n",
};

fn violation(field: &'static str, message: String, hint: &str) -> Option<RuleViolation> {
    Some(RuleViolation { field, message, hint: hint.into() })
}

/// Step scaling and predictive scaling are not supported.
fn target_tracking_only(p: &Literals) -> Option<RuleViolation> {
    let t = super::literal(p, "policy_type").filter(|t| *t != "TargetTrackingScaling")?;
    violation("policy_type", format!("policy_type {t} is not supported"), "only TargetTrackingScaling policies are")
}

/// The tracking configuration, when it is a literal.
fn tracking(p: &Literals) -> Option<&Value> {
    p.get("target_tracking_scaling_policy_configuration")?.as_ref()
}

/// AWS takes a resource label with `ALBRequestCountPerTarget`, and only
/// with it.
fn label_with_alb_requests(p: &Literals) -> Option<RuleViolation> {
    let spec = tracking(p)?.get("predefined_metric_specification")?;
    let metric = spec.get("predefined_metric_type")?.as_str()?;
    let label = spec.get("resource_label").filter(|l| !l.is_null());
    let field = "target_tracking_scaling_policy_configuration";
    match (metric == ALB_REQUESTS, label) {
        (true, None) => violation(
            field,
            format!("{ALB_REQUESTS} needs predefined_metric_specification.resource_label"),
            "set resource_label: \"${alb.arn_suffix}/${tg.arn_suffix}\"",
        ),
        (false, Some(_)) => violation(
            field,
            format!("resource_label is only for {ALB_REQUESTS}, not {metric}"),
            "remove resource_label",
        ),
        _ => None,
    }
}

/// A target value is a positive number.
fn positive_target(p: &Literals) -> Option<RuleViolation> {
    let v = tracking(p)?.get("target_value")?.as_f64()?;
    (v <= 0.0).then(|| RuleViolation {
        field: "target_tracking_scaling_policy_configuration",
        message: format!("target_value {v} is not positive"),
        hint: "set target_value above 0, e.g. 70 (percent CPU)".into(),
    })
}

pub struct Policy {
    client: Client,
}

/// What an id (a policy ARN) names: the target's namespace and resource,
/// and the policy name.
#[derive(Debug, Clone, PartialEq, Eq)]
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

fn attributes(id: &str, arn: &str, name: &str) -> Props {
    attrs([("id", json!(id)), ("arn", json!(arn)), ("name", json!(name))])
}

/// A policy in the spec's shape; `id` is the id it is known by.
fn live(p: &ScalingPolicy, id: &str) -> Live<PolicyModel> {
    let c = p.target_tracking_scaling_policy_configuration();
    let spec = c.and_then(|c| c.predefined_metric_specification());
    let tracking = TargetTracking {
        target_value: c.map_or(0.0, |c| c.target_value()),
        predefined_metric_specification: PredefinedMetric {
            predefined_metric_type: spec.map_or("", |s| s.predefined_metric_type().as_str()).to_string(),
            resource_label: spec.and_then(|s| s.resource_label()).filter(|l| !l.is_empty()).map(str::to_string),
        },
        scale_in_cooldown: c.and_then(|c| c.scale_in_cooldown()),
        scale_out_cooldown: c.and_then(|c| c.scale_out_cooldown()),
        disable_scale_in: c.and_then(|c| c.disable_scale_in()).unwrap_or(false),
    };
    Live {
        id: id.to_string(),
        model: PolicyModel {
            policy_name: p.policy_name().to_string(),
            service_namespace: p.service_namespace().as_str().to_string(),
            resource_id: p.resource_id().to_string(),
            scalable_dimension: p.scalable_dimension().as_str().to_string(),
            policy_type: p.policy_type().as_str().to_string(),
            target_tracking_scaling_policy_configuration: tracking,
        },
        tags: BTreeMap::new(),
        attributes: attributes(id, p.policy_arn(), p.policy_name()),
    }
}

fn configuration(c: &TargetTracking) -> Result<Tracking, ProviderError> {
    let spec = &c.predefined_metric_specification;
    let spec = PredefinedMetricSpecification::builder()
        .predefined_metric_type(MetricType::from(spec.predefined_metric_type.as_str()))
        .set_resource_label(spec.resource_label.clone())
        .build()
        .map_err(|e| ProviderError::msg(e.to_string()))?;
    Tracking::builder()
        .target_value(c.target_value)
        .predefined_metric_specification(spec)
        .set_scale_in_cooldown(c.scale_in_cooldown)
        .set_scale_out_cooldown(c.scale_out_cooldown)
        .disable_scale_in(c.disable_scale_in)
        .build()
        .map_err(|e| ProviderError::msg(e.to_string()))
}

fn key(want: &PolicyModel) -> Key {
    Key::new(&want.service_namespace, &want.resource_id, &want.scalable_dimension)
}

impl Policy {
    pub fn new(client: Client) -> Policy {
        Policy { client }
    }

    /// The policies of each namespace with these names (moto ignores the
    /// name filter: the caller matches).
    async fn describe(&self, names: &BTreeMap<String, BTreeSet<String>>) -> Result<Vec<ScalingPolicy>, ProviderError> {
        let batches = names.iter().flat_map(|(ns, names)| {
            let names: Vec<String> = names.iter().cloned().collect();
            names.chunks(CHUNK).map(|c| (ServiceNamespace::from(ns.as_str()), c.to_vec())).collect::<Vec<_>>()
        });
        let calls = batches.map(|(ns, chunk)| async move {
            let call = self.client.describe_scaling_policies().service_namespace(ns).set_policy_names(Some(chunk));
            let mut pages = call.into_paginator().send();
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

    /// PutScalingPolicy; answers the policy ARN.
    async fn put(&self, want: &PolicyModel) -> Result<String, ProviderError> {
        let key = key(want);
        let out = self
            .client
            .put_scaling_policy()
            .policy_name(&want.policy_name)
            .service_namespace(key.namespace())
            .resource_id(&key.resource_id)
            .scalable_dimension(key.dimension())
            .policy_type(PolicyType::from(want.policy_type.as_str()))
            .target_tracking_scaling_policy_configuration(configuration(
                &want.target_tracking_scaling_policy_configuration,
            )?)
            .send()
            .await
            .map_err(from_sdk)
            .map_err(|e| match e.code.as_deref() {
                Some("ObjectNotFoundException") => e.with_hint(
                    "the scalable target is not registered yet: reference it (resource_id: \
                     \"${target.resource_id}\") or add depends_on: [target]",
                ),
                Some("ValidationException") => {
                    e.with_hint("check predefined_metric_type (and resource_label for ALBRequestCountPerTarget)")
                }
                _ => e,
            })?;
        Ok(out.policy_arn().to_string())
    }
}

#[async_trait::async_trait]
impl Kind for Policy {
    type Model = PolicyModel;
    const ADOPT: Adopt = Adopt::Custom;

    fn schema(&self) -> &'static KindSchema {
        &SCHEMA
    }

    /// PutScalingPolicy overwrites a policy of the same name on the same
    /// target: a "new" one would be the old one, which the delete after
    /// would then remove.
    fn coexists(&self, old: &Props, new: &Wanted) -> Result<(), String> {
        let same_target =
            ["service_namespace", "resource_id", "scalable_dimension"].iter().all(|f| kept(old, new, f).is_some());
        match kept(old, new, "policy_name").filter(|_| same_target) {
            Some(name) => {
                Err(format!("its policy_name {name} names one policy of its target and the replacement keeps it"))
            }
            None => Ok(()),
        }
    }

    async fn read(&self, _ctx: &ReadCtx, ids: &[String]) -> Result<Vec<Live<PolicyModel>>, ProviderError> {
        let named: Vec<(&String, Named)> = ids.iter().filter_map(|id| Some((id, parse_arn(id)?))).collect();
        let mut names: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (_, n) in &named {
            names.entry(n.namespace.clone()).or_default().insert(n.name.clone());
        }
        let found = self.describe(&names).await?;
        Ok(named
            .into_iter()
            .filter_map(|(id, n)| {
                let hit = found.iter().find(|p| p.policy_arn() == id.as_str()).or_else(|| {
                    found.iter().find(|p| {
                        (p.service_namespace().as_str(), p.resource_id(), p.policy_name())
                            == (&n.namespace, &n.resource_id, &n.name)
                    })
                })?;
                Some(live(hit, id))
            })
            .collect())
    }

    /// By natural key: the policy of that name on the target the candidate
    /// names.
    async fn find_existing(
        &self,
        _ctx: &ReadCtx,
        wanted: &[(String, Props)],
    ) -> Result<Vec<(String, Observed)>, ProviderError> {
        let keyed: Vec<(&String, Key, &str)> = wanted
            .iter()
            .filter_map(|(a, p)| Some((a, Key::of(p)?, p.get("policy_name")?.as_str().filter(|n| !n.is_empty())?)))
            .collect();
        let mut names: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (_, k, n) in &keyed {
            names.entry(k.namespace.clone()).or_default().insert(n.to_string());
        }
        let found = if names.is_empty() { Vec::new() } else { self.describe(&names).await? };
        Ok(keyed
            .into_iter()
            .filter_map(|(address, k, n)| {
                let p = found.iter().find(|p| {
                    Key::new(p.service_namespace().as_str(), p.resource_id(), p.scalable_dimension().as_str()) == k
                        && p.policy_name() == n
                })?;
                Some((address.clone(), live(p, p.policy_arn()).observed()))
            })
            .collect())
    }

    async fn create(&self, ctx: &OpCtx, want: &PolicyModel) -> Result<Created, ProviderError> {
        let arn = self.put(want).await?;
        ctx.record_id(&arn);
        Ok(Created { attributes: attributes(&arn, &arn, &want.policy_name), id: arn })
    }

    async fn update(
        &self,
        _ctx: &OpCtx,
        live: &Observed,
        want: &PolicyModel,
        _changed: &[&str],
    ) -> Result<Option<Props>, ProviderError> {
        let arn = self.put(want).await?;
        let changed = live.attributes.get("arn").and_then(Value::as_str) != Some(arn.as_str());
        Ok(changed.then(|| attributes(&live.id, &arn, &want.policy_name)))
    }

    async fn delete(&self, _ctx: &OpCtx, live: &Observed, _: Option<&PolicyModel>) -> Result<(), ProviderError> {
        let want = PolicyModel::from_props(&live.properties)?;
        let key = key(&want);
        let call = self.client.delete_scaling_policy().policy_name(&want.policy_name);
        let call = call.service_namespace(key.namespace()).resource_id(&key.resource_id);
        match call.scalable_dimension(key.dimension()).send().await.map_err(from_sdk) {
            Err(e) if !is_gone(&e) => Err(e),
            _ => Ok(()),
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

    #[test]
    fn the_schema_refuses_what_aws_would() {
        let lit = |pairs: Value| -> Literals {
            pairs.as_object().unwrap().iter().map(|(k, v)| (k.clone(), Some(v.clone()))).collect()
        };
        let conf = |metric: &str, label: Option<&str>, target: f64| {
            lit(json!({"target_tracking_scaling_policy_configuration": {"target_value": target,
                "predefined_metric_specification": {"predefined_metric_type": metric, "resource_label": label}}}))
        };
        assert!(label_with_alb_requests(&conf("ECSServiceAverageCPUUtilization", None, 70.0)).is_none());
        assert!(label_with_alb_requests(&conf(ALB_REQUESTS, None, 70.0)).is_some());
        assert!(label_with_alb_requests(&conf(ALB_REQUESTS, Some("app/a/1/targetgroup/t/2"), 70.0)).is_none());
        assert!(label_with_alb_requests(&conf("ECSServiceAverageCPUUtilization", Some("x"), 70.0)).is_some());
        assert!(positive_target(&conf("ECSServiceAverageCPUUtilization", None, 0.0)).is_some());
        assert!(positive_target(&conf("ECSServiceAverageCPUUtilization", None, 0.5)).is_none());
        assert!(target_tracking_only(&lit(json!({"policy_type": "StepScaling"}))).is_some());
        assert!(target_tracking_only(&lit(json!({"policy_type": "TargetTrackingScaling"}))).is_none());
    }
}
