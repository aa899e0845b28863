//! The change history of customers: where a write came from (the caller's
//! `sub` and the path it took, [`Source`]), what each write changed field by
//! field ([`Log`], filled by the write transaction's customer hooks and
//! written at its commit, in the same transaction, with one multi-row
//! insert), and reading it back newest first.
//!
//! What is recorded: the customer's own fields under their GraphQL names
//! ([`FIELDS`]), each value as JSON (enums as their GraphQL names, times as
//! RFC 3339 with milliseconds), stored as its text. The statistics and the search text,
//! which every message changes, are not. A creation records one entry per
//! field it set (old value absent, fields left empty not recorded); a
//! change one entry per field that moved; a removal (hard delete, purge)
//! one entry whose field is `*`. Entries are kept by tenant and customer id,
//! so they outlive a soft and a hard delete; an erasure replaces the
//! personal values in them ([`PERSONAL`], [`scrub`]).
//!
//! One file each: recording (`log`), reading back (`read`) and the paging
//! of newest-first lists that the history and the trash share (`paging`).
//! Imports `scope` and the crate root of `service` only.

mod log;
mod paging;
mod read;

pub use log::{
    erased, scrub, FieldValue, Log, Origin, SharedLog, Source, FIELDS, PERSONAL, REMOVED,
};
pub(crate) use paging::{after_cursor, encode_cursor, numbered};
pub use paging::{DEFAULT_FIRST, MAX_FIRST};
pub use read::{connection, known, page, Change, ChangePage};
