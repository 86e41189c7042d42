//! `ec2.elastic_ip`: an Elastic IP address, allocated with its tags.
//!
//! Read with one DescribeAddresses filtered on `allocation-id`. Released by
//! allocation id; while a NAT gateway (or an instance) still holds the
//! address, the release is retried within the delete timeout, because a NAT
//! gateway deleted just before lets go of its address a little later.

use super::*;
use crate::kit::{attrs, model, Adopt, Created, Kind, Live, Tagger};
use aws_sdk_ec2::types::{DomainType, ResourceType};
use deployctl_engine::{Observed, Poll, ReadCtx, WaitError};
use deployctl_spec::{Attr, KindSchema};
use serde_json::json;

model! {
    pub struct ElasticIpModel {
        domain: String = "`vpc` (the only kind new accounts have) or `standard` (EC2-Classic)."
            [default("\"vpc\""), replace],
        public_ipv4_pool: Option<String> = "The pool to allocate from: `amazon`, or the id of a BYOIP pool \
            (`ipv4pool-ec2-…`). Unset: Amazon's pool, and not managed." [replace],
    }
}

pub static SCHEMA: KindSchema = KindSchema {
    type_name: "ec2.elastic_ip",
    doc: "An Elastic IP address: a static public IPv4 address, as a NAT gateway needs. \
          Released on delete, after whatever holds it (a NAT gateway) is deleted.",
    properties: <ElasticIpModel as crate::kit::Model>::PROPS,
    attributes: &[
        Attr { name: "id", doc: "The allocation id, `eipalloc-…`." },
        Attr { name: "arn", doc: "The address's ARN." },
        Attr { name: "public_ip", doc: "The public IPv4 address." },
        Attr { name: "allocation_id", doc: "The allocation id, `eipalloc-…` (the same as `id`)." },
    ],
    taggable: true,
    rules: &[],
    example: "nat_ip:\n  type: ec2.elastic_ip\n  tags:\n    Name: ${stack}-nat\n",
};

pub struct ElasticIp {
    client: Client,
    account: Account,
    tags: crate::kit::tagger::Ec2Tags,
    tagged: Tagged,
}

impl ElasticIp {
    /// Shares the run's one DescribeTags of the stack with the other EC2 kinds.
    pub fn sharing(mut self, tagged: Tagged) -> Self {
        self.tagged = tagged;
        self
    }

    pub fn new(client: Client) -> ElasticIp {
        ElasticIp::with_account(client, Account::new())
    }

    /// Shares the account lookup with the run's other kinds.
    pub fn with_account(client: Client, account: Account) -> ElasticIp {
        ElasticIp { tags: crate::kit::tagger::Ec2Tags(client.clone()), tagged: Tagged::default(), client, account }
    }

    async fn describe(&self, region: &str, filters: Vec<Filter>) -> Result<Vec<Live<ElasticIpModel>>, ProviderError> {
        // DescribeAddresses is not paginated.
        let out = self.client.describe_addresses().set_filters(Some(filters)).send().await.map_err(from_sdk)?;
        let addresses = out.addresses.unwrap_or_default();
        if addresses.is_empty() {
            return Ok(Vec::new());
        }
        let account = self.account.get(&self.client).await?;
        let mut found = Vec::new();
        for a in addresses {
            let Some(id) = a.allocation_id().map(str::to_string) else { continue };
            found.push(Live {
                model: ElasticIpModel {
                    domain: a.domain().map(|d| d.as_str()).unwrap_or("vpc").to_string(),
                    public_ipv4_pool: a.public_ipv4_pool().map(str::to_string),
                },
                attributes: attrs([
                    ("id", json!(id)),
                    ("arn", json!(arn(region, account.as_deref(), "elastic-ip", &id))),
                    ("public_ip", json!(a.public_ip())),
                    ("allocation_id", json!(id)),
                ]),
                tags: tag_map(a.tags()),
                id,
            });
        }
        Ok(found)
    }

    /// What holds the address now, if anything (`eni-…` or `i-…`).
    async fn holder(&self, id: &str) -> Result<Option<String>, ProviderError> {
        let call = self.client.describe_addresses().filters(filter("allocation-id", &[id.to_string()]));
        let out = call.send().await.map_err(from_sdk)?;
        Ok(out
            .addresses()
            .first()
            .and_then(|a| a.network_interface_id().or(a.instance_id()).filter(|s| !s.is_empty()).map(str::to_string)))
    }
}

