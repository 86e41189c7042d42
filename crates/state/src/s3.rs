//! State in an S3 object, locked with a DynamoDB item.
//!
//! * The state is one object, written with SSE-S3 (`AES256`) encryption. Its
//!   version is the object's ETag; writes are conditional on it (`If-Match`,
//!   or `If-None-Match: *` for the first write), so a writer that lost its
//!   lock can never overwrite newer state.
//! * The lock is one item per state in the lock table, keyed by
//!   `LockID = "{bucket}/{key}"`, with attributes `Id` (the lock id), `Info`
//!   (the [`LockInfo`] as JSON) and `Expires` (unix seconds with
//!   milliseconds). The holder renews `Expires` from a background heartbeat
//!   every lease/3; a killed holder's lease runs out and the next run takes
//!   the lock over. Expiry compares clocks of different machines, so the
//!   lease must be much longer than any plausible clock skew (default 60 s).

use crate::backend::{Backend, Lock, LockInfo, StateError, Versioned};
use crate::format::from_json;
use crate::model::State;
use async_trait::async_trait;
use aws_sdk_dynamodb::operation::delete_item::DeleteItemError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{BucketVersioningStatus, ServerSideEncryption};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::task::JoinHandle;

/// The default lease of an S3 backend lock.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(60);

/// The shortest lease [`S3Backend::with_lease`] accepts.
pub const MIN_LEASE: Duration = Duration::from_secs(1);

/// How often [`S3Backend::lock`] retries while another run holds the lock.
const POLL_INTERVAL: Duration = Duration::from_millis(500);

const ATTR_LOCK_ID: &str = "LockID";
const ATTR_ID: &str = "Id";
const ATTR_INFO: &str = "Info";
const ATTR_EXPIRES: &str = "Expires";

/// State in `s3://bucket/key`, locked through the DynamoDB table `table`.
///
/// The clients are built by the caller, which decides the endpoint,
/// credentials, retries and any instrumentation.
#[derive(Debug, Clone)]
pub struct S3Backend {
    s3: aws_sdk_s3::Client,
    ddb: aws_sdk_dynamodb::Client,
    bucket: String,
    key: String,
    table: String,
    lease: Duration,
}

impl S3Backend {
    /// A backend for the object `key` in `bucket`, with its lock in `table`
    /// (hash key `LockID`, a string). The lease is [`DEFAULT_LEASE`].
    pub fn new(
        s3: aws_sdk_s3::Client,
        ddb: aws_sdk_dynamodb::Client,
        bucket: impl Into<String>,
        key: impl Into<String>,
        table: impl Into<String>,
    ) -> S3Backend {
        S3Backend { s3, ddb, bucket: bucket.into(), key: key.into(), table: table.into(), lease: DEFAULT_LEASE }
    }

    pub(crate) fn s3_client(&self) -> &aws_sdk_s3::Client {
        &self.s3
    }

    pub(crate) fn dynamodb_client(&self) -> &aws_sdk_dynamodb::Client {
        &self.ddb
    }

    /// Sets how long a lock lasts without being renewed. The heartbeat renews
    /// it every third of that. Leases shorter than [`MIN_LEASE`] are raised
    /// to it.
    pub fn with_lease(mut self, lease: Duration) -> S3Backend {
        self.lease = lease.max(MIN_LEASE);
        self
    }

    /// The bucket holding the state object.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// The key of the state object.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The DynamoDB lock table.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// How long a lock lasts without being renewed.
    pub fn lease(&self) -> Duration {
        self.lease
    }

    /// The value of the lock item's `LockID` key: `"{bucket}/{key}"`.
    pub fn lock_id(&self) -> String {
        format!("{}/{}", self.bucket, self.key)
    }

    fn table_location(&self) -> String {
        format!("dynamodb table {}", self.table)
    }

