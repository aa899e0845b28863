//! Handlers of the customer routes of the reference, in its order.
//!
//! A path's `{id}` is parsed into a [`CustomerId`](crate::domain::ids::CustomerId)
//! where the handler calls the service, after the body and query were read:
//! a malformed id is a 404 like an unknown one, and the body's own errors
//! (415, 413, 400) still come first.

use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::Value;

use super::body::{self, conversation_doc, customer_doc, customer_input};
use super::shapes::{
    ConversationCounts, ConversationList, CustomerAnswer, CustomerDetails, CustomerList,
    MessageAnswer, SegmentCount, StatsAnswer, Succeeded,
};
use super::{bulk, responses, Auth, JsonObject, QueryPairs, IMPORT_BODY_LIMIT};
use crate::domain::customer::TagAction;
use crate::error::{Error, Result};
use crate::service::conversations::{self, ConversationStatus};
use crate::service::{customers, import, Ctx};

/// `{success: true, customer}`.
fn customer_answer(customer: &crate::service::customers::Customer) -> Json<CustomerAnswer<'_>> {
    Json(CustomerAnswer {
        success: Succeeded,
        customer: customer_doc(customer),
    })
}

/// `GET /api/v2/customers`
#[utoipa::path(
    get,
    path = "/api/v2/customers",
    tag = "customers",
    summary = "List customers, filtered, sorted and paginated",
    params(super::shapes::PageParams, super::shapes::SortParams, super::shapes::FilterParams),
    responses(
        (status = 200, description = "A page of customers", body = super::shapes::CustomerList),
        responses::Errors,
    )
)]
pub async fn list_customers(
    State(ctx): State<Ctx>,
    Auth(actor): Auth,
    q: QueryPairs,
) -> Result<Response> {
    let query = body::list_query(&q)?;
    let (items, pagination) = customers::list(&ctx, &actor, &query).await?;
    let customers = items.iter().map(customer_doc).collect();
    Ok(Json(CustomerList {
        success: Succeeded,
        customers,
        pagination,
    })
    .into_response())
}

/// `GET /api/v2/customers/{id}`
#[utoipa::path(
    get,
    path = "/api/v2/customers/{id}",
    tag = "customers",
    summary = "A customer with conversation counts and the 5 newest conversations",
    params(super::shapes::CustomerPath),
    responses(
        (status = 200, description = "The customer", body = super::shapes::CustomerDetails),
        responses::Errors, responses::NotFound,
    )
)]
pub async fn get_customer(
    State(ctx): State<Ctx>,
    Auth(actor): Auth,
    Path(id): Path<String>,
) -> Result<Response> {
    let d = customers::details(&ctx, &actor, id.parse()?).await?;
    let stats = d.customer.statistics;
    let recent: Vec<_> = d
        .recent_conversations
        .iter()
        .map(conversation_doc)
        .collect();
    Ok(Json(CustomerDetails {
        success: Succeeded,
        customer: customer_doc(&d.customer),
        statistics: ConversationCounts {
            total_conversations: stats.total_conversations,
            open_conversations: stats.open_conversations,
            resolved_conversations: stats.resolved_conversations,
        },
        recent_conversations: recent,
    })
    .into_response())
}

/// `POST /api/v2/customers` (201)
#[utoipa::path(
    post,
    path = "/api/v2/customers",
    tag = "customers",
    summary = "Create a customer",
    request_body(content = super::shapes::NewCustomer, content_type = "application/json"),
    responses(
        (status = 201, description = "The stored customer", body = super::shapes::CustomerAnswer),
        responses::Errors, responses::Forbidden, responses::Conflict, responses::BodyErrors,
    )
)]
pub async fn create_customer(
    State(ctx): State<Ctx>,
    Auth(actor): Auth,
    JsonObject(body): JsonObject,
) -> Result<Response> {
    let input = customer_input(&body).map_err(Error::invalid_fields)?;
    let customer = customers::create(&ctx, &actor, input).await?;
    Ok((StatusCode::CREATED, customer_answer(&customer)).into_response())
}

