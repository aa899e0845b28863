//! The auto-calculated statistics of a customer are kept as columns, updated
//! in each write's transaction. These tests pin the promise that what the
//! API shows always equals a recomputation from the raw rows, under random
//! sequences of writes, under concurrent writers, and per customer.
//! Other suites (hostile_races) reuse `check`, the one recomputation of a
//! customer's statistics from its rows.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use clientela::auth::Role;
use entity::{conversation, customer, message, ticket};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestRng, TestRunner};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::helpers::fixtures::fmt;
use crate::helpers::graphql::{
    ADD_MESSAGE, CREATE_CONVERSATION, CREATE_TICKET, DELETE_CONVERSATION, DELETE_MESSAGE, RATE,
    SET_STATUS,
};
use crate::helpers::TestApp;

const CUSTOMER: &str = "query($id: ID!) {
  customer(id: $id) {
    statistics {
      totalConversations openConversations resolvedConversations totalMessages totalTickets
      averageResponseTime satisfactionScore
    }
    firstContact lastInteraction lastMessageAt
  }
}";
/// Seconds in 30 days: how far from the base time a message may be sent.
const MONTH: i64 = 30 * 24 * 3600;

/// A customer's rows, each list ordered by id.
struct Rows {
    customer: customer::Model,
    conversations: Vec<conversation::Model>,
    messages: Vec<message::Model>,
    tickets: Vec<ticket::Model>,
}

/// Reads a customer's raw rows through the test's own connection.
async fn rows(app: &TestApp, id: Uuid) -> Rows {
    let customer = customer::Entity::find_by_id(("default".to_owned(), id))
        .one(&app.db)
        .await
        .expect("read customer")
        .expect("customer exists");
    let conversations = conversation::Entity::find()
        .filter(conversation::Column::CustomerId.eq(id))
        .order_by_asc(conversation::Column::Id)
        .all(&app.db)
        .await
        .expect("read conversations");
    let messages = message::Entity::find()
        .filter(message::Column::CustomerId.eq(id))
        .order_by_asc(message::Column::Id)
        .all(&app.db)
        .await
        .expect("read messages");
    let tickets = ticket::Entity::find()
        .filter(ticket::Column::CustomerId.eq(id))
        .order_by_asc(ticket::Column::Id)
        .all(&app.db)
        .await
        .expect("read tickets");
    Rows {
        customer,
        conversations,
        messages,
        tickets,
    }
}

/// The statistics a customer shows, or should show.
#[derive(Debug, Clone, PartialEq)]
struct Stats {
    total_conversations: i64,
    open_conversations: i64,
    resolved_conversations: i64,
    total_messages: i64,
    total_tickets: i64,
    average_response_time: Option<f64>,
    satisfaction_score: Option<f64>,
    last_message_at: Option<String>,
    first_contact: Option<String>,
    last_interaction: Option<String>,
}

