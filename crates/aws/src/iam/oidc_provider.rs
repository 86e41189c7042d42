//! `iam.oidc_provider`: an IAM OpenID Connect identity provider, the
//! account's trust in an outside token issuer (GitHub Actions'
//! `token.actions.githubusercontent.com`, say), which roles then name as
//! their `Federated` principal for `sts:AssumeRoleWithWebIdentity`.
//!
//! The id is the provider's ARN, `arn:aws:iam::<account>:oidc-provider/<host/path>`:
//! IAM keeps the URL without its scheme, and there is at most one provider
//! per URL in an account. The spec may write the URL with or without
//! `https://` (only `https://` is allowed): both name the same provider.
//! IAM cannot tell which spelling the spec used, and the provider's
//! identity (its ARN) already holds the URL, so `url` is `state_only`: it
//! is compared with what state recorded, a read reports `https://<host>`,
//! and adoption reports the candidate's own spelling when it names the
//! provider's host (both sides normalised). Nothing travels in a tag.
//!
//! Reads are one GetOpenIDConnectProvider per provider (it returns the
//! tags too), all run concurrently. Providers cannot be listed by tag:
//! adoption lists them all (one ListOpenIDConnectProviders, which is not
//! paged), picks the candidate's URL and adopts the provider only if it
//! carries this stack's and this resource's tags. A create that finds the
//! URL taken adopts the provider only on the same condition; anyone else's
//! is left alone, with an error that names it.

use crate::error::from_sdk;
use crate::kit::tagger::IamOidcTags;
use crate::kit::{attrs, converge_tags, model, Adopt, Created, Kind, Live, Model, Tagger};
use crate::tags::{is_ours, is_this_stacks};
use aws_sdk_iam::types::Tag;
use aws_sdk_iam::Client;
use deployctl_engine::kind::{TAG_RESOURCE, TAG_STACK};
use deployctl_engine::{Observed, OpCtx, Props, ProviderError, ReadCtx};
use deployctl_spec::{Attr, KindSchema, Literals, RuleViolation};
use serde_json::{json, Value};
use std::collections::BTreeSet;

model! {
    pub struct OidcProviderModel {
        url: String = "The issuer URL, e.g. `https://token.actions.githubusercontent.com`: `https://` and a host, \
            maybe a path, no query or port. Written with or without `https://`, it names the same provider (IAM \
            keeps it without the scheme); a provider adopted without state reads back as `https://…`."
            [required, replace, state_only],
        client_id_list: Vec<String> = "The client ids (audiences) tokens may carry, e.g. `[sts.amazonaws.com]` \
            for GitHub Actions with the official `configure-aws-credentials` action. Ids not listed are removed."
            [required],
        thumbprint_list: Option<Vec<String>> = "SHA-1 thumbprints (40 hex characters, at most 5) of the issuer's \
            certificate. AWS no longer needs them for well-known issuers (GitHub, GitLab, Google, …), whose \
            certificates it checks against its own trusted CAs; without them IAM fills in one itself. Unset: not \
            managed.",
    }
}

pub static SCHEMA: KindSchema = KindSchema {
    type_name: "iam.oidc_provider",
    doc: "An IAM OpenID Connect identity provider: lets tokens of an outside issuer (GitHub Actions, GitLab, \
          a Kubernetes cluster) assume roles whose trust policy names the provider (`Principal: {Federated: \
          ${github.arn}}`, `Action: sts:AssumeRoleWithWebIdentity`, with conditions on `<url>:aud` and \
          `<url>:sub`). An account has at most one provider per URL: a provider for the URL that is not this \
          stack's is never taken over; reference it by its ARN instead, or import it by tagging it \
          `deployctl:stack`/`deployctl:resource`.",
    properties: <OidcProviderModel as Model>::PROPS,
    attributes: &[
        Attr { name: "id", doc: "The provider's ARN." },
        Attr {
            name: "arn",
            doc: "The provider's ARN, `arn:aws:iam::<account>:oidc-provider/<url without https://>`, for a \
                  role's `Federated` principal.",
        },
        Attr {
            name: "url",
            doc: "The URL as IAM keeps it, without `https://` (`token.actions.githubusercontent.com`): the \
                  prefix of the condition keys `<url>:aud` and `<url>:sub`.",
        },
    ],
    taggable: true,
    rules: &[url_is_https, thumbprints_fit],
    example:
        "github:\n  type: iam.oidc_provider\n  properties:\n    url: https://token.actions.githubusercontent.com\n    \
              client_id_list: [sts.amazonaws.com]\n",
};

/// Every property an update can change (adopting a provider converges all).
const ALL: [&str; 2] = ["client_id_list", "thumbprint_list"];

