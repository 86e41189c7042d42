//! `secretsmanager.secret`: a Secrets Manager secret and its current value.
//!
//! The value (`secret_string`) is write-only: the engine resolves it from
//! `env:`/`file:` and hands the plaintext to `create`/`update` for the API call
//! only, and records a fingerprint. This kind never reads the value back
//! (no GetSecretValue), never puts it in [`Observed`], and scrubs it from any
//! error message before returning one.
//!
//! How to delete (`recovery_window_in_days`, `force_delete_without_recovery`)
//! cannot be read from AWS, and `delete` does not see the spec; so create and
//! update store it in two tags of the secret's own, `deployctl:recovery-window`
//! (the days) and `deployctl:force-delete` (`true`, only when set), which
//! `read` turns back into the two properties (and leaves out of the tags).
//!
//! A secret scheduled for deletion counts as gone. Creating a secret whose
//! name is still held by one scheduled for deletion restores it and adopts it
//! when it is this stack's (same `deployctl:stack` and `deployctl:resource`).

use crate::error::from_sdk;
use crate::iam::sanitized_name;
use crate::tags::{is_ours, tag_changes};
use async_trait::async_trait;
use aws_sdk_secretsmanager::types::{Filter, FilterNameStringType, Tag};
use aws_sdk_secretsmanager::Client;
use deployctl_engine::kind::{TAG_RESOURCE, TAG_STACK};
use deployctl_engine::{Observed, OpCtx, Props, ProviderError, ReadCtx, ResourceKind};
use deployctl_spec::{Attr, KindSchema, Prop, Type};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};

/// The tag holding the recovery window (days) the secret is deleted with.
pub const TAG_RECOVERY_WINDOW: &str = "deployctl:recovery-window";
/// The tag saying the secret is deleted without recovery (`true`).
pub const TAG_FORCE_DELETE: &str = "deployctl:force-delete";

const DEFAULT_WINDOW: i64 = 30;

pub static SCHEMA: KindSchema = KindSchema {
    type_name: "secretsmanager.secret",
    doc: "A Secrets Manager secret. Its value is read from `env:NAME` or `file:PATH` at apply time and never \
          stored: state and plans hold a fingerprint, and a changed value is written as a new version. Deleting \
          schedules the secret for deletion after `recovery_window_in_days` (or at once with \
          `force_delete_without_recovery`); deployctl keeps these two settings in tags of the secret \
          (`deployctl:recovery-window`, `deployctl:force-delete`). A secret scheduled for deletion counts as \
          gone; creating one with the same name restores it if it was this stack's.",
    properties: &[
        Prop::new(
            "name",
            Type::String,
            "The secret's name. Default: `<stack>/<resource>` (characters outside `[A-Za-z0-9/_+=.@-]` become `-`).",
        )
        .replace().unique(),
        Prop::new("description", Type::String, "Free text."),
        Prop::new(
            "kms_key_id",
            Type::String,
            "The ARN of the KMS key that encrypts the secret. Left out, AWS uses `aws/secretsmanager` and the key \
             is not managed.",
        ),
        Prop::new(
            "secret_string",
            Type::Secret,
            "The value: `env:NAME` or `file:PATH` (never a literal). Left out, the secret's value is not managed \
             (set it elsewhere).",
        ),
        Prop::new(
            "recovery_window_in_days",
            Type::Int,
            "When the secret is deleted, how many days (7 to 30) it can still be restored.",
        )
        .default("30"),
        Prop::new(
            "force_delete_without_recovery",
            Type::Bool,
            "Delete the secret at once, without a recovery window, when it is deleted.",
        )
        .default("false"),
    ],
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
}

/// `<stack>/<address>` as a secret name.
pub fn default_name(stack: &str, address: &str) -> String {
    sanitized_name(&format!("{stack}/{address}"), |c| c.is_ascii_alphanumeric() || "/_+=.@-".contains(c), 512)
}

fn not_found(e: &ProviderError) -> bool {
    e.code_is("ResourceNotFoundException")
}

/// Whether the error says the secret is (already) scheduled for deletion.
fn scheduled_for_deletion(e: &ProviderError) -> bool {
    let m = e.message.to_lowercase();
    e.code_is("InvalidRequestException") && (m.contains("scheduled for deletion") || m.contains("marked deleted"))
}

