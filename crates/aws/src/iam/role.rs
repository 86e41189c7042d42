//! `iam.role`: a role, its trust policy, its inline policies and the managed
//! policies attached to it.
//!
//! The id is the role name. Reads:
//!
//! - for one role, GetRole (the trust policy, description, session duration
//!   and tags: no ListRoleTags), ListAttachedRolePolicies, ListRolePolicies
//!   and a GetRolePolicy per inline policy, concurrently;
//! - for two or more, two listings side by side, each read until every
//!   asked role was seen: GetAccountAuthorizationDetails (`Filter=[Role]`,
//!   1,000 roles a page, the maximum), which answers every role's trust
//!   policy, tags, attached policies and inline policies with their
//!   documents; and ListRoles (1,000 a page), for what RoleDetail lacks,
//!   the description and the session duration.
//!
//! Why the threshold: each listing costs one call per 1,000 roles of the
//! account (with every role's policy documents, a few MB for thousands of
//! roles), whatever the stack; the per-role calls cost 3 + one per inline
//! policy per role. For the 4 roles of stacks/prod.yaml that is 2 calls
//! instead of 16; in an account of 3,000 roles at most 3 pages each, still
//! fewer calls than 2+ roles read one by one, and IAM's read quota is the
//! account's, so fewer calls is what matters. moto 5.2.5 answers each in
//! one page.
//!
//! IAM cannot list roles by tag: adoption looks each candidate up by its
//! role name (the spec's or the default one) and adopts it only if it
//! carries this stack's and address's tags; a create that finds the name
//! taken does the same. Policy documents come back URL-encoded and are
//! decoded and parsed into JSON so they compare with the spec's.
//!
//! Create sends the tags in CreateRole and answers from its response; the
//! policies are put right after, retried while IAM does not see the role
//! yet (it is eventually consistent).

use crate::error::from_sdk;
use crate::kit::names::sanitized_name;
use crate::kit::policy::{parse_policy, policy_text};
use crate::kit::tagger::IamRoleTags;
use crate::kit::{attrs, model, retry_unseen, Adopt, Created, Kind, Live, Model, Tagger};
use crate::tags::{is_ours, is_this_stacks};
use aws_sdk_iam::types::{EntityType, Role as IamRole, Tag};
use aws_sdk_iam::Client;
use deployctl_engine::diff::canonical_document;
use deployctl_engine::{Observed, OpCtx, Props, ProviderError, ReadCtx};
use deployctl_spec::{Attr, KindSchema, Type};
use futures::future::join_all;
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, BTreeSet};

/// From how many roles a read lists the account's instead of asking each.
const LIST_FROM: usize = 2;
/// The most roles one GetAccountAuthorizationDetails page holds.
const PAGE: i32 = 1000;

model! {
    pub struct RoleModel {
        role_name: Option<String> = "The role's name. Default: `<stack>-<resource>` (characters outside \
            `[A-Za-z0-9_+=,.@-]` become `-`; at most 64 characters)." [replace, unique],
        path: String = "The role's path, `/` or `/like/this/`." [default("\"/\""), replace],
        description: Option<String> = "Free text.",
        assume_role_policy_document: Value =
            "The trust policy: who may assume the role, e.g. `ecs-tasks.amazonaws.com`." [required],
        inline_policies: Value = "Inline policies by name, each a policy document. Policies on the role that \
            are not listed are removed." [typed(Type::Map(&Type::Document)), default("{}")],
        managed_policy_arns: Vec<String> = "ARNs of managed policies to attach (AWS's own, like \
            `arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy`, or your own). Others are \
            detached." [default("[]")],
        max_session_duration: i32 = "The longest session, in seconds (3600 to 43200)."
            [default("3600"), range(3600, 43200)],
    }
}

pub static SCHEMA: KindSchema = KindSchema {
    type_name: "iam.role",
    doc: "An IAM role: who may assume it (the trust policy), its inline policies and the managed policies \
          attached to it. Inline and managed policies are fully managed: any not in the spec are removed. \
          Services that are handed a just-created role may need a few seconds before they can assume it; \
          the kinds that pass a role to a service retry for that.",
    properties: <RoleModel as Model>::PROPS,
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

/// The properties an update can change (adopting a role converges all).
const ALL: [&str; 5] =
    ["assume_role_policy_document", "description", "max_session_duration", "inline_policies", "managed_policy_arns"];

/// `<stack>-<address>` as a role name.
pub fn default_name(stack: &str, address: &str) -> String {
    sanitized_name(&format!("{stack}-{address}"), |c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c), 64)
}

