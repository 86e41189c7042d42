//! CodeBuild resource kinds.

pub mod project;

use deployctl_spec::Prop;

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
