//! `iam.oidc_provider`: an IAM OpenID Connect identity provider, the
//! account's trust in an outside token issuer (GitHub Actions'
//! `token.actions.githubusercontent.com`, say), which roles then name as
//! their `Federated` principal for `sts:AssumeRoleWithWebIdentity`.
//!
//! The id is the provider's ARN, `arn:aws:iam::<account>:oidc-provider/<host/path>`:
//! IAM keeps the URL without its scheme, and there is at most one provider
//! per URL in an account. The spec may write the URL with or without
//! `https://` (only `https://` is allowed): both name the same provider.
//! IAM cannot tell which spelling the spec used, so create and update keep
//! it in a tag of the provider's own, `deployctl:url`, which `read` turns
//! back into the `url` property (and leaves out of the tags); without that
//! tag (a provider imported by tagging it) the url reads as
//! `https://<host/path>`.
//!
//! Reads are one GetOpenIDConnectProvider per provider (it returns the
//! tags too), all run concurrently. Providers cannot be listed by tag:
//! adoption lists them all (one ListOpenIDConnectProviders, which is not
//! paged), picks the candidate's URL and adopts the provider only if it
//! carries this stack's and this resource's tags. A create that finds the
//! URL taken adopts the provider only on the same condition; anyone else's
//! is left alone, with an error that names it.

use crate::error::from_sdk;
use crate::tags::{is_ours, is_this_stacks, tag_changes};
use async_trait::async_trait;
use aws_sdk_iam::types::Tag;
use aws_sdk_iam::Client;
use deployctl_engine::kind::{TAG_RESOURCE, TAG_STACK};
use deployctl_engine::{Observed, OpCtx, Poll, Props, ProviderError, ReadCtx, ResourceKind};
use deployctl_spec::{Attr, KindSchema, Prop, Type};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

/// The tag holding the url as the spec wrote it.
pub const TAG_URL: &str = "deployctl:url";

pub static SCHEMA: KindSchema = KindSchema {
    type_name: "iam.oidc_provider",
    doc: "An IAM OpenID Connect identity provider: lets tokens of an outside issuer (GitHub Actions, GitLab, \
          a Kubernetes cluster) assume roles whose trust policy names the provider (`Principal: {Federated: \
          ${github.arn}}`, `Action: sts:AssumeRoleWithWebIdentity`, with conditions on `<url>:aud` and \
          `<url>:sub`). An account has at most one provider per URL: a provider for the URL that is not this \
          stack's is never taken over; reference it by its ARN instead, or import it by tagging it \
          `deployctl:stack`/`deployctl:resource`. deployctl keeps the url as written in a tag of the provider \
          (`deployctl:url`).",
    properties: &[
        Prop::new(
            "url",
            Type::String,
            "The issuer URL, e.g. `https://token.actions.githubusercontent.com`: `https://` and a host, maybe a \
             path, no query or port. Written with or without `https://`, it names the same provider (IAM keeps \
             it without the scheme); a provider imported by tagging reads back as `https://…`.",
        )
        .required()
        .replace(),
        Prop::new(
            "client_id_list",
            Type::Set(&Type::String),
            "The client ids (audiences) tokens may carry, e.g. `[sts.amazonaws.com]` for GitHub Actions with \
             the official `configure-aws-credentials` action. Ids not listed are removed.",
        )
        .required(),
        Prop::new(
            "thumbprint_list",
            Type::Set(&Type::String),
            "SHA-1 thumbprints (40 hex characters, at most 5) of the issuer's certificate. AWS no longer needs \
             them for well-known issuers (GitHub, GitLab, Google, …), whose certificates it checks against its \
             own trusted CAs; without them IAM fills in one itself. Unset: not managed.",
        ),
    ],
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
    rules: &[],
    example:
        "github:\n  type: iam.oidc_provider\n  properties:\n    url: https://token.actions.githubusercontent.com\n    \
              client_id_list: [sts.amazonaws.com]\n",
};

