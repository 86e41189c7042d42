//! `ec2.vpc`: a VPC with its DNS attributes.

use super::*;
use crate::kit::{attrs, model, Adopt, Created, Kind, Live, Tagger};
use aws_sdk_ec2::types::{AttributeBooleanValue, ResourceType, Tenancy, Vpc as AwsVpc, VpcAttributeName, VpcState};
use deployctl_engine::{Observed, Poll, Props, ReadCtx};
use deployctl_spec::{Attr, KindSchema};
use serde_json::json;

model! {
    pub struct VpcModel {
        cidr_block: String = "The IPv4 range, e.g. 10.0.0.0/16." [required, replace, cidr(16, 28)],
        instance_tenancy: String = "`default` or `dedicated`."
            [default("\"default\""), replace, one_of(Tenancy::values())],
        enable_dns_support: bool = "Whether the Amazon DNS server resolves in the VPC." [default("true")],
        enable_dns_hostnames: bool = "Whether instances get public DNS hostnames." [default("false")],
    }
}

pub static SCHEMA: KindSchema = KindSchema {
    type_name: "ec2.vpc",
    doc: "A virtual private cloud. Created with its tags; deleted only after everything in it.",
    properties: <VpcModel as crate::kit::Model>::PROPS,
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
    tags: crate::kit::tagger::Ec2Tags,
    tagged: Tagged,
}

impl Vpc {
    /// Shares the run's one DescribeTags of the stack with the other EC2 kinds.
    pub fn sharing(mut self, tagged: Tagged) -> Self {
        self.tagged = tagged;
        self
    }

    pub fn new(client: Client) -> Vpc {
        Vpc { tags: crate::kit::tagger::Ec2Tags(client.clone()), tagged: Tagged::default(), client }
    }

    async fn vpcs(&self, filters: Vec<Filter>) -> Result<Vec<AwsVpc>, ProviderError> {
        let mut pages = self.client.describe_vpcs().set_filters(Some(filters)).into_paginator().send();
        let mut vpcs = Vec::new();
        while let Some(page) = pages.next().await {
            vpcs.extend(page.map_err(from_sdk)?.vpcs.unwrap_or_default());
        }
        Ok(vpcs)
    }

