//! `ecr.repository` and the `elbv2` kinds against a moto server of this
//! test's own: create through the trait, read back and diff clean against
//! the spec, change in-place fields and check them through the raw API,
//! delete (twice), and read nothing.
//!
//! The figures are the seeds': an ALB in two subnets, a target group on 8080
//! of type ip with health check `/`, 30 s interval, 2 healthy / 3 unhealthy,
//! 5 s timeout and 30 s deregistration delay; an HTTP listener forwarding to
//! it, an HTTP→HTTPS redirect, an HTTPS listener with a certificate, and a
//! fixed response; an ECR repository that keeps the last 10 images.
//!
//! Two answers moto never gives are mocked (aws-smithy-mocks, the client
//! built by hand): DescribeLoadBalancers refusing a whole batch because one
//! ARN of it is gone, and a load balancer that ends `failed`.

use deployctl_aws::ecr::repository::{self, Repository};
use deployctl_aws::elbv2::{listener, load_balancer, target_group};
use deployctl_aws::kit::Adapter;
use deployctl_engine::{OpCtx, Props, ResourceKind, StepAction};
use serde_json::json;
use std::collections::BTreeMap;
use std::time::Duration;

const REGION: &str = "us-east-1";
const STACK: &str = "rt";

use crate::support::kit::{assert_clean, changes, op, props, read_ctx, read_one, replaces};
use crate::support::moto::Moto;

