//! Rows read by column position.
//!
//! sea-orm's derived `FromQueryResult` reads each column by its name: sqlx
//! finds the name in a hashed map for every cell, and every NULL becomes an
//! error carrying the column's name formatted with `{:?}`, which the field's
//! `Option` then throws away. On a page of 20 customers that was two fifths
//! of the server's instructions for the REST answer (`callgrind`,
//! `bench/RESULTS.md`, session 14).
//!
//! [`Fast`] reads the models that lists, details and nested lists read most
//! (customers, conversations, messages) by position instead: each cell
//! through sea-orm's own decoding of its type, a NULL told by sqlx before any
//! decoding. That is only done when the row's columns are the model's
//! columns in the model's order, which is what sea-orm selects for an
//! entity; any other row is read by name, as before.
//!
//! A read may take only some of a model's columns ([`Columns`]): those of
//! what its caller shows. The model's other fields are then left blank.
//!
//! Imports only `sea_orm` and the `entity` crate.

use std::borrow::Cow;
use std::sync::OnceLock;

use entity::enums::{
    ConversationStatus, CustomerSegment, CustomerSource, CustomerStatus, MessageDirection,
};
use entity::json::{Address, CommunicationHours, JsonObject, StringList};
use entity::{conversation, customer, message};
use sea_orm::prelude::{DateTimeUtc, Uuid};
use sea_orm::sea_query::{Expr, Values};
use sea_orm::sqlx::postgres::{PgRow, PgValueFormat, Postgres};
use sea_orm::sqlx::types::Json;
use sea_orm::sqlx::{Column as _, Decode, Row as _, Type, ValueRef as _};
use sea_orm::{
    ActiveEnum, ColumnTrait, ColumnType, ConnectionTrait, DbBackend, DbErr, EntityName,
    EntityTrait, FromQueryResult, IdenStatic, Iterable, QueryResult, QuerySelect, Select,
    Statement, TryGetable, Value,
};
use serde_json::Value as JsonValue;

/// A model that can be read by column position.
pub trait ByPosition: FromQueryResult {
    /// Its column names, in the order sea-orm selects them.
    fn columns() -> &'static [String];

    /// The model, from a row whose columns are [`Self::columns`].
    fn read(row: &QueryResult) -> Result<Self, DbErr> {
        Self::read_at(row, 0)
    }

    /// The model, from a row whose columns from position `at` on are
    /// [`Self::columns`].
    fn read_at(row: &QueryResult, at: usize) -> Result<Self, DbErr>;

    /// Its columns as sea-query writes them in a select list, table first.
    fn select_list() -> &'static str;

    /// Its columns, quoted, without their table: `"a", "b"`.
    fn column_list() -> &'static str;

    /// Each of its columns as a select list writes it: `"table"."a"`.
    fn qualified() -> &'static [String];

    /// The model, from a row holding `columns` of its columns, in its
    /// order; the fields of the others are blank ([`Columns`]).
    fn read_only(row: &QueryResult, columns: Columns) -> Result<Self, DbErr>;

    /// Each of its columns as SQLite's `json_array` takes it, without its
    /// table: a uuid (a blob, which JSON cannot hold) as its hex digits,
    /// `nullif(hex("id"), '')` (`hex` makes NULL empty text), the others
    /// as they are, `"a"`.
    fn json_columns() -> &'static [String];

    /// The model, from the values of `columns` of its columns, in its
    /// order, as SQLite's `json_array` wrote them ([`json_array_of`]); the
    /// fields of the others are blank.
    fn read_json(values: Vec<JsonValue>, columns: Columns) -> Result<Self, DbErr>;
}

/// Which of a model's columns a read takes: bit `i` for its column `i` (its
/// `Column` as a number, which is its place in the model's order). The
/// fields of the columns not taken are left blank: empty text, zero, false,
/// none, an enum's first value, the epoch. A caller reads only the columns
/// of what it shows, and shows only what it read; a list of 50 customers
/// with their conversations shown by GraphQL takes 9 of a customer's 40
/// columns, and PostgreSQL and the server skip the rest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Columns(u64);

impl Columns {
    /// Every column.
    pub const ALL: Columns = Columns(u64::MAX);
    /// No column.
    pub const NONE: Columns = Columns(0);

    /// These columns.
    pub fn of<C: ColumnIndex>(columns: impl IntoIterator<Item = C>) -> Columns {
        columns.into_iter().fold(Columns::NONE, |all, c| {
            let bit = u32::try_from(c.index())
                .ok()
                .and_then(|i| 1u64.checked_shl(i));
            Columns(all.0 | bit.unwrap_or(0))
        })
    }

    /// The columns of the fields `fields`, each's by `field_columns` (`None`
    /// for a field it does not know, which takes every column), and
    /// `always`: what a read that shows only those fields takes.
    pub fn of_fields<'a, C: ColumnIndex + 'static>(
        always: &[C],
        fields: impl IntoIterator<Item = &'a str>,
        field_columns: impl Fn(&str) -> Option<&'static [C]>,
    ) -> Columns {
        let mut columns = Columns::of(always.iter().copied());
        for field in fields {
            let Some(more) = field_columns(field) else {
                return Columns::ALL;
            };
            columns = columns.and(Columns::of(more.iter().copied()));
        }
        columns
    }

    /// These columns and those of `other`.
    pub fn and(self, other: Columns) -> Columns {
        Columns(self.0 | other.0)
    }

    /// Whether column `i` is one of them.
    fn has(self, i: usize) -> bool {
        i < 64 && self.0 & 1 << i != 0
    }

    /// Whether they are every column of `M`.
    fn are_all<M: ByPosition>(self) -> bool {
        let every = Self::every::<M>();
        self.0 & every == every
    }

    /// How many of `M`'s columns they are.
    fn count<M: ByPosition>(self) -> usize {
        (self.0 & Self::every::<M>()).count_ones() as usize
    }

    /// The bits of every column of `M`.
    fn every<M: ByPosition>() -> u64 {
        u32::try_from(M::columns().len())
            .ok()
            .and_then(|n| 1u64.checked_shl(n))
            .map_or(u64::MAX, |bit| bit - 1)
    }

    /// The names of `M`'s columns among them, in order.
    fn names<M: ByPosition>(self) -> impl Iterator<Item = &'static str> {
        M::columns()
            .iter()
            .enumerate()
            .filter(move |(i, _)| self.has(*i))
            .map(|(_, name)| name.as_str())
    }
}

/// A model's column, numbered by its place in the model's order.
pub trait ColumnIndex: Copy {
    fn index(self) -> usize;
}

/// `M`'s columns among `columns` as a select list (`"table"."a", ...`),
/// every column's text written once when they are all.
pub fn select_list_of<M: ByPosition>(columns: Columns) -> Cow<'static, str> {
    if columns.are_all::<M>() {
        return Cow::Borrowed(M::select_list());
    }
    let mut list = String::new();
    for (i, column) in M::qualified().iter().enumerate() {
        if columns.has(i) {
            if !list.is_empty() {
                list.push_str(", ");
            }
            list.push_str(column);
        }
    }
    Cow::Owned(list)
}

