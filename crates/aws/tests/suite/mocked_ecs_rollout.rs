//! `ecs.service` rollouts against a mocked ECS client: what moto cannot
//! produce (moto's rollouts never fail and never progress, and it ignores
//! ECS's own deployment strategies). The client is built by hand, without
//! retries: a mock HTTP client and the aws-smithy-mocks interceptor
//! answering from rules.
//!
//! - a deployment the circuit breaker fails and rolls back makes `update`
//!   fail, naming the service and the revision it fell back to;
//! - a service that completes on another revision than the one asked for is
//!   reported as rolled back;
//! - a rollout that never completes times out with a clear message, after
//!   progress events that show the rollout state and the running count;
//! - an "unable to assume role" refusal of CreateService (IAM propagation) is
//!   retried, then the create succeeds;
//! - ECS's own linear blue/green deployment: the strategy, its step, the
//!   second target group and the listener rule go in CreateService, and the
//!   rollout is followed to COMPLETED.

use aws_sdk_ecs::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_ecs::operation::create_service::{CreateServiceError, CreateServiceOutput};
use aws_sdk_ecs::operation::describe_services::DescribeServicesOutput;
use aws_sdk_ecs::operation::update_service::UpdateServiceOutput;
use aws_sdk_ecs::types::{Deployment, DeploymentRolloutState, LaunchType, SchedulingStrategy, Service as EcsService};
use aws_sdk_ecs::Client;
use aws_smithy_mocks::{create_mock_http_client, mock, MockResponseInterceptor, Rule, RuleMode};
use aws_smithy_types::error::ErrorMetadata;
use aws_smithy_types::retry::RetryConfig;
use deployctl_aws::ecs::service::Service;
use deployctl_aws::kit::Adapter;
use deployctl_engine::{Event, Observed, OpCtx, Props, ResourceKind, StepAction};
use serde_json::json;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

const STACK: &str = "shop";
const ADDRESS: &str = "web";
const CLUSTER: &str = "arn:aws:ecs:us-east-1:123456789012:cluster/shop";
const SERVICE: &str = "arn:aws:ecs:us-east-1:123456789012:service/shop/web";
const TD6: &str = "arn:aws:ecs:us-east-1:123456789012:task-definition/web:6";
const TD7: &str = "arn:aws:ecs:us-east-1:123456789012:task-definition/web:7";
const REASON: &str = "ECS deployment circuit breaker: tasks failed to start.";

/// An ECS client answering from `rules`, without retries.
fn client(rules: &[&Rule]) -> Client {
    let mut mocks = MockResponseInterceptor::new().rule_mode(RuleMode::MatchAny);
    for r in rules {
        mocks = mocks.with_rule(r);
    }
    let conf = aws_sdk_ecs::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("AKIDTEST", "secret", None, None, "test"))
        .http_client(create_mock_http_client())
        .interceptor(mocks)
        .retry_config(RetryConfig::disabled())
        .build();
    Client::from_conf(conf)
}

fn ctx(action: StepAction, timeout: Duration) -> (OpCtx, tokio::sync::mpsc::UnboundedReceiver<Event>) {
    let tags = BTreeMap::from([
        ("deployctl:stack".to_string(), STACK.to_string()),
        ("deployctl:resource".to_string(), ADDRESS.to_string()),
    ]);
    let (mut ctx, _cancel, rx) = OpCtx::detached(
        STACK,
        "us-east-1",
        ADDRESS,
        "ecs.service",
        action,
        tags,
        "0123456789abcdef0123456789abcdef",
        timeout,
    );
    // The role it passes was created in the same run.
    ctx.recent_dependencies = true;
    (ctx, rx)
}

fn desired(task_definition: &str) -> Props {
    json!({
        "service_name": "web",
        "cluster": CLUSTER,
        "task_definition": task_definition,
        "desired_count": 2,
        "launch_type": "FARGATE",
    })
    .as_object()
    .unwrap()
    .clone()
}

fn deployment(id: &str, status: &str, td: &str, state: DeploymentRolloutState, running: i32) -> Deployment {
    let reason = match state {
        DeploymentRolloutState::Failed => REASON.to_string(),
        _ => format!("ECS deployment {id} {}.", state.as_str().to_lowercase()),
    };
    Deployment::builder()
        .id(id)
        .status(status)
        .task_definition(td)
        .desired_count(2)
        .running_count(running)
        .rollout_state(state)
        .rollout_state_reason(reason)
        .build()
}

