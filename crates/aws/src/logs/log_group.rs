//! `logs.log_group`: a CloudWatch Logs log group, its retention and its KMS
//! key.
//!
//! DescribeLogGroups cannot filter by tag, and takes one name prefix per
//! call, so reads are one call per group (run concurrently) keeping the exact
//! name, plus one ListTagsForResource each. `find_existing` looks each
//! candidate up by its name and adopts it only if it carries this stack's and
//! address's tags.

use crate::error::from_sdk;
use crate::tags::{is_ours, is_this_stacks};
use async_trait::async_trait;
use aws_sdk_cloudwatchlogs::types::{LogGroup as AwsLogGroup, LogGroupClass};
use aws_sdk_cloudwatchlogs::Client;
use deployctl_engine::{Observed, OpCtx, Poll, Props, ProviderError, ReadCtx, ResourceKind};
use deployctl_spec::{Attr, KindSchema, Prop, Type};
use futures::future::join_all;
use serde_json::{json, Value};

pub static SCHEMA: KindSchema = KindSchema {
    type_name: "logs.log_group",
    doc: "A CloudWatch Logs log group. Without `retention_in_days` the group's retention is not managed \
          (AWS's default is to keep events forever).",
    properties: &[
        Prop::new("log_group_name", Type::String, "The group's name, e.g. `/ecs/web`.").required().replace().unique(),
        Prop::new(
            "retention_in_days",
            Type::Int,
            "Days to keep log events: 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, \
             2192, 2557, 2922, 3288 or 3653.",
        )
        .int_in(&[
            1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
        ]),
        Prop::new("kms_key_id", Type::String, "The ARN of a KMS key to encrypt the group's data with."),
        Prop::new(
            "log_group_class",
            Type::String,
            "`STANDARD` or `INFREQUENT_ACCESS`. Left out, AWS uses `STANDARD` and the class is not managed.",
        )
        .replace(),
    ],
    attributes: &[
        Attr { name: "id", doc: "The group's name." },
        Attr { name: "name", doc: "The group's name, e.g. for a container's `awslogs-group` option." },
        Attr { name: "arn", doc: "The group's ARN (without the trailing `:*`)." },
    ],
    taggable: true,
    rules: &[],
    example:
        "web_logs:\n  type: logs.log_group\n  properties:\n    log_group_name: /ecs/web\n    retention_in_days: 14\n",
};

pub struct LogGroup {
    client: Client,
}

fn not_found(e: &ProviderError) -> bool {
    e.code_is("ResourceNotFoundException")
}

/// The group's ARN without the `:*` DescribeLogGroups' `arn` ends with.
fn arn_of(g: &AwsLogGroup) -> String {
    match g.log_group_arn() {
        Some(a) => a.to_string(),
        None => g.arn().unwrap_or_default().trim_end_matches(":*").to_string(),
    }
}

impl LogGroup {
    pub fn new(client: Client) -> LogGroup {
        LogGroup { client }
    }

