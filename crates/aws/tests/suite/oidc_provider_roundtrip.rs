//! Round trip of `iam.oidc_provider` against a moto server of the test's
//! own: create GitHub Actions' provider through the kind, read it back and
//! diff clean against the spec (url written with and without `https://`),
//! change thumbprints and tags in place and check through the raw IAM API,
//! adopt by tags, refuse a provider for the URL that is not this stack's
//! with an error naming it, delete (twice) and read nothing.
//!
//! moto 5.2.5 has no AddClientIDToOpenIDConnectProvider nor
//! RemoveClientIDFromOpenIDConnectProvider (it answers HTTP 500): in-place
//! client id changes are covered by mocked_oidc_provider.rs.

use deployctl_aws::iam::oidc_provider::{self, OidcProvider};
use deployctl_aws::kit::Adapter;
use deployctl_engine::diff::{diff_properties, FieldDiff, Want};
use deployctl_engine::{Event, Observed, OpCtx, Props, ReadCtx, ResourceKind, StepAction};
use deployctl_spec::{KindSchema, Update};
use serde_json::json;
use std::collections::BTreeMap;
use std::time::Duration;

const REGION: &str = "us-east-1";
const STACK: &str = "app";
const GITHUB_URL: &str = "https://token.actions.githubusercontent.com";
const GITHUB_ARN: &str = "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com";
const THUMB_A: &str = "6938fd4d98bab03faadb97b34396831e3780aea1";
const THUMB_B: &str = "1c58a3a8518e8759bf075b76b750d4f2df264fcd";

use crate::support::kit::{props, read_ctx, read_opt};
use crate::support::moto::Moto;

fn tags(address: &str, extra: &[(&str, &str)]) -> BTreeMap<String, String> {
    let mut t = BTreeMap::from([
        ("deployctl:stack".to_string(), STACK.to_string()),
        ("deployctl:resource".to_string(), address.to_string()),
    ]);
    t.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    t
}

fn op(
    schema: &KindSchema,
    address: &str,
    action: StepAction,
    tags: BTreeMap<String, String>,
) -> (OpCtx, tokio::sync::mpsc::UnboundedReceiver<Event>) {
    let (ctx, _cancel, rx) = OpCtx::detached(
        STACK,
        REGION,
        address,
        schema.type_name,
        action,
        tags,
        "0123456789abcdef0123456789abcdef",
        Duration::from_secs(60),
    );
    (ctx, rx)
}

/// The engine's diff of `desired` against what was read.
fn diff(desired: &Props, live: &Observed) -> Vec<FieldDiff> {
    diff_properties(
        &oidc_provider::SCHEMA,
        &|p| match desired.get(p.name) {
            Some(v) => Want::Value(v.clone()),
            None => Want::Unmanaged,
        },
        &live.properties,
    )
}

/// What a read and a create (which answers without reading back) agree on.
fn same(o: &Observed) -> (&String, &BTreeMap<String, String>, &Props) {
    (&o.id, &o.tags, &o.attributes)
}

/// The provider as the IAM API shows it: client ids and thumbprints
/// (sorted) and tags.
async fn raw(iam: &aws_sdk_iam::Client, arn: &str) -> (Vec<String>, Vec<String>, BTreeMap<String, String>) {
    let out = iam.get_open_id_connect_provider().open_id_connect_provider_arn(arn).send().await.unwrap();
    let mut ids = out.client_id_list().to_vec();
    ids.sort();
    let mut thumbs = out.thumbprint_list().to_vec();
    thumbs.sort();
    let tags = out.tags().iter().map(|t| (t.key().to_string(), t.value().to_string())).collect();
    (ids, thumbs, tags)
}

