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
//! declaration; tags go through TagResource/UntagResource. Create and update
//! return what their answer holds (the structure's version); the ARN, which
//! CreatePipeline does not answer, is the pipeline's name in the role's
//! account (a pipeline's service role is always of its own account).
//!
//! The shape AWS refuses (fewer than two stages, source actions outside the
//! first stage, names, an input no earlier action produces) is the schema's
//! rules: `validate` checks literal stages, and the same rules run on the
//! resolved values before any call (stages naming `${build.id}` are known
//! only then).
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
//! changed token shows as a changed fingerprint and updates the pipeline. The
//! model holds it as [`WriteOnly`], and errors are scrubbed of it. A token
//! written into `configuration` directly is refused. Connections (`provider:
//! CodeStarSourceConnection`, `ConnectionArn`) need no token.
//!
//! CreatePipeline and UpdatePipeline pass `role_arn` to CodePipeline, which
//! refuses a role it cannot assume yet ("CodePipeline is not authorized to
//! perform AssumeRole on role …", InvalidStructureException): the adapter
//! retries both while the role propagates (`kit::consistency`).

use crate::error::from_sdk;
use crate::kit::names::sanitized_name;
use crate::kit::tagger::CodePipelineTags;
use crate::kit::WriteOnly;
use crate::kit::{attrs, model, Adopt, Created, Kind, Live, Model, Tagger, Tags};
use aws_sdk_codepipeline::types::{
    ActionCategory, ActionDeclaration, ActionOwner, ActionTypeId, ArtifactStore, ArtifactStoreType, EncryptionKey,
    EncryptionKeyType, ExecutionMode, InputArtifact, OutputArtifact, PipelineDeclaration, PipelineType,
    StageDeclaration, Tag,
};
use aws_sdk_codepipeline::Client;
use deployctl_engine::{Observed, OpCtx, Props, ProviderError, ReadCtx};
use deployctl_spec::{Attr, KindSchema, Literals, RuleViolation, Type};
use serde_json::{json, Value};
use std::collections::BTreeSet;

/// The configuration key of a GitHub v1 action's token.
pub const OAUTH_TOKEN: &str = "OAuthToken";
const NOT_FOUND: &str = "PipelineNotFoundException";
const TOKEN: &str = "github_oauth_token";

model! {
    pub struct EncryptionKeyModel {
        id: String = "The KMS key's ARN, id or alias ARN." [required],
        r#type as "type": String = "`KMS`." [default("\"KMS\""), one_of(EncryptionKeyType::values())],
    }
}

model! {
    pub struct ArtifactStoreModel {
        r#type as "type": String = "`S3`." [default("\"S3\""), one_of(ArtifactStoreType::values())],
        location: String = "The bucket's name (in the pipeline's region; versioning enabled), e.g. \
            `${artifacts.id}`." [required],
        encryption_key: Option<EncryptionKeyModel> = "The KMS key artifacts are encrypted with. Unset: the AWS \
            managed key for S3.",
    }
}

model! {
    pub struct ActionModel {
        name: String = "The action's name, unique in its stage (letters, digits, `.@-_`, at most 100)." [required],
        category: String = "`Source`, `Build`, `Test`, `Deploy`, `Approval` or `Invoke`."
            [required, one_of(ActionCategory::values())],
        owner: String = "`AWS`, `ThirdParty` (GitHub version 1) or `Custom`."
            [default("\"AWS\""), one_of(ActionOwner::values())],
        provider: String = "The action provider: `CodeCommit`, `CodeStarSourceConnection` (GitHub through a \
            connection), `GitHub` (version 1, owner `ThirdParty`), `S3`, `ECR`, `CodeBuild`, `ECS`, \
            `CodeDeployToECS`, `Manual`, …." [required],
        version: String = "The action type's version." [default("\"1\"")],
        configuration: Tags = "The provider's settings, keys as AWS spells them, values as strings (`Extract: \
            \"true\"`): `RepositoryName`/`BranchName` (CodeCommit), `ConnectionArn`/`FullRepositoryId`/`BranchName` \
            (connections), `Owner`/`Repo`/`Branch` (GitHub v1; the token comes from `github_oauth_token`, never \
            from here), `ProjectName` (CodeBuild), `ClusterName`/`ServiceName`/`FileName` (ECS), \
            `BucketName`/`Extract` (S3 deploy), `CustomData` (Manual approval)." [default("{}")],
        input_artifacts: Vec<String> = "The names of the artifacts the action takes (the first is a CodeBuild \
            action's primary source)." [default("[]"), typed(Type::List(&Type::String))],
        output_artifacts: Vec<String> = "The names of the artifacts the action produces, for later actions' \
            `input_artifacts`." [default("[]"), typed(Type::List(&Type::String))],
        run_order: i32 = "The action's place in its stage: actions with the same number run in parallel, lower \
            numbers first (1 to 999)." [default("1"), range(1, 999)],
        role_arn: Option<String> = "A role the action runs as instead of the pipeline's role.",
        region: Option<String> = "The region of a cross-region action. Unset: the pipeline's.",
        namespace: Option<String> = "The variable namespace of the action's output variables.",
    }
}

