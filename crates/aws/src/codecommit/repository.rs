//! `codecommit.repository`: a CodeCommit Git repository.
//!
//! The id is the name. A read is one BatchGetRepositories per 25 names and
//! the tags from the run's one tagging-API read (ListTagsForResource for
//! what it misses). Create is one CreateRepository with the tags; the
//! description and KMS key change in place, the name replaces it (the clone
//! URLs change with it). A create repeated after a crash finds the
//! repository by its name and adopts it if it carries this resource's tags.
//!
//! moto 5.2.5 serves only CreateRepository, GetRepository and
//! DeleteRepository (it ignores tags, and answers 500 to the batch read and
//! the tag calls): the kind's reads and changes are tested with mocked
//! clients.

use crate::error::from_sdk;
use crate::kit::tagger::CodeCommitTags;
use crate::kit::{attrs, model, own_tags, tagging, unless_gone, Adopt, Created, Kind, Live, Tagger, Tags};
use aws_sdk_codecommit::types::RepositoryMetadata;
use aws_sdk_codecommit::Client;
use deployctl_engine::{Observed, OpCtx, Props, ProviderError, ReadCtx};
use deployctl_spec::{Attr, KindSchema};
use futures::future::try_join_all;
use serde_json::json;

model! {
    pub struct RepositoryModel {
        repository_name: String = "The name (`cloud-health-dashboard`); not ending in `.git`."
            [required, replace, unique, name(1, 100, "A-Za-z0-9._-")],
        description: String = "What the repository holds, at most 1,000 characters." [default("\"\"")],
        kms_key_id: Option<String> = "The KMS key its data is encrypted with. Unset: `aws/codecommit`, not managed.",
    }
}

pub static SCHEMA: KindSchema = KindSchema {
    type_name: "codecommit.repository",
    doc: "A CodeCommit Git repository, for a pipeline's `CodeCommit` source action (`RepositoryName: \
          ${repo.name}`). The description and KMS key change in place; a new name makes a new, empty repository. \
          Destroying it deletes the repository and its history.",
    properties: <RepositoryModel as crate::kit::Model>::PROPS,
    attributes: &[
        Attr { name: "id", doc: "The name." },
        Attr { name: "name", doc: "The name." },
        Attr { name: "arn", doc: "`arn:aws:codecommit:<region>:<account>:<name>`, for IAM policies." },
        Attr { name: "repository_id", doc: "CodeCommit's id of the repository." },
        Attr { name: "clone_url_http", doc: "The HTTPS clone URL." },
        Attr { name: "clone_url_ssh", doc: "The SSH clone URL." },
    ],
    taggable: true,
    rules: &[],
    example: "repo:\n  type: codecommit.repository\n  properties:\n    repository_name: cloud-health-dashboard\n    \
              description: the dashboard's backend and frontend\n",
};

fn attributes(m: &RepositoryMetadata) -> Props {
    let name = m.repository_name().unwrap_or_default();
    attrs([
        ("id", json!(name)),
        ("name", json!(name)),
        ("arn", json!(m.arn())),
        ("repository_id", json!(m.repository_id())),
        ("clone_url_http", json!(m.clone_url_http())),
        ("clone_url_ssh", json!(m.clone_url_ssh())),
    ])
}

pub struct Repository {
    client: Client,
    tags: CodeCommitTags,
    tagging: Option<tagging::StackTags>,
}

impl Repository {
    pub fn new(client: Client) -> Repository {
        Repository { tags: CodeCommitTags(client.clone()), client, tagging: None }
    }

    /// Tags from the run's one tagging-API read of the stack.
    pub fn with_stack_tags(mut self, tags: tagging::StackTags) -> Repository {
        self.tagging = Some(tags);
        self
    }

    async fn tags_of(&self, arn: String) -> Result<Option<Tags>, ProviderError> {
        let r = self.client.list_tags_for_resource().resource_arn(arn).send().await.map_err(from_sdk);
        let out = unless_gone(r, crate::kit::is_gone::<Self>)?;
        Ok(out.map(|o| own_tags(o.tags().into_iter().flatten())))
    }
}

#[async_trait::async_trait]
impl Kind for Repository {
    type Model = RepositoryModel;
    const ADOPT: Adopt = Adopt::ByName("repository_name");
    const EXISTS: &'static [&'static str] = &["RepositoryNameExistsException"];
    const GONE: &'static [&'static str] = &["RepositoryDoesNotExistException"];

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
        let pages = try_join_all(ids.chunks(25).map(|names| async move {
            let call = self.client.batch_get_repositories().set_repository_names(Some(names.to_vec()));
            Ok::<_, ProviderError>(call.send().await.map_err(from_sdk)?.repositories.unwrap_or_default())
        }));
        let found: Vec<RepositoryMetadata> = pages.await?.into_iter().flatten().collect();
        let arns: Vec<String> = found.iter().filter_map(|m| m.arn.clone()).collect();
        let mut tags = tagging::tags_of(self.tagging.as_ref(), &ctx.stack, &arns, |a| self.tags_of(a)).await?;
        Ok(found
            .into_iter()
            .filter_map(|m| {
                let model = RepositoryModel {
                    repository_name: m.repository_name()?.to_string(),
                    description: m.repository_description().unwrap_or_default().to_string(),
                    kms_key_id: m.kms_key_id().map(str::to_string),
                };
                let tags = tags.remove(m.arn()?)?;
                Some(Live { id: model.repository_name.clone(), attributes: attributes(&m), model, tags })
            })
            .collect())
    }

    async fn create(&self, ctx: &OpCtx, want: &RepositoryModel) -> Result<Created, ProviderError> {
        let out = self
            .client
            .create_repository()
            .repository_name(&want.repository_name)
            .repository_description(&want.description)
            .set_kms_key_id(want.kms_key_id.clone())
            .set_tags(Some(ctx.tags.clone().into_iter().collect()))
            .send()
            .await
            .map_err(from_sdk)?;
        ctx.record_id(&want.repository_name);
        let meta =
            out.repository_metadata.ok_or_else(|| ProviderError::msg("CreateRepository answered no metadata"))?;
        Ok(Created { id: want.repository_name.clone(), attributes: attributes(&meta) })
    }

    async fn update(
        &self,
        _: &OpCtx,
        live: &Observed,
        want: &RepositoryModel,
        changed: &[&str],
    ) -> Result<Option<Props>, ProviderError> {
        if changed.contains(&"description") {
            let call = self.client.update_repository_description().repository_name(&live.id);
            call.repository_description(&want.description).send().await.map_err(from_sdk)?;
        }
        if let Some(key) = want.kms_key_id.as_ref().filter(|_| changed.contains(&"kms_key_id")) {
            let call = self.client.update_repository_encryption_key().repository_name(&live.id);
            call.kms_key_id(key).send().await.map_err(from_sdk)?;
        }
        Ok(None)
    }

    async fn delete(&self, _: &OpCtx, live: &Observed, _: Option<&RepositoryModel>) -> Result<(), ProviderError> {
        self.client.delete_repository().repository_name(&live.id).send().await.map_err(from_sdk)?;
        Ok(())
    }
}