/// Removes the secret value from an error, in case AWS (or a transport error)
/// ever echoes it.
fn scrub(mut e: ProviderError, secret: Option<&str>) -> ProviderError {
    if let Some(s) = secret.filter(|s| !s.is_empty()) {
        e.message = e.message.replace(s, "<redacted>");
        e.hint = e.hint.map(|h| h.replace(s, "<redacted>"));
    }
    e
}

/// Every tag, `aws:` ones left out.
fn raw_tags(tags: &[Tag]) -> BTreeMap<String, String> {
    tags.iter()
        .filter_map(|t| Some((t.key()?.to_string(), t.value().unwrap_or_default().to_string())))
        .filter(|(k, _)| !k.starts_with("aws:"))
        .collect()
}

/// The delete settings, from the spec (defaults filled in), checked.
fn delete_policy(desired: &Props) -> Result<(i64, bool), ProviderError> {
    let window = desired.get("recovery_window_in_days").and_then(Value::as_i64).unwrap_or(DEFAULT_WINDOW);
    if !(7..=30).contains(&window) {
        return Err(ProviderError::msg(format!("recovery_window_in_days is {window}; it must be from 7 to 30"))
            .with_hint("use force_delete_without_recovery: true to delete without a recovery window"));
    }
    let force = desired.get("force_delete_without_recovery").and_then(Value::as_bool).unwrap_or(false);
    Ok((window, force))
}

/// The tags a secret should carry: the run's, plus the delete settings.
fn wanted_tags(ctx: &OpCtx, window: i64, force: bool) -> BTreeMap<String, String> {
    let mut t = ctx.tags.clone();
    t.insert(TAG_RECOVERY_WINDOW.into(), window.to_string());
    if force {
        t.insert(TAG_FORCE_DELETE.into(), "true".into());
    } else {
        t.remove(TAG_FORCE_DELETE);
    }
    t
}

fn sm_tags(tags: &BTreeMap<String, String>) -> Vec<Tag> {
    tags.iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect()
}

/// What DescribeSecret and ListSecrets both say of a secret.
struct Described<'a> {
    arn: &'a str,
    name: &'a str,
    description: Option<&'a str>,
    kms_key_id: Option<&'a str>,
    tags: BTreeMap<String, String>,
    versions: Option<&'a HashMap<String, Vec<String>>>,
}

fn observed(d: Described) -> Observed {
    let mut tags = d.tags;
    let window = tags.remove(TAG_RECOVERY_WINDOW).and_then(|w| w.parse::<i64>().ok()).unwrap_or(DEFAULT_WINDOW);
    let force = tags.remove(TAG_FORCE_DELETE).is_some_and(|f| f == "true");
    let mut properties = Props::new();
    properties.insert("name".into(), json!(d.name));
    properties.insert("description".into(), json!(d.description.filter(|s| !s.is_empty())));
    properties.insert("kms_key_id".into(), json!(d.kms_key_id));
    properties.insert("recovery_window_in_days".into(), json!(window));
    properties.insert("force_delete_without_recovery".into(), json!(force));
    let mut attributes = Props::new();
    attributes.insert("id".into(), json!(d.arn));
    attributes.insert("arn".into(), json!(d.arn));
    attributes.insert("name".into(), json!(d.name));
    let current = d.versions.and_then(|v| v.iter().find(|(_, stages)| stages.iter().any(|s| s == "AWSCURRENT")));
    if let Some((version, _)) = current {
        attributes.insert("version_id".into(), json!(version));
    }
    Observed { id: d.arn.to_string(), properties, tags, attributes }
}

impl Secret {
    pub fn new(client: Client) -> Secret {
        Secret { client }
    }

