//! `codepipeline.pipeline`: a CodePipeline pipeline, its artifact store and
//! its stages of actions.
//!
//! The id is the pipeline name. Reads run GetPipeline for every name
//! concurrently (PipelineNotFoundException: absent), then
//! ListTagsForResource on the ARN GetPipeline's metadata gives. Pipelines
//! cannot be listed by tag: adoption looks each candidate up by its name (the
//! `name` property, or the default `<stack>-<resource>`) and adopts it only if
//! it carries this stack's and this resource's tags.
//!
//! The spec maps closely onto the API: `stages[].actions[]` are
//! ActionDeclarations with the action type's four fields flattened
//! (`category`, `owner`, `provider`, `version`), `configuration` is the
//! action's configuration map as the API takes it (keys as AWS spells them:
//! `ProjectName`, `FileName`, `Extract`; values strings), and input and output
//! artifacts are lists of artifact names. Any change to the pipeline's
//! structure, role or artifact store is one UpdatePipeline with the whole
//! declaration; tags go through TagResource/UntagResource.
//!
//! GitHub (version 1) source actions (`owner: ThirdParty`, `provider:
//! GitHub`) need an OAuth token in their configuration (`OAuthToken`). The
//! token is a secret: it is written once, as the pipeline's top-level
//! `github_oauth_token` (`secretsmanager:NAME_OR_ARN[#KEY]`, `env:NAME` or
//! `file:PATH`), which the engine resolves for the call only (reading the
//! Secrets Manager secret then) and records as a fingerprint. This kind puts it
//! into the configuration of every GitHub v1 action it sends, and reads it
//! back never: AWS masks it (`****`), and the read drops `OAuthToken` from
//! every configuration, so it is never in what is observed or compared; a
//! changed token shows as a changed fingerprint and updates the pipeline. A
//! token written into `configuration` directly is refused. Connections
//! (`provider: CodeStarSourceConnection`, `ConnectionArn`) need no token.
//!
//! CreatePipeline and UpdatePipeline pass `role_arn` to CodePipeline, which
//! refuses a role it cannot assume yet ("CodePipeline is not authorized to
//! perform AssumeRole on role …", InvalidStructureException): both go through
//! [`while_role_propagates`].

use crate::error::from_sdk;
use crate::kit::names::sanitized_name;
use crate::kit::propagation::while_role_propagates;
use crate::tags::tag_changes;
use async_trait::async_trait;
use aws_sdk_codepipeline::types::{
    ActionCategory, ActionDeclaration, ActionOwner, ActionTypeId, ArtifactStore, ArtifactStoreType, EncryptionKey,
    EncryptionKeyType, ExecutionMode, InputArtifact, OutputArtifact, PipelineDeclaration, PipelineType,
    StageDeclaration, Tag,
};
use aws_sdk_codepipeline::Client;
use deployctl_engine::diff::{default_of, normalize};
use deployctl_engine::kind::{TAG_RESOURCE, TAG_STACK};
use deployctl_engine::{Observed, OpCtx, Props, ProviderError, ReadCtx, ResourceKind};
use deployctl_spec::{Attr, KindSchema, Prop, Type};
use futures::future::join_all;
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, HashMap};

/// The configuration key of a GitHub v1 action's token.
pub const OAUTH_TOKEN: &str = "OAuthToken";

static ENCRYPTION_KEY: [Prop; 2] = [
    Prop::new("id", Type::String, "The KMS key's ARN, id or alias ARN.").required(),
    Prop::new("type", Type::String, "`KMS`.").default("\"KMS\""),
];

static ARTIFACT_STORE: [Prop; 3] = [
    Prop::new("type", Type::String, "`S3`.").default("\"S3\""),
    Prop::new(
        "location",
        Type::String,
        "The bucket's name (in the pipeline's region; versioning enabled), e.g. `${artifacts.id}`.",
    )
    .required(),
    Prop::new(
        "encryption_key",
        Type::Object(&ENCRYPTION_KEY),
        "The KMS key artifacts are encrypted with. Unset: the AWS managed key for S3.",
    ),
];

