//! IAM resource kinds. What other kinds share with them (default names,
//! policy documents, the wait for a role to propagate) is in [`crate::kit`].

pub mod oidc_provider;
pub mod role;
