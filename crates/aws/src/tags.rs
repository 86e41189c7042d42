//! What every taggable kind does with tags: tell whether a resource found
//! by name is this resource's, and what to tag and untag to converge.

use deployctl_engine::kind::{TAG_RESOURCE, TAG_STACK};
use std::collections::BTreeMap;

/// Whether `tags` mark the resource as `address`'s in `stack`: the test
/// before adopting anything found by name.
pub(crate) fn is_ours(tags: &BTreeMap<String, String>, stack: &str, address: &str) -> bool {
    tags.get(TAG_STACK).map(String::as_str) == Some(stack)
        && tags.get(TAG_RESOURCE).map(String::as_str) == Some(address)
}

/// The stack name part of an instance identity (`network/dev` → `network`).
pub(crate) fn stack_of(instance: &str) -> &str {
    instance.split('/').next().unwrap_or(instance)
}

/// Whether `tags` mark the resource as `address`'s in any instance of the
/// stack `instance` belongs to: what an adoption lookup by name returns, so
/// that the planner, which checks the owner, can refuse another instance's
/// resource by name instead of failing on "already exists" mid-apply.
pub(crate) fn is_this_stacks(tags: &BTreeMap<String, String>, instance: &str, address: &str) -> bool {
    tags.get(TAG_RESOURCE).map(String::as_str) == Some(address)
        && tags.get(TAG_STACK).is_some_and(|owner| stack_of(owner) == stack_of(instance))
}

/// The tags to set (new or changed) and the keys to remove so that `live`
/// becomes `want`.
pub(crate) fn tag_changes(
    live: &BTreeMap<String, String>,
    want: &BTreeMap<String, String>,
) -> (BTreeMap<String, String>, Vec<String>) {
    let set = want.iter().filter(|(k, v)| live.get(*k) != Some(v)).map(|(k, v)| (k.clone(), v.clone())).collect();
    let unset = live.keys().filter(|k| !want.contains_key(*k)).cloned().collect();
    (set, unset)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn ours_needs_both_the_stack_and_the_address() {
        let t = tags(&[(TAG_STACK, "shop"), (TAG_RESOURCE, "alerts")]);
        assert!(is_ours(&t, "shop", "alerts"));
        assert!(!is_ours(&t, "shop", "other"));
        assert!(!is_ours(&t, "other", "alerts"));
        assert!(!is_ours(&tags(&[(TAG_STACK, "shop")]), "shop", "alerts"));
    }

    #[test]
    fn every_instance_of_the_stack_is_a_candidate_for_adoption_by_name() {
        let prod = tags(&[(TAG_STACK, "shop/prod"), (TAG_RESOURCE, "alerts")]);
        assert!(is_this_stacks(&prod, "shop/dev", "alerts"));
        assert!(is_this_stacks(&prod, "shop", "alerts"), "a stack written before environments");
        assert!(!is_this_stacks(&prod, "other/prod", "alerts"));
        assert!(!is_this_stacks(&prod, "shop/prod", "other"));
        assert!(!is_ours(&prod, "shop/dev", "alerts"));
    }

    #[test]
    fn changes_set_what_differs_and_unset_what_is_extra() {
        let live = tags(&[("a", "1"), ("b", "2"), ("gone", "x")]);
        let want = tags(&[("a", "1"), ("b", "3"), ("new", "y")]);
        let (set, unset) = tag_changes(&live, &want);
        assert_eq!(set, tags(&[("b", "3"), ("new", "y")]));
        assert_eq!(unset, vec!["gone".to_string()]);
        assert_eq!(tag_changes(&want, &want), (BTreeMap::new(), Vec::new()));
    }
}
