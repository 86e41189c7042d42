//! `ec2.route_table`: a route table of our own, its routes and its subnet
//! associations.
//!
//! Only tables deployctl created are managed: never the VPC's main table.
//! The routes read back are the ones made by CreateRoute: the `local` route
//! (origin CreateRouteTable), propagated routes and the routes a gateway VPC
//! endpoint adds (a prefix list to `vpce-…`, owned by the endpoint) are left
//! out, and never touched. Routes are keyed by their destination: a changed
//! target is a ReplaceRoute. A subnet explicitly associated with another
//! table is moved with ReplaceRouteTableAssociation.

use super::*;
use crate::kit::{attrs, model, Adopt, Created, Kind, Live, Tagger};
use aws_sdk_ec2::types::{ResourceType, Route, RouteOrigin, RouteTable as Table, RouteTableAssociationStateCode};
use deployctl_engine::diff::normalize;
use deployctl_engine::{Observed, Props, ReadCtx};
use deployctl_spec::{Attr, KindSchema, Prop, Type};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

static ROUTE: [Prop; 9] = [
    Prop::new("destination_cidr_block", Type::String, "An IPv4 destination, e.g. `0.0.0.0/0`."),
    Prop::new("destination_ipv6_cidr_block", Type::String, "An IPv6 destination, e.g. `::/0`."),
    Prop::new("destination_prefix_list_id", Type::String, "A managed prefix list as the destination, `pl-…`."),
    Prop::new("gateway_id", Type::String, "An internet gateway or virtual private gateway, `igw-…` or `vgw-…`."),
    Prop::new("nat_gateway_id", Type::String, "A NAT gateway, e.g. `${nat.id}`."),
    Prop::new("vpc_endpoint_id", Type::String, "A Gateway Load Balancer endpoint, `vpce-…`."),
    Prop::new("transit_gateway_id", Type::String, "A transit gateway, `tgw-…`."),
    Prop::new("vpc_peering_connection_id", Type::String, "A VPC peering connection, `pcx-…`."),
    Prop::new("network_interface_id", Type::String, "A network interface, `eni-…`."),
];
static ROUTE_TYPE: Type = Type::Object(&ROUTE);

const DESTINATIONS: [&str; 3] = ["destination_cidr_block", "destination_ipv6_cidr_block", "destination_prefix_list_id"];
const TARGETS: [&str; 6] = [
    "gateway_id",
    "nat_gateway_id",
    "vpc_endpoint_id",
    "transit_gateway_id",
    "vpc_peering_connection_id",
    "network_interface_id",
];

model! {
    pub struct RouteTableModel {
        vpc_id: String = "The VPC, usually `${vpc.id}`." [required, replace],
        routes: Option<Vec<Value>> = "The routes. Unset: not managed." [typed(Type::Set(&ROUTE_TYPE))],
        subnet_ids: Option<Vec<String>> = "The subnets that use this table. A subnet associated with another \
            table is moved to this one. Unset: not managed.",
    }
}

pub static SCHEMA: KindSchema = KindSchema {
    type_name: "ec2.route_table",
    doc: "A route table of a VPC, with its routes and the subnets it is associated with, all updated in place. \
          Each route has exactly one destination (destination_cidr_block, destination_ipv6_cidr_block or \
          destination_prefix_list_id) and one target. The `local` route and the routes of gateway VPC endpoints \
          are not listed and never touched. The VPC's main route table is never managed.",
    properties: <RouteTableModel as crate::kit::Model>::PROPS,
    attributes: &[
        Attr { name: "id", doc: "The route table id, `rtb-…`." },
        Attr { name: "arn", doc: "The route table's ARN." },
        Attr { name: "vpc_id", doc: "The VPC." },
    ],
    taggable: true,
    rules: &[],
    example: "private_rt:\n  type: ec2.route_table\n  properties:\n    vpc_id: ${vpc.id}\n    routes:\n      - {destination_cidr_block: 0.0.0.0/0, nat_gateway_id: \"${nat.id}\"}\n    subnet_ids: [\"${private_a.id}\", \"${private_b.id}\"]\n",
};

