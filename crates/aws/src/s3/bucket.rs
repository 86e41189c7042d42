//! `s3.bucket`: an S3 general purpose bucket with its versioning, default
//! encryption, public access block, lifecycle rules, bucket policy, CORS
//! rules and tags.
//!
//! The id is the bucket name. S3 has no batched describe: each bucket is
//! read on its own (all of them concurrently), with HeadBucket for
//! existence and region, then, concurrently, one Get… per setting. A
//! setting AWS has no configuration for answers with its own NoSuch… code,
//! read as the setting's empty value: no lifecycle rules, no policy, no CORS
//! rules, no tags, no public access block (nothing blocked), and default
//! encryption (AWS encrypts every bucket with SSE-S3 `AES256` when nothing
//! else is configured).
//!
//! Buckets cannot be listed by tag, and their name is their natural key:
//! adoption looks each candidate up by its name and adopts it only if it
//! carries this stack's and this resource's tags. Create checks first that
//! the name is free (in us-east-1 CreateBucket answers 200 for a bucket the
//! caller already owns, and resets its ACLs).
//!
//! `force_destroy`: deleting a bucket that still holds objects fails unless
//! it is set. Delete only sees the bucket as last read, so the setting is
//! kept on the bucket as the tag `deployctl:force-destroy = true` (like
//! `ecr.repository`'s `force_delete`); with it, delete removes every object
//! version and delete marker first.

use crate::elbv2::want;
use crate::error::from_sdk;
use crate::tags::{is_ours, is_this_stacks};
use async_trait::async_trait;
use aws_sdk_s3::error::SdkError;
use aws_sdk_s3::types::{
    AbortIncompleteMultipartUpload, BucketLifecycleConfiguration, BucketLocationConstraint, BucketVersioningStatus,
    CorsConfiguration, CorsRule, CreateBucketConfiguration, Delete, ExpirationStatus, LifecycleExpiration,
    LifecycleRule, LifecycleRuleFilter, NoncurrentVersionExpiration, ObjectIdentifier, PublicAccessBlockConfiguration,
    ServerSideEncryption, ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration, ServerSideEncryptionRule,
    Tag, Tagging, VersioningConfiguration,
};
use aws_sdk_s3::Client;
use deployctl_engine::diff::normalize;
use deployctl_engine::kind::{TAG_RESOURCE, TAG_STACK};
use deployctl_engine::{Observed, OpCtx, Props, ProviderError, ReadCtx, ResourceKind};
use deployctl_spec::{Attr, KindSchema, Prop, Type};
use futures::future::join_all;
use futures::StreamExt;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::time::Instant;

/// The tag that carries `force_destroy` to the delete step.
pub const TAG_FORCE_DESTROY: &str = "deployctl:force-destroy";

/// How many buckets `find_tagged` asks about at once.
const CONCURRENCY: usize = 8;

/// The most keys one DeleteObjects takes.
const DELETE_CHUNK: i32 = 1000;

const NO_BUCKET: &str = "NoSuchBucket";

static SSE: [Prop; 3] = [
    Prop::new("sse_algorithm", Type::String, "`AES256` (SSE-S3), `aws:kms` (SSE-KMS) or `aws:kms:dsse`.")
        .default("\"AES256\"")
        .one_of(aws_sdk_s3::types::ServerSideEncryption::values()),
    Prop::new(
        "kms_master_key_id",
        Type::String,
        "The KMS key (id, ARN or alias) of `aws:kms`; unset: the AWS managed key `aws/s3`.",
    ),
    Prop::new("bucket_key_enabled", Type::Bool, "Whether SSE-KMS uses an S3 Bucket Key (fewer KMS calls, lower cost).")
        .default("false"),
];

static PUBLIC_ACCESS_BLOCK: [Prop; 4] = [
    Prop::new("block_public_acls", Type::Bool, "Reject requests that set public ACLs.").default("true"),
    Prop::new("ignore_public_acls", Type::Bool, "Ignore public ACLs on the bucket and its objects.").default("true"),
    Prop::new("block_public_policy", Type::Bool, "Reject bucket policies that grant public access.").default("true"),
    Prop::new(
        "restrict_public_buckets",
        Type::Bool,
        "Only AWS services and this account may use the bucket while its policy is public.",
    )
    .default("true"),
];

static LIFECYCLE_RULE: [Prop; 6] = [
    Prop::new("id", Type::String, "The rule's unique name.").required(),
    Prop::new("enabled", Type::Bool, "Whether the rule is applied.").default("true"),
    Prop::new("prefix", Type::String, "Only objects whose keys start with this; unset: every object."),
    Prop::new("expiration_days", Type::Int, "Days after creation when the current version of an object expires."),
    Prop::new(
        "noncurrent_version_expiration_days",
        Type::Int,
        "Days after becoming noncurrent when an old version is deleted (versioned buckets).",
    ),
    Prop::new(
        "abort_incomplete_multipart_upload_days",
        Type::Int,
        "Days after initiation when an unfinished multipart upload is aborted.",
    ),
];

static CORS_RULE: [Prop; 5] = [
    Prop::new("allowed_origins", Type::Set(&Type::String), "Origins allowed, e.g. `https://shop.example.com` or `*`.")
        .required(),
    Prop::new("allowed_methods", Type::Set(&Type::String), "`GET`, `PUT`, `POST`, `DELETE` and/or `HEAD`.").required(),
    Prop::new("allowed_headers", Type::Set(&Type::String), "Headers a preflight request may ask for (`*` for any)."),
    Prop::new("expose_headers", Type::Set(&Type::String), "Response headers the browser may read, e.g. `ETag`."),
    Prop::new("max_age_seconds", Type::Int, "How long a browser may cache the preflight answer."),
];

