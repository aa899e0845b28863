//! Where a customer write came from: the caller (`sub`) and the path it took
//! ([`Source`]). Every write transaction carries one ([`super::Ctx::write_as`]);
//! the change history records it beside each changed field.

use crate::auth::Actor;

/// The path a customer write took.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source {
    /// A create, update, tag change or delete through either face.
    Api,
    /// A row of an import or an upsert batch.
    Import,
    /// A merge of duplicates, or its undoing.
    Merge,
    /// A block or an unblock.
    Block,
    /// A restore from the trash.
    Restore,
    /// The server itself: the trash sweep, a recount, the seed.
    System,
}

impl Source {
    /// The name stored and shown (`api`, `import`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Api => "api",
            Self::Import => "import",
            Self::Merge => "merge",
            Self::Block => "block",
            Self::Restore => "restore",
            Self::System => "system",
        }
    }
}

/// Who wrote, and through what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// The caller's `sub`, or `system`.
    pub agent: String,
    pub source: Source,
}

impl Origin {
    /// A caller's write through `source`.
    pub fn of(actor: &Actor, source: Source) -> Self {
        Self {
            agent: actor.agent.clone(),
            source,
        }
    }

    /// The server's own write.
    pub fn system() -> Self {
        Self {
            agent: "system".to_owned(),
            source: Source::System,
        }
    }
}
