//! Plain GraphQL results built from service results: offset pages and
//! their pagination, the dashboard counts, an import's report, a delete's
//! outcome and the caller. Nothing here reads through a loader or the
//! service; the nouns they list are the objects of `graphql/types.rs`.

use async_graphql::parser::types::Field;
use async_graphql::{ComplexObject, ContextSelectionSet, Positioned, SimpleObject, ID};

use super::enums::CustomerSegment;
use super::{ConversationObject, Customer, CustomerObject, Message};
use crate::auth::Role;
use crate::domain::page::{PageRequest, Pagination as PageBlock};
use crate::graphql::inline::{self, Fields, List};
use crate::graphql::json::leaf;
use crate::service::{customers, import};

/// Page numbers and totals of an offset page.
#[derive(SimpleObject)]
pub struct Pagination {
    /// This page's number, from 1.
    pub page: i32,
    /// The most items a page holds (the request's limit, at most 100).
    pub limit: i32,
    /// Items on all pages together.
    pub total: i32,
    /// Number of pages: total divided by limit, rounded up.
    pub pages: i32,
}

fn int(n: u64) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

impl From<PageBlock> for Pagination {
    fn from(p: PageBlock) -> Self {
        Pagination {
            page: int(p.page),
            limit: int(p.limit),
            total: int(p.total),
            pages: int(p.pages),
        }
    }
}

/// Reads GraphQL `page`/`limit` arguments under the contract's rules; null
/// (an omitted nullable variable) means the default.
pub fn page_request(
    page: Option<i32>,
    limit: Option<i32>,
    default_limit: u64,
) -> crate::error::Result<PageRequest> {
    PageRequest::new(page.map(i64::from), limit.map(i64::from), default_limit)
}

/// The cost of a list field: the rows it may return (its `limit` or
/// `first`, else `default`, at most the page maximum) times the cost of
/// each row's selection, plus one for the field itself. Saturates rather
/// than overflows, so an absurd nesting is simply over any limit.
pub fn list_cost(limit: Option<i32>, default: i32, child_complexity: usize) -> usize {
    let rows = limit
        .unwrap_or(default)
        .clamp(0, crate::domain::page::MAX_LIMIT as i32);
    (rows as usize)
        .saturating_mul(child_complexity)
        .saturating_add(1)
}

/// A page of customers.
#[derive(SimpleObject)]
pub struct CustomerPage {
    /// The customers of this page.
    pub items: List<CustomerObject>,
    /// Where this page sits and how many there are.
    pub pagination: Pagination,
}

impl Fields for Pagination {
    fn write(&self, field: &str, out: &mut Vec<u8>) -> Option<serde_json::Result<()>> {
        Some(match field {
            "page" => leaf::value(out, &self.page),
            "limit" => leaf::value(out, &self.limit),
            "total" => leaf::value(out, &self.total),
            "pages" => leaf::value(out, &self.pages),
            _ => return None,
        })
    }
}

/// Answered in place ([`inline`]): the page, its pagination and its items
/// are written in one pass when no field of the items waits, so the engine
/// resolves the `customers` field alone.
impl Fields for CustomerPage {
    const WAITS: &'static [&'static str] = &["items"];

    /// The items wait when a field of theirs does (one that reads through
    /// a loader): the page is then answered field by field, and its items
    /// as a list of their own.
    fn waits_here(&self, ctx: &ContextSelectionSet<'_>, field: &Positioned<Field>) -> bool {
        match field.node.name.node.as_str() {
            "items" => inline::items_may_wait(ctx, field, &self.items.0),
            _ => false,
        }
    }

    fn write_object(
        &self,
        ctx: &ContextSelectionSet<'_>,
        field: &Positioned<Field>,
        out: &mut Vec<u8>,
    ) -> serde_json::Result<bool> {
        match field.node.name.node.as_str() {
            "pagination" => inline::write_object(ctx, field, Some(&self.pagination), out),
            "items" => inline::write_list(ctx, field, self.items.0.iter().map(|i| &i.0), out),
            _ => Ok(false),
        }
    }
}

/// A page of conversations.
#[derive(SimpleObject)]
pub struct ConversationPage {
    /// The conversations of this page, newest first.
    pub items: List<ConversationObject>,
    /// Where this page sits and how many there are.
    pub pagination: Pagination,
}

/// A page of messages.
#[derive(SimpleObject)]
pub struct MessagePage {
    /// The messages of this page, oldest first.
    pub items: Vec<Message>,
    /// Where this page sits and how many there are.
    pub pagination: Pagination,
}

/// Dashboard counts.
#[derive(SimpleObject)]
pub struct CustomerSummary {
    /// Every customer of the tenant, whatever its status.
    pub total_customers: i32,
    /// status = ACTIVE
    pub active_customers: i32,
    /// segment = VIP
    pub vip_customers: i32,
    /// isBlocked = true
    pub blocked_customers: i32,
    /// createdAt within the current calendar month, UTC
    pub new_this_month: i32,
}

/// Customers in one segment.
#[derive(SimpleObject)]
pub struct SegmentCount {
    /// The segment.
    pub segment: CustomerSegment,
    /// Customers in it.
    pub count: i32,
}

/// Dashboard statistics.
#[derive(SimpleObject)]
pub struct CustomerStats {
    /// Counts of all customers and of notable groups.
    pub summary: CustomerSummary,
    /// Customers per segment, largest first; segments without customers left out.
    pub segments: Vec<SegmentCount>,
}