pub static SCHEMA: KindSchema = KindSchema {
    type_name: "s3.bucket",
    doc: "An S3 bucket. Every setting is changed in place except the name. A bucket that still holds objects is \
          deleted only with `force_destroy: true` (applied before the delete: the setting is kept on the bucket as \
          the tag `deployctl:force-destroy`); it then deletes every object version first. For ALB access logs, \
          the bucket policy must let the region's ELB account (or `logdelivery.elasticloadbalancing.amazonaws.com`) \
          `s3:PutObject` under the log prefix.",
    properties: &[
        Prop::new(
            "bucket",
            Type::String,
            "The bucket name, globally unique: 3–63 lowercase letters, digits, `-` and `.`.",
        )
        .required()
        .replace().unique(),
        Prop::new(
            "versioning",
            Type::Bool,
            "Whether objects keep their earlier versions (`Enabled`); turning it off suspends versioning \
             (`Suspended`), which keeps the versions already there.",
        )
        .default("false"),
        Prop::new(
            "server_side_encryption",
            Type::Object(&SSE),
            "Default encryption of new objects (PutBucketEncryption). Unset: SSE-S3 (`AES256`), what AWS applies to \
             every bucket.",
        )
        .default("{\"sse_algorithm\": \"AES256\", \"bucket_key_enabled\": false}"),
        Prop::new(
            "public_access_block",
            Type::Object(&PUBLIC_ACCESS_BLOCK),
            "The bucket's public access block. Unset: all four blocks on, AWS's default for new buckets.",
        )
        .default(
            "{\"block_public_acls\": true, \"ignore_public_acls\": true, \"block_public_policy\": true, \
             \"restrict_public_buckets\": true}",
        ),
        Prop::new(
            "lifecycle_rules",
            Type::List(&Type::Object(&LIFECYCLE_RULE)),
            "Lifecycle rules (PutBucketLifecycleConfiguration); `[]` removes them all. Unset: not managed.",
        ),
        Prop::new(
            "policy",
            Type::Document,
            "The bucket policy, written as YAML; `{}` removes it. Unset: not managed.",
        ),
        Prop::new(
            "cors_rules",
            Type::List(&Type::Object(&CORS_RULE)),
            "CORS rules for browsers (PutBucketCors); `[]` removes them. Unset: not managed.",
        ),
        Prop::new(
            "force_destroy",
            Type::Bool,
            "Whether deleting the bucket deletes every object (and every version) in it; without it, deleting a \
             bucket that holds objects fails.",
        )
        .default("false"),
    ],
    attributes: &[
        Attr { name: "id", doc: "The bucket name." },
        Attr { name: "name", doc: "The bucket name." },
        Attr { name: "arn", doc: "`arn:aws:s3:::<name>`, for policies (`${bucket.arn}/*` for its objects)." },
        Attr { name: "bucket_domain_name", doc: "`<name>.s3.amazonaws.com`." },
        Attr { name: "bucket_regional_domain_name", doc: "`<name>.s3.<region>.amazonaws.com`." },
        Attr { name: "region", doc: "The bucket's region." },
    ],
    taggable: true,
    rules: &[],
    example: "artifacts:\n  type: s3.bucket\n  properties:\n    bucket: shop-pipeline-artifacts-123456789012\n    \
              versioning: true\n    lifecycle_rules:\n      - {id: expire-old, expiration_days: 90, \
              noncurrent_version_expiration_days: 30}\n    policy:\n      Version: \"2012-10-17\"\n      \
              Statement:\n        - Sid: TLSOnly\n          Effect: Deny\n          Principal: \"*\"\n          \
              Action: \"s3:*\"\n          Resource:\n            - arn:aws:s3:::shop-pipeline-artifacts-123456789012\n            \
              - arn:aws:s3:::shop-pipeline-artifacts-123456789012/*\n          \
              Condition: {Bool: {\"aws:SecureTransport\": \"false\"}}\n",
};

pub struct Bucket {
    client: Client,
}

/// What HeadBucket says about a name.
enum Head {
    /// Ours (this account's), in this region.
    Found(String),
    /// No such bucket.
    Missing,
    /// It exists, and belongs to another account.
    Forbidden,
}

/// A property as the spec asks it, its nested defaults filled.
fn want_norm(desired: &Props, name: &str) -> Option<Value> {
    let p = SCHEMA.property(name)?;
    want(&SCHEMA, desired, name).map(|v| normalize(&p.ty, &v))
}

fn field<'a>(v: &'a Value, name: &str) -> Option<&'a Value> {
    v.get(name).filter(|v| !v.is_null())
}

fn field_str(v: &Value, name: &str) -> Option<String> {
    field(v, name).map(|v| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    })
}

fn field_i32(v: &Value, name: &str) -> Option<i32> {
    field(v, name).and_then(|v| match v {
        Value::Number(n) => n.as_i64().map(|n| n as i32),
        Value::String(s) => s.parse().ok(),
        _ => None,
    })
}

fn field_bool(v: &Value, name: &str) -> Option<bool> {
    field(v, name).and_then(|v| match v {
        Value::Bool(b) => Some(*b),
        Value::String(s) => s.parse().ok(),
        _ => None,
    })
}

fn field_strings(v: &Value, name: &str) -> Option<Vec<String>> {
    field(v, name).and_then(Value::as_array).map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
}