/// Every property an update can change (adopting a provider converges all).
const ALL: [&str; 3] = ["client_id_list", "thumbprint_list", "tags"];

pub struct OidcProvider {
    client: Client,
}

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

/// The URL the spec asks for, checked: its host and path (IAM's form).
pub fn checked_url(url: &str) -> Result<&str, ProviderError> {
    let host = host_path(url);
    if host.is_empty() || host.contains("://") || host.starts_with('/') {
        return Err(ProviderError::new(
            Some("InvalidInput".into()),
            format!("url {url:?} is not an https URL of an OpenID Connect issuer"),
        )
        .with_hint(
            "write it as https://host[/path] (or host[/path]), e.g. https://token.actions.githubusercontent.com",
        ));
    }
    Ok(host)
}

fn iam_tags(tags: &BTreeMap<String, String>) -> Result<Vec<Tag>, ProviderError> {
    tags.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build().map_err(|e| ProviderError::msg(format!("tag {k}: {e}"))))
        .collect()
}

fn no_such_entity(e: &ProviderError) -> bool {
    e.code_is("NoSuchEntity") || e.code_is("NoSuchEntityException")
}

fn strings(v: Option<&Value>) -> Option<Vec<String>> {
    v.and_then(Value::as_array).map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
}

fn desired_url(desired: &Props) -> Result<&str, ProviderError> {
    desired.get("url").and_then(Value::as_str).ok_or_else(|| ProviderError::msg("url is required"))
}

/// The tags a provider should carry: the run's, plus the url as written.
fn wanted_tags(ctx: &OpCtx, url: &str) -> BTreeMap<String, String> {
    let mut t = ctx.tags.clone();
    t.insert(TAG_URL.into(), url.trim().to_string());
    t
}

/// A provider as GetOpenIDConnectProvider describes it.
struct Live {
    observed: Observed,
    /// Every tag but AWS's own, [`TAG_URL`] included.
    tags: BTreeMap<String, String>,
}

/// What one GetOpenIDConnectProvider says, in the spec's shape. `url` is
/// IAM's (without the scheme; taken from the ARN if absent); the `url`
/// property is the spelling kept in [`TAG_URL`] when that names the same
/// provider, `https://<url>` otherwise.
fn observed(
    arn: &str,
    url: Option<&str>,
    client_ids: &[String],
    thumbprints: &[String],
    all_tags: BTreeMap<String, String>,
) -> Live {
    let host = url.map(host_path).filter(|u| !u.is_empty()).or_else(|| url_of_arn(arn)).unwrap_or_default();
    let mut tags = all_tags.clone();
    let written = tags.remove(TAG_URL).filter(|w| host_path(w) == host);
    let mut properties = Props::new();
    properties.insert("url".into(), json!(written.unwrap_or_else(|| format!("https://{host}"))));
    properties.insert("client_id_list".into(), json!(client_ids));
    properties.insert("thumbprint_list".into(), json!(thumbprints));
    let mut attributes = Props::new();
    attributes.insert("id".into(), json!(arn));
    attributes.insert("arn".into(), json!(arn));
    attributes.insert("url".into(), json!(host));
    Live { observed: Observed { id: arn.to_string(), properties, tags, attributes }, tags: all_tags }
}

impl OidcProvider {
    pub fn new(client: Client) -> OidcProvider {
        OidcProvider { client }
    }

    /// One provider, or `None` if it does not exist.
    async fn fetch(&self, arn: &str) -> Result<Option<Live>, ProviderError> {
        let out = match self.client.get_open_id_connect_provider().open_id_connect_provider_arn(arn).send().await {
            Ok(o) => o,
            Err(e) => {
                let e = from_sdk(e);
                return if no_such_entity(&e) { Ok(None) } else { Err(e) };
            }
        };
        let tags = out
            .tags()
            .iter()
            .filter(|t| !t.key().starts_with("aws:"))
            .map(|t| (t.key().to_string(), t.value().to_string()))
            .collect();
        Ok(Some(observed(arn, out.url(), out.client_id_list(), out.thumbprint_list(), tags)))
    }

