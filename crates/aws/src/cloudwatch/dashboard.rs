//! `cloudwatch.dashboard`: a CloudWatch dashboard, its body written as YAML.
//!
//! The body is a document: sent as JSON, compared semantically (key order,
//! a number versus a string), so a dashboard reads back clean. PutDashboard
//! is the create and the update (a whole-body upsert); the name is the id
//! and forces a new dashboard. Dashboards take no tags, so a create first
//! looks for a dashboard of that name, and refuses to overwrite one that
//! is not from an interrupted run of this resource. Reads: one GetDashboard
//! per dashboard.

use crate::error::from_sdk;
use crate::kit::{attrs, model, unless_gone, Adopt, Created, Kind, Live, Model};
use aws_sdk_cloudwatch::Client;
use deployctl_engine::{Observed, OpCtx, Props, ProviderError, ReadCtx};
use deployctl_spec::{Attr, KindSchema, Literals, RuleViolation};
use serde_json::{json, Value};

model! {
    pub struct DashboardModel {
        name: Option<String> = "The dashboard's name. Unset: `<stack>-<address>`."
            [replace, unique, name(1, 255, "A-Za-z0-9_-")],
        body: Value = "The dashboard, as CloudWatch's dashboard body structure written in YAML: `widgets`, each \
            with `type` (`metric`, `text`, `alarm`, `log`, …), `x`, `y`, `width`, `height` and `properties`. \
            Compared semantically." [required],
    }
}

pub static SCHEMA: KindSchema = KindSchema {
    type_name: "cloudwatch.dashboard",
    doc: "A CloudWatch dashboard. Its body is CloudWatch's dashboard body structure, written as YAML and compared \
          semantically; references to other resources (a load balancer's `arn_suffix`, a cluster's name) go in it \
          like anywhere else. Dashboards take no tags.",
    properties: <DashboardModel as Model>::PROPS,
    attributes: &[
        Attr { name: "id", doc: "The dashboard's name." },
        Attr { name: "name", doc: "The dashboard's name." },
        Attr { name: "arn", doc: "The dashboard's ARN." },
    ],
    taggable: false,
    rules: &[widgets],
    example: "ops:\n  type: cloudwatch.dashboard\n  properties:\n    body:\n      widgets:\n        - type: metric\n          x: 0\n          y: 0\n          width: 12\n          height: 6\n          properties:\n            title: CPU\n            region: us-east-2\n            metrics: [[AWS/ECS, CPUUtilization, ClusterName, shop]]\n",
};

const TYPES: &[&str] = &["metric", "text", "log", "alarm", "explorer", "custom"];

/// What PutDashboard's validation refuses: a body without a widget list,
/// a widget without a known type, or one wider than the 24-column grid.
fn widgets(p: &Literals) -> Option<RuleViolation> {
    let Some(Some(body)) = p.get("body") else { return None };
    let violation = |message: String, hint: &str| Some(RuleViolation { field: "body", message, hint: hint.into() });
    let Some(list) = body.get("widgets").and_then(Value::as_array) else {
        return violation("the body has no widgets list".into(), "write body: {widgets: [...]}");
    };
    for (i, w) in list.iter().enumerate() {
        match w.get("type").and_then(Value::as_str) {
            Some(t) if TYPES.contains(&t) => {}
            other => {
                return violation(
                    format!("widget {i} has type {other:?}"),
                    "give each widget a type: metric, text, log, alarm, explorer or custom",
                )
            }
        }
        let int = |k: &str| w.get(k).and_then(Value::as_i64);
        if let (Some(x), Some(width)) = (int("x").or(Some(0)), int("width").or(Some(6))) {
            if !(1..=24).contains(&width) || x + width > 24 {
                return violation(
                    format!("widget {i} spans columns {x} to {}; the grid has 24", x + width),
                    "keep x + width within 24",
                );
            }
        }
    }
    None
}

fn default_name(stack: &str, address: &str) -> String {
    crate::kit::names::sanitized_name(
        &format!("{stack}-{address}"),
        |c| c.is_ascii_alphanumeric() || "_-".contains(c),
        255,
    )
}

pub struct Dashboard {
    client: Client,
}

impl Dashboard {
    pub fn new(client: Client) -> Dashboard {
        Dashboard { client }
    }

