//! `codebuild.project`: a CodeBuild build project (its source, artifacts,
//! build environment, logs, timeouts and cache).
//!
//! The id is the project name. Reads are batched: one BatchGetProjects for
//! up to 100 names (names AWS does not know come back in `projectsNotFound`
//! and are simply absent). Tags come with the project, so a read is one call.
//! Projects cannot be listed by tag: adoption looks each candidate up by its
//! name (the `name` property, or the default `<stack>-<resource>`) and adopts
//! it only if it carries this stack's and this resource's tags.
//!
//! Create (CreateProject, tags included) and every update (one UpdateProject
//! that sends every managed field and the tags, which it replaces) pass the
//! service role to CodeBuild, which refuses a role created a moment ago
//! ("CodeBuild is not authorized to perform: sts:AssumeRole on …"): both go
//! through [`while_role_propagates`].
//!
//! Every field that has an AWS default is sent explicitly (the timeouts, the
//! logs configuration, the cache, the environment's flags), so the project
//! reads back the same on AWS and on emulators that store only what they are
//! given. Reads drop what AWS fills in by itself and the spec cannot ask
//! for: the artifact `name` AWS sets to the project's name for `CODEPIPELINE`
//! artifacts.
//!
//! Environment variables of type `SECRETS_MANAGER` or `PARAMETER_STORE` carry
//! a reference (`stock-dashboard/github-token:token`), never the value:
//! CodeBuild resolves it at build time with the service role's permissions.

use crate::error::from_sdk;
use crate::kit::names::sanitized_name;
use crate::kit::propagation::while_role_propagates;
use async_trait::async_trait;
use aws_sdk_codebuild::types::{
    ArtifactNamespace, ArtifactPackaging, ArtifactsType, CacheMode, CacheType, CloudWatchLogsConfig, ComputeType,
    EnvironmentType, EnvironmentVariable, EnvironmentVariableType, ImagePullCredentialsType, LogsConfig,
    LogsConfigStatusType, Project as CbProject, ProjectArtifacts, ProjectCache, ProjectEnvironment, ProjectSource,
    S3LogsConfig, SourceType, Tag,
};
use aws_sdk_codebuild::Client;
use deployctl_engine::diff::{default_of, normalize};
use deployctl_engine::kind::{TAG_RESOURCE, TAG_STACK};
use deployctl_engine::{Observed, OpCtx, Props, ProviderError, ReadCtx, ResourceKind};
use deployctl_spec::{Attr, KindSchema, Prop, Type};
use futures::future::join_all;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// The most names one BatchGetProjects takes.
const NAME_CHUNK: usize = 100;

static SOURCE: [Prop; 4] = [
    Prop::new(
        "type",
        Type::String,
        "`CODEPIPELINE` (the pipeline hands the source over), `CODECOMMIT`, `GITHUB`, `GITHUB_ENTERPRISE`, \
         `BITBUCKET`, `S3` or `NO_SOURCE`.",
    )
    .required(),
    Prop::new(
        "location",
        Type::String,
        "Where the source is: the clone URL (`CODECOMMIT`, `GITHUB`, `BITBUCKET`) or `bucket/key.zip` (`S3`). Not \
         used with `CODEPIPELINE` or `NO_SOURCE`.",
    ),
    Prop::new(
        "buildspec",
        Type::String,
        "The build specification, one of two forms. By path: a file in the source, e.g. \
         `backend/buildspec.yml`. Inline: the buildspec itself as a multi-line YAML string (`buildspec: |` \
         followed by `version: 0.2`, `phases:` …), which CodeBuild stores as it is. Unset: `buildspec.yml` at the \
         root of the source.",
    ),
    Prop::new(
        "git_clone_depth",
        Type::Int,
        "How many commits to clone (0: the full history). Git sources only; unset: not managed.",
    ),
];

static ARTIFACTS: [Prop; 6] = [
    Prop::new("type", Type::String, "`CODEPIPELINE` (the pipeline takes the build's output), `S3` or `NO_ARTIFACTS`.")
        .required(),
    Prop::new("location", Type::String, "The S3 bucket's name (`S3` only)."),
    Prop::new("path", Type::String, "The folder in the bucket (`S3` only)."),
    Prop::new(
        "name",
        Type::String,
        "The name of the output folder or ZIP file (`S3` only; with `CODEPIPELINE` AWS reports the project's \
         name, which reads back as unset).",
    ),
    Prop::new("namespace_type", Type::String, "`NONE` or `BUILD_ID`: whether the build id is part of the path (`S3`).")
        .default("\"NONE\""),
    Prop::new("packaging", Type::String, "`NONE` or `ZIP` (`S3`).").default("\"NONE\""),
];

