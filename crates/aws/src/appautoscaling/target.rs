//! `appautoscaling.target`: a scalable target, e.g. an ECS service's desired
//! count kept between a minimum and a maximum.
//!
//! The id is deterministic: `<service_namespace>/<resource_id>/<scalable_dimension>`
//! (`ecs/service/shop/web/ecs:service:DesiredCount`). RegisterScalableTarget
//! is an upsert: create and update are the same call, and create answers
//! from its response (the target's ARN). Reads are batched: one
//! DescribeScalableTargets per namespace for up to 50 resource ids.
//! Adoption finds a candidate by its natural key, and registering one that
//! exists takes it over, as AWS itself does.

use super::{dimension_fits_namespace, is_gone, literal, Key, CHUNK};
use crate::error::from_sdk;
use crate::kit::{attrs, model, Adopt, Created, Kind, Live, Model};
use aws_sdk_applicationautoscaling::types::{ScalableDimension, ScalableTarget, ServiceNamespace};
use aws_sdk_applicationautoscaling::Client;
use deployctl_engine::{Observed, OpCtx, Props, ProviderError, ReadCtx};
use deployctl_spec::{Attr, KindSchema, Literals, RuleViolation};
use futures::future::join_all;
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};

model! {
    pub struct TargetModel {
        service_namespace: String = "The service: `ecs`, `dynamodb`, `rds`, `lambda`, `elasticache`…"
            [required, replace, one_of(ServiceNamespace::values())],
        resource_id: String = "What scales, in the service's format; ECS: `service/<cluster name>/<service name>`."
            [required, replace],
        scalable_dimension: String = "The property that scales; ECS: `ecs:service:DesiredCount`."
            [required, replace, one_of(ScalableDimension::values())],
        min_capacity: i32 = "The fewest units (tasks) scaling may leave." [required, range(0, 2147483647)],
        max_capacity: i32 = "The most units (tasks) scaling may add up to (at least `min_capacity`)."
            [required, range(0, 2147483647)],
        role_arn: Option<String> =
            "The role Application Auto Scaling uses. Unset: its service-linked role (not managed).",
    }
}

pub static SCHEMA: KindSchema = KindSchema {
    type_name: "appautoscaling.target",
    doc: "A scalable target of Application Auto Scaling: what scales (an ECS service's task count) and between \
          which bounds. For an ECS service: `service_namespace: ecs`, `resource_id: \
          service/${cluster.name}/${service.name}` (the references order it after the service), \
          `scalable_dimension: ecs:service:DesiredCount`. Its scaling policies (`appautoscaling.policy`) \
          reference its `resource_id`, so they come after it. Deleting the target deletes its policies too.",
    properties: <TargetModel as Model>::PROPS,
    attributes: &[
        Attr { name: "id", doc: "`<service_namespace>/<resource_id>/<scalable_dimension>`." },
        Attr { name: "arn", doc: "The scalable target's ARN." },
        Attr { name: "service_namespace", doc: "The service namespace, for the target's policies." },
        Attr { name: "resource_id", doc: "The resource id, for the target's policies (`${target.resource_id}`)." },
        Attr { name: "scalable_dimension", doc: "The scalable dimension, for the target's policies." },
    ],
    taggable: false,
    rules: &[dimension_fits_namespace, min_within_max, ecs_resource_id],
    example: "web_scaling:\n  type: appautoscaling.target\n  properties:\n    service_namespace: ecs\n    \
              resource_id: service/shop/web\n    scalable_dimension: ecs:service:DesiredCount\n    min_capacity: 2\n    \
              max_capacity: 10\n",
};

/// AWS refuses a minimum above the maximum.
fn min_within_max(p: &Literals) -> Option<RuleViolation> {
    let n = |k: &str| p.get(k)?.as_ref()?.as_i64();
    let (min, max) = (n("min_capacity")?, n("max_capacity")?);
    (min > max).then(|| RuleViolation {
        field: "min_capacity",
        message: format!("min_capacity {min} is above max_capacity {max}"),
        hint: "min_capacity must be at most max_capacity".into(),
    })
}

