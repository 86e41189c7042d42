//! `deployctl verify`: a preflight of the ECS parts of a spec, in the
//! manner of ecspresso's verify, before an `up` waits minutes for tasks that
//! can never start. Checked against the spec and, where only the account
//! knows, against the live account (reads only):
//!
//! - each container image in ECR is there (DescribeImages);
//! - the task and execution roles trust `ecs-tasks.amazonaws.com`;
//! - the execution role may read the secrets the containers name, and
//!   write the awslogs log group, which exists or the stack creates;
//! - a service's load balancer entries name a container and a port it
//!   maps, and an `awsvpc` task registers in an `ip` target group;
//! - an HTTPS listener's certificate is issued (DescribeCertificate, for
//!   one the stack does not make) and in the stack's region, and one the
//!   stack makes is waited for (an `acm.certificate_validation`) before the
//!   listener uses it.

use crate::kit::policy::{names_any, statements};
use crate::Aws;
use deployctl_spec::{Expr, Part, Resource, Stack};
use serde_json::Value;

/// One problem, on one resource, with the fix.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Problem {
    pub address: String,
    pub check: &'static str,
    pub message: String,
    pub fix: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} [{}]: {}\n  fix: {}", self.address, self.check, self.message, self.fix)
    }
}

/// The container definitions as written, each with its expressions.
fn containers(task: &Resource) -> Vec<&std::collections::BTreeMap<String, Expr>> {
    match task.properties.get("container_definitions") {
        Some(Expr::List(items)) => {
            items.iter().filter_map(|c| if let Expr::Map(m) = c { Some(m) } else { None }).collect()
        }
        _ => Vec::new(),
    }
}

