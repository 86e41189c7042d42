//! `elbv2.load_balancer`: an application (or network) load balancer.
//!
//! Create calls CreateLoadBalancer with the tags, records the ARN at once,
//! waits until the state is `active` (`failed` ends the step with AWS's
//! reason), then sets the attributes the spec asks away from AWS's
//! defaults with ModifyLoadBalancerAttributes; the attributes (dns_name,
//! arn_suffix, …) come from the create answer. The load balancer attributes
//! are typed properties (`idle_timeout` is `idle_timeout.timeout_seconds`,
//! …), read with DescribeLoadBalancerAttributes; one AWS does not list (a
//! network load balancer has no idle timeout; the local emulator lists only
//! what was set) reads as its default, so it never shows a change nobody
//! asked for.
//!
//! Reads are batched: one DescribeLoadBalancers for up to 20 ARNs (when AWS
//! refuses a batch because one ARN is gone, each ARN is asked on its own),
//! one DescribeTags for up to 20 ARNs, and the attributes of each load
//! balancer concurrently. Delete waits until the load balancer is gone, so
//! its security groups and subnets can be deleted right after.

use super::*;
use crate::kit::tagger::Elbv2Tags;
use crate::kit::{attrs, Adopt, Created, Kind, Live, Tagger};
use aws_sdk_elasticloadbalancingv2::types::{
    IpAddressType, LoadBalancer as Lb, LoadBalancerAttribute, LoadBalancerSchemeEnum, LoadBalancerStateEnum,
    LoadBalancerTypeEnum,
};
use deployctl_engine::{Observed, OpCtx, Poll, ReadCtx};
use deployctl_spec::Attr;
use serde_json::json;

const NOT_FOUND: &str = "LoadBalancerNotFound";

crate::model! {
    pub struct AccessLogs {
        enabled: bool = "Whether access logs are written (`access_logs.s3.enabled`)." [default("false")],
        bucket: String = "The S3 bucket (`access_logs.s3.bucket`); its bucket policy must let Elastic Load \
                          Balancing write to it." [default("\"\"")],
        prefix: String = "The key prefix in the bucket (`access_logs.s3.prefix`)." [default("\"\"")],
    }
}

crate::model! {
    pub struct LoadBalancerModel {
        name: Option<String> = "The name: letters, digits and hyphens, at most 32 characters, unique in the \
            region. Default: `<stack>-<resource>`, shortened with a hash to fit; a replacement created beside the old one adds its generation (`-2`)." [replace, unique, generated],
        lb_type as "type": String = "`application`, `network` or `gateway`."
            [default("\"application\""), replace, one_of(LoadBalancerTypeEnum::values())],
        scheme: String = "`internet-facing` or `internal`."
            [default("\"internet-facing\""), replace, one_of(LoadBalancerSchemeEnum::values())],
        ip_address_type: String = "`ipv4` or `dualstack` (SetIpAddressType)."
            [default("\"ipv4\""), one_of(IpAddressType::values())],
        subnets: Vec<String> = "The subnets, at least two in different Availability Zones for an application \
            load balancer (SetSubnets)." [required],
        security_groups: Option<Vec<String>> = "The security groups (SetSecurityGroups). Unset: AWS uses the \
            VPC's default group, not managed.",
        idle_timeout: i64 = "Seconds a connection may stay idle (`idle_timeout.timeout_seconds`, application load \
            balancers)." [default("60"), range(1, 4000)],
        deletion_protection: bool = "Whether AWS refuses to delete it (`deletion_protection.enabled`). Set it to \
            false (and apply) before removing the load balancer." [default("false")],
        http2_enabled: bool = "Whether HTTP/2 is enabled (`routing.http2.enabled`, application load balancers)."
            [default("true")],
        access_logs: Option<AccessLogs> = "Access logs to S3 (`access_logs.s3.*`).",
    }
}

pub static SCHEMA: KindSchema = KindSchema {
    type_name: "elbv2.load_balancer",
    doc: "An Elastic Load Balancing v2 load balancer: an application load balancer (the default) or a network \
          load balancer. Create waits until it is active; delete waits until it is gone, so its security groups \
          and subnets can be deleted after it. Its attributes are properties of their own (idle_timeout, \
          deletion_protection, http2_enabled, access_logs), changed in place.",
    properties: <LoadBalancerModel as Model>::PROPS,
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
    rules: &[|p| name_fits(p, true), two_subnets, logs_need_a_bucket],
    example: "alb:\n  type: elbv2.load_balancer\n  properties:\n    subnets: [\"${public_a.id}\", \"${public_b.id}\"]\n    security_groups: [\"${alb_sg.id}\"]\n    idle_timeout: 120\n",
};

