//! Secret values: read from `env:NAME`, `file:PATH` or a Secrets Manager
//! secret only when a step needs them, and otherwise represented by a
//! fingerprint. State, plans, events and errors only ever see the
//! fingerprint.
//!
//! Secrets Manager is read through a [`SecretStore`] the aws crate provides
//! (the engine imports no SDK); values read from it are held as
//! [`Sensitive`], whose `Debug` shows nothing.

use crate::kind::ProviderError;
use async_trait::async_trait;
use deployctl_spec::SecretSource;
use sha2::{Digest, Sha256};

/// Where `secretsmanager:` and `cognito:` secrets are read from.
#[async_trait]
pub trait SecretStore: Send + Sync {
    /// The current value (`AWSCURRENT`) of a secret, by name or ARN, or,
    /// for an id `cognito:POOL_ID/CLIENT_ID`, a user pool client's secret
    /// (no Secrets Manager name or ARN starts so). The error carries AWS's
    /// code and never the value.
    async fn get_secret(&self, id: &str) -> Result<Sensitive, ProviderError>;
}

/// A secret value in memory. `Debug` redacts it, so no `{:?}` of a struct
/// holding one can leak it.
#[derive(Clone, PartialEq, Eq)]
pub struct Sensitive(String);

impl Sensitive {
    pub fn new(value: String) -> Sensitive {
        Sensitive(value)
    }
    /// The plaintext: only for the API call that needs it, and for the
    /// fingerprint.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Sensitive {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sensitive(…)")
    }
}

/// One key of a JSON secret (`secretsmanager:ID#KEY`). The error names the
/// key, never the value.
pub fn json_key(value: &Sensitive, key: &str, src: &SecretSource) -> Result<Sensitive, String> {
    let parsed: serde_json::Value = serde_json::from_str(value.expose())
        .map_err(|_| format!("{src}: the secret is not a JSON object, so it has no key '{key}'"))?;
    match parsed.get(key) {
        Some(serde_json::Value::String(s)) => Ok(Sensitive::new(s.clone())),
        Some(serde_json::Value::Null) | None => {
            let keys: Vec<String> = parsed.as_object().map(|m| m.keys().cloned().collect()).unwrap_or_default();
            Err(format!("{src}: the secret has no key '{key}' (its keys: {})", keys.join(", ")))
        }
        Some(other) => Ok(Sensitive::new(other.to_string())),
    }
}

/// Reads a secret from the environment or a file. The error never contains
/// the value. A Secrets Manager source is read through a [`SecretStore`]
/// (see [`crate::resolve::Known::prefetch_secrets`]).
pub fn read_secret(src: &SecretSource) -> Result<String, String> {
    match src {
        SecretSource::Env(name) => std::env::var(name)
            .map_err(|_| format!("environment variable {name} is not set (the spec reads a secret from env:{name})")),
        SecretSource::File(path) => std::fs::read_to_string(path)
            .map(|s| s.trim_end_matches(['\n', '\r']).to_string())
            .map_err(|e| format!("cannot read secret file {path}: {e}")),
        SecretSource::SecretsManager { .. } => Err(format!("{src} is read from Secrets Manager, not locally")),
        SecretSource::CognitoClientSecret { .. } => Err(format!("{src} is read from Cognito, not locally")),
    }
}

/// A one-way fingerprint of a secret value, salted with the stack's lineage
/// so equal secrets in different stacks do not fingerprint alike.
pub fn fingerprint(lineage: &str, value: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"deployctl-secret-v1\0");
    h.update(lineage.as_bytes());
    h.update(b"\0");
    h.update(value.as_bytes());
    format!("sha256:{}", &hex::encode(h.finalize())[..32])
}

/// The deterministic idempotency token of a create: the same lineage,
/// address and generation always give the same token, so a create retried
/// after a crash is recognised by APIs that take one.
pub fn client_token(lineage: &str, address: &str, generation: u64) -> String {
    let mut h = Sha256::new();
    h.update(lineage.as_bytes());
    h.update(b"\0");
    h.update(address.as_bytes());
    h.update(b"\0");
    h.update(generation.to_string().as_bytes());
    hex::encode(h.finalize())[..32].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_hides_the_value_and_is_stable() {
        let f = fingerprint("lin", "hunter2");
        assert!(!f.contains("hunter2"));
        assert_eq!(f, fingerprint("lin", "hunter2"));
        assert_ne!(f, fingerprint("other", "hunter2"));
    }

    #[test]
    fn sensitive_values_never_show_in_debug_output() {
        let v = Sensitive::new("hunter2".into());
        assert_eq!(format!("{v:?}"), "Sensitive(…)");
        assert_eq!(format!("{:?}", Some(Ok::<_, String>(v.clone()))), "Some(Ok(Sensitive(…)))");
        assert_eq!(v.expose(), "hunter2");
    }

    #[test]
    fn json_keys_are_picked_and_errors_never_show_the_value() {
        let src = SecretSource::SecretsManager {
            id: vec![deployctl_spec::Part::Text("gh".into())],
            json_key: Some("token".into()),
        };
        let json = Sensitive::new(r#"{"token":"hunter2","n":3}"#.into());
        assert_eq!(json_key(&json, "token", &src).unwrap().expose(), "hunter2");
        assert_eq!(json_key(&json, "n", &src).unwrap().expose(), "3");
        let missing = json_key(&json, "nope", &src).unwrap_err();
        assert_eq!(missing, "secretsmanager:gh#token: the secret has no key 'nope' (its keys: token, n)");
        let plain = json_key(&Sensitive::new("hunter2".into()), "token", &src).unwrap_err();
        assert!(plain.contains("not a JSON object") && !plain.contains("hunter2"), "{plain}");
    }

    #[test]
    fn client_token_is_deterministic_per_generation() {
        assert_eq!(client_token("l", "nat[a]", 0), client_token("l", "nat[a]", 0));
        assert_ne!(client_token("l", "nat[a]", 0), client_token("l", "nat[a]", 1));
        assert_eq!(client_token("l", "a", 0).len(), 32);
    }
}
