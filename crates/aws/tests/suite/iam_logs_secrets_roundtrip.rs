//! Round trips of `iam.role`, `logs.log_group` and `secretsmanager.secret`
//! against a moto server of the test's own: create through the kind, read
//! back and diff clean against the spec, update in place and check through
//! the raw AWS API, adopt by natural key, delete (twice) and read nothing.

use deployctl_aws::iam::role::{self, Role};
use deployctl_aws::kit::Adapter;
use deployctl_aws::logs::log_group::{self, LogGroup};
use deployctl_aws::secretsmanager::secret::{self, Secret};
use deployctl_engine::diff::{diff_properties, FieldDiff, Want};
use deployctl_engine::{Event, Observed, OpCtx, Props, ResourceKind, StepAction};
use deployctl_spec::{KindSchema, Type};
use serde_json::json;
use std::collections::BTreeMap;
use std::time::Duration;

const REGION: &str = "us-east-1";
const STACK: &str = "app";

use crate::support::kit::{props, read_ctx, read_opt};
use crate::support::moto::Moto;

fn tags(address: &str, extra: &[(&str, &str)]) -> BTreeMap<String, String> {
    let mut t = BTreeMap::from([
        ("deployctl:stack".to_string(), STACK.to_string()),
        ("deployctl:resource".to_string(), address.to_string()),
    ]);
    t.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    t
}

fn op(
    schema: &KindSchema,
    address: &str,
    action: StepAction,
    tags: BTreeMap<String, String>,
) -> (OpCtx, tokio::sync::mpsc::UnboundedReceiver<Event>) {
    let (ctx, _cancel, rx) = OpCtx::detached(
        STACK,
        REGION,
        address,
        schema.type_name,
        action,
        tags,
        "0123456789abcdef0123456789abcdef",
        Duration::from_secs(60),
    );
    (ctx, rx)
}

/// The engine's diff of `desired` against what was read, with write-only
/// (secret) properties taken from what would be recorded, as the planner does.
fn diff(schema: &KindSchema, desired: &Props, live: &Observed) -> Vec<FieldDiff> {
    let mut live = live.properties.clone();
    for p in schema.properties.iter().filter(|p| matches!(p.ty, Type::Secret)) {
        if let Some(v) = desired.get(p.name) {
            live.insert(p.name.to_string(), v.clone());
        }
    }
    diff_properties(
        schema,
        &|p| match desired.get(p.name) {
            Some(v) => Want::Value(v.clone()),
            None => Want::Unmanaged,
        },
        &live,
    )
}

const ECS_EXEC: &str = "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy";
const READ_ONLY: &str = "arn:aws:iam::aws:policy/ReadOnlyAccess";

