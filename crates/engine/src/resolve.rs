//! Evaluating property expressions against the attributes known so far.

use crate::kind::Props;
use crate::secrets::{fingerprint, json_key, read_secret, SecretStore, Sensitive};
use deployctl_spec::{Expr, Part, Reference, SecretSource, Selector};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// Attributes by address, plus the for_each keys of every resource name
/// (for `${nat[*].id}`), plus the Secrets Manager secrets read so far.
#[derive(Debug, Clone, Default)]
pub struct Known {
    pub attributes: BTreeMap<String, Props>,
    pub keys: BTreeMap<String, Vec<String>>,
    /// By secret id (name or ARN): its value, or why it could not be read.
    /// Filled by [`Known::prefetch_secrets`]; an id not here is not known
    /// yet (its secret is still to be created or changed).
    pub secrets: BTreeMap<String, Result<Sensitive, String>>,
}

impl Known {
    /// The id a Secrets Manager source names, once its references are known.
    fn secret_id(&self, id: &[Part]) -> Option<String> {
        deployctl_spec::render(id, &mut |r| self.lookup(r))
    }

    /// A Secrets Manager source's value: `None` while not known (a
    /// reference is unknown, or the secret was not read because it changes
    /// in this run).
    pub(crate) fn secret_value(&self, src: &SecretSource) -> Option<Result<Sensitive, String>> {
        let (id, key) = match src {
            SecretSource::SecretsManager { id, json_key } => (self.secret_id(id)?, json_key),
            SecretSource::CognitoClientSecret { id } => (format!("cognito:{}", self.secret_id(id)?), &None),
            _ => return Some(read_secret(src).map(Sensitive::new)),
        };
        let value = self.secrets.get(&id)?.clone();
        Some(match (value, key) {
            (Ok(v), Some(k)) => json_key(&v, k, src),
            (other, _) => other.map_err(|m| format!("{src}: {m}")),
        })
    }

    /// Reads, through `store`, every Secrets Manager secret the expressions
    /// name that is not read yet and whose id is known, except those whose
    /// id references a resource in `changing` (its value may change in this
    /// run: it stays unknown). Reads run concurrently, one per secret.
    pub async fn prefetch_secrets<'a>(
        &mut self,
        exprs: impl IntoIterator<Item = &'a Expr>,
        store: Option<&dyn SecretStore>,
        changing: &BTreeSet<String>,
    ) {
        let ids = self.secrets_to_read(exprs, changing);
        self.secrets.extend(read_secrets(ids, store).await);
    }

    /// The ids of the secrets [`Known::prefetch_secrets`] would read.
    pub fn secrets_to_read<'a>(
        &self,
        exprs: impl IntoIterator<Item = &'a Expr>,
        changing: &BTreeSet<String>,
    ) -> BTreeSet<String> {
        let mut ids = BTreeSet::new();
        for e in exprs {
            let mut sources = Vec::new();
            secret_sources(e, &mut sources);
            for src in sources {
                let (id, prefix) = match src {
                    SecretSource::SecretsManager { id, .. } => (id, ""),
                    SecretSource::CognitoClientSecret { id } => (id, "cognito:"),
                    _ => continue,
                };
                let unsettled = src.references().any(|r| {
                    r.addresses(self.keys.get(&r.resource).map(Vec::as_slice).unwrap_or(&[]))
                        .iter()
                        .any(|a| changing.contains(a))
                });
                if unsettled {
                    continue;
                }
                if let Some(id) = self.secret_id(id).map(|id| format!("{prefix}{id}")) {
                    if !self.secrets.contains_key(&id) {
                        ids.insert(id);
                    }
                }
            }
        }
        ids
    }

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

    /// For plans: what is known of a list or a map some of whose
    /// references are not known yet, with each unknown leaf
    /// [`unknown_leaf`] (anything else unknown is entirely so).
    pub fn eval_partial(&self, e: &Expr, lineage: &str) -> Value {
        match e {
            Expr::List(items) => Value::Array(items.iter().map(|i| self.eval_partial(i, lineage)).collect()),
            Expr::Map(m) => Value::Object(m.iter().map(|(k, i)| (k.clone(), self.eval_partial(i, lineage))).collect()),
            other => self.eval_recorded(other, lineage).unwrap_or_else(unknown_leaf),
        }
    }

    /// For plans and state: secrets become their fingerprint. `None` when a
    /// reference is not known yet.
    pub fn eval_recorded(&self, e: &Expr, lineage: &str) -> Option<Value> {
        e.eval(&mut |r| self.lookup(r), &mut |s| {
            Some(Value::String(match self.secret_value(s)? {
                Ok(v) => fingerprint(lineage, v.expose()),
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
        let plain = e.eval(&mut |r| self.lookup(r), &mut |s| match self.secret_value(s) {
            Some(Ok(v)) => Some(Value::String(v.expose().to_string())),
            Some(Err(m)) => {
                err = Some(m);
                None
            }
            None => {
                err = Some(format!("{s} has not been read"));
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

/// A leaf of a partly known value (`Planned::Partial`) that is known only
/// after apply: `{"known_after_apply": true}`.
pub fn unknown_leaf() -> Value {
    let mut m = serde_json::Map::new();
    m.insert("known_after_apply".into(), Value::Bool(true));
    Value::Object(m)
}

/// Whether `v` is an [`unknown_leaf`].
pub fn is_unknown_leaf(v: &Value) -> bool {
    v.as_object().is_some_and(|m| m.len() == 1 && m.get("known_after_apply") == Some(&Value::Bool(true)))
}

/// Every secret source in an expression.
pub fn secret_sources<'a>(e: &'a Expr, out: &mut Vec<&'a SecretSource>) {
    match e {
        Expr::Secret(s) => out.push(s),
        Expr::List(items) => items.iter().for_each(|i| secret_sources(i, out)),
        Expr::Map(m) => m.values().for_each(|i| secret_sources(i, out)),
        Expr::Literal(_) | Expr::Ref(_) | Expr::Template(_) => {}
    }
}

/// Reads `ids` through `store`, concurrently: each secret's value, or why it
/// could not be read.
pub async fn read_secrets(
    ids: BTreeSet<String>,
    store: Option<&dyn SecretStore>,
) -> Vec<(String, Result<Sensitive, String>)> {
    let Some(store) = store else {
        return ids
            .into_iter()
            .map(|id| (id, Err("this run has no Secrets Manager client to read it with".into())))
            .collect();
    };
    let reads = ids.into_iter().map(|id| async move {
        let got = store.get_secret(&id).await.map_err(|e| match &e.hint {
            Some(h) => format!("{e} (hint: {h})"),
            None => e.to_string(),
        });
        (id, got)
    });
    futures::future::join_all(reads).await
}
