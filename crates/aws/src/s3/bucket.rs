//! `s3.bucket`: an S3 general purpose bucket with its versioning, default
//! encryption, public access block, lifecycle rules, bucket policy, CORS
//! rules and tags.
//!
//! The id is the bucket name. S3 has no batched describe: each bucket is
//! read on its own (all of them concurrently), one Get… per setting, all
//! at once; GetBucketVersioning's refusal also tells a bucket gone (404),
//! not ours to read (403) or in another region (301, with the region in a
//! header), so no HeadBucket is sent. Lifecycle rules, the policy and CORS
//! rules are not read where nothing compares them (the spec leaves them
//! unset: `ReadCtx::leaves_unset`); they then read as unset. A setting AWS
//! has no configuration for answers with its own NoSuch… code, read as the
//! setting's empty value: no lifecycle rules, no policy, no CORS
//! rules, no tags, no public access block (nothing blocked), and default
//! encryption (AWS encrypts every bucket with SSE-S3 `AES256` when nothing
//! else is configured).
//!
//! Buckets cannot be listed by tag, and their name is their natural key:
//! adoption looks each candidate up by its name. Create checks first that
//! the name is free (in us-east-1 CreateBucket answers 200 for a bucket the
//! caller already owns, and resets its ACLs).
//!
//! `force_destroy`: deleting a bucket that still holds objects fails unless
//! it is set. AWS keeps no such setting: delete reads it from the properties
//! state recorded at the last apply (a read reports the default), and then
//! removes every object version and delete marker first.

use crate::error::from_sdk;
use crate::kit::{
    attrs, model, own_tags, tagger::S3Tags, tagging, Adopt, Created, Kind, Live, Model, TagChange, Tagger, Tags,
};
use crate::tags::{is_ours, tag_changes};
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::types::{
    AbortIncompleteMultipartUpload, BucketLifecycleConfiguration, BucketLocationConstraint, BucketVersioningStatus,
    CorsConfiguration, CorsRule, CreateBucketConfiguration, Delete, ExpirationStatus, LifecycleExpiration,
    LifecycleRule, LifecycleRuleFilter, NoncurrentVersionExpiration, ObjectIdentifier, PublicAccessBlockConfiguration,
    ServerSideEncryption, ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration, ServerSideEncryptionRule,
    Tag, VersioningConfiguration,
};
use aws_sdk_s3::Client;
use deployctl_engine::{Observed, OpCtx, Props, ProviderError, ReadCtx};
use deployctl_spec::{Attr, KindSchema};
use serde_json::{json, Value};
use std::time::Instant;

/// The most keys one DeleteObjects takes.
const DELETE_CHUNK: i32 = 1000;

const NO_BUCKET: &str = "NoSuchBucket";

/// moto 5.2.5 ignores CreateBucketConfiguration.Tags, which AWS applies: the
/// tags are put once more right after CreateBucket (on AWS, one redundant
/// PutBucketTagging). The one place to drop once the emulator honours them.
const MOTO_5_2_5_TAGS_AFTER_CREATE: bool = true;

model! {
    pub struct Encryption {
        sse_algorithm: String = "`AES256` (SSE-S3), `aws:kms` (SSE-KMS) or `aws:kms:dsse`."
            [default("\"AES256\""), one_of(ServerSideEncryption::values())],
        kms_master_key_id: Option<String> =
            "The KMS key (id, ARN or alias) of `aws:kms`; unset: the AWS managed key `aws/s3`.",
        bucket_key_enabled: bool = "Whether SSE-KMS uses an S3 Bucket Key (fewer KMS calls, lower cost)."
            [default("false")],
    }
}

model! {
    pub struct AccessBlock {
        block_public_acls: bool = "Reject requests that set public ACLs." [default("true")],
        ignore_public_acls: bool = "Ignore public ACLs on the bucket and its objects." [default("true")],
        block_public_policy: bool = "Reject bucket policies that grant public access." [default("true")],
        restrict_public_buckets: bool =
            "Only AWS services and this account may use the bucket while its policy is public." [default("true")],
    }
}