#[tokio::test]
async fn iam_role_round_trip_with_inline_and_managed_policies() {
    let moto = Moto::start();
    let aws = moto.aws().await;
    let iam = aws.iam();
    let kind = Adapter(Role::new(aws.iam()));
    let address = "task_exec[web]";

    let desired = props(json!({
        "description": "runs the web tasks",
        "assume_role_policy_document": {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"}]
        },
        "inline_policies": {
            "read-secrets": {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": ["secretsmanager:GetSecretValue"], "Resource": "*"}]
            }
        },
        "managed_policy_arns": [ECS_EXEC],
    }));
    let (ctx, _rx) = op(&role::SCHEMA, address, StepAction::Create, tags(address, &[("team", "web")]));
    let created = kind.create(&ctx, &desired).await.unwrap();
    assert_eq!(created.id, "app-task_exec-web", "the default name is `<stack>-<address>`, sanitized");
    assert_eq!(created.attributes["name"], json!("app-task_exec-web"));
    assert_eq!(created.attributes["arn"], json!("arn:aws:iam::123456789012:role/app-task_exec-web"));
    assert!(created.attributes["unique_id"].as_str().is_some_and(|u| !u.is_empty()));
    assert_eq!(diff(&role::SCHEMA, &desired, &created), vec![], "a create reads back clean");
    assert_eq!(created.tags, tags(address, &[("team", "web")]));

    let live = read_opt(&kind, &read_ctx(STACK, REGION), &created.id).await.expect("the role is read back");
    // No read-back after create: what it answered is what a read sees.
    assert_eq!((&live.id, &live.tags, &live.attributes), (&created.id, &created.tags, &created.attributes));
    assert_eq!(diff(&role::SCHEMA, &desired, &live), vec![]);
    // Several roles are read through one GetAccountAuthorizationDetails:
    // the same answer, and a role that is gone is left out.
    let both = kind.read(&read_ctx(STACK, REGION), &[created.id.clone(), "gone".into()]).await.unwrap();
    assert_eq!(both, vec![live.clone()]);

    // The trust policy written differently but meaning the same: keys in
    // another order, a one-element list for a scalar, a lone statement.
    let mut same = desired.clone();
    same.insert(
        "assume_role_policy_document".into(),
        json!({"Statement": {"Action": ["sts:AssumeRole"], "Principal": {"Service": ["ecs-tasks.amazonaws.com"]}, "Effect": "Allow"}, "Version": "2012-10-17"}),
    );
    assert_eq!(diff(&role::SCHEMA, &same, &live), vec![], "the trust policy compares semantically");

    // Adoption by name: only for this stack's resource at this address.
    let found = kind.find_existing(&read_ctx(STACK, REGION), &[(address.to_string(), Props::new())]).await.unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].0, address);
    assert_eq!(found[0].1.id, created.id);
    let other = kind
        .find_existing(
            &read_ctx(STACK, REGION),
            &[("other".to_string(), props(json!({"role_name": "app-task_exec-web"})))],
        )
        .await
        .unwrap();
    assert!(other.is_empty(), "a role tagged for another address is not adopted");
    assert!(kind.find_tagged(&read_ctx(STACK, REGION)).await.unwrap().is_empty());

    // In place: another managed policy, a changed inline policy, a new
    // description and session duration, a changed tag.
    let mut changed = desired.clone();
    changed.insert("managed_policy_arns".into(), json!([ECS_EXEC, READ_ONLY]));
    changed.insert(
        "inline_policies".into(),
        json!({"logs": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "logs:*", "Resource": "*"}]}}),
    );
    changed.insert("description".into(), json!("runs the web tasks, read-only"));
    changed.insert("max_session_duration".into(), json!(7200));
    let fields: Vec<String> = diff(&role::SCHEMA, &changed, &live).into_iter().map(|d| d.field).collect();
    assert_eq!(fields, ["description", "inline_policies", "managed_policy_arns", "max_session_duration"]);
    assert!(diff(&role::SCHEMA, &changed, &live).iter().all(|d| d.update == deployctl_spec::Update::InPlace));
    let (ctx, _rx) = op(&role::SCHEMA, address, StepAction::Update, tags(address, &[("team", "platform")]));
    let mut all = fields.clone();
    all.push("tags".into());
    let updated = kind.update(&ctx, &live, &changed, &all).await.unwrap();
    assert_eq!(diff(&role::SCHEMA, &changed, &updated), vec![]);
    assert_eq!(updated.tags.get("team").map(String::as_str), Some("platform"));
    assert_eq!(updated.attributes["unique_id"], created.attributes["unique_id"], "updated, not replaced");

    let attached: Vec<String> = iam
        .list_attached_role_policies()
        .role_name(&created.id)
        .send()
        .await
        .unwrap()
        .attached_policies()
        .iter()
        .filter_map(|p| p.policy_arn().map(str::to_string))
        .collect();
    assert_eq!(attached.len(), 2);
    assert!(attached.contains(&READ_ONLY.to_string()));
    let inline = iam.list_role_policies().role_name(&created.id).send().await.unwrap();
    assert_eq!(inline.policy_names(), ["logs"]);
    let r = iam.get_role().role_name(&created.id).send().await.unwrap();
    assert_eq!(r.role().unwrap().max_session_duration(), Some(7200));
    assert_eq!(r.role().unwrap().description(), Some("runs the web tasks, read-only"));

    // Delete detaches and deletes the policies first; again is fine.
    let (ctx, _rx) = op(&role::SCHEMA, address, StepAction::Delete, BTreeMap::new());
    kind.delete(&ctx, &updated, &Props::new()).await.unwrap();
    kind.delete(&ctx, &updated, &Props::new()).await.unwrap();
    assert_eq!(read_opt(&kind, &read_ctx(STACK, REGION), &created.id).await, None);
    assert!(kind
        .find_existing(&read_ctx(STACK, REGION), &[(address.to_string(), Props::new())])
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn iam_role_create_adopts_its_own_role_and_refuses_anothers() {
    let moto = Moto::start();
    let aws = moto.aws().await;
    let kind = Adapter(Role::new(aws.iam()));
    let trust = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "codebuild.amazonaws.com"}, "Action": "sts:AssumeRole"}]});
    let desired = props(
        json!({"role_name": "builder", "assume_role_policy_document": trust, "managed_policy_arns": [READ_ONLY]}),
    );
    let (ctx, _rx) = op(&role::SCHEMA, "builder", StepAction::Create, tags("builder", &[]));
    let first = kind.create(&ctx, &desired).await.unwrap();
    // A create retried after a crash converges the role it finds.
    let again = kind.create(&ctx, &desired).await.unwrap();
    assert_eq!(again.id, first.id);
    assert_eq!(diff(&role::SCHEMA, &desired, &again), vec![]);

    let (ctx, _rx) = op(&role::SCHEMA, "someone_else", StepAction::Create, tags("someone_else", &[]));
    let e = kind.create(&ctx, &desired).await.unwrap_err();
    assert!(e.code_is("EntityAlreadyExists"), "{e:?}");
    assert!(e.hint.is_some());
}

