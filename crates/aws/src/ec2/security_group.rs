//! `ec2.security_group`: a security group and its ingress and egress rules,
//! including rules that reference another group.
//!
//! Rules are read from DescribeSecurityGroups' IpPermissions (one call for
//! every group), flattened to one rule per source. An update reads the
//! group's rules with their ids (DescribeSecurityGroupRules) and revokes
//! by id: a rule is its identity, not its content, so one that names a
//! group deleted since can still be revoked (by content, AWS would refuse
//! it: InvalidGroup.NotFound).

use super::*;
use crate::kit::{attrs, kept, model, Adopt, Created, Kind, Live, Tagger};
use aws_sdk_ec2::types::{
    IpPermission, IpRange, Ipv6Range, PrefixListId, ResourceType, SecurityGroupRule, UserIdGroupPair,
};
use deployctl_engine::diff::normalize;
use deployctl_engine::kind::Wanted;
use deployctl_engine::{Observed, Poll, Props, ReadCtx};
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

model! {
    pub struct SecurityGroupModel {
        vpc_id: String = "The VPC." [required, replace],
        group_name: Option<String> = "The group's name, unique in its VPC. Default: `<stack>-<resource>` (a replacement \
                                      created beside the old group adds its generation, `-2`)." [replace],
        description: String = "The group's description." [default("\"Managed by deployctl\""), replace],
        ingress: Option<Vec<Value>> = "Inbound rules." [typed(Type::Set(&RULE_TYPE))],
        egress: Option<Vec<Value>> = "Outbound rules." [typed(Type::Set(&RULE_TYPE))],
    }
}

pub static SCHEMA: KindSchema = KindSchema {
    type_name: "ec2.security_group",
    doc: "A security group. Each rule has exactly one of cidr_ipv4, cidr_ipv6, prefix_list_id or referenced_group_id. \
          Rules are updated in place. `egress` left out keeps AWS's default allow-all rule; `egress: []` removes it.",
    properties: <SecurityGroupModel as crate::kit::Model>::PROPS,
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
    account: Account,
    tags: crate::kit::tagger::Ec2Tags,
    tagged: Tagged,
}