model! {
    pub struct Rule {
        id: String = "The rule's unique name." [required],
        enabled: bool = "Whether the rule is applied." [default("true")],
        prefix: Option<String> = "Only objects whose keys start with this; unset: every object.",
        expiration_days: Option<i64> = "Days after creation when the current version of an object expires.",
        noncurrent_version_expiration_days: Option<i64> =
            "Days after becoming noncurrent when an old version is deleted (versioned buckets).",
        abort_incomplete_multipart_upload_days: Option<i64> =
            "Days after initiation when an unfinished multipart upload is aborted.",
    }
}

model! {
    pub struct Cors {
        allowed_origins: Vec<String> = "Origins allowed, e.g. `https://shop.example.com` or `*`." [required],
        allowed_methods: Vec<String> = "`GET`, `PUT`, `POST`, `DELETE` and/or `HEAD`." [required],
        allowed_headers: Option<Vec<String>> = "Headers a preflight request may ask for (`*` for any).",
        expose_headers: Option<Vec<String>> = "Response headers the browser may read, e.g. `ETag`.",
        max_age_seconds: Option<i64> = "How long a browser may cache the preflight answer.",
    }
}

model! {
    pub struct BucketModel {
        bucket: String = "The bucket name, globally unique: 3–63 lowercase letters, digits, `-` and `.`."
            [required, replace, unique],
        versioning: bool =
            "Whether objects keep their earlier versions (`Enabled`); turning it off suspends versioning \
             (`Suspended`), which keeps the versions already there."
            [default("false")],
        server_side_encryption: Encryption =
            "Default encryption of new objects (PutBucketEncryption). Unset: SSE-S3 (`AES256`), what AWS applies to \
             every bucket."
            [default("{\"sse_algorithm\": \"AES256\", \"bucket_key_enabled\": false}")],
        public_access_block: AccessBlock =
            "The bucket's public access block. Unset: all four blocks on, AWS's default for new buckets."
            [default(
                "{\"block_public_acls\": true, \"ignore_public_acls\": true, \"block_public_policy\": true, \
                 \"restrict_public_buckets\": true}"
            )],
        lifecycle_rules: Option<Vec<Rule>> =
            "Lifecycle rules (PutBucketLifecycleConfiguration); `[]` removes them all. Unset: not managed.",
        policy: Option<Value> = "The bucket policy, written as YAML; `{}` removes it. Unset: not managed.",
        cors_rules: Option<Vec<Cors>> =
            "CORS rules for browsers (PutBucketCors); `[]` removes them. Unset: not managed.",
        force_destroy: bool =
            "Whether deleting the bucket deletes every object (and every version) in it; without it, deleting a \
             bucket that holds objects fails."
            [default("false"), state_only],
    }
}

pub static SCHEMA: KindSchema = KindSchema {
    type_name: "s3.bucket",
    doc: "An S3 bucket. Every setting is changed in place except the name. A bucket that still holds objects is \
          deleted only with `force_destroy: true` (applied before the delete: the setting is kept in state); it \
          then deletes every object version first. For ALB access logs, the bucket policy must let the region's \
          ELB account (or `logdelivery.elasticloadbalancing.amazonaws.com`) `s3:PutObject` under the log prefix.",
    properties: <BucketModel as Model>::PROPS,
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
    tags: S3Tags,
    tagging: Option<tagging::StackTags>,
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

fn build_err(e: impl std::fmt::Display) -> ProviderError {
    ProviderError::msg(e.to_string())
}

/// The HTTP status of a failed call, when AWS answered.
fn status_of<E>(e: &SdkError<E, aws_smithy_runtime_api::client::orchestrator::HttpResponse>) -> Option<u16> {
    e.raw_response().map(|r| r.status().as_u16())
}

/// What a bucket call's refusal says of the bucket (HeadBucket's, or any
/// other's): gone (404), not ours to read (403), or in another region (301
/// or 400, with its region in a header); `None` for anything else.
fn whereabouts<E>(e: &SdkError<E, aws_smithy_runtime_api::client::orchestrator::HttpResponse>) -> Option<Head>
where
    E: ProvideErrorMetadata,
{
    let region = e.raw_response().and_then(|r| r.headers().get("x-amz-bucket-region"));
    match (status_of(e), region) {
        (Some(404), _) => Some(Head::Missing),
        (Some(403), _) => Some(Head::Forbidden),
        (Some(301 | 400), Some(region)) => Some(Head::Found(region.to_string())),
        _ if e.as_service_error().and_then(ProvideErrorMetadata::code) == Some(NO_BUCKET) => Some(Head::Missing),
        _ => None,
    }
}

/// A missing configuration (`NoSuchCORSConfiguration`…) reads as `None`.
fn absent_if<T>(r: Result<T, ProviderError>, codes: &[&str]) -> Result<Option<T>, ProviderError> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) if codes.iter().any(|c| e.code_is(c)) => Ok(None),
        Err(e) => Err(e),
    }
}

