//! `ecs.task_definition`: one revision of a task definition family.
//!
//! A revision is immutable, so every property forces a replacement: a
//! content change registers a new revision; the previous one is deregistered
//! (INACTIVE), which keeps it describable and lets running tasks and
//! rollbacks use it. (The engine replaces by deleting, then creating; for a
//! task definition that is safe, because "delete" only deregisters: the
//! service that still runs the old revision keeps running it until it is
//! updated to the new one, and a circuit-breaker rollback can go back to it.)
//! Tags change in place.
//!
//! The id is the revision's full ARN (`…:task-definition/web:7`). Reads are
//! one DescribeTaskDefinition (with `TAGS`) per revision, run concurrently;
//! deregistered (INACTIVE) and deleted revisions are absent.
//!
//! Normalisation: ECS fills defaults into what it returns (`cpu: 0`,
//! `essential: true`, port mappings' `protocol: tcp` and `hostPort`, health
//! check intervals, empty `mountPoints`/`volumesFrom`/`systemControls`…).
//! The read drops empty lists, maps and nulls, a port mapping's `host_port`
//! when it only repeats `container_port` (awsvpc and host network modes,
//! where it must) or is 0 (bridge: a dynamic port), and the nested schema
//! carries ECS's defaults, so a spec that leaves them out compares equal.
//!
//! Task-level `cpu` and `memory` are integers in the spec (ECS takes and
//! returns them as strings: `"512"`); they are sent as strings.
//!
//! RegisterTaskDefinition is not idempotent. Create first looks for the
//! latest ACTIVE revision of the family: if it is tagged for this stack and
//! resource and has the wanted content (a create whose result was never
//! recorded), it is adopted rather than registered again. The engine's
//! adoption (`find_existing`) looks revisions up by family the same way.
//! Registering goes through the IAM propagation retry: a just-created
//! execution role may not be usable yet.

use super::*;
use async_trait::async_trait;
use aws_sdk_ecs::types::{
    Compatibility, ContainerCondition, ContainerDefinition, ContainerDependency, CpuArchitecture, HealthCheck,
    HostVolumeProperties, KeyValuePair, LogConfiguration, LogDriver, MountPoint, NetworkMode, OsFamily, PortMapping,
    RuntimePlatform, Secret, SortOrder, TaskDefinition as EcsTaskDefinition, TaskDefinitionField, TaskDefinitionStatus,
    TransportProtocol, Ulimit, UlimitName, Volume,
};
use deployctl_engine::diff::{diff_properties, Want};
use deployctl_engine::{Observed, OpCtx, Props, ProviderError, ReadCtx, ResourceKind};
use deployctl_spec::Attr;
use serde_json::Map;

static PORT_MAPPING: [Prop; 5] = [
    Prop::new("container_port", Type::Int, "The port the container listens on.").required().range(0, 65535),
    Prop::new(
        "host_port",
        Type::Int,
        "The host port. Leave it out under `awsvpc` (it must equal container_port) and for a dynamic port under \
         `bridge`.",
    )
    .range(0, 65535),
    Prop::new("protocol", Type::String, "`tcp` or `udp`.").default("\"tcp\""),
    Prop::new("name", Type::String, "A name for Service Connect."),
    Prop::new("app_protocol", Type::String, "`http`, `http2` or `grpc` (Service Connect)."),
];
static PORT_MAPPING_TYPE: Type = Type::Object(&PORT_MAPPING);

static KEY_VALUE: [Prop; 2] = [
    Prop::new("name", Type::String, "The variable's name.").required(),
    Prop::new("value", Type::String, "Its value (plain text: use `secrets` for anything sensitive).").required(),
];
static KEY_VALUE_TYPE: Type = Type::Object(&KEY_VALUE);

static SECRET: [Prop; 2] = [
    Prop::new("name", Type::String, "The environment variable (or log option) to set.").required(),
    Prop::new(
        "value_from",
        Type::String,
        "The Secrets Manager secret ARN (optionally `:json-key::`) or SSM parameter ARN to read it from, usually \
         `${secret.arn}`.",
    )
    .required(),
];
static SECRET_TYPE: Type = Type::Object(&SECRET);

static LOG_CONFIGURATION: [Prop; 3] = [
    Prop::new("log_driver", Type::String, "`awslogs`, `awsfirelens`, `splunk`, …").required(),
    Prop::new(
        "options",
        Type::Map(&Type::String),
        "The driver's options, e.g. `awslogs-group`, `awslogs-region`, `awslogs-stream-prefix`.",
    )
    .default("{}"),
    Prop::new("secret_options", Type::Set(&SECRET_TYPE), "Options read from secrets.").default("[]"),
];