fn mean(values: &[f64]) -> Option<f64> {
    (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
}

/// The contract's statistics recomputed from the rows, written here from
/// `rest.md` independently of the server's code.
fn recompute(rows: &Rows) -> Stats {
    let resolved = rows
        .conversations
        .iter()
        .filter(|c| c.status.as_str() == "resolved")
        .count() as i64;
    let open = rows
        .conversations
        .iter()
        .filter(|c| matches!(c.status.as_str(), "open" | "pending"))
        .count() as i64;
    // Each outbound message after one or more unanswered inbound messages of
    // the same conversation (by sentAt, then id) is a reply, timed from the
    // earliest of them.
    let mut replies = Vec::new();
    for c in &rows.conversations {
        let mut messages: Vec<&message::Model> = rows
            .messages
            .iter()
            .filter(|m| m.conversation_id == c.id)
            .collect();
        messages.sort_by_key(|m| (m.sent_at, m.id));
        let mut waiting: Option<DateTime<Utc>> = None;
        for m in messages {
            match m.direction.as_str() {
                "inbound" => {
                    waiting.get_or_insert(m.sent_at);
                }
                "outbound" => {
                    if let Some(since) = waiting.take() {
                        replies.push((m.sent_at - since).num_milliseconds() as f64 / 1000.0);
                    }
                }
                other => panic!("unknown direction {other}"),
            }
        }
    }
    let ratings: Vec<f64> = rows
        .conversations
        .iter()
        .filter_map(|c| c.rating.map(f64::from))
        .collect();
    let sent = rows.messages.iter().map(|m| m.sent_at);
    let opened = rows.conversations.iter().map(|c| c.created_at);
    let raised = rows.tickets.iter().map(|t| t.created_at);
    Stats {
        total_conversations: rows.conversations.len() as i64,
        open_conversations: open,
        resolved_conversations: resolved,
        total_messages: rows.messages.len() as i64,
        total_tickets: rows.tickets.len() as i64,
        average_response_time: mean(&replies),
        satisfaction_score: mean(&ratings),
        last_message_at: sent.clone().max().map(fmt),
        first_contact: sent.clone().chain(opened.clone()).min().map(fmt),
        last_interaction: sent
            .chain(opened)
            .chain(raised)
            .chain([rows.customer.created_at])
            .max()
            .map(fmt),
    }
}

/// What GraphQL shows of a customer's statistics.
async fn shown(app: &TestApp, id: Uuid) -> Result<Stats, String> {
    let data = app
        .try_gql(&app.admin(), CUSTOMER, json!({ "id": id }))
        .await?;
    let c = &data["customer"];
    let s = &c["statistics"];
    let int = |key: &str| {
        s[key]
            .as_i64()
            .ok_or_else(|| format!("statistics.{key} is not an integer: {c}"))
    };
    let text = |v: &Value| v.as_str().map(str::to_owned);
    Ok(Stats {
        total_conversations: int("totalConversations")?,
        open_conversations: int("openConversations")?,
        resolved_conversations: int("resolvedConversations")?,
        total_messages: int("totalMessages")?,
        total_tickets: int("totalTickets")?,
        average_response_time: s["averageResponseTime"].as_f64(),
        satisfaction_score: s["satisfactionScore"].as_f64(),
        last_message_at: text(&c["lastMessageAt"]),
        first_contact: text(&c["firstContact"]),
        last_interaction: text(&c["lastInteraction"]),
    })
}

/// Whether two optional means agree within `tolerance`.
fn close(a: Option<f64>, b: Option<f64>, tolerance: f64) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => (a - b).abs() <= tolerance,
        _ => false,
    }
}

/// Compares what GraphQL shows of a customer with a recomputation from its rows.
pub(crate) async fn check(app: &TestApp, id: Uuid) -> Result<(), String> {
    let got = shown(app, id).await?;
    let want = recompute(&rows(app, id).await);
    let same = Stats {
        average_response_time: want.average_response_time,
        satisfaction_score: want.satisfaction_score,
        ..got.clone()
    } == want
        && close(got.average_response_time, want.average_response_time, 0.001)
        && close(got.satisfaction_score, want.satisfaction_score, 1e-9);
    if same {
        Ok(())
    } else {
        Err(format!(
            "statistics differ from the rows\n  shown:      {got:?}\n  recomputed: {want:?}"
        ))
    }
}

/// One write of the property test. Indexes pick among the customer's
/// current conversations or messages (ordered by id), modulo their number.
#[derive(Debug, Clone)]
enum Op {
    CreateConversation,
    AddMessage {
        conversation: usize,
        inbound: bool,
        /// Seconds from the base time.
        offset: i64,
    },
    SetStatus {
        conversation: usize,
        status: &'static str,
    },
    Rate {
        conversation: usize,
        rating: i32,
    },
    CreateTicket {
        conversation: Option<usize>,
    },
    DeleteMessage {
        message: usize,
    },
    DeleteConversation {
        conversation: usize,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let index = || 0usize..1000;
    // Mostly anywhere within a month, sometimes within seconds of the base
    // time so that equal sentAt values (ties broken by id) occur.
    let offset = prop_oneof![1 => -MONTH..=MONTH, 1 => -1i64..=1];
    prop_oneof![
        3 => Just(Op::CreateConversation),
        8 => (index(), any::<bool>(), offset).prop_map(|(conversation, inbound, offset)| {
            Op::AddMessage { conversation, inbound, offset }
        }),
        2 => (index(), prop::sample::select(vec!["OPEN", "PENDING", "RESOLVED"]))
            .prop_map(|(conversation, status)| Op::SetStatus { conversation, status }),
        2 => (index(), 1..=5i32).prop_map(|(conversation, rating)| Op::Rate { conversation, rating }),
        1 => prop::option::of(index()).prop_map(|conversation| Op::CreateTicket { conversation }),
        1 => index().prop_map(|message| Op::DeleteMessage { message }),
        1 => index().prop_map(|conversation| Op::DeleteConversation { conversation }),
    ]
}

/// How many rows of each kind the test expects the customer to have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Counts {
    conversations: usize,
    messages: usize,
    tickets: usize,
}