impl Fields for CustomerSummary {
    fn write(&self, field: &str, out: &mut Vec<u8>) -> Option<serde_json::Result<()>> {
        Some(match field {
            "totalCustomers" => leaf::value(out, &self.total_customers),
            "activeCustomers" => leaf::value(out, &self.active_customers),
            "vipCustomers" => leaf::value(out, &self.vip_customers),
            "blockedCustomers" => leaf::value(out, &self.blocked_customers),
            "newThisMonth" => leaf::value(out, &self.new_this_month),
            _ => return None,
        })
    }
}

impl Fields for SegmentCount {
    fn write(&self, field: &str, out: &mut Vec<u8>) -> Option<serde_json::Result<()>> {
        Some(match field {
            "segment" => leaf::name(out, self.segment),
            "count" => leaf::value(out, &self.count),
            _ => return None,
        })
    }
}

/// Answered in place ([`inline`]): the dashboard's answer is one small
/// object, written in one pass rather than resolved as a future per field,
/// which weighed most on the cheapest request a desk makes (issue 9's ST,
/// `bench/RESULTS.md`, session 29).
impl Fields for CustomerStats {
    fn write_object(
        &self,
        ctx: &ContextSelectionSet<'_>,
        field: &Positioned<Field>,
        out: &mut Vec<u8>,
    ) -> serde_json::Result<bool> {
        match field.node.name.node.as_str() {
            "summary" => inline::write_object(ctx, field, Some(&self.summary), out),
            "segments" => inline::write_list(ctx, field, &self.segments, out),
            _ => Ok(false),
        }
    }
}

impl From<customers::Stats> for CustomerStats {
    fn from(s: customers::Stats) -> Self {
        let n = |v: i64| i32::try_from(v).unwrap_or(i32::MAX);
        CustomerStats {
            summary: CustomerSummary {
                total_customers: n(s.summary.total_customers),
                active_customers: n(s.summary.active_customers),
                vip_customers: n(s.summary.vip_customers),
                blocked_customers: n(s.summary.blocked_customers),
                new_this_month: n(s.summary.new_this_month),
            },
            segments: s
                .segments
                .into_iter()
                .map(|(segment, count)| SegmentCount {
                    segment: segment.into(),
                    count: n(count),
                })
                .collect(),
        }
    }
}

/// A row of an import that was not stored.
#[derive(SimpleObject)]
#[graphql(complex)]
pub struct ImportIssue {
    /// Position of the row in the submitted list, from 0.
    pub index: i32,
    /// The row's phone number, when it had one.
    pub phone_number: Option<String>,
    /// Why the row was not stored.
    pub reason: String,
    #[graphql(skip)]
    pub existing: Option<crate::domain::ids::CustomerId>,
}

#[ComplexObject]
impl ImportIssue {
    /// For a duplicate of a stored customer: that customer's id.
    async fn existing_id(&self) -> Option<ID> {
        self.existing.map(|id| ID(id.to_string()))
    }
}

impl From<import::ImportIssue> for ImportIssue {
    fn from(i: import::ImportIssue) -> Self {
        ImportIssue {
            index: int(i.index as u64),
            phone_number: i.phone_number,
            reason: i.reason,
            existing: i.existing_id,
        }
    }
}

/// Each row of an import, by outcome.
#[derive(SimpleObject)]
pub struct ImportDetails {
    /// The customers stored.
    pub success: Vec<Customer>,
    /// Rows whose phone number already exists, in the store or earlier in the list.
    pub duplicates: Vec<ImportIssue>,
    /// Rows refused as invalid, with the reason.
    pub failed: Vec<ImportIssue>,
}

/// What an import did.
#[derive(SimpleObject)]
pub struct ImportResult {
    /// Rows stored.
    pub imported: i32,
    /// Rows skipped as duplicates.
    pub duplicates: i32,
    /// Rows refused as invalid.
    pub failed: i32,
    /// Each row, by outcome.
    pub details: ImportDetails,
}

impl ImportResult {
    /// An import's result from its report and the customers it stored.
    pub fn new(r: import::ImportReport, stored: Vec<customers::Customer>) -> Self {
        ImportResult {
            imported: int(r.stored.len() as u64),
            duplicates: int(r.duplicates.len() as u64),
            failed: int(r.failed.len() as u64),
            details: ImportDetails {
                success: Customer::list(stored),
                duplicates: r.duplicates.into_iter().map(Into::into).collect(),
                failed: r.failed.into_iter().map(Into::into).collect(),
            },
        }
    }
}

/// What a delete did.
#[derive(SimpleObject)]
pub struct DeleteResult {
    /// Always true: a delete that fails answers an error instead.
    pub success: bool,
    /// Human-readable, e.g. 'Customer deactivated' or 'Customer permanently deleted'.
    pub message: String,
    /// Whether the customer was removed (true) or only deactivated (false).
    pub permanent: bool,
}

/// The caller, as its token says.
#[derive(SimpleObject)]
pub struct Viewer {
    /// The agent's id: the token's `sub`.
    pub agent_id: ID,
    /// What the caller may do: the token's `role`.
    pub role: Role,
    /// Whose data the caller sees: the token's `tenant`.
    pub tenant: String,
}
