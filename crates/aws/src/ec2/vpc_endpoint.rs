//! `ec2.vpc_endpoint`: a VPC endpoint, Gateway (S3, DynamoDB: routes in
//! route tables) or Interface (network interfaces in subnets).
//!
//! Read with one DescribeVpcEndpoints filtered on `vpc-endpoint-id`. An
//! emulator that does not know that filter (moto) fails the call; the kind
//! then lists the endpoints unfiltered and picks the ids itself, and keeps
//! doing so for the rest of the run. Deleted, deleting, failed, rejected and
//! expired endpoints are absent. A create interrupted while waiting is
//! finished by `resume`, which waits as `create` would have. The policy is read back as JSON and
//! compared as a document. The routes a gateway endpoint adds to its route
//! tables belong to it: `ec2.route_table` leaves them alone.

use super::in_stack;
use super::*;
use crate::error::from_sdk;
use async_trait::async_trait;
use aws_sdk_ec2::config::retry::RetryConfig;
use aws_sdk_ec2::types::{ResourceType, VpcEndpoint as Endpoint, VpcEndpointType};
use deployctl_engine::{Observed, OpCtx, Poll, Props, ProviderError, ReadCtx, ResourceKind};
use deployctl_spec::{Attr, KindSchema, Prop, Type};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};

pub static SCHEMA: KindSchema = KindSchema {
    type_name: "ec2.vpc_endpoint",
    doc: "A VPC endpoint: private access to an AWS service. A Gateway endpoint (S3, DynamoDB) adds routes to its \
          route tables; an Interface endpoint puts network interfaces in its subnets. Route tables, subnets, \
          security groups, private DNS and the policy are updated in place. Create waits until it is available.",
    properties: &[
        Prop::new("vpc_id", Type::String, "The VPC, usually `${vpc.id}`.").required().replace(),
        Prop::new("service_name", Type::String, "The service, e.g. `com.amazonaws.${region}.s3`.").required().replace(),
        Prop::new("vpc_endpoint_type", Type::String, "`Gateway` or `Interface`.").default("\"Gateway\"").replace(),
        Prop::new(
            "route_table_ids",
            Type::Set(&Type::String),
            "Gateway: the route tables that get a route to the service. Unset: not managed.",
        ),
        Prop::new(
            "subnet_ids",
            Type::Set(&Type::String),
            "Interface: the subnets (one per zone) that get a network interface. Unset: not managed.",
        ),
        Prop::new(
            "security_group_ids",
            Type::Set(&Type::String),
            "Interface: the security groups of the network interfaces. Unset: the VPC's default group, not managed.",
        ),
        Prop::new(
            "private_dns_enabled",
            Type::Bool,
            "Interface: whether the service's own DNS name resolves to the endpoint in the VPC. Unset: not managed.",
        ),
        Prop::new(
            "policy_document",
            Type::Document,
            "The endpoint policy, as YAML. Unset: not managed (AWS's default allows everything).",
        ),
    ],
    attributes: &[
        Attr { name: "id", doc: "The endpoint id, `vpce-…`." },
        Attr { name: "arn", doc: "The endpoint's ARN." },
        Attr { name: "dns_entries", doc: "Interface: the endpoint's DNS names." },
        Attr { name: "state", doc: "`available`, or `pending` / `pendingAcceptance` while it gets there." },
        Attr { name: "prefix_list_id", doc: "Gateway: the service's prefix list, `pl-…`, for security group rules." },
    ],
    taggable: true,
    rules: &[],
    example: "s3_endpoint:\n  type: ec2.vpc_endpoint\n  properties:\n    vpc_id: ${vpc.id}\n    service_name: com.amazonaws.${region}.s3\n    route_table_ids: [\"${private_rt.id}\"]\n    policy_document:\n      Statement:\n        - {Effect: Allow, Principal: \"*\", Action: \"s3:*\", Resource: \"*\"}\n",
};

