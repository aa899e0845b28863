//! Every count of customers the API returns equals a fresh `count(*)`: the
//! list's `pagination.total` under each filter and combination (both
//! faces), `customersConnection.totalCount` with and without cursors, the
//! dashboard (`stats/summary` and `customerStats`: total, active, VIP,
//! blocked, new this month, customers per segment) and the JSON export's
//! `total`. Checked after waves of concurrent writes of every kind while
//! readers list, right after single writes raced by readers (where a count
//! cache would keep a count taken mid-commit), across another tenant's
//! writes, and after `clientela recount` mends hand-written SQL.
//!
//! The numbers to match are the test's own: `count(*)` over the tables,
//! cross-checked against a count of the raw rows (their `tags` column, and
//! search by the contract's rules, which SQL cannot state portably).

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;

use chrono::{DateTime, Datelike, TimeDelta, TimeZone, Utc};
use clientela::auth::Role;
use entity::customer;
use reqwest::StatusCode;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, Statement};
use serde_json::{json, Value};
use unicode_normalization::{char::is_combining_mark, UnicodeNormalization};
use uuid::Uuid;

use crate::helpers::fixtures::phone;
use crate::helpers::rest::{CUSTOMERS, EXPORT, IMPORT};
use crate::helpers::{Backend, TestApp};

/// Statuses a create or update may set (`blocked` is the block route's).
const SETTABLE: &[&str] = &["active", "active", "inactive", "vip"];
const SEGMENTS: &[&str] = &["vip", "regular", "new", "inactive"];
const SOURCES: &[&str] = &["whatsapp", "referral", "website", "social_media", "other"];
/// Tags the fixtures give; tags are case-sensitive, so `vip` and `Vip` differ.
const TAGS: &[&str] = &["gold", "promo", "late", "vip", "Vip"];
const FIRST: &[&str] = &[
    "José", "Jose", "María", "Maria", "John", "Ana", "Lucía", "Pedro",
];
const LAST: &[&str] = &["Pérez", "Perez", "García", "Doe", "Núñez", "Smith"];
/// The page size of the offset lists read (so `pages` is worth checking).
const LIMIT: i64 = 7;
/// Waves of concurrent writes in the main test.
const WAVES: usize = 3;
/// Writer tasks of a wave (besides the four that race on one number).
const WRITERS: usize = 12;
/// Writes each writer task makes.
const OPS: usize = 4;
/// Single writes raced by readers after each wave.
const FLIPS: usize = 4;
/// Readers racing each of those writes.
const READERS_PER_FLIP: usize = 6;
/// Reader tasks of a wave on the tenant being written.
const READERS: usize = 2;
/// How long a reader waits between two reads.
const PAUSE: std::time::Duration = std::time::Duration::from_millis(20);
/// Customers every fixture tenant starts with at least (numbers `phone(0..)`).
const FIRST_NUMBERS: usize = 20;

/// Filters one GraphQL document asks about: two aliases each, and the
/// server allows 30 aliases a document.
const PER_DOCUMENT: usize = 12;
const STATS: &str = "{ customerStats {
  summary { totalCustomers activeCustomers vipCustomers blockedCustomers newThisMonth }
  segments { segment count }
} }";
/// The dashboard's counts, as both faces name them.
const SUMMARY: &[&str] = &[
    "totalCustomers",
    "activeCustomers",
    "vipCustomers",
    "blockedCustomers",
    "newThisMonth",
];

const CREATE: &str =
    "mutation($input: CreateCustomerInput!) { createCustomer(input: $input) { id } }";
const UPDATE: &str = "mutation($id: ID!, $input: UpdateCustomerInput!) {
  updateCustomer(id: $id, input: $input) { id }
}";
const RETAG: &str = "mutation($id: ID!, $tags: [String!]!, $action: TagAction) {
  updateCustomerTags(id: $id, tags: $tags, action: $action) { id }
}";
const BLOCK: &str = "mutation($id: ID!, $blocked: Boolean!) {
  setCustomerBlocked(id: $id, isBlocked: $blocked, blockReason: \"spam\") { id }
}";
const DELETE: &str = "mutation($id: ID!, $permanent: Boolean) {
  deleteCustomer(id: $id, permanent: $permanent) { permanent }
}";
const IMPORT_ROWS: &str = "mutation($rows: [CreateCustomerInput!]!) {
  importCustomers(customers: $rows) { imported duplicates failed }
}";

/// A server without rate limiting: the checks send hundreds of requests a second.
async fn unlimited(backend: Backend) -> Option<TestApp> {
    TestApp::with_config(backend, |config| config.limits.rate_limit = 0).await
}

/// SplitMix64: the fixtures and each task's writes are drawn from a seed,
/// so only the interleaving of a wave is left to chance.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number below `n`.
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// A seed of its own for each tenant.
fn salt(tenant: &str) -> u64 {
    tenant
        .bytes()
        .fold(17, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)))
}

/// Lowercases and strips accents, as the contract's search does (`José` finds `jose`).
fn fold(text: &str) -> String {
    text.nfd()
        .filter(|c| !is_combining_mark(*c))
        .flat_map(char::to_lowercase)
        .collect()
}

/// Some of the fixture tags, sometimes one again with spaces around it (the
/// API trims and dedupes tags).
fn some_tags(rng: &mut Rng) -> Vec<String> {
    let mut tags: Vec<String> = TAGS
        .iter()
        .filter(|_| rng.below(3) == 0)
        .map(|t| (*t).to_owned())
        .collect();
    if let Some(first) = tags.first().cloned() {
        if rng.below(4) == 0 {
            tags.push(format!(" {first} "));
        }
    }
    tags
}

/// A new customer's REST body with the number `phone`: status, segment,
/// source, tags, names and email drawn from `rng`.
fn person(rng: &mut Rng, phone: String) -> Value {
    let first = *rng.pick(FIRST);
    let mut body = json!({
        "phoneNumber": phone,
        "firstName": first,
        "lastName": rng.pick(LAST),
        "status": rng.pick(SETTABLE),
        "segment": rng.pick(SEGMENTS),
        "source": rng.pick(SOURCES),
        "tags": some_tags(rng),
    });
    if rng.below(3) > 0 {
        body["email"] = json!(format!("{}{}@example.com", fold(first), rng.below(100)));
    }
    body
}

/// Some fields of an update drawn from `rng` (at least one), as REST sends them.
fn changes(rng: &mut Rng) -> Value {
    let mut body = json!({});
    while body.as_object().is_some_and(|o| o.is_empty()) {
        if rng.below(2) == 0 {
            body["status"] = json!(rng.pick(SETTABLE));
        }
        if rng.below(2) == 0 {
            body["segment"] = json!(rng.pick(SEGMENTS));
        }
        if rng.below(3) == 0 {
            body["source"] = json!(rng.pick(SOURCES));
        }
        if rng.below(3) == 0 {
            body["tags"] = json!(some_tags(rng));
        }
        if rng.below(3) == 0 {
            body["firstName"] = json!(rng.pick(FIRST));
        }
        if rng.below(4) == 0 {
            body["email"] = match rng.below(2) {
                0 => Value::Null,
                _ => json!(format!("maria{}@example.com", rng.below(100))),
            };
        }
    }
    body
}

