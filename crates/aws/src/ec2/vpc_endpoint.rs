//! `ec2.vpc_endpoint`: a VPC endpoint, Gateway (S3, DynamoDB: routes in
//! route tables) or Interface (network interfaces in subnets).
//!
//! Read with DescribeVpcEndpoints by id, 200 a call (AWS fails the whole call
//! when one id is gone: then each id is asked on its own, concurrently), plus
//! one DescribePrefixLists for the gateway endpoints' services. Deleted,
//! deleting, failed, rejected and expired endpoints are absent. Adoption
//! starts from the run's one DescribeTags of the stack.
//!
//! Create returns what CreateVpcEndpoint answers, after waiting for
//! `available` when the answer is not (interface endpoints take a minute or
//! two; the wait's last answer gives the attributes); a create interrupted
//! while waiting is finished by `resume`. The policy is read back as JSON
//! and compared as a document. The routes a gateway endpoint adds to its
//! route tables belong to it: `ec2.route_table` leaves them alone.

use super::*;
use crate::kit::tagger::Ec2Tags;
use crate::kit::{attrs, model, read_batched, Adopt, Created, Kind, Live, Model, Tagger};
use aws_sdk_ec2::types::{ResourceType, VpcEndpoint as Endpoint, VpcEndpointType};
use deployctl_engine::{Observed, Poll, Props, ReadCtx};
use deployctl_spec::{Attr, KindSchema, Literals, RuleViolation};
use serde_json::{json, Value};
use std::collections::BTreeMap;

const NOT_FOUND: &str = "InvalidVpcEndpointId.NotFound";

/// moto 5.2.5's ModifyVpcEndpoint does not add the routes of added route
/// tables, and its DeleteVpcEndpoints then fails on the missing route
/// (InvalidRoute.NotFound, which AWS never answers here): delete lets go of
/// the route tables and tries again.
const MOTO_5_2_5_MISSING_ROUTE: &str = "InvalidRoute.NotFound";

model! {
    pub struct VpcEndpointModel {
        vpc_id: String = "The VPC, usually `${vpc.id}`." [required, replace],
        service_name: String = "The service, e.g. `com.amazonaws.${region}.s3`." [required, replace],
        vpc_endpoint_type: String = "`Gateway` or `Interface` (or `GatewayLoadBalancer`)."
            [default("\"Gateway\""), replace, one_of(VpcEndpointType::values())],
        route_table_ids: Option<Vec<String>> = "Gateway: the route tables that get a route to the service. Unset: \
            not managed.",
        subnet_ids: Option<Vec<String>> = "Interface: the subnets (one per zone) that get a network interface. \
            Unset: not managed.",
        security_group_ids: Option<Vec<String>> = "Interface: the security groups of the network interfaces. \
            Unset: the VPC's default group, not managed.",
        private_dns_enabled: Option<bool> = "Interface: whether the service's own DNS name resolves to the \
            endpoint in the VPC. Unset: not managed.",
        policy_document: Option<Value> = "The endpoint policy, as YAML. Unset: not managed (AWS's default allows \
            everything).",
    }
}

pub static SCHEMA: KindSchema = KindSchema {
    type_name: "ec2.vpc_endpoint",
    doc: "A VPC endpoint: private access to an AWS service. A Gateway endpoint (S3, DynamoDB) adds routes to its \
          route tables; an Interface endpoint puts network interfaces in its subnets. Route tables, subnets, \
          security groups, private DNS and the policy are updated in place. Create waits until it is available.",
    properties: <VpcEndpointModel as Model>::PROPS,
    attributes: &[
        Attr { name: "id", doc: "The endpoint id, `vpce-…`." },
        Attr { name: "arn", doc: "The endpoint's ARN." },
        Attr { name: "dns_entries", doc: "Interface: the endpoint's DNS names." },
        Attr { name: "state", doc: "`available`, or `pending` / `pendingAcceptance` while it gets there." },
        Attr { name: "prefix_list_id", doc: "Gateway: the service's prefix list, `pl-…`, for security group rules." },
    ],
    taggable: true,
    rules: &[fits_its_type],
    example: "s3_endpoint:\n  type: ec2.vpc_endpoint\n  properties:\n    vpc_id: ${vpc.id}\n    service_name: com.amazonaws.${region}.s3\n    route_table_ids: [\"${private_rt.id}\"]\n    policy_document:\n      Statement:\n        - {Effect: Allow, Principal: \"*\", Action: \"s3:*\", Resource: \"*\"}\n",
};

