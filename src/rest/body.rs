//! Reading the legacy service's bodies and query strings into service input,
//! and writing service output as its documents (`_id` beside `id`).

use serde::Serialize;
use serde_json::{Map, Value};

use super::QueryPairs;
use crate::domain::customer::{
    Address, CommunicationHours, Coordinates, CustomerInput, CustomerSegment, CustomerSortField,
    CustomerSource, CustomerStatus, Field, PreferencesInput, SortOrder,
};
use crate::domain::page::PageRequest;
use crate::error::{Error, FieldError, Result};
use crate::service::customers::{CustomerFilter, ListQuery};
use crate::service::Columns;

/// A service struct as a legacy document: `_id` first, then its own fields (`id` among them).
#[derive(Serialize)]
pub struct Doc<'a, T: Serialize> {
    #[serde(rename = "_id")]
    pub _id: String,
    #[serde(flatten)]
    pub inner: &'a T,
}

/// Defines the schema of `Doc<T>` under a name of its own: `T`'s schema
/// with `_id` (the same value as `id`) added. (Fields of type `Doc` point at
/// it with `#[schema(value_type = ...)]`.)
macro_rules! doc_schema {
    ($(#[$meta:meta])* $name:ident, $inner:ty) => {
        $(#[$meta])*
        pub struct $name;

        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                use utoipa::openapi::schema::{AllOfBuilder, ObjectBuilder, Type};
                use utoipa::openapi::{KnownFormat, SchemaFormat};
                let id = ObjectBuilder::new()
                    .schema_type(Type::String)
                    .format(Some(SchemaFormat::KnownFormat(KnownFormat::Uuid)))
                    .description(Some("The same value as `id`, as the legacy service sent it."));
                AllOfBuilder::new()
                    .item(ObjectBuilder::new().property("_id", id).required("_id"))
                    .item(utoipa::openapi::Ref::from_schema_name(
                        <$inner as utoipa::ToSchema>::name(),
                    ))
                    .into()
            }
        }

        impl utoipa::ToSchema for $name {
            fn schemas(schemas: &mut Schemas) {
                register::<$inner>(schemas);
            }
        }
    };
}

/// The named schemas an OpenAPI document collects.
pub type Schemas = Vec<(
    String,
    utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
)>;

/// Adds `T`'s schema under its name, and the schemas it refers to: what a
/// hand-written schema that refers to `T` must register.
pub fn register<T: utoipa::ToSchema>(schemas: &mut Schemas) {
    schemas.push((T::name().into_owned(), T::schema()));
    T::schemas(schemas);
}

doc_schema!(
    /// The schema of a customer document.
    CustomerDocument,
    crate::service::customers::Customer
);
doc_schema!(
    /// The schema of a conversation document.
    ConversationDocument,
    crate::service::conversations::Conversation
);

/// Wraps a customer as a document.
pub fn customer_doc(
    c: &crate::service::customers::Customer,
) -> Doc<'_, crate::service::customers::Customer> {
    Doc {
        _id: c.id.to_string(),
        inner: c,
    }
}

/// Wraps a conversation as a document.
pub fn conversation_doc(
    c: &crate::service::conversations::Conversation,
) -> Doc<'_, crate::service::conversations::Conversation> {
    Doc {
        _id: c.id.to_string(),
        inner: c,
    }
}

/// Collects type errors while a body is read.
struct Reader<'a> {
    map: &'a Map<String, Value>,
    errors: Vec<FieldError>,
}

