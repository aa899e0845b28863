//! The one error type of the crate. Every failure a caller can see is a variant
//! here, named after the contract's codes; `code()` feeds the REST `code` and
//! GraphQL `extensions.code`, `status()` gives the HTTP status.

use sea_orm::{DbErr, RuntimeErr, SqlErr};

/// One invalid input field, reported to the caller as `{field, message}`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    /// A field error with the given field path and human message.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Everything that can go wrong in a request.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// 401: missing, malformed, expired or badly signed token.
    #[error("{0}")]
    Unauthenticated(&'static str),
    /// 403: the caller's role may not do this.
    #[error("{0}")]
    Forbidden(&'static str),
    /// 404: unknown id, or another tenant's.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// 400: invalid input, with one entry per bad field.
    #[error("{message}")]
    BadUserInput {
        message: String,
        fields: Vec<FieldError>,
    },
    /// 409: the phone number already belongs to another customer.
    #[error("phone number {phone} already belongs to another customer")]
    PhoneTaken {
        field: String,
        phone: String,
        existing_id: String,
    },
    /// 409: the external id already belongs to another customer of the tenant.
    #[error("external id already belongs to another customer")]
    ExternalIdTaken { existing_id: String },
    /// 409: an `Idempotency-Key` used with another body, or whose first
    /// request is still running.
    #[error("{0}")]
    IdempotencyConflict(&'static str),
    /// 409: a write collided with a unique key, as the database named it.
    /// The service that wrote turns a phone's into [`Error::PhoneTaken`],
    /// naming the holder; this variant is what reaches a caller otherwise.
    #[error("{}", .0.describe())]
    Taken(UniqueKey),
    /// 409: the request contradicts what is stored now (a merge already
    /// undone, or one whose undo would overwrite later changes); the
    /// message says what to do.
    #[error("{0}")]
    Conflict(String),
    /// 413: the body is over the route's limit.
    #[error("request body is too large")]
    PayloadTooLarge,
    /// 429: the caller is over its share (requests per second, concurrent
    /// exports, open sockets); it may try again after `retry_after` seconds.
    #[error("{what}; try again in {retry_after} s")]
    RateLimited {
        what: &'static str,
        retry_after: u64,
    },
    /// 415: the body is not JSON where JSON is required.
    #[error("expected a JSON body (Content-Type: application/json)")]
    UnsupportedMediaType,
    /// 503: the database cannot be reached.
    #[error("service unavailable, try again shortly")]
    Unavailable,
    /// 503: a feature this server is not configured for.
    #[error("{0}")]
    Disabled(&'static str),
    /// 500: anything else; the cause is logged, never sent.
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A 400 for one field.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        let field = FieldError::new(field, message);
        Self::BadUserInput {
            message: format!("invalid {}: {}", field.field, field.message),
            fields: vec![field],
        }
    }

    /// A 400 for several fields at once (empty `fields` is not expected).
    pub fn invalid_fields(fields: Vec<FieldError>) -> Self {
        let message = match fields.as_slice() {
            [one] => format!("invalid {}: {}", one.field, one.message),
            _ => "invalid input".to_owned(),
        };
        Self::BadUserInput { message, fields }
    }

    /// A 500 carrying its cause for the log.
    pub fn internal(cause: impl Into<anyhow::Error>) -> Self {
        Self::Internal(cause.into())
    }

    /// The contract's code for this error.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Unauthenticated(_) => "UNAUTHENTICATED",
            Self::Forbidden(_) => "FORBIDDEN",
            Self::NotFound(_) => "NOT_FOUND",
            Self::BadUserInput { .. } | Self::UnsupportedMediaType => "BAD_USER_INPUT",
            Self::PhoneTaken { .. }
            | Self::ExternalIdTaken { .. }
            | Self::IdempotencyConflict(_)
            | Self::Taken(_)
            | Self::Conflict(_) => "CONFLICT",
            Self::PayloadTooLarge => "PAYLOAD_TOO_LARGE",
            Self::RateLimited { .. } => "RATE_LIMITED",
            Self::Unavailable | Self::Disabled(_) => "SERVICE_UNAVAILABLE",
            Self::Internal(_) => "INTERNAL_SERVER_ERROR",
        }
    }

    /// Seconds the caller should wait before trying again (`Retry-After`), if any.
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            Self::RateLimited { retry_after, .. } => Some(*retry_after),
            Self::Unavailable => Some(1),
            _ => None,
        }
    }

    /// The HTTP status for this error.
    pub fn status(&self) -> axum::http::StatusCode {
        use axum::http::StatusCode;
        match self {
            Self::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::BadUserInput { .. } => StatusCode::BAD_REQUEST,
            Self::PhoneTaken { .. }
            | Self::ExternalIdTaken { .. }
            | Self::IdempotencyConflict(_)
            | Self::Taken(_)
            | Self::Conflict(_) => StatusCode::CONFLICT,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Unavailable | Self::Disabled(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// Logs a server-side failure once, with its cause chain; client errors are not logged.
    pub fn log(&self) {
        match self {
            Self::Internal(cause) => {
                tracing::error!(error = format!("{cause:#}"), "internal error")
            }
            Self::Unavailable => tracing::warn!("database unavailable"),
            _ => {}
        }
    }
}

impl From<DbErr> for Error {
    /// Classifies a database error once: unreachable is 503, a collision
    /// with a known unique key is [`Error::Taken`] (which key, read from the
    /// error itself: see [`unique_key`]), the rest 500.
    fn from(err: DbErr) -> Self {
        if is_unavailable(&err) {
            return Self::Unavailable;
        }
        if let Some(key) = violated_key(&err) {
            return Self::Taken(key);
        }
        Self::Internal(err.into())
    }
}

/// A unique key of the schema that a write can collide with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UniqueKey {
    /// A phone number of the tenant: the `customer_phones` primary key
    /// (tenant_id, phone), or the `customers_tenant_phone` index on a
    /// customer's own number.
    Phone,
    /// A customer's external id: the `customers_tenant_external_id` index.
    ExternalId,
}

impl UniqueKey {
    /// What the collision means, for the error message.
    fn describe(self) -> &'static str {
        match self {
            UniqueKey::Phone => "phone number already belongs to another customer",
            UniqueKey::ExternalId => "external id already belongs to another customer",
        }
    }
}

