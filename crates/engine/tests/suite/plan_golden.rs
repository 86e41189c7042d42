//! The plan file format (`deployctl diff -o plan.json`, `up --plan`) is a
//! contract: a plan with every action and every kind of planned value
//! serializes byte for byte to the golden file, reads back equal, and plans
//! of another format version are refused.
//!
//! After an intended format change, regenerate with
//! `UPDATE_GOLDEN=1 cargo test -p deployctl-engine --test suite plan_golden::`
//! and review the diff (a change that breaks old plans needs a new
//! `PLAN_FORMAT_VERSION`).

use deployctl_engine::plan::{Prior, ReplaceOrder, Replacement, Timeouts, PLAN_FORMAT_VERSION};
use deployctl_engine::{Action, Change, Mode, Plan, Planned, ResourcePlan};
use deployctl_spec::{Expr, Part, Pos, Reference, SecretSource, Selector};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::PathBuf;

const GOLDEN: &str = "tests/golden/plan.json";

fn golden_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(GOLDEN)
}

fn lit(v: Value) -> Expr {
    Expr::Literal(v)
}

fn reference(resource: &str, selector: Selector, attribute: &str, line: usize) -> Reference {
    Reference { resource: resource.into(), selector, attribute: attribute.into(), pos: Pos { line, column: 15 } }
}

fn tags(address: &str, own: &[(&str, Expr)]) -> BTreeMap<String, Expr> {
    let mut t: BTreeMap<String, Expr> = own.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
    t.insert("deployctl:stack".into(), lit(json!("network")));
    t.insert("deployctl:resource".into(), lit(json!(address)));
    t.insert("team".into(), lit(json!("platform")));
    t
}

fn props(v: Value) -> serde_json::Map<String, Value> {
    v.as_object().unwrap().clone()
}

fn base(address: &str, type_name: &str, action: Action) -> ResourcePlan {
    ResourcePlan {
        address: address.into(),
        type_name: type_name.into(),
        action,
        id: None,
        reasons: vec![],
        changes: vec![],
        forced_by: vec![],
        replacement: None,
        deposed: vec![],
        dependencies: vec![],
        previous_dependencies: vec![],
        desired: BTreeMap::new(),
        tags: BTreeMap::new(),
        prior: None,
        resume: false,
        timeouts: None,
        adopt: None,
    }
}

