//! Ids of the records, one newtype each over a UUID, so a customer's id can
//! never be passed where a conversation's is expected. The faces parse the
//! text a client sent once, at the edge ([`str::parse`]); the service takes
//! and returns these types. Imports only `error`; no sea_orm, axum or
//! GraphQL (the service converts ids to database values, the faces to `ID`).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::Error;

/// Defines an id newtype: parsed from text (trimmed; any spelling a UUID
/// has) with NOT_FOUND naming `$what` when the text cannot be an id (an id
/// that cannot exist is simply unknown, on both faces), shown hyphenated
/// and lowercase, serialized as that plain string.
macro_rules! id_type {
    ($(#[$meta:meta])* $name:ident, $what:literal) => {
        $(#[$meta])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
        )]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// What a NOT_FOUND for this kind of id names.
            pub const WHAT: &'static str = $what;

            /// The UUID inside.
            pub fn uuid(self) -> Uuid {
                self.0
            }
        }

        impl FromStr for $name {
            type Err = Error;

            fn from_str(text: &str) -> Result<Self, Error> {
                Uuid::parse_str(text.trim())
                    .map(Self)
                    .map_err(|_| Error::NotFound($what))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0.hyphenated(), f)
            }
        }

        impl From<Uuid> for $name {
            fn from(id: Uuid) -> Self {
                Self(id)
            }
        }

        impl From<$name> for Uuid {
            fn from(id: $name) -> Uuid {
                id.0
            }
        }
    };
}

id_type!(
    /// A customer's id.
    CustomerId,
    "customer"
);
id_type!(
    /// A conversation's id.
    ConversationId,
    "conversation"
);
id_type!(
    /// A merge of customers (its record, kept for the undo).
    MergeId,
    "merge"
);
id_type!(
    /// A message's id.
    MessageId,
    "message"
);
id_type!(
    /// A ticket's id.
    TicketId,
    "ticket"
);
id_type!(
    /// An agent's id.
    AgentId,
    "agent"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_reads_any_uuid_spelling_trimmed_and_shows_hyphenated_lowercase() {
        let want = "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b";
        for text in [
            want,
            "  0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b\n",
            "0190A1B2-C3D4-7E5F-8A9B-0C1D2E3F4A5B",
            "0190a1b2c3d47e5f8a9b0c1d2e3f4a5b",
            "{0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b}",
            "urn:uuid:0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",
        ] {
            let id: CustomerId = text.parse().expect(text);
            assert_eq!(id.to_string(), want, "{text:?}");
        }
    }

    #[test]
    fn text_that_cannot_be_an_id_is_not_found_naming_the_record() {
        for text in ["", "   ", "not-a-uuid", "12345", "' OR '1'='1"] {
            assert!(
                matches!(text.parse::<CustomerId>(), Err(Error::NotFound("customer"))),
                "{text:?}"
            );
            assert!(matches!(
                text.parse::<ConversationId>(),
                Err(Error::NotFound("conversation"))
            ));
            assert!(matches!(
                text.parse::<MessageId>(),
                Err(Error::NotFound("message"))
            ));
            assert!(matches!(
                text.parse::<TicketId>(),
                Err(Error::NotFound("ticket"))
            ));
            assert!(matches!(
                text.parse::<AgentId>(),
                Err(Error::NotFound("agent"))
            ));
        }
    }

    #[test]
    fn an_id_serializes_as_the_plain_string_of_its_uuid() {
        let uuid = Uuid::from_u128(0x0190a1b2_c3d4_7e5f_8a9b_0c1d2e3f4a5b);
        let id = ConversationId::from(uuid);
        assert_eq!(
            serde_json::to_value(id).expect("serializes"),
            serde_json::to_value(uuid).expect("serializes")
        );
        let back: ConversationId =
            serde_json::from_value(serde_json::json!(id.to_string())).expect("reads back");
        assert_eq!(back, id);
        assert_eq!(back.uuid(), uuid);
    }
}
