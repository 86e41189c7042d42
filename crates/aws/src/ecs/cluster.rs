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
use crate::kit::{attrs, tagger::EcsTags, Adopt, Created, Kind, Live, Model, Tagger};
use async_trait::async_trait;
use aws_sdk_ecs::types::{Cluster as EcsCluster, ClusterField, ClusterSetting, ClusterSettingName};
use deployctl_engine::{Observed, Poll, Props, ReadCtx};
use deployctl_spec::Attr;

/// The most clusters one DescribeClusters takes.
const DESCRIBE_CHUNK: usize = 100;

/// The values of the `containerInsights` setting (the SDK has no enum).
const INSIGHTS: &[&str] = &["enabled", "enhanced", "disabled"];

model! {
    pub struct ClusterModel {
        cluster_name: Option<String> = "The cluster's name. Default: `<stack>-<resource>`." [replace, unique],
        capacity_providers: Option<Vec<String>> =
            "The capacity providers the cluster may use, e.g. `[FARGATE, FARGATE_SPOT]`.",
        default_capacity_provider_strategy: Option<Vec<StrategyItem>> =
            "How services that name neither a launch type nor a strategy spread their tasks over the providers.",
        container_insights: String =
            "CloudWatch Container Insights: `enabled`, `enhanced` or `disabled` (the setting `containerInsights`)."
            [default("\"disabled\""), one_of(INSIGHTS)],
    }
}

pub static SCHEMA: KindSchema = KindSchema {
    type_name: "ecs.cluster",
    doc: "An ECS cluster: where services run their tasks. Capacity providers (`FARGATE`, `FARGATE_SPOT`), the \
          default capacity provider strategy and Container Insights change in place. Delete refuses while \
          services outside the stack still use the cluster.",
    properties: ClusterModel::PROPS,
    attributes: &[
        Attr { name: "id", doc: "The cluster's ARN." },
        Attr { name: "arn", doc: "The cluster's ARN." },
        Attr { name: "name", doc: "The cluster's name." },
    ],
    taggable: true,
    rules: &[providers, strategy_providers],
    example: "cluster:\n  type: ecs.cluster\n  properties:\n    cluster_name: ${stack}-cluster\n    capacity_providers: [FARGATE, FARGATE_SPOT]\n    default_capacity_provider_strategy:\n      - {capacity_provider: FARGATE, weight: 1, base: 1}\n      - {capacity_provider: FARGATE_SPOT, weight: 3}\n    container_insights: enabled\n",
};

fn providers(p: &Literals) -> Option<RuleViolation> {
    check_providers(p, "capacity_providers")
}

fn strategy_providers(p: &Literals) -> Option<RuleViolation> {
    check_providers(p, "default_capacity_provider_strategy")
}

pub struct Cluster {
    client: Client,
    tags: EcsTags,
}

fn attributes(c: &EcsCluster) -> Props {
    let arn = c.cluster_arn().unwrap_or_default();
    attrs([("id", json!(arn)), ("arn", json!(arn)), ("name", json!(c.cluster_name()))])
}

/// A cluster in the model's shape.
fn live(c: &EcsCluster) -> Live<ClusterModel> {
    let insights = c.settings().iter().find(|s| s.name() == Some(&ClusterSettingName::ContainerInsights));
    Live {
        id: c.cluster_arn().unwrap_or_default().to_string(),
        model: ClusterModel {
            cluster_name: c.cluster_name().map(str::to_string),
            capacity_providers: Some(c.capacity_providers().to_vec()),
            default_capacity_provider_strategy: Some(strategy_model(c.default_capacity_provider_strategy())),
            container_insights: insights.and_then(|s| s.value()).unwrap_or("disabled").to_string(),
        },
        tags: tag_map(c.tags()),
        attributes: attributes(c),
    }
}

fn insights(want: &ClusterModel) -> ClusterSetting {
    ClusterSetting::builder().name(ClusterSettingName::ContainerInsights).value(&want.container_insights).build()
}

/// A refusal of DeleteCluster, with what to do about it.
fn delete_hint(e: ProviderError) -> ProviderError {
    let hint = match e.code.as_deref().unwrap_or_default() {
        "ClusterContainsServicesException" => {
            "services outside this stack still run in the cluster: delete them (or move them to another cluster) \
             and re-run"
        }
        "ClusterContainsTasksException" => {
            "tasks still run in the cluster (started outside a service of this stack): stop them and re-run"
        }
        "ClusterContainsContainerInstancesException" => {
            "EC2 container instances are still registered: deregister them (or delete their Auto Scaling group) and \
             re-run"
        }
        _ => return e,
    };
    e.with_hint(hint)
}

impl Cluster {
    pub fn new(client: Client) -> Cluster {
        Cluster { tags: EcsTags(client.clone()), client }
    }

    /// The clusters among `arns` (names work too), whatever their status.
    async fn describe(&self, arns: &[String]) -> Result<Vec<EcsCluster>, ProviderError> {
        let mut out = Vec::new();
        for chunk in arns.chunks(DESCRIBE_CHUNK) {
            let call = self.client.describe_clusters().set_clusters(Some(chunk.to_vec()));
            let call = call.include(ClusterField::Settings).include(ClusterField::Tags);
            out.extend(call.send().await.map_err(from_sdk)?.clusters.unwrap_or_default());
        }
        Ok(out)
    }

