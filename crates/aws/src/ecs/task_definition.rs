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
//! RegisterTaskDefinition is not idempotent. A revision registered by a run
//! that never recorded it is found by the engine's adoption
//! (`find_existing`: the latest ACTIVE revisions of the family, tagged for
//! this stack and resource) before the plan, so create itself looks nothing
//! up. A register refused because a just-created execution role is not
//! usable yet is retried by the adapter (`kit::consistency`).
//!
//! `validate` checks every enumeration (network mode, compatibilities,
//! protocols, log drivers, ulimits, conditions, CPU architecture, OS
//! family), the health check ranges, the Fargate CPU/memory table and that
//! Fargate tasks use `awsvpc`.

use super::*;
use crate::kit::check_each;
use crate::kit::{attrs, tagger::EcsTags, Adopt, Created, Kind, Live, Model, Tagger};
use crate::tags::is_this_stacks;
use async_trait::async_trait;
use aws_sdk_ecs::types::{
    ApplicationProtocol, Compatibility, ContainerCondition, ContainerDefinition, ContainerDependency, CpuArchitecture,
    HealthCheck, HostVolumeProperties, KeyValuePair, LogConfiguration, LogDriver, MountPoint, NetworkMode, OsFamily,
    PortMapping, RuntimePlatform, Secret, SortOrder, TaskDefinition as EcsTaskDefinition, TaskDefinitionField,
    TaskDefinitionStatus, TransportProtocol, Ulimit, UlimitName, Volume,
};
use deployctl_engine::{Observed, Props, ReadCtx};
use deployctl_spec::Attr;

model! {
    pub struct PortMappingModel {
        container_port: i32 = "The port the container listens on." [required, range(0, 65535)],
        host_port: Option<i32> =
            "The host port. Leave it out under `awsvpc` (it must equal container_port) and for a dynamic port under \
             `bridge`."
            [range(0, 65535)],
        protocol: String = "`tcp` or `udp`." [default("\"tcp\""), one_of(TransportProtocol::values())],
        name: Option<String> = "A name for Service Connect.",
        app_protocol: Option<String> = "`http`, `http2` or `grpc` (Service Connect)."
            [one_of(ApplicationProtocol::values())],
    }
}

model! {
    pub struct KeyValue {
        name: String = "The variable's name." [required],
        value: String = "Its value (plain text: use `secrets` for anything sensitive)." [required],
    }
}

model! {
    pub struct SecretRef {
        name: String = "The environment variable (or log option) to set." [required],
        value_from: String =
            "The Secrets Manager secret ARN (optionally `:json-key::`) or SSM parameter ARN to read it from, usually \
             `${secret.arn}`."
            [required],
    }
}

model! {
    pub struct LogConfig {
        log_driver: String = "`awslogs`, `awsfirelens`, `splunk`, …" [required, one_of(LogDriver::values())],
        options: BTreeMap<String, String> =
            "The driver's options, e.g. `awslogs-group`, `awslogs-region`, `awslogs-stream-prefix`." [default("{}")],
        secret_options: Vec<SecretRef> = "Options read from secrets."
            [default("[]"), typed(<SecretRef as Model>::SET)],
    }
}

model! {
    pub struct HealthCheckModel {
        command: Vec<String> = "The check, e.g. `[CMD-SHELL, \"curl -f http://localhost:8080/ || exit 1\"]`."
            [required, typed(Type::List(&Type::String))],
        interval: i32 = "Seconds between checks." [default("30"), range(5, 300)],
        timeout: i32 = "Seconds a check may take." [default("5"), range(2, 120)],
        retries: i32 = "Failures before the container is unhealthy." [default("3"), range(1, 10)],
        start_period: i32 = "Seconds of grace after start before failures count."
            [default("0"), range(0, 300)],
    }
}

model! {
    pub struct DependsOn {
        container_name: String = "The container this one waits for." [required],
        condition: String = "`START`, `COMPLETE`, `SUCCESS` or `HEALTHY`."
            [required, one_of(ContainerCondition::values())],
    }
}

model! {
    pub struct UlimitModel {
        name: String = "`nofile`, `nproc`, …" [required, one_of(UlimitName::values())],
        soft_limit: i32 = "The soft limit." [required],
        hard_limit: i32 = "The hard limit." [required],
    }
}

