//! The built plugin binary. Being an integration test of this package also
//! makes `cargo test --workspace` build the binary before any test runs, which
//! the engine harness in `tests/` launches.

use std::process::Command;

#[test]
fn schema_flag_prints_the_checked_in_schema() {
    let out = Command::new(env!("CARGO_BIN_EXE_pulumi-resource-imageautomation"))
        .arg("--schema")
        .output()
        .expect("the plugin runs");
    assert!(out.status.success());
    let stored = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../schema.json"))
        .expect("schema.json is checked in");
    assert_eq!(String::from_utf8_lossy(&out.stdout), stored);
}
