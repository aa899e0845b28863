//! Tenancy enforced by the database too: every key is led by `tenant_id`
//! (migration 3; the import tables, migration 10), so hand-written SQL that points a row of one tenant at a row
//! of another is refused by the database itself; and migrating an existing
//! database to those keys keeps every row.
//!
//! Rows are written here by SQL, past the service and its tenant-scoped
//! queries, exactly as a bug or an operator's script would write them.

use chrono::Utc;
use clientela::auth::Role;
use entity::{
    agent, conversation, customer, customer_phone, customer_tag, import_error, import_job, message,
    ticket,
};
use migration::{Migrator, MigratorTrait};
use reqwest::{Method, StatusCode};
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DbBackend, DbErr, EntityTrait, RuntimeErr, SqlErr,
    Statement, TransactionTrait, Value,
};
use serde_json::json;
use uuid::Uuid;

use crate::helpers::TestApp;

const A: &str = "tenant-a";
const B: &str = "tenant-b";

/// Runs `text` (`?` placeholders, numbered for PostgreSQL) with `values`.
async fn sql(db: &DatabaseConnection, text: &str, values: Vec<Value>) -> Result<(), DbErr> {
    let backend = db.get_database_backend();
    let text = match backend {
        DbBackend::Postgres => {
            let mut n = 0;
            text.split('?')
                .enumerate()
                .map(|(i, part)| {
                    if i == 0 {
                        part.to_owned()
                    } else {
                        n += 1;
                        format!("${n}{part}")
                    }
                })
                .collect()
        }
        _ => text.to_owned(),
    };
    db.execute(Statement::from_sql_and_values(backend, text, values))
        .await
        .map(drop)
}

/// Asserts a write was refused as a foreign-key violation; on PostgreSQL,
/// by the constraint named `constraint` (SQLite's errors name none).
fn assert_refused(result: Result<(), DbErr>, constraint: &str) {
    let err = result.expect_err(&format!("refused by {constraint}"));
    assert!(
        matches!(
            err.sql_err(),
            Some(SqlErr::ForeignKeyConstraintViolation(_))
        ),
        "{constraint}: not a foreign-key violation: {err}"
    );
    if let DbErr::Exec(RuntimeErr::SqlxError(sea_orm::sqlx::Error::Database(e))) = &err {
        if let Some(name) = e.constraint() {
            assert_eq!(name, constraint, "{err}");
        }
    }
}

/// A customer of `tenant` whose search text holds `name`.
async fn customer(db: &DatabaseConnection, tenant: &str, phone: &str, name: &str) -> Uuid {
    let id = Uuid::now_v7();
    let now = Utc::now();
    sql(
        db,
        "INSERT INTO customers (id, tenant_id, phone_number, first_name, alternative_phones, tags, \
         segment, source, custom_fields, preferred_language, status, search_text, last_interaction, \
         created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, 'regular', 'whatsapp', ?, 'es', 'active', ?, ?, ?, ?)",
        vec![
            id.into(),
            tenant.into(),
            phone.into(),
            name.into(),
            json!([]).into(),
            json!([]).into(),
            json!({}).into(),
            format!("{phone} {}", name.to_lowercase()).into(),
            now.into(),
            now.into(),
            now.into(),
        ],
    )
    .await
    .expect("insert customer");
    id
}

async fn agent(db: &DatabaseConnection, tenant: &str) -> Uuid {
    let id = Uuid::now_v7();
    let now = Utc::now();
    sql(
        db,
        "INSERT INTO agents (id, tenant_id, name, created_at, updated_at) VALUES (?, ?, 'Ana', ?, ?)",
        vec![id.into(), tenant.into(), now.into(), now.into()],
    )
    .await
    .expect("insert agent");
    id
}

async fn conversation(
    db: &DatabaseConnection,
    tenant: &str,
    customer: Uuid,
) -> Result<Uuid, DbErr> {
    let id = Uuid::now_v7();
    let now = Utc::now();
    sql(
        db,
        "INSERT INTO conversations (id, tenant_id, customer_id, status, channel, activity_at, \
         created_at, updated_at) VALUES (?, ?, ?, 'open', 'whatsapp', ?, ?, ?)",
        vec![
            id.into(),
            tenant.into(),
            customer.into(),
            now.into(),
            now.into(),
            now.into(),
        ],
    )
    .await?;
    Ok(id)
}

