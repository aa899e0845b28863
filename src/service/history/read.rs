//! Reading the history back: a customer's entries newest first, as a
//! cursor page or a numbered page, also after the customer was deleted for
//! good ([`known`]).

use chrono::{DateTime, Utc};
use entity::{customer, customer_change};
use sea_orm::{ColumnTrait, PaginatorTrait, QueryFilter, QuerySelect};
use serde::Serialize;
use uuid::Uuid;

use super::log::Source;
use super::paging;
use crate::auth::Actor;
use crate::domain::ids::CustomerId;
use crate::domain::page::{PageRequest, Pagination};
use crate::domain::time;
use crate::error::{Error, Result};
use crate::service::{scope, Ctx};

/// One recorded change of a customer, as both faces show it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Change {
    /// The entry's id.
    #[schema(value_type = uuid::Uuid)]
    pub id: Uuid,
    /// The customer changed.
    #[schema(value_type = uuid::Uuid)]
    pub customer_id: CustomerId,
    /// The field's GraphQL name (`firstName`, `tags`, ...); `*` for a removal.
    pub field: String,
    /// The value before, as JSON text; null when the field was not there (a creation).
    pub old_value: Option<String>,
    /// The value after, as JSON text; null when the customer was removed.
    pub new_value: Option<String>,
    /// Who wrote: the token's `sub`, or `system`.
    pub actor: String,
    /// Through what: api, import, merge, block, restore, erase or system.
    #[schema(value_type = String)]
    pub source: Source,
    /// When the write committed.
    #[serde(with = "time::serde_ms")]
    pub at: DateTime<Utc>,
}

impl From<customer_change::Model> for Change {
    fn from(m: customer_change::Model) -> Self {
        Self {
            id: m.id,
            customer_id: m.customer_id.into(),
            field: m.field,
            old_value: m.old_value.map(|v| v.text()),
            new_value: m.new_value.map(|v| v.text()),
            actor: m.agent,
            source: m.source,
            at: m.at,
        }
    }
}

/// A page of a customer's history, newest first, each entry with its cursor.
#[derive(Debug, Clone)]
pub struct ChangePage {
    pub items: Vec<(String, Change)>,
    pub has_next_page: bool,
}

/// The history's order: newest first, ties broken by the (time-ordered) id.
const NEWEST_FIRST: (customer_change::Column, customer_change::Column) =
    (customer_change::Column::At, customer_change::Column::Id);

/// Fails with NOT_FOUND unless the tenant has the customer or a history of it
/// (a hard-deleted customer's history stays readable).
#[tracing::instrument(skip_all, fields(tenant.id = %actor.tenant))]
pub async fn known(ctx: &Ctx, actor: &Actor, id: CustomerId) -> Result<()> {
    let customers = scope::customers(actor)
        .filter(customer::Column::Id.eq(id))
        .count(&ctx.db)
        .await?;
    if customers > 0 {
        return Ok(());
    }
    let entries = scope::changes(actor)
        .filter(customer_change::Column::CustomerId.eq(id))
        .limit(1)
        .count(&ctx.db)
        .await?;
    if entries > 0 {
        Ok(())
    } else {
        Err(Error::NotFound("customer"))
    }
}

/// A customer's history newest first, `first` entries after the cursor
/// `after`. Any role may read it; another tenant's customer has none.
#[tracing::instrument(skip_all, fields(tenant.id = %actor.tenant))]
pub async fn connection(
    ctx: &Ctx,
    actor: &Actor,
    id: CustomerId,
    first: Option<i64>,
    after: Option<&str>,
) -> Result<ChangePage> {
    let (rows, has_next_page) = paging::after_cursor(
        &ctx.db,
        scope::changes(actor).filter(customer_change::Column::CustomerId.eq(id)),
        NEWEST_FIRST,
        first,
        after,
    )
    .await?;
    let items = rows
        .into_iter()
        .map(Change::from)
        .map(|c| (paging::encode_cursor(c.at, c.id), c))
        .collect();
    Ok(ChangePage {
        items,
        has_next_page,
    })
}

/// A page of a customer's history newest first, with its pagination; also
/// for a customer deleted for good. Any role may read it.
#[tracing::instrument(skip_all, fields(tenant.id = %actor.tenant))]
pub async fn page(
    ctx: &Ctx,
    actor: &Actor,
    id: CustomerId,
    page: PageRequest,
) -> Result<(Vec<Change>, Pagination)> {
    known(ctx, actor, id).await?;
    let (rows, pagination) = paging::numbered(
        &ctx.db,
        scope::changes(actor).filter(customer_change::Column::CustomerId.eq(id)),
        NEWEST_FIRST,
        page,
    )
    .await?;
    Ok((rows.into_iter().map(Change::from).collect(), pagination))
}
