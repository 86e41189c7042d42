//! The S3 backend against the local AWS endpoint over real HTTP: one per
//! test, on free loopback ports.

use aws_config::BehaviorVersion;
use aws_sdk_dynamodb::types::{AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType};
use aws_sdk_s3::config::{Credentials, Region};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::ServerSideEncryption;
use deployctl_state::{Backend, Lock, LockInfo, ResourceState, S3Backend, State, StateError};
use std::time::{Duration, Instant};

const BUCKET: &str = "deployctl-state-test";
const TABLE: &str = "deployctl-locks";

/// The local AWS endpoint of this test's own (the one harness,
/// `deployctl_localaws::LocalAws`), stopped when dropped.
struct Moto {
    url: String,
    _aws: deployctl_localaws::LocalAws,
}

impl Moto {
    fn start() -> Moto {
        let aws = deployctl_localaws::LocalAws::start().unwrap_or_else(|e| panic!("{e}"));
        Moto { url: aws.endpoint(), _aws: aws }
    }
}

/// A moto server with the state bucket and the lock table, and clients for it.
struct Env {
    s3: aws_sdk_s3::Client,
    ddb: aws_sdk_dynamodb::Client,
    moto: Moto,
}

async fn clients(url: &str) -> (aws_sdk_s3::Client, aws_sdk_dynamodb::Client) {
    let config = aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(url)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("testing", "testing", None, None, "test"))
        .load()
        .await;
    let s3 = aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&config).force_path_style(true).build());
    (s3, aws_sdk_dynamodb::Client::new(&config))
}

async fn setup() -> Env {
    let moto = Moto::start();
    let (s3, ddb) = clients(&moto.url).await;
    s3.create_bucket().bucket(BUCKET).send().await.expect("create bucket");
    ddb.create_table()
        .table_name(TABLE)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("LockID")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .expect("attribute definition"),
        )
        .key_schema(
            KeySchemaElement::builder().attribute_name("LockID").key_type(KeyType::Hash).build().expect("key schema"),
        )
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .expect("create table");
    Env { s3, ddb, moto }
}

impl Env {
    fn backend(&self, key: &str) -> S3Backend {
        S3Backend::new(self.s3.clone(), self.ddb.clone(), BUCKET, key, TABLE)
    }

    /// A backend with a short lease, for the expiry and heartbeat tests.
    fn short_lease(&self, key: &str) -> S3Backend {
        self.backend(key).with_lease(Duration::from_secs(2))
    }
}

fn info(id: &str) -> LockInfo {
    LockInfo {
        id: id.into(),
        who: format!("{id}@test (pid 1)"),
        operation: "up".into(),
        created: "2024-01-01T00:00:00Z".into(),
        expires: "2024-01-01T00:01:00Z".into(),
    }
}

fn state(serial: u64) -> State {
    let mut s = State::new("network", "us-east-1");
    s.lineage = "lineage-1".into();
    s.serial = serial;
    let mut vpc = ResourceState::new("aws_vpc");
    vpc.id = Some("vpc-123".into());
    s.resources.insert("vpc".into(), vpc);
    s
}

fn locked_by(result: Result<Box<dyn Lock>, StateError>) -> LockInfo {
    match result {
        Err(StateError::Locked(holder)) => holder,
        Ok(lock) => panic!("expected Locked, but got the lock {:?}", lock.info()),
        Err(e) => panic!("expected Locked, got {e:?}"),
    }
}

#[tokio::test]
async fn write_then_read_round_trip_and_object_is_sse_aes256() {
    let env = setup().await;
    let backend = env.backend("network/state.json");
    assert_eq!(backend.location(), format!("s3://{BUCKET}/network/state.json"));
    assert!(backend.read().await.unwrap().is_none());

    let v1 = backend.write(&state(1), None).await.unwrap();
    let read = backend.read().await.unwrap().unwrap();
    assert_eq!(read.version, v1);
    assert_eq!(read.state, state(1));

    let head = env.s3.head_object().bucket(BUCKET).key("network/state.json").send().await.unwrap();
    assert_eq!(head.server_side_encryption(), Some(&ServerSideEncryption::Aes256));
    assert_eq!(head.content_type(), Some("application/json"));
    assert_eq!(head.e_tag(), Some(v1.as_str()));

    let v2 = backend.write(&state(2), Some(&v1)).await.unwrap();
    assert_ne!(v1, v2);
    let read = backend.read().await.unwrap().unwrap();
    assert_eq!((read.state.serial, read.version), (2, v2));
}

