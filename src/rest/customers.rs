//! Handlers of the customer routes of the reference, in its order.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::body::{self, conversation_doc, customer_doc, customer_input};
use super::{Auth, JsonObject, QueryPairs};
use crate::domain::customer::TagAction;
use crate::error::{Error, Result};
use crate::service::conversations::{self, ConversationStatus};
use crate::service::{customers, import};
use crate::AppState;

/// `GET /api/v2/customers`
pub async fn list_customers(
    State(s): State<AppState>,
    Auth(actor): Auth,
    q: QueryPairs,
) -> Result<Json<Value>> {
    let query = body::list_query(&q)?;
    let (items, pagination) = customers::list(&s.ctx, &actor, &query).await?;
    let docs: Vec<_> = items.iter().map(customer_doc).collect();
    Ok(Json(
        json!({ "success": true, "customers": docs, "pagination": pagination }),
    ))
}

/// `GET /api/v2/customers/{id}`
pub async fn get_customer(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<String>,
) -> Result<Json<Value>> {
    let d = customers::details(&s.ctx, &actor, &id).await?;
    let stats = d.customer.statistics;
    let recent: Vec<_> = d
        .recent_conversations
        .iter()
        .map(conversation_doc)
        .collect();
    Ok(Json(json!({
        "success": true,
        "customer": customer_doc(&d.customer),
        "statistics": {
            "totalConversations": stats.total_conversations,
            "openConversations": stats.open_conversations,
            "resolvedConversations": stats.resolved_conversations,
        },
        "recentConversations": recent,
    })))
}

/// `POST /api/v2/customers` (201)
pub async fn create_customer(
    State(s): State<AppState>,
    Auth(actor): Auth,
    JsonObject(body): JsonObject,
) -> Result<Response> {
    let input = customer_input(&body).map_err(Error::invalid_fields)?;
    let customer = customers::create(&s.ctx, &actor, input).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "success": true, "customer": customer_doc(&customer) })),
    )
        .into_response())
}

/// `PUT /api/v2/customers/{id}`: a partial update.
pub async fn update_customer(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<String>,
    JsonObject(body): JsonObject,
) -> Result<Json<Value>> {
    let input = customer_input(&body).map_err(Error::invalid_fields)?;
    let customer = customers::update(&s.ctx, &actor, &id, input).await?;
    Ok(Json(
        json!({ "success": true, "customer": customer_doc(&customer) }),
    ))
}

/// `PATCH /api/v2/customers/{id}/tags` with `{tags, action}`.
pub async fn update_tags(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<String>,
    JsonObject(body): JsonObject,
) -> Result<Json<Value>> {
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
    let customer = customers::update_tags(&s.ctx, &actor, &id, tags, action).await?;
    Ok(Json(
        json!({ "success": true, "customer": customer_doc(&customer) }),
    ))
}

/// `PATCH /api/v2/customers/{id}/block` with `{isBlocked, blockReason}`.
pub async fn set_blocked(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<String>,
    JsonObject(body): JsonObject,
) -> Result<Json<Value>> {
    let blocked = body
        .get("isBlocked")
        .and_then(Value::as_bool)
        .ok_or_else(|| Error::invalid("isBlocked", "must be true or false"))?;
    let reason = match body.get("blockReason") {
        None | Some(Value::Null) => None,
        Some(Value::String(r)) => Some(r.clone()),
        Some(_) => return Err(Error::invalid("blockReason", "must be a string")),
    };
    let customer = customers::set_blocked(&s.ctx, &actor, &id, blocked, reason).await?;
    Ok(Json(
        json!({ "success": true, "customer": customer_doc(&customer) }),
    ))
}

/// `DELETE /api/v2/customers/{id}?permanent=false`
pub async fn delete_customer(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<String>,
    q: QueryPairs,
) -> Result<Json<Value>> {
    let permanent = body::flag(&q, "permanent", false)?;
    let deleted = customers::delete(&s.ctx, &actor, &id, permanent).await?;
    Ok(Json(json!({ "success": true, "message": deleted.message })))
}

/// `GET /api/v2/customers/stats/summary`
pub async fn get_stats(State(s): State<AppState>, Auth(actor): Auth) -> Result<Json<Value>> {
    let stats = customers::stats(&s.ctx, &actor).await?;
    let segments: Vec<Value> = stats
        .segments
        .iter()
        .map(|(segment, count)| json!({ "_id": segment.as_str(), "count": count }))
        .collect();
    Ok(Json(
        json!({ "success": true, "summary": stats.summary, "segments": segments }),
    ))
}

/// `GET /api/v2/customers/{id}/conversations?page&limit[&status]`
pub async fn list_conversations(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<String>,
    q: QueryPairs,
) -> Result<Json<Value>> {
    let page = body::page(&q)?;
    let status = match q.get("status").map(str::trim).filter(|v| !v.is_empty()) {
        None => None,
        Some(v) => Some(
            ConversationStatus::parse(v)
                .ok_or_else(|| Error::invalid("status", ConversationStatus::expected()))?,
        ),
    };
    let (items, pagination) =
        conversations::list_for_customer(&s.ctx, &actor, &id, page, status).await?;
    let docs: Vec<_> = items.iter().map(conversation_doc).collect();
    Ok(Json(
        json!({ "success": true, "conversations": docs, "pagination": pagination }),
    ))
}

/// `POST /api/v2/customers/bulk/import` with `{customers: [...]}` (ADMIN).
pub async fn import_customers(
    State(s): State<AppState>,
    Auth(actor): Auth,
    JsonObject(body): JsonObject,
) -> Result<Json<Value>> {
    let Some(Value::Array(rows)) = body.get("customers") else {
        return Err(Error::invalid("customers", "must be a list of customers"));
    };
    let rows = rows
        .iter()
        .map(|row| match row {
            Value::Object(map) => customer_input(map),
            _ => Err(vec![crate::error::FieldError::new(
                "customer",
                "must be an object",
            )]),
        })
        .collect();
    let report = import::import(&s.ctx, &actor, rows).await?;
    let success: Vec<_> = report.success.iter().map(customer_doc).collect();
    Ok(Json(json!({
        "success": true,
        "results": {
            "imported": report.success.len(),
            "duplicates": report.duplicates.len(),
            "failed": report.failed.len(),
        },
        "details": { "success": success, "duplicates": report.duplicates, "failed": report.failed },
    })))
}
