//! Statements whose text is decided by their request's shape, not its values.
//!
//! A list's statement is built by sea-query from its request: which filters
//! it has, how many tags and search words, its order, columns and page. Two
//! requests of the same shape differ only in the values they bind (tenant,
//! status, tags, search patterns, limit, offset), yet building the text
//! again, only to get the same text, cost about a third of a REST list's
//! instructions (`callgrind`, a phone fragment's page: 160,000 of 463,000;
//! `bench/RESULTS.md`, session 19). [`Shapes`] keeps, for each shape, the
//! text sea-query built the first time and which of the request's values
//! (its inputs) each bound value was; a later request of that shape binds
//! its own inputs in their places, and nothing is built.
//!
//! Which input a bound value was is found by looking for it among the
//! inputs. A statement is kept only when every value it binds equals
//! exactly one input: when two inputs are equal (a tag spelled like the
//! status, a limit equal to the offset) the places cannot be told apart,
//! and a value that is no input would be a constant the next request of the
//! shape does not share. Such a statement is used as built and not kept;
//! once another request of its shape has been kept, it is bound like any
//! other (page 2 of 20 binds 20 twice, in the places page 3 showed).
//!
//! The shape (the cache's key) must decide everything sea-query writes but
//! the inputs. Debug builds check it at every use: they build the statement
//! anew and compare, so every test of the API that lists customers proves
//! the shape of what it asked.
//!
//! Imports only `sea_orm` and [`plans`].

use std::hash::Hash;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};

use sea_orm::{DbBackend, Statement, Value, Values};

use super::plans;

/// Built statements by shape `K`, at most a given number of shapes, least
/// recently used dropped first.
pub struct Shapes<K: Hash + Eq> {
    kept: Mutex<lru::LruCache<K, Arc<Template>>>,
}

/// A shape's statement: its text, and which input each value it binds is.
struct Template {
    backend: DbBackend,
    sql: String,
    /// For each value bound, in order, the index of its input.
    inputs: Vec<usize>,
    /// Where its text takes a limit or an offset ([`plans`]).
    slots: plans::Slots,
}

impl<K: Hash + Eq> Shapes<K> {
    /// At most `capacity` shapes kept.
    pub fn new(capacity: NonZeroUsize) -> Self {
        Self {
            kept: Mutex::new(lru::LruCache::new(capacity)),
        }
    }

    fn kept(&self) -> std::sync::MutexGuard<'_, lru::LruCache<K, Arc<Template>>> {
        // The cache holds no invariant a panicking holder could break.
        self.kept.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The statement of shape `shape` with `inputs` bound: what `build`
    /// makes of them, built only when the shape is not kept. With
    /// `plan_once`, its limit and offset are written into its text
    /// ([`plans::limits_inline`]).
    pub fn statement(
        &self,
        shape: K,
        inputs: &[Value],
        plan_once: bool,
        build: impl FnOnce() -> Statement,
    ) -> Statement {
        let template = self.kept().get(&shape).cloned();
        match template {
            Some(template) => {
                let stmt = template.bind(inputs);
                #[cfg(debug_assertions)]
                assert_eq!(stmt, build(), "a shape's statement as built");
                template.planned(stmt, plan_once)
            }
            None => {
                let stmt = build();
                match Template::of(&stmt, inputs) {
                    Some(template) => {
                        let stmt = template.planned(stmt, plan_once);
                        self.kept().put(shape, Arc::new(template));
                        stmt
                    }
                    None if plan_once => plans::limits_inline(stmt),
                    None => stmt,
                }
            }
        }
    }

    /// How many shapes are kept.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.kept().len()
    }

    /// Whether `shape` is kept.
    #[cfg(test)]
    pub fn is_kept(&self, shape: &K) -> bool {
        self.kept().contains(shape)
    }
}

impl Template {
    /// `stmt`'s template, if each value it binds is exactly one of `inputs`.
    fn of(stmt: &Statement, inputs: &[Value]) -> Option<Template> {
        let distinct = inputs
            .iter()
            .enumerate()
            .all(|(i, a)| inputs[..i].iter().all(|b| a != b));
        if !distinct {
            return None;
        }
        let bound = stmt.values.as_ref().map_or(&[][..], |v| &v.0);
        let places = bound
            .iter()
            .map(|v| inputs.iter().position(|input| input == v))
            .collect::<Option<Vec<usize>>>()?;
        Some(Template {
            backend: stmt.db_backend,
            slots: plans::Slots::of(&stmt.sql),
            sql: stmt.sql.clone(),
            inputs: places,
        })
    }

    /// The statement with `inputs` in their places.
    fn bind(&self, inputs: &[Value]) -> Statement {
        let values = self
            .inputs
            .iter()
            .map(|&i| inputs.get(i).cloned().unwrap_or(Value::Int(None)))
            .collect();
        Statement {
            sql: self.sql.clone(),
            values: Some(Values(values)),
            db_backend: self.backend,
        }
    }

    fn planned(&self, stmt: Statement, plan_once: bool) -> Statement {
        if plan_once {
            self.slots.inline(stmt)
        } else {
            stmt
        }
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use entity::customer;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect, QueryTrait};

