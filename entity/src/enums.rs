//! The closed sets of strings that columns store (customer status, segment
//! and source; conversation status; message direction; ticket status; the
//! source of a recorded change; an import job's status, mode, format and
//! match keys), defined once: the model fields are these enums, SeaORM reads and
//! writes them as the very strings the columns always held (no database enum
//! type, no migration), and the server re-exports them from its `domain`.
//!
//! [`string_enum!`](crate::string_enum) is the one definition of such a set,
//! also used by the server for sets no column holds (sort fields, tag
//! actions...). With the `utoipa` feature, [`string_enum_schema!`](crate::string_enum_schema)
//! gives a set its OpenAPI schema (a string, one of the spellings).
//! Imports nothing of the server.

/// Defines a closed set of lowercase strings, stored and sent in REST as the
/// string: the enum, `ALL`, `as_str`, `parse`, `expected`, and serde as the
/// string. Variants may carry their own `///` docs. `column` in front of the name also makes it a SeaORM string
/// column type (`DeriveActiveEnum`) storing the same spellings. The GraphQL
/// face declares its own enum for each, so nothing of GraphQL is derived.
#[macro_export]
macro_rules! string_enum {
    ($(#[$meta:meta])* column $name:ident {
        $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)?
    }) => {
        $(#[$meta])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash,
            sea_orm::EnumIter, sea_orm::DeriveActiveEnum,
        )]
        #[sea_orm(rs_type = "String", db_type = "String(sea_orm::sea_query::StringLen::None)")]
        pub enum $name { $($(#[$vmeta])* #[sea_orm(string_value = $text)] $variant),+ }

        $crate::string_enum!(@helpers $name { $($variant = $text),+ });
    };
    ($(#[$meta:meta])* $name:ident {
        $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)?
    }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $($(#[$vmeta])* $variant),+ }

        $crate::string_enum!(@helpers $name { $($variant = $text),+ });
    };
    (@helpers $name:ident { $($variant:ident = $text:literal),+ }) => {
        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stored (and REST) spelling.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            /// Reads the stored (and REST) spelling.
            pub fn parse(text: &str) -> Option<Self> {
                match text { $($text => Some($name::$variant),)+ _ => None }
            }

            /// "one of a, b, c", for error messages.
            pub fn expected() -> String {
                format!("must be one of {}", [$($text),+].join(", "))
            }
        }

        impl $crate::__private::serde::Serialize for $name {
            fn serialize<S: $crate::__private::serde::Serializer>(
                &self,
                s: S,
            ) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> $crate::__private::serde::Deserialize<'de> for $name {
            fn deserialize<D: $crate::__private::serde::Deserializer<'de>>(
                d: D,
            ) -> Result<Self, D::Error> {
                let text = <String as $crate::__private::serde::Deserialize>::deserialize(d)?;
                $name::parse(&text).ok_or_else(|| {
                    <D::Error as $crate::__private::serde::de::Error>::custom($name::expected())
                })
            }
        }
    };
}

/// Gives sets made by [`string_enum!`](crate::string_enum) their OpenAPI
/// schema: a string, one of the spellings, named after the type.
#[cfg(feature = "utoipa")]
#[macro_export]
macro_rules! string_enum_schema {
    ($($name:ident),+ $(,)?) => {$(
        impl $crate::__private::utoipa::PartialSchema for $name {
            /// A string, one of the REST spellings.
            fn schema() -> $crate::__private::utoipa::openapi::RefOr<
                $crate::__private::utoipa::openapi::schema::Schema,
            > {
                use $crate::__private::utoipa::openapi::schema::{ObjectBuilder, Type};
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .enum_values(Some($name::ALL.iter().map(|v| v.as_str())))
                    .into()
            }
        }

        impl $crate::__private::utoipa::ToSchema for $name {}
    )+};
}

string_enum!(
    /// Lifecycle status of a customer.
    column CustomerStatus { Active = "active", Inactive = "inactive", Blocked = "blocked", Vip = "vip" }
);
string_enum!(
    /// Marketing segment of a customer.
    column CustomerSegment { Vip = "vip", Regular = "regular", New = "new", Inactive = "inactive" }
);
string_enum!(
    /// Where a customer came from.
    column CustomerSource {
        Whatsapp = "whatsapp",
        Referral = "referral",
        Website = "website",
        SocialMedia = "social_media",
        Other = "other",
    }
);
string_enum!(
    /// Where a conversation stands; OPEN and PENDING count as open.
    column ConversationStatus { Open = "open", Pending = "pending", Resolved = "resolved" }
);
string_enum!(
    /// Who sent a message: the customer (inbound) or the desk (outbound).
    column MessageDirection { Inbound = "inbound", Outbound = "outbound" }
);
string_enum!(
    /// Whether a ticket still needs work.
    column TicketStatus { Open = "open", Closed = "closed" }
);
string_enum!(
    /// The path a customer write took, as the change history stores it.
    column ChangeSource {
        /// A create, update, tag change or delete through either face.
        Api = "api",
        /// A row of an import or an upsert batch.
        Import = "import",
        /// A merge of duplicates, or its undoing.
        Merge = "merge",
        /// A block or an unblock.
        Block = "block",
        /// A restore from the trash.
        Restore = "restore",
        /// An erasure of the customer's personal data.
        Erase = "erase",
        /// The server itself: the trash sweep, a recount, the seed.
        System = "system",
    }
);

