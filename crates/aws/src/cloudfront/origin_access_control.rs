//! `cloudfront.origin_access_control`: how CloudFront signs its requests
//! to an origin (an S3 bucket whose policy lets only the distribution read).
//!
//! The id is CloudFront's. OACs take no tags and their names are unique in
//! the account: a create that finds its name taken adopts that OAC only when
//! it repeats a create an earlier run started and never recorded
//! (`interrupted_create`), and refuses otherwise. Reads: one
//! GetOriginAccessControl per OAC, concurrently. Update and delete go
//! through the ETag; delete waits while a distribution deleted a moment ago
//! still holds it (`OriginAccessControlInUse`).

use super::{with_etag, GONE};
use crate::error::from_sdk;
use crate::kit::{attrs, model, unless_gone, Adopt, Created, Kind, Live};
use aws_sdk_cloudfront::types::{
    OriginAccessControl as Oac, OriginAccessControlConfig, OriginAccessControlOriginTypes,
    OriginAccessControlSigningBehaviors, OriginAccessControlSigningProtocols,
};
use aws_sdk_cloudfront::Client;
use deployctl_engine::{Observed, OpCtx, Props, ProviderError, ReadCtx};
use deployctl_spec::{Attr, KindSchema};
use serde_json::json;

model! {
    pub struct OacModel {
        name: String = "The name, unique in the account." [required, unique, name(1, 64, "A-Za-z0-9._-")],
        description: String = "What it is for." [default("\"\"")],
        origin_type: String = "What it signs for: `s3`, `lambda`, `mediastore` or `mediapackagev2`."
            [default("\"s3\""), replace, one_of(&["s3", "lambda", "mediastore", "mediapackagev2"])],
        signing_behavior: String = "`always` (the recommended), `never`, or `no-override` (keep a viewer's own \
                                    Authorization header)."
            [default("\"always\""), one_of(&["always", "never", "no-override"])],
    }
}

pub static SCHEMA: KindSchema = KindSchema {
    type_name: "cloudfront.origin_access_control",
    doc: "A CloudFront origin access control: the distribution signs its requests to the origin with SigV4, so that \
          an S3 bucket can stay private and let only that distribution read (an `s3.bucket_policy` with \
          `AWS:SourceArn`). Name, description and signing behavior change in place; the origin type replaces it. \
          Not taggable.",
    properties: <OacModel as crate::kit::Model>::PROPS,
    attributes: &[Attr { name: "id", doc: "The OAC's id, for an origin's `origin_access_control_id`." }],
    taggable: false,
    rules: &[],
    example: "site_oac:\n  type: cloudfront.origin_access_control\n  properties:\n    name: shop-frontend\n    \
              description: the frontend bucket, read only by the distribution\n",
};

fn config(want: &OacModel) -> Result<OriginAccessControlConfig, ProviderError> {
    OriginAccessControlConfig::builder()
        .name(&want.name)
        .description(&want.description)
        .signing_protocol(OriginAccessControlSigningProtocols::Sigv4)
        .signing_behavior(OriginAccessControlSigningBehaviors::from(want.signing_behavior.as_str()))
        .origin_access_control_origin_type(OriginAccessControlOriginTypes::from(want.origin_type.as_str()))
        .build()
        .map_err(|e| ProviderError::msg(format!("cloudfront.origin_access_control: {e}")))
}

fn live(o: &Oac) -> Option<Live<OacModel>> {
    let c = o.origin_access_control_config()?;
    Some(Live {
        id: o.id().to_string(),
        model: OacModel {
            name: c.name().to_string(),
            description: c.description().unwrap_or_default().to_string(),
            origin_type: c.origin_access_control_origin_type().as_str().to_string(),
            signing_behavior: c.signing_behavior().as_str().to_string(),
        },
        tags: Default::default(),
        attributes: attrs([("id", json!(o.id()))]),
    })
}

pub struct OriginAccessControl {
    client: Client,
}

impl OriginAccessControl {
    pub fn new(client: Client) -> OriginAccessControl {
        OriginAccessControl { client }
    }

    async fn get(&self, id: &str) -> Result<Option<(Oac, String)>, ProviderError> {
        let r = self.client.get_origin_access_control().id(id).send().await.map_err(from_sdk);
        let Some(out) = unless_gone(r, crate::kit::is_gone::<Self>)? else { return Ok(None) };
        let etag = out.e_tag().unwrap_or_default().to_string();
        Ok(out.origin_access_control.map(|o| (o, etag)))
    }

