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
//! every plan (for `cluster`, forcing a replacement each time). `validate`
//! refuses a literal that is not one, and the enumerations, ranges and
//! combinations AWS refuses (a launch type next to a capacity provider
//! strategy, DAEMON on Fargate); a reference is checked when it resolves.
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
//! show them (never the case on AWS: [`MOTO_5_2_5_CREATE_IGNORES`]). The task definition check therefore
//! uses the service's `taskDefinition`, which both AWS (after a rollback) and
//! moto keep current.

use super::*;
use crate::kit::{attrs, kept, tagger::EcsTags, Adopt, Created, Kind, Live, Model, Tagger};
use async_trait::async_trait;
use aws_sdk_ecs::types::{
    AdvancedConfiguration, AssignPublicIp, AwsVpcConfiguration, CanaryConfiguration, DeploymentAlarms,
    DeploymentCircuitBreaker, DeploymentConfiguration, DeploymentController, DeploymentControllerType,
    DeploymentRolloutState, DeploymentStrategy, LaunchType, LinearConfiguration, LoadBalancer, NetworkConfiguration,
    SchedulingStrategy, Service as EcsService, ServiceField,
};
use deployctl_engine::kind::Wanted;
use deployctl_engine::{Observed, Poll, Props, ReadCtx};
use deployctl_spec::Attr;

/// The most services one DescribeServices takes.
const DESCRIBE_CHUNK: usize = 10;

model! {
    pub struct AwsVpc {
        subnets: Vec<String> = "The subnets the tasks run in (private ones, usually)." [required],
        security_groups: Vec<String> = "The tasks' security groups." [default("[]")],
        assign_public_ip: String = "`ENABLED` or `DISABLED`."
            [default("\"DISABLED\""), one_of(AssignPublicIp::values())],
    }
}

model! {
    pub struct Network {
        awsvpc_configuration: AwsVpc = "Where tasks of an `awsvpc` task definition get their network interface."
            [required],
    }
}

model! {
    pub struct AdvancedLoadBalancer {
        alternate_target_group_arn: String = "The second target group, which the new revision starts in."
            [required],
        production_listener_rule: String = "The listener rule (`${rule.arn}`) whose forward ECS shifts from one \
                                            target group to the other." [required],
        test_listener_rule: Option<String> = "A listener rule that reaches the new revision before traffic does.",
        role_arn: String = "The role ECS assumes to change the rules (trusting `ecs.amazonaws.com`, with \
                            `AmazonECSInfrastructureRolePolicyForLoadBalancers`)." [required],
    }
}

model! {
    pub struct LoadBalancerModel {
        target_group_arn: String = "The target group, usually `${tg.arn}`." [required],
        container_name: String = "The container that receives the traffic." [required],
        container_port: i32 = "Its port (one of its port mappings)." [required, range(0, 65535)],
        advanced: Option<AdvancedLoadBalancer> = "With a BLUE_GREEN, LINEAR or CANARY strategy: the second target \
                                                  group and the listener rules ECS shifts.",
    }
}

model! {
    pub struct CircuitBreaker {
        enable: bool = "Whether a deployment whose tasks keep failing is stopped (FAILED)." [default("false")],
        rollback: bool = "Whether a failed deployment rolls back to the last completed one." [default("false")],
    }
}

model! {
    pub struct DeploymentSettings {
        maximum_percent: i32 = "Upper limit of running tasks during a deployment, in % of desired."
            [default("200"), range(0, i32::MAX as i64)],
        minimum_healthy_percent: i32 = "Lower limit of healthy tasks during a deployment, in % of desired."
            [default("100"), range(0, 100)],
        deployment_circuit_breaker: CircuitBreaker =
            "The deployment circuit breaker. deployctl reports a deployment it failed or rolled back as an error."
            [default("{\"enable\": false, \"rollback\": false}")],
        strategy: String = "`ROLLING` (tasks replaced in place), or ECS's own blue/green: `BLUE_GREEN` (all traffic \
                            at once), `LINEAR` or `CANARY` (in steps). The last three need each load balancer's \
                            `advanced` settings."
            [default("\"ROLLING\""), one_of(&["ROLLING", "BLUE_GREEN", "LINEAR", "CANARY"])],
        bake_time_in_minutes: Option<i64> = "With BLUE_GREEN, LINEAR or CANARY: how long both revisions run after \
                                             all traffic moved, before the old one stops. Unset: ECS's default."
            [range(0, 1440)],
        linear: Option<LinearSettings> = "With LINEAR: the share of traffic each step moves, and the wait between.",
        canary: Option<CanarySettings> = "With CANARY: the share of traffic that moves first, and its wait.",
        alarms: Option<DeploymentAlarmsModel> = "CloudWatch alarms that fail the deployment while it runs.",
    }
}

model! {
    pub struct LinearSettings {
        step_percent: f64 = "The share of traffic each step moves, 3 to 100." [required],
        step_bake_time_in_minutes: i64 = "Minutes between steps, 0 to 1440." [required, range(0, 1440)],
    }
}

model! {
    pub struct CanarySettings {
        canary_percent: f64 = "The share of traffic that moves first, 0.1 to 100." [required],
        canary_bake_time_in_minutes: i64 = "Minutes before the rest moves, 0 to 1440." [required, range(0, 1440)],
    }
}

model! {
    pub struct DeploymentAlarmsModel {
        alarm_names: Vec<String> = "The alarms (`${alarm.name}`)." [required],
        enable: bool = "Whether an alarm in ALARM fails the deployment." [default("true")],
        rollback: bool = "Whether a failed deployment rolls back." [default("true")],
    }
}

model! {
    pub struct CodeDeployRef {
        application: String = "The CodeDeploy application's name, as written in its `application_name` (not a \
                               reference: the group refers to the service)." [required],
        deployment_group: String = "The deployment group's name, as written in its `deployment_group_name`."
            [required],
    }
}

