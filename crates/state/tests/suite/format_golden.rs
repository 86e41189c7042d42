//! Golden files of the state format: parsing and re-serializing them must give
//! the same bytes, so the format cannot drift unnoticed.

use deployctl_state::{from_json, to_json, PendingOp, StateError, FORMAT_VERSION};
use std::path::PathBuf;

fn golden(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn assert_round_trips(name: &str) {
    let text = golden(name);
    let state = from_json(name, &text).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(state.format_version, FORMAT_VERSION);
    let again = to_json(&state);
    assert!(again == text, "{name} does not round-trip; serialized:\n{again}");
}

#[test]
fn v4_full_round_trips_byte_for_byte() {
    assert_round_trips("v4_full.json");
    let state = from_json("v4_full.json", &golden("v4_full.json")).unwrap();
    assert_eq!(state.environment.as_deref(), Some("prod"));
    assert_eq!(state.instance(), "network/prod");
    // An intent written before its call was sent has no `started_at`.
    let old = state.resources["old_subnet"].pending.as_ref().unwrap();
    assert_eq!((old.op, old.started_at.as_deref()), (PendingOp::Delete, None));
    // A create-before-destroy in the middle: the new NAT's create is
    // pending, the old one is deposed, to be deleted after.
    let nat = &state.resources["nat[a]"];
    assert_eq!(nat.id, None);
    assert_eq!(nat.deposed.len(), 1);
    assert_eq!(nat.deposed[0].id, "nat-0fedcba9876543210");
    assert_eq!(nat.deposed[0].dependencies, ["eip[a]", "old_subnet"]);
    // The tags last applied, to tell drift from configuration.
    assert_eq!(state.resources["vpc"].tags["deployctl:stack"], "network/prod");
}

#[test]
fn v4_minimal_round_trips_byte_for_byte() {
    assert_round_trips("v4_minimal.json");
}

/// Version 3 has every field of version 4 but `deposed`: migrating it is
/// stamping version 4.
#[test]
fn v3_migrates_to_v4_byte_for_byte() {
    let state = from_json("v3_full.json", &golden("v3_full.json")).unwrap();
    assert_eq!(state.format_version, 4);
    let migrated = to_json(&state);
    assert!(migrated == golden("v3_full.migrated.json"), "v3 migrates to:\n{migrated}");
    let minimal = from_json("v3_minimal.json", &golden("v3_minimal.json")).unwrap();
    assert!(to_json(&minimal) == golden("v4_minimal.json"));
}

#[test]
fn a_v3_state_with_recorded_tags_is_refused() {
    // v4_full with its deposed NAT cut out: only the vpc's tags are new.
    let only_tags = golden("v4_full.json").replace("\"format_version\": 4", "\"format_version\": 3");
    let without_deposed = only_tags.replace(
        &only_tags
            [only_tags.find(",\n      \"deposed\"").unwrap()..only_tags.find("\n    },\n    \"old_subnet\"").unwrap()],
        "",
    );
    match from_json("x", &without_deposed) {
        Err(StateError::Corrupt { message, .. }) => assert!(message.contains("records no 'tags'"), "{message}"),
        other => panic!("expected Corrupt, got {other:?}"),
    }
}

#[test]
fn a_v3_state_with_deposed_objects_is_refused() {
    let text = golden("v4_full.json").replace("\"format_version\": 4", "\"format_version\": 3");
    match from_json("x", &text) {
        Err(StateError::Corrupt { message, .. }) => assert!(message.contains("deposed"), "{message}"),
        other => panic!("expected Corrupt, got {other:?}"),
    }
}

/// Version 1 (before environments) reads with no environment, and is
/// written back as the current version: the golden file of the migration.
#[test]
fn v1_migrates_to_v4_byte_for_byte() {
    let state = from_json("v1_full.json", &golden("v1_full.json")).unwrap();
    assert_eq!(state.format_version, 4);
    assert_eq!(state.environment, None, "a v1 state records no environment");
    assert_eq!(state.instance(), "network");
    let migrated = to_json(&state);
    assert!(migrated == golden("v1_full.migrated.json"), "v1 migrates to:\n{migrated}");
    let minimal = from_json("v1_minimal.json", &golden("v1_minimal.json")).unwrap();
    assert!(to_json(&minimal) == golden("v4_minimal.json"));
}

/// Version 2 has every field of version 4 but `deposed`, and a
/// `started_at` on every pending operation: migrating it is stamping
/// version 4.
#[test]
fn v2_migrates_to_v4_byte_for_byte() {
    let state = from_json("v2_full.json", &golden("v2_full.json")).unwrap();
    assert_eq!(state.format_version, 4);
    let migrated = to_json(&state);
    assert!(migrated == golden("v2_full.migrated.json"), "v2 migrates to:\n{migrated}");
    let minimal = from_json("v2_minimal.json", &golden("v2_minimal.json")).unwrap();
    assert!(to_json(&minimal) == golden("v4_minimal.json"));
}

#[test]
fn a_v2_pending_operation_without_started_at_is_refused() {
    let text = golden("v3_full.json").replace("\"format_version\": 3", "\"format_version\": 2");
    match from_json("x", &text) {
        Err(StateError::Corrupt { message, .. }) => assert!(message.contains("started_at"), "{message}"),
        other => panic!("expected Corrupt, got {other:?}"),
    }
}

#[test]
fn a_v1_state_naming_an_environment_is_refused() {
    let text = golden("v2_full.json").replace("\"format_version\": 2", "\"format_version\": 1");
    assert!(matches!(from_json("x", &text), Err(StateError::Corrupt { .. })));
}

#[test]
fn v1_full_decodes_every_kind_of_resource() {
    let state = from_json("v1_full.json", &golden("v1_full.json")).unwrap();
    assert_eq!(state.serial, 42);
    assert_eq!(state.stack, "network");

    let vpc = &state.resources["vpc"];
    assert_eq!(vpc.id.as_deref(), Some("vpc-0123456789abcdef0"));
    assert!(vpc.pending.is_none());
    assert_eq!(vpc.generation, 2);
    assert!(vpc.dependencies.is_empty());

    let nat = &state.resources["nat[a]"];
    assert_eq!(nat.id, None, "a create that was started but not recorded has no id");
    let pending = nat.pending.as_ref().unwrap();
    assert_eq!(pending.op, PendingOp::Create);
    assert_eq!(pending.token.as_deref(), Some("6f1c2f4e-nat[a]-1"));
    assert_eq!(nat.dependencies, ["eip[a]", "subnet[a]"]);

    let old = &state.resources["old_subnet"];
    let pending = old.pending.as_ref().unwrap();
    assert_eq!(pending.op, PendingOp::Delete);
    assert_eq!(pending.token, None);

    assert_eq!(state.outputs["subnet_count"], serde_json::json!(3));
}

#[test]
fn optional_fields_may_be_left_out() {
    let text = r#"{"format_version": 1, "lineage": "l", "serial": 3, "stack": "s", "region": "r",
                   "resources": {"a": {"type": "aws_vpc"}}}"#;
    let state = from_json("sparse", text).unwrap();
    let a = &state.resources["a"];
    assert_eq!((a.id.as_ref(), a.generation, a.pending.as_ref()), (None, 0, None));
    assert!(state.outputs.is_empty());
    // Its canonical form is stable.
    let canonical = to_json(&state);
    assert_eq!(to_json(&from_json("sparse", &canonical).unwrap()), canonical);
}