/// An application load balancer needs two subnets (in two zones).
fn two_subnets(p: &Literals) -> Option<RuleViolation> {
    let n = literal(p, "subnets")?.as_array()?.len();
    (literal_str(p, "type").unwrap_or("application") == "application" && n < 2).then_some(())?;
    violation(
        "subnets",
        format!("an application load balancer needs at least two subnets, in two Availability Zones (it has {n})"),
        "add a subnet of another zone, or set `type: network`",
    )
}

/// Access logs written need a bucket.
fn logs_need_a_bucket(p: &Literals) -> Option<RuleViolation> {
    let logs = literal(p, "access_logs")?;
    let on = logs.get("enabled").and_then(Value::as_bool) == Some(true);
    let bucket = logs.get("bucket").and_then(Value::as_str).unwrap_or_default();
    (on && bucket.is_empty()).then_some(())?;
    violation("access_logs", "access logs are enabled without a bucket".into(), "set access_logs.bucket")
}

/// `(property, attribute key, AWS's default)` of the attribute properties.
const ATTRIBUTES: [(&str, &str, &str); 6] = [
    ("idle_timeout", "idle_timeout.timeout_seconds", "60"),
    ("deletion_protection", "deletion_protection.enabled", "false"),
    ("http2_enabled", "routing.http2.enabled", "true"),
    ("access_logs", "access_logs.s3.enabled", "false"),
    ("access_logs", "access_logs.s3.bucket", ""),
    ("access_logs", "access_logs.s3.prefix", ""),
];

/// The attribute values `want` asks, in [`ATTRIBUTES`]' order (`None`:
/// access logs not managed).
fn attribute_values(want: &LoadBalancerModel) -> [Option<String>; 6] {
    let logs = want.access_logs.as_ref();
    [
        Some(want.idle_timeout.to_string()),
        Some(want.deletion_protection.to_string()),
        Some(want.http2_enabled.to_string()),
        logs.map(|l| l.enabled.to_string()),
        logs.map(|l| l.bucket.clone()),
        logs.map(|l| l.prefix.clone()),
    ]
}

fn attributes(lb: &Lb) -> Props {
    let arn = lb.load_balancer_arn().unwrap_or_default();
    attrs([
        ("id", json!(arn)),
        ("arn", json!(arn)),
        ("name", json!(lb.load_balancer_name())),
        ("dns_name", json!(lb.dns_name())),
        ("zone_id", json!(lb.canonical_hosted_zone_id())),
        ("arn_suffix", json!(arn_suffix(arn, "loadbalancer/", false))),
        ("vpc_id", json!(lb.vpc_id())),
    ])
}

/// A load balancer in the spec's shape. Attributes AWS does not list read as
/// their defaults.
fn live(lb: &Lb, tags: Tags, listed: &HashMap<String, String>) -> Live<LoadBalancerModel> {
    let attr = |i: usize| listed.get(ATTRIBUTES[i].1).map_or(ATTRIBUTES[i].2, String::as_str);
    let model = LoadBalancerModel {
        name: lb.load_balancer_name().map(str::to_string),
        lb_type: lb.r#type().map_or("application", |t| t.as_str()).to_string(),
        scheme: lb.scheme().map_or("internet-facing", |s| s.as_str()).to_string(),
        ip_address_type: lb.ip_address_type().map_or("ipv4", |t| t.as_str()).to_string(),
        subnets: lb.availability_zones().iter().filter_map(|z| z.subnet_id().map(str::to_string)).collect(),
        security_groups: Some(lb.security_groups().to_vec()),
        idle_timeout: attr(0).parse().unwrap_or(60),
        deletion_protection: attr(1) == "true",
        http2_enabled: attr(2) != "false",
        access_logs: Some(AccessLogs {
            enabled: attr(3) == "true",
            bucket: attr(4).to_string(),
            prefix: attr(5).to_string(),
        }),
    };
    Live { id: lb.load_balancer_arn().unwrap_or_default().to_string(), model, tags, attributes: attributes(lb) }
}