model! {
    pub struct ServiceModel {
        service_name: Option<String> = "The service's name, unique in its cluster. Default: `<stack>-<resource>` (a \
                                        replacement created beside the old service adds its generation, `-2`)." [replace],
        cluster: String = "The cluster's ARN, usually `${cluster.arn}`." [required, replace],
        task_definition: String =
            "The task definition revision's ARN, usually `${task.arn}`. A change deploys the new revision." [required],
        desired_count: i32 = "How many tasks to keep running." [default("1"), range(0, i32::MAX as i64)],
        launch_type: Option<String> =
            "`FARGATE`, `EC2` or `EXTERNAL`. Leave out when using a capacity_provider_strategy (or the cluster's \
             default one)."
            [replace, one_of(LaunchType::values())],
        capacity_provider_strategy: Option<Vec<StrategyItem>> =
            "How tasks spread over capacity providers (e.g. FARGATE and FARGATE_SPOT). A change forces a new \
             deployment.",
        platform_version: String = "The Fargate platform version." [default("\"LATEST\"")],
        network_configuration: Option<Network> =
            "Subnets, security groups and public IP of the tasks (`awsvpc` network mode).",
        load_balancers: Option<Vec<LoadBalancerModel>> =
            "Target groups the tasks register in. The target group must be attached to a listener first: list the \
             listener in the service's `depends_on`."
            [typed(<LoadBalancerModel as Model>::SET)],
        health_check_grace_period_seconds: i32 =
            "Seconds the load balancer's failed health checks are ignored after a task starts (with load_balancers \
             only)."
            [default("0"), range(0, i32::MAX as i64)],
        deployment_configuration: DeploymentSettings = "How deployments replace tasks, and the circuit breaker."
            [default("{}")],
        enable_execute_command: bool = "Whether ECS Exec is enabled (new tasks)." [default("false")],
        scheduling_strategy: String = "`REPLICA` or `DAEMON` (EC2 only)."
            [default("\"REPLICA\""), replace, one_of(SchedulingStrategy::values())],
        deployment_controller: String = "`ECS` (rolling updates), or `CODE_DEPLOY`: a new task definition is \
                                         deployed blue/green by the `code_deploy` group, with its traffic shifting, \
                                         alarms and rollback."
            [default("\"ECS\""), replace, one_of(&["ECS", "CODE_DEPLOY"])],
        code_deploy: Option<CodeDeployRef> = "With `deployment_controller: CODE_DEPLOY`: the application and \
                                              deployment group that deploy it."
            [state_only],
    }
}

pub static SCHEMA: KindSchema = KindSchema {
    type_name: "ecs.service",
    doc: "An ECS service: keeps `desired_count` tasks of a task definition running, optionally behind load \
          balancer target groups. Create and every update wait until the rollout is COMPLETED and all desired \
          tasks run, then check that the service runs the task definition asked for: a deployment the circuit \
          breaker failed or rolled back is an error (naming the revision the service fell back to), not a \
          success. `cluster` and `task_definition` take ARNs (`${cluster.arn}`, `${task.arn}`). Delete scales to \
          0 and waits until the service is inactive. Rollouts take minutes: raise `timeouts` (create, update) \
          above the default where needed. Blue/green has two forms: ECS's own (`deployment_configuration.strategy` \
          `BLUE_GREEN`, `LINEAR` or `CANARY`, with each load balancer's `advanced` second target group and \
          listener rule), followed like any rollout; or `deployment_controller: CODE_DEPLOY`, where a new task \
          definition is deployed by the `code_deploy` group and followed step by step.",
    properties: ServiceModel::PROPS,
    attributes: &[
        Attr { name: "id", doc: "The service's ARN." },
        Attr { name: "arn", doc: "The service's ARN, `arn:aws:ecs:…:service/<cluster>/<name>`." },
        Attr { name: "name", doc: "The service's name." },
        Attr { name: "cluster_arn", doc: "The cluster's ARN." },
    ],
    taggable: true,
    rules: &[arns_rule, launch_or_strategy, daemon_not_on_fargate, strategy_providers, code_deploy_fits, rollout_fits],
    example: "web:\n  type: ecs.service\n  properties:\n    cluster: ${cluster.arn}\n    task_definition: ${task.arn}\n    desired_count: 2\n    launch_type: FARGATE\n    network_configuration:\n      awsvpc_configuration:\n        subnets: [\"${private_a.id}\", \"${private_b.id}\"]\n        security_groups: [\"${app_sg.id}\"]\n    load_balancers:\n      - {target_group_arn: \"${tg.arn}\", container_name: web, container_port: 8080}\n    health_check_grace_period_seconds: 60\n    deployment_configuration:\n      maximum_percent: 200\n      minimum_healthy_percent: 100\n      deployment_circuit_breaker: {enable: true, rollback: true}\n  timeouts: {create: 20m, update: 20m}\n",
};

/// Why `cluster` or `task_definition` is not the ARN the property takes.
fn not_arn(field: &'static str, v: &str) -> Option<RuleViolation> {
    let ok = v.starts_with("arn:") && (field == "cluster" || v.contains(":task-definition/"));
    let (what, write) = match field {
        "cluster" => ("the cluster's ARN", "cluster: ${<cluster resource>.arn}"),
        _ => ("a task definition revision's ARN", "task_definition: ${<task definition resource>.arn}"),
    };
    (!ok).then(|| RuleViolation {
        field,
        message: format!("{field} must be {what}, not {v:?}"),
        hint: format!(
            "write `{write}`: ECS reports the full ARN, and anything else would differ from it on every plan"
        ),
    })
}

fn arns_rule(p: &Literals) -> Option<RuleViolation> {
    ["cluster", "task_definition"].into_iter().find_map(|f| not_arn(f, p.get(f)?.as_ref()?.as_str()?))
}

