//! `ecs.service`: an ECS service, and a rollout that is seen through.
//!
//! Create (CreateService, with the step's client token and the tags) and
//! every update that changes the service (UpdateService) wait for the
//! rollout: DescribeServices is polled until the deployment the call started
//! reads `rolloutState: COMPLETED` and the service runs its desired count of
//! tasks (progress: "IN_PROGRESS, 1/2 running"), within the step's timeout.
//! Then the outcome is verified rather than assumed: a deployment the circuit
//! breaker marked FAILED ends the step with `DeploymentFailed`, naming the
//! service, the revision that failed and the revision the service was rolled
//! back to with ECS's reason; a service that completed on another revision
//! than the one asked for (rolled back, or changed by someone else) ends it
//! with `RolledBack`. (Terraform reports a rolled-back deployment as a
//! success; deployctl does not.) `resume` is that wait and check, so an
//! interrupted rollout is picked up on the next run.
//!
//! The id is the service ARN (`arn:aws:ecs:…:service/<cluster>/<name>`),
//! which names the cluster: reads group ids by cluster, one DescribeServices
//! (with `TAGS`) per 10 services. DRAINING and INACTIVE services are absent.
//!
//! `cluster` and `task_definition` must be ARNs (`${cluster.arn}`,
//! `${task.arn}`): ECS reports ARNs, and a name would differ from them on
//! every plan (for `cluster`, forcing a replacement each time).
//!
//! Delete scales to 0, calls DeleteService with `force`, and waits until the
//! service is INACTIVE (its tasks stopped), so that the cluster, target
//! groups and security groups it used can go next.
//!
//! What moto 5.2.5 does (the tests rely on it): the rollout state and running
//! count are fixed when the service is created, from the server's
//! environment: `runningCount` is `MOTO_ECS_SERVICE_RUNNING` (default 0) and
//! the PRIMARY deployment is COMPLETED only if that is at least the desired
//! count, IN_PROGRESS forever otherwise. UpdateService never touches the
//! deployments (not even the task definition; forceNewDeployment only renews
//! the deployment id) but sets `runningCount` to a new desired count.
//! CreateService ignores deploymentConfiguration,
//! healthCheckGracePeriodSeconds, enableExecuteCommand and
//! capacityProviderStrategy (UpdateService stores them), so create
//! converges those with one UpdateService when the created service does not
//! show them (never the case on AWS). The task definition check therefore
//! uses the service's `taskDefinition`, which both AWS (after a rollback) and
//! moto keep current.

use super::*;
use async_trait::async_trait;
use aws_sdk_ecs::types::{
    AssignPublicIp, AwsVpcConfiguration, DeploymentCircuitBreaker, DeploymentConfiguration, DeploymentRolloutState,
    LaunchType, LoadBalancer, NetworkConfiguration, SchedulingStrategy, Service as EcsService, ServiceField,
};
use deployctl_engine::diff::{diff_properties, Want};
use deployctl_engine::{Observed, OpCtx, Poll, Props, ProviderError, ReadCtx, ResourceKind};
use deployctl_spec::Attr;
use serde_json::Map;

/// The most services one DescribeServices takes.
const DESCRIBE_CHUNK: usize = 10;

static AWSVPC: [Prop; 3] = [
    Prop::new("subnets", Type::Set(&Type::String), "The subnets the tasks run in (private ones, usually).").required(),
    Prop::new("security_groups", Type::Set(&Type::String), "The tasks' security groups.").default("[]"),
    Prop::new("assign_public_ip", Type::String, "`ENABLED` or `DISABLED`.")
        .default("\"DISABLED\"")
        .one_of(aws_sdk_ecs::types::AssignPublicIp::values()),
];

static NETWORK: [Prop; 1] = [Prop::new(
    "awsvpc_configuration",
    Type::Object(&AWSVPC),
    "Where tasks of an `awsvpc` task definition get their network interface.",
)
.required()];

static LOAD_BALANCER: [Prop; 3] = [
    Prop::new("target_group_arn", Type::String, "The target group, usually `${tg.arn}`.").required(),
    Prop::new("container_name", Type::String, "The container that receives the traffic.").required(),
    Prop::new("container_port", Type::Int, "Its port (one of its port mappings).").required().range(0, 65535),
];
static LOAD_BALANCER_TYPE: Type = Type::Object(&LOAD_BALANCER);

