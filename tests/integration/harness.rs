//! What every integration test needs: its own local AWS endpoint on free
//! loopback ports, a scratch directory for state, the real deployctl binary,
//! and SDK clients to check the world through the AWS API.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub use deployctl_localaws::REGION;

/// The local AWS endpoint of this test's own (moto behind deployctl's
/// protocol front, so that every service's protocol is served), on free
/// loopback ports; stopped when dropped. Started by the one harness,
/// `deployctl_localaws::LocalAws`.
pub struct Moto {
    aws: deployctl_localaws::LocalAws,
}

impl Moto {
    pub fn start() -> Moto {
        Moto::start_with(&[])
    }

    /// An endpoint with extra moto settings (moto's own switches).
    pub fn start_with(env: &[(&str, &str)]) -> Moto {
        let aws = deployctl_localaws::LocalAws::start_with(env, 0).unwrap_or_else(|e| panic!("{e}"));
        Moto { aws }
    }

    /// An endpoint whose front holds every request `delay` before relaying
    /// it, like a distant AWS endpoint.
    pub fn start_with_delay(delay: std::time::Duration) -> Moto {
        let aws = deployctl_localaws::LocalAws::start_with_delay(&[], 0, delay).unwrap_or_else(|e| panic!("{e}"));
        Moto { aws }
    }

    /// The endpoint every client uses.
    pub fn endpoint(&self) -> String {
        self.aws.endpoint()
    }

    /// moto alone, without the front.
    pub fn moto_endpoint(&self) -> String {
        self.aws.moto_endpoint()
    }