model! {
    pub struct StageModel {
        name: String = "The stage's name, unique in the pipeline (letters, digits, `.@-_`, at most 100)."
            [required],
        actions: Vec<ActionModel> = "The stage's actions." [required],
    }
}

model! {
    pub struct PipelineModel {
        name: Option<String> = "The pipeline's name (letters, digits, `.@-_`, at most 100). Default: \
            `<stack>-<resource>`." [replace, unique],
        role_arn: String = "The ARN of the role the pipeline runs as (usually `${pipeline_role.arn}`): it must \
            trust `codepipeline.amazonaws.com` and may use the artifact bucket and start what the actions start \
            (`codebuild:StartBuild`, `ecs:*`, `iam:PassRole` for the task roles, …)." [required],
        artifact_store: ArtifactStoreModel = "The S3 bucket that holds the artifacts."
            [required],
        stages: Vec<StageModel> = "The stages, in order (at least two; the first holds the source actions, and \
            only they): `{name, actions: [{name, category, owner, provider, version, configuration, \
            input_artifacts, output_artifacts, run_order}]}`." [required],
        github_oauth_token: Option<WriteOnly> = "The GitHub personal access token of the GitHub (version 1) \
            source actions (`owner: ThirdParty`, `provider: GitHub`), never a literal: `secretsmanager:NAME_OR_ARN` \
            (or `…#KEY` for one key of a JSON secret; `secretsmanager:${github_token.arn}` for a secret of this \
            stack, which is then created first), `env:NAME` or `file:PATH`. deployctl reads it at apply and sets \
            it as `OAuthToken` in each such action's configuration at create and update. Required when the \
            pipeline has one; ignored otherwise.",
        pipeline_type: Option<String> = "`V1` or `V2` (V2 bills per action minute and supports triggers and \
            variables). Unset: not managed (AWS's default applies at create)." [one_of(PipelineType::values())],
        execution_mode: Option<String> = "`SUPERSEDED` (AWS's default), `QUEUED` or `PARALLEL` (V2). Unset: not \
            managed." [one_of(ExecutionMode::values())],
    }
}

pub static SCHEMA: KindSchema = KindSchema {
    type_name: "codepipeline.pipeline",
    doc: "A CodePipeline pipeline: an artifact bucket and at least two stages of actions (source, build, deploy, \
          approval…), mapped closely onto the API (`configuration` keys as AWS spells them). Everything but the \
          name is updated in place (UpdatePipeline). A GitHub (version 1) source action takes its OAuth token from \
          the top-level secret `github_oauth_token`, usually read from Secrets Manager \
          (`secretsmanager:${github_token.arn}`): it is never written in the spec, state or plans, and never read \
          back (AWS masks it); a rotated token shows in `diff` and updates the pipeline. Prefer a `CodeStarSourceConnection` action, which \
          needs no token. Create and update retry while CodePipeline cannot yet assume a just-created role.",
    properties: <PipelineModel as Model>::PROPS,
    attributes: &[
        Attr { name: "id", doc: "The pipeline's name." },
        Attr { name: "name", doc: "The pipeline's name." },
        Attr { name: "arn", doc: "The pipeline's ARN, `arn:aws:codepipeline:<region>:<account>:<name>`." },
        Attr { name: "version", doc: "The pipeline structure's version: 1 at create, one more at every update." },
    ],
    taggable: true,
    rules: &[name_fits, stages_fit, artifacts_flow, token_fits, configuration_fits],
    example: "pipeline:\n  type: codepipeline.pipeline\n  properties:\n    role_arn: ${pipeline_role.arn}\n    artifact_store: {location: \"${artifacts.id}\"}\n    github_oauth_token: secretsmanager:stock-dashboard/github-token\n    stages:\n      - name: Source\n        actions:\n          - name: GitHub\n            category: Source\n            owner: ThirdParty\n            provider: GitHub\n            configuration: {Owner: acme, Repo: stock-dashboard, Branch: main, PollForSourceChanges: \"false\"}\n            output_artifacts: [SourceOutput]\n      - name: Build\n        actions:\n          - name: Build\n            category: Build\n            provider: CodeBuild\n            configuration: {ProjectName: \"${build.id}\"}\n            input_artifacts: [SourceOutput]\n            output_artifacts: [BuildOutput]\n      - name: Deploy\n        actions:\n          - name: DeployToECS\n            category: Deploy\n            provider: ECS\n            configuration: {ClusterName: stock-dashboard, ServiceName: web, FileName: imagedefinitions.json}\n            input_artifacts: [BuildOutput]\n",
};