/// An ACM certificate for the HTTPS listener (moto checks that it
/// exists). No ACM SDK in this crate: one JSON call by hand.
fn acm_certificate(moto: &Moto) -> String {
    use std::io::{Read, Write};
    let body = r#"{"DomainName":"shop.example.com"}"#;
    let request = format!(
        "POST / HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Type: application/x-amz-json-1.1\r\n\
         X-Amz-Target: CertificateManager.RequestCertificate\r\n\
         Authorization: AWS4-HMAC-SHA256 Credential=testing/20240101/{REGION}/acm/aws4_request, \
         SignedHeaders=host, Signature=0\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        moto.port,
        body.len()
    );
    let mut s = std::net::TcpStream::connect(("127.0.0.1", moto.port)).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    let start = answer.find("arn:aws:acm:").unwrap_or_else(|| panic!("no certificate ARN in {answer}"));
    answer[start..].split('"').next().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_balancer_target_group_and_listeners_round_trip() {
    let moto = Moto::start();
    let aws = moto.aws().await;
    let ec2 = aws.ec2();
    let elb = aws.elbv2();

    // The network an ALB needs: a VPC, two subnets in two zones, a group.
    let vpc = ec2.create_vpc().cidr_block("10.0.0.0/16").send().await.unwrap().vpc.unwrap().vpc_id.unwrap();
    let mut subnets = Vec::new();
    for (cidr, az) in [("10.0.1.0/24", "us-east-1a"), ("10.0.2.0/24", "us-east-1b"), ("10.0.3.0/24", "us-east-1c")] {
        let s = ec2.create_subnet().vpc_id(&vpc).cidr_block(cidr).availability_zone(az).send().await.unwrap();
        subnets.push(s.subnet.unwrap().subnet_id.unwrap());
    }
    let sg = ec2
        .create_security_group()
        .vpc_id(&vpc)
        .group_name("alb")
        .description("alb")
        .send()
        .await
        .unwrap()
        .group_id
        .unwrap();

    let lb_kind = Adapter(load_balancer::LoadBalancer::new(elb.clone()));
    let tg_kind = Adapter(target_group::TargetGroup::new(elb.clone()));
    let ls_kind = Adapter(listener::Listener::new(elb.clone()));

    // The load balancer: default name, active, attributes at their defaults.
    let lb_want = props(json!({"subnets": [subnets[1], subnets[0]], "security_groups": [sg], "idle_timeout": 60}));
    let lb = lb_kind
        .create(&op(STACK, REGION, "alb", "elbv2.load_balancer", StepAction::Create, &[]), &lb_want)
        .await
        .expect("create the load balancer");
    assert_eq!(lb.attributes["name"], json!("rt-alb"));
    assert!(lb.attributes["arn_suffix"].as_str().unwrap().starts_with("app/rt-alb/"), "{:?}", lb.attributes);
    assert!(!lb.attributes["dns_name"].as_str().unwrap_or_default().is_empty());
    assert!(!lb.attributes["zone_id"].as_str().unwrap_or_default().is_empty());
    let lb = read_one(&lb_kind, &read_ctx(STACK, REGION), &lb.id).await;
    assert_clean(&load_balancer::SCHEMA, &lb_want, &lb);
    assert_eq!(lb.tags.get("deployctl:resource").map(String::as_str), Some("alb"));
    let lb_arn = lb.id.clone();

    // The target group of seed 000.
    let tg_want = props(json!({
        "port": 8080, "vpc_id": vpc, "target_type": "ip", "protocol": "HTTP",
        "health_check_path": "/", "health_check_interval_seconds": 30,
        "healthy_threshold_count": 2, "unhealthy_threshold_count": 3, "health_check_timeout_seconds": 5,
        "deregistration_delay_timeout_seconds": 30,
    }));
    let tg = tg_kind
        .create(&op(STACK, REGION, "app_tg", "elbv2.target_group", StepAction::Create, &[]), &tg_want)
        .await
        .expect("create the target group");
    assert_eq!(tg.attributes["name"], json!("rt-app-tg"));
    assert!(tg.attributes["arn_suffix"].as_str().unwrap().starts_with("targetgroup/rt-app-tg/"));
    let tg = read_one(&tg_kind, &read_ctx(STACK, REGION), &tg.id).await;
    assert_clean(&target_group::SCHEMA, &tg_want, &tg);
    let tg_arn = tg.id.clone();
    let attrs = elb.describe_target_group_attributes().target_group_arn(&tg_arn).send().await.unwrap();
    assert!(attrs
        .attributes()
        .iter()
        .any(|a| a.key() == Some("deregistration_delay.timeout_seconds") && a.value() == Some("30")));

    // Listeners: forward, redirect (seed 004), HTTPS with a certificate,
    // fixed response.
    let cert = acm_certificate(&moto);
    let listeners = [
        (
            "http",
            json!({"load_balancer_arn": lb_arn, "port": 80, "protocol": "HTTP",
            "default_actions": [{"type": "forward", "target_group_arn": tg_arn}]}),
        ),
        (
            "redirect",
            json!({"load_balancer_arn": lb_arn, "port": 8081, "protocol": "HTTP",
            "default_actions": [{"type": "redirect",
                "redirect_config": {"protocol": "HTTPS", "port": "443", "status_code": "HTTP_301"}}]}),
        ),
        (
            "https",
            json!({"load_balancer_arn": lb_arn, "port": 443, "protocol": "HTTPS", "certificate_arn": cert,
            "default_actions": [{"type": "forward", "target_group_arn": tg_arn}]}),
        ),
        (
            "fixed",
            json!({"load_balancer_arn": lb_arn, "port": 8082, "protocol": "HTTP",
            "default_actions": [{"type": "fixed-response", "fixed_response_config":
                {"status_code": "404", "content_type": "text/plain", "message_body": "nothing here"}}]}),
        ),
    ];
    let mut listener_arns = Vec::new();
    for (address, want) in &listeners {
        let want = props(want.clone());
        let l = ls_kind
            .create(&op(STACK, REGION, address, "elbv2.listener", StepAction::Create, &[]), &want)
            .await
            .unwrap_or_else(|e| panic!("create listener {address}: {e:?}"));
        let l = read_one(&ls_kind, &read_ctx(STACK, REGION), &l.id).await;
        assert_clean(&listener::SCHEMA, &want, &l);
        listener_arns.push(l.id.clone());
    }
    // What a reference hid from validate is refused before any call.
    let bad = props(json!({"load_balancer_arn": lb_arn, "port": 8083, "protocol": "HTTP",
        "default_actions": [{"type": "forward"}]}));
    let err = ls_kind
        .create(&op(STACK, REGION, "bad", "elbv2.listener", StepAction::Create, &[]), &bad)
        .await
        .expect_err("a forward without a target group is refused");
    assert!(err.message.contains("a `forward` action needs target_group_arn"), "{err:?}");
    // A redirect that leaves host, path and query out reads back equal,
    // whether AWS fills them in or not.
    let redirect = read_one(&ls_kind, &read_ctx(STACK, REGION), &listener_arns[1]).await;
    let filled = props(json!({"load_balancer_arn": lb_arn, "port": 8081, "protocol": "HTTP",
        "default_actions": [{"type": "redirect", "redirect_config": {"protocol": "HTTPS", "port": "443",
            "host": "#{host}", "path": "/#{path}", "query": "#{query}", "status_code": "HTTP_301"}}]}));
    assert_clean(&listener::SCHEMA, &filled, &redirect);

    // Batched reads leave out what is gone.
    let gone_listener = format!("{}ffff", &listener_arns[0][..listener_arns[0].len() - 4]);
    let mut ids = listener_arns.clone();
    ids.push(gone_listener);
    assert_eq!(ls_kind.read(&read_ctx(STACK, REGION), &ids).await.unwrap().len(), 4);
    let gone_lb = format!("{}ffff", &lb_arn[..lb_arn.len() - 4]);
    let found = lb_kind.read(&read_ctx(STACK, REGION), &[lb_arn.clone(), gone_lb]).await.unwrap();
    assert_eq!(found.iter().map(|o| o.id.as_str()).collect::<Vec<_>>(), vec![lb_arn.as_str()]);

    // Adoption by tag finds each resource under its address.
    let found = lb_kind.find_tagged(&read_ctx(STACK, REGION)).await.unwrap();
    assert_eq!(found.iter().map(|(a, _)| a.as_str()).collect::<Vec<_>>(), vec!["alb"]);
    let found = tg_kind.find_tagged(&read_ctx(STACK, REGION)).await.unwrap();
    assert_eq!(found.iter().map(|(a, _)| a.as_str()).collect::<Vec<_>>(), vec!["app_tg"]);
    let mut found: Vec<String> =
        ls_kind.find_tagged(&read_ctx(STACK, REGION)).await.unwrap().into_iter().map(|(a, _)| a).collect();
    found.sort();
    assert_eq!(found, vec!["fixed", "http", "https", "redirect"]);

    // In place: idle timeout 60 → 120, a third subnet.
    let lb_want2 = props(json!({"subnets": subnets, "security_groups": [sg], "idle_timeout": 120}));
    let changed = changes(&load_balancer::SCHEMA, &lb_want2, &lb);
    assert_eq!(changed, vec!["subnets", "idle_timeout"]);
    let lb = lb_kind
        .update(&op(STACK, REGION, "alb", "elbv2.load_balancer", StepAction::Update, &[]), &lb, &lb_want2, &changed)
        .await
        .expect("update the load balancer");
    assert_clean(&load_balancer::SCHEMA, &lb_want2, &lb);
    let attrs = elb.describe_load_balancer_attributes().load_balancer_arn(&lb_arn).send().await.unwrap();
    assert!(attrs
        .attributes()
        .iter()
        .any(|a| a.key() == Some("idle_timeout.timeout_seconds") && a.value() == Some("120")));
    assert_clean(&load_balancer::SCHEMA, &lb_want2, &read_one(&lb_kind, &read_ctx(STACK, REGION), &lb_arn).await);

    // In place: health check interval 30 → 15, and a tag of its own.
    let mut tg_want2 = tg_want.clone();
    tg_want2.insert("health_check_interval_seconds".into(), json!(15));
    let mut changed = changes(&target_group::SCHEMA, &tg_want2, &tg);
    assert_eq!(changed, vec!["health_check_interval_seconds"]);
    changed.push("tags".into());
    let tg_ctx = op(STACK, REGION, "app_tg", "elbv2.target_group", StepAction::Update, &[("team", "shop")]);
    let tg = tg_kind.update(&tg_ctx, &tg, &tg_want2, &changed).await.expect("update the target group");
    assert_clean(&target_group::SCHEMA, &tg_want2, &tg);
    assert_eq!(tg.tags.get("team").map(String::as_str), Some("shop"));
    let live = elb.describe_target_groups().target_group_arns(&tg_arn).send().await.unwrap();
    assert_eq!(live.target_groups()[0].health_check_interval_seconds(), Some(15));

    // In place: the HTTP listener answers itself instead of forwarding.
    let http = read_one(&ls_kind, &read_ctx(STACK, REGION), &listener_arns[0]).await;
    let http_want2 = props(json!({"load_balancer_arn": lb_arn, "port": 80, "protocol": "HTTP",
        "default_actions": [{"type": "fixed-response",
            "fixed_response_config": {"status_code": "503", "content_type": "text/plain", "message_body": "down"}}]}));
    let changed = changes(&listener::SCHEMA, &http_want2, &http);
    assert_eq!(changed, vec!["default_actions"]);
    let http = ls_kind
        .update(&op(STACK, REGION, "http", "elbv2.listener", StepAction::Update, &[]), &http, &http_want2, &changed)
        .await
        .expect("update the listener");
    assert_clean(&listener::SCHEMA, &http_want2, &http);
    let live = elb.describe_listeners().listener_arns(&listener_arns[0]).send().await.unwrap();
    let action = &live.listeners()[0].default_actions()[0];
    assert_eq!(action.r#type().map(|t| t.as_str()), Some("fixed-response"));
    assert_eq!(action.fixed_response_config().and_then(|f| f.status_code()), Some("503"));

    // What forces a replacement (the schema says so; the engine acts on it).
    for p in ["name", "type", "scheme"] {
        assert!(replaces(&load_balancer::SCHEMA, p), "load_balancer.{p}");
    }
    for p in ["subnets", "security_groups", "idle_timeout", "ip_address_type", "deletion_protection"] {
        assert!(!replaces(&load_balancer::SCHEMA, p), "load_balancer.{p}");
    }
    for p in ["name", "port", "protocol", "vpc_id", "target_type", "protocol_version"] {
        assert!(replaces(&target_group::SCHEMA, p), "target_group.{p}");
    }
    assert!(!replaces(&target_group::SCHEMA, "health_check_path"));
    assert!(replaces(&listener::SCHEMA, "load_balancer_arn"));
    for p in ["port", "protocol", "certificate_arn", "default_actions"] {
        assert!(!replaces(&listener::SCHEMA, p), "listener.{p}");
    }

    // A target group still used by a listener is refused (after a short
    // grace here), with a hint.
    let (short, _cancel, _events) = OpCtx::detached(
        STACK,
        REGION,
        "app_tg",
        "elbv2.target_group",
        StepAction::Delete,
        BTreeMap::new(),
        "t",
        Duration::from_secs(2),
    );
    let err = tg_kind.delete(&short, &tg, &Props::new()).await.expect_err("a target group in use is not deleted");
    assert!(err.message.contains("in use"), "{err:?}");

    // Delete in order, each twice; nothing is read back.
    for arn in &listener_arns {
        let l = read_one(&ls_kind, &read_ctx(STACK, REGION), arn).await;
        let ctx = op(STACK, REGION, "l", "elbv2.listener", StepAction::Delete, &[]);
        ls_kind.delete(&ctx, &l, &Props::new()).await.expect("delete the listener");
        ls_kind.delete(&ctx, &l, &Props::new()).await.expect("delete the listener again");
    }
    assert!(ls_kind.read(&read_ctx(STACK, REGION), &listener_arns).await.unwrap().is_empty());
    let ctx = op(STACK, REGION, "app_tg", "elbv2.target_group", StepAction::Delete, &[]);
    tg_kind.delete(&ctx, &tg, &Props::new()).await.expect("delete the target group");
    tg_kind.delete(&ctx, &tg, &Props::new()).await.expect("delete the target group again");
    assert!(tg_kind.read(&read_ctx(STACK, REGION), std::slice::from_ref(&tg_arn)).await.unwrap().is_empty());
    let ctx = op(STACK, REGION, "alb", "elbv2.load_balancer", StepAction::Delete, &[]);
    lb_kind.delete(&ctx, &lb, &Props::new()).await.expect("delete the load balancer");
    lb_kind.delete(&ctx, &lb, &Props::new()).await.expect("delete the load balancer again");
    assert!(lb_kind.read(&read_ctx(STACK, REGION), std::slice::from_ref(&lb_arn)).await.unwrap().is_empty());
    // Its security group can go right after.
    ec2.delete_security_group().group_id(&sg).send().await.expect("the group is free");
}

/// A tiny image manifest moto accepts.
const MANIFEST: &str = r#"{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":{"mediaType":"application/vnd.docker.container.image.v1+json","size":7023,"digest":"sha256:b5b2b2c507a0944348e0303114d8d93aaaa081732b86451d9bce1f432a537bc7"},"layers":[{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","size":32654,"digest":"sha256:e692418e4cbaf90ca69d05a66403747baa33ee08806650b51fab815ad7fc331f"}]}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ecr_repository_round_trip() {
    let moto = Moto::start();
    let aws = moto.aws().await;
    let ecr = aws.ecr();
    let kind = Adapter(Repository::new(ecr.clone()));
    let t = "ecr.repository";

    // Seed 000: keep the last 10 images (scan on push is turned on below).
    let want = props(json!({
        "repository_name": "rt/api",
        "lifecycle_policy": {"rules": [{
            "rulePriority": 1, "description": "Keep last 10 images",
            "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 10},
            "action": {"type": "expire"}}]},
    }));
    let repo = kind
        .create(&op(STACK, REGION, "repo", t, StepAction::Create, &[]), &want)
        .await
        .expect("create the repository");
    assert_eq!(repo.id, "rt/api");
    assert!(repo.attributes["repository_uri"].as_str().unwrap().ends_with("/rt/api"));
    assert!(repo.attributes["arn"].as_str().unwrap().starts_with("arn:aws:ecr:"));
    let repo = read_one(&kind, &read_ctx(STACK, REGION), "rt/api").await;
    assert_clean(&repository::SCHEMA, &want, &repo);
    assert_eq!(repo.tags.get("deployctl:stack").map(String::as_str), Some(STACK));

    // The policy compares as a document: key order and number-or-string
    // make no difference; another count does.
    let mut same = want.clone();
    same.insert(
        "lifecycle_policy".into(),
        json!({"rules": [{"action": {"type": "expire"}, "description": "Keep last 10 images",
            "selection": {"countNumber": "10", "countType": "imageCountMoreThan", "tagStatus": "any"},
            "rulePriority": 1}]}),
    );
    assert_clean(&repository::SCHEMA, &same, &repo);
    let mut other = want.clone();
    other["lifecycle_policy"]["rules"][0]["selection"]["countNumber"] = json!(20);
    assert_eq!(changes(&repository::SCHEMA, &other, &repo), vec!["lifecycle_policy"]);

    // A batch naming a repository that does not exist still reads the rest.
    let found = kind.read(&read_ctx(STACK, REGION), &["rt/api".to_string(), "rt/none".to_string()]).await.unwrap();
    assert_eq!(found.iter().map(|o| o.id.as_str()).collect::<Vec<_>>(), vec!["rt/api"]);

    // Adoption by name, only for this stack's resource at that address.
    let wanted = vec![("repo".to_string(), props(json!({"repository_name": "rt/api"})))];
    let found = kind.find_existing(&read_ctx(STACK, REGION), &wanted).await.unwrap();
    assert_eq!(found.iter().map(|(a, o)| (a.as_str(), o.id.as_str())).collect::<Vec<_>>(), vec![("repo", "rt/api")]);
    let elsewhere = vec![("other".to_string(), props(json!({"repository_name": "rt/api"})))];
    assert!(kind.find_existing(&read_ctx(STACK, REGION), &elsewhere).await.unwrap().is_empty());

    // In place: scan on push on (seed 000), and the lifecycle policy
    // removed. (Turning it off sends `{}`: the SDK leaves a false boolean
    // out, which AWS reads as false but moto ignores.)
    let want2 = props(json!({"repository_name": "rt/api", "scan_on_push": true}));
    let changed = changes(&repository::SCHEMA, &want2, &repo);
    assert_eq!(changed, vec!["scan_on_push", "lifecycle_policy"]);
    let repo =
        kind.update(&op(STACK, REGION, "repo", t, StepAction::Update, &[]), &repo, &want2, &changed).await.unwrap();
    assert_clean(&repository::SCHEMA, &want2, &repo);
    let live = ecr.describe_repositories().repository_names("rt/api").send().await.unwrap();
    assert_eq!(live.repositories()[0].image_scanning_configuration().map(|c| c.scan_on_push()), Some(true));
    let policy = ecr.get_lifecycle_policy().repository_name("rt/api").send().await;
    assert!(policy.is_err(), "the lifecycle policy is gone");

    // A repository holding an image is not deleted without force_delete…
    ecr.put_image().repository_name("rt/api").image_manifest(MANIFEST).image_tag("v1").send().await.unwrap();
    let ctx = op(STACK, REGION, "repo", t, StepAction::Delete, &[]);
    let err = kind.delete(&ctx, &repo, &Props::new()).await.expect_err("a repository with images is kept");
    assert_eq!(err.code.as_deref(), Some("RepositoryNotEmptyException"));
    assert!(err.hint.as_deref().unwrap_or_default().contains("force_delete: true"), "{err:?}");

    // …and is with it, once applied: state records it, AWS holds nothing.
    let want3 = props(json!({"repository_name": "rt/api", "scan_on_push": true, "force_delete": true}));
    let changed = changes(&repository::SCHEMA, &want3, &repo);
    assert_eq!(changed, vec!["force_delete"]);
    let repo =
        kind.update(&op(STACK, REGION, "repo", t, StepAction::Update, &[]), &repo, &want3, &changed).await.unwrap();
    assert_clean(&repository::SCHEMA, &want3, &repo);
    let repo = read_one(&kind, &read_ctx(STACK, REGION), "rt/api").await;
    kind.delete(&ctx, &repo, &want3).await.expect("delete the repository with its image");
    kind.delete(&ctx, &repo, &want3).await.expect("delete the repository again");
    assert!(kind.read(&read_ctx(STACK, REGION), &["rt/api".to_string()]).await.unwrap().is_empty());
}

/// `force_delete` reaches the delete from the properties state recorded,
/// not from the repository: no `deployctl:*` tag but the stack's and the
/// address's is written, and a repository never applied (adopted, nothing
/// recorded) is not forced.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ecr_delete_follows_the_recorded_force_delete_without_a_tag() {
    let moto = Moto::start();
    let ecr = moto.aws().await.ecr();
    let kind = Adapter(Repository::new(ecr.clone()));
    let t = "ecr.repository";
    let want = props(json!({"repository_name": "rt/forced", "force_delete": true}));
    let repo = kind.create(&op(STACK, REGION, "repo", t, StepAction::Create, &[]), &want).await.expect("create");
    ecr.put_image().repository_name("rt/forced").image_manifest(MANIFEST).image_tag("v1").send().await.unwrap();

    let arn = repo.attributes["arn"].as_str().unwrap();
    let live = ecr.list_tags_for_resource().resource_arn(arn).send().await.unwrap();
    let mut keys: Vec<&str> = live.tags().iter().map(|t| t.key()).filter(|k| k.starts_with("deployctl:")).collect();
    keys.sort_unstable();
    assert_eq!(keys, vec!["deployctl:resource", "deployctl:stack"]);

    let ctx = op(STACK, REGION, "repo", t, StepAction::Delete, &[]);
    let live = read_one(&kind, &read_ctx(STACK, REGION), "rt/forced").await;
    let err = kind.delete(&ctx, &live, &Props::new()).await.expect_err("nothing recorded: not forced");
    assert_eq!(err.code.as_deref(), Some("RepositoryNotEmptyException"));
    let unforced = props(json!({"repository_name": "rt/forced", "force_delete": false}));
    kind.delete(&ctx, &live, &unforced).await.expect_err("recorded false: not forced");
    kind.delete(&ctx, &live, &want).await.expect("recorded true: deleted with its image");
    assert!(kind.read(&read_ctx(STACK, REGION), &["rt/forced".to_string()]).await.unwrap().is_empty());
}

