//! Replacement in the order AWS needs, and drift repair by rule identity, on
//! the local endpoint. moto refuses to delete a target group a listener
//! still forwards to (ResourceInUse), as AWS does: a replacement that
//! deleted first would fail here.

use crate::harness::*;
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

const INSTANCE: &str = "front";

/// A load balancer in two subnets, its group, the app's group (reachable
/// only from the load balancer's), and a listener forwarding to a target
/// group on `port`.
fn spec(port: u16) -> String {
    format!(
        r#"stack: front
region: us-east-1
resources:
  vpc:
    type: ec2.vpc
    properties: {{cidr_block: 10.20.0.0/16}}
  subnet:
    type: ec2.subnet
    for_each: {{a: 10.20.1.0/24, b: 10.20.2.0/24}}
    properties:
      vpc_id: ${{vpc.id}}
      cidr_block: ${{each.value}}
      availability_zone: us-east-1${{each.key}}
  alb_sg:
    type: ec2.security_group
    properties:
      vpc_id: ${{vpc.id}}
      description: load balancer
      ingress:
        - {{ip_protocol: tcp, from_port: 80, to_port: 80, cidr_ipv4: 0.0.0.0/0}}
  app_sg:
    type: ec2.security_group
    properties:
      vpc_id: ${{vpc.id}}
      description: app
      ingress:
        - {{ip_protocol: tcp, from_port: 8080, to_port: 8080, referenced_group_id: "${{alb_sg.id}}"}}
  alb:
    type: elbv2.load_balancer
    properties:
      subnets: ["${{subnet[a].id}}", "${{subnet[b].id}}"]
      security_groups: ["${{alb_sg.id}}"]
  tg:
    type: elbv2.target_group
    properties:
      vpc_id: ${{vpc.id}}
      port: {port}
      target_type: ip
  http:
    type: elbv2.listener
    properties:
      load_balancer_arn: ${{alb.arn}}
      port: 80
      protocol: HTTP
      default_actions:
        - {{type: forward, target_group_arn: "${{tg.arn}}"}}
"#
    )
}

fn elbv2(moto: &Moto) -> aws_sdk_elasticloadbalancingv2::Client {
    rt().block_on(async { aws_sdk_elasticloadbalancingv2::Client::new(&moto.sdk_config().await) })
}

/// The ARNs of every target group the stack's tags name, and what the
/// listener forwards to.
fn target_groups(moto: &Moto) -> (BTreeSet<String>, Vec<String>) {
    let c = elbv2(moto);
    rt().block_on(async {
        let groups: Vec<String> = c
            .describe_target_groups()
            .send()
            .await
            .unwrap()
            .target_groups()
            .iter()
            .filter_map(|g| g.target_group_arn().map(str::to_string))
            .collect();
        let mut ours = BTreeSet::new();
        for g in &groups {
            let tags = c.describe_tags().resource_arns(g).send().await.unwrap();
            let mine = tags
                .tag_descriptions()
                .iter()
                .flat_map(|d| d.tags())
                .any(|t| t.key() == Some(deployctl_engine::kind::TAG_STACK) && t.value() == Some(INSTANCE));
            if mine {
                ours.insert(g.clone());
            }
        }
        let lbs = c.describe_load_balancers().send().await.unwrap();
        let mut forwards = Vec::new();
        for lb in lbs.load_balancers() {
            let ls = c.describe_listeners().set_load_balancer_arn(lb.load_balancer_arn().map(str::to_string));
            for l in ls.send().await.unwrap().listeners() {
                for a in l.default_actions() {
                    forwards.extend(a.target_group_arn().map(str::to_string));
                }
            }
        }
        (ours, forwards)
    })
}

fn diff_json(p: &Project, spec: &str) -> serde_json::Value {
    p.ok(&["diff", spec, "--json"]).json()
}

fn resource<'a>(plan: &'a serde_json::Value, address: &str) -> &'a serde_json::Value {
    plan["resources"].as_array().unwrap().iter().find(|r| r["address"] == address).unwrap()
}