pub struct VpcEndpoint {
    client: Client,
    /// Set once DescribeVpcEndpoints failed on the `vpc-endpoint-id` filter.
    no_id_filter: AtomicBool,
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

/// An answer that says the server did not take the filter, not that
/// something is wrong with the request: not an AWS error at all (moto
/// answers with an HTML page), an internal error, or a refused filter.
fn filter_refused(e: &ProviderError) -> bool {
    match e.code.as_deref() {
        None | Some("InternalError" | "InternalFailure" | "InvalidFilter") => true,
        // An answer with no AWS error code (`from_sdk` names its status).
        Some(c) if c.starts_with("HTTP5") => true,
        Some("InvalidParameterValue") => e.message.contains("filter"),
        _ => false,
    }
}

/// "This endpoint does not exist", and not some other not-found (moto
/// answers InvalidRoute.NotFound when a gateway endpoint's route is missing).
fn endpoint_gone(e: &ProviderError) -> bool {
    e.code.as_deref().is_some_and(|c| c.starts_with("InvalidVpcEndpoint")) && crate::is_not_found(e)
}

fn strings(props: &Props, key: &str) -> Option<Vec<String>> {
    props.get(key).and_then(Value::as_array).map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
}

fn nonempty(l: Vec<String>) -> Option<Vec<String>> {
    (!l.is_empty()).then_some(l)
}

/// The policy as the API takes it: JSON text.
fn policy_text(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

/// An endpoint in the spec's shape.
fn observed(region: &str, e: &Endpoint, prefix_lists: &BTreeMap<String, String>) -> Observed {
    let id = e.vpc_endpoint_id().unwrap_or_default().to_string();
    let kind = e.vpc_endpoint_type().map(|t| t.as_str()).unwrap_or("Gateway");
    let policy = e.policy_document().map(|p| serde_json::from_str::<Value>(p).unwrap_or_else(|_| json!(p)));
    let groups: Vec<&str> = e.groups().iter().filter_map(|g| g.group_id()).collect();
    let mut properties = Props::new();
    properties.insert("vpc_id".into(), json!(e.vpc_id()));
    properties.insert("service_name".into(), json!(e.service_name()));
    properties.insert("vpc_endpoint_type".into(), json!(kind));
    properties.insert("route_table_ids".into(), json!(e.route_table_ids()));
    properties.insert("subnet_ids".into(), json!(e.subnet_ids()));
    properties.insert("security_group_ids".into(), json!(groups));
    properties.insert("private_dns_enabled".into(), json!(e.private_dns_enabled()));
    properties.insert("policy_document".into(), json!(policy));
    let dns: Vec<&str> = e.dns_entries().iter().filter_map(|d| d.dns_name()).collect();
    let prefix_list = if kind == "Gateway" { e.service_name().and_then(|s| prefix_lists.get(s)) } else { None };
    let mut attributes = Props::new();
    attributes.insert("id".into(), json!(id));
    attributes.insert("arn".into(), json!(arn(region, e.owner_id(), "vpc-endpoint", &id)));
    attributes.insert("dns_entries".into(), json!(dns));
    attributes.insert("state".into(), json!(e.state().map(|s| s.as_str())));
    attributes.insert("prefix_list_id".into(), json!(prefix_list));
    Observed { id, properties, tags: tag_map(e.tags()), attributes }
}

impl VpcEndpoint {
    pub fn new(client: Client) -> VpcEndpoint {
        VpcEndpoint { client, no_id_filter: AtomicBool::new(false) }
    }

    async fn describe(&self, filters: Vec<Filter>) -> Result<Vec<Endpoint>, ProviderError> {
        let mut pages = self.client.describe_vpc_endpoints().set_filters(Some(filters)).into_paginator().send();
        let mut out = Vec::new();
        while let Some(page) = pages.next().await {
            out.extend(page.map_err(from_sdk)?.vpc_endpoints.unwrap_or_default());
        }
        Ok(out)
    }

    /// The endpoints with these ids (whatever their state); the missing
    /// ones are absent.
    async fn describe_ids(&self, ids: &[String]) -> Result<Vec<Endpoint>, ProviderError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        if !self.no_id_filter.load(Ordering::Relaxed) {
            match self.describe_by_id_once(ids).await {
                Ok(found) => return Ok(found),
                Err(e) if filter_refused(&e) => self.no_id_filter.store(true, Ordering::Relaxed),
                // Throttling and the like: the same call, with retries.
                Err(_) => return self.describe(vec![filter("vpc-endpoint-id", ids)]).await,
            }
        }
        let all = self.describe(Vec::new()).await?;
        Ok(all.into_iter().filter(|e| e.vpc_endpoint_id().is_some_and(|id| ids.iter().any(|i| i == id))).collect())
    }

    /// The filtered call without retries, so that a server that refuses the
    /// filter costs one quick call.
    async fn describe_by_id_once(&self, ids: &[String]) -> Result<Vec<Endpoint>, ProviderError> {
        let mut out = Vec::new();
        let mut token = None;
        loop {
            let page = self
                .client
                .describe_vpc_endpoints()
                .filters(filter("vpc-endpoint-id", ids))
                .set_next_token(token)
                .customize()
                .config_override(aws_sdk_ec2::config::Builder::default().retry_config(RetryConfig::disabled()))
                .send()
                .await
                .map_err(from_sdk)?;
            out.extend(page.vpc_endpoints.unwrap_or_default());
            token = page.next_token.filter(|t| !t.is_empty());
            if token.is_none() {
                return Ok(out);
            }
        }
    }

    /// The live endpoints among `found`, in the spec's shape, with the
    /// prefix lists of the gateway endpoints' services (one call).
    async fn observe(&self, region: &str, found: Vec<Endpoint>) -> Result<Vec<Observed>, ProviderError> {
        let live: Vec<Endpoint> = found.into_iter().filter(is_live).collect();
        let services: BTreeSet<String> = live
            .iter()
            .filter(|e| matches!(e.vpc_endpoint_type(), None | Some(VpcEndpointType::Gateway)))
            .filter_map(|e| e.service_name().map(str::to_string))
            .collect();
        let mut prefix_lists = BTreeMap::new();
        if !services.is_empty() {
            let names: Vec<String> = services.into_iter().collect();
            let mut pages =
                self.client.describe_prefix_lists().filters(filter("prefix-list-name", &names)).into_paginator().send();
            while let Some(page) = pages.next().await {
                for pl in page.map_err(from_sdk)?.prefix_lists.unwrap_or_default() {
                    if let (Some(name), Some(id)) = (pl.prefix_list_name(), pl.prefix_list_id()) {
                        prefix_lists.insert(name.to_string(), id.to_string());
                    }
                }
            }
        }
        Ok(live.iter().map(|e| observed(region, e, &prefix_lists)).collect())
    }

    async fn read_one(&self, region: &str, id: &str) -> Result<Observed, ProviderError> {
        let found = self.describe_ids(&[id.to_string()]).await?;
        self.observe(region, found).await?.into_iter().next().ok_or_else(|| {
            ProviderError::new(Some("InvalidVpcEndpointId.NotFound".into()), format!("VPC endpoint {id} disappeared"))
        })
    }

    async fn wait_available(&self, ctx: &OpCtx, id: &str) -> Result<(), ProviderError> {
        let this = self;
        ctx.wait_for("VPC endpoint to be available", move || async move {
            let found = this.describe_ids(&[id.to_string()]).await?;
            let Some(e) = found.first() else { return Ok(Poll::Pending("not visible yet".into())) };
            Ok(match state(e).as_str() {
                // pendingAcceptance waits on the service's owner, not on AWS.
                "available" | "pendingacceptance" => Poll::Ready(()),
                s @ ("failed" | "rejected" | "expired" | "deleting" | "deleted") => {
                    let last = e.last_error();
                    let code = last.and_then(|l| l.code()).unwrap_or("VpcEndpointFailed");
                    let why = last.and_then(|l| l.message()).or(e.failure_reason()).unwrap_or("no reason given");
                    return Err(ProviderError::new(Some(code.to_string()), format!("VPC endpoint {id} is {s}: {why}")));
                }
                "" => Poll::Pending("no state yet".into()),
                s => Poll::Pending(s.to_string()),
            })
        })
        .await?;
        Ok(())
    }
}

#[async_trait]
impl ResourceKind for VpcEndpoint {
    fn schema(&self) -> &'static KindSchema {
        &SCHEMA
    }

