//! `elbv2.listener_rule`: a rule of an application load balancer's
//! listener: when a request matches its conditions (paths, host names,
//! methods, client ranges), its actions run instead of the listener's
//! default ones. Rules are tried in priority order, lowest first.
//!
//! The actions are the listener's (forward, weighted forward, redirect,
//! fixed response). A change of priority is one SetRulePriorities; a change
//! of conditions or actions one ModifyRule, which takes the whole set of
//! each. Only the listener forces a replacement.
//!
//! Reads: one DescribeRules for up to 20 ARNs (one per ARN when a batch
//! names one that is gone), one DescribeTags for up to 20. Rules cannot be
//! listed by tag: adoption looks at the rules of this stack's listeners.

use super::listener::{action, action_model, action_problem, Listener, ListenerAction};
use super::*;
use crate::kit::tagger::Elbv2Tags;
use crate::kit::{attrs, model, Adopt, Created, Kind, Live, Tagger};
use aws_sdk_elasticloadbalancingv2::types::{
    HostHeaderConditionConfig, HttpRequestMethodConditionConfig, PathPatternConditionConfig, Rule as AwsRule,
    RuleCondition, RulePriorityPair, SourceIpConditionConfig,
};
use deployctl_engine::kind::{Wanted, TAG_RESOURCE};
use deployctl_engine::{Observed, OpCtx, ReadCtx};
use deployctl_spec::Attr;
use serde_json::json;
use std::collections::BTreeSet;

const NOT_FOUND: &str = "RuleNotFound";

/// The most condition values AWS takes in one rule, wildcards included.
const MAX_VALUES: usize = 5;

model! {
    pub struct RuleConditions {
        path_patterns: Option<Vec<String>> = "Paths the request's must match, e.g. `/api/*` (`*` and `?` are \
            wildcards; case-sensitive).",
        host_headers: Option<Vec<String>> = "Host names the request's must match, e.g. `api.example.com` or \
            `*.example.com`.",
        http_request_methods: Option<Vec<String>> = "Methods, e.g. `GET` or `POST` (upper case).",
        source_ips: Option<Vec<String>> = "The client's address ranges, e.g. `10.0.0.0/8`.",
    }
}

model! {
    pub struct ListenerRuleModel {
        listener_arn: String = "The listener, usually `${https.arn}`." [required, replace],
        priority: i64 = "The order it is tried in, lowest first (1–50000); unique on the listener."
            [required, range(1, 50000)],
        conditions: RuleConditions = "What a request must match: every condition given (and, within one, any \
            of its values). At most five values in all." [required],
        actions: Vec<ListenerAction> = "What is done with a matching request: usually one action, as a \
            listener's `default_actions`." [required],
        controlled_by: Option<String> = "`ecs` for the production or test listener rule of an ECS blue/green, \
                                         linear or canary service (its load balancer's `advanced` rules), \
                                         `codedeploy` for one a CodeDeploy group shifts: that controller sets the \
                                         target groups and weights it forwards to, and `diff` does not call that \
                                         drift. Unset: deployctl's."
            [state_only, one_of(super::CONTROLLERS)],
    }
}

pub static SCHEMA: KindSchema = KindSchema {
    type_name: "elbv2.listener_rule",
    doc: "A rule of an application load balancer's listener: requests matching its conditions (path patterns, \
          host headers, methods, source addresses) get its actions instead of the listener's default ones \
          (forward, weighted forward, redirect, fixed response). Rules are tried lowest priority first. \
          Everything but the listener changes in place.",
    properties: <ListenerRuleModel as Model>::PROPS,
    attributes: &[Attr { name: "id", doc: "The rule's ARN." }, Attr { name: "arn", doc: "The rule's ARN." }],
    taggable: true,
    rules: &[conditions_fit, actions_fit],
    example: "api:\n  type: elbv2.listener_rule\n  properties:\n    listener_arn: ${https.arn}\n    priority: 10\n    conditions:\n      path_patterns: [/api/*]\n      host_headers: [shop.example.com]\n    actions:\n      - type: forward\n        forward_config:\n          target_groups:\n            - {target_group_arn: \"${blue_tg.arn}\", weight: 90}\n            - {target_group_arn: \"${green_tg.arn}\", weight: 10}\n",
};