fn force_destroy(desired: &Props) -> bool {
    want(&SCHEMA, desired, "force_destroy").and_then(|v| v.as_bool()).unwrap_or(false)
}

/// The tags the bucket should carry: the step's, plus the force-destroy
/// marker when asked.
fn wanted_tags(ctx: &OpCtx, desired: &Props) -> BTreeMap<String, String> {
    let mut tags = ctx.tags.clone();
    if force_destroy(desired) {
        tags.insert(TAG_FORCE_DESTROY.into(), "true".into());
    }
    tags
}

fn s3_tags(tags: &BTreeMap<String, String>) -> Result<Vec<Tag>, ProviderError> {
    tags.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build().map_err(|e| ProviderError::msg(e.to_string())))
        .collect()
}

fn build_err(e: impl std::fmt::Display) -> ProviderError {
    ProviderError::msg(e.to_string())
}

/// The HTTP status of a failed call, when AWS answered.
fn status_of<E>(e: &SdkError<E, aws_smithy_runtime_api::client::orchestrator::HttpResponse>) -> Option<u16> {
    e.raw_response().map(|r| r.status().as_u16())
}

/// A missing configuration (`NoSuchCORSConfiguration`…) reads as `None`.
fn absent_if<T>(r: Result<T, ProviderError>, codes: &[&str]) -> Result<Option<T>, ProviderError> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) if codes.iter().any(|c| e.code_is(c)) => Ok(None),
        Err(e) => Err(e),
    }
}

fn lifecycle_rule(rule: &Value) -> Result<LifecycleRule, ProviderError> {
    let id = field_str(rule, "id").ok_or_else(|| ProviderError::msg("a lifecycle rule needs an id"))?;
    let enabled = field_bool(rule, "enabled").unwrap_or(true);
    LifecycleRule::builder()
        .id(id)
        .status(if enabled { ExpirationStatus::Enabled } else { ExpirationStatus::Disabled })
        .filter(LifecycleRuleFilter::builder().prefix(field_str(rule, "prefix").unwrap_or_default()).build())
        .set_expiration(field_i32(rule, "expiration_days").map(|d| LifecycleExpiration::builder().days(d).build()))
        .set_noncurrent_version_expiration(
            field_i32(rule, "noncurrent_version_expiration_days")
                .map(|d| NoncurrentVersionExpiration::builder().noncurrent_days(d).build()),
        )
        .set_abort_incomplete_multipart_upload(
            field_i32(rule, "abort_incomplete_multipart_upload_days")
                .map(|d| AbortIncompleteMultipartUpload::builder().days_after_initiation(d).build()),
        )
        .build()
        .map_err(build_err)
}

fn cors_rule(rule: &Value) -> Result<CorsRule, ProviderError> {
    let non_empty = |v: Option<Vec<String>>| v.filter(|v| !v.is_empty());
    CorsRule::builder()
        .set_allowed_origins(field_strings(rule, "allowed_origins"))
        .set_allowed_methods(field_strings(rule, "allowed_methods"))
        .set_allowed_headers(non_empty(field_strings(rule, "allowed_headers")))
        .set_expose_headers(non_empty(field_strings(rule, "expose_headers")))
        .set_max_age_seconds(field_i32(rule, "max_age_seconds"))
        .build()
        .map_err(build_err)
}

/// A lifecycle rule in the spec's shape.
fn rule_props(r: &LifecycleRule) -> Value {
    let mut m = Map::new();
    m.insert("id".into(), json!(r.id().unwrap_or_default()));
    m.insert("enabled".into(), json!(r.status() == &ExpirationStatus::Enabled));
    #[allow(deprecated)]
    let prefix = r
        .filter()
        .and_then(|f| f.prefix().or_else(|| f.and().and_then(|a| a.prefix())))
        .or_else(|| r.prefix())
        .filter(|p| !p.is_empty());
    if let Some(p) = prefix {
        m.insert("prefix".into(), json!(p));
    }
    if let Some(d) = r.expiration().and_then(|e| e.days()) {
        m.insert("expiration_days".into(), json!(d));
    }
    if let Some(d) = r.noncurrent_version_expiration().and_then(|e| e.noncurrent_days()) {
        m.insert("noncurrent_version_expiration_days".into(), json!(d));
    }
    if let Some(d) = r.abort_incomplete_multipart_upload().and_then(|a| a.days_after_initiation()) {
        m.insert("abort_incomplete_multipart_upload_days".into(), json!(d));
    }
    Value::Object(m)
}

/// A CORS rule in the spec's shape (empty lists left out, as unset).
fn cors_props(r: &CorsRule) -> Value {
    let mut m = Map::new();
    m.insert("allowed_origins".into(), json!(r.allowed_origins()));
    m.insert("allowed_methods".into(), json!(r.allowed_methods()));
    if !r.allowed_headers().is_empty() {
        m.insert("allowed_headers".into(), json!(r.allowed_headers()));
    }
    if !r.expose_headers().is_empty() {
        m.insert("expose_headers".into(), json!(r.expose_headers()));
    }
    if let Some(s) = r.max_age_seconds() {
        m.insert("max_age_seconds".into(), json!(s));
    }
    Value::Object(m)
}

/// The tags as they are on the bucket, the force-destroy marker included.
fn live_tags(current: &Observed) -> BTreeMap<String, String> {
    let mut tags = current.tags.clone();
    if current.properties.get("force_destroy").and_then(Value::as_bool) == Some(true) {
        tags.insert(TAG_FORCE_DESTROY.into(), "true".into());
    }
    tags
}

