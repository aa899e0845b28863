//! GraphQL input types, and their conversion to the service's input. The
//! enums and value inputs here are the face's own; the domain imports no
//! GraphQL.

use async_graphql::{InputObject, Json, MaybeUndefined, ID};
use serde_json::Value;

use super::types::enums::{CustomerSegment, CustomerSource, CustomerStatus, MessageDirection};
use crate::domain::customer::{
    self as domain, CustomerInput, Field, PreferencesInput as DomainPreferences,
};
use crate::error::{Error, Result};
use crate::service::customers::CustomerFilter as DomainFilter;

/// Which customers a list takes.
#[derive(InputObject, Default)]
pub struct CustomerFilter {
    /// Case- and accent-insensitive substring match on phoneNumber, firstName, lastName, email; every word must match.
    pub search: Option<String>,
    /// Only customers with this status.
    pub status: Option<CustomerStatus>,
    /// Only customers in this segment.
    pub segment: Option<CustomerSegment>,
    /// Only customers from this source.
    pub source: Option<CustomerSource>,
    /// Customers that carry ANY of these tags (case-sensitive).
    pub tags: Option<Vec<String>>,
}

impl From<Option<CustomerFilter>> for DomainFilter {
    fn from(f: Option<CustomerFilter>) -> Self {
        let f = f.unwrap_or_default();
        DomainFilter {
            search: f.search,
            status: f.status.map(Into::into),
            segment: f.segment.map(Into::into),
            source: f.source.map(Into::into),
            tags: f.tags.unwrap_or_default(),
        }
    }
}

/// Latitude and longitude in degrees.
#[derive(InputObject)]
pub struct CoordinatesInput {
    /// Degrees north of the equator; negative for south.
    pub latitude: f64,
    /// Degrees east of Greenwich; negative for west.
    pub longitude: f64,
}

impl From<CoordinatesInput> for domain::Coordinates {
    fn from(c: CoordinatesInput) -> Self {
        domain::Coordinates {
            latitude: c.latitude,
            longitude: c.longitude,
        }
    }
}

/// A postal address; every part optional.
#[derive(InputObject)]
pub struct AddressInput {
    /// Street, number and any further line, as given.
    pub street: Option<String>,
    /// City or town.
    pub city: Option<String>,
    /// State, province or region.
    pub state: Option<String>,
    /// Country, as given.
    pub country: Option<String>,
    /// Postal or ZIP code.
    pub postal_code: Option<String>,
    /// Where the address is on a map, when known.
    pub coordinates: Option<CoordinatesInput>,
}

impl From<AddressInput> for domain::Address {
    fn from(a: AddressInput) -> Self {
        domain::Address {
            street: a.street,
            city: a.city,
            state: a.state,
            country: a.country,
            postal_code: a.postal_code,
            coordinates: a.coordinates.map(Into::into),
        }
    }
}

/// Hours a customer likes to be contacted, `HH:MM` each.
#[derive(InputObject)]
pub struct CommunicationHoursInput {
    /// From when the customer may be contacted, `HH:MM`.
    pub start: Option<String>,
    /// Until when the customer may be contacted, `HH:MM`.
    pub end: Option<String>,
}

impl From<CommunicationHoursInput> for domain::CommunicationHours {
    fn from(h: CommunicationHoursInput) -> Self {
        domain::CommunicationHours {
            start: h.start,
            end: h.end,
        }
    }
}

/// A customer's preferences as input.
#[derive(InputObject)]
pub struct PreferencesInput {
    /// Language code to address the customer in, e.g. `es` (the default) or `en`.
    pub language: Option<String>,
    /// Hours the customer likes to be contacted.
    pub communication_hours: Option<CommunicationHoursInput>,
    /// The agent who should serve the customer; must be an agent of the caller's tenant.
    pub preferred_agent_id: Option<ID>,
}