    async fn etag(&self, id: &str) -> Result<String, ProviderError> {
        let found = self.get(id).await?;
        found.map(|(_, etag)| etag).ok_or_else(|| {
            ProviderError::new(Some("NoSuchOriginAccessControl".into()), format!("origin access control {id} is gone"))
        })
    }

    /// The id of the OAC named `name`, if there is one.
    async fn named(&self, name: &str) -> Result<Option<String>, ProviderError> {
        let mut marker = None;
        loop {
            let page = self.client.list_origin_access_controls().set_marker(marker).send().await.map_err(from_sdk)?;
            let Some(list) = page.origin_access_control_list else { return Ok(None) };
            if let Some(o) = list.items().iter().find(|o| o.name() == name) {
                return Ok(Some(o.id().to_string()));
            }
            match list.next_marker().filter(|m| !m.is_empty() && list.is_truncated()) {
                Some(m) => marker = Some(m.to_string()),
                None => return Ok(None),
            }
        }
    }
}

#[async_trait::async_trait]
impl Kind for OriginAccessControl {
    type Model = OacModel;
    /// Untagged: only an interrupted create's own OAC is adopted, in `create`.
    const ADOPT: Adopt = Adopt::Never;
    const GONE: &'static [&'static str] = GONE;

    fn schema(&self) -> &'static KindSchema {
        &SCHEMA
    }

    async fn read(&self, _ctx: &ReadCtx, ids: &[String]) -> Result<Vec<Live<OacModel>>, ProviderError> {
        let reads = ids.iter().map(|id| async move { Ok(self.get(id).await?.and_then(|(o, _)| live(&o))) });
        crate::read_each(reads).await
    }

    async fn create(&self, ctx: &OpCtx, want: &OacModel) -> Result<Created, ProviderError> {
        let out = self.client.create_origin_access_control().origin_access_control_config(config(want)?).send().await;
        let id = match out.map_err(from_sdk) {
            Ok(out) => out.origin_access_control.map(|o| o.id).unwrap_or_default(),
            Err(e) if e.code_is("OriginAccessControlAlreadyExists") => match self.named(&want.name).await? {
                // No tags to tell whose it is: only an interrupted run of
                // this very resource may have made it.
                Some(id) if ctx.interrupted_create => {
                    ctx.progress(
                        format!("found origin access control {id} made by the interrupted run"),
                        Default::default(),
                    );
                    ctx.record_id(&id);
                    let id2 = id.clone();
                    let update = |etag: String| {
                        let call = self.client.update_origin_access_control().id(&id2).if_match(etag);
                        async move { call.origin_access_control_config(config(want)?).send().await.map_err(from_sdk) }
                    };
                    with_etag(|| self.etag(&id), update).await?;
                    id
                }
                _ => {
                    return Err(e.with_hint(format!(
                        "an origin access control named {} exists and is not this stack's {}: choose another name",
                        want.name, ctx.address
                    )))
                }
            },
            Err(e) => return Err(e),
        };
        ctx.record_id(&id);
        Ok(Created { attributes: attrs([("id", json!(id))]), id })
    }

    async fn update(
        &self,
        _: &OpCtx,
        live: &Observed,
        want: &OacModel,
        _: &[&str],
    ) -> Result<Option<Props>, ProviderError> {
        let update = |etag: String| {
            let call = self.client.update_origin_access_control().id(&live.id).if_match(etag);
            async move { call.origin_access_control_config(config(want)?).send().await.map_err(from_sdk) }
        };
        with_etag(|| self.etag(&live.id), update).await?;
        Ok(None)
    }

    async fn delete(&self, ctx: &OpCtx, live: &Observed, _: Option<&OacModel>) -> Result<(), ProviderError> {
        let what = "the origin access control to be released by its distributions";
        crate::kit::delete_when_released(ctx, what, "OriginAccessControlInUse", || {
            let delete = |etag: String| {
                let call = self.client.delete_origin_access_control().id(&live.id).if_match(etag);
                async move { call.send().await.map_err(from_sdk) }
            };
            with_etag(|| self.etag(&live.id), delete)
        })
        .await
    }
}