/// `M`'s columns among `columns`, quoted, without their table: `"a", "b"`.
pub fn column_list_of<M: ByPosition>(columns: Columns) -> Cow<'static, str> {
    if columns.are_all::<M>() {
        return Cow::Borrowed(M::column_list());
    }
    let quoted: Vec<String> = columns.names::<M>().map(|n| format!("\"{n}\"")).collect();
    Cow::Owned(quoted.join(", "))
}

/// `M`'s columns among `columns` as one SQLite `json_array(...)` of each
/// row ([`ByPosition::json_columns`]), which [`ByPosition::read_json`]
/// reads back.
pub fn json_array_of<M: ByPosition>(columns: Columns) -> String {
    let taken: Vec<&str> = M::json_columns()
        .iter()
        .enumerate()
        .filter(|(i, _)| columns.has(*i))
        .map(|(_, c)| c.as_str())
        .collect();
    format!("json_array({})", taken.join(", "))
}

/// `q` selecting `columns` of its model. Every column is one piece of text
/// written once: the very SQL sea-query writes for them (tested), without
/// quoting forty names on every call, which was a tenth of the instructions
/// of a list page's REST answer (`callgrind`).
pub fn listed_of<E>(q: Select<E>, columns: Columns) -> Select<E>
where
    E: EntityTrait,
    E::Model: ByPosition,
{
    q.select_only()
        .expr(Expr::cust(select_list_of::<E::Model>(columns)))
}

/// A built statement whose outermost select lists `M`'s `columns` (a
/// [`listed_of`] select, alone or after a `WITH` clause), with `more` columns
/// right after them: SQL text whose `?` placeholders take `values` in order
/// (PostgreSQL's are numbered after the statement's own). Spliced into the
/// built text rather than built by sea-query, whose custom expressions with
/// values tokenize their text on every call (`callgrind`: more than a
/// statement saved). Without them (an error) when the outermost select does
/// not start with the model's columns.
pub fn with_columns<M: ByPosition>(
    mut stmt: Statement,
    columns: Columns,
    more: &str,
    values: impl IntoIterator<Item = Value>,
) -> Result<Statement, Statement> {
    const SELECT: &str = "SELECT ";
    let outermost = if stmt.sql.starts_with(SELECT) {
        Some(0)
    } else if stmt.sql.starts_with("WITH ") {
        // The outermost select follows the last common table's `)`.
        stmt.sql.rfind(") SELECT ").map(|at| at + 2)
    } else {
        None
    };
    let list = select_list_of::<M>(columns);
    let at = match outermost {
        Some(start)
            if stmt
                .sql
                .get(start + SELECT.len()..)
                .is_some_and(|s| s.starts_with(&*list)) =>
        {
            start + SELECT.len() + list.len()
        }
        _ => return Err(stmt),
    };
    let mut own = stmt.values.take().map(|v| v.0).unwrap_or_default();
    let columns = match stmt.db_backend {
        DbBackend::Postgres => {
            let mut n = own.len();
            let mut text = String::with_capacity(more.len() + 8);
            for piece in more.split_inclusive('?') {
                match piece.strip_suffix('?') {
                    Some(before) => {
                        n += 1;
                        text.push_str(before);
                        text.push('$');
                        text.push_str(&n.to_string());
                    }
                    None => text.push_str(piece),
                }
            }
            own.extend(values);
            text
        }
        // `?` binds in the order of the text: these come after those of
        // the text before them (a common table's), before the rest.
        _ => {
            let before = stmt.sql[..at].matches('?').count().min(own.len());
            own.splice(before..before, values);
            more.to_owned()
        }
    };
    stmt.sql.insert_str(at, &format!(", {columns}"));
    stmt.values = Some(Values(own));
    Ok(stmt)
}

/// A model read by position when its row's columns allow it, by name
/// otherwise; the same model either way.
pub struct Fast<M>(pub M);

impl<M: ByPosition> FromQueryResult for Fast<M> {
    fn from_query_result(row: &QueryResult, pre: &str) -> Result<Self, DbErr> {
        if pre.is_empty() && in_order(row, M::columns(), 0) {
            M::read(row).map(Fast)
        } else {
            M::from_query_result(row, pre).map(Fast)
        }
    }
}

/// A model read as [`Fast`] reads it, with the `N` integers (or NULLs) of
/// the columns that follow its own: values a statement reads beside each
/// row, such as a list's counters beside its page.
pub struct Trailing<M, const N: usize>(pub M, pub [Option<i64>; N]);

impl<M: ByPosition, const N: usize> FromQueryResult for Trailing<M, N> {
    fn from_query_result(row: &QueryResult, pre: &str) -> Result<Self, DbErr> {
        if !pre.is_empty() || !in_order(row, M::columns(), N) {
            return Err(not_trailing::<M, N>());
        }
        Self::read(row)
    }
}

impl<M: ByPosition, const N: usize> Trailing<M, N> {
    /// The model and its trailing values, from a row whose columns are
    /// the model's, then `N` more.
    fn read(row: &QueryResult) -> Result<Self, DbErr> {
        Self::read_only(row, Columns::ALL)
    }

    /// The model and its trailing values, from a row whose columns are
    /// `columns` of the model's, then `N` more.
    fn read_only(row: &QueryResult, columns: Columns) -> Result<Self, DbErr> {
        let own = columns.count::<M>();
        let mut trailing = [None; N];
        for (i, value) in trailing.iter_mut().enumerate() {
            *value = <Option<i64> as TryGetable>::try_get_by_index(row, own + i)?;
        }
        let model = if columns.are_all::<M>() {
            M::read(row)?
        } else {
            M::read_only(row, columns)?
        };
        Ok(Trailing(model, trailing))
    }
}

/// Why a row is not one [`Trailing`] reads.
fn not_trailing<M: ByPosition, const N: usize>() -> DbErr {
    let own = M::columns().len();
    DbErr::Type(format!("not a row of {own} model columns and {N} more"))
}

/// The models of the rows `stmt` answers on `db`, which hold `columns` of
/// the model's columns ([`listed_of`]), read by position; with every
/// column, read by name when the rows' columns are not the model's in its
/// order (as [`Fast`] reads them), and refused otherwise. The columns are
/// compared with the model's once per answer: every row of one statement's
/// answer has the same columns (sqlx shares one description of them among
/// its rows). Compared on every row, the names were 4 % of the server's
/// instructions for 50 customers with 5 conversations each (`callgrind`,
/// `bench/RESULTS.md`, session 18).
pub async fn all_of<M: ByPosition, C: ConnectionTrait>(
    db: &C,
    stmt: Statement,
    columns: Columns,
) -> Result<Vec<M>, DbErr> {
    each_of(db, stmt, columns, |model: M| model).await
}

