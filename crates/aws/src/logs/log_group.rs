//! `logs.log_group`: a CloudWatch Logs log group, its retention and its KMS
//! key.
//!
//! DescribeLogGroups cannot filter by tag; it takes one name prefix, or up
//! to 50 names (`logGroupIdentifiers`), per call. Reads group the names by
//! their parent path (`/ecs/web` → `/ecs/`): a path holding several of the
//! stack's groups is listed once, in pages of 50; the names alone under
//! their paths are asked for together, 50 a call. Tags come from the run's
//! one Resource Groups Tagging API read of the stack
//! ([`tagging::StackTags`]), and from ListTagsForResource for any group it
//! does not list (yet). Groups are adopted by name, when they carry this
//! stack's tags.

use crate::error::from_sdk;
use crate::kit::tagger::LogsTags;
use crate::kit::{attrs, model, own_tags, tagging, unless_gone, Adopt, Created, Kind, Live, Tagger, Tags};
use aws_sdk_cloudwatchlogs::types::{LogGroup as AwsLogGroup, LogGroupClass};
use aws_sdk_cloudwatchlogs::Client;
use deployctl_engine::{Observed, OpCtx, Poll, Props, ProviderError, ReadCtx};
use deployctl_spec::{Attr, KindSchema};
use futures::future::try_join_all;
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};

model! {
    pub struct LogGroupModel {
        log_group_name: String = "The group's name, e.g. `/ecs/web`." [required, replace, unique],
        retention_in_days: Option<i64> = "Days to keep log events: 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, \
            365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288 or 3653."
            [int_in(&[1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653])],
        kms_key_id: Option<String> = "The ARN of a KMS key to encrypt the group's data with.",
        log_group_class: Option<String> =
            "`STANDARD` or `INFREQUENT_ACCESS`. Left out, AWS uses `STANDARD` and the class is not managed." [replace],
    }
}

pub static SCHEMA: KindSchema = KindSchema {
    type_name: "logs.log_group",
    doc: "A CloudWatch Logs log group. Without `retention_in_days` the group's retention is not managed \
          (AWS's default is to keep events forever).",
    properties: <LogGroupModel as crate::kit::Model>::PROPS,
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
    tagging: Option<tagging::StackTags>,
    tags: LogsTags,
}

/// The group's ARN without the `:*` DescribeLogGroups' `arn` ends with.
fn arn_of(g: &AwsLogGroup) -> String {
    match g.log_group_arn() {
        Some(a) => a.to_string(),
        None => g.arn().unwrap_or_default().trim_end_matches(":*").to_string(),
    }
}

fn live(g: &AwsLogGroup, tags: Tags) -> Live<LogGroupModel> {
    let name = g.log_group_name().unwrap_or_default().to_string();
    Live {
        model: LogGroupModel {
            log_group_name: name.clone(),
            retention_in_days: g.retention_in_days().map(i64::from),
            kms_key_id: g.kms_key_id().map(str::to_string),
            log_group_class: g.log_group_class().map(|c| c.as_str().to_string()),
        },
        attributes: attrs([("id", json!(name)), ("name", json!(name)), ("arn", json!(arn_of(g)))]),
        tags,
        id: name,
    }
}

/// What to ask so that every name in `names` is seen: the parent paths
/// shared by several names, each listed once, and the names alone under
/// their paths, asked for by name (so that a lone `/aws/lambda/x` does not
/// list every function's group).
fn prefixes(names: &BTreeSet<String>) -> (Vec<String>, Vec<String>) {
    let mut by_parent: BTreeMap<&str, Vec<&String>> = BTreeMap::new();
    for n in names {
        let parent = n.rfind('/').map(|i| &n[..=i]).unwrap_or("");
        by_parent.entry(parent).or_default().push(n);
    }
    let (mut paths, mut alone) = (Vec::new(), Vec::new());
    for (parent, names) in by_parent {
        if names.len() > 2 && !parent.is_empty() {
            paths.push(parent.to_string());
        } else {
            alone.extend(names.into_iter().cloned());
        }
    }
    (paths, alone)
}

/// The most names one DescribeLogGroups takes.
const NAMES_PER_CALL: usize = 50;

impl LogGroup {
    /// Tags read one group at a time (no tagging API client).
    pub fn new(client: Client) -> LogGroup {
        LogGroup { tags: LogsTags(client.clone()), client, tagging: None }
    }

    /// Tags from the run's one tagging-API read of the stack (shared by
    /// the kinds), rather than one tag read per group.
    pub fn with_stack_tags(mut self, tags: tagging::StackTags) -> LogGroup {
        self.tagging = Some(tags);
        self
    }

    /// The groups named `names` under `prefix`, in pages.
    async fn list(&self, prefix: &str, names: &BTreeSet<String>) -> Result<Vec<AwsLogGroup>, ProviderError> {
        let mut pages = self.client.describe_log_groups().log_group_name_prefix(prefix).into_paginator().send();
        let mut out = Vec::new();
        while let Some(page) = pages.next().await {
            let Some(page) = unless_gone(page.map_err(from_sdk), crate::is_not_found)? else { break };
            out.extend(
                page.log_groups().iter().filter(|g| g.log_group_name().is_some_and(|n| names.contains(n))).cloned(),
            );
            // Names come sorted: past the last one wanted, stop.
            let last = names.iter().next_back();
            if page.log_groups().iter().any(|g| g.log_group_name() > last.map(String::as_str)) {
                break;
            }
        }
        Ok(out)
    }

