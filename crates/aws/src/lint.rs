//! `deployctl lint`: built-in checks of a loaded spec for what AWS accepts
//! but a security review would not (checkov's checks, for the kinds
//! deployctl has). Offline: only what the spec writes as values is judged;
//! a value known only after apply is not.
//!
//! Each rule has an id, a severity, the checkov checks it stands for, and a
//! fix. A resource switches a rule off with `lint_ignore: {RULE: reason}`.

use deployctl_spec::{Expr, Pos, Resource, Stack};
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Warning,
    Error,
}

/// A rule: its id, how bad, what checkov calls it, and what it says.
#[derive(Debug)]
pub struct Rule {
    pub id: &'static str,
    pub severity: Severity,
    pub checkov: &'static [&'static str],
    pub kind: &'static str,
    pub summary: &'static str,
    check: fn(&Resource) -> Vec<Hit>,
}

/// What a rule found on one resource.
struct Hit {
    /// The property it is about (its position is used); `None`: the
    /// resource (a property that should be written and is not).
    property: Option<&'static str>,
    message: String,
    hint: String,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Finding {
    pub rule: &'static str,
    pub severity: Severity,
    pub checkov: &'static [&'static str],
    pub address: String,
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
    pub hint: String,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let severity = match self.severity {
            Severity::Warning => "warning",
            Severity::Error => "error",
        };
        write!(f, "{}:{}:{}: {severity}[{}]: {}", self.file, self.line, self.column, self.rule, self.message)?;
        if !self.checkov.is_empty() {
            write!(f, " ({})", self.checkov.join(", "))?;
        }
        write!(f, "\n  hint: {}", self.hint)
    }
}

/// The rules, in the order the reference lists them.
pub const RULES: &[Rule] = &[
    Rule {
        id: "alb-http-without-redirect",
        severity: Severity::Warning,
        checkov: &["CKV_AWS_2", "CKV2_AWS_20"],
        kind: "elbv2.listener",
        summary: "An HTTP listener that does not redirect to HTTPS serves traffic in the clear.",
        check: http_without_redirect,
    },
    Rule {
        id: "tls-below-1-2",
        severity: Severity::Warning,
        checkov: &["CKV_AWS_103"],
        kind: "elbv2.listener",
        summary: "An HTTPS or TLS listener whose TLS policy allows TLS 1.0 or 1.1, or is left to AWS's default.",
        check: tls_below_1_2,
    },
    Rule {
        id: "ecr-scan-on-push",
        severity: Severity::Warning,
        checkov: &["CKV_AWS_163"],
        kind: "ecr.repository",
        summary: "Images are not scanned for vulnerabilities when pushed.",
        check: ecr_scan_on_push,
    },
    Rule {
        id: "ecr-mutable-tags",
        severity: Severity::Warning,
        checkov: &["CKV_AWS_51"],
        kind: "ecr.repository",
        summary: "Image tags can be pushed again, so a tag does not name one image.",
        check: ecr_mutable_tags,
    },
    Rule {
        id: "s3-public-access",
        severity: Severity::Error,
        checkov: &["CKV_AWS_53", "CKV_AWS_54", "CKV_AWS_55", "CKV_AWS_56"],
        kind: "s3.bucket",
        summary: "The bucket's public access block has a setting turned off.",
        check: s3_public_access,
    },
    Rule {
        id: "sg-open-to-the-internet",
        severity: Severity::Error,
        checkov: &["CKV_AWS_24", "CKV_AWS_25", "CKV_AWS_277"],
        kind: "ec2.security_group",
        summary: "An ingress rule lets anyone (0.0.0.0/0 or ::/0) reach SSH (22), RDP (3389) or every port.",
        check: sg_open,
    },
    Rule {
        id: "ecs-public-ip",
        severity: Severity::Warning,
        checkov: &["CKV_AWS_333"],
        kind: "ecs.service",
        summary: "The service's tasks get public IP addresses.",
        check: ecs_public_ip,
    },
    Rule {
        id: "ecs-plaintext-secret",
        severity: Severity::Error,
        checkov: &[],
        kind: "ecs.task_definition",
        summary: "A container's environment holds a secret in plain text (a secret source, or a literal value \
                  under a name like PASSWORD, SECRET, TOKEN or API_KEY), visible to anyone who can describe \
                  the task definition.",
        check: ecs_plaintext_secret,
    },
    Rule {
        id: "ecs-privileged-container",
        severity: Severity::Error,
        checkov: &["CKV_AWS_334"],
        kind: "ecs.task_definition",
        summary: "A container runs privileged: root on the host it shares with other tasks.",
        check: ecs_privileged,
    },
    Rule {
        id: "ecs-same-task-and-execution-role",
        severity: Severity::Warning,
        checkov: &["CKV_AWS_249"],
        kind: "ecs.task_definition",
        summary: "The task role (what the code may do) is the execution role (what ECS may do for it).",
        check: ecs_same_roles,
    },
    Rule {
        id: "logs-no-retention",
        severity: Severity::Warning,
        checkov: &["CKV_AWS_66"],
        kind: "logs.log_group",
        summary: "The log group keeps events forever.",
        check: logs_no_retention,
    },
    Rule {
        id: "rds-unencrypted",
        severity: Severity::Error,
        checkov: &["CKV_AWS_16"],
        kind: "rds.db_instance",
        summary: "The database's storage is not encrypted at rest (and cannot be encrypted later in place).",
        check: rds_unencrypted,
    },
    Rule {
        id: "rds-public",
        severity: Severity::Error,
        checkov: &["CKV_AWS_17"],
        kind: "rds.db_instance",
        summary: "The database gets a public address.",
        check: rds_public,
    },
    Rule {
        id: "rds-no-deletion-protection",
        severity: Severity::Warning,
        checkov: &["CKV_AWS_293"],
        kind: "rds.db_instance",
        summary: "The database can be deleted by a destroy or a replacement without first turning protection off.",
        check: rds_no_deletion_protection,
    },
    Rule {
        id: "rds-no-backups",
        severity: Severity::Error,
        checkov: &["CKV_AWS_133"],
        kind: "rds.db_instance",
        summary: "The database keeps no automated backups (backup_retention_period: 0).",
        check: rds_no_backups,
    },
    Rule {
        id: "iam-full-admin",
        severity: Severity::Error,
        checkov: &["CKV_AWS_1", "CKV_AWS_62"],
        kind: "iam.role",
        summary: "An inline policy allows every action on every resource (`*` on `*`).",
        check: iam_full_admin,
    },
    Rule {
        id: "cloudfront-plain-http",
        severity: Severity::Error,
        checkov: &["CKV_AWS_34"],
        kind: "cloudfront.distribution",
        summary: "The distribution serves viewers over plain HTTP (viewer_protocol_policy: allow-all).",
        check: cloudfront_plain_http,
    },
];

