//! The step generator: the spec against the live resources (found through
//! state, or by tag when a create was interrupted) gives a [`Plan`].

use crate::diff::{diff_properties, FieldDiff, Want};
use crate::error::EngineError;
use crate::error::OwnedElsewhere;
use crate::events::{Event, EventSink};
use crate::kind::{Kinds, Observed, Props, ReadCtx, TAG_RESOURCE, TAG_STACK};
use crate::plan::Adoption;
use crate::plan::*;
use crate::resolve::{read_secrets, secret_sources, Known};
use deployctl_spec::{dependencies, Expr, Prop, ReplaceOrder, Stack, Type, Update};
use deployctl_state::{PendingOp, ResourceState, State};
use futures::future::join_all;
use petgraph::graphmap::DiGraphMap;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// What the planner found live: by address.
struct Live {
    observed: BTreeMap<String, Observed>,
    /// The kind of every observed resource.
    types: BTreeMap<String, String>,
    /// Addresses whose resource was found by tag rather than through state,
    /// with how it is adopted: `None` for a create that state recorded the
    /// intent of (resumed, not announced as an adoption).
    adopted: BTreeMap<String, Option<Adoption>>,
    /// Deposed objects (see the state's `deposed`) still there, by address.
    deposed: BTreeMap<String, Vec<Observed>>,
}

/// The display name of a resource: `ec2.subnet.public[a]`.
pub fn display(type_name: &str, address: &str) -> String {
    format!("{type_name}.{address}")
}

/// The tags deployctl puts on a resource: its own two, the stack's, then the
/// resource's.
pub fn all_tags(stack: &Stack, address: &str, own: &BTreeMap<String, Expr>) -> BTreeMap<String, Expr> {
    let mut tags: BTreeMap<String, Expr> =
        stack.tags.iter().map(|(k, v)| (k.clone(), Expr::Literal(Value::String(v.clone())))).collect();
    tags.extend(own.iter().map(|(k, v)| (k.clone(), v.clone())));
    tags.insert(TAG_STACK.into(), Expr::Literal(Value::String(stack.instance())));
    tags.insert(TAG_RESOURCE.into(), Expr::Literal(Value::String(address.to_string())));
    tags
}

/// The for_each keys of every resource name in the stack.
pub fn keys_of(stack: &Stack) -> BTreeMap<String, Vec<String>> {
    let mut keys: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for r in &stack.resources {
        if let Some(k) = &r.key {
            keys.entry(r.name.clone()).or_default().push(k.clone());
        }
    }
    keys
}

/// Computes the plan. Reads are batched: one `read` per kind for every id
/// state knows, and one `find_tagged` per kind that has something to adopt.
pub async fn plan(
    stack: &Stack,
    state: Option<&State>,
    kinds: &Kinds,
    mode: Mode,
    events: &EventSink,
) -> Result<Plan, EngineError> {
    plan_with(stack, state, kinds, mode, events, &PlanOptions::default()).await
}

/// What a plan may do beyond the default.
#[derive(Debug, Clone, Default)]
pub struct PlanOptions {
    /// Take over the resources this other instance of the stack owns, where
    /// the spec names them (`--take-over FROM`). Without it, finding one is
    /// an error that names the owner.
    pub take_over: Option<String>,
    /// `--target`: plan only these addresses and what they need (see
    /// [`crate::target`]). Empty: the whole stack.
    pub targets: Vec<String>,
}

