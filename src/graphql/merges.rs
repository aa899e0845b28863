//! Duplicates and merges: the `customerDuplicates` and `customerMerge`
//! queries, the `mergeCustomers` and `unmergeCustomers` mutations, and
//! their types. Calls `service::duplicates` and `service::merges` and wraps
//! what they return; never sea_orm.

use async_graphql::{Context, Enum, Json, Object, SimpleObject, ID};

use super::connection::PageInfo;
use super::scalars::DateTime;
use super::types::Customer;
use super::{caller, GqlResult};
use crate::domain::ids::{CustomerId, MergeId};
use crate::service::{duplicates, merges};

/// Why customers are taken for one person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[graphql(remote = "crate::service::duplicates::ReasonKind")]
pub enum DuplicateReasonKind {
    /// Their numbers are WhatsApp spellings of one another: Mexico's `52 1` and `52`, Argentina's `54 9` and `54`, a Brazilian mobile with and without its ninth digit.
    PhoneVariant,
    /// The same email address, case-insensitively.
    Email,
    /// The same name (accents and case folded) and numbers ending in the same seven digits.
    NameAndPhoneSuffix,
}

/// What some customers of a group share.
#[derive(SimpleObject)]
pub struct DuplicateReason {
    /// The kind of reason.
    pub kind: DuplicateReasonKind,
    /// What they share: the number with its variant folded (529991234567), the email, or the folded name and the seven digits (`jose perez · 1234567`).
    pub value: String,
    /// The customers sharing it.
    pub customer_ids: Vec<ID>,
}

/// Customers of the tenant that are probably one person.
#[derive(SimpleObject)]
pub struct DuplicateGroup {
    /// From 0 to 1; a shared number variant (0.95) or email (0.9) is nearly certain, a name with a number's last seven digits (0.6) much less; several kinds of reason raise it (1 - the product of each one's doubt).
    pub confidence: f64,
    /// The customers, oldest first (a good primary for `mergeCustomers`).
    pub customers: Vec<Customer>,
    /// Each thing some of them share.
    pub reasons: Vec<DuplicateReason>,
}

/// A group and its cursor.
#[derive(SimpleObject)]
pub struct DuplicateGroupEdge {
    /// Opaque; valid as `after` of the same query.
    pub cursor: String,
    /// The group.
    pub node: DuplicateGroup,
}

/// A page of duplicate groups, most certain first.
#[derive(SimpleObject)]
pub struct DuplicateGroupConnection {
    /// The groups of this page, each with its cursor.
    pub edges: Vec<DuplicateGroupEdge>,
    /// The groups of `edges`, without their cursors.
    pub nodes: Vec<DuplicateGroup>,
    /// Whether more groups follow, and the cursors of this page's ends.
    pub page_info: PageInfo,
    /// Groups at least `minConfidence` sure, whatever the cursor.
    pub total_count: i32,
}

/// What a merge moved to the primary customer.
#[derive(SimpleObject)]
pub struct MergeMoved {
    /// Conversations moved (with their messages).
    pub conversations: i32,
    /// Messages moved.
    pub messages: i32,
    /// Tickets moved.
    pub tickets: i32,
    /// Tags the primary gained.
    pub tags: Vec<String>,
    /// Numbers the primary gained as alternative numbers.
    pub phones: Vec<String>,
    /// Custom fields (keys) the primary gained.
    pub custom_fields: Vec<String>,
    /// Fields the primary had empty and took from a merged customer (`email`, `externalId`).
    pub filled: Vec<String>,
}

/// A merged customer's value that lost to the primary's; kept here.
#[derive(SimpleObject)]
pub struct MergeKeptValue {
    /// The merged customer whose value it was.
    pub customer_id: ID,
    /// The field, e.g. `customFields.plan`.
    pub field: String,
    /// The value it had.
    pub value: Json<serde_json::Value>,
}

