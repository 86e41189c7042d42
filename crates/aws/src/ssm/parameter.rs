//! `ssm.parameter`: a Parameter Store parameter.
//!
//! The id is the name. A read is one DescribeParameters per 50 names (the
//! settings), one GetParameters per 10 (the value, not decrypted) and the
//! tags from the run's one tagging-API read (ListTagsForResource for what
//! it misses). A `SecureString`'s value is write-only: it comes from a secret
//! source, is never read back, and state holds its fingerprint. Every
//! change is one PutParameter with `Overwrite`.

use crate::error::from_sdk;
use crate::kit::{
    attrs, model, own_tags, tagger::SsmTags, tagging, unless_gone, Adopt, Created, Kind, Live, Tagger, Tags, WriteOnly,
};
use aws_sdk_ssm::operation::put_parameter::builders::PutParameterFluentBuilder;
use aws_sdk_ssm::types::{
    Parameter as AwsParameter, ParameterStringFilter, ParameterTier, ParameterType, ResourceTypeForTagging, Tag,
};
use aws_sdk_ssm::Client;
use deployctl_engine::{Observed, OpCtx, Props, ProviderError, ReadCtx};
use deployctl_spec::{Attr, KindSchema, Literals, RuleViolation};
use futures::future::try_join_all;
use serde_json::{json, Value};
use std::collections::BTreeMap;

model! {
    pub struct ParameterModel {
        name: String = "The name, e.g. `/shop/prod/db-host`." [required, replace, unique, name(1, 1011, "A-Za-z0-9._/-")],
        r#type as "type": String = "`String`, `StringList` (comma-separated) or `SecureString` (encrypted by KMS)."
            [default("\"String\""), replace, one_of(ParameterType::values())],
        value: Option<String> = "The value of a `String` or `StringList`, kept in state as written.",
        secure_value: Option<WriteOnly> = "The value of a `SecureString`, from a secret source; never stored.",
        description: Option<String> = "What the parameter is for. Unset: not managed.",
        tier: String = "`Standard` (4 KB), or `Advanced` (8 KB, charged, and never `Standard` again)."
            [default("\"Standard\""), one_of(&["Standard", "Advanced"])],
        key_id: Option<String> = "The KMS key of a `SecureString`. Unset: `alias/aws/ssm`, not managed.",
        allowed_pattern: Option<String> = "A regular expression the value must match. Unset: not managed.",
        data_type: String = "`text`, or `aws:ec2:image` for an AMI id that AWS checks."
            [default("\"text\""), replace, one_of(&["text", "aws:ec2:image"])],
    }
}

pub static SCHEMA: KindSchema = KindSchema {
    type_name: "ssm.parameter",
    doc: "A Systems Manager Parameter Store parameter. A `SecureString` takes its value from `secure_value` (`env:`, \
          `file:` or `secretsmanager:`), so that it is never in the spec, state or plans. Changed in place, except \
          its name, type and data type.",
    properties: <ParameterModel as crate::kit::Model>::PROPS,
    attributes: &[
        Attr { name: "id", doc: "The name." },
        Attr { name: "name", doc: "The name, e.g. for a container's `secrets` (`valueFrom`)." },
        Attr { name: "version", doc: "The version, one more at every change of the value or settings." },
    ],
    taggable: true,
    rules: &[value_fits_type],
    example: "log_level:\n  type: ssm.parameter\n  properties:\n    name: /shop/prod/log-level\n    value: info\n    description: the services read it at start\n",
};

/// A `SecureString` takes a secret source, the other types a plain value:
/// a secret written as `value` would be stored in state.
fn value_fits_type(p: &Literals) -> Option<RuleViolation> {
    let has = |k: &str| p.get(k).is_some_and(|v| !matches!(v, Some(Value::Null)));
    let secure = match p.get("type") {
        None => false,
        Some(Some(Value::String(t))) => t == "SecureString",
        Some(_) => return None,
    };
    let (field, message, hint) = match (secure, has("value"), has("secure_value")) {
        (true, true, _) => {
            ("value", "a SecureString's value is not written in the spec", "write secure_value: env:NAME")
        }
        (true, false, false) => ("", "a SecureString needs secure_value", "add secure_value: env:NAME"),
        (false, _, true) => ("secure_value", "secure_value is for a SecureString", "set type: SecureString"),
        (false, false, false) => {
            ("", "a parameter needs a value", "add value: (or type: SecureString and secure_value)")
        }
        _ => return None,
    };
    Some(RuleViolation { field, message: message.into(), hint: hint.into() })
}

fn attributes(name: &str, version: i64) -> Props {
    attrs([("id", json!(name)), ("name", json!(name)), ("version", json!(version))])
}

pub struct Parameter {
    client: Client,
    tags: SsmTags,
    tagging: Option<tagging::StackTags>,
}

impl Parameter {
    pub fn new(client: Client) -> Parameter {
        Parameter { tags: SsmTags(client.clone()), client, tagging: None }
    }

    /// Tags from the run's one tagging-API read of the stack (shared by
    /// the kinds), rather than one tag read per parameter.
    pub fn with_stack_tags(mut self, tags: tagging::StackTags) -> Parameter {
        self.tagging = Some(tags);
        self
    }

