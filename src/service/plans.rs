//! Reads PostgreSQL may plan once.
//!
//! The server prepares every statement, and PostgreSQL plans a prepared
//! statement anew on each execution unless its generic plan (made without
//! the values) is estimated no dearer than the plans made for the values it
//! has seen. A `LIMIT $n` defeats that: without the value, the planner
//! assumes a tenth of the table is wanted, so the generic plan always looks
//! dear and every page read is planned again. At 1,000,000 customers that
//! planning took longer than the read itself (0.35 ms against 0.2 ms for a
//! plain first page, 0.7 ms against 0.5 ms for a status, segment and tags
//! filter, 0.9 ms of 4 ms for page 200), and pgbench running the same page
//! with its limit written in the text instead went from 5,300 to 10,900
//! statements per second.
//!
//! [`limits_inline`] writes a statement's `LIMIT` and `OFFSET` values into its text.
//! That is only for a read whose best plan does not depend on its other
//! values: a generic plan is made from average selectivities, and once
//! chosen it is used for every value, so a page of a rare tag read with the
//! plan made for common ones walked the whole sort index (4 s at 1,000,000
//! customers, against milliseconds planned for the value). Callers decide
//! ([`super::customers`] from the filter's exact total); everything else
//! keeps its values bound, and PostgreSQL plans it each time as before.
//! SQLite prepares a statement's plan once whatever its values, so its
//! statements are left as they are.
//!
//! [`placeholders`] finds a PostgreSQL text's `$n` outside quotes, for
//! these slots and for the literals of an export's `COPY`
//! (`super::export`).
//!
//! Imports only `sea_orm`: no other module of the crate.

use sea_orm::{DbBackend, Statement, Value, Values};

/// The statement with the integer values of its `LIMIT $n` and `OFFSET $n`
/// placeholders (in subqueries too) written into its text, those values no
/// longer bound and the other placeholders renumbered. Reads statements as
/// sea-query writes them for PostgreSQL; text in quotes is left alone.
pub fn limits_inline(stmt: Statement) -> Statement {
    if stmt.db_backend != DbBackend::Postgres {
        return stmt;
    }
    Slots::of(&stmt.sql).inline(stmt)
}

/// The placeholders of a PostgreSQL text, and which of them hold a `LIMIT`
/// or an `OFFSET`: found once for a text that many statements share
/// ([`super::fixed`]), so that each of them is only copied, not read again.
pub struct Slots {
    placeholders: Vec<Placeholder>,
    /// The length of the text they were found in.
    len: usize,
}

impl Slots {
    /// The slots of `sql`.
    pub fn of(sql: &str) -> Slots {
        Slots {
            placeholders: placeholders(sql).found,
            len: sql.len(),
        }
    }

    /// [`limits_inline`] for a statement whose text is the one these slots
    /// were found in.
    pub fn inline(&self, stmt: Statement) -> Statement {
        debug_assert_eq!(stmt.sql.len(), self.len, "slots of another text");
        if stmt.db_backend != DbBackend::Postgres || !self.placeholders.iter().any(|p| p.limit) {
            return stmt;
        }
        let Some(Values(values)) = &stmt.values else {
            return stmt;
        };
        let inlined: Vec<(usize, i128)> = self
            .placeholders
            .iter()
            .filter(|p| p.limit)
            .filter_map(|p| Some((p.index, integer(values.get(p.index.checked_sub(1)?)?)?)))
            .filter(|(_, n)| *n >= 0)
            .collect();
        if inlined.is_empty() {
            return stmt;
        }
        let literal = |index: usize| inlined.iter().find(|(i, _)| *i == index).map(|(_, n)| *n);
        let mut sql = String::with_capacity(stmt.sql.len());
        let mut copied = 0;
        for p in &self.placeholders {
            sql.push_str(&stmt.sql[copied..p.start]);
            match literal(p.index) {
                Some(n) => sql.push_str(&n.to_string()),
                None => {
                    let before = inlined.iter().filter(|(i, _)| *i < p.index).count();
                    sql.push('$');
                    sql.push_str(&(p.index - before).to_string());
                }
            }
            copied = p.end;
        }
        sql.push_str(&stmt.sql[copied..]);
        let kept = values
            .iter()
            .enumerate()
            .filter(|(i, _)| literal(i + 1).is_none())
            .map(|(_, v)| v.clone())
            .collect();
        Statement::from_sql_and_values(DbBackend::Postgres, sql, Values(kept))
    }
}

