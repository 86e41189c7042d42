//! RDS against a mocked client: what moto cannot produce (its instances are
//! `available` at once and never hold a modification): an instance in
//! `creating` for many polls, with progress, whose interrupted wait the next
//! run resumes without a second instance; a modification RDS holds for the
//! maintenance window, read as asked for and shown as pending; an instance
//! that fails.

use aws_sdk_rds::operation::create_db_instance::CreateDbInstanceOutput;
use aws_sdk_rds::operation::describe_db_instances::DescribeDbInstancesOutput;
use aws_sdk_rds::types::{DbInstance, Endpoint, MasterUserSecret, PendingModifiedValues};
use aws_sdk_rds::Client;
use aws_smithy_mocks::{mock, mock_client, RuleMode};
use deployctl_aws::kit::Adapter;
use deployctl_aws::rds::db_instance::{Instance, SCHEMA};
use deployctl_engine::diff::{diff_properties, Want};
use deployctl_engine::{Event, Observed, OpCtx, Props, ReadCtx, ResourceKind, StepAction};
use serde_json::json;
use std::collections::BTreeMap;
use std::time::Duration;

const SECRET: &str = "arn:aws:secretsmanager:us-east-2:123456789012:secret:rds!db-1a2b3c4d-AbCdEf";

fn ctx(timeout: Duration) -> (OpCtx, impl Fn(), tokio::sync::mpsc::UnboundedReceiver<Event>) {
    let tags = BTreeMap::from([
        ("deployctl:stack".to_string(), "shop".to_string()),
        ("deployctl:resource".to_string(), "db".to_string()),
    ]);
    let (ctx, cancel, events) = OpCtx::detached(
        "shop",
        "us-east-2",
        "db",
        "rds.db_instance",
        StepAction::Create,
        tags,
        "0123456789abcdef0123456789abcdef",
        timeout,
    );
    (ctx, move || cancel.cancel(), events)
}

fn desired() -> Props {
    json!({"engine": "mysql", "instance_class": "db.t3.micro", "allocated_storage": 20, "master_username": "shop"})
        .as_object()
        .unwrap()
        .clone()
}

fn instance(status: &str) -> DbInstance {
    let mut b = DbInstance::builder()
        .db_instance_identifier("shop-db")
        .db_instance_arn("arn:aws:rds:us-east-2:123456789012:db:shop-db")
        .db_instance_status(status)
        .engine("mysql")
        .engine_version("8.0.35")
        .db_instance_class("db.t3.micro")
        .allocated_storage(20)
        .master_username("shop")
        .storage_encrypted(true)
        .deletion_protection(true)
        .copy_tags_to_snapshot(true)
        .auto_minor_version_upgrade(true)
        .backup_retention_period(7)
        .preferred_maintenance_window("sun:04:30-sun:05:30")
        .master_user_secret(MasterUserSecret::builder().secret_arn(SECRET).build());
    if status == "available" {
        b = b.endpoint(Endpoint::builder().address("shop-db.abc.us-east-2.rds.amazonaws.com").port(3306).build());
    }
    b.build()
}

fn described(i: DbInstance) -> DescribeDbInstancesOutput {
    DescribeDbInstancesOutput::builder().db_instances(i).build()
}

fn progress(events: &mut tokio::sync::mpsc::UnboundedReceiver<Event>) -> Vec<String> {
    let mut out = Vec::new();
    while let Ok(e) = events.try_recv() {
        if let Event::StepProgress { message, .. } = e {
            out.push(message);
        }
    }
    out
}

