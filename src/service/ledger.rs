//! The statistics ledger: the one owner of every derived counter. A
//! customer row's statistics (conversations in total, open and resolved,
//! messages, tickets, reply-time and rating sums and counts) and timestamps
//! (`first_contact`, `last_interaction`, `last_message_at`), and a
//! conversation row's own counters (message count, last message, activity
//! time, reply totals), change only through the operations below.
//!
//! Every writer calls them inside the transaction of its write (the
//! conversation and ticket services), the seed generator calls them while it
//! builds rows, and [`replay`] (what `recount` runs) applies the very same
//! operations to a customer's rows, so a recount produces exactly what the
//! write path produced. The operations are pure: facts that need a read (the
//! reply totals of a conversation whose messages arrived out of order, the
//! extremes left after a delete) are read by the caller and passed in.
//!
//! Per-tenant counters (issue 9: customers in total and by status, segment,
//! source, tag, blocked) belong here too, as further operations over a
//! tenant counters row called by the same writers.
//!
//! Imports only `entity` and `domain`: no other `service` module (they import
//! this one).

use chrono::{DateTime, Utc};
use entity::json::{JsonObject, StringList};
use entity::{conversation, customer};
use uuid::Uuid;

use crate::domain::conversation::{ConversationStatus, MessageDirection};
use crate::domain::customer::{CustomerSegment, CustomerSource, CustomerStatus};

/// Reply times of one conversation, in milliseconds, and how many replies.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Replies {
    /// Sum of the reply times.
    pub total_ms: i64,
    /// How many replies.
    pub count: i32,
}

/// The contract's reply-time rule, fed one message at a time in `sentAt`
/// order (then id): each outbound message that follows one or more
/// unanswered inbound messages is a reply, timed from the earliest of them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReplyClock {
    replies: Replies,
    waiting_since: Option<DateTime<Utc>>,
}

impl ReplyClock {
    /// Takes the next message.
    pub fn push(&mut self, direction: MessageDirection, sent_at: DateTime<Utc>) {
        match direction {
            MessageDirection::Inbound => {
                self.waiting_since.get_or_insert(sent_at);
            }
            MessageDirection::Outbound => {
                if let Some(since) = self.waiting_since.take() {
                    self.replies.total_ms += (sent_at - since).num_milliseconds();
                    self.replies.count += 1;
                }
            }
        }
    }

    /// The replies of the messages taken so far.
    pub fn replies(&self) -> Replies {
        self.replies
    }
}

/// The reply totals of a conversation's messages, given in `sentAt`, then
/// id order (see [`ReplyClock`]).
pub fn replies<I>(messages: I) -> Replies
where
    I: IntoIterator<Item = (MessageDirection, DateTime<Utc>)>,
{
    let mut clock = ReplyClock::default();
    for (direction, sent_at) in messages {
        clock.push(direction, sent_at);
    }
    clock.replies()
}

/// The earliest and latest times among a customer's rows, which its
/// timestamps derive from after a delete took away what may have been one
/// of them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Extremes {
    /// When the earliest conversation was opened.
    pub first_conversation: Option<DateTime<Utc>>,
    /// When the latest conversation was opened.
    pub last_conversation: Option<DateTime<Utc>>,
    /// When the earliest message was sent.
    pub first_message: Option<DateTime<Utc>>,
    /// When the latest message was sent.
    pub last_message: Option<DateTime<Utc>>,
    /// When the latest ticket was raised.
    pub last_ticket: Option<DateTime<Utc>>,
}

/// The later of a stored optional time and a new one.
fn latest(a: Option<DateTime<Utc>>, b: DateTime<Utc>) -> DateTime<Utc> {
    a.map_or(b, |a| a.max(b))
}

/// The earlier of a stored optional time and a new one.
fn earliest(a: Option<DateTime<Utc>>, b: DateTime<Utc>) -> DateTime<Utc> {
    a.map_or(b, |a| a.min(b))
}

/// Counts the customer's contact at `at` (a conversation or message).
fn contacted(customer: &mut customer::Model, at: DateTime<Utc>) {
    customer.first_contact = Some(earliest(customer.first_contact, at));
    customer.last_interaction = customer.last_interaction.max(at);
}

/// Sets the customer's timestamps from the extremes of its rows.
fn times_from(customer: &mut customer::Model, e: Extremes) {
    customer.last_message_at = e.last_message;
    customer.first_contact = [e.first_conversation, e.first_message]
        .into_iter()
        .flatten()
        .min();
    customer.last_interaction = [
        Some(customer.created_at),
        e.last_conversation,
        e.last_message,
        e.last_ticket,
    ]
    .into_iter()
    .flatten()
    .max()
    .unwrap_or(customer.created_at);
}