/// `PUT /api/v2/customers/{id}`: a partial update.
#[utoipa::path(
    put,
    path = "/api/v2/customers/{id}",
    tag = "customers",
    summary = "Change a customer (a partial update)",
    params(super::shapes::CustomerPath),
    request_body(content = super::shapes::CustomerChanges, content_type = "application/json"),
    responses(
        (status = 200, description = "The changed customer", body = super::shapes::CustomerAnswer),
        responses::Errors, responses::Forbidden, responses::NotFound, responses::Conflict, responses::BodyErrors,
    )
)]
pub async fn update_customer(
    State(ctx): State<Ctx>,
    Auth(actor): Auth,
    Path(id): Path<String>,
    JsonObject(body): JsonObject,
) -> Result<Response> {
    let input = customer_input(&body).map_err(Error::invalid_fields)?;
    let customer = customers::update(&ctx, &actor, id.parse()?, input).await?;
    Ok(customer_answer(&customer).into_response())
}

/// `PATCH /api/v2/customers/{id}/tags` with `{tags, action}`.
#[utoipa::path(
    patch,
    path = "/api/v2/customers/{id}/tags",
    tag = "customers",
    summary = "Set, add or remove tags",
    params(super::shapes::CustomerPath),
    request_body(content = super::shapes::TagsBody, content_type = "application/json"),
    responses(
        (status = 200, description = "The changed customer", body = super::shapes::CustomerAnswer),
        responses::Errors, responses::Forbidden, responses::NotFound, responses::BodyErrors,
    )
)]
pub async fn update_tags(
    State(ctx): State<Ctx>,
    Auth(actor): Auth,
    Path(id): Path<String>,
    JsonObject(body): JsonObject,
) -> Result<Response> {
    let tags = match body.get("tags") {
        Some(Value::Array(items)) => items
            .iter()
            .map(|t| t.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| Error::invalid("tags", "must be a list of strings"))?,
        _ => return Err(Error::invalid("tags", "must be a list of strings")),
    };
    let action = match body.get("action") {
        None | Some(Value::Null) => TagAction::Set,
        Some(Value::String(a)) => {
            TagAction::parse(a).ok_or_else(|| Error::invalid("action", TagAction::expected()))?
        }
        Some(_) => return Err(Error::invalid("action", TagAction::expected())),
    };
    let customer = customers::update_tags(&ctx, &actor, id.parse()?, tags, action).await?;
    Ok(customer_answer(&customer).into_response())
}

/// `PATCH /api/v2/customers/{id}/block` with `{isBlocked, blockReason}`.
#[utoipa::path(
    patch,
    path = "/api/v2/customers/{id}/block",
    tag = "customers",
    summary = "Block or unblock a customer",
    params(super::shapes::CustomerPath),
    request_body(content = super::shapes::BlockBody, content_type = "application/json"),
    responses(
        (status = 200, description = "The changed customer", body = super::shapes::CustomerAnswer),
        responses::Errors, responses::Forbidden, responses::NotFound, responses::BodyErrors,
    )
)]
pub async fn set_blocked(
    State(ctx): State<Ctx>,
    Auth(actor): Auth,
    Path(id): Path<String>,
    JsonObject(body): JsonObject,
) -> Result<Response> {
    let blocked = body
        .get("isBlocked")
        .and_then(Value::as_bool)
        .ok_or_else(|| Error::invalid("isBlocked", "must be true or false"))?;
    let reason = match body.get("blockReason") {
        None | Some(Value::Null) => None,
        Some(Value::String(r)) => Some(r.clone()),
        Some(_) => return Err(Error::invalid("blockReason", "must be a string")),
    };
    let customer = customers::set_blocked(&ctx, &actor, id.parse()?, blocked, reason).await?;
    Ok(customer_answer(&customer).into_response())
}

