//! `ec2.nat_gateway`: a NAT gateway, public (with an Elastic IP) or private.
//!
//! Create calls CreateNatGateway with the step's client token and the tags,
//! records the id at once, then waits until the gateway is `available`. A
//! gateway that ends `failed` ends the step with its failure code and
//! message (`Gateway.NotAttached: … has no Internet gateway attached`).
//!
//! Failed, deleting and deleted gateways stay visible for about an hour;
//! they are dead, so `read` and `find_tagged` leave them out (what is gone
//! is absent) and create never adopts them. Pending gateways are live.
//!
//! Resuming: a create interrupted while waiting leaves a `pending` gateway
//! with its id recorded; the engine then plans a resume, and `resume` waits
//! for it as `create` would have. Before calling CreateNatGateway, create
//! also looks for a gateway tagged with this stack and this resource's
//! address (`deployctl:stack`, `deployctl:resource`) that is `pending` or
//! `available`; if there is one (a create whose result was never recorded)
//! it adopts it, records its id and only waits for it. The engine adopts by
//! tag at plan time too; this is a second guard, and the client token a
//! third. Because AWS would answer a repeated client token with the failed
//! gateway, the token gets a suffix counting the failed gateways already
//! tagged for this address, so a re-run after a failure creates a fresh one.
//! The tags of what DescribeNatGateways returns are checked again here and
//! in `find_tagged`: moto ignores tag filters on that call.
//!
//! Delete waits until the gateway is `deleted`, so that its Elastic IP can be
//! released right after.

use super::elastic_ip::{in_stack, Account};
use super::*;
use crate::error::from_sdk;
use async_trait::async_trait;
use aws_sdk_ec2::types::{ConnectivityType, NatGateway as Nat, NatGatewayState, ResourceType};
use deployctl_engine::kind::{TAG_RESOURCE, TAG_STACK};
use deployctl_engine::{Observed, OpCtx, Poll, Props, ProviderError, ReadCtx, ResourceKind};
use deployctl_spec::{Attr, KindSchema, Prop, Type};
use serde_json::{json, Value};
use std::time::Duration;

pub static SCHEMA: KindSchema = KindSchema {
    type_name: "ec2.nat_gateway",
    doc: "A NAT gateway: instances in private subnets reach out through it. A public one sits in a public \
          subnet (whose VPC has an internet gateway attached) and needs an Elastic IP. Create waits until it \
          is available; delete waits until it is deleted, so its Elastic IP can be released after it.",
    properties: &[
        Prop::new("subnet_id", Type::String, "The subnet it lives in: a public subnet for a public gateway.")
            .required()
            .replace(),
        Prop::new(
            "allocation_id",
            Type::String,
            "The Elastic IP's allocation id, usually `${nat_ip.id}`. Required for a public gateway.",
        )
        .replace(),
        Prop::new("connectivity_type", Type::String, "`public` (to the internet) or `private` (to other networks).")
            .default("\"public\"")
            .replace(),
        Prop::new(
            "private_ip_address",
            Type::String,
            "The private IPv4 address in the subnet. Unset: AWS picks one, and it is not managed.",
        )
        .replace(),
    ],
    attributes: &[
        Attr { name: "id", doc: "The NAT gateway id, `nat-…`." },
        Attr { name: "arn", doc: "The NAT gateway's ARN." },
        Attr { name: "public_ip", doc: "The public IPv4 address (public gateways)." },
        Attr { name: "private_ip", doc: "The private IPv4 address in the subnet." },
        Attr { name: "subnet_id", doc: "The subnet it lives in." },
        Attr { name: "vpc_id", doc: "The VPC of that subnet." },
        Attr { name: "state", doc: "`pending` or `available`." },
    ],
    taggable: true,
    rules: &[],
    example: "nat:\n  type: ec2.nat_gateway\n  properties:\n    subnet_id: ${public_a.id}\n    allocation_id: ${nat_ip.id}\n  timeouts: {create: 10m, delete: 10m}\n  tags:\n    Name: ${stack}-nat\n",
};

pub struct NatGateway {
    client: Client,
    account: Account,
}

