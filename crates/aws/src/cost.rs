//! `deployctl cost`: a monthly estimate of a loaded spec, per resource and
//! in total, from the price table below. Offline: only what the spec
//! writes is priced; what depends on traffic (data processed, requests,
//! storage) is listed apart, with its unit price, and not added in.

use deployctl_spec::{Expr, Resource, Stack};
use serde_json::Value;

/// Which prices these are.
pub const PRICES: &str = "us-east-1 on-demand list prices as of January 2025 (the figures seeds 000 and 004 quote; \
                          not re-checked against AWS's live price list)";

/// Hours in the month the estimate is for (AWS's calculator uses 730).
pub const HOURS: f64 = 730.0;

// Fixed-price items, per month (the seeds' figures: 720 hours of the hourly price).
const NAT_GATEWAY_MONTH: f64 = 32.40;
const ALB_MONTH: f64 = 16.20;
const NLB_MONTH: f64 = 16.20;
// Hourly items.
const FARGATE_VCPU_HOUR: f64 = 0.04048;
const FARGATE_GB_HOUR: f64 = 0.004445;
/// Fargate Spot varies by the hour; seed 000 counts on 70 % off.
const SPOT_DISCOUNT: f64 = 0.70;
const PUBLIC_IPV4_HOUR: f64 = 0.005;
const INTERFACE_ENDPOINT_AZ_HOUR: f64 = 0.01;
// Monthly per-item prices.
const SECRET_MONTH: f64 = 0.40;
const ALARM_MONTH: f64 = 0.10;
const PIPELINE_V1_MONTH: f64 = 1.00;
const DASHBOARD_MONTH: f64 = 3.00;
const HOSTED_ZONE_MONTH: f64 = 0.50;
/// RDS storage per GB-month (seed 004: gp2), and io1's.
const RDS_GP_GB_MONTH: f64 = 0.115;
const RDS_IO1_GB_MONTH: f64 = 0.125;
/// RDS for MySQL, PostgreSQL and MariaDB, Single-AZ, per hour (seed 004:
/// db.t3.micro at $0.017). Multi-AZ is twice.
const RDS_CLASS_HOUR: &[(&str, f64)] = &[
    ("db.t3.micro", 0.017),
    ("db.t3.small", 0.034),
    ("db.t3.medium", 0.068),
    ("db.t3.large", 0.136),
    ("db.t4g.micro", 0.016),
    ("db.t4g.small", 0.032),
    ("db.t4g.medium", 0.065),
    ("db.m5.large", 0.171),
    ("db.m6g.large", 0.152),
    ("db.r5.large", 0.25),
];

/// One resource's estimate.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Item {
    pub address: String,
    pub kind: String,
    /// Dollars per month, for what the spec fixes.
    pub monthly: f64,
    /// How it was computed.
    pub basis: String,
    /// What it costs by use, not in `monthly`: unit prices.
    pub usage: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Estimate {
    pub stack: String,
    pub prices: &'static str,
    /// Resources with a fixed monthly price or usage-based charges.
    pub items: Vec<Item>,
    /// Resources that cost nothing by themselves (VPCs, subnets, roles…).
    pub free: usize,
    pub total: f64,
}

pub fn estimate(stack: &Stack) -> Estimate {
    let mut items = Vec::new();
    let mut free = 0;
    for r in &stack.resources {
        match item(stack, r) {
            Some(i) => items.push(i),
            None => free += 1,
        }
    }
    let total = items.iter().fold(0.0, |sum, i| sum + i.monthly);
    Estimate { stack: stack.instance(), prices: PRICES, items, free, total: money(total) }
}

