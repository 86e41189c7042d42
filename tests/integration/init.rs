//! `deployctl init` creates the S3 backend a stack names, idempotently, and
//! the stack then keeps its state there.

use crate::harness::*;

const SPEC: &str = r#"stack: team-net
region: us-east-1
backend:
  s3: {bucket: team-net-state, key: team-net/state.json, lock_table: team-net-locks}
resources:
  vpc:
    type: ec2.vpc
    properties: {cidr_block: 10.7.0.0/16}
"#;

#[test]
fn init_creates_a_versioned_encrypted_private_tls_only_backend_and_is_idempotent() {
    let moto = Moto::start();
    let p = Project::new(&moto);
    let spec = p.spec("team.yaml", SPEC).display().to_string();

    // Without the backend, up fails naming what to do.
    let r = p.run(&["up", &spec, "--yes"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("deployctl init"), "{r:?}");

    let first = p.ok(&["init", &spec]);
    assert!(first.stdout.contains("created bucket team-net-state"), "{first:?}");
    assert!(first.stdout.contains("created lock table team-net-locks"), "{first:?}");
    assert!(first.stdout.contains("policy: NOT set"), "{first:?}");
    let second = p.ok(&["init", &spec]);
    assert!(second.stdout.contains("already exists"), "{second:?}");
    assert!(second.stdout.contains("nothing needed creating"), "{second:?}");

    rt().block_on(async {
        let s3 = moto.s3().await;
        // (Versioning is checked by its effect below: moto's
        // GetBucketVersioning answer has a root element the SDK rejects.)
        let enc = s3.get_bucket_encryption().bucket("team-net-state").send().await.unwrap();
        let rule = &enc.server_side_encryption_configuration().unwrap().rules()[0];
        assert_eq!(rule.apply_server_side_encryption_by_default().map(|d| d.sse_algorithm().as_str()), Some("AES256"));
        let pab = s3.get_public_access_block().bucket("team-net-state").send().await.unwrap();
        let c = pab.public_access_block_configuration().unwrap();
        assert_eq!(
            (c.block_public_acls(), c.ignore_public_acls(), c.block_public_policy(), c.restrict_public_buckets()),
            (Some(true), Some(true), Some(true), Some(true))
        );
        // The local endpoint is plain http: the TLS-only policy would lock
        // deployctl out of its own state there, so init leaves it off and
        // says so. What the policy does is checked below on another bucket.
        assert!(s3.get_bucket_policy().bucket("team-net-state").send().await.is_err());

        let t = moto.dynamodb().await.describe_table().table_name("team-net-locks").send().await.unwrap();
        let t = t.table().unwrap();
        assert_eq!(t.key_schema()[0].attribute_name(), "LockID");
        assert_eq!(
            t.billing_mode_summary().and_then(|b| b.billing_mode()).map(|m| m.as_str()),
            Some("PAY_PER_REQUEST")
        );
    });

    p.ok(&["up", &spec, "--yes"]);
    assert_eq!(p.run(&["diff", &spec, "--detailed-exitcode"]).code, 0);
    rt().block_on(async {
        let s3 = moto.s3().await;
        let obj = s3.head_object().bucket("team-net-state").key("team-net/state.json").send().await.unwrap();
        assert_eq!(obj.server_side_encryption().map(|s| s.as_str()), Some("AES256"));
        // Versioned: every state write is kept.
        let versions =
            s3.list_object_versions().bucket("team-net-state").prefix("team-net/state.json").send().await.unwrap();
        assert!(versions.versions().len() >= 2, "{versions:?}");
    });
    p.ok(&["destroy", &spec, "--yes"]);
    assert_eq!(rt().block_on(async { tagged(&moto.ec2().await, "team-net").await }), vec![]);
}

#[test]
fn the_tls_only_policy_refuses_requests_without_tls() {
    let moto = Moto::start();
    rt().block_on(async {
        let s3 = moto.s3().await;
        s3.create_bucket().bucket("tls-only").send().await.unwrap();
        s3.put_object().bucket("tls-only").key("k").body(b"v".to_vec().into()).send().await.unwrap();
        s3.put_bucket_policy()
            .bucket("tls-only")
            .policy(deployctl_state::tls_only_policy("tls-only"))
            .send()
            .await
            .unwrap();
        // This client talks plain http to the endpoint: now refused.
        let e = s3.get_object().bucket("tls-only").key("k").send().await.unwrap_err();
        assert_eq!(e.raw_response().map(|r| r.status().as_u16()), Some(403));
    });
}

#[test]
fn init_on_a_stack_with_local_state_creates_nothing() {
    let moto = Moto::start();
    let p = Project::new(&moto);
    let r = p.ok(&["init", &repo_file("stacks/network.yaml").display().to_string()]);
    assert!(r.stdout.contains("nothing to create"), "{r:?}");
    let buckets = rt().block_on(async { moto.s3().await.list_buckets().send().await.unwrap() });
    assert!(buckets.buckets().is_empty());
}