fn days(d: Option<i64>) -> Option<i32> {
    d.map(|d| d as i32)
}

fn lifecycle_rule(r: &Rule) -> Result<LifecycleRule, ProviderError> {
    LifecycleRule::builder()
        .id(&r.id)
        .status(if r.enabled { ExpirationStatus::Enabled } else { ExpirationStatus::Disabled })
        .filter(LifecycleRuleFilter::builder().prefix(r.prefix.clone().unwrap_or_default()).build())
        .set_expiration(days(r.expiration_days).map(|d| LifecycleExpiration::builder().days(d).build()))
        .set_noncurrent_version_expiration(
            days(r.noncurrent_version_expiration_days)
                .map(|d| NoncurrentVersionExpiration::builder().noncurrent_days(d).build()),
        )
        .set_abort_incomplete_multipart_upload(
            days(r.abort_incomplete_multipart_upload_days)
                .map(|d| AbortIncompleteMultipartUpload::builder().days_after_initiation(d).build()),
        )
        .build()
        .map_err(build_err)
}

fn cors_rule(r: &Cors) -> Result<CorsRule, ProviderError> {
    let non_empty = |v: &Option<Vec<String>>| v.clone().filter(|v| !v.is_empty());
    CorsRule::builder()
        .set_allowed_origins(Some(r.allowed_origins.clone()))
        .set_allowed_methods(Some(r.allowed_methods.clone()))
        .set_allowed_headers(non_empty(&r.allowed_headers))
        .set_expose_headers(non_empty(&r.expose_headers))
        .set_max_age_seconds(days(r.max_age_seconds))
        .build()
        .map_err(build_err)
}

/// A lifecycle rule in the spec's shape.
fn rule_model(r: &LifecycleRule) -> Rule {
    #[allow(deprecated)]
    let prefix = r
        .filter()
        .and_then(|f| f.prefix().or_else(|| f.and().and_then(|a| a.prefix())))
        .or_else(|| r.prefix())
        .filter(|p| !p.is_empty());
    Rule {
        id: r.id().unwrap_or_default().to_string(),
        enabled: r.status() == &ExpirationStatus::Enabled,
        prefix: prefix.map(str::to_string),
        expiration_days: r.expiration().and_then(|e| e.days()).map(i64::from),
        noncurrent_version_expiration_days: r
            .noncurrent_version_expiration()
            .and_then(|e| e.noncurrent_days())
            .map(i64::from),
        abort_incomplete_multipart_upload_days: r
            .abort_incomplete_multipart_upload()
            .and_then(|a| a.days_after_initiation())
            .map(i64::from),
    }
}

/// A CORS rule in the spec's shape (empty lists as unset).
fn cors_model(r: &CorsRule) -> Cors {
    let non_empty = |v: &[String]| (!v.is_empty()).then(|| v.to_vec());
    Cors {
        allowed_origins: r.allowed_origins().to_vec(),
        allowed_methods: r.allowed_methods().to_vec(),
        allowed_headers: non_empty(r.allowed_headers()),
        expose_headers: non_empty(r.expose_headers()),
        max_age_seconds: r.max_age_seconds().map(i64::from),
    }
}

/// A policy, lifecycle rules or CORS rules worth putting: set, not empty.
fn is_set(v: &Value) -> bool {
    match v {
        Value::Array(a) => !a.is_empty(),
        Value::Object(m) => !m.is_empty(),
        Value::String(s) => !s.trim().is_empty(),
        _ => false,
    }
}