static HEALTH_CHECK: [Prop; 5] = [
    Prop::new(
        "command",
        Type::List(&Type::String),
        "The check, e.g. `[CMD-SHELL, \"curl -f http://localhost:8080/ || exit 1\"]`.",
    )
    .required(),
    Prop::new("interval", Type::Int, "Seconds between checks.").default("30"),
    Prop::new("timeout", Type::Int, "Seconds a check may take.").default("5"),
    Prop::new("retries", Type::Int, "Failures before the container is unhealthy.").default("3"),
    Prop::new("start_period", Type::Int, "Seconds of grace after start before failures count.").default("0"),
];

static DEPENDS_ON: [Prop; 2] = [
    Prop::new("container_name", Type::String, "The container this one waits for.").required(),
    Prop::new("condition", Type::String, "`START`, `COMPLETE`, `SUCCESS` or `HEALTHY`.")
        .required()
        .one_of(aws_sdk_ecs::types::ContainerCondition::values()),
];
static DEPENDS_ON_TYPE: Type = Type::Object(&DEPENDS_ON);

static ULIMIT: [Prop; 3] = [
    Prop::new("name", Type::String, "`nofile`, `nproc`, …").required(),
    Prop::new("soft_limit", Type::Int, "The soft limit.").required(),
    Prop::new("hard_limit", Type::Int, "The hard limit.").required(),
];
static ULIMIT_TYPE: Type = Type::Object(&ULIMIT);

static MOUNT_POINT: [Prop; 3] = [
    Prop::new("source_volume", Type::String, "The name of one of the task's `volumes`.").required(),
    Prop::new("container_path", Type::String, "Where it is mounted in the container.").required(),
    Prop::new("read_only", Type::Bool, "Whether the mount is read-only.").default("false"),
];
static MOUNT_POINT_TYPE: Type = Type::Object(&MOUNT_POINT);

static CONTAINER: [Prop; 22] = [
    Prop::new("name", Type::String, "The container's name.").required(),
    Prop::new("image", Type::String, "The image, e.g. `${repo.repository_uri}:latest` or `nginx:1.27`.").required(),
    Prop::new("cpu", Type::Int, "CPU units reserved for the container (1024 = one vCPU).").default("0"),
    Prop::new("memory", Type::Int, "Hard memory limit in MiB."),
    Prop::new("memory_reservation", Type::Int, "Soft memory limit in MiB."),
    Prop::new("essential", Type::Bool, "Whether the task stops when this container stops.").default("true"),
    Prop::new("port_mappings", Type::List(&PORT_MAPPING_TYPE), "Ports the container exposes.").default("[]"),
    Prop::new("environment", Type::Set(&KEY_VALUE_TYPE), "Plain environment variables.").default("[]"),
    Prop::new("secrets", Type::Set(&SECRET_TYPE), "Environment variables read from Secrets Manager or SSM.")
        .default("[]"),
    Prop::new("log_configuration", Type::Object(&LOG_CONFIGURATION), "Where the container's output goes."),
    Prop::new("health_check", Type::Object(&HEALTH_CHECK), "The container's health check."),
    Prop::new("command", Type::List(&Type::String), "Overrides the image's CMD.").default("[]"),
    Prop::new("entry_point", Type::List(&Type::String), "Overrides the image's ENTRYPOINT.").default("[]"),
    Prop::new("working_directory", Type::String, "The working directory."),
    Prop::new("user", Type::String, "The user (and group) to run as, e.g. `1000:1000`."),
    Prop::new("readonly_root_filesystem", Type::Bool, "Whether the root filesystem is read-only.").default("false"),
    Prop::new("start_timeout", Type::Int, "Seconds to wait for `depends_on` to be met."),
    Prop::new("stop_timeout", Type::Int, "Seconds between SIGTERM and SIGKILL."),
    Prop::new("depends_on", Type::List(&DEPENDS_ON_TYPE), "Containers this one starts after.").default("[]"),
    Prop::new("ulimits", Type::Set(&ULIMIT_TYPE), "Resource limits.").default("[]"),
    Prop::new("docker_labels", Type::Map(&Type::String), "Docker labels.").default("{}"),
    Prop::new("mount_points", Type::Set(&MOUNT_POINT_TYPE), "Volumes mounted in the container.").default("[]"),
];
static CONTAINER_TYPE: Type = Type::Object(&CONTAINER);

static RUNTIME_PLATFORM: [Prop; 2] = [
    Prop::new("cpu_architecture", Type::String, "`X86_64` or `ARM64`.").default("\"X86_64\""),
    Prop::new("operating_system_family", Type::String, "`LINUX`, `WINDOWS_SERVER_2022_CORE`, …").default("\"LINUX\""),
];

