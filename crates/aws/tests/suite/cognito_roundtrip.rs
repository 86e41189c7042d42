//! The Cognito kinds against a moto server of the test's own: a pool with
//! email sign-in and optional MFA, a client with a generated secret read
//! only through the `cognito:` secret source, and the hosted domain; each
//! read back clean, changed in place with the whole configuration, and
//! deleted twice.

use crate::support::kit::{assert_clean, changes, op, props, read_ctx, read_one, read_opt};
use crate::support::moto::Moto;
use deployctl_aws::cognito::client::{PoolClient, SCHEMA as CLIENT};
use deployctl_aws::cognito::domain::{Domain, SCHEMA as DOMAIN};
use deployctl_aws::cognito::user_pool::{UserPool, SCHEMA as POOL};
use deployctl_aws::kit::Adapter;
use deployctl_aws::secret_store::AwsSecretStore;
use deployctl_engine::secrets::SecretStore;
use deployctl_engine::{ResourceKind, StepAction};
use serde_json::{json, Value};

const STACK: &str = "shop";
const REGION: &str = "us-east-2";

#[tokio::test]
async fn cognito_pool_client_and_domain_round_trip_and_the_secret_stays_out() {
    let moto = Moto::start();
    let aws = moto.aws().await;
    let rc = read_ctx(STACK, REGION);

    // The pool: the seed's settings, mostly the defaults.
    let pools = Adapter(UserPool::new(aws.cognito()));
    let want_pool = props(json!({"mfa_configuration": "OPTIONAL", "password_policy": {"minimum_length": 10}}));
    let ctx = op(STACK, REGION, "users", POOL.type_name, StepAction::Create, &[("team", "shop")]);
    let created = pools.create(&ctx, &want_pool).await.unwrap();
    let pool_id = created.id.clone();
    let live_pool = read_one(&pools, &rc, &pool_id).await;
    assert_clean(&POOL, &want_pool, &live_pool);
    let raw = aws.cognito().describe_user_pool().user_pool_id(&pool_id).send().await.unwrap();
    let raw = raw.user_pool().unwrap();
    assert_eq!(raw.name(), Some("shop-users"));
    assert_eq!(raw.username_attributes().iter().map(|a| a.as_str()).collect::<Vec<_>>(), ["email"]);
    assert_eq!(raw.auto_verified_attributes().iter().map(|a| a.as_str()).collect::<Vec<_>>(), ["email"]);
    assert_eq!(raw.mfa_configuration().map(|m| m.as_str()), Some("OPTIONAL"));
    let policy = raw.policies().and_then(|p| p.password_policy()).unwrap();
    assert_eq!((policy.minimum_length(), policy.require_symbols()), (Some(10), true));
    let recovery = raw.account_recovery_setting().unwrap().recovery_mechanisms();
    assert_eq!(recovery[0].name().as_str(), "verified_email");
    assert_eq!(live_pool.tags.get("team").map(String::as_str), Some("shop"));

    // An update sends everything: what is not changed stays.
    let stricter = props(json!({"mfa_configuration": "OPTIONAL", "password_policy": {"minimum_length": 12}}));
    assert_eq!(changes(&POOL, &stricter, &live_pool), ["password_policy"]);
    let ctx = op(STACK, REGION, "users", POOL.type_name, StepAction::Update, &[("team", "shop")]);
    pools.update(&ctx, &live_pool, &stricter, &["password_policy".into()]).await.unwrap();
    let live_pool = read_one(&pools, &rc, &pool_id).await;
    // moto 5.2.5 forgets UsernameAttributes on UpdateUserPool, which does
    // not take them; AWS keeps them (they are fixed once the pool exists).
    let left: Vec<String> = changes(&POOL, &stricter, &live_pool);
    assert!(left.is_empty() || left == ["username_attributes"], "{left:?}");
    assert_eq!(live_pool.properties["password_policy"]["minimum_length"], json!(12));
    assert_eq!(live_pool.tags.get("team").map(String::as_str), Some("shop"), "tags survive an update");

    // The client: a generated secret, never in what deployctl returns.
    let clients = Adapter(PoolClient::new(aws.cognito()));
    let want_client = props(json!({
        "user_pool_id": pool_id,
        "generate_secret": true,
        "explicit_auth_flows": ["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
        "access_token_validity_minutes": 60,
        "refresh_token_validity_days": 30,
    }));
    let ctx = op(STACK, REGION, "web", CLIENT.type_name, StepAction::Create, &[]);
    let created = clients.create(&ctx, &want_client).await.unwrap();
    let client_id = created.attributes["client_id"].as_str().unwrap().to_string();
    assert_eq!(created.id, format!("{pool_id}/{client_id}"));
    assert_eq!(created.attributes["id"], json!(client_id));
    let live_client = read_one(&clients, &rc, &created.id).await;
    assert_clean(&CLIENT, &want_client, &live_client);
    let raw = aws.cognito().describe_user_pool_client().user_pool_id(&pool_id).client_id(&client_id).send().await;
    let secret = raw.unwrap().user_pool_client.unwrap().client_secret.expect("a generated secret");
    for seen in [&created, &live_client] {
        let text = format!("{seen:?} {}", Value::Object(seen.properties.clone()));
        assert!(!text.contains(&secret), "the client secret leaked: {text}");
    }
    // Read only through the secret source.
    let store = AwsSecretStore::new(aws.secretsmanager(), aws.cognito());
    let read = store.get_secret(&format!("cognito:{pool_id}/{client_id}")).await.unwrap();
    assert_eq!(read.expose(), secret);
    let missing = store.get_secret(&format!("cognito:{pool_id}/nope")).await.unwrap_err();
    assert!(missing.message.contains("reading the secret of Cognito client"), "{missing:?}");

    // Validity changes in place; the rest is sent again, unchanged.
    let longer = {
        let mut p = want_client.clone();
        p.insert("access_token_validity_minutes".into(), json!(120));
        p
    };
    assert_eq!(changes(&CLIENT, &longer, &live_client), ["access_token_validity_minutes"]);
    let ctx = op(STACK, REGION, "web", CLIENT.type_name, StepAction::Update, &[]);
    clients.update(&ctx, &live_client, &longer, &["access_token_validity_minutes".into()]).await.unwrap();
    let live_client = read_one(&clients, &rc, &created.id).await;
    assert_clean(&CLIENT, &longer, &live_client);

    // A create repeated after a crash finds the client by its name.
    let found = clients.find_existing(&rc, &[("web".into(), want_client.clone())]).await.unwrap();
    assert_eq!(
        found.iter().map(|(a, o)| (a.as_str(), o.id.as_str())).collect::<Vec<_>>(),
        [("web", created.id.as_str())]
    );

    // The domain.
    let domains = Adapter(Domain::new(aws.cognito()));
    let want_domain = props(json!({"domain": "shop-signin", "user_pool_id": pool_id}));
    let ctx = op(STACK, REGION, "auth", DOMAIN.type_name, StepAction::Create, &[]);
    let created_domain = domains.create(&ctx, &want_domain).await.unwrap();
    assert_eq!(created_domain.attributes["url"], json!("https://shop-signin.auth.us-east-2.amazoncognito.com"));
    let live_domain = read_one(&domains, &rc, "shop-signin").await;
    assert_clean(&DOMAIN, &want_domain, &live_domain);
    // Repeated after a crash: the domain is the pool's already.
    domains.create(&ctx, &want_domain).await.unwrap();

    // Everything goes, twice.
    let ctx = op(STACK, REGION, "auth", DOMAIN.type_name, StepAction::Delete, &[]);
    domains.delete(&ctx, &live_domain, &want_domain).await.unwrap();
    domains.delete(&ctx, &live_domain, &want_domain).await.unwrap();
    assert!(read_opt(&domains, &rc, "shop-signin").await.is_none());
    let ctx = op(STACK, REGION, "web", CLIENT.type_name, StepAction::Delete, &[]);
    clients.delete(&ctx, &live_client, &Default::default()).await.unwrap();
    clients.delete(&ctx, &live_client, &Default::default()).await.unwrap();
    assert!(read_opt(&clients, &rc, &created.id).await.is_none());
    let ctx = op(STACK, REGION, "users", POOL.type_name, StepAction::Delete, &[]);
    pools.delete(&ctx, &live_pool, &Default::default()).await.unwrap();
    pools.delete(&ctx, &live_pool, &Default::default()).await.unwrap();
    assert!(read_opt(&pools, &rc, &pool_id).await.is_none());
}
