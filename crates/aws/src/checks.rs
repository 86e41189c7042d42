//! Checks across resources: what AWS refuses and a loaded spec already
//! shows, offline, such as an application load balancer whose subnets are
//! all in one zone. A kind's own rules see one resource's properties; these
//! see the resources a property names. Each runs on what the spec writes
//! as values: what is known only after apply is not judged.
//!
//! They run wherever a spec is loaded (`validate`, `diff`, `up`), so a spec
//! AWS would refuse part-way through an apply is refused before any call.

use deployctl_spec::{Diagnostic, Expr, Resource, Stack};
use serde_json::Value;
use std::collections::BTreeSet;

/// Every cross-resource problem in `stack`, in file order.
pub fn check(stack: &Stack) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let mut seen = BTreeSet::new();
    for r in &stack.resources {
        if r.type_name == "elbv2.load_balancer" {
            out.extend(alb_zones(stack, r));
        }
    }
    out.extend(rule_priorities(stack));
    // One error per declaration: for_each instances share their lines.
    out.retain(|d| seen.insert((d.pos.map(|p| (p.line, p.column)), d.message.clone())));
    out
}

/// The subnets an expression names, when each is a subnet of this stack:
/// `None` when any is something else (an id written as text, a variable's
/// list), whose zone is not known offline.
fn subnets<'a>(stack: &'a Stack, e: &Expr) -> Option<Vec<&'a Resource>> {
    let items: Vec<&Expr> = match e {
        Expr::List(items) => items.iter().collect(),
        other => vec![other],
    };
    let mut out = Vec::new();
    for item in items {
        let Expr::Ref(r) = item else { return None };
        let keys: Vec<String> =
            stack.resources.iter().filter(|x| x.name == r.resource).filter_map(|x| x.key.clone()).collect();
        for address in r.addresses(&keys) {
            let subnet = stack.resource(&address).filter(|s| s.type_name == "ec2.subnet")?;
            out.push(subnet);
        }
    }
    Some(out)
}

/// An application load balancer needs subnets in at least two Availability
/// Zones (CreateLoadBalancer: "At least two subnets in two different
/// Availability Zones must be specified").
fn alb_zones(stack: &Stack, lb: &Resource) -> Option<Diagnostic> {
    let application = match lb.properties.get("type") {
        None => true,
        Some(e) => e.known() == "application",
    };
    if !application {
        return None;
    }
    let e = lb.properties.get("subnets")?;
    let subnets = match e {
        // Ids written as text: only their number is known, which the
        // kind's own rule checks.
        Expr::Literal(_) => return None,
        e => subnets(stack, e)?,
    };
    let zones: BTreeSet<String> = subnets
        .iter()
        .map(|s| match s.known("availability_zone") {
            Value::String(z) => Some(z),
            _ => None,
        })
        .collect::<Option<_>>()?;
    if zones.len() >= 2 {
        return None;
    }
    let message = match zones.iter().next() {
        Some(zone) => format!(
            "{} {}: an application load balancer needs subnets in at least two Availability Zones, and its \
             subnets ({}) are all in {zone}",
            lb.type_name,
            lb.address,
            subnets.iter().map(|s| s.address.as_str()).collect::<Vec<_>>().join(", ")
        ),
        None => format!(
            "{} {}: an application load balancer needs subnets in at least two Availability Zones",
            lb.type_name, lb.address
        ),
    };
    let other = second_zone(&stack.region, &zones);
    Some(Diagnostic {
        file: stack.file.clone(),
        pos: Some(lb.property_pos.get("subnets").copied().unwrap_or(lb.pos)),
        message,
        hint: Some(format!(
            "add a second public subnet in another zone (availability_zone: {other}, with its route table \
             association) and list it in subnets"
        )),
    })
}

/// Two rules of one listener with one priority: CreateRule refuses the
/// second (PriorityInUse) after the first exists.
fn rule_priorities(stack: &Stack) -> Vec<Diagnostic> {
    let mut taken: std::collections::BTreeMap<(String, i64), &Resource> = Default::default();
    let mut out = Vec::new();
    for r in stack.resources.iter().filter(|r| r.type_name == "elbv2.listener_rule") {
        let (Some(listener), Some(priority)) = (r.properties.get("listener_arn"), r.known("priority").as_i64()) else {
            continue;
        };
        // The same reference, or the same ARN written out.
        let listener = match listener {
            Expr::Ref(x) => x.to_string(),
            e => match e.known() {
                Value::String(s) => s,
                _ => continue,
            },
        };
        if let Some(first) = taken.insert((listener.clone(), priority), r) {
            out.push(Diagnostic {
                file: stack.file.clone(),
                pos: Some(r.property_pos.get("priority").copied().unwrap_or(r.pos)),
                message: format!(
                    "{} {}: priority {priority} is taken on {listener} by {} (line {})",
                    r.type_name, r.address, first.address, first.pos.line
                ),
                hint: Some("give each rule of a listener its own priority".into()),
            });
        }
    }
    out
}

