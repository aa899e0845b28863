//! Timestamps as the contract writes them: UTC, RFC 3339, milliseconds.

use chrono::{DateTime, Datelike, DurationRound, SecondsFormat, TimeDelta, Timelike, Utc};

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
    with_text(t, str::to_owned)
}

/// Calls `f` with `t` written as [`format`] writes it, without allocating
/// for a year of four digits (every stored time): each answer writes
/// several timestamps per row, and allocating each text cost a twentieth
/// of a GraphQL list page's instructions (`callgrind`, `bench/RESULTS.md`).
pub fn with_text<R>(t: &DateTime<Utc>, f: impl FnOnce(&str) -> R) -> R {
    let digits = digits(t);
    // Only ASCII digits are written, so the text is always UTF-8.
    match digits.as_ref().and_then(|d| std::str::from_utf8(d).ok()) {
        Some(text) => f(text),
        None => f(&t.to_rfc3339_opts(SecondsFormat::Millis, true)),
    }
}

/// `t` as [`format`] writes it, for a year of four digits; `None` for a
/// leap second (nanoseconds past a second) or any other year, which chrono
/// writes.
fn digits(t: &DateTime<Utc>) -> Option<[u8; 24]> {
    let (date, time) = (t.date_naive(), t.time());
    let nanos = time.nanosecond();
    let year = u32::try_from(date.year()).ok()?;
    if year > 9999 || nanos >= 1_000_000_000 {
        return None;
    }
    let mut text = *b"0000-00-00T00:00:00.000Z";
    let mut put = |at: usize, width: usize, mut value: u32| {
        for digit in text[at..at + width].iter_mut().rev() {
            // A digit, 0 to 9.
            *digit = b'0' + (value % 10) as u8;
            value /= 10;
        }
    };
    put(0, 4, year);
    put(5, 2, date.month());
    put(8, 2, date.day());
    put(11, 2, time.hour());
    put(14, 2, time.minute());
    put(17, 2, time.second());
    put(20, 3, nanos / 1_000_000);
    Some(text)
}

/// Serde helpers that write timestamps in the contract's form.
pub mod serde_ms {
    use chrono::{DateTime, Utc};
    use serde::Serializer;

    /// Serializes a timestamp as `2024-01-15T10:30:00.000Z`.
    pub fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        super::with_text(t, |text| s.serialize_str(text))
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
                Some(t) => super::super::with_text(t, |text| s.serialize_str(text)),
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

    #[test]
    fn timestamps_are_written_as_chrono_writes_them() {
        let chrono = |t: &DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::Millis, true);
        let mut times: Vec<DateTime<Utc>> = [
            "0000-01-01T00:00:00Z",
            "0001-02-03T04:05:06.007Z",
            "1969-12-31T23:59:59.999999999Z",
            "2024-02-29T23:59:59.999Z",
            "9999-12-31T23:59:59.999Z",
            "+10000-01-01T00:00:00Z",
            "-0001-01-01T00:00:00Z",
        ]
        .iter()
        .filter_map(|text| DateTime::parse_from_rfc3339(text).ok())
        .map(|t| t.with_timezone(&Utc))
        .collect();
        assert_eq!(times.len(), 5, "chrono reads the four-digit years");
        times.push(DateTime::<Utc>::MIN_UTC);
        times.push(DateTime::<Utc>::MAX_UTC);
        // A leap second, and times spread over four centuries.
        times.extend(
            chrono::NaiveDate::from_ymd_opt(2016, 12, 31)
                .and_then(|d| d.and_hms_milli_opt(23, 59, 59, 1_500))
                .map(|t| t.and_utc()),
        );
        let mut seconds: i64 = -2_208_988_800;
        while seconds < 10_000_000_000 {
            let nanos = u32::try_from(seconds.rem_euclid(1_000)).unwrap_or_default() * 1_000_317;
            times.extend(DateTime::from_timestamp(seconds, nanos));
            seconds += 7_777_777;
        }
        for t in &times {
            assert_eq!(format(t), chrono(t), "{t:?}");
        }
    }
}
