//! Throttling, with the EC2 client mocked by aws-smithy-mocks: the SDK's
//! standard retry absorbs a few `RequestLimitExceeded` answers, the call
//! counter tells the operation and its retries apart, and a throttle that
//! never lets up surfaces as a [`ProviderError`] with the AWS code and a hint
//! to lower `--parallelism`.

use aws_sdk_ec2::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_ec2::operation::describe_subnets::DescribeSubnetsOutput;
use aws_sdk_ec2::types::{Subnet as Ec2Subnet, SubnetState, Tag};
use aws_sdk_ec2::Client;
use aws_smithy_mocks::{create_mock_http_client, mock, MockResponseInterceptor, Rule, RuleMode};
use aws_smithy_types::retry::RetryConfig;
use deployctl_aws::ec2::subnet::Subnet;
use deployctl_aws::kit::Adapter;
use deployctl_aws::CountCalls;
use deployctl_engine::{ApiCalls, CallCount, ReadCtx, ResourceKind};
use serde_json::json;
use std::time::Duration;

/// How EC2 answers a throttled call: HTTP 400 with its XML error document.
const THROTTLED: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<Response><Errors><Error><Code>RequestLimitExceeded</Code><Message>Request limit exceeded.</Message></Error></Errors><RequestID>5c5ac9a1-0000-4000-8000-000000000000</RequestID></Response>"#;

const MAX_ATTEMPTS: u32 = 4;

/// An EC2 client answering from `rule`, counting calls into `calls`, with
/// the standard retry mode and a tiny backoff so the test is fast.
fn client(rule: &Rule, calls: &ApiCalls) -> Client {
    let conf = aws_sdk_ec2::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("AKIDTEST", "secret", None, None, "test"))
        .http_client(create_mock_http_client())
        .interceptor(MockResponseInterceptor::new().rule_mode(RuleMode::Sequential).with_rule(rule))
        .interceptor(CountCalls(calls.clone()))
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(MAX_ATTEMPTS)
                .with_initial_backoff(Duration::from_millis(1))
                .with_max_backoff(Duration::from_millis(5)),
        )
        .build();
    Client::from_conf(conf)
}

fn subnet() -> Ec2Subnet {
    Ec2Subnet::builder()
        .subnet_id("subnet-0abc")
        .subnet_arn("arn:aws:ec2:us-east-1:123456789012:subnet/subnet-0abc")
        .vpc_id("vpc-0123")
        .cidr_block("10.0.1.0/24")
        .availability_zone("us-east-1a")
        .availability_zone_id("use1-az1")
        .map_public_ip_on_launch(true)
        .state(SubnetState::Available)
        .tags(Tag::builder().key("deployctl:stack").value("network").build())
        .tags(Tag::builder().key("aws:cloudformation:stack-name").value("ignored").build())
        .build()
}

fn ctx() -> ReadCtx {
    ReadCtx::new("network", "us-east-1")
}

fn describe_subnets(calls: &ApiCalls) -> CallCount {
    calls.snapshot().get(&("EC2".to_string(), "DescribeSubnets".to_string())).copied().unwrap_or_default()
}

#[tokio::test]
async fn describe_subnets_throttled_twice_is_retried_and_counted_as_one_call() {
    let rule = mock!(Client::describe_subnets)
        .match_requests(|req| {
            req.filters().iter().any(|f| f.name() == Some("subnet-id") && f.values() == ["subnet-0abc"])
        })
        .sequence()
        .http_status(400, Some(THROTTLED.to_string()))
        .times(2)
        .output(|| DescribeSubnetsOutput::builder().subnets(subnet()).build())
        .build();
    let calls = ApiCalls::new();
    let kind = Adapter(Subnet::new(client(&rule, &calls)));

    let found = kind.read(&ctx(), &["subnet-0abc".to_string()]).await.expect("the read succeeds after retries");

    assert_eq!(found.len(), 1, "{found:?}");
    let s = &found[0];
    assert_eq!(s.id, "subnet-0abc");
    assert_eq!(s.properties["cidr_block"], json!("10.0.1.0/24"));
    assert_eq!(s.properties["map_public_ip_on_launch"], json!(true));
    assert_eq!(s.attributes["availability_zone_id"], json!("use1-az1"));
    assert_eq!(s.tags.keys().collect::<Vec<_>>(), vec!["deployctl:stack"], "aws: tags are left out");

    assert_eq!(rule.num_calls(), 3, "two throttled attempts, then the answer");
    assert_eq!(describe_subnets(&calls), CallCount { calls: 1, retries: 2, throttled: 2 });
    assert_eq!(calls.total(), CallCount { calls: 1, retries: 2, throttled: 2 });
    assert_eq!(calls.to_json(), json!({"EC2": {"DescribeSubnets": {"calls": 1, "retries": 2, "throttled": 2}}}));
}

#[tokio::test]
async fn throttling_that_never_lets_up_surfaces_the_aws_code_and_a_parallelism_hint() {
    let rule =
        mock!(Client::describe_subnets).sequence().http_status(400, Some(THROTTLED.to_string())).repeatedly().build();
    let calls = ApiCalls::new();
    let kind = Adapter(Subnet::new(client(&rule, &calls)));

    let err = kind.read(&ctx(), &["subnet-0abc".to_string()]).await.expect_err("throttled to the end");

    assert_eq!(err.code.as_deref(), Some("RequestLimitExceeded"), "{err:?}");
    assert_eq!(err.message, "Request limit exceeded.");
    let hint = err.hint.as_deref().unwrap_or_default();
    assert!(hint.contains("--parallelism"), "{err:?}");
    assert!(err.to_string().starts_with("RequestLimitExceeded: "), "{err}");

    assert_eq!(rule.num_calls(), MAX_ATTEMPTS as usize, "every attempt the retry config allows was made");
    assert_eq!(
        describe_subnets(&calls),
        CallCount { calls: 1, retries: u64::from(MAX_ATTEMPTS) - 1, throttled: u64::from(MAX_ATTEMPTS) }
    );
}

#[tokio::test]
async fn a_modeled_throttling_error_is_retried_then_reported_with_its_code() {
    use aws_sdk_ec2::operation::describe_subnets::DescribeSubnetsError;
    use aws_smithy_types::error::ErrorMetadata;
    let throttling =
        || DescribeSubnetsError::generic(ErrorMetadata::builder().code("Throttling").message("Rate exceeded").build());
    let rule = mock!(Client::describe_subnets).sequence().error(throttling).repeatedly().build();
    let calls = ApiCalls::new();
    let kind = Adapter(Subnet::new(client(&rule, &calls)));

    let err = kind.read(&ctx(), &["subnet-0abc".to_string()]).await.expect_err("throttled to the end");

    assert_eq!(err.code.as_deref(), Some("Throttling"), "{err:?}");
    assert_eq!(err.message, "Rate exceeded");
    assert!(err.hint.as_deref().unwrap_or_default().contains("--parallelism"), "{err:?}");
    // A modeled error from aws-smithy-mocks has no HTTP answer, which is
    // where the interceptor reads the code: AWS always sends one.
    assert_eq!(describe_subnets(&calls), CallCount { calls: 1, retries: u64::from(MAX_ATTEMPTS) - 1, throttled: 0 });
}
