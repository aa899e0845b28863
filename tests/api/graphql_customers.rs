//! The customer half of the GraphQL contract: every customer query and
//! mutation of `schema.graphql`, with the service rules of `rest.md` (input
//! rules, roles, tenancy, block/delete/import behaviour) and the error
//! extensions clients rely on (`code`, `fields`, `existingId`).

use clientela::auth::Role;
use serde_json::{json, Value};

use crate::helpers::fixtures::is_contract_timestamp;
use crate::helpers::graphql::{code, data};
use crate::helpers::snapshot::customer_settings;
use crate::helpers::TestApp;

/// Every field of a customer, as `...C`.
const CUSTOMER: &str = "
fragment C on Customer {
  id phoneNumber firstName lastName email avatar alternativePhones
  address { street city state country postalCode coordinates { latitude longitude } }
  tags segment source customFields
  preferences { language communicationHours { start end } preferredAgent { id name } }
  status isBlocked blockReason notes
  statistics {
    totalConversations openConversations resolvedConversations totalMessages totalTickets
    averageResponseTime satisfactionScore
  }
  firstContact lastInteraction lastMessageAt createdAt updatedAt
}";

const CREATE: &str =
    "mutation($input: CreateCustomerInput!) { createCustomer(input: $input) { ...C } }";
const UPDATE: &str =
    "mutation($id: ID!, $input: UpdateCustomerInput!) { updateCustomer(id: $id, input: $input) { ...C } }";
const GET: &str = "query($id: ID!) { customer(id: $id) { ...C } }";
const BY_PHONE: &str = "query($p: String!) { customerByPhone(phoneNumber: $p) { id phoneNumber } }";
const TAGS: &str = "mutation($id: ID!, $tags: [String!]!, $action: TagAction) {
  updateCustomerTags(id: $id, tags: $tags, action: $action) { id tags }
}";
const TAGS_DEFAULT_ACTION: &str =
    "mutation($id: ID!, $tags: [String!]!) { updateCustomerTags(id: $id, tags: $tags) { id tags } }";
const BLOCK: &str = "mutation($id: ID!, $b: Boolean!, $r: String) {
  setCustomerBlocked(id: $id, isBlocked: $b, blockReason: $r) { id status isBlocked blockReason }
}";
const DELETE: &str =
    "mutation($id: ID!, $permanent: Boolean) { deleteCustomer(id: $id, permanent: $permanent) { success message permanent } }";
const DELETE_DEFAULT: &str =
    "mutation($id: ID!) { deleteCustomer(id: $id) { success message permanent } }";
const IMPORT: &str = "mutation($rows: [CreateCustomerInput!]!) {
  importCustomers(customers: $rows) {
    imported duplicates failed
    details {
      success { id phoneNumber }
      duplicates { index phoneNumber reason }
      failed { index phoneNumber reason }
    }
  }
}";
const STATS: &str = "{ customerStats {
  summary { totalCustomers activeCustomers vipCustomers blockedCustomers newThisMonth }
  segments { segment count }
} }";
const CONVERSATIONS: &str = "query($id: ID!) { customerConversations(customerId: $id) {
  items { id } pagination { page limit total pages }
} }";

/// `query` with the customer fragment appended.
fn with_customer(query: &str) -> String {
    format!("{query}\n{CUSTOMER}")
}

/// The `field`s of `errors[0].extensions.fields`.
fn error_fields(body: &Value) -> Vec<String> {
    body["errors"][0]["extensions"]["fields"]
        .as_array()
        .unwrap_or_else(|| panic!("no extensions.fields in {body}"))
        .iter()
        .map(|f| f["field"].as_str().expect("field is a string").to_owned())
        .collect()
}

/// Creates a customer through GraphQL as the default tenant's admin.
async fn create(app: &TestApp, input: Value) -> Value {
    create_as(app, &app.admin(), input).await
}

/// Creates a customer through GraphQL with `token`.
async fn create_as(app: &TestApp, token: &str, input: Value) -> Value {
    let body = app
        .gql(token, &with_customer(CREATE), json!({ "input": input }))
        .await;
    data(&body, "createCustomer").clone()
}

/// Tries to create a customer through GraphQL as the default tenant's
/// admin; the whole answer.
async fn try_create(app: &TestApp, input: &Value) -> Value {
    app.gql(
        &app.admin(),
        &with_customer(CREATE),
        json!({ "input": input }),
    )
    .await
}

/// Creates `input` as admin in a tenant with no customers, which must fail
/// with `BAD_USER_INPUT` (naming `field` in `extensions.fields`, with a
/// message, when given), reveal nothing internal and store nothing; the
/// whole answer.
async fn create_is_bad_user_input(app: &TestApp, input: Value, field: Option<&str>) -> Value {
    let body = try_create(app, &input).await;
    assert_eq!(code(&body), "BAD_USER_INPUT", "{input}: {body}");
    if let Some(field) = field {
        let fields = body["errors"][0]["extensions"]["fields"]
            .as_array()
            .unwrap_or_else(|| panic!("no extensions.fields in {body}"));
        assert!(
            fields.iter().any(
                |f| f["field"] == field && f["message"].as_str().is_some_and(|m| !m.is_empty())
            ),
            "{input}: {field} with a message: {body}"
        );
    }
    assert_no_internal_detail(&body);
    let total = &list(app, json!({})).await["pagination"]["total"];
    assert_eq!(total, 0, "{input}: nothing was stored");
    body
}

/// Customer 529991234567 with status VIP, created as admin.
async fn vip_customer(app: &TestApp) -> Value {
    let input = json!({ "phoneNumber": "529991234567", "status": "VIP" });
    create(app, input).await
}

/// Blocks customer `id` with `reason`, or unblocks it when there is none,
/// with `token`; the `setCustomerBlocked` answer, which must not fail.
async fn set_blocked(app: &TestApp, token: &str, id: &Value, reason: Option<&str>) -> Value {
    let mut variables = json!({ "id": id, "b": reason.is_some() });
    if let Some(reason) = reason {
        variables["r"] = json!(reason);
    }
    let body = app.gql(token, BLOCK, variables).await;
    data(&body, "setCustomerBlocked").clone()
}

/// A customer of tenant `acme` (529991234567), and three ids the default
/// tenant must not find: that customer's, an unknown UUID and `malformed`.
async fn unseen_ids(app: &TestApp, malformed: &str) -> (Value, [Value; 3]) {
    let acme = app.token(Role::Admin, "acme");
    let theirs = create_as(app, &acme, json!({ "phoneNumber": "529991234567" })).await;
    let ids = [
        theirs["id"].clone(),
        json!("0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"),
        json!(malformed),
    ];
    (theirs, ids)
}

/// Reads a customer by id (null when the caller cannot see it).
async fn get(app: &TestApp, token: &str, id: &Value) -> Value {
    let body = app
        .gql(token, &with_customer(GET), json!({ "id": id }))
        .await;
    data(&body, "customer").clone()
}

