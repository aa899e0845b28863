//! Agents of a tenant.

use entity::agent;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder, Set,
};
use uuid::Uuid;

use super::input::text_input;
use super::{scope, Ctx};
use crate::auth::Actor;
use crate::domain::ids::AgentId;
use crate::domain::time;
use crate::error::{Error, Result};

/// An agent as both faces show it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Agent {
    pub id: AgentId,
    pub name: String,
    pub email: Option<String>,
}

impl From<agent::Model> for Agent {
    fn from(m: agent::Model) -> Self {
        Agent {
            id: m.id.into(),
            name: m.name,
            email: m.email,
        }
    }
}

/// The agent with this id in the caller's tenant, or none.
#[tracing::instrument(skip_all, fields(tenant.id = %actor.tenant), err(level = "debug"))]
pub async fn find(ctx: &Ctx, actor: &Actor, id: AgentId) -> Result<Option<Agent>> {
    Ok(scope::agents(actor)
        .filter(agent::Column::Id.eq(id))
        .one(&ctx.db)
        .await?
        .map(Agent::from))
}

/// Agents by id, for batching; unknown and foreign ids are absent.
#[tracing::instrument(skip_all, fields(tenant.id = %actor.tenant), err(level = "debug"))]
pub async fn by_ids(ctx: &Ctx, actor: &Actor, ids: &[AgentId]) -> Result<Vec<Agent>> {
    let rows = scope::agents(actor)
        .filter(agent::Column::Id.is_in(ids.iter().copied()))
        .all(&ctx.db)
        .await?;
    Ok(rows.into_iter().map(Agent::from).collect())
}

/// Every agent of the caller's tenant, by name.
#[tracing::instrument(skip_all, fields(tenant.id = %actor.tenant), err(level = "debug"))]
pub async fn list(ctx: &Ctx, actor: &Actor) -> Result<Vec<Agent>> {
    let rows = scope::agents(actor)
        .order_by_asc(agent::Column::Name)
        .order_by_asc(agent::Column::Id)
        .all(&ctx.db)
        .await?;
    Ok(rows.into_iter().map(Agent::from).collect())
}

/// An agent to create (no id) or update (with id).
#[derive(Debug, Clone, Default)]
pub struct AgentInput {
    pub id: Option<AgentId>,
    pub name: String,
    pub email: Option<String>,
}

const MAX_NAME_CHARS: usize = 200;

/// Creates or updates an agent (ADMIN).
#[tracing::instrument(skip_all, fields(tenant.id = %actor.tenant))]
pub async fn upsert(ctx: &Ctx, actor: &Actor, input: AgentInput) -> Result<Agent> {
    actor.require_admin()?;
    let name = text_input("name", Some(input.name), MAX_NAME_CHARS, true)?.unwrap_or_default();
    let email = text_input("email", input.email, 254, false)?.map(|e| e.to_lowercase());
    if email.as_deref().is_some_and(|e| !e.contains('@')) {
        return Err(Error::invalid("email", "must be an email address"));
    }
    let now = time::now();
    let txn = ctx.write().await?;
    let saved = match input.id {
        Some(id) => {
            let current = scope::agents(actor)
                .filter(agent::Column::Id.eq(id))
                .one(&*txn)
                .await?;
            let mut active = current.ok_or(Error::NotFound("agent"))?.into_active_model();
            active.name = Set(name);
            active.email = Set(email);
            active.updated_at = Set(now);
            active.update(&*txn).await?
        }
        None => {
            let model = agent::Model {
                id: Uuid::now_v7(),
                tenant_id: actor.tenant.clone(),
                name,
                email,
                created_at: now,
                updated_at: now,
            };
            agent::Entity::insert(model.clone().into_active_model())
                .exec_without_returning(&*txn)
                .await?;
            model
        }
    };
    txn.commit().await?;
    Ok(saved.into())
}