    /// Every provider of the account, by ARN (one call: the listing is not
    /// paged).
    async fn list_arns(&self) -> Result<Vec<String>, ProviderError> {
        let out = self.client.list_open_id_connect_providers().send().await.map_err(from_sdk)?;
        Ok(out.open_id_connect_provider_list().iter().filter_map(|p| p.arn()).map(str::to_string).collect())
    }

    /// The given providers, concurrently; those gone are left out.
    async fn fetch_all(&self, arns: &[&String]) -> Result<Vec<Live>, ProviderError> {
        crate::read_each(arns.iter().map(|a| self.fetch(a))).await
    }

    /// Reads a provider that was just created or changed: IAM is eventually
    /// consistent, so a read right after the create may not see it yet.
    async fn read_after_write(&self, ctx: &OpCtx, arn: &str) -> Result<Observed, ProviderError> {
        ctx.wait_for("OIDC provider to become visible", || async move {
            Ok(match self.fetch(arn).await? {
                Some(l) => Poll::Ready(l.observed),
                None => Poll::Pending("not visible yet".into()),
            })
        })
        .await
        .map_err(ProviderError::from)
    }

    /// Brings the named properties of the live provider to `desired`. The
    /// url tag is kept current whatever changed.
    async fn converge(&self, ctx: &OpCtx, live: &Live, desired: &Props, changed: &[&str]) -> Result<(), ProviderError> {
        let arn = live.observed.id.as_str();
        let has = |f: &str| changed.contains(&f);
        if has("client_id_list") {
            if let Some(want) = strings(desired.get("client_id_list")) {
                let have = strings(live.observed.properties.get("client_id_list")).unwrap_or_default();
                // Added before removed: the provider never goes without the
                // audiences both lists share, nor without any at all.
                for id in want.iter().filter(|i| !have.contains(i)) {
                    self.client
                        .add_client_id_to_open_id_connect_provider()
                        .open_id_connect_provider_arn(arn)
                        .client_id(id)
                        .send()
                        .await
                        .map_err(from_sdk)?;
                }
                for id in have.iter().filter(|i| !want.contains(i)) {
                    self.client
                        .remove_client_id_from_open_id_connect_provider()
                        .open_id_connect_provider_arn(arn)
                        .client_id(id)
                        .send()
                        .await
                        .map_err(from_sdk)?;
                }
            }
        }
        if has("thumbprint_list") {
            // Unset: not managed, IAM's own thumbprint stays.
            if let Some(want) = strings(desired.get("thumbprint_list")) {
                let have = strings(live.observed.properties.get("thumbprint_list")).unwrap_or_default();
                if want.iter().collect::<BTreeSet<_>>() != have.iter().collect::<BTreeSet<_>>() {
                    self.client
                        .update_open_id_connect_provider_thumbprint()
                        .open_id_connect_provider_arn(arn)
                        .set_thumbprint_list(Some(want))
                        .send()
                        .await
                        .map_err(from_sdk)?;
                }
            }
        }
        let want = wanted_tags(ctx, desired_url(desired)?);
        if has("tags") || live.tags.get(TAG_URL) != want.get(TAG_URL) {
            let (set, unset) = tag_changes(&live.tags, &want);
            if !set.is_empty() {
                self.client
                    .tag_open_id_connect_provider()
                    .open_id_connect_provider_arn(arn)
                    .set_tags(Some(iam_tags(&set)?))
                    .send()
                    .await
                    .map_err(from_sdk)?;
            }
            if !unset.is_empty() {
                self.client
                    .untag_open_id_connect_provider()
                    .open_id_connect_provider_arn(arn)
                    .set_tag_keys(Some(unset))
                    .send()
                    .await
                    .map_err(from_sdk)?;
            }
        }
        Ok(())
    }

