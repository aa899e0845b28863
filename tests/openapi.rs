//! The OpenAPI document of `/api/v2`: the committed `openapi.json` is
//! exactly what the code serves (like `schema.graphql` for GraphQL).

use std::path::Path;

const REGENERATE: &str = "run `cargo run -- openapi > openapi.json` and commit the result";

#[test]
fn committed_openapi_document_matches_the_code_byte_for_byte() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("openapi.json");
    let committed = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}; {REGENERATE}", path.display()));
    let exported = clientela::rest::openapi::document();
    if committed != exported {
        let first_difference = committed
            .lines()
            .zip(exported.lines())
            .enumerate()
            .find(|(_, (c, e))| c != e)
            .map(|(i, (c, e))| format!("line {}:\n  committed: {c}\n  code:      {e}", i + 1))
            .unwrap_or_else(|| {
                format!(
                    "one is a prefix of the other ({} vs {} lines, or line endings differ)",
                    committed.lines().count(),
                    exported.lines().count()
                )
            });
        panic!("openapi.json is out of date with the code; {REGENERATE}.\nFirst difference at {first_difference}");
    }
}