/// The rows `stmt` answers on `db`, each read as [`all_of`] reads it and
/// at once turned into what `into` makes of it: a page of a thousand rows
/// never holds a thousand whole models (a customer's model is most of a
/// kilobyte, so such a page was a fresh megabyte from the system, and its
/// page faults a tenth of an export's CPU, `perf`, session 28).
pub async fn each_of<M: ByPosition, T, C: ConnectionTrait>(
    db: &C,
    stmt: Statement,
    columns: Columns,
    mut into: impl FnMut(M) -> T,
) -> Result<Vec<T>, DbErr> {
    let rows = db.query_all(stmt).await?;
    let mut out = Vec::with_capacity(rows.len());
    if !columns.are_all::<M>() {
        if let Some(row) = rows.first() {
            if !in_order(row, columns.names::<M>(), 0) {
                return Err(DbErr::Type("not a row of the columns asked for".into()));
            }
        }
        for row in &rows {
            out.push(into(M::read_only(row, columns)?));
        }
        return Ok(out);
    }
    let by_position = rows
        .first()
        .is_some_and(|row| in_order(row, M::columns(), 0));
    for row in &rows {
        out.push(into(if by_position {
            M::read(row)?
        } else {
            M::from_query_result(row, "")?
        }));
    }
    Ok(out)
}

/// The models `stmt` answers on `db` as one SQLite value: a JSON array
/// holding one [`json_array_of`] `M`'s `columns` for each row (SQLite's
/// `json_group_array`). An answer of many rows read this way is one row of
/// one value for sqlx to copy and hand over from the connection's thread,
/// instead of a row for each model and a value for each of its columns.
pub async fn all_of_json<M: ByPosition, C: ConnectionTrait>(
    db: &C,
    stmt: Statement,
    columns: Columns,
) -> Result<Vec<M>, DbErr> {
    let Some(row) = db.query_one(stmt).await? else {
        return Ok(Vec::new());
    };
    let text = <Option<String> as TryGetable>::try_get_by_index(&row, 0)?;
    let Some(text) = text else {
        return Ok(Vec::new());
    };
    let rows: Vec<Vec<JsonValue>> = serde_json::from_str(&text)
        .map_err(|e| DbErr::Type(format!("not an array of rows: {e}")))?;
    rows.into_iter()
        .map(|values| M::read_json(values, columns))
        .collect()
}

/// The rows `stmt` answers on `db`, as [`Trailing`] reads them, the
/// columns compared once per answer ([`all_of`]).
pub async fn all_trailing<M: ByPosition, const N: usize, C: ConnectionTrait>(
    db: &C,
    stmt: Statement,
    columns: Columns,
) -> Result<Vec<Trailing<M, N>>, DbErr> {
    let rows = db.query_all(stmt).await?;
    if let Some(row) = rows.first() {
        if !in_order(row, columns.names::<M>(), N) {
            return Err(not_trailing::<M, N>());
        }
    }
    let mut read = Vec::with_capacity(rows.len());
    for row in &rows {
        read.push(Trailing::read_only(row, columns)?);
    }
    Ok(read)
}

/// Whether the row's columns are `names`, in order, then `more` others.
fn in_order<N: AsRef<str>>(
    row: &QueryResult,
    names: impl IntoIterator<Item = N>,
    more: usize,
) -> bool {
    fn same<'a, N: AsRef<str>>(
        mut columns: impl ExactSizeIterator<Item = &'a str>,
        names: impl IntoIterator<Item = N>,
        more: usize,
    ) -> bool {
        names
            .into_iter()
            .all(|n| columns.next() == Some(n.as_ref()))
            && columns.len() == more
    }
    if let Some(row) = row.try_as_pg_row() {
        return same(row.columns().iter().map(|c| c.name()), names, more);
    }
    if let Some(row) = row.try_as_sqlite_row() {
        return same(row.columns().iter().map(|c| c.name()), names, more);
    }
    false
}

/// A row of a statement that answers two models side by side: `A`'s
/// columns, then `B`'s, each row holding one of the two and NULL in every
/// column of the other.
pub enum Either<A, B> {
    First(A),
    Second(B),
}

impl<A: ByPosition, B: ByPosition> Either<A, B> {
    /// The model a side-by-side row holds: `A` when `A`'s first column (a
    /// key column, never NULL in `A`'s rows) is not NULL.
    pub fn read(row: &QueryResult) -> Result<Self, DbErr> {
        if is_null(row, 0)? {
            B::read_at(row, A::columns().len()).map(Either::Second)
        } else {
            A::read(row).map(Either::First)
        }
    }
}

/// Whether column `i` of the row is NULL.
fn is_null(row: &QueryResult, i: usize) -> Result<bool, DbErr> {
    let raw = if let Some(row) = row.try_as_pg_row() {
        row.try_get_raw(i).map(|v| v.is_null())
    } else if let Some(row) = row.try_as_sqlite_row() {
        row.try_get_raw(i).map(|v| v.is_null())
    } else {
        return Err(DbErr::Type(format!("column {i}: not a row of a database")));
    };
    raw.map_err(|e| DbErr::Type(e.to_string()))
}

/// A field's type, read from column `i` of a row.
trait Cell: Sized {
    fn cell(row: &QueryResult, i: usize) -> Result<Self, DbErr>;
}

/// Column `i` of a PostgreSQL row decoded as `T` by sqlx, as sea-orm has it
/// decoded, but without sqlx's check that the column's type is one `T`
/// takes: the columns are the model's own, in its order ([`in_order`]),
/// whose types the migrations set and every test reads. The check compared
/// type descriptions for every cell: without it, 11 % fewer server
/// instructions for 50 customers with 5 conversations each, 9 % for a page
/// of 20 customers (`callgrind`, `bench/RESULTS.md`, session 17).
fn pg<T>(row: &PgRow, i: usize) -> Result<T, DbErr>
where
    T: for<'r> Decode<'r, Postgres> + Type<Postgres>,
{
    row.try_get_unchecked::<T, _>(i)
        .map_err(|e| DbErr::Type(format!("column {i}: {e}")))
}

/// A cell of a type sqlx decodes itself, NULL or a value ([`pg`]).
fn pg_value<T>(row: &PgRow, i: usize) -> Result<Option<T>, DbErr>
where
    T: for<'r> Decode<'r, Postgres> + Type<Postgres>,
{
    pg(row, i)
}

/// A JSON cell, NULL or a value: decoded from the column's JSON by sqlx's
/// `Json`, as sea-orm does (without the type check: [`pg`]).
fn pg_json<T: serde::de::DeserializeOwned + 'static>(
    row: &PgRow,
    i: usize,
) -> Result<Option<T>, DbErr> {
    pg::<Option<Json<T>>>(row, i).map(|json| json.map(|j| j.0))
}