pub struct LoadBalancer {
    client: Client,
    tags: Elbv2Tags,
    tagging: Option<StackTags>,
}

impl LoadBalancer {
    pub fn new(client: Client) -> LoadBalancer {
        LoadBalancer { tags: Elbv2Tags(client.clone()), client, tagging: None }
    }

    /// Tags from the run's one tagging-API read of the stack where it has
    /// them, rather than a DescribeTags of this kind's own.
    pub fn with_stack_tags(mut self, tags: StackTags) -> LoadBalancer {
        self.tagging = Some(tags);
        self
    }

    /// DescribeLoadBalancers for some ARNs.
    async fn describe(&self, arns: Vec<String>) -> Result<Vec<Lb>, ProviderError> {
        let out =
            self.client.describe_load_balancers().set_load_balancer_arns(Some(arns)).send().await.map_err(from_sdk)?;
        Ok(out.load_balancers.unwrap_or_default())
    }

    /// One load balancer, `None` when it is gone.
    async fn describe_one(&self, arn: &str) -> Result<Option<Lb>, ProviderError> {
        match self.describe(vec![arn.to_string()]).await {
            Ok(found) => Ok(found.into_iter().next()),
            Err(e) if e.code_is(NOT_FOUND) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The attributes of one load balancer, by key; `None` when it is gone.
    async fn listed(&self, arn: &str) -> Result<Option<HashMap<String, String>>, ProviderError> {
        let r = self.client.describe_load_balancer_attributes().load_balancer_arn(arn).send().await.map_err(from_sdk);
        match r {
            Ok(out) => Ok(Some(
                out.attributes.unwrap_or_default().into_iter().filter_map(|a| Some((a.key?, a.value?))).collect(),
            )),
            Err(e) if e.code_is(NOT_FOUND) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Those of `lbs` tagged with the stack, in the spec's shape: tags in
    /// one DescribeTags per 20, then their attributes concurrently (the
    /// others' are not read).
    async fn observe(&self, lbs: Vec<Lb>, ctx: &ReadCtx) -> Result<Vec<Live<LoadBalancerModel>>, ProviderError> {
        let lbs = with_tags(&self.client, None, lbs, |x| x.load_balancer_arn(), NOT_FOUND, Some(&ctx.stack)).await?;
        crate::read_each(lbs.into_iter().map(|(lb, tags)| async move {
            let listed = self.listed(lb.load_balancer_arn().unwrap_or_default()).await?;
            Ok(listed.map(|listed| live(&lb, tags, &listed)))
        }))
        .await
    }

    /// Waits until the load balancer is `active`; `failed` is an error with
    /// AWS's reason.
    async fn wait_active(&self, ctx: &OpCtx, arn: &str) -> Result<(), ProviderError> {
        ctx.wait_for("load balancer to be active", || async {
            let Some(lb) = self.describe_one(arn).await? else {
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

    /// ModifyLoadBalancerAttributes for the attributes `send` picks (by
    /// index in [`ATTRIBUTES`]); no call when it picks none.
    async fn modify_attributes(
        &self,
        arn: &str,
        want: &LoadBalancerModel,
        send: impl Fn(usize, &str) -> bool,
    ) -> Result<(), ProviderError> {
        let attrs: Vec<LoadBalancerAttribute> = attribute_values(want)
            .into_iter()
            .enumerate()
            .filter_map(|(i, v)| v.filter(|v| send(i, v)).map(|v| (ATTRIBUTES[i].1, v)))
            .map(|(k, v)| LoadBalancerAttribute::builder().key(k).value(v).build())
            .collect();
        if attrs.is_empty() {
            return Ok(());
        }
        let call = self.client.modify_load_balancer_attributes().load_balancer_arn(arn).set_attributes(Some(attrs));
        call.send().await.map_err(from_sdk)?;
        Ok(())
    }
}

#[async_trait::async_trait]
impl Kind for LoadBalancer {
    type Model = LoadBalancerModel;
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

    async fn read(&self, ctx: &ReadCtx, ids: &[String]) -> Result<Vec<Live<LoadBalancerModel>>, ProviderError> {
        let run = self.tagging.as_ref().map(|t| (t, ctx.stack.as_str()));
        let listed = |arn: String| async move { self.listed(&arn).await };
        let found =
            read_known(&self.client, run, ids, NOT_FOUND, |a| self.describe(a), |x: &Lb| x.load_balancer_arn(), listed);
        Ok(found.await?.into_iter().map(|(lb, tags, listed)| live(&lb, tags, &listed)).collect())
    }

    async fn find_tagged(&self, ctx: &ReadCtx) -> Result<Vec<Live<LoadBalancerModel>>, ProviderError> {
        self.observe(all_load_balancers(&self.client).await?, ctx).await
    }

    async fn create(&self, ctx: &OpCtx, want: &LoadBalancerModel) -> Result<Created, ProviderError> {
        let name = want.name.clone().unwrap_or_else(|| default_name(&ctx.stack, &ctx.name_seed()));
        let out = self
            .client
            .create_load_balancer()
            .name(&name)
            .set_subnets(Some(want.subnets.clone()))
            .set_security_groups(want.security_groups.clone())
            .scheme(LoadBalancerSchemeEnum::from(want.scheme.as_str()))
            .r#type(LoadBalancerTypeEnum::from(want.lb_type.as_str()))
            .ip_address_type(IpAddressType::from(want.ip_address_type.as_str()))
            .set_tags(Some(elb_tags(&ctx.tags)))
            .send()
            .await
            .map_err(from_sdk)
            .map_err(hint_on("DuplicateLoadBalancerName", || {
                format!(
                    "a load balancer named {name} already exists in this region with other settings; delete it or \
                     set another `name`"
                )
            }))?;
        let lb = out.load_balancers.unwrap_or_default().into_iter().next().unwrap_or_else(|| Lb::builder().build());
        let arn = lb.load_balancer_arn().unwrap_or_default().to_string();
        ctx.record_id(&arn);
        self.wait_active(ctx, &arn).await?;
        // AWS's defaults stand unless the spec asks otherwise.
        self.modify_attributes(&arn, want, |i, v| v != ATTRIBUTES[i].2).await?;
        Ok(Created { id: arn, attributes: attributes(&lb) })
    }

    async fn update(
        &self,
        _ctx: &OpCtx,
        live: &Observed,
        want: &LoadBalancerModel,
        changed: &[&str],
    ) -> Result<Option<Props>, ProviderError> {
        let arn = live.id.as_str();
        if changed.contains(&"subnets") {
            let call = self.client.set_subnets().load_balancer_arn(arn).set_subnets(Some(want.subnets.clone()));
            call.send().await.map_err(from_sdk)?;
        }
        if changed.contains(&"security_groups") {
            let groups = Some(want.security_groups.clone().unwrap_or_default());
            let call = self.client.set_security_groups().load_balancer_arn(arn).set_security_groups(groups);
            call.send().await.map_err(from_sdk)?;
        }
        if changed.contains(&"ip_address_type") {
            let t = IpAddressType::from(want.ip_address_type.as_str());
            self.client
                .set_ip_address_type()
                .load_balancer_arn(arn)
                .ip_address_type(t)
                .send()
                .await
                .map_err(from_sdk)?;
        }
        self.modify_attributes(arn, want, |i, _| changed.contains(&ATTRIBUTES[i].0)).await?;
        Ok(None)
    }

    async fn resume(&self, ctx: &OpCtx, current: &Observed) -> Result<Observed, ProviderError> {
        self.wait_active(ctx, &current.id).await?;
        Ok(current.clone())
    }

    async fn delete(&self, ctx: &OpCtx, live: &Observed, _: Option<&LoadBalancerModel>) -> Result<(), ProviderError> {
        let arn = live.id.as_str();
        let call = self.client.delete_load_balancer().load_balancer_arn(arn).send().await.map_err(from_sdk);
        call.map_err(hint_on("OperationNotPermitted", || {
            "deletion protection is on: set `deletion_protection: false`, apply, then delete the load balancer".into()
        }))?;
        ctx.wait_for("load balancer to be deleted", || async {
            Ok(match self.describe_one(arn).await? {
                None => Poll::Ready(()),
                Some(lb) => {
                    Poll::Pending(lb.state().and_then(|s| s.code()).map_or("deleting", |c| c.as_str()).to_string())
                }
            })
        })
        .await?;
        Ok(())
    }
}