/// Sets a route's destination and target on a CreateRoute or a ReplaceRoute
/// request: their builders share the setters but not a type.
macro_rules! route_request {
    ($req:expr, $s:expr) => {
        $req.set_destination_cidr_block($s("destination_cidr_block"))
            .set_destination_ipv6_cidr_block($s("destination_ipv6_cidr_block"))
            .set_destination_prefix_list_id($s("destination_prefix_list_id"))
            .set_gateway_id($s("gateway_id"))
            .set_nat_gateway_id($s("nat_gateway_id"))
            .set_vpc_endpoint_id($s("vpc_endpoint_id"))
            .set_transit_gateway_id($s("transit_gateway_id"))
            .set_vpc_peering_connection_id($s("vpc_peering_connection_id"))
            .set_network_interface_id($s("network_interface_id"))
    };
}

pub struct RouteTable {
    client: Client,
    tags: crate::kit::tagger::Ec2Tags,
    tagged: Tagged,
}

/// Whether a live route is one of ours: made by CreateRoute, not the local
/// route, not a gateway endpoint's.
fn managed(r: &Route) -> bool {
    if r.gateway_id() == Some("local") {
        return false;
    }
    if !matches!(r.origin(), None | Some(RouteOrigin::CreateRoute)) {
        return false;
    }
    let endpoint_route = r.destination_prefix_list_id().is_some() && r.gateway_id().is_some_and(is_endpoint);
    !endpoint_route
}

fn is_endpoint(id: &str) -> bool {
    id.starts_with("vpce-")
}

/// A live route in the spec's shape. DescribeRouteTables reports a
/// Gateway Load Balancer endpoint target as GatewayId.
fn route_value(r: &Route) -> Value {
    let mut m = Map::new();
    let mut put = |k: &str, v: Option<&str>| {
        if let Some(v) = v.filter(|v| !v.is_empty()) {
            m.insert(k.into(), json!(v));
        }
    };
    put("destination_cidr_block", r.destination_cidr_block());
    put("destination_ipv6_cidr_block", r.destination_ipv6_cidr_block());
    put("destination_prefix_list_id", r.destination_prefix_list_id());
    match r.gateway_id() {
        Some(g) if is_endpoint(g) => put("vpc_endpoint_id", Some(g)),
        g => put("gateway_id", g),
    }
    put("nat_gateway_id", r.nat_gateway_id());
    put("transit_gateway_id", r.transit_gateway_id());
    put("vpc_peering_connection_id", r.vpc_peering_connection_id());
    put("network_interface_id", r.network_interface_id());
    Value::Object(m)
}

/// The explicit subnet associations of a table: subnet id → association id.
fn subnet_associations(t: &Table) -> BTreeMap<String, String> {
    t.associations()
        .iter()
        .filter(|a| a.main() != Some(true))
        .filter(|a| {
            matches!(
                a.association_state().and_then(|s| s.state()),
                None | Some(RouteTableAssociationStateCode::Associated | RouteTableAssociationStateCode::Associating)
            )
        })
        .filter_map(|a| Some((a.subnet_id()?.to_string(), a.route_table_association_id()?.to_string())))
        .collect()
}

fn attributes(region: &str, t: &Table) -> Props {
    let id = t.route_table_id().unwrap_or_default();
    attrs([
        ("id", json!(id)),
        ("arn", json!(arn(region, t.owner_id(), "route-table", id))),
        ("vpc_id", json!(t.vpc_id())),
    ])
}

