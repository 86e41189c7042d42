//! Loader tests against a small registry of test kinds.

use crate::*;
use serde_json::json;
use std::time::Duration;

const ATTRS: &[Attr] = &[Attr { name: "id", doc: "The id." }, Attr { name: "arn", doc: "The ARN." }];

static VPC: KindSchema = KindSchema {
    type_name: "ec2.vpc",
    doc: "A VPC.",
    properties: &[
        Prop::new("cidr_block", Type::String, "The IPv4 CIDR block.").required().replace(),
        Prop::new("enable_dns_hostnames", Type::Bool, "Whether instances get DNS hostnames."),
    ],
    attributes: ATTRS,
    taggable: true,
    rules: &[],
    example: "",
};

static SUBNET: KindSchema = KindSchema {
    type_name: "ec2.subnet",
    doc: "A subnet.",
    properties: &[
        Prop::new("vpc_id", Type::String, "The VPC.").required().replace(),
        Prop::new("cidr_block", Type::String, "The IPv4 CIDR block.").required().replace(),
        Prop::new("availability_zone", Type::String, "The AZ.").replace(),
        Prop::new("map_public_ip_on_launch", Type::Bool, "Public IPs.").default("false"),
    ],
    attributes: ATTRS,
    taggable: true,
    rules: &[],
    example: "",
};

const INGRESS: &[Prop] = &[
    Prop::new("protocol", Type::String, "tcp, udp, icmp or -1.").required(),
    Prop::new("from_port", Type::Int, "First port."),
    Prop::new("to_port", Type::Int, "Last port."),
    Prop::new("cidr_blocks", Type::Set(&Type::String), "Source CIDRs."),
    Prop::new("source_security_group_id", Type::String, "Source group."),
];

static SG: KindSchema = KindSchema {
    type_name: "ec2.security_group",
    doc: "A security group.",
    properties: &[
        Prop::new("vpc_id", Type::String, "The VPC.").required().replace(),
        Prop::new("description", Type::String, "What it is for.").replace(),
        Prop::new("ingress", Type::Set(&Type::Object(INGRESS)), "Inbound rules."),
    ],
    attributes: ATTRS,
    taggable: true,
    rules: &[],
    example: "",
};

static NAT: KindSchema = KindSchema {
    type_name: "ec2.nat_gateway",
    doc: "A NAT gateway.",
    properties: &[Prop::new("subnet_id", Type::String, "Its subnet.").required().replace()],
    attributes: &[Attr { name: "id", doc: "The id." }],
    taggable: true,
    rules: &[],
    example: "",
};

static ROUTE: KindSchema = KindSchema {
    type_name: "ec2.route",
    doc: "A route.",
    properties: &[
        Prop::new("route_table_id", Type::String, "The table.").required().replace(),
        Prop::new("destination_cidr_block", Type::String, "Where to.").required().replace(),
        Prop::new("nat_gateway_id", Type::String, "Through a NAT gateway."),
    ],
    attributes: &[],
    taggable: false,
    rules: &[],
    example: "",
};

static DB: KindSchema = KindSchema {
    type_name: "rds.instance",
    doc: "A database.",
    properties: &[
        Prop::new("password", Type::Secret, "The master password.").required(),
        Prop::new("port", Type::Int, "The port."),
        Prop::new("subnet_ids", Type::List(&Type::String), "Its subnets."),
        Prop::new("backup_window", Type::Duration, "How long backups may take."),
        Prop::new("parameters", Type::Map(&Type::String), "Engine parameters."),
        Prop::new("policy", Type::Document, "An access policy."),
    ],
    attributes: ATTRS,
    taggable: true,
    rules: &[],
    example: "",
};

static LISTENER: KindSchema = KindSchema {
    type_name: "elbv2.listener",
    doc: "A listener.",
    properties: &[
        Prop::new("protocol", Type::String, "HTTP or HTTPS."),
        Prop::new("certificate_arn", Type::String, "Its certificate."),
    ],
    attributes: ATTRS,
    taggable: true,
    rules: &[https_needs_a_certificate],
    example: "",
};

/// A rule for the tests: HTTPS needs a certificate.
fn https_needs_a_certificate(p: &crate::schema::Literals) -> Option<crate::schema::RuleViolation> {
    let https = matches!(p.get("protocol"), Some(Some(v)) if v == "HTTPS");
    let unset = match p.get("certificate_arn") {
        None => true,
        Some(Some(v)) => v.is_null(),
        Some(None) => false,
    };
    (https && unset).then(|| crate::schema::RuleViolation {
        field: "protocol",
        message: "HTTPS needs certificate_arn".into(),
        hint: "add certificate_arn".into(),
    })
}

static REG: [&KindSchema; 7] = [&VPC, &SUBNET, &SG, &NAT, &ROUTE, &DB, &LISTENER];

fn load_with(text: &str, overrides: &VarOverrides) -> Result<Stack, Diagnostics> {
    load_str("net.yaml", text, overrides, &REG)
}

fn ok(text: &str) -> Stack {
    match load_with(text, &VarOverrides::default()) {
        Ok(s) => s,
        Err(e) => panic!("expected a valid spec, got:\n{e}"),
    }
}

fn errs(text: &str) -> Diagnostics {
    errs_with(text, &VarOverrides::default())
}

fn errs_with(text: &str, overrides: &VarOverrides) -> Diagnostics {
    match load_with(text, overrides) {
        Ok(s) => panic!("expected errors, got a stack: {s:#?}"),
        Err(e) => e,
    }
}

/// The one diagnostic whose message contains `needle`.
fn find<'a>(ds: &'a Diagnostics, needle: &str) -> &'a Diagnostic {
    let found: Vec<&Diagnostic> = ds.0.iter().filter(|d| d.message.contains(needle)).collect();
    match found.as_slice() {
        [d] => d,
        _ => panic!("expected one diagnostic containing {needle:?}, got:\n{ds}"),
    }
}

/// Asserts that exactly one diagnostic contains `needle` and that it is at
/// `line:column`; returns it.
#[track_caller]
fn at<'a>(ds: &'a Diagnostics, needle: &str, line: usize, column: usize) -> &'a Diagnostic {
    let d = find(ds, needle);
    assert_eq!(d.pos, Some(Pos { line, column }), "position of {:?}\nall:\n{ds}", d.message);
    d
}

fn hint(d: &Diagnostic) -> &str {
    d.hint.as_deref().unwrap_or("")
}

/// Prefix for specs in error tests: lines 1–3.
const HEAD: &str = "stack: net\nregion: us-east-1\nresources:\n";

const GOOD: &str = r#"stack: network
region: ${var.region}
backend:
  s3: {bucket: my-state, key: network.tfstate, lock_table: deployctl-locks}
tags: {team: platform, env: "${var.env}", cost: 42}
vars:
  env: prod
  region: us-east-1
  azs: [a, b]
  nets:
    a: {cidr: 10.0.1.0/24, public: true}
    b: {cidr: 10.0.2.0/24, public: false}
  dns: true
  port: 5432
resources:
  vpc:
    type: ec2.vpc
    properties:
      cidr_block: 10.0.0.0/16
      enable_dns_hostnames: ${var.dns}
    tags: {Name: "${stack}-vpc"}
    timeouts: {create: 10m, delete: 1h30m}
  subnet:
    type: ec2.subnet
    for_each: ${var.nets}
    properties:
      vpc_id: ${vpc.id}
      cidr_block: ${each.value.cidr}
      availability_zone: ${region}${each.key}
      map_public_ip_on_launch: ${each.value.public}
    tags: {Name: "${stack}-${each.key}", Vpc: "${vpc.id}", Literal: "$${not.a.ref}"}
  sg:
    type: ec2.security_group
    depends_on: [subnet]
    properties:
      vpc_id: ${vpc.id}
      description: "web in ${vpc.id}"
      ingress:
        - {protocol: tcp, from_port: 443, to_port: 443, cidr_blocks: [0.0.0.0/0]}
        - {protocol: tcp, from_port: 22, to_port: 22, source_security_group_id: "${subnet[a].id}"}
  nat:
    type: ec2.nat_gateway
    for_each: ${var.azs}
    depends_on: [vpc, "subnet[b]"]
    properties:
      subnet_id: ${subnet[each.key].id}
  db:
    type: rds.instance
    properties:
      password: env:DB_PASSWORD
      port: ${var.port}
      subnet_ids: ${subnet[*].id}
      backup_window: 30m
      parameters: {max_connections: "100", label: "${var.env}-${var.port}"}
      policy: {Version: "2012-10-17", Statement: [{Effect: Allow, Resource: "${vpc.arn}"}]}
outputs:
  vpc_id: ${vpc.id}
  subnet_ids: ${subnet[*].id}
  summary: "vpc ${vpc.id} in ${region}"
  azs: ${var.azs}
  literal: {a: [1, 2]}
"#;

fn reference(resource: &str, selector: Selector, attribute: &str, line: usize, column: usize) -> Reference {
    Reference { resource: resource.into(), selector, attribute: attribute.into(), pos: Pos { line, column } }
}

