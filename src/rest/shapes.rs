//! The bodies of the REST routes as types. Handlers serialize the response
//! types below, and the OpenAPI document ([`super::openapi`]) is derived
//! from the same types, so the two cannot drift apart. The request types are
//! schema only: handlers read bodies leniently, field by field (see
//! [`super::body`]), to give one error per bad field.

use serde::Serialize;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::RefOr;
use utoipa::{PartialSchema, ToSchema};

use super::body::{ConversationDocument, CustomerDocument, Doc};
use crate::domain::customer::{
    Address, CommunicationHours, CustomerSegment, CustomerSource, CustomerStatus, TagAction,
};
use crate::domain::page::Pagination;
use crate::service::conversations::Conversation;
use crate::service::customers::{Customer, Summary};
use crate::service::import::jobs::Job;
use crate::service::import::ImportIssue;

/// Defines a unit type that serializes as one boolean, with that single
/// value as its schema (`success` of an answer).
macro_rules! boolean_constant {
    ($(#[$meta:meta])* $name:ident = $value:literal, $schema_name:literal) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
        pub struct $name;

        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_bool($value)
            }
        }

        impl PartialSchema for $name {
            fn schema() -> RefOr<Schema> {
                ObjectBuilder::new()
                    .schema_type(Type::Boolean)
                    .enum_values(Some([$value]))
                    .into()
            }
        }

        impl ToSchema for $name {
            fn name() -> std::borrow::Cow<'static, str> {
                $schema_name.into()
            }
        }
    };
}

boolean_constant!(
    /// `success: true`.
    Succeeded = true,
    "SuccessTrue"
);
boolean_constant!(
    /// `success: false`.
    Failed = false,
    "SuccessFalse"
);

/// Every error: `{success: false, error, code, details?}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub success: Failed,
    /// A human message; never SQL, paths or stack traces.
    pub error: String,
    /// The contract's code (the same as GraphQL's `extensions.code`).
    #[schema(schema_with = error_code_schema)]
    pub code: &'static str,
    /// Which fields were wrong (400), or which customer holds the number (409).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<Vec<ErrorDetail>>,
}

fn error_code_schema() -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some([
            "BAD_USER_INPUT",
            "UNAUTHENTICATED",
            "FORBIDDEN",
            "NOT_FOUND",
            "CONFLICT",
            "PAYLOAD_TOO_LARGE",
            "RATE_LIMITED",
            "SERVICE_UNAVAILABLE",
            "INTERNAL_SERVER_ERROR",
        ]))
}

/// One wrong field.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ErrorDetail {
    /// The field's path, e.g. `address.city`.
    pub field: String,
    pub message: String,
    /// On a 409: the customer that already holds the phone number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub existing_id: Option<String>,
}

/// `GET /api/v2/customers`.
#[derive(Serialize, ToSchema)]
pub struct CustomerList<'a> {
    pub success: Succeeded,
    #[schema(value_type = Vec<CustomerDocument>)]
    pub customers: Vec<Doc<'a, Customer>>,
    pub pagination: Pagination,
}

/// `GET /api/v2/customers/{id}`.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CustomerDetails<'a> {
    pub success: Succeeded,
    #[schema(value_type = CustomerDocument)]
    pub customer: Doc<'a, Customer>,
    pub statistics: ConversationCounts,
    /// The 5 newest conversations.
    #[schema(value_type = Vec<ConversationDocument>)]
    pub recent_conversations: Vec<Doc<'a, Conversation>>,
}

/// A customer's conversations by state; open counts OPEN and PENDING.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConversationCounts {
    pub total_conversations: i32,
    pub open_conversations: i32,
    pub resolved_conversations: i32,
}

/// One customer, after a create or a change.
#[derive(Serialize, ToSchema)]
pub struct CustomerAnswer<'a> {
    pub success: Succeeded,
    #[schema(value_type = CustomerDocument)]
    pub customer: Doc<'a, Customer>,
}

/// What a delete did.
#[derive(Serialize, ToSchema)]
pub struct MessageAnswer {
    pub success: Succeeded,
    /// `Customer deactivated` or `Customer permanently deleted`.
    pub message: &'static str,
}

/// `GET /api/v2/customers/stats/summary`.
#[derive(Serialize, ToSchema)]
pub struct StatsAnswer {
    pub success: Succeeded,
    pub summary: Summary,
    /// Customers per segment, largest first; empty segments left out.
    pub segments: Vec<SegmentCount>,
}

/// How many customers one segment holds.
#[derive(Serialize, ToSchema)]
pub struct SegmentCount {
    #[serde(rename = "_id")]
    pub segment: CustomerSegment,
    pub count: i64,
}

/// `GET /api/v2/customers/{id}/conversations`.
#[derive(Serialize, ToSchema)]
pub struct ConversationList<'a> {
    pub success: Succeeded,
    #[schema(value_type = Vec<ConversationDocument>)]
    pub conversations: Vec<Doc<'a, Conversation>>,
    pub pagination: Pagination,
}

