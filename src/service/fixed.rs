//! Reads whose SQL has one shape whatever the request (a customer by id,
//! a customer's newest conversations): sea-query builds their text once per
//! backend, and each call only binds its values. Building a statement of
//! thirty-odd quoted columns took about a tenth of the server's CPU on the
//! detail route (`perf`, both faces), and it is the same text every time.
//!
//! Imports only `sea_orm` and [`plans`].

use std::mem::{discriminant, Discriminant};
use std::sync::OnceLock;

use sea_orm::{
    DbBackend, EntityTrait, QueryTrait, Select, SelectModel, SelectorRaw, Statement, Value,
};

use super::plans;

/// A statement of a fixed shape: `shape` builds it with placeholder values
/// (any values of the right types, in the order the statement binds them).
pub struct Fixed<E: EntityTrait> {
    shape: fn() -> Select<E>,
    /// SQL text and bound value types, for PostgreSQL and for SQLite.
    built: [OnceLock<(String, Vec<Discriminant<Value>>)>; 2],
}

impl<E: EntityTrait> Fixed<E> {
    pub const fn new(shape: fn() -> Select<E>) -> Self {
        Fixed {
            shape,
            built: [OnceLock::new(), OnceLock::new()],
        }
    }

    /// The statement for `backend` with `values` bound in the shape's order.
    pub fn statement<const N: usize>(&self, backend: DbBackend, values: [Value; N]) -> Statement {
        let slot = match backend {
            DbBackend::Postgres => &self.built[0],
            _ => &self.built[1],
        };
        let (sql, kinds) = slot.get_or_init(|| {
            let built = (self.shape)().build(backend);
            let kinds = built
                .values
                .map(|v| v.0.iter().map(discriminant).collect())
                .unwrap_or_default();
            (built.sql, kinds)
        });
        debug_assert!(
            kinds.len() == N
                && kinds
                    .iter()
                    .zip(&values)
                    .all(|(k, v)| *k == discriminant(v)),
            "values bound in the shape's order and types: {sql}"
        );
        Statement::from_sql_and_values(backend, sql.as_str(), values)
    }

    /// The rows `values` select, as models. A fixed statement reads by key,
    /// so its best plan is the same whatever the values: its `LIMIT` is
    /// written into the text, and PostgreSQL plans it once ([`plans`]).
    pub fn select<const N: usize>(
        &self,
        backend: DbBackend,
        values: [Value; N],
    ) -> SelectorRaw<SelectModel<E::Model>> {
        // Not `E::find().from_raw_sql(..)`: that builds a whole select of
        // every column only to drop it.
        let stmt = plans::limits_inline(self.statement(backend, values));
        SelectorRaw::<SelectModel<E::Model>>::from_statement(stmt)
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
