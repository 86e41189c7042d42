//! One stack, many environments: each environment of a stack is its own
//! instance (`deployctl:stack = STACK/ENVIRONMENT`), with its own state and
//! its own resources; adoption is announced, and another instance's resource
//! is taken over only on purpose.

use crate::harness::*;

fn network() -> String {
    repo_file("stacks/network.yaml").display().to_string()
}

fn dev_vars() -> String {
    repo_file("stacks/env/dev.yaml").display().to_string()
}

#[test]
fn the_dev_var_file_alone_selects_a_network_of_its_own_and_prod_stays_untouched() {
    let moto = Moto::start();
    let p = Project::new(&moto);
    let (spec, dev) = (network(), dev_vars());
    p.ok(&["up", &spec, "--yes"]);
    let prod = rt().block_on(async { tagged(&moto.ec2().await, "network/prod").await });
    assert_eq!(prod.len(), crate::network::NETWORK_RESOURCES);

    let up = p.ok(&["up", &spec, "--var-file", &dev, "--yes", "--json"]).json();
    // dev.yaml has one NAT (and one address) where prod has two.
    let dev_count = crate::network::NETWORK_RESOURCES - 2;
    assert_eq!(up["plan"]["create"], dev_count, "dev creates a network of its own: {up}");
    assert_eq!(up["plan"]["update"], 0, "and touches nothing of prod's: {up}");
    let now = |instance: &str| rt().block_on(async { tagged(&moto.ec2().await, instance).await });
    let dev_res = now("network/dev");
    assert_eq!(dev_res.len(), dev_count);
    assert!(dev_res.iter().all(|(_, _, id)| prod.iter().all(|(_, _, p)| p != id)), "no resource is shared");
    assert_eq!(now("network/prod"), prod, "prod is untouched");
    assert!(p.state("network/prod").is_some() && p.state("network/dev").is_some(), "a state each");

    assert_eq!(p.run(&["diff", &spec, "--detailed-exitcode"]).code, 0);
    assert_eq!(p.run(&["diff", &spec, "--var-file", &dev, "--detailed-exitcode"]).code, 0);

    p.ok(&["destroy", &spec, "--var-file", &dev, "--yes"]);
    assert_eq!(now("network/dev"), vec![]);
    assert_eq!(now("network/prod"), prod, "destroying dev leaves prod intact");
    assert_eq!(p.run(&["diff", &spec, "--detailed-exitcode"]).code, 0);
}

#[test]
fn an_instance_whose_state_is_lost_adopts_its_own_resources_and_says_so() {
    let moto = Moto::start();
    let p = Project::new(&moto);
    let spec = network();
    p.ok(&["up", &spec, "--yes"]);
    let before = rt().block_on(async { tagged(&moto.ec2().await, "network/prod").await });
    std::fs::remove_file(p.state_dir().join("network.prod.json")).unwrap();

    let plan = p.ok(&["diff", &spec, "--json"]).json();
    let resources = plan["resources"].as_array().unwrap();
    assert_eq!(resources.len(), crate::network::NETWORK_RESOURCES);
    for r in resources {
        assert_eq!(r["adopt"], serde_json::json!({"by": "tags"}), "{r}");
        assert_eq!(r["action"], "no_op", "adopted as it is: {r}");
    }
    let text = p.run(&["diff", &spec, "--detailed-exitcode"]);
    assert_eq!(text.code, 2, "adoption is a change to state: {text:?}");
    assert!(text.stdout.contains("15 to adopt") && text.stdout.contains("<= ec2.vpc.vpc"), "{text:?}");
    assert!(text.stdout.contains("# adopt: found by its deployctl tags, not in state"), "{text:?}");

    let up = p.ok(&["up", &spec, "--yes", "--json"]).json();
    assert_eq!(up["plan"]["create"], 0, "{up}");
    assert_eq!(rt().block_on(async { tagged(&moto.ec2().await, "network/prod").await }), before);
    assert_eq!(p.run(&["diff", &spec, "--detailed-exitcode"]).code, 0);

    // Another instance with no state plans a network of its own.
    let staging = repo_file("stacks/env/staging.yaml").display().to_string();
    let plan = p.ok(&["diff", &spec, "--var-file", &staging, "--json"]).json();
    let actions: Vec<&str> =
        plan["resources"].as_array().unwrap().iter().map(|r| r["action"].as_str().unwrap()).collect();
    assert_eq!(actions, vec!["create"; crate::network::NETWORK_RESOURCES], "{plan}");
}

const SHARED_NAME: &str = "stack: envs
region: us-east-1
environment: ${var.env}
vars:
  env: prod
  group: /shared/logs