impl From<PreferencesInput> for DomainPreferences {
    fn from(p: PreferencesInput) -> Self {
        DomainPreferences {
            language: p.language,
            communication_hours: p.communication_hours.map(Into::into),
            preferred_agent_id: p.preferred_agent_id.map(|id| id.0),
        }
    }
}

fn custom_fields(value: Field<Json<Value>>) -> Result<Field<serde_json::Map<String, Value>>> {
    match value {
        Field::Absent => Ok(Field::Absent),
        Field::Null => Ok(Field::Null),
        Field::Value(Json(Value::Object(map))) => Ok(Field::Value(map)),
        Field::Value(Json(Value::Null)) => Ok(Field::Null),
        Field::Value(_) => Err(Error::invalid("customFields", "must be an object")),
    }
}

/// A new customer.
#[derive(InputObject)]
pub struct CreateCustomerInput {
    /// Any common spelling; stored as canonical digits with the country code, unique per tenant.
    pub phone_number: String,
    /// Given name.
    pub first_name: Option<String>,
    /// Family name.
    pub last_name: Option<String>,
    /// Trimmed and lowercased; must look like an address; need not be unique.
    pub email: Option<String>,
    /// URL of a picture of the customer.
    pub avatar: Option<String>,
    /// Further numbers of the customer, normalized like phoneNumber; none may belong to another customer.
    pub alternative_phones: Option<Vec<String>>,
    /// The customer's postal address.
    pub address: Option<AddressInput>,
    /// Trimmed, empty ones dropped, duplicates removed, order kept; at most 100 tags of at most 64 characters each.
    pub tags: Option<Vec<String>>,
    /// Marketing segment; NEW when omitted.
    pub segment: Option<CustomerSegment>,
    /// Where the customer came from; WHATSAPP when omitted.
    pub source: Option<CustomerSource>,
    /// A JSON object of free-form fields.
    pub custom_fields: Option<Json<Value>>,
    /// Language, contact hours and preferred agent.
    pub preferences: Option<PreferencesInput>,
    /// BLOCKED is refused here: use setCustomerBlocked.
    pub status: Option<CustomerStatus>,
    /// Free-form notes of the desk about the customer.
    pub notes: Option<String>,
    /// The customer's id in another system (a shop, a marketing list); trimmed, at most 200 characters, unique per tenant (a taken one is a CONFLICT naming its holder).
    pub external_id: Option<String>,
}

impl CreateCustomerInput {
    /// The service's form of this input.
    pub fn into_input(self) -> Result<CustomerInput> {
        Ok(CustomerInput {
            phone_number: Field::Value(self.phone_number),
            first_name: self.first_name.into(),
            last_name: self.last_name.into(),
            email: self.email.into(),
            avatar: self.avatar.into(),
            alternative_phones: self.alternative_phones.into(),
            address: Field::from(self.address).map(Into::into),
            tags: self.tags.into(),
            segment: Field::from(self.segment).map(Into::into),
            source: Field::from(self.source).map(Into::into),
            custom_fields: custom_fields(self.custom_fields.into())?,
            preferences: Field::from(self.preferences).map(Into::into),
            status: Field::from(self.status).map(Into::into),
            notes: self.notes.into(),
            external_id: self.external_id.into(),
        })
    }
}

fn field<T>(v: MaybeUndefined<T>) -> Field<T> {
    match v {
        MaybeUndefined::Undefined => Field::Absent,
        MaybeUndefined::Null => Field::Null,
        MaybeUndefined::Value(v) => Field::Value(v),
    }
}

