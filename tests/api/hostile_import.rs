//! Bulk import against hostile and busy clients: a caller without the admin
//! role is refused before its body is read, the row cap stops the read, a
//! row that fails claims no phone number, and concurrent imports of
//! overlapping rows neither deadlock nor report a row twice.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use clientela::auth::Role;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use reqwest::StatusCode;
use sea_orm::{EntityTrait, PaginatorTrait};
use serde_json::{json, Value};
use tokio::io::AsyncWriteExt;

use crate::helpers::fixtures::{import_indexes, phone};
use crate::helpers::rest::IMPORT;
use crate::helpers::{read_response, TestApp};

async fn a_viewers_or_agents_import_is_refused_before_its_body_is_read(app: TestApp) {
    const DECLARED: usize = 62_914_560; // 60 MiB
    for role in [Role::Viewer, Role::Agent] {
        let token = app.token(role, "default");
        let length = format!("Content-Length: {DECLARED}\r\n");
        let mut socket = app.raw_post(IMPORT, &token, &length).await;
        // Not one byte of the body is sent: the answer cannot wait for it.
        let (status, body) = read_response(&mut socket, Duration::from_secs(5)).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{role:?}: {body}");
        assert_eq!(body["code"], "FORBIDDEN", "{body}");

        // The server does not take the body: after the refusal it stops
        // reading, so 60 MiB cannot be pushed into it (a server that read
        // and buffered the body would take every byte).
        let chunk = vec![b' '; 64 * 1024];
        let started = Instant::now();
        let mut sent = 0;
        let pushed = tokio::time::timeout(Duration::from_secs(5), async {
            while sent < DECLARED {
                socket.write_all(&chunk).await?;
                sent += chunk.len();
            }
            Ok::<_, std::io::Error>(())
        })
        .await;
        assert!(
            !matches!(pushed, Ok(Ok(()))),
            "{role:?}: the server took all {sent} bytes of a refused body in {:?}",
            started.elapsed()
        );
        assert!(
            sent < DECLARED / 4,
            "{role:?}: the server took {sent} bytes of a refused body"
        );
    }
    assert_eq!(app.rest().total().await, 0, "nothing was imported");
}

