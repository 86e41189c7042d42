//! `ecr.repository`: a private ECR repository, with its tag mutability,
//! scan-on-push setting, encryption and lifecycle policy.
//!
//! The id is the repository name. Reads are batched: one
//! DescribeRepositories for up to 100 names (AWS fails the whole call when
//! one name is gone, with RepositoryNotFoundException: then each name is
//! asked on its own, concurrently), then per repository, concurrently,
//! GetLifecyclePolicy (its text is a JSON string, read back as a document)
//! and ListTagsForResource. Repositories cannot be listed by tag: adoption
//! looks each candidate up by its name.
//!
//! `force_delete`: AWS refuses to delete a repository that still holds
//! images unless the delete call says `force`. AWS keeps no such setting:
//! delete reads it from the properties state recorded at the last apply, so
//! to delete a repository with its images, set `force_delete: true`, apply,
//! then remove it. A read cannot see it and reports the default.

use crate::error::from_sdk;
use crate::kit::read_batched;
use crate::kit::{
    attrs, model, own_tags, tagger::EcrTags, tagging, unless_gone, Adopt, Created, Kind, Live, Tagger, Tags,
};
use aws_sdk_ecr::types::{
    EncryptionConfiguration, EncryptionType, ImageScanningConfiguration, ImageTagMutability, Repository as Repo, Tag,
};
use aws_sdk_ecr::Client;
use deployctl_engine::{Observed, OpCtx, Props, ProviderError, ReadCtx};
use deployctl_spec::{Attr, KindSchema};
use serde_json::{json, Value};

/// The most names one DescribeRepositories takes.
const NAME_CHUNK: usize = 100;

const NOT_FOUND: &str = "RepositoryNotFoundException";
const NO_POLICY: &str = "LifecyclePolicyNotFoundException";

model! {
    pub struct RepositoryModel {
        repository_name: String = "The name: lowercase letters, digits and `._-/`, e.g. `shop/api`."
            [required, replace, unique],
        image_tag_mutability: String =
            "`MUTABLE` or `IMMUTABLE` (an image tag cannot be pushed again) (PutImageTagMutability)."
            [default("\"MUTABLE\""), one_of(ImageTagMutability::values())],
        scan_on_push: bool = "Whether each pushed image is scanned for vulnerabilities." [default("false")],
        encryption_type: String = "`AES256` or `KMS`."
            [default("\"AES256\""), replace, one_of(EncryptionType::values())],
        kms_key: Option<String> = "The KMS key of `KMS` encryption. Unset: the AWS managed key, not managed."
            [replace],
        lifecycle_policy: Value =
            "The lifecycle policy (`rules: [{rulePriority, description, selection, action}]`), written as YAML. \
             Unset: none (a policy set outside deployctl is removed)."
            [default("{}")],
        force_delete: bool =
            "Whether deleting the repository deletes the images in it; without it, deleting a repository that \
             holds images fails."
            [default("false"), state_only],
    }
}

pub static SCHEMA: KindSchema = KindSchema {
    type_name: "ecr.repository",
    doc: "A private ECR repository for container images. A repository that still holds images is deleted only \
          with `force_delete: true` (applied before the delete: the setting is kept in state).",
    properties: <RepositoryModel as crate::kit::Model>::PROPS,
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
    tags: EcrTags,
    tagging: Option<tagging::StackTags>,
}

/// A lifecycle policy worth sending: a non-empty document.
fn policy_text(want: &RepositoryModel) -> Option<String> {
    match &want.lifecycle_policy {
        // Written as a JSON string rather than as YAML: send it as it is.
        Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
        Value::Object(m) if m.is_empty() => None,
        v @ (Value::Object(_) | Value::Array(_)) => Some(v.to_string()),
        _ => None,
    }
}

fn scanning(want: &RepositoryModel) -> ImageScanningConfiguration {
    ImageScanningConfiguration::builder().scan_on_push(want.scan_on_push).build()
}

