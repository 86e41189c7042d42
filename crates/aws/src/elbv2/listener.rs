//! `elbv2.listener`: a listener of a load balancer, with its default
//! actions (forward to a target group, redirect, or a fixed response), all
//! changed in place with ModifyListener.
//!
//! The actions keep AWS's shape (DefaultActions) with snake_case names. AWS
//! fills in the parts of a redirect that are not given (`#{host}`,
//! `/#{path}`, `#{query}`, `#{port}`, `#{protocol}`: keep the request's);
//! they are the nested defaults, so a spec that leaves them out compares
//! equal to what AWS reads back. The certificate and the TLS policy are read
//! only for HTTPS and TLS listeners (AWS keeps no such thing on a plain
//! HTTP one). What AWS refuses of the actions and the certificate is the
//! schema's rules: offline on literals, and again before each call on the
//! resolved values (`${tg.arn}` is known only then).
//!
//! Reads: one DescribeListeners for up to 20 ARNs (one per ARN when a batch
//! names one that is gone), one DescribeTags for up to 20. Listeners cannot
//! be listed by tag: adoption looks at the listeners of this stack's load
//! balancers (and of any load balancer a spec names by literal ARN).

use super::*;
use crate::kit::tagger::Elbv2Tags;
use crate::kit::{attrs, model, Adopt, Created, Kind, Live, Tagger};
use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, Certificate, FixedResponseActionConfig, ForwardActionConfig, Listener as Ls, ProtocolEnum,
    RedirectActionConfig, RedirectActionStatusCodeEnum, TargetGroupStickinessConfig, TargetGroupTuple,
};
use deployctl_engine::kind::{Wanted, TAG_RESOURCE};
use deployctl_engine::{Observed, OpCtx, ReadCtx};
use deployctl_spec::Attr;
use serde_json::json;
use std::collections::BTreeSet;

const NOT_FOUND: &str = "ListenerNotFound";

/// The content types a fixed response may have.
const CONTENT_TYPES: [&str; 5] = ["text/plain", "text/css", "text/html", "application/javascript", "application/json"];

model! {
    pub struct Redirect {
        protocol: String = "`HTTP`, `HTTPS`, or `#{protocol}` (the request's)." [default("\"#{protocol}\"")],
        port: String = "A port (as a string), or `#{port}`." [default("\"#{port}\"")],
        host: String = "A host name, or `#{host}`." [default("\"#{host}\"")],
        path: String = "An absolute path, or `/#{path}`." [default("\"/#{path}\"")],
        query: String = "A query (without `?`), or `#{query}`." [default("\"#{query}\"")],
        status_code: String = "`HTTP_301` (permanent) or `HTTP_302` (temporary)."
            [required, one_of(RedirectActionStatusCodeEnum::values())],
    }
}

model! {
    pub struct FixedResponse {
        status_code: String = "The HTTP status code, `2XX`, `4XX` or `5XX`, as a string." [required],
        content_type: Option<String> =
            "`text/plain`, `text/css`, `text/html`, `application/javascript` or `application/json`."
            [one_of(&CONTENT_TYPES)],
        message_body: Option<String> = "The body, at most 1024 characters.",
    }
}

model! {
    pub struct WeightedTargetGroup {
        target_group_arn: String = "The target group, e.g. `${blue_tg.arn}`." [required],
        weight: i64 = "Its share of the requests, relative to the others' (0–999; 0: none)."
            [default("1"), range(0, 999)],
    }
}

model! {
    pub struct Forward {
        target_groups: Vec<WeightedTargetGroup> = "Two to five target groups and their weights."
            [required, typed(WeightedTargetGroup::SET)],
        stickiness_seconds: Option<i64> = "Keep a client on the target group it first reached for this many \
            seconds (1–604800). Unset: no group stickiness." [range(1, 604800)],
    }
}

model! {
    pub struct ListenerAction {
        action_type as "type": String = "`forward`, `redirect` or `fixed-response`."
            [required, one_of(&["forward", "redirect", "fixed-response"])],
        target_group_arn: Option<String> = "The target group of a `forward` action, e.g. `${app_tg.arn}`.",
        forward_config: Option<Forward> = "A `forward` action that splits requests between target groups by \
            weight (instead of `target_group_arn`): a canary or blue/green shift.",
        redirect_config: Option<Redirect> = "The redirect of a `redirect` action.",
        fixed_response_config: Option<FixedResponse> = "The answer of a `fixed-response` action.",
    }
}

