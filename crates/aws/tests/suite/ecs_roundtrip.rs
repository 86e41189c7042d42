//! Round trips of `ecs.cluster`, `ecs.task_definition` and `ecs.service`
//! against a moto server of the test's own, started with
//! `MOTO_ECS_SERVICE_RUNNING=10` so that moto's services report their
//! rollout COMPLETED (moto 5.2.5 fixes a service's rollout state at create:
//! COMPLETED if that many tasks are at least the desired count, IN_PROGRESS
//! forever otherwise).
//!
//! For each kind: create through the kind, read back and diff clean against
//! the spec, update in place and check through the raw ECS API, delete
//! (twice) and read nothing. The task definition also shows a content change
//! registering a new revision while the old one stays describable.

use aws_sdk_ecs::types::{ClusterField, ClusterSettingName, TaskDefinitionStatus};
use deployctl_aws::ecs::cluster::{self, Cluster};
use deployctl_aws::ecs::service::{self, Service};
use deployctl_aws::ecs::task_definition::{self, TaskDefinition};
use deployctl_aws::kit::Adapter;
use deployctl_engine::diff::{diff_properties, FieldDiff, Want};
use deployctl_engine::{Event, Observed, OpCtx, Props, ResourceKind, StepAction};
use deployctl_spec::{KindSchema, Update};
use serde_json::json;
use std::collections::BTreeMap;
use std::time::Duration;

const REGION: &str = "us-east-1";
const STACK: &str = "shop";

use crate::support::kit::{props, read_ctx, read_opt};
use crate::support::moto::Moto;

fn tags(address: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("deployctl:stack".to_string(), STACK.to_string()),
        ("deployctl:resource".to_string(), address.to_string()),
    ])
}

fn op(
    schema: &KindSchema,
    address: &str,
    action: StepAction,
    tags: BTreeMap<String, String>,
) -> (OpCtx, tokio::sync::mpsc::UnboundedReceiver<Event>) {
    let (ctx, _cancel, rx) = OpCtx::detached(
        STACK,
        REGION,
        address,
        schema.type_name,
        action,
        tags,
        "0123456789abcdef0123456789abcdef",
        Duration::from_secs(60),
    );
    (ctx, rx)
}

/// The engine's diff of `desired` against what was read.
fn diff(schema: &KindSchema, desired: &Props, live: &Observed) -> Vec<FieldDiff> {
    diff_properties(
        schema,
        &|p| match desired.get(p.name) {
            Some(v) => Want::Value(v.clone()),
            None => Want::Unmanaged,
        },
        &live.properties,
    )
}

/// The seed's container, with `image` as given.
fn task_spec(image: &str) -> Props {
    props(json!({
        "family": "shop-dashboard",
        "cpu": 512,
        "memory": 1024,
        "execution_role_arn": "arn:aws:iam::123456789012:role/ecsTaskExecutionRole",
        "task_role_arn": "arn:aws:iam::123456789012:role/ecsTaskRole",
        "container_definitions": [{
            "name": "dashboard",
            "image": image,
            "port_mappings": [{"container_port": 8080, "protocol": "tcp"}],
            "environment": [{"name": "PORT", "value": "8080"}, {"name": "MODE", "value": "prod"}],
            "secrets": [{
                "name": "ALPHA_VANTAGE_API_KEY",
                "value_from": "arn:aws:secretsmanager:us-east-1:123456789012:secret:shop/api-key-AbCdEf"
            }],
            "log_configuration": {
                "log_driver": "awslogs",
                "options": {"awslogs-group": "/ecs/shop", "awslogs-region": "us-east-1", "awslogs-stream-prefix": "ecs"}
            },
            "health_check": {
                "command": ["CMD-SHELL", "curl -f http://localhost:8080/ || exit 1"],
                "interval": 30,
                "timeout": 5,
                "retries": 3,
                "start_period": 60
            }
        }]
    }))
}