#[tokio::test]
async fn log_group_round_trip_with_retention_updated_in_place() {
    let moto = Moto::start();
    let aws = moto.aws().await;
    let logs = aws.logs();
    let kind = Adapter(LogGroup::new(aws.logs()).with_stack_tags(aws.stack_tags()));
    let address = "web_logs";
    // A neighbour whose name starts like ours must not be mistaken for it.
    logs.create_log_group().log_group_name("/ecs/web-old").send().await.unwrap();

    let desired = props(json!({"log_group_name": "/ecs/web", "retention_in_days": 7}));
    let (ctx, _rx) = op(&log_group::SCHEMA, address, StepAction::Create, tags(address, &[]));
    let created = kind.create(&ctx, &desired).await.unwrap();
    assert_eq!(created.id, "/ecs/web");
    assert_eq!(created.attributes["arn"], json!("arn:aws:logs:us-east-1:123456789012:log-group:/ecs/web"));
    assert_eq!(diff(&log_group::SCHEMA, &desired, &created), vec![]);
    assert_eq!(created.tags, tags(address, &[]));
    let live = read_opt(&kind, &read_ctx(STACK, REGION), "/ecs/web").await.unwrap();
    assert_eq!(diff(&log_group::SCHEMA, &desired, &live), vec![]);
    assert_eq!((&live.id, &live.tags, &live.attributes), (&created.id, &created.tags, &created.attributes));
    assert_eq!(read_opt(&kind, &read_ctx(STACK, REGION), "/ecs/we").await, None, "only the exact name is read");

    let found = kind
        .find_existing(
            &read_ctx(STACK, REGION),
            &[(address.into(), desired.clone()), ("other".into(), desired.clone())],
        )
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].0, address);

    // Retention 7 → 14 in place, and a tag added.
    let mut changed = desired.clone();
    changed.insert("retention_in_days".into(), json!(14));
    let d = diff(&log_group::SCHEMA, &changed, &live);
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].field, "retention_in_days");
    assert_eq!(d[0].update, deployctl_spec::Update::InPlace);
    let (ctx, _rx) = op(&log_group::SCHEMA, address, StepAction::Update, tags(address, &[("team", "web")]));
    let updated = kind.update(&ctx, &live, &changed, &["retention_in_days".into(), "tags".into()]).await.unwrap();
    assert_eq!(diff(&log_group::SCHEMA, &changed, &updated), vec![]);
    let raw = logs.describe_log_groups().log_group_name_prefix("/ecs/web").send().await.unwrap();
    let g = raw.log_groups().iter().find(|g| g.log_group_name() == Some("/ecs/web")).unwrap();
    assert_eq!(g.retention_in_days(), Some(14));
    let raw_tags = logs
        .list_tags_for_resource()
        .resource_arn("arn:aws:logs:us-east-1:123456789012:log-group:/ecs/web")
        .send()
        .await
        .unwrap();
    assert_eq!(raw_tags.tags().and_then(|t| t.get("team")).map(String::as_str), Some("web"));

    // A create that finds its own group (a retry after a crash) adopts it;
    // someone else's is refused.
    let (ctx, _rx) = op(&log_group::SCHEMA, address, StepAction::Create, tags(address, &[("team", "web")]));
    assert_eq!(kind.create(&ctx, &changed).await.unwrap().id, "/ecs/web");
    let (ctx, _rx) = op(&log_group::SCHEMA, "other", StepAction::Create, tags("other", &[]));
    let e = kind.create(&ctx, &changed).await.unwrap_err();
    assert!(e.code_is("ResourceAlreadyExistsException"), "{e:?}");

    let (ctx, _rx) = op(&log_group::SCHEMA, address, StepAction::Delete, BTreeMap::new());
    kind.delete(&ctx, &updated, &Props::new()).await.unwrap();
    kind.delete(&ctx, &updated, &Props::new()).await.unwrap();
    assert_eq!(read_opt(&kind, &read_ctx(STACK, REGION), "/ecs/web").await, None);
    assert!(read_opt(&kind, &read_ctx(STACK, REGION), "/ecs/web-old").await.is_some());
}

