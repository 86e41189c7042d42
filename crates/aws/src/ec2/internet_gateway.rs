//! `ec2.internet_gateway`: an internet gateway and its attachment to a VPC.

use super::*;
use crate::error::from_sdk;
use async_trait::async_trait;
use aws_sdk_ec2::types::ResourceType;
use deployctl_engine::{Observed, OpCtx, Props, ProviderError, ReadCtx, ResourceKind};
use deployctl_spec::{Attr, KindSchema, Prop, Type};
use serde_json::{json, Value};

pub static SCHEMA: KindSchema = KindSchema {
    type_name: "ec2.internet_gateway",
    doc: "An internet gateway, attached to a VPC. Changing the VPC detaches and re-attaches it in place; on delete it is detached first.",
    properties: &[Prop::new("vpc_id", Type::String, "The VPC to attach to. Unset: left detached.")],
    attributes: &[
        Attr { name: "id", doc: "The gateway id, `igw-…`." },
        Attr { name: "arn", doc: "The gateway's ARN." },
        Attr { name: "vpc_id", doc: "The VPC it is attached to." },
    ],
    taggable: true,
    rules: &[],
    example: "igw:\n  type: ec2.internet_gateway\n  properties:\n    vpc_id: ${vpc.id}\n",
};

pub struct InternetGateway {
    client: Client,
}

impl InternetGateway {
    pub fn new(client: Client) -> InternetGateway {
        InternetGateway { client }
    }

    async fn describe(
        &self,
        region: &str,
        filters: Vec<aws_sdk_ec2::types::Filter>,
    ) -> Result<Vec<Observed>, ProviderError> {
        let mut pages = self.client.describe_internet_gateways().set_filters(Some(filters)).into_paginator().send();
        let mut out = Vec::new();
        while let Some(page) = pages.next().await {
            for g in page.map_err(from_sdk)?.internet_gateways.unwrap_or_default() {
                let id = g.internet_gateway_id().unwrap_or_default().to_string();
                let vpc = g.attachments().iter().find_map(|a| a.vpc_id()).map(str::to_string);
                let mut properties = Props::new();
                properties.insert("vpc_id".into(), json!(vpc));
                let mut attributes = Props::new();
                attributes.insert("id".into(), json!(id));
                attributes.insert("arn".into(), json!(arn(region, g.owner_id(), "internet-gateway", &id)));
                attributes.insert("vpc_id".into(), json!(vpc));
                out.push(Observed { id, properties, tags: tag_map(g.tags()), attributes });
            }
        }
        Ok(out)
    }

    async fn read_one(&self, region: &str, id: &str) -> Result<Observed, ProviderError> {
        self.describe(region, vec![filter("internet-gateway-id", &[id.to_string()])])
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| {
                ProviderError::new(
                    Some("InvalidInternetGatewayID.NotFound".into()),
                    format!("internet gateway {id} disappeared"),
                )
            })
    }

    async fn detach(&self, id: &str, vpc: &str) -> Result<(), ProviderError> {
        let r = self.client.detach_internet_gateway().internet_gateway_id(id).vpc_id(vpc).send().await;
        match r.map(|_| ()).map_err(from_sdk) {
            Err(e) if e.code_is("Gateway.NotAttached") || crate::is_not_found(&e) => Ok(()),
            other => other,
        }
    }

    async fn attach(&self, id: &str, vpc: &str) -> Result<(), ProviderError> {
        self.client.attach_internet_gateway().internet_gateway_id(id).vpc_id(vpc).send().await.map_err(from_sdk)?;
        Ok(())
    }
}

#[async_trait]
impl ResourceKind for InternetGateway {
    fn schema(&self) -> &'static KindSchema {
        &SCHEMA
    }

    async fn read(&self, ctx: &ReadCtx, ids: &[String]) -> Result<Vec<Observed>, ProviderError> {
        in_chunks(ids, |chunk| self.describe(&ctx.region, vec![filter("internet-gateway-id", chunk)])).await
    }

    async fn find_tagged(&self, ctx: &ReadCtx) -> Result<Vec<(String, Observed)>, ProviderError> {
        let found = self.describe(&ctx.region, vec![stack_filter(&ctx.stack)]).await?;
        Ok(found.into_iter().filter_map(|o| Some((address_tag(&o.tags)?, o))).collect())
    }

    async fn create(&self, ctx: &OpCtx, desired: &Props) -> Result<Observed, ProviderError> {
        let out = self
            .client
            .create_internet_gateway()
            .tag_specifications(tag_spec(ResourceType::InternetGateway, &ctx.tags))
            .send()
            .await
            .map_err(from_sdk)?;
        let id = out.internet_gateway().and_then(|g| g.internet_gateway_id()).unwrap_or_default().to_string();
        ctx.record_id(&id);
        if let Some(vpc) = desired.get("vpc_id").and_then(Value::as_str) {
            self.attach(&id, vpc).await?;
        }
        self.read_one(&ctx.region, &id).await
    }

    async fn update(
        &self,
        ctx: &OpCtx,
        current: &Observed,
        desired: &Props,
        changed: &[String],
    ) -> Result<Observed, ProviderError> {
        let live = current.properties.get("vpc_id").and_then(Value::as_str);
        let want = desired.get("vpc_id").and_then(Value::as_str);
        if live != want {
            if let Some(old) = live {
                self.detach(&current.id, old).await?;
            }
            if let Some(new) = want {
                self.attach(&current.id, new).await?;
            }
        }
        if changed.iter().any(|c| c == "tags") {
            converge_tags(&self.client, &current.id, &current.tags, ctx).await?;
        }
        self.read_one(&ctx.region, &current.id).await
    }

    async fn delete(&self, ctx: &OpCtx, current: &Observed, _recorded: &Props) -> Result<(), ProviderError> {
        // Detach from whatever it is attached to now, not what the plan saw.
        let live = match self.read_one(&ctx.region, &current.id).await {
            Ok(o) => o,
            Err(e) if crate::is_not_found(&e) => return Ok(()),
            Err(e) => return Err(e),
        };
        if let Some(vpc) = live.properties.get("vpc_id").and_then(Value::as_str) {
            self.detach(&current.id, vpc).await?;
        }
        ignore_not_found(
            self.client
                .delete_internet_gateway()
                .internet_gateway_id(&current.id)
                .send()
                .await
                .map(|_| ())
                .map_err(from_sdk),
        )
    }
}
