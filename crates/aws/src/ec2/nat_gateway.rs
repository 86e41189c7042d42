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
//! The tags of what DescribeNatGateways returns are checked again here (and
//! by the adapter for `find_tagged`): moto ignores tag filters on that call.
//!
//! Delete waits until the gateway is `deleted`, so that its Elastic IP can be
//! released right after.

use super::*;
use crate::kit::{attrs, kept, model, Adopt, Created, Kind, Live, Tagger};
use aws_sdk_ec2::types::{ConnectivityType, NatGateway as Nat, NatGatewayState, ResourceType};
use deployctl_engine::kind::Wanted;
use deployctl_engine::kind::{TAG_RESOURCE, TAG_STACK};
use deployctl_engine::{Observed, Poll, ReadCtx};
use deployctl_spec::{Attr, KindSchema};
use serde_json::json;
use std::time::Duration;

model! {
    pub struct NatGatewayModel {
        subnet_id: String = "The subnet it lives in: a public subnet for a public gateway." [required, replace],
        allocation_id: Option<String> =
            "The Elastic IP's allocation id, usually `${nat_ip.id}`. Required for a public gateway." [replace],
        connectivity_type: String = "`public` (to the internet) or `private` (to other networks)."
            [default("\"public\""), replace],
        private_ip_address: Option<String> =
            "The private IPv4 address in the subnet. Unset: AWS picks one, and it is not managed." [replace],
    }
}