static ENV_VAR: [Prop; 3] = [
    Prop::new("name", Type::String, "The variable's name, e.g. `ECR_REPOSITORY`.").required(),
    Prop::new(
        "value",
        Type::String,
        "`PLAINTEXT`: the value itself (visible in the console: never a secret). `SECRETS_MANAGER`: a \
         reference, `<secret name or ARN>:<JSON key>` (e.g. `stock-dashboard/github-token:token`). \
         `PARAMETER_STORE`: the parameter's name. The service role must be allowed to read what a reference \
         names.",
    )
    .required(),
    Prop::new("type", Type::String, "`PLAINTEXT`, `PARAMETER_STORE` or `SECRETS_MANAGER`.").default("\"PLAINTEXT\""),
];
static ENV_VAR_TYPE: Type = Type::Object(&ENV_VAR);

static ENVIRONMENT: [Prop; 6] = [
    Prop::new(
        "type",
        Type::String,
        "`LINUX_CONTAINER`, `ARM_CONTAINER`, `LINUX_GPU_CONTAINER`, `WINDOWS_SERVER_2019_CONTAINER`, ….",
    )
    .default("\"LINUX_CONTAINER\""),
    Prop::new(
        "image",
        Type::String,
        "The build image, e.g. `aws/codebuild/standard:7.0` (a curated image with Docker) or an ECR image URI.",
    )
    .required(),
    Prop::new(
        "compute_type",
        Type::String,
        "`BUILD_GENERAL1_SMALL` (3 GB, 2 vCPUs), `BUILD_GENERAL1_MEDIUM` (7 GB, 4 vCPUs), `BUILD_GENERAL1_LARGE`, \
         `BUILD_GENERAL1_2XLARGE`.",
    )
    .required()
    .one_of(aws_sdk_codebuild::types::ComputeType::values()),
    Prop::new(
        "privileged_mode",
        Type::Bool,
        "Runs the Docker daemon in the build container: required to build Docker images.",
    )
    .default("false"),
    Prop::new(
        "image_pull_credentials_type",
        Type::String,
        "`CODEBUILD` (curated images) or `SERVICE_ROLE` (images from your own ECR repository, pulled with the \
         service role).",
    )
    .default("\"CODEBUILD\""),
    Prop::new(
        "environment_variables",
        Type::Set(&ENV_VAR_TYPE),
        "Variables set in every build: `{name, value, type}`.",
    )
    .default("[]"),
];

static CLOUD_WATCH_LOGS: [Prop; 3] = [
    Prop::new("status", Type::String, "`ENABLED` or `DISABLED`.").default("\"ENABLED\""),
    Prop::new("group_name", Type::String, "The log group. Unset: `/aws/codebuild/<project>`."),
    Prop::new("stream_name", Type::String, "A prefix of the log streams. Unset: the build id."),
];

static S3_LOGS: [Prop; 2] = [
    Prop::new("status", Type::String, "`ENABLED` or `DISABLED`.").default("\"DISABLED\""),
    Prop::new("location", Type::String, "`bucket/prefix` the logs go to (when enabled)."),
];

static LOGS: [Prop; 2] = [
    Prop::new("cloud_watch_logs", Type::Object(&CLOUD_WATCH_LOGS), "Build logs in CloudWatch Logs.")
        .default("{\"status\": \"ENABLED\"}"),
    Prop::new("s3_logs", Type::Object(&S3_LOGS), "Build logs in S3.").default("{\"status\": \"DISABLED\"}"),
];

static CACHE: [Prop; 3] = [
    Prop::new("type", Type::String, "`NO_CACHE`, `LOCAL` (on the build host) or `S3`.").default("\"NO_CACHE\""),
    Prop::new("location", Type::String, "`bucket/prefix` of an `S3` cache."),
    Prop::new(
        "modes",
        Type::Set(&Type::String),
        "What a `LOCAL` cache keeps: `LOCAL_DOCKER_LAYER_CACHE`, `LOCAL_SOURCE_CACHE`, `LOCAL_CUSTOM_CACHE`.",
    )
    .default("[]"),
];