static VOLUME: [Prop; 2] = [
    Prop::new("name", Type::String, "The volume's name, as mount_points' source_volume refers to it.").required(),
    Prop::new(
        "host_path",
        Type::String,
        "A path on the host (EC2 only). Leave out for a task-scoped volume (on Fargate: ephemeral storage).",
    ),
];
static VOLUME_TYPE: Type = Type::Object(&VOLUME);

pub static SCHEMA: KindSchema = KindSchema {
    type_name: "ecs.task_definition",
    doc: "A revision of an ECS task definition: the containers of a task and what they need. A revision is \
          immutable, so every property forces a replacement: a content change registers a new revision; the \
          previous one is deregistered (INACTIVE), which keeps it describable and lets running tasks and rollbacks \
          use it. Services pick up the new revision through their `task_definition` (usually `${task.arn}`). \
          Task-level `cpu` and `memory` are integers here (ECS takes strings such as `\"512\"`). Nested defaults \
          are ECS's own, so what ECS fills in (`essential`, `protocol`, health check intervals) compares equal \
          when left out; leave a port mapping's `host_port` out under `awsvpc`.",
    properties: &[
        Prop::new("family", Type::String, "The family: revisions are numbered within it.").required().replace(),
        Prop::new("container_definitions", Type::List(&CONTAINER_TYPE), "The containers of the task.")
            .required()
            .replace(),
        Prop::new("cpu", Type::Int, "Task CPU units (Fargate: 256, 512, 1024, 2048, 4096, …). Sent as a string.")
            .replace(),
        Prop::new("memory", Type::Int, "Task memory in MiB (Fargate: within the range the cpu allows). Sent as a string.")
            .replace(),
        Prop::new("network_mode", Type::String, "`awsvpc` (required by Fargate), `bridge`, `host` or `none`.")
            .default("\"awsvpc\"")
            .replace().one_of(aws_sdk_ecs::types::NetworkMode::values()),
        Prop::new("requires_compatibilities", Type::Set(&Type::String), "`FARGATE`, `EC2` or `EXTERNAL`.")
            .default("[\"FARGATE\"]")
            .replace(),
        Prop::new(
            "execution_role_arn",
            Type::String,
            "The role ECS uses to pull the image, read `secrets` and write logs, usually `${exec_role.arn}`.",
        )
        .replace(),
        Prop::new("task_role_arn", Type::String, "The role the containers' code runs as.").replace(),
        Prop::new(
            "runtime_platform",
            Type::Object(&RUNTIME_PLATFORM),
            "The CPU architecture and OS family (Fargate). Left out: not managed (ECS runs X86_64 Linux).",
        )
        .replace(),
        Prop::new("volumes", Type::Set(&VOLUME_TYPE), "Volumes the containers' mount_points can mount.").replace(),
    ],
    attributes: &[
        Attr { name: "id", doc: "The revision's ARN, `arn:aws:ecs:…:task-definition/<family>:<revision>`." },
        Attr { name: "arn", doc: "The revision's ARN (what a service's task_definition takes)." },
        Attr { name: "family", doc: "The family." },
        Attr { name: "revision", doc: "The revision number." },
        Attr { name: "arn_without_revision", doc: "The family's ARN, without `:<revision>`." },
    ],
    taggable: true,
    rules: &[fargate_size],
    example: "task:\n  type: ecs.task_definition\n  properties:\n    family: ${stack}-web\n    cpu: 512\n    memory: 1024\n    execution_role_arn: ${exec_role.arn}\n    container_definitions:\n      - name: web\n        image: nginx:1.27\n        port_mappings: [{container_port: 8080}]\n        environment: [{name: PORT, value: \"8080\"}]\n        secrets:\n          - {name: API_KEY, value_from: \"${api_key.arn}\"}\n        log_configuration:\n          log_driver: awslogs\n          options: {awslogs-group: /ecs/web, awslogs-region: us-east-1, awslogs-stream-prefix: ecs}\n        health_check:\n          command: [CMD-SHELL, \"curl -f http://localhost:8080/ || exit 1\"]\n          start_period: 60\n",
};

/// The memory sizes (MiB) Fargate takes for each task CPU size: from, to, step.
const FARGATE_SIZES: &[(i64, i64, i64, i64)] = &[
    (256, 512, 2048, 512),
    (512, 1024, 4096, 1024),
    (1024, 2048, 8192, 1024),
    (2048, 4096, 16384, 1024),
    (4096, 8192, 30720, 1024),
    (8192, 16384, 61440, 4096),
    (16384, 32768, 122880, 8192),
];