async fn an_import_stops_reading_at_row_50001_and_stores_nothing(app: TestApp) {
    // Ten valid rows, then empty objects up to row 50,001, then a body that
    // never comes: the refusal must not wait for the rest of it.
    let mut rows: Vec<String> = (0..10)
        .map(|n| json!({ "phoneNumber": phone(n) }).to_string())
        .collect();
    rows.resize(50_001, "{}".to_owned());
    let sent = format!(r#"{{"customers":[{},"#, rows.join(","));
    let declared = sent.len() + 10 * 1024 * 1024;
    let length = format!("Content-Length: {declared}\r\n");
    let mut socket = app.raw_post(IMPORT, &app.admin(), &length).await;
    socket.write_all(sent.as_bytes()).await.expect("send rows");
    let (status, body) = read_response(&mut socket, Duration::from_secs(20)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["code"], "BAD_USER_INPUT", "{body}");
    assert!(
        body["error"].as_str().is_some_and(|e| e.contains("50000")),
        "{body}"
    );
    assert_eq!(
        app.rest().total().await,
        0,
        "an import over the cap writes none of its rows"
    );
}

async fn a_row_that_fails_claims_no_phone_number(app: TestApp) {
    let unknown_agent = uuid::Uuid::now_v7();
    let rows = vec![
        // 0: valid on its face, but names an agent that does not exist.
        json!({ "phoneNumber": phone(1), "preferences": { "preferredAgentId": unknown_agent } }),
        // 1: the same number, valid: it is stored.
        json!({ "phoneNumber": phone(1), "firstName": "Kept" }),
        // 2: fails the same way, with an alternative number.
        json!({ "phoneNumber": phone(2), "alternativePhones": [phone(3)],
                "preferences": { "preferredAgentId": unknown_agent } }),
        // 3: row 2's alternative, in another spelling: stored.
        json!({ "phoneNumber": format!("+{}", phone(3)) }),
        // 4: row 1's number again: a duplicate of a row that was stored.
        json!({ "phoneNumber": phone(1) }),
    ];
    let body = app.import(rows).await;
    assert_eq!(
        body["results"],
        json!({ "imported": 2, "duplicates": 1, "failed": 2 }),
        "{body}"
    );
    assert_eq!(import_indexes(&body, "failed"), vec![0, 2]);
    assert_eq!(import_indexes(&body, "duplicates"), vec![4]);
    for failed in body["details"]["failed"].as_array().expect("failed") {
        assert!(
            failed["reason"]
                .as_str()
                .is_some_and(|r| r.contains("preferredAgentId")),
            "{failed}"
        );
    }
    let stored: Vec<(Value, Value)> = body["details"]["success"]
        .as_array()
        .expect("success")
        .iter()
        .map(|c| (c["phoneNumber"].clone(), c["firstName"].clone()))
        .collect();
    assert_eq!(
        stored,
        vec![
            (json!(phone(1)), json!("Kept")),
            (json!(phone(3)), Value::Null)
        ]
    );
    assert_eq!(app.rest().total().await, 2);
}

async fn concurrent_imports_of_overlapping_rows_in_any_order_store_each_number_once(app: TestApp) {
    const ROWS: usize = 300;
    let unknown_agent = uuid::Uuid::now_v7();
    // Each row has an alternative number too; every 30th names an unknown
    // agent and fails (a failed row must be reported once, even when its
    // batch is tried again).
    let rows: Vec<(usize, Value)> = (0..ROWS)
        .map(|n| {
            let mut row =
                json!({ "phoneNumber": phone(n), "alternativePhones": [phone(1000 + n)] });
            if n % 30 == 0 {
                row["preferences"] = json!({ "preferredAgentId": unknown_agent });
            }
            (n, row)
        })
        .collect();
    let failing = ROWS / 30;
    let mut orders = vec![rows.clone()];
    orders.push(rows.iter().rev().cloned().collect());
    for seed in [7, 11] {
        let mut shuffled = rows.clone();
        shuffled.shuffle(&mut rand_chacha::ChaCha8Rng::seed_from_u64(seed));
        orders.push(shuffled);
    }
    let imports: Vec<_> = orders
        .into_iter()
        .map(|order| {
            let client = app.client.clone();
            let url = app.url(IMPORT);
            let token = app.admin();
            let body = json!({ "customers": order.iter().map(|(_, r)| r).collect::<Vec<_>>() });
            tokio::spawn(async move {
                let resp = client
                    .post(url)
                    .bearer_auth(token)
                    .json(&body)
                    .send()
                    .await
                    .expect("send");
                let status = resp.status();
                (status, resp.json::<Value>().await.expect("json"), order)
            })
        })
        .collect();
    let mut imported = 0;
    for import in imports {
        let (status, body, order) = import.await.expect("import task");
        assert_eq!(status, StatusCode::OK, "{body}");
        let results = &body["results"];
        let count = |key: &str| results[key].as_u64().expect(key) as usize;
        assert_eq!(
            count("imported") + count("duplicates") + count("failed"),
            ROWS,
            "every row is reported exactly once: {results}"
        );
        assert_eq!(count("failed"), failing, "{results}");
        // Each row under one outcome, each outcome naming the row it judged.
        let mut judged = BTreeSet::new();
        for key in ["duplicates", "failed"] {
            for issue in body["details"][key].as_array().expect(key) {
                let index = issue["index"].as_u64().expect("index") as usize;
                assert!(judged.insert(index), "row {index} reported twice: {body}");
                assert_eq!(
                    issue["phoneNumber"], order[index].1["phoneNumber"],
                    "{issue}"
                );
                assert_eq!(key == "failed", order[index].0 % 30 == 0, "{issue}");
            }
        }
        for stored in body["details"]["success"].as_array().expect("success") {
            let index = order
                .iter()
                .position(|(_, r)| r["phoneNumber"] == stored["phoneNumber"])
                .expect("a stored row was in the list");
            assert!(judged.insert(index), "row {index} reported twice: {body}");
        }
        assert_eq!(judged.len(), ROWS);
        imported += count("imported");
    }
    assert_eq!(
        imported,
        ROWS - failing,
        "each valid row was stored by exactly one import"
    );
    assert_eq!(app.rest().total().await as usize, ROWS - failing);
    // Every number, primary and alternative, is stored, once (its key).
    let numbers = entity::customer_phone::Entity::find()
        .count(&app.db)
        .await
        .expect("count numbers");
    assert_eq!(numbers as usize, 2 * (ROWS - failing));
}

crate::db_tests!(
    a_viewers_or_agents_import_is_refused_before_its_body_is_read,
    an_import_stops_reading_at_row_50001_and_stores_nothing,
    a_row_that_fails_claims_no_phone_number,
    concurrent_imports_of_overlapping_rows_in_any_order_store_each_number_once,
);
