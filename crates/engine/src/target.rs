//! `--target`: the part of a stack a run looks at.
//!
//! A run with targets plans only them and what they need: for `up` and
//! `diff`, the targets and everything they depend on; for `destroy`, the
//! targets and everything that depends on them (deleted first). The rest of
//! the stack is neither read nor changed, and its state is kept as it is.

use crate::error::EngineError;
use crate::plan::Mode;
use deployctl_spec::{dependencies, Stack};
use deployctl_state::State;
use std::collections::{BTreeMap, BTreeSet};

/// The stack and the state cut down to what the targets reach.
pub struct Scoped {
    pub stack: Stack,
    pub state: Option<State>,
    /// Every address in scope.
    pub addresses: BTreeSet<String>,
}

/// What `targets` (addresses as the plan shows them: `vpc`, `nat[a]`, the
/// name of a for_each resource for all its instances, or the display form
/// `ec2.nat_gateway.nat[a]`) reach in `mode`.
pub fn scoped(stack: &Stack, state: Option<&State>, targets: &[String], mode: Mode) -> Result<Scoped, EngineError> {
    // Every address, spec and state, with what it uses.
    let mut uses: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut types: BTreeMap<String, String> = BTreeMap::new();
    for r in &stack.resources {
        uses.insert(r.address.clone(), dependencies(stack, r));
        types.insert(r.address.clone(), r.type_name.clone());
    }
    for (address, rec) in state.map(|s| &s.resources).into_iter().flatten() {
        let entry = uses.entry(address.clone()).or_default();
        entry.extend(rec.dependencies.iter().cloned());
        entry.extend(rec.deposed.iter().flat_map(|d| d.dependencies.iter().cloned()));
        types.entry(address.clone()).or_insert_with(|| rec.type_name.clone());
    }

    let mut start = BTreeSet::new();
    for t in targets {
        let found = resolve(t, &types);
        if found.is_empty() {
            let names: Vec<&str> = types.keys().map(String::as_str).collect();
            return Err(EngineError::UnknownTarget {
                target: t.clone(),
                hint: deployctl_spec::did_you_mean(
                    t,
                    &names,
                    "the stack's addresses are: ",
                    "the stack has no resources",
                )
                .unwrap_or_default(),
            });
        }
        start.extend(found);
    }

    // Down the edges (what a target uses) for apply, up them (what uses a
    // target) for destroy.
    let next: BTreeMap<String, BTreeSet<String>> = match mode {
        Mode::Apply => uses,
        Mode::Destroy => {
            let mut users: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
            for (a, deps) in &uses {
                for d in deps {
                    users.entry(d.clone()).or_default().insert(a.clone());
                }
            }
            users
        }
    };
    let mut addresses = BTreeSet::new();
    let mut todo: Vec<String> = start.into_iter().collect();
    while let Some(a) = todo.pop() {
        if addresses.insert(a.clone()) {
            todo.extend(next.get(&a).into_iter().flatten().filter(|n| !addresses.contains(*n)).cloned());
        }
    }
    // A dependency named but not declared (a typo the spec loader refuses
    // anyway) is not an address.
    addresses.retain(|a| types.contains_key(a));

    let mut cut = stack.clone();
    cut.resources.retain(|r| addresses.contains(&r.address));
    let state = state.map(|s| {
        let mut s = s.clone();
        s.resources.retain(|a, _| addresses.contains(a));
        s
    });
    Ok(Scoped { stack: cut, state, addresses })
}

/// The addresses one target names.
fn resolve(target: &str, types: &BTreeMap<String, String>) -> Vec<String> {
    if types.contains_key(target) {
        return vec![target.to_string()];
    }
    // The display form: the kind, then the address.
    let by_display: Vec<String> =
        types.iter().filter(|(a, ty)| target == format!("{ty}.{a}")).map(|(a, _)| a.clone()).collect();
    if !by_display.is_empty() {
        return by_display;
    }
    // A for_each name: all its instances (also in the display form).
    let prefix = format!("{target}[");
    types
        .iter()
        .filter(|(a, ty)| a.starts_with(&prefix) || format!("{ty}.{a}").starts_with(&prefix))
        .map(|(a, _)| a.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use deployctl_state::ResourceState;

    static KIND: deployctl_spec::KindSchema = deployctl_spec::KindSchema {
        type_name: "test.kind",
        doc: "",
        properties: &[
            deployctl_spec::Prop::new("parent", deployctl_spec::Type::String, ""),
            deployctl_spec::Prop::new("size", deployctl_spec::Type::String, ""),
        ],
        attributes: &[deployctl_spec::Attr { name: "id", doc: "" }],
        taggable: false,
        rules: &[],
        example: "",
    };
    static REGISTRY: [&deployctl_spec::KindSchema; 1] = [&KIND];

    fn stack() -> Stack {
        let yaml = r#"
stack: net
region: us-east-1
resources:
  vpc:
    type: test.kind
  subnet:
    type: test.kind
    for_each: {a: "1", b: "2"}
    properties: {parent: "${vpc.id}", size: "${each.value}"}
  sg:
    type: test.kind
    properties: {parent: "${vpc.id}"}
  logs:
    type: test.kind
"#;
        deployctl_spec::load_str("net.yaml", yaml, &Default::default(), &REGISTRY).unwrap()
    }

    fn scope(targets: &[&str], mode: Mode, state: Option<&State>) -> Result<Vec<String>, String> {
        let targets: Vec<String> = targets.iter().map(|t| t.to_string()).collect();
        scoped(&stack(), state, &targets, mode).map(|s| s.addresses.into_iter().collect()).map_err(|e| e.to_string())
    }

    #[test]
    fn an_apply_target_brings_what_it_depends_on_and_nothing_else() {
        assert_eq!(scope(&["subnet[a]"], Mode::Apply, None).unwrap(), ["subnet[a]", "vpc"]);
        assert_eq!(scope(&["subnet"], Mode::Apply, None).unwrap(), ["subnet[a]", "subnet[b]", "vpc"]);
        assert_eq!(scope(&["test.kind.sg", "logs"], Mode::Apply, None).unwrap(), ["logs", "sg", "vpc"]);
    }

    #[test]
    fn a_destroy_target_brings_what_depends_on_it() {
        assert_eq!(scope(&["vpc"], Mode::Destroy, None).unwrap(), ["sg", "subnet[a]", "subnet[b]", "vpc"]);
        assert_eq!(scope(&["subnet[b]"], Mode::Destroy, None).unwrap(), ["subnet[b]"]);
    }

    /// A resource gone from the spec is still reached through what state
    /// recorded it uses.
    #[test]
    fn a_target_reaches_state_only_resources_through_their_recorded_dependencies() {
        let mut st = State::new("net", "us-east-1");
        let mut old = ResourceState::new("ec2.route_table");
        old.dependencies = vec!["vpc".into()];
        st.resources.insert("old_rt".into(), old);
        assert_eq!(
            scope(&["vpc"], Mode::Destroy, Some(&st)).unwrap(),
            ["old_rt", "sg", "subnet[a]", "subnet[b]", "vpc"]
        );
        assert_eq!(scope(&["old_rt"], Mode::Apply, Some(&st)).unwrap(), ["old_rt", "vpc"]);
    }

    #[test]
    fn an_unknown_target_is_refused_with_the_closest_address() {
        let e = scope(&["subnt[a]"], Mode::Apply, None).unwrap_err();
        assert!(e.contains("no resource 'subnt[a]'") && e.contains("did you mean 'subnet[a]'?"), "{e}");
    }
}