#[tokio::test]
async fn fenced_write_with_stale_etag_is_rejected() {
    let env = setup().await;
    let first = env.backend("s.json");
    let second = env.backend("s.json");
    let v1 = first.write(&state(1), None).await.unwrap();

    // Both runs read the same version; the first one writes.
    let seen_by_first = first.read().await.unwrap().unwrap();
    let seen_by_second = second.read().await.unwrap().unwrap();
    assert_eq!(seen_by_first.version, seen_by_second.version);
    let v2 = first.write(&state(2), Some(&seen_by_first.version)).await.unwrap();

    let mut stale = seen_by_second.state.clone();
    stale.serial = 2;
    stale.outputs.insert("from".into(), serde_json::json!("second"));
    match second.write(&stale, Some(&seen_by_second.version)).await {
        Err(StateError::Conflict { expected, found }) => {
            assert_eq!(expected, v1);
            assert_eq!(found, v2, "the conflict names the current version");
        }
        other => panic!("expected Conflict, got {other:?}"),
    }
    // The first writer's state is intact.
    let now = first.read().await.unwrap().unwrap();
    assert_eq!((now.version.as_str(), now.state), (v2.as_str(), state(2)));

    // A first write when state already exists is a conflict too.
    let err = second.write(&state(1), None).await.unwrap_err();
    assert!(matches!(err, StateError::Conflict { .. }), "{err}");

    // So is expecting a version of an object that is gone.
    env.s3.delete_object().bucket(BUCKET).key("s.json").send().await.unwrap();
    match first.write(&state(3), Some(&v2)).await {
        Err(StateError::Conflict { found, .. }) => assert!(found.starts_with("none"), "{found}"),
        other => panic!("expected Conflict, got {other:?}"),
    }
}

#[tokio::test]
async fn corrupt_object_is_reported_with_its_location() {
    let env = setup().await;
    env.s3
        .put_object()
        .bucket(BUCKET)
        .key("bad.json")
        .body(ByteStream::from_static(b"{\"format_version\": 1,\n  nope"))
        .send()
        .await
        .unwrap();
    let err = env.backend("bad.json").read().await.unwrap_err();
    assert!(matches!(err, StateError::Corrupt { .. }), "{err}");
    let msg = err.to_string();
    assert!(msg.contains(&format!("s3://{BUCKET}/bad.json")) && msg.contains("line 2"), "{msg}");
}

#[tokio::test]
async fn second_lock_waits_then_fails_naming_holder() {
    let env = setup().await;
    let a = env.backend("s.json");
    let b = env.backend("s.json");
    assert_eq!(b.holder().await.unwrap(), None, "nobody holds it yet");
    let held = a.lock(info("aaa"), Duration::ZERO).await.unwrap();
    assert!(held.is_held());
    // A reader that does not lock (diff) sees who does.
    assert_eq!(b.holder().await.unwrap().map(|h| h.id), Some("aaa".to_string()));

    let started = Instant::now();
    let holder = locked_by(b.lock(info("bbb"), Duration::from_millis(1500)).await);
    assert!(started.elapsed() >= Duration::from_millis(1500), "it did not wait");
    assert_eq!((holder.id.as_str(), holder.who.as_str(), holder.operation.as_str()), ("aaa", "aaa@test (pid 1)", "up"));
    let msg = StateError::Locked(holder).to_string();
    assert!(msg.contains("aaa@test (pid 1)") && msg.contains("lock id aaa"), "{msg}");

    // A waiter gets the lock once the holder releases it.
    let waiter = tokio::spawn(async move { b.lock(info("bbb"), Duration::from_secs(10)).await });
    tokio::time::sleep(Duration::from_millis(700)).await;
    held.release().await.unwrap();
    let second = waiter.await.unwrap().unwrap();
    assert_eq!(second.info().id, "bbb");
    assert_eq!(locked_by(a.lock(info("ccc"), Duration::ZERO).await).id, "bbb");
    second.release().await.unwrap();
    a.lock(info("ccc"), Duration::ZERO).await.unwrap().release().await.unwrap();
    assert_eq!(a.holder().await.unwrap(), None, "released");
}

#[tokio::test]
async fn expired_lease_is_taken_over() {
    let env = setup().await;
    let backend = env.short_lease("s.json");

    // A run that hangs: its heartbeat stops, but it still has its guard.
    let mut hung = backend.acquire(info("hung"), Duration::ZERO).await.unwrap();
    hung.stop_heartbeat().await;
    assert!(hung.is_held(), "the lease has not run out yet");
    assert_eq!(backend.holder().await.unwrap().map(|h| h.id), Some("hung".to_string()));

    let started = Instant::now();
    let taker = backend.lock(info("taker"), Duration::from_secs(15)).await.unwrap();
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(1500), "taken over after {waited:?}, before the lease ran out");
    assert_eq!(backend.holder().await.unwrap().map(|h| h.id), Some("taker".to_string()));
    assert!(taker.is_held());
    assert!(!hung.is_held(), "the hung run must know its lease is gone");

    // The hung run's release must not remove the new holder's lock.
    Box::new(hung).release().await.unwrap();
    assert_eq!(locked_by(backend.lock(info("third"), Duration::ZERO).await).id, "taker");

    // A run killed outright (its guard dropped, never released) expires too.
    drop(taker);
    let started = Instant::now();
    let next = backend.lock(info("next"), Duration::from_secs(15)).await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(1000), "{:?}", started.elapsed());
    next.release().await.unwrap();
}