/// The URL without its `https://` (any case), as IAM keeps it and as the
/// ARN ends: `https://token.actions.githubusercontent.com` and
/// `token.actions.githubusercontent.com` both give the latter.
pub fn host_path(url: &str) -> &str {
    let url = url.trim();
    match url.get(..8) {
        Some(scheme) if scheme.eq_ignore_ascii_case("https://") => &url[8..],
        _ => url,
    }
}

/// The URL a provider's ARN holds (without the scheme), `None` if `arn` is
/// not an OIDC provider's.
pub fn url_of_arn(arn: &str) -> Option<&str> {
    arn.split_once(":oidc-provider/").map(|(_, url)| url).filter(|u| !u.is_empty())
}

const URL_HINT: &str =
    "write it as https://host[/path] (or host[/path]), e.g. https://token.actions.githubusercontent.com";

/// The URL the spec asks for, checked: its host and path (IAM's form).
pub fn checked_url(url: &str) -> Result<&str, ProviderError> {
    let host = host_path(url);
    if host.is_empty() || host.contains("://") || host.starts_with('/') {
        return Err(ProviderError::new(
            Some("InvalidInput".into()),
            format!("url {url:?} is not an https URL of an OpenID Connect issuer"),
        )
        .with_hint(URL_HINT));
    }
    Ok(host)
}

fn url_is_https(p: &Literals) -> Option<RuleViolation> {
    let e = checked_url(p.get("url")?.as_ref()?.as_str()?).err()?;
    Some(RuleViolation { field: "url", message: e.message, hint: URL_HINT.into() })
}

/// At most 5 thumbprints, each 40 hex characters.
fn thumbprints_fit(p: &Literals) -> Option<RuleViolation> {
    let list = p.get("thumbprint_list")?.as_ref()?.as_array()?;
    let bad =
        list.iter().filter_map(Value::as_str).find(|t| t.len() != 40 || !t.chars().all(|c| c.is_ascii_hexdigit()));
    let message = match bad {
        Some(t) => format!("thumbprint {t:?} is not 40 hex characters"),
        None if list.len() > 5 => format!("{} thumbprints; IAM keeps at most 5", list.len()),
        None => return None,
    };
    Some(RuleViolation { field: "thumbprint_list", message, hint: "a SHA-1 fingerprint in hex, at most 5".into() })
}

fn attributes(arn: &str, host: &str) -> Props {
    attrs([("id", json!(arn)), ("arn", json!(arn)), ("url", json!(host))])
}

pub struct OidcProvider {
    client: Client,
    tags: IamOidcTags,
}

impl OidcProvider {
    pub fn new(client: Client) -> OidcProvider {
        OidcProvider { tags: IamOidcTags(client.clone()), client }
    }

    /// One provider, or `None` if it does not exist. Its `url` reads as
    /// `https://<host>`.
    async fn fetch(&self, arn: &str) -> Result<Option<Live<OidcProviderModel>>, ProviderError> {
        let out = match self.client.get_open_id_connect_provider().open_id_connect_provider_arn(arn).send().await {
            Ok(o) => o,
            Err(e) => {
                let e = from_sdk(e);
                return if crate::is_not_found(&e) { Ok(None) } else { Err(e) };
            }
        };
        let host = out.url().map(host_path).filter(|u| !u.is_empty()).or_else(|| url_of_arn(arn)).unwrap_or_default();
        Ok(Some(Live {
            id: arn.to_string(),
            model: OidcProviderModel {
                url: format!("https://{host}"),
                client_id_list: out.client_id_list().to_vec(),
                thumbprint_list: Some(out.thumbprint_list().to_vec()),
            },
            tags: out
                .tags()
                .iter()
                .filter(|t| !t.key().starts_with("aws:"))
                .map(|t| (t.key().into(), t.value().into()))
                .collect(),
            attributes: attributes(arn, host),
        }))
    }

    /// Every provider of the account, by ARN (one call: the listing is not
    /// paged).
    async fn list_arns(&self) -> Result<Vec<String>, ProviderError> {
        let out = self.client.list_open_id_connect_providers().send().await.map_err(from_sdk)?;
        Ok(out.open_id_connect_provider_list().iter().filter_map(|p| p.arn.clone()).collect())
    }

