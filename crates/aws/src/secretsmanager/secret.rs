//! `secretsmanager.secret`: a Secrets Manager secret and its current value.
//!
//! The value (`secret_string`) is write-only: the engine resolves it from
//! `env:`/`file:` and hands the plaintext to `create`/`update` for the API call
//! only, and records a fingerprint. This kind never reads the value back
//! (no GetSecretValue), never lets it into an [`Observed`] (see
//! [`WriteOnly`]), and scrubs it from any error message before returning one.
//!
//! How to delete (`recovery_window_in_days`, `force_delete_without_recovery`)
//! is not held by AWS: delete reads it from the properties state recorded
//! (nothing recorded: the 30-day window); a read reports the defaults.
//!
//! A secret scheduled for deletion counts as gone. Creating a secret whose
//! name is still held by one scheduled for deletion restores it and adopts it
//! when it is this stack's (same `deployctl:stack` and `deployctl:resource`).

use crate::error::from_sdk;
use crate::kit::names::sanitized_name;
use crate::kit::{attrs, model, tagger::SecretsManagerTags, Adopt, Created, Kind, Live, TagChange, Tagger, WriteOnly};
use crate::tags::{is_ours, tag_changes};
use aws_sdk_secretsmanager::types::{Filter, FilterNameStringType, Tag};
use aws_sdk_secretsmanager::Client;
use deployctl_engine::kind::TAG_STACK;
use deployctl_engine::{Observed, OpCtx, Props, ProviderError, ReadCtx};
use deployctl_spec::{Attr, KindSchema};
use serde_json::json;

const DEFAULT_WINDOW: i64 = 30;

model! {
    pub struct SecretModel {
        name: Option<String> =
            "The secret's name. Default: `<stack>/<resource>` (characters outside `[A-Za-z0-9/_+=.@-]` become `-`)."
            [replace, unique],
        description: Option<String> = "Free text.",
        kms_key_id: Option<String> =
            "The ARN of the KMS key that encrypts the secret. Left out, AWS uses `aws/secretsmanager` and the key \
             is not managed.",
        secret_string: Option<WriteOnly> =
            "The value: `env:NAME` or `file:PATH` (never a literal). Left out, the secret's value is not managed \
             (set it elsewhere).",
        recovery_window_in_days: i64 =
            "When the secret is deleted, how many days (7 to 30) it can still be restored."
            [default("30"), range(7, 30), state_only],
        force_delete_without_recovery: bool =
            "Delete the secret at once, without a recovery window, when it is deleted." [default("false"), state_only],
    }
}

pub static SCHEMA: KindSchema = KindSchema {
    type_name: "secretsmanager.secret",
    doc: "A Secrets Manager secret. Its value is read from `env:NAME` or `file:PATH` at apply time and never \
          stored: state and plans hold a fingerprint, and a changed value is written as a new version. Deleting \
          schedules the secret for deletion after `recovery_window_in_days` (or at once with \
          `force_delete_without_recovery`); deployctl keeps these two settings in state, as applied last. A \
          secret scheduled for deletion counts as gone; creating one with the same name restores it if it was \
          this stack's.",
    properties: <SecretModel as crate::kit::Model>::PROPS,
    attributes: &[
        Attr { name: "id", doc: "The secret's ARN." },
        Attr { name: "arn", doc: "The secret's ARN, e.g. for a container's `secrets` or an IAM policy." },
        Attr { name: "name", doc: "The secret's name." },
        Attr { name: "version_id", doc: "The id of the current version (`AWSCURRENT`); it changes with the value." },
    ],
    taggable: true,
    rules: &[],
    example: "db_password:\n  type: secretsmanager.secret\n  properties:\n    name: prod/db-password\n    description: the database password\n    secret_string: env:DB_PASSWORD\n    recovery_window_in_days: 7\n",
};

pub struct Secret {
    client: Client,
    tags: SecretsManagerTags,
}

/// `<stack>/<address>` as a secret name.
pub fn default_name(stack: &str, address: &str) -> String {
    sanitized_name(&format!("{stack}/{address}"), |c| c.is_ascii_alphanumeric() || "/_+=.@-".contains(c), 512)
}

/// Whether the error says the secret is (already) scheduled for deletion.
fn scheduled_for_deletion(e: &ProviderError) -> bool {
    let m = e.message.to_lowercase();
    e.code_is("InvalidRequestException") && (m.contains("scheduled for deletion") || m.contains("marked deleted"))
}

/// Removes the secret value from an error, in case AWS ever echoes it.
fn scrub(e: ProviderError, want: &SecretModel) -> ProviderError {
    WriteOnly::redact_any(want.secret_string.as_ref(), e)
}