impl<'a> Reader<'a> {
    fn raw(&self, key: &str) -> Field<&'a Value> {
        match self.map.get(key) {
            None => Field::Absent,
            Some(Value::Null) => Field::Null,
            Some(v) => Field::Value(v),
        }
    }

    fn fail<T>(&mut self, field: &str, message: &str) -> Field<T> {
        self.errors.push(FieldError::new(field, message));
        Field::Absent
    }

    /// A string; numbers are taken as their digits, as Mongoose cast them.
    fn string(&mut self, key: &str) -> Field<String> {
        match self.raw(key) {
            Field::Value(v) => match as_string(v) {
                Some(s) => Field::Value(s),
                None => self.fail(key, "must be a string"),
            },
            Field::Null => Field::Null,
            Field::Absent => Field::Absent,
        }
    }

    fn strings(&mut self, key: &str) -> Field<Vec<String>> {
        match self.raw(key) {
            Field::Value(Value::Array(items)) => {
                match items.iter().map(as_string).collect::<Option<Vec<_>>>() {
                    Some(list) => Field::Value(list),
                    None => self.fail(key, "must be a list of strings"),
                }
            }
            Field::Value(_) => self.fail(key, "must be a list of strings"),
            Field::Null => Field::Null,
            Field::Absent => Field::Absent,
        }
    }

    fn enumeration<T>(
        &mut self,
        key: &str,
        parse: fn(&str) -> Option<T>,
        expected: fn() -> String,
    ) -> Field<T> {
        match self.raw(key) {
            Field::Value(Value::String(s)) => match parse(s) {
                Some(v) => Field::Value(v),
                None => {
                    self.errors.push(FieldError::new(key, expected()));
                    Field::Absent
                }
            },
            Field::Value(_) => {
                self.errors.push(FieldError::new(key, expected()));
                Field::Absent
            }
            Field::Null => Field::Null,
            Field::Absent => Field::Absent,
        }
    }

    fn object(&mut self, key: &str) -> Field<&'a Map<String, Value>> {
        match self.raw(key) {
            Field::Value(Value::Object(m)) => Field::Value(m),
            Field::Value(_) => self.fail(key, "must be an object"),
            Field::Null => Field::Null,
            Field::Absent => Field::Absent,
        }
    }
}

fn as_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn optional_string(
    map: &Map<String, Value>,
    key: &str,
    prefix: &str,
    errors: &mut Vec<FieldError>,
) -> Option<String> {
    match map.get(key) {
        None | Some(Value::Null) => None,
        Some(v) => as_string(v).or_else(|| {
            errors.push(FieldError::new(
                format!("{prefix}.{key}"),
                "must be a string",
            ));
            None
        }),
    }
}

fn address(map: &Map<String, Value>, errors: &mut Vec<FieldError>) -> Address {
    let mut part = |key: &str| optional_string(map, key, "address", errors);
    let (street, city, state, country, postal_code) = (
        part("street"),
        part("city"),
        part("state"),
        part("country"),
        part("postalCode"),
    );
    let coordinates = match map.get("coordinates") {
        None | Some(Value::Null) => None,
        Some(v) => match serde_json::from_value::<Coordinates>(v.clone()) {
            Ok(c) => Some(c),
            Err(_) => {
                errors.push(FieldError::new(
                    "address.coordinates",
                    "must be {latitude, longitude} numbers",
                ));
                None
            }
        },
    };
    Address {
        street,
        city,
        state,
        country,
        postal_code,
        coordinates,
    }
}

fn preferences(map: &Map<String, Value>, errors: &mut Vec<FieldError>) -> PreferencesInput {
    let language = optional_string(map, "language", "preferences", errors);
    let communication_hours = match map.get("communicationHours") {
        None | Some(Value::Null) => None,
        Some(Value::Object(h)) => Some(CommunicationHours {
            start: optional_string(h, "start", "preferences.communicationHours", errors),
            end: optional_string(h, "end", "preferences.communicationHours", errors),
        }),
        Some(_) => {
            errors.push(FieldError::new(
                "preferences.communicationHours",
                "must be an object",
            ));
            None
        }
    };
    // The legacy model calls it preferredAgent; GraphQL's input preferredAgentId.
    let preferred_agent_id = optional_string(map, "preferredAgentId", "preferences", errors)
        .or_else(|| optional_string(map, "preferredAgent", "preferences", errors));
    PreferencesInput {
        language,
        communication_hours,
        preferred_agent_id,
    }
}

/// Reads a customer body. Unknown and read-only keys are ignored: frontends
/// send whole documents back on PUT.
pub fn customer_input(
    map: &Map<String, Value>,
) -> std::result::Result<CustomerInput, Vec<FieldError>> {
    let mut r = Reader {
        map,
        errors: Vec::new(),
    };
    let mut input = CustomerInput {
        phone_number: r.string("phoneNumber"),
        first_name: r.string("firstName"),
        last_name: r.string("lastName"),
        email: r.string("email"),
        avatar: r.string("avatar"),
        alternative_phones: r.strings("alternativePhones"),
        tags: r.strings("tags"),
        segment: r.enumeration("segment", CustomerSegment::parse, CustomerSegment::expected),
        source: r.enumeration("source", CustomerSource::parse, CustomerSource::expected),
        status: r.enumeration("status", CustomerStatus::parse, CustomerStatus::expected),
        notes: r.string("notes"),
        external_id: r.string("externalId"),
        ..Default::default()
    };
    input.custom_fields = r.object("customFields").map(Clone::clone);
    let address_map = r.object("address");
    let preferences_map = r.object("preferences");
    let mut errors = r.errors;
    input.address = address_map.map(|m| address(m, &mut errors));
    input.preferences = preferences_map.map(|m| preferences(m, &mut errors));
    if errors.is_empty() {
        Ok(input)
    } else {
        Err(errors)
    }
}