/// A REST customer body as GraphQL input: the enums in capitals.
fn to_graphql(body: &Value) -> Value {
    let mut input = body.clone();
    for key in ["status", "segment", "source"] {
        if let Some(v) = body[key].as_str() {
            input[key] = json!(v.to_uppercase());
        }
    }
    input
}

/// `canonical` (52 and ten digits) spelled the `k`-th of four ways the
/// contract says are the same number.
fn spelled(canonical: &str, k: usize) -> String {
    let national = &canonical[2..];
    match k % 4 {
        0 => canonical.to_owned(),
        1 => format!(
            "+52 ({}) {}-{}",
            &national[..3],
            &national[3..6],
            &national[6..]
        ),
        2 => national.to_owned(),
        _ => format!("521{national}"),
    }
}

/// The start of the current calendar month, UTC.
fn month_start(now: DateTime<Utc>) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(now.year(), now.month(), 1, 0, 0, 0)
        .single()
        .expect("the first of a month exists")
}

/// Which customers a list takes, parsed from its REST query string.
#[derive(Debug, Clone, Default)]
struct Filter {
    /// The REST query string it was parsed from.
    query: String,
    status: Option<String>,
    segment: Option<String>,
    source: Option<String>,
    /// ANY of these.
    tags: Vec<String>,
    search: Option<String>,
}