async fn message(
    db: &DatabaseConnection,
    tenant: &str,
    conversation: Uuid,
    customer: Uuid,
) -> Result<Uuid, DbErr> {
    let id = Uuid::now_v7();
    let now = Utc::now();
    sql(
        db,
        "INSERT INTO messages (id, tenant_id, conversation_id, customer_id, direction, body, \
         sent_at, created_at) VALUES (?, ?, ?, ?, 'inbound', 'hola', ?, ?)",
        vec![
            id.into(),
            tenant.into(),
            conversation.into(),
            customer.into(),
            now.into(),
            now.into(),
        ],
    )
    .await?;
    Ok(id)
}

async fn ticket(
    db: &DatabaseConnection,
    tenant: &str,
    customer: Uuid,
    conversation: Option<Uuid>,
) -> Result<Uuid, DbErr> {
    let id = Uuid::now_v7();
    sql(
        db,
        "INSERT INTO tickets (id, tenant_id, customer_id, conversation_id, subject, status, created_at) \
         VALUES (?, ?, ?, ?, 'Refund', 'open', ?)",
        vec![
            id.into(),
            tenant.into(),
            customer.into(),
            conversation.into(),
            Utc::now().into(),
        ],
    )
    .await?;
    Ok(id)
}

async fn tag(
    db: &DatabaseConnection,
    tenant: &str,
    customer: Uuid,
    tag: &str,
) -> Result<(), DbErr> {
    sql(
        db,
        "INSERT INTO customer_tags (customer_id, tag, tenant_id) VALUES (?, ?, ?)",
        vec![customer.into(), tag.into(), tenant.into()],
    )
    .await
}

async fn phone(
    db: &DatabaseConnection,
    tenant: &str,
    customer: Uuid,
    phone: &str,
) -> Result<(), DbErr> {
    sql(
        db,
        "INSERT INTO customer_phones (tenant_id, phone, customer_id) VALUES (?, ?, ?)",
        vec![tenant.into(), phone.into(), customer.into()],
    )
    .await
}

async fn a_conversation_of_one_tenant_cannot_belong_to_another_tenants_customer(app: TestApp) {
    let db = &app.db;
    let a = customer(db, A, "5215550000001", "Alicia").await;
    let b = customer(db, B, "5215550000002", "Bruno").await;
    conversation(db, B, b).await.expect("same tenant");
    assert_refused(
        conversation(db, B, a).await.map(drop),
        "conversations_customer_fkey",
    );
}

async fn a_message_cannot_point_at_another_tenants_conversation_or_customer(app: TestApp) {
    let db = &app.db;
    let a = customer(db, A, "5215550000001", "Alicia").await;
    let b = customer(db, B, "5215550000002", "Bruno").await;
    let conv_a = conversation(db, A, a).await.expect("same tenant");
    let conv_b = conversation(db, B, b).await.expect("same tenant");
    message(db, B, conv_b, b).await.expect("same tenant");
    assert_refused(
        message(db, B, conv_a, b).await.map(drop),
        "messages_conversation_fkey",
    );
    assert_refused(
        message(db, B, conv_b, a).await.map(drop),
        "messages_customer_fkey",
    );
}

async fn a_tag_or_phone_row_cannot_point_at_another_tenants_customer(app: TestApp) {
    let db = &app.db;
    let a = customer(db, A, "5215550000001", "Alicia").await;
    let b = customer(db, B, "5215550000002", "Bruno").await;
    tag(db, B, b, "vip").await.expect("same tenant");
    assert_refused(tag(db, B, a, "vip").await, "customer_tags_customer_fkey");
    phone(db, B, b, "5215550000009").await.expect("same tenant");
    assert_refused(
        phone(db, B, a, "5215550000008").await,
        "customer_phones_customer_fkey",
    );
}

