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
//! What EventBridge would refuse is checked by the schema's rules, offline
//! on what the spec writes as literals, and again before PutRule on the
//! resolved values (a target list that names `${alerts.arn}` is not a
//! literal, so its ids and inputs are only known then).
//!
//! Targets are keyed by id: the new and changed ones are put (PutTargets
//! replaces a target whole), the ones no longer in the spec removed, 10 a
//! call (the API's limit). Both calls answer success with per-entry
//! failures, which are errors here. Delete removes every live target, then
//! the rule (a rule that has targets cannot be deleted).

use crate::error::from_sdk;
use crate::kit::tagger::EventsTags;
use crate::kit::{
    attrs, is_gone, model, own_tags, tagging, unless_gone, Adopt, Created, Kind, Live, Model, Tagger, Tags,
};
use crate::tags::{is_ours, is_this_stacks};
use aws_sdk_eventbridge::types::{Rule as LiveRule, RuleState, Tag, Target};
use aws_sdk_eventbridge::Client;
use deployctl_engine::kind::TAG_STACK;
use deployctl_engine::{Observed, OpCtx, Props, ProviderError, ReadCtx};
use deployctl_spec::{Attr, KindSchema, Literals, RuleViolation};
use futures::future::join_all;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

const DEFAULT_BUS: &str = "default";
/// The most rules one ListRules page holds.
const PAGE: i32 = 100;
/// The most entries one PutTargets or RemoveTargets takes.
const TARGET_CHUNK: usize = 10;
/// The properties PutRule sets.
const RULE_FIELDS: [&str; 4] = ["description", "event_pattern", "schedule_expression", "state"];

model! {
    pub struct RuleTarget {
        id: String = "The target's id in the rule: letters, digits, `.`, `-` and `_`, at most 64." [required],
        arn: String = "What the rule invokes: an SNS topic, an SQS queue, a Lambda function, a log group, an event \
                       bus, … (`${alerts.arn}`). The target's own policy must let EventBridge in (an SNS topic's \
                       `policy` allowing `events.amazonaws.com` to `sns:Publish`)." [required],
        role_arn: Option<String> = "The role EventBridge assumes to invoke the target, for targets that take one \
                                    (another account's event bus, Kinesis, ECS tasks, CodePipeline, …).",
        input: Option<String> = "Constant JSON text sent to the target instead of the event, e.g. `'{\"pipeline\": \
                                 \"shop\"}'`.",
        input_path: Option<String> = "A JSONPath choosing the part of the event sent to the target, e.g. \
                                      `$.detail`. At most one of `input` and `input_path`.",
    }
}

model! {
    pub struct RuleModel {
        name: Option<String> = "The rule's name, unique on its event bus: letters, digits, `.`, `-` and `_`, at \
                                most 64. Unset: `<stack>-<address>`." [replace, unique],
        description: Option<String> = "What the rule is for. Unset: not managed.",
        event_pattern: Option<Value> = "The events the rule matches, written as YAML (sent as JSON, compared as \
                                        JSON): each field's value is a list of values or matchers, or a nested \
                                        mapping, e.g. `{source: [aws.codepipeline], detail: {state: [FAILED]}}`.",
        schedule_expression: Option<String> = "Runs the targets on a schedule instead: `rate(5 minutes)` or \
                                               `cron(0 12 * * ? *)` (default event bus only).",
        state: String = "`ENABLED` or `DISABLED` (or `ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS`)."
            [default("\"ENABLED\""), one_of(RuleState::values())],
        event_bus_name: String = "The event bus's name (not its ARN)." [default("\"default\""), replace],
        targets: Option<Vec<RuleTarget>> = "What the rule invokes, keyed by `id` (at most 5 a rule). Unset: not \
                                            managed; `[]` removes them all. Target settings not listed here (input \
                                            transformers, ECS, Batch or SQS parameters, dead-letter queues, retry \
                                            policies) are not managed, and a target that changes loses them."
            [typed(<RuleTarget as Model>::SET)],
    }
}

