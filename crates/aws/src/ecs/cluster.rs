//! `ecs.cluster`: an ECS cluster, its capacity providers and default
//! capacity provider strategy, and its Container Insights setting.
//!
//! The id is the cluster's ARN. Reads are one DescribeClusters (with
//! `SETTINGS` and `TAGS`) per 100 clusters; clusters that are missing come
//! back as `failures` and INACTIVE ones (deleted: ECS keeps them visible for
//! a while) are absent. Capacity providers and the default strategy change in
//! place with PutClusterCapacityProviders (which always takes both), the
//! Container Insights setting with UpdateCluster (moto has no
//! UpdateClusterSettings; UpdateCluster takes the same `settings`).
//!
//! Delete calls DeleteCluster. A cluster that still has services (or tasks)
//! refuses; services that reference the cluster are deleted first, so that
//! only happens when something outside the stack uses it, and the error says
//! so.

use super::*;
use async_trait::async_trait;
use aws_sdk_ecs::types::{Cluster as EcsCluster, ClusterField, ClusterSetting, ClusterSettingName};
use deployctl_engine::{Observed, OpCtx, Poll, Props, ProviderError, ReadCtx, ResourceKind};
use deployctl_spec::Attr;

/// The most clusters one DescribeClusters takes.
const DESCRIBE_CHUNK: usize = 100;

pub static SCHEMA: KindSchema = KindSchema {
    type_name: "ecs.cluster",
    doc: "An ECS cluster: where services run their tasks. Capacity providers (`FARGATE`, `FARGATE_SPOT`), the \
          default capacity provider strategy and Container Insights change in place. Delete refuses while \
          services outside the stack still use the cluster.",
    properties: &[
        Prop::new("cluster_name", Type::String, "The cluster's name. Default: `<stack>-<resource>`.").replace().unique(),
        Prop::new(
            "capacity_providers",
            Type::Set(&Type::String),
            "The capacity providers the cluster may use, e.g. `[FARGATE, FARGATE_SPOT]`.",
        ),
        Prop::new(
            "default_capacity_provider_strategy",
            Type::List(&STRATEGY_TYPE),
            "How services that name neither a launch type nor a strategy spread their tasks over the providers.",
        ),
        Prop::new(
            "container_insights",
            Type::String,
            "CloudWatch Container Insights: `enabled`, `enhanced` or `disabled` (the setting `containerInsights`).",
        )
        .default("\"disabled\""),
    ],
    attributes: &[
        Attr { name: "id", doc: "The cluster's ARN." },
        Attr { name: "arn", doc: "The cluster's ARN." },
        Attr { name: "name", doc: "The cluster's name." },
    ],
    taggable: true,
    rules: &[],
    example: "cluster:\n  type: ecs.cluster\n  properties:\n    cluster_name: ${stack}-cluster\n    capacity_providers: [FARGATE, FARGATE_SPOT]\n    default_capacity_provider_strategy:\n      - {capacity_provider: FARGATE, weight: 1, base: 1}\n      - {capacity_provider: FARGATE_SPOT, weight: 3}\n    container_insights: enabled\n",
};

pub struct Cluster {
    client: Client,
}

/// A cluster in the spec's shape.
fn observed(c: &EcsCluster) -> Observed {
    let arn = c.cluster_arn().unwrap_or_default().to_string();
    let insights = c
        .settings()
        .iter()
        .find(|s| s.name() == Some(&ClusterSettingName::ContainerInsights))
        .and_then(|s| s.value())
        .unwrap_or("disabled");
    let mut properties = Props::new();
    properties.insert("cluster_name".into(), json!(c.cluster_name()));
    properties.insert("capacity_providers".into(), json!(c.capacity_providers()));
    properties
        .insert("default_capacity_provider_strategy".into(), strategy_to_json(c.default_capacity_provider_strategy()));
    properties.insert("container_insights".into(), json!(insights));
    let mut attributes = Props::new();
    attributes.insert("id".into(), json!(arn));
    attributes.insert("arn".into(), json!(arn));
    attributes.insert("name".into(), json!(c.cluster_name()));
    Observed { id: arn, properties, tags: tag_map(c.tags()), attributes }
}