/// Every check that needs no AWS call.
pub fn offline(stack: &Stack) -> Vec<Problem> {
    let mut out = Vec::new();
    for task in stack.resources.iter().filter(|r| r.type_name == "ecs.task_definition") {
        for (property, what) in [("task_role_arn", "task role"), ("execution_role_arn", "execution role")] {
            if let Some(role) = stack.referenced(task.properties.get(property)) {
                if !trusts_ecs_tasks(&role.known("assume_role_policy_document")) {
                    out.push(Problem {
                        address: task.address.clone(),
                        check: "role-trust",
                        message: format!("its {what} {} cannot be assumed by ECS tasks", role.address),
                        fix: format!(
                            "let ecs-tasks assume {}: assume_role_policy_document: {{Version: \"2012-10-17\", Statement: [{{Effect: Allow, Principal: {{Service: ecs-tasks.amazonaws.com}}, Action: sts:AssumeRole}}]}}",
                            role.address
                        ),
                    });
                }
            }
        }
        let exec = stack.referenced(task.properties.get("execution_role_arn"));
        for c in containers(task) {
            let name = c.get("name").map(Expr::known).and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
            let uses_secrets =
                c.get("secrets").map(Expr::known).is_some_and(|s| s.as_array().is_some_and(|a| !a.is_empty()));
            if uses_secrets {
                match exec {
                    None if !task.properties.contains_key("execution_role_arn") => out.push(Problem {
                        address: task.address.clone(),
                        check: "secrets",
                        message: format!("container {name} reads secrets, and the task has no execution role to read them with"),
                        fix: "set execution_role_arn to a role that may secretsmanager:GetSecretValue them".into(),
                    }),
                    Some(role) if !allows(role, &["secretsmanager:GetSecretValue", "ssm:GetParameters"]) => {
                        out.push(Problem {
                            address: task.address.clone(),
                            check: "secrets",
                            message: format!(
                                "container {name} reads secrets, and its execution role {} may not read them",
                                role.address
                            ),
                            fix: format!(
                                "give {} an inline policy allowing secretsmanager:GetSecretValue on those secrets' ARNs (AmazonECSTaskExecutionRolePolicy does not)",
                                role.address
                            ),
                        })
                    }
                    _ => {}
                }
            }
            let logs = c.get("log_configuration").map(Expr::known).unwrap_or(Value::Null);
            if logs["log_driver"] == "awslogs" {
                if let Some(role) = exec {
                    let managed = role.known("managed_policy_arns").as_array().is_some_and(|a| {
                        a.iter().any(|p| p.as_str().is_some_and(|p| p.ends_with("/AmazonECSTaskExecutionRolePolicy")))
                    });
                    if !managed && !allows(role, &["logs:PutLogEvents"]) {
                        out.push(Problem {
                            address: task.address.clone(),
                            check: "logs",
                            message: format!(
                                "container {name} logs with awslogs, and the execution role {} may not write logs",
                                role.address
                            ),
                            fix: format!(
                                "attach arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy to {}",
                                role.address
                            ),
                        });
                    }
                }
            }
        }
    }
    for service in stack.resources.iter().filter(|r| r.type_name == "ecs.service") {
        let Some(task) = stack.referenced(service.properties.get("task_definition")) else { continue };
        let ports: Vec<(String, Vec<i64>)> = containers(task)
            .iter()
            .map(|c| {
                let name =
                    c.get("name").map(Expr::known).and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
                let mapped = c.get("port_mappings").map(Expr::known).unwrap_or(Value::Null);
                let ports =
                    mapped.as_array().into_iter().flatten().filter_map(|p| p["container_port"].as_i64()).collect();
                (name, ports)
            })
            .collect();
        let Some(Expr::List(entries)) = service.properties.get("load_balancers") else { continue };
        for entry in entries {
            let Expr::Map(lb) = entry else { continue };
            let container = lb.get("container_name").map(Expr::known).and_then(|v| v.as_str().map(str::to_string));
            let port = lb.get("container_port").map(Expr::known).and_then(|v| v.as_i64());
            let (Some(container), Some(port)) = (container, port) else { continue };
            match ports.iter().find(|(n, _)| *n == container) {
                None => out.push(Problem {
                    address: service.address.clone(),
                    check: "load-balancer",
                    message: format!(
                        "load_balancers names container {container}, which task {} does not have",
                        task.address
                    ),
                    fix: format!(
                        "name one of its containers: {}",
                        ports.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>().join(", ")
                    ),
                }),
                Some((_, mapped)) if !mapped.contains(&port) => out.push(Problem {
                    address: service.address.clone(),
                    check: "load-balancer",
                    message: format!(
                        "load_balancers sends to port {port} of container {container}, which maps no such port"
                    ),
                    fix: format!("add {{container_port: {port}}} to its port_mappings, or use one it maps: {mapped:?}"),
                }),
                _ => {}
            }
            let awsvpc = task.known("network_mode").as_str().is_none_or(|m| m == "awsvpc");
            if let Some(tg) = stack.referenced(lb.get("target_group_arn")) {
                let target_type = tg.known("target_type");
                if awsvpc && target_type.as_str().unwrap_or("instance") != "ip" {
                    out.push(Problem {
                        address: service.address.clone(),
                        check: "load-balancer",
                        message: format!(
                            "its awsvpc tasks register by IP, and target group {} has target_type {}",
                            tg.address,
                            target_type.as_str().unwrap_or("instance (the default)")
                        ),
                        fix: format!("set target_type: ip on {}", tg.address),
                    });
                }
            }
        }
    }
    for listener in stack.resources.iter().filter(|r| r.type_name == "elbv2.listener") {
        let cert = listener.properties.get("certificate_arn");
        if let Some(c) = stack.referenced(cert).filter(|c| c.type_name == "acm.certificate") {
            out.push(Problem {
                address: listener.address.clone(),
                check: "certificate",
                message: format!(
                    "it uses certificate {} before it is issued: AWS refuses a listener with a pending certificate",
                    c.address
                ),
                fix: format!(
                    "add an acm.certificate_validation of {} (certificate_arn: ${{{}.arn}}) and use its certificate_arn",
                    c.address, c.name
                ),
            });
        }
        if let Some(arn) = cert.map(Expr::known).and_then(|v| v.as_str().map(str::to_string)) {
            let region = arn.split(':').nth(3).unwrap_or_default();
            if arn.starts_with("arn:aws:acm:") && region != stack.region {
                out.push(Problem {
                    address: listener.address.clone(),
                    check: "certificate",
                    message: format!(
                        "its certificate is in {region}, and a load balancer takes one of its own region ({})",
                        stack.region
                    ),
                    fix: format!("request or import the certificate in {}", stack.region),
                });
            }
        }
    }
    out
}

