//! Bad input: every malformed spec gets file:line:column and exit 1, and
//! touches nothing in AWS or in state.

use crate::harness::*;

const GOOD_HEAD: &str = "stack: bad\nregion: us-east-1\nresources:\n";

fn check(name: &str, text: &str, expect: &[&str]) {
    let moto = Moto::start();
    let p = Project::new(&moto);
    let spec = p.spec(&format!("{name}.yaml"), text);
    let spec = spec.display().to_string();
    for cmd in
        [vec!["validate", &spec], vec!["diff", &spec], vec!["up", &spec, "--yes"], vec!["destroy", &spec, "--yes"]]
    {
        let r = p.run(&cmd);
        assert_eq!(r.code, 1, "{cmd:?} on {name}: {r:?}");
        for e in expect {
            assert!(r.stderr.contains(e), "{cmd:?} on {name}: expected {e:?} in:\n{r:?}");
        }
        assert!(!r.stderr.contains("panicked"), "{r:?}");
        assert!(!r.stderr.lines().any(|l| l.starts_with("error: error:")), "the error prefix is printed once: {r:?}");
    }
    assert!(!p.state_dir().exists(), "state was touched for {name}");
    let tagged = rt().block_on(async { tagged(&moto.ec2().await, "bad").await });
    assert_eq!(tagged, vec![], "{name} created something");
}

#[test]
fn broken_yaml_names_file_line_and_column() {
    check(
        "broken",
        &format!("{GOOD_HEAD}  vpc:\n    type: ec2.vpc\n    properties: {{cidr_block: 10.0.0.0/16\n"),
        &["broken.yaml:"],
    );
}

#[test]
fn unknown_type_names_its_position_and_suggests_the_closest() {
    check(
        "unknown_type",
        &format!("{GOOD_HEAD}  vpc:\n    type: ec2.vcp\n    properties: {{cidr_block: 10.0.0.0/16}}\n"),
        &["unknown_type.yaml:5:11", "ec2.vcp", "ec2.vpc"],
    );
}

#[test]
fn unknown_property_names_its_position_and_suggests_the_closest() {
    check(
        "unknown_prop",
        &format!(
            "{GOOD_HEAD}  vpc:\n    type: ec2.vpc\n    properties: {{cidr_block: 10.0.0.0/16}}\n  sub:\n    type: ec2.subnet\n    properties:\n      vpc_id: ${{vpc.id}}\n      cidr: 10.0.1.0/24\n"
        ),
        &["unknown_prop.yaml:11:7", "unknown property 'cidr' for ec2.subnet", "cidr_block"],
    );
}

#[test]
fn bad_reference_names_its_position() {
    check(
        "bad_ref",
        &format!(
            "{GOOD_HEAD}  vpc:\n    type: ec2.vpc\n    properties: {{cidr_block: 10.0.0.0/16}}\n  sub:\n    type: ec2.subnet\n    properties:\n      vpc_id: ${{vcp.id}}\n      cidr_block: 10.0.1.0/24\n"
        ),
        &["bad_ref.yaml:10:", "vcp"],
    );
}

#[test]
fn a_dependency_cycle_is_named() {
    check(
        "cycle",
        &format!(
            "{GOOD_HEAD}  a:\n    type: ec2.security_group\n    properties:\n      vpc_id: vpc-1\n      ingress:\n        - {{ip_protocol: tcp, from_port: 1, to_port: 1, referenced_group_id: \"${{b.id}}\"}}\n  b:\n    type: ec2.security_group\n    properties:\n      vpc_id: vpc-1\n      ingress:\n        - {{ip_protocol: tcp, from_port: 1, to_port: 1, referenced_group_id: \"${{a.id}}\"}}\n"
        ),
        &["cycle.yaml:4:3", "dependency cycle: a -> b -> a"],
    );
}

#[test]
fn a_wrong_value_type_names_its_position() {
    check(
        "wrong_type",
        &format!("{GOOD_HEAD}  vpc:\n    type: ec2.vpc\n    properties:\n      cidr_block: 10.0.0.0/16\n      enable_dns_hostnames: yes please\n"),
        &["wrong_type.yaml:8:29"],
    );
}

