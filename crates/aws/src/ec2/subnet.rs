//! `ec2.subnet`: a subnet in one availability zone.

use super::*;
use crate::kit::{attrs, kept, model, Adopt, Created, Kind, Live, Tagger};
use aws_sdk_ec2::types::{AttributeBooleanValue, ResourceType, Subnet as AwsSubnet, SubnetState};
use deployctl_engine::kind::Wanted;
use deployctl_engine::{Observed, Poll, Props, ReadCtx};
use deployctl_spec::{Attr, KindSchema};
use serde_json::json;

model! {
    pub struct SubnetModel {
        vpc_id: String = "The VPC, usually `${vpc.id}`." [required, replace],
        cidr_block: String = "The IPv4 range, inside the VPC's." [required, replace, cidr(16, 28)],
        availability_zone: Option<String> = "The zone, e.g. `${region}a`. AWS picks one when unset." [replace],
        map_public_ip_on_launch: bool = "Whether instances launched here get a public IPv4 address."
            [default("false")],
    }
}

pub static SCHEMA: KindSchema = KindSchema {
    type_name: "ec2.subnet",
    doc: "A subnet of a VPC in one availability zone.",
    properties: <SubnetModel as crate::kit::Model>::PROPS,
    attributes: &[
        Attr { name: "id", doc: "The subnet id, `subnet-…`." },
        Attr { name: "arn", doc: "The subnet's ARN." },
        Attr { name: "vpc_id", doc: "The VPC it is in." },
        Attr { name: "availability_zone", doc: "The zone it is in." },
        Attr { name: "availability_zone_id", doc: "The zone id (`use1-az1`), the same across accounts." },
        Attr { name: "cidr_block", doc: "The IPv4 range." },
    ],
    taggable: true,
    rules: &[],
    example: "public_a:\n  type: ec2.subnet\n  properties:\n    vpc_id: ${vpc.id}\n    cidr_block: 10.0.1.0/24\n    availability_zone: ${region}a\n    map_public_ip_on_launch: true\n",
};

pub struct Subnet {
    client: Client,
    tags: crate::kit::tagger::Ec2Tags,
    tagged: Tagged,
}

fn attributes(s: &AwsSubnet) -> Props {
    attrs([
        ("id", json!(s.subnet_id())),
        ("arn", json!(s.subnet_arn())),
        ("vpc_id", json!(s.vpc_id())),
        ("availability_zone", json!(s.availability_zone())),
        ("availability_zone_id", json!(s.availability_zone_id())),
        ("cidr_block", json!(s.cidr_block())),
    ])
}

impl Subnet {
    /// Shares the run's one DescribeTags of the stack with the other EC2 kinds.
    pub fn sharing(mut self, tagged: Tagged) -> Self {
        self.tagged = tagged;
        self
    }

    pub fn new(client: Client) -> Subnet {
        Subnet { tags: crate::kit::tagger::Ec2Tags(client.clone()), tagged: Tagged::default(), client }
    }

    async fn describe(&self, filters: Vec<Filter>) -> Result<Vec<Live<SubnetModel>>, ProviderError> {
        let mut pages = self.client.describe_subnets().set_filters(Some(filters)).into_paginator().send();
        let mut out = Vec::new();
        while let Some(page) = pages.next().await {
            for s in page.map_err(from_sdk)?.subnets.unwrap_or_default() {
                out.push(Live {
                    id: s.subnet_id().unwrap_or_default().to_string(),
                    model: SubnetModel {
                        vpc_id: s.vpc_id().unwrap_or_default().to_string(),
                        cidr_block: s.cidr_block().unwrap_or_default().to_string(),
                        availability_zone: s.availability_zone().map(str::to_string),
                        map_public_ip_on_launch: s.map_public_ip_on_launch().unwrap_or(false),
                    },
                    tags: tag_map(s.tags()),
                    attributes: attributes(&s),
                });
            }
        }
        Ok(out)
    }

    async fn set_public_ip(&self, id: &str, want: bool) -> Result<(), ProviderError> {
        let value = AttributeBooleanValue::builder().value(want).build();
        let call = self.client.modify_subnet_attribute().subnet_id(id).map_public_ip_on_launch(value);
        call.send().await.map_err(from_sdk)?;
        Ok(())
    }
}