/// A Gateway endpoint routes through route tables; the others put network
/// interfaces in subnets, with security groups and private DNS.
fn fits_its_type(p: &Literals) -> Option<RuleViolation> {
    let ty = match p.get("vpc_endpoint_type") {
        None | Some(Some(Value::Null)) => "Gateway",
        Some(v) => v.as_ref()?.as_str()?,
    };
    // Written: known at apply, or a literal that is not empty.
    let written = |k: &&str| match p.get(*k) {
        None | Some(Some(Value::Null)) => false,
        Some(Some(Value::Array(a))) => !a.is_empty(),
        Some(_) => true,
    };
    let (wrong, hint): (&[&'static str], _) = if ty == "Gateway" {
        (
            &["subnet_ids", "security_group_ids", "private_dns_enabled"],
            "a Gateway endpoint takes route_table_ids; subnets, security groups and private DNS are for Interface endpoints",
        )
    } else {
        (&["route_table_ids"], "route tables are for Gateway endpoints; this one takes subnet_ids")
    };
    let field = *wrong.iter().find(|k| written(k))?;
    Some(RuleViolation { field, message: format!("a {ty} endpoint takes no {field}"), hint: hint.into() })
}

pub struct VpcEndpoint {
    client: Client,
    tags: Ec2Tags,
    tagged: Tagged,
}

/// The endpoint's state, lower case. The SDK's enum spells the states
/// `Available`, `PendingAcceptance`, but the API answers `available`,
/// `pendingAcceptance`: compare the text.
fn state(e: &Endpoint) -> String {
    e.state().map(|s| s.as_str().to_ascii_lowercase()).unwrap_or_default()
}

/// Whether the endpoint is alive (or on its way).
fn is_live(e: &Endpoint) -> bool {
    !matches!(state(e).as_str(), "deleted" | "deleting" | "failed" | "rejected" | "expired")
}

fn is_gateway(e: &Endpoint) -> bool {
    matches!(e.vpc_endpoint_type(), None | Some(VpcEndpointType::Gateway))
}

/// The policy as the API takes it: JSON text.
fn policy_text(v: &Option<Value>) -> Option<String> {
    match v.as_ref()? {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

fn attributes(region: &str, e: &Endpoint, prefix_list: Option<&str>) -> Props {
    let id = e.vpc_endpoint_id().unwrap_or_default();
    let dns: Vec<&str> = e.dns_entries().iter().filter_map(|d| d.dns_name()).collect();
    attrs([
        ("id", json!(id)),
        ("arn", json!(arn(region, e.owner_id(), "vpc-endpoint", id))),
        ("dns_entries", json!(dns)),
        ("state", json!(e.state().map(|s| s.as_str()))),
        ("prefix_list_id", json!(prefix_list)),
    ])
}

/// An endpoint in the spec's shape.
fn live(region: &str, e: &Endpoint, prefix_lists: &BTreeMap<String, String>) -> Live<VpcEndpointModel> {
    let prefix_list = e.service_name().and_then(|s| prefix_lists.get(s)).filter(|_| is_gateway(e));
    Live {
        id: e.vpc_endpoint_id().unwrap_or_default().to_string(),
        model: VpcEndpointModel {
            vpc_id: e.vpc_id().unwrap_or_default().to_string(),
            service_name: e.service_name().unwrap_or_default().to_string(),
            vpc_endpoint_type: e.vpc_endpoint_type().map_or("Gateway", |t| t.as_str()).to_string(),
            route_table_ids: Some(e.route_table_ids().to_vec()),
            subnet_ids: Some(e.subnet_ids().to_vec()),
            security_group_ids: Some(e.groups().iter().filter_map(|g| g.group_id()).map(str::to_string).collect()),
            private_dns_enabled: e.private_dns_enabled(),
            policy_document: e.policy_document().map(|p| serde_json::from_str(p).unwrap_or_else(|_| json!(p))),
        },
        tags: tag_map(e.tags()),
        attributes: attributes(region, e, prefix_list.map(String::as_str)),
    }
}

/// What to add to a set and what to remove from it.
type Delta = (Option<Vec<String>>, Option<Vec<String>>);

/// What to add and remove to bring the set `live` to `want`; `None` when
/// nothing.
fn delta(want: &Option<Vec<String>>, live: Option<&Value>) -> Option<Delta> {
    let want = want.as_ref()?;
    let live: Vec<String> = live.and_then(|v| serde_json::from_value(v.clone()).ok()).unwrap_or_default();
    let add: Vec<String> = want.iter().filter(|w| !live.contains(w)).cloned().collect();
    let remove: Vec<String> = live.into_iter().filter(|l| !want.contains(l)).collect();
    let some = |l: Vec<String>| (!l.is_empty()).then_some(l);
    (!add.is_empty() || !remove.is_empty()).then(|| (some(add), some(remove)))
}

impl VpcEndpoint {
    /// Shares the run's one DescribeTags of the stack with the other EC2 kinds.
    pub fn sharing(mut self, tagged: Tagged) -> Self {
        self.tagged = tagged;
        self
    }

    pub fn new(client: Client) -> VpcEndpoint {
        VpcEndpoint { tags: Ec2Tags(client.clone()), tagged: Tagged::default(), client }
    }

    async fn describe(&self, ids: Vec<String>) -> Result<Vec<Endpoint>, ProviderError> {
        let mut pages = self.client.describe_vpc_endpoints().set_vpc_endpoint_ids(Some(ids)).into_paginator().send();
        let mut out = Vec::new();
        while let Some(page) = pages.next().await {
            out.extend(page.map_err(from_sdk)?.vpc_endpoints.unwrap_or_default());
        }
        Ok(out)
    }

    /// The endpoint `id` in whatever state; `None` when it is gone.
    async fn describe_one(&self, id: &str) -> Result<Option<Endpoint>, ProviderError> {
        Ok(read_batched(&[id.to_string()], 1, NOT_FOUND, |ids| self.describe(ids)).await?.into_iter().next())
    }

    /// The prefix lists of these services, by name (one call).
    async fn prefix_lists(&self, services: Vec<String>) -> Result<BTreeMap<String, String>, ProviderError> {
        let mut out = BTreeMap::new();
        if services.is_empty() {
            return Ok(out);
        }
        let mut pages =
            self.client.describe_prefix_lists().filters(filter("prefix-list-name", &services)).into_paginator().send();
        while let Some(page) = pages.next().await {
            for pl in page.map_err(from_sdk)?.prefix_lists.unwrap_or_default() {
                if let (Some(name), Some(id)) = (pl.prefix_list_name(), pl.prefix_list_id()) {
                    out.insert(name.to_string(), id.to_string());
                }
            }
        }
        Ok(out)
    }

    /// The attributes of an endpoint as an answer gives it, its service's
    /// prefix list looked up for a gateway endpoint.
    async fn attributes_of(&self, region: &str, e: &Endpoint) -> Result<Props, ProviderError> {
        let services: Vec<String> =
            e.service_name().filter(|_| is_gateway(e)).map(str::to_string).into_iter().collect();
        let lists = self.prefix_lists(services).await?;
        Ok(attributes(region, e, e.service_name().and_then(|s| lists.get(s)).map(String::as_str)))
    }

    /// Waits until the endpoint is available (or waits on its service's
    /// owner to accept it) and returns it as the last poll saw it.
    async fn wait_available(&self, ctx: &OpCtx, id: &str) -> Result<Endpoint, ProviderError> {
        let this = self;
        let e = ctx
            .wait_for("VPC endpoint to be available", move || async move {
                let Some(e) = this.describe_one(id).await? else { return Ok(Poll::Pending("not visible yet".into())) };
                Ok(match state(&e).as_str() {
                    // pendingAcceptance waits on the service's owner, not on AWS.
                    "available" | "pendingacceptance" => Poll::Ready(e),
                    s @ ("failed" | "rejected" | "expired" | "deleting" | "deleted") => {
                        let last = e.last_error();
                        let code = last.and_then(|l| l.code()).unwrap_or("VpcEndpointFailed");
                        let why = last.and_then(|l| l.message()).or(e.failure_reason()).unwrap_or("no reason given");
                        let message = format!("VPC endpoint {id} is {s}: {why}");
                        return Err(ProviderError::new(Some(code.to_string()), message));
                    }
                    "" => Poll::Pending("no state yet".into()),
                    s => Poll::Pending(s.to_string()),
                })
            })
            .await?;
        Ok(e)
    }

    async fn delete_once(&self, id: &str) -> Result<(), ProviderError> {
        let out = self.client.delete_vpc_endpoints().vpc_endpoint_ids(id).send().await.map_err(from_sdk)?;
        // Failures come back in the answer, not as an error.
        match out.unsuccessful().iter().find_map(|u| u.error()) {
            Some(e) => Err(ProviderError::new(e.code().map(str::to_string), e.message().unwrap_or("delete failed"))),
            None => Ok(()),
        }
    }
}

#[async_trait::async_trait]
impl Kind for VpcEndpoint {
    type Model = VpcEndpointModel;
    const ADOPT: Adopt = Adopt::ByTag;

    fn schema(&self) -> &'static KindSchema {
        &SCHEMA
    }

    fn tagger(&self) -> Option<&dyn Tagger> {
        Some(&self.tags)
    }

    async fn read(&self, ctx: &ReadCtx, ids: &[String]) -> Result<Vec<Live<VpcEndpointModel>>, ProviderError> {
        let found = read_batched(ids, FILTER_CHUNK, NOT_FOUND, |chunk| self.describe(chunk)).await?;
        let found: Vec<Endpoint> = found.into_iter().filter(is_live).collect();
        let services = found.iter().filter(|e| is_gateway(e)).filter_map(|e| e.service_name().map(str::to_string));
        let lists =
            self.prefix_lists(services.collect::<std::collections::BTreeSet<_>>().into_iter().collect()).await?;
        Ok(found.iter().map(|e| live(&ctx.region, e, &lists)).collect())
    }

    async fn find_tagged(&self, ctx: &ReadCtx) -> Result<Vec<Live<VpcEndpointModel>>, ProviderError> {
        self.read(ctx, &self.tagged.ids(&self.client, &ctx.stack, "vpce-").await?).await
    }

    async fn create(&self, ctx: &OpCtx, want: &VpcEndpointModel) -> Result<Created, ProviderError> {
        let list = |l: &Option<Vec<String>>| l.clone().filter(|l| !l.is_empty());
        let out = self
            .client
            .create_vpc_endpoint()
            .vpc_id(&want.vpc_id)
            .service_name(&want.service_name)
            .vpc_endpoint_type(VpcEndpointType::from(want.vpc_endpoint_type.as_str()))
            .set_route_table_ids(list(&want.route_table_ids))
            .set_subnet_ids(list(&want.subnet_ids))
            .set_security_group_ids(list(&want.security_group_ids))
            .set_private_dns_enabled(want.private_dns_enabled)
            .set_policy_document(policy_text(&want.policy_document))
            .client_token(&ctx.client_token)
            .tag_specifications(tag_spec(ResourceType::VpcEndpoint, &ctx.tags))
            .send()
            .await
            .map_err(from_sdk)?;
        let created = out.vpc_endpoint.unwrap_or_else(|| Endpoint::builder().build());
        let id = created.vpc_endpoint_id().unwrap_or_default().to_string();
        ctx.record_id(&id);
        // Gateway endpoints are available at once; interface ones take a
        // minute or two.
        let e = match state(&created).as_str() {
            "available" => created,
            _ => self.wait_available(ctx, &id).await?,
        };
        Ok(Created { attributes: self.attributes_of(&ctx.region, &e).await?, id })
    }

    async fn update(
        &self,
        ctx: &OpCtx,
        live: &Observed,
        want: &VpcEndpointModel,
        changed: &[&str],
    ) -> Result<Option<Props>, ProviderError> {
        let has = |f: &str| changed.contains(&f);
        let sets = |f: &str, w: &Option<Vec<String>>| delta(w, live.properties.get(f)).filter(|_| has(f));
        let routes = sets("route_table_ids", &want.route_table_ids).unwrap_or_default();
        let subnets = sets("subnet_ids", &want.subnet_ids).unwrap_or_default();
        let groups = sets("security_group_ids", &want.security_group_ids).unwrap_or_default();
        let dns = want.private_dns_enabled.filter(|_| has("private_dns_enabled"));
        let policy = policy_text(&want.policy_document).filter(|_| has("policy_document"));
        let any = [&routes, &subnets, &groups].iter().any(|(a, r)| a.is_some() || r.is_some());
        if !any && dns.is_none() && policy.is_none() {
            return Ok(None);
        }
        self.client
            .modify_vpc_endpoint()
            .vpc_endpoint_id(&live.id)
            .set_add_route_table_ids(routes.0)
            .set_remove_route_table_ids(routes.1)
            .set_add_subnet_ids(subnets.0)
            .set_remove_subnet_ids(subnets.1)
            .set_add_security_group_ids(groups.0)
            .set_remove_security_group_ids(groups.1)
            .set_private_dns_enabled(dns)
            .set_policy_document(policy)
            .send()
            .await
            .map_err(from_sdk)?;
        // Interface endpoints go back to pending while their network
        // interfaces change; the wait's answer has their new DNS names.
        let e = self.wait_available(ctx, &live.id).await?;
        let prefix_list = live.attributes.get("prefix_list_id").and_then(Value::as_str);
        let now = attributes(&ctx.region, &e, prefix_list);
        Ok(Some(now).filter(|a| *a != live.attributes))
    }

    async fn resume(&self, ctx: &OpCtx, current: &Observed) -> Result<Observed, ProviderError> {
        let e = self.wait_available(ctx, &current.id).await?;
        let prefix_list = current.attributes.get("prefix_list_id").and_then(Value::as_str);
        Ok(Observed { attributes: attributes(&ctx.region, &e, prefix_list), ..current.clone() })
    }

    async fn delete(&self, ctx: &OpCtx, live: &Observed, _: Option<&VpcEndpointModel>) -> Result<(), ProviderError> {
        let id = live.id.as_str();
        match self.delete_once(id).await {
            Err(e) if e.code_is(MOTO_5_2_5_MISSING_ROUTE) => {
                let tables = self.describe_one(id).await?.map(|e| e.route_table_ids().to_vec()).unwrap_or_default();
                if !tables.is_empty() {
                    let call = self.client.modify_vpc_endpoint().vpc_endpoint_id(id);
                    call.set_remove_route_table_ids(Some(tables)).send().await.map_err(from_sdk)?;
                }
                self.delete_once(id).await?;
            }
            other => other?,
        }
        let this = self;
        ctx.wait_for("VPC endpoint to be deleted", move || async move {
            Ok(match this.describe_one(id).await?.as_ref().map(state).as_deref() {
                None | Some("deleted" | "failed" | "rejected" | "expired") => Poll::Ready(()),
                Some(s) => Poll::Pending(s.to_string()),
            })
        })
        .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(p: Value) -> Option<&'static str> {
        let lit: Literals = p.as_object().unwrap().iter().map(|(k, v)| (k.clone(), Some(v.clone()))).collect();
        SCHEMA.rules.iter().find_map(|r| r(&lit)).map(|v| v.field)
    }

    #[test]
    fn gateways_take_route_tables_and_interfaces_subnets() {
        assert_eq!(refused(json!({"route_table_ids": ["rtb-1"]})), None);
        assert_eq!(refused(json!({"subnet_ids": ["subnet-1"]})), Some("subnet_ids"));
        assert_eq!(
            refused(json!({"vpc_endpoint_type": "Gateway", "private_dns_enabled": true})),
            Some("private_dns_enabled")
        );
        let interface =
            json!({"vpc_endpoint_type": "Interface", "subnet_ids": ["subnet-1"], "security_group_ids": ["sg-1"]});
        assert_eq!(refused(interface), None);
        assert_eq!(
            refused(json!({"vpc_endpoint_type": "Interface", "route_table_ids": ["rtb-1"]})),
            Some("route_table_ids")
        );
        assert_eq!(refused(json!({"vpc_endpoint_type": "Interface", "route_table_ids": []})), None);
        // Known at apply only: still written.
        let unknown: Literals =
            [("vpc_endpoint_type".into(), Some(json!("Interface"))), ("route_table_ids".into(), None)].into();
        assert!(SCHEMA.rules.iter().any(|r| r(&unknown).is_some()));
    }

    #[test]
    fn set_changes_add_and_remove() {
        let want = Some(vec!["a".to_string(), "b".to_string()]);
        assert_eq!(delta(&want, Some(&json!(["b", "c"]))), Some((Some(vec!["a".into()]), Some(vec!["c".into()]))));
        assert_eq!(delta(&want, Some(&json!(["a", "b"]))), None);
        assert_eq!(delta(&None, Some(&json!(["a"]))), None);
    }
}
