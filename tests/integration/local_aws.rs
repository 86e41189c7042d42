//! The local AWS endpoint (crates/localaws) through the real SDK: the
//! protocol front serves CloudWatch's RPC v2 CBOR from moto's JSON, errors
//! included, and passes the other protocols through; and what deployctl says
//! when an endpoint cannot serve a protocol.

use crate::harness::*;

const ALARM_SPEC: &str = "stack: cw
region: us-east-1
resources:
  cpu:
    type: cloudwatch.alarm
    properties:
      namespace: AWS/ECS
      metric_name: CPUUtilization
      statistic: Average
      period: 60
      evaluation_periods: 2
      threshold: 80
      comparison_operator: GreaterThanThreshold
";

#[test]
fn cloudwatch_speaks_cbor_through_the_front_values_and_errors_alike() {
    let moto = Moto::start();
    rt().block_on(async {
        let cw = aws_sdk_cloudwatch::Client::new(&moto.sdk_config().await);
        cw.put_metric_alarm()
            .alarm_name("cpu")
            .namespace("AWS/ECS")
            .metric_name("CPUUtilization")
            .statistic(aws_sdk_cloudwatch::types::Statistic::Average)
            .period(60)
            .evaluation_periods(2)
            .threshold(80.5)
            .comparison_operator(aws_sdk_cloudwatch::types::ComparisonOperator::GreaterThanThreshold)
            .send()
            .await
            .expect("PutMetricAlarm through the front");
        let out = cw.describe_alarms().alarm_names("cpu").send().await.expect("DescribeAlarms");
        let alarm = &out.metric_alarms()[0];
        assert_eq!(alarm.threshold(), Some(80.5));
        assert_eq!(alarm.evaluation_periods(), Some(2));
        assert!(alarm.state_updated_timestamp().is_some_and(|t| t.secs() > 1_600_000_000), "{alarm:?}");

        // An error answer keeps its AWS code through the translation.
        let err = cw
            .set_alarm_state()
            .alarm_name("no-such-alarm")
            .state_value(aws_sdk_cloudwatch::types::StateValue::Alarm)
            .state_reason("test")
            .send()
            .await
            .expect_err("no such alarm");
        use aws_sdk_cloudwatch::error::ProvideErrorMetadata;
        assert_eq!(err.code(), Some("ResourceNotFound"), "{err:?}");

        // Other protocols pass through: EC2 (query) and S3 (REST XML).
        let ec2 = moto.ec2().await;
        assert!(!ec2.describe_regions().send().await.unwrap().regions().is_empty());
        let s3 = moto.s3().await;
        s3.create_bucket().bucket("front-pass-through").send().await.unwrap();
        s3.put_object()
            .bucket("front-pass-through")
            .key("k")
            .body(aws_sdk_s3::primitives::ByteStream::from_static(b"through the front"))
            .send()
            .await
            .unwrap();
        let body = s3.get_object().bucket("front-pass-through").key("k").send().await.unwrap().body.collect().await;
        assert_eq!(body.unwrap().into_bytes().as_ref(), b"through the front");
    });
}

#[test]
fn a_protocol_the_endpoint_cannot_serve_is_named_with_the_endpoint_and_status() {
    let moto = Moto::start();
    let p = Project::new(&moto);
    let spec = p.spec("cw.yaml", ALARM_SPEC);
    let spec = spec.display().to_string();
    // The same run through the front works.
    let r = p.run(&["diff", &spec]);
    assert_eq!(r.code, 0, "{r:?}");
    // Against a bare moto, which answers CloudWatch's CBOR with 404.
    let bare = moto.moto_endpoint();
    let r = p.command(&["diff", &spec]).env("AWS_ENDPOINT_URL", &bare).output().unwrap();
    let stderr = String::from_utf8_lossy(&r.stderr);
    assert_eq!(r.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains(&format!("{bare} answered HTTP 404")), "names the endpoint and the status: {stderr}");
    assert!(stderr.contains("scripts/local-aws start"), "hints at the local endpoint: {stderr}");
    assert!(!stderr.contains("unhandled error"), "{stderr}");
    assert_eq!(stderr.lines().filter(|l| l.starts_with("error:")).count(), 1, "{stderr}");
    assert!(!stderr.contains("error: error:"), "{stderr}");
}