pub static SCHEMA: KindSchema = KindSchema {
    type_name: "events.rule",
    doc: "An EventBridge rule and its targets: it matches events (`event_pattern`) or runs on a schedule \
          (`schedule_expression`), exactly one of the two, and sends each match to its targets. Changed in place \
          (PutRule, PutTargets, RemoveTargets) except for its name and event bus. A pipeline's failures reach an \
          SNS topic with `event_pattern: {source: [aws.codepipeline], detail-type: [CodePipeline Pipeline \
          Execution State Change], detail: {state: [FAILED]}}` and `targets: [{id: alerts, arn: \
          \"${alerts.arn}\"}]`; the topic's policy must let `events.amazonaws.com` publish.",
    properties: <RuleModel as Model>::PROPS,
    attributes: &[
        Attr { name: "id", doc: "The rule name (`<event_bus_name>/<name>` on a bus other than the default one)." },
        Attr { name: "arn", doc: "The rule's ARN." },
        Attr { name: "name", doc: "The rule name." },
    ],
    taggable: true,
    rules: &[pattern_or_schedule, pattern_is_a_mapping, bus_fits, targets_fit],
    example: "pipeline_failed:\n  type: events.rule\n  properties:\n    description: Tell ops when a pipeline \
              execution fails\n    event_pattern:\n      source: [aws.codepipeline]\n      detail-type: \
              [CodePipeline Pipeline Execution State Change]\n      detail:\n        state: [FAILED]\n    \
              targets:\n      - {id: alerts, arn: \"${alerts.arn}\"}\n",
};

pub struct Rule {
    client: Client,
    tags: EventsTags,
    tagging: Option<tagging::StackTags>,
}

/// `<stack>-<address>` as a rule name (letters, digits, `.`, `-`, `_`; at
/// most 64).
pub fn default_name(stack: &str, address: &str) -> String {
    crate::kit::names::sanitized_name(
        &format!("{stack}-{address}"),
        |c| c.is_ascii_alphanumeric() || "-_.".contains(c),
        64,
    )
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

/// The id the spec's literals (or the defaults) give a rule.
fn wanted_id(stack: &str, address: &str, p: &Props) -> String {
    let s = |k: &str| p.get(k).and_then(Value::as_str).filter(|v| !v.is_empty());
    rule_id(
        s("event_bus_name").unwrap_or(DEFAULT_BUS),
        &s("name").map_or_else(|| default_name(stack, address), str::to_string),
    )
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

/// A property's literal value (`None` when unset or not known offline).
fn literal<'a>(p: &'a Literals, k: &str) -> Option<&'a Value> {
    p.get(k)?.as_ref().filter(|v| !v.is_null())
}

fn violation(field: &'static str, message: impl Into<String>, hint: impl Into<String>) -> Option<RuleViolation> {
    Some(RuleViolation { field, message: message.into(), hint: hint.into() })
}

/// EventBridge takes a rule with an event pattern or a schedule, not both
/// and not neither.
fn pattern_or_schedule(p: &Literals) -> Option<RuleViolation> {
    let has = |k: &str| p.get(k).is_some_and(|v| !matches!(v, Some(Value::Null)));
    let hint = "write event_pattern to match events, or schedule_expression (`rate(5 minutes)`, `cron(0 12 * * ? *)`) \
                to run on a schedule; for both, write two rules";
    let (field, message) = match (has("event_pattern"), has("schedule_expression")) {
        (true, true) => ("schedule_expression", "it has event_pattern and schedule_expression"),
        (false, false) => ("", "it has neither"),
        _ => return None,
    };
    violation(field, format!("a rule needs exactly one of event_pattern and schedule_expression ({message})"), hint)
}

/// A pattern is a mapping of event fields (not JSON text, not empty).
fn pattern_is_a_mapping(p: &Literals) -> Option<RuleViolation> {
    let e = pattern_text(literal(p, "event_pattern")?).err()?;
    violation("event_pattern", e.message, e.hint.unwrap_or_default())
}

/// The bus by name, and a schedule only on the default one.
fn bus_fits(p: &Literals) -> Option<RuleViolation> {
    let bus = match p.get("event_bus_name") {
        None | Some(Some(Value::Null)) => DEFAULT_BUS,
        Some(v) => v.as_ref()?.as_str()?,
    };
    if bus.starts_with("arn:") {
        return violation(
            "event_bus_name",
            format!("event_bus_name must be the bus's name, not its ARN ({bus})"),
            "EventBridge reports rules by bus name; write the part after `event-bus/`",
        );
    }
    let scheduled = match p.get("schedule_expression") {
        None => false,
        Some(None) => true, // written, known at apply
        Some(Some(v)) => v.as_str().is_some_and(|s| !s.trim().is_empty()),
    };
    if scheduled && bus != DEFAULT_BUS {
        return violation(
            "event_bus_name",
            format!("schedule_expression works only on the default event bus, not on {bus}"),
            "leave event_bus_name unset for a scheduled rule",
        );
    }
    None
}

