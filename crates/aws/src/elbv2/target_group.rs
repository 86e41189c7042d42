//! `elbv2.target_group`: a target group, with its health check (the flat
//! AWS members of CreateTargetGroup, changed in place with
//! ModifyTargetGroup) and two attributes (deregistration delay and
//! stickiness, changed with ModifyTargetGroupAttributes).
//!
//! Defaults are AWS's for HTTP and HTTPS target groups (those of an
//! application load balancer), and create sends only what differs from
//! them: AWS's own defaults depend on the protocol and the target type.
//! Health check settings whose AWS default depends on the protocol (the
//! health check protocol and timeout) have no default: unset, AWS's choice
//! stands and is not managed. A target group without an HTTP health check
//! (TCP) has no path or matcher; they read as their defaults so they never
//! show a change nobody asked for.
//!
//! Reads are batched like the load balancer's: DescribeTargetGroups for up
//! to 20 ARNs (one per ARN when a batch names one that is gone), DescribeTags
//! for up to 20, attributes concurrently. Delete retries `ResourceInUse` for
//! up to two minutes: a listener deleted just before lets go of its target
//! group a little later.

use super::*;
use crate::kit::tagger::Elbv2Tags;
use crate::kit::{attrs, model, Adopt, Created, Kind, Live, Tagger};
use aws_sdk_elasticloadbalancingv2::types::{
    Matcher, ProtocolEnum, TargetGroup as Tg, TargetGroupAttribute, TargetGroupIpAddressTypeEnum, TargetTypeEnum,
};
use deployctl_engine::{Observed, OpCtx, Poll, ReadCtx};
use deployctl_spec::Attr;
use serde_json::json;
use std::time::{Duration, Instant};

const NOT_FOUND: &str = "TargetGroupNotFound";

model! {
    pub struct TargetGroupModel {
        name: Option<String> = "The name: letters, digits and hyphens, at most 32 characters. Default: \
                                `<stack>-<resource>`, shortened with a hash to fit; a replacement created beside the old one adds its generation (`-2`)." [replace, unique, generated],
        protocol: String = "`HTTP`, `HTTPS` (application load balancers), `TCP`, `TLS`, `UDP`, `TCP_UDP` \
                            (network), `GENEVE`." [default("\"HTTP\""), replace, one_of(ProtocolEnum::values())],
        port: Option<i64> = "The port the targets receive traffic on (not for `lambda` targets)."
            [replace, range(1, 65535)],
        vpc_id: Option<String> = "The VPC of the targets (not for `lambda` targets)." [replace],
        target_type: String = "`instance`, `ip` (needed for ECS tasks in awsvpc mode, Fargate), `lambda` or `alb`."
            [default("\"instance\""), replace, one_of(TargetTypeEnum::values())],
        protocol_version: String = "`HTTP1`, `HTTP2` or `GRPC` (HTTP and HTTPS target groups)."
            [default("\"HTTP1\""), replace, one_of(&["HTTP1", "HTTP2", "GRPC"])],
        ip_address_type: String = "`ipv4` or `ipv6`."
            [default("\"ipv4\""), replace, one_of(TargetGroupIpAddressTypeEnum::values())],
        health_check_enabled: bool = "Whether targets are health-checked." [default("true")],
        health_check_protocol: Option<String> = "`HTTP`, `HTTPS` or `TCP`. Unset: AWS picks the target group's \
                                                 protocol (TCP for network protocols), not managed."
            [one_of(&["HTTP", "HTTPS", "TCP"])],
        health_check_port: String = "A port number, or `traffic-port` (the target's own)."
            [default("\"traffic-port\"")],
        health_check_path: String = "The path HTTP and HTTPS health checks request: it starts with `/`, at most \
                                     1024 characters." [default("\"/\"")],
        health_check_interval_seconds: i64 = "Seconds between health checks of a target (5–300)."
            [default("30"), range(5, 300)],
        health_check_timeout_seconds: Option<i64> = "Seconds without an answer that fail a check (2–120), less \
                                                     than the interval. Unset: AWS's default for the protocol (5 \
                                                     for HTTP target groups of an application load balancer), not \
                                                     managed." [range(2, 120)],
        healthy_threshold_count: i64 = "Consecutive successes that make a target healthy (2–10)."
            [default("5"), range(2, 10)],
        unhealthy_threshold_count: i64 = "Consecutive failures that make a target unhealthy (2–10)."
            [default("2"), range(2, 10)],
        matcher: String = "The HTTP codes of a healthy answer: `200`, `200,302`, `200-299` (the gRPC codes when \
                           protocol_version is GRPC)." [default("\"200\"")],
        deregistration_delay_timeout_seconds: i64 = "Seconds a deregistering target keeps serving in-flight \
                                                     requests (`deregistration_delay.timeout_seconds`, 0–3600)."
            [default("300"), range(0, 3600)],
        stickiness_enabled: bool = "Whether sessions stick to a target (`stickiness.enabled`)." [default("false")],
    }
}

