//! The exported GraphQL schema: the committed `schema.graphql` is exactly
//! what the code serves, and it covers every item of the contract
//! (`../shared/contract/schema.graphql`).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

const REGENERATE: &str = "run `cargo run -- schema > schema.graphql` and commit the result";

fn manifest_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn committed_schema_matches_the_code_byte_for_byte() {
    common::assert_committed("schema.graphql", &clientela::graphql::sdl(), REGENERATE);
}

/// Skips a check outside CI, fails it in CI.
fn skip_or_fail(why: &str) {
    assert!(
        !common::in_ci(),
        "contract coverage could not be checked in CI: {why}"
    );
    eprintln!("SKIPPED contract coverage check: {why}");
}

/// The contract's coverage tool: `shared/tools/contract-coverage` in the
/// checkout's parent folder or any folder above it (a clone beside
/// `shared/`, or a worktree one level deeper).
fn contract_coverage() -> Option<PathBuf> {
    manifest_dir()
        .ancestors()
        .skip(1)
        .map(|dir| dir.join("shared/tools/contract-coverage"))
        .find(|tool| tool.is_file())
}

#[test]
fn exported_schema_covers_every_item_of_the_contract() {
    let Some(tool) = contract_coverage() else {
        skip_or_fail(&format!(
            "no shared/tools/contract-coverage beside {} or any folder above it",
            manifest_dir().display()
        ));
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let sdl = dir.path().join("schema.graphql");
    std::fs::write(&sdl, clientela::graphql::sdl()).expect("write the exported SDL");
    let output = match Command::new(&tool).arg(&sdl).output() {
        Ok(output) => output,
        Err(e) => {
            skip_or_fail(&format!("cannot run {}: {e}", tool.display()));
            return;
        }
    };
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.lines().any(|l| l.starts_with("contract coverage:")),
        "contract-coverage did not report (status {}):\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let missing: Vec<&str> = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("missing: "))
        .collect();
    assert!(
        missing.is_empty(),
        "the exported schema lacks contract items (or types them differently):\n  {}\n\
         Fix the code, then {REGENERATE}.",
        missing.join("\n  ")
    );
}
