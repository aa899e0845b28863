//! The dashboard: counts of a tenant's customers (total, active, VIP,
//! blocked, new this month) and customers per segment, read from the
//! tenant's counters. Imports `counts` only.

use chrono::{DateTime, Datelike, TimeZone, Utc};
use serde::Serialize;

use crate::auth::Actor;
use crate::domain::customer::{CustomerSegment, CustomerStatus};
use crate::error::Result;
use crate::service::{counts, Ctx};

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

/// Dashboard statistics of the caller's tenant, from its counters: a few
/// rows read, whatever the tenant's size.
#[tracing::instrument(skip_all, fields(tenant.id = %actor.tenant))]
pub async fn stats(ctx: &Ctx, actor: &Actor) -> Result<Stats> {
    let mut keys = vec![
        counts::ALL.to_owned(),
        counts::facet("status", CustomerStatus::Active.as_str()),
        counts::facet("segment", CustomerSegment::Vip.as_str()),
        counts::BLOCKED.to_owned(),
        counts::created(month_start(Utc::now())),
    ];
    keys.extend(
        CustomerSegment::ALL
            .iter()
            .map(|s| counts::facet("segment", s.as_str())),
    );
    let n = counts::read(&ctx.db, &actor.tenant, &keys).await?;
    let at = |i: usize| n.get(i).copied().unwrap_or(0).max(0);
    let mut segments: Vec<(CustomerSegment, i64)> = CustomerSegment::ALL
        .iter()
        .enumerate()
        .map(|(i, s)| (*s, at(5 + i)))
        .filter(|(_, n)| *n > 0)
        .collect();
    // Ties in the order of the spellings, as the contract shows them.
    segments.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.as_str().cmp(b.0.as_str())));
    Ok(Stats {
        summary: Summary {
            total_customers: at(0),
            active_customers: at(1),
            vip_customers: at(2),
            blocked_customers: at(3),
            new_this_month: at(4),
        },
        segments,
    })
}
