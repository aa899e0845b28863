//! Import jobs over real HTTP, on both databases: every format (CSV, NDJSON,
//! JSON) and mode (create, update, upsert) with counts that add up; a dry
//! run reports exactly what the real run then does and writes nothing;
//! duplicates inside the file; an export re-imports unchanged; the errors
//! CSV; cancel; a job left running by a crash is failed at the next start;
//! tenancy and roles; the counters equal count(*) after imports.
use clientela::auth::Role;
use entity::enums::{ImportFormat, ImportJobStatus, ImportMode, MatchKey};
use entity::import_job::MatchKeys;
use entity::{customer, import_job};
use reqwest::{Method, StatusCode};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, Set};
use serde_json::{json, Value};

use crate::helpers::imports::{cancel, counts, finished, start, IMPORTS};
use crate::helpers::rest::{CUSTOMERS, EXPORT};
use crate::helpers::TestApp;

const GQL_JOB: &str = "query($id: ID!) { importJob(id: $id) {
  id status mode dryRun rowsRead created updated unchanged duplicate failed progress error
  errors { row field code message }
} }";

async fn stored(app: &TestApp) -> u64 {
    customer::Entity::find()
        .filter(customer::Column::TenantId.eq("default"))
        .count(&app.db)
        .await
        .expect("count")
}

/// The job's counts add up to its rows read.
fn assert_adds_up(job: &Value) {
    let sum: i64 = ["created", "updated", "unchanged", "duplicate", "failed"]
        .iter()
        .map(|k| job[k].as_i64().expect("count"))
        .sum();
    assert_eq!(sum, job["rowsRead"].as_i64().expect("rows"), "{job}");
}

const CSV: &str =
    "phoneNumber,firstName,lastName,email,status,segment,tags,notes,createdAt,lastInteraction\n\
\"5219990001001\",\"Ana\",\"\",\"ana@example.com\",\"active\",\"vip\",\"a;b\",\"'=1+1\",\"\",\"\"\n\
\"+52 (999) 000-1001\",\"Dup\",\"\",\"\",\"active\",\"new\",\"\",\"\",\"\",\"\"\n\
\"5219990001002\",\"Bo\",\"\",\"not-an-email\",\"active\",\"new\",\"\",\"\",\"\",\"\"\n\
\"5219990001003\",\"Cy\",\"\",\"\",\"active\",\"new\",\"\",\"\",\"\",\"\"\n";

async fn csv_upsert_counts_add_up_and_a_dry_run_reports_what_the_real_run_does(app: TestApp) {
    app.create_customer(json!({"phoneNumber": "5219990001003", "firstName": "Old"}))
        .await;
    let dry = finished(
        &app,
        &start(&app, "mode=upsert&dryRun=true", "text/csv", CSV.to_owned()).await,
    )
    .await;
    assert_eq!(dry["status"], "succeeded", "{dry}");
    assert_eq!(dry["dryRun"], true);
    assert_adds_up(&dry);
    assert_eq!(stored(&app).await, 1, "a dry run writes nothing");
    let real = finished(
        &app,
        &start(&app, "mode=upsert", "text/csv", CSV.to_owned()).await,
    )
    .await;
    assert_eq!(real["status"], "succeeded", "{real}");
    assert_adds_up(&real);
    assert_eq!(counts(&dry), counts(&real), "dry {dry}\nreal {real}");
    assert_eq!(counts(&real), json!([4, 1, 1, 0, 1, 1]));
    assert_eq!(real["progress"], 1.0);
    assert_eq!(stored(&app).await, 2);
    let ana = app.rest().get_ok(&format!("{CUSTOMERS}?search=ana")).await;
    assert_eq!(
        ana["customers"][0]["notes"], "=1+1",
        "the export's guard is read back"
    );
    assert_eq!(ana["customers"][0]["tags"], json!(["a", "b"]));
    // Errors: over GraphQL and as CSV.
    let id = real["id"].as_str().expect("id");
    let data = app.gql_data(&app.admin(), GQL_JOB, json!({"id": id})).await;
    let errors = data["importJob"]["errors"]
        .as_array()
        .expect("errors")
        .clone();
    assert_eq!(errors.len(), 2, "{data}");
    assert_eq!(errors[0]["row"], 2);
    assert_eq!(errors[0]["code"], "DUPLICATE");
    assert_eq!(errors[1]["row"], 3);
    assert_eq!(errors[1]["field"], "email");
    let resp = app
        .request(
            Method::GET,
            &format!("{IMPORTS}/{id}/errors.csv"),
            &app.admin(),
        )
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), StatusCode::OK);
    let text = resp.text().await.expect("text");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "row,field,code,message");
    assert_eq!(lines.len(), 3, "{text}");
    assert!(lines[1].starts_with("2,phoneNumber,DUPLICATE,"), "{text}");
}

