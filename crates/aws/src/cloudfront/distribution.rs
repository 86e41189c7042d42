//! `cloudfront.distribution`: a CloudFront distribution.
//!
//! Create is one CreateDistributionWithTags, with the step's client token
//! as the caller reference, then a wait until it is `Deployed` (minutes on
//! AWS, with progress; `wait_for_deployment: false` skips it). A create
//! repeated by a run killed before it recorded the id finds the
//! distribution that run made by its tags. An update reads the config and
//! its ETag, changes what the spec manages and keeps the rest (cache
//! behaviors by path, logging, geo restrictions), and sends it under that
//! ETag; a stale ETag (`PreconditionFailed`) is read again once. Delete
//! disables the distribution first and waits until that is deployed, as
//! AWS refuses to delete an enabled one (`DistributionNotDisabled`).
//!
//! Reads: one GetDistribution and one ListTagsForResource per distribution,
//! concurrently (CloudFront has no batch read).

use super::{wait_deployed, with_etag, GONE};
use crate::error::from_sdk;
use crate::kit::tagger::CloudFrontTags;
use crate::kit::{attrs, model, own_tags, unless_gone, Adopt, Created, Kind, Live, Tagger, Tags};
use aws_sdk_cloudfront::types::{
    Aliases, AllowedMethods, CachedMethods, CustomErrorResponse, CustomErrorResponses, CustomOriginConfig,
    DefaultCacheBehavior, Distribution as AwsDistribution, DistributionConfig, DistributionConfigWithTags, HttpVersion,
    Method, MinimumProtocolVersion, Origin, OriginProtocolPolicy, OriginSslProtocols, Origins, PriceClass,
    S3OriginConfig, SslProtocol, SslSupportMethod, Tag, Tags as AwsTags, ViewerCertificate, ViewerProtocolPolicy,
};
use aws_sdk_cloudfront::Client;
use deployctl_engine::kind::{TAG_RESOURCE, TAG_STACK};
use deployctl_engine::{Observed, OpCtx, Props, ProviderError, ReadCtx};
use deployctl_spec::{Attr, KindSchema, Literals, RuleViolation};
use serde_json::{json, Value};

/// The managed cache policy `Managed-CachingOptimized`: what the console
/// picks for an S3 origin (a day by default, compression on).
pub const CACHING_OPTIMIZED: &str = "658327ea-f89d-4fab-a63d-7e88639e58f6";

/// The hosted zone of every CloudFront domain, for Route 53 alias records.
pub const HOSTED_ZONE_ID: &str = "Z2FDTNDATAQYW2";

const METHODS: &[&str] = &["GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE"];

model! {
    pub struct CustomOriginModel {
        http_port: i64 = "The origin's HTTP port." [default("80"), range(1, 65535)],
        https_port: i64 = "The origin's HTTPS port." [default("443"), range(1, 65535)],
        origin_protocol_policy: String = "`https-only`, `http-only` or `match-viewer`."
            [default("\"https-only\""), one_of(&["https-only", "http-only", "match-viewer"])],
        origin_ssl_protocols: Vec<String> = "The TLS versions CloudFront may use to the origin."
            [default("[\"TLSv1.2\"]")],
    }
}

model! {
    pub struct OriginModel {
        id: String = "The origin's id, unique in the distribution, which cache behaviors name." [required],
        domain_name: String = "The origin's domain: an S3 bucket's `bucket_regional_domain_name`, or a load \
                               balancer's DNS name." [required],
        origin_path: String = "A path CloudFront puts before every request's path (`/site`)." [default("\"\"")],
        origin_access_control_id: Option<String> = "The origin access control CloudFront signs its requests to \
                                                    an S3 origin with (`${oac.id}`). Unset: none.",
        custom_origin: Option<CustomOriginModel> = "Settings of an origin that is not an S3 bucket (a load \
                                                   balancer, a website endpoint). Unset: an S3 origin.",
    }
}

model! {
    pub struct CacheBehaviorModel {
        target_origin_id: String = "The origin requests go to (one of `origins`' ids)." [required],
        viewer_protocol_policy: String = "`redirect-to-https`, `https-only`, or `allow-all` (plain HTTP too)."
            [default("\"redirect-to-https\""), one_of(&["redirect-to-https", "https-only", "allow-all"])],
        allowed_methods: Vec<String> = "`[GET, HEAD]`, `[GET, HEAD, OPTIONS]`, or all seven methods."
            [default("[\"GET\", \"HEAD\"]")],
        cached_methods: Vec<String> = "`[GET, HEAD]` or `[GET, HEAD, OPTIONS]`." [default("[\"GET\", \"HEAD\"]")],
        compress: bool = "Whether CloudFront compresses what it serves." [default("true")],
        cache_policy_id: String = "The cache policy; the default is `Managed-CachingOptimized`."
            [default("\"658327ea-f89d-4fab-a63d-7e88639e58f6\"")],
        origin_request_policy_id: Option<String> = "The origin request policy. Unset: none.",
        response_headers_policy_id: Option<String> = "The response headers policy. Unset: none.",
    }
}