#[test]
fn good_spec_loads() {
    let s = ok(GOOD);
    assert_eq!(s.file, "net.yaml");
    assert_eq!(s.name, "network");
    assert_eq!(s.region, "us-east-1");
    assert_eq!(
        s.backend,
        Some(BackendSpec::S3 {
            bucket: "my-state".into(),
            key: "network.tfstate".into(),
            lock_table: "deployctl-locks".into(),
            region: None,
        })
    );
    assert_eq!(
        s.tags.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect::<Vec<_>>(),
        [("cost", "42"), ("env", "prod"), ("team", "platform")]
    );
    assert_eq!(s.vars["azs"], json!(["a", "b"]));
    assert_eq!(s.vars["port"], json!(5432));
    let addresses: Vec<&str> = s.resources.iter().map(|r| r.address.as_str()).collect();
    assert_eq!(addresses, ["vpc", "subnet[a]", "subnet[b]", "sg", "nat[a]", "nat[b]", "db"]);

    let vpc = s.resource("vpc").expect("vpc");
    assert_eq!(vpc.key, None);
    assert_eq!(vpc.type_name, "ec2.vpc");
    assert_eq!(vpc.pos, Pos { line: 16, column: 3 });
    assert_eq!(vpc.properties["cidr_block"], Expr::Literal(json!("10.0.0.0/16")));
    assert_eq!(vpc.properties["enable_dns_hostnames"], Expr::Literal(json!(true)));
    assert_eq!(vpc.tags["Name"], Expr::Literal(json!("network-vpc")));
    assert_eq!(
        vpc.timeouts,
        Timeouts { create: Some(Duration::from_secs(600)), update: None, delete: Some(Duration::from_secs(5400)) }
    );

    let a = s.resource("subnet[a]").expect("subnet[a]");
    assert_eq!(a.name, "subnet");
    assert_eq!(a.key.as_deref(), Some("a"));
    assert_eq!(a.properties["vpc_id"], Expr::Ref(reference("vpc", Selector::Single, "id", 27, 15)));
    assert_eq!(a.properties["cidr_block"], Expr::Literal(json!("10.0.1.0/24")));
    assert_eq!(a.properties["availability_zone"], Expr::Literal(json!("us-east-1a")));
    assert_eq!(a.properties["map_public_ip_on_launch"], Expr::Literal(json!(true)));
    assert_eq!(a.tags["Name"], Expr::Literal(json!("network-a")));
    assert_eq!(a.tags["Vpc"], Expr::Ref(reference("vpc", Selector::Single, "id", 31, 48)));
    assert_eq!(a.tags["Literal"], Expr::Literal(json!("${not.a.ref}")));
    let b = s.resource("subnet[b]").expect("subnet[b]");
    assert_eq!(b.properties["cidr_block"], Expr::Literal(json!("10.0.2.0/24")));
    assert_eq!(b.properties["map_public_ip_on_launch"], Expr::Literal(json!(false)));

    let sg = s.resource("sg").expect("sg");
    assert_eq!(sg.depends_on, ["subnet[a]", "subnet[b]"]);
    assert_eq!(
        sg.properties["description"],
        Expr::Template(
            vec![Part::Text("web in ".into()), Part::Ref(reference("vpc", Selector::Single, "id", 37, 28)),]
        )
    );
    assert_eq!(
        sg.properties["ingress"],
        Expr::List(vec![
            Expr::Literal(json!({"protocol": "tcp", "from_port": 443, "to_port": 443, "cidr_blocks": ["0.0.0.0/0"]})),
            Expr::Map(
                [
                    ("protocol".to_string(), Expr::Literal(json!("tcp"))),
                    ("from_port".to_string(), Expr::Literal(json!(22))),
                    ("to_port".to_string(), Expr::Literal(json!(22))),
                    (
                        "source_security_group_id".to_string(),
                        Expr::Ref(reference("subnet", Selector::Key("a".into()), "id", 40, 82)),
                    ),
                ]
                .into_iter()
                .collect()
            ),
        ])
    );

    let nat_b = s.resource("nat[b]").expect("nat[b]");
    assert_eq!(nat_b.depends_on, ["vpc", "subnet[b]"]);
    assert_eq!(nat_b.properties["subnet_id"], Expr::Ref(reference("subnet", Selector::Key("b".into()), "id", 46, 18)));

    let db = s.resource("db").expect("db");
    assert_eq!(db.properties["password"], Expr::Secret(SecretSource::Env("DB_PASSWORD".into())));
    assert_eq!(db.properties["port"], Expr::Literal(json!(5432)));
    assert_eq!(db.properties["subnet_ids"], Expr::Ref(reference("subnet", Selector::All, "id", 52, 19)));
    assert_eq!(db.properties["backup_window"], Expr::Literal(json!("30m")));
    assert_eq!(db.properties["parameters"], Expr::Literal(json!({"max_connections": "100", "label": "prod-5432"})));
    let Expr::Map(policy) = &db.properties["policy"] else { panic!("policy: {:?}", db.properties["policy"]) };
    assert_eq!(policy["Version"], Expr::Literal(json!("2012-10-17")));
    assert!(matches!(&policy["Statement"], Expr::List(items) if items.len() == 1));

    let outputs: Vec<(&str, &Expr)> = s.outputs.iter().map(|o| (o.name.as_str(), &o.value)).collect();
    assert_eq!(outputs[0], ("vpc_id", &Expr::Ref(reference("vpc", Selector::Single, "id", 57, 11))));
    assert_eq!(outputs[1].1, &Expr::Ref(reference("subnet", Selector::All, "id", 58, 15)));
    assert!(matches!(outputs[2].1, Expr::Template(parts) if parts.len() == 3));
    assert_eq!(outputs[3].1, &Expr::Literal(json!(["a", "b"])));
    assert_eq!(outputs[4].1, &Expr::Literal(json!({"a": [1, 2]})));
    assert_eq!(s.outputs[0].pos, Pos { line: 57, column: 3 });

    // The dependencies the engine will see.
    let deps = dependencies(&s, db);
    assert_eq!(deps.into_iter().collect::<Vec<_>>(), ["subnet[a]", "subnet[b]", "vpc"]);
}

#[test]
fn whole_var_keeps_its_type_text_renders_it() {
    let s = ok(concat!(
        "stack: net\nregion: us-east-1\nvars: {port: 80, list: [1, two], on: true, m: {k: v}}\n",
        "resources:\n  db:\n    type: rds.instance\n    properties:\n      password: file:/run/secrets/db\n",
        "      port: ${var.port}\n",
        "      parameters: {b: \"x-${var.list}\", c: \"${var.on}!\", d: \"${var.m}.\", e: \"${var.port}${var.port}\"}\n",
    ));
    let db = s.resource("db").expect("db");
    assert_eq!(db.properties["port"], Expr::Literal(json!(80)));
    assert_eq!(db.properties["password"], Expr::Secret(SecretSource::File("/run/secrets/db".into())));
    assert_eq!(
        db.properties["parameters"],
        Expr::Literal(json!({"b": "x-[1,\"two\"]", "c": "true!", "d": "{\"k\":\"v\"}.", "e": "8080"}))
    );
}

#[test]
fn whole_var_of_wrong_type_is_reported_at_the_expression() {
    let text = "stack: net\nregion: us-east-1\nvars: {port: 80}\nresources:\n  db:\n    type: rds.instance\n    properties:\n      password: env:X\n      parameters: {a: \"${var.port}\"}\n";
    let e = errs(text);
    let d = at(&e, "property 'parameters.a' of rds.instance must be a string, not an integer (80)", 9, 23);
    assert_eq!(hint(d), "quote it: \"80\"");
    assert_eq!(e.0.len(), 1);
}

#[test]
fn var_overrides_from_pairs() {
    let text = "stack: net\nregion: us-east-1\nvars:\n  n: 1\n  l: ~\n  s: x\n  b: false\nresources: {}\n";
    let overrides = VarOverrides {
        files: vec![],
        pairs: vec![
            ("n".into(), "3".into()),
            ("l".into(), "[a, b]".into()),
            ("s".into(), "v2".into()),
            ("b".into(), "true".into()),
            ("n".into(), "4".into()),
        ],
    };
    let s = load_with(text, &overrides).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(s.vars["n"], json!(4));
    assert_eq!(s.vars["l"], json!(["a", "b"]));
    assert_eq!(s.vars["s"], json!("v2"));
    assert_eq!(s.vars["b"], json!(true));
}

#[test]
fn required_var_must_be_given() {
    let text = "stack: net\nregion: us-east-1\nvars:\n  cidr: ~\nresources:\n  vpc:\n    type: ec2.vpc\n    properties: {cidr_block: \"${var.cidr}\"}\n";
    let e = errs(text);
    let d = at(&e, "variable 'cidr' is required", 4, 3);
    assert_eq!(hint(d), "pass --var cidr=VALUE or set it in a --var-file");
    // No knock-on error where it is used.
    assert_eq!(e.0.len(), 1, "{e}");
    let overrides = VarOverrides { files: vec![], pairs: vec![("cidr".into(), "10.0.0.0/16".into())] };
    let s = load_with(text, &overrides).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(s.resources[0].properties["cidr_block"], Expr::Literal(json!("10.0.0.0/16")));
}

#[test]
fn undeclared_var_pair() {
    let text = "stack: net\nregion: us-east-1\nvars: {env: prod, azs: [a]}\n";
    let overrides =
        VarOverrides { files: vec![], pairs: vec![("evn".into(), "dev".into()), ("zz".into(), "1".into())] };
    let e = errs_with(text, &overrides);
    let d = find(&e, "--var evn: the spec declares no variable 'evn'");
    assert_eq!(d.pos, None);
    assert_eq!(d.file, "net.yaml");
    assert_eq!(hint(d), "did you mean 'env'? declared variables: env, azs");
    let d = find(&e, "--var zz");
    assert_eq!(hint(d), "declared variables: env, azs");
    let e = errs_with("stack: net\nregion: us-east-1\n", &overrides);
    assert_eq!(hint(find(&e, "--var zz")), "the spec declares no variables; declare them under vars:");
}

