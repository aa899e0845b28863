//! What an erasure does to the merge records: the person's kept copies and
//! values are cleared, and a standing merge it reached can no longer be
//! undone. Imports `view` and `record`.

use std::collections::{BTreeSet, HashSet};

use chrono::{DateTime, Utc};
use entity::json::StringList;
use entity::merge_record;
use sea_orm::{ColumnTrait, IntoActiveModel, QueryFilter, QueryOrder, QuerySelect, Set};
use serde_json::Value;
use uuid::Uuid;

use super::record::{ErasedBy, Snapshot};
use crate::auth::Actor;
use crate::domain::ids::CustomerId;
use crate::error::Result;
use crate::service::{customer_rows, scope, WriteTxn};

/// What erasing a person removed from the merge records.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ErasedFromMerges {
    /// Merge records that held some of the person's personal data.
    pub records: u64,
    /// The customers standing merges folded into the erased one (directly
    /// or through earlier merges): copies of the same person, whose rows the
    /// records kept.
    pub folded: Vec<Uuid>,
}

/// Removes the personal data of the customer `subject` from the caller's
/// merge records, in the erasure's transaction (which holds the customer's
/// row), and marks each standing merge it reached so that it can no longer
/// be undone (receipt `receipt`).
///
/// The person is the customer and every customer a standing merge folded
/// into it, directly or through earlier merges: the admin who merged said
/// they were one person, and the customer's row, which the erasure clears,
/// holds their numbers, email and fields. Their kept rows, the values the
/// primary gained from them, and their values that lost to the primary's
/// are cleared, in every record (standing or undone) that holds them. A
/// customer an undo restored is a person of its own again: erasing the
/// primary leaves its copy in the undone record alone, and erasing it
/// clears that copy.
pub(crate) async fn erase_person(
    txn: &WriteTxn,
    actor: &Actor,
    subject: CustomerId,
    receipt: Uuid,
) -> Result<ErasedFromMerges> {
    // Only the small columns of every record: which customers each names.
    let heads: Vec<(Uuid, Uuid, StringList, Option<DateTime<Utc>>)> = scope::merges(actor)
        .select_only()
        .column(merge_record::Column::Id)
        .column(merge_record::Column::PrimaryId)
        .column(merge_record::Column::OtherIds)
        .column(merge_record::Column::UndoneAt)
        .order_by_asc(merge_record::Column::Id)
        .into_tuple()
        .all(&**txn)
        .await?;
    let others_of =
        |list: &StringList| -> Vec<Uuid> { list.0.iter().filter_map(|o| o.parse().ok()).collect() };
    let mut person: HashSet<Uuid> = HashSet::from([subject.uuid()]);
    let mut grew = true;
    while grew {
        grew = false;
        for (_, primary, others, undone) in &heads {
            if undone.is_none() && person.contains(primary) {
                for o in others_of(others) {
                    grew |= person.insert(o);
                }
            }
        }
    }
    let mut erased = ErasedFromMerges {
        records: 0,
        folded: person
            .iter()
            .copied()
            .filter(|id| *id != subject.uuid())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect(),
    };
    for (id, primary, others, undone) in &heads {
        let standing = undone.is_none();
        let touches =
            person.contains(primary) || others_of(others).iter().any(|o| person.contains(o));
        if !touches {
            continue;
        }
        let Some(record) = scope::merges(actor)
            .filter(merge_record::Column::Id.eq(*id))
            .lock_exclusive()
            .one(&**txn)
            .await?
        else {
            continue;
        };
        let mut snapshot = Snapshot::read(&record)?;
        let mut changed = scrub(&mut snapshot, &person);
        // The first erasure that reaches a standing merge ends its undo; a
        // later one is named too when it found something more to erase.
        if standing && (changed || snapshot.erased.is_empty()) {
            snapshot.erased.push(ErasedBy {
                customer: subject.uuid(),
                receipt,
            });
            changed = true;
        }
        if changed {
            let mut active = record.into_active_model();
            active.snapshot = Set(snapshot.to_json()?);
            sea_orm::ActiveModelTrait::update(active, &**txn).await?;
            erased.records += 1;
        }
    }
    Ok(erased)
}

