//! AWS SDK errors to the engine's [`ProviderError`]: the AWS error code,
//! the message, and a hint where one helps.

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use deployctl_engine::ProviderError;

/// Converts any SDK error.
pub fn from_sdk<E>(err: SdkError<E, aws_smithy_runtime_api::client::orchestrator::HttpResponse>) -> ProviderError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match &err {
        SdkError::ServiceError(se) => {
            let e = se.err();
            let code = e.code().map(str::to_string);
            let message = e.message().map(str::to_string).unwrap_or_else(|| e.to_string());
            let hint = code.as_deref().and_then(hint_for);
            ProviderError { code, message, hint }
        }
        SdkError::DispatchFailure(_) => ProviderError::new(
            Some("DispatchFailure".into()),
            format!("could not reach AWS: {}", DisplayErrorContext(&err)),
        )
        .with_hint("check the network, AWS_ENDPOINT_URL and the region"),
        SdkError::TimeoutError(_) => ProviderError::new(
            Some("Timeout".into()),
            format!("AWS did not answer in time: {}", DisplayErrorContext(&err)),
        ),
        SdkError::ResponseError(re) => {
            let raw = re.raw();
            let status = raw.status().as_u16();
            let body = raw.body().bytes().map(|b| String::from_utf8_lossy(b).into_owned()).unwrap_or_default();
            let first = body.lines().map(str::trim).find(|l| !l.is_empty() && !l.starts_with('<')).unwrap_or("");
            ProviderError::new(
                Some(format!("HTTP{status}")),
                format!("AWS answered HTTP {status} with something that is not an AWS error{}", if first.is_empty() { String::new() } else { format!(": {first}") }),
            )
            .with_hint("a proxy or the endpoint (AWS_ENDPOINT_URL) failed, not the request; retry, or check the endpoint's logs")
        }
        _ => ProviderError::new(None, DisplayErrorContext(&err).to_string()),
    }
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
    e.code.as_deref().is_some_and(|c| c.ends_with(".NotFound") || c.ends_with("NotFound") || c == "NoSuchEntity")
}
