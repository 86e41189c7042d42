//! `rds.db_instance`: a single RDS database (MySQL, MariaDB, PostgreSQL,
//! Oracle, SQL Server, Db2).
//!
//! The master password is never deployctl's: by default RDS creates and
//! rotates it in Secrets Manager (`manage_master_user_password`), and the
//! instance exposes that secret's ARN as `master_user_secret_arn`, for a
//! task definition's `secrets`. A password of the user's own comes from a
//! secret source and is held only as a [`WriteOnly`]: never in state, the
//! plan or an error.
//!
//! Create is one CreateDBInstance with the tags; the identifier is
//! recorded the moment RDS accepts it, then the wait for `available` runs
//! (minutes on AWS, with progress), so a run killed during the wait resumes
//! it instead of creating a second instance. Modifications are one
//! ModifyDBInstance with only the changed settings and `apply_immediately`;
//! the plan says which apply now and which at the maintenance window, and
//! what RDS has pending. Delete takes a final snapshot unless
//! `skip_final_snapshot`, refuses while deletion protection is on, and
//! waits until the instance is gone (its subnet group is released then).
//!
//! Reads: one DescribeDBInstances for every instance (filtered by
//! identifier), which carries the tags.

use crate::error::from_sdk;
use crate::kit::tagger::RdsTags;
use crate::kit::{attrs, model, own_tags, unless_gone, Adopt, Created, Kind, Live, Model, Tagger, Tags, WriteOnly};
use aws_sdk_rds::types::{DbInstance, Filter};
use aws_sdk_rds::Client;
use deployctl_engine::kind::{Wanted, TAG_STACK};
use deployctl_engine::{Observed, OpCtx, Poll, Props, ProviderError, ReadCtx};
use deployctl_spec::{Attr, KindSchema, Literals, RuleViolation};
use serde_json::{json, Value};

/// The engines a DB instance (not an Aurora cluster) runs.
const ENGINES: &[&str] = &[
    "mysql",
    "mariadb",
    "postgres",
    "oracle-ee",
    "oracle-ee-cdb",
    "oracle-se2",
    "oracle-se2-cdb",
    "sqlserver-ee",
    "sqlserver-se",
    "sqlserver-ex",
    "sqlserver-web",
    "db2-ae",
    "db2-se",
];

model! {
    pub struct DbInstanceModel {
        identifier: Option<String> = "The instance's identifier: lowercase letters, digits and hyphens, starting \
            with a letter. Unset: `<stack>-<address>`." [replace, unique, generated, name(1, 63, "a-z0-9-")],
        engine: String = "`mysql`, `postgres`, `mariadb`, … (Aurora runs as a cluster, which is not this kind)."
            [required, replace, one_of(ENGINES)],
        engine_version: Option<String> = "The version, e.g. `8.0.35`. A prefix (`8.0`) takes RDS's default within \
            it. A new minor version is applied in place; a new major version (`8.0` → `8.4`) replaces the instance. \
            Unset: RDS's default, not managed." [version],
        instance_class: String = "The instance class, e.g. `db.t3.micro`." [required, name(4, 64, "a-z0-9.")],
        allocated_storage: i64 = "Storage in GiB: 20 to 65,536 for MySQL, MariaDB and PostgreSQL on gp2/gp3. It \
            only grows: more live storage than asked for (storage autoscaling) is no change."
            [required, range(5, 65536), at_least],
        max_allocated_storage: Option<i64> = "With storage autoscaling, the most it may grow to, in GiB (above \
            `allocated_storage`). Unset: no autoscaling." [range(21, 65536)],
        storage_type: Option<String> = "`gp3`, `gp2` or `standard` (provisioned-IOPS `io1`/`io2` need an \
            `iops` setting this kind does not have yet). Unset: RDS's default." [one_of(&["gp2", "gp3", "standard"])],
        storage_encrypted: bool = "Whether the storage is encrypted at rest (safe default: `true`)."
            [default("true"), replace],
        kms_key_id: Option<String> = "The KMS key for the storage, as its ARN (RDS reads it back as one). Unset: \
            the `aws/rds` key." [replace],
        db_name: Option<String> = "A database to create in it (MySQL, MariaDB, PostgreSQL). Unset: none."
            [replace, name(1, 64, "A-Za-z0-9_")],
        master_username: String = "The master user's name: up to 16 characters for MySQL and MariaDB, 63 for \
            PostgreSQL." [required, replace, name(1, 128, "A-Za-z0-9_")],
        manage_master_user_password: bool = "Whether RDS creates and rotates the master password in Secrets \
            Manager (safe default: `true`); its ARN is the `master_user_secret_arn` attribute."
            [default("true")],
        master_password: Option<WriteOnly> = "A master password of your own, from a secret source, with \
            `manage_master_user_password: false`; never stored. 8 to 41 characters (MySQL)." [],
        master_user_secret_kms_key_id: Option<String> = "The KMS key of the managed master secret, as its ARN; \
            RDS takes it only when it starts managing the password. Unset: `aws/secretsmanager`." [],
        db_subnet_group_name: Option<String> = "The `rds.db_subnet_group` it is placed in. Unset: the default \
            VPC's." [replace],
        vpc_security_group_ids: Option<Vec<String>> = "Its security groups. Unset: the VPC's default group, not \
            managed." [],
        parameter_group_name: Option<String> = "An `rds.db_parameter_group`. Unset: the engine's default group, \
            not managed. A new group takes effect after a reboot." [],
        port: Option<i64> = "The port it listens on. Unset: the engine's (3306 for MySQL, 5432 for PostgreSQL)."
            [range(1150, 65535)],
        publicly_accessible: bool = "Whether it gets a public address (safe default: `false`)." [default("false")],
        multi_az: bool = "Whether RDS keeps a standby in a second zone." [default("false")],
        backup_retention_period: i64 = "Days automated backups are kept; `0` turns them off."
            [default("7"), range(0, 35)],
        preferred_backup_window: Option<String> = "The daily backup window in UTC, `hh24:mi-hh24:mi`, at least 30 \
            minutes, e.g. `03:00-04:00`. Unset: RDS picks one, not managed." [],
        preferred_maintenance_window: Option<String> = "The weekly maintenance window in UTC, \
            `ddd:hh24:mi-ddd:hh24:mi` with lowercase days (as RDS reads it back), at least 30 minutes, e.g. `sun:04:30-sun:05:30`. Unset: RDS picks one, not \
            managed." [],
        deletion_protection: bool = "Whether RDS refuses to delete it (safe default: `true`); set `false` and \
            `up` before a `destroy`." [default("true")],
        copy_tags_to_snapshot: bool = "Whether its snapshots get its tags (safe default: `true`)." [default("true")],
        auto_minor_version_upgrade: bool = "Whether RDS applies minor engine upgrades in the maintenance window."
            [default("true")],
        apply_immediately: bool = "Whether modifications RDS would otherwise hold for the maintenance window \
            (class, storage, engine version, Multi-AZ) are applied now, with the brief outage some cause."
            [default("false"), state_only],
        skip_final_snapshot: bool = "Whether destroy deletes it without a final snapshot." [default("false"), state_only],
        final_snapshot_identifier: Option<String> = "The final snapshot's identifier. Unset: \
            `<identifier>-final-<8 hex>`, new for each destroy." [state_only, name(1, 255, "a-z0-9-")],
    }
}

