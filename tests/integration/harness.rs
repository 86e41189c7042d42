//! What every integration test needs: its own moto server on a free
//! loopback port, a scratch directory for state, the real deployctl binary,
//! and SDK clients to check the world through the AWS API.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const REGION: &str = "us-east-1";

/// moto does not serve aws-sdk-cloudwatch's protocol (RPC v2 CBOR); this
/// translator in front of it does, and the binary reaches CloudWatch
/// through it (AWS_ENDPOINT_URL_CLOUDWATCH). moto still does the work.
#[path = "../../crates/aws/tests/support/cbor_shim.rs"]
mod cbor_shim;

/// A moto server of this test's own, killed when dropped.
pub struct Moto {
    pub port: u16,
    /// The CloudWatch protocol translator's port.
    pub cloudwatch_port: u16,
    child: Child,
}

fn moto_server() -> PathBuf {
    if let Ok(p) = std::env::var("DEPLOYCTL_MOTO_SERVER") {
        return PathBuf::from(p);
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/moto_server")
}

impl Moto {
    pub fn start() -> Moto {
        Moto::start_with(&[])
    }

    /// A server with extra environment (moto's own switches).
    pub fn start_with(env: &[(&str, &str)]) -> Moto {
        let bin = moto_server();
        assert!(
            bin.exists(),
            "moto_server not found at {}: run scripts/bootstrap-moto (or scripts/test, which does it)",
            bin.display()
        );
        for _ in 0..5 {
            let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).unwrap();
            let child = Command::new(&bin)
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .env("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
                // moto reports an ECS rollout COMPLETED only when this many
                // tasks "run"; it must be at least any desired_count used.
                .env("MOTO_ECS_SERVICE_RUNNING", "10")
                .envs(env.iter().copied())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("spawn moto_server");
            let mut moto = Moto { port, cloudwatch_port: 0, child };
            let start = Instant::now();
            while start.elapsed() < Duration::from_secs(30) {
                if moto.ready() {
                    moto.cloudwatch_port = cbor_shim::start(moto.port);
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

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub async fn sdk_config(&self) -> aws_config::SdkConfig {
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .endpoint_url(self.endpoint())
            .region(aws_config::Region::new(REGION))
            .credentials_provider(aws_sdk_ec2::config::Credentials::new("testing", "testing", None, None, "test"))
            .load()
            .await
    }

    pub async fn ec2(&self) -> aws_sdk_ec2::Client {
        aws_sdk_ec2::Client::new(&self.sdk_config().await)
    }

    pub async fn s3(&self) -> aws_sdk_s3::Client {
        let conf = aws_sdk_s3::config::Builder::from(&self.sdk_config().await).force_path_style(true).build();
        aws_sdk_s3::Client::from_conf(conf)
    }

    pub async fn dynamodb(&self) -> aws_sdk_dynamodb::Client {
        aws_sdk_dynamodb::Client::new(&self.sdk_config().await)
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A scratch project: state and specs in a temporary directory, and the
/// binary pointed at this test's moto.
pub struct Project {
    pub dir: tempfile::TempDir,
    pub endpoint: String,
    pub cloudwatch_endpoint: String,
}

/// What a run of the binary gave.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    fn from(o: Output) -> Run {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", self.stdout))
    }
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "exit {}\n--- stdout\n{}\n--- stderr\n{}", self.code, self.stdout, self.stderr)
    }
}

pub fn repo_file(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

impl Project {
    pub fn new(moto: &Moto) -> Project {
        Project {
            dir: tempfile::tempdir().expect("tempdir"),
            endpoint: moto.endpoint(),
            cloudwatch_endpoint: format!("http://127.0.0.1:{}", moto.cloudwatch_port),
        }
    }

    /// Writes a spec into the project and returns its path.
    pub fn spec(&self, name: &str, text: &str) -> PathBuf {
        let p = self.dir.path().join(name);
        std::fs::write(&p, text).expect("write spec");
        p
    }

    pub fn state_dir(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_deployctl"));
        c.args(args)
            .current_dir(self.dir.path())
            .env("AWS_ENDPOINT_URL", &self.endpoint)
            .env("AWS_ENDPOINT_URL_CLOUDWATCH", &self.cloudwatch_endpoint)
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_REGION", REGION)
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_CONFIG_FILE", self.dir.path().join("no-aws-config"))
            .env("AWS_SHARED_CREDENTIALS_FILE", self.dir.path().join("no-aws-credentials"))
            .env("DEPLOYCTL_STATE_DIR", self.state_dir())
            .env_remove("AWS_PROFILE")
            .env_remove("AWS_SESSION_TOKEN")
            .stdin(Stdio::null());
        c
    }

    /// Runs deployctl to completion.
    pub fn run(&self, args: &[&str]) -> Run {
        Run::from(self.command(args).output().expect("run deployctl"))
    }

    /// Runs and insists on exit 0.
    pub fn ok(&self, args: &[&str]) -> Run {
        let r = self.run(args);
        assert_eq!(r.code, 0, "deployctl {} failed:\n{r:?}", args.join(" "));
        r
    }

    pub fn state(&self, stack: &str) -> Option<serde_json::Value> {
        let text = std::fs::read_to_string(self.state_dir().join(format!("{stack}.json"))).ok()?;
        Some(serde_json::from_str(&text).expect("state is JSON"))
    }
}

pub fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

/// Every EC2 resource (of the kinds deployctl manages) tagged with the stack,
/// as (kind, deployctl:resource tag, id), sorted.
pub async fn tagged(ec2: &aws_sdk_ec2::Client, stack: &str) -> Vec<(String, String, String)> {
    use aws_sdk_ec2::types::Filter;
    let f = || Filter::builder().name("tag:deployctl:stack").values(stack).build();
    let addr = |tags: &[aws_sdk_ec2::types::Tag]| {
        tags.iter().find(|t| t.key() == Some("deployctl:resource")).and_then(|t| t.value()).unwrap_or("?").to_string()
    };
    let mut out = Vec::new();
    for v in ec2.describe_vpcs().filters(f()).send().await.unwrap().vpcs() {
        out.push(("vpc".into(), addr(v.tags()), v.vpc_id().unwrap().to_string()));
    }
    for s in ec2.describe_subnets().filters(f()).send().await.unwrap().subnets() {
        out.push(("subnet".into(), addr(s.tags()), s.subnet_id().unwrap().to_string()));
    }
    for g in ec2.describe_internet_gateways().filters(f()).send().await.unwrap().internet_gateways() {
        out.push(("igw".into(), addr(g.tags()), g.internet_gateway_id().unwrap().to_string()));
    }
    for g in ec2.describe_security_groups().filters(f()).send().await.unwrap().security_groups() {
        out.push(("sg".into(), addr(g.tags()), g.group_id().unwrap().to_string()));
    }
    for n in ec2.describe_nat_gateways().filter(f()).send().await.unwrap().nat_gateways() {
        if !matches!(n.state().map(|s| s.as_str()), Some("deleted") | Some("deleting") | Some("failed")) {
            out.push(("nat".into(), addr(n.tags()), n.nat_gateway_id().unwrap().to_string()));
        }
    }
    for a in ec2.describe_addresses().filters(f()).send().await.unwrap().addresses() {
        out.push(("eip".into(), addr(a.tags()), a.allocation_id().unwrap().to_string()));
    }
    for r in ec2.describe_route_tables().filters(f()).send().await.unwrap().route_tables() {
        out.push(("rtb".into(), addr(r.tags()), r.route_table_id().unwrap().to_string()));
    }
    for e in ec2.describe_vpc_endpoints().filters(f()).send().await.unwrap().vpc_endpoints() {
        if !matches!(e.state().map(|s| s.as_str()), Some("deleted") | Some("Deleted") | Some("deleting")) {
            out.push(("vpce".into(), addr(e.tags()), e.vpc_endpoint_id().unwrap().to_string()));
        }
    }
    out.sort();
    out
}
