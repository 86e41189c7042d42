//! `iam.role`: a role, its trust policy, its inline policies and the managed
//! policies attached to it.
//!
//! IAM cannot list roles by tag, so `find_tagged` finds nothing and
//! `find_existing` looks each candidate up by its role name (the spec's or the
//! default one) and adopts it only if it carries this stack's and address's
//! tags. Reads are one GetRole per role plus its policy listings, all run
//! concurrently. Policy documents come back URL-encoded and are decoded and
//! parsed into JSON so they compare with the spec's.

use crate::error::from_sdk;
use crate::kit::names::sanitized_name;
use crate::kit::policy::{parse_policy, policy_text};
use crate::tags::{is_ours, is_this_stacks};
use async_trait::async_trait;
use aws_sdk_iam::types::Tag;
use aws_sdk_iam::Client;
use deployctl_engine::diff::canonical_document;
use deployctl_engine::{Observed, OpCtx, Poll, Props, ProviderError, ReadCtx, ResourceKind};
use deployctl_spec::{Attr, KindSchema, Prop, Type};
use futures::future::join_all;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

pub static SCHEMA: KindSchema = KindSchema {
    type_name: "iam.role",
    doc: "An IAM role: who may assume it (the trust policy), its inline policies and the managed policies \
          attached to it. Inline and managed policies are fully managed: any not in the spec are removed. \
          Services that are handed a just-created role may need a few seconds before they can assume it; \
          the kinds that pass a role to a service retry for that.",
    properties: &[
        Prop::new(
            "role_name",
            Type::String,
            "The role's name. Default: `<stack>-<resource>` (characters outside `[A-Za-z0-9_+=,.@-]` \
             become `-`; at most 64 characters).",
        )
        .replace().unique(),
        Prop::new("path", Type::String, "The role's path, `/` or `/like/this/`.").default("\"/\"").replace(),
        Prop::new("description", Type::String, "Free text."),
        Prop::new(
            "assume_role_policy_document",
            Type::Document,
            "The trust policy: who may assume the role, e.g. `ecs-tasks.amazonaws.com`.",
        )
        .required(),
        Prop::new(
            "inline_policies",
            Type::Map(&Type::Document),
            "Inline policies by name, each a policy document. Policies on the role that are not listed are removed.",
        )
        .default("{}"),
        Prop::new(
            "managed_policy_arns",
            Type::Set(&Type::String),
            "ARNs of managed policies to attach (AWS's own, like \
             `arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy`, or your own). Others are detached.",
        )
        .default("[]"),
        Prop::new("max_session_duration", Type::Int, "The longest session, in seconds (3600 to 43200).")
            .default("3600"),
    ],
    attributes: &[
        Attr { name: "id", doc: "The role's name." },
        Attr { name: "name", doc: "The role's name." },
        Attr { name: "arn", doc: "The role's ARN, e.g. for a task definition's `execution_role_arn`." },
        Attr { name: "unique_id", doc: "The role's stable unique id, `AROA…`." },
    ],
    taggable: true,
    rules: &[],
    example: "task_execution:\n  type: iam.role\n  properties:\n    assume_role_policy_document:\n      Version: \"2012-10-17\"\n      Statement:\n        - Effect: Allow\n          Principal: {Service: ecs-tasks.amazonaws.com}\n          Action: sts:AssumeRole\n    managed_policy_arns:\n      - arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy\n    inline_policies:\n      read-secrets:\n        Version: \"2012-10-17\"\n        Statement:\n          - Effect: Allow\n            Action: secretsmanager:GetSecretValue\n            Resource: \"*\"\n",
};

/// The properties an update can change, all of them (adopting an existing
/// role converges every one).
const ALL: [&str; 5] =
    ["assume_role_policy_document", "description", "max_session_duration", "inline_policies", "managed_policy_arns"];

pub struct Role {
    client: Client,
}

/// `<stack>-<address>` as a role name.
pub fn default_name(stack: &str, address: &str) -> String {
    sanitized_name(&format!("{stack}-{address}"), |c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c), 64)
}

fn tag_map(tags: &[Tag]) -> BTreeMap<String, String> {
    tags.iter().filter(|t| !t.key().starts_with("aws:")).map(|t| (t.key().to_string(), t.value().to_string())).collect()
}