pub static SCHEMA: KindSchema = KindSchema {
    type_name: "elbv2.target_group",
    doc: "A target group: where a listener forwards requests, and how the load balancer checks the targets' \
          health. ECS services register their tasks in it. Defaults are AWS's for HTTP and HTTPS target groups; \
          for TCP, UDP, TLS, GENEVE or lambda target groups write the health check settings you want. A target \
          group still used by a listener or rule cannot be deleted: delete those first.",
    properties: <TargetGroupModel as Model>::PROPS,
    attributes: &[
        Attr { name: "id", doc: "The target group's ARN." },
        Attr { name: "arn", doc: "The target group's ARN." },
        Attr { name: "name", doc: "The target group's name." },
        Attr {
            name: "arn_suffix",
            doc: "The end of the ARN from `targetgroup/` on: the TargetGroup dimension of CloudWatch metrics.",
        },
    ],
    taggable: true,
    rules: &[|p| name_fits(p, false), targets_need_port_and_vpc, health_check_fits],
    example: "app_tg:\n  type: elbv2.target_group\n  properties:\n    port: 8080\n    vpc_id: ${vpc.id}\n    target_type: ip\n    health_check_path: /\n    healthy_threshold_count: 2\n    unhealthy_threshold_count: 3\n    health_check_timeout_seconds: 5\n    deregistration_delay_timeout_seconds: 30\n",
};

/// Targets other than a Lambda function need a port and a VPC.
fn targets_need_port_and_vpc(p: &Literals) -> Option<RuleViolation> {
    let target_type = literal_str(p, "target_type").unwrap_or("instance");
    let missing = ["port", "vpc_id"].into_iter().find(|k| p.get(*k).is_none_or(|v| v == &Some(Value::Null)))?;
    (target_type != "lambda").then_some(())?;
    violation(
        missing,
        format!("a target group of `{target_type}` targets needs port and vpc_id ({missing} is unset)"),
        "set port (the port the targets listen on) and vpc_id",
    )
}

/// The health check settings AWS refuses: a port that is neither a port nor
/// `traffic-port`, a path not starting with `/`, a timeout not below the
/// interval.
fn health_check_fits(p: &Literals) -> Option<RuleViolation> {
    let port = literal_str(p, "health_check_port").unwrap_or("traffic-port");
    let path = literal_str(p, "health_check_path").unwrap_or("/");
    let timeout = literal(p, "health_check_timeout_seconds").and_then(Value::as_i64).unwrap_or(0);
    let interval = literal(p, "health_check_interval_seconds").map_or(Some(30), Value::as_i64).unwrap_or(i64::MAX);
    let bad = [
        (
            port != "traffic-port" && !port.parse::<u16>().is_ok_and(|n| n > 0),
            "health_check_port",
            format!("{port:?} is neither a port (1–65535) nor `traffic-port`"),
        ),
        (
            !path.starts_with('/') || path.len() > 1024,
            "health_check_path",
            format!("{path:?} must start with `/` and have at most 1024 characters"),
        ),
        (
            timeout >= interval,
            "health_check_timeout_seconds",
            format!("{timeout} must be less than the interval ({interval} s)"),
        ),
    ];
    let (_, field, message) = bad.into_iter().find(|b| b.0)?;
    violation(field, format!("{field} {message}"), "see elbv2.target_group in docs/reference.md")
}

/// Whether a protocol speaks HTTP (and so has a protocol version).
fn is_http(protocol: &str) -> bool {
    matches!(protocol, "HTTP" | "HTTPS")
}

/// `(property, attribute key)` of the attribute properties.
const ATTRIBUTES: [(&str, &str); 2] = [
    ("deregistration_delay_timeout_seconds", "deregistration_delay.timeout_seconds"),
    ("stickiness_enabled", "stickiness.enabled"),
];

