//! `appautoscaling.target`: a scalable target, e.g. an ECS service's desired
//! count kept between a minimum and a maximum.
//!
//! The id is deterministic: `<service_namespace>/<resource_id>/<scalable_dimension>`
//! (`ecs/service/shop/web/ecs:service:DesiredCount`). RegisterScalableTarget
//! is an upsert: create and update are the same call. Reads are batched:
//! one DescribeScalableTargets per namespace for up to 50 resource ids.
//! Targets are not tagged here (moto cannot list their tags, and a target
//! is identified by what it scales): adoption finds a candidate by its
//! natural key, and registering one that exists takes it over, as AWS
//! itself does.

use super::{is_gone, CHUNK};
use crate::elbv2::{want_i32, want_str};
use crate::error::from_sdk;
use async_trait::async_trait;
use aws_sdk_applicationautoscaling::types::{ScalableDimension, ScalableTarget, ServiceNamespace};
use aws_sdk_applicationautoscaling::Client;
use deployctl_engine::{Observed, OpCtx, Props, ProviderError, ReadCtx, ResourceKind};
use deployctl_spec::{Attr, KindSchema, Prop, Type};
use futures::future::join_all;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

pub static SCHEMA: KindSchema = KindSchema {
    type_name: "appautoscaling.target",
    doc: "A scalable target of Application Auto Scaling: what scales (an ECS service's task count) and between \
          which bounds. For an ECS service: `service_namespace: ecs`, `resource_id: \
          service/${cluster.name}/${service.name}` (the references order it after the service), \
          `scalable_dimension: ecs:service:DesiredCount`. Its scaling policies (`appautoscaling.policy`) \
          reference its `resource_id`, so they come after it. Deleting the target deletes its policies too.",
    properties: &[
        Prop::new(
            "service_namespace",
            Type::String,
            "The service: `ecs`, `dynamodb`, `rds`, `lambda`, `elasticache`…",
        )
        .required()
        .replace().one_of(aws_sdk_applicationautoscaling::types::ServiceNamespace::values()),
        Prop::new(
            "resource_id",
            Type::String,
            "What scales, in the service's format; ECS: `service/<cluster name>/<service name>`.",
        )
        .required()
        .replace(),
        Prop::new(
            "scalable_dimension",
            Type::String,
            "The property that scales; ECS: `ecs:service:DesiredCount`.",
        )
        .required()
        .replace().one_of(aws_sdk_applicationautoscaling::types::ScalableDimension::values()),
        Prop::new("min_capacity", Type::Int, "The fewest units (tasks) scaling may leave.").required(),
        Prop::new("max_capacity", Type::Int, "The most units (tasks) scaling may add up to.").required(),
        Prop::new(
            "role_arn",
            Type::String,
            "The role Application Auto Scaling uses. Unset: its service-linked role (not managed).",
        ),
    ],
    attributes: &[
        Attr { name: "id", doc: "`<service_namespace>/<resource_id>/<scalable_dimension>`." },
        Attr { name: "arn", doc: "The scalable target's ARN." },
        Attr { name: "service_namespace", doc: "The service namespace, for the target's policies." },
        Attr { name: "resource_id", doc: "The resource id, for the target's policies (`${target.resource_id}`)." },
        Attr { name: "scalable_dimension", doc: "The scalable dimension, for the target's policies." },
    ],
    taggable: false,
    rules: &[],
    example: "web_scaling:\n  type: appautoscaling.target\n  properties:\n    service_namespace: ecs\n    \
              resource_id: service/shop/web\n    scalable_dimension: ecs:service:DesiredCount\n    min_capacity: 2\n    \
              max_capacity: 10\n",
};

pub struct Target {
    client: Client,
}

/// The natural key of a target.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Key {
    pub namespace: String,
    pub resource_id: String,
    pub dimension: String,
}

impl Key {
    pub(crate) fn id(&self) -> String {
        format!("{}/{}/{}", self.namespace, self.resource_id, self.dimension)
    }

