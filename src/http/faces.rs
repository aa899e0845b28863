//! Errors made outside any handler (no such route, a request past its
//! deadline, a rate-limited call, a handler that panicked), shaped for the
//! face the request's path belongs to. Each face registers its one error
//! renderer in [`Faces`]; this module knows the faces only by name.

use std::panic::AssertUnwindSafe;
use std::time::Duration;

use axum::extract::Request;
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;
use futures::FutureExt;

use crate::error::Error;

/// The face a request belongs to, by its path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Face {
    /// `/graphql` and everything under it: GraphQL error bodies.
    Graphql,
    /// Everything else (the REST shim, probes, unknown paths): the REST envelope.
    Rest,
}

impl Face {
    /// The face `path` belongs to.
    pub fn of(path: &str) -> Self {
        if path == "/graphql" || path.starts_with("/graphql/") {
            Face::Graphql
        } else {
            Face::Rest
        }
    }
}

/// How a face renders an error as a response; the request's headers may
/// choose among its media types.
pub type RenderError = fn(&Error, &HeaderMap) -> Response;

/// Each face's one error renderer, registered where the app is composed.
#[derive(Debug, Clone, Copy)]
pub struct Faces {
    /// Renders errors of [`Face::Rest`] paths.
    pub rest: RenderError,
    /// Renders errors of [`Face::Graphql`] paths.
    pub graphql: RenderError,
}

impl Faces {
    /// An error answered in the shape of the face `path` belongs to.
    pub fn error_response(&self, path: &str, request: &HeaderMap, error: &Error) -> Response {
        let render = match Face::of(path) {
            Face::Graphql => self.graphql,
            Face::Rest => self.rest,
        };
        render(error, request)
    }

    /// 404 for a path no route serves.
    pub fn not_found(&self, path: &str, request: &HeaderMap) -> Response {
        self.error_response(path, request, &Error::NotFound("route"))
    }

    /// 500 for a handler that panicked; the panic text is never sent.
    pub fn panic_response(&self, path: &str, request: &HeaderMap) -> Response {
        tracing::error!(path, "a request handler panicked");
        self.error_response(
            path,
            request,
            &Error::internal(anyhow::anyhow!("a handler panicked")),
        )
    }
}

/// Middleware: a request that takes longer than `limit` to produce its
/// response head is answered 503 `SERVICE_UNAVAILABLE` with `Retry-After`,
/// in its face's shape (a streaming body, once started, is not cut by this:
/// the send timeout watches it).
pub async fn deadline(faces: Faces, limit: Duration, req: Request, next: Next) -> Response {
    let (path, headers) = (req.uri().path().to_owned(), req.headers().clone());
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(response) => response,
        Err(_) => {
            tracing::warn!(path, "request timed out");
            faces.error_response(&path, &headers, &Error::Unavailable)
        }
    }
}

/// Middleware: a handler that panics is answered 500 in its face's shape
/// (the server and the connection carry on).
pub async fn catch_panic(faces: Faces, req: Request, next: Next) -> Response {
    let (path, headers) = (req.uri().path().to_owned(), req.headers().clone());
    match AssertUnwindSafe(next.run(req)).catch_unwind().await {
        Ok(response) => response,
        Err(_) => faces.panic_response(&path, &headers),
    }
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::StatusCode;
    use axum::response::IntoResponse;
    use axum::routing::get;
    use axum::Router;
    use tower::ServiceExt;

    use super::*;

    /// Faces that say which of them rendered, with the error's status.
    const FACES: Faces = Faces {
        rest: |e, _| (e.status(), format!("rest {}", e.code())).into_response(),
        graphql: |e, _| (e.status(), format!("graphql {}", e.code())).into_response(),
    };

    #[test]
    fn paths_under_graphql_belong_to_the_graphql_face() {
        for path in [
            "/graphql",
            "/graphql/",
            "/graphql/ws",
            "/graphql/assets/x.js",
        ] {
            assert_eq!(Face::of(path), Face::Graphql, "{path}");
        }
        for path in [
            "/",
            "/graphqlx",
            "/api/v2/customers",
            "/healthz",
            "/nope/graphql",
        ] {
            assert_eq!(Face::of(path), Face::Rest, "{path}");
        }
    }

    async fn answer(router: Router, path: &str) -> (StatusCode, String) {
        let request = axum::http::Request::get(path)
            .body(Body::empty())
            .expect("request");
        let response = router.oneshot(request).await.expect("infallible");
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), 1024)
            .await
            .expect("body");
        (status, String::from_utf8_lossy(&body).into_owned())
    }

    #[tokio::test]
    async fn a_panic_is_answered_500_in_the_shape_of_its_face() {
        async fn boom() -> &'static str {
            panic!("the panic text must not be sent")
        }
        let router = Router::new()
            .route("/graphql/boom", get(boom))
            .route("/api/v2/boom", get(boom))
            .route("/fine", get(|| async { "fine" }))
            .layer(axum::middleware::from_fn(|req, next| {
                catch_panic(FACES, req, next)
            }));
        for (path, want) in [
            ("/graphql/boom", "graphql INTERNAL_SERVER_ERROR"),
            ("/api/v2/boom", "rest INTERNAL_SERVER_ERROR"),
        ] {
            assert_eq!(
                answer(router.clone(), path).await,
                (StatusCode::INTERNAL_SERVER_ERROR, want.to_owned()),
                "{path}"
            );
        }
        assert_eq!(
            answer(router, "/fine").await,
            (StatusCode::OK, "fine".to_owned())
        );
    }

    #[tokio::test]
    async fn a_late_answer_is_503_in_the_shape_of_its_face() {
        async fn slow() -> &'static str {
            tokio::time::sleep(Duration::from_secs(5)).await;
            "late"
        }
        let router = Router::new()
            .route("/graphql", get(slow))
            .route("/api/v2/customers", get(slow))
            .layer(axum::middleware::from_fn(|req, next| {
                deadline(FACES, Duration::from_millis(20), req, next)
            }));
        for (path, want) in [
            ("/graphql", "graphql SERVICE_UNAVAILABLE"),
            ("/api/v2/customers", "rest SERVICE_UNAVAILABLE"),
        ] {
            assert_eq!(
                answer(router.clone(), path).await,
                (StatusCode::SERVICE_UNAVAILABLE, want.to_owned()),
                "{path}"
            );
        }
    }
}
