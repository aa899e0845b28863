//! Merging duplicate customers into one, and undoing it.
//!
//! A merge keeps one customer (the primary) and removes the others, in one
//! write transaction: their conversations (with their messages) and tickets
//! move to the primary; the primary gains their tags, their numbers (each
//! other's own number and alternatives become alternatives of the primary)
//! and the custom fields it lacks (its own values win; a loser's value that
//! lost is kept in the merge record), and their email and external id when
//! it has none; its statistics are recomputed from its rows exactly as
//! `recount` would
//! ([`recount::recount_one`](crate::service::recount::recount_one)). The
//! others' rows are deleted after their whole row, tags and numbers are
//! stored in the merge record
//! (`customer_merges`), so they leave every list, count and search by
//! construction, and the per-tenant counters move through the transaction's
//! hooks like any delete.
//!
//! The undo ([`unmerge`]), within [`UNDO_DAYS`] days, puts each other back
//! with its own row, tags and numbers, moves the conversations and tickets
//! the merge moved back to it (messages follow their conversation, also the
//! ones written after the merge; conversations and tickets created on the
//! primary after the merge stay there), takes from the primary what the
//! merge gave it (where it still holds the merged value), and recomputes
//! everyone's statistics. It refuses, saying why, when it would have to
//! overwrite something written since: the primary is gone (deleted, or
//! merged into another customer), in the trash, or answers to one of the
//! restored numbers as its own; a restored number or external id is now
//! another customer's; or bring back what an erasure removed: once an
//! erasure reached the record (the primary, or a customer merged into it,
//! was erased), the merge stands for good.
//!
//! Both lock every customer they write in id order before writing
//! (PostgreSQL `SELECT ... ORDER BY id FOR UPDATE`; SQLite has one writer at
//! a time), customers before their conversations like every writer, so two
//! merges of overlapping customers serialize: the second finds a customer
//! the first removed gone, and fails with NOT_FOUND.
//!
//! One file each: what the faces show (`view`), the stored record and its
//! reading (`record`), merging (`merge`), the undo (`undo`) and what an
//! erasure does to the records (`erase`). The faces use the items
//! re-exported here; the files import each other by their own paths, never
//! through these re-exports.
//!
//! Imports `customers` (views), `customer_rows`, `recount`, `scope`,
//! `events` and `history`; imported by the faces and by `erasure`, which
//! calls [`erase_person`] so an erasure reaches what the records keep.

mod erase;
mod merge;
mod record;
mod undo;
mod view;

pub(crate) use erase::erase_person;
pub use merge::merge;
pub use record::get;
pub use undo::unmerge;
pub use view::{KeptValue, MergeRecord, Merged, Moved, MAX_OTHERS, UNDO_DAYS};