    /// Takes the lock like [`Backend::lock`], returning the concrete lock.
    ///
    /// `info.expires` is replaced by the lease's actual expiry.
    pub async fn acquire(&self, mut info: LockInfo, timeout: Duration) -> Result<S3Lock, StateError> {
        let deadline = Instant::now() + timeout;
        let lock_id = self.lock_id();
        let mut holder: Option<LockInfo> = None;
        loop {
            let started = Instant::now();
            let now = unix_now();
            let expires = now + self.lease;
            info.expires = rfc3339(expires);
            let result = self
                .ddb
                .put_item()
                .table_name(&self.table)
                .item(ATTR_LOCK_ID, AttributeValue::S(lock_id.clone()))
                .item(ATTR_ID, AttributeValue::S(info.id.clone()))
                .item(ATTR_INFO, AttributeValue::S(info_json(&info)))
                .item(ATTR_EXPIRES, AttributeValue::N(dynamo_seconds(expires)))
                .condition_expression("attribute_not_exists(#lid) OR #exp < :now")
                .expression_attribute_names("#lid", ATTR_LOCK_ID)
                .expression_attribute_names("#exp", ATTR_EXPIRES)
                .expression_attribute_values(":now", AttributeValue::N(dynamo_seconds(now)))
                .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
                .send()
                .await;
            match result {
                Ok(_) => return Ok(S3Lock::start(self, info, started + self.lease)),
                Err(SdkError::ServiceError(e)) if e.err().is_conditional_check_failed_exception() => {
                    let seen = match e.err() {
                        PutItemError::ConditionalCheckFailedException(ccf) if ccf.item().is_some() => {
                            ccf.item().map(holder_from_item)
                        }
                        // Not every DynamoDB implementation returns the old
                        // item: read it. `None`: it was released meanwhile.
                        _ => self.read_holder().await?,
                    };
                    if seen.is_none() && Instant::now() < deadline {
                        continue;
                    }
                    holder = seen.or(holder);
                }
                Err(e) => return Err(aws_error("lock state in", &self.table_location(), &e)),
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(StateError::Locked(holder.unwrap_or_else(|| unknown_holder(&lock_id))));
            }
            tokio::time::sleep(POLL_INTERVAL.min(deadline - now)).await;
        }
    }

    /// The current holder of the lock, read consistently; `None` if unlocked.
    async fn read_holder(&self) -> Result<Option<LockInfo>, StateError> {
        let out = self
            .ddb
            .get_item()
            .table_name(&self.table)
            .key(ATTR_LOCK_ID, AttributeValue::S(self.lock_id()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| aws_error("read lock in", &self.table_location(), &e))?;
        Ok(out.item().map(holder_from_item))
    }

    /// The ETag of the state object now, for a conflict message.
    async fn current_etag(&self) -> String {
        match self.s3.head_object().bucket(&self.bucket).key(&self.key).send().await {
            Ok(out) => out.e_tag().unwrap_or("unknown (no ETag)").to_string(),
            Err(e) if e.as_service_error().is_some_and(|e| e.is_not_found()) => {
                "none (the state object is gone)".into()
            }
            Err(e) => format!("unknown (could not read it: {})", error_chain(&e)),
        }
    }
}

#[async_trait]
impl Backend for S3Backend {
    fn location(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.key)
    }

    async fn lock(&self, info: LockInfo, timeout: Duration) -> Result<Box<dyn Lock>, StateError> {
        Ok(Box::new(self.acquire(info, timeout).await?))
    }

    /// The lock item's holder, unless its lease has run out (a killed run's
    /// lock, which the next `up` takes over).
    async fn holder(&self) -> Result<Option<LockInfo>, StateError> {
        let live = |info: &LockInfo| {
            time::OffsetDateTime::parse(&info.expires, &time::format_description::well_known::Rfc3339)
                .map_or(true, |t| t > time::OffsetDateTime::now_utc())
        };
        Ok(self.read_holder().await?.filter(live))
    }

    async fn read(&self) -> Result<Option<Versioned>, StateError> {
        let location = self.location();
        let out = match self.s3.get_object().bucket(&self.bucket).key(&self.key).send().await {
            Ok(out) => out,
            Err(e) if e.as_service_error().is_some_and(|e| e.is_no_such_key()) => return Ok(None),
            Err(e) => return Err(aws_error("read state", &location, &e)),
        };
        let version = out.e_tag().map(str::to_string).ok_or_else(|| StateError::Aws {
            operation: "read state".into(),
            location: location.clone(),
            code: "MissingETag".into(),
            message: "the response to GetObject has no ETag, so writes could not be fenced".into(),
        })?;
        let bytes = out.body.collect().await.map_err(|e| StateError::Aws {
            operation: "read state".into(),
            location: location.clone(),
            code: "ResponseError".into(),
            message: error_chain(&e),
        })?;
        let text = String::from_utf8(bytes.to_vec()).map_err(|_| StateError::Corrupt {
            location: location.clone(),
            message: "the object is not UTF-8 text".into(),
        })?;
        let state = from_json(&location, &text)?;
        Ok(Some(Versioned { state, version }))
    }

