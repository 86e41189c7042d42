//! Collects diagnostics while a spec is loaded.

use crate::diag::{Diagnostic, Diagnostics};
use crate::model::Pos;
use std::collections::HashSet;

/// Every problem found so far, for the spec file and any var files.
#[derive(Debug)]
pub(crate) struct Report {
    /// The spec file, as given.
    pub file: String,
    list: Vec<Diagnostic>,
}

impl Report {
    pub fn new(file: &str) -> Report {
        Report { file: file.to_string(), list: Vec::new() }
    }

    /// A problem at a place in the spec file.
    pub fn error(&mut self, pos: Pos, message: impl Into<String>, hint: Option<String>) {
        self.list.push(Diagnostic { file: self.file.clone(), pos: Some(pos), message: message.into(), hint });
    }

    /// A problem with no place in the spec file (a bad --var, an unreadable file).
    pub fn general(&mut self, message: impl Into<String>, hint: Option<String>) {
        self.list.push(Diagnostic { file: self.file.clone(), pos: None, message: message.into(), hint });
    }

    /// A problem in another file (a --var-file).
    pub fn push(&mut self, d: Diagnostic) {
        self.list.push(d);
    }

    pub fn has_errors(&self) -> bool {
        !self.list.is_empty()
    }

    /// `Ok(value)` when nothing was reported. Diagnostics come out without
    /// duplicates (for_each instances report the same problem once): first
    /// those with no position, then those in other files, then the spec's in
    /// file order.
    pub fn finish<T>(self, value: Option<T>) -> Result<T, Diagnostics> {
        let mut list = self.list;
        match value {
            Some(v) if list.is_empty() => return Ok(v),
            _ => {}
        }
        if list.is_empty() {
            list.push(Diagnostic {
                file: self.file.clone(),
                pos: None,
                message: "the spec could not be loaded".into(),
                hint: None,
            });
        }
        let mut seen = HashSet::new();
        list.retain(|d| seen.insert((d.file.clone(), d.pos, d.message.clone())));
        let file = self.file;
        list.sort_by_key(|d| {
            let rank = match (d.pos, d.file == file) {
                (None, _) => 0,
                (Some(_), false) => 1,
                (Some(_), true) => 2,
            };
            let other = if rank == 1 { d.file.clone() } else { String::new() };
            (rank, other, d.pos)
        });
        Err(Diagnostics(list))
    }
}
