//! `ecr.repository`: a private ECR repository, with its tag mutability,
//! scan-on-push setting, encryption and lifecycle policy.
//!
//! The id is the repository name. Reads are batched: one
//! DescribeRepositories for up to 100 names (AWS fails the whole call when
//! one name is gone, with RepositoryNotFoundException: then each name is
//! asked on its own, concurrently), then per repository, concurrently,
//! GetLifecyclePolicy (its text is a JSON string, read back as a document)
//! and ListTagsForResource. Repositories cannot be listed by tag: adoption
//! looks each candidate up by its name and adopts it only if it carries this
//! stack's and this resource's tags.
//!
//! `force_delete`: AWS refuses to delete a repository that still holds
//! images unless the delete call says `force`. Delete only sees the
//! resource as last read, so the setting is kept on the repository itself,
//! as the tag `deployctl:force-delete = true` (set at create and update,
//! read back into the property, and left out of the tags the plan
//! compares). To delete a repository with its images, set
//! `force_delete: true`, apply, then remove it.

use crate::elbv2::read_batched;
use crate::error::from_sdk;
use crate::tags::tag_changes;
use async_trait::async_trait;
use aws_sdk_ecr::types::{
    EncryptionConfiguration, EncryptionType, ImageScanningConfiguration, ImageTagMutability, Repository as Repo, Tag,
};
use aws_sdk_ecr::Client;
use deployctl_engine::kind::{TAG_RESOURCE, TAG_STACK};
use deployctl_engine::{Observed, OpCtx, Props, ProviderError, ReadCtx, ResourceKind};
use deployctl_spec::{Attr, KindSchema, Prop, Type};
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// The tag that carries `force_delete` to the delete step.
pub const TAG_FORCE_DELETE: &str = "deployctl:force-delete";

/// The most names one DescribeRepositories takes.
const NAME_CHUNK: usize = 100;

const NOT_FOUND: &str = "RepositoryNotFoundException";
const NO_POLICY: &str = "LifecyclePolicyNotFoundException";

pub static SCHEMA: KindSchema = KindSchema {
    type_name: "ecr.repository",
    doc: "A private ECR repository for container images. A repository that still holds images is deleted only \
          with `force_delete: true` (applied before the delete: the setting is kept on the repository as the tag \
          `deployctl:force-delete`).",
    properties: &[
        Prop::new(
            "repository_name",
            Type::String,
            "The name: lowercase letters, digits and `._-/`, e.g. `shop/api`.",
        )
        .required()
        .replace().unique(),
        Prop::new(
            "image_tag_mutability",
            Type::String,
            "`MUTABLE` or `IMMUTABLE` (an image tag cannot be pushed again) (PutImageTagMutability).",
        )
        .default("\"MUTABLE\"").one_of(aws_sdk_ecr::types::ImageTagMutability::values()),
        Prop::new("scan_on_push", Type::Bool, "Whether each pushed image is scanned for vulnerabilities.")
            .default("false"),
        Prop::new("encryption_type", Type::String, "`AES256` or `KMS`.").default("\"AES256\"").replace().one_of(aws_sdk_ecr::types::EncryptionType::values()),
        Prop::new(
            "kms_key",
            Type::String,
            "The KMS key of `KMS` encryption. Unset: the AWS managed key, not managed.",
        )
        .replace(),
        Prop::new(
            "lifecycle_policy",
            Type::Document,
            "The lifecycle policy (`rules: [{rulePriority, description, selection, action}]`), written as YAML. \
             Unset: none (a policy set outside deployctl is removed).",
        )
        .default("{}"),
        Prop::new(
            "force_delete",
            Type::Bool,
            "Whether deleting the repository deletes the images in it; without it, deleting a repository that \
             holds images fails.",
        )
        .default("false"),
    ],
    attributes: &[
        Attr { name: "id", doc: "The repository name." },
        Attr { name: "name", doc: "The repository name." },
        Attr { name: "arn", doc: "The repository's ARN." },
        Attr { name: "repository_uri", doc: "`<account>.dkr.ecr.<region>.amazonaws.com/<name>`: where images go." },
        Attr { name: "registry_id", doc: "The registry (account) id." },
    ],
    taggable: true,
    rules: &[],
    example: "repo:\n  type: ecr.repository\n  properties:\n    repository_name: shop/api\n    scan_on_push: true\n    lifecycle_policy:\n      rules:\n        - rulePriority: 1\n          description: Keep last 10 images\n          selection: {tagStatus: any, countType: imageCountMoreThan, countNumber: 10}\n          action: {type: expire}\n",
};

