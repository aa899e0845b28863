//! Customer enums and input, and the pure input rules of the contract
//! (rest.md "Input rules"): what a caller sends becomes a validated
//! [`CustomerChanges`] or a list of field errors, before any I/O.

use serde_json::{Map, Value};

use super::phone::{self, PhoneNumber};
use crate::error::FieldError;

/// Defines a closed set of lowercase strings with its OpenAPI schema: the
/// one definition in the `entity` crate ([`entity::string_enum!`], which the
/// column enums use too) plus [`entity::string_enum_schema!`].
macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        entity::string_enum!($(#[$meta])* $name { $($variant = $text),+ });
        entity::string_enum_schema!($name);
    };
}
pub(crate) use string_enum;

/// The closed sets the `customers` table stores, defined with their column
/// type in the `entity` crate.
pub use entity::enums::{CustomerSegment, CustomerSource, CustomerStatus};
/// The typed values of the `customers` table's JSON columns.
pub use entity::json::{Address, CommunicationHours, Coordinates};

string_enum!(
    /// What a customer list may be sorted by.
    CustomerSortField {
        LastInteraction = "lastInteraction",
        CreatedAt = "createdAt",
        UpdatedAt = "updatedAt",
        FirstContact = "firstContact",
        LastMessageAt = "lastMessageAt",
        FirstName = "firstName",
        LastName = "lastName",
        PhoneNumber = "phoneNumber",
        Email = "email",
    }
);
string_enum!(
    /// Ascending or descending.
    SortOrder { Asc = "asc", Desc = "desc" }
);
string_enum!(
    /// How a tag list changes a customer's tags.
    TagAction { Set = "set", Add = "add", Remove = "remove" }
);

/// A field of a partial update: absent (leave it), null (clear it) or a value.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum Field<T> {
    #[default]
    Absent,
    Null,
    Value(T),
}

impl<T> Field<T> {
    /// Maps the value, keeping absent and null.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Field<U> {
        match self {
            Field::Absent => Field::Absent,
            Field::Null => Field::Null,
            Field::Value(v) => Field::Value(f(v)),
        }
    }
}

impl<T> From<Option<T>> for Field<T> {
    /// `None` is absent (for inputs that cannot say null).
    fn from(value: Option<T>) -> Self {
        value.map_or(Field::Absent, Field::Value)
    }
}

/// Preferences as sent by a caller.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PreferencesInput {
    pub language: Option<String>,
    pub communication_hours: Option<CommunicationHours>,
    pub preferred_agent_id: Option<String>,
}

/// Validated preferences; the agent's existence is checked by the service.
#[derive(Debug, Clone, PartialEq)]
pub struct Preferences {
    pub language: String,
    pub communication_hours: Option<CommunicationHours>,
    pub preferred_agent_id: Option<uuid::Uuid>,
}

impl Default for Preferences {
    fn default() -> Self {
        Self {
            language: DEFAULT_LANGUAGE.to_owned(),
            communication_hours: None,
            preferred_agent_id: None,
        }
    }
}

/// The language a customer gets when none is given.
pub const DEFAULT_LANGUAGE: &str = "es";

/// Customer fields as a caller sent them, before any rule is applied.
/// Read-only fields have no place here: a face never copies them in.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CustomerInput {
    pub phone_number: Field<String>,
    pub first_name: Field<String>,
    pub last_name: Field<String>,
    pub email: Field<String>,
    pub avatar: Field<String>,
    pub alternative_phones: Field<Vec<String>>,
    pub address: Field<Address>,
    pub tags: Field<Vec<String>>,
    pub segment: Field<CustomerSegment>,
    pub source: Field<CustomerSource>,
    pub custom_fields: Field<Map<String, Value>>,
    pub preferences: Field<PreferencesInput>,
    pub status: Field<CustomerStatus>,
    pub notes: Field<String>,
    /// The customer's id in another system (a shop, a marketing list).
    pub external_id: Field<String>,
}