/// Whether a trust policy lets ECS tasks assume the role.
fn trusts_ecs_tasks(doc: &Value) -> bool {
    if doc.is_null() {
        return true; // known only at apply: not judged
    }
    statements(doc).iter().any(|s| {
        s["Effect"] == "Allow"
            && names_any(&s["Action"], &["sts:AssumeRole", "sts:*", "*"])
            && names_any(&s["Principal"]["Service"], &["ecs-tasks.amazonaws.com"])
    })
}

/// Whether an inline policy of the role allows one of `actions` (or their
/// service's `*`, or `*`).
fn allows(role: &Resource, actions: &[&str]) -> bool {
    let Value::Object(policies) = role.known("inline_policies") else { return false };
    let mut wanted: Vec<String> = vec!["*".into()];
    for a in actions {
        wanted.push(a.to_string());
        if let Some((service, _)) = a.split_once(':') {
            wanted.push(format!("{service}:*"));
        }
    }
    let wanted: Vec<&str> = wanted.iter().map(String::as_str).collect();
    policies.values().flat_map(statements).any(|s| s["Effect"] == "Allow" && names_any(&s["Action"], &wanted))
}

/// `${repo.repository_uri}:TAG` or `ACCOUNT.dkr.ecr.REGION.amazonaws.com/NAME:TAG`:
/// the repository name (of the stack's repository, or as written) and tag.
fn ecr_image(stack: &Stack, image: &Expr) -> Option<(String, String)> {
    match image {
        Expr::Template(parts) => match parts.as_slice() {
            [Part::Ref(r), Part::Text(t)] if r.attribute == "repository_uri" => {
                let repo = stack.resources.iter().find(|x| x.name == r.resource)?;
                let name = repo.known("repository_name").as_str()?.to_string();
                Some((name, t.strip_prefix(':')?.to_string()))
            }
            _ => None,
        },
        Expr::Literal(Value::String(s)) => {
            let (host, rest) = s.split_once('/')?;
            if !host.contains(".dkr.ecr.") {
                return None;
            }
            let (name, tag) = rest.rsplit_once(':').unwrap_or((rest, "latest"));
            Some((name.to_string(), tag.to_string()))
        }
        _ => None,
    }
}

