//! `events.rule` against a moto server of this test's own: create through
//! the trait, read back and diff clean against the spec, check the rule,
//! its targets and its tags through the EventBridge API, change the pattern
//! and the targets in place (and see the change through the API), then
//! delete (twice) and read nothing.
//!
//! The figures are seed 000's: a pipeline's failed executions reach the
//! alerts topic.

use aws_sdk_eventbridge::types::RuleState;
use deployctl_aws::events::rule::{self, Rule};
use deployctl_aws::kit::Adapter;
use deployctl_engine::{OpCtx, Props, ResourceKind, StepAction};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::Duration;

const REGION: &str = "us-east-1";
const STACK: &str = "rt";

use crate::support::kit::{assert_clean, changes, props, read_ctx, read_one, replaces};
use crate::support::moto::Moto;

fn op(address: &str, action: StepAction, extra: &[(&str, &str)]) -> OpCtx {
    let mut tags = BTreeMap::from([
        ("deployctl:stack".to_string(), STACK.to_string()),
        ("deployctl:resource".to_string(), address.to_string()),
    ]);
    tags.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let (ctx, _cancel, _events) = OpCtx::detached(
        STACK,
        REGION,
        address,
        "events.rule",
        action,
        tags,
        "0123456789abcdef0123456789abcdef",
        Duration::from_secs(60),
    );
    ctx
}

/// A rule's targets through the raw API, as (id, arn, input, input_path).
async fn live_targets(
    eb: &aws_sdk_eventbridge::Client,
    bus: &str,
    name: &str,
) -> Vec<(String, String, Option<String>, Option<String>)> {
    let out = eb.list_targets_by_rule().rule(name).event_bus_name(bus).send().await.unwrap();
    let mut t: Vec<_> = out
        .targets()
        .iter()
        .map(|t| {
            (t.id().to_string(), t.arn().to_string(), t.input().map(str::to_string), t.input_path().map(str::to_string))
        })
        .collect();
    t.sort();
    t
}

/// A rule's event pattern through the raw API, parsed.
async fn live_pattern(eb: &aws_sdk_eventbridge::Client, name: &str) -> Value {
    let d = eb.describe_rule().name(name).send().await.unwrap();
    serde_json::from_str(d.event_pattern().expect("the rule has a pattern")).unwrap()
}