/// Pending or available: everything else is dead or dying.
fn is_live(n: &Nat) -> bool {
    matches!(n.state(), Some(NatGatewayState::Pending | NatGatewayState::Available))
}

/// The ProviderError for a gateway that ended `failed`.
fn failure(id: &str, n: &Nat) -> ProviderError {
    let code = n.failure_code().unwrap_or("NatGatewayFailed");
    let message = n.failure_message().unwrap_or("no failure message");
    let hint = if code == "Gateway.NotAttached" {
        "a public NAT gateway needs an internet gateway attached to its VPC: add an ec2.internet_gateway with \
         that vpc_id, list it in the NAT gateway's depends_on, and re-run"
    } else {
        "fix the cause and re-run: a fresh NAT gateway is created (AWS removes the failed one after about an hour)"
    };
    ProviderError::new(Some(code.to_string()), format!("NAT gateway {id} failed: {message}")).with_hint(hint)
}

impl NatGateway {
    pub fn new(client: Client) -> NatGateway {
        NatGateway { client, account: Account::new() }
    }

    /// Shares the account lookup with the run's other kinds.
    pub fn with_account(client: Client, account: Account) -> NatGateway {
        NatGateway { client, account }
    }

    /// Frees an elastic IP that a gateway which is gone still holds, so a new
    /// gateway can take it (a run killed between a NAT's delete and its
    /// address's release leaves exactly that). AWS drops the association
    /// once the old gateway is `deleted`: while it is `deleting`, wait. An
    /// association that outlives a deleted gateway (moto keeps them) is
    /// removed. A live gateway's address is left alone: AWS then refuses the
    /// create, which is the truth.
    async fn free_stale_address(&self, ctx: &OpCtx, allocation: &str) -> Result<(), ProviderError> {
        let holders = |nats: Vec<Nat>| -> Vec<Nat> {
            nats.into_iter()
                .filter(|n| n.nat_gateway_addresses().iter().any(|a| a.allocation_id() == Some(allocation)))
                .collect()
        };
        let association = |client: Client| async move {
            let out = client
                .describe_addresses()
                .filters(filter("allocation-id", &[allocation.to_string()]))
                .send()
                .await
                .map_err(from_sdk)?;
            Ok::<_, ProviderError>(out.addresses().first().and_then(|a| a.association_id()).map(str::to_string))
        };
        if association(self.client.clone()).await?.is_none() {
            return Ok(());
        }
        let held = holders(self.describe(Vec::new()).await?);
        if held.iter().any(is_live) {
            return Ok(());
        }
        if held.iter().any(|n| n.state() == Some(&NatGatewayState::Deleting)) {
            ctx.wait_for("the previous NAT gateway to let go of its address", || async {
                let held = holders(self.describe(Vec::new()).await?);
                Ok(if held.iter().any(|n| n.state() == Some(&NatGatewayState::Deleting)) {
                    Poll::Pending("deleting".to_string())
                } else {
                    Poll::Ready(())
                })
            })
            .await
            .map_err(ProviderError::from)?;
        }
        if let Some(id) = association(self.client.clone()).await? {
            match self.client.disassociate_address().association_id(&id).send().await.map_err(from_sdk) {
                Err(e) if !crate::is_not_found(&e) => return Err(e),
                _ => ctx.progress(format!("freed {allocation} from a NAT gateway that is gone"), Duration::ZERO),
            }
        }
        Ok(())
    }

    async fn describe(&self, filters: Vec<Filter>) -> Result<Vec<Nat>, ProviderError> {
        let mut pages = self.client.describe_nat_gateways().set_filter(Some(filters)).into_paginator().send();
        let mut out = Vec::new();
        while let Some(page) = pages.next().await {
            out.extend(page.map_err(from_sdk)?.nat_gateways.unwrap_or_default());
        }
        Ok(out)
    }

    /// The live gateways among `found`, in the spec's shape.
    async fn observe(&self, region: &str, found: Vec<Nat>) -> Result<Vec<Observed>, ProviderError> {
        let live: Vec<Nat> = found.into_iter().filter(is_live).collect();
        if live.is_empty() {
            return Ok(Vec::new());
        }
        let account = self.account.get(&self.client).await?;
        Ok(live.iter().map(|n| observed(region, account.as_deref(), n)).collect())
    }