/// A Fargate task's memory must be one its CPU size allows (ECS refuses the
/// registration otherwise): checked by `validate`, before any call.
fn fargate_size(p: &deployctl_spec::Literals) -> Option<deployctl_spec::RuleViolation> {
    let fargate = match p.get("requires_compatibilities") {
        None => true, // the default, ["FARGATE"]
        Some(Some(Value::Array(c))) => c.iter().any(|c| c == "FARGATE"),
        Some(_) => false,
    };
    let int = |k: &str| p.get(k).and_then(|v| v.as_ref()).and_then(Value::as_i64);
    let (Some(cpu), Some(memory)) = (int("cpu"), int("memory")) else { return None };
    if !fargate {
        return None;
    }
    let violation =
        |message: String, hint: String| Some(deployctl_spec::RuleViolation { field: "memory", message, hint });
    let cpus: Vec<String> = FARGATE_SIZES.iter().map(|s| s.0.to_string()).collect();
    match FARGATE_SIZES.iter().find(|s| s.0 == cpu) {
        None => violation(
            format!("Fargate has no task CPU size {cpu}"),
            format!("cpu is one of {} (1024 = 1 vCPU)", cpus.join(", ")),
        ),
        // 0.25 vCPU takes 0.5, 1 or 2 GB, not 1.5.
        Some((256, ..)) if ![512, 1024, 2048].contains(&memory) => violation(
            format!("memory {memory} MiB does not fit Fargate's cpu 256"),
            "with cpu 256, memory is 512, 1024 or 2048 MiB".to_string(),
        ),
        Some((_, from, to, step)) if memory < *from || memory > *to || (memory - from) % step != 0 => violation(
            format!("memory {memory} MiB does not fit Fargate's cpu {cpu}"),
            format!("with cpu {cpu}, memory is {from} to {to} MiB in steps of {step}"),
        ),
        Some(_) => None,
    }
}

pub struct TaskDefinition {
    client: Client,
}

/// What describing a revision found.
enum Described {
    Live(Box<Observed>),
    /// Deregistered or deleted: absent for reads, and needs no deregistering.
    Inactive,
    Missing,
}

/// Drops nulls, empty lists and empty maps from an object (recursively):
/// ECS returns empty lists for everything not set.
fn strip_empty(v: Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.into_iter()
                .map(|(k, v)| (k, strip_empty(v)))
                .filter(|(_, v)| match v {
                    Value::Null => false,
                    Value::Array(a) => !a.is_empty(),
                    Value::Object(o) => !o.is_empty(),
                    _ => true,
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(strip_empty).collect()),
        other => other,
    }
}

fn secret_json(s: &Secret) -> Value {
    json!({"name": s.name(), "value_from": s.value_from()})
}

/// A container definition in the spec's shape.
fn container_json(c: &ContainerDefinition, network_mode: &str) -> Value {
    let ports: Vec<Value> = c
        .port_mappings()
        .iter()
        .map(|p| {
            let host = p.host_port().filter(|h| match network_mode {
                "awsvpc" | "host" => Some(*h) != p.container_port(),
                _ => *h != 0,
            });
            json!({
                "container_port": p.container_port(),
                "host_port": host,
                "protocol": p.protocol().map(|p| p.as_str()).unwrap_or("tcp"),
                "name": p.name(),
                "app_protocol": p.app_protocol().map(|a| a.as_str()),
            })
        })
        .collect();
    let log = c.log_configuration().map(|l| {
        json!({
            "log_driver": l.log_driver().as_str(),
            "options": l.options(),
            "secret_options": l.secret_options().iter().map(secret_json).collect::<Vec<_>>(),
        })
    });
    let health = c.health_check().map(|h| {
        json!({
            "command": h.command(),
            "interval": h.interval(),
            "timeout": h.timeout(),
            "retries": h.retries(),
            "start_period": h.start_period(),
        })
    });
    strip_empty(json!({
        "name": c.name(),
        "image": c.image(),
        "cpu": c.cpu(),
        "memory": c.memory(),
        "memory_reservation": c.memory_reservation(),
        "essential": c.essential().unwrap_or(true),
        "port_mappings": ports,
        "environment": c.environment().iter().map(|e| json!({"name": e.name(), "value": e.value()})).collect::<Vec<_>>(),
        "secrets": c.secrets().iter().map(secret_json).collect::<Vec<_>>(),
        "log_configuration": log,
        "health_check": health,
        "command": c.command(),
        "entry_point": c.entry_point(),
        "working_directory": c.working_directory(),
        "user": c.user(),
        "readonly_root_filesystem": c.readonly_root_filesystem(),
        "start_timeout": c.start_timeout(),
        "stop_timeout": c.stop_timeout(),
        "depends_on": c.depends_on().iter().map(|d| json!({"container_name": d.container_name(), "condition": d.condition().as_str()})).collect::<Vec<_>>(),
        "ulimits": c.ulimits().iter().map(|u| json!({"name": u.name().as_str(), "soft_limit": u.soft_limit(), "hard_limit": u.hard_limit()})).collect::<Vec<_>>(),
        "docker_labels": c.docker_labels(),
        "mount_points": c.mount_points().iter().map(|m| json!({"source_volume": m.source_volume(), "container_path": m.container_path(), "read_only": m.read_only()})).collect::<Vec<_>>(),
    }))
}

