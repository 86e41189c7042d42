//! `cognito.user_pool_client`: an app's client of a user pool.
//!
//! Its id in state is `POOL_ID/CLIENT_ID` (DescribeUserPoolClient needs
//! both); its `id` attribute is the client id. A generated secret is never
//! read into state, the plan or the output: a resource that needs it takes
//! the `cognito:${pool.id}/${client.id}` secret source, read when its step
//! runs. Create is one CreateUserPoolClient; an update is
//! UpdateUserPoolClient with the whole configuration (Cognito resets what
//! it leaves out). The pool and `generate_secret` force a new client.
//! Clients take no tags: a create repeated after a crash adopts the one
//! client of the pool with its name, the pool being this stack's.

use crate::error::from_sdk;
use crate::kit::{attrs, check_each, literal_strings, model, unless_gone, Adopt, Created, Kind, Live, Model};
use aws_sdk_cognitoidentityprovider::types::{
    ExplicitAuthFlowsType, OAuthFlowType, PreventUserExistenceErrorTypes, TimeUnitsType, TokenValidityUnitsType,
    UserPoolClientType,
};
use aws_sdk_cognitoidentityprovider::Client;
use deployctl_engine::{Observed, OpCtx, Props, ProviderError, ReadCtx};
use deployctl_spec::{Attr, KindSchema, Literals, RuleViolation};
use serde_json::{json, Value};

model! {
    pub struct ClientModel {
        user_pool_id: String = "The `cognito.user_pool`'s id." [required, replace],
        name: Option<String> = "The client's name. Unset: `<stack>-<address>`." [name(1, 128, "A-Za-z0-9_ +=,.@-")],
        generate_secret: bool = "Whether Cognito generates a client secret (for a server-side app). It is never \
            stored; other resources read it as `cognito:${POOL.id}/${CLIENT.id}`." [default("false"), replace],
        explicit_auth_flows: Vec<String> = "The sign-in flows it may use: `ALLOW_USER_SRP_AUTH`, \
            `ALLOW_REFRESH_TOKEN_AUTH`, `ALLOW_USER_PASSWORD_AUTH`, `ALLOW_ADMIN_USER_PASSWORD_AUTH`, …"
            [default("[\"ALLOW_USER_SRP_AUTH\", \"ALLOW_REFRESH_TOKEN_AUTH\"]")],
        access_token_validity_minutes: i64 = "How long an access token is valid: 5 minutes to a day."
            [default("60"), range(5, 1440)],
        id_token_validity_minutes: i64 = "How long an ID token is valid: 5 minutes to a day."
            [default("60"), range(5, 1440)],
        refresh_token_validity_days: i64 = "How long a refresh token is valid: 1 to 3,650 days."
            [default("30"), range(1, 3650)],
        allowed_oauth_flows: Vec<String> = "OAuth flows for the hosted UI: `code`, `implicit`, \
            `client_credentials`. Unset: none." [default("[]")],
        allowed_oauth_scopes: Vec<String> = "OAuth scopes: `openid`, `email`, `profile`, …" [default("[]")],
        callback_urls: Vec<String> = "Where the hosted UI may redirect after sign-in (https://, an app scheme, or http://localhost)."
            [default("[]")],
        logout_urls: Vec<String> = "Where it may redirect after sign-out." [default("[]")],
        supported_identity_providers: Option<Vec<String>> = "`COGNITO` and any federated providers. Unset: \
            `COGNITO` when OAuth flows are set, and not managed.",
        prevent_user_existence_errors: String = "`ENABLED` (sign-in errors do not say whether a user exists) or \
            `LEGACY`." [default("\"ENABLED\""), one_of(PreventUserExistenceErrorTypes::values())],
        enable_token_revocation: bool = "Whether refresh tokens can be revoked." [default("true")],
    }
}

pub static SCHEMA: KindSchema = KindSchema {
    type_name: "cognito.user_pool_client",
    doc: "An app client of a Cognito user pool: which sign-in flows it may use and how long its tokens last. With \
          `generate_secret: true` Cognito makes a client secret, which deployctl never stores: a task's secret \
          or a Secrets Manager secret takes it as `cognito:${pool.id}/${client.id}`. Every update sends the whole \
          configuration (Cognito resets what an update leaves out).",
    properties: <ClientModel as Model>::PROPS,
    attributes: &[
        Attr { name: "id", doc: "The client id." },
        Attr { name: "client_id", doc: "The client id." },
        Attr { name: "user_pool_id", doc: "The pool's id." },
        Attr { name: "name", doc: "The client's name." },
    ],
    taggable: false,
    rules: &[flow_values],
    example: "web:\n  type: cognito.user_pool_client\n  properties:\n    user_pool_id: ${users.id}\n    generate_secret: true\n    explicit_auth_flows: [ALLOW_USER_SRP_AUTH, ALLOW_REFRESH_TOKEN_AUTH]\n",
};

