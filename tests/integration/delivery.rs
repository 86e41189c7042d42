//! The delivery-tier example stacks: seed 002's five-stage CodeCommit
//! pipeline with its CloudFront frontend, and seed 003's GitHub Actions
//! deployment through OIDC, each through init → up → a clean diff →
//! destroy, checked through the AWS API.
//! (Seed 004 is whole in shop.rs.)

use crate::harness::*;

fn spec(name: &str) -> String {
    repo_file(name).display().to_string()
}

#[test]
fn seed_002_pipeline_goes_through_init_up_diff_and_destroy() {
    let moto = Moto::start();
    let p = Project::new(&moto);
    // The stack owns its CodeCommit repository, which moto 5.2.5 cannot read
    // back (BatchGetRepositories and the tag calls answer 500): here it runs
    // without it, as scripts/moto-variant prints it. The repository's own
    // calls are shown with mocked clients (suite: codecommit_repository).
    let variant = std::process::Command::new("python3")
        .arg(repo_file("scripts/moto-variant"))
        .arg(repo_file("stacks/cicd.yaml"))
        .output()
        .expect("scripts/moto-variant");
    assert!(variant.status.success(), "{}", String::from_utf8_lossy(&variant.stderr));
    let text = String::from_utf8(variant.stdout).unwrap();
    assert!(!text.contains("codecommit.repository") && !text.contains("${repo."), "{text}");
    let spec = p.spec("cicd.yaml", &text).display().to_string();
    p.ok(&["init", &spec]);
    p.ok(&["up", &spec, "--yes"]);
    let out = p.ok(&["output", &spec, "--json"]).json();

    // A clean diff but for what moto 5.2.5 drops: the distribution's origin
    // reads back without its origin access control (AWS keeps it), so the
    // plan puts it back, and nothing else.
    let plan = p.ok(&["diff", &spec, "--json"]).json();
    let changed: Vec<(&str, Vec<&str>)> = plan["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["action"] != "no_op")
        .map(|r| {
            (
                r["address"].as_str().unwrap(),
                r["changes"].as_array().unwrap().iter().map(|c| c["field"].as_str().unwrap()).collect(),
            )
        })
        .collect();
    assert_eq!(changed, vec![("cdn", vec!["origins"])], "{plan}");
    let cdn = plan["resources"].as_array().unwrap().iter().find(|r| r["address"] == "cdn").unwrap();
    let origin = &cdn["changes"][0];
    assert_eq!(origin["before"]["value"][0].get("origin_access_control_id"), None);
    let oac_id = origin["after"]["value"][0]["origin_access_control_id"].as_str().unwrap().to_string();

    let mut deployed = String::new();
    rt().block_on(async {
        let cfg = moto.sdk_config().await;
        // The frontend: the distribution serves the private bucket through
        // the OAC, and the bucket policy lets only that distribution read.
        let cf = aws_sdk_cloudfront::Client::new(&cfg);
        let oacs = cf.list_origin_access_controls().send().await.unwrap();
        let oac = &oacs.origin_access_control_list().unwrap().items()[0];
        assert_eq!((oac.id(), oac.name()), (oac_id.as_str(), "cloud-health-prod-frontend"));
        assert_eq!(oac.signing_protocol().as_str(), "sigv4");
        let id = out["distribution_id"].as_str().unwrap();
        let d = cf.get_distribution().id(id).send().await.unwrap();
        let d = d.distribution().unwrap();
        assert_eq!(out["frontend_url"], serde_json::json!(format!("https://{}", d.domain_name())));
        let c = d.distribution_config().unwrap();
        let origin = &c.origins().unwrap().items()[0];
        assert_eq!(origin.domain_name(), "cloud-health-prod-frontend.s3.us-east-1.amazonaws.com");
        assert_eq!(c.default_root_object(), Some("index.html"));
        let behavior = c.default_cache_behavior().unwrap();
        assert_eq!(behavior.viewer_protocol_policy().as_str(), "redirect-to-https");
        let errors: Vec<(i32, Option<&str>, Option<&str>)> = c
            .custom_error_responses()
            .unwrap()
            .items()
            .iter()
            .map(|e| (e.error_code(), e.response_code(), e.response_page_path()))
            .collect();
        assert_eq!(errors, [(403, Some("200"), Some("/index.html")), (404, Some("200"), Some("/index.html"))]);
        let s3 = moto.s3().await;
        let policy = s3.get_bucket_policy().bucket("cloud-health-prod-frontend").send().await.unwrap();
        let policy: serde_json::Value = serde_json::from_str(policy.policy().unwrap()).unwrap();
        let statement = &policy["Statement"][0];
        assert_eq!(statement["Principal"]["Service"], "cloudfront.amazonaws.com");
        assert_eq!(statement["Condition"]["StringEquals"]["AWS:SourceArn"], serde_json::json!(d.arn()));

        // Failed runs reach devops by email and SMS.
        let sns = aws_sdk_sns::Client::new(&cfg);
        let topic = out["notifications_topic"].as_str().unwrap();
        let subs = sns.list_subscriptions_by_topic().topic_arn(topic).send().await.unwrap();
        let mut subs: Vec<(&str, &str)> =
            subs.subscriptions().iter().map(|s| (s.protocol().unwrap(), s.endpoint().unwrap())).collect();
        subs.sort();
        assert_eq!(subs, [("email", "devops@example.com"), ("sms", "+12345678900")]);
        let events = aws_sdk_eventbridge::Client::new(&cfg);
        let targets = events.list_targets_by_rule().rule("cloud-health-cicd-pipeline_failed").send().await.unwrap();
        assert_eq!(targets.targets()[0].arn(), topic);
        // A push to main starts the pipeline, EventBridge assuming a role
        // that may do only that.
        let rule = events.describe_rule().name("cloud-health-cicd-source_changed").send().await.unwrap();
        let pattern: serde_json::Value = serde_json::from_str(rule.event_pattern().unwrap()).unwrap();
        assert_eq!(pattern["detail"]["referenceName"], serde_json::json!(["main"]));
        assert_eq!(
            pattern["resources"],
            serde_json::json!(["arn:aws:codecommit:us-east-1:123456789012:cloud-health-dashboard"])
        );
        let targets = events.list_targets_by_rule().rule("cloud-health-cicd-source_changed").send().await.unwrap();
        let target = &targets.targets()[0];
        assert!(target.arn().starts_with("arn:aws:codepipeline:us-east-1:"), "{target:?}");
        let iam = aws_sdk_iam::Client::new(&cfg);
        let role = target.role_arn().unwrap().rsplit('/').next().unwrap();
        let policy = iam.get_role_policy().role_name(role).policy_name("start").send().await.unwrap();
        let doc: serde_json::Value = serde_json::from_str(&decode(policy.policy_document())).unwrap();
        assert_eq!(doc["Statement"][0]["Action"], "codepipeline:StartPipelineExecution");
        assert_eq!(doc["Statement"][0]["Resource"], serde_json::json!(target.arn()));

        // The backend's settings, the frontend's URL among them.
        let ssm = aws_sdk_ssm::Client::new(&cfg);
        let url = ssm.get_parameter().name("/cloud-health/backend/prod/FRONTEND_URL").send().await.unwrap();
        assert_eq!(url.parameter().unwrap().value(), out["frontend_url"].as_str());

        let cp = aws_sdk_codepipeline::Client::new(&cfg);
        let pipes = cp.list_pipelines().send().await.unwrap();
        assert_eq!(pipes.pipelines().len(), 1);
        let name = pipes.pipelines()[0].name().unwrap();
        let decl = cp.get_pipeline().name(name).send().await.unwrap();
        let source = &decl.pipeline().unwrap().stages()[0].actions()[0];
        let config = source.configuration().unwrap();
        assert_eq!(config.get("RepositoryName").map(String::as_str), Some("cloud-health-dashboard"));
        assert_eq!(config.get("BranchName").map(String::as_str), Some("main"));
        let shape: Vec<(String, String)> = decl
            .pipeline()
            .unwrap()
            .stages()
            .iter()
            .map(|s| (s.name().to_string(), s.actions()[0].action_type_id().unwrap().provider().to_string()))
            .collect();
        assert_eq!(
            shape,
            [
                ("Source", "CodeCommit"),
                ("BuildBackend", "CodeBuild"),
                ("BuildFrontend", "CodeBuild"),
                ("DeployBackend", "ECS"),
                ("DeployFrontend", "S3"),
            ]
            .map(|(a, b)| (a.to_string(), b.to_string()))
        );
        // The backend deploy names this stack's service, which runs the
        // backend with its settings and keys read at start.
        let deploy = &decl.pipeline().unwrap().stages()[3].actions()[0];
        let config = deploy.configuration().unwrap();
        let (cluster, service) = (&config["ClusterName"], &config["ServiceName"]);
        assert_eq!((cluster.as_str(), service.as_str()), ("cloud-health-cluster-prod", "backend-service"));
        let ecs = aws_sdk_ecs::Client::new(&cfg);
        let svc = ecs.describe_services().cluster(cluster).services(service).send().await.unwrap();
        let svc = &svc.services()[0];
        assert_eq!(svc.status(), Some("ACTIVE"));
        assert_eq!(svc.load_balancers()[0].container_port(), Some(8000));
        let task = ecs.describe_task_definition().task_definition(svc.task_definition().unwrap()).send().await.unwrap();
        let container = &task.task_definition().unwrap().container_definitions()[0];
        let secrets: Vec<(&str, &str)> = container.secrets().iter().map(|s| (s.name(), s.value_from())).collect();
        assert!(secrets.contains(&("LOG_LEVEL", "/cloud-health/backend/prod/LOG_LEVEL")), "{secrets:?}");
        let jwt = secrets.iter().find(|(n, _)| *n == "JWT_SECRET_KEY").unwrap().1;
        assert!(jwt.contains(":secret:cloud-health/prod/jwt-secret-key"), "{jwt}");
        assert!(out["image_repository"].as_str().unwrap().ends_with("/cloud-health-backend-prod"), "{out}");

        // What the pipeline's ECS deploy does with a build: a new revision
        // with the commit's image, and the service moved onto it.
        let td = task.task_definition().unwrap();
        let mut built = container.clone();
        built.image = Some(format!("{}:abc1234", out["image_repository"].as_str().unwrap()));
        let next = ecs
            .register_task_definition()
            .family(td.family().unwrap())
            .set_container_definitions(Some(vec![built]))
            .set_requires_compatibilities(Some(td.requires_compatibilities().to_vec()))
            .set_network_mode(td.network_mode().cloned())
            .set_cpu(td.cpu().map(str::to_string))
            .set_memory(td.memory().map(str::to_string))
            .set_execution_role_arn(td.execution_role_arn().map(str::to_string))
            .set_task_role_arn(td.task_role_arn().map(str::to_string))
            .send()
            .await
            .unwrap();
        let next = next.task_definition().unwrap().task_definition_arn().unwrap().to_string();
        ecs.update_service().cluster(cluster).service(service).task_definition(&next).send().await.unwrap();
        deployed = next;

        let cb = aws_sdk_codebuild::Client::new(&cfg);
        let names = cb.list_projects().send().await.unwrap();
        let projects = cb.batch_get_projects().set_names(Some(names.projects().to_vec())).send().await.unwrap();
        let mut specs: Vec<String> =
            projects.projects().iter().filter_map(|p| p.source()?.buildspec().map(str::to_string)).collect();
        specs.sort();
        assert_eq!(specs, vec!["backend/buildspec.yml", "frontend/buildspec.yml"]);
    });

    // `up` leaves the revision the pipeline deployed: lifecycle.ignore_changes.
    let plan = p.ok(&["diff", &spec, "--json"]).json();
    let backend = plan["resources"].as_array().unwrap().iter().find(|r| r["address"] == "backend").unwrap();
    assert_eq!(backend["action"], "no_op", "{backend}");
    assert!(
        backend["reasons"].to_string().contains("task_definition: left as it is (lifecycle.ignore_changes)"),
        "{backend}"
    );
    p.ok(&["up", &spec, "--yes"]);
    rt().block_on(async {
        let ecs = aws_sdk_ecs::Client::new(&moto.sdk_config().await);
        let svc = ecs.describe_services().cluster("cloud-health-cluster-prod").services("backend-service").send().await;
        assert_eq!(svc.unwrap().services()[0].task_definition(), Some(deployed.as_str()), "up kept the deploy");
    });

    p.ok(&["destroy", &spec, "--yes"]);
    rt().block_on(async {
        let cfg = moto.sdk_config().await;
        let cp = aws_sdk_codepipeline::Client::new(&cfg);
        assert!(cp.list_pipelines().send().await.unwrap().pipelines().is_empty());
        let cb = aws_sdk_codebuild::Client::new(&cfg);
        assert!(cb.list_projects().send().await.unwrap().projects().is_empty());
        let buckets = moto.s3().await.list_buckets().send().await.unwrap();
        let left: Vec<&str> = buckets.buckets().iter().filter_map(|b| b.name()).collect();
        assert_eq!(left, vec!["cloud-health-deployctl-state"], "only the state bucket remains");
        let cf = aws_sdk_cloudfront::Client::new(&cfg);
        let dists = cf.list_distributions().send().await.unwrap();
        assert!(dists.distribution_list().unwrap().items().is_empty());
        let oacs = cf.list_origin_access_controls().send().await.unwrap();
        assert!(oacs.origin_access_control_list().unwrap().items().is_empty());
        let sns = aws_sdk_sns::Client::new(&cfg);
        assert!(sns.list_topics().send().await.unwrap().topics().is_empty());
        let ssm = aws_sdk_ssm::Client::new(&cfg);
        assert!(ssm.describe_parameters().send().await.unwrap().parameters().is_empty());
        no_active_clusters(&aws_sdk_ecs::Client::new(&cfg)).await;
        let ec2 = aws_sdk_ec2::Client::new(&cfg);
        let vpcs = ec2.describe_vpcs().send().await.unwrap();
        assert!(vpcs.vpcs().iter().all(|v| v.is_default() == Some(true)), "only the default VPC remains");
    });
}

#[test]
fn seed_003_github_actions_deploy_through_oidc_goes_through_init_up_diff_and_destroy() {
    let moto = Moto::start();
    let p = Project::new(&moto);
    let spec = spec("stacks/actions.yaml");
    p.ok(&["init", &spec]);
    p.ok(&["up", &spec, "--yes"]);
    assert_eq!(p.run(&["diff", &spec, "--detailed-exitcode"]).code, 0);
    let out = p.ok(&["output", &spec, "--json"]).json();
    let role_arn = out["deploy_role_arn"].as_str().unwrap().to_string();

    rt().block_on(async {
        let cfg = moto.sdk_config().await;
        let iam = aws_sdk_iam::Client::new(&cfg);
        // The provider GitHub's tokens come from, for the STS audience.
        let providers = iam.list_open_id_connect_providers().send().await.unwrap();
        let arns: Vec<&str> = providers.open_id_connect_provider_list().iter().filter_map(|p| p.arn()).collect();
        assert_eq!(arns.len(), 1, "{arns:?}");
        assert!(arns[0].ends_with(":oidc-provider/token.actions.githubusercontent.com"), "{arns:?}");
        let provider = iam.get_open_id_connect_provider().open_id_connect_provider_arn(arns[0]).send().await.unwrap();
        assert_eq!(provider.client_id_list(), ["sts.amazonaws.com"]);

        // The role only that repository's main branch can assume, through it.
        let name = role_arn.rsplit('/').next().unwrap();
        let role = iam.get_role().role_name(name).send().await.unwrap();
        let doc = role.role().unwrap().assume_role_policy_document().unwrap();
        let doc: serde_json::Value = serde_json::from_str(&decode(doc)).unwrap();
        let st = &doc["Statement"][0];
        assert_eq!(st["Principal"]["Federated"], arns[0]);
        assert_eq!(st["Action"], "sts:AssumeRoleWithWebIdentity");
        assert_eq!(
            st["Condition"]["StringEquals"]["token.actions.githubusercontent.com:sub"],
            "repo:acme/devops-demo:ref:refs/heads/main"
        );
        let inline = iam.list_role_policies().role_name(name).send().await.unwrap();
        let mut names = inline.policy_names().to_vec();
        names.sort();
        assert_eq!(names, vec!["deploy".to_string(), "push-image".to_string()]);

        // What the workflow pushes to and updates.
        let ecr = aws_sdk_ecr::Client::new(&cfg);
        let repo = ecr.describe_repositories().repository_names("devops-demo-prod").send().await.unwrap();
        assert_eq!(repo.repositories()[0].image_scanning_configuration().map(|c| c.scan_on_push()), Some(true));
        let elb = aws_sdk_elasticloadbalancingv2::Client::new(&cfg);
        let tgs = elb.describe_target_groups().send().await.unwrap();
        assert_eq!(tgs.target_groups()[0].port(), Some(5000));
        assert_eq!(tgs.target_groups()[0].health_check_path(), Some("/health"));
    });

    // Another repository: the role's trust changes in place, nothing else.
    let plan = p.ok(&["diff", &spec, "--var", "github_repo=acme/other", "--json"]).json();
    let changed: Vec<(&str, &str)> = plan["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["action"] != "no_op")
        .map(|r| (r["address"].as_str().unwrap(), r["action"].as_str().unwrap()))
        .collect();
    assert_eq!(changed, vec![("deploy_role", "update")]);

    p.ok(&["destroy", &spec, "--yes"]);
    rt().block_on(async {
        let iam = aws_sdk_iam::Client::new(&moto.sdk_config().await);
        let providers = iam.list_open_id_connect_providers().send().await.unwrap();
        assert!(providers.open_id_connect_provider_list().is_empty());
        let roles = iam.list_roles().send().await.unwrap();
        assert!(!roles.roles().iter().any(|r| r.role_name().starts_with("devops-demo")), "{roles:?}");
    });
    assert_eq!(rt().block_on(async { tagged(&moto.ec2().await, "devops-demo").await }), vec![]);
}

/// IAM returns policy documents URL-encoded (moto too).
fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
                out.push(u8::from_str_radix(hex, 16).unwrap());
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).unwrap()
}
