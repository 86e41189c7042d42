//! `codedeploy.application`: a CodeDeploy application (ECS by default).
//!
//! The id is the name. Reads: one BatchGetApplications per 100 names, and
//! one ListTagsForResource per application (its ARN names the account,
//! looked up once per run). Create is one CreateApplication with the tags;
//! a create repeated after a crash finds the application by its name and
//! adopts it if it carries this resource's tags. Nothing changes in place
//! but tags.

use super::{arn, tags, tags_of, GONE};
use crate::ec2::Account;
use crate::error::from_sdk;
use crate::kit::tagger::CodeDeployTags;
use crate::kit::{attrs, model, Adopt, Created, Kind, Live, Tagger};
use aws_sdk_codedeploy::types::ComputePlatform;
use aws_sdk_codedeploy::Client;
use deployctl_engine::{Observed, OpCtx, Props, ProviderError, ReadCtx};
use deployctl_spec::{Attr, KindSchema};
use futures::future::try_join_all;
use serde_json::json;

model! {
    pub struct ApplicationModel {
        application_name: String = "The name, unique in the account and region."
            [required, replace, unique, name(1, 100, "A-Za-z0-9._+=,@-")],
        compute_platform: String = "`ECS`, `Lambda` or `Server` (EC2 and on-premises)."
            [default("\"ECS\""), replace, one_of(&["ECS", "Lambda", "Server"])],
    }
}

pub static SCHEMA: KindSchema = KindSchema {
    type_name: "codedeploy.application",
    doc: "A CodeDeploy application: the deployment groups of an ECS service's blue/green deployments live in it. \
          Nothing but its tags changes in place. On the local endpoint (moto 5.2.5) its delete answers 500; on AWS \
          it deletes the application and its deployment groups.",
    properties: <ApplicationModel as crate::kit::Model>::PROPS,
    attributes: &[
        Attr { name: "id", doc: "The name." },
        Attr { name: "name", doc: "The name, for a deployment group's `application_name`." },
        Attr { name: "arn", doc: "`arn:aws:codedeploy:<region>:<account>:application:<name>`." },
        Attr { name: "application_id", doc: "CodeDeploy's id of the application." },
    ],
    taggable: true,
    rules: &[],
    example: "deploy_app:\n  type: codedeploy.application\n  properties:\n    application_name: node-canary\n",
};

pub struct Application {
    client: Client,
    tags: CodeDeployTags,
    ec2: aws_sdk_ec2::Client,
    account: Account,
}

impl Application {
    pub fn new(client: Client, ec2: aws_sdk_ec2::Client, account: Account) -> Application {
        Application { tags: CodeDeployTags(client.clone()), client, ec2, account }
    }

    async fn arn_of(&self, region: &str, name: &str) -> Result<String, ProviderError> {
        let account = self.account.get(&self.ec2).await?.unwrap_or_default();
        Ok(arn(region, &account, &format!("application:{name}")))
    }
}

fn attributes(name: &str, arn: &str, id: Option<&str>) -> Props {
    attrs([("id", json!(name)), ("name", json!(name)), ("arn", json!(arn)), ("application_id", json!(id))])
}

#[async_trait::async_trait]
impl Kind for Application {
    type Model = ApplicationModel;
    const ADOPT: Adopt = Adopt::ByName("application_name");
    const EXISTS: &'static [&'static str] = &["ApplicationAlreadyExistsException"];
    const GONE: &'static [&'static str] = GONE;

    fn schema(&self) -> &'static KindSchema {
        &SCHEMA
    }

    fn tagger(&self) -> Option<&dyn Tagger> {
        Some(&self.tags)
    }

    async fn read(&self, ctx: &ReadCtx, ids: &[String]) -> Result<Vec<Live<ApplicationModel>>, ProviderError> {
        let pages = try_join_all(ids.chunks(100).map(|names| async move {
            let call = self.client.batch_get_applications().set_application_names(Some(names.to_vec()));
            match call.send().await.map_err(from_sdk) {
                Ok(out) => Ok(out.applications_info.unwrap_or_default()),
                // One name of the batch is gone: CodeDeploy fails the call.
                Err(e) if crate::kit::is_gone::<Self>(&e) && names.len() > 1 => {
                    let each = names.iter().map(|n| async move {
                        let call = self.client.get_application().application_name(n).send().await.map_err(from_sdk);
                        crate::kit::unless_gone(call, crate::kit::is_gone::<Self>)
                    });
                    let found = try_join_all(each).await?;
                    Ok(found.into_iter().flatten().filter_map(|o| o.application).collect())
                }
                Err(e) if crate::kit::is_gone::<Self>(&e) => Ok(Vec::new()),
                Err(e) => Err(e),
            }
        }));
        let found: Vec<_> = pages.await?.into_iter().flatten().collect();
        let reads = found.into_iter().map(|info| async move {
            let Some(name) = info.application_name().map(str::to_string) else { return Ok(None) };
            let arn = self.arn_of(&ctx.region, &name).await?;
            let Some(tags) = tags_of(&self.client, &arn).await? else { return Ok(None) };
            let model = ApplicationModel {
                application_name: name.clone(),
                compute_platform: info.compute_platform().map_or("Server", |p| p.as_str()).to_string(),
            };
            Ok(Some(Live { attributes: attributes(&name, &arn, info.application_id()), id: name, model, tags }))
        });
        crate::read_each(reads).await
    }

    async fn create(&self, ctx: &OpCtx, want: &ApplicationModel) -> Result<Created, ProviderError> {
        let out = self
            .client
            .create_application()
            .application_name(&want.application_name)
            .compute_platform(ComputePlatform::from(want.compute_platform.as_str()))
            .set_tags(Some(tags(&ctx.tags)))
            .send()
            .await
            .map_err(from_sdk)?;
        ctx.record_id(&want.application_name);
        let arn = self.arn_of(&ctx.region, &want.application_name).await?;
        Ok(Created {
            attributes: attributes(&want.application_name, &arn, out.application_id()),
            id: want.application_name.clone(),
        })
    }

    async fn delete(&self, _: &OpCtx, live: &Observed, _: Option<&ApplicationModel>) -> Result<(), ProviderError> {
        self.client.delete_application().application_name(&live.id).send().await.map_err(from_sdk)?;
        Ok(())
    }
}
