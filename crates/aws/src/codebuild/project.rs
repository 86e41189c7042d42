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
//! that sends every managed field) pass the service role to CodeBuild, which
//! refuses a role created a moment ago ("CodeBuild is not authorized to
//! perform: sts:AssumeRole on …"): the adapter retries both while the role
//! propagates (`kit::consistency`).
//! Tags are changed with UpdateProject too, the whole set at once.
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
use crate::kit::tagger::CodeBuildTags;
use crate::kit::{attrs, model, Adopt, Created, Kind, Live, Model, Tagger};
use aws_sdk_codebuild::types::{
    ArtifactNamespace, ArtifactPackaging, ArtifactsType, CacheMode, CacheType, CloudWatchLogsConfig, ComputeType,
    EnvironmentType, EnvironmentVariable, EnvironmentVariableType, ImagePullCredentialsType, LogsConfig,
    LogsConfigStatusType, Project as CbProject, ProjectArtifacts, ProjectCache, ProjectEnvironment, ProjectSource,
    S3LogsConfig, SourceType, Tag,
};
use aws_sdk_codebuild::Client;
use deployctl_engine::{Observed, OpCtx, Props, ProviderError, ReadCtx};
use deployctl_spec::{Attr, KindSchema, Literals, RuleViolation};
use futures::future::join_all;
use serde_json::{json, Value};

/// The most names one BatchGetProjects takes.
const NAME_CHUNK: usize = 100;

model! {
    pub struct Source {
        r#type as "type": String = "`CODEPIPELINE` (the pipeline hands the source over), `CODECOMMIT`, `GITHUB`, \
            `GITHUB_ENTERPRISE`, `BITBUCKET`, `S3` or `NO_SOURCE`." [required, one_of(SourceType::values())],
        location: Option<String> = "Where the source is: the clone URL (`CODECOMMIT`, `GITHUB`, `BITBUCKET`) or \
            `bucket/key.zip` (`S3`). Not used with `CODEPIPELINE` or `NO_SOURCE`.",
        buildspec: Option<String> = "The build specification, one of two forms. By path: a file in the source, \
            e.g. `backend/buildspec.yml`. Inline: the buildspec itself as a multi-line YAML string (`buildspec: |` \
            followed by `version: 0.2`, `phases:` …), which CodeBuild stores as it is. Unset: `buildspec.yml` at \
            the root of the source.",
        git_clone_depth: Option<i32> = "How many commits to clone (0: the full history). Git sources only; unset: \
            not managed." [range(0, 2147483647)],
    }
}

model! {
    pub struct Artifacts {
        r#type as "type": String = "`CODEPIPELINE` (the pipeline takes the build's output), `S3` or `NO_ARTIFACTS`."
            [required, one_of(ArtifactsType::values())],
        location: Option<String> = "The S3 bucket's name (`S3` only).",
        path: Option<String> = "The folder in the bucket (`S3` only).",
        name: Option<String> = "The name of the output folder or ZIP file (`S3` only; with `CODEPIPELINE` AWS \
            reports the project's name, which reads back as unset).",
        namespace_type: String = "`NONE` or `BUILD_ID`: whether the build id is part of the path (`S3`)."
            [default("\"NONE\""), one_of(ArtifactNamespace::values())],
        packaging: String = "`NONE` or `ZIP` (`S3`)." [default("\"NONE\""), one_of(ArtifactPackaging::values())],
    }
}

model! {
    pub struct EnvVar {
        name: String = "The variable's name, e.g. `ECR_REPOSITORY`." [required],
        value: String = "`PLAINTEXT`: the value itself (visible in the console: never a secret). \
            `SECRETS_MANAGER`: a reference, `<secret name or ARN>:<JSON key>` (e.g. \
            `stock-dashboard/github-token:token`). `PARAMETER_STORE`: the parameter's name. The service role must \
            be allowed to read what a reference names." [required],
        r#type as "type": String = "`PLAINTEXT`, `PARAMETER_STORE` or `SECRETS_MANAGER`."
            [default("\"PLAINTEXT\""), one_of(EnvironmentVariableType::values())],
    }
}

