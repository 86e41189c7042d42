//! `cloudfront.distribution` against mocked clients: what moto 5.2.5 cannot
//! produce (its distributions are `Deployed` on the second read, and it
//! takes any ETag): a distribution `InProgress` for many polls, with
//! progress, whose interrupted wait the next run resumes without a second
//! distribution; a stale ETag, read again and sent once more; and a destroy
//! that disables, waits, then deletes under the new ETag. And an origin
//! access control whose name is taken (moto makes a second one): refused,
//! unless an interrupted run of the same resource made it.

use crate::support::kit::{detached, progress};
use aws_sdk_cloudfront::operation::create_distribution_with_tags::CreateDistributionWithTagsOutput;
use aws_sdk_cloudfront::operation::delete_distribution::DeleteDistributionOutput;
use aws_sdk_cloudfront::operation::get_distribution::GetDistributionOutput;
use aws_sdk_cloudfront::operation::get_distribution_config::GetDistributionConfigOutput;
use aws_sdk_cloudfront::operation::update_distribution::{UpdateDistributionError, UpdateDistributionOutput};
use aws_sdk_cloudfront::types::{Distribution as AwsDistribution, DistributionConfig};
use aws_sdk_cloudfront::Client;
use aws_smithy_mocks::{mock, mock_client, RuleMode};
use aws_smithy_types::error::ErrorMetadata;
use deployctl_aws::cloudfront::distribution::Distribution;
use deployctl_engine::{Observed, Props, ResourceKind, StepAction};
use serde_json::json;
use std::time::Duration;

const ID: &str = "E2QWRUHEXAMPLE";

fn desired(comment: &str) -> Props {
    json!({
        "comment": comment,
        "origins": [{"id": "site", "domain_name": "health-frontend.s3.us-east-1.amazonaws.com"}],
        "default_cache_behavior": {"target_origin_id": "site"},
    })
    .as_object()
    .unwrap()
    .clone()
}

fn config(comment: &str, enabled: bool) -> DistributionConfig {
    DistributionConfig::builder().caller_reference("first").comment(comment).enabled(enabled).build().unwrap()
}

fn distribution(status: &str) -> AwsDistribution {
    AwsDistribution::builder()
        .id(ID)
        .arn(format!("arn:aws:cloudfront::123456789012:distribution/{ID}"))
        .status(status)
        .last_modified_time(aws_smithy_types::DateTime::from_secs(0))
        .in_progress_invalidation_batches(0)
        .domain_name("d111111abcdef8.cloudfront.net")
        .distribution_config(config("the frontend", true))
        .build()
        .unwrap()
}

fn got(status: &str, etag: &str) -> GetDistributionOutput {
    GetDistributionOutput::builder().distribution(distribution(status)).e_tag(etag).build()
}

fn live() -> Observed {
    let attributes = json!({"id": ID, "arn": format!("arn:aws:cloudfront::123456789012:distribution/{ID}")});
    Observed { id: ID.into(), attributes: attributes.as_object().unwrap().clone(), ..Default::default() }
}

#[tokio::test]
async fn a_distribution_in_progress_for_many_polls_shows_progress_and_an_interrupted_wait_resumes_without_a_second_one()
{
    // First run: CloudFront accepts the create, then the distribution is
    // InProgress until the run is interrupted.
    let create = mock!(Client::create_distribution_with_tags).then_output(|| {
        CreateDistributionWithTagsOutput::builder().distribution(distribution("InProgress")).e_tag("E1").build()
    });
    let get = mock!(Client::get_distribution).then_output(|| got("InProgress", "E1"));
    let client = mock_client!(aws_sdk_cloudfront, RuleMode::MatchAny, [&create, &get]);
    let (ctx1, cancel, mut events) =
        detached("health", "us-east-1", "cdn", "cloudfront.distribution", StepAction::Create);
    let interrupt = async {
        tokio::time::sleep(Duration::from_millis(3500)).await;
        cancel();
    };
    let kind = deployctl_aws::kit::Adapter(Distribution::new(client));
    let want = desired("the frontend");
    let (result, ()) = tokio::join!(kind.create(&ctx1, &want), interrupt);
    let err = result.unwrap_err();
    assert_eq!(err.code.as_deref(), Some("Interrupted"), "{err:?}");
    assert!(ctx1.id_recorded(), "the id is recorded before the wait");
    assert_eq!(create.num_calls(), 1);
    assert!(get.num_calls() >= 3, "polled while in progress: {}", get.num_calls());
    let seen = progress(&mut events);
    assert!(seen.iter().any(|m| m == &format!("distribution {ID} to be deployed: InProgress")), "{seen:?}");

    // Second run: the recorded distribution is waited for again, and not
    // created a second time.
    let get = mock!(Client::get_distribution)
        .sequence()
        .output(|| got("InProgress", "E1"))
        .output(|| got("InProgress", "E1"))
        .output(|| got("Deployed", "E1"))
        .build();
    let create = mock!(Client::create_distribution_with_tags)
        .then_output(|| CreateDistributionWithTagsOutput::builder().distribution(distribution("InProgress")).build());
    let client = mock_client!(aws_sdk_cloudfront, RuleMode::MatchAny, [&create, &get]);
    let (ctx2, _cancel, mut events) =
        detached("health", "us-east-1", "cdn", "cloudfront.distribution", StepAction::Create);
    let done = deployctl_aws::kit::Adapter(Distribution::new(client)).resume(&ctx2, &live()).await.unwrap();
    assert_eq!(create.num_calls(), 0, "resuming creates nothing");
    assert_eq!(get.num_calls(), 3);
    assert_eq!(done.attributes["status"], json!("Deployed"));
    assert_eq!(progress(&mut events).len(), 2, "one progress line per poll that found it in progress");
}