static ACTION: [Prop; 12] = [
    Prop::new("name", Type::String, "The action's name, unique in its stage.").required(),
    Prop::new("category", Type::String, "`Source`, `Build`, `Test`, `Deploy`, `Approval` or `Invoke`.").required(),
    Prop::new("owner", Type::String, "`AWS`, `ThirdParty` (GitHub version 1) or `Custom`.").default("\"AWS\""),
    Prop::new(
        "provider",
        Type::String,
        "The action provider: `CodeCommit`, `CodeStarSourceConnection` (GitHub through a connection), `GitHub` \
         (version 1, owner `ThirdParty`), `S3`, `ECR`, `CodeBuild`, `ECS`, `CodeDeployToECS`, `Manual`, ….",
    )
    .required(),
    Prop::new("version", Type::String, "The action type's version.").default("\"1\""),
    Prop::new(
        "configuration",
        Type::Map(&Type::String),
        "The provider's settings, keys as AWS spells them, values as strings (`Extract: \"true\"`): \
         `RepositoryName`/`BranchName` (CodeCommit), `ConnectionArn`/`FullRepositoryId`/`BranchName` \
         (connections), `Owner`/`Repo`/`Branch` (GitHub v1; the token comes from `github_oauth_token`, never \
         from here), `ProjectName` (CodeBuild), `ClusterName`/`ServiceName`/`FileName` (ECS), \
         `BucketName`/`Extract` (S3 deploy), `CustomData` (Manual approval).",
    )
    .default("{}"),
    Prop::new(
        "input_artifacts",
        Type::List(&Type::String),
        "The names of the artifacts the action takes (the first is a CodeBuild action's primary source).",
    )
    .default("[]"),
    Prop::new(
        "output_artifacts",
        Type::List(&Type::String),
        "The names of the artifacts the action produces, for later actions' `input_artifacts`.",
    )
    .default("[]"),
    Prop::new(
        "run_order",
        Type::Int,
        "The action's place in its stage: actions with the same number run in parallel, lower numbers first.",
    )
    .default("1"),
    Prop::new("role_arn", Type::String, "A role the action runs as instead of the pipeline's role."),
    Prop::new("region", Type::String, "The region of a cross-region action. Unset: the pipeline's."),
    Prop::new("namespace", Type::String, "The variable namespace of the action's output variables."),
];
static ACTION_TYPE: Type = Type::Object(&ACTION);

static STAGE: [Prop; 2] = [
    Prop::new("name", Type::String, "The stage's name, unique in the pipeline.").required(),
    Prop::new("actions", Type::List(&ACTION_TYPE), "The stage's actions.").required(),
];
static STAGE_TYPE: Type = Type::Object(&STAGE);