/// Clears from a merge record's snapshot the personal data of the customers
/// `person`: their kept rows (as an erasure clears a customer), the
/// numbers, email, external id and custom fields the primary gained from
/// them, and their values that lost. Whether anything changed.
fn scrub(s: &mut Snapshot, person: &HashSet<Uuid>) -> bool {
    let mut phones: HashSet<String> = HashSet::new();
    let mut emails: HashSet<String> = HashSet::new();
    let mut external_ids: HashSet<String> = HashSet::new();
    let mut fields: Vec<(String, Value)> = Vec::new();
    let mut changed = false;
    for o in s.others.iter_mut().filter(|o| person.contains(&o.row.id)) {
        let row = &o.row;
        phones.insert(row.phone_number.clone());
        phones.extend(row.alternative_phones.0.iter().cloned());
        emails.extend(row.email.clone());
        external_ids.extend(row.external_id.clone());
        fields.extend(
            row.custom_fields
                .0
                .iter()
                .map(|(k, v)| (k.clone(), v.clone())),
        );
        changed |= !customer_rows::clear_personal(&mut o.row).is_empty();
    }
    let before = (
        s.gained.phones.len(),
        s.moved.phones.len(),
        s.gained.custom_fields.len(),
        s.kept.len(),
    );
    s.gained.phones.retain(|p| !phones.contains(p));
    s.moved.phones.retain(|p| !phones.contains(p));
    s.gained
        .custom_fields
        .retain(|k, v| !fields.iter().any(|(fk, fv)| fk == k && fv == v));
    s.kept.retain(|k| !person.contains(&k.customer_id.uuid()));
    changed |= before
        != (
            s.gained.phones.len(),
            s.moved.phones.len(),
            s.gained.custom_fields.len(),
            s.kept.len(),
        );
    if s.gained.email.as_ref().is_some_and(|e| emails.contains(e)) {
        s.gained.email = None;
        changed = true;
    }
    if s.gained
        .external_id
        .as_ref()
        .is_some_and(|e| external_ids.contains(e))
    {
        s.gained.external_id = None;
        changed = true;
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::merges::merge::fold_in;
    use crate::service::merges::merge::tests::customer;
    use crate::service::merges::record::Removed;
    use crate::service::merges::view::Moved;
    use entity::json::JsonObject;
    use serde_json::json;

    #[test]
    fn scrubbing_clears_only_the_erased_persons_copies_and_values() {
        let mut a = customer(1, "529991000001");
        let mut b = customer(2, "529991000002");
        b.first_name = Some("Beto".into());
        b.email = Some("beto@x.com".into());
        b.alternative_phones = StringList(vec!["529991000022".into()]);
        b.custom_fields = JsonObject(
            json!({"plan": "silver", "rfc": "BETO"})
                .as_object()
                .cloned()
                .unwrap_or_default(),
        );
        let mut c = customer(3, "529991000003");
        c.first_name = Some("Cy".into());
        c.custom_fields = JsonObject(
            json!({"plan": "bronze", "shoe": 42})
                .as_object()
                .cloned()
                .unwrap_or_default(),
        );
        a.custom_fields = JsonObject(
            json!({"plan": "gold"})
                .as_object()
                .cloned()
                .unwrap_or_default(),
        );
        let (_, gained, kept) = fold_in(&a, &[b.clone(), c.clone()]).expect("folds");
        let removed = |row: &entity::customer::Model| Removed {
            row: row.clone(),
            conversations: Vec::new(),
            tickets: Vec::new(),
            messages: 0,
        };
        let mut snapshot = Snapshot {
            others: vec![removed(&b), removed(&c)],
            moved: Moved {
                phones: gained.phones.clone(),
                ..Moved::default()
            },
            gained,
            kept,
            erased: Vec::new(),
        };
        assert!(scrub(&mut snapshot, &HashSet::from([b.id])));
        let text = serde_json::to_string(&snapshot).expect("json");
        for secret in [
            "Beto",
            "beto@x.com",
            "529991000002",
            "529991000022",
            "silver",
            "BETO",
        ] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
        assert_eq!(snapshot.others[1].row, c, "another person's copy stays");
        assert_eq!(snapshot.gained.phones, ["529991000003"]);
        assert_eq!(snapshot.moved.phones, ["529991000003"]);
        assert_eq!(
            Value::Object(snapshot.gained.custom_fields.clone()),
            json!({"shoe": 42})
        );
        assert_eq!(snapshot.kept.len(), 1);
        assert_eq!(snapshot.kept[0].customer_id, CustomerId::from(c.id));
        assert!(
            !scrub(&mut snapshot, &HashSet::from([b.id])),
            "twice: nothing"
        );
    }
}