#[tokio::test]
async fn ecs_cluster_task_definition_and_service_round_trip() {
    let moto = Moto::start();
    let aws = moto.aws().await;
    let ecs = aws.ecs();
    let ec2 = aws.ec2();

    // The network the service's tasks live in (moto checks it exists).
    let vpc = ec2.create_vpc().cidr_block("10.0.0.0/16").send().await.unwrap();
    let vpc_id = vpc.vpc().unwrap().vpc_id().unwrap().to_string();
    let subnet = ec2.create_subnet().vpc_id(&vpc_id).cidr_block("10.0.11.0/24").send().await.unwrap();
    let subnet_id = subnet.subnet().unwrap().subnet_id().unwrap().to_string();
    let sg = ec2.create_security_group().vpc_id(&vpc_id).group_name("app").description("app").send().await.unwrap();
    let sg_id = sg.group_id().unwrap().to_string();

    // ---- ecs.cluster -------------------------------------------------
    let clusters = Adapter(Cluster::new(aws.ecs()));
    let c_addr = "cluster";
    let c_desired = props(json!({
        "capacity_providers": ["FARGATE", "FARGATE_SPOT"],
        "default_capacity_provider_strategy": [
            {"capacity_provider": "FARGATE", "weight": 1, "base": 1},
            {"capacity_provider": "FARGATE_SPOT", "weight": 3}
        ],
        "container_insights": "enabled",
    }));
    let (ctx, _rx) = op(&cluster::SCHEMA, c_addr, StepAction::Create, tags(c_addr));
    let c = clusters.create(&ctx, &c_desired).await.unwrap();
    let cluster_arn = c.id.clone();
    assert_eq!(cluster_arn, "arn:aws:ecs:us-east-1:123456789012:cluster/shop-cluster", "default name");
    assert_eq!(c.attributes["name"], json!("shop-cluster"));
    assert_eq!(c.attributes["arn"], json!(cluster_arn));
    assert_eq!(diff(&cluster::SCHEMA, &c_desired, &c), vec![], "a create reads back clean");
    let live = read_opt(&clusters, &read_ctx(STACK, REGION), &cluster_arn).await.expect("the cluster is read back");
    // No read-back after create: its answer carries what a read sees.
    assert_eq!((&live.id, &live.attributes, &live.tags), (&c.id, &c.attributes, &c.tags));
    assert_eq!(live.tags, tags(c_addr));
    let found = clusters.find_tagged(&read_ctx(STACK, REGION)).await.unwrap();
    assert_eq!(
        found.iter().map(|(a, o)| (a.as_str(), o.id.as_str())).collect::<Vec<_>>(),
        [(c_addr, cluster_arn.as_str())]
    );

    // In place: Container Insights off, FARGATE_SPOT dropped.
    let mut c_changed = c_desired.clone();
    c_changed.insert("container_insights".into(), json!("disabled"));
    c_changed.insert("capacity_providers".into(), json!(["FARGATE"]));
    c_changed
        .insert("default_capacity_provider_strategy".into(), json!([{"capacity_provider": "FARGATE", "weight": 1}]));
    let d = diff(&cluster::SCHEMA, &c_changed, &live);
    assert_eq!(
        d.iter().map(|d| d.field.as_str()).collect::<Vec<_>>(),
        ["capacity_providers", "default_capacity_provider_strategy", "container_insights"]
    );
    assert!(d.iter().all(|d| d.update == Update::InPlace));
    let changed: Vec<String> = d.into_iter().map(|d| d.field).collect();
    let (ctx, _rx) = op(&cluster::SCHEMA, c_addr, StepAction::Update, tags(c_addr));
    let c2 = clusters.update(&ctx, &live, &c_changed, &changed).await.unwrap();
    assert_eq!(diff(&cluster::SCHEMA, &c_changed, &c2), vec![]);
    let raw = ecs.describe_clusters().clusters(&cluster_arn).include(ClusterField::Settings).send().await.unwrap();
    let raw = &raw.clusters()[0];
    let insights = raw.settings().iter().find(|s| s.name() == Some(&ClusterSettingName::ContainerInsights));
    assert_eq!(insights.and_then(|s| s.value()), Some("disabled"));
    assert_eq!(raw.capacity_providers(), ["FARGATE"]);

    // ---- ecs.task_definition -----------------------------------------
    let tasks = Adapter(TaskDefinition::new(aws.ecs()));
    let t_addr = "task";
    let t_desired = task_spec("123456789012.dkr.ecr.us-east-1.amazonaws.com/shop:v1");
    let (ctx, _rx) = op(&task_definition::SCHEMA, t_addr, StepAction::Create, tags(t_addr));
    let t1 = tasks.create(&ctx, &t_desired).await.unwrap();
    assert_eq!(t1.id, "arn:aws:ecs:us-east-1:123456789012:task-definition/shop-dashboard:1");
    assert_eq!(t1.attributes["revision"], json!(1));
    assert_eq!(t1.attributes["family"], json!("shop-dashboard"));
    assert_eq!(
        t1.attributes["arn_without_revision"],
        json!("arn:aws:ecs:us-east-1:123456789012:task-definition/shop-dashboard")
    );
    assert_eq!(diff(&task_definition::SCHEMA, &t_desired, &t1), vec![], "a registration reads back clean");
    let live_t1 = read_opt(&tasks, &read_ctx(STACK, REGION), &t1.id).await.expect("the revision is read back");
    assert_eq!(diff(&task_definition::SCHEMA, &t_desired, &live_t1), vec![]);
    assert_eq!(live_t1.tags, tags(t_addr));
    let raw = ecs.describe_task_definition().task_definition(&t1.id).send().await.unwrap();
    let raw = raw.task_definition().unwrap();
    assert_eq!((raw.cpu(), raw.memory()), (Some("512"), Some("1024")), "task cpu and memory are sent as strings");
    assert_eq!(raw.network_mode().map(|n| n.as_str()), Some("awsvpc"));

    // A revision registered by a run that never recorded it is found by the
    // engine's adoption by family (before the plan: create looks nothing up).
    let found =
        tasks.find_existing(&read_ctx(STACK, REGION), &[(t_addr.to_string(), t_desired.clone())]).await.unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].1.id, t1.id);
    let other =
        tasks.find_existing(&read_ctx(STACK, REGION), &[("other".to_string(), t_desired.clone())]).await.unwrap();
    assert!(other.is_empty(), "a revision tagged for another address is not adopted");

    // A new image: the diff forces a replacement, which deregisters the old
    // revision (still describable) and registers a new one.
    let t_desired2 = task_spec("123456789012.dkr.ecr.us-east-1.amazonaws.com/shop:v2");
    let d = diff(&task_definition::SCHEMA, &t_desired2, &live_t1);
    assert_eq!(
        d.iter().map(|d| (d.field.as_str(), d.update)).collect::<Vec<_>>(),
        [("container_definitions", Update::Replace)]
    );
    let (ctx, _rx) = op(&task_definition::SCHEMA, t_addr, StepAction::Delete, BTreeMap::new());
    tasks.delete(&ctx, &live_t1, &Props::new()).await.unwrap();
    let (ctx, _rx) = op(&task_definition::SCHEMA, t_addr, StepAction::Create, tags(t_addr));
    let t2 = tasks.create(&ctx, &t_desired2).await.unwrap();
    assert_eq!(t2.attributes["revision"], json!(2));
    assert_eq!(diff(&task_definition::SCHEMA, &t_desired2, &t2), vec![]);
    assert_eq!(read_opt(&tasks, &read_ctx(STACK, REGION), &t1.id).await, None, "an INACTIVE revision is absent");
    let old = ecs.describe_task_definition().task_definition(&t1.id).send().await.unwrap();
    assert_eq!(old.task_definition().unwrap().status(), Some(&TaskDefinitionStatus::Inactive), "still describable");

    // ---- ecs.service -------------------------------------------------
    let services = Adapter(Service::new(aws.ecs()));
    let s_addr = "web";
    let s_desired = props(json!({
        "cluster": cluster_arn,
        "task_definition": t2.id,
        "desired_count": 2,
        "launch_type": "FARGATE",
        "network_configuration": {"awsvpc_configuration": {"subnets": [subnet_id], "security_groups": [sg_id]}},
        "deployment_configuration": {
            "maximum_percent": 200,
            "minimum_healthy_percent": 100,
            "deployment_circuit_breaker": {"enable": true, "rollback": true}
        },
    }));
    let (ctx, mut rx) = op(&service::SCHEMA, s_addr, StepAction::Create, tags(s_addr));
    let s1 = services.create(&ctx, &s_desired).await.unwrap();
    assert_eq!(s1.id, "arn:aws:ecs:us-east-1:123456789012:service/shop-cluster/shop-web");
    assert_eq!(s1.attributes["name"], json!("shop-web"));
    assert_eq!(s1.attributes["cluster_arn"], json!(cluster_arn));
    assert_eq!(diff(&service::SCHEMA, &s_desired, &s1), vec![], "a create (and its rollout) reads back clean");
    drop(ctx);
    let mut progress = Vec::new();
    while let Ok(e) = rx.try_recv() {
        progress.push(format!("{e:?}"));
    }
    assert!(progress.iter().all(|p| !p.contains("IN_PROGRESS")), "moto's rollout is COMPLETED at once: {progress:?}");
    let live_s = read_opt(&services, &read_ctx(STACK, REGION), &s1.id).await.expect("the service is read back");
    assert_eq!(diff(&service::SCHEMA, &s_desired, &live_s), vec![]);
    assert_eq!(live_s.tags, tags(s_addr));
    let found = services.find_tagged(&read_ctx(STACK, REGION)).await.unwrap();
    assert_eq!(found.iter().map(|(a, o)| (a.as_str(), o.id.as_str())).collect::<Vec<_>>(), [(s_addr, s1.id.as_str())]);

    // In place: 2 → 3 tasks.
    let mut s_changed = s_desired.clone();
    s_changed.insert("desired_count".into(), json!(3));
    let d = diff(&service::SCHEMA, &s_changed, &live_s);
    assert_eq!(
        d.iter().map(|d| (d.field.as_str(), d.update)).collect::<Vec<_>>(),
        [("desired_count", Update::InPlace)]
    );
    let (ctx, _rx) = op(&service::SCHEMA, s_addr, StepAction::Update, tags(s_addr));
    let s2 = services.update(&ctx, &live_s, &s_changed, &["desired_count".to_string()]).await.unwrap();
    assert_eq!(diff(&service::SCHEMA, &s_changed, &s2), vec![]);
    let raw = ecs.describe_services().cluster(&cluster_arn).services(&s1.id).send().await.unwrap();
    assert_eq!(raw.services()[0].desired_count(), 3);

    // A new revision deploys in place, and the check that the service runs
    // it passes.
    let t_desired3 = task_spec("123456789012.dkr.ecr.us-east-1.amazonaws.com/shop:v3");
    let (ctx, _rx) = op(&task_definition::SCHEMA, t_addr, StepAction::Create, tags(t_addr));
    let t3 = tasks.create(&ctx, &t_desired3).await.unwrap();
    let mut s_changed3 = s_changed.clone();
    s_changed3.insert("task_definition".into(), json!(t3.id));
    let (ctx, _rx) = op(&service::SCHEMA, s_addr, StepAction::Update, tags(s_addr));
    let s3 = services.update(&ctx, &s2, &s_changed3, &["task_definition".to_string()]).await.unwrap();
    assert_eq!(s3.properties["task_definition"], json!(t3.id));
    assert_eq!(diff(&service::SCHEMA, &s_changed3, &s3), vec![]);

    // ---- deletes -----------------------------------------------------
    let (ctx, _rx) = op(&service::SCHEMA, s_addr, StepAction::Delete, BTreeMap::new());
    services.delete(&ctx, &s3, &Props::new()).await.unwrap();
    services.delete(&ctx, &s3, &Props::new()).await.unwrap();
    assert_eq!(read_opt(&services, &read_ctx(STACK, REGION), &s1.id).await, None);
    let raw = ecs.describe_services().cluster(&cluster_arn).services(&s1.id).send().await.unwrap();
    assert_eq!(raw.services()[0].status(), Some("INACTIVE"));

    let (ctx, _rx) = op(&task_definition::SCHEMA, t_addr, StepAction::Delete, BTreeMap::new());
    for t in [&t2, &t3] {
        tasks.delete(&ctx, t, &Props::new()).await.unwrap();
        tasks.delete(&ctx, t, &Props::new()).await.unwrap();
        assert_eq!(read_opt(&tasks, &read_ctx(STACK, REGION), &t.id).await, None);
    }

    let (ctx, _rx) = op(&cluster::SCHEMA, c_addr, StepAction::Delete, BTreeMap::new());
    clusters.delete(&ctx, &c2, &Props::new()).await.unwrap();
    clusters.delete(&ctx, &c2, &Props::new()).await.unwrap();
    assert_eq!(read_opt(&clusters, &read_ctx(STACK, REGION), &cluster_arn).await, None);
    assert!(clusters.find_tagged(&read_ctx(STACK, REGION)).await.unwrap().is_empty());
}