/// Replaces a conversation's reply totals, moving the customer's sums by the
/// difference.
fn set_replies(customer: &mut customer::Model, conv: &mut conversation::Model, replies: Replies) {
    customer.response_time_ms += replies.total_ms - conv.response_time_ms;
    customer.response_count += replies.count - conv.response_count;
    conv.response_time_ms = replies.total_ms;
    conv.response_count = replies.count;
}

/// A conversation was opened (it has no messages and no rating yet): the
/// customer counts one more, open or resolved by its status.
pub fn conversation_opened(customer: &mut customer::Model, conv: &conversation::Model) {
    customer.total_conversations += 1;
    if conv.status.is_resolved() {
        customer.resolved_conversations += 1;
    } else {
        customer.open_conversations += 1;
    }
    contacted(customer, conv.created_at);
}

/// A message sent at `sent_at` was added to `conv`; `replies` are the
/// conversation's reply totals with it (a message may arrive out of order,
/// so the caller computes them over all of the conversation's messages).
pub fn message_added(
    customer: &mut customer::Model,
    conv: &mut conversation::Model,
    sent_at: DateTime<Utc>,
    replies: Replies,
) {
    conv.message_count += 1;
    conv.last_message_at = Some(latest(conv.last_message_at, sent_at));
    conv.activity_at = conv.last_message_at.unwrap_or(conv.created_at);
    set_replies(customer, conv, replies);
    customer.total_messages += 1;
    customer.last_message_at = Some(latest(customer.last_message_at, sent_at));
    contacted(customer, sent_at);
}

/// What is left after a message was removed: the conversation's newest
/// remaining message, its reply totals, and the customer's extremes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AfterRemoval {
    /// The conversation's newest remaining message time.
    pub last_message: Option<DateTime<Utc>>,
    /// The conversation's reply totals without the message.
    pub replies: Replies,
    /// The extremes of the customer's remaining rows.
    pub customer: Extremes,
}

/// A message of `conv` was removed.
pub fn message_removed(
    customer: &mut customer::Model,
    conv: &mut conversation::Model,
    left: AfterRemoval,
) {
    conv.message_count -= 1;
    conv.last_message_at = left.last_message;
    conv.activity_at = left.last_message.unwrap_or(conv.created_at);
    set_replies(customer, conv, left.replies);
    customer.total_messages -= 1;
    times_from(customer, left.customer);
}

/// A conversation moved to status `to`: the customer's open and resolved
/// counts follow when it crosses between them.
pub fn status_changed(
    customer: &mut customer::Model,
    conv: &mut conversation::Model,
    to: ConversationStatus,
) {
    match (conv.status.is_resolved(), to.is_resolved()) {
        (false, true) => {
            customer.open_conversations -= 1;
            customer.resolved_conversations += 1;
        }
        (true, false) => {
            customer.resolved_conversations -= 1;
            customer.open_conversations += 1;
        }
        _ => {}
    }
    conv.status = to;
}

/// The customer rated a conversation; a new rating replaces the old one.
pub fn rated(customer: &mut customer::Model, conv: &mut conversation::Model, rating: i32) {
    match conv.rating {
        Some(old) => customer.rating_total += rating - old,
        None => {
            customer.rating_total += rating;
            customer.rating_count += 1;
        }
    }
    conv.rating = Some(rating);
}

/// A conversation was removed with its messages; `left` are the extremes of
/// the customer's remaining rows.
pub fn conversation_removed(
    customer: &mut customer::Model,
    conv: &conversation::Model,
    left: Extremes,
) {
    customer.total_conversations -= 1;
    if conv.status.is_resolved() {
        customer.resolved_conversations -= 1;
    } else {
        customer.open_conversations -= 1;
    }
    customer.total_messages -= conv.message_count;
    customer.response_time_ms -= conv.response_time_ms;
    customer.response_count -= conv.response_count;
    if let Some(r) = conv.rating {
        customer.rating_total -= r;
        customer.rating_count -= 1;
    }
    times_from(customer, left);
}

/// A ticket was raised at `at`.
pub fn ticket_opened(customer: &mut customer::Model, at: DateTime<Utc>) {
    customer.total_tickets += 1;
    customer.last_interaction = customer.last_interaction.max(at);
}

