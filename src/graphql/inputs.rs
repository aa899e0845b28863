//! GraphQL input types, and their conversion to the service's input.

use async_graphql::{InputObject, Json, MaybeUndefined, ID};
use serde_json::Value;

use crate::domain::customer::{
    Address, CommunicationHours, CustomerInput, CustomerSegment, CustomerSource, CustomerStatus,
    Field, PreferencesInput as DomainPreferences,
};
use crate::error::{Error, Result};
use crate::service::customers::CustomerFilter as DomainFilter;

/// Which customers a list takes.
#[derive(InputObject, Default)]
pub struct CustomerFilter {
    /// Case- and accent-insensitive substring match on phoneNumber, firstName, lastName, email; every word must match.
    pub search: Option<String>,
    pub status: Option<CustomerStatus>,
    pub segment: Option<CustomerSegment>,
    pub source: Option<CustomerSource>,
    /// Customers that carry ANY of these tags (case-sensitive).
    pub tags: Option<Vec<String>>,
}

impl From<Option<CustomerFilter>> for DomainFilter {
    fn from(f: Option<CustomerFilter>) -> Self {
        let f = f.unwrap_or_default();
        DomainFilter {
            search: f.search,
            status: f.status,
            segment: f.segment,
            source: f.source,
            tags: f.tags.unwrap_or_default(),
        }
    }
}

/// A customer's preferences as input.
#[derive(InputObject)]
pub struct PreferencesInput {
    pub language: Option<String>,
    pub communication_hours: Option<CommunicationHours>,
    pub preferred_agent_id: Option<ID>,
}

impl From<PreferencesInput> for DomainPreferences {
    fn from(p: PreferencesInput) -> Self {
        DomainPreferences {
            language: p.language,
            communication_hours: p.communication_hours,
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
    pub phone_number: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
    pub avatar: Option<String>,
    pub alternative_phones: Option<Vec<String>>,
    pub address: Option<Address>,
    pub tags: Option<Vec<String>>,
    pub segment: Option<CustomerSegment>,
    pub source: Option<CustomerSource>,
    pub custom_fields: Option<Json<Value>>,
    pub preferences: Option<PreferencesInput>,
    /// BLOCKED is refused here: use setCustomerBlocked.
    pub status: Option<CustomerStatus>,
    pub notes: Option<String>,
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
            address: self.address.into(),
            tags: self.tags.into(),
            segment: self.segment.into(),
            source: self.source.into(),
            custom_fields: custom_fields(self.custom_fields.into())?,
            preferences: Field::from(self.preferences).map(Into::into),
            status: self.status.into(),
            notes: self.notes.into(),
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
    pub phone_number: MaybeUndefined<String>,
    pub first_name: MaybeUndefined<String>,
    pub last_name: MaybeUndefined<String>,
    pub email: MaybeUndefined<String>,
    pub avatar: MaybeUndefined<String>,
    pub alternative_phones: MaybeUndefined<Vec<String>>,
    pub address: MaybeUndefined<Address>,
    pub tags: MaybeUndefined<Vec<String>>,
    pub segment: MaybeUndefined<CustomerSegment>,
    pub source: MaybeUndefined<CustomerSource>,
    pub custom_fields: MaybeUndefined<Json<Value>>,
    pub preferences: MaybeUndefined<PreferencesInput>,
    pub status: MaybeUndefined<CustomerStatus>,
    pub notes: MaybeUndefined<String>,
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
            address: field(self.address),
            tags: field(self.tags),
            segment: field(self.segment),
            source: field(self.source),
            custom_fields: custom_fields(field(self.custom_fields))?,
            preferences: field(self.preferences).map(Into::into),
            status: field(self.status),
            notes: field(self.notes),
        })
    }
}

/// A conversation to open.
#[derive(InputObject)]
pub struct CreateConversationInput {
    pub customer_id: ID,
    #[graphql(default_with = "Some(\"whatsapp\".to_owned())")]
    pub channel: Option<String>,
    pub subject: Option<String>,
    pub assigned_agent_id: Option<ID>,
}

/// A message to add to a conversation.
#[derive(InputObject)]
pub struct AddMessageInput {
    pub conversation_id: ID,
    pub direction: crate::service::conversations::MessageDirection,
    pub body: String,
    pub agent_id: Option<ID>,
    /// Defaults to now.
    pub sent_at: Option<super::scalars::DateTime>,
}

/// A ticket to raise.
#[derive(InputObject)]
pub struct CreateTicketInput {
    pub customer_id: ID,
    pub conversation_id: Option<ID>,
    pub subject: String,
}

/// An agent to create (no id) or update (with id).
#[derive(InputObject)]
pub struct AgentInput {
    pub id: Option<ID>,
    pub name: String,
    pub email: Option<String>,
}
