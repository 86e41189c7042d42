//! `data:` lookups: existing resources a stack uses but does not own, read
//! at plan time through the kinds' own reads and never changed. By `id`
//! for every kind; by `tags` for the EC2 kinds (one DescribeTags); by
//! `name` for a hosted zone (its domain: one ListHostedZonesByName).

use crate::Aws;
use deployctl_engine::{Kinds, ReadCtx};
use deployctl_spec::{DataSource, Stack};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, thiserror::Error)]
pub enum LookupError {
    #[error(
        "{at}: data {name}: no {type_name} {what} in {region}\n  hint: check the {what_kind} and the region (--region)"
    )]
    NotFound { at: String, name: String, type_name: String, what: String, what_kind: &'static str, region: String },
    #[error("{at}: data {name}: {count} of {type_name} match {what}: {ids}\n  hint: add tags until one matches, or name it by id: {{type: {type_name}, id: …}}")]
    Ambiguous { at: String, name: String, type_name: String, what: String, count: usize, ids: String },
    #[error("{at}: data {name}: {type_name} cannot be looked up by tags\n  hint: name it by id: {{type: {type_name}, id: …}}; tags work for the ec2 kinds")]
    NoTagLookup { at: String, name: String, type_name: String },
    #[error("{at}: data {name}: {type_name} cannot be looked up by name\n  hint: name it by id: {{type: {type_name}, id: …}}; name works for {}", NAMED.join(", "))]
    NoNameLookup { at: String, name: String, type_name: String },
    #[error("{at}: data {name}: looking up {type_name}: {source}")]
    Read { at: String, name: String, type_name: String, source: deployctl_engine::ProviderError },
}

/// The kinds a lookup finds by `name:`: a hosted zone by its domain, an
/// issued ACM certificate by its domain name, and the kinds whose name is
/// their id (or, for a secret, is read like it).
pub const NAMED: &[&str] = &[
    "route53.hosted_zone",
    "acm.certificate",
    "iam.role",
    "secretsmanager.secret",
    "logs.log_group",
    "ecr.repository",
    "s3.bucket",
    "ssm.parameter",
];

/// The EC2 resource type DescribeTags filters by, per kind.
fn ec2_resource_type(kind: &str) -> Option<&'static str> {
    Some(match kind {
        "ec2.vpc" => "vpc",
        "ec2.subnet" => "subnet",
        "ec2.security_group" => "security-group",
        "ec2.internet_gateway" => "internet-gateway",
        "ec2.route_table" => "route-table",
        "ec2.nat_gateway" => "natgateway",
        "ec2.elastic_ip" => "elastic-ip",
        "ec2.vpc_endpoint" => "vpc-endpoint",
        _ => return None,
    })
}

