//! deployctl-aws: one module per resource kind, the SDK clients, and the
//! interceptor that counts API calls. This crate and the state crate are the
//! only ones that import AWS SDK crates.

pub mod appautoscaling;
mod calls;
pub mod cloudwatch;
pub mod codebuild;
pub mod codepipeline;
pub mod ec2;
pub mod ecr;
pub mod ecs;
pub mod elbv2;
mod error;
pub mod events;
pub mod iam;
pub mod logs;
pub mod reference;
pub mod s3;
pub mod secretsmanager;
pub mod sns;
mod tags;

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

/// Every kind's schema: what `validate` checks against, without AWS.
pub fn schemas() -> Vec<&'static KindSchema> {
    vec![
        &ec2::vpc::SCHEMA,
        &ec2::subnet::SCHEMA,
        &ec2::internet_gateway::SCHEMA,
        &ec2::security_group::SCHEMA,
        &ec2::elastic_ip::SCHEMA,
        &ec2::nat_gateway::SCHEMA,
        &ec2::route_table::SCHEMA,
        &ec2::vpc_endpoint::SCHEMA,
    ]
    .into_iter()
    .chain(iam::schemas())
    .chain(logs::schemas())
    .chain(secretsmanager::schemas())
    .chain(ecr::schemas())
    .chain(elbv2::schemas())
    .chain(ecs::schemas())
    .chain(s3::schemas())
    .chain(sns::schemas())
    .chain(cloudwatch::schemas())
    .chain(appautoscaling::schemas())
    .chain(codebuild::schemas())
    .chain(codepipeline::schemas())
    .chain(events::schemas())
    .collect()
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
        Aws { config: loader.load().await, calls }
    }

    /// Builds from an existing configuration (tests with mocked clients).
    pub fn from_config(config: SdkConfig, calls: ApiCalls) -> Aws {
        Aws { config, calls }
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

    /// Every resource kind, ready to use.
    pub fn kinds(&self) -> Kinds {
        let ec2 = self.ec2();
        let account = ec2::elastic_ip::Account::new();
        let list: Vec<Arc<dyn ResourceKind>> = vec![
            Arc::new(ec2::vpc::Vpc::new(ec2.clone())),
            Arc::new(ec2::subnet::Subnet::new(ec2.clone())),
            Arc::new(ec2::internet_gateway::InternetGateway::new(ec2.clone())),
            Arc::new(ec2::elastic_ip::ElasticIp::with_account(ec2.clone(), account.clone())),
            Arc::new(ec2::nat_gateway::NatGateway::with_account(ec2.clone(), account)),
            Arc::new(ec2::route_table::RouteTable::new(ec2.clone())),
            Arc::new(ec2::vpc_endpoint::VpcEndpoint::new(ec2.clone())),
            Arc::new(ec2::security_group::SecurityGroup::new(ec2)),
        ];
        let list = list
            .into_iter()
            .chain(iam::kinds(self))
            .chain(logs::kinds(self))
            .chain(secretsmanager::kinds(self))
            .chain(ecr::kinds(self))
            .chain(elbv2::kinds(self))
            .chain(ecs::kinds(self))
            .chain(s3::kinds(self))
            .chain(sns::kinds(self))
            .chain(cloudwatch::kinds(self))
            .chain(appautoscaling::kinds(self))
            .chain(codebuild::kinds(self))
            .chain(codepipeline::kinds(self))
            .chain(events::kinds(self))
            .collect();
        Kinds::new(list)
            .with_secret_store(Arc::new(secretsmanager::store::SecretsManagerStore::new(self.secretsmanager())))
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
