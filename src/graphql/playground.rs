//! The GraphiQL playground at `GET /graphql`, with its assets served from
//! the binary (`assets/graphiql/`) so it works with no network beyond this server.

use axum::extract::Path;
use axum::http::header::{ACCEPT, VARY};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::Response;

use crate::error::Error;
use crate::http::assets::{self, Asset};

/// The playground page; it loads only the [`ASSETS`] below.
const PAGE: &str = include_str!("../../assets/graphiql/index.html");

/// Every file the page needs, served at `/graphql/assets/{name}` (see
/// `assets/graphiql/README.md` for their origin).
const ASSETS: &[Asset] = assets::vendored!("graphiql":
    "graphiql.min.js",
    "graphiql.min.css",
    "react.production.min.js",
    "react-dom.production.min.js",
    "playground.js",
);

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
    let mut response = match get_answer(&headers) {
        GetAnswer::Playground => assets::page(PAGE),
        GetAnswer::Refused => super::error_response(
            &Error::BadUserInput {
                message: "GET /graphql serves the playground to browsers; send queries with POST"
                    .to_owned(),
                fields: Vec::new(),
            },
            &headers,
        ),
    };
    response
        .headers_mut()
        .insert(VARY, HeaderValue::from_static("Accept"));
    response
}

/// `GET /graphql/assets/{file}`: one of the playground's files, or 404.
pub async fn asset(Path(file): Path<String>, headers: HeaderMap) -> Response {
    assets::asset(ASSETS, &file)
        .unwrap_or_else(|| super::error_response(&Error::NotFound("asset"), &headers))
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
        let (unlisted, off_server) = assets::unlisted(PAGE, "/graphql/assets/", ASSETS);
        assert!(
            unlisted.is_empty(),
            "the page loads {unlisted:?}, not served"
        );
        assert!(!off_server, "the page loads from off this server");
        assert!(!PAGE.contains("//cdn") && !PAGE.contains("unpkg") && !PAGE.contains("jsdelivr"));
        assert!(!PAGE.contains("//cdn") && !PAGE.contains("unpkg") && !PAGE.contains("jsdelivr"));
    }
}