model! {
    pub struct MountPointModel {
        source_volume: String = "The name of one of the task's `volumes`." [required],
        container_path: String = "Where it is mounted in the container." [required],
        read_only: bool = "Whether the mount is read-only." [default("false")],
    }
}

model! {
    pub struct Container {
        name: String = "The container's name." [required],
        image: String = "The image, e.g. `${repo.repository_uri}:latest` or `nginx:1.27`." [required],
        cpu: i32 = "CPU units reserved for the container (1024 = one vCPU)." [default("0")],
        memory: Option<i32> = "Hard memory limit in MiB.",
        memory_reservation: Option<i32> = "Soft memory limit in MiB.",
        essential: bool = "Whether the task stops when this container stops." [default("true")],
        port_mappings: Vec<PortMappingModel> = "Ports the container exposes." [default("[]")],
        environment: Vec<KeyValue> = "Plain environment variables."
            [default("[]"), typed(<KeyValue as Model>::SET)],
        secrets: Vec<SecretRef> = "Environment variables read from Secrets Manager or SSM."
            [default("[]"), typed(<SecretRef as Model>::SET)],
        log_configuration: Option<LogConfig> = "Where the container's output goes.",
        health_check: Option<HealthCheckModel> = "The container's health check.",
        command: Vec<String> = "Overrides the image's CMD." [default("[]"), typed(Type::List(&Type::String))],
        entry_point: Vec<String> = "Overrides the image's ENTRYPOINT."
            [default("[]"), typed(Type::List(&Type::String))],
        working_directory: Option<String> = "The working directory.",
        user: Option<String> = "The user (and group) to run as, e.g. `1000:1000`.",
        readonly_root_filesystem: bool = "Whether the root filesystem is read-only." [default("false")],
        privileged: bool = "Whether the container runs with root on the host (EC2 only: Fargate refuses it)."
            [default("false")],
        start_timeout: Option<i32> = "Seconds to wait for `depends_on` to be met.",
        stop_timeout: Option<i32> = "Seconds between SIGTERM and SIGKILL.",
        depends_on: Vec<DependsOn> = "Containers this one starts after." [default("[]")],
        ulimits: Vec<UlimitModel> = "Resource limits." [default("[]"), typed(<UlimitModel as Model>::SET)],
        docker_labels: BTreeMap<String, String> = "Docker labels." [default("{}")],
        mount_points: Vec<MountPointModel> = "Volumes mounted in the container."
            [default("[]"), typed(<MountPointModel as Model>::SET)],
    }
}

model! {
    pub struct Platform {
        cpu_architecture: String = "`X86_64` or `ARM64`." [default("\"X86_64\""), one_of(CpuArchitecture::values())],
        operating_system_family: String = "`LINUX`, `WINDOWS_SERVER_2022_CORE`, …"
            [default("\"LINUX\""), one_of(OsFamily::values())],
    }
}

model! {
    pub struct VolumeModel {
        name: String = "The volume's name, as mount_points' source_volume refers to it." [required],
        host_path: Option<String> =
            "A path on the host (EC2 only). Leave out for a task-scoped volume (on Fargate: ephemeral storage).",
    }
}

model! {
    pub struct TaskDefinitionModel {
        family: String = "The family: revisions are numbered within it." [required, replace],
        container_definitions: Vec<Container> = "The containers of the task." [required, replace],
        cpu: Option<i32> = "Task CPU units (Fargate: 256, 512, 1024, 2048, 4096, …). Sent as a string." [replace],
        memory: Option<i32> =
            "Task memory in MiB (Fargate: within the range the cpu allows). Sent as a string." [replace],
        network_mode: String = "`awsvpc` (required by Fargate), `bridge`, `host` or `none`."
            [default("\"awsvpc\""), replace, one_of(NetworkMode::values())],
        requires_compatibilities: Vec<String> = "`FARGATE`, `EC2` or `EXTERNAL`."
            [default("[\"FARGATE\"]"), replace],
        execution_role_arn: Option<String> =
            "The role ECS uses to pull the image, read `secrets` and write logs, usually `${exec_role.arn}`."
            [replace],
        task_role_arn: Option<String> = "The role the containers' code runs as." [replace],
        runtime_platform: Option<Platform> =
            "The CPU architecture and OS family (Fargate). Left out: not managed (ECS runs X86_64 Linux)." [replace],
        volumes: Option<Vec<VolumeModel>> = "Volumes the containers' mount_points can mount."
            [replace, typed(<VolumeModel as Model>::SET)],
    }
}

