//! deployctl-aws: one module per resource kind, the SDK clients, and the
//! interceptor that counts API calls. This crate and the state crate are the
//! only ones that import AWS SDK crates.

pub mod acm;
pub mod appautoscaling;
mod calls;
pub mod checks;
pub mod cloudfront;
pub mod cloudwatch;
pub mod codebuild;
pub mod codecommit;
pub mod codedeploy;
pub mod codepipeline;
pub mod cognito;
pub mod cost;
pub mod data;
pub mod ec2;
pub mod ecr;
pub mod ecs;
pub mod elbv2;
mod error;
pub mod events;
pub mod iam;
pub mod kit;
pub mod lint;
pub mod logs;
pub mod rds;
pub mod reference;
pub mod route53;
pub mod s3;
pub mod secret_store;
pub mod secretsmanager;
pub mod sns;
pub mod ssm;
mod tags;
pub mod verify;

pub use calls::CountCalls;
pub use error::{from_sdk, is_not_found};

use deployctl_engine::{ApiCalls, Kinds, ProviderError, ResourceKind};
use deployctl_spec::KindSchema;
use std::sync::Arc;

pub use aws_types::SdkConfig;

/// Runs one read per resource concurrently: the first error fails the
/// whole read, and resources that are gone (`None`) are left out. For APIs
/// without a batch read.
pub(crate) async fn read_each<T, F>(reads: impl IntoIterator<Item = F>) -> Result<Vec<T>, ProviderError>
where
    F: std::future::Future<Output = Result<Option<T>, ProviderError>>,
{
    let mut out = Vec::new();
    for r in futures::future::join_all(reads).await {
        out.extend(r?);
    }
    Ok(out)
}

/// One resource kind: its schema and how to build it from a run's clients.
pub struct Entry {
    pub schema: &'static KindSchema,
    pub make: fn(&Aws) -> Arc<dyn ResourceKind>,
}

