//! `events.rule`: an EventBridge rule (an event pattern or a schedule) and
//! its targets.
//!
//! The id is the rule name on the default event bus, `<bus>/<name>` on
//! another one (a rule name has no `/`, a bus name may: the id splits at
//! the last one). Reads are batched: one ListRules per event bus (100 a
//! page) for the longest prefix the names share (`<stack>-` with default
//! names), then one ListTargetsByRule and one ListTagsForResource per rule,
//! concurrently. Rules cannot be listed by tag: adoption looks each
//! candidate up by its name (or the default name) and adopts it only if it
//! carries this stack's and this resource's tags.
//!
//! PutRule is an upsert that replaces the whole rule (a field left out is
//! reset), so create and update send the whole configuration; a description
//! the spec does not manage is sent back as it is live. Tags go in the
//! create call and are changed with TagResource/UntagResource after; create
//! refuses a name that a rule not of this resource already has, rather
//! than overwrite it.
//!
//! Targets are keyed by id: the new and changed ones are put (PutTargets
//! replaces a target whole), the ones no longer in the spec removed, 10 a
//! call (the API's limit). Both calls answer success with per-entry
//! failures, which are errors here. Delete removes every live target, then
//! the rule (a rule that has targets cannot be deleted).

use crate::elbv2::want_str;
use crate::error::from_sdk;
use crate::tags::{is_ours, is_this_stacks, tag_changes};
use async_trait::async_trait;
use aws_sdk_eventbridge::types::{Rule as LiveRule, RuleState, Tag, Target};
use aws_sdk_eventbridge::Client;
use deployctl_engine::diff::normalize;
use deployctl_engine::kind::{TAG_RESOURCE, TAG_STACK};
use deployctl_engine::{Observed, OpCtx, Props, ProviderError, ReadCtx, ResourceKind};
use deployctl_spec::{Attr, KindSchema, Prop, Type};
use futures::future::join_all;
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, BTreeSet};

const DEFAULT_BUS: &str = "default";
/// The most rules one ListRules page holds.
const PAGE: i32 = 100;
/// The most entries one PutTargets or RemoveTargets takes.
const TARGET_CHUNK: usize = 10;
const STATES: [&str; 3] = ["ENABLED", "DISABLED", "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS"];
/// The properties PutRule sets.
const RULE_FIELDS: [&str; 4] = ["description", "event_pattern", "schedule_expression", "state"];

static TARGET: [Prop; 5] = [
    Prop::new("id", Type::String, "The target's id in the rule: letters, digits, `.`, `-` and `_`, at most 64.")
        .required(),
    Prop::new(
        "arn",
        Type::String,
        "What the rule invokes: an SNS topic, an SQS queue, a Lambda function, a log group, an event bus, … \
         (`${alerts.arn}`). The target's own policy must let EventBridge in (an SNS topic's `policy` allowing \
         `events.amazonaws.com` to `sns:Publish`).",
    )
    .required(),
    Prop::new(
        "role_arn",
        Type::String,
        "The role EventBridge assumes to invoke the target, for targets that take one (another account's event \
         bus, Kinesis, ECS tasks, CodePipeline, …).",
    ),
    Prop::new(
        "input",
        Type::String,
        "Constant JSON text sent to the target instead of the event, e.g. `'{\"pipeline\": \"shop\"}'`.",
    ),
    Prop::new(
        "input_path",
        Type::String,
        "A JSONPath choosing the part of the event sent to the target, e.g. `$.detail`. At most one of `input` and \
         `input_path`.",
    ),
];

