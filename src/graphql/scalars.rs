//! The contract's DateTime scalar: UTC, RFC 3339, milliseconds.

use async_graphql::{InputValueError, InputValueResult, Scalar, ScalarType, Value};
use chrono::Utc;

use crate::domain::time;

/// An RFC 3339 timestamp in UTC with milliseconds, e.g. 2024-01-15T10:30:00.000Z.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateTime(pub chrono::DateTime<Utc>);

/// An RFC 3339 timestamp in UTC with milliseconds, e.g. 2024-01-15T10:30:00.000Z.
#[Scalar(name = "DateTime")]
impl ScalarType for DateTime {
    fn parse(value: Value) -> InputValueResult<Self> {
        let Value::String(s) = &value else {
            return Err(InputValueError::expected_type(value));
        };
        chrono::DateTime::parse_from_rfc3339(s)
            .map(|t| DateTime(time::truncate(t.with_timezone(&Utc))))
            .map_err(|_| {
                InputValueError::custom(
                    "expected an RFC 3339 timestamp such as 2024-01-15T10:30:00.000Z",
                )
            })
    }

    fn to_value(&self) -> Value {
        Value::String(time::format(&self.0))
    }
}

impl From<chrono::DateTime<Utc>> for DateTime {
    fn from(t: chrono::DateTime<Utc>) -> Self {
        DateTime(t)
    }
}
