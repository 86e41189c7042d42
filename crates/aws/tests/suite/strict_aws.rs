//! The strict-AWS layer: what AWS documents and moto does not do, scripted
//! with aws-smithy-mocks over a small shared world, and driven through the
//! real kinds (and, for replacement, the real planner and executor):
//!
//! - DeleteSubnet refused with DependencyViolation while a NAT gateway that
//!   is not `deleted` is in the subnet (moto deletes it);
//! - CreateNatGateway refused while another gateway holds the Elastic IP;
//! - DeleteSecurityGroup refused with DependencyViolation while a service's
//!   tasks use the group (moto deletes it);
//! - CreateSubnet refused with `InvalidVpcID.NotFound` for a moment after
//!   the VPC was created (moto is consistent at once).
//!
//! Throttling with the real error codes is in mocked_throttling*.rs, IAM
//! propagation in mocked_iam_propagation.rs and mocked_ecs_rollout.rs.

use crate::support::engine::apply;
use aws_sdk_ec2::error::ErrorMetadata;
use aws_sdk_ec2::operation::create_nat_gateway::{CreateNatGatewayError, CreateNatGatewayOutput};
use aws_sdk_ec2::operation::create_security_group::CreateSecurityGroupOutput;
use aws_sdk_ec2::operation::create_subnet::{CreateSubnetError, CreateSubnetOutput};
use aws_sdk_ec2::operation::delete_nat_gateway::DeleteNatGatewayOutput;
use aws_sdk_ec2::operation::delete_security_group::{DeleteSecurityGroupError, DeleteSecurityGroupOutput};
use aws_sdk_ec2::operation::delete_subnet::{DeleteSubnetError, DeleteSubnetOutput};
use aws_sdk_ec2::operation::describe_addresses::DescribeAddressesOutput;
use aws_sdk_ec2::operation::describe_nat_gateways::DescribeNatGatewaysOutput;
use aws_sdk_ec2::operation::describe_security_groups::DescribeSecurityGroupsOutput;
use aws_sdk_ec2::operation::describe_subnets::DescribeSubnetsOutput;
use aws_sdk_ec2::types::{
    Address, Filter, IpPermission, IpRange, NatGateway, NatGatewayAddress, NatGatewayState, SecurityGroup, Subnet,
    SubnetState, Tag,
};
use aws_sdk_ec2::Client;
use aws_smithy_mocks::{mock, mock_client, MockResponse, Rule, RuleMode};
use deployctl_aws::ec2::{
    nat_gateway::NatGateway as NatKind, security_group::SecurityGroup as SecurityGroupKind,
    subnet::Subnet as SubnetKind,
};
use deployctl_aws::ecs::service::Service as ServiceKind;
use deployctl_aws::kit::Adapter;
use deployctl_engine::{Action, Event, EventSink, Kinds, Mode, OpCtx, ProviderError, ResourceKind, StepAction};
use deployctl_spec::ReplaceOrder;
use deployctl_state::{Backend, LocalBackend, ResourceState, State};
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const STACK: &str = "strict";

/// What the scripted EC2 holds, and the mutating calls it answered.
#[derive(Default)]
struct World {
    /// id → (cidr, tags)
    subnets: BTreeMap<String, (String, Vec<Tag>)>,
    /// id → (subnet, allocation, state, tags)
    nats: BTreeMap<String, (String, String, NatGatewayState, Vec<Tag>)>,
    log: Vec<String>,
    next: u32,
    /// CreateSubnet answers InvalidVpcID.NotFound this many more times.
    vpc_unseen: u32,
}

type Shared = Arc<Mutex<World>>;

