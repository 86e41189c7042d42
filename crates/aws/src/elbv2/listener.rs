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
//! HTTP one).
//!
//! Reads: one DescribeListeners for up to 20 ARNs (one per ARN when a batch
//! names one that is gone), one DescribeTags for up to 20. Listeners cannot
//! be listed by tag: adoption looks at the listeners of this stack's load
//! balancers (and of any load balancer a spec names by literal ARN).

use super::*;
use crate::error::from_sdk;
use crate::kit::read_batched;
use async_trait::async_trait;
use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, Certificate, FixedResponseActionConfig, Listener as Ls, ProtocolEnum, RedirectActionConfig,
    RedirectActionStatusCodeEnum,
};
use deployctl_engine::kind::TAG_STACK;
use deployctl_engine::{Observed, OpCtx, Props, ProviderError, ReadCtx, ResourceKind};
use deployctl_spec::{Attr, KindSchema, Prop, Type};
use serde_json::{json, Map, Value};
use std::collections::BTreeSet;

static REDIRECT: [Prop; 6] = [
    Prop::new("protocol", Type::String, "`HTTP`, `HTTPS`, or `#{protocol}` (the request's).")
        .default("\"#{protocol}\""),
    Prop::new("port", Type::String, "A port (as a string), or `#{port}`.").default("\"#{port}\""),
    Prop::new("host", Type::String, "A host name, or `#{host}`.").default("\"#{host}\""),
    Prop::new("path", Type::String, "An absolute path, or `/#{path}`.").default("\"/#{path}\""),
    Prop::new("query", Type::String, "A query (without `?`), or `#{query}`.").default("\"#{query}\""),
    Prop::new("status_code", Type::String, "`HTTP_301` (permanent) or `HTTP_302` (temporary).").required(),
];

static FIXED_RESPONSE: [Prop; 3] = [
    Prop::new("status_code", Type::String, "The HTTP status code, `2XX`, `4XX` or `5XX`, as a string.").required(),
    Prop::new(
        "content_type",
        Type::String,
        "`text/plain`, `text/css`, `text/html`, `application/javascript` or `application/json`.",
    ),
    Prop::new("message_body", Type::String, "The body, at most 1024 characters."),
];

static ACTION: [Prop; 4] = [
    Prop::new("type", Type::String, "`forward`, `redirect` or `fixed-response`.").required(),
    Prop::new("target_group_arn", Type::String, "The target group of a `forward` action, e.g. `${app_tg.arn}`."),
    Prop::new("redirect_config", Type::Object(&REDIRECT), "The redirect of a `redirect` action."),
    Prop::new("fixed_response_config", Type::Object(&FIXED_RESPONSE), "The answer of a `fixed-response` action."),
];
static ACTION_TYPE: Type = Type::Object(&ACTION);

pub static SCHEMA: KindSchema = KindSchema {
    type_name: "elbv2.listener",
    doc: "A listener: a port and protocol of a load balancer, and what it does with each request by default \
          (forward to a target group, redirect, or answer with a fixed response). Everything but the load \
          balancer changes in place.",
    properties: &[
        Prop::new("load_balancer_arn", Type::String, "The load balancer, usually `${alb.arn}`.").required().replace(),
        Prop::new("port", Type::Int, "The port it listens on.").required().range(1, 65535),
        Prop::new(
            "protocol",
            Type::String,
            "`HTTP` or `HTTPS` (application load balancers); `TCP`, `TLS`, `UDP`, `TCP_UDP` (network).",
        )
        .required().one_of(aws_sdk_elasticloadbalancingv2::types::ProtocolEnum::values()),
        Prop::new(
            "certificate_arn",
            Type::String,
            "The default server certificate (an ACM certificate ARN): required for HTTPS and TLS.",
        ),
        Prop::new(
            "ssl_policy",
            Type::String,
            "The TLS negotiation policy of an HTTPS or TLS listener, e.g. `ELBSecurityPolicy-TLS13-1-2-2021-06`. \
             Unset: AWS's default policy, not managed.",
        ),
        Prop::new(
            "default_actions",
            Type::List(&ACTION_TYPE),
            "What the listener does with requests no rule matches: usually one action.",
        )
        .required(),
    ],
    attributes: &[
        Attr { name: "id", doc: "The listener's ARN." },
        Attr { name: "arn", doc: "The listener's ARN." },
    ],
    taggable: true,
    rules: &[],
    example: "https:\n  type: elbv2.listener\n  properties:\n    load_balancer_arn: ${alb.arn}\n    port: 443\n    protocol: HTTPS\n    certificate_arn: arn:aws:acm:us-east-1:123456789012:certificate/0example\n    default_actions:\n      - {type: forward, target_group_arn: \"${app_tg.arn}\"}\n",
};

