//! `ssm.parameter` against a moto server of the test's own: create with
//! tags, read back clean, change in place, a SecureString whose value is
//! never read back or returned, a create repeated after a crash adopted,
//! delete twice, and the offline rule on value versus type.

use crate::support::kit::{assert_clean, changes, op, props, read_ctx, read_one, read_opt};
use crate::support::moto::Moto;
use deployctl_aws::kit::Adapter;
use deployctl_aws::ssm::parameter::{Parameter, SCHEMA};
use deployctl_engine::{ResourceKind, StepAction};
use deployctl_spec::Literals;
use serde_json::{json, Value};

const STACK: &str = "app";
const REGION: &str = "us-east-1";

#[tokio::test]
async fn ssm_parameter_round_trip_in_place_and_adopted_after_a_crash() {
    let moto = Moto::start();
    let aws = moto.aws().await;
    let kind = Adapter(Parameter::new(aws.ssm()).with_stack_tags(aws.stack_tags()));
    let rc = read_ctx(STACK, REGION);

    let desired = props(json!({"name": "/app/db-host", "value": "db.internal", "description": "the database"}));
    let ctx = op(STACK, REGION, "db_host", SCHEMA.type_name, StepAction::Create, &[("team", "data")]);
    let created = kind.create(&ctx, &desired).await.unwrap();
    assert_eq!((created.id.as_str(), &created.attributes["version"]), ("/app/db-host", &json!(1)));
    let live = read_one(&kind, &rc, "/app/db-host").await;
    assert_clean(&SCHEMA, &desired, &live);
    assert_eq!(live.tags.get("team").map(String::as_str), Some("data"));
    assert_eq!((&live.attributes, &live.tags), (&created.attributes, &created.tags), "create returns what a read sees");

    // The value and description change in place, and a tag goes.
    let changed = props(json!({"name": "/app/db-host", "value": "db2.internal", "description": "moved"}));
    assert_eq!(changes(&SCHEMA, &changed, &live), ["value", "description"]);
    let ctx = op(STACK, REGION, "db_host", SCHEMA.type_name, StepAction::Update, &[]);
    let fields = ["description".to_string(), "value".to_string(), "tags".to_string()];
    let updated = kind.update(&ctx, &live, &changed, &fields).await.unwrap();
    assert_eq!(updated.attributes["version"], json!(2));
    let raw = aws.ssm().get_parameter().name("/app/db-host").send().await.unwrap();
    assert_eq!(raw.parameter().and_then(|p| p.value()), Some("db2.internal"));
    let live = read_one(&kind, &rc, "/app/db-host").await;
    assert_clean(&SCHEMA, &changed, &live);
    assert_eq!(live.tags.get("team"), None);

    // A SecureString: AWS holds the value; nothing deployctl returns does.
    let secret = props(json!({"name": "/app/db-password", "type": "SecureString", "secure_value": "hunter2-xyz"}));
    let ctx = op(STACK, REGION, "db_password", SCHEMA.type_name, StepAction::Create, &[]);
    let created = kind.create(&ctx, &secret).await.unwrap();
    let raw = aws.ssm().get_parameter().name("/app/db-password").with_decryption(true).send().await.unwrap();
    assert_eq!(raw.parameter().and_then(|p| p.value()), Some("hunter2-xyz"));
    let live = read_one(&kind, &rc, "/app/db-password").await;
    for seen in [&created, &live] {
        let text = format!("{seen:?} {}", Value::Object(seen.properties.clone()));
        assert!(!text.contains("hunter2"), "the secret leaked: {text}");
    }

    // A create repeated by a run killed before it recorded the id finds
    // its own parameter and adopts it; another stack's is refused.
    let ctx = op(STACK, REGION, "db_host", SCHEMA.type_name, StepAction::Create, &[]);
    let adopted = kind.create(&ctx, &changed).await.unwrap();
    assert_eq!(adopted.id, "/app/db-host");
    let ctx = op("other", REGION, "db_host", SCHEMA.type_name, StepAction::Create, &[]);
    let refused = kind.create(&ctx, &changed).await.unwrap_err();
    assert!(refused.message.contains("is not this stack's"), "{refused:?}");

    // Delete twice: the second finds nothing and succeeds.
    let ctx = op(STACK, REGION, "db_host", SCHEMA.type_name, StepAction::Delete, &[]);
    kind.delete(&ctx, &live, &Default::default()).await.unwrap();
    kind.delete(&ctx, &live, &Default::default()).await.unwrap();
    assert!(read_opt(&kind, &rc, "/app/db-password").await.is_none());
    assert!(read_opt(&kind, &rc, "/app/db-host").await.is_some());
}

#[test]
fn a_secure_string_takes_its_value_only_from_a_secret_source() {
    let rule = SCHEMA.rules[0];
    let lit =
        |v: Value| -> Literals { v.as_object().unwrap().iter().map(|(k, v)| (k.clone(), Some(v.clone()))).collect() };
    let plain_secret = rule(&lit(json!({"name": "/p", "type": "SecureString", "value": "hunter2"}))).unwrap();
    assert_eq!((plain_secret.field, plain_secret.hint.as_str()), ("value", "write secure_value: env:NAME"));
    assert!(rule(&lit(json!({"name": "/p", "type": "SecureString"}))).is_some());
    assert!(rule(&lit(json!({"name": "/p", "secure_value": "x"}))).is_some(), "a String with secure_value");
    assert!(rule(&lit(json!({"name": "/p"}))).is_some(), "no value at all");
    assert!(rule(&lit(json!({"name": "/p", "value": "v"}))).is_none());
    assert!(rule(&lit(json!({"name": "/p", "type": "SecureString", "secure_value": "x"}))).is_none());
    let mut by_reference = lit(json!({"name": "/p"}));
    by_reference.insert("value".into(), None);
    assert!(rule(&by_reference).is_none(), "a value known at apply is a value");
}