impl Bucket {
    pub fn new(client: Client) -> Bucket {
        Bucket { tags: S3Tags(client.clone()), client, tagging: None }
    }

    /// Tags from the run's one tagging-API read of the stack (shared by
    /// the kinds), rather than one GetBucketTagging per bucket.
    pub fn with_stack_tags(mut self, tags: tagging::StackTags) -> Bucket {
        self.tagging = Some(tags);
        self
    }

    /// The region the client talks to (buckets of the stack live there).
    fn region(&self) -> String {
        self.client.config().region().map(|r| r.to_string()).unwrap_or_else(|| "us-east-1".into())
    }

    fn attributes(name: &str, region: &str) -> Props {
        let (partition, suffix) = (super::partition(region), super::dns_suffix(region));
        attrs([
            ("id", json!(name)),
            ("name", json!(name)),
            ("arn", json!(format!("arn:{partition}:s3:::{name}"))),
            ("bucket_domain_name", json!(format!("{name}.s3.{suffix}"))),
            ("bucket_regional_domain_name", json!(format!("{name}.s3.{region}.{suffix}"))),
            ("region", json!(region)),
        ])
    }

    async fn head(&self, name: &str) -> Result<Head, ProviderError> {
        match self.client.head_bucket().bucket(name).send().await {
            Ok(out) => Ok(Head::Found(out.bucket_region().map(str::to_string).unwrap_or_else(|| self.region()))),
            Err(e) => match whereabouts(&e) {
                Some(head) => Ok(head),
                None => {
                    let e = from_sdk(e);
                    if e.code_is("NotFound") {
                        Ok(Head::Missing)
                    } else {
                        Err(e)
                    }
                }
            },
        }
    }

    /// The tags of a bucket (`None`: it is gone), AWS's own left out.
    async fn tags(&self, name: &str) -> Result<Option<Tags>, ProviderError> {
        let r = self.client.get_bucket_tagging().bucket(name).send().await.map_err(from_sdk);
        match absent_if(r, &["NoSuchTagSet"]) {
            Ok(out) => {
                Ok(Some(out.map(|o| own_tags(o.tag_set().iter().map(|t| (t.key(), t.value())))).unwrap_or_default()))
            }
            Err(e) if e.code_is(NO_BUCKET) => Ok(None),
            // A bucket in another region: read_bucket's HeadBucket says so.
            Err(e) if e.code_is("PermanentRedirect") || e.code_is("HTTP301") => Ok(Some(Tags::new())),
            Err(e) => Err(e),
        }
    }