/// Each target has an id of its own, and at most one of `input` (JSON
/// text) and `input_path`.
fn targets_fit(p: &Literals) -> Option<RuleViolation> {
    let mut ids = BTreeSet::new();
    for (i, t) in literal(p, "targets")?.as_array()?.iter().enumerate() {
        let s = |k: &str| t.get(k).and_then(Value::as_str).filter(|v| !v.is_empty());
        let id = s("id").unwrap_or_default();
        if !ids.insert(id) {
            return violation(
                "targets",
                format!("targets[{i}]: the id {id:?} is used twice"),
                "each target of a rule needs an id of its own",
            );
        }
        if s("input").is_some_and(|input| serde_json::from_str::<Value>(input).is_err()) {
            return violation(
                "targets",
                format!("targets[{i}] ({id}): input is not JSON text"),
                "write it quoted, e.g. `input: '{\"pipeline\": \"shop\"}'` (a string: `'\"text\"'`)",
            );
        }
        if s("input").is_some() && s("input_path").is_some() {
            return violation(
                "targets",
                format!("targets[{i}] ({id}): input and input_path are both set; a target takes at most one"),
                "keep input (constant text) or input_path (a part of the event)",
            );
        }
    }
    None
}

/// A spec target as the Target PutTargets takes.
fn target(t: &RuleTarget) -> Result<Target, ProviderError> {
    let s = |v: &Option<String>| v.clone().filter(|x| !x.is_empty());
    Target::builder()
        .id(&t.id)
        .arn(&t.arn)
        .set_role_arn(s(&t.role_arn))
        .set_input(s(&t.input))
        .set_input_path(s(&t.input_path))
        .build()
        .map_err(|e| ProviderError::msg(format!("targets: {e}")))
}

/// A live target in the spec's shape.
fn target_value(t: &Target) -> RuleTarget {
    let s = |v: Option<&str>| v.filter(|v| !v.is_empty()).map(str::to_string);
    RuleTarget {
        id: t.id().to_string(),
        arn: t.arn().to_string(),
        role_arn: s(t.role_arn()),
        input: s(t.input()),
        input_path: s(t.input_path()),
    }
}

fn attributes(id: &str, arn: Option<&str>, name: &str) -> Props {
    attrs([("id", json!(id)), ("arn", json!(arn)), ("name", json!(name))])
}

