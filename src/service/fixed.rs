//! Reads whose SQL has one shape whatever the request (a customer by id):
//! sea-query builds their text once per backend, and each call only binds
//! its values. Building a statement of
//! thirty-odd quoted columns took about a tenth of the server's CPU on the
//! detail route (`perf`, both faces), and it is the same text every time.
//!
//! Imports only `sea_orm`, [`plans`] and [`rows`](super::rows) (rows read by position).

use std::mem::{discriminant, Discriminant};
use std::sync::OnceLock;

use sea_orm::{
    ConnectionTrait, DbBackend, DbErr, EntityTrait, QueryTrait, Select, SelectModel, SelectorRaw,
    Statement, Value,
};

use super::plans;
use super::rows::{ByPosition, Fast};

/// A statement of a fixed shape: `shape` builds it with placeholder values
/// (any values of the right types, in the order the statement binds them).
pub struct Fixed<E: EntityTrait> {
    shape: fn() -> Select<E>,
    /// SQL text and bound value types, for PostgreSQL and for SQLite.
    built: [OnceLock<Built>; 2],
}

/// A shape's statement as sea-query builds it for one backend.
struct Built {
    sql: String,
    /// The types of its values, in the order they are bound.
    kinds: Vec<Discriminant<Value>>,
    /// Where its text takes a limit or an offset ([`plans`]).
    slots: plans::Slots,
}

impl<E: EntityTrait> Fixed<E> {
    pub const fn new(shape: fn() -> Select<E>) -> Self {
        Fixed {
            shape,
            built: [OnceLock::new(), OnceLock::new()],
        }
    }

    /// The statement for `backend` with `values` bound in the shape's order.
    #[cfg(test)]
    fn statement<const N: usize>(&self, backend: DbBackend, values: [Value; N]) -> Statement {
        self.bound(backend, values).0
    }

    /// The statement for `backend` with `values` bound in the shape's order,
    /// and where its text takes a limit or an offset.
    fn bound<const N: usize>(
        &self,
        backend: DbBackend,
        values: [Value; N],
    ) -> (Statement, &plans::Slots) {
        let slot = match backend {
            DbBackend::Postgres => &self.built[0],
            _ => &self.built[1],
        };
        let built = slot.get_or_init(|| {
            let built = (self.shape)().build(backend);
            let kinds = built
                .values
                .map(|v| v.0.iter().map(discriminant).collect())
                .unwrap_or_default();
            Built {
                slots: plans::Slots::of(&built.sql),
                sql: built.sql,
                kinds,
            }
        });
        debug_assert!(
            built.kinds.len() == N
                && built
                    .kinds
                    .iter()
                    .zip(&values)
                    .all(|(k, v)| *k == discriminant(v)),
            "values bound in the shape's order and types: {}",
            built.sql
        );
        let stmt = Statement::from_sql_and_values(backend, built.sql.as_str(), values);
        (stmt, &built.slots)
    }

    /// The first row `values` select, as a model. A fixed statement reads
    /// by key, so its best plan is the same whatever the values: its `LIMIT`
    /// is written into the text, and PostgreSQL plans it once ([`plans`]).
    /// Where the text takes its limit is found when the text is built, not
    /// on every call. The row is read by position ([`rows`](super::rows)).
    pub async fn one<C: ConnectionTrait, const N: usize>(
        &self,
        db: &C,
        values: [Value; N],
    ) -> Result<Option<E::Model>, DbErr>
    where
        E::Model: ByPosition,
    {
        Ok(self.select(db, values).one(db).await?.map(|Fast(m)| m))
    }

    fn select<C: ConnectionTrait, const N: usize>(
        &self,
        db: &C,
        values: [Value; N],
    ) -> SelectorRaw<SelectModel<Fast<E::Model>>>
    where
        E::Model: ByPosition,
    {
        // Not `E::find().from_raw_sql(..)`: that builds a whole select of
        // every column only to drop it.
        let (stmt, slots) = self.bound(db.get_database_backend(), values);
        SelectorRaw::<SelectModel<Fast<E::Model>>>::from_statement(slots.inline(stmt))
    }

    /// Asserts that the statement bound with `values` is, on both backends,
    /// the one `built` makes with sea-query for the same values.
    #[cfg(test)]
    pub fn assert_builds_as<const N: usize>(
        &self,
        values: [Value; N],
        built: impl Fn(DbBackend) -> Statement,
    ) {
        for backend in [DbBackend::Postgres, DbBackend::Sqlite] {
            assert_eq!(self.statement(backend, values.clone()), built(backend));
        }
    }
}