/// A role's policies: the inline ones by name, and the managed ARNs.
type Policies = (Map<String, Value>, Vec<String>);

/// `Ok(None)` for "not found".
fn found<T>(r: Result<T, ProviderError>) -> Result<Option<T>, ProviderError> {
    match r {
        Err(e) if crate::is_not_found(&e) => Ok(None),
        other => other.map(Some),
    }
}

fn attributes(r: &IamRole) -> Props {
    let name = r.role_name();
    attrs([("id", json!(name)), ("name", json!(name)), ("arn", json!(r.arn())), ("unique_id", json!(r.role_id()))])
}

fn live(r: &IamRole, (inline, managed): Policies, tags: &[Tag]) -> Live<RoleModel> {
    Live {
        id: r.role_name().to_string(),
        model: RoleModel {
            role_name: Some(r.role_name().to_string()),
            path: r.path().to_string(),
            description: r.description().filter(|d| !d.is_empty()).map(str::to_string),
            assume_role_policy_document: r.assume_role_policy_document().map_or(Value::Null, parse_policy),
            inline_policies: Value::Object(inline),
            managed_policy_arns: managed,
            max_session_duration: r.max_session_duration().unwrap_or(3600),
        },
        tags: tags
            .iter()
            .filter(|t| !t.key().starts_with("aws:"))
            .map(|t| (t.key().into(), t.value().into()))
            .collect(),
        attributes: attributes(r),
    }
}

fn inline(m: &RoleModel) -> Map<String, Value> {
    m.inline_policies.as_object().cloned().unwrap_or_default()
}

pub struct Role {
    client: Client,
    tags: IamRoleTags,
}

impl Role {
    pub fn new(client: Client) -> Role {
        Role { tags: IamRoleTags(client.clone()), client }
    }

    async fn get_role(&self, name: &str) -> Result<Option<IamRole>, ProviderError> {
        Ok(found(self.client.get_role().role_name(name).send().await.map_err(from_sdk))?.and_then(|o| o.role))
    }

    async fn managed(&self, name: &str) -> Result<Vec<String>, ProviderError> {
        let mut out = Vec::new();
        let mut pages = self.client.list_attached_role_policies().role_name(name).into_paginator().send();
        while let Some(page) = pages.next().await {
            out.extend(page.map_err(from_sdk)?.attached_policies().iter().filter_map(|p| p.policy_arn.clone()));
        }
        Ok(out)
    }

    async fn inline_names(&self, name: &str) -> Result<Vec<String>, ProviderError> {
        let mut out = Vec::new();
        let mut pages = self.client.list_role_policies().role_name(name).into_paginator().send();
        while let Some(page) = pages.next().await {
            out.extend(page.map_err(from_sdk)?.policy_names().iter().cloned());
        }
        Ok(out)
    }

    /// One role's policies, asked for one by one; `None` if it is gone.
    async fn policies_of(&self, name: &str) -> Result<Option<Policies>, ProviderError> {
        let (names, managed) = futures::join!(self.inline_names(name), self.managed(name));
        let (Some(names), Some(managed)) = (found(names)?, found(managed)?) else { return Ok(None) };
        let docs = join_all(names.iter().map(|p| async move {
            let out = self.client.get_role_policy().role_name(name).policy_name(p).send().await.map_err(from_sdk);
            Ok::<_, ProviderError>(found(out)?.map(|o| (p.clone(), parse_policy(o.policy_document()))))
        }));
        let mut inline = Map::new();
        for d in docs.await {
            inline.extend(d?);
        }
        Ok(Some((inline, managed)))
    }

    /// These roles from the account's ListRoles, read until every one of
    /// them was seen (no tags: ListRoles leaves them out).
    async fn roles_listed(&self, names: &[String]) -> Result<Vec<IamRole>, ProviderError> {
        let mut left: BTreeSet<&str> = names.iter().map(String::as_str).collect();
        let mut pages = self.client.list_roles().max_items(PAGE).into_paginator().send();
        let mut out = Vec::new();
        while let Some(page) = pages.next().await {
            for r in page.map_err(from_sdk)?.roles {
                if left.remove(r.role_name()) {
                    out.push(r);
                }
            }
            if left.is_empty() {
                break;
            }
        }
        Ok(out)
    }