    async fn read(&self, ctx: &ReadCtx, ids: &[String]) -> Result<Vec<Observed>, ProviderError> {
        let found = in_chunks(ids, |chunk| {
            let chunk = chunk.to_vec();
            async move { self.describe_ids(&chunk).await }
        })
        .await?;
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
        let list = |k: &str| strings(desired, k).filter(|l| !l.is_empty());
        let out = self
            .client
            .create_vpc_endpoint()
            .set_vpc_id(s("vpc_id"))
            .set_service_name(s("service_name"))
            .vpc_endpoint_type(VpcEndpointType::from(s("vpc_endpoint_type").as_deref().unwrap_or("Gateway")))
            .set_route_table_ids(list("route_table_ids"))
            .set_subnet_ids(list("subnet_ids"))
            .set_security_group_ids(list("security_group_ids"))
            .set_private_dns_enabled(desired.get("private_dns_enabled").and_then(Value::as_bool))
            .set_policy_document(desired.get("policy_document").and_then(policy_text))
            .client_token(&ctx.client_token)
            .tag_specifications(tag_spec(ResourceType::VpcEndpoint, &ctx.tags))
            .send()
            .await
            .map_err(from_sdk)?;
        let id = out.vpc_endpoint().and_then(|e| e.vpc_endpoint_id()).unwrap_or_default().to_string();
        ctx.record_id(&id);
        // Gateway endpoints are available at once; interface ones take a
        // minute or two.
        self.wait_available(ctx, &id).await?;
        self.read_one(&ctx.region, &id).await
    }