/// The registry: every kind, once. `validate` reads the schemas, `up`
/// builds the kinds, and the two cannot drift apart.
pub static REGISTRY: &[Entry] = &[
    Entry {
        schema: &ec2::vpc::SCHEMA,
        make: |aws| kit::Adapter::arc(ec2::vpc::Vpc::new(aws.ec2()).sharing(aws.ec2_tagged.clone())),
    },
    Entry {
        schema: &ec2::subnet::SCHEMA,
        make: |aws| kit::Adapter::arc(ec2::subnet::Subnet::new(aws.ec2()).sharing(aws.ec2_tagged.clone())),
    },
    Entry {
        schema: &ec2::internet_gateway::SCHEMA,
        make: |aws| {
            kit::Adapter::arc(ec2::internet_gateway::InternetGateway::new(aws.ec2()).sharing(aws.ec2_tagged.clone()))
        },
    },
    Entry {
        schema: &ec2::security_group::SCHEMA,
        make: |aws| {
            kit::Adapter::arc(
                ec2::security_group::SecurityGroup::with_account(aws.ec2(), aws.account.clone())
                    .sharing(aws.ec2_tagged.clone()),
            )
        },
    },
    Entry {
        schema: &ec2::elastic_ip::SCHEMA,
        make: |aws| {
            kit::Adapter::arc(
                ec2::elastic_ip::ElasticIp::with_account(aws.ec2(), aws.account.clone())
                    .sharing(aws.ec2_tagged.clone()),
            )
        },
    },
    Entry {
        schema: &ec2::nat_gateway::SCHEMA,
        make: |aws| {
            kit::Adapter::arc(
                ec2::nat_gateway::NatGateway::with_account(aws.ec2(), aws.account.clone())
                    .sharing(aws.ec2_tagged.clone()),
            )
        },
    },
    Entry {
        schema: &ec2::route_table::SCHEMA,
        make: |aws| kit::Adapter::arc(ec2::route_table::RouteTable::new(aws.ec2()).sharing(aws.ec2_tagged.clone())),
    },
    Entry {
        schema: &ec2::vpc_endpoint::SCHEMA,
        make: |aws| kit::Adapter::arc(ec2::vpc_endpoint::VpcEndpoint::new(aws.ec2()).sharing(aws.ec2_tagged.clone())),
    },
    Entry { schema: &iam::role::SCHEMA, make: |aws| kit::Adapter::arc(iam::role::Role::new(aws.iam())) },
    Entry {
        schema: &iam::oidc_provider::SCHEMA,
        make: |aws| kit::Adapter::arc(iam::oidc_provider::OidcProvider::new(aws.iam())),
    },
    Entry {
        schema: &logs::log_group::SCHEMA,
        make: |aws| kit::Adapter::arc(logs::log_group::LogGroup::new(aws.logs()).with_stack_tags(aws.stack_tags())),
    },
    Entry {
        schema: &secretsmanager::secret::SCHEMA,
        make: |aws| kit::Adapter::arc(secretsmanager::secret::Secret::new(aws.secretsmanager())),
    },
    Entry {
        schema: &ecr::repository::SCHEMA,
        make: |aws| kit::Adapter::arc(ecr::repository::Repository::new(aws.ecr()).with_stack_tags(aws.stack_tags())),
    },
    Entry {
        schema: &elbv2::load_balancer::SCHEMA,
        make: |aws| {
            kit::Adapter::arc(elbv2::load_balancer::LoadBalancer::new(aws.elbv2()).with_stack_tags(aws.stack_tags()))
        },
    },
    Entry {
        schema: &elbv2::target_group::SCHEMA,
        make: |aws| {
            kit::Adapter::arc(elbv2::target_group::TargetGroup::new(aws.elbv2()).with_stack_tags(aws.stack_tags()))
        },
    },
    Entry {
        schema: &elbv2::listener::SCHEMA,
        make: |aws| kit::Adapter::arc(elbv2::listener::Listener::new(aws.elbv2()).with_stack_tags(aws.stack_tags())),
    },
    Entry {
        schema: &acm::certificate::SCHEMA,
        make: |aws| kit::Adapter::arc(acm::certificate::Certificate::new(aws.acm())),
    },
    Entry {
        schema: &acm::validation::SCHEMA,
        make: |aws| kit::Adapter::arc(acm::validation::Validation::new(aws.acm())),
    },
    Entry {
        schema: &cognito::user_pool::SCHEMA,
        make: |aws| kit::Adapter::arc(cognito::user_pool::UserPool::new(aws.cognito())),
    },
    Entry {
        schema: &cognito::client::SCHEMA,
        make: |aws| kit::Adapter::arc(cognito::client::PoolClient::new(aws.cognito())),
    },
    Entry {
        schema: &cognito::domain::SCHEMA,
        make: |aws| kit::Adapter::arc(cognito::domain::Domain::new(aws.cognito())),
    },
    Entry {
        schema: &rds::subnet_group::SCHEMA,
        make: |aws| kit::Adapter::arc(rds::subnet_group::SubnetGroup::new(aws.rds())),
    },
    Entry {
        schema: &rds::parameter_group::SCHEMA,
        make: |aws| kit::Adapter::arc(rds::parameter_group::ParameterGroup::new(aws.rds())),
    },
    Entry {
        schema: &rds::db_instance::SCHEMA,
        make: |aws| kit::Adapter::arc(rds::db_instance::Instance::new(aws.rds())),
    },
    Entry {
        schema: &route53::hosted_zone::SCHEMA,
        make: |aws| kit::Adapter::arc(route53::hosted_zone::HostedZone::new(aws.route53())),
    },
    Entry {
        schema: &route53::record::SCHEMA,
        make: |aws| kit::Adapter::arc(route53::record::Record::new(aws.route53())),
    },
    Entry {
        schema: &elbv2::listener_rule::SCHEMA,
        make: |aws| {
            kit::Adapter::arc(elbv2::listener_rule::ListenerRule::new(aws.elbv2()).with_stack_tags(aws.stack_tags()))
        },
    },
    Entry { schema: &ecs::cluster::SCHEMA, make: |aws| kit::Adapter::arc(ecs::cluster::Cluster::new(aws.ecs())) },
    Entry {
        schema: &ecs::task_definition::SCHEMA,
        make: |aws| kit::Adapter::arc(ecs::task_definition::TaskDefinition::new(aws.ecs())),
    },
    Entry {
        schema: &ecs::service::SCHEMA,
        make: |aws| kit::Adapter::arc(ecs::service::Service::new(aws.ecs()).with_codedeploy(aws.codedeploy())),
    },
    Entry {
        schema: &s3::bucket::SCHEMA,
        make: |aws| kit::Adapter::arc(s3::bucket::Bucket::new(aws.s3()).with_stack_tags(aws.stack_tags())),
    },
    Entry {
        schema: &ssm::parameter::SCHEMA,
        make: |aws| kit::Adapter::arc(ssm::parameter::Parameter::new(aws.ssm()).with_stack_tags(aws.stack_tags())),
    },
    Entry {
        schema: &sns::topic::SCHEMA,
        make: |aws| kit::Adapter::arc(sns::topic::Topic::new(aws.sns()).with_stack_tags(aws.stack_tags())),
    },
    Entry {
        schema: &sns::topic_policy::SCHEMA,
        make: |aws| kit::Adapter::arc(sns::topic_policy::TopicPolicy::new(aws.sns())),
    },
    Entry {
        schema: &cloudwatch::alarm::SCHEMA,
        make: |aws| {
            kit::Adapter::arc(cloudwatch::alarm::Alarm::new(aws.cloudwatch()).with_stack_tags(aws.stack_tags()))
        },
    },
    Entry {
        schema: &cloudwatch::dashboard::SCHEMA,
        make: |aws| kit::Adapter::arc(cloudwatch::dashboard::Dashboard::new(aws.cloudwatch())),
    },
    Entry {
        schema: &appautoscaling::target::SCHEMA,
        make: |aws| kit::Adapter::arc(appautoscaling::target::Target::new(aws.appautoscaling())),
    },
    Entry {
        schema: &appautoscaling::policy::SCHEMA,
        make: |aws| kit::Adapter::arc(appautoscaling::policy::Policy::new(aws.appautoscaling())),
    },
    Entry {
        schema: &codebuild::project::SCHEMA,
        make: |aws| kit::Adapter::arc(codebuild::project::Project::new(aws.codebuild())),
    },
    Entry {
        schema: &codepipeline::pipeline::SCHEMA,
        make: |aws| kit::Adapter::arc(codepipeline::pipeline::Pipeline::new(aws.codepipeline())),
    },
    Entry {
        schema: &codedeploy::application::SCHEMA,
        make: |aws| {
            kit::Adapter::arc(codedeploy::application::Application::new(
                aws.codedeploy(),
                aws.ec2(),
                aws.account.clone(),
            ))
        },
    },
    Entry {
        schema: &codedeploy::deployment_group::SCHEMA,
        make: |aws| kit::Adapter::arc(codedeploy::deployment_group::DeploymentGroup::new(aws.codedeploy())),
    },
    Entry {
        schema: &codecommit::repository::SCHEMA,
        make: |aws| {
            kit::Adapter::arc(
                codecommit::repository::Repository::new(aws.codecommit()).with_stack_tags(aws.stack_tags()),
            )
        },
    },
    Entry {
        schema: &s3::bucket_policy::SCHEMA,
        make: |aws| kit::Adapter::arc(s3::bucket_policy::BucketPolicy::new(aws.s3())),
    },
    Entry {
        schema: &cloudfront::origin_access_control::SCHEMA,
        make: |aws| kit::Adapter::arc(cloudfront::origin_access_control::OriginAccessControl::new(aws.cloudfront())),
    },
    Entry {
        schema: &cloudfront::distribution::SCHEMA,
        make: |aws| kit::Adapter::arc(cloudfront::distribution::Distribution::new(aws.cloudfront())),
    },
    Entry {
        schema: &events::rule::SCHEMA,
        make: |aws| kit::Adapter::arc(events::rule::Rule::new(aws.events()).with_stack_tags(aws.stack_tags())),
    },
];