    /// The cluster's status; `None` when ECS does not know it.
    async fn status(&self, arn: &str) -> Result<Option<EcsCluster>, ProviderError> {
        Ok(self.describe(&[arn.to_string()]).await?.into_iter().next())
    }

    /// Waits while the cluster is PROVISIONING (capacity providers being
    /// attached); FAILED is an error.
    async fn wait_active(&self, ctx: &OpCtx, arn: &str) -> Result<(), ProviderError> {
        ctx.wait_for("cluster to be active", || async {
            let c = self.status(arn).await?;
            Ok(match c.as_ref().and_then(|c| c.status()) {
                Some("ACTIVE") => Poll::Ready(()),
                Some("FAILED") => {
                    let reason = c.as_ref().and_then(|c| c.attachments_status()).unwrap_or("no reason given");
                    let message = format!("cluster {arn} failed to provision: {reason}");
                    return Err(ProviderError::new(Some("ClusterFailed".into()), message));
                }
                Some(s) => Poll::Pending(s.to_string()),
                None => Poll::Pending("not visible yet".into()),
            })
        })
        .await?;
        Ok(())
    }
}

fn is_live(c: &EcsCluster) -> bool {
    !matches!(c.status(), Some("INACTIVE") | None)
}

#[async_trait]
impl Kind for Cluster {
    type Model = ClusterModel;
    /// Found by tag: the default name is `<stack>-<address>`, and CreateCluster
    /// is idempotent by name anyway.
    const ADOPT: Adopt = Adopt::ByTag;
    const GONE: &'static [&'static str] = &["ClusterNotFoundException"];

    fn schema(&self) -> &'static KindSchema {
        &SCHEMA
    }

    fn tagger(&self) -> Option<&dyn Tagger> {
        Some(&self.tags)
    }

    async fn read(&self, _ctx: &ReadCtx, ids: &[String]) -> Result<Vec<Live<ClusterModel>>, ProviderError> {
        Ok(self.describe(ids).await?.iter().filter(|c| is_live(c)).map(live).collect())
    }

    async fn find_tagged(&self, ctx: &ReadCtx) -> Result<Vec<Live<ClusterModel>>, ProviderError> {
        let mut arns = Vec::new();
        let mut pages = self.client.list_clusters().into_paginator().send();
        while let Some(page) = pages.next().await {
            arns.extend(page.map_err(from_sdk)?.cluster_arns.unwrap_or_default());
        }
        // The adapter keeps this stack's.
        self.read(ctx, &arns).await
    }

    async fn create(&self, ctx: &OpCtx, want: &ClusterModel) -> Result<Created, ProviderError> {
        let name = want.cluster_name.clone().unwrap_or_else(|| default_name(&ctx.stack, &ctx.address));
        let strategy = strategy(want.default_capacity_provider_strategy.as_deref().unwrap_or_default())?;
        // CreateCluster is idempotent by name: a repeated call after a crash
        // answers with the same cluster.
        let out = self
            .client
            .create_cluster()
            .cluster_name(&name)
            .set_tags(Some(tags_of(&ctx.tags)))
            .settings(insights(want))
            .set_capacity_providers(want.capacity_providers.clone())
            .set_default_capacity_provider_strategy((!strategy.is_empty()).then_some(strategy))
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
        Ok(Created { id: arn, attributes: attributes(&cluster) })
    }

    async fn update(
        &self,
        _ctx: &OpCtx,
        live: &Observed,
        want: &ClusterModel,
        changed: &[&str],
    ) -> Result<Option<Props>, ProviderError> {
        let arn = live.id.as_str();
        if changed.contains(&"capacity_providers") || changed.contains(&"default_capacity_provider_strategy") {
            // The call takes both lists; what the spec does not manage keeps
            // its live value.
            let current = ClusterModel::from_props(&live.properties)?;
            let providers = want.capacity_providers.clone().or(current.capacity_providers);
            let items = want.default_capacity_provider_strategy.clone().or(current.default_capacity_provider_strategy);
            let call = self.client.put_cluster_capacity_providers().cluster(arn);
            let call = call.set_capacity_providers(Some(providers.unwrap_or_default()));
            let call = call.set_default_capacity_provider_strategy(Some(strategy(&items.unwrap_or_default())?));
            call.send().await.map_err(from_sdk)?;
        }
        if changed.contains(&"container_insights") {
            let call = self.client.update_cluster().cluster(arn).settings(insights(want));
            call.send().await.map_err(from_sdk)?;
        }
        Ok(None)
    }

    async fn delete(&self, ctx: &OpCtx, live: &Observed, _: Option<&ClusterModel>) -> Result<(), ProviderError> {
        let arn = live.id.as_str();
        let out = self.client.delete_cluster().cluster(arn).send().await.map_err(from_sdk).map_err(delete_hint)?;
        if out.cluster.as_ref().and_then(|c| c.status()).is_some_and(|s| s != "INACTIVE") {
            ctx.wait_for("cluster to be deleted", || async {
                Ok(match self.status(arn).await?.as_ref().and_then(|c| c.status()) {
                    None | Some("INACTIVE") => Poll::Ready(()),
                    Some(s) => Poll::Pending(s.to_string()),
                })
            })
            .await?;
        }
        Ok(())
    }
}
