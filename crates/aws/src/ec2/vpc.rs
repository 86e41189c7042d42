//! `ec2.vpc`: a VPC with its DNS attributes.

use super::*;
use crate::error::from_sdk;
use async_trait::async_trait;
use aws_sdk_ec2::types::{AttributeBooleanValue, Tenancy, VpcAttributeName, VpcState};
use deployctl_engine::{Observed, OpCtx, Poll, Props, ProviderError, ReadCtx, ResourceKind};
use deployctl_spec::{Attr, KindSchema, Prop, Type};
use serde_json::{json, Value};

pub static SCHEMA: KindSchema = KindSchema {
    type_name: "ec2.vpc",
    doc: "A virtual private cloud. Created with its tags; deleted only after everything in it.",
    properties: &[
        Prop::new("cidr_block", Type::String, "The IPv4 range, e.g. 10.0.0.0/16.").required().replace().cidr(16, 28),
        Prop::new("instance_tenancy", Type::String, "`default` or `dedicated`.").default("\"default\"").replace().one_of(aws_sdk_ec2::types::Tenancy::values()),
        Prop::new("enable_dns_support", Type::Bool, "Whether the Amazon DNS server resolves in the VPC.").default("true"),
        Prop::new("enable_dns_hostnames", Type::Bool, "Whether instances get public DNS hostnames.").default("false"),
    ],
    attributes: &[
        Attr { name: "id", doc: "The VPC id, `vpc-…`." },
        Attr { name: "arn", doc: "The VPC's ARN." },
        Attr { name: "cidr_block", doc: "The IPv4 range." },
        Attr { name: "owner_id", doc: "The account that owns the VPC." },
    ],
    taggable: true,
    rules: &[],
    example: "vpc:\n  type: ec2.vpc\n  properties:\n    cidr_block: 10.0.0.0/16\n    enable_dns_hostnames: true\n  tags:\n    Name: ${stack}-vpc\n",
};

pub struct Vpc {
    client: Client,
}

impl Vpc {
    pub fn new(client: Client) -> Vpc {
        Vpc { client }
    }

    async fn describe(
        &self,
        region: &str,
        filters: Vec<aws_sdk_ec2::types::Filter>,
    ) -> Result<Vec<Observed>, ProviderError> {
        let mut out = Vec::new();
        let mut pages = self.client.describe_vpcs().set_filters(Some(filters)).into_paginator().send();
        let mut vpcs = Vec::new();
        while let Some(page) = pages.next().await {
            vpcs.extend(page.map_err(from_sdk)?.vpcs.unwrap_or_default());
        }
        // DNS attributes are only readable one VPC and one attribute at a
        // time; read them concurrently.
        let attrs = futures::future::join_all(vpcs.iter().map(|v| self.dns(v.vpc_id().unwrap_or_default()))).await;
        for (v, dns) in vpcs.iter().zip(attrs) {
            let (support, hostnames) = dns?;
            let id = v.vpc_id().unwrap_or_default().to_string();
            let mut properties = Props::new();
            properties.insert("cidr_block".into(), json!(v.cidr_block()));
            properties.insert("instance_tenancy".into(), json!(v.instance_tenancy().map(|t| t.as_str())));
            properties.insert("enable_dns_support".into(), json!(support));
            properties.insert("enable_dns_hostnames".into(), json!(hostnames));
            let mut attributes = Props::new();
            attributes.insert("id".into(), json!(id));
            attributes.insert("arn".into(), json!(arn(region, v.owner_id(), "vpc", &id)));
            attributes.insert("cidr_block".into(), json!(v.cidr_block()));
            attributes.insert("owner_id".into(), json!(v.owner_id()));
            out.push(Observed { id, properties, tags: tag_map(v.tags()), attributes });
        }
        Ok(out)
    }

    async fn dns(&self, id: &str) -> Result<(bool, bool), ProviderError> {
        let get = |name: VpcAttributeName| self.client.describe_vpc_attribute().vpc_id(id).attribute(name).send();
        let (s, h) = tokio::join!(get(VpcAttributeName::EnableDnsSupport), get(VpcAttributeName::EnableDnsHostnames));
        let s = s.map_err(from_sdk)?.enable_dns_support.and_then(|v| v.value).unwrap_or(true);
        let h = h.map_err(from_sdk)?.enable_dns_hostnames.and_then(|v| v.value).unwrap_or(false);
        Ok((s, h))
    }

