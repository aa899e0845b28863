//! Recounting: every derived value of a tenant recomputed from its rows —
//! each customer's statistics and timestamps, each conversation's message
//! count, times and reply totals, the search text, and the phone and tag rows
//! behind the unique-phone rule and the tag filter, and the tenant's customer
//! counters ([`counts`]). Operators run it after a
//! restore or hand-written SQL (`clientela recount`); the benchmark kit's
//! loader runs it after copying raw rows. It must produce exactly what the
//! write path would have, so it replays the writers' own ledger operations
//! over each customer's rows ([`ledger::replay`]) and uses the same search
//! rule ([`search::document`]).
//!
//! It works in batches of customers (by id), each in its own transaction
//! with those customers locked, like any writer, so it is safe while the
//! server runs; a second run changes nothing.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use entity::{
    conversation, customer, customer_count, customer_phone, customer_tag, message, ticket,
};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Set, Statement, TransactionTrait,
};
use uuid::Uuid;

use super::{counts, customer_rows, insert_chunked, ledger, save_row, scope};
use crate::domain::conversation::MessageDirection;
use crate::domain::search;
use crate::error::Result;

/// What a recount found and mended.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Report {
    /// Customers looked at.
    pub customers: u64,
    /// Customer rows whose statistics, times or search text were wrong.
    pub customers_fixed: u64,
    /// Conversation rows whose counts, times or reply totals were wrong.
    pub conversations_fixed: u64,
    /// Phone and tag rows added or removed.
    pub index_rows_fixed: u64,
    /// Numbers a customer lists that another customer's row already holds
    /// (left as they are: a person must decide whose number it is).
    pub phone_conflicts: u64,
    /// Customer counters ([`counts`]) that were wrong.
    pub counters_fixed: u64,
}

/// The tenants that have customers or counters, for a recount of all of them.
#[tracing::instrument(skip_all, err)]
pub async fn tenants(db: &DatabaseConnection) -> Result<Vec<String>> {
    let mut tenants: BTreeSet<String> = customer::Entity::find()
        .select_only()
        .column(customer::Column::TenantId)
        .distinct()
        .into_tuple::<String>()
        .all(db)
        .await?
        .into_iter()
        .collect();
    tenants.extend(
        customer_count::Entity::find()
            .select_only()
            .column(customer_count::Column::TenantId)
            .distinct()
            .into_tuple::<String>()
            .all(db)
            .await?,
    );
    Ok(tenants.into_iter().collect())
}

/// Recounts `tenant` in batches of `batch` customers, calling `progress`
/// with the customers done so far after each batch.
#[tracing::instrument(skip_all, fields(tenant.id = %tenant), err)]
pub async fn recount(
    db: &DatabaseConnection,
    tenant: &str,
    batch: u64,
    mut progress: impl FnMut(u64),
) -> Result<Report> {
    let mut report = Report::default();
    let mut after: Option<Uuid> = None;
    loop {
        let txn = db.begin().await?;
        if txn.get_database_backend() == DbBackend::Sqlite {
            // Take SQLite's write lock now (waiting for the server's writer),
            // not at the first write after reading, which could fail.
            txn.execute_unprepared("DELETE FROM customer_tags WHERE 0")
                .await?;
        }
        let mut q = scope::customers_in(tenant)
            .order_by_asc(customer::Column::Id)
            .limit(batch.max(1))
            .lock_exclusive();
        if let Some(id) = after {
            q = q.filter(customer::Column::Id.gt(id));
        }
        let rows = q.all(&txn).await?;
        let Some(last) = rows.last() else {
            break;
        };
        after = Some(last.id);
        report.customers += rows.len() as u64;
        recount_batch(&txn, tenant, rows, &mut report).await?;
        txn.commit().await?;
        progress(report.customers);
    }
    report.counters_fixed = recount_counters(db, tenant).await?;
    Ok(report)
}

