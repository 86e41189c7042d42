//! `codebuild.project` with the CodeBuild client mocked by aws-smithy-mocks
//! (moto 5.2.5 has no UpdateProject, and never refuses a role):
//! - CreateProject refused while CodeBuild cannot yet assume the new service
//!   role ("CodeBuild is not authorized to perform: sts:AssumeRole on …",
//!   InvalidInputException) is retried until it succeeds, with progress;
//! - an in-place change (compute type SMALL → MEDIUM) is one UpdateProject
//!   that carries every managed field (tags change only through the tagger);
//! - the same change through the whole engine (spec → plan → executor →
//!   state): planned as an in-place update of `environment`, applied as
//!   exactly that UpdateProject, recorded in state, and planned as no change
//!   after.

use aws_sdk_codebuild::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_codebuild::operation::batch_get_projects::BatchGetProjectsOutput;
use aws_sdk_codebuild::operation::create_project::CreateProjectOutput;
use aws_sdk_codebuild::operation::update_project::UpdateProjectOutput;
use aws_sdk_codebuild::types::{
    ArtifactsType, ComputeType, EnvironmentType, EnvironmentVariable, EnvironmentVariableType, Project as CbProject,
    ProjectArtifacts, ProjectEnvironment, ProjectSource, SourceType, Tag,
};
use aws_sdk_codebuild::Client;
use aws_smithy_mocks::{create_mock_http_client, mock, MockResponseInterceptor, Rule, RuleMode};
use deployctl_aws::codebuild::project::{self, Project};
use deployctl_aws::kit::Adapter;
use deployctl_aws::CountCalls;
use deployctl_engine::{ApiCalls, Event, Observed, OpCtx, Props, ResourceKind, StepAction};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::Duration;

const ROLE: &str = "arn:aws:iam::123456789012:role/stock-build";

/// How CodeBuild refuses a role it cannot assume yet (awsJson 1.1 error).
const CANNOT_ASSUME: &str = r#"{"__type":"InvalidInputException","message":"CodeBuild is not authorized to perform: sts:AssumeRole on arn:aws:iam::123456789012:role/stock-build"}"#;

fn client(rules: &[&Rule], calls: &ApiCalls) -> Client {
    let mut mocks = MockResponseInterceptor::new().rule_mode(RuleMode::MatchAny);
    for r in rules {
        mocks = mocks.with_rule(r);
    }
    let conf = aws_sdk_codebuild::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("AKIDTEST", "secret", None, None, "test"))
        .http_client(create_mock_http_client())
        .interceptor(mocks)
        .interceptor(CountCalls(calls.clone()))
        .build();
    Client::from_conf(conf)
}

fn tags() -> BTreeMap<String, String> {
    BTreeMap::from([
        ("deployctl:stack".to_string(), "stock".to_string()),
        ("deployctl:resource".to_string(), "build".to_string()),
    ])
}

fn ctx(action: StepAction) -> (OpCtx, tokio::sync::mpsc::UnboundedReceiver<Event>) {
    let (mut ctx, _cancel, rx) = OpCtx::detached(
        "stock",
        "us-east-1",
        "build",
        "codebuild.project",
        action,
        tags(),
        "0123456789abcdef0123456789abcdef",
        Duration::from_secs(60),
    );
    // The role it passes was created in the same run.
    ctx.recent_dependencies = true;
    (ctx, rx)
}

fn desired(compute: &str) -> Props {
    json!({
        "service_role": ROLE,
        "source": {"type": "CODEPIPELINE", "buildspec": "buildspec.yml"},
        "artifacts": {"type": "CODEPIPELINE"},
        "environment": {
            "image": "aws/codebuild/standard:7.0",
            "compute_type": compute,
            "privileged_mode": true,
            "environment_variables": [{"name": "GITHUB_TOKEN", "value": "stock-dashboard/github-token:token", "type": "SECRETS_MANAGER"}],
        },
    })
    .as_object()
    .unwrap()
    .clone()
}