/// At least one condition, at most five values in all, methods AWS takes.
fn conditions_fit(p: &Literals) -> Option<RuleViolation> {
    let c = literal(p, "conditions")?.as_object()?;
    let lists: Vec<&Vec<Value>> = c.values().filter_map(Value::as_array).collect();
    let values: usize = lists.iter().map(|l| l.len()).sum();
    let hint = "give path_patterns, host_headers, http_request_methods or source_ips, five values at most in all";
    if values == 0 && c.values().all(|v| v.is_null() || v.as_array().is_some_and(Vec::is_empty)) {
        return violation("conditions", "a rule needs at least one condition value".into(), hint);
    }
    if values > MAX_VALUES {
        return violation("conditions", format!("the conditions have {values} values; AWS takes {MAX_VALUES}"), hint);
    }
    let methods = c.get("http_request_methods").and_then(Value::as_array).into_iter().flatten();
    let bad = methods
        .filter_map(Value::as_str)
        .find(|m| m.is_empty() || m.len() > 40 || !m.bytes().all(|b| b.is_ascii_uppercase() || b == b'_' || b == b'-'));
    if let Some(m) = bad {
        let message = format!("http_request_methods: {m:?} is not a method AWS matches (upper case, e.g. GET)");
        return violation("conditions", message, "write methods in upper case: GET, POST, PUT, DELETE, …");
    }
    None
}

/// At least one action, each with what its type needs.
fn actions_fit(p: &Literals) -> Option<RuleViolation> {
    let actions = literal(p, "actions")?.as_array()?;
    let problem = match actions.is_empty() {
        true => Some("a rule needs an action".to_string()),
        false => {
            actions.iter().enumerate().find_map(|(i, a)| Some(format!("actions[{i}]: {}", action_problem(a, true)?)))
        }
    };
    let hint = "an action is {type: forward, target_group_arn}, {type: forward, forward_config: {target_groups}}, \
                {type: redirect, redirect_config} or {type: fixed-response, fixed_response_config}";
    violation("actions", problem?, hint)
}

/// The spec's conditions as AWS's, in a stable order.
fn conditions(c: &RuleConditions) -> Vec<RuleCondition> {
    let mut out = Vec::new();
    let values = |v: &Option<Vec<String>>| v.clone().filter(|v| !v.is_empty());
    if let Some(v) = values(&c.path_patterns) {
        let config = PathPatternConditionConfig::builder().set_values(Some(v)).build();
        out.push(RuleCondition::builder().field("path-pattern").path_pattern_config(config).build());
    }
    if let Some(v) = values(&c.host_headers) {
        let config = HostHeaderConditionConfig::builder().set_values(Some(v)).build();
        out.push(RuleCondition::builder().field("host-header").host_header_config(config).build());
    }
    if let Some(v) = values(&c.http_request_methods) {
        let config = HttpRequestMethodConditionConfig::builder().set_values(Some(v)).build();
        out.push(RuleCondition::builder().field("http-request-method").http_request_method_config(config).build());
    }
    if let Some(v) = values(&c.source_ips) {
        let config = SourceIpConditionConfig::builder().set_values(Some(v)).build();
        out.push(RuleCondition::builder().field("source-ip").source_ip_config(config).build());
    }
    out
}

/// AWS's conditions in the spec's shape: from each condition's config, or
/// from its `Values` (the older form, path and host only).
fn conditions_model(list: &[RuleCondition]) -> RuleConditions {
    let mut c =
        RuleConditions { path_patterns: None, host_headers: None, http_request_methods: None, source_ips: None };
    for rc in list {
        let plain = || Some(rc.values().to_vec()).filter(|v| !v.is_empty());
        match rc.field() {
            Some("path-pattern") => {
                c.path_patterns = rc.path_pattern_config().map(|x| x.values().to_vec()).or_else(plain);
            }
            Some("host-header") => c.host_headers = rc.host_header_config().map(|x| x.values().to_vec()).or_else(plain),
            Some("http-request-method") => {
                c.http_request_methods = rc.http_request_method_config().map(|x| x.values().to_vec());
            }
            Some("source-ip") => c.source_ips = rc.source_ip_config().map(|x| x.values().to_vec()),
            _ => {}
        }
    }
    c
}