pub struct Pipeline {
    client: Client,
    tags: CodePipelineTags,
}

/// `<stack>-<address>` in the characters CodePipeline allows in pipeline
/// names (letters, digits, `.@-_`; at most 100).
pub fn default_name(stack: &str, address: &str) -> String {
    sanitized_name(&format!("{stack}-{address}"), |c| c.is_ascii_alphanumeric() || ".@-_".contains(c), 100)
}

fn violation(field: &'static str, message: impl Into<String>, hint: impl Into<String>) -> Option<RuleViolation> {
    Some(RuleViolation { field, message: message.into(), hint: hint.into() })
}

/// A pipeline, stage or action name CodePipeline takes: 1 to 100 of
/// `[A-Za-z0-9.@_-]`.
fn fits(name: &str) -> bool {
    (1..=100).contains(&name.len()) && name.chars().all(|c| c.is_ascii_alphanumeric() || ".@-_".contains(c))
}

const NAME_HINT: &str = "1 to 100 letters, digits, `.`, `@`, `-` and `_`";

fn name_fits(p: &Literals) -> Option<RuleViolation> {
    let name = p.get("name")?.as_ref()?.as_str()?;
    (!fits(name)).then_some(())?;
    violation("name", format!("'{name}' is not a pipeline name"), NAME_HINT)
}

model! {
    struct Stages {
        stages: Vec<StageModel> = "",
    }
}

/// The literal stages, typed, defaults filled (`None` when not known offline).
fn stages(p: &Literals) -> Option<Vec<StageModel>> {
    let v = p.get("stages")?.clone()?;
    Some(Stages::from_props(&[("stages".to_string(), v)].into_iter().collect()).ok()?.stages)
}

/// At least two stages, source actions in the first and only there, each
/// stage and action named once, as CodePipeline wants.
fn stages_fit(p: &Literals) -> Option<RuleViolation> {
    let stages = stages(p)?;
    if stages.len() < 2 {
        return violation(
            "stages",
            format!("a pipeline needs at least two stages, not {}", stages.len()),
            "a source stage first, then what builds or deploys it",
        );
    }
    let mut stage_names = BTreeSet::new();
    for (i, s) in stages.iter().enumerate() {
        if !fits(&s.name) || !stage_names.insert(s.name.as_str()) {
            return violation("stages", format!("stage {i}: '{}' is not a name of its own", s.name), NAME_HINT);
        }
        if s.actions.is_empty() {
            return violation("stages", format!("stage {} has no action", s.name), "give each stage an action");
        }
        let mut names = BTreeSet::new();
        for a in &s.actions {
            if !fits(&a.name) || !names.insert(a.name.as_str()) {
                return violation(
                    "stages",
                    format!("stage {}: '{}' is not an action name of its own", s.name, a.name),
                    NAME_HINT,
                );
            }
            if (i == 0) != (a.category == "Source") {
                let where_ = if i == 0 {
                    "the first stage holds only source actions"
                } else {
                    "only the first stage holds source actions"
                };
                return violation(
                    "stages",
                    format!("stage {}, action {} ({}): {where_}", s.name, a.name, a.category),
                    "put the Source actions in the first stage, and everything else after it",
                );
            }
        }
    }
    None
}

/// Each input artifact is the output of an earlier action, and each output
/// is named once.
fn artifacts_flow(p: &Literals) -> Option<RuleViolation> {
    let mut made = BTreeSet::new();
    for s in stages(p)? {
        let before: BTreeSet<String> = made.clone();
        for a in &s.actions {
            let earlier = |n: &String| {
                before.contains(n)
                    || s.actions.iter().any(|b| b.run_order < a.run_order && b.output_artifacts.contains(n))
            };
            if let Some(n) = a.input_artifacts.iter().find(|n| !earlier(n)) {
                return violation(
                    "stages",
                    format!("stage {}, action {}: no earlier action produces the input artifact {n}", s.name, a.name),
                    "name an output_artifacts of an earlier stage (or of a lower run_order in this one)",
                );
            }
            for n in &a.output_artifacts {
                if !made.insert(n.clone()) {
                    return violation(
                        "stages",
                        format!("stage {}, action {}: the output artifact {n} is produced twice", s.name, a.name),
                        "give each output artifact a name of its own",
                    );
                }
            }
        }
    }
    None
}