/// A `customers` query that passes exactly the arguments present in
/// `variables` (filter, page, limit, sortBy, sortOrder), each as a variable.
fn list_query(variables: &Value) -> String {
    let types = [
        ("filter", "CustomerFilter"),
        ("page", "Int"),
        ("limit", "Int"),
        ("sortBy", "CustomerSortField"),
        ("sortOrder", "SortOrder"),
    ];
    let used: Vec<_> = types
        .iter()
        .filter(|(name, _)| variables.get(name).is_some())
        .collect();
    let declared: Vec<String> = used
        .iter()
        .map(|(name, ty)| format!("${name}: {ty}"))
        .collect();
    let passed: Vec<String> = used
        .iter()
        .map(|(name, _)| format!("{name}: ${name}"))
        .collect();
    let (declared, passed) = if used.is_empty() {
        (String::new(), String::new())
    } else {
        (
            format!("({})", declared.join(", ")),
            format!("({})", passed.join(", ")),
        )
    };
    format!(
        "query{declared} {{ customers{passed} {{
            items {{ id phoneNumber firstName tags }}
            pagination {{ page limit total pages }}
        }} }}"
    )
}

/// The `customers` page for these variables, as the default admin.
async fn list(app: &TestApp, variables: Value) -> Value {
    let body = app
        .gql(&app.admin(), &list_query(&variables), variables)
        .await;
    data(&body, "customers").clone()
}

/// The phone numbers of a `customers` page, in order.
fn phones(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .expect("items is a list")
        .iter()
        .map(|c| c["phoneNumber"].as_str().expect("phoneNumber").to_owned())
        .collect()
}

/// Text that must never reach a client: SQL, driver names, source paths, panics.
const INTERNAL_NEEDLES: &[&str] = &[
    "sqlx",
    "sqlite",
    "postgres",
    "sea_orm",
    "sea-orm",
    "dberr",
    "select ",
    "insert into",
    "update \"",
    "delete from",
    "constraint",
    "syntax error",
    "relation \"",
    "src/",
    ".rs:",
    "panicked",
    "stack backtrace",
    "/work/",
    "/home/",
];

fn assert_no_internal_detail(body: &Value) {
    for error in body["errors"].as_array().into_iter().flatten() {
        let text = error.to_string().to_lowercase();
        for needle in INTERNAL_NEEDLES {
            assert!(
                !text.contains(needle),
                "an error reveals {needle:?}: {error}"
            );
        }
    }
}

// ---------------------------------------------------------------- customers

async fn customers_query_returns_items_and_pagination(app: TestApp) {
    for phone in ["529990000001", "529990000002", "529990000003"] {
        create(&app, json!({ "phoneNumber": phone })).await;
    }
    let all = list(&app, json!({})).await;
    assert_eq!(all["items"].as_array().expect("items").len(), 3);
    assert_eq!(
        all["pagination"],
        json!({ "page": 1, "limit": 20, "total": 3, "pages": 1 })
    );

    let second = list(&app, json!({ "page": 2, "limit": 2 })).await;
    assert_eq!(second["items"].as_array().expect("items").len(), 1);
    assert_eq!(
        second["pagination"],
        json!({ "page": 2, "limit": 2, "total": 3, "pages": 2 })
    );

    let first = list(&app, json!({ "page": 1, "limit": 2 })).await;
    let mut seen = phones(&first);
    seen.extend(phones(&second));
    seen.sort();
    assert_eq!(
        seen,
        ["529990000001", "529990000002", "529990000003"],
        "pages overlap or skip"
    );
}

async fn customers_page_past_the_end_is_empty_with_the_true_pagination(app: TestApp) {
    for phone in ["529990000001", "529990000002", "529990000003"] {
        create(&app, json!({ "phoneNumber": phone })).await;
    }
    let page = list(&app, json!({ "page": 5, "limit": 2 })).await;
    assert_eq!(page["items"], json!([]));
    assert_eq!(
        page["pagination"],
        json!({ "page": 5, "limit": 2, "total": 3, "pages": 2 })
    );

    let far = list(&app, json!({ "page": i32::MAX, "limit": 100 })).await;
    assert_eq!(far["items"], json!([]));
    assert_eq!(far["pagination"]["total"], 3);
}

async fn customers_filter_by_search_status_segment_source_and_any_tag(app: TestApp) {
    create(
        &app,
        json!({
            "phoneNumber": "529991111111", "firstName": "José", "lastName": "Pérez", "email": "jose@example.com",
            "status": "ACTIVE", "segment": "VIP", "source": "WHATSAPP", "tags": ["gold", "north"]
        }),
    )
    .await;
    create(
        &app,
        json!({
            "phoneNumber": "529992222222", "firstName": "Maria", "lastName": "Lopez", "email": "maria@example.com",
            "status": "INACTIVE", "segment": "REGULAR", "source": "REFERRAL", "tags": ["silver"]
        }),
    )
    .await;
    create(
        &app,
        json!({
            "phoneNumber": "529993333333", "firstName": "John", "lastName": "Doe",
            "status": "VIP", "segment": "NEW", "source": "SOCIAL_MEDIA", "tags": ["Gold"]
        }),
    )
    .await;

    let cases = [
        (json!({ "search": "jose" }), vec!["529991111111"]),
        (json!({ "search": "PÉREZ" }), vec!["529991111111"]),
        (json!({ "search": "john doe" }), vec!["529993333333"]),
        (json!({ "search": "john lopez" }), vec![]),
        (json!({ "search": "2222" }), vec!["529992222222"]),
        (json!({ "search": "maria@example" }), vec!["529992222222"]),
        (json!({ "status": "INACTIVE" }), vec!["529992222222"]),
        (json!({ "segment": "VIP" }), vec!["529991111111"]),
        (json!({ "source": "SOCIAL_MEDIA" }), vec!["529993333333"]),
        (
            json!({ "tags": ["gold", "silver"] }),
            vec!["529991111111", "529992222222"],
        ),
        (json!({ "tags": ["Gold"] }), vec!["529993333333"]),
        (json!({ "tags": ["nobody-has-this"] }), vec![]),
        (
            json!({ "status": "ACTIVE", "tags": ["gold", "silver"] }),
            vec!["529991111111"],
        ),
    ];
    for (filter, want) in cases {
        let page = list(
            &app,
            json!({ "filter": filter, "sortBy": "PHONE_NUMBER", "sortOrder": "ASC" }),
        )
        .await;
        assert_eq!(phones(&page), want, "filter {filter}");
        assert_eq!(
            page["pagination"]["total"],
            want.len(),
            "total for filter {filter}"
        );
    }
}

async fn customers_sorted_by_first_name_keep_nulls_last_in_both_orders(app: TestApp) {
    create(
        &app,
        json!({ "phoneNumber": "529990000001", "firstName": "Bob" }),
    )
    .await;
    create(&app, json!({ "phoneNumber": "529990000002" })).await;
    create(
        &app,
        json!({ "phoneNumber": "529990000003", "firstName": "Ana" }),
    )
    .await;
    let asc = list(&app, json!({ "sortBy": "FIRST_NAME", "sortOrder": "ASC" })).await;
    assert_eq!(
        phones(&asc),
        ["529990000003", "529990000001", "529990000002"]
    );
    let desc = list(&app, json!({ "sortBy": "FIRST_NAME", "sortOrder": "DESC" })).await;
    assert_eq!(
        phones(&desc),
        ["529990000001", "529990000003", "529990000002"]
    );
}