model! {
    pub struct ListenerModel {
        load_balancer_arn: String = "The load balancer, usually `${alb.arn}`." [required, replace],
        port: i64 = "The port it listens on (1–65535)." [required, range(1, 65535)],
        protocol: String = "`HTTP` or `HTTPS` (application load balancers); `TCP`, `TLS`, `UDP`, `TCP_UDP` \
                            (network)." [required, one_of(ProtocolEnum::values())],
        certificate_arn: Option<String> =
            "The default server certificate (an ACM certificate ARN): required for HTTPS and TLS.",
        ssl_policy: Option<String> = "The TLS negotiation policy of an HTTPS or TLS listener, e.g. \
                                      `ELBSecurityPolicy-TLS13-1-2-2021-06`. Unset: AWS's default policy, not \
                                      managed.",
        default_actions: Vec<ListenerAction> =
            "What the listener does with requests no rule matches: usually one action." [required],
        controlled_by: Option<String> = "`codedeploy` for the production or test listener of a CodeDeploy \
                                         blue/green deployment group: CodeDeploy switches the target group it \
                                         forwards to, and `diff` does not call that drift. Unset: deployctl's."
            [state_only, one_of(super::CONTROLLERS)],
    }
}

pub static SCHEMA: KindSchema = KindSchema {
    type_name: "elbv2.listener",
    doc: "A listener: a port and protocol of a load balancer, and what it does with each request by default \
          (forward to a target group, redirect, or answer with a fixed response). Everything but the load \
          balancer changes in place.",
    properties: <ListenerModel as Model>::PROPS,
    attributes: &[
        Attr { name: "id", doc: "The listener's ARN." },
        Attr { name: "arn", doc: "The listener's ARN." },
    ],
    taggable: true,
    rules: &[tls_needs_a_certificate, actions_fit],
    example: "https:\n  type: elbv2.listener\n  properties:\n    load_balancer_arn: ${alb.arn}\n    port: 443\n    protocol: HTTPS\n    certificate_arn: arn:aws:acm:us-east-1:123456789012:certificate/0example\n    default_actions:\n      - {type: forward, target_group_arn: \"${app_tg.arn}\"}\n",
};

/// Whether a listener protocol carries a certificate and a TLS policy.
fn is_tls(protocol: &str) -> bool {
    matches!(protocol, "HTTPS" | "TLS")
}

/// An HTTPS or TLS listener needs its certificate.
fn tls_needs_a_certificate(p: &Literals) -> Option<RuleViolation> {
    let protocol = literal_str(p, "protocol").filter(|p| is_tls(p))?;
    p.get("certificate_arn").is_none_or(|c| c == &Some(Value::Null)).then_some(())?;
    violation(
        "protocol",
        format!("an {protocol} listener needs certificate_arn"),
        "set certificate_arn to an ACM certificate of this region, or use HTTP",
    )
}

/// At least one action; each with what its type needs; only `forward` on a
/// network load balancer's protocols; a fixed response AWS takes.
fn actions_fit(p: &Literals) -> Option<RuleViolation> {
    let actions = literal(p, "default_actions")?.as_array()?;
    let http = literal_str(p, "protocol").is_none_or(|p| matches!(p, "HTTP" | "HTTPS"));
    let problem = match actions.is_empty() {
        true => Some("a listener needs a default action".to_string()),
        false => actions
            .iter()
            .enumerate()
            .find_map(|(i, a)| Some(format!("default_actions[{i}]: {}", action_problem(a, http)?))),
    };
    let hint = "an action is {type: forward, target_group_arn}, {type: redirect, redirect_config} or {type: \
                fixed-response, fixed_response_config}";
    violation("default_actions", problem?, hint)
}

