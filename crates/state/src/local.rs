//! State in a local file: `<dir>/<stack>.json`.
//!
//! Files next to the state:
//!
//! * `<stack>.json.lock` — the state lock. It is held with an OS advisory
//!   exclusive lock (`flock` on Unix), which the OS drops when the holding
//!   process ends however it ends, so a local lock can never wedge a stack.
//!   The holder writes its [`LockInfo`] into the file so that a waiter can
//!   name it.
//! * `<stack>.json.write-lock` — held for the few milliseconds a write takes,
//!   so that the compare-and-replace of [`Backend::write`] is atomic even
//!   between writers that do not hold the state lock.
//! * `<stack>.json.backup` — the state as it was before the last write.
//! * `<stack>.json.tmp-<uuid>` — a write in progress; renamed over the state
//!   once complete and synced, so the state file is always whole.
//!
//! The version of local state is `"{lineage}:{serial}"`, read back from the
//! file; since every write bumps the serial, it changes on every write.

use crate::backend::{Backend, Lock, LockInfo, StateError, Versioned};
use crate::format::from_json;
use crate::model::State;
use async_trait::async_trait;
use fs4::fs_std::FileExt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How often [`LocalBackend::lock`] retries while another process holds the lock.
const POLL_INTERVAL: Duration = Duration::from_millis(200);

/// State stored in a local file, `<dir>/<stack>.json`, guarded by an OS file
/// lock. See the [module documentation](self) for the files it keeps.
#[derive(Debug, Clone)]
pub struct LocalBackend {
    path: PathBuf,
    stack: String,
}

impl LocalBackend {
    /// The backend for `stack`'s state in `dir` (`state/` usually). The
    /// directory is created on the first lock or write if missing.
    pub fn new(dir: impl Into<PathBuf>, stack: &str) -> LocalBackend {
        let path = dir.into().join(format!("{stack}.json"));
        LocalBackend { path, stack: stack.to_string() }
    }

    /// The state of one environment of a stack: `<dir>/<stack>.<environment>.json`
    /// (`<dir>/<stack>.json` without an environment).
    pub fn for_instance(dir: impl Into<PathBuf>, stack: &str, environment: Option<&str>) -> LocalBackend {
        let dir = dir.into();
        let path = match environment {
            Some(e) => dir.join(format!("{stack}.{e}.json")),
            None => dir.join(format!("{stack}.json")),
        };
        LocalBackend { path, stack: stack.to_string() }
    }

    /// The state file, `<dir>/<stack>.json`.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The lock file, `<dir>/<stack>.json.lock`.
    pub fn lock_path(&self) -> PathBuf {
        sibling(&self.path, ".lock")
    }

    /// The copy of the state from before the last write, `<dir>/<stack>.json.backup`.
    pub fn backup_path(&self) -> PathBuf {
        sibling(&self.path, ".backup")
    }

    fn write_lock_path(&self) -> PathBuf {
        sibling(&self.path, ".write-lock")
    }

