//! Round trips of `codebuild.project` and `codepipeline.pipeline` against a
//! moto server of the test's own, in the shapes of seeds 000 (GitHub →
//! CodeBuild → ECS, the GitHub token a secret) and 002 (CodeCommit → two
//! CodeBuild projects → ECS and S3, five stages).
//!
//! For each kind: create through the kind, read back and diff clean against
//! the spec, update in place and check through the raw AWS API, adopt by
//! name, delete (twice) and read nothing.
//!
//! What moto 5.2.5 does that matters here:
//! - CodeBuild has no UpdateProject (moto answers 500), so the project's
//!   in-place update is checked by the diff it plans here and by
//!   mocked_codebuild_propagation.rs, which drives UpdateProject against a
//!   mocked client.
//! - CreateProject demands a `location` for every source and artifacts type
//!   but NO_ARTIFACTS (AWS needs none for CODEPIPELINE), and stores only what
//!   it is given (timeouts 0 when unsent): the kind sends every default, and
//!   the specs here give CODEPIPELINE sources and artifacts a location.
//! - CreatePipeline checks that the role exists and trusts
//!   `codepipeline.amazonaws.com` (a plain string `Principal.Service`),
//!   refusing with AWS's "not authorized to perform AssumeRole" otherwise,
//!   which lets the IAM propagation retry run for real. GetPipeline returns a
//!   GitHub token in the clear (AWS masks it): the kind drops it from reads
//!   either way.

use deployctl_aws::codebuild::project::{self, Project};
use deployctl_aws::codepipeline::pipeline::{self, Pipeline};
use deployctl_aws::kit::Adapter;
use deployctl_aws::Aws;
use deployctl_engine::diff::{diff_properties, FieldDiff, Want};
use deployctl_engine::resolve::Known;
use deployctl_engine::{ApiCalls, Event, Observed, OpCtx, Props, ReadCtx, ResourceKind, StepAction};
use deployctl_spec::{KindSchema, Type, Update};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::Duration;

const REGION: &str = "us-east-1";
const STACK: &str = "stock";
const ACCOUNT: &str = "123456789012";
const LINEAGE: &str = "test-lineage";

use crate::support::kit::{props, read_ctx};
use crate::support::moto::Moto;

fn tags(address: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("deployctl:stack".to_string(), STACK.to_string()),
        ("deployctl:resource".to_string(), address.to_string()),
    ])
}

fn op_with(
    schema: &KindSchema,
    address: &str,
    action: StepAction,
    tags: BTreeMap<String, String>,
    timeout: Duration,
) -> (OpCtx, tokio::sync::mpsc::UnboundedReceiver<Event>) {
    let (ctx, _cancel, rx) = OpCtx::detached(
        STACK,
        REGION,
        address,
        schema.type_name,
        action,
        tags,
        "0123456789abcdef0123456789abcdef",
        timeout,
    );
    (ctx, rx)
}

fn op(
    schema: &KindSchema,
    address: &str,
    action: StepAction,
    tags: BTreeMap<String, String>,
) -> (OpCtx, tokio::sync::mpsc::UnboundedReceiver<Event>) {
    op_with(schema, address, action, tags, Duration::from_secs(60))
}

/// The diff the planner would show after an apply of `recorded` (what state
/// records of the spec: secrets as fingerprints).
fn diff(schema: &KindSchema, recorded: &Props, observed: &Observed) -> Vec<FieldDiff> {
    diff_since(schema, recorded, observed, recorded)
}

/// The diff the planner would show for `desired` (as recorded: secrets as
/// fingerprints) when state holds `state`: write-only (secret) properties
/// are compared against what state recorded, as the planner does.
fn diff_since(schema: &KindSchema, desired: &Props, observed: &Observed, state: &Props) -> Vec<FieldDiff> {
    let mut live = observed.properties.clone();
    for p in schema.properties.iter().filter(|p| matches!(p.ty, Type::Secret)) {
        if let Some(v) = state.get(p.name) {
            live.insert(p.name.to_string(), v.clone());
        }
    }
    diff_properties(
        schema,
        &|p| match desired.get(p.name) {
            Some(v) => Want::Value(v.clone()),
            None => Want::Unmanaged,
        },
        &live,
    )
}

fn assert_clean(schema: &KindSchema, desired: &Props, observed: &Observed) {
    let d = diff(schema, desired, observed);
    assert!(d.is_empty(), "{} does not diff clean: {d:#?}\nobserved: {:#?}", schema.type_name, observed.properties);
}