pub struct Listener {
    client: Client,
}

/// Whether a listener protocol carries a certificate and a TLS policy.
fn is_tls(protocol: Option<&str>) -> bool {
    matches!(protocol, Some("HTTPS" | "TLS"))
}

/// One spec action as AWS's Action; `order` is set when there are several.
fn action(v: &Value, index: usize, count: usize) -> Result<Action, ProviderError> {
    let field = format!("default_actions[{index}]");
    let s = |m: &Value, k: &str| m.get(k).and_then(Value::as_str).map(str::to_string);
    let ty = s(v, "type").ok_or_else(|| ProviderError::msg(format!("{field} has no type")))?;
    let mut a = Action::builder().r#type(ActionTypeEnum::from(ty.as_str()));
    if count > 1 {
        a = a.order(index as i32 + 1);
    }
    if let Some(tg) = s(v, "target_group_arn") {
        a = a.target_group_arn(tg);
    }
    if let Some(r) = v.get("redirect_config").filter(|r| r.is_object()) {
        a = a.redirect_config(
            RedirectActionConfig::builder()
                .set_protocol(s(r, "protocol"))
                .set_port(s(r, "port").or_else(|| r.get("port").and_then(Value::as_i64).map(|p| p.to_string())))
                .set_host(s(r, "host"))
                .set_path(s(r, "path"))
                .set_query(s(r, "query"))
                .set_status_code(s(r, "status_code").map(|c| RedirectActionStatusCodeEnum::from(c.as_str())))
                .build(),
        );
    }
    if let Some(f) = v.get("fixed_response_config").filter(|f| f.is_object()) {
        a = a.fixed_response_config(
            FixedResponseActionConfig::builder()
                .set_status_code(
                    s(f, "status_code").or_else(|| f.get("status_code").and_then(Value::as_i64).map(|c| c.to_string())),
                )
                .set_content_type(s(f, "content_type"))
                .set_message_body(s(f, "message_body"))
                .build(),
        );
    }
    let needs = match ty.as_str() {
        "forward" => Some(("target_group_arn", v.get("target_group_arn"))),
        "redirect" => Some(("redirect_config", v.get("redirect_config"))),
        "fixed-response" => Some(("fixed_response_config", v.get("fixed_response_config"))),
        _ => None,
    };
    if let Some((key, None | Some(Value::Null))) = needs {
        return Err(ProviderError::msg(format!("{field} is a `{ty}` action without {key}"))
            .with_hint(format!("add {key} to the action")));
    }
    Ok(a.build())
}

/// The spec's actions as AWS's.
fn actions(desired: &Props) -> Result<Vec<Action>, ProviderError> {
    let list = desired.get("default_actions").and_then(Value::as_array).cloned().unwrap_or_default();
    if list.is_empty() {
        return Err(ProviderError::msg("default_actions is empty").with_hint("give the listener one default action"));
    }
    list.iter().enumerate().map(|(i, v)| action(v, i, list.len())).collect()
}