pub static SCHEMA: KindSchema = KindSchema {
    type_name: "rds.db_instance",
    doc: "An RDS DB instance. Its master password is never deployctl's: by default RDS keeps it in Secrets Manager \
          and the instance's `master_user_secret_arn` names the secret (a JSON object with `username` and \
          `password`), for a task definition's `secrets`. Safe defaults: storage encrypted, not publicly \
          accessible, deletion protection on, tags copied to snapshots, 7 days of backups; destroy takes a final \
          snapshot unless `skip_final_snapshot: true`. The plan says which changes apply now and which wait for \
          the maintenance window (`apply_immediately`), and what RDS has pending. Creating one takes 5 to 15 \
          minutes on AWS; a Multi-AZ one may need `timeouts: {create: 60m}`.",
    properties: <DbInstanceModel as Model>::PROPS,
    attributes: &[
        Attr { name: "id", doc: "The instance's identifier." },
        Attr { name: "identifier", doc: "The instance's identifier." },
        Attr { name: "arn", doc: "The instance's ARN." },
        Attr { name: "resource_id", doc: "The instance's resource id (`db-…`), for IAM database authentication." },
        Attr { name: "address", doc: "The endpoint's DNS name." },
        Attr { name: "port", doc: "The endpoint's port." },
        Attr { name: "endpoint", doc: "`address:port`." },
        Attr {
            name: "master_user_secret_arn",
            doc: "The ARN of the Secrets Manager secret RDS keeps the master user's `username` and `password` in \
                  (with `manage_master_user_password`). In a task definition: `${db.master_user_secret_arn}:password::`.",
        },
        Attr { name: "status", doc: "`available`, `modifying`, `backing-up`, … as last read." },
        Attr {
            name: "pending_modifications",
            doc: "What RDS holds for the maintenance window, as `{property: value}` (empty when nothing is pending).",
        },
    ],
    taggable: true,
    rules: &[password_source, identifier_rules, windows, storage],
    example: "db:\n  type: rds.db_instance\n  properties:\n    engine: mysql\n    engine_version: \"8.0.35\"\n    instance_class: db.t3.micro\n    allocated_storage: 20\n    storage_type: gp2\n    master_username: shop\n    db_subnet_group_name: ${db_subnets.name}\n    vpc_security_group_ids: [\"${db_sg.id}\"]\n    backup_retention_period: 30\n",
};

fn text<'a>(p: &'a Literals, field: &str) -> Option<&'a str> {
    p.get(field)?.as_ref()?.as_str()
}

fn flag(p: &Literals, field: &str, default: bool) -> bool {
    match p.get(field) {
        Some(Some(Value::Bool(b))) => *b,
        Some(None) => default,
        _ => default,
    }
}

fn violation(field: &'static str, message: String, hint: &str) -> Option<RuleViolation> {
    Some(RuleViolation { field, message, hint: hint.into() })
}

/// RDS refuses a password together with a managed one, and an instance
/// with neither.
fn password_source(p: &Literals) -> Option<RuleViolation> {
    let managed = flag(p, "manage_master_user_password", true);
    let own = p.contains_key("master_password");
    match (managed, own) {
        (true, true) => violation(
            "master_password",
            "a master password of your own and manage_master_user_password: true exclude each other".into(),
            "leave master_password out (RDS keeps the password in Secrets Manager), or set \
             manage_master_user_password: false",
        ),
        (false, false) => violation(
            "manage_master_user_password",
            "with manage_master_user_password: false the instance needs a master_password".into(),
            "set master_password: secretsmanager:NAME#password, or leave manage_master_user_password at true",
        ),
        _ => None,
    }
}