fn rule_actions(want: &ListenerRuleModel) -> Vec<aws_sdk_elasticloadbalancingv2::types::Action> {
    let n = want.actions.len();
    want.actions.iter().enumerate().map(|(i, a)| action(a, i, n)).collect()
}

fn attributes(arn: &str) -> Props {
    attrs([("id", json!(arn)), ("arn", json!(arn))])
}

/// A rule in the spec's shape; the listener is the part of the rule's ARN
/// between `listener-rule/` and the rule's own id.
fn live(r: &AwsRule, tags: Tags) -> Live<ListenerRuleModel> {
    let arn = r.rule_arn().unwrap_or_default().to_string();
    let mut acts: Vec<_> = r.actions().iter().collect();
    acts.sort_by_key(|a| a.order().unwrap_or(0));
    let model = ListenerRuleModel {
        listener_arn: listener_of(&arn),
        priority: r.priority().and_then(|p| p.parse().ok()).unwrap_or(0),
        conditions: conditions_model(r.conditions()),
        actions: acts.into_iter().map(action_model).collect(),
        // Not AWS's: the planner compares it with what state recorded.
        controlled_by: None,
    };
    Live { attributes: attributes(&arn), id: arn, model, tags }
}

/// The listener ARN of a rule ARN:
/// `arn:…:listener-rule/app/NAME/LB/LISTENER/RULE` →
/// `arn:…:listener/app/NAME/LB/LISTENER`.
fn listener_of(rule_arn: &str) -> String {
    let listener = rule_arn.replacen(":listener-rule/", ":listener/", 1);
    listener.rsplit_once('/').map_or(listener.clone(), |(l, _)| l.to_string())
}

pub struct ListenerRule {
    client: Client,
    tags: Elbv2Tags,
    tagging: Option<StackTags>,
}

impl ListenerRule {
    pub fn new(client: Client) -> ListenerRule {
        ListenerRule { tags: Elbv2Tags(client.clone()), client, tagging: None }
    }

    /// Tags from the run's one tagging-API read of the stack where it has
    /// them, rather than a DescribeTags of this kind's own.
    pub fn with_stack_tags(mut self, tags: StackTags) -> ListenerRule {
        self.tagging = Some(tags);
        self
    }

    async fn describe(&self, arns: Vec<String>) -> Result<Vec<AwsRule>, ProviderError> {
        let out = self.client.describe_rules().set_rule_arns(Some(arns)).send().await.map_err(from_sdk)?;
        Ok(out.rules.unwrap_or_default())
    }

    /// The rules (but the default one) of one listener; none when it is gone.
    async fn of_listener(&self, listener: &str) -> Result<Vec<AwsRule>, ProviderError> {
        let mut out = Vec::new();
        let mut marker = None;
        loop {
            let call = self.client.describe_rules().listener_arn(listener).set_marker(marker);
            let page = match call.send().await.map_err(from_sdk) {
                Ok(p) => p,
                Err(e) if e.code_is("ListenerNotFound") => return Ok(Vec::new()),
                Err(e) => return Err(e),
            };
            out.extend(page.rules.unwrap_or_default().into_iter().filter(|r| r.is_default() != Some(true)));
            match page.next_marker {
                Some(m) if !m.is_empty() => marker = Some(m),
                _ => return Ok(out),
            }
        }
    }
}

#[async_trait::async_trait]
impl Kind for ListenerRule {
    type Model = ListenerRuleModel;
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

    /// A blue/green rule forwards to whichever target groups (and weights)
    /// its controller set.
    fn controlled(&self, live: &Observed, desired: &Wanted) -> Vec<(&'static str, String)> {
        super::forward_controlled(live, desired, "actions")
    }

    async fn read(&self, ctx: &ReadCtx, ids: &[String]) -> Result<Vec<Live<ListenerRuleModel>>, ProviderError> {
        let found = read_batched(ids, ARN_CHUNK, NOT_FOUND, |arns| self.describe(arns)).await?;
        let run = self.tagging.as_ref().map(|t| (t, ctx.stack.as_str()));
        let found = with_tags(&self.client, run, found, |r| r.rule_arn(), NOT_FOUND, None).await?;
        Ok(found.into_iter().map(|(r, tags)| live(&r, tags)).collect())
    }