#[tokio::test]
async fn an_instance_creating_for_many_polls_shows_progress_and_an_interrupted_wait_resumes_without_a_second_instance()
{
    // First run: RDS accepts the create, then the instance is `creating`
    // until the run is interrupted.
    let create = mock!(Client::create_db_instance)
        .then_output(|| CreateDbInstanceOutput::builder().db_instance(instance("creating")).build());
    let describe = mock!(Client::describe_db_instances).then_output(|| described(instance("creating")));
    let client = mock_client!(aws_sdk_rds, RuleMode::MatchAny, [&create, &describe]);
    let (ctx1, cancel, mut events) = ctx(Duration::from_secs(60));
    let interrupt = async {
        tokio::time::sleep(Duration::from_millis(3500)).await;
        cancel();
    };
    let kind = Adapter(Instance::new(client));
    let want = desired();
    let (result, ()) = tokio::join!(kind.create(&ctx1, &want), interrupt);
    let err = result.unwrap_err();
    assert_eq!(err.code.as_deref(), Some("Interrupted"), "{err:?}");
    assert!(ctx1.id_recorded(), "the identifier is recorded before the wait");
    assert_eq!(create.num_calls(), 1);
    assert!(describe.num_calls() >= 3, "polled while creating: {}", describe.num_calls());
    let seen = progress(&mut events);
    assert!(seen.iter().any(|m| m.contains("shop-db to be available: creating")), "{seen:?}");

    // Second run: the recorded instance is waited for again, through
    // `backing-up`, and not created a second time.
    let describe = mock!(Client::describe_db_instances)
        .sequence()
        .output(|| described(instance("creating")))
        .output(|| described(instance("backing-up")))
        .output(|| described(instance("available")))
        .build();
    let create = mock!(Client::create_db_instance)
        .then_output(|| CreateDbInstanceOutput::builder().db_instance(instance("creating")).build());
    let client = mock_client!(aws_sdk_rds, RuleMode::MatchAny, [&create, &describe]);
    let (ctx2, _cancel, mut events) = ctx(Duration::from_secs(60));
    let recorded = Observed { id: "shop-db".into(), ..Default::default() };
    let done = Adapter(Instance::new(client)).resume(&ctx2, &recorded).await.unwrap();
    assert_eq!(create.num_calls(), 0, "resuming creates nothing");
    assert_eq!(done.attributes["endpoint"], json!("shop-db.abc.us-east-2.rds.amazonaws.com:3306"));
    assert_eq!(done.attributes["master_user_secret_arn"], json!(SECRET));
    let seen = progress(&mut events);
    assert!(seen.iter().any(|m| m.contains("backing-up")), "{seen:?}");
}

#[tokio::test]
async fn a_change_held_for_the_maintenance_window_is_not_planned_again_and_shows_as_pending() {
    let pending = || {
        let mut i = instance("available");
        i.pending_modified_values = Some(PendingModifiedValues::builder().db_instance_class("db.t3.small").build());
        described(i)
    };
    let describe = mock!(Client::describe_db_instances).then_output(pending);
    let client = mock_client!(aws_sdk_rds, RuleMode::MatchAny, [&describe]);
    let kind = Adapter(Instance::new(client));
    let rc = ReadCtx::new("shop", "us-east-2");
    let live = kind.read(&rc, &["shop-db".into()]).await.unwrap().pop().unwrap();

    // The spec asks for what RDS holds: no change is planned.
    let mut want = desired();
    want.insert("instance_class".into(), json!("db.t3.small"));
    let w = |p: &deployctl_spec::Prop| want.get(p.name).map_or(Want::Unmanaged, |v| Want::Value(v.clone()));
    let diffs = diff_properties(&SCHEMA, &w, &live.properties);
    assert!(diffs.is_empty(), "{diffs:?}");
    assert_eq!(live.attributes["pending_modifications"], json!({"instance_class": "db.t3.small"}));

    // The plan says it is pending, and when.
    let wanted = want.iter().map(|(k, v)| (k.clone(), Some(v.clone()))).collect();
    assert_eq!(
        kind.notes(&live, &wanted, &[]),
        ["pending at the next maintenance window (sun:04:30-sun:05:30 UTC): instance_class = db.t3.small"]
    );
}

#[tokio::test]
async fn an_instance_that_fails_ends_the_wait_with_what_to_do() {
    let create = mock!(Client::create_db_instance)
        .then_output(|| CreateDbInstanceOutput::builder().db_instance(instance("creating")).build());
    let describe = mock!(Client::describe_db_instances)
        .sequence()
        .output(|| described(instance("creating")))
        .output(|| described(instance("incompatible-parameters")))
        .build();
    let client = mock_client!(aws_sdk_rds, RuleMode::MatchAny, [&create, &describe]);
    let (ctx, _cancel, _events) = ctx(Duration::from_secs(60));
    let err = Adapter(Instance::new(client)).create(&ctx, &desired()).await.unwrap_err();
    assert_eq!(err.code.as_deref(), Some("incompatible-parameters"), "{err:?}");
    assert!(err.message.contains("shop-db is incompatible-parameters"), "{err:?}");
    assert!(err.hint.as_deref().is_some_and(|h| h.contains("rds.db_parameter_group")), "{err:?}");
}