    /// CreateOpenIDConnectProvider found the URL taken: adopt the provider
    /// if it is this resource's, refuse (naming it) if not.
    async fn adopt_existing(
        &self,
        ctx: &OpCtx,
        desired: &Props,
        host: &str,
        taken: ProviderError,
    ) -> Result<String, ProviderError> {
        let arns = self.list_arns().await?;
        let Some(arn) = arns.iter().find(|a| url_of_arn(a) == Some(host)) else {
            // Deleted in the meantime: nothing to adopt; a re-run creates it.
            return Err(taken.with_hint("an OIDC provider for this URL existed a moment ago; re-run"));
        };
        let Some(live) = self.fetch(arn).await? else {
            return Err(taken.with_hint("an OIDC provider for this URL existed a moment ago; re-run"));
        };
        if !is_ours(&live.observed.tags, &ctx.stack, &ctx.address) {
            let owner = match (live.observed.tags.get(TAG_STACK), live.observed.tags.get(TAG_RESOURCE)) {
                (Some(s), Some(r)) => format!(" (it is stack {s}'s {r})"),
                _ => String::new(),
            };
            return Err(ProviderError::new(
                Some("EntityAlreadyExists".into()),
                format!(
                    "an OIDC provider for {host} already exists in this account, {arn}, and it is not this stack's \
                     {}{owner}; an account has only one provider per URL",
                    ctx.address
                ),
            )
            .with_hint(format!(
                "use the existing provider: reference it by its ARN ({arn}) instead of declaring {}, or import it \
                 by tagging it deployctl:stack={} and deployctl:resource={} (aws iam tag-open-id-connect-provider), \
                 then re-run",
                ctx.address, ctx.stack, ctx.address
            )));
        }
        // A create retried after a crash finds its own provider.
        ctx.record_id(arn);
        self.converge(ctx, &live, desired, &ALL).await?;
        Ok(arn.clone())
    }
}

