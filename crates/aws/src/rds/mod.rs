//! Amazon RDS kinds: a DB subnet group, a DB parameter group and a DB
//! instance. RDS tags by ARN (AddTagsToResource); an instance's tags come
//! with DescribeDBInstances, a group's with one ListTagsForResource.

pub mod db_instance;
pub mod parameter_group;
pub mod subnet_group;

use crate::error::from_sdk;
use crate::kit::{names::sanitized_name, own_tags, unless_gone, Tags};
use aws_sdk_rds::types::Tag;
use aws_sdk_rds::Client;
use deployctl_engine::ProviderError;
use deployctl_spec::RuleViolation;

/// `<stack>-<address>` as RDS names its things: lowercase letters, digits
/// and hyphens, starting with a letter, no two hyphens in a row and none
/// at the end, at most `max` characters.
pub(crate) fn default_name(stack: &str, address: &str, max: usize) -> String {
    let raw = format!("{stack}-{address}").to_ascii_lowercase();
    let name = sanitized_name(&raw, |c| c.is_ascii_lowercase() || c.is_ascii_digit(), max);
    if name.starts_with(|c: char| c.is_ascii_lowercase()) {
        name
    } else {
        sanitized_name(&format!("d-{raw}"), |c| c.is_ascii_lowercase() || c.is_ascii_digit(), max)
    }
}

/// What RDS refuses of an identifier beyond its characters: it starts with
/// a letter, has no two hyphens in a row and does not end with one.
pub(crate) fn identifier_shape(field: &'static str, id: &str) -> Option<RuleViolation> {
    let bad = !id.starts_with(|c: char| c.is_ascii_alphabetic()) || id.contains("--") || id.ends_with('-');
    bad.then(|| RuleViolation {
        field,
        message: format!("{id:?}: an RDS identifier starts with a letter, has no '--' and does not end with '-'"),
        hint: "write lowercase letters, digits and single hyphens, starting with a letter".into(),
    })
}

/// The stack's tags as RDS takes them.
pub(crate) fn rds_tags(tags: &Tags) -> Vec<Tag> {
    tags.iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect()
}

/// The tags of the resource with this ARN; `None` when it is gone.
pub(crate) async fn tags_of(client: &Client, arn: &str) -> Result<Option<Tags>, ProviderError> {
    let out = client.list_tags_for_resource().resource_name(arn).send().await.map_err(from_sdk);
    let out = unless_gone(out, crate::is_not_found)?;
    Ok(out.map(|o| own_tags(o.tag_list().iter().map(|t| (t.key().unwrap_or_default(), t.value().unwrap_or_default())))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_names_fit_rds_rules() {
        assert_eq!(default_name("shop", "db", 63), "shop-db");
        assert_eq!(default_name("Shop_Prod", "db[a]", 63), "shop-prod-db-a");
        assert_eq!(default_name("1shop", "db", 63), "d-1shop-db");
        assert!(default_name("shop", &"x".repeat(80), 63).len() <= 63);
        assert!(identifier_shape("identifier", "shop-db").is_none());
        assert!(identifier_shape("identifier", "1db").is_some());
        assert!(identifier_shape("identifier", "a--b").is_some());
        assert!(identifier_shape("identifier", "db-").is_some());
    }
}