model! {
    pub struct ErrorResponseModel {
        error_code: i64 = "The HTTP status the origin answered."
            [required, int_in(&[400, 403, 404, 405, 414, 416, 500, 501, 502, 503, 504])],
        response_code: Option<String> = "The status the viewer gets instead (`\"200\"` for a single-page app). \
                                         Unset: the origin's.",
        response_page_path: Option<String> = "The page served instead (`/index.html`), from the default \
                                              behavior's origin.",
        error_caching_min_ttl: i64 = "How long CloudFront caches the error, in seconds." [default("10")],
    }
}

model! {
    pub struct ViewerCertificateModel {
        acm_certificate_arn: String = "An ACM certificate in us-east-1 covering the aliases." [required],
        minimum_protocol_version: String = "The oldest TLS viewers may use."
            [default("\"TLSv1.2_2021\""), one_of(&["TLSv1.2_2021", "TLSv1.2_2019", "TLSv1.2_2018", "TLSv1.1_2016",
                "TLSv1_2016", "TLSv1"])],
        ssl_support_method: String = "`sni-only`, or `vip` (a dedicated IP, charged monthly)."
            [default("\"sni-only\""), one_of(&["sni-only", "vip"])],
    }
}

model! {
    pub struct DistributionModel {
        origins: Vec<OriginModel> = "Where CloudFront fetches from." [required],
        default_cache_behavior: CacheBehaviorModel = "How requests are served." [required],
        enabled: bool = "Whether the distribution serves requests." [default("true")],
        comment: String = "A description, at most 128 characters." [default("\"\"")],
        default_root_object: String = "The object served for `/` (`index.html`)." [default("\"\"")],
        aliases: Vec<String> = "Domain names besides the `*.cloudfront.net` one; they need viewer_certificate."
            [default("[]")],
        viewer_certificate: Option<ViewerCertificateModel> = "The certificate for the aliases. Unset: \
                                                             CloudFront's own, for `*.cloudfront.net`.",
        custom_error_responses: Vec<ErrorResponseModel> = "What viewers get for an origin's errors."
            [default("[]")],
        price_class: String = "Which edge locations serve: `PriceClass_All`, `PriceClass_200` or `PriceClass_100` \
                               (North America and Europe, the cheapest)."
            [default("\"PriceClass_All\""), one_of(&["PriceClass_All", "PriceClass_200", "PriceClass_100"])],
        http_version: String = "`http2`, `http2and3`, `http3` or `http1.1`."
            [default("\"http2\""), one_of(&["http2", "http2and3", "http3", "http1.1"])],
        is_ipv6_enabled: bool = "Whether viewers may connect over IPv6." [default("true")],
        web_acl_id: Option<String> = "The ARN of a WAF web ACL (scope CLOUDFRONT). Unset: not managed.",
        wait_for_deployment: bool = "Whether up and destroy wait until a change is deployed to every edge \
                                     location (minutes)." [default("true"), state_only],
    }
}

pub static SCHEMA: KindSchema = KindSchema {
    type_name: "cloudfront.distribution",
    doc: "A CloudFront distribution: origins (an S3 bucket through an origin access control, or a load balancer), \
          the default cache behavior, aliases with an ACM certificate from us-east-1, and error responses (a \
          single-page app answers 403 and 404 with `/index.html`). Everything changes in place. A change takes \
          minutes to deploy; up waits with progress unless `wait_for_deployment: false`. Destroy disables it, waits, \
          then deletes it. Cache behaviors by path, logging and geo restrictions are not managed and are kept.",
    properties: <DistributionModel as crate::kit::Model>::PROPS,
    attributes: &[
        Attr { name: "id", doc: "The distribution id (`E2QWRUHEXAMPLE`)." },
        Attr { name: "arn", doc: "`arn:aws:cloudfront::<account>:distribution/<id>`, for a bucket policy's \
                                  `AWS:SourceArn`." },
        Attr { name: "domain_name", doc: "`<id>.cloudfront.net`." },
        Attr { name: "hosted_zone_id", doc: "`Z2FDTNDATAQYW2`, for a Route 53 alias record." },
        Attr { name: "status", doc: "`Deployed` or `InProgress`." },
    ],
    taggable: true,
    rules: &[origins_fit, methods_fit, certificate_fits],
    example: "cdn:\n  type: cloudfront.distribution\n  properties:\n    comment: the frontend\n    \
              default_root_object: index.html\n    origins:\n      - id: site\n        domain_name: \
              ${site.bucket_regional_domain_name}\n        origin_access_control_id: ${site_oac.id}\n    \
              default_cache_behavior:\n      target_origin_id: site\n      viewer_protocol_policy: redirect-to-https\n    \
              custom_error_responses:\n      - {error_code: 403, response_code: \"200\", response_page_path: \
              /index.html}\n      - {error_code: 404, response_code: \"200\", response_page_path: /index.html}\n",
};