fn stale() -> UpdateDistributionError {
    UpdateDistributionError::generic(
        ErrorMetadata::builder()
            .code("PreconditionFailed")
            .message("The If-Match version is missing or not valid for the resource.")
            .build(),
    )
}

#[tokio::test]
async fn a_stale_etag_is_read_again_and_the_change_sent_once_more() {
    // Someone changed the distribution between deployctl's read and its
    // write: the first UpdateDistribution is refused, the config read again
    // under its new ETag, and the change sent once more.
    let config_read = mock!(Client::get_distribution_config)
        .sequence()
        .output(|| GetDistributionConfigOutput::builder().distribution_config(config("old", true)).e_tag("E1").build())
        .output(|| {
            GetDistributionConfigOutput::builder().distribution_config(config("theirs", true)).e_tag("E2").build()
        })
        .build();
    let refused = mock!(Client::update_distribution).match_requests(|r| r.if_match() == Some("E1")).then_error(stale);
    let accepted = mock!(Client::update_distribution)
        .match_requests(|r| {
            r.if_match() == Some("E2") && r.distribution_config().map(|c| c.comment()) == Some("the frontend")
        })
        .then_output(|| {
            UpdateDistributionOutput::builder().distribution(distribution("InProgress")).e_tag("E3").build()
        });
    let get = mock!(Client::get_distribution).then_output(|| got("Deployed", "E3"));
    let client = mock_client!(aws_sdk_cloudfront, RuleMode::MatchAny, [&config_read, &refused, &accepted, &get]);
    let kind = deployctl_aws::kit::Adapter(Distribution::new(client));
    let (ctx, _cancel, _events) = detached("health", "us-east-1", "cdn", "cloudfront.distribution", StepAction::Update);
    let changed = ["comment".to_string()];
    let updated = kind.update(&ctx, &live(), &desired("the frontend"), &changed).await.unwrap();
    assert_eq!((config_read.num_calls(), refused.num_calls(), accepted.num_calls()), (2, 1, 1));
    assert_eq!(updated.attributes["status"], json!("Deployed"));

    // Stale twice: the error says what to do.
    let config_read = mock!(Client::get_distribution_config).then_output(|| {
        GetDistributionConfigOutput::builder().distribution_config(config("old", true)).e_tag("E1").build()
    });
    let refused = mock!(Client::update_distribution).then_error(stale);
    let client = mock_client!(aws_sdk_cloudfront, RuleMode::MatchAny, [&config_read, &refused]);
    let kind = deployctl_aws::kit::Adapter(Distribution::new(client));
    let err = kind.update(&ctx, &live(), &desired("the frontend"), &changed).await.unwrap_err();
    assert_eq!(err.code.as_deref(), Some("PreconditionFailed"));
    assert_eq!(refused.num_calls(), 2, "retried once, not more");
    assert!(err.hint.as_deref().is_some_and(|h| h.contains("run deployctl up again")), "{err:?}");
}

