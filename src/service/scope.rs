//! Tenant-scoped starting points: every query of a tenant's rows (customers,
//! their phone and tag rows and counters, conversations, messages, tickets,
//! agents) begins
//! here, so another tenant's id is NOT_FOUND by construction and no other
//! module writes a tenant filter by hand.
//!
//! Each `*_in(tenant)` function takes the tenant as a string, for the
//! operator tools that run without a caller (recount, seed); the actor
//! versions call them. Deletes and updates take the tenant of the row they
//! change. Imports only `entity` and `auth`: no other `service` module.

use entity::{
    agent, conversation, customer, customer_change, customer_count, customer_phone, customer_tag,
    erasure, merge_record, message, ticket,
};
use sea_orm::{ColumnTrait, DeleteMany, EntityTrait, QueryFilter, Select, UpdateMany};

use crate::auth::Actor;

/// The caller's tenant's customers.
pub fn customers(actor: &Actor) -> Select<customer::Entity> {
    customers_in(&actor.tenant)
}

/// A tenant's customers.
pub fn customers_in(tenant: &str) -> Select<customer::Entity> {
    customer::Entity::find().filter(customer::Column::TenantId.eq(tenant))
}

/// Deletes of a tenant's customers.
pub fn delete_customers(tenant: &str) -> DeleteMany<customer::Entity> {
    customer::Entity::delete_many().filter(customer::Column::TenantId.eq(tenant))
}

/// The caller's tenant's customer counters.
pub fn counts(actor: &Actor) -> Select<customer_count::Entity> {
    counts_in(&actor.tenant)
}

/// A tenant's customer counters.
pub fn counts_in(tenant: &str) -> Select<customer_count::Entity> {
    customer_count::Entity::find().filter(customer_count::Column::TenantId.eq(tenant))
}

/// Deletes of a tenant's customer counters.
pub fn delete_counts(tenant: &str) -> DeleteMany<customer_count::Entity> {
    customer_count::Entity::delete_many().filter(customer_count::Column::TenantId.eq(tenant))
}

/// The caller's tenant's phone rows (every number a customer answers to).
pub fn phones(actor: &Actor) -> Select<customer_phone::Entity> {
    phones_in(&actor.tenant)
}

/// A tenant's phone rows.
pub fn phones_in(tenant: &str) -> Select<customer_phone::Entity> {
    customer_phone::Entity::find().filter(customer_phone::Column::TenantId.eq(tenant))
}

/// Deletes of a tenant's phone rows.
pub fn delete_phones(tenant: &str) -> DeleteMany<customer_phone::Entity> {
    customer_phone::Entity::delete_many().filter(customer_phone::Column::TenantId.eq(tenant))
}

/// The caller's tenant's tag rows.
pub fn tags(actor: &Actor) -> Select<customer_tag::Entity> {
    tags_in(&actor.tenant)
}

/// A tenant's tag rows.
pub fn tags_in(tenant: &str) -> Select<customer_tag::Entity> {
    customer_tag::Entity::find().filter(customer_tag::Column::TenantId.eq(tenant))
}

/// Deletes of a tenant's tag rows.
pub fn delete_tags(tenant: &str) -> DeleteMany<customer_tag::Entity> {
    customer_tag::Entity::delete_many().filter(customer_tag::Column::TenantId.eq(tenant))
}

/// The caller's tenant's conversations.
pub fn conversations(actor: &Actor) -> Select<conversation::Entity> {
    conversations_in(&actor.tenant)
}

/// A tenant's conversations.
pub fn conversations_in(tenant: &str) -> Select<conversation::Entity> {
    conversation::Entity::find().filter(conversation::Column::TenantId.eq(tenant))
}

/// Updates of a tenant's conversations.
pub fn update_conversations(tenant: &str) -> UpdateMany<conversation::Entity> {
    conversation::Entity::update_many().filter(conversation::Column::TenantId.eq(tenant))
}

/// Deletes of a tenant's conversations.
pub fn delete_conversations(tenant: &str) -> DeleteMany<conversation::Entity> {
    conversation::Entity::delete_many().filter(conversation::Column::TenantId.eq(tenant))
}

/// The caller's tenant's messages.
pub fn messages(actor: &Actor) -> Select<message::Entity> {
    messages_in(&actor.tenant)
}

/// A tenant's messages.
pub fn messages_in(tenant: &str) -> Select<message::Entity> {
    message::Entity::find().filter(message::Column::TenantId.eq(tenant))
}

/// Updates of a tenant's messages.
pub fn update_messages(tenant: &str) -> UpdateMany<message::Entity> {
    message::Entity::update_many().filter(message::Column::TenantId.eq(tenant))
}

/// Deletes of a tenant's messages.
pub fn delete_messages(tenant: &str) -> DeleteMany<message::Entity> {
    message::Entity::delete_many().filter(message::Column::TenantId.eq(tenant))
}

/// The caller's tenant's tickets.
pub fn tickets(actor: &Actor) -> Select<ticket::Entity> {
    tickets_in(&actor.tenant)
}

/// A tenant's tickets.
pub fn tickets_in(tenant: &str) -> Select<ticket::Entity> {
    ticket::Entity::find().filter(ticket::Column::TenantId.eq(tenant))
}

/// Updates of a tenant's tickets.
pub fn update_tickets(tenant: &str) -> UpdateMany<ticket::Entity> {
    ticket::Entity::update_many().filter(ticket::Column::TenantId.eq(tenant))
}

/// Deletes of a tenant's tickets.
pub fn delete_tickets(tenant: &str) -> DeleteMany<ticket::Entity> {
    ticket::Entity::delete_many().filter(ticket::Column::TenantId.eq(tenant))
}

/// The caller's tenant's change history.
pub fn changes(actor: &Actor) -> Select<customer_change::Entity> {
    customer_change::Entity::find()
        .filter(customer_change::Column::TenantId.eq(actor.tenant.as_str()))
}

/// Updates of a tenant's change history.
pub fn update_changes(tenant: &str) -> UpdateMany<customer_change::Entity> {
    customer_change::Entity::update_many().filter(customer_change::Column::TenantId.eq(tenant))
}

/// The caller's tenant's erasure receipts.
pub fn erasures(actor: &Actor) -> Select<erasure::Entity> {
    erasure::Entity::find().filter(erasure::Column::TenantId.eq(actor.tenant.as_str()))
}

/// The caller's tenant's merge records.
pub fn merges(actor: &Actor) -> Select<merge_record::Entity> {
    merge_record::Entity::find().filter(merge_record::Column::TenantId.eq(actor.tenant.as_str()))
}

/// The caller's tenant's agents.
pub fn agents(actor: &Actor) -> Select<agent::Entity> {
    agent::Entity::find().filter(agent::Column::TenantId.eq(actor.tenant.as_str()))
}
