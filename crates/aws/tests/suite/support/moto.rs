//! A local AWS endpoint of a test's own, stopped when dropped: what the
//! `*_roundtrip.rs` modules of the suite share (`use crate::support::moto::Moto;`).

use deployctl_aws::Aws;
use deployctl_engine::ApiCalls;
use deployctl_localaws::LocalAws;

const REGION: &str = "us-east-1";

/// The local AWS endpoint (moto behind deployctl's protocol front) of this
/// test's own, stopped when dropped. Started by the one harness,
/// `deployctl_localaws::LocalAws`, with its moto settings.
pub struct Moto {
    /// The endpoint's port (the front's).
    pub port: u16,
    _aws: LocalAws,
}

impl Moto {
    pub fn start() -> Moto {
        Moto::start_with(&[])
    }

    /// With `env` added to moto's settings.
    pub fn start_with(env: &[(&str, &str)]) -> Moto {
        let aws = LocalAws::start_with(env, 0).unwrap_or_else(|e| panic!("{e}"));
        Moto { port: aws.port(), _aws: aws }
    }

    /// `http://127.0.0.1:PORT`.
    #[allow(dead_code)]
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// SDK configuration for this server: its endpoint, us-east-1, test
    /// credentials.
    #[allow(dead_code)]
    pub async fn sdk_config(&self) -> aws_config::SdkConfig {
        config_at(self.port).await
    }

    /// Clients for this endpoint.
    pub async fn aws(&self) -> Aws {
        Aws::from_config(config_at(self.port).await, ApiCalls::new())
    }
}

async fn config_at(port: u16) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(format!("http://127.0.0.1:{port}"))
        .region(aws_config::Region::new(REGION))
        .credentials_provider(aws_sdk_s3::config::Credentials::new("testing", "testing", None, None, "test"))
        .load()
        .await
}