fn is_live(c: &EcsCluster) -> bool {
    !matches!(c.status(), Some("INACTIVE") | None)
}

impl Cluster {
    pub fn new(client: Client) -> Cluster {
        Cluster { client }
    }

    /// The live clusters among `arns` (names work too), in as few calls as
    /// DescribeClusters allows.
    async fn describe(&self, arns: &[String]) -> Result<Vec<EcsCluster>, ProviderError> {
        let mut out = Vec::new();
        for chunk in arns.chunks(DESCRIBE_CHUNK) {
            let r = self
                .client
                .describe_clusters()
                .set_clusters(Some(chunk.to_vec()))
                .include(ClusterField::Settings)
                .include(ClusterField::Tags)
                .send()
                .await
                .map_err(from_sdk)?;
            out.extend(r.clusters.unwrap_or_default().into_iter().filter(is_live));
        }
        Ok(out)
    }

    async fn read_one(&self, arn: &str) -> Result<Observed, ProviderError> {
        self.describe(&[arn.to_string()]).await?.first().map(observed).ok_or_else(|| {
            ProviderError::new(Some("ClusterNotFoundException".into()), format!("cluster {arn} disappeared"))
        })
    }

    /// Waits while the cluster is PROVISIONING (capacity providers being
    /// attached); FAILED is an error.
    async fn wait_active(&self, ctx: &OpCtx, arn: &str) -> Result<(), ProviderError> {
        let (this, arn) = (self, arn);
        ctx.wait_for("cluster to be active", move || async move {
            let c = this.describe(&[arn.to_string()]).await?;
            Ok(match c.first().and_then(|c| c.status()) {
                Some("ACTIVE") => Poll::Ready(()),
                Some("FAILED") => {
                    let reason = c.first().and_then(|c| c.attachments_status()).unwrap_or("no reason given");
                    return Err(ProviderError::new(
                        Some("ClusterFailed".into()),
                        format!("cluster {arn} failed to provision: {reason}"),
                    ));
                }
                Some(s) => Poll::Pending(s.to_string()),
                None => Poll::Pending("not visible yet".into()),
            })
        })
        .await?;
        Ok(())
    }
}

