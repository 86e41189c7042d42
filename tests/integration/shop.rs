//! Seed 004 (AWSomeShop) whole, from stacks/shop.yaml, on the local
//! endpoint: init, up, a clean diff, everything the seed names checked
//! through the AWS APIs, the database's changes classified, no password or
//! client secret in any byte deployctl wrote or printed, a destroy refused
//! while the database is protected, and then a destroy that leaves nothing
//! but the database's final snapshot.

use crate::harness::*;

fn spec(name: &str) -> String {
    repo_file(name).to_str().unwrap().to_string()
}

const STATE_BUCKET: &str = "awsomeshop-deployctl-state";
const STATE_KEY: &str = "core/prod.json";

/// The SDK's configuration for the endpoint, in the stack's region.
async fn in_ohio(moto: &Moto) -> aws_config::SdkConfig {
    moto.sdk_config().await.into_builder().region(aws_config::Region::new("us-east-2")).build()
}

fn changed(plan: &serde_json::Value) -> Vec<(String, String)> {
    plan["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["action"] != "no_op")
        .map(|r| (r["address"].as_str().unwrap().to_string(), r["action"].as_str().unwrap().to_string()))
        .collect()
}

fn reasons(plan: &serde_json::Value, address: &str) -> Vec<String> {
    let r = plan["resources"].as_array().unwrap().iter().find(|r| r["address"] == address).unwrap();
    r["reasons"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect()
}

#[test]
fn seed_004_whole_deploys_with_its_database_users_certificate_and_alarms_then_destroys_to_a_final_snapshot() {
    // moto issues a requested certificate this many seconds after the
    // request, on the next read (AWS: once the CNAME resolves).
    let moto = Moto::start_with(&[("MOTO_ACM_VALIDATION_WAIT", "2")]);
    let p = Project::new(&moto);
    let spec = spec("stacks/shop.yaml");
    let mut printed = String::new();
    let mut keep = |r: Run| {
        printed.push_str(&r.stdout);
        printed.push_str(&r.stderr);
        r
    };
    keep(p.ok(&["init", &spec]));
    keep(p.ok(&["up", &spec, "--yes"]));
    let diff = keep(p.run(&["diff", &spec, "--detailed-exitcode"]));
    assert_eq!(diff.code, 0, "a fresh shop diffs clean:\n{diff:?}");
    let plan_json = keep(p.ok(&["diff", &spec, "--json"])).stdout;
    let out = keep(p.ok(&["output", &spec, "--json"])).json();
    let pool_id = out["user_pool"].as_str().unwrap().to_string();
    let client_id = out["client"].as_str().unwrap().to_string();
    let db_secret_arn = out["database_secret"].as_str().unwrap().to_string();
    assert!(out["database"].as_str().is_some_and(|e| e.ends_with(":3306")), "{out}");

    let (state_text, secrets) = rt().block_on(async {
        let cfg = in_ohio(&moto).await;
        let state = moto.s3().await.get_object().bucket(STATE_BUCKET).key(STATE_KEY).send().await.unwrap();
        let state = String::from_utf8(state.body.collect().await.unwrap().to_vec()).unwrap();

        // The database: the seed's settings, private, encrypted, with a
        // master secret RDS manages.
        let rds = aws_sdk_rds::Client::new(&cfg);
        let db = rds.describe_db_instances().db_instance_identifier("awsomeshop-prod").send().await.unwrap();
        let db = &db.db_instances()[0];
        assert_eq!((db.engine(), db.engine_version()), (Some("mysql"), Some("8.0.35")));
        assert_eq!(db.db_instance_class(), Some("db.t3.micro"));
        assert_eq!((db.allocated_storage(), db.storage_type()), (Some(20), Some("gp2")));
        assert_eq!(db.storage_encrypted(), Some(true));
        assert_eq!(db.publicly_accessible(), Some(false));
        assert_eq!(db.backup_retention_period(), Some(30));
        assert_eq!(db.preferred_backup_window(), Some("03:00-04:00"));
        assert_eq!(db.preferred_maintenance_window(), Some("sun:04:30-sun:05:30"));
        assert_eq!(db.copy_tags_to_snapshot(), Some(true));
        assert_eq!(db.deletion_protection(), Some(true));
        assert_eq!(db.db_subnet_group().and_then(|g| g.db_subnet_group_name()), Some("awsomeshop-db-subnet-group"));
        assert_eq!(db.master_user_secret().and_then(|s| s.secret_arn()), Some(db_secret_arn.as_str()));
        let sm = aws_sdk_secretsmanager::Client::new(&cfg);
        let db_secret = sm.get_secret_value().secret_id(&db_secret_arn).send().await.unwrap();
        let db_secret: serde_json::Value = serde_json::from_str(db_secret.secret_string().unwrap()).unwrap();
        let password = db_secret["password"].as_str().unwrap().to_string();

        // The pool's policy, the client's flows and validity.
        let cognito = aws_sdk_cognitoidentityprovider::Client::new(&cfg);
        let pool = cognito.describe_user_pool().user_pool_id(&pool_id).send().await.unwrap();
        let pool = pool.user_pool().unwrap();
        assert_eq!(pool.name(), Some("awsomeshop-users"));
        assert_eq!(pool.username_attributes().iter().map(|a| a.as_str()).collect::<Vec<_>>(), ["email"]);
        assert_eq!(pool.mfa_configuration().map(|m| m.as_str()), Some("OPTIONAL"));
        let policy = pool.policies().and_then(|p| p.password_policy()).unwrap();
        assert_eq!(
            (policy.minimum_length(), policy.require_uppercase(), policy.require_symbols()),
            (Some(8), true, false)
        );
        let client = cognito.describe_user_pool_client().user_pool_id(&pool_id).client_id(&client_id).send().await;
        let client = client.unwrap().user_pool_client.unwrap();
        let mut flows: Vec<&str> = client.explicit_auth_flows().iter().map(|f| f.as_str()).collect();
        flows.sort();
        assert_eq!(flows, ["ALLOW_REFRESH_TOKEN_AUTH", "ALLOW_USER_PASSWORD_AUTH"]);
        assert_eq!((client.access_token_validity(), client.refresh_token_validity()), (Some(60), 30));
        let client_secret = client.client_secret().unwrap().to_string();
        // The Secrets Manager secret the task reads holds it, put there by
        // deployctl from the cognito: source.
        let copy = sm.get_secret_value().secret_id("awsomeshop/prod/cognito").send().await.unwrap();
        assert_eq!(copy.secret_string(), Some(client_secret.as_str()));

        // The certificate's names; HTTPS with it, HTTP redirected.
        let acm = aws_sdk_acm::Client::new(&cfg);
        let certs = acm.list_certificates().send().await.unwrap();
        let cert_arn = certs.certificate_summary_list()[0].certificate_arn().unwrap().to_string();
        let cert = acm.describe_certificate().certificate_arn(&cert_arn).send().await.unwrap();
        let mut names = cert.certificate().unwrap().subject_alternative_names().to_vec();
        names.sort();
        assert_eq!(names, ["*.awsomeshop.example.com", "awsomeshop.example.com"]);
        let elb = aws_sdk_elasticloadbalancingv2::Client::new(&cfg);
        let lbs = elb.describe_load_balancers().send().await.unwrap();
        let lb_arn = lbs.load_balancers()[0].load_balancer_arn().unwrap().to_string();
        let listeners = elb.describe_listeners().load_balancer_arn(&lb_arn).send().await.unwrap();
        let by_port = |port| listeners.listeners().iter().find(|l| l.port() == Some(port)).unwrap();
        assert_eq!(by_port(443).certificates()[0].certificate_arn(), Some(cert_arn.as_str()));
        let redirect = by_port(80).default_actions()[0].redirect_config().unwrap();
        assert_eq!((redirect.protocol(), redirect.port()), (Some("HTTPS"), Some("443")));
        // Access logs to the bucket, under access-logs/.
        let attrs = elb.describe_load_balancer_attributes().load_balancer_arn(&lb_arn).send().await.unwrap();
        let attr = |k: &str| {
            attrs.attributes().iter().find(|a| a.key() == Some(k)).and_then(|a| a.value()).map(str::to_string)
        };
        assert_eq!(attr("access_logs.s3.enabled").as_deref(), Some("true"));
        assert_eq!(attr("access_logs.s3.bucket").as_deref(), Some("awsomeshop-prod-alb-logs"));
        assert_eq!(attr("access_logs.s3.prefix").as_deref(), Some("access-logs"));

        // Scaling on CPU 70 % and memory 80 %, 300 s cooldowns, 2 to 10.
        let aas = aws_sdk_applicationautoscaling::Client::new(&cfg);
        let ns = aws_sdk_applicationautoscaling::types::ServiceNamespace::Ecs;
        let targets = aas.describe_scalable_targets().service_namespace(ns.clone()).send().await.unwrap();
        let t = &targets.scalable_targets()[0];
        assert_eq!((t.min_capacity(), t.max_capacity()), (2, 10));
        let policies = aas.describe_scaling_policies().service_namespace(ns).send().await.unwrap();
        let mut seen: Vec<(String, f64, Option<i32>, Option<i32>)> = policies
            .scaling_policies()
            .iter()
            .map(|p| {
                let c = p.target_tracking_scaling_policy_configuration().unwrap();
                let metric = c.predefined_metric_specification().unwrap().predefined_metric_type().as_str();
                (metric.to_string(), c.target_value(), c.scale_in_cooldown(), c.scale_out_cooldown())
            })
            .collect();
        seen.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(
            seen,
            [
                ("ECSServiceAverageCPUUtilization".to_string(), 70.0, Some(300), Some(300)),
                ("ECSServiceAverageMemoryUtilization".to_string(), 80.0, Some(300), Some(300)),
            ]
        );

        // The task's secrets: the database's keys and the client secret.
        let ecs = aws_sdk_ecs::Client::new(&cfg);
        let td = ecs.describe_task_definition().task_definition("awsomeshop-core-task").send().await.unwrap();
        let container = &td.task_definition().unwrap().container_definitions()[0];
        let secrets: Vec<(&str, &str)> = container.secrets().iter().map(|s| (s.name(), s.value_from())).collect();
        let password_from = format!("{db_secret_arn}:password::");
        assert!(secrets.contains(&("DB_PASSWORD", password_from.as_str())), "{secrets:?}");
        assert!(secrets.iter().any(|(n, v)| *n == "COGNITO_CLIENT_SECRET" && v.contains("awsomeshop/prod/cognito")));

        // The alarms, each to the topic.
        let cw = aws_sdk_cloudwatch::Client::new(&cfg);
        let alarms = cw.describe_alarms().send().await.unwrap();
        let topic = aws_sdk_sns::Client::new(&cfg).list_topics().send().await.unwrap();
        let topic_arn = topic.topics()[0].topic_arn().unwrap().to_string();
        let mut metrics: Vec<(String, String, f64)> = alarms
            .metric_alarms()
            .iter()
            // Target tracking makes alarms of its own, as on AWS.
            .filter(|a| !a.alarm_name().is_some_and(|n| n.starts_with("TargetTracking-")))
            .map(|a| {
                assert_eq!(a.alarm_actions(), std::slice::from_ref(&topic_arn), "{a:?}");
                (a.namespace().unwrap().into(), a.metric_name().unwrap().into(), a.threshold().unwrap())
            })
            .collect();
        metrics.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
        let want: Vec<(String, String, f64)> = [
            ("AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", 10.0),
            ("AWS/ApplicationELB", "HealthyHostCount", 1.0),
            ("AWS/ApplicationELB", "TargetResponseTime", 5.0),
            ("AWS/ECS", "CPUUtilization", 80.0),
            ("AWS/ECS", "MemoryUtilization", 85.0),
            ("AWS/RDS", "CPUUtilization", 80.0),
            ("AWS/RDS", "DatabaseConnections", 53.0),
            ("AWS/RDS", "FreeStorageSpace", 2147483648.0),
        ]
        .iter()
        .map(|(n, m, t)| (n.to_string(), m.to_string(), *t))
        .collect();
        assert_eq!(metrics, want);

        // The dashboard, with its three widgets.
        let dash = cw.get_dashboard().dashboard_name("awsomeshop-prod").send().await.unwrap();
        let body: serde_json::Value = serde_json::from_str(dash.dashboard_body().unwrap()).unwrap();
        let titles: Vec<&str> =
            body["widgets"].as_array().unwrap().iter().filter_map(|w| w["properties"]["title"].as_str()).collect();
        assert_eq!(titles, ["Service CPU and memory", "Load balancer", "Database"]);
        (state, [password, client_secret])
    });

    // Backup retention and instance class change in place, one now and one
    // at the window; a new major version and another subnet group replace.
    let plan = keep(p.ok(&["diff", &spec, "--var", "db_backup_days=14", "--json"])).json();
    assert_eq!(changed(&plan), [("db".to_string(), "update".to_string())]);
    assert!(
        reasons(&plan, "db").contains(&"applies now: backup_retention_period".to_string()),
        "{:?}",
        reasons(&plan, "db")
    );
    let plan = keep(p.ok(&["diff", &spec, "--var", "db_instance_class=db.t3.small", "--json"])).json();
    assert_eq!(changed(&plan), [("db".to_string(), "update".to_string())]);
    assert!(
        reasons(&plan, "db")
            .iter()
            .any(|r| r.starts_with("applies at the next maintenance window (sun:04:30-sun:05:30 UTC): instance_class")),
        "{:?}",
        reasons(&plan, "db")
    );
    let text = keep(p.ok(&["diff", &spec, "--var", "db_instance_class=db.t3.small"])).stdout;
    assert!(text.contains("applies at the next maintenance window"), "{text}");
    let major = keep(p.run(&["diff", &spec, "--var", "db_engine_version=8.4.3", "--json"]));
    // Protected, the instance cannot be replaced: the plan is refused.
    assert_eq!(major.code, 1, "{major:?}");
    assert!(
        major.stderr.contains("rds.db_instance.db") && major.stderr.contains("deletion_protection: false"),
        "{major:?}"
    );

    // Destroy while protected: refused before anything changes.
    let refused = keep(p.run(&["destroy", &spec, "--yes"]));
    assert_eq!(refused.code, 1, "{refused:?}");
    assert!(refused.stderr.contains("protected from deletion; nothing was changed"), "{refused:?}");
    assert_eq!(p.run(&["diff", &spec, "--detailed-exitcode"]).code, 0, "nothing was changed");

    // Unprotected in place; then the replacements are planned with reasons.
    keep(p.ok(&["up", &spec, "--var", "deletion_protection=false", "--yes"]));
    let unprotected = ["--var", "deletion_protection=false"];
    let args = |extra: &[&str]| -> Vec<String> {
        let mut a: Vec<String> = ["diff", spec.as_str(), "--json"].iter().map(|s| s.to_string()).collect();
        a.extend(unprotected.iter().chain(extra).map(|s| s.to_string()));
        a
    };
    let run = |a: Vec<String>| p.ok(&a.iter().map(String::as_str).collect::<Vec<_>>());
    let plan = keep(run(args(&["--var", "db_engine_version=8.4.3"]))).json();
    assert!(changed(&plan).contains(&("db".to_string(), "replace".to_string())), "{:?}", changed(&plan));
    assert!(
        reasons(&plan, "db").iter().any(|r| r.contains("8.0.35 -> 8.4.3 is a new major version")),
        "{:?}",
        reasons(&plan, "db")
    );
    let shop = std::fs::read_to_string(&spec)
        .unwrap()
        .replace("name: awsomeshop-db-subnet-group", "name: awsomeshop-db-subnets-2");
    let moved = p.spec("shop-moved.yaml", &shop);
    let plan = keep(p.ok(&["diff", moved.to_str().unwrap(), "--json", "--var", "deletion_protection=false"])).json();
    let db = plan["resources"].as_array().unwrap().iter().find(|r| r["address"] == "db").unwrap();
    assert_eq!(db["action"], "replace", "{db}");
    assert!(db["forced_by"].as_array().unwrap().contains(&serde_json::json!("db_subnet_group_name")), "{db}");

    keep(p.ok(&["destroy", &spec, "--var", "deletion_protection=false", "--yes"]));

    // No password or client secret in any byte of state, plan or output.
    for secret in &secrets {
        for (what, text) in [("state", &state_text), ("plan", &plan_json), ("output", &printed)] {
            assert!(!text.contains(secret.as_str()), "a secret is in the {what}");
        }
    }

    rt().block_on(async {
        let cfg = in_ohio(&moto).await;
        let rds = aws_sdk_rds::Client::new(&cfg);
        assert!(rds.describe_db_instances().send().await.unwrap().db_instances().is_empty());
        let snaps = rds.describe_db_snapshots().send().await.unwrap();
        let ids: Vec<&str> = snaps.db_snapshots().iter().filter_map(|s| s.db_snapshot_identifier()).collect();
        assert!(ids.len() == 1 && ids[0].starts_with("awsomeshop-prod-final-"), "the final snapshot: {ids:?}");
        assert!(rds
            .describe_db_subnet_groups()
            .send()
            .await
            .unwrap()
            .db_subnet_groups()
            .iter()
            .all(|g| g.db_subnet_group_name() == Some("default")));
        let cognito = aws_sdk_cognitoidentityprovider::Client::new(&cfg);
        assert!(cognito.list_user_pools().max_results(10).send().await.unwrap().user_pools().is_empty());
        let cw = aws_sdk_cloudwatch::Client::new(&cfg);
        let alarms = cw.describe_alarms().send().await.unwrap();
        let left: Vec<&str> = alarms.metric_alarms().iter().filter_map(|a| a.alarm_name()).collect();
        assert!(left.is_empty(), "{left:?}");
        assert!(cw.list_dashboards().send().await.unwrap().dashboard_entries().is_empty());
        let acm = aws_sdk_acm::Client::new(&cfg);
        assert!(acm.list_certificates().send().await.unwrap().certificate_summary_list().is_empty());
        let buckets = moto.s3().await.list_buckets().send().await.unwrap();
        let left: Vec<&str> = buckets.buckets().iter().filter_map(|b| b.name()).collect();
        assert_eq!(left, [STATE_BUCKET], "only the state bucket remains");
    });
    assert_eq!(rt().block_on(async { tagged(&moto.ec2().await, "awsomeshop").await }), vec![]);
}
