//! A customer, with the statistics the contract calls auto-calculated kept as
//! columns (updated in the write transaction, never recomputed on read).

use sea_orm::entity::prelude::*;

use crate::enums::{CustomerSegment, CustomerSource, CustomerStatus};
use crate::json::{Address, CommunicationHours, JsonObject, StringList};

/// A row of `customers`. Serializable, so a merge can keep a removed
/// customer's whole row to restore it.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, serde::Serialize, serde::Deserialize)]
#[sea_orm(table_name = "customers")]
pub struct Model {
    /// Leads every key of the table: rows of one tenant never meet another's.
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Canonical digits, country code first, no '+'.
    pub phone_number: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    /// Trimmed and lowercased.
    pub email: Option<String>,
    pub avatar: Option<String>,
    /// JSON array of canonical phone numbers.
    pub alternative_phones: StringList,
    /// JSON object `{street, city, state, country, postalCode, coordinates}`.
    pub address: Option<Address>,
    /// JSON array of tags in the order given; `customer_tags` indexes them.
    pub tags: StringList,
    pub segment: CustomerSegment,
    pub source: CustomerSource,
    /// JSON object of free-form fields.
    pub custom_fields: JsonObject,
    pub preferred_language: String,
    /// JSON object `{start, end}`.
    pub communication_hours: Option<CommunicationHours>,
    pub preferred_agent_id: Option<Uuid>,
    pub status: CustomerStatus,
    /// The status held before a block, restored by unblock.
    pub status_before_block: Option<CustomerStatus>,
    pub is_blocked: bool,
    pub block_reason: Option<String>,
    pub notes: Option<String>,
    /// The customer's id in another system; unique per tenant when set.
    pub external_id: Option<String>,
    /// When a soft delete put the customer in the trash; `None` outside it.
    pub deleted_at: Option<DateTimeUtc>,
    /// The status a soft delete replaced (the customer's, or while blocked
    /// the one unblock returns to), put back by a restore; `None` outside
    /// the trash.
    pub status_before_delete: Option<CustomerStatus>,
    /// Lowercased, accent-folded phone, names and email, for substring search.
    pub search_text: String,
    pub total_conversations: i32,
    pub open_conversations: i32,
    pub resolved_conversations: i32,
    pub total_messages: i32,
    pub total_tickets: i32,
    /// Sum of reply times in milliseconds; with `response_count` gives the mean.
    pub response_time_ms: i64,
    pub response_count: i32,
    /// Sum of conversation ratings; with `rating_count` gives the mean.
    pub rating_total: i32,
    pub rating_count: i32,
    pub first_contact: Option<DateTimeUtc>,
    pub last_interaction: DateTimeUtc,
    pub last_message_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
