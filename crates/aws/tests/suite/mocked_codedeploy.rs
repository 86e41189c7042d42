//! An `ecs.service` with `deployment_controller: CODE_DEPLOY` getting a new
//! task definition, against mocked clients: what moto 5.2.5 cannot produce
//! (its deployments stay `Created`). A deployment that shifts traffic in
//! steps and succeeds, with the steps as progress; one an alarm stops and
//! rolls back, which fails the step naming it; one interrupted with Ctrl-C
//! and followed, not started again, by the next run. None is an
//! UpdateService.

use crate::support::kit::{detached, progress};
use aws_sdk_codedeploy::operation::create_deployment::CreateDeploymentOutput;
use aws_sdk_codedeploy::operation::get_deployment::GetDeploymentOutput;
use aws_sdk_codedeploy::operation::get_deployment_target::GetDeploymentTargetOutput;
use aws_sdk_codedeploy::operation::list_deployments::ListDeploymentsOutput;
use aws_sdk_codedeploy::types::{
    AppSpecContent, DeploymentInfo, DeploymentStatus, DeploymentTarget, DeploymentTargetType, EcsTarget, EcsTaskSet,
    ErrorCode, ErrorInformation, RevisionLocation, RevisionLocationType, RollbackInfo, TargetLabel,
};
use aws_sdk_codedeploy::Client as CodeDeploy;
use aws_smithy_mocks::{mock, mock_client, RuleMode};
use deployctl_aws::ecs::service::Service;
use deployctl_aws::kit::Adapter;
use deployctl_engine::{Observed, Props, ResourceKind, StepAction};
use serde_json::json;
use std::time::Duration;

const SERVICE: &str = "arn:aws:ecs:eu-central-1:123456789012:service/canary/web";
const V2: &str = "arn:aws:ecs:eu-central-1:123456789012:task-definition/web:2";

fn desired() -> Props {
    json!({
        "cluster": "arn:aws:ecs:eu-central-1:123456789012:cluster/canary",
        "task_definition": V2,
        "desired_count": 2,
        "launch_type": "FARGATE",
        "deployment_controller": "CODE_DEPLOY",
        "code_deploy": {"application": "canary", "deployment_group": "web"},
        "load_balancers": [{"target_group_arn": "arn:aws:elasticloadbalancing:eu-central-1:123456789012:targetgroup/blue/1",
                            "container_name": "web", "container_port": 3000}],
    })
    .as_object()
    .unwrap()
    .clone()
}

fn live() -> Observed {
    let attributes =
        json!({"id": SERVICE, "arn": SERVICE, "cluster_arn": "arn:aws:ecs:eu-central-1:123456789012:cluster/canary"});
    Observed { id: SERVICE.into(), attributes: attributes.as_object().unwrap().clone(), ..Default::default() }
}

fn deployment(status: DeploymentStatus) -> GetDeploymentOutput {
    let spec = json!({"version": 0.0, "Resources": [{"TargetService": {"Type": "AWS::ECS::Service",
        "Properties": {"TaskDefinition": V2, "LoadBalancerInfo": {"ContainerName": "web", "ContainerPort": 3000}}}}]});
    let revision = RevisionLocation::builder()
        .revision_type(RevisionLocationType::AppSpecContent)
        .app_spec_content(AppSpecContent::builder().content(spec.to_string()).build())
        .build();
    let info = DeploymentInfo::builder().deployment_id("d-1").status(status).revision(revision);
    GetDeploymentOutput::builder().deployment_info(info.build()).build()
}

fn weight(green: f64) -> GetDeploymentTargetOutput {
    let set = |label, w| EcsTaskSet::builder().task_set_label(label).traffic_weight(w).build();
    let target = EcsTarget::builder()
        .task_sets_info(set(TargetLabel::Blue, 100.0 - green))
        .task_sets_info(set(TargetLabel::Green, green))
        .build();
    let target = DeploymentTarget::builder().deployment_target_type(DeploymentTargetType::EcsTarget).ecs_target(target);
    GetDeploymentTargetOutput::builder().deployment_target(target.build()).build()
}