/// An ECS target is a service: `service/<cluster name>/<service name>`.
fn ecs_resource_id(p: &Literals) -> Option<RuleViolation> {
    let id = literal(p, "resource_id").filter(|_| literal(p, "service_namespace") == Some("ecs"))?;
    let parts: Vec<&str> = id.split('/').collect();
    (parts.len() != 3 || parts[0] != "service" || parts.iter().any(|s| s.is_empty())).then(|| RuleViolation {
        field: "resource_id",
        message: format!("{id} is not an ECS service's resource id"),
        hint: "write service/<cluster name>/<service name>, e.g. service/${cluster.name}/${service.name}".into(),
    })
}

pub struct Target {
    client: Client,
}

fn attributes(key: &Key, arn: Option<&str>) -> Props {
    attrs([
        ("id", json!(key.id())),
        ("arn", json!(arn)),
        ("service_namespace", json!(key.namespace)),
        ("resource_id", json!(key.resource_id)),
        ("scalable_dimension", json!(key.dimension)),
    ])
}

fn live(t: &ScalableTarget) -> Live<TargetModel> {
    let key = Key::new(t.service_namespace().as_str(), t.resource_id(), t.scalable_dimension().as_str());
    Live {
        id: key.id(),
        attributes: attributes(&key, t.scalable_target_arn()),
        model: TargetModel {
            min_capacity: t.min_capacity(),
            max_capacity: t.max_capacity(),
            role_arn: Some(t.role_arn()).filter(|r| !r.is_empty()).map(str::to_string),
            service_namespace: key.namespace,
            resource_id: key.resource_id,
            scalable_dimension: key.dimension,
        },
        tags: BTreeMap::new(),
    }
}

impl Target {
    pub fn new(client: Client) -> Target {
        Target { client }
    }

    /// The targets with these keys that exist.
    async fn read_keys(&self, keys: &[Key]) -> Result<Vec<Live<TargetModel>>, ProviderError> {
        let mut by_ns: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
        for k in keys {
            by_ns.entry(&k.namespace).or_default().insert(k.resource_id.clone());
        }
        let batches = by_ns.iter().flat_map(|(ns, ids)| {
            let ids: Vec<String> = ids.iter().cloned().collect();
            ids.chunks(CHUNK).map(|c| (ServiceNamespace::from(*ns), c.to_vec())).collect::<Vec<_>>()
        });
        let calls = batches.map(|(ns, chunk)| async move {
            let call = self.client.describe_scalable_targets().service_namespace(ns).set_resource_ids(Some(chunk));
            let mut pages = call.into_paginator().send();
            let mut out = Vec::new();
            while let Some(page) = pages.next().await {
                out.extend(page.map_err(from_sdk)?.scalable_targets().iter().map(live));
            }
            Ok::<_, ProviderError>(out)
        });
        let wanted: BTreeSet<String> = keys.iter().map(Key::id).collect();
        let mut out = Vec::new();
        for r in join_all(calls).await {
            out.extend(r?.into_iter().filter(|l| wanted.contains(&l.id)));
        }
        Ok(out)
    }

    /// RegisterScalableTarget; answers the target's ARN.
    async fn register(&self, key: &Key, want: &TargetModel) -> Result<Option<String>, ProviderError> {
        let out = self
            .client
            .register_scalable_target()
            .service_namespace(key.namespace())
            .resource_id(&key.resource_id)
            .scalable_dimension(key.dimension())
            .min_capacity(want.min_capacity)
            .max_capacity(want.max_capacity)
            .set_role_arn(want.role_arn.clone().filter(|r| !r.is_empty()))
            .send()
            .await
            .map_err(from_sdk)
            .map_err(|e| match e.code.as_deref() {
                Some("ValidationException" | "ClusterNotFoundException" | "ObjectNotFoundException") => e.with_hint(
                    "check resource_id (ECS: service/<cluster name>/<service name>, the service must exist: \
                     reference it, e.g. service/${cluster.name}/${service.name}) and scalable_dimension",
                ),
                _ => e,
            })?;
        Ok(out.scalable_target_arn)
    }
}