async fn customers_limit_above_100_is_clamped_to_100(app: TestApp) {
    create(&app, json!({ "phoneNumber": "529990000001" })).await;
    let page = list(&app, json!({ "limit": 500 })).await;
    assert_eq!(
        page["pagination"],
        json!({ "page": 1, "limit": 100, "total": 1, "pages": 1 })
    );
}

async fn customers_limit_or_page_below_one_is_bad_user_input(app: TestApp) {
    for (variables, field) in [
        (json!({ "limit": 0 }), "limit"),
        (json!({ "limit": -5 }), "limit"),
        (json!({ "page": 0 }), "page"),
    ] {
        let body = app
            .gql(&app.admin(), &list_query(&variables), variables.clone())
            .await;
        assert_eq!(code(&body), "BAD_USER_INPUT", "{variables}: {body}");
        assert!(
            error_fields(&body).contains(&field.to_owned()),
            "{variables}: {body}"
        );
    }
}

// ----------------------------------------------------------------- customer

async fn customer_is_null_for_unknown_malformed_and_other_tenants_ids(app: TestApp) {
    let mine = create(
        &app,
        json!({ "phoneNumber": "529991234567", "firstName": "Mine" }),
    )
    .await;
    let theirs = create_as(
        &app,
        &app.token(Role::Admin, "acme"),
        json!({ "phoneNumber": "529997654321" }),
    )
    .await;

    let found = get(&app, &app.admin(), &mine["id"]).await;
    assert_eq!(
        found, mine,
        "customer(id) shows what createCustomer returned"
    );

    let unknown = json!("0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b");
    for id in [&unknown, &json!("not-an-id"), &json!(""), &theirs["id"]] {
        let body = app
            .gql(&app.admin(), &with_customer(GET), json!({ "id": id }))
            .await;
        assert_eq!(data(&body, "customer"), &Value::Null, "customer({id})");
    }
    // and the other tenant still sees its own
    assert_eq!(
        get(&app, &app.token(Role::Viewer, "acme"), &theirs["id"]).await["id"],
        theirs["id"]
    );
}

async fn customer_by_phone_finds_the_customer_in_every_spelling(app: TestApp) {
    let holder = create(
        &app,
        json!({ "phoneNumber": "529991234567", "alternativePhones": ["+52 999 765 4321"] }),
    )
    .await;
    create(&app, json!({ "phoneNumber": "529995555555" })).await;
    for spelling in [
        "+52 (999) 123-4567",
        "52 999 123 4567",
        "9991234567",
        "5219991234567",
        "529991234567",
    ] {
        let body = app
            .gql(&app.admin(), BY_PHONE, json!({ "p": spelling }))
            .await;
        let found = data(&body, "customerByPhone");
        assert_eq!(found["id"], holder["id"], "spelling {spelling}");
        assert_eq!(found["phoneNumber"], "529991234567");
    }
    for alternative in ["9997654321", "+52 999 765 4321"] {
        let body = app
            .gql(&app.admin(), BY_PHONE, json!({ "p": alternative }))
            .await;
        assert_eq!(
            data(&body, "customerByPhone")["id"],
            holder["id"],
            "alternative {alternative}"
        );
    }
    let body = app
        .gql(&app.admin(), BY_PHONE, json!({ "p": "9990000000" }))
        .await;
    assert_eq!(
        data(&body, "customerByPhone"),
        &Value::Null,
        "a valid number nobody has"
    );
    let other_tenant = app
        .gql(
            &app.token(Role::Admin, "acme"),
            BY_PHONE,
            json!({ "p": "9991234567" }),
        )
        .await;
    assert_eq!(
        data(&other_tenant, "customerByPhone"),
        &Value::Null,
        "another tenant's number"
    );
}

async fn customer_by_phone_with_an_invalid_number_is_bad_user_input(app: TestApp) {
    for bad in ["12", "not a phone", "+52 999 123 4567 8901 2345"] {
        let body = app.gql(&app.admin(), BY_PHONE, json!({ "p": bad })).await;
        assert_eq!(code(&body), "BAD_USER_INPUT", "{bad}: {body}");
        assert_no_internal_detail(&body);
    }
}

// -------------------------------------------------------------------- stats

async fn customer_stats_count_the_summary_and_list_segments_largest_first(app: TestApp) {
    for (phone, status, segment) in [
        ("529990000001", "ACTIVE", "REGULAR"),
        ("529990000002", "ACTIVE", "REGULAR"),
        ("529990000003", "INACTIVE", "REGULAR"),
        ("529990000004", "VIP", "VIP"),
        ("529990000005", "ACTIVE", "VIP"),
        ("529990000006", "ACTIVE", "NEW"),
    ] {
        create(
            &app,
            json!({ "phoneNumber": phone, "status": status, "segment": segment }),
        )
        .await;
    }
    let blocked = create(
        &app,
        json!({ "phoneNumber": "529990000007", "segment": "NEW" }),
    )
    .await;
    let body = app
        .gql(
            &app.admin(),
            BLOCK,
            json!({ "id": blocked["id"], "b": true, "r": "spam" }),
        )
        .await;
    data(&body, "setCustomerBlocked");
    // Another tenant's customers count for it only.
    create_as(
        &app,
        &app.token(Role::Admin, "acme"),
        json!({ "phoneNumber": "529990000008", "segment": "VIP" }),
    )
    .await;

    let body = app
        .gql(&app.token(Role::Viewer, "default"), STATS, json!({}))
        .await;
    let stats = data(&body, "customerStats");
    assert_eq!(
        stats["summary"],
        json!({
            "totalCustomers": 7, "activeCustomers": 4, "vipCustomers": 2, "blockedCustomers": 1, "newThisMonth": 7
        })
    );
    let segments = stats["segments"].as_array().expect("segments");
    assert_eq!(
        segments.len(),
        3,
        "segments without customers are left out: {segments:?}"
    );
    assert_eq!(segments[0], json!({ "segment": "REGULAR", "count": 3 }));
    let mut rest: Vec<String> = segments[1..].iter().map(|s| s.to_string()).collect();
    rest.sort();
    assert_eq!(
        rest,
        [
            json!({ "segment": "NEW", "count": 2 }).to_string(),
            json!({ "segment": "VIP", "count": 2 }).to_string()
        ]
    );

    let body = app
        .gql(&app.token(Role::Viewer, "acme"), STATS, json!({}))
        .await;
    let acme = data(&body, "customerStats");
    assert_eq!(acme["summary"]["totalCustomers"], 1);
    assert_eq!(acme["segments"], json!([{ "segment": "VIP", "count": 1 }]));
}

