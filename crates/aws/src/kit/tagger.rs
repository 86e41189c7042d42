//! The one tagger: the few shapes AWS's tag APIs have, each written once.
//! A kind names its shape; the adapter works out what to set and unset.
//!
//! - EC2: CreateTags and DeleteTags by resource id;
//! - ARN plus a list of `{Key, Value}` (ECR, ECS, SNS, CloudWatch, Secrets
//!   Manager, CodePipeline, CodeDeploy, EventBridge) or a map (CloudWatch Logs,
//!   Application Auto Scaling, Cognito, CodeCommit);
//! - ELBv2: AddTags and RemoveTags on a list of ARNs;
//! - the whole set at once (S3's PutBucketTagging);
//! - IAM: per resource type, by name (roles) or ARN (OIDC providers);
//! - SSM: by resource type and id;
//! - ACM: by certificate ARN, with lists; Route 53: one change by zone id;
//! - RDS: AddTagsToResource and RemoveTagsFromResource by ARN;
//! - CloudFront: TagResource and UntagResource by ARN, with the items
//!   wrapped (`Tags.Items`, `TagKeys.Items`).

use super::Tags;
use crate::error::from_sdk;
use async_trait::async_trait;
use deployctl_engine::{Observed, ProviderError};
use serde_json::Value;

/// What to change on one resource's tags.
pub struct TagChange<'a> {
    /// The whole set the resource must end with.
    pub want: &'a Tags,
    /// What is new or changed.
    pub set: &'a Tags,
    /// The keys to remove.
    pub unset: &'a [String],
}

