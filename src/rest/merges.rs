//! Handlers of the duplicate and merge routes, and their bodies as types
//! (the OpenAPI document is derived from the same types):
//! `GET /api/v2/customers/duplicates`, `POST /api/v2/customers/{id}/merge`,
//! `GET /api/v2/customers/merges/{id}` and
//! `POST /api/v2/customers/merges/{id}/undo`. Each parses, calls one
//! `service::` function and shapes the answer.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::body::{customer_doc, CustomerDocument, Doc};
use super::shapes::Succeeded;
use super::{responses, Auth, JsonObject, QueryPairs};
use crate::domain::ids::CustomerId;
use crate::error::{Error, Result};
use crate::service::customers::Customer;
use crate::service::duplicates::{self, DuplicateQuery, Reason};
use crate::service::merges::{self, MergeRecord};
use crate::service::Ctx;

/// A group of customers that are probably one person.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DuplicateGroupDoc<'a> {
    /// Opaque; pass it as `after` for the groups after this one.
    pub cursor: &'a str,
    /// From 0 to 1: a shared number variant (0.95) or email (0.9) is nearly
    /// certain, a name with a number's last seven digits (0.6) much less;
    /// several kinds of reason raise it.
    pub confidence: f64,
    /// The customers, oldest first.
    #[schema(value_type = Vec<CustomerDocument>)]
    pub customers: Vec<Doc<'a, Customer>>,
    /// What some of them share.
    pub reasons: &'a [Reason],
}

/// Where a page of groups sits.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GroupPageInfo {
    /// Whether more groups follow (ask with `after=endCursor`).
    pub has_next_page: bool,
    /// The cursor of the last group of this page; null for an empty page.
    pub end_cursor: Option<String>,
}

/// `{success, groups, pageInfo, totalCount}`.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DuplicatesAnswer<'a> {
    pub success: Succeeded,
    pub groups: Vec<DuplicateGroupDoc<'a>>,
    pub page_info: GroupPageInfo,
    /// Groups at least `minConfidence` sure, whatever the cursor.
    pub total_count: usize,
}

/// `{success, merge, customer, restored}`.
#[derive(Serialize, ToSchema)]
pub struct MergeAnswer<'a> {
    pub success: Succeeded,
    /// The merge record.
    pub merge: &'a MergeRecord,
    /// The primary customer as the write left it.
    #[schema(value_type = CustomerDocument)]
    pub customer: Doc<'a, Customer>,
    /// The customers an undo restored; empty after a merge.
    #[schema(value_type = Vec<CustomerDocument>)]
    pub restored: Vec<Doc<'a, Customer>>,
}

/// `{success, merge}`.
#[derive(Serialize, ToSchema)]
pub struct MergeRecordAnswer<'a> {
    pub success: Succeeded,
    pub merge: &'a MergeRecord,
}

/// The body of a merge: `{others: [id, ...]}`.
#[derive(ToSchema)]
#[allow(
    dead_code,
    reason = "schema only: the handler reads the body field by field"
)]
pub struct MergeBody {
    /// The customers to merge into the path's customer: 1 to 20, each once.
    pub others: Vec<uuid::Uuid>,
}

/// The query of the duplicates route.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code, reason = "schema only: the handler reads the query itself")]
pub struct DuplicatesParams {
    /// Groups to return, 0 to 100; defaults to 20.
    #[param(minimum = 0, maximum = 100)]
    pub first: Option<u32>,
    /// A group's `cursor`: the groups after it.
    pub after: Option<String>,
    /// Only groups at least this sure, 0 to 1; defaults to 0.
    #[param(rename = "minConfidence", minimum = 0, maximum = 1)]
    pub min_confidence: Option<f64>,
}

/// `GET /api/v2/customers/duplicates`
#[utoipa::path(
    get,
    path = "/api/v2/customers/duplicates",
    tag = "customers",
    summary = "Groups of customers that are probably one person, most certain first",
    params(DuplicatesParams),
    responses(
        (status = 200, description = "A page of groups", body = DuplicatesAnswer),
        responses::Errors,
    )
)]
pub async fn list_duplicates(
    State(ctx): State<Ctx>,
    Auth(actor): Auth,
    q: QueryPairs,
) -> Result<Response> {
    let first = q
        .get("first")
        .map(|v| {
            v.trim()
                .parse::<i64>()
                .map_err(|_| Error::invalid("first", "must be a whole number from 0 to 100"))
        })
        .transpose()?;
    let min_confidence = q
        .get("minConfidence")
        .map(|v| {
            v.trim()
                .parse::<f64>()
                .ok()
                .filter(|c| c.is_finite())
                .ok_or_else(|| Error::invalid("minConfidence", "must be a number from 0 to 1"))
        })
        .transpose()?
        .unwrap_or(0.0);
    let query = DuplicateQuery {
        first,
        after: q.get("after").map(str::to_owned),
        min_confidence,
    };
    let page = duplicates::find(&ctx, &actor, &query).await?;
    let groups = page
        .groups
        .iter()
        .map(|g| DuplicateGroupDoc {
            cursor: &g.cursor,
            confidence: g.confidence,
            customers: g.customers.iter().map(customer_doc).collect(),
            reasons: &g.reasons,
        })
        .collect();
    Ok(Json(DuplicatesAnswer {
        success: Succeeded,
        groups,
        page_info: GroupPageInfo {
            has_next_page: page.has_next_page,
            end_cursor: page.groups.last().map(|g| g.cursor.clone()),
        },
        total_count: page.total_count,
    })
    .into_response())
}

