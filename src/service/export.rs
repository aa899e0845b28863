//! Export: customers streamed from a database cursor, a row at a time, so
//! memory stays flat whatever the number of rows.

use futures::{Stream, StreamExt};
use sea_orm::{ConnectionTrait, PaginatorTrait, TransactionTrait};
use tokio::sync::{mpsc, oneshot};

use super::customers::{order, Customer, CustomerFilter};
use super::{scope, Ctx};
use crate::auth::Actor;
use crate::domain::customer::{CustomerSortField, SortOrder};
use crate::error::{Error, Result};

/// Rows buffered between the database cursor and the socket.
const BUFFER_ROWS: usize = 256;

/// The customers an export sends: their count, then the rows, oldest first.
pub struct Export {
    pub total: u64,
    pub rows: std::pin::Pin<Box<dyn Stream<Item = Result<Customer>> + Send>>,
}

/// Starts an export of the caller's customers that match `filter`. The count
/// and the rows are read in one transaction, so they agree.
#[tracing::instrument(skip_all, fields(tenant.id = %actor.tenant))]
pub async fn export(ctx: &Ctx, actor: &Actor, filter: CustomerFilter) -> Result<Export> {
    filter.validate()?;
    let (total_tx, total_rx) = oneshot::channel::<Result<u64>>();
    let (row_tx, row_rx) = mpsc::channel::<Result<Customer>>(BUFFER_ROWS);
    let db = ctx.db.clone();
    let actor = actor.clone();
    tokio::spawn(async move {
        let stream_rows = async {
            let txn = db.begin().await?;
            let query = filter.apply(&actor, txn.get_database_backend(), scope::customers(&actor));
            let total = query.clone().count(&txn).await?;
            Ok::<_, Error>((txn, query, total))
        };
        let (txn, query, total) = match stream_rows.await {
            Ok(v) => v,
            Err(e) => {
                let _ = total_tx.send(Err(e));
                return;
            }
        };
        if total_tx.send(Ok(total)).is_err() {
            return;
        }
        let ordered = order(query, CustomerSortField::CreatedAt, SortOrder::Asc);
        let mut rows = match ordered.stream(&txn).await {
            Ok(rows) => rows,
            Err(e) => {
                let _ = row_tx.send(Err(e.into())).await;
                return;
            }
        };
        while let Some(row) = rows.next().await {
            let item = row.map_err(Error::from).and_then(Customer::try_from);
            let failed = item.is_err();
            // A closed receiver means the client went away: stop reading.
            if row_tx.send(item).await.is_err() || failed {
                return;
            }
        }
    });
    let total = total_rx
        .await
        .map_err(|_| Error::internal(anyhow::anyhow!("export task ended early")))??;
    let rows = futures::stream::unfold(row_rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    Ok(Export {
        total,
        rows: Box::pin(rows),
    })
}
