//! `rds.db_parameter_group`: engine settings (`max_connections`,
//! `slow_query_log`, …) for the DB instances that name the group.
//!
//! Create is one CreateDBParameterGroup with the tags, then one
//! ModifyDBParameterGroup per 20 parameters (its limit). The name is the
//! id and natural key. Parameters change in place: set ones by
//! ModifyDBParameterGroup, removed ones back to the engine's default by
//! ResetDBParameterGroup. Family and description force a new group.
//! Reads: DescribeDBParameterGroups, the user-set parameters
//! (DescribeDBParameters with `Source=user`), and ListTagsForResource.

use crate::error::from_sdk;
use crate::kit::tagger::RdsTags;
use crate::kit::{attrs, model, unless_gone, Adopt, Created, Kind, Live, Model, Tagger};
use aws_sdk_rds::types::{ApplyMethod, DbParameterGroup, Parameter};
use aws_sdk_rds::Client;
use deployctl_engine::{Observed, OpCtx, Props, ProviderError, ReadCtx};
use deployctl_spec::{Attr, KindSchema, Literals, RuleViolation};
use serde_json::{json, Value};
use std::collections::BTreeMap;

model! {
    pub struct ParameterGroupModel {
        name: Option<String> = "The group's name, lowercase. Unset: `<stack>-<address>`."
            [replace, unique, name(1, 255, "a-z0-9-")],
        family: String = "The engine family the parameters are for: `mysql8.0`, `postgres16`, …"
            [required, replace, name(1, 255, "a-z0-9.-")],
        description: String = "What the group is for." [default("\"Managed by deployctl\""), replace, name(1, 255, " -~")],
        parameters: BTreeMap<String, String> = "Parameter names and values, e.g. `{max_connections: \"200\"}`. \
            A parameter removed goes back to the engine's default." [default("{}")],
        apply_method: String = "When changed parameters take effect: `immediate` (dynamic parameters only) or \
            `pending-reboot` (what a static parameter needs)." [default("\"immediate\""), one_of(ApplyMethod::values()), state_only],
    }
}

pub static SCHEMA: KindSchema = KindSchema {
    type_name: "rds.db_parameter_group",
    doc: "A DB parameter group: engine settings for the instances that name it (`parameter_group_name`). A \
          static parameter takes effect only after the instance reboots; set `apply_method: pending-reboot` for \
          one.",
    properties: <ParameterGroupModel as Model>::PROPS,
    attributes: &[
        Attr { name: "id", doc: "The group's name." },
        Attr { name: "name", doc: "The group's name." },
        Attr { name: "arn", doc: "The group's ARN." },
    ],
    taggable: true,
    rules: &[shape],
    example: "db_params:\n  type: rds.db_parameter_group\n  properties:\n    family: mysql8.0\n    parameters:\n      slow_query_log: \"1\"\n      long_query_time: \"2\"\n",
};

fn shape(p: &Literals) -> Option<RuleViolation> {
    match p.get("name") {
        Some(Some(Value::String(n))) => super::identifier_shape("name", n),
        _ => None,
    }
}

fn attributes(g: &DbParameterGroup) -> Props {
    let name = g.db_parameter_group_name().unwrap_or_default();
    attrs([("id", json!(name)), ("name", json!(name)), ("arn", json!(g.db_parameter_group_arn()))])
}

pub struct ParameterGroup {
    client: Client,
    tags: RdsTags,
}

impl ParameterGroup {
    pub fn new(client: Client) -> ParameterGroup {
        ParameterGroup { tags: RdsTags(client.clone()), client }
    }

    /// The parameters set on the group (not the engine's defaults).
    async fn user_parameters(&self, name: &str) -> Result<Option<BTreeMap<String, String>>, ProviderError> {
        let mut out = BTreeMap::new();
        let mut pages =
            self.client.describe_db_parameters().db_parameter_group_name(name).source("user").into_paginator().send();
        while let Some(page) = pages.next().await {
            let Some(page) = unless_gone(page.map_err(from_sdk), crate::is_not_found)? else { return Ok(None) };
            for p in page.parameters() {
                if let (Some(k), Some(v)) = (p.parameter_name(), p.parameter_value()) {
                    out.insert(k.to_string(), v.to_string());
                }
            }
        }
        Ok(Some(out))
    }

    async fn read_one(&self, name: &str) -> Result<Option<Live<ParameterGroupModel>>, ProviderError> {
        let out = self.client.describe_db_parameter_groups().db_parameter_group_name(name).send().await;
        let Some(out) = unless_gone(out.map_err(from_sdk), crate::is_not_found)? else { return Ok(None) };
        let Some(g) = out.db_parameter_groups().first() else { return Ok(None) };
        let arn = g.db_parameter_group_arn().unwrap_or_default();
        let (parameters, tags) = futures::try_join!(self.user_parameters(name), super::tags_of(&self.client, arn))?;
        let (Some(parameters), Some(tags)) = (parameters, tags) else { return Ok(None) };
        let model = ParameterGroupModel {
            name: g.db_parameter_group_name().map(str::to_string),
            family: g.db_parameter_group_family().unwrap_or_default().to_string(),
            description: g.description().unwrap_or_default().to_string(),
            parameters,
            // State-only: how a change is sent, not a setting AWS holds.
            apply_method: "immediate".into(),
        };
        Ok(Some(Live { id: name.to_string(), model, attributes: attributes(g), tags }))
    }