/// An AWS action in the spec's shape.
fn action_json(a: &Action) -> Value {
    let mut m = Map::new();
    m.insert("type".into(), json!(a.r#type().map(|t| t.as_str())));
    // A forward to one target group may come only as a ForwardConfig.
    let tg = a.target_group_arn().or_else(|| {
        a.forward_config().map(|f| f.target_groups()).filter(|t| t.len() == 1).and_then(|t| t[0].target_group_arn())
    });
    if let Some(tg) = tg {
        m.insert("target_group_arn".into(), json!(tg));
    }
    if let Some(r) = a.redirect_config() {
        let mut rc = Map::new();
        let mut put = |k: &str, v: Option<&str>| {
            if let Some(v) = v {
                rc.insert(k.into(), json!(v));
            }
        };
        put("protocol", r.protocol());
        put("port", r.port());
        put("host", r.host());
        put("path", r.path());
        put("query", r.query());
        put("status_code", r.status_code().map(|c| c.as_str()));
        m.insert("redirect_config".into(), Value::Object(rc));
    }
    if let Some(f) = a.fixed_response_config() {
        let mut fc = Map::new();
        let mut put = |k: &str, v: Option<&str>| {
            if let Some(v) = v {
                fc.insert(k.into(), json!(v));
            }
        };
        put("status_code", f.status_code());
        put("content_type", f.content_type());
        put("message_body", f.message_body());
        m.insert("fixed_response_config".into(), Value::Object(fc));
    }
    Value::Object(m)
}

/// A listener in the spec's shape.
fn observed(l: &Ls, tags: BTreeMap<String, String>) -> Observed {
    let arn = l.listener_arn().unwrap_or_default().to_string();
    let protocol = l.protocol().map(|p| p.as_str());
    let mut acts: Vec<&Action> = l.default_actions().iter().collect();
    acts.sort_by_key(|a| a.order().unwrap_or(0));
    let mut properties = Props::new();
    properties.insert("load_balancer_arn".into(), json!(l.load_balancer_arn()));
    properties.insert("port".into(), json!(l.port()));
    properties.insert("protocol".into(), json!(protocol));
    if is_tls(protocol) {
        let certs = l.certificates();
        let cert = certs.iter().find(|c| c.is_default() == Some(true)).or(certs.first());
        properties.insert("certificate_arn".into(), json!(cert.and_then(|c| c.certificate_arn())));
        properties.insert("ssl_policy".into(), json!(l.ssl_policy()));
    }
    properties.insert("default_actions".into(), Value::Array(acts.into_iter().map(action_json).collect()));
    let mut attributes = Props::new();
    attributes.insert("id".into(), json!(arn));
    attributes.insert("arn".into(), json!(arn));
    Observed { id: arn, properties, tags, attributes }
}

impl Listener {
    pub fn new(client: Client) -> Listener {
        Listener { client }
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

    async fn observe(&self, found: Vec<Ls>) -> Result<Vec<Observed>, ProviderError> {
        let found = with_tags(&self.client, found, |l| l.listener_arn(), None).await?;
        Ok(found.into_iter().map(|(l, tags)| observed(&l, tags)).collect())
    }

    async fn read_one(&self, arn: &str) -> Result<Observed, ProviderError> {
        let found = match self.describe(vec![arn.to_string()]).await {
            Ok(v) => v,
            Err(e) if e.code_is("ListenerNotFound") => Vec::new(),
            Err(e) => return Err(e),
        };
        self.observe(found)
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| ProviderError::new(Some("ListenerNotFound".into()), format!("listener {arn} disappeared")))
    }

    /// This stack's listeners: those of the load balancers tagged with the
    /// stack and of `extra` load balancers, tagged with the stack.
    async fn stack_listeners(&self, stack: &str, extra: BTreeSet<String>) -> Result<Vec<Observed>, ProviderError> {
        let mut pages = self.client.describe_load_balancers().into_paginator().send();
        let mut all = Vec::new();
        while let Some(page) = pages.next().await {
            for lb in page.map_err(from_sdk)?.load_balancers.unwrap_or_default() {
                all.extend(lb.load_balancer_arn().map(str::to_string));
            }
        }
        let lb_tags = describe_tags(&self.client, &all).await?;
        let mut lbs = extra;
        lbs.extend(
            all.into_iter()
                .filter(|a| lb_tags.get(a).and_then(|t| t.get(TAG_STACK)).map(String::as_str) == Some(stack)),
        );
        let mut found = Vec::new();
        for r in join_all(lbs.iter().map(|lb| self.of_load_balancer(lb))).await {
            found.extend(r?);
        }
        Ok(self.observe(found).await?.into_iter().filter(|o| in_stack(o, stack)).collect())
    }

    /// ModifyListener with everything the spec asks.
    async fn modify(&self, arn: &str, desired: &Props) -> Result<(), ProviderError> {
        let s = |k: &str| want_str(&SCHEMA, desired, k);
        let protocol = s("protocol");
        let certificate = s("certificate_arn").filter(|_| is_tls(protocol.as_deref()));
        self.client
            .modify_listener()
            .listener_arn(arn)
            .set_port(want_i32(&SCHEMA, desired, "port"))
            .set_protocol(protocol.as_deref().map(ProtocolEnum::from))
            .set_certificates(certificate.map(|c| vec![Certificate::builder().certificate_arn(c).build()]))
            .set_ssl_policy(s("ssl_policy").filter(|_| is_tls(protocol.as_deref())))
            .set_default_actions(Some(actions(desired)?))
            .send()
            .await
            .map_err(from_sdk)?;
        Ok(())
    }
}

#[async_trait]
impl ResourceKind for Listener {
    fn schema(&self) -> &'static KindSchema {
        &SCHEMA
    }

    async fn read(&self, _ctx: &ReadCtx, ids: &[String]) -> Result<Vec<Observed>, ProviderError> {
        let found = read_batched(ids, ARN_CHUNK, "ListenerNotFound", |arns| self.describe(arns)).await?;
        self.observe(found).await
    }

    async fn find_tagged(&self, ctx: &ReadCtx) -> Result<Vec<(String, Observed)>, ProviderError> {
        let found = self.stack_listeners(&ctx.stack, BTreeSet::new()).await?;
        Ok(found.into_iter().filter_map(|o| Some((address_tag(&o.tags)?, o))).collect())
    }

    async fn find_existing(
        &self,
        ctx: &ReadCtx,
        wanted: &[(String, Props)],
    ) -> Result<Vec<(String, Observed)>, ProviderError> {
        // Load balancers named by a literal ARN may be outside the stack.
        let extra: BTreeSet<String> = wanted
            .iter()
            .filter_map(|(_, p)| p.get("load_balancer_arn").and_then(Value::as_str).map(str::to_string))
            .collect();
        let found = self.stack_listeners(&ctx.stack, extra).await?;
        Ok(found.into_iter().filter_map(|o| Some((address_tag(&o.tags)?, o))).collect())
    }

    async fn create(&self, ctx: &OpCtx, desired: &Props) -> Result<Observed, ProviderError> {
        let s = |k: &str| want_str(&SCHEMA, desired, k);
        let protocol = s("protocol");
        let port = want_i32(&SCHEMA, desired, "port");
        let out = self
            .client
            .create_listener()
            .set_load_balancer_arn(s("load_balancer_arn"))
            .set_port(port)
            .set_protocol(protocol.as_deref().map(ProtocolEnum::from))
            .set_certificates(s("certificate_arn").map(|c| vec![Certificate::builder().certificate_arn(c).build()]))
            .set_ssl_policy(s("ssl_policy"))
            .set_default_actions(Some(actions(desired)?))
            .set_tags(Some(elb_tags(&ctx.tags)))
            .send()
            .await
            .map_err(from_sdk)
            .map_err(|e| {
                if e.code_is("DuplicateListener") {
                    e.with_hint(format!(
                        "the load balancer already has a listener on port {}; remove it or use another port",
                        port.unwrap_or_default()
                    ))
                } else if e.code_is("CertificateNotFound") {
                    e.with_hint("check certificate_arn: an ACM certificate in this region")
                } else {
                    e
                }
            })?;
        let arn = out.listeners().first().and_then(|l| l.listener_arn()).unwrap_or_default().to_string();
        ctx.record_id(&arn);
        self.read_one(&arn).await
    }

    async fn update(
        &self,
        ctx: &OpCtx,
        current: &Observed,
        desired: &Props,
        changed: &[String],
    ) -> Result<Observed, ProviderError> {
        let arn = current.id.as_str();
        if changed.iter().any(|c| c != "tags") {
            self.modify(arn, desired).await?;
        }
        if changed.iter().any(|c| c == "tags") {
            converge_tags(&self.client, arn, &current.tags, ctx).await?;
        }
        self.read_one(arn).await
    }

    async fn delete(&self, _ctx: &OpCtx, current: &Observed, _recorded: &Props) -> Result<(), ProviderError> {
        match self.client.delete_listener().listener_arn(&current.id).send().await.map_err(from_sdk) {
            Ok(_) => Ok(()),
            Err(e) if crate::is_not_found(&e) => Ok(()),
            Err(e) => Err(e),
        }
    }
}
