//! The first answer to a request sent with an `Idempotency-Key` header, per
//! tenant and key, kept 24 hours so a retry gets it again without a second
//! write.

use sea_orm::entity::prelude::*;

/// A row of `idempotency_keys`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "idempotency_keys")]
pub struct Model {
    /// The tenant that sent the key (keys are per tenant).
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: String,
    /// The key as the client sent it.
    #[sea_orm(primary_key, auto_increment = false)]
    pub key: String,
    /// SHA-256 (hex) of the route and body the key was first used with.
    pub request_hash: String,
    /// The first answer's HTTP status; NULL while that request still runs.
    pub status: Option<i32>,
    /// The first answer's body.
    pub response: Option<String>,
    /// When the key was first used.
    pub created_at: DateTimeUtc,
    /// When the key may be forgotten.
    pub expires_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
