//! `route53.record`: one record set (a name and a type) in a hosted zone:
//! plain values with a TTL, or an alias to a load balancer (or another AWS
//! name) that Route 53 resolves itself.
//!
//! The id is `ZONE_NAME_TYPE`, as in Terraform. Records have no tags: the
//! name and type are the natural key. Create is a CREATE change (refused
//! when the record exists); a create repeated by a run killed before it
//! recorded the id finds the record it made, with the values asked for,
//! and adopts it. A record that exists with other values is refused unless
//! `allow_overwrite` says to take it over (an UPSERT). Values, TTL and
//! alias change in place (UPSERT); the zone, name and type force a new
//! record. Each change waits until Route 53 serves it everywhere.
//!
//! Reads: the zone's records, 300 per ListResourceRecordSets page, once
//! per zone whatever the number of records read.

use super::{dns_name, wait_insync};
use crate::error::from_sdk;
use crate::kit::{attrs, model, Adopt, Created, Kind, Live, Model};
use aws_sdk_route53::types::{
    AliasTarget, Change, ChangeAction, ChangeBatch, ResourceRecord, ResourceRecordSet, RrType,
};
use aws_sdk_route53::Client;
use deployctl_engine::{Observed, OpCtx, Props, ProviderError, ReadCtx};
use deployctl_spec::{Attr, KindSchema, Literals, RuleViolation};
use futures::future::try_join_all;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// The record types deployctl writes.
const TYPES: &[&str] = &["A", "AAAA", "CAA", "CNAME", "MX", "NAPTR", "NS", "PTR", "SPF", "SRV", "TXT", "DS"];

model! {
    pub struct Alias {
        dns_name: String = "The target's DNS name, e.g. `${alb.dns_name}`." [required],
        zone_id: String = "The target's hosted zone, e.g. `${alb.zone_id}` (not the record's zone)." [required],
        evaluate_target_health: bool = "Whether Route 53 answers only while the target is healthy."
            [default("false")],
    }
}

model! {
    pub struct RecordModel {
        zone_id: String = "The hosted zone, e.g. `${zone.zone_id}` or `${data.zone.id}`." [required, replace],
        name: String = "The full name, e.g. `shop.example.com` (no trailing dot)."
            [required, replace, name(1, 253, "A-Za-z0-9._*-")],
        r#type as "type": String = "`A`, `AAAA`, `CNAME`, `TXT`, `MX`, …" [required, replace, one_of(TYPES)],
        ttl: Option<i64> = "Seconds resolvers may cache the answer (not with `alias`)." [range(0, 2147483647)],
        records: Option<Vec<String>> = "The values, e.g. `[\"${cert.validation_record_value}\"]` (not with `alias`).",
        alias: Option<Alias> = "An alias to an AWS name (a load balancer), instead of `ttl` and `records`.",
        allow_overwrite: bool = "Whether create takes over a record of that name and type that exists with \
            other values. Default: refuse." [default("false"), state_only],
    }
}

pub static SCHEMA: KindSchema = KindSchema {
    type_name: "route53.record",
    doc: "A DNS record set in a Route 53 hosted zone: values with a TTL (a CNAME that validates a certificate, \
          a TXT), or an A/AAAA alias to a load balancer. Values, TTL and alias change in place; the zone, name \
          and type make a new record. Records take no tags: a record of that name and type made by hand is \
          refused unless `allow_overwrite: true`.",
    properties: <RecordModel as Model>::PROPS,
    attributes: &[
        Attr { name: "id", doc: "`ZONE_NAME_TYPE`." },
        Attr { name: "fqdn", doc: "The record's name." },
    ],
    taggable: false,
    rules: &[alias_or_values],
    example: "www:\n  type: route53.record\n  properties:\n    zone_id: ${zone.zone_id}\n    name: shop.example.com\n    type: A\n    alias: {dns_name: \"${alb.dns_name}\", zone_id: \"${alb.zone_id}\"}\n",
};

/// An alias, or values with a TTL: AWS refuses both, and neither.
fn alias_or_values(p: &Literals) -> Option<RuleViolation> {
    let set = |k: &str| p.get(k).is_some_and(|v| !matches!(v, Some(Value::Null)));
    let v =
        |field, message: &str, hint: &str| Some(RuleViolation { field, message: message.into(), hint: hint.into() });
    match (set("alias"), set("records"), set("ttl")) {
        (true, true, _) | (true, _, true) => {
            v("alias", "an alias record takes no records or ttl", "remove records and ttl, or the alias")
        }
        (false, false, _) => v("", "a record needs records (with ttl) or an alias", "add records: [...] and ttl: 300"),
        (false, true, false) => v("records", "a record with values needs a ttl", "add ttl: 300"),
        _ => {
            let ty = match p.get("type") {
                Some(Some(Value::String(t))) => t.as_str(),
                _ => return None,
            };
            let n = match p.get("records") {
                Some(Some(Value::Array(r))) => r.len(),
                _ => return None,
            };
            (ty == "CNAME" && n > 1).then_some(())?;
            v("records", "a CNAME record has one value", "keep one value, or use another type")
        }
    }
}

