//! `elbv2.load_balancer`: an application (or network) load balancer.
//!
//! Create calls CreateLoadBalancer with the tags, records the ARN at once,
//! waits until the state is `active` (`failed` ends the step with AWS's
//! reason), then sets the attributes the spec writes with
//! ModifyLoadBalancerAttributes. The attributes are typed properties
//! (`idle_timeout` is `idle_timeout.timeout_seconds`, …), read back with
//! DescribeLoadBalancerAttributes; an attribute AWS does not list (a network
//! load balancer has no idle timeout; the local emulator lists only what was
//! set) reads as its default, so it never shows a change nobody asked for.
//!
//! Reads are batched: one DescribeLoadBalancers for up to 20 ARNs (when AWS
//! refuses a batch because one ARN is gone, each ARN is asked on its own,
//! concurrently), one DescribeTags for up to 20 ARNs, and the attributes of
//! each load balancer concurrently. Delete waits until the load balancer is
//! gone, so its security groups and subnets can be deleted right after.

use super::*;
use crate::error::from_sdk;
use crate::kit::read_batched;
use async_trait::async_trait;
use aws_sdk_elasticloadbalancingv2::types::{
    IpAddressType, LoadBalancer as Lb, LoadBalancerAttribute, LoadBalancerSchemeEnum, LoadBalancerStateEnum,
    LoadBalancerTypeEnum,
};
use deployctl_engine::{Observed, OpCtx, Poll, Props, ProviderError, ReadCtx, ResourceKind};
use deployctl_spec::{Attr, KindSchema, Prop, Type};
use serde_json::{json, Map, Value};

static ACCESS_LOGS: [Prop; 3] = [
    Prop::new("enabled", Type::Bool, "Whether access logs are written (`access_logs.s3.enabled`).").default("false"),
    Prop::new(
        "bucket",
        Type::String,
        "The S3 bucket (`access_logs.s3.bucket`); its bucket policy must let Elastic Load Balancing write to it.",
    )
    .default("\"\""),
    Prop::new("prefix", Type::String, "The key prefix in the bucket (`access_logs.s3.prefix`).").default("\"\""),
];

pub static SCHEMA: KindSchema = KindSchema {
    type_name: "elbv2.load_balancer",
    doc: "An Elastic Load Balancing v2 load balancer: an application load balancer (the default) or a network \
          load balancer. Create waits until it is active; delete waits until it is gone, so its security groups \
          and subnets can be deleted after it. Its attributes are properties of their own (idle_timeout, \
          deletion_protection, http2_enabled, access_logs), changed in place.",
    properties: &[
        Prop::new(
            "name",
            Type::String,
            "The name: letters, digits and hyphens, at most 32 characters, unique in the region. \
             Default: `<stack>-<resource>`, shortened with a hash to fit.",
        )
        .replace().unique(),
        Prop::new("type", Type::String, "`application`, `network` or `gateway`.").default("\"application\"").replace().one_of(aws_sdk_elasticloadbalancingv2::types::LoadBalancerTypeEnum::values()),
        Prop::new("scheme", Type::String, "`internet-facing` or `internal`.").default("\"internet-facing\"").replace().one_of(aws_sdk_elasticloadbalancingv2::types::LoadBalancerSchemeEnum::values()),
        Prop::new("ip_address_type", Type::String, "`ipv4` or `dualstack` (SetIpAddressType).").default("\"ipv4\""),
        Prop::new(
            "subnets",
            Type::Set(&Type::String),
            "The subnets, at least two in different Availability Zones for an application load balancer (SetSubnets).",
        )
        .required(),
        Prop::new(
            "security_groups",
            Type::Set(&Type::String),
            "The security groups (SetSecurityGroups). Unset: AWS uses the VPC's default group, not managed.",
        ),
        Prop::new(
            "idle_timeout",
            Type::Int,
            "Seconds a connection may stay idle (`idle_timeout.timeout_seconds`, application load balancers).",
        )
        .default("60"),
        Prop::new(
            "deletion_protection",
            Type::Bool,
            "Whether AWS refuses to delete it (`deletion_protection.enabled`). Set it to false (and apply) before \
             removing the load balancer.",
        )
        .default("false"),
        Prop::new(
            "http2_enabled",
            Type::Bool,
            "Whether HTTP/2 is enabled (`routing.http2.enabled`, application load balancers).",
        )
        .default("true"),
        Prop::new("access_logs", Type::Object(&ACCESS_LOGS), "Access logs to S3 (`access_logs.s3.*`)."),
    ],
    attributes: &[
        Attr { name: "id", doc: "The load balancer's ARN." },
        Attr { name: "arn", doc: "The load balancer's ARN." },
        Attr { name: "name", doc: "The load balancer's name." },
        Attr { name: "dns_name", doc: "The DNS name clients connect to." },
        Attr { name: "zone_id", doc: "The canonical hosted zone id, for Route 53 alias records." },
        Attr {
            name: "arn_suffix",
            doc: "The part of the ARN after `loadbalancer/` (`app/<name>/<id>`): the LoadBalancer dimension of its \
                  CloudWatch metrics.",
        },
        Attr { name: "vpc_id", doc: "The VPC of its subnets." },
    ],
    taggable: true,
    rules: &[],
    example: "alb:\n  type: elbv2.load_balancer\n  properties:\n    subnets: [\"${public_a.id}\", \"${public_b.id}\"]\n    security_groups: [\"${alb_sg.id}\"]\n    idle_timeout: 120\n",
};