// ------------------------------------------------------------ conversations

async fn customer_conversations_of_a_new_customer_is_an_empty_page(app: TestApp) {
    let customer = create(&app, json!({ "phoneNumber": "529991234567" })).await;
    let body = app
        .gql(
            &app.token(Role::Viewer, "default"),
            CONVERSATIONS,
            json!({ "id": customer["id"] }),
        )
        .await;
    let page = data(&body, "customerConversations");
    assert_eq!(page["items"], json!([]));
    assert_eq!(
        page["pagination"],
        json!({ "page": 1, "limit": 20, "total": 0, "pages": 0 })
    );
}

async fn customer_conversations_of_another_tenants_or_an_unknown_customer_is_not_found(
    app: TestApp,
) {
    let (_, ids) = unseen_ids(&app, "nope").await;
    for id in ids {
        let body = app
            .gql(&app.admin(), CONVERSATIONS, json!({ "id": id }))
            .await;
        assert_eq!(code(&body), "NOT_FOUND", "{id}: {body}");
    }
}

// ----------------------------------------------------------------------- me

async fn me_reports_the_agent_role_and_tenant_of_the_token(app: TestApp) {
    for (role, tenant, want_role) in [
        (Role::Agent, "acme", "AGENT"),
        (Role::Viewer, "default", "VIEWER"),
        (Role::Admin, "zeta", "ADMIN"),
    ] {
        let body = app
            .gql(
                &app.token(role, tenant),
                "{ me { agentId role tenant } }",
                json!({}),
            )
            .await;
        assert_eq!(
            data(&body, "me"),
            &json!({ "agentId": format!("{}-agent", role.as_str()), "role": want_role, "tenant": tenant })
        );
    }
}

// ----------------------------------------------------------- createCustomer

async fn create_customer_stores_every_field_in_contract_form(app: TestApp) {
    let input = json!({
        "phoneNumber": "+52 (999) 123-4567",
        "firstName": " John ",
        "lastName": "Doe",
        "email": " John.Doe@Example.COM ",
        "avatar": "https://example.com/a.png",
        "alternativePhones": ["52 999 765 4321", "9997654321"],
        "address": {
            "street": "Calle 60 #123", "city": "Mérida", "state": "Yucatán", "country": "MX", "postalCode": "97000",
            "coordinates": { "latitude": 20.9674, "longitude": -89.5926 }
        },
        "tags": [" premium ", "loyal", "premium", ""],
        "segment": "VIP",
        "source": "SOCIAL_MEDIA",
        "customFields": { "tier": "gold", "visits": 3, "nested": { "list": [1, 2] } },
        "preferences": { "language": "en", "communicationHours": { "start": "09:00", "end": "18:00" } },
        "status": "VIP",
        "notes": "line one\n\tline two"
    });
    let c = create_as(&app, &app.token(Role::Agent, "default"), input).await;
    // Every field, normalized: numbers in E.164 digits, trimmed and
    // lowercased email, deduplicated tags, zero statistics.
    customer_settings("")
        .bind(|| insta::assert_json_snapshot!("create_customer_with_every_field", c));
    for field in ["createdAt", "updatedAt", "lastInteraction"] {
        assert!(
            is_contract_timestamp(&c[field]),
            "{field} = {} is not like 2024-01-15T10:30:00.000Z",
            c[field]
        );
    }
    assert_eq!(
        get(&app, &app.admin(), &c["id"]).await,
        c,
        "what is read back is what was returned"
    );
}

async fn create_customer_with_only_a_phone_gets_empty_lists_and_spanish(app: TestApp) {
    let c = create(&app, json!({ "phoneNumber": "9991234567" })).await;
    assert_eq!(c["phoneNumber"], "529991234567");
    assert_eq!(c["alternativePhones"], json!([]));
    assert_eq!(c["tags"], json!([]));
    assert_eq!(c["customFields"], json!({}));
    assert_eq!(c["address"], Value::Null);
    assert_eq!(c["preferences"]["language"], "es");
    assert_eq!(c["isBlocked"], false);
    for field in [
        "firstName",
        "lastName",
        "email",
        "avatar",
        "notes",
        "blockReason",
    ] {
        assert_eq!(c[field], Value::Null, "{field}");
    }
}

async fn create_customer_with_a_taken_phone_is_conflict_naming_the_holder(app: TestApp) {
    let holder = create(
        &app,
        json!({ "phoneNumber": "529991234567", "alternativePhones": ["9997654321"] }),
    )
    .await;
    for (input, why) in [
        (
            json!({ "phoneNumber": "+52 (999) 123-4567" }),
            "another spelling of the primary number",
        ),
        (
            json!({ "phoneNumber": "5219991234567" }),
            "the legacy WhatsApp spelling",
        ),
        (
            json!({ "phoneNumber": "529997654321" }),
            "the holder's alternative number",
        ),
        (
            json!({ "phoneNumber": "529990000001", "alternativePhones": ["9991234567"] }),
            "an alternative that is taken",
        ),
    ] {
        let body = try_create(&app, &input).await;
        assert_eq!(code(&body), "CONFLICT", "{why}: {body}");
        assert_eq!(
            body["errors"][0]["extensions"]["existingId"], holder["id"],
            "{why}: {body}"
        );
        assert_no_internal_detail(&body);
    }
    assert_eq!(
        list(&app, json!({})).await["pagination"]["total"],
        1,
        "nothing was stored"
    );
    // Phone numbers are unique per tenant, not globally.
    let elsewhere = create_as(
        &app,
        &app.token(Role::Agent, "acme"),
        json!({ "phoneNumber": "529991234567" }),
    )
    .await;
    assert_ne!(elsewhere["id"], holder["id"]);
}

async fn create_customer_with_status_blocked_is_bad_user_input_on_status(app: TestApp) {
    let input = json!({ "phoneNumber": "529991234567", "status": "BLOCKED" });
    create_is_bad_user_input(&app, input, Some("status")).await;
}

async fn create_customer_with_a_bad_email_is_bad_user_input_on_email(app: TestApp) {
    for email in ["not-an-email", "john@", "@example.com", "a b@example.com"] {
        let input = json!({ "phoneNumber": "529991234567", "email": email });
        let body = create_is_bad_user_input(&app, input, Some("email")).await;
        assert_eq!(error_fields(&body)[0], "email", "{email}: {body}");
    }
}

async fn create_customer_with_custom_fields_that_are_not_an_object_is_bad_user_input(app: TestApp) {
    for custom in [json!([1]), json!("text"), json!(5), json!(true)] {
        let input = json!({ "phoneNumber": "529991234567", "customFields": custom });
        create_is_bad_user_input(&app, input, Some("customFields")).await;
    }
}

/// A value outside an enum fails input coercion inside async-graphql; the
/// contract still promises every failed operation an `extensions.code`.
async fn create_customer_with_an_unknown_enum_value_is_bad_user_input(app: TestApp) {
    for (field, value) in [
        ("segment", "PLATINUM"),
        ("source", "social_media"),
        ("status", "Active"),
    ] {
        let input = json!({ "phoneNumber": "529991234567", field: value });
        create_is_bad_user_input(&app, input, None).await;
    }
}

