//! The error responses routes declare in the OpenAPI document, each a
//! reusable component (`#/components/responses/{name}`) over the one error
//! envelope. Handlers list them by name; `openapi` collects the routes.
//! Imports no handler.

use std::collections::BTreeMap;

use utoipa::openapi::{ContentBuilder, HeaderBuilder, Ref, RefOr, ResponseBuilder};

/// Defines a reusable error response: the error envelope with a status's
/// meaning, and `Retry-After` where the error has one. It is a component
/// (`#/components/responses/{name}`), and a route lists it among its
/// `responses(...)` by name alone.
macro_rules! error_response {
    ($(#[$meta:meta])* $name:ident, $status:literal, $description:literal $(, retry_after = $retry:literal)?) => {
        $(#[$meta])*
        pub struct $name;

        impl<'s> utoipa::ToResponse<'s> for $name {
            fn response() -> (&'s str, RefOr<utoipa::openapi::Response>) {
                let content = ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("ErrorBody")))
                    .build();
                #[allow(unused_mut)]
                let mut response = ResponseBuilder::new()
                    .description($description)
                    .content("application/json", content);
                $(
                    response = response.header(
                        "Retry-After",
                        HeaderBuilder::new()
                            .schema(
                                utoipa::openapi::schema::ObjectBuilder::new()
                                    .schema_type(utoipa::openapi::schema::Type::Integer)
                                    .minimum(Some(0)),
                            )
                            .description(Some($retry))
                            .build(),
                    );
                )?
                (stringify!($name), response.build().into())
            }
        }

        impl utoipa::IntoResponses for $name {
            fn responses() -> BTreeMap<String, RefOr<utoipa::openapi::Response>> {
                BTreeMap::from([(
                    $status.to_string(),
                    Ref::from_response_name(stringify!($name)).into(),
                )])
            }
        }
    };
}

error_response!(
    /// 400.
    BadRequest,
    400,
    "Malformed or invalid input (`BAD_USER_INPUT`); `details` names each wrong field."
);
error_response!(
    /// 401.
    Unauthorized,
    401,
    "Missing, malformed, expired or badly signed token (`UNAUTHENTICATED`)."
);
error_response!(
    /// 403.
    Forbidden,
    403,
    "The token's role may not do this (`FORBIDDEN`)."
);
error_response!(
    /// 404.
    NotFound,
    404,
    "No such customer in the caller's tenant (`NOT_FOUND`)."
);
error_response!(
    /// 409.
    Conflict,
    409,
    "The phone number already belongs to another customer (`CONFLICT`); `details[0].existingId` names it."
);
error_response!(
    /// 413.
    PayloadTooLarge,
    413,
    "The body is over the route's limit (`PAYLOAD_TOO_LARGE`): 1 MiB, 64 MiB for bulk import."
);
error_response!(
    /// 415.
    UnsupportedMediaType,
    415,
    "The body is not JSON (`BAD_USER_INPUT`): send `Content-Type: application/json`."
);
error_response!(
    /// 429.
    RateLimited,
    429,
    "Too many requests (`RATE_LIMITED`), or too many exports running for the tenant.",
    retry_after = "Seconds to wait before trying again."
);
error_response!(
    /// 503.
    Unavailable,
    503,
    "The database cannot be reached (`SERVICE_UNAVAILABLE`); the service recovers by itself.",
    retry_after = "Seconds to wait before trying again."
);
error_response!(
    /// 500.
    Internal,
    500,
    "Anything else (`INTERNAL_SERVER_ERROR`); the cause is logged, never sent."
);

/// Defines a set of error responses a route lists by one name.
macro_rules! error_responses {
    ($(#[$meta:meta])* $name:ident = $($member:ident)+) => {
        $(#[$meta])*
        pub struct $name;

        impl utoipa::IntoResponses for $name {
            fn responses() -> BTreeMap<String, RefOr<utoipa::openapi::Response>> {
                let mut responses = BTreeMap::new();
                $(responses.extend(<$member as utoipa::IntoResponses>::responses());)+
                responses
            }
        }
    };
}

error_responses!(
    /// The errors any route may answer: bad input, no valid token, over the
    /// rate limit, internal, database unavailable.
    Errors = BadRequest Unauthorized RateLimited Internal Unavailable
);
error_responses!(
    /// The errors of a route that reads a JSON body: over its limit, not JSON.
    BodyErrors = PayloadTooLarge UnsupportedMediaType
);