/// A `$n` in the text: its byte range, `n`, and whether it follows `LIMIT`
/// or `OFFSET`.
pub struct Placeholder {
    pub start: usize,
    pub end: usize,
    pub index: usize,
    limit: bool,
}

/// What [`placeholders`] found in a text.
pub struct Scan {
    /// The placeholders, in the order of the text.
    pub found: Vec<Placeholder>,
    /// The first thing in the text that sea-query does not write: a quote
    /// never closed, or a `$` without a number. The scan goes on past a
    /// stray `$`; an open quote takes the rest of the text.
    pub irregular: Option<&'static str>,
}

/// The placeholders of PostgreSQL text, outside quoted strings and names.
pub fn placeholders(sql: &str) -> Scan {
    let bytes = sql.as_bytes();
    let mut found = Vec::new();
    let mut irregular = None;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            quote @ (b'\'' | b'"') => {
                // `E'..'` strings escape with backslashes (an `E` that ends
                // a longer name is not one); all double a quote.
                let escapes = quote == b'\''
                    && i > 0
                    && matches!(bytes[i - 1], b'E' | b'e')
                    && (i < 2 || !(bytes[i - 2].is_ascii_alphanumeric() || bytes[i - 2] == b'_'));
                i += 1;
                loop {
                    match bytes.get(i) {
                        None => {
                            irregular.get_or_insert(if quote == b'"' {
                                "an unterminated name"
                            } else {
                                "an unterminated literal"
                            });
                            break;
                        }
                        Some(b'\\') if escapes => i += 2,
                        Some(&b) if b == quote && bytes.get(i + 1) == Some(&quote) => i += 2,
                        Some(&b) if b == quote => break,
                        Some(_) => i += 1,
                    }
                }
                i += 1;
            }
            b'$' => {
                let digits = bytes[i + 1..]
                    .iter()
                    .take_while(|b| b.is_ascii_digit())
                    .count();
                match sql[i + 1..i + 1 + digits].parse() {
                    Ok(index) => {
                        let before = sql[..i].trim_end();
                        found.push(Placeholder {
                            start: i,
                            end: i + 1 + digits,
                            index,
                            limit: ends_with_keyword(before, "LIMIT")
                                || ends_with_keyword(before, "OFFSET"),
                        });
                    }
                    Err(_) => {
                        irregular.get_or_insert("a `$` that is not a placeholder");
                    }
                }
                i += 1 + digits;
            }
            _ => i += 1,
        }
    }
    Scan { found, irregular }
}

/// Whether `text` ends with the keyword `word` (not a longer name).
fn ends_with_keyword(text: &str, word: &str) -> bool {
    text.strip_suffix(word).is_some_and(|rest| {
        !rest
            .chars()
            .next_back()
            .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '"')
    })
}