async fn create_customer_with_an_invalid_phone_is_bad_user_input_on_phone_number(app: TestApp) {
    for phone in ["12", "abc", "", "+52 999 123 4567 8901 2345"] {
        let input = json!({ "phoneNumber": phone });
        create_is_bad_user_input(&app, input, Some("phoneNumber")).await;
    }
}

// ----------------------------------------------------------- updateCustomer

async fn update_customer_sets_given_fields_leaves_absent_ones_and_null_clears(app: TestApp) {
    let c = create(
        &app,
        json!({
            "phoneNumber": "529991234567", "firstName": "John", "lastName": "Doe", "email": "john@example.com",
            "notes": "likes tacos", "tags": ["a"], "segment": "REGULAR",
            "address": { "street": "Calle 60", "city": "Mérida", "coordinates": { "latitude": 1.5, "longitude": 2.5 } },
            "customFields": { "x": 1, "y": 2 }
        }),
    )
    .await;
    let update = |input: Value| {
        let app = &app;
        let id = c["id"].clone();
        async move {
            let body = app
                .gql(
                    &app.token(Role::Agent, "default"),
                    &with_customer(UPDATE),
                    json!({ "id": id, "input": input }),
                )
                .await;
            data(&body, "updateCustomer").clone()
        }
    };

    let renamed = update(json!({ "firstName": "Johnny" })).await;
    assert_eq!(renamed["firstName"], "Johnny");
    for field in [
        "phoneNumber",
        "lastName",
        "email",
        "notes",
        "tags",
        "segment",
        "address",
        "customFields",
        "status",
    ] {
        assert_eq!(renamed[field], c[field], "{field} is untouched when absent");
    }

    let cleared = update(json!({ "notes": null, "email": null })).await;
    assert_eq!(cleared["notes"], Value::Null);
    assert_eq!(cleared["email"], Value::Null);
    assert_eq!(cleared["firstName"], "Johnny", "absent stays");
    assert_eq!(cleared["lastName"], "Doe", "absent stays");

    let moved = update(json!({ "address": { "city": "Cancún" } })).await;
    assert_eq!(
        moved["address"],
        json!({ "street": null, "city": "Cancún", "state": null, "country": null, "postalCode": null, "coordinates": null }),
        "a nested object replaces the stored one whole"
    );
    let fields = update(json!({ "customFields": { "z": 3 } })).await;
    assert_eq!(
        fields["customFields"],
        json!({ "z": 3 }),
        "customFields are replaced whole"
    );

    let renumbered = update(json!({ "phoneNumber": "+52 999 000 1111", "segment": "VIP" })).await;
    assert_eq!(renumbered["phoneNumber"], "529990001111");
    assert_eq!(renumbered["segment"], "VIP");

    let stored = get(&app, &app.admin(), &c["id"]).await;
    assert_eq!(stored, renumbered, "the update was stored");
    let old = app
        .gql(&app.admin(), BY_PHONE, json!({ "p": "529991234567" }))
        .await;
    assert_eq!(
        data(&old, "customerByPhone"),
        &Value::Null,
        "the old number is free"
    );
}

async fn update_customer_of_an_unknown_or_foreign_id_is_not_found(app: TestApp) {
    let (theirs, ids) = unseen_ids(&app, "garbage").await;
    for id in ids {
        let vars = json!({ "id": id, "input": { "firstName": "Mallory" } });
        let body = app.gql(&app.admin(), &with_customer(UPDATE), vars).await;
        assert_eq!(code(&body), "NOT_FOUND", "{id}: {body}");
    }
    assert_eq!(
        get(&app, &app.token(Role::Admin, "acme"), &theirs["id"]).await["firstName"],
        Value::Null
    );
}

async fn update_customer_to_status_blocked_is_bad_user_input_and_changes_nothing(app: TestApp) {
    let c = create(
        &app,
        json!({ "phoneNumber": "529991234567", "firstName": "John" }),
    )
    .await;
    let vars = json!({ "id": c["id"], "input": { "status": "BLOCKED", "firstName": "Eve" } });
    let body = app.gql(&app.admin(), &with_customer(UPDATE), vars).await;
    assert_eq!(code(&body), "BAD_USER_INPUT", "{body}");
    assert!(error_fields(&body).contains(&"status".to_owned()), "{body}");
    assert_eq!(
        get(&app, &app.admin(), &c["id"]).await,
        c,
        "nothing changed"
    );
}

async fn update_customer_to_a_taken_phone_is_conflict_naming_the_holder(app: TestApp) {
    let holder = create(&app, json!({ "phoneNumber": "529991234567" })).await;
    let other = create(&app, json!({ "phoneNumber": "529997654321" })).await;
    let vars = json!({ "id": other["id"], "input": { "phoneNumber": "9991234567" } });
    let body = app.gql(&app.admin(), &with_customer(UPDATE), vars).await;
    assert_eq!(code(&body), "CONFLICT", "{body}");
    assert_eq!(body["errors"][0]["extensions"]["existingId"], holder["id"]);
    assert_eq!(
        get(&app, &app.admin(), &other["id"]).await["phoneNumber"],
        "529997654321"
    );
}

// ------------------------------------------------------- updateCustomerTags

async fn update_customer_tags_sets_by_default_adds_and_removes(app: TestApp) {
    let c = create(
        &app,
        json!({ "phoneNumber": "529991234567", "tags": ["a", "b"] }),
    )
    .await;
    let agent = app.token(Role::Agent, "default");
    for (query, change, want, why) in [
        (
            TAGS_DEFAULT_ACTION,
            json!({ "tags": ["x", "y"] }),
            json!(["x", "y"]),
            "no action means SET",
        ),
        (
            TAGS,
            json!({ "tags": ["y", "z"], "action": "ADD" }),
            json!(["x", "y", "z"]),
            "ADD keeps order and skips what is there",
        ),
        (
            TAGS,
            json!({ "tags": ["x", "missing"], "action": "REMOVE" }),
            json!(["y", "z"]),
            "REMOVE drops what is there and ignores the rest",
        ),
        (
            TAGS,
            json!({ "tags": [" q ", "q", ""], "action": "SET" }),
            json!(["q"]),
            "SET cleans like create",
        ),
    ] {
        let mut variables = change;
        variables["id"] = c["id"].clone();
        let body = app.gql(&agent, query, variables).await;
        assert_eq!(data(&body, "updateCustomerTags")["tags"], want, "{why}");
    }

    assert_eq!(get(&app, &agent, &c["id"]).await["tags"], json!(["q"]));
    // The tag filter follows the change.
    assert_eq!(
        list(&app, json!({ "filter": { "tags": ["x", "y", "a"] } })).await["pagination"]["total"],
        0
    );
    assert_eq!(
        list(&app, json!({ "filter": { "tags": ["q"] } })).await["pagination"]["total"],
        1
    );
}