pub struct Repository {
    client: Client,
}

/// What the spec asks for a property, or its default.
fn want(desired: &Props, name: &str) -> Option<Value> {
    match desired.get(name) {
        Some(v) if !v.is_null() => Some(v.clone()),
        _ => SCHEMA.property(name).and_then(deployctl_engine::diff::default_of),
    }
}

fn want_str(desired: &Props, name: &str) -> Option<String> {
    want(desired, name).and_then(|v| v.as_str().map(str::to_string))
}

fn want_bool(desired: &Props, name: &str) -> bool {
    want(desired, name).and_then(|v| v.as_bool()).unwrap_or(false)
}

/// A lifecycle policy worth sending: a non-empty document.
fn policy_text(desired: &Props) -> Option<String> {
    match want(desired, "lifecycle_policy") {
        Some(Value::Object(m)) if m.is_empty() => None,
        // Written as a JSON string rather than as YAML: send it as it is.
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s),
        Some(v @ (Value::Object(_) | Value::Array(_))) => Some(v.to_string()),
        _ => None,
    }
}

/// The tags the repository should carry: the step's, plus the force-delete
/// marker when asked.
fn wanted_tags(ctx: &OpCtx, desired: &Props) -> BTreeMap<String, String> {
    let mut tags = ctx.tags.clone();
    if want_bool(desired, "force_delete") {
        tags.insert(TAG_FORCE_DELETE.into(), "true".into());
    }
    tags
}

fn ecr_tags(tags: &BTreeMap<String, String>) -> Result<Vec<Tag>, ProviderError> {
    tags.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build().map_err(|e| ProviderError::msg(e.to_string())))
        .collect()
}

impl Repository {
    pub fn new(client: Client) -> Repository {
        Repository { client }
    }

    async fn describe(&self, names: Vec<String>) -> Result<Vec<Repo>, ProviderError> {
        let out =
            self.client.describe_repositories().set_repository_names(Some(names)).send().await.map_err(from_sdk)?;
        Ok(out.repositories.unwrap_or_default())
    }

    async fn describe_all(&self) -> Result<Vec<Repo>, ProviderError> {
        let mut pages = self.client.describe_repositories().into_paginator().send();
        let mut out = Vec::new();
        while let Some(page) = pages.next().await {
            out.extend(page.map_err(from_sdk)?.repositories.unwrap_or_default());
        }
        Ok(out)
    }

    /// The lifecycle policy and the tags of one repository; `None` when it
    /// vanished meanwhile.
    async fn details(&self, repo: &Repo) -> Result<Option<Observed>, ProviderError> {
        let name = repo.repository_name().unwrap_or_default();
        let arn = repo.repository_arn().unwrap_or_default();
        let policy = async {
            match self.client.get_lifecycle_policy().repository_name(name).send().await.map_err(from_sdk) {
                Ok(out) => Ok(out.lifecycle_policy_text().map(|t| serde_json::from_str(t).unwrap_or(json!(t)))),
                Err(e) if e.code_is(NO_POLICY) => Ok(None),
                Err(e) => Err(e),
            }
        };
        let tags = async { self.client.list_tags_for_resource().resource_arn(arn).send().await.map_err(from_sdk) };
        let (policy, tags) = futures::join!(policy, tags);
        let (policy, tags) = match (policy, tags) {
            (Err(e), _) | (_, Err(e)) if e.code_is(NOT_FOUND) => return Ok(None),
            (p, t) => (p?, t?),
        };
        let mut tags: BTreeMap<String, String> = tags
            .tags()
            .iter()
            .map(|t| (t.key().to_string(), t.value().to_string()))
            .filter(|(k, _)| !k.starts_with("aws:"))
            .collect();
        let force = tags.remove(TAG_FORCE_DELETE).is_some_and(|v| v == "true");
        Ok(Some(observed(repo, policy, force, tags)))
    }

    async fn observe(&self, repos: &[Repo]) -> Result<Vec<Observed>, ProviderError> {
        crate::read_each(repos.iter().map(|r| self.details(r))).await
    }

