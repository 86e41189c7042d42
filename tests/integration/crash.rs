//! Any process may be killed at any moment: SIGKILL `up` and `destroy` at
//! pseudo-random moments, many times over, then run them to completion. The
//! emulator must hold exactly one of each resource (or none), and diff must
//! be clean.

use crate::harness::*;
use std::collections::BTreeMap;
use std::time::Duration;

const STACK: &str = "network";

/// A small deterministic generator, so a failure can be replayed.
struct Lcg(u64);
impl Lcg {
    fn next_ms(&mut self, max: u64) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (self.0 >> 33) % max
    }
}

fn kill_after(p: &Project, args: &[&str], ms: u64) {
    let mut child =
        p.command(args).stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null()).spawn().unwrap();
    std::thread::sleep(Duration::from_millis(ms));
    let _ = child.kill(); // SIGKILL
    let _ = child.wait();
}

fn assert_exactly_one_of_each(moto: &Moto) {
    let tagged = rt().block_on(async { tagged(&moto.ec2().await, STACK).await });
    let mut count: BTreeMap<String, usize> = BTreeMap::new();
    for (_, address, _) in &tagged {
        *count.entry(address.clone()).or_default() += 1;
    }
    let dupes: Vec<_> = count.iter().filter(|(_, n)| **n > 1).collect();
    assert!(dupes.is_empty(), "duplicated: {dupes:?} in {tagged:?}");
    assert_eq!(count.len(), crate::network::NETWORK_RESOURCES, "{tagged:?}");
}

/// Whether the state a killed run left shows it was stopped mid-apply: an
/// operation recorded as started but not finished, or only part of the
/// stack recorded.
fn interrupted_mid_apply(p: &Project) -> bool {
    let Some(state) = p.state(STACK) else { return false };
    let resources = state["resources"].as_object().cloned().unwrap_or_default();
    resources.values().any(|r| r.get("pending").is_some())
        || (!resources.is_empty() && resources.len() < crate::network::NETWORK_RESOURCES)
}

#[test]
fn sigkill_during_up_never_duplicates_or_loses_a_resource() {
    let moto = Moto::start();
    let p = Project::new(&moto);
    let spec = repo_file("stacks/network.yaml").display().to_string();
    let mut rng = Lcg(0x5eed_0001);
    let mut mid_apply = 0;
    for round in 0..4 {
        // Kills spread over the whole run, from process start to the end.
        for _ in 0..4 {
            let ms = 20 + rng.next_ms(450);
            kill_after(&p, &["up", &spec, "--yes"], ms);
            mid_apply += usize::from(interrupted_mid_apply(&p));
        }
        let r = p.ok(&["up", &spec, "--yes"]);
        assert_exactly_one_of_each(&moto);
        let diff = p.run(&["diff", &spec, "--detailed-exitcode"]);
        assert_eq!(diff.code, 0, "round {round}: after recovery up:\n{r:?}\ndiff:\n{diff:?}");
        if round < 3 {
            p.ok(&["destroy", &spec, "--yes"]);
        }
    }
    // The test proves something only if kills landed inside applies.
    assert!(mid_apply >= 2, "only {mid_apply} kills landed mid-apply; the window needs retuning");
}

#[test]
fn sigkill_during_destroy_never_leaves_a_resource_behind() {
    let moto = Moto::start();
    let p = Project::new(&moto);
    let spec = repo_file("stacks/network.yaml").display().to_string();
    let mut rng = Lcg(0x5eed_0002);
    for _ in 0..4 {
        p.ok(&["up", &spec, "--yes"]);
        assert_exactly_one_of_each(&moto);
        for _ in 0..3 {
            let ms = 30 + rng.next_ms(400);
            kill_after(&p, &["destroy", &spec, "--yes"], ms);
        }
    }
    p.ok(&["destroy", &spec, "--yes"]);
    let left = rt().block_on(async { tagged(&moto.ec2().await, STACK).await });
    assert_eq!(left, vec![]);
    assert_eq!(p.state(STACK).unwrap()["resources"], serde_json::json!({}));
}