/// PostgreSQL's epoch, 2000-01-01 00:00 UTC, in microseconds since 1970's.
const POSTGRES_EPOCH_MICROS: i64 = 946_684_800_000_000;

/// A `timestamptz` cell of a PostgreSQL row, NULL or a time. Its binary
/// value is the microseconds since PostgreSQL's epoch, made a time here by
/// arithmetic: sqlx adds them to the epoch as a calendar date (chrono's
/// `add_days`); this way 3 % fewer server instructions for 50 customers
/// with 5 conversations each, 1.5 % for a page of 20 (`callgrind`,
/// session 17). A text value, which prepared statements are not answered
/// in, is left to sqlx.
fn pg_time(row: &PgRow, i: usize) -> Result<Option<DateTimeUtc>, DbErr> {
    let value = row
        .try_get_raw(i)
        .map_err(|e| DbErr::Type(format!("column {i}: {e}")))?;
    if value.is_null() {
        return Ok(None);
    }
    if value.format() != PgValueFormat::Binary {
        return pg(row, i);
    }
    let micros = value
        .as_bytes()
        .ok()
        .and_then(|bytes| <[u8; 8]>::try_from(bytes).ok())
        .map(i64::from_be_bytes)
        .ok_or_else(|| DbErr::Type(format!("column {i}: not an 8-byte timestamp")))?;
    micros
        .checked_add(POSTGRES_EPOCH_MICROS)
        .and_then(DateTimeUtc::from_timestamp_micros)
        .map(Some)
        .ok_or_else(|| DbErr::Type(format!("column {i}: time out of range")))
}

/// `Cell` for these types and their `Option`s: on PostgreSQL by `$read`
/// (a `fn(&PgRow, usize) -> Result<Option<T>, DbErr>`), elsewhere as
/// sea-orm reads them.
macro_rules! cells {
    ($read:expr => $($t:ty),+ $(,)?) => {$(
        impl Cell for $t {
            fn cell(row: &QueryResult, i: usize) -> Result<Self, DbErr> {
                match row.try_as_pg_row() {
                    Some(pg_row) => $read(pg_row, i)?
                        .ok_or_else(|| DbErr::Type(format!("column {i}: unexpected NULL"))),
                    None => Ok(<$t as TryGetable>::try_get_by_index(row, i)?),
                }
            }
        }

        impl Cell for Option<$t> {
            fn cell(row: &QueryResult, i: usize) -> Result<Self, DbErr> {
                if let Some(pg_row) = row.try_as_pg_row() {
                    return $read(pg_row, i);
                }
                if is_null(row, i)? {
                    return Ok(None);
                }
                <$t as Cell>::cell(row, i).map(Some)
            }
        }
    )+};
}

cells!(pg_value => String, Uuid, i32, i64, bool);
cells!(pg_time => DateTimeUtc);
cells!(pg_json => StringList, Address, CommunicationHours, JsonObject);

/// `Cell` for these enums stored as their text, and their `Option`s: the
/// text read as a `String` cell, then the enum's value for it, as sea-orm
/// reads them.
macro_rules! enum_cells {
    ($($t:ty),+ $(,)?) => {$(
        impl Cell for $t {
            fn cell(row: &QueryResult, i: usize) -> Result<Self, DbErr> {
                <$t as ActiveEnum>::try_from_value(&String::cell(row, i)?)
            }
        }

        impl Cell for Option<$t> {
            fn cell(row: &QueryResult, i: usize) -> Result<Self, DbErr> {
                Option::<String>::cell(row, i)?
                    .map(|text| <$t as ActiveEnum>::try_from_value(&text))
                    .transpose()
            }
        }
    )+};
}

enum_cells!(
    CustomerSegment,
    CustomerSource,
    CustomerStatus,
    ConversationStatus,
    MessageDirection,
);

/// A field's type, read from the JSON value SQLite's `json_array` made of
/// its column ([`ByPosition::json_columns`]): each as sqlx decodes the
/// column's own value on SQLite (the same types, NULL as `null`).
trait JsonCell: Sized {
    fn json(value: JsonValue) -> Result<Self, DbErr>;
}

fn not_a(what: &str, value: &JsonValue) -> DbErr {
    DbErr::Type(format!("not {what}: {value}"))
}

impl<T: JsonCell> JsonCell for Option<T> {
    fn json(value: JsonValue) -> Result<Self, DbErr> {
        match value {
            JsonValue::Null => Ok(None),
            value => T::json(value).map(Some),
        }
    }
}

impl JsonCell for String {
    fn json(value: JsonValue) -> Result<Self, DbErr> {
        match value {
            JsonValue::String(text) => Ok(text),
            other => Err(not_a("a text", &other)),
        }
    }
}

/// A uuid as `hex()` writes its blob.
impl JsonCell for Uuid {
    fn json(value: JsonValue) -> Result<Self, DbErr> {
        match &value {
            JsonValue::String(hex) if hex.len() == 32 => {
                Uuid::try_parse(hex).map_err(|_| not_a("a uuid", &value))
            }
            _ => Err(not_a("a uuid", &value)),
        }
    }
}

impl JsonCell for i64 {
    fn json(value: JsonValue) -> Result<Self, DbErr> {
        value.as_i64().ok_or_else(|| not_a("an integer", &value))
    }
}

impl JsonCell for i32 {
    fn json(value: JsonValue) -> Result<Self, DbErr> {
        value
            .as_i64()
            .and_then(|n| i32::try_from(n).ok())
            .ok_or_else(|| not_a("a 32-bit integer", &value))
    }
}

/// SQLite's booleans are integers (sqlx: any but 0 is true).
impl JsonCell for bool {
    fn json(value: JsonValue) -> Result<Self, DbErr> {
        value
            .as_i64()
            .map(|n| n != 0)
            .ok_or_else(|| not_a("a boolean", &value))
    }
}

/// A time as SQLite holds it: the text sqlx writes (RFC 3339), or one of
/// the other forms sqlx reads (SQLite's own date and time functions').
impl JsonCell for DateTimeUtc {
    fn json(value: JsonValue) -> Result<Self, DbErr> {
        use sea_orm::prelude::{ChronoDateTime, ChronoDateTimeWithTimeZone};
        let JsonValue::String(text) = &value else {
            return Err(not_a("a time", &value));
        };
        if let Ok(t) = ChronoDateTimeWithTimeZone::parse_from_rfc3339(text) {
            return Ok(t.to_utc());
        }
        // sqlx's list (`sqlx-sqlite`, `types/chrono.rs`), in its order.
        const FORMATS: &[&str] = &[
            "%F %T%.f",
            "%F %R",
            "%F %RZ",
            "%F %R%:z",
            "%F %T%.fZ",
            "%F %T%.f%:z",
            "%FT%R",
            "%FT%RZ",
            "%FT%R%:z",
            "%FT%T%.f",
            "%FT%T%.fZ",
            "%FT%T%.f%:z",
        ];
        for format in FORMATS {
            if let Ok(t) = ChronoDateTimeWithTimeZone::parse_from_str(text, format) {
                return Ok(t.to_utc());
            }
            if let Ok(t) = ChronoDateTime::parse_from_str(text, format) {
                return Ok(t.and_utc());
            }
        }
        Err(not_a("a time", &value))
    }
}

