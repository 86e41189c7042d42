//! The network tier: NAT per zone and endpoints, both example stacks through
//! up → diff clean → destroy, and fan-out across zones that grows and shrinks
//! by exactly one chain.

use crate::harness::*;
use aws_sdk_ec2::types::Filter;
use std::collections::BTreeSet;

fn spec(name: &str) -> String {
    repo_file(name).display().to_string()
}

fn addresses(tagged: &[(String, String, String)]) -> BTreeSet<String> {
    tagged.iter().map(|(_, a, _)| a.clone()).collect()
}

#[test]
fn the_nat_per_zone_network_goes_up_diffs_clean_and_destroys_to_nothing() {
    let moto = Moto::start();
    let p = Project::new(&moto);
    let spec = spec("stacks/network.yaml");
    p.ok(&["up", &spec, "--yes"]);
    assert_eq!(p.run(&["diff", &spec, "--detailed-exitcode"]).code, 0);

    rt().block_on(async {
        let ec2 = moto.ec2().await;
        let state = p.state("network/prod").unwrap();
        let id = |a: &str| state["resources"][a]["id"].as_str().unwrap().to_string();
        // Each private subnet routes 0.0.0.0/0 to its own zone's NAT, which
        // lives in that zone's public subnet with its own elastic IP.
        for zone in ["a", "b"] {
            let rt = ec2
                .describe_route_tables()
                .route_table_ids(id(&format!("private_routes[{zone}]")))
                .send()
                .await
                .unwrap();
            let table = &rt.route_tables()[0];
            let default = table.routes().iter().find(|r| r.destination_cidr_block() == Some("0.0.0.0/0")).unwrap();
            assert_eq!(default.nat_gateway_id(), Some(id(&format!("nat[{zone}]")).as_str()));
            let assoc: Vec<&str> = table.associations().iter().filter_map(|a| a.subnet_id()).collect();
            assert_eq!(assoc, vec![id(&format!("private[{zone}]")).as_str()]);

            let nat = ec2.describe_nat_gateways().nat_gateway_ids(id(&format!("nat[{zone}]"))).send().await.unwrap();
            let nat = &nat.nat_gateways()[0];
            assert_eq!(nat.state().map(|s| s.as_str()), Some("available"));
            assert_eq!(nat.subnet_id(), Some(id(&format!("public[{zone}]")).as_str()));
            assert_eq!(nat.nat_gateway_addresses()[0].allocation_id(), Some(id(&format!("nat_ip[{zone}]")).as_str()));
        }
        // The public table sends 0.0.0.0/0 to the internet gateway, for both
        // public subnets; the VPC's main table is left alone.
        let rt = ec2.describe_route_tables().route_table_ids(id("public_routes")).send().await.unwrap();
        let table = &rt.route_tables()[0];
        let default = table.routes().iter().find(|r| r.destination_cidr_block() == Some("0.0.0.0/0")).unwrap();
        assert_eq!(default.gateway_id(), Some(id("igw").as_str()));
        let mut assoc: Vec<String> =
            table.associations().iter().filter_map(|a| a.subnet_id().map(str::to_string)).collect();
        assoc.sort();
        let mut want = vec![id("public[a]"), id("public[b]")];
        want.sort();
        assert_eq!(assoc, want);
        let main = ec2
            .describe_route_tables()
            .filters(Filter::builder().name("vpc-id").values(id("vpc")).build())
            .filters(Filter::builder().name("association.main").values("true").build())
            .send()
            .await
            .unwrap();
        let main = &main.route_tables()[0];
        assert_eq!(main.routes().len(), 1, "the main table gained routes: {main:?}");
    });

    p.ok(&["destroy", &spec, "--yes"]);
    assert_eq!(rt().block_on(async { tagged(&moto.ec2().await, "network").await }), vec![]);
}

#[test]
fn the_endpoint_network_goes_up_diffs_clean_and_destroys_to_nothing() {
    let moto = Moto::start();
    let p = Project::new(&moto);
    let spec = spec("stacks/network-endpoints.yaml");
    p.ok(&["up", &spec, "--yes"]);
    assert_eq!(p.run(&["diff", &spec, "--detailed-exitcode"]).code, 0);

    rt().block_on(async {
        let ec2 = moto.ec2().await;
        let state = p.state("network-endpoints").unwrap();
        let id = |a: &str| state["resources"][a]["id"].as_str().unwrap().to_string();
        let vpc = id("vpc");
        let nats = ec2
            .describe_nat_gateways()
            .filter(Filter::builder().name("vpc-id").values(&vpc).build())
            .send()
            .await
            .unwrap();
        assert!(nats.nat_gateways().is_empty(), "no NAT in this design");
        let eps = ec2
            .describe_vpc_endpoints()
            .filters(Filter::builder().name("vpc-id").values(&vpc).build())
            .send()
            .await
            .unwrap();
        let mut services: Vec<(String, String)> = eps
            .vpc_endpoints()
            .iter()
            .map(|e| {
                (
                    e.service_name().unwrap().to_string(),
                    e.vpc_endpoint_type().map(|t| t.as_str().to_lowercase()).unwrap_or_default(),
                )
            })
            .collect();
        services.sort();
        assert_eq!(
            services,
            vec![
                ("com.amazonaws.us-east-1.ecr.api".into(), "interface".into()),
                ("com.amazonaws.us-east-1.ecr.dkr".into(), "interface".into()),
                ("com.amazonaws.us-east-1.logs".into(), "interface".into()),
                ("com.amazonaws.us-east-1.s3".into(), "gateway".into()),
            ]
        );
        for e in eps.vpc_endpoints() {
            if e.service_name() == Some("com.amazonaws.us-east-1.s3") {
                assert_eq!(e.route_table_ids(), [id("private_routes")]);
                let policy: serde_json::Value = serde_json::from_str(e.policy_document().unwrap()).unwrap();
                assert_eq!(policy["Statement"][0]["Action"], serde_json::json!(["s3:GetObject"]));
            } else {
                assert_eq!(e.subnet_ids().len(), 3, "{e:?}");
                assert_eq!(e.groups().len(), 1);
            }
        }
    });

    p.ok(&["destroy", &spec, "--yes"]);
    assert_eq!(rt().block_on(async { tagged(&moto.ec2().await, "network-endpoints").await }), vec![]);
}

