//! `codecommit.repository`: on moto 5.2.5, what it serves (a create, a
//! GetRepository, a delete); with mocked clients, what it does not (it
//! ignores tags and answers 500 to BatchGetRepositories and the tag calls):
//! the read with tags, a change in place, a create repeated after a crash
//! adopted, another stack's repository refused.

use crate::support::kit::{assert_clean, changes, op, props, read_ctx};
use crate::support::moto::Moto;
use aws_sdk_codecommit::operation::batch_get_repositories::BatchGetRepositoriesOutput;
use aws_sdk_codecommit::operation::create_repository::{CreateRepositoryError, CreateRepositoryOutput};
use aws_sdk_codecommit::operation::list_tags_for_resource::ListTagsForResourceOutput;
use aws_sdk_codecommit::operation::update_repository_description::UpdateRepositoryDescriptionOutput;
use aws_sdk_codecommit::types::RepositoryMetadata;
use aws_sdk_codecommit::Client;
use aws_smithy_mocks::{mock, mock_client, RuleMode};
use aws_smithy_types::error::ErrorMetadata;
use deployctl_aws::codecommit::repository::{Repository, SCHEMA};
use deployctl_aws::kit::Adapter;
use deployctl_engine::{ResourceKind, StepAction};
use serde_json::json;
use std::collections::HashMap;

const STACK: &str = "health";
const REGION: &str = "us-east-1";
const NAME: &str = "cloud-health-dashboard";
const ARN: &str = "arn:aws:codecommit:us-east-1:123456789012:cloud-health-dashboard";

#[tokio::test]
async fn a_repository_is_created_with_its_tags_and_deleted_on_moto() {
    let moto = Moto::start();
    let aws = moto.aws().await;
    let kind = Adapter(Repository::new(aws.codecommit()));
    let desired = props(json!({"repository_name": NAME, "description": "the dashboard"}));
    let ctx = op(STACK, REGION, "repo", SCHEMA.type_name, StepAction::Create, &[]);
    let created = kind.create(&ctx, &desired).await.unwrap();
    assert_eq!(created.id, NAME);
    assert_eq!(created.attributes["name"], json!(NAME));
    assert!(created.attributes["clone_url_http"].as_str().unwrap().ends_with("/v1/repos/cloud-health-dashboard"));
    let raw = aws.codecommit().get_repository().repository_name(NAME).send().await.unwrap();
    let meta = raw.repository_metadata().unwrap();
    assert_eq!(meta.repository_description(), Some("the dashboard"));
    assert_eq!(created.attributes["arn"], json!(meta.arn()), "create returns what CodeCommit holds");
    let ctx = op(STACK, REGION, "repo", SCHEMA.type_name, StepAction::Delete, &[]);
    kind.delete(&ctx, &created, &Default::default()).await.unwrap();
    kind.delete(&ctx, &created, &Default::default()).await.unwrap();
    let gone = aws.codecommit().get_repository().repository_name(NAME).send().await.unwrap_err();
    assert_eq!(aws_sdk_codecommit::error::ProvideErrorMetadata::code(&gone), Some("RepositoryDoesNotExistException"));
}

fn meta(description: &str) -> RepositoryMetadata {
    RepositoryMetadata::builder()
        .repository_name(NAME)
        .repository_id("f7579e13-b83e-4027-aaef-650c0EXAMPLE")
        .repository_description(description)
        .arn(ARN)
        .clone_url_http(format!("https://git-codecommit.us-east-1.amazonaws.com/v1/repos/{NAME}"))
        .clone_url_ssh(format!("ssh://git-codecommit.us-east-1.amazonaws.com/v1/repos/{NAME}"))
        .build()
}

fn tagged(stack: &str) -> ListTagsForResourceOutput {
    let tags = HashMap::from([
        ("deployctl:stack".to_string(), stack.to_string()),
        ("deployctl:resource".to_string(), "repo".to_string()),
        ("team".to_string(), "web".to_string()),
    ]);
    ListTagsForResourceOutput::builder().set_tags(Some(tags)).build()
}

#[tokio::test]
async fn a_repository_reads_back_clean_changes_in_place_and_a_create_after_a_crash_adopts_it() {
    let create = mock!(Client::create_repository)
        .match_requests(|r| r.tags().is_some_and(|t| t.get("deployctl:stack").map(String::as_str) == Some(STACK)))
        .then_output(|| CreateRepositoryOutput::builder().repository_metadata(meta("the dashboard")).build());
    let read = mock!(Client::batch_get_repositories)
        .match_requests(|r| r.repository_names() == [NAME])
        .then_output(|| BatchGetRepositoriesOutput::builder().repositories(meta("the dashboard")).build());
    let tags = mock!(Client::list_tags_for_resource).then_output(|| tagged(STACK));
    let describe = mock!(Client::update_repository_description)
        .match_requests(|r| r.repository_description() == Some("the dashboard and its frontend"))
        .then_output(|| UpdateRepositoryDescriptionOutput::builder().build());
    let client = mock_client!(aws_sdk_codecommit, RuleMode::MatchAny, [&create, &read, &tags, &describe]);
    let kind = Adapter(Repository::new(client));
    let rc = read_ctx(STACK, REGION);

    let desired = props(json!({"repository_name": NAME, "description": "the dashboard"}));
    let ctx = op(STACK, REGION, "repo", SCHEMA.type_name, StepAction::Create, &[("team", "web")]);
    let created = kind.create(&ctx, &desired).await.unwrap();
    let live = kind.read(&rc, &[NAME.to_string()]).await.unwrap().remove(0);
    assert_clean(&SCHEMA, &desired, &live);
    assert_eq!(live.tags.get("team").map(String::as_str), Some("web"));
    assert_eq!(live.attributes, created.attributes, "create returns what a read sees");

    let changed = props(json!({"repository_name": NAME, "description": "the dashboard and its frontend"}));
    assert_eq!(changes(&SCHEMA, &changed, &live), ["description"]);
    let ctx = op(STACK, REGION, "repo", SCHEMA.type_name, StepAction::Update, &[("team", "web")]);
    kind.update(&ctx, &live, &changed, &["description".to_string()]).await.unwrap();
    assert_eq!(describe.num_calls(), 1);

    // A create repeated by a run killed before it recorded the name finds
    // its own repository and adopts it.
    let exists = || {
        CreateRepositoryError::generic(
            ErrorMetadata::builder()
                .code("RepositoryNameExistsException")
                .message("Repository named cloud-health-dashboard already exists")
                .build(),
        )
    };
    let taken = mock!(Client::create_repository).then_error(exists);
    let client = mock_client!(aws_sdk_codecommit, RuleMode::MatchAny, [&taken, &read, &tags, &describe]);
    let kind = Adapter(Repository::new(client));
    let ctx = op(STACK, REGION, "repo", SCHEMA.type_name, StepAction::Create, &[("team", "web")]);
    assert_eq!(kind.create(&ctx, &changed).await.unwrap().id, NAME);
    assert_eq!(describe.num_calls(), 2, "the adopted repository is converged");

    // Another stack's repository of that name is refused.
    let theirs = mock!(Client::list_tags_for_resource).then_output(|| tagged("other"));
    let client = mock_client!(aws_sdk_codecommit, RuleMode::MatchAny, [&taken, &read, &theirs]);
    let kind = Adapter(Repository::new(client));
    let err = kind.create(&ctx, &changed).await.unwrap_err();
    assert!(err.message.contains("is not this stack's repo"), "{err:?}");
}
