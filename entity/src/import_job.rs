//! An import running in the background: its status, what it was asked to
//! do, and its counts, which each batch updates in its own transaction.

use sea_orm::entity::prelude::*;
use sea_orm::sea_query::{ArrayType, ColumnType, StringLen, ValueType, ValueTypeErr};
use sea_orm::{ColIdx, QueryResult, TryGetError, TryGetable};

use crate::enums::{ImportFormat, ImportJobStatus, ImportMode, MatchKey};

/// A row of `import_jobs`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "import_jobs")]
pub struct Model {
    /// Leads the key: a job's error lines refer to (tenant_id, id).
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Who started it (the token's `sub`).
    pub agent: String,
    pub status: ImportJobStatus,
    pub mode: ImportMode,
    /// The match keys, in the order preferred.
    pub match_on: MatchKeys,
    pub dry_run: bool,
    pub format: ImportFormat,
    /// Size of the uploaded body.
    pub bytes_total: i64,
    /// Bytes of the body processed so far (progress).
    pub bytes_read: i64,
    pub rows_read: i64,
    pub created: i64,
    pub updated: i64,
    pub unchanged: i64,
    pub duplicate: i64,
    pub failed: i64,
    /// Why the job failed, when it did.
    pub error: Option<String>,
    /// Set by a cancel; the runner stops before its next batch.
    pub cancel_requested: bool,
    pub created_at: DateTimeUtc,
    pub started_at: Option<DateTimeUtc>,
    pub finished_at: Option<DateTimeUtc>,
    pub updated_at: DateTimeUtc,
    /// The server process running the job (its random id per process); only
    /// it can run the job, whose upload is on its disk.
    pub owner: Option<String>,
    /// When the owner last said it still runs the job; older than the lease
    /// (or NULL) while queued or running, the job is failed by recovery.
    pub heartbeat_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// A job's match keys in the order preferred, stored as the column always
/// held them: their names comma-separated (`phone,email,externalId`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MatchKeys(pub Vec<MatchKey>);

impl MatchKeys {
    /// The stored text: the names, comma-separated.
    pub fn to_text(&self) -> String {
        self.0
            .iter()
            .map(|k| k.as_str())
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Reads the stored text; `None` when a name is not a key.
    pub fn from_text(text: &str) -> Option<MatchKeys> {
        text.split(',')
            .filter(|s| !s.is_empty())
            .map(MatchKey::parse)
            .collect::<Option<Vec<_>>>()
            .map(MatchKeys)
    }
}

impl From<MatchKeys> for Value {
    fn from(keys: MatchKeys) -> Value {
        keys.to_text().into()
    }
}

impl TryGetable for MatchKeys {
    fn try_get_by<I: ColIdx>(res: &QueryResult, idx: I) -> Result<Self, TryGetError> {
        let text = String::try_get_by(res, idx)?;
        MatchKeys::from_text(&text)
            .ok_or_else(|| TryGetError::DbErr(DbErr::Type(format!("not match keys: {text:?}"))))
    }
}

impl ValueType for MatchKeys {
    fn try_from(v: Value) -> Result<Self, ValueTypeErr> {
        let text = <String as ValueType>::try_from(v)?;
        MatchKeys::from_text(&text).ok_or(ValueTypeErr)
    }

    fn type_name() -> String {
        "MatchKeys".to_owned()
    }

    fn array_type() -> ArrayType {
        ArrayType::String
    }

    fn column_type() -> ColumnType {
        ColumnType::String(StringLen::None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn match_keys_are_stored_comma_separated_as_before() {
        let keys = MatchKeys(vec![MatchKey::ExternalId, MatchKey::Phone]);
        assert_eq!(Value::from(keys.clone()), Value::from("externalId,phone"));
        assert_eq!(
            <MatchKeys as ValueType>::try_from(Value::from("externalId,phone")).ok(),
            Some(keys)
        );
        assert_eq!(MatchKeys::from_text(""), Some(MatchKeys::default()));
        assert_eq!(MatchKeys::from_text("phone,fax"), None);
    }
}
