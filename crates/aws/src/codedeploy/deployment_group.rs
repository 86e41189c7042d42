//! `codedeploy.deployment_group`: an ECS service's blue/green deployment
//! group, with traffic control.
//!
//! The id is `<application>:<group>`. Reads: one GetDeploymentGroup and one
//! ListTagsForResource per group, concurrently (a stack has few; the ARN's
//! account is the service role's). BatchGetDeploymentGroups would batch
//! them, but moto 5.2.5 does not serve it. Create is one
//! CreateDeploymentGroup with the tags; everything but the application and
//! the name changes in place with one UpdateDeploymentGroup. The style is
//! always what ECS takes: `BLUE_GREEN` with `WITH_TRAFFIC_CONTROL`, the
//! replacement ready at once, the old task set terminated after
//! `termination_wait_time_in_minutes`.

use super::{arn, tags, tags_of, GONE};
use crate::error::from_sdk;
use crate::kit::kept;
use crate::kit::tagger::CodeDeployTags;
use crate::kit::{attrs, check_each, model, Adopt, Created, Kind, Live, Tagger};
use aws_sdk_codedeploy::types::{
    Alarm, AlarmConfiguration, AutoRollbackConfiguration, AutoRollbackEvent, BlueGreenDeploymentConfiguration,
    BlueInstanceTerminationOption, DeploymentGroupInfo, DeploymentOption, DeploymentReadyAction, DeploymentReadyOption,
    DeploymentStyle, DeploymentType, EcsService, InstanceAction, LoadBalancerInfo, TargetGroupInfo,
    TargetGroupPairInfo, TrafficRoute,
};
use aws_sdk_codedeploy::Client;
use deployctl_engine::kind::Wanted;
use deployctl_engine::{Observed, OpCtx, Props, ProviderError, ReadCtx};
use deployctl_spec::{Attr, KindSchema, Literals, RuleViolation};
use serde_json::{json, Value};

const ROLLBACK_EVENTS: &[&str] = &["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM", "DEPLOYMENT_STOP_ON_REQUEST"];

model! {
    pub struct EcsServiceRef {
        cluster_name: String = "The cluster's name (`${cluster.name}`)." [required],
        service_name: String = "The service's name (`${web.name}`); its `deployment_controller` is `CODE_DEPLOY`."
            [required],
    }
}

model! {
    pub struct AutoRollback {
        enabled: bool = "Whether a deployment that fails, or that an alarm stops, rolls back." [default("true")],
        events: Vec<String> = "`DEPLOYMENT_FAILURE`, `DEPLOYMENT_STOP_ON_ALARM` (needs `alarms`), \
                               `DEPLOYMENT_STOP_ON_REQUEST`." [default("[\"DEPLOYMENT_FAILURE\"]")],
    }
}

model! {
    pub struct DeploymentGroupModel {
        application_name: String = "The application's name (`${app.name}`)." [required, replace],
        deployment_group_name: String = "The group's name, unique in the application."
            [required, replace, name(1, 100, "A-Za-z0-9._+=,@-")],
        service_role_arn: String = "The role CodeDeploy assumes (trusting `codedeploy.amazonaws.com`, with \
                                    `AWSCodeDeployRoleForECS`)." [required],
        deployment_config_name: String = "How traffic shifts: `CodeDeployDefault.ECSAllAtOnce`, \
                                          `CodeDeployDefault.ECSLinear10PercentEvery1Minutes`, \
                                          `CodeDeployDefault.ECSCanary10Percent5Minutes`, … or a config of one's own."
            [default("\"CodeDeployDefault.ECSAllAtOnce\"")],
        ecs_service: EcsServiceRef = "The service it deploys." [required],
        target_groups: Vec<String> = "The blue and the green target group's names (`${blue.name}`), in that order: \
                                      the service starts on the first." [required, typed(deployctl_spec::Type::List(&deployctl_spec::Type::String))],
        prod_listener_arn: String = "The listener that carries production traffic (`${https.arn}`)." [required],
        test_listener_arn: Option<String> = "A listener that reaches the replacement before traffic shifts to it. \
                                             Unset: none.",
        alarms: Vec<String> = "CloudWatch alarm names (`${success_rate.name}`): one in ALARM stops the deployment."
            [default("[]")],
        auto_rollback: AutoRollback = "What rolls a deployment back." [default("{}")],
        termination_wait_time_in_minutes: i64 = "How long the old task set stays after traffic moved (0 to 2880)."
            [default("5"), range(0, 2880)],
    }
}

