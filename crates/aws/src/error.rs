//! AWS SDK errors to the engine's [`ProviderError`]: the AWS error code,
//! the message, and a hint where one helps.

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeDeserializationInterceptorContextMut, BeforeTransmitInterceptorContextRef,
};
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::{ConfigBag, Storable, StoreReplace};
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use deployctl_engine::ProviderError;

/// Where a request went: kept on its response, so that an answer that is
/// not an AWS error can name the endpoint that gave it.
#[derive(Debug, Clone)]
pub(crate) struct Endpoint(String);

impl Storable for Endpoint {
    type Storer = StoreReplace<Self>;
}

/// The interceptor that records each request's endpoint (scheme, host and
/// port) on its response.
#[derive(Debug, Clone)]
pub(crate) struct RecordEndpoint;

impl Intercept for RecordEndpoint {
    fn name(&self) -> &'static str {
        "deployctl::RecordEndpoint"
    }

    fn read_before_transmit(
        &self,
        ctx: &BeforeTransmitInterceptorContextRef<'_>,
        _rc: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let uri = ctx.request().uri();
        let endpoint = match uri.find("://").map(|i| i + 3) {
            Some(start) => uri[..start + uri[start..].find('/').unwrap_or(uri.len() - start)].to_string(),
            None => uri.to_string(),
        };
        cfg.interceptor_state().store_put(Endpoint(endpoint));
        Ok(())
    }

    fn modify_before_deserialization(
        &self,
        ctx: &mut BeforeDeserializationInterceptorContextMut<'_>,
        _rc: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(e) = cfg.load::<Endpoint>().cloned() {
            ctx.response_mut().add_extension(e);
        }
        Ok(())
    }
}

/// [`from_sdk`] for a call whose answer may carry a secret (a secret's
/// value, a client secret): an answer that did not parse is never quoted,
/// only named by `what` ("the answer to GetSecretValue").
pub fn from_sdk_secret<E>(err: SdkError<E, HttpResponse>, what: &str) -> ProviderError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match err {
        SdkError::ResponseError(_) => {
            ProviderError::new(Some("ResponseError".into()), format!("{what} could not be understood"))
        }
        e => from_sdk(e),
    }
}

/// An answer that carries no AWS error code: say what the endpoint
/// answered, which endpoint, and what is likely wrong.
fn unexplained(raw: &HttpResponse) -> ProviderError {
    let status = raw.status().as_u16();
    let endpoint = raw.extension::<Endpoint>().map(|e| e.0.as_str()).unwrap_or("the AWS endpoint");
    let body = raw.body().bytes().unwrap_or_default();
    let first: String = String::from_utf8_lossy(&body[..body.len().min(160)])
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let shown = if first.is_empty() { "an empty body".to_string() } else { format!("'{first}'") };
    let hint = match status {
        404 | 405 => {
            "the endpoint does not serve this service's protocol (a bare moto does not speak RPC v2 CBOR, which the SDK uses for CloudWatch and CodeDeploy); \
             use deployctl's local endpoint instead: eval \"$(scripts/local-aws start)\""
        }
        502..=504 => "a proxy between here and the endpoint failed; retry, or check the proxy and AWS_ENDPOINT_URL",
        _ => "the endpoint, or a proxy in front of it, answered something that is not AWS; check AWS_ENDPOINT_URL and any HTTPS_PROXY",
    };
    ProviderError::new(
        Some(format!("HTTP{status}")),
        format!("{endpoint} answered HTTP {status} with no AWS error code: {shown}"),
    )
    .with_hint(hint)
}

/// Converts any SDK error.
pub fn from_sdk<E>(err: SdkError<E, HttpResponse>) -> ProviderError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match &err {
        SdkError::ServiceError(se) if se.err().code().is_none() => unexplained(se.raw()),
        SdkError::ServiceError(se) => {
            let e = se.err();
            let code = e.code().map(str::to_string);
            let message = e.message().map(str::to_string).unwrap_or_else(|| e.to_string());
            let hint = code.as_deref().and_then(hint_for);
            ProviderError { code, message, hint }
        }
        SdkError::DispatchFailure(_) if no_credentials(&err) => ProviderError::new(
            Some("NoCredentials".into()),
            "no AWS credentials found (searched: environment, profile, SSO, web identity, ECS and EC2 roles)",
        )
        .with_hint("export AWS_PROFILE=<profile> (for SSO, `aws sso login` first), or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"),
        SdkError::DispatchFailure(_) => ProviderError::new(
            Some("DispatchFailure".into()),
            format!("could not reach AWS: {}", DisplayErrorContext(&err)),
        )
        .with_hint("check the network, AWS_ENDPOINT_URL and the region"),
        SdkError::TimeoutError(_) => ProviderError::new(
            Some("Timeout".into()),
            format!("AWS did not answer in time: {}", DisplayErrorContext(&err)),
        ),
        SdkError::ResponseError(re) => unexplained(re.raw()),
        _ => ProviderError::new(None, DisplayErrorContext(&err).to_string()),
    }
}

/// Whether the call never left because the credential chain found nothing
/// (not a network problem: the request was never signed).
fn no_credentials(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut at: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = at {
        if format!("{e:?}").starts_with("CredentialsNotLoaded")
            || e.to_string().contains("no credentials found in chain")
        {
            return true;
        }
        at = e.source();
    }
    false
}

fn hint_for(code: &str) -> Option<String> {
    Some(
        match code {
            "UnauthorizedOperation" | "AccessDenied" | "AccessDeniedException" => {
                "the credentials in use lack permission for this call; check the IAM policy of the caller"
            }
            "AuthFailure" | "InvalidClientTokenId" | "ExpiredToken" | "UnrecognizedClientException" => {
                "check the AWS credentials (AWS_PROFILE, AWS_ACCESS_KEY_ID, or `aws sso login`)"
            }
            "DependencyViolation" => {
                "something outside this stack still uses the resource; remove that first, then re-run"
            }
            "VpcLimitExceeded"
            | "AddressLimitExceeded"
            | "NatGatewayLimitExceeded"
            | "RulesPerSecurityGroupLimitExceeded" => {
                "an account quota is reached; request an increase in Service Quotas or remove unused resources"
            }
            "RequestLimitExceeded" | "Throttling" | "ThrottlingException" => {
                "AWS throttled the calls even after retries; lower --parallelism and re-run"
            }
            _ => return None,
        }
        .to_string(),
    )
}

/// Whether the error says the resource does not exist.
pub fn is_not_found(e: &ProviderError) -> bool {
    e.code.as_deref().is_some_and(|c| {
        c.ends_with(".NotFound")
            || c.ends_with("NotFound")
            || c.ends_with("NotFoundFault")
            || c == "NoSuchEntity"
            || c == "ResourceNotFoundException"
    })
}