pub static SCHEMA: KindSchema = KindSchema {
    type_name: "codepipeline.pipeline",
    doc: "A CodePipeline pipeline: an artifact bucket and at least two stages of actions (source, build, deploy, \
          approval…), mapped closely onto the API (`configuration` keys as AWS spells them). Everything but the \
          name is updated in place (UpdatePipeline). A GitHub (version 1) source action takes its OAuth token from \
          the top-level secret `github_oauth_token`, usually read from Secrets Manager \
          (`secretsmanager:${github_token.arn}`): it is never written in the spec, state or plans, and never read \
          back (AWS masks it); a rotated token shows in `diff` and updates the pipeline. Prefer a `CodeStarSourceConnection` action, which \
          needs no token. Create and update retry while CodePipeline cannot yet assume a just-created role.",
    properties: &[
        Prop::new(
            "name",
            Type::String,
            "The pipeline's name (letters, digits, `.@-_`, at most 100). Default: `<stack>-<resource>`.",
        )
        .replace().unique(),
        Prop::new(
            "role_arn",
            Type::String,
            "The ARN of the role the pipeline runs as (usually `${pipeline_role.arn}`): it must trust \
             `codepipeline.amazonaws.com` and may use the artifact bucket and start what the actions start \
             (`codebuild:StartBuild`, `ecs:*`, `iam:PassRole` for the task roles, …).",
        )
        .required(),
        Prop::new("artifact_store", Type::Object(&ARTIFACT_STORE), "The S3 bucket that holds the artifacts.")
            .required(),
        Prop::new(
            "stages",
            Type::List(&STAGE_TYPE),
            "The stages, in order (at least two; the first holds the source actions): `{name, actions: [{name, \
             category, owner, provider, version, configuration, input_artifacts, output_artifacts, run_order}]}`.",
        )
        .required(),
        Prop::new(
            "github_oauth_token",
            Type::Secret,
            "The GitHub personal access token of the GitHub (version 1) source actions (`owner: ThirdParty`, \
             `provider: GitHub`), never a literal: `secretsmanager:NAME_OR_ARN` (or `…#KEY` for one key of a \
             JSON secret; `secretsmanager:${github_token.arn}` for a secret of this stack, which is then created \
             first), `env:NAME` or `file:PATH`. deployctl reads it at apply and sets it as `OAuthToken` in each \
             such action's configuration at create and update. Required when the pipeline has one; ignored \
             otherwise.",
        ),
        Prop::new(
            "pipeline_type",
            Type::String,
            "`V1` or `V2` (V2 bills per action minute and supports triggers and variables). Unset: not managed \
             (AWS's default applies at create).",
        ),
        Prop::new(
            "execution_mode",
            Type::String,
            "`SUPERSEDED` (AWS's default), `QUEUED` or `PARALLEL` (V2). Unset: not managed.",
        ),
    ],
    attributes: &[
        Attr { name: "id", doc: "The pipeline's name." },
        Attr { name: "name", doc: "The pipeline's name." },
        Attr { name: "arn", doc: "The pipeline's ARN, `arn:aws:codepipeline:<region>:<account>:<name>`." },
        Attr { name: "version", doc: "The pipeline structure's version: 1 at create, one more at every update." },
    ],
    taggable: true,
    rules: &[],
    example: "pipeline:\n  type: codepipeline.pipeline\n  properties:\n    role_arn: ${pipeline_role.arn}\n    artifact_store: {location: \"${artifacts.id}\"}\n    github_oauth_token: secretsmanager:stock-dashboard/github-token\n    stages:\n      - name: Source\n        actions:\n          - name: GitHub\n            category: Source\n            owner: ThirdParty\n            provider: GitHub\n            configuration: {Owner: acme, Repo: stock-dashboard, Branch: main, PollForSourceChanges: \"false\"}\n            output_artifacts: [SourceOutput]\n      - name: Build\n        actions:\n          - name: Build\n            category: Build\n            provider: CodeBuild\n            configuration: {ProjectName: \"${build.id}\"}\n            input_artifacts: [SourceOutput]\n            output_artifacts: [BuildOutput]\n      - name: Deploy\n        actions:\n          - name: DeployToECS\n            category: Deploy\n            provider: ECS\n            configuration: {ClusterName: stock-dashboard, ServiceName: web, FileName: imagedefinitions.json}\n            input_artifacts: [BuildOutput]\n",
};

pub struct Pipeline {
    client: Client,
}

/// `<stack>-<address>` in the characters CodePipeline allows in pipeline
/// names (letters, digits, `.@-_`; at most 100).
pub fn default_name(stack: &str, address: &str) -> String {
    sanitized_name(&format!("{stack}-{address}"), |c| c.is_ascii_alphanumeric() || ".@-_".contains(c), 100)
}

