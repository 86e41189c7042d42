//! The RDS kinds against a moto server of the test's own: a subnet group, a
//! parameter group changed in place, and a MySQL instance with a managed
//! master secret, read back clean, its changes classified (in place, now or
//! at the window; a new major version or subnet group replaces), refused
//! deletion while protected, then deleted with a final snapshot.

use crate::support::kit::{assert_clean, changes, op, props, read_ctx, read_one, read_opt};
use crate::support::moto::Moto;
use deployctl_aws::kit::Adapter;
use deployctl_aws::rds::db_instance::{Instance, SCHEMA as DB};
use deployctl_aws::rds::parameter_group::{ParameterGroup, SCHEMA as PARAMS};
use deployctl_aws::rds::subnet_group::{SubnetGroup, SCHEMA as SUBNETS};
use deployctl_engine::diff::{diff_properties, Want};
use deployctl_engine::{Observed, Props, ResourceKind, StepAction};
use deployctl_spec::Update;
use serde_json::{json, Value};

const STACK: &str = "shop";
const REGION: &str = "us-east-2";

/// How the planner classifies each field that differs.
fn updates(desired: &Props, live: &Observed) -> Vec<(String, Update)> {
    let want = |p: &deployctl_spec::Prop| match desired.get(p.name) {
        Some(v) => Want::Value(v.clone()),
        None => Want::Unmanaged,
    };
    diff_properties(&DB, &want, &live.properties).into_iter().map(|d| (d.field, d.update)).collect()
}