#[test]
fn bad_var_pair_value() {
    let text = "stack: net\nregion: us-east-1\nvars: {x: 1}\n";
    let overrides = VarOverrides { files: vec![], pairs: vec![("x".into(), "[a, b".into())] };
    let e = errs_with(text, &overrides);
    let d = find(&e, "--var x: the value is not valid YAML");
    assert_eq!(d.pos, None);
}

/// A file in a fresh temporary directory.
fn temp_file(name: &str, contents: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("deployctl-spec-test-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join(name);
    std::fs::write(&path, contents).expect("write temp file");
    path
}

#[test]
fn var_files_then_pairs() {
    let text = "stack: net\nregion: us-east-1\nvars:\n  env: prod\n  azs: [a]\n  size: ~\n";
    let f1 = temp_file("one.yaml", "env: staging\nazs: [a, b, c]\nsize: 2\n");
    let f2 = temp_file("two.yaml", "size: 3\n");
    let overrides = VarOverrides {
        files: vec![f1.display().to_string(), f2.display().to_string()],
        pairs: vec![("env".into(), "dev".into())],
    };
    let s = load_with(text, &overrides).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(s.vars["env"], json!("dev"));
    assert_eq!(s.vars["azs"], json!(["a", "b", "c"]));
    assert_eq!(s.vars["size"], json!(3));
}

#[test]
fn var_file_problems_point_into_the_var_file() {
    let text = "stack: net\nregion: us-east-1\nvars:\n  env: prod\n";
    let bad = temp_file("bad.yaml", "env: dev\nenvv: x\n");
    let list = temp_file("list.yaml", "- env\n");
    let syntax = temp_file("syntax.yaml", "env: [dev\n");
    let missing = "/nonexistent/deployctl/vars.yaml".to_string();
    let paths = [bad.display().to_string(), list.display().to_string(), syntax.display().to_string(), missing.clone()];
    let overrides = VarOverrides { files: paths.to_vec(), pairs: vec![] };
    let e = errs_with(text, &overrides);
    let d = find(&e, "declares no variable 'envv'");
    assert_eq!(d.file, paths[0]);
    assert_eq!(d.pos, Some(Pos { line: 2, column: 1 }));
    assert_eq!(hint(d), "did you mean 'env'? declared variables: env");
    let d = find(&e, "a var file must be a mapping");
    assert_eq!((d.file.as_str(), d.pos), (paths[1].as_str(), Some(Pos { line: 1, column: 1 })));
    let d = find(&e, "invalid YAML");
    assert_eq!(d.file, paths[2]);
    assert_eq!(d.pos.map(|p| p.line), Some(2));
    let d = find(&e, "cannot read the var file");
    assert_eq!((d.file.as_str(), d.pos), (missing.as_str(), None));
}

#[test]
fn load_reads_files() {
    let path = temp_file("spec.yaml", GOOD);
    let s = load(&path, &VarOverrides::default(), &REG).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(s.file, path.display().to_string());
    assert_eq!(s.resources.len(), 7);

    let missing = std::path::Path::new("/nonexistent/deployctl/spec.yaml");
    let e = load(missing, &VarOverrides::default(), &REG).expect_err("missing file");
    assert_eq!(e.0.len(), 1);
    assert_eq!(e.0[0].pos, None);
    assert_eq!(e.0[0].file, "/nonexistent/deployctl/spec.yaml");
    assert!(e.0[0].message.starts_with("cannot read the spec"), "{}", e.0[0].message);

    let dir = temp_file("binary.yaml", "").parent().expect("dir").join("binary.yaml");
    std::fs::write(&dir, b"stack: net\nregion: \xff\xfe\n").expect("write");
    let e = load(&dir, &VarOverrides::default(), &REG).expect_err("not utf-8");
    assert_eq!(e.0[0].pos, Some(Pos { line: 2, column: 9 }));
}

// ---- error classes, with exact positions ----

#[test]
fn yaml_syntax_error_is_one_diagnostic() {
    let e = errs("stack: net\nregion: [us-east-1\nresources: {}\n");
    assert_eq!(e.0.len(), 1, "{e}");
    assert_eq!(e.0[0].message, "invalid YAML: illegal placement of ':' indicator");
    assert_eq!(e.0[0].pos, Some(Pos { line: 3, column: 10 }));
}

#[test]
fn duplicate_keys() {
    let e = errs(&format!("{HEAD}  vpc:\n    type: ec2.vpc\n    properties: {{cidr_block: a, cidr_block: b}}\n"));
    let d = at(&e, "duplicate key 'cidr_block'", 6, 33);
    assert_eq!(hint(d), "'cidr_block' is already set on line 6; remove one of them");
}

#[test]
fn stack_and_region() {
    let e = errs("resources: {}\n");
    at(&e, "missing 'stack'", 1, 1);
    at(&e, "missing 'region'", 1, 1);
    let e = errs("stack: Net_1\nregion: US East\n");
    let d = at(&e, "invalid stack name 'Net_1'", 1, 8);
    assert_eq!(hint(d), "use 1 to 64 lowercase letters, digits and '-'");
    at(&e, "invalid region 'US East'", 2, 9);
    let long = "a".repeat(65);
    let e = errs(&format!("stack: {long}\nregion: us-east-1\n"));
    at(&e, "invalid stack name", 1, 8);
    let e = errs("stack: [a]\nregion: {a: 1}\n");
    at(&e, "'stack' must be a name, not a list", 1, 8);
    at(&e, "'region' must be a string, not a mapping", 2, 9);
    let e = errs("stack: net\nregion: ${region}\n");
    at(&e, "the region cannot use '${region}'", 2, 9);
    let s = ok("stack: net\nregion: \"${var.r}\"\nvars: {r: eu-west-3}\n");
    assert_eq!(s.region, "eu-west-3");
}

#[test]
fn the_environment_names_the_instance_and_a_var_file_can_select_it() {
    let s = ok("stack: net\nenvironment: ${var.env}\nregion: us-east-1\nvars: {env: prod}\n");
    let e = s.environment.as_ref().unwrap();
    assert_eq!((e.name.as_str(), e.templated), ("prod", true));
    assert_eq!(s.instance(), "net/prod");
    assert_eq!(ok("stack: net\nregion: us-east-1\n").instance(), "net", "no environment: the stack alone");
    let e = errs("stack: net\nregion: us-east-1\nenvironment: Prod_1\n");
    let d = at(&e, "invalid environment 'Prod_1'", 3, 14);
    assert!(hint(d).contains("lowercase letters"), "{d:?}");
}

#[test]
fn unknown_top_level_key() {
    let e = errs("stack: net\nregion: us-east-1\nresource:\n  vpc: {}\nvariables: {}\nzzz: 1\n");
    let d = at(&e, "unknown top-level key 'resource'", 3, 1);
    assert_eq!(hint(d), "did you mean 'resources'?");
    at(&e, "unknown top-level key 'variables'", 5, 1);
    let d = at(&e, "unknown top-level key 'zzz'", 6, 1);
    assert_eq!(
        hint(d),
        "top-level keys are: stack, environment, region, backend, stacks, data, tags, vars, resources, outputs"
    );
}

#[test]
fn backend_errors() {
    let e = errs("stack: net\nregion: us-east-1\nbackend:\n  s3: {bucket: b, key: k, lock: t}\n");
    let d = at(&e, "unknown key 'lock' in backend.s3", 4, 27);
    assert_eq!(hint(d), "did you mean 'lock_table'?");
    // The misspelt key is not reported again as missing…
    assert_eq!(e.0.len(), 1, "{e}");
    // …but a key that is simply absent is.
    let e = errs("stack: net\nregion: us-east-1\nbackend:\n  s3: {bucket: b, key: k}\n");
    let d = at(&e, "missing 'lock_table' in backend.s3", 4, 3);
    assert_eq!(hint(d), "write backend: {s3: {bucket: B, key: K, lock_table: T}}");
    let e = errs("stack: net\nregion: us-east-1\nbackend:\n  gcs: {}\n");
    at(&e, "unknown backend 'gcs'", 4, 3);
    let s = ok("stack: net\nregion: us-east-1\nbackend:\n  s3: {bucket: \"${stack}-state\", key: k, lock_table: t, region: eu-west-1}\n");
    assert_eq!(
        s.backend,
        Some(BackendSpec::S3 {
            bucket: "net-state".into(),
            key: "k".into(),
            lock_table: "t".into(),
            region: Some("eu-west-1".into())
        })
    );
}

#[test]
fn unknown_resource_type() {
    let e = errs(&format!(
        "{HEAD}  vpc:\n    type: ec2.vcp\n    properties: {{cidr_block: a}}\n  x:\n    type: s3.bucket\n"
    ));
    let d = at(&e, "unknown resource type 'ec2.vcp'", 5, 11);
    assert_eq!(hint(d), "did you mean 'ec2.vpc'?");
    let d = at(&e, "unknown resource type 's3.bucket'", 8, 11);
    assert_eq!(
        hint(d),
        "known types: ec2.nat_gateway, ec2.route, ec2.security_group, ec2.subnet, ec2.vpc, elbv2.listener, rds.instance"
    );
    assert_eq!(e.0.len(), 2, "{e}");
}

#[test]
fn resource_shape_errors() {
    let text = format!(
        "{HEAD}  Vpc:\n    type: ec2.vpc\n    properties: {{cidr_block: a}}\n  var:\n    type: ec2.vpc\n    properties: {{cidr_block: a}}\n  empty:\n  notype:\n    properties: {{}}\n  misplaced:\n    type: ec2.vpc\n    cidr_block: a\n    dependson: [x]\n"
    );
    let e = errs(&text);
    let d = at(&e, "invalid resource name 'Vpc'", 4, 3);
    assert_eq!(hint(d), "start with a lowercase letter, then use lowercase letters, digits and '_'");
    at(&e, "'var' is reserved", 7, 3);
    at(&e, "resource 'empty' must be a mapping with type and properties, not null", 10, 3);
    at(&e, "resource 'notype' has no type", 11, 3);
    let d = at(&e, "unknown key 'cidr_block' in resource 'misplaced'", 15, 5);
    assert_eq!(hint(d), "'cidr_block' is a property: move it under properties:");
    let d = at(&e, "unknown key 'dependson'", 16, 5);
    assert_eq!(hint(d), "did you mean 'depends_on'?");
    at(&e, "missing required property 'cidr_block' for ec2.vpc", 13, 3);
}

#[test]
fn unknown_property_did_you_mean() {
    let e = errs(&format!(
        "{HEAD}  vpc:\n    type: ec2.vpc\n    properties: {{cidr_block: 10.0.0.0/16}}\n  web:\n    type: ec2.subnet\n    properties:\n      vpc_id: ${{vpc.id}}\n      cidr: 10.0.1.0/24\n      zzz: 1\n"
    ));
    let d = at(&e, "unknown property 'cidr' for ec2.subnet", 11, 7);
    assert_eq!(d.message, "unknown property 'cidr' for ec2.subnet");
    assert_eq!(hint(d), "did you mean 'cidr_block'?");
    let d = at(&e, "unknown property 'zzz' for ec2.subnet", 12, 7);
    assert_eq!(hint(d), "ec2.subnet properties: vpc_id, cidr_block, availability_zone, map_public_ip_on_launch");
    // 'cidr' was meant to be cidr_block: it is not reported again as missing.
    assert_eq!(e.0.len(), 2, "{e}");
    // Missing required, reported at the properties key.
    let e = errs(&format!(
        "{HEAD}  vpc:\n    type: ec2.vpc\n    properties: {{cidr_block: 10.0.0.0/16}}\n  web:\n    type: ec2.subnet\n    properties:\n      vpc_id: ${{vpc.id}}\n"
    ));
    let d = at(&e, "missing required property 'cidr_block' for ec2.subnet", 9, 5);
    assert_eq!(hint(d), "cidr_block: The IPv4 CIDR block.");
}

#[test]
fn missing_properties_reported_at_the_resource() {
    let e = errs(&format!("{HEAD}  vpc:\n    type: ec2.vpc\n"));
    at(&e, "missing required property 'cidr_block' for ec2.vpc", 4, 3);
    let e = errs(&format!("{HEAD}  vpc:\n    type: ec2.vpc\n    properties: [a]\n"));
    at(&e, "properties of ec2.vpc must be a mapping, not a list", 6, 17);
}

#[test]
fn wrong_types() {
    let text = format!(
        "{HEAD}  vpc:\n    type: ec2.vpc\n    properties:\n      cidr_block: 16\n      enable_dns_hostnames: \"true\"\n  sg:\n    type: ec2.security_group\n    properties:\n      vpc_id: ${{vpc.id}}\n      description: ~\n      ingress:\n        - protocol: tcp\n          from_port: \"80\"\n          to_port: 80.5\n          cidr_blocks: 0.0.0.0/0\n          protocl: x\n        - {{to_port: \"${{vpc.id}}-x\"}}\n        - tcp\n"
    );
    let e = errs(&text);
    let d = at(&e, "property 'cidr_block' of ec2.vpc must be a string, not an integer (16)", 7, 19);
    assert_eq!(hint(d), "quote it: \"16\"");
    let d = at(&e, "property 'enable_dns_hostnames' of ec2.vpc must be true or false, not a string (\"true\")", 8, 29);
    assert_eq!(hint(d), "remove the quotes: true");
    let d = at(&e, "property 'description' of ec2.security_group must be a string, not null", 13, 20);
    assert_eq!(hint(d), "remove it to leave it unset, or give it a value");
    let d = at(
        &e,
        "property 'ingress[0].from_port' of ec2.security_group must be an integer, not a string (\"80\")",
        16,
        22,
    );
    assert_eq!(hint(d), "remove the quotes: 80");
    at(&e, "property 'ingress[0].to_port' of ec2.security_group must be an integer, not a number (80.5)", 17, 20);
    at(&e, "property 'ingress[0].cidr_blocks' of ec2.security_group must be a list, not a string", 18, 24);
    let d = at(&e, "unknown property 'ingress[0].protocl' for ec2.security_group", 19, 11);
    assert_eq!(hint(d), "did you mean 'protocol'?");
    let d = at(
        &e,
        "property 'ingress[1].to_port' of ec2.security_group must be an integer, not text with references",
        20,
        21,
    );
    assert!(hint(d).starts_with("only a string can mix text and references"));
    at(&e, "missing required property 'ingress[1].protocol' for ec2.security_group", 20, 11);
    at(&e, "property 'ingress[2]' of ec2.security_group must be a mapping, not a string (\"tcp\")", 21, 11);
    assert_eq!(e.0.len(), 10, "{e}");
}

#[test]
fn whole_references_fit_any_type() {
    let s = ok(&format!(
        "{HEAD}  vpc:\n    type: ec2.vpc\n    properties: {{cidr_block: a}}\n  web:\n    type: ec2.subnet\n    properties: {{vpc_id: a, cidr_block: \"${{vpc.arn}}\", map_public_ip_on_launch: \"${{vpc.arn}}\"}}\n  sg:\n    type: ec2.security_group\n    properties:\n      vpc_id: ${{vpc.id}}\n      ingress: ${{vpc.arn}}\n"
    ));
    assert!(matches!(s.resource("sg").expect("sg").properties["ingress"], Expr::Ref(_)));
    assert!(matches!(s.resource("web").expect("web").properties["map_public_ip_on_launch"], Expr::Ref(_)));
}

#[test]
fn duration_and_document_types() {
    let e = errs(&format!(
        "{HEAD}  db:\n    type: rds.instance\n    properties:\n      password: env:P\n      backup_window: 10x\n      port: -1\n      parameters: {{a: 1}}\n"
    ));
    at(&e, "property 'backup_window' of rds.instance must be a duration", 8, 22);
    at(&e, "property 'parameters.a' of rds.instance must be a string, not an integer (1)", 10, 23);
    assert_eq!(e.0.len(), 2, "{e}");
    let s = ok(&format!(
        "{HEAD}  db:\n    type: rds.instance\n    properties:\n      password: env:P\n      backup_window: 90\n      policy: [1, {{a: ~}}, \"${{stack}}\"]\n"
    ));
    let db = s.resource("db").expect("db");
    assert_eq!(db.properties["backup_window"], Expr::Literal(json!(90)));
    assert_eq!(db.properties["policy"], Expr::Literal(json!([1, {"a": null}, "net"])));
}

#[test]
fn secrets() {
    let e = errs(&format!(
        "{HEAD}  a:\n    type: rds.instance\n    properties: {{password: hunter2}}\n  b:\n    type: rds.instance\n    properties: {{password: \"env:1X\"}}\n  c:\n    type: rds.instance\n    properties: {{password: \"file:\"}}\n  d:\n    type: rds.instance\n    properties: {{password: 1234}}\n  e:\n    type: rds.instance\n    properties: {{password: \"${{a.arn}}\"}}\n"
    ));
    let never = |line: usize| {
        let d = e.0.iter().find(|d| d.pos.map(|p| p.line) == Some(line)).unwrap_or_else(|| panic!("line {line}: {e}"));
        assert_eq!(
            d.message,
            "property 'password' of rds.instance is a secret: secrets are never literals; write env:NAME, file:PATH, \
             secretsmanager:NAME_OR_ARN or cognito:POOL_ID/CLIENT_ID"
        );
        assert_eq!(hint(d), "the value is read when the stack is applied and never stored");
        d.pos.map(|p| p.column)
    };
    assert_eq!(never(6), Some(28));
    assert_eq!(never(15), Some(28));
    // A whole reference is reported where the reference is written.
    assert_eq!(never(18), Some(29));
    at(&e, "'env:1X' is not a valid environment variable name", 9, 28);
    at(&e, "'file:' needs a path", 12, 28);
    assert_eq!(e.0.len(), 5, "{e}");
    // A secret is never read at load time: env:NAME need not exist.
    let s = ok(&format!(
        "{HEAD}  a:\n    type: rds.instance\n    properties: {{password: \"env:DEPLOYCTL_SURELY_UNSET_{}\"}}\n",
        std::process::id()
    ));
    assert!(matches!(&s.resources[0].properties["password"], Expr::Secret(SecretSource::Env(_))));
}

#[test]
fn secrets_manager_sources_parse_with_keys_and_references() {
    let s = ok(&format!(
        "{HEAD}  vpc:\n    type: ec2.vpc\n    properties: {{cidr_block: 10.0.0.0/16}}\n  a:\n    type: rds.instance\n    properties: {{password: \"secretsmanager:prod/db\"}}\n  b:\n    type: rds.instance\n    properties: {{password: \"secretsmanager:arn:aws:secretsmanager:us-east-1:1:secret:db-AbC#password\"}}\n  c:\n    type: rds.instance\n    properties: {{password: \"secretsmanager:${{vpc.arn}}#token\"}}\n"
    ));
    let text = |t: &str| vec![Part::Text(t.into())];
    assert_eq!(
        s.resource("a").unwrap().properties["password"],
        Expr::Secret(SecretSource::SecretsManager { id: text("prod/db"), json_key: None })
    );
    assert_eq!(
        s.resource("b").unwrap().properties["password"],
        Expr::Secret(SecretSource::SecretsManager {
            id: text("arn:aws:secretsmanager:us-east-1:1:secret:db-AbC"),
            json_key: Some("password".into())
        })
    );
    let c = s.resource("c").unwrap();
    let Expr::Secret(src @ SecretSource::SecretsManager { id, json_key }) = &c.properties["password"] else {
        panic!("{:?}", c.properties["password"])
    };
    assert!(matches!(id.as_slice(), [Part::Ref(r)] if r.resource == "vpc" && r.attribute == "arn"));
    assert_eq!(json_key.as_deref(), Some("token"));
    assert_eq!(src.to_string(), "secretsmanager:${vpc.arn}#token");
    // The secret's id is a reference: the secret comes first.
    assert_eq!(dependencies(&s, c).into_iter().collect::<Vec<_>>(), ["vpc"]);
}

#[test]
fn a_cognito_client_secret_source_names_the_pool_and_client_and_depends_on_them() {
    let s = ok(&format!(
        "{HEAD}  vpc:\n    type: ec2.vpc\n    properties: {{cidr_block: 10.0.0.0/16}}\n  a:\n    type: rds.instance\n    properties: {{password: \"cognito:us-east-2_Ab12/3n4b5c\"}}\n  b:\n    type: rds.instance\n    properties: {{password: \"cognito:${{vpc.id}}/${{vpc.arn}}\"}}\n"
    ));
    let a = &s.resource("a").unwrap().properties["password"];
    assert_eq!(
        a,
        &Expr::Secret(SecretSource::CognitoClientSecret { id: vec![Part::Text("us-east-2_Ab12/3n4b5c".into())] })
    );
    let b = s.resource("b").unwrap();
    let Expr::Secret(src) = &b.properties["password"] else { panic!("{:?}", b.properties["password"]) };
    assert_eq!(src.to_string(), "cognito:${vpc.id}/${vpc.arn}");
    assert_eq!(dependencies(&s, b).into_iter().collect::<Vec<_>>(), ["vpc"]);
    let e =
        errs(&format!("{HEAD}  a:\n    type: rds.instance\n    properties: {{password: \"cognito:only-a-pool\"}}\n"));
    let d = at(&e, "'cognito:' needs the user pool's id and the client's id, as POOL_ID/CLIENT_ID", 6, 28);
    assert_eq!(hint(d), "write cognito:${POOL.id}/${CLIENT.id}");
}

#[test]
fn secrets_manager_source_errors_name_the_place() {
    let e = errs(&format!(
        "{HEAD}  a:\n    type: rds.instance\n    properties: {{password: \"secretsmanager:\"}}\n  b:\n    type: rds.instance\n    properties: {{password: \"secretsmanager:db#\"}}\n  c:\n    type: rds.instance\n    properties: {{password: \"secretsmanager:my db\"}}\n  d:\n    type: rds.instance\n    properties: {{password: \"secretsmanager:${{nope.arn}}\"}}\n"
    ));
    let d = at(&e, "'secretsmanager:' needs the secret's name or ARN", 6, 28);
    assert!(hint(d).contains("secretsmanager:NAME_OR_ARN#KEY"), "{}", hint(d));
    at(&e, "'#' must be followed by the key", 9, 28);
    at(&e, "has no spaces", 12, 28);
    at(&e, "unknown resource 'nope'", 15, 44);
}

#[test]
fn reference_errors() {
    let text = format!(
        "{HEAD}  vpc:\n    type: ec2.vpc\n    properties: {{cidr_block: a}}\n  nat:\n    type: ec2.nat_gateway\n    for_each: [a, b]\n    properties: {{subnet_id: x}}\n  s:\n    type: ec2.subnet\n    properties:\n      vpc_id: ${{vcp.id}}\n      cidr_block: ${{vpc.idd}}\n      availability_zone: x-${{vpc[a].id}}\n      map_public_ip_on_launch: ${{nat.id}}\n  t:\n    type: ec2.subnet\n    properties:\n      vpc_id: ${{nat[c].id}}\n      cidr_block: \"${{var.nope}} ${{each.key}}\"\n      availability_zone: \"ab ${{vpc.id\"\n"
    );
    let e = errs(&text);
    let d = at(&e, "unknown resource 'vcp' in '${vcp.id}'", 14, 15);
    assert_eq!(hint(d), "did you mean 'vpc'?");
    let d = at(&e, "unknown attribute 'idd' of 'vpc' (ec2.vpc) in '${vpc.idd}'", 15, 19);
    assert_eq!(hint(d), "did you mean 'id'?");
    let d = at(&e, "'vpc' has no for_each, so '${vpc[a].id}' cannot select instances", 16, 28);
    assert_eq!(hint(d), "write ${vpc.id}");
    let d = at(&e, "'nat' has for_each, so '${nat.id}' must pick an instance", 17, 32);
    assert!(hint(d).contains("${nat[*].id}"), "{}", hint(d));
    let d = at(&e, "'nat' has no instance 'c' in '${nat[c].id}'", 21, 15);
    assert_eq!(hint(d), "its keys are: a, b");
    let d = at(&e, "unknown variable 'nope' in '${var.nope}'", 22, 20);
    assert_eq!(hint(d), "declare it under vars:");
    at(&e, "'${each.key}' is only available in a resource with for_each, not in this resource", 22, 32);
    let d = at(&e, "unterminated expression '${vpc.id'", 23, 30);
    assert_eq!(hint(d), "close it with '}', or write '$${' for a literal '${'");
    assert_eq!(e.0.len(), 8, "{e}");
}

#[test]
fn malformed_expressions_are_positioned() {
    let e = errs(&format!(
        "{HEAD}  vpc:\n    type: ec2.vpc\n    properties:\n      cidr_block: \"a ${{}}\"\n  b:\n    type: ec2.vpc\n    properties:\n      cidr_block: x${{a.}}\n  c:\n    type: ec2.vpc\n    properties:\n      cidr_block: \"${{vpc}}\"\n"
    ));
    at(&e, "empty expression '${}'", 7, 22);
    at(&e, "malformed expression '${a.}'", 11, 20);
    let d = at(&e, "incomplete reference '${vpc}'", 15, 20);
    assert_eq!(hint(d), "write ${vpc.id} (or another attribute)");
}

#[test]
fn each_is_only_for_for_each() {
    let e = errs(
        "stack: net\nregion: us-east-1\nvars: {l: [a]}\nresources:\n  n:\n    type: ec2.nat_gateway\n    for_each: [\"${each.key}\"]\n    properties: {subnet_id: x}\noutputs:\n  o: ${each.value}\n",
    );
    at(&e, "'${each.key}' is only available in a resource with for_each, not in for_each", 7, 17);
    at(&e, "'${each.value}' is only available in a resource with for_each, not in outputs", 10, 6);
}

#[test]
fn each_value_fields() {
    let e = errs(
        "stack: net\nregion: us-east-1\nresources:\n  n:\n    type: ec2.nat_gateway\n    for_each: {a: {id: x}, b: y}\n    properties: {subnet_id: \"${each.value.idd}\"}\n",
    );
    let d = at(&e, "'${each.value.idd}': each.value has no field 'idd'", 7, 30);
    assert_eq!(hint(d), "did you mean 'id'?");
    at(&e, "'${each.value.idd}': each.value is a string (\"y\"), not a mapping", 7, 30);
}

#[test]
fn for_each_forms_and_errors() {
    let s = ok(
        "stack: net\nregion: us-east-1\nresources:\n  n:\n    type: ec2.nat_gateway\n    for_each: [1, x.y, a-b]\n    properties: {subnet_id: \"${each.key}/${each.value}\"}\n  m:\n    type: ec2.nat_gateway\n    for_each: {}\n    properties: {subnet_id: \"${each.key}\"}\n",
    );
    let addresses: Vec<&str> = s.resources.iter().map(|r| r.address.as_str()).collect();
    assert_eq!(addresses, ["n[1]", "n[x.y]", "n[a-b]"]);
    assert_eq!(s.resources[0].properties["subnet_id"], Expr::Literal(json!("1/1")));

    let e = errs(
        "stack: net\nregion: us-east-1\nvars: {s: str}\nresources:\n  a:\n    type: ec2.nat_gateway\n    for_each: [x, \"b c\", x, [1]]\n    properties: {subnet_id: x}\n  b:\n    type: ec2.nat_gateway\n    for_each: ${var.s}\n    properties: {subnet_id: x}\n  c:\n    type: ec2.nat_gateway\n    for_each: [\"${a[x].id}\"]\n    properties: {subnet_id: \"${each.value.zz}\"}\n",
    );
    at(&e, "for_each list items must be strings or numbers, not a list", 7, 29);
    let d = at(&e, "for_each must be a list or a mapping, not a string (\"str\")", 11, 15);
    assert!(hint(d).contains("${var.NAME}"));
    let d = at(&e, "for_each cannot reference resources ('${a[x].id}')", 15, 17);
    assert_eq!(hint(d), "it must be known before anything is created; use a variable instead");
    // for_each is validated before the list items' keys only when all items are scalars.
    let e = errs(
        "stack: net\nregion: us-east-1\nresources:\n  a:\n    type: ec2.nat_gateway\n    for_each: [x, \"b c\", x]\n    properties: {subnet_id: x}\n",
    );
    let d = at(&e, "invalid for_each key 'b c'", 6, 19);
    assert_eq!(hint(d), "keys are letters, digits, '_', '.' and '-'");
    at(&e, "duplicate for_each key 'x'", 6, 26);
}

#[test]
fn for_each_from_var_map_keeps_written_order() {
    let s = ok(
        "stack: net\nregion: us-east-1\nvars:\n  m: {zeta: z, alpha: y}\nresources:\n  n:\n    type: ec2.nat_gateway\n    for_each: ${var.m}\n    properties: {subnet_id: \"${each.value}\"}\n",
    );
    let addresses: Vec<&str> = s.resources.iter().map(|r| r.address.as_str()).collect();
    assert_eq!(addresses, ["n[zeta]", "n[alpha]"]);
    // 1 is not a string: a whole ${each.value} keeps its type.
    let e = errs(
        "stack: net\nregion: us-east-1\nvars:\n  m: {zeta: 1}\nresources:\n  n:\n    type: ec2.nat_gateway\n    for_each: ${var.m}\n    properties: {subnet_id: \"${each.value}\"}\n",
    );
    at(&e, "property 'subnet_id' of ec2.nat_gateway must be a string, not an integer (1)", 9, 29);
}

#[test]
fn depends_on_errors() {
    let e = errs(&format!(
        "{HEAD}  vpc:\n    type: ec2.vpc\n    depends_on: [vpc, igw, \"nat[z]\", 3]\n    properties: {{cidr_block: a}}\n  nat:\n    type: ec2.nat_gateway\n    for_each: [a]\n    depends_on: vpc\n    properties: {{subnet_id: x}}\n"
    ));
    let d = at(&e, "resource 'vpc' depends on itself", 6, 18);
    assert_eq!(hint(d), "remove it from depends_on");
    let d = at(&e, "depends_on names an unknown resource 'igw'", 6, 23);
    assert_eq!(hint(d), "resources in this stack: nat, vpc");
    let d = at(&e, "'nat' has no instance 'z'", 6, 28);
    assert_eq!(hint(d), "its keys are: a");
    at(&e, "depends_on entries must be resource names, not an integer", 6, 38);
    at(&e, "'depends_on' must be a list of resource names, not a string", 11, 17);
}

#[test]
fn tags_and_timeouts() {
    let e = errs(&format!(
        "{HEAD}  r:\n    type: ec2.route\n    properties: {{route_table_id: a, destination_cidr_block: b}}\n    tags: {{Name: x}}\n  vpc:\n    type: ec2.vpc\n    properties: {{cidr_block: a}}\n    tags: {{a: [1], b: \"${{r.id}}\"}}\n    timeouts: {{create: 10x, destroy: 1m, delete: 0s, update: \"${{vpc.id}}\"}}\n"
    ));
    let d = at(&e, "ec2.route does not take tags", 7, 5);
    assert_eq!(hint(d), "remove tags:");
    at(&e, "tag 'a' must be a string, not a list", 11, 15);
    at(&e, "unknown attribute 'id' of 'r' (ec2.route)", 11, 24);
    let d = at(&e, "invalid timeout 'create': expected a duration, not a string", 12, 24);
    assert_eq!(hint(d), "write a number and a unit: 30s, 10m, 1h or 1h30m");
    let d = at(&e, "unknown timeout 'destroy'", 12, 29);
    assert_eq!(hint(d), "timeouts are: create, update, delete");
    at(&e, "timeout 'delete' must be longer than 0", 12, 50);
    at(&e, "timeouts cannot reference resources ('${vpc.id}')", 12, 63);
}

#[test]
fn lifecycle_replace_order() {
    let stack = ok(&format!(
        "{HEAD}  vpc:\n    type: ec2.vpc\n    properties: {{cidr_block: a}}\n    lifecycle: {{replace: create_before_destroy}}\n  b:\n    type: ec2.vpc\n    properties: {{cidr_block: b}}\n"
    ));
    assert_eq!(stack.resource("vpc").unwrap().lifecycle.replace, Some(ReplaceOrder::CreateBeforeDestroy));
    assert_eq!(stack.resource("b").unwrap().lifecycle.replace, None, "unset: the planner decides");

    let e = errs(&format!(
        "{HEAD}  vpc:\n    type: ec2.vpc\n    properties: {{cidr_block: a}}\n    lifecycle: {{replace: create_before_destory, create_before_destroy: true}}\n  b:\n    type: ec2.vpc\n    properties: {{cidr_block: b}}\n    lifecycle: [x]\n"
    ));
    let d = at(&e, "invalid lifecycle replace 'create_before_destory'", 7, 26);
    assert_eq!(hint(d), "did you mean 'create_before_destroy'?");
    // Terraform's spelling gets the way to write it here.
    let d = at(&e, "unknown key 'create_before_destroy' in lifecycle", 7, 49);
    assert_eq!(hint(d), "write lifecycle: {replace: create_before_destroy}");
    let d = at(&e, "'lifecycle' must be a mapping, not a list", 11, 16);
    assert_eq!(hint(d), "write lifecycle: {replace: create_before_destroy}");
}

#[test]
fn lifecycle_ignore_changes_names_properties_of_the_kind() {
    let stack = ok(&format!(
        "{HEAD}  vpc:\n    type: ec2.vpc\n    properties: {{cidr_block: a}}\n    lifecycle: {{ignore_changes: [enable_dns_hostnames]}}\n"
    ));
    assert_eq!(stack.resource("vpc").unwrap().lifecycle.ignore_changes, ["enable_dns_hostnames"]);

    let e = errs(&format!(
        "{HEAD}  vpc:\n    type: ec2.vpc\n    properties: {{cidr_block: a}}\n    lifecycle: {{ignore_changes: [enable_dns_hostname, cidr_block]}}\n  b:\n    type: ec2.vpc\n    properties: {{cidr_block: b}}\n    lifecycle: {{ignore_changes: enable_dns_hostnames}}\n"
    ));
    let d = at(&e, "lifecycle ignore_changes names 'enable_dns_hostname', not a property of ec2.vpc", 7, 34);
    assert_eq!(hint(d), "did you mean 'enable_dns_hostnames'?");
    let d = at(&e, "lifecycle ignore_changes must be a list of property names, not a string", 11, 33);
    assert_eq!(hint(d), "write lifecycle: {ignore_changes: [task_definition]}");
}

#[test]
fn dependency_cycle_is_one_diagnostic() {
    let e = errs(&format!(
        "{HEAD}  a:\n    type: ec2.vpc\n    properties: {{cidr_block: \"${{b.id}}\"}}\n  b:\n    type: ec2.vpc\n    properties: {{cidr_block: x}}\n    depends_on: [c]\n  c:\n    type: ec2.vpc\n    properties: {{cidr_block: \"${{a.arn}}-x\"}}\n  d:\n    type: ec2.vpc\n    properties: {{cidr_block: \"${{a.id}}\"}}\n"
    ));
    assert_eq!(e.0.len(), 1, "{e}");
    let d = at(&e, "dependency cycle: a -> b -> c -> a", 4, 3);
    assert_eq!(hint(d), "remove one of these references or depends_on entries");
}

#[test]
fn cycle_starts_at_first_resource_in_file() {
    let e = errs(&format!(
        "{HEAD}  z:\n    type: ec2.vpc\n    properties: {{cidr_block: \"${{y.id}}\"}}\n  y:\n    type: ec2.vpc\n    properties: {{cidr_block: \"${{x.id}}\"}}\n  x:\n    type: ec2.vpc\n    properties: {{cidr_block: \"${{z.id}}\"}}\n"
    ));
    at(&e, "dependency cycle: z -> y -> x -> z", 4, 3);
}

#[test]
fn self_reference_and_instance_cycles() {
    let e = errs(&format!("{HEAD}  a:\n    type: ec2.vpc\n    properties: {{cidr_block: \"${{a.id}}\"}}\n"));
    at(&e, "dependency cycle: a -> a", 4, 3);
    // Every instance references n[b]: only n[b] is in a cycle.
    let e = errs(&format!(
        "{HEAD}  n:\n    type: ec2.nat_gateway\n    for_each: [a, b]\n    properties: {{subnet_id: \"${{n[b].id}}\"}}\n"
    ));
    at(&e, "dependency cycle: n[b] -> n[b]", 4, 3);
    // A splat in a for_each resource over another one's instances.
    let e = errs(&format!(
        "{HEAD}  p:\n    type: ec2.nat_gateway\n    for_each: [a]\n    properties: {{subnet_id: \"${{q[*].id}}\"}}\n  q:\n    type: ec2.nat_gateway\n    for_each: [a]\n    properties: {{subnet_id: \"${{p[each.key].id}}\"}}\n"
    ));
    at(&e, "dependency cycle: p[a] -> q[a] -> p[a]", 4, 3);
}

#[test]
fn outputs_errors() {
    let e = errs(&format!(
        "{HEAD}  vpc:\n    type: ec2.vpc\n    properties: {{cidr_block: a}}\noutputs:\n  9bad: x\n  ok: ${{vpc.nope}}\n"
    ));
    at(&e, "invalid output name '9bad'", 8, 3);
    at(&e, "unknown attribute 'nope' of 'vpc'", 9, 7);
}

#[test]
fn stack_tags_cannot_reference_resources() {
    let e = errs(&format!(
        "stack: net\nregion: us-east-1\ntags: {{a: \"${{vpc.id}}\", b: [1]}}\n{}",
        "resources:\n  vpc:\n    type: ec2.vpc\n    properties: {cidr_block: a}\n"
    ));
    at(&e, "stack tags cannot reference resources ('${vpc.id}')", 3, 12);
    at(&e, "tag 'b' must be a string, not a list", 3, 27);
}

#[test]
fn diagnostics_are_in_file_order_and_deduplicated() {
    let e = errs(&format!(
        "{HEAD}  n:\n    type: ec2.nat_gateway\n    for_each: [a, b, c]\n    properties: {{subnet_id: \"${{nope.id}}\"}}\n  x:\n    type: ec2.vcp\n"
    ));
    assert_eq!(e.0.len(), 2, "{e}");
    assert_eq!(e.0[0].pos, Some(Pos { line: 7, column: 30 }));
    assert_eq!(e.0[1].pos, Some(Pos { line: 9, column: 11 }));
}

#[test]
fn empty_for_each_still_checks_references() {
    let e = errs(&format!(
        "{HEAD}  n:\n    type: ec2.nat_gateway\n    for_each: []\n    properties: {{subnet_id: \"${{nope.id}}-${{each.key}}\", zz: 1}}\n"
    ));
    at(&e, "unknown resource 'nope'", 7, 30);
    at(&e, "unknown property 'zz'", 7, 55);
}

#[test]
fn top_level_shapes() {
    let e = errs("");
    assert_eq!(
        e.to_string(),
        "error: net.yaml:1:1: the spec is empty\n  hint: a spec needs at least 'stack: NAME' and 'region: REGION'"
    );
    let e = errs("- a\n- b\n");
    at(&e, "the spec must be a mapping (stack:, region:, resources:…), not a list", 1, 1);
    let e = errs("just text\n");
    at(&e, "not a string", 1, 1);
    let e = errs("stack: net\nregion: us-east-1\nresources: [a]\n");
    at(&e, "'resources' must be a mapping of names to resources, not a list", 3, 12);
    let e = errs("stack: net\nregion: us-east-1\nvars: [a]\n");
    at(&e, "'vars' must be a mapping", 3, 7);
    let e = errs("stack: net\nregion: us-east-1\n---\nstack: other\n");
    at(&e, "a spec is one YAML document", 3, 1);
    ok("stack: net\nregion: us-east-1\nresources:\noutputs:\n");
}

#[test]
fn yaml_features() {
    // Anchors and aliases, block scalars, quoted keys, comments.
    let s = ok(
        "# comment\nstack: net\nregion: us-east-1\nresources:\n  a:\n    type: ec2.vpc\n    properties: &p {cidr_block: \"10.0.0.0/16\"}\n  \"b\":\n    type: ec2.vpc\n    properties: *p\n    tags:\n      Desc: |\n        two\n        lines\n",
    );
    assert_eq!(s.resources[1].properties["cidr_block"], Expr::Literal(json!("10.0.0.0/16")));
    assert_eq!(s.resources[1].tags["Desc"], Expr::Literal(json!("two\nlines\n")));
    let e = errs("stack: net\nregion: !custom us-east-1\n");
    at(&e, "unsupported YAML tag '!custom'", 2, 17);
    let e = errs("stack: net\nregion: us-east-1\n[a]: 1\n");
    at(&e, "mapping keys must be strings, not a list", 3, 1);
}

#[test]
fn multiline_strings_fall_back_to_the_value_position() {
    let e =
        errs(&format!("{HEAD}  vpc:\n    type: ec2.vpc\n    properties:\n      cidr_block: \"a\\tb ${{nope.id}}\"\n"));
    at(&e, "unknown resource 'nope'", 7, 19);
}

#[test]
fn nasty_inputs_do_not_panic() {
    let mut inputs: Vec<String> = [
        "",
        " ",
        "\n",
        "---",
        "...",
        "~",
        "[]",
        "{}",
        "- a\n- b",
        "stack",
        "stack:",
        "{",
        "}",
        "[",
        "]",
        "\t",
        "a: b: c",
        "\u{0}",
        "\u{feff}",
        "\u{feff}stack: net\nregion: us-east-1\n",
        "${",
        "${}",
        "${a.}",
        "$${",
        "&a [*a]",
        "*unknown",
        "!!binary aGk=",
        "!foo {}",
        "? [a]\n: b",
        "%YAML 1.2\n---\na: 1",
        "%FOO\n---\n",
        "'",
        "\"",
        "\"\\",
        "|",
        ">",
        "- - - - -",
        "? ? ? ?",
        "a: &x 1\nb: *x\nc: *x",
        ":",
        "-",
        "--- |\n  x",
        "a:\n\t- b",
        "key: \"\\uD800\"",
        "stack: net\nregion: us-east-1\nresources: {a: 1}",
        "stack: net\nregion: us-east-1\nresources: {a: {type: 1}}",
        "stack: net\nregion: us-east-1\nresources: {a: {type: ec2.vpc, properties: 1}}",
        "stack: net\nregion: us-east-1\nresources: {a: {type: ec2.vpc, for_each: {}, properties: {}}}",
        "stack: net\nregion: us-east-1\nresources: {a: {type: ec2.vpc, for_each: [[]], properties: {}}}",
        "stack: net\nregion: us-east-1\nresources: {a: {type: ec2.vpc, for_each: \"${var.x}\"}}",
        "stack: net\nregion: us-east-1\nresources: {a: {type: ec2.vpc, depends_on: [\"a[\", \"[x]\", \"\"]}}",
        "stack: net\nregion: us-east-1\noutputs: [1]",
        "stack: net\nregion: us-east-1\noutputs: {o: {a: [\"${a[*].id}\"]}}",
        "stack: net\nregion: us-east-1\ntags: 1\nbackend: 1\nvars: 1\nresources: 1\noutputs: 1",
        "stack: net\nregion: us-east-1\nbackend: {s3: 1}",
        "stack: net\nregion: us-east-1\nbackend: {}",
        "stack: 99999999999999999999999\nregion: 1e400",
        "stack: -1\nregion: .nan",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for body in [
        "${",
        "${}",
        "${a.}",
        "$${",
        "${var.}",
        "${each.value.}",
        "${x[}",
        "${x[].id}",
        "${x[*]}",
        "${x[*].}",
        "${ x . id }",
        "${x[each.key].id}",
        "${each.value..a}",
        "${stack.id}",
        "${region[*].id}",
        "$",
        "$$",
        "}",
        "${${}}",
        "${a}${",
        "env:",
        "file:",
        "${var.x}",
        "${vpc.id}${vpc.id}",
    ] {
        for ty in ["ec2.vpc", "rds.instance", "ec2.security_group"] {
            inputs.push(format!(
                "stack: net\nregion: us-east-1\nvars: {{x: ~}}\nresources:\n  vpc:\n    type: {ty}\n    for_each: [\"{body}\"]\n    properties: {{cidr_block: \"{body}\", password: \"{body}\", ingress: [\"{body}\", {{protocol: \"{body}\"}}]}}\n    tags: {{a: \"{body}\"}}\n    timeouts: {{create: \"{body}\"}}\noutputs: {{o: \"{body}\"}}\n"
            ));
        }
    }
    inputs.push("[".repeat(10_000));
    inputs.push("- ".repeat(100_000) + "x");
    inputs.push("a:\n".to_string() + &" ".repeat(5000) + "b: 1");
    inputs.push("{a: ".repeat(200) + &"}".repeat(200));
    inputs.push("x: ".to_string() + &"${".repeat(10_000));
    // Binary garbage from a fixed pseudo-random sequence.
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for _ in 0..50 {
        let bytes: Vec<u8> = (0..200).map(|_| (next() & 0xff) as u8).collect();
        inputs.push(String::from_utf8_lossy(&bytes).into_owned());
    }
    // Random mutations of a good spec.
    let good: Vec<char> = GOOD.chars().collect();
    let alphabet: Vec<char> = "${}[]:-#&*!|>\"' \n\tab.".chars().collect();
    for _ in 0..400 {
        let mut s = good.clone();
        for _ in 0..(next() % 6 + 1) {
            let at = (next() as usize) % s.len().max(1);
            match next() % 3 {
                0 if !s.is_empty() => {
                    s.remove(at);
                }
                1 => s.insert(at, alphabet[(next() as usize) % alphabet.len()]),
                _ => {
                    let len = s.len();
                    s.swap(at, (next() as usize) % len.max(1));
                }
            }
        }
        inputs.push(s.into_iter().collect());
    }
    let overrides = VarOverrides { files: vec![], pairs: vec![("x".into(), "${".into())] };
    for input in &inputs {
        for o in [&VarOverrides::default(), &overrides] {
            if let Err(e) = load_with(input, o) {
                assert!(!e.0.is_empty());
                let _ = e.to_string();
            }
        }
    }
}

#[test]
fn var_pair_values_can_be_anything_yaml() {
    for bad in ["${", "[", "{a", "'", "a: b: c", "- - x\n", "\u{0}"] {
        let overrides = VarOverrides { files: vec![], pairs: vec![("x".into(), bad.into())] };
        let _ = load_with("stack: net\nregion: us-east-1\nvars: {x: 1}\n", &overrides);
    }
}

// ---- rendered diagnostics ----

#[test]
fn snapshot_bad_network() {
    let text = r#"stack: network
region: us-east-1
vars:
  azs: [a, b]
resources:
  vpc:
    type: ec2.vpc
    properties:
      cidr: 10.0.0.0/16
  subnet:
    type: ec2.subnet
    for_each: ${var.azs}
    properties:
      vpc_id: ${vpc.idd}
      cidr_block: 10.0.${each.key}.0/24
      availability_zone: ${region}${each.key}
      map_public_ip_on_launch: "yes"
  web:
    type: ec2.security_grop
    properties: {}
  nat:
    type: ec2.nat_gateway
    properties:
      subnet_id: ${subnet.id}
outputs:
  ids: ${subnet[c].id}
"#;
    insta::assert_snapshot!("bad_network", errs(text).to_string());
}

#[test]
fn snapshot_cycle() {
    let text = r#"stack: loop
region: us-east-1
resources:
  vpc:
    type: ec2.vpc
    properties:
      cidr_block: ${sg.id}
  sg:
    type: ec2.security_group
    depends_on: [vpc]
    properties:
      vpc_id: ${vpc.id}
"#;
    insta::assert_snapshot!("cycle", errs(text).to_string());
}

#[test]
fn snapshot_top_level() {
    let text = r#"stak: net
regin: us-east-1
vars:
  size: ~
resources:
  db:
    type: rds.instance
    properties:
      password: hunter2
      port: "5432"
      backup_window: soon
"#;
    let overrides = VarOverrides { files: vec![], pairs: vec![("sise".into(), "3".into())] };
    insta::assert_snapshot!("top_level", errs_with(text, &overrides).to_string());
}

#[test]
fn snapshot_yaml_syntax() {
    let text = "stack: net\nregion: us-east-1\nresources:\n  vpc:\n    type: ec2.vpc\n   properties: {}\n";
    insta::assert_snapshot!("yaml_syntax", errs(text).to_string());
}

#[test]
fn crlf_line_endings() {
    let s = ok(&GOOD.replace('\n', "\r\n"));
    assert_eq!(s, Stack { file: "net.yaml".into(), ..ok(GOOD) });
    let e = errs(&format!("{HEAD}  vpc:\n    type: ec2.vpc\n    properties: {{cidr: a}}\n").replace('\n', "\r\n"));
    at(&e, "unknown property 'cidr' for ec2.vpc", 6, 18);
}

#[test]
fn an_unquoted_reference_in_a_flow_mapping_gets_a_quoting_hint() {
    let e = errs(&format!(
        "{HEAD}  vpc:\n    type: ec2.vpc\n    properties: {{cidr_block: 10.0.0.0/16}}\n  sub:\n    type: ec2.subnet\n    properties: {{vpc_id: ${{vpc.id}}, cidr_block: 10.0.1.0/24}}\n"
    ));
    assert_eq!(e.0.len(), 1, "{e}");
    assert!(e.0[0].message.starts_with("invalid YAML"), "{e}");
    assert!(hint(&e.0[0]).contains("quote a reference"), "{e}");
}

#[test]
fn an_instance_can_be_selected_by_a_field_of_each_value() {
    // Dev shares one NAT between zones: each zone names the NAT it uses.
    let text = format!(
        "{HEAD}  vpc:\n    type: ec2.vpc\n    properties: {{cidr_block: 10.0.0.0/16}}\n  pub:\n    type: ec2.subnet\n    for_each: [a]\n    properties: {{vpc_id: \"${{vpc.id}}\", cidr_block: 10.0.1.0/24}}\n  nat:\n    type: ec2.nat_gateway\n    for_each: [a]\n    properties: {{subnet_id: \"${{pub[each.key].id}}\"}}\n  priv:\n    type: ec2.subnet\n    for_each: {{a: {{nat: a}}, b: {{nat: a}}}}\n    properties:\n      vpc_id: ${{nat[each.value.nat].id}}\n      cidr_block: 10.0.2.0/24\n"
    );
    let s = load_str("t.yaml", &text, &VarOverrides::default(), &REG).unwrap_or_else(|e| panic!("{e}"));
    let b = s.resource("priv[b]").unwrap();
    match &b.properties["vpc_id"] {
        Expr::Ref(r) => assert_eq!(r.selector, Selector::Key("a".into())),
        other => panic!("{other:?}"),
    }
    let bad = text.replace("b: {nat: a}", "b: {nat: z}");
    let e = load_str("t.yaml", &bad, &VarOverrides::default(), &REG).unwrap_err();
    assert!(e.to_string().contains("'z'"), "{e}");
}

const READS_NETWORK: &str = "stack: app\nregion: us-east-1\nstacks:\n  network: {state: state/network.json}\nresources:\n  subnet:\n    type: ec2.subnet\n    properties:\n      vpc_id: ${stack.network.outputs.vpc_id}\n      cidr_block: 10.0.1.0/24\n";

#[test]
fn another_stacks_output_is_unknown_offline_and_its_value_once_read() {
    let offline = ok(READS_NETWORK);
    assert_eq!(offline.remote_stacks[0].source, RemoteSource::Local { path: "state/network.json".into() });
    // Offline the value is unknown: null, which nothing plans with (the
    // planning commands load again with the outputs read).
    assert_eq!(offline.resources[0].properties["vpc_id"], Expr::Literal(serde_json::Value::Null));
    let outputs = Lookups::Read(LookedUp {
        stacks: [("network".to_string(), [("vpc_id".to_string(), json!("vpc-1"))].into())].into(),
        data: Default::default(),
    });
    let read = load_str_with("net.yaml", READS_NETWORK, &VarOverrides::default(), &REG, &outputs).unwrap();
    assert_eq!(read.resources[0].properties["vpc_id"], Expr::Literal(json!("vpc-1")));
    // A value of the wrong type is refused like a literal.
    let outputs = Lookups::Read(LookedUp {
        stacks: [("network".to_string(), [("vpc_id".to_string(), json!(["a"]))].into())].into(),
        data: Default::default(),
    });
    let e = load_str_with("net.yaml", READS_NETWORK, &VarOverrides::default(), &REG, &outputs).unwrap_err();
    at(&e, "vpc_id", 9, 15);
}

#[test]
fn an_undeclared_or_malformed_stack_reference_names_the_fix() {
    let e = errs(&READS_NETWORK.replace("stack.network.outputs", "stack.netwrk.outputs"));
    let d = at(&e, "reads stack 'netwrk', which is not under stacks:", 9, 15);
    assert_eq!(hint(d), "did you mean 'network'?");
    let e = errs(&READS_NETWORK.replace("${stack.network.outputs.vpc_id}", "${stack.network.vpc_id}"));
    let d = at(&e, "malformed expression '${stack.network.vpc_id}'", 9, 15);
    assert!(hint(d).contains("${var.NAME}") || !hint(d).is_empty(), "{d:?}");
    let e = errs(&READS_NETWORK.replace("{state: state/network.json}", "{path: x}"));
    at(&e, "stack 'network' needs one of state: or s3:", 4, 3);
}

#[test]
fn a_data_source_needs_a_kind_and_one_of_id_tags_or_name_and_a_resource_named_data_stays_one() {
    let e = errs("stack: s\nregion: us-east-1\ndata:\n  a: {type: ec2.vpc}\n  b: {type: ec2.vpc, id: vpc-1, tags: {Name: x}}\n  c: {id: vpc-1}\n");
    at(&e, "data source 'a' needs exactly one of id:, tags: or name:", 4, 3);
    at(&e, "data source 'b' needs exactly one of id:, tags: or name:", 5, 3);
    at(&e, "data source 'c' has no type", 6, 3);
    let e = errs("stack: s\nregion: us-east-1\nresources:\n  subnet:\n    type: ec2.subnet\n    properties:\n      vpc_id: ${data.shard.id}\n      cidr_block: 10.0.1.0/24\ndata:\n  shared: {type: ec2.vpc, id: vpc-1}\n");
    let d = at(&e, "reads data 'shard', which is not under data:", 7, 15);
    assert_eq!(hint(d), "did you mean 'shared'?");
    // `${data.id}` is still an attribute of a resource named data.
    let s = ok("stack: s\nregion: us-east-1\nresources:\n  data:\n    type: ec2.vpc\n    properties: {cidr_block: 10.0.0.0/16}\n  subnet:\n    type: ec2.subnet\n    properties:\n      vpc_id: ${data.id}\n      cidr_block: 10.0.1.0/24\n");
    assert!(matches!(&s.resources[1].properties["vpc_id"], Expr::Ref(r) if r.resource == "data"));
}

/// Guards validate on a stack whose values come from lookups: offline a
/// `${data.…}` value is not known, and a rule must not take it for unset
/// (an HTTPS listener's certificate from a data lookup was refused).
#[test]
fn a_rule_does_not_take_a_lookups_value_for_unset_offline() {
    let with = |certificate: &str| {
        format!(
            "stack: s\nregion: us-east-1\ndata:\n  cert: {{type: ec2.vpc, id: vpc-1}}\nresources:\n  https:\n    \
             type: elbv2.listener\n    properties:\n      protocol: HTTPS\n{certificate}"
        )
    };
    ok(&with("      certificate_arn: ${data.cert.arn}\n"));
    let e = errs(&with(""));
    find(&e, "HTTPS needs certificate_arn");
}