    async fn write_encoded(&self, _state: &State, text: String, expected: Option<&str>) -> Result<String, StateError> {
        let location = self.location();
        let request = self
            .s3
            .put_object()
            .bucket(&self.bucket)
            .key(&self.key)
            .body(ByteStream::from(text.into_bytes()))
            .content_type("application/json")
            .server_side_encryption(ServerSideEncryption::Aes256);
        let request = match expected {
            Some(etag) => request.if_match(etag),
            None => request.if_none_match("*"),
        };
        match request.send().await {
            Ok(out) => out.e_tag().map(str::to_string).ok_or_else(|| StateError::Aws {
                operation: "write state".into(),
                location,
                code: "MissingETag".into(),
                message: "the response to PutObject has no ETag".into(),
            }),
            Err(e) => {
                let status = e.raw_response().map(|r| r.status().as_u16());
                let code = e.code().unwrap_or_default();
                let precondition_failed =
                    status == Some(412) || code == "PreconditionFailed" || code == "ConditionalRequestConflict";
                // If-Match on an object that no longer exists answers 404.
                let vanished = expected.is_some() && code == "NoSuchKey";
                if precondition_failed || vanished {
                    return Err(StateError::Conflict {
                        expected: expected.unwrap_or("none (no state yet)").to_string(),
                        found: self.current_etag().await,
                    });
                }
                Err(aws_error("write state", &location, &e))
            }
        }
    }

    /// The object's previous version, where the bucket keeps versions
    /// (`deployctl init` turns versioning on).
    async fn backup(&self) -> Result<Option<String>, StateError> {
        let out = self
            .s3
            .get_bucket_versioning()
            .bucket(&self.bucket)
            .send()
            .await
            .map_err(|e| aws_error("read the versioning of", &self.location(), &e))?;
        Ok((out.status() == Some(&BucketVersioningStatus::Enabled)).then(|| {
            format!(
                "the previous version of {} (list them with: aws s3api list-object-versions --bucket {} --prefix {})",
                self.location(),
                self.bucket,
                self.key
            )
        }))
    }

    async fn force_unlock(&self, id: &str) -> Result<(), StateError> {
        let result = self
            .ddb
            .delete_item()
            .table_name(&self.table)
            .key(ATTR_LOCK_ID, AttributeValue::S(self.lock_id()))
            .condition_expression("#id = :id")
            .expression_attribute_names("#id", ATTR_ID)
            .expression_attribute_values(":id", AttributeValue::S(id.to_string()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(SdkError::ServiceError(e))
                if matches!(e.err(), DeleteItemError::ConditionalCheckFailedException(_)) =>
            {
                Err(StateError::NoSuchLock(id.to_string()))
            }
            Err(e) => Err(aws_error("force-unlock state in", &self.table_location(), &e)),
        }
    }
}

/// What the heartbeat and [`S3Lock::is_held`] share.
#[derive(Debug)]
struct Lease {
    lost: AtomicBool,
    /// By this process's monotonic clock: the start of the last successful
    /// acquire or renewal plus the lease, a conservative bound on when others
    /// may take the lock over.
    held_until: Mutex<Instant>,
}

impl Lease {
    fn held_until(&self) -> Instant {
        *self.held_until.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn renewed(&self, until: Instant) {
        *self.held_until.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = until;
    }

    fn is_held(&self) -> bool {
        if self.lost.load(Ordering::SeqCst) {
            return false;
        }
        if Instant::now() >= self.held_until() {
            // Once the lease has run out, another run may have taken the
            // lock, written state and released it: holding it again later
            // would not make this run's view of the state valid again.
            self.lost.store(true, Ordering::SeqCst);
            return false;
        }
        true
    }
}

/// A held S3 backend lock, renewed by a background heartbeat until released
/// or dropped. Dropping it stops the heartbeat and leaves the lease to expire.
#[derive(Debug)]
pub struct S3Lock {
    info: LockInfo,
    ddb: aws_sdk_dynamodb::Client,
    table: String,
    lock_id: String,
    lease: Arc<Lease>,
    heartbeat: Option<JoinHandle<()>>,
}

impl S3Lock {
    fn start(backend: &S3Backend, info: LockInfo, held_until: Instant) -> S3Lock {
        let lease = Arc::new(Lease { lost: AtomicBool::new(false), held_until: Mutex::new(held_until) });
        let heartbeat = tokio::spawn(heartbeat(
            backend.ddb.clone(),
            backend.table.clone(),
            backend.lock_id(),
            info.clone(),
            backend.lease,
            lease.clone(),
        ));
        S3Lock {
            info,
            ddb: backend.ddb.clone(),
            table: backend.table.clone(),
            lock_id: backend.lock_id(),
            lease,
            heartbeat: Some(heartbeat),
        }
    }

