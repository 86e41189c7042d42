//! `rds.db_subnet_group`: the subnets (in at least two zones) a DB instance
//! may be placed in.
//!
//! Create is one CreateDBSubnetGroup with the tags; the name is its id and
//! natural key (RDS stores it lowercase, so the schema only takes
//! lowercase), which is how a create repeated after a crash finds it.
//! Subnets and description change in place (ModifyDBSubnetGroup); the name
//! forces a new group. Reads: one DescribeDBSubnetGroups and one
//! ListTagsForResource per group.

use crate::error::from_sdk;
use crate::kit::tagger::RdsTags;
use crate::kit::{attrs, model, unless_gone, Adopt, Created, Kind, Live, Model, Tagger};
use aws_sdk_rds::types::DbSubnetGroup;
use aws_sdk_rds::Client;
use deployctl_engine::{Observed, OpCtx, Props, ProviderError, ReadCtx};
use deployctl_spec::{Attr, KindSchema, Literals, RuleViolation};
use serde_json::{json, Value};

model! {
    pub struct SubnetGroupModel {
        name: Option<String> = "The group's name, lowercase. Unset: `<stack>-<address>`."
            [replace, unique, name(1, 255, "a-z0-9._ -")],
        description: String = "What the group is for." [default("\"Managed by deployctl\""), name(1, 255, " -~")],
        subnet_ids: Vec<String> = "The subnets, in at least two availability zones (RDS refuses fewer)." [required],
    }
}

pub static SCHEMA: KindSchema = KindSchema {
    type_name: "rds.db_subnet_group",
    doc: "The private subnets an RDS DB instance is placed in: at least two, in two availability zones, so that \
          a Multi-AZ standby (or a failover) has somewhere to go.",
    properties: <SubnetGroupModel as Model>::PROPS,
    attributes: &[
        Attr { name: "id", doc: "The group's name." },
        Attr { name: "name", doc: "The group's name." },
        Attr { name: "arn", doc: "The group's ARN." },
        Attr { name: "vpc_id", doc: "The VPC the subnets are in." },
    ],
    taggable: true,
    rules: &[two_subnets, not_default],
    example: "db_subnets:\n  type: rds.db_subnet_group\n  properties:\n    subnet_ids: [\"${private_a.id}\", \"${private_b.id}\"]\n",
};

/// CreateDBSubnetGroup refuses a single subnet: it needs two zones.
fn two_subnets(p: &Literals) -> Option<RuleViolation> {
    let Some(Some(Value::Array(ids))) = p.get("subnet_ids") else { return None };
    (ids.len() < 2).then(|| RuleViolation {
        field: "subnet_ids",
        message: format!("{} subnet; a DB subnet group needs subnets in at least two availability zones", ids.len()),
        hint: "add a subnet in a second zone, as for a load balancer".into(),
    })
}

/// `default` is the name of the VPC's own group.
fn not_default(p: &Literals) -> Option<RuleViolation> {
    let Some(Some(Value::String(name))) = p.get("name") else { return None };
    (name == "default").then(|| RuleViolation {
        field: "name",
        message: "'default' is reserved for the VPC's default DB subnet group".into(),
        hint: "choose another name, or leave name unset for <stack>-<address>".into(),
    })
}

fn attributes(g: &DbSubnetGroup) -> Props {
    let name = g.db_subnet_group_name().unwrap_or_default();
    attrs([
        ("id", json!(name)),
        ("name", json!(name)),
        ("arn", json!(g.db_subnet_group_arn())),
        ("vpc_id", json!(g.vpc_id())),
    ])
}

fn model_of(g: &DbSubnetGroup) -> SubnetGroupModel {
    SubnetGroupModel {
        name: g.db_subnet_group_name().map(str::to_string),
        description: g.db_subnet_group_description().unwrap_or_default().to_string(),
        subnet_ids: g.subnets().iter().filter_map(|s| s.subnet_identifier().map(str::to_string)).collect(),
    }
}