fn flow_values(p: &Literals) -> Option<RuleViolation> {
    let violation = |field, message: String, hint: String| Some(RuleViolation { field, message, hint });
    let each =
        [("explicit_auth_flows", ExplicitAuthFlowsType::values()), ("allowed_oauth_flows", OAuthFlowType::values())];
    if let Some(v) = each.into_iter().find_map(|(field, values)| check_each(p, field, values)) {
        return Some(v);
    }
    let flows = literal_strings(p, "allowed_oauth_flows");
    if flows.contains(&"client_credentials") && flows.len() > 1 {
        return violation(
            "allowed_oauth_flows",
            "client_credentials cannot be combined with code or implicit".into(),
            "use a second client for the other flows".into(),
        );
    }
    if !flows.is_empty() && literal_strings(p, "allowed_oauth_scopes").is_empty() {
        return violation(
            "allowed_oauth_scopes",
            "OAuth flows need at least one scope".into(),
            "add allowed_oauth_scopes, e.g. [openid, email]".into(),
        );
    }
    for field in ["callback_urls", "logout_urls"] {
        let plain_http = |u: &&str| u.starts_with("http://") && !u.starts_with("http://localhost");
        if let Some(bad) = literal_strings(p, field).into_iter().find(|u| plain_http(u) || u.contains('#')) {
            return violation(
                field,
                format!("{bad:?}: Cognito takes https:// (http:// only for localhost), an app scheme, and no fragment"),
                "write an https:// URL without a #fragment".into(),
            );
        }
    }
    None
}

fn attributes(c: &UserPoolClientType) -> Props {
    let id = c.client_id().unwrap_or_default();
    attrs([
        ("id", json!(id)),
        ("client_id", json!(id)),
        ("user_pool_id", json!(c.user_pool_id())),
        ("name", json!(c.client_name())),
    ])
}

/// A validity in `unit` as the model's unit (minutes or days).
fn in_unit(value: Option<i32>, unit: Option<&TimeUnitsType>, want: &TimeUnitsType, default: i64) -> i64 {
    let Some(v) = value.map(i64::from) else { return default };
    let seconds = match unit.unwrap_or(want) {
        TimeUnitsType::Seconds => v,
        TimeUnitsType::Minutes => v * 60,
        TimeUnitsType::Hours => v * 3600,
        TimeUnitsType::Days => v * 86400,
        _ => return v,
    };
    match want {
        TimeUnitsType::Days => seconds / 86400,
        _ => seconds / 60,
    }
}

fn model_of(c: &UserPoolClientType) -> ClientModel {
    let units = c.token_validity_units();
    let strings = |v: &[String]| v.to_vec();
    ClientModel {
        user_pool_id: c.user_pool_id().unwrap_or_default().to_string(),
        name: c.client_name().map(str::to_string),
        generate_secret: c.client_secret().is_some(),
        explicit_auth_flows: c.explicit_auth_flows().iter().map(|f| f.as_str().to_string()).collect(),
        access_token_validity_minutes: in_unit(
            c.access_token_validity(),
            units.and_then(|u| u.access_token()),
            &TimeUnitsType::Minutes,
            60,
        ),
        id_token_validity_minutes: in_unit(
            c.id_token_validity(),
            units.and_then(|u| u.id_token()),
            &TimeUnitsType::Minutes,
            60,
        ),
        refresh_token_validity_days: in_unit(
            Some(c.refresh_token_validity()).filter(|v| *v > 0),
            units.and_then(|u| u.refresh_token()),
            &TimeUnitsType::Days,
            30,
        ),
        allowed_oauth_flows: c.allowed_o_auth_flows().iter().map(|f| f.as_str().to_string()).collect(),
        allowed_oauth_scopes: strings(c.allowed_o_auth_scopes()),
        callback_urls: strings(c.callback_urls()),
        logout_urls: strings(c.logout_urls()),
        supported_identity_providers: Some(strings(c.supported_identity_providers())),
        prevent_user_existence_errors: c.prevent_user_existence_errors().map_or("LEGACY", |p| p.as_str()).to_string(),
        enable_token_revocation: c.enable_token_revocation().unwrap_or(true),
    }
}