    /// The environment that points a client at this endpoint.
    pub fn client_env(&self) -> Vec<(&'static str, String)> {
        self.aws.client_env()
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

/// A scratch project: state and specs in a temporary directory, and the
/// binary pointed at this test's moto.
pub struct Project {
    pub dir: tempfile::TempDir,
    pub env: Vec<(&'static str, String)>,
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
        Project { dir: tempfile::tempdir().expect("tempdir"), env: moto.client_env() }
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
            .envs(self.env.iter().map(|(k, v)| (*k, v.as_str())))
            .env("AWS_CONFIG_FILE", self.dir.path().join("no-aws-config"))
            .env("AWS_SHARED_CREDENTIALS_FILE", self.dir.path().join("no-aws-credentials"))
            .env("DEPLOYCTL_STATE_DIR", self.state_dir())
            .stdin(Stdio::null());
        // What would override the endpoint's environment, as the one
        // harness lists it.
        for k in deployctl_localaws::LocalAws::CLIENT_ENV_UNSET {
            c.env_remove(k);
        }
        c
    }

    /// Runs deployctl to completion.
    pub fn run(&self, args: &[&str]) -> Run {
        Run::from(self.command(args).output().expect("run deployctl"))
    }

    /// Runs a command line as deployctl printed it in a hint (`deployctl
    /// init 'a b' --var …`), through `sh`, as a user pasting it would.
    pub fn as_printed(&self, line: &str) -> Run {
        let rest = line.strip_prefix("deployctl ").unwrap_or_else(|| panic!("not a deployctl command: {line}"));
        let mut sh = Command::new("sh");
        sh.args(["-c", &format!("exec \"$0\" {rest}"), env!("CARGO_BIN_EXE_deployctl")]).stdin(Stdio::null());
        Run::from(self.around(sh).output().expect("run sh"))
    }

    /// `c`, a program that runs deployctl (a shell, `script`), with the
    /// environment and directory deployctl gets from [`Project::command`].
    pub fn around(&self, mut c: Command) -> Command {
        let base = self.command(&[]);
        c.current_dir(self.dir.path());
        for (k, v) in base.get_envs() {
            match v {
                Some(v) => c.env(k, v),
                None => c.env_remove(k),
            };
        }
        c
    }

    /// Runs and insists on exit 0.
    pub fn ok(&self, args: &[&str]) -> Run {
        let r = self.run(args);
        assert_eq!(r.code, 0, "deployctl {} failed:\n{r:?}", args.join(" "));
        r
    }

    /// The local state of `STACK` or `STACK/ENVIRONMENT`
    /// (`state/STACK.ENVIRONMENT.json`).
    pub fn state(&self, instance: &str) -> Option<serde_json::Value> {
        let file = format!("{}.json", instance.replace('/', "."));
        let text = std::fs::read_to_string(self.state_dir().join(file)).ok()?;
        Some(serde_json::from_str(&text).expect("state is JSON"))
    }
}

pub fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

/// Every EC2 resource (of the kinds deployctl manages) tagged with the stack,
/// in any of its environments (`deployctl:stack` is `STACK` or
/// `STACK/ENVIRONMENT`), as (kind, deployctl:resource tag, id), sorted.
/// Pass `STACK/ENVIRONMENT` for one instance only.
/// Every cluster left is deleted: AWS, and moto, list a deleted cluster as
/// INACTIVE for a while.
pub async fn no_active_clusters(ecs: &aws_sdk_ecs::Client) {
    let clusters = ecs.list_clusters().send().await.unwrap();
    if !clusters.cluster_arns().is_empty() {
        let d = ecs.describe_clusters().set_clusters(Some(clusters.cluster_arns().to_vec())).send().await.unwrap();
        assert!(d.clusters().iter().all(|c| c.status() == Some("INACTIVE")), "{d:?}");
    }
}

pub async fn tagged(ec2: &aws_sdk_ec2::Client, stack: &str) -> Vec<(String, String, String)> {
    use aws_sdk_ec2::types::Filter;
    let f = || Filter::builder().name("tag-key").values("deployctl:stack").build();
    let owned = |tags: &[aws_sdk_ec2::types::Tag]| {
        tags.iter().find(|t| t.key() == Some("deployctl:stack")).and_then(|t| t.value()).is_some_and(|v| {
            v == stack || (!stack.contains('/') && v.strip_prefix(stack).is_some_and(|rest| rest.starts_with('/')))
        })
    };
    let addr = |tags: &[aws_sdk_ec2::types::Tag]| {
        tags.iter().find(|t| t.key() == Some("deployctl:resource")).and_then(|t| t.value()).unwrap_or("?").to_string()
    };
    let mut out = Vec::new();
    for v in ec2.describe_vpcs().filters(f()).send().await.unwrap().vpcs() {
        if owned(v.tags()) {
            out.push(("vpc".into(), addr(v.tags()), v.vpc_id().unwrap().to_string()));
        }
    }
    for s in ec2.describe_subnets().filters(f()).send().await.unwrap().subnets() {
        if owned(s.tags()) {
            out.push(("subnet".into(), addr(s.tags()), s.subnet_id().unwrap().to_string()));
        }
    }
    for g in ec2.describe_internet_gateways().filters(f()).send().await.unwrap().internet_gateways() {
        if owned(g.tags()) {
            out.push(("igw".into(), addr(g.tags()), g.internet_gateway_id().unwrap().to_string()));
        }
    }
    for g in ec2.describe_security_groups().filters(f()).send().await.unwrap().security_groups() {
        if owned(g.tags()) {
            out.push(("sg".into(), addr(g.tags()), g.group_id().unwrap().to_string()));
        }
    }
    for n in ec2.describe_nat_gateways().filter(f()).send().await.unwrap().nat_gateways() {
        if !matches!(n.state().map(|s| s.as_str()), Some("deleted") | Some("deleting") | Some("failed"))
            && owned(n.tags())
        {
            out.push(("nat".into(), addr(n.tags()), n.nat_gateway_id().unwrap().to_string()));
        }
    }
    for a in ec2.describe_addresses().filters(f()).send().await.unwrap().addresses() {
        if owned(a.tags()) {
            out.push(("eip".into(), addr(a.tags()), a.allocation_id().unwrap().to_string()));
        }
    }
    for r in ec2.describe_route_tables().filters(f()).send().await.unwrap().route_tables() {
        if owned(r.tags()) {
            out.push(("rtb".into(), addr(r.tags()), r.route_table_id().unwrap().to_string()));
        }
    }
    for e in ec2.describe_vpc_endpoints().filters(f()).send().await.unwrap().vpc_endpoints() {
        if !matches!(e.state().map(|s| s.as_str()), Some("deleted") | Some("Deleted") | Some("deleting"))
            && owned(e.tags())
        {
            out.push(("vpce".into(), addr(e.tags()), e.vpc_endpoint_id().unwrap().to_string()));
        }
    }
    out.sort();
    out
}
