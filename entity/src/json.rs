//! The typed values of the customer's JSON columns. SeaORM reads and writes
//! each as the JSON it always was (`FromJsonQueryResult`): the same keys in
//! the same order, every key written, `null` for what is absent, so rows
//! written before these types existed read back unchanged. The server
//! re-exports the address and hours types from its `domain`. [`JsonText`]
//! types the JSON that `text` columns hold.

use sea_orm::sea_query::{ArrayType, ColumnType, Nullable, ValueType, ValueTypeErr};
use sea_orm::FromJsonQueryResult;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Latitude and longitude in degrees.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, FromJsonQueryResult)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
pub struct Coordinates {
    pub latitude: f64,
    pub longitude: f64,
}

/// A postal address; every part optional.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, FromJsonQueryResult)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Address {
    pub street: Option<String>,
    pub city: Option<String>,
    pub state: Option<String>,
    pub country: Option<String>,
    pub postal_code: Option<String>,
    pub coordinates: Option<Coordinates>,
}

/// Hours a customer likes to be contacted, `HH:MM` each.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, FromJsonQueryResult)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
pub struct CommunicationHours {
    pub start: Option<String>,
    pub end: Option<String>,
}

/// A JSON array of strings (alternative phone numbers, tags), in the order
/// given.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, FromJsonQueryResult)]
#[serde(transparent)]
pub struct StringList(pub Vec<String>);

/// A JSON object of free-form fields, keys in the order given.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, FromJsonQueryResult)]
#[serde(transparent)]
pub struct JsonObject(pub Map<String, Value>);

/// A value stored as JSON text in a `text` column (the erasure receipts'
/// items, the history's values): read and written as the typed value, stored
/// as exactly the text `serde_json` writes for it, on every backend. The
/// `jsonb` columns use `FromJsonQueryResult` instead; a `text` column cannot,
/// since PostgreSQL's driver reads JSON values from `json`/`jsonb` only.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JsonText<T>(pub T);

impl<T: Serialize> JsonText<T> {
    /// The stored text.
    pub fn text(&self) -> String {
        // Serializing a value of a type with string keys cannot fail; `null`
        // would only stand for a type that can never be stored.
        serde_json::to_string(&self.0).unwrap_or_else(|_| "null".to_owned())
    }
}

impl<T: Serialize> From<JsonText<T>> for sea_orm::Value {
    fn from(value: JsonText<T>) -> Self {
        sea_orm::Value::String(Some(Box::new(value.text())))
    }
}

impl<T: DeserializeOwned> sea_orm::TryGetable for JsonText<T> {
    fn try_get_by<I: sea_orm::ColIdx>(
        res: &sea_orm::QueryResult,
        index: I,
    ) -> Result<Self, sea_orm::TryGetError> {
        let text = String::try_get_by(res, index)?;
        serde_json::from_str(&text)
            .map(JsonText)
            .map_err(|e| sea_orm::TryGetError::DbErr(sea_orm::DbErr::Json(e.to_string())))
    }
}

impl<T: DeserializeOwned> ValueType for JsonText<T> {
    fn try_from(value: sea_orm::Value) -> Result<Self, ValueTypeErr> {
        match value {
            sea_orm::Value::String(Some(text)) => serde_json::from_str(&text)
                .map(JsonText)
                .map_err(|_| ValueTypeErr),
            _ => Err(ValueTypeErr),
        }
    }

    fn type_name() -> String {
        "JsonText".to_owned()
    }

    fn array_type() -> ArrayType {
        ArrayType::String
    }

    fn column_type() -> ColumnType {
        ColumnType::Text
    }
}

impl<T> Nullable for JsonText<T> {
    fn null() -> sea_orm::Value {
        sea_orm::Value::String(None)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn values_write_the_json_the_columns_always_held() {
        let address = Address {
            city: Some("Mérida".into()),
            postal_code: Some("97000".into()),
            coordinates: Some(Coordinates {
                latitude: 20.97,
                longitude: -89.62,
            }),
            ..Address::default()
        };
        assert_eq!(
            serde_json::to_string(&address).ok().as_deref(),
            Some(
                r#"{"street":null,"city":"Mérida","state":null,"country":null,"postalCode":"97000","coordinates":{"latitude":20.97,"longitude":-89.62}}"#
            )
        );
        let hours = CommunicationHours {
            start: Some("09:00".into()),
            end: None,
        };
        assert_eq!(
            serde_json::to_string(&hours).ok().as_deref(),
            Some(r#"{"start":"09:00","end":null}"#)
        );
        let tags = StringList(vec!["b".into(), "a".into()]);
        assert_eq!(serde_json::to_value(&tags).ok(), Some(json!(["b", "a"])));
        let fields = json!({"z": 1, "a": {"nested": [true]}});
        let object: Option<JsonObject> = serde_json::from_value(fields.clone()).ok();
        assert_eq!(
            object.and_then(|o| serde_json::to_value(o).ok()),
            Some(fields)
        );
    }

    #[test]
    fn an_address_missing_keys_reads_them_as_absent() {
        let read: Option<Address> = serde_json::from_value(json!({"city": "Lima"})).ok();
        assert_eq!(
            read,
            Some(Address {
                city: Some("Lima".into()),
                ..Address::default()
            })
        );
    }

    #[test]
    fn json_text_is_stored_as_the_text_serde_writes_and_reads_back() {
        let value = JsonText(json!({"b": [1, 2.5], "a": null}));
        let stored: sea_orm::Value = value.clone().into();
        assert_eq!(
            stored,
            sea_orm::Value::String(Some(Box::new(r#"{"b":[1,2.5],"a":null}"#.to_owned())))
        );
        assert_eq!(
            <JsonText<Value> as ValueType>::try_from(stored).ok(),
            Some(value)
        );
        assert!(
            <JsonText<Value> as ValueType>::try_from(sea_orm::Value::String(Some(Box::new(
                "not json".to_owned()
            ))))
            .is_err()
        );
    }
}
