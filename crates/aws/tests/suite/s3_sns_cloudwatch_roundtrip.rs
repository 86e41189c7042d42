//! `s3.bucket`, `sns.topic` and `cloudwatch.alarm` against a moto server of
//! this test's own: create through the trait, read back and diff clean
//! against the spec, change in-place fields and check them through the raw
//! API, delete (twice), and read nothing.
//!
//! The figures are seed 000's: a versioned artifact bucket, ALB access logs
//! kept 90 days, an SNS topic for failures, an alarm on the service's CPU
//! above 80 % for 2 × 5 minutes and one on unhealthy targets above 0.

use deployctl_aws::cloudwatch::alarm::{self, Alarm};
use deployctl_aws::kit::Adapter;
use deployctl_aws::s3::bucket::{self, Bucket};
use deployctl_aws::sns::topic::{self, Topic};
use deployctl_aws::sns::topic_policy::{self, TopicPolicy};
use deployctl_aws::Aws;
use deployctl_engine::{Props, ResourceKind, StepAction};
use serde_json::{json, Value};

const REGION: &str = "us-east-1";
const STACK: &str = "rt";

use crate::support::kit::{assert_clean, changes, op, props, read_ctx, read_one, replaces};
use crate::support::moto::Moto;

/// Clients for the endpoint, whose front serves CloudWatch's CBOR.
async fn aws_cbor(moto: &Moto) -> Aws {
    moto.aws().await
}

/// A bucket's versioning status through the raw API. moto names the root
/// of its answer `GetBucketVersioningResponse`, which the SDK refuses to
/// parse: then the `Status` element is read from the body.
async fn versioning(s3: &aws_sdk_s3::Client, name: &str) -> String {
    match s3.get_bucket_versioning().bucket(name).send().await {
        Ok(v) => v.status().map(|s| s.as_str().to_string()).unwrap_or_default(),
        Err(e) => {
            let body = e.raw_response().and_then(|r| r.body().bytes()).unwrap_or_default();
            let body = String::from_utf8_lossy(body).to_string();
            body.split("<Status>").nth(1).and_then(|s| s.split('<').next()).unwrap_or_default().to_string()
        }
    }
}