/// What CodePipeline requires of the AWS action providers these stacks use:
/// their category, and the configuration keys it refuses the pipeline
/// without.
const PROVIDERS: &[(&str, &str, &[&str])] = &[
    ("Source", "CodeCommit", &["RepositoryName", "BranchName"]),
    ("Source", "CodeStarSourceConnection", &["ConnectionArn", "FullRepositoryId", "BranchName"]),
    ("Source", "S3", &["S3Bucket", "S3ObjectKey"]),
    ("Source", "ECR", &["RepositoryName"]),
    ("Build", "CodeBuild", &["ProjectName"]),
    ("Test", "CodeBuild", &["ProjectName"]),
    ("Deploy", "ECS", &["ClusterName", "ServiceName"]),
    ("Deploy", "S3", &["BucketName", "Extract"]),
    (
        "Deploy",
        "CodeDeployToECS",
        &["ApplicationName", "DeploymentGroupName", "TaskDefinitionTemplateArtifact", "AppSpecTemplateArtifact"],
    ),
];

/// An AWS action of a known provider has its category and the
/// configuration its provider needs; a CodeDeploy-to-ECS deploy's templates
/// are among its input artifacts.
fn configuration_fits(p: &Literals) -> Option<RuleViolation> {
    for s in stages(p)? {
        for a in s.actions.iter().filter(|a| a.owner == "AWS") {
            let at = format!("stage {}, action {}", s.name, a.name);
            let known: Vec<&(&str, &str, &[&str])> = PROVIDERS.iter().filter(|(_, p, _)| *p == a.provider).collect();
            if known.is_empty() {
                continue;
            }
            let Some((_, _, keys)) = known.iter().find(|(c, _, _)| *c == a.category) else {
                let categories: Vec<&str> = known.iter().map(|(c, _, _)| *c).collect();
                return violation(
                    "stages",
                    format!(
                        "{at}: provider {} is a {} action, not {}",
                        a.provider,
                        categories.join(" or "),
                        a.category
                    ),
                    format!("set category: {}", categories[0]),
                );
            };
            if let Some(missing) = keys.iter().find(|k| !a.configuration.contains_key(**k)) {
                return violation(
                    "stages",
                    format!("{at}: a {} {} action needs {missing} in its configuration", a.category, a.provider),
                    format!(
                        "add configuration: {{{}}}",
                        keys.iter().map(|k| format!("{k}: ...")).collect::<Vec<_>>().join(", ")
                    ),
                );
            }
            if a.provider == "CodeDeployToECS" {
                let templates = ["TaskDefinitionTemplateArtifact", "AppSpecTemplateArtifact"];
                if let Some(k) = templates.iter().find(|k| !a.input_artifacts.contains(&a.configuration[**k])) {
                    return violation(
                        "stages",
                        format!("{at}: {k} {} is not one of its input artifacts", a.configuration[*k]),
                        "list the artifact holding taskdef.json and appspec.yaml in input_artifacts",
                    );
                }
            }
        }
    }
    None
}

fn is_github_v1(a: &ActionModel) -> bool {
    a.owner == "ThirdParty" && a.provider == "GitHub"
}

/// A GitHub v1 source takes the token from `github_oauth_token`, never from
/// its configuration.
fn token_fits(p: &Literals) -> Option<RuleViolation> {
    let has_token = p.get(TOKEN).is_some_and(|v| !matches!(v, Some(Value::Null)));
    for s in stages(p)? {
        for a in &s.actions {
            let at = format!("stage {}, action {}", s.name, a.name);
            if a.configuration.contains_key(OAUTH_TOKEN) {
                return violation(
                    "stages",
                    format!("{at}: configuration must not hold {OAUTH_TOKEN}"),
                    "write the token as the pipeline's github_oauth_token: secretsmanager:NAME_OR_ARN",
                );
            }
            if is_github_v1(a) && !has_token {
                return violation(
                    "stages",
                    format!("{at} is a GitHub (version 1) source, which needs an OAuth token"),
                    "set the pipeline's github_oauth_token: secretsmanager:NAME_OR_ARN (or env:NAME), or use a \
                     CodeStarSourceConnection action",
                );
            }
        }
    }
    None
}