#[async_trait]
impl ResourceKind for Cluster {
    fn schema(&self) -> &'static KindSchema {
        &SCHEMA
    }

    async fn read(&self, _ctx: &ReadCtx, ids: &[String]) -> Result<Vec<Observed>, ProviderError> {
        Ok(self.describe(ids).await?.iter().map(observed).collect())
    }

    async fn find_tagged(&self, ctx: &ReadCtx) -> Result<Vec<(String, Observed)>, ProviderError> {
        let mut arns = Vec::new();
        let mut pages = self.client.list_clusters().into_paginator().send();
        while let Some(page) = pages.next().await {
            arns.extend(page.map_err(from_sdk)?.cluster_arns.unwrap_or_default());
        }
        if arns.is_empty() {
            return Ok(Vec::new());
        }
        Ok(self
            .describe(&arns)
            .await?
            .iter()
            .map(observed)
            .filter(|o| tagged_for(&o.tags, &ctx.stack, None))
            .filter_map(|o| Some((o.tags.get(TAG_RESOURCE)?.clone(), o)))
            .collect())
    }

    async fn create(&self, ctx: &OpCtx, desired: &Props) -> Result<Observed, ProviderError> {
        let name = s(desired, "cluster_name").unwrap_or_else(|| default_name(&ctx.stack, &ctx.address));
        let insights = s(desired, "container_insights").unwrap_or_else(|| "disabled".into());
        let strategy = strategy_to_sdk(desired, "default_capacity_provider_strategy")?;
        // CreateCluster is idempotent by name: a repeated call after a crash
        // answers with the same cluster.
        let out = self
            .client
            .create_cluster()
            .cluster_name(&name)
            .set_tags(Some(tags_of(&ctx.tags)))
            .settings(ClusterSetting::builder().name(ClusterSettingName::ContainerInsights).value(insights).build())
            .set_capacity_providers(strings(desired, "capacity_providers"))
            .set_default_capacity_provider_strategy(if strategy.is_empty() { None } else { Some(strategy) })
            .send()
            .await
            .map_err(from_sdk)?;
        let cluster =
            out.cluster.ok_or_else(|| ProviderError::msg(format!("CreateCluster for {name} returned no cluster")))?;
        let arn = cluster.cluster_arn().unwrap_or_default().to_string();
        ctx.record_id(&arn);
        if cluster.status() != Some("ACTIVE") {
            self.wait_active(ctx, &arn).await?;
        }
        self.read_one(&arn).await
    }

    async fn update(
        &self,
        ctx: &OpCtx,
        current: &Observed,
        desired: &Props,
        changed: &[String],
    ) -> Result<Observed, ProviderError> {
        let arn = current.id.as_str();
        let has = |f: &str| changed.iter().any(|c| c == f);
        if has("capacity_providers") || has("default_capacity_provider_strategy") {
            // The call takes both lists; what the spec does not manage keeps
            // its live value.
            let providers =
                strings(desired, "capacity_providers").or_else(|| strings(&current.properties, "capacity_providers"));
            let strategy = if desired.contains_key("default_capacity_provider_strategy") {
                strategy_to_sdk(desired, "default_capacity_provider_strategy")?
            } else {
                strategy_to_sdk(&current.properties, "default_capacity_provider_strategy")?
            };
            self.client
                .put_cluster_capacity_providers()
                .cluster(arn)
                .set_capacity_providers(Some(providers.unwrap_or_default()))
                .set_default_capacity_provider_strategy(Some(strategy))
                .send()
                .await
                .map_err(from_sdk)?;
        }
        if has("container_insights") {
            let insights = s(desired, "container_insights").unwrap_or_else(|| "disabled".into());
            self.client
                .update_cluster()
                .cluster(arn)
                .settings(ClusterSetting::builder().name(ClusterSettingName::ContainerInsights).value(insights).build())
                .send()
                .await
                .map_err(from_sdk)?;
        }
        if has("tags") {
            converge_tags(&self.client, arn, &current.tags, ctx).await?;
        }
        self.read_one(arn).await
    }

    async fn delete(&self, ctx: &OpCtx, current: &Observed, _recorded: &Props) -> Result<(), ProviderError> {
        let arn = current.id.as_str();
        let r = self.client.delete_cluster().cluster(arn).send().await.map_err(from_sdk);
        let cluster =
            match r {
                Ok(out) => out.cluster,
                Err(e) if is_gone(&e) => return Ok(()),
                Err(e) if e.code_is("ClusterContainsServicesException") => {
                    return Err(e.with_hint(
                        "services outside this stack still run in the cluster: delete them (or move them to another \
                     cluster) and re-run",
                    ))
                }
                Err(e) if e.code_is("ClusterContainsTasksException") => return Err(e.with_hint(
                    "tasks still run in the cluster (started outside a service of this stack): stop them and re-run",
                )),
                Err(e) if e.code_is("ClusterContainsContainerInstancesException") => {
                    return Err(e.with_hint(
                        "EC2 container instances are still registered: deregister them (or delete their Auto Scaling \
                     group) and re-run",
                    ))
                }
                Err(e) => return Err(e),
            };
        if cluster.as_ref().and_then(|c| c.status()).is_some_and(|s| s != "INACTIVE") {
            let (this, arn) = (self, arn);
            ctx.wait_for("cluster to be deleted", move || async move {
                let c = this.describe(&[arn.to_string()]).await?;
                Ok(match c.first().and_then(|c| c.status()) {
                    None => Poll::Ready(()),
                    Some(s) => Poll::Pending(s.to_string()),
                })
            })
            .await?;
        }
        Ok(())
    }
}