model! {
    pub struct Environment {
        r#type as "type": String = "`LINUX_CONTAINER`, `ARM_CONTAINER`, `LINUX_GPU_CONTAINER`, \
            `WINDOWS_SERVER_2019_CONTAINER`, …." [default("\"LINUX_CONTAINER\""), one_of(EnvironmentType::values())],
        image: String = "The build image, e.g. `aws/codebuild/standard:7.0` (a curated image with Docker) or an \
            ECR image URI." [required],
        compute_type: String = "`BUILD_GENERAL1_SMALL` (3 GB, 2 vCPUs), `BUILD_GENERAL1_MEDIUM` (7 GB, 4 vCPUs), \
            `BUILD_GENERAL1_LARGE`, `BUILD_GENERAL1_2XLARGE`." [required, one_of(ComputeType::values())],
        privileged_mode: bool = "Runs the Docker daemon in the build container: required to build Docker images."
            [default("false")],
        image_pull_credentials_type: String = "`CODEBUILD` (curated images) or `SERVICE_ROLE` (images from your \
            own ECR repository, pulled with the service role)."
            [default("\"CODEBUILD\""), one_of(ImagePullCredentialsType::values())],
        environment_variables: Vec<EnvVar> = "Variables set in every build: `{name, value, type}`."
            [default("[]"), typed(<EnvVar as Model>::SET)],
    }
}

model! {
    pub struct CloudWatchLogs {
        status: String = "`ENABLED` or `DISABLED`." [default("\"ENABLED\""), one_of(LogsConfigStatusType::values())],
        group_name: Option<String> = "The log group. Unset: `/aws/codebuild/<project>`.",
        stream_name: Option<String> = "A prefix of the log streams. Unset: the build id.",
    }
}

model! {
    pub struct S3Logs {
        status: String = "`ENABLED` or `DISABLED`." [default("\"DISABLED\""), one_of(LogsConfigStatusType::values())],
        location: Option<String> = "`bucket/prefix` the logs go to (when enabled).",
    }
}

model! {
    pub struct Logs {
        cloud_watch_logs: CloudWatchLogs = "Build logs in CloudWatch Logs." [default("{\"status\": \"ENABLED\"}")],
        s3_logs: S3Logs = "Build logs in S3." [default("{\"status\": \"DISABLED\"}")],
    }
}

model! {
    pub struct Cache {
        r#type as "type": String = "`NO_CACHE`, `LOCAL` (on the build host) or `S3`."
            [default("\"NO_CACHE\""), one_of(CacheType::values())],
        location: Option<String> = "`bucket/prefix` of an `S3` cache.",
        modes: Vec<String> = "What a `LOCAL` cache keeps: `LOCAL_DOCKER_LAYER_CACHE`, `LOCAL_SOURCE_CACHE`, \
            `LOCAL_CUSTOM_CACHE`." [default("[]")],
    }
}

model! {
    pub struct ProjectModel {
        name: Option<String> = "The project's name (2 to 255 letters, digits, `-` and `_`, starting with a letter \
            or digit). Default: `<stack>-<resource>`." [replace, unique],
        description: Option<String> = "Free text (at most 255 characters).",
        service_role: String = "The ARN of the role builds run as (usually `${build_role.arn}`): it must trust \
            `codebuild.amazonaws.com` and may write logs, read and write the artifact bucket, push to ECR and read \
            the secrets the environment variables reference." [required],
        source: Source = "Where the source code comes from, and the buildspec."
            [required],
        artifacts: Artifacts = "Where the build's output goes." [required],
        environment: Environment = "The build container." [required],
        logs_config: Logs = "Where build logs go. Default: CloudWatch Logs (`/aws/codebuild/<project>`), not S3."
            [default("{}")],
        timeout_in_minutes: i32 = "How long a build may run (5 to 2160 minutes)." [default("60"), range(5, 2160)],
        queued_timeout_in_minutes: i32 = "How long a build may wait in the queue (5 to 480 minutes)."
            [default("480"), range(5, 480)],
        encryption_key: Option<String> = "The KMS key (ARN or `alias/…`) that encrypts the build output. Unset: \
            the AWS managed key for S3, not managed.",
        cache: Cache = "The build cache. Default: none (`NO_CACHE`)." [default("{}")],
    }
}

