//! `ec2.elastic_ip`: an Elastic IP address, allocated with its tags.
//!
//! Read with one DescribeAddresses filtered on `allocation-id`. Released by
//! allocation id; while a NAT gateway (or an instance) still holds the
//! address, the release is retried within the delete timeout, because a NAT
//! gateway deleted just before lets go of its address a little later.

use super::*;
use crate::error::from_sdk;
use async_trait::async_trait;
use aws_sdk_ec2::types::{DomainType, ResourceType};
use deployctl_engine::{Observed, OpCtx, Poll, Props, ProviderError, ReadCtx, ResourceKind, WaitError};
use deployctl_spec::{Attr, KindSchema, Prop, Type};
use serde_json::{json, Value};

pub static SCHEMA: KindSchema = KindSchema {
    type_name: "ec2.elastic_ip",
    doc: "An Elastic IP address: a static public IPv4 address, as a NAT gateway needs. \
          Released on delete, after whatever holds it (a NAT gateway) is deleted.",
    properties: &[
        Prop::new("domain", Type::String, "`vpc` (the only kind new accounts have) or `standard` (EC2-Classic).")
            .default("\"vpc\"")
            .replace(),
        Prop::new(
            "public_ipv4_pool",
            Type::String,
            "The pool to allocate from: `amazon`, or the id of a BYOIP pool (`ipv4pool-ec2-…`). \
             Unset: Amazon's pool, and not managed.",
        )
        .replace(),
    ],
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

/// The account id, for the ARNs of kinds whose Describe answer names no
/// owner (addresses, NAT gateways). Read once per run from
/// DescribeSecurityGroups: every VPC has a default group, owned by the
/// account. Clones share the answer, so the kinds of one run ask once.
#[derive(Clone, Default)]
pub struct Account(std::sync::Arc<tokio::sync::OnceCell<String>>);

impl Account {
    pub fn new() -> Account {
        Account::default()
    }

    /// The account id, asked once however many kinds ask at the same time
    /// (`None` when the account has no security group to tell it).
    pub(crate) async fn get(&self, client: &Client) -> Result<Option<String>, ProviderError> {
        let owner = self
            .0
            .get_or_try_init(|| async {
                let out = client.describe_security_groups().max_results(5).send().await.map_err(from_sdk)?;
                Ok::<_, ProviderError>(
                    out.security_groups().iter().find_map(|g| g.owner_id()).unwrap_or_default().to_string(),
                )
            })
            .await?;
        Ok(Some(owner.clone()).filter(|o| !o.is_empty()))
    }
}

pub struct ElasticIp {
    client: Client,
    account: Account,
}

impl ElasticIp {
    pub fn new(client: Client) -> ElasticIp {
        ElasticIp { client, account: Account::new() }
    }

    /// Shares the account lookup with the run's other kinds.
    pub fn with_account(client: Client, account: Account) -> ElasticIp {
        ElasticIp { client, account }
    }

    async fn describe(&self, region: &str, filters: Vec<Filter>) -> Result<Vec<Observed>, ProviderError> {
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
            let mut properties = Props::new();
            properties.insert("domain".into(), json!(a.domain().map(|d| d.as_str()).unwrap_or("vpc")));
            properties.insert("public_ipv4_pool".into(), json!(a.public_ipv4_pool()));
            let mut attributes = Props::new();
            attributes.insert("id".into(), json!(id));
            attributes.insert("arn".into(), json!(arn(region, account.as_deref(), "elastic-ip", &id)));
            attributes.insert("public_ip".into(), json!(a.public_ip()));
            attributes.insert("allocation_id".into(), json!(id));
            found.push(Observed { id, properties, tags: tag_map(a.tags()), attributes });
        }
        Ok(found)
    }

    async fn find(&self, region: &str, id: &str) -> Result<Option<Observed>, ProviderError> {
        Ok(self.describe(region, vec![filter("allocation-id", &[id.to_string()])]).await?.into_iter().next())
    }

    async fn read_one(&self, region: &str, id: &str) -> Result<Observed, ProviderError> {
        self.find(region, id).await?.ok_or_else(|| {
            ProviderError::new(Some("InvalidAllocationID.NotFound".into()), format!("elastic IP {id} disappeared"))
        })
    }

    /// What holds the address now, if anything (`eni-…` or `i-…`).
    async fn holder(&self, id: &str) -> Result<Option<String>, ProviderError> {
        let out = self
            .client
            .describe_addresses()
            .filters(filter("allocation-id", &[id.to_string()]))
            .send()
            .await
            .map_err(from_sdk)?;
        Ok(out
            .addresses()
            .first()
            .and_then(|a| a.network_interface_id().or(a.instance_id()).filter(|s| !s.is_empty()).map(str::to_string)))
    }
}

