//! The eventual-consistency retry (`kit::consistency`), for IAM
//! propagation: a service that cannot yet assume a just-created role is
//! asked again (with backoff, progress events, a bound and Ctrl-C
//! honoured); any other error is returned at once.

use deployctl_aws::kit::consistency::{is_propagation_error, until_seen, until_seen_with};
use deployctl_engine::{Event, OpCtx, ProviderError, StepAction};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

/// A step context, a function that interrupts it (Ctrl-C), and its events.
fn ctx(timeout: Duration) -> (OpCtx, impl Fn(), tokio::sync::mpsc::UnboundedReceiver<Event>) {
    let (ctx, cancel, rx) = OpCtx::detached(
        "app",
        "us-east-1",
        "web",
        "ecs.service",
        StepAction::Create,
        BTreeMap::new(),
        "0123456789abcdef0123456789abcdef",
        timeout,
    );
    (ctx, move || cancel.cancel(), rx)
}

fn ecs_cannot_assume() -> ProviderError {
    ProviderError::new(
        Some("InvalidParameterException".into()),
        "Unable to assume role and validate the specified targetGroupArn. Please verify that the ECS service role \
         being passed has the proper permissions.",
    )
}

const FAST: (Duration, Duration) = (Duration::from_millis(5), Duration::from_millis(20));

#[tokio::test]
async fn propagation_errors_are_retried_until_the_call_succeeds() {
    let (ctx, _cancel, mut rx) = ctx(Duration::from_secs(60));
    let calls = AtomicU32::new(0);
    let r = until_seen_with(
        &ctx,
        "creating the service",
        FAST.0,
        FAST.1,
        Duration::from_secs(10),
        is_propagation_error,
        || {
            let n = calls.fetch_add(1, Ordering::SeqCst);
            async move {
                if n < 2 {
                    Err(ecs_cannot_assume())
                } else {
                    Ok("arn:aws:ecs:us-east-1:123456789012:service/c/web")
                }
            }
        },
    )
    .await;
    assert_eq!(r, Ok("arn:aws:ecs:us-east-1:123456789012:service/c/web"));
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    let mut progress = Vec::new();
    while let Ok(e) = rx.try_recv() {
        if let Event::StepProgress { message, .. } = e {
            progress.push(message);
        }
    }
    assert_eq!(progress.len(), 2, "one progress event per retry: {progress:?}");
    assert!(progress.iter().all(|m| m.contains("waiting for IAM role to propagate")), "{progress:?}");
}

#[tokio::test]
async fn other_errors_return_at_once() {
    let (ctx, _cancel, _rx) = ctx(Duration::from_secs(60));
    let calls = AtomicU32::new(0);
    let denied =
        ProviderError::new(Some("AccessDeniedException".into()), "User is not authorized to perform ecs:CreateService");
    let r: Result<(), _> = until_seen(&ctx, "creating the service", is_propagation_error, || {
        calls.fetch_add(1, Ordering::SeqCst);
        let e = denied.clone();
        async move { Err(e) }
    })
    .await;
    assert_eq!(r, Err(denied));
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_role_that_never_propagates_fails_within_the_limit_with_the_aws_error() {
    let (ctx, _cancel, _rx) = ctx(Duration::from_secs(60));
    let started = std::time::Instant::now();
    let r: Result<(), _> = until_seen_with(
        &ctx,
        "creating the project",
        FAST.0,
        FAST.1,
        Duration::from_millis(100),
        is_propagation_error,
        || async {
            Err(ProviderError::new(
                Some("InvalidInputException".into()),
                "CodeBuild is not authorized to perform: sts:AssumeRole on arn:aws:iam::123456789012:role/build",
            ))
        },
    )
    .await;
    let e = r.unwrap_err();
    assert!(e.code_is("InvalidInputException"), "{e:?}");
    assert!(e.hint.as_deref().is_some_and(|h| h.contains("propagate")), "{e:?}");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn the_step_timeout_bounds_the_retries_when_it_is_shorter() {
    let (ctx, _cancel, _rx) = ctx(Duration::from_millis(50));
    let started = std::time::Instant::now();
    let r: Result<(), _> =
        until_seen_with(&ctx, "x", FAST.0, FAST.1, Duration::from_secs(120), is_propagation_error, || async {
            Err(ecs_cannot_assume())
        })
        .await;
    assert!(r.is_err());
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn an_interrupt_stops_the_retries() {
    let (ctx, cancel, _rx) = ctx(Duration::from_secs(60));
    let calls = AtomicU32::new(0);
    let r: Result<(), _> = until_seen_with(
        &ctx,
        "creating the service",
        Duration::from_millis(50),
        Duration::from_millis(50),
        Duration::from_secs(60),
        is_propagation_error,
        || {
            if calls.fetch_add(1, Ordering::SeqCst) == 1 {
                cancel();
            }
            async { Err(ecs_cannot_assume()) }
        },
    )
    .await;
    let e = r.unwrap_err();
    assert!(e.code_is("Interrupted"), "{e:?}");
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[test]
fn propagation_errors_are_recognised_by_message_and_code() {
    let yes = [
        ecs_cannot_assume(),
        ProviderError::new(
            Some("InvalidParameterException".into()),
            "ECS was unable to assume the role 'arn:…' that was provided for this task.",
        ),
        ProviderError::new(
            Some("InvalidInputException".into()),
            "CodeBuild is not authorized to perform: sts:AssumeRole on arn:aws:iam::1:role/b",
        ),
        ProviderError::new(
            Some("InvalidParameterValueException".into()),
            "The role defined for the function cannot be assumed by Lambda.",
        ),
        ProviderError::new(Some("ClientException".into()), "Role is not valid: cannot ASSUME the ROLE yet"),
    ];
    for e in &yes {
        assert!(is_propagation_error(e), "{e:?}");
    }
    let no = [
        ProviderError::new(Some("ClientException".into()), "Container definition is invalid"),
        ProviderError::new(Some("AccessDeniedException".into()), "not authorized to assume role"),
        ProviderError::new(Some("InvalidParameterException".into()), "The target group does not exist"),
    ];
    for e in &no {
        assert!(!is_propagation_error(e), "{e:?}");
    }
}