fn tags_for(address: &str) -> Vec<Tag> {
    [("deployctl:stack", STACK), ("deployctl:resource", address)]
        .into_iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

fn filter_values(filters: &[Filter], name: &str) -> Option<Vec<String>> {
    filters.iter().find(|f| f.name() == Some(name)).map(|f| f.values().to_vec())
}

fn subnet_of(id: &str, cidr: &str, tags: &[Tag]) -> Subnet {
    Subnet::builder()
        .subnet_id(id)
        .vpc_id("vpc-1")
        .cidr_block(cidr)
        .availability_zone("us-east-1a")
        .state(SubnetState::Available)
        .map_public_ip_on_launch(false)
        .set_tags(Some(tags.to_vec()))
        .build()
}

fn error_meta(code: &str, message: &str) -> ErrorMetadata {
    ErrorMetadata::builder().code(code).message(message).build()
}

/// EC2 as AWS behaves for subnets and NAT gateways.
fn strict_ec2(world: &Shared) -> Vec<Rule> {
    let w = world.clone();
    let describe_subnets = mock!(Client::describe_subnets).then_compute_response(move |r| {
        let w = w.lock().unwrap();
        let ids = filter_values(r.filters(), "subnet-id").unwrap_or_else(|| r.subnet_ids().to_vec());
        let found = w.subnets.iter().filter(|(id, _)| ids.contains(id)).map(|(id, (c, t))| subnet_of(id, c, t));
        MockResponse::Output(DescribeSubnetsOutput::builder().set_subnets(Some(found.collect())).build())
    });
    let w = world.clone();
    let create_subnet = mock!(Client::create_subnet).then_compute_response(move |r| {
        let mut w = w.lock().unwrap();
        if w.vpc_unseen > 0 {
            w.vpc_unseen -= 1;
            w.log.push("CreateSubnet refused: InvalidVpcID.NotFound".into());
            return MockResponse::Error(CreateSubnetError::generic(error_meta(
                "InvalidVpcID.NotFound",
                "The vpc ID 'vpc-1' does not exist",
            )));
        }
        w.next += 1;
        let id = format!("subnet-{}", w.next);
        let tags: Vec<Tag> = r.tag_specifications().iter().flat_map(|s| s.tags().to_vec()).collect();
        let cidr = r.cidr_block().unwrap_or_default().to_string();
        w.subnets.insert(id.clone(), (cidr.clone(), tags.clone()));
        w.log.push(format!("created {id}"));
        MockResponse::Output(CreateSubnetOutput::builder().subnet(subnet_of(&id, &cidr, &tags)).build())
    });
    let w = world.clone();
    let delete_subnet = mock!(Client::delete_subnet).then_compute_response(move |r| {
        let mut w = w.lock().unwrap();
        let id = r.subnet_id().unwrap_or_default().to_string();
        let in_use = w.nats.values().any(|(s, _, st, _)| *s == id && *st != NatGatewayState::Deleted);
        if in_use {
            w.log.push(format!("DeleteSubnet {id} refused: DependencyViolation"));
            return MockResponse::Error(DeleteSubnetError::generic(error_meta(
                "DependencyViolation",
                &format!("The subnet '{id}' has dependencies and cannot be deleted."),
            )));
        }
        w.subnets.remove(&id);
        w.log.push(format!("deleted {id}"));
        MockResponse::Output(DeleteSubnetOutput::builder().build())
    });
    let w = world.clone();
    let describe_nats = mock!(Client::describe_nat_gateways).then_compute_response(move |r| {
        let w = w.lock().unwrap();
        let ids = filter_values(r.filter(), "nat-gateway-id").unwrap_or_else(|| r.nat_gateway_ids().to_vec());
        let found = w.nats.iter().filter(|(id, _)| ids.is_empty() || ids.contains(id)).map(|(id, (s, a, st, t))| {
            NatGateway::builder()
                .nat_gateway_id(id)
                .subnet_id(s)
                .vpc_id("vpc-1")
                .state(st.clone())
                .nat_gateway_addresses(NatGatewayAddress::builder().allocation_id(a).is_primary(true).build())
                .set_tags(Some(t.clone()))
                .build()
        });
        MockResponse::Output(DescribeNatGatewaysOutput::builder().set_nat_gateways(Some(found.collect())).build())
    });
    let w = world.clone();
    let create_nat = mock!(Client::create_nat_gateway).then_compute_response(move |r| {
        let mut w = w.lock().unwrap();
        let allocation = r.allocation_id().unwrap_or_default().to_string();
        if w.nats.values().any(|(_, a, st, _)| *a == allocation && *st != NatGatewayState::Deleted) {
            w.log.push("CreateNatGateway refused: Resource.AlreadyAssociated".into());
            return MockResponse::Error(CreateNatGatewayError::generic(error_meta(
                "Resource.AlreadyAssociated",
                &format!("Elastic IP address [{allocation}] is already associated"),
            )));
        }
        w.next += 1;
        let id = format!("nat-{}", w.next);
        let tags: Vec<Tag> = r.tag_specifications().iter().flat_map(|s| s.tags().to_vec()).collect();
        let subnet = r.subnet_id().unwrap_or_default().to_string();
        w.nats.insert(id.clone(), (subnet.clone(), allocation.clone(), NatGatewayState::Available, tags));
        w.log.push(format!("created {id} in {subnet}"));
        let nat = NatGateway::builder().nat_gateway_id(&id).subnet_id(subnet).state(NatGatewayState::Pending).build();
        MockResponse::Output(CreateNatGatewayOutput::builder().nat_gateway(nat).build())
    });
    let w = world.clone();
    let delete_nat = mock!(Client::delete_nat_gateway).then_compute_response(move |r| {
        let mut w = w.lock().unwrap();
        let id = r.nat_gateway_id().unwrap_or_default().to_string();
        if let Some(n) = w.nats.get_mut(&id) {
            n.2 = NatGatewayState::Deleted;
        }
        w.log.push(format!("deleted {id}"));
        MockResponse::Output(DeleteNatGatewayOutput::builder().nat_gateway_id(id).build())
    });
    let w = world.clone();
    let addresses = mock!(Client::describe_addresses).then_compute_response(move |r| {
        let w = w.lock().unwrap();
        let ids = filter_values(r.filters(), "allocation-id").unwrap_or_default();
        let found = ids.iter().map(|a| {
            let held = w.nats.values().any(|(_, x, st, _)| x == a && *st != NatGatewayState::Deleted);
            Address::builder().allocation_id(a).set_association_id(held.then(|| "eipassoc-1".to_string())).build()
        });
        MockResponse::Output(DescribeAddressesOutput::builder().set_addresses(Some(found.collect())).build())
    });
    let account =
        mock!(Client::describe_security_groups).then_output(|| DescribeSecurityGroupsOutput::builder().build());
    vec![describe_subnets, create_subnet, delete_subnet, describe_nats, create_nat, delete_nat, addresses, account]
}

fn client(world: &Shared) -> Client {
    let rules = strict_ec2(world);
    let refs: Vec<&Rule> = rules.iter().collect();
    mock_client!(aws_sdk_ec2, RuleMode::MatchAny, refs.as_slice())
}

/// A subnet (10.0.1.0/24) and the NAT gateway in it, and the kinds that
/// manage them through the strict EC2.
fn subnet_holding_a_nat() -> (Shared, Kinds) {
    let world: Shared = Arc::default();
    {
        let mut w = world.lock().unwrap();
        w.subnets.insert("subnet-old".into(), ("10.0.1.0/24".into(), tags_for("subnet")));
        w.nats.insert(
            "nat-old".into(),
            ("subnet-old".into(), "eipalloc-1".into(), NatGatewayState::Available, tags_for("nat")),
        );
    }
    let ec2 = client(&world);
    let kinds = Kinds::new(vec![Adapter::arc(SubnetKind::new(ec2.clone())), Adapter::arc(NatKind::new(ec2))]);
    (world, kinds)
}

fn spec(cidr: &str) -> deployctl_spec::Stack {
    let text = format!(
        "stack: {STACK}\nregion: us-east-1\nresources:\n  subnet:\n    type: ec2.subnet\n    properties: {{vpc_id: \
         vpc-1, cidr_block: {cidr}, availability_zone: us-east-1a}}\n  nat:\n    type: ec2.nat_gateway\n    \
         properties: {{subnet_id: \"${{subnet.id}}\", allocation_id: eipalloc-1}}\n"
    );
    let registry = vec![&deployctl_aws::ec2::subnet::SCHEMA, &deployctl_aws::ec2::nat_gateway::SCHEMA];
    deployctl_spec::load_str("strict.yaml", &text, &Default::default(), &registry).unwrap_or_else(|e| panic!("{e}"))
}

/// Replacing a subnet that holds a NAT gateway: the new subnet is created
/// beside the old one (its range is apart), the gateway (whose Elastic IP
/// one gateway holds at a time) is deleted and made again in the new
/// subnet, and only then is the old subnet deleted. In the old order
/// (delete the subnet first) AWS refuses with DependencyViolation.
#[tokio::test]
async fn replacing_a_subnet_that_holds_a_nat_gateway_completes_with_no_dependency_violation() {
    let (world, kinds) = subnet_holding_a_nat();

    // State as the first `up` left it.
    let dir = tempfile::tempdir().unwrap();
    let backend: Arc<dyn Backend> = Arc::new(LocalBackend::new(dir.path(), STACK));
    let mut state = State::new(STACK, "us-east-1");
    let mut subnet = ResourceState::new("ec2.subnet");
    subnet.id = Some("subnet-old".into());
    subnet.properties = json!({"vpc_id": "vpc-1", "cidr_block": "10.0.1.0/24", "availability_zone": "us-east-1a"})
        .as_object()
        .unwrap()
        .clone();
    subnet.attributes = json!({"id": "subnet-old"}).as_object().unwrap().clone();
    state.resources.insert("subnet".into(), subnet);
    let mut nat = ResourceState::new("ec2.nat_gateway");
    nat.id = Some("nat-old".into());
    nat.properties = json!({"subnet_id": "subnet-old", "allocation_id": "eipalloc-1"}).as_object().unwrap().clone();
    nat.dependencies = vec!["subnet".into()];
    state.resources.insert("nat".into(), nat);
    let version = backend.write(&state, None).await.unwrap();

    let stack = spec("10.0.2.0/24");
    let sink = EventSink::discard();
    let plan = deployctl_engine::plan(&stack, Some(&state), &kinds, Mode::Apply, &sink).await.unwrap();
    let order = |a: &str| {
        let r = plan.resources.iter().find(|r| r.address == a).unwrap();
        assert_eq!(r.action, Action::Replace, "{r:#?}");
        r.replacement.clone().unwrap()
    };
    assert_eq!(order("subnet").order, ReplaceOrder::CreateBeforeDestroy);
    let nat_order = order("nat");
    assert_eq!(nat_order.order, ReplaceOrder::DeleteBeforeCreate);
    assert_eq!(nat_order.why, "its Elastic IP eipalloc-1 can belong to one NAT gateway at a time");

    let report = apply(&kinds, backend.clone(), &state, version, &plan, Duration::from_secs(60)).await;
    assert!(report.ok(), "{:?}\n{:?}", report.failed, world.lock().unwrap().log);

    let (log, subnets): (Vec<String>, Vec<String>) = {
        let w = world.lock().unwrap();
        (w.log.clone(), w.subnets.keys().cloned().collect())
    };
    assert!(!log.iter().any(|l| l.contains("refused")), "AWS refused nothing: {log:?}");
    let at = |entry: &str| log.iter().position(|l| l == entry).unwrap_or_else(|| panic!("{entry}: {log:?}"));
    // The new subnet first; the gateway moved (its address freed first);
    // the old subnet last.
    assert!(at("created subnet-1") < at("created nat-2 in subnet-1"), "{log:?}");
    assert!(at("deleted nat-old") < at("created nat-2 in subnet-1"), "{log:?}");
    assert!(at("created nat-2 in subnet-1") < at("deleted subnet-old"), "{log:?}");
    assert_eq!(log.len(), 4, "{log:?}");
    assert_eq!(subnets, ["subnet-1"]);
    let after = backend.read().await.unwrap().expect("state").state;
    assert_eq!(after.resources["subnet"].id.as_deref(), Some("subnet-1"));
    assert_eq!(after.resources["nat"].id.as_deref(), Some("nat-2"));
    assert!(after.resources.values().all(|r| r.deposed.is_empty() && r.pending.is_none()), "{after:#?}");
    let again = deployctl_engine::plan(&stack, Some(&after), &kinds, Mode::Apply, &sink).await.unwrap();
    assert!(!again.has_changes(), "{again:#?}");
}

/// Destroying the subnet and its NAT gateway: the gateway goes first, as
/// AWS requires (the subnet's delete is refused while it is there).
#[tokio::test]
async fn destroy_deletes_the_nat_gateway_before_its_subnet() {
    let (world, kinds) = subnet_holding_a_nat();
    let mut state = State::new(STACK, "us-east-1");
    for (address, type_name, id, deps) in
        [("subnet", "ec2.subnet", "subnet-old", vec![]), ("nat", "ec2.nat_gateway", "nat-old", vec!["subnet".into()])]
    {
        let mut r = ResourceState::new(type_name);
        r.id = Some(id.into());
        r.dependencies = deps;
        state.resources.insert(address.into(), r);
    }
    let dir = tempfile::tempdir().unwrap();
    let backend: Arc<dyn Backend> = Arc::new(LocalBackend::new(dir.path(), STACK));
    let version = backend.write(&state, None).await.unwrap();
    let sink = EventSink::discard();
    let plan = deployctl_engine::plan(&spec("10.0.1.0/24"), Some(&state), &kinds, Mode::Destroy, &sink).await.unwrap();
    let report = apply(&kinds, backend.clone(), &state, version, &plan, Duration::from_secs(60)).await;
    let log = world.lock().unwrap().log.clone();
    assert!(report.ok(), "{:?}\n{log:?}", report.failed);
    assert_eq!(log, ["deleted nat-old", "deleted subnet-old"]);
    assert!(backend.read().await.unwrap().unwrap().state.resources.is_empty());
}

fn create_ctx(recent: bool) -> (OpCtx, tokio::sync::mpsc::UnboundedReceiver<Event>) {
    let tags = tags_for("subnet").into_iter().map(|t| (t.key.unwrap(), t.value.unwrap())).collect();
    let (mut ctx, _cancel, rx) = OpCtx::detached(
        STACK,
        "us-east-1",
        "subnet",
        "ec2.subnet",
        StepAction::Create,
        tags,
        "0123456789abcdef0123456789abcdef",
        Duration::from_secs(30),
    );
    ctx.recent_dependencies = recent;
    (ctx, rx)
}

fn subnet_props() -> deployctl_engine::Props {
    json!({"vpc_id": "vpc-1", "cidr_block": "10.0.1.0/24"}).as_object().unwrap().clone()
}

/// AWS does not see a VPC created a moment ago: the subnet's create,
/// refused before it made anything, is asked again by the adapter (the one
/// eventual-consistency mechanism, which IAM propagation goes through too).
#[tokio::test]
async fn a_not_found_right_after_a_dependency_was_created_is_retried_by_the_adapter() {
    let world: Shared = Arc::default();
    world.lock().unwrap().vpc_unseen = 1;
    let kind = Adapter(SubnetKind::new(client(&world)));
    let (ctx, mut rx) = create_ctx(true);
    let created = kind.create(&ctx, &subnet_props()).await.unwrap();
    assert_eq!(created.id, "subnet-1");
    assert_eq!(world.lock().unwrap().log, ["CreateSubnet refused: InvalidVpcID.NotFound", "created subnet-1"]);
    let mut progress = Vec::new();
    while let Ok(e) = rx.try_recv() {
        if let Event::StepProgress { message, .. } = e {
            progress.push(message);
        }
    }
    assert_eq!(progress.len(), 1, "{progress:?}");
    assert!(progress[0].contains("not visible yet (InvalidVpcID.NotFound"), "{progress:?}");
}

/// The same NotFound when nothing the step depends on was made in this
/// run is the user's: a VPC id that does not exist. It fails at once.
#[tokio::test]
async fn a_not_found_with_no_recent_dependency_fails_at_once() {
    let world: Shared = Arc::default();
    world.lock().unwrap().vpc_unseen = 1;
    let kind = Adapter(SubnetKind::new(client(&world)));
    let (ctx, _rx) = create_ctx(false);
    let e: ProviderError = kind.create(&ctx, &subnet_props()).await.unwrap_err();
    assert!(e.code_is("InvalidVpcID.NotFound"), "{e:?}");
    assert_eq!(world.lock().unwrap().log.len(), 1, "asked once");
}

/// What the scripted EC2 and ECS hold for the security-group scenario.
#[derive(Default)]
struct GroupWorld {
    /// id → (description, tags)
    groups: BTreeMap<String, (String, Vec<Tag>)>,
    /// The service's security groups.
    service_groups: Vec<String>,
    deployments: u32,
    log: Vec<String>,
    next: u32,
}

const CLUSTER: &str = "arn:aws:ecs:us-east-1:123456789012:cluster/strict";
const SERVICE: &str = "arn:aws:ecs:us-east-1:123456789012:service/strict/web";
const TASK: &str = "arn:aws:ecs:us-east-1:123456789012:task-definition/web:1";

fn group_of(id: &str, description: &str, tags: &[Tag]) -> SecurityGroup {
    SecurityGroup::builder()
        .group_id(id)
        .group_name(format!("strict-{id}"))
        .description(description)
        .vpc_id("vpc-1")
        .owner_id("123456789012")
        .ip_permissions_egress(
            IpPermission::builder()
                .ip_protocol("-1")
                .ip_ranges(IpRange::builder().cidr_ip("0.0.0.0/0").build())
                .build(),
        )
        .set_tags(Some(tags.to_vec()))
        .build()
}

/// EC2 as AWS behaves for a group a service's tasks use: DeleteSecurityGroup
/// is refused with DependencyViolation while the service still lists it
/// (moto deletes it).
fn strict_groups(world: &Arc<Mutex<GroupWorld>>) -> Client {
    let w = world.clone();
    let describe = mock!(Client::describe_security_groups).then_compute_response(move |r| {
        let w = w.lock().unwrap();
        let ids = filter_values(r.filters(), "group-id").unwrap_or_else(|| r.group_ids().to_vec());
        let found =
            w.groups.iter().filter(|(id, _)| ids.is_empty() || ids.contains(id)).map(|(id, (d, t))| group_of(id, d, t));
        MockResponse::Output(DescribeSecurityGroupsOutput::builder().set_security_groups(Some(found.collect())).build())
    });
    let w = world.clone();
    let create = mock!(Client::create_security_group).then_compute_response(move |r| {
        let mut w = w.lock().unwrap();
        w.next += 1;
        let id = format!("sg-{}", w.next);
        let tags: Vec<Tag> = r.tag_specifications().iter().flat_map(|s| s.tags().to_vec()).collect();
        w.groups.insert(id.clone(), (r.description().unwrap_or_default().to_string(), tags));
        w.log.push(format!("created {id}"));
        MockResponse::Output(CreateSecurityGroupOutput::builder().group_id(id).build())
    });
    let w = world.clone();
    let delete = mock!(Client::delete_security_group).then_compute_response(move |r| {
        let mut w = w.lock().unwrap();
        let id = r.group_id().unwrap_or_default().to_string();
        if w.service_groups.contains(&id) {
            w.log.push(format!("DeleteSecurityGroup {id} refused: DependencyViolation"));
            return MockResponse::Error(DeleteSecurityGroupError::generic(error_meta(
                "DependencyViolation",
                &format!("resource {id} has a dependent object"),
            )));
        }
        w.groups.remove(&id);
        w.log.push(format!("deleted {id}"));
        MockResponse::Output(DeleteSecurityGroupOutput::builder().build())
    });
    let rules = [describe, create, delete];
    let refs: Vec<&Rule> = rules.iter().collect();
    mock_client!(aws_sdk_ec2, RuleMode::MatchAny, refs.as_slice())
}

fn ecs_service(w: &GroupWorld) -> aws_sdk_ecs::types::Service {
    use aws_sdk_ecs::types::{
        AssignPublicIp, AwsVpcConfiguration, Deployment, DeploymentRolloutState, LaunchType, NetworkConfiguration,
        SchedulingStrategy, Tag as EcsTag,
    };
    aws_sdk_ecs::types::Service::builder()
        .service_arn(SERVICE)
        .service_name("web")
        .cluster_arn(CLUSTER)
        .status("ACTIVE")
        .desired_count(1)
        .running_count(1)
        .launch_type(LaunchType::Fargate)
        .platform_version("LATEST")
        .scheduling_strategy(SchedulingStrategy::Replica)
        .task_definition(TASK)
        .network_configuration(
            NetworkConfiguration::builder()
                .awsvpc_configuration(
                    AwsVpcConfiguration::builder()
                        .subnets("subnet-1")
                        .set_security_groups(Some(w.service_groups.clone()))
                        .assign_public_ip(AssignPublicIp::Disabled)
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .deployments(
            Deployment::builder()
                .id(format!("ecs-svc/{}", w.deployments))
                .status("PRIMARY")
                .task_definition(TASK)
                .desired_count(1)
                .running_count(1)
                .rollout_state(DeploymentRolloutState::Completed)
                .build(),
        )
        .set_tags(Some(
            tags_for("web").into_iter().map(|t| EcsTag::builder().set_key(t.key).set_value(t.value).build()).collect(),
        ))
        .build()
}

/// ECS whose service takes the groups UpdateService gives it, and whose
/// rollouts complete at once.
fn strict_service(world: &Arc<Mutex<GroupWorld>>) -> aws_sdk_ecs::Client {
    use aws_sdk_ecs::operation::describe_services::DescribeServicesOutput;
    use aws_sdk_ecs::operation::update_service::UpdateServiceOutput;
    let w = world.clone();
    let describe = mock!(aws_sdk_ecs::Client::describe_services).then_compute_response(move |_| {
        let w = w.lock().unwrap();
        MockResponse::Output(DescribeServicesOutput::builder().services(ecs_service(&w)).build())
    });
    let w = world.clone();
    let update = mock!(aws_sdk_ecs::Client::update_service).then_compute_response(move |r| {
        let mut w = w.lock().unwrap();
        if let Some(groups) = r.network_configuration().and_then(|n| n.awsvpc_configuration()) {
            w.service_groups = groups.security_groups().to_vec();
        }
        w.deployments += 1;
        let now = format!("updated web to {:?}", w.service_groups);
        w.log.push(now);
        MockResponse::Output(UpdateServiceOutput::builder().service(ecs_service(&w)).build())
    });
    let mocks = aws_smithy_mocks::MockResponseInterceptor::new()
        .rule_mode(RuleMode::MatchAny)
        .with_rule(&describe)
        .with_rule(&update);
    let conf = aws_sdk_ecs::Config::builder()
        .behavior_version(aws_sdk_ecs::config::BehaviorVersion::latest())
        .region(aws_sdk_ecs::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_ecs::config::Credentials::new("AKIDTEST", "secret", None, None, "test"))
        .http_client(aws_smithy_mocks::create_mock_http_client())
        .interceptor(mocks)
        .build();
    aws_sdk_ecs::Client::from_conf(conf)
}

/// Replaces the group a service uses (its description changes) through the
/// planner and the executor, `lifecycle` written on the group; returns the
/// run's report, the calls the world answered, and the plan after.
async fn replace_group_in_use(lifecycle: &str) -> (deployctl_engine::ApplyReport, Vec<String>, deployctl_engine::Plan) {
    let world: Arc<Mutex<GroupWorld>> = Arc::default();
    {
        let mut w = world.lock().unwrap();
        w.groups.insert("sg-old".into(), ("one".into(), tags_for("sg")));
        w.service_groups = vec!["sg-old".into()];
        w.deployments = 1;
    }
    let kinds = Kinds::new(vec![
        Adapter::arc(SecurityGroupKind::new(strict_groups(&world))),
        Adapter::arc(ServiceKind::new(strict_service(&world))),
    ]);
    let text = |description: &str| {
        format!(
            "stack: {STACK}\nregion: us-east-1\nresources:\n  sg:\n    type: ec2.security_group\n    properties: \
             {{vpc_id: vpc-1, description: {description}}}\n{lifecycle}  web:\n    type: ecs.service\n    properties:\n      \
             service_name: web\n      cluster: {CLUSTER}\n      task_definition: {TASK}\n      launch_type: FARGATE\n      \
             network_configuration:\n        awsvpc_configuration: {{subnets: [subnet-1], security_groups: \
             [\"${{sg.id}}\"]}}\n"
        )
    };
    let registry = vec![&deployctl_aws::ec2::security_group::SCHEMA, &deployctl_aws::ecs::service::SCHEMA];
    let load = |t: String| deployctl_spec::load_str("strict.yaml", &t, &Default::default(), &registry).unwrap();

    // State as the first `up` left it, which the plan confirms unchanged.
    let dir = tempfile::tempdir().unwrap();
    let backend: Arc<dyn Backend> = Arc::new(LocalBackend::new(dir.path(), STACK));
    let mut state = State::new(STACK, "us-east-1");
    let mut sg = ResourceState::new("ec2.security_group");
    sg.id = Some("sg-old".into());
    sg.properties = json!({"vpc_id": "vpc-1", "description": "one"}).as_object().unwrap().clone();
    sg.attributes = json!({"id": "sg-old"}).as_object().unwrap().clone();
    state.resources.insert("sg".into(), sg);
    let mut web = ResourceState::new("ecs.service");
    web.id = Some(SERVICE.into());
    web.attributes = json!({"id": SERVICE, "cluster_arn": CLUSTER}).as_object().unwrap().clone();
    web.dependencies = vec!["sg".into()];
    state.resources.insert("web".into(), web);
    let version = backend.write(&state, None).await.unwrap();
    let sink = EventSink::discard();
    let unchanged = deployctl_engine::plan(&load(text("one")), Some(&state), &kinds, Mode::Apply, &sink).await.unwrap();
    assert!(!unchanged.has_changes(), "{unchanged:#?}");

    let stack = load(text("two"));
    let plan = deployctl_engine::plan(&stack, Some(&state), &kinds, Mode::Apply, &sink).await.unwrap();
    assert_eq!(plan.resources.iter().find(|r| r.address == "sg").unwrap().action, Action::Replace);
    assert_eq!(plan.resources.iter().find(|r| r.address == "web").unwrap().action, Action::Update);

    let report = apply(&kinds, backend.clone(), &state, version, &plan, Duration::from_secs(2)).await;
    let log = world.lock().unwrap().log.clone();
    let after = backend.read().await.unwrap().expect("state").state;
    let again = deployctl_engine::plan(&stack, Some(&after), &kinds, Mode::Apply, &sink).await.unwrap();
    (report, log, again)
}

/// Replacing a security group a service's tasks use: the new group first,
/// the service moved to it (UpdateService), then the old group deleted.
#[tokio::test]
async fn replacing_a_security_group_in_use_by_a_service_completes_with_no_dependency_violation() {
    let (report, log, again) = replace_group_in_use("").await;
    assert!(report.ok(), "{:?}\n{log:?}", report.failed);
    assert_eq!(log, ["created sg-1", "updated web to [\"sg-1\"]", "deleted sg-old"], "create, repoint, delete old");
    assert!(!again.has_changes(), "{again:#?}");
}

/// The layer is strict: the old order, forced, is refused as AWS refuses
/// it (DependencyViolation while the service still uses the group).
#[tokio::test]
async fn the_group_deleted_first_is_refused_while_the_service_uses_it() {
    let (report, log, _) = replace_group_in_use("    lifecycle: {replace: delete_before_create}\n").await;
    assert!(!report.ok());
    assert_eq!(report.failed.len(), 1, "{:?}", report.failed);
    let e = report.failed[0].to_string();
    assert!(e.contains("DependencyViolation") || e.contains("still in use"), "{e}");
    assert!(log.iter().any(|l| l == "DeleteSecurityGroup sg-old refused: DependencyViolation"), "{log:?}");
    assert!(!log.iter().any(|l| l.starts_with("created")), "nothing created after the refused delete: {log:?}");
}