pub static SCHEMA: KindSchema = KindSchema {
    type_name: "events.rule",
    doc: "An EventBridge rule and its targets: it matches events (`event_pattern`) or runs on a schedule \
          (`schedule_expression`), exactly one of the two, and sends each match to its targets. Changed in place \
          (PutRule, PutTargets, RemoveTargets) except for its name and event bus. A pipeline's failures reach an \
          SNS topic with `event_pattern: {source: [aws.codepipeline], detail-type: [CodePipeline Pipeline \
          Execution State Change], detail: {state: [FAILED]}}` and `targets: [{id: alerts, arn: \
          \"${alerts.arn}\"}]`; the topic's policy must let `events.amazonaws.com` publish.",
    properties: &[
        Prop::new(
            "name",
            Type::String,
            "The rule's name, unique on its event bus: letters, digits, `.`, `-` and `_`, at most 64. Unset: \
             `<stack>-<address>`.",
        )
        .replace()
        .unique(),
        Prop::new("description", Type::String, "What the rule is for. Unset: not managed."),
        Prop::new(
            "event_pattern",
            Type::Document,
            "The events the rule matches, written as YAML (sent as JSON, compared as JSON): each field's value is \
             a list of values or matchers, or a nested mapping, e.g. `{source: [aws.codepipeline], detail: {state: \
             [FAILED]}}`.",
        ),
        Prop::new(
            "schedule_expression",
            Type::String,
            "Runs the targets on a schedule instead: `rate(5 minutes)` or `cron(0 12 * * ? *)` (default event bus \
             only).",
        ),
        Prop::new(
            "state",
            Type::String,
            "`ENABLED` or `DISABLED` (or `ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS`).",
        )
        .default("\"ENABLED\"")
        .one_of(aws_sdk_eventbridge::types::RuleState::values()),
        Prop::new("event_bus_name", Type::String, "The event bus's name (not its ARN).")
            .default("\"default\"")
            .replace(),
        Prop::new(
            "targets",
            Type::Set(&Type::Object(&TARGET)),
            "What the rule invokes, keyed by `id` (at most 5 a rule). Unset: not managed; `[]` removes them all. \
             Target settings not listed here (input transformers, ECS, Batch or SQS parameters, dead-letter \
             queues, retry policies) are not managed, and a target that changes loses them.",
        ),
    ],
    attributes: &[
        Attr { name: "id", doc: "The rule name (`<event_bus_name>/<name>` on a bus other than the default one)." },
        Attr { name: "arn", doc: "The rule's ARN." },
        Attr { name: "name", doc: "The rule name." },
    ],
    taggable: true,
    rules: &[pattern_or_schedule],
    example: "pipeline_failed:\n  type: events.rule\n  properties:\n    description: Tell ops when a pipeline \
              execution fails\n    event_pattern:\n      source: [aws.codepipeline]\n      detail-type: \
              [CodePipeline Pipeline Execution State Change]\n      detail:\n        state: [FAILED]\n    \
              targets:\n      - {id: alerts, arn: \"${alerts.arn}\"}\n",
};

pub struct Rule {
    client: Client,
}

/// `<stack>-<address>` as a rule name (letters, digits, `.`, `-`, `_`; at
/// most 64).
pub fn default_name(stack: &str, address: &str) -> String {
    crate::iam::sanitized_name(&format!("{stack}-{address}"), |c| c.is_ascii_alphanumeric() || "-_.".contains(c), 64)
}

/// The id of a rule: its name on the default bus, `<bus>/<name>` elsewhere.
pub fn rule_id(bus: &str, name: &str) -> String {
    if bus == DEFAULT_BUS {
        name.to_string()
    } else {
        format!("{bus}/{name}")
    }
}

/// `(bus, name)` of an id.
pub fn split_id(id: &str) -> (&str, &str) {
    id.rsplit_once('/').unwrap_or((DEFAULT_BUS, id))
}

fn rule_name(stack: &str, address: &str, desired: &Props) -> String {
    want_str(&SCHEMA, desired, "name").filter(|n| !n.is_empty()).unwrap_or_else(|| default_name(stack, address))
}

fn bus_of(desired: &Props) -> String {
    want_str(&SCHEMA, desired, "event_bus_name").filter(|b| !b.is_empty()).unwrap_or_else(|| DEFAULT_BUS.into())
}

fn not_found(e: &ProviderError) -> bool {
    e.code_is("ResourceNotFoundException") || e.code_is("ResourceNotFound")
}

fn eb_tags(tags: &BTreeMap<String, String>) -> Result<Vec<Tag>, ProviderError> {
    tags.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build().map_err(|e| ProviderError::msg(e.to_string())))
        .collect()
}

/// The longest prefix all names share: what one ListRules asks for.
pub fn common_prefix<'a>(names: impl IntoIterator<Item = &'a str>) -> String {
    let mut names = names.into_iter();
    let Some(first) = names.next() else { return String::new() };
    let mut len = first.len();
    for n in names {
        len = first.bytes().zip(n.bytes()).take(len).take_while(|(a, b)| a == b).count();
    }
    first[..len].to_string()
}

/// An event pattern as the JSON text PutRule takes.
pub fn pattern_text(v: &Value) -> Result<String, ProviderError> {
    match v {
        Value::Object(m) if !m.is_empty() => Ok(v.to_string()),
        _ => Err(ProviderError::msg(format!(
            "event_pattern must be a non-empty mapping of event fields, not {}",
            match v {
                Value::String(_) => "a string",
                Value::Object(_) => "an empty mapping",
                Value::Array(_) => "a list",
                _ => "a scalar",
            }
        ))
        .with_hint(
            "write the pattern as YAML, e.g. `event_pattern: {source: [aws.codepipeline], detail: {state: \
             [FAILED]}}`",
        )),
    }
}

/// A live event pattern (JSON text) in the spec's shape, so that it
/// compares as JSON with what the spec asks; text that is not JSON stays
/// text (and so differs).
pub fn pattern_value(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| json!(text))
}

/// The targets the spec asks for, when it manages them.
fn wanted_targets(desired: &Props) -> Option<Vec<Value>> {
    desired.get("targets").and_then(Value::as_array).cloned()
}

