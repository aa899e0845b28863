//! Keyset pagination of customers (the GraphQL connection): opaque cursors
//! that carry a row's sort value and id, and windows read after or before
//! them over the same filter and order as [`super::read::list`].

use chrono::{DateTime, Utc};
use entity::customer;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect};
use uuid::Uuid;

use super::filter::{order, reverse_order, sort_key, CustomerFilter, SearchPath, SortKey};
use super::read::{page_columns, read_all, read_columns, reads_hits_first};
use super::view::Customer;
use crate::auth::Actor;
use crate::domain::customer::{CustomerSortField, SortOrder};
use crate::domain::time;
use crate::error::{Error, FieldError, Result};
use crate::service::{plans, scope, Columns, Ctx};

/// A cursor-pagination request: filter, order, and a window of `first` rows
/// after a cursor or `last` rows before one.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectionQuery {
    pub filter: CustomerFilter,
    pub sort_by: CustomerSortField,
    pub sort_order: SortOrder,
    pub first: Option<i64>,
    pub after: Option<String>,
    pub last: Option<i64>,
    pub before: Option<String>,
    /// Whether to count the filter's customers (`totalCount`).
    pub with_total: bool,
    /// The columns of what the caller shows of each customer (the rest of
    /// its fields are left blank: [`Columns`]); [`Columns::ALL`] for all.
    pub columns: Columns,
}

/// One page of a connection: its customers, whose opaque cursors are
/// written when asked for ([`ConnectionPage::cursor`]).
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectionPage {
    pub items: Vec<Customer>,
    pub has_next_page: bool,
    pub has_previous_page: bool,
    /// Customers matching the filter, whatever the cursors; none unless asked for.
    pub total_count: Option<u64>,
    /// What the page is sorted by, which its cursors carry.
    pub sort_by: CustomerSortField,
}

impl ConnectionPage {
    /// The opaque cursor of `customer`, an item of this page: a page
    /// shown without its edges' cursors (a list of `nodes`) writes none.
    pub fn cursor(&self, customer: &Customer) -> Result<String> {
        encode_cursor(customer, self.sort_by)
    }
}

/// Page size when neither `first` nor `last` is given.
const DEFAULT_CONNECTION_SIZE: u64 = 20;
/// Longest cursor accepted; real ones are far shorter.
const MAX_CURSOR_CHARS: usize = 4096;

/// A cursor's sort value, typed as its column.
#[derive(Debug, Clone, PartialEq)]
enum CursorValue {
    Time(DateTime<Utc>),
    Text(String),
}

impl From<CursorValue> for sea_orm::Value {
    fn from(v: CursorValue) -> Self {
        match v {
            CursorValue::Time(t) => t.into(),
            CursorValue::Text(s) => s.into(),
        }
    }
}

/// A decoded cursor: the row's sort value (none for a null) and id.
#[derive(Debug, Clone, PartialEq)]
struct Cursor {
    value: Option<CursorValue>,
    id: Uuid,
}

/// What a cursor carries, before base64url: `{"s": sortBy, "v": value or null, "id": uuid}`.
#[derive(serde::Serialize, serde::Deserialize)]
struct CursorJson {
    s: String,
    v: Option<String>,
    id: Uuid,
}

/// The sort value of a customer as a cursor writes it; timestamps in RFC 3339
/// with milliseconds, which is exactly what is stored, so they round-trip.
fn cursor_value(c: &Customer, field: CustomerSortField) -> Option<String> {
    let t = |t: &DateTime<Utc>| time::format(t);
    match field {
        CustomerSortField::LastInteraction => Some(t(&c.last_interaction)),
        CustomerSortField::CreatedAt => Some(t(&c.created_at)),
        CustomerSortField::UpdatedAt => Some(t(&c.updated_at)),
        CustomerSortField::PhoneNumber => Some(c.phone_number.clone()),
        CustomerSortField::FirstContact => c.first_contact.as_ref().map(t),
        CustomerSortField::LastMessageAt => c.last_message_at.as_ref().map(t),
        CustomerSortField::FirstName => c.first_name.clone(),
        CustomerSortField::LastName => c.last_name.clone(),
        CustomerSortField::Email => c.email.clone(),
    }
}