/// The first and last address of an IPv4 CIDR block.
fn ipv4_range(cidr: &str) -> Option<(u32, u32)> {
    let (ip, len) = cidr.split_once('/')?;
    let ip: std::net::Ipv4Addr = ip.parse().ok()?;
    let len: u32 = len.parse().ok().filter(|l| *l <= 32)?;
    let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
    let first = u32::from(ip) & mask;
    Some((first, first | !mask))
}

#[async_trait::async_trait]
impl Kind for Subnet {
    type Model = SubnetModel;
    const ADOPT: Adopt = Adopt::ByTag;

    fn schema(&self) -> &'static KindSchema {
        &SCHEMA
    }

    /// Two subnets of a VPC cannot overlap: a replacement in the same VPC
    /// exists beside the old one only with a range apart from it.
    fn coexists(&self, old: &Props, new: &Wanted) -> Result<(), String> {
        if kept(old, new, "vpc_id").is_none() {
            return Ok(()); // another VPC (or one known only after apply: a new one)
        }
        let old_cidr = old.get("cidr_block").and_then(|v| v.as_str()).unwrap_or_default();
        match new.get("cidr_block") {
            Some(Some(v)) => match (v.as_str().and_then(ipv4_range), ipv4_range(old_cidr)) {
                (Some(a), Some(b)) if a.0 <= b.1 && b.0 <= a.1 => Err(format!(
                    "its cidr_block {} overlaps the old subnet's {old_cidr} in the same VPC",
                    v.as_str().unwrap_or_default()
                )),
                (Some(_), Some(_)) => Ok(()),
                _ => Err(format!("its cidr_block may overlap the old subnet's {old_cidr}")),
            },
            _ => Err(format!("its cidr_block is known only after apply and may overlap the old subnet's {old_cidr}")),
        }
    }

    fn tagger(&self) -> Option<&dyn Tagger> {
        Some(&self.tags)
    }

    async fn read(&self, _ctx: &ReadCtx, ids: &[String]) -> Result<Vec<Live<SubnetModel>>, ProviderError> {
        in_chunks(ids, |chunk| self.describe(vec![filter("subnet-id", chunk)])).await
    }

    async fn find_tagged(&self, ctx: &ReadCtx) -> Result<Vec<Live<SubnetModel>>, ProviderError> {
        self.read(ctx, &self.tagged.ids(&self.client, &ctx.stack, "subnet-").await?).await
    }

    async fn create(&self, ctx: &OpCtx, want: &SubnetModel) -> Result<Created, ProviderError> {
        let out = self
            .client
            .create_subnet()
            .vpc_id(&want.vpc_id)
            .cidr_block(&want.cidr_block)
            .set_availability_zone(want.availability_zone.clone())
            .tag_specifications(tag_spec(ResourceType::Subnet, &ctx.tags))
            .send()
            .await
            .map_err(from_sdk)?;
        let subnet = out.subnet().cloned().unwrap_or_else(|| AwsSubnet::builder().build());
        let id = subnet.subnet_id().unwrap_or_default().to_string();
        ctx.record_id(&id);
        if subnet.state() != Some(&SubnetState::Available) {
            ctx.wait_for("subnet to be available", || async {
                let out = self.client.describe_subnets().subnet_ids(&id).send().await.map_err(from_sdk)?;
                Ok(match out.subnets().first().and_then(|s| s.state()) {
                    Some(SubnetState::Available) => Poll::Ready(()),
                    Some(st) => Poll::Pending(st.as_str().to_string()),
                    None => Poll::Pending("not visible yet".into()),
                })
            })
            .await?;
        }
        // A new subnet does not map public IPs (AWS's default).
        if want.map_public_ip_on_launch {
            self.set_public_ip(&id, true).await?;
        }
        Ok(Created { attributes: attributes(&subnet), id })
    }

    async fn update(
        &self,
        _ctx: &OpCtx,
        live: &Observed,
        want: &SubnetModel,
        _changed: &[&str],
    ) -> Result<Option<Props>, ProviderError> {
        self.set_public_ip(&live.id, want.map_public_ip_on_launch).await?;
        Ok(None)
    }

    async fn delete(&self, _ctx: &OpCtx, live: &Observed, _: Option<&SubnetModel>) -> Result<(), ProviderError> {
        self.client.delete_subnet().subnet_id(&live.id).send().await.map_err(from_sdk)?;
        Ok(())
    }
}