/// The rule AWS gives every new VPC security group: all traffic out.
fn default_egress() -> Vec<Value> {
    vec![json!({"ip_protocol": "-1", "cidr_ipv4": "0.0.0.0/0"})]
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

/// A rule as DescribeSecurityGroupRules gives it, in the spec's shape.
fn rule_of(r: &SecurityGroupRule) -> Value {
    let proto = r.ip_protocol().unwrap_or("-1");
    let mut m = Map::new();
    m.insert("ip_protocol".into(), json!(proto));
    if proto != "-1" {
        m.insert("from_port".into(), json!(r.from_port()));
        m.insert("to_port".into(), json!(r.to_port()));
    }
    let referenced = r.referenced_group_info().and_then(|g| g.group_id());
    for (key, v) in [
        ("cidr_ipv4", r.cidr_ipv4()),
        ("cidr_ipv6", r.cidr_ipv6()),
        ("prefix_list_id", r.prefix_list_id()),
        ("referenced_group_id", referenced),
    ] {
        if let Some(v) = v {
            m.insert(key.into(), json!(v));
        }
    }
    if let Some(d) = r.description().filter(|d| !d.is_empty()) {
        m.insert("description".into(), json!(d));
    }
    Value::Object(m)
}

/// A live rule, with its id when it was read with one.
struct LiveRule {
    rule: Value,
    id: Option<String>,
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
    /// Shares the run's one DescribeTags of the stack with the other EC2 kinds.
    pub fn sharing(mut self, tagged: Tagged) -> Self {
        self.tagged = tagged;
        self
    }

    pub fn new(client: Client) -> SecurityGroup {
        SecurityGroup::with_account(client, Account::new())
    }

    /// Shares the account lookup with the run's other kinds.
    pub fn with_account(client: Client, account: Account) -> SecurityGroup {
        SecurityGroup { tags: crate::kit::tagger::Ec2Tags(client.clone()), tagged: Tagged::default(), client, account }
    }

    async fn describe(
        &self,
        region: &str,
        filters: Vec<Filter>,
    ) -> Result<Vec<Live<SecurityGroupModel>>, ProviderError> {
        let mut pages = self.client.describe_security_groups().set_filters(Some(filters)).into_paginator().send();
        let mut out = Vec::new();
        while let Some(page) = pages.next().await {
            for g in page.map_err(from_sdk)?.security_groups.unwrap_or_default() {
                let id = g.group_id().unwrap_or_default().to_string();
                let arn = g.security_group_arn().map(str::to_string);
                out.push(Live {
                    attributes: attributes(region, &id, arn, g.owner_id(), g.group_name(), g.vpc_id()),
                    model: SecurityGroupModel {
                        vpc_id: g.vpc_id().unwrap_or_default().to_string(),
                        group_name: g.group_name().map(str::to_string),
                        description: g.description().unwrap_or_default().to_string(),
                        ingress: Some(g.ip_permissions().iter().flat_map(rules_of).collect()),
                        egress: Some(g.ip_permissions_egress().iter().flat_map(rules_of).collect()),
                    },
                    tags: tag_map(g.tags()),
                    id,
                });
            }
        }
        Ok(out)
    }

    /// The group's rules with their ids: (ingress, egress).
    async fn rules(&self, id: &str) -> Result<(Vec<LiveRule>, Vec<LiveRule>), ProviderError> {
        let mut pages = self
            .client
            .describe_security_group_rules()
            .filters(filter("group-id", &[id.to_string()]))
            .into_paginator()
            .send();
        let (mut ingress, mut egress) = (Vec::new(), Vec::new());
        while let Some(page) = pages.next().await {
            for r in page.map_err(from_sdk)?.security_group_rules.unwrap_or_default() {
                let live = LiveRule { rule: rule_of(&r), id: r.security_group_rule_id().map(str::to_string) };
                if r.is_egress() == Some(true) {
                    egress.push(live);
                } else {
                    ingress.push(live);
                }
            }
        }
        Ok((ingress, egress))
    }

    /// Brings the group's rules from `live` to `want`, for each direction
    /// the spec manages: revoke what is not wanted (by rule id where it is
    /// known, else by the exact live permission), then authorize what is
    /// missing.
    async fn converge_rules(
        &self,
        id: &str,
        want: &SecurityGroupModel,
        live: (&[LiveRule], &[LiveRule]),
    ) -> Result<(), ProviderError> {
        for (field, egress, want, have) in
            [("ingress", false, &want.ingress, live.0), ("egress", true, &want.egress, live.1)]
        {
            let Some(want) = want else { continue };
            let want_norm: Vec<Value> = want.iter().map(|r| normalize(&RULE_TYPE, r)).collect();
            let have_norm: Vec<Value> = have.iter().map(|r| normalize(&RULE_TYPE, &r.rule)).collect();
            let mut revoke = Vec::new();
            let mut revoke_ids = Vec::new();
            for (i, (live, norm)) in have.iter().zip(&have_norm).enumerate() {
                if !want_norm.contains(norm) {
                    match &live.id {
                        Some(rule_id) => revoke_ids.push(rule_id.clone()),
                        None => revoke.push(permission(&live.rule, field, i)?),
                    }
                }
            }
            let mut add = Vec::new();
            for (i, (raw, norm)) in want.iter().zip(&want_norm).enumerate() {
                if !have_norm.contains(norm) {
                    add.push(permission(raw, field, i)?);
                }
            }
            let c = &self.client;
            // By id and by content: two calls at most, each all or nothing.
            let by_id = Some(revoke_ids).filter(|r| !r.is_empty()).map(|ids| (Some(ids), None));
            let by_content = Some(revoke).filter(|r| !r.is_empty()).map(|p| (None, Some(p)));
            for (ids, permissions) in by_id.into_iter().chain(by_content) {
                if egress {
                    c.revoke_security_group_egress()
                        .group_id(id)
                        .set_security_group_rule_ids(ids)
                        .set_ip_permissions(permissions)
                        .send()
                        .await
                        .map_err(from_sdk)?;
                } else {
                    c.revoke_security_group_ingress()
                        .group_id(id)
                        .set_security_group_rule_ids(ids)
                        .set_ip_permissions(permissions)
                        .send()
                        .await
                        .map_err(from_sdk)?;
                }
            }
            let add = Some(add).filter(|a| !a.is_empty());
            match (egress, add) {
                (true, Some(a)) => drop(
                    c.authorize_security_group_egress()
                        .group_id(id)
                        .set_ip_permissions(Some(a))
                        .send()
                        .await
                        .map_err(from_sdk)?,
                ),
                (false, Some(a)) => drop(
                    c.authorize_security_group_ingress()
                        .group_id(id)
                        .set_ip_permissions(Some(a))
                        .send()
                        .await
                        .map_err(from_sdk)?,
                ),
                _ => {}
            }
        }
        Ok(())
    }
}

fn attributes(
    region: &str,
    id: &str,
    arn_of: Option<String>,
    owner: Option<&str>,
    name: Option<&str>,
    vpc: Option<&str>,
) -> Props {
    attrs([
        ("id", json!(id)),
        ("arn", json!(arn_of.unwrap_or_else(|| arn(region, owner, "security-group", id)))),
        ("group_name", json!(name)),
        ("vpc_id", json!(vpc)),
    ])
}

/// `<stack>-<address>` with the characters AWS allows in a group name.
fn default_name(stack: &str, address: &str) -> String {
    format!("{stack}-{address}")
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || "-_.".contains(c) { c } else { '-' })
        .collect()
}

