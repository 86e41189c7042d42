//! `cloudfront.origin_access_control`, `cloudfront.distribution` and
//! `s3.bucket_policy` against a moto server of the test's own: the frontend
//! of seed 002 (a private bucket, read only by the distribution through the
//! OAC), created, read back clean, changed in place, found again by a create
//! repeated after a crash, and deleted twice.
//!
//! moto 5.2.5 drops an origin's `OriginAccessControlId` from what it stores
//! (AWS keeps it): the test diffs the rest. It also makes a second OAC of a
//! name that is taken, which AWS refuses: mocked_cloudfront.rs shows that.

use crate::support::kit::{assert_clean, changes, op, props, read_ctx, read_one, read_opt};
use crate::support::moto::Moto;
use deployctl_aws::cloudfront::distribution::{Distribution, SCHEMA};
use deployctl_aws::cloudfront::origin_access_control::{OriginAccessControl, SCHEMA as OAC};
use deployctl_aws::kit::Adapter;
use deployctl_aws::s3::bucket_policy::{BucketPolicy, SCHEMA as POLICY};
use deployctl_engine::{Props, ResourceKind, StepAction};
use serde_json::{json, Value};

const STACK: &str = "health";
const REGION: &str = "us-east-1";
const BUCKET: &str = "health-frontend";

fn site(oac: &str, comment: &str) -> Props {
    props(json!({
        "comment": comment,
        "default_root_object": "index.html",
        "origins": [{"id": "site", "domain_name": format!("{BUCKET}.s3.{REGION}.amazonaws.com"),
                     "origin_access_control_id": oac}],
        "default_cache_behavior": {"target_origin_id": "site", "viewer_protocol_policy": "redirect-to-https"},
        "custom_error_responses": [
            {"error_code": 403, "response_code": "200", "response_page_path": "/index.html"},
            {"error_code": 404, "response_code": "200", "response_page_path": "/index.html"},
        ],
        "price_class": "PriceClass_100",
    }))
}

/// `p` without the origins' OAC id: what moto 5.2.5 stores of it.
fn as_moto_stores(p: &Props) -> Props {
    let mut p = p.clone();
    if let Some(Value::Array(origins)) = p.get_mut("origins") {
        for o in origins {
            o.as_object_mut().unwrap().remove("origin_access_control_id");
        }
    }
    p
}