/// JSON held as text, decoded as sqlx's `Json` decodes it.
macro_rules! json_text_cells {
    ($($t:ty),+ $(,)?) => {$(
        impl JsonCell for $t {
            fn json(value: JsonValue) -> Result<Self, DbErr> {
                let text = String::json(value)?;
                serde_json::from_str(&text).map_err(|e| DbErr::Type(format!("not JSON: {e}")))
            }
        }
    )+};
}

json_text_cells!(StringList, Address, CommunicationHours, JsonObject);

/// Enums held as their text.
macro_rules! enum_json_cells {
    ($($t:ty),+ $(,)?) => {$(
        impl JsonCell for $t {
            fn json(value: JsonValue) -> Result<Self, DbErr> {
                <$t as ActiveEnum>::try_from_value(&String::json(value)?)
            }
        }
    )+};
}

enum_json_cells!(
    CustomerSegment,
    CustomerSource,
    CustomerStatus,
    ConversationStatus,
    MessageDirection,
);

/// A field's value when its column was not read ([`Columns`]).
trait Blank {
    fn blank() -> Self;
}

impl<T> Blank for Option<T> {
    fn blank() -> Self {
        None
    }
}

macro_rules! blank_default {
    ($($t:ty),+ $(,)?) => {$(
        impl Blank for $t {
            fn blank() -> Self {
                <$t>::default()
            }
        }
    )+};
}

blank_default!(
    String,
    Uuid,
    i32,
    i64,
    bool,
    DateTimeUtc,
    StringList,
    JsonObject
);

macro_rules! blank_first {
    ($($t:ty),+ $(,)?) => {$(
        impl Blank for $t {
            fn blank() -> Self {
                <$t>::ALL[0]
            }
        }
    )+};
}

blank_first!(
    CustomerSegment,
    CustomerSource,
    CustomerStatus,
    ConversationStatus,
    MessageDirection,
);

/// Column `column`'s field: its cell, the `next` one of the row, when
/// `columns` has it (then `next` moves on), else blank.
fn taken<T: Cell + Blank>(
    row: &QueryResult,
    columns: Columns,
    column: usize,
    next: &mut usize,
) -> Result<T, DbErr> {
    if !columns.has(column) {
        return Ok(T::blank());
    }
    let value = T::cell(row, *next)?;
    *next += 1;
    Ok(value)
}

/// Column `column`'s field: the `next` of `values` when `columns` has it,
/// else blank.
fn json_taken<T: JsonCell + Blank>(
    values: &mut std::vec::IntoIter<JsonValue>,
    columns: Columns,
    column: usize,
) -> Result<T, DbErr> {
    if !columns.has(column) {
        return Ok(T::blank());
    }
    let value = values
        .next()
        .ok_or_else(|| DbErr::Type(format!("no value for column {column}")))?;
    T::json(value)
}

/// [`ByPosition`] for the `Model` of an entity module: every field with its
/// column (a field left out does not compile; a field paired with another's
/// column fails `fields_are_paired_with_their_own_columns`).
macro_rules! by_position {
    ($module:ident { $($field:ident: $column:ident),+ $(,)? }) => {
        impl ByPosition for $module::Model {
            fn columns() -> &'static [String] {
                static NAMES: OnceLock<Vec<String>> = OnceLock::new();
                NAMES.get_or_init(|| {
                    $module::Column::iter().map(|c| c.as_str().to_owned()).collect()
                })
            }

            fn read_at(row: &QueryResult, at: usize) -> Result<Self, DbErr> {
                Ok(Self {
                    $($field: Cell::cell(row, at + $module::Column::$column as usize)?),+
                })
            }

            fn read_only(row: &QueryResult, columns: Columns) -> Result<Self, DbErr> {
                // The fields are read in the order they are written here,
                // which is the columns' order (`fields_are_paired_...`).
                let mut next = 0;
                Ok(Self {
                    $($field: taken(row, columns, $module::Column::$column as usize, &mut next)?),+
                })
            }

            fn json_columns() -> &'static [String] {
                static NAMES: OnceLock<Vec<String>> = OnceLock::new();
                NAMES.get_or_init(|| {
                    $module::Column::iter()
                        .map(|c| match c.def().get_column_type() {
                            ColumnType::Uuid => format!("nullif(hex(\"{}\"), '')", c.as_str()),
                            _ => format!("\"{}\"", c.as_str()),
                        })
                        .collect()
                })
            }

            fn read_json(values: Vec<JsonValue>, columns: Columns) -> Result<Self, DbErr> {
                let mut values = values.into_iter();
                let model = Self {
                    $($field: json_taken(&mut values, columns, $module::Column::$column as usize)?),+
                };
                match values.next() {
                    None => Ok(model),
                    Some(_) => Err(DbErr::Type("more values than columns".into())),
                }
            }

            fn select_list() -> &'static str {
                static LIST: OnceLock<String> = OnceLock::new();
                LIST.get_or_init(|| Self::qualified().join(", "))
            }

            fn qualified() -> &'static [String] {
                static NAMES: OnceLock<Vec<String>> = OnceLock::new();
                NAMES.get_or_init(|| {
                    let table = $module::Entity.table_name();
                    $module::Column::iter()
                        .map(|c| format!("\"{table}\".\"{}\"", c.as_str()))
                        .collect()
                })
            }

            fn column_list() -> &'static str {
                static LIST: OnceLock<String> = OnceLock::new();
                LIST.get_or_init(|| {
                    $module::Column::iter()
                        .map(|c| format!("\"{}\"", c.as_str()))
                        .collect::<Vec<_>>()
                        .join(", ")
                })
            }
        }

        impl ColumnIndex for $module::Column {
            fn index(self) -> usize {
                self as usize
            }
        }

        #[cfg(test)]
        impl Paired for $module::Model {
            fn pairs() -> Vec<(&'static str, String)> {
                vec![$((stringify!($field), $module::Column::$column.as_str().to_owned())),+]
            }
        }
    };
}