pub(super) fn action_problem(a: &Value, http: bool) -> Option<String> {
    let ty = a.get("type")?.as_str()?;
    let set = |k: &str| a.get(k).is_some_and(|v| !v.is_null());
    let needs = match ty {
        "forward" if set("forward_config") => "forward_config",
        "forward" => "target_group_arn",
        "redirect" => "redirect_config",
        _ => "fixed_response_config",
    };
    if !set(needs) {
        return Some(format!("a `{ty}` action needs {needs}"));
    }
    if ty == "forward" && set("forward_config") && set("target_group_arn") {
        return Some("a `forward` action takes target_group_arn or forward_config, not both".into());
    }
    if let Some(groups) = a.get("forward_config").and_then(|f| f.get("target_groups")?.as_array()) {
        if !(2..=5).contains(&groups.len()) {
            return Some(format!(
                "forward_config has {} target groups; it takes 2 to 5 (for one, write target_group_arn)",
                groups.len()
            ));
        }
    }
    if !http && ty != "forward" {
        return Some(format!("a `{ty}` action needs an HTTP or HTTPS listener"));
    }
    let f = a.get("fixed_response_config")?;
    let code = f.get("status_code")?.as_str()?;
    if !(code.len() == 3 && code.starts_with(['2', '4', '5']) && code.bytes().all(|b| b.is_ascii_digit())) {
        return Some(format!("status_code {code:?} is not 2XX, 4XX or 5XX"));
    }
    let long = f.get("message_body")?.as_str()?.chars().count() > 1024;
    long.then(|| "message_body is over 1024 characters".into())
}

/// One spec action as AWS's Action; `order` is set when there are several.
pub(super) fn action(a: &ListenerAction, index: usize, count: usize) -> Action {
    let redirect = a.redirect_config.as_ref().map(|r| {
        RedirectActionConfig::builder()
            .protocol(&r.protocol)
            .port(&r.port)
            .host(&r.host)
            .path(&r.path)
            .query(&r.query)
            .status_code(RedirectActionStatusCodeEnum::from(r.status_code.as_str()))
            .build()
    });
    let fixed = a.fixed_response_config.as_ref().map(|f| {
        FixedResponseActionConfig::builder()
            .status_code(&f.status_code)
            .set_content_type(f.content_type.clone())
            .set_message_body(f.message_body.clone())
            .build()
    });
    let forward = a.forward_config.as_ref().map(|f| {
        let groups = f
            .target_groups
            .iter()
            .map(|t| TargetGroupTuple::builder().target_group_arn(&t.target_group_arn).weight(t.weight as i32).build());
        let sticky = TargetGroupStickinessConfig::builder()
            .enabled(f.stickiness_seconds.is_some())
            .set_duration_seconds(f.stickiness_seconds.map(|s| s as i32))
            .build();
        ForwardActionConfig::builder()
            .set_target_groups(Some(groups.collect()))
            .target_group_stickiness_config(sticky)
            .build()
    });
    Action::builder()
        .r#type(ActionTypeEnum::from(a.action_type.as_str()))
        .set_order((count > 1).then_some(index as i32 + 1))
        .set_target_group_arn(a.target_group_arn.clone())
        .set_forward_config(forward)
        .set_redirect_config(redirect)
        .set_fixed_response_config(fixed)
        .build()
}

/// The spec's actions as AWS's.
fn actions(want: &ListenerModel) -> Vec<Action> {
    let n = want.default_actions.len();
    want.default_actions.iter().enumerate().map(|(i, a)| action(a, i, n)).collect()
}