async fn every_format_and_mode_counts_add_up(app: TestApp) {
    let ndjson = "{\"phoneNumber\":\"5219990002001\",\"externalId\":\"e1\"}\n\n{\"phoneNumber\":\"5219990002002\"}\n[1]\n";
    let job = finished(
        &app,
        &start(
            &app,
            "mode=create",
            "application/x-ndjson",
            ndjson.to_owned(),
        )
        .await,
    )
    .await;
    assert_adds_up(&job);
    assert_eq!(counts(&job), json!([3, 2, 0, 0, 0, 1]), "{job}");
    let json_body = json!({"customers": [
        {"externalId": "e1", "firstName": "Upd"},
        {"externalId": "nobody", "firstName": "X"},
        {"phoneNumber": "5219990002002"},
    ]})
    .to_string();
    let job = finished(
        &app,
        &start(
            &app,
            "mode=update&match=externalId,phone",
            "application/json",
            json_body,
        )
        .await,
    )
    .await;
    assert_adds_up(&job);
    assert_eq!(counts(&job), json!([3, 0, 1, 1, 0, 1]), "{job}");
    // A bare list is a JSON body too; create mode reports a stored number as a duplicate.
    let list =
        json!([{"phoneNumber": "5219990002001"}, {"phoneNumber": "5219990002003"}]).to_string();
    let job = finished(
        &app,
        &start(&app, "mode=create", "application/json", list).await,
    )
    .await;
    assert_eq!(counts(&job), json!([2, 1, 0, 0, 1, 0]), "{job}");
    assert_eq!(stored(&app).await, 3);
    // Counters equal count(*).
    assert_eq!(app.rest().total().await, stored(&app).await);
    // Bad input before anything runs.
    let resp = app
        .request(Method::POST, &format!("{IMPORTS}?mode=merge"), &app.admin())
        .header("content-type", "text/csv")
        .body("phoneNumber\n1\n")
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let resp = app
        .request(Method::POST, IMPORTS, &app.admin())
        .header("content-type", "text/plain")
        .body("x")
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
}

async fn an_export_re_imports_unchanged(app: TestApp) {
    for n in 0..30 {
        app.create_customer(json!({
            "phoneNumber": format!("52199900030{n:02}"), "firstName": format!("N{n}"),
            "email": format!("n{n}@example.com"), "tags": ["x", "y"], "notes": "=SUM(A1)",
            "segment": "vip", "externalId": format!("ext-{n}"),
        }))
        .await;
    }
    for format in ["csv", "json"] {
        let resp = app
            .request(
                Method::GET,
                &format!("{EXPORT}?format={format}"),
                &app.admin(),
            )
            .send()
            .await
            .expect("send");
        let body = resp.text().await.expect("text");
        let content_type = if format == "csv" {
            "text/csv"
        } else {
            "application/json"
        };
        let job = finished(&app, &start(&app, "mode=upsert", content_type, body).await).await;
        assert_adds_up(&job);
        assert_eq!(counts(&job), json!([30, 0, 0, 30, 0, 0]), "{format}: {job}");
    }
    assert_eq!(stored(&app).await, 30);
}

async fn a_cancelled_job_stops_and_keeps_only_committed_batches(app: TestApp) {
    let rows: String = (0..5000)
        .map(|i| format!("{{\"phoneNumber\":\"52199800{i:05}\"}}\n"))
        .collect();
    let id = start(&app, "mode=create", "application/x-ndjson", rows).await;
    cancel(&app, &id).await;
    let job = finished(&app, &id).await;
    assert_adds_up(&job);
    assert!(
        ["cancelled", "succeeded"].contains(&job["status"].as_str().expect("status")),
        "{job}"
    );
    if job["status"] == "cancelled" {
        assert!(job["rowsRead"].as_i64().expect("rows") < 5000, "{job}");
    }
    assert_eq!(
        stored(&app).await,
        job["created"].as_u64().expect("created")
    );
    // GraphQL cancel of an ended job leaves it as it is.
    let data = app
        .gql_data(
            &app.admin(),
            "mutation($id: ID!) { cancelImportJob(id: $id) { status } }",
            json!({"id": id}),
        )
        .await;
    assert_eq!(data["cancelImportJob"]["status"], job["status"]);
}