#[tokio::test]
async fn github_provider_round_trip_thumbprints_and_tags_in_place() {
    let moto = Moto::start();
    let aws = moto.aws().await;
    let iam = aws.iam();
    let kind = Adapter(OidcProvider::new(aws.iam()));
    let address = "github";

    let desired = props(json!({"url": GITHUB_URL, "client_id_list": ["sts.amazonaws.com"]}));
    let (ctx, _rx) = op(&oidc_provider::SCHEMA, address, StepAction::Create, tags(address, &[("team", "platform")]));
    let created = kind.create(&ctx, &desired).await.unwrap();
    assert_eq!(created.id, GITHUB_ARN, "the id is the ARN, which holds the url without https://");
    assert_eq!(created.attributes["arn"], json!(GITHUB_ARN));
    assert_eq!(created.attributes["url"], json!("token.actions.githubusercontent.com"));
    assert_eq!(diff(&desired, &created), vec![], "a create reads back clean");
    assert_eq!(created.tags, tags(address, &[("team", "platform")]));

    let live = read_opt(&kind, &read_ctx(STACK, REGION), GITHUB_ARN).await.expect("the provider is read back");
    assert_eq!(same(&live), same(&created), "no read-back after create: what it answered is what a read sees");
    assert_eq!(
        read_opt(&kind, &read_ctx(STACK, REGION), "arn:aws:iam::123456789012:oidc-provider/gone.example.com").await,
        None
    );

    // Through the IAM API: the URL without its scheme, the client id, the
    // tags as created (and no deployctl:url), no thumbprint given.
    let got = iam.get_open_id_connect_provider().open_id_connect_provider_arn(GITHUB_ARN).send().await.unwrap();
    assert_eq!(got.url(), Some("token.actions.githubusercontent.com"));
    let (ids, thumbs, raw_tags) = raw(&iam, GITHUB_ARN).await;
    assert_eq!(ids, ["sts.amazonaws.com"]);
    assert!(thumbs.is_empty(), "moto keeps no thumbprint when none is given (AWS fills one in)");
    assert!(!raw_tags.contains_key("deployctl:url"), "no setting travels in a tag: {raw_tags:?}");
    assert_eq!(raw_tags.get("deployctl:resource").map(String::as_str), Some(address));

    // Unset thumbprints are not managed: whatever IAM keeps is no diff.
    let mut with_thumbs = desired.clone();
    with_thumbs.insert("thumbprint_list".into(), json!([THUMB_B, THUMB_A]));
    let d = diff(&with_thumbs, &live);
    assert_eq!(d.len(), 1, "{d:?}");
    assert_eq!((d[0].field.as_str(), d[0].update), ("thumbprint_list", Update::InPlace));

    // In place: two thumbprints, a changed tag; the same ARN after.
    let (ctx, _rx) = op(&oidc_provider::SCHEMA, address, StepAction::Update, tags(address, &[("team", "web")]));
    let updated = kind.update(&ctx, &live, &with_thumbs, &["thumbprint_list".into(), "tags".into()]).await.unwrap();
    assert_eq!(updated.id, GITHUB_ARN, "updated, not replaced");
    assert_eq!(diff(&with_thumbs, &updated), vec![]);
    assert_eq!(updated.tags, tags(address, &[("team", "web")]));
    let (ids, thumbs, raw_tags) = raw(&iam, GITHUB_ARN).await;
    assert_eq!(ids, ["sts.amazonaws.com"]);
    assert_eq!(thumbs, [THUMB_B, THUMB_A]);
    assert_eq!(raw_tags.get("team").map(String::as_str), Some("web"));

    // One thumbprint dropped, the extra tag removed.
    let mut one = desired.clone();
    one.insert("thumbprint_list".into(), json!([THUMB_A]));
    let (ctx, _rx) = op(&oidc_provider::SCHEMA, address, StepAction::Update, tags(address, &[]));
    let updated = kind.update(&ctx, &updated, &one, &["thumbprint_list".into(), "tags".into()]).await.unwrap();
    assert_eq!(diff(&one, &updated), vec![]);
    assert_eq!(updated.tags, tags(address, &[]));
    let (_, thumbs, raw_tags) = raw(&iam, GITHUB_ARN).await;
    assert_eq!(thumbs, [THUMB_A]);
    assert!(!raw_tags.contains_key("team"), "{raw_tags:?}");

    // Another url is a replacement.
    let mut other = one.clone();
    other.insert("url".into(), json!("https://gitlab.com"));
    let d = diff(&other, &updated);
    assert_eq!(d.len(), 1, "{d:?}");
    assert_eq!((d[0].field.as_str(), d[0].update), ("url", Update::Replace));

    // Delete; again is fine (moto answers success, AWS NoSuchEntity).
    let (ctx, _rx) = op(&oidc_provider::SCHEMA, address, StepAction::Delete, BTreeMap::new());
    kind.delete(&ctx, &updated, &Props::new()).await.unwrap();
    kind.delete(&ctx, &updated, &Props::new()).await.unwrap();
    assert_eq!(read_opt(&kind, &read_ctx(STACK, REGION), GITHUB_ARN).await, None);
    assert!(iam.list_open_id_connect_providers().send().await.unwrap().open_id_connect_provider_list().is_empty());
    assert!(kind.find_tagged(&read_ctx(STACK, REGION)).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_url_written_without_https_is_the_same_provider() {
    let moto = Moto::start();
    let aws = moto.aws().await;
    let iam = aws.iam();
    let kind = Adapter(OidcProvider::new(aws.iam()));
    let address = "github";

    let bare = props(json!({"url": "token.actions.githubusercontent.com", "client_id_list": ["sts.amazonaws.com"]}));
    let (ctx, _rx) = op(&oidc_provider::SCHEMA, address, StepAction::Create, tags(address, &[]));
    let created = kind.create(&ctx, &bare).await.unwrap();
    assert_eq!(created.id, GITHUB_ARN);
    assert_eq!(diff(&bare, &created), vec![], "read back as written");
    // A read reports IAM's url with https://; `url` is state-only, so the
    // plan compares the spelling state recorded, as here.
    let live = read_opt(&kind, &read_ctx(STACK, REGION), GITHUB_ARN).await.unwrap();
    assert_eq!(live.properties["url"], json!(GITHUB_URL));
    let mut planned = live.clone();
    planned.properties.insert("url".into(), created.properties["url"].clone());
    assert_eq!(diff(&bare, &planned), vec![]);
    let got = iam.get_open_id_connect_provider().open_id_connect_provider_arn(GITHUB_ARN).send().await.unwrap();
    assert_eq!(got.url(), Some("token.actions.githubusercontent.com"));

    // Adopted with the other spelling too.
    let full = props(json!({"url": GITHUB_URL, "client_id_list": ["sts.amazonaws.com"]}));
    for wanted in [&bare, &full] {
        let found = kind.find_existing(&read_ctx(STACK, REGION), &[(address.into(), wanted.clone())]).await.unwrap();
        assert_eq!(found.len(), 1, "{wanted:?}");
        assert_eq!(found[0].1.id, GITHUB_ARN);
    }

    // A create with the other spelling finds its own provider (a retry
    // after a crash).
    let again = kind.create(&ctx, &full).await.unwrap();
    assert_eq!(again.id, GITHUB_ARN);
    assert_eq!(diff(&full, &again), vec![]);
}

#[tokio::test]
async fn adoption_is_by_url_and_this_resources_tags() {
    let moto = Moto::start();
    let aws = moto.aws().await;
    let iam = aws.iam();
    let kind = Adapter(OidcProvider::new(aws.iam()));
    // Someone else's provider, untagged, for another URL.
    iam.create_open_id_connect_provider()
        .url("https://gitlab.example.com")
        .client_id_list("gitlab")
        .send()
        .await
        .unwrap();

    let desired = props(json!({"url": GITHUB_URL, "client_id_list": ["sts.amazonaws.com"]}));
    let (ctx, _rx) = op(&oidc_provider::SCHEMA, "github", StepAction::Create, tags("github", &[]));
    let created = kind.create(&ctx, &desired).await.unwrap();

    let found = kind
        .find_existing(
            &read_ctx(STACK, REGION),
            &[
                ("github".into(), desired.clone()),
                // Same URL, another address: not its provider.
                ("other".into(), desired.clone()),
                // This address's tags, but another URL.
                ("gitlab".into(), props(json!({"url": "https://gitlab.example.com"}))),
            ],
        )
        .await
        .unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].0, "github");
    assert_eq!(same(&found[0].1), same(&created));

    // The url a reference (not known yet): found by tags alone.
    let found = kind.find_existing(&read_ctx(STACK, REGION), &[("github".into(), Props::new())]).await.unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].1.id, GITHUB_ARN);

    let tagged = kind.find_tagged(&read_ctx(STACK, REGION)).await.unwrap();
    assert_eq!(tagged.len(), 1, "the untagged GitLab provider is not this stack's");
    assert_eq!(tagged[0].0, "github");
    assert_eq!(same(&tagged[0].1), same(&created));
    let other_stack = ReadCtx::new("other", REGION);
    assert!(kind.find_tagged(&other_stack).await.unwrap().is_empty());
    assert!(kind.find_existing(&other_stack, &[("github".into(), desired.clone())]).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_provider_for_the_url_that_is_not_ours_is_refused_with_what_to_do() {
    let moto = Moto::start();
    let aws = moto.aws().await;
    let iam = aws.iam();
    let kind = Adapter(OidcProvider::new(aws.iam()));
    // Created by hand (or by another tool) before this stack.
    iam.create_open_id_connect_provider()
        .url(GITHUB_URL)
        .client_id_list("sts.amazonaws.com")
        .thumbprint_list(THUMB_A)
        .tags(aws_sdk_iam::types::Tag::builder().key("owner").value("ops").build().unwrap())
        .send()
        .await
        .unwrap();

    let desired =
        props(json!({"url": GITHUB_URL, "client_id_list": ["sts.amazonaws.com"], "thumbprint_list": [THUMB_B]}));
    let (ctx, _rx) = op(&oidc_provider::SCHEMA, "github", StepAction::Create, tags("github", &[]));
    let e = kind.create(&ctx, &desired).await.unwrap_err();
    assert!(e.code_is("EntityAlreadyExists"), "{e:?}");
    assert!(e.message.contains(GITHUB_ARN), "the error names the existing provider: {e}");
    assert!(e.message.contains("github"), "{e}");
    let hint = e.hint.clone().unwrap_or_default();
    assert!(hint.contains(GITHUB_ARN) && hint.contains("reference"), "{hint}");
    assert!(hint.contains("deployctl:stack=app") && hint.contains("deployctl:resource=github"), "{hint}");

    // Nothing was overwritten.
    let (ids, thumbs, raw_tags) = raw(&iam, GITHUB_ARN).await;
    assert_eq!((ids, thumbs), (vec!["sts.amazonaws.com".to_string()], vec![THUMB_A.to_string()]));
    assert_eq!(raw_tags, BTreeMap::from([("owner".to_string(), "ops".to_string())]));
    assert!(kind
        .find_existing(&read_ctx(STACK, REGION), &[("github".into(), desired.clone())])
        .await
        .unwrap()
        .is_empty());

    // Imported by tagging it as the error says: adopted, and a create that
    // meets it converges it (thumbprints, tags) rather than failing.
    iam.tag_open_id_connect_provider()
        .open_id_connect_provider_arn(GITHUB_ARN)
        .tags(aws_sdk_iam::types::Tag::builder().key("deployctl:stack").value(STACK).build().unwrap())
        .tags(aws_sdk_iam::types::Tag::builder().key("deployctl:resource").value("github").build().unwrap())
        .send()
        .await
        .unwrap();
    let found = kind.find_existing(&read_ctx(STACK, REGION), &[("github".into(), desired.clone())]).await.unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].1.properties["url"], json!(GITHUB_URL), "the candidate's spelling of the same url");
    assert_eq!(diff(&desired, &found[0].1).len(), 1, "only the thumbprints differ");

    let adopted = kind.create(&ctx, &desired).await.unwrap();
    assert_eq!(adopted.id, GITHUB_ARN);
    assert_eq!(diff(&desired, &adopted), vec![]);
    assert_eq!(adopted.tags, tags("github", &[]), "tags converge to the stack's");
    let (_, thumbs, raw_tags) = raw(&iam, GITHUB_ARN).await;
    assert_eq!(thumbs, [THUMB_B]);
    assert!(!raw_tags.contains_key("deployctl:url"));
    assert!(!raw_tags.contains_key("owner"));
}

#[tokio::test]
async fn a_url_that_is_not_https_is_refused_before_any_call() {
    let moto = Moto::start();
    let aws = moto.aws().await;
    let kind = Adapter(OidcProvider::new(aws.iam()));
    let desired = props(json!({"url": "http://token.actions.githubusercontent.com", "client_id_list": ["x"]}));
    let (ctx, _rx) = op(&oidc_provider::SCHEMA, "github", StepAction::Create, tags("github", &[]));
    let e = kind.create(&ctx, &desired).await.unwrap_err();
    assert!(e.hint.as_deref().is_some_and(|h| h.contains("https://")), "{e:?}");
    assert!(aws
        .iam()
        .list_open_id_connect_providers()
        .send()
        .await
        .unwrap()
        .open_id_connect_provider_list()
        .is_empty());
}