// ------------------------------------------------------- setCustomerBlocked

async fn set_customer_blocked_blocks_with_a_reason_and_unblock_restores_the_prior_status(
    app: TestApp,
) {
    let c = vip_customer(&app).await;
    let agent = app.token(Role::Agent, "default");
    assert_eq!(
        set_blocked(&app, &agent, &c["id"], Some("spam")).await,
        json!({ "id": c["id"], "status": "BLOCKED", "isBlocked": true, "blockReason": "spam" })
    );
    let blocked = list(&app, json!({ "filter": { "status": "BLOCKED" } })).await;
    assert_eq!(blocked["pagination"]["total"], 1);

    assert_eq!(
        set_blocked(&app, &agent, &c["id"], None).await,
        json!({ "id": c["id"], "status": "VIP", "isBlocked": false, "blockReason": null })
    );
    let stored = get(&app, &agent, &c["id"]).await;
    assert_eq!(stored["status"], "VIP");
    assert_eq!(stored["isBlocked"], false);
    assert_eq!(stored["blockReason"], Value::Null);
}

async fn blocking_twice_still_restores_the_status_held_before_the_first_block(app: TestApp) {
    let c = vip_customer(&app).await;
    let agent = app.token(Role::Agent, "default");
    set_blocked(&app, &agent, &c["id"], Some("spam")).await;
    assert_eq!(
        set_blocked(&app, &agent, &c["id"], Some("abuse")).await["blockReason"],
        "abuse",
        "the reason is updated"
    );
    let unblocked = set_blocked(&app, &agent, &c["id"], None).await;
    assert_eq!(unblocked["status"], "VIP", "{unblocked}");
    assert_eq!(unblocked["isBlocked"], false);
    assert_eq!(unblocked["blockReason"], Value::Null);
}

// ----------------------------------------------------------- deleteCustomer

async fn delete_customer_is_soft_by_default_and_leaves_it_inactive(app: TestApp) {
    let c = vip_customer(&app).await;
    let agent = app.token(Role::Agent, "default");
    let body = app
        .gql(&agent, DELETE_DEFAULT, json!({ "id": c["id"] }))
        .await;
    assert_eq!(
        data(&body, "deleteCustomer"),
        &json!({ "success": true, "message": "Customer deactivated", "permanent": false })
    );
    assert_eq!(get(&app, &agent, &c["id"]).await["status"], "INACTIVE");

    let again = app
        .gql(&agent, DELETE, json!({ "id": c["id"], "permanent": false }))
        .await;
    assert_eq!(
        data(&again, "deleteCustomer")["message"],
        "Customer deactivated",
        "soft delete is idempotent"
    );
    assert_eq!(get(&app, &agent, &c["id"]).await["status"], "INACTIVE");
}

async fn delete_customer_permanently_as_admin_removes_it(app: TestApp) {
    let c = create(
        &app,
        json!({ "phoneNumber": "529991234567", "tags": ["t"] }),
    )
    .await;
    let body = app
        .gql(
            &app.admin(),
            DELETE,
            json!({ "id": c["id"], "permanent": true }),
        )
        .await;
    assert_eq!(
        data(&body, "deleteCustomer"),
        &json!({ "success": true, "message": "Customer permanently deleted", "permanent": true })
    );
    assert_eq!(get(&app, &app.admin(), &c["id"]).await, Value::Null);
    let by_phone = app
        .gql(&app.admin(), BY_PHONE, json!({ "p": "529991234567" }))
        .await;
    assert_eq!(data(&by_phone, "customerByPhone"), &Value::Null);
    assert_eq!(
        list(&app, json!({ "filter": { "tags": ["t"] } })).await["pagination"]["total"],
        0
    );
    // The number is free again.
    let reborn = create(&app, json!({ "phoneNumber": "529991234567" })).await;
    assert_ne!(reborn["id"], c["id"]);
}

async fn delete_customer_permanently_as_agent_is_forbidden_and_keeps_it(app: TestApp) {
    let c = create(&app, json!({ "phoneNumber": "529991234567" })).await;
    let body = app
        .gql(
            &app.token(Role::Agent, "default"),
            DELETE,
            json!({ "id": c["id"], "permanent": true }),
        )
        .await;
    assert_eq!(code(&body), "FORBIDDEN", "{body}");
    let stored = get(&app, &app.admin(), &c["id"]).await;
    assert_eq!(stored["status"], "ACTIVE");
}

// ---------------------------------------------------------- importCustomers

async fn import_customers_counts_imported_duplicate_and_failed_rows(app: TestApp) {
    let existing = create(&app, json!({ "phoneNumber": "529990000001" })).await;
    let rows = json!([
        { "phoneNumber": "529990000010", "firstName": "Row0" },
        { "phoneNumber": "+52 999 000 0001", "firstName": "InStore" },
        { "phoneNumber": "529990000011", "tags": ["imported"] },
        { "phoneNumber": "9990000010", "firstName": "InList" },
        { "phoneNumber": "12" },
        { "phoneNumber": "529990000012", "email": "nope" },
        { "phoneNumber": "529990000013", "source": "WEBSITE" },
        { "phoneNumber": "529990000014", "status": "BLOCKED" }
    ]);
    let body = app.gql(&app.admin(), IMPORT, json!({ "rows": rows })).await;
    let result = data(&body, "importCustomers");
    let counts = [
        &result["imported"],
        &result["duplicates"],
        &result["failed"],
    ];
    assert_eq!(counts, [&json!(3), &json!(2), &json!(3)], "{result}");

    let mut stored: Vec<&str> = result["details"]["success"]
        .as_array()
        .expect("success")
        .iter()
        .filter_map(|c| c["phoneNumber"].as_str())
        .collect();
    stored.sort_unstable();
    assert_eq!(stored, ["529990000010", "529990000011", "529990000013"]);

    let dups = result["details"]["duplicates"]
        .as_array()
        .expect("duplicates");
    assert_eq!(
        dups.iter().map(|d| d["index"].clone()).collect::<Vec<_>>(),
        [json!(1), json!(3)]
    );
    for d in dups {
        assert!(d["reason"].as_str().is_some_and(|r| !r.is_empty()), "{d}");
    }

    let failed = result["details"]["failed"].as_array().expect("failed");
    assert_eq!(
        failed
            .iter()
            .map(|f| f["index"].clone())
            .collect::<Vec<_>>(),
        [json!(4), json!(5), json!(7)]
    );
    let reason = |i: usize| failed[i]["reason"].as_str().expect("reason").to_lowercase();
    assert!(reason(0).contains("phone"), "{}", failed[0]);
    assert!(reason(1).contains("email"), "{}", failed[1]);
    assert!(reason(2).contains("status"), "{}", failed[2]);
    assert_no_internal_detail(&body);

    let all = list(&app, json!({ "limit": 100 })).await;
    assert_eq!(
        all["pagination"]["total"], 4,
        "the existing customer and the three valid rows"
    );
    let holder = app
        .gql(&app.admin(), BY_PHONE, json!({ "p": "529990000001" }))
        .await;
    assert_eq!(
        data(&holder, "customerByPhone")["id"],
        existing["id"],
        "a duplicate does not replace the holder"
    );
    assert_eq!(
        list(&app, json!({ "filter": { "tags": ["imported"] } })).await["pagination"]["total"],
        1
    );
}