/// The unique keys a write may collide with: the PostgreSQL constraint (or
/// unique index) name, and the table and columns SQLite names instead.
const UNIQUE_KEYS: &[(&str, &str, &[&str], UniqueKey)] = &[
    (
        "customer_phones_pkey",
        "customer_phones",
        &["tenant_id", "phone"],
        UniqueKey::Phone,
    ),
    (
        "customers_tenant_phone",
        "customers",
        &["tenant_id", "phone_number"],
        UniqueKey::Phone,
    ),
    (
        "customers_tenant_external_id",
        "customers",
        &["tenant_id", "external_id"],
        UniqueKey::ExternalId,
    ),
];

/// Which unique key a unique violation names: PostgreSQL reports the
/// constraint (`constraint`, also quoted in its message), SQLite only its
/// message, `UNIQUE constraint failed: table.col, table.col`. None for a key
/// this table does not know.
pub fn unique_key(constraint: Option<&str>, message: &str) -> Option<UniqueKey> {
    let named = constraint.or_else(|| {
        let rest = message.split_once("unique constraint \"")?.1;
        Some(rest.split_once('"')?.0)
    });
    if let Some(name) = named {
        return UNIQUE_KEYS
            .iter()
            .find(|(pg, ..)| *pg == name)
            .map(|(.., key)| *key);
    }
    let failed = message.strip_prefix("UNIQUE constraint failed: ")?;
    let columns: Vec<(&str, &str)> = failed
        .split(", ")
        .map(|c| c.trim().split_once('.'))
        .collect::<Option<_>>()?;
    UNIQUE_KEYS
        .iter()
        .find(|(_, table, cols, _)| {
            columns.len() == cols.len()
                && columns
                    .iter()
                    .zip(cols.iter())
                    .all(|((t, c), want)| t == table && c == want)
        })
        .map(|(.., key)| *key)
}