    /// Every setting of one bucket (its tags are the caller's); `None` when
    /// there is no such bucket. Lifecycle, policy and CORS are not read
    /// where nothing compares them (`ReadCtx::leaves_unset`).
    async fn read_bucket(&self, ctx: &ReadCtx, name: &str) -> Result<Option<Live<BucketModel>>, ProviderError> {
        let c = &self.client;
        let skip = |p: &str| ctx.leaves_unset(name, p);
        // The versioning call also says whether the bucket is there, and
        // where (no HeadBucket): `Err(head)` when it is not here to read.
        let versioning = async {
            match c.get_bucket_versioning().bucket(name).send().await {
                Ok(v) => Ok(Ok(v.status() == Some(&BucketVersioningStatus::Enabled))),
                // An answer of 200 that does not parse: moto names its root
                // `GetBucketVersioningResponse`, not `VersioningConfiguration`.
                // Its `Status` element says it all.
                Err(e) if status_of(&e) == Some(200) => {
                    let body = e.raw_response().and_then(|r| r.body().bytes()).unwrap_or_default();
                    Ok(Ok(String::from_utf8_lossy(body).contains("<Status>Enabled</Status>")))
                }
                Err(e) => match whereabouts(&e) {
                    Some(head) => Ok(Err(head)),
                    None => Err(from_sdk(e)),
                },
            }
        };
        let encryption = async {
            let r = c.get_bucket_encryption().bucket(name).send().await.map_err(from_sdk);
            absent_if(r, &["ServerSideEncryptionConfigurationNotFoundError"])
        };
        let pab = async {
            let r = c.get_public_access_block().bucket(name).send().await.map_err(from_sdk);
            absent_if(r, &["NoSuchPublicAccessBlockConfiguration"])
        };
        let lifecycle = async {
            if skip("lifecycle_rules") {
                return Ok(None);
            }
            let r = c.get_bucket_lifecycle_configuration().bucket(name).send().await.map_err(from_sdk);
            absent_if(r, &["NoSuchLifecycleConfiguration"])
        };
        let policy = async {
            if skip("policy") {
                return Ok(None);
            }
            absent_if(c.get_bucket_policy().bucket(name).send().await.map_err(from_sdk), &["NoSuchBucketPolicy"])
        };
        let cors = async {
            if skip("cors_rules") {
                return Ok(None);
            }
            absent_if(c.get_bucket_cors().bucket(name).send().await.map_err(from_sdk), &["NoSuchCORSConfiguration"])
        };
        // One round trip. (A bucket that is gone costs up to six answers of
        // NoSuchBucket.)
        let (versioning, encryption, pab, lifecycle, policy, cors) =
            futures::join!(versioning, encryption, pab, lifecycle, policy, cors);
        let region = self.region();
        let versioning = match versioning? {
            Ok(enabled) => enabled,
            Err(Head::Missing) => return Ok(None),
            Err(Head::Forbidden) => {
                return Err(ProviderError::new(
                    Some("AccessDenied".into()),
                    format!("bucket {name} exists but cannot be read with these credentials"),
                )
                .with_hint("another account owns it, or the caller lacks s3:GetBucketVersioning on it"))
            }
            Err(Head::Found(elsewhere)) => {
                return Err(ProviderError::msg(format!(
                    "bucket {name} is in {elsewhere}, not in the stack's region {region}"
                ))
                .with_hint("a stack manages the buckets of its own region; pick another bucket name"))
            }
        };
        let gone = |r: Option<&ProviderError>| r.is_some_and(|e| e.code_is(NO_BUCKET));
        if [encryption.as_ref().err(), pab.as_ref().err()].into_iter().any(gone)
            || [lifecycle.as_ref().err(), policy.as_ref().err(), cors.as_ref().err()].into_iter().any(gone)
        {
            return Ok(None);
        }
        let (encryption, pab, lifecycle, policy, cors) = (encryption?, pab?, lifecycle?, policy?, cors?);
        let rule =
            encryption.as_ref().and_then(|e| e.server_side_encryption_configuration()).and_then(|c| c.rules().first());
        let by_default = rule.and_then(|r| r.apply_server_side_encryption_by_default());
        // No configuration at all blocks nothing.
        let block = pab.as_ref().and_then(|p| p.public_access_block_configuration());
        let blocks = |f: fn(&PublicAccessBlockConfiguration) -> Option<bool>| block.and_then(f).unwrap_or(false);
        Ok(Some(Live {
            id: name.to_string(),
            model: BucketModel {
                bucket: name.to_string(),
                versioning,
                server_side_encryption: Encryption {
                    sse_algorithm: by_default.map_or("AES256", |d| d.sse_algorithm().as_str()).to_string(),
                    kms_master_key_id: by_default.and_then(|d| d.kms_master_key_id()).map(str::to_string),
                    bucket_key_enabled: rule.and_then(|r| r.bucket_key_enabled()).unwrap_or(false),
                },
                public_access_block: AccessBlock {
                    block_public_acls: blocks(|b| b.block_public_acls()),
                    ignore_public_acls: blocks(|b| b.ignore_public_acls()),
                    block_public_policy: blocks(|b| b.block_public_policy()),
                    restrict_public_buckets: blocks(|b| b.restrict_public_buckets()),
                },
                lifecycle_rules: lifecycle.map(|l| l.rules().iter().map(rule_model).collect()),
                policy: policy
                    .as_ref()
                    .and_then(|p| p.policy())
                    .map(|t| serde_json::from_str(t).unwrap_or_else(|_| json!(t))),
                cors_rules: cors.map(|c| c.cors_rules().iter().map(cors_model).collect()),
                // Not held by AWS: delete reads it from state.
                force_destroy: false,
            },
            tags: Tags::new(),
            attributes: Self::attributes(name, &region),
        }))
    }