pub static SCHEMA: KindSchema = KindSchema {
    type_name: "ecs.task_definition",
    doc: "A revision of an ECS task definition: the containers of a task and what they need. A revision is \
          immutable, so every property forces a replacement: a content change registers a new revision; the \
          previous one is deregistered (INACTIVE), which keeps it describable and lets running tasks and rollbacks \
          use it. Services pick up the new revision through their `task_definition` (usually `${task.arn}`). \
          Task-level `cpu` and `memory` are integers here (ECS takes strings such as `\"512\"`). Nested defaults \
          are ECS's own, so what ECS fills in (`essential`, `protocol`, health check intervals) compares equal \
          when left out; leave a port mapping's `host_port` out under `awsvpc`.",
    properties: TaskDefinitionModel::PROPS,
    attributes: &[
        Attr { name: "id", doc: "The revision's ARN, `arn:aws:ecs:…:task-definition/<family>:<revision>`." },
        Attr { name: "arn", doc: "The revision's ARN (what a service's task_definition takes)." },
        Attr { name: "family", doc: "The family." },
        Attr { name: "revision", doc: "The revision number." },
        Attr { name: "arn_without_revision", doc: "The family's ARN, without `:<revision>`." },
    ],
    taggable: true,
    rules: &[fargate_size, compatibilities, fargate_awsvpc, some_container, fargate_unprivileged],
    example: "task:\n  type: ecs.task_definition\n  properties:\n    family: ${stack}-web\n    cpu: 512\n    memory: 1024\n    execution_role_arn: ${exec_role.arn}\n    container_definitions:\n      - name: web\n        image: nginx:1.27\n        port_mappings: [{container_port: 8080}]\n        environment: [{name: PORT, value: \"8080\"}]\n        secrets:\n          - {name: API_KEY, value_from: \"${api_key.arn}\"}\n        log_configuration:\n          log_driver: awslogs\n          options: {awslogs-group: /ecs/web, awslogs-region: us-east-1, awslogs-stream-prefix: ecs}\n        health_check:\n          command: [CMD-SHELL, \"curl -f http://localhost:8080/ || exit 1\"]\n          start_period: 60\n",
};

/// Whether the task is for Fargate (the default compatibility).
fn fargate(p: &Literals) -> bool {
    match p.get("requires_compatibilities") {
        None => true,
        Some(Some(Value::Array(c))) => c.iter().any(|c| c == "FARGATE"),
        Some(_) => false,
    }
}

/// Each of `requires_compatibilities` is one ECS knows.
fn compatibilities(p: &Literals) -> Option<RuleViolation> {
    check_each(p, "requires_compatibilities", Compatibility::values())
}

/// Fargate tasks use `awsvpc` (ECS refuses any other network mode).
fn fargate_awsvpc(p: &Literals) -> Option<RuleViolation> {
    let mode = p.get("network_mode")?.as_ref()?.as_str()?;
    (fargate(p) && mode != "awsvpc").then(|| RuleViolation {
        field: "network_mode",
        message: format!("a Fargate task runs in network mode awsvpc, not {mode}"),
        hint: "leave network_mode out (awsvpc), or set requires_compatibilities: [EC2]".into(),
    })
}

/// Fargate refuses a privileged container at registration.
fn fargate_unprivileged(p: &Literals) -> Option<RuleViolation> {
    let Some(Some(Value::Array(containers))) = p.get("container_definitions") else { return None };
    let name = containers.iter().find(|c| c["privileged"] == Value::Bool(true))?["name"].as_str().unwrap_or("?");
    fargate(p).then(|| RuleViolation {
        field: "container_definitions",
        message: format!("container {name} is privileged, which Fargate does not run"),
        hint: "drop privileged (grant the capability the container needs instead), or set \
               requires_compatibilities: [EC2]"
            .into(),
    })
}

