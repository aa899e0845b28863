//! The per-tenant customer counters behind totals and the dashboard: what
//! reads them costs, when the cached filtered counts are counted again, and
//! that the migration fills them from stored rows exactly as the write path
//! keeps them. (That every count equals a fresh `count(*)` under concurrent
//! writes is `counts.rs`.)

use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectionTrait, DbBackend, EntityTrait};
use serde_json::{json, Value};

use crate::helpers::fixtures::phone;
use crate::helpers::TestApp;

const CUSTOMERS: &str = "/api/v2/customers";

/// Customers of every status, segment and source, some tagged.
async fn fill(app: &TestApp) -> Vec<Value> {
    let mut made = Vec::new();
    let statuses = ["active", "inactive", "vip"];
    let segments = ["new", "regular", "vip", "inactive"];
    let sources = ["whatsapp", "website", "referral", "social_media", "other"];
    for i in 0..12 {
        let tags = match i % 3 {
            0 => json!(["premium"]),
            1 => json!(["premium", "loyal"]),
            _ => json!([]),
        };
        made.push(
            app.create_customer(json!({
                "phoneNumber": phone(i),
                "firstName": format!("Cliente {i}"),
                "status": statuses[i % statuses.len()],
                "segment": segments[i % segments.len()],
                "source": sources[i % sources.len()],
                "tags": tags,
            }))
            .await,
        );
    }
    made
}

/// How many statements the server ran for one REST GET, and its body.
async fn cost(app: &TestApp, path: &str) -> (usize, Value) {
    let before = app.statement_count();
    let body = app.rest().get_ok(path).await;
    (app.statement_count() - before, body)
}

/// Whether PostgreSQL reads a page with a facet filter after its total
/// (to know whether it may plan the page once), in a statement of its own;
/// other lists read their counters in the page's statement.
fn facets_read_apart(app: &TestApp) -> bool {
    app.db.get_database_backend() == DbBackend::Postgres
}

async fn totals_and_the_dashboard_read_counters_not_customers(app: TestApp) {
    fill(&app).await;
    // The counter rows, whatever the tenant's size: one statement for the
    // dashboard, and for a list its page with its counters beside the rows.
    let apart = usize::from(facets_read_apart(&app));
    for (path, want) in [
        (format!("{CUSTOMERS}/stats/summary"), 1),
        (format!("{CUSTOMERS}?limit=1"), 1),
        (format!("{CUSTOMERS}?limit=1&page=3"), 1),
        (format!("{CUSTOMERS}?limit=1&status=vip"), 1 + apart),
        (format!("{CUSTOMERS}?limit=1&tags=loyal"), 1 + apart),
    ] {
        let (statements, body) = cost(&app, &path).await;
        assert_eq!(statements, want, "{path}: {body}");
    }
    // Past the last page: no row carries the counters, which are read apart.
    let (statements, body) = cost(&app, &format!("{CUSTOMERS}?limit=5&page=4")).await;
    assert_eq!(statements, 2, "{body}");
    assert_eq!(body["customers"], json!([]));
    assert_eq!(body["pagination"]["total"], 12, "{body}");
    for (path, total) in [
        (format!("{CUSTOMERS}?limit=1"), 12),
        (format!("{CUSTOMERS}?limit=1&page=3"), 12),
        (format!("{CUSTOMERS}?limit=1&status=vip"), 4),
    ] {
        let (_, body) = cost(&app, &path).await;
        assert_eq!(body["pagination"]["total"], total, "{path}: {body}");
        assert_eq!(body["customers"].as_array().map(Vec::len), Some(1));
    }
    let (_, summary) = cost(&app, &format!("{CUSTOMERS}/stats/summary")).await;
    assert_eq!(summary["summary"]["totalCustomers"], 12, "{summary}");
    assert_eq!(summary["summary"]["vipCustomers"], 3, "{summary}");
    assert_eq!(summary["summary"]["newThisMonth"], 12, "{summary}");
}

async fn a_filtered_count_is_cached_until_a_customer_of_the_tenant_is_written(app: TestApp) {
    let made = fill(&app).await;
    let s2 = format!("{CUSTOMERS}?limit=2&status=active&segment=new&tags=premium,loyal");
    // The page with the tenant's version (apart on PostgreSQL, in the
    // page's statement otherwise), then the count with its version.
    let apart = usize::from(facets_read_apart(&app));
    let (first, body) = cost(&app, &s2).await;
    assert_eq!(first, 2 + apart, "{body}");
    let total = body["pagination"]["total"].clone();
    // Cached: the page and the version.
    let (again, body) = cost(&app, &s2).await;
    assert_eq!(again, 1 + apart, "{body}");
    assert_eq!(body["pagination"]["total"], total);

    // A desk's message changes statistics, not what a filter takes: still cached.
    let conversation = app
        .new_conversation(made[0]["_id"].as_str().expect("id"))
        .await;
    app.new_message(&conversation, "INBOUND", "2026-01-02T03:04:05Z")
        .await;
    let (after_message, _) = cost(&app, &s2).await;
    assert_eq!(after_message, 1 + apart);

    // A customer write is counted again, and the total follows it.
    let (status, body) = app
        .rest()
        .put(
            &format!("{CUSTOMERS}/{}", made[0]["_id"].as_str().expect("id")),
            json!({ "tags": [] }),
        )
        .await;
    assert!(status.is_success(), "{body}");
    // Customer 0 was the one hit, so the page is now empty: no row carries
    // its counters, which are read apart (as PostgreSQL reads them anyway
    // for this filter).
    let (after_write, body) = cost(&app, &s2).await;
    assert_eq!(after_write, 3, "{body}");
    assert_eq!(body["customers"], json!([]), "{body}");
    assert_eq!(
        body["pagination"]["total"].as_u64(),
        total.as_u64().map(|n| n - 1),
        "customer 0 was active, new and premium"
    );
}

async fn the_migration_fills_the_counters_the_write_path_keeps(app: TestApp) {
    let made = fill(&app).await;
    let id = made[4]["_id"].as_str().expect("id");
    let (status, body) = app
        .rest()
        .patch(
            &format!("{CUSTOMERS}/{id}/block"),
            json!({ "isBlocked": true, "blockReason": "spam" }),
        )
        .await;
    assert!(status.is_success(), "{body}");
    let (status, body) = app
        .rest()
        .delete(&format!(
            "{CUSTOMERS}/{}",
            made[5]["_id"].as_str().expect("id")
        ))
        .await;
    assert!(status.is_success(), "{body}");
    let kept = counters(&app).await;
    assert!(
        kept.iter().any(|(f, n)| f == "blocked" && *n == 1),
        "{kept:?}"
    );

    // Drop the counters and let the migration count the stored rows.
    Migrator::down(&app.db, Some(1))
        .await
        .expect("down one step");
    Migrator::up(&app.db, None).await.expect("up again");
    assert_eq!(counters(&app).await, kept);
}

/// Every counter of the default tenant but `version`, zeros left out.
async fn counters(app: &TestApp) -> Vec<(String, i64)> {
    let mut rows: Vec<(String, i64)> = entity::customer_count::Entity::find()
        .all(&app.db)
        .await
        .expect("counters")
        .into_iter()
        .filter(|c| c.tenant_id == "default" && c.facet != "version" && c.n != 0)
        .map(|c| (c.facet, c.n))
        .collect();
    rows.sort();
    rows
}

crate::db_tests!(
    totals_and_the_dashboard_read_counters_not_customers,
    a_filtered_count_is_cached_until_a_customer_of_the_tenant_is_written,
    the_migration_fills_the_counters_the_write_path_keeps,
);