fn none_running() -> ListDeploymentsOutput {
    ListDeploymentsOutput::builder().set_deployments(Some(vec![])).build()
}

/// The ECS client: UpdateService is counted, and must not be called.
fn ecs_client() -> (aws_sdk_ecs::Client, aws_smithy_mocks::Rule) {
    let update = mock!(aws_sdk_ecs::Client::update_service)
        .then_output(|| aws_sdk_ecs::operation::update_service::UpdateServiceOutput::builder().build());
    (mock_client!(aws_sdk_ecs, RuleMode::MatchAny, [&update]), update)
}

#[tokio::test]
async fn a_new_revision_is_deployed_by_codedeploy_in_steps_with_progress_and_no_update_service() {
    let list = mock!(CodeDeploy::list_deployments).then_output(none_running);
    let create = mock!(CodeDeploy::create_deployment)
        .match_requests(|r| {
            r.deployment_group_name() == Some("web")
                && r.revision()
                    .and_then(|v| v.app_spec_content())
                    .and_then(|c| c.content())
                    .is_some_and(|c| c.contains(V2))
        })
        .then_output(|| CreateDeploymentOutput::builder().deployment_id("d-1").build());
    let get = mock!(CodeDeploy::get_deployment)
        .sequence()
        .output(|| deployment(DeploymentStatus::InProgress))
        .output(|| deployment(DeploymentStatus::InProgress))
        .output(|| deployment(DeploymentStatus::Succeeded))
        .build();
    let target =
        mock!(CodeDeploy::get_deployment_target).sequence().output(|| weight(10.0)).output(|| weight(50.0)).build();
    let cd = mock_client!(aws_sdk_codedeploy, RuleMode::MatchAny, [&list, &create, &get, &target]);
    let (ecs, update) = ecs_client();
    let kind = Adapter(Service::new(ecs).with_codedeploy(cd));
    let (ctx, _cancel, mut events) = detached("canary", "eu-central-1", "web", "ecs.service", StepAction::Update);
    kind.update(&ctx, &live(), &desired(), &["task_definition".to_string()]).await.unwrap();
    assert_eq!(create.num_calls(), 1);
    assert_eq!(update.num_calls(), 0, "a new revision is not an UpdateService");
    let seen = progress(&mut events);
    assert_eq!(
        seen,
        [
            "created deployment d-1 of web:2",
            "deployment d-1: InProgress, 10% of traffic on the new task set",
            "deployment d-1: InProgress, 50% of traffic on the new task set",
        ]
    );
}

#[tokio::test]
async fn a_deployment_the_alarm_stops_and_rolls_back_fails_the_step_naming_it() {
    let list = mock!(CodeDeploy::list_deployments).then_output(none_running);
    let create = mock!(CodeDeploy::create_deployment)
        .then_output(|| CreateDeploymentOutput::builder().deployment_id("d-1").build());
    let stopped = || {
        let mut d = deployment(DeploymentStatus::Stopped);
        let info = d.deployment_info.as_mut().unwrap();
        info.error_information = Some(
            ErrorInformation::builder()
                .code(ErrorCode::AlarmActive)
                .message(
                    "One or more alarms have been activated according to the Amazon CloudWatch metrics you selected",
                )
                .build(),
        );
        info.rollback_info = Some(RollbackInfo::builder().rollback_deployment_id("d-2").build());
        d
    };
    let get = mock!(CodeDeploy::get_deployment)
        .sequence()
        .output(|| deployment(DeploymentStatus::InProgress))
        .output(stopped)
        .build();
    let target = mock!(CodeDeploy::get_deployment_target).then_output(|| weight(10.0));
    let cd = mock_client!(aws_sdk_codedeploy, RuleMode::MatchAny, [&list, &create, &get, &target]);
    let (ecs, update) = ecs_client();
    let kind = Adapter(Service::new(ecs).with_codedeploy(cd));
    let (ctx, _cancel, _events) = detached("canary", "eu-central-1", "web", "ecs.service", StepAction::Update);
    let err = kind.update(&ctx, &live(), &desired(), &["task_definition".to_string()]).await.unwrap_err();
    assert_eq!(err.code.as_deref(), Some("DeploymentFailed"));
    assert_eq!(
        err.message,
        "CodeDeploy deployment d-1 of web:2 to service web is Stopped (ALARM_ACTIVE: One or more alarms have been \
         activated according to the Amazon CloudWatch metrics you selected); rolled back by d-2"
    );
    assert!(
        err.hint.as_deref().is_some_and(|h| h.contains("aws deploy get-deployment --deployment-id d-1")),
        "{err:?}"
    );
    assert_eq!(update.num_calls(), 0);
}