/// The project as AWS describes it.
fn project(compute: &str) -> CbProject {
    CbProject::builder()
        .name("stock-build")
        .arn("arn:aws:codebuild:us-east-1:123456789012:project/stock-build")
        .service_role(ROLE)
        .source(ProjectSource::builder().r#type(SourceType::Codepipeline).buildspec("buildspec.yml").build().unwrap())
        // AWS names CODEPIPELINE output after the project by itself.
        .artifacts(
            ProjectArtifacts::builder()
                .r#type(ArtifactsType::Codepipeline)
                .name("stock-build")
                .packaging(aws_sdk_codebuild::types::ArtifactPackaging::None)
                .build()
                .unwrap(),
        )
        .environment(
            ProjectEnvironment::builder()
                .r#type(EnvironmentType::LinuxContainer)
                .image("aws/codebuild/standard:7.0")
                .compute_type(ComputeType::from(compute))
                .privileged_mode(true)
                .image_pull_credentials_type(aws_sdk_codebuild::types::ImagePullCredentialsType::Codebuild)
                .environment_variables(
                    EnvironmentVariable::builder()
                        .name("GITHUB_TOKEN")
                        .value("stock-dashboard/github-token:token")
                        .r#type(EnvironmentVariableType::SecretsManager)
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap(),
        )
        .timeout_in_minutes(60)
        .queued_timeout_in_minutes(480)
        .encryption_key("arn:aws:kms:us-east-1:123456789012:alias/aws/s3")
        .tags(Tag::builder().key("deployctl:stack").value("stock").build())
        .tags(Tag::builder().key("deployctl:resource").value("build").build())
        .build()
}

fn assert_clean(desired: &Props, observed: &Observed) {
    use deployctl_engine::diff::{diff_properties, Want};
    let d = diff_properties(
        &project::SCHEMA,
        &|p| match desired.get(p.name) {
            Some(v) => Want::Value(v.clone()),
            None => Want::Unmanaged,
        },
        &observed.properties,
    );
    assert!(d.is_empty(), "{d:#?}");
}

#[tokio::test]
async fn create_is_retried_while_codebuild_cannot_assume_the_new_role() {
    let create = mock!(Client::create_project)
        .sequence()
        .http_status(400, Some(CANNOT_ASSUME.to_string()))
        .output(|| CreateProjectOutput::builder().project(project("BUILD_GENERAL1_SMALL")).build())
        .build();
    let get = mock!(Client::batch_get_projects)
        .match_requests(|r| r.names() == ["stock-build"])
        .then_output(|| BatchGetProjectsOutput::builder().projects(project("BUILD_GENERAL1_SMALL")).build());
    let calls = ApiCalls::new();
    let kind = Adapter(Project::new(client(&[&create, &get], &calls)));
    let (ctx, mut rx) = ctx(StepAction::Create);
    let want = desired("BUILD_GENERAL1_SMALL");
    let created = kind.create(&ctx, &want).await.unwrap();
    assert_eq!(create.num_calls(), 2, "refused once, then created");
    assert_eq!(created.id, "stock-build");
    assert_clean(&want, &created);
    let mut waits = Vec::new();
    while let Ok(e) = rx.try_recv() {
        if let Event::StepProgress { message, .. } = e {
            waits.push(message);
        }
    }
    assert_eq!(waits.len(), 1, "{waits:?}");
    assert!(
        waits[0].contains("creating codebuild.project.build (eventual consistency): waiting for IAM role to propagate"),
        "{waits:?}"
    );
}

#[tokio::test]
async fn a_compute_type_change_is_one_update_project_with_every_managed_field() {
    let update = mock!(Client::update_project)
        .match_requests(|r| {
            let env = r.environment().unwrap();
            r.name() == Some("stock-build")
                && env.compute_type() == &ComputeType::BuildGeneral1Medium
                && env.privileged_mode() == Some(true)
                && env.environment_variables()[0].r#type() == Some(&EnvironmentVariableType::SecretsManager)
                && r.service_role() == Some(ROLE)
                && r.timeout_in_minutes() == Some(60)
                && r.queued_timeout_in_minutes() == Some(480)
                && r.logs_config().and_then(|l| l.cloud_watch_logs()).map(|c| c.status().as_str()) == Some("ENABLED")
                && r.cache().map(|c| c.r#type().as_str()) == Some("NO_CACHE")
        })
        .then_output(|| UpdateProjectOutput::builder().project(project("BUILD_GENERAL1_MEDIUM")).build());
    let get = mock!(Client::batch_get_projects)
        .then_output(|| BatchGetProjectsOutput::builder().projects(project("BUILD_GENERAL1_MEDIUM")).build());
    let calls = ApiCalls::new();
    let kind = Adapter(Project::new(client(&[&update, &get], &calls)));
    let current = Adapter(Project::new(client(
        &[&mock!(Client::batch_get_projects)
            .then_output(|| BatchGetProjectsOutput::builder().projects(project("BUILD_GENERAL1_SMALL")).build())],
        &ApiCalls::new(),
    )))
    .read(&deployctl_engine::ReadCtx::new("stock", "us-east-1"), &["stock-build".into()])
    .await
    .unwrap()
    .remove(0);
    // AWS's own artifact name for CODEPIPELINE output reads back as unset.
    assert!(
        current.properties["artifacts"].get("name").is_none_or(Value::is_null),
        "{:?}",
        current.properties["artifacts"]
    );
    assert_clean(&desired("BUILD_GENERAL1_SMALL"), &current);

    let (ctx, _rx) = ctx(StepAction::Update);
    let want = desired("BUILD_GENERAL1_MEDIUM");
    let updated = kind.update(&ctx, &current, &want, &["environment".into()]).await.unwrap();
    assert_eq!(update.num_calls(), 1, "UpdateProject did not match the expected request");
    assert_eq!(updated.properties["environment"]["compute_type"], Value::from("BUILD_GENERAL1_MEDIUM"));
    assert_clean(&want, &updated);
    let snapshot = calls.snapshot();
    let n = |op: &str| snapshot.get(&("CodeBuild".to_string(), op.to_string())).map(|c| c.calls).unwrap_or(0);
    assert_eq!((n("UpdateProject"), n("BatchGetProjects")), (1, 0), "no read-back: {snapshot:?}");
}

/// The build project as a spec would give it.
fn build_spec(compute: &str) -> deployctl_spec::Stack {
    let text = format!(
        "stack: stock\nregion: us-east-1\nresources:\n  build:\n    type: codebuild.project\n    properties:\n      \
         service_role: {ROLE}\n      source: {{type: CODEPIPELINE, buildspec: buildspec.yml}}\n      artifacts: \
         {{type: CODEPIPELINE}}\n      environment:\n        image: aws/codebuild/standard:7.0\n        \
         compute_type: {compute}\n        privileged_mode: true\n        environment_variables:\n          - \
         {{name: GITHUB_TOKEN, value: \"stock-dashboard/github-token:token\", type: SECRETS_MANAGER}}\n"
    );
    deployctl_spec::load_str("build.yaml", &text, &Default::default(), &vec![&project::SCHEMA])
        .unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::test]
async fn a_compute_type_change_is_planned_in_place_applied_and_recorded_through_the_engine() {
    use deployctl_engine::{Action, EventSink, Kinds, Mode};
    use deployctl_state::{Backend, LocalBackend, ResourceState, State};
    use std::sync::Arc;

    // Live: SMALL until UpdateProject, MEDIUM after.
    let get = mock!(Client::batch_get_projects)
        .sequence()
        .output(|| BatchGetProjectsOutput::builder().projects(project("BUILD_GENERAL1_SMALL")).build())
        .output(|| BatchGetProjectsOutput::builder().projects(project("BUILD_GENERAL1_MEDIUM")).build())
        .repeatedly()
        .build();
    let update = mock!(Client::update_project)
        .match_requests(|r| {
            r.name() == Some("stock-build")
                && r.environment().map(|e| e.compute_type()) == Some(&ComputeType::BuildGeneral1Medium)
        })
        .then_output(|| UpdateProjectOutput::builder().project(project("BUILD_GENERAL1_MEDIUM")).build());
    let calls = ApiCalls::new();
    let kinds = Kinds::new(vec![Adapter::arc(Project::new(client(&[&get, &update], &calls)))]);

    // State as a first `up` left it.
    let dir = tempfile::tempdir().unwrap();
    let backend: Arc<dyn Backend> = Arc::new(LocalBackend::new(dir.path(), "stock"));
    let mut state = State::new("stock", "us-east-1");
    let mut rec = ResourceState::new("codebuild.project");
    rec.id = Some("stock-build".into());
    rec.properties = desired("BUILD_GENERAL1_SMALL");
    state.resources.insert("build".into(), rec);
    let version = backend.write(&state, None).await.unwrap();

    let stack = build_spec("BUILD_GENERAL1_MEDIUM");
    let (sink, _rx) = EventSink::new();
    let plan = deployctl_engine::plan(&stack, Some(&state), &kinds, Mode::Apply, &sink).await.unwrap();
    let rp = &plan.resources[0];
    assert_eq!(rp.action, Action::Update, "{rp:#?}");
    let fields: Vec<&str> = rp.changes.iter().map(|c| c.field.as_str()).collect();
    assert_eq!(fields, ["environment"], "{rp:#?}");
    assert!(!rp.changes[0].forces_replacement);

    let report =
        crate::support::engine::apply(&kinds, backend.clone(), &state, version, &plan, Duration::from_secs(60)).await;
    assert!(report.ok(), "{:?}", report.failed);
    assert_eq!(update.num_calls(), 1, "exactly one UpdateProject, with the new compute type");

    let after = backend.read().await.unwrap().expect("state").state;
    let build = &after.resources["build"];
    assert_eq!(build.properties["environment"]["compute_type"], json!("BUILD_GENERAL1_MEDIUM"));
    assert!(build.pending.is_none(), "{build:?}");
    let again = deployctl_engine::plan(&stack, Some(&after), &kinds, Mode::Apply, &sink).await.unwrap();
    assert_eq!(again.resources[0].action, Action::NoOp, "{:#?}", again.resources[0]);
}
