//! `ec2.internet_gateway`: an internet gateway and its attachment to a VPC.

use super::*;
use crate::kit::{attrs, model, Adopt, Created, Kind, Live, Tagger};
use aws_sdk_ec2::types::ResourceType;
use deployctl_engine::{Observed, Props, ReadCtx};
use deployctl_spec::{Attr, KindSchema};
use serde_json::json;

model! {
    pub struct InternetGatewayModel {
        vpc_id: Option<String> = "The VPC to attach to. Unset: left detached.",
    }
}

pub static SCHEMA: KindSchema = KindSchema {
    type_name: "ec2.internet_gateway",
    doc: "An internet gateway, attached to a VPC. Changing the VPC detaches and re-attaches it in place; on delete it is detached first.",
    properties: <InternetGatewayModel as crate::kit::Model>::PROPS,
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
    tags: crate::kit::tagger::Ec2Tags,
    tagged: Tagged,
}

fn attributes(region: &str, id: &str, owner: Option<&str>, vpc: Option<&str>) -> Props {
    attrs([("id", json!(id)), ("arn", json!(arn(region, owner, "internet-gateway", id))), ("vpc_id", json!(vpc))])
}

impl InternetGateway {
    /// Shares the run's one DescribeTags of the stack with the other EC2 kinds.
    pub fn sharing(mut self, tagged: Tagged) -> Self {
        self.tagged = tagged;
        self
    }

    pub fn new(client: Client) -> InternetGateway {
        InternetGateway { tags: crate::kit::tagger::Ec2Tags(client.clone()), tagged: Tagged::default(), client }
    }

    async fn describe(
        &self,
        region: &str,
        filters: Vec<Filter>,
    ) -> Result<Vec<Live<InternetGatewayModel>>, ProviderError> {
        let mut pages = self.client.describe_internet_gateways().set_filters(Some(filters)).into_paginator().send();
        let mut out = Vec::new();
        while let Some(page) = pages.next().await {
            for g in page.map_err(from_sdk)?.internet_gateways.unwrap_or_default() {
                let id = g.internet_gateway_id().unwrap_or_default().to_string();
                let vpc = g.attachments().iter().find_map(|a| a.vpc_id());
                out.push(Live {
                    attributes: attributes(region, &id, g.owner_id(), vpc),
                    model: InternetGatewayModel { vpc_id: vpc.map(str::to_string) },
                    tags: tag_map(g.tags()),
                    id,
                });
            }
        }
        Ok(out)
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

#[async_trait::async_trait]
impl Kind for InternetGateway {
    type Model = InternetGatewayModel;
    const ADOPT: Adopt = Adopt::ByTag;

    fn schema(&self) -> &'static KindSchema {
        &SCHEMA
    }

    fn tagger(&self) -> Option<&dyn Tagger> {
        Some(&self.tags)
    }

    async fn read(&self, ctx: &ReadCtx, ids: &[String]) -> Result<Vec<Live<InternetGatewayModel>>, ProviderError> {
        in_chunks(ids, |chunk| self.describe(&ctx.region, vec![filter("internet-gateway-id", chunk)])).await
    }

    async fn find_tagged(&self, ctx: &ReadCtx) -> Result<Vec<Live<InternetGatewayModel>>, ProviderError> {
        self.read(ctx, &self.tagged.ids(&self.client, &ctx.stack, "igw-").await?).await
    }

    async fn create(&self, ctx: &OpCtx, want: &InternetGatewayModel) -> Result<Created, ProviderError> {
        let out = self
            .client
            .create_internet_gateway()
            .tag_specifications(tag_spec(ResourceType::InternetGateway, &ctx.tags))
            .send()
            .await
            .map_err(from_sdk)?;
        let gateway = out.internet_gateway();
        let id = gateway.and_then(|g| g.internet_gateway_id()).unwrap_or_default().to_string();
        ctx.record_id(&id);
        if let Some(vpc) = &want.vpc_id {
            self.attach(&id, vpc).await?;
        }
        let owner = gateway.and_then(|g| g.owner_id());
        Ok(Created { attributes: attributes(&ctx.region, &id, owner, want.vpc_id.as_deref()), id })
    }

    async fn update(
        &self,
        _ctx: &OpCtx,
        live: &Observed,
        want: &InternetGatewayModel,
        _changed: &[&str],
    ) -> Result<Option<Props>, ProviderError> {
        if let Some(old) = live.properties.get("vpc_id").and_then(serde_json::Value::as_str) {
            self.detach(&live.id, old).await?;
        }
        if let Some(new) = &want.vpc_id {
            self.attach(&live.id, new).await?;
        }
        let mut attributes = live.attributes.clone();
        attributes.insert("vpc_id".into(), json!(want.vpc_id));
        Ok(Some(attributes))
    }

    async fn delete(
        &self,
        ctx: &OpCtx,
        live: &Observed,
        _: Option<&InternetGatewayModel>,
    ) -> Result<(), ProviderError> {
        // Detach from whatever it is attached to now, not what the plan saw.
        let now =
            self.describe(&ctx.region, vec![filter("internet-gateway-id", std::slice::from_ref(&live.id))]).await?;
        let Some(now) = now.into_iter().next() else { return Ok(()) };
        if let Some(vpc) = &now.model.vpc_id {
            self.detach(&live.id, vpc).await?;
        }
        self.client.delete_internet_gateway().internet_gateway_id(&live.id).send().await.map_err(from_sdk)?;
        Ok(())
    }
}