resources:
  logs:
    type: logs.log_group
    properties:
      log_group_name: ${var.group}
      retention_in_days: 7
";

#[test]
fn another_instances_resource_is_refused_naming_its_owner_unless_taken_over() {
    let moto = Moto::start();
    let p = Project::new(&moto);
    let spec = p.spec("envs.yaml", SHARED_NAME).display().to_string();
    p.ok(&["up", &spec, "--yes"]);
    let owner = || {
        rt().block_on(async {
            let logs = aws_sdk_cloudwatchlogs::Client::new(&moto.sdk_config().await);
            let arn = "arn:aws:logs:us-east-1:123456789012:log-group:/shared/logs";
            let tags = logs.list_tags_for_resource().resource_arn(arn).send().await.unwrap();
            tags.tags().and_then(|t| t.get("deployctl:stack").cloned())
        })
    };
    assert_eq!(owner().as_deref(), Some("envs/prod"));

    // dev names the same group: refused before any change, naming the owner.
    for cmd in [vec!["diff", &spec, "--var", "env=dev"], vec!["up", &spec, "--var", "env=dev", "--yes"]] {
        let r = p.run(&cmd);
        assert_eq!(r.code, 1, "{r:?}");
        assert!(r.stderr.contains("logs.log_group.logs (/shared/logs) is owned by envs/prod"), "{r:?}");
        assert!(r.stderr.contains("re-run with --take-over envs/prod"), "{r:?}");
    }
    assert_eq!(owner().as_deref(), Some("envs/prod"), "nothing changed");
    assert!(p.state("envs/dev").is_none(), "no state written for dev");

    // On purpose: an explicit take-over, announced in the plan.
    let plan = p.ok(&["diff", &spec, "--var", "env=dev", "--take-over", "envs/prod", "--json"]).json();
    assert_eq!(plan["resources"][0]["adopt"], serde_json::json!({"by": "take_over", "from": "envs/prod"}));
    p.ok(&["up", &spec, "--var", "env=dev", "--take-over", "envs/prod", "--yes"]);
    assert_eq!(owner().as_deref(), Some("envs/dev"));
    assert_eq!(p.run(&["diff", &spec, "--var", "env=dev", "--detailed-exitcode"]).code, 0);
}

#[test]
fn local_state_from_before_environments_is_not_silently_forked() {
    let moto = Moto::start();
    let p = Project::new(&moto);
    std::fs::create_dir_all(p.state_dir()).unwrap();
    let legacy = "{\n  \"format_version\": 1,\n  \"lineage\": \"l\",\n  \"serial\": 1,\n  \"stack\": \"network\",\n  \"region\": \"us-east-1\",\n  \"resources\": {},\n  \"outputs\": {}\n}\n";
    std::fs::write(p.state_dir().join("network.json"), legacy).unwrap();
    let r = p.run(&["diff", &network()]);
    assert_eq!(r.code, 1, "{r:?}");
    let hint = format!(
        "mv {} {}",
        p.state_dir().join("network.json").display(),
        p.state_dir().join("network.prod.json").display()
    );
    assert!(r.stderr.contains(&hint), "the hint is the command to run: {r:?}");
    // As printed, the hint works: the state is then prod's.
    std::fs::rename(p.state_dir().join("network.json"), p.state_dir().join("network.prod.json")).unwrap();
    assert_eq!(p.run(&["diff", &network()]).code, 0);
}

#[test]
fn validate_refuses_a_fixed_unique_name_in_a_spec_for_several_environments() {
    let moto = Moto::start();
    let p = Project::new(&moto);
    let fixed = SHARED_NAME.replace("log_group_name: ${var.group}", "log_group_name: /shared/logs");
    let spec = p.spec("fixed.yaml", &fixed).display().to_string();
    let r = p.run(&["validate", &spec]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.contains("fixed.yaml:11:23: log_group_name '/shared/logs' is the same in every environment"),
        "{r:?}"
    );
    assert!(r.stderr.contains("hint: derive it from the environment, e.g. log_group_name: /shared/logs-${var.env}"));
    // Derived from the environment, it is fine; so is a stack with one
    // environment written as a fixed value.
    let derived = fixed.replace("log_group_name: /shared/logs", "log_group_name: /shared/${var.env}/logs");
    p.ok(&["validate", &p.spec("derived.yaml", &derived).display().to_string()]);
    let single = fixed.replace("environment: ${var.env}", "environment: prod");
    p.ok(&["validate", &p.spec("single.yaml", &single).display().to_string()]);
}
