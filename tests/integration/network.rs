//! The network stack end to end: up, diff clean, drift found and repaired,
//! destroy leaving nothing, reads batched.

use crate::harness::*;
use aws_sdk_ec2::types::{AttributeBooleanValue, Filter, VpcAttributeName};

const STACK: &str = "network";
/// Resources in stacks/network.yaml with its default vars.
pub const NETWORK_RESOURCES: usize = 15;

fn network_spec() -> String {
    repo_file("stacks/network.yaml").display().to_string()
}

#[test]
fn up_creates_the_network_with_its_values_and_diff_is_then_clean() {
    let moto = Moto::start();
    let p = Project::new(&moto);
    let spec = network_spec();
    let run = p.ok(&["up", &spec, "--yes", "--json"]);
    let summary = run.json();
    assert_eq!(summary["ok"], true);
    assert_eq!(summary["plan"]["create"], NETWORK_RESOURCES);
    assert_eq!(p.ok(&["diff", &spec, "--detailed-exitcode"]).code, 0);

    rt().block_on(async {
        let ec2 = moto.ec2().await;
        let state = p.state("network/prod").unwrap();
        let vpc_id = state["resources"]["vpc"]["id"].as_str().unwrap().to_string();
        let vpc = ec2.describe_vpcs().vpc_ids(&vpc_id).send().await.unwrap();
        assert_eq!(vpc.vpcs()[0].cidr_block(), Some("10.0.0.0/16"));
        let dns = ec2
            .describe_vpc_attribute()
            .vpc_id(&vpc_id)
            .attribute(VpcAttributeName::EnableDnsHostnames)
            .send()
            .await
            .unwrap();
        assert_eq!(dns.enable_dns_hostnames().and_then(|v| v.value()), Some(true));

        let subnets = ec2
            .describe_subnets()
            .filters(Filter::builder().name("vpc-id").values(&vpc_id).build())
            .send()
            .await
            .unwrap();
        let mut cidrs: Vec<(String, String, bool)> = subnets
            .subnets()
            .iter()
            .map(|s| {
                (
                    s.cidr_block().unwrap().to_string(),
                    s.availability_zone().unwrap().to_string(),
                    s.map_public_ip_on_launch().unwrap_or(false),
                )
            })
            .collect();
        cidrs.sort();
        assert_eq!(
            cidrs,
            vec![
                ("10.0.1.0/24".into(), "us-east-1a".into(), true),
                ("10.0.11.0/24".into(), "us-east-1a".into(), false),
                ("10.0.12.0/24".into(), "us-east-1b".into(), false),
                ("10.0.2.0/24".into(), "us-east-1b".into(), true),
            ]
        );

        let igw_id = state["resources"]["igw"]["id"].as_str().unwrap();
        let igw = ec2.describe_internet_gateways().internet_gateway_ids(igw_id).send().await.unwrap();
        assert_eq!(igw.internet_gateways()[0].attachments()[0].vpc_id(), Some(vpc_id.as_str()));

        // The task group admits 8080 from the load balancer's group only.
        let alb_sg = state["resources"]["alb_sg"]["id"].as_str().unwrap();
        let app_sg = state["resources"]["app_sg"]["id"].as_str().unwrap();
        let g = ec2.describe_security_groups().group_ids(app_sg).send().await.unwrap();
        let perms = g.security_groups()[0].ip_permissions();
        assert_eq!(perms.len(), 1);
        assert_eq!(perms[0].from_port(), Some(8080));
        assert_eq!(perms[0].user_id_group_pairs()[0].group_id(), Some(alb_sg));
        assert!(perms[0].ip_ranges().is_empty());

        // Tags: deployctl's own, the stack's, the resource's.
        let tags = &vpc.vpcs()[0].tags();
        let get = |k: &str| tags.iter().find(|t| t.key() == Some(k)).and_then(|t| t.value()).map(str::to_string);
        assert_eq!(get("deployctl:stack").as_deref(), Some("network/prod"), "the instance: stack and environment");
        assert_eq!(get("deployctl:resource").as_deref(), Some("vpc"));
        assert_eq!(get("project").as_deref(), Some("stock-dashboard"));
        assert_eq!(get("Name").as_deref(), Some("network-prod"));
    });

    let out = p.ok(&["output", &spec, "--json"]).json();
    assert!(out["vpc_id"].as_str().unwrap().starts_with("vpc-"));
    assert_eq!(out["public_subnet_ids"].as_array().unwrap().len(), 2);
    // One output, for scripts: as it is with --raw, as JSON otherwise.
    let vpc = out["vpc_id"].as_str().unwrap();
    assert_eq!(p.ok(&["output", &spec, "vpc_id", "--raw"]).stdout, format!("{vpc}\n"));
    assert_eq!(p.ok(&["output", &spec, "vpc_id"]).stdout, format!("\"{vpc}\"\n"));
    let ids: Vec<String> = serde_json::from_str(&p.ok(&["output", &spec, "public_subnet_ids"]).stdout).unwrap();
    assert_eq!(ids.len(), 2);
    let missing = p.run(&["output", &spec, "vpc"]);
    assert_eq!(missing.code, 1, "{missing:?}");
    assert!(missing.stderr.contains("has no output 'vpc'") && missing.stderr.contains("vpc_id"), "{missing:?}");
}