/// A spec with one resource, loaded and evaluated as the engine does for an
/// apply: the plaintext for the API call and the values state records.
fn evaluate(resource_yaml: &str) -> (Props, Props) {
    let mut text = format!("stack: {STACK}\nregion: {REGION}\nresources:\n");
    for line in resource_yaml.lines() {
        text.push_str("  ");
        text.push_str(line);
        text.push('\n');
    }
    let reg = deployctl_aws::schemas();
    let stack = deployctl_spec::load_str("stack.yaml", &text, &Default::default(), &reg)
        .unwrap_or_else(|d| panic!("invalid spec:\n{d}\n---\n{text}"));
    let r = &stack.resources[0];
    let known = Known::default();
    let (mut plain, mut recorded) = (Props::new(), Props::new());
    for (name, e) in &r.properties {
        let (p, rec) = known.eval_for_apply(e, LINEAGE).unwrap();
        plain.insert(name.clone(), p);
        recorded.insert(name.clone(), rec);
    }
    (plain, recorded)
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

async fn create_role(aws: &Aws, name: &str, service: &str) -> String {
    let trust = json!({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}],
    });
    let out =
        aws.iam().create_role().role_name(name).assume_role_policy_document(trust.to_string()).send().await.unwrap();
    out.role().unwrap().arn().to_string()
}

/// Seed 000's buildspec: build the image, push it, write imagedefinitions.json.
const BUILDSPEC_000: &str = "version: 0.2\n\nphases:\n  pre_build:\n    commands:\n      - aws ecr get-login-password --region $AWS_REGION | docker login --username AWS --password-stdin $ECR_REGISTRY\n      - COMMIT_HASH=$(echo $CODEBUILD_RESOLVED_SOURCE_VERSION | cut -c 1-7)\n      - IMAGE_TAG=${COMMIT_HASH:=latest}\n  build:\n    commands:\n      - pip install -r requirements.txt\n      - pytest tests/ --verbose\n      - docker build -t $ECR_REPOSITORY:latest .\n      - docker tag $ECR_REPOSITORY:latest $ECR_REGISTRY/$ECR_REPOSITORY:$IMAGE_TAG\n  post_build:\n    commands:\n      - docker push $ECR_REGISTRY/$ECR_REPOSITORY:$IMAGE_TAG\n      - printf '[{\"name\":\"stock-dashboard\",\"imageUri\":\"%s\"}]' $ECR_REGISTRY/$ECR_REPOSITORY:$IMAGE_TAG > imagedefinitions.json\n\nartifacts:\n  files:\n    - imagedefinitions.json\n";

fn build_project_000(role: &str) -> Props {
    props(json!({
        "description": "Stock dashboard: test, build and push the image, write imagedefinitions.json",
        "service_role": role,
        // moto requires a location even for CODEPIPELINE sources and artifacts.
        "source": {"type": "CODEPIPELINE", "location": "stock-dashboard", "buildspec": BUILDSPEC_000},
        "artifacts": {"type": "CODEPIPELINE", "location": "stock-dashboard"},
        "environment": {
            "image": "aws/codebuild/standard:7.0",
            "compute_type": "BUILD_GENERAL1_SMALL",
            "privileged_mode": true,
            "environment_variables": [
                {"name": "AWS_REGION", "value": REGION},
                {"name": "ECR_REGISTRY", "value": format!("{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com")},
                {"name": "ECR_REPOSITORY", "value": "stock-market-dashboard", "type": "PLAINTEXT"},
                {"name": "ALPHA_VANTAGE_API_KEY", "value": "stock-dashboard/api-key", "type": "SECRETS_MANAGER"},
            ],
        },
        "logs_config": {"cloud_watch_logs": {"group_name": "/codebuild/stock-dashboard"}},
        "timeout_in_minutes": 30,
    }))
}