/// What the spec asks for a property, nested defaults filled in, or the
/// property's default.
fn want(desired: &Props, name: &str) -> Option<Value> {
    let p = SCHEMA.property(name)?;
    match desired.get(name) {
        Some(v) if !v.is_null() => Some(normalize(&p.ty, v)),
        _ => default_of(p).map(|d| normalize(&p.ty, &d)),
    }
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn st(o: &Map<String, Value>, key: &str) -> Option<String> {
    o.get(key).and_then(text)
}

fn names(o: &Map<String, Value>, key: &str) -> Vec<String> {
    o.get(key).and_then(Value::as_array).map(|a| a.iter().filter_map(text).collect()).unwrap_or_default()
}

fn invalid(what: &str, e: impl std::fmt::Display) -> ProviderError {
    ProviderError::new(Some("InvalidStructureException".into()), format!("{what}: {e}"))
}

/// Whether an action is a GitHub version 1 source, which takes an OAuth token.
fn is_github_v1(owner: &str, provider: &str) -> bool {
    owner == "ThirdParty" && provider == "GitHub"
}

/// The token, from the resolved `github_oauth_token` (plaintext at apply).
fn token(desired: &Props) -> Option<&str> {
    desired.get("github_oauth_token").and_then(Value::as_str).filter(|t| !t.is_empty())
}

/// Removes the token from an error message: AWS does not echo it, but an
/// error must never carry it.
fn scrub(mut e: ProviderError, secret: Option<&str>) -> ProviderError {
    if let Some(s) = secret {
        e.message = e.message.replace(s, "<redacted>");
        e.hint = e.hint.map(|h| h.replace(s, "<redacted>"));
    }
    e
}

/// The pipeline declaration CreatePipeline and UpdatePipeline take.
pub(crate) fn declaration(name: &str, desired: &Props) -> Result<PipelineDeclaration, ProviderError> {
    let role =
        want(desired, "role_arn").as_ref().and_then(text).ok_or_else(|| ProviderError::msg("role_arn is required"))?;

    let store = want(desired, "artifact_store").and_then(|v| v.as_object().cloned()).unwrap_or_default();
    let key = store
        .get("encryption_key")
        .and_then(Value::as_object)
        .map(|k| {
            EncryptionKey::builder()
                .set_id(st(k, "id"))
                .r#type(EncryptionKeyType::from(st(k, "type").unwrap_or_else(|| "KMS".into()).as_str()))
                .build()
                .map_err(|e| invalid("artifact_store.encryption_key", e))
        })
        .transpose()?;
    let store = ArtifactStore::builder()
        .r#type(ArtifactStoreType::from(st(&store, "type").unwrap_or_else(|| "S3".into()).as_str()))
        .set_location(st(&store, "location"))
        .set_encryption_key(key)
        .build()
        .map_err(|e| invalid("artifact_store", e))?;

    let token = token(desired);
    let stages = want(desired, "stages").and_then(|v| v.as_array().cloned()).unwrap_or_default();
    let mut out = Vec::with_capacity(stages.len());
    for stage in stages.iter().filter_map(Value::as_object) {
        let stage_name = st(stage, "name").unwrap_or_default();
        let actions = stage.get("actions").and_then(Value::as_array).cloned().unwrap_or_default();
        let mut decls = Vec::with_capacity(actions.len());
        for a in actions.iter().filter_map(Value::as_object) {
            let action_name = st(a, "name").unwrap_or_default();
            let at = format!("stage {stage_name}, action {action_name}");
            let owner = st(a, "owner").unwrap_or_else(|| "AWS".into());
            let provider = st(a, "provider").unwrap_or_default();
            let mut configuration: HashMap<String, String> = a
                .get("configuration")
                .and_then(Value::as_object)
                .map(|c| c.iter().filter_map(|(k, v)| Some((k.clone(), text(v)?))).collect())
                .unwrap_or_default();
            if configuration.contains_key(OAUTH_TOKEN) {
                return Err(ProviderError::new(
                    Some("InvalidStructureException".into()),
                    format!("{at}: configuration must not hold {OAUTH_TOKEN}"),
                )
                .with_hint("write the token as the pipeline's github_oauth_token: secretsmanager:NAME_OR_ARN"));
            }
            if is_github_v1(&owner, &provider) {
                let t = token.ok_or_else(|| {
                    ProviderError::new(
                        Some("InvalidStructureException".into()),
                        format!("{at} is a GitHub (version 1) source, which needs an OAuth token"),
                    )
                    .with_hint(
                        "set the pipeline's github_oauth_token: secretsmanager:NAME_OR_ARN (or env:NAME), or \
                         use a CodeStarSourceConnection action",
                    )
                })?;
                configuration.insert(OAUTH_TOKEN.into(), t.to_string());
            }
            let type_id = ActionTypeId::builder()
                .category(ActionCategory::from(st(a, "category").unwrap_or_default().as_str()))
                .owner(ActionOwner::from(owner.as_str()))
                .provider(provider)
                .version(st(a, "version").unwrap_or_else(|| "1".into()))
                .build()
                .map_err(|e| invalid(&at, e))?;
            let inputs = names(a, "input_artifacts")
                .into_iter()
                .map(|n| InputArtifact::builder().name(n).build().map_err(|e| invalid(&at, e)))
                .collect::<Result<Vec<_>, _>>()?;
            let outputs = names(a, "output_artifacts")
                .into_iter()
                .map(|n| OutputArtifact::builder().name(n).build().map_err(|e| invalid(&at, e)))
                .collect::<Result<Vec<_>, _>>()?;
            let run_order = a.get("run_order").and_then(|v| match v {
                Value::Number(n) => n.as_i64().map(|i| i as i32),
                Value::String(s) => s.trim().parse().ok(),
                _ => None,
            });
            decls.push(
                ActionDeclaration::builder()
                    .name(action_name)
                    .action_type_id(type_id)
                    .set_run_order(run_order)
                    .set_configuration((!configuration.is_empty()).then_some(configuration))
                    .set_input_artifacts(Some(inputs))
                    .set_output_artifacts(Some(outputs))
                    .set_role_arn(st(a, "role_arn"))
                    .set_region(st(a, "region"))
                    .set_namespace(st(a, "namespace"))
                    .build()
                    .map_err(|e| invalid(&at, e))?,
            );
        }
        out.push(
            StageDeclaration::builder()
                .name(stage_name.clone())
                .set_actions(Some(decls))
                .build()
                .map_err(|e| invalid(&format!("stage {stage_name}"), e))?,
        );
    }

    PipelineDeclaration::builder()
        .name(name)
        .role_arn(role)
        .artifact_store(store)
        .set_stages(Some(out))
        .set_pipeline_type(
            want(desired, "pipeline_type").as_ref().and_then(text).map(|t| PipelineType::from(t.as_str())),
        )
        .set_execution_mode(
            want(desired, "execution_mode").as_ref().and_then(text).map(|t| ExecutionMode::from(t.as_str())),
        )
        .build()
        .map_err(|e| invalid("pipeline", e))
}

fn cp_tags(tags: &BTreeMap<String, String>) -> Result<Vec<Tag>, ProviderError> {
    tags.iter().map(|(k, v)| Tag::builder().key(k).value(v).build().map_err(|e| invalid("tags", e))).collect()
}

/// A pipeline in the spec's shape (the token left out).
pub(crate) fn observed(p: &PipelineDeclaration, arn: Option<&str>, tags: BTreeMap<String, String>) -> Observed {
    let name = p.name().to_string();
    let mut properties = Props::new();
    properties.insert("name".into(), json!(name));
    properties.insert("role_arn".into(), json!(p.role_arn()));
    if let Some(s) = p.artifact_store() {
        let mut m = Map::new();
        m.insert("type".into(), json!(s.r#type().as_str()));
        m.insert("location".into(), json!(s.location()));
        if let Some(k) = s.encryption_key() {
            m.insert("encryption_key".into(), json!({"id": k.id(), "type": k.r#type().as_str()}));
        }
        properties.insert("artifact_store".into(), Value::Object(m));
    }
    let stages: Vec<Value> = p
        .stages()
        .iter()
        .map(|s| {
            let actions: Vec<Value> = s
                .actions()
                .iter()
                .map(|a| {
                    let mut m = Map::new();
                    m.insert("name".into(), json!(a.name()));
                    if let Some(t) = a.action_type_id() {
                        m.insert("category".into(), json!(t.category().as_str()));
                        m.insert("owner".into(), json!(t.owner().as_str()));
                        m.insert("provider".into(), json!(t.provider()));
                        m.insert("version".into(), json!(t.version()));
                    }
                    // Sorted, and never the token (AWS masks it as ****).
                    let configuration: BTreeMap<&String, &String> = a
                        .configuration()
                        .map(|c| c.iter().filter(|(k, _)| k.as_str() != OAUTH_TOKEN).collect())
                        .unwrap_or_default();
                    m.insert("configuration".into(), json!(configuration));
                    m.insert(
                        "input_artifacts".into(),
                        json!(a.input_artifacts().iter().map(|i| i.name()).collect::<Vec<_>>()),
                    );
                    m.insert(
                        "output_artifacts".into(),
                        json!(a.output_artifacts().iter().map(|o| o.name()).collect::<Vec<_>>()),
                    );
                    m.insert("run_order".into(), json!(a.run_order().unwrap_or(1)));
                    for (k, v) in [("role_arn", a.role_arn()), ("region", a.region()), ("namespace", a.namespace())] {
                        if let Some(v) = v.filter(|v| !v.is_empty()) {
                            m.insert(k.into(), json!(v));
                        }
                    }
                    Value::Object(m)
                })
                .collect();
            json!({"name": s.name(), "actions": actions})
        })
        .collect();
    properties.insert("stages".into(), Value::Array(stages));
    if let Some(t) = p.pipeline_type() {
        properties.insert("pipeline_type".into(), json!(t.as_str()));
    }
    if let Some(m) = p.execution_mode() {
        properties.insert("execution_mode".into(), json!(m.as_str()));
    }
    let mut attributes = Props::new();
    attributes.insert("id".into(), json!(name));
    attributes.insert("name".into(), json!(name));
    attributes.insert("arn".into(), json!(arn));
    attributes.insert("version".into(), json!(p.version()));
    Observed { id: name, properties, tags, attributes }
}

fn gone(e: &ProviderError) -> bool {
    e.code_is("PipelineNotFoundException") || e.code_is("ResourceNotFoundException")
}

impl Pipeline {
    pub fn new(client: Client) -> Pipeline {
        Pipeline { client }
    }

    /// One pipeline and its tags; `None` when it does not exist.
    async fn read_name(&self, name: &str) -> Result<Option<Observed>, ProviderError> {
        let out = match self.client.get_pipeline().name(name).send().await.map_err(from_sdk) {
            Ok(out) => out,
            Err(e) if gone(&e) => return Ok(None),
            Err(e) => return Err(e),
        };
        let Some(p) = out.pipeline() else { return Ok(None) };
        let arn = out.metadata().and_then(|m| m.pipeline_arn()).map(str::to_string);
        let mut tags = BTreeMap::new();
        if let Some(arn) = &arn {
            let mut pages = self.client.list_tags_for_resource().resource_arn(arn).into_paginator().send();
            while let Some(page) = pages.next().await {
                match page.map_err(from_sdk) {
                    Ok(page) => tags.extend(
                        page.tags()
                            .iter()
                            .filter(|t| !t.key().starts_with("aws:"))
                            .map(|t| (t.key().to_string(), t.value().to_string())),
                    ),
                    Err(e) if gone(&e) => return Ok(None),
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(Some(observed(p, arn.as_deref(), tags)))
    }

    async fn read_names(&self, names: &[String]) -> Result<Vec<Observed>, ProviderError> {
        crate::read_each(names.iter().map(|n| self.read_name(n))).await
    }

    async fn read_one(&self, name: &str) -> Result<Observed, ProviderError> {
        self.read_name(name).await?.ok_or_else(|| {
            ProviderError::new(Some("PipelineNotFoundException".into()), format!("pipeline {name} disappeared"))
        })
    }

    async fn converge_tags(
        &self,
        arn: &str,
        live: &BTreeMap<String, String>,
        ctx: &OpCtx,
    ) -> Result<(), ProviderError> {
        let (set, unset) = tag_changes(live, &ctx.tags);
        if !set.is_empty() {
            self.client
                .tag_resource()
                .resource_arn(arn)
                .set_tags(Some(cp_tags(&set)?))
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

#[async_trait]
impl ResourceKind for Pipeline {
    fn schema(&self) -> &'static KindSchema {
        &SCHEMA
    }

    async fn read(&self, _ctx: &ReadCtx, ids: &[String]) -> Result<Vec<Observed>, ProviderError> {
        self.read_names(ids).await
    }

    async fn find_tagged(&self, ctx: &ReadCtx) -> Result<Vec<(String, Observed)>, ProviderError> {
        let mut pages = self.client.list_pipelines().into_paginator().send();
        let mut all = Vec::new();
        while let Some(page) = pages.next().await {
            all.extend(page.map_err(from_sdk)?.pipelines().iter().filter_map(|p| p.name().map(str::to_string)));
        }
        Ok(self
            .read_names(&all)
            .await?
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
        let lookups = wanted.iter().map(|(address, props)| async move {
            let name = match props.get("name").and_then(Value::as_str) {
                Some(n) => n.to_string(),
                None => default_name(&ctx.stack, address),
            };
            let found = self.read_name(&name).await?;
            Ok::<_, ProviderError>(found.filter(|o| crate::tags::is_this_stacks(&o.tags, &ctx.stack, address)))
                .map(|o| o.map(|o| (address.clone(), o)))
        });
        let mut out = Vec::new();
        for r in join_all(lookups).await {
            out.extend(r?);
        }
        Ok(out)
    }

    async fn create(&self, ctx: &OpCtx, desired: &Props) -> Result<Observed, ProviderError> {
        let secret = token(desired);
        let name =
            want(desired, "name").as_ref().and_then(text).unwrap_or_else(|| default_name(&ctx.stack, &ctx.address));
        let pipeline = declaration(&name, desired).map_err(|e| scrub(e, secret))?;
        let call = self.client.create_pipeline().pipeline(pipeline).set_tags(Some(cp_tags(&ctx.tags)?));
        while_role_propagates(ctx, "creating the pipeline", || {
            let call = call.clone();
            async move { call.send().await.map_err(from_sdk) }
        })
        .await
        .map_err(|e| {
            let e = scrub(e, secret);
            if e.message.contains("already exists") {
                e.with_hint(format!(
                    "a pipeline named {name} already exists and is not this resource's (it lacks this stack's \
                     deployctl tags): pick another name, or delete that pipeline"
                ))
            } else {
                e
            }
        })?;
        ctx.record_id(&name);
        self.read_one(&name).await
    }

    async fn update(
        &self,
        ctx: &OpCtx,
        current: &Observed,
        desired: &Props,
        changed: &[String],
    ) -> Result<Observed, ProviderError> {
        let secret = token(desired);
        if changed.iter().any(|c| c != "tags") {
            let pipeline = declaration(&current.id, desired).map_err(|e| scrub(e, secret))?;
            let call = self.client.update_pipeline().pipeline(pipeline);
            while_role_propagates(ctx, "updating the pipeline", || {
                let call = call.clone();
                async move { call.send().await.map_err(from_sdk) }
            })
            .await
            .map_err(|e| scrub(e, secret))?;
        }
        if changed.iter().any(|c| c == "tags") {
            let arn = current.attributes.get("arn").and_then(Value::as_str).unwrap_or_default().to_string();
            self.converge_tags(&arn, &current.tags, ctx).await?;
        }
        self.read_one(&current.id).await
    }

    async fn delete(&self, _ctx: &OpCtx, current: &Observed, _recorded: &Props) -> Result<(), ProviderError> {
        match self.client.delete_pipeline().name(&current.id).send().await.map_err(from_sdk) {
            Ok(_) => Ok(()),
            Err(e) if gone(&e) => Ok(()),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(v: Value) -> Props {
        v.as_object().unwrap().clone()
    }

    fn github_pipeline(token: Option<&str>) -> Props {
        let mut p = props(json!({
            "role_arn": "arn:aws:iam::123456789012:role/pipeline",
            "artifact_store": {"location": "artifacts"},
            "stages": [
                {"name": "Source", "actions": [{"name": "GitHub", "category": "Source", "owner": "ThirdParty",
                    "provider": "GitHub", "configuration": {"Owner": "acme", "Repo": "r", "Branch": "main"},
                    "output_artifacts": ["SourceOutput"]}]},
                {"name": "Build", "actions": [{"name": "Build", "category": "Build", "provider": "CodeBuild",
                    "configuration": {"ProjectName": "p"}, "input_artifacts": ["SourceOutput"]}]},
            ],
        }));
        if let Some(t) = token {
            p.insert("github_oauth_token".into(), json!(t));
        }
        p
    }

    #[test]
    fn the_token_goes_into_github_v1_actions_only() {
        let d = declaration("p", &github_pipeline(Some("ghp_secret"))).unwrap();
        let source = &d.stages()[0].actions()[0];
        assert_eq!(source.configuration().unwrap().get(OAUTH_TOKEN).map(String::as_str), Some("ghp_secret"));
        assert_eq!(source.action_type_id().unwrap().version(), "1");
        let build = &d.stages()[1].actions()[0];
        assert!(!build.configuration().unwrap().contains_key(OAUTH_TOKEN));
        assert_eq!(build.action_type_id().unwrap().owner().as_str(), "AWS");
        assert_eq!(build.run_order(), Some(1));
        assert_eq!(d.artifact_store().unwrap().r#type().as_str(), "S3");
    }

    #[test]
    fn a_github_v1_action_without_a_token_is_refused_and_so_is_a_literal_token() {
        let e = declaration("p", &github_pipeline(None)).unwrap_err();
        assert!(e.message.contains("needs an OAuth token"), "{e:?}");
        let mut p = github_pipeline(Some("t"));
        p["stages"][0]["actions"][0]["configuration"]["OAuthToken"] = json!("literal");
        let e = declaration("p", &p).unwrap_err();
        assert!(e.hint.unwrap().contains("github_oauth_token"));
    }

    #[test]
    fn the_read_never_carries_the_token() {
        let d = declaration("p", &github_pipeline(Some("ghp_secret"))).unwrap();
        let o = observed(&d, Some("arn:aws:codepipeline:us-east-1:1:p"), BTreeMap::new());
        assert!(!serde_json::to_string(&o.properties).unwrap().contains("ghp_secret"));
        assert_eq!(
            o.properties["stages"][0]["actions"][0]["configuration"],
            json!({"Branch": "main", "Owner": "acme", "Repo": "r"})
        );
    }

    #[test]
    fn codepipeline_role_refusals_read_as_propagation_errors() {
        let e = ProviderError::new(
            Some("InvalidStructureException".into()),
            "CodePipeline is not authorized to perform AssumeRole on role arn:aws:iam::123456789012:role/p",
        );
        assert!(crate::kit::propagation::is_propagation_error(&e));
        let other = ProviderError::new(Some("InvalidStructureException".into()), "Pipeline has only 1 stage(s)");
        assert!(!crate::kit::propagation::is_propagation_error(&other));
    }

    #[test]
    fn default_names_fit_codepipeline() {
        assert_eq!(default_name("shop", "pipeline[prod]"), "shop-pipeline-prod");
        assert!(default_name("s", &"x".repeat(300)).len() <= 100);
    }
}
