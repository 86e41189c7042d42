//! Evaluating property expressions against the attributes known so far.

use crate::kind::Props;
use crate::secrets::{fingerprint, read_secret};
use deployctl_spec::{Expr, Reference, Selector};
use serde_json::Value;
use std::collections::BTreeMap;

/// Attributes by address, plus the for_each keys of every resource name
/// (for `${nat[*].id}`).
#[derive(Debug, Clone, Default)]
pub struct Known {
    pub attributes: BTreeMap<String, Props>,
    pub keys: BTreeMap<String, Vec<String>>,
}

impl Known {
    pub fn lookup(&self, r: &Reference) -> Option<Value> {
        let one = |address: &str| self.attributes.get(address)?.get(&r.attribute).cloned();
        match &r.selector {
            Selector::Single => one(&r.resource),
            Selector::Key(k) => one(&format!("{}[{}]", r.resource, k)),
            Selector::All => {
                let keys = self.keys.get(&r.resource)?;
                let mut out = Vec::with_capacity(keys.len());
                for k in keys {
                    out.push(one(&format!("{}[{}]", r.resource, k))?);
                }
                Some(Value::Array(out))
            }
        }
    }

    /// For plans and state: secrets become their fingerprint. `None` when a
    /// reference is not known yet.
    pub fn eval_recorded(&self, e: &Expr, lineage: &str) -> Option<Value> {
        e.eval(&mut |r| self.lookup(r), &mut |s| {
            Some(Value::String(match read_secret(s) {
                Ok(v) => fingerprint(lineage, &v),
                // An unreadable secret fingerprints as "unreadable"; the
                // apply step reports the real error.
                Err(_) => "unreadable".to_string(),
            }))
        })
    }

    /// For the API call: secrets read in plaintext. Returns the value to
    /// send and the value to record.
    pub fn eval_for_apply(&self, e: &Expr, lineage: &str) -> Result<(Value, Value), String> {
        let mut err = None;
        let plain = e.eval(&mut |r| self.lookup(r), &mut |s| match read_secret(s) {
            Ok(v) => Some(Value::String(v)),
            Err(m) => {
                err = Some(m);
                None
            }
        });
        if let Some(m) = err {
            return Err(m);
        }
        let plain = plain.ok_or_else(|| {
            let mut refs = Vec::new();
            e.collect_refs(&mut refs);
            let missing: Vec<String> =
                refs.iter().filter(|r| self.lookup(r).is_none()).map(|r| r.to_string()).collect();
            format!("{} has no value", missing.join(", "))
        })?;
        let recorded = self.eval_recorded(e, lineage).unwrap_or(Value::Null);
        Ok((plain, recorded))
    }
}
