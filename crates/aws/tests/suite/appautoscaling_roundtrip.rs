//! `appautoscaling.target` and `appautoscaling.policy` against a moto
//! server of this test's own: create through the trait, read back and diff
//! clean against the spec, change in-place fields and check them through
//! the raw API, delete (twice), and read nothing.
//!
//! The figures are seed 004's: the service scales between 2 and 10 tasks,
//! tracking 70 % CPU and 80 % memory with 300 s cooldowns. moto checks that
//! the ECS cluster and service of a target exist, so the test makes them
//! with the raw ECS client.

use deployctl_aws::appautoscaling::policy::{self, Policy};
use deployctl_aws::appautoscaling::target::{self, Target};
use deployctl_aws::kit::Adapter;
use deployctl_aws::Aws;
use deployctl_engine::{Props, ResourceKind, StepAction};
use serde_json::{json, Value};

const REGION: &str = "us-east-1";
const STACK: &str = "rt";

use crate::support::kit::{assert_clean, changes, op, props, read_ctx, read_one, replaces};
use crate::support::moto::Moto;

const DIMENSION: &str = "ecs:service:DesiredCount";

/// A cluster, a task definition and a service of two tasks.
async fn ecs_service(aws: &Aws, cluster: &str, service: &str) {
    use aws_sdk_ecs::types::ContainerDefinition;
    let ecs = aws.ecs();
    ecs.create_cluster().cluster_name(cluster).send().await.unwrap();
    ecs.register_task_definition()
        .family(service)
        .container_definitions(ContainerDefinition::builder().name("app").image("nginx").memory(512).build())
        .send()
        .await
        .unwrap();
    ecs.create_service()
        .cluster(cluster)
        .service_name(service)
        .task_definition(service)
        .desired_count(2)
        .send()
        .await
        .unwrap();
}

