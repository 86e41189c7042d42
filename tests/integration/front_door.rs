//! Seed 004's front door on the local endpoint: a hosted zone, an ACM
//! certificate validated by DNS (the CNAME written into the zone, then the
//! wait for ISSUED), an HTTPS listener with the issued certificate and a
//! TLS 1.2+ policy, HTTP redirected to HTTPS, a listener rule that splits
//! /api/* by weight, and an alias to the load balancer. Then a clean diff,
//! in-place changes of the rule, and a destroy that leaves nothing.

use crate::harness::*;

const SPEC: &str = r#"
stack: door
region: us-east-1
resources:
  vpc:
    type: ec2.vpc
    properties: {cidr_block: 10.20.0.0/16}
  igw:
    type: ec2.internet_gateway
    properties: {vpc_id: "${vpc.id}"}
  public:
    type: ec2.subnet
    for_each: {a: 1, b: 2}
    properties:
      vpc_id: ${vpc.id}
      cidr_block: 10.20.${each.value}.0/24
      availability_zone: ${region}${each.key}
  alb_sg:
    type: ec2.security_group
    properties:
      vpc_id: ${vpc.id}
      description: HTTP and HTTPS from anywhere
      ingress:
        - {ip_protocol: tcp, from_port: 80, to_port: 80, cidr_ipv4: 0.0.0.0/0}
        - {ip_protocol: tcp, from_port: 443, to_port: 443, cidr_ipv4: 0.0.0.0/0}
  alb:
    type: elbv2.load_balancer
    depends_on: [igw]
    properties:
      subnets: ${public[*].id}
      security_groups: ["${alb_sg.id}"]
  blue:
    type: elbv2.target_group
    properties: {protocol: HTTP, port: 8080, vpc_id: "${vpc.id}", target_type: ip}
  green:
    type: elbv2.target_group
    properties: {protocol: HTTP, port: 8080, vpc_id: "${vpc.id}", target_type: ip}
  zone:
    type: route53.hosted_zone
    properties: {name: shop.example.com, comment: the shop}
  cert:
    type: acm.certificate
    properties:
      domain_name: shop.example.com
      subject_alternative_names: ["*.shop.example.com"]
  cert_dns:
    type: route53.record
    properties:
      zone_id: ${zone.zone_id}
      name: ${cert.validation_record_name}
      type: CNAME
      ttl: 300
      records: ["${cert.validation_record_value}"]
  cert_valid:
    type: acm.certificate_validation
    properties:
      certificate_arn: ${cert.arn}
      validation_record_fqdns: ["${cert_dns.fqdn}"]
    timeouts: {create: 3m}
  https:
    type: elbv2.listener
    properties:
      load_balancer_arn: ${alb.arn}
      port: 443
      protocol: HTTPS
      certificate_arn: ${cert_valid.certificate_arn}
      ssl_policy: ELBSecurityPolicy-TLS13-1-2-2021-06
      default_actions:
        - {type: forward, target_group_arn: "${blue.arn}"}
  http:
    type: elbv2.listener
    properties:
      load_balancer_arn: ${alb.arn}
      port: 80
      protocol: HTTP
      default_actions:
        - type: redirect
          redirect_config: {protocol: HTTPS, port: "443", status_code: HTTP_301}
  api:
    type: elbv2.listener_rule
    properties:
      listener_arn: ${https.arn}
      priority: 10
      conditions:
        path_patterns: [/api/*]
        host_headers: [shop.example.com]
      actions:
        - type: forward
          forward_config:
            target_groups:
              - {target_group_arn: "${blue.arn}", weight: 90}
              - {target_group_arn: "${green.arn}", weight: 10}
  www:
    type: route53.record
    properties:
      zone_id: ${zone.zone_id}
      name: shop.example.com
      type: A
      alias: {dns_name: "${alb.dns_name}", zone_id: "${alb.zone_id}"}
"#;

#[test]
fn the_front_door_serves_https_with_a_dns_validated_certificate_and_destroys_to_nothing() {
    // moto issues a requested certificate this many seconds after the
    // request, on the next read (AWS: once the CNAME resolves).
    let moto = Moto::start_with(&[("MOTO_ACM_VALIDATION_WAIT", "2")]);
    let p = Project::new(&moto);
    let spec = p.spec("door.yaml", SPEC);
    let spec = spec.to_str().unwrap();
    let up = p.ok(&["up", spec, "--yes"]);
    assert!(up.stderr.contains("cert_valid") || up.stdout.contains("cert_valid"), "{up:?}");
    let diff = p.run(&["diff", spec, "--detailed-exitcode"]);
    assert_eq!(diff.code, 0, "a fresh front door diffs clean:\n{diff:?}");

    let state = p.state("door").unwrap();
    let id = |a: &str| state["resources"][a]["id"].as_str().unwrap().to_string();
    let attr = |a: &str, k: &str| state["resources"][a]["attributes"][k].clone();
    rt().block_on(async {
        let conf = moto.sdk_config().await;
        let acm = aws_sdk_acm::Client::new(&conf);
        let r53 = aws_sdk_route53::Client::new(&conf);
        let elb = aws_sdk_elasticloadbalancingv2::Client::new(&conf);

        // The certificate: both names, issued, and its CNAME in the zone.
        let cert = acm.describe_certificate().certificate_arn(id("cert")).send().await.unwrap();
        let cert = cert.certificate().unwrap();
        assert_eq!(cert.domain_name(), Some("shop.example.com"));
        let mut names = cert.subject_alternative_names().to_vec();
        names.sort();
        assert_eq!(names, ["*.shop.example.com", "shop.example.com"]);
        assert_eq!(cert.status().map(|s| s.as_str()), Some("ISSUED"));
        let records = r53.list_resource_record_sets().hosted_zone_id(id("zone")).send().await.unwrap();
        let cname = records.resource_record_sets().iter().find(|r| r.r#type().as_str() == "CNAME").unwrap();
        let want = attr("cert", "validation_record_value");
        assert_eq!(cname.resource_records()[0].value(), want.as_str().unwrap());

        // HTTPS with the issued certificate and a TLS 1.2+ policy; HTTP
        // answers with a permanent redirect to it.
        let https = elb.describe_listeners().listener_arns(id("https")).send().await.unwrap();
        let https = &https.listeners()[0];
        assert_eq!(https.certificates()[0].certificate_arn(), Some(id("cert").as_str()));
        assert_eq!(https.ssl_policy(), Some("ELBSecurityPolicy-TLS13-1-2-2021-06"));
        let http = elb.describe_listeners().listener_arns(id("http")).send().await.unwrap();
        let redirect = http.listeners()[0].default_actions()[0].redirect_config().unwrap();
        assert_eq!((redirect.protocol(), redirect.port()), (Some("HTTPS"), Some("443")));
        assert_eq!(redirect.status_code().map(|c| c.as_str()), Some("HTTP_301"));

        // The rule: its priority, conditions and the 90/10 split.
        let rule = elb.describe_rules().rule_arns(id("api")).send().await.unwrap();
        let rule = &rule.rules()[0];
        assert_eq!(rule.priority(), Some("10"));
        let fields: Vec<&str> = rule.conditions().iter().filter_map(|c| c.field()).collect();
        assert!(fields.contains(&"path-pattern") && fields.contains(&"host-header"), "{fields:?}");
        let mut weights: Vec<(String, i32)> = rule.actions()[0]
            .forward_config()
            .unwrap()
            .target_groups()
            .iter()
            .map(|t| (t.target_group_arn().unwrap().to_string(), t.weight().unwrap()))
            .collect();
        weights.sort_by_key(|(_, w)| -w);
        assert_eq!(weights, [(id("blue"), 90), (id("green"), 10)]);

        // The alias points at the load balancer.
        let a = records.resource_record_sets().iter().find(|r| r.r#type().as_str() == "A").unwrap();
        let target = a.alias_target().unwrap();
        let dns = attr("alb", "dns_name");
        assert!(target.dns_name().trim_end_matches('.').ends_with(dns.as_str().unwrap()), "{target:?}");
    });

    // Shifting the weights and moving the rule are changes in place.
    let shifted = SPEC
        .replace("weight: 90", "weight: 50")
        .replace("weight: 10", "weight: 50")
        .replace("priority: 10", "priority: 20");
    let spec2 = p.spec("door.yaml", &shifted);
    let spec2 = spec2.to_str().unwrap();
    let plan = p.ok(&["diff", spec2, "--json"]).json();
    let changed: Vec<(&str, &str)> = plan["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["action"] != "no_op")
        .map(|r| (r["address"].as_str().unwrap(), r["action"].as_str().unwrap()))
        .collect();
    assert_eq!(changed, vec![("api", "update")], "only the rule changes, in place");
    p.ok(&["up", spec2, "--yes"]);
    assert_eq!(p.run(&["diff", spec2, "--detailed-exitcode"]).code, 0);
    let rule_arn = id("api");
    rt().block_on(async {
        let elb = aws_sdk_elasticloadbalancingv2::Client::new(&moto.sdk_config().await);
        let rule = elb.describe_rules().rule_arns(&rule_arn).send().await.unwrap();
        assert_eq!(rule.rules()[0].priority(), Some("20"));
        let weights: Vec<i32> = rule.rules()[0].actions()[0]
            .forward_config()
            .unwrap()
            .target_groups()
            .iter()
            .filter_map(|t| t.weight())
            .collect();
        assert_eq!(weights, [50, 50]);
    });

    p.ok(&["destroy", spec2, "--yes"]);
    rt().block_on(async {
        let conf = moto.sdk_config().await;
        let acm = aws_sdk_acm::Client::new(&conf);
        let r53 = aws_sdk_route53::Client::new(&conf);
        let elb = aws_sdk_elasticloadbalancingv2::Client::new(&conf);
        let certs = acm.list_certificates().send().await.unwrap();
        assert!(certs.certificate_summary_list().is_empty(), "{certs:?}");
        let zones = r53.list_hosted_zones().send().await.unwrap();
        assert!(zones.hosted_zones().is_empty(), "{zones:?}");
        let lbs = elb.describe_load_balancers().send().await.unwrap();
        assert!(lbs.load_balancers().is_empty(), "{lbs:?}");
    });
}