/// A plan with every [`Action`], every [`Planned`] variant and every kind
/// of [`Expr`].
fn sample() -> Plan {
    let vpc_id = || Expr::Ref(reference("vpc", Selector::Single, "id", 12));

    let vpc = ResourcePlan {
        id: Some("vpc-0a1b2c3d".into()),
        reasons: vec!["adopted vpc-0a1b2c3d (found by its tags after an interrupted create)".into()],
        changes: vec![Change {
            field: "enable_dns_hostnames".into(),
            before: Some(Planned::Value(json!(false))),
            after: Some(Planned::Value(json!(true))),
            forces_replacement: false,
            // Turned off outside deployctl since it applied `true`.
            drift: true,
            applied: Some(Planned::Value(json!(true))),
        }],
        desired: [
            ("cidr_block".to_string(), lit(json!("10.0.0.0/16"))),
            ("enable_dns_hostnames".to_string(), lit(json!(true))),
        ]
        .into(),
        tags: tags("vpc", &[]),
        prior: Some(Prior {
            id: "vpc-0a1b2c3d".into(),
            properties: props(json!({"cidr_block": "10.0.0.0/16", "enable_dns_hostnames": false})),
            tags: [("deployctl:stack".to_string(), "network".to_string())].into(),
            attributes: props(
                json!({"id": "vpc-0a1b2c3d", "arn": "arn:aws:ec2:us-east-1:123456789012:vpc/vpc-0a1b2c3d"}),
            ),
            recorded: Default::default(),
            recorded_tags: BTreeMap::new(),
        }),
        resume: true,
        timeouts: Some(Timeouts { create_secs: Some(600), update_secs: None, delete_secs: Some(5400) }),
        ..base("vpc", "ec2.vpc", Action::Update)
    };

    let subnet = ResourcePlan {
        changes: vec![
            Change {
                field: "route_ids".into(),
                before: None,
                after: Some(Planned::Partial(json!(["rtb-main", {"known_after_apply": true}]))),
                forces_replacement: false,
                drift: false,
                applied: None,
            },
            Change {
                field: "vpc_id".into(),
                before: None,
                after: Some(Planned::KnownAfterApply),
                forces_replacement: false,
                drift: false,
                applied: None,
            },
            Change {
                field: "cidr_block".into(),
                before: None,
                after: Some(Planned::Value(json!("10.0.1.0/24"))),
                forces_replacement: false,
                drift: false,
                applied: None,
            },
            Change {
                field: "tags.Name".into(),
                before: None,
                after: Some(Planned::Value(json!("network-a"))),
                forces_replacement: false,
                drift: false,
                applied: None,
            },
        ],
        dependencies: vec!["vpc".into()],
        desired: [
            ("vpc_id".to_string(), vpc_id()),
            ("cidr_block".to_string(), lit(json!("10.0.1.0/24"))),
            ("map_public_ip_on_launch".to_string(), lit(json!(true))),
        ]
        .into(),
        tags: tags(
            "subnet[a]",
            &[
                ("Name", lit(json!("network-a"))),
                (
                    "Vpc",
                    Expr::Template(vec![
                        Part::Text("in ".into()),
                        Part::Ref(reference("vpc", Selector::Single, "id", 20)),
                    ]),
                ),
            ],
        ),
        ..base("subnet[a]", "ec2.subnet", Action::Create)
    };

    let db = ResourcePlan {
        id: Some("db-1".into()),
        reasons: vec!["subnet[a] is replaced".into()],
        changes: vec![
            Change {
                field: "subnet_ids".into(),
                before: Some(Planned::Value(json!(["subnet-old"]))),
                after: Some(Planned::KnownAfterApply),
                forces_replacement: true,
                drift: false,
                applied: None,
            },
            Change {
                field: "password".into(),
                before: Some(Planned::Sensitive { fingerprint: "sha256:0123456789abcdef0123456789abcdef".into() }),
                after: Some(Planned::Sensitive { fingerprint: "sha256:fedcba9876543210fedcba9876543210".into() }),
                forces_replacement: false,
                drift: false,
                applied: None,
            },
            Change {
                field: "tags.Old".into(),
                before: Some(Planned::Value(json!("yes"))),
                after: None,
                forces_replacement: false,
                drift: false,
                applied: None,
            },
        ],
        forced_by: vec!["subnet_ids".into()],
        dependencies: vec!["subnet[a]".into(), "subnet[b]".into()],
        desired: [
            ("password".to_string(), Expr::Secret(SecretSource::Env("DB_PASSWORD".into()))),
            ("ca_bundle".to_string(), Expr::Secret(SecretSource::File("secrets/ca.pem".into()))),
            (
                "subnet_ids".to_string(),
                Expr::List(vec![
                    Expr::Ref(reference("subnet", Selector::Key("a".into()), "id", 30)),
                    Expr::Ref(reference("subnet", Selector::Key("b".into()), "id", 30)),
                ]),
            ),
            ("all_subnets".to_string(), Expr::Ref(reference("subnet", Selector::All, "id", 31))),
            (
                "parameters".to_string(),
                Expr::Map([("max_connections".to_string(), lit(json!("100"))), ("vpc".to_string(), vpc_id())].into()),
            ),
            ("port".to_string(), lit(json!(5432))),
        ]
        .into(),
        tags: tags("db", &[]),
        prior: Some(Prior {
            id: "db-1".into(),
            properties: props(json!({"subnet_ids": ["subnet-old"], "port": 5432})),
            tags: BTreeMap::new(),
            attributes: props(json!({"id": "db-1"})),
            // What a delete reads that AWS does not keep.
            recorded: props(json!({"subnet_ids": ["subnet-old"], "port": 5432, "skip_final_snapshot": true})),
            recorded_tags: BTreeMap::new(),
        }),
        replacement: Some(Replacement {
            order: ReplaceOrder::DeleteBeforeCreate,
            why: "its identifier 'db' must be unique and the replacement keeps it".into(),
        }),
        ..base("db", "rds.instance", Action::Replace)
    };

    let igw = ResourcePlan {
        id: Some("igw-9".into()),
        prior: Some(Prior { id: "igw-9".into(), ..Default::default() }),
        dependencies: vec!["vpc".into()],
        ..base("igw", "ec2.internet_gateway", Action::NoOp)
    };

    // Replaced by creating first; an earlier run's replacement of it is
    // still to be deleted.
    let tg = ResourcePlan {
        id: Some("arn:tg/web/2".into()),
        changes: vec![Change {
            field: "port".into(),
            before: Some(Planned::Value(json!(80))),
            after: Some(Planned::Value(json!(8080))),
            forces_replacement: true,
            drift: false,
            applied: None,
        }],
        forced_by: vec!["port".into()],
        replacement: Some(Replacement {
            order: ReplaceOrder::CreateBeforeDestroy,
            why: "lifecycle.replace is create_before_destroy".into(),
        }),
        deposed: vec![Prior {
            id: "arn:tg/web/1".into(),
            properties: props(json!({"port": 80})),
            recorded: props(json!({"port": 80})),
            ..Default::default()
        }],
        prior: Some(Prior { id: "arn:tg/web/2".into(), ..Default::default() }),
        ..base("tg", "elbv2.target_group", Action::Replace)
    };

    let old = ResourcePlan {
        id: Some("sg-old".into()),
        reasons: vec!["no longer in the spec".into(), "found by its tags (sg-old)".into()],
        dependencies: vec!["vpc".into()],
        prior: Some(Prior {
            id: "sg-old".into(),
            properties: props(json!({"description": "old"})),
            tags: [("deployctl:resource".to_string(), "old_sg".to_string())].into(),
            attributes: props(json!({"id": "sg-old"})),
            recorded: props(json!({"description": "old"})),
            recorded_tags: [("deployctl:resource".to_string(), "old_sg".to_string())].into(),
        }),
        ..base("old_sg", "ec2.security_group", Action::Delete)
    };

    Plan {
        format_version: PLAN_FORMAT_VERSION,
        mode: Mode::Apply,
        stack: "network".into(),
        environment: None,
        region: "us-east-1".into(),
        state_lineage: Some("5f0c1a52-7a0e-4d0b-9d3c-2b1e8f6a4c11".into()),
        lineage: "5f0c1a52-7a0e-4d0b-9d3c-2b1e8f6a4c11".into(),
        state_serial: Some(42),
        resources: vec![vpc, subnet, igw, db, tg, old],
        forget: vec!["eip[gone]".into()],
        for_each_keys: [("subnet".to_string(), vec!["a".to_string(), "b".to_string()])].into(),
        outputs: [
            ("vpc_id".to_string(), vpc_id()),
            ("subnet_ids".to_string(), Expr::Ref(reference("subnet", Selector::All, "id", 40))),
        ]
        .into(),
        targets: vec![],
    }
}