    /// PutParameter with everything but tags (AWS refuses tags with `Overwrite`).
    fn put(&self, want: &ParameterModel) -> PutParameterFluentBuilder {
        let value = want.secure_value.as_ref().map(|s| s.0.clone()).or_else(|| want.value.clone());
        let client = self.client.put_parameter().name(&want.name).set_value(value);
        client
            .r#type(ParameterType::from(want.r#type.as_str()))
            .tier(ParameterTier::from(want.tier.as_str()))
            .data_type(&want.data_type)
            .set_description(want.description.clone())
            .set_key_id(want.key_id.clone())
            .set_allowed_pattern(want.allowed_pattern.clone())
    }

    async fn tags_of(&self, name: String) -> Result<Option<Tags>, ProviderError> {
        let call =
            self.client.list_tags_for_resource().resource_type(ResourceTypeForTagging::Parameter).resource_id(name);
        let out = unless_gone(call.send().await.map_err(from_sdk), |e| {
            crate::is_not_found(e) || e.code_is("InvalidResourceId")
        })?;
        Ok(out.map(|o| own_tags(o.tag_list().iter().map(|t| (t.key(), t.value())))))
    }
}

#[async_trait::async_trait]
impl Kind for Parameter {
    type Model = ParameterModel;
    const ADOPT: Adopt = Adopt::ByName("name");
    const EXISTS: &'static [&'static str] = &["ParameterAlreadyExists"];

    fn schema(&self) -> &'static KindSchema {
        &SCHEMA
    }

    fn tagger(&self) -> Option<&dyn Tagger> {
        Some(&self.tags)
    }

    fn stack_tags(&self) -> Option<&crate::kit::tagging::StackTags> {
        self.tagging.as_ref()
    }

    async fn read(&self, ctx: &ReadCtx, ids: &[String]) -> Result<Vec<Live<ParameterModel>>, ProviderError> {
        let settings = try_join_all(ids.chunks(50).map(|names| async move {
            let filter = ParameterStringFilter::builder().key("Name").option("Equals").set_values(Some(names.to_vec()));
            let filter = filter.build().map_err(|e| ProviderError::msg(e.to_string()))?;
            let mut pages = self.client.describe_parameters().parameter_filters(filter).into_paginator().send();
            let mut out = Vec::new();
            while let Some(page) = pages.next().await {
                out.extend(page.map_err(from_sdk)?.parameters.unwrap_or_default());
            }
            Ok::<_, ProviderError>(out)
        }));
        let values = try_join_all(ids.chunks(10).map(|names| async move {
            let out = self.client.get_parameters().set_names(Some(names.to_vec())).send().await.map_err(from_sdk)?;
            Ok::<_, ProviderError>(out.parameters.unwrap_or_default())
        }));
        let (settings, values) = futures::try_join!(settings, values)?;
        let values: BTreeMap<String, AwsParameter> =
            values.into_iter().flatten().filter_map(|p| Some((p.name.clone()?, p))).collect();
        let names: BTreeMap<String, String> =
            values.values().filter_map(|p| Some((p.arn.clone()?, p.name.clone()?))).collect();
        let arns: Vec<String> = names.keys().cloned().collect();
        let one = |arn: String| self.tags_of(names[&arn].clone());
        let mut tags = tagging::tags_of(self.tagging.as_ref(), &ctx.stack, &arns, one).await?;
        Ok(settings
            .into_iter()
            .flatten()
            .filter_map(|m| {
                let v = values.get(m.name()?)?;
                let secure = m.r#type() == Some(&ParameterType::SecureString);
                let model = ParameterModel {
                    name: m.name()?.to_string(),
                    r#type: m.r#type().map_or("String", |t| t.as_str()).to_string(),
                    value: v.value().filter(|_| !secure).map(str::to_string),
                    secure_value: None,
                    description: m.description().map(str::to_string),
                    tier: m.tier().map_or("Standard", |t| t.as_str()).to_string(),
                    key_id: m.key_id().filter(|_| secure).map(str::to_string),
                    allowed_pattern: m.allowed_pattern().map(str::to_string),
                    data_type: m.data_type().unwrap_or("text").to_string(),
                };
                let tags = tags.remove(v.arn()?)?;
                Some(Live { id: model.name.clone(), attributes: attributes(&model.name, m.version), model, tags })
            })
            .collect())
    }

    async fn create(&self, ctx: &OpCtx, want: &ParameterModel) -> Result<Created, ProviderError> {
        let tags = ctx.tags.iter().map(|(k, v)| Tag::builder().key(k).value(v).build());
        let tags = tags.collect::<Result<Vec<_>, _>>().map_err(|e| ProviderError::msg(e.to_string()))?;
        let out = self
            .put(want)
            .set_tags(Some(tags))
            .send()
            .await
            .map_err(|e| WriteOnly::redact_any(want.secure_value.as_ref(), from_sdk(e)))?;
        ctx.record_id(&want.name);
        Ok(Created { id: want.name.clone(), attributes: attributes(&want.name, out.version) })
    }

    async fn update(
        &self,
        _: &OpCtx,
        _: &Observed,
        want: &ParameterModel,
        _: &[&str],
    ) -> Result<Option<Props>, ProviderError> {
        let out = self
            .put(want)
            .overwrite(true)
            .send()
            .await
            .map_err(|e| WriteOnly::redact_any(want.secure_value.as_ref(), from_sdk(e)))?;
        Ok(Some(attributes(&want.name, out.version)))
    }

    async fn delete(&self, _: &OpCtx, live: &Observed, _: Option<&ParameterModel>) -> Result<(), ProviderError> {
        self.client.delete_parameter().name(&live.id).send().await.map_err(from_sdk)?;
        Ok(())
    }
}