/// Validated changes: `None` leaves a field as it is; for nullable fields
/// `Some(None)` clears it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CustomerChanges {
    pub phone_number: Option<PhoneNumber>,
    pub first_name: Option<Option<String>>,
    pub last_name: Option<Option<String>>,
    pub email: Option<Option<String>>,
    pub avatar: Option<Option<String>>,
    pub alternative_phones: Option<Vec<PhoneNumber>>,
    pub address: Option<Option<Address>>,
    pub tags: Option<Vec<String>>,
    pub segment: Option<CustomerSegment>,
    pub source: Option<CustomerSource>,
    pub custom_fields: Option<Map<String, Value>>,
    pub preferences: Option<Preferences>,
    pub status: Option<CustomerStatus>,
    pub notes: Option<Option<String>>,
    /// Trimmed; unique per tenant (the database's index says so).
    pub external_id: Option<Option<String>>,
}

/// Whether input creates a customer (phone required) or updates one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Create,
    Update,
}

/// Most tags one customer may carry.
pub const MAX_TAGS: usize = 100;
/// Longest tag, in characters.
pub const MAX_TAG_CHARS: usize = 64;
/// Most alternative phone numbers one customer may carry.
pub const MAX_ALTERNATIVE_PHONES: usize = 20;
const MAX_NAME_CHARS: usize = 200;
const MAX_EMAIL_CHARS: usize = 254;
const MAX_URL_CHARS: usize = 2048;
const MAX_NOTES_CHARS: usize = 10_000;
const MAX_CUSTOM_FIELDS: usize = 100;
/// Longest external id, in characters.
pub const MAX_EXTERNAL_ID_CHARS: usize = 200;

/// Collects field errors while input is checked, so one answer names them all.
#[derive(Debug, Default)]
pub struct Errors(pub Vec<FieldError>);

impl Errors {
    /// Records an error for `field`.
    pub fn push(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push(FieldError::new(field, message));
    }
}

/// Checks free text: no NUL, at most `max` characters. Tabs and newlines are fine.
pub fn check_text(errors: &mut Errors, field: &str, text: &str, max: usize) -> bool {
    if text.contains('\0') {
        errors.push(field, "must not contain NUL characters");
        false
    } else if text.chars().count() > max {
        errors.push(field, format!("must be at most {max} characters"));
        false
    } else {
        true
    }
}

/// An optional text field: trimmed, empty means none.
fn optional_text(
    errors: &mut Errors,
    field: &str,
    value: Field<String>,
    max: usize,
) -> Option<Option<String>> {
    match value {
        Field::Absent => None,
        Field::Null => Some(None),
        Field::Value(text) => {
            let text = text.trim();
            if !check_text(errors, field, text, max) {
                return None;
            }
            Some((!text.is_empty()).then(|| text.to_owned()))
        }
    }
}

/// An optional free-text field (notes): kept exactly as written, outer
/// whitespace and all; only a blank one means none.
fn free_text(
    errors: &mut Errors,
    field: &str,
    value: Field<String>,
    max: usize,
) -> Option<Option<String>> {
    match value {
        Field::Value(text) if !text.trim().is_empty() => {
            check_text(errors, field, &text, max).then_some(Some(text))
        }
        Field::Value(_) | Field::Null => Some(None),
        Field::Absent => None,
    }
}

/// Whether an address looks like `local@domain.tld`.
fn looks_like_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !email.chars().any(char::is_whitespace)
}

/// Whether `t` is a 24-hour `HH:MM` time.
fn is_clock_time(t: &str) -> bool {
    let Some((h, m)) = t.split_once(':') else {
        return false;
    };
    h.len() == 2
        && m.len() == 2
        && h.parse::<u8>().is_ok_and(|h| h < 24)
        && m.parse::<u8>().is_ok_and(|m| m < 60)
}

/// Cleans a tag list: trimmed, empties dropped, duplicates removed (first
/// kept), order kept; case-sensitive. Errors for overlong tags.
pub fn clean_tags(errors: &mut Errors, field: &str, tags: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(tags.len());
    for (i, tag) in tags.iter().enumerate() {
        let tag = tag.trim();
        if tag.is_empty() || out.iter().any(|t| t == tag) {
            continue;
        }
        if check_text(errors, &format!("{field}[{i}]"), tag, MAX_TAG_CHARS) {
            out.push(tag.to_owned());
        }
    }
    check_tag_count(errors, field, &out);
    out
}