/// EventBridge takes a rule with an event pattern or a schedule, not both
/// and not neither: checked by `validate`, before any call.
fn pattern_or_schedule(p: &deployctl_spec::Literals) -> Option<deployctl_spec::RuleViolation> {
    let has = |k: &str| p.get(k).is_some_and(|v| !matches!(v, Some(Value::Null)));
    let hint = "write event_pattern to match events, or schedule_expression (`rate(5 minutes)`, `cron(0 12 * * ? *)`) \
                to run on a schedule; for both, write two rules";
    let (field, message) = match (has("event_pattern"), has("schedule_expression")) {
        (true, true) => ("schedule_expression", "it has event_pattern and schedule_expression"),
        (false, false) => ("", "it has neither"),
        _ => return None,
    };
    Some(deployctl_spec::RuleViolation {
        field,
        message: format!("a rule needs exactly one of event_pattern and schedule_expression ({message})"),
        hint: hint.to_string(),
    })
}

/// What EventBridge would refuse, or what deployctl could not keep in
/// step, said before any call.
pub fn validate(desired: &Props) -> Result<(), ProviderError> {
    let pattern = desired.get("event_pattern").filter(|v| !v.is_null());
    let schedule = want_str(&SCHEMA, desired, "schedule_expression").filter(|s| !s.trim().is_empty());
    let one_of = "write event_pattern to match events, or schedule_expression (`rate(5 minutes)`, `cron(0 12 * * ? \
                  *)`) to run on a schedule; for both, write two rules";
    match (pattern, &schedule) {
        (Some(_), Some(_)) => {
            return Err(ProviderError::msg(
                "a rule needs exactly one of event_pattern and schedule_expression (it has event_pattern and \
                 schedule_expression)",
            )
            .with_hint(one_of))
        }
        (None, None) => {
            return Err(ProviderError::msg(
                "a rule needs exactly one of event_pattern and schedule_expression (it has none)",
            )
            .with_hint(one_of))
        }
        (Some(p), None) => {
            pattern_text(p)?;
        }
        (None, Some(_)) => {}
    }
    let bus = bus_of(desired);
    if bus.starts_with("arn:") {
        return Err(ProviderError::msg(format!("event_bus_name must be the bus's name, not its ARN ({bus})"))
            .with_hint("EventBridge reports rules by bus name; write the part after `event-bus/`"));
    }
    if schedule.is_some() && bus != DEFAULT_BUS {
        return Err(ProviderError::msg(format!(
            "schedule_expression works only on the default event bus, not on {bus}"
        ))
        .with_hint("leave event_bus_name unset for a scheduled rule"));
    }
    let state = want_str(&SCHEMA, desired, "state").unwrap_or_default();
    if !STATES.contains(&state.as_str()) {
        return Err(ProviderError::msg(format!("state must be ENABLED or DISABLED, not {state:?}"))
            .with_hint("ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS is the third state EventBridge knows"));
    }
    let mut ids = BTreeSet::new();
    for (i, t) in wanted_targets(desired).unwrap_or_default().iter().enumerate() {
        let s = |k: &str| t.get(k).and_then(Value::as_str).filter(|v| !v.is_empty());
        let id = s("id").unwrap_or_default();
        if !ids.insert(id) {
            return Err(ProviderError::msg(format!("targets[{i}]: the id {id:?} is used twice"))
                .with_hint("each target of a rule needs an id of its own"));
        }
        if let Some(input) = s("input") {
            if serde_json::from_str::<Value>(input).is_err() {
                return Err(ProviderError::msg(format!("targets[{i}] ({id}): input is not JSON text"))
                    .with_hint("write it quoted, e.g. `input: '{\"pipeline\": \"shop\"}'` (a string: `'\"text\"'`)"));
            }
        }
        if s("input").is_some() && s("input_path").is_some() {
            return Err(ProviderError::msg(format!(
                "targets[{i}] ({id}): input and input_path are both set; a target takes at most one"
            )));
        }
    }
    Ok(())
}

/// A spec target as the Target PutTargets takes.
fn target(v: &Value) -> Result<Target, ProviderError> {
    let s = |k: &str| v.get(k).and_then(Value::as_str).filter(|x| !x.is_empty()).map(str::to_string);
    Target::builder()
        .set_id(s("id"))
        .set_arn(s("arn"))
        .set_role_arn(s("role_arn"))
        .set_input(s("input"))
        .set_input_path(s("input_path"))
        .build()
        .map_err(|e| ProviderError::msg(format!("targets: {e}")))
}

/// A live target in the spec's shape.
fn target_value(t: &Target) -> Value {
    let mut m = Map::new();
    m.insert("id".into(), json!(t.id()));
    m.insert("arn".into(), json!(t.arn()));
    for (k, v) in [("role_arn", t.role_arn()), ("input", t.input()), ("input_path", t.input_path())] {
        if let Some(v) = v.filter(|v| !v.is_empty()) {
            m.insert(k.into(), json!(v));
        }
    }
    Value::Object(m)
}