fn record_id(zone: &str, name: &str, ty: &str) -> String {
    format!("{zone}_{}_{ty}", dns_name(name))
}

/// `ZONE_NAME_TYPE` → its parts.
fn parts(id: &str) -> Option<(&str, &str, &str)> {
    let (zone, rest) = id.split_once('_')?;
    let (name, ty) = rest.rsplit_once('_')?;
    Some((zone, name, ty))
}

fn attributes(id: &str, name: &str) -> Props {
    attrs([("id", json!(id)), ("fqdn", json!(dns_name(name)))])
}

fn record_set(want: &RecordModel) -> Result<ResourceRecordSet, ProviderError> {
    let alias = match &want.alias {
        Some(a) => Some(
            AliasTarget::builder()
                .dns_name(&a.dns_name)
                .hosted_zone_id(&a.zone_id)
                .evaluate_target_health(a.evaluate_target_health)
                .build()
                .map_err(|e| ProviderError::msg(e.to_string()))?,
        ),
        None => None,
    };
    let records = match &want.records {
        Some(values) => Some(
            values
                .iter()
                .map(|v| ResourceRecord::builder().value(v).build())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| ProviderError::msg(e.to_string()))?,
        ),
        None => None,
    };
    ResourceRecordSet::builder()
        .name(&want.name)
        .r#type(RrType::from(want.r#type.as_str()))
        .set_ttl(want.ttl.filter(|_| alias.is_none()))
        .set_resource_records(records.filter(|_| alias.is_none()))
        .set_alias_target(alias)
        .build()
        .map_err(|e| ProviderError::msg(e.to_string()))
}

fn model_of(zone: &str, r: &ResourceRecordSet) -> RecordModel {
    RecordModel {
        zone_id: zone.to_string(),
        name: dns_name(r.name()),
        r#type: r.r#type().as_str().to_string(),
        ttl: r.ttl(),
        records: Some(r.resource_records().iter().map(|v| v.value().to_string()).collect::<Vec<_>>())
            .filter(|v| !v.is_empty()),
        // Route 53 lists a load balancer's name with the `dualstack.` it
        // resolves through.
        alias: r.alias_target().map(|a| Alias {
            dns_name: dns_name(a.dns_name()).trim_start_matches("dualstack.").to_string(),
            zone_id: a.hosted_zone_id().to_string(),
            evaluate_target_health: a.evaluate_target_health(),
        }),
        allow_overwrite: false,
    }
}

/// The spec's alias target as Route 53 lists it (lower case, without the
/// `dualstack.` it may add), so that a read compares equal.
fn same_alias(a: &Alias, b: &Alias) -> bool {
    let norm = |n: &str| dns_name(n).trim_start_matches("dualstack.").to_string();
    norm(&a.dns_name) == norm(&b.dns_name)
        && a.zone_id == b.zone_id
        && a.evaluate_target_health == b.evaluate_target_health
}

pub struct Record {
    client: Client,
}

impl Record {
    pub fn new(client: Client) -> Record {
        Record { client }
    }