pub static SCHEMA: KindSchema = KindSchema {
    type_name: "codebuild.project",
    doc: "A CodeBuild project: where the source comes from, the buildspec (a path in the source or inline YAML), \
          the build environment (image, compute type, privileged mode for Docker builds, environment variables \
          that may reference Secrets Manager or Parameter Store), where the output goes, logs and timeouts. \
          Everything but the name is updated in place. Create and update retry while CodeBuild cannot yet assume \
          a just-created service role. Used by a pipeline's `CodeBuild` action through `ProjectName: \
          ${build.name}`.",
    properties: <ProjectModel as Model>::PROPS,
    attributes: &[
        Attr { name: "id", doc: "The project's name." },
        Attr { name: "name", doc: "The project's name (for a pipeline's `ProjectName`)." },
        Attr { name: "arn", doc: "The project's ARN (for IAM policies: `codebuild:StartBuild`)." },
        Attr { name: "service_role", doc: "The service role's ARN." },
    ],
    taggable: true,
    rules: &[name_fits, source_fits, artifacts_fit, cache_fits, variables_are_unique],
    example: "build:\n  type: codebuild.project\n  properties:\n    description: builds the image and writes imagedefinitions.json\n    service_role: ${build_role.arn}\n    source:\n      type: CODEPIPELINE\n      buildspec: |\n        version: 0.2\n        phases:\n          build:\n            commands:\n              - docker build -t $ECR_REGISTRY/$ECR_REPOSITORY:latest .\n              - docker push $ECR_REGISTRY/$ECR_REPOSITORY:latest\n              - printf '[{\"name\":\"web\",\"imageUri\":\"%s\"}]' $ECR_REGISTRY/$ECR_REPOSITORY:latest > imagedefinitions.json\n        artifacts:\n          files: [imagedefinitions.json]\n    artifacts: {type: CODEPIPELINE}\n    environment:\n      image: aws/codebuild/standard:7.0\n      compute_type: BUILD_GENERAL1_SMALL\n      privileged_mode: true\n      environment_variables:\n        - {name: ECR_REPOSITORY, value: stock-dashboard}\n        - {name: GITHUB_TOKEN, value: \"stock-dashboard/github-token:token\", type: SECRETS_MANAGER}\n    logs_config:\n      cloud_watch_logs: {group_name: /codebuild/stock-dashboard}\n    timeout_in_minutes: 30\n",
};

pub struct Project {
    client: Client,
    tags: CodeBuildTags,
}

/// `<stack>-<address>` in the characters CodeBuild allows in project names
/// (letters, digits, `-`, `_`; at most 255).
pub fn default_name(stack: &str, address: &str) -> String {
    sanitized_name(&format!("{stack}-{address}"), |c| c.is_ascii_alphanumeric() || c == '-' || c == '_', 255)
}

fn violation(field: &'static str, message: impl Into<String>, hint: impl Into<String>) -> Option<RuleViolation> {
    Some(RuleViolation { field, message: message.into(), hint: hint.into() })
}

/// A literal nested object's text field (`None` when unset or not known offline).
fn field<'a>(p: &'a Literals, object: &str, key: &str) -> Option<&'a str> {
    p.get(object)?.as_ref()?.get(key)?.as_str().filter(|s| !s.is_empty())
}

/// A name CodeBuild takes: 2 to 255 of `[A-Za-z0-9_-]`, the first a letter
/// or digit; and a description of at most 255 characters.
fn name_fits(p: &Literals) -> Option<RuleViolation> {
    let text = |k: &str| p.get(k).and_then(Option::as_ref).and_then(Value::as_str);
    if let Some(n) = text("description").map(|d| d.chars().count()).filter(|n| *n > 255) {
        return violation("description", format!("the description has {n} characters"), "CodeBuild takes at most 255");
    }
    let name = text("name")?;
    let ok = (2..=255).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    (!ok).then_some(())?;
    violation(
        "name",
        format!("'{name}' is not a CodeBuild project name"),
        "2 to 255 letters, digits, `-` and `_`, starting with a letter or digit",
    )
}