    async fn read_names(&self, names: &[String]) -> Result<Vec<Observed>, ProviderError> {
        let found = read_batched(names, NAME_CHUNK, NOT_FOUND, |chunk| self.describe(chunk)).await?;
        self.observe(&found).await
    }

    async fn read_one(&self, name: &str) -> Result<Observed, ProviderError> {
        self.read_names(&[name.to_string()])
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| ProviderError::new(Some(NOT_FOUND.into()), format!("repository {name} disappeared")))
    }

    async fn put_policy(&self, name: &str, desired: &Props) -> Result<(), ProviderError> {
        match policy_text(desired) {
            Some(text) => {
                self.client
                    .put_lifecycle_policy()
                    .repository_name(name)
                    .lifecycle_policy_text(text)
                    .send()
                    .await
                    .map_err(from_sdk)
                    .map_err(|e| e.with_hint("check lifecycle_policy against the ECR lifecycle policy syntax"))?;
            }
            None => match self.client.delete_lifecycle_policy().repository_name(name).send().await.map_err(from_sdk) {
                Ok(_) => {}
                Err(e) if e.code_is(NO_POLICY) => {}
                Err(e) => return Err(e),
            },
        }
        Ok(())
    }

    async fn converge_tags(
        &self,
        arn: &str,
        live: &BTreeMap<String, String>,
        want: &BTreeMap<String, String>,
    ) -> Result<(), ProviderError> {
        let (set, unset) = tag_changes(live, want);
        if !set.is_empty() {
            self.client
                .tag_resource()
                .resource_arn(arn)
                .set_tags(Some(ecr_tags(&set)?))
                .send()
                .await
                .map_err(from_sdk)?;
        }
        if !unset.is_empty() {
            self.client.untag_resource().resource_arn(arn).set_tag_keys(Some(unset)).send().await.map_err(from_sdk)?;
        }
        Ok(())
    }
}

/// A repository in the spec's shape.
fn observed(r: &Repo, policy: Option<Value>, force: bool, tags: BTreeMap<String, String>) -> Observed {
    let name = r.repository_name().unwrap_or_default().to_string();
    let enc = r.encryption_configuration();
    let mut properties = Props::new();
    properties.insert("repository_name".into(), json!(name));
    properties.insert("image_tag_mutability".into(), json!(r.image_tag_mutability().map(|m| m.as_str())));
    properties.insert(
        "scan_on_push".into(),
        json!(r.image_scanning_configuration().map(|c| c.scan_on_push()).unwrap_or(false)),
    );
    properties.insert("encryption_type".into(), json!(enc.map(|e| e.encryption_type().as_str()).unwrap_or("AES256")));
    if let Some(k) = enc.and_then(|e| e.kms_key()) {
        properties.insert("kms_key".into(), json!(k));
    }
    if let Some(p) = policy {
        properties.insert("lifecycle_policy".into(), p);
    }
    properties.insert("force_delete".into(), json!(force));
    let mut attributes = Props::new();
    attributes.insert("id".into(), json!(name));
    attributes.insert("name".into(), json!(name));
    attributes.insert("arn".into(), json!(r.repository_arn()));
    attributes.insert("repository_uri".into(), json!(r.repository_uri()));
    attributes.insert("registry_id".into(), json!(r.registry_id()));
    Observed { id: name, properties, tags, attributes }
}

/// The tags as they are on the repository, the force-delete marker
/// included.
fn live_tags(current: &Observed) -> BTreeMap<String, String> {
    let mut tags = current.tags.clone();
    if current.properties.get("force_delete").and_then(Value::as_bool) == Some(true) {
        tags.insert(TAG_FORCE_DELETE.into(), "true".into());
    }
    tags
}

