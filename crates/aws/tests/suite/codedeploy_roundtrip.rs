//! `codedeploy.application` and `codedeploy.deployment_group`: created with
//! tags on a moto server of the test's own (through the local endpoint's
//! CBOR front, as the SDK speaks RPC v2 CBOR to CodeDeploy) and read back
//! clean (but for the alarms, which moto does not answer); then what moto 5.2.5 answers 500 to, an update of the group and
//! the delete of both, against mocked clients.

use crate::support::kit::{assert_clean, changes, op, props, read_ctx, read_one};
use crate::support::moto::Moto;
use aws_sdk_codedeploy::operation::delete_application::DeleteApplicationOutput;
use aws_sdk_codedeploy::operation::delete_deployment_group::DeleteDeploymentGroupOutput;
use aws_sdk_codedeploy::operation::update_deployment_group::UpdateDeploymentGroupOutput;
use aws_sdk_codedeploy::types::DeploymentType;
use aws_sdk_codedeploy::Client;
use aws_smithy_mocks::{mock, mock_client, RuleMode};
use deployctl_aws::codedeploy::application::{Application, SCHEMA as APP};
use deployctl_aws::codedeploy::deployment_group::{DeploymentGroup, SCHEMA as GROUP};
use deployctl_aws::kit::Adapter;
use deployctl_engine::{Observed, Props, ResourceKind, StepAction};
use serde_json::json;

const STACK: &str = "canary";
const REGION: &str = "us-east-1";

fn group(config: &str) -> Props {
    props(json!({
        "application_name": "node-canary",
        "deployment_group_name": "web",
        "service_role_arn": "arn:aws:iam::123456789012:role/codedeploy",
        "deployment_config_name": config,
        "ecs_service": {"cluster_name": "canary", "service_name": "web"},
        "target_groups": ["canary-blue", "canary-green"],
        "prod_listener_arn": "arn:aws:elasticloadbalancing:eu-central-1:123456789012:listener/app/canary/1/80",
        "test_listener_arn": "arn:aws:elasticloadbalancing:eu-central-1:123456789012:listener/app/canary/1/8080",
        "alarms": ["canary-success-rate"],
        "auto_rollback": {"enabled": true, "events": ["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM"]},
        "termination_wait_time_in_minutes": 5,
    }))
}

#[tokio::test]
async fn an_ecs_application_and_blue_green_group_are_created_and_read_back_clean_on_moto() {
    let moto = Moto::start();
    let aws = moto.aws().await;
    let rc = read_ctx(STACK, REGION);
    let apps = Adapter(Application::new(aws.codedeploy(), aws.ec2(), Default::default()));
    let want_app = props(json!({"application_name": "node-canary"}));
    let ctx = op(STACK, REGION, "deploy_app", APP.type_name, StepAction::Create, &[("team", "web")]);
    let app = apps.create(&ctx, &want_app).await.unwrap();
    let live = read_one(&apps, &rc, "node-canary").await;
    assert_clean(&APP, &want_app, &live);
    assert_eq!(live.tags.get("team").map(String::as_str), Some("web"));
    assert_eq!(live.attributes, app.attributes, "create returns what a read sees");

    let groups = Adapter(DeploymentGroup::new(aws.codedeploy()));
    let want = group("CodeDeployDefault.ECSLinear10PercentEvery1Minutes");
    let ctx = op(STACK, REGION, "deploy_group", GROUP.type_name, StepAction::Create, &[]);
    let created = groups.create(&ctx, &want).await.unwrap();
    assert_eq!(created.id, "node-canary:web");
    let live = read_one(&groups, &rc, "node-canary:web").await;
    // moto 5.2.5 answers every group's alarmConfiguration as `{}` (AWS
    // returns it): the alarms read as none, and the rest is clean.
    assert_eq!(changes(&GROUP, &want, &live), ["alarms"]);
    let mut as_moto_answers = want.clone();
    as_moto_answers.insert("alarms".into(), json!([]));
    assert_clean(&GROUP, &as_moto_answers, &live);
    assert_eq!(
        live.attributes["arn"],
        json!("arn:aws:codedeploy:us-east-1:123456789012:deploymentgroup:node-canary/web")
    );
    let raw = aws.codedeploy().get_deployment_group().application_name("node-canary").deployment_group_name("web");
    let info = raw.send().await.unwrap().deployment_group_info.unwrap();
    let style = info.deployment_style().unwrap();
    assert_eq!(style.deployment_type(), Some(&DeploymentType::BlueGreen));
    assert_eq!(style.deployment_option().map(|o| o.as_str()), Some("WITH_TRAFFIC_CONTROL"));
}

#[tokio::test]
async fn a_group_changes_in_place_and_both_delete_where_moto_answers_500() {
    let update = mock!(Client::update_deployment_group)
        .match_requests(|r| {
            r.current_deployment_group_name() == Some("web")
                && r.deployment_config_name() == Some("CodeDeployDefault.ECSCanary10Percent5Minutes")
                && r.alarm_configuration().is_some_and(|a| a.enabled() && a.alarms().len() == 1)
        })
        .then_output(|| UpdateDeploymentGroupOutput::builder().build());
    let delete_group = mock!(Client::delete_deployment_group)
        .match_requests(|r| r.application_name() == Some("node-canary") && r.deployment_group_name() == Some("web"))
        .then_output(|| DeleteDeploymentGroupOutput::builder().build());
    let delete_app = mock!(Client::delete_application)
        .match_requests(|r| r.application_name() == Some("node-canary"))
        .then_output(|| DeleteApplicationOutput::builder().build());
    let client = mock_client!(aws_sdk_codedeploy, RuleMode::MatchAny, [&update, &delete_group, &delete_app]);
    let ec2 = aws_sdk_ec2::Client::from_conf(aws_sdk_ec2::Config::builder().behavior_version_latest().build());

    let groups = Adapter(DeploymentGroup::new(client.clone()));
    let live = Observed {
        id: "node-canary:web".into(),
        properties: group("CodeDeployDefault.ECSLinear10PercentEvery1Minutes"),
        ..Default::default()
    };
    let ctx = op(STACK, REGION, "deploy_group", GROUP.type_name, StepAction::Update, &[]);
    let changed = ["deployment_config_name".to_string()];
    groups.update(&ctx, &live, &group("CodeDeployDefault.ECSCanary10Percent5Minutes"), &changed).await.unwrap();
    assert_eq!(update.num_calls(), 1);

    let ctx = op(STACK, REGION, "deploy_group", GROUP.type_name, StepAction::Delete, &[]);
    groups.delete(&ctx, &live, &Default::default()).await.unwrap();
    let apps = Adapter(Application::new(client, ec2, Default::default()));
    let app = Observed { id: "node-canary".into(), ..Default::default() };
    apps.delete(&ctx, &app, &Default::default()).await.unwrap();
    assert_eq!((delete_group.num_calls(), delete_app.num_calls()), (1, 1));
}