/// A rule in the spec's shape.
fn observed(bus: &str, r: &LiveRule, targets: &[Target], tags: BTreeMap<String, String>) -> Observed {
    let name = r.name().unwrap_or_default().to_string();
    let bus = r.event_bus_name().filter(|b| !b.is_empty()).unwrap_or(bus);
    let id = rule_id(bus, &name);
    let mut p = Props::new();
    p.insert("name".into(), json!(name));
    p.insert("description".into(), json!(r.description().unwrap_or_default()));
    if let Some(e) = r.event_pattern().filter(|e| !e.is_empty()) {
        p.insert("event_pattern".into(), pattern_value(e));
    }
    if let Some(s) = r.schedule_expression().filter(|s| !s.is_empty()) {
        p.insert("schedule_expression".into(), json!(s));
    }
    p.insert("state".into(), json!(r.state().map(RuleState::as_str).unwrap_or("ENABLED")));
    p.insert("event_bus_name".into(), json!(bus));
    p.insert("targets".into(), Value::Array(targets.iter().map(target_value).collect()));
    let mut attributes = Props::new();
    attributes.insert("id".into(), json!(id));
    attributes.insert("arn".into(), json!(r.arn()));
    attributes.insert("name".into(), json!(name));
    Observed { id, properties: p, tags, attributes }
}

/// Hints for PutRule refusals with a known cause.
fn put_rule_hint(e: ProviderError, bus: &str) -> ProviderError {
    if e.code_is("InvalidEventPatternException") {
        e.with_hint(
            "check event_pattern: each field's value is a list of values or matchers (`[FAILED]`, `[{prefix: \
             prod-}]`) or a nested mapping",
        )
    } else if e.code_is("ValidationException") && e.message.contains("ScheduleExpression") {
        e.with_hint("schedule_expression is `rate(N minutes|hours|days)` or `cron(min hour day month weekday year)`")
    } else if not_found(&e) {
        e.with_hint(format!("the event bus {bus} does not exist: create it first, or leave event_bus_name unset"))
    } else if e.code_is("LimitExceededException") {
        e.with_hint("the account's quota of rules per event bus is reached: request more in Service Quotas")
    } else {
        e
    }
}

/// Per-entry failures of PutTargets/RemoveTargets as one error.
fn entry_failures<'a>(
    call: &str,
    failures: impl Iterator<Item = (Option<&'a str>, Option<&'a str>, Option<&'a str>)>,
) -> Result<(), ProviderError> {
    let failures: Vec<(Option<&str>, Option<&str>, Option<&str>)> = failures.collect();
    let Some((_, code, _)) = failures.first() else { return Ok(()) };
    let what: Vec<String> = failures
        .iter()
        .map(|(id, code, message)| {
            format!("{}: {} {}", id.unwrap_or("?"), code.unwrap_or_default(), message.unwrap_or_default())
                .trim_end()
                .to_string()
        })
        .collect();
    Err(ProviderError::new(code.map(str::to_string), format!("{call} refused targets ({})", what.join("; ")))
        .with_hint("check the targets' ARNs, and that each target's policy (or role_arn) lets EventBridge in"))
}

impl Rule {
    pub fn new(client: Client) -> Rule {
        Rule { client }
    }

    /// The rules of one bus whose names start with `prefix`; none when the
    /// bus is gone.
    async fn list_rules(&self, bus: &str, prefix: Option<&str>) -> Result<Vec<LiveRule>, ProviderError> {
        let mut out = Vec::new();
        let mut token = None;
        loop {
            let page = match self
                .client
                .list_rules()
                .event_bus_name(bus)
                .set_name_prefix(prefix.filter(|p| !p.is_empty()).map(str::to_string))
                .limit(PAGE)
                .set_next_token(token)
                .send()
                .await
                .map_err(from_sdk)
            {
                Ok(p) => p,
                Err(e) if not_found(&e) => return Ok(Vec::new()),
                Err(e) => return Err(e),
            };
            out.extend(page.rules().iter().cloned());
            token = page.next_token().filter(|t| !t.is_empty()).map(str::to_string);
            if token.is_none() {
                return Ok(out);
            }
        }
    }

    /// A rule's targets; `None` when the rule is gone.
    async fn targets(&self, bus: &str, name: &str) -> Result<Option<Vec<Target>>, ProviderError> {
        let mut out = Vec::new();
        let mut token = None;
        loop {
            let page = match self
                .client
                .list_targets_by_rule()
                .rule(name)
                .event_bus_name(bus)
                .set_next_token(token)
                .send()
                .await
                .map_err(from_sdk)
            {
                Ok(p) => p,
                Err(e) if not_found(&e) => return Ok(None),
                Err(e) => return Err(e),
            };
            out.extend(page.targets().iter().cloned());
            token = page.next_token().filter(|t| !t.is_empty()).map(str::to_string);
            if token.is_none() {
                return Ok(Some(out));
            }
        }
    }