/// The opaque cursor of a customer in a list sorted by `field`.
fn encode_cursor(c: &Customer, field: CustomerSortField) -> Result<String> {
    use base64::Engine;
    let json = serde_json::to_vec(&CursorJson {
        s: field.as_str().to_owned(),
        v: cursor_value(c, field),
        id: c.id.uuid(),
    })
    .map_err(Error::internal)?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json))
}

/// Reads a cursor given as `argument`; anything but a cursor this server
/// made for the same `sortBy` is BAD_USER_INPUT.
fn decode_cursor(text: &str, field: CustomerSortField, argument: &str) -> Result<Cursor> {
    use base64::Engine;
    let malformed = || Error::invalid(argument, "not a cursor of this list");
    if text.len() > MAX_CURSOR_CHARS {
        return Err(malformed());
    }
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text)
        .map_err(|_| malformed())?;
    let json: CursorJson = serde_json::from_slice(&bytes).map_err(|_| malformed())?;
    if json.s != field.as_str() {
        return Err(Error::invalid(
            argument,
            "the cursor belongs to a list with another sortBy",
        ));
    }
    let key = sort_key(field);
    let value = match json.v {
        None if key.nullable => None,
        None => return Err(malformed()),
        // Not `parse_from_rfc3339`: a time the server stores may lie just
        // outside years 0000-9999 (an RFC 3339 input with an offset, in UTC),
        // and `time::format` then writes a signed year such as
        // `+10000-01-01T...`, which chrono's own parser reads back.
        Some(v) if key.time => Some(CursorValue::Time(
            v.parse::<DateTime<Utc>>().map_err(|_| malformed())?,
        )),
        Some(v) => Some(CursorValue::Text(v)),
    };
    Ok(Cursor { value, id: json.id })
}

/// Rows strictly after (`after == true`) or strictly before a cursor in the
/// list order `dir`, nulls last, ties broken on id in the same direction.
///
/// DESC after (v, id0): `col < v OR (col = v AND id < id0) OR col IS NULL`;
/// after (null, id0): `col IS NULL AND id < id0`. Before (v, id0):
/// `col > v OR (col = v AND id > id0)`; before (null, id0):
/// `col IS NOT NULL OR (col IS NULL AND id > id0)`. ASC swaps `<` and `>`.
fn keyset(key: SortKey, dir: SortOrder, after: bool, cursor: &Cursor) -> sea_orm::Condition {
    use customer::Column;
    use sea_orm::Condition;
    // Moving away from the cursor means larger values when the list is
    // ascending and we look after it, or descending and we look before it.
    let larger = matches!(dir, SortOrder::Asc) == after;
    let past = |column: Column, v: sea_orm::Value| {
        if larger {
            column.gt(v)
        } else {
            column.lt(v)
        }
    };
    let id = sea_orm::Value::from(cursor.id);
    match &cursor.value {
        Some(v) => {
            let v = sea_orm::Value::from(v.clone());
            let mut c = Condition::any().add(past(key.column, v.clone())).add(
                Condition::all()
                    .add(key.column.eq(v))
                    .add(past(Column::Id, id)),
            );
            if key.nullable && after {
                c = c.add(key.column.is_null());
            }
            c
        }
        None if after => Condition::all()
            .add(key.column.is_null())
            .add(past(Column::Id, id)),
        None => Condition::any().add(key.column.is_not_null()).add(
            Condition::all()
                .add(key.column.is_null())
                .add(past(Column::Id, id)),
        ),
    }
}