fn parse_enum<T>(
    q: &QueryPairs,
    key: &str,
    parse: fn(&str) -> Option<T>,
    expected: fn() -> String,
) -> Result<Option<T>> {
    match q.get(key).map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => parse(v)
            .map(Some)
            .ok_or_else(|| Error::invalid(key, expected())),
    }
}

fn parse_int(q: &QueryPairs, key: &str) -> Result<Option<i64>> {
    match q.get(key).map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => v
            .parse()
            .map(Some)
            .map_err(|_| Error::invalid(key, "must be a whole number")),
    }
}

/// `page` and `limit` from a query string.
pub fn page(q: &QueryPairs) -> Result<PageRequest> {
    PageRequest::new(parse_int(q, "page")?, parse_int(q, "limit")?, 20)
}

/// The list filters of a query string: search, status, segment, source, tags.
pub fn filter(q: &QueryPairs) -> Result<CustomerFilter> {
    Ok(CustomerFilter {
        search: q
            .get("search")
            .map(str::to_owned)
            .filter(|s| !s.trim().is_empty()),
        status: parse_enum(q, "status", CustomerStatus::parse, CustomerStatus::expected)?,
        segment: parse_enum(
            q,
            "segment",
            CustomerSegment::parse,
            CustomerSegment::expected,
        )?,
        source: parse_enum(q, "source", CustomerSource::parse, CustomerSource::expected)?,
        tags: q.list("tags"),
    })
}

/// A whole list request from a query string.
pub fn list_query(q: &QueryPairs) -> Result<ListQuery> {
    Ok(ListQuery {
        filter: filter(q)?,
        page: page(q)?,
        sort_by: parse_enum(
            q,
            "sortBy",
            CustomerSortField::parse,
            CustomerSortField::expected,
        )?
        .unwrap_or(CustomerSortField::LastInteraction),
        sort_order: parse_enum(q, "sortOrder", SortOrder::parse, SortOrder::expected)?
            .unwrap_or(SortOrder::Desc),
        // A REST list shows whole customers.
        columns: Columns::ALL,
    })
}

/// A boolean query parameter (`true`/`false`, absent is `default`).
pub fn flag(q: &QueryPairs, key: &str, default: bool) -> Result<bool> {
    match q.get(key).map(str::trim) {
        None | Some("") => Ok(default),
        Some("true") | Some("1") => Ok(true),
        Some("false") | Some("0") => Ok(false),
        Some(_) => Err(Error::invalid(key, "must be true or false")),
    }
}

#[cfg(test)]
mod tests {
    /// Property tests (`cargo test --lib prop`; `PROPTEST_CASES` sets how many cases).
    mod properties {
        use proptest::prelude::*;

        use super::super::*;
        use crate::domain::page::MAX_LIMIT;

        /// Keys the list reads, a bracketed one, and one it ignores.
        const KEYS: [&str; 12] = [
            "search",
            "status",
            "segment",
            "source",
            "tags",
            "tags[]",
            "page",
            "limit",
            "sortBy",
            "sortOrder",
            "permanent",
            "other",
        ];

        /// Values near the valid ones and anything else.
        fn value() -> impl Strategy<Value = String> {
            prop_oneof![
                any::<String>(),
                "-?[0-9]{0,25}",
                " ?(active|vip|new|whatsapp|social_media|createdAt|firstName|asc|desc|true|false|0|1) ?",
                "[a-zA-Z_ ,]{0,12}",
            ]
        }

        fn pairs() -> impl Strategy<Value = Vec<(String, String)>> {
            prop::collection::vec(
                (
                    prop::sample::select(KEYS.to_vec()).prop_map(str::to_owned),
                    value(),
                ),
                0..10,
            )
        }

        fn ok_or_bad_input<T: std::fmt::Debug>(result: &Result<T>) -> bool {
            matches!(result, Ok(_) | Err(Error::BadUserInput { .. }))
        }