/// What `${data.NAME.ATTR}` can read of what `source` found: its
/// properties and attributes (`id`, `arn`, …).
pub async fn lookup(
    stack: &Stack,
    aws: &Aws,
    kinds: &Kinds,
    source: &DataSource,
) -> Result<BTreeMap<String, Value>, LookupError> {
    let at = format!("{}:{}:{}", stack.file, source.pos.line, source.pos.column);
    let (name, type_name) = (source.name.clone(), source.type_name.clone());
    let read_error =
        |source| LookupError::Read { at: at.clone(), name: name.clone(), type_name: type_name.clone(), source };
    let ids: Vec<String> = match (&source.id, &source.by_name) {
        (Some(id), _) => vec![id.clone()],
        (None, Some(by_name)) => match source.type_name.as_str() {
            "route53.hosted_zone" => zones_named(aws, by_name).await.map_err(read_error)?,
            "acm.certificate" => certificates_named(aws, by_name).await.map_err(read_error)?,
            t if NAMED.contains(&t) => vec![by_name.clone()],
            _ => return Err(LookupError::NoNameLookup { at, name, type_name }),
        },
        (None, None) => {
            let Some(resource_type) = ec2_resource_type(&source.type_name) else {
                return Err(LookupError::NoTagLookup { at, name, type_name });
            };
            tagged_ec2(aws, resource_type, &source.tags).await.map_err(read_error)?
        }
    };
    let (what, what_kind) = match (&source.id, &source.by_name) {
        (Some(id), _) => (format!("with id {id}"), "id"),
        (None, Some(n)) => (format!("named {n}"), "name"),
        (None, None) => (
            format!("tagged {}", source.tags.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(", ")),
            "tags",
        ),
    };
    let not_found = || LookupError::NotFound {
        at: at.clone(),
        name: name.clone(),
        type_name: type_name.clone(),
        what: what.clone(),
        what_kind,
        region: stack.region.clone(),
    };
    if ids.len() > 1 {
        return Err(LookupError::Ambiguous {
            at: at.clone(),
            name,
            type_name,
            what,
            count: ids.len(),
            ids: ids.join(", "),
        });
    }
    let Some(kind) = kinds.get(&source.type_name) else { return Err(not_found()) };
    if ids.is_empty() {
        return Err(not_found());
    }
    let ctx = ReadCtx::new(stack.instance(), stack.region.clone());
    let found = kind.read(&ctx, &ids).await.map_err(|source| LookupError::Read {
        at: at.clone(),
        name: name.clone(),
        type_name: type_name.clone(),
        source,
    })?;
    let Some(o) = found.into_iter().next() else { return Err(not_found()) };
    let mut values: BTreeMap<String, Value> = o.properties.into_iter().collect();
    values.extend(o.attributes);
    values.insert("id".into(), Value::String(o.id));
    Ok(values)
}

/// The ids of the public hosted zones for the domain `name` (a private
/// zone of the same name is another zone: name it by id).
async fn zones_named(aws: &Aws, name: &str) -> Result<Vec<String>, deployctl_engine::ProviderError> {
    let out = aws.route53().list_hosted_zones_by_name().dns_name(name).send().await.map_err(crate::from_sdk)?;
    let want = crate::route53::dns_name(name);
    Ok(out
        .hosted_zones()
        .iter()
        .filter(|z| crate::route53::dns_name(z.name()) == want)
        .filter(|z| !z.config().is_some_and(|c| c.private_zone()))
        .map(|z| crate::route53::bare_zone_id(z.id()))
        .collect())
}

/// The ARNs of the issued certificates whose domain name is `name` (as
/// Terraform's data source, only ISSUED ones: a certificate pending
/// validation is not yet usable).
async fn certificates_named(aws: &Aws, name: &str) -> Result<Vec<String>, deployctl_engine::ProviderError> {
    use aws_sdk_acm::types::CertificateStatus;
    let mut pages =
        aws.acm().list_certificates().certificate_statuses(CertificateStatus::Issued).into_paginator().send();
    let mut out = Vec::new();
    while let Some(page) = pages.next().await {
        for c in page.map_err(crate::from_sdk)?.certificate_summary_list() {
            if c.domain_name().is_some_and(|d| d.eq_ignore_ascii_case(name.trim_end_matches('.'))) {
                out.extend(c.certificate_arn().map(str::to_string));
            }
        }
    }
    Ok(out)
}

/// The ids of the EC2 resources of `resource_type` carrying every tag.
async fn tagged_ec2(
    aws: &Aws,
    resource_type: &str,
    tags: &BTreeMap<String, String>,
) -> Result<Vec<String>, deployctl_engine::ProviderError> {
    use aws_sdk_ec2::types::Filter;
    let ec2 = aws.ec2();
    let mut matching: Option<BTreeSet<String>> = None;
    for (k, v) in tags {
        let out = ec2
            .describe_tags()
            .filters(Filter::builder().name("resource-type").values(resource_type).build())
            .filters(Filter::builder().name("key").values(k).build())
            .filters(Filter::builder().name("value").values(v).build())
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .map_err(crate::from_sdk)?;
        let ids: BTreeSet<String> = out.iter().filter_map(|t| t.resource_id().map(str::to_string)).collect();
        matching = Some(match matching {
            Some(m) => m.intersection(&ids).cloned().collect(),
            None => ids,
        });
    }
    Ok(matching.unwrap_or_default().into_iter().collect())
}