    fn dir(&self) -> PathBuf {
        match self.path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        }
    }

    fn io_error(&self, operation: &str, path: &Path, e: io::Error) -> StateError {
        StateError::Io {
            operation: operation.to_string(),
            location: path.display().to_string(),
            message: e.to_string(),
        }
    }

    /// Reads and decodes the state file; `None` if it does not exist.
    fn read_blocking(&self) -> Result<Option<Versioned>, StateError> {
        let text = match fs::read_to_string(&self.path) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) if e.kind() == io::ErrorKind::InvalidData => {
                return Err(StateError::Corrupt {
                    location: self.location(),
                    message: "the file is not UTF-8 text".into(),
                })
            }
            Err(e) => return Err(self.io_error("read state", &self.path, e)),
        };
        let state = from_json(&self.location(), &text)?;
        if state.stack != self.stack {
            return Err(StateError::WrongStack {
                location: self.location(),
                expected: self.stack.clone(),
                found: state.stack,
            });
        }
        let version = version_of(&state);
        Ok(Some(Versioned { state, version }))
    }

    fn write_blocking(&self, version: String, text: &str, expected: Option<&str>) -> Result<String, StateError> {
        let dir = self.dir();
        fs::create_dir_all(&dir).map_err(|e| self.io_error("create state directory", &dir, e))?;

        // Serialize writers for the compare-and-replace below. Held only for
        // the duration of this function (dropping the file releases it).
        let wl_path = self.write_lock_path();
        let write_lock = open_lock_file(&wl_path).map_err(|e| self.io_error("open", &wl_path, e))?;
        FileExt::lock_exclusive(&write_lock).map_err(|e| self.io_error("lock", &wl_path, e))?;

        let current = match fs::read(&self.path) {
            Ok(bytes) => Some(bytes),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(self.io_error("read state", &self.path, e)),
        };
        let found = match &current {
            None => None,
            Some(bytes) => {
                let text = String::from_utf8_lossy(bytes);
                Some(version_of(&from_json(&self.location(), &text)?))
            }
        };
        if found.as_deref() != expected {
            return Err(StateError::Conflict {
                expected: expected.unwrap_or("none (no state yet)").to_string(),
                found: found.unwrap_or_else(|| "none (the state file is gone)".to_string()),
            });
        }

        if let Some(bytes) = &current {
            let backup = self.backup_path();
            replace_file(&backup, bytes).map_err(|e| self.io_error("write backup", &backup, e))?;
        }
        replace_file(&self.path, text.as_bytes()).map_err(|e| self.io_error("write state", &self.path, e))?;
        sync_dir(&dir).map_err(|e| self.io_error("sync directory", &dir, e))?;
        drop(write_lock);
        Ok(version)
    }

    /// One attempt at the lock: the held lock file, or the holder's info
    /// (`None` when it cannot be read, e.g. the holder is still writing it).
    fn try_lock_blocking(&self, info: &LockInfo) -> Result<Result<File, Option<LockInfo>>, StateError> {
        let dir = self.dir();
        fs::create_dir_all(&dir).map_err(|e| self.io_error("create state directory", &dir, e))?;
        let path = self.lock_path();
        // A release or force-unlock removes the lock file while holding it;
        // whoever was waiting on the removed file must start again with the
        // new one. That can only happen a few times in a row under heavy
        // contention, hence the bounded loop.
        for _ in 0..16 {
            let mut file = open_lock_file(&path).map_err(|e| self.io_error("open", &path, e))?;
            let acquired = FileExt::try_lock_exclusive(&file).map_err(|e| self.io_error("lock", &path, e))?;
            if !acquired {
                return Ok(Err(read_lock_info(&mut file)));
            }
            if !is_same_file(&file, &path).map_err(|e| self.io_error("stat", &path, e))? {
                continue;
            }
            let json = serde_json::to_string_pretty(info).map_err(|e| StateError::Io {
                operation: "encode lock info".into(),
                location: path.display().to_string(),
                message: e.to_string(),
            })?;
            let written = file
                .set_len(0)
                .and_then(|()| file.write_all(json.as_bytes()))
                .and_then(|()| file.write_all(b"\n"))
                .and_then(|()| file.sync_data());
            written.map_err(|e| self.io_error("write lock info", &path, e))?;
            return Ok(Ok(file));
        }
        Ok(Err(None))
    }

    /// The lock's holder: a shared lock is refused exactly while a run
    /// holds the exclusive one (the operating system releases it when that
    /// process ends, so a killed run's file is no holder).
    fn holder_blocking(&self) -> Result<Option<LockInfo>, StateError> {
        let path = self.lock_path();
        let mut file = match OpenOptions::new().read(true).open(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(self.io_error("open", &path, e)),
        };
        if FileExt::try_lock_shared(&file).map_err(|e| self.io_error("lock", &path, e))? {
            let _ = FileExt::unlock(&file);
            return Ok(None);
        }
        Ok(Some(read_lock_info(&mut file).unwrap_or_else(|| unknown_holder(&path))))
    }

    fn force_unlock_blocking(&self, id: &str) -> Result<(), StateError> {
        let path = self.lock_path();
        let mut file = match OpenOptions::new().read(true).write(true).open(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(StateError::NoSuchLock(id.into())),
            Err(e) => return Err(self.io_error("open", &path, e)),
        };
        let info = read_lock_info(&mut file);
        if info.as_ref().map(|i| i.id.as_str()) != Some(id) {
            return Err(StateError::NoSuchLock(id.into()));
        }
        let acquired = FileExt::try_lock_exclusive(&file).map_err(|e| self.io_error("lock", &path, e))?;
        if !acquired {
            let holder = match &info {
                Some(i) => format!("{} running '{}' since {}", i.who, i.operation, i.created),
                None => "another process".into(),
            };
            return Err(StateError::Io {
                operation: "force-unlock".into(),
                location: path.display().to_string(),
                message: format!(
                    "lock {id} is held by a live process: {holder}. A local lock is released by \
                     the operating system as soon as its process ends, so it cannot be stale; \
                     stop that process (or wait for it) instead of force-unlocking"
                ),
            });
        }
        // Nobody holds it: the holder died and left its info behind. Remove
        // the file while holding it, so no one can take it in between.
        if is_same_file(&file, &path).map_err(|e| self.io_error("stat", &path, e))? {
            fs::remove_file(&path).map_err(|e| self.io_error("remove", &path, e))?;
        }
        Ok(())
    }
}

