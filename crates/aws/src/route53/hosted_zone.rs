//! `route53.hosted_zone`: a public hosted zone.
//!
//! Create is CreateHostedZone with the step's client token as the caller
//! reference, then the tags (CreateHostedZone takes none). A create
//! repeated by a run killed before it recorded the id finds the zone it
//! made by that caller reference (AWS refuses a second zone with it; the
//! local emulator makes one: the look-up keeps both right). The comment
//! changes in place; the name forces a new zone, whose name servers then
//! have to be delegated again.
//!
//! Reads: one GetHostedZone per zone, and the tags of up to ten zones in
//! one ListTagsForResources. Delete refuses a zone that still has records
//! of its own, unless `force_destroy` (recorded in state) says to delete
//! them first.

use super::{bare_zone_id, dns_name, wait_insync};
use crate::error::from_sdk;
use crate::kit::tagger::Route53Tags;
use crate::kit::{attrs, model, own_tags, Adopt, Created, Kind, Live, Model, Tagger, Tags};
use aws_sdk_route53::types::{
    Change, ChangeAction, ChangeBatch, HostedZone as Zone, HostedZoneConfig, RrType, Tag, TagResourceType,
};
use aws_sdk_route53::Client;
use deployctl_engine::{Observed, OpCtx, Props, ProviderError, ReadCtx};
use deployctl_spec::{Attr, KindSchema};
use futures::future::try_join_all;
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};

model! {
    pub struct HostedZoneModel {
        name: String = "The domain, e.g. `shop.example.com` (no trailing dot)."
            [required, replace, name(1, 253, "A-Za-z0-9.-")],
        comment: String = "What the zone is for." [default("\"Managed by deployctl\"")],
        force_destroy: bool = "Whether destroy deletes the records left in the zone first. Default: \
            refuse, naming them." [default("false"), state_only],
    }
}

pub static SCHEMA: KindSchema = KindSchema {
    type_name: "route53.hosted_zone",
    doc: "A public Route 53 hosted zone. Delegate the domain to its `name_servers` at the registrar (or in the \
          parent zone). A zone deployctl does not own is looked up with `data:` instead. Changing the name makes \
          a new zone; the comment changes in place.",
    properties: <HostedZoneModel as Model>::PROPS,
    attributes: &[
        Attr { name: "id", doc: "The zone id, e.g. `Z0123456789ABCDEFGHIJ`." },
        Attr { name: "zone_id", doc: "The zone id, for `route53.record`'s `zone_id`." },
        Attr { name: "name", doc: "The domain." },
        Attr { name: "name_servers", doc: "The four name servers to delegate the domain to." },
    ],
    taggable: true,
    rules: &[],
    example: "zone:\n  type: route53.hosted_zone\n  properties:\n    name: shop.example.com\n    comment: the shop's public names\n",
};

fn attributes(id: &str, name: &str, name_servers: &[String]) -> Props {
    attrs([("id", json!(id)), ("zone_id", json!(id)), ("name", json!(name)), ("name_servers", json!(name_servers))])
}

pub struct HostedZone {
    client: Client,
    tags: Route53Tags,
}

impl HostedZone {
    pub fn new(client: Client) -> HostedZone {
        HostedZone { tags: Route53Tags(client.clone()), client }
    }