/// Both set: ECS refuses the service.
fn launch_or_strategy(p: &Literals) -> Option<RuleViolation> {
    let strategy = matches!(p.get("capacity_provider_strategy"), Some(Some(Value::Array(a))) if !a.is_empty());
    (p.contains_key("launch_type") && strategy).then(|| RuleViolation {
        field: "launch_type",
        message: "a service takes a launch_type or a capacity_provider_strategy, not both".into(),
        hint: "leave launch_type out to use the strategy (FARGATE is a capacity provider too)".into(),
    })
}

/// Fargate runs REPLICA services only.
fn daemon_not_on_fargate(p: &Literals) -> Option<RuleViolation> {
    let is = |k: &str, v: &str| p.get(k).and_then(Option::as_ref).and_then(Value::as_str) == Some(v);
    (is("scheduling_strategy", "DAEMON") && is("launch_type", "FARGATE")).then(|| RuleViolation {
        field: "scheduling_strategy",
        message: "Fargate does not run DAEMON services".into(),
        hint: "use REPLICA on Fargate, or launch_type EC2 for a daemon".into(),
    })
}

fn strategy_providers(p: &Literals) -> Option<RuleViolation> {
    check_providers(p, "capacity_provider_strategy")
}

/// ECS's own blue/green, linear and canary deployments: with the ECS
/// controller, each load balancer's second target group and rule, the
/// settings of the strategy chosen and no other's, and the ranges ECS takes.
fn rollout_fits(p: &Literals) -> Option<RuleViolation> {
    let Some(Some(Value::Object(d))) = p.get("deployment_configuration") else { return None };
    let strategy = d.get("strategy").and_then(Value::as_str).unwrap_or("ROLLING");
    let violation = |field, message: String, hint: &str| Some(RuleViolation { field, message, hint: hint.into() });
    let set = |k: &str| d.get(k).is_some_and(|v| !v.is_null());
    for (key, wants) in [("linear", "LINEAR"), ("canary", "CANARY")] {
        if set(key) != (strategy == wants) {
            let message = match set(key) {
                true => format!("deployment_configuration.{key} is for strategy {wants}, not {strategy}"),
                false => format!("strategy {wants} needs deployment_configuration.{key}"),
            };
            return violation("deployment_configuration", message, "set the strategy and its settings together");
        }
    }
    let share = |k: &str, field: &str, lo: f64| {
        let v = d.get(k)?.get(field)?.as_f64()?;
        (!(lo..=100.0).contains(&v)).then(|| format!("{k}.{field} is {v}; ECS takes {lo} to 100"))
    };
    if let Some(m) = share("linear", "step_percent", 3.0).or_else(|| share("canary", "canary_percent", 0.1)) {
        return violation("deployment_configuration", m, "give the share of traffic in percent");
    }
    if strategy == "ROLLING" {
        return None;
    }
    if matches!(p.get("deployment_controller"), Some(Some(Value::String(c))) if c != "ECS") {
        return violation(
            "deployment_configuration",
            format!(
                "strategy {strategy} is the ECS controller's; a CODE_DEPLOY service's deployment group shifts traffic"
            ),
            "use deployment_controller: ECS with the strategy, or the deployment group's deployment_config_name",
        );
    }
    if let Some(Some(Value::Array(lbs))) = p.get("load_balancers") {
        if lbs.iter().any(|lb| lb.get("advanced").is_none_or(Value::is_null)) {
            return violation(
                "load_balancers",
                format!("strategy {strategy} needs each load balancer's advanced settings"),
                "add advanced: {alternate_target_group_arn, production_listener_rule, role_arn}",
            );
        }
    }
    None
}

/// A CODE_DEPLOY service names its deployment group and has the one load
/// balancer CodeDeploy switches; an ECS one names no group; CodeDeploy has
/// no circuit breaker.
fn code_deploy_fits(p: &Literals) -> Option<RuleViolation> {
    let code_deploy = match p.get("deployment_controller") {
        Some(Some(Value::String(c))) => c == "CODE_DEPLOY",
        None => false,
        Some(_) => return None,
    };
    let named =
        matches!(p.get("code_deploy"), Some(Some(v)) if !v.is_null()) || matches!(p.get("code_deploy"), Some(None));
    let violation =
        |field, message: &str, hint: &str| Some(RuleViolation { field, message: message.into(), hint: hint.into() });
    if code_deploy && !named {
        return violation(
            "code_deploy",
            "a CODE_DEPLOY service needs the deployment group that deploys it",
            "add code_deploy: {application: <its application_name>, deployment_group: <its deployment_group_name>}",
        );
    }
    if !code_deploy && named {
        return violation(
            "code_deploy",
            "code_deploy is for deployment_controller: CODE_DEPLOY",
            "set deployment_controller: CODE_DEPLOY, or drop code_deploy",
        );
    }
    if !code_deploy {
        return None;
    }
    if let Some(Some(Value::Array(lbs))) = p.get("load_balancers") {
        if lbs.len() != 1 {
            return violation(
                "load_balancers",
                "a CODE_DEPLOY service takes exactly one load balancer (the blue target group)",
                "list the deployment group's first target group, with the container and port",
            );
        }
    }
    let breaker =
        p.get("deployment_configuration").and_then(Option::as_ref).map(|d| &d["deployment_circuit_breaker"]["enable"]);
    if breaker == Some(&Value::Bool(true)) {
        return violation(
            "deployment_configuration",
            "the circuit breaker is ECS's rolling deployments'; CodeDeploy rolls back on its own",
            "drop deployment_circuit_breaker, and set the deployment group's auto_rollback",
        );
    }
    None
}

