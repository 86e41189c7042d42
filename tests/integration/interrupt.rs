//! Ctrl-C during a long wait: the run stops waiting, records state and
//! releases the lock; the next run resumes the wait instead of creating a
//! second resource. The wait here is an ECS rollout that moto never
//! completes (it reports no running tasks).

use crate::harness::*;
use std::time::{Duration, Instant};

fn spec(p: &Project, timeout: &str) -> String {
    let text = format!(
        r#"stack: slow
region: us-east-1
resources:
  vpc:
    type: ec2.vpc
    properties: {{cidr_block: 10.3.0.0/16}}
  subnet:
    type: ec2.subnet
    properties: {{vpc_id: "${{vpc.id}}", cidr_block: 10.3.1.0/24, availability_zone: us-east-1a}}
  sg:
    type: ec2.security_group
    properties: {{vpc_id: "${{vpc.id}}"}}
  cluster:
    type: ecs.cluster
    properties: {{cluster_name: slow}}
  task:
    type: ecs.task_definition
    properties:
      family: slow
      cpu: 256
      memory: 512
      container_definitions:
        - {{name: app, image: "public.ecr.aws/nginx/nginx:latest", port_mappings: [{{container_port: 80}}]}}
  service:
    type: ecs.service
    properties:
      service_name: slow
      cluster: ${{cluster.arn}}
      task_definition: ${{task.arn}}
      desired_count: 1
      launch_type: FARGATE
      network_configuration:
        awsvpc_configuration: {{subnets: ["${{subnet.id}}"], security_groups: ["${{sg.id}}"]}}
    timeouts: {{create: {timeout}, update: {timeout}}}
"#
    );
    p.spec(&format!("slow-{timeout}.yaml"), &text).display().to_string()
}

fn services(moto: &Moto) -> usize {
    rt().block_on(async {
        let ecs = aws_sdk_ecs::Client::new(&moto.sdk_config().await);
        match ecs.list_services().cluster("slow").send().await {
            Ok(o) => o.service_arns().len(),
            Err(_) => 0,
        }
    })
}

#[test]
fn ctrl_c_stops_the_wait_records_state_releases_the_lock_and_the_next_run_resumes() {
    let moto = Moto::start_with(&[("MOTO_ECS_SERVICE_RUNNING", "0")]);
    let p = Project::new(&moto);
    let long = spec(&p, "10m");
    let mut child = p
        .command(&["up", &long, "--yes"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the service exists: the run is now waiting on its rollout.
    let start = Instant::now();
    while services(&moto) == 0 {
        assert!(start.elapsed() < Duration::from_secs(60), "the service was never created");
        std::thread::sleep(Duration::from_millis(200));
    }
    std::thread::sleep(Duration::from_millis(500));
    let killed = std::process::Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(killed.success());
    let start = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "deployctl did not stop after SIGINT");
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("Interrupted"), "{stderr}");

    // State recorded the service, its create still pending.
    let state = p.state("slow").unwrap();
    let svc = &state["resources"]["service"];
    assert!(svc["id"].as_str().is_some_and(|id| id.contains("service/slow/slow")), "{state}");
    assert_eq!(svc["pending"]["op"], "create", "{state}");

    // The lock is free, and the next run resumes the wait (here it times
    // out) without creating a second service.
    let short = spec(&p, "3s");
    let plan = p.run(&["diff", &short]);
    assert!(plan.stdout.contains("resuming the interrupted create"), "{plan:?}");
    let r = p.run(&["up", &short, "--yes", "--lock-timeout", "0s"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(!r.stderr.contains("state is locked"), "{r:?}");
    assert!(r.stderr.contains("timed out after 3s"), "{r:?}");
    assert_eq!(services(&moto), 1);
    assert_eq!(p.state("slow").unwrap()["resources"]["service"]["pending"]["op"], "create");
}