/// Every field optional: absent fields are left as they are, null clears a nullable field, a nested object replaces the stored one whole.
#[derive(InputObject)]
pub struct UpdateCustomerInput {
    /// Any common spelling; stored as canonical digits with the country code, unique per tenant.
    pub phone_number: MaybeUndefined<String>,
    /// Given name.
    pub first_name: MaybeUndefined<String>,
    /// Family name.
    pub last_name: MaybeUndefined<String>,
    /// Trimmed and lowercased; must look like an address; need not be unique.
    pub email: MaybeUndefined<String>,
    /// URL of a picture of the customer.
    pub avatar: MaybeUndefined<String>,
    /// Replaces the further numbers, normalized like phoneNumber; none may belong to another customer.
    pub alternative_phones: MaybeUndefined<Vec<String>>,
    /// Replaces the whole postal address.
    pub address: MaybeUndefined<AddressInput>,
    /// Replaces the tags; trimmed, empty ones dropped, duplicates removed, order kept.
    pub tags: MaybeUndefined<Vec<String>>,
    /// Marketing segment.
    pub segment: MaybeUndefined<CustomerSegment>,
    /// Where the customer came from.
    pub source: MaybeUndefined<CustomerSource>,
    /// Replaces the whole JSON object of free-form fields.
    pub custom_fields: MaybeUndefined<Json<Value>>,
    /// Replaces the whole preferences.
    pub preferences: MaybeUndefined<PreferencesInput>,
    /// BLOCKED is refused here: use setCustomerBlocked.
    pub status: MaybeUndefined<CustomerStatus>,
    /// Free-form notes of the desk about the customer.
    pub notes: MaybeUndefined<String>,
    /// The customer's id in another system; null clears it; unique per tenant.
    pub external_id: MaybeUndefined<String>,
}

impl UpdateCustomerInput {
    /// The service's form of this input.
    pub fn into_input(self) -> Result<CustomerInput> {
        Ok(CustomerInput {
            phone_number: field(self.phone_number),
            first_name: field(self.first_name),
            last_name: field(self.last_name),
            email: field(self.email),
            avatar: field(self.avatar),
            alternative_phones: field(self.alternative_phones),
            address: field(self.address).map(Into::into),
            tags: field(self.tags),
            segment: field(self.segment).map(Into::into),
            source: field(self.source).map(Into::into),
            custom_fields: custom_fields(field(self.custom_fields))?,
            preferences: field(self.preferences).map(Into::into),
            status: field(self.status).map(Into::into),
            notes: field(self.notes),
            external_id: field(self.external_id),
        })
    }
}

/// A conversation to open.
#[derive(InputObject)]
pub struct CreateConversationInput {
    /// The customer the conversation is with.
    pub customer_id: ID,
    /// What the conversation is about.
    pub subject: Option<String>,
    /// The agent who handles it.
    pub assigned_agent_id: Option<ID>,
    // Last on purpose: `contract-coverage` reads a description that follows
    // a string default as a second value and stops, so no field may follow
    // this one.
    /// The channel it runs on, e.g. `whatsapp`.
    #[graphql(default_with = "Some(\"whatsapp\".to_owned())")]
    pub channel: Option<String>,
}

/// A message to add to a conversation.
#[derive(InputObject)]
pub struct AddMessageInput {
    /// The conversation the message belongs to.
    pub conversation_id: ID,
    /// INBOUND from the customer, OUTBOUND from the desk.
    pub direction: MessageDirection,
    /// The text of the message.
    pub body: String,
    /// The agent who sent it, for an outbound message.
    pub agent_id: Option<ID>,
    /// Defaults to now.
    pub sent_at: Option<super::scalars::DateTime>,
}

/// A ticket to raise.
#[derive(InputObject)]
pub struct CreateTicketInput {
    /// The customer the ticket is for.
    pub customer_id: ID,
    /// The conversation that raised it; must be the customer's.
    pub conversation_id: Option<ID>,
    /// What needs to be done.
    pub subject: String,
}

/// An agent to create (no id) or update (with id).
#[derive(InputObject)]
pub struct AgentInput {
    /// The agent to rename; omit to create one.
    pub id: Option<ID>,
    /// The agent's display name.
    pub name: String,
    /// The agent's email address.
    pub email: Option<String>,
}