/// The attribute keys behind the typed properties.
const IDLE_TIMEOUT: &str = "idle_timeout.timeout_seconds";
const DELETION_PROTECTION: &str = "deletion_protection.enabled";
const HTTP2: &str = "routing.http2.enabled";
const LOGS_ENABLED: &str = "access_logs.s3.enabled";
const LOGS_BUCKET: &str = "access_logs.s3.bucket";
const LOGS_PREFIX: &str = "access_logs.s3.prefix";

/// The properties that are load balancer attributes.
const ATTRIBUTE_PROPS: [&str; 4] = ["idle_timeout", "deletion_protection", "http2_enabled", "access_logs"];

pub struct LoadBalancer {
    client: Client,
}

impl LoadBalancer {
    pub fn new(client: Client) -> LoadBalancer {
        LoadBalancer { client }
    }

    /// DescribeLoadBalancers for some ARNs.
    async fn describe(&self, arns: Vec<String>) -> Result<Vec<Lb>, ProviderError> {
        let out =
            self.client.describe_load_balancers().set_load_balancer_arns(Some(arns)).send().await.map_err(from_sdk)?;
        Ok(out.load_balancers.unwrap_or_default())
    }

    /// Every load balancer of the account and region.
    async fn describe_all(&self) -> Result<Vec<Lb>, ProviderError> {
        let mut pages = self.client.describe_load_balancers().into_paginator().send();
        let mut out = Vec::new();
        while let Some(page) = pages.next().await {
            out.extend(page.map_err(from_sdk)?.load_balancers.unwrap_or_default());
        }
        Ok(out)
    }