/// Reads `first`/`last`: negative is BAD_USER_INPUT, above the maximum is clamped.
fn window_size(n: i64, argument: &str) -> Result<u64> {
    if n < 0 {
        return Err(Error::invalid(argument, "must be 0 or more"));
    }
    Ok(n.unsigned_abs().min(crate::domain::page::MAX_LIMIT))
}

/// A page of customers by keyset cursors over the same filters and order as
/// [`list`], stable while rows are inserted and deleted between pages.
///
/// The flag in the direction of reading (`hasNextPage` for `first`,
/// `hasPreviousPage` for `last`) comes from fetching one row more than asked;
/// the other one is exact too: whether any row lies beyond the opposite
/// cursor (`after` for `first`, `before` for `last`), false without one.
#[tracing::instrument(skip_all, fields(tenant.id = %actor.tenant))]
pub async fn connection(
    ctx: &Ctx,
    actor: &Actor,
    query: &ConnectionQuery,
) -> Result<ConnectionPage> {
    query.filter.validate()?;
    let (size, backward) = match (query.first, query.last) {
        (Some(_), Some(_)) => {
            return Err(Error::invalid_fields(vec![
                FieldError::new("first", "give first or last, not both"),
                FieldError::new("last", "give first or last, not both"),
            ]))
        }
        (Some(n), None) => (window_size(n, "first")?, false),
        (None, Some(n)) => (window_size(n, "last")?, true),
        (None, None) => (DEFAULT_CONNECTION_SIZE, false),
    };
    let key = sort_key(query.sort_by);
    let after = query
        .after
        .as_deref()
        .map(|c| decode_cursor(c, query.sort_by, "after"))
        .transpose()?;
    let before = query
        .before
        .as_deref()
        .map(|c| decode_cursor(c, query.sort_by, "before"))
        .transpose()?;

    let backend = ctx.db.get_database_backend();
    let filtered = query.filter.apply(actor, backend, scope::customers(actor));
    // A search that found few reads its hits first, planned once
    // (`read::hits_first`); its words hidden from the planner there only.
    let hits_first = reads_hits_first(ctx, actor, &query.filter);
    let total = async {
        match query.with_total {
            true => super::count::count(ctx, actor, &query.filter)
                .await
                .map(Some),
            false => Ok(None),
        }
    };
    let mut window = if hits_first {
        query.filter.apply_via(
            actor,
            backend,
            SearchPath::HitsFirst,
            scope::customers(actor),
        )
    } else {
        filtered.clone()
    };
    if let Some(c) = &after {
        window = window.filter(keyset(key, query.sort_order, true, c));
    }
    if let Some(c) = &before {
        window = window.filter(keyset(key, query.sort_order, false, c));
    }
    let ordered = |q| {
        if backward {
            reverse_order(q, key, query.sort_order)
        } else {
            order(q, query.sort_by, query.sort_order)
        }
    };
    // The window and the total at the same time, on two pooled connections.
    // A window of the whole tenant walks its sort index from the cursor,
    // whatever the values: PostgreSQL may plan it once (`plans`).
    let columns = page_columns(query.columns, query.sort_by);
    let rows = async {
        if hits_first {
            let page = ordered(customer::Entity::find()).limit(size + 1);
            let stmt = plans::limits_inline(super::read::hits_first(window, page, columns));
            read_all(ctx, stmt, columns).await
        } else {
            let plan_once = !(query.filter.searches() || query.filter.has_facets());
            read_columns(ctx, ordered(window).limit(size + 1), columns, plan_once).await
        }
    };
    let (mut rows, total_count) = tokio::try_join!(rows, total)?;
    let more = rows.len() as u64 > size;
    rows.truncate(size as usize);
    if backward {
        rows.reverse();
    }
    // Whether anything lies beyond the cursor opposite the reading direction.
    let opposite = if backward {
        before.as_ref().map(|c| (c, true))
    } else {
        after.as_ref().map(|c| (c, false))
    };
    let beyond = match opposite {
        Some((c, after_it)) => filtered
            .filter(keyset(key, query.sort_order, after_it, c))
            .select_only()
            .column(customer::Column::Id)
            .limit(1)
            .into_tuple::<Uuid>()
            .one(&ctx.db)
            .await?
            .is_some(),
        None => false,
    };
    let items = rows.into_iter().map(Customer::from).collect();
    let (has_next_page, has_previous_page) = if backward {
        (beyond, more)
    } else {
        (more, beyond)
    };
    Ok(ConnectionPage {
        items,
        has_next_page,
        has_previous_page,
        total_count,
        sort_by: query.sort_by,
    })
}