    use super::*;

    /// A page of a tenant's customers with `tags` as sea-query builds it.
    fn page(backend: DbBackend, tenant: &str, tags: &[&str], limit: u64, offset: u64) -> Statement {
        let mut q = customer::Entity::find().filter(customer::Column::TenantId.eq(tenant));
        if !tags.is_empty() {
            q = q.filter(customer::Column::FirstName.is_in(tags.iter().copied()));
        }
        q.limit(limit).offset(offset).build(backend)
    }

    fn inputs(tenant: &str, tags: &[&str], limit: u64, offset: u64) -> Vec<Value> {
        let mut v: Vec<Value> = vec![tenant.into()];
        v.extend(tags.iter().map(|&t| Value::from(t)));
        v.extend([limit.into(), offset.into()]);
        v
    }

    #[test]
    fn a_shape_is_built_once_and_its_inputs_bound_in_their_places() {
        let shapes = Shapes::new(NonZeroUsize::MIN.saturating_add(7));
        let builds = Cell::new(0);
        for backend in [DbBackend::Postgres, DbBackend::Sqlite] {
            for (tenant, tags, limit, offset) in [
                ("acme", ["vip", "new"], 20, 40),
                ("other", ["b", "a"], 50, 0),
                ("acme", ["x", "y"], 1, 2),
            ] {
                let stmt = shapes.statement(
                    (backend == DbBackend::Postgres, tags.len()),
                    &inputs(tenant, &tags, limit, offset),
                    false,
                    || {
                        builds.set(builds.get() + 1);
                        page(backend, tenant, &tags, limit, offset)
                    },
                );
                assert_eq!(stmt, page(backend, tenant, &tags, limit, offset));
            }
        }
        // Debug builds build every time to check the shape.
        let expected = if cfg!(debug_assertions) { 6 } else { 2 };
        assert_eq!(builds.get(), expected);
        assert_eq!(shapes.len(), 2, "one shape for each backend");
    }

    #[test]
    fn a_statement_whose_places_cannot_be_told_is_not_kept() {
        let shapes = Shapes::new(NonZeroUsize::MIN.saturating_add(7));
        // A tag spelled like the tenant; a limit equal to the offset.
        for (tenant, tag, limit, offset) in [("acme", "acme", 20, 40), ("acme", "vip", 20, 20)] {
            let stmt = shapes.statement(
                (tenant, tag, limit, offset),
                &inputs(tenant, &[tag], limit, offset),
                false,
                || page(DbBackend::Postgres, tenant, &[tag], limit, offset),
            );
            assert_eq!(
                stmt,
                page(DbBackend::Postgres, tenant, &[tag], limit, offset)
            );
        }
        // A bound value that is no input (the tag is missing from them).
        let stmt = shapes.statement(
            ("no tag", "", 0, 0),
            &inputs("acme", &[], 20, 40),
            false,
            || page(DbBackend::Postgres, "acme", &["vip"], 20, 40),
        );
        assert_eq!(stmt, page(DbBackend::Postgres, "acme", &["vip"], 20, 40));
        assert_eq!(shapes.len(), 0);
    }

    #[test]
    fn a_shape_kept_binds_equal_values_in_their_own_places() {
        let shapes = Shapes::new(NonZeroUsize::MIN);
        for (tag, limit, offset) in [("vip", 20, 40), ("acme", 20, 20)] {
            let stmt = shapes.statement((), &inputs("acme", &[tag], limit, offset), false, || {
                page(DbBackend::Postgres, "acme", &[tag], limit, offset)
            });
            assert_eq!(
                stmt,
                page(DbBackend::Postgres, "acme", &[tag], limit, offset)
            );
        }
        assert_eq!(shapes.len(), 1);
    }

    #[test]
    fn planned_once_its_limits_are_written_in_as_for_a_built_one() {
        let shapes = Shapes::new(NonZeroUsize::MIN);
        for offset in [40, 60] {
            let stmt = shapes.statement((), &inputs("acme", &[], 20, offset), true, || {
                page(DbBackend::Postgres, "acme", &[], 20, offset)
            });
            assert_eq!(
                stmt,
                plans::limits_inline(page(DbBackend::Postgres, "acme", &[], 20, offset))
            );
            assert!(stmt.sql.ends_with(&format!("LIMIT 20 OFFSET {offset}")));
        }
        assert_eq!(shapes.len(), 1);
    }

    #[test]
    fn at_most_the_capacity_of_shapes_is_kept() {
        let shapes = Shapes::new(NonZeroUsize::MIN.saturating_add(1));
        for n in 0..5 {
            let tags: Vec<String> = (0..n).map(|i| format!("t{i}")).collect();
            let tags: Vec<&str> = tags.iter().map(String::as_str).collect();
            shapes.statement(n, &inputs("acme", &tags, 20, 40), false, || {
                page(DbBackend::Sqlite, "acme", &tags, 20, 40)
            });
        }
        assert_eq!(shapes.len(), 2);
    }
}
