//! `ec2.security_group`: a security group and its ingress and egress rules,
//! including rules that reference another group.
//!
//! Rules are read from DescribeSecurityGroups' IpPermissions (one call for
//! every group), flattened to one rule per source, and revoked by the exact
//! permission read, description included.

use super::*;
use crate::error::from_sdk;
use async_trait::async_trait;
use aws_sdk_ec2::types::{IpPermission, IpRange, Ipv6Range, PrefixListId, ResourceType, UserIdGroupPair};
use deployctl_engine::diff::normalize;
use deployctl_engine::{Observed, OpCtx, Poll, Props, ProviderError, ReadCtx, ResourceKind};
use deployctl_spec::{Attr, KindSchema, Prop, Type};
use serde_json::{json, Map, Value};

static RULE: [Prop; 8] = [
    Prop::new("ip_protocol", Type::String, "`tcp`, `udp`, `icmp`, or `-1` for all.").required(),
    Prop::new("from_port", Type::Int, "First port (ICMP: type). Leave out for `-1`.").range(-1, 65535),
    Prop::new("to_port", Type::Int, "Last port (ICMP: code). Leave out for `-1`.").range(-1, 65535),
    Prop::new("cidr_ipv4", Type::String, "Source (ingress) or destination (egress) IPv4 range.").cidr(0, 32),
    Prop::new("cidr_ipv6", Type::String, "IPv6 range."),
    Prop::new("prefix_list_id", Type::String, "A managed prefix list."),
    Prop::new("referenced_group_id", Type::String, "Another security group, e.g. `${alb_sg.id}`."),
    Prop::new("description", Type::String, "Free text."),
];
static RULE_TYPE: Type = Type::Object(&RULE);

pub static SCHEMA: KindSchema = KindSchema {
    type_name: "ec2.security_group",
    doc: "A security group. Each rule has exactly one of cidr_ipv4, cidr_ipv6, prefix_list_id or referenced_group_id. \
          Rules are updated in place. `egress` left out keeps AWS's default allow-all rule; `egress: []` removes it.",
    properties: &[
        Prop::new("vpc_id", Type::String, "The VPC.").required().replace(),
        Prop::new("group_name", Type::String, "The group's name. Default: `<stack>-<resource>`.").replace(),
        Prop::new("description", Type::String, "The group's description.").default("\"Managed by deployctl\"").replace(),
        Prop::new("ingress", Type::Set(&RULE_TYPE), "Inbound rules."),
        Prop::new("egress", Type::Set(&RULE_TYPE), "Outbound rules."),
    ],
    attributes: &[
        Attr { name: "id", doc: "The group id, `sg-…`." },
        Attr { name: "arn", doc: "The group's ARN." },
        Attr { name: "group_name", doc: "The group's name." },
        Attr { name: "vpc_id", doc: "The VPC." },
    ],
    taggable: true,
    rules: &[],
    example: "web_sg:\n  type: ec2.security_group\n  properties:\n    vpc_id: ${vpc.id}\n    description: web tier\n    ingress:\n      - {ip_protocol: tcp, from_port: 443, to_port: 443, cidr_ipv4: 0.0.0.0/0}\n      - {ip_protocol: tcp, from_port: 8080, to_port: 8080, referenced_group_id: \"${alb_sg.id}\"}\n",
};

pub struct SecurityGroup {
    client: Client,
}

/// Flattens an IpPermission into spec-shaped rules, one per source.
fn rules_of(p: &IpPermission) -> Vec<Value> {
    let proto = p.ip_protocol().unwrap_or("-1");
    let base = || {
        let mut m = Map::new();
        m.insert("ip_protocol".into(), json!(proto));
        if proto != "-1" {
            if let Some(v) = p.from_port() {
                m.insert("from_port".into(), json!(v));
            }
            if let Some(v) = p.to_port() {
                m.insert("to_port".into(), json!(v));
            }
        }
        m
    };
    let with = |key: &str, v: Option<&str>, desc: Option<&str>| {
        let mut m = base();
        m.insert(key.into(), json!(v));
        if let Some(d) = desc.filter(|d| !d.is_empty()) {
            m.insert("description".into(), json!(d));
        }
        Value::Object(m)
    };
    let mut out = Vec::new();
    out.extend(p.ip_ranges().iter().map(|r| with("cidr_ipv4", r.cidr_ip(), r.description())));
    out.extend(p.ipv6_ranges().iter().map(|r| with("cidr_ipv6", r.cidr_ipv6(), r.description())));
    out.extend(p.prefix_list_ids().iter().map(|r| with("prefix_list_id", r.prefix_list_id(), r.description())));
    out.extend(p.user_id_group_pairs().iter().map(|r| with("referenced_group_id", r.group_id(), r.description())));
    out
}