/// Every finding on the stack, by position, with suppressed ones left out;
/// a suppression that names no rule is a finding itself.
pub fn lint(stack: &Stack) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut seen_suppressions = std::collections::BTreeSet::new();
    for r in &stack.resources {
        let at = |property: Option<&str>| property.and_then(|p| r.property_pos.get(p)).copied().unwrap_or(r.pos);
        let finding = |rule: &Rule, pos: Pos, message: String, hint: String| Finding {
            rule: rule.id,
            severity: rule.severity,
            checkov: rule.checkov,
            address: r.address.clone(),
            file: stack.file.clone(),
            line: pos.line,
            column: pos.column,
            message,
            hint,
        };
        for rule in RULES.iter().filter(|rule| rule.kind == r.type_name && !r.lint_ignore.contains_key(rule.id)) {
            for hit in (rule.check)(r) {
                let message = format!("{} {}: {}", r.type_name, r.address, hit.message);
                out.push(finding(rule, at(hit.property), message, hit.hint));
            }
        }
        for (id, s) in &r.lint_ignore {
            if !RULES.iter().any(|rule| rule.id == id) && seen_suppressions.insert((s.pos.line, s.pos.column)) {
                let ids: Vec<&str> = RULES.iter().map(|r| r.id).collect();
                out.push(Finding {
                    rule: "unknown-rule",
                    severity: Severity::Warning,
                    checkov: &[],
                    address: r.address.clone(),
                    file: stack.file.clone(),
                    line: s.pos.line,
                    column: s.pos.column,
                    message: format!("lint_ignore names '{id}', which is not a lint rule"),
                    hint: deployctl_spec::did_you_mean(id, &ids, "the rules are: ", "")
                        .unwrap_or_else(|| format!("the rules are: {}", ids.join(", "))),
                });
            }
        }
    }
    // One finding per declaration: for_each instances share their lines.
    out.sort_by(|a, b| (a.line, a.column, a.rule).cmp(&(b.line, b.column, b.rule)));
    out.dedup_by(|a, b| (a.line, a.column, a.rule) == (b.line, b.column, b.rule));
    out
}