    /// `ecs/service/shop/web/ecs:service:DesiredCount`: the namespace is up
    /// to the first `/`, the dimension (which has none) after the last.
    pub(crate) fn parse(id: &str) -> Option<Key> {
        let (namespace, rest) = id.split_once('/')?;
        let (resource_id, dimension) = rest.rsplit_once('/')?;
        (!namespace.is_empty() && !resource_id.is_empty() && !dimension.is_empty()).then(|| Key {
            namespace: namespace.to_string(),
            resource_id: resource_id.to_string(),
            dimension: dimension.to_string(),
        })
    }

    /// The key the spec's properties name, when all three are known.
    pub(crate) fn of(props: &Props) -> Option<Key> {
        let s = |k: &str| props.get(k).and_then(Value::as_str).map(str::to_string).filter(|s| !s.is_empty());
        Some(Key {
            namespace: s("service_namespace")?,
            resource_id: s("resource_id")?,
            dimension: s("scalable_dimension")?,
        })
    }
}

fn observed(t: &ScalableTarget) -> Observed {
    let key = Key {
        namespace: t.service_namespace().as_str().to_string(),
        resource_id: t.resource_id().to_string(),
        dimension: t.scalable_dimension().as_str().to_string(),
    };
    let id = key.id();
    let mut p = Props::new();
    p.insert("service_namespace".into(), json!(key.namespace));
    p.insert("resource_id".into(), json!(key.resource_id));
    p.insert("scalable_dimension".into(), json!(key.dimension));
    p.insert("min_capacity".into(), json!(t.min_capacity()));
    p.insert("max_capacity".into(), json!(t.max_capacity()));
    if !t.role_arn().is_empty() {
        p.insert("role_arn".into(), json!(t.role_arn()));
    }
    let mut a = Props::new();
    a.insert("id".into(), json!(id));
    a.insert("arn".into(), json!(t.scalable_target_arn()));
    a.insert("service_namespace".into(), json!(key.namespace));
    a.insert("resource_id".into(), json!(key.resource_id));
    a.insert("scalable_dimension".into(), json!(key.dimension));
    Observed { id, properties: p, tags: BTreeMap::new(), attributes: a }
}

impl Target {
    pub fn new(client: Client) -> Target {
        Target { client }
    }

    /// The targets with these keys that exist.
    async fn read_keys(&self, keys: &[Key]) -> Result<Vec<Observed>, ProviderError> {
        let mut by_ns: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
        for k in keys {
            by_ns.entry(&k.namespace).or_default().insert(&k.resource_id);
        }
        let calls = by_ns.iter().flat_map(|(ns, ids)| {
            let ids: Vec<String> = ids.iter().map(|s| s.to_string()).collect();
            ids.chunks(CHUNK)
                .map(|chunk| {
                    let chunk = chunk.to_vec();
                    async move {
                        let mut pages = self
                            .client
                            .describe_scalable_targets()
                            .service_namespace(ServiceNamespace::from(*ns))
                            .set_resource_ids(Some(chunk))
                            .into_paginator()
                            .send();
                        let mut out = Vec::new();
                        while let Some(page) = pages.next().await {
                            out.extend(page.map_err(from_sdk)?.scalable_targets().iter().cloned());
                        }
                        Ok::<_, ProviderError>(out)
                    }
                })
                .collect::<Vec<_>>()
        });
        let mut out = Vec::new();
        for r in join_all(calls).await {
            out.extend(r?.iter().map(observed).filter(|o| keys.iter().any(|k| k.id() == o.id)));
        }
        Ok(out)
    }

    async fn must_read(&self, key: &Key) -> Result<Observed, ProviderError> {
        self.read_keys(std::slice::from_ref(key)).await?.into_iter().next().ok_or_else(|| {
            ProviderError::new(
                Some("ObjectNotFoundException".into()),
                format!("scalable target {} does not exist", key.id()),
            )
            .with_hint("it was deregistered outside deployctl; re-run to register it again")
        })
    }