/// `arn:…:task-definition/web:7` → `arn:…:task-definition/web`.
fn without_revision(arn: &str) -> &str {
    match arn.rsplit_once(':') {
        Some((head, rev)) if rev.chars().all(|c| c.is_ascii_digit()) && head.contains("task-definition/") => head,
        _ => arn,
    }
}

/// The family named by a task definition ARN (or `family:rev`).
fn family_of(arn: &str) -> &str {
    let tail = arn.rsplit('/').next().unwrap_or(arn);
    tail.split(':').next().unwrap_or(tail)
}

/// A revision in the spec's shape.
fn observed(td: &EcsTaskDefinition, tags: &[aws_sdk_ecs::types::Tag]) -> Observed {
    let arn = td.task_definition_arn().unwrap_or_default().to_string();
    let network_mode = td.network_mode().map(|n| n.as_str()).unwrap_or("bridge");
    let containers: Vec<Value> = td.container_definitions().iter().map(|c| container_json(c, network_mode)).collect();
    let number = |s: Option<&str>| s.map(|v| v.trim().parse::<i64>().map(Value::from).unwrap_or_else(|_| json!(v)));
    let mut properties = Props::new();
    properties.insert("family".into(), json!(td.family()));
    properties.insert("container_definitions".into(), Value::Array(containers));
    properties.insert("cpu".into(), json!(number(td.cpu())));
    properties.insert("memory".into(), json!(number(td.memory())));
    properties.insert("network_mode".into(), json!(network_mode));
    properties.insert(
        "requires_compatibilities".into(),
        json!(td.requires_compatibilities().iter().map(|c| c.as_str()).collect::<Vec<_>>()),
    );
    properties.insert("execution_role_arn".into(), json!(td.execution_role_arn()));
    properties.insert("task_role_arn".into(), json!(td.task_role_arn()));
    properties.insert(
        "runtime_platform".into(),
        json!(td.runtime_platform().map(|r| json!({
            "cpu_architecture": r.cpu_architecture().map(|c| c.as_str()).unwrap_or("X86_64"),
            "operating_system_family": r.operating_system_family().map(|o| o.as_str()).unwrap_or("LINUX"),
        }))),
    );
    let volumes: Vec<Value> = td
        .volumes()
        .iter()
        .map(|v| strip_empty(json!({"name": v.name(), "host_path": v.host().and_then(|h| h.source_path())})))
        .collect();
    properties.insert("volumes".into(), Value::Array(volumes));
    let mut attributes = Props::new();
    attributes.insert("id".into(), json!(arn));
    attributes.insert("arn".into(), json!(arn));
    attributes.insert("family".into(), json!(td.family()));
    attributes.insert("revision".into(), json!(td.revision()));
    attributes.insert("arn_without_revision".into(), json!(without_revision(&arn)));
    Observed { id: arn, properties, tags: tag_map(tags), attributes }
}

fn port_mapping(p: &Map<String, Value>) -> PortMapping {
    PortMapping::builder()
        .set_container_port(int(p, "container_port"))
        .set_host_port(int(p, "host_port"))
        .protocol(TransportProtocol::from(s(p, "protocol").as_deref().unwrap_or("tcp")))
        .set_name(s(p, "name"))
        .set_app_protocol(s(p, "app_protocol").map(|a| a.as_str().into()))
        .build()
}

fn secret(o: &Map<String, Value>, what: &str) -> Result<Secret, ProviderError> {
    Secret::builder().set_name(s(o, "name")).set_value_from(s(o, "value_from")).build().map_err(|e| invalid(what, e))
}

