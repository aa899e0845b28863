//! The dashboard: counts of a tenant's customers (total, active, VIP,
//! blocked, new this month) and customers per segment. Imports `scope` only.

use chrono::{DateTime, Datelike, TimeZone, Utc};
use entity::customer;
use sea_orm::sea_query::{Expr, Func, SimpleExpr};
use sea_orm::{ColumnTrait, QuerySelect};
use serde::Serialize;

use crate::auth::Actor;
use crate::domain::customer::{CustomerSegment, CustomerStatus};
use crate::error::Result;
use crate::service::{scope, Ctx};

/// The dashboard counts of a tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    pub total_customers: i64,
    pub active_customers: i64,
    pub vip_customers: i64,
    pub blocked_customers: i64,
    pub new_this_month: i64,
}

/// Counts for the dashboard, and customers per segment (largest first, empty ones left out).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stats {
    pub summary: Summary,
    pub segments: Vec<(CustomerSegment, i64)>,
}

/// The start of the current calendar month, UTC.
fn month_start(now: DateTime<Utc>) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(now.year(), now.month(), 1, 0, 0, 0)
        .single()
        .unwrap_or(now)
}

/// Dashboard statistics of the caller's tenant.
#[tracing::instrument(skip_all, fields(tenant.id = %actor.tenant))]
pub async fn stats(ctx: &Ctx, actor: &Actor) -> Result<Stats> {
    // Typed expressions, not SQL text: placeholders differ between backends.
    let count_if = |condition: SimpleExpr| -> SimpleExpr {
        let sum = Func::sum(Expr::case(condition, 1).finally(0));
        Func::coalesce([SimpleExpr::from(sum), Expr::val(0).into()]).into()
    };
    use customer::Column;
    let row: Option<(i64, i64, i64, i64, i64)> = scope::customers(actor)
        .select_only()
        .column_as(Expr::col(Column::Id).count(), "total")
        .column_as(
            count_if(Column::Status.eq(CustomerStatus::Active)),
            "active",
        )
        .column_as(count_if(Column::Segment.eq(CustomerSegment::Vip)), "vip")
        .column_as(count_if(Column::IsBlocked.eq(true)), "blocked")
        .column_as(
            count_if(Column::CreatedAt.gte(month_start(Utc::now()))),
            "new_this_month",
        )
        .into_tuple()
        .one(&ctx.db)
        .await?;
    let (total, active, vip, blocked, new) = row.unwrap_or_default();
    let rows: Vec<(CustomerSegment, i64)> = scope::customers(actor)
        .select_only()
        .column(customer::Column::Segment)
        .column_as(Expr::col(customer::Column::Id).count(), "count")
        .group_by(customer::Column::Segment)
        .into_tuple()
        .all(&ctx.db)
        .await?;
    let mut segments: Vec<(CustomerSegment, i64)> =
        rows.into_iter().filter(|(_, n)| *n > 0).collect();
    // Ties in the order of the spellings, as the contract shows them.
    segments.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.as_str().cmp(b.0.as_str())));
    Ok(Stats {
        summary: Summary {
            total_customers: total,
            active_customers: active,
            vip_customers: vip,
            blocked_customers: blocked,
            new_this_month: new,
        },
        segments,
    })
}
