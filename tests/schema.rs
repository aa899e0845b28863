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

/// Every place of a schema definition that shows a description in GraphiQL
/// and lacks one, named as `Type`, `Type.field`, `Type.field(argument)`,
/// `Input.field` or `Enum.VALUE`.
fn undescribed(sdl: &str) -> Vec<String> {
    use async_graphql::parser::types::{TypeKind, TypeSystemDefinition};
    use async_graphql::parser::Positioned;

    fn blank(description: &Option<Positioned<String>>) -> bool {
        description
            .as_ref()
            .is_none_or(|d| d.node.trim().is_empty())
    }

    let document = async_graphql::parser::parse_schema(sdl).expect("the exported SDL parses");
    let mut missing = Vec::new();
    for definition in &document.definitions {
        // The directives are the engine's built-in @include and @skip, and
        // the `schema { ... }` block has nothing to describe: neither is ours.
        let TypeSystemDefinition::Type(ty) = definition else {
            continue;
        };
        let ty = &ty.node;
        let name = ty.name.node.as_str();
        if blank(&ty.description) {
            missing.push(name.to_owned());
        }
        let fields = match &ty.kind {
            TypeKind::Object(object) => &object.fields,
            TypeKind::Interface(interface) => &interface.fields,
            TypeKind::Enum(enumeration) => {
                for value in &enumeration.values {
                    if blank(&value.node.description) {
                        missing.push(format!("{name}.{}", value.node.value.node));
                    }
                }
                continue;
            }
            TypeKind::InputObject(input) => {
                for field in &input.fields {
                    if blank(&field.node.description) {
                        missing.push(format!("{name}.{}", field.node.name.node));
                    }
                }
                continue;
            }
            TypeKind::Scalar | TypeKind::Union(_) => continue,
        };
        for field in fields {
            let field_name = &field.node.name.node;
            if blank(&field.node.description) {
                missing.push(format!("{name}.{field_name}"));
            }
            for argument in &field.node.arguments {
                if blank(&argument.node.description) {
                    missing.push(format!("{name}.{field_name}({})", argument.node.name.node));
                }
            }
        }
    }
    missing
}

#[test]
fn every_type_field_argument_and_enum_value_of_the_schema_has_a_description() {
    let missing = undescribed(&clientela::graphql::sdl());
    assert!(
        missing.is_empty(),
        "{} places of the GraphQL schema have no description for GraphiQL:\n  {}\n\
         Write a `///` doc comment on the type, field, input field or enum variant (on the \
         `impl` block for an `#[Object]` type), or `#[graphql(desc = \"...\")]` on an argument; \
         then {REGENERATE}.",
        missing.len(),
        missing.join("\n  ")
    );
}

#[test]
fn the_description_check_names_what_lacks_one() {
    let sdl = r#"
        "A described type."
        type Described {
            "A described field."
            field("A described argument." arg: Int, bare: Int): Int
            naked: Int
        }
        type Bare { "Described." field: Int }
        "Described." enum Kind { "Described." ONE TWO }
        "Described." input Filter { "Described." one: Int two: Int }
        "Described." scalar Stamp
        scalar Plain
    "#;
    assert_eq!(
        undescribed(sdl),
        [
            "Described.field(bare)",
            "Described.naked",
            "Bare",
            "Kind.TWO",
            "Filter.two",
            "Plain",
        ]
    );
}