/// A number held twice in one tenant is the phone key's violation as the
/// database reports it (PostgreSQL names the constraint, SQLite the
/// columns), and the crate's one conversion of database errors names the
/// phone key; another tenant may hold the same number.
async fn a_number_held_twice_in_a_tenant_is_classified_as_the_phone_key(app: TestApp) {
    let db = &app.db;
    let first = customer(db, A, "5215550000001", "Alicia").await;
    let second = customer(db, A, "5215550000002", "Ana").await;
    let other = customer(db, B, "5215550000003", "Bruno").await;
    phone(db, A, first, "5215550000007")
        .await
        .expect("first holder");
    phone(db, B, other, "5215550000007")
        .await
        .expect("the same number in another tenant");
    let err = phone(db, A, second, "5215550000007")
        .await
        .expect_err("a second holder in the tenant");
    let text = match db.get_database_backend() {
        DbBackend::Postgres => "unique constraint \"customer_phones_pkey\"",
        _ => "UNIQUE constraint failed: customer_phones.tenant_id, customer_phones.phone",
    };
    assert!(err.to_string().contains(text), "{err}");
    assert!(
        matches!(
            clientela::error::Error::from(err),
            clientela::error::Error::Taken(clientela::error::UniqueKey::Phone)
        ),
        "not classified as the phone key"
    );
}

async fn a_ticket_cannot_point_at_another_tenants_customer_or_conversation(app: TestApp) {
    let db = &app.db;
    let a = customer(db, A, "5215550000001", "Alicia").await;
    let b = customer(db, B, "5215550000002", "Bruno").await;
    let conv_a = conversation(db, A, a).await.expect("same tenant");
    let conv_b = conversation(db, B, b).await.expect("same tenant");
    ticket(db, B, b, None)
        .await
        .expect("no conversation is not checked");
    ticket(db, B, b, Some(conv_b)).await.expect("same tenant");
    assert_refused(
        ticket(db, B, a, None).await.map(drop),
        "tickets_customer_fkey",
    );
    assert_refused(
        ticket(db, B, b, Some(conv_a)).await.map(drop),
        "tickets_conversation_fkey",
    );
    // The service detaches a conversation's tickets before deleting it;
    // SQL that does not is refused rather than leaving them dangling.
    assert_refused(
        sql(
            db,
            "DELETE FROM conversations WHERE tenant_id = ? AND id = ?",
            vec![B.into(), conv_b.into()],
        )
        .await,
        "tickets_conversation_fkey",
    );
}

/// Point 3 of the change: the keys would be decoration on SQLite otherwise.
async fn every_pooled_sqlite_connection_enforces_foreign_keys(app: TestApp) {
    if app.backend != crate::helpers::Backend::Sqlite {
        return;
    }
    // Open transactions hold their connections, so each asks a different one.
    let mut open = Vec::new();
    for _ in 0..5 {
        let txn = app.db.begin().await.expect("begin");
        let row = txn
            .query_one(Statement::from_string(
                DbBackend::Sqlite,
                "PRAGMA foreign_keys",
            ))
            .await
            .expect("pragma")
            .expect("a row");
        assert_eq!(row.try_get_by_index::<i32>(0).expect("an integer"), 1);
        open.push(txn);
    }
}

/// Every row of every table, in a stable order.
#[derive(Debug, PartialEq)]
struct Rows {
    agents: Vec<agent::Model>,
    /// As JSON, the columns the tenant-key step knew (later steps add some).
    customers: Vec<serde_json::Value>,
    phones: Vec<customer_phone::Model>,
    tags: Vec<customer_tag::Model>,
    conversations: Vec<conversation::Model>,
    messages: Vec<message::Model>,
    tickets: Vec<ticket::Model>,
}