/// A spec rule as the IpPermission that creates it.
fn permission(rule: &Value, field: &str, index: usize) -> Result<IpPermission, ProviderError> {
    let s = |k: &str| rule.get(k).and_then(Value::as_str).map(str::to_string);
    let i = |k: &str| rule.get(k).and_then(Value::as_i64).map(|v| v as i32);
    let desc = s("description");
    let sources = ["cidr_ipv4", "cidr_ipv6", "prefix_list_id", "referenced_group_id"];
    let given: Vec<&str> = sources.iter().copied().filter(|k| s(k).is_some()).collect();
    if given.len() != 1 {
        return Err(ProviderError::msg(format!(
            "{field}[{index}] needs exactly one of {} (it has {})",
            sources.join(", "),
            if given.is_empty() { "none".to_string() } else { given.join(" and ") }
        ))
        .with_hint("write one rule per source"));
    }
    let mut p = IpPermission::builder()
        .set_ip_protocol(s("ip_protocol"))
        .set_from_port(i("from_port"))
        .set_to_port(i("to_port"));
    p = match given[0] {
        "cidr_ipv4" => p.ip_ranges(IpRange::builder().set_cidr_ip(s("cidr_ipv4")).set_description(desc).build()),
        "cidr_ipv6" => p.ipv6_ranges(Ipv6Range::builder().set_cidr_ipv6(s("cidr_ipv6")).set_description(desc).build()),
        "prefix_list_id" => p.prefix_list_ids(
            PrefixListId::builder().set_prefix_list_id(s("prefix_list_id")).set_description(desc).build(),
        ),
        _ => p.user_id_group_pairs(
            UserIdGroupPair::builder().set_group_id(s("referenced_group_id")).set_description(desc).build(),
        ),
    };
    Ok(p.build())
}

impl SecurityGroup {
    pub fn new(client: Client) -> SecurityGroup {
        SecurityGroup { client }
    }

    async fn describe(
        &self,
        region: &str,
        filters: Vec<aws_sdk_ec2::types::Filter>,
    ) -> Result<Vec<Observed>, ProviderError> {
        let mut pages = self.client.describe_security_groups().set_filters(Some(filters)).into_paginator().send();
        let mut out = Vec::new();
        while let Some(page) = pages.next().await {
            for g in page.map_err(from_sdk)?.security_groups.unwrap_or_default() {
                let id = g.group_id().unwrap_or_default().to_string();
                let ingress: Vec<Value> = g.ip_permissions().iter().flat_map(rules_of).collect();
                let egress: Vec<Value> = g.ip_permissions_egress().iter().flat_map(rules_of).collect();
                let mut properties = Props::new();
                properties.insert("vpc_id".into(), json!(g.vpc_id()));
                properties.insert("group_name".into(), json!(g.group_name()));
                properties.insert("description".into(), json!(g.description()));
                properties.insert("ingress".into(), Value::Array(ingress));
                properties.insert("egress".into(), Value::Array(egress));
                let mut attributes = Props::new();
                attributes.insert("id".into(), json!(id));
                attributes.insert(
                    "arn".into(),
                    json!(g.security_group_arn().map(str::to_string).unwrap_or_else(|| arn(
                        region,
                        g.owner_id(),
                        "security-group",
                        &id
                    ))),
                );
                attributes.insert("group_name".into(), json!(g.group_name()));
                attributes.insert("vpc_id".into(), json!(g.vpc_id()));
                out.push(Observed { id, properties, tags: tag_map(g.tags()), attributes });
            }
        }
        Ok(out)
    }

    async fn read_one(&self, region: &str, id: &str) -> Result<Observed, ProviderError> {
        self.describe(region, vec![filter("group-id", &[id.to_string()])]).await?.into_iter().next().ok_or_else(|| {
            ProviderError::new(Some("InvalidGroup.NotFound".into()), format!("security group {id} disappeared"))
        })
    }