fn attributes(r: &Repo) -> Props {
    let name = r.repository_name().unwrap_or_default();
    attrs([
        ("id", json!(name)),
        ("name", json!(name)),
        ("arn", json!(r.repository_arn())),
        ("repository_uri", json!(r.repository_uri())),
        ("registry_id", json!(r.registry_id())),
    ])
}

impl Repository {
    pub fn new(client: Client) -> Repository {
        Repository { tags: EcrTags(client.clone()), client, tagging: None }
    }

    /// Tags from the run's one tagging-API read of the stack (shared by
    /// the kinds), rather than one tag read per repository.
    pub fn with_stack_tags(mut self, tags: tagging::StackTags) -> Repository {
        self.tagging = Some(tags);
        self
    }

    async fn describe(&self, names: Vec<String>) -> Result<Vec<Repo>, ProviderError> {
        let out =
            self.client.describe_repositories().set_repository_names(Some(names)).send().await.map_err(from_sdk)?;
        Ok(out.repositories.unwrap_or_default())
    }

    /// A repository's tags; `None` when it is gone.
    async fn tags_of(&self, arn: String) -> Result<Option<Tags>, ProviderError> {
        let out = self.client.list_tags_for_resource().resource_arn(arn).send().await.map_err(from_sdk);
        let out = unless_gone(out, |e| e.code_is(NOT_FOUND))?;
        Ok(out.map(|o| own_tags(o.tags().iter().map(|t| (t.key(), t.value())))))
    }

    /// The lifecycle policy of one repository whose tags are known; `None`
    /// when it vanished meanwhile.
    async fn details(&self, r: &Repo, tags: Tags) -> Result<Option<Live<RepositoryModel>>, ProviderError> {
        let name = r.repository_name().unwrap_or_default();
        let policy = async {
            match self.client.get_lifecycle_policy().repository_name(name).send().await.map_err(from_sdk) {
                Ok(out) => Ok(out.lifecycle_policy_text().map(|t| serde_json::from_str(t).unwrap_or(json!(t)))),
                Err(e) if e.code_is(NO_POLICY) => Ok(None),
                Err(e) => Err(e),
            }
        };
        let policy = match policy.await {
            Err(e) if e.code_is(NOT_FOUND) => return Ok(None),
            p => p?,
        };
        let enc = r.encryption_configuration();
        Ok(Some(Live {
            id: name.to_string(),
            model: RepositoryModel {
                repository_name: name.to_string(),
                image_tag_mutability: r.image_tag_mutability().map_or("MUTABLE", |m| m.as_str()).to_string(),
                scan_on_push: r.image_scanning_configuration().is_some_and(|c| c.scan_on_push()),
                encryption_type: enc.map_or("AES256", |e| e.encryption_type().as_str()).to_string(),
                kms_key: enc.and_then(|e| e.kms_key()).map(str::to_string),
                lifecycle_policy: policy.unwrap_or_else(|| json!({})),
                // Not held by AWS: delete reads it from state.
                force_delete: false,
            },
            tags,
            attributes: attributes(r),
        }))
    }

    async fn put_policy(&self, name: &str, want: &RepositoryModel) -> Result<(), ProviderError> {
        if let Some(text) = policy_text(want) {
            let call = self.client.put_lifecycle_policy().repository_name(name).lifecycle_policy_text(text);
            call.send()
                .await
                .map_err(from_sdk)
                .map_err(|e| e.with_hint("check lifecycle_policy against the ECR lifecycle policy syntax"))?;
            return Ok(());
        }
        match self.client.delete_lifecycle_policy().repository_name(name).send().await.map_err(from_sdk) {
            Err(e) if !e.code_is(NO_POLICY) => Err(e),
            _ => Ok(()),
        }
    }
}