impl Bucket {
    pub fn new(client: Client) -> Bucket {
        Bucket { client }
    }

    /// The region the client talks to (buckets of the stack live there).
    fn region(&self) -> String {
        self.client.config().region().map(|r| r.to_string()).unwrap_or_else(|| "us-east-1".into())
    }

    async fn head(&self, name: &str) -> Result<Head, ProviderError> {
        match self.client.head_bucket().bucket(name).send().await {
            Ok(out) => Ok(Head::Found(out.bucket_region().map(str::to_string).unwrap_or_else(|| self.region()))),
            Err(e) => match status_of(&e) {
                Some(404) => Ok(Head::Missing),
                Some(403) => Ok(Head::Forbidden),
                // A bucket in another region answers 301 (or 400) with its
                // region in a header.
                Some(301 | 400)
                    if e.raw_response().is_some_and(|r| r.headers().contains_key("x-amz-bucket-region")) =>
                {
                    let region = e.raw_response().and_then(|r| r.headers().get("x-amz-bucket-region"));
                    Ok(Head::Found(region.unwrap_or_default().to_string()))
                }
                _ => {
                    let e = from_sdk(e);
                    if e.code_is("NotFound") || e.code_is(NO_BUCKET) {
                        Ok(Head::Missing)
                    } else {
                        Err(e)
                    }
                }
            },
        }
    }

