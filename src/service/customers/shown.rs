//! Which of a customer's columns a read takes for the parts of the customer
//! its caller shows ([`columns_of`]). Imports `rows` only.

use entity::customer::Column;

use crate::service::rows::Columns;

/// The columns of a customer's fields `fields` (named as [`Customer`]
/// serializes them: `phoneNumber`, `preferences`, `statistics`), and of
/// its id: what a read of customers that shows only those fields takes.
/// A name it does not know takes every column.
///
/// [`Customer`]: super::view::Customer
pub fn columns_of<'a>(fields: impl IntoIterator<Item = &'a str>) -> Columns {
    Columns::of_fields(&[Column::Id], fields, field_columns)
}

/// The columns a field of [`super::view::Customer`] is made from.
fn field_columns(field: &str) -> Option<&'static [Column]> {
    use Column::*;
    Some(match field {
        "id" => &[Id],
        "phoneNumber" => &[PhoneNumber],
        "firstName" => &[FirstName],
        "lastName" => &[LastName],
        "email" => &[Email],
        "avatar" => &[Avatar],
        "alternativePhones" => &[AlternativePhones],
        "address" => &[Address],
        "tags" => &[Tags],
        "segment" => &[Segment],
        "source" => &[Source],
        "customFields" => &[CustomFields],
        "preferences" => &[PreferredLanguage, CommunicationHours, PreferredAgentId],
        "status" => &[Status],
        "isBlocked" => &[IsBlocked],
        "blockReason" => &[BlockReason],
        "notes" => &[Notes],
        "externalId" => &[ExternalId],
        "statistics" => &[
            TotalConversations,
            OpenConversations,
            ResolvedConversations,
            TotalMessages,
            TotalTickets,
            ResponseTimeMs,
            ResponseCount,
            RatingTotal,
            RatingCount,
        ],
        "firstContact" => &[FirstContact],
        "lastInteraction" => &[LastInteraction],
        "lastMessageAt" => &[LastMessageAt],
        "createdAt" => &[CreatedAt],
        "updatedAt" => &[UpdatedAt],
        _ => return None,
    })
}