    /// The policies and tags of these roles from the account's
    /// authorization details, read until every one of them was seen.
    async fn policies_listed(&self, names: &[String]) -> Result<BTreeMap<String, (Policies, Vec<Tag>)>, ProviderError> {
        let mut left: BTreeSet<&str> = names.iter().map(String::as_str).collect();
        let call = self.client.get_account_authorization_details().filter(EntityType::Role).max_items(PAGE);
        let mut pages = call.into_paginator().send();
        let mut out = BTreeMap::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(from_sdk)?;
            for r in page.role_detail_list() {
                let Some(name) = r.role_name().filter(|n| left.remove(*n)) else { continue };
                let inline = r
                    .role_policy_list()
                    .iter()
                    .filter_map(|p| Some((p.policy_name()?.to_string(), parse_policy(p.policy_document()?))));
                let managed = r.attached_managed_policies().iter().filter_map(|p| p.policy_arn.clone());
                out.insert(name.to_string(), ((inline.collect(), managed.collect()), r.tags().to_vec()));
            }
            if left.is_empty() {
                break;
            }
        }
        Ok(out)
    }

    async fn read_names(&self, names: &[String]) -> Result<Vec<Live<RoleModel>>, ProviderError> {
        if names.len() >= LIST_FROM {
            let (roles, listed) = futures::join!(self.roles_listed(names), self.policies_listed(names));
            let mut listed = listed?;
            return Ok(roles?
                .iter()
                .filter_map(|r| {
                    let (policies, tags) = listed.remove(r.role_name())?;
                    Some(live(r, policies, &tags))
                })
                .collect());
        }
        crate::read_each(names.iter().map(|n| async move {
            let (role, policies) = futures::join!(self.get_role(n), self.policies_of(n));
            Ok(role?.zip(policies?).map(|(r, p)| live(&r, p, r.tags())))
        }))
        .await
    }

    /// Puts the inline policies that differ, deletes those not wanted,
    /// attaches and detaches managed ones, retrying while AWS answers one
    /// of `unseen` (for a role just created).
    async fn converge_policies(
        &self,
        ctx: &OpCtx,
        name: &str,
        (have, want): (&RoleModel, &RoleModel),
        changed: &[&str],
        unseen: &[&str],
    ) -> Result<(), ProviderError> {
        if changed.contains(&"inline_policies") {
            let (have, want) = (inline(have), inline(want));
            for (p, doc) in &want {
                if have.get(p).is_none_or(|h| canonical_document(h) != canonical_document(doc)) {
                    let call = || {
                        let put = self.client.put_role_policy().role_name(name).policy_name(p);
                        async move { put.policy_document(policy_text(doc)).send().await.map_err(from_sdk) }
                    };
                    retry_unseen(ctx, "role to become visible", unseen, call).await?;
                }
            }
            for p in have.keys().filter(|p| !want.contains_key(*p)) {
                found(self.client.delete_role_policy().role_name(name).policy_name(p).send().await.map_err(from_sdk))?;
            }
        }
        if changed.contains(&"managed_policy_arns") {
            let (have, want) = (&have.managed_policy_arns, &want.managed_policy_arns);
            for arn in want.iter().filter(|a| !have.contains(a)) {
                let call = || {
                    let attach = self.client.attach_role_policy().role_name(name).policy_arn(arn);
                    async move { attach.send().await.map_err(from_sdk) }
                };
                retry_unseen(ctx, "role to become visible", unseen, call).await?;
            }
            for arn in have.iter().filter(|a| !want.contains(a)) {
                let r = self.client.detach_role_policy().role_name(name).policy_arn(arn).send().await;
                found(r.map_err(from_sdk))?;
            }
        }
        Ok(())
    }

    /// CreateRole found the name taken: this resource's own role (a create
    /// retried after a crash) is adopted and converged; anyone else's is
    /// refused.
    async fn adopt(
        &self,
        ctx: &OpCtx,
        name: &str,
        want: &RoleModel,
        e: ProviderError,
    ) -> Result<Created, ProviderError> {
        let live =
            self.read_names(&[name.to_string()]).await?.pop().filter(|l| is_ours(&l.tags, &ctx.stack, &ctx.address));
        let Some(live) = live else {
            return Err(ProviderError::new(
                e.code,
                format!("a role named {name} already exists and is not this stack's {}", ctx.address),
            )
            .with_hint("set another role_name, or delete or rename the existing role"));
        };
        ctx.record_id(name);
        let attributes = live.attributes.clone();
        let live = live.observed();
        self.update(ctx, &live, want, &ALL).await?;
        crate::kit::converge_tags(&self.tags, &live, &ctx.tags).await?;
        Ok(Created { id: name.to_string(), attributes })
    }
}

#[async_trait::async_trait]
impl Kind for Role {
    type Model = RoleModel;
    const ADOPT: Adopt = Adopt::Custom;