#[tokio::test]
async fn build_project_of_seed_000_round_trips() {
    let moto = Moto::start();
    let aws = moto.aws().await;
    let role = create_role(&aws, "stock-build", "codebuild.amazonaws.com").await;
    let kind = Adapter(Project::new(aws.codebuild()));
    let desired = build_project_000(&role);

    let (ctx, _rx) = op(&project::SCHEMA, "build", StepAction::Create, tags("build"));
    let created = kind.create(&ctx, &desired).await.unwrap();
    assert_eq!(created.id, "stock-build", "the default name is <stack>-<address>");
    assert_eq!(created.attributes["arn"], json!(format!("arn:aws:codebuild:{REGION}:{ACCOUNT}:project/stock-build")));
    assert_eq!(created.tags, tags("build"));
    assert_clean(&project::SCHEMA, &desired, &created);

    let read = kind.read(&read_ctx(STACK, REGION), std::slice::from_ref(&created.id)).await.unwrap();
    assert_eq!(read.len(), 1);
    assert_clean(&project::SCHEMA, &desired, &read[0]);

    // What AWS was sent, through the raw API: every default explicit.
    let raw = aws.codebuild().batch_get_projects().names("stock-build").send().await.unwrap();
    let p = &raw.projects()[0];
    let env = p.environment().unwrap();
    assert_eq!(env.compute_type().as_str(), "BUILD_GENERAL1_SMALL");
    assert_eq!(env.privileged_mode(), Some(true));
    assert_eq!(env.image_pull_credentials_type().map(|t| t.as_str()), Some("CODEBUILD"));
    let secret = env.environment_variables().iter().find(|v| v.name() == "ALPHA_VANTAGE_API_KEY").unwrap();
    assert_eq!(secret.r#type().map(|t| t.as_str()), Some("SECRETS_MANAGER"));
    assert_eq!(secret.value(), "stock-dashboard/api-key", "a reference, never the secret");
    assert_eq!((p.timeout_in_minutes(), p.queued_timeout_in_minutes()), (Some(30), Some(480)));
    assert_eq!(p.source().unwrap().buildspec(), Some(BUILDSPEC_000), "the inline buildspec is stored as written");
    assert_eq!(p.logs_config().unwrap().s3_logs().unwrap().status().as_str(), "DISABLED");

    // SMALL → MEDIUM is one in-place change of `environment` (moto has no
    // UpdateProject: mocked_codebuild_propagation.rs drives the update).
    let mut medium = desired.clone();
    medium["environment"]["compute_type"] = json!("BUILD_GENERAL1_MEDIUM");
    let d = diff(&project::SCHEMA, &medium, &read[0]);
    assert_eq!(d.len(), 1, "{d:#?}");
    assert_eq!((d[0].field.as_str(), d[0].update), ("environment", Update::InPlace));
    // So is a buildspec given by path instead of inline.
    let mut by_path = desired.clone();
    by_path["source"]["buildspec"] = json!("buildspec.yml");
    let d = diff(&project::SCHEMA, &by_path, &read[0]);
    assert_eq!(d.iter().map(|d| (d.field.as_str(), d.update)).collect::<Vec<_>>(), [("source", Update::InPlace)]);
    // A new name replaces.
    let mut renamed = desired.clone();
    renamed.insert("name".into(), json!("stock-build-2"));
    let d = diff(&project::SCHEMA, &renamed, &read[0]);
    assert_eq!(d.iter().map(|d| (d.field.as_str(), d.update)).collect::<Vec<_>>(), [("name", Update::Replace)]);

    // Adoption by the default name, only with this stack's and address's tags.
    let found = kind.find_existing(&read_ctx(STACK, REGION), &[("build".into(), desired.clone())]).await.unwrap();
    assert_eq!(found.iter().map(|(a, o)| (a.as_str(), o.id.as_str())).collect::<Vec<_>>(), [("build", "stock-build")]);
    let other = ReadCtx::new("other", REGION);
    assert!(kind.find_existing(&other, &[("build".into(), desired.clone())]).await.unwrap().is_empty());

    let (ctx, _rx) = op(&project::SCHEMA, "build", StepAction::Delete, tags("build"));
    kind.delete(&ctx, &created, &Props::new()).await.unwrap();
    kind.delete(&ctx, &created, &Props::new()).await.unwrap();
    assert!(kind.read(&read_ctx(STACK, REGION), std::slice::from_ref(&created.id)).await.unwrap().is_empty());
}

#[tokio::test]
async fn build_projects_of_seed_002_are_read_in_one_batch() {
    let moto = Moto::start();
    let aws = moto.aws().await;
    let role = create_role(&aws, "health-build", "codebuild.amazonaws.com").await;
    let kind = Adapter(Project::new(aws.codebuild()));
    let spec = |name: &str, dir: &str| {
        props(json!({
            "name": name,
            "service_role": role,
            "source": {"type": "CODEPIPELINE", "location": "cloud-health-dashboard", "buildspec": format!("{dir}/buildspec.yml")},
            "artifacts": {"type": "CODEPIPELINE", "location": "cloud-health-dashboard"},
            "environment": {"image": "aws/codebuild/standard:7.0", "compute_type": "BUILD_GENERAL1_SMALL"},
        }))
    };
    let backend = spec("backend-build", "backend");
    let frontend = spec("frontend-build", "frontend");
    for (address, desired) in [("backend", &backend), ("frontend", &frontend)] {
        let (ctx, _rx) = op(&project::SCHEMA, address, StepAction::Create, tags(address));
        let o = kind.create(&ctx, desired).await.unwrap();
        assert_clean(&project::SCHEMA, desired, &o);
    }
    let batch = |c: &ApiCalls| {
        c.snapshot().iter().filter(|((_, op), _)| op == "BatchGetProjects").map(|(_, n)| n.calls).sum::<u64>()
    };
    let before = batch(&aws.calls);
    let ids = ["backend-build".to_string(), "frontend-build".to_string(), "gone-build".to_string()];
    let read = kind.read(&read_ctx(STACK, REGION), &ids).await.unwrap();
    assert_eq!(batch(&aws.calls) - before, 1, "one BatchGetProjects for all three names");
    assert_eq!(read.iter().map(|o| o.id.as_str()).collect::<Vec<_>>(), ["backend-build", "frontend-build"]);
    assert_clean(&project::SCHEMA, &backend, &read[0]);
    assert_clean(&project::SCHEMA, &frontend, &read[1]);
    assert_eq!(read[0].properties["source"]["buildspec"], json!("backend/buildspec.yml"));
    for o in &read {
        let (ctx, _rx) = op(&project::SCHEMA, "x", StepAction::Delete, tags("x"));
        kind.delete(&ctx, o, &Props::new()).await.unwrap();
    }
    assert!(kind.read(&read_ctx(STACK, REGION), &ids).await.unwrap().is_empty());
}

/// Seed 000's pipeline: GitHub (v1, token from env) → CodeBuild → ECS.
fn pipeline_000_yaml(role: &str, token_env: &str) -> String {
    format!(
        "pipeline:
  type: codepipeline.pipeline
  properties:
    role_arn: {role}
    artifact_store: {{location: stock-dashboard-artifacts}}
    github_oauth_token: env:{token_env}
    stages:
      - name: Source
        actions:
          - name: GitHub
            category: Source
            owner: ThirdParty
            provider: GitHub
            configuration: {{Owner: acme, Repo: stock-market-dashboard, Branch: main, PollForSourceChanges: \"false\"}}
            output_artifacts: [SourceOutput]
      - name: Build
        actions:
          - name: Build
            category: Build
            provider: CodeBuild
            configuration: {{ProjectName: stock-build}}
            input_artifacts: [SourceOutput]
            output_artifacts: [BuildOutput]
      - name: Deploy
        actions:
          - name: DeployToECS
            category: Deploy
            provider: ECS
            configuration: {{ClusterName: stock-dashboard-cluster, ServiceName: stock-dashboard-service, FileName: imagedefinitions.json}}
            input_artifacts: [BuildOutput]
"
    )
}

#[tokio::test]
async fn github_pipeline_of_seed_000_round_trips_without_leaking_the_token() {
    const TOKEN_ENV: &str = "DEPLOYCTL_TEST_CBCP_GITHUB_TOKEN";
    const TOKEN: &str = "ghp_cbcpTestToken0123456789abcdefABCDEF";
    std::env::set_var(TOKEN_ENV, TOKEN);
    let moto = Moto::start();
    let aws = moto.aws().await;
    let role = create_role(&aws, "stock-pipeline", "codepipeline.amazonaws.com").await;
    let kind = Adapter(Pipeline::new(aws.codepipeline()));
    let (plain, recorded) = evaluate(&pipeline_000_yaml(&role, TOKEN_ENV));
    assert_eq!(plain["github_oauth_token"], json!(TOKEN));
    assert!(!recorded["github_oauth_token"].as_str().unwrap().contains(TOKEN), "state records a fingerprint");

    let (ctx, _rx) = op(&pipeline::SCHEMA, "pipeline", StepAction::Create, tags("pipeline"));
    let created = kind.create(&ctx, &plain).await.unwrap();
    assert_eq!(created.id, "stock-pipeline");
    assert_eq!(created.attributes["arn"], json!(format!("arn:aws:codepipeline:{REGION}:{ACCOUNT}:stock-pipeline")));
    assert_eq!(created.attributes["version"], json!(1));
    assert_eq!(created.tags, tags("pipeline"));
    assert!(!format!("{created:?}").contains(TOKEN), "the token is in what was observed: {created:?}");
    assert_clean(&pipeline::SCHEMA, &recorded, &created);
    let read = kind.read(&read_ctx(STACK, REGION), std::slice::from_ref(&created.id)).await.unwrap();
    assert_eq!(read.len(), 1);
    assert!(!format!("{read:?}").contains(TOKEN));
    assert_clean(&pipeline::SCHEMA, &recorded, &read[0]);

    // The token was sent (moto shows it; AWS masks it as ****).
    let raw = aws.codepipeline().get_pipeline().name("stock-pipeline").send().await.unwrap();
    let stages = raw.pipeline().unwrap().stages();
    assert_eq!(stages.len(), 3);
    let source = &stages[0].actions()[0];
    assert_eq!(source.configuration().unwrap().get("OAuthToken").map(String::as_str), Some(TOKEN));
    assert_eq!(source.action_type_id().unwrap().owner().as_str(), "ThirdParty");
    let deploy = &stages[2].actions()[0];
    assert_eq!(deploy.configuration().unwrap().get("FileName").map(String::as_str), Some("imagedefinitions.json"));
    assert_eq!(deploy.input_artifacts()[0].name(), "BuildOutput");

    // A manual approval before the deploy, and a new FileName: one in-place
    // change of `stages`, one UpdatePipeline.
    let mut stages_v2 = plain["stages"].as_array().unwrap().clone();
    stages_v2[2]["actions"][0]["configuration"]["FileName"] = json!("imagedefs.json");
    stages_v2.insert(
        2,
        json!({"name": "Approve", "actions": [{"name": "Approve", "category": "Approval", "provider": "Manual",
            "configuration": {"CustomData": "Deploy the new image to production?"}}]}),
    );
    let mut plain_v2 = plain.clone();
    plain_v2.insert("stages".into(), Value::Array(stages_v2.clone()));
    let mut recorded_v2 = recorded.clone();
    recorded_v2.insert("stages".into(), Value::Array(stages_v2));
    let d = diff(&pipeline::SCHEMA, &recorded_v2, &read[0]);
    assert_eq!(d.iter().map(|d| (d.field.as_str(), d.update)).collect::<Vec<_>>(), [("stages", Update::InPlace)]);
    let (ctx, _rx) = op(&pipeline::SCHEMA, "pipeline", StepAction::Update, tags("pipeline"));
    let updated = kind.update(&ctx, &read[0], &plain_v2, &["stages".into()]).await.unwrap();
    assert_eq!(updated.attributes["version"], json!(2));
    assert_clean(&pipeline::SCHEMA, &recorded_v2, &updated);
    assert!(!format!("{updated:?}").contains(TOKEN));
    let raw = aws.codepipeline().get_pipeline().name("stock-pipeline").send().await.unwrap();
    let stages = raw.pipeline().unwrap().stages();
    assert_eq!(stages.iter().map(|s| s.name()).collect::<Vec<_>>(), ["Source", "Build", "Approve", "Deploy"]);
    assert_eq!(stages[2].actions()[0].action_type_id().unwrap().provider(), "Manual");
    assert_eq!(
        stages[3].actions()[0].configuration().unwrap().get("FileName").map(String::as_str),
        Some("imagedefs.json")
    );
    assert_eq!(
        stages[0].actions()[0].configuration().unwrap().get("OAuthToken").map(String::as_str),
        Some(TOKEN),
        "an update sends the token again"
    );

    // A rotated token: only its fingerprint differs, and the update sends it.
    const ROTATED: &str = "ghp_cbcpRotatedToken9876543210zyxwvuZYXWVU";
    std::env::set_var(TOKEN_ENV, ROTATED);
    let (plain_r, recorded_r) = evaluate(&pipeline_000_yaml(&role, TOKEN_ENV));
    let d = diff_since(&pipeline::SCHEMA, &recorded_r, &read[0], &recorded);
    assert_eq!(
        d.iter().map(|d| (d.field.as_str(), d.update)).collect::<Vec<_>>(),
        [("github_oauth_token", Update::InPlace)],
        "{d:#?}"
    );
    assert!(!format!("{d:?}").contains(ROTATED), "the plan shows fingerprints");
    let mut plain_r2 = plain_v2.clone();
    plain_r2.insert("github_oauth_token".into(), plain_r["github_oauth_token"].clone());
    // Tags change along with it: a tag of the resource's own.
    let mut more_tags = tags("pipeline");
    more_tags.insert("team".into(), "dashboards".into());
    let (ctx, _rx) = op(&pipeline::SCHEMA, "pipeline", StepAction::Update, more_tags.clone());
    let rotated = kind.update(&ctx, &updated, &plain_r2, &["github_oauth_token".into(), "tags".into()]).await.unwrap();
    assert_eq!(rotated.tags, more_tags);
    assert!(!format!("{rotated:?}").contains(ROTATED));
    let raw = aws.codepipeline().get_pipeline().name("stock-pipeline").send().await.unwrap();
    let source = &raw.pipeline().unwrap().stages()[0].actions()[0];
    assert_eq!(source.configuration().unwrap().get("OAuthToken").map(String::as_str), Some(ROTATED));
    let raw_tags = aws
        .codepipeline()
        .list_tags_for_resource()
        .resource_arn(rotated.attributes["arn"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert!(raw_tags.tags().iter().any(|t| t.key() == "team" && t.value() == "dashboards"));
    let _ = recorded_r;

    // Adoption by the default name, only with this stack's and address's tags.
    let found = kind.find_existing(&read_ctx(STACK, REGION), &[("pipeline".into(), recorded.clone())]).await.unwrap();
    assert_eq!(found.len(), 1);
    assert!(kind
        .find_existing(&read_ctx(STACK, REGION), &[("other".into(), recorded.clone())])
        .await
        .unwrap()
        .is_empty());

    // An error never carries the token: a role CodePipeline cannot assume,
    // made in this run, is retried (as IAM propagation) until the step's
    // timeout, then reported.
    let missing = format!("arn:aws:iam::{ACCOUNT}:role/not-there");
    let (plain_bad, _) = evaluate(&pipeline_000_yaml(&missing, TOKEN_ENV));
    let (mut ctx, mut rx) =
        op_with(&pipeline::SCHEMA, "bad", StepAction::Create, tags("bad"), Duration::from_millis(1500));
    ctx.recent_dependencies = true;
    let e = kind.create(&ctx, &plain_bad).await.unwrap_err();
    assert!(e.code_is("InvalidStructureException"), "{e:?}");
    assert!(e.message.contains("not-there"), "{e:?}");
    assert!(e.hint.as_deref().is_some_and(|h| h.contains("propagate")), "{e:?}");
    assert!(!format!("{e:?}").contains(ROTATED));
    assert!(progress(&mut rx).iter().any(|m| m.contains("waiting for IAM role to propagate")));
    // A role not made in this run is not propagating: refused at once.
    let (ctx, mut rx) = op(&pipeline::SCHEMA, "bad", StepAction::Create, tags("bad"));
    let started = std::time::Instant::now();
    let e = kind.create(&ctx, &plain_bad).await.unwrap_err();
    assert!(e.code_is("InvalidStructureException") && e.hint.is_none(), "{e:?}");
    assert!(started.elapsed() < Duration::from_secs(1), "not retried");
    assert!(progress(&mut rx).is_empty());

    let (ctx, _rx) = op(&pipeline::SCHEMA, "pipeline", StepAction::Delete, tags("pipeline"));
    kind.delete(&ctx, &rotated, &Props::new()).await.unwrap();
    kind.delete(&ctx, &rotated, &Props::new()).await.unwrap();
    assert!(kind.read(&read_ctx(STACK, REGION), std::slice::from_ref(&rotated.id)).await.unwrap().is_empty());
    std::env::remove_var(TOKEN_ENV);
}

#[tokio::test]
async fn codecommit_pipeline_of_seed_002_round_trips() {
    let moto = Moto::start();
    let aws = moto.aws().await;
    let role = create_role(&aws, "CodePipelineServiceRole", "codepipeline.amazonaws.com").await;
    let kind = Adapter(Pipeline::new(aws.codepipeline()));
    let build = |name: &str, project: &str, output: &str| {
        json!({"name": name, "actions": [{"name": name.replace('_', ""), "category": "Build", "provider": "CodeBuild",
            "configuration": {"ProjectName": project}, "input_artifacts": ["SourceOutput"], "output_artifacts": [output]}]})
    };
    let desired = props(json!({
        "name": "cloud-health-dashboard-pipeline",
        "role_arn": role,
        "artifact_store": {"type": "S3", "location": format!("codepipeline-artifacts-{REGION}-{ACCOUNT}")},
        "stages": [
            {"name": "Source", "actions": [{"name": "SourceAction", "category": "Source", "owner": "AWS",
                "provider": "CodeCommit", "version": "1",
                "configuration": {"RepositoryName": "cloud-health-dashboard", "BranchName": "main", "PollForSourceChanges": "false"},
                "output_artifacts": ["SourceOutput"]}]},
            build("Build_Backend", "backend-build", "BackendBuildOutput"),
            build("Build_Frontend", "frontend-build", "FrontendBuildOutput"),
            {"name": "Deploy_Backend", "actions": [{"name": "DeployToECS", "category": "Deploy", "provider": "ECS",
                "configuration": {"ClusterName": "cloud-health-cluster", "ServiceName": "backend-service", "FileName": "imagedefinitions.json"},
                "input_artifacts": ["BackendBuildOutput"]}]},
            {"name": "Deploy_Frontend", "actions": [{"name": "DeployToS3", "category": "Deploy", "provider": "S3",
                "configuration": {"BucketName": "cloud-health-dashboard-frontend", "Extract": "true"},
                "input_artifacts": ["FrontendBuildOutput"]}]},
        ],
    }));
    let (ctx, _rx) = op(&pipeline::SCHEMA, "pipeline", StepAction::Create, tags("pipeline"));
    let created = kind.create(&ctx, &desired).await.unwrap();
    assert_eq!(created.id, "cloud-health-dashboard-pipeline");
    assert_clean(&pipeline::SCHEMA, &desired, &created);
    let read = kind.read(&read_ctx(STACK, REGION), &[created.id.clone(), "no-such-pipeline".into()]).await.unwrap();
    assert_eq!(read.len(), 1, "a missing pipeline is absent, not an error");
    assert_clean(&pipeline::SCHEMA, &desired, &read[0]);

    let raw = aws.codepipeline().get_pipeline().name("cloud-health-dashboard-pipeline").send().await.unwrap();
    let stages = raw.pipeline().unwrap().stages();
    assert_eq!(
        stages.iter().map(|s| s.name()).collect::<Vec<_>>(),
        ["Source", "Build_Backend", "Build_Frontend", "Deploy_Backend", "Deploy_Frontend"]
    );
    let s3 = &stages[4].actions()[0];
    assert_eq!(s3.configuration().unwrap().get("Extract").map(String::as_str), Some("true"));
    assert!(stages
        .iter()
        .flat_map(|s| s.actions())
        .all(|a| a.configuration().is_none_or(|c| !c.contains_key("OAuthToken"))));

    // Two actions in one stage, in parallel, then a later one: run_order.
    let mut parallel = desired.clone();
    parallel["stages"][1]["actions"] = json!([
        {"name": "BackendBuild", "category": "Build", "provider": "CodeBuild", "configuration": {"ProjectName": "backend-build"},
         "input_artifacts": ["SourceOutput"], "output_artifacts": ["BackendBuildOutput"]},
        {"name": "BackendTests", "category": "Test", "provider": "CodeBuild", "configuration": {"ProjectName": "backend-tests"},
         "input_artifacts": ["SourceOutput"], "run_order": 2},
    ]);
    let (ctx, _rx) = op(&pipeline::SCHEMA, "pipeline", StepAction::Update, tags("pipeline"));
    let updated = kind.update(&ctx, &read[0], &parallel, &["stages".into()]).await.unwrap();
    assert_clean(&pipeline::SCHEMA, &parallel, &updated);
    let raw = aws.codepipeline().get_pipeline().name("cloud-health-dashboard-pipeline").send().await.unwrap();
    let build_backend = &raw.pipeline().unwrap().stages()[1];
    assert_eq!(build_backend.actions().iter().map(|a| a.run_order()).collect::<Vec<_>>(), [Some(1), Some(2)]);

    let (ctx, _rx) = op(&pipeline::SCHEMA, "pipeline", StepAction::Delete, tags("pipeline"));
    kind.delete(&ctx, &updated, &Props::new()).await.unwrap();
    kind.delete(&ctx, &updated, &Props::new()).await.unwrap();
    assert!(kind.read(&read_ctx(STACK, REGION), std::slice::from_ref(&updated.id)).await.unwrap().is_empty());
}

#[tokio::test]
async fn github_pipeline_through_a_codestar_connection_needs_no_token() {
    let moto = Moto::start();
    let aws = moto.aws().await;
    let role = create_role(&aws, "conn-pipeline", "codepipeline.amazonaws.com").await;
    let kind = Adapter(Pipeline::new(aws.codepipeline()));
    let connection =
        format!("arn:aws:codestar-connections:{REGION}:{ACCOUNT}:connection/0f3c2a5e-1b2d-4c3e-9f00-123456789abc");
    let desired = props(json!({
        "name": "conn-pipeline",
        "role_arn": role,
        "artifact_store": {"location": "conn-artifacts"},
        "stages": [
            {"name": "Source", "actions": [{"name": "GitHub", "category": "Source", "owner": "AWS",
                "provider": "CodeStarSourceConnection",
                "configuration": {"ConnectionArn": connection, "FullRepositoryId": "acme/stock-market-dashboard",
                    "BranchName": "main", "OutputArtifactFormat": "CODE_ZIP"},
                "output_artifacts": ["SourceOutput"]}]},
            {"name": "Build", "actions": [{"name": "Build", "category": "Build", "provider": "CodeBuild",
                "configuration": {"ProjectName": "stock-build"}, "input_artifacts": ["SourceOutput"],
                "output_artifacts": ["BuildOutput"]}]},
            {"name": "Deploy", "actions": [{"name": "DeployToECS", "category": "Deploy", "provider": "ECS",
                "configuration": {"ClusterName": "stock", "ServiceName": "web", "FileName": "imagedefinitions.json"},
                "input_artifacts": ["BuildOutput"]}]},
        ],
    }));
    let (ctx, _rx) = op(&pipeline::SCHEMA, "pipeline", StepAction::Create, tags("pipeline"));
    let created = kind.create(&ctx, &desired).await.expect("a connection source needs no github_oauth_token");
    assert_clean(&pipeline::SCHEMA, &desired, &read_one_pipeline(&kind, &created.id).await);
    let raw = aws.codepipeline().get_pipeline().name("conn-pipeline").send().await.unwrap();
    let source = &raw.pipeline().unwrap().stages()[0].actions()[0];
    let t = source.action_type_id().unwrap();
    assert_eq!((t.owner().as_str(), t.provider()), ("AWS", "CodeStarSourceConnection"));
    let conf = source.configuration().unwrap();
    assert_eq!(conf.get("ConnectionArn"), Some(&connection));
    assert_eq!(conf.get("FullRepositoryId").map(String::as_str), Some("acme/stock-market-dashboard"));
    assert!(!conf.contains_key("OAuthToken"), "{conf:?}");

    // Another branch: one in-place change of `stages`.
    let mut release = desired.clone();
    release["stages"][0]["actions"][0]["configuration"]["BranchName"] = json!("release");
    let live = read_one_pipeline(&kind, &created.id).await;
    let d = diff(&pipeline::SCHEMA, &release, &live);
    assert_eq!(d.iter().map(|d| (d.field.as_str(), d.update)).collect::<Vec<_>>(), [("stages", Update::InPlace)]);
    let (ctx, _rx) = op(&pipeline::SCHEMA, "pipeline", StepAction::Update, tags("pipeline"));
    let updated = kind.update(&ctx, &live, &release, &["stages".into()]).await.unwrap();
    assert_clean(&pipeline::SCHEMA, &release, &updated);
    let raw = aws.codepipeline().get_pipeline().name("conn-pipeline").send().await.unwrap();
    let conf = raw.pipeline().unwrap().stages()[0].actions()[0].configuration().unwrap().clone();
    assert_eq!(conf.get("BranchName").map(String::as_str), Some("release"));

    let (ctx, _rx) = op(&pipeline::SCHEMA, "pipeline", StepAction::Delete, tags("pipeline"));
    kind.delete(&ctx, &updated, &Props::new()).await.unwrap();
}

async fn read_one_pipeline(kind: &Adapter<Pipeline>, id: &str) -> Observed {
    let mut read = kind.read(&read_ctx(STACK, REGION), &[id.to_string()]).await.unwrap();
    assert_eq!(read.len(), 1, "{id} not read back");
    read.remove(0)
}

#[tokio::test]
async fn pipeline_create_waits_for_a_role_that_is_still_propagating() {
    let moto = Moto::start();
    let aws = moto.aws().await;
    let kind = Adapter(Pipeline::new(aws.codepipeline()));
    let role_arn = format!("arn:aws:iam::{ACCOUNT}:role/late-role");
    let desired = props(json!({
        "role_arn": role_arn,
        "artifact_store": {"location": "artifacts"},
        "stages": [
            {"name": "Source", "actions": [{"name": "Src", "category": "Source", "provider": "CodeCommit",
                "configuration": {"RepositoryName": "r", "BranchName": "main"}, "output_artifacts": ["Src"]}]},
            {"name": "Build", "actions": [{"name": "Build", "category": "Build", "provider": "CodeBuild",
                "configuration": {"ProjectName": "p"}, "input_artifacts": ["Src"]}]},
        ],
    }));
    // The role shows up a moment after the create was first refused.
    let late = {
        let aws = aws.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(1500)).await;
            create_role(&aws, "late-role", "codepipeline.amazonaws.com").await
        })
    };
    let (mut ctx, mut rx) = op(&pipeline::SCHEMA, "late", StepAction::Create, tags("late"));
    ctx.recent_dependencies = true; // the role is made in the same run
    let created = kind.create(&ctx, &desired).await.unwrap();
    assert_eq!(late.await.unwrap(), role_arn);
    assert_eq!(created.id, "stock-late");
    assert_clean(&pipeline::SCHEMA, &desired, &created);
    let waits = progress(&mut rx);
    assert!(!waits.is_empty() && waits.iter().all(|m| m.contains("waiting for IAM role to propagate")), "{waits:?}");
}