/// One spec container as ECS takes it.
fn container(c: &Map<String, Value>, index: usize) -> Result<ContainerDefinition, ProviderError> {
    let at = |f: &str| format!("container_definitions[{index}].{f}");
    let mut b = ContainerDefinition::builder()
        .set_name(s(c, "name"))
        .set_image(s(c, "image"))
        .cpu(int(c, "cpu").unwrap_or(0))
        .set_memory(int(c, "memory"))
        .set_memory_reservation(int(c, "memory_reservation"))
        .essential(boolean(c, "essential").unwrap_or(true))
        .set_port_mappings(Some(objects(c, "port_mappings").into_iter().map(port_mapping).collect()))
        .set_environment(Some(
            objects(c, "environment")
                .into_iter()
                .map(|e| KeyValuePair::builder().set_name(s(e, "name")).set_value(s(e, "value")).build())
                .collect(),
        ))
        .set_secrets(Some(
            objects(c, "secrets").into_iter().map(|o| secret(o, &at("secrets"))).collect::<Result<_, _>>()?,
        ))
        .set_command(strings(c, "command"))
        .set_entry_point(strings(c, "entry_point"))
        .set_working_directory(s(c, "working_directory"))
        .set_user(s(c, "user"))
        .set_readonly_root_filesystem(boolean(c, "readonly_root_filesystem"))
        .set_start_timeout(int(c, "start_timeout"))
        .set_stop_timeout(int(c, "stop_timeout"))
        .set_depends_on(Some(
            objects(c, "depends_on")
                .into_iter()
                .map(|d| {
                    ContainerDependency::builder()
                        .set_container_name(s(d, "container_name"))
                        .set_condition(s(d, "condition").map(|v| ContainerCondition::from(v.as_str())))
                        .build()
                        .map_err(|e| invalid(&at("depends_on"), e))
                })
                .collect::<Result<_, _>>()?,
        ))
        .set_ulimits(Some(
            objects(c, "ulimits")
                .into_iter()
                .map(|u| {
                    Ulimit::builder()
                        .set_name(s(u, "name").map(|v| UlimitName::from(v.as_str())))
                        .set_soft_limit(int(u, "soft_limit"))
                        .set_hard_limit(int(u, "hard_limit"))
                        .build()
                        .map_err(|e| invalid(&at("ulimits"), e))
                })
                .collect::<Result<_, _>>()?,
        ))
        .set_mount_points(Some(
            objects(c, "mount_points")
                .into_iter()
                .map(|m| {
                    MountPoint::builder()
                        .set_source_volume(s(m, "source_volume"))
                        .set_container_path(s(m, "container_path"))
                        .set_read_only(boolean(m, "read_only"))
                        .build()
                })
                .collect(),
        ));
    if let Some(labels) = object(c, "docker_labels") {
        b = b.set_docker_labels(Some(
            labels
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string())))
                .collect(),
        ));
    }
    if let Some(l) = object(c, "log_configuration") {
        let options: Option<std::collections::HashMap<String, String>> = object(l, "options").map(|o| {
            o.iter()
                .map(|(k, v)| (k.clone(), v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string())))
                .collect()
        });
        let secret_options: Vec<Secret> = objects(l, "secret_options")
            .into_iter()
            .map(|o| secret(o, &at("log_configuration.secret_options")))
            .collect::<Result<_, _>>()?;
        b = b.log_configuration(
            LogConfiguration::builder()
                .set_log_driver(s(l, "log_driver").map(|d| LogDriver::from(d.as_str())))
                .set_options(options)
                .set_secret_options(if secret_options.is_empty() { None } else { Some(secret_options) })
                .build()
                .map_err(|e| invalid(&at("log_configuration"), e))?,
        );
    }
    if let Some(h) = object(c, "health_check") {
        b = b.health_check(
            HealthCheck::builder()
                .set_command(strings(h, "command"))
                .interval(int(h, "interval").unwrap_or(30))
                .timeout(int(h, "timeout").unwrap_or(5))
                .retries(int(h, "retries").unwrap_or(3))
                .set_start_period(int(h, "start_period"))
                .build()
                .map_err(|e| invalid(&at("health_check"), e))?,
        );
    }
    Ok(b.build())
}

impl TaskDefinition {
    pub fn new(client: Client) -> TaskDefinition {
        TaskDefinition { client }
    }

    async fn describe(&self, arn: &str) -> Result<Described, ProviderError> {
        let r = self
            .client
            .describe_task_definition()
            .task_definition(arn)
            .include(TaskDefinitionField::Tags)
            .send()
            .await
            .map_err(from_sdk);
        let out = match r {
            Ok(out) => out,
            Err(e) if is_gone(&e) || is_unknown_revision(&e) => return Ok(Described::Missing),
            Err(e) => return Err(e),
        };
        let Some(td) = out.task_definition() else { return Ok(Described::Missing) };
        if td.status() != Some(&TaskDefinitionStatus::Active) {
            return Ok(Described::Inactive);
        }
        Ok(Described::Live(Box::new(observed(td, out.tags()))))
    }

