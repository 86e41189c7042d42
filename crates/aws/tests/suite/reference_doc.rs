//! docs/reference.md is generated from the schemas; this keeps it current.

#[test]
fn the_committed_reference_matches_the_schemas() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/reference.md");
    let want = deployctl_aws::reference::markdown(&deployctl_aws::schemas());
    if std::env::var_os("UPDATE_REFERENCE").is_some() {
        std::fs::write(&path, &want).unwrap();
        return;
    }
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        have == want,
        "docs/reference.md is out of date: run `UPDATE_REFERENCE=1 cargo test -p deployctl-aws --test suite reference_doc::`"
    );
}

#[test]
fn every_kind_documents_every_property_and_attribute() {
    for k in deployctl_aws::schemas() {
        assert!(!k.doc.is_empty(), "{} has no doc", k.type_name);
        assert!(!k.example.is_empty(), "{} has no example", k.type_name);
        assert!(k.attributes.iter().any(|a| a.name == "id"), "{} has no id attribute", k.type_name);
        for p in k.properties {
            assert!(!p.doc.is_empty(), "{}.{} has no doc", k.type_name, p.name);
        }
    }
}

#[test]
fn every_example_is_a_valid_resource() {
    for k in deployctl_aws::schemas() {
        // Examples reference neighbours (${vpc.id}); declare stand-ins for any
        // resource name they use so only the example itself is checked.
        let mut text = String::from("stack: example\nregion: us-east-1\nresources:\n");
        for line in k.example.lines() {
            text.push_str("  ");
            text.push_str(line);
            text.push('\n');
        }
        // Each name with the attributes read of it.
        let mut refs: std::collections::BTreeMap<String, Vec<String>> = Default::default();
        for r in k.example.split("${").skip(1).filter_map(|s| s.split('}').next()) {
            let name = r.split(['.', '[']).next().unwrap_or_default().to_string();
            let attribute = r.rsplit('.').next().unwrap_or_default().to_string();
            if !["var", "each", "stack", "region"].contains(&name.as_str()) {
                refs.entry(name).or_default().push(attribute);
            }
        }
        let own = k.example.lines().next().unwrap_or_default().trim_end_matches(':').to_string();
        for (r, attributes) in refs.into_iter().filter(|(r, _)| *r != own) {
            // A VPC where it has the attributes, else the example of a kind
            // that has them and references nothing itself.
            let has = |s: &deployctl_spec::KindSchema| attributes.iter().all(|a| s.attribute(a).is_some());
            let vpc = deployctl_aws::schemas().into_iter().find(|s| s.type_name == "ec2.vpc").unwrap();
            if has(vpc) {
                text.push_str(&format!("  {r}:\n    type: ec2.vpc\n    properties: {{cidr_block: 10.9.0.0/16}}\n"));
                continue;
            }
            let other = deployctl_aws::schemas().into_iter().find(|s| has(s));
            let other = other.unwrap_or_else(|| panic!("{}: no stand-in kind has {r}'s {attributes:?}", k.type_name));
            let mut lines = other.example.lines();
            lines.next();
            text.push_str(&format!("  {r}:\n"));
            for line in lines {
                // Its own references as text: only this example is checked.
                let mut line = line.to_string();
                while let Some(start) = line.find("${") {
                    let end = line[start..].find('}').map_or(line.len(), |e| start + e + 1);
                    line.replace_range(start..end, "stand-in");
                }
                text.push_str(&format!("  {line}\n"));
            }
        }
        let reg = deployctl_aws::schemas();
        if let Err(d) = deployctl_spec::load_str("example.yaml", &text, &Default::default(), &reg) {
            panic!("the example of {} is not valid:\n{d}\n---\n{text}", k.type_name);
        }
    }
}