    async fn update(
        &self,
        ctx: &OpCtx,
        current: &Observed,
        desired: &Props,
        changed: &[String],
    ) -> Result<Observed, ProviderError> {
        let has = |f: &str| changed.iter().any(|c| c == f);
        let mut req = self.client.modify_vpc_endpoint().vpc_endpoint_id(&current.id);
        let mut any = false;
        // Sets: add what is missing, remove what is not wanted.
        let delta = |field: &str| -> Option<(Vec<String>, Vec<String>)> {
            if !has(field) {
                return None;
            }
            let want = strings(desired, field)?;
            let live = strings(&current.properties, field).unwrap_or_default();
            let add: Vec<String> = want.iter().filter(|w| !live.contains(w)).cloned().collect();
            let remove: Vec<String> = live.iter().filter(|l| !want.contains(l)).cloned().collect();
            (!add.is_empty() || !remove.is_empty()).then_some((add, remove))
        };
        if let Some((add, remove)) = delta("route_table_ids") {
            req = req.set_add_route_table_ids(nonempty(add)).set_remove_route_table_ids(nonempty(remove));
            any = true;
        }
        if let Some((add, remove)) = delta("subnet_ids") {
            req = req.set_add_subnet_ids(nonempty(add)).set_remove_subnet_ids(nonempty(remove));
            any = true;
        }
        if let Some((add, remove)) = delta("security_group_ids") {
            req = req.set_add_security_group_ids(nonempty(add)).set_remove_security_group_ids(nonempty(remove));
            any = true;
        }
        if has("private_dns_enabled") {
            if let Some(b) = desired.get("private_dns_enabled").and_then(Value::as_bool) {
                req = req.private_dns_enabled(b);
                any = true;
            }
        }
        if has("policy_document") {
            if let Some(p) = desired.get("policy_document").and_then(policy_text) {
                req = req.policy_document(p);
                any = true;
            }
        }
        if any {
            req.send().await.map_err(from_sdk)?;
            // Interface endpoints go back to pending while their network
            // interfaces change.
            self.wait_available(ctx, &current.id).await?;
        }
        if has("tags") {
            converge_tags(&self.client, &current.id, &current.tags, ctx).await?;
        }
        self.read_one(&ctx.region, &current.id).await
    }

    async fn resume(&self, ctx: &OpCtx, current: &Observed) -> Result<Observed, ProviderError> {
        self.wait_available(ctx, &current.id).await?;
        self.read_one(&ctx.region, &current.id).await
    }

    async fn delete(&self, ctx: &OpCtx, current: &Observed, _recorded: &Props) -> Result<(), ProviderError> {
        let mut out = self.client.delete_vpc_endpoints().vpc_endpoint_ids(&current.id).send().await.map_err(from_sdk);
        if matches!(&out, Err(e) if e.code_is("InvalidRoute.NotFound")) {
            // Only moto answers this: its ModifyVpcEndpoint does not add the
            // routes of added route tables, and its delete then fails on the
            // missing route. Let go of the route tables and delete again.
            let tables = match self.describe_ids(std::slice::from_ref(&current.id)).await?.first() {
                Some(e) => e.route_table_ids().to_vec(),
                None => Vec::new(),
            };
            if !tables.is_empty() {
                self.client
                    .modify_vpc_endpoint()
                    .vpc_endpoint_id(&current.id)
                    .set_remove_route_table_ids(Some(tables))
                    .send()
                    .await
                    .map_err(from_sdk)?;
            }
            out = self.client.delete_vpc_endpoints().vpc_endpoint_ids(&current.id).send().await.map_err(from_sdk);
        }
        let out = match out {
            Ok(o) => o,
            Err(e) if endpoint_gone(&e) => return Ok(()),
            Err(e) => return Err(e),
        };
        // Failures come back in the answer, not as an error.
        if let Some(err) = out.unsuccessful().iter().find_map(|u| u.error()) {
            let e = ProviderError::new(err.code().map(str::to_string), err.message().unwrap_or("delete failed"));
            return if endpoint_gone(&e) { Ok(()) } else { Err(e) };
        }
        let (this, id) = (self, current.id.as_str());
        ctx.wait_for("VPC endpoint to be deleted", move || async move {
            let found = this.describe_ids(&[id.to_string()]).await?;
            Ok(match found.first().map(state).as_deref() {
                None | Some("deleted" | "failed" | "rejected" | "expired") => Poll::Ready(()),
                Some(s) => Poll::Pending(s.to_string()),
            })
        })
        .await?;
        Ok(())
    }
}