/// `NO_SOURCE` needs an inline buildspec; a repository or bucket source
/// needs its location.
fn source_fits(p: &Literals) -> Option<RuleViolation> {
    let ty = field(p, "source", "type")?;
    let (location, buildspec) = (field(p, "source", "location"), field(p, "source", "buildspec"));
    match ty {
        "NO_SOURCE" if buildspec.is_none() => violation(
            "source",
            "a NO_SOURCE project needs its buildspec inline",
            "write source.buildspec: | followed by the buildspec",
        ),
        "CODEPIPELINE" | "NO_SOURCE" => None,
        _ if location.is_none() => violation(
            "source",
            format!("a {ty} source needs a location"),
            "set source.location: the clone URL, or bucket/key.zip for S3",
        ),
        _ => None,
    }
}

/// `S3` output needs its bucket.
fn artifacts_fit(p: &Literals) -> Option<RuleViolation> {
    (field(p, "artifacts", "type")? == "S3" && field(p, "artifacts", "location").is_none()).then_some(())?;
    violation("artifacts", "S3 artifacts need a location", "set artifacts.location: the bucket's name")
}

/// An `S3` cache needs its location, a `LOCAL` one at least one mode.
fn cache_fits(p: &Literals) -> Option<RuleViolation> {
    let c = p.get("cache")?.as_ref()?;
    let modes = c.get("modes").and_then(Value::as_array).map_or(0, Vec::len);
    match field(p, "cache", "type")? {
        "S3" if field(p, "cache", "location").is_none() => {
            violation("cache", "an S3 cache needs a location", "set cache.location: bucket/prefix")
        }
        "LOCAL" if modes == 0 => violation(
            "cache",
            "a LOCAL cache needs at least one mode",
            "set cache.modes, e.g. [LOCAL_DOCKER_LAYER_CACHE, LOCAL_SOURCE_CACHE]",
        ),
        _ => None,
    }
}

/// Each environment variable is set once.
fn variables_are_unique(p: &Literals) -> Option<RuleViolation> {
    let vars = p.get("environment")?.as_ref()?.get("environment_variables")?.as_array()?;
    let mut seen = std::collections::BTreeSet::new();
    let dup = vars.iter().filter_map(|v| v.get("name")?.as_str()).find(|n| !seen.insert(*n))?;
    violation("environment", format!("the environment variable {dup} is set twice"), "set each variable once")
}

fn invalid(what: &str, e: impl std::fmt::Display) -> ProviderError {
    ProviderError::new(Some("InvalidInputException".into()), format!("{what}: {e}"))
}

/// Everything CreateProject and UpdateProject take, from the model.
struct Request {
    source: ProjectSource,
    artifacts: ProjectArtifacts,
    environment: ProjectEnvironment,
    logs: LogsConfig,
    cache: ProjectCache,
}