    /// The tags of a bucket (`None`: it is gone), AWS's own left out.
    async fn tags(&self, name: &str) -> Result<Option<BTreeMap<String, String>>, ProviderError> {
        let r = self.client.get_bucket_tagging().bucket(name).send().await.map_err(from_sdk);
        match absent_if(r, &["NoSuchTagSet"]) {
            Ok(out) => Ok(Some(
                out.map(|o| {
                    o.tag_set()
                        .iter()
                        .map(|t| (t.key().to_string(), t.value().to_string()))
                        .filter(|(k, _)| !k.starts_with("aws:"))
                        .collect()
                })
                .unwrap_or_default(),
            )),
            Err(e) if e.code_is(NO_BUCKET) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Every setting of one bucket; `None` when there is no such bucket.
    async fn read_bucket(&self, name: &str) -> Result<Option<Observed>, ProviderError> {
        let region = match self.head(name).await? {
            Head::Found(r) => r,
            Head::Missing => return Ok(None),
            Head::Forbidden => {
                return Err(ProviderError::new(
                    Some("AccessDenied".into()),
                    format!("bucket {name} exists but cannot be read with these credentials"),
                )
                .with_hint("another account owns it, or the caller lacks s3:ListBucket on it"))
            }
        };
        if region != self.region() {
            return Err(ProviderError::msg(format!(
                "bucket {name} is in {region}, not in the stack's region {}",
                self.region()
            ))
            .with_hint("a stack manages the buckets of its own region; pick another bucket name"));
        }
        let c = &self.client;
        let versioning = async {
            match c.get_bucket_versioning().bucket(name).send().await {
                Ok(v) => Ok(v.status() == Some(&BucketVersioningStatus::Enabled)),
                // An answer of 200 that does not parse: moto names its root
                // `GetBucketVersioningResponse`, not `VersioningConfiguration`.
                // Its `Status` element says it all.
                Err(e) if status_of(&e) == Some(200) => {
                    let body = e.raw_response().and_then(|r| r.body().bytes()).unwrap_or_default();
                    Ok(String::from_utf8_lossy(body).contains("<Status>Enabled</Status>"))
                }
                Err(e) => Err(from_sdk(e)),
            }
        };
        let encryption = async {
            absent_if(
                c.get_bucket_encryption().bucket(name).send().await.map_err(from_sdk),
                &["ServerSideEncryptionConfigurationNotFoundError"],
            )
        };
        let pab = async {
            absent_if(
                c.get_public_access_block().bucket(name).send().await.map_err(from_sdk),
                &["NoSuchPublicAccessBlockConfiguration"],
            )
        };
        let lifecycle = async {
            absent_if(
                c.get_bucket_lifecycle_configuration().bucket(name).send().await.map_err(from_sdk),
                &["NoSuchLifecycleConfiguration"],
            )
        };
        let policy = async {
            absent_if(c.get_bucket_policy().bucket(name).send().await.map_err(from_sdk), &["NoSuchBucketPolicy"])
        };
        let cors = async {
            absent_if(c.get_bucket_cors().bucket(name).send().await.map_err(from_sdk), &["NoSuchCORSConfiguration"])
        };
        let tags = self.tags(name);
        let (versioning, encryption, pab, lifecycle, policy, cors, tags) =
            futures::join!(versioning, encryption, pab, lifecycle, policy, cors, tags);
        fn gone<T>(r: &Result<T, ProviderError>) -> bool {
            matches!(r, Err(e) if e.code_is(NO_BUCKET))
        }
        if gone(&versioning)
            || gone(&encryption)
            || gone(&pab)
            || gone(&lifecycle)
            || gone(&policy)
            || gone(&cors)
            || matches!(tags, Ok(None))
        {
            return Ok(None);
        }
        let (versioning, encryption, pab, lifecycle, policy, cors) =
            (versioning?, encryption?, pab?, lifecycle?, policy?, cors?);
        let mut tags = tags?.unwrap_or_default();
        let force = tags.remove(TAG_FORCE_DESTROY).is_some_and(|v| v == "true");

        let mut properties = Props::new();
        properties.insert("bucket".into(), json!(name));
        properties.insert("versioning".into(), json!(versioning));
        let rule =
            encryption.as_ref().and_then(|e| e.server_side_encryption_configuration()).and_then(|c| c.rules().first());
        let mut sse = Map::new();
        let by_default = rule.and_then(|r| r.apply_server_side_encryption_by_default());
        sse.insert("sse_algorithm".into(), json!(by_default.map(|d| d.sse_algorithm().as_str()).unwrap_or("AES256")));
        if let Some(k) = by_default.and_then(|d| d.kms_master_key_id()) {
            sse.insert("kms_master_key_id".into(), json!(k));
        }
        sse.insert("bucket_key_enabled".into(), json!(rule.and_then(|r| r.bucket_key_enabled()).unwrap_or(false)));
        properties.insert("server_side_encryption".into(), Value::Object(sse));
        // No configuration at all blocks nothing.
        let block = pab.as_ref().and_then(|p| p.public_access_block_configuration());
        properties.insert(
            "public_access_block".into(),
            json!({
                "block_public_acls": block.and_then(|b| b.block_public_acls()).unwrap_or(false),
                "ignore_public_acls": block.and_then(|b| b.ignore_public_acls()).unwrap_or(false),
                "block_public_policy": block.and_then(|b| b.block_public_policy()).unwrap_or(false),
                "restrict_public_buckets": block.and_then(|b| b.restrict_public_buckets()).unwrap_or(false),
            }),
        );
        if let Some(l) = &lifecycle {
            properties.insert("lifecycle_rules".into(), Value::Array(l.rules().iter().map(rule_props).collect()));
        }
        if let Some(text) = policy.as_ref().and_then(|p| p.policy()) {
            properties.insert("policy".into(), serde_json::from_str(text).unwrap_or_else(|_| json!(text)));
        }
        if let Some(c) = &cors {
            properties.insert("cors_rules".into(), Value::Array(c.cors_rules().iter().map(cors_props).collect()));
        }
        properties.insert("force_destroy".into(), json!(force));

        let partition = super::partition(&region);
        let suffix = super::dns_suffix(&region);
        let mut attributes = Props::new();
        attributes.insert("id".into(), json!(name));
        attributes.insert("name".into(), json!(name));
        attributes.insert("arn".into(), json!(format!("arn:{partition}:s3:::{name}")));
        attributes.insert("bucket_domain_name".into(), json!(format!("{name}.s3.{suffix}")));
        attributes.insert("bucket_regional_domain_name".into(), json!(format!("{name}.s3.{region}.{suffix}")));
        attributes.insert("region".into(), json!(region));
        Ok(Some(Observed { id: name.to_string(), properties, tags, attributes }))
    }

    async fn read_names(&self, names: &[String]) -> Result<Vec<Observed>, ProviderError> {
        crate::read_each(names.iter().map(|n| self.read_bucket(n))).await
    }

    async fn must_read(&self, name: &str) -> Result<Observed, ProviderError> {
        self.read_bucket(name).await?.ok_or_else(|| {
            ProviderError::new(Some(NO_BUCKET.into()), format!("bucket {name} does not exist"))
                .with_hint("it was deleted outside deployctl; re-run to create it again")
        })
    }

    async fn put_tags(&self, name: &str, tags: &BTreeMap<String, String>) -> Result<(), ProviderError> {
        if tags.is_empty() {
            self.client.delete_bucket_tagging().bucket(name).send().await.map_err(from_sdk)?;
            return Ok(());
        }
        let tagging = Tagging::builder().set_tag_set(Some(s3_tags(tags)?)).build().map_err(build_err)?;
        self.client.put_bucket_tagging().bucket(name).tagging(tagging).send().await.map_err(from_sdk)?;
        Ok(())
    }

    async fn put_versioning(&self, name: &str, desired: &Props) -> Result<(), ProviderError> {
        let on = want(&SCHEMA, desired, "versioning").and_then(|v| v.as_bool()).unwrap_or(false);
        let status = if on { BucketVersioningStatus::Enabled } else { BucketVersioningStatus::Suspended };
        self.client
            .put_bucket_versioning()
            .bucket(name)
            .versioning_configuration(VersioningConfiguration::builder().status(status).build())
            .send()
            .await
            .map_err(from_sdk)?;
        Ok(())
    }

    async fn put_encryption(&self, name: &str, desired: &Props) -> Result<(), ProviderError> {
        let sse = want_norm(desired, "server_side_encryption").unwrap_or_else(|| json!({}));
        let algorithm = field_str(&sse, "sse_algorithm").unwrap_or_else(|| "AES256".into());
        let by_default = ServerSideEncryptionByDefault::builder()
            .sse_algorithm(ServerSideEncryption::from(algorithm.as_str()))
            .set_kms_master_key_id(field_str(&sse, "kms_master_key_id"))
            .build()
            .map_err(build_err)?;
        let rule = ServerSideEncryptionRule::builder()
            .apply_server_side_encryption_by_default(by_default)
            .bucket_key_enabled(field_bool(&sse, "bucket_key_enabled").unwrap_or(false))
            .build();
        let conf = ServerSideEncryptionConfiguration::builder().rules(rule).build().map_err(build_err)?;
        self.client
            .put_bucket_encryption()
            .bucket(name)
            .server_side_encryption_configuration(conf)
            .send()
            .await
            .map_err(from_sdk)
            .map_err(|e| e.with_hint("check server_side_encryption: sse_algorithm and the KMS key"))?;
        Ok(())
    }

    async fn put_public_access_block(&self, name: &str, desired: &Props) -> Result<(), ProviderError> {
        let p = want_norm(desired, "public_access_block").unwrap_or_else(|| json!({}));
        let b = |k: &str| field_bool(&p, k).unwrap_or(true);
        let conf = PublicAccessBlockConfiguration::builder()
            .block_public_acls(b("block_public_acls"))
            .ignore_public_acls(b("ignore_public_acls"))
            .block_public_policy(b("block_public_policy"))
            .restrict_public_buckets(b("restrict_public_buckets"))
            .build();
        self.client
            .put_public_access_block()
            .bucket(name)
            .public_access_block_configuration(conf)
            .send()
            .await
            .map_err(from_sdk)?;
        Ok(())
    }

    async fn put_lifecycle(&self, name: &str, desired: &Props) -> Result<(), ProviderError> {
        let rules = desired.get("lifecycle_rules").and_then(Value::as_array).cloned().unwrap_or_default();
        if rules.is_empty() {
            self.client.delete_bucket_lifecycle().bucket(name).send().await.map_err(from_sdk)?;
            return Ok(());
        }
        let rules = rules.iter().map(lifecycle_rule).collect::<Result<Vec<_>, _>>()?;
        let conf = BucketLifecycleConfiguration::builder().set_rules(Some(rules)).build().map_err(build_err)?;
        self.client
            .put_bucket_lifecycle_configuration()
            .bucket(name)
            .lifecycle_configuration(conf)
            .send()
            .await
            .map_err(from_sdk)
            .map_err(|e| e.with_hint("check lifecycle_rules: unique ids, and at least one action per rule"))?;
        Ok(())
    }

    async fn put_policy(&self, name: &str, desired: &Props) -> Result<(), ProviderError> {
        let text = match desired.get("policy") {
            Some(Value::String(s)) if !s.trim().is_empty() => Some(s.clone()),
            Some(v @ Value::Object(m)) if !m.is_empty() => Some(v.to_string()),
            _ => None,
        };
        match text {
            Some(text) => {
                self.client.put_bucket_policy().bucket(name).policy(text).send().await.map_err(from_sdk).map_err(
                    |e| {
                        if e.code_is("AccessDenied") {
                            e.with_hint(
                                "a public policy is refused while public_access_block.block_public_policy is true; \
                                 or the caller lacks s3:PutBucketPolicy",
                            )
                        } else {
                            e.with_hint("check the policy document: its Resource must name this bucket")
                        }
                    },
                )?;
            }
            None => {
                self.client.delete_bucket_policy().bucket(name).send().await.map_err(from_sdk)?;
            }
        }
        Ok(())
    }

    async fn put_cors(&self, name: &str, desired: &Props) -> Result<(), ProviderError> {
        let rules = desired.get("cors_rules").and_then(Value::as_array).cloned().unwrap_or_default();
        if rules.is_empty() {
            self.client.delete_bucket_cors().bucket(name).send().await.map_err(from_sdk)?;
            return Ok(());
        }
        let rules = rules.iter().map(cors_rule).collect::<Result<Vec<_>, _>>()?;
        let conf = CorsConfiguration::builder().set_cors_rules(Some(rules)).build().map_err(build_err)?;
        self.client.put_bucket_cors().bucket(name).cors_configuration(conf).send().await.map_err(from_sdk)?;
        Ok(())
    }

    /// Creates the bucket, with its tags where AWS takes them in the create
    /// call (CreateBucketConfiguration.Tags; a caller without
    /// s3:TagResource is refused: then it is created bare and tagged after).
    async fn create_bucket(&self, name: &str, tags: &BTreeMap<String, String>) -> Result<(), ProviderError> {
        let region = self.region();
        let location = (region != "us-east-1").then(|| BucketLocationConstraint::from(region.as_str()));
        let conf = |tags: Option<Vec<Tag>>| {
            CreateBucketConfiguration::builder().set_location_constraint(location.clone()).set_tags(tags).build()
        };
        let first = self
            .client
            .create_bucket()
            .bucket(name)
            .create_bucket_configuration(conf(Some(s3_tags(tags)?)))
            .send()
            .await
            .map_err(from_sdk);
        let result = match first {
            Err(e) if e.code_is("AccessDenied") => {
                let bare = self.client.create_bucket().bucket(name);
                let bare = if location.is_some() { bare.create_bucket_configuration(conf(None)) } else { bare };
                bare.send().await.map(|_| ()).map_err(from_sdk)
            }
            other => other.map(|_| ()),
        };
        result.map_err(|e| {
            if e.code_is("BucketAlreadyExists") {
                e.with_hint(format!("bucket names are global and {name} belongs to another account: pick another"))
            } else if e.code_is("BucketAlreadyOwnedByYou") {
                e.with_hint(format!(
                    "{name} already exists in this account and is not this resource's (it lacks this stack's \
                     deployctl tags): pick another name, or delete that bucket"
                ))
            } else if e.code_is("InvalidBucketName") {
                e.with_hint("3–63 characters: lowercase letters, digits, '-' and '.', starting and ending with a letter or digit")
            } else {
                e
            }
        })
    }

    /// Deletes every object version and delete marker, a thousand at a time.
    async fn empty(&self, ctx: &OpCtx, name: &str) -> Result<(), ProviderError> {
        let start = Instant::now();
        let mut deleted = 0usize;
        loop {
            let out = match self.client.list_object_versions().bucket(name).max_keys(DELETE_CHUNK).send().await {
                Ok(o) => o,
                Err(e) => {
                    let e = from_sdk(e);
                    if e.code_is(NO_BUCKET) {
                        return Ok(());
                    }
                    return Err(e);
                }
            };
            let mut ids = Vec::new();
            for v in out.versions() {
                if let Some(k) = v.key() {
                    ids.push(ObjectIdentifier::builder().key(k).set_version_id(v.version_id().map(str::to_string)));
                }
            }
            for m in out.delete_markers() {
                if let Some(k) = m.key() {
                    ids.push(ObjectIdentifier::builder().key(k).set_version_id(m.version_id().map(str::to_string)));
                }
            }
            if ids.is_empty() {
                return Ok(());
            }
            let n = ids.len();
            let ids = ids.into_iter().map(|b| b.build().map_err(build_err)).collect::<Result<Vec<_>, _>>()?;
            let del = Delete::builder().set_objects(Some(ids)).quiet(true).build().map_err(build_err)?;
            let res = self.client.delete_objects().bucket(name).delete(del).send().await.map_err(from_sdk)?;
            if let Some(err) = res.errors().first() {
                return Err(ProviderError::new(
                    err.code().map(str::to_string),
                    format!(
                        "could not delete {} from bucket {name}: {}",
                        err.key().unwrap_or_default(),
                        err.message().unwrap_or_default()
                    ),
                ));
            }
            deleted += n;
            ctx.progress(format!("emptying bucket {name}: {deleted} object versions deleted"), start.elapsed());
        }
    }

    /// Brings the settings named in `changed` to `desired`.
    async fn converge(&self, name: &str, desired: &Props, changed: &[String]) -> Result<(), ProviderError> {
        let has = |p: &str| changed.iter().any(|c| c == p);
        if has("versioning") {
            self.put_versioning(name, desired).await?;
        }
        if has("server_side_encryption") {
            self.put_encryption(name, desired).await?;
        }
        // Before the policy: a public policy needs the block lifted first.
        if has("public_access_block") {
            self.put_public_access_block(name, desired).await?;
        }
        if has("policy") {
            self.put_policy(name, desired).await?;
        }
        if has("lifecycle_rules") {
            self.put_lifecycle(name, desired).await?;
        }
        if has("cors_rules") {
            self.put_cors(name, desired).await?;
        }
        Ok(())
    }
}

/// Whether a property the spec sets (or defaults) differs from what a new
/// bucket has.
fn differs_from_new(desired: &Props, name: &str, fresh: Value) -> bool {
    let Some(p) = SCHEMA.property(name) else { return false };
    match want(&SCHEMA, desired, name) {
        Some(v) => normalize(&p.ty, &v) != normalize(&p.ty, &fresh),
        None => false,
    }
}

#[async_trait]
impl ResourceKind for Bucket {
    fn schema(&self) -> &'static KindSchema {
        &SCHEMA
    }

    async fn read(&self, _ctx: &ReadCtx, ids: &[String]) -> Result<Vec<Observed>, ProviderError> {
        self.read_names(ids).await
    }

    async fn find_tagged(&self, ctx: &ReadCtx) -> Result<Vec<(String, Observed)>, ProviderError> {
        let mut names = Vec::new();
        let mut pages = self.client.list_buckets().bucket_region(self.region()).into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(from_sdk)?;
            names.extend(
                page.buckets()
                    .iter()
                    .filter(|b| b.bucket_region().is_none_or(|r| r == self.region()))
                    .filter_map(|b| b.name().map(str::to_string)),
            );
        }
        // Tags first (one call each), the whole read only for ours.
        let tagged: Vec<Result<Option<(String, String)>, ProviderError>> = futures::stream::iter(names)
            .map(|name| async move {
                let tags = self.tags(&name).await?.unwrap_or_default();
                Ok((tags.get(TAG_STACK) == Some(&ctx.stack))
                    .then(|| tags.get(TAG_RESOURCE).map(|a| (name, a.clone())))
                    .flatten())
            })
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
        let mut out = Vec::new();
        for r in tagged {
            if let Some((name, address)) = r? {
                if let Some(o) = self.read_bucket(&name).await? {
                    out.push((address, o));
                }
            }
        }
        Ok(out)
    }

