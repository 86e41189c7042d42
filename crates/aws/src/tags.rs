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
    fn changes_set_what_differs_and_unset_what_is_extra() {
        let live = tags(&[("a", "1"), ("b", "2"), ("gone", "x")]);
        let want = tags(&[("a", "1"), ("b", "3"), ("new", "y")]);
        let (set, unset) = tag_changes(&live, &want);
        assert_eq!(set, tags(&[("b", "3"), ("new", "y")]));
        assert_eq!(unset, vec!["gone".to_string()]);
        assert_eq!(tag_changes(&want, &want), (BTreeMap::new(), Vec::new()));
    }
}
