//! deployctl-aws: one module per resource kind, the SDK clients, and the
//! interceptor that counts API calls. This crate and the state crate are the
//! only ones that import AWS SDK crates.

mod calls;
pub mod ec2;
mod error;
pub mod reference;

pub use calls::CountCalls;
pub use error::{from_sdk, is_not_found};

use deployctl_engine::{ApiCalls, Kinds, ResourceKind};
use deployctl_spec::KindSchema;
use std::sync::Arc;

pub use aws_types::SdkConfig;

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

    pub fn ec2(&self) -> aws_sdk_ec2::Client {
        let conf = aws_sdk_ec2::config::Builder::from(&self.config).interceptor(CountCalls(self.calls.clone())).build();
        aws_sdk_ec2::Client::from_conf(conf)
    }

    pub fn s3(&self) -> aws_sdk_s3::Client {
        let conf = aws_sdk_s3::config::Builder::from(&self.config)
            .interceptor(CountCalls(self.calls.clone()))
            // A custom endpoint (the local emulator) has no per-bucket DNS.
            .force_path_style(self.config.endpoint_url().is_some())
            .build();
        aws_sdk_s3::Client::from_conf(conf)
    }

    pub fn dynamodb(&self) -> aws_sdk_dynamodb::Client {
        let conf =
            aws_sdk_dynamodb::config::Builder::from(&self.config).interceptor(CountCalls(self.calls.clone())).build();
        aws_sdk_dynamodb::Client::from_conf(conf)
    }

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
        Kinds::new(list)
    }
}