static CIRCUIT_BREAKER: [Prop; 2] = [
    Prop::new("enable", Type::Bool, "Whether a deployment whose tasks keep failing is stopped (FAILED).")
        .default("false"),
    Prop::new("rollback", Type::Bool, "Whether a failed deployment rolls back to the last completed one.")
        .default("false"),
];

static DEPLOYMENT_CONFIGURATION: [Prop; 3] = [
    Prop::new("maximum_percent", Type::Int, "Upper limit of running tasks during a deployment, in % of desired.")
        .default("200"),
    Prop::new(
        "minimum_healthy_percent",
        Type::Int,
        "Lower limit of healthy tasks during a deployment, in % of desired.",
    )
    .default("100"),
    Prop::new(
        "deployment_circuit_breaker",
        Type::Object(&CIRCUIT_BREAKER),
        "The deployment circuit breaker. deployctl reports a deployment it failed or rolled back as an error.",
    )
    .default("{\"enable\": false, \"rollback\": false}"),
];

pub static SCHEMA: KindSchema = KindSchema {
    type_name: "ecs.service",
    doc: "An ECS service: keeps `desired_count` tasks of a task definition running, optionally behind load \
          balancer target groups. Create and every update wait until the rollout is COMPLETED and all desired \
          tasks run, then check that the service runs the task definition asked for: a deployment the circuit \
          breaker failed or rolled back is an error (naming the revision the service fell back to), not a \
          success. `cluster` and `task_definition` take ARNs (`${cluster.arn}`, `${task.arn}`). Delete scales to \
          0 and waits until the service is inactive. Rollouts take minutes: raise `timeouts` (create, update) \
          above the default where needed.",
    properties: &[
        Prop::new("service_name", Type::String, "The service's name. Default: `<stack>-<resource>`.").replace(),
        Prop::new("cluster", Type::String, "The cluster's ARN, usually `${cluster.arn}`.").required().replace(),
        Prop::new(
            "task_definition",
            Type::String,
            "The task definition revision's ARN, usually `${task.arn}`. A change deploys the new revision.",
        )
        .required(),
        Prop::new("desired_count", Type::Int, "How many tasks to keep running.").default("1"),
        Prop::new(
            "launch_type",
            Type::String,
            "`FARGATE`, `EC2` or `EXTERNAL`. Leave out when using a capacity_provider_strategy (or the cluster's \
             default one).",
        )
        .replace().one_of(aws_sdk_ecs::types::LaunchType::values()),
        Prop::new(
            "capacity_provider_strategy",
            Type::List(&STRATEGY_TYPE),
            "How tasks spread over capacity providers (e.g. FARGATE and FARGATE_SPOT). A change forces a new \
             deployment.",
        ),
        Prop::new("platform_version", Type::String, "The Fargate platform version.").default("\"LATEST\""),
        Prop::new(
            "network_configuration",
            Type::Object(&NETWORK),
            "Subnets, security groups and public IP of the tasks (`awsvpc` network mode).",
        ),
        Prop::new(
            "load_balancers",
            Type::Set(&LOAD_BALANCER_TYPE),
            "Target groups the tasks register in. The target group must be attached to a listener first: list the \
             listener in the service's `depends_on`.",
        ),
        Prop::new(
            "health_check_grace_period_seconds",
            Type::Int,
            "Seconds the load balancer's failed health checks are ignored after a task starts (with load_balancers \
             only).",
        )
        .default("0"),
        Prop::new(
            "deployment_configuration",
            Type::Object(&DEPLOYMENT_CONFIGURATION),
            "How deployments replace tasks, and the circuit breaker.",
        )
        .default("{}"),
        Prop::new("enable_execute_command", Type::Bool, "Whether ECS Exec is enabled (new tasks).").default("false"),
        Prop::new("scheduling_strategy", Type::String, "`REPLICA` or `DAEMON` (EC2 only).")
            .default("\"REPLICA\"")
            .replace().one_of(aws_sdk_ecs::types::SchedulingStrategy::values()),
    ],
    attributes: &[
        Attr { name: "id", doc: "The service's ARN." },
        Attr { name: "arn", doc: "The service's ARN, `arn:aws:ecs:…:service/<cluster>/<name>`." },
        Attr { name: "name", doc: "The service's name." },
        Attr { name: "cluster_arn", doc: "The cluster's ARN." },
    ],
    taggable: true,
    rules: &[],
    example: "web:\n  type: ecs.service\n  properties:\n    cluster: ${cluster.arn}\n    task_definition: ${task.arn}\n    desired_count: 2\n    launch_type: FARGATE\n    network_configuration:\n      awsvpc_configuration:\n        subnets: [\"${private_a.id}\", \"${private_b.id}\"]\n        security_groups: [\"${app_sg.id}\"]\n    load_balancers:\n      - {target_group_arn: \"${tg.arn}\", container_name: web, container_port: 8080}\n    health_check_grace_period_seconds: 60\n    deployment_configuration:\n      maximum_percent: 200\n      minimum_healthy_percent: 100\n      deployment_circuit_breaker: {enable: true, rollback: true}\n  timeouts: {create: 20m, update: 20m}\n",
};

