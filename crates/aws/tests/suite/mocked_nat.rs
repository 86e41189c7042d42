//! `ec2.nat_gateway` against a mocked EC2 client: the states moto cannot
//! produce (moto's NAT gateways are `available` at once and never fail).
//!
//! Every test drives `create` directly through `OpCtx::detached`. The mocked
//! DescribeNatGateways answers in sequence: first the create's look-up by
//! tags, then one answer per poll of the wait, then the final read.

use aws_sdk_ec2::operation::create_nat_gateway::CreateNatGatewayOutput;
use aws_sdk_ec2::operation::describe_nat_gateways::DescribeNatGatewaysOutput;
use aws_sdk_ec2::operation::describe_security_groups::DescribeSecurityGroupsOutput;
use aws_sdk_ec2::types::{NatGateway as Nat, NatGatewayAddress, NatGatewayState, SecurityGroup, Tag};
use aws_sdk_ec2::Client;
use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
use deployctl_aws::ec2::nat_gateway::NatGateway;
use deployctl_aws::kit::Adapter;
use deployctl_engine::{OpCtx, Props, ProviderError, ResourceKind, StepAction};
use serde_json::json;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

const STACK: &str = "net";
const ADDRESS: &str = "nat";
const NAT_ID: &str = "nat-0123456789abcdef0";

fn tags() -> BTreeMap<String, String> {
    BTreeMap::from([
        ("deployctl:stack".to_string(), STACK.to_string()),
        ("deployctl:resource".to_string(), ADDRESS.to_string()),
    ])
}

fn ctx(timeout: Duration) -> (OpCtx, impl Fn()) {
    let (ctx, cancel, _events) = OpCtx::detached(
        STACK,
        "us-east-1",
        ADDRESS,
        "ec2.nat_gateway",
        StepAction::Create,
        tags(),
        "0123456789abcdef0123456789abcdef",
        timeout,
    );
    (ctx, move || cancel.cancel())
}

fn desired() -> Props {
    json!({"subnet_id": "subnet-1", "allocation_id": "eipalloc-1", "connectivity_type": "public"})
        .as_object()
        .unwrap()
        .clone()
}

/// The gateway as DescribeNatGateways shows it, tagged for this resource.
fn nat(state: NatGatewayState) -> Nat {
    let mut n = Nat::builder()
        .nat_gateway_id(NAT_ID)
        .subnet_id("subnet-1")
        .vpc_id("vpc-1")
        .state(state.clone())
        .nat_gateway_addresses(
            NatGatewayAddress::builder()
                .allocation_id("eipalloc-1")
                .public_ip("203.0.113.10")
                .private_ip("10.0.1.10")
                .is_primary(true)
                .build(),
        )
        .set_tags(Some(tags().into_iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect()));
    if state == NatGatewayState::Failed {
        n = n.failure_code("Gateway.NotAttached").failure_message("Network vpc-1 has no Internet gateway attached");
    }
    n.build()
}

fn described(state: Option<NatGatewayState>) -> DescribeNatGatewaysOutput {
    DescribeNatGatewaysOutput::builder().set_nat_gateways(Some(state.map(nat).into_iter().collect())).build()
}

/// CreateNatGateway answers with a pending gateway.
fn create_rule() -> Rule {
    mock!(Client::create_nat_gateway)
        .then_output(|| CreateNatGatewayOutput::builder().nat_gateway(nat(NatGatewayState::Pending)).build())
}

/// The account lookup for the ARN.
fn account_rule() -> Rule {
    mock!(Client::describe_security_groups).then_output(|| {
        DescribeSecurityGroupsOutput::builder()
            .security_groups(SecurityGroup::builder().group_id("sg-1").owner_id("123456789012").build())
            .build()
    })
}

/// The elastic IP a create checks first: free.
fn free_address_rule() -> Rule {
    mock!(Client::describe_addresses)
        .then_output(|| aws_sdk_ec2::operation::describe_addresses::DescribeAddressesOutput::builder().build())
}

#[tokio::test]
async fn failed_nat_gateway_fails_the_create_with_its_failure_code_and_message() {
    let describe = mock!(Client::describe_nat_gateways)
        .sequence()
        .output(|| described(Some(NatGatewayState::Pending)))
        .output(|| described(Some(NatGatewayState::Failed)))
        .build();
    let create = create_rule();
    let client =
        mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&describe, &create, &account_rule(), &free_address_rule()]);
    let (ctx, _cancel) = ctx(Duration::from_secs(30));

    let err = Adapter(NatGateway::new(client)).create(&ctx, &desired()).await.unwrap_err();

    assert_eq!(err.code.as_deref(), Some("Gateway.NotAttached"), "{err:?}");
    assert!(err.message.contains("Network vpc-1 has no Internet gateway attached"), "{err:?}");
    assert!(err.message.contains(NAT_ID), "{err:?}");
    let shown = err.to_string();
    assert!(shown.contains("Gateway.NotAttached") && shown.contains("has no Internet gateway attached"), "{shown}");
    assert!(err.hint.as_deref().is_some_and(|h| h.contains("internet gateway")), "{err:?}");
    assert_eq!(create.num_calls(), 1);
}

