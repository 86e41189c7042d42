//! `iam.oidc_provider` with the IAM client mocked by aws-smithy-mocks, for
//! what moto 5.2.5 cannot do (it has no AddClientIDToOpenIDConnectProvider
//! nor RemoveClientIDFromOpenIDConnectProvider: both answer HTTP 500):
//! - a client id change is one AddClientID per new id and one RemoveClientID
//!   per dropped one, and nothing else;
//! - a create that meets its own provider (EntityAlreadyExists, this
//!   resource's tags) converges its client ids instead of failing;
//! - the same change through the whole engine (spec → plan → executor →
//!   state), with the url written without `https://`: planned as an in-place
//!   update of `client_id_list` only, applied, and planned as no change after.

use aws_sdk_iam::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_iam::operation::add_client_id_to_open_id_connect_provider::AddClientIdToOpenIdConnectProviderOutput;
use aws_sdk_iam::operation::get_open_id_connect_provider::GetOpenIdConnectProviderOutput;
use aws_sdk_iam::operation::list_open_id_connect_providers::ListOpenIdConnectProvidersOutput;
use aws_sdk_iam::operation::remove_client_id_from_open_id_connect_provider as remove_client_id;
use aws_sdk_iam::types::{OpenIdConnectProviderListEntry, Tag};
use aws_sdk_iam::Client;
use aws_smithy_mocks::{create_mock_http_client, mock, MockResponseInterceptor, Rule, RuleMode};
use deployctl_aws::iam::oidc_provider::{self, OidcProvider};
use deployctl_aws::kit::Adapter;
use deployctl_aws::CountCalls;
use deployctl_engine::{ApiCalls, Event, Observed, OpCtx, Props, ReadCtx, ResourceKind, StepAction};
use serde_json::json;
use std::collections::BTreeMap;
use std::time::Duration;

const ARN: &str = "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com";
const HOST: &str = "token.actions.githubusercontent.com";

/// How IAM refuses a second provider for a URL (awsQuery error).
const ALREADY_EXISTS: &str = "<ErrorResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\">\
    <Error><Type>Sender</Type><Code>EntityAlreadyExists</Code>\
    <Message>Provider with url https://token.actions.githubusercontent.com already exists.</Message></Error>\
    <RequestId>4a3c6e2c-0000-0000-0000-000000000000</RequestId></ErrorResponse>";

fn client(rules: &[&Rule], calls: &ApiCalls) -> Client {
    let mut mocks = MockResponseInterceptor::new().rule_mode(RuleMode::MatchAny);
    for r in rules {
        mocks = mocks.with_rule(r);
    }
    let conf = aws_sdk_iam::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("AKIDTEST", "secret", None, None, "test"))
        .http_client(create_mock_http_client())
        .interceptor(mocks)
        .interceptor(CountCalls(calls.clone()))
        .build();
    Client::from_conf(conf)
}

fn tags() -> BTreeMap<String, String> {
    BTreeMap::from([
        ("deployctl:stack".to_string(), "ci".to_string()),
        ("deployctl:resource".to_string(), "github".to_string()),
    ])
}

fn ctx(action: StepAction) -> (OpCtx, tokio::sync::mpsc::UnboundedReceiver<Event>) {
    let (ctx, _cancel, rx) = OpCtx::detached(
        "ci",
        "us-east-1",
        "github",
        "iam.oidc_provider",
        action,
        tags(),
        "0123456789abcdef0123456789abcdef",
        Duration::from_secs(60),
    );
    (ctx, rx)
}

fn desired(url: &str, client_ids: &[&str]) -> Props {
    json!({"url": url, "client_id_list": client_ids}).as_object().unwrap().clone()
}

/// The provider as GetOpenIDConnectProvider describes it, with this
/// resource's tags.
fn provider(client_ids: &[&str]) -> GetOpenIdConnectProviderOutput {
    let mut b = GetOpenIdConnectProviderOutput::builder().url(HOST);
    for id in client_ids {
        b = b.client_id_list(*id);
    }
    for (k, v) in tags() {
        b = b.tags(Tag::builder().key(k).value(v).build().unwrap());
    }
    b.thumbprint_list("6938fd4d98bab03faadb97b34396831e3780aea1").build()
}