    async fn read_one(&self, region: &str, id: &str) -> Result<Observed, ProviderError> {
        let found = self.describe(vec![filter("nat-gateway-id", &[id.to_string()])]).await?;
        self.observe(region, found).await?.into_iter().next().ok_or_else(|| {
            ProviderError::new(Some("NatGatewayNotFound".into()), format!("NAT gateway {id} disappeared"))
        })
    }

    async fn state(&self, id: &str) -> Result<Option<Nat>, ProviderError> {
        Ok(self.describe(vec![filter("nat-gateway-id", &[id.to_string()])]).await?.into_iter().next())
    }

    /// Waits until the gateway is `available`; `failed` is an error with the
    /// gateway's failure code and message.
    async fn wait_available(&self, ctx: &OpCtx, id: &str) -> Result<(), ProviderError> {
        let (this, nid) = (self, id);
        ctx.wait_for("NAT gateway to be available", move || async move {
            let n = this.state(nid).await?;
            Ok(match n.as_ref().and_then(|n| n.state().map(|s| (n, s))) {
                Some((_, NatGatewayState::Available)) => Poll::Ready(()),
                Some((n, NatGatewayState::Failed)) => return Err(failure(nid, n)),
                Some((_, NatGatewayState::Deleting | NatGatewayState::Deleted)) => {
                    return Err(ProviderError::new(
                        Some("NatGatewayDeleted".into()),
                        format!("NAT gateway {nid} was deleted while it was being created"),
                    ))
                }
                Some((_, s)) => Poll::Pending(s.as_str().to_string()),
                None => Poll::Pending("not visible yet".into()),
            })
        })
        .await?;
        Ok(())
    }
}

/// A gateway in the spec's shape: the primary address gives the allocation
/// id and the private address (moto lists no `IsPrimary`: take the first).
fn observed(region: &str, account: Option<&str>, n: &Nat) -> Observed {
    let id = n.nat_gateway_id().unwrap_or_default().to_string();
    let addrs = n.nat_gateway_addresses();
    let primary = addrs.iter().find(|a| a.is_primary() == Some(true)).or(addrs.first());
    let mut properties = Props::new();
    properties.insert("subnet_id".into(), json!(n.subnet_id()));
    properties.insert("allocation_id".into(), json!(primary.and_then(|a| a.allocation_id())));
    properties.insert("connectivity_type".into(), json!(n.connectivity_type().map(|c| c.as_str()).unwrap_or("public")));
    properties.insert("private_ip_address".into(), json!(primary.and_then(|a| a.private_ip())));
    let mut attributes = Props::new();
    attributes.insert("id".into(), json!(id));
    attributes.insert("arn".into(), json!(arn(region, account, "natgateway", &id)));
    attributes.insert("public_ip".into(), json!(primary.and_then(|a| a.public_ip())));
    attributes.insert("private_ip".into(), json!(primary.and_then(|a| a.private_ip())));
    attributes.insert("subnet_id".into(), json!(n.subnet_id()));
    attributes.insert("vpc_id".into(), json!(n.vpc_id()));
    attributes.insert("state".into(), json!(n.state().map(|s| s.as_str())));
    Observed { id, properties, tags: tag_map(n.tags()), attributes }
}