/// The checks that read the account: images in ECR, and awslogs groups
/// that the stack does not create.
pub async fn live(stack: &Stack, aws: &Aws) -> Vec<Problem> {
    let mut out = Vec::new();
    let ecr = aws.ecr();
    let logs = aws.logs();
    let created_groups: Vec<String> = stack
        .resources
        .iter()
        .filter(|r| r.type_name == "logs.log_group")
        .filter_map(|r| r.known("log_group_name").as_str().map(str::to_string))
        .collect();
    for task in stack.resources.iter().filter(|r| r.type_name == "ecs.task_definition") {
        for c in containers(task) {
            let name = c.get("name").map(Expr::known).and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
            if let Some((repo, tag)) = c.get("image").and_then(|i| ecr_image(stack, i)) {
                let id = aws_sdk_ecr::types::ImageIdentifier::builder().image_tag(&tag).build();
                match ecr.describe_images().repository_name(&repo).image_ids(id).send().await {
                    Ok(found) if !found.image_details().is_empty() => {}
                    Ok(_) => out.push(missing_image(task, &name, &repo, &tag)),
                    Err(e) => match (
                        e.as_service_error().is_some_and(|s| s.is_image_not_found_exception()),
                        e.as_service_error().is_some_and(|s| s.is_repository_not_found_exception()),
                    ) {
                        (true, _) => out.push(missing_image(task, &name, &repo, &tag)),
                        (_, true) => out.push(Problem {
                            address: task.address.clone(),
                            check: "image",
                            message: format!("container {name} runs {repo}:{tag}, and repository {repo} does not exist"),
                            fix: format!(
                                "create the repository (deployctl up creates the stack's), then push the image: docker push <registry>/{repo}:{tag}"
                            ),
                        }),
                        _ => out.push(Problem {
                            address: task.address.clone(),
                            check: "image",
                            message: format!("could not look up {repo}:{tag} in ECR: {}", crate::from_sdk(e)),
                            fix: "check the credentials may ecr:DescribeImages".into(),
                        }),
                    },
                }
            }
            let log = c.get("log_configuration").map(Expr::known).unwrap_or(Value::Null);
            if let Some(group) = log["options"]["awslogs-group"].as_str() {
                if created_groups.iter().any(|g| g == group) || log["options"]["awslogs-create-group"] == "true" {
                    continue;
                }
                let found = logs.describe_log_groups().log_group_name_prefix(group).send().await;
                let exists =
                    found.as_ref().is_ok_and(|f| f.log_groups().iter().any(|g| g.log_group_name() == Some(group)));
                if found.is_ok() && !exists {
                    out.push(Problem {
                        address: task.address.clone(),
                        check: "logs",
                        message: format!("container {name} logs to log group {group}, which does not exist and the stack does not create"),
                        fix: format!("add a logs.log_group with log_group_name: {group} to the stack"),
                    });
                }
            }
        }
    }
    // Certificates written as ARNs: made elsewhere, so only ACM knows
    // whether they are issued.
    let acm = aws.acm();
    for listener in stack.resources.iter().filter(|r| r.type_name == "elbv2.listener") {
        let Some(arn) = listener.known("certificate_arn").as_str().map(str::to_string) else { continue };
        match crate::acm::describe(&acm, &arn).await {
            Ok(Some(c)) if c.status() == Some(&aws_sdk_acm::types::CertificateStatus::Issued) => {}
            Ok(Some(c)) => out.push(Problem {
                address: listener.address.clone(),
                check: "certificate",
                message: format!(
                    "its certificate {arn} is {}, not ISSUED: AWS refuses the listener",
                    c.status().map_or("in no known state", |s| s.as_str())
                ),
                fix: format!("finish its validation (aws acm describe-certificate --certificate-arn {arn}), or use an issued one"),
            }),
            Ok(None) => out.push(Problem {
                address: listener.address.clone(),
                check: "certificate",
                message: format!("its certificate {arn} does not exist in {}", stack.region),
                fix: "use the ARN of a certificate of this account and region (aws acm list-certificates)".into(),
            }),
            Err(e) => out.push(Problem {
                address: listener.address.clone(),
                check: "certificate",
                message: format!("could not look up certificate {arn}: {e}"),
                fix: "check the credentials may acm:DescribeCertificate".into(),
            }),
        }
    }
    out
}

fn missing_image(task: &Resource, container: &str, repo: &str, tag: &str) -> Problem {
    Problem {
        address: task.address.clone(),
        check: "image",
        message: format!("container {container} runs {repo}:{tag}, which is not in ECR: its tasks would fail to start"),
        fix: format!("build and push it first: docker push <registry>/{repo}:{tag} (or change the tag)"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_prod_stack_is_in_order_by_everything_the_spec_alone_shows() {
        let schemas = crate::schemas();
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let prod = deployctl_spec::load(&root.join("stacks/prod.yaml"), &Default::default(), &schemas).unwrap();
        assert_eq!(offline(&prod), vec![]);
        let image = prod.resources.iter().find(|r| r.address == "task").map(|t| containers(t)[0]["image"].clone());
        assert_eq!(
            ecr_image(&prod, &image.unwrap()),
            Some(("stock-market-dashboard-prod".to_string(), "latest".to_string())),
            "the image is found in the stack's own repository"
        );
    }
}
