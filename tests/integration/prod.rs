//! Seed 000's application tier: stacks/prod.yaml goes up with the seed's
//! values (checked through the AWS API), diffs clean, ships a new image as
//! exactly a new task definition revision plus a service update, and is
//! destroyed without leaving anything behind.

use crate::harness::*;

fn spec() -> String {
    repo_file("stacks/prod.yaml").display().to_string()
}

const KEY: &str = "ALPHA_VANTAGE_API_KEY";
/// The pipeline's GitHub token: a canary that must never be printed or stored.
const GITHUB_CANARY: &str = "ghp_canary_3b9e1f_never_in_state";
/// The token after a rotation in Secrets Manager: another canary.
const ROTATED_CANARY: &str = "ghp_rotated_7c1d44_never_in_state";
const CANARIES: [&str; 2] = [GITHUB_CANARY, ROTATED_CANARY];

fn up(p: &Project, args: &[&str]) -> Run {
    let out = p
        .command(args)
        .env(KEY, "test-api-key-value")
        .env("GITHUB_TOKEN", GITHUB_CANARY)
        .output()
        .expect("run deployctl");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    for canary in CANARIES {
        assert!(!text.contains(canary), "the GitHub token appears in the output of {args:?}:\n{text}");
    }
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The stack's state, read from its S3 backend (and checked for the canary).
fn s3_state(moto: &Moto, env: &str) -> serde_json::Value {
    rt().block_on(async {
        let out = moto
            .s3()
            .await
            .get_object()
            .bucket("stock-dashboard-deployctl-state")
            .key(format!("stock-dashboard/{env}.json"))
            .send()
            .await
            .expect("state object");
        let bytes = out.body.collect().await.unwrap().into_bytes();
        for canary in CANARIES {
            assert!(!String::from_utf8_lossy(&bytes).contains(canary), "the GitHub token is in state");
        }
        serde_json::from_slice(&bytes).unwrap()
    })
}

#[test]
fn prod_goes_up_with_the_seed_values_ships_a_new_image_and_destroys_cleanly() {
    let moto = Moto::start();
    let p = Project::new(&moto);
    let spec = spec();
    p.ok(&["init", &spec]);
    let r = up(&p, &["up", &spec, "--yes"]);
    assert_eq!(r.code, 0, "{r:?}");
    let r = up(&p, &["diff", &spec, "--detailed-exitcode"]);
    assert_eq!(r.code, 0, "{r:?}");

    let state = s3_state(&moto, "prod");
    let id = |a: &str| state["resources"][a]["id"].as_str().unwrap_or_else(|| panic!("no {a} in state")).to_string();
    rt().block_on(async {
        let cfg = moto.sdk_config().await;
        let elb = aws_sdk_elasticloadbalancingv2::Client::new(&cfg);
        let lb = elb.describe_load_balancers().load_balancer_arns(id("alb")).send().await.unwrap();
        let lb = &lb.load_balancers()[0];
        assert_eq!(lb.scheme().map(|s| s.as_str()), Some("internet-facing"));
        assert_eq!(lb.availability_zones().len(), 2);

        let tg = elb.describe_target_groups().target_group_arns(id("web")).send().await.unwrap();
        let tg = &tg.target_groups()[0];
        assert_eq!(tg.port(), Some(8080));
        assert_eq!(tg.target_type().map(|t| t.as_str()), Some("ip"));
        assert_eq!(tg.health_check_path(), Some("/"));
        assert_eq!(tg.health_check_interval_seconds(), Some(30));
        assert_eq!(tg.health_check_timeout_seconds(), Some(5));
        assert_eq!(tg.healthy_threshold_count(), Some(2));
        assert_eq!(tg.unhealthy_threshold_count(), Some(3));
        let attrs = elb.describe_target_group_attributes().target_group_arn(id("web")).send().await.unwrap();
        let delay = attrs.attributes().iter().find(|a| a.key() == Some("deregistration_delay.timeout_seconds"));
        assert_eq!(delay.and_then(|a| a.value()), Some("30"));

        let listeners = elb.describe_listeners().load_balancer_arn(id("alb")).send().await.unwrap();
        let l = &listeners.listeners()[0];
        assert_eq!(l.port(), Some(80));
        assert_eq!(l.default_actions()[0].target_group_arn(), Some(id("web").as_str()));

        let ecr = aws_sdk_ecr::Client::new(&cfg);
        let repo = ecr.describe_repositories().repository_names("stock-market-dashboard-prod").send().await.unwrap();
        let repo = &repo.repositories()[0];
        assert_eq!(repo.image_scanning_configuration().map(|c| c.scan_on_push()), Some(true));
        let policy = ecr.get_lifecycle_policy().repository_name("stock-market-dashboard-prod").send().await.unwrap();
        let policy: serde_json::Value = serde_json::from_str(policy.lifecycle_policy_text().unwrap()).unwrap();
        assert_eq!(policy["rules"][0]["selection"]["countNumber"], 10);

        let logs = aws_sdk_cloudwatchlogs::Client::new(&cfg);
        let groups =
            logs.describe_log_groups().log_group_name_prefix("/ecs/stock-dashboard-prod").send().await.unwrap();
        assert_eq!(groups.log_groups()[0].retention_in_days(), Some(7));

        let iam = aws_sdk_iam::Client::new(&cfg);
        let role = id("execution_role");
        let attached = iam.list_attached_role_policies().role_name(&role).send().await.unwrap();
        let arns: Vec<&str> = attached.attached_policies().iter().filter_map(|p| p.policy_arn()).collect();
        assert_eq!(arns, vec!["arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"]);

        let ecs = aws_sdk_ecs::Client::new(&cfg);
        let cluster = ecs
            .describe_clusters()
            .clusters(id("cluster"))
            .include(aws_sdk_ecs::types::ClusterField::Settings)
            .send()
            .await
            .unwrap();
        let cluster = &cluster.clusters()[0];
        let mut providers: Vec<&str> = cluster.capacity_providers().iter().map(String::as_str).collect();
        providers.sort();
        assert_eq!(providers, vec!["FARGATE", "FARGATE_SPOT"]);
        assert_eq!(cluster.settings()[0].value(), Some("enabled"));

        let td = ecs.describe_task_definition().task_definition(id("task")).send().await.unwrap();
        let td = td.task_definition().unwrap();
        assert_eq!(td.cpu(), Some("512"));
        assert_eq!(td.memory(), Some("1024"));
        let c = &td.container_definitions()[0];
        assert_eq!(c.port_mappings()[0].container_port(), Some(8080));
        assert_eq!(c.secrets()[0].value_from(), id("api_key").as_str());
        let log = c.log_configuration().unwrap();
        assert_eq!(log.log_driver().as_str(), "awslogs");
        assert_eq!(log.options().unwrap()["awslogs-group"], "/ecs/stock-dashboard-prod");
        assert_eq!(c.health_check().unwrap().start_period(), Some(60));

        let svc = ecs.describe_services().cluster(id("cluster")).services(id("service")).send().await.unwrap();
        let svc = &svc.services()[0];
        assert_eq!(svc.desired_count(), 2);
        assert_eq!(svc.task_definition(), Some(id("task").as_str()));
        assert_eq!(svc.health_check_grace_period_seconds(), Some(60));
        let dc = svc.deployment_configuration().unwrap();
        assert_eq!((dc.minimum_healthy_percent(), dc.maximum_percent()), (Some(100), Some(200)));
        let cb = dc.deployment_circuit_breaker().unwrap();
        assert!(cb.enable() && cb.rollback());
        assert_eq!(svc.load_balancers()[0].container_port(), Some(8080));
    });

    // Delivery: the pipeline's three stages and action types, the build
    // project's image, compute and privileged mode, the alarms' thresholds
    // and SNS action, the versioned, encrypted artifact bucket.
    rt().block_on(async {
        let cfg = moto.sdk_config().await;
        let cp = aws_sdk_codepipeline::Client::new(&cfg);
        let pipe = cp.get_pipeline().name(id("pipeline")).send().await.unwrap();
        let decl = pipe.pipeline().unwrap();
        let stages: Vec<(&str, String, String)> = decl
            .stages()
            .iter()
            .map(|s| {
                let a = &s.actions()[0];
                let t = a.action_type_id().unwrap();
                (s.name(), t.category().as_str().to_string(), t.provider().to_string())
            })
            .collect();
        assert_eq!(
            stages,
            vec![
                ("Source", "Source".to_string(), "GitHub".to_string()),
                ("Build", "Build".to_string(), "CodeBuild".to_string()),
                ("Deploy", "Deploy".to_string(), "ECS".to_string()),
            ]
        );
        assert_eq!(decl.artifact_store().unwrap().location(), "stock-dashboard-prod-pipeline-artifacts");

        let cb = aws_sdk_codebuild::Client::new(&cfg);
        let projects = cb.batch_get_projects().names(id("build")).send().await.unwrap();
        let env = projects.projects()[0].environment().unwrap();
        assert_eq!(env.image(), "aws/codebuild/standard:7.0");
        assert_eq!(env.compute_type().as_str(), "BUILD_GENERAL1_SMALL");
        assert_eq!(env.privileged_mode(), Some(true));

        let cw = aws_sdk_cloudwatch::Client::new(&cfg);
        let alarms =
            cw.describe_alarms().alarm_names(id("cpu_high")).alarm_names(id("unhealthy_targets")).send().await.unwrap();
        let mut seen: Vec<(String, f64, i32, i32, Vec<String>)> = alarms
            .metric_alarms()
            .iter()
            .map(|a| {
                (
                    a.metric_name().unwrap().to_string(),
                    a.threshold().unwrap(),
                    a.period().unwrap(),
                    a.evaluation_periods().unwrap(),
                    a.alarm_actions().to_vec(),
                )
            })
            .collect();
        seen.sort_by(|a, b| a.0.cmp(&b.0));
        let topic = id("alerts");
        assert_eq!(
            seen,
            vec![
                ("CPUUtilization".to_string(), 80.0, 300, 2, vec![topic.clone()]),
                ("UnHealthyHostCount".to_string(), 0.0, 60, 1, vec![topic.clone()]),
            ]
        );

        // Pipeline failures reach the topic through EventBridge, which the
        // topic's policy lets publish.
        let events = aws_sdk_eventbridge::Client::new(&cfg);
        let rule = events.describe_rule().name(id("pipeline_failed")).send().await.unwrap();
        let pattern: serde_json::Value = serde_json::from_str(rule.event_pattern().unwrap()).unwrap();
        assert_eq!(pattern["source"], serde_json::json!(["aws.codepipeline"]));
        assert_eq!(pattern["detail"]["state"], serde_json::json!(["FAILED"]));
        assert_eq!(pattern["detail"]["pipeline"], serde_json::json!([id("pipeline")]));
        let targets = events.list_targets_by_rule().rule(id("pipeline_failed")).send().await.unwrap();
        let arns: Vec<&str> = targets.targets().iter().map(|t| t.arn()).collect();
        assert_eq!(arns, vec![topic.as_str()]);
        let sns = aws_sdk_sns::Client::new(&cfg);
        let attrs = sns.get_topic_attributes().topic_arn(&topic).send().await.unwrap();
        let policy: serde_json::Value = serde_json::from_str(&attrs.attributes().unwrap()["Policy"]).unwrap();
        let publishers: Vec<&serde_json::Value> =
            policy["Statement"].as_array().unwrap().iter().map(|s| &s["Principal"]["Service"]).collect();
        assert!(publishers.contains(&&serde_json::json!("events.amazonaws.com")), "{policy}");

        let s3 = moto.s3().await;
        // AES256 is what AWS gives every new bucket (since January 2023), so
        // deployctl writes no configuration for it; moto 5.2.5 has no default
        // and answers ServerSideEncryptionConfigurationNotFoundError.
        match s3.get_bucket_encryption().bucket("stock-dashboard-prod-pipeline-artifacts").send().await {
            Ok(enc) => {
                let rule = &enc.server_side_encryption_configuration().unwrap().rules()[0];
                let algorithm = rule.apply_server_side_encryption_by_default().map(|d| d.sse_algorithm().as_str());
                assert_eq!(algorithm, Some("AES256"));
            }
            Err(e) => {
                let code = aws_sdk_s3::error::ProvideErrorMetadata::code(&e);
                assert_eq!(code, Some("ServerSideEncryptionConfigurationNotFoundError"), "{e:?}");
            }
        }
        for body in ["one", "two"] {
            s3.put_object()
                .bucket("stock-dashboard-prod-pipeline-artifacts")
                .key("probe")
                .body(body.as_bytes().to_vec().into())
                .send()
                .await
                .unwrap();
        }
        let versions = s3
            .list_object_versions()
            .bucket("stock-dashboard-prod-pipeline-artifacts")
            .prefix("probe")
            .send()
            .await
            .unwrap();
        assert_eq!(versions.versions().len(), 2, "the artifact bucket keeps versions");
    });

    // The pipeline reads its token from the Secrets Manager secret, not from
    // the environment: rotated there, it shows in the diff as a sensitive
    // change of the pipeline alone, and the next up sets it.
    let source_token = |moto: &Moto| -> Option<String> {
        rt().block_on(async {
            let cp = aws_sdk_codepipeline::Client::new(&moto.sdk_config().await);
            let pipe = cp.get_pipeline().name(id("pipeline")).send().await.unwrap();
            // moto keeps the token unmasked (AWS shows ****): what was sent.
            pipe.pipeline().unwrap().stages()[0].actions()[0].configuration().unwrap().get("OAuthToken").cloned()
        })
    };
    assert_eq!(source_token(&moto).as_deref(), Some(GITHUB_CANARY));
    rt().block_on(async {
        let sm = aws_sdk_secretsmanager::Client::new(&moto.sdk_config().await);
        sm.put_secret_value().secret_id(id("github_token")).secret_string(ROTATED_CANARY).send().await.unwrap();
    });
    let r = up(&p, &["diff", &spec, "--detailed-exitcode", "--json"]);
    assert_eq!(r.code, 2, "{r:?}");
    let plan = r.json();
    let changed: Vec<(String, Vec<String>)> = plan["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["action"] != "no_op")
        .map(|r| {
            let fields = r["changes"].as_array().unwrap().iter().map(|c| c["field"].as_str().unwrap().to_string());
            (format!("{}:{}", r["address"].as_str().unwrap(), r["action"].as_str().unwrap()), fields.collect())
        })
        .collect();
    assert_eq!(changed, vec![("pipeline:update".to_string(), vec!["github_oauth_token".to_string()])]);
    let r = up(&p, &["up", &spec, "--yes"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(source_token(&moto).as_deref(), Some(ROTATED_CANARY));
    assert_eq!(up(&p, &["diff", &spec, "--detailed-exitcode"]).code, 0);
    s3_state(&moto, "prod");

    // In place: a stage, an alarm threshold, a build's compute type.
    let plan = up(
        &p,
        &[
            "diff",
            &spec,
            "--var",
            "github_branch=release",
            "--var",
            "cpu_alarm_threshold=90",
            "--var",
            "build_compute_type=BUILD_GENERAL1_MEDIUM",
            "--json",
        ],
    )
    .json();
    let mut changes: Vec<(String, String)> = plan["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["action"] != "no_op")
        .map(|r| (r["address"].as_str().unwrap().to_string(), r["action"].as_str().unwrap().to_string()))
        .collect();
    changes.sort();
    assert_eq!(
        changes,
        [("build", "update"), ("cpu_high", "update"), ("pipeline", "update")]
            .map(|(a, b)| (a.to_string(), b.to_string()))
    );
    // moto has no UpdateProject (CodeBuild's in-place update is covered by
    // crates/aws/tests/suite/mocked_codebuild_propagation.rs); apply the other two.
    let r = up(&p, &["up", &spec, "--var", "github_branch=release", "--var", "cpu_alarm_threshold=90", "--yes"]);
    assert_eq!(r.code, 0, "{r:?}");
    rt().block_on(async {
        let cfg = moto.sdk_config().await;
        let cp = aws_sdk_codepipeline::Client::new(&cfg);
        let pipe = cp.get_pipeline().name(id("pipeline")).send().await.unwrap();
        let source = &pipe.pipeline().unwrap().stages()[0].actions()[0];
        assert_eq!(source.configuration().unwrap()["Branch"], "release");
        let cw = aws_sdk_cloudwatch::Client::new(&cfg);
        let alarms = cw.describe_alarms().alarm_names(id("cpu_high")).send().await.unwrap();
        assert_eq!(alarms.metric_alarms()[0].threshold(), Some(90.0));
    });
    let r = up(
        &p,
        &["diff", &spec, "--var", "github_branch=release", "--var", "cpu_alarm_threshold=90", "--detailed-exitcode"],
    );
    assert_eq!(r.code, 0, "{r:?}");
    let r = up(&p, &["up", &spec, "--yes"]);
    assert_eq!(r.code, 0, "{r:?}");

    // A new image: exactly a new task definition revision and a service update.
    let plan = up(&p, &["diff", &spec, "--var", "image_tag=v2", "--json"]);
    assert_eq!(plan.code, 0, "{plan:?}");
    let plan = plan.json();
    let mut changes: Vec<(String, String)> = plan["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["action"] != "no_op")
        .map(|r| (r["address"].as_str().unwrap().to_string(), r["action"].as_str().unwrap().to_string()))
        .collect();
    changes.sort();
    assert_eq!(
        changes,
        vec![("service".to_string(), "update".to_string()), ("task".to_string(), "replace".to_string())]
    );
    // …shown as the one line that changed: what ECS filled in (`cpu: 0`,
    // `essential: true`, a port's protocol) is the model's default on both
    // sides, not a removal.
    let text = up(&p, &["diff", &spec, "--var", "image_tag=v2", "--no-color"]);
    let nested: Vec<&str> = text
        .stdout
        .lines()
        .skip_while(|l| !l.contains("~ container_definitions:"))
        .skip(1)
        .take_while(|l| l.starts_with("          "))
        .collect();
    assert_eq!(nested.len(), 2, "{}", text.stdout);
    assert!(nested[1].trim().starts_with("~ image = ") && nested[1].ends_with(":v2\""), "{}", text.stdout);
    let old_task = id("task");
    let r = up(&p, &["up", &spec, "--var", "image_tag=v2", "--yes"]);
    assert_eq!(r.code, 0, "{r:?}");
    let state = s3_state(&moto, "prod");
    let new_task = state["resources"]["task"]["id"].as_str().unwrap().to_string();
    assert_ne!(new_task, old_task);
    rt().block_on(async {
        let ecs = aws_sdk_ecs::Client::new(&moto.sdk_config().await);
        let svc = ecs
            .describe_services()
            .cluster(state["resources"]["cluster"]["id"].as_str().unwrap())
            .services(state["resources"]["service"]["id"].as_str().unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(svc.services()[0].task_definition(), Some(new_task.as_str()));
        let td = ecs.describe_task_definition().task_definition(&new_task).send().await.unwrap();
        assert!(td.task_definition().unwrap().container_definitions()[0].image().unwrap().ends_with(":v2"));
        // The previous revision stays describable, for a rollback.
        assert!(ecs.describe_task_definition().task_definition(&old_task).send().await.is_ok());
    });
    assert_eq!(up(&p, &["diff", &spec, "--var", "image_tag=v2", "--detailed-exitcode"]).code, 0);

    let out = p.ok(&["output", &spec, "--json"]).json();
    assert!(out["alb_dns_name"].as_str().is_some_and(|d| !d.is_empty()), "{out}");

    let r = up(&p, &["destroy", &spec, "--yes"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(rt().block_on(async { tagged(&moto.ec2().await, "stock-dashboard").await }), vec![]);
    assert_eq!(s3_state(&moto, "prod")["resources"], serde_json::json!({}));
    assert!(p.state("stock-dashboard/prod").is_none(), "state went to the local backend");
    rt().block_on(async {
        let cfg = moto.sdk_config().await;
        let elb = aws_sdk_elasticloadbalancingv2::Client::new(&cfg);
        assert!(elb.describe_load_balancers().send().await.unwrap().load_balancers().is_empty());
        assert!(elb.describe_target_groups().send().await.unwrap().target_groups().is_empty());
        let ecr = aws_sdk_ecr::Client::new(&cfg);
        assert!(ecr.describe_repositories().send().await.unwrap().repositories().is_empty());
        no_active_clusters(&aws_sdk_ecs::Client::new(&cfg)).await;
        let iam = aws_sdk_iam::Client::new(&cfg);
        let roles = iam.list_roles().send().await.unwrap();
        assert!(!roles.roles().iter().any(|r| r.role_name().starts_with("stock-dashboard")), "{roles:?}");
        let logs = aws_sdk_cloudwatchlogs::Client::new(&cfg);
        assert!(logs.describe_log_groups().send().await.unwrap().log_groups().is_empty());
        let events = aws_sdk_eventbridge::Client::new(&cfg);
        assert!(events.list_rules().send().await.unwrap().rules().is_empty());
        let sns = aws_sdk_sns::Client::new(&cfg);
        assert!(sns.list_topics().send().await.unwrap().topics().is_empty());
    });
}

/// Seed 000's environments are instances of their own: prod and staging of
/// stacks/prod.yaml run side by side in one account, each with its own
/// state object and resources, and both diff clean.
#[test]
fn prod_and_staging_of_the_dashboard_stand_side_by_side_and_both_diff_clean() {
    let moto = Moto::start();
    let p = Project::new(&moto);
    let spec = spec();
    let staging = repo_file("stacks/env/stock-dashboard-staging.yaml").display().to_string();
    p.ok(&["init", &spec]);
    let r = up(&p, &["up", &spec, "--yes"]);
    assert_eq!(r.code, 0, "{r:?}");
    let r = up(&p, &["up", &spec, "--var-file", &staging, "--yes", "--json"]);
    assert_eq!(r.code, 0, "{r:?}");
    let summary = r.json();
    assert_eq!(summary["plan"]["update"], 0, "staging touches nothing of prod's: {summary}");
    assert_eq!(summary["plan"]["delete"], 0, "{summary}");
    assert_eq!(up(&p, &["diff", &spec, "--detailed-exitcode"]).code, 0);
    assert_eq!(up(&p, &["diff", &spec, "--var-file", &staging, "--detailed-exitcode"]).code, 0);

    let (prod_state, staging_state) = (s3_state(&moto, "prod"), s3_state(&moto, "staging"));
    assert_eq!(prod_state["environment"], "prod");
    assert_eq!(staging_state["environment"], "staging");
    let ids = |s: &serde_json::Value| -> Vec<String> {
        s["resources"].as_object().unwrap().values().filter_map(|r| r["id"].as_str().map(str::to_string)).collect()
    };
    let (prod_ids, staging_ids) = (ids(&prod_state), ids(&staging_state));
    // Staging shares one NAT between its zones: one NAT and one address fewer.
    assert_eq!((prod_ids.len(), staging_ids.len()), (39, 37), "each instance has its own");
    assert!(prod_ids.iter().all(|id| !staging_ids.contains(id)), "no resource is shared");
    rt().block_on(async {
        let cfg = moto.sdk_config().await;
        let ecs = aws_sdk_ecs::Client::new(&cfg);
        let clusters = ecs
            .describe_clusters()
            .clusters("stock-dashboard-prod")
            .clusters("stock-dashboard-staging")
            .send()
            .await
            .unwrap();
        assert_eq!(clusters.clusters().iter().filter(|c| c.status() == Some("ACTIVE")).count(), 2, "{clusters:?}");
        let iam = aws_sdk_iam::Client::new(&cfg);
        let roles = iam.list_roles().send().await.unwrap();
        let names: Vec<&str> = roles.roles().iter().map(|r| r.role_name()).collect();
        for env in ["prod", "staging"] {
            assert!(names.iter().any(|n| n.starts_with(&format!("stock-dashboard-{env}-"))), "{env}: {names:?}");
        }
    });

    let r = up(&p, &["destroy", &spec, "--var-file", &staging, "--yes"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(s3_state(&moto, "staging")["resources"], serde_json::json!({}));
    assert_eq!(up(&p, &["diff", &spec, "--detailed-exitcode"]).code, 0, "prod is intact");
    assert_eq!(rt().block_on(async { tagged(&moto.ec2().await, "stock-dashboard/staging").await }), vec![]);
    assert!(!rt().block_on(async { tagged(&moto.ec2().await, "stock-dashboard/prod").await }).is_empty());
}
