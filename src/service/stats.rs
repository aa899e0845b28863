//! The auto-calculated statistics: the pure reply-time rule, and the
//! helpers that keep a customer's statistic columns exact inside the
//! transaction of each write (never recomputed on read).

use chrono::{DateTime, Utc};
use entity::{conversation, customer, message, ticket};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

use super::conversations::MessageDirection;
use crate::error::Result;

/// Reply times of one conversation, in milliseconds, and how many replies.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Replies {
    pub total_ms: i64,
    pub count: i32,
}

/// The contract's reply-time rule: each outbound message that follows one or
/// more unanswered inbound messages (in `sentAt` order, then id) contributes
/// the time since the earliest of those inbound messages.
pub fn replies<I>(messages: I) -> Replies
where
    I: IntoIterator<Item = (MessageDirection, DateTime<Utc>)>,
{
    let mut out = Replies::default();
    let mut waiting_since: Option<DateTime<Utc>> = None;
    for (direction, sent_at) in messages {
        match direction {
            MessageDirection::Inbound => {
                waiting_since.get_or_insert(sent_at);
            }
            MessageDirection::Outbound => {
                if let Some(since) = waiting_since.take() {
                    out.total_ms += (sent_at - since).num_milliseconds();
                    out.count += 1;
                }
            }
        }
    }
    out
}

/// Recomputes one conversation's reply times from its messages (an indexed
/// read of that conversation only).
pub async fn conversation_replies<C: ConnectionTrait>(
    db: &C,
    conversation_id: Uuid,
) -> Result<Replies> {
    let rows: Vec<(String, DateTime<Utc>)> = message::Entity::find()
        .select_only()
        .column(message::Column::Direction)
        .column(message::Column::SentAt)
        .filter(message::Column::ConversationId.eq(conversation_id))
        .order_by_asc(message::Column::SentAt)
        .order_by_asc(message::Column::Id)
        .into_tuple()
        .all(db)
        .await?;
    Ok(replies(rows.into_iter().filter_map(|(d, t)| {
        MessageDirection::parse(&d).map(|d| (d, t))
    })))
}

/// The earlier of two optional times.
pub fn earliest(a: Option<DateTime<Utc>>, b: DateTime<Utc>) -> DateTime<Utc> {
    a.map_or(b, |a| a.min(b))
}

/// Recomputes a customer's timestamps from its rows, after a delete took
/// away what might have been the newest or earliest (indexed reads of that
/// customer's rows only).
pub async fn recompute_times<C: ConnectionTrait>(
    db: &C,
    customer: &mut customer::Model,
) -> Result<()> {
    let id = customer.id;
    let last_message: Option<DateTime<Utc>> = message::Entity::find()
        .select_only()
        .expr(Expr::col(message::Column::SentAt).max())
        .filter(message::Column::CustomerId.eq(id))
        .into_tuple()
        .one(db)
        .await?
        .flatten();
    let first_message: Option<DateTime<Utc>> = message::Entity::find()
        .select_only()
        .expr(Expr::col(message::Column::SentAt).min())
        .filter(message::Column::CustomerId.eq(id))
        .into_tuple()
        .one(db)
        .await?
        .flatten();
    let (first_conversation, last_conversation): (Option<DateTime<Utc>>, Option<DateTime<Utc>>) =
        conversation::Entity::find()
            .select_only()
            .expr(Expr::col(conversation::Column::CreatedAt).min())
            .expr(Expr::col(conversation::Column::CreatedAt).max())
            .filter(conversation::Column::CustomerId.eq(id))
            .into_tuple()
            .one(db)
            .await?
            .unwrap_or_default();
    let last_ticket: Option<DateTime<Utc>> = ticket::Entity::find()
        .select_only()
        .expr(Expr::col(ticket::Column::CreatedAt).max())
        .filter(ticket::Column::CustomerId.eq(id))
        .into_tuple()
        .one(db)
        .await?
        .flatten();
    customer.last_message_at = last_message;
    customer.first_contact = [first_conversation, first_message]
        .into_iter()
        .flatten()
        .min();
    customer.last_interaction = [
        Some(customer.created_at),
        last_conversation,
        last_message,
        last_ticket,
    ]
    .into_iter()
    .flatten()
    .max()
    .unwrap_or(customer.created_at);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use MessageDirection::{Inbound as In, Outbound as Out};

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 + seconds, 0).expect("valid time")
    }

    #[test]
    fn a_reply_counts_from_the_earliest_unanswered_inbound_message() {
        let r = replies([
            (In, at(0)),
            (In, at(10)),
            (Out, at(30)),
            (Out, at(40)),
            (In, at(100)),
            (Out, at(105)),
        ]);
        assert_eq!(
            r,
            Replies {
                total_ms: 35_000,
                count: 2
            }
        );
    }

    #[test]
    fn outbound_messages_without_a_question_are_not_replies() {
        assert_eq!(replies([(Out, at(0)), (Out, at(5))]), Replies::default());
        assert_eq!(replies([(In, at(0))]), Replies::default());
        assert_eq!(replies(Vec::new()), Replies::default());
    }
}