/// Every kind's schema: what `validate` checks against, without AWS.
pub fn schemas() -> Vec<&'static KindSchema> {
    REGISTRY.iter().map(|e| e.schema).collect()
}

/// A client of one service, with the call counter attached.
macro_rules! client {
    ($name:ident, $krate:ident) => {
        pub fn $name(&self) -> $krate::Client {
            let conf = $krate::config::Builder::from(&self.config)
                .interceptor(CountCalls(self.calls.clone()))
                .interceptor(error::RecordEndpoint)
                .build();
            $krate::Client::from_conf(conf)
        }
    };
}

/// The SDK configuration and clients for one run.
#[derive(Clone)]
pub struct Aws {
    pub config: SdkConfig,
    pub calls: ApiCalls,
    /// The account id, looked up once per run by the kinds whose ARNs
    /// need it.
    account: ec2::Account,
    /// The stack's EC2 resources, looked up once per run for adoption.
    ec2_tagged: ec2::Tagged,
    /// The stack's tags through the tagging API, looked up once per run.
    stack_tags: std::sync::Arc<std::sync::OnceLock<kit::tagging::StackTags>>,
}

impl Aws {
    /// Loads credentials, region and endpoint from the standard AWS chain
    /// (environment, profiles, `AWS_ENDPOINT_URL`, SSO, IMDS); `region` and
    /// `profile` override it.
    pub async fn connect(region: Option<&str>, profile: Option<&str>, calls: ApiCalls) -> Aws {
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
        if let Some(p) = profile {
            loader = loader.profile_name(p);
        }
        if let Some(r) = region {
            loader = loader.region(aws_config::Region::new(r.to_string()));
        }
        Aws::from_config(loader.load().await, calls)
    }