/// Refuses more than [`MAX_TAGS`] tags.
pub fn check_tag_count(errors: &mut Errors, field: &str, tags: &[String]) {
    if tags.len() > MAX_TAGS {
        errors.push(field, format!("at most {MAX_TAGS} tags per customer"));
    }
}

impl CustomerInput {
    /// Applies every input rule; `region` reads numbers without a country code.
    pub fn validate(
        self,
        mode: Mode,
        region: phonenumber::country::Id,
    ) -> Result<CustomerChanges, Vec<FieldError>> {
        let mut e = Errors::default();
        let mut out = CustomerChanges::default();

        match self.phone_number {
            Field::Value(p) => match phone::normalize(&p, region) {
                Ok(p) => out.phone_number = Some(p),
                Err(err) => e.push("phoneNumber", err.to_string()),
            },
            Field::Null => e.push("phoneNumber", "phone number is required"),
            Field::Absent if mode == Mode::Create => {
                e.push("phoneNumber", "phone number is required")
            }
            Field::Absent => {}
        }

        out.first_name = optional_text(&mut e, "firstName", self.first_name, MAX_NAME_CHARS);
        out.last_name = optional_text(&mut e, "lastName", self.last_name, MAX_NAME_CHARS);
        out.notes = free_text(&mut e, "notes", self.notes, MAX_NOTES_CHARS);
        out.external_id = optional_text(
            &mut e,
            "externalId",
            self.external_id,
            MAX_EXTERNAL_ID_CHARS,
        );

        out.email = optional_text(&mut e, "email", self.email, MAX_EMAIL_CHARS).map(|email| {
            let email = email.map(|m| m.to_lowercase());
            if email.as_deref().is_some_and(|m| !looks_like_email(m)) {
                e.push("email", "must be an email address");
            }
            email
        });

        out.avatar = optional_text(&mut e, "avatar", self.avatar, MAX_URL_CHARS).inspect(|url| {
            if url
                .as_deref()
                .is_some_and(|u| !(u.starts_with("https://") || u.starts_with("http://")))
            {
                e.push("avatar", "must be an http(s) URL");
            }
        });

        out.alternative_phones = match self.alternative_phones {
            Field::Absent => None,
            Field::Null => Some(Vec::new()),
            Field::Value(list) => {
                if list.len() > MAX_ALTERNATIVE_PHONES {
                    e.push(
                        "alternativePhones",
                        format!("at most {MAX_ALTERNATIVE_PHONES} numbers"),
                    );
                }
                let mut phones: Vec<PhoneNumber> = Vec::with_capacity(list.len());
                for (i, p) in list.iter().enumerate() {
                    match phone::normalize(p, region) {
                        Ok(p) if !phones.contains(&p) => phones.push(p),
                        Ok(_) => {}
                        Err(err) => e.push(format!("alternativePhones[{i}]"), err.to_string()),
                    }
                }
                Some(phones)
            }
        };
        // A customer's own primary number is not also an alternative of it.
        if let (Some(alts), Some(primary)) = (&mut out.alternative_phones, &out.phone_number) {
            alts.retain(|p| p != primary);
        }

        out.address = match self.address {
            Field::Absent => None,
            Field::Null => Some(None),
            Field::Value(a) => Some(Some(clean_address(&mut e, a))),
        };

        out.tags = match self.tags {
            Field::Absent => None,
            Field::Null => Some(Vec::new()),
            Field::Value(tags) => Some(clean_tags(&mut e, "tags", tags)),
        };

        out.segment = required_enum(&mut e, "segment", self.segment);
        out.source = required_enum(&mut e, "source", self.source);
        out.status = required_enum(&mut e, "status", self.status);
        if out.status == Some(CustomerStatus::Blocked) {
            e.push(
                "status",
                "blocked is set with the block route (setCustomerBlocked), not here",
            );
        }

        out.custom_fields = match self.custom_fields {
            Field::Absent => None,
            Field::Null => Some(Map::new()),
            Field::Value(map) => {
                if map.len() > MAX_CUSTOM_FIELDS {
                    e.push(
                        "customFields",
                        format!("at most {MAX_CUSTOM_FIELDS} fields"),
                    );
                }
                for (key, value) in &map {
                    let field = format!("customFields.{key}");
                    if key.trim().is_empty() {
                        e.push("customFields", "keys must not be empty");
                    }
                    check_text(&mut e, &field, key, MAX_NAME_CHARS);
                    if value.to_string().contains("\\u0000") {
                        e.push(field, "must not contain NUL characters");
                    }
                }
                Some(map)
            }
        };

        out.preferences = match self.preferences {
            Field::Absent => None,
            Field::Null => Some(Preferences::default()),
            Field::Value(p) => Some(clean_preferences(&mut e, p)),
        };

        if e.0.is_empty() {
            Ok(out)
        } else {
            Err(e.0)
        }
    }
}