/// The service as ECS describes it: running `td`, with `deployments`.
fn service(td: &str, running: i32, deployments: Vec<Deployment>) -> EcsService {
    EcsService::builder()
        .service_arn(SERVICE)
        .service_name("web")
        .cluster_arn(CLUSTER)
        .status("ACTIVE")
        .desired_count(2)
        .running_count(running)
        .launch_type(LaunchType::Fargate)
        .platform_version("LATEST")
        .scheduling_strategy(SchedulingStrategy::Replica)
        .task_definition(td)
        .set_deployments(Some(deployments))
        .build()
}

fn described(s: EcsService) -> DescribeServicesOutput {
    DescribeServicesOutput::builder().services(s).build()
}

/// The service as recorded: running revision 6.
fn current() -> Observed {
    let mut properties = desired(TD6);
    properties.insert("cluster".into(), json!(CLUSTER));
    let mut attributes = Props::new();
    attributes.insert("id".into(), json!(SERVICE));
    attributes.insert("cluster_arn".into(), json!(CLUSTER));
    Observed { id: SERVICE.into(), properties, tags: BTreeMap::new(), attributes }
}

fn progress(rx: &mut tokio::sync::mpsc::UnboundedReceiver<Event>) -> Vec<String> {
    let mut out = Vec::new();
    while let Ok(e) = rx.try_recv() {
        if let Event::StepProgress { message, .. } = e {
            out.push(message);
        }
    }
    out
}

#[tokio::test]
async fn a_deployment_the_circuit_breaker_rolls_back_fails_the_update_naming_the_revision_it_fell_back_to() {
    // UpdateService starts deployment 2 (revision 7) next to deployment 1.
    let update = mock!(Client::update_service)
        .match_requests(|r| r.task_definition() == Some(TD7) && r.service() == Some(SERVICE))
        .then_output(|| {
            UpdateServiceOutput::builder()
                .service(service(
                    TD7,
                    2,
                    vec![
                        deployment("ecs-svc/2", "PRIMARY", TD7, DeploymentRolloutState::InProgress, 0),
                        deployment("ecs-svc/1", "ACTIVE", TD6, DeploymentRolloutState::Completed, 2),
                    ],
                ))
                .build()
        });
    // First poll: in progress; second: the breaker failed it and a rollback
    // deployment (revision 6) is now PRIMARY.
    let describe = mock!(Client::describe_services)
        .sequence()
        .output(|| {
            described(service(
                TD7,
                1,
                vec![
                    deployment("ecs-svc/2", "PRIMARY", TD7, DeploymentRolloutState::InProgress, 0),
                    deployment("ecs-svc/1", "ACTIVE", TD6, DeploymentRolloutState::Completed, 1),
                ],
            ))
        })
        .output(|| {
            described(service(
                TD6,
                2,
                vec![
                    deployment("ecs-svc/3", "PRIMARY", TD6, DeploymentRolloutState::InProgress, 2),
                    deployment("ecs-svc/2", "ACTIVE", TD7, DeploymentRolloutState::Failed, 0),
                ],
            ))
        })
        .build();
    let kind = Adapter(Service::new(client(&[&update, &describe])));
    let (ctx, mut rx) = ctx(StepAction::Update, Duration::from_secs(30));

    let err = kind.update(&ctx, &current(), &desired(TD7), &["task_definition".to_string()]).await.unwrap_err();

    assert_eq!(err.code.as_deref(), Some("DeploymentFailed"), "{err:?}");
    assert_eq!(
        err.message,
        format!("deployment of web:7 to service web failed and the circuit breaker rolled the service back to web:6: {REASON}")
    );
    assert!(err.hint.as_deref().is_some_and(|h| h.contains(TD6)), "{err:?}");
    assert_eq!(update.num_calls(), 1);
    assert_eq!(describe.num_calls(), 2);
    assert_eq!(progress(&mut rx), ["the rollout of service web: IN_PROGRESS, 1/2 running"]);
}