    fn schema(&self) -> &'static KindSchema {
        &SCHEMA
    }

    fn tagger(&self) -> Option<&dyn Tagger> {
        Some(&self.tags)
    }

    async fn read(&self, _ctx: &ReadCtx, ids: &[String]) -> Result<Vec<Live<RoleModel>>, ProviderError> {
        self.read_names(ids).await
    }

    /// By role name (the spec's or the default), one batched read.
    async fn find_existing(
        &self,
        ctx: &ReadCtx,
        wanted: &[(String, Props)],
    ) -> Result<Vec<(String, Observed)>, ProviderError> {
        let names: BTreeMap<String, &String> = wanted
            .iter()
            .map(|(address, p)| match p.get("role_name").and_then(Value::as_str) {
                Some(n) => (n.to_string(), address),
                None => (default_name(&ctx.stack, address), address),
            })
            .collect();
        let found = self.read_names(&names.keys().cloned().collect::<Vec<_>>()).await?;
        Ok(found
            .into_iter()
            .filter_map(|l| {
                let address = *names.get(&l.id)?;
                is_this_stacks(&l.tags, &ctx.stack, address).then(|| (address.clone(), l.observed()))
            })
            .collect())
    }

    async fn create(&self, ctx: &OpCtx, want: &RoleModel) -> Result<Created, ProviderError> {
        let name = want.role_name.clone().unwrap_or_else(|| default_name(&ctx.stack, &ctx.address));
        let tags = ctx.tags.iter().map(|(k, v)| Tag::builder().key(k).value(v).build());
        let tags = tags.collect::<Result<Vec<_>, _>>().map_err(|e| ProviderError::msg(e.to_string()))?;
        let out = self
            .client
            .create_role()
            .role_name(&name)
            .path(&want.path)
            .assume_role_policy_document(policy_text(&want.assume_role_policy_document))
            .set_description(want.description.clone())
            .max_session_duration(want.max_session_duration)
            .set_tags(Some(tags))
            .send()
            .await
            .map_err(from_sdk);
        let role = match out {
            Ok(out) => out.role,
            Err(e) if e.code_is("EntityAlreadyExists") => return self.adopt(ctx, &name, want, e).await,
            Err(e) => return Err(e),
        };
        ctx.record_id(&name);
        let fresh = RoleModel { inline_policies: json!({}), managed_policy_arns: vec![], ..want.clone() };
        let both = ["inline_policies", "managed_policy_arns"];
        self.converge_policies(ctx, &name, (&fresh, want), &both, &["NoSuchEntity"]).await?;
        let role = role.ok_or_else(|| ProviderError::msg("CreateRole answered without the role"))?;
        Ok(Created { id: name, attributes: attributes(&role) })
    }

    async fn update(
        &self,
        ctx: &OpCtx,
        live: &Observed,
        want: &RoleModel,
        changed: &[&str],
    ) -> Result<Option<Props>, ProviderError> {
        let name = live.id.as_str();
        let have = RoleModel::from_props(&live.properties)?;
        if changed.contains(&"assume_role_policy_document") {
            let call = self.client.update_assume_role_policy().role_name(name);
            call.policy_document(policy_text(&want.assume_role_policy_document)).send().await.map_err(from_sdk)?;
        }
        if changed.contains(&"description") || changed.contains(&"max_session_duration") {
            let call = self.client.update_role().role_name(name).set_description(want.description.clone());
            call.max_session_duration(want.max_session_duration).send().await.map_err(from_sdk)?;
        }
        self.converge_policies(ctx, name, (&have, want), changed, &[]).await?;
        Ok(None)
    }

    /// A role is deleted bare: its managed policies detached, its inline
    /// ones deleted, out of its instance profiles.
    async fn delete(&self, _ctx: &OpCtx, live: &Observed, _: Option<&RoleModel>) -> Result<(), ProviderError> {
        let name = live.id.as_str();
        for arn in self.managed(name).await? {
            found(self.client.detach_role_policy().role_name(name).policy_arn(arn).send().await.map_err(from_sdk))?;
        }
        for p in self.inline_names(name).await? {
            found(self.client.delete_role_policy().role_name(name).policy_name(p).send().await.map_err(from_sdk))?;
        }
        let mut pages = self.client.list_instance_profiles_for_role().role_name(name).into_paginator().send();
        while let Some(page) = pages.next().await {
            for profile in page.map_err(from_sdk)?.instance_profiles() {
                let call = self.client.remove_role_from_instance_profile().role_name(name);
                found(call.instance_profile_name(profile.instance_profile_name()).send().await.map_err(from_sdk))?;
            }
        }
        self.client.delete_role().role_name(name).send().await.map_err(from_sdk)?;
        Ok(())
    }
}
