//! Helpers the `*_roundtrip.rs` modules of the suite share
//! (`use crate::support::kit::{...};`).

use deployctl_engine::diff::{diff_properties, Want};
use deployctl_engine::{Observed, OpCtx, Props, ReadCtx, ResourceKind, StepAction};
use deployctl_spec::{KindSchema, Update};
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::Duration;

/// The properties of a JSON object.
pub fn props(v: Value) -> Props {
    v.as_object().unwrap().clone()
}

/// The read context of `stack` in `region`.
pub fn read_ctx(stack: &str, region: &str) -> ReadCtx {
    ReadCtx::new(stack, region)
}

/// An operation context for `address` of `stack`, tagged with the stack, the address and `extra`.
pub fn op(
    stack: &str,
    region: &str,
    address: &str,
    type_name: &str,
    action: StepAction,
    extra: &[(&str, &str)],
) -> OpCtx {
    let (mut ctx, _cancel, _events) = detached(stack, region, address, type_name, action);
    ctx.tags.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    ctx
}

/// An operation context for `address` of `stack`, tagged with both, with a
/// timeout of a minute: the context, what cancels it (Ctrl-C) and its
/// events.
pub fn detached(
    stack: &str,
    region: &str,
    address: &str,
    type_name: &str,
    action: StepAction,
) -> (OpCtx, impl Fn(), tokio::sync::mpsc::UnboundedReceiver<deployctl_engine::Event>) {
    let tags = BTreeMap::from([
        ("deployctl:stack".to_string(), stack.to_string()),
        ("deployctl:resource".to_string(), address.to_string()),
    ]);
    let (ctx, cancel, events) = OpCtx::detached(
        stack,
        region,
        address,
        type_name,
        action,
        tags,
        "0123456789abcdef0123456789abcdef",
        Duration::from_secs(60),
    );
    (ctx, move || cancel.cancel(), events)
}

/// The progress messages received so far.
#[allow(dead_code)]
pub fn progress(events: &mut tokio::sync::mpsc::UnboundedReceiver<deployctl_engine::Event>) -> Vec<String> {
    let mut out = Vec::new();
    while let Ok(e) = events.try_recv() {
        if let deployctl_engine::Event::StepProgress { message, .. } = e {
            out.push(message);
        }
    }
    out
}

/// The fields the engine would plan to change.
pub fn changes(schema: &KindSchema, desired: &Props, observed: &Observed) -> Vec<String> {
    let want = |p: &deployctl_spec::Prop| match desired.get(p.name) {
        Some(v) => Want::Value(v.clone()),
        None => Want::Unmanaged,
    };
    diff_properties(schema, &want, &observed.properties).into_iter().map(|d| d.field).collect()
}

/// Panics unless `observed` diffs clean against `desired`.
pub fn assert_clean(schema: &KindSchema, desired: &Props, observed: &Observed) {
    let diffs = changes(schema, desired, observed);
    assert!(
        diffs.is_empty(),
        "{}: {diffs:?} differ right after apply\nlive: {:#}",
        schema.type_name,
        Value::Object(observed.properties.clone())
    );
}

/// Reads one id through the kind's batched read; it must be found.
pub async fn read_one(kind: &dyn ResourceKind, ctx: &ReadCtx, id: &str) -> Observed {
    let found = kind.read(ctx, &[id.to_string()]).await.unwrap();
    assert_eq!(found.len(), 1, "{id} not read back");
    found.into_iter().next().unwrap()
}

/// Reads one id through the kind's batched read: `None` if it is gone.
pub async fn read_opt(kind: &dyn ResourceKind, ctx: &ReadCtx, id: &str) -> Option<Observed> {
    let mut found = kind.read(ctx, &[id.to_string()]).await.unwrap();
    assert!(found.len() <= 1);
    found.pop()
}

/// Whether changing property `name` of `schema` replaces the resource.
pub fn replaces(schema: &KindSchema, name: &str) -> bool {
    schema.property(name).unwrap_or_else(|| panic!("{} has no {name}", schema.type_name)).update == Update::Replace
}