/// A customer row created at `at` with nothing happened to it yet: zero
/// statistics, its last interaction its creation, every optional field
/// empty and the contract's defaults (status active, segment new, source
/// WhatsApp, language es). Writers fill in what they know with struct update
/// syntax: `customer::Model { phone_number, ..ledger::new_customer(..) }`.
pub fn new_customer(tenant: &str, id: Uuid, at: DateTime<Utc>) -> customer::Model {
    customer::Model {
        id,
        tenant_id: tenant.to_owned(),
        phone_number: String::new(),
        first_name: None,
        last_name: None,
        email: None,
        avatar: None,
        alternative_phones: StringList::default(),
        address: None,
        tags: StringList::default(),
        segment: CustomerSegment::New,
        source: CustomerSource::Whatsapp,
        custom_fields: JsonObject::default(),
        preferred_language: "es".to_owned(),
        communication_hours: None,
        preferred_agent_id: None,
        status: CustomerStatus::Active,
        status_before_block: None,
        is_blocked: false,
        block_reason: None,
        notes: None,
        external_id: None,
        deleted_at: None,
        status_before_delete: None,
        search_text: String::new(),
        total_conversations: 0,
        open_conversations: 0,
        resolved_conversations: 0,
        total_messages: 0,
        total_tickets: 0,
        response_time_ms: 0,
        response_count: 0,
        rating_total: 0,
        rating_count: 0,
        first_contact: None,
        last_interaction: at,
        last_message_at: None,
        created_at: at,
        updated_at: at,
    }
}

/// The customer's statistics before anything happened to it.
fn cleared(mut m: customer::Model) -> customer::Model {
    m.total_conversations = 0;
    m.open_conversations = 0;
    m.resolved_conversations = 0;
    m.total_messages = 0;
    m.total_tickets = 0;
    m.response_time_ms = 0;
    m.response_count = 0;
    m.rating_total = 0;
    m.rating_count = 0;
    m.first_contact = None;
    m.last_interaction = m.created_at;
    m.last_message_at = None;
    m
}

/// One conversation of a customer as stored, with its messages as
/// (direction, sent_at) in `sentAt`, then id order.
pub type ConversationRows<'a> = (conversation::Model, &'a [(MessageDirection, DateTime<Utc>)]);

