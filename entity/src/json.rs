//! The typed values of the customer's JSON columns. SeaORM reads and writes
//! each as the JSON it always was (`FromJsonQueryResult`): the same keys in
//! the same order, every key written, `null` for what is absent, so rows
//! written before these types existed read back unchanged. The server
//! re-exports the address and hours types from its `domain`.

use sea_orm::FromJsonQueryResult;
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
}