    /// A rule's tags (`aws:` ones left out); `None` when the rule is gone.
    async fn tags(&self, arn: &str) -> Result<Option<BTreeMap<String, String>>, ProviderError> {
        match self.client.list_tags_for_resource().resource_arn(arn).send().await.map_err(from_sdk) {
            Ok(out) => Ok(Some(
                out.tags()
                    .iter()
                    .map(|t| (t.key().to_string(), t.value().to_string()))
                    .filter(|(k, _)| !k.starts_with("aws:"))
                    .collect(),
            )),
            Err(e) if not_found(&e) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// A listed rule with its targets and tags (tags already read are
    /// passed); `None` when it went away meanwhile.
    async fn observe(
        &self,
        bus: &str,
        r: &LiveRule,
        tags: Option<BTreeMap<String, String>>,
    ) -> Result<Option<Observed>, ProviderError> {
        let name = r.name().unwrap_or_default();
        let arn = r.arn().unwrap_or_default();
        let tags = async {
            match tags {
                Some(t) => Ok(Some(t)),
                None => self.tags(arn).await,
            }
        };
        let (targets, tags) = futures::join!(self.targets(bus, name), tags);
        match (targets?, tags?) {
            (Some(targets), Some(tags)) => Ok(Some(observed(bus, r, &targets, tags))),
            _ => Ok(None),
        }
    }

    async fn read_ids(&self, ids: &[String]) -> Result<Vec<Observed>, ProviderError> {
        let mut by_bus: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
        for id in ids {
            let (bus, name) = split_id(id);
            by_bus.entry(bus).or_default().insert(name);
        }
        let per_bus = by_bus.iter().map(|(bus, names)| async move {
            // One listing for all the names. moto 5.2.5 quirk: it matches
            // NamePrefix as a regular expression (`.` matches any
            // character), so it may answer more: keep exact names only.
            let prefix = common_prefix(names.iter().copied());
            let rules = self.list_rules(bus, Some(&prefix)).await?;
            let found: Vec<&LiveRule> = rules.iter().filter(|r| r.name().is_some_and(|n| names.contains(n))).collect();
            let mut out = Vec::new();
            for o in join_all(found.into_iter().map(|r| self.observe(bus, r, None))).await {
                out.extend(o?);
            }
            Ok::<_, ProviderError>(out)
        });
        let mut out = Vec::new();
        for r in join_all(per_bus).await {
            out.extend(r?);
        }
        Ok(out)
    }

    async fn must_read(&self, id: &str) -> Result<Observed, ProviderError> {
        self.read_ids(&[id.to_string()]).await?.into_iter().next().ok_or_else(|| {
            ProviderError::new(Some("ResourceNotFoundException".into()), format!("rule {id} does not exist"))
                .with_hint("it was deleted outside deployctl; re-run to create it again")
        })
    }

    /// PutRule with the whole configuration; `description` when the spec
    /// does not manage it is the live one, `tags` only on create.
    async fn put_rule(
        &self,
        bus: &str,
        name: &str,
        desired: &Props,
        live_description: Option<String>,
        tags: Option<Vec<Tag>>,
    ) -> Result<(), ProviderError> {
        // `""` clears the description: PutRule resets what it is not sent.
        let description = match desired.get("description") {
            Some(Value::String(d)) => Some(d.clone()),
            _ => live_description,
        }
        .filter(|d| !d.is_empty());
        let pattern = match desired.get("event_pattern").filter(|v| !v.is_null()) {
            Some(p) => Some(pattern_text(p)?),
            None => None,
        };
        let state = want_str(&SCHEMA, desired, "state").unwrap_or_else(|| "ENABLED".into());
        self.client
            .put_rule()
            .name(name)
            .event_bus_name(bus)
            .set_description(description)
            .set_event_pattern(pattern)
            .set_schedule_expression(want_str(&SCHEMA, desired, "schedule_expression").filter(|s| !s.is_empty()))
            .state(RuleState::from(state.as_str()))
            .set_tags(tags)
            .send()
            .await
            .map_err(from_sdk)
            .map_err(|e| put_rule_hint(e, bus))?;
        Ok(())
    }

    /// Puts the new and changed targets, removes those not wanted.
    async fn converge_targets(
        &self,
        bus: &str,
        name: &str,
        live: &[Target],
        want: &[Value],
    ) -> Result<(), ProviderError> {
        let ty = Type::Object(&TARGET);
        let live: BTreeMap<&str, Value> = live.iter().map(|t| (t.id(), normalize(&ty, &target_value(t)))).collect();
        let want_ids: BTreeSet<&str> = want.iter().filter_map(|t| t.get("id")?.as_str()).collect();
        let remove: Vec<String> = live.keys().filter(|id| !want_ids.contains(*id)).map(|id| id.to_string()).collect();
        let put: Vec<Target> = want
            .iter()
            .filter(|t| {
                let id = t.get("id").and_then(Value::as_str).unwrap_or_default();
                live.get(id) != Some(&normalize(&ty, t))
            })
            .map(target)
            .collect::<Result<_, _>>()?;
        // Removing first makes room under the 5-targets-a-rule quota.
        for chunk in remove.chunks(TARGET_CHUNK) {
            let out = self
                .client
                .remove_targets()
                .rule(name)
                .event_bus_name(bus)
                .set_ids(Some(chunk.to_vec()))
                .send()
                .await
                .map_err(from_sdk)?;
            entry_failures(
                "RemoveTargets",
                out.failed_entries().iter().map(|f| (f.target_id(), f.error_code(), f.error_message())),
            )?;
        }
        for chunk in put.chunks(TARGET_CHUNK) {
            let out = self
                .client
                .put_targets()
                .rule(name)
                .event_bus_name(bus)
                .set_targets(Some(chunk.to_vec()))
                .send()
                .await
                .map_err(from_sdk)
                .map_err(|e| {
                    if e.code_is("LimitExceededException") {
                        e.with_hint("a rule has at most 5 targets")
                    } else {
                        e
                    }
                })?;
            entry_failures(
                "PutTargets",
                out.failed_entries().iter().map(|f| (f.target_id(), f.error_code(), f.error_message())),
            )?;
        }
        Ok(())
    }

    async fn converge_tags(
        &self,
        arn: &str,
        live: &BTreeMap<String, String>,
        want: &BTreeMap<String, String>,
    ) -> Result<(), ProviderError> {
        let (set, unset) = tag_changes(live, want);
        if !set.is_empty() {
            self.client
                .tag_resource()
                .resource_arn(arn)
                .set_tags(Some(eb_tags(&set)?))
                .send()
                .await
                .map_err(from_sdk)?;
        }
        if !unset.is_empty() {
            self.client.untag_resource().resource_arn(arn).set_tag_keys(Some(unset)).send().await.map_err(from_sdk)?;
        }
        Ok(())
    }

    /// Every event bus's name.
    async fn buses(&self) -> Result<Vec<String>, ProviderError> {
        let mut out = Vec::new();
        let mut token = None;
        loop {
            let page =
                self.client.list_event_buses().limit(PAGE).set_next_token(token).send().await.map_err(from_sdk)?;
            out.extend(page.event_buses().iter().filter_map(|b| b.name().map(str::to_string)));
            token = page.next_token().filter(|t| !t.is_empty()).map(str::to_string);
            if token.is_none() {
                return Ok(out);
            }
        }
    }
}

#[async_trait]
impl ResourceKind for Rule {
    fn schema(&self) -> &'static KindSchema {
        &SCHEMA
    }

    async fn read(&self, _ctx: &ReadCtx, ids: &[String]) -> Result<Vec<Observed>, ProviderError> {
        self.read_ids(ids).await
    }

    async fn find_tagged(&self, ctx: &ReadCtx) -> Result<Vec<(String, Observed)>, ProviderError> {
        let mut out = Vec::new();
        for bus in self.buses().await? {
            let rules = self.list_rules(&bus, None).await?;
            let tagged = join_all(rules.iter().map(|r| self.tags(r.arn().unwrap_or_default()))).await;
            let mut mine = Vec::new();
            for (r, tags) in rules.iter().zip(tagged) {
                let Some(tags) = tags? else { continue };
                if tags.get(TAG_STACK) == Some(&ctx.stack) {
                    if let Some(address) = tags.get(TAG_RESOURCE).cloned() {
                        mine.push((address, r, tags));
                    }
                }
            }
            let bus = bus.as_str();
            let observed = join_all(mine.into_iter().map(|(address, r, tags)| async move {
                Ok::<_, ProviderError>(self.observe(bus, r, Some(tags)).await?.map(|o| (address, o)))
            }))
            .await;
            for o in observed {
                out.extend(o?);
            }
        }
        Ok(out)
    }

    async fn find_existing(
        &self,
        ctx: &ReadCtx,
        wanted: &[(String, Props)],
    ) -> Result<Vec<(String, Observed)>, ProviderError> {
        let by_id: BTreeMap<String, &String> = wanted
            .iter()
            .map(|(address, p)| (rule_id(&bus_of(p), &rule_name(&ctx.stack, address, p)), address))
            .collect();
        if by_id.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<String> = by_id.keys().cloned().collect();
        Ok(self
            .read_ids(&ids)
            .await?
            .into_iter()
            .filter_map(|o| {
                let address = by_id.get(&o.id)?;
                is_this_stacks(&o.tags, &ctx.stack, address).then(|| ((*address).clone(), o))
            })
            .collect())
    }

    async fn create(&self, ctx: &OpCtx, desired: &Props) -> Result<Observed, ProviderError> {
        validate(desired)?;
        let name = rule_name(&ctx.stack, &ctx.address, desired);
        let bus = bus_of(desired);
        let id = rule_id(&bus, &name);
        // PutRule would overwrite a rule of that name: refuse one that is
        // not this resource's.
        if let Some(existing) = self.read_ids(std::slice::from_ref(&id)).await?.into_iter().next() {
            if !is_ours(&existing.tags, &ctx.stack, &ctx.address) {
                return Err(ProviderError::new(
                    Some("RuleAlreadyExists".into()),
                    format!("a rule named {name} already exists on the event bus {bus} and is not this resource's"),
                )
                .with_hint("it lacks this stack's deployctl tags: set another name, or delete that rule"));
            }
        }
        self.put_rule(&bus, &name, desired, None, Some(eb_tags(&ctx.tags)?)).await?;
        ctx.record_id(&id);
        if let Some(want) = wanted_targets(desired) {
            let live = self.targets(&bus, &name).await?.unwrap_or_default();
            self.converge_targets(&bus, &name, &live, &want).await?;
        }
        let live = self.must_read(&id).await?;
        // An earlier, interrupted create left the rule: PutRule does not
        // change the tags of a rule that exists.
        if live.tags != ctx.tags {
            let arn = live.attributes.get("arn").and_then(Value::as_str).unwrap_or_default().to_string();
            self.converge_tags(&arn, &live.tags, &ctx.tags).await?;
            return self.must_read(&id).await;
        }
        Ok(live)
    }

    async fn update(
        &self,
        ctx: &OpCtx,
        current: &Observed,
        desired: &Props,
        changed: &[String],
    ) -> Result<Observed, ProviderError> {
        validate(desired)?;
        let (bus, name) = split_id(&current.id);
        let has = |p: &str| changed.iter().any(|c| c == p);
        if RULE_FIELDS.iter().any(|f| has(f)) {
            let live_description = current.properties.get("description").and_then(Value::as_str).map(str::to_string);
            self.put_rule(bus, name, desired, live_description, None).await?;
        }
        if has("targets") {
            let want = wanted_targets(desired).unwrap_or_default();
            let live = self.targets(bus, name).await?.unwrap_or_default();
            self.converge_targets(bus, name, &live, &want).await?;
        }
        if has("tags") {
            let arn = current.attributes.get("arn").and_then(Value::as_str).unwrap_or_default().to_string();
            self.converge_tags(&arn, &current.tags, &ctx.tags).await?;
        }
        self.must_read(&current.id).await
    }

    async fn delete(&self, _ctx: &OpCtx, current: &Observed, _recorded: &Props) -> Result<(), ProviderError> {
        let (bus, name) = split_id(&current.id);
        let Some(live) = self.targets(bus, name).await? else { return Ok(()) };
        // A rule that has targets cannot be deleted.
        self.converge_targets(bus, name, &live, &[]).await?;
        // moto 5.2.5 answers success for a rule that is not there; AWS may
        // answer ResourceNotFoundException: both are "gone".
        match self.client.delete_rule().name(name).event_bus_name(bus).send().await.map_err(from_sdk) {
            Ok(_) => Ok(()),
            Err(e) if not_found(&e) => Ok(()),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(v: Value) -> Props {
        v.as_object().unwrap().clone()
    }

    fn pattern() -> Value {
        json!({"source": ["aws.codepipeline"], "detail-type": ["CodePipeline Pipeline Execution State Change"],
               "detail": {"state": ["FAILED"]}})
    }

    #[test]
    fn default_names_fit_eventbridge_rules() {
        assert_eq!(default_name("shop", "pipeline_failed"), "shop-pipeline_failed");
        assert_eq!(default_name("shop", "rule[a.b]"), "shop-rule-a.b");
        assert_eq!(default_name("shop", "nightly run"), "shop-nightly-run");
        let long = default_name("shop", &"x".repeat(100));
        assert_eq!(long.len(), 64);
        assert_eq!(long, default_name("shop", &"x".repeat(100)), "stable");
        assert_ne!(long, default_name("shop", &"x".repeat(101)), "distinct");
        assert!(long.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)));
    }

    #[test]
    fn ids_name_the_bus_unless_it_is_the_default() {
        assert_eq!(rule_id("default", "shop-failed"), "shop-failed");
        assert_eq!(rule_id("orders", "shop-failed"), "orders/shop-failed");
        assert_eq!(split_id("shop-failed"), ("default", "shop-failed"));
        assert_eq!(split_id("orders/shop-failed"), ("orders", "shop-failed"));
        assert_eq!(split_id("aws.partner/saas/bus/shop-failed"), ("aws.partner/saas/bus", "shop-failed"));
        assert_eq!(common_prefix(["shop-a", "shop-ab", "shop-b"]), "shop-");
        assert_eq!(common_prefix(["shop-a"]), "shop-a");
        assert_eq!(common_prefix(["a", "b"]), "");
        assert_eq!(common_prefix(Vec::<&str>::new()), "");
    }

    #[test]
    fn patterns_compare_as_json_not_as_text() {
        let ty = Type::Document;
        let spec = pattern();
        // What AWS answers: other key order, other spacing.
        let live = pattern_value(
            r#"{ "detail": {"state": ["FAILED"]},
                 "detail-type": ["CodePipeline Pipeline Execution State Change"], "source": ["aws.codepipeline"] }"#,
        );
        assert_eq!(normalize(&ty, &spec), normalize(&ty, &live));
        let sent = pattern_text(&spec).unwrap();
        assert_eq!(normalize(&ty, &pattern_value(&sent)), normalize(&ty, &spec), "what is sent reads back equal");
        let mut other = spec.clone();
        other["detail"]["state"] = json!(["FAILED", "STOPPED"]);
        assert_ne!(normalize(&ty, &other), normalize(&ty, &live));
        // Text that is not JSON stays text, and so differs.
        assert_eq!(pattern_value("{not json"), json!("{not json"));
        assert_ne!(normalize(&ty, &pattern_value("{not json")), normalize(&ty, &spec));
    }