/// Inserts a job row as a server would have left it: `status`, run by
/// `owner`, whose last heartbeat was at `heartbeat` (both None: a row from
/// before leases), with counts of committed batches.
async fn job_row(
    app: &TestApp,
    status: ImportJobStatus,
    owner: Option<&str>,
    heartbeat: Option<chrono::DateTime<chrono::Utc>>,
) -> uuid::Uuid {
    let id = uuid::Uuid::now_v7();
    let now = chrono::Utc::now();
    import_job::ActiveModel {
        id: Set(id),
        tenant_id: Set("default".into()),
        agent: Set("admin-agent".into()),
        status: Set(status),
        mode: Set(ImportMode::Upsert),
        match_on: Set(MatchKeys(vec![MatchKey::Phone])),
        dry_run: Set(false),
        format: Set(ImportFormat::Csv),
        bytes_total: Set(1000),
        bytes_read: Set(400),
        rows_read: Set(2000),
        created: Set(1500),
        updated: Set(400),
        unchanged: Set(50),
        duplicate: Set(30),
        failed: Set(20),
        error: Set(None),
        cancel_requested: Set(false),
        created_at: Set(now),
        started_at: Set((status == ImportJobStatus::Running).then_some(now)),
        finished_at: Set(None),
        updated_at: Set(now),
        owner: Set(owner.map(str::to_owned)),
        heartbeat_at: Set(heartbeat),
    }
    .insert(&app.db)
    .await
    .expect("insert");
    id
}

async fn a_job_left_running_by_a_crash_is_failed_at_the_next_start(app: TestApp) {
    let long_ago = chrono::Utc::now() - chrono::TimeDelta::minutes(10);
    let crashed = job_row(
        &app,
        ImportJobStatus::Running,
        Some("crashed-server"),
        Some(long_ago),
    )
    .await;
    // Queued when a server from before leases stopped: no owner, no heartbeat.
    let old = job_row(&app, ImportJobStatus::Queued, None, None).await;
    // Another server sharing the database runs this one: its heartbeat is fresh.
    let alive = job_row(
        &app,
        ImportJobStatus::Running,
        Some("live-server"),
        Some(chrono::Utc::now()),
    )
    .await;
    let again = app.restart().await;
    for id in [crashed, old] {
        let job = again.rest().get_ok(&format!("{IMPORTS}/{id}")).await["job"].clone();
        assert_eq!(job["status"], "failed", "{job}");
        assert!(job["error"]
            .as_str()
            .expect("error")
            .contains("interrupted"));
        assert_eq!(counts(&job), json!([2000, 1500, 400, 50, 30, 20]));
        assert!(job["finishedAt"].is_string(), "{job}");
    }
    let job = again.rest().get_ok(&format!("{IMPORTS}/{alive}")).await["job"].clone();
    assert_eq!(
        job["status"], "running",
        "a job another live server runs is not failed by this one's start: {job}"
    );
    assert!(job["error"].is_null(), "{job}");
    let data = again
        .gql_data(&again.admin(), "{ importJobs { id status } }", json!({}))
        .await;
    let statuses: Vec<&str> = data["importJobs"]
        .as_array()
        .expect("jobs")
        .iter()
        .map(|j| j["status"].as_str().expect("status"))
        .collect();
    assert_eq!(statuses, ["running", "failed", "failed"], "{data}");
}