pub static SCHEMA: KindSchema = KindSchema {
    type_name: "codebuild.project",
    doc: "A CodeBuild project: where the source comes from, the buildspec (a path in the source or inline YAML), \
          the build environment (image, compute type, privileged mode for Docker builds, environment variables \
          that may reference Secrets Manager or Parameter Store), where the output goes, logs and timeouts. \
          Everything but the name is updated in place. Create and update retry while CodeBuild cannot yet assume \
          a just-created service role. Used by a pipeline's `CodeBuild` action through `ProjectName: \
          ${build.name}`.",
    properties: &[
        Prop::new(
            "name",
            Type::String,
            "The project's name (2 to 255 letters, digits, `-` and `_`). Default: `<stack>-<resource>`.",
        )
        .replace().unique(),
        Prop::new("description", Type::String, "Free text."),
        Prop::new(
            "service_role",
            Type::String,
            "The ARN of the role builds run as (usually `${build_role.arn}`): it must trust \
             `codebuild.amazonaws.com` and may write logs, read and write the artifact bucket, push to ECR and \
             read the secrets the environment variables reference.",
        )
        .required(),
        Prop::new("source", Type::Object(&SOURCE), "Where the source code comes from, and the buildspec.").required(),
        Prop::new("artifacts", Type::Object(&ARTIFACTS), "Where the build's output goes.").required(),
        Prop::new("environment", Type::Object(&ENVIRONMENT), "The build container.").required(),
        Prop::new(
            "logs_config",
            Type::Object(&LOGS),
            "Where build logs go. Default: CloudWatch Logs (`/aws/codebuild/<project>`), not S3.",
        )
        .default("{}"),
        Prop::new("timeout_in_minutes", Type::Int, "How long a build may run (5 to 2160 minutes).").default("60"),
        Prop::new(
            "queued_timeout_in_minutes",
            Type::Int,
            "How long a build may wait in the queue (5 to 480 minutes).",
        )
        .default("480"),
        Prop::new(
            "encryption_key",
            Type::String,
            "The KMS key (ARN or `alias/…`) that encrypts the build output. Unset: the AWS managed key for S3, not \
             managed.",
        ),
        Prop::new("cache", Type::Object(&CACHE), "The build cache. Default: none (`NO_CACHE`).").default("{}"),
    ],
    attributes: &[
        Attr { name: "id", doc: "The project's name." },
        Attr { name: "name", doc: "The project's name (for a pipeline's `ProjectName`)." },
        Attr { name: "arn", doc: "The project's ARN (for IAM policies: `codebuild:StartBuild`)." },
        Attr { name: "service_role", doc: "The service role's ARN." },
    ],
    taggable: true,
    rules: &[],
    example: "build:\n  type: codebuild.project\n  properties:\n    description: builds the image and writes imagedefinitions.json\n    service_role: ${build_role.arn}\n    source:\n      type: CODEPIPELINE\n      buildspec: |\n        version: 0.2\n        phases:\n          build:\n            commands:\n              - docker build -t $ECR_REGISTRY/$ECR_REPOSITORY:latest .\n              - docker push $ECR_REGISTRY/$ECR_REPOSITORY:latest\n              - printf '[{\"name\":\"web\",\"imageUri\":\"%s\"}]' $ECR_REGISTRY/$ECR_REPOSITORY:latest > imagedefinitions.json\n        artifacts:\n          files: [imagedefinitions.json]\n    artifacts: {type: CODEPIPELINE}\n    environment:\n      image: aws/codebuild/standard:7.0\n      compute_type: BUILD_GENERAL1_SMALL\n      privileged_mode: true\n      environment_variables:\n        - {name: ECR_REPOSITORY, value: stock-dashboard}\n        - {name: GITHUB_TOKEN, value: \"stock-dashboard/github-token:token\", type: SECRETS_MANAGER}\n    logs_config:\n      cloud_watch_logs: {group_name: /codebuild/stock-dashboard}\n    timeout_in_minutes: 30\n",
};

pub struct Project {
    client: Client,
}

