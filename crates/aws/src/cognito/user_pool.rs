//! `cognito.user_pool`: a directory of users who sign in to an app.
//!
//! Create is one CreateUserPool with the tags (`UserPoolTags`), then, for
//! MFA, one SetUserPoolMfaConfig turning on authenticator apps (TOTP). An
//! update is UpdateUserPool with the whole configuration deployctl
//! manages: Cognito resets whatever an update leaves out, so nothing is
//! sent as a partial change. The name and the sign-in attributes force a
//! new pool. Reads: one DescribeUserPool per pool (the tags come with it).
//! Adoption after a crash: ListUserPools, then the pools with a wanted
//! name, by their tags.

use crate::error::from_sdk;
use crate::kit::tagger::CognitoTags;
use crate::kit::{attrs, check_each, literal_strings, model, own_tags, Adopt, Created, Kind, Live, Model, Tagger};
use aws_sdk_cognitoidentityprovider::types::{
    AccountRecoverySettingType, DeletionProtectionType, PasswordPolicyType, RecoveryOptionNameType, RecoveryOptionType,
    SoftwareTokenMfaConfigType, UserPoolMfaType, UserPoolPolicyType, UserPoolType, UsernameAttributeType,
    VerifiedAttributeType,
};
use aws_sdk_cognitoidentityprovider::Client;
use deployctl_engine::{Observed, OpCtx, Props, ProviderError, ReadCtx};
use deployctl_spec::{Attr, KindSchema, Literals, RuleViolation, Type};
use serde_json::{json, Value};
use std::collections::BTreeSet;

model! {
    pub struct PasswordPolicy {
        minimum_length: i64 = "The shortest password." [default("8"), range(6, 99)],
        require_lowercase: bool = "Whether a password needs a lowercase letter." [default("true")],
        require_uppercase: bool = "Whether a password needs an uppercase letter." [default("true")],
        require_numbers: bool = "Whether a password needs a digit." [default("true")],
        require_symbols: bool = "Whether a password needs a symbol." [default("true")],
        temporary_password_validity_days: i64 = "Days an administrator-set temporary password is valid."
            [default("7"), range(0, 365)],
    }
}

model! {
    pub struct UserPoolModel {
        name: Option<String> = "The pool's name. Unset: `<stack>-<address>`." [replace, name(1, 128, "A-Za-z0-9_ +=,.@-")],
        username_attributes: Vec<String> = "What users sign in with instead of a user name: `email`, \
            `phone_number`, or both. Fixed once the pool exists." [default("[\"email\"]"), replace],
        auto_verified_attributes: Vec<String> = "What Cognito verifies by sending a code: `email`, `phone_number`."
            [default("[\"email\"]")],
        password_policy: PasswordPolicy = "The password rules." [default("{}")],
        mfa_configuration: String = "`OFF`, `OPTIONAL` (each user may add an authenticator app) or `ON`; MFA \
            uses authenticator apps (TOTP)." [default("\"OFF\""), one_of(UserPoolMfaType::values())],
        account_recovery: Vec<String> = "How a user who forgot the password recovers, in order: \
            `verified_email`, `verified_phone_number`, or `admin_only` alone."
            [default("[\"verified_email\"]"), typed(Type::List(&Type::String))],
        deletion_protection: bool = "Whether Cognito refuses to delete the pool (and its users)." [default("false")],
    }
}

pub static SCHEMA: KindSchema = KindSchema {
    type_name: "cognito.user_pool",
    doc: "A Cognito user pool: sign-up and sign-in for an app's users. By default users sign in with their email \
          address, which Cognito verifies, passwords need 8 characters of four kinds, MFA is off, and a forgotten \
          password is recovered by email. Every update sends the whole configuration (Cognito resets what an \
          update leaves out); settings deployctl does not manage (Lambda triggers, custom email) are reset too.",
    properties: <UserPoolModel as Model>::PROPS,
    attributes: &[
        Attr { name: "id", doc: "The pool's id (`us-east-2_AbCdEf123`)." },
        Attr { name: "arn", doc: "The pool's ARN." },
        Attr { name: "name", doc: "The pool's name." },
        Attr { name: "endpoint", doc: "The issuer: `cognito-idp.<region>.amazonaws.com/<id>`." },
    ],
    taggable: true,
    rules: &[sign_in_values],
    example: "users:\n  type: cognito.user_pool\n  properties:\n    mfa_configuration: OPTIONAL\n    password_policy: {minimum_length: 12}\n",
};

/// The values CreateUserPool takes in its lists, and account recovery's
/// shape: one or two mechanisms, or `admin_only` alone.
fn sign_in_values(p: &Literals) -> Option<RuleViolation> {
    let violation = |field, message: String, hint: &str| Some(RuleViolation { field, message, hint: hint.into() });
    for field in ["username_attributes", "auto_verified_attributes"] {
        if let Some(v) = check_each(p, field, &["email", "phone_number"]) {
            return Some(v);
        }
    }
    if let Some(v) = check_each(p, "account_recovery", RecoveryOptionNameType::values()) {
        return Some(v);
    }
    let recovery = literal_strings(p, "account_recovery");
    let distinct: BTreeSet<&&str> = recovery.iter().collect();
    if recovery.len() > 2
        || distinct.len() != recovery.len()
        || (recovery.contains(&"admin_only") && recovery.len() > 1)
    {
        return violation(
            "account_recovery",
            format!("{recovery:?}: Cognito takes one or two distinct mechanisms, and admin_only only alone"),
            "write [verified_email], [verified_email, verified_phone_number] or [admin_only]",
        );
    }
    None
}