#[async_trait]
impl ResourceKind for OidcProvider {
    fn schema(&self) -> &'static KindSchema {
        &SCHEMA
    }

    async fn read(&self, _ctx: &ReadCtx, ids: &[String]) -> Result<Vec<Observed>, ProviderError> {
        let ids: Vec<&String> = ids.iter().collect();
        Ok(self.fetch_all(&ids).await?.into_iter().map(|l| l.observed).collect())
    }

    /// Every provider of the account is read (providers cannot be listed
    /// by tag); this stack's are those tagged with its name.
    async fn find_tagged(&self, ctx: &ReadCtx) -> Result<Vec<(String, Observed)>, ProviderError> {
        let arns = self.list_arns().await?;
        let all = self.fetch_all(&arns.iter().collect::<Vec<_>>()).await?;
        Ok(all
            .into_iter()
            .filter(|l| l.observed.tags.get(TAG_STACK) == Some(&ctx.stack))
            .filter_map(|l| Some((l.observed.tags.get(TAG_RESOURCE)?.clone(), l.observed)))
            .collect())
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
        let hosts: Vec<Option<&str>> =
            wanted.iter().map(|(_, p)| p.get("url").and_then(Value::as_str).map(host_path)).collect();
        let arns = self.list_arns().await?;
        let candidates: Vec<&String> =
            arns.iter().filter(|a| hosts.iter().any(|h| h.is_none() || *h == url_of_arn(a))).collect();
        let live = self.fetch_all(&candidates).await?;
        let mut out = Vec::new();
        for ((address, _), host) in wanted.iter().zip(&hosts) {
            let found = live.iter().find(|l| {
                is_this_stacks(&l.observed.tags, &ctx.stack, address)
                    && host.is_none_or(|h| l.observed.attributes.get("url").and_then(Value::as_str) == Some(h))
            });
            if let Some(l) = found {
                out.push((address.clone(), l.observed.clone()));
            }
        }
        Ok(out)
    }

    async fn create(&self, ctx: &OpCtx, desired: &Props) -> Result<Observed, ProviderError> {
        let url = desired_url(desired)?;
        let host = checked_url(url)?;
        let client_ids =
            strings(desired.get("client_id_list")).ok_or_else(|| ProviderError::msg("client_id_list is required"))?;
        let r = self
            .client
            .create_open_id_connect_provider()
            .url(format!("https://{host}"))
            .set_client_id_list(Some(client_ids))
            .set_thumbprint_list(strings(desired.get("thumbprint_list")))
            .set_tags(Some(iam_tags(&wanted_tags(ctx, url))?))
            .send()
            .await
            .map_err(from_sdk);
        let arn = match r {
            Ok(out) => {
                let arn = out.open_id_connect_provider_arn().map(str::to_string).ok_or_else(|| {
                    ProviderError::msg("CreateOpenIDConnectProvider answered without the provider's ARN")
                })?;
                ctx.record_id(&arn);
                arn
            }
            Err(e) if e.code_is("EntityAlreadyExists") => self.adopt_existing(ctx, desired, host, e).await?,
            Err(e) => return Err(e),
        };
        self.read_after_write(ctx, &arn).await
    }

    async fn update(
        &self,
        ctx: &OpCtx,
        current: &Observed,
        desired: &Props,
        changed: &[String],
    ) -> Result<Observed, ProviderError> {
        let live = self.fetch(&current.id).await?.ok_or_else(|| {
            ProviderError::new(Some("NoSuchEntity".into()), format!("OIDC provider {} no longer exists", current.id))
                .with_hint("it was deleted outside deployctl; re-run to create it again")
        })?;
        let changed: Vec<&str> = changed.iter().map(String::as_str).collect();
        self.converge(ctx, &live, desired, &changed).await?;
        self.read_after_write(ctx, &current.id).await
    }

    async fn delete(&self, _ctx: &OpCtx, current: &Observed, _recorded: &Props) -> Result<(), ProviderError> {
        let r = self.client.delete_open_id_connect_provider().open_id_connect_provider_arn(&current.id).send().await;
        match r.map_err(from_sdk) {
            Ok(_) => Ok(()),
            Err(e) if no_such_entity(&e) => Ok(()),
            Err(e) => Err(e),
        }
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
    fn urls_that_are_not_https_are_refused() {
        for bad in ["http://example.com", "https://", "", "ftp://x", "https:///path"] {
            let e = checked_url(bad).unwrap_err();
            assert!(e.hint.is_some(), "{bad}: {e:?}");
        }
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

    #[test]
    fn the_url_reads_back_as_written_and_its_tag_is_not_shown() {
        let tags = |url: Option<&str>| {
            let mut t = BTreeMap::from([(TAG_STACK.to_string(), "app".to_string())]);
            if let Some(u) = url {
                t.insert(TAG_URL.to_string(), u.to_string());
            }
            t
        };
        let ids = ["sts.amazonaws.com".to_string()];
        let host = Some("token.actions.githubusercontent.com");
        for written in ["https://token.actions.githubusercontent.com", "token.actions.githubusercontent.com"] {
            let l = observed(GITHUB, host, &ids, &[], tags(Some(written)));
            assert_eq!(l.observed.properties["url"], json!(written));
            assert_eq!(l.observed.attributes["url"], json!("token.actions.githubusercontent.com"));
            assert!(!l.observed.tags.contains_key(TAG_URL));
            assert_eq!(l.tags.get(TAG_URL).map(String::as_str), Some(written));
        }
        // No tag (imported), or a tag naming another URL: IAM's, with https://.
        for t in [tags(None), tags(Some("https://other.example.com"))] {
            let l = observed(GITHUB, host, &ids, &[], t);
            assert_eq!(l.observed.properties["url"], json!("https://token.actions.githubusercontent.com"));
        }
        // No Url in the answer: taken from the ARN.
        let l = observed(GITHUB, None, &ids, &[], tags(None));
        assert_eq!(l.observed.attributes["url"], json!("token.actions.githubusercontent.com"));
        assert_eq!(l.observed.id, GITHUB);
        assert_eq!(l.observed.attributes["arn"], json!(GITHUB));
        assert_eq!(l.observed.properties["client_id_list"], json!(["sts.amazonaws.com"]));
    }
}