#[test]
fn a_subnet_deleted_outside_deployctl_shows_in_diff_and_up_recreates_it() {
    let moto = Moto::start();
    let p = Project::new(&moto);
    let spec = network_spec();
    p.ok(&["up", &spec, "--yes"]);
    let subnet = p.state("network/prod").unwrap()["resources"]["private[b]"]["id"].as_str().unwrap().to_string();
    rt().block_on(async { moto.ec2().await.delete_subnet().subnet_id(&subnet).send().await.unwrap() });

    let diff = p.run(&["diff", &spec, "--detailed-exitcode"]);
    assert_eq!(diff.code, 2, "{diff:?}");
    assert!(diff.stdout.contains("+ ec2.subnet.private[b]"), "{diff:?}");
    assert!(diff.stdout.contains(&format!("{subnet} was deleted outside deployctl")), "{diff:?}");
    // Its route table association follows the new subnet, in place.
    assert!(diff.stdout.contains("~ ec2.route_table.private_routes[b]"), "{diff:?}");
    assert!(
        diff.stdout.contains("Plan: 1 to create, 1 to update, 0 to replace, 0 to delete, 13 unchanged."),
        "{diff:?}"
    );

    p.ok(&["up", &spec, "--yes"]);
    assert_eq!(p.run(&["diff", &spec, "--detailed-exitcode"]).code, 0);
    let tagged = rt().block_on(async { tagged(&moto.ec2().await, STACK).await });
    assert_eq!(tagged.len(), NETWORK_RESOURCES, "{tagged:?}");
}

#[test]
fn a_property_changed_outside_deployctl_shows_in_diff_and_up_repairs_it() {
    let moto = Moto::start();
    let p = Project::new(&moto);
    let spec = network_spec();
    p.ok(&["up", &spec, "--yes"]);
    let state = p.state("network/prod").unwrap();
    let subnet = state["resources"]["public[a]"]["id"].as_str().unwrap().to_string();
    let alb_sg = state["resources"]["alb_sg"]["id"].as_str().unwrap().to_string();
    rt().block_on(async {
        let ec2 = moto.ec2().await;
        ec2.modify_subnet_attribute()
            .subnet_id(&subnet)
            .map_public_ip_on_launch(AttributeBooleanValue::builder().value(false).build())
            .send()
            .await
            .unwrap();
        // Someone opens 22 to the world on the load balancer's group.
        ec2.authorize_security_group_ingress()
            .group_id(&alb_sg)
            .ip_protocol("tcp")
            .from_port(22)
            .to_port(22)
            .cidr_ip("0.0.0.0/0")
            .send()
            .await
            .unwrap();
    });

    let diff = p.run(&["diff", &spec, "--detailed-exitcode"]);
    assert_eq!(diff.code, 2, "{diff:?}");
    assert!(diff.stdout.contains(&format!("~ ec2.subnet.public[a] ({subnet}) will be updated in place")), "{diff:?}");
    assert!(diff.stdout.contains("~ map_public_ip_on_launch = false -> true"), "{diff:?}");
    assert!(diff.stdout.contains("~ ec2.security_group.alb_sg"), "{diff:?}");
    assert!(diff.stdout.contains("\"from_port\":22"), "{diff:?}");

    p.ok(&["up", &spec, "--yes"]);
    assert_eq!(p.run(&["diff", &spec, "--detailed-exitcode"]).code, 0);
    rt().block_on(async {
        let ec2 = moto.ec2().await;
        let s = ec2.describe_subnets().subnet_ids(&subnet).send().await.unwrap();
        assert_eq!(s.subnets()[0].map_public_ip_on_launch(), Some(true));
        let g = ec2.describe_security_groups().group_ids(&alb_sg).send().await.unwrap();
        let ports: Vec<Option<i32>> = g.security_groups()[0].ip_permissions().iter().map(|p| p.from_port()).collect();
        assert_eq!(ports, vec![Some(80)]);
    });
}

