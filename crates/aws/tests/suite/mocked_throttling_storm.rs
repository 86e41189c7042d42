//! A throttling storm on one service, through the whole engine (spec → plan
//! → executor → state) with the SSM and CloudWatch Logs clients mocked by
//! aws-smithy-mocks: SSM throttles the first PutParameter attempts as AWS
//! does (HTTP 400, `ThrottlingException`), Logs answers every call.
//! - SSM's pacing limit is cut and its steps run fewer at once; Logs keeps
//!   its whole limit and is never throttled;
//! - every throttled attempt is retried once by the SDK (retries bounded by
//!   the retry config), and every parameter is put exactly once: no
//!   duplicate create;
//! - the run succeeds and state records every resource.

use aws_sdk_cloudwatchlogs::operation::create_log_group::CreateLogGroupOutput;
use aws_sdk_cloudwatchlogs::operation::describe_log_groups::DescribeLogGroupsOutput;
use aws_sdk_cloudwatchlogs::types::LogGroup as AwsLogGroup;
use aws_sdk_ssm::operation::describe_parameters::DescribeParametersOutput;
use aws_sdk_ssm::operation::get_parameters::GetParametersOutput;
use aws_sdk_ssm::operation::put_parameter::PutParameterOutput;
use aws_smithy_mocks::{create_mock_http_client, mock, MockResponseInterceptor, Rule, RuleMode};
use aws_smithy_types::retry::RetryConfig;
use deployctl_aws::kit::Adapter;
use deployctl_aws::logs::log_group::{self, LogGroup};
use deployctl_aws::ssm::parameter::{self, Parameter};
use deployctl_aws::CountCalls;
use deployctl_engine::{ApiCalls, EventSink, Executor, Kinds, Mode, StateWriter};
use deployctl_state::{Backend, LocalBackend, State};
use std::sync::Arc;
use std::time::Duration;

/// How SSM (awsJson 1.1) refuses a throttled call.
const THROTTLED: &str = r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#;

const PARAMETERS: usize = 24;
const GROUPS: usize = 8;
const PARALLELISM: usize = 8;
/// Throttled PutParameter attempts, at the start of the run.
const STORM: usize = 12;
const MAX_ATTEMPTS: u32 = 8;

fn retry() -> RetryConfig {
    RetryConfig::standard()
        .with_max_attempts(MAX_ATTEMPTS)
        .with_initial_backoff(Duration::from_millis(2))
        .with_max_backoff(Duration::from_millis(20))
}

fn mocks(rules: &[&Rule]) -> MockResponseInterceptor {
    let mut m = MockResponseInterceptor::new().rule_mode(RuleMode::MatchAny);
    for r in rules {
        m = m.with_rule(r);
    }
    m
}

fn ssm(rules: &[&Rule], calls: &ApiCalls) -> aws_sdk_ssm::Client {
    let conf = aws_sdk_ssm::Config::builder()
        .behavior_version(aws_sdk_ssm::config::BehaviorVersion::latest())
        .region(aws_sdk_ssm::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_ssm::config::Credentials::new("AKIDTEST", "secret", None, None, "test"))
        .http_client(create_mock_http_client())
        .interceptor(mocks(rules))
        .interceptor(CountCalls(calls.clone()))
        .retry_config(retry())
        .build();
    aws_sdk_ssm::Client::from_conf(conf)
}

fn logs(rules: &[&Rule], calls: &ApiCalls) -> aws_sdk_cloudwatchlogs::Client {
    use aws_sdk_cloudwatchlogs::config::{BehaviorVersion, Credentials, Region};
    let conf = aws_sdk_cloudwatchlogs::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("AKIDTEST", "secret", None, None, "test"))
        .http_client(create_mock_http_client())
        .interceptor(mocks(rules))
        .interceptor(CountCalls(calls.clone()))
        .retry_config(retry())
        .build();
    aws_sdk_cloudwatchlogs::Client::from_conf(conf)
}

fn spec() -> deployctl_spec::Stack {
    let keys = |n: usize| (0..n).map(|i| format!("k{i:02}")).collect::<Vec<_>>().join(", ");
    let text = format!(
        "stack: storm\nregion: us-east-1\nvars:\n  params: [{}]\n  groups: [{}]\nresources:\n  \
         param:\n    type: ssm.parameter\n    for_each: ${{var.params}}\n    properties:\n      \
         name: /storm/${{each.key}}\n      type: String\n      value: v\n  \
         logs:\n    type: logs.log_group\n    for_each: ${{var.groups}}\n    properties:\n      \
         log_group_name: /storm/${{each.key}}\n",
        keys(PARAMETERS),
        keys(GROUPS)
    );
    deployctl_spec::load_str("storm.yaml", &text, &Default::default(), &vec![&parameter::SCHEMA, &log_group::SCHEMA])
        .unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::test]