/// Properties a create converges with an UpdateService when CreateService
/// did not apply them (moto).
const CONVERGED_AFTER_CREATE: [&str; 4] = [
    "deployment_configuration",
    "health_check_grace_period_seconds",
    "enable_execute_command",
    "capacity_provider_strategy",
];

pub struct Service {
    client: Client,
}

/// The cluster an ARN names (`…:service/<cluster>/<name>`), or `default`
/// for the old ARN format without it.
fn cluster_of(arn: &str) -> String {
    match arn.split_once(":service/").map(|(_, rest)| rest.split('/').collect::<Vec<_>>()) {
        Some(parts) if parts.len() == 2 => parts[0].to_string(),
        _ => "default".to_string(),
    }
}

/// `arn:…:task-definition/web:7` → `web:7`, for messages.
fn short(td: &str) -> &str {
    td.rsplit('/').next().unwrap_or(td)
}

fn is_live(s: &EcsService) -> bool {
    s.status() == Some("ACTIVE")
}

/// A service in the spec's shape.
fn observed(svc: &EcsService) -> Observed {
    let arn = svc.service_arn().unwrap_or_default().to_string();
    let network = svc.network_configuration().and_then(|n| n.awsvpc_configuration()).map(|a| {
        json!({"awsvpc_configuration": {
            "subnets": a.subnets(),
            "security_groups": a.security_groups(),
            "assign_public_ip": a.assign_public_ip().map(|p| p.as_str()).unwrap_or("DISABLED"),
        }})
    });
    // AWS always returns the deployment configuration; moto only once an
    // update set it. Absent means ECS's defaults.
    let dc = svc.deployment_configuration();
    let breaker = dc.and_then(|d| d.deployment_circuit_breaker());
    let deployment = json!({
        "maximum_percent": dc.and_then(|d| d.maximum_percent()).unwrap_or(200),
        "minimum_healthy_percent": dc.and_then(|d| d.minimum_healthy_percent()).unwrap_or(100),
        "deployment_circuit_breaker": {
            "enable": breaker.is_some_and(|b| b.enable()),
            "rollback": breaker.is_some_and(|b| b.rollback()),
        },
    });
    let lbs: Vec<Value> = svc
        .load_balancers()
        .iter()
        .map(|l| {
            json!({"target_group_arn": l.target_group_arn(), "container_name": l.container_name(), "container_port": l.container_port()})
        })
        .collect();
    let mut properties = Props::new();
    properties.insert("service_name".into(), json!(svc.service_name()));
    properties.insert("cluster".into(), json!(svc.cluster_arn()));
    properties.insert("task_definition".into(), json!(svc.task_definition()));
    properties.insert("desired_count".into(), json!(svc.desired_count()));
    properties.insert("launch_type".into(), json!(svc.launch_type().map(|l| l.as_str())));
    properties.insert("capacity_provider_strategy".into(), strategy_to_json(svc.capacity_provider_strategy()));
    properties.insert("platform_version".into(), json!(svc.platform_version().unwrap_or("LATEST")));
    properties.insert("network_configuration".into(), json!(network));
    properties.insert("load_balancers".into(), Value::Array(lbs));
    properties.insert(
        "health_check_grace_period_seconds".into(),
        json!(svc.health_check_grace_period_seconds().unwrap_or(0)),
    );
    properties.insert("deployment_configuration".into(), deployment);
    properties.insert("enable_execute_command".into(), json!(svc.enable_execute_command()));
    properties.insert(
        "scheduling_strategy".into(),
        json!(svc.scheduling_strategy().map(|s| s.as_str()).unwrap_or("REPLICA")),
    );
    let mut attributes = Props::new();
    attributes.insert("id".into(), json!(arn));
    attributes.insert("arn".into(), json!(arn));
    attributes.insert("name".into(), json!(svc.service_name()));
    attributes.insert("cluster_arn".into(), json!(svc.cluster_arn()));
    Observed { id: arn, properties, tags: tag_map(svc.tags()), attributes }
}

