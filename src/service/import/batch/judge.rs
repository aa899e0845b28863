//! Judging rows: the input rules of one row ([`prepare`]) and what becomes
//! of it against the stored customers and the import's earlier rows
//! ([`judge`]), which plans its write.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use entity::customer;
use uuid::Uuid;

use super::apply::Write;
use super::holders::Holders;
use super::{
    field_of, key_hash, ImportMode, Item, Known, MatchKey, Options, Outcome, Prepared, RowError,
    RowResult, K_CUSTOMER, K_EMAIL, K_EXTERNAL, K_PHONE,
};
use crate::auth::Actor;
use crate::domain::customer::{CustomerStatus, Field, Mode};
use crate::error::FieldError;
use crate::service::customers::{new_model, revive, with_changes};
use crate::service::import::canonical_phones;
use crate::service::Ctx;

/// The input rules for one row; a failed result when it breaks one.
pub(super) fn prepare(ctx: &Ctx, item: Item) -> std::result::Result<Prepared, RowResult> {
    let invalid = |fields: Vec<FieldError>| {
        RowResult::failed(
            item.row,
            fields
                .into_iter()
                .map(|f| RowError::new(f.field, "INVALID", f.message))
                .collect(),
        )
    };
    let mut input = match item.input {
        Ok(input) => input,
        Err(fields) => return Err(invalid(fields)),
    };
    let blocked = matches!(input.status, Field::Value(CustomerStatus::Blocked));
    if blocked {
        input.status = Field::Absent;
    }
    // Update's rules: the phone is required only where a customer is created.
    let changes = input.validate(Mode::Update, ctx.region).map_err(invalid)?;
    let phones = canonical_phones(&changes);
    Ok(Prepared {
        row: item.row,
        email: changes.email.clone().flatten(),
        external_id: changes.external_id.clone().flatten(),
        changes,
        phones,
        blocked,
    })
}

