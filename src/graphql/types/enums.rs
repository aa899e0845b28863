//! The GraphQL face of the closed value sets: each enum mirrors a domain or
//! service enum (`remote`, so `From` runs both ways) and carries the
//! descriptions GraphiQL shows. The domain and the service stay free of
//! GraphQL; nothing here holds a rule, only names and descriptions.

use async_graphql::Enum;

/// Lifecycle status of a customer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[graphql(remote = "crate::domain::customer::CustomerStatus")]
pub enum CustomerStatus {
    /// A customer the desk works with; the default for a new customer.
    Active,
    /// A customer no longer served; a soft delete sets this status.
    Inactive,
    /// Blocked with setCustomerBlocked; unblocking restores the status held before.
    Blocked,
    /// A customer marked as a VIP.
    Vip,
}

/// Marketing segment of a customer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[graphql(remote = "crate::domain::customer::CustomerSegment")]
pub enum CustomerSegment {
    /// The most valuable customers.
    Vip,
    /// Established customers.
    Regular,
    /// Customers who only recently got in touch; the default segment.
    New,
    /// Customers who stopped getting in touch.
    Inactive,
}

/// Where a customer came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[graphql(remote = "crate::domain::customer::CustomerSource")]
pub enum CustomerSource {
    /// First contact over WhatsApp; the default source.
    Whatsapp,
    /// Recommended by someone.
    Referral,
    /// Came through the website.
    Website,
    /// Came through a social network.
    SocialMedia,
    /// Any other way.
    Other,
}

/// What a customer list may be sorted by; nulls sort last and ties break on id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[graphql(remote = "crate::domain::customer::CustomerSortField")]
pub enum CustomerSortField {
    /// The customer's most recent activity (`lastInteraction`).
    LastInteraction,
    /// When the customer was created.
    CreatedAt,
    /// When the customer was last changed.
    UpdatedAt,
    /// The customer's first conversation or message (`firstContact`).
    FirstContact,
    /// The customer's newest message (`lastMessageAt`).
    LastMessageAt,
    /// The first name.
    FirstName,
    /// The last name.
    LastName,
    /// The canonical phone number.
    PhoneNumber,
    /// The email address.
    Email,
}

/// Ascending or descending.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[graphql(remote = "crate::domain::customer::SortOrder")]
pub enum SortOrder {
    /// Smallest, oldest or first in the alphabet first.
    Asc,
    /// Largest, newest or last in the alphabet first.
    Desc,
}

/// How a tag list changes a customer's tags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[graphql(remote = "crate::domain::customer::TagAction")]
pub enum TagAction {
    /// Replaces the customer's tags with the list.
    Set,
    /// Adds the tags of the list the customer does not carry yet.
    Add,
    /// Removes the tags of the list from the customer.
    Remove,
}

/// Where a conversation stands; OPEN and PENDING count as open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[graphql(remote = "crate::service::conversations::ConversationStatus")]
pub enum ConversationStatus {
    /// Being worked on; a new conversation starts here.
    Open,
    /// On hold; still counts as open.
    Pending,
    /// Done; `resolvedAt` says when.
    Resolved,
}

/// Who sent a message: the customer (inbound) or the desk (outbound).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[graphql(remote = "crate::service::conversations::MessageDirection")]
pub enum MessageDirection {
    /// From the customer to the desk.
    Inbound,
    /// From the desk to the customer.
    Outbound,
}

/// Whether a ticket still needs work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[graphql(remote = "crate::service::tickets::TicketStatus")]
pub enum TicketStatus {
    /// Still needs work; a new ticket starts here.
    Open,
    /// Done; `closedAt` says when.
    Closed,
}

/// What happened to the record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[graphql(remote = "crate::service::events::ChangeKind")]
pub enum ChangeKind {
    /// The record was created.
    Created,
    /// The record was changed.
    Updated,
    /// The record was deleted.
    Deleted,
}

/// The file an export writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[graphql(remote = "crate::service::export_links::ExportFormat")]
pub enum ExportFormat {
    /// `application/json`: `{"success": true, "total": N, "customers": [...]}`.
    Json,
    /// `text/csv` with the REST export's columns, tags joined by `;`.
    Csv,
}