    /// The group with exactly this name, if any.
    async fn describe(&self, name: &str) -> Result<Option<AwsLogGroup>, ProviderError> {
        let mut pages = self.client.describe_log_groups().log_group_name_prefix(name).into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = match page.map_err(from_sdk) {
                Ok(p) => p,
                Err(e) if not_found(&e) => return Ok(None),
                Err(e) => return Err(e),
            };
            if let Some(g) = page.log_groups().iter().find(|g| g.log_group_name() == Some(name)) {
                return Ok(Some(g.clone()));
            }
            // Names come sorted: past ours, it is not there.
            if page.log_groups().iter().any(|g| g.log_group_name().is_some_and(|n| n > name)) {
                return Ok(None);
            }
        }
        Ok(None)
    }

    async fn read_one(&self, name: &str) -> Result<Option<Observed>, ProviderError> {
        let Some(g) = self.describe(name).await? else { return Ok(None) };
        let arn = arn_of(&g);
        let tags = match self.client.list_tags_for_resource().resource_arn(&arn).send().await.map_err(from_sdk) {
            Ok(out) => out
                .tags()
                .map(|t| {
                    t.iter().filter(|(k, _)| !k.starts_with("aws:")).map(|(k, v)| (k.clone(), v.clone())).collect()
                })
                .unwrap_or_default(),
            Err(e) if not_found(&e) => return Ok(None),
            Err(e) => return Err(e),
        };
        let mut properties = Props::new();
        properties.insert("log_group_name".into(), json!(name));
        properties.insert("retention_in_days".into(), json!(g.retention_in_days()));
        properties.insert("kms_key_id".into(), json!(g.kms_key_id()));
        if let Some(class) = g.log_group_class() {
            properties.insert("log_group_class".into(), json!(class.as_str()));
        }
        let mut attributes = Props::new();
        attributes.insert("id".into(), json!(name));
        attributes.insert("name".into(), json!(name));
        attributes.insert("arn".into(), json!(arn));
        Ok(Some(Observed { id: name.to_string(), properties, tags, attributes }))
    }

    async fn must_read(&self, name: &str) -> Result<Observed, ProviderError> {
        self.read_one(name).await?.ok_or_else(|| {
            ProviderError::new(Some("ResourceNotFoundException".into()), format!("log group {name} does not exist"))
                .with_hint("it was deleted outside deployctl; re-run to create it again")
        })
    }

    async fn converge(
        &self,
        ctx: &OpCtx,
        live: &Observed,
        desired: &Props,
        changed: &[&str],
    ) -> Result<(), ProviderError> {
        let name = live.id.as_str();
        let has = |f: &str| changed.contains(&f);
        if has("retention_in_days") {
            match desired.get("retention_in_days").and_then(Value::as_i64) {
                Some(days) => {
                    self.client
                        .put_retention_policy()
                        .log_group_name(name)
                        .retention_in_days(days as i32)
                        .send()
                        .await
                        .map_err(from_sdk)?;
                }
                None => {
                    self.client.delete_retention_policy().log_group_name(name).send().await.map_err(from_sdk)?;
                }
            }
        }
        if has("kms_key_id") {
            match desired.get("kms_key_id").and_then(Value::as_str) {
                Some(key) => {
                    self.client
                        .associate_kms_key()
                        .log_group_name(name)
                        .kms_key_id(key)
                        .send()
                        .await
                        .map_err(from_sdk)?;
                }
                None => {
                    self.client.disassociate_kms_key().log_group_name(name).send().await.map_err(from_sdk)?;
                }
            }
        }
        if has("tags") {
            let arn = live.attributes.get("arn").and_then(Value::as_str).unwrap_or_default();
            let set: Vec<(&String, &String)> = ctx.tags.iter().filter(|(k, v)| live.tags.get(*k) != Some(v)).collect();
            let unset: Vec<String> = live.tags.keys().filter(|k| !ctx.tags.contains_key(*k)).cloned().collect();
            if !set.is_empty() {
                let mut call = self.client.tag_resource().resource_arn(arn);
                for (k, v) in set {
                    call = call.tags(k, v);
                }
                call.send().await.map_err(from_sdk)?;
            }
            if !unset.is_empty() {
                self.client
                    .untag_resource()
                    .resource_arn(arn)
                    .set_tag_keys(Some(unset))
                    .send()
                    .await
                    .map_err(from_sdk)?;
            }
        }
        Ok(())
    }
}

