//! Secrets never appear in plaintext: a canary value is planted, then looked
//! for in every byte of state, plans (text and JSON), output at every
//! verbosity and error output, while the AWS API shows it did arrive.

use crate::harness::*;

const ENV: &str = "DEPLOYCTL_TEST_CANARY";

fn spec(p: &Project, broken: bool) -> String {
    let mut text = String::from(
        "stack: canary\nregion: us-east-1\nresources:\n  key:\n    type: secretsmanager.secret\n    properties:\n      name: canary/api-key\n      description: planted canary\n      secret_string: env:DEPLOYCTL_TEST_CANARY\n",
    );
    if broken {
        // A step that fails, to look at error output too.
        text.push_str("  doomed:\n    type: ec2.subnet\n    properties:\n      vpc_id: vpc-0000000000does0not\n      cidr_block: 10.0.1.0/24\n");
    }
    p.spec("canary.yaml", &text).display().to_string()
}

fn run_with(p: &Project, canary: &str, args: &[&str]) -> Run {
    let out = p.command(args).env(ENV, canary).output().expect("run deployctl");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn assert_hidden(canary: &str, what: &str, text: &str) {
    assert!(!text.contains(canary), "the secret appears in {what}:\n{text}");
}

fn state_bytes(p: &Project) -> String {
    std::fs::read_to_string(p.state_dir().join("canary.json")).unwrap_or_default()
}

#[test]
fn a_planted_secret_never_appears_in_state_plans_logs_or_errors() {
    let moto = Moto::start();
    let p = Project::new(&moto);
    let canary = "canary-5d1f0c9e-must-never-be-printed";
    let good = spec(&p, false);
    let plan_file = p.dir.path().join("plan.json").display().to_string();

    for args in [
        vec!["diff", good.as_str()],
        vec!["diff", good.as_str(), "-v"],
        vec!["diff", good.as_str(), "--json"],
        vec!["diff", good.as_str(), "-o", plan_file.as_str()],
    ] {
        let r = run_with(&p, canary, &args);
        assert_hidden(canary, &format!("{args:?}"), &format!("{}{}", r.stdout, r.stderr));
    }
    assert_hidden(canary, "the saved plan", &std::fs::read_to_string(&plan_file).unwrap());

    let r = run_with(&p, canary, &["up", &good, "--yes", "-v"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_hidden(canary, "up -v", &format!("{}{}", r.stdout, r.stderr));
    assert_hidden(canary, "state", &state_bytes(&p));
    // It did arrive where it belongs.
    let value = rt().block_on(async {
        let sm = aws_sdk_secretsmanager::Client::new(&moto.sdk_config().await);
        sm.get_secret_value().secret_id("canary/api-key").send().await.unwrap().secret_string().unwrap().to_string()
    });
    assert_eq!(value, canary);

    // A changed value shows as changed, masked.
    let canary2 = "canary-2-e8b1a7-also-secret";
    let r = run_with(&p, canary2, &["diff", &good, "--detailed-exitcode"]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stdout.contains("~ secret_string = (sensitive value changed)"), "{r:?}");
    assert_hidden(canary2, "diff of a changed secret", &format!("{}{}", r.stdout, r.stderr));
    let r = run_with(&p, canary2, &["up", &good, "--yes", "--json"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_hidden(canary2, "up --json", &format!("{}{}", r.stdout, r.stderr));

    // A failing run: errors and state still hold no value.
    let canary3 = "canary-3-0c44d2-in-a-failing-run";
    let broken = spec(&p, true);
    let r = run_with(&p, canary3, &["up", &broken, "--yes", "-v"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("error: creating ec2.subnet.doomed"), "{r:?}");
    assert_hidden(canary3, "a failing up", &format!("{}{}", r.stdout, r.stderr));
    for c in [canary, canary2, canary3] {
        assert_hidden(c, "state after all runs", &state_bytes(&p));
    }
    // A secret source that is missing is refused before anything is planned,
    // naming the variable, not a value.
    let r = p.run(&["up", &good, "--yes"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("DEPLOYCTL_TEST_CANARY is not set"), "{r:?}");
    assert!(r.stderr.contains("nothing was changed"), "{r:?}");
}

#[test]
fn a_secret_read_from_secrets_manager_is_applied_after_its_secret_and_never_shown() {
    let moto = Moto::start();
    let p = Project::new(&moto);
    let canary = "canary-sm-41be07-read-from-secrets-manager";
    // `copy` reads one key of `source`, a secret of the same stack: it can
    // only be read once `source` exists and holds its value.
    let good = p
        .spec(
            "chain.yaml",
            "stack: chain\nregion: us-east-1\nresources:\n  source:\n    type: secretsmanager.secret\n    properties:\n      name: chain/source\n      secret_string: env:DEPLOYCTL_TEST_CANARY\n  copy:\n    type: secretsmanager.secret\n    properties:\n      name: chain/copy\n      secret_string: secretsmanager:${source.arn}#token\n",
        )
        .display()
        .to_string();
    let json = format!(r#"{{"token":"{canary}","user":"ci"}}"#);

    let r = run_with(&p, &json, &["diff", &good, "--json"]);
    assert_eq!(r.code, 0, "{r:?}");
    let copy = r.json()["resources"].as_array().unwrap().iter().find(|r| r["address"] == "copy").cloned().unwrap();
    assert_eq!(copy["action"], "create");
    assert_eq!(copy["dependencies"], serde_json::json!(["source"]), "the secret it reads comes first");
    let r = run_with(&p, &json, &["up", &good, "--yes", "-v"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_hidden(canary, "up -v", &format!("{}{}", r.stdout, r.stderr));
    let state = std::fs::read_to_string(p.state_dir().join("chain.json")).unwrap();
    assert_hidden(canary, "state", &state);
    let value = rt().block_on(async {
        let sm = aws_sdk_secretsmanager::Client::new(&moto.sdk_config().await);
        sm.get_secret_value().secret_id("chain/copy").send().await.unwrap().secret_string().unwrap().to_string()
    });
    assert_eq!(value, canary, "the key was read from the source secret");
    let r = run_with(&p, &json, &["diff", &good, "--detailed-exitcode"]);
    assert_eq!(r.code, 0, "{r:?}");

    // Rotated in Secrets Manager (outside deployctl), the source's new
    // value shows as a sensitive change of what reads it.
    let rotated = "canary-sm-rotated-9a0c13";
    rt().block_on(async {
        let sm = aws_sdk_secretsmanager::Client::new(&moto.sdk_config().await);
        let v = format!(r#"{{"token":"{rotated}"}}"#);
        sm.put_secret_value().secret_id("chain/source").secret_string(v).send().await.unwrap();
    });
    let r = run_with(&p, &json, &["diff", &good, "--detailed-exitcode"]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stdout.contains("~ secret_string = (sensitive value changed)"), "{r:?}");
    assert_hidden(rotated, "diff after a rotation", &format!("{}{}", r.stdout, r.stderr));
    let r = run_with(&p, &json, &["up", &good, "--yes"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_hidden(
        rotated,
        "state after a rotation",
        &std::fs::read_to_string(p.state_dir().join("chain.json")).unwrap(),
    );

    // A secret named by a literal that does not exist is bad input: the run
    // stops before planning, naming the source and AWS's code, and nothing
    // is created.
    let missing = p
        .spec(
            "missing.yaml",
            "stack: missing\nregion: us-east-1\nresources:\n  first:\n    type: secretsmanager.secret\n    properties:\n      name: missing/first\n  copy:\n    type: secretsmanager.secret\n    properties:\n      name: missing/copy\n      secret_string: secretsmanager:does/not/exist#token\n",
        )
        .display()
        .to_string();
    let r = p.run(&["up", &missing, "--yes"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("secretsmanager.secret.copy property secret_string"), "{r:?}");
    assert!(r.stderr.contains("secretsmanager:does/not/exist#token"), "{r:?}");
    assert!(r.stderr.contains("ResourceNotFoundException"), "{r:?}");
    assert!(r.stderr.contains("nothing was changed"), "{r:?}");
    assert!(!p.state_dir().join("missing.json").exists(), "no state was written");
    let names = rt().block_on(async {
        let sm = aws_sdk_secretsmanager::Client::new(&moto.sdk_config().await);
        let list = sm.list_secrets().send().await.unwrap();
        list.secret_list().iter().filter_map(|s| s.name().map(str::to_string)).collect::<Vec<_>>()
    });
    assert!(!names.iter().any(|n| n.starts_with("missing/")), "{names:?}");
}

/// Guards the idempotency tokens of a stack brought up again after a
/// destroy: its creates must not send the tokens of the first ones. With
/// them, Secrets Manager answered CreateSecret with the secret scheduled for
/// deletion, and the parameter that reads it failed ("marked deleted").
#[test]
fn a_stack_destroyed_and_brought_up_again_restores_its_secret_and_reads_it() {
    let moto = Moto::start();
    let p = Project::new(&moto);
    let text = "stack: again\nregion: us-east-1\nresources:\n  token:\n    type: secretsmanager.secret\n    \
                properties:\n      name: again/token\n      secret_string: env:DEPLOYCTL_TEST_CANARY\n  \
                copy:\n    type: ssm.parameter\n    properties:\n      name: /again/token\n      \
                type: SecureString\n      secure_value: secretsmanager:${token.arn}\n";
    let spec = p.spec("again.yaml", text).display().to_string();
    for round in 0..2 {
        let r = run_with(&p, "v1", &["up", &spec, "--yes"]);
        assert_eq!(r.code, 0, "round {round}: {r:?}");
        let diff = run_with(&p, "v1", &["diff", &spec, "--detailed-exitcode"]);
        assert_eq!(diff.code, 0, "round {round}: {diff:?}");
        let r = run_with(&p, "v1", &["destroy", &spec, "--yes"]);
        assert_eq!(r.code, 0, "round {round}: {r:?}");
    }
}

/// What was reviewed is what runs: a saved plan shows a secret by its
/// fingerprint, and `up --plan` refuses when the secret behind it changed
/// since, naming the resource and the property, before any change; the
/// first state then gets the plan's lineage, so the same plan applies
/// once the secret is back and the next diff is clean.
#[test]
fn a_saved_plan_whose_secret_changed_since_is_refused_and_changes_nothing() {
    let moto = Moto::start();
    let p = Project::new(&moto);
    let good = spec(&p, false);
    let plan_file = p.dir.path().join("plan.json").display().to_string();
    let reviewed = "canary-reviewed-7f2a91";
    assert_eq!(run_with(&p, reviewed, &["diff", &good, "-o", &plan_file]).code, 0);

    let swapped = "canary-swapped-after-review-3c08d4";
    let r = run_with(&p, swapped, &["up", &good, "--plan", &plan_file, "--yes"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("a secret the plan applies has changed since the plan was made"), "{r:?}");
    assert!(r.stderr.contains("secretsmanager.secret.key property secret_string"), "{r:?}");
    assert!(
        r.stderr.contains(&format!("hint: make and review the plan again: deployctl diff {good} -o {plan_file}")),
        "{r:?}"
    );
    assert_hidden(swapped, "the refusal", &format!("{}{}", r.stdout, r.stderr));
    assert_hidden(reviewed, "the refusal", &format!("{}{}", r.stdout, r.stderr));
    assert!(state_bytes(&p).is_empty(), "no state written");
    let listed = rt().block_on(async {
        let sm = aws_sdk_secretsmanager::Client::new(&moto.sdk_config().await);
        sm.list_secrets().send().await.unwrap().secret_list().len()
    });
    assert_eq!(listed, 0, "nothing created");

    // The reviewed value applies as planned, and is what was reviewed.
    let r = run_with(&p, reviewed, &["up", &good, "--plan", &plan_file, "--yes"]);
    assert_eq!(r.code, 0, "{r:?}");
    let value = rt().block_on(async {
        let sm = aws_sdk_secretsmanager::Client::new(&moto.sdk_config().await);
        sm.get_secret_value().secret_id("canary/api-key").send().await.unwrap().secret_string().unwrap().to_string()
    });
    assert_eq!(value, reviewed);
    assert_eq!(run_with(&p, reviewed, &["diff", &good, "--detailed-exitcode"]).code, 0);
}

/// `diff` does not lock; when a run holds the lock, it says so (what it
/// read may be mid-change), and still shows the plan.
#[test]
fn diff_says_when_another_run_holds_the_lock() {
    use deployctl_state::{Backend, LocalBackend, LockInfo};
    let moto = Moto::start();
    let p = Project::new(&moto);
    let good = spec(&p, false);
    let backend = LocalBackend::for_instance(p.state_dir(), "canary", None);
    let info = LockInfo {
        id: "4f1c".into(),
        who: "ci@build-7 (pid 4242)".into(),
        operation: "up".into(),
        created: "2026-12-02T10:00:00Z".into(),
        expires: "never (released when that process ends)".into(),
    };
    let held = rt().block_on(backend.lock(info, std::time::Duration::ZERO)).unwrap();
    let r = run_with(&p, "canary-lock-6b2d", &["diff", &good]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stderr.contains("warning: ci@build-7 (pid 4242) is running 'up' on this stack (since 2026-12-02T10:00:00Z)"),
        "{r:?}"
    );
    assert!(r.stdout.contains("secretsmanager.secret.key will be created"), "{r:?}");
    rt().block_on(held.release()).unwrap();
    let r = run_with(&p, "canary-lock-6b2d", &["diff", &good]);
    assert!(!r.stderr.contains("warning:"), "{r:?}");
}