fn violation(field: &'static str, message: impl Into<String>, hint: impl Into<String>) -> Option<RuleViolation> {
    Some(RuleViolation { field, message: message.into(), hint: hint.into() })
}

/// Origin ids are unique, and the default behavior names one of them.
fn origins_fit(p: &Literals) -> Option<RuleViolation> {
    let Some(Some(Value::Array(origins))) = p.get("origins") else { return None };
    if origins.is_empty() {
        return violation("origins", "a distribution needs at least one origin", "add an origin: {id, domain_name}");
    }
    let ids: Vec<&str> = origins.iter().filter_map(|o| o.get("id")?.as_str()).collect();
    if let Some(dup) = ids.iter().enumerate().find_map(|(i, id)| ids[..i].contains(id).then_some(id)) {
        return violation("origins", format!("origin id '{dup}' is used twice"), "give each origin its own id");
    }
    if ids.len() < origins.len() {
        return None;
    }
    let Some(Some(behavior)) = p.get("default_cache_behavior") else { return None };
    let target = behavior.get("target_origin_id")?.as_str()?;
    (!ids.contains(&target)).then(|| RuleViolation {
        field: "default_cache_behavior",
        message: format!("target_origin_id '{target}' is not one of the origins ({})", ids.join(", ")),
        hint: format!("set target_origin_id: {}", ids[0]),
    })
}

/// The method combinations CloudFront takes.
fn methods_fit(p: &Literals) -> Option<RuleViolation> {
    let Some(Some(behavior)) = p.get("default_cache_behavior") else { return None };
    let list = |k: &str| -> Option<Vec<String>> {
        let items = behavior.get(k)?.as_array()?;
        let mut out: Vec<String> = items.iter().filter_map(|v| Some(v.as_str()?.to_uppercase())).collect();
        out.sort();
        out.dedup();
        (out.len() == items.len()).then_some(out)
    };
    let sorted = |m: &[&str]| {
        let mut v: Vec<String> = m.iter().map(|s| s.to_string()).collect();
        v.sort();
        v
    };
    let two = sorted(&["GET", "HEAD"]);
    let three = sorted(&["GET", "HEAD", "OPTIONS"]);
    let all = sorted(METHODS);
    let allowed = list("allowed_methods").unwrap_or_else(|| two.clone());
    if ![&two, &three, &all].contains(&&allowed) {
        return violation(
            "default_cache_behavior",
            format!("allowed_methods [{}] is not a set CloudFront takes", allowed.join(", ")),
            "use [GET, HEAD], [GET, HEAD, OPTIONS], or all of GET, HEAD, OPTIONS, PUT, POST, PATCH, DELETE",
        );
    }
    let cached = list("cached_methods").unwrap_or_else(|| two.clone());
    if ![&two, &three].contains(&&cached) || cached.iter().any(|m| !allowed.contains(m)) {
        return violation(
            "default_cache_behavior",
            format!(
                "cached_methods [{}] must be [GET, HEAD] or [GET, HEAD, OPTIONS], within allowed_methods",
                cached.join(", ")
            ),
            "use cached_methods: [GET, HEAD]",
        );
    }
    None
}

/// Aliases need a certificate of one's own, and CloudFront takes
/// certificates only from ACM in us-east-1.
fn certificate_fits(p: &Literals) -> Option<RuleViolation> {
    let cert = match p.get("viewer_certificate") {
        Some(Some(Value::Object(c))) => Some(c.get("acm_certificate_arn")),
        Some(Some(Value::Null)) | None => None,
        Some(_) => return None,
    };
    if let Some(Some(Value::String(arn))) = cert {
        if arn.starts_with("arn:") && arn.split(':').nth(3) != Some("us-east-1") {
            return violation(
                "viewer_certificate",
                format!("certificate {arn} is not in us-east-1; CloudFront takes ACM certificates only from there"),
                "request the certificate in us-east-1 (a stack of its own, or a data: lookup there)",
            );
        }
    }
    let aliases = crate::kit::literal_strings(p, "aliases");
    if !aliases.is_empty() && cert.is_none() {
        return violation(
            "aliases",
            format!("aliases ({}) need a certificate that covers them", aliases.join(", ")),
            "add viewer_certificate: {acm_certificate_arn: ...} (an ACM certificate in us-east-1)",
        );
    }
    None
}