pub struct SubnetGroup {
    client: Client,
    tags: RdsTags,
}

impl SubnetGroup {
    pub fn new(client: Client) -> SubnetGroup {
        SubnetGroup { tags: RdsTags(client.clone()), client }
    }

    async fn read_one(&self, name: &str) -> Result<Option<Live<SubnetGroupModel>>, ProviderError> {
        let out = self.client.describe_db_subnet_groups().db_subnet_group_name(name).send().await.map_err(from_sdk);
        let Some(out) = unless_gone(out, crate::is_not_found)? else { return Ok(None) };
        let Some(g) = out.db_subnet_groups().first() else { return Ok(None) };
        let Some(tags) = super::tags_of(&self.client, g.db_subnet_group_arn().unwrap_or_default()).await? else {
            return Ok(None);
        };
        Ok(Some(Live { id: name.to_string(), model: model_of(g), attributes: attributes(g), tags }))
    }
}

#[async_trait::async_trait]
impl Kind for SubnetGroup {
    type Model = SubnetGroupModel;
    const ADOPT: Adopt = Adopt::ByName("name");
    const EXISTS: &'static [&'static str] = &["DBSubnetGroupAlreadyExists"];

    fn schema(&self) -> &'static KindSchema {
        &SCHEMA
    }

    fn tagger(&self) -> Option<&dyn Tagger> {
        Some(&self.tags)
    }

    fn default_name(&self, stack: &str, address: &str) -> Option<String> {
        Some(super::default_name(stack, address, 255))
    }

    async fn read(&self, _ctx: &ReadCtx, ids: &[String]) -> Result<Vec<Live<SubnetGroupModel>>, ProviderError> {
        crate::read_each(ids.iter().map(|name| self.read_one(name))).await
    }

    async fn create(&self, ctx: &OpCtx, want: &SubnetGroupModel) -> Result<Created, ProviderError> {
        let name = want.name.clone().unwrap_or_else(|| super::default_name(&ctx.stack, &ctx.address, 255));
        let out = self
            .client
            .create_db_subnet_group()
            .db_subnet_group_name(&name)
            .db_subnet_group_description(&want.description)
            .set_subnet_ids(Some(want.subnet_ids.clone()))
            .set_tags(Some(super::rds_tags(&ctx.tags)))
            .send()
            .await
            .map_err(from_sdk)?;
        ctx.record_id(&name);
        let g = out.db_subnet_group.unwrap_or_else(|| DbSubnetGroup::builder().db_subnet_group_name(&name).build());
        Ok(Created { id: name, attributes: attributes(&g) })
    }

    async fn update(
        &self,
        _ctx: &OpCtx,
        live: &Observed,
        want: &SubnetGroupModel,
        _changed: &[&str],
    ) -> Result<Option<Props>, ProviderError> {
        // moto 5.2.5 deletes the group on ModifyDBSubnetGroup; AWS changes
        // it. The emulator tests do not change a group's subnets.
        let out = self
            .client
            .modify_db_subnet_group()
            .db_subnet_group_name(&live.id)
            .db_subnet_group_description(&want.description)
            .set_subnet_ids(Some(want.subnet_ids.clone()))
            .send()
            .await
            .map_err(from_sdk)?;
        Ok(out.db_subnet_group.map(|g| attributes(&g)))
    }

    async fn delete(&self, ctx: &OpCtx, live: &Observed, _: Option<&SubnetGroupModel>) -> Result<(), ProviderError> {
        // An instance deleted a moment ago still holds its group for a while.
        let what = "the subnet group to be released by its DB instances";
        crate::kit::delete_when_released(ctx, what, "InvalidDBSubnetGroupStateFault", || async {
            self.client.delete_db_subnet_group().db_subnet_group_name(&live.id).send().await.map_err(from_sdk)
        })
        .await
    }
}
