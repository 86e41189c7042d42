//! `deployctl init`: creates the S3 backend a stack names, idempotently.
//!
//! - the state bucket: versioned (every state write is kept), encrypted by
//!   default (SSE-S3), public access blocked, and a policy that refuses any
//!   request not made over TLS;
//! - the DynamoDB lock table (`LockID` string key), billed on demand.
//!
//! Each step is a put of the desired setting, so running it again changes
//! nothing and reports what already existed.

use crate::backend::StateError;
use crate::s3::{aws_error, S3Backend};
use aws_sdk_dynamodb::types::{AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType};
use aws_sdk_s3::types::{
    BucketLocationConstraint, BucketVersioningStatus, CreateBucketConfiguration, PublicAccessBlockConfiguration,
    ServerSideEncryption, ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration, ServerSideEncryptionRule,
    VersioningConfiguration,
};
use std::time::{Duration, Instant};

/// What `init` did, step by step, for the CLI to report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootstrapReport {
    pub bucket_created: bool,
    pub table_created: bool,
    /// One line per setting applied.
    pub steps: Vec<String>,
}

/// The bucket policy that refuses requests not made over TLS.
pub fn tls_only_policy(bucket: &str) -> String {
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [format!("arn:aws:s3:::{bucket}"), format!("arn:aws:s3:::{bucket}/*")],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}}
        }]
    })
    .to_string()
}