#[async_trait]
impl ResourceKind for Repository {
    fn schema(&self) -> &'static KindSchema {
        &SCHEMA
    }

    async fn read(&self, _ctx: &ReadCtx, ids: &[String]) -> Result<Vec<Observed>, ProviderError> {
        self.read_names(ids).await
    }

    async fn find_tagged(&self, ctx: &ReadCtx) -> Result<Vec<(String, Observed)>, ProviderError> {
        let all = self.describe_all().await?;
        let found = self.observe(&all).await?;
        Ok(found
            .into_iter()
            .filter(|o| o.tags.get(TAG_STACK) == Some(&ctx.stack))
            .filter_map(|o| Some((o.tags.get(TAG_RESOURCE)?.clone(), o)))
            .collect())
    }

    async fn find_existing(
        &self,
        ctx: &ReadCtx,
        wanted: &[(String, Props)],
    ) -> Result<Vec<(String, Observed)>, ProviderError> {
        let by_name: BTreeMap<String, &String> = wanted
            .iter()
            .filter_map(|(address, p)| Some((p.get("repository_name")?.as_str()?.to_string(), address)))
            .collect();
        if by_name.is_empty() {
            return Ok(Vec::new());
        }
        let names: Vec<String> = by_name.keys().cloned().collect();
        let found = self.read_names(&names).await?;
        Ok(found
            .into_iter()
            .filter_map(|o| {
                let address = by_name.get(&o.id)?;
                let mine = crate::tags::is_this_stacks(&o.tags, &ctx.stack, address);
                mine.then(|| ((*address).clone(), o))
            })
            .collect())
    }

    async fn create(&self, ctx: &OpCtx, desired: &Props) -> Result<Observed, ProviderError> {
        let name =
            want_str(desired, "repository_name").ok_or_else(|| ProviderError::msg("repository_name is required"))?;
        let encryption = EncryptionConfiguration::builder()
            .encryption_type(EncryptionType::from(want_str(desired, "encryption_type").unwrap_or_default().as_str()))
            .set_kms_key(want_str(desired, "kms_key"))
            .build()
            .map_err(|e| ProviderError::msg(e.to_string()))?;
        self.client
            .create_repository()
            .repository_name(&name)
            .image_tag_mutability(ImageTagMutability::from(
                want_str(desired, "image_tag_mutability").unwrap_or_default().as_str(),
            ))
            .image_scanning_configuration(
                ImageScanningConfiguration::builder().scan_on_push(want_bool(desired, "scan_on_push")).build(),
            )
            .encryption_configuration(encryption)
            .set_tags(Some(ecr_tags(&wanted_tags(ctx, desired))?))
            .send()
            .await
            .map_err(from_sdk)
            .map_err(|e| {
                if e.code_is("RepositoryAlreadyExistsException") {
                    e.with_hint(format!(
                        "a repository named {name} already exists and is not this resource's (it lacks this stack's \
                         deployctl tags): pick another repository_name, or delete that repository"
                    ))
                } else {
                    e
                }
            })?;
        ctx.record_id(&name);
        if policy_text(desired).is_some() {
            self.put_policy(&name, desired).await?;
        }
        self.read_one(&name).await
    }

    async fn update(
        &self,
        ctx: &OpCtx,
        current: &Observed,
        desired: &Props,
        changed: &[String],
    ) -> Result<Observed, ProviderError> {
        let name = current.id.as_str();
        let has = |p: &str| changed.iter().any(|c| c == p);
        if has("image_tag_mutability") {
            self.client
                .put_image_tag_mutability()
                .repository_name(name)
                .image_tag_mutability(ImageTagMutability::from(
                    want_str(desired, "image_tag_mutability").unwrap_or_default().as_str(),
                ))
                .send()
                .await
                .map_err(from_sdk)?;
        }
        if has("scan_on_push") {
            self.client
                .put_image_scanning_configuration()
                .repository_name(name)
                .image_scanning_configuration(
                    ImageScanningConfiguration::builder().scan_on_push(want_bool(desired, "scan_on_push")).build(),
                )
                .send()
                .await
                .map_err(from_sdk)?;
        }
        if has("lifecycle_policy") {
            self.put_policy(name, desired).await?;
        }
        if has("tags") || has("force_delete") {
            let arn = current.attributes.get("arn").and_then(Value::as_str).unwrap_or_default().to_string();
            self.converge_tags(&arn, &live_tags(current), &wanted_tags(ctx, desired)).await?;
        }
        self.read_one(name).await
    }

    async fn delete(&self, _ctx: &OpCtx, current: &Observed, _recorded: &Props) -> Result<(), ProviderError> {
        let force = current.properties.get("force_delete").and_then(Value::as_bool).unwrap_or(false);
        match self.client.delete_repository().repository_name(&current.id).force(force).send().await.map_err(from_sdk) {
            Ok(_) => Ok(()),
            Err(e) if e.code_is(NOT_FOUND) => Ok(()),
            Err(e) if e.code_is("RepositoryNotEmptyException") => {
                Err(e.with_hint("set force_delete: true to delete it with its images (apply that first, then delete)"))
            }
            Err(e) => Err(e),
        }
    }
}
