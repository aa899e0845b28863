//! Timestamps as the contract writes them: UTC, RFC 3339, milliseconds.

use chrono::{DateTime, DurationRound, SecondsFormat, TimeDelta, Utc};

/// The current time, cut to the milliseconds every timestamp is stored with.
pub fn now() -> DateTime<Utc> {
    truncate(Utc::now())
}

/// Cuts a time to milliseconds, so what is stored is what is shown.
pub fn truncate(t: DateTime<Utc>) -> DateTime<Utc> {
    t.duration_trunc(TimeDelta::milliseconds(1)).unwrap_or(t)
}

/// `2024-01-15T10:30:00.000Z`.
pub fn format(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Serde helpers that write timestamps in the contract's form.
pub mod serde_ms {
    use chrono::{DateTime, Utc};
    use serde::Serializer;

    /// Serializes a timestamp as `2024-01-15T10:30:00.000Z`.
    pub fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::format(t))
    }

    /// Reads any RFC 3339 timestamp.
    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        <DateTime<Utc> as serde::Deserialize>::deserialize(d)
    }

    /// The same for an optional timestamp (`null` when absent).
    pub mod option {
        use chrono::{DateTime, Utc};
        use serde::Serializer;

        /// Reads an optional RFC 3339 timestamp.
        pub fn deserialize<'de, D: serde::Deserializer<'de>>(
            d: D,
        ) -> Result<Option<DateTime<Utc>>, D::Error> {
            <Option<DateTime<Utc>> as serde::Deserialize>::deserialize(d)
        }

        /// Serializes `Some(t)` like [`super::serialize`], `None` as null.
        pub fn serialize<S: Serializer>(
            t: &Option<DateTime<Utc>>,
            s: S,
        ) -> Result<S::Ok, S::Error> {
            match t {
                Some(t) => s.serialize_str(&super::super::format(t)),
                None => s.serialize_none(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_written_with_milliseconds_and_z() {
        let t = DateTime::parse_from_rfc3339("2024-01-15T10:30:00.123456+02:00")
            .map(|t| t.with_timezone(&Utc));
        let t = truncate(t.expect("valid literal"));
        assert_eq!(format(&t), "2024-01-15T08:30:00.123Z");
    }
}