pub static SCHEMA: KindSchema = KindSchema {
    type_name: "ec2.nat_gateway",
    doc: "A NAT gateway: instances in private subnets reach out through it. A public one sits in a public \
          subnet (whose VPC has an internet gateway attached) and needs an Elastic IP. Create waits until it \
          is available; delete waits until it is deleted, so its Elastic IP can be released after it.",
    properties: <NatGatewayModel as crate::kit::Model>::PROPS,
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
    tags: crate::kit::tagger::Ec2Tags,
    tagged: Tagged,
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
    /// Shares the run's one DescribeTags of the stack with the other EC2 kinds.
    pub fn sharing(mut self, tagged: Tagged) -> Self {
        self.tagged = tagged;
        self
    }

    pub fn new(client: Client) -> NatGateway {
        NatGateway::with_account(client, Account::new())
    }

    /// Shares the account lookup with the run's other kinds.
    pub fn with_account(client: Client, account: Account) -> NatGateway {
        NatGateway { tags: crate::kit::tagger::Ec2Tags(client.clone()), tagged: Tagged::default(), client, account }
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
    async fn observe(&self, region: &str, found: Vec<Nat>) -> Result<Vec<Live<NatGatewayModel>>, ProviderError> {
        let live: Vec<Nat> = found.into_iter().filter(is_live).collect();
        if live.is_empty() {
            return Ok(Vec::new());
        }
        let account = self.account.get(&self.client).await?;
        Ok(live.iter().map(|n| observed(region, account.as_deref(), n)).collect())
    }

    async fn state(&self, id: &str) -> Result<Option<Nat>, ProviderError> {
        Ok(self.describe(vec![filter("nat-gateway-id", &[id.to_string()])]).await?.into_iter().next())
    }

    /// Waits until the gateway is `available`; `failed` is an error with the
    /// gateway's failure code and message.
    async fn wait_available(&self, ctx: &OpCtx, id: &str) -> Result<Created, ProviderError> {
        let (this, nid) = (self, id);
        let nat = ctx
            .wait_for("NAT gateway to be available", move || async move {
                let n = this.state(nid).await?;
                Ok(match n.as_ref().and_then(|n| n.state().map(|s| (n, s))) {
                    Some((n, NatGatewayState::Available)) => Poll::Ready(n.clone()),
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
        let account = self.account.get(&self.client).await?;
        let live = observed(&ctx.region, account.as_deref(), &nat);
        Ok(Created { id: live.id, attributes: live.attributes })
    }
}

/// A gateway in the spec's shape: the primary address gives the allocation
/// id and the private address (moto lists no `IsPrimary`: take the first).
fn observed(region: &str, account: Option<&str>, n: &Nat) -> Live<NatGatewayModel> {
    let id = n.nat_gateway_id().unwrap_or_default().to_string();
    let addrs = n.nat_gateway_addresses();
    let primary = addrs.iter().find(|a| a.is_primary() == Some(true)).or(addrs.first());
    Live {
        model: NatGatewayModel {
            subnet_id: n.subnet_id().unwrap_or_default().to_string(),
            allocation_id: primary.and_then(|a| a.allocation_id()).map(str::to_string),
            connectivity_type: n.connectivity_type().map(|c| c.as_str()).unwrap_or("public").to_string(),
            private_ip_address: primary.and_then(|a| a.private_ip()).map(str::to_string),
        },
        attributes: attrs([
            ("id", json!(id)),
            ("arn", json!(arn(region, account, "natgateway", &id))),
            ("public_ip", json!(primary.and_then(|a| a.public_ip()))),
            ("private_ip", json!(primary.and_then(|a| a.private_ip()))),
            ("subnet_id", json!(n.subnet_id())),
            ("vpc_id", json!(n.vpc_id())),
            ("state", json!(n.state().map(|s| s.as_str()))),
        ]),
        tags: tag_map(n.tags()),
        id,
    }
}

#[async_trait::async_trait]
impl Kind for NatGateway {
    type Model = NatGatewayModel;
    const ADOPT: Adopt = Adopt::ByTag;

    fn schema(&self) -> &'static KindSchema {
        &SCHEMA
    }

    /// An Elastic IP belongs to one NAT gateway at a time.
    fn coexists(&self, old: &deployctl_engine::Props, new: &Wanted) -> Result<(), String> {
        match kept(old, new, "allocation_id") {
            Some(eip) => Err(format!("its Elastic IP {eip} can belong to one NAT gateway at a time")),
            None => Ok(()),
        }
    }

    fn tagger(&self) -> Option<&dyn Tagger> {
        Some(&self.tags)
    }

    async fn read(&self, ctx: &ReadCtx, ids: &[String]) -> Result<Vec<Live<NatGatewayModel>>, ProviderError> {
        // The account id (for the ARN) side by side with the gateways: one
        // round trip, not two.
        let found = in_chunks(ids, |chunk| self.describe(vec![filter("nat-gateway-id", chunk)]));
        let (found, _) = futures::try_join!(found, self.account.ahead(&self.client, ids))?;
        self.observe(&ctx.region, found).await
    }

    async fn find_tagged(&self, ctx: &ReadCtx) -> Result<Vec<Live<NatGatewayModel>>, ProviderError> {
        self.read(ctx, &self.tagged.ids(&self.client, &ctx.stack, "nat-").await?).await
    }

    async fn create(&self, ctx: &OpCtx, want: &NatGatewayModel) -> Result<Created, ProviderError> {
        // A gateway this step already created (a run killed before it
        // recorded the id)? Only a create that repeats an interrupted one
        // can find one: any other create has a fresh generation, and so a
        // fresh client token. (The tags are checked here too: moto ignores
        // tag filters on DescribeNatGateways.)
        let mut mine: Vec<Nat> = Vec::new();
        if ctx.interrupted_create {
            let tagged = self
                .describe(vec![
                    stack_filter(&ctx.stack),
                    filter(&format!("tag:{TAG_RESOURCE}"), std::slice::from_ref(&ctx.address)),
                ])
                .await?;
            mine = tagged
                .into_iter()
                .filter(|n| {
                    let tags = tag_map(n.tags());
                    tags.get(TAG_STACK) == Some(&ctx.stack) && tags.get(TAG_RESOURCE) == Some(&ctx.address)
                })
                // The gateway this one replaces carries the same tags.
                .filter(|n| !ctx.replaces.iter().any(|id| Some(id.as_str()) == n.nat_gateway_id()))
                .collect();
        }
        let id = match mine.iter().find(|n| is_live(n)).and_then(|n| n.nat_gateway_id()) {
            Some(id) => {
                ctx.progress(format!("resuming the wait for {id}, found by its tags"), Duration::ZERO);
                id.to_string()
            }
            None => {
                if let Some(allocation) = &want.allocation_id {
                    self.free_stale_address(ctx, allocation).await?;
                }
                let failed = mine.iter().filter(|n| n.state() == Some(&NatGatewayState::Failed)).count();
                let token =
                    if failed == 0 { ctx.client_token.clone() } else { format!("{}-{failed}", ctx.client_token) };
                // An Elastic IP or subnet created a moment ago may not be
                // visible to CreateNatGateway yet.
                let unseen = ["InvalidAllocationID.NotFound", "InvalidSubnetID.NotFound"];
                let out = crate::kit::retry_unseen(ctx, "the NAT gateway's address and subnet", &unseen, || {
                    let call = self
                        .client
                        .create_nat_gateway()
                        .subnet_id(&want.subnet_id)
                        .set_allocation_id(want.allocation_id.clone())
                        .connectivity_type(ConnectivityType::from(want.connectivity_type.as_str()))
                        .set_private_ip_address(want.private_ip_address.clone())
                        .client_token(&token)
                        .tag_specifications(tag_spec(ResourceType::Natgateway, &ctx.tags));
                    async move { call.send().await.map_err(from_sdk) }
                })
                .await?;
                out.nat_gateway().and_then(|n| n.nat_gateway_id()).unwrap_or_default().to_string()
            }
        };
        ctx.record_id(&id);
        self.wait_available(ctx, &id).await
    }

    async fn resume(&self, ctx: &OpCtx, current: &Observed) -> Result<Observed, ProviderError> {
        let created = self.wait_available(ctx, &current.id).await?;
        Ok(Observed { attributes: created.attributes, ..current.clone() })
    }

    async fn delete(&self, ctx: &OpCtx, current: &Observed, _: Option<&NatGatewayModel>) -> Result<(), ProviderError> {
        self.client.delete_nat_gateway().nat_gateway_id(&current.id).send().await.map_err(from_sdk)?;
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
