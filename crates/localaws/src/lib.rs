//! deployctl-localaws: the local AWS endpoint, and the one harness that
//! starts it.
//!
//! The endpoint is moto's server (pinned in scripts/requirements-moto.txt,
//! installed into the gitignored `.venv`) behind a small [`front`] that
//! translates the Smithy RPC v2 CBOR protocol, which moto does not serve, to
//! the awsJson protocol it does, and passes everything else through. One
//! `AWS_ENDPOINT_URL` then serves every kind deployctl has.
//!
//! Everything that starts the endpoint goes through [`LocalAws::start`]: the
//! tests, the benchmark and, through the `deployctl-local-aws` program,
//! `scripts/local-aws` and `scripts/quickstart`. moto's settings live in
//! [`MOTO_SETTINGS`] and nowhere else.
//!
//! This crate has no AWS SDK dependency, so the program builds in seconds.

pub mod cbor;
pub mod front;

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The region the endpoint's environment names (a spec's `region` wins).
pub const REGION: &str = "us-east-1";

/// What moto runs with, for every user of the endpoint:
/// - `MOTO_IAM_LOAD_MANAGED_POLICIES`: AWS managed policies exist, so roles
///   can attach them (moto 5.2.5 loads them only when asked).
/// - `MOTO_ECS_SERVICE_RUNNING`: services report this many running tasks,
///   and moto reports a rollout COMPLETED only when that is at least the
///   desired count, so it must cover every `desired_count` the stacks use.
pub const MOTO_SETTINGS: &[(&str, &str)] =
    &[("MOTO_IAM_LOAD_MANAGED_POLICIES", "true"), ("MOTO_ECS_SERVICE_RUNNING", "10")];

/// Why the endpoint did not start.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "moto_server not found at {0}\n  hint: run scripts/bootstrap-moto (or set DEPLOYCTL_MOTO_SERVER to its path)"
    )]
    MotoMissing(PathBuf),
    #[error("starting {path}: {source}")]
    Spawn {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("moto_server did not answer on 127.0.0.1 within {0:?}")]
    NotReady(Duration),
    #[error("starting the protocol front: {0}")]
    Front(#[source] std::io::Error),
}

/// Where moto's server is: `DEPLOYCTL_MOTO_SERVER`, else the repository's
/// `.venv`.
pub fn moto_server() -> PathBuf {
    match std::env::var_os("DEPLOYCTL_MOTO_SERVER") {
        Some(p) => PathBuf::from(p),
        None => PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../.venv/bin/moto_server")),
    }
}

/// A free TCP port on loopback (free when asked; a caller that loses the
/// race retries).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("bind a loopback port")
}

/// A running local endpoint: moto on one loopback port and the front on
/// another. Dropping it stops both.
pub struct LocalAws {
    moto: Child,
    moto_port: u16,
    front: front::Front,
}

/// How long moto may take to answer its first request.
const READY_WITHIN: Duration = Duration::from_secs(30);

impl LocalAws {
    /// The endpoint with [`MOTO_SETTINGS`], on free ports.
    pub fn start() -> Result<LocalAws, Error> {
        LocalAws::start_with(&[], 0)
    }

    /// With `extra` moto settings added (a test's own switches), the front on
    /// `port` (0: a free one).
    pub fn start_with(extra: &[(&str, &str)], port: u16) -> Result<LocalAws, Error> {
        LocalAws::start_with_delay(extra, port, Duration::ZERO)
    }

