//! Secret values: read from `env:NAME` or `file:PATH` only when a step needs
//! them, and otherwise represented by a fingerprint. State, plans, events and
//! errors only ever see the fingerprint.

use deployctl_spec::SecretSource;
use sha2::{Digest, Sha256};

/// Reads a secret's value. The error never contains the value.
pub fn read_secret(src: &SecretSource) -> Result<String, String> {
    match src {
        SecretSource::Env(name) => std::env::var(name)
            .map_err(|_| format!("environment variable {name} is not set (the spec reads a secret from env:{name})")),
        SecretSource::File(path) => std::fs::read_to_string(path)
            .map(|s| s.trim_end_matches(['\n', '\r']).to_string())
            .map_err(|e| format!("cannot read secret file {path}: {e}")),
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
    fn client_token_is_deterministic_per_generation() {
        assert_eq!(client_token("l", "nat[a]", 0), client_token("l", "nat[a]", 0));
        assert_ne!(client_token("l", "nat[a]", 0), client_token("l", "nat[a]", 1));
        assert_eq!(client_token("l", "a", 0).len(), 32);
    }
}