fn tracking(metric: &str, target: f64) -> Value {
    json!({
        "target_value": target,
        "predefined_metric_specification": {"predefined_metric_type": metric},
        "scale_in_cooldown": 300,
        "scale_out_cooldown": 300,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn target_and_policies_round_trip() {
    let moto = Moto::start();
    let aws = moto.aws().await;
    let aas = aws.appautoscaling();
    ecs_service(&aws, "rt-cluster", "rt-web").await;
    let targets = Adapter(Target::new(aas.clone()));
    let policies = Adapter(Policy::new(aas.clone()));

    // moto refuses a target whose service does not exist, with a hint.
    let missing = props(json!({"service_namespace": "ecs", "resource_id": "service/rt-cluster/nope",
        "scalable_dimension": DIMENSION, "min_capacity": 1, "max_capacity": 2}));
    let err = targets
        .create(&op(STACK, REGION, "nope", "appautoscaling.target", StepAction::Create, &[]), &missing)
        .await
        .expect_err("no target for a service that does not exist");
    assert!(err.hint.as_deref().unwrap_or_default().contains("resource_id"), "{err:?}");

    // The target: 2..10 tasks.
    let t_want = props(json!({"service_namespace": "ecs", "resource_id": "service/rt-cluster/rt-web",
        "scalable_dimension": DIMENSION, "min_capacity": 2, "max_capacity": 10}));
    let t = targets
        .create(&op(STACK, REGION, "web_scaling", "appautoscaling.target", StepAction::Create, &[]), &t_want)
        .await
        .expect("register the target");
    assert_eq!(t.id, "ecs/service/rt-cluster/rt-web/ecs:service:DesiredCount");
    assert_eq!(t.attributes["resource_id"], json!("service/rt-cluster/rt-web"));
    assert_eq!(t.attributes["service_namespace"], json!("ecs"));
    assert_eq!(t.attributes["scalable_dimension"], json!(DIMENSION));
    let t = read_one(&targets, &read_ctx(STACK, REGION), &t.id).await;
    assert_clean(&target::SCHEMA, &t_want, &t);

    // Policies: CPU at 70 %, memory at 80 %.
    let cpu_want = props(json!({"policy_name": "cpu70", "service_namespace": "ecs",
        "resource_id": "service/rt-cluster/rt-web", "scalable_dimension": DIMENSION,
        "target_tracking_scaling_policy_configuration": tracking("ECSServiceAverageCPUUtilization", 70.0)}));
    let mem_want = props(json!({"policy_name": "memory80", "service_namespace": "ecs",
        "resource_id": "service/rt-cluster/rt-web", "scalable_dimension": DIMENSION,
        "target_tracking_scaling_policy_configuration": tracking("ECSServiceAverageMemoryUtilization", 80.0)}));
    let cpu = policies
        .create(&op(STACK, REGION, "cpu", "appautoscaling.policy", StepAction::Create, &[]), &cpu_want)
        .await
        .expect("create the CPU policy");
    assert!(cpu.id.contains(":scalingPolicy:") && cpu.id.ends_with("policyName/cpu70"), "{}", cpu.id);
    assert_eq!(cpu.attributes["name"], json!("cpu70"));
    let cpu = read_one(&policies, &read_ctx(STACK, REGION), &cpu.id).await;
    assert_clean(&policy::SCHEMA, &cpu_want, &cpu);
    let mem = policies
        .create(&op(STACK, REGION, "memory", "appautoscaling.policy", StepAction::Create, &[]), &mem_want)
        .await
        .expect("create the memory policy");
    assert_clean(&policy::SCHEMA, &mem_want, &read_one(&policies, &read_ctx(STACK, REGION), &mem.id).await);

    // Batched reads leave out what is gone.
    let gone_target = "ecs/service/rt-cluster/gone/ecs:service:DesiredCount".to_string();
    assert_eq!(targets.read(&read_ctx(STACK, REGION), &[t.id.clone(), gone_target.clone()]).await.unwrap().len(), 1);
    let gone_policy = cpu.id.replace("policyName/cpu70", "policyName/gone");
    let ids = [cpu.id.clone(), mem.id.clone(), gone_policy.clone()];
    assert_eq!(policies.read(&read_ctx(STACK, REGION), &ids).await.unwrap().len(), 2);

    // Adoption by natural key (neither kind takes tags).
    let found =
        targets.find_existing(&read_ctx(STACK, REGION), &[("web_scaling".to_string(), t_want.clone())]).await.unwrap();
    assert_eq!(
        found.iter().map(|(a, o)| (a.as_str(), o.id.as_str())).collect::<Vec<_>>(),
        vec![("web_scaling", t.id.as_str())]
    );
    let wanted = vec![("cpu".to_string(), cpu_want.clone()), ("memory".to_string(), mem_want.clone())];
    let mut found: Vec<(String, String)> = policies
        .find_existing(&read_ctx(STACK, REGION), &wanted)
        .await
        .unwrap()
        .into_iter()
        .map(|(a, o)| (a, o.id))
        .collect();
    found.sort();
    assert_eq!(found, vec![("cpu".to_string(), cpu.id.clone()), ("memory".to_string(), mem.id.clone())]);
    assert!(targets.find_tagged(&read_ctx(STACK, REGION)).await.unwrap().is_empty());

    // In place: the target's maximum 10 → 12.
    let mut t_want2 = t_want.clone();
    t_want2.insert("max_capacity".into(), json!(12));
    let changed = changes(&target::SCHEMA, &t_want2, &t);
    assert_eq!(changed, vec!["max_capacity"]);
    let t = targets
        .update(
            &op(STACK, REGION, "web_scaling", "appautoscaling.target", StepAction::Update, &[]),
            &t,
            &t_want2,
            &changed,
        )
        .await
        .expect("update the target");
    assert_clean(&target::SCHEMA, &t_want2, &t);
    let live = aas
        .describe_scalable_targets()
        .service_namespace(aws_sdk_applicationautoscaling::types::ServiceNamespace::Ecs)
        .resource_ids("service/rt-cluster/rt-web")
        .send()
        .await
        .unwrap();
    assert_eq!(live.scalable_targets()[0].max_capacity(), 12);
    assert_eq!(live.scalable_targets()[0].min_capacity(), 2);

    // In place: CPU target 70 → 75, scale-in off. The ARN may change (moto
    // makes a new one): the update answers with the live one, and the old
    // id still reads.
    let mut cpu_want2 = cpu_want.clone();
    let mut conf = tracking("ECSServiceAverageCPUUtilization", 75.0);
    conf["disable_scale_in"] = json!(true);
    cpu_want2.insert("target_tracking_scaling_policy_configuration".into(), conf);
    let changed = changes(&policy::SCHEMA, &cpu_want2, &cpu);
    assert_eq!(changed, vec!["target_tracking_scaling_policy_configuration"]);
    let old_id = cpu.id.clone();
    let cpu = policies
        .update(&op(STACK, REGION, "cpu", "appautoscaling.policy", StepAction::Update, &[]), &cpu, &cpu_want2, &changed)
        .await
        .expect("update the CPU policy");
    assert_clean(&policy::SCHEMA, &cpu_want2, &cpu);
    assert_clean(&policy::SCHEMA, &cpu_want2, &read_one(&policies, &read_ctx(STACK, REGION), &old_id).await);
    let live = aas
        .describe_scaling_policies()
        .service_namespace(aws_sdk_applicationautoscaling::types::ServiceNamespace::Ecs)
        .resource_id("service/rt-cluster/rt-web")
        .send()
        .await
        .unwrap();
    let p = live.scaling_policies().iter().find(|p| p.policy_name() == "cpu70").expect("the CPU policy");
    let c = p.target_tracking_scaling_policy_configuration().unwrap();
    assert_eq!(c.target_value(), 75.0);
    assert_eq!(c.disable_scale_in(), Some(true));
    assert_eq!(live.scaling_policies().iter().filter(|p| p.policy_name() == "cpu70").count(), 1);

    // What forces a replacement.
    for p in ["service_namespace", "resource_id", "scalable_dimension"] {
        assert!(replaces(&target::SCHEMA, p), "target.{p}");
        assert!(replaces(&policy::SCHEMA, p), "policy.{p}");
    }
    assert!(!replaces(&target::SCHEMA, "min_capacity"));
    assert!(!replaces(&target::SCHEMA, "max_capacity"));
    assert!(replaces(&policy::SCHEMA, "policy_name"));
    assert!(!replaces(&policy::SCHEMA, "target_tracking_scaling_policy_configuration"));

    // Delete policies, then the target, each twice; nothing is read back.
    let del = op(STACK, REGION, "cpu", "appautoscaling.policy", StepAction::Delete, &[]);
    for p in [&cpu, &mem] {
        policies.delete(&del, p, &Props::new()).await.expect("delete the policy");
        policies.delete(&del, p, &Props::new()).await.expect("delete the policy again");
    }
    assert!(policies.read(&read_ctx(STACK, REGION), &[cpu.id.clone(), mem.id.clone()]).await.unwrap().is_empty());
    let del = op(STACK, REGION, "web_scaling", "appautoscaling.target", StepAction::Delete, &[]);
    targets.delete(&del, &t, &Props::new()).await.expect("deregister the target");
    targets.delete(&del, &t, &Props::new()).await.expect("deregister the target again");
    assert!(targets.read(&read_ctx(STACK, REGION), std::slice::from_ref(&t.id)).await.unwrap().is_empty());
}