fn invalid(what: &str, e: impl std::fmt::Display) -> ProviderError {
    ProviderError::new(Some("InvalidStructureException".into()), format!("{what}: {e}"))
}

/// The token, from the resolved `github_oauth_token` (plaintext at apply).
fn token(want: &PipelineModel) -> Option<&str> {
    want.github_oauth_token.as_ref().map(|t| t.0.as_str()).filter(|t| !t.is_empty())
}

/// Removes the token from an error message: AWS does not echo it, but an
/// error must never carry it.
fn scrub(e: ProviderError, want: &PipelineModel) -> ProviderError {
    WriteOnly::redact_any(want.github_oauth_token.as_ref(), e)
}

fn action(a: &ActionModel, token: Option<&str>) -> Result<ActionDeclaration, ProviderError> {
    let at = || format!("action {}", a.name);
    let mut configuration: std::collections::HashMap<String, String> = a.configuration.clone().into_iter().collect();
    if let (true, Some(t)) = (is_github_v1(a), token) {
        configuration.insert(OAUTH_TOKEN.into(), t.to_string());
    }
    let type_id = ActionTypeId::builder()
        .category(ActionCategory::from(a.category.as_str()))
        .owner(ActionOwner::from(a.owner.as_str()))
        .provider(&a.provider)
        .version(&a.version)
        .build()
        .map_err(|e| invalid(&at(), e))?;
    let artifact = |n: &String| InputArtifact::builder().name(n).build().map_err(|e| invalid(&at(), e));
    let output = |n: &String| OutputArtifact::builder().name(n).build().map_err(|e| invalid(&at(), e));
    ActionDeclaration::builder()
        .name(&a.name)
        .action_type_id(type_id)
        .run_order(a.run_order)
        .set_configuration((!configuration.is_empty()).then_some(configuration))
        .set_input_artifacts(Some(a.input_artifacts.iter().map(artifact).collect::<Result<_, _>>()?))
        .set_output_artifacts(Some(a.output_artifacts.iter().map(output).collect::<Result<_, _>>()?))
        .set_role_arn(a.role_arn.clone())
        .set_region(a.region.clone())
        .set_namespace(a.namespace.clone())
        .build()
        .map_err(|e| invalid(&at(), e))
}

/// The pipeline declaration CreatePipeline and UpdatePipeline take.
pub(crate) fn declaration(name: &str, want: &PipelineModel) -> Result<PipelineDeclaration, ProviderError> {
    let store = &want.artifact_store;
    let key = store.encryption_key.as_ref().map(|k| {
        let key = EncryptionKey::builder().id(&k.id).r#type(EncryptionKeyType::from(k.r#type.as_str()));
        key.build().map_err(|e| invalid("artifact_store.encryption_key", e))
    });
    let store = ArtifactStore::builder()
        .r#type(ArtifactStoreType::from(store.r#type.as_str()))
        .location(&store.location)
        .set_encryption_key(key.transpose()?)
        .build()
        .map_err(|e| invalid("artifact_store", e))?;
    let mut stages = Vec::with_capacity(want.stages.len());
    for s in &want.stages {
        let actions = s.actions.iter().map(|a| action(a, token(want))).collect::<Result<Vec<_>, _>>()?;
        let stage = StageDeclaration::builder().name(&s.name).set_actions(Some(actions)).build();
        stages.push(stage.map_err(|e| invalid(&format!("stage {}", s.name), e))?);
    }
    PipelineDeclaration::builder()
        .name(name)
        .role_arn(&want.role_arn)
        .artifact_store(store)
        .set_stages(Some(stages))
        .set_pipeline_type(want.pipeline_type.as_deref().map(PipelineType::from))
        .set_execution_mode(want.execution_mode.as_deref().map(ExecutionMode::from))
        .build()
        .map_err(|e| invalid("pipeline", e))
}

fn attributes(name: &str, arn: Option<&str>, version: Option<i32>) -> Props {
    attrs([("id", json!(name)), ("name", json!(name)), ("arn", json!(arn)), ("version", json!(version))])
}

/// The pipeline's ARN: its name in the account of its role (CodePipeline
/// takes a service role of the pipeline's own account only).
fn arn_of(region: &str, role_arn: &str, name: &str) -> Option<String> {
    let parts: Vec<&str> = role_arn.split(':').collect();
    let (partition, account) = (parts.get(1)?, parts.get(4).filter(|a| !a.is_empty())?);
    Some(format!("arn:{partition}:codepipeline:{region}:{account}:{name}"))
}

