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