/// Many groups of a stack are read in pages, not one call each: one
/// DescribeLogGroups per shared path and one tagging API call for all their
/// tags; a group alone under its path is looked up by its own name.
#[tokio::test]
async fn log_groups_are_read_in_pages_with_their_tags_in_one_call() {
    let moto = Moto::start();
    let aws = moto.aws().await;
    let kind = Adapter(LogGroup::new(aws.logs()).with_stack_tags(aws.stack_tags()));
    let mut names: Vec<String> = (0..12).map(|i| format!("/svc/app-{i:02}")).collect();
    names.push("/other/solo".into());
    for (i, name) in names.iter().enumerate() {
        let address = format!("g{i}");
        let (ctx, _rx) = op(&log_group::SCHEMA, &address, StepAction::Create, tags(&address, &[("n", &i.to_string())]));
        kind.create(&ctx, &props(json!({"log_group_name": name}))).await.unwrap();
    }
    // Someone else's group under the same path is not read.
    aws.logs().create_log_group().log_group_name("/svc/app-zz-foreign").send().await.unwrap();

    let before = aws.calls.snapshot();
    let mut read = kind.read(&read_ctx(STACK, REGION), &names).await.unwrap();
    read.sort_by(|a, b| a.id.cmp(&b.id));
    let calls: BTreeMap<String, u64> = aws
        .calls
        .snapshot()
        .into_iter()
        .map(|(k, c)| (k.1.clone(), c.calls - before.get(&k).map(|b| b.calls).unwrap_or(0)))
        .filter(|(_, n)| *n > 0)
        .collect();
    assert_eq!(
        calls,
        BTreeMap::from([("DescribeLogGroups".to_string(), 2), ("GetResources".to_string(), 1)]),
        "one listing of /svc/, one lookup of /other/solo, one tagging call"
    );
    let mut want = names.clone();
    want.sort();
    assert_eq!(read.iter().map(|o| o.id.clone()).collect::<Vec<_>>(), want);
    for o in &read {
        let i = names.iter().position(|n| *n == o.id).unwrap();
        assert_eq!(o.tags, tags(&format!("g{i}"), &[("n", &i.to_string())]), "{}", o.id);
    }
}

/// Everything a test can see of a step: the returned value and its events.
fn assert_never_shows(value: &str, what: &str, shown: &str) {
    assert!(!shown.contains(value), "the secret value appears in {what}: {shown}");
}

fn drain(rx: &mut tokio::sync::mpsc::UnboundedReceiver<Event>) -> String {
    let mut out = String::new();
    while let Ok(e) = rx.try_recv() {
        out.push_str(&format!("{e:?}\n"));
    }
    out
}