#[tokio::test]
async fn a_rollout_that_completes_on_another_revision_is_reported_as_rolled_back() {
    let update = mock!(Client::update_service).then_output(|| {
        UpdateServiceOutput::builder()
            .service(service(
                TD7,
                2,
                vec![deployment("ecs-svc/2", "PRIMARY", TD7, DeploymentRolloutState::InProgress, 0)],
            ))
            .build()
    });
    // The failed deployment is already gone; the rollback completed.
    let describe = mock!(Client::describe_services).then_output(|| {
        described(service(TD6, 2, vec![deployment("ecs-svc/3", "PRIMARY", TD6, DeploymentRolloutState::Completed, 2)]))
    });
    let kind = Adapter(Service::new(client(&[&update, &describe])));
    let (ctx, _rx) = ctx(StepAction::Update, Duration::from_secs(30));

    let err = kind.update(&ctx, &current(), &desired(TD7), &["task_definition".to_string()]).await.unwrap_err();

    assert_eq!(err.code.as_deref(), Some("RolledBack"), "{err:?}");
    assert!(err.message.contains("service web runs web:6, not the requested web:7"), "{err:?}");
}

#[tokio::test]
async fn a_rollout_that_never_completes_times_out_with_its_last_state() {
    let create = mock!(Client::create_service).then_output(|| {
        CreateServiceOutput::builder()
            .service(service(
                TD7,
                0,
                vec![deployment("ecs-svc/1", "PRIMARY", TD7, DeploymentRolloutState::InProgress, 0)],
            ))
            .build()
    });
    let describe = mock!(Client::describe_services)
        .sequence()
        .output(|| {
            described(service(
                TD7,
                1,
                vec![deployment("ecs-svc/1", "PRIMARY", TD7, DeploymentRolloutState::InProgress, 1)],
            ))
        })
        .repeatedly()
        .build();
    let kind = Adapter(Service::new(client(&[&create, &describe])));
    let (ctx, mut rx) = ctx(StepAction::Create, Duration::from_secs(2));

    let started = Instant::now();
    let err = kind.create(&ctx, &desired(TD7)).await.unwrap_err();

    assert!(started.elapsed() >= Duration::from_secs(2), "gave up early: {:?}", started.elapsed());
    assert!(started.elapsed() < Duration::from_secs(8), "waited too long: {:?}", started.elapsed());
    assert_eq!(err.code.as_deref(), Some("Timeout"), "{err:?}");
    assert_eq!(
        err.message,
        "timed out after 2s waiting for the rollout of service web (last status: IN_PROGRESS, 1/2 running)"
    );
    assert!(err.hint.as_deref().is_some_and(|h| h.contains("timeouts")), "{err:?}");
    assert_eq!(create.num_calls(), 1);
    let seen = progress(&mut rx);
    assert!(
        !seen.is_empty() && seen.iter().all(|m| m == "the rollout of service web: IN_PROGRESS, 1/2 running"),
        "{seen:?}"
    );
}

#[tokio::test]
async fn create_service_refused_while_the_role_propagates_is_retried_then_succeeds() {
    let create = mock!(Client::create_service)
        .sequence()
        .error(|| {
            CreateServiceError::generic(
                ErrorMetadata::builder()
                    .code("InvalidParameterException")
                    .message(
                        "Unable to assume role and validate the specified targetGroupArn. Please verify that the ECS \
                         service role being passed has the proper permissions.",
                    )
                    .build(),
            )
        })
        .output(|| {
            CreateServiceOutput::builder()
                .service(service(
                    TD7,
                    0,
                    vec![deployment("ecs-svc/1", "PRIMARY", TD7, DeploymentRolloutState::InProgress, 0)],
                ))
                .build()
        })
        .build();
    let describe = mock!(Client::describe_services).then_output(|| {
        described(service(TD7, 2, vec![deployment("ecs-svc/1", "PRIMARY", TD7, DeploymentRolloutState::Completed, 2)]))
    });
    let kind = Adapter(Service::new(client(&[&create, &describe])));
    let (ctx, mut rx) = ctx(StepAction::Create, Duration::from_secs(60));

    let o = kind.create(&ctx, &desired(TD7)).await.unwrap();

    assert_eq!(create.num_calls(), 2, "refused once, then created");
    assert_eq!(o.id, SERVICE);
    assert_eq!(o.properties["task_definition"], json!(TD7));
    assert_eq!(o.attributes["cluster_arn"], json!(CLUSTER));
    let seen = progress(&mut rx);
    assert!(seen.iter().any(|m| m.contains("creating ecs.service.web") && m.contains("IAM role")), "{seen:?}");
}