/// An AWS action in the spec's shape.
pub(super) fn action_model(a: &Action) -> ListenerAction {
    // A forward to one target group may come only as a ForwardConfig, and
    // a forward to one comes with one too: it is `target_group_arn`.
    let groups = a.forward_config().map(|f| f.target_groups()).unwrap_or_default();
    let tg = a.target_group_arn().or_else(|| groups.first().filter(|_| groups.len() == 1)?.target_group_arn());
    let forward = a.forward_config().filter(|_| groups.len() > 1).map(|f| Forward {
        target_groups: groups
            .iter()
            .map(|t| WeightedTargetGroup {
                target_group_arn: t.target_group_arn().unwrap_or_default().to_string(),
                weight: t.weight().map_or(1, i64::from),
            })
            .collect(),
        stickiness_seconds: f
            .target_group_stickiness_config()
            .filter(|s| s.enabled() == Some(true))
            .and_then(|s| s.duration_seconds())
            .map(i64::from),
    });
    let s = |v: Option<&str>, d: &str| v.unwrap_or(d).to_string();
    ListenerAction {
        action_type: s(a.r#type().map(|t| t.as_str()), ""),
        target_group_arn: tg.filter(|_| forward.is_none()).map(str::to_string),
        forward_config: forward,
        redirect_config: a.redirect_config().map(|r| Redirect {
            protocol: s(r.protocol(), "#{protocol}"),
            port: s(r.port(), "#{port}"),
            host: s(r.host(), "#{host}"),
            path: s(r.path(), "/#{path}"),
            query: s(r.query(), "#{query}"),
            status_code: s(r.status_code().map(|c| c.as_str()), ""),
        }),
        fixed_response_config: a.fixed_response_config().map(|f| FixedResponse {
            status_code: s(f.status_code(), ""),
            content_type: f.content_type().map(str::to_string),
            message_body: f.message_body().map(str::to_string),
        }),
    }
}

fn attributes(arn: &str) -> Props {
    attrs([("id", json!(arn)), ("arn", json!(arn))])
}

/// A listener in the spec's shape.
fn live(l: &Ls, tags: Tags) -> Live<ListenerModel> {
    let arn = l.listener_arn().unwrap_or_default().to_string();
    let protocol = l.protocol().map_or("", |p| p.as_str());
    let tls = is_tls(protocol);
    let mut acts: Vec<&Action> = l.default_actions().iter().collect();
    acts.sort_by_key(|a| a.order().unwrap_or(0));
    let certs = l.certificates();
    let cert = certs.iter().find(|c| c.is_default() == Some(true)).or(certs.first());
    let model = ListenerModel {
        load_balancer_arn: l.load_balancer_arn().unwrap_or_default().to_string(),
        port: l.port().map_or(0, i64::from),
        protocol: protocol.to_string(),
        certificate_arn: cert.and_then(|c| c.certificate_arn()).filter(|_| tls).map(str::to_string),
        ssl_policy: l.ssl_policy().filter(|_| tls).map(str::to_string),
        default_actions: acts.into_iter().map(action_model).collect(),
        // Not AWS's: the planner compares it with what state recorded.
        controlled_by: None,
    };
    Live { attributes: attributes(&arn), id: arn, model, tags }
}

pub struct Listener {
    client: Client,
    tags: Elbv2Tags,
    tagging: Option<StackTags>,
}

impl Listener {
    pub fn new(client: Client) -> Listener {
        Listener { tags: Elbv2Tags(client.clone()), client, tagging: None }
    }

    /// Tags from the run's one tagging-API read of the stack where it has
    /// them, rather than a DescribeTags of this kind's own.
    pub fn with_stack_tags(mut self, tags: StackTags) -> Listener {
        self.tagging = Some(tags);
        self
    }

    async fn describe(&self, arns: Vec<String>) -> Result<Vec<Ls>, ProviderError> {
        let out = self.client.describe_listeners().set_listener_arns(Some(arns)).send().await.map_err(from_sdk)?;
        Ok(out.listeners.unwrap_or_default())
    }

    /// The listeners of one load balancer (none when it is gone).
    async fn of_load_balancer(&self, lb: &str) -> Result<Vec<Ls>, ProviderError> {
        let mut pages = self.client.describe_listeners().load_balancer_arn(lb).into_paginator().send();
        let mut out = Vec::new();
        while let Some(page) = pages.next().await {
            match page.map_err(from_sdk) {
                Ok(p) => out.extend(p.listeners.unwrap_or_default()),
                Err(e) if e.code_is("LoadBalancerNotFound") => return Ok(Vec::new()),
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    /// This stack's listeners: those of the load balancers tagged with the
    /// stack and of `extra` load balancers, tagged with the stack.
    pub(super) async fn stack_listeners(
        &self,
        stack: &str,
        extra: BTreeSet<String>,
    ) -> Result<Vec<Live<ListenerModel>>, ProviderError> {
        let all = all_load_balancers(&self.client).await?;
        let ours =
            with_tags(&self.client, None, all, |l| l.load_balancer_arn(), "LoadBalancerNotFound", Some(stack)).await?;
        let mut lbs = extra;
        lbs.extend(ours.into_iter().filter_map(|(lb, _)| lb.load_balancer_arn));
        let mut found = Vec::new();
        for r in futures::future::join_all(lbs.iter().map(|lb| self.of_load_balancer(lb))).await {
            found.extend(r?);
        }
        let found = with_tags(&self.client, None, found, |l| l.listener_arn(), NOT_FOUND, Some(stack)).await?;
        Ok(found.into_iter().map(|(l, tags)| live(&l, tags)).collect())
    }

    fn certificates(want: &ListenerModel) -> Option<Vec<Certificate>> {
        let cert = want.certificate_arn.as_ref().filter(|_| is_tls(&want.protocol));
        cert.map(|c| vec![Certificate::builder().certificate_arn(c).build()])
    }
}

#[async_trait::async_trait]
impl Kind for Listener {
    type Model = ListenerModel;
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

    /// A blue/green listener forwards to whichever target group its
    /// controller switched it to.
    fn controlled(&self, live: &Observed, desired: &Wanted) -> Vec<(&'static str, String)> {
        super::forward_controlled(live, desired, "default_actions")
    }

    async fn read(&self, ctx: &ReadCtx, ids: &[String]) -> Result<Vec<Live<ListenerModel>>, ProviderError> {
        let found = read_batched(ids, ARN_CHUNK, NOT_FOUND, |arns| self.describe(arns)).await?;
        let run = self.tagging.as_ref().map(|t| (t, ctx.stack.as_str()));
        let found = with_tags(&self.client, run, found, |l| l.listener_arn(), NOT_FOUND, None).await?;
        Ok(found.into_iter().map(|(l, tags)| live(&l, tags)).collect())
    }

    async fn find_tagged(&self, ctx: &ReadCtx) -> Result<Vec<Live<ListenerModel>>, ProviderError> {
        self.stack_listeners(&ctx.stack, BTreeSet::new()).await
    }

    async fn find_existing(
        &self,
        ctx: &ReadCtx,
        wanted: &[(String, Props)],
    ) -> Result<Vec<(String, Observed)>, ProviderError> {
        // Load balancers named by a literal ARN may be outside the stack.
        let extra = wanted.iter().filter_map(|(_, p)| p.get("load_balancer_arn")?.as_str().map(str::to_string));
        let found = self.stack_listeners(&ctx.stack, extra.collect()).await?;
        Ok(found.into_iter().filter_map(|l| Some((l.tags.get(TAG_RESOURCE)?.clone(), l.observed()))).collect())
    }

    async fn create(&self, ctx: &OpCtx, want: &ListenerModel) -> Result<Created, ProviderError> {
        let out = self
            .client
            .create_listener()
            .load_balancer_arn(&want.load_balancer_arn)
            .port(want.port as i32)
            .protocol(ProtocolEnum::from(want.protocol.as_str()))
            .set_certificates(Self::certificates(want))
            .set_ssl_policy(want.ssl_policy.clone())
            .set_default_actions(Some(actions(want)))
            .set_tags(Some(elb_tags(&ctx.tags)))
            .send()
            .await
            .map_err(from_sdk)
            .map_err(hint_on("DuplicateListener", || {
                format!("the load balancer already has a listener on port {}; remove it or use another port", want.port)
            }))
            .map_err(hint_on("CertificateNotFound", || {
                "check certificate_arn: an ACM certificate in this region".into()
            }))?;
        let arn = out.listeners().first().and_then(|l| l.listener_arn()).unwrap_or_default().to_string();
        ctx.record_id(&arn);
        Ok(Created { attributes: attributes(&arn), id: arn })
    }

    async fn update(
        &self,
        _ctx: &OpCtx,
        live: &Observed,
        want: &ListenerModel,
        _changed: &[&str],
    ) -> Result<Option<Props>, ProviderError> {
        self.client
            .modify_listener()
            .listener_arn(&live.id)
            .port(want.port as i32)
            .protocol(ProtocolEnum::from(want.protocol.as_str()))
            .set_certificates(Self::certificates(want))
            .set_ssl_policy(want.ssl_policy.clone().filter(|_| is_tls(&want.protocol)))
            .set_default_actions(Some(actions(want)))
            .send()
            .await
            .map_err(from_sdk)?;
        Ok(None)
    }

    async fn delete(&self, _ctx: &OpCtx, live: &Observed, _: Option<&ListenerModel>) -> Result<(), ProviderError> {
        self.client.delete_listener().listener_arn(&live.id).send().await.map_err(from_sdk)?;
        Ok(())
    }
}