fn request(want: &ProjectModel) -> Result<Request, ProviderError> {
    let (s, a, e, c) = (&want.source, &want.artifacts, &want.environment, &want.cache);
    let source = ProjectSource::builder()
        .r#type(SourceType::from(s.r#type.as_str()))
        .set_location(s.location.clone())
        .set_buildspec(s.buildspec.clone())
        .set_git_clone_depth(s.git_clone_depth)
        .build()
        .map_err(|e| invalid("source", e))?;
    // Namespace and packaging mean something for S3 output only; sent
    // elsewhere only when not the default.
    let s3_or_set = |v: &String| (a.r#type == "S3" || v != "NONE").then(|| v.clone());
    let artifacts = ProjectArtifacts::builder()
        .r#type(ArtifactsType::from(a.r#type.as_str()))
        .set_location(a.location.clone())
        .set_path(a.path.clone())
        .set_name(a.name.clone())
        .set_namespace_type(s3_or_set(&a.namespace_type).map(|v| ArtifactNamespace::from(v.as_str())))
        .set_packaging(s3_or_set(&a.packaging).map(|v| ArtifactPackaging::from(v.as_str())))
        .build()
        .map_err(|e| invalid("artifacts", e))?;
    let variables = e
        .environment_variables
        .iter()
        .map(|v| {
            EnvironmentVariable::builder()
                .name(&v.name)
                .value(&v.value)
                .r#type(EnvironmentVariableType::from(v.r#type.as_str()))
                .build()
                .map_err(|e| invalid("environment.environment_variables", e))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let environment = ProjectEnvironment::builder()
        .r#type(EnvironmentType::from(e.r#type.as_str()))
        .image(&e.image)
        .compute_type(ComputeType::from(e.compute_type.as_str()))
        .privileged_mode(e.privileged_mode)
        .image_pull_credentials_type(ImagePullCredentialsType::from(e.image_pull_credentials_type.as_str()))
        .set_environment_variables(Some(variables))
        .build()
        .map_err(|e| invalid("environment", e))?;
    let (cw, s3) = (&want.logs_config.cloud_watch_logs, &want.logs_config.s3_logs);
    let cloud_watch_logs = CloudWatchLogsConfig::builder()
        .status(LogsConfigStatusType::from(cw.status.as_str()))
        .set_group_name(cw.group_name.clone())
        .set_stream_name(cw.stream_name.clone())
        .build()
        .map_err(|e| invalid("logs_config.cloud_watch_logs", e))?;
    let s3_logs = S3LogsConfig::builder()
        .status(LogsConfigStatusType::from(s3.status.as_str()))
        .set_location(s3.location.clone())
        .build()
        .map_err(|e| invalid("logs_config.s3_logs", e))?;
    let modes: Vec<CacheMode> = c.modes.iter().map(|m| CacheMode::from(m.as_str())).collect();
    let cache = ProjectCache::builder()
        .r#type(CacheType::from(c.r#type.as_str()))
        .set_location(c.location.clone())
        .set_modes((!modes.is_empty()).then_some(modes))
        .build()
        .map_err(|e| invalid("cache", e))?;
    let logs = LogsConfig::builder().cloud_watch_logs(cloud_watch_logs).s3_logs(s3_logs).build();
    Ok(Request { source, artifacts, environment, logs, cache })
}

/// Sends one CreateProject or UpdateProject: their builders share the
/// setters but not a type.
macro_rules! send_project {
    ($call:expr, $want:expr, $r:expr) => {
        $call
            .set_description($want.description.clone())
            .service_role(&$want.service_role)
            .source($r.source)
            .artifacts($r.artifacts)
            .environment($r.environment)
            .logs_config($r.logs)
            .timeout_in_minutes($want.timeout_in_minutes)
            .queued_timeout_in_minutes($want.queued_timeout_in_minutes)
            .set_encryption_key($want.encryption_key.clone())
            .cache($r.cache)
    };
}

fn nonempty(s: Option<&str>) -> Option<String> {
    s.filter(|s| !s.is_empty()).map(str::to_string)
}

fn attributes(p: &CbProject) -> Props {
    let name = p.name().unwrap_or_default();
    attrs([
        ("id", json!(name)),
        ("name", json!(name)),
        ("arn", json!(p.arn())),
        ("service_role", json!(p.service_role())),
    ])
}

/// A project in the spec's shape.
fn live(p: &CbProject) -> Live<ProjectModel> {
    let name = p.name().unwrap_or_default().to_string();
    let source = p.source().map_or_else(
        || Source { r#type: String::new(), location: None, buildspec: None, git_clone_depth: None },
        |s| Source {
            r#type: s.r#type().as_str().to_string(),
            location: nonempty(s.location()),
            buildspec: nonempty(s.buildspec()),
            git_clone_depth: s.git_clone_depth(),
        },
    );
    let artifacts = p.artifacts();
    let art_type = artifacts.map_or("", |a| a.r#type().as_str());
    // AWS names CODEPIPELINE output after the project by itself.
    let art_name = artifacts.and_then(|a| a.name()).filter(|n| !(art_type == "CODEPIPELINE" && *n == name));
    let artifacts = Artifacts {
        r#type: art_type.to_string(),
        location: nonempty(artifacts.and_then(|a| a.location())),
        path: nonempty(artifacts.and_then(|a| a.path())),
        name: nonempty(art_name),
        namespace_type: artifacts.and_then(|a| a.namespace_type()).map_or("NONE", |n| n.as_str()).to_string(),
        packaging: artifacts.and_then(|a| a.packaging()).map_or("NONE", |n| n.as_str()).to_string(),
    };
    let env = p.environment();
    let environment = Environment {
        r#type: env.map_or("", |e| e.r#type().as_str()).to_string(),
        image: env.map_or("", |e| e.image()).to_string(),
        compute_type: env.map_or("", |e| e.compute_type().as_str()).to_string(),
        privileged_mode: env.and_then(|e| e.privileged_mode()).unwrap_or(false),
        image_pull_credentials_type: env
            .and_then(|e| e.image_pull_credentials_type())
            .map_or("CODEBUILD", |t| t.as_str())
            .to_string(),
        environment_variables: env
            .map(|e| e.environment_variables())
            .unwrap_or_default()
            .iter()
            .map(|v| EnvVar {
                name: v.name().to_string(),
                value: v.value().to_string(),
                r#type: v.r#type().map_or("PLAINTEXT", |t| t.as_str()).to_string(),
            })
            .collect(),
    };
    let logs = p.logs_config();
    let cw = logs.and_then(|l| l.cloud_watch_logs());
    let s3 = logs.and_then(|l| l.s3_logs());
    let logs_config = Logs {
        cloud_watch_logs: CloudWatchLogs {
            status: cw.map_or("ENABLED", |c| c.status().as_str()).to_string(),
            group_name: cw.and_then(|c| c.group_name()).map(str::to_string),
            stream_name: cw.and_then(|c| c.stream_name()).map(str::to_string),
        },
        s3_logs: S3Logs {
            status: s3.map_or("DISABLED", |s| s.status().as_str()).to_string(),
            location: nonempty(s3.and_then(|s| s.location())),
        },
    };
    let cache = p.cache().map_or_else(
        || Cache { r#type: "NO_CACHE".into(), location: None, modes: Vec::new() },
        |c| Cache {
            r#type: c.r#type().as_str().to_string(),
            location: nonempty(c.location()),
            modes: c.modes().iter().map(|m| m.as_str().to_string()).collect(),
        },
    );
    Live {
        model: ProjectModel {
            name: Some(name.clone()),
            description: nonempty(p.description()),
            service_role: p.service_role().unwrap_or_default().to_string(),
            source,
            artifacts,
            environment,
            logs_config,
            timeout_in_minutes: p.timeout_in_minutes().unwrap_or(60),
            queued_timeout_in_minutes: p.queued_timeout_in_minutes().unwrap_or(480),
            encryption_key: p.encryption_key().map(str::to_string),
            cache,
        },
        tags: p
            .tags()
            .iter()
            .filter_map(|t| Some((t.key()?.to_string(), t.value().unwrap_or_default().to_string())))
            .filter(|(k, _)| !k.starts_with("aws:"))
            .collect(),
        attributes: attributes(p),
        id: name,
    }
}

impl Project {
    pub fn new(client: Client) -> Project {
        Project { tags: CodeBuildTags(client.clone()), client }
    }
}

#[async_trait::async_trait]
impl Kind for Project {
    type Model = ProjectModel;
    const ADOPT: Adopt = Adopt::ByName("name");

    fn default_name(&self, stack: &str, address: &str) -> Option<String> {
        Some(default_name(stack, address))
    }

    fn schema(&self) -> &'static KindSchema {
        &SCHEMA
    }

    fn tagger(&self) -> Option<&dyn Tagger> {
        Some(&self.tags)
    }

    async fn read(&self, _ctx: &ReadCtx, ids: &[String]) -> Result<Vec<Live<ProjectModel>>, ProviderError> {
        let calls = ids.chunks(NAME_CHUNK).map(|chunk| async move {
            self.client.batch_get_projects().set_names(Some(chunk.to_vec())).send().await.map_err(from_sdk)
        });
        let mut out = Vec::new();
        for r in join_all(calls).await {
            out.extend(r?.projects().iter().map(live));
        }
        Ok(out)
    }

    async fn create(&self, ctx: &OpCtx, want: &ProjectModel) -> Result<Created, ProviderError> {
        let name = want.name.clone().unwrap_or_else(|| default_name(&ctx.stack, &ctx.address));
        let r = request(want)?;
        let tags = ctx.tags.iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect();
        let call = send_project!(self.client.create_project().name(&name), want, r).set_tags(Some(tags));
        let out = call.send().await.map_err(from_sdk).map_err(|e| {
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
        let p =
            out.project.unwrap_or_else(|| CbProject::builder().name(&name).service_role(&want.service_role).build());
        Ok(Created { id: name, attributes: attributes(&p) })
    }

    async fn update(
        &self,
        _ctx: &OpCtx,
        live: &Observed,
        want: &ProjectModel,
        _changed: &[&str],
    ) -> Result<Option<Props>, ProviderError> {
        // UpdateProject leaves out what it is not given: send everything the
        // spec manages, so that one call converges whatever changed.
        let r = request(want)?;
        let call = send_project!(self.client.update_project().name(&live.id), want, r);
        let out = call.send().await.map_err(from_sdk)?;
        let now = out.project.as_ref().map(attributes);
        Ok(now.filter(|a| *a != live.attributes))
    }

    async fn delete(&self, _ctx: &OpCtx, live: &Observed, _: Option<&ProjectModel>) -> Result<(), ProviderError> {
        self.client.delete_project().name(&live.id).send().await.map_err(from_sdk)?;
        Ok(())
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
    fn properties_named_type_are_named_type() {
        let source = SCHEMA.property("source").unwrap();
        let deployctl_spec::Type::Object(inner) = source.ty else { panic!("{source:?}") };
        assert_eq!(inner[0].name, "type");
        assert!(SCHEMA.properties.iter().all(|p| !p.name.starts_with("r#")));
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
        let want = ProjectModel::from_props(&desired).unwrap();
        assert_eq!((want.timeout_in_minutes, want.queued_timeout_in_minutes), (60, 480));
        let r = request(&want).unwrap();
        assert_eq!(r.environment.r#type().as_str(), "LINUX_CONTAINER");
        assert_eq!(r.environment.privileged_mode(), Some(false));
        assert_eq!(r.environment.environment_variables()[0].r#type().map(|t| t.as_str()), Some("PLAINTEXT"));
        assert_eq!(r.artifacts.packaging(), None, "packaging is for S3 output only");
        assert_eq!(r.cache.r#type().as_str(), "NO_CACHE");
        assert_eq!(r.logs.s3_logs().map(|s| s.status().as_str()), Some("DISABLED"));
    }

    #[test]
    fn the_rules_refuse_what_codebuild_would() {
        let lit = |v: Value| -> Literals {
            v.as_object().unwrap().iter().map(|(k, v)| (k.clone(), Some(v.clone()))).collect()
        };
        let refused = |v: Value| {
            let l = lit(v);
            SCHEMA.rules.iter().find_map(|r| r(&l)).map(|v| v.field)
        };
        assert_eq!(refused(json!({"name": "-bad"})), Some("name"));
        assert_eq!(refused(json!({"name": "a"})), Some("name"));
        assert_eq!(refused(json!({"name": "good_name-2"})), None);
        assert_eq!(refused(json!({"source": {"type": "GITHUB"}})), Some("source"));
        assert_eq!(refused(json!({"source": {"type": "NO_SOURCE"}})), Some("source"));
        assert_eq!(refused(json!({"source": {"type": "CODEPIPELINE"}})), None);
        assert_eq!(refused(json!({"artifacts": {"type": "S3"}})), Some("artifacts"));
        assert_eq!(refused(json!({"cache": {"type": "LOCAL"}})), Some("cache"));
        let twice = json!({"environment": {"environment_variables": [{"name": "A"}, {"name": "A"}]}});
        assert_eq!(refused(twice), Some("environment"));
        // Not known offline: nothing to say.
        let unknown: Literals = [("name".to_string(), None), ("source".to_string(), None)].into();
        assert!(SCHEMA.rules.iter().all(|r| r(&unknown).is_none()));
    }
}