#[tokio::test]
async fn heartbeat_keeps_lock_alive_past_lease() {
    let env = setup().await;
    let backend = env.short_lease("s.json");
    let held = backend.lock(info("alive"), Duration::ZERO).await.unwrap();

    tokio::time::sleep(Duration::from_secs(5)).await;
    assert!(held.is_held());
    let holder = locked_by(backend.lock(info("other"), Duration::from_millis(1200)).await);
    assert_eq!(holder.id, "alive");
    // The heartbeat also renews the expiry shown to waiters.
    assert_ne!(holder.expires, held.info().expires);

    held.release().await.unwrap();
    backend.lock(info("other"), Duration::ZERO).await.unwrap().release().await.unwrap();
}

#[tokio::test]
async fn force_unlock_removes_lock() {
    let env = setup().await;
    let backend = env.short_lease("s.json");
    let held = backend.lock(info("stuck"), Duration::ZERO).await.unwrap();

    let err = backend.force_unlock("not-the-id").await.unwrap_err();
    assert!(matches!(err, StateError::NoSuchLock(ref id) if id == "not-the-id"), "{err}");
    assert!(held.is_held());

    backend.force_unlock("stuck").await.unwrap();
    let err = backend.force_unlock("stuck").await.unwrap_err();
    assert!(matches!(err, StateError::NoSuchLock(_)), "{err}");

    let other = backend.lock(info("other"), Duration::ZERO).await.unwrap();
    // The old holder's next heartbeat finds its lock gone.
    let deadline = Instant::now() + Duration::from_secs(3);
    while held.is_held() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(!held.is_held());
    held.release().await.unwrap();
    assert_eq!(locked_by(backend.lock(info("third"), Duration::ZERO).await).id, "other");
    other.release().await.unwrap();
}

#[tokio::test]
async fn two_concurrent_lockers_exactly_one_wins() {
    let env = setup().await;
    for round in 0..10 {
        let key = format!("race-{round}.json");
        let tasks: Vec<_> = ["left", "right"]
            .into_iter()
            .map(|id| {
                let backend = env.backend(&key);
                tokio::spawn(async move { (id, backend.lock(info(id), Duration::ZERO).await) })
            })
            .collect();
        let mut winners = Vec::new();
        let mut losers = Vec::new();
        for task in tasks {
            match task.await.unwrap() {
                (id, Ok(lock)) => winners.push((id, lock)),
                (id, Err(StateError::Locked(holder))) => losers.push((id, holder)),
                (id, Err(e)) => panic!("{id}: {e}"),
            }
        }
        assert_eq!(winners.len(), 1, "round {round}: winners {:?}", winners.iter().map(|w| w.0).collect::<Vec<_>>());
        assert_eq!(losers[0].1.id, winners[0].0, "the loser names the winner");
        for (_, lock) in winners {
            lock.release().await.unwrap();
        }
    }
}

#[tokio::test]
async fn aws_errors_carry_the_service_code() {
    let env = setup().await;
    let missing_bucket = S3Backend::new(env.s3.clone(), env.ddb.clone(), "no-such-bucket", "k", TABLE);
    match missing_bucket.read().await {
        Err(err @ StateError::Aws { .. }) => {
            let msg = err.to_string();
            assert!(msg.contains("NoSuchBucket"), "{msg}");
            assert!(msg.contains("s3://no-such-bucket/k"), "{msg}");
        }
        other => panic!("expected Aws, got {other:?}"),
    }
    let missing_table = S3Backend::new(env.s3.clone(), env.ddb.clone(), BUCKET, "k", "no-such-table");
    match missing_table.lock(info("x"), Duration::ZERO).await {
        Err(StateError::Aws { code, location, .. }) => {
            assert_eq!(code, "ResourceNotFoundException");
            assert_eq!(location, "dynamodb table no-such-table");
        }
        other => panic!("expected Aws, got {other:?}"),
    }

    // Nothing listens on a port moto has just released.
    let url = env.moto.url.clone();
    drop(env);
    let (s3, ddb) = clients(&url).await;
    match S3Backend::new(s3, ddb, BUCKET, "k", TABLE).read().await {
        Err(StateError::Aws { code, message, .. }) => {
            assert_eq!(code, "DispatchFailure");
            assert!(message.contains("onnect"), "{message}");
        }
        other => panic!("expected Aws, got {other:?}"),
    }
}