fn prop(r: &Resource, name: &str) -> Option<Value> {
    r.properties.get(name).map(Expr::known)
}

fn hit(property: Option<&'static str>, message: impl Into<String>, hint: impl Into<String>) -> Vec<Hit> {
    vec![Hit { property, message: message.into(), hint: hint.into() }]
}

fn http_without_redirect(r: &Resource) -> Vec<Hit> {
    if prop(r, "protocol").as_ref().and_then(Value::as_str) != Some("HTTP") {
        return Vec::new();
    }
    let actions = prop(r, "default_actions").unwrap_or(Value::Null);
    let redirects = actions.as_array().is_some_and(|a| {
        a.iter()
            .any(|a| a["type"] == "redirect" && a["redirect_config"]["protocol"].as_str().is_some_and(|p| p == "HTTPS"))
    });
    if redirects || actions.is_null() {
        return Vec::new();
    }
    hit(
        Some("default_actions"),
        "listens on HTTP and does not redirect to HTTPS",
        "redirect it: default_actions: [{type: redirect, redirect_config: {protocol: HTTPS, port: \"443\", \
         status_code: HTTP_301}}], and serve the application on an HTTPS listener",
    )
}

fn tls_below_1_2(r: &Resource) -> Vec<Hit> {
    let protocol = prop(r, "protocol");
    if !matches!(protocol.as_ref().and_then(Value::as_str), Some("HTTPS" | "TLS")) {
        return Vec::new();
    }
    let fix = "name a TLS 1.2+ policy: ssl_policy: ELBSecurityPolicy-TLS13-1-2-2021-06";
    match prop(r, "ssl_policy") {
        None => hit(None, "leaves its TLS policy to AWS's default, which may allow TLS 1.0 and 1.1", fix),
        Some(Value::String(p)) if !(p.contains("TLS13") || p.contains("TLS-1-2") || p.contains("FS-1-2")) => {
            hit(Some("ssl_policy"), format!("uses TLS policy {p}, which allows TLS below 1.2"), fix)
        }
        _ => Vec::new(),
    }
}

fn ecr_scan_on_push(r: &Resource) -> Vec<Hit> {
    match prop(r, "scan_on_push") {
        Some(Value::Bool(true)) | Some(Value::Null) => Vec::new(),
        p => hit(p.map(|_| "scan_on_push"), "does not scan images on push", "set scan_on_push: true"),
    }
}

fn ecr_mutable_tags(r: &Resource) -> Vec<Hit> {
    match prop(r, "image_tag_mutability") {
        Some(Value::String(m)) if m.starts_with("IMMUTABLE") => Vec::new(),
        Some(Value::Null) => Vec::new(),
        p => hit(
            p.map(|_| "image_tag_mutability"),
            "lets an image tag be pushed again (MUTABLE)",
            "set image_tag_mutability: IMMUTABLE, and tag each build uniquely (a commit id)",
        ),
    }
}

fn s3_public_access(r: &Resource) -> Vec<Hit> {
    let Some(Value::Object(block)) = prop(r, "public_access_block") else { return Vec::new() };
    let off: Vec<&str> = block.iter().filter(|(_, v)| **v == Value::Bool(false)).map(|(k, _)| k.as_str()).collect();
    if off.is_empty() {
        return Vec::new();
    }
    hit(
        Some("public_access_block"),
        format!("turns off {} of its public access block", off.join(", ")),
        "leave public_access_block out (all four on), and serve public content through CloudFront",
    )
}

