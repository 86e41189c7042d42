//! Seed 001 (the Node.js canary) whole, from stacks/canary.yaml, on the
//! local endpoint: up, a diff that is clean but for what moto drops, the
//! deployment group, the service's controller and the endpoints checked
//! through the AWS APIs, a new image planned as a new revision deployed by
//! CodeDeploy, and a destroy.
//!
//! What moto 5.2.5 cannot do is worked around here, not in deployctl: it
//! answers a deployment group's alarms as none (so the plan would put them
//! back), and 500 to deleting a deployment group or an application (so the
//! destroy stops there; the test forgets those two and destroys the rest).
//! The deployment itself, its traffic shifting and its rollback, is in the
//! aws crate's mocked tests.

use crate::harness::*;
use serde_json::Value;

const REGION: &str = "eu-central-1";

fn spec() -> String {
    repo_file("stacks/canary.yaml").to_str().unwrap().to_string()
}

async fn in_frankfurt(moto: &Moto) -> aws_config::SdkConfig {
    moto.sdk_config().await.into_builder().region(aws_config::Region::new(REGION)).build()
}

/// `(address, action, fields changed)` of what a plan changes.
fn changed(plan: &Value) -> Vec<(String, String, Vec<String>)> {
    plan["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["action"] != "no_op")
        .map(|r| {
            let fields =
                r["changes"].as_array().map(|c| c.iter().map(|c| c["field"].as_str().unwrap().to_string()).collect());
            (
                r["address"].as_str().unwrap().to_string(),
                r["action"].as_str().unwrap().to_string(),
                fields.unwrap_or_default(),
            )
        })
        .collect()
}

fn resource<'a>(plan: &'a Value, address: &str) -> &'a Value {
    plan["resources"].as_array().unwrap().iter().find(|r| r["address"] == address).unwrap()
}