fn network(desired: &Map<String, Value>) -> Result<Option<NetworkConfiguration>, ProviderError> {
    let Some(a) = object(desired, "network_configuration").and_then(|n| object(n, "awsvpc_configuration")) else {
        return Ok(None);
    };
    let vpc = AwsVpcConfiguration::builder()
        .set_subnets(strings(a, "subnets"))
        .set_security_groups(strings(a, "security_groups").filter(|g| !g.is_empty()))
        .assign_public_ip(AssignPublicIp::from(s(a, "assign_public_ip").as_deref().unwrap_or("DISABLED")))
        .build()
        .map_err(|e| invalid("network_configuration.awsvpc_configuration", e))?;
    Ok(Some(NetworkConfiguration::builder().awsvpc_configuration(vpc).build()))
}

fn deployment_configuration(desired: &Map<String, Value>) -> DeploymentConfiguration {
    let empty = Map::new();
    let d = object(desired, "deployment_configuration").unwrap_or(&empty);
    let b = object(d, "deployment_circuit_breaker").unwrap_or(&empty);
    DeploymentConfiguration::builder()
        .maximum_percent(int(d, "maximum_percent").unwrap_or(200))
        .minimum_healthy_percent(int(d, "minimum_healthy_percent").unwrap_or(100))
        .deployment_circuit_breaker(
            DeploymentCircuitBreaker::builder()
                .enable(boolean(b, "enable").unwrap_or(false))
                .rollback(boolean(b, "rollback").unwrap_or(false))
                .build(),
        )
        .build()
}

fn load_balancers(desired: &Map<String, Value>) -> Vec<LoadBalancer> {
    objects(desired, "load_balancers")
        .into_iter()
        .map(|l| {
            LoadBalancer::builder()
                .set_target_group_arn(s(l, "target_group_arn"))
                .set_container_name(s(l, "container_name"))
                .set_container_port(int(l, "container_port"))
                .build()
        })
        .collect()
}

/// `cluster` and `task_definition` must be ARNs: a name would differ from
/// what ECS reports on every plan.
fn check_arns(desired: &Map<String, Value>) -> Result<(String, String), ProviderError> {
    let cluster = s(desired, "cluster").unwrap_or_default();
    let td = s(desired, "task_definition").unwrap_or_default();
    if !cluster.starts_with("arn:") {
        return Err(ProviderError::new(
            Some("InvalidParameter".into()),
            format!("cluster must be the cluster's ARN, not {cluster:?}"),
        )
        .with_hint("write `cluster: ${<cluster resource>.arn}`: ECS reports the ARN, and a name would differ from it on every plan"));
    }
    if !(td.starts_with("arn:") && td.contains(":task-definition/")) {
        return Err(ProviderError::new(
            Some("InvalidParameter".into()),
            format!("task_definition must be a task definition revision's ARN, not {td:?}"),
        )
        .with_hint(
            "write `task_definition: ${<task definition resource>.arn}`: ECS reports the full ARN with its revision",
        ));
    }
    Ok((cluster, td))
}

/// Hints for CreateService/UpdateService refusals with a known cause.
fn with_hint(e: ProviderError) -> ProviderError {
    let m = e.message.to_lowercase();
    if m.contains("does not have an associated load balancer") {
        e.with_hint(
            "the target group must be attached to a listener first: add the listener to the service's depends_on",
        )
    } else if m.contains("health check grace period is only valid") {
        e.with_hint("health_check_grace_period_seconds applies only to services with load_balancers: leave it out")
    } else {
        e
    }
}