#[async_trait::async_trait]
impl Kind for SecurityGroup {
    type Model = SecurityGroupModel;
    const ADOPT: Adopt = Adopt::ByTag;

    fn schema(&self) -> &'static KindSchema {
        &SCHEMA
    }

    fn tagger(&self) -> Option<&dyn Tagger> {
        Some(&self.tags)
    }

    /// A name is unique in its VPC; an unset one is generated anew.
    fn coexists(&self, old: &Props, new: &Wanted) -> Result<(), String> {
        match (kept(old, new, "group_name"), kept(old, new, "vpc_id")) {
            (Some(name), Some(_)) => {
                Err(format!("its group_name {name} must be unique in its VPC and the replacement keeps it"))
            }
            _ => Ok(()),
        }
    }

    async fn read(&self, ctx: &ReadCtx, ids: &[String]) -> Result<Vec<Live<SecurityGroupModel>>, ProviderError> {
        in_chunks(ids, |chunk| self.describe(&ctx.region, vec![filter("group-id", chunk)])).await
    }

    async fn find_tagged(&self, ctx: &ReadCtx) -> Result<Vec<Live<SecurityGroupModel>>, ProviderError> {
        self.read(ctx, &self.tagged.ids(&self.client, &ctx.stack, "sg-").await?).await
    }

    async fn create(&self, ctx: &OpCtx, want: &SecurityGroupModel) -> Result<Created, ProviderError> {
        // Check every rule before creating anything.
        for (field, rules) in [("ingress", &want.ingress), ("egress", &want.egress)] {
            for (i, r) in rules.iter().flatten().enumerate() {
                permission(r, field, i)?;
            }
        }
        let name = want.group_name.clone().unwrap_or_else(|| default_name(&ctx.stack, &ctx.name_seed()));
        let out = self
            .client
            .create_security_group()
            .group_name(&name)
            .description(&want.description)
            .vpc_id(&want.vpc_id)
            .tag_specifications(tag_spec(ResourceType::SecurityGroup, &ctx.tags))
            .send()
            .await
            .map_err(from_sdk)?;
        let id = out.group_id().unwrap_or_default().to_string();
        ctx.record_id(&id);
        // A new group has no inbound rules and AWS's allow-all outbound one
        // (revoked by content: it names no other group).
        let default_egress: Vec<LiveRule> =
            default_egress().into_iter().map(|rule| LiveRule { rule, id: None }).collect();
        self.converge_rules(&id, want, (&[], &default_egress)).await?;
        let arn = out.security_group_arn().map(str::to_string);
        let owner = if arn.is_none() { self.account.get(&self.client).await? } else { None };
        let attributes = attributes(&ctx.region, &id, arn, owner.as_deref(), Some(&name), Some(&want.vpc_id));
        Ok(Created { id, attributes })
    }

    async fn update(
        &self,
        _ctx: &OpCtx,
        current: &Observed,
        want: &SecurityGroupModel,
        _changed: &[&str],
    ) -> Result<Option<Props>, ProviderError> {
        // Revoking goes by rule id: read the rules with theirs now.
        let (ingress, egress) = self.rules(&current.id).await?;
        self.converge_rules(&current.id, want, (&ingress, &egress)).await?;
        Ok(None)
    }

    async fn delete(
        &self,
        ctx: &OpCtx,
        current: &Observed,
        _: Option<&SecurityGroupModel>,
    ) -> Result<(), ProviderError> {
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