fn key(want: &TargetModel) -> Key {
    Key::new(&want.service_namespace, &want.resource_id, &want.scalable_dimension)
}

#[async_trait::async_trait]
impl Kind for Target {
    type Model = TargetModel;
    const ADOPT: Adopt = Adopt::Custom;

    fn schema(&self) -> &'static KindSchema {
        &SCHEMA
    }

    async fn read(&self, _ctx: &ReadCtx, ids: &[String]) -> Result<Vec<Live<TargetModel>>, ProviderError> {
        self.read_keys(&ids.iter().filter_map(|id| Key::parse(id)).collect::<Vec<_>>()).await
    }

    /// By natural key: the target that scales what the candidate names.
    async fn find_existing(
        &self,
        _ctx: &ReadCtx,
        wanted: &[(String, Props)],
    ) -> Result<Vec<(String, Observed)>, ProviderError> {
        let by_id: BTreeMap<String, (&String, Key)> =
            wanted.iter().filter_map(|(a, p)| Key::of(p).map(|k| (k.id(), (a, k)))).collect();
        let keys: Vec<Key> = by_id.values().map(|(_, k)| k.clone()).collect();
        let found = if keys.is_empty() { Vec::new() } else { self.read_keys(&keys).await? };
        Ok(found.into_iter().filter_map(|l| Some((by_id.get(&l.id)?.0.clone(), l.observed()))).collect())
    }

    async fn create(&self, ctx: &OpCtx, want: &TargetModel) -> Result<Created, ProviderError> {
        let key = key(want);
        let arn = self.register(&key, want).await?;
        ctx.record_id(&key.id());
        Ok(Created { id: key.id(), attributes: attributes(&key, arn.as_deref()) })
    }

    async fn update(
        &self,
        _ctx: &OpCtx,
        _live: &Observed,
        want: &TargetModel,
        _changed: &[&str],
    ) -> Result<Option<Props>, ProviderError> {
        self.register(&key(want), want).await?;
        Ok(None)
    }

    async fn delete(&self, _ctx: &OpCtx, live: &Observed, _: Option<&TargetModel>) -> Result<(), ProviderError> {
        let Some(key) = Key::parse(&live.id) else { return Ok(()) };
        let call = self.client.deregister_scalable_target().service_namespace(key.namespace());
        let call = call.resource_id(&key.resource_id).scalable_dimension(key.dimension());
        match call.send().await.map_err(from_sdk) {
            Err(e) if !is_gone(&e) => Err(e),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lit(pairs: &[(&str, serde_json::Value)]) -> Literals {
        pairs.iter().map(|(k, v)| (k.to_string(), Some(v.clone()))).collect()
    }

    #[test]
    fn the_schema_refuses_a_minimum_above_the_maximum_and_a_malformed_ecs_id() {
        assert!(min_within_max(&lit(&[("min_capacity", json!(3)), ("max_capacity", json!(2))])).is_some());
        assert!(min_within_max(&lit(&[("min_capacity", json!(2)), ("max_capacity", json!(2))])).is_none());
        let ecs = |id: &str| lit(&[("service_namespace", json!("ecs")), ("resource_id", json!(id))]);
        assert!(ecs_resource_id(&ecs("service/shop/web")).is_none());
        assert!(ecs_resource_id(&ecs("shop/web")).is_some());
        assert!(ecs_resource_id(&ecs("service/shop/")).is_some());
        let table = lit(&[("service_namespace", json!("dynamodb")), ("resource_id", json!("table/t"))]);
        assert!(ecs_resource_id(&table).is_none());
    }
}