fn money(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn item(stack: &Stack, r: &Resource) -> Option<Item> {
    let mut usage = Vec::new();
    let (monthly, basis) = match r.type_name.as_str() {
        "ec2.nat_gateway" => {
            usage.push("$0.045 per GB processed".into());
            (NAT_GATEWAY_MONTH, "1 NAT gateway, a month".to_string())
        }
        "ec2.elastic_ip" => {
            (PUBLIC_IPV4_HOUR * HOURS, format!("1 public IPv4 address × {HOURS} h × ${PUBLIC_IPV4_HOUR}"))
        }
        "elbv2.load_balancer" => {
            let network = r.known("load_balancer_type") == "network";
            usage.push(if network { "$0.006 per NLCU-hour" } else { "$0.008 per LCU-hour" }.into());
            let (price, what) = if network { (NLB_MONTH, "network") } else { (ALB_MONTH, "application") };
            (price, format!("1 {what} load balancer, a month"))
        }
        "ec2.vpc_endpoint" => {
            if r.known("vpc_endpoint_type") != "Interface" {
                return None; // gateway endpoints (S3, DynamoDB) are free
            }
            usage.push("$0.01 per GB processed".into());
            let zones = r.known("subnet_ids").as_array().map_or(1, |s| s.len().max(1));
            (
                zones as f64 * INTERFACE_ENDPOINT_AZ_HOUR * HOURS,
                format!("an interface endpoint in {zones} zone(s) × {HOURS} h × ${INTERFACE_ENDPOINT_AZ_HOUR}"),
            )
        }
        "ecs.service" => return Some(service(stack, r)),
        "secretsmanager.secret" => {
            usage.push("$0.05 per 10,000 API calls".into());
            (SECRET_MONTH, "1 secret, a month".to_string())
        }
        "cloudwatch.alarm" => (ALARM_MONTH, "1 standard-resolution alarm, a month".to_string()),
        "codepipeline.pipeline" => {
            if r.known("pipeline_type") == "V2" {
                usage.push("$0.002 per action execution minute".into());
                (0.0, "a V2 pipeline: billed by use".to_string())
            } else {
                (PIPELINE_V1_MONTH, "1 active V1 pipeline, a month".to_string())
            }
        }
        "logs.log_group" => {
            usage.push("$0.50 per GB ingested, $0.03 per GB-month stored".into());
            (0.0, "billed by use".to_string())
        }
        "ecr.repository" => {
            usage.push("$0.10 per GB-month stored".into());
            (0.0, "billed by use".to_string())
        }
        "s3.bucket" => {
            usage.push("$0.023 per GB-month stored, $0.005 per 1,000 PUT requests".into());
            (0.0, "billed by use".to_string())
        }
        "codebuild.project" => {
            let per_minute = match r.known("environment")["compute_type"].as_str() {
                Some("BUILD_GENERAL1_MEDIUM") => "$0.01",
                Some("BUILD_GENERAL1_LARGE") => "$0.02",
                _ => "$0.005",
            };
            usage.push(format!("{per_minute} per build minute"));
            (0.0, "billed by use".to_string())
        }
        "sns.topic" => {
            usage.push("$0.50 per million publishes; email and SMS deliveries priced apart".into());
            (0.0, "billed by use".to_string())
        }
        "rds.db_instance" => {
            let class = r.known("instance_class");
            let class = class.as_str().unwrap_or("?");
            let multi_az = r.known("multi_az") == Value::Bool(true);
            let azs = if multi_az { 2.0 } else { 1.0 };
            let gb = r.known("allocated_storage").as_f64().unwrap_or(0.0);
            let storage = r.known("storage_type");
            let per_gb = if storage.as_str() == Some("io1") { RDS_IO1_GB_MONTH } else { RDS_GP_GB_MONTH };
            usage.push("$0.095 per GB-month of backups beyond the instance's storage".into());
            match RDS_CLASS_HOUR.iter().find(|(c, _)| *c == class) {
                Some((_, hour)) => (
                    azs * (hour * HOURS + gb * per_gb),
                    format!(
                        "{class} × {HOURS} h × ${hour} + {gb} GB × ${per_gb}{}",
                        if multi_az { ", twice for Multi-AZ" } else { "" }
                    ),
                ),
                None => {
                    usage.push(format!("{class}: not in the price table; see aws.amazon.com/rds/pricing"));
                    (azs * gb * per_gb, format!("{gb} GB × ${per_gb} (the instance class is not priced here)"))
                }
            }
        }
        "cloudfront.distribution" => {
            usage
                .push("$0.085 per GB to viewers in North America and Europe, $0.0100 per 10,000 HTTPS requests".into());
            (0.0, "billed by use (the always-free tier covers 1 TB and 10 million requests a month)".to_string())
        }
        "codecommit.repository" => {
            usage.push("$1 per active user a month beyond the first 5 of the account".into());
            (0.0, "billed by use".to_string())
        }
        "cloudwatch.dashboard" => (DASHBOARD_MONTH, "1 dashboard, a month (the first 3 of an account are free)".into()),
        "route53.hosted_zone" => {
            usage.push("$0.40 per million queries".into());
            (HOSTED_ZONE_MONTH, "1 hosted zone, a month".to_string())
        }
        "cognito.user_pool" => {
            usage.push("$0.015 per monthly active user beyond the first 10,000 (Essentials)".into());
            (0.0, "billed by use".to_string())
        }
        "ssm.parameter" => {
            if r.known("tier") != "Advanced" {
                return None;
            }
            (0.05, "1 advanced parameter, a month".to_string())
        }
        _ => return None,
    };
    Some(Item { address: r.address.clone(), kind: r.type_name.clone(), monthly: money(monthly), basis, usage })
}

/// A service's tasks: desired_count × its task definition's size × the
/// hours, on Fargate or Fargate Spot by its capacity provider strategy
/// (or its cluster's default one).
fn service(stack: &Stack, r: &Resource) -> Item {
    let count = r.known("desired_count").as_f64().unwrap_or(1.0);
    let task = stack.referenced(r.properties.get("task_definition"));
    let (cpu, memory) = task.map(|t| (t.known("cpu").as_f64(), t.known("memory").as_f64())).unwrap_or((None, None));
    let mut strategy = r.known("capacity_provider_strategy");
    if strategy.is_null() && r.known("launch_type").is_null() {
        if let Some(cluster) = stack.referenced(r.properties.get("cluster")) {
            strategy = cluster.known("default_capacity_provider_strategy");
        }
    }
    // The share of tasks on Spot, by weight.
    let spot_share = match strategy.as_array() {
        Some(entries) if !entries.is_empty() => {
            let weight = |e: &Value| e["weight"].as_f64().unwrap_or(0.0);
            let total: f64 = entries.iter().map(weight).sum();
            let spot: f64 = entries.iter().filter(|e| e["capacity_provider"] == "FARGATE_SPOT").map(weight).sum();
            if total > 0.0 {
                spot / total
            } else {
                // Weights all 0: the first provider with a base gets the tasks.
                f64::from(u8::from(entries[0]["capacity_provider"] == "FARGATE_SPOT"))
            }
        }
        _ => 0.0,
    };
    let mut usage = Vec::new();
    let (Some(cpu), Some(memory)) = (cpu, memory) else {
        usage.push(format!(
            "${FARGATE_VCPU_HOUR} per vCPU-hour, ${FARGATE_GB_HOUR} per GB-hour (the task size is known only at apply)"
        ));
        return Item {
            address: r.address.clone(),
            kind: r.type_name.clone(),
            monthly: 0.0,
            basis: "task size not written in the spec".into(),
            usage,
        };
    };
    let (vcpu, gb) = (cpu / 1024.0, memory / 1024.0);
    let hourly = vcpu * FARGATE_VCPU_HOUR + gb * FARGATE_GB_HOUR;
    let discount = 1.0 - SPOT_DISCOUNT * spot_share;
    let monthly = count * hourly * HOURS * discount;
    let on = if spot_share <= 0.0 {
        "FARGATE".to_string()
    } else if spot_share >= 1.0 {
        format!("FARGATE_SPOT (~{:.0} % off)", SPOT_DISCOUNT * 100.0)
    } else {
        format!("{:.0} % FARGATE_SPOT", spot_share * 100.0)
    };
    let basis = format!("{count} task(s) × ({vcpu} vCPU, {gb} GB) × {HOURS} h on {on}");
    if r.known("desired_count").is_null() && r.properties.contains_key("desired_count") {
        usage.push("desired_count is known only at apply: 1 task assumed".into());
    }
    Item { address: r.address.clone(), kind: r.type_name.clone(), monthly: money(monthly), basis, usage }
}

/// The stack as state records it, for the cost of what is deployed now:
/// each recorded resource with its recorded properties (a reference the
/// spec writes is kept, so a service still finds its task definition), and
/// the spec's resources that state does not have left out. `recorded` is
/// (address, kind, properties last applied).
pub fn as_recorded(stack: &Stack, recorded: &[(String, String, serde_json::Map<String, Value>)]) -> Stack {
    let resources = recorded
        .iter()
        .map(|(address, kind, props)| {
            let mut r = stack.resource(address).cloned().unwrap_or_else(|| Resource {
                address: address.clone(),
                name: address.split('[').next().unwrap_or(address).to_string(),
                key: None,
                type_name: kind.clone(),
                properties: Default::default(),
                tags: Default::default(),
                depends_on: Vec::new(),
                timeouts: Default::default(),
                lifecycle: Default::default(),
                lint_ignore: Default::default(),
                property_pos: Default::default(),
                pos: Default::default(),
            });
            let refs: Vec<(String, Expr)> = r
                .properties
                .iter()
                .filter(|(_, e)| matches!(e, Expr::Ref(_)))
                .map(|(k, e)| (k.clone(), e.clone()))
                .collect();
            r.properties = props.iter().map(|(k, v)| (k.clone(), Expr::Literal(v.clone()))).collect();
            r.properties.extend(refs);
            r
        })
        .collect();
    Stack { resources, ..stack.clone() }
}

/// What a plan changes in the monthly cost: `before` (what state records)
/// and `after` (the spec), per resource whose figure differs, and in total.
pub fn difference(before: &Estimate, after: &Estimate) -> String {
    let figure = |e: &Estimate, a: &str| e.items.iter().find(|i| i.address == a).map(|i| i.monthly);
    let mut addresses: Vec<&str> = before.items.iter().chain(&after.items).map(|i| i.address.as_str()).collect();
    addresses.sort();
    addresses.dedup();
    let delta = after.total - before.total;
    let mut out = format!(
        "Cost: ${:.2} a month now, ${:.2} after this plan ({}{:.2}).\n",
        before.total,
        after.total,
        if delta < 0.0 { "-$" } else { "+$" },
        delta.abs()
    );
    for a in addresses {
        match (figure(before, a), figure(after, a)) {
            (None, Some(x)) if x > 0.0 => out.push_str(&format!("  + {a}: +${x:.2}\n")),
            (Some(x), None) if x > 0.0 => out.push_str(&format!("  - {a}: -${x:.2}\n")),
            (Some(x), Some(y)) if (x - y).abs() >= 0.005 => out.push_str(&format!("  ~ {a}: ${x:.2} → ${y:.2}\n")),
            _ => {}
        }
    }
    out.push_str(&format!("  ({PRICES}; usage-based charges apart: `deployctl cost` lists them)\n"));
    out
}

/// The estimate as a table; `others` are variants (name, estimate) shown
/// side by side, per resource and in total.
pub fn render(base: &Estimate, others: &[(String, Estimate)]) -> String {
    let mut out = format!("Monthly estimate for stack {}: {}.\n\n", base.stack, base.prices);
    let mut columns = vec![("this spec".to_string(), base)];
    columns.extend(others.iter().map(|(n, e)| (n.clone(), e)));
    let mut addresses: Vec<(&str, &str)> = Vec::new();
    for (_, e) in &columns {
        for i in &e.items {
            if !addresses.iter().any(|(a, _)| *a == i.address) {
                addresses.push((&i.address, &i.kind));
            }
        }
    }
    let width = addresses.iter().map(|(a, _)| a.len()).max().unwrap_or(8).max(8);
    let kind_width = addresses.iter().map(|(_, k)| k.len()).max().unwrap_or(4).max(4);
    let cell = |e: &Estimate, a: &str| {
        e.items.iter().find(|i| i.address == a).map_or("—".to_string(), |i| format!("${:.2}", i.monthly))
    };
    out.push_str(&format!("  {:width$}  {:kind_width$}", "resource", "kind"));
    for (name, _) in &columns {
        out.push_str(&format!("  {name:>12}"));
    }
    if others.is_empty() {
        out.push_str("  how");
    }
    out.push('\n');
    for (a, k) in &addresses {
        out.push_str(&format!("  {a:width$}  {k:kind_width$}"));
        for (_, e) in &columns {
            out.push_str(&format!("  {:>12}", cell(e, a)));
        }
        if others.is_empty() {
            if let Some(i) = base.items.iter().find(|i| i.address == *a) {
                out.push_str(&format!("  {}", i.basis));
            }
        }
        out.push('\n');
    }
    out.push_str(&format!("  {:width$}  {:kind_width$}", "Total", ""));
    for (_, e) in &columns {
        out.push_str(&format!("  {:>12}", format!("${:.2}", e.total)));
    }
    out.push_str(&format!(
        "\n\n{} other resource(s) cost nothing by themselves (VPC, subnets, route tables, security groups, roles, …).\n",
        base.free
    ));
    let usage: Vec<&Item> = base.items.iter().filter(|i| !i.usage.is_empty()).collect();
    if !usage.is_empty() {
        out.push_str("\nBilled by use, not in the total:\n");
        for i in usage {
            out.push_str(&format!("  {}: {}\n", i.address, i.usage.join("; ")));
        }
        out.push_str("  and data transfer out to the internet, $0.09 per GB\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(var_files: &[&str]) -> Stack {
        let schemas = crate::schemas();
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let overrides = deployctl_spec::VarOverrides {
            files: var_files.iter().map(|f| root.join(f).display().to_string()).collect(),
            pairs: Vec::new(),
        };
        deployctl_spec::load(&root.join("stacks/prod.yaml"), &overrides, &schemas).unwrap()
    }

    #[test]
    fn prod_is_about_seed_000_s_own_estimate_with_nats_load_balancer_and_fargate_itemised() {
        let prod = estimate(&load(&[]));
        let of = |a: &str| prod.items.iter().find(|i| i.address == a).unwrap_or_else(|| panic!("{a}: {prod:?}"));
        assert_eq!(of("nat[a]").monthly, 32.40);
        assert_eq!(of("nat[b]").monthly, 32.40);
        assert_eq!(of("alb").monthly, 16.20);
        // 2 × (0.5 vCPU × $0.04048 + 1 GB × $0.004445) × 730 h.
        assert_eq!(of("service").monthly, 36.04);
        // Seed 000 says ~$131 a month, data transfer, logs and ECR included.
        assert!((115.0..=135.0).contains(&prod.total), "{}", prod.total);
        insta::assert_snapshot!(render(&prod, &[]));
    }

    #[test]
    fn moving_prod_to_the_dev_sizing_shows_one_nat_fewer_and_the_service_on_spot() {
        let prod = load(&[]);
        let dev = load(&["stacks/env/stock-dashboard-dev.yaml"]);
        // State as prod applied it: each resource's literal properties.
        let recorded: Vec<_> = prod
            .resources
            .iter()
            .map(|r| {
                let props = r
                    .properties
                    .iter()
                    .filter(|(_, e)| matches!(e, Expr::Literal(_) | Expr::List(_) | Expr::Map(_)))
                    .map(|(k, e)| (k.clone(), e.known()))
                    .collect();
                (r.address.clone(), r.type_name.clone(), props)
            })
            .collect();
        let before = estimate(&as_recorded(&dev, &recorded));
        assert_eq!(before.total, estimate(&prod).total, "what state records costs what prod costs");
        let text = difference(&before, &estimate(&dev));
        assert!(text.contains("  - nat[b]: -$32.40\n"), "{text}");
        assert!(text.contains("  ~ service: $36.04 → $2.70\n"), "{text}");
        assert!(text.starts_with("Cost: $126.34 a month now, $"), "{text}");
    }

    #[test]
    fn the_dev_var_file_is_cheaper_with_one_nat_and_spot() {
        let prod = estimate(&load(&[]));
        let dev = estimate(&load(&["stacks/env/stock-dashboard-dev.yaml"]));
        assert!(dev.total < prod.total * 0.6, "dev {} vs prod {}", dev.total, prod.total);
        assert_eq!(dev.items.iter().filter(|i| i.kind == "ec2.nat_gateway").count(), 1);
        let service = dev.items.iter().find(|i| i.address == "service").unwrap();
        assert!(service.basis.contains("FARGATE_SPOT"), "{}", service.basis);
        // 1 × (0.25 × 0.04048 + 0.5 × 0.004445) × 730 × 0.3
        assert_eq!(service.monthly, 2.70);
        let side = render(&prod, &[("dev".into(), dev)]);
        assert!(side.contains("nat[b]") && side.contains("—"), "nat[b] is prod only:\n{side}");
    }

    #[test]
    fn the_shops_database_is_priced_as_seed_004_says_and_multi_az_doubles_it() {
        let schemas = crate::schemas();
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let shop = |pairs: &[(&str, &str)]| {
            let overrides = deployctl_spec::VarOverrides {
                files: Vec::new(),
                pairs: pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            };
            estimate(&deployctl_spec::load(&root.join("stacks/shop.yaml"), &overrides, &schemas).unwrap())
        };
        let est = shop(&[]);
        let db = est.items.iter().find(|i| i.address == "db").unwrap();
        // db.t3.micro at $0.017 an hour, 20 GB of gp2 at $0.115.
        assert_eq!(db.monthly, money(0.017 * 730.0 + 20.0 * 0.115));
        assert!(db.basis.contains("db.t3.micro"), "{}", db.basis);
        let bigger = shop(&[("db_instance_class", "db.x9.huge")]);
        let db = bigger.items.iter().find(|i| i.address == "db").unwrap();
        assert!(db.usage.iter().any(|u| u.contains("db.x9.huge: not in the price table")), "{db:?}");
        let dashboard = est.items.iter().find(|i| i.kind == "cloudwatch.dashboard").unwrap();
        assert_eq!(dashboard.monthly, 3.0);
    }
}
