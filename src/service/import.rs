//! Bulk import: every row judged on its own (stored, duplicate or failed),
//! written in batches inside transactions.

use std::collections::{HashMap, HashSet};

use entity::{agent, customer_phone};
use sea_orm::{ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, QuerySelect};
use uuid::Uuid;

use super::customers::{self, Customer};
use super::events::{ChangeKindWire, Event};
use super::{insert_chunked, scope, Ctx};
use crate::auth::Actor;
use crate::domain::customer::{CustomerChanges, CustomerInput, Field, Mode};
use crate::domain::time;
use crate::error::{is_unique_violation, Error, FieldError, Result};

/// Most rows one import may carry.
pub const MAX_IMPORT_ROWS: usize = 50_000;
/// Rows written per transaction.
const BATCH: usize = 500;

/// A row that was not stored, and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ImportIssue {
    /// Position of the row in the submitted list, from 0.
    pub index: usize,
    pub phone_number: Option<String>,
    pub reason: String,
    /// For a duplicate of a stored customer: that customer's id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub existing_id: Option<Uuid>,
}

/// What an import did with each row.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ImportReport {
    pub success: Vec<Customer>,
    pub duplicates: Vec<ImportIssue>,
    pub failed: Vec<ImportIssue>,
}

struct Valid {
    index: usize,
    changes: CustomerChanges,
    phones: Vec<String>,
}

/// Imports customers; needs ADMIN. Rows whose phone number already exists,
/// in the store or earlier in the list, are duplicates; invalid rows fail
/// with their reason; valid rows are stored even when others fail.
#[tracing::instrument(skip_all, fields(tenant.id = %actor.tenant, rows = rows.len()))]
pub async fn import(
    ctx: &Ctx,
    actor: &Actor,
    rows: Vec<std::result::Result<CustomerInput, Vec<FieldError>>>,
) -> Result<ImportReport> {
    actor.require_admin()?;
    if rows.len() > MAX_IMPORT_ROWS {
        return Err(Error::invalid(
            "customers",
            format!("at most {MAX_IMPORT_ROWS} customers per import"),
        ));
    }
    let mut report = ImportReport::default();
    let mut seen: HashSet<String> = HashSet::new();
    let mut valid = Vec::new();
    for (index, row) in rows.into_iter().enumerate() {
        let row = match row {
            Ok(row) => row,
            Err(fields) => {
                let reason = customers::describe(&fields);
                report.failed.push(ImportIssue {
                    index,
                    phone_number: None,
                    reason,
                    existing_id: None,
                });
                continue;
            }
        };
        let raw_phone = match &row.phone_number {
            Field::Value(p) => Some(p.clone()),
            _ => None,
        };
        let changes = match row.validate(Mode::Create, ctx.region) {
            Ok(c) => c,
            Err(fields) => {
                let reason = customers::describe(&fields);
                report.failed.push(ImportIssue {
                    index,
                    phone_number: raw_phone,
                    reason,
                    existing_id: None,
                });
                continue;
            }
        };
        let phones: Vec<String> = changes
            .phone_number
            .iter()
            .chain(changes.alternative_phones.iter().flatten())
            .map(|p| p.as_str().to_owned())
            .collect();
        let primary = phones.first().cloned();
        if let Some(p) = phones.iter().find(|p| seen.contains(*p)) {
            let reason = format!("phone number {p} appears earlier in the list");
            report.duplicates.push(ImportIssue {
                index,
                phone_number: primary,
                reason,
                existing_id: None,
            });
            continue;
        }
        seen.extend(phones.iter().cloned());
        valid.push(Valid {
            index,
            changes,
            phones,
        });
    }
    let agents = known_agents(ctx, actor, &valid).await?;
    for batch in valid.chunks(BATCH) {
        store_batch(ctx, actor, batch, &agents, &mut report).await?;
    }
    report.duplicates.sort_by_key(|i| i.index);
    report.failed.sort_by_key(|i| i.index);
    Ok(report)
}

