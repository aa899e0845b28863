//! Conversation, message and ticket enums: the closed sets of strings the
//! `conversations`, `messages` and `tickets` tables store and both faces show.
//! Pure types; imports nothing of `service`, sea_orm or axum.

use serde::Serialize;

use super::customer::string_enum;

string_enum!(
    /// Where a conversation stands; OPEN and PENDING count as open.
    ConversationStatus { Open = "open", Pending = "pending", Resolved = "resolved" }
);

impl ConversationStatus {
    /// Whether a conversation in this status counts as resolved (else as open).
    pub fn is_resolved(self) -> bool {
        self == ConversationStatus::Resolved
    }
}

string_enum!(
    /// Who sent a message: the customer (inbound) or the desk (outbound).
    MessageDirection { Inbound = "inbound", Outbound = "outbound" }
);

string_enum!(
    /// Whether a ticket still needs work.
    TicketStatus { Open = "open", Closed = "closed" }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_spellings_round_trip_and_only_resolved_counts_as_resolved() {
        for s in ConversationStatus::ALL {
            assert_eq!(ConversationStatus::parse(s.as_str()), Some(*s));
        }
        let resolved: Vec<_> = ConversationStatus::ALL
            .iter()
            .filter(|s| s.is_resolved())
            .collect();
        assert_eq!(resolved, [&ConversationStatus::Resolved]);
        assert_eq!(
            MessageDirection::parse("inbound"),
            Some(MessageDirection::Inbound)
        );
        assert_eq!(TicketStatus::parse("closed"), Some(TicketStatus::Closed));
        assert_eq!(TicketStatus::parse("Closed"), None);
    }
}