/// The counters of a tenant from its rows, by the facets [`counts::facets`]
/// names; `{p}` is the tenant's placeholder, `{month}` the `YYYY-MM` (UTC)
/// of `created_at`.
const COUNTERS: &str = "SELECT 'all', count(*) FROM customers WHERE tenant_id = {p} \
    UNION ALL SELECT 'status:' || status, count(*) FROM customers WHERE tenant_id = {p} GROUP BY status \
    UNION ALL SELECT 'segment:' || segment, count(*) FROM customers WHERE tenant_id = {p} GROUP BY segment \
    UNION ALL SELECT 'source:' || source, count(*) FROM customers WHERE tenant_id = {p} GROUP BY source \
    UNION ALL SELECT 'blocked', count(*) FROM customers WHERE tenant_id = {p} AND is_blocked \
    UNION ALL SELECT 'tag:' || tag, count(*) FROM customer_tags WHERE tenant_id = {p} GROUP BY tag \
    UNION ALL SELECT 'created:' || {month}, count(*) FROM customers WHERE tenant_id = {p} GROUP BY {month}";

/// Recomputes a tenant's counters from its rows in one transaction and
/// writes the ones that differ; returns how many did.
///
/// The transaction bumps the tenant's `version` first, as every writer does
/// before its counters: on PostgreSQL a writer that committed before is
/// counted from its rows, and one that commits after adds its change to the
/// fresh values, so no change is lost or counted twice. On SQLite the bump
/// takes the one write lock.
async fn recount_counters(db: &DatabaseConnection, tenant: &str) -> Result<u64> {
    let backend = db.get_database_backend();
    let (p, month) = match backend {
        DbBackend::Postgres => ("$1", "to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM')"),
        _ => ("?1", "substr(created_at, 1, 7)"),
    };
    let txn = db.begin().await?;
    let mut bump = counts::Tally::default();
    bump.touch(tenant);
    bump.write(&txn).await?;
    let sql = COUNTERS.replace("{p}", p).replace("{month}", month);
    let fresh: BTreeMap<String, i64> = txn
        .query_all(Statement::from_sql_and_values(
            backend,
            sql,
            [tenant.into()],
        ))
        .await?
        .into_iter()
        .map(|row| Ok((row.try_get_by_index(0)?, row.try_get_by_index(1)?)))
        .collect::<std::result::Result<Vec<(String, i64)>, sea_orm::DbErr>>()?
        .into_iter()
        .filter(|(_, n)| *n != 0)
        .collect();
    let stored: BTreeMap<String, i64> = scope::counts_in(tenant)
        .filter(customer_count::Column::Facet.ne(counts::VERSION))
        .all(&txn)
        .await?
        .into_iter()
        .filter(|c| c.n != 0)
        .map(|c| (c.facet, c.n))
        .collect();
    let keys: BTreeSet<&String> = fresh.keys().chain(stored.keys()).collect();
    let wrong = keys
        .into_iter()
        .filter(|k| fresh.get(*k) != stored.get(*k))
        .count() as u64;
    if wrong > 0 {
        scope::delete_counts(tenant)
            .filter(customer_count::Column::Facet.ne(counts::VERSION))
            .exec(&txn)
            .await?;
        let rows = fresh
            .into_iter()
            .map(|(facet, n)| customer_count::ActiveModel {
                tenant_id: Set(tenant.to_owned()),
                facet: Set(facet),
                n: Set(n),
            });
        insert_chunked(&txn, rows.collect()).await?;
    }
    txn.commit().await?;
    Ok(wrong)
}

/// The rows of one batch's customers, grouped by customer.
struct Related {
    conversations: HashMap<Uuid, Vec<conversation::Model>>,
    /// (direction, sent_at) in `sentAt`, then id order, per conversation.
    messages: HashMap<Uuid, Vec<(MessageDirection, DateTime<Utc>)>>,
    tickets: HashMap<Uuid, Vec<DateTime<Utc>>>,
    phones: HashMap<Uuid, BTreeSet<String>>,
    tags: HashMap<Uuid, BTreeSet<String>>,
}