fn attributes(p: &UserPoolType, region: &str) -> Props {
    let id = p.id().unwrap_or_default();
    attrs([
        ("id", json!(id)),
        ("arn", json!(p.arn())),
        ("name", json!(p.name())),
        ("endpoint", json!(format!("cognito-idp.{region}.amazonaws.com/{id}"))),
    ])
}

fn model_of(p: &UserPoolType) -> UserPoolModel {
    let policy = p.policies().and_then(|p| p.password_policy());
    let mut recovery: Vec<&RecoveryOptionType> =
        p.account_recovery_setting().map(|s| s.recovery_mechanisms().iter().collect()).unwrap_or_default();
    recovery.sort_by_key(|r| r.priority());
    UserPoolModel {
        name: p.name().map(str::to_string),
        username_attributes: p.username_attributes().iter().map(|a| a.as_str().to_string()).collect(),
        auto_verified_attributes: p.auto_verified_attributes().iter().map(|a| a.as_str().to_string()).collect(),
        password_policy: PasswordPolicy {
            minimum_length: policy.and_then(|p| p.minimum_length()).unwrap_or(8).into(),
            require_lowercase: policy.is_some_and(|p| p.require_lowercase()),
            require_uppercase: policy.is_some_and(|p| p.require_uppercase()),
            require_numbers: policy.is_some_and(|p| p.require_numbers()),
            require_symbols: policy.is_some_and(|p| p.require_symbols()),
            temporary_password_validity_days: policy.map_or(7, |p| p.temporary_password_validity_days()).into(),
        },
        mfa_configuration: p.mfa_configuration().map_or("OFF", |m| m.as_str()).to_string(),
        account_recovery: recovery.iter().map(|r| r.name().as_str().to_string()).collect(),
        deletion_protection: p.deletion_protection() == Some(&DeletionProtectionType::Active),
    }
}

fn policies(want: &UserPoolModel) -> UserPoolPolicyType {
    let p = &want.password_policy;
    let password = PasswordPolicyType::builder()
        .minimum_length(p.minimum_length as i32)
        .require_lowercase(p.require_lowercase)
        .require_uppercase(p.require_uppercase)
        .require_numbers(p.require_numbers)
        .require_symbols(p.require_symbols)
        .temporary_password_validity_days(p.temporary_password_validity_days as i32)
        .build();
    UserPoolPolicyType::builder().password_policy(password).build()
}

fn recovery(want: &UserPoolModel) -> Result<AccountRecoverySettingType, ProviderError> {
    let options = want.account_recovery.iter().enumerate().map(|(i, name)| {
        RecoveryOptionType::builder()
            .name(RecoveryOptionNameType::from(name.as_str()))
            .priority(i as i32 + 1)
            .build()
            .map_err(|e| ProviderError::msg(e.to_string()))
    });
    Ok(AccountRecoverySettingType::builder().set_recovery_mechanisms(Some(options.collect::<Result<_, _>>()?)).build())
}

fn protection(want: &UserPoolModel) -> DeletionProtectionType {
    if want.deletion_protection {
        DeletionProtectionType::Active
    } else {
        DeletionProtectionType::Inactive
    }
}

pub struct UserPool {
    client: Client,
    tags: CognitoTags,
}

impl UserPool {
    pub fn new(client: Client) -> UserPool {
        UserPool { tags: CognitoTags(client.clone()), client }
    }

    async fn read_one(&self, region: &str, id: &str) -> Result<Option<Live<UserPoolModel>>, ProviderError> {
        let Some(p) = super::describe_pool(&self.client, id).await? else { return Ok(None) };
        let tags = own_tags(p.user_pool_tags().map(|t| t.clone().into_iter()).into_iter().flatten());
        Ok(Some(Live { id: id.to_string(), model: model_of(&p), attributes: attributes(&p, region), tags }))
    }

    /// Turns authenticator-app MFA on (`OPTIONAL` or `ON`) or off.
    async fn set_mfa(&self, id: &str, want: &UserPoolModel) -> Result<(), ProviderError> {
        let on = want.mfa_configuration != "OFF";
        self.client
            .set_user_pool_mfa_config()
            .user_pool_id(id)
            .mfa_configuration(UserPoolMfaType::from(want.mfa_configuration.as_str()))
            .software_token_mfa_configuration(SoftwareTokenMfaConfigType::builder().enabled(on).build())
            .send()
            .await
            .map_err(from_sdk)?;
        Ok(())
    }
}

#[async_trait::async_trait]
impl Kind for UserPool {
    type Model = UserPoolModel;
    const ADOPT: Adopt = Adopt::Custom;