    async fn fetch_all<'a>(
        &self,
        arns: impl IntoIterator<Item = &'a String>,
    ) -> Result<Vec<Live<OidcProviderModel>>, ProviderError> {
        crate::read_each(arns.into_iter().map(|a| self.fetch(a))).await
    }

    /// CreateOpenIDConnectProvider found the URL taken: adopt the provider
    /// if it is this resource's, refuse (naming it) if not.
    async fn adopt(
        &self,
        ctx: &OpCtx,
        want: &OidcProviderModel,
        host: &str,
        taken: ProviderError,
    ) -> Result<Created, ProviderError> {
        let arn = self.list_arns().await?.into_iter().find(|a| url_of_arn(a) == Some(host));
        let live = match arn {
            Some(arn) => self.fetch(&arn).await?,
            None => None,
        };
        // Deleted in the meantime: nothing to adopt; a re-run creates it.
        let live = live.ok_or_else(|| taken.with_hint("an OIDC provider for this URL existed a moment ago; re-run"))?;
        let arn = live.id.clone();
        if !is_ours(&live.tags, &ctx.stack, &ctx.address) {
            let owner = match (live.tags.get(TAG_STACK), live.tags.get(TAG_RESOURCE)) {
                (Some(s), Some(r)) => format!(" (it is stack {s}'s {r})"),
                _ => String::new(),
            };
            let (address, stack) = (&ctx.address, &ctx.stack);
            return Err(ProviderError::new(
                Some("EntityAlreadyExists".into()),
                format!(
                    "an OIDC provider for {host} already exists in this account, {arn}, and it is not this stack's \
                     {address}{owner}; an account has only one provider per URL"
                ),
            )
            .with_hint(format!(
                "use the existing provider: reference it by its ARN ({arn}) instead of declaring {address}, or \
                 import it by tagging it deployctl:stack={stack} and deployctl:resource={address} (aws iam \
                 tag-open-id-connect-provider), then re-run"
            )));
        }
        // A create retried after a crash finds its own provider.
        ctx.record_id(&arn);
        let attributes = live.attributes.clone();
        let live = live.observed();
        self.update(ctx, &live, want, &ALL).await?;
        converge_tags(&self.tags, &live, &ctx.tags).await?;
        Ok(Created { id: arn, attributes })
    }
}

#[async_trait::async_trait]
impl Kind for OidcProvider {
    type Model = OidcProviderModel;
    const ADOPT: Adopt = Adopt::Custom;