async fn a_throttling_storm_on_one_service_slows_that_service_only_with_bounded_retries_and_no_duplicate() {
    let calls = ApiCalls::new();
    // SSM: nothing exists yet; the first STORM puts are throttled.
    let get = mock!(aws_sdk_ssm::Client::get_parameters).then_output(|| GetParametersOutput::builder().build());
    let describe =
        mock!(aws_sdk_ssm::Client::describe_parameters).then_output(|| DescribeParametersOutput::builder().build());
    let put = mock!(aws_sdk_ssm::Client::put_parameter)
        .sequence()
        .http_status(400, Some(THROTTLED.to_string()))
        .times(STORM)
        .output(|| PutParameterOutput::builder().version(1).build())
        .repeatedly()
        .build();
    // Logs: nothing at planning; each group visible once created.
    let mut group_rules = Vec::new();
    for i in 0..GROUPS {
        let name = format!("/storm/k{i:02}");
        let arn = format!("arn:aws:logs:us-east-1:123456789012:log-group:{name}:*");
        let wanted = name.clone();
        group_rules.push(
            mock!(aws_sdk_cloudwatchlogs::Client::describe_log_groups)
                .match_requests(move |r| r.log_group_name_prefix() == Some(wanted.as_str()))
                .sequence()
                .output(|| DescribeLogGroupsOutput::builder().build())
                .output(move || {
                    DescribeLogGroupsOutput::builder()
                        .log_groups(AwsLogGroup::builder().log_group_name(name.clone()).arn(arn.clone()).build())
                        .build()
                })
                .repeatedly()
                .build(),
        );
    }
    let any_groups = mock!(aws_sdk_cloudwatchlogs::Client::describe_log_groups)
        .then_output(|| DescribeLogGroupsOutput::builder().build());
    let create =
        mock!(aws_sdk_cloudwatchlogs::Client::create_log_group).then_output(|| CreateLogGroupOutput::builder().build());
    let mut logs_rules: Vec<&Rule> = group_rules.iter().collect();
    logs_rules.extend([&create, &any_groups]);
    let kinds = Kinds::new(vec![
        Adapter::arc(Parameter::new(ssm(&[&get, &describe, &put], &calls))),
        Adapter::arc(LogGroup::new(logs(&logs_rules, &calls))),
    ]);

    let dir = tempfile::tempdir().unwrap();
    let backend: Arc<dyn Backend> = Arc::new(LocalBackend::new(dir.path(), "storm"));
    let state = State::new("storm", "us-east-1");
    let stack = spec();
    let (sink, _rx) = EventSink::new();
    let plan = deployctl_engine::plan(&stack, Some(&state), &kinds, Mode::Apply, &sink).await.unwrap();
    assert_eq!(plan.summary().create, PARAMETERS + GROUPS, "{:#?}", plan.summary());

    let (writer, handle) = StateWriter::start(backend.clone(), None, state.clone(), None, sink.clone());
    let executor = Executor {
        kinds: kinds.clone(),
        events: sink.clone(),
        parallelism: PARALLELISM,
        cancel: tokio_util::sync::CancellationToken::new(),
        default_timeout: Duration::from_secs(60),
    };
    let report = executor.apply(&plan, &state, writer).await;
    assert!(report.ok(), "{:?}", report.failed);
    drop(executor);
    drop(sink);
    handle.await.unwrap();

    // The storm slowed SSM only.
    let ssm_pacing = report.pacing["ssm"];
    let logs_pacing = report.pacing["logs"];
    assert!(ssm_pacing.throttled >= 1, "{ssm_pacing:?}");
    assert!(ssm_pacing.lowest_limit <= PARALLELISM / 2, "SSM's limit was cut: {ssm_pacing:?}");
    assert_eq!(logs_pacing.throttled, 0, "{logs_pacing:?}");
    assert_eq!(logs_pacing.lowest_limit, PARALLELISM, "Logs kept its whole limit: {logs_pacing:?}");

    // Bounded retries, no duplicate: each throttled attempt retried once,
    // each parameter put once.
    let snapshot = calls.snapshot();
    let puts = snapshot[&("SSM".to_string(), "PutParameter".to_string())];
    assert_eq!(puts.calls, PARAMETERS as u64, "one PutParameter operation per parameter: {puts:?}");
    assert_eq!(puts.throttled, STORM as u64, "{puts:?}");
    assert_eq!(puts.retries, STORM as u64, "each throttled attempt retried once, none given up: {puts:?}");
    assert_eq!(put.num_calls(), PARAMETERS + STORM, "attempts: one success per parameter, plus the storm");
    assert_eq!(create.num_calls(), GROUPS, "one CreateLogGroup per group");

    let after = backend.read().await.unwrap().expect("state").state;
    assert_eq!(after.resources.len(), PARAMETERS + GROUPS);
    assert!(after.resources.values().all(|r| r.id.is_some() && r.pending.is_none()), "{:#?}", after.resources);
}