async fn related<C: ConnectionTrait>(db: &C, tenant: &str, ids: &[Uuid]) -> Result<Related> {
    let mut out = Related {
        conversations: HashMap::new(),
        messages: HashMap::new(),
        tickets: HashMap::new(),
        phones: HashMap::new(),
        tags: HashMap::new(),
    };
    for c in scope::conversations_in(tenant)
        .filter(conversation::Column::CustomerId.is_in(ids.iter().copied()))
        .all(db)
        .await?
    {
        out.conversations.entry(c.customer_id).or_default().push(c);
    }
    let messages: Vec<(Uuid, MessageDirection, DateTime<Utc>)> = scope::messages_in(tenant)
        .select_only()
        .column(message::Column::ConversationId)
        .column(message::Column::Direction)
        .column(message::Column::SentAt)
        .filter(message::Column::CustomerId.is_in(ids.iter().copied()))
        .order_by_asc(message::Column::ConversationId)
        .order_by_asc(message::Column::SentAt)
        .order_by_asc(message::Column::Id)
        .into_tuple()
        .all(db)
        .await?;
    for (conversation, direction, sent_at) in messages {
        out.messages
            .entry(conversation)
            .or_default()
            .push((direction, sent_at));
    }
    let tickets: Vec<(Uuid, DateTime<Utc>)> = scope::tickets_in(tenant)
        .select_only()
        .column(ticket::Column::CustomerId)
        .column(ticket::Column::CreatedAt)
        .filter(ticket::Column::CustomerId.is_in(ids.iter().copied()))
        .into_tuple()
        .all(db)
        .await?;
    for (customer, at) in tickets {
        out.tickets.entry(customer).or_default().push(at);
    }
    for p in scope::phones_in(tenant)
        .filter(customer_phone::Column::CustomerId.is_in(ids.iter().copied()))
        .all(db)
        .await?
    {
        out.phones.entry(p.customer_id).or_default().insert(p.phone);
    }
    for t in scope::tags_in(tenant)
        .filter(customer_tag::Column::CustomerId.is_in(ids.iter().copied()))
        .all(db)
        .await?
    {
        out.tags.entry(t.customer_id).or_default().insert(t.tag);
    }
    Ok(out)
}

/// A customer's derived columns recomputed from its conversations, their
/// messages and its tickets, by the ledger's own operations; and its search
/// text.
fn recount_customer(
    stored: customer::Model,
    conversations: &[conversation::Model],
    messages: &HashMap<Uuid, Vec<(MessageDirection, DateTime<Utc>)>>,
    tickets: &[DateTime<Utc>],
) -> (customer::Model, Vec<conversation::Model>) {
    let rows = conversations.iter().map(|c| {
        let sent = messages.get(&c.id).map_or(&[][..], Vec::as_slice);
        (c.clone(), sent)
    });
    let (mut m, conversations) = ledger::replay(stored, rows, tickets);
    m.search_text = search::document(
        &m.phone_number,
        m.first_name.as_deref(),
        m.last_name.as_deref(),
        m.email.as_deref(),
    );
    (m, conversations)
}

/// One customer's derived columns recomputed from its rows, exactly as a
/// recount would, for a writer that moved rows between customers (a merge
/// and its undo): its conversations whose counters differ are written
/// back, the customer is returned for the writer to save (and count).
pub(crate) async fn recount_one<C: ConnectionTrait>(
    db: &C,
    stored: customer::Model,
) -> Result<customer::Model> {
    let id = stored.id;
    let tenant = stored.tenant_id.clone();
    let mut rel = related(db, &tenant, &[id]).await?;
    let stored_conversations = rel.conversations.remove(&id).unwrap_or_default();
    let tickets = rel.tickets.remove(&id).unwrap_or_default();
    let (fresh, conversations) =
        recount_customer(stored, &stored_conversations, &rel.messages, &tickets);
    for (fresh, stored) in conversations.into_iter().zip(&stored_conversations) {
        if fresh != *stored {
            save_row::<conversation::ActiveModel>(db, fresh).await?;
        }
    }
    Ok(fresh)
}