#[test]
fn replacing_a_target_group_behind_a_listener_creates_the_new_one_first_and_the_listener_is_never_without_one() {
    let moto = Moto::start();
    let p = Project::new(&moto);
    let spec80 = p.spec("front.yaml", &spec(80));
    p.ok(&["up", spec80.to_str().unwrap(), "--yes"]);
    let (before, forwards) = target_groups(&moto);
    assert_eq!(before.len(), 1, "{before:?}");
    assert_eq!(forwards, before.iter().cloned().collect::<Vec<_>>());

    let spec8080 = p.spec("front.yaml", &spec(8080));
    let plan = diff_json(&p, spec8080.to_str().unwrap());
    let tg = resource(&plan, "tg");
    assert_eq!(tg["action"], "replace");
    assert_eq!(tg["replacement"]["order"], "create_before_destroy", "{tg}");
    assert_eq!(resource(&plan, "http")["action"], "update");
    let text = p.ok(&["diff", spec8080.to_str().unwrap()]).stdout;
    assert!(text.contains("+/- elbv2.target_group.tg"), "{text}");
    assert!(text.contains("create the replacement, repoint what uses it, then delete the old one"), "{text}");

    let up = p.ok(&["up", spec8080.to_str().unwrap(), "--yes", "--json"]).json();
    let steps: Vec<&str> = up["steps"].as_array().unwrap().iter().filter_map(|s| s.as_str()).collect();
    let at = |s: &str| steps.iter().position(|x| *x == s).unwrap_or_else(|| panic!("{s} not in {steps:?}"));
    assert!(at("created tg") < at("updated http"), "{steps:?}");
    assert!(at("updated http") < at("deleted tg"), "{steps:?}");

    let (after, forwards) = target_groups(&moto);
    assert_eq!(after.len(), 1, "the old target group is deleted: {after:?}");
    assert!(after.is_disjoint(&before), "a new one: {before:?} / {after:?}");
    assert_eq!(forwards, after.iter().cloned().collect::<Vec<_>>(), "the listener forwards to the new one");
    let clean = p.run(&["diff", spec8080.to_str().unwrap(), "--detailed-exitcode"]);
    assert_eq!(clean.code, 0, "the next diff is clean: {clean:?}");
    let state = p.state(INSTANCE).unwrap();
    assert!(state["resources"]["tg"].get("deposed").is_none(), "{}", state["resources"]["tg"]);
}