pub static SCHEMA: KindSchema = KindSchema {
    type_name: "codedeploy.deployment_group",
    doc: "A CodeDeploy deployment group for an ECS service's blue/green deployments: the service (whose \
          `deployment_controller` is `CODE_DEPLOY`), its two target groups, the production (and test) listener, the \
          traffic-shifting config, the alarms that stop a deployment, and automatic rollback. Changed in place except \
          for its application and name. Deployments are `ecs.service`'s: a new task definition is deployed through \
          this group. On the local endpoint (moto 5.2.5) update and delete answer 500; on AWS they work, as the \
          mocked tests show.",
    properties: <DeploymentGroupModel as crate::kit::Model>::PROPS,
    attributes: &[
        Attr { name: "id", doc: "`<application>:<group>`." },
        Attr { name: "name", doc: "The group's name." },
        Attr { name: "arn", doc: "`arn:aws:codedeploy:<region>:<account>:deploymentgroup:<application>/<group>`." },
        Attr { name: "deployment_group_id", doc: "CodeDeploy's id of the group." },
    ],
    taggable: true,
    rules: &[two_target_groups, rollback_events, alarms_for_rollback],
    example: "deploy_group:\n  type: codedeploy.deployment_group\n  properties:\n    application_name: \
              ${deploy_app.name}\n    deployment_group_name: web\n    service_role_arn: ${codedeploy_role.arn}\n    \
              deployment_config_name: CodeDeployDefault.ECSLinear10PercentEvery1Minutes\n    ecs_service: \
              {cluster_name: \"${cluster.name}\", service_name: \"${web.name}\"}\n    target_groups: \
              [\"${blue.name}\", \"${green.name}\"]\n    prod_listener_arn: ${https.arn}\n    test_listener_arn: \
              ${test.arn}\n    alarms: [\"${success_rate.name}\"]\n",
};

fn two_target_groups(p: &Literals) -> Option<RuleViolation> {
    let Some(Some(Value::Array(tgs))) = p.get("target_groups") else { return None };
    (tgs.len() != 2).then(|| RuleViolation {
        field: "target_groups",
        message: format!("a blue/green deployment group takes two target groups, not {}", tgs.len()),
        hint: "list the blue and the green target group: target_groups: [\"${blue.name}\", \"${green.name}\"]".into(),
    })
}

fn rollback_events(p: &Literals) -> Option<RuleViolation> {
    let Some(Some(Value::Object(r))) = p.get("auto_rollback") else { return None };
    let events = r.get("events").cloned().unwrap_or(Value::Null);
    let lit: Literals = [("events".to_string(), Some(events))].into_iter().collect();
    check_each(&lit, "events", ROLLBACK_EVENTS).map(|v| RuleViolation { field: "auto_rollback", ..v })
}

/// CodeDeploy refuses a rollback on alarm without alarms.
fn alarms_for_rollback(p: &Literals) -> Option<RuleViolation> {
    let Some(Some(Value::Object(r))) = p.get("auto_rollback") else { return None };
    let on_alarm =
        r.get("events").and_then(Value::as_array).is_some_and(|e| e.iter().any(|e| e == "DEPLOYMENT_STOP_ON_ALARM"));
    let enabled = r.get("enabled") != Some(&Value::Bool(false));
    let none = matches!(p.get("alarms"), Some(Some(Value::Array(a))) if a.is_empty()) || !p.contains_key("alarms");
    (enabled && on_alarm && none).then(|| RuleViolation {
        field: "auto_rollback",
        message: "auto_rollback on DEPLOYMENT_STOP_ON_ALARM needs alarms".into(),
        hint: "add alarms: [\"${alarm.name}\"], or drop DEPLOYMENT_STOP_ON_ALARM from auto_rollback.events".into(),
    })
}

/// The account of a role's ARN (`arn:aws:iam::<account>:role/…`).
fn account_of(role_arn: &str) -> &str {
    role_arn.split(':').nth(4).unwrap_or_default()
}

fn id_of(app: &str, group: &str) -> String {
    format!("{app}:{group}")
}

