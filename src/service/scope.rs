//! Tenant-scoped starting points: every read of a tenant's rows begins here,
//! so another tenant's id is NOT_FOUND by construction.

use entity::{agent, conversation, customer};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, Select};

use crate::auth::Actor;

/// The caller's tenant's customers.
pub fn customers(actor: &Actor) -> Select<customer::Entity> {
    customer::Entity::find().filter(customer::Column::TenantId.eq(actor.tenant.as_str()))
}

/// The caller's tenant's conversations.
pub fn conversations(actor: &Actor) -> Select<conversation::Entity> {
    conversation::Entity::find().filter(conversation::Column::TenantId.eq(actor.tenant.as_str()))
}

/// The caller's tenant's agents.
pub fn agents(actor: &Actor) -> Select<agent::Entity> {
    agent::Entity::find().filter(agent::Column::TenantId.eq(actor.tenant.as_str()))
}