/// SIGKILL while both target groups exist: the next run adopts the new one
/// (never the old one, which carries the same tags), repoints the listener
/// and deletes the old one.
#[test]
fn a_create_before_destroy_killed_between_its_create_and_its_delete_finishes_with_one_new_target_group() {
    // Every request held 150 ms, so that the moment between the create and
    // the delete lasts several round trips.
    let moto = Moto::start_with_delay(Duration::from_millis(150));
    let p = Project::new(&moto);
    let spec80 = p.spec("front.yaml", &spec(80));
    p.ok(&["up", spec80.to_str().unwrap(), "--yes"]);
    let (before, _) = target_groups(&moto);
    let spec8080 = p.spec("front.yaml", &spec(8080));

    // Watch moto itself (not through the delaying front) for the second
    // target group, and kill the run the moment it is there.
    let direct = rt().block_on(async {
        let conf = aws_sdk_elasticloadbalancingv2::config::Builder::from(&moto.sdk_config().await)
            .endpoint_url(moto.moto_endpoint())
            .build();
        aws_sdk_elasticloadbalancingv2::Client::from_conf(conf)
    });
    let mut child = p
        .command(&["up", spec8080.to_str().unwrap(), "--yes"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    let mut killed = false;
    while start.elapsed() < Duration::from_secs(120) {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        let n = rt().block_on(async { direct.describe_target_groups().send().await.unwrap().target_groups().len() });
        if n == 2 {
            let _ = child.kill(); // SIGKILL
            killed = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let _ = child.wait();
    assert!(killed, "the run ended before both target groups existed");
    let (mid, _) = target_groups(&moto);
    assert_eq!(mid.len(), 2, "killed with old and new: {mid:?}");

    p.ok(&["up", spec8080.to_str().unwrap(), "--yes"]);
    let (after, forwards) = target_groups(&moto);
    assert_eq!(after.len(), 1, "one target group, no orphan: {after:?}");
    assert!(after.is_disjoint(&before), "the old one is deleted: {before:?} / {after:?}");
    assert_eq!(forwards, after.iter().cloned().collect::<Vec<_>>());
    let clean = p.run(&["diff", spec8080.to_str().unwrap(), "--detailed-exitcode"]);
    assert_eq!(clean.code, 0, "the next diff is clean: {clean:?}");
}

/// The drift of the issue: the load balancer's group deleted out of band.
/// `up` re-creates it, and the app group's rule that names the deleted
/// group is revoked by its rule id (by content, AWS refuses it:
/// InvalidGroup.NotFound) and authorized anew for the new group.
#[test]
fn a_referenced_group_deleted_out_of_band_is_repaired_with_the_rules_that_named_it() {
    let moto = Moto::start();
    let p = Project::new(&moto);
    let spec80 = p.spec("front.yaml", &spec(80));
    p.ok(&["up", spec80.to_str().unwrap(), "--yes"]);
    let state = p.state(INSTANCE).unwrap();
    let old_alb_sg = state["resources"]["alb_sg"]["id"].as_str().unwrap().to_string();
    let app_sg = state["resources"]["app_sg"]["id"].as_str().unwrap().to_string();
    let ec2 = rt().block_on(moto.ec2());
    rt().block_on(async { ec2.delete_security_group().group_id(&old_alb_sg).send().await.unwrap() });

    let plan = diff_json(&p, spec80.to_str().unwrap());
    assert_eq!(resource(&plan, "alb_sg")["action"], "create");
    assert_eq!(resource(&plan, "app_sg")["action"], "update");
    p.ok(&["up", spec80.to_str().unwrap(), "--yes"]);

    let state = p.state(INSTANCE).unwrap();
    let new_alb_sg = state["resources"]["alb_sg"]["id"].as_str().unwrap().to_string();
    assert_ne!(new_alb_sg, old_alb_sg);
    let sources: Vec<String> = rt().block_on(async {
        let out = ec2.describe_security_groups().group_ids(&app_sg).send().await.unwrap();
        out.security_groups()[0]
            .ip_permissions()
            .iter()
            .flat_map(|p| p.user_id_group_pairs())
            .filter_map(|g| g.group_id().map(str::to_string))
            .collect()
    });
    assert_eq!(sources, vec![new_alb_sg], "the stale rule is revoked, the new one authorized");
    let clean = p.run(&["diff", spec80.to_str().unwrap(), "--detailed-exitcode"]);
    assert_eq!(clean.code, 0, "the next diff is clean: {clean:?}");
}

/// Drift is labelled: a tag and an ingress rule added through the API show
/// under "Changed outside deployctl", from what was applied to what is
/// live, and as drift in the JSON plan; a change of the spec does not.
#[test]
fn a_tag_and_a_rule_added_outside_deployctl_are_shown_as_drift() {
    let moto = Moto::start();
    let p = Project::new(&moto);
    let spec80 = p.spec("front.yaml", &spec(80));
    p.ok(&["up", spec80.to_str().unwrap(), "--yes"]);
    let state = p.state(INSTANCE).unwrap();
    let alb_sg = state["resources"]["alb_sg"]["id"].as_str().unwrap().to_string();
    let ec2 = rt().block_on(moto.ec2());
    rt().block_on(async {
        let tag = aws_sdk_ec2::types::Tag::builder().key("owner").value("bob").build();
        ec2.create_tags().resources(&alb_sg).tags(tag).send().await.unwrap();
        let ssh = aws_sdk_ec2::types::IpPermission::builder()
            .ip_protocol("tcp")
            .from_port(22)
            .to_port(22)
            .ip_ranges(aws_sdk_ec2::types::IpRange::builder().cidr_ip("10.0.0.0/8").build())
            .build();
        ec2.authorize_security_group_ingress().group_id(&alb_sg).ip_permissions(ssh).send().await.unwrap();
    });

    let text = p.ok(&["diff", spec80.to_str().unwrap()]).stdout;
    let (drift, rest) = text.split_once("deployctl up will make these changes").expect("a plan");
    assert!(drift.starts_with("Changed outside deployctl since it last applied:"), "{text}");
    assert!(drift.contains(&format!("~ ec2.security_group.alb_sg ({alb_sg})")), "{text}");
    assert!(drift.contains("tags.owner = (unset) -> \"bob\""), "{text}");
    assert!(drift.contains("~ ingress") && drift.contains("\"from_port\":22"), "{text}");
    assert!(rest.contains("# changed outside deployctl"), "{text}");

    let plan = diff_json(&p, spec80.to_str().unwrap());
    let changes = resource(&plan, "alb_sg")["changes"].as_array().unwrap().clone();
    let of = |f: &str| changes.iter().find(|c| c["field"] == f).unwrap_or_else(|| panic!("{f}: {changes:?}")).clone();
    assert_eq!(of("ingress")["drift"], true);
    assert_eq!(of("ingress")["applied"]["value"].as_array().unwrap().len(), 1, "what was applied: the one rule");
    assert_eq!(of("tags.owner")["drift"], true);

    // A change of the spec alone is configuration.
    p.ok(&["up", spec80.to_str().unwrap(), "--yes"]);
    let spec8080 = p.spec("front.yaml", &spec(8080));
    let plan = diff_json(&p, spec8080.to_str().unwrap());
    let port =
        resource(&plan, "tg")["changes"].as_array().unwrap().iter().find(|c| c["field"] == "port").unwrap().clone();
    assert_eq!(port["drift"], false, "{port}");
    assert!(!p.ok(&["diff", spec8080.to_str().unwrap()]).stdout.contains("Changed outside deployctl"));
}