#[tokio::test]
async fn destroy_disables_an_enabled_distribution_waits_until_deployed_then_deletes_under_the_new_etag() {
    let config_read = mock!(Client::get_distribution_config).then_output(|| {
        GetDistributionConfigOutput::builder().distribution_config(config("the frontend", true)).e_tag("E1").build()
    });
    let disable = mock!(Client::update_distribution)
        .match_requests(|r| r.if_match() == Some("E1") && r.distribution_config().is_some_and(|c| !c.enabled()))
        .then_output(|| {
            UpdateDistributionOutput::builder().distribution(distribution("InProgress")).e_tag("E2").build()
        });
    let get = mock!(Client::get_distribution)
        .sequence()
        .output(|| got("InProgress", "E2"))
        .output(|| got("Deployed", "E2"))
        .output(|| got("Deployed", "E2"))
        .build();
    let delete = mock!(Client::delete_distribution)
        .match_requests(|r| r.if_match() == Some("E2"))
        .then_output(|| DeleteDistributionOutput::builder().build());
    let client = mock_client!(aws_sdk_cloudfront, RuleMode::MatchAny, [&config_read, &disable, &get, &delete]);
    let kind = deployctl_aws::kit::Adapter(Distribution::new(client));
    let (ctx, _cancel, mut events) =
        detached("health", "us-east-1", "cdn", "cloudfront.distribution", StepAction::Delete);
    kind.delete(&ctx, &live(), &Default::default()).await.unwrap();
    assert_eq!((disable.num_calls(), delete.num_calls()), (1, 1));
    let seen = progress(&mut events);
    assert!(seen.iter().any(|m| m.ends_with("to be deployed: InProgress")), "waited for the disable: {seen:?}");
}

#[tokio::test]
async fn an_oac_name_taken_is_refused_unless_an_interrupted_run_of_this_resource_made_it() {
    use aws_sdk_cloudfront::operation::create_origin_access_control::CreateOriginAccessControlError;
    use aws_sdk_cloudfront::operation::get_origin_access_control::GetOriginAccessControlOutput;
    use aws_sdk_cloudfront::operation::list_origin_access_controls::ListOriginAccessControlsOutput;
    use aws_sdk_cloudfront::operation::update_origin_access_control::UpdateOriginAccessControlOutput;
    use aws_sdk_cloudfront::types::{
        OriginAccessControl as Oac, OriginAccessControlConfig, OriginAccessControlList, OriginAccessControlOriginTypes,
        OriginAccessControlSigningBehaviors, OriginAccessControlSigningProtocols, OriginAccessControlSummary,
    };
    use deployctl_aws::cloudfront::origin_access_control::OriginAccessControl;

    let taken = mock!(Client::create_origin_access_control).then_error(|| {
        CreateOriginAccessControlError::generic(
            ErrorMetadata::builder().code("OriginAccessControlAlreadyExists").message("already exists").build(),
        )
    });
    let list = mock!(Client::list_origin_access_controls).then_output(|| {
        let summary = OriginAccessControlSummary::builder()
            .id("E1OAC")
            .name("health-frontend")
            .description("")
            .signing_protocol(OriginAccessControlSigningProtocols::Sigv4)
            .signing_behavior(OriginAccessControlSigningBehaviors::Always)
            .origin_access_control_origin_type(OriginAccessControlOriginTypes::S3)
            .build()
            .unwrap();
        let list =
            OriginAccessControlList::builder().items(summary).marker("").max_items(100).is_truncated(false).quantity(1);
        ListOriginAccessControlsOutput::builder().origin_access_control_list(list.build().unwrap()).build()
    });
    let get = mock!(Client::get_origin_access_control).then_output(|| {
        let config = OriginAccessControlConfig::builder()
            .name("health-frontend")
            .signing_protocol(OriginAccessControlSigningProtocols::Sigv4)
            .signing_behavior(OriginAccessControlSigningBehaviors::Always)
            .origin_access_control_origin_type(OriginAccessControlOriginTypes::S3)
            .build()
            .unwrap();
        let oac = Oac::builder().id("E1OAC").origin_access_control_config(config).build().unwrap();
        GetOriginAccessControlOutput::builder().origin_access_control(oac).e_tag("E1").build()
    });
    let update = mock!(Client::update_origin_access_control)
        .match_requests(|r| r.if_match() == Some("E1"))
        .then_output(|| UpdateOriginAccessControlOutput::builder().e_tag("E2").build());
    let client = mock_client!(aws_sdk_cloudfront, RuleMode::MatchAny, [&taken, &list, &get, &update]);
    let kind = deployctl_aws::kit::Adapter(OriginAccessControl::new(client));
    let want = json!({"name": "health-frontend", "description": "the frontend bucket"}).as_object().unwrap().clone();

    let (fresh, _cancel, _events) =
        detached("health", "us-east-1", "cdn", "cloudfront.distribution", StepAction::Create);
    let err = kind.create(&fresh, &want).await.unwrap_err();
    assert_eq!(err.code.as_deref(), Some("OriginAccessControlAlreadyExists"));
    assert!(err.hint.as_deref().is_some_and(|h| h.contains("choose another name")), "{err:?}");
    assert_eq!(update.num_calls(), 0, "another's OAC is left alone");

    let (mut again, _cancel, _events) =
        detached("health", "us-east-1", "cdn", "cloudfront.distribution", StepAction::Create);
    again.interrupted_create = true;
    let adopted = kind.create(&again, &want).await.unwrap();
    assert_eq!(adopted.id, "E1OAC");
    assert_eq!(update.num_calls(), 1, "the adopted OAC is brought to the spec");
}