#[async_trait]
impl ResourceKind for LogGroup {
    fn schema(&self) -> &'static KindSchema {
        &SCHEMA
    }

    async fn read(&self, _ctx: &ReadCtx, ids: &[String]) -> Result<Vec<Observed>, ProviderError> {
        crate::read_each(ids.iter().map(|id| self.read_one(id))).await
    }

    /// Log groups cannot be listed by tag: they are found by name in
    /// [`ResourceKind::find_existing`] instead.
    async fn find_tagged(&self, _ctx: &ReadCtx) -> Result<Vec<(String, Observed)>, ProviderError> {
        Ok(Vec::new())
    }

    async fn find_existing(
        &self,
        ctx: &ReadCtx,
        wanted: &[(String, Props)],
    ) -> Result<Vec<(String, Observed)>, ProviderError> {
        let lookups = wanted.iter().filter_map(|(address, props)| {
            let name = props.get("log_group_name").and_then(Value::as_str)?.to_string();
            Some(async move {
                let found = self.read_one(&name).await?;
                Ok::<_, ProviderError>(
                    found.filter(|o| is_this_stacks(&o.tags, &ctx.stack, address)).map(|o| (address.clone(), o)),
                )
            })
        });
        let mut out = Vec::new();
        for r in join_all(lookups).await {
            out.extend(r?);
        }
        Ok(out)
    }

    async fn create(&self, ctx: &OpCtx, desired: &Props) -> Result<Observed, ProviderError> {
        let s = |k: &str| desired.get(k).and_then(Value::as_str).map(str::to_string);
        let name = s("log_group_name").ok_or_else(|| ProviderError::msg("log_group_name is required"))?;
        let r = self
            .client
            .create_log_group()
            .log_group_name(&name)
            .set_kms_key_id(s("kms_key_id"))
            .set_log_group_class(s("log_group_class").map(|c| LogGroupClass::from(c.as_str())))
            .set_tags(Some(ctx.tags.iter().map(|(k, v)| (k.clone(), v.clone())).collect()))
            .send()
            .await
            .map_err(from_sdk);
        match r {
            Ok(_) => {
                ctx.record_id(&name);
                if desired.get("retention_in_days").and_then(Value::as_i64).is_some() {
                    let fresh = Observed { id: name.clone(), ..Default::default() };
                    self.converge(ctx, &fresh, desired, &["retention_in_days"]).await?;
                }
            }
            Err(e) if e.code_is("ResourceAlreadyExistsException") => {
                // A create retried after a crash finds its own group: adopt
                // and converge it. Anyone else's group is left alone.
                let live = self.read_one(&name).await?.ok_or(e)?;
                if !is_ours(&live.tags, &ctx.stack, &ctx.address) {
                    return Err(ProviderError::new(
                        Some("ResourceAlreadyExistsException".into()),
                        format!("a log group named {name} already exists and is not this stack's {}", ctx.address),
                    )
                    .with_hint("choose another log_group_name, or delete the existing group"));
                }
                ctx.record_id(&name);
                let mut changed = vec!["tags"];
                for f in ["retention_in_days", "kms_key_id"] {
                    if desired.get(f).is_some_and(|v| !v.is_null()) && desired.get(f) != live.properties.get(f) {
                        changed.push(f);
                    }
                }
                self.converge(ctx, &live, desired, &changed).await?;
            }
            Err(e) => return Err(e),
        }
        // DescribeLogGroups may lag a moment behind CreateLogGroup.
        ctx.wait_for("log group to become visible", || async {
            Ok(match self.read_one(&name).await? {
                Some(o) => Poll::Ready(o),
                None => Poll::Pending("not visible yet".into()),
            })
        })
        .await
        .map_err(ProviderError::from)
    }

    async fn update(
        &self,
        ctx: &OpCtx,
        current: &Observed,
        desired: &Props,
        changed: &[String],
    ) -> Result<Observed, ProviderError> {
        let live = self.must_read(&current.id).await?;
        let changed: Vec<&str> = changed.iter().map(String::as_str).collect();
        self.converge(ctx, &live, desired, &changed).await?;
        self.must_read(&current.id).await
    }

    async fn delete(&self, _ctx: &OpCtx, current: &Observed, _recorded: &Props) -> Result<(), ProviderError> {
        match self.client.delete_log_group().log_group_name(&current.id).send().await.map_err(from_sdk) {
            Ok(_) => Ok(()),
            Err(e) if not_found(&e) => Ok(()),
            Err(e) => Err(e),
        }
    }
}