    /// Builds from an existing configuration (tests with mocked clients).
    pub fn from_config(config: SdkConfig, calls: ApiCalls) -> Aws {
        Aws {
            config,
            calls,
            account: Default::default(),
            ec2_tagged: Default::default(),
            stack_tags: Default::default(),
        }
    }

    pub fn region(&self) -> Option<String> {
        self.config.region().map(|r| r.to_string())
    }

    client!(ec2, aws_sdk_ec2);

    pub fn s3(&self) -> aws_sdk_s3::Client {
        let conf = aws_sdk_s3::config::Builder::from(&self.config)
            .interceptor(CountCalls(self.calls.clone()))
            .interceptor(error::RecordEndpoint)
            // A custom endpoint (the local emulator) has no per-bucket DNS.
            .force_path_style(self.config.endpoint_url().is_some())
            .build();
        aws_sdk_s3::Client::from_conf(conf)
    }

    client!(dynamodb, aws_sdk_dynamodb);
    client!(iam, aws_sdk_iam);
    client!(logs, aws_sdk_cloudwatchlogs);
    client!(secretsmanager, aws_sdk_secretsmanager);
    client!(ecr, aws_sdk_ecr);
    client!(elbv2, aws_sdk_elasticloadbalancingv2);
    client!(ecs, aws_sdk_ecs);
    client!(sns, aws_sdk_sns);
    client!(cloudwatch, aws_sdk_cloudwatch);
    client!(appautoscaling, aws_sdk_applicationautoscaling);
    client!(codebuild, aws_sdk_codebuild);
    client!(codepipeline, aws_sdk_codepipeline);
    client!(events, aws_sdk_eventbridge);
    client!(tagging, aws_sdk_resourcegroupstagging);
    client!(ssm, aws_sdk_ssm);
    client!(acm, aws_sdk_acm);
    client!(route53, aws_sdk_route53);
    client!(rds, aws_sdk_rds);
    client!(cognito, aws_sdk_cognitoidentityprovider);
    client!(cloudfront, aws_sdk_cloudfront);
    client!(codecommit, aws_sdk_codecommit);
    client!(codedeploy, aws_sdk_codedeploy);

    /// The run's one read of the stack's tags through the tagging API,
    /// shared by the kinds whose service has no batch tag read.
    pub fn stack_tags(&self) -> kit::tagging::StackTags {
        self.stack_tags.get_or_init(|| kit::tagging::StackTags::new(self.tagging())).clone()
    }

    /// Every resource kind, ready to use.
    pub fn kinds(&self) -> Kinds {
        Kinds::new(REGISTRY.iter().map(|e| (e.make)(self)).collect())
            .with_secret_store(Arc::new(secret_store::AwsSecretStore::new(self.secretsmanager(), self.cognito())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The two lists above, schemas (what `validate` checks against) and
    /// kinds (what `up` calls), must name the same kinds: a schema without
    /// a constructor passes `validate` and then fails at plan, and a kind
    /// without a schema entry is refused by `validate`.
    #[test]
    fn every_schema_has_a_kind_and_every_kind_a_schema() {
        let aws = Aws::from_config(
            SdkConfig::builder().behavior_version(aws_config::BehaviorVersion::latest()).build(),
            ApiCalls::new(),
        );
        let kinds = aws.kinds();
        let mut schemas: Vec<&str> = schemas().iter().map(|s| s.type_name).collect();
        schemas.sort_unstable();
        let n = schemas.len();
        schemas.dedup();
        assert_eq!(schemas.len(), n, "a schema is listed twice");
        assert_eq!(kinds.type_names(), schemas);
        for s in super::schemas() {
            let kind = kinds.get(s.type_name).unwrap();
            assert!(std::ptr::eq(kind.schema(), s), "{}: the kind publishes another schema than the list", s.type_name);
        }
    }
}