/// The TLS-only policy of a bucket.
fn tls_only(name: &str) -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "TLSOnly",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [format!("arn:aws:s3:::{name}"), format!("arn:aws:s3:::{name}/*")],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }],
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bucket_round_trip() {
    let moto = Moto::start();
    let aws = moto.aws().await;
    let s3 = aws.s3();
    let kind = Adapter(Bucket::new(s3.clone()));

    // The artifact bucket: versioned, SSE-KMS with a bucket key, blocked,
    // ALB logs expiring after 90 days, TLS only, CORS for a web front.
    let name = "rt-pipeline-artifacts";
    let want = props(json!({
        "bucket": name,
        "versioning": true,
        "server_side_encryption": {"sse_algorithm": "aws:kms",
            "kms_master_key_id": "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            "bucket_key_enabled": true},
        "public_access_block": {"block_public_acls": true, "ignore_public_acls": true,
            "block_public_policy": true, "restrict_public_buckets": true},
        "lifecycle_rules": [
            {"id": "alb-logs", "prefix": "alb/", "expiration_days": 90},
            {"id": "old-versions", "noncurrent_version_expiration_days": 30,
             "abort_incomplete_multipart_upload_days": 7},
        ],
        "policy": tls_only(name),
        "cors_rules": [{"allowed_origins": ["https://shop.example.com"], "allowed_methods": ["PUT", "GET"],
            "allowed_headers": ["*"], "expose_headers": ["ETag"], "max_age_seconds": 3000}],
    }));
    let ctx = op(STACK, REGION, "artifacts", "s3.bucket", StepAction::Create, &[]);
    let b = kind.create(&ctx, &want).await.expect("create the bucket");
    assert_eq!(b.id, name);
    assert_eq!(b.attributes["arn"], json!(format!("arn:aws:s3:::{name}")));
    assert_eq!(b.attributes["bucket_regional_domain_name"], json!(format!("{name}.s3.us-east-1.amazonaws.com")));
    assert_eq!(b.attributes["region"], json!(REGION));
    let b = read_one(&kind, &read_ctx(STACK, REGION), name).await;
    assert_clean(&bucket::SCHEMA, &want, &b);
    assert_eq!(b.tags.get("deployctl:resource").map(String::as_str), Some("artifacts"));
    assert_eq!(b.properties["force_destroy"], json!(false));
    assert_eq!(versioning(&s3, name).await, "Enabled");
    let tags = s3.get_bucket_tagging().bucket(name).send().await.unwrap();
    assert!(tags.tag_set().iter().any(|t| t.key() == "deployctl:stack" && t.value() == STACK));

    // A bucket with nothing but its name reads back equal to the spec (the
    // defaults are what a new bucket has).
    let bare_want = props(json!({"bucket": "rt-bare-bucket"}));
    let bare = kind
        .create(&op(STACK, REGION, "bare", "s3.bucket", StepAction::Create, &[]), &bare_want)
        .await
        .expect("create");
    let bare_live = read_one(&kind, &read_ctx(STACK, REGION), "rt-bare-bucket").await;
    assert_clean(&bucket::SCHEMA, &bare_want, &bare_live);
    assert_eq!(bare_live.properties["public_access_block"]["block_public_policy"], json!(true));
    assert_eq!(bare_live.properties["server_side_encryption"]["sse_algorithm"], json!("AES256"));
    assert!(bare_live.properties["lifecycle_rules"].is_null(), "none: not managed");

    // Adoption by name: only with this stack's and this address's tags.
    let wanted = vec![
        ("artifacts".to_string(), props(json!({"bucket": name}))),
        ("other".to_string(), props(json!({"bucket": "rt-bare-bucket"}))),
        ("missing".to_string(), props(json!({"bucket": "rt-no-such-bucket"}))),
    ];
    let found = kind.find_existing(&read_ctx(STACK, REGION), &wanted).await.unwrap();
    assert_eq!(found.iter().map(|(a, o)| (a.as_str(), o.id.as_str())).collect::<Vec<_>>(), vec![("artifacts", name)]);

    // A name taken by a bucket that is not this resource's is refused.
    let err = kind
        .create(&op(STACK, REGION, "thief", "s3.bucket", StepAction::Create, &[]), &props(json!({"bucket": name})))
        .await
        .expect_err("a bucket of another resource is not taken over");
    assert_eq!(err.code.as_deref(), Some("BucketAlreadyOwnedByYou"), "{err:?}");

    // Batched reads leave out what is gone.
    let found =
        kind.read(&read_ctx(STACK, REGION), &[name.to_string(), "rt-no-such-bucket".to_string()]).await.unwrap();
    assert_eq!(found.len(), 1);

    // In place: versioning suspended, logs kept 30 days, CORS removed, a
    // tag of its own.
    let mut want2 = want.clone();
    want2.insert("versioning".into(), json!(false));
    want2.insert("lifecycle_rules".into(), json!([{"id": "alb-logs", "prefix": "alb/", "expiration_days": 30}]));
    want2.insert("cors_rules".into(), json!([]));
    // Without the TLS-only policy: moto enforces it, and this test talks
    // plain HTTP to it.
    want2.insert("policy".into(), json!({}));
    let mut changed = changes(&bucket::SCHEMA, &want2, &b);
    assert_eq!(changed, vec!["versioning", "lifecycle_rules", "policy", "cors_rules"]);
    changed.push("tags".into());
    let ctx2 = op(STACK, REGION, "artifacts", "s3.bucket", StepAction::Update, &[("team", "shop")]);
    let b = kind.update(&ctx2, &b, &want2, &changed).await.expect("update the bucket");
    assert_clean(&bucket::SCHEMA, &want2, &b);
    assert_eq!(b.tags.get("team").map(String::as_str), Some("shop"));
    assert_eq!(versioning(&s3, name).await, "Suspended");
    let lc = s3.get_bucket_lifecycle_configuration().bucket(name).send().await.unwrap();
    assert_eq!(lc.rules().len(), 1);
    assert_eq!(lc.rules()[0].expiration().and_then(|e| e.days()), Some(30));
    let cors = s3.get_bucket_cors().bucket(name).send().await;
    assert!(cors.is_err(), "CORS rules removed");
    assert!(s3.get_bucket_policy().bucket(name).send().await.is_err(), "policy removed");

    // What forces a replacement.
    assert!(replaces(&bucket::SCHEMA, "bucket"));
    for p in ["versioning", "server_side_encryption", "public_access_block", "lifecycle_rules", "policy", "cors_rules"]
    {
        assert!(!replaces(&bucket::SCHEMA, p), "bucket.{p}");
    }

    // A bucket holding objects (two versions and a delete marker here) is
    // not deleted without force_destroy…
    for body in ["one", "two"] {
        s3.put_object().bucket(name).key("alb/log.gz").body(body.as_bytes().to_vec().into()).send().await.unwrap();
    }
    s3.put_object().bucket(name).key("gone.txt").body(b"x".to_vec().into()).send().await.unwrap();
    s3.delete_object().bucket(name).key("gone.txt").send().await.unwrap();
    let del = op(STACK, REGION, "artifacts", "s3.bucket", StepAction::Delete, &[]);
    let err = kind.delete(&del, &b, &Props::new()).await.expect_err("a bucket with objects is not deleted");
    assert_eq!(err.code.as_deref(), Some("BucketNotEmpty"), "{err:?}");
    assert!(err.hint.as_deref().unwrap_or_default().contains("force_destroy"), "{err:?}");

    // …and is, with every version, once force_destroy is applied (state
    // records it; the bucket carries nothing of it).
    let mut want3 = want2.clone();
    want3.insert("force_destroy".into(), json!(true));
    let changed = changes(&bucket::SCHEMA, &want3, &b);
    assert_eq!(changed, vec!["force_destroy"]);
    let b = kind.update(&ctx2, &b, &want3, &changed).await.expect("set force_destroy");
    assert_clean(&bucket::SCHEMA, &want3, &b);
    let b = read_one(&kind, &read_ctx(STACK, REGION), name).await;
    kind.delete(&del, &b, &want3).await.expect("delete the bucket with its objects");
    kind.delete(&del, &b, &want3).await.expect("delete the bucket again");
    kind.delete(&del, &bare, &Props::new()).await.expect("delete the bare bucket");
    let ids = [name.to_string(), "rt-bare-bucket".to_string()];
    assert!(kind.read(&read_ctx(STACK, REGION), &ids).await.unwrap().is_empty());
}

/// `force_destroy` reaches the delete from the properties state recorded,
/// not from the bucket: no `deployctl:*` tag but the stack's and the
/// address's is written, and a bucket never applied (adopted, nothing
/// recorded) is not emptied.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bucket_delete_follows_the_recorded_force_destroy_without_a_tag() {
    let moto = Moto::start();
    let s3 = moto.aws().await.s3();
    let kind = Adapter(Bucket::new(s3.clone()));
    let name = "rt-forced-bucket";
    let want = props(json!({"bucket": name, "force_destroy": true}));
    let b = kind.create(&op(STACK, REGION, "logs", "s3.bucket", StepAction::Create, &[]), &want).await.unwrap();
    s3.put_object().bucket(name).key("a.txt").body(b"a".to_vec().into()).send().await.unwrap();

    let tags = s3.get_bucket_tagging().bucket(name).send().await.unwrap();
    let mut keys: Vec<&str> = tags.tag_set().iter().map(|t| t.key()).filter(|k| k.starts_with("deployctl:")).collect();
    keys.sort_unstable();
    assert_eq!(keys, vec!["deployctl:resource", "deployctl:stack"]);

    let del = op(STACK, REGION, "logs", "s3.bucket", StepAction::Delete, &[]);
    let err = kind.delete(&del, &b, &Props::new()).await.expect_err("nothing recorded: not emptied");
    assert_eq!(err.code.as_deref(), Some("BucketNotEmpty"), "{err:?}");
    let unforced = props(json!({"bucket": name, "force_destroy": false}));
    let err = kind.delete(&del, &b, &unforced).await.expect_err("recorded false: not emptied");
    assert_eq!(err.code.as_deref(), Some("BucketNotEmpty"), "{err:?}");
    kind.delete(&del, &b, &want).await.expect("recorded true: emptied and deleted");
    assert!(kind.read(&read_ctx(STACK, REGION), &[name.to_string()]).await.unwrap().is_empty());
}

