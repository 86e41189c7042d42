//! deployctl-spec: a stack spec (YAML) to a validated [`Stack`].
//!
//! [`load`] reads the file, substitutes variables, expands `for_each`,
//! parses `${…}` references, checks every property against the kinds'
//! [`SchemaRegistry`] and the dependency graph for cycles. It collects every
//! problem it finds and reports each as `file:line:column: message` with a
//! hint. It never touches AWS.

mod diag;
mod duration;
mod expr;
mod load;
mod model;
mod report;
mod schema;
mod suggest;
mod value;
mod vars;
mod yaml;

#[cfg(test)]
mod tests;

pub use diag::{Diagnostic, Diagnostics};
pub use duration::parse_duration;
pub use load::{load, load_str, load_str_with, load_with};
pub use model::*;
pub use schema::*;
pub use suggest::{closest, hint as did_you_mean, list_some};