fn observed(region: &str, t: &Table) -> Live<RouteTableModel> {
    Live {
        id: t.route_table_id().unwrap_or_default().to_string(),
        model: RouteTableModel {
            vpc_id: t.vpc_id().unwrap_or_default().to_string(),
            routes: Some(t.routes().iter().filter(|r| managed(r)).map(route_value).collect()),
            subnet_ids: Some(subnet_associations(t).into_keys().collect()),
        },
        tags: tag_map(t.tags()),
        attributes: attributes(region, t),
    }
}

/// A route's destination: (field, value). Checks that it has exactly one
/// destination and one target.
fn destination(route: &Value, index: usize) -> Result<(&'static str, String), ProviderError> {
    let s = |k: &str| route.get(k).and_then(Value::as_str).filter(|v| !v.is_empty());
    let dests: Vec<&'static str> = DESTINATIONS.iter().copied().filter(|k| s(k).is_some()).collect();
    let targets: Vec<&'static str> = TARGETS.iter().copied().filter(|k| s(k).is_some()).collect();
    let which = |given: &[&str]| if given.is_empty() { "none".to_string() } else { given.join(" and ") };
    if dests.len() != 1 {
        return Err(ProviderError::msg(format!(
            "routes[{index}] needs exactly one of {} (it has {})",
            DESTINATIONS.join(", "),
            which(&dests)
        ))
        .with_hint("write one route per destination"));
    }
    if targets.len() != 1 {
        return Err(ProviderError::msg(format!(
            "routes[{index}] needs exactly one target: one of {} (it has {})",
            TARGETS.join(", "),
            which(&targets)
        )));
    }
    Ok((dests[0], s(dests[0]).unwrap_or_default().to_string()))
}

/// Routes keyed by destination; a destination written twice is an error.
fn by_destination(routes: &[Value]) -> Result<BTreeMap<(&'static str, String), &Value>, ProviderError> {
    let mut out = BTreeMap::new();
    for (i, r) in routes.iter().enumerate() {
        let key = destination(r, i)?;
        if out.insert(key.clone(), r).is_some() {
            return Err(ProviderError::msg(format!("routes[{i}]: destination {} is routed twice", key.1)));
        }
    }
    Ok(out)
}

/// A live route keyed by destination (a live route always has one).
fn live_key(r: &Value) -> Option<(&'static str, String)> {
    DESTINATIONS.iter().find_map(|k| Some((*k, r.get(*k)?.as_str()?.to_string())))
}

impl RouteTable {
    /// Shares the run's one DescribeTags of the stack with the other EC2 kinds.
    pub fn sharing(mut self, tagged: Tagged) -> Self {
        self.tagged = tagged;
        self
    }

    pub fn new(client: Client) -> RouteTable {
        RouteTable { tags: crate::kit::tagger::Ec2Tags(client.clone()), tagged: Tagged::default(), client }
    }

    async fn describe(&self, filters: Vec<Filter>) -> Result<Vec<Table>, ProviderError> {
        let mut pages = self.client.describe_route_tables().set_filters(Some(filters)).into_paginator().send();
        let mut out = Vec::new();
        while let Some(page) = pages.next().await {
            out.extend(page.map_err(from_sdk)?.route_tables.unwrap_or_default());
        }
        Ok(out)
    }

    async fn raw(&self, id: &str) -> Result<Option<Table>, ProviderError> {
        Ok(self.describe(vec![filter("route-table-id", &[id.to_string()])]).await?.into_iter().next())
    }

    async fn read_raw(&self, id: &str) -> Result<Table, ProviderError> {
        self.raw(id).await?.ok_or_else(|| {
            ProviderError::new(Some("InvalidRouteTableID.NotFound".into()), format!("route table {id} disappeared"))
        })
    }