/// Values AWS refuses, caught by `validate` before any call: the typo in
/// `launch_type` that once deleted a running service (its replacement's
/// create then failed), log retention days AWS does not offer, a CIDR
/// block past /32, a port past 65535, an events rule with both a pattern
/// and a schedule, and a Fargate task whose memory does not fit its CPU.
#[test]
fn values_aws_refuses_are_caught_offline_with_their_positions() {
    check(
        "refused",
        &format!(
            "{GOOD_HEAD}  svc:
    type: ecs.service
    properties:
      cluster: arn:aws:ecs:us-east-1:123456789012:cluster/c
      task_definition: arn:aws:ecs:us-east-1:123456789012:task-definition/t:1
      launch_type: FARGATEE
  logs:
    type: logs.log_group
    properties: {{log_group_name: /a, retention_in_days: -1}}
  logs2:
    type: logs.log_group
    properties: {{log_group_name: /b, retention_in_days: 10}}
  vpc:
    type: ec2.vpc
    properties: {{cidr_block: 10.0.0.0/33}}
  tg:
    type: elbv2.target_group
    properties: {{port: 70000, vpc_id: \"${{vpc.id}}\"}}
  rule:
    type: events.rule
    properties:
      event_pattern: {{source: [aws.codepipeline]}}
      schedule_expression: rate(5 minutes)
  task:
    type: ecs.task_definition
    properties:
      family: web
      cpu: 256
      memory: 4096
      container_definitions: [{{name: web, image: nginx}}]
"
        ),
        &[
            "refused.yaml:9:20: property 'launch_type' of ecs.service: 'FARGATEE' is not one of the values AWS accepts",
            "hint: did you mean 'FARGATE'?",
            "refused.yaml:12:57: property 'retention_in_days' of logs.log_group: -1 is not a value AWS accepts",
            "refused.yaml:15:57: property 'retention_in_days' of logs.log_group: 10 is not a value AWS accepts",
            "hint: the nearest is 7",
            "refused.yaml:18:30: property 'cidr_block' of ec2.vpc: '10.0.0.0/33' is not an IPv4 CIDR block",
            "refused.yaml:21:24: property 'port' of elbv2.target_group: 70000 is out of range",
            "refused.yaml:26:28: events.rule rule: a rule needs exactly one of event_pattern and schedule_expression",
            "refused.yaml:32:15: ecs.task_definition task: memory 4096 MiB does not fit Fargate's cpu 256",
            "hint: with cpu 256, memory is 512, 1024 or 2048 MiB",
        ],
    );
}

/// What the ECS kinds refuse offline beyond a single enumeration: each item
/// of a list of enumerated values, capacity provider names, ranges of nested
/// properties, and combinations AWS refuses. (`launch_type: FARGATEE` on a
/// running service once passed validate and diff; up deleted the service
/// and failed to create its replacement.)
#[test]
fn ecs_values_aws_refuses_are_caught_offline_with_their_positions() {
    check(
        "refused",
        &format!(
            "{GOOD_HEAD}  cluster:
    type: ecs.cluster
    properties:
      capacity_providers: [FARGATE, FARGATE_SPOTT]
      container_insights: enable
  svc:
    type: ecs.service
    properties:
      cluster: my-cluster
      task_definition: arn:aws:ecs:us-east-1:123456789012:task-definition/t:1
      launch_type: FARGATE
      capacity_provider_strategy: [{{capacity_provider: FARGATE, weight: 1}}]
      desired_count: -1
      deployment_configuration: {{minimum_healthy_percent: 150}}
  ec2task:
    type: ecs.task_definition
    properties:
      family: web
      requires_compatibilities: [FARGATEE]
      container_definitions: [{{name: web, image: nginx, log_configuration: {{log_driver: awslog}}}}]
  task:
    type: ecs.task_definition
    properties:
      family: web2
      network_mode: bridge
      container_definitions: [{{name: web, image: nginx, health_check: {{command: [CMD, x], interval: 1}}}}]
"
        ),
        &[
            "refused.yaml:7:27: ecs.cluster cluster: 'FARGATE_SPOTT' is not a capacity provider",
            "refused.yaml:8:27: property 'container_insights' of ecs.cluster: 'enable' is not one of the values AWS accepts",
            "refused.yaml:12:16: ecs.service svc: cluster must be the cluster's ARN, not \"my-cluster\"",
            "refused.yaml:14:20: ecs.service svc: a service takes a launch_type or a capacity_provider_strategy, not both",
            "refused.yaml:16:22: property 'desired_count' of ecs.service: -1 is out of range",
            "refused.yaml:17:59: property 'deployment_configuration.minimum_healthy_percent' of ecs.service: 150 is out of range",
            "refused.yaml:22:33: ecs.task_definition ec2task: 'FARGATEE' is not one of the values AWS accepts",
            "hint: did you mean 'FARGATE'?",
            "refused.yaml:23:89: property '",
            "'awslog' is not one of the values AWS accepts",
            "refused.yaml:28:21: ecs.task_definition task: a Fargate task runs in network mode awsvpc, not bridge",
            "refused.yaml:29:101: property '",
            "1 is out of range",
        ],
    );
}

/// No credentials anywhere in the chain: a short message that names the
/// chain and what to set, not a 1,600-character dump ending "check the
/// network" (the request never left: it could not be signed).
#[test]
fn missing_credentials_get_a_short_message_naming_the_chain() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("c.yaml");
    std::fs::write(
        &spec,
        format!("{GOOD_HEAD}  vpc:\n    type: ec2.vpc\n    properties: {{cidr_block: 10.0.0.0/16}}\n"),
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_deployctl"))
        .args(["diff", spec.to_str().unwrap()])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", dir.path())
        .env("DEPLOYCTL_STATE_DIR", dir.path().join("state"))
        .env("AWS_CONFIG_FILE", dir.path().join("no-config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", dir.path().join("no-credentials"))
        // Loopback only: no instance metadata, an endpoint nothing listens on.
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.len() < 300, "{} characters: {stderr}", stderr.len());
    assert!(stderr.contains("no AWS credentials found (searched: environment, profile, SSO"), "{stderr}");
    assert!(stderr.contains("AWS_PROFILE") && stderr.contains("AWS_ACCESS_KEY_ID"), "{stderr}");
    assert!(!stderr.contains("check the network"), "{stderr}");
}