string_enum!(
    /// Where an import job stands: `queued` (waiting for a turn), `running`,
    /// then `succeeded`, `failed` or `cancelled`.
    column ImportJobStatus {
        Queued = "queued",
        Running = "running",
        Succeeded = "succeeded",
        Failed = "failed",
        Cancelled = "cancelled",
    }
);
string_enum!(
    /// What an import does with a row: `create` (new customers only, a row
    /// matching a stored one is a duplicate), `update` (stored customers
    /// only, a row matching none fails) or `upsert` (updates the customer a
    /// row matches, creates one otherwise).
    column ImportMode { Create = "create", Update = "update", Upsert = "upsert" }
);
string_enum!(
    /// An import file's format: `csv` (a header row naming the export's
    /// columns, then one customer a row), `ndjson` (one customer object per
    /// line) or `json` (`{customers: [...]}`, an export, or a bare list).
    column ImportFormat { Csv = "csv", Ndjson = "ndjson", Json = "json" }
);
string_enum!(
    /// What an import row is matched to stored customers by: `phone` (any of
    /// the row's canonical numbers against every number a customer answers
    /// to), `email` (case-insensitively) or `externalId` (exactly). A job's
    /// list of them is [`MatchKeys`](crate::import_job::MatchKeys).
    MatchKey { Phone = "phone", Email = "email", ExternalId = "externalId" }
);

impl ImportJobStatus {
    /// The statuses of a job that has not ended (its owner keeps it alive).
    pub const ACTIVE: [ImportJobStatus; 2] = [ImportJobStatus::Queued, ImportJobStatus::Running];

    /// Whether the job has ended.
    pub fn is_final(self) -> bool {
        !Self::ACTIVE.contains(&self)
    }
}

#[cfg(feature = "utoipa")]
string_enum_schema!(
    ImportJobStatus,
    ImportMode,
    ImportFormat,
    MatchKey,
    CustomerStatus,
    CustomerSegment,
    CustomerSource,
    ConversationStatus,
    MessageDirection,
    TicketStatus,
);

impl ConversationStatus {
    /// Whether a conversation in this status counts as resolved (else as
    /// open): what the customer's open and resolved counters follow.
    pub fn is_resolved(self) -> bool {
        self == ConversationStatus::Resolved
    }
}

#[cfg(test)]
mod tests {
    use sea_orm::ActiveEnum;

    use super::*;

    #[test]
    fn stored_spellings_round_trip_and_only_resolved_counts_as_resolved() {
        for s in ConversationStatus::ALL {
            assert_eq!(ConversationStatus::parse(s.as_str()), Some(*s));
        }
        let resolved: Vec<_> = ConversationStatus::ALL
            .iter()
            .filter(|s| s.is_resolved())
            .collect();
        assert_eq!(resolved, [&ConversationStatus::Resolved]);
        assert_eq!(
            MessageDirection::parse("inbound"),
            Some(MessageDirection::Inbound)
        );
        assert_eq!(TicketStatus::parse("closed"), Some(TicketStatus::Closed));
        assert_eq!(TicketStatus::parse("Closed"), None);
    }

    #[test]
    fn columns_store_exactly_the_rest_spellings() {
        fn check<T: ActiveEnum<Value = String> + Copy + std::fmt::Debug + PartialEq>(
            all: &[T],
            as_str: fn(T) -> &'static str,
        ) {
            for v in all {
                assert_eq!(v.to_value(), as_str(*v));
                assert_eq!(T::try_from_value(&as_str(*v).to_owned()).ok(), Some(*v));
            }
        }
        check(CustomerStatus::ALL, CustomerStatus::as_str);
        check(CustomerSegment::ALL, CustomerSegment::as_str);
        check(CustomerSource::ALL, CustomerSource::as_str);
        check(ConversationStatus::ALL, ConversationStatus::as_str);
        check(MessageDirection::ALL, MessageDirection::as_str);
        check(TicketStatus::ALL, TicketStatus::as_str);
        check(ChangeSource::ALL, ChangeSource::as_str);
        check(ImportJobStatus::ALL, ImportJobStatus::as_str);
        check(ImportMode::ALL, ImportMode::as_str);
        check(ImportFormat::ALL, ImportFormat::as_str);
        assert_eq!(CustomerSource::SocialMedia.to_value(), "social_media");
        assert!(CustomerStatus::try_from_value(&"Active".to_owned()).is_err());
    }

    #[test]
    fn only_queued_and_running_jobs_have_not_ended() {
        let active: Vec<_> = ImportJobStatus::ALL
            .iter()
            .filter(|s| !s.is_final())
            .copied()
            .collect();
        assert_eq!(active, ImportJobStatus::ACTIVE);
    }

    #[test]
    fn serde_uses_the_spelling_and_names_the_choices() {
        assert_eq!(
            serde_json::to_value(CustomerSource::SocialMedia).ok(),
            Some(serde_json::json!("social_media"))
        );
        let err = serde_json::from_value::<TicketStatus>(serde_json::json!("shut"))
            .err()
            .map(|e| e.to_string());
        assert_eq!(err.as_deref(), Some("must be one of open, closed"));
    }
}