    async fn find_existing(
        &self,
        ctx: &ReadCtx,
        wanted: &[(String, Props)],
    ) -> Result<Vec<(String, Observed)>, ProviderError> {
        // Listeners named by a literal ARN may be outside the stack.
        let mut listeners: BTreeSet<String> =
            wanted.iter().filter_map(|(_, p)| p.get("listener_arn")?.as_str().map(str::to_string)).collect();
        let ours = Listener::new(self.client.clone()).stack_listeners(&ctx.stack, BTreeSet::new()).await?;
        listeners.extend(ours.into_iter().map(|l| l.id));
        let mut found = Vec::new();
        for r in futures::future::join_all(listeners.iter().map(|l| self.of_listener(l))).await {
            found.extend(r?);
        }
        let found = with_tags(&self.client, None, found, |r| r.rule_arn(), NOT_FOUND, Some(&ctx.stack)).await?;
        Ok(found
            .into_iter()
            .map(|(r, tags)| live(&r, tags))
            .filter_map(|l| Some((l.tags.get(TAG_RESOURCE)?.clone(), l.observed())))
            .collect())
    }

    async fn create(&self, ctx: &OpCtx, want: &ListenerRuleModel) -> Result<Created, ProviderError> {
        let out = self
            .client
            .create_rule()
            .listener_arn(&want.listener_arn)
            .priority(want.priority as i32)
            .set_conditions(Some(conditions(&want.conditions)))
            .set_actions(Some(rule_actions(want)))
            .set_tags(Some(elb_tags(&ctx.tags)))
            .send()
            .await
            .map_err(from_sdk)
            .map_err(hint_on("PriorityInUse", || {
                format!("another rule of the listener has priority {}; choose a free one", want.priority)
            }))?;
        let arn = out.rules().first().and_then(|r| r.rule_arn()).unwrap_or_default().to_string();
        ctx.record_id(&arn);
        Ok(Created { attributes: attributes(&arn), id: arn })
    }

    async fn update(
        &self,
        _ctx: &OpCtx,
        live: &Observed,
        want: &ListenerRuleModel,
        changed: &[&str],
    ) -> Result<Option<Props>, ProviderError> {
        if changed.contains(&"priority") {
            let pair = RulePriorityPair::builder().rule_arn(&live.id).priority(want.priority as i32).build();
            self.client.set_rule_priorities().rule_priorities(pair).send().await.map_err(from_sdk).map_err(hint_on(
                "PriorityInUse",
                || {
                    format!(
                        "another rule of the listener has priority {}; move that one first (or choose a free \
                         priority)",
                        want.priority
                    )
                },
            ))?;
        }
        if changed.iter().any(|c| matches!(*c, "conditions" | "actions")) {
            self.client
                .modify_rule()
                .rule_arn(&live.id)
                .set_conditions(Some(conditions(&want.conditions)))
                .set_actions(Some(rule_actions(want)))
                .send()
                .await
                .map_err(from_sdk)?;
        }
        Ok(None)
    }

    async fn delete(&self, _ctx: &OpCtx, live: &Observed, _: Option<&ListenerRuleModel>) -> Result<(), ProviderError> {
        self.client.delete_rule().rule_arn(&live.id).send().await.map_err(from_sdk)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rule_arn_names_its_listener() {
        let rule = "arn:aws:elasticloadbalancing:us-east-2:123456789012:listener-rule/app/shop/50dc6c495c0c9188/\
                    f2f7dc8efc522ab2/9683b2d02a6cabee";
        assert_eq!(
            listener_of(rule),
            "arn:aws:elasticloadbalancing:us-east-2:123456789012:listener/app/shop/50dc6c495c0c9188/f2f7dc8efc522ab2"
        );
    }

    #[test]
    fn conditions_round_trip_through_aws_shapes() {
        let c = RuleConditions {
            path_patterns: Some(vec!["/api/*".into()]),
            host_headers: Some(vec!["shop.example.com".into()]),
            http_request_methods: Some(vec!["GET".into()]),
            source_ips: Some(vec!["10.0.0.0/8".into()]),
        };
        assert_eq!(conditions_model(&conditions(&c)), c);
    }
}