    async fn put_versioning(&self, name: &str, want: &BucketModel) -> Result<(), ProviderError> {
        let status = if want.versioning { BucketVersioningStatus::Enabled } else { BucketVersioningStatus::Suspended };
        let conf = VersioningConfiguration::builder().status(status).build();
        self.client
            .put_bucket_versioning()
            .bucket(name)
            .versioning_configuration(conf)
            .send()
            .await
            .map_err(from_sdk)?;
        Ok(())
    }

    async fn put_encryption(&self, name: &str, want: &BucketModel) -> Result<(), ProviderError> {
        let sse = &want.server_side_encryption;
        let by_default = ServerSideEncryptionByDefault::builder()
            .sse_algorithm(ServerSideEncryption::from(sse.sse_algorithm.as_str()))
            .set_kms_master_key_id(sse.kms_master_key_id.clone())
            .build()
            .map_err(build_err)?;
        let rule = ServerSideEncryptionRule::builder()
            .apply_server_side_encryption_by_default(by_default)
            .bucket_key_enabled(sse.bucket_key_enabled)
            .build();
        let conf = ServerSideEncryptionConfiguration::builder().rules(rule).build().map_err(build_err)?;
        let call = self.client.put_bucket_encryption().bucket(name).server_side_encryption_configuration(conf);
        call.send()
            .await
            .map_err(from_sdk)
            .map_err(|e| e.with_hint("check server_side_encryption: sse_algorithm and the KMS key"))?;
        Ok(())
    }

    async fn put_public_access_block(&self, name: &str, want: &BucketModel) -> Result<(), ProviderError> {
        let p = &want.public_access_block;
        let conf = PublicAccessBlockConfiguration::builder()
            .block_public_acls(p.block_public_acls)
            .ignore_public_acls(p.ignore_public_acls)
            .block_public_policy(p.block_public_policy)
            .restrict_public_buckets(p.restrict_public_buckets)
            .build();
        let call = self.client.put_public_access_block().bucket(name).public_access_block_configuration(conf);
        call.send().await.map_err(from_sdk)?;
        Ok(())
    }

    async fn put_lifecycle(&self, name: &str, want: &BucketModel) -> Result<(), ProviderError> {
        let rules = want.lifecycle_rules.as_deref().unwrap_or_default();
        if rules.is_empty() {
            self.client.delete_bucket_lifecycle().bucket(name).send().await.map_err(from_sdk)?;
            return Ok(());
        }
        let rules = rules.iter().map(lifecycle_rule).collect::<Result<Vec<_>, _>>()?;
        let conf = BucketLifecycleConfiguration::builder().set_rules(Some(rules)).build().map_err(build_err)?;
        let call = self.client.put_bucket_lifecycle_configuration().bucket(name).lifecycle_configuration(conf);
        call.send()
            .await
            .map_err(from_sdk)
            .map_err(|e| e.with_hint("check lifecycle_rules: unique ids, and at least one action per rule"))?;
        Ok(())
    }

    async fn put_policy(&self, name: &str, want: &BucketModel) -> Result<(), ProviderError> {
        let text = match &want.policy {
            Some(Value::String(s)) if !s.trim().is_empty() => s.clone(),
            Some(v @ Value::Object(m)) if !m.is_empty() => v.to_string(),
            _ => {
                self.client.delete_bucket_policy().bucket(name).send().await.map_err(from_sdk)?;
                return Ok(());
            }
        };
        let r = self.client.put_bucket_policy().bucket(name).policy(text).send().await.map_err(from_sdk);
        r.map_err(|e| {
            if e.code_is("AccessDenied") {
                e.with_hint(
                    "a public policy is refused while public_access_block.block_public_policy is true; or the caller \
                     lacks s3:PutBucketPolicy",
                )
            } else {
                e.with_hint("check the policy document: its Resource must name this bucket")
            }
        })?;
        Ok(())
    }