    async fn find_existing(
        &self,
        ctx: &ReadCtx,
        wanted: &[(String, Props)],
    ) -> Result<Vec<(String, Observed)>, ProviderError> {
        let lookups = wanted.iter().filter_map(|(address, props)| {
            let name = props.get("bucket")?.as_str()?.to_string();
            Some(async move {
                // A name taken elsewhere (another account or region) is not ours.
                match self.head(&name).await? {
                    Head::Found(region) if region == self.region() => {}
                    _ => return Ok(None),
                }
                let tags = self.tags(&name).await?.unwrap_or_default();
                if !is_this_stacks(&tags, &ctx.stack, address) {
                    return Ok::<_, ProviderError>(None);
                }
                Ok(self.read_bucket(&name).await?.map(|o| (address.clone(), o)))
            })
        });
        let mut out = Vec::new();
        for r in join_all(lookups).await {
            out.extend(r?);
        }
        Ok(out)
    }

    async fn create(&self, ctx: &OpCtx, desired: &Props) -> Result<Observed, ProviderError> {
        let name = want(&SCHEMA, desired, "bucket")
            .and_then(|v| v.as_str().map(str::to_string))
            .ok_or_else(|| ProviderError::msg("bucket is required"))?;
        let tags = wanted_tags(ctx, desired);
        // CreateBucket in us-east-1 answers 200 for a bucket the caller
        // already owns (and resets its ACLs): look first.
        match self.head(&name).await? {
            Head::Missing => {
                self.create_bucket(&name, &tags).await?;
                ctx.record_id(&name);
            }
            Head::Forbidden => {
                return Err(ProviderError::new(
                    Some("BucketAlreadyExists".into()),
                    format!("bucket {name} already exists and these credentials cannot read it"),
                )
                .with_hint(
                    "bucket names are global: another account probably owns it, so pick another name (or grant \
                     s3:ListBucket if the bucket is this account's)",
                ))
            }
            Head::Found(_) => {
                let live = self.tags(&name).await?.unwrap_or_default();
                // A bucket without deployctl's tags, met by a create that
                // repeats an interrupted one, is that create's: killed
                // after CreateBucket, before the tags went on (the path
                // without tags in the create call, and emulators).
                let untagged = !live.keys().any(|k| k.starts_with("deployctl:"));
                let adoptable = is_ours(&live, &ctx.stack, &ctx.address) || (untagged && ctx.interrupted_create);
                if !adoptable {
                    return Err(ProviderError::new(
                        Some("BucketAlreadyOwnedByYou".into()),
                        format!("bucket {name} already exists and is not this resource's"),
                    )
                    .with_hint(
                        "it lacks this stack's deployctl tags: pick another name, or delete that bucket".to_string(),
                    ));
                }
                // Ours from an earlier, interrupted create: finish it.
                ctx.record_id(&name);
            }
        }
        // Emulators (and the fallback without tags) leave the bucket bare.
        if self.tags(&name).await?.unwrap_or_default() != tags {
            self.put_tags(&name, &tags).await?;
        }
        let mut changed: Vec<String> = Vec::new();
        if differs_from_new(desired, "versioning", json!(false)) {
            changed.push("versioning".into());
        }
        // Written out whenever the spec asks for it, even when it equals
        // AWS's default: the bucket's encryption is then explicit, and an
        // emulator without that default reports it too.
        if desired.get("server_side_encryption").is_some_and(|v| !v.is_null()) {
            changed.push("server_side_encryption".into());
        }
        // Always: a bucket without a public access block blocks nothing,
        // and not every endpoint sets AWS's default.
        changed.push("public_access_block".into());
        for p in ["policy", "lifecycle_rules", "cors_rules"] {
            let set = match desired.get(p) {
                Some(Value::Array(a)) => !a.is_empty(),
                Some(Value::Object(m)) => !m.is_empty(),
                Some(Value::String(s)) => !s.trim().is_empty(),
                _ => false,
            };
            if set {
                changed.push(p.to_string());
            }
        }
        self.converge(&name, desired, &changed).await?;
        self.must_read(&name).await
    }