fn assert_clean(desired: &Props, observed: &Observed) {
    use deployctl_engine::diff::{diff_properties, Want};
    let d = diff_properties(
        &oidc_provider::SCHEMA,
        &|p| match desired.get(p.name) {
            Some(v) => Want::Value(v.clone()),
            None => Want::Unmanaged,
        },
        &observed.properties,
    );
    assert!(d.is_empty(), "{d:#?}");
}

fn calls_of(calls: &ApiCalls) -> BTreeMap<String, u64> {
    calls.snapshot().into_iter().map(|((_, op), c)| (op, c.calls)).collect()
}

fn add_rule(id: &'static str) -> Rule {
    mock!(Client::add_client_id_to_open_id_connect_provider)
        .match_requests(move |r| r.open_id_connect_provider_arn() == Some(ARN) && r.client_id() == Some(id))
        .then_output(|| AddClientIdToOpenIdConnectProviderOutput::builder().build())
}

fn remove_rule(id: &'static str) -> Rule {
    mock!(Client::remove_client_id_from_open_id_connect_provider)
        .match_requests(move |r| r.open_id_connect_provider_arn() == Some(ARN) && r.client_id() == Some(id))
        .then_output(|| remove_client_id::RemoveClientIdFromOpenIdConnectProviderOutput::builder().build())
}

#[tokio::test]
async fn a_client_id_change_adds_and_removes_only_the_difference() {
    const URL: &str = "https://token.actions.githubusercontent.com";
    // Read: the old audiences; after the update: the new ones.
    let get = mock!(Client::get_open_id_connect_provider)
        .match_requests(|r| r.open_id_connect_provider_arn() == Some(ARN))
        .sequence()
        .output(|| provider(&["sts.amazonaws.com", "old-audience"]))
        .output(|| provider(&["sts.amazonaws.com", "new-audience"]))
        .repeatedly()
        .build();
    let add = add_rule("new-audience");
    let remove = remove_rule("old-audience");
    let calls = ApiCalls::new();
    let kind = Adapter(OidcProvider::new(client(&[&get, &add, &remove], &calls)));
    let rctx = ReadCtx::new("ci", "us-east-1");
    let current = kind.read(&rctx, &[ARN.to_string()]).await.unwrap().remove(0);
    assert_clean(&desired(URL, &["old-audience", "sts.amazonaws.com"]), &current);
    assert_eq!(current.tags, tags());

    let want = desired(URL, &["sts.amazonaws.com", "new-audience"]);
    let (ctx, _rx) = ctx(StepAction::Update);
    let updated = kind.update(&ctx, &current, &want, &["client_id_list".into()]).await.unwrap();
    assert_eq!((add.num_calls(), remove.num_calls()), (1, 1), "one AddClientID, one RemoveClientID, as expected");
    assert_clean(&want, &updated);
    let n = calls_of(&calls);
    assert_eq!(
        n,
        BTreeMap::from([
            ("AddClientIDToOpenIDConnectProvider".to_string(), 1),
            ("GetOpenIDConnectProvider".to_string(), 1),
            ("RemoveClientIDFromOpenIDConnectProvider".to_string(), 1),
        ]),
        "no thumbprint or tag call, no read-back: {n:?}"
    );
}

#[tokio::test]
async fn a_create_that_meets_its_own_provider_converges_its_client_ids() {
    const URL: &str = "token.actions.githubusercontent.com";
    let create = mock!(Client::create_open_id_connect_provider)
        .match_requests(|r| {
            // The scheme is added for AWS; no deployctl:url tag.
            r.url() == Some("https://token.actions.githubusercontent.com")
                && r.client_id_list() == ["sts.amazonaws.com"]
                && r.thumbprint_list().is_empty()
                && !r.tags().iter().any(|t| t.key() == "deployctl:url")
                && r.tags().iter().any(|t| t.key() == "deployctl:resource" && t.value() == "github")
        })
        .sequence()
        .http_status(409, Some(ALREADY_EXISTS.to_string()))
        .build();
    let list = mock!(Client::list_open_id_connect_providers).then_output(|| {
        ListOpenIdConnectProvidersOutput::builder()
            .open_id_connect_provider_list(
                OpenIdConnectProviderListEntry::builder()
                    .arn("arn:aws:iam::123456789012:oidc-provider/gitlab.com")
                    .build(),
            )
            .open_id_connect_provider_list(OpenIdConnectProviderListEntry::builder().arn(ARN).build())
            .build()
    });
    let get = mock!(Client::get_open_id_connect_provider)
        .match_requests(|r| r.open_id_connect_provider_arn() == Some(ARN))
        .sequence()
        .output(|| provider(&["old-audience"]))
        .output(|| provider(&["sts.amazonaws.com"]))
        .repeatedly()
        .build();
    let add = add_rule("sts.amazonaws.com");
    let remove = remove_rule("old-audience");
    let calls = ApiCalls::new();
    let kind = Adapter(OidcProvider::new(client(&[&create, &list, &get, &add, &remove], &calls)));

    let want = desired(URL, &["sts.amazonaws.com"]);
    let (ctx, _rx) = ctx(StepAction::Create);
    let created = kind.create(&ctx, &want).await.unwrap();
    assert_eq!(create.num_calls(), 1, "CreateOpenIDConnectProvider did not match the expected request");
    assert_eq!((add.num_calls(), remove.num_calls()), (1, 1));
    assert_eq!(created.id, ARN);
    assert_clean(&want, &created);
    let n = calls_of(&calls);
    assert_eq!(n.get("TagOpenIDConnectProvider"), None, "the tags were already right: {n:?}");
    assert_eq!(n.get("UntagOpenIDConnectProvider"), None, "{n:?}");
}

