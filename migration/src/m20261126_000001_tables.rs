//! The tables, their keys, and an index for every filter and sort the lists offer.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Agents {
    Table,
    Id,
    TenantId,
    Name,
    Email,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Customers {
    Table,
    Id,
    TenantId,
    PhoneNumber,
    FirstName,
    LastName,
    Email,
    Avatar,
    AlternativePhones,
    Address,
    Tags,
    Segment,
    Source,
    CustomFields,
    PreferredLanguage,
    CommunicationHours,
    PreferredAgentId,
    Status,
    StatusBeforeBlock,
    IsBlocked,
    BlockReason,
    Notes,
    SearchText,
    TotalConversations,
    OpenConversations,
    ResolvedConversations,
    TotalMessages,
    TotalTickets,
    ResponseTimeMs,
    ResponseCount,
    RatingTotal,
    RatingCount,
    FirstContact,
    LastInteraction,
    LastMessageAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum CustomerPhones {
    Table,
    TenantId,
    Phone,
    CustomerId,
}

#[derive(DeriveIden)]
enum CustomerTags {
    Table,
    CustomerId,
    Tag,
    TenantId,
}

#[derive(DeriveIden)]
enum Conversations {
    Table,
    Id,
    TenantId,
    CustomerId,
    Status,
    Channel,
    Subject,
    AssignedAgentId,
    Rating,
    MessageCount,
    LastMessageAt,
    ActivityAt,
    ResponseTimeMs,
    ResponseCount,
    CreatedAt,
    UpdatedAt,
    ResolvedAt,
}

#[derive(DeriveIden)]
enum Messages {
    Table,
    Id,
    TenantId,
    ConversationId,
    CustomerId,
    Direction,
    Body,
    AgentId,
    SentAt,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Tickets {
    Table,
    Id,
    TenantId,
    CustomerId,
    ConversationId,
    Subject,
    Status,
    CreatedAt,
    ClosedAt,
}

fn zero_int<T: IntoIden>(col: T) -> ColumnDef {
    ColumnDef::new(col)
        .integer()
        .not_null()
        .default(0)
        .to_owned()
}

fn index<T: IntoIden + 'static>(
    name: &str,
    table: T,
    cols: &[&'static str],
) -> IndexCreateStatement {
    let mut stmt = Index::create();
    stmt.name(name).table(table);
    for col in cols {
        stmt.col(Alias::new(*col));
    }
    stmt.to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Agents::Table)
                    .col(ColumnDef::new(Agents::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(Agents::TenantId).string().not_null())
                    .col(ColumnDef::new(Agents::Name).string().not_null())
                    .col(ColumnDef::new(Agents::Email).string())
                    .col(
                        ColumnDef::new(Agents::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Agents::UpdatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Customers::Table)
                    .col(
                        ColumnDef::new(Customers::Id)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(Customers::TenantId).string().not_null())
                    .col(ColumnDef::new(Customers::PhoneNumber).string().not_null())
                    .col(ColumnDef::new(Customers::FirstName).string())
                    .col(ColumnDef::new(Customers::LastName).string())
                    .col(ColumnDef::new(Customers::Email).string())
                    .col(ColumnDef::new(Customers::Avatar).string())
                    .col(
                        ColumnDef::new(Customers::AlternativePhones)
                            .json_binary()
                            .not_null(),
                    )
                    .col(ColumnDef::new(Customers::Address).json_binary())
                    .col(ColumnDef::new(Customers::Tags).json_binary().not_null())
                    .col(ColumnDef::new(Customers::Segment).string().not_null())
                    .col(ColumnDef::new(Customers::Source).string().not_null())
                    .col(
                        ColumnDef::new(Customers::CustomFields)
                            .json_binary()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Customers::PreferredLanguage)
                            .string()
                            .not_null(),
                    )
                    .col(ColumnDef::new(Customers::CommunicationHours).json_binary())
                    .col(ColumnDef::new(Customers::PreferredAgentId).uuid())
                    .col(ColumnDef::new(Customers::Status).string().not_null())
                    .col(ColumnDef::new(Customers::StatusBeforeBlock).string())
                    .col(
                        ColumnDef::new(Customers::IsBlocked)
                            .boolean()
                            .not_null()
                            .default(false),
                    )
                    .col(ColumnDef::new(Customers::BlockReason).string())
                    .col(ColumnDef::new(Customers::Notes).text())
                    .col(ColumnDef::new(Customers::SearchText).text().not_null())
                    .col(zero_int(Customers::TotalConversations))
                    .col(zero_int(Customers::OpenConversations))
                    .col(zero_int(Customers::ResolvedConversations))
                    .col(zero_int(Customers::TotalMessages))
                    .col(zero_int(Customers::TotalTickets))
                    .col(
                        ColumnDef::new(Customers::ResponseTimeMs)
                            .big_integer()
                            .not_null()
                            .default(0),
                    )
                    .col(zero_int(Customers::ResponseCount))
                    .col(zero_int(Customers::RatingTotal))
                    .col(zero_int(Customers::RatingCount))
                    .col(ColumnDef::new(Customers::FirstContact).timestamp_with_time_zone())
                    .col(
                        ColumnDef::new(Customers::LastInteraction)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(ColumnDef::new(Customers::LastMessageAt).timestamp_with_time_zone())
                    .col(
                        ColumnDef::new(Customers::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Customers::UpdatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(CustomerPhones::Table)
                    .col(ColumnDef::new(CustomerPhones::TenantId).string().not_null())
                    .col(ColumnDef::new(CustomerPhones::Phone).string().not_null())
                    .col(ColumnDef::new(CustomerPhones::CustomerId).uuid().not_null())
                    .primary_key(
                        Index::create()
                            .col(CustomerPhones::TenantId)
                            .col(CustomerPhones::Phone),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(CustomerPhones::Table, CustomerPhones::CustomerId)
                            .to(Customers::Table, Customers::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(CustomerTags::Table)
                    .col(ColumnDef::new(CustomerTags::CustomerId).uuid().not_null())
                    .col(ColumnDef::new(CustomerTags::Tag).string().not_null())
                    .col(ColumnDef::new(CustomerTags::TenantId).string().not_null())
                    .primary_key(
                        Index::create()
                            .col(CustomerTags::CustomerId)
                            .col(CustomerTags::Tag),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(CustomerTags::Table, CustomerTags::CustomerId)
                            .to(Customers::Table, Customers::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Conversations::Table)
                    .col(
                        ColumnDef::new(Conversations::Id)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(Conversations::TenantId).string().not_null())
                    .col(ColumnDef::new(Conversations::CustomerId).uuid().not_null())
                    .col(ColumnDef::new(Conversations::Status).string().not_null())
                    .col(ColumnDef::new(Conversations::Channel).string().not_null())
                    .col(ColumnDef::new(Conversations::Subject).string())
                    .col(ColumnDef::new(Conversations::AssignedAgentId).uuid())
                    .col(ColumnDef::new(Conversations::Rating).integer())
                    .col(zero_int(Conversations::MessageCount))
                    .col(ColumnDef::new(Conversations::LastMessageAt).timestamp_with_time_zone())
                    .col(
                        ColumnDef::new(Conversations::ActivityAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Conversations::ResponseTimeMs)
                            .big_integer()
                            .not_null()
                            .default(0),
                    )
                    .col(zero_int(Conversations::ResponseCount))
                    .col(
                        ColumnDef::new(Conversations::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Conversations::UpdatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(ColumnDef::new(Conversations::ResolvedAt).timestamp_with_time_zone())
                    .foreign_key(
                        ForeignKey::create()
                            .from(Conversations::Table, Conversations::CustomerId)
                            .to(Customers::Table, Customers::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Messages::Table)
                    .col(ColumnDef::new(Messages::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(Messages::TenantId).string().not_null())
                    .col(ColumnDef::new(Messages::ConversationId).uuid().not_null())
                    .col(ColumnDef::new(Messages::CustomerId).uuid().not_null())
                    .col(ColumnDef::new(Messages::Direction).string().not_null())
                    .col(ColumnDef::new(Messages::Body).text().not_null())
                    .col(ColumnDef::new(Messages::AgentId).uuid())
                    .col(
                        ColumnDef::new(Messages::SentAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Messages::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Messages::Table, Messages::ConversationId)
                            .to(Conversations::Table, Conversations::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Tickets::Table)
                    .col(ColumnDef::new(Tickets::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(Tickets::TenantId).string().not_null())
                    .col(ColumnDef::new(Tickets::CustomerId).uuid().not_null())
                    .col(ColumnDef::new(Tickets::ConversationId).uuid())
                    .col(ColumnDef::new(Tickets::Subject).string().not_null())
                    .col(ColumnDef::new(Tickets::Status).string().not_null())
                    .col(
                        ColumnDef::new(Tickets::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(ColumnDef::new(Tickets::ClosedAt).timestamp_with_time_zone())
                    .foreign_key(
                        ForeignKey::create()
                            .from(Tickets::Table, Tickets::CustomerId)
                            .to(Customers::Table, Customers::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;

        let indexes = [
            index("agents_tenant", Agents::Table, &["tenant_id", "name"]),
            // One number, one customer per tenant (the phone table also holds
            // alternatives; this keeps the primary number honest on its own).
            index(
                "customers_tenant_phone",
                Customers::Table,
                &["tenant_id", "phone_number"],
            )
            .unique()
            .to_owned(),
            // Sorts: every sortBy of the list, tie-broken on id.
            index(
                "customers_tenant_last_interaction",
                Customers::Table,
                &["tenant_id", "last_interaction", "id"],
            ),
            index(
                "customers_tenant_created_at",
                Customers::Table,
                &["tenant_id", "created_at", "id"],
            ),
            index(
                "customers_tenant_updated_at",
                Customers::Table,
                &["tenant_id", "updated_at", "id"],
            ),
            index(
                "customers_tenant_first_contact",
                Customers::Table,
                &["tenant_id", "first_contact", "id"],
            ),
            index(
                "customers_tenant_last_message_at",
                Customers::Table,
                &["tenant_id", "last_message_at", "id"],
            ),
            index(
                "customers_tenant_first_name",
                Customers::Table,
                &["tenant_id", "first_name", "id"],
            ),
            index(
                "customers_tenant_last_name",
                Customers::Table,
                &["tenant_id", "last_name", "id"],
            ),
            index(
                "customers_tenant_email",
                Customers::Table,
                &["tenant_id", "email", "id"],
            ),
            // Filters, each with the default sort behind it.
            index(
                "customers_tenant_status",
                Customers::Table,
                &["tenant_id", "status", "last_interaction", "id"],
            ),
            index(
                "customers_tenant_segment",
                Customers::Table,
                &["tenant_id", "segment", "last_interaction", "id"],
            ),
            index(
                "customers_tenant_source",
                Customers::Table,
                &["tenant_id", "source", "last_interaction", "id"],
            ),
            index(
                "customers_tenant_blocked",
                Customers::Table,
                &["tenant_id", "is_blocked"],
            ),
            index(
                "customer_phones_customer",
                CustomerPhones::Table,
                &["customer_id"],
            ),
            index(
                "customer_tags_tenant_tag",
                CustomerTags::Table,
                &["tenant_id", "tag", "customer_id"],
            ),
            index(
                "conversations_customer_activity",
                Conversations::Table,
                &["customer_id", "activity_at", "id"],
            ),
            index(
                "conversations_tenant_status",
                Conversations::Table,
                &["tenant_id", "status"],
            ),
            index(
                "messages_conversation_sent",
                Messages::Table,
                &["conversation_id", "sent_at", "id"],
            ),
            index("messages_customer", Messages::Table, &["customer_id"]),
            index(
                "tickets_customer",
                Tickets::Table,
                &["customer_id", "created_at"],
            ),
            index("tickets_conversation", Tickets::Table, &["conversation_id"]),
        ];
        for stmt in indexes {
            manager.create_index(stmt).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            Tickets::Table.into_iden(),
            Messages::Table.into_iden(),
            Conversations::Table.into_iden(),
            CustomerTags::Table.into_iden(),
            CustomerPhones::Table.into_iden(),
            Customers::Table.into_iden(),
            Agents::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