    async fn update(
        &self,
        ctx: &OpCtx,
        current: &Observed,
        desired: &Props,
        changed: &[String],
    ) -> Result<Observed, ProviderError> {
        let name = current.id.as_str();
        self.converge(name, desired, changed).await?;
        if changed.iter().any(|c| c == "tags" || c == "force_destroy") {
            let want = wanted_tags(ctx, desired);
            if live_tags(current) != want {
                self.put_tags(name, &want).await?;
            }
        }
        self.must_read(name).await
    }

    async fn delete(&self, ctx: &OpCtx, current: &Observed, _recorded: &Props) -> Result<(), ProviderError> {
        let name = current.id.as_str();
        let force = current.properties.get("force_destroy").and_then(Value::as_bool).unwrap_or(false);
        if force {
            self.empty(ctx, name).await?;
        }
        match self.client.delete_bucket().bucket(name).send().await.map_err(from_sdk) {
            Ok(_) => Ok(()),
            Err(e) if e.code_is(NO_BUCKET) => Ok(()),
            Err(e) if e.code_is("BucketNotEmpty") => Err(e.with_hint(
                "the bucket still holds objects: set force_destroy: true to delete them with it (apply that first, \
                 then delete), or empty it yourself",
            )),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_round_trip_through_the_sdk_shape() {
        let rule = json!({"id": "expire", "expiration_days": 90, "prefix": "logs/"});
        let built = lifecycle_rule(&rule).unwrap();
        assert_eq!(
            rule_props(&built),
            json!({"id": "expire", "enabled": true, "prefix": "logs/", "expiration_days": 90})
        );
        let rule = json!({"id": "all", "enabled": false, "abort_incomplete_multipart_upload_days": 7});
        assert_eq!(
            rule_props(&lifecycle_rule(&rule).unwrap()),
            json!({"id": "all", "enabled": false, "abort_incomplete_multipart_upload_days": 7})
        );
        let cors = json!({"allowed_origins": ["*"], "allowed_methods": ["GET"], "allowed_headers": []});
        assert_eq!(
            cors_props(&cors_rule(&cors).unwrap()),
            json!({"allowed_origins": ["*"], "allowed_methods": ["GET"]})
        );
    }

    #[test]
    fn an_unset_spec_asks_for_what_a_new_bucket_has() {
        let desired = Props::new();
        assert!(!differs_from_new(&desired, "versioning", json!(false)));
        assert!(!differs_from_new(&desired, "server_side_encryption", json!({})));
        let kms = json!({"server_side_encryption": {"sse_algorithm": "aws:kms"}});
        assert!(differs_from_new(kms.as_object().unwrap(), "server_side_encryption", json!({})));
    }
}