    /// Like [`LocalAws::start_with`], with every request held `delay` in
    /// the front before moto sees it (the latency benchmark's distant
    /// endpoint).
    pub fn start_with_delay(extra: &[(&str, &str)], port: u16, delay: Duration) -> Result<LocalAws, Error> {
        let bin = moto_server();
        if !bin.exists() {
            return Err(Error::MotoMissing(bin));
        }
        let mut last = Error::NotReady(READY_WITHIN);
        // A port free when picked can be taken before moto binds it: retry.
        for _ in 0..5 {
            let moto_port = free_port();
            let mut moto = Command::new(&bin)
                .args(["-H", "127.0.0.1", "-p", &moto_port.to_string()])
                .envs(MOTO_SETTINGS.iter().copied())
                .envs(extra.iter().copied())
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(match std::env::var_os("DEPLOYCTL_MOTO_LOG") {
                    // Where moto's own log goes, when a test needs to see
                    // why it answered 500.
                    Some(path) => std::fs::File::create(path).map(Stdio::from).unwrap_or_else(|_| Stdio::null()),
                    None => Stdio::null(),
                })
                .spawn()
                .map_err(|source| Error::Spawn { path: bin.clone(), source })?;
            let started = Instant::now();
            while started.elapsed() < READY_WITHIN {
                if ready(moto_port) {
                    let front = match front::Front::start_with_delay(port, moto_port, delay) {
                        Ok(f) => f,
                        Err(e) => {
                            let _ = moto.kill();
                            let _ = moto.wait();
                            return Err(Error::Front(e));
                        }
                    };
                    return Ok(LocalAws { moto, moto_port, front });
                }
                if let Ok(Some(_)) = moto.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = moto.kill();
            let _ = moto.wait();
            last = Error::NotReady(READY_WITHIN);
        }
        Err(last)
    }

    /// The endpoint every client uses: `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.front.port())
    }

    pub fn port(&self) -> u16 {
        self.front.port()
    }

    /// moto itself, without the front (tests of what a bare moto answers).
    pub fn moto_endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.moto_port)
    }

    /// moto's process id.
    pub fn moto_pid(&self) -> u32 {
        self.moto.id()
    }

    /// Whether moto is still running.
    pub fn alive(&mut self) -> bool {
        matches!(self.moto.try_wait(), Ok(None))
    }

    /// The environment that points the standard AWS credential and endpoint
    /// chain at this endpoint: what `scripts/local-aws start` prints and
    /// what the tests give the binary.
    pub fn client_env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.endpoint()),
            ("AWS_ACCESS_KEY_ID", "testing".into()),
            ("AWS_SECRET_ACCESS_KEY", "testing".into()),
            ("AWS_REGION", REGION.into()),
            // No instance metadata to ask on a workstation or in CI.
            ("AWS_EC2_METADATA_DISABLED", "true".into()),
            // The front does not decompress (CloudWatch PutMetricData gzips
            // large bodies).
            ("AWS_DISABLE_REQUEST_COMPRESSION", "true".into()),
        ]
    }

    /// The variables a shell must drop so that nothing overrides
    /// [`LocalAws::client_env`].
    pub const CLIENT_ENV_UNSET: &'static [&'static str] =
        &["AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL_CLOUDWATCH"];
}

impl Drop for LocalAws {
    fn drop(&mut self) {
        let _ = self.moto.kill();
        let _ = self.moto.wait();
    }
}

/// Whether moto answers its own API on `port`.
fn ready(port: u16) -> bool {
    use std::io::{Read, Write};
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else { return false };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    if s.write_all(b"GET /moto-api/ HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").is_err() {
        return false;
    }
    let mut buf = [0u8; 16];
    matches!(s.read(&mut buf), Ok(n) if n >= 12 && buf.starts_with(b"HTTP/1.") && &buf[9..12] == b"200")
}

/// Quotes a value for a POSIX shell.
pub fn shell_quote(v: &str) -> String {
    if !v.is_empty() && v.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_./:=@,+".contains(&b)) {
        v.to_string()
    } else {
        format!("'{}'", v.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::shell_quote;

    #[test]
    fn shell_quoting_survives_spaces_and_quotes() {
        assert_eq!(shell_quote("http://127.0.0.1:4566"), "http://127.0.0.1:4566");
        assert_eq!(shell_quote("/tmp/a b"), "'/tmp/a b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
    }
}