/// What AWS refuses of the ELBv2 kinds and can be known offline,
/// `validate` refuses with its position: names, enumerations, ranges (a
/// listener port past 65535), an HTTPS listener without a certificate,
/// actions without what their type needs, health check timings.
#[test]
fn elbv2_values_aws_refuses_are_refused_offline() {
    let text = "stack: rt\nregion: us-east-1\nresources:
  alb:
    type: elbv2.load_balancer
    properties: {name: -alb, subnets: [subnet-a], scheme: public, idle_timeout: 5000}
  tg:
    type: elbv2.target_group
    properties: {port: 8080, vpc_id: vpc-1, protocol: HTTQ, health_check_interval_seconds: 5, health_check_timeout_seconds: 10}
  tg2:
    type: elbv2.target_group
    properties: {target_type: ip, vpc_id: vpc-1, health_check_path: health, matcher: ok}
  big:
    type: elbv2.listener
    properties: {load_balancer_arn: arn, port: 70000, protocol: HTTP, default_actions: [{type: forward, target_group_arn: x}]}
  tls:
    type: elbv2.listener
    properties: {load_balancer_arn: arn, port: 443, protocol: HTTPS, default_actions: [{type: redirect}]}
  tcp:
    type: elbv2.listener
    properties:
      load_balancer_arn: arn
      port: 0
      protocol: TCP
      default_actions: [{type: fixed-response, fixed_response_config: {status_code: '302'}}]
";
    let reg = vec![&load_balancer::SCHEMA, &target_group::SCHEMA, &listener::SCHEMA];
    let err = deployctl_spec::load_str("elb.yaml", text, &Default::default(), &reg).expect_err("refused").to_string();
    for want in [
        "elb.yaml:6:24: elbv2.load_balancer alb: the name \"-alb\" begins or ends with a hyphen",
        "property 'scheme' of elbv2.load_balancer: 'public' is not one of the values AWS accepts",
        "property 'idle_timeout' of elbv2.load_balancer: 5000 is out of range",
        "elbv2.load_balancer alb: an application load balancer needs at least two subnets",
        "property 'protocol' of elbv2.target_group: 'HTTQ' is not one of the values AWS accepts",
        "elbv2.target_group tg: health_check_timeout_seconds 10 must be less than the interval (5 s)",
        "elbv2.target_group tg2: a target group of `ip` targets needs port and vpc_id (port is unset)",
        "elbv2.target_group tg2: health_check_path \"health\" must start with `/`",
        "elb.yaml:15:48: property 'port' of elbv2.listener: 70000 is out of range",
        "elbv2.listener tls: an HTTPS listener needs certificate_arn",
        "elbv2.listener tls: default_actions[0]: a `redirect` action needs redirect_config",
        "property 'port' of elbv2.listener: 0 is out of range",
        "elbv2.listener tcp: default_actions[0]: a `fixed-response` action needs an HTTP or HTTPS listener",
    ] {
        assert!(err.contains(want), "missing {want:?} in:\n{err}");
    }
}

