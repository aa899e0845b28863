//! Pages and files served from the binary (the vendored GraphiQL and
//! Swagger UI under `assets/`), so each face's page works with no network
//! beyond this server. A face lists its files and answers an unknown name
//! with its own 404. Imports nothing of the crate.

use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, X_CONTENT_TYPE_OPTIONS,
};
use axum::response::{IntoResponse, Response};

/// A page may load nothing but this server's own files (the vendored UIs
/// set inline styles and use `data:` images and fonts); requests go to this
/// origin only.
const PAGE_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
     img-src 'self' data:; font-src 'self' data:; connect-src 'self'; object-src 'none'; \
     base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// How long a browser may keep an asset.
const ASSET_CACHE: &str = "public, max-age=86400";

/// A file a page loads, served under its page's asset path.
#[derive(Debug)]
pub struct Asset {
    /// The file's name in its URL.
    pub name: &'static str,
    /// Its `Content-Type`.
    pub content_type: &'static str,
    /// Its bytes, compiled in.
    pub body: &'static [u8],
}

/// The `Content-Type` of a vendored file, by its extension.
pub const fn content_type(name: &str) -> &'static str {
    const fn ends_with(name: &[u8], suffix: &[u8]) -> bool {
        if name.len() < suffix.len() {
            return false;
        }
        let start = name.len() - suffix.len();
        let mut i = 0;
        while i < suffix.len() {
            if name[start + i] != suffix[i] {
                return false;
            }
            i += 1;
        }
        true
    }
    let name = name.as_bytes();
    if ends_with(name, b".js") {
        "text/javascript; charset=utf-8"
    } else if ends_with(name, b".css") {
        "text/css; charset=utf-8"
    } else {
        "application/octet-stream"
    }
}

/// The files of one vendored folder under `assets/`, compiled in:
/// `vendored!("graphiql": "graphiql.min.js", "graphiql.min.css")`.
macro_rules! vendored {
    ($dir:literal: $($name:literal),+ $(,)?) => {
        &[$($crate::http::assets::Asset {
            name: $name,
            content_type: $crate::http::assets::content_type($name),
            body: include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/assets/", $dir, "/", $name)),
        }),+]
    };
}
pub(crate) use vendored;

/// An HTML page that may load only this server's files, never cached.
pub fn page(html: &'static str) -> Response {
    (
        [
            (CONTENT_TYPE, "text/html; charset=utf-8"),
            (CACHE_CONTROL, "no-cache"),
            (CONTENT_SECURITY_POLICY, PAGE_CSP),
            (X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        html,
    )
        .into_response()
}

/// The file called `name` among `assets`, or `None` (the face answers 404).
pub fn asset(assets: &[Asset], name: &str) -> Option<Response> {
    let asset = assets.iter().find(|a| a.name == name)?;
    Some(
        (
            [
                (CONTENT_TYPE, asset.content_type),
                (CACHE_CONTROL, ASSET_CACHE),
                (X_CONTENT_TYPE_OPTIONS, "nosniff"),
            ],
            asset.body,
        )
            .into_response(),
    )
}

/// The asset names `page` loads from under `prefix` (`"/graphql/assets/"`,
/// say) that are not among `assets`, and whether it names any URL off this
/// server: what a face's test checks of its page.
pub fn unlisted<'p>(page: &'p str, prefix: &str, assets: &[Asset]) -> (Vec<&'p str>, bool) {
    let quoted = format!("\"{prefix}");
    let missing = page
        .split(quoted.as_str())
        .skip(1)
        .map(|src| src.split('"').next().unwrap_or_default())
        .filter(|name| !assets.iter().any(|a| a.name == *name))
        .collect();
    let off_server = page.contains("http://") || page.contains("https://");
    (missing, off_server)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ASSETS: &[Asset] = &[Asset {
        name: "a.js",
        content_type: "text/javascript; charset=utf-8",
        body: b"1",
    }];

    #[test]
    fn vendored_files_are_typed_by_their_extension() {
        assert_eq!(content_type("a.min.js"), "text/javascript; charset=utf-8");
        assert_eq!(content_type("a.css"), "text/css; charset=utf-8");
        assert_eq!(content_type("js"), "application/octet-stream");
    }

    #[test]
    fn a_listed_asset_is_served_with_its_type_and_an_unknown_one_is_not() {
        let response = asset(ASSETS, "a.js").expect("listed");
        assert_eq!(
            response.headers()[CONTENT_TYPE],
            "text/javascript; charset=utf-8"
        );
        assert_eq!(response.headers()[CACHE_CONTROL], ASSET_CACHE);
        assert!(asset(ASSETS, "b.js").is_none());
        assert!(asset(ASSETS, "../a.js").is_none());
    }

    #[test]
    fn pages_name_what_they_load_that_is_not_served() {
        let page = r#"<script src="/x/a.js"></script><script src="/x/b.js"></script>"#;
        assert_eq!(unlisted(page, "/x/", ASSETS), (vec!["b.js"], false));
        let page = r#"<script src="https://cdn.example/a.js"></script>"#;
        assert_eq!(unlisted(page, "/x/", ASSETS), (vec![], true));
    }
}