    async fn put_cors(&self, name: &str, want: &BucketModel) -> Result<(), ProviderError> {
        let rules = want.cors_rules.as_deref().unwrap_or_default();
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
    /// s3:TagResource is refused: then it is created bare). Whether the
    /// tags are still to be put.
    async fn create_bucket(&self, name: &str, tags: &Tags) -> Result<bool, ProviderError> {
        let region = self.region();
        let location = (region != "us-east-1").then(|| BucketLocationConstraint::from(region.as_str()));
        let conf = |tags: Option<Vec<Tag>>| {
            CreateBucketConfiguration::builder().set_location_constraint(location.clone()).set_tags(tags).build()
        };
        let tagged = tags.iter().map(|(k, v)| Tag::builder().key(k).value(v).build().map_err(build_err));
        let tagged = conf(Some(tagged.collect::<Result<_, _>>()?));
        let first = self.client.create_bucket().bucket(name).create_bucket_configuration(tagged).send().await;
        let result = match first.map_err(from_sdk) {
            Err(e) if e.code_is("AccessDenied") => {
                let bare = self.client.create_bucket().bucket(name);
                let bare = if location.is_some() { bare.create_bucket_configuration(conf(None)) } else { bare };
                bare.send().await.map(|_| true).map_err(from_sdk)
            }
            other => other.map(|_| MOTO_5_2_5_TAGS_AFTER_CREATE),
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

    /// Brings the settings named in `changed` to `want`: each its own call,
    /// side by side, except that the policy waits for the public access
    /// block (a public policy needs the block lifted first).
    async fn converge(&self, name: &str, want: &BucketModel, changed: &[&str]) -> Result<(), ProviderError> {
        let has = |p: &str| changed.contains(&p);
        let access = async {
            when(has("public_access_block"), self.put_public_access_block(name, want)).await?;
            when(has("policy"), self.put_policy(name, want)).await
        };
        futures::try_join!(
            when(has("versioning"), self.put_versioning(name, want)),
            when(has("server_side_encryption"), self.put_encryption(name, want)),
            access,
            when(has("lifecycle_rules"), self.put_lifecycle(name, want)),
            when(has("cors_rules"), self.put_cors(name, want)),
        )
        .map(|_| ())
    }
}

/// Runs `f` if `on` (an unrun future makes no call).
async fn when(on: bool, f: impl std::future::Future<Output = Result<(), ProviderError>>) -> Result<(), ProviderError> {
    if on {
        f.await
    } else {
        Ok(())
    }
}

/// What a new bucket needs beyond CreateBucket: the settings `want` asks
/// for that a new bucket does not have, and always the public access block
/// (a bucket without one blocks nothing, and not every endpoint sets AWS's
/// default).
fn to_set_on_new(want: &BucketModel) -> Vec<&'static str> {
    let fresh = BucketModel::from_props(&Props::from_iter([("bucket".to_string(), json!(want.bucket))]));
    let mut out = Vec::new();
    if want.versioning {
        out.push("versioning");
    }
    if fresh.is_ok_and(|f| f.server_side_encryption != want.server_side_encryption) {
        out.push("server_side_encryption");
    }
    out.push("public_access_block");
    let set = |v: Option<Value>| v.as_ref().is_some_and(is_set);
    let p = want.to_props();
    for f in ["policy", "lifecycle_rules", "cors_rules"] {
        if set(p.get(f).cloned()) {
            out.push(f);
        }
    }
    out
}

#[async_trait::async_trait]
impl Kind for Bucket {
    type Model = BucketModel;
    const ADOPT: Adopt = Adopt::ByName("bucket");
    const GONE: &'static [&'static str] = &[NO_BUCKET];

    fn schema(&self) -> &'static KindSchema {
        &SCHEMA
    }

    fn tagger(&self) -> Option<&dyn Tagger> {
        Some(&self.tags)
    }

    fn stack_tags(&self) -> Option<&crate::kit::tagging::StackTags> {
        self.tagging.as_ref()
    }

    async fn read(&self, ctx: &ReadCtx, ids: &[String]) -> Result<Vec<Live<BucketModel>>, ProviderError> {
        let arn = |name: &str| format!("arn:{}:s3:::{name}", super::partition(&self.region()));
        let arns: Vec<String> = ids.iter().map(|n| arn(n)).collect();
        // The tags and the settings side by side; a bucket whose tags were
        // not found is gone.
        let tags = tagging::tags_of(self.tagging.as_ref(), &ctx.stack, &arns, |a| async move {
            self.tags(a.rsplit(":::").next().unwrap_or_default()).await
        });
        let settings = crate::read_each(ids.iter().map(|name| self.read_bucket(ctx, name)));
        let (tags, settings) = futures::join!(tags, settings);
        let mut tags = tags?;
        Ok(settings?
            .into_iter()
            .filter_map(|mut l| {
                l.tags = tags.remove(&arn(&l.id))?;
                Some(l)
            })
            .collect())
    }

