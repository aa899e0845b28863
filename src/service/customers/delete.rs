//! Deleting customers: the soft delete (into the trash) and, for admins,
//! the hard delete with everything that hangs off the customer; `purge` is
//! shared with the trash sweep.

use entity::{conversation, customer, customer_phone, customer_tag, message, ticket};
use sea_orm::{ColumnTrait, QueryFilter};
use uuid::Uuid;

use super::write::publish;
use crate::auth::Actor;
use crate::domain::customer::CustomerStatus;
use crate::domain::ids::CustomerId;
use crate::domain::time;
use crate::error::Result;
use crate::service::events::ChangeKind;
use crate::service::history::Source;
use crate::service::{customer_rows, scope, Ctx, WriteTxn};

/// What a delete did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deleted {
    pub permanent: bool,
    pub message: &'static str,
}

/// Soft delete (status INACTIVE, idempotent, and into the trash) or, for
/// admins, hard delete of the customer with its conversations, messages and
/// tickets in one transaction.
///
/// The trash: the first soft delete stamps `deleted_at` and keeps the status
/// it replaced (`status_before_delete`, the one unblock returns to when the
/// customer is blocked) for `trash::restore`; a repeated one changes nothing.
#[tracing::instrument(skip_all, fields(tenant.id = %actor.tenant))]
pub async fn delete(ctx: &Ctx, actor: &Actor, id: CustomerId, permanent: bool) -> Result<Deleted> {
    if permanent {
        actor.require_admin()?;
    } else {
        actor.require_writer()?;
    }
    let txn = ctx.write_as(actor, Source::Api).await?;
    let current = customer_rows::lock(&*txn, actor, id).await?;
    if permanent {
        purge(&txn, &current.tenant_id, &[current.id]).await?;
        txn.customer_removed(&current);
        txn.commit().await?;
        publish(ctx, actor, ChangeKind::Deleted, id).await;
        return Ok(Deleted {
            permanent: true,
            message: "Customer permanently deleted",
        });
    }
    let inactive = CustomerStatus::Inactive;
    let mut m = current.clone();
    if m.deleted_at.is_none() {
        let replaced = if m.is_blocked {
            m.status_before_block.unwrap_or(CustomerStatus::Active)
        } else {
            m.status
        };
        m.status_before_delete = Some(replaced);
        m.deleted_at = Some(time::now());
    }
    if m.is_blocked {
        // Still blocked; unblocking later leaves it deactivated.
        m.status_before_block = Some(inactive);
    } else {
        m.status = inactive;
    }
    let changed = m != current;
    if changed {
        m.updated_at = time::now();
        let updated = customer_rows::save(&*txn, m).await?;
        txn.customer_changed(&current, &updated);
    }
    txn.commit().await?;
    if changed {
        publish(ctx, actor, ChangeKind::Updated, id).await;
    }
    Ok(Deleted {
        permanent: false,
        message: "Customer deactivated",
    })
}

/// Deletes customers of one tenant for good with everything that hangs off
/// them: messages, tickets, conversations, tag and phone rows, then the
/// customer rows. The caller locked the rows and calls
/// [`WriteTxn::customer_removed`] for each.
pub(crate) async fn purge(txn: &WriteTxn, tenant: &str, ids: &[Uuid]) -> Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let ids = || ids.iter().copied();
    scope::delete_messages(tenant)
        .filter(message::Column::CustomerId.is_in(ids()))
        .exec(&**txn)
        .await?;
    scope::delete_tickets(tenant)
        .filter(ticket::Column::CustomerId.is_in(ids()))
        .exec(&**txn)
        .await?;
    scope::delete_conversations(tenant)
        .filter(conversation::Column::CustomerId.is_in(ids()))
        .exec(&**txn)
        .await?;
    scope::delete_tags(tenant)
        .filter(customer_tag::Column::CustomerId.is_in(ids()))
        .exec(&**txn)
        .await?;
    scope::delete_phones(tenant)
        .filter(customer_phone::Column::CustomerId.is_in(ids()))
        .exec(&**txn)
        .await?;
    scope::delete_customers(tenant)
        .filter(customer::Column::Id.is_in(ids()))
        .exec(&**txn)
        .await?;
    Ok(())
}