    async fn get(&self, name: &str) -> Result<Option<(Value, Option<String>)>, ProviderError> {
        let out = self.client.get_dashboard().dashboard_name(name).send().await.map_err(from_sdk);
        let Some(out) = unless_gone(out, |e| crate::is_not_found(e) || e.code_is("ResourceNotFound"))? else {
            return Ok(None);
        };
        let body = out.dashboard_body().and_then(|b| serde_json::from_str(b).ok()).unwrap_or(Value::Null);
        Ok(Some((body, out.dashboard_arn().map(str::to_string))))
    }

    /// PutDashboard; CloudWatch's validation messages on a dashboard it
    /// saved are warnings, passed on as progress.
    async fn put(&self, ctx: &OpCtx, name: &str, body: &Value) -> Result<(), ProviderError> {
        let out = self.client.put_dashboard().dashboard_name(name).dashboard_body(body.to_string()).send().await;
        let out = out.map_err(from_sdk)?;
        for m in out.dashboard_validation_messages().iter().filter_map(|m| m.message()) {
            ctx.progress(format!("dashboard {name}: CloudWatch warns: {m}"), std::time::Duration::ZERO);
        }
        Ok(())
    }
}

fn attributes(name: &str, arn: Option<&str>) -> Props {
    attrs([("id", json!(name)), ("name", json!(name)), ("arn", json!(arn))])
}

#[async_trait::async_trait]
impl Kind for Dashboard {
    type Model = DashboardModel;
    const ADOPT: Adopt = Adopt::Never;

    fn schema(&self) -> &'static KindSchema {
        &SCHEMA
    }

    async fn read(&self, _ctx: &ReadCtx, ids: &[String]) -> Result<Vec<Live<DashboardModel>>, ProviderError> {
        let reads = ids.iter().map(|name| async move {
            Ok::<_, ProviderError>(self.get(name).await?.map(|(body, arn)| Live {
                id: name.clone(),
                model: DashboardModel { name: Some(name.clone()), body },
                attributes: attributes(name, arn.as_deref()),
                tags: Default::default(),
            }))
        });
        crate::read_each(reads).await
    }

    async fn create(&self, ctx: &OpCtx, want: &DashboardModel) -> Result<Created, ProviderError> {
        let name = want.name.clone().unwrap_or_else(|| default_name(&ctx.stack, &ctx.address));
        // No tags to tell whose it is: only an interrupted run of this very
        // resource may have made it.
        if !ctx.interrupted_create && self.get(&name).await?.is_some() {
            return Err(ProviderError::new(
                Some("DashboardExists".into()),
                format!("a CloudWatch dashboard {name} already exists and is not this stack's {}", ctx.address),
            )
            .with_hint("set name to another dashboard name, or delete the existing dashboard"));
        }
        self.put(ctx, &name, &want.body).await?;
        ctx.record_id(&name);
        let arn = self.get(&name).await?.and_then(|(_, arn)| arn);
        Ok(Created { id: name.clone(), attributes: attributes(&name, arn.as_deref()) })
    }

    async fn update(
        &self,
        ctx: &OpCtx,
        live: &Observed,
        want: &DashboardModel,
        _changed: &[&str],
    ) -> Result<Option<Props>, ProviderError> {
        self.put(ctx, &live.id, &want.body).await?;
        Ok(None)
    }

    async fn delete(&self, _ctx: &OpCtx, live: &Observed, _: Option<&DashboardModel>) -> Result<(), ProviderError> {
        let out = self.client.delete_dashboards().dashboard_names(&live.id).send().await.map_err(from_sdk);
        match out {
            Err(e) if e.code_is("ResourceNotFound") => Ok(()),
            other => other.map(|_| ()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::kit::literals as lit;

    #[test]
    fn a_body_cloudwatch_would_refuse_is_refused_offline() {
        let ok = json!({"body": {"widgets": [{"type": "metric", "x": 0, "width": 12, "properties": {}}]}});
        assert!(widgets(&lit(ok)).is_none());
        assert!(widgets(&lit(json!({"body": {"widget": []}}))).unwrap().message.contains("no widgets"));
        assert!(widgets(&lit(json!({"body": {"widgets": [{"type": "chart"}]}}))).is_some());
        let wide = json!({"body": {"widgets": [{"type": "text", "x": 12, "width": 18}]}});
        assert!(widgets(&lit(wide)).unwrap().message.contains("24"));
    }
}
