//! Agents of a tenant: reading them.

use entity::agent;
use sea_orm::{ColumnTrait, QueryFilter};
use uuid::Uuid;

use super::{scope, Ctx};
use crate::auth::Actor;
use crate::error::Result;

/// An agent as both faces show it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Agent {
    pub id: Uuid,
    pub name: String,
    pub email: Option<String>,
}

impl From<agent::Model> for Agent {
    fn from(m: agent::Model) -> Self {
        Agent {
            id: m.id,
            name: m.name,
            email: m.email,
        }
    }
}

/// The agent with this id in the caller's tenant, or none.
pub async fn find(ctx: &Ctx, actor: &Actor, id: Uuid) -> Result<Option<Agent>> {
    Ok(scope::agents(actor)
        .filter(agent::Column::Id.eq(id))
        .one(&ctx.db)
        .await?
        .map(Agent::from))
}