/// A task has at least one container.
fn some_container(p: &Literals) -> Option<RuleViolation> {
    matches!(p.get("container_definitions"), Some(Some(Value::Array(a))) if a.is_empty()).then(|| RuleViolation {
        field: "container_definitions",
        message: "container_definitions needs at least one container".into(),
        hint: "list the task's containers, each with a name and an image".into(),
    })
}

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
fn fargate_size(p: &Literals) -> Option<RuleViolation> {
    let int = |k: &str| p.get(k).and_then(|v| v.as_ref()).and_then(Value::as_i64);
    let (Some(cpu), Some(memory)) = (int("cpu"), int("memory")) else { return None };
    if !fargate(p) {
        return None;
    }
    let violation = |message: String, hint: String| Some(RuleViolation { field: "memory", message, hint });
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
    tags: EcsTags,
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

fn attributes(td: &EcsTaskDefinition) -> Props {
    let arn = td.task_definition_arn().unwrap_or_default();
    attrs([
        ("id", json!(arn)),
        ("arn", json!(arn)),
        ("family", json!(td.family())),
        ("revision", json!(td.revision())),
        ("arn_without_revision", json!(without_revision(arn))),
    ])
}

fn secret_model(s: &Secret) -> SecretRef {
    SecretRef { name: s.name().to_string(), value_from: s.value_from().to_string() }
}

fn owned(v: Option<&str>) -> Option<String> {
    v.map(str::to_string)
}

/// A container definition in the model's shape. ECS fills in what was not
/// sent; a host port that only repeats the container port (awsvpc, host)
/// or is dynamic (0, bridge) is left out.
fn container_model(c: &ContainerDefinition, network_mode: &str) -> Container {
    let port = |p: &PortMapping| PortMappingModel {
        container_port: p.container_port().unwrap_or_default(),
        host_port: p.host_port().filter(|h| match network_mode {
            "awsvpc" | "host" => Some(*h) != p.container_port(),
            _ => *h != 0,
        }),
        protocol: p.protocol().map_or("tcp", |p| p.as_str()).to_string(),
        name: owned(p.name()),
        app_protocol: p.app_protocol().map(|a| a.as_str().to_string()),
    };
    let log = |l: &LogConfiguration| LogConfig {
        log_driver: l.log_driver().as_str().to_string(),
        options: l.options().into_iter().flatten().map(|(k, v)| (k.clone(), v.clone())).collect(),
        secret_options: l.secret_options().iter().map(secret_model).collect(),
    };
    let health = |h: &HealthCheck| HealthCheckModel {
        command: h.command().to_vec(),
        interval: h.interval().unwrap_or(30),
        timeout: h.timeout().unwrap_or(5),
        retries: h.retries().unwrap_or(3),
        start_period: h.start_period().unwrap_or(0),
    };
    let env = |e: &KeyValuePair| KeyValue {
        name: e.name().unwrap_or_default().to_string(),
        value: e.value().unwrap_or_default().to_string(),
    };
    let dep = |d: &ContainerDependency| DependsOn {
        container_name: d.container_name().to_string(),
        condition: d.condition().as_str().to_string(),
    };
    let ulimit = |u: &Ulimit| UlimitModel {
        name: u.name().as_str().to_string(),
        soft_limit: u.soft_limit(),
        hard_limit: u.hard_limit(),
    };
    let mount = |m: &MountPoint| MountPointModel {
        source_volume: m.source_volume().unwrap_or_default().to_string(),
        container_path: m.container_path().unwrap_or_default().to_string(),
        read_only: m.read_only().unwrap_or(false),
    };
    Container {
        name: c.name().unwrap_or_default().to_string(),
        image: c.image().unwrap_or_default().to_string(),
        cpu: c.cpu(),
        memory: c.memory(),
        memory_reservation: c.memory_reservation(),
        essential: c.essential().unwrap_or(true),
        port_mappings: c.port_mappings().iter().map(port).collect(),
        environment: c.environment().iter().map(env).collect(),
        secrets: c.secrets().iter().map(secret_model).collect(),
        log_configuration: c.log_configuration().map(log),
        health_check: c.health_check().map(health),
        command: c.command().to_vec(),
        entry_point: c.entry_point().to_vec(),
        working_directory: owned(c.working_directory()),
        user: owned(c.user()),
        readonly_root_filesystem: c.readonly_root_filesystem().unwrap_or(false),
        privileged: c.privileged().unwrap_or(false),
        start_timeout: c.start_timeout(),
        stop_timeout: c.stop_timeout(),
        depends_on: c.depends_on().iter().map(dep).collect(),
        ulimits: c.ulimits().iter().map(ulimit).collect(),
        docker_labels: c.docker_labels().into_iter().flatten().map(|(k, v)| (k.clone(), v.clone())).collect(),
        mount_points: c.mount_points().iter().map(mount).collect(),
    }
}

/// A revision in the model's shape.
fn live(td: &EcsTaskDefinition, tags: &[aws_sdk_ecs::types::Tag]) -> Live<TaskDefinitionModel> {
    let network_mode = td.network_mode().map_or("bridge", |n| n.as_str());
    let number = |v: Option<&str>| v.and_then(|v| v.trim().parse().ok());
    let volume = |v: &Volume| VolumeModel {
        name: v.name().unwrap_or_default().to_string(),
        host_path: owned(v.host().and_then(|h| h.source_path())),
    };
    let platform = |r: &RuntimePlatform| Platform {
        cpu_architecture: r.cpu_architecture().map_or("X86_64", |c| c.as_str()).to_string(),
        operating_system_family: r.operating_system_family().map_or("LINUX", |o| o.as_str()).to_string(),
    };
    Live {
        id: td.task_definition_arn().unwrap_or_default().to_string(),
        model: TaskDefinitionModel {
            family: td.family().unwrap_or_default().to_string(),
            container_definitions: td
                .container_definitions()
                .iter()
                .map(|c| container_model(c, network_mode))
                .collect(),
            cpu: number(td.cpu()),
            memory: number(td.memory()),
            network_mode: network_mode.to_string(),
            requires_compatibilities: td.requires_compatibilities().iter().map(|c| c.as_str().to_string()).collect(),
            execution_role_arn: owned(td.execution_role_arn()),
            task_role_arn: owned(td.task_role_arn()),
            runtime_platform: td.runtime_platform().map(platform),
            volumes: Some(td.volumes().iter().map(volume).collect()),
        },
        tags: tag_map(tags),
        attributes: attributes(td),
    }
}

fn secret(s: &SecretRef, what: &str) -> Result<Secret, ProviderError> {
    Secret::builder().name(&s.name).value_from(&s.value_from).build().map_err(|e| invalid(what, e))
}

fn nonempty<T>(v: Vec<T>) -> Option<Vec<T>> {
    (!v.is_empty()).then_some(v)
}

/// One container as ECS takes it.
fn container(c: &Container, index: usize) -> Result<ContainerDefinition, ProviderError> {
    let at = |f: &str| format!("container_definitions[{index}].{f}");
    let port = |p: &PortMappingModel| {
        let b = PortMapping::builder().container_port(p.container_port).set_host_port(p.host_port);
        let b = b.protocol(TransportProtocol::from(p.protocol.as_str())).set_name(p.name.clone());
        b.set_app_protocol(p.app_protocol.as_deref().map(ApplicationProtocol::from)).build()
    };
    let env = |e: &KeyValue| KeyValuePair::builder().name(&e.name).value(&e.value).build();
    let dep = |d: &DependsOn| {
        let b = ContainerDependency::builder().container_name(&d.container_name);
        b.condition(ContainerCondition::from(d.condition.as_str())).build().map_err(|e| invalid(&at("depends_on"), e))
    };
    let ulimit = |u: &UlimitModel| {
        let b = Ulimit::builder().name(UlimitName::from(u.name.as_str())).soft_limit(u.soft_limit);
        b.hard_limit(u.hard_limit).build().map_err(|e| invalid(&at("ulimits"), e))
    };
    let mount = |m: &MountPointModel| {
        let b = MountPoint::builder().source_volume(&m.source_volume).container_path(&m.container_path);
        b.read_only(m.read_only).build()
    };
    let log = |l: &LogConfig| {
        let options = (!l.options.is_empty()).then(|| l.options.clone().into_iter().collect());
        let secrets = l.secret_options.iter().map(|s| secret(s, &at("log_configuration.secret_options")));
        LogConfiguration::builder()
            .log_driver(LogDriver::from(l.log_driver.as_str()))
            .set_options(options)
            .set_secret_options(nonempty(secrets.collect::<Result<_, _>>()?))
            .build()
            .map_err(|e| invalid(&at("log_configuration"), e))
    };
    let health = |h: &HealthCheckModel| {
        let b = HealthCheck::builder().set_command(Some(h.command.clone())).interval(h.interval).timeout(h.timeout);
        b.retries(h.retries).start_period(h.start_period).build().map_err(|e| invalid(&at("health_check"), e))
    };
    let secrets = c.secrets.iter().map(|s| secret(s, &at("secrets"))).collect::<Result<_, _>>()?;
    Ok(ContainerDefinition::builder()
        .name(&c.name)
        .image(&c.image)
        .cpu(c.cpu)
        .set_memory(c.memory)
        .set_memory_reservation(c.memory_reservation)
        .essential(c.essential)
        .set_port_mappings(Some(c.port_mappings.iter().map(port).collect()))
        .set_environment(Some(c.environment.iter().map(env).collect()))
        .set_secrets(Some(secrets))
        .set_log_configuration(c.log_configuration.as_ref().map(log).transpose()?)
        .set_health_check(c.health_check.as_ref().map(health).transpose()?)
        .set_command(nonempty(c.command.clone()))
        .set_entry_point(nonempty(c.entry_point.clone()))
        .set_working_directory(c.working_directory.clone())
        .set_user(c.user.clone())
        .readonly_root_filesystem(c.readonly_root_filesystem)
        .set_privileged(c.privileged.then_some(true))
        .set_start_timeout(c.start_timeout)
        .set_stop_timeout(c.stop_timeout)
        .set_depends_on(Some(c.depends_on.iter().map(dep).collect::<Result<_, _>>()?))
        .set_ulimits(Some(c.ulimits.iter().map(ulimit).collect::<Result<_, _>>()?))
        .set_docker_labels((!c.docker_labels.is_empty()).then(|| c.docker_labels.clone().into_iter().collect()))
        .set_mount_points(Some(c.mount_points.iter().map(mount).collect()))
        .build())
}

/// DescribeTaskDefinition's answer for a revision that does not exist
/// (`ClientException: Unable to describe task definition.`).
fn is_unknown_revision(e: &ProviderError) -> bool {
    let m = e.message.to_lowercase();
    e.code_is("ClientException") && (m.contains("unable to describe task definition") || m.contains("does not exist"))
}

impl TaskDefinition {
    pub fn new(client: Client) -> TaskDefinition {
        TaskDefinition { tags: EcsTags(client.clone()), client }
    }

    /// The revision, ACTIVE or not, with its tags; `None` when ECS does not
    /// know it.
    async fn describe(&self, arn: &str) -> Result<Option<Live<TaskDefinitionModel>>, ProviderError> {
        let call = self.client.describe_task_definition().task_definition(arn);
        let out = match call.include(TaskDefinitionField::Tags).send().await.map_err(from_sdk) {
            Ok(out) => out,
            Err(e) if is_gone(&e) || is_unknown_revision(&e) => return Ok(None),
            Err(e) => return Err(e),
        };
        let active = out.task_definition().filter(|td| td.status() == Some(&TaskDefinitionStatus::Active));
        Ok(active.map(|td| live(td, out.tags())))
    }

    /// The latest ACTIVE revisions of `family` (newest first, at most `n`).
    async fn latest(&self, family: &str, n: i32) -> Result<Vec<String>, ProviderError> {
        let call = self.client.list_task_definitions().family_prefix(family).status(TaskDefinitionStatus::Active);
        let out = call.sort(SortOrder::Desc).max_results(n).send().await.map_err(from_sdk)?;
        // familyPrefix is a prefix: keep the family itself only.
        Ok(out.task_definition_arns().iter().filter(|a| family_of(a) == family).take(n as usize).cloned().collect())
    }

    /// The newest ACTIVE revision of `family` tagged for this stack and
    /// `address`, among the last few.
    async fn find_mine(&self, family: &str, stack: &str, address: &str) -> Result<Option<Observed>, ProviderError> {
        for arn in self.latest(family, 5).await? {
            if let Some(l) = self.describe(&arn).await?.filter(|l| is_this_stacks(&l.tags, stack, address)) {
                return Ok(Some(l.observed()));
            }
        }
        Ok(None)
    }
}

#[async_trait]
impl Kind for TaskDefinition {
    type Model = TaskDefinitionModel;
    /// ECS cannot list task definitions by tag: revisions are looked up by
    /// family.
    const ADOPT: Adopt = Adopt::Custom;

    fn schema(&self) -> &'static KindSchema {
        &SCHEMA
    }

    fn tagger(&self) -> Option<&dyn Tagger> {
        Some(&self.tags)
    }

    async fn read(&self, _ctx: &ReadCtx, ids: &[String]) -> Result<Vec<Live<TaskDefinitionModel>>, ProviderError> {
        crate::read_each(ids.iter().map(|id| async move {
            // The id as recorded (ECS answers with the full ARN).
            Ok(self.describe(id).await?.map(|l| Live { id: id.clone(), ..l }))
        }))
        .await
    }

    async fn find_existing(
        &self,
        ctx: &ReadCtx,
        wanted: &[(String, Props)],
    ) -> Result<Vec<(String, Observed)>, ProviderError> {
        let finds = wanted.iter().filter_map(|(address, props)| {
            let family = props.get("family")?.as_str()?;
            Some(async move { Ok(self.find_mine(family, &ctx.stack, address).await?.map(|o| (address.clone(), o))) })
        });
        crate::read_each(finds).await
    }

    async fn create(&self, ctx: &OpCtx, want: &TaskDefinitionModel) -> Result<Created, ProviderError> {
        let containers = want.container_definitions.iter().enumerate().map(|(i, c)| container(c, i));
        let runtime = want.runtime_platform.as_ref().map(|r| {
            RuntimePlatform::builder()
                .cpu_architecture(CpuArchitecture::from(r.cpu_architecture.as_str()))
                .operating_system_family(OsFamily::from(r.operating_system_family.as_str()))
                .build()
        });
        let volume = |v: &VolumeModel| {
            let host = v.host_path.as_ref().map(|p| HostVolumeProperties::builder().source_path(p).build());
            Volume::builder().name(&v.name).set_host(host).build()
        };
        let compat = want.requires_compatibilities.iter().map(|c| Compatibility::from(c.as_str()));
        let request = self
            .client
            .register_task_definition()
            .family(&want.family)
            .set_container_definitions(Some(containers.collect::<Result<_, _>>()?))
            .set_cpu(want.cpu.map(|v| v.to_string()))
            .set_memory(want.memory.map(|v| v.to_string()))
            .network_mode(NetworkMode::from(want.network_mode.as_str()))
            .set_requires_compatibilities(Some(compat.collect()))
            .set_execution_role_arn(want.execution_role_arn.clone())
            .set_task_role_arn(want.task_role_arn.clone())
            .set_runtime_platform(runtime)
            .set_volumes(nonempty(want.volumes.iter().flatten().map(volume).collect()))
            .set_tags(Some(tags_of(&ctx.tags)));
        let out = request.send().await.map_err(from_sdk)?;
        let td = out.task_definition().ok_or_else(|| {
            ProviderError::msg(format!("RegisterTaskDefinition for {} returned no task definition", want.family))
        })?;
        let arn = td.task_definition_arn().unwrap_or_default().to_string();
        ctx.record_id(&arn);
        Ok(Created { id: arn, attributes: attributes(td) })
    }

    /// Deregisters the revision: it turns INACTIVE, stays describable, and
    /// tasks (and services, until updated) that run it keep running.
    async fn delete(
        &self,
        _ctx: &OpCtx,
        live: &Observed,
        _: Option<&TaskDefinitionModel>,
    ) -> Result<(), ProviderError> {
        let call = self.client.deregister_task_definition().task_definition(&live.id);
        match call.send().await.map_err(from_sdk) {
            // Already deregistered (or deleted)? Then there is nothing to do.
            Err(e) if e.code_is("ClientException") && self.describe(&live.id).await?.is_none() => Ok(()),
            other => other.map(|_| ()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_privileged_container_is_refused_on_fargate_and_allowed_on_ec2() {
        let lit = |v: Value| -> Literals {
            v.as_object().unwrap().iter().map(|(k, v)| (k.clone(), Some(v.clone()))).collect()
        };
        let containers = serde_json::json!([{"name": "agent", "image": "a", "privileged": true}]);
        let on_fargate = lit(serde_json::json!({"container_definitions": containers}));
        let v = fargate_unprivileged(&on_fargate).unwrap();
        assert!(v.message.contains("agent is privileged"), "{v:?}");
        let on_ec2 = lit(serde_json::json!({"container_definitions": containers, "requires_compatibilities": ["EC2"]}));
        assert!(fargate_unprivileged(&on_ec2).is_none());
    }

    #[test]
    fn arns_split_into_family_and_revision() {
        let arn = "arn:aws:ecs:us-east-1:123456789012:task-definition/web-app:12";
        assert_eq!(without_revision(arn), "arn:aws:ecs:us-east-1:123456789012:task-definition/web-app");
        assert_eq!(family_of(arn), "web-app");
        assert_eq!(family_of("web:3"), "web");
    }
}