mod mocked {
    use super::*;
    use aws_sdk_elasticloadbalancingv2::config::{BehaviorVersion, Credentials, Region};
    use aws_sdk_elasticloadbalancingv2::operation::create_listener::CreateListenerOutput;
    use aws_sdk_elasticloadbalancingv2::operation::create_load_balancer::CreateLoadBalancerOutput;
    use aws_sdk_elasticloadbalancingv2::operation::create_target_group::CreateTargetGroupOutput;
    use aws_sdk_elasticloadbalancingv2::operation::describe_load_balancer_attributes::DescribeLoadBalancerAttributesOutput;
    use aws_sdk_elasticloadbalancingv2::operation::describe_load_balancers::DescribeLoadBalancersOutput;
    use aws_sdk_elasticloadbalancingv2::operation::describe_tags::DescribeTagsOutput;
    use aws_sdk_elasticloadbalancingv2::types::{
        AvailabilityZone, Listener as Ls, LoadBalancer as Lb, LoadBalancerAttribute, LoadBalancerState,
        LoadBalancerStateEnum, LoadBalancerTypeEnum, Tag, TagDescription, TargetGroup as Tg,
    };
    use aws_sdk_elasticloadbalancingv2::Client;
    use aws_smithy_mocks::{create_mock_http_client, mock, MockResponseInterceptor, Rule, RuleMode};