/// Regression: a run killed between CreateBucket and the tagging call left
/// a bare bucket that the next run refused as "not this resource's", losing
/// track of it. A create that repeats an interrupted one adopts a bucket
/// without deployctl tags; any other create still refuses it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bucket_left_untagged_by_an_interrupted_create_is_adopted_by_the_retry() {
    let moto = Moto::start();
    let aws = moto.aws().await;
    let s3 = aws.s3();
    let kind = Adapter(Bucket::new(s3.clone()));
    s3.create_bucket().bucket("rt-interrupted").send().await.unwrap();
    let want = props(json!({"bucket": "rt-interrupted", "versioning": true}));

    let fresh = op(STACK, REGION, "artifacts", "s3.bucket", StepAction::Create, &[]);
    let err = kind.create(&fresh, &want).await.expect_err("a first create does not take over a bare bucket");
    assert_eq!(err.code.as_deref(), Some("BucketAlreadyOwnedByYou"), "{err:?}");

    let mut retry = op(STACK, REGION, "artifacts", "s3.bucket", StepAction::Create, &[]);
    retry.interrupted_create = true;
    let b = kind.create(&retry, &want).await.expect("the retry adopts the bucket its first attempt made");
    assert_eq!(b.id, "rt-interrupted");
    assert_eq!(b.tags.get("deployctl:resource").map(String::as_str), Some("artifacts"));
    assert_clean(&bucket::SCHEMA, &want, &read_one(&kind, &read_ctx(STACK, REGION), "rt-interrupted").await);

    // Another resource's bucket is never adopted, retry or not.
    let mut other = op(STACK, REGION, "logs", "s3.bucket", StepAction::Create, &[]);
    other.interrupted_create = true;
    let err = kind.create(&other, &want).await.expect_err("another resource's bucket");
    assert_eq!(err.code.as_deref(), Some("BucketAlreadyOwnedByYou"), "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topic_round_trip() {
    let moto = Moto::start();
    let aws = moto.aws().await;
    let sns = aws.sns();
    let kind = Adapter(Topic::new(sns.clone()).with_stack_tags(aws.stack_tags()));

    // The topic for pipeline failures: default name, an email and a queue.
    let want = props(json!({
        "display_name": "Shop failures",
        "subscriptions": [
            {"protocol": "email", "endpoint": "ops@example.com"},
            {"protocol": "sqs", "endpoint": "arn:aws:sqs:us-east-1:123456789012:failures"},
        ],
    }));
    let t = kind
        .create(&op(STACK, REGION, "failures", "sns.topic", StepAction::Create, &[]), &want)
        .await
        .expect("create the topic");
    assert!(t.id.starts_with("arn:aws:sns:us-east-1:"), "{}", t.id);
    assert!(t.id.ends_with(":rt-failures"), "{}", t.id);
    assert_eq!(t.attributes["name"], json!("rt-failures"));
    let t = read_one(&kind, &read_ctx(STACK, REGION), &t.id).await;
    assert_clean(&topic::SCHEMA, &want, &t);
    assert_eq!(t.tags.get("deployctl:resource").map(String::as_str), Some("failures"));
    let arn = t.id.clone();

    // A policy letting CloudWatch publish, and a FIFO topic by name.
    let policy = json!({"Version": "2012-10-17", "Statement": [{"Sid": "cloudwatch", "Effect": "Allow",
        "Principal": {"Service": "cloudwatch.amazonaws.com"}, "Action": "sns:Publish", "Resource": "*"}]});
    let fifo_want = props(json!({"fifo_topic": true, "policy": policy}));
    let fifo = kind
        .create(&op(STACK, REGION, "events", "sns.topic", StepAction::Create, &[]), &fifo_want)
        .await
        .expect("fifo");
    assert!(fifo.id.ends_with(":rt-events.fifo"), "{}", fifo.id);
    assert_clean(&topic::SCHEMA, &fifo_want, &read_one(&kind, &read_ctx(STACK, REGION), &fifo.id).await);

    // Adoption by name (default or given), only with this resource's tags.
    let wanted = vec![
        ("failures".to_string(), Props::new()),
        ("events".to_string(), props(json!({"fifo_topic": true}))),
        ("other".to_string(), props(json!({"name": "rt-failures"}))),
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
    assert_eq!(found, vec![("events".to_string(), fifo.id.clone()), ("failures".to_string(), arn.clone())]);
    let mut tagged: Vec<String> =
        kind.find_tagged(&read_ctx(STACK, REGION)).await.unwrap().into_iter().map(|(a, _)| a).collect();
    tagged.sort();
    assert_eq!(tagged, vec!["events", "failures"]);

    // A topic of that name that is not this resource's is refused.
    sns.create_topic().name("rt-taken").send().await.unwrap();
    let err = kind
        .create(&op(STACK, REGION, "taken", "sns.topic", StepAction::Create, &[]), &Props::new())
        .await
        .expect_err("a topic of another resource is not taken over");
    assert_eq!(err.code.as_deref(), Some("TopicAlreadyExists"), "{err:?}");

    // In place: display name, the queue swapped for a webhook and a phone
    // (SMS), a tag.
    let want2 = props(json!({
        "display_name": "Shop pipeline failures",
        "subscriptions": [
            {"protocol": "email", "endpoint": "ops@example.com"},
            {"protocol": "https", "endpoint": "https://hooks.example.com/deploy"},
            {"protocol": "sms", "endpoint": "+15555550123"},
        ],
    }));
    let mut changed = changes(&topic::SCHEMA, &want2, &t);
    assert_eq!(changed, vec!["display_name", "subscriptions"]);
    changed.push("tags".into());
    let ctx2 = op(STACK, REGION, "failures", "sns.topic", StepAction::Update, &[("team", "shop")]);
    let t = kind.update(&ctx2, &t, &want2, &changed).await.expect("update the topic");
    assert_clean(&topic::SCHEMA, &want2, &t);
    assert_eq!(t.tags.get("team").map(String::as_str), Some("shop"));
    let attrs = sns.get_topic_attributes().topic_arn(&arn).send().await.unwrap();
    assert_eq!(
        attrs.attributes().and_then(|a| a.get("DisplayName")).map(String::as_str),
        Some("Shop pipeline failures")
    );
    let subs = sns.list_subscriptions_by_topic().topic_arn(&arn).send().await.unwrap();
    let mut live: Vec<(String, String)> = subs
        .subscriptions()
        .iter()
        .map(|s| (s.protocol().unwrap_or_default().to_string(), s.endpoint().unwrap_or_default().to_string()))
        .collect();
    live.sort();
    assert_eq!(
        live,
        vec![
            ("email".to_string(), "ops@example.com".to_string()),
            ("https".to_string(), "https://hooks.example.com/deploy".to_string()),
            ("sms".to_string(), "+15555550123".to_string()),
        ]
    );

    assert!(replaces(&topic::SCHEMA, "name"));
    assert!(replaces(&topic::SCHEMA, "fifo_topic"));
    for p in ["display_name", "kms_master_key_id", "policy", "subscriptions"] {
        assert!(!replaces(&topic::SCHEMA, p), "topic.{p}");
    }

    // Delete, twice; nothing is read back.
    let del = op(STACK, REGION, "failures", "sns.topic", StepAction::Delete, &[]);
    kind.delete(&del, &t, &Props::new()).await.expect("delete the topic");
    kind.delete(&del, &t, &Props::new()).await.expect("delete the topic again");
    kind.delete(&del, &fifo, &Props::new()).await.expect("delete the fifo topic");
    assert!(kind.read(&read_ctx(STACK, REGION), &[arn, fifo.id.clone()]).await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topic_policy_round_trip() {
    let moto = Moto::start();
    let aws = moto.aws().await;
    let sns = aws.sns();
    let topic = Adapter(Topic::new(sns.clone()).with_stack_tags(aws.stack_tags()))
        .create(&op(STACK, REGION, "alerts", "sns.topic", StepAction::Create, &[]), &props(json!({})))
        .await
        .expect("create the topic");
    let arn = topic.id.clone();
    let kind = Adapter(TopicPolicy::new(sns.clone()));
    assert!(replaces(&topic_policy::SCHEMA, "arn"));

    // EventBridge may publish: a policy that names the topic's own ARN.
    let statement = |sid: &str, service: &str| {
        json!({"Sid": sid, "Effect": "Allow", "Principal": {"Service": service}, "Action": "sns:Publish",
            "Resource": arn})
    };
    let want = props(json!({"arn": arn, "policy": {"Version": "2012-10-17",
        "Statement": [statement("events", "events.amazonaws.com")]}}));
    let p = kind
        .create(&op(STACK, REGION, "alerts_policy", "sns.topic_policy", StepAction::Create, &[]), &want)
        .await
        .unwrap();
    assert_eq!(p.id, arn);
    assert_clean(&topic_policy::SCHEMA, &want, &read_one(&kind, &read_ctx(STACK, REGION), &arn).await);
    let live_policy = |sns: aws_sdk_sns::Client, arn: String| async move {
        let attrs = sns.get_topic_attributes().topic_arn(arn).send().await.unwrap();
        serde_json::from_str::<Value>(&attrs.attributes().unwrap()["Policy"]).unwrap()
    };
    assert_eq!(live_policy(sns.clone(), arn.clone()).await["Statement"][0]["Sid"], "events");

    // Changed outside deployctl: drift on `policy`, and an update puts it back.
    let other = json!({"Version": "2012-10-17", "Statement": [statement("alarms", "cloudwatch.amazonaws.com")]});
    sns.set_topic_attributes()
        .topic_arn(&arn)
        .attribute_name("Policy")
        .attribute_value(other.to_string())
        .send()
        .await
        .unwrap();
    let drifted = read_one(&kind, &read_ctx(STACK, REGION), &arn).await;
    assert_eq!(changes(&topic_policy::SCHEMA, &want, &drifted), vec!["policy".to_string()]);
    let fixed = kind
        .update(
            &op(STACK, REGION, "alerts_policy", "sns.topic_policy", StepAction::Update, &[]),
            &drifted,
            &want,
            &["policy".into()],
        )
        .await
        .unwrap();
    assert_clean(&topic_policy::SCHEMA, &want, &fixed);

    // Delete puts back SNS's default policy (the owner account only); twice
    // is fine, and so is a topic that is gone.
    let del = op(STACK, REGION, "alerts_policy", "sns.topic_policy", StepAction::Delete, &[]);
    kind.delete(&del, &fixed, &Props::new()).await.unwrap();
    kind.delete(&del, &fixed, &Props::new()).await.unwrap();
    let restored = live_policy(sns.clone(), arn.clone()).await;
    assert_eq!(restored["Statement"][0]["Sid"], "__default_statement_ID", "{restored}");
    sns.delete_topic().topic_arn(&arn).send().await.unwrap();
    kind.delete(&del, &fixed, &Props::new()).await.unwrap();
    assert!(kind.read(&read_ctx(STACK, REGION), std::slice::from_ref(&arn)).await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alarm_round_trip() {
    let moto = Moto::start();
    let aws = moto.aws().await;
    let cw = aws_cbor(&moto).await.cloudwatch();
    let kind = Adapter(Alarm::new(cw.clone()).with_stack_tags(aws.stack_tags()));
    let topic = aws.sns().create_topic().name("rt-failures").send().await.unwrap().topic_arn.unwrap();

    // Seed 000: the service's CPU above 80 % for 2 × 5 minutes.
    let cpu_want = props(json!({
        "alarm_description": "Service CPU above 80% for 10 minutes",
        "namespace": "AWS/ECS",
        "metric_name": "CPUUtilization",
        "statistic": "Average",
        "period": 300,
        "evaluation_periods": 2,
        "threshold": 80,
        "comparison_operator": "GreaterThanThreshold",
        "dimensions": {"ClusterName": "rt-cluster", "ServiceName": "rt-web"},
        "alarm_actions": [topic],
    }));
    let cpu = kind
        .create(&op(STACK, REGION, "cpu_high", "cloudwatch.alarm", StepAction::Create, &[]), &cpu_want)
        .await
        .expect("cpu");
    assert_eq!(cpu.id, "rt-cpu_high");
    assert!(cpu.attributes["arn"].as_str().unwrap().ends_with(":alarm:rt-cpu_high"));
    let cpu = read_one(&kind, &read_ctx(STACK, REGION), &cpu.id).await;
    assert_clean(&alarm::SCHEMA, &cpu_want, &cpu);
    assert_eq!(cpu.tags.get("deployctl:resource").map(String::as_str), Some("cpu_high"));

    // Seed 000: unhealthy targets above 0, with a fractional threshold.
    let unhealthy_want = props(json!({
        "alarm_name": "rt-unhealthy-targets",
        "namespace": "AWS/ApplicationELB",
        "metric_name": "UnHealthyHostCount",
        "statistic": "Maximum",
        "period": 60,
        "evaluation_periods": 3,
        "datapoints_to_alarm": 2,
        "threshold": 0.5,
        "comparison_operator": "GreaterThanThreshold",
        "dimensions": {"TargetGroup": "targetgroup/rt-web/0123456789abcdef", "LoadBalancer": "app/rt-alb/0123456789abcdef"},
        "treat_missing_data": "notBreaching",
        "alarm_actions": [topic],
        "ok_actions": [topic],
        "unit": "Count",
    }));
    let unhealthy = kind
        .create(&op(STACK, REGION, "unhealthy", "cloudwatch.alarm", StepAction::Create, &[]), &unhealthy_want)
        .await
        .expect("create the unhealthy targets alarm");
    assert_eq!(unhealthy.id, "rt-unhealthy-targets");
    assert_clean(&alarm::SCHEMA, &unhealthy_want, &read_one(&kind, &read_ctx(STACK, REGION), &unhealthy.id).await);

    // Batched reads leave out what is gone.
    let ids = [cpu.id.clone(), unhealthy.id.clone(), "rt-no-such-alarm".to_string()];
    assert_eq!(kind.read(&read_ctx(STACK, REGION), &ids).await.unwrap().len(), 2);

    // Adoption by name, only with this resource's tags.
    let wanted = vec![
        ("cpu_high".to_string(), Props::new()),
        ("other".to_string(), props(json!({"alarm_name": "rt-unhealthy-targets"}))),
        ("missing".to_string(), Props::new()),
    ];
    let found = kind.find_existing(&read_ctx(STACK, REGION), &wanted).await.unwrap();
    assert_eq!(
        found.iter().map(|(a, o)| (a.as_str(), o.id.as_str())).collect::<Vec<_>>(),
        vec![("cpu_high", "rt-cpu_high")]
    );
    let mut tagged: Vec<String> =
        kind.find_tagged(&read_ctx(STACK, REGION)).await.unwrap().into_iter().map(|(a, _)| a).collect();
    tagged.sort();
    assert_eq!(tagged, vec!["cpu_high", "unhealthy"]);

    // An alarm of that name that is not this resource's is not overwritten.
    let err = kind
        .create(
            &op(STACK, REGION, "thief", "cloudwatch.alarm", StepAction::Create, &[]),
            &props(json!({
            "alarm_name": "rt-cpu_high", "namespace": "AWS/ECS", "metric_name": "CPUUtilization",
            "statistic": "Average", "period": 60, "evaluation_periods": 1, "threshold": 1,
            "comparison_operator": "GreaterThanThreshold"})),
        )
        .await
        .expect_err("an alarm of another resource is not overwritten");
    assert_eq!(err.code.as_deref(), Some("AlarmAlreadyExists"), "{err:?}");

    // In place: threshold 80 → 90, and a tag.
    let mut want2 = cpu_want.clone();
    want2.insert("threshold".into(), json!(90));
    let mut changed = changes(&alarm::SCHEMA, &want2, &cpu);
    assert_eq!(changed, vec!["threshold"]);
    changed.push("tags".into());
    let ctx2 = op(STACK, REGION, "cpu_high", "cloudwatch.alarm", StepAction::Update, &[("team", "shop")]);
    let cpu = kind.update(&ctx2, &cpu, &want2, &changed).await.expect("update the alarm");
    assert_clean(&alarm::SCHEMA, &want2, &cpu);
    assert_eq!(cpu.tags.get("team").map(String::as_str), Some("shop"));
    let live = cw.describe_alarms().alarm_names("rt-cpu_high").send().await.unwrap();
    let a = &live.metric_alarms()[0];
    assert_eq!(a.threshold(), Some(90.0));
    assert_eq!(a.alarm_actions(), std::slice::from_ref(&topic));
    assert_eq!(a.dimensions().len(), 2, "the update keeps the dimensions");

    assert!(replaces(&alarm::SCHEMA, "alarm_name"));
    for p in ["namespace", "metric_name", "threshold", "period", "dimensions", "alarm_actions"] {
        assert!(!replaces(&alarm::SCHEMA, p), "alarm.{p}");
    }

    // Delete, twice; nothing is read back.
    let del = op(STACK, REGION, "cpu_high", "cloudwatch.alarm", StepAction::Delete, &[]);
    kind.delete(&del, &cpu, &Props::new()).await.expect("delete the alarm");
    kind.delete(&del, &cpu, &Props::new()).await.expect("delete the alarm again");
    kind.delete(&del, &unhealthy, &Props::new()).await.expect("delete the other alarm");
    assert!(kind.read(&read_ctx(STACK, REGION), &ids).await.unwrap().is_empty());
}

/// A dashboard's body reads back clean however CloudWatch orders its keys,
/// changes in place, and a dashboard of the same name that this resource
/// did not make is not overwritten.
#[tokio::test]
async fn cloudwatch_dashboard_round_trip_compares_the_body_semantically() {
    use deployctl_aws::cloudwatch::dashboard::{Dashboard, SCHEMA};
    let moto = crate::support::moto::Moto::start();
    let aws = moto.aws().await;
    let rc = crate::support::kit::read_ctx("shop", "us-east-2");
    let kind = deployctl_aws::kit::Adapter(Dashboard::new(aws.cloudwatch()));
    let body = |title: &str| {
        serde_json::json!({"widgets": [{"type": "metric", "x": 0, "y": 0, "width": 12, "height": 6, "properties": {
            "title": title, "region": "us-east-2", "metrics": [["AWS/ECS", "CPUUtilization", "ClusterName", "shop"]]
        }}]})
    };
    let want = crate::support::kit::props(serde_json::json!({"body": body("CPU")}));
    let op = |action| crate::support::kit::op("shop", "us-east-2", "ops", SCHEMA.type_name, action, &[]);
    let created = kind.create(&op(StepAction::Create), &want).await.unwrap();
    assert_eq!(created.id, "shop-ops");
    let live = crate::support::kit::read_one(&kind, &rc, "shop-ops").await;
    crate::support::kit::assert_clean(&SCHEMA, &want, &live);
    let raw = aws.cloudwatch().get_dashboard().dashboard_name("shop-ops").send().await.unwrap();
    let sent: serde_json::Value = serde_json::from_str(raw.dashboard_body().unwrap()).unwrap();
    assert_eq!(sent["widgets"][0]["properties"]["title"], "CPU");

    let retitled = crate::support::kit::props(serde_json::json!({"body": body("CPU of the shop")}));
    assert_eq!(crate::support::kit::changes(&SCHEMA, &retitled, &live), ["body"]);
    kind.update(&op(StepAction::Update), &live, &retitled, &["body".into()]).await.unwrap();
    let live = crate::support::kit::read_one(&kind, &rc, "shop-ops").await;
    crate::support::kit::assert_clean(&SCHEMA, &retitled, &live);

    // Another create of the same name, not after a crash: refused.
    let err = kind.create(&op(StepAction::Create), &want).await.unwrap_err();
    assert!(err.message.contains("already exists and is not this stack's ops"), "{err:?}");

    kind.delete(&op(StepAction::Delete), &live, &Default::default()).await.unwrap();
    kind.delete(&op(StepAction::Delete), &live, &Default::default()).await.unwrap();
    assert!(crate::support::kit::read_opt(&kind, &rc, "shop-ops").await.is_none());
}

/// Seed 001: the load balancer's success rate below 99.5 % in 2 minutes
/// out of 2, as metric math over requests and 5xx answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_metric_math_alarm_round_trips() {
    let moto = Moto::start();
    let aws = moto.aws().await;
    let kind = Adapter(Alarm::new(aws_cbor(&moto).await.cloudwatch()).with_stack_tags(aws.stack_tags()));
    let metric = |name: &str| {
        json!({"namespace": "AWS/ApplicationELB", "metric_name": name, "period": 60, "stat": "Sum",
               "dimensions": {"LoadBalancer": "app/canary/50dc6c495c0c9188"}})
    };
    let want = props(json!({
        "alarm_name": "rt-success-rate",
        "evaluation_periods": 2,
        "datapoints_to_alarm": 2,
        "threshold": 99.5,
        "comparison_operator": "LessThanThreshold",
        "treat_missing_data": "notBreaching",
        "metrics": [
            {"id": "requests", "metric": metric("RequestCount")},
            {"id": "errors", "metric": metric("HTTPCode_Target_5XX_Count")},
            {"id": "success_rate", "expression": "100 * (1 - errors / requests)", "label": "success rate", "return_data": true},
        ],
    }));
    let ctx = op(STACK, REGION, "success_rate", "cloudwatch.alarm", StepAction::Create, &[]);
    let created = kind.create(&ctx, &want).await.unwrap();
    let live = read_one(&kind, &read_ctx(STACK, REGION), &created.id).await;
    assert_clean(&alarm::SCHEMA, &want, &live);
    let raw = aws_cbor(&moto).await.cloudwatch().describe_alarms().alarm_names("rt-success-rate").send().await.unwrap();
    let queries = raw.metric_alarms()[0].metrics();
    assert_eq!(queries.len(), 3);
    assert_eq!(queries[2].expression(), Some("100 * (1 - errors / requests)"));
}