/// The matcher in AWS's shape: gRPC codes for a GRPC target group.
fn matcher(want: &TargetGroupModel) -> Matcher {
    let m = Matcher::builder();
    match want.protocol_version.as_str() {
        "GRPC" => m.grpc_code(&want.matcher).build(),
        _ => m.http_code(&want.matcher).build(),
    }
}

fn attributes(tg: &Tg) -> Props {
    let arn = tg.target_group_arn().unwrap_or_default();
    attrs([
        ("id", json!(arn)),
        ("arn", json!(arn)),
        ("name", json!(tg.target_group_name())),
        ("arn_suffix", json!(arn_suffix(arn, "targetgroup/", true))),
    ])
}

/// A target group in the spec's shape.
fn live(tg: &Tg, tags: Tags, listed: &HashMap<String, String>) -> Live<TargetGroupModel> {
    let attr = |i: usize| listed.get(ATTRIBUTES[i].1).map(String::as_str);
    let s = |v: Option<&str>, d: &str| v.unwrap_or(d).to_string();
    let model = TargetGroupModel {
        name: tg.target_group_name().map(str::to_string),
        // A lambda target group has no protocol.
        protocol: s(tg.protocol().map(|p| p.as_str()), "HTTP"),
        port: tg.port().map(i64::from),
        vpc_id: tg.vpc_id().map(str::to_string),
        target_type: s(tg.target_type().map(|t| t.as_str()), "instance"),
        // Only HTTP and HTTPS target groups have a protocol version.
        protocol_version: s(tg.protocol_version(), "HTTP1"),
        ip_address_type: s(tg.ip_address_type().map(|t| t.as_str()), "ipv4"),
        health_check_enabled: tg.health_check_enabled().unwrap_or(true),
        health_check_protocol: tg.health_check_protocol().map(|p| p.as_str().to_string()),
        health_check_port: s(tg.health_check_port(), "traffic-port"),
        // TCP health checks have no path and no matcher: read as the defaults.
        health_check_path: s(tg.health_check_path(), "/"),
        health_check_interval_seconds: tg.health_check_interval_seconds().map_or(30, i64::from),
        health_check_timeout_seconds: tg.health_check_timeout_seconds().map(i64::from),
        healthy_threshold_count: tg.healthy_threshold_count().map_or(5, i64::from),
        unhealthy_threshold_count: tg.unhealthy_threshold_count().map_or(2, i64::from),
        matcher: s(tg.matcher().and_then(|m| m.http_code().or(m.grpc_code())), "200"),
        deregistration_delay_timeout_seconds: attr(0).and_then(|v| v.parse().ok()).unwrap_or(300),
        stickiness_enabled: attr(1) == Some("true"),
    };
    Live { id: tg.target_group_arn().unwrap_or_default().to_string(), model, tags, attributes: attributes(tg) }
}

pub struct TargetGroup {
    client: Client,
    tags: Elbv2Tags,
    tagging: Option<StackTags>,
}

impl TargetGroup {
    pub fn new(client: Client) -> TargetGroup {
        TargetGroup { tags: Elbv2Tags(client.clone()), client, tagging: None }
    }

    /// Tags from the run's one tagging-API read of the stack where it has
    /// them, rather than a DescribeTags of this kind's own.
    pub fn with_stack_tags(mut self, tags: StackTags) -> TargetGroup {
        self.tagging = Some(tags);
        self
    }

    async fn describe(&self, arns: Vec<String>) -> Result<Vec<Tg>, ProviderError> {
        let out =
            self.client.describe_target_groups().set_target_group_arns(Some(arns)).send().await.map_err(from_sdk)?;
        Ok(out.target_groups.unwrap_or_default())
    }

    async fn describe_all(&self) -> Result<Vec<Tg>, ProviderError> {
        let mut pages = self.client.describe_target_groups().into_paginator().send();
        let mut out = Vec::new();
        while let Some(page) = pages.next().await {
            out.extend(page.map_err(from_sdk)?.target_groups.unwrap_or_default());
        }
        Ok(out)
    }