#[tokio::test]
async fn nat_gateway_stuck_pending_times_out_naming_the_elapsed_time() {
    let describe = mock!(Client::describe_nat_gateways)
        .sequence()
        .output(|| described(Some(NatGatewayState::Pending)))
        .repeatedly()
        .build();
    let create = create_rule();
    let client =
        mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&describe, &create, &account_rule(), &free_address_rule()]);
    let (ctx, _cancel) = ctx(Duration::from_secs(3));

    let started = Instant::now();
    let err = Adapter(NatGateway::new(client)).create(&ctx, &desired()).await.unwrap_err();

    assert!(started.elapsed() >= Duration::from_secs(3), "gave up early: {:?}", started.elapsed());
    assert!(started.elapsed() < Duration::from_secs(10), "waited too long: {:?}", started.elapsed());
    assert_eq!(err.code.as_deref(), Some("Timeout"), "{err:?}");
    assert!(err.message.contains("timed out after 3s"), "{err:?}");
    assert!(err.message.contains("NAT gateway to be available"), "{err:?}");
    assert!(err.message.contains("pending"), "{err:?}");
    // Polls at 0 s, 1 s and 3 s (backoff doubling from 1 s). A fresh create
    // makes no look-up by tags first.
    assert_eq!(describe.num_calls(), 3);
}

#[tokio::test]
async fn interrupted_wait_is_resumed_by_adopting_the_pending_gateway_without_a_second_create() {
    // First run: created, then interrupted while pending.
    let describe = mock!(Client::describe_nat_gateways)
        .sequence()
        .output(|| described(Some(NatGatewayState::Pending)))
        .repeatedly()
        .build();
    let create = create_rule();
    let client =
        mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&describe, &create, &account_rule(), &free_address_rule()]);
    let (ctx1, cancel) = ctx(Duration::from_secs(60));
    let kind = Adapter(NatGateway::new(client));
    let want = desired();
    let run = kind.create(&ctx1, &want);
    let interrupt = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        cancel();
    };
    let (result, ()) = tokio::join!(run, interrupt);
    let err: ProviderError = result.unwrap_err();
    assert_eq!(err.code.as_deref(), Some("Interrupted"), "{err:?}");
    assert!(err.message.contains("NAT gateway to be available"), "{err:?}");
    assert_eq!(create.num_calls(), 1);

    // Second run: the look-up by tags finds the pending gateway; it becomes
    // available on the second poll.
    let describe = mock!(Client::describe_nat_gateways)
        .sequence()
        .output(|| described(Some(NatGatewayState::Pending))) // the look-up by tags
        .output(|| described(Some(NatGatewayState::Pending)))
        .output(|| described(Some(NatGatewayState::Available)))
        .repeatedly()
        .build();
    let create = create_rule();
    let client =
        mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&describe, &create, &account_rule(), &free_address_rule()]);
    let (mut ctx2, _cancel) = ctx(Duration::from_secs(60));
    // The engine marks the repeat of a create whose id was never recorded.
    ctx2.interrupted_create = true;

    let o = Adapter(NatGateway::new(client)).create(&ctx2, &desired()).await.unwrap();

    assert_eq!(create.num_calls(), 0, "the pending gateway must be adopted, not created again");
    assert_eq!(o.id, NAT_ID);
    assert_eq!(o.attributes["state"], json!("available"));
    assert_eq!(o.attributes["public_ip"], json!("203.0.113.10"));
    assert_eq!(o.attributes["arn"], json!(format!("arn:aws:ec2:us-east-1:123456789012:natgateway/{NAT_ID}")));
    assert_eq!(o.properties["allocation_id"], json!("eipalloc-1"));
    assert_eq!(o.properties["connectivity_type"], json!("public"));
}

#[tokio::test]
async fn resume_waits_for_a_recorded_pending_gateway_and_creates_nothing() {
    let describe = mock!(Client::describe_nat_gateways)
        .sequence()
        .output(|| described(Some(NatGatewayState::Pending)))
        .output(|| described(Some(NatGatewayState::Available)))
        .repeatedly()
        .build();
    let create = create_rule();
    let client =
        mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&describe, &create, &account_rule(), &free_address_rule()]);
    let (ctx, _cancel) = ctx(Duration::from_secs(30));
    let current = deployctl_engine::Observed { id: NAT_ID.into(), ..Default::default() };

    let o = Adapter(NatGateway::new(client)).resume(&ctx, &current).await.unwrap();

    assert_eq!(create.num_calls(), 0);
    assert_eq!(o.attributes["state"], json!("available"));
}