/// The preferred agents named by the rows that exist in the caller's tenant.
async fn known_agents(ctx: &Ctx, actor: &Actor, rows: &[Valid]) -> Result<HashSet<Uuid>> {
    let wanted: HashSet<Uuid> = rows
        .iter()
        .filter_map(|r| {
            r.changes
                .preferences
                .as_ref()
                .and_then(|p| p.preferred_agent_id)
        })
        .collect();
    let mut known = HashSet::new();
    for chunk in wanted.into_iter().collect::<Vec<_>>().chunks(BATCH) {
        let ids: Vec<Uuid> = scope::agents(actor)
            .filter(agent::Column::Id.is_in(chunk.iter().copied()))
            .select_only()
            .column(agent::Column::Id)
            .into_tuple()
            .all(&ctx.db)
            .await?;
        known.extend(ids);
    }
    Ok(known)
}

async fn store_batch(
    ctx: &Ctx,
    actor: &Actor,
    batch: &[Valid],
    agents: &HashSet<Uuid>,
    report: &mut ImportReport,
) -> Result<()> {
    let txn = ctx.write().await?;
    let holders: HashMap<String, Uuid> = customer_phone::Entity::find()
        .filter(customer_phone::Column::TenantId.eq(actor.tenant.as_str()))
        .filter(
            customer_phone::Column::Phone
                .is_in(batch.iter().flat_map(|r| r.phones.iter().cloned())),
        )
        .all(&*txn)
        .await?
        .into_iter()
        .map(|h| (h.phone, h.customer_id))
        .collect();
    let now = time::now();
    let mut models = Vec::with_capacity(batch.len());
    for row in batch {
        let primary = row.phones.first().cloned();
        if let Some((phone, id)) = row
            .phones
            .iter()
            .find_map(|p| holders.get(p).map(|id| (p, *id)))
        {
            let reason = format!("phone number {phone} already belongs to a customer");
            report.duplicates.push(ImportIssue {
                index: row.index,
                phone_number: primary,
                reason,
                existing_id: Some(id),
            });
            continue;
        }
        let agent = row
            .changes
            .preferences
            .as_ref()
            .and_then(|p| p.preferred_agent_id);
        if agent.is_some_and(|a| !agents.contains(&a)) {
            let reason = "preferences.preferredAgentId: unknown agent".to_owned();
            report.failed.push(ImportIssue {
                index: row.index,
                phone_number: primary,
                reason,
                existing_id: None,
            });
            continue;
        }
        let model = customers::new_model(actor, row.changes.clone(), now)?;
        let alternatives = row.phones[1..].to_vec();
        let tags = row.changes.tags.clone().unwrap_or_default();
        models.push((model, alternatives, tags));
    }
    let written = async {
        insert_chunked(
            &*txn,
            models
                .iter()
                .map(|(m, _, _)| m.clone().into_active_model())
                .collect(),
        )
        .await?;
        let phones = models
            .iter()
            .flat_map(|(m, alts, _)| customers::phone_rows(m, alts))
            .collect();
        insert_chunked(&*txn, phones).await?;
        let tags = models
            .iter()
            .flat_map(|(m, _, tags)| customers::tag_rows(m, tags))
            .collect();
        insert_chunked(&*txn, tags).await
    }
    .await;
    match written {
        Ok(()) => {
            txn.commit().await?;
            let events = models
                .iter()
                .map(|(m, _, _)| Event::customer(&actor.tenant, ChangeKindWire::Created, m.id));
            ctx.events.publish(&ctx.db, events.collect()).await;
            for (m, _, _) in models {
                report.success.push(Customer::try_from(m)?);
            }
            Ok(())
        }
        Err(Error::Internal(cause))
            if cause
                .downcast_ref::<sea_orm::DbErr>()
                .is_some_and(is_unique_violation) =>
        {
            // Another writer took a number meanwhile: judge these rows one by one.
            drop(txn);
            if batch.len() == 1 {
                let row = &batch[0];
                let reason = "phone number already belongs to a customer".to_owned();
                let phone_number = row.phones.first().cloned();
                report.duplicates.push(ImportIssue {
                    index: row.index,
                    phone_number,
                    reason,
                    existing_id: None,
                });
                return Ok(());
            }
            for row in batch {
                Box::pin(store_batch(
                    ctx,
                    actor,
                    std::slice::from_ref(row),
                    agents,
                    report,
                ))
                .await?;
            }
            Ok(())
        }
        Err(e) => Err(e),
    }
}
