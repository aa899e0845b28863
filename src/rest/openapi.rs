//! The OpenAPI 3.1 document of `/api/v2`, derived from the handlers'
//! annotations and the types they serialize ([`super::shapes`]), served at
//! `GET /api/v2/openapi.json`; and a Swagger UI page at `GET /api/v2/docs`
//! whose files are served from the binary (`assets/swagger-ui/`), so it
//! works with no network beyond this server.

use axum::extract::Path;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, X_CONTENT_TYPE_OPTIONS};
use axum::response::{IntoResponse, Response};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::responses::{
    BadRequest, Conflict, Forbidden, Internal, NotFound, PayloadTooLarge, RateLimited,
    Unauthorized, Unavailable, UnsupportedMediaType,
};
use super::{customers, export, history, imports, merges, shapes};
use crate::error::Error;
use crate::http::assets::{self, Asset};

/// The document's source: every route of [`super::routes`] that serves the API.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Clientela REST API",
        description = "The `/api/v2/customers` REST shim of Clientela, compatible with the \
            legacy Node/Mongoose customer service. Every answer is `{success: true, ...}` or \
            the error envelope `{success: false, error, code, details?}`. Documents carry `_id` \
            beside `id` (the same value); timestamps are UTC RFC 3339 with milliseconds; enum \
            values are lowercase. A `viewer` token reads only, an `agent` token reads and \
            writes, hard delete, bulk import and merges need `admin`.",
        license(name = "MIT", identifier = "MIT"),
    ),
    paths(
        imports::upsert_customers,
        imports::start_import_job,
        imports::list_import_jobs,
        imports::get_import_job,
        imports::cancel_import_job,
        imports::import_job_errors,
        customers::list_customers,
        customers::create_customer,
        customers::get_stats,
        export::export_customers,
        customers::import_customers,
        customers::get_customer,
        customers::update_customer,
        customers::delete_customer,
        customers::update_tags,
        customers::set_blocked,
        customers::list_conversations,
        history::list_trash,
        history::list_history,
        history::restore_customer,
        history::erase_customer,
        history::list_erasures,
        merges::list_duplicates,
        merges::merge_customers,
        merges::get_merge,
        merges::undo_merge,
    ),
    components(
        schemas(
            shapes::ErrorBody,
            crate::domain::customer::CustomerSortField,
            crate::domain::customer::SortOrder,
        ),
        responses(
            BadRequest,
            Unauthorized,
            Forbidden,
            NotFound,
            Conflict,
            PayloadTooLarge,
            UnsupportedMediaType,
            RateLimited,
            Unavailable,
            Internal,
        ),
    ),
    modifiers(&BearerJwt),
    security(("bearer" = [])),
    tags((name = "customers", description = "Customers, their conversations, statistics, import and export")),
)]
pub struct ApiDoc;

/// Adds the `bearer` security scheme: `Authorization: Bearer <jwt>`.
struct BearerJwt;

impl Modify for BearerJwt {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "A JWT whose claims are `sub` (agent id), `role` (`admin`, `agent` or \
                         `viewer`; absent means `agent`), `tenant` (absent means `default`) and \
                         `exp`. `clientela token` mints one.",
                    ))
                    .build(),
            ),
        );
    }
}

/// The document as pretty JSON with a final newline: what
/// `GET /api/v2/openapi.json` serves, `clientela openapi` prints, and the
/// committed `openapi.json` holds.
pub fn document() -> String {
    match ApiDoc::openapi().to_pretty_json() {
        Ok(json) => json + "\n",
        // Serializing a document built from literals cannot fail; if it ever
        // did, an empty document is better than a panic in a request.
        Err(_) => "{}\n".to_owned(),
    }
}

/// The page; it loads only the [`ASSETS`] below.
const PAGE: &str = include_str!("../../assets/swagger-ui/index.html");

/// Every file the page needs, served at `/api/v2/docs/{name}` (see
/// `assets/swagger-ui/README.md` for their origin).
const ASSETS: &[Asset] =
    assets::vendored!("swagger-ui": "swagger-ui-bundle.js", "swagger-ui.css", "docs.js");

/// `GET /api/v2/openapi.json`: public, like the API's own reference.
pub async fn openapi_json() -> Response {
    (
        [
            (CONTENT_TYPE, "application/json"),
            (CACHE_CONTROL, "no-cache"),
            (X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        document(),
    )
        .into_response()
}

/// `GET /api/v2/docs`: the Swagger UI page.
pub async fn docs_page() -> Response {
    assets::page(PAGE)
}

/// `GET /api/v2/docs/{file}`: one of the page's files, or 404.
pub async fn docs_asset(Path(file): Path<String>) -> Response {
    assets::asset(ASSETS, &file).unwrap_or_else(|| super::error_response(&Error::NotFound("asset")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_loads_only_listed_assets() {
        assert_eq!(PAGE.matches("\"/api/v2/docs/").count(), 3);
        let (unlisted, off_server) = assets::unlisted(PAGE, "/api/v2/docs/", ASSETS);
        assert!(
            unlisted.is_empty(),
            "the page loads {unlisted:?}, not served"
        );
        assert!(!off_server, "the page loads from off this server");
    }

    #[test]
    fn the_document_is_openapi_3_1_with_every_route() {
        let doc: serde_json::Value =
            serde_json::from_str(&document()).expect("the document is JSON");
        assert!(doc["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.1.")));
        // Every `$ref` points at a component that exists.
        let text = document();
        for reference in text.split("\"$ref\": \"#/components/").skip(1) {
            let target = reference.split('"').next().unwrap_or_default();
            let (kind, name) = target.split_once('/').expect("kind/name");
            assert!(
                doc["components"][kind][name].is_object(),
                "dangling reference to {target}"
            );
        }
        let paths = doc["paths"].as_object().expect("paths");
        for (path, methods) in [
            ("/api/v2/customers", &["get", "post"][..]),
            ("/api/v2/customers/stats/summary", &["get"]),
            ("/api/v2/customers/export", &["get"]),
            ("/api/v2/customers/bulk/import", &["post"]),
            ("/api/v2/customers/{id}", &["get", "put", "delete"]),
            ("/api/v2/customers/{id}/tags", &["patch"]),
            ("/api/v2/customers/{id}/block", &["patch"]),
            ("/api/v2/customers/{id}/conversations", &["get"]),
            ("/api/v2/customers/trash", &["get"]),
            ("/api/v2/customers/{id}/history", &["get"]),
            ("/api/v2/customers/{id}/restore", &["post"]),
            ("/api/v2/customers/{id}/erase", &["post"]),
            ("/api/v2/customers/{id}/erasure", &["get"]),
            ("/api/v2/customers/duplicates", &["get"]),
            ("/api/v2/customers/{id}/merge", &["post"]),
            ("/api/v2/customers/merges/{id}", &["get"]),
            ("/api/v2/customers/merges/{id}/undo", &["post"]),
        ] {
            for method in methods {
                assert!(
                    paths[path][method].is_object(),
                    "{method} {path} is not documented"
                );
            }
        }
    }
}