/// A rule in the spec's shape.
fn live(bus: &str, r: &LiveRule, targets: &[Target], tags: Tags) -> Live<RuleModel> {
    let name = r.name().unwrap_or_default().to_string();
    let bus = r.event_bus_name().filter(|b| !b.is_empty()).unwrap_or(bus);
    let id = rule_id(bus, &name);
    let model = RuleModel {
        name: Some(name.clone()),
        description: Some(r.description().unwrap_or_default().to_string()),
        event_pattern: r.event_pattern().filter(|e| !e.is_empty()).map(pattern_value),
        schedule_expression: r.schedule_expression().filter(|s| !s.is_empty()).map(str::to_string),
        state: r.state().map(RuleState::as_str).unwrap_or("ENABLED").to_string(),
        event_bus_name: bus.to_string(),
        targets: Some(targets.iter().map(target_value).collect()),
    };
    Live { attributes: attributes(&id, r.arn(), &name), id, model, tags }
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
    } else if is_gone::<Rule>(&e) {
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

/// Every page of a call that takes and answers a NextToken (the SDK has no
/// paginator for these).
async fn all_pages<T, Fut>(mut page: impl FnMut(Option<String>) -> Fut) -> Result<Vec<T>, ProviderError>
where
    Fut: std::future::Future<Output = Result<(Vec<T>, Option<String>), ProviderError>>,
{
    let (mut out, mut token) = (Vec::new(), None);
    loop {
        let (items, next) = page(token).await?;
        out.extend(items);
        token = next.filter(|t| !t.is_empty());
        if token.is_none() {
            return Ok(out);
        }
    }
}

impl Rule {
    pub fn new(client: Client) -> Rule {
        Rule { tags: EventsTags(client.clone()), client, tagging: None }
    }

    /// Tags from the run's one tagging-API read of the stack (shared by
    /// the kinds), rather than one tag read per rule.
    pub fn with_stack_tags(mut self, tags: tagging::StackTags) -> Rule {
        self.tagging = Some(tags);
        self
    }

    /// The rules of one bus whose names start with `prefix`; none when the
    /// bus is gone.
    async fn list_rules(&self, bus: &str, prefix: Option<&str>) -> Result<Vec<LiveRule>, ProviderError> {
        let prefix = prefix.filter(|p| !p.is_empty()).map(str::to_string);
        let rules = all_pages(|token| {
            let call = self.client.list_rules().event_bus_name(bus).set_name_prefix(prefix.clone()).limit(PAGE);
            let call = call.set_next_token(token).send();
            async move { call.await.map_err(from_sdk).map(|p| (p.rules.unwrap_or_default(), p.next_token)) }
        });
        match rules.await {
            Err(e) if is_gone::<Self>(&e) => Ok(Vec::new()),
            other => other,
        }
    }

    /// A rule's targets; `None` when the rule is gone.
    async fn targets(&self, bus: &str, name: &str) -> Result<Option<Vec<Target>>, ProviderError> {
        let targets = all_pages(|token| {
            let call = self.client.list_targets_by_rule().rule(name).event_bus_name(bus).set_next_token(token).send();
            async move { call.await.map_err(from_sdk).map(|p| (p.targets.unwrap_or_default(), p.next_token)) }
        });
        match targets.await {
            Err(e) if is_gone::<Self>(&e) => Ok(None),
            other => other.map(Some),
        }
    }

    /// A rule's tags (`aws:` ones left out); `None` when the rule is gone.
    async fn tags(&self, arn: &str) -> Result<Option<Tags>, ProviderError> {
        let out = self.client.list_tags_for_resource().resource_arn(arn).send().await.map_err(from_sdk);
        Ok(unless_gone(out, is_gone::<Self>)?.map(|o| own_tags(o.tags().iter().map(|t| (t.key(), t.value())))))
    }

    /// Listed rules whose tags are `mine`, with their targets; those gone
    /// meanwhile are left out.
    async fn observe(
        &self,
        instance: &str,
        bus: &str,
        rules: &[LiveRule],
        mine: impl Fn(&Tags) -> bool + Sync,
    ) -> Result<Vec<Live<RuleModel>>, ProviderError> {
        let arns: Vec<String> = rules.iter().filter_map(|r| r.arn().map(str::to_string)).collect();
        let mut tags =
            tagging::tags_of(self.tagging.as_ref(), instance, &arns, |arn| async move { self.tags(&arn).await })
                .await?;
        let mine: Vec<(&LiveRule, Tags)> =
            rules.iter().filter_map(|r| Some((r, tags.remove(r.arn()?)?))).filter(|(_, t)| mine(t)).collect();
        crate::read_each(mine.into_iter().map(|(r, tags)| async move {
            Ok(self.targets(bus, r.name().unwrap_or_default()).await?.map(|targets| live(bus, r, &targets, tags)))
        }))
        .await
    }

    async fn read_ids(&self, instance: &str, ids: &[String]) -> Result<Vec<Live<RuleModel>>, ProviderError> {
        let mut by_bus: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
        for id in ids {
            let (bus, name) = split_id(id);
            by_bus.entry(bus).or_default().insert(name);
        }
        let per_bus = by_bus.iter().map(|(bus, names)| async move {
            // One listing for all the names. moto 5.2.5 quirk: it matches
            // NamePrefix as a regular expression (`.` matches any
            // character), so it may answer more: keep exact names only.
            let mut rules = self.list_rules(bus, Some(&common_prefix(names.iter().copied()))).await?;
            rules.retain(|r| r.name().is_some_and(|n| names.contains(n)));
            self.observe(instance, bus, &rules, |_| true).await
        });
        let mut out = Vec::new();
        for r in join_all(per_bus).await {
            out.extend(r?);
        }
        Ok(out)
    }

    /// PutRule with the whole configuration; `description` when the spec
    /// does not manage it is the live one, `tags` only on create. Answers
    /// the rule's ARN.
    async fn put_rule(
        &self,
        bus: &str,
        name: &str,
        want: &RuleModel,
        live_description: Option<String>,
        tags: Option<Vec<Tag>>,
    ) -> Result<Option<String>, ProviderError> {
        // `""` clears the description: PutRule resets what it is not sent.
        let description = want.description.clone().or(live_description).filter(|d| !d.is_empty());
        let pattern = want.event_pattern.as_ref().map(pattern_text).transpose()?;
        let out = self
            .client
            .put_rule()
            .name(name)
            .event_bus_name(bus)
            .set_description(description)
            .set_event_pattern(pattern)
            .set_schedule_expression(want.schedule_expression.clone().filter(|s| !s.is_empty()))
            .state(RuleState::from(want.state.as_str()))
            .set_tags(tags)
            .send()
            .await
            .map_err(from_sdk)
            .map_err(|e| put_rule_hint(e, bus))?;
        Ok(out.rule_arn)
    }

    /// Puts the new and changed targets, removes those not wanted.
    async fn converge_targets(
        &self,
        bus: &str,
        name: &str,
        live: &[RuleTarget],
        want: &[RuleTarget],
    ) -> Result<(), ProviderError> {
        let live: BTreeMap<&str, &RuleTarget> = live.iter().map(|t| (t.id.as_str(), t)).collect();
        let want_ids: BTreeSet<&str> = want.iter().map(|t| t.id.as_str()).collect();
        let remove: Vec<String> = live.keys().filter(|id| !want_ids.contains(*id)).map(|id| id.to_string()).collect();
        let mut put = Vec::new();
        for t in want {
            let t = target(t)?;
            if live.get(t.id()).is_none_or(|l| **l != target_value(&t)) {
                put.push(t);
            }
        }
        // Removing first makes room under the 5-targets-a-rule quota.
        for chunk in remove.chunks(TARGET_CHUNK) {
            let call = self.client.remove_targets().rule(name).event_bus_name(bus).set_ids(Some(chunk.to_vec()));
            let out = call.send().await.map_err(from_sdk)?;
            entry_failures(
                "RemoveTargets",
                out.failed_entries().iter().map(|f| (f.target_id(), f.error_code(), f.error_message())),
            )?;
        }
        for chunk in put.chunks(TARGET_CHUNK) {
            let call = self.client.put_targets().rule(name).event_bus_name(bus).set_targets(Some(chunk.to_vec()));
            let out = call.send().await.map_err(from_sdk).map_err(|e| {
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

    /// Every event bus's name.
    async fn buses(&self) -> Result<Vec<String>, ProviderError> {
        let buses = all_pages(|token| {
            let call = self.client.list_event_buses().limit(PAGE).set_next_token(token).send();
            async move { call.await.map_err(from_sdk).map(|p| (p.event_buses.unwrap_or_default(), p.next_token)) }
        });
        Ok(buses.await?.into_iter().filter_map(|b| b.name).collect())
    }
}

#[async_trait::async_trait]
impl Kind for Rule {
    type Model = RuleModel;
    const ADOPT: Adopt = Adopt::Custom;

    fn schema(&self) -> &'static KindSchema {
        &SCHEMA
    }

    fn tagger(&self) -> Option<&dyn Tagger> {
        Some(&self.tags)
    }

    fn stack_tags(&self) -> Option<&crate::kit::tagging::StackTags> {
        self.tagging.as_ref()
    }

    async fn read(&self, ctx: &ReadCtx, ids: &[String]) -> Result<Vec<Live<RuleModel>>, ProviderError> {
        self.read_ids(&ctx.stack, ids).await
    }

    /// Rules cannot be listed by tag: every rule's tags, bus by bus.
    async fn find_tagged(&self, ctx: &ReadCtx) -> Result<Vec<Live<RuleModel>>, ProviderError> {
        let mut out = Vec::new();
        for bus in self.buses().await? {
            let rules = self.list_rules(&bus, None).await?;
            out.extend(self.observe(&ctx.stack, &bus, &rules, |tags| tags.get(TAG_STACK) == Some(&ctx.stack)).await?);
        }
        Ok(out)
    }

    async fn create(&self, ctx: &OpCtx, want: &RuleModel) -> Result<Created, ProviderError> {
        let name =
            want.name.clone().filter(|n| !n.is_empty()).unwrap_or_else(|| default_name(&ctx.stack, &ctx.address));
        let bus = Some(want.event_bus_name.as_str()).filter(|b| !b.is_empty()).unwrap_or(DEFAULT_BUS);
        let id = rule_id(bus, &name);
        // PutRule would overwrite a rule of that name: refuse one that is
        // not this resource's.
        let existing = self.read_ids(&ctx.stack, std::slice::from_ref(&id)).await?.pop();
        if existing.as_ref().is_some_and(|e| !is_ours(&e.tags, &ctx.stack, &ctx.address)) {
            return Err(ProviderError::new(
                Some("RuleAlreadyExists".into()),
                format!("a rule named {name} already exists on the event bus {bus} and is not this resource's"),
            )
            .with_hint("it lacks this stack's deployctl tags: set another name, or delete that rule"));
        }
        let tags = ctx.tags.iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect::<Result<_, _>>();
        let tags = tags.map_err(|e| ProviderError::msg(e.to_string()))?;
        let arn = self.put_rule(bus, &name, want, None, Some(tags)).await?;
        ctx.record_id(&id);
        let live_targets = existing.as_ref().and_then(|e| e.model.targets.clone()).unwrap_or_default();
        if let Some(targets) = &want.targets {
            self.converge_targets(bus, &name, &live_targets, targets).await?;
        }
        // An earlier, interrupted create left the rule: PutRule does not
        // change the tags of a rule that exists.
        if let Some(existing) = existing {
            crate::kit::converge_tags(&self.tags, &existing.observed(), &ctx.tags).await?;
        }
        Ok(Created { attributes: attributes(&id, arn.as_deref(), &name), id })
    }

    async fn update(
        &self,
        _ctx: &OpCtx,
        live: &Observed,
        want: &RuleModel,
        changed: &[&str],
    ) -> Result<Option<Props>, ProviderError> {
        let (bus, name) = split_id(&live.id);
        let before = RuleModel::from_props(&live.properties)?;
        if RULE_FIELDS.iter().any(|f| changed.contains(f)) {
            self.put_rule(bus, name, want, before.description, None).await?;
        }
        if changed.contains(&"targets") {
            let (live, want) = (before.targets.unwrap_or_default(), want.targets.clone().unwrap_or_default());
            self.converge_targets(bus, name, &live, &want).await?;
        }
        Ok(None)
    }

    async fn delete(&self, _ctx: &OpCtx, live: &Observed, _: Option<&RuleModel>) -> Result<(), ProviderError> {
        let (bus, name) = split_id(&live.id);
        let Some(targets) = self.targets(bus, name).await? else { return Ok(()) };
        // A rule that has targets cannot be deleted.
        self.converge_targets(bus, name, &targets.iter().map(target_value).collect::<Vec<_>>(), &[]).await?;
        // moto 5.2.5 answers success for a rule that is not there; AWS may
        // answer ResourceNotFoundException: both are "gone".
        self.client.delete_rule().name(name).event_bus_name(bus).send().await.map_err(from_sdk)?;
        Ok(())
    }

    async fn find_existing(
        &self,
        ctx: &ReadCtx,
        wanted: &[(String, Props)],
    ) -> Result<Vec<(String, Observed)>, ProviderError> {
        let by_id: BTreeMap<String, &String> = wanted.iter().map(|(a, p)| (wanted_id(&ctx.stack, a, p), a)).collect();
        let ids: Vec<String> = by_id.keys().cloned().collect();
        Ok(self
            .read_ids(&ctx.stack, &ids)
            .await?
            .into_iter()
            .filter_map(|l| {
                let address = *by_id.get(&l.id)?;
                is_this_stacks(&l.tags, &ctx.stack, address).then(|| (address.clone(), l.observed()))
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use deployctl_engine::diff::normalize;

    fn pattern() -> Value {
        json!({"source": ["aws.codepipeline"], "detail-type": ["CodePipeline Pipeline Execution State Change"],
               "detail": {"state": ["FAILED"]}})
    }

    /// What the schema's rules say of literal properties.
    fn refused(v: Value) -> Option<RuleViolation> {
        let literals: Literals = v.as_object().unwrap().iter().map(|(k, v)| (k.clone(), Some(v.clone()))).collect();
        SCHEMA.rules.iter().find_map(|rule| rule(&literals))
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
        let p = |v: Value| v.as_object().unwrap().clone();
        assert_eq!(wanted_id("shop", "failed", &p(json!({}))), "shop-failed");
        assert_eq!(wanted_id("shop", "failed", &p(json!({"event_bus_name": "orders", "name": "x"}))), "orders/x");
    }

    #[test]
    fn patterns_compare_as_json_not_as_text() {
        let ty = deployctl_spec::Type::Document;
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
        assert_eq!(refused(json!({"event_pattern": pattern()})), None);
        assert_eq!(refused(json!({"schedule_expression": "rate(5 minutes)"})), None);
        let none = refused(json!({"description": "x"})).unwrap();
        assert!(none.message.contains("exactly one of event_pattern and schedule_expression (it has neither)"));
        assert!(none.hint.contains("rate(5 minutes)"));
        let both = refused(json!({"event_pattern": pattern(), "schedule_expression": "rate(1 hour)"})).unwrap();
        assert!(both.message.contains("it has event_pattern and schedule_expression"), "{both:?}");
        let text = refused(json!({"event_pattern": "{\"source\": [\"aws.ec2\"]}"})).unwrap();
        assert!(text.message.contains("not a string"), "{text:?}");
        assert_eq!(text.field, "event_pattern");
        let empty = refused(json!({"event_pattern": {}})).unwrap();
        assert!(empty.message.contains("an empty mapping"), "{empty:?}");
    }

    #[test]
    fn the_rules_catch_offline_what_eventbridge_would_refuse() {
        let on_bus = refused(json!({"schedule_expression": "rate(5 minutes)", "event_bus_name": "orders"}));
        assert!(on_bus.unwrap().message.contains("only on the default event bus"));
        let arn = "arn:aws:events:us-east-1:123456789012:event-bus/orders";
        let by_arn = refused(json!({"event_pattern": pattern(), "event_bus_name": arn}));
        assert!(by_arn.unwrap().message.contains("not its ARN"));
        let t = |targets: Value| refused(json!({"event_pattern": pattern(), "targets": targets}));
        assert_eq!(t(json!([{"id": "a", "arn": "arn:x"}, {"id": "b", "arn": "arn:y", "input": "{\"k\": 1}"}])), None);
        let twice = t(json!([{"id": "a", "arn": "arn:x"}, {"id": "a", "arn": "arn:y"}])).unwrap();
        assert!(twice.message.contains("\"a\" is used twice"), "{twice:?}");
        let input = t(json!([{"id": "a", "arn": "arn:x", "input": "not json"}])).unwrap();
        assert!(input.message.contains("input is not JSON"), "{input:?}");
        let both = t(json!([{"id": "a", "arn": "arn:x", "input": "{}", "input_path": "$.detail"}])).unwrap();
        assert!(both.message.contains("at most one"), "{both:?}");
        // Values known only at apply (None) are left to the check there.
        let unknown: Literals = [("event_pattern".to_string(), None), ("targets".to_string(), None)].into();
        assert_eq!(SCHEMA.rules.iter().find_map(|rule| rule(&unknown)), None);
    }

    /// Guards targets named by reference: `validate` cannot see them, so
    /// the adapter runs the same rules on the resolved values before PutRule.
    #[test]
    fn the_rules_run_again_on_the_resolved_values() {
        let check = |v: Value| crate::kit::check_resolved(&SCHEMA, v.as_object().unwrap());
        let t =
            json!([{"id": "a", "arn": "arn:aws:sns:us-east-1:1:t"}, {"id": "a", "arn": "arn:aws:sns:us-east-1:1:u"}]);
        let err = check(json!({"event_pattern": pattern(), "targets": t})).unwrap_err();
        assert!(err.message.contains("is used twice"), "{err}");
        assert!(check(json!({"schedule_expression": "rate(1 day)"})).is_ok());
    }

    #[test]
    fn targets_read_in_the_spec_shape() {
        let t = Target::builder().id("alerts").arn("arn:aws:sns:us-east-1:1:t").input_path("$.detail").build().unwrap();
        let spec = RuleTarget {
            id: "alerts".into(),
            arn: "arn:aws:sns:us-east-1:1:t".into(),
            role_arn: None,
            input: None,
            input_path: Some("$.detail".into()),
        };
        assert_eq!(target_value(&t), spec);
        assert_eq!(target_value(&target(&spec).unwrap()), spec);
        let empty = RuleTarget { input: Some(String::new()), ..spec.clone() };
        assert_eq!(target_value(&target(&empty).unwrap()), spec, "an empty input is not sent");
        let failed =
            entry_failures("PutTargets", [(Some("a"), Some("ValidationException"), Some("bad arn"))].into_iter());
        let e = failed.unwrap_err();
        assert_eq!(e.code.as_deref(), Some("ValidationException"));
        assert!(e.message.contains("a: ValidationException bad arn"), "{e}");
        assert!(entry_failures("PutTargets", std::iter::empty()).is_ok());
    }
}