    const A: &str = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/rt-alb/50dc6c495c0c9188";
    const B: &str = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/rt-old/73e2d6bc24d8a067";

    /// How ELBv2 answers for an ARN that does not exist.
    const NOT_FOUND: &str = r#"<ErrorResponse xmlns="http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/"><Error><Type>Sender</Type><Code>LoadBalancerNotFound</Code><Message>One or more load balancers not found</Message></Error><RequestId>5c5ac9a1-0000-4000-8000-000000000000</RequestId></ErrorResponse>"#;

    fn client(rules: &[&Rule]) -> Client {
        let mut mocks = MockResponseInterceptor::new().rule_mode(RuleMode::MatchAny);
        for r in rules {
            mocks = mocks.with_rule(r);
        }
        let conf = aws_sdk_elasticloadbalancingv2::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(REGION))
            .credentials_provider(Credentials::new("AKIDTEST", "secret", None, None, "test"))
            .http_client(create_mock_http_client())
            .interceptor(mocks)
            .build();
        Client::from_conf(conf)
    }

    fn lb(arn: &str, state: LoadBalancerStateEnum, reason: Option<&str>) -> Lb {
        Lb::builder()
            .load_balancer_arn(arn)
            .load_balancer_name("rt-alb")
            .dns_name("rt-alb-1.us-east-1.elb.amazonaws.com")
            .canonical_hosted_zone_id("Z35SXDOTRQ7X7K")
            .vpc_id("vpc-1")
            .r#type(LoadBalancerTypeEnum::Application)
            .state(LoadBalancerState::builder().code(state).set_reason(reason.map(str::to_string)).build())
            .availability_zones(AvailabilityZone::builder().zone_name("us-east-1a").subnet_id("subnet-a").build())
            .availability_zones(AvailabilityZone::builder().zone_name("us-east-1b").subnet_id("subnet-b").build())
            .security_groups("sg-1")
            .build()
    }

    #[tokio::test]
    async fn a_batch_refused_for_one_gone_arn_is_read_one_by_one() {
        let batch = mock!(Client::describe_load_balancers)
            .match_requests(|r| r.load_balancer_arns().len() == 2)
            .sequence()
            .http_status(400, Some(NOT_FOUND.to_string()))
            .repeatedly()
            .build();
        let gone = mock!(Client::describe_load_balancers)
            .match_requests(|r| r.load_balancer_arns() == [B])
            .sequence()
            .http_status(400, Some(NOT_FOUND.to_string()))
            .repeatedly()
            .build();
        let found = mock!(Client::describe_load_balancers)
            .match_requests(|r| r.load_balancer_arns() == [A])
            .then_output(|| {
                DescribeLoadBalancersOutput::builder()
                    .load_balancers(lb(A, LoadBalancerStateEnum::Active, None))
                    .build()
            });
        let tags = mock!(Client::describe_tags).match_requests(|r| r.resource_arns() == [A]).then_output(|| {
            DescribeTagsOutput::builder()
                .tag_descriptions(
                    TagDescription::builder()
                        .resource_arn(A)
                        .tags(Tag::builder().key("deployctl:stack").value(STACK).build())
                        .tags(Tag::builder().key("aws:cloudformation:stack-name").value("ignored").build())
                        .build(),
                )
                .build()
        });
        let attrs = mock!(Client::describe_load_balancer_attributes).then_output(|| {
            DescribeLoadBalancerAttributesOutput::builder()
                .attributes(LoadBalancerAttribute::builder().key("idle_timeout.timeout_seconds").value("120").build())
                .attributes(LoadBalancerAttribute::builder().key("deletion_protection.enabled").value("true").build())
                .build()
        });
        let kind = Adapter(load_balancer::LoadBalancer::new(client(&[&batch, &gone, &found, &tags, &attrs])));
        let read = kind.read(&read_ctx(STACK, REGION), &[A.to_string(), B.to_string()]).await.expect("read");
        assert_eq!(read.len(), 1);
        let o = &read[0];
        assert_eq!(o.id, A);
        assert_eq!(o.properties["idle_timeout"], json!(120));
        assert_eq!(o.properties["deletion_protection"], json!(true));
        assert_eq!(o.properties["http2_enabled"], json!(true), "unlisted attributes read as their defaults");
        assert_eq!(o.properties["subnets"], json!(["subnet-a", "subnet-b"]));
        assert_eq!(o.attributes["arn_suffix"], json!("app/rt-alb/50dc6c495c0c9188"));
        assert_eq!(o.tags.keys().collect::<Vec<_>>(), vec!["deployctl:stack"]);
        assert_eq!(batch.num_calls(), 1);
        assert_eq!(gone.num_calls(), 1);
    }

    #[tokio::test]
    async fn a_load_balancer_that_fails_ends_the_create_with_its_reason() {
        let create = mock!(Client::create_load_balancer).then_output(|| {
            CreateLoadBalancerOutput::builder().load_balancers(lb(A, LoadBalancerStateEnum::Provisioning, None)).build()
        });
        let describe = mock!(Client::describe_load_balancers)
            .sequence()
            .output(|| {
                DescribeLoadBalancersOutput::builder()
                    .load_balancers(lb(A, LoadBalancerStateEnum::Provisioning, None))
                    .build()
            })
            .output(|| {
                DescribeLoadBalancersOutput::builder()
                    .load_balancers(lb(A, LoadBalancerStateEnum::Failed, Some("insufficient capacity in us-east-1a")))
                    .build()
            })
            .build();
        let kind = Adapter(load_balancer::LoadBalancer::new(client(&[&create, &describe])));
        let ctx = op(STACK, REGION, "alb", "elbv2.load_balancer", StepAction::Create, &[]);
        let err = kind
            .create(&ctx, &props(json!({"subnets": ["subnet-a", "subnet-b"]})))
            .await
            .expect_err("a failed load balancer fails the step");
        assert_eq!(err.code.as_deref(), Some("LoadBalancerFailed"));
        assert!(err.message.contains("insufficient capacity in us-east-1a"), "{err:?}");
        assert!(err.hint.is_some());
        assert_eq!(describe.num_calls(), 2);
    }

    /// Creates answer from the create call (and the load balancer's wait):
    /// no Describe, DescribeTags or attribute read after, and no attribute
    /// call when the spec asks AWS's defaults. Any other call fails: the
    /// mocks match nothing else.
    #[tokio::test]
    async fn creates_take_their_attributes_from_the_create_answer() {
        const TG: &str = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/rt-app-tg/73e2d6bc24d8a067";
        const LS: &str = "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/rt-alb/50dc6c495c0c9188/1";
        let create = mock!(Client::create_load_balancer).then_output(|| {
            CreateLoadBalancerOutput::builder().load_balancers(lb(A, LoadBalancerStateEnum::Provisioning, None)).build()
        });
        let describe = mock!(Client::describe_load_balancers).then_output(|| {
            DescribeLoadBalancersOutput::builder().load_balancers(lb(A, LoadBalancerStateEnum::Active, None)).build()
        });
        let tg = mock!(Client::create_target_group).then_output(|| {
            let tg = Tg::builder().target_group_arn(TG).target_group_name("rt-app-tg").build();
            CreateTargetGroupOutput::builder().target_groups(tg).build()
        });
        let ls = mock!(Client::create_listener)
            .then_output(|| CreateListenerOutput::builder().listeners(Ls::builder().listener_arn(LS).build()).build());
        let client = client(&[&create, &describe, &tg, &ls]);

        let kind = Adapter(load_balancer::LoadBalancer::new(client.clone()));
        let ctx = op(STACK, REGION, "alb", "elbv2.load_balancer", StepAction::Create, &[]);
        let want = props(json!({"subnets": ["subnet-a", "subnet-b"], "idle_timeout": 60}));
        let created = kind.create(&ctx, &want).await.expect("create the load balancer");
        assert_eq!(created.id, A);
        assert_eq!(created.attributes["dns_name"], json!("rt-alb-1.us-east-1.elb.amazonaws.com"));
        assert_eq!(created.attributes["arn_suffix"], json!("app/rt-alb/50dc6c495c0c9188"));
        assert_eq!(describe.num_calls(), 1, "one Describe, the wait's");

        let kind = Adapter(target_group::TargetGroup::new(client.clone()));
        let ctx = op(STACK, REGION, "app_tg", "elbv2.target_group", StepAction::Create, &[]);
        let want = props(json!({"port": 8080, "vpc_id": "vpc-1", "deregistration_delay_timeout_seconds": 300}));
        let created = kind.create(&ctx, &want).await.expect("create the target group");
        assert_eq!(created.attributes["arn_suffix"], json!("targetgroup/rt-app-tg/73e2d6bc24d8a067"));

        let kind = Adapter(listener::Listener::new(client));
        let ctx = op(STACK, REGION, "http", "elbv2.listener", StepAction::Create, &[]);
        let want = props(json!({"load_balancer_arn": A, "port": 80, "protocol": "HTTP",
            "default_actions": [{"type": "forward", "target_group_arn": TG}]}));
        let created = kind.create(&ctx, &want).await.expect("create the listener");
        assert_eq!((created.id.as_str(), &created.attributes["arn"]), (LS, &json!(LS)));
        assert_eq!((create.num_calls(), tg.num_calls(), ls.num_calls()), (1, 1, 1));
    }
}
