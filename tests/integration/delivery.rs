//! The delivery-tier example stacks: seed 002's five-stage CodeCommit
//! pipeline and seed 004's autoscaled service, each through init → up →
//! a clean diff → destroy, checked through the AWS API.

use crate::harness::*;

fn spec(name: &str) -> String {
    repo_file(name).display().to_string()
}

#[test]
fn seed_002_pipeline_goes_through_init_up_diff_and_destroy() {
    let moto = Moto::start();
    let p = Project::new(&moto);
    let spec = spec("stacks/cicd.yaml");
    p.ok(&["init", &spec]);
    p.ok(&["up", &spec, "--yes"]);
    assert_eq!(p.run(&["diff", &spec, "--detailed-exitcode"]).code, 0);

    rt().block_on(async {
        let cfg = moto.sdk_config().await;
        let cp = aws_sdk_codepipeline::Client::new(&cfg);
        let pipes = cp.list_pipelines().send().await.unwrap();
        assert_eq!(pipes.pipelines().len(), 1);
        let name = pipes.pipelines()[0].name().unwrap();
        let decl = cp.get_pipeline().name(name).send().await.unwrap();
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
        let cb = aws_sdk_codebuild::Client::new(&cfg);
        let names = cb.list_projects().send().await.unwrap();
        let projects = cb.batch_get_projects().set_names(Some(names.projects().to_vec())).send().await.unwrap();
        let mut specs: Vec<String> =
            projects.projects().iter().filter_map(|p| p.source()?.buildspec().map(str::to_string)).collect();
        specs.sort();
        assert_eq!(specs, vec!["backend/buildspec.yml", "frontend/buildspec.yml"]);
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
    });
}

#[test]
fn seed_004_service_scales_on_cpu_and_memory_through_init_up_diff_and_destroy() {
    let moto = Moto::start();
    let p = Project::new(&moto);
    let spec = spec("stacks/shop.yaml");
    p.ok(&["init", &spec]);
    p.ok(&["up", &spec, "--yes"]);
    assert_eq!(p.run(&["diff", &spec, "--detailed-exitcode"]).code, 0);

    rt().block_on(async {
        let aas = aws_sdk_applicationautoscaling::Client::new(&moto.sdk_config().await);
        let ns = aws_sdk_applicationautoscaling::types::ServiceNamespace::Ecs;
        let targets = aas.describe_scalable_targets().service_namespace(ns.clone()).send().await.unwrap();
        let t = &targets.scalable_targets()[0];
        assert_eq!(t.resource_id(), "service/awsomeshop-prod/awsomeshop-core");
        assert_eq!((t.min_capacity(), t.max_capacity()), (2, 10));
        let policies = aas.describe_scaling_policies().service_namespace(ns).send().await.unwrap();
        let mut seen: Vec<(String, f64, Option<i32>)> = policies
            .scaling_policies()
            .iter()
            .map(|p| {
                let c = p.target_tracking_scaling_policy_configuration().unwrap();
                (
                    c.predefined_metric_specification().unwrap().predefined_metric_type().as_str().to_string(),
                    c.target_value(),
                    c.scale_in_cooldown(),
                )
            })
            .collect();
        seen.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(
            seen,
            vec![
                ("ECSServiceAverageCPUUtilization".to_string(), 70.0, Some(300)),
                ("ECSServiceAverageMemoryUtilization".to_string(), 80.0, Some(300)),
            ]
        );
    });

    // Scaling bounds change in place.
    let plan = p.ok(&["diff", &spec, "--var", "max_tasks=12", "--json"]).json();
    let changed: Vec<(&str, &str)> = plan["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["action"] != "no_op")
        .map(|r| (r["address"].as_str().unwrap(), r["action"].as_str().unwrap()))
        .collect();
    assert_eq!(changed, vec![("scaling", "update")]);

    p.ok(&["destroy", &spec, "--yes"]);
    rt().block_on(async {
        let aas = aws_sdk_applicationautoscaling::Client::new(&moto.sdk_config().await);
        let ns = aws_sdk_applicationautoscaling::types::ServiceNamespace::Ecs;
        assert!(aas
            .describe_scaling_policies()
            .service_namespace(ns.clone())
            .send()
            .await
            .unwrap()
            .scaling_policies()
            .is_empty());
        assert!(aas
            .describe_scalable_targets()
            .service_namespace(ns)
            .send()
            .await
            .unwrap()
            .scalable_targets()
            .is_empty());
    });
    assert_eq!(rt().block_on(async { tagged(&moto.ec2().await, "awsomeshop").await }), vec![]);
}