    /// The secret (by ARN or name) with all its tags, and whether it is
    /// scheduled for deletion; `None` if it does not exist.
    async fn describe(&self, id: &str) -> Result<Option<(Observed, BTreeMap<String, String>, bool)>, ProviderError> {
        let out = match self.client.describe_secret().secret_id(id).send().await.map_err(from_sdk) {
            Ok(o) => o,
            Err(e) if not_found(&e) => return Ok(None),
            Err(e) => return Err(e),
        };
        let Some(arn) = out.arn() else { return Ok(None) };
        let tags = raw_tags(out.tags());
        let o = observed(Described {
            arn,
            name: out.name().unwrap_or_default(),
            description: out.description(),
            kms_key_id: out.kms_key_id(),
            tags: tags.clone(),
            versions: out.version_ids_to_stages(),
        });
        Ok(Some((o, tags, out.deleted_date().is_some())))
    }

    /// The secret if it exists and is not scheduled for deletion.
    async fn read_one(&self, id: &str) -> Result<Option<Observed>, ProviderError> {
        Ok(self.describe(id).await?.filter(|(_, _, deleted)| !deleted).map(|(o, _, _)| o))
    }

    async fn must_read(&self, id: &str) -> Result<Observed, ProviderError> {
        self.read_one(id).await?.ok_or_else(|| {
            ProviderError::new(Some("ResourceNotFoundException".into()), format!("secret {id} does not exist"))
                .with_hint("it was deleted (or scheduled for deletion) outside deployctl; re-run to create it again")
        })
    }

    /// Brings the named properties of the live secret (`arn`, with all its
    /// tags `live_tags`) to `desired`.
    async fn converge(
        &self,
        ctx: &OpCtx,
        arn: &str,
        live_tags: &BTreeMap<String, String>,
        desired: &Props,
        changed: &[&str],
    ) -> Result<(), ProviderError> {
        let has = |f: &str| changed.contains(&f);
        let s = |k: &str| desired.get(k).and_then(Value::as_str).map(str::to_string);
        let (window, force) = delete_policy(desired)?;
        let secret = s("secret_string");
        if has("description") || has("kms_key_id") {
            let mut call = self.client.update_secret().secret_id(arn);
            if has("description") {
                call = call.description(s("description").unwrap_or_default());
            }
            if has("kms_key_id") {
                call = call.set_kms_key_id(s("kms_key_id"));
            }
            call.send().await.map_err(from_sdk)?;
        }
        if has("secret_string") {
            if let Some(value) = secret.as_deref() {
                self.client
                    .put_secret_value()
                    .secret_id(arn)
                    .secret_string(value)
                    .send()
                    .await
                    .map_err(|e| scrub(from_sdk(e), Some(value)))?;
            }
        }
        if has("tags") || has("recovery_window_in_days") || has("force_delete_without_recovery") {
            let want = wanted_tags(ctx, window, force);
            let (set, unset) = tag_changes(live_tags, &want);
            if !set.is_empty() {
                self.client
                    .tag_resource()
                    .secret_id(arn)
                    .set_tags(Some(sm_tags(&set)))
                    .send()
                    .await
                    .map_err(from_sdk)?;
            }
            if !unset.is_empty() {
                self.client.untag_resource().secret_id(arn).set_tag_keys(Some(unset)).send().await.map_err(from_sdk)?;
            }
        }
        Ok(())
    }

    /// A create found the name taken: adopt the secret if it is this
    /// stack's (restoring it if it is scheduled for deletion), else explain.
    async fn adopt(
        &self,
        ctx: &OpCtx,
        name: &str,
        desired: &Props,
        err: ProviderError,
    ) -> Result<String, ProviderError> {
        let Some((_, tags, deleted)) = self.describe(name).await? else { return Err(err) };
        if !is_ours(&tags, &ctx.stack, &ctx.address) {
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
        let (live, tags, _) = self.describe(name).await?.ok_or(err)?;
        ctx.record_id(&live.id);
        let mut changed = vec!["tags", "description", "kms_key_id", "secret_string"];
        changed.retain(|f| match *f {
            "description" | "kms_key_id" => desired.get(*f).is_some_and(|v| !v.is_null()),
            _ => true,
        });
        self.converge(ctx, &live.id, &tags, desired, &changed).await?;
        Ok(live.id)
    }
}

#[async_trait]
impl ResourceKind for Secret {
    fn schema(&self) -> &'static KindSchema {
        &SCHEMA
    }

    async fn read(&self, _ctx: &ReadCtx, ids: &[String]) -> Result<Vec<Observed>, ProviderError> {
        crate::read_each(ids.iter().map(|id| self.read_one(id))).await
    }