#[tokio::test]
async fn failed_gateway_found_by_tags_is_not_adopted_and_the_new_create_uses_a_fresh_token() {
    let describe = mock!(Client::describe_nat_gateways)
        .sequence()
        .output(|| described(Some(NatGatewayState::Failed))) // the look-up by tags: a dead one
        .output(|| described(Some(NatGatewayState::Available)))
        .repeatedly()
        .build();
    let create = mock!(Client::create_nat_gateway)
        .match_requests(|req| req.client_token() == Some("0123456789abcdef0123456789abcdef-1"))
        .then_output(|| CreateNatGatewayOutput::builder().nat_gateway(nat(NatGatewayState::Pending)).build());
    let client =
        mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&describe, &create, &account_rule(), &free_address_rule()]);
    let (mut ctx, _cancel) = ctx(Duration::from_secs(30));
    ctx.interrupted_create = true;

    let o = Adapter(NatGateway::new(client)).create(&ctx, &desired()).await.unwrap();

    assert_eq!(create.num_calls(), 1);
    assert_eq!(o.attributes["state"], json!("available"));
}

#[tokio::test]
async fn read_leaves_out_failed_and_deleted_gateways_but_keeps_pending_ones() {
    let describe = mock!(Client::describe_nat_gateways).then_output(|| {
        let with_id = |id: &str, state: NatGatewayState| {
            let mut n = nat(state);
            n.nat_gateway_id = Some(id.to_string());
            n
        };
        DescribeNatGatewaysOutput::builder()
            .nat_gateways(with_id("nat-pending", NatGatewayState::Pending))
            .nat_gateways(with_id("nat-available", NatGatewayState::Available))
            .nat_gateways(with_id("nat-failed", NatGatewayState::Failed))
            .nat_gateways(with_id("nat-deleting", NatGatewayState::Deleting))
            .nat_gateways(with_id("nat-deleted", NatGatewayState::Deleted))
            .build()
    });
    let client = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&describe, &account_rule()]);
    let ctx = deployctl_engine::ReadCtx::new(STACK, "us-east-1");
    let ids: Vec<String> =
        ["nat-pending", "nat-available", "nat-failed", "nat-deleting", "nat-deleted"].map(String::from).to_vec();

    let found = Adapter(NatGateway::new(client)).read(&ctx, &ids).await.unwrap();

    let got: Vec<&str> = found.iter().map(|o| o.id.as_str()).collect();
    assert_eq!(got, ["nat-pending", "nat-available"]);
    assert_eq!(found[0].attributes["state"], json!("pending"));
}

// The kinds around a NAT gateway: its Elastic IP, and the route tables that
// point at it.

mod around_the_nat_gateway {
    use super::*;
    use aws_sdk_ec2::operation::describe_addresses::DescribeAddressesOutput;
    use aws_sdk_ec2::operation::describe_route_tables::DescribeRouteTablesOutput;
    use aws_sdk_ec2::operation::release_address::{ReleaseAddressError, ReleaseAddressOutput};
    use aws_sdk_ec2::types::{Address, Route, RouteOrigin, RouteTable, RouteTableAssociation};
    use aws_smithy_types::error::ErrorMetadata;
    use deployctl_aws::ec2::elastic_ip::ElasticIp;
    use deployctl_aws::ec2::route_table::RouteTable as RouteTableKind;
    use deployctl_engine::{Observed, ReadCtx};

    fn delete_ctx(timeout: Duration) -> OpCtx {
        OpCtx::detached(STACK, "us-east-1", "nat_ip", "ec2.elastic_ip", StepAction::Delete, tags(), "t", timeout).0
    }

    fn address(held_by: Option<&str>) -> DescribeAddressesOutput {
        let a = Address::builder().allocation_id("eipalloc-1").public_ip("203.0.113.10").domain("vpc".into());
        let a = match held_by {
            Some(eni) => a.network_interface_id(eni).association_id("eipassoc-1"),
            None => a,
        };
        DescribeAddressesOutput::builder().addresses(a.build()).build()
    }

    fn auth_failure() -> ReleaseAddressError {
        ReleaseAddressError::generic(
            ErrorMetadata::builder()
                .code("AuthFailure")
                .message("You do not have permission to access the specified resource.")
                .build(),
        )
    }

    fn eip() -> Observed {
        Observed { id: "eipalloc-1".into(), ..Default::default() }
    }

