//! CodePipeline resource kinds.

pub mod pipeline;

use crate::kit::PropType;
use deployctl_spec::{Prop, Type};

/// `props` with `r#type` named `type`: `model!` names a property after its
/// field, and `type` is a Rust keyword (a field `r#type` serializes as
/// `type`, but `stringify!` keeps the `r#`). To go once `model!` strips it.
pub(crate) const fn unraw<const N: usize>(props: &[Prop]) -> [Prop; N] {
    let mut out = [props[0]; N];
    let mut i = 0;
    while i < N {
        out[i] = props[i];
        if let [b'r', b'#', rest @ ..] = props[i].name.as_bytes() {
            if let Ok(name) = std::str::from_utf8(rest) {
                out[i].name = name;
            }
        }
        i += 1;
    }
    out
}

/// A write-only value (the plaintext the engine hands over for the call, or
/// the fingerprint state recorded): it serializes as null and debugs as
/// `<redacted>`, so what the adapter returns (built from the model) never
/// carries it.
#[derive(Clone, PartialEq, serde::Deserialize)]
#[serde(transparent)]
pub struct WriteOnly(pub(crate) String);

impl std::fmt::Debug for WriteOnly {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}
impl serde::Serialize for WriteOnly {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_none()
    }
}
impl PropType for WriteOnly {
    const TYPE: Type = Type::Secret;
}