impl S3Backend {
    /// Creates (or brings into line) the bucket and the lock table.
    /// `over_tls` says whether this client reaches S3 over TLS: the TLS-only
    /// policy would lock a plain-http client (a local endpoint) out of its
    /// own state, so it is then skipped, and the report says so.
    pub async fn bootstrap(&self, over_tls: bool) -> Result<BootstrapReport, StateError> {
        let bucket = self.bucket().to_string();
        let loc = format!("s3://{bucket}");
        let s3 = self.s3_client();
        let mut report = BootstrapReport { bucket_created: false, table_created: false, steps: Vec::new() };

        // The bucket.
        let region = s3.config().region().map(|r| r.to_string()).unwrap_or_else(|| "us-east-1".into());
        let mut create = s3.create_bucket().bucket(&bucket);
        if region != "us-east-1" {
            create = create.create_bucket_configuration(
                CreateBucketConfiguration::builder()
                    .location_constraint(BucketLocationConstraint::from(region.as_str()))
                    .build(),
            );
        }
        // HeadBucket first: in us-east-1, CreateBucket on a bucket you own
        // answers 200, so its answer cannot tell "created" from "existed".
        let exists = match s3.head_bucket().bucket(&bucket).send().await {
            Ok(_) => true,
            Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 404) => false,
            Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 403) => {
                return Err(StateError::Aws {
                    operation: "checking".into(),
                    location: loc,
                    code: "AccessDenied".into(),
                    message: format!(
                        "{bucket} exists but these credentials cannot use it (bucket names are global: another account may own it; choose another name in the spec's backend)"
                    ),
                })
            }
            Err(e) => return Err(aws_error("checking", &loc, &e)),
        };
        if exists {
            report.steps.push(format!("bucket {bucket} already exists"));
        } else {
            match create.send().await {
                Ok(_) => {
                    report.bucket_created = true;
                    report.steps.push(format!("created bucket {bucket} in {region}"));
                }
                Err(e)
                    if matches!(aws_sdk_s3::error::ProvideErrorMetadata::code(&e), Some("BucketAlreadyOwnedByYou")) =>
                {
                    report.steps.push(format!("bucket {bucket} already exists"));
                }
                Err(e) => {
                    let mut err = aws_error("creating bucket", &loc, &e);
                    if let StateError::Aws { code, message, .. } = &mut err {
                        if code == "BucketAlreadyExists" {
                            *message = format!("{message} (bucket names are global: another account owns {bucket}; choose another name in the spec's backend)");
                        }
                    }
                    return Err(err);
                }
            }
        }
        s3.put_bucket_versioning()
            .bucket(&bucket)
            .versioning_configuration(
                VersioningConfiguration::builder().status(BucketVersioningStatus::Enabled).build(),
            )
            .send()
            .await
            .map_err(|e| aws_error("enabling versioning on", &loc, &e))?;
        report.steps.push("versioning enabled".into());
        let sse = ServerSideEncryptionConfiguration::builder()
            .rules(
                ServerSideEncryptionRule::builder()
                    .apply_server_side_encryption_by_default(
                        ServerSideEncryptionByDefault::builder()
                            .sse_algorithm(ServerSideEncryption::Aes256)
                            .build()
                            .map_err(|e| StateError::Io {
                                operation: "building the encryption setting for".into(),
                                location: loc.clone(),
                                message: e.to_string(),
                            })?,
                    )
                    .build(),
            )
            .build()
            .map_err(|e| StateError::Io {
                operation: "building the encryption setting for".into(),
                location: loc.clone(),
                message: e.to_string(),
            })?;
        s3.put_bucket_encryption()
            .bucket(&bucket)
            .server_side_encryption_configuration(sse)
            .send()
            .await
            .map_err(|e| aws_error("setting default encryption on", &loc, &e))?;
        report.steps.push("default encryption: SSE-S3 (AES256)".into());
        s3.put_public_access_block()
            .bucket(&bucket)
            .public_access_block_configuration(
                PublicAccessBlockConfiguration::builder()
                    .block_public_acls(true)
                    .ignore_public_acls(true)
                    .block_public_policy(true)
                    .restrict_public_buckets(true)
                    .build(),
            )
            .send()
            .await
            .map_err(|e| aws_error("blocking public access to", &loc, &e))?;
        report.steps.push("public access blocked".into());
        if over_tls {
            s3.put_bucket_policy()
                .bucket(&bucket)
                .policy(tls_only_policy(&bucket))
                .send()
                .await
                .map_err(|e| aws_error("setting the TLS-only policy on", &loc, &e))?;
            report.steps.push("policy: requests without TLS are denied".into());
        } else {
            report.steps.push(
                "policy: NOT set — this endpoint is plain http, and a TLS-only policy would lock this client out"
                    .into(),
            );
        }

        // The lock table.
        let table = self.table().to_string();
        let tloc = format!("dynamodb table {table}");
        let ddb = self.dynamodb_client();
        let created = ddb
            .create_table()
            .table_name(&table)
            .key_schema(KeySchemaElement::builder().attribute_name("LockID").key_type(KeyType::Hash).build().map_err(
                |e| StateError::Io { operation: "describing".into(), location: tloc.clone(), message: e.to_string() },
            )?)
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name("LockID")
                    .attribute_type(ScalarAttributeType::S)
                    .build()
                    .map_err(|e| StateError::Io {
                        operation: "describing".into(),
                        location: tloc.clone(),
                        message: e.to_string(),
                    })?,
            )
            .billing_mode(BillingMode::PayPerRequest)
            .send()
            .await;
        match created {
            Ok(_) => {
                report.table_created = true;
                report.steps.push(format!("created lock table {table} (on-demand billing)"));
            }
            Err(e)
                if matches!(
                    aws_sdk_dynamodb::error::ProvideErrorMetadata::code(&e),
                    Some("ResourceInUseException")
                ) =>
            {
                report.steps.push(format!("lock table {table} already exists"));
            }
            Err(e) => return Err(aws_error("creating", &tloc, &e)),
        }
        // Usable once ACTIVE; check its key is the one the lock uses.
        let start = Instant::now();
        loop {
            let d =
                ddb.describe_table().table_name(&table).send().await.map_err(|e| aws_error("reading", &tloc, &e))?;
            let t = d.table();
            let key_ok = t.is_some_and(|t| {
                t.key_schema().len() == 1
                    && t.key_schema()[0].attribute_name() == "LockID"
                    && t.key_schema()[0].key_type() == &KeyType::Hash
            });
            if !key_ok {
                return Err(StateError::Aws {
                    operation: "checking".into(),
                    location: tloc,
                    code: "InvalidKeySchema".into(),
                    message: "the table exists but its key is not a single hash key named LockID; name another table in the spec's backend".into(),
                });
            }
            if t.and_then(|t| t.table_status()).is_some_and(|s| s.as_str() == "ACTIVE") {
                break;
            }
            if start.elapsed() > Duration::from_secs(120) {
                return Err(StateError::Aws {
                    operation: "waiting for".into(),
                    location: tloc,
                    code: "Timeout".into(),
                    message: "the table did not become ACTIVE within 2 minutes".into(),
                });
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        Ok(report)
    }
}