#[test]
fn a_third_zone_adds_exactly_one_chain_and_removing_it_removes_exactly_that_chain() {
    let moto = Moto::start();
    let p = Project::new(&moto);
    let spec = spec("stacks/network.yaml");
    let three = repo_file("stacks/env/three-zones.yaml").display().to_string();
    p.ok(&["up", &spec, "--yes"]);
    let two = rt().block_on(async { tagged(&moto.ec2().await, "network").await });

    let plan = p.ok(&["diff", &spec, "--var-file", &three, "--json"]).json();
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
        [
            ("nat[c]", "create"),
            ("nat_ip[c]", "create"),
            ("private[c]", "create"),
            ("private_routes[c]", "create"),
            ("public[c]", "create"),
            // The public route table gains the new public subnet, in place.
            ("public_routes", "update"),
        ]
        .map(|(a, b)| (a.to_string(), b.to_string()))
    );

    p.ok(&["up", &spec, "--var-file", &three, "--yes"]);
    let with_c = rt().block_on(async { tagged(&moto.ec2().await, "network").await });
    let added: BTreeSet<String> = addresses(&with_c).difference(&addresses(&two)).cloned().collect();
    assert_eq!(added, ["nat[c]", "nat_ip[c]", "private[c]", "private_routes[c]", "public[c]"].map(String::from).into());
    assert_eq!(p.run(&["diff", &spec, "--var-file", &three, "--detailed-exitcode"]).code, 0);

    // Back to two zones: exactly that chain goes, nothing else is touched.
    p.ok(&["up", &spec, "--yes"]);
    let back = rt().block_on(async { tagged(&moto.ec2().await, "network").await });
    assert_eq!(back, two, "the two original zones' resources must be the very same ones");
    assert_eq!(p.run(&["diff", &spec, "--detailed-exitcode"]).code, 0);
}

#[test]
fn dev_sizing_shares_one_nat_between_both_zones() {
    let moto = Moto::start();
    let p = Project::new(&moto);
    let spec = spec("stacks/network.yaml");
    let dev = repo_file("stacks/env/dev.yaml").display().to_string();
    p.ok(&["up", &spec, "--var-file", &dev, "--yes"]);
    let state = p.state("network/dev").unwrap();
    let nat_a = state["resources"]["nat[a]"]["id"].as_str().unwrap().to_string();
    assert!(state["resources"].get("nat[b]").is_none());
    rt().block_on(async {
        let ec2 = moto.ec2().await;
        for zone in ["a", "b"] {
            let id = state["resources"][format!("private_routes[{zone}]")]["id"].as_str().unwrap();
            let rt = ec2.describe_route_tables().route_table_ids(id).send().await.unwrap();
            let default = rt.route_tables()[0]
                .routes()
                .iter()
                .find(|r| r.destination_cidr_block() == Some("0.0.0.0/0"))
                .cloned()
                .unwrap();
            assert_eq!(default.nat_gateway_id(), Some(nat_a.as_str()), "zone {zone}");
        }
    });
    assert_eq!(p.run(&["diff", &spec, "--var-file", &dev, "--detailed-exitcode"]).code, 0);
}

#[test]
fn a_nat_gateway_gone_while_its_address_stayed_is_recreated_with_that_address() {
    // What a destroy killed between a NAT's delete and its address's release
    // leaves behind: the address, still marked associated (moto keeps the
    // association of a deleted gateway; AWS drops it once deleted).
    let moto = Moto::start();
    let p = Project::new(&moto);
    let spec = spec("stacks/network.yaml");
    p.ok(&["up", &spec, "--yes"]);
    let state = p.state("network/prod").unwrap();
    let nat = state["resources"]["nat[b]"]["id"].as_str().unwrap().to_string();
    let eip = state["resources"]["nat_ip[b]"]["id"].as_str().unwrap().to_string();
    rt().block_on(async { moto.ec2().await.delete_nat_gateway().nat_gateway_id(&nat).send().await.unwrap() });

    let r = p.ok(&["up", &spec, "--yes"]);
    let state = p.state("network/prod").unwrap();
    let new_nat = state["resources"]["nat[b]"]["id"].as_str().unwrap().to_string();
    assert_ne!(new_nat, nat, "{r:?}");
    rt().block_on(async {
        let n = moto.ec2().await.describe_nat_gateways().nat_gateway_ids(&new_nat).send().await.unwrap();
        assert_eq!(n.nat_gateways()[0].nat_gateway_addresses()[0].allocation_id(), Some(eip.as_str()));
    });
    assert_eq!(p.run(&["diff", &spec, "--detailed-exitcode"]).code, 0);
}
