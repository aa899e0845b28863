//! GraphQL objects over the customer's value types (address, coordinates,
//! contact hours, statistics). Each wraps the domain or service struct and
//! only reads it; the matching inputs live in `graphql/inputs.rs`.

use async_graphql::parser::types::Field;
use async_graphql::{ContextSelectionSet, Object, Positioned};

use crate::graphql::inline::{self, Fields, Inline};
use crate::graphql::json::leaf;

use crate::domain::customer as domain;
use crate::service::customers;

/// Latitude and longitude in degrees.
pub struct Coordinates(pub domain::Coordinates);

/// Latitude and longitude in degrees.
#[Object]
impl Coordinates {
    /// Degrees north of the equator; negative for south.
    async fn latitude(&self) -> f64 {
        self.0.latitude
    }
    /// Degrees east of Greenwich; negative for west.
    async fn longitude(&self) -> f64 {
        self.0.longitude
    }
}

/// A postal address; every part optional.
pub struct Address<'a>(pub &'a domain::Address);

/// A postal address; every part optional.
#[Object]
impl Address<'_> {
    /// Street, number and any further line, as given.
    async fn street(&self) -> Option<&str> {
        self.0.street.as_deref()
    }
    /// City or town.
    async fn city(&self) -> Option<&str> {
        self.0.city.as_deref()
    }
    /// State, province or region.
    async fn state(&self) -> Option<&str> {
        self.0.state.as_deref()
    }
    /// Country, as given.
    async fn country(&self) -> Option<&str> {
        self.0.country.as_deref()
    }
    /// Postal or ZIP code.
    async fn postal_code(&self) -> Option<&str> {
        self.0.postal_code.as_deref()
    }
    /// Where the address is on a map, when known.
    async fn coordinates(&self) -> Option<Inline<Coordinates>> {
        self.0.coordinates.map(|c| Inline(Coordinates(c)))
    }
}

/// Hours a customer likes to be contacted, `HH:MM` each.
pub struct CommunicationHours<'a>(pub &'a domain::CommunicationHours);

/// Hours a customer likes to be contacted, `HH:MM` each.
#[Object]
impl CommunicationHours<'_> {
    /// From when the customer may be contacted, `HH:MM`.
    async fn start(&self) -> Option<&str> {
        self.0.start.as_deref()
    }
    /// Until when the customer may be contacted, `HH:MM`.
    async fn end(&self) -> Option<&str> {
        self.0.end.as_deref()
    }
}

/// Auto-calculated per customer; kept current as conversations, messages and tickets are written.
pub struct Statistics(pub customers::Statistics);

/// Auto-calculated per customer; kept current as conversations, messages and tickets are written.
#[Object]
impl Statistics {
    /// Every conversation of the customer: open plus resolved.
    async fn total_conversations(&self) -> i32 {
        self.0.total_conversations
    }
    /// Conversations that are OPEN or PENDING.
    async fn open_conversations(&self) -> i32 {
        self.0.open_conversations
    }
    /// Conversations that are RESOLVED.
    async fn resolved_conversations(&self) -> i32 {
        self.0.resolved_conversations
    }
    /// Messages in all the customer's conversations, both directions.
    async fn total_messages(&self) -> i32 {
        self.0.total_messages
    }
    /// Tickets raised for the customer, open or closed.
    async fn total_tickets(&self) -> i32 {
        self.0.total_tickets
    }
    /// Mean seconds between an inbound message and the next outbound reply; null until a reply exists.
    async fn average_response_time(&self) -> Option<f64> {
        self.0.average_response_time
    }
    /// Mean of conversation ratings, 1 to 5; null until a rating exists.
    async fn satisfaction_score(&self) -> Option<f64> {
        self.0.satisfaction_score
    }
}

impl Fields for Coordinates {
    fn write(&self, field: &str, out: &mut Vec<u8>) -> Option<serde_json::Result<()>> {
        let c = &self.0;
        Some(match field {
            "latitude" => leaf::value(out, &c.latitude),
            "longitude" => leaf::value(out, &c.longitude),
            _ => return None,
        })
    }
}

impl Fields for Address<'_> {
    fn write(&self, field: &str, out: &mut Vec<u8>) -> Option<serde_json::Result<()>> {
        let a = self.0;
        Some(match field {
            "street" => leaf::value(out, &a.street),
            "city" => leaf::value(out, &a.city),
            "state" => leaf::value(out, &a.state),
            "country" => leaf::value(out, &a.country),
            "postalCode" => leaf::value(out, &a.postal_code),
            _ => return None,
        })
    }

    fn write_object(
        &self,
        ctx: &ContextSelectionSet<'_>,
        field: &Positioned<Field>,
        out: &mut Vec<u8>,
    ) -> serde_json::Result<bool> {
        match field.node.name.node.as_str() {
            "coordinates" => {
                let coordinates = self.0.coordinates.map(Coordinates);
                inline::write_object(ctx, field, coordinates.as_ref(), out)
            }
            _ => Ok(false),
        }
    }
}

impl Fields for CommunicationHours<'_> {
    fn write(&self, field: &str, out: &mut Vec<u8>) -> Option<serde_json::Result<()>> {
        let h = self.0;
        Some(match field {
            "start" => leaf::value(out, &h.start),
            "end" => leaf::value(out, &h.end),
            _ => return None,
        })
    }
}

impl Fields for Statistics {
    fn write(&self, field: &str, out: &mut Vec<u8>) -> Option<serde_json::Result<()>> {
        let s = &self.0;
        Some(match field {
            "totalConversations" => leaf::value(out, &s.total_conversations),
            "openConversations" => leaf::value(out, &s.open_conversations),
            "resolvedConversations" => leaf::value(out, &s.resolved_conversations),
            "totalMessages" => leaf::value(out, &s.total_messages),
            "totalTickets" => leaf::value(out, &s.total_tickets),
            "averageResponseTime" => leaf::value(out, &s.average_response_time),
            "satisfactionScore" => leaf::value(out, &s.satisfaction_score),
            _ => return None,
        })
    }
}