#[test]
fn destroy_leaves_nothing_tagged_with_the_stack() {
    let moto = Moto::start();
    let p = Project::new(&moto);
    let spec = network_spec();
    p.ok(&["up", &spec, "--yes"]);
    assert_eq!(rt().block_on(async { tagged(&moto.ec2().await, STACK).await }).len(), NETWORK_RESOURCES);
    p.ok(&["destroy", &spec, "--yes"]);
    assert_eq!(rt().block_on(async { tagged(&moto.ec2().await, STACK).await }), vec![]);
    let state = p.state("network/prod").unwrap();
    assert_eq!(state["resources"], serde_json::json!({}));
    // Destroying again finds nothing to do.
    let again = p.ok(&["destroy", &spec, "--yes"]);
    assert!(again.stdout.contains("Nothing to destroy: stack network/prod (us-east-1) has no resources."), "{again:?}");
}

#[test]
fn reads_are_batched_one_describe_per_kind_and_a_clean_up_writes_nothing() {
    let moto = Moto::start();
    let p = Project::new(&moto);
    let spec = network_spec();
    p.ok(&["up", &spec, "--yes"]);
    let serial = p.state("network/prod").unwrap()["serial"].clone();
    let s = p.ok(&["up", &spec, "--yes", "--json"]).json();
    let ec2 = &s["api_calls"]["EC2"];
    // Four subnets, two groups: still one Describe each.
    assert_eq!(ec2["DescribeSubnets"]["calls"], 1, "{s}");
    // One for the groups, one for the account id in NAT and address ARNs.
    assert_eq!(ec2["DescribeSecurityGroups"]["calls"], 2, "{s}");
    assert_eq!(ec2["DescribeNatGateways"]["calls"], 1, "{s}");
    assert_eq!(ec2["DescribeRouteTables"]["calls"], 1, "{s}");
    assert_eq!(ec2["DescribeAddresses"]["calls"], 1, "{s}");
    assert_eq!(ec2["DescribeInternetGateways"]["calls"], 1, "{s}");
    assert_eq!(ec2["DescribeVpcs"]["calls"], 1, "{s}");
    let mutating: Vec<&String> = ec2.as_object().unwrap().keys().filter(|op| !op.starts_with("Describe")).collect();
    assert!(mutating.is_empty(), "a clean up made {mutating:?}");
    assert_eq!(s["state_writes"], 0);
    assert_eq!(p.state("network/prod").unwrap()["serial"], serial);
}

/// The longest dependency chain of a saved plan, counted in resources.
fn plan_depth(plan: &serde_json::Value) -> usize {
    let deps: std::collections::BTreeMap<&str, Vec<&str>> = plan["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            // Left out when empty.
            let d = r["dependencies"].as_array().into_iter().flatten().map(|d| d.as_str().unwrap()).collect();
            (r["address"].as_str().unwrap(), d)
        })
        .collect();
    fn depth<'a>(a: &'a str, deps: &std::collections::BTreeMap<&'a str, Vec<&'a str>>) -> usize {
        1 + deps.get(a).into_iter().flatten().map(|d| depth(d, deps)).max().unwrap_or(0)
    }
    deps.keys().map(|a| depth(a, &deps)).max().unwrap_or(0)
}

