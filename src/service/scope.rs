//! Tenant-scoped starting points: every query of a tenant's rows (customers,
//! their phone and tag rows and counters, conversations, messages, tickets,
//! agents, history, import jobs and their errors, idempotency keys) begins
//! here, so another tenant's id is NOT_FOUND by construction and no other
//! module writes a tenant filter by hand.
//!
//! Each `*_in(tenant)` function takes the tenant as a string, for the
//! operator tools that run without a caller (recount, seed); the others take
//! the caller. Deletes and updates take the tenant of the rows they change.
//! Imports only `entity` and `auth`: no other `service` module.

use entity::{
    agent, conversation, customer, customer_change, customer_count, customer_phone, customer_tag,
    erasure, idempotency_key, import_error, import_job, merge_record, message, ticket,
};
use sea_orm::{ColumnTrait, DeleteMany, EntityTrait, QueryFilter, Select, UpdateMany};

use crate::auth::Actor;

/// Defines a table's starting points, each filtered by `tenant_id` and
/// documented after `$what` (the rows in words): `select` (the caller's
/// rows), `select_in` (a tenant's, by name), `update` and `delete` (bulk
/// writes of a tenant's rows); a table gets only those it is used with.
macro_rules! scoped {
    ($entity:ident, $what:literal {
        $(select: $select:ident,)?
        $(select_in: $select_in:ident,)?
        $(update: $update:ident,)?
        $(delete: $delete:ident,)?
    }) => {
        $(
            #[doc = concat!("The caller's tenant's ", $what, ".")]
            pub fn $select(actor: &Actor) -> Select<$entity::Entity> {
                $entity::Entity::find().filter($entity::Column::TenantId.eq(actor.tenant.as_str()))
            }
        )?
        $(
            #[doc = concat!("A tenant's ", $what, ".")]
            pub fn $select_in(tenant: &str) -> Select<$entity::Entity> {
                $entity::Entity::find().filter($entity::Column::TenantId.eq(tenant))
            }
        )?
        $(
            #[doc = concat!("Updates of a tenant's ", $what, ".")]
            pub fn $update(tenant: &str) -> UpdateMany<$entity::Entity> {
                $entity::Entity::update_many().filter($entity::Column::TenantId.eq(tenant))
            }
        )?
        $(
            #[doc = concat!("Deletes of a tenant's ", $what, ".")]
            pub fn $delete(tenant: &str) -> DeleteMany<$entity::Entity> {
                $entity::Entity::delete_many().filter($entity::Column::TenantId.eq(tenant))
            }
        )?
    };
}

scoped!(customer, "customers" {
    select: customers,
    select_in: customers_in,
    delete: delete_customers,
});
scoped!(customer_count, "customer counters" {
    select: counts,
    select_in: counts_in,
    delete: delete_counts,
});
scoped!(customer_phone, "phone rows (every number a customer answers to)" {
    select: phones,
    select_in: phones_in,
    delete: delete_phones,
});
scoped!(customer_tag, "tag rows" {
    select: tags,
    select_in: tags_in,
    delete: delete_tags,
});
scoped!(conversation, "conversations" {
    select: conversations,
    select_in: conversations_in,
    update: update_conversations,
    delete: delete_conversations,
});
scoped!(message, "messages" {
    select: messages,
    select_in: messages_in,
    update: update_messages,
    delete: delete_messages,
});
scoped!(ticket, "tickets" {
    select: tickets,
    select_in: tickets_in,
    update: update_tickets,
    delete: delete_tickets,
});
scoped!(customer_change, "change history" {
    select: changes,
    update: update_changes,
});
scoped!(erasure, "erasure receipts" {
    select: erasures,
});
scoped!(merge_record, "merge records" {
    select: merges,
});
scoped!(agent, "agents" {
    select: agents,
});
scoped!(import_job, "import jobs" {
    select: import_jobs,
    update: update_import_jobs,
});
scoped!(import_error, "import jobs' error lines" {
    select: import_errors,
});
scoped!(idempotency_key, "idempotency keys" {
    select: idempotency_keys,
    delete: delete_idempotency_keys,
});