fn attributes(d: &AwsDistribution) -> Props {
    attrs([
        ("id", json!(d.id())),
        ("arn", json!(d.arn())),
        ("domain_name", json!(d.domain_name())),
        ("hosted_zone_id", json!(HOSTED_ZONE_ID)),
        ("status", json!(d.status())),
    ])
}

fn methods(items: &[String]) -> Vec<Method> {
    items.iter().map(|m| Method::from(m.to_uppercase().as_str())).collect()
}

fn build_err(e: impl std::fmt::Display) -> ProviderError {
    ProviderError::new(Some("InvalidProperties".into()), format!("cloudfront.distribution: {e}"))
}

/// `cfg` with every setting the model manages set from it; what it does not
/// manage (the caller reference, cache behaviors by path, logging,
/// restrictions) is kept.
fn apply(want: &DistributionModel, mut cfg: DistributionConfig) -> Result<DistributionConfig, ProviderError> {
    let origins = want.origins.iter().map(origin).collect::<Result<Vec<_>, _>>()?;
    cfg.origins =
        Some(Origins::builder().quantity(origins.len() as i32).set_items(Some(origins)).build().map_err(build_err)?);
    cfg.default_cache_behavior = Some(behavior(&want.default_cache_behavior)?);
    cfg.enabled = want.enabled;
    cfg.comment = want.comment.clone();
    cfg.default_root_object = Some(want.default_root_object.clone());
    let aliases = Aliases::builder().quantity(want.aliases.len() as i32);
    cfg.aliases = Some(aliases.set_items(Some(want.aliases.clone())).build().map_err(build_err)?);
    cfg.viewer_certificate = Some(match &want.viewer_certificate {
        Some(c) => ViewerCertificate::builder()
            .acm_certificate_arn(&c.acm_certificate_arn)
            .ssl_support_method(SslSupportMethod::from(c.ssl_support_method.as_str()))
            .minimum_protocol_version(MinimumProtocolVersion::from(c.minimum_protocol_version.as_str()))
            .cloud_front_default_certificate(false)
            .build(),
        None => ViewerCertificate::builder()
            .cloud_front_default_certificate(true)
            .minimum_protocol_version(MinimumProtocolVersion::TlSv1)
            .build(),
    });
    let errors = want.custom_error_responses.iter().map(|e| {
        CustomErrorResponse::builder()
            .error_code(e.error_code as i32)
            .set_response_code(e.response_code.clone())
            .set_response_page_path(e.response_page_path.clone())
            .error_caching_min_ttl(e.error_caching_min_ttl)
            .build()
            .map_err(build_err)
    });
    let errors = errors.collect::<Result<Vec<_>, _>>()?;
    let errors = CustomErrorResponses::builder().quantity(errors.len() as i32).set_items(Some(errors));
    cfg.custom_error_responses = Some(errors.build().map_err(build_err)?);
    cfg.price_class = Some(PriceClass::from(want.price_class.as_str()));
    cfg.http_version = Some(HttpVersion::from(want.http_version.as_str()));
    cfg.is_ipv6_enabled = Some(want.is_ipv6_enabled);
    if let Some(acl) = &want.web_acl_id {
        cfg.web_acl_id = Some(acl.clone());
    }
    Ok(cfg)
}

fn origin(o: &OriginModel) -> Result<Origin, ProviderError> {
    let b = Origin::builder()
        .id(&o.id)
        .domain_name(&o.domain_name)
        .origin_path(&o.origin_path)
        .origin_access_control_id(o.origin_access_control_id.clone().unwrap_or_default());
    let b = match &o.custom_origin {
        Some(c) => {
            let protocols: Vec<SslProtocol> =
                c.origin_ssl_protocols.iter().map(|p| SslProtocol::from(p.as_str())).collect();
            let protocols = OriginSslProtocols::builder().quantity(protocols.len() as i32).set_items(Some(protocols));
            b.custom_origin_config(
                CustomOriginConfig::builder()
                    .http_port(c.http_port as i32)
                    .https_port(c.https_port as i32)
                    .origin_protocol_policy(OriginProtocolPolicy::from(c.origin_protocol_policy.as_str()))
                    .origin_ssl_protocols(protocols.build().map_err(build_err)?)
                    .build()
                    .map_err(build_err)?,
            )
        }
        // OAC signs the requests; the legacy origin access identity is empty.
        None => b.s3_origin_config(S3OriginConfig::builder().origin_access_identity("").build()),
    };
    b.build().map_err(build_err)
}

