//! Writing rows: the writes [`judge`](super::judge::judge) planned, in
//! multi-row inserts and one UPDATE per changed customer.

use entity::{customer, customer_phone};
use sea_orm::IntoActiveModel;

use super::RowResult;
use crate::error::Result;
use crate::service::{customer_rows, insert_chunked, WriteTxn};

/// A planned write (a batch holds at most a thousand; boxing saves nothing).
#[expect(
    clippy::large_enum_variant,
    reason = "short-lived, one per row of a batch"
)]
pub(super) enum Write {
    Insert(customer::Model),
    Update {
        old: customer::Model,
        new: customer::Model,
    },
}

/// Writes a batch's planned rows: new customers in multi-row inserts (then
/// their numbers in phone order, then tags), changed ones one UPDATE each.
pub(super) async fn apply(
    txn: &WriteTxn,
    writes: Vec<(usize, Write)>,
    _results: &mut [RowResult],
) -> Result<()> {
    let mut inserts = Vec::new();
    let mut updates = Vec::new();
    for (_, w) in writes {
        match w {
            Write::Insert(m) => inserts.push(m),
            Write::Update { old, new } => updates.push((old, new)),
        }
    }
    if !inserts.is_empty() {
        insert_chunked(
            &**txn,
            inserts
                .iter()
                .map(|m| m.clone().into_active_model())
                .collect(),
        )
        .await?;
        for m in &inserts {
            txn.customer_added(m);
        }
        let mut phones: Vec<(String, customer_phone::ActiveModel)> = inserts
            .iter()
            .flat_map(|m| {
                std::iter::once(&m.phone_number)
                    .chain(m.alternative_phones.0.iter())
                    .cloned()
                    .zip(customer_rows::phone_rows(m, &m.alternative_phones.0))
            })
            .collect();
        // Every writer takes the numbers' unique keys in one order, so
        // imports of overlapping rows wait for each other, never in a circle.
        phones.sort_by(|a, b| a.0.cmp(&b.0));
        insert_chunked(&**txn, phones.into_iter().map(|(_, r)| r).collect()).await?;
        let tags = inserts
            .iter()
            .flat_map(|m| customer_rows::tag_rows(m, &m.tags.0))
            .collect();
        insert_chunked(&**txn, tags).await?;
    }
    for (old, new) in updates {
        let saved = customer_rows::save(&**txn, new).await?;
        txn.customer_changed(&old, &saved);
        if saved.phone_number != old.phone_number
            || saved.alternative_phones != old.alternative_phones
        {
            customer_rows::replace_phones(&**txn, &saved, &saved.alternative_phones.0).await?;
        }
        if saved.tags != old.tags {
            customer_rows::replace_tags(&**txn, &saved, &saved.tags.0).await?;
        }
    }
    Ok(())
}