/// `POST /api/v2/customers/bulk/import`. (Its handler builds the same
/// shape with `json!`; `tests/api/rest_*` pin it.)
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub struct ImportAnswer<'a> {
    pub success: Succeeded,
    pub results: ImportCounts,
    pub details: ImportDetails<'a>,
}

/// Rows per outcome.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub struct ImportCounts {
    pub imported: usize,
    pub duplicates: usize,
    pub failed: usize,
}

/// The rows per outcome.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub struct ImportDetails<'a> {
    /// The stored customers.
    #[schema(value_type = Vec<CustomerDocument>)]
    pub success: Vec<Doc<'a, Customer>>,
    pub duplicates: &'a [ImportIssue],
    pub failed: &'a [ImportIssue],
}

/// `GET /api/v2/customers/export?format=json`. Streamed: the handler writes
/// these bytes chunk by chunk (see `export.rs`) rather than serializing it.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub struct ExportJson<'a> {
    pub success: Succeeded,
    pub total: u64,
    #[schema(value_type = Vec<CustomerDocument>)]
    pub customers: Vec<Doc<'a, Customer>>,
}

/// A customer as sent on create; unknown and read-only keys are ignored.
/// Text fields also take numbers (as their digits), as the legacy service did.
#[derive(ToSchema)]
#[schema(
    rename_all = "camelCase",
    example = json!({
        "phoneNumber": "529991234567",
        "firstName": "John",
        "lastName": "Doe",
        "email": "john@example.com",
        "tags": ["premium"],
        "segment": "new",
        "source": "whatsapp",
        "address": {"street": "123 Main St", "city": "Cancún", "state": "Quintana Roo",
                    "country": "México", "postalCode": "77500"},
        "notes": "VIP customer - priority support",
        "customFields": {"birthday": "1990-05-15", "company": "Acme Corp"},
        "preferences": {"language": "es", "communicationHours": {"start": "09:00", "end": "18:00"}}
    })
)]
#[allow(dead_code)]
pub struct NewCustomer {
    /// Any common form (`+52 (999) 123-4567`, `9991234567`); stored as
    /// canonical digits with the country code.
    pub phone_number: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
    pub avatar: Option<String>,
    pub alternative_phones: Option<Vec<String>>,
    pub address: Option<Address>,
    /// At most 100, each at most 64 characters.
    pub tags: Option<Vec<String>>,
    pub segment: Option<CustomerSegment>,
    pub source: Option<CustomerSource>,
    /// Free-form key-value pairs.
    #[schema(value_type = Option<Object>)]
    pub custom_fields: Option<serde_json::Map<String, serde_json::Value>>,
    pub preferences: Option<PreferencesBody>,
    /// `blocked` is refused: use the block route.
    pub status: Option<CustomerStatus>,
    pub notes: Option<String>,
}

/// A partial update: present fields are set, absent ones untouched, `null`
/// clears a nullable field, nested objects are replaced whole.
#[derive(ToSchema)]
#[schema(
    rename_all = "camelCase",
    example = json!({"firstName": "John", "lastName": "Smith", "email": "john.smith@example.com",
                     "segment": "vip", "notes": "Updated notes"})
)]
#[allow(dead_code)]
pub struct CustomerChanges {
    pub phone_number: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
    pub avatar: Option<String>,
    pub alternative_phones: Option<Vec<String>>,
    pub address: Option<Address>,
    pub tags: Option<Vec<String>>,
    pub segment: Option<CustomerSegment>,
    pub source: Option<CustomerSource>,
    #[schema(value_type = Option<Object>)]
    pub custom_fields: Option<serde_json::Map<String, serde_json::Value>>,
    pub preferences: Option<PreferencesBody>,
    /// `blocked` is refused: use the block route.
    pub status: Option<CustomerStatus>,
    pub notes: Option<String>,
    /// The customer's id in another system; unique per tenant (a taken one is a 409 naming its holder).
    pub external_id: Option<String>,
}

/// A customer's preferences as sent.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct PreferencesBody {
    /// Defaults to `es`.
    pub language: Option<String>,
    pub communication_hours: Option<CommunicationHours>,
    /// An agent id of the tenant.
    pub preferred_agent: Option<String>,
}

/// `PATCH /api/v2/customers/{id}/tags`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct TagsBody {
    pub tags: Vec<String>,
    /// Defaults to `set`.
    pub action: Option<TagAction>,
}

/// `PATCH /api/v2/customers/{id}/block`.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct BlockBody {
    pub is_blocked: bool,
    pub block_reason: Option<String>,
}

/// `POST /api/v2/customers/bulk/import`: every row is judged on its own; an
/// invalid row is reported under `details.failed`, not refused.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ImportBody {
    pub customers: Vec<CustomerChanges>,
}