#[tokio::test]
async fn rds_subnet_group_parameter_group_and_instance_round_trip() {
    let moto = Moto::start();
    let aws = moto.aws().await;
    let rc = read_ctx(STACK, REGION);
    let ec2 = aws.ec2();
    let vpc = ec2.create_vpc().cidr_block("10.0.0.0/16").send().await.unwrap();
    let vpc_id = vpc.vpc().and_then(|v| v.vpc_id()).unwrap().to_string();
    let mut subnet_ids = Vec::new();
    for (cidr, zone) in [("10.0.1.0/24", "us-east-2a"), ("10.0.2.0/24", "us-east-2b")] {
        let s = ec2.create_subnet().vpc_id(&vpc_id).cidr_block(cidr).availability_zone(zone).send().await.unwrap();
        subnet_ids.push(s.subnet().and_then(|s| s.subnet_id()).unwrap().to_string());
    }

    // The subnet group, named <stack>-<address>.
    let groups = Adapter(SubnetGroup::new(aws.rds()));
    let want_subnets = props(json!({"subnet_ids": subnet_ids}));
    let ctx = op(STACK, REGION, "db_subnets", SUBNETS.type_name, StepAction::Create, &[]);
    let created = groups.create(&ctx, &want_subnets).await.unwrap();
    assert_eq!(created.id, "shop-db-subnets");
    let live_subnets = read_one(&groups, &rc, "shop-db-subnets").await;
    assert_clean(&SUBNETS, &want_subnets, &live_subnets);
    assert_eq!(live_subnets.attributes["vpc_id"], json!(vpc_id));
    assert_eq!(live_subnets.tags.get("deployctl:resource").map(String::as_str), Some("db_subnets"));

    // The parameter group: parameters set, then one changed. (Removing one
    // is ResetDBParameterGroup, which moto 5.2.5 does not implement.)
    let params = Adapter(ParameterGroup::new(aws.rds()));
    let want_params =
        props(json!({"family": "mysql8.0", "parameters": {"max_connections": "200", "slow_query_log": "1"}}));
    let ctx = op(STACK, REGION, "db_params", PARAMS.type_name, StepAction::Create, &[]);
    params.create(&ctx, &want_params).await.unwrap();
    let live_params = read_one(&params, &rc, "shop-db-params").await;
    assert_clean(&PARAMS, &want_params, &live_params);
    let changed = props(json!({"family": "mysql8.0", "parameters": {"max_connections": "300", "slow_query_log": "1"}}));
    assert_eq!(changes(&PARAMS, &changed, &live_params), ["parameters"]);
    let ctx = op(STACK, REGION, "db_params", PARAMS.type_name, StepAction::Update, &[]);
    params.update(&ctx, &live_params, &changed, &["parameters".into()]).await.unwrap();
    let live_params = read_one(&params, &rc, "shop-db-params").await;
    assert_clean(&PARAMS, &changed, &live_params);

    // The instance, with the seed's settings and a managed master secret.
    let db = Adapter(Instance::new(aws.rds()));
    let want_db = props(json!({
        "engine": "mysql",
        "engine_version": "8.0.35",
        "instance_class": "db.t3.micro",
        "allocated_storage": 20,
        "storage_type": "gp2",
        "master_username": "shop",
        "db_name": "shop",
        "db_subnet_group_name": "shop-db-subnets",
        "parameter_group_name": "shop-db-params",
        "backup_retention_period": 30,
        "preferred_backup_window": "03:00-04:00",
        "preferred_maintenance_window": "sun:04:30-sun:05:30",
    }));
    let ctx = op(STACK, REGION, "db", DB.type_name, StepAction::Create, &[("team", "shop")]);
    let created = db.create(&ctx, &want_db).await.unwrap();
    assert_eq!(created.id, "shop-db");
    let live = read_one(&db, &rc, "shop-db").await;
    assert_clean(&DB, &want_db, &live);
    for (field, value) in [
        ("storage_encrypted", json!(true)),
        ("publicly_accessible", json!(false)),
        ("deletion_protection", json!(true)),
        ("copy_tags_to_snapshot", json!(true)),
        ("manage_master_user_password", json!(true)),
    ] {
        assert_eq!(live.properties[field], value, "{field}: the safe default");
    }
    let secret_arn = live.attributes["master_user_secret_arn"].as_str().expect("a managed master secret").to_string();
    assert_eq!(created.attributes["master_user_secret_arn"], json!(secret_arn), "create returns what a read sees");
    let secret = aws.secretsmanager().describe_secret().secret_id(&secret_arn).send().await.unwrap();
    assert!(secret.name().is_some_and(|n| n.starts_with("rds!db-")), "{secret:?}");
    assert!(live.attributes["endpoint"].as_str().is_some_and(|e| e.ends_with(":3306")), "{:?}", live.attributes);
    assert_eq!(live.tags.get("team").map(String::as_str), Some("shop"));

    // What each change is: retention and class in place, a new major
    // version and another subnet group replace; a minor version is in place.
    let with = |field: &str, v: Value| {
        let mut p = want_db.clone();
        p.insert(field.into(), v);
        p
    };
    let in_place = [
        ("backup_retention_period", json!(14)),
        ("instance_class", json!("db.t3.small")),
        ("engine_version", json!("8.0.36")),
    ];
    for (field, v) in in_place {
        assert_eq!(updates(&with(field, v), &live), [(field.to_string(), Update::InPlace)]);
    }
    let replaced = [("engine_version", json!("8.4.3")), ("db_subnet_group_name", json!("other"))];
    for (field, v) in replaced {
        assert_eq!(updates(&with(field, v), &live), [(field.to_string(), Update::Replace)]);
    }
    assert_eq!(updates(&with("engine_version", json!("8.0")), &live), [], "a prefix is met by 8.0.35");

    // The plan's notes: retention applies now, the class at the window.
    let wanted = |p: &Props| p.iter().map(|(k, v)| (k.clone(), Some(v.clone()))).collect();
    let notes = db.notes(&live, &wanted(&with("instance_class", json!("db.t3.small"))), &["instance_class"]);
    assert_eq!(
        notes,
        ["applies at the next maintenance window (sun:04:30-sun:05:30 UTC): instance_class (set apply_immediately: true to apply it now)"]
    );
    let notes = db.notes(&live, &wanted(&with("backup_retention_period", json!(14))), &["backup_retention_period"]);
    assert_eq!(notes, ["applies now: backup_retention_period"]);

    // Retention changes in place.
    let retention = with("backup_retention_period", json!(14));
    let ctx = op(STACK, REGION, "db", DB.type_name, StepAction::Update, &[]);
    db.update(&ctx, &live, &retention, &["backup_retention_period".into()]).await.unwrap();
    let live = read_one(&db, &rc, "shop-db").await;
    assert_clean(&DB, &retention, &live);

    // Protected: the planner refuses to delete it, and so does RDS, with
    // the property to change.
    assert!(db.refuses_delete(&live).is_some_and(|why| why.contains("deletion_protection: false")));
    let ctx = op(STACK, REGION, "db", DB.type_name, StepAction::Delete, &[]);
    let err = db.delete(&ctx, &live, &retention).await.unwrap_err();
    assert!(err.hint.as_deref().is_some_and(|h| h.contains("deletion_protection: false on db")), "{err:?}");
    assert!(read_opt(&db, &rc, "shop-db").await.is_some());

    // Unprotected, it is deleted with a final snapshot; twice is fine.
    let unprotected = with("deletion_protection", json!(false));
    let ctx = op(STACK, REGION, "db", DB.type_name, StepAction::Update, &[]);
    db.update(&ctx, &live, &unprotected, &["deletion_protection".into()]).await.unwrap();
    let live = read_one(&db, &rc, "shop-db").await;
    assert!(db.refuses_delete(&live).is_none());
    let ctx = op(STACK, REGION, "db", DB.type_name, StepAction::Delete, &[]);
    db.delete(&ctx, &live, &unprotected).await.unwrap();
    db.delete(&ctx, &live, &unprotected).await.unwrap();
    assert!(read_opt(&db, &rc, "shop-db").await.is_none());
    let snaps = aws.rds().describe_db_snapshots().db_instance_identifier("shop-db").send().await.unwrap();
    let ids: Vec<&str> = snaps.db_snapshots().iter().filter_map(|s| s.db_snapshot_identifier()).collect();
    assert_eq!(ids, ["shop-db-final-01234567"], "the final snapshot, named after the destroy's client token");

    // The groups go too, twice.
    let ctx = op(STACK, REGION, "db_params", PARAMS.type_name, StepAction::Delete, &[]);
    params.delete(&ctx, &live_params, &Default::default()).await.unwrap();
    params.delete(&ctx, &live_params, &Default::default()).await.unwrap();
    assert!(read_opt(&params, &rc, "shop-db-params").await.is_none());
    let ctx = op(STACK, REGION, "db_subnets", SUBNETS.type_name, StepAction::Delete, &[]);
    groups.delete(&ctx, &live_subnets, &Default::default()).await.unwrap();
    groups.delete(&ctx, &live_subnets, &Default::default()).await.unwrap();
    assert!(read_opt(&groups, &rc, "shop-db-subnets").await.is_none());
}

#[test]
fn rds_rules_refuse_offline_what_rds_refuses() {
    let lit = |v: Value| -> deployctl_spec::Literals {
        v.as_object().unwrap().iter().map(|(k, v)| (k.clone(), Some(v.clone()))).collect()
    };
    let one_subnet = lit(json!({"subnet_ids": ["subnet-1"]}));
    let v = SUBNETS.rules.iter().find_map(|r| r(&one_subnet)).unwrap();
    assert!(v.message.contains("two availability zones"), "{v:?}");
    let own_and_managed = lit(json!({"master_password": "<secret>"}));
    assert!(DB.rules.iter().find_map(|r| r(&own_and_managed)).is_some());
}