#[test]
fn seed_001_whole_deploys_blue_green_through_codedeploy_and_plans_a_new_image_as_a_deployment() {
    let moto = Moto::start_with(&[("MOTO_ACM_VALIDATION_WAIT", "0")]);
    let p = Project::new(&moto);
    let spec = spec();
    // The certificate the HTTPS listeners look up, issued beforehand.
    rt().block_on(async {
        let acm = aws_sdk_acm::Client::new(&in_frankfurt(&moto).await);
        let arn = acm.request_certificate().domain_name("canary.example.com").send().await.unwrap();
        let arn = arn.certificate_arn().unwrap();
        acm.describe_certificate().certificate_arn(arn).send().await.unwrap();
    });
    p.ok(&["up", &spec, "--yes"]);

    let alarm_lost = vec![("deploy_group".to_string(), "update".to_string(), vec!["alarms".to_string()])];
    let plan = p.ok(&["diff", &spec, "--json"]).json();
    assert_eq!(changed(&plan), alarm_lost, "clean but for the alarms moto does not answer: {plan}");
    let group = resource(&plan, "deploy_group");
    assert_eq!(group["changes"][0]["after"]["value"], serde_json::json!(["node-canary-prod-success-rate"]));

    let out = p.ok(&["output", &spec, "--json"]).json();
    assert_eq!(out["deployment_group"], "node-canary-prod:web");
    rt().block_on(async {
        let cfg = in_frankfurt(&moto).await;
        let cd = aws_sdk_codedeploy::Client::new(&cfg);
        let g = cd.get_deployment_group().application_name("node-canary-prod").deployment_group_name("web");
        let g = g.send().await.unwrap().deployment_group_info.unwrap();
        let style = g.deployment_style().unwrap();
        assert_eq!(style.deployment_type().map(|t| t.as_str()), Some("BLUE_GREEN"));
        assert_eq!(style.deployment_option().map(|o| o.as_str()), Some("WITH_TRAFFIC_CONTROL"));
        assert_eq!(g.deployment_config_name(), Some("CodeDeployDefault.ECSLinear10PercentEvery1Minutes"));
        let pair = &g.load_balancer_info().unwrap().target_group_pair_info_list()[0];
        let tgs: Vec<&str> = pair.target_groups().iter().filter_map(|t| t.name()).collect();
        assert_eq!(tgs, ["node-canary-prod-blue", "node-canary-prod-green"]);
        let elb = aws_sdk_elasticloadbalancingv2::Client::new(&cfg);
        let listeners = elb.describe_listeners().listener_arns(&pair.prod_traffic_route().unwrap().listener_arns()[0]);
        assert_eq!(
            listeners.send().await.unwrap().listeners()[0].port(),
            Some(443),
            "production is the HTTPS listener"
        );
        let test = pair.test_traffic_route().unwrap().listener_arns()[0].clone();
        assert_eq!(
            elb.describe_listeners().listener_arns(test).send().await.unwrap().listeners()[0].port(),
            Some(8443)
        );
        let rollback = g.auto_rollback_configuration().unwrap();
        assert!(rollback.enabled());
        let mut events: Vec<&str> = rollback.events().iter().map(|e| e.as_str()).collect();
        events.sort();
        assert_eq!(events, ["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM"]);
        let ecs_service = &g.ecs_services()[0];
        assert_eq!(
            (ecs_service.cluster_name(), ecs_service.service_name()),
            (Some("node-canary-prod"), Some("node-canary-prod"))
        );

        // The alarm the group stops on: metric math to a success rate.
        let cw = aws_sdk_cloudwatch::Client::new(&cfg);
        let alarms = cw.describe_alarms().alarm_names("node-canary-prod-success-rate").send().await.unwrap();
        let alarm = &alarms.metric_alarms()[0];
        assert_eq!(alarm.threshold(), Some(99.5));
        assert!(alarm.metrics().iter().any(|m| m.expression() == Some("100 * (1 - errors / requests)")));

        // The service runs under CodeDeploy's controller.
        let ecs = aws_sdk_ecs::Client::new(&cfg);
        let svc =
            ecs.describe_services().cluster("node-canary-prod").services("node-canary-prod").send().await.unwrap();
        let svc = &svc.services()[0];
        assert_eq!(svc.deployment_controller().map(|c| c.r#type().as_str()), Some("CODE_DEPLOY"));
        assert_eq!(svc.load_balancers()[0].container_port(), Some(3000));

        // No NAT: the private subnets reach AWS through the endpoints.
        let ec2 = aws_sdk_ec2::Client::new(&cfg);
        let endpoints = ec2.describe_vpc_endpoints().send().await.unwrap();
        let mut names: Vec<&str> = endpoints.vpc_endpoints().iter().filter_map(|e| e.service_name()).collect();
        names.sort();
        assert_eq!(
            names,
            [
                "com.amazonaws.eu-central-1.ecr.api",
                "com.amazonaws.eu-central-1.ecr.dkr",
                "com.amazonaws.eu-central-1.logs",
                "com.amazonaws.eu-central-1.s3"
            ]
        );
        assert!(ec2.describe_nat_gateways().send().await.unwrap().nat_gateways().is_empty());
    });

    // A new image: a new revision of the task definition, deployed by
    // CodeDeploy; not a new service, and not an UpdateService.
    let plan = p.ok(&["diff", &spec, "--var", "image_tag=v2", "--json"]).json();
    let mut shipped = changed(&plan);
    shipped.retain(|c| c.0 != "deploy_group");
    shipped.sort();
    assert_eq!(
        shipped,
        [
            ("service".to_string(), "update".to_string(), vec!["task_definition".to_string()]),
            ("task".to_string(), "replace".to_string(), vec!["container_definitions".to_string()]),
        ]
    );
    let reasons: Vec<&str> =
        resource(&plan, "service")["reasons"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    assert_eq!(
        reasons,
        ["task_definition: deployed by CodeDeploy (node-canary-prod/web), blue/green, not by UpdateService"]
    );

    // moto answers 500 to deleting the group and the application (the
    // aws crate's codedeploy_roundtrip.rs shows both deletes as AWS takes
    // them): they are forgotten, and the rest is destroyed through the
    // stack without them (with them, destroy would find them again).
    p.ok(&["state", "rm", &spec, "deploy_group", "deploy_app"]);
    let text = std::fs::read_to_string(&spec).unwrap();
    let (head, tail) = text.split_once("  deploy_app:\n").unwrap();
    let outputs = &tail[tail.find("\noutputs:\n").unwrap()..];
    let without = format!("{head}{}", outputs.replace("  deployment_group: ${deploy_group.id}\n", ""));
    let rest = p.spec("canary-without-codedeploy.yaml", &without).display().to_string();
    let destroy = p.ok(&["destroy", &rest, "--yes"]);
    assert!(!destroy.stdout.contains("codedeploy."), "forgotten, not deleted: {destroy:?}");
    rt().block_on(async {
        let cfg = in_frankfurt(&moto).await;
        no_active_clusters(&aws_sdk_ecs::Client::new(&cfg)).await;
        let elb = aws_sdk_elasticloadbalancingv2::Client::new(&cfg);
        assert!(elb.describe_load_balancers().send().await.unwrap().load_balancers().is_empty());
        assert!(elb.describe_target_groups().send().await.unwrap().target_groups().is_empty());
        let ec2 = aws_sdk_ec2::Client::new(&cfg);
        let vpcs = ec2.describe_vpcs().send().await.unwrap();
        assert!(vpcs.vpcs().iter().all(|v| v.is_default() == Some(true)), "only the default VPC is left");
        let endpoints = ec2.describe_vpc_endpoints().send().await.unwrap();
        assert!(
            endpoints.vpc_endpoints().iter().all(|e| e.state().map(|s| s.as_str()) == Some("deleted")),
            "{endpoints:?}"
        );
        let cw = aws_sdk_cloudwatch::Client::new(&cfg);
        assert!(cw.describe_alarms().send().await.unwrap().metric_alarms().is_empty());
        // What moto cannot delete is all that is left.
        let cd = aws_sdk_codedeploy::Client::new(&cfg);
        assert_eq!(cd.list_applications().send().await.unwrap().applications(), ["node-canary-prod"]);
    });
}