/// Applies one operation through GraphQL, given the rows before it; updates
/// the expected row counts. Operations that need a missing row are skipped.
async fn apply(
    app: &TestApp,
    customer: Uuid,
    base: DateTime<Utc>,
    op: &Op,
    before: &Rows,
    counts: &mut Counts,
) -> Result<(), String> {
    let agent = app.token(Role::Agent, "default");
    let admin = app.admin();
    let pick = |i: usize| {
        (!before.conversations.is_empty())
            .then(|| &before.conversations[i % before.conversations.len()])
    };
    match *op {
        Op::CreateConversation => {
            app.try_gql(
                &agent,
                CREATE_CONVERSATION,
                json!({ "input": { "customerId": customer } }),
            )
            .await?;
            counts.conversations += 1;
        }
        Op::AddMessage {
            conversation,
            inbound,
            offset,
        } => {
            let Some(c) = pick(conversation) else {
                return Ok(());
            };
            let sent_at = base + TimeDelta::seconds(offset);
            let input = json!({
                "conversationId": c.id,
                "direction": if inbound { "INBOUND" } else { "OUTBOUND" },
                "body": "hello",
                "sentAt": fmt(sent_at),
            });
            app.try_gql(&agent, ADD_MESSAGE, json!({ "input": input }))
                .await?;
            counts.messages += 1;
        }
        Op::SetStatus {
            conversation,
            status,
        } => {
            let Some(c) = pick(conversation) else {
                return Ok(());
            };
            app.try_gql(&agent, SET_STATUS, json!({ "id": c.id, "status": status }))
                .await?;
        }
        Op::Rate {
            conversation,
            rating,
        } => {
            let Some(c) = pick(conversation) else {
                return Ok(());
            };
            app.try_gql(&agent, RATE, json!({ "id": c.id, "rating": rating }))
                .await?;
        }
        Op::CreateTicket { conversation } => {
            let mut input = json!({ "customerId": customer, "subject": "Help" });
            if let Some(c) = conversation.and_then(pick) {
                input["conversationId"] = json!(c.id);
            }
            app.try_gql(&agent, CREATE_TICKET, json!({ "input": input }))
                .await?;
            counts.tickets += 1;
        }
        Op::DeleteMessage { message } => {
            if before.messages.is_empty() {
                return Ok(());
            }
            let m = &before.messages[message % before.messages.len()];
            app.try_gql(&admin, DELETE_MESSAGE, json!({ "id": m.id }))
                .await?;
            counts.messages -= 1;
        }
        Op::DeleteConversation { conversation } => {
            let Some(c) = pick(conversation) else {
                return Ok(());
            };
            app.try_gql(&admin, DELETE_CONVERSATION, json!({ "id": c.id }))
                .await?;
            counts.conversations -= 1;
            counts.messages -= before
                .messages
                .iter()
                .filter(|m| m.conversation_id == c.id)
                .count();
        }
    }
    Ok(())
}