async fn all_rows(db: &DatabaseConnection) -> Rows {
    async fn all<E: EntityTrait>(db: &DatabaseConnection) -> Vec<E::Model>
    where
        E::Model: std::fmt::Debug,
    {
        let mut rows = E::find().all(db).await.expect("read rows");
        rows.sort_by_key(|m| format!("{m:?}"));
        rows
    }
    Rows {
        agents: all::<agent::Entity>(db).await,
        customers: {
            use sea_orm::{Iterable, QuerySelect};
            let known = customer::Column::iter().filter(|c| {
                !matches!(
                    c,
                    customer::Column::ExternalId
                        | customer::Column::DeletedAt
                        | customer::Column::StatusBeforeDelete
                )
            });
            let mut rows = customer::Entity::find()
                .select_only()
                .columns(known)
                .into_json()
                .all(db)
                .await
                .expect("read customers");
            rows.sort_by_key(|m| m.to_string());
            rows
        },
        phones: all::<customer_phone::Entity>(db).await,
        tags: all::<customer_tag::Entity>(db).await,
        conversations: all::<conversation::Entity>(db).await,
        messages: all::<message::Entity>(db).await,
        tickets: all::<ticket::Entity>(db).await,
    }
}

/// Two tenants' worth of rows of every table; the ids of tenant A's customers.
async fn fill(db: &DatabaseConnection) -> Vec<Uuid> {
    let mut customers_of_a = Vec::new();
    for (t, tenant) in [A, B].into_iter().enumerate() {
        agent(db, tenant).await;
        for n in 0..3 {
            let number = format!("52155500{t}{n:04}");
            let c = customer(db, tenant, &number, &format!("Cliente{t}x{n}")).await;
            if tenant == A {
                customers_of_a.push(c);
            }
            phone(db, tenant, c, &number).await.expect("phone");
            for label in ["vip", "mayoreo"] {
                tag(db, tenant, c, label).await.expect("tag");
            }
            let mut last = None;
            for _ in 0..2 {
                let conv = conversation(db, tenant, c).await.expect("conversation");
                for _ in 0..2 {
                    message(db, tenant, conv, c).await.expect("message");
                }
                last = Some(conv);
            }
            ticket(db, tenant, c, last).await.expect("ticket");
            ticket(db, tenant, c, None).await.expect("ticket");
        }
    }
    customers_of_a
}