fn sg_open(r: &Resource) -> Vec<Hit> {
    let Some(Value::Array(rules)) = prop(r, "ingress") else { return Vec::new() };
    let mut out = Vec::new();
    for rule in &rules {
        let anyone = rule["cidr_ipv4"] == "0.0.0.0/0" || rule["cidr_ipv6"] == "::/0";
        if !anyone {
            continue;
        }
        let all = rule["ip_protocol"] == "-1"
            || (rule["from_port"].as_i64().is_some_and(|f| f <= 0)
                && rule["to_port"].as_i64().is_some_and(|t| t >= 65535));
        let covers = |port: i64| {
            rule["ip_protocol"] == "tcp"
                && rule["from_port"].as_i64().is_some_and(|f| f <= port)
                && rule["to_port"].as_i64().is_some_and(|t| t >= port)
        };
        let what = if all {
            Some("every port")
        } else if covers(22) {
            Some("SSH (22)")
        } else if covers(3389) {
            Some("RDP (3389)")
        } else {
            None
        };
        if let Some(what) = what {
            out.extend(hit(
                Some("ingress"),
                format!("lets anyone on the internet reach {what}"),
                "allow only the ranges or security groups that need it (referenced_group_id), or use SSM \
                 Session Manager instead of opening SSH or RDP",
            ));
        }
    }
    out
}

fn ecs_privileged(r: &Resource) -> Vec<Hit> {
    let Some(Value::Array(containers)) = prop(r, "container_definitions") else { return Vec::new() };
    containers
        .iter()
        .filter(|c| c["privileged"] == Value::Bool(true))
        .flat_map(|c| {
            hit(
                Some("container_definitions"),
                format!("container {} runs privileged", c["name"].as_str().unwrap_or("?")),
                "drop privileged: true; add only the Linux capability the container needs",
            )
        })
        .collect()
}

fn ecs_public_ip(r: &Resource) -> Vec<Hit> {
    let Some(n) = prop(r, "network_configuration") else { return Vec::new() };
    if n["awsvpc_configuration"]["assign_public_ip"] != "ENABLED" {
        return Vec::new();
    }
    hit(
        Some("network_configuration"),
        "gives its tasks public IP addresses",
        "run the tasks in private subnets with assign_public_ip: DISABLED, reaching out through a NAT gateway or \
         VPC endpoints",
    )
}

const SECRET_WORDS: &[&str] =
    &["PASSWORD", "PASSWD", "SECRET", "TOKEN", "API_KEY", "APIKEY", "PRIVATE_KEY", "ACCESS_KEY"];

fn ecs_plaintext_secret(r: &Resource) -> Vec<Hit> {
    let Some(Value::Array(containers)) = prop(r, "container_definitions") else { return Vec::new() };
    let mut out = Vec::new();
    for c in &containers {
        for e in c["environment"].as_array().into_iter().flatten() {
            let name = e["name"].as_str().unwrap_or("?");
            let secret_source = e["value"].get("$secret").is_some();
            let looks_secret = SECRET_WORDS.iter().any(|w| name.to_ascii_uppercase().contains(w));
            let literal = matches!(&e["value"], Value::String(v) if !v.is_empty());
            if secret_source || (looks_secret && literal) {
                out.extend(hit(
                    Some("container_definitions"),
                    format!("container {} puts {name} in its plain environment", c["name"].as_str().unwrap_or("?")),
                    format!(
                        "move it to the container's secrets: {{name: {name}, value_from: ${{SECRET.arn}}}}, from a \
                         secretsmanager.secret or ssm.parameter"
                    ),
                ));
            }
        }
    }
    out
}

fn ecs_same_roles(r: &Resource) -> Vec<Hit> {
    match (r.properties.get("task_role_arn"), r.properties.get("execution_role_arn")) {
        (Some(t), Some(e)) if t == e => hit(
            Some("task_role_arn"),
            "uses the same role as task role and execution role",
            "give the task its own role with only what the code needs, apart from the execution role",
        ),
        _ => Vec::new(),
    }
}

fn logs_no_retention(r: &Resource) -> Vec<Hit> {
    if r.properties.contains_key("retention_in_days") {
        return Vec::new();
    }
    hit(None, "keeps log events forever (no retention_in_days)", "set retention_in_days, e.g. retention_in_days: 30")
}

fn rds_unencrypted(r: &Resource) -> Vec<Hit> {
    match prop(r, "storage_encrypted") {
        Some(Value::Bool(false)) => hit(
            Some("storage_encrypted"),
            "stores its data unencrypted",
            "leave storage_encrypted out (it defaults to true), or set storage_encrypted: true",
        ),
        _ => Vec::new(),
    }
}

fn rds_public(r: &Resource) -> Vec<Hit> {
    match prop(r, "publicly_accessible") {
        Some(Value::Bool(true)) => hit(
            Some("publicly_accessible"),
            "is reachable from the internet",
            "set publicly_accessible: false and reach it from inside the VPC",
        ),
        _ => Vec::new(),
    }
}