fn identifier_rules(p: &Literals) -> Option<RuleViolation> {
    if let Some(id) = text(p, "identifier") {
        if let Some(v) = super::identifier_shape("identifier", id) {
            return Some(v);
        }
    }
    if let Some(id) = text(p, "final_snapshot_identifier") {
        if let Some(v) = super::identifier_shape("final_snapshot_identifier", id) {
            return Some(v);
        }
    }
    for field in ["kms_key_id", "master_user_secret_kms_key_id"] {
        if let Some(key) = text(p, field).filter(|k| !k.starts_with("arn:")) {
            return violation(
                field,
                format!("{key:?}: RDS reads a key back as its ARN, so anything else differs on every diff"),
                "write the key's ARN, arn:aws:kms:REGION:ACCOUNT:key/ID",
            );
        }
    }
    let engine = text(p, "engine").unwrap_or_default();
    let limit = match engine {
        "mysql" | "mariadb" => Some(16),
        "postgres" => Some(63),
        e if e.starts_with("oracle") => Some(30),
        _ => None,
    };
    if let (Some(user), Some(limit)) = (text(p, "master_username"), limit) {
        if user.len() > limit {
            return violation(
                "master_username",
                format!("{user:?} is longer than the {limit} characters {engine} takes"),
                "choose a shorter master_username",
            );
        }
    }
    match text(p, "instance_class") {
        Some(class) if !class.starts_with("db.") || class.split('.').count() < 3 => violation(
            "instance_class",
            format!("{class:?} is not an instance class"),
            "write it as RDS names it, e.g. db.t3.micro or db.m6g.large",
        ),
        _ => None,
    }
}

/// `hh24:mi` as minutes after midnight.
fn clock(t: &str) -> Option<u32> {
    let (h, m) = t.split_once(':')?;
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    (h < 24 && m < 60 && t.len() == 5).then_some(h * 60 + m)
}

const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// `ddd:hh24:mi` as minutes after Monday midnight.
fn weekly(t: &str) -> Option<u32> {
    let (day, time) = t.split_once(':')?;
    let day = DAYS.iter().position(|d| *d == day)? as u32;
    Some(day * 24 * 60 + clock(time)?)
}

/// A window's length in minutes, wrapping around the day (or week).
fn span(start: u32, end: u32, period: u32) -> u32 {
    (end + period - start) % period
}

/// Whether the daily backup window `(a, b)` meets the weekly maintenance
/// window `(c, d)` (minutes after midnight, after Monday midnight) on any
/// day: RDS refuses windows that overlap or touch.
fn windows_meet((a, b): (u32, u32), (c, d): (u32, u32)) -> bool {
    const DAY: u32 = 24 * 60;
    const WEEK: u32 = 7 * DAY;
    let backup_len = span(a, b, DAY);
    let maintenance_len = span(c, d, WEEK);
    // Both as intervals on a two-week line, so that wrapping ones stay whole.
    (0..8).any(|day| {
        let start = day * DAY + a;
        let end = start + backup_len;
        [c, c + WEEK].iter().any(|&m| start <= m + maintenance_len && m <= end)
    })
}

fn windows(p: &Literals) -> Option<RuleViolation> {
    let backup = text(p, "preferred_backup_window")
        .and_then(|w| w.split_once('-').and_then(|(a, b)| Some((clock(a)?, clock(b)?))));
    let maintenance = text(p, "preferred_maintenance_window")
        .and_then(|w| w.split_once('-').and_then(|(a, b)| Some((weekly(a)?, weekly(b)?))));
    if let (Some(b), Some(m)) = (backup, maintenance) {
        if windows_meet(b, m) {
            return violation(
                "preferred_maintenance_window",
                format!(
                    "{:?} meets the backup window {:?}; RDS refuses windows that overlap or touch",
                    text(p, "preferred_maintenance_window").unwrap_or_default(),
                    text(p, "preferred_backup_window").unwrap_or_default()
                ),
                "move one window so there is time between them, e.g. backups 03:00-04:00 and maintenance \
                 sun:04:30-sun:05:30",
            );
        }
    }
    if let Some(w) = text(p, "preferred_backup_window") {
        let parsed = w.split_once('-').and_then(|(a, b)| Some((clock(a)?, clock(b)?)));
        match parsed {
            None => {
                return violation(
                    "preferred_backup_window",
                    format!("{w:?} is not a window hh24:mi-hh24:mi (UTC)"),
                    "write it like 03:00-04:00",
                )
            }
            Some((a, b)) if span(a, b, 24 * 60) < 30 => {
                return violation(
                    "preferred_backup_window",
                    format!("{w:?} is shorter than the 30 minutes RDS needs"),
                    "make the window at least 30 minutes long",
                )
            }
            _ => {}
        }
    }
    if let Some(w) = text(p, "preferred_maintenance_window") {
        let parsed = w.split_once('-').and_then(|(a, b)| Some((weekly(a)?, weekly(b)?)));
        match parsed {
            None => {
                return violation(
                    "preferred_maintenance_window",
                    format!("{w:?} is not a window ddd:hh24:mi-ddd:hh24:mi (UTC, lowercase days)"),
                    "write it like sun:04:30-sun:05:30",
                )
            }
            Some((a, b)) if span(a, b, 7 * 24 * 60) < 30 => {
                return violation(
                    "preferred_maintenance_window",
                    format!("{w:?} is shorter than the 30 minutes RDS needs"),
                    "make the window at least 30 minutes long",
                )
            }
            _ => {}
        }
    }
    None
}