/// `DELETE /api/v2/customers/{id}?permanent=false`
#[utoipa::path(
    delete,
    path = "/api/v2/customers/{id}",
    tag = "customers",
    summary = "Deactivate a customer, or delete it for good (admin)",
    params(super::shapes::CustomerPath, super::shapes::DeleteParams),
    responses(
        (status = 200, description = "What was done", body = super::shapes::MessageAnswer),
        responses::Errors, responses::Forbidden, responses::NotFound,
    )
)]
pub async fn delete_customer(
    State(ctx): State<Ctx>,
    Auth(actor): Auth,
    Path(id): Path<String>,
    q: QueryPairs,
) -> Result<Response> {
    let permanent = body::flag(&q, "permanent", false)?;
    let deleted = customers::delete(&ctx, &actor, id.parse()?, permanent).await?;
    Ok(Json(MessageAnswer {
        success: Succeeded,
        message: deleted.message,
    })
    .into_response())
}

/// `GET /api/v2/customers/stats/summary`
#[utoipa::path(
    get,
    path = "/api/v2/customers/stats/summary",
    tag = "customers",
    summary = "Dashboard counts of the tenant",
    responses(
        (status = 200, description = "The counts", body = super::shapes::StatsAnswer),
        responses::Errors,
    )
)]
pub async fn get_stats(State(ctx): State<Ctx>, Auth(actor): Auth) -> Result<Response> {
    let stats = customers::stats(&ctx, &actor).await?;
    let segments = stats
        .segments
        .iter()
        .map(|&(segment, count)| SegmentCount { segment, count })
        .collect();
    Ok(Json(StatsAnswer {
        success: Succeeded,
        summary: stats.summary,
        segments,
    })
    .into_response())
}

/// `GET /api/v2/customers/{id}/conversations?page&limit[&status]`
#[utoipa::path(
    get,
    path = "/api/v2/customers/{id}/conversations",
    tag = "customers",
    summary = "A customer's conversations, newest first",
    params(super::shapes::CustomerPath, super::shapes::PageParams, super::shapes::ConversationParams),
    responses(
        (status = 200, description = "A page of conversations", body = super::shapes::ConversationList),
        responses::Errors, responses::NotFound,
    )
)]
pub async fn list_conversations(
    State(ctx): State<Ctx>,
    Auth(actor): Auth,
    Path(id): Path<String>,
    q: QueryPairs,
) -> Result<Response> {
    let page = body::page(&q)?;
    let status = match q.get("status").map(str::trim).filter(|v| !v.is_empty()) {
        None => None,
        Some(v) => Some(
            ConversationStatus::parse(v)
                .ok_or_else(|| Error::invalid("status", ConversationStatus::expected()))?,
        ),
    };
    let (items, pagination) =
        conversations::list_for_customer(&ctx, &actor, id.parse()?, page, status).await?;
    let conversations = items.iter().map(conversation_doc).collect();
    Ok(Json(ConversationList {
        success: Succeeded,
        conversations,
        pagination,
    })
    .into_response())
}

/// `POST /api/v2/customers/bulk/import` with `{customers: [...]}` (ADMIN).
/// The role is checked before a byte of the body is read; the body is parsed
/// while it arrives and the answer serialized while it is sent.
#[utoipa::path(
    post,
    path = "/api/v2/customers/bulk/import",
    tag = "customers",
    summary = "Import customers (admin); each row is judged on its own",
    request_body(content = super::shapes::ImportBody, content_type = "application/json"),
    responses(
        (status = 200, description = "What happened to each row", body = super::shapes::ImportAnswer),
        responses::Errors, responses::Forbidden, responses::BodyErrors,
    )
)]
pub async fn import_customers(
    State(ctx): State<Ctx>,
    Auth(actor): Auth,
    req: Request,
) -> Result<Response> {
    import::authorize(&actor)?;
    let rows = bulk::rows(req, IMPORT_BODY_LIMIT)?;
    let report = import::import(&ctx, &actor, rows).await?;
    bulk::response(ctx, actor, report)
}