fn behavior(c: &CacheBehaviorModel) -> Result<DefaultCacheBehavior, ProviderError> {
    let cached = methods(&c.cached_methods);
    let cached = CachedMethods::builder().quantity(cached.len() as i32).set_items(Some(cached)).build();
    let allowed = methods(&c.allowed_methods);
    let allowed = AllowedMethods::builder().quantity(allowed.len() as i32).set_items(Some(allowed));
    let allowed = allowed.cached_methods(cached.map_err(build_err)?).build().map_err(build_err)?;
    DefaultCacheBehavior::builder()
        .target_origin_id(&c.target_origin_id)
        .viewer_protocol_policy(ViewerProtocolPolicy::from(c.viewer_protocol_policy.as_str()))
        .allowed_methods(allowed)
        .compress(c.compress)
        .cache_policy_id(&c.cache_policy_id)
        .set_origin_request_policy_id(c.origin_request_policy_id.clone())
        .set_response_headers_policy_id(c.response_headers_policy_id.clone())
        .build()
        .map_err(build_err)
}

fn some(s: Option<&str>) -> Option<String> {
    s.filter(|s| !s.is_empty()).map(str::to_string)
}

/// The model of a live config. `wait_for_deployment` is not AWS's: the
/// default stands.
fn model_of(cfg: &DistributionConfig) -> DistributionModel {
    let origins = cfg.origins().map(|o| o.items()).unwrap_or_default();
    let b = cfg.default_cache_behavior();
    let allowed = b.and_then(|b| b.allowed_methods());
    let names = |m: &[Method]| m.iter().map(|m| m.as_str().to_string()).collect::<Vec<_>>();
    let cert = cfg.viewer_certificate().filter(|c| c.cloud_front_default_certificate() != Some(true));
    DistributionModel {
        origins: origins
            .iter()
            .map(|o| OriginModel {
                id: o.id().to_string(),
                domain_name: o.domain_name().to_string(),
                origin_path: o.origin_path().unwrap_or_default().to_string(),
                origin_access_control_id: some(o.origin_access_control_id()),
                custom_origin: o.custom_origin_config().map(|c| CustomOriginModel {
                    http_port: c.http_port().into(),
                    https_port: c.https_port().into(),
                    origin_protocol_policy: c.origin_protocol_policy().as_str().to_string(),
                    origin_ssl_protocols: c
                        .origin_ssl_protocols()
                        .map(|p| p.items().iter().map(|p| p.as_str().to_string()).collect())
                        .unwrap_or_default(),
                }),
            })
            .collect(),
        default_cache_behavior: CacheBehaviorModel {
            target_origin_id: b.map(|b| b.target_origin_id().to_string()).unwrap_or_default(),
            viewer_protocol_policy: b.map(|b| b.viewer_protocol_policy().as_str().to_string()).unwrap_or_default(),
            allowed_methods: allowed.map(|a| names(a.items())).unwrap_or_default(),
            cached_methods: allowed.and_then(|a| a.cached_methods()).map(|c| names(c.items())).unwrap_or_default(),
            compress: b.and_then(|b| b.compress()).unwrap_or(false),
            cache_policy_id: b.and_then(|b| b.cache_policy_id()).unwrap_or_default().to_string(),
            origin_request_policy_id: some(b.and_then(|b| b.origin_request_policy_id())),
            response_headers_policy_id: some(b.and_then(|b| b.response_headers_policy_id())),
        },
        enabled: cfg.enabled(),
        comment: cfg.comment().to_string(),
        default_root_object: cfg.default_root_object().unwrap_or_default().to_string(),
        aliases: cfg.aliases().and_then(|a| a.items.clone()).unwrap_or_default(),
        viewer_certificate: cert.map(|c| ViewerCertificateModel {
            acm_certificate_arn: c.acm_certificate_arn().unwrap_or_default().to_string(),
            minimum_protocol_version: c.minimum_protocol_version().map_or("TLSv1", |v| v.as_str()).to_string(),
            ssl_support_method: c.ssl_support_method().map_or("sni-only", |v| v.as_str()).to_string(),
        }),
        custom_error_responses: cfg
            .custom_error_responses()
            .and_then(|c| c.items.as_ref())
            .into_iter()
            .flatten()
            .map(|e| ErrorResponseModel {
                error_code: e.error_code().into(),
                response_code: some(e.response_code()),
                response_page_path: some(e.response_page_path()),
                error_caching_min_ttl: e.error_caching_min_ttl().unwrap_or(10),
            })
            .collect(),
        price_class: cfg.price_class().map_or("PriceClass_All", |p| p.as_str()).to_string(),
        http_version: cfg.http_version().map_or("http2", |h| h.as_str()).to_string(),
        is_ipv6_enabled: cfg.is_ipv6_enabled().unwrap_or(false),
        web_acl_id: some(cfg.web_acl_id()),
        wait_for_deployment: true,
    }
}