    /// The tags of `ids`, ten zones per call; a zone without an entry is gone.
    async fn tags_of(&self, ids: &[String]) -> Result<BTreeMap<String, Tags>, ProviderError> {
        let calls = ids.chunks(10).map(|chunk| async move {
            let call = self.client.list_tags_for_resources().resource_type(TagResourceType::Hostedzone);
            match call.set_resource_ids(Some(chunk.to_vec())).send().await.map_err(from_sdk) {
                Ok(out) => Ok(out.resource_tag_sets),
                // One zone of the batch is gone: ask for each.
                Err(e) if e.code_is("NoSuchHostedZone") && chunk.len() > 1 => {
                    let mut sets = Vec::new();
                    for id in chunk {
                        let call = self.client.list_tags_for_resources().resource_type(TagResourceType::Hostedzone);
                        match call.resource_ids(id).send().await.map_err(from_sdk) {
                            Ok(out) => sets.extend(out.resource_tag_sets),
                            Err(e) if e.code_is("NoSuchHostedZone") => {}
                            Err(e) => return Err(e),
                        }
                    }
                    Ok(sets)
                }
                Err(e) if e.code_is("NoSuchHostedZone") => Ok(Vec::new()),
                Err(e) => Err(e),
            }
        });
        let mut out = BTreeMap::new();
        for set in try_join_all(calls).await?.into_iter().flatten() {
            let id = bare_zone_id(set.resource_id().unwrap_or_default());
            out.insert(id, own_tags(set.tags().iter().map(|t| (t.key().unwrap_or(""), t.value().unwrap_or("")))));
        }
        Ok(out)
    }