/// The unique key a database error violated, if it is a unique violation
/// of a known key.
fn violated_key(err: &DbErr) -> Option<UniqueKey> {
    use sea_orm::sqlx::Error as Sqlx;
    if !is_unique_violation(err) {
        return None;
    }
    match err {
        DbErr::Exec(RuntimeErr::SqlxError(Sqlx::Database(db)))
        | DbErr::Query(RuntimeErr::SqlxError(Sqlx::Database(db))) => {
            unique_key(db.constraint(), db.message())
        }
        _ => None,
    }
}

/// Whether a database error is a unique-index violation.
pub fn is_unique_violation(err: &DbErr) -> bool {
    matches!(err.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
}

/// Whether a database error is a transaction that lost a deadlock
/// (PostgreSQL 40P01) or a serialization conflict (40001): nothing was
/// written, and running the same transaction again may well succeed.
pub fn is_retryable_conflict(err: &DbErr) -> bool {
    use sea_orm::sqlx::Error as Sqlx;
    match err {
        DbErr::Exec(RuntimeErr::SqlxError(Sqlx::Database(db)))
        | DbErr::Query(RuntimeErr::SqlxError(Sqlx::Database(db))) => {
            matches!(db.code().as_deref(), Some("40P01" | "40001"))
        }
        _ => false,
    }
}

fn is_unavailable(err: &DbErr) -> bool {
    use sea_orm::sqlx::Error as Sqlx;
    let sqlx = match err {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => return true,
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => e,
        _ => return false,
    };
    match sqlx {
        Sqlx::Io(_)
        | Sqlx::PoolTimedOut
        | Sqlx::PoolClosed
        | Sqlx::WorkerCrashed
        | Sqlx::Tls(_) => true,
        Sqlx::Database(db) => {
            let code = db.code().unwrap_or_default();
            // PostgreSQL: connection exceptions (08xxx), the server shutting
            // down or refusing connections (57P0x), too many connections
            // (53300). SQLite: the database is busy or locked (5, 6).
            code.starts_with("08")
                || code.starts_with("57P0")
                || code == "53300"
                || (db.message().contains("not currently accepting connections"))
                || code == "5"
                || code == "6"
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_violations_are_classified_by_the_key_the_database_names() {
        // Texts as the databases report them (see the provoked violations in
        // `service::customer_rows` tests for SQLite).
        let cases: &[(Option<&str>, &str, Option<UniqueKey>)] = &[
            (
                Some("customer_phones_pkey"),
                "duplicate key value violates unique constraint \"customer_phones_pkey\"",
                Some(UniqueKey::Phone),
            ),
            (
                Some("customers_tenant_phone"),
                "duplicate key value violates unique constraint \"customers_tenant_phone\"",
                Some(UniqueKey::Phone),
            ),
            (
                None,
                "duplicate key value violates unique constraint \"customer_phones_pkey\"",
                Some(UniqueKey::Phone),
            ),
            (
                Some("customer_tags_pkey"),
                "duplicate key value violates unique constraint \"customer_tags_pkey\"",
                None,
            ),
            (
                None,
                "UNIQUE constraint failed: customer_phones.tenant_id, customer_phones.phone",
                Some(UniqueKey::Phone),
            ),
            (
                None,
                "UNIQUE constraint failed: customers.tenant_id, customers.phone_number",
                Some(UniqueKey::Phone),
            ),
            (
                None,
                "UNIQUE constraint failed: customer_tags.customer_id, customer_tags.tag",
                None,
            ),
            (None, "UNIQUE constraint failed: customers.id", None),
            (
                None,
                "UNIQUE constraint failed: customer_phones.phone",
                None,
            ),
            (None, "database is locked", None),
        ];
        for (constraint, message, expected) in cases {
            assert_eq!(unique_key(*constraint, message), *expected, "{message}");
        }
    }
}