    /// Every record of one zone, by (name, type); none when the zone is gone.
    async fn zone_records(&self, zone: &str) -> Result<BTreeMap<(String, String), ResourceRecordSet>, ProviderError> {
        let mut out = BTreeMap::new();
        match super::all_records(&self.client, zone).await {
            Ok(records) => {
                for r in records {
                    out.insert((dns_name(r.name()), r.r#type().as_str().to_string()), r);
                }
            }
            Err(e) if e.code_is("NoSuchHostedZone") => {}
            Err(e) => return Err(e),
        }
        Ok(out)
    }

    async fn change(
        &self,
        ctx: &OpCtx,
        zone: &str,
        action: ChangeAction,
        set: ResourceRecordSet,
    ) -> Result<(), ProviderError> {
        let change = Change::builder().action(action).resource_record_set(set).build();
        let change = change.map_err(|e| ProviderError::msg(e.to_string()))?;
        let batch = ChangeBatch::builder().changes(change).build().map_err(|e| ProviderError::msg(e.to_string()))?;
        let out = self.client.change_resource_record_sets().hosted_zone_id(zone).change_batch(batch);
        let out = out.send().await.map_err(from_sdk)?;
        wait_insync(ctx, &self.client, out.change_info().map(|c| c.id())).await
    }

    fn live(id: &str, zone: &str, r: &ResourceRecordSet) -> Live<RecordModel> {
        Live {
            id: id.to_string(),
            model: model_of(zone, r),
            tags: Default::default(),
            attributes: attributes(id, r.name()),
        }
    }
}

/// Whether what Route 53 holds is what `want` asks for.
fn holds(want: &RecordModel, live: &RecordModel) -> bool {
    let values = |v: &Option<Vec<String>>| {
        let mut v = v.clone().unwrap_or_default();
        v.sort();
        v
    };
    let alias = match (&want.alias, &live.alias) {
        (Some(a), Some(b)) => same_alias(a, b),
        (None, None) => true,
        _ => false,
    };
    alias && values(&want.records) == values(&live.records) && (want.alias.is_some() || want.ttl == live.ttl)
}

#[async_trait::async_trait]
impl Kind for Record {
    type Model = RecordModel;
    const ADOPT: Adopt = Adopt::Never;

    fn schema(&self) -> &'static KindSchema {
        &SCHEMA
    }

    async fn read(&self, _ctx: &ReadCtx, ids: &[String]) -> Result<Vec<Live<RecordModel>>, ProviderError> {
        let mut by_zone: BTreeMap<&str, Vec<(&String, &str, &str)>> = BTreeMap::new();
        for id in ids {
            if let Some((zone, name, ty)) = parts(id) {
                by_zone.entry(zone).or_default().push((id, name, ty));
            }
        }
        let zones = try_join_all(by_zone.keys().map(|z| self.zone_records(z))).await?;
        let mut out = Vec::new();
        for ((zone, wanted), records) in by_zone.iter().zip(zones) {
            for (id, name, ty) in wanted {
                if let Some(r) = records.get(&(name.to_string(), ty.to_string())) {
                    out.push(Self::live(id, zone, r));
                }
            }
        }
        Ok(out)
    }

    async fn create(&self, ctx: &OpCtx, want: &RecordModel) -> Result<Created, ProviderError> {
        let id = record_id(&want.zone_id, &want.name, &want.r#type);
        let set = record_set(want)?;
        let action = if want.allow_overwrite { ChangeAction::Upsert } else { ChangeAction::Create };
        match self.change(ctx, &want.zone_id, action, set.clone()).await {
            Ok(()) => {}
            // It exists: this resource's own from an interrupted run (the
            // values asked for), or someone else's.
            Err(e) if e.code_is("InvalidChangeBatch") && e.message.contains("already exists") => {
                let records = self.zone_records(&want.zone_id).await?;
                let key = (dns_name(&want.name), want.r#type.clone());
                let live = records.get(&key).map(|r| model_of(&want.zone_id, r));
                if !live.as_ref().is_some_and(|l| holds(want, l)) {
                    return Err(ProviderError::new(
                        e.code.clone(),
                        format!(
                            "a {} record {} already exists in zone {} with other values",
                            want.r#type,
                            dns_name(&want.name),
                            want.zone_id
                        ),
                    )
                    .with_hint("set allow_overwrite: true to take it over, or delete it"));
                }
                ctx.progress(
                    format!("{} {} is there with these values already: adopted", want.r#type, dns_name(&want.name)),
                    Default::default(),
                );
            }
            Err(e) => return Err(e),
        }
        ctx.record_id(&id);
        Ok(Created { attributes: attributes(&id, &want.name), id })
    }

    async fn update(
        &self,
        ctx: &OpCtx,
        _: &Observed,
        want: &RecordModel,
        changed: &[&str],
    ) -> Result<Option<Props>, ProviderError> {
        if changed.iter().any(|c| *c != "allow_overwrite") {
            self.change(ctx, &want.zone_id, ChangeAction::Upsert, record_set(want)?).await?;
        }
        Ok(None)
    }

    async fn delete(&self, ctx: &OpCtx, live: &Observed, _: Option<&RecordModel>) -> Result<(), ProviderError> {
        // DELETE needs the values as Route 53 holds them.
        let Some((zone, name, ty)) = parts(&live.id) else { return Ok(()) };
        let records = self.zone_records(zone).await?;
        let Some(set) = records.get(&(name.to_string(), ty.to_string())) else { return Ok(()) };
        match self.change(ctx, zone, ChangeAction::Delete, set.clone()).await {
            Err(e) if e.code_is("InvalidChangeBatch") && e.message.contains("not found") => Ok(()),
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::kit::literals as lit;

    #[test]
    fn a_record_is_an_alias_or_values_with_a_ttl() {
        let alias = json!({"dns_name": "x", "zone_id": "Z"});
        assert!(alias_or_values(&lit(json!({"type": "A", "alias": alias}))).is_none());
        assert!(alias_or_values(&lit(json!({"type": "A", "alias": alias, "ttl": 60}))).is_some());
        assert!(alias_or_values(&lit(json!({"type": "TXT", "records": ["a"]}))).unwrap().hint.contains("ttl"));
        assert!(alias_or_values(&lit(json!({"type": "CNAME", "records": ["a", "b"], "ttl": 60}))).is_some());
        assert!(alias_or_values(&lit(json!({"type": "A"}))).is_some());
    }

    #[test]
    fn the_id_names_zone_name_and_type() {
        let id = record_id("Z123", "_abc.shop.example.com.", "CNAME");
        assert_eq!(id, "Z123__abc.shop.example.com_CNAME");
        assert_eq!(parts(&id), Some(("Z123", "_abc.shop.example.com", "CNAME")));
    }
}
