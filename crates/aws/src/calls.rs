//! The SDK interceptor that counts API calls per service and operation,
//! retries apart, into the engine's [`ApiCalls`].

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeSerializationInterceptorContextRef, BeforeTransmitInterceptorContextRef,
};
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::retries::RequestAttempts;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
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
}