    /// One load balancer, `None` when it is gone.
    async fn describe_one(&self, arn: &str) -> Result<Option<Lb>, ProviderError> {
        match self.describe(vec![arn.to_string()]).await {
            Ok(found) => Ok(found.into_iter().next()),
            Err(e) if e.code_is("LoadBalancerNotFound") => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The attributes of one load balancer, by key.
    async fn attributes(&self, arn: &str) -> Result<Option<HashMap<String, String>>, ProviderError> {
        let r = self.client.describe_load_balancer_attributes().load_balancer_arn(arn).send().await.map_err(from_sdk);
        match r {
            Ok(out) => Ok(Some(
                out.attributes()
                    .iter()
                    .filter_map(|a| Some((a.key()?.to_string(), a.value().unwrap_or_default().to_string())))
                    .collect(),
            )),
            Err(e) if e.code_is("LoadBalancerNotFound") => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The load balancers in the spec's shape: tags in one DescribeTags per
    /// 20, attributes concurrently. With `stack`, only those tagged with it
    /// (their attributes are not read otherwise).
    async fn observe(&self, lbs: Vec<Lb>, stack: Option<&str>) -> Result<Vec<Observed>, ProviderError> {
        let lbs = with_tags(&self.client, lbs, |l| l.load_balancer_arn(), stack).await?;
        let attrs = join_all(lbs.iter().map(|(l, _)| self.attributes(l.load_balancer_arn().unwrap_or_default()))).await;
        let mut out = Vec::new();
        for ((lb, tags), attrs) in lbs.into_iter().zip(attrs) {
            // Gone between the two calls: absent.
            let Some(attrs) = attrs? else { continue };
            out.push(observed(&lb, tags, &attrs));
        }
        Ok(out)
    }

    async fn read_one(&self, arn: &str) -> Result<Observed, ProviderError> {
        let found = self.describe_one(arn).await?.into_iter().collect();
        self.observe(found, None).await?.into_iter().next().ok_or_else(|| {
            ProviderError::new(Some("LoadBalancerNotFound".into()), format!("load balancer {arn} disappeared"))
        })
    }

    /// Waits until the load balancer is `active`; `failed` is an error with
    /// AWS's reason.
    async fn wait_active(&self, ctx: &OpCtx, arn: &str) -> Result<(), ProviderError> {
        let (this, arn) = (self, arn);
        ctx.wait_for("load balancer to be active", move || async move {
            let Some(lb) = this.describe_one(arn).await? else {
                return Ok(Poll::Pending("not visible yet".into()));
            };
            let state = lb.state();
            Ok(match state.and_then(|s| s.code()) {
                Some(LoadBalancerStateEnum::Active | LoadBalancerStateEnum::ActiveImpaired) => Poll::Ready(()),
                Some(LoadBalancerStateEnum::Failed) => {
                    let reason = state.and_then(|s| s.reason()).unwrap_or("no reason given");
                    return Err(ProviderError::new(
                        Some("LoadBalancerFailed".into()),
                        format!("load balancer {arn} failed: {reason}"),
                    )
                    .with_hint("fix the cause, delete the failed load balancer (or let a replace do it) and re-run"));
                }
                Some(s) => Poll::Pending(s.as_str().to_string()),
                None => Poll::Pending("unknown".into()),
            })
        })
        .await?;
        Ok(())
    }

    /// ModifyLoadBalancerAttributes for the named attribute properties, with
    /// the values the spec asks (or the defaults).
    async fn modify_attributes(&self, arn: &str, desired: &Props, props: &[&str]) -> Result<(), ProviderError> {
        let mut attrs = Vec::new();
        let mut add = |k: &str, v: String| attrs.push(LoadBalancerAttribute::builder().key(k).value(v).build());
        for p in props {
            match *p {
                "idle_timeout" => {
                    if let Some(v) = want_i32(&SCHEMA, desired, "idle_timeout") {
                        add(IDLE_TIMEOUT, v.to_string());
                    }
                }
                "deletion_protection" => {
                    if let Some(v) = want_bool(&SCHEMA, desired, "deletion_protection") {
                        add(DELETION_PROTECTION, v.to_string());
                    }
                }
                "http2_enabled" => {
                    if let Some(v) = want_bool(&SCHEMA, desired, "http2_enabled") {
                        add(HTTP2, v.to_string());
                    }
                }
                "access_logs" => {
                    if let Some(Value::Object(logs)) = desired.get("access_logs") {
                        let s = |k: &str| logs.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
                        let enabled = logs.get("enabled").and_then(Value::as_bool).unwrap_or(false);
                        add(LOGS_ENABLED, enabled.to_string());
                        add(LOGS_BUCKET, s("bucket"));
                        add(LOGS_PREFIX, s("prefix"));
                    }
                }
                _ => {}
            }
        }
        if attrs.is_empty() {
            return Ok(());
        }
        self.client
            .modify_load_balancer_attributes()
            .load_balancer_arn(arn)
            .set_attributes(Some(attrs))
            .send()
            .await
            .map_err(from_sdk)?;
        Ok(())
    }
}

/// A load balancer in the spec's shape. Attributes AWS does not list read as
/// their defaults.
fn observed(lb: &Lb, tags: BTreeMap<String, String>, attrs: &HashMap<String, String>) -> Observed {
    let arn = lb.load_balancer_arn().unwrap_or_default().to_string();
    let attr = |k: &str| attrs.get(k).map(String::as_str);
    let int = |k: &str, d: i64| attr(k).and_then(|v| v.parse::<i64>().ok()).unwrap_or(d);
    let bool_ = |k: &str, d: bool| attr(k).and_then(|v| v.parse::<bool>().ok()).unwrap_or(d);
    let subnets: Vec<&str> = lb.availability_zones().iter().filter_map(|z| z.subnet_id()).collect();
    let mut logs = Map::new();
    logs.insert("enabled".into(), json!(bool_(LOGS_ENABLED, false)));
    logs.insert("bucket".into(), json!(attr(LOGS_BUCKET).unwrap_or_default()));
    logs.insert("prefix".into(), json!(attr(LOGS_PREFIX).unwrap_or_default()));

    let mut properties = Props::new();
    properties.insert("name".into(), json!(lb.load_balancer_name()));
    properties.insert("type".into(), json!(lb.r#type().map(|t| t.as_str())));
    properties.insert("scheme".into(), json!(lb.scheme().map(|s| s.as_str())));
    properties.insert("ip_address_type".into(), json!(lb.ip_address_type().map(|t| t.as_str())));
    properties.insert("subnets".into(), json!(subnets));
    properties.insert("security_groups".into(), json!(lb.security_groups()));
    properties.insert("idle_timeout".into(), json!(int(IDLE_TIMEOUT, 60)));
    properties.insert("deletion_protection".into(), json!(bool_(DELETION_PROTECTION, false)));
    properties.insert("http2_enabled".into(), json!(bool_(HTTP2, true)));
    properties.insert("access_logs".into(), Value::Object(logs));

    let mut attributes = Props::new();
    attributes.insert("id".into(), json!(arn));
    attributes.insert("arn".into(), json!(arn));
    attributes.insert("name".into(), json!(lb.load_balancer_name()));
    attributes.insert("dns_name".into(), json!(lb.dns_name()));
    attributes.insert("zone_id".into(), json!(lb.canonical_hosted_zone_id()));
    attributes.insert("arn_suffix".into(), json!(arn_suffix(&arn, "loadbalancer/", false)));
    attributes.insert("vpc_id".into(), json!(lb.vpc_id()));
    Observed { id: arn, properties, tags, attributes }
}

#[async_trait]
impl ResourceKind for LoadBalancer {
    fn schema(&self) -> &'static KindSchema {
        &SCHEMA
    }

    async fn read(&self, _ctx: &ReadCtx, ids: &[String]) -> Result<Vec<Observed>, ProviderError> {
        let found = read_batched(ids, ARN_CHUNK, "LoadBalancerNotFound", |arns| self.describe(arns)).await?;
        self.observe(found, None).await
    }

    async fn find_tagged(&self, ctx: &ReadCtx) -> Result<Vec<(String, Observed)>, ProviderError> {
        let all = self.describe_all().await?;
        let found = self.observe(all, Some(&ctx.stack)).await?;
        Ok(found.into_iter().filter_map(|o| Some((address_tag(&o.tags)?, o))).collect())
    }

    async fn create(&self, ctx: &OpCtx, desired: &Props) -> Result<Observed, ProviderError> {
        let s = |k: &str| want_str(&SCHEMA, desired, k);
        let name = s("name").unwrap_or_else(|| default_name(&ctx.stack, &ctx.address));
        let out = self
            .client
            .create_load_balancer()
            .name(&name)
            .set_subnets(want_strings(desired, "subnets"))
            .set_security_groups(want_strings(desired, "security_groups"))
            .set_scheme(s("scheme").map(|v| LoadBalancerSchemeEnum::from(v.as_str())))
            .set_type(s("type").map(|v| LoadBalancerTypeEnum::from(v.as_str())))
            .set_ip_address_type(s("ip_address_type").map(|v| IpAddressType::from(v.as_str())))
            .set_tags(Some(elb_tags(&ctx.tags)))
            .send()
            .await
            .map_err(from_sdk)
            .map_err(|e| {
                if e.code_is("DuplicateLoadBalancerName") {
                    e.with_hint(format!(
                        "a load balancer named {name} already exists in this region with other settings; \
                         delete it or set another `name`"
                    ))
                } else {
                    e
                }
            })?;
        let arn = out.load_balancers().first().and_then(|l| l.load_balancer_arn()).unwrap_or_default().to_string();
        ctx.record_id(&arn);
        self.wait_active(ctx, &arn).await?;
        let written: Vec<&str> = ATTRIBUTE_PROPS.iter().copied().filter(|p| desired.contains_key(*p)).collect();
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
        if has("subnets") {
            self.client
                .set_subnets()
                .load_balancer_arn(arn)
                .set_subnets(want_strings(desired, "subnets"))
                .send()
                .await
                .map_err(from_sdk)?;
        }
        if has("security_groups") {
            self.client
                .set_security_groups()
                .load_balancer_arn(arn)
                .set_security_groups(Some(want_strings(desired, "security_groups").unwrap_or_default()))
                .send()
                .await
                .map_err(from_sdk)?;
        }
        if has("ip_address_type") {
            let t = want_str(&SCHEMA, desired, "ip_address_type").unwrap_or_else(|| "ipv4".into());
            self.client
                .set_ip_address_type()
                .load_balancer_arn(arn)
                .ip_address_type(IpAddressType::from(t.as_str()))
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

    async fn resume(&self, ctx: &OpCtx, current: &Observed) -> Result<Observed, ProviderError> {
        self.wait_active(ctx, &current.id).await?;
        self.read_one(&current.id).await
    }

    async fn delete(&self, ctx: &OpCtx, current: &Observed, _recorded: &Props) -> Result<(), ProviderError> {
        let arn = current.id.as_str();
        match self.client.delete_load_balancer().load_balancer_arn(arn).send().await.map_err(from_sdk) {
            Ok(_) => {}
            Err(e) if crate::is_not_found(&e) => return Ok(()),
            Err(e) if e.code_is("OperationNotPermitted") => {
                return Err(e.with_hint(
                    "deletion protection is on: set `deletion_protection: false`, apply, then delete the load balancer",
                ))
            }
            Err(e) => return Err(e),
        }
        let this = self;
        ctx.wait_for("load balancer to be deleted", move || async move {
            Ok(match this.describe_one(arn).await? {
                None => Poll::Ready(()),
                Some(lb) => Poll::Pending(
                    lb.state().and_then(|s| s.code()).map(|c| c.as_str().to_string()).unwrap_or("deleting".into()),
                ),
            })
        })
        .await?;
        Ok(())
    }
}