async fn import_customers_as_agent_is_forbidden_and_stores_nothing(app: TestApp) {
    let rows = json!([{ "phoneNumber": "529990000010" }, { "phoneNumber": "529990000011" }]);
    let body = app
        .gql(
            &app.token(Role::Agent, "default"),
            IMPORT,
            json!({ "rows": rows }),
        )
        .await;
    assert_eq!(code(&body), "FORBIDDEN", "{body}");
    assert_eq!(list(&app, json!({})).await["pagination"]["total"], 0);
}

// ---------------------------------------------------------------- defaults

/// The contract declares these arguments nullable with a default
/// (`page: Int = 1`, `permanent: Boolean = false`, ...). A client may pass
/// them through nullable variables it leaves out, and per the GraphQL spec
/// (CoerceArgumentValues) the argument's default then applies.
async fn arguments_passed_as_omitted_variables_take_their_contract_defaults(app: TestApp) {
    let c = create(
        &app,
        json!({ "phoneNumber": "529991234567", "tags": ["a"] }),
    )
    .await;
    let admin = app.admin();

    let list = "query($page: Int, $limit: Int, $sortBy: CustomerSortField, $sortOrder: SortOrder) {
        customers(page: $page, limit: $limit, sortBy: $sortBy, sortOrder: $sortOrder) {
            items { id } pagination { page limit total pages }
        }
    }";
    let body = app.gql(&admin, list, json!({})).await;
    assert_eq!(
        data(&body, "customers")["pagination"],
        json!({ "page": 1, "limit": 20, "total": 1, "pages": 1 }),
        "{body}"
    );

    let conversations = "query($id: ID!, $page: Int, $limit: Int) {
        customerConversations(customerId: $id, page: $page, limit: $limit) { pagination { page limit } }
    }";
    let body = app
        .gql(&admin, conversations, json!({ "id": c["id"] }))
        .await;
    assert_eq!(
        data(&body, "customerConversations")["pagination"],
        json!({ "page": 1, "limit": 20 }),
        "{body}"
    );

    let body = app
        .gql(&admin, TAGS, json!({ "id": c["id"], "tags": ["b"] }))
        .await;
    assert_eq!(
        data(&body, "updateCustomerTags")["tags"],
        json!(["b"]),
        "action defaults to SET: {body}"
    );

    let body = app.gql(&admin, DELETE, json!({ "id": c["id"] })).await;
    assert_eq!(
        data(&body, "deleteCustomer"),
        &json!({ "success": true, "message": "Customer deactivated", "permanent": false }),
        "permanent defaults to false: {body}"
    );
    assert_eq!(get(&app, &admin, &c["id"]).await["status"], "INACTIVE");
}

// -------------------------------------------------------------- roles, auth

async fn viewer_mutations_are_forbidden_and_change_nothing(app: TestApp) {
    let c = create(
        &app,
        json!({ "phoneNumber": "529991234567", "firstName": "John", "tags": ["a"] }),
    )
    .await;
    let viewer = app.token(Role::Viewer, "default");
    let attempts = [
        (
            with_customer(CREATE),
            json!({ "input": { "phoneNumber": "529997654321" } }),
        ),
        (
            with_customer(UPDATE),
            json!({ "id": c["id"], "input": { "firstName": "Eve" } }),
        ),
        (
            TAGS.to_owned(),
            json!({ "id": c["id"], "tags": ["b"], "action": "SET" }),
        ),
        (
            BLOCK.to_owned(),
            json!({ "id": c["id"], "b": true, "r": "no" }),
        ),
        (
            DELETE.to_owned(),
            json!({ "id": c["id"], "permanent": false }),
        ),
        (
            DELETE.to_owned(),
            json!({ "id": c["id"], "permanent": true }),
        ),
        (
            IMPORT.to_owned(),
            json!({ "rows": [{ "phoneNumber": "529990000010" }] }),
        ),
    ];
    for (query, variables) in attempts {
        let body = app.gql(&viewer, &query, variables.clone()).await;
        assert_eq!(code(&body), "FORBIDDEN", "{variables}: {body}");
    }
    assert_eq!(
        get(&app, &app.admin(), &c["id"]).await,
        c,
        "the customer is unchanged"
    );
    assert_eq!(
        list(&app, json!({})).await["pagination"]["total"],
        1,
        "nothing was created or imported"
    );
}

async fn customers_query_without_a_token_is_unauthenticated(app: TestApp) {
    create(&app, json!({ "phoneNumber": "529991234567" })).await;
    for query in [list_query(&json!({})), "{ me { agentId } }".to_owned()] {
        let resp = app
            .client
            .post(app.url("/graphql"))
            .json(&json!({ "query": query, "variables": {} }))
            .send()
            .await
            .expect("send");
        let body: Value = resp.json().await.expect("json");
        assert_eq!(code(&body), "UNAUTHENTICATED", "{body}");
        assert!(body["data"].is_null(), "no data without a token: {body}");
    }
    let body = app
        .gql("not-a-jwt", &list_query(&json!({})), json!({}))
        .await;
    assert_eq!(code(&body), "UNAUTHENTICATED", "{body}");
    assert!(body["data"].is_null(), "no data with a bad token: {body}");
}