fn split(id: &str) -> (&str, &str) {
    id.split_once(':').unwrap_or((id, ""))
}

fn group_arn(region: &str, want: &DeploymentGroupModel) -> String {
    let rest = format!("deploymentgroup:{}/{}", want.application_name, want.deployment_group_name);
    arn(region, account_of(&want.service_role_arn), &rest)
}

fn attributes(region: &str, want: &DeploymentGroupModel, group_id: Option<&str>) -> Props {
    attrs([
        ("id", json!(id_of(&want.application_name, &want.deployment_group_name))),
        ("name", json!(want.deployment_group_name)),
        ("arn", json!(group_arn(region, want))),
        ("deployment_group_id", json!(group_id)),
    ])
}

fn model_of(g: &DeploymentGroupInfo) -> DeploymentGroupModel {
    let pair = g.load_balancer_info().and_then(|l| l.target_group_pair_info_list().first());
    let route = |r: Option<&TrafficRoute>| r.and_then(|r| r.listener_arns().first()).cloned();
    let rollback = g.auto_rollback_configuration();
    let alarms = g.alarm_configuration().filter(|a| a.enabled());
    let service = g.ecs_services().first();
    DeploymentGroupModel {
        application_name: g.application_name().unwrap_or_default().to_string(),
        deployment_group_name: g.deployment_group_name().unwrap_or_default().to_string(),
        service_role_arn: g.service_role_arn().unwrap_or_default().to_string(),
        deployment_config_name: g.deployment_config_name().unwrap_or("CodeDeployDefault.ECSAllAtOnce").to_string(),
        ecs_service: EcsServiceRef {
            cluster_name: service.and_then(|s| s.cluster_name()).unwrap_or_default().to_string(),
            service_name: service.and_then(|s| s.service_name()).unwrap_or_default().to_string(),
        },
        target_groups: pair
            .map(|p| p.target_groups().iter().filter_map(|t| t.name().map(str::to_string)).collect())
            .unwrap_or_default(),
        prod_listener_arn: route(pair.and_then(|p| p.prod_traffic_route())).unwrap_or_default(),
        test_listener_arn: route(pair.and_then(|p| p.test_traffic_route())),
        alarms: alarms
            .map(|a| a.alarms().iter().filter_map(|a| a.name().map(str::to_string)).collect())
            .unwrap_or_default(),
        auto_rollback: AutoRollback {
            enabled: rollback.is_some_and(|r| r.enabled()),
            events: rollback.map(|r| r.events().iter().map(|e| e.as_str().to_string()).collect()).unwrap_or_default(),
        },
        termination_wait_time_in_minutes: g
            .blue_green_deployment_configuration()
            .and_then(|b| b.terminate_blue_instances_on_deployment_success())
            .map_or(0, |t| t.termination_wait_time_in_minutes.into()),
    }
}

/// The settings every ECS deployment group has, from the model.
struct Settings {
    style: DeploymentStyle,
    blue_green: BlueGreenDeploymentConfiguration,
    load_balancer: LoadBalancerInfo,
    service: EcsService,
    alarms: AlarmConfiguration,
    rollback: AutoRollbackConfiguration,
}

fn settings(want: &DeploymentGroupModel) -> Settings {
    let route = |arn: &str| TrafficRoute::builder().listener_arns(arn).build();
    let groups = want.target_groups.iter().map(|n| TargetGroupInfo::builder().name(n).build());
    let pair = TargetGroupPairInfo::builder()
        .set_target_groups(Some(groups.collect()))
        .prod_traffic_route(route(&want.prod_listener_arn))
        .set_test_traffic_route(want.test_listener_arn.as_deref().map(route))
        .build();
    let alarms = want.alarms.iter().map(|n| Alarm::builder().name(n).build());
    let events = want.auto_rollback.events.iter().map(|e| AutoRollbackEvent::from(e.as_str()));
    Settings {
        style: DeploymentStyle::builder()
            .deployment_type(DeploymentType::BlueGreen)
            .deployment_option(DeploymentOption::WithTrafficControl)
            .build(),
        blue_green: BlueGreenDeploymentConfiguration::builder()
            .terminate_blue_instances_on_deployment_success(
                BlueInstanceTerminationOption::builder()
                    .action(InstanceAction::Terminate)
                    .termination_wait_time_in_minutes(want.termination_wait_time_in_minutes as i32)
                    .build(),
            )
            .deployment_ready_option(
                DeploymentReadyOption::builder().action_on_timeout(DeploymentReadyAction::ContinueDeployment).build(),
            )
            .build(),
        load_balancer: LoadBalancerInfo::builder().target_group_pair_info_list(pair).build(),
        service: EcsService::builder()
            .cluster_name(&want.ecs_service.cluster_name)
            .service_name(&want.ecs_service.service_name)
            .build(),
        alarms: AlarmConfiguration::builder()
            .enabled(!want.alarms.is_empty())
            .set_alarms(Some(alarms.collect()))
            .build(),
        rollback: AutoRollbackConfiguration::builder()
            .enabled(want.auto_rollback.enabled)
            .set_events(Some(events.collect()))
            .build(),
    }
}