fn failed_pipelines(states: &[&str]) -> Value {
    json!({
        "source": ["aws.codepipeline"],
        "detail-type": ["CodePipeline Pipeline Execution State Change"],
        "detail": {"state": states},
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rule_round_trip() {
    let moto = Moto::start();
    let aws = moto.aws().await;
    let eb = aws.events();
    let kind = Adapter(Rule::new(eb.clone()).with_stack_tags(aws.stack_tags()));
    let sns = aws.sns();
    let alerts = sns.create_topic().name("rt-alerts").send().await.unwrap().topic_arn.unwrap();
    let ops = sns.create_topic().name("rt-ops").send().await.unwrap().topic_arn.unwrap();

    // Seed 000: a failed pipeline execution goes to the alerts topic.
    let want = props(json!({
        "description": "Tell ops when a pipeline execution fails",
        "event_pattern": failed_pipelines(&["FAILED"]),
        "targets": [{"id": "alerts", "arn": alerts}],
    }));
    let r = kind.create(&op("pipeline_failed", StepAction::Create, &[]), &want).await.expect("create the rule");
    let name = "rt-pipeline_failed";
    assert_eq!(r.id, name);
    assert_eq!(r.attributes["name"], json!(name));
    let arn = r.attributes["arn"].as_str().unwrap().to_string();
    assert!(arn.starts_with("arn:aws:events:us-east-1:") && arn.ends_with(":rule/rt-pipeline_failed"), "{arn}");
    let r = read_one(&kind, &read_ctx(STACK, REGION), name).await;
    assert_clean(&rule::SCHEMA, &want, &r);
    assert_eq!(r.properties["state"], json!("ENABLED"));
    assert_eq!(r.properties["event_bus_name"], json!("default"));
    assert_eq!(r.tags.get("deployctl:resource").map(String::as_str), Some("pipeline_failed"));

    // The same through the EventBridge API.
    let d = eb.describe_rule().name(name).send().await.unwrap();
    assert_eq!(d.state(), Some(&RuleState::Enabled));
    assert_eq!(d.description(), Some("Tell ops when a pipeline execution fails"));
    assert_eq!(d.schedule_expression(), None);
    assert_eq!(live_pattern(&eb, name).await, failed_pipelines(&["FAILED"]));
    assert_eq!(live_targets(&eb, "default", name).await, vec![("alerts".into(), alerts.clone(), None, None)]);
    let tags = eb.list_tags_for_resource().resource_arn(&arn).send().await.unwrap();
    assert!(tags.tags().iter().any(|t| t.key() == "deployctl:stack" && t.value() == STACK));
    assert!(tags.tags().iter().any(|t| t.key() == "deployctl:resource" && t.value() == "pipeline_failed"));

    // A scheduled rule by name, disabled, with constant input.
    let nightly_want = props(json!({
        "name": "rt-nightly",
        "schedule_expression": "rate(1 day)",
        "state": "DISABLED",
        "targets": [{"id": "ops", "arn": ops, "input": "{\"reason\": \"nightly\"}"}],
    }));
    let nightly =
        kind.create(&op("nightly", StepAction::Create, &[]), &nightly_want).await.expect("create the scheduled rule");
    assert_eq!(nightly.id, "rt-nightly");
    assert_clean(&rule::SCHEMA, &nightly_want, &read_one(&kind, &read_ctx(STACK, REGION), "rt-nightly").await);
    let d = eb.describe_rule().name("rt-nightly").send().await.unwrap();
    assert_eq!((d.schedule_expression(), d.state()), (Some("rate(1 day)"), Some(&RuleState::Disabled)));
    assert_eq!(
        live_targets(&eb, "default", "rt-nightly").await,
        vec![("ops".into(), ops.clone(), Some("{\"reason\": \"nightly\"}".into()), None)]
    );

    // A rule on an event bus of its own: the id names the bus.
    eb.create_event_bus().name("rt-orders").send().await.unwrap();
    let orders_want = props(json!({
        "event_bus_name": "rt-orders",
        "event_pattern": {"source": ["shop.orders"], "detail-type": ["Order Placed"]},
        "targets": [{"id": "ops", "arn": ops, "input_path": "$.detail"}],
    }));
    let orders =
        kind.create(&op("order_placed", StepAction::Create, &[]), &orders_want).await.expect("create on a bus");
    assert_eq!(orders.id, "rt-orders/rt-order_placed");
    assert_clean(&rule::SCHEMA, &orders_want, &read_one(&kind, &read_ctx(STACK, REGION), &orders.id).await);
    assert_eq!(
        live_targets(&eb, "rt-orders", "rt-order_placed").await,
        vec![("ops".into(), ops.clone(), None, Some("$.detail".into()))]
    );

    // Batched reads leave out what is gone (a rule, a bus).
    let ids = [
        name.to_string(),
        "rt-nightly".to_string(),
        orders.id.clone(),
        "rt-no-such-rule".to_string(),
        "rt-no-such-bus/rt-pipeline_failed".to_string(),
    ];
    let mut found: Vec<String> =
        kind.read(&read_ctx(STACK, REGION), &ids).await.unwrap().into_iter().map(|o| o.id).collect();
    found.sort();
    assert_eq!(found, vec!["rt-nightly", "rt-orders/rt-order_placed", name]);

    // Adoption by name (default or given), only with this resource's tags.
    let wanted = vec![
        ("pipeline_failed".to_string(), Props::new()),
        ("order_placed".to_string(), props(json!({"event_bus_name": "rt-orders"}))),
        ("other".to_string(), props(json!({"name": "rt-nightly"}))),
        ("missing".to_string(), Props::new()),
    ];
    let mut found: Vec<(String, String)> = kind
        .find_existing(&read_ctx(STACK, REGION), &wanted)
        .await
        .unwrap()
        .into_iter()
        .map(|(a, o)| (a, o.id))
        .collect();
    found.sort();
    assert_eq!(
        found,
        vec![
            ("order_placed".to_string(), "rt-orders/rt-order_placed".to_string()),
            ("pipeline_failed".to_string(), name.to_string())
        ]
    );
    let mut tagged: Vec<String> =
        kind.find_tagged(&read_ctx(STACK, REGION)).await.unwrap().into_iter().map(|(a, _)| a).collect();
    tagged.sort();
    assert_eq!(tagged, vec!["nightly", "order_placed", "pipeline_failed"]);

    // A rule of that name that is not this resource's is not overwritten.
    eb.put_rule().name("rt-taken").schedule_expression("rate(1 hour)").send().await.unwrap();
    let err = kind
        .create(&op("taken", StepAction::Create, &[]), &props(json!({"event_pattern": failed_pipelines(&["FAILED"])})))
        .await
        .expect_err("a rule of another resource is not overwritten");
    assert_eq!(err.code.as_deref(), Some("RuleAlreadyExists"), "{err:?}");
    let d = eb.describe_rule().name("rt-taken").send().await.unwrap();
    assert_eq!(d.schedule_expression(), Some("rate(1 hour)"), "left as it was");

    // Neither a pattern nor a schedule: refused before any call.
    let err = kind
        .create(&op("bad", StepAction::Create, &[]), &props(json!({"description": "nothing to match"})))
        .await
        .expect_err("a rule with neither pattern nor schedule");
    assert!(err.message.contains("exactly one of event_pattern and schedule_expression"), "{err:?}");
    assert!(kind.read(&read_ctx(STACK, REGION), &["rt-bad".to_string()]).await.unwrap().is_empty());

    // In place: the pattern also matches STOPPED; the alerts target now gets
    // the event's detail only, and ops is added; a tag of its own.
    let want2 = props(json!({
        "description": "Tell ops when a pipeline execution fails",
        "event_pattern": failed_pipelines(&["FAILED", "STOPPED"]),
        "targets": [{"id": "alerts", "arn": alerts, "input_path": "$.detail"}, {"id": "ops", "arn": ops}],
    }));
    let mut changed = changes(&rule::SCHEMA, &want2, &r);
    assert_eq!(changed, vec!["event_pattern", "targets"]);
    changed.push("tags".into());
    let ctx2 = op("pipeline_failed", StepAction::Update, &[("team", "shop")]);
    let r = kind.update(&ctx2, &r, &want2, &changed).await.expect("update the rule");
    assert_eq!(r.id, name, "changed in place");
    assert_clean(&rule::SCHEMA, &want2, &r);
    assert_eq!(r.tags.get("team").map(String::as_str), Some("shop"));
    assert_eq!(live_pattern(&eb, name).await, failed_pipelines(&["FAILED", "STOPPED"]));
    assert_eq!(
        live_targets(&eb, "default", name).await,
        vec![("alerts".into(), alerts.clone(), None, Some("$.detail".into())), ("ops".into(), ops.clone(), None, None)]
    );
    let tags = eb.list_tags_for_resource().resource_arn(&arn).send().await.unwrap();
    assert!(tags.tags().iter().any(|t| t.key() == "team" && t.value() == "shop"));

    // Read again, nothing changed: the plan is empty.
    let r = read_one(&kind, &read_ctx(STACK, REGION), name).await;
    assert!(changes(&rule::SCHEMA, &want2, &r).is_empty());

    // Disabled, the alerts target removed; the description is left alone
    // once the spec stops managing it.
    let want3 = props(json!({
        "event_pattern": failed_pipelines(&["FAILED", "STOPPED"]),
        "state": "DISABLED",
        "targets": [{"id": "ops", "arn": ops}],
    }));
    let changed = changes(&rule::SCHEMA, &want3, &r);
    assert_eq!(changed, vec!["state", "targets"]);
    let r = kind.update(&ctx2, &r, &want3, &changed).await.expect("disable the rule");
    assert_clean(&rule::SCHEMA, &want3, &r);
    let d = eb.describe_rule().name(name).send().await.unwrap();
    assert_eq!(d.state(), Some(&RuleState::Disabled));
    assert_eq!(d.description(), Some("Tell ops when a pipeline execution fails"), "kept");
    assert_eq!(live_targets(&eb, "default", name).await, vec![("ops".into(), ops.clone(), None, None)]);
    assert!(changes(&rule::SCHEMA, &want3, &read_one(&kind, &read_ctx(STACK, REGION), name).await).is_empty());

    // Drift made outside deployctl is seen.
    eb.enable_rule().name(name).send().await.unwrap();
    eb.put_targets()
        .rule(name)
        .targets(aws_sdk_eventbridge::types::Target::builder().id("stray").arn(&alerts).build().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(
        changes(&rule::SCHEMA, &want3, &read_one(&kind, &read_ctx(STACK, REGION), name).await),
        vec!["state", "targets"]
    );

    assert!(replaces(&rule::SCHEMA, "name"));
    assert!(replaces(&rule::SCHEMA, "event_bus_name"));
    for p in ["description", "event_pattern", "schedule_expression", "state", "targets"] {
        assert!(!replaces(&rule::SCHEMA, p), "rule.{p}");
    }

    // Delete (the targets first: a rule with targets cannot go), twice;
    // nothing is read back.
    let del = op("pipeline_failed", StepAction::Delete, &[]);
    kind.delete(&del, &r, &Props::new()).await.expect("delete the rule");
    kind.delete(&del, &r, &Props::new()).await.expect("delete the rule again");
    let err = eb.describe_rule().name(name).send().await.expect_err("the rule is gone");
    assert_eq!(aws_sdk_eventbridge::error::ProvideErrorMetadata::code(&err), Some("ResourceNotFoundException"));
    kind.delete(&op("nightly", StepAction::Delete, &[]), &nightly, &Props::new())
        .await
        .expect("delete the scheduled rule");
    kind.delete(&op("order_placed", StepAction::Delete, &[]), &orders, &Props::new())
        .await
        .expect("delete the bus's rule");
    kind.delete(&op("order_placed", StepAction::Delete, &[]), &orders, &Props::new()).await.expect("delete it again");
    assert!(kind.read(&read_ctx(STACK, REGION), &ids).await.unwrap().is_empty());
}