/// One case of the property: a fresh customer, the operations in order, and
/// after each one the shown statistics against the rows.
async fn run_case(app: &TestApp, case: u32, base: DateTime<Utc>, ops: &[Op]) -> Result<(), String> {
    let customer = app.new_customer(case as usize).await;
    check(app, customer)
        .await
        .map_err(|e| format!("before any operation: {e}"))?;
    let mut counts = Counts::default();
    for (i, op) in ops.iter().enumerate() {
        let before = rows(app, customer).await;
        apply(app, customer, base, op, &before, &mut counts)
            .await
            .map_err(|e| format!("operation #{i} {op:?} failed: {e}"))?;
        let after = rows(app, customer).await;
        let stored = Counts {
            conversations: after.conversations.len(),
            messages: after.messages.len(),
            tickets: after.tickets.len(),
        };
        if stored != counts {
            return Err(format!(
                "after operation #{i} {op:?}: rows {stored:?}, expected {counts:?}"
            ));
        }
        check(app, customer)
            .await
            .map_err(|e| format!("after operation #{i} {op:?}: {e}"))?;
    }
    Ok(())
}

async fn statistics_equal_a_recomputation_from_the_rows_after_every_operation(app: TestApp) {
    let handle = tokio::runtime::Handle::current();
    let base = Utc::now()
        .duration_trunc(TimeDelta::seconds(1))
        .expect("truncate to seconds");
    let mut config = Config::with_cases(12);
    config.failure_persistence = None;
    config.max_shrink_iters = 50;
    let mut runner =
        TestRunner::new_with_rng(config, TestRng::deterministic_rng(RngAlgorithm::ChaCha));
    let cases = AtomicU32::new(0);
    let strategy = prop::collection::vec(op(), 10..=40);
    // Proptest's runner is synchronous; each case drives the async server
    // from this (multi-threaded) runtime's blocking section.
    let result = tokio::task::block_in_place(|| {
        runner.run(&strategy, |ops| {
            let case = cases.fetch_add(1, Ordering::SeqCst);
            handle
                .block_on(run_case(&app, case, base, &ops))
                .map_err(TestCaseError::fail)
        })
    });
    if let Err(failure) = result {
        panic!("{failure}");
    }
}

async fn concurrent_writes_to_one_customer_lose_no_update(app: TestApp) {
    let app = Arc::new(app);
    let customer = app.new_customer(1).await;
    let agent = app.token(Role::Agent, "default");
    let mut conversations = Vec::new();
    for _ in 0..3 {
        conversations.push(app.new_conversation(customer).await);
    }
    let base = Utc::now()
        .duration_trunc(TimeDelta::seconds(1))
        .expect("truncate to seconds");
    let conversations = Arc::new(conversations);
    let tasks: Vec<_> = (0..20_i64)
        .map(|i| {
            let app = app.clone();
            let agent = agent.clone();
            let conversations = conversations.clone();
            tokio::spawn(async move {
                // Every fourth task opens its own conversation; the others
                // share three, so writers of one conversation interleave.
                let target = if i % 4 == 0 {
                    let data = app.try_gql(&agent,
                        CREATE_CONVERSATION,
                        json!({ "input": { "customerId": customer } }),
                    )
                    .await?;
                    data["createConversation"]["id"].clone()
                } else {
                    conversations[(i % 3) as usize].clone()
                };
                for k in 0..5_i64 {
                    let mut input = json!({
                        "conversationId": target,
                        "direction": if (i + k) % 2 == 0 { "INBOUND" } else { "OUTBOUND" },
                        "body": format!("task {i} message {k}"),
                    });
                    // Half with explicit times (some in the past), half sent now.
                    if k % 2 == 0 {
                        input["sentAt"] = json!(fmt(base + TimeDelta::seconds(i * 7 - k * 60)));
                    }
                    app.try_gql(&agent, ADD_MESSAGE, json!({ "input": input })).await?;
                }
                if i % 3 == 0 {
                    let rating = i % 5 + 1;
                    app.try_gql(&agent, RATE, json!({ "id": target, "rating": rating })).await?;
                }
                if i % 5 == 0 {
                    let input = json!({ "customerId": customer, "conversationId": target, "subject": "Busy" });
                    app.try_gql(&agent, CREATE_TICKET, json!({ "input": input })).await?;
                }
                if i % 7 == 0 {
                    app.try_gql(&agent, SET_STATUS, json!({ "id": target, "status": "RESOLVED" }))
                        .await?;
                }
                Ok::<(), String>(())
            })
        })
        .collect();
    for task in tasks {
        task.await
            .expect("task did not panic")
            .unwrap_or_else(|e| panic!("a concurrent write failed: {e}"));
    }

    let stored = rows(&app, customer).await;
    assert_eq!(stored.messages.len(), 100, "every message is stored");
    assert_eq!(stored.conversations.len(), 3 + 5);
    assert_eq!(stored.tickets.len(), 4);
    let shown = shown(&app, customer).await.expect("read statistics");
    assert_eq!(shown.total_messages, 100, "no lost update: {shown:?}");
    assert_eq!(shown.total_conversations, 8, "{shown:?}");
    assert_eq!(shown.total_tickets, 4, "{shown:?}");
    assert_eq!(
        shown.open_conversations + shown.resolved_conversations,
        8,
        "{shown:?}"
    );
    check(&app, customer)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let rated = stored
        .conversations
        .iter()
        .filter(|c| c.rating.is_some())
        .count();
    assert!(rated >= 1, "some conversation was rated");
}