    async fn get(&self, id: &str) -> Result<Option<(Zone, Vec<String>)>, ProviderError> {
        match self.client.get_hosted_zone().id(id).send().await.map_err(from_sdk) {
            Ok(out) => {
                let ns = out.delegation_set().map(|d| d.name_servers().to_vec()).unwrap_or_default();
                Ok(out.hosted_zone.map(|z| (z, ns)))
            }
            Err(e) if e.code_is("NoSuchHostedZone") => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The zones named `name` (the first page of the by-name listing, which
    /// starts at it).
    async fn named(&self, name: &str) -> Result<Vec<Zone>, ProviderError> {
        let out = self.client.list_hosted_zones_by_name().dns_name(name).send().await.map_err(from_sdk)?;
        Ok(out.hosted_zones.into_iter().filter(|z| dns_name(z.name()) == dns_name(name)).collect())
    }

    fn live(z: &Zone, ns: &[String], tags: Tags) -> Live<HostedZoneModel> {
        let id = bare_zone_id(z.id());
        let name = dns_name(z.name());
        let model = HostedZoneModel {
            name: name.clone(),
            comment: z.config().and_then(|c| c.comment()).unwrap_or_default().to_string(),
            force_destroy: false,
        };
        Live { attributes: attributes(&id, &name, ns), id, model, tags }
    }
}

#[async_trait::async_trait]
impl Kind for HostedZone {
    type Model = HostedZoneModel;
    const ADOPT: Adopt = Adopt::Custom;
    const GONE: &'static [&'static str] = &["NoSuchHostedZone"];

    fn schema(&self) -> &'static KindSchema {
        &SCHEMA
    }

    fn tagger(&self) -> Option<&dyn Tagger> {
        Some(&self.tags)
    }

    async fn read(&self, _ctx: &ReadCtx, ids: &[String]) -> Result<Vec<Live<HostedZoneModel>>, ProviderError> {
        let (zones, mut tags) = futures::try_join!(try_join_all(ids.iter().map(|id| self.get(id))), self.tags_of(ids))?;
        Ok(zones
            .into_iter()
            .flatten()
            .filter_map(|(z, ns)| {
                let tags = tags.remove(&bare_zone_id(z.id()))?;
                Some(Self::live(&z, &ns, tags))
            })
            .collect())
    }

    async fn find_existing(
        &self,
        ctx: &ReadCtx,
        wanted: &[(String, Props)],
    ) -> Result<Vec<(String, Observed)>, ProviderError> {
        let names: BTreeSet<&str> = wanted.iter().filter_map(|(_, p)| p.get("name")?.as_str()).collect();
        let zones = try_join_all(names.iter().map(|n| self.named(n))).await?;
        let ids: Vec<String> = zones.iter().flatten().map(|z| bare_zone_id(z.id())).collect();
        let found = self.read(ctx, &ids).await?;
        Ok(crate::kit::this_stacks(found, &ctx.stack))
    }

    async fn create(&self, ctx: &OpCtx, want: &HostedZoneModel) -> Result<Created, ProviderError> {
        // A run killed after CreateHostedZone: the zone with this step's
        // caller reference is this resource's.
        let earlier = match ctx.interrupted_create {
            true => self.named(&want.name).await?.into_iter().find(|z| z.caller_reference() == ctx.client_token),
            false => None,
        };
        let (zone, change) = match earlier {
            Some(z) => {
                ctx.progress(
                    format!("found zone {} made by the interrupted run", bare_zone_id(z.id())),
                    Default::default(),
                );
                (z, None)
            }
            None => {
                let config = HostedZoneConfig::builder().comment(&want.comment).private_zone(false).build();
                let out = self
                    .client
                    .create_hosted_zone()
                    .name(&want.name)
                    .caller_reference(&ctx.client_token)
                    .hosted_zone_config(config)
                    .send()
                    .await
                    .map_err(from_sdk)?;
                let change = out.change_info().map(|c| c.id().to_string());
                let zone = out.hosted_zone.ok_or_else(|| ProviderError::msg("CreateHostedZone answered no zone"))?;
                (zone, change)
            }
        };
        let id = bare_zone_id(zone.id());
        ctx.record_id(&id);
        let tags: Vec<Tag> = ctx.tags.iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect();
        let call = self.client.change_tags_for_resource().resource_type(TagResourceType::Hostedzone);
        call.resource_id(&id).set_add_tags(Some(tags)).send().await.map_err(from_sdk)?;
        wait_insync(ctx, &self.client, change.as_deref()).await?;
        let ns = self.get(&id).await?.map(|(_, ns)| ns).unwrap_or_default();
        Ok(Created { attributes: attributes(&id, &dns_name(&want.name), &ns), id })
    }

    async fn update(
        &self,
        _: &OpCtx,
        live: &Observed,
        want: &HostedZoneModel,
        changed: &[&str],
    ) -> Result<Option<Props>, ProviderError> {
        if changed.contains(&"comment") {
            let call = self.client.update_hosted_zone_comment().id(&live.id).comment(&want.comment);
            call.send().await.map_err(from_sdk)?;
        }
        Ok(None)
    }

    async fn delete(
        &self,
        ctx: &OpCtx,
        live: &Observed,
        recorded: Option<&HostedZoneModel>,
    ) -> Result<(), ProviderError> {
        // Every record but the zone's own SOA and NS at its apex.
        let apex = live.attributes.get("name").and_then(|n| n.as_str()).map(dns_name).unwrap_or_default();
        let mut left = Vec::new();
        for r in super::all_records(&self.client, &live.id).await? {
            let own = dns_name(r.name()) == apex && matches!(r.r#type(), RrType::Soa | RrType::Ns);
            if !own {
                left.push(r);
            }
        }
        if !left.is_empty() {
            if !recorded.is_some_and(|r| r.force_destroy) {
                let names: Vec<String> =
                    left.iter().take(5).map(|r| format!("{} {}", dns_name(r.name()), r.r#type().as_str())).collect();
                return Err(ProviderError::new(
                    Some("HostedZoneNotEmpty".into()),
                    format!(
                        "hosted zone {} still has {} records of its own ({})",
                        live.id,
                        left.len(),
                        names.join(", ")
                    ),
                )
                .with_hint("delete those records, or set force_destroy: true on the zone and run up before destroy"));
            }
            let changes =
                left.into_iter().map(|r| Change::builder().action(ChangeAction::Delete).resource_record_set(r).build());
            let changes = changes.collect::<Result<Vec<_>, _>>().map_err(|e| ProviderError::msg(e.to_string()))?;
            for batch in changes.chunks(500) {
                let batch = ChangeBatch::builder().set_changes(Some(batch.to_vec())).build();
                let batch = batch.map_err(|e| ProviderError::msg(e.to_string()))?;
                let out = self.client.change_resource_record_sets().hosted_zone_id(&live.id).change_batch(batch);
                let out = out.send().await.map_err(from_sdk)?;
                wait_insync(ctx, &self.client, out.change_info().map(|c| c.id())).await?;
            }
        }
        self.client.delete_hosted_zone().id(&live.id).send().await.map_err(from_sdk)?;
        Ok(())
    }
}