/// `$call` (CreateDeploymentGroup or UpdateDeploymentGroup, whose builders
/// share these setters but no type) with every setting of `$want`.
macro_rules! with_settings {
    ($call:expr, $want:expr) => {{
        let (want, s) = ($want, settings($want));
        $call
            .application_name(&want.application_name)
            .service_role_arn(&want.service_role_arn)
            .deployment_config_name(&want.deployment_config_name)
            .deployment_style(s.style)
            .blue_green_deployment_configuration(s.blue_green)
            .load_balancer_info(s.load_balancer)
            .ecs_services(s.service)
            .alarm_configuration(s.alarms)
            .auto_rollback_configuration(s.rollback)
    }};
}

/// Hints for what CodeDeploy refuses most.
fn hint(e: ProviderError) -> ProviderError {
    let h = match e.code.as_deref() {
        Some("InvalidECSServiceException") | Some("ECSServiceMappingLimitExceededException") => {
            "the service must exist with deployment_controller: CODE_DEPLOY, and be in no other deployment group"
        }
        Some("InvalidTargetGroupPairException") => {
            "target_groups are the two target groups' names, and the listeners forward to the first"
        }
        Some("InvalidRoleException") => "the service role must trust codedeploy.amazonaws.com",
        Some("DeploymentConfigDoesNotExistException") => {
            "ECS configs are named CodeDeployDefault.ECSAllAtOnce, CodeDeployDefault.ECSLinear10PercentEvery1Minutes, \
             CodeDeployDefault.ECSCanary10Percent5Minutes, …"
        }
        _ => return e,
    };
    e.with_hint(h)
}

pub struct DeploymentGroup {
    client: Client,
    tags: CodeDeployTags,
}

impl DeploymentGroup {
    pub fn new(client: Client) -> DeploymentGroup {
        DeploymentGroup { tags: CodeDeployTags(client.clone()), client }
    }

    async fn read_one(&self, ctx: &ReadCtx, id: &str) -> Result<Option<Live<DeploymentGroupModel>>, ProviderError> {
        let (app, group) = split(id);
        let call = self.client.get_deployment_group().application_name(app).deployment_group_name(group);
        let r = call.send().await.map_err(from_sdk);
        let Some(g) = crate::kit::unless_gone(r, crate::kit::is_gone::<Self>)?.and_then(|o| o.deployment_group_info)
        else {
            return Ok(None);
        };
        let model = model_of(&g);
        let arn = group_arn(&ctx.region, &model);
        let Some(tags) = tags_of(&self.client, &arn).await? else { return Ok(None) };
        Ok(Some(Live {
            id: id_of(&model.application_name, &model.deployment_group_name),
            attributes: attributes(&ctx.region, &model, g.deployment_group_id()),
            model,
            tags,
        }))
    }
}