fn linear_configuration() -> aws_sdk_ecs::types::DeploymentConfiguration {
    use aws_sdk_ecs::types::{DeploymentAlarms, DeploymentCircuitBreaker, DeploymentStrategy, LinearConfiguration};
    aws_sdk_ecs::types::DeploymentConfiguration::builder()
        .maximum_percent(200)
        .minimum_healthy_percent(100)
        .deployment_circuit_breaker(DeploymentCircuitBreaker::builder().enable(false).rollback(false).build())
        .strategy(DeploymentStrategy::Linear)
        .bake_time_in_minutes(5)
        .linear_configuration(LinearConfiguration::builder().step_percent(10.0).step_bake_time_in_minutes(1).build())
        .alarms(
            DeploymentAlarms::builder().alarm_names("shop-success-rate").enable(true).rollback(true).build().unwrap(),
        )
        .build()
}

#[tokio::test]
async fn a_linear_blue_green_service_of_ecs_sends_its_strategy_and_is_followed_to_completion() {
    const BLUE: &str = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/blue/1";
    const GREEN: &str = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/green/2";
    const RULE: &str = "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener-rule/app/shop/1/2/3";
    let create = mock!(Client::create_service)
        .match_requests(|r| {
            let d = r.deployment_configuration();
            let linear = d.and_then(|d| d.linear_configuration());
            let lb = r.load_balancers().first().and_then(|l| l.advanced_configuration());
            d.and_then(|d| d.strategy()).map(|s| s.as_str()) == Some("LINEAR")
                && linear.and_then(|l| l.step_percent()) == Some(10.0)
                && linear.and_then(|l| l.step_bake_time_in_minutes()) == Some(1)
                && d.and_then(|d| d.bake_time_in_minutes()) == Some(5)
                && d.and_then(|d| d.alarms()).is_some_and(|a| a.alarm_names() == ["shop-success-rate"] && a.rollback())
                && lb.and_then(|a| a.alternate_target_group_arn()) == Some(GREEN)
                && lb.and_then(|a| a.production_listener_rule()) == Some(RULE)
        })
        .then_output(|| {
            // AWS answers with the configuration it took.
            let mut created =
                service(TD7, 0, vec![deployment("ecs-svc/1", "PRIMARY", TD7, DeploymentRolloutState::InProgress, 0)]);
            created.deployment_configuration = Some(linear_configuration());
            CreateServiceOutput::builder().service(created).build()
        });
    let describe = mock!(Client::describe_services)
        .sequence()
        .output(|| {
            described(service(
                TD7,
                1,
                vec![deployment("ecs-svc/1", "PRIMARY", TD7, DeploymentRolloutState::InProgress, 1)],
            ))
        })
        .output(|| {
            described(service(
                TD7,
                2,
                vec![deployment("ecs-svc/1", "PRIMARY", TD7, DeploymentRolloutState::Completed, 2)],
            ))
        })
        .build();
    let kind = Adapter(Service::new(client(&[&create, &describe])));
    let (ctx, mut rx) = ctx(StepAction::Create, Duration::from_secs(30));
    let mut want = desired(TD7);
    want.insert(
        "load_balancers".into(),
        json!([{"target_group_arn": BLUE, "container_name": "web", "container_port": 8080,
                "advanced": {"alternate_target_group_arn": GREEN, "production_listener_rule": RULE,
                             "role_arn": "arn:aws:iam::123456789012:role/ecs-load-balancers"}}]),
    );
    want.insert(
        "deployment_configuration".into(),
        json!({"strategy": "LINEAR", "linear": {"step_percent": 10, "step_bake_time_in_minutes": 1},
               "bake_time_in_minutes": 5, "alarms": {"alarm_names": ["shop-success-rate"]}}),
    );
    kind.create(&ctx, &want).await.unwrap();
    assert_eq!(create.num_calls(), 1, "the strategy reached CreateService");
    assert_eq!(progress(&mut rx), ["the rollout of service web: IN_PROGRESS, 1/2 running"]);
}