/// What CreateService ignores on moto 5.2.5 (UpdateService stores them):
/// create converges them with one UpdateService when the created service
/// does not show them. Never the case on AWS.
const MOTO_5_2_5_CREATE_IGNORES: [&str; 4] = [
    "deployment_configuration",
    "health_check_grace_period_seconds",
    "enable_execute_command",
    "capacity_provider_strategy",
];

pub struct Service {
    client: Client,
    tags: EcsTags,
    codedeploy: Option<aws_sdk_codedeploy::Client>,
}

fn is_code_deploy(want: &ServiceModel) -> bool {
    want.deployment_controller == "CODE_DEPLOY"
}

/// What a CODE_DEPLOY service changes through a deployment rather than
/// UpdateService.
const DEPLOYED: [&str; 4] = ["task_definition", "load_balancers", "network_configuration", "platform_version"];

/// The cluster an ARN names (`…:service/<cluster>/<name>`), or `default`
/// for the old ARN format without it.
fn cluster_of(arn: &str) -> String {
    match arn.split_once(":service/").map(|(_, rest)| rest.split('/').collect::<Vec<_>>()) {
        Some(parts) if parts.len() == 2 => parts[0].to_string(),
        _ => "default".to_string(),
    }
}

/// The cluster of a service this kind observed.
fn cluster_of_observed(o: &Observed) -> String {
    let arn = o.attributes.get("cluster_arn").or_else(|| o.properties.get("cluster")).and_then(Value::as_str);
    arn.map(str::to_string).unwrap_or_else(|| cluster_of(&o.id))
}

/// `arn:…:task-definition/web:7` → `web:7`, for messages.
fn short(td: &str) -> &str {
    td.rsplit('/').next().unwrap_or(td)
}

fn is_live(s: &EcsService) -> bool {
    s.status() == Some("ACTIVE")
}

fn attributes(svc: &EcsService) -> Props {
    let arn = svc.service_arn().unwrap_or_default();
    attrs([
        ("id", json!(arn)),
        ("arn", json!(arn)),
        ("name", json!(svc.service_name())),
        ("cluster_arn", json!(svc.cluster_arn())),
    ])
}