#[async_trait::async_trait]
impl Kind for Repository {
    type Model = RepositoryModel;
    const ADOPT: Adopt = Adopt::ByName("repository_name");
    const EXISTS: &'static [&'static str] = &["RepositoryAlreadyExistsException"];
    const GONE: &'static [&'static str] = &[NOT_FOUND];

    fn schema(&self) -> &'static KindSchema {
        &SCHEMA
    }

    fn tagger(&self) -> Option<&dyn Tagger> {
        Some(&self.tags)
    }

    fn stack_tags(&self) -> Option<&crate::kit::tagging::StackTags> {
        self.tagging.as_ref()
    }

    async fn read(&self, ctx: &ReadCtx, ids: &[String]) -> Result<Vec<Live<RepositoryModel>>, ProviderError> {
        let found = read_batched(ids, NAME_CHUNK, NOT_FOUND, |chunk| self.describe(chunk)).await?;
        let arns: Vec<String> = found.iter().filter_map(|r| r.repository_arn().map(str::to_string)).collect();
        let mut tags = tagging::tags_of(self.tagging.as_ref(), &ctx.stack, &arns, |arn| self.tags_of(arn)).await?;
        let found: Vec<(&Repo, Tags)> =
            found.iter().filter_map(|r| Some((r, tags.remove(r.repository_arn()?)?))).collect();
        crate::read_each(found.into_iter().map(|(r, tags)| self.details(r, tags))).await
    }

    async fn create(&self, ctx: &OpCtx, want: &RepositoryModel) -> Result<Created, ProviderError> {
        let encryption = EncryptionConfiguration::builder()
            .encryption_type(EncryptionType::from(want.encryption_type.as_str()))
            .set_kms_key(want.kms_key.clone())
            .build()
            .map_err(|e| ProviderError::msg(e.to_string()))?;
        let tags = ctx.tags.iter().map(|(k, v)| Tag::builder().key(k).value(v).build());
        let tags = tags.collect::<Result<Vec<_>, _>>().map_err(|e| ProviderError::msg(e.to_string()))?;
        let out = self
            .client
            .create_repository()
            .repository_name(&want.repository_name)
            .image_tag_mutability(ImageTagMutability::from(want.image_tag_mutability.as_str()))
            .image_scanning_configuration(scanning(want))
            .encryption_configuration(encryption)
            .set_tags(Some(tags))
            .send()
            .await
            .map_err(from_sdk)?;
        ctx.record_id(&want.repository_name);
        if policy_text(want).is_some() {
            self.put_policy(&want.repository_name, want).await?;
        }
        let repo = out.repository.unwrap_or_else(|| Repo::builder().repository_name(&want.repository_name).build());
        Ok(Created { id: want.repository_name.clone(), attributes: attributes(&repo) })
    }

    async fn update(
        &self,
        _ctx: &OpCtx,
        live: &Observed,
        want: &RepositoryModel,
        changed: &[&str],
    ) -> Result<Option<Props>, ProviderError> {
        let name = live.id.as_str();
        if changed.contains(&"image_tag_mutability") {
            let mutability = ImageTagMutability::from(want.image_tag_mutability.as_str());
            let call = self.client.put_image_tag_mutability().repository_name(name).image_tag_mutability(mutability);
            call.send().await.map_err(from_sdk)?;
        }
        if changed.contains(&"scan_on_push") {
            let call = self.client.put_image_scanning_configuration().repository_name(name);
            call.image_scanning_configuration(scanning(want)).send().await.map_err(from_sdk)?;
        }
        if changed.contains(&"lifecycle_policy") {
            self.put_policy(name, want).await?;
        }
        // force_delete: nothing to call; state records it.
        Ok(None)
    }

    async fn delete(
        &self,
        _ctx: &OpCtx,
        live: &Observed,
        recorded: Option<&RepositoryModel>,
    ) -> Result<(), ProviderError> {
        let force = recorded.is_some_and(|r| r.force_delete);
        let call = self.client.delete_repository().repository_name(&live.id).force(force);
        match call.send().await.map_err(from_sdk) {
            Err(e) if e.code_is("RepositoryNotEmptyException") => {
                Err(e.with_hint("set force_delete: true to delete it with its images (apply that first, then delete)"))
            }
            other => other.map(|_| ()),
        }
    }
}