/// A merge of customers, kept so it can be undone for 30 days.
#[derive(SimpleObject)]
pub struct CustomerMerge {
    /// The merge's id, for `unmergeCustomers`.
    pub id: ID,
    /// The customer that was kept.
    pub primary_id: ID,
    /// The customers merged into it (removed until an undo).
    pub other_ids: Vec<ID>,
    /// When the merge was made.
    pub merged_at: DateTime,
    /// The `sub` of the admin who merged.
    pub merged_by: String,
    /// When the merge was undone; null while it stands.
    pub undone_at: Option<DateTime>,
    /// The `sub` of the admin who undid it.
    pub undone_by: Option<String>,
    /// Until when `unmergeCustomers` accepts it.
    pub undoable_until: DateTime,
    /// What moved to the primary.
    pub moved: MergeMoved,
    /// Merged customers' values that lost to the primary's.
    pub kept_values: Vec<MergeKeptValue>,
}

/// A merge or its undo with the customers it left.
#[derive(SimpleObject)]
pub struct MergeResult {
    /// The merge record.
    pub merge: CustomerMerge,
    /// The primary customer as the write left it.
    pub primary: Customer,
    /// The customers an undo restored; empty after a merge.
    pub restored: Vec<Customer>,
}

fn ids(ids: &[CustomerId]) -> Vec<ID> {
    ids.iter().map(|id| ID(id.to_string())).collect()
}

fn count(n: u64) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

impl From<merges::MergeRecord> for CustomerMerge {
    fn from(r: merges::MergeRecord) -> Self {
        CustomerMerge {
            id: ID(r.id.to_string()),
            primary_id: ID(r.primary_id.to_string()),
            other_ids: ids(&r.other_ids),
            merged_at: r.merged_at.into(),
            merged_by: r.merged_by,
            undone_at: r.undone_at.map(DateTime),
            undone_by: r.undone_by,
            undoable_until: r.undoable_until.into(),
            moved: MergeMoved {
                conversations: count(r.moved.conversations),
                messages: count(r.moved.messages),
                tickets: count(r.moved.tickets),
                tags: r.moved.tags,
                phones: r.moved.phones,
                custom_fields: r.moved.custom_fields,
                filled: r.moved.filled,
            },
            kept_values: r
                .kept_values
                .into_iter()
                .map(|k| MergeKeptValue {
                    customer_id: ID(k.customer_id.to_string()),
                    field: k.field,
                    value: Json(k.value),
                })
                .collect(),
        }
    }
}

impl From<merges::Merged> for MergeResult {
    fn from(m: merges::Merged) -> Self {
        MergeResult {
            merge: m.record.into(),
            primary: Customer::one(m.primary),
            restored: Customer::list(m.restored),
        }
    }
}

/// Reads of duplicates and merges.
#[derive(Default)]
pub struct MergeQuery;