/// The numbers and tags a customer's own columns say it has.
fn listed(m: &customer::Model) -> (BTreeSet<String>, BTreeSet<String>) {
    let phones = std::iter::once(&m.phone_number)
        .chain(&m.alternative_phones.0)
        .cloned()
        .collect();
    (phones, m.tags.0.iter().cloned().collect())
}

async fn recount_batch<C: ConnectionTrait>(
    db: &C,
    tenant: &str,
    rows: Vec<customer::Model>,
    report: &mut Report,
) -> Result<()> {
    let ids: Vec<Uuid> = rows.iter().map(|m| m.id).collect();
    let mut rel = related(db, tenant, &ids).await?;
    let mut missing_phones: BTreeMap<String, Uuid> = BTreeMap::new();
    let mut missing_tags = Vec::new();
    for stored in rows {
        let id = stored.id;
        let stored_conversations = rel.conversations.remove(&id).unwrap_or_default();
        let tickets = rel.tickets.remove(&id).unwrap_or_default();
        let (fresh, conversations) = recount_customer(
            stored.clone(),
            &stored_conversations,
            &rel.messages,
            &tickets,
        );
        for (fresh, stored) in conversations.into_iter().zip(&stored_conversations) {
            if fresh != *stored {
                save_row::<conversation::ActiveModel>(db, fresh).await?;
                report.conversations_fixed += 1;
            }
        }
        if fresh != stored {
            customer_rows::save(db, fresh.clone()).await?;
            report.customers_fixed += 1;
        }
        let (phones, tags) = listed(&fresh);
        let (have_phones, have_tags) = (
            rel.phones.remove(&id).unwrap_or_default(),
            rel.tags.remove(&id).unwrap_or_default(),
        );
        let stale_phones: Vec<&String> = have_phones.difference(&phones).collect();
        if !stale_phones.is_empty() {
            scope::delete_phones(tenant)
                .filter(customer_phone::Column::CustomerId.eq(id))
                .filter(
                    customer_phone::Column::Phone.is_in(stale_phones.iter().map(|p| p.as_str())),
                )
                .exec(db)
                .await?;
            report.index_rows_fixed += stale_phones.len() as u64;
        }
        for phone in phones.difference(&have_phones) {
            missing_phones.insert(phone.clone(), id);
        }
        let stale_tags: Vec<&String> = have_tags.difference(&tags).collect();
        if !stale_tags.is_empty() {
            scope::delete_tags(tenant)
                .filter(customer_tag::Column::CustomerId.eq(id))
                .filter(customer_tag::Column::Tag.is_in(stale_tags.iter().map(|t| t.as_str())))
                .exec(db)
                .await?;
            report.index_rows_fixed += stale_tags.len() as u64;
        }
        for tag in tags.difference(&have_tags) {
            missing_tags.push(customer_tag::ActiveModel {
                customer_id: Set(id),
                tag: Set(tag.clone()),
                tenant_id: Set(tenant.to_owned()),
            });
        }
    }
    if !missing_phones.is_empty() {
        // A number another customer's row holds stays with that customer.
        let held: BTreeSet<String> = scope::phones_in(tenant)
            .filter(customer_phone::Column::Phone.is_in(missing_phones.keys().map(String::as_str)))
            .all(db)
            .await?
            .into_iter()
            .map(|p| p.phone)
            .collect();
        let mut rows = Vec::new();
        for (phone, customer_id) in missing_phones {
            if held.contains(&phone) {
                tracing::warn!(customer.id = %customer_id, "a listed number belongs to another customer");
                report.phone_conflicts += 1;
            } else {
                rows.push(customer_phone::ActiveModel {
                    tenant_id: Set(tenant.to_owned()),
                    phone: Set(phone),
                    customer_id: Set(customer_id),
                });
            }
        }
        report.index_rows_fixed += rows.len() as u64;
        insert_chunked(db, rows).await?;
    }
    report.index_rows_fixed += missing_tags.len() as u64;
    insert_chunked(db, missing_tags).await?;
    Ok(())
}