    /// Brings the table's routes to `want`: delete what is not wanted,
    /// replace what goes elsewhere, create what is missing.
    async fn converge_routes(&self, id: &str, want: &[Value], live: &Table) -> Result<(), ProviderError> {
        let want = by_destination(want)?;
        let have: Vec<Value> = live.routes().iter().filter(|r| managed(r)).map(route_value).collect();
        let have: BTreeMap<(&'static str, String), &Value> =
            have.iter().filter_map(|r| Some((live_key(r)?, r))).collect();
        for key in have.keys().filter(|k| !want.contains_key(*k)) {
            let req = self.client.delete_route().route_table_id(id);
            let req = match key.0 {
                "destination_cidr_block" => req.destination_cidr_block(&key.1),
                "destination_ipv6_cidr_block" => req.destination_ipv6_cidr_block(&key.1),
                _ => req.destination_prefix_list_id(&key.1),
            };
            match req.send().await.map(|_| ()).map_err(from_sdk) {
                Err(e) if !crate::is_not_found(&e) => return Err(e),
                _ => {}
            }
        }
        for (key, route) in &want {
            let s = |k: &str| route.get(k).and_then(Value::as_str).filter(|v| !v.is_empty()).map(str::to_string);
            match have.get(key) {
                Some(h) if normalize(&ROUTE_TYPE, h) == normalize(&ROUTE_TYPE, route) => {}
                Some(_) => {
                    route_request!(self.client.replace_route().route_table_id(id), s).send().await.map_err(from_sdk)?;
                }
                None => {
                    route_request!(self.client.create_route().route_table_id(id), s).send().await.map_err(from_sdk)?;
                }
            }
        }
        Ok(())
    }

    /// Associates exactly `want` with the table: disassociates the rest,
    /// moves subnets explicitly associated elsewhere, associates the others.
    async fn converge_subnets(&self, id: &str, want: &[String], live: &Table) -> Result<(), ProviderError> {
        let have = subnet_associations(live);
        for (subnet, assoc) in &have {
            if !want.contains(subnet) {
                self.disassociate(assoc).await?;
            }
        }
        let missing: Vec<String> = want.iter().filter(|s| !have.contains_key(*s)).cloned().collect();
        if missing.is_empty() {
            return Ok(());
        }
        // Where the missing subnets are now (explicitly): one call for the
        // VPC's tables (a multi-valued `association.subnet-id` filter means
        // "any of" on AWS but "all of" on moto).
        let vpc = live.vpc_id().unwrap_or_default().to_string();
        let mut elsewhere: BTreeMap<String, String> = BTreeMap::new();
        for t in self.describe(vec![filter("vpc-id", &[vpc])]).await? {
            if t.route_table_id() == Some(id) {
                continue;
            }
            for (subnet, assoc) in subnet_associations(&t) {
                if missing.contains(&subnet) {
                    elsewhere.insert(subnet, assoc);
                }
            }
        }
        // One call per subnet, all at once.
        let elsewhere = &elsewhere;
        let moves = missing.iter().map(|subnet| async move {
            match elsewhere.get(subnet) {
                Some(assoc) => self
                    .client
                    .replace_route_table_association()
                    .association_id(assoc)
                    .route_table_id(id)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(from_sdk),
                None => self
                    .client
                    .associate_route_table()
                    .route_table_id(id)
                    .subnet_id(subnet)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(from_sdk),
            }
        });
        futures::future::try_join_all(moves).await?;
        Ok(())
    }

    async fn disassociate(&self, assoc: &str) -> Result<(), ProviderError> {
        ignore_not_found(
            self.client.disassociate_route_table().association_id(assoc).send().await.map(|_| ()).map_err(from_sdk),
        )
    }

    /// Brings the routes and associations named in `fields` to `want`,
    /// from `live`, the table as it is now.
    async fn converge(&self, live: &Table, want: &RouteTableModel, fields: &[&str]) -> Result<(), ProviderError> {
        let id = live.route_table_id().unwrap_or_default();
        // Routes and associations are independent: converged side by side.
        let routes = async {
            match (fields.contains(&"routes"), &want.routes) {
                (true, Some(routes)) => self.converge_routes(id, routes, live).await,
                _ => Ok(()),
            }
        };
        let subnets = async {
            match (fields.contains(&"subnet_ids"), &want.subnet_ids) {
                (true, Some(subnets)) => self.converge_subnets(id, subnets, live).await,
                _ => Ok(()),
            }
        };
        futures::try_join!(routes, subnets).map(|_| ())
    }
}

#[async_trait::async_trait]
impl Kind for RouteTable {
    type Model = RouteTableModel;
    const ADOPT: Adopt = Adopt::ByTag;