/// [`plan`] with options.
pub async fn plan_with(
    stack: &Stack,
    state: Option<&State>,
    kinds: &Kinds,
    mode: Mode,
    events: &EventSink,
    options: &PlanOptions,
) -> Result<Plan, EngineError> {
    // The for_each keys of the whole stack: `${subnet[*].id}` means every
    // subnet even when a target reaches only some of them.
    let keys = keys_of(stack);
    // Targeted: only what the targets reach is read and planned.
    let scoped;
    let (stack, state, scope) = if options.targets.is_empty() {
        (stack, state, None)
    } else {
        scoped = crate::target::scoped(stack, state, &options.targets, mode)?;
        (&scoped.stack, scoped.state.as_ref(), Some(&scoped.addresses))
    };
    // Secrets read (Secrets Manager) while checking are kept: each is read
    // once per plan.
    let mut known = Known { attributes: BTreeMap::new(), keys: keys.clone(), secrets: BTreeMap::new() };
    if mode == Mode::Apply {
        check_secrets(stack, kinds, &mut known).await?;
    }
    let environment = stack.environment.as_ref().map(|e| e.name.clone());
    let empty = State::for_instance(&stack.name, environment.as_deref(), &stack.region);
    let st = state.unwrap_or(&empty);
    // The secrets the spec reads, by the ids state knows, side by side with
    // the live reads: one round trip for both. One whose id or value this
    // plan finds changing is not used (the loop below decides, as before).
    let ahead = async {
        if mode != Mode::Apply {
            return BTreeMap::new();
        }
        // Most specs read no secret: then state is not copied at all.
        let exprs: Vec<&Expr> = stack
            .resources
            .iter()
            .flat_map(|r| r.properties.values())
            .filter(|e| {
                let mut sources = Vec::new();
                secret_sources(e, &mut sources);
                !sources.is_empty()
            })
            .collect();
        if exprs.is_empty() {
            return BTreeMap::new();
        }
        let attributes = st.resources.iter().map(|(a, r)| (a.clone(), r.attributes.clone())).collect();
        let from_state = Known { attributes, keys: keys.clone(), secrets: BTreeMap::new() };
        let mut ids = from_state.secrets_to_read(exprs, &BTreeSet::new());
        ids.retain(|id| !known.secrets.contains_key(id));
        read_secrets(ids, kinds.secret_store()).await.into_iter().collect::<BTreeMap<_, _>>()
    };
    let (live, mut ahead) = futures::join!(read_live(stack, st, kinds, mode, events, options), ahead);
    let mut live = live?;
    if let Some(scope) = scope {
        // What a look-up by tag found beyond the targets is not this run's.
        live.observed.retain(|a, _| scope.contains(a));
        live.adopted.retain(|a, _| scope.contains(a));
        live.deposed.retain(|a, _| scope.contains(a));
    }

    let mut plan = Plan {
        format_version: PLAN_FORMAT_VERSION,
        mode,
        stack: stack.name.clone(),
        environment,
        region: stack.region.clone(),
        state_lineage: state.map(|s| s.lineage.clone()),
        lineage: st.lineage.clone(),
        state_serial: state.map(|s| s.serial),
        resources: Vec::new(),
        forget: Vec::new(),
        for_each_keys: keys,
        outputs: stack.outputs.iter().map(|o| (o.name.clone(), o.value.clone())).collect(),
        targets: options.targets.clone(),
    };

    let mut in_spec = BTreeSet::new();
    // Resources that change in this run: a secret read through one of them
    // is known only after apply.
    let mut changing = BTreeSet::new();
    // Replacements that delete first, by address: what depends on one
    // cannot be created first (its old object would outlive the one it
    // uses).
    let mut deletes_first: BTreeMap<String, String> = BTreeMap::new();
    // What the plan would delete that AWS refuses to: (display, why).
    let mut refusals: Vec<(String, String)> = Vec::new();
    if mode == Mode::Apply {
        for r in topo_order(stack) {
            in_spec.insert(r.address.clone());
            let kind = kinds.get(&r.type_name).ok_or_else(|| EngineError::UnknownKind {
                type_name: r.type_name.clone(),
                address: r.address.clone(),
            })?;
            let schema = kind.schema();
            let prior = live.observed.get(&r.address);
            let recorded = st.resources.get(&r.address);
            let tags = if schema.taggable { all_tags(stack, &r.address, &r.tags) } else { BTreeMap::new() };
            let deps: Vec<String> = dependencies(stack, r).into_iter().collect();

            // Evaluate what the spec asks, with references to resources that
            // are not created yet left unknown.
            let lineage = st.lineage.as_str();
            for id in known.secrets_to_read(r.properties.values(), &changing) {
                if let Some(read) = ahead.remove(&id) {
                    known.secrets.insert(id, read);
                }
            }
            known.prefetch_secrets(r.properties.values(), kinds.secret_store(), &changing).await;
            let mut wanted: BTreeMap<&str, Option<Value>> = BTreeMap::new();
            for (name, e) in &r.properties {
                wanted.insert(name.as_str(), known.eval_recorded(e, lineage));
            }
            let want = |p: &Prop| -> Want {
                match wanted.get(p.name) {
                    None => Want::Unmanaged,
                    Some(None) => Want::Unknown,
                    Some(Some(v)) => Want::Value(v.clone()),
                }
            };

            let mut rp = ResourcePlan {
                address: r.address.clone(),
                type_name: r.type_name.clone(),
                action: Action::NoOp,
                id: prior.map(|p| p.id.clone()),
                reasons: Vec::new(),
                changes: Vec::new(),
                forced_by: Vec::new(),
                replacement: None,
                deposed: deposed_of(&live, &r.address, recorded),
                // What the recorded object (and any deposed one) used that
                // the spec no longer names: deleted only after this lets go.
                previous_dependencies: recorded
                    .map(|rec| {
                        let used = rec.dependencies.iter().chain(rec.deposed.iter().flat_map(|d| &d.dependencies));
                        let mut old: Vec<String> = used.filter(|d| !deps.contains(d)).cloned().collect();
                        old.sort();
                        old.dedup();
                        old
                    })
                    .unwrap_or_default(),
                dependencies: deps,
                desired: r.properties.clone(),
                tags: tags.clone(),
                prior: prior.map(|p| to_prior(p, recorded)),
                resume: false,
                timeouts: timeouts_of(r),
                adopt: live.adopted.get(&r.address).cloned().flatten(),
            };

            match prior {
                None => {
                    rp.action = Action::Create;
                    if let Some(rec) = recorded {
                        if rec.id.is_some() && rec.pending.is_none() {
                            rp.reasons.push(format!(
                                "{} was deleted outside deployctl",
                                rec.id.as_deref().unwrap_or_default()
                            ));
                        }
                    }
                    for p in schema.properties {
                        if let Some(v) = wanted.get(p.name) {
                            rp.changes.push(Change {
                                field: p.name.to_string(),
                                before: None,
                                after: Some(match (v, r.properties.get(p.name)) {
                                    (None, Some(e @ (Expr::List(_) | Expr::Map(_)))) => {
                                        Planned::Partial(known.eval_partial(e, lineage))
                                    }
                                    (v, _) => planned(p, v.clone()),
                                }),
                                forces_replacement: false,
                                drift: false,
                                applied: None,
                            });
                        }
                    }
                    for (k, e) in &tags {
                        if k.starts_with("deployctl:") {
                            continue;
                        }
                        rp.changes.push(Change {
                            field: format!("tags.{k}"),
                            before: None,
                            after: Some(match known.eval_recorded(e, lineage) {
                                Some(v) => Planned::Value(v),
                                None => Planned::KnownAfterApply,
                            }),
                            forces_replacement: false,
                            drift: false,
                            applied: None,
                        });
                    }
                }
                Some(obs) => {
                    match live.adopted.get(&r.address) {
                        // Announced by `adopt`.
                        Some(Some(_)) => {}
                        Some(None) => rp
                            .reasons
                            .push(format!("adopted {} (found by its tags after an interrupted create)", obs.id)),
                        None => {}
                    }
                    // Write-only properties (secrets) cannot be read back, and
                    // state-only ones are not in AWS at all: compare against
                    // what state recorded.
                    let mut live_props = obs.properties.clone();
                    for p in schema.properties.iter().filter(|p| matches!(p.ty, Type::Secret) || p.state_only) {
                        if let Some(v) = recorded.and_then(|rec| rec.properties.get(p.name)) {
                            live_props.insert(p.name.to_string(), v.clone());
                        }
                    }
                    let mut diffs = diff_properties(schema, &want, &live_props);
                    // What another controller owns is not drift.
                    let new: crate::kind::Wanted = wanted.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
                    let controlled = kind.controlled(obs, &new);
                    let ignored = r
                        .lifecycle
                        .ignore_changes
                        .iter()
                        .map(|f| (f.as_str(), "left as it is (lifecycle.ignore_changes)".into()));
                    for (field, why) in controlled.into_iter().chain(ignored) {
                        if diffs.iter().any(|d| d.field == field) {
                            diffs.retain(|d| d.field != field);
                            rp.reasons.push(format!("{field}: {why}"));
                        }
                    }
                    // What deployctl applied last, to tell drift (the live
                    // value is not it) from configuration (the spec moved):
                    // only for a resource this stack applied, not one it
                    // adopts or takes over now.
                    let applied = recorded
                        .filter(|rec| rec.id.is_some() && rec.pending.is_none())
                        .filter(|_| !live.adopted.contains_key(&r.address));
                    for d in &diffs {
                        let mut c = field_change(schema.property(&d.field), d);
                        // Known in part: show what is, the rest per leaf.
                        if let (None, Some(e @ (Expr::List(_) | Expr::Map(_)))) = (&d.after, r.properties.get(&d.field))
                        {
                            if wanted.contains_key(d.field.as_str()) {
                                c.after = Some(Planned::Partial(known.eval_partial(e, lineage)));
                            }
                        }
                        if let (Some(rec), Some(p)) = (applied, schema.property(&d.field)) {
                            if let Some(was) = drifted_from(p, rec, r, live_props.get(p.name)) {
                                c.drift = true;
                                c.applied = Some(planned(p, Some(was)));
                            }
                        }
                        rp.changes.push(c);
                        if d.update == Update::Replace {
                            rp.forced_by.push(d.field.clone());
                            if schema.property(&d.field).is_some_and(|p| p.update == Update::Version) {
                                let text =
                                    |v: &Option<Value>| v.as_ref().and_then(Value::as_str).unwrap_or("?").to_string();
                                rp.reasons.push(format!(
                                    "{} {} -> {} is a new major version: it is made as a new resource",
                                    d.field,
                                    text(&d.before),
                                    text(&d.after)
                                ));
                            }
                        }
                    }
                    // A tag whose live value is not the one last applied
                    // (states that recorded tags only).
                    // Whether it drifted, and from what (`None`: it was not set).
                    let tag_drift = |k: &str| -> (bool, Option<Planned>) {
                        let Some(rec) = applied.filter(|rec| !rec.tags.is_empty()) else { return (false, None) };
                        let was = rec.tags.get(k);
                        (was != obs.tags.get(k), was.map(|v| Planned::Value(Value::String(v.clone()))))
                    };
                    if schema.taggable {
                        let desired_tags: BTreeMap<String, Option<Value>> =
                            tags.iter().map(|(k, e)| (k.clone(), known.eval_recorded(e, lineage))).collect();
                        for (k, after) in &desired_tags {
                            let before = obs.tags.get(k).map(|s| Value::String(s.clone()));
                            if before.as_ref() != after.as_ref() {
                                let (drift, applied) = tag_drift(k);
                                rp.changes.push(Change {
                                    field: format!("tags.{k}"),
                                    before: before.map(Planned::Value),
                                    after: Some(after.clone().map(Planned::Value).unwrap_or(Planned::KnownAfterApply)),
                                    forces_replacement: false,
                                    drift,
                                    applied,
                                });
                            }
                        }
                        for (k, v) in &obs.tags {
                            if !desired_tags.contains_key(k) {
                                let (drift, applied) = tag_drift(k);
                                rp.changes.push(Change {
                                    field: format!("tags.{k}"),
                                    before: Some(Planned::Value(Value::String(v.clone()))),
                                    after: None,
                                    forces_replacement: false,
                                    drift,
                                    applied,
                                });
                            }
                        }
                    }
                    let interrupted_create =
                        recorded.and_then(|rec| rec.pending.as_ref()).is_some_and(|p| p.op == PendingOp::Create);
                    rp.action = if !rp.forced_by.is_empty() {
                        Action::Replace
                    } else if !rp.changes.is_empty() || interrupted_create {
                        Action::Update
                    } else {
                        Action::NoOp
                    };
                    if matches!(rp.action, Action::Update | Action::NoOp) {
                        let changed: Vec<&str> = rp.changes.iter().map(|c| c.field.as_str()).collect();
                        rp.reasons.extend(kind.notes(obs, &new, &changed));
                    }
                    if interrupted_create && rp.action == Action::Update {
                        rp.resume = true;
                        rp.reasons.push(format!("resuming the interrupted create of {}", obs.id));
                    }
                    if rp.action == Action::Replace {
                        if let Some(why) = kind.refuses_delete(obs) {
                            refusals.push((format!("{}.{} ({})", r.type_name, r.address, obs.id), why));
                        }
                        let coexists = kind.coexists(&obs.properties, &new);
                        let dependency = rp
                            .dependencies
                            .iter()
                            .find_map(|d| deletes_first.get(d).map(|why| (d.clone(), why.clone())));
                        let order = replacement_order(r, coexists, dependency)?;
                        if !order.create_first() {
                            deletes_first.insert(r.address.clone(), order.why.clone());
                        }
                        rp.replacement = Some(order);
                    }
                }
            }
            if !rp.deposed.is_empty() {
                changing.insert(r.address.clone());
            }
            if matches!(rp.action, Action::NoOp | Action::Update) {
                if let Some(obs) = prior {
                    known.attributes.insert(r.address.clone(), obs.attributes.clone());
                }
            }
            if rp.action != Action::NoOp {
                changing.insert(r.address.clone());
            }
            plan.resources.push(rp);
        }
    }

    // Whatever is live but not (or no longer) in the spec is deleted; state
    // entries whose resource is gone are forgotten.
    let mut deletes = Vec::new();
    let addresses: BTreeSet<&String> = st.resources.keys().chain(live.observed.keys()).collect();
    for address in addresses {
        if in_spec.contains(address) {
            continue;
        }
        let rec = st.resources.get(address);
        let deposed = deposed_of(&live, address, rec);
        match live.observed.get(address) {
            None if deposed.is_empty() => plan.forget.push(address.clone()),
            obs => {
                let type_name =
                    live.types.get(address).cloned().or_else(|| rec.map(|r| r.type_name.clone())).unwrap_or_default();
                let mut reasons = Vec::new();
                if mode == Mode::Apply {
                    reasons.push("no longer in the spec".to_string());
                }
                if let Some(obs) = obs.filter(|_| live.adopted.contains_key(address)) {
                    reasons.push(format!("found by its tags ({})", obs.id));
                }
                if let (Some(obs), Some(kind)) = (obs, kinds.get(&type_name)) {
                    if let Some(why) = kind.refuses_delete(obs) {
                        refusals.push((format!("{type_name}.{address} ({})", obs.id), why));
                    }
                }
                deletes.push(ResourcePlan {
                    address: address.clone(),
                    type_name,
                    action: Action::Delete,
                    id: obs.map(|o| o.id.clone()),
                    reasons,
                    changes: Vec::new(),
                    forced_by: Vec::new(),
                    replacement: None,
                    deposed,
                    // What it (and any deposed object) used: deleted after it.
                    dependencies: rec
                        .map(|r| {
                            let mut all: Vec<String> = r
                                .dependencies
                                .iter()
                                .chain(r.deposed.iter().flat_map(|d| &d.dependencies))
                                .cloned()
                                .collect();
                            all.sort();
                            all.dedup();
                            all
                        })
                        .or_else(|| stack.resource(address).map(|r| dependencies(stack, r).into_iter().collect()))
                        .unwrap_or_default(),
                    previous_dependencies: Vec::new(),
                    desired: BTreeMap::new(),
                    tags: BTreeMap::new(),
                    prior: obs.map(|o| to_prior(o, rec)),
                    resume: false,
                    timeouts: stack.resource(address).and_then(timeouts_of),
                    adopt: None,
                });
            }
        }
    }
    // Deletes in reverse dependency order, for reading; the executor orders
    // them itself.
    let depths: BTreeMap<String, usize> =
        deletes.iter().map(|d| (d.address.clone(), depth(&d.address, &deletes))).collect();
    deletes.sort_by_key(|d| std::cmp::Reverse(depths[&d.address]));
    plan.resources.extend(deletes);
    if !refusals.is_empty() {
        return Err(EngineError::DeleteRefused { refusals });
    }
    Ok(plan)
}