/// The ids a tenant's admin finds searching the customers for `term`
/// (through the trigram index: SQLite's refers to customers by rowid).
async fn search(app: &TestApp, tenant: &str, term: &str) -> Vec<String> {
    let (status, body) = app
        .call(
            Method::GET,
            &format!("/api/v2/customers?search={term}"),
            &app.token(Role::Admin, tenant),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["customers"]
        .as_array()
        .expect("customers")
        .iter()
        .map(|c| c["_id"].as_str().expect("an id").to_owned())
        .collect()
}

/// Undoes every step from the tenant keys on (the third migration and the
/// ones after it), leaving the first two.
async fn down_to_before_tenant_keys(db: &DatabaseConnection) {
    let applied = Migrator::migrations().len() as u32;
    Migrator::down(db, Some(applied - 2))
        .await
        .expect("back to the previous keys");
}

async fn migrating_to_tenant_keys_keeps_every_row_and_rolls_back(app: TestApp) {
    let db = &app.db;
    // A database as the field has it: migrated up to the step before.
    Migrator::down(db, None).await.expect("down to nothing");
    Migrator::up(db, Some(2))
        .await
        .expect("up to the search index");
    let customers_of_a = fill(db).await;
    // The first customer's delete leaves a gap in the rowids the search index
    // uses: a rebuild that renumbered the rows would find the wrong customers.
    sql(
        db,
        "DELETE FROM customers WHERE tenant_id = ? AND id = ?",
        vec![A.into(), customers_of_a[0].into()],
    )
    .await
    .expect("delete a customer");
    let before = all_rows(db).await;
    assert_eq!(before.customers.len(), 5);
    assert_eq!(before.messages.len(), 20);

    Migrator::up(db, None).await.expect("tenant keys");
    assert_eq!(all_rows(db).await, before, "every row kept");
    let b = before
        .customers
        .iter()
        .find(|c| c["tenant_id"] == B)
        .and_then(|c| c["id"].as_str()?.parse::<Uuid>().ok())
        .expect("a customer of B");
    assert_refused(
        conversation(db, B, customers_of_a[1]).await.map(drop),
        "conversations_customer_fkey",
    );
    assert_eq!(
        search(&app, A, "cliente0x1").await,
        vec![customers_of_a[1].to_string()]
    );
    assert!(search(&app, B, "cliente0x1").await.is_empty());

    down_to_before_tenant_keys(db).await;
    assert_eq!(all_rows(db).await, before, "every row kept going down");
    Migrator::up(db, None).await.expect("tenant keys again");
    assert_eq!(all_rows(db).await, before, "every row kept going up again");
    assert_eq!(
        search(&app, A, "cliente0x2").await,
        vec![customers_of_a[2].to_string()]
    );
    conversation(db, B, b).await.expect("same tenant");

    // Deletes still cascade as before: a customer's rows go with it.
    let gone = customers_of_a[1];
    sql(
        db,
        "DELETE FROM customers WHERE tenant_id = ? AND id = ?",
        vec![A.into(), gone.into()],
    )
    .await
    .expect("delete a customer");
    let after = all_rows(db).await;
    assert!(after.conversations.iter().all(|c| c.customer_id != gone));
    assert!(after.messages.iter().all(|m| m.customer_id != gone));
    assert!(after.tickets.iter().all(|t| t.customer_id != gone));
    assert!(after.tags.iter().all(|t| t.customer_id != gone));
    assert!(after.phones.iter().all(|p| p.customer_id != gone));
    assert_eq!(after.messages.len(), 20 - 4);
}

async fn a_database_with_a_cross_tenant_row_is_not_migrated(app: TestApp) {
    let db = &app.db;
    down_to_before_tenant_keys(db).await;
    let a = customer(db, A, "5215550000001", "Alicia").await;
    let b = customer(db, B, "5215550000002", "Bruno").await;
    conversation(db, B, b).await.expect("same tenant");
    let stray = conversation(db, B, a)
        .await
        .expect("the old keys let it in");
    let before = all_rows(db).await;
    Migrator::up(db, None)
        .await
        .expect_err("a conversation of B on A's customer stops the migration");
    assert_eq!(all_rows(db).await, before, "nothing changed");
    // The tenant keys and every step after them are still to come.
    assert_eq!(
        Migrator::get_pending_migrations(db)
            .await
            .expect("pending")
            .len(),
        Migrator::migrations().len() - 2
    );
    // Once the stray row is dealt with, the migration goes through.
    sql(
        db,
        "DELETE FROM conversations WHERE id = ?",
        vec![stray.into()],
    )
    .await
    .expect("delete the stray row");
    Migrator::up(db, None).await.expect("tenant keys");
    assert_refused(
        conversation(db, B, a).await.map(drop),
        "conversations_customer_fkey",
    );
}

/// An import job of `tenant` (as a server records one), by SQL.
async fn import_job(db: &DatabaseConnection, tenant: &str) -> Uuid {
    let id = Uuid::now_v7();
    let now = Utc::now();
    sql(
        db,
        "INSERT INTO import_jobs (id, tenant_id, agent, status, mode, match_on, dry_run, format, \
         created_at, updated_at) VALUES (?, ?, 'ana', 'succeeded', 'upsert', 'phone,email', ?, 'csv', ?, ?)",
        vec![
            id.into(),
            tenant.into(),
            false.into(),
            now.into(),
            now.into(),
        ],
    )
    .await
    .expect("insert import job");
    id
}

/// An error line of `job`, row `row`, recorded for `tenant`.
async fn import_error(
    db: &DatabaseConnection,
    tenant: &str,
    job: Uuid,
    row: i64,
) -> Result<(), DbErr> {
    sql(
        db,
        "INSERT INTO import_errors (tenant_id, job_id, \"row\", seq, field, code, message) \
         VALUES (?, ?, ?, 0, 'email', 'INVALID', 'not an email')",
        vec![tenant.into(), job.into(), row.into()],
    )
    .await
}

/// Every import job and error line, in a stable order.
async fn import_rows(db: &DatabaseConnection) -> (Vec<String>, Vec<String>) {
    async fn all<E: EntityTrait>(db: &DatabaseConnection) -> Vec<String>
    where
        E::Model: std::fmt::Debug,
    {
        let mut rows: Vec<String> = E::find()
            .all(db)
            .await
            .expect("read rows")
            .iter()
            .map(|m| format!("{m:?}"))
            .collect();
        rows.sort();
        rows
    }
    (
        all::<import_job::Entity>(db).await,
        all::<import_error::Entity>(db).await,
    )
}

async fn an_import_error_cannot_point_at_another_tenants_job(app: TestApp) {
    let db = &app.db;
    let a = import_job(db, A).await;
    let b = import_job(db, B).await;
    import_error(db, B, b, 1).await.expect("same tenant");
    assert_refused(import_error(db, B, a, 2).await, "import_errors_job_fkey");
    assert_refused(
        import_error(db, B, Uuid::now_v7(), 3).await,
        "import_errors_job_fkey",
    );
    // A job's error lines go with it.
    sql(
        db,
        "DELETE FROM import_jobs WHERE tenant_id = ? AND id = ?",
        vec![B.into(), b.into()],
    )
    .await
    .expect("delete a job");
    assert_eq!(import_rows(db).await.1, Vec::<String>::new());
}

/// Undoes the import tables' tenant keys (migration 10) and every step after it.
async fn down_to_before_import_keys(db: &DatabaseConnection) {
    let position = Migrator::migrations()
        .iter()
        .position(|m| m.name() == "m20261202_000010_import_keys")
        .expect("the import keys step");
    let steps = (Migrator::migrations().len() - position) as u32;
    Migrator::down(db, Some(steps))
        .await
        .expect("back to the import tables' old keys");
}

async fn migrating_the_import_tables_keeps_every_row_and_rolls_back(app: TestApp) {
    let db = &app.db;
    down_to_before_import_keys(db).await;
    for tenant in [A, B] {
        for _ in 0..2 {
            let job = import_job(db, tenant).await;
            for row in 1..=3 {
                import_error(db, tenant, job, row)
                    .await
                    .expect("error line");
            }
        }
    }
    let before = import_rows(db).await;
    assert_eq!((before.0.len(), before.1.len()), (4, 12));

    Migrator::up(db, None).await.expect("import keys");
    assert_eq!(import_rows(db).await, before, "every row kept");
    let a = import_job(db, A).await;
    assert_refused(import_error(db, B, a, 1).await, "import_errors_job_fkey");

    down_to_before_import_keys(db).await;
    let with_a = import_rows(db).await;
    assert_eq!(with_a.0.len(), 5, "every row kept going down");
    assert_eq!(with_a.1, before.1);
    // The old keys let a stray line in, and the step then refuses to run.
    import_error(db, B, a, 1)
        .await
        .expect("the old keys let it in");
    Migrator::up(db, None)
        .await
        .expect_err("an error line of B on A's job stops the migration");
    sql(
        db,
        "DELETE FROM import_errors WHERE tenant_id = ? AND job_id = ?",
        vec![B.into(), a.into()],
    )
    .await
    .expect("delete the stray line");
    Migrator::up(db, None).await.expect("import keys again");
    assert_eq!(
        import_rows(db).await,
        with_a,
        "every row kept going up again"
    );
}

crate::db_tests!(
    an_import_error_cannot_point_at_another_tenants_job,
    migrating_the_import_tables_keeps_every_row_and_rolls_back,
    a_conversation_of_one_tenant_cannot_belong_to_another_tenants_customer,
    a_message_cannot_point_at_another_tenants_conversation_or_customer,
    a_tag_or_phone_row_cannot_point_at_another_tenants_customer,
    a_ticket_cannot_point_at_another_tenants_customer_or_conversation,
    a_number_held_twice_in_a_tenant_is_classified_as_the_phone_key,
    every_pooled_sqlite_connection_enforces_foreign_keys,
    migrating_to_tenant_keys_keeps_every_row_and_rolls_back,
    a_database_with_a_cross_tenant_row_is_not_migrated,
);