#[cfg(test)]
mod connection_tests {
    use super::*;

    fn encode(json: serde_json::Value) -> String {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json.to_string())
    }

    #[test]
    fn cursors_round_trip_milliseconds_and_reject_anything_else() {
        let id = Uuid::now_v7();
        let at = "2024-01-15T10:30:00.123Z";
        let cursor = encode(serde_json::json!({ "s": "createdAt", "v": at, "id": id }));
        let decoded = decode_cursor(&cursor, CustomerSortField::CreatedAt, "after").expect("valid");
        match decoded.value {
            Some(CursorValue::Time(t)) => assert_eq!(time::format(&t), at),
            other => panic!("a time, not {other:?}"),
        }
        assert_eq!(decoded.id, id);
        let null_name = encode(serde_json::json!({ "s": "firstName", "v": null, "id": id }));
        assert_eq!(
            decode_cursor(&null_name, CustomerSortField::FirstName, "after")
                .expect("nullable column")
                .value,
            None
        );
        for (text, field) in [
            (cursor.as_str(), CustomerSortField::UpdatedAt),
            (null_name.as_str(), CustomerSortField::Email),
            ("%%%", CustomerSortField::CreatedAt),
            ("", CustomerSortField::CreatedAt),
        ] {
            assert!(matches!(
                decode_cursor(text, field, "after"),
                Err(Error::BadUserInput { .. })
            ));
        }
        let null_time = encode(serde_json::json!({ "s": "createdAt", "v": null, "id": id }));
        assert!(decode_cursor(&null_time, CustomerSortField::CreatedAt, "after").is_err());
    }

    #[test]
    fn cursors_of_times_just_outside_years_0000_to_9999_round_trip() {
        // Found by the cursor property: RFC 3339 input with an offset is in
        // year -1 or 10000 in UTC, which the cursor wrote but did not read.
        for input in ["0000-01-01T00:00:00+23:59", "9999-12-31T23:59:59.999-23:59"] {
            let at = DateTime::parse_from_rfc3339(input)
                .expect("valid RFC 3339")
                .with_timezone(&Utc);
            let id = Uuid::now_v7();
            let cursor = encode(
                serde_json::json!({ "s": "lastMessageAt", "v": time::format(&at), "id": id }),
            );
            let decoded = decode_cursor(&cursor, CustomerSortField::LastMessageAt, "after");
            assert_eq!(
                decoded.ok(),
                Some(Cursor {
                    value: Some(CursorValue::Time(at)),
                    id
                }),
                "{input}"
            );
        }
    }

    /// Property tests (`cargo test --lib prop`; `PROPTEST_CASES` sets how many cases).
    mod properties {
        use proptest::prelude::*;

        use super::super::super::view::strategies;
        use super::*;

        fn field() -> impl Strategy<Value = CustomerSortField> {
            prop::sample::select(CustomerSortField::ALL.to_vec())
        }

        /// Cursor-shaped JSON with plausible and implausible members.
        fn cursor_json() -> impl Strategy<Value = serde_json::Value> {
            let s = prop_oneof![
                field().prop_map(|f| serde_json::Value::from(f.as_str())),
                Just(serde_json::Value::Null),
                any::<i64>().prop_map(serde_json::Value::from),
                "\\PC{0,12}".prop_map(serde_json::Value::from),
            ];
            let v = prop_oneof![
                Just(serde_json::Value::Null),
                strategies::timestamp().prop_map(|t| time::format(&t).into()),
                "[0-9+\\-:TZ.]{0,30}".prop_map(serde_json::Value::from),
                any::<String>().prop_map(serde_json::Value::from),
                any::<f64>().prop_map(serde_json::Value::from),
            ];
            let id = prop_oneof![
                any::<u128>().prop_map(|n| Uuid::from_u128(n).to_string().into()),
                "\\PC{0,40}".prop_map(serde_json::Value::from),
                Just(serde_json::Value::Null),
            ];
            (s, v, id, any::<bool>()).prop_map(|(s, v, id, extra)| {
                let mut json = serde_json::json!({ "s": s, "v": v, "id": id });
                if extra {
                    json["x"] = serde_json::json!([1, {"y": null}]);
                }
                json
            })
        }

        fn ok_or_bad_input(result: &Result<Cursor>) -> bool {
            matches!(result, Ok(_) | Err(Error::BadUserInput { .. }))
        }

        proptest! {
            #[test]
            fn any_text_as_a_cursor_decodes_or_is_bad_input(
                text in prop_oneof![any::<String>(), "[A-Za-z0-9_\\-]{0,200}", "[ -~]{4000,4200}"],
                field in field(),
            ) {
                let result = decode_cursor(&text, field, "after");
                prop_assert!(ok_or_bad_input(&result), "{text:?}: {result:?}");
            }

            #[test]
            fn any_encoded_json_as_a_cursor_decodes_only_for_its_own_sort_field(
                json in cursor_json(),
                field in field(),
            ) {
                let result = decode_cursor(&encode(json.clone()), field, "before");
                prop_assert!(ok_or_bad_input(&result), "{json}: {result:?}");
                if result.is_ok() {
                    prop_assert_eq!(&json["s"], &serde_json::Value::from(field.as_str()));
                }
            }

            #[test]
            fn a_cursor_decodes_to_the_sort_value_and_id_of_its_customer(
                customer in strategies::customer(),
                field in field(),
            ) {
                let cursor = encode_cursor(&customer, field).expect("encodes");
                let decoded = decode_cursor(&cursor, field, "after");
                let value = match cursor_value(&customer, field) {
                    None => None,
                    Some(_) => Some(match field {
                        CustomerSortField::LastInteraction => CursorValue::Time(customer.last_interaction),
                        CustomerSortField::CreatedAt => CursorValue::Time(customer.created_at),
                        CustomerSortField::UpdatedAt => CursorValue::Time(customer.updated_at),
                        CustomerSortField::FirstContact => CursorValue::Time(customer.first_contact.expect("some")),
                        CustomerSortField::LastMessageAt => CursorValue::Time(customer.last_message_at.expect("some")),
                        CustomerSortField::PhoneNumber => CursorValue::Text(customer.phone_number.clone()),
                        CustomerSortField::FirstName => CursorValue::Text(customer.first_name.clone().expect("some")),
                        CustomerSortField::LastName => CursorValue::Text(customer.last_name.clone().expect("some")),
                        CustomerSortField::Email => CursorValue::Text(customer.email.clone().expect("some")),
                    }),
                };
                match decoded {
                    Ok(got) => prop_assert_eq!(got, Cursor { value, id: customer.id.uuid() }),
                    Err(e) => prop_assert!(false, "{cursor}: {e:?}"),
                }
                // A cursor of one order is no cursor of another.
                for other in CustomerSortField::ALL.iter().filter(|f| **f != field) {
                    let result = decode_cursor(&cursor, *other, "after");
                    prop_assert!(matches!(result, Err(Error::BadUserInput { .. })), "{result:?}");
                }
            }
        }
    }
}