/// Every secret the spec reads must be readable before anything is planned,
/// let alone applied: a missing variable, file or Secrets Manager secret is
/// bad input, and bad input changes nothing. Secrets Manager secrets named
/// by a reference (created by this stack) are checked at apply. The error
/// names the source, never a value.
async fn check_secrets(stack: &Stack, kinds: &Kinds, known: &mut Known) -> Result<(), EngineError> {
    // Nothing is known of resources yet: only literal ids are read here.
    let all = stack.resources.iter().flat_map(|r| r.properties.values());
    known.prefetch_secrets(all, kinds.secret_store(), &BTreeSet::new()).await;
    let mut problems = Vec::new();
    for r in &stack.resources {
        for (name, e) in &r.properties {
            let mut sources = Vec::new();
            secret_sources(e, &mut sources);
            // A secret named by reference is read at apply, once it exists.
            for src in sources.into_iter().filter(|s| s.references().next().is_none()) {
                if let Some(Err(m)) = known.secret_value(src) {
                    problems.push(format!("{} property {name}: {m}", display(&r.type_name, &r.address)));
                }
            }
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(EngineError::Secrets(problems.join("\n")))
    }
}

/// The deposed objects of `address` that are still there, as priors (with
/// what state recorded of each, for its delete).
fn deposed_of(live: &Live, address: &str, rec: Option<&ResourceState>) -> Vec<Prior> {
    let Some(found) = live.deposed.get(address) else { return Vec::new() };
    found
        .iter()
        .map(|o| {
            let recorded = rec
                .and_then(|r| r.deposed.iter().find(|d| d.id == o.id))
                .map(|d| d.properties.clone())
                .unwrap_or_default();
            Prior { recorded, ..to_prior(o, None) }
        })
        .collect()
}

/// The order of a replacement: what the spec's lifecycle asks, or else
/// create first wherever the new object can exist beside the old one and
/// nothing it depends on is itself replaced delete-first.
fn replacement_order(
    r: &deployctl_spec::Resource,
    coexists: Result<(), String>,
    dependency: Option<(String, String)>,
) -> Result<Replacement, EngineError> {
    let display = display(&r.type_name, &r.address);
    let blocked = match (coexists, dependency) {
        (Err(why), _) => Some(why),
        (Ok(()), Some((dep, _))) => Some(format!("its dependency {dep} is replaced delete-first")),
        (Ok(()), None) => None,
    };
    Ok(match (r.lifecycle.replace, blocked) {
        (Some(ReplaceOrder::DeleteBeforeCreate), _) => Replacement {
            order: ReplaceOrder::DeleteBeforeCreate,
            why: "lifecycle.replace is delete_before_create".into(),
        },
        (Some(ReplaceOrder::CreateBeforeDestroy), Some(why)) => {
            return Err(EngineError::CannotCreateFirst {
                display,
                hint: "give the replacement what must be unique (a new name), or remove lifecycle.replace to let deployctl delete the old one first".into(),
                why,
            })
        }
        (Some(ReplaceOrder::CreateBeforeDestroy), None) => Replacement {
            order: ReplaceOrder::CreateBeforeDestroy,
            why: "lifecycle.replace is create_before_destroy".into(),
        },
        (None, Some(why)) => Replacement { order: ReplaceOrder::DeleteBeforeCreate, why },
        (None, None) => Replacement {
            order: ReplaceOrder::CreateBeforeDestroy,
            why: "the new one can exist beside the old: created first, what uses it repointed, then the old one deleted"
                .into(),
        },
    })
}

/// A saved plan shows each secret by its fingerprint, and the values are
/// read again at apply: each change the plan makes of a secret must still
/// be of the secret it shows, or what runs is not what was reviewed. The
/// secrets the changes name by a literal source (`env:`, `file:`, a
/// Secrets Manager id) are read again and fingerprinted with the plan's
/// lineage; the resources and properties whose value differs are returned.
/// A secret read through a resource the run creates is known only at apply
/// and is not checked.
pub async fn secrets_changed_since(plan: &Plan, kinds: &Kinds) -> Vec<(String, String)> {
    let mut known = Known { attributes: BTreeMap::new(), keys: plan.for_each_keys.clone(), secrets: BTreeMap::new() };
    for rp in plan.resources.iter().filter(|r| matches!(r.action, Action::NoOp | Action::Update)) {
        if let Some(p) = &rp.prior {
            known.attributes.insert(rp.address.clone(), p.attributes.clone());
        }
    }
    let mut changed = Vec::new();
    for rp in &plan.resources {
        for c in &rp.changes {
            let Some(e) = rp.desired.get(&c.field) else { continue };
            let mut sources = Vec::new();
            secret_sources(e, &mut sources);
            if sources.is_empty() || sources.iter().any(|s| s.references().next().is_some()) {
                continue;
            }
            let shown = match &c.after {
                Some(Planned::Sensitive { fingerprint }) => Value::String(fingerprint.clone()),
                Some(Planned::Value(v)) => v.clone(),
                _ => continue,
            };
            known.prefetch_secrets(std::iter::once(e), kinds.secret_store(), &BTreeSet::new()).await;
            if known.eval_recorded(e, &plan.lineage) != Some(shown) {
                changed.push((display(&rp.type_name, &rp.address), c.field.clone()));
            }
        }
    }
    changed
}

fn depth(address: &str, all: &[ResourcePlan]) -> usize {
    fn go(a: &str, all: &[ResourcePlan], seen: &mut BTreeSet<String>) -> usize {
        if !seen.insert(a.to_string()) {
            return 0;
        }
        all.iter()
            .find(|r| r.address == a)
            .map(|r| r.dependencies.iter().map(|d| 1 + go(d, all, seen)).max().unwrap_or(0))
            .unwrap_or(0)
    }
    go(address, all, &mut BTreeSet::new())
}

fn timeouts_of(r: &deployctl_spec::Resource) -> Option<Timeouts> {
    let t = r.timeouts;
    if t == Default::default() {
        return None;
    }
    Some(Timeouts {
        create_secs: t.create.map(|d| d.as_secs()),
        update_secs: t.update.map(|d| d.as_secs()),
        delete_secs: t.delete.map(|d| d.as_secs()),
    })
}

/// How long a request sent by a run that was then killed may still take to
/// land: AWS answers mutating calls within seconds, and the killed process
/// cannot retry.
pub const IN_FLIGHT_GRACE: std::time::Duration = std::time::Duration::from_secs(5);

/// How long to wait, at `now`, before looking for what interrupted creates
/// made: the rest of [`IN_FLIGHT_GRACE`] after the latest one started, if it
/// has not passed. A create whose intent was written and whose sending was
/// never recorded may have been sent just before its run was killed: the
/// whole grace.
fn in_flight_wait(st: &State, now: std::time::SystemTime) -> Option<std::time::Duration> {
    let now = time::OffsetDateTime::from(now);
    st.resources
        .values()
        .filter(|r| r.id.is_none())
        .filter_map(|r| r.pending.as_ref().filter(|p| p.op == PendingOp::Create))
        .filter_map(|p| match &p.started_at {
            None => Some(now),
            Some(at) => time::OffsetDateTime::parse(at, &time::format_description::well_known::Rfc3339).ok(),
        })
        .map(|started| started + IN_FLIGHT_GRACE - now)
        .filter(|left| left.is_positive())
        .max()
        .and_then(|left| std::time::Duration::try_from(left).ok())
}

fn to_prior(o: &Observed, rec: Option<&ResourceState>) -> Prior {
    Prior {
        id: o.id.clone(),
        properties: o.properties.clone(),
        tags: o.tags.clone(),
        attributes: o.attributes.clone(),
        recorded: rec.map(|r| r.properties.clone()).unwrap_or_default(),
        recorded_tags: rec.map(|r| r.tags.clone()).unwrap_or_default(),
    }
}

/// What deployctl last applied to `p`, when the live value is not that:
/// the value state recorded, or, for a property the spec leaves to its
/// default (then and now), the default.
fn drifted_from(p: &Prop, rec: &ResourceState, r: &deployctl_spec::Resource, live: Option<&Value>) -> Option<Value> {
    let was = match rec.properties.get(p.name) {
        Some(v) => v.clone(),
        None if !r.properties.contains_key(p.name) => crate::diff::default_of(p)?,
        None => return None,
    };
    let same = if was.is_null() {
        live.filter(|v| !v.is_null()).is_none_or(crate::diff::is_empty_value)
    } else {
        crate::diff::same(&p.ty, &was, live)
    };
    (!same).then_some(was)
}

fn planned(p: &Prop, v: Option<Value>) -> Planned {
    match v {
        None => Planned::KnownAfterApply,
        Some(Value::String(f)) if matches!(p.ty, Type::Secret) => Planned::Sensitive { fingerprint: f },
        Some(v) => Planned::Value(v),
    }
}

fn field_change(p: Option<&Prop>, d: &FieldDiff) -> Change {
    let secret = p.is_some_and(|p| matches!(p.ty, Type::Secret));
    let wrap = |v: Value| {
        if secret {
            Planned::Sensitive { fingerprint: v.as_str().unwrap_or("unknown").to_string() }
        } else {
            Planned::Value(v)
        }
    };
    Change {
        field: d.field.clone(),
        before: d.before.clone().map(wrap),
        after: Some(d.after.clone().map(wrap).unwrap_or(Planned::KnownAfterApply)),
        forces_replacement: d.update == Update::Replace,
        drift: false,
        applied: None,
    }
}

/// Spec resources in dependency order (file order among independents).
fn topo_order(stack: &Stack) -> Vec<&deployctl_spec::Resource> {
    let mut g: DiGraphMap<usize, ()> = DiGraphMap::new();
    let index: BTreeMap<&str, usize> =
        stack.resources.iter().enumerate().map(|(i, r)| (r.address.as_str(), i)).collect();
    for (i, r) in stack.resources.iter().enumerate() {
        g.add_node(i);
        for d in dependencies(stack, r) {
            if let Some(&j) = index.get(d.as_str()) {
                g.add_edge(j, i, ());
            }
        }
    }
    // Kahn's algorithm, always taking the lowest index: stable output.
    let mut indeg: BTreeMap<usize, usize> =
        g.nodes().map(|n| (n, g.neighbors_directed(n, petgraph::Incoming).count())).collect();
    let mut ready: BTreeSet<usize> = indeg.iter().filter(|(_, d)| **d == 0).map(|(n, _)| *n).collect();
    let mut out = Vec::new();
    while let Some(n) = ready.pop_first() {
        out.push(&stack.resources[n]);
        for m in g.neighbors_directed(n, petgraph::Outgoing) {
            if let Some(d) = indeg.get_mut(&m) {
                *d -= 1;
                if *d == 0 {
                    ready.insert(m);
                }
            }
        }
    }
    out
}

/// Reads every resource state knows, by kind, concurrently; then looks up by
/// tag whatever has a create to resolve.
async fn read_live(
    stack: &Stack,
    st: &State,
    kinds: &Kinds,
    mode: Mode,
    events: &EventSink,
    options: &PlanOptions,
) -> Result<Live, EngineError> {
    // What nobody compares, so reads may skip it: for `up`, each spec
    // resource's properties the spec leaves out and the schema gives no
    // default (the planner diffs nothing for them).
    let mut unset: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    if mode == Mode::Apply {
        for r in &stack.resources {
            let (Some(id), Some(kind)) =
                (st.resources.get(&r.address).and_then(|rec| rec.id.clone()), kinds.get(&r.type_name))
            else {
                continue;
            };
            let props = kind.schema().properties.iter();
            let left = props.filter(|p| !r.properties.contains_key(p.name) && crate::diff::default_of(p).is_none());
            let left: BTreeSet<String> = left.map(|p| p.name.to_string()).collect();
            // Two resources of different kinds may share an id (a role and
            // a bucket both named `x`): only what both leave out is skipped.
            match unset.get_mut(&id) {
                Some(both) => both.retain(|p| left.contains(p)),
                None => {
                    unset.insert(id, left);
                }
            }
        }
    }
    let ctx = ReadCtx::new(stack.instance(), stack.region.clone()).with_unset(unset);
    let mut by_kind: BTreeMap<&str, Vec<(&String, String)>> = BTreeMap::new();
    for (address, rec) in &st.resources {
        if kinds.get(&rec.type_name).is_none() {
            return Err(EngineError::UnknownKind { type_name: rec.type_name.clone(), address: address.clone() });
        }
        if let Some(id) = &rec.id {
            by_kind.entry(rec.type_name.as_str()).or_default().push((address, id.clone()));
        }
        for d in &rec.deposed {
            by_kind.entry(rec.type_name.as_str()).or_default().push((address, d.id.clone()));
        }
    }
    let reads = by_kind.iter().map(|(type_name, items)| {
        let ctx = ctx.clone();
        let ids: Vec<String> = items.iter().map(|(_, id)| id.clone()).collect();
        events.send(Event::Reading { type_name: type_name.to_string(), count: ids.len() });
        async move {
            let kind = kinds.get(type_name).expect("checked above");
            let found = kind
                .read(&ctx, &ids)
                .await
                .map_err(|source| EngineError::Read { type_name: type_name.to_string(), source })?;
            Ok::<_, EngineError>((*type_name, found))
        }
    });
    let mut observed = BTreeMap::new();
    let mut types = BTreeMap::new();
    let mut deposed: BTreeMap<String, Vec<Observed>> = BTreeMap::new();
    for res in join_all(reads).await {
        let (type_name, found) = res?;
        for (address, id) in &by_kind[type_name] {
            if let Some(o) = found.iter().find(|o| &o.id == id) {
                if st.resources[*address].id.as_ref() == Some(id) {
                    observed.insert((*address).clone(), o.clone());
                    types.insert((*address).clone(), type_name.to_string());
                } else {
                    deposed.entry((*address).clone()).or_default().push(o.clone());
                }
            }
        }
    }

    // Which kinds have something to adopt: a create that never recorded its
    // result, or (apply) a spec resource with nothing live, or (destroy)
    // anything of the kind at all, so that nothing tagged is left behind.
    // Each candidate comes with what is known of its properties (literals;
    // references to other resources are not known yet), so kinds without a
    // tag filter can look it up by its natural key (a name).
    let mut candidates: BTreeMap<String, Vec<(String, Props)>> = BTreeMap::new();
    let literal = |r: &deployctl_spec::Resource| -> Props {
        let none = Known::default();
        r.properties.iter().filter_map(|(k, e)| Some((k.clone(), none.eval_recorded(e, &st.lineage)?))).collect()
    };
    for (address, rec) in &st.resources {
        if rec.id.is_none() || (mode == Mode::Destroy && !observed.contains_key(address)) {
            let props = stack.resource(address).map(literal).unwrap_or_else(|| rec.properties.clone());
            candidates.entry(rec.type_name.clone()).or_default().push((address.clone(), props));
        }
    }
    for r in &stack.resources {
        if !observed.contains_key(&r.address) && !st.resources.contains_key(&r.address) {
            candidates.entry(r.type_name.clone()).or_default().push((r.address.clone(), literal(r)));
        }
    }
    // A create killed a moment ago may still be landing: its request was
    // sent, AWS is still processing it, and the resource appears only after
    // this run looked. Looking first would create it a second time. So when
    // a create without a recorded result started less than
    // IN_FLIGHT_GRACE ago, the look-up waits until that much has passed.
    if let Some(wait) = in_flight_wait(st, std::time::SystemTime::now()) {
        tokio::time::sleep(wait).await;
    }
    let finds = candidates.iter().map(|(type_name, wanted)| {
        let ctx = ctx.clone();
        async move {
            let kind = kinds
                .get(type_name)
                .ok_or_else(|| EngineError::UnknownKind { type_name: type_name.clone(), address: String::new() })?;
            let found = kind
                .find_existing(&ctx, wanted)
                .await
                .map_err(|source| EngineError::Read { type_name: type_name.clone(), source })?;
            Ok::<_, EngineError>((type_name.clone(), found))
        }
    });
    let instance = stack.instance();
    let mut adopted = BTreeMap::new();
    let mut conflicts = Vec::new();
    for res in join_all(finds).await {
        let (type_name, found) = res?;
        for (address, o) in found {
            // A deposed object carries the same tags as its replacement.
            let is_deposed = st.resources.get(&address).is_some_and(|rec| rec.deposed.iter().any(|d| d.id == o.id));
            if is_deposed {
                continue;
            }
            let tracked_elsewhere = st
                .resources
                .get(&address)
                .is_some_and(|rec| rec.id.as_deref().is_some_and(|id| id != o.id) && observed.contains_key(&address));
            let type_matches = st
                .resources
                .get(&address)
                .map(|rec| rec.type_name == type_name)
                .or_else(|| stack.resource(&address).map(|r| r.type_name == type_name))
                .unwrap_or(mode == Mode::Destroy);
            if observed.contains_key(&address) || tracked_elsewhere || !type_matches {
                continue;
            }
            // Kinds return what carries this stack's ownership tags, in any
            // of its environments: only this instance's is adopted as is.
            let owner = o.tags.get(TAG_STACK).cloned().unwrap_or_default();
            let how = if owner == instance {
                (!st.resources.contains_key(&address)).then_some(Adoption::Tags)
            } else if mode == Mode::Destroy {
                continue; // never destroy another instance's resource
            } else if options.take_over.as_deref() == Some(owner.as_str()) {
                Some(Adoption::TakeOver { from: owner })
            } else {
                conflicts.push(OwnedElsewhere { display: display(&type_name, &address), id: o.id.clone(), owner });
                continue;
            };
            observed.insert(address.clone(), o);
            types.insert(address.clone(), type_name.clone());
            adopted.insert(address, how);
        }
    }
    if !conflicts.is_empty() {
        return Err(EngineError::OwnedElsewhere { instance, conflicts });
    }
    Ok(Live { observed, types, adopted, deposed })
}

#[cfg(test)]
mod tests {
    use super::*;
    use deployctl_state::Pending;
    use std::time::{Duration, SystemTime};

    fn state_with(started_at: Option<&str>, id: Option<&str>, op: PendingOp) -> State {
        let mut st = State::new("network", "us-east-1");
        let mut r = ResourceState::new("ec2.vpc");
        r.id = id.map(str::to_string);
        r.pending = Some(Pending { op, started_at: started_at.map(str::to_string), token: None });
        st.resources.insert("vpc".into(), r);
        st
    }

    /// Guards the kill tests' duplicate VPCs: a create killed while its
    /// request was still being processed is looked for only once that
    /// request can have landed.
    #[test]
    fn adoption_waits_out_a_create_killed_a_moment_ago() {
        let at = |s: &str| {
            SystemTime::from(time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).unwrap())
        };
        let st = state_with(Some("2026-12-02T03:00:00Z"), None, PendingOp::Create);
        assert_eq!(in_flight_wait(&st, at("2026-12-02T03:00:02Z")), Some(Duration::from_secs(3)));
        assert_eq!(in_flight_wait(&st, at("2026-12-02T03:00:06Z")), None, "long enough ago");
        let recorded = state_with(Some("2026-12-02T03:00:00Z"), Some("vpc-1"), PendingOp::Create);
        assert_eq!(in_flight_wait(&recorded, at("2026-12-02T03:00:01Z")), None, "its id is known");
        let delete = state_with(Some("2026-12-02T03:00:00Z"), None, PendingOp::Delete);
        assert_eq!(in_flight_wait(&delete, at("2026-12-02T03:00:01Z")), None, "only creates make things");
        let unsent = state_with(None, None, PendingOp::Create);
        assert_eq!(
            in_flight_wait(&unsent, at("2026-12-02T03:00:01Z")),
            Some(IN_FLIGHT_GRACE),
            "an intent whose sending was never recorded may have been sent just before the kill"
        );
    }
}