#[tokio::test]
async fn secret_round_trip_value_change_makes_a_new_version_and_never_shows_the_value() {
    let moto = Moto::start();
    let aws = moto.aws().await;
    let sm = aws.secretsmanager();
    let kind = Adapter(Secret::new(aws.secretsmanager()));
    let address = "db_password";
    let first_value = "correct-horse-battery-staple-1";
    let second_value = "correct-horse-battery-staple-2";

    let desired = props(json!({"description": "the database password", "secret_string": first_value}));
    let (ctx, mut rx) = op(&secret::SCHEMA, address, StepAction::Create, tags(address, &[("team", "data")]));
    let created = kind.create(&ctx, &desired).await.unwrap();
    let shown = format!("{created:?}{}", drain(&mut rx));
    assert_never_shows(first_value, "the create's result or events", &shown);
    assert!(!matches!(created.properties.get("secret_string"), Some(serde_json::Value::String(_))));
    assert_eq!(created.attributes["name"], json!("app/db_password"), "the default name is `<stack>/<address>`");
    assert!(created.id.starts_with("arn:aws:secretsmanager:us-east-1:123456789012:secret:app/db_password-"));
    assert_eq!(created.attributes["arn"], json!(created.id));
    assert_eq!(created.tags, tags(address, &[("team", "data")]), "the delete-policy tags are not shown as tags");
    assert_eq!(diff(&secret::SCHEMA, &desired, &created), vec![]);
    let first_version = created.attributes["version_id"].clone();
    assert_eq!(first_version, json!("0123456789abcdef0123456789abcdef"), "the client token is the first version");

    let live = read_opt(&kind, &read_ctx(STACK, REGION), &created.id).await.unwrap();
    assert!(!matches!(live.properties.get("secret_string"), Some(serde_json::Value::String(_))), "never read back");
    assert_eq!(live.properties["name"], json!("app/db_password"));
    assert_eq!((&live.id, &live.tags, &live.attributes), (&created.id, &created.tags, &created.attributes));
    assert_eq!(diff(&secret::SCHEMA, &desired, &live), vec![]);
    let tagged = kind.find_tagged(&read_ctx(STACK, REGION)).await.unwrap();
    assert_eq!(tagged.len(), 1);
    assert_eq!(tagged[0].0, address);
    assert_eq!(tagged[0].1, live);

    // A new value: PutSecretValue, a new current version; and a shorter
    // recovery window, kept in state only.
    let mut changed = desired.clone();
    changed.insert("secret_string".into(), json!(second_value));
    changed.insert("recovery_window_in_days".into(), json!(7));
    let (ctx, mut rx) = op(&secret::SCHEMA, address, StepAction::Update, tags(address, &[("team", "data")]));
    let updated =
        kind.update(&ctx, &live, &changed, &["secret_string".into(), "recovery_window_in_days".into()]).await.unwrap();
    let shown = format!("{updated:?}{}", drain(&mut rx));
    assert_never_shows(first_value, "the update's result or events", &shown);
    assert_never_shows(second_value, "the update's result or events", &shown);
    assert_eq!(diff(&secret::SCHEMA, &changed, &updated), vec![]);
    assert_eq!(updated.properties["recovery_window_in_days"], json!(7));
    assert_ne!(updated.attributes["version_id"], first_version);
    let versions = sm.list_secret_version_ids().secret_id(&created.id).send().await.unwrap();
    assert_eq!(versions.versions().len(), 2, "a changed value is a new version");
    let raw = sm.describe_secret().secret_id(&created.id).send().await.unwrap();
    let stages = raw.version_ids_to_stages().unwrap();
    assert_eq!(stages[first_version.as_str().unwrap()], ["AWSPREVIOUS"]);
    assert_eq!(stages[updated.attributes["version_id"].as_str().unwrap()], ["AWSCURRENT"]);
    assert_eq!(raw.tags().len(), 3, "the run's tags only, no delete setting: {:?}", raw.tags());
    let value = sm.get_secret_value().secret_id(&created.id).send().await.unwrap();
    assert_eq!(value.secret_string(), Some(second_value));

    // Delete schedules it with the window state recorded: gone for deployctl.
    let (ctx, _rx) = op(&secret::SCHEMA, address, StepAction::Delete, BTreeMap::new());
    let recorded = fingerprinted(&changed);
    kind.delete(&ctx, &updated, &recorded).await.unwrap();
    let raw = sm.describe_secret().secret_id(&created.id).send().await.unwrap();
    assert!(raw.deleted_date().is_some(), "scheduled for deletion, not deleted at once");
    assert_eq!(
        read_opt(&kind, &read_ctx(STACK, REGION), &created.id).await,
        None,
        "a secret scheduled for deletion counts as gone"
    );
    kind.delete(&ctx, &updated, &recorded).await.unwrap();
    assert!(kind.find_tagged(&read_ctx(STACK, REGION)).await.unwrap().is_empty());

    // Created again under the same name: restored and adopted, same ARN.
    let (ctx, mut rx) = op(&secret::SCHEMA, address, StepAction::Create, tags(address, &[("team", "data")]));
    let mut forced = changed.clone();
    forced.insert("force_delete_without_recovery".into(), json!(true));
    let restored = kind.create(&ctx, &forced).await.unwrap();
    assert_never_shows(second_value, "the restore's result or events", &format!("{restored:?}{}", drain(&mut rx)));
    assert_eq!(restored.id, created.id);
    assert_eq!(diff(&secret::SCHEMA, &forced, &restored), vec![]);

    // force_delete_without_recovery deletes for good.
    let (ctx, _rx) = op(&secret::SCHEMA, address, StepAction::Delete, BTreeMap::new());
    kind.delete(&ctx, &restored, &fingerprinted(&forced)).await.unwrap();
    let e = sm.describe_secret().secret_id(&created.id).send().await.unwrap_err();
    assert!(format!("{e:?}").contains("ResourceNotFoundException"), "{e:?}");
    kind.delete(&ctx, &restored, &fingerprinted(&forced)).await.unwrap();
}

