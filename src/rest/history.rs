//! Handlers of the change history, trash and erasure routes
//! (`/api/v2/customers/trash`, `/{id}/history`, `/{id}/restore`,
//! `/{id}/erase`, `/{id}/erasure`) and their answer shapes. Each parses,
//! calls one `service::` function and shapes the answer.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::body::{self, customer_doc, CustomerDocument, Doc};
use super::shapes::{CustomerAnswer, Succeeded};
use super::{responses, Auth, QueryPairs};
use crate::domain::page::Pagination;
use crate::domain::time;
use crate::error::Result;
use crate::service::customers::Customer;
use crate::service::erasure::Receipt;
use crate::service::history::Change;
use crate::service::{erasure, history, trash, Ctx};

/// When a customer went to the trash and when it may be purged.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TrashTimes {
    /// When the soft delete put the customer in the trash.
    #[serde(with = "time::serde_ms")]
    pub deleted_at: DateTime<Utc>,
    /// When the trash sweep may delete it for good; until then `POST .../restore` brings it back.
    #[serde(with = "time::serde_ms")]
    pub purge_at: DateTime<Utc>,
}

/// A customer document of the trash: the customer with its [`TrashTimes`].
#[derive(Serialize)]
pub struct TrashedDoc<'a> {
    #[serde(flatten)]
    pub doc: Doc<'a, Customer>,
    #[serde(flatten)]
    pub times: TrashTimes,
}

/// The schema of a [`TrashedDoc`].
pub struct TrashedDocument;

impl utoipa::PartialSchema for TrashedDocument {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::schema::AllOfBuilder::new()
            .item(<CustomerDocument as utoipa::PartialSchema>::schema())
            .item(utoipa::openapi::Ref::from_schema_name(TrashTimes::name()))
            .into()
    }
}

impl ToSchema for TrashedDocument {
    fn schemas(schemas: &mut body::Schemas) {
        body::register::<TrashTimes>(schemas);
        <CustomerDocument as ToSchema>::schemas(schemas);
    }
}

/// `GET /api/v2/customers/trash`.
#[derive(Serialize, ToSchema)]
pub struct TrashList<'a> {
    pub success: Succeeded,
    /// Newest deletion first.
    #[schema(value_type = Vec<TrashedDocument>)]
    pub customers: Vec<TrashedDoc<'a>>,
    pub pagination: Pagination,
}

/// `GET /api/v2/customers/{id}/history`.
#[derive(Serialize, ToSchema)]
pub struct HistoryList {
    pub success: Succeeded,
    /// Newest first.
    pub history: Vec<Change>,
    pub pagination: Pagination,
}

/// `POST /api/v2/customers/{id}/erase`.
#[derive(Serialize, ToSchema)]
pub struct ErasureAnswer {
    pub success: Succeeded,
    /// The stored receipt.
    pub erasure: Receipt,
}

/// `GET /api/v2/customers/{id}/erasure`.
#[derive(Serialize, ToSchema)]
pub struct ErasureList {
    pub success: Succeeded,
    /// Newest first; empty when the customer was never erased.
    pub erasures: Vec<Receipt>,
}

/// `GET /api/v2/customers/trash?page&limit`
#[utoipa::path(
    get,
    path = "/api/v2/customers/trash",
    tag = "customers",
    summary = "Soft-deleted customers (the trash), newest deletion first",
    params(super::shapes::PageParams),
    responses(
        (status = 200, description = "A page of the trash", body = TrashList),
        responses::Errors,
    )
)]
pub async fn list_trash(
    State(ctx): State<Ctx>,
    Auth(actor): Auth,
    q: QueryPairs,
) -> Result<Response> {
    let page = body::page(&q)?;
    let (items, pagination) = trash::page(&ctx, &actor, page).await?;
    let customers = items
        .iter()
        .map(|t| TrashedDoc {
            doc: customer_doc(&t.customer),
            times: TrashTimes {
                deleted_at: t.deleted_at,
                purge_at: t.purge_at,
            },
        })
        .collect();
    Ok(Json(TrashList {
        success: Succeeded,
        customers,
        pagination,
    })
    .into_response())
}

/// `GET /api/v2/customers/{id}/history?page&limit`
#[utoipa::path(
    get,
    path = "/api/v2/customers/{id}/history",
    tag = "customers",
    summary = "A customer's change history, newest first (also after a hard delete)",
    params(super::shapes::PastCustomerPath, super::shapes::PageParams),
    responses(
        (status = 200, description = "A page of the history", body = HistoryList),
        responses::Errors, responses::NotFound,
    )
)]
pub async fn list_history(
    State(ctx): State<Ctx>,
    Auth(actor): Auth,
    Path(id): Path<String>,
    q: QueryPairs,
) -> Result<Response> {
    let page = body::page(&q)?;
    let (history, pagination) = history::page(&ctx, &actor, id.parse()?, page).await?;
    Ok(Json(HistoryList {
        success: Succeeded,
        history,
        pagination,
    })
    .into_response())
}

/// `POST /api/v2/customers/{id}/restore`
#[utoipa::path(
    post,
    path = "/api/v2/customers/{id}/restore",
    tag = "customers",
    summary = "Take a customer out of the trash (agent or admin), within CLIENTELA_TRASH_DAYS of its deletion",
    params(super::shapes::CustomerPath),
    responses(
        (status = 200, description = "The restored customer, with the status it had before the delete", body = CustomerAnswer),
        responses::Errors, responses::Forbidden, responses::NotFound,
    )
)]
pub async fn restore_customer(
    State(ctx): State<Ctx>,
    Auth(actor): Auth,
    Path(id): Path<String>,
) -> Result<Response> {
    let customer = trash::restore(&ctx, &actor, id.parse()?).await?;
    Ok(Json(CustomerAnswer {
        success: Succeeded,
        customer: customer_doc(&customer),
    })
    .into_response())
}

/// `POST /api/v2/customers/{id}/erase`
#[utoipa::path(
    post,
    path = "/api/v2/customers/{id}/erase",
    tag = "customers",
    summary = "Erase a customer's personal data (admin), keeping its anonymous statistics",
    params(super::shapes::CustomerPath),
    responses(
        (status = 200, description = "The stored erasure receipt", body = ErasureAnswer),
        responses::Errors, responses::Forbidden, responses::NotFound,
    )
)]
pub async fn erase_customer(
    State(ctx): State<Ctx>,
    Auth(actor): Auth,
    Path(id): Path<String>,
) -> Result<Response> {
    let erasure = erasure::erase(&ctx, &actor, id.parse()?).await?;
    Ok(Json(ErasureAnswer {
        success: Succeeded,
        erasure,
    })
    .into_response())
}

/// `GET /api/v2/customers/{id}/erasure`
#[utoipa::path(
    get,
    path = "/api/v2/customers/{id}/erasure",
    tag = "customers",
    summary = "A customer's erasure receipts (admin), newest first, also after it was deleted",
    params(super::shapes::PastCustomerPath),
    responses(
        (status = 200, description = "The receipts", body = ErasureList),
        responses::Errors, responses::Forbidden, responses::NotFound,
    )
)]
pub async fn list_erasures(
    State(ctx): State<Ctx>,
    Auth(actor): Auth,
    Path(id): Path<String>,
) -> Result<Response> {
    let erasures = erasure::of_customer(&ctx, &actor, id.parse()?).await?;
    Ok(Json(ErasureList {
        success: Succeeded,
        erasures,
    })
    .into_response())
}