#[async_trait::async_trait]
impl Kind for DeploymentGroup {
    type Model = DeploymentGroupModel;
    /// By `<application>:<group>`, read and kept if it carries this stack's
    /// tags.
    const ADOPT: Adopt = Adopt::Custom;
    const GONE: &'static [&'static str] = GONE;

    fn schema(&self) -> &'static KindSchema {
        &SCHEMA
    }

    fn tagger(&self) -> Option<&dyn Tagger> {
        Some(&self.tags)
    }

    /// One group per name in an application.
    fn coexists(&self, old: &Props, new: &Wanted) -> Result<(), String> {
        match (kept(old, new, "application_name"), kept(old, new, "deployment_group_name")) {
            (Some(_), Some(name)) => Err(format!("its deployment_group_name {name} is unique in its application")),
            _ => Ok(()),
        }
    }

    async fn read(&self, ctx: &ReadCtx, ids: &[String]) -> Result<Vec<Live<DeploymentGroupModel>>, ProviderError> {
        crate::read_each(ids.iter().map(|id| self.read_one(ctx, id))).await
    }

    async fn find_existing(
        &self,
        ctx: &ReadCtx,
        wanted: &[(String, Props)],
    ) -> Result<Vec<(String, Observed)>, ProviderError> {
        let ids: Vec<String> = wanted
            .iter()
            .filter_map(|(_, p)| {
                Some(id_of(p.get("application_name")?.as_str()?, p.get("deployment_group_name")?.as_str()?))
            })
            .collect();
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let found = self.read(ctx, &ids).await?;
        Ok(crate::kit::this_stacks(found, &ctx.stack))
    }

    async fn create(&self, ctx: &OpCtx, want: &DeploymentGroupModel) -> Result<Created, ProviderError> {
        let call = self.client.create_deployment_group().deployment_group_name(&want.deployment_group_name);
        let out =
            with_settings!(call, want).set_tags(Some(tags(&ctx.tags))).send().await.map_err(from_sdk).map_err(hint)?;
        let id = id_of(&want.application_name, &want.deployment_group_name);
        ctx.record_id(&id);
        Ok(Created { attributes: attributes(&ctx.region, want, out.deployment_group_id()), id })
    }

    async fn update(
        &self,
        ctx: &OpCtx,
        live: &Observed,
        want: &DeploymentGroupModel,
        _: &[&str],
    ) -> Result<Option<Props>, ProviderError> {
        let call = self.client.update_deployment_group().current_deployment_group_name(split(&live.id).1);
        with_settings!(call, want).send().await.map_err(from_sdk).map_err(hint)?;
        let id = live.attributes.get("deployment_group_id").and_then(Value::as_str);
        Ok(Some(attributes(&ctx.region, want, id)))
    }

    async fn delete(&self, _: &OpCtx, live: &Observed, _: Option<&DeploymentGroupModel>) -> Result<(), ProviderError> {
        let (app, group) = split(&live.id);
        let call = self.client.delete_deployment_group().application_name(app).deployment_group_name(group);
        call.send().await.map_err(from_sdk)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kit::literals as lit;

    #[test]
    fn what_codedeploy_refuses_is_refused_offline() {
        assert!(two_target_groups(&lit(json!({"target_groups": ["blue", "green"]}))).is_none());
        assert!(two_target_groups(&lit(json!({"target_groups": ["blue"]}))).unwrap().message.contains("not 1"));
        let typo = lit(json!({"auto_rollback": {"events": ["DEPLOYMENT_FAILED"]}}));
        assert_eq!(rollback_events(&typo).unwrap().field, "auto_rollback");
        let on_alarm = json!({"auto_rollback": {"events": ["DEPLOYMENT_STOP_ON_ALARM"]}});
        assert!(alarms_for_rollback(&lit(on_alarm.clone())).is_some());
        let mut with_alarm = on_alarm;
        with_alarm["alarms"] = json!(["success-rate"]);
        assert!(alarms_for_rollback(&lit(with_alarm)).is_none());
    }

    #[test]
    fn the_arn_names_the_service_roles_account() {
        let want = DeploymentGroupModel {
            application_name: "canary".into(),
            deployment_group_name: "web".into(),
            service_role_arn: "arn:aws:iam::123456789012:role/codedeploy".into(),
            deployment_config_name: "CodeDeployDefault.ECSAllAtOnce".into(),
            ecs_service: EcsServiceRef { cluster_name: "c".into(), service_name: "s".into() },
            target_groups: vec!["blue".into(), "green".into()],
            prod_listener_arn: "arn:l".into(),
            test_listener_arn: None,
            alarms: vec![],
            auto_rollback: AutoRollback { enabled: true, events: vec![] },
            termination_wait_time_in_minutes: 5,
        };
        assert_eq!(
            group_arn("eu-central-1", &want),
            "arn:aws:codedeploy:eu-central-1:123456789012:deploymentgroup:canary/web"
        );
        assert_eq!(split("canary:web"), ("canary", "web"));
    }
}