#[async_trait]
impl Backend for LocalBackend {
    fn location(&self) -> String {
        self.path.display().to_string()
    }

    /// Polls every 200 ms until the lock is free or `timeout` has passed.
    async fn lock(&self, info: LockInfo, timeout: Duration) -> Result<Box<dyn Lock>, StateError> {
        let deadline = Instant::now() + timeout;
        let mut holder = None;
        loop {
            let this = self.clone();
            let attempt_info = info.clone();
            let attempt = tokio::task::spawn_blocking(move || this.try_lock_blocking(&attempt_info))
                .await
                .map_err(|e| join_error("lock", &self.lock_path(), e))??;
            match attempt {
                Ok(file) => {
                    return Ok(Box::new(LocalLock { info, file: Some(file), path: self.lock_path() }));
                }
                Err(seen) => holder = seen.or(holder),
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(StateError::Locked(holder.unwrap_or_else(|| unknown_holder(&self.lock_path()))));
            }
            tokio::time::sleep(POLL_INTERVAL.min(deadline - now)).await;
        }
    }

    async fn read(&self) -> Result<Option<Versioned>, StateError> {
        let this = self.clone();
        tokio::task::spawn_blocking(move || this.read_blocking())
            .await
            .map_err(|e| join_error("read state", &self.path, e))?
    }

    async fn holder(&self) -> Result<Option<LockInfo>, StateError> {
        let this = self.clone();
        tokio::task::spawn_blocking(move || this.holder_blocking())
            .await
            .map_err(|e| join_error("read the lock", &self.lock_path(), e))?
    }

    async fn backup(&self) -> Result<Option<String>, StateError> {
        Ok(Some(self.backup_path().display().to_string()))
    }

    async fn write_encoded(&self, state: &State, text: String, expected: Option<&str>) -> Result<String, StateError> {
        let this = self.clone();
        let version = version_of(state);
        let expected = expected.map(str::to_string);
        tokio::task::spawn_blocking(move || this.write_blocking(version, &text, expected.as_deref()))
            .await
            .map_err(|e| join_error("write state", &self.path, e))?
    }

    /// Removes a lock left behind by a process that died. A lock held by a
    /// live process is never removed: the OS releases it when that process
    /// ends, so the error names the process to stop instead.
    async fn force_unlock(&self, id: &str) -> Result<(), StateError> {
        let this = self.clone();
        let id = id.to_string();
        tokio::task::spawn_blocking(move || this.force_unlock_blocking(&id))
            .await
            .map_err(|e| join_error("force-unlock", &self.lock_path(), e))?
    }
}

/// A held local lock: the open, `flock`ed lock file.
struct LocalLock {
    info: LockInfo,
    file: Option<File>,
    path: PathBuf,
}

#[async_trait]
impl Lock for LocalLock {
    fn info(&self) -> &LockInfo {
        &self.info
    }

    /// Always true: only this process can release an OS lock it holds.
    fn is_held(&self) -> bool {
        true
    }

    async fn release(mut self: Box<Self>) -> Result<(), StateError> {
        let Some(file) = self.file.take() else {
            return Ok(());
        };
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || {
            // Remove the file while still holding it (a waiter that opened
            // the old file notices and starts again), then close it, which
            // releases the OS lock.
            let result = match is_same_file(&file, &path) {
                Ok(true) => match fs::remove_file(&path) {
                    Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
                    _ => Ok(()),
                },
                Ok(false) => Ok(()),
                Err(e) => Err(e),
            };
            drop(file);
            result.map_err(|e| StateError::Io {
                operation: "release lock".into(),
                location: path.display().to_string(),
                message: e.to_string(),
            })
        })
        .await
        .map_err(|e| join_error("release lock", &self.path, e))?
    }
}