    #[tokio::test]
    async fn elastic_ip_release_waits_while_a_deleted_nat_gateway_still_holds_it() {
        let release = mock!(Client::release_address)
            .sequence()
            .error(auth_failure)
            .output(|| ReleaseAddressOutput::builder().build())
            .build();
        let describe = mock!(Client::describe_addresses).then_output(|| address(Some("eni-1")));
        let client = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&release, &describe]);

        Adapter(ElasticIp::new(client))
            .delete(&delete_ctx(Duration::from_secs(30)), &eip(), &Props::new())
            .await
            .unwrap();

        assert_eq!(release.num_calls(), 2);
    }

    #[tokio::test]
    async fn elastic_ip_auth_failure_on_a_free_address_fails_at_once_with_a_hint() {
        let release = mock!(Client::release_address).sequence().error(auth_failure).repeatedly().build();
        let describe = mock!(Client::describe_addresses).then_output(|| address(None));
        let client = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&release, &describe]);

        let started = Instant::now();
        let err = Adapter(ElasticIp::new(client))
            .delete(&delete_ctx(Duration::from_secs(30)), &eip(), &Props::new())
            .await
            .unwrap_err();

        assert!(started.elapsed() < Duration::from_secs(1), "it waited: {:?}", started.elapsed());
        assert_eq!(err.code.as_deref(), Some("AuthFailure"), "{err:?}");
        assert!(err.hint.is_some(), "{err:?}");
        assert_eq!(release.num_calls(), 1);
    }

    #[tokio::test]
    async fn elastic_ip_still_held_after_the_timeout_names_the_holder() {
        let release = mock!(Client::release_address).sequence().error(auth_failure).repeatedly().build();
        let describe = mock!(Client::describe_addresses).then_output(|| address(Some("eni-1")));
        let client = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&release, &describe]);

        let err = Adapter(ElasticIp::new(client))
            .delete(&delete_ctx(Duration::from_secs(1)), &eip(), &Props::new())
            .await
            .unwrap_err();

        assert_eq!(err.code.as_deref(), Some("InvalidIPAddress.InUse"), "{err:?}");
        assert!(err.message.contains("eni-1"), "{err:?}");
        assert!(err.hint.as_deref().is_some_and(|h| h.contains("NAT gateway")), "{err:?}");
    }

    #[tokio::test]
    async fn route_table_read_leaves_out_local_propagated_and_endpoint_routes_and_the_main_association() {
        let describe = mock!(Client::describe_route_tables).then_output(|| {
            let route = |dest: &str, origin: RouteOrigin| {
                Route::builder().destination_cidr_block(dest).origin(origin).state("active".into())
            };
            let table = RouteTable::builder()
                .route_table_id("rtb-1")
                .vpc_id("vpc-1")
                .owner_id("123456789012")
                .routes(route("10.0.0.0/16", RouteOrigin::CreateRouteTable).gateway_id("local").build())
                .routes(route("0.0.0.0/0", RouteOrigin::CreateRoute).nat_gateway_id(NAT_ID).build())
                .routes(route("172.16.0.0/12", RouteOrigin::EnableVgwRoutePropagation).gateway_id("vgw-1").build())
                .routes(
                    Route::builder()
                        .destination_prefix_list_id("pl-63a5400a")
                        .gateway_id("vpce-1")
                        .origin(RouteOrigin::CreateRoute)
                        .build(),
                )
                .routes(route("192.168.0.0/16", RouteOrigin::CreateRoute).gateway_id("vpce-gwlb").build())
                .associations(RouteTableAssociation::builder().main(true).route_table_association_id("a-0").build())
                .associations(
                    RouteTableAssociation::builder()
                        .main(false)
                        .subnet_id("subnet-2")
                        .route_table_association_id("a-2")
                        .build(),
                )
                .build();
            DescribeRouteTablesOutput::builder().route_tables(table).build()
        });
        let client = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&describe]);
        let ctx = ReadCtx::new(STACK, "us-east-1");

        let found = Adapter(RouteTableKind::new(client)).read(&ctx, &["rtb-1".to_string()]).await.unwrap();

        assert_eq!(
            found[0].properties["routes"],
            json!([
                {"destination_cidr_block": "0.0.0.0/0", "nat_gateway_id": NAT_ID},
                {"destination_cidr_block": "192.168.0.0/16", "vpc_endpoint_id": "vpce-gwlb"},
            ])
        );
        assert_eq!(found[0].properties["subnet_ids"], json!(["subnet-2"]));
        assert_eq!(found[0].attributes["arn"], json!("arn:aws:ec2:us-east-1:123456789012:route-table/rtb-1"));
    }
}
