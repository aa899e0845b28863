//! The GraphiQL playground at `GET /graphql`, with its assets served from
//! the binary (`assets/graphiql/`) so it works with no network beyond this server.

use axum::extract::Path;
use axum::http::header::{
    ACCEPT, CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, VARY, X_CONTENT_TYPE_OPTIONS,
};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

/// The playground page; it loads only the [`ASSETS`] below.
const PAGE: &str = include_str!("../../assets/graphiql/index.html");

/// The page may load nothing but this server's own files (fonts are inlined
/// as `data:` URLs in GraphiQL's CSS); queries go to this origin only.
const PAGE_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
     img-src 'self' data:; font-src 'self' data:; connect-src 'self'; object-src 'none'; \
     base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// How long a browser may keep an asset.
const ASSET_CACHE: &str = "public, max-age=86400";

/// A file served at `/graphql/assets/{name}`.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

/// Every file the page needs (see `assets/graphiql/README.md` for their origin).
const ASSETS: &[Asset] = &[
    Asset {
        name: "graphiql.min.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../../assets/graphiql/graphiql.min.js"),
    },
    Asset {
        name: "graphiql.min.css",
        content_type: "text/css; charset=utf-8",
        body: include_bytes!("../../assets/graphiql/graphiql.min.css"),
    },
    Asset {
        name: "react.production.min.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../../assets/graphiql/react.production.min.js"),
    },
    Asset {
        name: "react-dom.production.min.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../../assets/graphiql/react-dom.production.min.js"),
    },
    Asset {
        name: "playground.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../../assets/graphiql/playground.js"),
    },
];

/// What a `GET /graphql` is answered with.
enum GetAnswer {
    /// A browser: the playground page.
    Playground,
    /// Anything else: 400, queries are POSTed.
    Refused,
}

/// The one place that decides what a `GET /graphql` gets.
fn get_answer(headers: &HeaderMap) -> GetAnswer {
    if accepts_html(headers) {
        GetAnswer::Playground
    } else {
        GetAnswer::Refused
    }
}

/// Whether a `GET /graphql` comes from a browser that wants the page.
pub fn is_browser(headers: &HeaderMap) -> bool {
    matches!(get_answer(headers), GetAnswer::Playground)
}

/// `GET /graphql`: the playground for a browser (an `Accept` that includes
/// `text/html`), otherwise a GraphQL-shaped 400.
pub async fn playground(headers: HeaderMap) -> Response {
    match get_answer(&headers) {
        GetAnswer::Playground => (
            [
                (CONTENT_TYPE, "text/html; charset=utf-8"),
                (CACHE_CONTROL, "no-cache"),
                (CONTENT_SECURITY_POLICY, PAGE_CSP),
                (X_CONTENT_TYPE_OPTIONS, "nosniff"),
                (VARY, "Accept"),
            ],
            PAGE,
        )
            .into_response(),
        GetAnswer::Refused => {
            let body = json!({ "errors": [{
                "message": "GET /graphql serves the playground to browsers; send queries with POST",
                "extensions": { "code": "BAD_USER_INPUT" },
            }] });
            (StatusCode::BAD_REQUEST, [(VARY, "Accept")], Json(body)).into_response()
        }
    }
}

/// `GET /graphql/assets/{file}`: one of the playground's files, or 404.
pub async fn asset(Path(file): Path<String>) -> Response {
    match ASSETS.iter().find(|a| a.name == file) {
        Some(asset) => (
            [
                (CONTENT_TYPE, asset.content_type),
                (CACHE_CONTROL, ASSET_CACHE),
                (X_CONTENT_TYPE_OPTIONS, "nosniff"),
            ],
            asset.body,
        )
            .into_response(),
        None => crate::graphql::error_response(
            &crate::error::Error::NotFound("asset"),
            &HeaderMap::new(),
        ),
    }
}

/// Whether any `Accept` header lists `text/html` (with a non-zero `q`).
fn accepts_html(headers: &HeaderMap) -> bool {
    headers
        .get_all(ACCEPT)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|range| {
            let mut parts = range.split(';').map(str::trim);
            let is_html = parts
                .next()
                .is_some_and(|media| media.eq_ignore_ascii_case("text/html"));
            let refused = parts.any(|param| {
                param
                    .split_once('=')
                    .filter(|(name, _)| name.trim().eq_ignore_ascii_case("q"))
                    .and_then(|(_, q)| q.trim().parse::<f32>().ok())
                    .is_some_and(|q| q <= 0.0)
            });
            is_html && !refused
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn accept(values: &[&'static str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for v in values {
            headers.append(ACCEPT, HeaderValue::from_static(v));
        }
        headers
    }

    #[test]
    fn browsers_get_the_playground() {
        let chrome = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
        assert!(accepts_html(&accept(&[chrome])));
        assert!(accepts_html(&accept(&["Text/HTML; q=0.5"])));
        assert!(accepts_html(&accept(&["application/json", "text/html"])));
    }

    #[test]
    fn other_clients_do_not() {
        assert!(!accepts_html(&accept(&[])));
        assert!(!accepts_html(&accept(&["*/*"])));
        assert!(!accepts_html(&accept(&["application/json"])));
        assert!(!accepts_html(&accept(&[
            "text/html;q=0",
            "application/json"
        ])));
        assert!(!accepts_html(&accept(&["text/htmlx"])));
    }

    #[test]
    fn the_page_loads_only_listed_assets() {
        assert_eq!(PAGE.matches("\"/graphql/assets/").count(), 5);
        for src in PAGE.split("\"/graphql/assets/").skip(1) {
            let name = src.split('"').next().unwrap_or_default();
            assert!(
                ASSETS.iter().any(|a| a.name == name),
                "the page loads {name}, which is not served"
            );
        }
        assert!(!PAGE.contains("http://") && !PAGE.contains("https://"));
        assert!(!PAGE.contains("//cdn") && !PAGE.contains("unpkg") && !PAGE.contains("jsdelivr"));
    }
}