/// A customer and its conversations with every counter recomputed from their
/// rows, by replaying the operations the writers ran: each conversation
/// opened (as its status counts), each message added in order, its rating
/// given, each ticket raised at its creation time.
pub fn replay<'a>(
    customer: customer::Model,
    conversations: impl IntoIterator<Item = ConversationRows<'a>>,
    tickets: &[DateTime<Utc>],
) -> (customer::Model, Vec<conversation::Model>) {
    let mut customer = cleared(customer);
    let mut out = Vec::new();
    for (mut conv, messages) in conversations {
        let rating = conv.rating.take();
        conv.message_count = 0;
        conv.last_message_at = None;
        conv.activity_at = conv.created_at;
        conv.response_time_ms = 0;
        conv.response_count = 0;
        conversation_opened(&mut customer, &conv);
        let mut clock = ReplyClock::default();
        for &(direction, sent_at) in messages {
            clock.push(direction, sent_at);
            message_added(&mut customer, &mut conv, sent_at, clock.replies());
        }
        if let Some(r) = rating {
            rated(&mut customer, &mut conv, r);
        }
        out.push(conv);
    }
    for &at in tickets {
        ticket_opened(&mut customer, at);
    }
    (customer, out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use MessageDirection::{Inbound as In, Outbound as Out};

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 + seconds, 0).expect("valid time")
    }

    fn customer() -> customer::Model {
        customer::Model {
            phone_number: "5215512345678".into(),
            ..new_customer("t", Uuid::from_u128(1), at(0))
        }
    }

    fn conversation(id: u128, created: i64, status: ConversationStatus) -> conversation::Model {
        conversation::Model {
            id: Uuid::from_u128(id),
            tenant_id: "t".into(),
            customer_id: Uuid::from_u128(1),
            status,
            channel: "whatsapp".into(),
            subject: None,
            assigned_agent_id: None,
            rating: None,
            message_count: 0,
            last_message_at: None,
            activity_at: at(created),
            response_time_ms: 0,
            response_count: 0,
            created_at: at(created),
            updated_at: at(created),
            resolved_at: None,
        }
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

    /// The statistic columns of a customer, for comparing.
    fn stats(m: &customer::Model) -> [i64; 9] {
        [
            m.total_conversations.into(),
            m.open_conversations.into(),
            m.resolved_conversations.into(),
            m.total_messages.into(),
            m.total_tickets.into(),
            m.response_time_ms,
            m.response_count.into(),
            m.rating_total.into(),
            m.rating_count.into(),
        ]
    }

    #[test]
    fn each_operation_moves_exactly_its_counters() {
        type Op = fn(&mut customer::Model, &mut conversation::Model);
        // (what, operation on an open conversation created at 100 with one
        // reply of 5 s, expected customer counters afterwards)
        let cases: [(&str, Op, [i64; 9]); 7] = [
            (
                "conversation_opened",
                |c, v| conversation_opened(c, v),
                [2, 2, 0, 2, 0, 5000, 1, 0, 0],
            ),
            (
                "message_added",
                |c, v| {
                    let r = Replies {
                        total_ms: 9000,
                        count: 2,
                    };
                    message_added(c, v, at(300), r)
                },
                [1, 1, 0, 3, 0, 9000, 2, 0, 0],
            ),
            (
                "message_removed",
                |c, v| {
                    let left = AfterRemoval {
                        last_message: Some(at(110)),
                        replies: Replies::default(),
                        customer: Extremes::default(),
                    };
                    message_removed(c, v, left)
                },
                [1, 1, 0, 1, 0, 0, 0, 0, 0],
            ),
            (
                "status_changed to resolved",
                |c, v| status_changed(c, v, ConversationStatus::Resolved),
                [1, 0, 1, 2, 0, 5000, 1, 0, 0],
            ),
            (
                "status_changed to pending (still open)",
                |c, v| status_changed(c, v, ConversationStatus::Pending),
                [1, 1, 0, 2, 0, 5000, 1, 0, 0],
            ),
            (
                "rated twice (the second replaces the first)",
                |c, v| {
                    rated(c, v, 2);
                    rated(c, v, 5)
                },
                [1, 1, 0, 2, 0, 5000, 1, 5, 1],
            ),
            (
                "conversation_removed",
                |c, v| conversation_removed(c, v, Extremes::default()),
                [0, 0, 0, 0, 0, 0, 0, 0, 0],
            ),
        ];
        for (what, op, expected) in cases {
            let mut c = customer();
            let mut v = conversation(2, 100, ConversationStatus::Open);
            conversation_opened(&mut c, &v);
            message_added(&mut c, &mut v, at(105), Replies::default());
            let r = Replies {
                total_ms: 5000,
                count: 1,
            };
            message_added(&mut c, &mut v, at(110), r);
            op(&mut c, &mut v);
            assert_eq!(stats(&c), expected, "{what}");
        }
    }

    #[test]
    fn operations_keep_the_times_of_customer_and_conversation() {
        let mut c = customer();
        let mut v = conversation(2, 100, ConversationStatus::Open);
        conversation_opened(&mut c, &v);
        assert_eq!(
            (c.first_contact, c.last_interaction, c.last_message_at),
            (Some(at(100)), at(100), None)
        );
        message_added(&mut c, &mut v, at(200), Replies::default());
        // A message sent in the past moves no "latest" time back.
        message_added(&mut c, &mut v, at(50), Replies::default());
        assert_eq!(
            (c.first_contact, c.last_interaction, c.last_message_at),
            (Some(at(50)), at(200), Some(at(200)))
        );
        assert_eq!(
            (v.message_count, v.last_message_at, v.activity_at),
            (2, Some(at(200)), at(200))
        );
        ticket_opened(&mut c, at(300));
        assert_eq!((c.total_tickets, c.last_interaction), (1, at(300)));
        ticket_opened(&mut c, at(10));
        assert_eq!((c.total_tickets, c.last_interaction), (2, at(300)));
        let left = AfterRemoval {
            last_message: Some(at(50)),
            replies: Replies::default(),
            customer: Extremes {
                first_conversation: Some(at(100)),
                last_conversation: Some(at(100)),
                first_message: Some(at(50)),
                last_message: Some(at(50)),
                last_ticket: Some(at(300)),
            },
        };
        message_removed(&mut c, &mut v, left);
        assert_eq!(
            (v.message_count, v.last_message_at, v.activity_at),
            (1, Some(at(50)), at(50))
        );
        assert_eq!(
            (c.first_contact, c.last_interaction, c.last_message_at),
            (Some(at(50)), at(300), Some(at(50)))
        );
        conversation_removed(&mut c, &v, Extremes::default());
        assert_eq!(
            (c.first_contact, c.last_interaction, c.last_message_at),
            (None, c.created_at, None)
        );
    }

    /// A customer's rows as a store holds them, with the facts the write
    /// path reads from the database computed from them.
    #[derive(Default)]
    struct Rows {
        conversations: Vec<conversation::Model>,
        /// (conversation, direction, sent_at)
        messages: Vec<(Uuid, MessageDirection, DateTime<Utc>)>,
        tickets: Vec<DateTime<Utc>>,
    }

    impl Rows {
        fn messages_of(&self, conv: Uuid) -> Vec<(MessageDirection, DateTime<Utc>)> {
            let mut m: Vec<_> = self
                .messages
                .iter()
                .filter(|(c, _, _)| *c == conv)
                .map(|(_, d, t)| (*d, *t))
                .collect();
            m.sort_by_key(|(_, t)| *t);
            m
        }

        fn extremes(&self) -> Extremes {
            let created = || self.conversations.iter().map(|c| c.created_at);
            let sent = || self.messages.iter().map(|(_, _, t)| *t);
            Extremes {
                first_conversation: created().min(),
                last_conversation: created().max(),
                first_message: sent().min(),
                last_message: sent().max(),
                last_ticket: self.tickets.iter().copied().max(),
            }
        }

        fn conversation(&mut self, id: Uuid) -> &mut conversation::Model {
            self.conversations
                .iter_mut()
                .find(|c| c.id == id)
                .expect("a stored conversation")
        }
    }

    #[test]
    fn the_write_path_leaves_what_a_replay_of_the_rows_computes() {
        let mut c = customer();
        let mut rows = Rows::default();
        let open = |rows: &mut Rows, c: &mut customer::Model, id: u128, created: i64| {
            let v = conversation(id, created, ConversationStatus::Open);
            conversation_opened(c, &v);
            rows.conversations.push(v);
            Uuid::from_u128(id)
        };
        let add = |rows: &mut Rows, c: &mut customer::Model, conv: Uuid, d, sent: i64| {
            rows.messages.push((conv, d, at(sent)));
            let replies = replies(rows.messages_of(conv));
            let mut v = rows.conversation(conv).clone();
            message_added(c, &mut v, at(sent), replies);
            *rows.conversation(conv) = v;
        };
        let a = open(&mut rows, &mut c, 10, 100);
        add(&mut rows, &mut c, a, In, 110);
        add(&mut rows, &mut c, a, Out, 170);
        // Out of order: an earlier question makes the reply slower.
        add(&mut rows, &mut c, a, In, 105);
        let b = open(&mut rows, &mut c, 11, 400);
        add(&mut rows, &mut c, b, In, 410);
        add(&mut rows, &mut c, b, Out, 420);
        add(&mut rows, &mut c, b, In, 500);
        let mut v = rows.conversation(a).clone();
        status_changed(&mut c, &mut v, ConversationStatus::Resolved);
        rated(&mut c, &mut v, 3);
        rated(&mut c, &mut v, 4);
        *rows.conversation(a) = v;
        let mut v = rows.conversation(b).clone();
        status_changed(&mut c, &mut v, ConversationStatus::Pending);
        *rows.conversation(b) = v;
        ticket_opened(&mut c, at(450));
        rows.tickets.push(at(450));
        // Remove the newest message of b.
        rows.messages.retain(|(_, _, t)| *t != at(500));
        let left = AfterRemoval {
            last_message: rows.messages_of(b).last().map(|(_, t)| *t),
            replies: replies(rows.messages_of(b)),
            customer: rows.extremes(),
        };
        let mut v = rows.conversation(b).clone();
        message_removed(&mut c, &mut v, left);
        *rows.conversation(b) = v;
        // A third conversation, opened and removed with its message.
        let gone = open(&mut rows, &mut c, 12, 600);
        add(&mut rows, &mut c, gone, In, 610);
        let removed = rows.conversation(gone).clone();
        rows.conversations.retain(|v| v.id != gone);
        rows.messages.retain(|(v, _, _)| *v != gone);
        conversation_removed(&mut c, &removed, rows.extremes());

        let messages: Vec<_> = rows
            .conversations
            .iter()
            .map(|v| rows.messages_of(v.id))
            .collect();
        let (replayed, conversations) = replay(
            c.clone(),
            rows.conversations
                .iter()
                .cloned()
                .zip(messages.iter().map(Vec::as_slice)),
            &rows.tickets,
        );
        assert_eq!(replayed, c);
        assert_eq!(conversations, rows.conversations);
        assert_eq!(stats(&c), [2, 1, 1, 5, 1, 75_000, 2, 4, 1]);
    }
}
