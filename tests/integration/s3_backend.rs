//! The S3 backend through the binary: state in an encrypted object, and the
//! DynamoDB lock that lets exactly one of two concurrent runs proceed.

use crate::harness::*;
use aws_sdk_dynamodb::types::{AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType};
use std::time::{Duration, Instant};

const SPEC: &str = r#"stack: shared
region: us-east-1
backend:
  s3: {bucket: team-state, key: stacks/shared.json, lock_table: team-locks}
vars:
  azs: {a: 1, b: 2, c: 3, d: 4, e: 5, f: 6}
resources:
  vpc:
    type: ec2.vpc
    properties: {cidr_block: 10.1.0.0/16}
  subnet:
    type: ec2.subnet
    for_each: ${var.azs}
    properties:
      vpc_id: ${vpc.id}
      cidr_block: 10.1.${each.value}.0/24
      availability_zone: us-east-1${each.key}
"#;

/// The emulator with the backend's bucket and table, and SPEC deployed on it.
fn deployed() -> (Moto, Project, String) {
    let moto = Moto::start();
    rt().block_on(backend_resources(&moto));
    let p = Project::new(&moto);
    let spec = p.spec("shared.yaml", SPEC).display().to_string();
    p.ok(&["up", &spec, "--yes"]);
    (moto, p, spec)
}

async fn backend_resources(moto: &Moto) {
    let s3 = moto.s3().await;
    s3.create_bucket().bucket("team-state").send().await.unwrap();
    moto.dynamodb()
        .await
        .create_table()
        .table_name("team-locks")
        .key_schema(KeySchemaElement::builder().attribute_name("LockID").key_type(KeyType::Hash).build().unwrap())
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("LockID")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .unwrap();
}

#[test]
fn state_lives_encrypted_in_s3_and_the_lock_is_released_after_the_run() {
    let (moto, p, spec) = deployed();
    assert!(!p.state_dir().join("shared.json").exists(), "state went to the local backend");
    rt().block_on(async {
        let head = moto.s3().await.head_object().bucket("team-state").key("stacks/shared.json").send().await.unwrap();
        assert_eq!(head.server_side_encryption().map(|s| s.as_str()), Some("AES256"));
        let items = moto.dynamodb().await.scan().table_name("team-locks").send().await.unwrap();
        assert_eq!(items.count(), 0, "the lock was not released");
    });
    assert_eq!(p.run(&["diff", &spec, "--detailed-exitcode"]).code, 0);
}

