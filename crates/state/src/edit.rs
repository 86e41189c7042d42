//! Edits an operator makes to state by hand (`deployctl state rm` and
//! `state mv`): forgetting a resource without deleting it, and giving a
//! recorded resource a new address. Both keep the rest of the state
//! coherent: what other resources recorded as their dependencies follows.

use crate::model::{ResourceState, State};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EditError {
    #[error("state has no resource '{address}'{}", known_suffix(.known))]
    NotRecorded { address: String, known: Vec<String> },
    #[error("state already has a resource at '{0}': move or remove that one first")]
    Occupied(String),
    #[error("'{0}' is not a resource address (write a name, or name[key] for one instance of a for_each)")]
    BadAddress(String),
    #[error("moving every instance of '{from}' needs a name to move them to, not the one instance '{to}'")]
    ManyToOne { from: String, to: String },
}

fn known_suffix(known: &[String]) -> String {
    if known.is_empty() {
        " (state records no resources)".into()
    } else {
        format!(" (it records: {})", known.join(", "))
    }
}

/// Splits `name[key]` into its name and key; a bare name has no key.
fn parse(address: &str) -> Result<(&str, Option<&str>), EditError> {
    let bad = || EditError::BadAddress(address.to_string());
    let (name, key) = match address.split_once('[') {
        Some((name, rest)) => (name, Some(rest.strip_suffix(']').filter(|k| !k.is_empty()).ok_or_else(bad)?)),
        None => (address, None),
    };
    let name_ok = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !name_ok || key.is_some_and(|k| k.contains(['[', ']'])) {
        return Err(bad());
    }
    Ok((name, key))
}

impl State {
    /// The recorded addresses `address` names: itself if recorded, else
    /// every instance `address[key]` of a bare name. Sorted.
    pub fn addresses_matching(&self, address: &str) -> Vec<String> {
        if self.resources.contains_key(address) {
            return vec![address.to_string()];
        }
        if address.contains('[') {
            return Vec::new();
        }
        let prefix = format!("{address}[");
        self.resources.keys().filter(|k| k.starts_with(&prefix)).cloned().collect()
    }

    fn not_recorded(&self, address: &str) -> EditError {
        EditError::NotRecorded { address: address.to_string(), known: self.resources.keys().cloned().collect() }
    }

    /// Forgets what `address` names (one instance, or every instance of a
    /// name) without touching AWS, and drops it from what the rest recorded
    /// as their dependencies. Returns what was forgotten.
    pub fn forget(&mut self, address: &str) -> Result<Vec<(String, ResourceState)>, EditError> {
        parse(address)?;
        let gone = self.addresses_matching(address);
        if gone.is_empty() {
            return Err(self.not_recorded(address));
        }
        let removed: Vec<(String, ResourceState)> =
            gone.iter().filter_map(|a| self.resources.remove(a).map(|r| (a.clone(), r))).collect();
        for r in self.resources.values_mut() {
            r.dependencies.retain(|d| !gone.contains(d));
            for d in &mut r.deposed {
                d.dependencies.retain(|dep| !gone.contains(dep));
            }
        }
        Ok(removed)
    }

