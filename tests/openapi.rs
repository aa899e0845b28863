//! The OpenAPI document of `/api/v2`: the committed `openapi.json` is
//! exactly what the code serves (like `schema.graphql` for GraphQL).

mod common;

#[test]
fn committed_openapi_document_matches_the_code_byte_for_byte() {
    common::assert_committed(
        "openapi.json",
        &clientela::rest::openapi::document(),
        "run `cargo run -- openapi > openapi.json` and commit the result",
    );
}