/// The error for a deployment the circuit breaker marked FAILED.
fn failed(
    name: &str,
    svc: &EcsService,
    mine: &aws_sdk_ecs::types::Deployment,
    requested: Option<&str>,
) -> ProviderError {
    let reason = mine.rollout_state_reason().unwrap_or("no reason given");
    let failed_td = mine.task_definition().or(requested).unwrap_or("the new task definition");
    let primary = svc.deployments().iter().find(|d| d.status() == Some("PRIMARY"));
    let back_to = primary
        .filter(|p| p.id() != mine.id())
        .and_then(|p| p.task_definition())
        .or(svc.task_definition())
        .filter(|td| *td != failed_td);
    match back_to {
        Some(prev) => ProviderError::new(
            Some("DeploymentFailed".into()),
            format!(
                "deployment of {} to service {name} failed and the circuit breaker rolled the service back to {}: {reason}",
                short(failed_td),
                short(prev)
            ),
        )
        .with_hint(format!(
            "the service runs {prev} again. Find why the new tasks stopped (the service's events and stopped tasks \
             in the ECS console, or the container logs), fix the image or task definition, and re-run"
        )),
        None => ProviderError::new(
            Some("DeploymentFailed".into()),
            format!("deployment of {} to service {name} failed: {reason}", short(failed_td)),
        )
        .with_hint(
            "find why the tasks stopped (the service's events and stopped tasks in the ECS console, or the container \
             logs), fix the image or task definition, and re-run",
        ),
    }
}

impl Service {
    pub fn new(client: Client) -> Service {
        Service { client }
    }