    async fn find_tagged(&self, ctx: &ReadCtx) -> Result<Vec<(String, Observed)>, ProviderError> {
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
                let (Some(arn), Some(name)) = (s.arn(), s.name()) else { continue };
                let tags = raw_tags(s.tags());
                if s.deleted_date().is_some() || tags.get(TAG_STACK) != Some(&ctx.stack) {
                    continue;
                }
                let Some(address) = tags.get(TAG_RESOURCE).cloned() else { continue };
                let o = observed(Described {
                    arn,
                    name,
                    description: s.description(),
                    kms_key_id: s.kms_key_id(),
                    tags,
                    versions: s.secret_versions_to_stages(),
                });
                out.push((address, o));
            }
        }
        Ok(out)
    }

    async fn create(&self, ctx: &OpCtx, desired: &Props) -> Result<Observed, ProviderError> {
        let s = |k: &str| desired.get(k).and_then(Value::as_str).map(str::to_string);
        let (window, force) = delete_policy(desired)?;
        let name = s("name").unwrap_or_else(|| default_name(&ctx.stack, &ctx.address));
        let secret = s("secret_string");
        // The token makes a retried create of the same value idempotent; it
        // must be 32 to 64 characters.
        let token = secret.as_ref().filter(|_| (32..=64).contains(&ctx.client_token.len())).map(|_| &ctx.client_token);
        let r = self
            .client
            .create_secret()
            .name(&name)
            .set_description(s("description"))
            .set_kms_key_id(s("kms_key_id"))
            .set_secret_string(secret.clone())
            .set_client_request_token(token.cloned())
            .set_tags(Some(sm_tags(&wanted_tags(ctx, window, force))))
            .send()
            .await
            .map_err(|e| scrub(from_sdk(e), secret.as_deref()));
        let arn = match r {
            Ok(out) => {
                let arn = out.arn().unwrap_or_default().to_string();
                ctx.record_id(&arn);
                arn
            }
            Err(e) if e.code_is("ResourceExistsException") || scheduled_for_deletion(&e) => {
                self.adopt(ctx, &name, desired, e).await.map_err(|e| scrub(e, secret.as_deref()))?
            }
            Err(e) => return Err(e),
        };
        self.must_read(&arn).await
    }

    async fn update(
        &self,
        ctx: &OpCtx,
        current: &Observed,
        desired: &Props,
        changed: &[String],
    ) -> Result<Observed, ProviderError> {
        let secret = desired.get("secret_string").and_then(Value::as_str);
        let (live, tags, deleted) = self.describe(&current.id).await?.filter(|(_, _, d)| !d).ok_or_else(|| {
            ProviderError::new(
                Some("ResourceNotFoundException".into()),
                format!("secret {} does not exist", current.id),
            )
            .with_hint("it was deleted (or scheduled for deletion) outside deployctl; re-run to create it again")
        })?;
        debug_assert!(!deleted);
        let changed: Vec<&str> = changed.iter().map(String::as_str).collect();
        self.converge(ctx, &live.id, &tags, desired, &changed).await.map_err(|e| scrub(e, secret))?;
        self.must_read(&live.id).await
    }

    async fn delete(&self, _ctx: &OpCtx, current: &Observed, _recorded: &Props) -> Result<(), ProviderError> {
        // The delete settings, as read from the secret's tags.
        let props = if current.properties.contains_key("recovery_window_in_days") {
            current.properties.clone()
        } else {
            match self.describe(&current.id).await? {
                Some((o, _, _)) => o.properties,
                None => return Ok(()),
            }
        };
        let window = props.get("recovery_window_in_days").and_then(Value::as_i64).unwrap_or(DEFAULT_WINDOW);
        let force = props.get("force_delete_without_recovery").and_then(Value::as_bool).unwrap_or(false);
        let mut call = self.client.delete_secret().secret_id(&current.id);
        call = if force { call.force_delete_without_recovery(true) } else { call.recovery_window_in_days(window) };
        match call.send().await.map_err(from_sdk) {
            Ok(_) => Ok(()),
            Err(e) if not_found(&e) || scheduled_for_deletion(&e) => Ok(()),
            Err(e) => Err(e),
        }
    }
}