#[async_trait]
impl ResourceKind for NatGateway {
    fn schema(&self) -> &'static KindSchema {
        &SCHEMA
    }

    async fn read(&self, ctx: &ReadCtx, ids: &[String]) -> Result<Vec<Observed>, ProviderError> {
        let found = in_chunks(ids, |chunk| self.describe(vec![filter("nat-gateway-id", chunk)])).await?;
        self.observe(&ctx.region, found).await
    }

    async fn find_tagged(&self, ctx: &ReadCtx) -> Result<Vec<(String, Observed)>, ProviderError> {
        let found = self.describe(vec![stack_filter(&ctx.stack)]).await?;
        let found = self.observe(&ctx.region, found).await?;
        Ok(found
            .into_iter()
            .filter(|o| in_stack(o, &ctx.stack))
            .filter_map(|o| Some((address_tag(&o.tags)?, o)))
            .collect())
    }

    async fn create(&self, ctx: &OpCtx, desired: &Props) -> Result<Observed, ProviderError> {
        let s = |k: &str| desired.get(k).and_then(Value::as_str).map(str::to_string);
        // A gateway this step already created (its result never recorded)?
        // (The tags are checked here too: moto ignores tag filters on
        // DescribeNatGateways.)
        let mine: Vec<Nat> = self
            .describe(vec![
                stack_filter(&ctx.stack),
                filter(&format!("tag:{TAG_RESOURCE}"), std::slice::from_ref(&ctx.address)),
            ])
            .await?
            .into_iter()
            .filter(|n| {
                let tags = tag_map(n.tags());
                tags.get(TAG_STACK) == Some(&ctx.stack) && tags.get(TAG_RESOURCE) == Some(&ctx.address)
            })
            .collect();
        let id = match mine.iter().find(|n| is_live(n)).and_then(|n| n.nat_gateway_id()) {
            Some(id) => {
                ctx.progress(format!("resuming the wait for {id}, found by its tags"), Duration::ZERO);
                id.to_string()
            }
            None => {
                if let Some(allocation) = s("allocation_id") {
                    self.free_stale_address(ctx, &allocation).await?;
                }
                let failed = mine.iter().filter(|n| n.state() == Some(&NatGatewayState::Failed)).count();
                let token =
                    if failed == 0 { ctx.client_token.clone() } else { format!("{}-{failed}", ctx.client_token) };
                let out = self
                    .client
                    .create_nat_gateway()
                    .set_subnet_id(s("subnet_id"))
                    .set_allocation_id(s("allocation_id"))
                    .connectivity_type(ConnectivityType::from(s("connectivity_type").as_deref().unwrap_or("public")))
                    .set_private_ip_address(s("private_ip_address"))
                    .client_token(token)
                    .tag_specifications(tag_spec(ResourceType::Natgateway, &ctx.tags))
                    .send()
                    .await
                    .map_err(from_sdk)?;
                out.nat_gateway().and_then(|n| n.nat_gateway_id()).unwrap_or_default().to_string()
            }
        };
        ctx.record_id(&id);
        self.wait_available(ctx, &id).await?;
        self.read_one(&ctx.region, &id).await
    }

    async fn update(
        &self,
        ctx: &OpCtx,
        current: &Observed,
        _desired: &Props,
        changed: &[String],
    ) -> Result<Observed, ProviderError> {
        // Every property forces a replacement: only tags change in place.
        if changed.iter().any(|c| c == "tags") {
            converge_tags(&self.client, &current.id, &current.tags, ctx).await?;
        }
        self.read_one(&ctx.region, &current.id).await
    }

    async fn resume(&self, ctx: &OpCtx, current: &Observed) -> Result<Observed, ProviderError> {
        self.wait_available(ctx, &current.id).await?;
        self.read_one(&ctx.region, &current.id).await
    }

    async fn delete(&self, ctx: &OpCtx, current: &Observed, _recorded: &Props) -> Result<(), ProviderError> {
        let r = self.client.delete_nat_gateway().nat_gateway_id(&current.id).send().await;
        match r.map(|_| ()).map_err(from_sdk) {
            Ok(()) => {}
            Err(e) if crate::is_not_found(&e) => return Ok(()),
            Err(e) => return Err(e),
        }
        let (this, nid) = (self, current.id.as_str());
        ctx.wait_for("NAT gateway to be deleted", move || async move {
            Ok(match this.state(nid).await?.as_ref().and_then(|n| n.state().cloned()) {
                // A failed gateway holds nothing, its address included.
                None | Some(NatGatewayState::Deleted | NatGatewayState::Failed) => Poll::Ready(()),
                Some(s) => Poll::Pending(s.as_str().to_string()),
            })
        })
        .await?;
        Ok(())
    }
}