async fn writes_to_one_customer_leave_another_customers_statistics_untouched(app: TestApp) {
    let agent = app.token(Role::Agent, "default");
    let admin = app.admin();
    let busy = app.new_customer(1).await;
    let bystander = app.new_customer(2).await;

    // The bystander has a history of its own.
    let theirs = app.new_conversation(bystander).await;
    for (direction, at) in [
        ("INBOUND", "2024-06-01T10:00:00.000Z"),
        ("OUTBOUND", "2024-06-01T10:02:30.000Z"),
    ] {
        app.new_message(&theirs, direction, at).await;
    }
    app.try_gql(&agent, RATE, json!({ "id": theirs, "rating": 4 }))
        .await
        .expect("rate");
    let before_shown = app
        .try_gql(&admin, CUSTOMER, json!({ "id": bystander }))
        .await
        .expect("read");
    let before_row = rows(&app, bystander).await.customer;
    check(&app, bystander)
        .await
        .unwrap_or_else(|e| panic!("{e}"));

    // Every kind of write to the busy customer.
    let mine = app.new_conversation(busy).await;
    let mut message_ids = Vec::new();
    for (direction, at) in [
        ("INBOUND", "2023-01-01T00:00:00.000Z"),
        ("OUTBOUND", "2030-01-01T00:00:00.000Z"),
        ("INBOUND", "2024-06-01T10:00:00.000Z"),
    ] {
        let input =
            json!({ "conversationId": mine, "direction": direction, "body": "y", "sentAt": at });
        let data = app
            .try_gql(&agent, ADD_MESSAGE, json!({ "input": input }))
            .await
            .expect("message");
        message_ids.push(data["addMessage"]["id"].clone());
    }
    for (query, variables, token) in [
        (RATE, json!({ "id": mine, "rating": 1 }), &agent),
        (
            SET_STATUS,
            json!({ "id": mine, "status": "RESOLVED" }),
            &agent,
        ),
        (
            CREATE_TICKET,
            json!({ "input": { "customerId": busy, "conversationId": mine, "subject": "z" } }),
            &agent,
        ),
        (DELETE_MESSAGE, json!({ "id": message_ids[1] }), &admin),
        (DELETE_CONVERSATION, json!({ "id": mine }), &admin),
    ] {
        app.try_gql(token, query, variables).await.expect("write");
        check(&app, busy).await.unwrap_or_else(|e| panic!("{e}"));
    }

    let after_shown = app
        .try_gql(&admin, CUSTOMER, json!({ "id": bystander }))
        .await
        .expect("read");
    assert_eq!(
        after_shown, before_shown,
        "the bystander's statistics did not move"
    );
    assert_eq!(
        rows(&app, bystander).await.customer,
        before_row,
        "the bystander's row was not written"
    );
    check(&app, bystander)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let stats = &after_shown["customer"]["statistics"];
    assert_eq!(
        stats["averageResponseTime"].as_f64(),
        Some(150.0),
        "{stats}"
    );
    assert_eq!(stats["satisfactionScore"].as_f64(), Some(4.0), "{stats}");
}

crate::db_tests!(
    statistics_equal_a_recomputation_from_the_rows_after_every_operation,
    concurrent_writes_to_one_customer_lose_no_update,
    writes_to_one_customer_leave_another_customers_statistics_untouched,
);