    async fn set_dns(&self, id: &str, desired: &Props, live: &Props) -> Result<(), ProviderError> {
        for (field, name) in [("enable_dns_support", true), ("enable_dns_hostnames", false)] {
            let want = desired.get(field).and_then(Value::as_bool);
            let Some(want) = want else { continue };
            if live.get(field).and_then(Value::as_bool) == Some(want) {
                continue;
            }
            let v = AttributeBooleanValue::builder().value(want).build();
            let req = self.client.modify_vpc_attribute().vpc_id(id);
            let req = if name { req.enable_dns_support(v) } else { req.enable_dns_hostnames(v) };
            req.send().await.map_err(from_sdk)?;
        }
        Ok(())
    }

    async fn read_one(&self, region: &str, id: &str) -> Result<Observed, ProviderError> {
        self.describe(region, vec![filter("vpc-id", &[id.to_string()])])
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| ProviderError::new(Some("InvalidVpcID.NotFound".into()), format!("VPC {id} disappeared")))
    }
}

#[async_trait]
impl ResourceKind for Vpc {
    fn schema(&self) -> &'static KindSchema {
        &SCHEMA
    }

    async fn read(&self, ctx: &ReadCtx, ids: &[String]) -> Result<Vec<Observed>, ProviderError> {
        in_chunks(ids, |chunk| self.describe(&ctx.region, vec![filter("vpc-id", chunk)])).await
    }

    async fn find_tagged(&self, ctx: &ReadCtx) -> Result<Vec<(String, Observed)>, ProviderError> {
        let found = self.describe(&ctx.region, vec![stack_filter(&ctx.stack)]).await?;
        Ok(found.into_iter().filter_map(|o| Some((address_tag(&o.tags)?, o))).collect())
    }

    async fn create(&self, ctx: &OpCtx, desired: &Props) -> Result<Observed, ProviderError> {
        let tenancy = desired.get("instance_tenancy").and_then(Value::as_str).map(Tenancy::from);
        let out = self
            .client
            .create_vpc()
            .set_cidr_block(desired.get("cidr_block").and_then(Value::as_str).map(str::to_string))
            .set_instance_tenancy(tenancy)
            .tag_specifications(tag_spec(aws_sdk_ec2::types::ResourceType::Vpc, &ctx.tags))
            .send()
            .await
            .map_err(from_sdk)?;
        let id = out.vpc().and_then(|v| v.vpc_id()).unwrap_or_default().to_string();
        ctx.record_id(&id);
        let client = self.client.clone();
        let vid = id.clone();
        ctx.wait_for("VPC to be available", || {
            let client = client.clone();
            let vid = vid.clone();
            async move {
                let out = client.describe_vpcs().filters(filter("vpc-id", &[vid])).send().await.map_err(from_sdk)?;
                let state = out.vpcs().first().and_then(|v| v.state().cloned());
                Ok(match state {
                    Some(VpcState::Available) => Poll::Ready(()),
                    Some(s) => Poll::Pending(s.as_str().to_string()),
                    None => Poll::Pending("not visible yet".into()),
                })
            }
        })
        .await?;
        let live = self.read_one(&ctx.region, &id).await?;
        self.set_dns(&id, desired, &live.properties).await?;
        self.read_one(&ctx.region, &id).await
    }

    async fn update(
        &self,
        ctx: &OpCtx,
        current: &Observed,
        desired: &Props,
        changed: &[String],
    ) -> Result<Observed, ProviderError> {
        self.set_dns(&current.id, desired, &current.properties).await?;
        if changed.iter().any(|c| c == "tags") {
            converge_tags(&self.client, &current.id, &current.tags, ctx).await?;
        }
        self.read_one(&ctx.region, &current.id).await
    }

    async fn delete(&self, _ctx: &OpCtx, current: &Observed) -> Result<(), ProviderError> {
        ignore_not_found(self.client.delete_vpc().vpc_id(&current.id).send().await.map(|_| ()).map_err(from_sdk))
    }
}