fn rds_no_deletion_protection(r: &Resource) -> Vec<Hit> {
    match prop(r, "deletion_protection") {
        Some(Value::Bool(false)) => hit(
            Some("deletion_protection"),
            "can be deleted without turning protection off first",
            "set deletion_protection: true (a variable lets a dev stack turn it off)",
        ),
        _ => Vec::new(),
    }
}

fn rds_no_backups(r: &Resource) -> Vec<Hit> {
    match prop(r, "backup_retention_period") {
        Some(Value::Number(n)) if n.as_i64() == Some(0) => hit(
            Some("backup_retention_period"),
            "keeps no automated backups",
            "set backup_retention_period to 7 or more days",
        ),
        _ => Vec::new(),
    }
}

fn cloudfront_plain_http(r: &Resource) -> Vec<Hit> {
    let behavior = prop(r, "default_cache_behavior").unwrap_or(Value::Null);
    match behavior.get("viewer_protocol_policy").and_then(Value::as_str) {
        Some("allow-all") => hit(
            Some("default_cache_behavior"),
            "lets viewers fetch over plain HTTP",
            "set default_cache_behavior.viewer_protocol_policy: redirect-to-https (or https-only)",
        ),
        _ => Vec::new(),
    }
}

fn iam_full_admin(r: &Resource) -> Vec<Hit> {
    let Some(Value::Object(policies)) = prop(r, "inline_policies") else { return Vec::new() };
    use crate::kit::policy::{names_any, statements};
    let mut out = Vec::new();
    for (name, doc) in &policies {
        if statements(doc).iter().any(|s| {
            s["Effect"] == "Allow" && names_any(&s["Action"], &["*", "*:*"]) && names_any(&s["Resource"], &["*"])
        }) {
            out.extend(hit(
                Some("inline_policies"),
                format!("inline policy {name} allows every action on every resource"),
                "list the actions and resources the role needs, e.g. Action: [s3:GetObject], Resource: \
                 ${bucket.arn}/*",
            ));
        }
    }
    out
}

