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