    /// The groups named `names` (at most 50), in one call. moto 5.2.5
    /// ignores `logGroupIdentifiers` and lists every group: an answer that
    /// holds groups not asked for and has more pages is not the filtered
    /// one, and the names are then looked up one by one.
    async fn named(&self, names: &[String]) -> Result<Vec<AwsLogGroup>, ProviderError> {
        let wanted: BTreeSet<String> = names.iter().cloned().collect();
        let call = self.client.describe_log_groups().set_log_group_identifiers(Some(names.to_vec()));
        let mut pages = call.into_paginator().send();
        let mut out = Vec::new();
        while let Some(page) = pages.next().await {
            let Some(page) = unless_gone(page.map_err(from_sdk), crate::is_not_found)? else { break };
            let asked = |g: &&AwsLogGroup| g.log_group_name().is_some_and(|n| wanted.contains(n));
            if page.next_token().is_some() && !page.log_groups().iter().all(|g| asked(&g)) {
                let each = try_join_all(names.iter().map(|n| self.list(n, &wanted))).await?;
                return Ok(each.into_iter().flatten().collect());
            }
            out.extend(page.log_groups().iter().filter(asked).cloned());
        }
        Ok(out)
    }

    async fn tags_of(&self, arn: &str) -> Result<Option<Tags>, ProviderError> {
        let out = self.client.list_tags_for_resource().resource_arn(arn).send().await.map_err(from_sdk);
        Ok(unless_gone(out, crate::is_not_found)?.map(|o| own_tags(o.tags().into_iter().flatten())))
    }
}

#[async_trait::async_trait]
impl Kind for LogGroup {
    type Model = LogGroupModel;
    const ADOPT: Adopt = Adopt::ByName("log_group_name");
    const EXISTS: &'static [&'static str] = &["ResourceAlreadyExistsException"];

    fn schema(&self) -> &'static KindSchema {
        &SCHEMA
    }

    fn tagger(&self) -> Option<&dyn Tagger> {
        Some(&self.tags)
    }

    fn stack_tags(&self) -> Option<&crate::kit::tagging::StackTags> {
        self.tagging.as_ref()
    }

    async fn read(&self, ctx: &ReadCtx, ids: &[String]) -> Result<Vec<Live<LogGroupModel>>, ProviderError> {
        let names: BTreeSet<String> = ids.iter().cloned().collect();
        if names.is_empty() {
            return Ok(Vec::new());
        }
        let (paths, alone) = prefixes(&names);
        let listed = try_join_all(paths.iter().map(|p| self.list(p, &names)));
        let named = try_join_all(alone.chunks(NAMES_PER_CALL).map(|chunk| self.named(chunk)));
        let (listed, named) = futures::try_join!(listed, named)?;
        let mut groups: BTreeMap<String, AwsLogGroup> = BTreeMap::new();
        for g in listed.into_iter().chain(named).flatten() {
            groups.insert(arn_of(&g), g);
        }
        let arns: Vec<String> = groups.keys().cloned().collect();
        let mut tagged =
            tagging::tags_of(self.tagging.as_ref(), &ctx.stack, &arns, |arn| async move { self.tags_of(&arn).await })
                .await?;
        Ok(groups.into_iter().filter_map(|(arn, g)| Some(live(&g, tagged.remove(&arn)?))).collect())
    }

    async fn create(&self, ctx: &OpCtx, want: &LogGroupModel) -> Result<Created, ProviderError> {
        let name = &want.log_group_name;
        self.client
            .create_log_group()
            .log_group_name(name)
            .set_kms_key_id(want.kms_key_id.clone())
            .set_log_group_class(want.log_group_class.as_deref().map(LogGroupClass::from))
            .set_tags(Some(ctx.tags.clone().into_iter().collect()))
            .send()
            .await
            .map_err(from_sdk)?;
        ctx.record_id(name);
        if let Some(days) = want.retention_in_days {
            let call = self.client.put_retention_policy().log_group_name(name).retention_in_days(days as i32);
            call.send().await.map_err(from_sdk)?;
        }
        // CreateLogGroup answers nothing, and DescribeLogGroups may lag a
        // moment behind it: the ARN comes from the group once it is visible.
        let wanted = BTreeSet::from([name.clone()]);
        let group = ctx
            .wait_for("log group to become visible", || async {
                Ok(match self.list(name, &wanted).await?.into_iter().next() {
                    Some(g) => Poll::Ready(g),
                    None => Poll::Pending("not visible yet".into()),
                })
            })
            .await?;
        Ok(Created { id: name.clone(), attributes: live(&group, Tags::new()).attributes })
    }

    async fn update(
        &self,
        _ctx: &OpCtx,
        live: &Observed,
        want: &LogGroupModel,
        changed: &[&str],
    ) -> Result<Option<Props>, ProviderError> {
        let name = live.id.as_str();
        if changed.contains(&"retention_in_days") {
            match want.retention_in_days {
                Some(days) => {
                    let call = self.client.put_retention_policy().log_group_name(name).retention_in_days(days as i32);
                    call.send().await.map_err(from_sdk)?;
                }
                None => {
                    drop(self.client.delete_retention_policy().log_group_name(name).send().await.map_err(from_sdk)?)
                }
            }
        }
        if changed.contains(&"kms_key_id") {
            match &want.kms_key_id {
                Some(key) => {
                    let call = self.client.associate_kms_key().log_group_name(name).kms_key_id(key);
                    call.send().await.map_err(from_sdk)?;
                }
                None => drop(self.client.disassociate_kms_key().log_group_name(name).send().await.map_err(from_sdk)?),
            }
        }
        Ok(None)
    }

    async fn delete(&self, _ctx: &OpCtx, live: &Observed, _: Option<&LogGroupModel>) -> Result<(), ProviderError> {
        self.client.delete_log_group().log_group_name(&live.id).send().await.map_err(from_sdk)?;
        Ok(())
    }
}