/// The `{id}` of a customer's route.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
pub struct CustomerPath {
    /// The customer's id (an unknown or malformed id, or one of another tenant, is 404)
    pub id: uuid::Uuid,
}

/// The `{id}` of a route that also answers for a customer deleted for good
/// (its history, its erasure receipts).
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
pub struct PastCustomerPath {
    /// The customer's id (an id the tenant never had, a malformed one, or one of another tenant, is 404)
    pub id: uuid::Uuid,
}

/// The `{id}` of a merge's route.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
pub struct MergePath {
    /// The merge's id (an unknown or malformed id, or one of another tenant, is 404)
    pub id: uuid::Uuid,
}

/// The `{id}` of an import job's route.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
pub struct JobPath {
    /// The job's id
    pub id: String,
}

/// The page of a list: `page` and `limit`.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct PageParams {
    /// From 1; defaults to 1. A page past the end is an empty list.
    #[param(minimum = 1)]
    pub page: Option<u64>,
    /// From 1; defaults to 20; above 100 is taken as 100.
    #[param(minimum = 1)]
    pub limit: Option<u64>,
}

/// The filters of the list and the export.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct FilterParams {
    pub status: Option<CustomerStatus>,
    pub segment: Option<CustomerSegment>,
    pub source: Option<CustomerSource>,
    /// Customers with ANY of these tags; `tags=a,b` and repeated `tags` both work.
    #[param(style = Form, explode)]
    pub tags: Option<Vec<String>>,
    /// Case- and accent-insensitive substring of phoneNumber, firstName,
    /// lastName or email; several words must all match.
    pub search: Option<String>,
}

/// The order of the list.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
#[allow(dead_code)]
pub struct SortParams {
    /// Defaults to `lastInteraction`; nulls sort last; ties break on id.
    pub sort_by: Option<crate::domain::customer::CustomerSortField>,
    /// Defaults to `desc`.
    pub sort_order: Option<crate::domain::customer::SortOrder>,
}

/// What an export writes, and how a browser may authorize it.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct ExportParams {
    /// Defaults to `json`.
    #[param(inline)]
    pub format: Option<ExportFormatParam>,
    /// A JWT, for `window.open` (instead of the Authorization header).
    pub token: Option<String>,
    /// A download token minted by GraphQL `exportLink`; it works only for
    /// the format and filter it was minted for, with no other authorization.
    pub link: Option<String>,
}

/// `json` or `csv`.
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)]
pub enum ExportFormatParam {
    Json,
    Csv,
}

/// The filter of a customer's conversations.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct ConversationParams {
    pub status: Option<crate::service::conversations::ConversationStatus>,
}

/// How a customer is deleted.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct DeleteParams {
    /// `false` (the default) deactivates (status `inactive`); `true` (admin
    /// only) removes the customer with its conversations, messages and tickets.
    pub permanent: Option<bool>,
}

/// `POST /api/v2/customers/upsert`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct UpsertBody {
    /// At most 1,000 customers; each is a create body, or the fields to change of the customer it matches.
    pub customers: Vec<CustomerChanges>,
    /// Keys matched, in order of preference: `phone`, `email`, `externalId` (all three when omitted).
    #[schema(value_type = Option<Vec<String>>)]
    pub r#match: Option<Vec<String>>,
}

/// One item's or row's result.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct RowResultShape {
    /// The item's index from 0 (upsert) or the row's number from 1 (import errors).
    pub index: u64,
    /// `created`, `updated`, `unchanged`, `duplicate` (imports) or `failed`.
    pub status: String,
    /// The customer created, updated or matched.
    pub id: Option<uuid::Uuid>,
    /// `phone`, `email` or `externalId` when a stored customer matched.
    pub matched_on: Option<String>,
    /// The value that matched (a canonical phone, an email, an external id).
    pub matched_value: Option<String>,
    /// Why the item was not applied: `{field, code, message}` each.
    #[schema(value_type = Vec<Object>)]
    pub errors: Vec<serde_json::Value>,
}

/// Counts of an upsert.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct UpsertCounts {
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
    pub failed: usize,
}

/// The answer of an upsert.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct UpsertAnswer {
    pub success: Succeeded,
    pub results: UpsertCounts,
    pub items: Vec<RowResultShape>,
}

/// The query of `POST /api/v2/customers/imports`.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct ImportJobParams {
    /// `create`, `update` or `upsert` (the default).
    pub mode: Option<String>,
    /// `true`: write nothing, report what a real run would do.
    #[param(rename = "dryRun")]
    pub dry_run: Option<bool>,
    /// Keys matched, comma-separated: `phone,email,externalId` (the default).
    pub r#match: Option<String>,
}

/// One import job.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ImportJobAnswer {
    pub success: Succeeded,
    pub job: Job,
}

/// The tenant's import jobs.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ImportJobList {
    pub success: Succeeded,
    pub jobs: Vec<Job>,
}