fn storage(p: &Literals) -> Option<RuleViolation> {
    let int = |f: &str| p.get(f)?.as_ref()?.as_i64();
    let engine = text(p, "engine").unwrap_or_default();
    let ty = text(p, "storage_type").unwrap_or("gp2");
    if let Some(size) = int("allocated_storage") {
        let open_source = matches!(engine, "mysql" | "mariadb" | "postgres");
        if open_source && matches!(ty, "gp2" | "gp3") && size < 20 {
            return violation(
                "allocated_storage",
                format!("{size} GiB; {engine} on {ty} takes at least 20"),
                "set allocated_storage: 20 or more",
            );
        }
        if let Some(max) = int("max_allocated_storage") {
            if max <= size {
                return violation(
                    "max_allocated_storage",
                    format!("{max} GiB is not above allocated_storage ({size})"),
                    "raise max_allocated_storage above allocated_storage, or leave it out for no autoscaling",
                );
            }
        }
    }
    None
}

/// The modifications RDS holds for the maintenance window unless they are
/// applied immediately (the rest apply now whatever `apply_immediately`
/// says). Backup retention is held only when it turns backups on or off.
const DEFERRED: &[&str] = &["instance_class", "allocated_storage", "storage_type", "engine_version", "multi_az"];

fn pending(i: &DbInstance) -> Props {
    let mut out = Props::new();
    let Some(p) = i.pending_modified_values() else { return out };
    let mut put = |k: &str, v: Value| {
        if !v.is_null() {
            out.insert(k.to_string(), v);
        }
    };
    put("instance_class", json!(p.db_instance_class()));
    put("allocated_storage", json!(p.allocated_storage()));
    put("storage_type", json!(p.storage_type()));
    put("engine_version", json!(p.engine_version()));
    put("multi_az", json!(p.multi_az()));
    put("backup_retention_period", json!(p.backup_retention_period()));
    put("port", json!(p.port()));
    put("db_subnet_group_name", json!(p.db_subnet_group_name()));
    out
}

fn attributes(i: &DbInstance) -> Props {
    let id = i.db_instance_identifier().unwrap_or_default();
    let address = i.endpoint().and_then(|e| e.address());
    let port = i.endpoint().and_then(|e| e.port()).or(i.db_instance_port().filter(|p| *p > 0));
    let endpoint = address.zip(port).map(|(a, p)| format!("{a}:{p}"));
    attrs([
        ("id", json!(id)),
        ("identifier", json!(id)),
        ("arn", json!(i.db_instance_arn())),
        ("resource_id", json!(i.dbi_resource_id())),
        ("address", json!(address)),
        ("port", json!(port)),
        ("endpoint", json!(endpoint)),
        ("master_user_secret_arn", json!(i.master_user_secret().and_then(|s| s.secret_arn()))),
        ("status", json!(i.db_instance_status())),
        ("pending_modifications", Value::Object(pending(i))),
    ])
}

/// The instance as the spec would write it, with what RDS holds for the
/// maintenance window taken as asked for: a change already requested is
/// not planned again.
fn model_of(i: &DbInstance) -> DbInstanceModel {
    let p = i.pending_modified_values();
    let mut sgs: Vec<String> =
        i.vpc_security_groups().iter().filter_map(|g| g.vpc_security_group_id().map(str::to_string)).collect();
    sgs.sort();
    DbInstanceModel {
        identifier: i.db_instance_identifier().map(str::to_string),
        engine: i.engine().unwrap_or_default().to_string(),
        engine_version: p.and_then(|p| p.engine_version()).or(i.engine_version()).map(str::to_string),
        instance_class: p.and_then(|p| p.db_instance_class()).or(i.db_instance_class()).unwrap_or_default().to_string(),
        allocated_storage: p.and_then(|p| p.allocated_storage()).or(i.allocated_storage()).unwrap_or_default().into(),
        max_allocated_storage: i.max_allocated_storage().map(i64::from),
        storage_type: p.and_then(|p| p.storage_type()).or(i.storage_type()).map(str::to_string),
        storage_encrypted: i.storage_encrypted().unwrap_or(false),
        kms_key_id: i.kms_key_id().map(str::to_string),
        db_name: i.db_name().map(str::to_string),
        master_username: i.master_username().unwrap_or_default().to_string(),
        manage_master_user_password: i.master_user_secret().is_some(),
        master_password: None,
        master_user_secret_kms_key_id: i.master_user_secret().and_then(|s| s.kms_key_id()).map(str::to_string),
        db_subnet_group_name: i.db_subnet_group().and_then(|g| g.db_subnet_group_name()).map(str::to_string),
        vpc_security_group_ids: Some(sgs),
        parameter_group_name: i
            .db_parameter_groups()
            .first()
            .and_then(|g| g.db_parameter_group_name())
            .map(str::to_string),
        port: p.and_then(|p| p.port()).or(i.endpoint().and_then(|e| e.port())).or(i.db_instance_port()).map(i64::from),
        publicly_accessible: i.publicly_accessible().unwrap_or(false),
        multi_az: p.and_then(|p| p.multi_az()).or(i.multi_az()).unwrap_or(false),
        backup_retention_period: p
            .and_then(|p| p.backup_retention_period())
            .or(i.backup_retention_period())
            .unwrap_or_default()
            .into(),
        preferred_backup_window: i.preferred_backup_window().map(str::to_string),
        preferred_maintenance_window: i.preferred_maintenance_window().map(str::to_string),
        deletion_protection: i.deletion_protection().unwrap_or(false),
        copy_tags_to_snapshot: i.copy_tags_to_snapshot().unwrap_or(false),
        auto_minor_version_upgrade: i.auto_minor_version_upgrade().unwrap_or(false),
        apply_immediately: false,
        skip_final_snapshot: false,
        final_snapshot_identifier: None,
    }
}