    /// Stops renewing the lease without releasing the lock, as if this
    /// process had hung: the lock expires after the lease and another run
    /// can take it over. For tests.
    pub async fn stop_heartbeat(&mut self) {
        if let Some(task) = self.heartbeat.take() {
            task.abort();
            // Wait until it has stopped, so no renewal is still in flight.
            let _ = task.await;
        }
    }
}

impl Drop for S3Lock {
    fn drop(&mut self) {
        if let Some(task) = self.heartbeat.take() {
            task.abort();
        }
    }
}

#[async_trait]
impl Lock for S3Lock {
    fn info(&self) -> &LockInfo {
        &self.info
    }

    /// False once a renewal found the lock taken over or force-unlocked, or
    /// once the lease ran out without a successful renewal.
    fn is_held(&self) -> bool {
        self.lease.is_held()
    }

    /// Stops the heartbeat and deletes the lock item if it is still this
    /// run's. A lock that was already taken over or removed is left alone.
    async fn release(mut self: Box<Self>) -> Result<(), StateError> {
        self.stop_heartbeat().await;
        self.lease.lost.store(true, Ordering::SeqCst);
        let result = self
            .ddb
            .delete_item()
            .table_name(&self.table)
            .key(ATTR_LOCK_ID, AttributeValue::S(self.lock_id.clone()))
            .condition_expression("#id = :id")
            .expression_attribute_names("#id", ATTR_ID)
            .expression_attribute_values(":id", AttributeValue::S(self.info.id.clone()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(SdkError::ServiceError(e))
                if matches!(e.err(), DeleteItemError::ConditionalCheckFailedException(_)) =>
            {
                Ok(())
            }
            Err(e) => Err(aws_error("release lock in", &format!("dynamodb table {}", self.table), &e)),
        }
    }
}

/// Renews the lease every `lease / 3` until the lock is found gone or taken
/// over, or the lease ran out without a renewal. Transient errors are retried
/// sooner; they only lose the lock if they last until the lease runs out.
async fn heartbeat(
    ddb: aws_sdk_dynamodb::Client,
    table: String,
    lock_id: String,
    mut info: LockInfo,
    lease_length: Duration,
    lease: Arc<Lease>,
) {
    let interval = lease_length / 3;
    let mut wait = interval;
    loop {
        tokio::time::sleep(wait).await;
        if !lease.is_held() {
            return;
        }
        let started = Instant::now();
        let expires = unix_now() + lease_length;
        info.expires = rfc3339(expires);
        let result = ddb
            .update_item()
            .table_name(&table)
            .key(ATTR_LOCK_ID, AttributeValue::S(lock_id.clone()))
            .update_expression("SET #exp = :exp, #info = :info")
            .condition_expression("#id = :id")
            .expression_attribute_names("#exp", ATTR_EXPIRES)
            .expression_attribute_names("#info", ATTR_INFO)
            .expression_attribute_names("#id", ATTR_ID)
            .expression_attribute_values(":exp", AttributeValue::N(dynamo_seconds(expires)))
            .expression_attribute_values(":info", AttributeValue::S(info_json(&info)))
            .expression_attribute_values(":id", AttributeValue::S(info.id.clone()))
            .send()
            .await;
        match result {
            Ok(_) => {
                lease.renewed(started + lease_length);
                wait = interval;
            }
            Err(SdkError::ServiceError(e))
                if matches!(e.err(), UpdateItemError::ConditionalCheckFailedException(_)) =>
            {
                lease.lost.store(true, Ordering::SeqCst);
                return;
            }
            Err(_) => wait = interval / 4,
        }
    }
}

fn info_json(info: &LockInfo) -> String {
    // LockInfo is plain strings: serializing it cannot fail.
    serde_json::to_string(info).unwrap_or_else(|_| String::from("{}"))
}

/// The holder named by a lock item; its `Info` if readable, else what the
/// `Id` and `Expires` attributes tell.
fn holder_from_item(item: &HashMap<String, AttributeValue>) -> LockInfo {
    if let Some(Ok(info)) = item.get(ATTR_INFO).and_then(|v| v.as_s().ok()).map(|s| serde_json::from_str(s)) {
        return info;
    }
    let unknown = || "unknown".to_string();
    let expires = item
        .get(ATTR_EXPIRES)
        .and_then(|v| v.as_n().ok())
        .and_then(|n| n.parse::<f64>().ok())
        .filter(|n| n.is_finite() && *n >= 0.0)
        .map(|n| rfc3339(Duration::from_secs_f64(n)))
        .unwrap_or_else(unknown);
    LockInfo {
        id: item.get(ATTR_ID).and_then(|v| v.as_s().ok()).cloned().unwrap_or_else(unknown),
        who: "unknown (the lock item has no readable Info)".into(),
        operation: unknown(),
        created: unknown(),
        expires,
    }
}

fn unknown_holder(lock_id: &str) -> LockInfo {
    LockInfo {
        id: "unknown".into(),
        who: format!("another run (the lock item {lock_id} could not be read)"),
        operation: "unknown".into(),
        created: "unknown".into(),
        expires: "unknown".into(),
    }
}

/// Time since the Unix epoch by the wall clock.
fn unix_now() -> Duration {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default()
}

/// A DynamoDB number: unix seconds with milliseconds.
fn dynamo_seconds(t: Duration) -> String {
    format!("{}.{:03}", t.as_secs(), t.subsec_millis())
}

/// RFC 3339 in UTC with milliseconds.
fn rfc3339(t: Duration) -> String {
    let millis = i128::try_from(t.as_millis()).unwrap_or(i128::MAX);
    time::OffsetDateTime::from_unix_timestamp_nanos(millis.saturating_mul(1_000_000))
        .ok()
        .and_then(|d| d.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_else(|| format!("@{}", dynamo_seconds(t)))
}

/// Maps an SDK error to [`StateError::Aws`]: the service's error code and
/// message, or for errors without a response (`DispatchFailure`,
/// `TimeoutError`, …) the kind of failure and its chain of causes.
pub(crate) fn aws_error<E>(operation: &str, location: &str, err: &SdkError<E>) -> StateError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let (code, message) = match err {
        SdkError::ServiceError(_) => {
            let status = err.raw_response().map(|r| r.status().as_u16());
            let code = match (err.code(), status) {
                (Some(code), _) => code.to_string(),
                (None, Some(status)) => format!("HTTP{status}"),
                (None, None) => "ServiceError".to_string(),
            };
            let message = match err.message() {
                Some(m) if !m.is_empty() => m.to_string(),
                _ => error_chain(err),
            };
            (code, message)
        }
        SdkError::DispatchFailure(_) => ("DispatchFailure".to_string(), error_chain(err)),
        SdkError::TimeoutError(_) => ("TimeoutError".to_string(), error_chain(err)),
        SdkError::ResponseError(_) => ("ResponseError".to_string(), error_chain(err)),
        SdkError::ConstructionFailure(_) => ("ConstructionFailure".to_string(), error_chain(err)),
        _ => ("Unknown".to_string(), error_chain(err)),
    };
    StateError::Aws { operation: operation.to_string(), location: location.to_string(), code, message }
}

/// An error and its causes, `outer: inner: innermost`, repeats left out.
fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next = Some(err);
    while let Some(e) = next {
        let text = e.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        next = e.source();
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_formatted_with_milliseconds() {
        let t = Duration::from_millis(1_700_000_000_123);
        assert_eq!(dynamo_seconds(t), "1700000000.123");
        assert_eq!(dynamo_seconds(Duration::from_millis(5_007)), "5.007");
        assert_eq!(rfc3339(t), "2023-11-14T22:13:20.123Z");
    }

    #[test]
    fn holder_falls_back_to_the_item_attributes() {
        let mut item = HashMap::new();
        item.insert(ATTR_ID.to_string(), AttributeValue::S("abc".into()));
        item.insert(ATTR_EXPIRES.to_string(), AttributeValue::N("1700000000.5".into()));
        item.insert(ATTR_INFO.to_string(), AttributeValue::S("not json".into()));
        let holder = holder_from_item(&item);
        assert_eq!(holder.id, "abc");
        assert_eq!(holder.expires, "2023-11-14T22:13:20.5Z");
    }
}