    /// The VPCs `ids`. DNS attributes are only readable one VPC and one
    /// attribute at a time: they are asked for side by side with
    /// DescribeVpcs (the ids are known), one round trip in all; those of a
    /// VPC that is gone are not looked at.
    async fn describe(&self, region: &str, ids: &[String]) -> Result<Vec<Live<VpcModel>>, ProviderError> {
        let vpcs = in_chunks(ids, |chunk| self.vpcs(vec![filter("vpc-id", chunk)]));
        let dns = futures::future::join_all(ids.iter().map(|id| async move { (id.as_str(), self.dns(id).await) }));
        let (vpcs, dns) = futures::join!(vpcs, dns);
        let mut dns: std::collections::HashMap<&str, _> = dns.into_iter().collect();
        let mut out = Vec::new();
        for v in vpcs? {
            let id = v.vpc_id().unwrap_or_default().to_string();
            let Some(dns) = dns.remove(id.as_str()) else { continue };
            let (enable_dns_support, enable_dns_hostnames) = dns?;
            out.push(Live {
                attributes: attributes(region, &id, v.cidr_block(), v.owner_id()),
                model: VpcModel {
                    cidr_block: v.cidr_block().unwrap_or_default().to_string(),
                    instance_tenancy: v.instance_tenancy().map(|t| t.as_str()).unwrap_or("default").to_string(),
                    enable_dns_support,
                    enable_dns_hostnames,
                },
                tags: tag_map(v.tags()),
                id,
            });
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

    /// One ModifyVpcAttribute per DNS attribute that is not yet `want`'s
    /// (AWS takes one attribute per call).
    async fn set_dns(&self, id: &str, want: &VpcModel, live: (bool, bool)) -> Result<(), ProviderError> {
        let support = AttributeBooleanValue::builder().value(want.enable_dns_support).build();
        let hostnames = AttributeBooleanValue::builder().value(want.enable_dns_hostnames).build();
        if want.enable_dns_support != live.0 {
            let call = self.client.modify_vpc_attribute().vpc_id(id).enable_dns_support(support);
            call.send().await.map_err(from_sdk)?;
        }
        if want.enable_dns_hostnames != live.1 {
            let call = self.client.modify_vpc_attribute().vpc_id(id).enable_dns_hostnames(hostnames);
            call.send().await.map_err(from_sdk)?;
        }
        Ok(())
    }
}

fn attributes(region: &str, id: &str, cidr: Option<&str>, owner: Option<&str>) -> Props {
    attrs([
        ("id", json!(id)),
        ("arn", json!(arn(region, owner, "vpc", id))),
        ("cidr_block", json!(cidr)),
        ("owner_id", json!(owner)),
    ])
}

#[async_trait::async_trait]
impl Kind for Vpc {
    type Model = VpcModel;
    const ADOPT: Adopt = Adopt::ByTag;

    fn schema(&self) -> &'static KindSchema {
        &SCHEMA
    }

    fn tagger(&self) -> Option<&dyn Tagger> {
        Some(&self.tags)
    }

    async fn read(&self, ctx: &ReadCtx, ids: &[String]) -> Result<Vec<Live<VpcModel>>, ProviderError> {
        self.describe(&ctx.region, ids).await
    }

    async fn find_tagged(&self, ctx: &ReadCtx) -> Result<Vec<Live<VpcModel>>, ProviderError> {
        self.read(ctx, &self.tagged.ids(&self.client, &ctx.stack, "vpc-").await?).await
    }

    async fn create(&self, ctx: &OpCtx, want: &VpcModel) -> Result<Created, ProviderError> {
        let out = self
            .client
            .create_vpc()
            .cidr_block(&want.cidr_block)
            .instance_tenancy(Tenancy::from(want.instance_tenancy.as_str()))
            .tag_specifications(tag_spec(ResourceType::Vpc, &ctx.tags))
            .send()
            .await
            .map_err(from_sdk)?;
        let vpc = out.vpc().cloned().unwrap_or_else(|| aws_sdk_ec2::types::Vpc::builder().build());
        let id = vpc.vpc_id().unwrap_or_default().to_string();
        ctx.record_id(&id);
        if vpc.state() != Some(&VpcState::Available) {
            ctx.wait_for("VPC to be available", || async {
                let out = self.client.describe_vpcs().vpc_ids(&id).send().await.map_err(from_sdk)?;
                Ok(match out.vpcs().first().and_then(|v| v.state()) {
                    Some(VpcState::Available) => Poll::Ready(()),
                    Some(s) => Poll::Pending(s.as_str().to_string()),
                    None => Poll::Pending("not visible yet".into()),
                })
            })
            .await?;
        }
        // A new VPC has AWS's DNS defaults: support on, hostnames off.
        self.set_dns(&id, want, (true, false)).await?;
        Ok(Created { attributes: attributes(&ctx.region, &id, vpc.cidr_block(), vpc.owner_id()), id })
    }

    async fn update(
        &self,
        _ctx: &OpCtx,
        live: &Observed,
        want: &VpcModel,
        _changed: &[&str],
    ) -> Result<Option<Props>, ProviderError> {
        let flag = |f: &str| live.properties.get(f).and_then(serde_json::Value::as_bool);
        let live_dns = (flag("enable_dns_support").unwrap_or(true), flag("enable_dns_hostnames").unwrap_or(false));
        self.set_dns(&live.id, want, live_dns).await?;
        Ok(None)
    }

    async fn delete(&self, _ctx: &OpCtx, live: &Observed, _recorded: Option<&VpcModel>) -> Result<(), ProviderError> {
        self.client.delete_vpc().vpc_id(&live.id).send().await.map_err(from_sdk)?;
        Ok(())
    }
}