impl Filter {
    /// Reads `status=..&segment=..&source=..&tags=a,b&search=..` (unencoded).
    fn parse(query: &str) -> Filter {
        let mut f = Filter {
            query: query.to_owned(),
            ..Filter::default()
        };
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, raw) = pair.split_once('=').expect("key=value");
            let value = Some(raw.to_owned());
            match key {
                "status" => f.status = value,
                "segment" => f.segment = value,
                "source" => f.source = value,
                "tags" => f.tags = raw.split(',').map(str::to_owned).collect(),
                "search" => f.search = value,
                _ => panic!("not a list filter: {key}"),
            }
        }
        f
    }

    /// The status, segment and source asked for, by key.
    fn enums(&self) -> [(&'static str, Option<&str>); 3] {
        [
            ("status", self.status.as_deref()),
            ("segment", self.segment.as_deref()),
            ("source", self.source.as_deref()),
        ]
    }

    /// The REST query pairs.
    fn pairs(&self) -> Vec<(&'static str, String)> {
        let mut pairs: Vec<(&'static str, String)> = self
            .enums()
            .into_iter()
            .filter_map(|(key, value)| Some((key, value?.to_owned())))
            .collect();
        if !self.tags.is_empty() {
            pairs.push(("tags", self.tags.join(",")));
        }
        if let Some(search) = &self.search {
            pairs.push(("search", search.clone()));
        }
        pairs
    }

    /// How messages name the filter.
    fn label(&self) -> &str {
        if self.query.is_empty() {
            "(no filter)"
        } else {
            &self.query
        }
    }

    /// The REST list path for page `page` of `limit`.
    fn rest_path(&self, page: i64, limit: i64) -> String {
        let mut pairs = self.pairs();
        pairs.push(("page", page.to_string()));
        pairs.push(("limit", limit.to_string()));
        path_with(CUSTOMERS, &pairs)
    }

    /// The path of the JSON export of the customers the filter takes.
    fn export_path(&self) -> String {
        let mut pairs = self.pairs();
        pairs.push(("format", "json".to_owned()));
        path_with(EXPORT, &pairs)
    }

    /// The GraphQL `CustomerFilter`.
    fn graphql(&self) -> Value {
        let mut filter = json!({});
        for (key, value) in self.enums() {
            if let Some(value) = value {
                filter[key] = json!(value.to_uppercase());
            }
        }
        if !self.tags.is_empty() {
            filter["tags"] = json!(self.tags);
        }
        if let Some(search) = &self.search {
            filter["search"] = json!(search);
        }
        filter
    }

    /// Whether a stored row matches, by the contract's rules, read from the
    /// row's own columns (its `tags` column, not the tag index).
    fn matches(&self, c: &customer::Model) -> bool {
        let fields = [
            Some(c.phone_number.as_str()),
            c.first_name.as_deref(),
            c.last_name.as_deref(),
            c.email.as_deref(),
        ];
        let stored = [c.status.as_str(), c.segment.as_str(), c.source.as_str()];
        self.enums()
            .iter()
            .zip(stored)
            .all(|((_, want), is)| want.is_none_or(|want| want == is))
            && (self.tags.is_empty() || c.tags.0.iter().any(|t| self.tags.contains(t)))
            && self
                .search
                .as_deref()
                .unwrap_or_default()
                .split_whitespace()
                .map(fold)
                .all(|word| fields.iter().flatten().any(|f| fold(f).contains(&word)))
    }

    /// The SQL condition of the filter's status, segment, source and tags
    /// (tags through the `customer_tags` index, as the lists read them).
    fn sql(&self, tenant: &str) -> String {
        let mut conditions = vec![format!("tenant_id = {}", lit(tenant))];
        for (column, value) in self.enums() {
            if let Some(value) = value {
                conditions.push(format!("{column} = {}", lit(value)));
            }
        }
        if !self.tags.is_empty() {
            let tags: Vec<String> = self.tags.iter().map(|t| lit(t)).collect();
            conditions.push(format!(
                "id IN (SELECT customer_id FROM customer_tags WHERE tenant_id = {} AND tag IN ({}))",
                lit(tenant),
                tags.join(", ")
            ));
        }
        conditions.join(" AND ")
    }
}

/// `path?query` with the pairs encoded.
fn path_with(path: &str, pairs: &[(&str, String)]) -> String {
    let url = reqwest::Url::parse_with_params(&format!("http://x{path}"), pairs).expect("a URL");
    format!("{}?{}", url.path(), url.query().unwrap_or_default())
}

/// The filters every check reads, as REST query strings: none, each value
/// of each enum, tags (one, two, repeated, case), combinations, and
/// searches (accents, case, two words, digits, no match).
const FILTERS: &[&str] = &[
    "",
    "status=active",
    "status=inactive",
    "status=blocked",
    "status=vip",
    "segment=vip",
    "segment=regular",
    "segment=new",
    "segment=inactive",
    "source=whatsapp",
    "source=referral",
    "source=website",
    "source=social_media",
    "source=other",
    "tags=gold",
    "tags=vip",
    "tags=Vip",
    "tags=gold,promo",
    "tags=promo,gold,gold",
    // No write path gives this tag; the recount test's SQL adds index rows of it.
    "tags=stray",
    "status=active&segment=vip",
    // S2 of the benchmark.
    "status=active&segment=regular&tags=gold,promo",
    "status=blocked&source=whatsapp",
    "source=referral&tags=late,vip",
    "search=jose",
    "search=JOSÉ pérez",
    "status=active&search=maria",
    "segment=new&tags=late&search=example.com",
    "search=200001",
    "search=zzz",
];

/// Filters of [`FILTERS`] whose JSON export each check reads too: its
/// `total`, and the rows it sends (an export sends every matching customer,
/// so not for every filter).
const EXPORTED: &[&str] = &[
    "",
    "status=blocked",
    "status=active&segment=regular&tags=gold,promo",
    "tags=promo,gold,gold",
    "search=JOSÉ pérez",
];

/// [`FILTERS`], parsed.
fn filters() -> Vec<Filter> {
    FILTERS.iter().copied().map(Filter::parse).collect()
}

/// An SQL string literal of a test constant.
fn lit(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// The one integer an SQL query answers, run on the test's own connection.
async fn scalar(app: &TestApp, sql: &str, values: Vec<sea_orm::Value>) -> i64 {
    let statement = Statement::from_sql_and_values(app.db.get_database_backend(), sql, values);
    app.db
        .query_one(statement)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .expect("a row")
        .try_get_by_index::<i64>(0)
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// `SELECT count(*) FROM customers WHERE <condition>`.
async fn count_star(app: &TestApp, condition: &str) -> i64 {
    scalar(
        app,
        &format!("SELECT count(*) FROM customers WHERE {condition}"),
        vec![],
    )
    .await
}

/// The customers of `tenant` created at or after `since`, by `count(*)`.
async fn count_created_since(app: &TestApp, tenant: &str, since: DateTime<Utc>) -> i64 {
    let placeholder = match app.db.get_database_backend() {
        DbBackend::Postgres => "$1",
        _ => "?",
    };
    let sql = format!(
        "SELECT count(*) FROM customers WHERE tenant_id = {} AND created_at >= {placeholder}",
        lit(tenant)
    );
    scalar(app, &sql, vec![since.into()]).await
}

/// Every customer row of `tenant`, as stored.
async fn rows(app: &TestApp, tenant: &str) -> Vec<customer::Model> {
    customer::Entity::find()
        .filter(customer::Column::TenantId.eq(tenant))
        .all(&app.db)
        .await
        .expect("read customers")
}

/// An integer of an answer (negative ones included, to be caught).
#[track_caller]
fn int(v: &Value) -> i64 {
    v.as_i64().unwrap_or_else(|| panic!("not an integer: {v}"))
}

/// Asserts `pages` = ceil(total / LIMIT) within one answer.
#[track_caller]
fn assert_pages(pagination: &Value, what: &str) {
    let (total, pages) = (int(&pagination["total"]), int(&pagination["pages"]));
    if total >= 0 {
        assert_eq!(
            pages,
            (total + LIMIT - 1) / LIMIT,
            "{what}: pages of {total} by {LIMIT}"
        );
    }
}

/// The REST list's `pagination.total` for `f`, named for messages.
async fn observe_rest(app: &TestApp, token: &str, f: &Filter) -> (String, i64) {
    let label = f.label();
    let rest = app.rest_as(token).get_ok(&f.rest_path(1, LIMIT)).await;
    assert_pages(&rest["pagination"], &format!("REST {label}"));
    (
        format!("{label}: REST pagination.total"),
        int(&rest["pagination"]["total"]),
    )
}

/// The GraphQL counts of each filter of `fs` (at most [`PER_DOCUMENT`]), in
/// two documents: `customers.pagination.total` and
/// `customersConnection.totalCount` without cursors, then `totalCount` after
/// and before a cursor (the filter's own, or the unfiltered list's when it
/// matches nobody), each named by its filter and field.
async fn observe_graphql(app: &TestApp, token: &str, fs: &[Filter]) -> Vec<(String, i64)> {
    assert!(fs.len() <= PER_DOCUMENT);
    let mut params = Vec::new();
    let mut fields = Vec::new();
    let mut variables = json!({});
    for (i, f) in fs.iter().enumerate() {
        params.push(format!("$f{i}: CustomerFilter"));
        fields.push(format!(
            "p{i}: customers(filter: $f{i}, limit: {LIMIT}) {{ pagination {{ total pages }} }}\n  \
             c{i}: customersConnection(filter: $f{i}, first: 2) {{ totalCount pageInfo {{ endCursor }} }}"
        ));
        variables[format!("f{i}")] = f.graphql();
    }
    let counts = format!(
        "query({}) {{\n  {}\n  any: customersConnection(first: 1) {{ pageInfo {{ endCursor }} }}\n}}",
        params.join(", "),
        fields.join("\n  ")
    );
    let data = app.gql_data(token, &counts, variables.clone()).await;
    let mut seen = Vec::new();
    let (mut params, mut fields) = (Vec::new(), Vec::new());
    for (i, f) in fs.iter().enumerate() {
        let label = f.label();
        let page = &data[format!("p{i}")]["pagination"];
        assert_pages(page, &format!("GraphQL {label}"));
        let connection = &data[format!("c{i}")];
        seen.push((
            format!("{label}: GraphQL customers.pagination.total"),
            int(&page["total"]),
        ));
        seen.push((
            format!("{label}: GraphQL customersConnection.totalCount"),
            int(&connection["totalCount"]),
        ));
        let cursor = connection["pageInfo"]["endCursor"]
            .as_str()
            .or(data["any"]["pageInfo"]["endCursor"].as_str());
        if let Some(cursor) = cursor {
            params.push(format!("$f{i}: CustomerFilter, $k{i}: String!"));
            fields.push(format!(
                "a{i}: customersConnection(filter: $f{i}, first: 2, after: $k{i}) {{ totalCount }}\n  \
                 b{i}: customersConnection(filter: $f{i}, last: 2, before: $k{i}) {{ totalCount }}"
            ));
            variables[format!("k{i}")] = json!(cursor);
        }
    }
    if fields.is_empty() {
        return seen;
    }
    let cursored = format!(
        "query({}) {{\n  {}\n}}",
        params.join(", "),
        fields.join("\n  ")
    );
    let data = app.gql_data(token, &cursored, variables).await;
    for (i, f) in fs.iter().enumerate() {
        let label = f.label();
        for (alias, side) in [("a", "after"), ("b", "before")] {
            let count = &data[format!("{alias}{i}")]["totalCount"];
            if !count.is_null() {
                seen.push((
                    format!("{label}: GraphQL customersConnection({side}).totalCount"),
                    int(count),
                ));
            }
        }
    }
    seen
}

/// The ids the REST list shows for `f`, every page read.
async fn listed_ids(app: &TestApp, token: &str, f: &Filter) -> HashSet<String> {
    let mut ids = HashSet::new();
    let mut page = 1;
    loop {
        let body = app.rest_as(token).get_ok(&f.rest_path(page, 100)).await;
        for c in body["customers"].as_array().expect("customers") {
            ids.insert(c["_id"].as_str().expect("_id").to_owned());
        }
        if page >= int(&body["pagination"]["pages"]) {
            return ids;
        }
        page += 1;
    }
}

/// The dashboard's counts on both faces: (label, key, value), the key one of
/// [`SUMMARY`] or `segment <name>` (0 for a segment left out). Also asserts
/// what holds within one answer: no segment listed twice or with 0
/// customers, largest first.
async fn observe_stats(app: &TestApp, token: &str) -> Vec<(String, String, i64)> {
    let rest = app
        .rest_as(token)
        .get_ok(&format!("{CUSTOMERS}/stats/summary"))
        .await;
    let data = app.gql_data(token, STATS, json!({})).await;
    let faces = [
        (
            "REST stats/summary",
            &rest["summary"],
            &rest["segments"],
            "_id",
        ),
        (
            "GraphQL customerStats",
            &data["customerStats"]["summary"],
            &data["customerStats"]["segments"],
            "segment",
        ),
    ];
    let mut seen = Vec::new();
    for (face, summary, segments, name) in faces {
        for key in SUMMARY {
            seen.push((
                format!("{face} {key}"),
                (*key).to_owned(),
                int(&summary[key]),
            ));
        }
        let listed: Vec<(String, i64)> = segments
            .as_array()
            .unwrap_or_else(|| panic!("{face}: no segments"))
            .iter()
            .map(|s| {
                let segment = s[name].as_str().expect("a segment name").to_lowercase();
                (segment, int(&s["count"]))
            })
            .collect();
        let names: HashSet<&str> = listed.iter().map(|(s, _)| s.as_str()).collect();
        assert_eq!(
            names.len(),
            listed.len(),
            "{face}: a segment twice: {listed:?}"
        );
        assert!(
            listed.iter().all(|(_, n)| *n != 0),
            "{face}: segments without customers are left out: {listed:?}"
        );
        assert!(
            listed.windows(2).all(|w| w[0].1 >= w[1].1),
            "{face}: largest first: {listed:?}"
        );
        for segment in SEGMENTS {
            let count = listed
                .iter()
                .find(|(s, _)| s == segment)
                .map_or(0, |(_, n)| *n);
            seen.push((
                format!("{face} segment {segment}"),
                format!("segment {segment}"),
                count,
            ));
        }
    }
    seen
}

/// The count `f` must show in `tenant` whose rows are `rows`: `count(*)`,
/// which must agree with a count of the rows (else `wrong` says so); for a
/// search, the rows' count, and (with a `token`) the REST list read to its
/// last page must show exactly those customers.
async fn expected(
    app: &TestApp,
    tenant: &str,
    rows: &[customer::Model],
    f: &Filter,
    token: Option<&str>,
    wrong: &mut Vec<String>,
) -> i64 {
    let label = f.label();
    let matching: Vec<&customer::Model> = rows.iter().filter(|c| f.matches(c)).collect();
    let by_rows = matching.len() as i64;
    if f.search.is_some() {
        // Search is the contract's substring rule over four fields, not
        // something SQL states alike on both databases: the rows decide.
        if let Some(token) = token {
            let want: HashSet<String> = matching.iter().map(|c| c.id.to_string()).collect();
            let listed = listed_ids(app, token, f).await;
            if listed != want {
                wrong.push(format!(
                    "{label}: the REST list shows {} customers, the rows match {}",
                    listed.len(),
                    want.len()
                ));
            }
        }
        return by_rows;
    }
    let star = count_star(app, &f.sql(tenant)).await;
    if star != by_rows {
        wrong.push(format!(
            "{label}: count(*) = {star} but the rows (their tags column) match {by_rows}: \
             the tag index disagrees with the rows"
        ));
    }
    star
}

/// Compares counts the API showed (each named `<filter label>: <where>`)
/// with `wants` by filter label: a line in `wrong` for each that differs,
/// and each into `seen`.
fn compare(
    observed: Vec<(String, i64)>,
    wants: &BTreeMap<&str, i64>,
    wrong: &mut Vec<String>,
    seen: &mut BTreeMap<String, i64>,
) {
    for (what, got) in observed {
        let label = what.split(": ").next().unwrap_or_default();
        let want = wants[label];
        if got != want {
            wrong.push(format!("{what} = {got}, count(*) = {want}"));
        }
        seen.insert(what, got);
    }
}

/// Asserts that every count the API shows `tenant` equals the test's own
/// `count(*)` (which must agree with a count of the raw rows); the counts
/// seen, by label, for a later comparison.
async fn check(app: &TestApp, tenant: &str, when: &str) -> BTreeMap<String, i64> {
    let token = app.token(Role::Admin, tenant);
    let rows = rows(app, tenant).await;
    let mut wrong = Vec::new();
    let mut seen = BTreeMap::new();
    let all_filters = filters();
    let mut wants = BTreeMap::new();
    for f in &all_filters {
        let want = expected(app, tenant, &rows, f, Some(&token), &mut wrong).await;
        wants.insert(f.label(), want);
    }
    let mut observed = Vec::new();
    for f in &all_filters {
        observed.push(observe_rest(app, &token, f).await);
    }
    for chunk in all_filters.chunks(PER_DOCUMENT) {
        observed.extend(observe_graphql(app, &token, chunk).await);
    }
    for f in all_filters
        .iter()
        .filter(|f| EXPORTED.contains(&f.query.as_str()))
    {
        let export = app.rest_as(&token).get_ok(&f.export_path()).await;
        let sent = export["customers"]
            .as_array()
            .map_or(-1, |c| c.len() as i64);
        let label = f.label();
        observed.push((format!("{label}: REST export total"), int(&export["total"])));
        observed.push((format!("{label}: REST export, customers sent"), sent));
    }
    compare(observed, &wants, &mut wrong, &mut seen);

    let month = month_start(Utc::now());
    let all = format!("tenant_id = {}", lit(tenant));
    let mut want = BTreeMap::from([
        ("totalCustomers".to_owned(), count_star(app, &all).await),
        (
            "activeCustomers".to_owned(),
            count_star(app, &format!("{all} AND status = 'active'")).await,
        ),
        (
            "vipCustomers".to_owned(),
            count_star(app, &format!("{all} AND segment = 'vip'")).await,
        ),
        (
            "blockedCustomers".to_owned(),
            count_star(app, &format!("{all} AND is_blocked = true")).await,
        ),
        (
            "newThisMonth".to_owned(),
            count_created_since(app, tenant, month).await,
        ),
    ]);
    for segment in SEGMENTS {
        let n = count_star(app, &format!("{all} AND segment = {}", lit(segment))).await;
        want.insert(format!("segment {segment}"), n);
    }
    let by_rows =
        |keep: &dyn Fn(&customer::Model) -> bool| rows.iter().filter(|c| keep(c)).count() as i64;
    let mut from_rows = BTreeMap::from([
        ("totalCustomers".to_owned(), rows.len() as i64),
        (
            "activeCustomers".to_owned(),
            by_rows(&|c| c.status.as_str() == "active"),
        ),
        (
            "vipCustomers".to_owned(),
            by_rows(&|c| c.segment.as_str() == "vip"),
        ),
        ("blockedCustomers".to_owned(), by_rows(&|c| c.is_blocked)),
        (
            "newThisMonth".to_owned(),
            by_rows(&|c| c.created_at >= month),
        ),
    ]);
    for segment in SEGMENTS {
        from_rows.insert(
            format!("segment {segment}"),
            by_rows(&|c| c.segment.as_str() == *segment),
        );
    }
    if want != from_rows {
        wrong.push(format!(
            "the dashboard's count(*)s {want:?} differ from the rows' {from_rows:?}"
        ));
    }
    let stats = observe_stats(app, &token).await;
    // A check that straddles the turn of a month compares newThisMonth of
    // two different months; it is left out then (never in practice).
    let month_turned = month_start(Utc::now()) != month;
    for (what, key, got) in stats {
        if key == "newThisMonth" && month_turned {
            continue;
        }
        if got != want[&key] {
            wrong.push(format!("{what} = {got}, count(*) = {}", want[&key]));
        }
        seen.insert(what, got);
    }
    assert!(
        wrong.is_empty(),
        "tenant {tenant}, {when} ({:?}): counts differ from count(*):\n  {}",
        app.backend,
        wrong.join("\n  ")
    );
    seen
}

/// What a wave's writes reported, so the total must move by exactly that.
#[derive(Default)]
struct Tally {
    /// Customers the tenant may hold at most: those it had, plus every
    /// customer a create or import asked for (counted before it is sent).
    ever: AtomicI64,
    /// Customers the answers say were created.
    created: AtomicI64,
    /// Customers the answers say were removed for good.
    removed: AtomicI64,
}

/// New numbers for one task: `phone(base)`, `phone(base + 1)`, ...
struct Fresh(usize);

impl Fresh {
    fn next(&mut self) -> String {
        self.0 += 1;
        phone(self.0)
    }
}

/// Whether a REST write took effect: `ok`, or 404 because another task
/// removed the customer first; any other answer fails the test.
#[track_caller]
fn rest_applied(what: &str, (status, body): (StatusCode, Value), ok: StatusCode) -> bool {
    assert!(
        status == ok || status == StatusCode::NOT_FOUND,
        "{what}: {status} {body}"
    );
    status == ok
}

/// Whether a GraphQL write took effect: data, or NOT_FOUND because another
/// task removed the customer first; any other answer fails the test.
#[track_caller]
fn gql_applied(what: &str, body: &Value) -> bool {
    match body.get("errors") {
        None | Some(Value::Null) => {
            assert!(body["data"].is_object(), "{what}: {body}");
            true
        }
        Some(_) => {
            assert_eq!(
                body["errors"][0]["extensions"]["code"], "NOT_FOUND",
                "{what}: {body}"
            );
            false
        }
    }
}

/// One writer of a wave: [`OPS`] writes drawn from `rng`, through either
/// face, each on one of `ids` (which another task may have removed by then)
/// or new: creates, updates of status, segment, source, tags, names, email
/// and number, blocks and unblocks, tag edits, soft and hard deletes, and
/// imports mixing new rows, duplicates and an invalid row.
async fn writer(
    app: Arc<TestApp>,
    tenant: String,
    ids: Arc<Vec<Uuid>>,
    mut fresh: Fresh,
    mut rng: Rng,
    tally: Arc<Tally>,
) {
    let token = app.token(Role::Admin, &tenant);
    let rest = app.rest_as(&token);
    for _ in 0..OPS {
        let id = *rng.pick(ids.as_slice());
        let path = format!("{CUSTOMERS}/{id}");
        let by_rest = rng.below(2) == 0;
        match rng.below(12) {
            0 | 1 => {
                let body = person(&mut rng, fresh.next());
                tally.ever.fetch_add(1, Ordering::SeqCst);
                if by_rest {
                    let (status, answer) = rest.post(CUSTOMERS, body).await;
                    assert_eq!(status, StatusCode::CREATED, "create: {answer}");
                } else {
                    let input = json!({ "input": to_graphql(&body) });
                    app.gql_data(&token, CREATE, input).await;
                }
                tally.created.fetch_add(1, Ordering::SeqCst);
            }
            2..=4 => {
                let mut body = changes(&mut rng);
                if rng.below(4) == 0 {
                    body["phoneNumber"] = json!(fresh.next());
                }
                if by_rest {
                    rest_applied("PUT", rest.put(&path, body).await, StatusCode::OK);
                } else {
                    let vars = json!({ "id": id, "input": to_graphql(&body) });
                    gql_applied("updateCustomer", &app.gql(&token, UPDATE, vars).await);
                }
            }
            kind @ (5 | 6) => {
                let blocked = kind == 5;
                if by_rest {
                    let body = json!({ "isBlocked": blocked, "blockReason": "spam" });
                    let answer = rest.patch(&format!("{path}/block"), body).await;
                    rest_applied("PATCH block", answer, StatusCode::OK);
                } else {
                    let vars = json!({ "id": id, "blocked": blocked });
                    gql_applied("setCustomerBlocked", &app.gql(&token, BLOCK, vars).await);
                }
            }
            7 | 8 => {
                let tags = some_tags(&mut rng);
                let action = *rng.pick(&["set", "add", "remove"]);
                if by_rest {
                    let body = json!({ "tags": tags, "action": action });
                    let answer = rest.patch(&format!("{path}/tags"), body).await;
                    rest_applied("PATCH tags", answer, StatusCode::OK);
                } else {
                    let vars = json!({ "id": id, "tags": tags, "action": action.to_uppercase() });
                    gql_applied("updateCustomerTags", &app.gql(&token, RETAG, vars).await);
                }
            }
            kind @ (9 | 10) => {
                let permanent = kind == 10;
                let removed = if by_rest {
                    let path = format!("{path}?permanent={permanent}");
                    rest_applied("DELETE", rest.delete(&path).await, StatusCode::OK)
                } else {
                    let vars = json!({ "id": id, "permanent": permanent });
                    gql_applied("deleteCustomer", &app.gql(&token, DELETE, vars).await)
                };
                if removed && permanent {
                    tally.removed.fetch_add(1, Ordering::SeqCst);
                }
            }
            _ => {
                let first = fresh.next();
                let known = phone(rng.below(FIRST_NUMBERS));
                let again = spelled(&first, 1 + rng.below(3));
                let rows = vec![
                    person(&mut rng, first.clone()),
                    person(&mut rng, fresh.next()),
                    person(&mut rng, fresh.next()),
                    // A number the tenant started with: a duplicate, unless
                    // its customer was removed or renumbered meanwhile.
                    person(&mut rng, known),
                    // The first row's number again, spelled otherwise.
                    person(&mut rng, again),
                    json!({ "phoneNumber": "123" }),
                ];
                tally.ever.fetch_add(rows.len() as i64, Ordering::SeqCst);
                let results = if by_rest {
                    let (status, answer) = rest.post(IMPORT, json!({ "customers": rows })).await;
                    assert_eq!(status, StatusCode::OK, "import: {answer}");
                    answer["results"].clone()
                } else {
                    let rows: Vec<Value> = rows.iter().map(to_graphql).collect();
                    let data = app
                        .gql_data(&token, IMPORT_ROWS, json!({ "rows": rows }))
                        .await;
                    data["importCustomers"].clone()
                };
                let (imported, duplicates, failed) = (
                    int(&results["imported"]),
                    int(&results["duplicates"]),
                    int(&results["failed"]),
                );
                assert_eq!(
                    (imported + duplicates + failed, failed),
                    (6, 1),
                    "every row is imported, a duplicate or failed, and only the invalid one fails: {results}"
                );
                assert!((1..=2).contains(&duplicates), "{results}");
                tally.created.fetch_add(imported, Ordering::SeqCst);
            }
        }
    }
}

/// One of four tasks creating the same new number at once, spelled its own
/// way, through REST, GraphQL, REST again, or an import; whether it created
/// the customer (a CONFLICT or a duplicate otherwise).
async fn racer(
    app: Arc<TestApp>,
    tenant: String,
    number: String,
    k: usize,
    tally: Arc<Tally>,
) -> bool {
    let token = app.token(Role::Admin, &tenant);
    let mut rng = Rng::new(salt(&tenant) ^ k as u64);
    let body = person(&mut rng, number);
    tally.ever.fetch_add(1, Ordering::SeqCst);
    let won = match k % 4 {
        1 => {
            let answer = app
                .gql(&token, CREATE, json!({ "input": to_graphql(&body) }))
                .await;
            if answer.get("errors").is_none_or(Value::is_null) {
                true
            } else {
                assert_eq!(
                    answer["errors"][0]["extensions"]["code"], "CONFLICT",
                    "{answer}"
                );
                false
            }
        }
        3 => {
            let (status, answer) = app
                .rest_as(&token)
                .post(IMPORT, json!({ "customers": [body] }))
                .await;
            assert_eq!(status, StatusCode::OK, "{answer}");
            let results = &answer["results"];
            assert!(
                *results == json!({ "imported": 1, "duplicates": 0, "failed": 0 })
                    || *results == json!({ "imported": 0, "duplicates": 1, "failed": 0 }),
                "an import racing creates of its number stores it or calls it a duplicate: {answer}"
            );
            results["imported"] == 1
        }
        _ => {
            let (status, answer) = app.rest_as(&token).post(CUSTOMERS, body).await;
            assert!(
                status == StatusCode::CREATED || status == StatusCode::CONFLICT,
                "{status} {answer}"
            );
            status == StatusCode::CREATED
        }
    };
    if won {
        tally.created.fetch_add(1, Ordering::SeqCst);
    }
    won
}

/// What a reader's counts must be.
#[derive(Clone)]
enum Expect {
    /// Sane while the tenant is written: between 0 and every customer it
    /// has held.
    Sane(Arc<Tally>),
    /// Exactly these, by label: nobody writes the tenant.
    Exactly(Arc<BTreeMap<String, i64>>),
}

/// Reads the counts of `tenant`, filter after filter and the dashboard,
/// until `done` (at least one read); how many reads it made.
async fn reader(
    app: Arc<TestApp>,
    tenant: String,
    expect: Expect,
    done: Arc<AtomicBool>,
    start: usize,
) -> usize {
    let token = app.token(Role::Admin, &tenant);
    let filters = filters();
    let chunks: Vec<&[Filter]> = filters.chunks(PER_DOCUMENT).collect();
    let steps = filters.len() + chunks.len() + 1;
    let mut reads = 0;
    for i in start.. {
        let step = i % steps;
        let seen: Vec<(String, i64)> = if let Some(f) = filters.get(step) {
            vec![observe_rest(&app, &token, f).await]
        } else if let Some(chunk) = chunks.get(step - filters.len()) {
            observe_graphql(&app, &token, chunk).await
        } else {
            observe_stats(&app, &token)
                .await
                .into_iter()
                .map(|(what, _, n)| (what, n))
                .collect()
        };
        for (what, got) in seen {
            match &expect {
                Expect::Sane(tally) => {
                    let most = tally.ever.load(Ordering::SeqCst);
                    assert!(
                        (0..=most).contains(&got),
                        "tenant {tenant} while written: {what} = {got}, not within 0..={most}"
                    );
                }
                Expect::Exactly(counts) => {
                    // newThisMonth may be left out of a snapshot taken at the turn of a month.
                    if let Some(want) = counts.get(&what) {
                        assert_eq!(
                            got, *want,
                            "tenant {tenant}, which nobody writes, while another is written: {what}"
                        );
                    }
                }
            }
        }
        reads += 1;
        if done.load(Ordering::SeqCst) {
            break;
        }
        // Room for the writers: readers are there to interleave with them,
        // not to outnumber them.
        tokio::time::sleep(PAUSE).await;
    }
    reads
}

/// Customer ids of `tenant`, as stored.
async fn ids(app: &TestApp, tenant: &str) -> Vec<Uuid> {
    rows(app, tenant).await.into_iter().map(|c| c.id).collect()
}

/// Wave `number` on `tenant`: [`WRITERS`] writers and four tasks racing to
/// create one new number, all at once, while [`READERS`] readers read
/// `tenant` and one reader reads each `quiet` tenant (nobody writes it, so
/// its every count must stay the snapshot's). Once all are done, the
/// tenant's `count(*)` moved by exactly what the answers reported, and the
/// raced number is stored once.
async fn wave(
    app: &Arc<TestApp>,
    tenant: &str,
    number: usize,
    quiet: &[(&str, Arc<BTreeMap<String, i64>>)],
) {
    let all = format!("tenant_id = {}", lit(tenant));
    let before = count_star(app, &all).await;
    let ids = Arc::new(ids(app, tenant).await);
    let tally = Arc::new(Tally::default());
    tally.ever.store(before, Ordering::SeqCst);
    let done = Arc::new(AtomicBool::new(false));

    let mut readers = Vec::new();
    for r in 0..READERS {
        let expect = Expect::Sane(tally.clone());
        readers.push(tokio::spawn(reader(
            app.clone(),
            tenant.to_owned(),
            expect,
            done.clone(),
            r * 11,
        )));
    }
    for (other, counts) in quiet {
        let expect = Expect::Exactly(counts.clone());
        readers.push(tokio::spawn(reader(
            app.clone(),
            (*other).to_owned(),
            expect,
            done.clone(),
            number,
        )));
    }
    let writers: Vec<_> = (0..WRITERS)
        .map(|task| {
            let seed = salt(tenant) ^ ((number as u64) << 32) ^ ((task as u64) << 8);
            tokio::spawn(writer(
                app.clone(),
                tenant.to_owned(),
                ids.clone(),
                Fresh(10_000 + number * 1_000 + task * 40),
                Rng::new(seed),
                tally.clone(),
            ))
        })
        .collect();
    let canonical = phone(90_000 + number);
    let racers: Vec<_> = (0..4)
        .map(|k| {
            tokio::spawn(racer(
                app.clone(),
                tenant.to_owned(),
                spelled(&canonical, k),
                k,
                tally.clone(),
            ))
        })
        .collect();

    for task in writers {
        task.await.expect("a writer");
    }
    let mut wins = 0;
    for task in racers {
        wins += usize::from(task.await.expect("a racer"));
    }
    done.store(true, Ordering::SeqCst);
    for task in readers {
        let reads = task.await.expect("a reader");
        assert!(reads > 0);
    }

    assert_eq!(wins, 1, "one of four creates of {canonical} wins");
    let stored = count_star(
        app,
        &format!("{all} AND phone_number = {}", lit(&canonical)),
    )
    .await;
    assert_eq!(stored, 1, "{canonical} is stored once");
    let (created, removed) = (
        tally.created.load(Ordering::SeqCst),
        tally.removed.load(Ordering::SeqCst),
    );
    assert_eq!(
        count_star(app, &all).await,
        before + created - removed,
        "wave {number} of tenant {tenant}: {before} customers, {created} created and {removed} \
         removed by the answers"
    );
}

/// Filters whose counts a change of `c`'s status to or from `status`
/// moves, each a count of its own: the status alone, and with `c`'s
/// source, segment, both, each of its tags, its segment and tags together,
/// and searches for its names.
fn flip_filters(c: &customer::Model, status: &str) -> Vec<Filter> {
    let (source, segment) = (c.source.as_str(), c.segment.as_str());
    let mut more = vec![
        String::new(),
        format!("&source={source}"),
        format!("&segment={segment}"),
        format!("&source={source}&segment={segment}"),
    ];
    more.extend(c.tags.0.iter().map(|t| format!("&tags={t}")));
    if !c.tags.0.is_empty() {
        more.push(format!("&segment={segment}&tags={}", c.tags.0.join(",")));
    }
    for name in [&c.first_name, &c.last_name].into_iter().flatten() {
        more.push(format!("&search={}", fold(name)));
        more.push(format!("&source={source}&search={}", fold(name)));
    }
    more.truncate(PER_DOCUMENT);
    more.iter()
        .map(|more| Filter::parse(&format!("status={status}{more}")))
        .collect()
}

/// Single writes, each raced by readers of the counts it moves. Whatever
/// the server keeps of a count (a cache keyed on a version every write
/// bumps, say) must never hold what a reader counted while the write was
/// committing. `rounds` times, one customer's status flips between active
/// and inactive while readers, started at moments spread over the first
/// half of the time a write takes, read the counts of [`flip_filters`]
/// (REST and GraphQL, one filter at a time, the next not read yet) and the
/// dashboard; then each equals `count(*)`, before another write could hide
/// a stale one. Rounds alternate between the filters of either status, so
/// that those a round reads were not read since the write before it (a
/// count cached for the version before the write is not read again).
async fn flips(app: &Arc<TestApp>, tenant: &str, rounds: usize) {
    let token = app.token(Role::Admin, tenant);
    let target = rows(app, tenant)
        .await
        .into_iter()
        .filter(|c| !c.is_blocked)
        .max_by_key(|c| (c.tags.0.len(), c.phone_number.clone()))
        .expect("an unblocked customer");
    let path = format!("{CUSTOMERS}/{}", target.id);
    let mut active = target.status.as_str() == "active";
    let mut took = std::time::Duration::from_millis(10);
    for round in 0..rounds {
        let status = ["active", "inactive"][round % 2];
        let watched = Arc::new(flip_filters(&target, status));
        let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let done = Arc::new(AtomicBool::new(false));
        let readers: Vec<_> = (0..READERS_PER_FLIP)
            .map(|r| {
                let (app, token) = (app.clone(), token.clone());
                let (watched, next, done) = (watched.clone(), next.clone(), done.clone());
                let delay = took * r as u32 / (2 * READERS_PER_FLIP as u32);
                tokio::spawn(async move {
                    tokio::time::sleep(delay).await;
                    while !done.load(Ordering::SeqCst) {
                        if r == 3 {
                            drop(observe_stats(&app, &token).await);
                            continue;
                        }
                        // One filter at a time, the next not read yet:
                        // a sweep of them all would count them all again
                        // after the commit, covering up a stale count.
                        let f = &watched[next.fetch_add(1, Ordering::SeqCst) % watched.len()];
                        if r == 1 {
                            drop(observe_graphql(&app, &token, std::slice::from_ref(f)).await);
                        } else {
                            drop(observe_rest(&app, &token, f).await);
                        }
                    }
                })
            })
            .collect();
        let started = std::time::Instant::now();
        active = !active;
        let to = if active { "active" } else { "inactive" };
        let (code, body) = app
            .rest_as(&token)
            .put(&path, json!({ "status": to }))
            .await;
        assert_eq!(code, StatusCode::OK, "{body}");
        took = started.elapsed();
        done.store(true, Ordering::SeqCst);
        for task in readers {
            task.await.expect("a reader");
        }

        let rows = rows(app, tenant).await;
        let mut wrong = Vec::new();
        let mut wants = BTreeMap::new();
        for f in watched.iter() {
            let want = expected(app, tenant, &rows, f, None, &mut wrong).await;
            wants.insert(f.label(), want);
        }
        let mut observed = Vec::new();
        for f in watched.iter() {
            observed.push(observe_rest(app, &token, f).await);
        }
        observed.extend(observe_graphql(app, &token, &watched).await);
        compare(observed, &wants, &mut wrong, &mut BTreeMap::new());
        let active = rows
            .iter()
            .filter(|c| c.status.as_str() == "active")
            .count() as i64;
        for (what, key, got) in observe_stats(app, &token).await {
            if key == "activeCustomers" && got != active {
                wrong.push(format!("{what} = {got}, count(*) = {active}"));
            }
        }
        assert!(
            wrong.is_empty(),
            "tenant {tenant}, flip {round} ({:?}): right after a write raced by readers, \
             counts differ from count(*):\n  {}",
            app.backend,
            wrong.join("\n  ")
        );
    }
}

/// Runs `clientela recount --tenant <tenant>` on the test's database while
/// the server runs, as an operator would.
async fn recount(app: &TestApp, tenant: &str) {
    let mut command = crate::common::clientela();
    command
        .args(["recount", "--tenant", tenant])
        .env("DATABASE_URL", &app.url);
    let out = tokio::task::spawn_blocking(move || command.output())
        .await
        .expect("recount task")
        .expect("run clientela recount");
    assert!(
        out.status.success(),
        "clientela recount: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Gives `tenant` customers `phone(0)` to `phone(n - 1)` through the API,
/// drawn from the tenant's seed: most by one REST import, every fourth by
/// a REST or GraphQL create; blocks every sixth (soft-deleting one of them,
/// so it is blocked with a status of `inactive` to return to); then, as a
/// restore would, moves the creation of every fifth to 45 days ago and of
/// two to either side of this month's start by SQL, and runs `recount`.
async fn build_tenant(app: &TestApp, tenant: &str, n: usize) {
    assert!(n >= FIRST_NUMBERS);
    let token = app.token(Role::Admin, tenant);
    let rest = app.rest_as(&token);
    let mut rng = Rng::new(salt(tenant));
    let mut imported = Vec::new();
    for k in 0..n {
        let body = person(&mut rng, phone(k));
        match k % 8 {
            0 => {
                let (status, answer) = rest.post(CUSTOMERS, body).await;
                assert_eq!(status, StatusCode::CREATED, "{answer}");
            }
            4 => {
                app.gql_data(&token, CREATE, json!({ "input": to_graphql(&body) }))
                    .await;
            }
            _ => imported.push(body),
        }
    }
    let count = imported.len();
    let (status, answer) = rest.post(IMPORT, json!({ "customers": imported })).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(
        answer["results"],
        json!({ "imported": count, "duplicates": 0, "failed": 0 })
    );
    let by_number: BTreeMap<String, Uuid> = rows(app, tenant)
        .await
        .into_iter()
        .map(|c| (c.phone_number, c.id))
        .collect();
    for k in (0..n).step_by(6) {
        let path = format!("{CUSTOMERS}/{}", by_number[&phone(k)]);
        let body = json!({ "isBlocked": true, "blockReason": "fixture" });
        assert_eq!(
            rest.patch(&format!("{path}/block"), body).await.0,
            StatusCode::OK
        );
        if k == 6 {
            assert_eq!(rest.delete(&path).await.0, StatusCode::OK);
        }
    }
    let month = month_start(Utc::now());
    let backdate = |numbers: Vec<String>, when: DateTime<Utc>| {
        customer::Entity::update_many()
            .col_expr(customer::Column::CreatedAt, Expr::value(when))
            .filter(customer::Column::TenantId.eq(tenant))
            .filter(customer::Column::PhoneNumber.is_in(numbers))
            .exec(&app.db)
    };
    backdate(
        (0..n).step_by(5).map(phone).collect(),
        Utc::now() - TimeDelta::days(45),
    )
    .await
    .expect("backdate");
    backdate(vec![phone(1)], month).await.expect("backdate");
    backdate(vec![phone(2)], month - TimeDelta::milliseconds(1))
        .await
        .expect("backdate");
    recount(app, tenant).await;
}

async fn every_count_equals_count_star_after_each_wave_of_concurrent_writes(app: TestApp) {
    let app = Arc::new(app);
    build_tenant(&app, "default", 40).await;
    check(&app, "default", "after the fixtures").await;
    for number in 0..WAVES {
        wave(&app, "default", number, &[]).await;
        check(&app, "default", &format!("after wave {number}")).await;
        flips(&app, "default", FLIPS).await;
    }
}

async fn another_tenants_writes_change_none_of_this_tenants_counts(app: TestApp) {
    let app = Arc::new(app);
    // The same numbers in both tenants (numbers are unique per tenant), other draws.
    build_tenant(&app, "default", 24).await;
    build_tenant(&app, "acme", 24).await;
    let mine = Arc::new(check(&app, "default", "before acme's writes").await);
    check(&app, "acme", "before its writes").await;
    wave(&app, "acme", 0, &[("default", mine.clone())]).await;
    let now = check(&app, "default", "after acme's writes").await;
    assert_eq!(now, *mine, "acme's writes changed default's counts");
    check(&app, "acme", "after its writes").await;
}

async fn recount_makes_every_count_exact_again_after_hand_written_sql(app: TestApp) {
    let app = Arc::new(app);
    build_tenant(&app, "default", 30).await;
    build_tenant(&app, "acme", 20).await;
    // Read every count first, so whatever the server keeps of them is warm.
    check(&app, "default", "before the SQL").await;
    let acme = Arc::new(check(&app, "acme", "before the SQL").await);
    for sql in [
        "UPDATE customers SET status = 'inactive' \
         WHERE tenant_id = 'default' AND status = 'active' AND phone_number LIKE '%1'",
        "UPDATE customers SET segment = 'vip', source = 'other' \
         WHERE tenant_id = 'default' AND phone_number LIKE '%2'",
        "UPDATE customers SET is_blocked = false, block_reason = NULL, \
         status = COALESCE(status_before_block, 'active'), status_before_block = NULL \
         WHERE tenant_id = 'default' AND is_blocked = true AND phone_number LIKE '%0'",
        "UPDATE customers SET is_blocked = true, block_reason = 'sql', \
         status_before_block = status, status = 'blocked' \
         WHERE tenant_id = 'default' AND is_blocked = false AND phone_number LIKE '%7'",
        // The tags column changes; its index rows do not.
        "UPDATE customers SET tags = '[\"late\", \"Vip\"]' \
         WHERE tenant_id = 'default' AND phone_number LIKE '%4'",
        // Index rows lost, and index rows of a tag no customer carries.
        "DELETE FROM customer_tags WHERE tenant_id = 'default' AND tag = 'gold'",
        "INSERT INTO customer_tags (customer_id, tag, tenant_id) \
         SELECT id, 'stray', tenant_id FROM customers \
         WHERE tenant_id = 'default' AND phone_number LIKE '%5'",
        // Names change under the search text.
        "UPDATE customers SET first_name = 'Pedro' \
         WHERE tenant_id = 'default' AND first_name IN ('José', 'Jose') AND phone_number LIKE '%3'",
        "UPDATE customers SET first_name = 'Josefina' \
         WHERE tenant_id = 'default' AND first_name = 'Ana'",
        // Customers gone (their phone and tag rows with them, by the foreign keys).
        "DELETE FROM customers WHERE tenant_id = 'default' AND phone_number LIKE '%9'",
    ] {
        app.db.execute_unprepared(sql).await.expect(sql);
    }
    customer::Entity::update_many()
        .col_expr(
            customer::Column::CreatedAt,
            Expr::value(Utc::now() - TimeDelta::days(40)),
        )
        .filter(customer::Column::TenantId.eq("default"))
        .filter(customer::Column::PhoneNumber.like("%8"))
        .exec(&app.db)
        .await
        .expect("backdate");
    // No assertion here: once counts are kept by the write path, SQL behind
    // its back leaves them stale until a recount, by design.
    recount(&app, "default").await;
    check(&app, "default", "after the SQL and a recount").await;
    let now = check(&app, "acme", "after default's recount").await;
    assert_eq!(
        now, *acme,
        "default's SQL and recount changed acme's counts"
    );
    // The mended counts keep counting.
    wave(&app, "default", 0, &[("acme", acme)]).await;
    check(&app, "default", "after a wave following the recount").await;
}

crate::db_tests!(with unlimited =>
    every_count_equals_count_star_after_each_wave_of_concurrent_writes,
    another_tenants_writes_change_none_of_this_tenants_counts,
    recount_makes_every_count_exact_again_after_hand_written_sql,
);
