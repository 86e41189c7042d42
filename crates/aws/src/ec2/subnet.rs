//! `ec2.subnet`: a subnet in one availability zone.

use super::*;
use crate::error::from_sdk;
use async_trait::async_trait;
use aws_sdk_ec2::types::{AttributeBooleanValue, ResourceType, SubnetState};
use deployctl_engine::{Observed, OpCtx, Poll, Props, ProviderError, ReadCtx, ResourceKind};
use deployctl_spec::{Attr, KindSchema, Prop, Type};
use serde_json::{json, Value};

pub static SCHEMA: KindSchema = KindSchema {
    type_name: "ec2.subnet",
    doc: "A subnet of a VPC in one availability zone.",
    properties: &[
        Prop::new("vpc_id", Type::String, "The VPC, usually `${vpc.id}`.").required().replace(),
        Prop::new("cidr_block", Type::String, "The IPv4 range, inside the VPC's.").required().replace().cidr(16, 28),
        Prop::new("availability_zone", Type::String, "The zone, e.g. `${region}a`. AWS picks one when unset.").replace(),
        Prop::new("map_public_ip_on_launch", Type::Bool, "Whether instances launched here get a public IPv4 address.")
            .default("false"),
    ],
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
}

impl Subnet {
    pub fn new(client: Client) -> Subnet {
        Subnet { client }
    }

    async fn describe(&self, filters: Vec<aws_sdk_ec2::types::Filter>) -> Result<Vec<Observed>, ProviderError> {
        let mut pages = self.client.describe_subnets().set_filters(Some(filters)).into_paginator().send();
        let mut out = Vec::new();
        while let Some(page) = pages.next().await {
            for s in page.map_err(from_sdk)?.subnets.unwrap_or_default() {
                let id = s.subnet_id().unwrap_or_default().to_string();
                let mut properties = Props::new();
                properties.insert("vpc_id".into(), json!(s.vpc_id()));
                properties.insert("cidr_block".into(), json!(s.cidr_block()));
                properties.insert("availability_zone".into(), json!(s.availability_zone()));
                properties
                    .insert("map_public_ip_on_launch".into(), json!(s.map_public_ip_on_launch().unwrap_or(false)));
                let mut attributes = Props::new();
                attributes.insert("id".into(), json!(id));
                attributes.insert("arn".into(), json!(s.subnet_arn()));
                attributes.insert("vpc_id".into(), json!(s.vpc_id()));
                attributes.insert("availability_zone".into(), json!(s.availability_zone()));
                attributes.insert("availability_zone_id".into(), json!(s.availability_zone_id()));
                attributes.insert("cidr_block".into(), json!(s.cidr_block()));
                out.push(Observed { id, properties, tags: tag_map(s.tags()), attributes });
            }
        }
        Ok(out)
    }

    async fn read_one(&self, id: &str) -> Result<Observed, ProviderError> {
        self.describe(vec![filter("subnet-id", &[id.to_string()])]).await?.into_iter().next().ok_or_else(|| {
            ProviderError::new(Some("InvalidSubnetID.NotFound".into()), format!("subnet {id} disappeared"))
        })
    }

    async fn set_public_ip(&self, id: &str, desired: &Props, live: &Props) -> Result<(), ProviderError> {
        let want = desired.get("map_public_ip_on_launch").and_then(Value::as_bool).unwrap_or(false);
        if live.get("map_public_ip_on_launch").and_then(Value::as_bool) != Some(want) {
            self.client
                .modify_subnet_attribute()
                .subnet_id(id)
                .map_public_ip_on_launch(AttributeBooleanValue::builder().value(want).build())
                .send()
                .await
                .map_err(from_sdk)?;
        }
        Ok(())
    }
}

#[async_trait]
impl ResourceKind for Subnet {
    fn schema(&self) -> &'static KindSchema {
        &SCHEMA
    }

    async fn read(&self, _ctx: &ReadCtx, ids: &[String]) -> Result<Vec<Observed>, ProviderError> {
        in_chunks(ids, |chunk| self.describe(vec![filter("subnet-id", chunk)])).await
    }

    async fn find_tagged(&self, ctx: &ReadCtx) -> Result<Vec<(String, Observed)>, ProviderError> {
        let found = self.describe(vec![stack_filter(&ctx.stack)]).await?;
        Ok(found.into_iter().filter_map(|o| Some((address_tag(&o.tags)?, o))).collect())
    }

    async fn create(&self, ctx: &OpCtx, desired: &Props) -> Result<Observed, ProviderError> {
        let s = |k: &str| desired.get(k).and_then(Value::as_str).map(str::to_string);
        let out = self
            .client
            .create_subnet()
            .set_vpc_id(s("vpc_id"))
            .set_cidr_block(s("cidr_block"))
            .set_availability_zone(s("availability_zone"))
            .tag_specifications(tag_spec(ResourceType::Subnet, &ctx.tags))
            .send()
            .await
            .map_err(from_sdk)?;
        let id = out.subnet().and_then(|s| s.subnet_id()).unwrap_or_default().to_string();
        ctx.record_id(&id);
        let client = self.client.clone();
        let sid = id.clone();
        ctx.wait_for("subnet to be available", || {
            let client = client.clone();
            let sid = sid.clone();
            async move {
                let out =
                    client.describe_subnets().filters(filter("subnet-id", &[sid])).send().await.map_err(from_sdk)?;
                Ok(match out.subnets().first().and_then(|s| s.state().cloned()) {
                    Some(SubnetState::Available) => Poll::Ready(()),
                    Some(st) => Poll::Pending(st.as_str().to_string()),
                    None => Poll::Pending("not visible yet".into()),
                })
            }
        })
        .await?;
        let live = self.read_one(&id).await?;
        self.set_public_ip(&id, desired, &live.properties).await?;
        self.read_one(&id).await
    }

    async fn update(
        &self,
        ctx: &OpCtx,
        current: &Observed,
        desired: &Props,
        changed: &[String],
    ) -> Result<Observed, ProviderError> {
        self.set_public_ip(&current.id, desired, &current.properties).await?;
        if changed.iter().any(|c| c == "tags") {
            converge_tags(&self.client, &current.id, &current.tags, ctx).await?;
        }
        self.read_one(&current.id).await
    }

    async fn delete(&self, _ctx: &OpCtx, current: &Observed, _recorded: &Props) -> Result<(), ProviderError> {
        ignore_not_found(self.client.delete_subnet().subnet_id(&current.id).send().await.map(|_| ()).map_err(from_sdk))
    }
}