#[test]
fn two_concurrent_ups_on_the_s3_backend_exactly_one_proceeds() {
    let moto = Moto::start();
    rt().block_on(backend_resources(&moto));
    let p = Project::new(&moto);
    let spec = p.spec("shared.yaml", SPEC);
    let spec = spec.display().to_string();

    let first = p
        .command(&["up", &spec, "--yes"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Start the second run once the first holds the lock.
    let held = rt().block_on(async {
        let ddb = moto.dynamodb().await;
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(20) {
            if ddb.scan().table_name("team-locks").send().await.unwrap().count() > 0 {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        false
    });
    assert!(held, "the first run never took the lock");
    let second = p.run(&["up", &spec, "--yes", "--lock-timeout", "0s"]);
    let first = first.wait_with_output().unwrap();
    assert_eq!(first.status.code(), Some(0), "first run: {}", String::from_utf8_lossy(&first.stderr));
    assert_eq!(second.code, 1, "{second:?}");
    assert!(second.stderr.contains("state is locked by"), "{second:?}");
    assert!(second.stderr.contains("running 'up'"), "{second:?}");
    assert!(second.stderr.contains("deployctl force-unlock"), "{second:?}");

    let tagged = rt().block_on(async { tagged(&moto.ec2().await, "shared").await });
    assert_eq!(tagged.len(), 7, "{tagged:?}");
}

/// A run killed with its lease still running leaves its lock: `up` names
/// the holder, and its hint's force-unlock command works as printed.
#[test]
fn the_lock_hint_of_a_dead_run_is_a_command_that_works_as_printed() {
    use deployctl_state::{Backend, LockInfo, S3Backend};
    let moto = Moto::start();
    rt().block_on(backend_resources(&moto));
    let p = Project::new(&moto);
    let spec = p.spec("shared.yaml", SPEC).display().to_string();
    // The dead run: its lock taken, then its process gone without a release.
    rt().block_on(async {
        let backend =
            S3Backend::new(moto.s3().await, moto.dynamodb().await, "team-state", "stacks/shared.json", "team-locks");
        let info = LockInfo {
            id: "dead-run-1".into(),
            who: "ci@runner-3 (pid 77)".into(),
            operation: "up".into(),
            created: "2026-12-02T09:00:00Z".into(),
            expires: String::new(),
        };
        std::mem::forget(backend.lock(info, Duration::ZERO).await.unwrap());
    });
    let r = p.run(&["up", &spec, "--yes"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("state is locked by ci@runner-3 (pid 77) running 'up'"), "{r:?}");
    let command = r
        .stderr
        .lines()
        .find_map(|l| l.split_once("remove its lock with: ").map(|(_, c)| c.trim().to_string()))
        .unwrap_or_else(|| panic!("no command in {r:?}"));
    assert_eq!(command, format!("deployctl force-unlock {spec} dead-run-1"));
    let unlock = p.as_printed(&command);
    assert_eq!(unlock.code, 0, "{unlock:?}");
    p.ok(&["up", &spec, "--yes"]);
}

/// A spec whose S3 backend was never created: nothing is touched, and the
/// hint is the init command, with this run's options, that works as printed.
#[test]
fn a_missing_backend_hints_the_init_command_that_creates_it() {
    let moto = Moto::start();
    let p = Project::new(&moto);
    let spec = p.spec("shared.yaml", SPEC).display().to_string();
    let r = p.run(&["up", &spec, "--yes", "--var", "azs={a: 1}"]);
    assert_eq!(r.code, 1, "{r:?}");
    // The lock table is looked for first.
    assert!(r.stderr.contains("ResourceNotFoundException"), "{r:?}");
    let command = r
        .stderr
        .lines()
        .find_map(|l| {
            l.split_once("the lock table does not exist; create it with: ").map(|(_, c)| c.trim().to_string())
        })
        .unwrap_or_else(|| panic!("no command in {r:?}"));
    assert_eq!(command, format!("deployctl init {spec} --var 'azs={{a: 1}}'"));
    assert_eq!(rt().block_on(async { tagged(&moto.ec2().await, "shared").await }), vec![]);
    let init = p.as_printed(&command);
    assert_eq!(init.code, 0, "{init:?}");
    p.ok(&["up", &spec, "--yes", "--var", "azs={a: 1}"]);
    assert_eq!(rt().block_on(async { tagged(&moto.ec2().await, "shared").await }).len(), 2);
}

#[test]
fn a_state_edit_on_s3_needs_versioning_and_keeps_the_previous_state_as_a_version() {
    let (moto, p, spec) = deployed();

    // The bucket has no versioning: the edit could not be undone.
    let refused = p.run(&["state", "rm", &spec, "subnet[f]"]);
    assert_eq!(refused.code, 1, "{refused:?}");
    assert!(refused.stderr.contains("keeps no copy of the state from before a write"), "{}", refused.stderr);
    let hint = refused.stderr.lines().find_map(|l| l.trim().strip_prefix("hint: turn versioning on with: ")).unwrap();
    assert!(state_object(&moto).contains("\"subnet[f]\""), "nothing was changed");
    let init = p.as_printed(hint);
    assert_eq!(init.code, 0, "{init:?}");

    let rm = p.ok(&["state", "rm", &spec, "subnet[f]"]);
    assert!(rm.stdout.contains("Removed subnet[f] (ec2.subnet subnet-"), "{}", rm.stdout);
    assert!(rm.stdout.contains("kept in the previous version of s3://team-state/stacks/shared.json"), "{}", rm.stdout);
    assert!(!state_object(&moto).contains("\"subnet[f]\""));
    let previous = rt().block_on(async {
        let s3 = moto.s3().await;
        let versions =
            s3.list_object_versions().bucket("team-state").prefix("stacks/shared.json").send().await.unwrap();
        let older =
            versions.versions().iter().find(|v| v.is_latest() != Some(true)).unwrap().version_id().unwrap().to_string();
        let out =
            s3.get_object().bucket("team-state").key("stacks/shared.json").version_id(older).send().await.unwrap();
        String::from_utf8(out.body.collect().await.unwrap().to_vec()).unwrap()
    });
    assert!(previous.contains("\"subnet[f]\""), "the previous version is the state before the edit");
    let items =
        rt().block_on(async { moto.dynamodb().await.scan().table_name("team-locks").send().await.unwrap().count() });
    assert_eq!(items, 0, "the edit released its lock");
}

fn state_object(moto: &Moto) -> String {
    rt().block_on(async {
        let out = moto.s3().await.get_object().bucket("team-state").key("stacks/shared.json").send().await.unwrap();
        String::from_utf8(out.body.collect().await.unwrap().to_vec()).unwrap()
    })
}