#[tokio::test]
async fn a_deployment_interrupted_by_ctrl_c_is_followed_on_the_next_run_without_a_second_one() {
    // First run: the deployment starts, then the run is interrupted.
    let list = mock!(CodeDeploy::list_deployments).then_output(none_running);
    let create = mock!(CodeDeploy::create_deployment)
        .then_output(|| CreateDeploymentOutput::builder().deployment_id("d-1").build());
    let get = mock!(CodeDeploy::get_deployment).then_output(|| deployment(DeploymentStatus::InProgress));
    let target = mock!(CodeDeploy::get_deployment_target).then_output(|| weight(10.0));
    let cd = mock_client!(aws_sdk_codedeploy, RuleMode::MatchAny, [&list, &create, &get, &target]);
    let (ecs, _) = ecs_client();
    let kind = Adapter(Service::new(ecs).with_codedeploy(cd));
    let (ctx1, cancel, _events) = detached("canary", "eu-central-1", "web", "ecs.service", StepAction::Update);
    let interrupt = async {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        cancel();
    };
    let want = desired();
    let changed = ["task_definition".to_string()];
    let current = live();
    let (result, ()) = tokio::join!(kind.update(&ctx1, &current, &want, &changed), interrupt);
    assert_eq!(result.unwrap_err().code.as_deref(), Some("Interrupted"));
    assert_eq!(create.num_calls(), 1);

    // Second run: CodeDeploy still runs d-1, of this revision: followed.
    let list =
        mock!(CodeDeploy::list_deployments).then_output(|| ListDeploymentsOutput::builder().deployments("d-1").build());
    let create = mock!(CodeDeploy::create_deployment)
        .then_output(|| CreateDeploymentOutput::builder().deployment_id("d-9").build());
    let get = mock!(CodeDeploy::get_deployment)
        .sequence()
        .output(|| deployment(DeploymentStatus::InProgress))
        .output(|| deployment(DeploymentStatus::InProgress))
        .output(|| deployment(DeploymentStatus::Succeeded))
        .build();
    let target = mock!(CodeDeploy::get_deployment_target).then_output(|| weight(70.0));
    let cd = mock_client!(aws_sdk_codedeploy, RuleMode::MatchAny, [&list, &create, &get, &target]);
    let (ecs, update) = ecs_client();
    let kind = Adapter(Service::new(ecs).with_codedeploy(cd));
    let (ctx2, _cancel, mut events) = detached("canary", "eu-central-1", "web", "ecs.service", StepAction::Update);
    kind.update(&ctx2, &live(), &want, &changed).await.unwrap();
    assert_eq!(create.num_calls(), 0, "no second deployment");
    assert_eq!(update.num_calls(), 0);
    let seen = progress(&mut events);
    assert_eq!(seen[0], "following deployment d-1, started by an earlier run");
    assert!(seen.iter().any(|m| m == "deployment d-1: InProgress, 70% of traffic on the new task set"), "{seen:?}");
}
