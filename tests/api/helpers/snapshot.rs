//! Snapshot settings shared by the suites: one customer document looks the
//! same in every snapshot, whichever face answered and whichever database
//! stored it (ids and times redacted, jsonb key order sorted).

/// Settings that redact the customer document at `at` (a selector such as
/// `.customer`, or `""` for the snapshot's root): its ids as `[id]`, its
/// creation, update and last-interaction times as `[time]`, and its
/// `customFields` sorted by key, because PostgreSQL's jsonb reorders them.
/// Bind a snapshot assertion to them:
/// `customer_settings(".customer").bind(|| insta::assert_json_snapshot!(NAME, body))`.
pub fn customer_settings(at: &str) -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    for id in ["_id", "id"] {
        settings.add_redaction(&format!("{at}.{id}"), "[id]");
    }
    for time in ["createdAt", "updatedAt", "lastInteraction"] {
        settings.add_redaction(&format!("{at}.{time}"), "[time]");
    }
    settings.add_redaction(&format!("{at}.customFields"), insta::sorted_redaction());
    settings
}