/// The fields of a [`by_position!`] model and the columns it reads them
/// from, for the test that they match.
#[cfg(test)]
trait Paired {
    fn pairs() -> Vec<(&'static str, String)>;
}

by_position!(customer {
    tenant_id: TenantId,
    id: Id,
    phone_number: PhoneNumber,
    first_name: FirstName,
    last_name: LastName,
    email: Email,
    avatar: Avatar,
    alternative_phones: AlternativePhones,
    address: Address,
    tags: Tags,
    segment: Segment,
    source: Source,
    custom_fields: CustomFields,
    preferred_language: PreferredLanguage,
    communication_hours: CommunicationHours,
    preferred_agent_id: PreferredAgentId,
    status: Status,
    status_before_block: StatusBeforeBlock,
    is_blocked: IsBlocked,
    block_reason: BlockReason,
    notes: Notes,
    external_id: ExternalId,
    deleted_at: DeletedAt,
    status_before_delete: StatusBeforeDelete,
    search_text: SearchText,
    total_conversations: TotalConversations,
    open_conversations: OpenConversations,
    resolved_conversations: ResolvedConversations,
    total_messages: TotalMessages,
    total_tickets: TotalTickets,
    response_time_ms: ResponseTimeMs,
    response_count: ResponseCount,
    rating_total: RatingTotal,
    rating_count: RatingCount,
    first_contact: FirstContact,
    last_interaction: LastInteraction,
    last_message_at: LastMessageAt,
    created_at: CreatedAt,
    updated_at: UpdatedAt,
});

by_position!(conversation {
    tenant_id: TenantId,
    id: Id,
    customer_id: CustomerId,
    status: Status,
    channel: Channel,
    subject: Subject,
    assigned_agent_id: AssignedAgentId,
    rating: Rating,
    message_count: MessageCount,
    last_message_at: LastMessageAt,
    activity_at: ActivityAt,
    response_time_ms: ResponseTimeMs,
    response_count: ResponseCount,
    created_at: CreatedAt,
    updated_at: UpdatedAt,
    resolved_at: ResolvedAt,
});

by_position!(message {
    tenant_id: TenantId,
    id: Id,
    conversation_id: ConversationId,
    customer_id: CustomerId,
    direction: Direction,
    body: Body,
    agent_id: AgentId,
    sent_at: SentAt,
    created_at: CreatedAt,
});

#[cfg(test)]
#[path = "../../tests/common/model_rows.rs"]
mod model_rows;

#[cfg(test)]
mod tests {
    use sea_orm::{
        ConnectionTrait, DatabaseConnection, EntityTrait, QueryOrder, QueryTrait, Statement,
    };

    use super::model_rows::{conversation, customer, insert_rows, message};
    use super::*;

    #[test]
    fn columns_tell_whether_they_are_all_and_how_many() {
        let every = Columns::of(customer::Column::iter());
        assert!(every.are_all::<customer::Model>());
        assert!(Columns::ALL.are_all::<customer::Model>());
        assert_eq!(
            every.count::<customer::Model>(),
            customer::Model::columns().len()
        );
        let some = Columns::of([customer::Column::Id, customer::Column::Email]);
        assert!(!some.are_all::<customer::Model>());
        assert_eq!(some.count::<customer::Model>(), 2);
        assert_eq!(
            some.names::<customer::Model>().collect::<Vec<_>>(),
            ["id", "email"]
        );
        let but_one = Columns::of(customer::Column::iter().skip(1));
        assert!(!but_one.are_all::<customer::Model>());
    }

    #[test]
    fn fields_are_paired_with_their_own_columns() {
        for pairs in [
            customer::Model::pairs(),
            conversation::Model::pairs(),
            message::Model::pairs(),
        ] {
            for (field, column) in pairs {
                assert_eq!(field, column);
            }
        }
    }

    #[test]
    fn columns_are_the_entity_s_in_its_order() {
        let names = customer::Model::columns();
        assert_eq!(names.len(), customer::Column::iter().count());
        assert_eq!(names[customer::Column::Email as usize], "email");
        assert_eq!(names.last().map(String::as_str), Some("updated_at"));
    }

    #[test]
    fn a_listed_select_is_the_sql_sea_query_writes() {
        use sea_orm::{ColumnTrait, DbBackend, QueryFilter, QueryOrder, QueryTrait};
        let page = || {
            customer::Entity::find()
                .filter(customer::Column::TenantId.eq("t"))
                .filter(customer::Column::Status.eq(CustomerStatus::Active))
                .order_by_desc(customer::Column::LastInteraction)
                .limit(20)
        };
        for backend in [DbBackend::Postgres, DbBackend::Sqlite] {
            assert_eq!(
                listed_of(page(), Columns::ALL).build(backend),
                page().build(backend)
            );
        }
        let window = || conversation::Entity::find().filter(conversation::Column::TenantId.eq("t"));
        assert_eq!(
            listed_of(window(), Columns::ALL).build(DbBackend::Postgres),
            window().build(DbBackend::Postgres)
        );
    }

    /// A real SQLite file, migrated, with two rows of each model: one with
    /// every nullable column set, one with each of them NULL.
    async fn database(dir: &tempfile::TempDir) -> DatabaseConnection {
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("rows.db").display());
        let db = crate::db::connect_and_migrate(&url, 1)
            .await
            .expect("a database");
        insert_rows(&db, false).await;
        db
    }

    /// Every customer, read by sea-orm (by name), in id order: more than one.
    async fn customers_by_sea_orm(db: &DatabaseConnection) -> Vec<customer::Model> {
        by_sea_orm::<customer::Entity>(db, customer::Column::Id).await
    }

    /// Every row of `E`, read by sea-orm (by name), in `id` order: more
    /// than one.
    async fn by_sea_orm<E: EntityTrait>(db: &DatabaseConnection, id: E::Column) -> Vec<E::Model> {
        let all = E::find()
            .order_by_asc(id)
            .all(db)
            .await
            .expect("by sea-orm");
        assert!(all.len() > 1, "rows to read");
        all
    }

    /// The models `q` selects, read as [`all_of`] reads them.
    async fn read<E>(db: &DatabaseConnection, q: Select<E>) -> Vec<E::Model>
    where
        E: EntityTrait,
        E::Model: ByPosition,
    {
        all_of(db, q.build(db.get_database_backend()), Columns::ALL)
            .await
            .expect("by position")
    }

    #[tokio::test]
    async fn rows_read_by_position_are_the_rows_written_and_read_by_name() {
        let dir = tempfile::tempdir().expect("a directory");
        let db = database(&dir).await;
        let agent = Uuid::from_u128(99);

        let by_name = customer::Entity::find()
            .order_by_asc(customer::Column::Id)
            .all(&db)
            .await
            .expect("by name");
        let fast = read(
            &db,
            customer::Entity::find().order_by_asc(customer::Column::Id),
        )
        .await;
        let written = vec![customer(1, agent, true), customer(2, agent, false)];
        assert_eq!(fast, written);
        assert_eq!(by_name, written);

        let fast = read(
            &db,
            conversation::Entity::find().order_by_asc(conversation::Column::Id),
        )
        .await;
        let conversations: Vec<_> = written
            .iter()
            .zip([true, false])
            .enumerate()
            .map(|(i, (c, full))| conversation(i as u128 + 1, c.id, agent, full))
            .collect();
        assert_eq!(fast, conversations);

        let fast = read(
            &db,
            message::Entity::find().order_by_asc(message::Column::Id),
        )
        .await;
        let messages: Vec<_> = conversations
            .iter()
            .zip([true, false])
            .enumerate()
            .map(|(i, (c, full))| message(i as u128 + 1, c, agent, full))
            .collect();
        assert_eq!(fast, messages);
    }