/// Guards issue 10's state-write budget: intents go out in one write before
/// the first call and results are checkpointed, not written twice per step.
#[test]
fn up_and_destroy_write_state_at_most_the_graph_depth_plus_two_times() {
    let moto = Moto::start();
    let p = Project::new(&moto);
    let spec = network_spec();
    let plan_path = p.dir.path().join("plan.json");
    let plan_arg = plan_path.display().to_string();
    assert_eq!(p.run(&["diff", &spec, "-o", &plan_arg, "--detailed-exitcode"]).code, 2);
    let plan: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&plan_path).unwrap()).unwrap();
    let depth = plan_depth(&plan);
    assert_eq!(depth, 4, "vpc → public subnet → NAT gateway → private route table");

    let up = p.ok(&["up", &spec, "--yes", "--json"]).json();
    assert_eq!(up["plan"]["create"], NETWORK_RESOURCES);
    let writes = up["state_writes"].as_u64().unwrap() as usize;
    assert!(writes <= depth + 2, "{writes} state writes for {NETWORK_RESOURCES} creates: {up}");
    // The critical path the run reports is a chain of its own steps.
    let chain = up["critical_path"]["steps"].as_array().unwrap();
    assert!(chain.first().and_then(|s| s.as_str()).is_some_and(|s| s.starts_with("creating ec2.vpc.vpc")), "{up}");
    let (calls, round_trips) =
        (up["critical_path"]["calls"].as_u64().unwrap(), up["critical_path"]["round_trips"].as_u64().unwrap());
    assert!(calls >= round_trips && round_trips >= chain.len() as u64, "{up}");
    let state = p.state("network/prod").unwrap();
    let resources = state["resources"].as_object().unwrap();
    assert_eq!(resources.len(), NETWORK_RESOURCES);
    assert!(resources.values().all(|r| r["id"].is_string() && r.get("pending").is_none()), "{state}");

    let down = p.ok(&["destroy", &spec, "--yes", "--json"]).json();
    let writes = down["state_writes"].as_u64().unwrap() as usize;
    assert!(writes <= depth + 2, "{writes} state writes for {NETWORK_RESOURCES} deletes: {down}");
    assert_eq!(p.state("network/prod").unwrap()["resources"], serde_json::json!({}));
}

#[test]
fn a_saved_plan_applies_exactly_and_is_refused_once_state_moved_on() {
    let moto = Moto::start();
    let p = Project::new(&moto);
    let spec = network_spec();
    let plan_path = p.dir.path().join("plan.json");
    let plan_arg = plan_path.display().to_string();
    let d = p.run(&["diff", &spec, "-o", &plan_arg, "--detailed-exitcode"]);
    assert_eq!(d.code, 2, "{d:?}");
    let plan: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&plan_path).unwrap()).unwrap();
    assert_eq!(plan["format_version"], deployctl_engine::plan::PLAN_FORMAT_VERSION);
    assert_eq!(plan["resources"].as_array().unwrap().len(), NETWORK_RESOURCES);

    let s = p.ok(&["up", &spec, "--plan", &plan_arg, "--yes", "--json"]).json();
    assert_eq!(s["plan"]["create"], NETWORK_RESOURCES);
    assert_eq!(rt().block_on(async { tagged(&moto.ec2().await, STACK).await }).len(), NETWORK_RESOURCES);

    let again = p.run(&["up", &spec, "--plan", &plan_arg, "--yes"]);
    assert_eq!(again.code, 1, "{again:?}");
    assert!(again.stderr.contains("state has moved on since the plan was made"), "{again:?}");
    assert_eq!(rt().block_on(async { tagged(&moto.ec2().await, STACK).await }).len(), NETWORK_RESOURCES);
}

#[test]
fn up_without_a_terminal_and_without_yes_refuses_and_changes_nothing() {
    let moto = Moto::start();
    let p = Project::new(&moto);
    let r = p.run(&["up", &network_spec()]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("refusing to apply these changes without confirmation"), "{r:?}");
    assert_eq!(rt().block_on(async { tagged(&moto.ec2().await, STACK).await }), vec![]);
    assert!(p.state("network/prod").is_none());
}