/// `<stack>-<address>` in the characters CodeBuild allows in project names
/// (letters, digits, `-`, `_`; at most 255).
pub fn default_name(stack: &str, address: &str) -> String {
    sanitized_name(&format!("{stack}-{address}"), |c| c.is_ascii_alphanumeric() || c == '-' || c == '_', 255)
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

fn int(v: Option<&Value>) -> Option<i32> {
    match v {
        Some(Value::Number(n)) => n.as_i64().map(|i| i as i32),
        Some(Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    }
}

fn boolean(v: Option<&Value>) -> Option<bool> {
    match v {
        Some(Value::Bool(b)) => Some(*b),
        Some(Value::String(s)) => s.parse().ok(),
        _ => None,
    }
}

fn object(v: &Option<Value>) -> Map<String, Value> {
    v.as_ref().and_then(Value::as_object).cloned().unwrap_or_default()
}

fn invalid(what: &str, e: impl std::fmt::Display) -> ProviderError {
    ProviderError::new(Some("InvalidInputException".into()), format!("{what}: {e}"))
}

/// Everything CreateProject and UpdateProject take, from the spec.
struct Request {
    description: Option<String>,
    service_role: String,
    source: ProjectSource,
    artifacts: ProjectArtifacts,
    environment: ProjectEnvironment,
    logs: LogsConfig,
    timeout: i32,
    queued_timeout: i32,
    encryption_key: Option<String>,
    cache: ProjectCache,
}

fn request(desired: &Props) -> Result<Request, ProviderError> {
    let service_role = want(desired, "service_role")
        .as_ref()
        .and_then(text)
        .ok_or_else(|| ProviderError::msg("service_role is required"))?;

    let src = object(&want(desired, "source"));
    let source = ProjectSource::builder()
        .r#type(SourceType::from(st(&src, "type").unwrap_or_default().as_str()))
        .set_location(st(&src, "location"))
        .set_buildspec(st(&src, "buildspec"))
        .set_git_clone_depth(int(src.get("git_clone_depth")))
        .build()
        .map_err(|e| invalid("source", e))?;

    let art = object(&want(desired, "artifacts"));
    let art_type = st(&art, "type").unwrap_or_default();
    // Namespace and packaging mean something for S3 output only; sent
    // elsewhere only when written.
    let raw_art = desired.get("artifacts").and_then(Value::as_object);
    let s3_or_written = |k: &str| {
        if art_type == "S3" || raw_art.is_some_and(|a| a.contains_key(k)) {
            st(&art, k)
        } else {
            None
        }
    };
    let artifacts = ProjectArtifacts::builder()
        .r#type(ArtifactsType::from(art_type.as_str()))
        .set_location(st(&art, "location"))
        .set_path(st(&art, "path"))
        .set_name(st(&art, "name"))
        .set_namespace_type(s3_or_written("namespace_type").map(|v| ArtifactNamespace::from(v.as_str())))
        .set_packaging(s3_or_written("packaging").map(|v| ArtifactPackaging::from(v.as_str())))
        .build()
        .map_err(|e| invalid("artifacts", e))?;

    let env = object(&want(desired, "environment"));
    let variables = env
        .get("environment_variables")
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(Value::as_object)
                .map(|v| {
                    EnvironmentVariable::builder()
                        .set_name(st(v, "name"))
                        .set_value(st(v, "value"))
                        .r#type(EnvironmentVariableType::from(
                            st(v, "type").unwrap_or_else(|| "PLAINTEXT".into()).as_str(),
                        ))
                        .build()
                        .map_err(|e| invalid("environment.environment_variables", e))
                })
                .collect::<Result<Vec<_>, _>>()
        })
        .transpose()?
        .unwrap_or_default();
    let environment = ProjectEnvironment::builder()
        .r#type(EnvironmentType::from(st(&env, "type").unwrap_or_default().as_str()))
        .set_image(st(&env, "image"))
        .set_compute_type(st(&env, "compute_type").map(|c| ComputeType::from(c.as_str())))
        .privileged_mode(boolean(env.get("privileged_mode")).unwrap_or(false))
        .set_image_pull_credentials_type(
            st(&env, "image_pull_credentials_type").map(|c| ImagePullCredentialsType::from(c.as_str())),
        )
        .set_environment_variables(Some(variables))
        .build()
        .map_err(|e| invalid("environment", e))?;

    let logs = object(&want(desired, "logs_config"));
    let cw = logs.get("cloud_watch_logs").and_then(Value::as_object).cloned().unwrap_or_default();
    let s3 = logs.get("s3_logs").and_then(Value::as_object).cloned().unwrap_or_default();
    let logs = LogsConfig::builder()
        .cloud_watch_logs(
            CloudWatchLogsConfig::builder()
                .status(LogsConfigStatusType::from(st(&cw, "status").unwrap_or_else(|| "ENABLED".into()).as_str()))
                .set_group_name(st(&cw, "group_name"))
                .set_stream_name(st(&cw, "stream_name"))
                .build()
                .map_err(|e| invalid("logs_config.cloud_watch_logs", e))?,
        )
        .s3_logs(
            S3LogsConfig::builder()
                .status(LogsConfigStatusType::from(st(&s3, "status").unwrap_or_else(|| "DISABLED".into()).as_str()))
                .set_location(st(&s3, "location"))
                .build()
                .map_err(|e| invalid("logs_config.s3_logs", e))?,
        )
        .build();

    let c = object(&want(desired, "cache"));
    let modes: Vec<CacheMode> = c
        .get("modes")
        .and_then(Value::as_array)
        .map(|m| m.iter().filter_map(text).map(|m| CacheMode::from(m.as_str())).collect())
        .unwrap_or_default();
    let cache = ProjectCache::builder()
        .r#type(CacheType::from(st(&c, "type").unwrap_or_else(|| "NO_CACHE".into()).as_str()))
        .set_location(st(&c, "location"))
        .set_modes((!modes.is_empty()).then_some(modes))
        .build()
        .map_err(|e| invalid("cache", e))?;

    Ok(Request {
        description: want(desired, "description").as_ref().and_then(text),
        service_role,
        source,
        artifacts,
        environment,
        logs,
        timeout: int(want(desired, "timeout_in_minutes").as_ref()).unwrap_or(60),
        queued_timeout: int(want(desired, "queued_timeout_in_minutes").as_ref()).unwrap_or(480),
        encryption_key: want(desired, "encryption_key").as_ref().and_then(text),
        cache,
    })
}