    /// The models of `table` (every column, or `columns`), read back from
    /// one `json_group_array` of them ([`all_of_json`]), in id order.
    async fn read_json<M: ByPosition>(
        db: &DatabaseConnection,
        table: &str,
        columns: Columns,
    ) -> Vec<M> {
        let sql = format!(
            "SELECT json_group_array({} ORDER BY id) FROM {table}",
            json_array_of::<M>(columns)
        );
        let stmt = Statement::from_string(db.get_database_backend(), sql);
        all_of_json(db, stmt, columns).await.expect("read as JSON")
    }

    #[tokio::test]
    async fn rows_read_as_one_json_value_are_the_rows_read_by_name() {
        let dir = tempfile::tempdir().expect("a directory");
        let db = database(&dir).await;
        // A time in another of the forms SQLite's own functions write, which
        // sqlx reads too.
        db.execute_unprepared(
            "UPDATE conversations SET last_message_at = '2026-11-03 12:30:15.25' \
             WHERE last_message_at IS NOT NULL",
        )
        .await
        .expect("a time written by hand");

        let customers = customers_by_sea_orm(&db).await;
        assert_eq!(
            read_json::<customer::Model>(&db, "customers", Columns::ALL).await,
            customers
        );
        let conversations = by_sea_orm::<conversation::Entity>(&db, conversation::Column::Id).await;
        assert!(conversations.iter().any(|c| c.last_message_at.is_some()));
        assert!(conversations.iter().any(|c| c.last_message_at.is_none()));
        assert_eq!(
            read_json::<conversation::Model>(&db, "conversations", Columns::ALL).await,
            conversations
        );
        let messages = by_sea_orm::<message::Entity>(&db, message::Column::Id).await;
        assert_eq!(
            read_json::<message::Model>(&db, "messages", Columns::ALL).await,
            messages
        );

        // Some columns: the same values, the others blank, as rows read them.
        use conversation::Column as C;
        let some = Columns::of([C::Id, C::CustomerId, C::Subject, C::LastMessageAt]);
        let rows_of_some = all_of::<conversation::Model, _>(
            &db,
            Statement::from_string(
                db.get_database_backend(),
                format!(
                    "SELECT {} FROM conversations ORDER BY id",
                    column_list_of::<conversation::Model>(some)
                ),
            ),
            some,
        )
        .await
        .expect("by position");
        let json_of_some = read_json::<conversation::Model>(&db, "conversations", some).await;
        assert_eq!(json_of_some, rows_of_some);
        assert_eq!(json_of_some[0].id, conversations[0].id);
        assert_eq!(json_of_some[0].channel, "");
    }

    #[tokio::test]
    async fn a_json_value_that_is_not_the_column_s_type_is_an_error() {
        let dir = tempfile::tempdir().expect("a directory");
        let db = database(&dir).await;
        let backend = db.get_database_backend();
        let columns = Columns::of([conversation::Column::Id]);
        for (values, why) in [
            ("json_array(json_array('not hex'))", "a uuid"),
            ("json_array(json_array(hex(id), 1))", "more values"),
            ("json_array(json_array())", "no value"),
            ("'[1]'", "not an array of rows"),
        ] {
            let sql = format!("SELECT {values} FROM conversations LIMIT 1");
            let read = all_of_json::<conversation::Model, _>(
                &db,
                Statement::from_string(backend, sql),
                columns,
            )
            .await;
            let error = read.expect_err(why).to_string();
            assert!(error.contains(why), "{why}: {error}");
        }
    }

    #[tokio::test]
    async fn an_entity_s_select_is_read_by_position_and_other_rows_by_name() {
        let dir = tempfile::tempdir().expect("a directory");
        let db = database(&dir).await;
        let backend = db.get_database_backend();
        let row = db
            .query_one(customer::Entity::find().build(backend))
            .await
            .expect("a query")
            .expect("a row");
        assert!(in_order(&row, customer::Model::columns(), 0), "by position");
        for sql in [
            format!(
                "SELECT {} FROM conversations",
                conversation::Model::column_list()
            ),
            format!("SELECT {} FROM messages", message::Model::column_list()),
        ] {
            let row = db
                .query_one(Statement::from_string(backend, sql.clone()))
                .await
                .expect("a query")
                .expect("a row");
            let names = if sql.contains("messages") {
                message::Model::columns()
            } else {
                conversation::Model::columns()
            };
            assert!(in_order(&row, names, 0), "{sql}");
        }

        // The same columns, the first two swapped: read by name, the same model.
        let mut names: Vec<String> = customer::Model::columns()
            .iter()
            .map(|n| format!("\"{n}\""))
            .collect();
        names.swap(0, 1);
        let sql = format!("SELECT {} FROM customers ORDER BY id", names.join(", "));
        let row = db
            .query_one(Statement::from_string(backend, sql))
            .await
            .expect("a query")
            .expect("a row");
        assert!(
            !in_order(&row, customer::Model::columns(), 0),
            "not in order"
        );
        let Fast(read) = Fast::<customer::Model>::from_query_result(&row, "").expect("by name");
        assert_eq!(read, customer(1, Uuid::from_u128(99), true));

        // A whole answer of such rows, read by `all_of`: by name, every row.
        let sql = format!("SELECT {} FROM customers ORDER BY id", names.join(", "));
        let read: Vec<customer::Model> =
            all_of(&db, Statement::from_string(backend, sql), Columns::ALL)
                .await
                .expect("by name");
        let want = customers_by_sea_orm(&db).await;
        assert_eq!(read, want);
    }