pub struct Distribution {
    client: Client,
    tags: CloudFrontTags,
}

impl Distribution {
    pub fn new(client: Client) -> Distribution {
        Distribution { tags: CloudFrontTags(client.clone()), client }
    }

    async fn get(&self, id: &str) -> Result<Option<(AwsDistribution, String)>, ProviderError> {
        let r = self.client.get_distribution().id(id).send().await.map_err(from_sdk);
        let Some(out) = unless_gone(r, crate::kit::is_gone::<Self>)? else { return Ok(None) };
        let etag = out.e_tag().unwrap_or_default().to_string();
        Ok(out.distribution.map(|d| (d, etag)))
    }

    async fn status(&self, id: &str) -> Result<String, ProviderError> {
        let d = self.get(id).await?.ok_or_else(|| {
            ProviderError::new(Some("NoSuchDistribution".into()), format!("distribution {id} is gone"))
        })?;
        Ok(d.0.status().to_string())
    }

    async fn tags_of(&self, arn: &str) -> Result<Option<Tags>, ProviderError> {
        let r = self.client.list_tags_for_resource().resource(arn).send().await.map_err(from_sdk);
        let Some(out) = unless_gone(r, crate::kit::is_gone::<Self>)? else { return Ok(None) };
        let items = out.tags().and_then(|t| t.items.as_ref()).into_iter().flatten();
        Ok(Some(own_tags(items.map(|t| (t.key(), t.value().unwrap_or_default())))))
    }

    async fn read_one(&self, id: &str) -> Result<Option<Live<DistributionModel>>, ProviderError> {
        let Some((d, _)) = self.get(id).await? else { return Ok(None) };
        let Some(tags) = self.tags_of(d.arn()).await? else { return Ok(None) };
        let Some(cfg) = d.distribution_config() else { return Ok(None) };
        Ok(Some(Live { id: d.id().to_string(), model: model_of(cfg), tags, attributes: attributes(&d) }))
    }

    /// The config and its ETag.
    async fn config(&self, id: &str) -> Result<(DistributionConfig, String), ProviderError> {
        let out = self.client.get_distribution_config().id(id).send().await.map_err(from_sdk)?;
        let etag = out.e_tag().unwrap_or_default().to_string();
        let cfg =
            out.distribution_config.ok_or_else(|| ProviderError::msg(format!("distribution {id} has no config")))?;
        Ok((cfg, etag))
    }

    /// Sends `change` of the live config under its ETag (once more on a
    /// stale one), and returns the distribution as it now is.
    async fn update_with(
        &self,
        id: &str,
        change: impl Fn(DistributionConfig) -> Result<DistributionConfig, ProviderError>,
    ) -> Result<AwsDistribution, ProviderError> {
        // The config read with the ETag travels to the write in this cell.
        let read = std::sync::Mutex::new(None);
        with_etag(
            || async {
                let (cfg, etag) = self.config(id).await?;
                *read.lock().unwrap_or_else(|p| p.into_inner()) = Some(cfg);
                Ok(etag)
            },
            |etag| {
                let cfg = read.lock().unwrap_or_else(|p| p.into_inner()).take();
                let cfg = cfg.ok_or_else(|| ProviderError::msg("no config read")).and_then(&change);
                async move {
                    let out =
                        self.client.update_distribution().id(id).if_match(etag).distribution_config(cfg?).send().await;
                    let out = out.map_err(from_sdk).map_err(hint)?;
                    out.distribution.ok_or_else(|| ProviderError::msg("UpdateDistribution answered no distribution"))
                }
            },
        )
        .await
    }

    /// This resource's distribution, made by a run killed before it
    /// recorded the id: found by its tags.
    async fn made_earlier(&self, ctx: &OpCtx) -> Result<Option<AwsDistribution>, ProviderError> {
        let mut ids = Vec::new();
        let mut pages = self.client.list_distributions().into_paginator().send();
        while let Some(page) = pages.next().await {
            let list = page.map_err(from_sdk)?.distribution_list;
            ids.extend(list.and_then(|l| l.items).into_iter().flatten().map(|d| (d.id, d.arn)));
        }
        for (id, arn) in ids {
            let tags = self.tags_of(&arn).await?.unwrap_or_default();
            let ours = tags.get(TAG_STACK) == Some(&ctx.stack) && tags.get(TAG_RESOURCE) == Some(&ctx.address);
            if ours && !ctx.replaces.contains(&id) {
                return Ok(self.get(&id).await?.map(|(d, _)| d));
            }
        }
        Ok(None)
    }
}