    fn schema(&self) -> &'static KindSchema {
        &SCHEMA
    }

    fn tagger(&self) -> Option<&dyn Tagger> {
        Some(&self.tags)
    }

    async fn read(&self, _ctx: &ReadCtx, ids: &[String]) -> Result<Vec<Live<OidcProviderModel>>, ProviderError> {
        self.fetch_all(ids).await
    }

    /// Every provider of the account is read (providers cannot be listed
    /// by tag); the adapter keeps this stack's.
    async fn find_tagged(&self, _ctx: &ReadCtx) -> Result<Vec<Live<OidcProviderModel>>, ProviderError> {
        self.fetch_all(&self.list_arns().await?).await
    }

    /// One listing; then only the providers whose URL a candidate asks for
    /// are read (all of them if a candidate's url is not a literal), and a
    /// provider is adopted only if it carries the candidate's tags.
    async fn find_existing(
        &self,
        ctx: &ReadCtx,
        wanted: &[(String, Props)],
    ) -> Result<Vec<(String, Observed)>, ProviderError> {
        if wanted.is_empty() {
            return Ok(Vec::new());
        }
        let urls: Vec<Option<&str>> = wanted.iter().map(|(_, p)| p.get("url").and_then(Value::as_str)).collect();
        let arns = self.list_arns().await?;
        let asked: Vec<String> = arns
            .into_iter()
            .filter(|a| urls.iter().any(|u| u.is_none_or(|u| Some(host_path(u)) == url_of_arn(a))))
            .collect();
        let live = self.fetch_all(&asked).await?;
        let mut out = Vec::new();
        for ((address, _), url) in wanted.iter().zip(&urls) {
            let host =
                |l: &Live<OidcProviderModel>| l.attributes.get("url").and_then(Value::as_str).map(str::to_string);
            let found = live.iter().find(|l| {
                is_this_stacks(&l.tags, &ctx.stack, address)
                    && url.is_none_or(|u| host(l).as_deref() == Some(host_path(u)))
            });
            if let Some(l) = found {
                let mut l = l.clone();
                // The same provider, however the spec spells its URL.
                if let Some(u) = url {
                    l.model.url = u.to_string();
                }
                out.push((address.clone(), l.observed()));
            }
        }
        Ok(out)
    }

    async fn create(&self, ctx: &OpCtx, want: &OidcProviderModel) -> Result<Created, ProviderError> {
        let host = checked_url(&want.url)?;
        let tags = ctx.tags.iter().map(|(k, v)| Tag::builder().key(k).value(v).build());
        let tags = tags.collect::<Result<Vec<_>, _>>().map_err(|e| ProviderError::msg(e.to_string()))?;
        let r = self
            .client
            .create_open_id_connect_provider()
            .url(format!("https://{host}"))
            .set_client_id_list(Some(want.client_id_list.clone()))
            .set_thumbprint_list(want.thumbprint_list.clone())
            .set_tags(Some(tags))
            .send()
            .await
            .map_err(from_sdk);
        match r {
            Ok(out) => {
                let arn = out.open_id_connect_provider_arn.ok_or_else(|| {
                    ProviderError::msg("CreateOpenIDConnectProvider answered without the provider's ARN")
                })?;
                ctx.record_id(&arn);
                Ok(Created { attributes: attributes(&arn, host), id: arn })
            }
            Err(e) if e.code_is("EntityAlreadyExists") => self.adopt(ctx, want, host, e).await,
            Err(e) => Err(e),
        }
    }

    async fn update(
        &self,
        _ctx: &OpCtx,
        live: &Observed,
        want: &OidcProviderModel,
        changed: &[&str],
    ) -> Result<Option<Props>, ProviderError> {
        let arn = live.id.as_str();
        let have = OidcProviderModel::from_props(&live.properties)?;
        if changed.contains(&"client_id_list") {
            let (have, want) = (&have.client_id_list, &want.client_id_list);
            // Added before removed: the provider never goes without the
            // audiences both lists share, nor without any at all.
            for id in want.iter().filter(|i| !have.contains(i)) {
                let call = self.client.add_client_id_to_open_id_connect_provider().open_id_connect_provider_arn(arn);
                call.client_id(id).send().await.map_err(from_sdk)?;
            }
            for id in have.iter().filter(|i| !want.contains(i)) {
                let call =
                    self.client.remove_client_id_from_open_id_connect_provider().open_id_connect_provider_arn(arn);
                call.client_id(id).send().await.map_err(from_sdk)?;
            }
        }
        // Unset: not managed, IAM's own thumbprint stays.
        if let Some(want) = want.thumbprint_list.as_ref().filter(|_| changed.contains(&"thumbprint_list")) {
            let have: BTreeSet<&String> = have.thumbprint_list.iter().flatten().collect();
            if want.iter().collect::<BTreeSet<_>>() != have {
                let call = self.client.update_open_id_connect_provider_thumbprint().open_id_connect_provider_arn(arn);
                call.set_thumbprint_list(Some(want.clone())).send().await.map_err(from_sdk)?;
            }
        }
        Ok(None)
    }

    async fn delete(&self, _ctx: &OpCtx, live: &Observed, _: Option<&OidcProviderModel>) -> Result<(), ProviderError> {
        let call = self.client.delete_open_id_connect_provider().open_id_connect_provider_arn(&live.id);
        call.send().await.map_err(from_sdk).map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GITHUB: &str = "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com";

    #[test]
    fn urls_with_and_without_the_scheme_name_the_same_provider() {
        assert_eq!(host_path("https://token.actions.githubusercontent.com"), "token.actions.githubusercontent.com");
        assert_eq!(host_path("token.actions.githubusercontent.com"), "token.actions.githubusercontent.com");
        assert_eq!(host_path("HTTPS://gitlab.example.com/group"), "gitlab.example.com/group");
        assert_eq!(host_path(" https://a.example.com "), "a.example.com");
        assert_eq!(checked_url("https://token.actions.githubusercontent.com").unwrap(), url_of_arn(GITHUB).unwrap());
        assert_eq!(
            checked_url("oidc.eks.us-east-1.amazonaws.com/id/ABC").unwrap(),
            "oidc.eks.us-east-1.amazonaws.com/id/ABC"
        );
    }

    #[test]
    fn urls_that_are_not_https_are_refused_offline() {
        for bad in ["http://example.com", "https://", "", "ftp://x", "https:///path"] {
            let e = checked_url(bad).unwrap_err();
            assert!(e.hint.is_some(), "{bad}: {e:?}");
            let lit = Literals::from([("url".to_string(), Some(json!(bad)))]);
            assert!(url_is_https(&lit).is_some(), "{bad}");
        }
    }

    #[test]
    fn thumbprints_are_40_hex_characters_at_most_5() {
        let lit = |v: Value| Literals::from([("thumbprint_list".to_string(), Some(v))]);
        let t = "6938fd4d98bab03faadb97b34396831e3780aea1";
        assert!(thumbprints_fit(&lit(json!([t]))).is_none());
        assert!(thumbprints_fit(&lit(json!(["abc"]))).is_some());
        assert!(thumbprints_fit(&lit(json!([t, t, t, t, t, t]))).is_some());
    }

    #[test]
    fn the_arn_holds_the_url_without_the_scheme() {
        assert_eq!(url_of_arn(GITHUB), Some("token.actions.githubusercontent.com"));
        assert_eq!(
            url_of_arn("arn:aws-us-gov:iam::123456789012:oidc-provider/oidc.eks.us-gov-west-1.amazonaws.com/id/ABC"),
            Some("oidc.eks.us-gov-west-1.amazonaws.com/id/ABC")
        );
        assert_eq!(url_of_arn("arn:aws:iam::123456789012:role/x"), None);
        assert_eq!(url_of_arn("arn:aws:iam::123456789012:oidc-provider/"), None);
    }
}