    async fn read_one(&self, arn: &str) -> Result<Observed, ProviderError> {
        match self.describe(arn).await? {
            Described::Live(o) => Ok(*o),
            _ => Err(ProviderError::new(
                Some("ClientException".into()),
                format!("task definition {arn} disappeared (it is deregistered or deleted)"),
            )),
        }
    }

    /// The latest ACTIVE revisions of `family` (newest first, at most `n`).
    async fn latest(&self, family: &str, n: i32) -> Result<Vec<String>, ProviderError> {
        let out = self
            .client
            .list_task_definitions()
            .family_prefix(family)
            .status(TaskDefinitionStatus::Active)
            .sort(SortOrder::Desc)
            .max_results(n)
            .send()
            .await
            .map_err(from_sdk)?;
        // familyPrefix is a prefix: keep the family itself only.
        Ok(out.task_definition_arns().iter().filter(|a| family_of(a) == family).take(n as usize).cloned().collect())
    }

    /// The newest ACTIVE revision of `family` tagged for this stack and
    /// `address`, among the last few.
    async fn find_mine(&self, family: &str, stack: &str, address: &str) -> Result<Option<Observed>, ProviderError> {
        for arn in self.latest(family, 5).await? {
            if let Described::Live(o) = self.describe(&arn).await? {
                if tagged_for(&o.tags, stack, Some(address)) {
                    return Ok(Some(*o));
                }
            }
        }
        Ok(None)
    }
}

/// DescribeTaskDefinition's answer for a revision that does not exist
/// (`ClientException: Unable to describe task definition.`).
fn is_unknown_revision(e: &ProviderError) -> bool {
    let m = e.message.to_lowercase();
    e.code_is("ClientException") && (m.contains("unable to describe task definition") || m.contains("does not exist"))
}

/// The RegisterTaskDefinition call for `desired`, ECS's defaults (and
/// deployctl's: awsvpc, FARGATE) filled in.
fn register_request(
    client: &Client,
    desired: &Props,
    tags: &BTreeMap<String, String>,
) -> Result<
    aws_sdk_ecs::operation::register_task_definition::builders::RegisterTaskDefinitionFluentBuilder,
    ProviderError,
> {
    let containers = objects(desired, "container_definitions")
        .into_iter()
        .enumerate()
        .map(|(i, c)| container(c, i))
        .collect::<Result<Vec<_>, _>>()?;
    if containers.is_empty() {
        return Err(ProviderError::msg("container_definitions needs at least one container"));
    }
    let compat = strings(desired, "requires_compatibilities").unwrap_or_else(|| vec!["FARGATE".into()]);
    let runtime = object(desired, "runtime_platform").map(|r| {
        RuntimePlatform::builder()
            .cpu_architecture(CpuArchitecture::from(s(r, "cpu_architecture").as_deref().unwrap_or("X86_64")))
            .operating_system_family(OsFamily::from(s(r, "operating_system_family").as_deref().unwrap_or("LINUX")))
            .build()
    });
    let volumes: Vec<Volume> = objects(desired, "volumes")
        .into_iter()
        .map(|v| {
            Volume::builder()
                .set_name(s(v, "name"))
                .set_host(s(v, "host_path").map(|p| HostVolumeProperties::builder().source_path(p).build()))
                .build()
        })
        .collect();
    Ok(client
        .register_task_definition()
        .set_family(s(desired, "family"))
        .set_container_definitions(Some(containers))
        .set_cpu(int(desired, "cpu").map(|v| v.to_string()))
        .set_memory(int(desired, "memory").map(|v| v.to_string()))
        .network_mode(NetworkMode::from(s(desired, "network_mode").as_deref().unwrap_or("awsvpc")))
        .set_requires_compatibilities(Some(compat.iter().map(|c| Compatibility::from(c.as_str())).collect()))
        .set_execution_role_arn(s(desired, "execution_role_arn"))
        .set_task_role_arn(s(desired, "task_role_arn"))
        .set_runtime_platform(runtime)
        .set_volumes(if volumes.is_empty() { None } else { Some(volumes) })
        .set_tags(Some(tags_of(tags))))
}

/// Whether `o` already is what `desired` asks for.
fn matches(o: &Observed, desired: &Props) -> bool {
    diff_properties(
        &SCHEMA,
        &|p: &Prop| match desired.get(p.name) {
            Some(v) => Want::Value(v.clone()),
            None => Want::Unmanaged,
        },
        &o.properties,
    )
    .is_empty()
}

