//! Application Auto Scaling resource kinds: scalable targets (an ECS
//! service's desired count between a minimum and a maximum) and their
//! scaling policies.
//!
//! Neither takes tags here: moto 5.2.5 has no TagResource nor
//! ListTagsForResource for Application Auto Scaling, and both are
//! identified by what they scale, so adoption is by that natural key.

pub mod policy;
pub mod target;

use aws_sdk_applicationautoscaling::types::{ScalableDimension, ServiceNamespace};
use deployctl_engine::ProviderError;
use deployctl_spec::{Literals, RuleViolation};
use serde_json::Value;

/// The most resource ids (or policy names) one Describe… takes.
pub(crate) const CHUNK: usize = 50;

/// Whether the error says the target or policy does not exist: AWS answers
/// ObjectNotFoundException, some endpoints a ValidationException saying so.
pub(crate) fn is_gone(e: &ProviderError) -> bool {
    crate::is_not_found(e)
        || e.code_is("ObjectNotFoundException")
        || (e.code_is("ValidationException")
            && (e.message.contains("No scalable target") || e.message.contains("No scaling policy")))
}

/// The natural key of a target: what it scales.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Key {
    pub namespace: String,
    pub resource_id: String,
    pub dimension: String,
}

impl Key {
    pub(crate) fn new(namespace: &str, resource_id: &str, dimension: &str) -> Key {
        Key { namespace: namespace.into(), resource_id: resource_id.into(), dimension: dimension.into() }
    }

    /// `ecs/service/shop/web/ecs:service:DesiredCount`.
    pub(crate) fn id(&self) -> String {
        format!("{}/{}/{}", self.namespace, self.resource_id, self.dimension)
    }

    /// The key of an id: the namespace is up to the first `/`, the
    /// dimension (which has none) after the last.
    pub(crate) fn parse(id: &str) -> Option<Key> {
        let (namespace, rest) = id.split_once('/')?;
        let (resource_id, dimension) = rest.rsplit_once('/')?;
        let k = Key::new(namespace, resource_id, dimension);
        (![namespace, resource_id, dimension].contains(&"")).then_some(k)
    }

    /// The key the spec's literals name, when all three are known.
    pub(crate) fn of(props: &deployctl_engine::Props) -> Option<Key> {
        let s = |k: &str| props.get(k).and_then(Value::as_str).filter(|s| !s.is_empty());
        Some(Key::new(s("service_namespace")?, s("resource_id")?, s("scalable_dimension")?))
    }

    pub(crate) fn namespace(&self) -> ServiceNamespace {
        ServiceNamespace::from(self.namespace.as_str())
    }

    pub(crate) fn dimension(&self) -> ScalableDimension {
        ScalableDimension::from(self.dimension.as_str())
    }
}

/// A literal string property.
pub(crate) fn literal<'a>(p: &'a Literals, k: &str) -> Option<&'a str> {
    p.get(k)?.as_ref()?.as_str()
}

/// Every scalable dimension starts with its service namespace
/// (`ecs:service:DesiredCount` is `ecs`'s): AWS refuses any other pair.
pub(crate) fn dimension_fits_namespace(p: &Literals) -> Option<RuleViolation> {
    let (ns, dim) = (literal(p, "service_namespace")?, literal(p, "scalable_dimension")?);
    (dim.split(':').next() != Some(ns)).then(|| RuleViolation {
        field: "scalable_dimension",
        message: format!("{dim} is not a dimension of the {ns} namespace"),
        hint: format!("use a dimension that starts with `{ns}:` (ECS: ecs:service:DesiredCount)"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ids_split_back_into_their_key() {
        let k = Key::parse("ecs/service/shop/web/ecs:service:DesiredCount").unwrap();
        assert_eq!(k, Key::new("ecs", "service/shop/web", "ecs:service:DesiredCount"));
        assert_eq!(k.id(), "ecs/service/shop/web/ecs:service:DesiredCount");
        assert!(Key::parse("ecs").is_none());
    }

    #[test]
    fn a_dimension_of_another_namespace_is_refused() {
        let p = |ns: &str, dim: &str| -> Literals {
            [("service_namespace", ns), ("scalable_dimension", dim)]
                .into_iter()
                .map(|(k, v)| (k.to_string(), Some(json!(v))))
                .collect()
        };
        assert!(dimension_fits_namespace(&p("ecs", "ecs:service:DesiredCount")).is_none());
        assert!(dimension_fits_namespace(&p("dynamodb", "ecs:service:DesiredCount")).is_some());
        assert!(dimension_fits_namespace(&Literals::new()).is_none());
    }
}