fn cb_tags(tags: &BTreeMap<String, String>) -> Vec<Tag> {
    tags.iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect()
}

/// Inserts `key` when there is a value.
fn put(m: &mut Map<String, Value>, key: &str, v: Option<impl Into<Value>>) {
    if let Some(v) = v {
        m.insert(key.to_string(), v.into());
    }
}

/// A project in the spec's shape.
pub(crate) fn observed(p: &CbProject) -> Observed {
    let name = p.name().unwrap_or_default().to_string();
    let mut properties = Props::new();
    properties.insert("name".into(), json!(name));
    put(&mut properties, "description", p.description().filter(|d| !d.is_empty()));
    put(&mut properties, "service_role", p.service_role());

    if let Some(s) = p.source() {
        let mut m = Map::new();
        m.insert("type".into(), json!(s.r#type().as_str()));
        put(&mut m, "location", s.location().filter(|l| !l.is_empty()));
        put(&mut m, "buildspec", s.buildspec().filter(|b| !b.is_empty()));
        put(&mut m, "git_clone_depth", s.git_clone_depth());
        properties.insert("source".into(), Value::Object(m));
    }

    if let Some(a) = p.artifacts() {
        let ty = a.r#type().as_str();
        let mut m = Map::new();
        m.insert("type".into(), json!(ty));
        put(&mut m, "location", a.location().filter(|l| !l.is_empty()));
        put(&mut m, "path", a.path().filter(|l| !l.is_empty()));
        // AWS names CODEPIPELINE output after the project by itself.
        let own_name = ty == "CODEPIPELINE" && a.name() == Some(name.as_str());
        put(&mut m, "name", a.name().filter(|n| !n.is_empty() && !own_name));
        put(&mut m, "namespace_type", a.namespace_type().map(|n| n.as_str()));
        put(&mut m, "packaging", a.packaging().map(|n| n.as_str()));
        properties.insert("artifacts".into(), Value::Object(m));
    }

    if let Some(e) = p.environment() {
        let vars: Vec<Value> = e
            .environment_variables()
            .iter()
            .map(|v| {
                json!({
                    "name": v.name(),
                    "value": v.value(),
                    "type": v.r#type().map(|t| t.as_str()).unwrap_or("PLAINTEXT"),
                })
            })
            .collect();
        properties.insert(
            "environment".into(),
            json!({
                "type": e.r#type().as_str(),
                "image": e.image(),
                "compute_type": e.compute_type().as_str(),
                "privileged_mode": e.privileged_mode().unwrap_or(false),
                "image_pull_credentials_type": e.image_pull_credentials_type().map(|t| t.as_str()).unwrap_or("CODEBUILD"),
                "environment_variables": vars,
            }),
        );
    }

    let logs = p.logs_config();
    let mut cw = Map::new();
    match logs.and_then(|l| l.cloud_watch_logs()) {
        Some(c) => {
            cw.insert("status".into(), json!(c.status().as_str()));
            put(&mut cw, "group_name", c.group_name());
            put(&mut cw, "stream_name", c.stream_name());
        }
        None => {
            cw.insert("status".into(), json!("ENABLED"));
        }
    }
    let mut s3 = Map::new();
    match logs.and_then(|l| l.s3_logs()) {
        Some(s) => {
            s3.insert("status".into(), json!(s.status().as_str()));
            put(&mut s3, "location", s.location().filter(|l| !l.is_empty()));
        }
        None => {
            s3.insert("status".into(), json!("DISABLED"));
        }
    }
    properties.insert("logs_config".into(), json!({"cloud_watch_logs": cw, "s3_logs": s3}));

    put(&mut properties, "timeout_in_minutes", p.timeout_in_minutes());
    put(&mut properties, "queued_timeout_in_minutes", p.queued_timeout_in_minutes());
    put(&mut properties, "encryption_key", p.encryption_key());

    let mut cache = Map::new();
    match p.cache() {
        Some(c) => {
            cache.insert("type".into(), json!(c.r#type().as_str()));
            put(&mut cache, "location", c.location().filter(|l| !l.is_empty()));
            cache.insert("modes".into(), json!(c.modes().iter().map(|m| m.as_str()).collect::<Vec<_>>()));
        }
        None => {
            cache.insert("type".into(), json!("NO_CACHE"));
        }
    }
    properties.insert("cache".into(), Value::Object(cache));

    let tags: BTreeMap<String, String> = p
        .tags()
        .iter()
        .filter_map(|t| Some((t.key()?.to_string(), t.value().unwrap_or_default().to_string())))
        .filter(|(k, _)| !k.starts_with("aws:"))
        .collect();

    let mut attributes = Props::new();
    attributes.insert("id".into(), json!(name));
    attributes.insert("name".into(), json!(name));
    attributes.insert("arn".into(), json!(p.arn()));
    attributes.insert("service_role".into(), json!(p.service_role()));
    Observed { id: name, properties, tags, attributes }
}

impl Project {
    pub fn new(client: Client) -> Project {
        Project { client }
    }

    async fn read_names(&self, names: &[String]) -> Result<Vec<Observed>, ProviderError> {
        let calls = names.chunks(NAME_CHUNK).map(|chunk| async move {
            self.client.batch_get_projects().set_names(Some(chunk.to_vec())).send().await.map_err(from_sdk)
        });
        let mut out = Vec::new();
        for r in join_all(calls).await {
            out.extend(r?.projects().iter().map(observed));
        }
        Ok(out)
    }

    async fn read_one(&self, name: &str) -> Result<Observed, ProviderError> {
        self.read_names(&[name.to_string()]).await?.into_iter().next().ok_or_else(|| {
            ProviderError::new(Some("ResourceNotFoundException".into()), format!("project {name} disappeared"))
        })
    }

    async fn list_names(&self) -> Result<Vec<String>, ProviderError> {
        let mut pages = self.client.list_projects().into_paginator().send();
        let mut out = Vec::new();
        while let Some(page) = pages.next().await {
            out.extend(page.map_err(from_sdk)?.projects().iter().cloned());
        }
        Ok(out)
    }
}

#[async_trait]
impl ResourceKind for Project {
    fn schema(&self) -> &'static KindSchema {
        &SCHEMA
    }

    async fn read(&self, _ctx: &ReadCtx, ids: &[String]) -> Result<Vec<Observed>, ProviderError> {
        self.read_names(ids).await
    }

    async fn find_tagged(&self, ctx: &ReadCtx) -> Result<Vec<(String, Observed)>, ProviderError> {
        let names = self.list_names().await?;
        Ok(self
            .read_names(&names)
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
        let by_name: BTreeMap<String, &String> = wanted
            .iter()
            .map(|(address, p)| {
                let name = match p.get("name").and_then(Value::as_str) {
                    Some(n) => n.to_string(),
                    None => default_name(&ctx.stack, address),
                };
                (name, address)
            })
            .collect();
        if by_name.is_empty() {
            return Ok(Vec::new());
        }
        let names: Vec<String> = by_name.keys().cloned().collect();
        Ok(self
            .read_names(&names)
            .await?
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
            want(desired, "name").as_ref().and_then(text).unwrap_or_else(|| default_name(&ctx.stack, &ctx.address));
        let r = request(desired)?;
        let call = self
            .client
            .create_project()
            .name(&name)
            .set_description(r.description)
            .service_role(r.service_role)
            .source(r.source)
            .artifacts(r.artifacts)
            .environment(r.environment)
            .logs_config(r.logs)
            .timeout_in_minutes(r.timeout)
            .queued_timeout_in_minutes(r.queued_timeout)
            .set_encryption_key(r.encryption_key)
            .cache(r.cache)
            .set_tags(Some(cb_tags(&ctx.tags)));
        while_role_propagates(ctx, "creating the project", || {
            let call = call.clone();
            async move { call.send().await.map_err(from_sdk) }
        })
        .await
        .map_err(|e| {
            if e.code_is("ResourceAlreadyExistsException") {
                e.with_hint(format!(
                    "a project named {name} already exists and is not this resource's (it lacks this stack's \
                     deployctl tags): pick another name, or delete that project"
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
        _changed: &[String],
    ) -> Result<Observed, ProviderError> {
        // UpdateProject leaves out what it is not given: send everything the
        // spec manages, so that one call converges whatever changed.
        let r = request(desired)?;
        let call = self
            .client
            .update_project()
            .name(&current.id)
            .set_description(r.description)
            .service_role(r.service_role)
            .source(r.source)
            .artifacts(r.artifacts)
            .environment(r.environment)
            .logs_config(r.logs)
            .timeout_in_minutes(r.timeout)
            .queued_timeout_in_minutes(r.queued_timeout)
            .set_encryption_key(r.encryption_key)
            .cache(r.cache)
            .set_tags(Some(cb_tags(&ctx.tags)));
        while_role_propagates(ctx, "updating the project", || {
            let call = call.clone();
            async move { call.send().await.map_err(from_sdk) }
        })
        .await?;
        self.read_one(&current.id).await
    }

    async fn delete(&self, _ctx: &OpCtx, current: &Observed, _recorded: &Props) -> Result<(), ProviderError> {
        match self.client.delete_project().name(&current.id).send().await.map_err(from_sdk) {
            Ok(_) => Ok(()),
            Err(e) if e.code_is("ResourceNotFoundException") => Ok(()),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_names_fit_codebuild() {
        assert_eq!(default_name("shop", "build[backend]"), "shop-build-backend");
        assert_eq!(default_name("shop", "web.build"), "shop-web-build");
        assert!(default_name("s", &"x".repeat(300)).len() <= 255);
    }

    #[test]
    fn the_request_fills_aws_defaults() {
        let desired: Props = json!({
            "service_role": "arn:aws:iam::123456789012:role/build",
            "source": {"type": "CODEPIPELINE", "buildspec": "backend/buildspec.yml"},
            "artifacts": {"type": "CODEPIPELINE"},
            "environment": {"image": "aws/codebuild/standard:7.0", "compute_type": "BUILD_GENERAL1_SMALL",
                            "environment_variables": [{"name": "A", "value": "b"}]},
        })
        .as_object()
        .unwrap()
        .clone();
        let r = request(&desired).unwrap();
        assert_eq!(r.timeout, 60);
        assert_eq!(r.queued_timeout, 480);
        assert_eq!(r.environment.r#type().as_str(), "LINUX_CONTAINER");
        assert_eq!(r.environment.privileged_mode(), Some(false));
        assert_eq!(r.environment.environment_variables()[0].r#type().map(|t| t.as_str()), Some("PLAINTEXT"));
        assert_eq!(r.artifacts.packaging(), None, "packaging is for S3 output only");
        assert_eq!(r.cache.r#type().as_str(), "NO_CACHE");
        assert_eq!(r.logs.s3_logs().map(|s| s.status().as_str()), Some("DISABLED"));
    }
}