    /// Brings the group's rules to what `desired` asks, for each direction
    /// the spec manages: revoke what is not wanted (the exact live
    /// permission), then authorize what is missing.
    async fn converge_rules(&self, region: &str, id: &str, desired: &Props) -> Result<(), ProviderError> {
        let live = self.read_one(region, id).await?;
        for (field, egress) in [("ingress", false), ("egress", true)] {
            let Some(Value::Array(want)) = desired.get(field) else { continue };
            let have: Vec<Value> = match live.properties.get(field) {
                Some(Value::Array(v)) => v.clone(),
                _ => Vec::new(),
            };
            let want_norm: Vec<Value> = want.iter().map(|r| normalize(&RULE_TYPE, r)).collect();
            let have_norm: Vec<Value> = have.iter().map(|r| normalize(&RULE_TYPE, r)).collect();
            let mut revoke = Vec::new();
            for (i, (raw, norm)) in have.iter().zip(&have_norm).enumerate() {
                if !want_norm.contains(norm) {
                    revoke.push(permission(raw, field, i)?);
                }
            }
            let mut add = Vec::new();
            for (i, (raw, norm)) in want.iter().zip(&want_norm).enumerate() {
                if !have_norm.contains(norm) {
                    add.push(permission(raw, field, i)?);
                }
            }
            if !revoke.is_empty() {
                let r = if egress {
                    self.client
                        .revoke_security_group_egress()
                        .group_id(id)
                        .set_ip_permissions(Some(revoke))
                        .send()
                        .await
                        .map(|_| ())
                        .map_err(from_sdk)
                } else {
                    self.client
                        .revoke_security_group_ingress()
                        .group_id(id)
                        .set_ip_permissions(Some(revoke))
                        .send()
                        .await
                        .map(|_| ())
                        .map_err(from_sdk)
                };
                r?;
            }
            if !add.is_empty() {
                let r = if egress {
                    self.client
                        .authorize_security_group_egress()
                        .group_id(id)
                        .set_ip_permissions(Some(add))
                        .send()
                        .await
                        .map(|_| ())
                        .map_err(from_sdk)
                } else {
                    self.client
                        .authorize_security_group_ingress()
                        .group_id(id)
                        .set_ip_permissions(Some(add))
                        .send()
                        .await
                        .map(|_| ())
                        .map_err(from_sdk)
                };
                r?;
            }
        }
        Ok(())
    }
}

/// `<stack>-<address>` with the characters AWS allows in a group name.
fn default_name(stack: &str, address: &str) -> String {
    format!("{stack}-{address}")
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || "-_.".contains(c) { c } else { '-' })
        .collect()
}

#[async_trait]
impl ResourceKind for SecurityGroup {
    fn schema(&self) -> &'static KindSchema {
        &SCHEMA
    }

    async fn read(&self, ctx: &ReadCtx, ids: &[String]) -> Result<Vec<Observed>, ProviderError> {
        in_chunks(ids, |chunk| self.describe(&ctx.region, vec![filter("group-id", chunk)])).await
    }

    async fn find_tagged(&self, ctx: &ReadCtx) -> Result<Vec<(String, Observed)>, ProviderError> {
        let found = self.describe(&ctx.region, vec![stack_filter(&ctx.stack)]).await?;
        Ok(found.into_iter().filter_map(|o| Some((address_tag(&o.tags)?, o))).collect())
    }

    async fn create(&self, ctx: &OpCtx, desired: &Props) -> Result<Observed, ProviderError> {
        let s = |k: &str| desired.get(k).and_then(Value::as_str).map(str::to_string);
        // Check every rule before creating anything.
        for field in ["ingress", "egress"] {
            if let Some(Value::Array(rules)) = desired.get(field) {
                for (i, r) in rules.iter().enumerate() {
                    permission(r, field, i)?;
                }
            }
        }
        let out = self
            .client
            .create_security_group()
            .group_name(s("group_name").unwrap_or_else(|| default_name(&ctx.stack, &ctx.address)))
            .description(s("description").unwrap_or_else(|| "Managed by deployctl".into()))
            .set_vpc_id(s("vpc_id"))
            .tag_specifications(tag_spec(ResourceType::SecurityGroup, &ctx.tags))
            .send()
            .await
            .map_err(from_sdk)?;
        let id = out.group_id().unwrap_or_default().to_string();
        ctx.record_id(&id);
        self.converge_rules(&ctx.region, &id, desired).await?;
        self.read_one(&ctx.region, &id).await
    }

    async fn update(
        &self,
        ctx: &OpCtx,
        current: &Observed,
        desired: &Props,
        changed: &[String],
    ) -> Result<Observed, ProviderError> {
        if changed.iter().any(|c| c == "ingress" || c == "egress") {
            self.converge_rules(&ctx.region, &current.id, desired).await?;
        }
        if changed.iter().any(|c| c == "tags") {
            converge_tags(&self.client, &current.id, &current.tags, ctx).await?;
        }
        self.read_one(&ctx.region, &current.id).await
    }

    async fn delete(&self, ctx: &OpCtx, current: &Observed, _recorded: &Props) -> Result<(), ProviderError> {
        // Network interfaces of just-deleted load balancers and tasks let go
        // of a group some time after their own delete returned: retry
        // DependencyViolation within the delete timeout.
        let client = self.client.clone();
        let id = current.id.clone();
        ctx.wait_for("security group to be released", || {
            let client = client.clone();
            let id = id.clone();
            async move {
                match client.delete_security_group().group_id(&id).send().await.map_err(from_sdk) {
                    Ok(_) => Ok(Poll::Ready(())),
                    Err(e) if crate::is_not_found(&e) => Ok(Poll::Ready(())),
                    Err(e) if e.code_is("DependencyViolation") => Ok(Poll::Pending("still in use".into())),
                    Err(e) => Err(e),
                }
            }
        })
        .await
        .map_err(ProviderError::from)
    }
}