/// The hint for what CloudFront refuses most.
fn hint(e: ProviderError) -> ProviderError {
    let h = match e.code.as_deref() {
        Some("InvalidViewerCertificate") => {
            "the certificate must be ISSUED, in us-east-1, and cover every alias (acm_certificate_arn)"
        }
        Some("CNAMEAlreadyExists") => "another distribution has one of these aliases; remove it there first",
        Some("InvalidOrigin") | Some("InvalidArgument") => {
            "check origins: an S3 origin's domain_name is the bucket's bucket_regional_domain_name"
        }
        Some("IllegalUpdate") => "CloudFront refuses this change in place; check the aliases and certificate",
        _ => return e,
    };
    e.with_hint(h)
}

#[async_trait::async_trait]
impl Kind for Distribution {
    type Model = DistributionModel;
    /// The caller reference makes a repeated create the same distribution;
    /// an interrupted one is found by its tags in `create`.
    const ADOPT: Adopt = Adopt::Never;
    const GONE: &'static [&'static str] = GONE;

    fn schema(&self) -> &'static KindSchema {
        &SCHEMA
    }

    fn tagger(&self) -> Option<&dyn Tagger> {
        Some(&self.tags)
    }

    async fn read(&self, _ctx: &ReadCtx, ids: &[String]) -> Result<Vec<Live<DistributionModel>>, ProviderError> {
        crate::read_each(ids.iter().map(|id| self.read_one(id))).await
    }

    async fn create(&self, ctx: &OpCtx, want: &DistributionModel) -> Result<Created, ProviderError> {
        let earlier = if ctx.interrupted_create { self.made_earlier(ctx).await? } else { None };
        let d = match earlier {
            Some(d) => {
                ctx.progress(format!("found distribution {} made by the interrupted run", d.id()), Default::default());
                d
            }
            None => {
                let base = DistributionConfig::builder()
                    .caller_reference(&ctx.client_token)
                    .comment(&want.comment)
                    .enabled(want.enabled)
                    .build()
                    .map_err(build_err)?;
                let tags = ctx.tags.iter().map(|(k, v)| Tag::builder().key(k).value(v).build().map_err(build_err));
                let tags = AwsTags::builder().set_items(Some(tags.collect::<Result<_, _>>()?)).build();
                let config = DistributionConfigWithTags::builder().distribution_config(apply(want, base)?).tags(tags);
                let out = self.client.create_distribution_with_tags().distribution_config_with_tags(config.build());
                let out = out.send().await.map_err(from_sdk).map_err(hint)?;
                out.distribution.ok_or_else(|| ProviderError::msg("CreateDistribution answered no distribution"))?
            }
        };
        let id = d.id().to_string();
        ctx.record_id(&id);
        let mut attributes = attributes(&d);
        if want.wait_for_deployment {
            wait_deployed(ctx, &id, || self.status(&id)).await?;
            attributes.insert("status".into(), json!("Deployed"));
        }
        Ok(Created { id, attributes })
    }

    async fn resume(&self, ctx: &OpCtx, current: &Observed) -> Result<Observed, ProviderError> {
        wait_deployed(ctx, &current.id, || self.status(&current.id)).await?;
        let mut done = current.clone();
        done.attributes.insert("status".into(), json!("Deployed"));
        Ok(done)
    }

    async fn update(
        &self,
        ctx: &OpCtx,
        live: &Observed,
        want: &DistributionModel,
        changed: &[&str],
    ) -> Result<Option<Props>, ProviderError> {
        if changed.iter().all(|c| *c == "wait_for_deployment") {
            return Ok(None);
        }
        let d = self.update_with(&live.id, |cfg| apply(want, cfg)).await?;
        let mut attributes = attributes(&d);
        if want.wait_for_deployment {
            wait_deployed(ctx, &live.id, || self.status(&live.id)).await?;
            attributes.insert("status".into(), json!("Deployed"));
        }
        Ok(Some(attributes))
    }

    async fn delete(
        &self,
        ctx: &OpCtx,
        live: &Observed,
        _recorded: Option<&DistributionModel>,
    ) -> Result<(), ProviderError> {
        let id = live.id.as_str();
        let (cfg, _) = self.config(id).await?;
        if cfg.enabled() {
            self.update_with(id, |mut cfg| {
                cfg.enabled = false;
                Ok(cfg)
            })
            .await?;
        }
        // AWS deletes only a disabled distribution whose change is deployed.
        wait_deployed(ctx, id, || self.status(id)).await?;
        with_etag(
            || async { Ok(self.get(id).await?.map(|(_, etag)| etag).unwrap_or_default()) },
            |etag| async move {
                self.client.delete_distribution().id(id).if_match(etag).send().await.map_err(from_sdk)?;
                Ok(())
            },
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kit::literals as lit;

    fn spa() -> Value {
        json!({
            "origins": [{"id": "site", "domain_name": "site.s3.us-east-1.amazonaws.com"}],
            "default_cache_behavior": {"target_origin_id": "site"},
        })
    }

    fn with(mut v: Value, k: &str, x: Value) -> Value {
        v[k] = x;
        v
    }

    #[test]
    fn a_behavior_naming_no_origin_and_twice_used_ids_are_refused_offline() {
        assert!(origins_fit(&lit(spa())).is_none());
        let wrong = with(spa(), "default_cache_behavior", json!({"target_origin_id": "bucket"}));
        let v = origins_fit(&lit(wrong)).unwrap();
        assert!(v.message.contains("'bucket' is not one of the origins (site)"), "{}", v.message);
        assert_eq!(v.hint, "set target_origin_id: site");
        let twice = with(spa(), "origins", json!([{"id": "a", "domain_name": "x"}, {"id": "a", "domain_name": "y"}]));
        assert!(origins_fit(&lit(twice)).unwrap().message.contains("'a' is used twice"));
        assert!(origins_fit(&lit(with(spa(), "origins", json!([])))).is_some());
    }

    #[test]
    fn only_the_method_sets_cloudfront_takes_pass() {
        let b = |allowed: Value, cached: Value| {
            with(
                spa(),
                "default_cache_behavior",
                json!({"target_origin_id": "site", "allowed_methods": allowed, "cached_methods": cached}),
            )
        };
        assert!(methods_fit(&lit(b(json!(["HEAD", "GET"]), json!(["GET", "HEAD"])))).is_none());
        assert!(methods_fit(&lit(b(json!(["GET", "HEAD", "OPTIONS"]), json!(["GET", "HEAD", "OPTIONS"])))).is_none());
        assert!(methods_fit(&lit(b(json!(METHODS), json!(["GET", "HEAD"])))).is_none());
        assert!(methods_fit(&lit(b(json!(["GET", "POST"]), json!(["GET", "HEAD"])))).is_some());
        // Cached methods beyond the allowed ones.
        assert!(methods_fit(&lit(b(json!(["GET", "HEAD"]), json!(["GET", "HEAD", "OPTIONS"])))).is_some());
    }

    #[test]
    fn aliases_need_a_certificate_from_us_east_1() {
        let aliased = with(spa(), "aliases", json!(["www.example.com"]));
        assert!(certificate_fits(&lit(aliased.clone())).unwrap().hint.contains("viewer_certificate"));
        let east = json!({"acm_certificate_arn": "arn:aws:acm:us-east-1:123456789012:certificate/abc"});
        assert!(certificate_fits(&lit(with(aliased.clone(), "viewer_certificate", east))).is_none());
        let west = json!({"acm_certificate_arn": "arn:aws:acm:eu-west-1:123456789012:certificate/abc"});
        let v = certificate_fits(&lit(with(aliased, "viewer_certificate", west))).unwrap();
        assert!(v.message.contains("not in us-east-1"), "{}", v.message);
    }

    #[test]
    fn an_update_keeps_what_the_spec_does_not_manage() {
        let want: DistributionModel = crate::kit::Model::from_props(spa().as_object().unwrap()).unwrap();
        let live = DistributionConfig::builder()
            .caller_reference("first-run")
            .comment("old")
            .enabled(true)
            .web_acl_id("arn:aws:wafv2:us-east-1:123456789012:global/webacl/x/1")
            .logging(
                aws_sdk_cloudfront::types::LoggingConfig::builder()
                    .enabled(true)
                    .bucket("logs.s3.amazonaws.com")
                    .build(),
            )
            .build()
            .unwrap();
        let sent = apply(&want, live).unwrap();
        assert_eq!(sent.caller_reference(), "first-run");
        assert_eq!(sent.logging().map(|l| l.bucket()), Some("logs.s3.amazonaws.com"));
        assert_eq!(sent.web_acl_id(), Some("arn:aws:wafv2:us-east-1:123456789012:global/webacl/x/1"));
        assert_eq!(sent.comment(), "");
        // And what was sent reads back as the spec (with the kept web ACL).
        let kept = DistributionModel { web_acl_id: sent.web_acl_id().map(str::to_string), ..want.clone() };
        assert_eq!(model_of(&sent), kept);
    }
}
