//! Erasure of a customer's personal data (a GDPR "right to erasure"
//! request), in one transaction, by an admin:
//!
//! - the customer's names, email, avatar, address, notes, custom fields,
//!   block reason, external id and alternative numbers are cleared;
//! - its phone number becomes `erased-<customer id without dashes>` (in the
//!   row and in `customer_phones`): unique, since the id is, and never a
//!   number anyone can write or look up, since real numbers are digits only;
//! - the search text is recomputed from that, so the old phone, names and
//!   email find nothing;
//! - message bodies become `[erased]`, conversation subjects are cleared and
//!   ticket subjects become `[erased]`;
//! - the personal values in the change history become `"[erased]"`;
//! - the merge records lose what they kept of the person: the customers
//!   merged into this one (the same person, by the merging admin's word)
//!   are cleared like it, with their history, wherever a record keeps
//!   them, and a merge the erasure reached can no longer be undone
//!   ([`merges::erase_person`]).
//!
//! Kept: the customer row and its id, status, segment, source, tags,
//! preferences, every statistic and date, and the conversations, messages
//! and tickets as rows (so counts, response times and ratings stay exact).
//! The receipt (id, time, actor, what was erased with counts) is stored
//! ([`entity::erasure`]) and outlives the customer. Imports `customer_rows`,
//! `history`, `merges` and `scope`.

use chrono::{DateTime, Utc};
use entity::json::JsonText;
use entity::{conversation, customer, erasure, message, ticket};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, IntoActiveModel, PaginatorTrait, QueryFilter, QueryOrder};
use serde::Serialize;
use uuid::Uuid;

use super::events::ChangeKind;
use super::history::{self, Source};
use super::{customer_rows, merges, scope, Ctx};
use crate::auth::Actor;
use crate::domain::ids::CustomerId;
use crate::domain::time;
use crate::error::{Error, Result};

/// What replaces an erased message body or ticket subject.
pub const ERASED_TEXT: &str = "[erased]";

pub use entity::erasure::ErasedItem;

/// The receipt of an erasure, as stored and shown.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Receipt {
    /// The receipt's id.
    #[schema(value_type = uuid::Uuid)]
    pub id: Uuid,
    /// The customer erased.
    #[schema(value_type = uuid::Uuid)]
    pub customer_id: CustomerId,
    /// When the erasure committed.
    #[serde(with = "time::serde_ms")]
    pub erased_at: DateTime<Utc>,
    /// The `sub` of the admin who erased.
    pub actor: String,
    /// What was erased, with counts.
    pub items: Vec<ErasedItem>,
}

impl From<erasure::Model> for Receipt {
    fn from(m: erasure::Model) -> Self {
        Self {
            id: m.id,
            customer_id: m.customer_id.into(),
            erased_at: m.erased_at,
            actor: m.agent,
            items: m.items.0,
        }
    }
}

pub use super::customer_rows::placeholder_phone;