/// The ids of `others`; 400 unless a list of strings (an id that cannot be
/// one is a 404, like an unknown one).
fn others_of(body: &serde_json::Map<String, Value>) -> Result<Vec<CustomerId>> {
    let bad = || Error::invalid("others", "must be a list of customer ids");
    let Some(Value::Array(items)) = body.get("others") else {
        return Err(bad());
    };
    let texts = items
        .iter()
        .map(Value::as_str)
        .collect::<Option<Vec<_>>>()
        .ok_or_else(bad)?;
    texts.into_iter().map(str::parse).collect()
}

/// `POST /api/v2/customers/{id}/merge` with `{others: [...]}`.
#[utoipa::path(
    post,
    path = "/api/v2/customers/{id}/merge",
    tag = "customers",
    summary = "Merge customers into this one (admin); undo within 30 days",
    params(super::shapes::CustomerPath),
    request_body(content = MergeBody, content_type = "application/json"),
    responses(
        (status = 200, description = "The merge record and the kept customer", body = MergeAnswer),
        responses::Errors, responses::Forbidden, responses::NotFound, responses::BodyErrors,
    )
)]
pub async fn merge_customers(
    State(ctx): State<Ctx>,
    Auth(actor): Auth,
    Path(id): Path<String>,
    JsonObject(body): JsonObject,
) -> Result<Response> {
    // The role first: a non-admin learns nothing about the ids it names.
    actor.require_admin()?;
    let others = others_of(&body)?;
    let merged = merges::merge(&ctx, &actor, id.parse()?, others)
        .await
        .map_err(rename_others)?;
    Ok(merge_answer(&merged))
}

/// The service names the list `otherIds` (GraphQL's argument); REST's is `others`.
fn rename_others(e: Error) -> Error {
    match e {
        Error::BadUserInput { fields, .. } => Error::invalid_fields(
            fields
                .into_iter()
                .map(|mut f| {
                    if f.field == "otherIds" {
                        f.field = "others".to_owned();
                    }
                    f
                })
                .collect(),
        ),
        other => other,
    }
}

fn merge_answer(merged: &merges::Merged) -> Response {
    Json(MergeAnswer {
        success: Succeeded,
        merge: &merged.record,
        customer: customer_doc(&merged.primary),
        restored: merged.restored.iter().map(customer_doc).collect(),
    })
    .into_response()
}

/// `GET /api/v2/customers/merges/{id}`
#[utoipa::path(
    get,
    path = "/api/v2/customers/merges/{id}",
    tag = "customers",
    summary = "A merge record (admin)",
    params(super::shapes::MergePath),
    responses(
        (status = 200, description = "The merge record", body = MergeRecordAnswer),
        responses::Errors, responses::Forbidden, responses::NotFound,
    )
)]
pub async fn get_merge(
    State(ctx): State<Ctx>,
    Auth(actor): Auth,
    Path(id): Path<String>,
) -> Result<Response> {
    actor.require_admin()?;
    let record = merges::get(&ctx, &actor, id.parse()?).await?;
    Ok(Json(MergeRecordAnswer {
        success: Succeeded,
        merge: &record,
    })
    .into_response())
}

/// `POST /api/v2/customers/merges/{id}/undo`
#[utoipa::path(
    post,
    path = "/api/v2/customers/merges/{id}/undo",
    tag = "customers",
    summary = "Undo a merge within 30 days (admin)",
    params(super::shapes::MergePath),
    responses(
        (status = 200, description = "The merge record (now undone), the kept customer and the restored ones", body = MergeAnswer),
        (status = 409, description = "Already undone, older than 30 days, or undoing would overwrite a later change (`CONFLICT`; the message says which)", body = super::shapes::ErrorBody),
        responses::Errors, responses::Forbidden, responses::NotFound,
    )
)]
pub async fn undo_merge(
    State(ctx): State<Ctx>,
    Auth(actor): Auth,
    Path(id): Path<String>,
) -> Result<Response> {
    actor.require_admin()?;
    let merged = merges::unmerge(&ctx, &actor, id.parse()?).await?;
    Ok(merge_answer(&merged))
}
