//! `elbv2.target_group`: a target group, with its health check (the flat
//! AWS members of CreateTargetGroup, changed in place with
//! ModifyTargetGroup) and two attributes (deregistration delay and
//! stickiness, changed with ModifyTargetGroupAttributes).
//!
//! Defaults are AWS's for HTTP and HTTPS target groups (those of an
//! application load balancer). Health check settings whose AWS default
//! depends on the protocol (the health check protocol and timeout) have no
//! default: unset, AWS's choice stands and is not managed. A target group
//! without an HTTP health check (TCP) has no path or matcher; they read as
//! their defaults so they never show a change nobody asked for.
//!
//! Reads are batched like the load balancer's: DescribeTargetGroups for up
//! to 20 ARNs (one per ARN when a batch names one that is gone), DescribeTags
//! for up to 20, attributes concurrently. Delete retries `ResourceInUse` for
//! up to two minutes: a listener deleted just before lets go of its target
//! group a little later.

use super::*;
use crate::error::from_sdk;
use crate::kit::read_batched;
use async_trait::async_trait;
use aws_sdk_elasticloadbalancingv2::types::{
    Matcher, ProtocolEnum, TargetGroup as Tg, TargetGroupAttribute, TargetGroupIpAddressTypeEnum, TargetTypeEnum,
};
use deployctl_engine::{Observed, OpCtx, Poll, Props, ProviderError, ReadCtx, ResourceKind};
use deployctl_spec::{Attr, KindSchema, Prop, Type};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

pub static SCHEMA: KindSchema = KindSchema {
    type_name: "elbv2.target_group",
    doc: "A target group: where a listener forwards requests, and how the load balancer checks the targets' \
          health. ECS services register their tasks in it. Defaults are AWS's for HTTP and HTTPS target groups; \
          for TCP, UDP, TLS, GENEVE or lambda target groups write the health check settings you want. A target \
          group still used by a listener or rule cannot be deleted: delete those first.",
    properties: &[
        Prop::new(
            "name",
            Type::String,
            "The name: letters, digits and hyphens, at most 32 characters. Default: `<stack>-<resource>`, \
             shortened with a hash to fit.",
        )
        .replace().unique(),
        Prop::new(
            "protocol",
            Type::String,
            "`HTTP`, `HTTPS` (application load balancers), `TCP`, `TLS`, `UDP`, `TCP_UDP` (network), `GENEVE`.",
        )
        .default("\"HTTP\"")
        .replace().one_of(aws_sdk_elasticloadbalancingv2::types::ProtocolEnum::values()),
        Prop::new("port", Type::Int, "The port the targets receive traffic on.").replace().range(1, 65535),
        Prop::new("vpc_id", Type::String, "The VPC of the targets.").replace(),
        Prop::new(
            "target_type",
            Type::String,
            "`instance`, `ip` (needed for ECS tasks in awsvpc mode, Fargate), `lambda` or `alb`.",
        )
        .default("\"instance\"")
        .replace().one_of(aws_sdk_elasticloadbalancingv2::types::TargetTypeEnum::values()),
        Prop::new("protocol_version", Type::String, "`HTTP1`, `HTTP2` or `GRPC` (HTTP and HTTPS target groups).")
            .default("\"HTTP1\"")
            .replace(),
        Prop::new("ip_address_type", Type::String, "`ipv4` or `ipv6`.").default("\"ipv4\"").replace(),
        Prop::new("health_check_enabled", Type::Bool, "Whether targets are health-checked.").default("true"),
        Prop::new(
            "health_check_protocol",
            Type::String,
            "`HTTP`, `HTTPS` or `TCP`. Unset: AWS picks the target group's protocol (TCP for network protocols), \
             not managed.",
        ),
        Prop::new("health_check_port", Type::String, "A port number, or `traffic-port` (the target's own).")
            .default("\"traffic-port\""),
        Prop::new("health_check_path", Type::String, "The path HTTP and HTTPS health checks request.").default("\"/\""),
        Prop::new("health_check_interval_seconds", Type::Int, "Seconds between health checks of a target (5–300).")
            .default("30"),
        Prop::new(
            "health_check_timeout_seconds",
            Type::Int,
            "Seconds without an answer that fail a check (2–120). Unset: AWS's default for the protocol (5 for \
             HTTP target groups of an application load balancer), not managed.",
        ),
        Prop::new("healthy_threshold_count", Type::Int, "Consecutive successes that make a target healthy (2–10).")
            .default("5"),
        Prop::new(
            "unhealthy_threshold_count",
            Type::Int,
            "Consecutive failures that make a target unhealthy (2–10).",
        )
        .default("2"),
        Prop::new(
            "matcher",
            Type::String,
            "The HTTP codes of a healthy answer: `200`, `200,302`, `200-299` (the gRPC codes when protocol_version \
             is GRPC).",
        )
        .default("\"200\""),
        Prop::new(
            "deregistration_delay_timeout_seconds",
            Type::Int,
            "Seconds a deregistering target keeps serving in-flight requests \
             (`deregistration_delay.timeout_seconds`, 0–3600).",
        )
        .default("300"),
        Prop::new("stickiness_enabled", Type::Bool, "Whether sessions stick to a target (`stickiness.enabled`).")
            .default("false"),
    ],
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
    rules: &[],
    example: "app_tg:\n  type: elbv2.target_group\n  properties:\n    port: 8080\n    vpc_id: ${vpc.id}\n    target_type: ip\n    health_check_path: /\n    healthy_threshold_count: 2\n    unhealthy_threshold_count: 3\n    health_check_timeout_seconds: 5\n    deregistration_delay_timeout_seconds: 30\n",
};