/// Erases a customer's personal data everywhere it is kept and stores the
/// receipt (ADMIN). Erasing again erases what was added since (a receipt
/// each time). Publishes a customer change.
#[tracing::instrument(skip_all, fields(tenant.id = %actor.tenant))]
pub async fn erase(ctx: &Ctx, actor: &Actor, id: CustomerId) -> Result<Receipt> {
    actor.require_admin()?;
    let txn = ctx.write_as(actor, Source::Erase).await?;
    let current = customer_rows::lock(&*txn, actor, id).await?;
    let tenant = current.tenant_id.clone();
    let phones_before = 1 + current.alternative_phones.0.len() as u64;
    let mut m = current.clone();
    let fields = customer_rows::clear_personal(&mut m);
    let mut items: Vec<ErasedItem> = fields
        .iter()
        .map(|f| ErasedItem {
            what: format!("customer.{f}"),
            count: 1,
        })
        .collect();
    let phones_erased = if current.phone_number == m.phone_number {
        0
    } else {
        phones_before
    };
    if m != current {
        m.updated_at = time::now();
        let updated = customer_rows::save(&*txn, m).await?;
        txn.customer_changed(&current, &updated);
        customer_rows::replace_phones(&*txn, &updated, &[]).await?;
    }
    let bodies = scope::update_messages(&tenant)
        .col_expr(message::Column::Body, Expr::value(ERASED_TEXT))
        .filter(message::Column::CustomerId.eq(id))
        .filter(message::Column::Body.ne(ERASED_TEXT))
        .exec(&*txn)
        .await?
        .rows_affected;
    let subjects = scope::update_conversations(&tenant)
        .col_expr(
            conversation::Column::Subject,
            Expr::value(Option::<String>::None),
        )
        .filter(conversation::Column::CustomerId.eq(id))
        .filter(conversation::Column::Subject.is_not_null())
        .exec(&*txn)
        .await?
        .rows_affected;
    let tickets = scope::update_tickets(&tenant)
        .col_expr(ticket::Column::Subject, Expr::value(ERASED_TEXT))
        .filter(ticket::Column::CustomerId.eq(id))
        .filter(ticket::Column::Subject.ne(ERASED_TEXT))
        .exec(&*txn)
        .await?
        .rows_affected;
    let receipt_id = Uuid::now_v7();
    let merged = merges::erase_person(&txn, actor, id, receipt_id).await?;
    // The history written before this transaction (this erasure's own
    // entries are written without the values they replaced), and that of
    // the customers merged into this one, the same person.
    let mut history_values = history::scrub(&*txn, &tenant, id.uuid()).await?;
    for folded in &merged.folded {
        history_values += history::scrub(&*txn, &tenant, *folded).await?;
    }
    for (what, count) in [
        ("phoneNumbers", phones_erased),
        ("messageBodies", bodies),
        ("conversationSubjects", subjects),
        ("ticketSubjects", tickets),
        ("historyValues", history_values),
        ("mergeRecords", merged.records),
        ("mergedCustomers", merged.folded.len() as u64),
    ] {
        items.push(ErasedItem {
            what: what.to_owned(),
            count,
        });
    }
    let receipt = Receipt {
        id: receipt_id,
        customer_id: id,
        erased_at: time::now(),
        actor: actor.agent.clone(),
        items,
    };
    let row = erasure::Model {
        tenant_id: tenant.clone(),
        id: receipt.id,
        customer_id: id.uuid(),
        erased_at: receipt.erased_at,
        agent: receipt.actor.clone(),
        items: JsonText(receipt.items.clone()),
    };
    erasure::Entity::insert(row.into_active_model())
        .exec_without_returning(&*txn)
        .await?;
    txn.commit().await?;
    ctx.events
        .customer_changed(&ctx.db, &tenant, ChangeKind::Updated, id)
        .await;
    Ok(receipt)
}

/// The erasure receipts of the caller's tenant, newest first; of one
/// customer when `customer` is given (also after it was deleted). ADMIN.
#[tracing::instrument(skip_all, fields(tenant.id = %actor.tenant))]
pub async fn receipts(
    ctx: &Ctx,
    actor: &Actor,
    customer: Option<CustomerId>,
) -> Result<Vec<Receipt>> {
    actor.require_admin()?;
    let mut q = scope::erasures(actor);
    if let Some(id) = customer {
        q = q.filter(erasure::Column::CustomerId.eq(id));
    }
    let rows = q
        .order_by_desc(erasure::Column::ErasedAt)
        .order_by_desc(erasure::Column::Id)
        .all(&ctx.db)
        .await?;
    Ok(rows.into_iter().map(Receipt::from).collect())
}

/// A customer's erasure receipts, newest first (ADMIN): NOT_FOUND when the
/// tenant has neither the customer nor a receipt of it; empty when it was
/// never erased.
#[tracing::instrument(skip_all, fields(tenant.id = %actor.tenant))]
pub async fn of_customer(ctx: &Ctx, actor: &Actor, id: CustomerId) -> Result<Vec<Receipt>> {
    let found = receipts(ctx, actor, Some(id)).await?;
    if found.is_empty() {
        let exists = scope::customers(actor)
            .filter(customer::Column::Id.eq(id))
            .count(&ctx.db)
            .await?
            > 0;
        if !exists {
            return Err(Error::NotFound("customer"));
        }
    }
    Ok(found)
}