#[tokio::test]
async fn a_private_bucket_served_through_an_oac_distribution_round_trip() {
    let moto = Moto::start();
    let aws = moto.aws().await;
    aws.s3().create_bucket().bucket(BUCKET).send().await.unwrap();
    let rc = read_ctx(STACK, REGION);

    // The origin access control.
    let oacs = Adapter(OriginAccessControl::new(aws.cloudfront()));
    let want_oac = props(json!({"name": "health-frontend", "description": "the frontend bucket"}));
    let ctx = op(STACK, REGION, "site_oac", OAC.type_name, StepAction::Create, &[]);
    let oac = oacs.create(&ctx, &want_oac).await.unwrap();
    let live = read_one(&oacs, &rc, &oac.id).await;
    assert_clean(&OAC, &want_oac, &live);
    let raw = aws.cloudfront().get_origin_access_control().id(&oac.id).send().await.unwrap();
    let cfg = raw.origin_access_control().unwrap().origin_access_control_config().unwrap();
    assert_eq!((cfg.signing_protocol().as_str(), cfg.signing_behavior().as_str()), ("sigv4", "always"));
    // (A second OAC of the same name: moto 5.2.5 makes it, AWS refuses it;
    // mocked_cloudfront.rs shows what deployctl does then.)

    // The distribution: created, waited for, read back.
    let cdn = Adapter(Distribution::new(aws.cloudfront()));
    let want = site(&oac.id, "the frontend");
    let ctx = op(STACK, REGION, "cdn", SCHEMA.type_name, StepAction::Create, &[("team", "web")]);
    let created = cdn.create(&ctx, &want).await.unwrap();
    assert_eq!(created.attributes["status"], json!("Deployed"));
    assert_eq!(created.attributes["hosted_zone_id"], json!("Z2FDTNDATAQYW2"));
    assert!(created.attributes["domain_name"].as_str().unwrap().ends_with(".cloudfront.net"));
    let live = read_one(&cdn, &rc, &created.id).await;
    assert_clean(&SCHEMA, &as_moto_stores(&want), &live);
    assert_eq!(live.tags.get("team").map(String::as_str), Some("web"));
    assert_eq!(live.attributes, created.attributes, "create returns what a read sees");
    let raw = aws.cloudfront().get_distribution_config().id(&created.id).send().await.unwrap();
    let cfg = raw.distribution_config().unwrap();
    assert_eq!(cfg.caller_reference(), "0123456789abcdef0123456789abcdef", "the step's token is the caller reference");
    assert_eq!(cfg.default_root_object(), Some("index.html"));

    // A create repeated by a run killed before it recorded the id finds
    // that run's distribution by its tags, rather than making a second.
    let mut ctx = op(STACK, REGION, "cdn", SCHEMA.type_name, StepAction::Create, &[("team", "web")]);
    ctx.interrupted_create = true;
    assert_eq!(cdn.create(&ctx, &want).await.unwrap().id, created.id);
    let all = aws.cloudfront().list_distributions().send().await.unwrap();
    assert_eq!(all.distribution_list().map(|l| l.items().len()), Some(1));

    // The comment and error responses change in place; a tag goes.
    let mut changed = site(&oac.id, "the dashboard's frontend");
    changed.insert(
        "custom_error_responses".into(),
        json!([{"error_code": 404, "response_code": "200", "response_page_path": "/index.html"}]),
    );
    assert_eq!(changes(&SCHEMA, &as_moto_stores(&changed), &live), ["comment", "custom_error_responses"]);
    let ctx = op(STACK, REGION, "cdn", SCHEMA.type_name, StepAction::Update, &[]);
    let fields = ["comment", "custom_error_responses", "tags"].map(String::from);
    cdn.update(&ctx, &live, &changed, &fields).await.unwrap();
    let live = read_one(&cdn, &rc, &created.id).await;
    assert_clean(&SCHEMA, &as_moto_stores(&changed), &live);
    assert_eq!(live.tags.get("team"), None);

    // The bucket policy names the distribution.
    let policies = Adapter(BucketPolicy::new(aws.s3()));
    let arn = created.attributes["arn"].as_str().unwrap();
    let want_policy = props(json!({"bucket": BUCKET, "policy": {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "cloudfront.amazonaws.com"},
                       "Action": "s3:GetObject", "Resource": format!("arn:aws:s3:::{BUCKET}/*"),
                       "Condition": {"StringEquals": {"AWS:SourceArn": arn}}}]}}));
    let ctx = op(STACK, REGION, "site_policy", POLICY.type_name, StepAction::Create, &[]);
    policies.create(&ctx, &want_policy).await.unwrap();
    assert_clean(&POLICY, &want_policy, &read_one(&policies, &rc, BUCKET).await);
    let text = aws.s3().get_bucket_policy().bucket(BUCKET).send().await.unwrap();
    assert!(text.policy().unwrap().contains(arn), "the policy names the distribution");

    // Delete each twice: the second finds it gone and succeeds.
    for (kind, id, type_name) in [
        (&policies as &dyn ResourceKind, BUCKET.to_string(), POLICY.type_name),
        (&cdn, created.id.clone(), SCHEMA.type_name),
        (&oacs, oac.id.clone(), OAC.type_name),
    ] {
        let ctx = op(STACK, REGION, "x", type_name, StepAction::Delete, &[]);
        let live = read_one(kind, &rc, &id).await;
        kind.delete(&ctx, &live, &Default::default()).await.unwrap();
        kind.delete(&ctx, &live, &Default::default()).await.unwrap();
        assert!(read_opt(kind, &rc, &id).await.is_none(), "{type_name} {id} is gone");
    }
}