const DEREGISTRATION_DELAY: &str = "deregistration_delay.timeout_seconds";
const STICKINESS: &str = "stickiness.enabled";

/// The properties ModifyTargetGroup changes.
const HEALTH_CHECK_PROPS: [&str; 9] = [
    "health_check_enabled",
    "health_check_protocol",
    "health_check_port",
    "health_check_path",
    "health_check_interval_seconds",
    "health_check_timeout_seconds",
    "healthy_threshold_count",
    "unhealthy_threshold_count",
    "matcher",
];

/// The properties that are target group attributes.
const ATTRIBUTE_PROPS: [&str; 2] = ["deregistration_delay_timeout_seconds", "stickiness_enabled"];

pub struct TargetGroup {
    client: Client,
}

/// Whether a protocol speaks HTTP (and so has a path, a matcher and a
/// protocol version).
fn is_http(protocol: Option<&str>) -> bool {
    matches!(protocol, Some("HTTP" | "HTTPS"))
}

impl TargetGroup {
    pub fn new(client: Client) -> TargetGroup {
        TargetGroup { client }
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

    async fn attributes(&self, arn: &str) -> Result<Option<HashMap<String, String>>, ProviderError> {
        let r = self.client.describe_target_group_attributes().target_group_arn(arn).send().await.map_err(from_sdk);
        match r {
            Ok(out) => Ok(Some(
                out.attributes()
                    .iter()
                    .filter_map(|a| Some((a.key()?.to_string(), a.value().unwrap_or_default().to_string())))
                    .collect(),
            )),
            Err(e) if e.code_is("TargetGroupNotFound") => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The target groups in the spec's shape; with `stack`, only those
    /// tagged with it.
    async fn observe(&self, tgs: Vec<Tg>, stack: Option<&str>) -> Result<Vec<Observed>, ProviderError> {
        let tgs = with_tags(&self.client, tgs, |t| t.target_group_arn(), stack).await?;
        let attrs = join_all(tgs.iter().map(|(t, _)| self.attributes(t.target_group_arn().unwrap_or_default()))).await;
        let mut out = Vec::new();
        for ((tg, tags), attrs) in tgs.into_iter().zip(attrs) {
            let Some(attrs) = attrs? else { continue };
            out.push(observed(&tg, tags, &attrs));
        }
        Ok(out)
    }

    async fn read_one(&self, arn: &str) -> Result<Observed, ProviderError> {
        let found = match self.describe(vec![arn.to_string()]).await {
            Ok(v) => v,
            Err(e) if e.code_is("TargetGroupNotFound") => Vec::new(),
            Err(e) => return Err(e),
        };
        self.observe(found, None).await?.into_iter().next().ok_or_else(|| {
            ProviderError::new(Some("TargetGroupNotFound".into()), format!("target group {arn} disappeared"))
        })
    }

    /// ModifyTargetGroupAttributes for the named attribute properties.
    async fn modify_attributes(&self, arn: &str, desired: &Props, props: &[&str]) -> Result<(), ProviderError> {
        let mut attrs = Vec::new();
        for p in props {
            let (key, value) = match *p {
                "deregistration_delay_timeout_seconds" => {
                    (DEREGISTRATION_DELAY, want_i32(&SCHEMA, desired, p).map(|v| v.to_string()))
                }
                "stickiness_enabled" => (STICKINESS, want_bool(&SCHEMA, desired, p).map(|v| v.to_string())),
                _ => continue,
            };
            if let Some(v) = value {
                attrs.push(TargetGroupAttribute::builder().key(key).value(v).build());
            }
        }
        if attrs.is_empty() {
            return Ok(());
        }
        self.client
            .modify_target_group_attributes()
            .target_group_arn(arn)
            .set_attributes(Some(attrs))
            .send()
            .await
            .map_err(from_sdk)?;
        Ok(())
    }
}

/// The matcher in AWS's shape: gRPC codes for a GRPC target group.
fn matcher(desired: &Props, code: String) -> Matcher {
    if want_str(&SCHEMA, desired, "protocol_version").as_deref() == Some("GRPC") {
        Matcher::builder().grpc_code(code).build()
    } else {
        Matcher::builder().http_code(code).build()
    }
}

/// A target group in the spec's shape.
fn observed(tg: &Tg, tags: BTreeMap<String, String>, attrs: &HashMap<String, String>) -> Observed {
    let arn = tg.target_group_arn().unwrap_or_default().to_string();
    let protocol = tg.protocol().map(|p| p.as_str());
    let attr = |k: &str| attrs.get(k).map(String::as_str);
    let mut properties = Props::new();
    properties.insert("name".into(), json!(tg.target_group_name()));
    properties.insert("protocol".into(), json!(protocol));
    properties.insert("port".into(), json!(tg.port()));
    properties.insert("vpc_id".into(), json!(tg.vpc_id()));
    properties.insert("target_type".into(), json!(tg.target_type().map(|t| t.as_str())));
    // Only HTTP and HTTPS target groups have a protocol version.
    properties.insert("protocol_version".into(), json!(tg.protocol_version().unwrap_or("HTTP1")));
    properties.insert("ip_address_type".into(), json!(tg.ip_address_type().map(|t| t.as_str()).unwrap_or("ipv4")));
    properties.insert("health_check_enabled".into(), json!(tg.health_check_enabled()));
    properties.insert("health_check_protocol".into(), json!(tg.health_check_protocol().map(|p| p.as_str())));
    properties.insert("health_check_port".into(), json!(tg.health_check_port()));
    // TCP health checks have no path and no matcher: read as the defaults.
    properties.insert("health_check_path".into(), json!(tg.health_check_path().unwrap_or("/")));
    properties.insert("health_check_interval_seconds".into(), json!(tg.health_check_interval_seconds()));
    properties.insert("health_check_timeout_seconds".into(), json!(tg.health_check_timeout_seconds()));
    properties.insert("healthy_threshold_count".into(), json!(tg.healthy_threshold_count()));
    properties.insert("unhealthy_threshold_count".into(), json!(tg.unhealthy_threshold_count()));
    let code = tg.matcher().and_then(|m| m.http_code().or(m.grpc_code()));
    properties.insert("matcher".into(), json!(code.unwrap_or("200")));
    properties.insert(
        "deregistration_delay_timeout_seconds".into(),
        json!(attr(DEREGISTRATION_DELAY).and_then(|v| v.parse::<i64>().ok()).unwrap_or(300)),
    );
    properties.insert(
        "stickiness_enabled".into(),
        json!(attr(STICKINESS).and_then(|v| v.parse::<bool>().ok()).unwrap_or(false)),
    );
    let mut attributes = Props::new();
    attributes.insert("id".into(), json!(arn));
    attributes.insert("arn".into(), json!(arn));
    attributes.insert("name".into(), json!(tg.target_group_name()));
    attributes.insert("arn_suffix".into(), json!(arn_suffix(&arn, "targetgroup/", true)));
    Observed { id: arn, properties, tags, attributes }
}

#[async_trait]
impl ResourceKind for TargetGroup {
    fn schema(&self) -> &'static KindSchema {
        &SCHEMA
    }

    async fn read(&self, _ctx: &ReadCtx, ids: &[String]) -> Result<Vec<Observed>, ProviderError> {
        let found = read_batched(ids, ARN_CHUNK, "TargetGroupNotFound", |arns| self.describe(arns)).await?;
        self.observe(found, None).await
    }

    async fn find_tagged(&self, ctx: &ReadCtx) -> Result<Vec<(String, Observed)>, ProviderError> {
        let all = self.describe_all().await?;
        let found = self.observe(all, Some(&ctx.stack)).await?;
        Ok(found.into_iter().filter_map(|o| Some((address_tag(&o.tags)?, o))).collect())
    }

    async fn create(&self, ctx: &OpCtx, desired: &Props) -> Result<Observed, ProviderError> {
        let s = |k: &str| want_str(&SCHEMA, desired, k);
        // Only what the spec writes is sent: AWS's defaults depend on the
        // protocol and the target type.
        let given = |k: &str| desired.get(k).filter(|v| !v.is_null()).is_some();
        let gs = |k: &str| if given(k) { s(k) } else { None };
        let gi = |k: &str| if given(k) { want_i32(&SCHEMA, desired, k) } else { None };
        let name = s("name").unwrap_or_else(|| default_name(&ctx.stack, &ctx.address));
        let target_type = s("target_type").unwrap_or_else(|| "instance".into());
        let lambda = target_type == "lambda";
        let protocol = if lambda { gs("protocol") } else { s("protocol") };
        let protocol_version =
            if is_http(protocol.as_deref()) || given("protocol_version") { s("protocol_version") } else { None };
        let out = self
            .client
            .create_target_group()
            .name(&name)
            .set_protocol(protocol.as_deref().map(ProtocolEnum::from))
            .set_protocol_version(protocol_version)
            .set_port(gi("port"))
            .set_vpc_id(gs("vpc_id"))
            .target_type(TargetTypeEnum::from(target_type.as_str()))
            .set_ip_address_type(gs("ip_address_type").as_deref().map(TargetGroupIpAddressTypeEnum::from))
            .set_health_check_enabled(if given("health_check_enabled") {
                want_bool(&SCHEMA, desired, "health_check_enabled")
            } else {
                None
            })
            .set_health_check_protocol(gs("health_check_protocol").as_deref().map(ProtocolEnum::from))
            .set_health_check_port(gs("health_check_port"))
            .set_health_check_path(gs("health_check_path"))
            .set_health_check_interval_seconds(gi("health_check_interval_seconds"))
            .set_health_check_timeout_seconds(gi("health_check_timeout_seconds"))
            .set_healthy_threshold_count(gi("healthy_threshold_count"))
            .set_unhealthy_threshold_count(gi("unhealthy_threshold_count"))
            .set_matcher(gs("matcher").map(|m| matcher(desired, m)))
            .set_tags(Some(elb_tags(&ctx.tags)))
            .send()
            .await
            .map_err(from_sdk)
            .map_err(|e| {
                if e.code_is("DuplicateTargetGroupName") {
                    e.with_hint(format!(
                        "a target group named {name} already exists with other settings; delete it or set another \
                         `name` (settings that force a replacement need a new name: set `name` to a new one too)"
                    ))
                } else {
                    e
                }
            })?;
        let arn = out.target_groups().first().and_then(|t| t.target_group_arn()).unwrap_or_default().to_string();
        ctx.record_id(&arn);
        let written: Vec<&str> = ATTRIBUTE_PROPS.iter().copied().filter(|p| given(p)).collect();
        self.modify_attributes(&arn, desired, &written).await?;
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
        let has = |p: &str| changed.iter().any(|c| c == p);
        if HEALTH_CHECK_PROPS.iter().any(|p| has(p)) {
            let pick_s = |p: &str| if has(p) { want_str(&SCHEMA, desired, p) } else { None };
            let pick_i = |p: &str| if has(p) { want_i32(&SCHEMA, desired, p) } else { None };
            // A path and a matcher only go with an HTTP(S) health check.
            let hc_protocol = want_str(&SCHEMA, desired, "health_check_protocol").or_else(|| {
                current.properties.get("health_check_protocol").and_then(Value::as_str).map(str::to_string)
            });
            let http_check = is_http(hc_protocol.as_deref()) || desired.contains_key("health_check_path");
            self.client
                .modify_target_group()
                .target_group_arn(arn)
                .set_health_check_enabled(if has("health_check_enabled") {
                    want_bool(&SCHEMA, desired, "health_check_enabled")
                } else {
                    None
                })
                .set_health_check_protocol(pick_s("health_check_protocol").as_deref().map(ProtocolEnum::from))
                .set_health_check_port(pick_s("health_check_port"))
                .set_health_check_path(pick_s("health_check_path").filter(|_| http_check))
                .set_health_check_interval_seconds(pick_i("health_check_interval_seconds"))
                .set_health_check_timeout_seconds(pick_i("health_check_timeout_seconds"))
                .set_healthy_threshold_count(pick_i("healthy_threshold_count"))
                .set_unhealthy_threshold_count(pick_i("unhealthy_threshold_count"))
                .set_matcher(
                    pick_s("matcher")
                        .filter(|_| http_check || desired.contains_key("matcher"))
                        .map(|m| matcher(desired, m)),
                )
                .send()
                .await
                .map_err(from_sdk)?;
        }
        let attrs: Vec<&str> = ATTRIBUTE_PROPS.iter().copied().filter(|p| has(p)).collect();
        self.modify_attributes(arn, desired, &attrs).await?;
        if has("tags") {
            converge_tags(&self.client, arn, &current.tags, ctx).await?;
        }
        self.read_one(arn).await
    }

    async fn delete(&self, ctx: &OpCtx, current: &Observed, _recorded: &Props) -> Result<(), ProviderError> {
        const IN_USE_GRACE: Duration = Duration::from_secs(120);
        let (client, arn) = (&self.client, current.id.as_str());
        let start = Instant::now();
        ctx.wait_for("target group to be released by its listeners", move || async move {
            match client.delete_target_group().target_group_arn(arn).send().await.map_err(from_sdk) {
                Ok(_) => Ok(Poll::Ready(())),
                Err(e) if crate::is_not_found(&e) => Ok(Poll::Ready(())),
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