fn tags_of(i: &DbInstance) -> Tags {
    own_tags(i.tag_list().iter().map(|t| (t.key().unwrap_or_default(), t.value().unwrap_or_default())))
}

fn live(i: &DbInstance) -> Live<DbInstanceModel> {
    Live {
        id: i.db_instance_identifier().unwrap_or_default().to_string(),
        model: model_of(i),
        attributes: attributes(i),
        tags: tags_of(i),
    }
}

/// Statuses an instance does not leave by waiting: the wait ends with what
/// to do.
fn stuck(status: &str) -> Option<&'static str> {
    match status {
        "failed" => Some(
            "RDS could not create or restore it; read its events: aws rds describe-events --source-type db-instance",
        ),
        "incompatible-parameters" => {
            Some("its parameter group holds values the engine refuses; fix the rds.db_parameter_group, then reboot it")
        }
        "incompatible-network" => {
            Some("its subnet group has no free addresses or a subnet is gone; fix the rds.db_subnet_group")
        }
        "incompatible-option-group" | "incompatible-restore" => {
            Some("read its events: aws rds describe-events --source-type db-instance")
        }
        "inaccessible-encryption-credentials" | "inaccessible-encryption-credentials-recoverable" => {
            Some("its KMS key is disabled or RDS may not use it; enable the key or grant RDS access")
        }
        "storage-full" => Some("raise allocated_storage (or set max_allocated_storage) and run up again"),
        _ => None,
    }
}

/// The final snapshot's identifier: the spec's, or one made from the
/// instance's and the step's client token, so a destroy repeated after a
/// crash asks for the same snapshot and a later destroy for a new one.
fn final_snapshot(identifier: &str, recorded: Option<&DbInstanceModel>, client_token: &str) -> String {
    if let Some(id) = recorded.and_then(|r| r.final_snapshot_identifier.clone()) {
        return id;
    }
    let suffix: String =
        client_token.chars().filter(char::is_ascii_alphanumeric).map(|c| c.to_ascii_lowercase()).take(8).collect();
    format!("{identifier}-final-{suffix}")
}

/// The kind (named apart from the SDK's `DbInstance` shape).
pub struct Instance {
    client: Client,
    tags: RdsTags,
}

impl Instance {
    pub fn new(client: Client) -> Instance {
        Instance { tags: RdsTags(client.clone()), client }
    }

    async fn describe(&self, ids: &[String]) -> Result<Vec<DbInstance>, ProviderError> {
        let mut out = Vec::new();
        for batch in ids.chunks(100) {
            let filter = Filter::builder().name("db-instance-id").set_values(Some(batch.to_vec())).build();
            let mut pages = self.client.describe_db_instances().filters(filter).into_paginator().send();
            while let Some(page) = pages.next().await {
                out.extend(page.map_err(from_sdk)?.db_instances.unwrap_or_default());
            }
        }
        Ok(out)
    }

    async fn one(&self, id: &str) -> Result<Option<DbInstance>, ProviderError> {
        let out = self.client.describe_db_instances().db_instance_identifier(id).send().await.map_err(from_sdk);
        Ok(unless_gone(out, crate::is_not_found)?.and_then(|o| o.db_instances.unwrap_or_default().into_iter().next()))
    }

    /// Waits until the instance is `available`, with its status as
    /// progress, and answers it then.
    async fn until_available(&self, ctx: &OpCtx, id: &str) -> Result<DbInstance, ProviderError> {
        let i = ctx
            .wait_for(&format!("DB instance {id} to be available"), || async move {
                let Some(i) = self.one(id).await? else { return Ok(Poll::Pending("not visible yet".into())) };
                let status = i.db_instance_status().unwrap_or("unknown").to_string();
                // After a storage change RDS optimizes it for hours while the
                // instance serves as usual.
                if status == "available" || status == "storage-optimization" {
                    return Ok(Poll::Ready(i));
                }
                if let Some(what) = stuck(&status) {
                    return Err(ProviderError::new(Some(status.clone()), format!("DB instance {id} is {status}"))
                        .with_hint(what));
                }
                let progress = i.percent_progress().map(|p| format!(" ({p}%)")).unwrap_or_default();
                Ok(Poll::Pending(format!("{status}{progress}")))
            })
            .await?;
        Ok(i)
    }
}

#[async_trait::async_trait]
impl Kind for Instance {
    type Model = DbInstanceModel;
    const ADOPT: Adopt = Adopt::ByTag;