    #[tokio::test]
    async fn trailing_values_are_read_after_the_model_s_columns() {
        let dir = tempfile::tempdir().expect("a directory");
        let db = database(&dir).await;
        let backend = db.get_database_backend();
        let row = |sql: String| {
            let db = &db;
            async move {
                db.query_one(Statement::from_string(backend, sql))
                    .await
                    .expect("a query")
                    .expect("a row")
            }
        };
        let columns = customer::Model::column_list();
        let read = row(format!(
            "SELECT {columns}, 7, NULL FROM customers ORDER BY id"
        ))
        .await;
        let Trailing(model, values) =
            Trailing::<customer::Model, 2>::from_query_result(&read, "").expect("read");
        assert_eq!(model, customer(1, Uuid::from_u128(99), true));
        assert_eq!(values, [Some(7), None]);
        // One trailing column too few or too many: refused, not misread.
        for more in ["7", "7, 8, 9"] {
            let sql = format!("SELECT {columns}, {more} FROM customers");
            let read = row(sql.clone()).await;
            assert!(Trailing::<customer::Model, 2>::from_query_result(&read, "").is_err());
            let answer = all_trailing::<customer::Model, 2, _>(
                &db,
                Statement::from_string(backend, sql),
                Columns::ALL,
            );
            assert!(answer.await.is_err(), "{more}");
        }
        // A whole answer: each row's model and values.
        let sql = format!("SELECT {columns}, 7, NULL FROM customers ORDER BY id");
        let read = all_trailing::<customer::Model, 2, _>(
            &db,
            Statement::from_string(backend, sql),
            Columns::ALL,
        )
        .await
        .expect("read");
        let want = customers_by_sea_orm(&db).await;
        assert_eq!(read.len(), want.len());
        for (Trailing(model, values), want) in read.into_iter().zip(want) {
            assert_eq!((model, values), (want, [Some(7), None]));
        }
    }

    #[tokio::test]
    async fn side_by_side_rows_are_read_as_the_model_they_hold() {
        let dir = tempfile::tempdir().expect("a directory");
        let db = database(&dir).await;
        let backend = db.get_database_backend();
        let nulls = |n: usize| vec!["NULL"; n].join(", ");
        let sql = format!(
            "SELECT {}, {} FROM customers WHERE id = (SELECT min(id) FROM customers) \
             UNION ALL SELECT {}, {} FROM conversations",
            customer::Model::column_list(),
            nulls(conversation::Model::columns().len()),
            nulls(customer::Model::columns().len()),
            conversation::Model::column_list(),
        );
        let rows = db
            .query_all(Statement::from_string(backend, sql))
            .await
            .expect("a query");
        let (mut customers, mut conversations) = (Vec::new(), Vec::new());
        for row in &rows {
            match Either::<customer::Model, conversation::Model>::read(row).expect("read") {
                Either::First(c) => customers.push(c),
                Either::Second(c) => conversations.push(c),
            }
        }
        let want: Vec<conversation::Model> = conversation::Entity::find()
            .order_by_asc(conversation::Column::Id)
            .all(&db)
            .await
            .expect("conversations");
        conversations.sort_by_key(|c| c.id);
        assert_eq!(customers, vec![customer(1, Uuid::from_u128(99), true)]);
        assert_eq!(conversations, want);
        assert!(!want.is_empty());
    }

    #[tokio::test]
    async fn columns_listed_with_a_select_take_their_values_in_order() {
        use sea_orm::sea_query::{CommonTableExpression, SqliteQueryBuilder, WithClause};
        use sea_orm::{ColumnTrait, DbBackend, QueryFilter, QueryOrder};
        let page = || {
            customer::Entity::find()
                .filter(customer::Column::TenantId.eq("t"))
                .order_by_asc(customer::Column::Id)
                .limit(1)
        };
        let more = "(SELECT ? + 1), (SELECT length(?))";
        let values = || [7i64.into(), "four".into()];
        let pg = with_columns::<customer::Model>(
            listed_of(page(), Columns::ALL).build(DbBackend::Postgres),
            Columns::ALL,
            more,
            values(),
        )
        .expect("spliced");
        let own = format!("SELECT {} FROM", customer::Model::select_list());
        assert!(
            pg.sql
                .starts_with(&own.replace(" FROM", ", (SELECT $3 + 1), (SELECT length($4)) FROM")),
            "{}",
            pg.sql
        );
        let bound = |s: &Statement| s.values.clone().map(|v| v.0).unwrap_or_default();
        assert_eq!(
            bound(&pg),
            vec!["t".into(), 1u64.into(), 7i64.into(), "four".into()]
        );
        let sqlite = with_columns::<customer::Model>(
            listed_of(page(), Columns::ALL).build(DbBackend::Sqlite),
            Columns::ALL,
            more,
            values(),
        )
        .expect("spliced");
        assert!(sqlite
            .sql
            .contains(", (SELECT ? + 1), (SELECT length(?)) FROM"));
        assert_eq!(bound(&sqlite)[..2], [7i64.into(), "four".into()]);

        // Run on SQLite: the values land where the text takes them.
        let dir = tempfile::tempdir().expect("a directory");
        let db = database(&dir).await;
        let page = || {
            customer::Entity::find()
                .order_by_asc(customer::Column::Id)
                .limit(1)
        };
        let stmt = with_columns::<customer::Model>(
            listed_of(page(), Columns::ALL).build(DbBackend::Sqlite),
            Columns::ALL,
            more,
            values(),
        )
        .expect("spliced");
        let row = db.query_one(stmt).await.expect("a query").expect("a row");
        let Trailing(model, read) =
            Trailing::<customer::Model, 2>::from_query_result(&row, "").expect("read");
        assert_eq!(model, customer(1, Uuid::from_u128(99), true));
        assert_eq!(read, [Some(8), Some(4)]);

        // A select that does not start with the model's columns is left as
        // it is.
        let distinct = || page().distinct();
        let plain = listed_of(distinct(), Columns::ALL).build(DbBackend::Sqlite);
        let left = with_columns::<customer::Model>(plain.clone(), Columns::ALL, more, values());
        assert_eq!(left.err(), Some(plain));

        // After a `WITH` clause, the columns go to the outermost select, not
        // to the common table's.
        let cte = CommonTableExpression::new()
            .query(listed_of(page(), Columns::ALL).into_query())
            .table_name(sea_orm::sea_query::Alias::new("hits"))
            .materialized(true)
            .to_owned();
        let (sql, with_values) = listed_of(page(), Columns::ALL)
            .into_query()
            .with(WithClause::new().cte(cte).to_owned())
            .build(SqliteQueryBuilder);
        let with = Statement::from_sql_and_values(DbBackend::Sqlite, sql, with_values);
        let stmt = with_columns::<customer::Model>(with.clone(), Columns::ALL, more, values())
            .expect("spliced");
        let outer = stmt.sql.rfind(") SELECT ").expect("an outermost select");
        assert_eq!(
            stmt.sql.matches(", (SELECT ? + 1)").count(),
            1,
            "{}",
            stmt.sql
        );
        assert!(stmt.sql[outer..].contains(", (SELECT ? + 1), (SELECT length(?)) FROM"));
        let row = db.query_one(stmt).await.expect("a query").expect("a row");
        let Trailing(model, read) =
            Trailing::<customer::Model, 2>::from_query_result(&row, "").expect("read");
        assert_eq!(model, customer(1, Uuid::from_u128(99), true));
        assert_eq!(read, [Some(8), Some(4)]);
        // A statement of anything else is left as it is.
        let other = Statement::from_string(DbBackend::Sqlite, "VALUES (1)");
        let left = with_columns::<customer::Model>(other.clone(), Columns::ALL, more, values());
        assert_eq!(left.err(), Some(other));
    }
}