/// The provider as a spec would give it.
fn github_spec(client_ids: &str) -> deployctl_spec::Stack {
    let text = format!(
        "stack: ci\nregion: us-east-1\nresources:\n  github:\n    type: iam.oidc_provider\n    properties:\n      \
         url: token.actions.githubusercontent.com\n      client_id_list: {client_ids}\n"
    );
    deployctl_spec::load_str("ci.yaml", &text, &Default::default(), &vec![&oidc_provider::SCHEMA])
        .unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::test]
async fn a_client_id_change_is_planned_in_place_applied_and_recorded_through_the_engine() {
    use deployctl_engine::{Action, EventSink, Kinds, Mode};
    use deployctl_state::{Backend, LocalBackend, ResourceState, State};
    use std::sync::Arc;
    const URL: &str = "token.actions.githubusercontent.com";

    // Live: the old audience for the plan's read, both after the change
    // (which reads nothing back).
    let get = mock!(Client::get_open_id_connect_provider)
        .sequence()
        .output(|| provider(&["sts.amazonaws.com"]))
        .output(|| provider(&["sts.amazonaws.com", "my-app"]))
        .repeatedly()
        .build();
    let add = add_rule("my-app");
    let calls = ApiCalls::new();
    let kinds = Kinds::new(vec![Adapter::arc(OidcProvider::new(client(&[&get, &add], &calls)))]);

    // State as a first `up` left it.
    let dir = tempfile::tempdir().unwrap();
    let backend: Arc<dyn Backend> = Arc::new(LocalBackend::new(dir.path(), "ci"));
    let mut state = State::new("ci", "us-east-1");
    let mut rec = ResourceState::new("iam.oidc_provider");
    rec.id = Some(ARN.into());
    rec.properties = desired(URL, &["sts.amazonaws.com"]);
    state.resources.insert("github".into(), rec);
    let version = backend.write(&state, None).await.unwrap();

    let stack = github_spec("[sts.amazonaws.com, my-app]");
    let (sink, _rx) = EventSink::new();
    let plan = deployctl_engine::plan(&stack, Some(&state), &kinds, Mode::Apply, &sink).await.unwrap();
    let rp = &plan.resources[0];
    assert_eq!(rp.action, Action::Update, "{rp:#?}");
    let fields: Vec<&str> = rp.changes.iter().map(|c| c.field.as_str()).collect();
    assert_eq!(fields, ["client_id_list"], "the url written without https:// is no change: {rp:#?}");
    assert!(!rp.changes[0].forces_replacement);

    let report =
        crate::support::engine::apply(&kinds, backend.clone(), &state, version, &plan, Duration::from_secs(60)).await;
    assert!(report.ok(), "{:?}", report.failed);
    assert_eq!(add.num_calls(), 1, "exactly one AddClientIDToOpenIDConnectProvider, for my-app");

    let after = backend.read().await.unwrap().expect("state").state;
    let github = &after.resources["github"];
    assert_eq!(github.properties["client_id_list"], json!(["sts.amazonaws.com", "my-app"]));
    assert!(github.pending.is_none(), "{github:?}");
    let again = deployctl_engine::plan(&stack, Some(&after), &kinds, Mode::Apply, &sink).await.unwrap();
    assert_eq!(again.resources[0].action, Action::NoOp, "{:#?}", again.resources[0]);
}