    /// The attributes of one target group, by key; `None` when it is gone.
    async fn listed(&self, arn: &str) -> Result<Option<HashMap<String, String>>, ProviderError> {
        let r = self.client.describe_target_group_attributes().target_group_arn(arn).send().await.map_err(from_sdk);
        match r {
            Ok(out) => Ok(Some(
                out.attributes.unwrap_or_default().into_iter().filter_map(|a| Some((a.key?, a.value?))).collect(),
            )),
            Err(e) if e.code_is(NOT_FOUND) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Those of `tgs` tagged with the stack, in the spec's shape (the
    /// others' attributes are not read).
    async fn observe(&self, tgs: Vec<Tg>, ctx: &ReadCtx) -> Result<Vec<Live<TargetGroupModel>>, ProviderError> {
        let tgs = with_tags(&self.client, None, tgs, |x| x.target_group_arn(), NOT_FOUND, Some(&ctx.stack)).await?;
        crate::read_each(tgs.into_iter().map(|(tg, tags)| async move {
            let listed = self.listed(tg.target_group_arn().unwrap_or_default()).await?;
            Ok(listed.map(|listed| live(&tg, tags, &listed)))
        }))
        .await
    }

    /// ModifyTargetGroupAttributes for the attributes `send` picks (by index
    /// in [`ATTRIBUTES`]); no call when it picks none.
    async fn modify_attributes(
        &self,
        arn: &str,
        want: &TargetGroupModel,
        send: impl Fn(usize) -> bool,
    ) -> Result<(), ProviderError> {
        let values = [want.deregistration_delay_timeout_seconds.to_string(), want.stickiness_enabled.to_string()];
        let attrs: Vec<TargetGroupAttribute> = values
            .into_iter()
            .enumerate()
            .filter(|(i, _)| send(*i))
            .map(|(i, v)| TargetGroupAttribute::builder().key(ATTRIBUTES[i].1).value(v).build())
            .collect();
        if attrs.is_empty() {
            return Ok(());
        }
        let call = self.client.modify_target_group_attributes().target_group_arn(arn).set_attributes(Some(attrs));
        call.send().await.map_err(from_sdk)?;
        Ok(())
    }
}

/// `v` unless it is the schema's default, which AWS's own stands for.
fn unless_default<T: PartialEq>(v: T, default: T) -> Option<T> {
    (v != default).then_some(v)
}

#[async_trait::async_trait]
impl Kind for TargetGroup {
    type Model = TargetGroupModel;
    const ADOPT: Adopt = Adopt::ByTag;

    fn schema(&self) -> &'static KindSchema {
        &SCHEMA
    }

    fn tagger(&self) -> Option<&dyn Tagger> {
        Some(&self.tags)
    }

    fn stack_tags(&self) -> Option<&crate::kit::tagging::StackTags> {
        self.tagging.as_ref()
    }

    async fn read(&self, ctx: &ReadCtx, ids: &[String]) -> Result<Vec<Live<TargetGroupModel>>, ProviderError> {
        let run = self.tagging.as_ref().map(|t| (t, ctx.stack.as_str()));
        let listed = |arn: String| async move { self.listed(&arn).await };
        let found =
            read_known(&self.client, run, ids, NOT_FOUND, |a| self.describe(a), |x: &Tg| x.target_group_arn(), listed);
        Ok(found.await?.into_iter().map(|(tg, tags, listed)| live(&tg, tags, &listed)).collect())
    }

    async fn find_tagged(&self, ctx: &ReadCtx) -> Result<Vec<Live<TargetGroupModel>>, ProviderError> {
        self.observe(self.describe_all().await?, ctx).await
    }

    async fn create(&self, ctx: &OpCtx, want: &TargetGroupModel) -> Result<Created, ProviderError> {
        let name = want.name.clone().unwrap_or_else(|| default_name(&ctx.stack, &ctx.name_seed()));
        let lambda = want.target_type == "lambda";
        let protocol = (!lambda).then_some(want.protocol.as_str());
        let http = protocol.is_some_and(is_http);
        let out = self
            .client
            .create_target_group()
            .name(&name)
            .set_protocol(protocol.map(ProtocolEnum::from))
            .set_protocol_version(http.then(|| want.protocol_version.clone()))
            .set_port(want.port.map(|p| p as i32))
            .set_vpc_id(want.vpc_id.clone())
            .target_type(TargetTypeEnum::from(want.target_type.as_str()))
            .set_ip_address_type(unless_default(want.ip_address_type.as_str(), "ipv4").map(Into::into))
            .health_check_enabled(want.health_check_enabled)
            .set_health_check_protocol(want.health_check_protocol.as_deref().map(ProtocolEnum::from))
            .set_health_check_port(unless_default(want.health_check_port.clone(), "traffic-port".into()))
            .set_health_check_path(unless_default(want.health_check_path.clone(), "/".into()))
            .set_health_check_interval_seconds(unless_default(want.health_check_interval_seconds as i32, 30))
            .set_health_check_timeout_seconds(want.health_check_timeout_seconds.map(|t| t as i32))
            .set_healthy_threshold_count(unless_default(want.healthy_threshold_count as i32, 5))
            .set_unhealthy_threshold_count(unless_default(want.unhealthy_threshold_count as i32, 2))
            .set_matcher(unless_default(want.matcher.as_str(), "200").map(|_| matcher(want)))
            .set_tags(Some(elb_tags(&ctx.tags)))
            .send()
            .await
            .map_err(from_sdk)
            .map_err(hint_on("DuplicateTargetGroupName", || {
                format!(
                    "a target group named {name} already exists with other settings; delete it or set another \
                     `name` (settings that force a replacement need a new name: set `name` to a new one too)"
                )
            }))?;
        let tg = out.target_groups.unwrap_or_default().into_iter().next().unwrap_or_else(|| Tg::builder().build());
        let arn = tg.target_group_arn().unwrap_or_default().to_string();
        ctx.record_id(&arn);
        let defaults = [want.deregistration_delay_timeout_seconds != 300, want.stickiness_enabled];
        self.modify_attributes(&arn, want, |i| defaults[i]).await?;
        Ok(Created { id: arn, attributes: attributes(&tg) })
    }

    async fn update(
        &self,
        _ctx: &OpCtx,
        live: &Observed,
        want: &TargetGroupModel,
        changed: &[&str],
    ) -> Result<Option<Props>, ProviderError> {
        let arn = live.id.as_str();
        let has = |p: &str| changed.contains(&p);
        if changed.iter().any(|p| p.starts_with("health") || p.ends_with("threshold_count") || *p == "matcher") {
            let int = |p: &str, v: i64| has(p).then_some(v as i32);
            self.client
                .modify_target_group()
                .target_group_arn(arn)
                .set_health_check_enabled(has("health_check_enabled").then_some(want.health_check_enabled))
                .set_health_check_protocol(
                    want.health_check_protocol.as_deref().filter(|_| has("health_check_protocol")).map(Into::into),
                )
                .set_health_check_port(has("health_check_port").then(|| want.health_check_port.clone()))
                .set_health_check_path(has("health_check_path").then(|| want.health_check_path.clone()))
                .set_health_check_interval_seconds(int(
                    "health_check_interval_seconds",
                    want.health_check_interval_seconds,
                ))
                .set_health_check_timeout_seconds(
                    want.health_check_timeout_seconds.and_then(|t| int("health_check_timeout_seconds", t)),
                )
                .set_healthy_threshold_count(int("healthy_threshold_count", want.healthy_threshold_count))
                .set_unhealthy_threshold_count(int("unhealthy_threshold_count", want.unhealthy_threshold_count))
                .set_matcher(has("matcher").then(|| matcher(want)))
                .send()
                .await
                .map_err(from_sdk)?;
        }
        self.modify_attributes(arn, want, |i| has(ATTRIBUTES[i].0)).await?;
        Ok(None)
    }

    async fn delete(&self, ctx: &OpCtx, live: &Observed, _: Option<&TargetGroupModel>) -> Result<(), ProviderError> {
        const IN_USE_GRACE: Duration = Duration::from_secs(120);
        let start = Instant::now();
        ctx.wait_for("target group to be released by its listeners", || async {
            match self.client.delete_target_group().target_group_arn(&live.id).send().await.map_err(from_sdk) {
                Ok(_) => Ok(Poll::Ready(())),
                Err(e) if e.code_is("ResourceInUse") && start.elapsed() < IN_USE_GRACE => {
                    Ok(Poll::Pending("in use".into()))
                }
                Err(e) if e.code_is("ResourceInUse") => Err(e.with_hint(
                    "a listener, a listener rule or an ECS service still uses the target group: delete or change \
                     those first (resources of this stack that reference it are handled in order)",
                )),
                Err(e) => Err(e),
            }
        })
        .await?;
        Ok(())
    }
}