    async fn register(&self, key: &Key, desired: &Props) -> Result<(), ProviderError> {
        self.client
            .register_scalable_target()
            .service_namespace(ServiceNamespace::from(key.namespace.as_str()))
            .resource_id(&key.resource_id)
            .scalable_dimension(ScalableDimension::from(key.dimension.as_str()))
            .set_min_capacity(want_i32(&SCHEMA, desired, "min_capacity"))
            .set_max_capacity(want_i32(&SCHEMA, desired, "max_capacity"))
            .set_role_arn(want_str(&SCHEMA, desired, "role_arn").filter(|r| !r.is_empty()))
            .send()
            .await
            .map_err(from_sdk)
            .map_err(|e| {
                if e.code_is("ValidationException")
                    || e.code_is("ClusterNotFoundException")
                    || e.code_is("ObjectNotFoundException")
                {
                    e.with_hint(
                        "check resource_id (ECS: service/<cluster name>/<service name>, the service must exist: \
                         reference it, e.g. service/${cluster.name}/${service.name}), scalable_dimension, and \
                         min_capacity <= max_capacity",
                    )
                } else {
                    e
                }
            })?;
        Ok(())
    }
}

#[async_trait]
impl ResourceKind for Target {
    fn schema(&self) -> &'static KindSchema {
        &SCHEMA
    }

    async fn read(&self, _ctx: &ReadCtx, ids: &[String]) -> Result<Vec<Observed>, ProviderError> {
        let keys: Vec<Key> = ids.iter().filter_map(|id| Key::parse(id)).collect();
        self.read_keys(&keys).await
    }

    /// Targets are not tagged: nothing to find by tag.
    async fn find_tagged(&self, _ctx: &ReadCtx) -> Result<Vec<(String, Observed)>, ProviderError> {
        Ok(Vec::new())
    }

    async fn find_existing(
        &self,
        _ctx: &ReadCtx,
        wanted: &[(String, Props)],
    ) -> Result<Vec<(String, Observed)>, ProviderError> {
        let by_id: BTreeMap<String, (&String, Key)> =
            wanted.iter().filter_map(|(address, p)| Key::of(p).map(|k| (k.id(), (address, k)))).collect();
        if by_id.is_empty() {
            return Ok(Vec::new());
        }
        let keys: Vec<Key> = by_id.values().map(|(_, k)| k.clone()).collect();
        Ok(self.read_keys(&keys).await?.into_iter().filter_map(|o| Some(((*by_id.get(&o.id)?.0).clone(), o))).collect())
    }

    async fn create(&self, ctx: &OpCtx, desired: &Props) -> Result<Observed, ProviderError> {
        let key = Key::of(desired)
            .ok_or_else(|| ProviderError::msg("service_namespace, resource_id and scalable_dimension are required"))?;
        self.register(&key, desired).await?;
        ctx.record_id(&key.id());
        self.must_read(&key).await
    }

    async fn update(
        &self,
        _ctx: &OpCtx,
        current: &Observed,
        desired: &Props,
        _changed: &[String],
    ) -> Result<Observed, ProviderError> {
        let key = Key::parse(&current.id)
            .ok_or_else(|| ProviderError::msg(format!("{} is not a scalable target id", current.id)))?;
        self.register(&key, desired).await?;
        self.must_read(&key).await
    }

    async fn delete(&self, _ctx: &OpCtx, current: &Observed, _recorded: &Props) -> Result<(), ProviderError> {
        let Some(key) = Key::parse(&current.id) else { return Ok(()) };
        match self
            .client
            .deregister_scalable_target()
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
    fn ids_split_back_into_their_key() {
        let k = Key::parse("ecs/service/shop/web/ecs:service:DesiredCount").unwrap();
        assert_eq!(k.namespace, "ecs");
        assert_eq!(k.resource_id, "service/shop/web");
        assert_eq!(k.dimension, "ecs:service:DesiredCount");
        assert_eq!(k.id(), "ecs/service/shop/web/ecs:service:DesiredCount");
        assert!(Key::parse("ecs").is_none());
    }
}