/// `desired` as state records it: the value as a fingerprint.
fn fingerprinted(desired: &Props) -> Props {
    let mut p = desired.clone();
    if p.contains_key("secret_string") {
        p.insert("secret_string".into(), json!("sha256:0000"));
    }
    p
}

/// When the secret `id` is scheduled to be deleted, in days from now.
async fn days_to_deletion(sm: &aws_sdk_secretsmanager::Client, id: &str) -> f64 {
    let raw = sm.describe_secret().secret_id(id).send().await.unwrap();
    let at = raw.deleted_date().expect("scheduled for deletion").as_secs_f64();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs_f64();
    (at - now) / 86400.0
}

/// The delete settings reach the delete from the properties state recorded,
/// not from the secret: it carries no `deployctl:*` tag but the stack's and
/// the address's, and a secret never applied (adopted, nothing recorded)
/// gets the 30-day window.
#[tokio::test]
async fn secret_delete_follows_the_recorded_settings_without_a_tag() {
    let moto = Moto::start();
    let aws = moto.aws().await;
    let sm = aws.secretsmanager();
    let kind = Adapter(Secret::new(aws.secretsmanager()));
    let mut ids = BTreeMap::new();
    for (address, settings) in [
        ("week", json!({"recovery_window_in_days": 7})),
        ("forced", json!({"force_delete_without_recovery": true})),
        ("adopted", json!({"recovery_window_in_days": 7, "force_delete_without_recovery": true})),
    ] {
        let desired = props(settings);
        let (ctx, _rx) = op(&secret::SCHEMA, address, StepAction::Create, tags(address, &[]));
        let created = kind.create(&ctx, &desired).await.unwrap();
        let raw = sm.describe_secret().secret_id(&created.id).send().await.unwrap();
        let mut keys: Vec<&str> = raw.tags().iter().filter_map(|t| t.key()).collect();
        keys.sort_unstable();
        assert_eq!(keys, vec!["deployctl:resource", "deployctl:stack"], "{address}");
        ids.insert(address, (created, desired));
    }
    let (ctx, _rx) = op(&secret::SCHEMA, "any", StepAction::Delete, BTreeMap::new());

    let (week, recorded) = &ids["week"];
    kind.delete(&ctx, week, recorded).await.unwrap();
    let days = days_to_deletion(&sm, &week.id).await;
    assert!((6.9..7.1).contains(&days), "the recorded 7-day window: {days}");

    let (forced, recorded) = &ids["forced"];
    kind.delete(&ctx, forced, recorded).await.unwrap();
    let e = sm.describe_secret().secret_id(&forced.id).send().await.unwrap_err();
    assert!(format!("{e:?}").contains("ResourceNotFoundException"), "deleted at once: {e:?}");

    let (adopted, _) = &ids["adopted"];
    kind.delete(&ctx, adopted, &Props::new()).await.unwrap();
    let days = days_to_deletion(&sm, &adopted.id).await;
    assert!((29.9..30.1).contains(&days), "nothing recorded: the 30-day window, not forced: {days}");
}

#[tokio::test]
async fn secret_create_refuses_a_name_held_by_another_and_does_not_echo_the_value() {
    let moto = Moto::start();
    let aws = moto.aws().await;
    let sm = aws.secretsmanager();
    let kind = Adapter(Secret::new(aws.secretsmanager()));
    sm.create_secret().name("shared/token").secret_string("theirs").send().await.unwrap();
    let value = "our-very-secret-token";
    let desired = props(json!({"name": "shared/token", "secret_string": value}));
    let (ctx, mut rx) = op(&secret::SCHEMA, "token", StepAction::Create, tags("token", &[]));
    let e = kind.create(&ctx, &desired).await.unwrap_err();
    assert!(e.hint.is_some(), "{e:?}");
    assert_never_shows(value, "the error or events", &format!("{e:?}{e}{}", drain(&mut rx)));

    let bad = props(json!({"secret_string": value, "recovery_window_in_days": 3}));
    let e = kind.create(&ctx, &bad).await.unwrap_err();
    assert!(e.message.contains("recovery_window_in_days"), "{e:?}");
}