    async fn create(&self, ctx: &OpCtx, want: &BucketModel) -> Result<Created, ProviderError> {
        let name = want.bucket.as_str();
        // CreateBucket in us-east-1 answers 200 for a bucket the caller
        // already owns (and resets its ACLs): look first.
        let live = match self.head(name).await? {
            Head::Missing => {
                let untagged = self.create_bucket(name, &ctx.tags).await?;
                ctx.record_id(name);
                (!untagged).then(|| ctx.tags.clone())
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
                let live = self.tags(name).await?.unwrap_or_default();
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
                    .with_hint("it lacks this stack's deployctl tags: pick another name, or delete that bucket"));
                }
                // Ours from an earlier, interrupted create: finish it.
                ctx.record_id(name);
                Some(live)
            }
        };
        let attributes = Self::attributes(name, &self.region());
        let live_tags = live.unwrap_or_default();
        if live_tags != ctx.tags {
            let (set, unset) = tag_changes(&live_tags, &ctx.tags);
            let bucket = Observed { id: name.to_string(), ..Default::default() };
            self.tags.tag(&bucket, &TagChange { want: &ctx.tags, set: &set, unset: &unset }).await?;
        }
        self.converge(name, want, &to_set_on_new(want)).await?;
        Ok(Created { id: name.to_string(), attributes })
    }

    async fn update(
        &self,
        _ctx: &OpCtx,
        live: &Observed,
        want: &BucketModel,
        changed: &[&str],
    ) -> Result<Option<Props>, ProviderError> {
        // force_destroy: nothing to call; state records it.
        self.converge(&live.id, want, changed).await?;
        Ok(None)
    }

    async fn delete(&self, ctx: &OpCtx, live: &Observed, recorded: Option<&BucketModel>) -> Result<(), ProviderError> {
        if recorded.is_some_and(|r| r.force_destroy) {
            self.empty(ctx, &live.id).await?;
        }
        match self.client.delete_bucket().bucket(&live.id).send().await.map_err(from_sdk) {
            Err(e) if e.code_is("BucketNotEmpty") => Err(e.with_hint(
                "the bucket still holds objects: set force_destroy: true to delete them with it (apply that first, \
                 then delete), or empty it yourself",
            )),
            other => other.map(|_| ()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model<M: Model>(v: Value) -> M {
        M::from_props(v.as_object().unwrap()).unwrap()
    }

    #[test]
    fn rules_round_trip_through_the_sdk_shape() {
        let rule: Rule = model(json!({"id": "expire", "expiration_days": 90, "prefix": "logs/"}));
        assert_eq!(rule_model(&lifecycle_rule(&rule).unwrap()), rule);
        let rule: Rule = model(json!({"id": "all", "enabled": false, "abort_incomplete_multipart_upload_days": 7}));
        assert_eq!(rule_model(&lifecycle_rule(&rule).unwrap()), rule);
        let cors: Cors = model(json!({"allowed_origins": ["*"], "allowed_methods": ["GET"], "allowed_headers": []}));
        let back = cors_model(&cors_rule(&cors).unwrap());
        assert_eq!(back, model(json!({"allowed_origins": ["*"], "allowed_methods": ["GET"]})));
    }

    #[test]
    fn a_new_bucket_is_given_only_what_it_lacks() {
        let bare: BucketModel = model(json!({"bucket": "b"}));
        assert_eq!(to_set_on_new(&bare), vec!["public_access_block"]);
        let kms: BucketModel = model(json!({"bucket": "b", "server_side_encryption": {"sse_algorithm": "aws:kms"},
            "policy": {}, "lifecycle_rules": [{"id": "x", "expiration_days": 1}], "versioning": true}));
        assert_eq!(
            to_set_on_new(&kms),
            vec!["versioning", "server_side_encryption", "public_access_block", "lifecycle_rules"]
        );
    }
}