fn assert_rejected(text: &str, needle: &str) {
    match from_json("state/network.json", text) {
        Err(err @ StateError::Corrupt { .. }) => {
            let msg = err.to_string();
            assert!(msg.contains(needle), "expected '{needle}' in: {msg}");
            assert!(msg.contains("state/network.json"), "{msg}");
            assert!(msg.contains(" line ") && msg.contains(" column "), "no position in: {msg}");
        }
        other => panic!("expected Corrupt containing '{needle}', got {other:?}"),
    }
}

#[test]
fn unknown_top_level_field_is_rejected() {
    let text = golden("v1_minimal.json").replace("\"serial\": 0,", "\"serial\": 0,\n  \"seriall\": 1,");
    assert_rejected(&text, "unknown field `seriall`");
}

#[test]
fn unknown_resource_field_is_rejected() {
    let text = golden("v1_full.json").replace("\"generation\": 2", "\"generation\": 2,\n      \"tainted\": true");
    assert_rejected(&text, "unknown field `tainted`");
}

#[test]
fn unknown_pending_field_and_op_are_rejected() {
    let full = golden("v1_full.json");
    let text = full.replace("\"op\": \"delete\",", "\"op\": \"delete\",\n        \"attempts\": 2,");
    assert_rejected(&text, "unknown field `attempts`");
    let text = full.replace("\"op\": \"delete\"", "\"op\": \"replace\"");
    assert_rejected(&text, "unknown variant `replace`");
}

#[test]
fn newer_format_is_refused_not_called_corrupt() {
    let text = golden("v1_full.json").replace("\"format_version\": 1,", "\"format_version\": 5,\n  \"new_thing\": {},");
    let err = from_json("state/network.json", &text).unwrap_err();
    assert!(matches!(err, StateError::TooNew { found: 5, supported: 4 }), "{err}");
    assert!(err.to_string().contains("upgrade deployctl"), "{err}");
}

#[test]
fn truncated_file_is_corrupt_with_position() {
    let full = golden("v1_full.json");
    assert_rejected(&full[..full.len() / 2], "EOF while parsing");
}
