//! The operator's toolkit: `--target`, `state`, `graph` and `completions`,
//! on the emulator.

use crate::harness::*;
use std::collections::BTreeSet;

fn network() -> String {
    repo_file("stacks/network.yaml").display().to_string()
}

fn addresses(ec2: &[(String, String, String)]) -> BTreeSet<String> {
    ec2.iter().map(|(_, a, _)| a.clone()).collect()
}

fn live(moto: &Moto) -> BTreeSet<String> {
    addresses(&rt().block_on(async { tagged(&moto.ec2().await, "network/prod").await }))
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

#[test]
fn up_with_a_target_creates_only_it_and_what_it_needs_and_a_full_up_creates_the_rest() {
    let moto = Moto::start();
    let p = Project::new(&moto);
    let spec = network();

    let diff = p.ok(&["diff", &spec, "--target", "nat[a]"]);
    assert!(diff.stdout.contains("Warning: targeted run (--target nat[a])"), "{}", diff.stdout);
    assert!(diff.stdout.contains("the rest of the stack was not looked at"), "{}", diff.stdout);

    let up = p.ok(&["up", &spec, "--target", "nat[a]", "--yes", "--json"]).json();
    let needed = set(&["vpc", "igw", "public[a]", "nat_ip[a]", "nat[a]"]);
    assert_eq!(up["plan"]["create"], needed.len(), "{up}");
    assert_eq!(live(&moto), needed, "only the target and what it depends on exist");
    let state = p.state("network/prod").unwrap();
    let recorded: BTreeSet<String> = state["resources"].as_object().unwrap().keys().cloned().collect();
    assert_eq!(recorded, needed);
    // The outputs it could compute are recorded; the rest wait for a full up.
    assert!(state["outputs"]["vpc_id"].is_string(), "{}", state["outputs"]);
    assert!(state["outputs"].get("public_subnet_ids").is_none(), "not half of a list: {}", state["outputs"]);

    // A targeted run with nothing to do says so, and the warning stays.
    let again = p.run(&["diff", &spec, "--target", "nat[a]", "--detailed-exitcode"]);
    assert_eq!(again.code, 0, "{again:?}");
    assert!(again.stdout.contains("Warning: targeted run"), "{}", again.stdout);

    let rest = p.ok(&["up", &spec, "--yes", "--json"]).json();
    assert_eq!(rest["plan"]["create"], crate::network::NETWORK_RESOURCES - needed.len(), "{rest}");
    assert_eq!(rest["plan"]["update"], 0, "what the targeted run made is as the spec says: {rest}");
    assert_eq!(live(&moto).len(), crate::network::NETWORK_RESOURCES);
    assert_eq!(p.run(&["diff", &spec, "--detailed-exitcode"]).code, 0);

    // destroy --target takes what depends on the target with it, and no more.
    let down = p.ok(&["destroy", &spec, "--target", "nat", "--yes", "--json"]).json();
    let mut gone: Vec<&str> = down["steps"].as_array().unwrap().iter().map(|s| s.as_str().unwrap()).collect();
    gone.sort();
    assert_eq!(gone, ["deleted nat[a]", "deleted nat[b]", "deleted private_routes[a]", "deleted private_routes[b]"]);
    assert_eq!(live(&moto).len(), crate::network::NETWORK_RESOURCES - 4);
    let plan = p.ok(&["diff", &spec, "--json"]).json();
    let creates: BTreeSet<String> = plan["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["action"] != "no_op")
        .map(|r| format!("{} {}", r["action"].as_str().unwrap(), r["address"].as_str().unwrap()))
        .collect();
    assert_eq!(
        creates,
        set(&["create nat[a]", "create nat[b]", "create private_routes[a]", "create private_routes[b]"])
    );
}

#[test]
fn an_unknown_target_is_refused_before_anything_is_read_or_changed() {
    let moto = Moto::start();
    let p = Project::new(&moto);
    let spec = network();
    let r = p.run(&["up", &spec, "--target", "nat_gw[a]", "--yes"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("--target nat_gw[a]: the stack has no resource 'nat_gw[a]'"), "{}", r.stderr);
    assert!(r.stderr.contains("hint: did you mean 'nat"), "{}", r.stderr);
    assert!(live(&moto).is_empty());
    assert!(p.state("network/prod").is_none(), "no state was written");
}

/// A small stack whose resources an operator renames, moves into a
/// for_each and forgets.
fn small(vpc: &str, subnet: &str, with_extra: bool) -> String {
    let subnet_block = match subnet {
        "single" => "  subnet:\n    type: ec2.subnet\n    properties:\n      vpc_id: ${main.id}\n      cidr_block: 10.9.1.0/24\n      availability_zone: us-east-1a\n".to_string(),
        _ => "  subnet:\n    type: ec2.subnet\n    for_each:\n      a: 1\n    properties:\n      vpc_id: ${main.id}\n      cidr_block: 10.9.${each.value}.0/24\n      availability_zone: us-east-1${each.key}\n".to_string(),
    }
    .replace("main", vpc);
    let extra =
        if with_extra { "  extra:\n    type: ec2.vpc\n    properties:\n      cidr_block: 10.8.0.0/16\n" } else { "" };
    format!("stack: ops\nregion: us-east-1\nresources:\n  {vpc}:\n    type: ec2.vpc\n    properties:\n      cidr_block: 10.9.0.0/16\n{subnet_block}{extra}")
}

fn changes(p: &Project, spec: &str) -> BTreeSet<String> {
    let plan = p.ok(&["diff", spec, "--json"]).json();
    plan["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["action"] != "no_op")
        .map(|r| format!("{} {}", r["action"].as_str().unwrap(), r["address"].as_str().unwrap()))
        .collect()
}

#[test]
fn state_list_after_up_lists_every_address_and_show_prints_what_is_recorded() {
    let moto = Moto::start();
    let p = Project::new(&moto);
    let spec = network();
    p.ok(&["up", &spec, "--yes"]);
    let listed = p.ok(&["state", "list", &spec]).stdout;
    let rows: BTreeSet<String> = listed.lines().map(|l| l.split_whitespace().next().unwrap().to_string()).collect();
    assert_eq!(rows, live(&moto), "{listed}");
    let json = p.ok(&["state", "list", &spec, "--json"]).json();
    assert_eq!(json.as_array().unwrap().len(), crate::network::NETWORK_RESOURCES);
    let nat = json.as_array().unwrap().iter().find(|r| r["address"] == "nat[a]").unwrap();
    assert_eq!(nat["type"], "ec2.nat_gateway");
    assert!(nat["id"].as_str().unwrap().starts_with("nat-"), "{nat}");

    let shown = p.ok(&["state", "show", &spec, "nat[a]"]).stdout;
    assert!(shown.starts_with("nat[a] (ec2.nat_gateway)\n"), "{shown}");
    assert!(shown.contains(&format!("  id         = {}\n", nat["id"].as_str().unwrap())), "{shown}");
    assert!(shown.contains("  depends on = "), "{shown}");

    let missing = p.run(&["state", "show", &spec, "nat[c]"]);
    assert_eq!(missing.code, 1, "{missing:?}");
    assert!(missing.stderr.contains("state has no resource 'nat[c]'"), "{}", missing.stderr);
    assert!(
        missing.stderr.contains(&format!("hint: list what it records with: deployctl state list {spec}")),
        "{}",
        missing.stderr
    );
}

#[test]
fn state_mv_after_a_rename_and_into_a_for_each_key_keeps_the_resources_instead_of_replacing_them() {
    let moto = Moto::start();
    let p = Project::new(&moto);
    let first = p.spec("ops.yaml", &small("net", "single", false));
    let first = first.to_str().unwrap();
    p.ok(&["up", first, "--yes"]);
    let before: BTreeSet<String> =
        rt().block_on(async { tagged(&moto.ec2().await, "ops").await }).into_iter().map(|(_, _, id)| id).collect();

    // The spec renames the VPC and puts the subnet under a for_each.
    let renamed = p.spec("ops.yaml", &small("main", "for_each", false));
    let renamed = renamed.to_str().unwrap();
    assert_eq!(changes(&p, renamed), set(&["create main", "create subnet[a]", "delete net", "delete subnet"]));

    let mv = p.ok(&["state", "mv", renamed, "net", "main"]);
    assert!(mv.stdout.contains("Moved net to main."), "{}", mv.stdout);
    assert!(mv.stdout.contains("The state from before this edit is kept in"), "{}", mv.stdout);
    let backup = p.state_dir().join("ops.json.backup");
    assert!(std::fs::read_to_string(&backup).unwrap().contains("\"net\""), "the backup is the state before the move");
    p.ok(&["state", "mv", renamed, "subnet", "subnet[a]"]);

    // Nothing is created or deleted: at most the ownership tags are updated.
    let after = changes(&p, renamed);
    assert!(after.iter().all(|c| c.starts_with("update ")), "{after:?}");
    p.ok(&["up", renamed, "--yes"]);
    let live = rt().block_on(async { tagged(&moto.ec2().await, "ops").await });
    assert_eq!(live.iter().map(|(_, _, id)| id.clone()).collect::<BTreeSet<_>>(), before, "the same VPC and subnet");
    assert_eq!(addresses(&live), set(&["main", "subnet[a]"]), "the tags name the new addresses");
    assert_eq!(p.run(&["diff", renamed, "--detailed-exitcode"]).code, 0);

    // A move onto a recorded address is refused, and changes nothing.
    let state = p.state("ops").unwrap();
    let r = p.run(&["state", "mv", renamed, "main", "subnet[a]"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("state already has a resource at 'subnet[a]'"), "{}", r.stderr);
    assert_eq!(p.state("ops").unwrap(), state);
}

#[test]
fn state_rm_forgets_a_resource_without_deleting_it_and_destroy_leaves_it_alone() {
    let moto = Moto::start();
    let p = Project::new(&moto);
    let with = p.spec("ops.yaml", &small("net", "single", true));
    p.ok(&["up", with.to_str().unwrap(), "--yes"]);
    let extra_id = p.state("ops").unwrap()["resources"]["extra"]["id"].as_str().unwrap().to_string();

    let without = p.spec("ops.yaml", &small("net", "single", false));
    let without = without.to_str().unwrap();
    let rm = p.ok(&["state", "rm", without, "extra"]);
    assert!(
        rm.stdout.contains(&format!("Removed extra (ec2.vpc {extra_id}) from state. It was not deleted")),
        "{}",
        rm.stdout
    );
    assert!(p.state("ops").unwrap()["resources"].get("extra").is_none());
    assert!(changes(&p, without).is_empty(), "the forgotten VPC is not planned for deletion");

    p.ok(&["destroy", without, "--yes"]);
    let vpcs =
        rt().block_on(async { moto.ec2().await.describe_vpcs().vpc_ids(&extra_id).send().await.unwrap().vpcs().len() });
    assert_eq!(vpcs, 1, "destroy did not delete what state forgot");
    let left = rt().block_on(async { tagged(&moto.ec2().await, "ops").await });
    assert_eq!(addresses(&left), set(&["extra"]), "everything else is gone: {left:?}");

    let r = p.run(&["state", "rm", without, "extra"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("state has no resource 'extra'"), "{}", r.stderr);
}

/// A VPC made by hand, outside deployctl: its id.
fn hand_made_vpc(moto: &Moto, cidr: &str) -> String {
    rt().block_on(async {
        use aws_sdk_ec2::types::{ResourceType, Tag, TagSpecification};
        let tags = TagSpecification::builder()
            .resource_type(ResourceType::Vpc)
            .tags(Tag::builder().key("Name").value("legacy").build())
            .build();
        let out = moto.ec2().await.create_vpc().cidr_block(cidr).tag_specifications(tags).send().await.unwrap();
        out.vpc().unwrap().vpc_id().unwrap().to_string()
    })
}

#[test]
fn import_takes_over_a_hand_made_vpc_and_the_next_up_only_converges_its_tags() {
    let moto = Moto::start();
    let p = Project::new(&moto);
    let id = hand_made_vpc(&moto, "10.7.0.0/16");
    let spec = p.spec(
        "legacy.yaml",
        "stack: legacy\nregion: us-east-1\nresources:\n  vpc:\n    type: ec2.vpc\n    properties:\n      cidr_block: 10.7.0.0/16\n    tags:\n      Name: legacy\n",
    );
    let spec = spec.to_str().unwrap();

    let generated = p.ok(&["import", spec, "vpc", &id, "--generate"]);
    let yaml: serde_yaml::Value = serde_yaml::from_str(&generated.stdout).unwrap();
    assert_eq!(yaml["vpc"]["type"], "ec2.vpc", "{}", generated.stdout);
    assert_eq!(yaml["vpc"]["properties"]["cidr_block"], "10.7.0.0/16", "{}", generated.stdout);
    assert_eq!(yaml["vpc"]["tags"]["Name"], "legacy", "{}", generated.stdout);
    assert!(p.state("legacy").is_none(), "--generate records nothing");
    let pasted = p.spec(
        "generated.yaml",
        &format!("stack: legacy\nregion: us-east-1\nresources:\n{}", indent(&generated.stdout)),
    );
    let valid = p.run(&["validate", pasted.to_str().unwrap()]);
    assert_eq!(valid.code, 0, "validate accepts what --generate printed: {valid:?}");

    let imported = p.ok(&["import", spec, "vpc", &id]);
    assert!(imported.stdout.contains(&format!("Imported vpc (ec2.vpc {id})")), "{}", imported.stdout);
    assert!(
        imported.stdout.contains("The next `up` updates it in place: tags (deployctl:resource, deployctl:stack)."),
        "{}",
        imported.stdout
    );
    assert_eq!(p.state("legacy").unwrap()["resources"]["vpc"]["id"], id.as_str());

    let up = p.ok(&["up", spec, "--yes", "--json"]).json();
    assert_eq!((up["plan"]["create"].as_u64(), up["plan"]["update"].as_u64()), (Some(0), Some(1)), "{up}");
    let live = rt().block_on(async { tagged(&moto.ec2().await, "legacy").await });
    assert_eq!(live, [("vpc".to_string(), "vpc".to_string(), id.clone())], "the same VPC, now with deployctl's tags");
    assert_eq!(p.run(&["diff", spec, "--detailed-exitcode"]).code, 0);

    // Importing it again, or to another address, is refused.
    let again = p.run(&["import", spec, "vpc", &id]);
    assert_eq!(again.code, 1);
    assert!(again.stderr.contains(&format!("state already records vpc (id {id})")), "{}", again.stderr);
}

#[test]
fn an_import_the_spec_would_replace_is_refused_and_changes_nothing() {
    let moto = Moto::start();
    let p = Project::new(&moto);
    let id = hand_made_vpc(&moto, "10.6.0.0/16");
    let spec = p.spec(
        "legacy.yaml",
        "stack: legacy\nregion: us-east-1\nresources:\n  vpc:\n    type: ec2.vpc\n    properties:\n      cidr_block: 10.5.0.0/16\n",
    );
    let spec = spec.to_str().unwrap();
    let r = p.run(&["import", spec, "vpc", &id]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains(&format!("importing {id} as vpc would have the next up replace it")), "{}", r.stderr);
    assert!(r.stderr.contains("because of: cidr_block; nothing was changed"), "{}", r.stderr);
    assert!(p.state("legacy").is_none(), "no state was written");

    let missing = p.run(&["import", spec, "vpc", "vpc-0123456789abcdef0"]);
    assert_eq!(missing.code, 1);
    assert!(missing.stderr.contains("no ec2.vpc with id vpc-0123456789abcdef0 in us-east-1"), "{}", missing.stderr);

    // The YAML for what is live, for an address the spec does not have yet.
    let generated = p.ok(&["import", spec, "old[a]", &id, "--generate", "--type", "ec2.vpc"]);
    let yaml: serde_yaml::Value = serde_yaml::from_str(&generated.stdout).unwrap();
    assert_eq!(yaml["old"]["for_each"]["a"], serde_yaml::Value::Mapping(Default::default()), "{}", generated.stdout);
    assert_eq!(yaml["old"]["properties"]["cidr_block"], "10.6.0.0/16", "{}", generated.stdout);
    assert!(
        generated.stderr.contains(&format!("then take it over with: deployctl import {spec} 'old[a]' {id}")),
        "{}",
        generated.stderr
    );
}

#[test]
fn lint_fails_on_errors_and_with_strict_on_warnings_and_validate_prints_its_findings() {
    let moto = Moto::start();
    let p = Project::new(&moto);
    let head = "stack: lint\nregion: us-east-1\nresources:\n  logs:\n    type: logs.log_group\n    properties:\n      log_group_name: /lint\n";
    let warned = p.spec("warned.yaml", head);
    let warned = warned.to_str().unwrap();
    let r = p.run(&["lint", warned]);
    assert_eq!(r.code, 0, "a warning alone does not fail: {r:?}");
    assert!(r.stdout.contains(&format!("{warned}:4:3: warning[logs-no-retention]")), "{}", r.stdout);
    assert!(r.stdout.contains("lint: 0 errors, 1 warning"), "{}", r.stdout);
    assert_eq!(p.run(&["lint", warned, "--strict"]).code, 1);
    let v = p.ok(&["validate", warned]);
    assert!(v.stderr.contains("warning[logs-no-retention]"), "{}", v.stderr);
    assert!(v.stderr.contains(&format!("(see them again with: deployctl lint {warned})")), "{}", v.stderr);

    let open = p.spec(
        "open.yaml",
        &format!("{head}  sg:\n    type: ec2.security_group\n    properties:\n      vpc_id: vpc-1\n      ingress: [{{ip_protocol: tcp, from_port: 22, to_port: 22, cidr_ipv4: 0.0.0.0/0}}]\n"),
    );
    let r = p.run(&["lint", open.to_str().unwrap(), "--json"]);
    assert_eq!(r.code, 1, "{r:?}");
    let rules: Vec<String> =
        r.json().as_array().unwrap().iter().map(|f| f["rule"].as_str().unwrap().to_string()).collect();
    assert_eq!(rules, ["logs-no-retention", "sg-open-to-the-internet"]);

    // Seed 000 serves plain HTTP: lint names the rule and the listener's actions.
    let prod = repo_file("stacks/prod.yaml").display().to_string();
    let r = p.run(&["lint", &prod, "--strict"]);
    assert_eq!(r.code, 1, "{r:?}");
    let line = std::fs::read_to_string(&prod)
        .unwrap()
        .lines()
        .position(|l| l.contains("- {type: forward, target_group_arn: \"${web.arn}\"}"))
        .unwrap();
    let at = format!("{prod}:{}:9: warning[alb-http-without-redirect]: elbv2.listener http: listens on HTTP and does not redirect to HTTPS (CKV_AWS_2, CKV2_AWS_20)", line + 1);
    assert!(r.stdout.contains(&at), "expected {at} in:\n{}", r.stdout);
    assert!(r.stdout.contains("lint: 0 errors, 1 warning"), "only that: {}", r.stdout);

    // These example stacks pass --strict (an exception says why).
    for stack in ["stacks/network.yaml", "stacks/shop.yaml", "stacks/cicd.yaml"] {
        let spec = repo_file(stack).display().to_string();
        let r = p.run(&["lint", &spec, "--strict"]);
        assert_eq!(r.code, 0, "{stack}: {r:?}");
    }
}

/// YAML one level deeper, as the entries of `resources:`.
fn indent(yaml: &str) -> String {
    yaml.lines().map(|l| if l.is_empty() { "\n".to_string() } else { format!("  {l}\n") }).collect()
}

#[test]
fn cost_of_prod_compared_with_its_dev_var_file_is_cheaper_side_by_side() {
    let moto = Moto::start();
    let p = Project::new(&moto);
    let prod = repo_file("stacks/prod.yaml").display().to_string();
    let dev = repo_file("stacks/env/stock-dashboard-dev.yaml").display().to_string();
    let json = p.ok(&["cost", &prod, "--compare", &dev, "--json"]).json();
    let (base, variant) = (
        json["estimate"]["total"].as_f64().unwrap(),
        json["compare"]["stock-dashboard-dev"]["total"].as_f64().unwrap(),
    );
    assert!(variant < base, "dev {variant} vs prod {base}");
    let text = p.ok(&["cost", &prod, "--compare", &dev]).stdout;
    let header = text.lines().find(|l| l.trim_start().starts_with("resource")).unwrap();
    assert!(header.contains("this spec") && header.contains("stock-dashboard-dev"), "{text}");
    let total = text.lines().find(|l| l.trim_start().starts_with("Total")).unwrap();
    assert!(total.contains(&format!("${base:.2}")) && total.contains(&format!("${variant:.2}")), "{total}");
}

#[test]
fn an_app_stack_reads_the_network_stack_s_outputs_deploys_after_it_and_diffs_clean() {
    let moto = Moto::start();
    let p = Project::new(&moto);
    let network_state = p.state_dir().join("network.prod.json");
    let app = p.spec(
        "app.yaml",
        &format!(
            "stack: app\nregion: us-east-1\nstacks:\n  network: {{state: {}}}\nresources:\n  sg:\n    type: ec2.security_group\n    properties:\n      vpc_id: ${{stack.network.outputs.vpc_id}}\n  lb:\n    type: elbv2.load_balancer\n    properties:\n      scheme: internal\n      subnets: ${{stack.network.outputs.private_subnet_ids}}\n      security_groups: [\"${{sg.id}}\"]\noutputs:\n  where: in ${{stack.network.outputs.vpc_id}}\n",
            network_state.display()
        ),
    );
    let app = app.to_str().unwrap();

    // Offline, the outputs are not read: validate accepts the spec.
    p.ok(&["validate", app]);
    // Before the network exists, nothing is planned and the error says why.
    let early = p.run(&["diff", app]);
    assert_eq!(early.code, 1, "{early:?}");
    assert!(early.stderr.contains("stack network has no state at"), "{}", early.stderr);
    assert!(early.stderr.contains("hint: deploy stack network first"), "{}", early.stderr);

    p.ok(&["up", &network(), "--yes"]);
    let net = p.state("network/prod").unwrap();
    p.ok(&["up", app, "--yes"]);
    let state = p.state("app").unwrap();
    assert_eq!(state["resources"]["sg"]["properties"]["vpc_id"], net["outputs"]["vpc_id"]);
    let mut subnets: Vec<String> =
        serde_json::from_value(state["resources"]["lb"]["properties"]["subnets"].clone()).unwrap();
    let mut private: Vec<String> = serde_json::from_value(net["outputs"]["private_subnet_ids"].clone()).unwrap();
    subnets.sort();
    private.sort();
    assert_eq!(subnets, private, "the load balancer is in the network stack's private subnets");
    assert_eq!(state["outputs"]["where"], format!("in {}", net["outputs"]["vpc_id"].as_str().unwrap()));
    assert_eq!(p.run(&["diff", app, "--detailed-exitcode"]).code, 0, "the app's diff is clean");
    assert_eq!(net, p.state("network/prod").unwrap(), "the network's state was only read");

    // An output the network does not have is named, with what it has.
    let typo = std::fs::read_to_string(app).unwrap().replace("outputs.vpc_id}\n  lb", "outputs.vpc}\n  lb");
    let typo = p.spec("app.yaml", &typo);
    let r = p.run(&["diff", typo.to_str().unwrap()]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("'${stack.network.outputs.vpc}': stack network has no output 'vpc'"), "{}", r.stderr);
    assert!(r.stderr.contains("did you mean 'vpc_id'?"), "{}", r.stderr);

    // Destroy needs no outputs: it deletes what the app's state records.
    let down = p.ok(&["destroy", typo.to_str().unwrap(), "--yes", "--json"]).json();
    assert_eq!(down["plan"]["delete"], 2, "{down}");
    assert_eq!(live(&moto).len(), crate::network::NETWORK_RESOURCES, "the network stays");
}

const PREFLIGHT: &str = r#"stack: preflight
region: us-east-1
resources:
  vpc:
    type: ec2.vpc
    properties: {cidr_block: 10.4.0.0/16}
  tg:
    type: elbv2.target_group
    properties: {protocol: HTTP, port: 8080, vpc_id: "${vpc.id}"}
  repo:
    type: ecr.repository
    properties: {repository_name: preflight-app}
  secret:
    type: secretsmanager.secret
    properties: {name: preflight-key}
  exec:
    type: iam.role
    properties:
      assume_role_policy_document:
        Version: "2012-10-17"
        Statement: [{Effect: Allow, Principal: {Service: ecs-tasks.amazonaws.com}, Action: "sts:AssumeRole"}]
  app_role:
    type: iam.role
    properties:
      assume_role_policy_document:
        Version: "2012-10-17"
        Statement: [{Effect: Allow, Principal: {Service: ec2.amazonaws.com}, Action: "sts:AssumeRole"}]
  cluster:
    type: ecs.cluster
    properties: {cluster_name: preflight}
  task:
    type: ecs.task_definition
    properties:
      family: preflight
      cpu: 256
      memory: 512
      execution_role_arn: ${exec.arn}
      task_role_arn: ${app_role.arn}
      container_definitions:
        - name: app
          image: ${repo.repository_uri}:v1
          port_mappings: [{container_port: 8080}]
          secrets: [{name: API_KEY, value_from: "${secret.arn}"}]
          log_configuration: {log_driver: awslogs, options: {awslogs-group: /preflight/app, awslogs-region: us-east-1, awslogs-stream-prefix: ecs}}
  service:
    type: ecs.service
    properties:
      cluster: ${cluster.arn}
      task_definition: ${task.arn}
      load_balancers: [{target_group_arn: "${tg.arn}", container_name: app, container_port: 9090}]
"#;

#[test]
fn verify_names_each_problem_that_would_keep_tasks_from_starting_and_clears_what_the_account_fixes() {
    let moto = Moto::start();
    let p = Project::new(&moto);
    let spec = p.spec("preflight.yaml", PREFLIGHT);
    let spec = spec.to_str().unwrap();
    let checks = |r: &Run| -> Vec<String> {
        let mut v: Vec<String> = r
            .json()
            .as_array()
            .unwrap()
            .iter()
            .map(|p| format!("{} {}", p["address"].as_str().unwrap(), p["check"].as_str().unwrap()))
            .collect();
        v.sort();
        v
    };
    let r = p.run(&["verify", spec, "--json"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert_eq!(
        checks(&r),
        [
            "service load-balancer",
            "service load-balancer",
            "task image",
            "task logs",
            "task logs",
            "task role-trust",
            "task secrets",
        ],
        "{}",
        r.stdout
    );
    let text = p.run(&["verify", spec]).stdout;
    assert!(text.contains("task [role-trust]: its task role app_role cannot be assumed by ECS tasks"), "{text}");
    assert!(text.contains("sends to port 9090 of container app, which maps no such port"), "{text}");
    assert!(text.contains("repository preflight-app does not exist"), "{text}");

    // The image pushed and the log group made: those problems go.
    rt().block_on(async {
        let conf = moto.sdk_config().await;
        let ecr = aws_sdk_ecr::Client::new(&conf);
        ecr.create_repository().repository_name("preflight-app").send().await.unwrap();
        let manifest = r#"{"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json", "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 1, "digest": "sha256:0000000000000000000000000000000000000000000000000000000000000000"}, "layers": []}"#;
        ecr.put_image().repository_name("preflight-app").image_tag("v1").image_manifest(manifest).send().await.unwrap();
        let logs = aws_sdk_cloudwatchlogs::Client::new(&conf);
        logs.create_log_group().log_group_name("/preflight/app").send().await.unwrap();
    });
    let r = p.run(&["verify", spec, "--json"]);
    assert_eq!(
        checks(&r),
        ["service load-balancer", "service load-balancer", "task logs", "task role-trust", "task secrets"],
        "{}",
        r.stdout
    );
}

#[test]
fn diff_cost_of_dropping_a_nat_gateway_shows_its_price_gone_from_the_month() {
    let moto = Moto::start();
    let p = Project::new(&moto);
    let spec = network();
    let now = p.ok(&["diff", &spec, "--cost"]).stdout;
    assert!(now.contains("Cost: $0.00 a month now, $72.10 after this plan (+$72.10)."), "{now}");
    assert!(now.contains("  + nat[a]: +$32.40\n"), "{now}");
    p.ok(&["up", &spec, "--yes"]);
    let one_nat = [
        "--var",
        "nat_azs=[a]",
        "--var",
        "azs={a: {public: 1, private: 11, nat: a}, b: {public: 2, private: 12, nat: a}}",
    ];
    let mut args = vec!["diff", spec.as_str(), "--cost"];
    args.extend(one_nat);
    let text = p.ok(&args).stdout;
    assert!(text.contains("- ec2.nat_gateway.nat[b]"), "the plan deletes the second NAT: {text}");
    assert!(text.contains("Cost: $72.10 a month now, $36.05 after this plan (-$36.05)."), "{text}");
    assert!(text.contains("  - nat[b]: -$32.40\n") && text.contains("  - nat_ip[b]: -$3.65\n"), "{text}");
}

#[test]
fn a_data_lookup_by_tags_finds_a_vpc_the_stack_uses_and_never_changes_or_deletes() {
    let moto = Moto::start();
    let p = Project::new(&moto);
    let shared = hand_made_vpc(&moto, "10.3.0.0/16"); // tagged Name=legacy
    let spec = p.spec(
        "uses.yaml",
        "stack: uses\nregion: us-east-1\ndata:\n  shared: {type: ec2.vpc, tags: {Name: legacy}}\nresources:\n  subnet:\n    type: ec2.subnet\n    properties:\n      vpc_id: ${data.shared.id}\n      cidr_block: 10.3.1.0/24\n      availability_zone: us-east-1a\noutputs:\n  range: ${data.shared.cidr_block}\n",
    );
    let spec = spec.to_str().unwrap();
    p.ok(&["validate", spec]);
    let plan = p.ok(&["diff", spec, "--json"]).json();
    let planned: Vec<&str> =
        plan["resources"].as_array().unwrap().iter().map(|r| r["address"].as_str().unwrap()).collect();
    assert_eq!(planned, ["subnet"], "the looked-up VPC is not planned: {plan}");
    let up = p.ok(&["up", spec, "--yes", "--json"]).json();
    assert_eq!(up["outputs"]["range"], "10.3.0.0/16", "{up}");
    let state = p.state("uses").unwrap();
    assert_eq!(state["resources"]["subnet"]["properties"]["vpc_id"], shared.as_str());
    assert!(state["resources"].get("shared").is_none(), "a lookup is not in state");
    assert_eq!(p.run(&["diff", spec, "--detailed-exitcode"]).code, 0);
    p.ok(&["destroy", spec, "--yes"]);
    let still =
        rt().block_on(async { moto.ec2().await.describe_vpcs().vpc_ids(&shared).send().await.unwrap().vpcs().len() });
    assert_eq!(still, 1, "destroy leaves the looked-up VPC alone");

    // No match says so, before anything is read or changed.
    let none = p.spec("none.yaml", &std::fs::read_to_string(spec).unwrap().replace("Name: legacy", "Name: nothing"));
    let r = p.run(&["diff", none.to_str().unwrap()]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("data shared: no ec2.vpc tagged Name=nothing in us-east-1"), "{}", r.stderr);
}

#[test]
fn a_data_lookup_by_name_finds_a_hosted_zone_the_stack_writes_records_in_and_leaves_it_at_destroy() {
    let moto = Moto::start();
    let p = Project::new(&moto);
    // A zone made by hand (or by another team), which the stack does not own.
    let zone = rt().block_on(async {
        let r53 = aws_sdk_route53::Client::new(&moto.sdk_config().await);
        let out = r53.create_hosted_zone().name("example.org").caller_reference("by-hand").send().await.unwrap();
        out.hosted_zone().unwrap().id().trim_start_matches("/hostedzone/").to_string()
    });
    let spec = p.spec(
        "dns.yaml",
        "stack: dns\nregion: us-east-1\ndata:\n  zone: {type: route53.hosted_zone, name: example.org}\nresources:\n  txt:\n    type: route53.record\n    properties:\n      zone_id: ${data.zone.id}\n      name: hello.example.org\n      type: TXT\n      ttl: 60\n      records: ['\"deployctl\"']\noutputs:\n  servers: ${data.zone.name_servers}\n",
    );
    let spec = spec.to_str().unwrap();
    let up = p.ok(&["up", spec, "--yes", "--json"]).json();
    assert_eq!(up["outputs"]["servers"].as_array().map(Vec::len), Some(4), "{up}");
    let state = p.state("dns").unwrap();
    assert_eq!(state["resources"]["txt"]["id"], format!("{zone}_hello.example.org_TXT").as_str());
    assert_eq!(p.run(&["diff", spec, "--detailed-exitcode"]).code, 0);
    p.ok(&["destroy", spec, "--yes"]);
    let left = rt().block_on(async {
        let r53 = aws_sdk_route53::Client::new(&moto.sdk_config().await);
        let records = r53.list_resource_record_sets().hosted_zone_id(&zone).send().await.unwrap();
        records.resource_record_sets().iter().map(|r| r.r#type().as_str().to_string()).collect::<BTreeSet<_>>()
    });
    assert_eq!(left, set(&["NS", "SOA"]), "the record is gone and the zone, not the stack's, stays");

    // A name with no public zone says so, before anything is changed.
    let none =
        p.spec("none.yaml", &std::fs::read_to_string(spec).unwrap().replace("name: example.org", "name: example.net"));
    let r = p.run(&["diff", none.to_str().unwrap()]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("data zone: no route53.hosted_zone named example.net in us-east-1"), "{}", r.stderr);
}

#[test]
fn data_lookups_by_name_find_an_issued_certificate_a_role_and_a_secret_made_by_hand() {
    let moto = Moto::start_with(&[("MOTO_ACM_VALIDATION_WAIT", "1")]);
    let p = Project::new(&moto);
    let (cert, role, secret) = rt().block_on(async {
        let conf = moto.sdk_config().await;
        let acm = aws_sdk_acm::Client::new(&conf);
        let dns = aws_sdk_acm::types::ValidationMethod::Dns;
        let out = acm.request_certificate().domain_name("api.example.org").validation_method(dns).send().await;
        let cert = out.unwrap().certificate_arn().unwrap().to_string();
        // moto issues it on the first read after the wait.
        tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
        acm.describe_certificate().certificate_arn(&cert).send().await.unwrap();
        let iam = aws_sdk_iam::Client::new(&conf);
        let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ecs-tasks.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
        let role = iam.create_role().role_name("deploy-role").assume_role_policy_document(trust).send().await.unwrap();
        let sm = aws_sdk_secretsmanager::Client::new(&conf);
        let secret = sm.create_secret().name("app/key").secret_string("s3cr3t-value").send().await.unwrap();
        (cert, role.role().unwrap().arn().to_string(), secret.arn().unwrap().to_string())
    });
    let spec = p.spec(
        "named.yaml",
        "stack: named\nregion: us-east-1\ndata:\n  cert: {type: acm.certificate, name: api.example.org}\n  role: {type: iam.role, name: deploy-role}\n  key: {type: secretsmanager.secret, name: app/key}\nresources:\n  logs:\n    type: logs.log_group\n    properties: {log_group_name: /named, retention_in_days: 7}\noutputs:\n  cert: ${data.cert.arn}\n  role: ${data.role.arn}\n  key: ${data.key.arn}\n",
    );
    let spec = spec.to_str().unwrap();
    let up = p.ok(&["up", spec, "--yes", "--json"]).json();
    assert_eq!(
        (up["outputs"]["cert"].as_str(), up["outputs"]["role"].as_str()),
        (Some(cert.as_str()), Some(role.as_str()))
    );
    assert_eq!(up["outputs"]["key"].as_str(), Some(secret.as_str()));
    assert!(!serde_json::to_string(&p.state("named").unwrap()).unwrap().contains("s3cr3t"), "a lookup reads no value");
    p.ok(&["destroy", spec, "--yes"]);
    rt().block_on(async {
        let conf = moto.sdk_config().await;
        let iam = aws_sdk_iam::Client::new(&conf);
        assert!(iam.get_role().role_name("deploy-role").send().await.is_ok(), "the role, not the stack's, stays");
    });
    // A kind with no name lookup says which have one.
    let vpc = p.spec("vpc.yaml", "stack: v\nregion: us-east-1\ndata:\n  net: {type: ec2.vpc, name: main}\nresources:\n  logs:\n    type: logs.log_group\n    properties: {log_group_name: /v, retention_in_days: 7}\n");
    let r = p.run(&["diff", vpc.to_str().unwrap()]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.contains("ec2.vpc cannot be looked up by name") && r.stderr.contains("acm.certificate"),
        "{}",
        r.stderr
    );
}

#[test]
fn verify_names_an_https_listener_whose_certificate_is_not_issued_or_not_waited_for() {
    // moto issues a requested certificate this long after the request.
    let moto = Moto::start_with(&[("MOTO_ACM_VALIDATION_WAIT", "2")]);
    let p = Project::new(&moto);
    let arn = rt().block_on(async {
        let acm = aws_sdk_acm::Client::new(&moto.sdk_config().await);
        let out = acm
            .request_certificate()
            .domain_name("api.example.org")
            .validation_method(aws_sdk_acm::types::ValidationMethod::Dns)
            .send()
            .await
            .unwrap();
        out.certificate_arn().unwrap().to_string()
    });
    let listener = |name: &str, cert: &str| {
        format!("  {name}:\n    type: elbv2.listener\n    properties:\n      load_balancer_arn: ${{alb.arn}}\n      port: {}\n      protocol: HTTPS\n      certificate_arn: {cert}\n      ssl_policy: ELBSecurityPolicy-TLS13-1-2-2021-06\n      default_actions: [{{type: forward, target_group_arn: \"${{tg.arn}}\"}}]\n", if name == "own" { 443 } else { 8443 })
    };
    let text = format!(
        "stack: tls\nregion: us-east-1\nresources:\n  vpc:\n    type: ec2.vpc\n    properties: {{cidr_block: 10.4.0.0/16}}\n  public:\n    type: ec2.subnet\n    for_each: {{a: 1, b: 2}}\n    properties:\n      vpc_id: ${{vpc.id}}\n      cidr_block: 10.4.${{each.value}}.0/24\n      availability_zone: ${{region}}${{each.key}}\n  alb:\n    type: elbv2.load_balancer\n    properties: {{subnets: \"${{public[*].id}}\"}}\n  tg:\n    type: elbv2.target_group\n    properties: {{protocol: HTTP, port: 80, vpc_id: \"${{vpc.id}}\", target_type: ip}}\n  cert:\n    type: acm.certificate\n    properties: {{domain_name: shop.example.org}}\n{}{}",
        listener("own", "${cert.arn}"),
        listener("shared", &arn)
    );
    let spec = p.spec("tls.yaml", &text);
    let spec = spec.to_str().unwrap();
    let r = p.run(&["verify", spec]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stdout.contains("own [certificate]: it uses certificate cert before it is issued"), "{}", r.stdout);
    assert!(r.stdout.contains("add an acm.certificate_validation of cert"), "{}", r.stdout);
    assert!(
        r.stdout.contains(&format!("shared [certificate]: its certificate {arn} is PENDING_VALIDATION")),
        "{}",
        r.stdout
    );

    // Issued (and the stack's own waited for): nothing left to say.
    std::thread::sleep(std::time::Duration::from_secs(3));
    let waited = text.replace("${cert.arn}", "${cert_valid.certificate_arn}")
        + "  cert_valid:\n    type: acm.certificate_validation\n    properties: {certificate_arn: \"${cert.arn}\"}\n";
    let spec = p.spec("tls.yaml", &waited);
    let r = p.run(&["verify", spec.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{r:?}");
}
