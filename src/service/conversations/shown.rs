//! Which of a conversation's columns a read takes for the parts of the
//! conversation its caller shows ([`columns_of`]). Imports `rows` only.

use entity::conversation::Column;

use crate::service::rows::Columns;

/// The columns of a conversation's fields `fields` (named as
/// [`Conversation`] serializes them: `customer`, `messageCount`), and of its
/// id: what a read of conversations that shows only those fields takes. A
/// name it does not know takes every column.
///
/// [`Conversation`]: super::view::Conversation
pub fn columns_of<'a>(fields: impl IntoIterator<Item = &'a str>) -> Columns {
    Columns::of_fields(&[Column::Id], fields, field_columns)
}

/// The columns a field of [`super::view::Conversation`] is made from.
fn field_columns(field: &str) -> Option<&'static [Column]> {
    use Column::*;
    Some(match field {
        "id" => &[Id],
        "customer" => &[CustomerId],
        "status" => &[Status],
        "channel" => &[Channel],
        "subject" => &[Subject],
        "assignedAgent" => &[AssignedAgentId],
        "rating" => &[Rating],
        "messageCount" => &[MessageCount],
        "lastMessageAt" => &[LastMessageAt],
        "createdAt" => &[CreatedAt],
        "updatedAt" => &[UpdatedAt],
        "resolvedAt" => &[ResolvedAt],
        _ => return None,
    })
}