const IN_USE_HINT: &str = "a NAT gateway or an instance still holds the address; delete it (or disassociate the \
                           address) first, then re-run";

#[async_trait]
impl ResourceKind for ElasticIp {
    fn schema(&self) -> &'static KindSchema {
        &SCHEMA
    }

    async fn read(&self, ctx: &ReadCtx, ids: &[String]) -> Result<Vec<Observed>, ProviderError> {
        in_chunks(ids, |chunk| self.describe(&ctx.region, vec![filter("allocation-id", chunk)])).await
    }

    async fn find_tagged(&self, ctx: &ReadCtx) -> Result<Vec<(String, Observed)>, ProviderError> {
        let found = self.describe(&ctx.region, vec![stack_filter(&ctx.stack)]).await?;
        Ok(found
            .into_iter()
            .filter(|o| in_stack(o, &ctx.stack))
            .filter_map(|o| Some((address_tag(&o.tags)?, o)))
            .collect())
    }

    async fn create(&self, ctx: &OpCtx, desired: &Props) -> Result<Observed, ProviderError> {
        let s = |k: &str| desired.get(k).and_then(Value::as_str).map(str::to_string);
        // AllocateAddress takes no client token: a crash before the id is
        // recorded is covered by adoption by tag.
        let out = self
            .client
            .allocate_address()
            .domain(DomainType::from(s("domain").as_deref().unwrap_or("vpc")))
            .set_public_ipv4_pool(s("public_ipv4_pool"))
            .tag_specifications(tag_spec(ResourceType::ElasticIp, &ctx.tags))
            .send()
            .await
            .map_err(from_sdk)?;
        let id = out.allocation_id().unwrap_or_default().to_string();
        ctx.record_id(&id);
        // EC2 is eventually consistent: wait until DescribeAddresses sees it.
        let (this, region, aid) = (self, ctx.region.as_str(), id.as_str());
        let found = ctx
            .wait_for("elastic IP to be visible", move || async move {
                Ok(match this.find(region, aid).await? {
                    Some(o) => Poll::Ready(o),
                    None => Poll::Pending("not visible yet".into()),
                })
            })
            .await?;
        Ok(found)
    }

    async fn update(
        &self,
        ctx: &OpCtx,
        current: &Observed,
        _desired: &Props,
        changed: &[String],
    ) -> Result<Observed, ProviderError> {
        // Both properties force a replacement: only tags change in place.
        if changed.iter().any(|c| c == "tags") {
            converge_tags(&self.client, &current.id, &current.tags, ctx).await?;
        }
        self.read_one(&ctx.region, &current.id).await
    }

    async fn delete(&self, ctx: &OpCtx, current: &Observed, _recorded: &Props) -> Result<(), ProviderError> {
        let this = self;
        let id = current.id.as_str();
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

/// Whether a resource found with the stack filter really carries the stack
/// tag: the emulator (moto) ignores tag filters on some Describe calls
/// (DescribeNatGateways), and adoption must never take another stack's.
pub(crate) fn in_stack(o: &Observed, stack: &str) -> bool {
    o.tags.get(deployctl_engine::kind::TAG_STACK).map(String::as_str) == Some(stack)
}