/// Sets and removes tags on one live resource.
#[async_trait]
pub trait Tagger: Send + Sync {
    async fn tag(&self, live: &Observed, change: &TagChange<'_>) -> Result<(), ProviderError>;
}

/// The resource's ARN attribute, which ARN-addressed tag APIs take.
fn arn(live: &Observed) -> Result<&str, ProviderError> {
    live.attributes
        .get("arn")
        .and_then(Value::as_str)
        .ok_or_else(|| ProviderError::msg(format!("{} has no ARN to tag", live.id)))
}

fn build_err(e: impl std::fmt::Display) -> ProviderError {
    ProviderError::msg(format!("building a tag: {e}"))
}

/// EC2: CreateTags and DeleteTags by resource id.
pub struct Ec2Tags(pub aws_sdk_ec2::Client);

#[async_trait]
impl Tagger for Ec2Tags {
    async fn tag(&self, live: &Observed, c: &TagChange<'_>) -> Result<(), ProviderError> {
        use aws_sdk_ec2::types::Tag;
        if !c.set.is_empty() {
            let tags = c.set.iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect();
            self.0.create_tags().resources(&live.id).set_tags(Some(tags)).send().await.map_err(from_sdk)?;
        }
        if !c.unset.is_empty() {
            let tags = c.unset.iter().map(|k| Tag::builder().key(k).build()).collect();
            self.0.delete_tags().resources(&live.id).set_tags(Some(tags)).send().await.map_err(from_sdk)?;
        }
        Ok(())
    }
}

/// TagResource with the ARN and a list of `{Key, Value}`, UntagResource
/// with the keys: `$arn` names the ARN's setter, `$tag` builds one tag
/// from `(key, value)` as a `Result`.
macro_rules! arn_list_tagger {
    ($(#[$doc:meta])* $name:ident, $krate:ident, $arn:ident, $tag:expr) => {
        $(#[$doc])*
        pub struct $name(pub $krate::Client);

        #[async_trait]
        impl Tagger for $name {
            async fn tag(&self, live: &Observed, c: &TagChange<'_>) -> Result<(), ProviderError> {
                let arn = arn(live)?;
                if !c.set.is_empty() {
                    let make = $tag;
                    let tags = c.set.iter().map(|(k, v)| make(k, v).map_err(build_err)).collect::<Result<Vec<_>, _>>()?;
                    self.0.tag_resource().$arn(arn).set_tags(Some(tags)).send().await.map_err(from_sdk)?;
                }
                if !c.unset.is_empty() {
                    let keys = Some(c.unset.to_vec());
                    self.0.untag_resource().$arn(arn).set_tag_keys(keys).send().await.map_err(from_sdk)?;
                }
                Ok(())
            }
        }
    };
}

arn_list_tagger!(
    /// ECR repositories.
    EcrTags, aws_sdk_ecr, resource_arn,
    |k: &String, v: &String| aws_sdk_ecr::types::Tag::builder().key(k).value(v).build()
);
arn_list_tagger!(
    /// ECS clusters, services and task definitions.
    EcsTags, aws_sdk_ecs, resource_arn,
    |k: &String, v: &String| Ok::<_, std::convert::Infallible>(aws_sdk_ecs::types::Tag::builder().key(k).value(v).build())
);
arn_list_tagger!(
    /// SNS topics.
    SnsTags, aws_sdk_sns, resource_arn,
    |k: &String, v: &String| aws_sdk_sns::types::Tag::builder().key(k).value(v).build()
);
arn_list_tagger!(
    /// CloudWatch alarms.
    CloudWatchTags, aws_sdk_cloudwatch, resource_arn,
    |k: &String, v: &String| Ok::<_, std::convert::Infallible>(aws_sdk_cloudwatch::types::Tag::builder().key(k).value(v).build())
);
arn_list_tagger!(
    /// Secrets Manager secrets (addressed by ARN as their id).
    SecretsManagerTags, aws_sdk_secretsmanager, secret_id,
    |k: &String, v: &String| Ok::<_, std::convert::Infallible>(aws_sdk_secretsmanager::types::Tag::builder().key(k).value(v).build())
);
arn_list_tagger!(
    /// CodePipeline pipelines.
    CodePipelineTags, aws_sdk_codepipeline, resource_arn,
    |k: &String, v: &String| aws_sdk_codepipeline::types::Tag::builder().key(k).value(v).build()
);
arn_list_tagger!(
    /// CodeDeploy applications and deployment groups.
    CodeDeployTags, aws_sdk_codedeploy, resource_arn,
    |k: &String, v: &String| Ok::<_, std::convert::Infallible>(aws_sdk_codedeploy::types::Tag::builder().key(k).value(v).build())
);
arn_list_tagger!(
    /// EventBridge rules.
    EventsTags, aws_sdk_eventbridge, resource_arn,
    |k: &String, v: &String| aws_sdk_eventbridge::types::Tag::builder().key(k).value(v).build()
);

/// TagResource with the ARN and the tags as a map, UntagResource with the
/// keys.
macro_rules! arn_map_tagger {
    ($(#[$doc:meta])* $name:ident, $krate:ident) => {
        $(#[$doc])*
        pub struct $name(pub $krate::Client);

        #[async_trait]
        impl Tagger for $name {
            async fn tag(&self, live: &Observed, c: &TagChange<'_>) -> Result<(), ProviderError> {
                let arn = arn(live)?;
                if !c.set.is_empty() {
                    let tags = c.set.clone().into_iter().collect();
                    self.0.tag_resource().resource_arn(arn).set_tags(Some(tags)).send().await.map_err(from_sdk)?;
                }
                if !c.unset.is_empty() {
                    let keys = Some(c.unset.to_vec());
                    self.0.untag_resource().resource_arn(arn).set_tag_keys(keys).send().await.map_err(from_sdk)?;
                }
                Ok(())
            }
        }
    };
}

arn_map_tagger!(
    /// CloudWatch Logs log groups (their ARN without the trailing `:*`).
    LogsTags, aws_sdk_cloudwatchlogs
);
arn_map_tagger!(
    /// Application Auto Scaling targets and policies.
    AppAutoScalingTags, aws_sdk_applicationautoscaling
);
arn_map_tagger!(
    /// CodeCommit repositories (moto 5.2.5 answers 500 to these; AWS takes
    /// them).
    CodeCommitTags, aws_sdk_codecommit
);
arn_map_tagger!(
    /// Cognito user pools (moto 5.2.5 answers 500 to these; AWS takes them).
    CognitoTags, aws_sdk_cognitoidentityprovider
);

/// ELBv2: AddTags and RemoveTags on a list of ARNs.
pub struct Elbv2Tags(pub aws_sdk_elasticloadbalancingv2::Client);

#[async_trait]
impl Tagger for Elbv2Tags {
    async fn tag(&self, live: &Observed, c: &TagChange<'_>) -> Result<(), ProviderError> {
        use aws_sdk_elasticloadbalancingv2::types::Tag;
        let arn = arn(live)?;
        if !c.set.is_empty() {
            let tags = c.set.iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect();
            self.0.add_tags().resource_arns(arn).set_tags(Some(tags)).send().await.map_err(from_sdk)?;
        }
        if !c.unset.is_empty() {
            let keys = Some(c.unset.to_vec());
            self.0.remove_tags().resource_arns(arn).set_tag_keys(keys).send().await.map_err(from_sdk)?;
        }
        Ok(())
    }
}

/// S3 buckets: the whole set at once (PutBucketTagging), or
/// DeleteBucketTagging for none. The bucket's name is its id.
pub struct S3Tags(pub aws_sdk_s3::Client);

#[async_trait]
impl Tagger for S3Tags {
    async fn tag(&self, live: &Observed, c: &TagChange<'_>) -> Result<(), ProviderError> {
        use aws_sdk_s3::types::{Tag, Tagging};
        if c.want.is_empty() {
            self.0.delete_bucket_tagging().bucket(&live.id).send().await.map_err(from_sdk)?;
            return Ok(());
        }
        let set = c
            .want
            .iter()
            .map(|(k, v)| Tag::builder().key(k).value(v).build().map_err(build_err))
            .collect::<Result<Vec<_>, _>>()?;
        let tagging = Tagging::builder().set_tag_set(Some(set)).build().map_err(build_err)?;
        self.0.put_bucket_tagging().bucket(&live.id).tagging(tagging).send().await.map_err(from_sdk)?;
        Ok(())
    }
}

/// IAM roles: TagRole and UntagRole by the role's name (its id).
pub struct IamRoleTags(pub aws_sdk_iam::Client);

#[async_trait]
impl Tagger for IamRoleTags {
    async fn tag(&self, live: &Observed, c: &TagChange<'_>) -> Result<(), ProviderError> {
        use aws_sdk_iam::types::Tag;
        if !c.set.is_empty() {
            let tags = c
                .set
                .iter()
                .map(|(k, v)| Tag::builder().key(k).value(v).build().map_err(build_err))
                .collect::<Result<Vec<_>, _>>()?;
            self.0.tag_role().role_name(&live.id).set_tags(Some(tags)).send().await.map_err(from_sdk)?;
        }
        if !c.unset.is_empty() {
            let keys = Some(c.unset.to_vec());
            self.0.untag_role().role_name(&live.id).set_tag_keys(keys).send().await.map_err(from_sdk)?;
        }
        Ok(())
    }
}

/// IAM OIDC providers: by ARN (their id).
pub struct IamOidcTags(pub aws_sdk_iam::Client);

#[async_trait]
impl Tagger for IamOidcTags {
    async fn tag(&self, live: &Observed, c: &TagChange<'_>) -> Result<(), ProviderError> {
        use aws_sdk_iam::types::Tag;
        if !c.set.is_empty() {
            let tags = c
                .set
                .iter()
                .map(|(k, v)| Tag::builder().key(k).value(v).build().map_err(build_err))
                .collect::<Result<Vec<_>, _>>()?;
            let call = self.0.tag_open_id_connect_provider().open_id_connect_provider_arn(&live.id);
            call.set_tags(Some(tags)).send().await.map_err(from_sdk)?;
        }
        if !c.unset.is_empty() {
            let call = self.0.untag_open_id_connect_provider().open_id_connect_provider_arn(&live.id);
            call.set_tag_keys(Some(c.unset.to_vec())).send().await.map_err(from_sdk)?;
        }
        Ok(())
    }
}

/// SSM: AddTagsToResource and RemoveTagsFromResource by resource type and
/// id (a parameter's name).
pub struct SsmTags(pub aws_sdk_ssm::Client);

#[async_trait]
impl Tagger for SsmTags {
    async fn tag(&self, live: &Observed, c: &TagChange<'_>) -> Result<(), ProviderError> {
        use aws_sdk_ssm::types::{ResourceTypeForTagging as Type, Tag};
        if !c.set.is_empty() {
            let tags = c.set.iter().map(|(k, v)| Tag::builder().key(k).value(v).build().map_err(build_err));
            let tags = Some(tags.collect::<Result<Vec<_>, _>>()?);
            let add = self.0.add_tags_to_resource().resource_type(Type::Parameter).resource_id(&live.id);
            add.set_tags(tags).send().await.map_err(from_sdk)?;
        }
        if !c.unset.is_empty() {
            let remove = self.0.remove_tags_from_resource().resource_type(Type::Parameter).resource_id(&live.id);
            remove.set_tag_keys(Some(c.unset.to_vec())).send().await.map_err(from_sdk)?;
        }
        Ok(())
    }
}

/// CodeBuild projects: the whole set at once, in UpdateProject by name
/// (their id), which replaces the tags it is given.
pub struct CodeBuildTags(pub aws_sdk_codebuild::Client);

#[async_trait]
impl Tagger for CodeBuildTags {
    async fn tag(&self, live: &Observed, c: &TagChange<'_>) -> Result<(), ProviderError> {
        use aws_sdk_codebuild::types::Tag;
        let tags = c.want.iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect();
        self.0.update_project().name(&live.id).set_tags(Some(tags)).send().await.map_err(from_sdk)?;
        Ok(())
    }
}

/// ACM certificates: AddTagsToCertificate and RemoveTagsFromCertificate
/// by ARN (their id), both with a list of `{Key, Value}`.
pub struct AcmTags(pub aws_sdk_acm::Client);

#[async_trait]
impl Tagger for AcmTags {
    async fn tag(&self, live: &Observed, c: &TagChange<'_>) -> Result<(), ProviderError> {
        use aws_sdk_acm::types::Tag;
        if !c.set.is_empty() {
            let tags = c.set.iter().map(|(k, v)| Tag::builder().key(k).value(v).build().map_err(build_err));
            let tags = Some(tags.collect::<Result<Vec<_>, _>>()?);
            let add = self.0.add_tags_to_certificate().certificate_arn(&live.id);
            add.set_tags(tags).send().await.map_err(from_sdk)?;
        }
        if !c.unset.is_empty() {
            let tags = c.unset.iter().map(|k| Tag::builder().key(k).build().map_err(build_err));
            let tags = Some(tags.collect::<Result<Vec<_>, _>>()?);
            let remove = self.0.remove_tags_from_certificate().certificate_arn(&live.id);
            remove.set_tags(tags).send().await.map_err(from_sdk)?;
        }
        Ok(())
    }
}

/// Route 53 hosted zones: one ChangeTagsForResource by resource type and
/// id, with what to add and what to remove.
pub struct Route53Tags(pub aws_sdk_route53::Client);

#[async_trait]
impl Tagger for Route53Tags {
    async fn tag(&self, live: &Observed, c: &TagChange<'_>) -> Result<(), ProviderError> {
        use aws_sdk_route53::types::{Tag, TagResourceType};
        let add: Vec<Tag> = c.set.iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect();
        let call = self.0.change_tags_for_resource().resource_type(TagResourceType::Hostedzone).resource_id(&live.id);
        let call = call.set_add_tags(Some(add).filter(|a| !a.is_empty()));
        let call = call.set_remove_tag_keys(Some(c.unset.to_vec()).filter(|u| !u.is_empty()));
        call.send().await.map_err(from_sdk)?;
        Ok(())
    }
}

/// RDS instances, subnet groups and parameter groups: AddTagsToResource and
/// RemoveTagsFromResource by the resource's ARN.
pub struct RdsTags(pub aws_sdk_rds::Client);

#[async_trait]
impl Tagger for RdsTags {
    async fn tag(&self, live: &Observed, c: &TagChange<'_>) -> Result<(), ProviderError> {
        let arn = arn(live)?;
        if !c.set.is_empty() {
            let tags = c.set.iter().map(|(k, v)| aws_sdk_rds::types::Tag::builder().key(k).value(v).build());
            self.0
                .add_tags_to_resource()
                .resource_name(arn)
                .set_tags(Some(tags.collect()))
                .send()
                .await
                .map_err(from_sdk)?;
        }
        if !c.unset.is_empty() {
            let remove = self.0.remove_tags_from_resource().resource_name(arn);
            remove.set_tag_keys(Some(c.unset.to_vec())).send().await.map_err(from_sdk)?;
        }
        Ok(())
    }
}

/// CloudFront distributions: TagResource and UntagResource by ARN, the
/// tags and keys each wrapped in an `Items` list.
pub struct CloudFrontTags(pub aws_sdk_cloudfront::Client);

#[async_trait]
impl Tagger for CloudFrontTags {
    async fn tag(&self, live: &Observed, c: &TagChange<'_>) -> Result<(), ProviderError> {
        use aws_sdk_cloudfront::types::{Tag, TagKeys, Tags};
        let arn = arn(live)?;
        if !c.set.is_empty() {
            let items = c.set.iter().map(|(k, v)| Tag::builder().key(k).value(v).build().map_err(build_err));
            let tags = Tags::builder().set_items(Some(items.collect::<Result<_, _>>()?)).build();
            self.0.tag_resource().resource(arn).tags(tags).send().await.map_err(from_sdk)?;
        }
        if !c.unset.is_empty() {
            let keys = TagKeys::builder().set_items(Some(c.unset.to_vec())).build();
            self.0.untag_resource().resource(arn).tag_keys(keys).send().await.map_err(from_sdk)?;
        }
        Ok(())
    }
}
