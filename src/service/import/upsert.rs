//! Idempotent upsert: up to [`MAX_UPSERT_ITEMS`] customers in one
//! transaction, each matched to a stored customer by phone (any canonical
//! variant, primary or alternative), email or external id, and created,
//! updated or left unchanged; per-item failures never fail the batch.
//! Sending the same batch twice changes nothing the second time (every
//! item comes back `unchanged`).

use super::batch::{ImportMode, Item, MatchKey, Options, Outcome, RowResult, Seen};
use super::write_retrying;
use crate::auth::Actor;
use crate::domain::customer::CustomerInput;
use crate::error::{Error, FieldError, Result};
use crate::service::Ctx;

/// Most items one upsert may carry.
pub const MAX_UPSERT_ITEMS: usize = 1000;

/// What an upsert did: one result per item, in the order sent (`row` is the
/// item's index from 0), and the counts of each outcome.
#[derive(Debug, Clone, PartialEq)]
pub struct UpsertReport {
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
    pub failed: usize,
    pub items: Vec<RowResult>,
}

/// Upserts `items` (AGENT or ADMIN), matched by `match_on` (all keys when
/// empty). More than [`MAX_UPSERT_ITEMS`] is a 400 before anything is read.
/// Two items of the batch that share a key (or match one customer) are not
/// both applied: the later one fails as a `DUPLICATE`.
#[tracing::instrument(skip_all, fields(tenant.id = %actor.tenant, items = items.len()), err(level = "debug"))]
pub async fn upsert(
    ctx: &Ctx,
    actor: &Actor,
    items: Vec<std::result::Result<CustomerInput, Vec<FieldError>>>,
    match_on: Vec<MatchKey>,
) -> Result<UpsertReport> {
    actor.require_writer()?;
    if items.len() > MAX_UPSERT_ITEMS {
        return Err(Error::invalid(
            "customers",
            format!("at most {MAX_UPSERT_ITEMS} items per upsert"),
        ));
    }
    let options = Options {
        mode: ImportMode::Upsert,
        match_on: normalize_keys(match_on),
    };
    let items: Vec<Item> = items
        .into_iter()
        .enumerate()
        .map(|(i, input)| Item {
            row: i as u64,
            input,
        })
        .collect();
    let mut seen = Seen::default();
    let written = write_retrying(ctx, actor, &options, &items, &seen).await?;
    let mut results = written.commit(ctx, actor, &mut seen).await?;
    let mut report = UpsertReport {
        created: 0,
        updated: 0,
        unchanged: 0,
        failed: 0,
        items: Vec::new(),
    };
    for r in &mut results {
        // Within one request a duplicate is a failure of the later item.
        if r.outcome == Outcome::Duplicate {
            r.outcome = Outcome::Failed;
        }
        match r.outcome {
            Outcome::Created => report.created += 1,
            Outcome::Updated => report.updated += 1,
            Outcome::Unchanged => report.unchanged += 1,
            Outcome::Duplicate | Outcome::Failed => report.failed += 1,
        }
    }
    report.items = results;
    Ok(report)
}

/// The keys in the caller's order, each once; all of them when none given.
pub fn normalize_keys(keys: Vec<MatchKey>) -> Vec<MatchKey> {
    let mut out: Vec<MatchKey> = Vec::new();
    for k in keys {
        if !out.contains(&k) {
            out.push(k);
        }
    }
    if out.is_empty() {
        MatchKey::ALL.to_vec()
    } else {
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_kept_in_order_once_and_default_to_all() {
        assert_eq!(normalize_keys(vec![]), MatchKey::ALL.to_vec());
        assert_eq!(
            normalize_keys(vec![MatchKey::Email, MatchKey::Phone, MatchKey::Email]),
            vec![MatchKey::Email, MatchKey::Phone]
        );
    }

    #[test]
    fn outcomes_have_their_lowercase_names() {
        assert_eq!(Outcome::Unchanged.as_str(), "unchanged");
    }
}