/// A service in the model's shape.
fn model_of(svc: &EcsService) -> ServiceModel {
    let network = svc.network_configuration().and_then(|n| n.awsvpc_configuration()).map(|a| Network {
        awsvpc_configuration: AwsVpc {
            subnets: a.subnets().to_vec(),
            security_groups: a.security_groups().to_vec(),
            assign_public_ip: a.assign_public_ip().map_or("DISABLED", |p| p.as_str()).to_string(),
        },
    });
    // AWS always returns the deployment configuration; moto only once an
    // update set it. Absent means ECS's defaults.
    let dc = svc.deployment_configuration();
    let breaker = dc.and_then(|d| d.deployment_circuit_breaker());
    let strategy = dc.and_then(|d| d.strategy()).map_or("ROLLING", |s| s.as_str());
    let rolling = strategy == "ROLLING";
    let lb = |l: &LoadBalancer| LoadBalancerModel {
        target_group_arn: l.target_group_arn().unwrap_or_default().to_string(),
        container_name: l.container_name().unwrap_or_default().to_string(),
        container_port: l.container_port().unwrap_or_default(),
        advanced: l.advanced_configuration().map(|a| AdvancedLoadBalancer {
            alternate_target_group_arn: a.alternate_target_group_arn().unwrap_or_default().to_string(),
            production_listener_rule: a.production_listener_rule().unwrap_or_default().to_string(),
            test_listener_rule: a.test_listener_rule().map(str::to_string),
            role_arn: a.role_arn().unwrap_or_default().to_string(),
        }),
    };
    ServiceModel {
        service_name: svc.service_name().map(str::to_string),
        cluster: svc.cluster_arn().unwrap_or_default().to_string(),
        task_definition: svc.task_definition().unwrap_or_default().to_string(),
        desired_count: svc.desired_count(),
        launch_type: svc.launch_type().map(|l| l.as_str().to_string()),
        capacity_provider_strategy: Some(strategy_model(svc.capacity_provider_strategy())),
        platform_version: svc.platform_version().unwrap_or("LATEST").to_string(),
        network_configuration: network,
        load_balancers: Some(svc.load_balancers().iter().map(lb).collect()),
        health_check_grace_period_seconds: svc.health_check_grace_period_seconds().unwrap_or(0),
        deployment_configuration: DeploymentSettings {
            maximum_percent: dc.and_then(|d| d.maximum_percent()).unwrap_or(200),
            minimum_healthy_percent: dc.and_then(|d| d.minimum_healthy_percent()).unwrap_or(100),
            deployment_circuit_breaker: CircuitBreaker {
                enable: breaker.is_some_and(|b| b.enable()),
                rollback: breaker.is_some_and(|b| b.rollback()),
            },
            strategy: strategy.to_string(),
            // What belongs to another strategy, or is off, reads as unset,
            // however AWS spells its defaults.
            bake_time_in_minutes: dc.and_then(|d| d.bake_time_in_minutes()).filter(|_| !rolling).map(Into::into),
            linear: dc.and_then(|d| d.linear_configuration()).filter(|_| strategy == "LINEAR").map(|l| {
                LinearSettings {
                    step_percent: l.step_percent().unwrap_or_default(),
                    step_bake_time_in_minutes: l.step_bake_time_in_minutes().unwrap_or_default().into(),
                }
            }),
            canary: dc.and_then(|d| d.canary_configuration()).filter(|_| strategy == "CANARY").map(|c| {
                CanarySettings {
                    canary_percent: c.canary_percent().unwrap_or_default(),
                    canary_bake_time_in_minutes: c.canary_bake_time_in_minutes().unwrap_or_default().into(),
                }
            }),
            alarms: dc.and_then(|d| d.alarms()).filter(|a| a.enable() || !a.alarm_names().is_empty()).map(|a| {
                DeploymentAlarmsModel {
                    alarm_names: a.alarm_names().to_vec(),
                    enable: a.enable(),
                    rollback: a.rollback(),
                }
            }),
        },
        enable_execute_command: svc.enable_execute_command(),
        scheduling_strategy: svc.scheduling_strategy().map_or("REPLICA", |s| s.as_str()).to_string(),
        deployment_controller: svc.deployment_controller().map_or("ECS", |c| c.r#type().as_str()).to_string(),
        // Not AWS's: the planner compares it with what state recorded.
        code_deploy: None,
    }
}

fn live(svc: &EcsService) -> Live<ServiceModel> {
    let id = svc.service_arn().unwrap_or_default().to_string();
    Live { id, model: model_of(svc), tags: tag_map(svc.tags()), attributes: attributes(svc) }
}

fn network(want: &ServiceModel) -> Result<Option<NetworkConfiguration>, ProviderError> {
    let Some(n) = &want.network_configuration else { return Ok(None) };
    let a = &n.awsvpc_configuration;
    let vpc = AwsVpcConfiguration::builder()
        .set_subnets(Some(a.subnets.clone()))
        .set_security_groups((!a.security_groups.is_empty()).then(|| a.security_groups.clone()))
        .assign_public_ip(AssignPublicIp::from(a.assign_public_ip.as_str()))
        .build()
        .map_err(|e| invalid("network_configuration.awsvpc_configuration", e))?;
    Ok(Some(NetworkConfiguration::builder().awsvpc_configuration(vpc).build()))
}

fn deployment_configuration(want: &ServiceModel) -> DeploymentConfiguration {
    let d = &want.deployment_configuration;
    let b = &d.deployment_circuit_breaker;
    // The circuit breaker is the ECS controller's alone.
    let breaker = (!is_code_deploy(want))
        .then(|| DeploymentCircuitBreaker::builder().enable(b.enable).rollback(b.rollback).build());
    let linear = d.linear.as_ref().map(|l| {
        LinearConfiguration::builder()
            .step_percent(l.step_percent)
            .step_bake_time_in_minutes(l.step_bake_time_in_minutes as i32)
            .build()
    });
    let canary = d.canary.as_ref().map(|c| {
        CanaryConfiguration::builder()
            .canary_percent(c.canary_percent)
            .canary_bake_time_in_minutes(c.canary_bake_time_in_minutes as i32)
            .build()
    });
    let alarms = d.alarms.as_ref().and_then(|a| {
        let b = DeploymentAlarms::builder().set_alarm_names(Some(a.alarm_names.clone()));
        b.enable(a.enable).rollback(a.rollback).build().ok()
    });
    // ECS's own strategies are the ECS controller's alone.
    let strategy = (!is_code_deploy(want)).then(|| DeploymentStrategy::from(d.strategy.as_str()));
    DeploymentConfiguration::builder()
        .maximum_percent(d.maximum_percent)
        .minimum_healthy_percent(d.minimum_healthy_percent)
        .set_deployment_circuit_breaker(breaker)
        .set_strategy(strategy)
        .set_bake_time_in_minutes(d.bake_time_in_minutes.map(|m| m as i32))
        .set_linear_configuration(linear)
        .set_canary_configuration(canary)
        .set_alarms(alarms)
        .build()
}

fn load_balancers(want: &ServiceModel) -> Vec<LoadBalancer> {
    let lb = |l: &LoadBalancerModel| {
        let advanced = l.advanced.as_ref().map(|a| {
            AdvancedConfiguration::builder()
                .alternate_target_group_arn(&a.alternate_target_group_arn)
                .production_listener_rule(&a.production_listener_rule)
                .set_test_listener_rule(a.test_listener_rule.clone())
                .role_arn(&a.role_arn)
                .build()
        });
        let b = LoadBalancer::builder().target_group_arn(&l.target_group_arn).container_name(&l.container_name);
        b.container_port(l.container_port).set_advanced_configuration(advanced).build()
    };
    want.load_balancers.iter().flatten().map(lb).collect()
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
        Service { tags: EcsTags(client.clone()), client, codedeploy: None }
    }

    /// With the CodeDeploy client that deploys CODE_DEPLOY services.
    pub fn with_codedeploy(mut self, client: aws_sdk_codedeploy::Client) -> Service {
        self.codedeploy = Some(client);
        self
    }

    /// A CODE_DEPLOY service's new task definition, through its deployment
    /// group.
    async fn deploy(&self, ctx: &OpCtx, live: &Observed, want: &ServiceModel) -> Result<(), ProviderError> {
        let client = self.codedeploy.as_ref().ok_or_else(|| ProviderError::msg("no CodeDeploy client"))?;
        let group = want.code_deploy.as_ref().ok_or_else(|| {
            ProviderError::new(Some("InvalidProperties".into()), "a CODE_DEPLOY service needs code_deploy")
                .with_hint("add code_deploy: {application: ..., deployment_group: ...}")
        })?;
        let lb = want.load_balancers.iter().flatten().next().ok_or_else(|| {
            ProviderError::new(Some("InvalidProperties".into()), "a CODE_DEPLOY service needs its load balancer")
                .with_hint("add load_balancers: [{target_group_arn, container_name, container_port}]")
        })?;
        let cluster = cluster_of_observed(live);
        let rev = crate::codedeploy::deployment::EcsRevision {
            application: group.application.clone(),
            deployment_group: group.deployment_group.clone(),
            cluster: cluster.rsplit('/').next().unwrap_or(&cluster).to_string(),
            service: live.id.rsplit('/').next().unwrap_or(&live.id).to_string(),
            task_definition: want.task_definition.clone(),
            container_name: lb.container_name.clone(),
            container_port: lb.container_port,
        };
        crate::codedeploy::deployment::deploy(ctx, client, &rev).await
    }

    /// A CODE_DEPLOY service's wait: ECS runs the first task set itself,
    /// with no rollout to follow; until the service runs its desired count.
    async fn wait_tasks(&self, ctx: &OpCtx, cluster: &str, arn: &str) -> Result<(), ProviderError> {
        let name = arn.rsplit('/').next().unwrap_or(arn);
        ctx.wait_for(&format!("the tasks of service {name}"), || async {
            let svc = self.describe_one(cluster, arn).await?.filter(is_live).ok_or_else(|| {
                ProviderError::new(Some("ServiceNotFoundException".into()), format!("service {name} disappeared"))
            })?;
            Ok(if svc.running_count() >= svc.desired_count() {
                Poll::Ready(())
            } else {
                Poll::Pending(format!("{}/{} running", svc.running_count(), svc.desired_count()))
            })
        })
        .await?;
        Ok(())
    }

    /// DescribeServices for `arns` of one cluster, whatever their status.
    async fn describe_in(&self, cluster: &str, arns: &[String]) -> Result<Vec<EcsService>, ProviderError> {
        let mut out = Vec::new();
        for chunk in arns.chunks(DESCRIBE_CHUNK) {
            let call = self.client.describe_services().cluster(cluster).set_services(Some(chunk.to_vec()));
            match call.include(ServiceField::Tags).send().await.map_err(from_sdk) {
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
        cluster: &str,
        arn: &str,
        want: &ServiceModel,
        fields: &[&str],
    ) -> Result<Option<Option<String>>, ProviderError> {
        let has = |f: &str| fields.contains(&f);
        let mut req = self.client.update_service().cluster(cluster).service(arn);
        if has("task_definition") {
            req = req.task_definition(&want.task_definition);
        }
        if has("desired_count") {
            req = req.desired_count(want.desired_count);
        }
        if has("network_configuration") {
            req = req.set_network_configuration(network(want)?);
        }
        if has("deployment_configuration") {
            req = req.deployment_configuration(deployment_configuration(want));
        }
        if has("capacity_provider_strategy") {
            let items = want.capacity_provider_strategy.as_deref().unwrap_or_default();
            req = req.set_capacity_provider_strategy(Some(strategy(items)?));
        }
        if has("platform_version") {
            req = req.platform_version(&want.platform_version);
        }
        if has("load_balancers") {
            req = req.set_load_balancers(Some(load_balancers(want)));
        }
        if has("health_check_grace_period_seconds") {
            req = req.health_check_grace_period_seconds(want.health_check_grace_period_seconds);
        }
        if has("enable_execute_command") {
            req = req.enable_execute_command(want.enable_execute_command);
        }
        if !fields.iter().any(|f| *f != "network_configuration" || want.network_configuration.is_some()) {
            return Ok(None);
        }
        // A new strategy, and ECS Exec (only new tasks get the agent), need
        // new tasks.
        if has("capacity_provider_strategy") || has("enable_execute_command") {
            req = req.force_new_deployment(true);
        }
        let out = req.send().await.map_err(from_sdk).map_err(with_hint)?;
        let primary = out.service().and_then(|s| s.deployments().iter().find(|d| d.status() == Some("PRIMARY")));
        Ok(Some(primary.and_then(|d| d.id()).map(str::to_string)))
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

#[async_trait]
impl Kind for Service {
    type Model = ServiceModel;
    /// Found by tag: the default name is `<stack>-<address>`, and
    /// CreateService is idempotent by client token.
    const ADOPT: Adopt = Adopt::ByTag;
    const GONE: &'static [&'static str] =
        &["ServiceNotFoundException", "ClusterNotFoundException", "ServiceNotActiveException"];

    fn schema(&self) -> &'static KindSchema {
        &SCHEMA
    }

    /// A service's name is unique in its cluster (while the old one drains,
    /// too); an unset one is generated anew.
    fn coexists(&self, old: &Props, new: &Wanted) -> Result<(), String> {
        match (kept(old, new, "service_name"), kept(old, new, "cluster")) {
            (Some(name), Some(_)) => {
                Err(format!("its service_name {name} must be unique in its cluster and the replacement keeps it"))
            }
            _ => Ok(()),
        }
    }

    fn tagger(&self) -> Option<&dyn Tagger> {
        Some(&self.tags)
    }

    /// CodeDeploy moves a CODE_DEPLOY service between its target groups.
    fn controlled(&self, _live: &Observed, desired: &Wanted) -> Vec<(&'static str, String)> {
        let code_deploy = matches!(desired.get("deployment_controller"), Some(Some(v)) if v == "CODE_DEPLOY");
        code_deploy
            .then(|| ("load_balancers", "CodeDeploy moves the service between its blue and green target groups".into()))
            .into_iter()
            .collect()
    }

    /// Says how a CODE_DEPLOY service's new revision is deployed.
    fn notes(&self, _live: &Observed, desired: &Wanted, changed: &[&str]) -> Vec<String> {
        let group = desired.get("code_deploy").and_then(Option::as_ref);
        let code_deploy = matches!(desired.get("deployment_controller"), Some(Some(v)) if v == "CODE_DEPLOY");
        if !code_deploy || !changed.contains(&"task_definition") {
            return Vec::new();
        }
        let name = |k: &str| group.and_then(|g| g[k].as_str()).unwrap_or("?").to_string();
        vec![format!(
            "task_definition: deployed by CodeDeploy ({}/{}), blue/green, not by UpdateService",
            name("application"),
            name("deployment_group")
        )]
    }

    async fn read(&self, _ctx: &ReadCtx, ids: &[String]) -> Result<Vec<Live<ServiceModel>>, ProviderError> {
        let mut by_cluster: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for id in ids {
            by_cluster.entry(cluster_of(id)).or_default().push(id.clone());
        }
        let found = futures::future::join_all(by_cluster.iter().map(|(c, arns)| self.describe_in(c, arns))).await;
        let mut out = Vec::new();
        for services in found {
            out.extend(services?.iter().filter(|s| is_live(s)).map(live));
        }
        Ok(out)
    }

    async fn find_tagged(&self, _ctx: &ReadCtx) -> Result<Vec<Live<ServiceModel>>, ProviderError> {
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
            // The adapter keeps this stack's.
            out.extend(services?.iter().filter(|s| is_live(s)).map(live));
        }
        Ok(out)
    }

    async fn create(&self, ctx: &OpCtx, want: &ServiceModel) -> Result<Created, ProviderError> {
        let cluster = want.cluster.as_str();
        let name = want.service_name.clone().unwrap_or_else(|| default_name(&ctx.stack, &ctx.name_seed()));
        let items = strategy(want.capacity_provider_strategy.as_deref().unwrap_or_default())?;
        let replica = want.scheduling_strategy == "REPLICA";
        let lbs = load_balancers(want);
        // Platform versions are Fargate's: not sent for EC2.
        let fargate = want.launch_type.as_deref() != Some("EC2");
        let req = self
            .client
            .create_service()
            .cluster(cluster)
            .service_name(&name)
            .task_definition(&want.task_definition)
            .set_desired_count(replica.then_some(want.desired_count))
            .set_launch_type(want.launch_type.as_deref().map(LaunchType::from))
            .set_capacity_provider_strategy((!items.is_empty()).then_some(items))
            .set_platform_version(fargate.then(|| want.platform_version.clone()))
            .set_network_configuration(network(want)?)
            .set_load_balancers((!lbs.is_empty()).then_some(lbs))
            .set_health_check_grace_period_seconds(
                (want.health_check_grace_period_seconds != 0).then_some(want.health_check_grace_period_seconds),
            )
            .deployment_configuration(deployment_configuration(want))
            .enable_execute_command(want.enable_execute_command)
            .scheduling_strategy(SchedulingStrategy::from(want.scheduling_strategy.as_str()))
            .deployment_controller(
                DeploymentController::builder()
                    .r#type(DeploymentControllerType::from(want.deployment_controller.as_str()))
                    .build()
                    .map_err(|e| invalid("deployment_controller", e))?,
            )
            .client_token(&ctx.client_token)
            .set_tags(Some(tags_of(&ctx.tags)));
        let out = req.send().await.map_err(from_sdk).map_err(with_hint)?;
        let svc =
            out.service.ok_or_else(|| ProviderError::msg(format!("CreateService for {name} returned no service")))?;
        let arn = svc.service_arn().unwrap_or_default().to_string();
        ctx.record_id(&arn);
        let mut ours =
            svc.deployments().iter().find(|d| d.status() == Some("PRIMARY")).and_then(|d| d.id()).map(str::to_string);
        let (asked, got) = (want.to_props(), model_of(&svc).to_props());
        let missed: Vec<&str> =
            MOTO_5_2_5_CREATE_IGNORES.into_iter().filter(|f| !asked[*f].is_null() && asked[*f] != got[*f]).collect();
        if !missed.is_empty() {
            if let Some(started) = self.update_service(cluster, &arn, want, &missed).await? {
                ours = started.or(ours);
            }
        }
        if is_code_deploy(want) {
            self.wait_tasks(ctx, cluster, &arn).await?;
        } else {
            self.wait_rollout(ctx, cluster, &arn, Some(&want.task_definition), ours).await?;
        }
        Ok(Created { id: arn, attributes: attributes(&svc) })
    }

    async fn update(
        &self,
        ctx: &OpCtx,
        live: &Observed,
        want: &ServiceModel,
        changed: &[&str],
    ) -> Result<Option<Props>, ProviderError> {
        let cluster = cluster_of_observed(live);
        if is_code_deploy(want) {
            // A new revision is CodeDeploy's to deploy; the rest is
            // UpdateService's, with no rollout to follow.
            if changed.contains(&"task_definition") {
                self.deploy(ctx, live, want).await?;
            }
            let rest: Vec<&str> =
                changed.iter().copied().filter(|c| !DEPLOYED.contains(c) && *c != "code_deploy").collect();
            if !rest.is_empty() && self.update_service(&cluster, &live.id, want, &rest).await?.is_some() {
                self.wait_tasks(ctx, &cluster, &live.id).await?;
            }
            return Ok(None);
        }
        if let Some(started) = self.update_service(&cluster, &live.id, want, changed).await? {
            self.wait_rollout(ctx, &cluster, &live.id, Some(&want.task_definition), started).await?;
        }
        Ok(None)
    }

    async fn resume(&self, ctx: &OpCtx, current: &Observed) -> Result<Observed, ProviderError> {
        let cluster = cluster_of_observed(current);
        if current.properties.get("deployment_controller").and_then(Value::as_str) == Some("CODE_DEPLOY") {
            self.wait_tasks(ctx, &cluster, &current.id).await?;
        } else {
            self.wait_rollout(ctx, &cluster, &current.id, None, None).await?;
        }
        Ok(current.clone())
    }

    async fn delete(&self, ctx: &OpCtx, live: &Observed, _: Option<&ServiceModel>) -> Result<(), ProviderError> {
        let cluster = cluster_of_observed(live);
        let arn = live.id.as_str();
        let inactive = |e: &ProviderError| is_gone(e) || e.code_is("ServiceNotActiveException");
        // Scale to 0 first, so that the tasks drain as a deployment would.
        // Gone or already draining: what is left is the wait.
        let scale = self.client.update_service().cluster(&cluster).service(arn).desired_count(0);
        match scale.send().await.map_err(from_sdk) {
            Err(e) if !inactive(&e) => return Err(e),
            Err(_) => {}
            Ok(_) => {
                let call = self.client.delete_service().cluster(&cluster).service(arn).force(true);
                match call.send().await.map_err(from_sdk) {
                    Err(e) if !inactive(&e) => return Err(e),
                    _ => {}
                }
            }
        }
        ctx.wait_for("the service's tasks to stop", || async {
            Ok(match self.describe_one(&cluster, arn).await? {
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

    /// What the schema's rules say of literal properties.
    fn refused(v: Value) -> Vec<&'static str> {
        let p: Literals = v.as_object().unwrap().iter().map(|(k, v)| (k.clone(), Some(v.clone()))).collect();
        SCHEMA.rules.iter().filter_map(|r| r(&p)).map(|v| v.field).collect()
    }

    #[test]
    fn what_ecs_refuses_is_refused_offline() {
        let arns = json!({"cluster": "arn:aws:ecs:us-east-1:1:cluster/c", "task_definition": "arn:aws:ecs:us-east-1:1:task-definition/t:1"});
        let with = |extra: Value| {
            let mut v = arns.clone();
            v.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
            refused(v)
        };
        assert!(refused(arns.clone()).is_empty());
        assert_eq!(refused(json!({"cluster": "c", "task_definition": "t:1"})), ["cluster"]);
        assert_eq!(with(json!({"task_definition": "web:1"})), ["task_definition"]);
        let strategy = json!([{"capacity_provider": "FARGATE_SPOT", "weight": 1}]);
        assert_eq!(with(json!({"launch_type": "FARGATE", "capacity_provider_strategy": strategy})), ["launch_type"]);
        assert!(with(json!({"capacity_provider_strategy": strategy})).is_empty());
        assert_eq!(with(json!({"launch_type": "FARGATE", "scheduling_strategy": "DAEMON"})), ["scheduling_strategy"]);
        assert!(with(json!({"launch_type": "EC2", "scheduling_strategy": "DAEMON"})).is_empty());
        let typo = json!([{"capacity_provider": "FARGATE_SPOTT"}]);
        assert_eq!(with(json!({"capacity_provider_strategy": typo})), ["capacity_provider_strategy"]);
        assert!(with(json!({"capacity_provider_strategy": [{"capacity_provider": "my-asg-provider"}]})).is_empty());
    }

    #[test]
    fn a_code_deploy_service_names_its_group_and_has_one_load_balancer_and_no_circuit_breaker() {
        let arns = json!({"cluster": "arn:aws:ecs:us-east-1:1:cluster/c", "task_definition": "arn:aws:ecs:us-east-1:1:task-definition/t:1"});
        let with = |extra: Value| {
            let mut v = arns.clone();
            v.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
            refused(v)
        };
        let group = json!({"application": "canary", "deployment_group": "web"});
        let lb = json!({"target_group_arn": "arn:tg/blue", "container_name": "web", "container_port": 3000});
        assert_eq!(with(json!({"deployment_controller": "CODE_DEPLOY"})), ["code_deploy"]);
        assert_eq!(with(json!({"code_deploy": group})), ["code_deploy"]);
        assert!(with(json!({"deployment_controller": "CODE_DEPLOY", "code_deploy": group, "load_balancers": [lb]}))
            .is_empty());
        let two = json!({"deployment_controller": "CODE_DEPLOY", "code_deploy": group, "load_balancers": [lb, lb]});
        assert_eq!(with(two), ["load_balancers"]);
        let breaker = json!({"deployment_controller": "CODE_DEPLOY", "code_deploy": group,
                             "deployment_configuration": {"deployment_circuit_breaker": {"enable": true}}});
        assert_eq!(with(breaker), ["deployment_configuration"]);
    }

    #[test]
    fn ecs_own_blue_green_needs_its_settings_and_the_ecs_controller() {
        let arns = json!({"cluster": "arn:aws:ecs:us-east-1:1:cluster/c", "task_definition": "arn:aws:ecs:us-east-1:1:task-definition/t:1"});
        let with = |extra: Value| {
            let mut v = arns.clone();
            v.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
            refused(v)
        };
        let advanced = json!({"alternate_target_group_arn": "arn:tg/green", "production_listener_rule": "arn:rule", "role_arn": "arn:role"});
        let lb = json!({"target_group_arn": "arn:tg/blue", "container_name": "web", "container_port": 3000, "advanced": advanced});
        let linear = json!({"strategy": "LINEAR", "linear": {"step_percent": 10, "step_bake_time_in_minutes": 1}});
        assert!(with(json!({"deployment_configuration": linear, "load_balancers": [lb]})).is_empty());
        assert_eq!(with(json!({"deployment_configuration": {"strategy": "LINEAR"}})), ["deployment_configuration"]);
        let canary_on_linear = json!({"strategy": "LINEAR", "linear": linear["linear"], "canary": {"canary_percent": 5, "canary_bake_time_in_minutes": 2}});
        assert_eq!(with(json!({"deployment_configuration": canary_on_linear})), ["deployment_configuration"]);
        let tiny = json!({"strategy": "LINEAR", "linear": {"step_percent": 1, "step_bake_time_in_minutes": 1}});
        assert_eq!(with(json!({"deployment_configuration": tiny})), ["deployment_configuration"]);
        let mut plain = lb.clone();
        plain.as_object_mut().unwrap().remove("advanced");
        assert_eq!(
            with(json!({"deployment_configuration": {"strategy": "BLUE_GREEN"}, "load_balancers": [plain]})),
            ["load_balancers"]
        );
        let group = json!({"application": "a", "deployment_group": "g"});
        let both = json!({"deployment_controller": "CODE_DEPLOY", "code_deploy": group, "load_balancers": [lb],
                          "deployment_configuration": {"strategy": "BLUE_GREEN"}});
        assert_eq!(with(both), ["deployment_configuration"]);
    }
}