async fn error_messages_never_reveal_internal_details(app: TestApp) {
    let c = create(&app, json!({ "phoneNumber": "529991234567" })).await;
    let (admin_token, agent_token) = (app.admin(), app.token(Role::Agent, "default"));
    let (admin, agent) = (admin_token.as_str(), agent_token.as_str());
    let long = "x".repeat(300);
    let listing = |variables: Value| (admin, list_query(&variables), variables);
    let attempts: Vec<(&str, String, Value)> = vec![
        listing(json!({ "limit": 0 })),
        listing(json!({ "filter": { "search": "a\u{0}b" } })),
        listing(json!({ "filter": { "search": long } })),
        listing(json!({ "filter": { "search": "\"' OR 1=1 -- %_\\ NEAR(a b) *" } })),
        listing(json!({ "filter": { "tags": ["'; DROP TABLE customers; --"] } })),
        (
            admin,
            with_customer(GET),
            json!({ "id": "'; DROP TABLE customers; --" }),
        ),
        (
            admin,
            BY_PHONE.to_owned(),
            json!({ "p": "'; DROP TABLE customers; --" }),
        ),
        (
            admin,
            with_customer(CREATE),
            json!({ "input": { "phoneNumber": "+52 (999) 123-4567" } }),
        ),
        (
            admin,
            with_customer(CREATE),
            json!({ "input": { "phoneNumber": "529990000001", "notes": "a\u{0}b" } }),
        ),
        (
            admin,
            with_customer(CREATE),
            json!({ "input": { "phoneNumber": "529990000001", "status": "BLOCKED" } }),
        ),
        (
            admin,
            with_customer(CREATE),
            json!({ "input": { "phoneNumber": "529990000001", "preferences": { "preferredAgentId": "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b" } } }),
        ),
        (
            admin,
            with_customer(CREATE),
            json!({ "input": { "phoneNumber": "529990000001", "preferences": { "preferredAgentId": "x'--" } } }),
        ),
        (
            admin,
            with_customer(CREATE),
            json!({ "input": { "phoneNumber": "529990000001", "address": { "coordinates": { "latitude": 91, "longitude": 0 } } } }),
        ),
        (
            admin,
            with_customer(CREATE),
            json!({ "input": { "phoneNumber": "529990000001", "tags": ["x".repeat(65)] } }),
        ),
        (
            admin,
            with_customer(CREATE),
            json!({ "input": { "phoneNumber": "529990000001", "customFields": { "": 1 } } }),
        ),
        (
            admin,
            with_customer(UPDATE),
            json!({ "id": "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", "input": {} }),
        ),
        (
            admin,
            with_customer(UPDATE),
            json!({ "id": c["id"], "input": { "phoneNumber": null } }),
        ),
        (
            admin,
            TAGS.to_owned(),
            json!({ "id": c["id"], "tags": (0..101).map(|i| i.to_string()).collect::<Vec<_>>() }),
        ),
        (admin, BLOCK.to_owned(), json!({ "id": "nope", "b": true })),
        (
            admin,
            BLOCK.to_owned(),
            json!({ "id": c["id"], "b": true, "r": "a\u{0}b" }),
        ),
        (
            agent,
            DELETE.to_owned(),
            json!({ "id": c["id"], "permanent": true }),
        ),
        (admin, CONVERSATIONS.to_owned(), json!({ "id": "nope" })),
        (agent, IMPORT.to_owned(), json!({ "rows": [] })),
    ];
    for (token, query, variables) in attempts {
        let body = app.gql(token, &query, variables.clone()).await;
        assert_no_internal_detail(&body);
        for error in body["errors"].as_array().into_iter().flatten() {
            let code = error["extensions"]["code"].as_str().unwrap_or_default();
            assert_ne!(
                code, "INTERNAL_SERVER_ERROR",
                "{variables} caused an internal error: {error}"
            );
        }
    }
}

/// A document that selects one object twice under the same key gets the
/// selections merged, as GraphQL merges them; one that repeats a plain
/// field gets it once.
async fn repeated_selections_merge_into_one_answer(app: TestApp) {
    let created = create(
        &app,
        json!({
            "phoneNumber": "529990000001",
            "firstName": "Ana",
            "address": { "city": "Mérida", "street": "Calle 60" }
        }),
    )
    .await;
    let token = app.token(Role::Agent, "default");
    let merged =
        "{ customers { items { id address { city } } items { firstName address { street } } } }";
    let plain = "{ customers { items { id address { city street } firstName } } }";
    let repeated_leaves = "{ customers { items { id ...F firstName } } }
        fragment F on Customer { firstName id phoneNumber }";
    let once = "{ customers { items { id firstName phoneNumber } } }";
    let answer = |query| app.gql_data(&token, query, json!({}));
    let merged = answer(merged).await;
    assert_eq!(merged, answer(plain).await);
    let item = &merged["customers"]["items"][0];
    assert_eq!(item["id"], created["id"]);
    assert_eq!(
        item["address"],
        json!({ "city": "Mérida", "street": "Calle 60" })
    );
    let leaves = answer(repeated_leaves).await;
    assert_eq!(leaves, answer(once).await);
    let keys: Vec<&String> = leaves["customers"]["items"][0]
        .as_object()
        .expect("an item")
        .keys()
        .collect();
    assert_eq!(
        keys,
        ["id", "firstName", "phoneNumber"],
        "in first-seen order"
    );
    // Parsing keeps one of two equal keys: the text itself must hold one.
    let text = app
        .client
        .post(app.url("/graphql"))
        .bearer_auth(&token)
        .json(&json!({ "query": repeated_leaves }))
        .send()
        .await
        .expect("send")
        .text()
        .await
        .expect("a body");
    for key in ["\"id\"", "\"firstName\"", "\"phoneNumber\""] {
        assert_eq!(text.matches(key).count(), 1, "{key} in {text}");
    }
}

crate::db_tests!(
    repeated_selections_merge_into_one_answer,
    customers_query_returns_items_and_pagination,
    customers_page_past_the_end_is_empty_with_the_true_pagination,
    customers_filter_by_search_status_segment_source_and_any_tag,
    customers_sorted_by_first_name_keep_nulls_last_in_both_orders,
    customers_limit_above_100_is_clamped_to_100,
    customers_limit_or_page_below_one_is_bad_user_input,
    customer_is_null_for_unknown_malformed_and_other_tenants_ids,
    customer_by_phone_finds_the_customer_in_every_spelling,
    customer_by_phone_with_an_invalid_number_is_bad_user_input,
    customer_stats_count_the_summary_and_list_segments_largest_first,
    customer_conversations_of_a_new_customer_is_an_empty_page,
    customer_conversations_of_another_tenants_or_an_unknown_customer_is_not_found,
    me_reports_the_agent_role_and_tenant_of_the_token,
    create_customer_stores_every_field_in_contract_form,
    create_customer_with_only_a_phone_gets_empty_lists_and_spanish,
    create_customer_with_a_taken_phone_is_conflict_naming_the_holder,
    create_customer_with_status_blocked_is_bad_user_input_on_status,
    create_customer_with_a_bad_email_is_bad_user_input_on_email,
    create_customer_with_custom_fields_that_are_not_an_object_is_bad_user_input,
    create_customer_with_an_unknown_enum_value_is_bad_user_input,
    create_customer_with_an_invalid_phone_is_bad_user_input_on_phone_number,
    update_customer_sets_given_fields_leaves_absent_ones_and_null_clears,
    update_customer_of_an_unknown_or_foreign_id_is_not_found,
    update_customer_to_status_blocked_is_bad_user_input_and_changes_nothing,
    update_customer_to_a_taken_phone_is_conflict_naming_the_holder,
    update_customer_tags_sets_by_default_adds_and_removes,
    set_customer_blocked_blocks_with_a_reason_and_unblock_restores_the_prior_status,
    blocking_twice_still_restores_the_status_held_before_the_first_block,
    delete_customer_is_soft_by_default_and_leaves_it_inactive,
    delete_customer_permanently_as_admin_removes_it,
    delete_customer_permanently_as_agent_is_forbidden_and_keeps_it,
    import_customers_counts_imported_duplicate_and_failed_rows,
    import_customers_as_agent_is_forbidden_and_stores_nothing,
    arguments_passed_as_omitted_variables_take_their_contract_defaults,
    viewer_mutations_are_forbidden_and_change_nothing,
    customers_query_without_a_token_is_unauthenticated,
    error_messages_never_reveal_internal_details,
);