fn units() -> TokenValidityUnitsType {
    TokenValidityUnitsType::builder()
        .access_token(TimeUnitsType::Minutes)
        .id_token(TimeUnitsType::Minutes)
        .refresh_token(TimeUnitsType::Days)
        .build()
}

fn providers(want: &ClientModel) -> Vec<String> {
    match &want.supported_identity_providers {
        Some(p) => p.clone(),
        None if !want.allowed_oauth_flows.is_empty() => vec!["COGNITO".into()],
        None => Vec::new(),
    }
}

/// The settings CreateUserPoolClient and UpdateUserPoolClient both take,
/// set on either builder from the model.
macro_rules! settings {
    ($call:expr, $want:expr) => {{
        let want = $want;
        $call
            .set_explicit_auth_flows(Some(
                want.explicit_auth_flows.iter().map(|f| ExplicitAuthFlowsType::from(f.as_str())).collect(),
            ))
            .access_token_validity(want.access_token_validity_minutes as i32)
            .id_token_validity(want.id_token_validity_minutes as i32)
            .refresh_token_validity(want.refresh_token_validity_days as i32)
            .token_validity_units(units())
            .set_allowed_o_auth_flows(Some(
                want.allowed_oauth_flows.iter().map(|f| OAuthFlowType::from(f.as_str())).collect(),
            ))
            .set_allowed_o_auth_scopes(Some(want.allowed_oauth_scopes.clone()))
            .allowed_o_auth_flows_user_pool_client(!want.allowed_oauth_flows.is_empty())
            .prevent_user_existence_errors(PreventUserExistenceErrorTypes::from(
                want.prevent_user_existence_errors.as_str(),
            ))
            .enable_token_revocation(want.enable_token_revocation)
    }};
}

pub struct PoolClient {
    client: Client,
}

impl PoolClient {
    pub fn new(client: Client) -> PoolClient {
        PoolClient { client }
    }

    async fn read_one(&self, id: &str) -> Result<Option<Live<ClientModel>>, ProviderError> {
        let Some((pool, client)) = id.split_once('/') else { return Ok(None) };
        let out = self.client.describe_user_pool_client().user_pool_id(pool).client_id(client).send().await;
        let out = out.map_err(|e| crate::error::from_sdk_secret(e, "the answer to DescribeUserPoolClient"));
        let Some(out) = unless_gone(out, crate::is_not_found)? else { return Ok(None) };
        let Some(c) = out.user_pool_client else { return Ok(None) };
        Ok(Some(Live { id: id.to_string(), model: model_of(&c), attributes: attributes(&c), tags: Default::default() }))
    }
}

#[async_trait::async_trait]
impl Kind for PoolClient {
    type Model = ClientModel;
    const ADOPT: Adopt = Adopt::Custom;