#[test]
fn sample_covers_every_action_and_planned_value() {
    let p = sample();
    let actions: Vec<Action> = p.resources.iter().map(|r| r.action).collect();
    for a in [Action::NoOp, Action::Create, Action::Update, Action::Replace, Action::Delete] {
        assert!(actions.contains(&a), "{a:?} missing");
    }
    let planned: Vec<&Planned> =
        p.resources.iter().flat_map(|r| &r.changes).flat_map(|c| [&c.before, &c.after]).flatten().collect();
    assert!(planned.iter().any(|v| matches!(v, Planned::Value(_))));
    assert!(planned.iter().any(|v| matches!(v, Planned::KnownAfterApply)));
    assert!(planned.iter().any(|v| matches!(v, Planned::Partial(_))));
    assert!(planned.iter().any(|v| matches!(v, Planned::Sensitive { .. })));
}

#[test]
fn plan_json_matches_the_golden_file_byte_for_byte() {
    let json = sample().to_json();
    let path = golden_path();
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &json).unwrap();
    }
    let golden = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (write it with UPDATE_GOLDEN=1)", path.display()));
    if json != golden {
        let first = json.lines().zip(golden.lines()).position(|(a, b)| a != b);
        panic!(
            "the plan format changed (first differing line: {first:?}); if intended, regenerate with UPDATE_GOLDEN=1 and review.\n--- now ---\n{json}"
        );
    }
}

#[test]
fn the_golden_plan_reads_back_equal() {
    let golden = std::fs::read_to_string(golden_path()).unwrap();
    let read = Plan::from_json(&golden).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(read, sample());
    // And writing it again gives the same bytes.
    assert_eq!(read.to_json(), golden);
}

#[test]
fn from_json_refuses_another_format_version() {
    let mut v: Value = serde_json::from_str(&sample().to_json()).unwrap();
    v["format_version"] = json!(1);
    let err = Plan::from_json(&v.to_string()).unwrap_err();
    assert!(err.contains("plan format version 1 is not supported"), "{err}");
    assert!(err.contains(&format!("writes {PLAN_FORMAT_VERSION}")), "{err}");
}

#[test]
fn from_json_refuses_a_document_without_format_version() {
    let mut v: Value = serde_json::from_str(&sample().to_json()).unwrap();
    v.as_object_mut().unwrap().remove("format_version");
    let err = Plan::from_json(&v.to_string()).unwrap_err();
    assert!(err.contains("no format_version"), "{err}");
    // Nor is any other JSON a plan.
    assert!(Plan::from_json("{\"resources\": []}").unwrap_err().contains("no format_version"));
    assert!(Plan::from_json("not json").is_err());
}