    fn schema(&self) -> &'static KindSchema {
        &SCHEMA
    }

    fn tagger(&self) -> Option<&dyn Tagger> {
        Some(&self.tags)
    }

    fn refuses_delete(&self, live: &Observed) -> Option<String> {
        crate::kit::deletion_protected(live)
    }

    async fn read(&self, ctx: &ReadCtx, ids: &[String]) -> Result<Vec<Live<UserPoolModel>>, ProviderError> {
        crate::read_each(ids.iter().map(|id| self.read_one(&ctx.region, id))).await
    }

    async fn find_existing(
        &self,
        ctx: &ReadCtx,
        wanted: &[(String, Props)],
    ) -> Result<Vec<(String, Observed)>, ProviderError> {
        let names: BTreeSet<String> = wanted
            .iter()
            .map(|(a, p)| {
                p.get("name").and_then(Value::as_str).map_or_else(|| super::default_name(&ctx.stack, a), str::to_string)
            })
            .collect();
        let mut ids = Vec::new();
        let mut pages = self.client.list_user_pools().max_results(60).into_paginator().send();
        while let Some(page) = pages.next().await {
            for p in page.map_err(from_sdk)?.user_pools() {
                if p.name().is_some_and(|n| names.contains(n)) {
                    ids.extend(p.id().map(str::to_string));
                }
            }
        }
        let found = crate::read_each(ids.iter().map(|id| self.read_one(&ctx.region, id))).await?;
        Ok(crate::kit::this_stacks(found, &ctx.stack))
    }

    async fn create(&self, ctx: &OpCtx, want: &UserPoolModel) -> Result<Created, ProviderError> {
        let name = want.name.clone().unwrap_or_else(|| super::default_name(&ctx.stack, &ctx.address));
        let out = self
            .client
            .create_user_pool()
            .pool_name(&name)
            .policies(policies(want))
            .set_username_attributes(Some(
                want.username_attributes.iter().map(|a| UsernameAttributeType::from(a.as_str())).collect(),
            ))
            .set_auto_verified_attributes(Some(
                want.auto_verified_attributes.iter().map(|a| VerifiedAttributeType::from(a.as_str())).collect(),
            ))
            .account_recovery_setting(recovery(want)?)
            .deletion_protection(protection(want))
            .set_user_pool_tags(Some(ctx.tags.clone().into_iter().collect()))
            .send()
            .await
            .map_err(from_sdk)?;
        let pool = out.user_pool.ok_or_else(|| ProviderError::msg("CreateUserPool answered no pool"))?;
        let id = pool.id().unwrap_or_default().to_string();
        ctx.record_id(&id);
        // The attributes (id, ARN, name) are the create's; MFA changes none.
        if want.mfa_configuration != "OFF" {
            self.set_mfa(&id, want).await?;
        }
        Ok(Created { id, attributes: attributes(&pool, &ctx.region) })
    }

    async fn update(
        &self,
        ctx: &OpCtx,
        live: &Observed,
        want: &UserPoolModel,
        changed: &[&str],
    ) -> Result<Option<Props>, ProviderError> {
        // MFA first: UpdateUserPool refuses OPTIONAL or ON before an MFA
        // method is on.
        if changed.contains(&"mfa_configuration") {
            self.set_mfa(&live.id, want).await?;
        }
        self.client
            .update_user_pool()
            .user_pool_id(&live.id)
            .policies(policies(want))
            .set_auto_verified_attributes(Some(
                want.auto_verified_attributes.iter().map(|a| VerifiedAttributeType::from(a.as_str())).collect(),
            ))
            .mfa_configuration(UserPoolMfaType::from(want.mfa_configuration.as_str()))
            .account_recovery_setting(recovery(want)?)
            .deletion_protection(protection(want))
            .set_user_pool_tags(Some(ctx.tags.clone().into_iter().collect()))
            .send()
            .await
            .map_err(from_sdk)?;
        Ok(None)
    }

    async fn delete(&self, _ctx: &OpCtx, live: &Observed, _: Option<&UserPoolModel>) -> Result<(), ProviderError> {
        match self.client.delete_user_pool().user_pool_id(&live.id).send().await.map_err(from_sdk) {
            Err(e) if e.code_is("InvalidParameterException") && e.message.contains("deletion protection") => {
                Err(e.with_hint("set deletion_protection: false on the user pool and run up, then destroy again"))
            }
            other => other.map(|_| ()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::kit::literals as lit;

    #[test]
    fn sign_in_and_recovery_values_are_what_cognito_takes() {
        assert!(sign_in_values(&lit(
            json!({"username_attributes": ["email"], "account_recovery": ["verified_email"]})
        ))
        .is_none());
        assert!(sign_in_values(&lit(json!({"username_attributes": ["mail"]}))).is_some());
        assert!(sign_in_values(&lit(json!({"account_recovery": ["admin_only", "verified_email"]}))).is_some());
        assert!(sign_in_values(&lit(json!({"account_recovery": ["verified_email", "verified_email"]}))).is_some());
        assert!(sign_in_values(&lit(json!({"account_recovery": ["email"]}))).is_some());
    }
}