    /// Records what `from` names under `to`: one address to another
    /// (`web` → `app`, `subnet` → `subnet[a]`), or every instance of a name
    /// to the same keys of another (`nat` → `gateway`: `nat[a]` →
    /// `gateway[a]`). What depended on the old address now depends on the
    /// new one. Returns the moves made, old to new.
    pub fn rename(&mut self, from: &str, to: &str) -> Result<Vec<(String, String)>, EditError> {
        parse(from)?;
        let (to_name, to_key) = parse(to)?;
        let sources = self.addresses_matching(from);
        if sources.is_empty() {
            return Err(self.not_recorded(from));
        }
        let moves: Vec<(String, String)> = if sources.len() == 1 && sources[0] == from {
            vec![(from.to_string(), to.to_string())]
        } else {
            if to_key.is_some() {
                return Err(EditError::ManyToOne { from: from.to_string(), to: to.to_string() });
            }
            sources.iter().map(|s| (s.clone(), format!("{to_name}{}", &s[from.len()..]))).collect()
        };
        for (old, new) in &moves {
            if old != new && self.resources.contains_key(new) && !moves.iter().any(|(o, _)| o == new) {
                return Err(EditError::Occupied(new.clone()));
            }
        }
        let taken: Vec<(String, ResourceState)> =
            moves.iter().filter_map(|(old, new)| self.resources.remove(old).map(|r| (new.clone(), r))).collect();
        self.resources.extend(taken);
        let renamed = |d: &mut String| {
            if let Some((_, new)) = moves.iter().find(|(old, _)| old == d) {
                *d = new.clone();
            }
        };
        for r in self.resources.values_mut() {
            r.dependencies.iter_mut().for_each(renamed);
            for d in &mut r.deposed {
                d.dependencies.iter_mut().for_each(renamed);
            }
        }
        Ok(moves)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> State {
        let mut s = State::new("net", "eu-west-1");
        for (address, deps) in [
            ("vpc", vec![]),
            ("subnet", vec!["vpc"]),
            ("nat[a]", vec!["subnet"]),
            ("nat[b]", vec!["subnet"]),
            ("routes", vec!["nat[a]", "nat[b]", "vpc"]),
        ] {
            let mut r = ResourceState::new("ec2.x");
            r.id = Some(format!("{address}-1"));
            r.dependencies = deps.into_iter().map(String::from).collect();
            s.resources.insert(address.to_string(), r);
        }
        s
    }

    fn deps(s: &State, address: &str) -> Vec<String> {
        s.resources[address].dependencies.clone()
    }

    #[test]
    fn forgetting_a_name_forgets_every_instance_and_what_depended_on_them_stops_naming_them() {
        let mut s = state();
        let gone = s.forget("nat").unwrap();
        assert_eq!(gone.iter().map(|(a, _)| a.as_str()).collect::<Vec<_>>(), ["nat[a]", "nat[b]"]);
        assert_eq!(deps(&s, "routes"), ["vpc"]);
        assert!(!s.resources.contains_key("nat[a]"));
    }

    #[test]
    fn forgetting_what_is_not_recorded_changes_nothing_and_lists_what_is() {
        let mut s = state();
        let before = s.clone();
        let e = s.forget("nat[c]").unwrap_err();
        assert_eq!(e.to_string(), "state has no resource 'nat[c]' (it records: nat[a], nat[b], routes, subnet, vpc)");
        assert_eq!(s, before);
    }

    #[test]
    fn moving_one_resource_into_a_for_each_key_renames_it_and_its_dependents_follow() {
        let mut s = state();
        assert_eq!(s.rename("subnet", "subnet[a]").unwrap(), [("subnet".into(), "subnet[a]".into())]);
        assert_eq!(s.resources["subnet[a]"].id.as_deref(), Some("subnet-1"));
        assert_eq!(deps(&s, "nat[a]"), ["subnet[a]"]);
    }

    #[test]
    fn moving_a_name_moves_each_instance_to_the_same_key() {
        let mut s = state();
        let moves = s.rename("nat", "gateway").unwrap();
        assert_eq!(moves, [("nat[a]".into(), "gateway[a]".into()), ("nat[b]".into(), "gateway[b]".into())]);
        assert_eq!(deps(&s, "routes"), ["gateway[a]", "gateway[b]", "vpc"]);
    }

    #[test]
    fn a_move_onto_a_recorded_address_or_from_many_to_one_is_refused_and_changes_nothing() {
        let mut s = state();
        let before = s.clone();
        assert_eq!(s.rename("subnet", "vpc").unwrap_err(), EditError::Occupied("vpc".into()));
        assert!(matches!(s.rename("nat", "gw[a]").unwrap_err(), EditError::ManyToOne { .. }));
        assert!(matches!(s.rename("vpc", "bad name").unwrap_err(), EditError::BadAddress(_)));
        assert!(matches!(s.rename("vpc", "x[]").unwrap_err(), EditError::BadAddress(_)));
        assert_eq!(s, before);
    }
}