/// The recovery window, checked: AWS takes 7 to 30 days.
fn window(want: &SecretModel) -> Result<(), ProviderError> {
    let w = want.recovery_window_in_days;
    (7..=30).contains(&w).then_some(()).ok_or_else(|| {
        ProviderError::msg(format!("recovery_window_in_days is {w}; it must be from 7 to 30"))
            .with_hint("use force_delete_without_recovery: true to delete without a recovery window")
    })
}

fn attributes(arn: &str, name: &str, version: Option<&str>) -> Props {
    let mut a = attrs([("id", json!(arn)), ("arn", json!(arn)), ("name", json!(name))]);
    a.extend(version.map(|v| ("version_id".to_string(), json!(v))));
    a
}

/// A secret as DescribeSecret or ListSecrets tells it (they differ in the
/// name of the versions' field).
macro_rules! live {
    ($s:expr, $versions:ident) => {{
        let (s, arn) = ($s, $s.arn().unwrap_or_default());
        let current = s.$versions().and_then(|v| v.iter().find(|(_, st)| st.iter().any(|s| s == "AWSCURRENT")));
        Live {
            id: arn.to_string(),
            model: SecretModel {
                name: s.name().map(str::to_string),
                description: s.description().filter(|d| !d.is_empty()).map(str::to_string),
                kms_key_id: s.kms_key_id().map(str::to_string),
                secret_string: None,
                // Not held by AWS: delete reads them from state.
                recovery_window_in_days: DEFAULT_WINDOW,
                force_delete_without_recovery: false,
            },
            tags: s
                .tags()
                .iter()
                .filter_map(|t| Some((t.key()?.to_string(), t.value().unwrap_or_default().to_string())))
                .filter(|(k, _)| !k.starts_with("aws:"))
                .collect(),
            attributes: attributes(arn, s.name().unwrap_or_default(), current.map(|(v, _)| v.as_str())),
        }
    }};
}

impl Secret {
    pub fn new(client: Client) -> Secret {
        Secret { tags: SecretsManagerTags(client.clone()), client }
    }

    /// The secret (by ARN or name), and whether it is scheduled for
    /// deletion; `None` if it does not exist.
    async fn describe(&self, id: &str) -> Result<Option<(Live<SecretModel>, bool)>, ProviderError> {
        let out = match self.client.describe_secret().secret_id(id).send().await.map_err(from_sdk) {
            Ok(o) => o,
            Err(e) if crate::is_not_found(&e) => return Ok(None),
            Err(e) => return Err(e),
        };
        Ok(out.arn().is_some().then(|| (live!(&out, version_ids_to_stages), out.deleted_date().is_some())))
    }