/// A zone of `region` that is not in `zones`, for the hint.
fn second_zone(region: &str, zones: &BTreeSet<String>) -> String {
    ('a'..='f').map(|c| format!("{region}{c}")).find(|z| !zones.contains(z)).unwrap_or_else(|| format!("{region}b"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(yaml: &str) -> Stack {
        let schemas = crate::schemas();
        deployctl_spec::load_str("stack.yaml", yaml, &Default::default(), &schemas).unwrap()
    }

    const ONE_ZONE: &str = "\
stack: shop
region: us-east-2
resources:
  vpc:
    type: ec2.vpc
    properties: {cidr_block: 10.0.0.0/16}
  public:
    type: ec2.subnet
    for_each: {a: 1, b: 2}
    properties:
      vpc_id: ${vpc.id}
      cidr_block: 10.0.${each.value}.0/24
      availability_zone: ${region}a
  alb:
    type: elbv2.load_balancer
    properties:
      subnets: ${public[*].id}
";

    /// Guards seed 004's front door: its load balancer sits in one zone,
    /// which CreateLoadBalancer refuses after the VPC and subnets exist.
    #[test]
    fn an_application_load_balancer_in_one_zone_is_refused_at_its_subnets() {
        let found = check(&load(ONE_ZONE));
        assert_eq!(found.len(), 1, "{found:?}");
        let d = &found[0];
        assert_eq!(d.pos.map(|p| (p.line, p.column)), Some((17, 16)));
        assert!(d.message.contains("at least two Availability Zones"), "{}", d.message);
        assert!(d.message.contains("public[a], public[b]") && d.message.contains("us-east-2a"), "{}", d.message);
        assert!(d.hint.as_deref().unwrap().contains("availability_zone: us-east-2b"), "{:?}", d.hint);
    }

    #[test]
    fn two_rules_of_one_listener_with_one_priority_are_refused_at_the_second() {
        let rules = "  tg:\n    type: elbv2.target_group\n    properties: {port: 80, protocol: HTTP, vpc_id: \"${vpc.id}\"}\n  \
                     http:\n    type: elbv2.listener\n    properties:\n      load_balancer_arn: ${alb.arn}\n      \
                     port: 80\n      protocol: HTTP\n      default_actions: [{type: forward, target_group_arn: \"${tg.arn}\"}]\n";
        let rule = |name: &str, path: &str| {
            format!(
                "  {name}:\n    type: elbv2.listener_rule\n    properties:\n      listener_arn: ${{http.arn}}\n      \
                 priority: 10\n      conditions: {{path_patterns: [{path}]}}\n      actions: [{{type: forward, \
                 target_group_arn: \"${{tg.arn}}\"}}]\n"
            )
        };
        let two = ONE_ZONE.replace("${region}a", "${region}${each.key}");
        let yaml = format!("{two}{rules}{}{}", rule("api", "/api/*"), rule("web", "/web/*"));
        let found = check(&load(&yaml));
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].message.contains("web: priority 10 is taken on ${http.arn} by api"), "{}", found[0].message);
        let apart = yaml.replacen("priority: 10", "priority: 20", 1);
        assert!(check(&load(&apart)).is_empty());
    }

    #[test]
    fn two_zones_a_network_load_balancer_or_unknown_zones_pass() {
        let two = ONE_ZONE.replace("availability_zone: ${region}a", "availability_zone: ${region}${each.key}");
        assert!(check(&load(&two)).is_empty());
        let nlb = ONE_ZONE.replace("subnets: ${public[*].id}", "type: network\n      subnets: ${public[*].id}");
        assert!(check(&load(&nlb)).is_empty());
        let unset = ONE_ZONE.replace("      availability_zone: ${region}a\n", "");
        assert!(check(&load(&unset)).is_empty(), "AWS picks the zones: not known offline");
        let ids = ONE_ZONE.replace("${public[*].id}", "[subnet-1, subnet-2]");
        assert!(check(&load(&ids)).is_empty());
    }
}