/// Decides one row against the stored customers.
#[expect(
    clippy::too_many_arguments,
    reason = "one call site, the batch's state"
)]
pub(super) fn judge(
    _ctx: &Ctx,
    actor: &Actor,
    options: &Options,
    h: &Holders,
    r: Prepared,
    now: DateTime<Utc>,
    seen: &Known,
    local: &mut HashMap<u64, u32>,
    claimed: &mut Vec<(u64, u32)>,
) -> (RowResult, Option<Write>) {
    let row = r.row;
    let fail = |errors: Vec<RowError>| (RowResult::failed(row, errors), None);
    // Every customer each match key points at, in the caller's order.
    let mut found: Vec<(MatchKey, String, Uuid)> = Vec::new();
    for key in &options.match_on {
        match key {
            MatchKey::Phone => {
                for p in &r.phones {
                    if let Some(id) = h.phones.get(p) {
                        found.push((*key, p.clone(), *id));
                    }
                }
            }
            MatchKey::Email => {
                if let Some(e) = &r.email {
                    for id in h.emails.get(e).into_iter().flatten() {
                        found.push((*key, e.clone(), *id));
                    }
                }
            }
            MatchKey::ExternalId => {
                if let Some(e) = &r.external_id {
                    if let Some(id) = h.external_ids.get(e) {
                        found.push((*key, e.clone(), *id));
                    }
                }
            }
        }
    }
    let distinct: Vec<Uuid> = found
        .iter()
        .map(|(.., id)| *id)
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    if distinct.len() > 1 {
        let what = found
            .iter()
            .map(|(k, v, id)| format!("{} {v} matches customer {id}", k.as_str()))
            .collect::<Vec<_>>()
            .join("; ");
        return fail(vec![RowError::new(
            field_of(found[0].0),
            "AMBIGUOUS",
            format!("the row matches more than one customer: {what}"),
        )]);
    }
    let matched = found.first().cloned();
    let target = matched.as_ref().map(|(.., id)| *id);
    // Keys that are not matched on must not belong to another customer.
    let conflict = |field: &str, id: Uuid, message: String| {
        let failed = RowResult::failed(row, vec![RowError::new(field, "CONFLICT", message)]);
        let result = RowResult {
            id: Some(id.into()),
            ..failed
        };
        (result, None)
    };
    if !options.match_on.contains(&MatchKey::Phone) {
        if let Some((p, id)) = r.phones.iter().find_map(|p| {
            h.phones
                .get(p)
                .filter(|id| Some(**id) != target)
                .map(|id| (p, id))
        }) {
            let message = format!("phone number {p} already belongs to customer {id}");
            return conflict("phoneNumber", *id, message);
        }
    }
    if !options.match_on.contains(&MatchKey::ExternalId) {
        if let Some(id) = r
            .external_id
            .as_ref()
            .and_then(|e| h.external_ids.get(e))
            .filter(|id| Some(**id) != target)
        {
            let message = format!("external id already belongs to customer {id}");
            return conflict("externalId", *id, message);
        }
    }
    let Some((key, value, id)) = matched else {
        if options.mode == ImportMode::Update {
            return fail(vec![RowError::new(
                "row",
                "NOT_FOUND",
                "no customer matches the row",
            )]);
        }
        if r.blocked {
            return fail(vec![RowError::new(
                "status",
                "INVALID",
                "blocked is set with the block route (setCustomerBlocked), not here",
            )]);
        }
        if r.changes.phone_number.is_none() {
            return fail(vec![RowError::new(
                "phoneNumber",
                "INVALID",
                "phone number is required",
            )]);
        }
        return match new_model(actor, r.changes, now) {
            Ok(m) => (
                RowResult {
                    row,
                    outcome: Outcome::Created,
                    id: Some(m.id.into()),
                    matched_on: None,
                    matched_value: None,
                    errors: Vec::new(),
                },
                Some(Write::Insert(m)),
            ),
            Err(e) => fail(vec![RowError::new("row", "INVALID", e.to_string())]),
        };
    };
    let matched_result = |outcome: Outcome, errors: Vec<RowError>| RowResult {
        row,
        outcome,
        id: Some(id.into()),
        matched_on: Some(key),
        matched_value: Some(value.clone()),
        errors,
    };
    let duplicate = |message: String| {
        let error = RowError::new(field_of(key), "DUPLICATE", message);
        (matched_result(Outcome::Duplicate, vec![error]), None)
    };
    // A customer an earlier row matched is not matched again.
    let customer_key = key_hash(K_CUSTOMER, &id.to_string());
    if let Some(first) = seen
        .get(customer_key)
        .or_else(|| local.get(&customer_key).copied())
    {
        return duplicate(format!("customer {id} was matched by row {first}"));
    }
    let Some(current) = h.customers.get(&id) else {
        // Deleted between the lookups: nothing to match any more.
        return fail(vec![RowError::new(
            "row",
            "NOT_FOUND",
            "the matched customer was deleted meanwhile",
        )]);
    };
    // The customer's own keys as stored now are claimed too: no later row
    // reaches it through a key this row may change.
    let row32 = u32::try_from(row).unwrap_or(u32::MAX);
    let mut own = vec![customer_key, key_hash(K_PHONE, &current.phone_number)];
    own.extend(
        current
            .alternative_phones
            .0
            .iter()
            .map(|p| key_hash(K_PHONE, p)),
    );
    if let Some(e) = &current.email {
        own.push(key_hash(K_EMAIL, e));
    }
    if let Some(e) = &current.external_id {
        own.push(key_hash(K_EXTERNAL, e));
    }
    for k in own {
        local.insert(k, row32);
        claimed.push((k, row32));
    }
    if options.mode == ImportMode::Create {
        let trashed = if current.deleted_at.is_some() {
            ", which is in the trash (restore it, or import in upsert or update mode)"
        } else {
            ""
        };
        return duplicate(format!(
            "{} {value} already belongs to customer {id}{trashed}",
            key.as_str()
        ));
    }
    if r.blocked && !current.is_blocked {
        return (
            matched_result(
                Outcome::Failed,
                vec![RowError::new(
                    "status",
                    "INVALID",
                    "blocked is set with the block route (setCustomerBlocked), not here",
                )],
            ),
            None,
        );
    }
    // A match in the trash comes out of it (as a restore would, the history
    // saying `import`): the row says this person is a customer, its numbers
    // still belong to the match so no other customer could take them, and
    // left there the sweep would purge what the row just wrote. A row that
    // itself says inactive or blocked (an exported customer in the trash
    // says so) leaves it there, as the update route does.
    let stays_in_trash = r.blocked || matches!(r.changes.status, Some(CustomerStatus::Inactive));
    let status_set = r.changes.status.is_some();
    let mut new = with_changes(current, r.changes);
    if !stays_in_trash {
        revive(&mut new, status_set);
    }
    if new == *current {
        return (matched_result(Outcome::Unchanged, Vec::new()), None);
    }
    let new = customer::Model {
        updated_at: now,
        ..new
    };
    (
        matched_result(Outcome::Updated, Vec::new()),
        Some(Write::Update {
            old: current.clone(),
            new,
        }),
    )
}