    /// Brings the named properties of the secret `arn` to `want`; a value
    /// written changes `attributes`' version id.
    async fn converge(
        &self,
        arn: &str,
        want: &SecretModel,
        changed: &[&str],
        attributes: &mut Props,
    ) -> Result<bool, ProviderError> {
        window(want)?;
        let has = |f: &str| changed.contains(&f);
        if has("description") || has("kms_key_id") {
            let mut call = self.client.update_secret().secret_id(arn);
            if has("description") {
                call = call.description(want.description.clone().unwrap_or_default());
            }
            if has("kms_key_id") {
                call = call.set_kms_key_id(want.kms_key_id.clone());
            }
            call.send().await.map_err(from_sdk)?;
        }
        match &want.secret_string {
            Some(WriteOnly(value)) if has("secret_string") => {
                let out = self.client.put_secret_value().secret_id(arn).secret_string(value).send().await;
                attributes.insert("version_id".into(), json!(out.map_err(from_sdk)?.version_id()));
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    /// A create found the name taken: adopt the secret if it is this
    /// stack's (restoring it if it is scheduled for deletion), else explain.
    async fn adopt(
        &self,
        ctx: &OpCtx,
        name: &str,
        want: &SecretModel,
        err: ProviderError,
    ) -> Result<Created, ProviderError> {
        let Some((found, deleted)) = self.describe(name).await? else { return Err(err) };
        if !is_ours(&found.tags, &ctx.stack, &ctx.address) {
            let (what, hint) = if deleted {
                (
                    "is scheduled for deletion",
                    "wait for the deletion to complete, restore it (aws secretsmanager restore-secret) and remove it \
                     for good (delete-secret --force-delete-without-recovery), or choose another name",
                )
            } else {
                ("already exists", "choose another name, or delete the existing secret")
            };
            return Err(ProviderError::new(
                err.code.clone(),
                format!("a secret named {name} {what} and is not this stack's {}", ctx.address),
            )
            .with_hint(hint));
        }
        if deleted {
            ctx.progress(format!("restoring secret {name}, which was scheduled for deletion"), Default::default());
            self.client.restore_secret().secret_id(name).send().await.map_err(from_sdk)?;
        }
        ctx.record_id(&found.id);
        let mut changed = vec!["secret_string"];
        changed.extend(want.description.as_ref().map(|_| "description"));
        changed.extend(want.kms_key_id.as_ref().map(|_| "kms_key_id"));
        let mut found = found.observed();
        self.converge(&found.id, want, &changed, &mut found.attributes).await?;
        let (set, unset) = tag_changes(&found.tags, &ctx.tags);
        if !set.is_empty() || !unset.is_empty() {
            self.tags.tag(&found, &TagChange { want: &ctx.tags, set: &set, unset: &unset }).await?;
        }
        Ok(Created { id: found.id, attributes: found.attributes })
    }
}

#[async_trait::async_trait]
impl Kind for Secret {
    type Model = SecretModel;
    const ADOPT: Adopt = Adopt::ByTag;

    fn schema(&self) -> &'static KindSchema {
        &SCHEMA
    }

    fn tagger(&self) -> Option<&dyn Tagger> {
        Some(&self.tags)
    }

    async fn read(&self, _ctx: &ReadCtx, ids: &[String]) -> Result<Vec<Live<SecretModel>>, ProviderError> {
        let live = ids.iter().map(|id| async move { Ok(self.describe(id).await?.filter(|l| !l.1).map(|l| l.0)) });
        crate::read_each(live).await
    }

    async fn find_tagged(&self, ctx: &ReadCtx) -> Result<Vec<Live<SecretModel>>, ProviderError> {
        let mut pages = self
            .client
            .list_secrets()
            .filters(Filter::builder().key(FilterNameStringType::TagKey).values(TAG_STACK).build())
            .filters(Filter::builder().key(FilterNameStringType::TagValue).values(&ctx.stack).build())
            .into_paginator()
            .send();
        let mut out = Vec::new();
        while let Some(page) = pages.next().await {
            for s in page.map_err(from_sdk)?.secret_list() {
                let l = live!(s, secret_versions_to_stages);
                if s.arn().is_some() && s.deleted_date().is_none() && l.tags.get(TAG_STACK) == Some(&ctx.stack) {
                    out.push(l);
                }
            }
        }
        Ok(out)
    }

    async fn create(&self, ctx: &OpCtx, want: &SecretModel) -> Result<Created, ProviderError> {
        window(want)?;
        let name = want.name.clone().unwrap_or_else(|| default_name(&ctx.stack, &ctx.address));
        let secret = want.secret_string.as_ref().map(|s| s.0.clone());
        // The token makes a retried create of the same value idempotent; it
        // must be 32 to 64 characters.
        let token = secret.as_ref().filter(|_| (32..=64).contains(&ctx.client_token.len())).map(|_| &ctx.client_token);
        let tags = ctx.tags.iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect();
        let r = self
            .client
            .create_secret()
            .name(&name)
            .set_description(want.description.clone())
            .set_kms_key_id(want.kms_key_id.clone())
            .set_secret_string(secret)
            .set_client_request_token(token.cloned())
            .set_tags(Some(tags))
            .send()
            .await
            .map_err(|e| scrub(from_sdk(e), want));
        match r {
            Ok(out) => {
                let arn = out.arn().unwrap_or_default();
                ctx.record_id(arn);
                let attributes = attributes(arn, out.name().unwrap_or(&name), out.version_id());
                Ok(Created { id: arn.to_string(), attributes })
            }
            Err(e) if e.code_is("ResourceExistsException") || scheduled_for_deletion(&e) => {
                self.adopt(ctx, &name, want, e).await.map_err(|e| scrub(e, want))
            }
            Err(e) => Err(e),
        }
    }

    async fn update(
        &self,
        _ctx: &OpCtx,
        live: &Observed,
        want: &SecretModel,
        changed: &[&str],
    ) -> Result<Option<Props>, ProviderError> {
        let mut attributes = live.attributes.clone();
        let wrote = self.converge(&live.id, want, changed, &mut attributes).await.map_err(|e| scrub(e, want))?;
        Ok(wrote.then_some(attributes))
    }

    async fn delete(&self, _ctx: &OpCtx, live: &Observed, recorded: Option<&SecretModel>) -> Result<(), ProviderError> {
        let call = self.client.delete_secret().secret_id(&live.id);
        let call = match recorded {
            Some(r) if r.force_delete_without_recovery => call.force_delete_without_recovery(true),
            Some(r) => call.recovery_window_in_days(r.recovery_window_in_days),
            None => call.recovery_window_in_days(DEFAULT_WINDOW),
        };
        match call.send().await.map_err(from_sdk) {
            Err(e) if scheduled_for_deletion(&e) => Ok(()),
            other => other.map(|_| ()),
        }
    }
}