    /// Sets `values` on the group, 20 per call (ModifyDBParameterGroup's limit).
    async fn set(&self, name: &str, values: &BTreeMap<String, String>, method: &str) -> Result<(), ProviderError> {
        let params: Vec<Parameter> = values
            .iter()
            .map(|(k, v)| {
                Parameter::builder()
                    .parameter_name(k)
                    .parameter_value(v)
                    .apply_method(ApplyMethod::from(method))
                    .build()
            })
            .collect();
        for chunk in params.chunks(20) {
            let call = self.client.modify_db_parameter_group().db_parameter_group_name(name);
            call.set_parameters(Some(chunk.to_vec())).send().await.map_err(|e| hint_static(from_sdk(e)))?;
        }
        Ok(())
    }
}

/// A static parameter sent with `immediate`: say what to write.
fn hint_static(e: ProviderError) -> ProviderError {
    if e.code_is("InvalidParameterCombination") && e.message.contains("static") {
        e.with_hint(
            "set apply_method: pending-reboot on the parameter group (the change takes effect at the next reboot)",
        )
    } else {
        e
    }
}

#[async_trait::async_trait]
impl Kind for ParameterGroup {
    type Model = ParameterGroupModel;
    const ADOPT: Adopt = Adopt::ByName("name");
    const EXISTS: &'static [&'static str] = &["DBParameterGroupAlreadyExists"];

    fn schema(&self) -> &'static KindSchema {
        &SCHEMA
    }

    fn tagger(&self) -> Option<&dyn Tagger> {
        Some(&self.tags)
    }

    fn default_name(&self, stack: &str, address: &str) -> Option<String> {
        Some(super::default_name(stack, address, 255))
    }

    async fn read(&self, _ctx: &ReadCtx, ids: &[String]) -> Result<Vec<Live<ParameterGroupModel>>, ProviderError> {
        crate::read_each(ids.iter().map(|name| self.read_one(name))).await
    }

    async fn create(&self, ctx: &OpCtx, want: &ParameterGroupModel) -> Result<Created, ProviderError> {
        let name = want.name.clone().unwrap_or_else(|| super::default_name(&ctx.stack, &ctx.address, 255));
        let out = self
            .client
            .create_db_parameter_group()
            .db_parameter_group_name(&name)
            .db_parameter_group_family(&want.family)
            .description(&want.description)
            .set_tags(Some(super::rds_tags(&ctx.tags)))
            .send()
            .await
            .map_err(from_sdk)?;
        ctx.record_id(&name);
        self.set(&name, &want.parameters, &want.apply_method).await?;
        let g = out
            .db_parameter_group
            .unwrap_or_else(|| DbParameterGroup::builder().db_parameter_group_name(&name).build());
        Ok(Created { id: name, attributes: attributes(&g) })
    }

    async fn update(
        &self,
        _ctx: &OpCtx,
        live: &Observed,
        want: &ParameterGroupModel,
        _changed: &[&str],
    ) -> Result<Option<Props>, ProviderError> {
        let before = ParameterGroupModel::from_props(&live.properties)?.parameters;
        let set: BTreeMap<String, String> = want
            .parameters
            .iter()
            .filter(|(k, v)| before.get(*k) != Some(v))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        self.set(&live.id, &set, &want.apply_method).await?;
        let removed: Vec<Parameter> = before
            .keys()
            .filter(|k| !want.parameters.contains_key(*k))
            .map(|k| {
                Parameter::builder()
                    .parameter_name(k)
                    .apply_method(ApplyMethod::from(want.apply_method.as_str()))
                    .build()
            })
            .collect();
        for chunk in removed.chunks(20) {
            let call = self.client.reset_db_parameter_group().db_parameter_group_name(&live.id);
            call.set_parameters(Some(chunk.to_vec())).send().await.map_err(|e| hint_static(from_sdk(e)))?;
        }
        Ok(None)
    }

    async fn delete(&self, ctx: &OpCtx, live: &Observed, _: Option<&ParameterGroupModel>) -> Result<(), ProviderError> {
        let what = "the parameter group to be released by its DB instances";
        crate::kit::delete_when_released(ctx, what, "InvalidDBParameterGroupState", || async {
            self.client.delete_db_parameter_group().db_parameter_group_name(&live.id).send().await.map_err(from_sdk)
        })
        .await
    }
}
