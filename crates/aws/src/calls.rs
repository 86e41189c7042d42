//! The SDK interceptor that counts API calls per service and operation,
//! retries apart, into the engine's [`ApiCalls`], and reports throttled
//! attempts to it (which paces the step's service down).

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeSerializationInterceptorContextRef, BeforeTransmitInterceptorContextRef, FinalizerInterceptorContextRef,
};
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::retries::RequestAttempts;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::http::Response;
use aws_smithy_types::config_bag::ConfigBag;
use deployctl_engine::ApiCalls;

#[derive(Debug, Clone)]
pub struct CountCalls(pub ApiCalls);

impl Intercept for CountCalls {
    fn name(&self) -> &'static str {
        "deployctl::CountCalls"
    }

    // Not read_before_execution: a client interceptor's runs before the
    // operation's metadata is in the config bag.
    fn read_before_serialization(
        &self,
        _ctx: &BeforeSerializationInterceptorContextRef<'_>,
        _rc: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(m) = cfg.load::<Metadata>() {
            self.0.record_call(m.service(), m.name());
        }
        Ok(())
    }

    fn read_before_attempt(
        &self,
        _ctx: &BeforeTransmitInterceptorContextRef<'_>,
        _rc: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let attempt = cfg.load::<RequestAttempts>().map(|a| a.attempts()).unwrap_or(1);
        if attempt > 1 {
            if let Some(m) = cfg.load::<Metadata>() {
                self.0.record_retry(m.service(), m.name());
            }
        }
        Ok(())
    }

    fn read_after_execution(
        &self,
        _ctx: &FinalizerInterceptorContextRef<'_>,
        _rc: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.0.record_call_end();
        Ok(())
    }

    fn read_after_attempt(
        &self,
        ctx: &FinalizerInterceptorContextRef<'_>,
        _rc: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if ctx.response().is_some_and(is_throttled) {
            if let Some(m) = cfg.load::<Metadata>() {
                self.0.record_throttled(m.service(), m.name());
            }
        }
        Ok(())
    }
}

/// The error codes AWS throttles with (those the SDK's standard retry
/// classifies as throttling, across services).
pub const THROTTLING_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "TransactionInProgressException",
    "RequestLimitExceeded",
    "BandwidthLimitExceeded",
    "LimitExceededException",
    "RequestThrottled",
    "SlowDown",
    "PriorRequestNotComplete",
    "EC2ThrottledException",
];

/// Whether an HTTP answer says the call was throttled: status 429, or an
/// error whose code (the awsJson `x-amzn-ErrorType` header or `__type`, or
/// the XML `<Code>`) is a throttling code.
fn is_throttled(r: &Response) -> bool {
    let status = r.status().as_u16();
    if status == 429 {
        return true;
    }
    if status < 400 {
        return false;
    }
    let bare = |code: &str| {
        // `aws.protocoltests#ThrottlingException`, `ThrottlingException:http://…`
        let code = code.rsplit('#').next().unwrap_or(code);
        code.split(':').next().unwrap_or(code).trim().to_string()
    };
    if let Some(t) = r.headers().get("x-amzn-errortype") {
        return THROTTLING_CODES.contains(&bare(t).as_str());
    }
    let body = r.body().bytes().map(String::from_utf8_lossy).unwrap_or_default();
    THROTTLING_CODES.iter().any(|c| {
        body.contains(&format!("<Code>{c}</Code>"))
            || body.contains(&format!("\"__type\":\"{c}\""))
            || body.contains(&format!("#{c}\""))
            || body.contains(&format!("\"code\":\"{c}\""))
    })
}