async fn viewers_read_jobs_and_another_tenant_s_job_is_not_found(app: TestApp) {
    let id = start(
        &app,
        "mode=create",
        "text/csv",
        "phoneNumber\n5219990004001\n".to_owned(),
    )
    .await;
    finished(&app, &id).await;
    let viewer = app.token(Role::Viewer, "default");
    let (status, _) = app
        .call(Method::GET, &format!("{IMPORTS}/{id}"), &viewer, None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let resp = app
        .request(Method::POST, IMPORTS, &viewer)
        .header("content-type", "text/csv")
        .body("phoneNumber\n5219990004002\n")
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let other = app.token(Role::Admin, "other");
    let (status, body) = app
        .call(Method::GET, &format!("{IMPORTS}/{id}"), &other, None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let gql = app.gql(&other, GQL_JOB, json!({"id": id})).await;
    assert_eq!(gql["errors"][0]["extensions"]["code"], "NOT_FOUND", "{gql}");
    let (status, _) = app
        .call(
            Method::GET,
            &format!("{IMPORTS}/{id}/errors.csv"),
            &other,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// Jobs start, write and end while agents edit at once: on SQLite every
/// write must take the single writer's turn, or a write landing between
/// another transaction's read and its write fails it ("database is locked").
async fn jobs_ending_while_agents_edit_fail_nobody(app: TestApp) {
    const JOBS: u64 = 40;
    let ids: Vec<String> = {
        let mut ids = Vec::new();
        for i in 0..20 {
            let c = app
                .create_customer(json!({"phoneNumber": format!("52199700{i:05}")}))
                .await;
            ids.push(c["id"].as_str().expect("id").to_owned());
        }
        ids
    };
    // One job after another (each polled until it ends, under the rate limit).
    let jobs = async {
        let mut jobs = Vec::new();
        for j in 0..JOBS {
            let rows = format!("phoneNumber\n52199600{j:05}\n52199601{j:05}\n");
            let id = start(&app, "mode=upsert", "text/csv", rows).await;
            jobs.push(finished(&app, &id).await);
        }
        jobs
    };
    let edits = futures::future::join_all(ids.iter().enumerate().map(|(i, id)| {
        let app = &app;
        async move {
            let mut failures = Vec::new();
            for round in 0..6 {
                let (status, body) = app
                    .call(
                        Method::PUT,
                        &format!("{CUSTOMERS}/{id}"),
                        &app.admin(),
                        Some(json!({"notes": format!("edit {i}.{round}")})),
                    )
                    .await;
                if status != StatusCode::OK {
                    failures.push(format!("{status} {body}"));
                }
            }
            failures
        }
    }));
    let (jobs, edits) = tokio::join!(jobs, edits);
    let failures: Vec<String> = edits.into_iter().flatten().collect();
    assert!(failures.is_empty(), "{failures:?}");
    for job in jobs {
        assert_eq!(job["status"], "succeeded", "{job}");
        assert_eq!(job["created"], 2, "{job}");
    }
    assert_eq!(stored(&app).await, 20 + JOBS * 2);
}

/// A row repeating a row of an earlier batch (a job writes 1,000 rows per
/// transaction) is still a duplicate of it, in a real run as in a dry run:
/// the job's keys outlive each batch.
async fn a_duplicate_of_a_row_batches_earlier_is_found(app: TestApp) {
    let mut rows = String::new();
    for i in 1..=2500 {
        let line = match i {
            // Row 5's phone spelled another way, two batches later.
            2100 => "{\"phoneNumber\":\"+52 1 999 500 0005\"}".to_owned(),
            // Row 7's customer matched again through its email.
            2400 => "{\"phoneNumber\":\"5219995099999\",\"email\":\"C7@example.com\"}".to_owned(),
            _ => format!("{{\"phoneNumber\":\"521999500{i:04}\",\"email\":\"c{i}@example.com\"}}"),
        };
        rows.push_str(&line);
        rows.push('\n');
    }
    let dry = start(
        &app,
        "mode=upsert&matchOn=phone,email&dryRun=true",
        "application/x-ndjson",
        rows.clone(),
    )
    .await;
    let dry = finished(&app, &dry).await;
    assert_eq!(stored(&app).await, 0, "a dry run writes nothing");
    let real = start(
        &app,
        "mode=upsert&matchOn=phone,email",
        "application/x-ndjson",
        rows,
    )
    .await;
    let real = finished(&app, &real).await;
    for job in [&dry, &real] {
        assert_eq!(job["status"], "succeeded", "{job}");
        assert_adds_up(job);
        assert_eq!(job["created"], 2498, "{job}");
        assert_eq!(job["duplicate"], 2, "{job}");
    }
    assert_eq!(stored(&app).await, 2498);
    let id = real["id"].as_str().expect("id");
    let data = app.gql_data(&app.admin(), GQL_JOB, json!({"id": id})).await;
    let errors = &data["importJob"]["errors"];
    assert_eq!(errors[0]["row"], 2100, "{errors}");
    assert_eq!(errors[0]["code"], "DUPLICATE", "{errors}");
    assert!(
        errors[0]["message"]
            .as_str()
            .expect("message")
            .contains("row 5"),
        "{errors}"
    );
    assert_eq!(errors[1]["row"], 2400, "{errors}");
    assert!(
        errors[1]["message"]
            .as_str()
            .expect("message")
            .contains("row 7"),
        "{errors}"
    );
}

crate::db_tests!(
    csv_upsert_counts_add_up_and_a_dry_run_reports_what_the_real_run_does,
    every_format_and_mode_counts_add_up,
    an_export_re_imports_unchanged,
    a_cancelled_job_stops_and_keeps_only_committed_batches,
    a_job_left_running_by_a_crash_is_failed_at_the_next_start,
    viewers_read_jobs_and_another_tenant_s_job_is_not_found,
    jobs_ending_while_agents_edit_fail_nobody,
    a_duplicate_of_a_row_batches_earlier_is_found,
);

/// Jobs under a short lease: the heartbeat keeps a live server's job alive
/// past its lease whatever another server's recovery does, and a job whose
/// server went silent is failed by the periodic recovery of a server that
/// keeps running (no restart needed).
mod leased {
    use std::time::{Duration, Instant};

    use clientela::service::import::jobs;
    use serde_json::json;

    use super::{
        assert_adds_up, cancel, counts, finished, job_row, start, stored, ImportJobStatus, IMPORTS,
    };
    use crate::helpers::{Backend, TestApp};

    /// Short for a test, long enough for a heartbeat or two to be late on a
    /// busy machine (several a lease are written).
    const LEASE: Duration = Duration::from_secs(4);

    async fn make(backend: Backend) -> Option<TestApp> {
        TestApp::with_job_lease(backend, LEASE).await
    }

    async fn a_job_a_live_server_runs_outlives_its_lease_and_another_server_s_recoveries(
        app: TestApp,
    ) {
        // Far more rows than the test lets it run: it is cancelled once
        // another server's recovery has run past its lease a few times.
        const ROWS: usize = 100_000;
        // A second server on the same database, recovering as often as it can.
        let other = app.restart().await;
        let rows: String = (0..ROWS)
            .map(|i| format!("{{\"phoneNumber\":\"5219950{i:06}\"}}\n"))
            .collect();
        let id = start(&app, "mode=create", "application/x-ndjson", rows).await;
        let began = Instant::now();
        let mut recovered_past_the_lease = 0;
        let job = loop {
            jobs::recover(&other.ctx).await.expect("recover");
            let job = app.rest().get_ok(&format!("{IMPORTS}/{id}")).await["job"].clone();
            if job["finishedAt"].is_string() {
                break job;
            }
            if job["status"] == "running" && began.elapsed() > LEASE * 3 / 2 {
                recovered_past_the_lease += 1;
                if recovered_past_the_lease == 3 {
                    cancel(&app, &id).await;
                }
            }
            assert!(began.elapsed() < Duration::from_secs(300), "{job}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        assert!(
            recovered_past_the_lease >= 3,
            "the job ended within one and a half leases ({:?}): give it more rows: {job}",
            began.elapsed()
        );
        assert_eq!(
            job["status"], "cancelled",
            "the live server's job was never failed by the other's recovery: {job}"
        );
        assert!(job["error"].is_null(), "{job}");
        assert_adds_up(&job);
        assert!(job["rowsRead"].as_u64().expect("rows") > 0, "{job}");
        assert_eq!(
            stored(&app).await,
            job["created"].as_u64().expect("created")
        );
    }

    async fn a_job_whose_server_went_silent_is_failed_by_a_running_server(app: TestApp) {
        // A fresh heartbeat from a server that then stops writing any.
        let id = job_row(
            &app,
            ImportJobStatus::Running,
            Some("silent-server"),
            Some(chrono::Utc::now()),
        )
        .await;
        let began = Instant::now();
        let job = loop {
            let job = app.rest().get_ok(&format!("{IMPORTS}/{id}")).await["job"].clone();
            if job["status"] != "running" {
                break job;
            }
            assert!(
                began.elapsed() < LEASE * 10,
                "still running after ten leases: {job}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        assert!(
            began.elapsed() >= LEASE / 2,
            "failed before its lease ran out"
        );
        assert_eq!(job["status"], "failed", "{job}");
        assert!(job["error"]
            .as_str()
            .expect("error")
            .contains("interrupted"));
        assert_eq!(counts(&job), json!([2000, 1500, 400, 50, 30, 20]));
        // A job this server runs meanwhile is untouched by its own recovery.
        let own = start(
            &app,
            "mode=create",
            "text/csv",
            "phoneNumber\n5219994001001\n".to_owned(),
        )
        .await;
        assert_eq!(finished(&app, &own).await["status"], "succeeded");
    }

    crate::db_tests!(with make =>
        a_job_a_live_server_runs_outlives_its_lease_and_another_server_s_recoveries,
        a_job_whose_server_went_silent_is_failed_by_a_running_server,
    );
}

/// `startImportJob` over a real multipart request, as Apollo Client's
/// upload link sends it: `operations`, `map`, then the file.
mod over_graphql {
    use clientela::auth::Role;
    use reqwest::multipart::{Form, Part};
    use reqwest::StatusCode;
    use serde_json::{json, Value};

    use super::{counts, finished, start, stored, CSV};
    use crate::helpers::TestApp;

    const START: &str =
        "mutation($file: Upload!, $format: ImportFileFormat, $mode: ImportMode, $dryRun: Boolean) {
  startImportJob(file: $file, format: $format, mode: $mode, dryRun: $dryRun) {
    id status mode matchOn dryRun format rowsRead
  }
}";

    /// Sends `startImportJob` with `file` (its name and content type) and
    /// `variables`; the status and the answer.
    async fn upload(
        app: &TestApp,
        token: &str,
        query: &str,
        variables: Value,
        file: (&str, &str, Vec<u8>),
    ) -> (StatusCode, Value) {
        let (name, content_type, bytes) = file;
        let mut variables = variables;
        variables["file"] = Value::Null;
        let form = Form::new()
            .text(
                "operations",
                json!({ "query": query, "variables": variables }).to_string(),
            )
            .text("map", json!({ "0": ["variables.file"] }).to_string())
            .part(
                "0",
                Part::bytes(bytes)
                    .file_name(name.to_owned())
                    .mime_str(content_type)
                    .expect("mime"),
            );
        let resp = app
            .client
            .post(app.url("/graphql"))
            .bearer_auth(token)
            .header("apollo-require-preflight", "true")
            .multipart(form)
            .send()
            .await
            .expect("send");
        let status = resp.status();
        (status, resp.json().await.expect("json"))
    }

    /// The id of the job a `startImportJob` answer started.
    #[track_caller]
    fn started(body: &Value) -> String {
        body["data"]["startImportJob"]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("{body}"))
            .to_owned()
    }

    async fn a_csv_job_started_over_graphql_counts_as_the_same_file_over_rest(app: TestApp) {
        app.create_customer(json!({"phoneNumber": "5219990001003", "firstName": "Old"}))
            .await;
        let (status, body) = upload(
            &app,
            &app.admin(),
            START,
            json!({ "dryRun": true }),
            ("customers.csv", "text/csv", CSV.as_bytes().to_vec()),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let job = &body["data"]["startImportJob"];
        assert_eq!(job["status"], "queued", "{body}");
        assert_eq!(
            job["format"], "csv",
            "the format is the file's content type's"
        );
        assert_eq!(job["mode"], "upsert");
        assert_eq!(job["dryRun"], true);
        assert_eq!(job["matchOn"], json!(["phone", "email", "externalId"]));
        let dry = finished(&app, job["id"].as_str().expect("id")).await;
        assert_eq!(dry["status"], "succeeded", "{dry}");
        assert_eq!(stored(&app).await, 1, "a dry run writes nothing");
        // The same file over REST, then over GraphQL for real.
        let rest = finished(
            &app,
            &start(&app, "mode=upsert&dryRun=true", "text/csv", CSV.to_owned()).await,
        )
        .await;
        assert_eq!(counts(&dry), counts(&rest), "graphql {dry}\nrest {rest}");
        let (_, body) = upload(
            &app,
            &app.admin(),
            START,
            json!({ "mode": "UPSERT" }),
            ("customers.csv", "text/csv", CSV.as_bytes().to_vec()),
        )
        .await;
        let id = started(&body);
        let real = finished(&app, &id).await;
        assert_eq!(counts(&real), json!([4, 1, 1, 0, 1, 1]), "{real}");
        assert_eq!(counts(&real), counts(&rest));
        assert_eq!(stored(&app).await, 2);
        // Read back over GraphQL, errors included.
        let data = app
            .gql_data(&app.admin(), super::GQL_JOB, json!({ "id": id }))
            .await;
        assert_eq!(data["importJob"]["status"], "succeeded");
        assert_eq!(
            data["importJob"]["errors"][0]["code"], "DUPLICATE",
            "{data}"
        );
        // A file of no known content type, with its format given.
        let ndjson = b"{\"phoneNumber\":\"5219990005001\"}\n{\"phoneNumber\":\"5219990005002\"}\n";
        let (_, body) = upload(
            &app,
            &app.admin(),
            START,
            json!({ "format": "NDJSON", "mode": "CREATE" }),
            ("export.txt", "application/octet-stream", ndjson.to_vec()),
        )
        .await;
        let job = finished(&app, &started(&body)).await;
        assert_eq!(job["format"], "ndjson");
        assert_eq!(counts(&job), json!([2, 2, 0, 0, 0, 0]), "{job}");
    }

    async fn a_viewer_cannot_start_an_import_job_over_graphql(app: TestApp) {
        let viewer = app.token(Role::Viewer, "default");
        let (status, body) = upload(
            &app,
            &viewer,
            START,
            json!({}),
            ("customers.csv", "text/csv", CSV.as_bytes().to_vec()),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "FORBIDDEN",
            "{body}"
        );
        assert!(body["data"].is_null(), "{body}");
        // No job was recorded.
        let data = app
            .gql_data(&app.admin(), "{ importJobs { id } }", json!({}))
            .await;
        assert_eq!(data["importJobs"], json!([]));
        // A viewer's upload is held to the ordinary body limit (1 MiB).
        let big = vec![b'x'; 1024 * 1024 + 1];
        let (status, body) = upload(
            &app,
            &viewer,
            START,
            json!({}),
            ("customers.csv", "text/csv", big),
        )
        .await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
        assert_eq!(body["errors"][0]["extensions"]["code"], "PAYLOAD_TOO_LARGE");
    }

    async fn a_bad_format_is_a_clear_error(app: TestApp) {
        let admin = app.admin();
        // A value the enum does not have.
        let (_, body) = upload(
            &app,
            &admin,
            START,
            json!({ "format": "XLSX" }),
            ("customers.xlsx", "application/octet-stream", b"x".to_vec()),
        )
        .await;
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
            "{body}"
        );
        let message = body["errors"][0]["message"].as_str().expect("message");
        assert!(
            message.contains("ImportFileFormat") && message.contains("XLSX"),
            "{message}"
        );
        // No format given, and none the file's content type or name names.
        let (_, body) = upload(
            &app,
            &admin,
            START,
            json!({}),
            ("customers.txt", "text/plain", b"phoneNumber\n1\n".to_vec()),
        )
        .await;
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
            "{body}"
        );
        assert_eq!(
            body["errors"][0]["extensions"]["fields"][0]["field"], "format",
            "{body}"
        );
        // A file whose content is not its format fails its job, as over REST.
        let (_, body) = upload(
            &app,
            &admin,
            START,
            json!({ "format": "CSV" }),
            ("customers.csv", "text/csv", b"name\nAna\n".to_vec()),
        )
        .await;
        let job = finished(&app, &started(&body)).await;
        assert_eq!(job["status"], "failed", "{job}");
        assert!(
            job["error"]
                .as_str()
                .expect("error")
                .contains("phoneNumber"),
            "{job}"
        );
        // A multipart POST without a preflight header is refused (CSRF).
        let form = Form::new()
            .text("operations", json!({ "query": START }).to_string())
            .text("map", "{}");
        let resp = app
            .client
            .post(app.url("/graphql"))
            .bearer_auth(&admin)
            .multipart(form)
            .send()
            .await
            .expect("send");
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
        let body: Value = resp.json().await.expect("json");
        let message = body["errors"][0]["message"].as_str().expect("message");
        assert!(message.contains("apollo-require-preflight"), "{message}");
    }

    crate::db_tests!(
        a_csv_job_started_over_graphql_counts_as_the_same_file_over_rest,
        a_viewer_cannot_start_an_import_job_over_graphql,
        a_bad_format_is_a_clear_error,
    );
}