    fn schema(&self) -> &'static KindSchema {
        &SCHEMA
    }

    async fn read(&self, _ctx: &ReadCtx, ids: &[String]) -> Result<Vec<Live<ClientModel>>, ProviderError> {
        crate::read_each(ids.iter().map(|id| self.read_one(id))).await
    }

    /// The one client of the wanted pool with the wanted name: clients take
    /// no tags, and the pool is this stack's.
    async fn find_existing(
        &self,
        ctx: &ReadCtx,
        wanted: &[(String, Props)],
    ) -> Result<Vec<(String, Observed)>, ProviderError> {
        let mut out = Vec::new();
        for (address, p) in wanted {
            let Some(pool) = p.get("user_pool_id").and_then(Value::as_str) else { continue };
            let name = p
                .get("name")
                .and_then(Value::as_str)
                .map_or_else(|| super::default_name(&ctx.stack, address), str::to_string);
            let mut ids = Vec::new();
            let mut pages =
                self.client.list_user_pool_clients().user_pool_id(pool).max_results(60).into_paginator().send();
            while let Some(page) = pages.next().await {
                let Some(page) = unless_gone(page.map_err(from_sdk), crate::is_not_found)? else { break };
                for c in page.user_pool_clients() {
                    if c.client_name() == Some(name.as_str()) {
                        ids.extend(c.client_id().map(|c| format!("{pool}/{c}")));
                    }
                }
            }
            if let [id] = ids.as_slice() {
                if let Some(live) = self.read_one(id).await? {
                    out.push((address.clone(), live.observed()));
                }
            }
        }
        Ok(out)
    }

    async fn create(&self, ctx: &OpCtx, want: &ClientModel) -> Result<Created, ProviderError> {
        let name = want.name.clone().unwrap_or_else(|| super::default_name(&ctx.stack, &ctx.address));
        let call = self.client.create_user_pool_client().user_pool_id(&want.user_pool_id).client_name(&name);
        let call = settings!(call.generate_secret(want.generate_secret), want);
        let call = call
            .set_callback_urls(Some(want.callback_urls.clone()).filter(|u| !u.is_empty()))
            .set_logout_urls(Some(want.logout_urls.clone()).filter(|u| !u.is_empty()))
            .set_supported_identity_providers(Some(providers(want)).filter(|p| !p.is_empty()));
        let out =
            call.send().await.map_err(|e| crate::error::from_sdk_secret(e, "the answer to CreateUserPoolClient"))?;
        let c = out.user_pool_client.ok_or_else(|| ProviderError::msg("CreateUserPoolClient answered no client"))?;
        let id = format!("{}/{}", want.user_pool_id, c.client_id().unwrap_or_default());
        ctx.record_id(&id);
        Ok(Created { id, attributes: attributes(&c) })
    }

    async fn update(
        &self,
        _ctx: &OpCtx,
        live: &Observed,
        want: &ClientModel,
        _changed: &[&str],
    ) -> Result<Option<Props>, ProviderError> {
        let (pool, client) = live.id.split_once('/').unwrap_or_default();
        let name =
            want.name.clone().or_else(|| live.attributes.get("name").and_then(Value::as_str).map(str::to_string));
        // Everything, as Cognito resets what an update leaves out.
        let call = self.client.update_user_pool_client().user_pool_id(pool).client_id(client).set_client_name(name);
        let call = settings!(call, want)
            .set_callback_urls(Some(want.callback_urls.clone()))
            .set_logout_urls(Some(want.logout_urls.clone()))
            .set_supported_identity_providers(Some(providers(want)));
        let out =
            call.send().await.map_err(|e| crate::error::from_sdk_secret(e, "the answer to UpdateUserPoolClient"))?;
        Ok(out.user_pool_client.map(|c| attributes(&c)))
    }

    async fn delete(&self, _ctx: &OpCtx, live: &Observed, _: Option<&ClientModel>) -> Result<(), ProviderError> {
        let (pool, client) = live.id.split_once('/').unwrap_or_default();
        self.client.delete_user_pool_client().user_pool_id(pool).client_id(client).send().await.map_err(from_sdk)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::kit::literals as lit;

    #[test]
    fn flows_cognito_refuses_are_refused_offline() {
        assert!(flow_values(&lit(json!({"explicit_auth_flows": ["ALLOW_USER_SRP_AUTH"]}))).is_none());
        assert!(flow_values(&lit(json!({"explicit_auth_flows": ["USER_SRP"]}))).is_some());
        assert!(flow_values(&lit(
            json!({"allowed_oauth_flows": ["code", "client_credentials"], "allowed_oauth_scopes": ["openid"]})
        ))
        .is_some());
        assert!(flow_values(&lit(json!({"allowed_oauth_flows": ["code"]}))).unwrap().field == "allowed_oauth_scopes");
        assert!(flow_values(&lit(json!({"callback_urls": ["http://shop.example.com/cb"]}))).is_some());
        assert!(flow_values(&lit(json!({"callback_urls": ["myapp://callback", "http://localhost:3000/cb"]}))).is_none());
        assert!(flow_values(&lit(json!({"logout_urls": ["https://shop.example.com/#out"]}))).is_some());
    }

    #[test]
    fn validities_are_read_in_the_models_units() {
        assert_eq!(in_unit(Some(1), Some(&TimeUnitsType::Hours), &TimeUnitsType::Minutes, 60), 60);
        assert_eq!(in_unit(Some(30), Some(&TimeUnitsType::Days), &TimeUnitsType::Days, 1), 30);
        assert_eq!(in_unit(Some(3600), Some(&TimeUnitsType::Seconds), &TimeUnitsType::Minutes, 5), 60);
        assert_eq!(in_unit(None, None, &TimeUnitsType::Minutes, 60), 60);
    }
}