    fn schema(&self) -> &'static KindSchema {
        &SCHEMA
    }

    fn tagger(&self) -> Option<&dyn Tagger> {
        Some(&self.tags)
    }

    fn notes(&self, live: &Observed, desired: &Wanted, changed: &[&str]) -> Vec<String> {
        let mut notes = Vec::new();
        let window = live
            .properties
            .get("preferred_maintenance_window")
            .and_then(Value::as_str)
            .map(|w| format!(" ({w} UTC)"))
            .unwrap_or_default();
        let now = matches!(desired.get("apply_immediately"), Some(Some(Value::Bool(true))));
        let backups_toggle = changed.contains(&"backup_retention_period") && {
            let before = live.properties.get("backup_retention_period").and_then(Value::as_i64);
            let after = desired.get("backup_retention_period").cloned().flatten().and_then(|v| v.as_i64()).unwrap_or(7);
            (before == Some(0)) != (after == 0)
        };
        let held: Vec<&str> = changed
            .iter()
            .copied()
            .filter(|c| DEFERRED.contains(c) || (*c == "backup_retention_period" && backups_toggle))
            .collect();
        let immediate: Vec<&str> =
            changed.iter().copied().filter(|c| !held.contains(c) && *c != "tags" && !c.starts_with("tags.")).collect();
        if !held.is_empty() && now {
            notes.push(format!("applies now (apply_immediately: true): {}", held.join(", ")));
        } else if !held.is_empty() {
            notes.push(format!(
                "applies at the next maintenance window{window}: {} (set apply_immediately: true to apply it now)",
                held.join(", ")
            ));
        }
        if !immediate.is_empty() {
            notes.push(format!("applies now: {}", immediate.join(", ")));
        }
        if changed.contains(&"parameter_group_name") {
            notes.push("the new parameter group takes effect when the instance next reboots".into());
        }
        if let Some(Value::Object(p)) = live.attributes.get("pending_modifications") {
            if !p.is_empty() {
                let list: Vec<String> = p
                    .iter()
                    .map(|(k, v)| format!("{k} = {}", v.as_str().map_or_else(|| v.to_string(), str::to_string)))
                    .collect();
                notes.push(format!("pending at the next maintenance window{window}: {}", list.join(", ")));
            }
        }
        notes
    }

    fn refuses_delete(&self, live: &Observed) -> Option<String> {
        crate::kit::deletion_protected(live)
    }

    async fn read(&self, _ctx: &ReadCtx, ids: &[String]) -> Result<Vec<Live<DbInstanceModel>>, ProviderError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        Ok(self.describe(ids).await?.iter().filter(|i| i.db_instance_status() != Some("deleting")).map(live).collect())
    }

    async fn find_tagged(&self, ctx: &ReadCtx) -> Result<Vec<Live<DbInstanceModel>>, ProviderError> {
        // DescribeDBInstances has no tag filter; its answer carries the tags.
        let mut out = Vec::new();
        let mut pages = self.client.describe_db_instances().into_paginator().send();
        while let Some(page) = pages.next().await {
            for i in page.map_err(from_sdk)?.db_instances() {
                if tags_of(i).get(TAG_STACK) == Some(&ctx.stack) && i.db_instance_status() != Some("deleting") {
                    out.push(live(i));
                }
            }
        }
        Ok(out)
    }

    async fn create(&self, ctx: &OpCtx, want: &DbInstanceModel) -> Result<Created, ProviderError> {
        let id = want.identifier.clone().unwrap_or_else(|| super::default_name(&ctx.stack, &ctx.name_seed(), 63));
        let secret = want.master_password.as_ref();
        let out = self
            .client
            .create_db_instance()
            .db_instance_identifier(&id)
            .engine(&want.engine)
            .set_engine_version(want.engine_version.clone())
            .db_instance_class(&want.instance_class)
            .allocated_storage(want.allocated_storage as i32)
            .set_max_allocated_storage(want.max_allocated_storage.map(|m| m as i32))
            .set_storage_type(want.storage_type.clone())
            .storage_encrypted(want.storage_encrypted)
            .set_kms_key_id(want.kms_key_id.clone())
            .set_db_name(want.db_name.clone())
            .master_username(&want.master_username)
            .set_manage_master_user_password(Some(want.manage_master_user_password))
            .set_master_user_password(secret.map(|s| s.0.clone()))
            .set_master_user_secret_kms_key_id(want.master_user_secret_kms_key_id.clone())
            .set_db_subnet_group_name(want.db_subnet_group_name.clone())
            .set_vpc_security_group_ids(want.vpc_security_group_ids.clone())
            .set_db_parameter_group_name(want.parameter_group_name.clone())
            .set_port(want.port.map(|p| p as i32))
            .publicly_accessible(want.publicly_accessible)
            .multi_az(want.multi_az)
            .backup_retention_period(want.backup_retention_period as i32)
            .set_preferred_backup_window(want.preferred_backup_window.clone())
            .set_preferred_maintenance_window(want.preferred_maintenance_window.clone())
            .deletion_protection(want.deletion_protection)
            .copy_tags_to_snapshot(want.copy_tags_to_snapshot)
            .auto_minor_version_upgrade(want.auto_minor_version_upgrade)
            .set_tags(Some(super::rds_tags(&ctx.tags)))
            .send()
            .await;
        match out.map_err(|e| WriteOnly::redact_any(secret, from_sdk(e))) {
            Ok(_) => {}
            // A create repeated after a crash: the instance is this stack's
            // if it carries this resource's tags.
            Err(e) if e.code_is("DBInstanceAlreadyExists") => {
                let existing = self.one(&id).await?;
                let ours =
                    existing.as_ref().is_some_and(|i| crate::tags::is_ours(&tags_of(i), &ctx.stack, &ctx.address));
                if !ours {
                    return Err(ProviderError::new(
                        e.code.clone(),
                        format!("a DB instance {id} already exists and is not this stack's {}", ctx.address),
                    )
                    .with_hint("set identifier to another name, or delete the existing instance"));
                }
            }
            Err(e) => return Err(e),
        }
        ctx.record_id(&id);
        let i = self.until_available(ctx, &id).await?;
        Ok(Created { id, attributes: attributes(&i) })
    }

    async fn resume(&self, ctx: &OpCtx, current: &Observed) -> Result<Observed, ProviderError> {
        let i = self.until_available(ctx, &current.id).await?;
        let live = live(&i);
        Ok(Observed { attributes: live.attributes, ..current.clone() })
    }

    async fn update(
        &self,
        ctx: &OpCtx,
        live: &Observed,
        want: &DbInstanceModel,
        changed: &[&str],
    ) -> Result<Option<Props>, ProviderError> {
        let has = |f: &str| changed.contains(&f);
        let secret = want.master_password.as_ref();
        let mut call =
            self.client.modify_db_instance().db_instance_identifier(&live.id).apply_immediately(want.apply_immediately);
        if has("engine_version") {
            call = call.set_engine_version(want.engine_version.clone());
        }
        if has("instance_class") {
            call = call.db_instance_class(&want.instance_class);
        }
        if has("allocated_storage") {
            call = call.allocated_storage(want.allocated_storage as i32);
        }
        if has("max_allocated_storage") {
            call = call.max_allocated_storage(want.max_allocated_storage.unwrap_or_default() as i32);
        }
        if has("storage_type") {
            call = call.set_storage_type(want.storage_type.clone());
        }
        if has("manage_master_user_password") {
            call = call.manage_master_user_password(want.manage_master_user_password);
        }
        if has("master_password") || (has("manage_master_user_password") && !want.manage_master_user_password) {
            call = call.set_master_user_password(secret.map(|s| s.0.clone()));
        }
        // RDS takes the secret's key only as it starts managing the password.
        let starts_managing = has("manage_master_user_password") && want.manage_master_user_password;
        if starts_managing {
            call = call.set_master_user_secret_kms_key_id(want.master_user_secret_kms_key_id.clone());
        } else if has("master_user_secret_kms_key_id") {
            return Err(ProviderError::new(
                Some("InvalidParameterCombination".into()),
                format!("{}: RDS does not move a managed master secret to another KMS key", live.id),
            )
            .with_hint(
                "rotate the secret to the new key in Secrets Manager, then set master_user_secret_kms_key_id to match",
            ));
        }
        if has("vpc_security_group_ids") {
            call = call.set_vpc_security_group_ids(want.vpc_security_group_ids.clone());
        }
        if has("parameter_group_name") {
            call = call.set_db_parameter_group_name(want.parameter_group_name.clone());
        }
        if has("port") {
            call = call.set_db_port_number(want.port.map(|p| p as i32));
        }
        if has("publicly_accessible") {
            call = call.publicly_accessible(want.publicly_accessible);
        }
        if has("multi_az") {
            call = call.multi_az(want.multi_az);
        }
        if has("backup_retention_period") {
            call = call.backup_retention_period(want.backup_retention_period as i32);
        }
        if has("preferred_backup_window") {
            call = call.set_preferred_backup_window(want.preferred_backup_window.clone());
        }
        if has("preferred_maintenance_window") {
            call = call.set_preferred_maintenance_window(want.preferred_maintenance_window.clone());
        }
        if has("deletion_protection") {
            call = call.deletion_protection(want.deletion_protection);
        }
        if has("copy_tags_to_snapshot") {
            call = call.copy_tags_to_snapshot(want.copy_tags_to_snapshot);
        }
        if has("auto_minor_version_upgrade") {
            call = call.auto_minor_version_upgrade(want.auto_minor_version_upgrade);
        }
        // State-only settings (apply_immediately, the final snapshot) are
        // recorded, never sent.
        let sent = changed.iter().any(|c| SCHEMA.property(c).is_some_and(|p| !p.state_only));
        if !sent {
            return Ok(None);
        }
        call.send().await.map_err(|e| WriteOnly::redact_any(secret, from_sdk(e)))?;
        let i = self.until_available(ctx, &live.id).await?;
        Ok(Some(attributes(&i)))
    }

    async fn delete(
        &self,
        ctx: &OpCtx,
        live: &Observed,
        recorded: Option<&DbInstanceModel>,
    ) -> Result<(), ProviderError> {
        let skip = recorded.is_some_and(|r| r.skip_final_snapshot);
        let mut call = self.client.delete_db_instance().db_instance_identifier(&live.id).skip_final_snapshot(skip);
        if !skip {
            call = call.final_db_snapshot_identifier(final_snapshot(&live.id, recorded, &ctx.client_token));
        }
        match call.send().await.map_err(from_sdk) {
            Ok(_) => {}
            Err(e) if e.code_is("InvalidParameterCombination") && e.message.to_lowercase().contains("protect") => {
                return Err(ProviderError::new(
                    e.code.clone(),
                    format!("DB instance {} has deletion protection on, so RDS refuses to delete it", live.id),
                )
                .with_hint(format!(
                    "set deletion_protection: false on {} and run up, then destroy again",
                    ctx.address
                )));
            }
            // Already being deleted (a destroy repeated after a crash).
            Err(e) if e.code_is("InvalidDBInstanceState") => {
                let status = self.one(&live.id).await?.and_then(|i| i.db_instance_status().map(str::to_string));
                if status.as_deref().is_some_and(|s| s != "deleting") {
                    return Err(e);
                }
            }
            Err(e) => return Err(e),
        }
        let id = live.id.as_str();
        ctx.wait_for(&format!("DB instance {id} to be deleted"), || async move {
            Ok(match self.one(id).await? {
                None => Poll::Ready(()),
                Some(i) => Poll::Pending(i.db_instance_status().unwrap_or("deleting").to_string()),
            })
        })
        .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::kit::literals as lit;

    #[test]
    fn a_password_of_your_own_and_a_managed_one_exclude_each_other() {
        let both = lit(json!({"master_password": "<secret>"}));
        assert!(password_source(&both).unwrap().hint.contains("manage_master_user_password: false"));
        let neither = lit(json!({"manage_master_user_password": false}));
        assert_eq!(password_source(&neither).unwrap().field, "manage_master_user_password");
        assert!(password_source(&lit(json!({}))).is_none());
        let own = lit(json!({"manage_master_user_password": false, "master_password": "<secret>"}));
        assert!(password_source(&own).is_none());
    }

    #[test]
    fn windows_are_checked_for_shape_and_length() {
        assert!(windows(&lit(json!({"preferred_backup_window": "03:00-04:00"}))).is_none());
        assert!(windows(&lit(json!({"preferred_backup_window": "23:45-00:30"}))).is_none());
        assert!(windows(&lit(json!({"preferred_backup_window": "3:00-4:00"}))).is_some());
        assert!(windows(&lit(json!({"preferred_backup_window": "03:00-03:10"}))).unwrap().message.contains("30"));
        assert!(windows(&lit(json!({"preferred_maintenance_window": "sun:04:30-sun:05:30"}))).is_none());
        assert!(windows(&lit(json!({"preferred_maintenance_window": "sun:23:30-mon:00:30"}))).is_none());
        assert!(windows(&lit(json!({"preferred_maintenance_window": "sunday:04:30-sun:05:30"}))).is_some());
        assert!(
            windows(&lit(json!({"preferred_maintenance_window": "Sun:04:30-Sun:05:30"}))).is_some(),
            "RDS reads days lowercase"
        );
        let both =
            |b: &str, m: &str| windows(&lit(json!({"preferred_backup_window": b, "preferred_maintenance_window": m})));
        assert!(both("03:00-04:00", "sun:04:00-sun:05:00").unwrap().message.contains("overlap or touch"));
        assert!(both("03:00-04:00", "wed:03:30-wed:04:30").is_some());
        assert!(both("23:30-00:30", "mon:00:00-mon:01:00").is_some(), "a backup window over midnight");
        assert!(both("23:30-00:30", "sun:23:45-mon:00:15").is_some(), "a maintenance window over the week's end");
        assert!(both("03:00-04:00", "sun:04:30-sun:05:30").is_none());
        assert!(both("03:00-04:00", "sun:01:00-sun:02:59").is_none());
    }

    #[test]
    fn storage_and_class_rules() {
        assert!(storage(&lit(json!({"engine": "mysql", "allocated_storage": 10}))).is_some());
        assert!(storage(&lit(json!({"engine": "mysql", "allocated_storage": 20}))).is_none());
        let max = lit(json!({"engine": "mysql", "allocated_storage": 100, "max_allocated_storage": 100}));
        assert!(storage(&max).unwrap().field == "max_allocated_storage");
        assert!(identifier_rules(&lit(json!({"instance_class": "t3.micro"}))).is_some());
        assert!(identifier_rules(&lit(json!({"instance_class": "db.t3.micro"}))).is_none());
        assert!(identifier_rules(&lit(json!({"instance_class": "db.r5.2xlarge.tpc2.mem4x"}))).is_none());
        assert!(identifier_rules(&lit(json!({"kms_key_id": "alias/aws/rds"}))).unwrap().message.contains("ARN"));
        let long = "u".repeat(20);
        assert!(identifier_rules(&lit(json!({"engine": "mysql", "master_username": long}))).is_some());
        assert!(identifier_rules(&lit(json!({"engine": "postgres", "master_username": long}))).is_none());
    }

    #[test]
    fn the_final_snapshot_is_the_specs_or_new_per_destroy() {
        assert_eq!(final_snapshot("shop-db", None, "AB12cd34-ef56"), "shop-db-final-ab12cd34");
        let mut m: DbInstanceModel = serde_json::from_value(json!({
            "engine": "mysql", "instance_class": "db.t3.micro", "allocated_storage": 20, "master_username": "a",
            "storage_encrypted": true, "manage_master_user_password": true, "publicly_accessible": false,
            "multi_az": false, "backup_retention_period": 7, "deletion_protection": true,
            "copy_tags_to_snapshot": true, "auto_minor_version_upgrade": true, "apply_immediately": false,
            "skip_final_snapshot": false
        }))
        .unwrap();
        m.final_snapshot_identifier = Some("last".into());
        assert_eq!(final_snapshot("shop-db", Some(&m), "x"), "last");
    }
}