        proptest! {
            #[test]
            fn any_query_gives_a_list_request_or_bad_input(pairs in pairs()) {
                let q = QueryPairs(pairs);
                prop_assert!(ok_or_bad_input(&list_query(&q)), "{:?}", q.0);
                prop_assert!(ok_or_bad_input(&flag(&q, "permanent", false)), "{:?}", q.0);
            }

            #[test]
            fn any_raw_query_string_gives_a_list_request_or_bad_input(
                query in prop_oneof![
                    any::<String>(),
                    "((search|status|page|limit|sortBy|sortOrder|tags)=[a-z0-9%+\\-]{0,8}&?){0,6}",
                ],
            ) {
                if let Ok(q) = QueryPairs::parse(&query) {
                    prop_assert!(ok_or_bad_input(&list_query(&q)), "{query:?}");
                }
            }

            #[test]
            fn a_valid_list_query_reads_as_what_it_says(
                sort_by in prop::sample::select(CustomerSortField::ALL.to_vec()),
                sort_order in prop::sample::select(SortOrder::ALL.to_vec()),
                status in prop::option::of(prop::sample::select(CustomerStatus::ALL.to_vec())),
                segment in prop::option::of(prop::sample::select(CustomerSegment::ALL.to_vec())),
                source in prop::option::of(prop::sample::select(CustomerSource::ALL.to_vec())),
                page in prop::option::of(1..=i64::MAX),
                limit in prop::option::of(prop_oneof![1..=200i64, 1..=i64::MAX]),
                search in prop::option::of("\\PC*\\S\\PC*"),
                tags in prop::collection::vec("[^,\\s]{1,10}", 0..5),
                pad in "[ ]{0,2}",
            ) {
                let mut pairs = vec![
                    ("sortBy".to_owned(), format!("{pad}{}{pad}", sort_by.as_str())),
                    ("sortOrder".to_owned(), sort_order.as_str().to_owned()),
                ];
                let mut add = |key: &str, value: Option<String>| {
                    if let Some(v) = value {
                        pairs.push((key.to_owned(), v));
                    }
                };
                add("status", status.map(|s| s.as_str().to_owned()));
                add("segment", segment.map(|s| s.as_str().to_owned()));
                add("source", source.map(|s| s.as_str().to_owned()));
                add("page", page.map(|p| format!("{pad}{p}")));
                add("limit", limit.map(|l| l.to_string()));
                add("search", search.clone());
                add("tags", Some(tags.join(",")));
                let query = serde_urlencoded::to_string(&pairs).expect("encodes");
                let q = QueryPairs::parse(&query).expect("reads");
                let got = list_query(&q).expect("valid");
                prop_assert_eq!(got.sort_by, sort_by);
                prop_assert_eq!(got.sort_order, sort_order);
                prop_assert_eq!(got.filter.status, status);
                prop_assert_eq!(got.filter.segment, segment);
                prop_assert_eq!(got.filter.source, source);
                prop_assert_eq!(got.filter.search, search);
                prop_assert_eq!(got.filter.tags, tags);
                let want_page = page.map_or(1, |p| p.unsigned_abs().min(u64::from(u32::MAX)));
                prop_assert_eq!(got.page.page, want_page);
                prop_assert_eq!(got.page.limit, limit.map_or(20, |l| l.unsigned_abs().min(MAX_LIMIT)));
                prop_assert!(got.page.limit <= 100);
            }

            #[test]
            fn a_page_or_limit_that_is_not_a_whole_number_of_one_or_more_is_refused(
                key in prop::sample::select(vec!["page", "limit"]),
                value in prop_oneof![
                    (i64::MIN..=0).prop_map(|n| n.to_string()),
                    "[1-9][0-9]{19,29}",
                    "[0-9]*[a-z.,][0-9]*",
                ],
            ) {
                let q = QueryPairs(vec![(key.to_owned(), value.clone())]);
                let refused = matches!(
                    list_query(&q),
                    Err(Error::BadUserInput { ref fields, .. }) if fields.iter().any(|f| f.field == key)
                );
                prop_assert!(refused, "{}={:?}", key, value);
            }

            #[test]
            fn a_flag_is_true_false_its_default_or_bad_input(value in value(), default in any::<bool>()) {
                let q = QueryPairs(vec![("permanent".to_owned(), value.clone())]);
                let want = match value.trim() {
                    "" => Some(default),
                    "true" | "1" => Some(true),
                    "false" | "0" => Some(false),
                    _ => None,
                };
                match flag(&q, "permanent", default) {
                    Ok(got) => prop_assert_eq!(Some(got), want, "{:?}", value),
                    Err(Error::BadUserInput { .. }) => prop_assert_eq!(want, None, "{:?}", value),
                    Err(other) => prop_assert!(false, "{value:?}: {other:?}"),
                }
            }
        }
    }
}