const IN_USE_HINT: &str = "a NAT gateway or an instance still holds the address; delete it (or disassociate the \
                           address) first, then re-run";

#[async_trait::async_trait]
impl Kind for ElasticIp {
    type Model = ElasticIpModel;
    const ADOPT: Adopt = Adopt::ByTag;

    fn schema(&self) -> &'static KindSchema {
        &SCHEMA
    }

    fn tagger(&self) -> Option<&dyn Tagger> {
        Some(&self.tags)
    }

    async fn read(&self, ctx: &ReadCtx, ids: &[String]) -> Result<Vec<Live<ElasticIpModel>>, ProviderError> {
        // The account id (for the ARN) side by side with the addresses.
        let account = self.account.ahead(&self.client, ids);
        let found = in_chunks(ids, |chunk| self.describe(&ctx.region, vec![filter("allocation-id", chunk)]));
        Ok(futures::try_join!(found, account)?.0)
    }

    async fn find_tagged(&self, ctx: &ReadCtx) -> Result<Vec<Live<ElasticIpModel>>, ProviderError> {
        self.read(ctx, &self.tagged.ids(&self.client, &ctx.stack, "eipalloc-").await?).await
    }

    async fn create(&self, ctx: &OpCtx, want: &ElasticIpModel) -> Result<Created, ProviderError> {
        // AllocateAddress takes no client token: a crash before the id is
        // recorded is covered by adoption by tag.
        let out = self
            .client
            .allocate_address()
            .domain(DomainType::from(want.domain.as_str()))
            .set_public_ipv4_pool(want.public_ipv4_pool.clone())
            .tag_specifications(tag_spec(ResourceType::ElasticIp, &ctx.tags))
            .send()
            .await
            .map_err(from_sdk)?;
        let id = out.allocation_id().unwrap_or_default().to_string();
        ctx.record_id(&id);
        // Everything is in the answer but the account, for the ARN (one
        // lookup per run). A NAT gateway given the address before EC2 shows
        // it everywhere retries (kit::retry_unseen), so no read is needed.
        let account = self.account.get(&self.client).await?;
        let attributes = attrs([
            ("id", json!(id)),
            ("arn", json!(arn(&ctx.region, account.as_deref(), "elastic-ip", &id))),
            ("public_ip", json!(out.public_ip())),
            ("allocation_id", json!(id)),
        ]);
        Ok(Created { id, attributes })
    }

    async fn delete(&self, ctx: &OpCtx, live: &Observed, _: Option<&ElasticIpModel>) -> Result<(), ProviderError> {
        let this = self;
        let id = live.id.as_str();
        let r = ctx
            .wait_for("elastic IP to be released", move || async move {
                let r = this.client.release_address().allocation_id(id).send().await.map_err(from_sdk);
                match r {
                    Ok(_) => Ok(Poll::Ready(())),
                    Err(e) if crate::is_not_found(&e) => Ok(Poll::Ready(())),
                    // A NAT gateway's address answers AuthFailure, an
                    // instance's InvalidIPAddress.InUse. Wait only while
                    // something really holds it: an AuthFailure on a free
                    // address is a credentials problem.
                    Err(e) if e.code_is("InvalidIPAddress.InUse") || e.code_is("AuthFailure") => {
                        match this.holder(id).await? {
                            Some(h) => Ok(Poll::Pending(format!("still associated with {h}"))),
                            None if e.code_is("AuthFailure") => Err(e),
                            None => Ok(Poll::Pending("still in use".into())),
                        }
                    }
                    Err(e) => Err(e),
                }
            })
            .await;
        match r {
            Ok(()) => Ok(()),
            Err(WaitError::Timeout { elapsed, last, .. }) => Err(ProviderError::new(
                Some("InvalidIPAddress.InUse".into()),
                format!("elastic IP {id} could not be released after {}s: {last}", elapsed.as_secs()),
            )
            .with_hint(IN_USE_HINT)),
            Err(WaitError::Provider(e)) if e.code_is("AuthFailure") || e.code_is("InvalidIPAddress.InUse") => {
                Err(e.with_hint(IN_USE_HINT))
            }
            Err(e) => Err(e.into()),
        }
    }
}