#[async_trait]
impl ResourceKind for TaskDefinition {
    fn schema(&self) -> &'static KindSchema {
        &SCHEMA
    }

    async fn read(&self, _ctx: &ReadCtx, ids: &[String]) -> Result<Vec<Observed>, ProviderError> {
        let found = futures::future::join_all(ids.iter().map(|id| self.describe(id))).await;
        let mut out = Vec::new();
        for (id, d) in ids.iter().zip(found) {
            if let Described::Live(mut o) = d? {
                // The id as recorded (ECS answers with the full ARN).
                o.id = id.clone();
                out.push(*o);
            }
        }
        Ok(out)
    }

    /// ECS cannot list task definitions by tag; [`ResourceKind::find_existing`]
    /// looks them up by family instead.
    async fn find_tagged(&self, _ctx: &ReadCtx) -> Result<Vec<(String, Observed)>, ProviderError> {
        Ok(Vec::new())
    }

    async fn find_existing(
        &self,
        ctx: &ReadCtx,
        wanted: &[(String, Props)],
    ) -> Result<Vec<(String, Observed)>, ProviderError> {
        let finds = wanted.iter().filter_map(|(address, props)| {
            let family = s(props, "family")?;
            Some(async move {
                Ok::<_, ProviderError>((address.clone(), self.find_mine(&family, &ctx.stack, address).await?))
            })
        });
        let mut out = Vec::new();
        for r in futures::future::join_all(finds).await {
            if let (address, Some(o)) = r? {
                out.push((address, o));
            }
        }
        Ok(out)
    }

    async fn create(&self, ctx: &OpCtx, desired: &Props) -> Result<Observed, ProviderError> {
        let request = register_request(&self.client, desired, &ctx.tags)?;
        let family = s(desired, "family").unwrap_or_default();
        // A revision this step already registered (its result never
        // recorded) is adopted, not registered again.
        if let Some(o) = self.find_mine(&family, &ctx.stack, &ctx.address).await? {
            if matches(&o, desired) {
                ctx.progress(format!("adopting {}, registered by an earlier run", o.id), std::time::Duration::ZERO);
                ctx.record_id(&o.id);
                if o.tags != ctx.tags {
                    converge_tags(&self.client, &o.id, &o.tags, ctx).await?;
                    return self.read_one(&o.id).await;
                }
                return Ok(o);
            }
        }
        let out = crate::kit::propagation::while_role_propagates(ctx, "registering the task definition", || {
            let request = request.clone();
            async move { request.send().await.map_err(from_sdk) }
        })
        .await?;
        let td = out.task_definition().ok_or_else(|| {
            ProviderError::msg(format!("RegisterTaskDefinition for {family} returned no task definition"))
        })?;
        let o = observed(td, out.tags());
        ctx.record_id(&o.id);
        Ok(o)
    }

    async fn update(
        &self,
        ctx: &OpCtx,
        current: &Observed,
        _desired: &Props,
        changed: &[String],
    ) -> Result<Observed, ProviderError> {
        // Every property forces a new revision: only tags change in place.
        if changed.iter().any(|c| c == "tags") {
            converge_tags(&self.client, &current.id, &current.tags, ctx).await?;
        }
        self.read_one(&current.id).await
    }

    /// Deregisters the revision: it turns INACTIVE, stays describable, and
    /// tasks (and services, until updated) that run it keep running.
    async fn delete(&self, _ctx: &OpCtx, current: &Observed, _recorded: &Props) -> Result<(), ProviderError> {
        let r = self.client.deregister_task_definition().task_definition(&current.id).send().await.map_err(from_sdk);
        match r {
            Ok(_) => Ok(()),
            Err(e) if is_gone(&e) => Ok(()),
            // Already deregistered (or deleted)? Then there is nothing to do.
            Err(e) if e.code_is("ClientException") => match self.describe(&current.id).await? {
                Described::Live(_) => Err(e),
                Described::Inactive | Described::Missing => Ok(()),
            },
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arns_split_into_family_and_revision() {
        let arn = "arn:aws:ecs:us-east-1:123456789012:task-definition/web-app:12";
        assert_eq!(without_revision(arn), "arn:aws:ecs:us-east-1:123456789012:task-definition/web-app");
        assert_eq!(family_of(arn), "web-app");
        assert_eq!(family_of("web:3"), "web");
    }

    #[test]
    fn empty_values_are_dropped() {
        let v = strip_empty(json!({"a": [], "b": {}, "c": null, "d": 0, "e": {"f": []}, "g": [{"h": null, "i": 1}]}));
        assert_eq!(v, json!({"d": 0, "g": [{"i": 1}]}));
    }
}