    #[test]
    fn a_rule_has_exactly_one_of_pattern_and_schedule() {
        assert!(validate(&props(json!({"event_pattern": pattern()}))).is_ok());
        assert!(validate(&props(json!({"schedule_expression": "rate(5 minutes)"}))).is_ok());
        let none = validate(&props(json!({"description": "x"}))).unwrap_err();
        assert!(none.message.contains("exactly one of event_pattern and schedule_expression (it has none)"), "{none}");
        assert!(none.hint.unwrap().contains("rate(5 minutes)"));
        let both =
            validate(&props(json!({"event_pattern": pattern(), "schedule_expression": "rate(1 hour)"}))).unwrap_err();
        assert!(both.message.contains("it has event_pattern and schedule_expression"), "{both}");
        let text = validate(&props(json!({"event_pattern": "{\"source\": [\"aws.ec2\"]}"}))).unwrap_err();
        assert!(text.message.contains("not a string"), "{text}");
        let empty = validate(&props(json!({"event_pattern": {}}))).unwrap_err();
        assert!(empty.message.contains("an empty mapping"), "{empty}");
    }

    #[test]
    fn validation_catches_what_eventbridge_would_refuse() {
        let on_bus = validate(&props(json!({"schedule_expression": "rate(5 minutes)", "event_bus_name": "orders"})));
        assert!(on_bus.unwrap_err().message.contains("only on the default event bus"));
        let arn = "arn:aws:events:us-east-1:123456789012:event-bus/orders";
        let by_arn = validate(&props(json!({"event_pattern": pattern(), "event_bus_name": arn})));
        assert!(by_arn.unwrap_err().message.contains("not its ARN"));
        let state = validate(&props(json!({"event_pattern": pattern(), "state": "ON"}))).unwrap_err();
        assert!(state.message.contains("state must be ENABLED or DISABLED"), "{state}");
        let t = |targets: Value| validate(&props(json!({"event_pattern": pattern(), "targets": targets})));
        assert!(t(json!([{"id": "a", "arn": "arn:x"}, {"id": "b", "arn": "arn:y", "input": "{\"k\": 1}"}])).is_ok());
        let twice = t(json!([{"id": "a", "arn": "arn:x"}, {"id": "a", "arn": "arn:y"}])).unwrap_err();
        assert!(twice.message.contains("\"a\" is used twice"), "{twice}");
        let input = t(json!([{"id": "a", "arn": "arn:x", "input": "not json"}])).unwrap_err();
        assert!(input.message.contains("input is not JSON"), "{input}");
        let both = t(json!([{"id": "a", "arn": "arn:x", "input": "{}", "input_path": "$.detail"}])).unwrap_err();
        assert!(both.message.contains("at most one"), "{both}");
    }

    #[test]
    fn targets_read_in_the_spec_shape() {
        let t = Target::builder().id("alerts").arn("arn:aws:sns:us-east-1:1:t").input_path("$.detail").build().unwrap();
        assert_eq!(
            target_value(&t),
            json!({"id": "alerts", "arn": "arn:aws:sns:us-east-1:1:t", "input_path": "$.detail"})
        );
        let spec = json!({"id": "alerts", "arn": "arn:aws:sns:us-east-1:1:t", "input_path": "$.detail"});
        assert_eq!(target_value(&target(&spec).unwrap()), spec);
        let failed =
            entry_failures("PutTargets", [(Some("a"), Some("ValidationException"), Some("bad arn"))].into_iter());
        let e = failed.unwrap_err();
        assert_eq!(e.code.as_deref(), Some("ValidationException"));
        assert!(e.message.contains("a: ValidationException bad arn"), "{e}");
        assert!(entry_failures("PutTargets", std::iter::empty()).is_ok());
    }
}
