//! `s3.bucket_policy`: a bucket's policy as a resource of its own
//! (Terraform's `aws_s3_bucket_policy`).
//!
//! A policy that names what is made from the bucket, such as the CloudFront
//! distribution that serves it (`AWS:SourceArn: ${cdn.arn}`), cannot be the
//! bucket's own `policy` without a cycle; this kind comes after both. The
//! id is the bucket name. A read is one GetBucketPolicy per bucket,
//! concurrently; a bucket without a policy reads as gone. Create and update
//! are one PutBucketPolicy, idempotent, with the id recorded before the
//! call. Delete is DeleteBucketPolicy; a bucket already gone is success.

use crate::error::from_sdk;
use crate::kit::{attrs, model, policy::parse_policy, unless_gone, Adopt, Created, Kind, Live};
use aws_sdk_s3::Client;
use deployctl_engine::{Observed, OpCtx, Props, ProviderError, ReadCtx};
use deployctl_spec::{Attr, KindSchema};
use serde_json::{json, Value};

model! {
    pub struct BucketPolicyModel {
        bucket: String = "The bucket's name (`${site.name}`)." [required, replace, unique],
        policy: Value = "The policy document, written as YAML (sent as JSON, compared semantically). Its \
                         `Resource` names the bucket (`${site.arn}/*`)." [required],
    }
}

pub static SCHEMA: KindSchema = KindSchema {
    type_name: "s3.bucket_policy",
    doc: "The policy of an S3 bucket, as its own resource, so that the policy can name what depends on the bucket: \
          the CloudFront distribution that reads it through an origin access control (`Condition: {StringEquals: \
          {AWS:SourceArn: ${cdn.arn}}}`). Do not also set the bucket's own `policy`. Destroying it deletes the \
          policy; the bucket stays.",
    properties: <BucketPolicyModel as crate::kit::Model>::PROPS,
    attributes: &[Attr { name: "id", doc: "The bucket name." }, Attr { name: "bucket", doc: "The bucket name." }],
    taggable: false,
    rules: &[],
    example: "site_policy:\n  type: s3.bucket_policy\n  properties:\n    bucket: ${site.name}\n    policy:\n      \
              Version: \"2012-10-17\"\n      Statement:\n        - Effect: Allow\n          Principal: {Service: \
              cloudfront.amazonaws.com}\n          Action: s3:GetObject\n          Resource: \"${site.arn}/*\"\n          \
              Condition: {StringEquals: {AWS:SourceArn: \"${cdn.arn}\"}}\n",
};

fn attributes(bucket: &str) -> Props {
    attrs([("id", json!(bucket)), ("bucket", json!(bucket))])
}

pub struct BucketPolicy {
    client: Client,
}

impl BucketPolicy {
    pub fn new(client: Client) -> BucketPolicy {
        BucketPolicy { client }
    }

    async fn read_one(&self, bucket: &str) -> Result<Option<Live<BucketPolicyModel>>, ProviderError> {
        let r = self.client.get_bucket_policy().bucket(bucket).send().await.map_err(from_sdk);
        let Some(out) = unless_gone(r, crate::kit::is_gone::<Self>)? else { return Ok(None) };
        let Some(policy) = out.policy().map(parse_policy) else { return Ok(None) };
        Ok(Some(Live {
            id: bucket.to_string(),
            model: BucketPolicyModel { bucket: bucket.to_string(), policy },
            tags: Default::default(),
            attributes: attributes(bucket),
        }))
    }

    async fn put(&self, bucket: &str, policy: &Value) -> Result<(), ProviderError> {
        let text = match policy {
            Value::Object(m) if !m.is_empty() => policy.to_string(),
            Value::String(s) if !s.trim().is_empty() => s.clone(),
            _ => {
                return Err(ProviderError::new(Some("MalformedPolicy".into()), "the bucket policy is empty")
                    .with_hint("write the policy document as a YAML mapping"))
            }
        };
        let r = self.client.put_bucket_policy().bucket(bucket).policy(text).send().await.map_err(from_sdk);
        r.map_err(|e| {
            if crate::is_not_found(&e) {
                e.with_hint(format!("the bucket {bucket} does not exist; create it first (bucket: ${{site.name}})"))
            } else if e.code_is("AccessDenied") {
                e.with_hint(
                    "a public policy is refused while the bucket's public_access_block.block_public_policy is true; \
                     or the caller lacks s3:PutBucketPolicy",
                )
            } else {
                e.with_hint("check the policy document: its Resource must name this bucket")
            }
        })?;
        Ok(())
    }
}

#[async_trait::async_trait]
impl Kind for BucketPolicy {
    type Model = BucketPolicyModel;
    /// Nothing to find: a policy is not tagged, and putting it again is
    /// harmless.
    const ADOPT: Adopt = Adopt::Never;
    const GONE: &'static [&'static str] = &["NoSuchBucket", "NoSuchBucketPolicy"];

    fn schema(&self) -> &'static KindSchema {
        &SCHEMA
    }

    async fn read(&self, _ctx: &ReadCtx, ids: &[String]) -> Result<Vec<Live<BucketPolicyModel>>, ProviderError> {
        crate::read_each(ids.iter().map(|b| self.read_one(b))).await
    }

    async fn create(&self, ctx: &OpCtx, want: &BucketPolicyModel) -> Result<Created, ProviderError> {
        ctx.record_id(&want.bucket);
        self.put(&want.bucket, &want.policy).await?;
        Ok(Created { id: want.bucket.clone(), attributes: attributes(&want.bucket) })
    }

    async fn update(
        &self,
        _: &OpCtx,
        live: &Observed,
        want: &BucketPolicyModel,
        _: &[&str],
    ) -> Result<Option<Props>, ProviderError> {
        self.put(&live.id, &want.policy).await?;
        Ok(None)
    }

    async fn delete(&self, _: &OpCtx, live: &Observed, _: Option<&BucketPolicyModel>) -> Result<(), ProviderError> {
        self.client.delete_bucket_policy().bucket(&live.id).send().await.map_err(from_sdk)?;
        Ok(())
    }
}