fn iam_tags(tags: &BTreeMap<String, String>) -> Result<Vec<Tag>, ProviderError> {
    tags.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build().map_err(|e| ProviderError::msg(format!("tag {k}: {e}"))))
        .collect()
}

fn no_such_entity(e: &ProviderError) -> bool {
    e.code_is("NoSuchEntity") || e.code_is("NoSuchEntityException")
}

/// `Ok(None)` for "not found".
fn found<T>(r: Result<T, ProviderError>) -> Result<Option<T>, ProviderError> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) if no_such_entity(&e) => Ok(None),
        Err(e) => Err(e),
    }
}

fn object<'a>(desired: &'a Props, key: &str) -> Option<&'a Map<String, Value>> {
    desired.get(key).and_then(Value::as_object)
}

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
        .unwrap_or_default()
}

impl Role {
    pub fn new(client: Client) -> Role {
        Role { client }
    }

    async fn inline_policies(&self, name: &str) -> Result<Map<String, Value>, ProviderError> {
        let mut names = Vec::new();
        let mut pages = self.client.list_role_policies().role_name(name).into_paginator().send();
        while let Some(page) = pages.next().await {
            names.extend(page.map_err(from_sdk)?.policy_names().iter().cloned());
        }
        let docs = join_all(names.iter().map(|p| async move {
            let out = self.client.get_role_policy().role_name(name).policy_name(p).send().await.map_err(from_sdk)?;
            Ok::<_, ProviderError>((p.clone(), parse_policy(out.policy_document())))
        }))
        .await;
        let mut out = Map::new();
        for d in docs {
            match d {
                Ok((p, doc)) => {
                    out.insert(p, doc);
                }
                // Deleted between the listing and the get.
                Err(e) if no_such_entity(&e) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    async fn managed_policies(&self, name: &str) -> Result<Vec<String>, ProviderError> {
        let mut out = Vec::new();
        let mut pages = self.client.list_attached_role_policies().role_name(name).into_paginator().send();
        while let Some(page) = pages.next().await {
            out.extend(
                page.map_err(from_sdk)?.attached_policies().iter().filter_map(|p| p.policy_arn()).map(str::to_string),
            );
        }
        Ok(out)
    }

    /// One role, or `None` if it does not exist.
    async fn read_role(&self, name: &str) -> Result<Option<Observed>, ProviderError> {
        let Some(out) = found(self.client.get_role().role_name(name).send().await.map_err(from_sdk))? else {
            return Ok(None);
        };
        let Some(r) = out.role() else { return Ok(None) };
        let (inline, managed) = futures::join!(self.inline_policies(name), self.managed_policies(name));
        let (Some(inline), Some(managed)) = (found(inline)?, found(managed)?) else { return Ok(None) };
        let mut properties = Props::new();
        properties.insert("role_name".into(), json!(r.role_name()));
        properties.insert("path".into(), json!(r.path()));
        properties.insert("description".into(), json!(r.description().filter(|d| !d.is_empty())));
        properties.insert(
            "assume_role_policy_document".into(),
            r.assume_role_policy_document().map(parse_policy).unwrap_or(Value::Null),
        );
        properties.insert("inline_policies".into(), Value::Object(inline));
        properties.insert("managed_policy_arns".into(), json!(managed));
        properties.insert("max_session_duration".into(), json!(r.max_session_duration().unwrap_or(3600)));
        let mut attributes = Props::new();
        attributes.insert("id".into(), json!(r.role_name()));
        attributes.insert("name".into(), json!(r.role_name()));
        attributes.insert("arn".into(), json!(r.arn()));
        attributes.insert("unique_id".into(), json!(r.role_id()));
        Ok(Some(Observed { id: r.role_name().to_string(), properties, tags: tag_map(r.tags()), attributes }))
    }

    /// Reads a role that was just created or changed: IAM is eventually
    /// consistent, so a GetRole right after CreateRole may not see it yet.
    async fn read_after_write(&self, ctx: &OpCtx, name: &str) -> Result<Observed, ProviderError> {
        ctx.wait_for("role to become visible", || async move {
            Ok(match self.read_role(name).await? {
                Some(o) => Poll::Ready(o),
                None => Poll::Pending("not visible yet".into()),
            })
        })
        .await
        .map_err(ProviderError::from)
    }

    /// Brings the named properties of the live role to `desired` (an unset
    /// property with a default converges to the default).
    async fn converge(
        &self,
        ctx: &OpCtx,
        live: &Observed,
        desired: &Props,
        changed: &[&str],
    ) -> Result<(), ProviderError> {
        let name = live.id.as_str();
        let has = |f: &str| changed.contains(&f);
        if has("assume_role_policy_document") {
            if let Some(doc) = desired.get("assume_role_policy_document").filter(|v| !v.is_null()) {
                self.client
                    .update_assume_role_policy()
                    .role_name(name)
                    .policy_document(policy_text(doc))
                    .send()
                    .await
                    .map_err(from_sdk)?;
            }
        }
        if has("description") || has("max_session_duration") {
            let description = desired.get("description").and_then(Value::as_str).map(str::to_string);
            let max = desired.get("max_session_duration").and_then(Value::as_i64).unwrap_or(3600);
            self.client
                .update_role()
                .role_name(name)
                .set_description(description)
                .max_session_duration(max as i32)
                .send()
                .await
                .map_err(from_sdk)?;
        }
        if has("inline_policies") {
            let empty = Map::new();
            let want = object(desired, "inline_policies").unwrap_or(&empty);
            let have = live.properties.get("inline_policies").and_then(Value::as_object).unwrap_or(&empty);
            for (p, doc) in want {
                let same = have.get(p).is_some_and(|h| canonical_document(h) == canonical_document(doc));
                if !same {
                    self.client
                        .put_role_policy()
                        .role_name(name)
                        .policy_name(p)
                        .policy_document(policy_text(doc))
                        .send()
                        .await
                        .map_err(from_sdk)?;
                }
            }
            for p in have.keys().filter(|p| !want.contains_key(*p)) {
                let r = self.client.delete_role_policy().role_name(name).policy_name(p).send().await;
                found(r.map_err(from_sdk))?;
            }
        }
        if has("managed_policy_arns") {
            let want = strings(desired.get("managed_policy_arns"));
            let have = strings(live.properties.get("managed_policy_arns"));
            for arn in want.iter().filter(|a| !have.contains(a)) {
                self.client.attach_role_policy().role_name(name).policy_arn(arn).send().await.map_err(from_sdk)?;
            }
            for arn in have.iter().filter(|a| !want.contains(a)) {
                let r = self.client.detach_role_policy().role_name(name).policy_arn(arn).send().await;
                found(r.map_err(from_sdk))?;
            }
        }
        if has("tags") {
            let set: BTreeMap<String, String> = ctx
                .tags
                .iter()
                .filter(|(k, v)| live.tags.get(*k) != Some(v))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            let unset: Vec<String> = live.tags.keys().filter(|k| !ctx.tags.contains_key(*k)).cloned().collect();
            if !set.is_empty() {
                self.client
                    .tag_role()
                    .role_name(name)
                    .set_tags(Some(iam_tags(&set)?))
                    .send()
                    .await
                    .map_err(from_sdk)?;
            }
            if !unset.is_empty() {
                self.client.untag_role().role_name(name).set_tag_keys(Some(unset)).send().await.map_err(from_sdk)?;
            }
        }
        Ok(())
    }
}

#[async_trait]
impl ResourceKind for Role {
    fn schema(&self) -> &'static KindSchema {
        &SCHEMA
    }

    async fn read(&self, _ctx: &ReadCtx, ids: &[String]) -> Result<Vec<Observed>, ProviderError> {
        crate::read_each(ids.iter().map(|id| self.read_role(id))).await
    }

    /// IAM cannot list roles by tag (ListRoles does not even return tags):
    /// roles are found by name in [`ResourceKind::find_existing`] instead.
    async fn find_tagged(&self, _ctx: &ReadCtx) -> Result<Vec<(String, Observed)>, ProviderError> {
        Ok(Vec::new())
    }

    async fn find_existing(
        &self,
        ctx: &ReadCtx,
        wanted: &[(String, Props)],
    ) -> Result<Vec<(String, Observed)>, ProviderError> {
        let lookups = wanted.iter().map(|(address, props)| async move {
            let name = match props.get("role_name").and_then(Value::as_str) {
                Some(n) => n.to_string(),
                None => default_name(&ctx.stack, address),
            };
            let found = self.read_role(&name).await?;
            Ok::<_, ProviderError>(
                found.filter(|o| is_this_stacks(&o.tags, &ctx.stack, address)).map(|o| (address.clone(), o)),
            )
        });
        let mut out = Vec::new();
        for r in join_all(lookups).await {
            out.extend(r?);
        }
        Ok(out)
    }

    async fn create(&self, ctx: &OpCtx, desired: &Props) -> Result<Observed, ProviderError> {
        let s = |k: &str| desired.get(k).and_then(Value::as_str).map(str::to_string);
        let name = s("role_name").unwrap_or_else(|| default_name(&ctx.stack, &ctx.address));
        let trust = desired
            .get("assume_role_policy_document")
            .filter(|v| !v.is_null())
            .ok_or_else(|| ProviderError::msg("assume_role_policy_document is required"))?;
        let max = desired.get("max_session_duration").and_then(Value::as_i64).unwrap_or(3600);
        let r = self
            .client
            .create_role()
            .role_name(&name)
            .path(s("path").unwrap_or_else(|| "/".into()))
            .assume_role_policy_document(policy_text(trust))
            .set_description(s("description"))
            .max_session_duration(max as i32)
            .set_tags(Some(iam_tags(&ctx.tags)?))
            .send()
            .await
            .map_err(from_sdk);
        match r {
            Ok(_) => {
                ctx.record_id(&name);
                let fresh = Observed { id: name.clone(), ..Default::default() };
                self.converge(ctx, &fresh, desired, &["inline_policies", "managed_policy_arns"]).await?;
            }
            Err(e) if e.code_is("EntityAlreadyExists") => {
                // A create retried after a crash finds its own role: adopt and
                // converge it. Anyone else's role is left alone.
                let live = self.read_role(&name).await?.ok_or(e)?;
                if !is_ours(&live.tags, &ctx.stack, &ctx.address) {
                    return Err(ProviderError::new(
                        Some("EntityAlreadyExists".into()),
                        format!("a role named {name} already exists and is not this stack's {}", ctx.address),
                    )
                    .with_hint("set another role_name, or delete or rename the existing role"));
                }
                ctx.record_id(&name);
                let mut all = ALL.to_vec();
                all.push("tags");
                self.converge(ctx, &live, desired, &all).await?;
            }
            Err(e) => return Err(e),
        }
        self.read_after_write(ctx, &name).await
    }

    async fn update(
        &self,
        ctx: &OpCtx,
        current: &Observed,
        desired: &Props,
        changed: &[String],
    ) -> Result<Observed, ProviderError> {
        let live = self.read_role(&current.id).await?.ok_or_else(|| {
            ProviderError::new(Some("NoSuchEntity".into()), format!("role {} no longer exists", current.id))
                .with_hint("it was deleted outside deployctl; re-run to create it again")
        })?;
        let changed: Vec<&str> = changed.iter().map(String::as_str).collect();
        self.converge(ctx, &live, desired, &changed).await?;
        self.read_after_write(ctx, &current.id).await
    }

    async fn delete(&self, _ctx: &OpCtx, current: &Observed, _recorded: &Props) -> Result<(), ProviderError> {
        let name = current.id.as_str();
        // A role can only be deleted bare: detach, delete inline policies,
        // leave instance profiles first.
        let Some(managed) = found(self.managed_policies(name).await)? else { return Ok(()) };
        for arn in managed {
            found(self.client.detach_role_policy().role_name(name).policy_arn(arn).send().await.map_err(from_sdk))?;
        }
        let Some(inline) = found(self.inline_policies(name).await)? else { return Ok(()) };
        for p in inline.keys() {
            found(self.client.delete_role_policy().role_name(name).policy_name(p).send().await.map_err(from_sdk))?;
        }
        let mut profiles = Vec::new();
        let mut pages = self.client.list_instance_profiles_for_role().role_name(name).into_paginator().send();
        while let Some(page) = pages.next().await {
            match found(page.map_err(from_sdk))? {
                Some(p) => profiles.extend(p.instance_profiles().iter().map(|i| i.instance_profile_name().to_string())),
                None => return Ok(()),
            }
        }
        for profile in profiles {
            found(
                self.client
                    .remove_role_from_instance_profile()
                    .instance_profile_name(profile)
                    .role_name(name)
                    .send()
                    .await
                    .map_err(from_sdk),
            )?;
        }
        found(self.client.delete_role().role_name(name).send().await.map_err(from_sdk))?;
        Ok(())
    }
}