fn required_enum<T>(e: &mut Errors, field: &str, value: Field<T>) -> Option<T> {
    match value {
        Field::Absent => None,
        Field::Null => {
            e.push(field, "must not be null");
            None
        }
        Field::Value(v) => Some(v),
    }
}

fn clean_address(e: &mut Errors, a: Address) -> Address {
    let mut part = |name: &str, v: Option<String>| {
        optional_text(
            e,
            &format!("address.{name}"),
            v.map_or(Field::Null, Field::Value),
            MAX_NAME_CHARS,
        )
        .flatten()
    };
    let address = Address {
        street: part("street", a.street),
        city: part("city", a.city),
        state: part("state", a.state),
        country: part("country", a.country),
        postal_code: part("postalCode", a.postal_code),
        coordinates: a.coordinates,
    };
    if let Some(c) = address.coordinates {
        if !(-90.0..=90.0).contains(&c.latitude) {
            e.push("address.coordinates.latitude", "must be between -90 and 90");
        }
        if !(-180.0..=180.0).contains(&c.longitude) {
            e.push(
                "address.coordinates.longitude",
                "must be between -180 and 180",
            );
        }
    }
    address
}

fn clean_preferences(e: &mut Errors, p: PreferencesInput) -> Preferences {
    let language = match p.language.as_deref().map(str::trim) {
        None | Some("") => DEFAULT_LANGUAGE.to_owned(),
        Some(lang) => {
            if !(lang.len() <= 35
                && lang
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'))
            {
                e.push(
                    "preferences.language",
                    "must be a language code such as es or en-US",
                );
            }
            lang.to_owned()
        }
    };
    let communication_hours = p.communication_hours.inspect(|h| {
        for (name, t) in [("start", &h.start), ("end", &h.end)] {
            if t.as_deref().is_some_and(|t| !is_clock_time(t)) {
                e.push(
                    format!("preferences.communicationHours.{name}"),
                    "must be a time as HH:MM",
                );
            }
        }
    });
    let preferred_agent_id = p
        .preferred_agent_id
        .filter(|id| !id.trim().is_empty())
        .and_then(|id| {
            let parsed = uuid::Uuid::parse_str(id.trim()).ok();
            if parsed.is_none() {
                e.push("preferences.preferredAgentId", "unknown agent");
            }
            parsed
        });
    Preferences {
        language,
        communication_hours,
        preferred_agent_id,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MX: phonenumber::country::Id = phonenumber::country::Id::MX;

    fn fields(result: Result<CustomerChanges, Vec<FieldError>>) -> Vec<String> {
        result
            .err()
            .unwrap_or_default()
            .into_iter()
            .map(|f| f.field)
            .collect()
    }

    #[test]
    fn create_needs_a_phone_number_but_update_does_not() {
        assert_eq!(
            fields(CustomerInput::default().validate(Mode::Create, MX)),
            ["phoneNumber"]
        );
        assert!(CustomerInput::default().validate(Mode::Update, MX).is_ok());
    }

    #[test]
    fn email_is_trimmed_lowercased_and_checked() {
        let input = |email: &str| CustomerInput {
            email: Field::Value(email.into()),
            ..Default::default()
        };
        let ok = input("  John@Example.COM ")
            .validate(Mode::Update, MX)
            .expect("valid");
        assert_eq!(ok.email, Some(Some("john@example.com".into())));
        for bad in ["john", "john@", "@x.com", "a b@x.com", "a@x", "a@@x.com"] {
            assert_eq!(
                fields(input(bad).validate(Mode::Update, MX)),
                ["email"],
                "{bad}"
            );
        }
        assert_eq!(
            input("  ").validate(Mode::Update, MX).expect("valid").email,
            Some(None)
        );
    }

    #[test]
    fn tags_are_trimmed_deduplicated_and_bounded() {
        let mut e = Errors::default();
        let tags = clean_tags(
            &mut e,
            "tags",
            vec![" a ".into(), "".into(), "b".into(), "a".into(), "A".into()],
        );
        assert_eq!(tags, ["a", "b", "A"]);
        assert!(e.0.is_empty());
        clean_tags(&mut e, "tags", vec!["x".repeat(65)]);
        clean_tags(&mut e, "tags", (0..101).map(|i| i.to_string()).collect());
        assert_eq!(
            e.0.iter().map(|f| f.field.as_str()).collect::<Vec<_>>(),
            ["tags[0]", "tags"]
        );
    }

    #[test]
    fn blocked_status_nul_characters_and_null_enums_are_refused() {
        let input = CustomerInput {
            status: Field::Value(CustomerStatus::Blocked),
            notes: Field::Value("a\0b".into()),
            segment: Field::Null,
            ..Default::default()
        };
        assert_eq!(
            fields(input.validate(Mode::Update, MX)),
            ["notes", "segment", "status"]
        );
    }

    #[test]
    fn notes_keep_their_outer_whitespace_but_names_are_trimmed() {
        let input = CustomerInput {
            notes: Field::Value("\tindented\n".into()),
            first_name: Field::Value("  Ana ".into()),
            ..Default::default()
        };
        let out = input.validate(Mode::Update, MX).expect("valid");
        assert_eq!(out.notes, Some(Some("\tindented\n".into())));
        assert_eq!(out.first_name, Some(Some("Ana".into())));
    }

    #[test]
    fn text_may_hold_tabs_and_newlines() {
        let input = CustomerInput {
            notes: Field::Value("line one\n\tline two".into()),
            ..Default::default()
        };
        assert_eq!(
            input.validate(Mode::Update, MX).expect("valid").notes,
            Some(Some("line one\n\tline two".into()))
        );
    }

    #[test]
    fn alternative_phones_are_normalized_and_exclude_the_primary() {
        let input = CustomerInput {
            phone_number: Field::Value("+52 999 123 4567".into()),
            alternative_phones: Field::Value(vec![
                "9991234567".into(),
                "52 999 765 4321".into(),
                "9997654321".into(),
            ]),
            ..Default::default()
        };
        let out = input.validate(Mode::Create, MX).expect("valid");
        let alts: Vec<_> = out
            .alternative_phones
            .unwrap_or_default()
            .iter()
            .map(|p| p.to_string())
            .collect();
        assert_eq!(alts, ["529997654321"]);
    }

    #[test]
    fn preferences_check_hours_and_language() {
        let input = CustomerInput {
            preferences: Field::Value(PreferencesInput {
                language: Some("en US".into()),
                communication_hours: Some(CommunicationHours {
                    start: Some("9:00".into()),
                    end: Some("18:00".into()),
                }),
                preferred_agent_id: None,
            }),
            ..Default::default()
        };
        assert_eq!(
            fields(input.validate(Mode::Update, MX)),
            [
                "preferences.language",
                "preferences.communicationHours.start"
            ]
        );
    }

    #[test]
    fn enums_read_their_lowercase_spellings_only() {
        assert_eq!(
            CustomerSource::parse("social_media"),
            Some(CustomerSource::SocialMedia)
        );
        assert_eq!(CustomerStatus::parse("Active"), None);
        assert_eq!(
            CustomerSortField::parse("lastInteraction"),
            Some(CustomerSortField::LastInteraction)
        );
    }
}