/// The reference's section on lint: every rule, what it checks, and its
/// checkov ids.
pub fn reference() -> String {
    let mut out = String::from("| rule | severity | kind | checkov | what it finds |\n|---|---|---|---|---|\n");
    for r in RULES {
        let severity = match r.severity {
            Severity::Warning => "warning",
            Severity::Error => "error",
        };
        out.push_str(&format!(
            "| `{}` | {severity} | `{}` | {} | {} |\n",
            r.id,
            r.kind,
            if r.checkov.is_empty() { "—".to_string() } else { r.checkov.join(", ") },
            r.summary.split_whitespace().collect::<Vec<_>>().join(" ")
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const RISKY: &str = r#"stack: risky
region: us-east-1
resources:
  http:
    type: elbv2.listener
    properties:
      load_balancer_arn: arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/a/1
      port: 80
      protocol: HTTP
      default_actions: [{type: forward, target_group_arn: "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/t/1"}]
  https:
    type: elbv2.listener
    properties:
      load_balancer_arn: arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/a/1
      port: 443
      protocol: HTTPS
      certificate_arn: arn:aws:acm:us-east-1:123456789012:certificate/abc
      ssl_policy: ELBSecurityPolicy-2016-08
      default_actions: [{type: forward, target_group_arn: "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/t/1"}]
  repo:
    type: ecr.repository
    properties:
      repository_name: risky
  bucket:
    type: s3.bucket
    properties:
      bucket: risky-bucket
      public_access_block: {block_public_policy: false, restrict_public_buckets: false}
  sg:
    type: ec2.security_group
    properties:
      vpc_id: vpc-1
      ingress:
        - {ip_protocol: tcp, from_port: 443, to_port: 443, cidr_ipv4: 0.0.0.0/0}
        - {ip_protocol: tcp, from_port: 20, to_port: 25, cidr_ipv4: 0.0.0.0/0}
  rdp:
    type: ec2.security_group
    properties:
      vpc_id: vpc-1
      ingress: [{ip_protocol: "-1", cidr_ipv6: "::/0"}]
  service:
    type: ecs.service
    properties:
      cluster: arn:aws:ecs:us-east-1:123456789012:cluster/c
      task_definition: arn:aws:ecs:us-east-1:123456789012:task-definition/t:1
      network_configuration: {awsvpc_configuration: {subnets: [subnet-1], assign_public_ip: ENABLED}}
  task:
    type: ecs.task_definition
    properties:
      family: risky
      cpu: 256
      memory: 512
      task_role_arn: arn:aws:iam::123456789012:role/r
      execution_role_arn: arn:aws:iam::123456789012:role/r
      container_definitions:
        - name: app
          image: nginx
          environment:
            - {name: DB_PASSWORD, value: hunter2}
            - {name: LOG_LEVEL, value: debug}
  logs:
    type: logs.log_group
    properties:
      log_group_name: /risky
  admin:
    type: iam.role
    properties:
      assume_role_policy_document:
        Version: "2012-10-17"
        Statement: [{Effect: Allow, Principal: {Service: ecs-tasks.amazonaws.com}, Action: sts:AssumeRole}]
      inline_policies:
        everything:
          Version: "2012-10-17"
          Statement: [{Effect: Allow, Action: "*", Resource: "*"}]
  db:
    type: rds.db_instance
    properties:
      engine: mysql
      instance_class: db.t3.micro
      allocated_storage: 20
      master_username: admin
      storage_encrypted: false
      publicly_accessible: true
      deletion_protection: false
      backup_retention_period: 0
  host_task:
    type: ecs.task_definition
    properties:
      family: host
      requires_compatibilities: [EC2]
      network_mode: bridge
      container_definitions:
        - {name: agent, image: agent, memory: 256, privileged: true}
  cdn:
    type: cloudfront.distribution
    properties:
      origins: [{id: site, domain_name: risky-bucket.s3.us-east-1.amazonaws.com}]
      default_cache_behavior: {target_origin_id: site, viewer_protocol_policy: allow-all}
"#;

    fn findings(text: &str) -> Vec<Finding> {
        let schemas = crate::schemas();
        let stack = deployctl_spec::load_str("risky.yaml", text, &Default::default(), &schemas).unwrap();
        lint(&stack)
    }

    #[test]
    fn a_spec_that_breaks_every_rule_gets_one_finding_per_rule_at_the_offending_property() {
        let found = findings(RISKY);
        let text: String = found.iter().map(|f| format!("{f}\n")).collect();
        insta::assert_snapshot!(text);
        let rules: std::collections::BTreeSet<&str> = found.iter().map(|f| f.rule).collect();
        let all: std::collections::BTreeSet<&str> = RULES.iter().map(|r| r.id).collect();
        assert_eq!(rules, all, "every rule fires on the risky spec");
    }

    #[test]
    fn a_suppressed_rule_is_not_reported_and_an_unknown_rule_in_lint_ignore_is() {
        let text = RISKY.replace(
            "  logs:\n    type: logs.log_group\n",
            "  logs:\n    type: logs.log_group\n    lint_ignore:\n      logs-no-retention: audit logs are kept forever\n      logs-no-retension: typo\n",
        );
        let found = findings(&text);
        assert!(!found.iter().any(|f| f.rule == "logs-no-retention"), "{found:?}");
        let unknown = found.iter().find(|f| f.rule == "unknown-rule").expect("the typo is reported");
        assert_eq!((unknown.line, unknown.column), (65, 7));
        assert!(unknown.hint.contains("logs-no-retention"), "{}", unknown.hint);
    }

    #[test]
    fn a_suppression_without_a_reason_is_a_spec_error() {
        let text = RISKY.replace(
            "  logs:\n    type: logs.log_group\n",
            "  logs:\n    type: logs.log_group\n    lint_ignore:\n      logs-no-retention: \"\"\n",
        );
        let schemas = crate::schemas();
        let e = deployctl_spec::load_str("risky.yaml", &text, &Default::default(), &schemas).unwrap_err();
        assert!(e.to_string().contains("risky.yaml:64:26: lint_ignore logs-no-retention needs a reason"), "{e}");
    }

    #[test]
    fn values_known_only_at_apply_are_not_judged() {
        let text = "stack: s\nregion: us-east-1\nresources:\n  repo:\n    type: ecr.repository\n    properties:\n      repository_name: r\n      scan_on_push: ${var.scan}\n      image_tag_mutability: IMMUTABLE\nvars:\n  scan: true\n";
        assert_eq!(findings(text), vec![]);
    }
}
