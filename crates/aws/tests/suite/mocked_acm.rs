//! ACM against a mocked client: what moto cannot produce (its certificates
//! are issued a fixed time after the request and never fail): a
//! certificate that goes FAILED or VALIDATION_TIMED_OUT during the wait for
//! ISSUED, one pending for many polls with progress, and a wait interrupted
//! and resumed by the next run without a second certificate.

use aws_sdk_acm::operation::describe_certificate::DescribeCertificateOutput;
use aws_sdk_acm::operation::request_certificate::RequestCertificateOutput;
use aws_sdk_acm::types::{CertificateDetail, CertificateStatus, FailureReason};
use aws_sdk_acm::Client;
use aws_smithy_mocks::{mock, mock_client, RuleMode};
use deployctl_aws::acm::validation::Validation;
use deployctl_aws::kit::Adapter;
use deployctl_engine::{Event, OpCtx, Props, ResourceKind, StepAction};
use serde_json::json;
use std::collections::BTreeMap;
use std::time::Duration;

const ARN: &str = "arn:aws:acm:us-east-2:123456789012:certificate/0f5e7c1a-1111-2222-3333-444455556666";

fn ctx(timeout: Duration) -> (OpCtx, impl Fn(), tokio::sync::mpsc::UnboundedReceiver<Event>) {
    let (ctx, cancel, events) = OpCtx::detached(
        "shop",
        "us-east-2",
        "cert_valid",
        "acm.certificate_validation",
        StepAction::Create,
        BTreeMap::new(),
        "0123456789abcdef0123456789abcdef",
        timeout,
    );
    (ctx, move || cancel.cancel(), events)
}

fn desired() -> Props {
    json!({"certificate_arn": ARN}).as_object().unwrap().clone()
}

fn described(status: CertificateStatus, reason: Option<FailureReason>) -> DescribeCertificateOutput {
    let c = CertificateDetail::builder()
        .certificate_arn(ARN)
        .domain_name("shop.example.com")
        .status(status)
        .set_failure_reason(reason)
        .build();
    DescribeCertificateOutput::builder().certificate(c).build()
}

#[tokio::test]
async fn a_certificate_that_goes_failed_fails_the_wait_with_acms_reason_and_what_to_do() {
    let describe = mock!(Client::describe_certificate)
        .sequence()
        .output(|| described(CertificateStatus::PendingValidation, None))
        .output(|| described(CertificateStatus::Failed, Some(FailureReason::CaaError)))
        .build();
    let client = mock_client!(aws_sdk_acm, RuleMode::MatchAny, [&describe]);
    let (ctx, _cancel, _events) = ctx(Duration::from_secs(30));

    let err = Adapter(Validation::new(client)).create(&ctx, &desired()).await.unwrap_err();

    assert_eq!(err.code.as_deref(), Some("FAILED"), "{err:?}");
    assert!(err.message.contains(ARN) && err.message.contains("CAA_ERROR"), "{err:?}");
    assert!(
        err.hint.as_deref().is_some_and(|h| h.contains("CAA record") && h.contains("delete-certificate")),
        "{err:?}"
    );
    assert_eq!(describe.num_calls(), 2, "fails on the poll that sees FAILED");
}

#[tokio::test]
async fn a_certificate_whose_validation_timed_out_says_the_dns_records_never_resolved() {
    let describe =
        mock!(Client::describe_certificate).then_output(|| described(CertificateStatus::ValidationTimedOut, None));
    let client = mock_client!(aws_sdk_acm, RuleMode::MatchAny, [&describe]);
    let (ctx, _cancel, _events) = ctx(Duration::from_secs(30));

    let err = Adapter(Validation::new(client)).create(&ctx, &desired()).await.unwrap_err();

    assert_eq!(err.code.as_deref(), Some("VALIDATION_TIMED_OUT"), "{err:?}");
    assert!(err.message.contains("gave up waiting for its DNS records"), "{err:?}");
    assert!(
        err.hint.as_deref().is_some_and(|h| h.contains(&format!("aws acm delete-certificate --certificate-arn {ARN}"))),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_long_validation_shows_progress_and_an_interrupted_wait_resumes_without_a_new_certificate() {
    // First run: pending until interrupted, with progress on the way.
    let describe =
        mock!(Client::describe_certificate).then_output(|| described(CertificateStatus::PendingValidation, None));
    let request = mock!(Client::request_certificate)
        .then_output(|| RequestCertificateOutput::builder().certificate_arn(ARN).build());
    let client = mock_client!(aws_sdk_acm, RuleMode::MatchAny, [&describe, &request]);
    let (ctx1, cancel, mut events) = ctx(Duration::from_secs(60));
    let kind = Adapter(Validation::new(client));
    let want = desired();
    let interrupt = async {
        tokio::time::sleep(Duration::from_millis(3500)).await;
        cancel();
    };
    let (result, ()) = tokio::join!(kind.create(&ctx1, &want), interrupt);
    let err = result.unwrap_err();
    assert_eq!(err.code.as_deref(), Some("Interrupted"), "{err:?}");
    assert!(describe.num_calls() >= 3, "polled while pending: {}", describe.num_calls());
    let mut progress = Vec::new();
    while let Ok(e) = events.try_recv() {
        if let Event::StepProgress { message, .. } = e {
            progress.push(message);
        }
    }
    assert!(progress.iter().any(|m| m.contains("PENDING_VALIDATION")), "{progress:?}");

    // Second run: the same certificate is waited for again, and issued.
    let describe = mock!(Client::describe_certificate)
        .sequence()
        .output(|| described(CertificateStatus::PendingValidation, None))
        .output(|| described(CertificateStatus::Issued, None))
        .build();
    let client = mock_client!(aws_sdk_acm, RuleMode::MatchAny, [&describe, &request]);
    let (mut ctx2, _cancel, _events) = ctx(Duration::from_secs(60));
    ctx2.interrupted_create = true;
    let o = Adapter(Validation::new(client)).create(&ctx2, &desired()).await.unwrap();
    assert_eq!((o.id.as_str(), &o.attributes["certificate_arn"]), (ARN, &json!(ARN)));
    assert_eq!(request.num_calls(), 0, "waiting requests no certificate");
}