/// Reads of duplicates and merges.
#[Object]
impl MergeQuery {
    /// Groups of the tenant's customers that are probably one person (customers in the trash left out), most certain first, each with its reasons and a confidence. Found by grouping keys in the database, never by comparing pairs.
    #[graphql(complexity = "super::types::list_cost(first, 20, child_complexity)")]
    async fn customer_duplicates(
        &self,
        cx: &Context<'_>,
        #[graphql(default = 20, desc = "Groups to return, 0 to 100.")] first: Option<i32>,
        #[graphql(desc = "Take groups after this cursor (an edge's `cursor`).")] after: Option<
            String,
        >,
        #[graphql(
            default = 0.0,
            desc = "Only groups at least this sure, 0 to 1."
        )]
        min_confidence: Option<f64>,
    ) -> async_graphql::Result<DuplicateGroupConnection> {
        let (ctx, actor) = caller(cx)?;
        let query = duplicates::DuplicateQuery {
            first: Some(i64::from(first.unwrap_or(20))),
            after,
            min_confidence: min_confidence.unwrap_or(0.0),
        };
        let page = duplicates::find(ctx, actor, &query).await.gql()?;
        let mut customers = Vec::new();
        let mut shapes = Vec::new();
        for g in page.groups {
            shapes.push((g.cursor, g.confidence, g.customers.len(), g.reasons));
            customers.extend(g.customers);
        }
        // One list, so the nested fields of every group's customers batch together.
        let mut all = Customer::list(customers).into_iter();
        let mut edges = Vec::new();
        let mut nodes = Vec::new();
        for (cursor, confidence, n, reasons) in shapes {
            let members: Vec<Customer> = all.by_ref().take(n).collect();
            let reasons = || {
                reasons
                    .iter()
                    .map(|r| DuplicateReason {
                        kind: r.kind.into(),
                        value: r.value.clone(),
                        customer_ids: ids(&r.customer_ids),
                    })
                    .collect()
            };
            nodes.push(DuplicateGroup {
                confidence,
                customers: members.to_vec(),
                reasons: reasons(),
            });
            edges.push(DuplicateGroupEdge {
                cursor,
                node: DuplicateGroup {
                    confidence,
                    customers: members,
                    reasons: reasons(),
                },
            });
        }
        let page_info = PageInfo {
            has_next_page: page.has_next_page,
            has_previous_page: query.after.is_some(),
            start_cursor: edges.first().map(|e| e.cursor.clone()),
            end_cursor: edges.last().map(|e| e.cursor.clone()),
        };
        Ok(DuplicateGroupConnection {
            edges,
            nodes,
            page_info,
            total_count: i32::try_from(page.total_count).unwrap_or(i32::MAX),
        })
    }

    /// A merge of customers by id (ADMIN: it keeps the merged customers' data); null for an unknown id or another tenant's.
    async fn customer_merge(
        &self,
        cx: &Context<'_>,
        #[graphql(desc = "The merge's id.")] id: ID,
    ) -> async_graphql::Result<Option<CustomerMerge>> {
        let (ctx, actor) = caller(cx)?;
        let Ok(id) = id.parse::<MergeId>() else {
            return Ok(None);
        };
        match merges::get(ctx, actor, id).await {
            Ok(record) => Ok(Some(record.into())),
            Err(crate::error::Error::NotFound(_)) => Ok(None),
            Err(e) => Err(e).gql(),
        }
    }
}

/// Merges of duplicate customers and their undoing.
#[derive(Default)]
pub struct MergeMutation;

/// Merges of duplicate customers and their undoing.
#[Object]
impl MergeMutation {
    /// Needs ADMIN. Merges the other customers into the primary in one transaction: their conversations, messages and tickets move to it; it gains their tags, numbers (as alternative numbers) and the custom fields it lacks (its own values win; the others' are kept in the merge record), and their email and external id when it has none; its statistics are recomputed. The others are removed (until an undo). Blocked customers and customers in the trash cannot be merged into another (a blocked one may be the primary).
    async fn merge_customers(
        &self,
        cx: &Context<'_>,
        #[graphql(desc = "The customer to keep.")] primary_id: ID,
        #[graphql(desc = "The customers to merge into it: 1 to 20, each once, not the primary.")]
        other_ids: Vec<ID>,
    ) -> async_graphql::Result<MergeResult> {
        let (ctx, actor) = caller(cx)?;
        let primary = primary_id.parse::<CustomerId>().gql()?;
        let others = other_ids
            .iter()
            .map(|id| id.parse::<CustomerId>())
            .collect::<Result<Vec<_>, _>>()
            .gql()?;
        Ok(merges::merge(ctx, actor, primary, others)
            .await
            .gql()?
            .into())
    }

    /// Needs ADMIN. Undoes a merge within 30 days: each merged customer comes back with its own fields, tags, numbers, conversations, messages and tickets and its statistics recomputed; the primary loses what the merge gave it. Conversations and tickets created on the primary since stay with it. CONFLICT when already undone, too old, or when undoing would overwrite a later change (the message says which).
    async fn unmerge_customers(
        &self,
        cx: &Context<'_>,
        #[graphql(desc = "The merge's id (`CustomerMerge.id`).")] merge_id: ID,
    ) -> async_graphql::Result<MergeResult> {
        let (ctx, actor) = caller(cx)?;
        let id = merge_id.parse::<MergeId>().gql()?;
        Ok(merges::unmerge(ctx, actor, id).await.gql()?.into())
    }
}