    /// DescribeServices for `arns` of one cluster, whatever their status.
    async fn describe_in(&self, cluster: &str, arns: &[String]) -> Result<Vec<EcsService>, ProviderError> {
        let mut out = Vec::new();
        for chunk in arns.chunks(DESCRIBE_CHUNK) {
            let r = self
                .client
                .describe_services()
                .cluster(cluster)
                .set_services(Some(chunk.to_vec()))
                .include(ServiceField::Tags)
                .send()
                .await
                .map_err(from_sdk);
            match r {
                Ok(o) => out.extend(o.services.unwrap_or_default()),
                // The cluster is gone, and its services with it.
                Err(e) if is_gone(&e) => return Ok(Vec::new()),
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    /// The service, whatever its status; `None` when ECS does not know it.
    async fn describe_one(&self, cluster: &str, arn: &str) -> Result<Option<EcsService>, ProviderError> {
        Ok(self.describe_in(cluster, &[arn.to_string()]).await?.into_iter().find(|s| s.service_arn() == Some(arn)))
    }

    async fn read_one(&self, cluster: &str, arn: &str) -> Result<Observed, ProviderError> {
        match self.describe_one(cluster, arn).await? {
            Some(s) if is_live(&s) => Ok(observed(&s)),
            _ => Err(ProviderError::new(Some("ServiceNotFoundException".into()), format!("service {arn} disappeared"))),
        }
    }

    /// Waits until the deployment `ours` (the PRIMARY one when `None` or no
    /// longer listed) is COMPLETED and the service runs its desired count,
    /// then checks that it runs `requested`.
    async fn wait_rollout(
        &self,
        ctx: &OpCtx,
        cluster: &str,
        arn: &str,
        requested: Option<&str>,
        ours: Option<String>,
    ) -> Result<(), ProviderError> {
        let name = arn.rsplit('/').next().unwrap_or(arn).to_string();
        let what = format!("the rollout of service {name}");
        let (this, ours, name_ref) = (self, ours.as_deref(), name.as_str());
        let svc = ctx
            .wait_for(&what, move || async move {
                let Some(svc) = this.describe_one(cluster, arn).await? else {
                    return Err(ProviderError::new(
                        Some("ServiceNotFoundException".into()),
                        format!("service {name_ref} disappeared during its rollout"),
                    ));
                };
                if !is_live(&svc) {
                    return Err(ProviderError::new(
                        Some("ServiceNotActiveException".into()),
                        format!("service {name_ref} is {} during its rollout", svc.status().unwrap_or("gone")),
                    ));
                }
                let deployments = svc.deployments();
                let primary = deployments.iter().find(|d| d.status() == Some("PRIMARY"));
                let mine = ours.and_then(|id| deployments.iter().find(|d| d.id() == Some(id))).or(primary);
                let Some(mine) = mine else {
                    return Ok(Poll::Pending(format!(
                        "no deployment yet, {}/{} running",
                        svc.running_count(),
                        svc.desired_count()
                    )));
                };
                let state = mine.rollout_state();
                if state == Some(&DeploymentRolloutState::Failed) {
                    return Err(failed(name_ref, &svc, mine, requested));
                }
                let running_all = svc.running_count() >= svc.desired_count();
                let completed = match state {
                    Some(DeploymentRolloutState::Completed) => true,
                    // No rollout state (older deployments): one deployment
                    // running all its tasks is a finished one.
                    None => deployments.len() == 1 && mine.running_count() >= mine.desired_count(),
                    Some(_) => false,
                };
                Ok(if completed && running_all {
                    Poll::Ready(svc)
                } else {
                    Poll::Pending(format!(
                        "{}, {}/{} running",
                        state.map(|s| s.as_str()).unwrap_or("IN_PROGRESS"),
                        svc.running_count(),
                        svc.desired_count()
                    ))
                })
            })
            .await?;
        if let Some(want) = requested {
            let runs = svc.task_definition().unwrap_or_default();
            if runs != want {
                return Err(ProviderError::new(
                    Some("RolledBack".into()),
                    format!(
                        "service {name} runs {}, not the requested {}: the deployment was rolled back (circuit \
                         breaker) or replaced by another",
                        short(runs),
                        short(want)
                    ),
                )
                .with_hint(
                    "see the service's events in the ECS console for why, fix the image or task definition, and re-run",
                ));
            }
        }
        Ok(())
    }

    /// One UpdateService for the `fields` that changed; the id of the
    /// deployment it started (the PRIMARY one after the call), or `None`
    /// when nothing needed the call.
    async fn update_service(
        &self,
        ctx: &OpCtx,
        cluster: &str,
        arn: &str,
        desired: &Map<String, Value>,
        fields: &[String],
    ) -> Result<Option<Option<String>>, ProviderError> {
        let has = |f: &str| fields.iter().any(|c| c == f);
        let mut req = self.client.update_service().cluster(cluster).service(arn);
        let mut call = false;
        let mut force = false;
        if has("task_definition") {
            req = req.set_task_definition(s(desired, "task_definition"));
            call = true;
        }
        if has("desired_count") {
            req = req.desired_count(int(desired, "desired_count").unwrap_or(1));
            call = true;
        }
        if has("network_configuration") {
            if let Some(n) = network(desired)? {
                req = req.network_configuration(n);
                call = true;
            }
        }
        if has("deployment_configuration") {
            req = req.deployment_configuration(deployment_configuration(desired));
            call = true;
        }
        if has("capacity_provider_strategy") {
            req = req.set_capacity_provider_strategy(Some(strategy_to_sdk(desired, "capacity_provider_strategy")?));
            force = true;
            call = true;
        }
        if has("platform_version") {
            req = req.platform_version(s(desired, "platform_version").unwrap_or_else(|| "LATEST".into()));
            call = true;
        }
        if has("load_balancers") {
            req = req.set_load_balancers(Some(load_balancers(desired)));
            call = true;
        }
        if has("health_check_grace_period_seconds") {
            req = req.health_check_grace_period_seconds(int(desired, "health_check_grace_period_seconds").unwrap_or(0));
            call = true;
        }
        if has("enable_execute_command") {
            req = req.enable_execute_command(boolean(desired, "enable_execute_command").unwrap_or(false));
            // Only new tasks get the agent.
            force = true;
            call = true;
        }
        if !call {
            return Ok(None);
        }
        if force {
            req = req.force_new_deployment(true);
        }
        let out = crate::kit::propagation::while_role_propagates(ctx, "updating the service", || {
            let req = req.clone();
            async move { req.send().await.map_err(from_sdk).map_err(with_hint) }
        })
        .await?;
        let primary = out
            .service()
            .and_then(|s| s.deployments().iter().find(|d| d.status() == Some("PRIMARY")))
            .and_then(|d| d.id())
            .map(str::to_string);
        Ok(Some(primary))
    }

    async fn list_services(&self, cluster: &str) -> Result<Vec<String>, ProviderError> {
        let mut out = Vec::new();
        let mut pages = self.client.list_services().cluster(cluster).into_paginator().send();
        while let Some(page) = pages.next().await {
            match page.map_err(from_sdk) {
                Ok(p) => out.extend(p.service_arns.unwrap_or_default()),
                Err(e) if is_gone(&e) => return Ok(Vec::new()),
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }
}

/// The cluster of a service this kind observed.
fn cluster_of_observed(o: &Observed) -> String {
    o.attributes
        .get("cluster_arn")
        .or_else(|| o.properties.get("cluster"))
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| cluster_of(&o.id))
}

#[async_trait]
impl ResourceKind for Service {
    fn schema(&self) -> &'static KindSchema {
        &SCHEMA
    }

    async fn read(&self, _ctx: &ReadCtx, ids: &[String]) -> Result<Vec<Observed>, ProviderError> {
        let mut by_cluster: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for id in ids {
            by_cluster.entry(cluster_of(id)).or_default().push(id.clone());
        }
        let found =
            futures::future::join_all(by_cluster.iter().map(|(cluster, arns)| self.describe_in(cluster, arns))).await;
        let mut out = Vec::new();
        for services in found {
            out.extend(services?.iter().filter(|s| is_live(s)).map(observed));
        }
        Ok(out)
    }

    async fn find_tagged(&self, ctx: &ReadCtx) -> Result<Vec<(String, Observed)>, ProviderError> {
        let mut clusters = Vec::new();
        let mut pages = self.client.list_clusters().into_paginator().send();
        while let Some(page) = pages.next().await {
            clusters.extend(page.map_err(from_sdk)?.cluster_arns.unwrap_or_default());
        }
        let per_cluster = futures::future::join_all(clusters.iter().map(|c| async move {
            let arns = self.list_services(c).await?;
            self.describe_in(c, &arns).await
        }))
        .await;
        let mut out = Vec::new();
        for services in per_cluster {
            for o in services?.iter().filter(|s| is_live(s)).map(observed) {
                if tagged_for(&o.tags, &ctx.stack, None) {
                    if let Some(address) = o.tags.get(TAG_RESOURCE).cloned() {
                        out.push((address, o));
                    }
                }
            }
        }
        Ok(out)
    }

    async fn create(&self, ctx: &OpCtx, desired: &Props) -> Result<Observed, ProviderError> {
        let (cluster, td) = check_arns(desired)?;
        let name = s(desired, "service_name").unwrap_or_else(|| default_name(&ctx.stack, &ctx.address));
        let launch_type = s(desired, "launch_type");
        let strategy = strategy_to_sdk(desired, "capacity_provider_strategy")?;
        let scheduling = s(desired, "scheduling_strategy").unwrap_or_else(|| "REPLICA".into());
        let lbs = load_balancers(desired);
        // Platform versions are Fargate's: not sent for EC2 unless asked.
        let platform = s(desired, "platform_version")
            .or_else(|| (launch_type.as_deref() != Some("EC2")).then(|| "LATEST".to_string()));
        let req = self
            .client
            .create_service()
            .cluster(&cluster)
            .service_name(&name)
            .task_definition(&td)
            .set_desired_count((scheduling == "REPLICA").then(|| int(desired, "desired_count").unwrap_or(1)))
            .set_launch_type(launch_type.as_deref().map(LaunchType::from))
            .set_capacity_provider_strategy(if strategy.is_empty() { None } else { Some(strategy) })
            .set_platform_version(platform)
            .set_network_configuration(network(desired)?)
            .set_load_balancers(if lbs.is_empty() { None } else { Some(lbs) })
            .set_health_check_grace_period_seconds(int(desired, "health_check_grace_period_seconds"))
            .deployment_configuration(deployment_configuration(desired))
            .enable_execute_command(boolean(desired, "enable_execute_command").unwrap_or(false))
            .scheduling_strategy(SchedulingStrategy::from(scheduling.as_str()))
            .client_token(&ctx.client_token)
            .set_tags(Some(tags_of(&ctx.tags)));
        let out = crate::kit::propagation::while_role_propagates(ctx, "creating the service", || {
            let req = req.clone();
            async move { req.send().await.map_err(from_sdk).map_err(with_hint) }
        })
        .await?;
        let svc =
            out.service.ok_or_else(|| ProviderError::msg(format!("CreateService for {name} returned no service")))?;
        let arn = svc.service_arn().unwrap_or_default().to_string();
        ctx.record_id(&arn);
        let mut ours =
            svc.deployments().iter().find(|d| d.status() == Some("PRIMARY")).and_then(|d| d.id()).map(str::to_string);

        // What CreateService did not apply (moto drops some members) is
        // converged with one UpdateService.
        let live = observed(&svc);
        let missed: Vec<String> = diff_properties(
            &SCHEMA,
            &|p: &Prop| match desired.get(p.name) {
                Some(v) => Want::Value(v.clone()),
                None => Want::Unmanaged,
            },
            &live.properties,
        )
        .into_iter()
        .map(|d| d.field)
        .filter(|f| CONVERGED_AFTER_CREATE.contains(&f.as_str()))
        .collect();
        if !missed.is_empty() {
            if let Some(started) = self.update_service(ctx, &cluster, &arn, desired, &missed).await? {
                ours = started.or(ours);
            }
        }

        self.wait_rollout(ctx, &cluster, &arn, Some(&td), ours).await?;
        self.read_one(&cluster, &arn).await
    }

    async fn update(
        &self,
        ctx: &OpCtx,
        current: &Observed,
        desired: &Props,
        changed: &[String],
    ) -> Result<Observed, ProviderError> {
        let (_, td) = check_arns(desired)?;
        let cluster = cluster_of_observed(current);
        let arn = current.id.as_str();
        if let Some(started) = self.update_service(ctx, &cluster, arn, desired, changed).await? {
            self.wait_rollout(ctx, &cluster, arn, Some(&td), started).await?;
        }
        if changed.iter().any(|c| c == "tags") {
            converge_tags(&self.client, arn, &current.tags, ctx).await?;
        }
        self.read_one(&cluster, arn).await
    }

    async fn resume(&self, ctx: &OpCtx, current: &Observed) -> Result<Observed, ProviderError> {
        let cluster = cluster_of_observed(current);
        self.wait_rollout(ctx, &cluster, &current.id, None, None).await?;
        self.read_one(&cluster, &current.id).await
    }

    async fn delete(&self, ctx: &OpCtx, current: &Observed, _recorded: &Props) -> Result<(), ProviderError> {
        let cluster = cluster_of_observed(current);
        let arn = current.id.as_str();
        let inactive = |e: &ProviderError| is_gone(e) || e.code_is("ServiceNotActiveException");
        // Scale to 0 first, so that the tasks drain as a deployment would.
        // Gone or already draining: what is left is the wait.
        match self
            .client
            .update_service()
            .cluster(&cluster)
            .service(arn)
            .desired_count(0)
            .send()
            .await
            .map_err(from_sdk)
        {
            Err(e) if !inactive(&e) => return Err(e),
            Err(_) => {}
            Ok(_) => match self
                .client
                .delete_service()
                .cluster(&cluster)
                .service(arn)
                .force(true)
                .send()
                .await
                .map_err(from_sdk)
            {
                Err(e) if !inactive(&e) => return Err(e),
                _ => {}
            },
        }
        let (this, cluster) = (self, cluster.as_str());
        ctx.wait_for("the service's tasks to stop", move || async move {
            Ok(match this.describe_one(cluster, arn).await? {
                None => Poll::Ready(()),
                Some(s) if s.status() == Some("INACTIVE") => Poll::Ready(()),
                Some(s) => {
                    Poll::Pending(format!("{}, {} running", s.status().unwrap_or("DRAINING"), s.running_count()))
                }
            })
        })
        .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cluster_comes_from_the_service_arn() {
        assert_eq!(cluster_of("arn:aws:ecs:us-east-1:123456789012:service/prod/web"), "prod");
        assert_eq!(cluster_of("arn:aws:ecs:us-east-1:123456789012:service/web"), "default");
        assert_eq!(short("arn:aws:ecs:us-east-1:123456789012:task-definition/web:7"), "web:7");
    }
}