    fn schema(&self) -> &'static KindSchema {
        &SCHEMA
    }

    fn tagger(&self) -> Option<&dyn Tagger> {
        Some(&self.tags)
    }

    async fn read(&self, ctx: &ReadCtx, ids: &[String]) -> Result<Vec<Live<RouteTableModel>>, ProviderError> {
        let tables = in_chunks(ids, |chunk| self.describe(vec![filter("route-table-id", chunk)])).await?;
        Ok(tables.iter().map(|t| observed(&ctx.region, t)).collect())
    }

    async fn find_tagged(&self, ctx: &ReadCtx) -> Result<Vec<Live<RouteTableModel>>, ProviderError> {
        self.read(ctx, &self.tagged.ids(&self.client, &ctx.stack, "rtb-").await?).await
    }

    async fn create(&self, ctx: &OpCtx, want: &RouteTableModel) -> Result<Created, ProviderError> {
        // Check every route before creating anything.
        if let Some(routes) = &want.routes {
            by_destination(routes)?;
        }
        let out = self
            .client
            .create_route_table()
            .vpc_id(&want.vpc_id)
            .client_token(&ctx.client_token)
            .tag_specifications(tag_spec(ResourceType::RouteTable, &ctx.tags))
            .send()
            .await
            .map_err(from_sdk)?;
        let live = out.route_table().cloned().unwrap_or_else(|| Table::builder().build());
        let id = live.route_table_id().unwrap_or_default().to_string();
        ctx.record_id(&id);
        // The answer is the new table (its local route, no associations):
        // converge from it. Routes and associations that EC2 refuses while
        // the table is not visible everywhere yet are retried.
        let unseen = ["InvalidRouteTableID.NotFound"];
        crate::kit::retry_unseen(ctx, "route table to be visible", &unseen, || {
            self.converge(&live, want, &["routes", "subnet_ids"])
        })
        .await?;
        Ok(Created { attributes: attributes(&ctx.region, &live), id })
    }

    async fn update(
        &self,
        _ctx: &OpCtx,
        current: &Observed,
        want: &RouteTableModel,
        changed: &[&str],
    ) -> Result<Option<Props>, ProviderError> {
        // Association ids are not in the plan's view of the table: read it
        // once, now.
        let live = self.read_raw(&current.id).await?;
        self.converge(&live, want, changed).await?;
        Ok(None)
    }

    async fn delete(&self, _ctx: &OpCtx, current: &Observed, _: Option<&RouteTableModel>) -> Result<(), ProviderError> {
        let Some(live) = self.raw(&current.id).await? else { return Ok(()) };
        if live.associations().iter().any(|a| a.main() == Some(true)) {
            return Err(ProviderError::new(
                Some("DependencyViolation".into()),
                format!("route table {} is now the main route table of its VPC", current.id),
            )
            .with_hint("make another table the VPC's main route table, then re-run"));
        }
        // Every explicit association (subnets and gateway edges) blocks the delete.
        for a in live.associations() {
            let state = a.association_state().and_then(|s| s.state());
            let gone = matches!(
                state,
                Some(RouteTableAssociationStateCode::Disassociated | RouteTableAssociationStateCode::Failed)
            );
            if let (false, Some(assoc)) = (gone, a.route_table_association_id()) {
                self.disassociate(assoc).await?;
            }
        }
        self.client.delete_route_table().route_table_id(&current.id).send().await.map_err(from_sdk)?;
        Ok(())
    }
}