/// An integer value, if `v` holds one.
pub fn integer(v: &Value) -> Option<i128> {
    Some(match v {
        Value::TinyInt(n) => (*n)?.into(),
        Value::SmallInt(n) => (*n)?.into(),
        Value::Int(n) => (*n)?.into(),
        Value::BigInt(n) => (*n)?.into(),
        Value::TinyUnsigned(n) => (*n)?.into(),
        Value::SmallUnsigned(n) => (*n)?.into(),
        Value::Unsigned(n) => (*n)?.into(),
        Value::BigUnsigned(n) => (*n)?.into(),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pg(sql: &str, values: Vec<Value>) -> Statement {
        Statement::from_sql_and_values(DbBackend::Postgres, sql, values)
    }

    #[test]
    fn a_page_s_limit_and_offset_are_written_in() {
        let stmt = limits_inline(pg(
            r#"SELECT "id" FROM "c" WHERE "t" = $1 ORDER BY "a" DESC LIMIT $2 OFFSET $3"#,
            vec!["x".into(), 20u64.into(), 40u64.into()],
        ));
        assert_eq!(
            stmt,
            pg(
                r#"SELECT "id" FROM "c" WHERE "t" = $1 ORDER BY "a" DESC LIMIT 20 OFFSET 40"#,
                vec!["x".into()]
            )
        );
    }

    #[test]
    fn slots_found_once_serve_every_statement_of_their_text() {
        let sql = r#"SELECT "id" FROM "v" WHERE "c" = $1 ORDER BY "a" DESC LIMIT $2"#;
        let slots = Slots::of(sql);
        for n in [5u64, 50] {
            assert_eq!(
                slots.inline(pg(sql, vec!["x".into(), n.into()])),
                pg(
                    &format!(r#"SELECT "id" FROM "v" WHERE "c" = $1 ORDER BY "a" DESC LIMIT {n}"#),
                    vec!["x".into()]
                )
            );
        }
        let by_key = r#"SELECT "id" FROM "v" WHERE "id" = $1"#;
        let stmt = pg(by_key, vec!["x".into()]);
        assert_eq!(
            Slots::of(by_key).inline(stmt.clone()),
            stmt,
            "no limit: as it was"
        );
    }

    #[test]
    fn a_subquery_s_page_is_written_in_and_later_values_renumbered() {
        let stmt = limits_inline(pg(
            r#"SELECT * FROM "c" WHERE "t" = $1 AND "id" IN (SELECT "id" FROM "c" WHERE "t" = $2 LIMIT $3 OFFSET $4) AND "s" = $5 ORDER BY "a""#,
            vec![
                "x".into(),
                "x".into(),
                20i64.into(),
                3_980i64.into(),
                "active".into(),
            ],
        ));
        assert_eq!(
            stmt,
            pg(
                r#"SELECT * FROM "c" WHERE "t" = $1 AND "id" IN (SELECT "id" FROM "c" WHERE "t" = $2 LIMIT 20 OFFSET 3980) AND "s" = $3 ORDER BY "a""#,
                vec!["x".into(), "x".into(), "active".into()]
            )
        );
    }

    #[test]
    fn only_integer_page_values_outside_quotes_are_written_in() {
        let unchanged = [
            // Not an integer, or no value.
            pg("SELECT 1 LIMIT $1", vec!["20".into()]),
            pg("SELECT 1 LIMIT $1", vec![Value::BigUnsigned(None)]),
            pg("SELECT 1 LIMIT $1", vec![(-1i64).into()]),
            pg("SELECT 1 LIMIT $2", vec![20u64.into()]),
            // Not after LIMIT or OFFSET.
            pg("SELECT my_LIMIT $1", vec![20u64.into()]),
            pg("SELECT 1 WHERE a = $1", vec![20u64.into()]),
            // Quoted.
            pg("SELECT 'LIMIT $1' = $1", vec!["LIMIT $1".into()]),
            pg(r#"SELECT "LIMIT $1" = $1"#, vec!["a".into()]),
            pg(r#"SELECT E'\' LIMIT $1' = $1"#, vec!["a".into()]),
        ];
        for stmt in unchanged {
            assert_eq!(limits_inline(stmt.clone()), stmt);
        }
        // An `E` that ends a name starts no escape string: this `\'` ends it.
        assert_eq!(
            limits_inline(pg(r"SELECT xE'\' LIMIT $1", vec![Value::Unsigned(Some(5))])),
            pg(r"SELECT xE'\' LIMIT 5", vec![])
        );
        // Quotes end where they end: a doubled quote stays inside.
        assert_eq!(
            limits_inline(pg(
                "SELECT 'it''s' LIMIT $1",
                vec![Value::Unsigned(Some(5))]
            )),
            pg("SELECT 'it''s' LIMIT 5", vec![])
        );
    }

    #[test]
    fn sqlite_statements_are_left_alone() {
        let stmt = Statement::from_sql_and_values(
            DbBackend::Sqlite,
            "SELECT 1 LIMIT ?",
            vec![20u64.into()],
        );
        assert_eq!(limits_inline(stmt.clone()), stmt);
    }

    #[test]
    fn a_customer_page_as_sea_query_writes_it() {
        use entity::customer;
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, QueryTrait};
        let page = customer::Entity::find()
            .filter(customer::Column::TenantId.eq("default"))
            .order_by_desc(customer::Column::LastInteraction)
            .offset(40)
            .limit(20)
            .build(DbBackend::Postgres);
        let inlined = limits_inline(page.clone());
        assert!(
            inlined.sql.ends_with(" LIMIT 20 OFFSET 40"),
            "{}",
            inlined.sql
        );
        assert_eq!(
            inlined
                .sql
                .replace(" LIMIT 20 OFFSET 40", " LIMIT $2 OFFSET $3"),
            page.sql
        );
        assert_eq!(inlined.values, Some(Values(vec!["default".into()])));
    }
}