/// `path` with `suffix` appended to its file name.
fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(suffix);
    path.with_file_name(name)
}

fn version_of(state: &State) -> String {
    format!("{}:{}", state.lineage, state.serial)
}

fn open_lock_file(path: &Path) -> io::Result<File> {
    OpenOptions::new().read(true).write(true).create(true).truncate(false).open(path)
}

fn read_lock_info(file: &mut File) -> Option<LockInfo> {
    let mut text = String::new();
    file.seek(SeekFrom::Start(0)).ok()?;
    file.read_to_string(&mut text).ok()?;
    serde_json::from_str(&text).ok()
}

fn unknown_holder(path: &Path) -> LockInfo {
    let unknown = "unknown".to_string();
    LockInfo {
        id: unknown.clone(),
        who: format!("another process (no readable lock info in {})", path.display()),
        operation: unknown.clone(),
        created: unknown.clone(),
        expires: "never (released when that process ends)".into(),
    }
}

/// Whether the open `file` is still the file at `path` (not removed or replaced).
#[cfg(unix)]
fn is_same_file(file: &File, path: &Path) -> io::Result<bool> {
    use std::os::unix::fs::MetadataExt;
    let open = file.metadata()?;
    match fs::metadata(path) {
        Ok(now) => Ok(open.dev() == now.dev() && open.ino() == now.ino()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

/// Whether the open `file` is still the file at `path`. Windows cannot remove
/// a file another process has open, so only its existence is checked.
#[cfg(not(unix))]
fn is_same_file(_file: &File, path: &Path) -> io::Result<bool> {
    Ok(path.exists())
}

/// Writes `bytes` to a uniquely named temporary file next to `path`, syncs
/// it and renames it over `path`. The caller syncs the directory.
fn replace_file(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let tmp = sibling(path, &format!(".tmp-{}", uuid::Uuid::new_v4()));
    let result = (|| {
        let mut file = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Makes a rename in `dir` durable.
#[cfg(unix)]
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Directories cannot be synced on this platform; renames are durable once
/// the file system flushes its metadata.
#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> io::Result<()> {
    Ok(())
}

fn join_error(operation: &str, path: &Path, e: tokio::task::JoinError) -> StateError {
    StateError::Io {
        operation: operation.to_string(),
        location: path.display().to_string(),
        message: format!("the blocking file task failed: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::to_json;
    use crate::model::ResourceState;

    fn info(id: &str) -> LockInfo {
        LockInfo {
            id: id.into(),
            who: format!("tester@host (pid {id})"),
            operation: "up".into(),
            created: "2024-01-01T00:00:00Z".into(),
            expires: "2024-01-01T00:01:00Z".into(),
        }
    }

    fn state(serial: u64) -> State {
        let mut s = State::new("net", "us-east-1");
        s.lineage = "lin".into();
        s.serial = serial;
        s.resources.insert("vpc".into(), ResourceState::new("aws_vpc"));
        s
    }

    fn leftovers(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    /// What `diff` tells: who holds the lock, and nobody once the holder
    /// released it or its process ended (the OS drops the lock, the file
    /// with its info stays).
    #[tokio::test]
    async fn the_holder_is_who_holds_the_lock_now() {
        let tmp = tempfile::tempdir().unwrap();
        let a = LocalBackend::new(tmp.path(), "net");
        let b = LocalBackend::new(tmp.path(), "net");
        assert_eq!(b.holder().await.unwrap(), None);
        let held = a.lock(info("7"), Duration::ZERO).await.unwrap();
        assert_eq!(b.holder().await.unwrap(), Some(info("7")));
        drop(held); // as a killed process: no release
        assert_eq!(b.holder().await.unwrap(), None);
        assert!(b.lock_path().exists(), "the stale info is still there, and is no holder");
    }

    #[tokio::test]
    async fn write_then_read_round_trip_in_a_new_directory() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("a/b/state");
        let backend = LocalBackend::new(&dir, "net");
        assert_eq!(backend.location(), dir.join("net.json").display().to_string());
        assert!(backend.read().await.unwrap().is_none());

        let v1 = backend.write(&state(1), None).await.unwrap();
        assert_eq!(v1, "lin:1");
        let read = backend.read().await.unwrap().unwrap();
        assert_eq!(read.version, v1);
        assert_eq!(read.state, state(1));
        assert_eq!(fs::read_to_string(backend.path()).unwrap(), to_json(&state(1)));
        // No temporary files left; no backup before there was anything to back up.
        assert_eq!(leftovers(&dir), ["net.json", "net.json.write-lock"]);

        let v2 = backend.write(&state(2), Some(&v1)).await.unwrap();
        assert_eq!(v2, "lin:2");
        assert_eq!(backend.read().await.unwrap().unwrap().state.serial, 2);
        assert_eq!(fs::read_to_string(backend.backup_path()).unwrap(), to_json(&state(1)));
        assert_eq!(leftovers(&dir), ["net.json", "net.json.backup", "net.json.write-lock"]);
    }

    #[tokio::test]
    async fn stale_version_conflicts_and_leaves_state_alone() {
        let tmp = tempfile::tempdir().unwrap();
        let a = LocalBackend::new(tmp.path(), "net");
        let b = LocalBackend::new(tmp.path(), "net");
        let v1 = a.write(&state(1), None).await.unwrap();

        // Both runs read version 1; the first one writes.
        a.write(&state(2), Some(&v1)).await.unwrap();
        let err = b.write(&state(2), Some(&v1)).await.unwrap_err();
        match &err {
            StateError::Conflict { expected, found } => {
                assert_eq!(expected, "lin:1");
                assert_eq!(found, "lin:2");
            }
            other => panic!("expected Conflict, got {other:?}"),
        }
        // Creating when state already exists is a conflict too.
        let err = b.write(&state(1), None).await.unwrap_err();
        assert!(matches!(err, StateError::Conflict { .. }), "{err}");
        // Expecting state that is not there is a conflict.
        let other = LocalBackend::new(tmp.path(), "other");
        let err = other.write(&state(1), Some("lin:1")).await.unwrap_err();
        assert!(matches!(err, StateError::Conflict { .. }), "{err}");

        assert_eq!(a.read().await.unwrap().unwrap().version, "lin:2");
    }

    #[tokio::test]
    async fn a_crashed_writers_temp_file_does_not_affect_state() {
        let tmp = tempfile::tempdir().unwrap();
        let backend = LocalBackend::new(tmp.path(), "net");
        let v1 = backend.write(&state(1), None).await.unwrap();
        // What a writer killed before its rename leaves behind.
        fs::write(tmp.path().join("net.json.tmp-dead"), "{ half a sta").unwrap();
        assert_eq!(backend.read().await.unwrap().unwrap().version, v1);
        backend.write(&state(2), Some(&v1)).await.unwrap();
        assert_eq!(backend.read().await.unwrap().unwrap().version, "lin:2");
    }

    #[tokio::test]
    async fn concurrent_writers_from_one_version_exactly_one_wins() {
        let tmp = tempfile::tempdir().unwrap();
        let v1 = LocalBackend::new(tmp.path(), "net").write(&state(1), None).await.unwrap();
        let mut tasks = Vec::new();
        for i in 0..8u64 {
            let backend = LocalBackend::new(tmp.path(), "net");
            let v1 = v1.clone();
            tasks.push(tokio::spawn(async move {
                let mut s = state(2);
                s.outputs.insert("writer".into(), serde_json::json!(i));
                backend.write(&s, Some(&v1)).await
            }));
        }
        let mut ok = 0;
        for task in tasks {
            match task.await.unwrap() {
                Ok(_) => ok += 1,
                Err(StateError::Conflict { .. }) => {}
                Err(e) => panic!("{e}"),
            }
        }
        assert_eq!(ok, 1);
    }

    #[tokio::test]
    async fn state_of_another_stack_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        fs::write(tmp.path().join("net.json"), to_json(&State::new("other", "us-east-1"))).unwrap();
        let err = LocalBackend::new(tmp.path(), "net").read().await.unwrap_err();
        assert!(matches!(err, StateError::WrongStack { .. }), "{err}");
    }

    #[tokio::test]
    async fn corrupt_file_is_reported_with_its_path() {
        let tmp = tempfile::tempdir().unwrap();
        fs::write(tmp.path().join("net.json"), "{\"format_version\": 1,").unwrap();
        let backend = LocalBackend::new(tmp.path(), "net");
        let err = backend.read().await.unwrap_err();
        assert!(matches!(err, StateError::Corrupt { .. }), "{err}");
        assert!(err.to_string().contains("net.json"), "{err}");
        // A write does not blindly replace a file it cannot read.
        let err = backend.write(&state(1), None).await.unwrap_err();
        assert!(matches!(err, StateError::Corrupt { .. }), "{err}");
    }

    #[tokio::test]
    async fn second_lock_in_the_same_process_waits_then_names_holder() {
        // flock locks belong to an open file description, so two backends
        // in one process contend just like two processes do.
        let tmp = tempfile::tempdir().unwrap();
        let a = LocalBackend::new(tmp.path().join("state"), "net");
        let b = LocalBackend::new(tmp.path().join("state"), "net");
        let held = a.lock(info("111"), Duration::ZERO).await.unwrap();
        assert!(held.is_held());
        assert_eq!(held.info().id, "111");

        let started = Instant::now();
        let err = b.lock(info("222"), Duration::from_millis(500)).await.unwrap_err();
        assert!(started.elapsed() >= Duration::from_millis(500));
        match &err {
            StateError::Locked(holder) => assert_eq!(holder, &info("111")),
            other => panic!("expected Locked, got {other:?}"),
        }
        let msg = err.to_string();
        assert!(msg.contains("tester@host (pid 111)") && msg.contains("'up'"), "{msg}");

        // A waiter gets the lock as soon as the holder releases it.
        let waiter = tokio::spawn(async move { b.lock(info("222"), Duration::from_secs(10)).await });
        tokio::time::sleep(Duration::from_millis(300)).await;
        held.release().await.unwrap();
        let second = waiter.await.unwrap().unwrap();
        assert_eq!(second.info().id, "222");
        let err = a.lock(info("333"), Duration::ZERO).await.unwrap_err();
        assert!(matches!(&err, StateError::Locked(h) if h.id == "222"), "{err}");
        second.release().await.unwrap();
        assert!(!a.lock_path().exists());
        a.lock(info("333"), Duration::ZERO).await.unwrap().release().await.unwrap();
    }

    #[tokio::test]
    async fn dropped_lock_is_free_again_but_its_info_stays_for_force_unlock() {
        let tmp = tempfile::tempdir().unwrap();
        let a = LocalBackend::new(tmp.path(), "net");
        let held = a.lock(info("111"), Duration::ZERO).await.unwrap();

        // Held by a live process (this one): force-unlock refuses and names it.
        let err = a.force_unlock("111").await.unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("live process") && msg.contains("tester@host (pid 111)"), "{msg}");
        let err = a.force_unlock("999").await.unwrap_err();
        assert!(matches!(err, StateError::NoSuchLock(ref id) if id == "999"), "{err}");

        // Dropping the guard is what a killed process amounts to: the OS
        // releases the lock and the info file stays behind.
        drop(held);
        assert!(a.lock_path().exists());
        let err = a.force_unlock("999").await.unwrap_err();
        assert!(matches!(err, StateError::NoSuchLock(_)), "{err}");
        a.force_unlock("111").await.unwrap();
        assert!(!a.lock_path().exists());
        let err = a.force_unlock("111").await.unwrap_err();
        assert!(matches!(err, StateError::NoSuchLock(_)), "{err}");

        // And a stale info file never blocks a new lock.
        let b = LocalBackend::new(tmp.path(), "net");
        drop(b.lock(info("222"), Duration::ZERO).await.unwrap());
        let relock = a.lock(info("333"), Duration::ZERO).await.unwrap();
        assert_eq!(relock.info().id, "333");
        relock.release().await.unwrap();
    }

    #[tokio::test]
    async fn many_lockers_never_hold_at_once() {
        let tmp = tempfile::tempdir().unwrap();
        let inside = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for i in 0..6 {
            let backend = LocalBackend::new(tmp.path(), "net");
            let inside = inside.clone();
            tasks.push(tokio::spawn(async move {
                for round in 0..5 {
                    let lock = backend.lock(info(&format!("{i}-{round}")), Duration::from_secs(30)).await?;
                    let n = inside.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    assert_eq!(n, 0, "two holders at once");
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    inside.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
                    lock.release().await?;
                }
                Ok::<(), StateError>(())
            }));
        }
        for task in tasks {
            task.await.unwrap().unwrap();
        }
    }
}
