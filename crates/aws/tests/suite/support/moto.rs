//! A moto server of a test's own, killed when dropped: the harness the
//! `*_roundtrip.rs` modules of the suite share (`use crate::support::moto::Moto;`).

use deployctl_aws::Aws;
use deployctl_engine::ApiCalls;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const REGION: &str = "us-east-1";

/// What `start` runs moto with:
/// - `MOTO_IAM_LOAD_MANAGED_POLICIES`: AWS managed policies exist, so roles
///   can attach them.
/// - `MOTO_ECS_SERVICE_RUNNING`: services report this many running tasks,
///   and a rollout COMPLETED when it is at least their desired count.
const DEFAULT_ENV: &[(&str, &str)] = &[("MOTO_IAM_LOAD_MANAGED_POLICIES", "true"), ("MOTO_ECS_SERVICE_RUNNING", "10")];

/// A moto server of this test's own, killed when dropped.
pub struct Moto {
    pub port: u16,
    child: Child,
}

fn moto_server() -> PathBuf {
    if let Ok(p) = std::env::var("DEPLOYCTL_MOTO_SERVER") {
        return PathBuf::from(p);
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/moto_server")
}

impl Moto {
    /// A moto server with the environment every round trip can live with.
    pub fn start() -> Moto {
        Moto::start_with(DEFAULT_ENV)
    }

    /// A moto server with exactly `env` added to this process's environment.
    pub fn start_with(env: &[(&str, &str)]) -> Moto {
        let bin = moto_server();
        assert!(
            bin.exists(),
            "moto_server not found at {}: run scripts/bootstrap-moto (or set DEPLOYCTL_MOTO_SERVER)",
            bin.display()
        );
        for _ in 0..5 {
            let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).unwrap();
            let child = Command::new(&bin)
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .envs(env.iter().copied())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("spawn moto_server");
            let mut moto = Moto { port, child };
            let start = Instant::now();
            while start.elapsed() < Duration::from_secs(30) {
                if moto.ready() {
                    return moto;
                }
                if let Ok(Some(_)) = moto.child.try_wait() {
                    break; // port taken in the meantime: try another
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        panic!("moto_server did not start");
    }

    fn ready(&self) -> bool {
        use std::io::{Read, Write};
        let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", self.port)) else { return false };
        let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
        if s.write_all(b"GET /moto-api/ HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").is_err() {
            return false;
        }
        let mut buf = [0u8; 16];
        matches!(s.read(&mut buf), Ok(n) if n >= 12 && buf.starts_with(b"HTTP/1.") && &buf[9..12] == b"200")
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

    /// Clients for this server.
    pub async fn aws(&self) -> Aws {
        self.aws_at(self.port).await
    }

    /// Clients configured as for this server but sent to `port` on
    /// 127.0.0.1 (a shim in front of it, say).
    pub async fn aws_at(&self, port: u16) -> Aws {
        Aws::from_config(config_at(port).await, ApiCalls::new())
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

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