fn some(s: Option<&str>) -> Option<String> {
    s.filter(|s| !s.is_empty()).map(str::to_string)
}

/// A pipeline in the spec's shape (the token left out).
pub(crate) fn live(p: &PipelineDeclaration, arn: Option<&str>, tags: Tags) -> Live<PipelineModel> {
    let stages = p.stages().iter().map(|s| StageModel {
        name: s.name().to_string(),
        actions: s
            .actions()
            .iter()
            .map(|a| {
                let t = a.action_type_id();
                ActionModel {
                    name: a.name().to_string(),
                    category: t.map_or("", |t| t.category().as_str()).to_string(),
                    owner: t.map_or("", |t| t.owner().as_str()).to_string(),
                    provider: t.map_or("", |t| t.provider()).to_string(),
                    version: t.map_or("", |t| t.version()).to_string(),
                    // Never the token (AWS masks it as ****).
                    configuration: a
                        .configuration()
                        .map(|c| c.iter().filter(|(k, _)| k.as_str() != OAUTH_TOKEN))
                        .into_iter()
                        .flatten()
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect(),
                    input_artifacts: a.input_artifacts().iter().map(|i| i.name().to_string()).collect(),
                    output_artifacts: a.output_artifacts().iter().map(|o| o.name().to_string()).collect(),
                    run_order: a.run_order().unwrap_or(1),
                    role_arn: some(a.role_arn()),
                    region: some(a.region()),
                    namespace: some(a.namespace()),
                }
            })
            .collect(),
    });
    let store = p.artifact_store();
    let model = PipelineModel {
        name: Some(p.name().to_string()),
        role_arn: p.role_arn().to_string(),
        artifact_store: ArtifactStoreModel {
            r#type: store.map_or("S3", |s| s.r#type().as_str()).to_string(),
            location: store.map_or("", |s| s.location()).to_string(),
            encryption_key: store
                .and_then(|s| s.encryption_key())
                .map(|k| EncryptionKeyModel { id: k.id().to_string(), r#type: k.r#type().as_str().to_string() }),
        },
        stages: stages.collect(),
        github_oauth_token: None,
        pipeline_type: p.pipeline_type().map(|t| t.as_str().to_string()),
        execution_mode: p.execution_mode().map(|m| m.as_str().to_string()),
    };
    Live { id: p.name().to_string(), attributes: attributes(p.name(), arn, p.version()), model, tags }
}

impl Pipeline {
    pub fn new(client: Client) -> Pipeline {
        Pipeline { tags: CodePipelineTags(client.clone()), client }
    }

    /// One pipeline and its tags; `None` when it does not exist.
    async fn read_name(&self, name: &str) -> Result<Option<Live<PipelineModel>>, ProviderError> {
        let out = match self.client.get_pipeline().name(name).send().await.map_err(from_sdk) {
            Ok(out) => out,
            Err(e) if e.code_is(NOT_FOUND) => return Ok(None),
            Err(e) => return Err(e),
        };
        let Some(p) = out.pipeline() else { return Ok(None) };
        let arn = out.metadata().and_then(|m| m.pipeline_arn());
        let mut tags = Tags::new();
        if let Some(arn) = arn {
            let mut pages = self.client.list_tags_for_resource().resource_arn(arn).into_paginator().send();
            while let Some(page) = pages.next().await {
                match page.map_err(from_sdk) {
                    Ok(page) => tags.extend(
                        page.tags()
                            .iter()
                            .filter(|t| !t.key().starts_with("aws:"))
                            .map(|t| (t.key().to_string(), t.value().to_string())),
                    ),
                    Err(e) if e.code_is(NOT_FOUND) || crate::is_not_found(&e) => return Ok(None),
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(Some(live(p, arn, tags)))
    }
}

#[async_trait::async_trait]
impl Kind for Pipeline {
    type Model = PipelineModel;
    const ADOPT: Adopt = Adopt::ByName("name");

    fn default_name(&self, stack: &str, address: &str) -> Option<String> {
        Some(default_name(stack, address))
    }
    const GONE: &'static [&'static str] = &[NOT_FOUND];

    fn schema(&self) -> &'static KindSchema {
        &SCHEMA
    }

    fn tagger(&self) -> Option<&dyn Tagger> {
        Some(&self.tags)
    }

    async fn read(&self, _ctx: &ReadCtx, ids: &[String]) -> Result<Vec<Live<PipelineModel>>, ProviderError> {
        crate::read_each(ids.iter().map(|n| self.read_name(n))).await
    }

    async fn create(&self, ctx: &OpCtx, want: &PipelineModel) -> Result<Created, ProviderError> {
        let name = want.name.clone().unwrap_or_else(|| default_name(&ctx.stack, &ctx.address));
        let pipeline = declaration(&name, want).map_err(|e| scrub(e, want))?;
        let tags = ctx.tags.iter().map(|(k, v)| Tag::builder().key(k).value(v).build().map_err(|e| invalid("tags", e)));
        let call = self.client.create_pipeline().pipeline(pipeline).set_tags(Some(tags.collect::<Result<_, _>>()?));
        let out = call.send().await.map_err(from_sdk).map_err(|e| {
            let e = scrub(e, want);
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
        let version = out.pipeline().and_then(|p| p.version()).or(Some(1));
        let arn = arn_of(&ctx.region, &want.role_arn, &name);
        Ok(Created { attributes: attributes(&name, arn.as_deref(), version), id: name })
    }

    async fn update(
        &self,
        _ctx: &OpCtx,
        live: &Observed,
        want: &PipelineModel,
        _changed: &[&str],
    ) -> Result<Option<Props>, ProviderError> {
        let pipeline = declaration(&live.id, want).map_err(|e| scrub(e, want))?;
        let call = self.client.update_pipeline().pipeline(pipeline);
        let out = call.send().await.map_err(from_sdk).map_err(|e| scrub(e, want))?;
        let mut attributes = live.attributes.clone();
        attributes.insert("version".into(), json!(out.pipeline().and_then(|p| p.version())));
        Ok(Some(attributes))
    }

    async fn delete(&self, _ctx: &OpCtx, live: &Observed, _: Option<&PipelineModel>) -> Result<(), ProviderError> {
        self.client.delete_pipeline().name(&live.id).send().await.map_err(from_sdk)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn github_pipeline(token: Option<&str>) -> Props {
        let mut p = json!({
            "role_arn": "arn:aws:iam::123456789012:role/pipeline",
            "artifact_store": {"location": "artifacts"},
            "stages": [
                {"name": "Source", "actions": [{"name": "GitHub", "category": "Source", "owner": "ThirdParty",
                    "provider": "GitHub", "configuration": {"Owner": "acme", "Repo": "r", "Branch": "main"},
                    "output_artifacts": ["SourceOutput"]}]},
                {"name": "Build", "actions": [{"name": "Build", "category": "Build", "provider": "CodeBuild",
                    "configuration": {"ProjectName": "p"}, "input_artifacts": ["SourceOutput"]}]},
            ],
        })
        .as_object()
        .unwrap()
        .clone();
        if let Some(t) = token {
            p.insert(TOKEN.into(), json!(t));
        }
        p
    }

    fn model(p: &Props) -> PipelineModel {
        PipelineModel::from_props(p).unwrap()
    }

    /// What the schema's rules say of literal properties.
    fn refused(p: &Props) -> Option<String> {
        let lit: Literals = p.iter().map(|(k, v)| (k.clone(), Some(v.clone()))).collect();
        SCHEMA.rules.iter().find_map(|rule| rule(&lit)).map(|v| v.message)
    }

    #[test]
    fn the_token_goes_into_github_v1_actions_only() {
        let d = declaration("p", &model(&github_pipeline(Some("ghp_secret")))).unwrap();
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
        // At apply, the adapter runs the rules on the resolved values.
        let e = crate::kit::check_resolved(&SCHEMA, &github_pipeline(None)).unwrap_err();
        assert!(e.message.contains("needs an OAuth token"), "{e:?}");
        let mut p = github_pipeline(Some("t"));
        p["stages"][0]["actions"][0]["configuration"]["OAuthToken"] = json!("literal");
        let e = crate::kit::check_resolved(&SCHEMA, &p).unwrap_err();
        assert!(e.hint.unwrap().contains("github_oauth_token"));
        // Offline too: a secret is not a literal, but it is written.
        let mut offline: Literals = github_pipeline(None).into_iter().map(|(k, v)| (k, Some(v))).collect();
        assert!(SCHEMA.rules.iter().find_map(|r| r(&offline)).is_some());
        offline.insert(TOKEN.into(), None);
        assert!(SCHEMA.rules.iter().find_map(|r| r(&offline)).is_none());
    }

    #[test]
    fn the_rules_refuse_the_shapes_codepipeline_would() {
        let ok = github_pipeline(Some("t"));
        assert_eq!(refused(&ok), None);
        let mut one = ok.clone();
        one["stages"].as_array_mut().unwrap().pop();
        assert!(refused(&one).unwrap().contains("at least two stages"));
        let mut late_source = ok.clone();
        late_source["stages"][1]["actions"][0]["category"] = json!("Source");
        assert!(refused(&late_source).unwrap().contains("only the first stage holds source actions"));
        let mut early_build = ok.clone();
        early_build["stages"][0]["actions"][0]["category"] = json!("Build");
        assert!(refused(&early_build).unwrap().contains("the first stage holds only source actions"));
        let mut orphan = ok.clone();
        orphan["stages"][1]["actions"][0]["input_artifacts"] = json!(["Nothing"]);
        assert!(refused(&orphan).unwrap().contains("no earlier action produces"));
        let mut named = ok.clone();
        named.insert("name".into(), json!("no spaces"));
        assert!(refused(&named).unwrap().contains("not a pipeline name"));
        let mut twice = ok.clone();
        twice["stages"][1]["name"] = json!("Source");
        assert!(refused(&twice).unwrap().contains("not a name of its own"));
    }

    #[test]
    fn an_action_lacking_what_its_provider_needs_is_refused_offline() {
        let ok = github_pipeline(Some("t"));
        let mut no_project = ok.clone();
        no_project["stages"][1]["actions"][0]["configuration"] = json!({});
        assert_eq!(
            refused(&no_project).unwrap(),
            "stage Build, action Build: a Build CodeBuild action needs ProjectName in its configuration"
        );
        let mut deploy = ok.clone();
        deploy["stages"][1]["actions"][0] = json!({"name": "BlueGreen", "category": "Deploy", "provider": "CodeDeployToECS",
            "configuration": {"ApplicationName": "a", "DeploymentGroupName": "g",
                              "TaskDefinitionTemplateArtifact": "SourceOutput", "AppSpecTemplateArtifact": "SourceOutput"},
            "input_artifacts": ["SourceOutput"]});
        assert_eq!(refused(&deploy), None);
        let mut elsewhere = deploy.clone();
        elsewhere["stages"][1]["actions"][0]["configuration"]["AppSpecTemplateArtifact"] = json!("BuildOutput");
        assert!(refused(&elsewhere)
            .unwrap()
            .contains("AppSpecTemplateArtifact BuildOutput is not one of its input artifacts"));
        let mut category = deploy.clone();
        category["stages"][1]["actions"][0]["category"] = json!("Build");
        assert!(refused(&category).unwrap().contains("provider CodeDeployToECS is a Deploy action, not Build"));
    }

    #[test]
    fn the_read_never_carries_the_token() {
        let d = declaration("p", &model(&github_pipeline(Some("ghp_secret")))).unwrap();
        let o = live(&d, Some("arn:aws:codepipeline:us-east-1:1:p"), Tags::new()).observed();
        assert!(!serde_json::to_string(&o.properties).unwrap().contains("ghp_secret"));
        assert_eq!(
            o.properties["stages"][0]["actions"][0]["configuration"],
            json!({"Branch": "main", "Owner": "acme", "Repo": "r"})
        );
        let m = model(&github_pipeline(Some("ghp_secret")));
        assert!(!format!("{m:?}").contains("ghp_secret") && !format!("{:?}", m.to_props()).contains("ghp_secret"));
    }

    #[test]
    fn the_arn_is_the_name_in_the_roles_account() {
        let arn = arn_of("eu-west-1", "arn:aws:iam::123456789012:role/p", "shop");
        assert_eq!(arn.as_deref(), Some("arn:aws:codepipeline:eu-west-1:123456789012:shop"));
        assert_eq!(arn_of("eu-west-1", "not-an-arn", "shop"), None);
    }

    #[test]
    fn codepipeline_role_refusals_read_as_propagation_errors() {
        let e = ProviderError::new(
            Some("InvalidStructureException".into()),
            "CodePipeline is not authorized to perform AssumeRole on role arn:aws:iam::123456789012:role/p",
        );
        assert!(crate::kit::consistency::is_propagation_error(&e));
        let other = ProviderError::new(Some("InvalidStructureException".into()), "Pipeline has only 1 stage(s)");
        assert!(!crate::kit::consistency::is_propagation_error(&other));
    }

    #[test]
    fn default_names_fit_codepipeline() {
        assert_eq!(default_name("shop", "pipeline[prod]"), "shop-pipeline-prod");
        assert!(default_name("s", &"x".repeat(300)).len() <= 100);
    }
}
