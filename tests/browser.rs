//! End to end in a real browser: headless Chromium, driven over WebDriver by
//! chromedriver, opens the GraphiQL playground at `GET /graphql`, gets a token
//! into the headers editor, runs a customers query and must see the customer
//! in the result pane, having loaded nothing from outside this server. The
//! screenshot is kept as `<target dir>/e2e/graphiql.png`.
//!
//! Needs Debian's `chromium` and `chromium-driver` (`.ci/run` installs them).
//! Without them the test fails when `CI=true` and elsewhere says loudly that
//! it did not run.

mod common;
#[allow(
    dead_code,
    reason = "the browser test uses only the server of the API harness"
)]
#[path = "api/helpers/mod.rs"]
mod helpers;

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context};
use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use reqwest::StatusCode;
use serde_json::{json, Value};

use helpers::{Backend, TestApp};

/// Debian's Chromium; `CLIENTELA_CHROMIUM` names another binary.
const CHROMIUM: (&str, &str) = ("CLIENTELA_CHROMIUM", "/usr/bin/chromium");
/// Debian's chromedriver; `CLIENTELA_CHROMEDRIVER` names another binary.
const CHROMEDRIVER: (&str, &str) = ("CLIENTELA_CHROMEDRIVER", "/usr/bin/chromedriver");
/// The customer the browser must find (as the API stores and shows it).
const PHONE: &str = "529991234567";
/// How long the browser may take for any one step on a busy machine.
const STEP: Duration = Duration::from_secs(60);

/// The path of a browser binary: its variable's value, or the default.
fn binary((var, default): (&str, &str)) -> PathBuf {
    std::env::var_os(var).map_or_else(|| PathBuf::from(default), PathBuf::from)
}

/// Whether Chromium and chromedriver are installed; panics when they are
/// missing under `CI=true`.
fn browser_installed() -> bool {
    let missing: Vec<String> = [CHROMIUM, CHROMEDRIVER]
        .into_iter()
        .map(binary)
        .filter(|p| !p.is_file())
        .map(|p| p.display().to_string())
        .collect();
    if missing.is_empty() {
        return true;
    }
    let missing = missing.join(" and ");
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{missing} not found: CI must run the browser test (apt-get install chromium chromium-driver)"
    );
    let bar = "!".repeat(78);
    eprintln!(
        "\n{bar}\n!! SKIPPED: the GraphiQL browser test did NOT run: {missing} not found.\n\
         !! Install Debian's `chromium` and `chromium-driver` to run it (CI=true makes this a failure).\n{bar}\n"
    );
    false
}

/// Where the test's screenshot and logs go: `<target dir>/e2e/`.
fn artifacts_dir() -> PathBuf {
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let dir = tmp.parent().unwrap_or(tmp).join("e2e");
    std::fs::create_dir_all(&dir).expect("create the e2e artifacts dir");
    dir
}

/// A chromedriver child process in its own process group; the group (the
/// driver and any browser it started) is killed on drop.
struct ChromeDriver {
    child: Child,
    port: u16,
}

impl ChromeDriver {
    async fn start(log: &Path) -> ChromeDriver {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let child = Command::new(binary(CHROMEDRIVER))
            .arg(format!("--port={port}"))
            .arg(format!("--log-path={}", log.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("start chromedriver");
        let mut driver = ChromeDriver { child, port };
        driver.wait_ready().await;
        driver
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    async fn wait_ready(&mut self) {
        let client = reqwest::Client::new();
        let deadline = Instant::now() + STEP;
        loop {
            if let Some(status) = self.child.try_wait().expect("chromedriver status") {
                panic!("chromedriver exited early: {status}");
            }
            let ready = match client.get(format!("{}/status", self.url())).send().await {
                Ok(resp) => resp
                    .json::<Value>()
                    .await
                    .is_ok_and(|v| v["value"]["ready"] == json!(true)),
                Err(_) => false,
            };
            if ready {
                return;
            }
            assert!(Instant::now() < deadline, "chromedriver never got ready");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for ChromeDriver {
    fn drop(&mut self) {
        // The whole group: a browser left behind by a failed test goes too.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A WebDriver session of headless Chromium with a fresh profile.
async fn chromium(driver: &ChromeDriver, profile: &Path) -> Client {
    let args = [
        "--no-sandbox".to_owned(),
        "--headless".to_owned(),
        "--disable-gpu".to_owned(),
        "--disable-background-networking".to_owned(),
        "--disable-quic".to_owned(),
        "--no-first-run".to_owned(),
        "--disable-component-update".to_owned(),
        "--disable-sync".to_owned(),
        format!("--user-data-dir={}", profile.display()),
        "--window-size=1280,900".to_owned(),
    ];
    let mut caps = serde_json::Map::new();
    caps.insert("browserName".to_owned(), json!("chrome"));
    caps.insert(
        "goog:chromeOptions".to_owned(),
        json!({ "binary": binary(CHROMIUM), "args": args }),
    );
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&driver.url())
        .await
        .expect("a WebDriver session of headless Chromium")
}

/// The text of the visible headers editor, as CodeMirror holds it.
const HEADERS_EDITOR_TEXT: &str = r#"
    const tool = document.querySelector('section.graphiql-editor-tool[aria-label="Headers"]');
    const editor = tool && tool.querySelector('.graphiql-editor:not(.hidden) .CodeMirror');
    return editor && editor.CodeMirror ? editor.CodeMirror.getValue() : null;
"#;

/// The result pane's text, as CodeMirror holds it.
const RESULT_TEXT: &str = r#"
    const editor = document.querySelector('.graphiql-response .CodeMirror');
    return editor && editor.CodeMirror ? editor.CodeMirror.getValue() : '';
"#;

/// Opens the playground at `url` and waits for GraphiQL's run button; the button.
async fn open_playground(browser: &Client, url: &str) -> anyhow::Result<Element> {
    browser.goto(url).await?;
    browser
        .wait()
        .at_most(STEP)
        .for_element(Locator::Css(".graphiql-execute-button"))
        .await
        .context("GraphiQL's run button never appeared")
}

/// Opens the playground with `token`, runs the default query and checks the
/// result and what the page loaded.
async fn use_playground(browser: &Client, server: &TestApp, token: &str) -> anyhow::Result<()> {
    let run = open_playground(
        browser,
        &format!("{}#token={token}", server.url("/graphql")),
    )
    .await?;

    // The token is in the (visible) headers editor, and out of the address bar.
    let headers = browser.execute(HEADERS_EDITOR_TEXT, vec![]).await?;
    let expected = format!(r#"{{"Authorization": "Bearer {token}"}}"#);
    ensure!(
        headers == json!(expected),
        "headers editor holds {headers}, not {expected}"
    );
    let url = browser.current_url().await?;
    ensure!(
        !url.as_str().contains(token),
        "the token stayed in the address bar"
    );

    run.click().await?;
    let deadline = Instant::now() + STEP;
    let result = loop {
        let text = browser.execute(RESULT_TEXT, vec![]).await?;
        let text = text.as_str().unwrap_or_default().to_owned();
        if text.contains(PHONE) {
            break text;
        }
        if Instant::now() > deadline {
            bail!("the result pane never showed {PHONE}; it shows: {text}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let result: Value = serde_json::from_str(&result).context("the result pane's JSON")?;
    ensure!(
        result["data"]["customers"]["pagination"]["total"] == json!(1),
        "unexpected result: {result}"
    );
    ensure!(
        result["data"]["customers"]["items"][0]["firstName"] == json!("José"),
        "unexpected result: {result}"
    );

    // Everything the page loaded came from this server.
    let origin = server.url("/");
    let loaded = browser
        .execute(
            "return performance.getEntriesByType('resource').map(e => e.name);",
            vec![],
        )
        .await?;
    let loaded: Vec<String> = serde_json::from_value(loaded)?;
    ensure!(
        loaded
            .iter()
            .any(|u| u.ends_with("/graphql/assets/graphiql.min.js")),
        "no asset load was recorded: {loaded:?}"
    );
    let foreign: Vec<&String> = loaded.iter().filter(|u| !u.starts_with(&origin)).collect();
    ensure!(
        foreign.is_empty(),
        "the page loaded resources from elsewhere: {foreign:?}"
    );
    Ok(())
}

/// Opening the playground again without `#token=`: the placeholder is back,
/// and the token was kept nowhere (GraphiQL does not persist headers).
async fn reopen_without_token(
    browser: &Client,
    server: &TestApp,
    token: &str,
) -> anyhow::Result<()> {
    open_playground(browser, &server.url("/graphql")).await?;
    let headers = browser.execute(HEADERS_EDITOR_TEXT, vec![]).await?;
    let placeholder = r#"{"Authorization": "Bearer <paste token>"}"#;
    ensure!(
        headers == json!(placeholder),
        "headers editor holds {headers}, not the placeholder"
    );
    let stored = browser
        .execute("return JSON.stringify(localStorage);", vec![])
        .await?;
    ensure!(
        !stored.as_str().unwrap_or_default().contains(token),
        "the token was stored in localStorage: {stored}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graphiql_runs_a_customers_query_in_chromium() {
    if !browser_installed() {
        return;
    }
    let server = TestApp::new(Backend::Sqlite).await.expect("sqlite");
    let token = server.admin();
    let created = reqwest::Client::new()
        .post(server.url("/api/v2/customers"))
        .bearer_auth(&token)
        .json(&json!({ "phoneNumber": "+52 (999) 123-4567", "firstName": "José" }))
        .send()
        .await
        .expect("create a customer");
    assert_eq!(created.status(), StatusCode::CREATED);

    let artifacts = artifacts_dir();
    let profile = tempfile::tempdir().expect("a fresh Chromium profile");
    let driver = ChromeDriver::start(&artifacts.join("chromedriver.log")).await;
    let browser = chromium(&driver, profile.path()).await;

    let outcome = use_playground(&browser, &server, &token).await;
    // The screenshot is kept whether or not the page passed.
    let screenshot = artifacts.join("graphiql.png");
    let saved = match browser.screenshot().await {
        Ok(png) => std::fs::write(&screenshot, png).map_err(anyhow::Error::from),
        Err(e) => Err(e.into()),
    };
    let outcome = match outcome {
        Ok(()) => reopen_without_token(&browser, &server, &token).await,
        failed => failed,
    };
    let closed = browser.close().await;
    drop(driver);

    if let Err(e) = outcome {
        panic!(
            "the playground failed: {e:#} (screenshot: {})",
            screenshot.display()
        );
    }
    saved.expect("save the screenshot");
    closed.expect("end the WebDriver session");
    println!("GraphiQL screenshot: {}", screenshot.display());
}

/// Without a browser: what `GET /graphql` and the assets answer over HTTP.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_playground_and_its_assets_are_served_over_http() {
    let server = TestApp::new(Backend::Sqlite).await.expect("sqlite");
    let http = reqwest::Client::new();

    let page = http
        .get(server.url("/graphql"))
        .header("Accept", "text/html,application/xhtml+xml,*/*;q=0.8")
        .send()
        .await
        .expect("get the page");
    assert_eq!(page.status(), StatusCode::OK);
    assert_eq!(page.headers()["content-type"], "text/html; charset=utf-8");
    let html = page.text().await.expect("page body");
    assert!(html.contains("/graphql/assets/graphiql.min.js"));
    assert!(
        !html.contains("https://"),
        "the page must not load from the web"
    );

    for accept in [None, Some("application/json"), Some("*/*")] {
        let mut req = http.get(server.url("/graphql"));
        if let Some(accept) = accept {
            req = req.header("Accept", accept);
        }
        let resp = req.send().await.expect("get /graphql");
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "Accept: {accept:?}");
        let body: Value = resp.json().await.expect("json");
        assert_eq!(
            body,
            json!({ "errors": [{
                "message": "GET /graphql serves the playground to browsers; send queries with POST",
                "extensions": { "code": "BAD_USER_INPUT" },
            }] })
        );
    }

    for (file, content_type) in [
        ("graphiql.min.js", "text/javascript; charset=utf-8"),
        ("graphiql.min.css", "text/css; charset=utf-8"),
        ("react.production.min.js", "text/javascript; charset=utf-8"),
        (
            "react-dom.production.min.js",
            "text/javascript; charset=utf-8",
        ),
        ("playground.js", "text/javascript; charset=utf-8"),
    ] {
        let resp = http
            .get(server.url(&format!("/graphql/assets/{file}")))
            .send()
            .await
            .expect("get an asset");
        assert_eq!(resp.status(), StatusCode::OK, "{file}");
        assert_eq!(resp.headers()["content-type"], content_type, "{file}");
        assert_eq!(
            resp.headers()["cache-control"],
            "public, max-age=86400",
            "{file}"
        );
        assert!(
            !resp.bytes().await.expect("asset body").is_empty(),
            "{file}"
        );
    }
    for file in ["index.html", "nope.js", "..%2FCargo.toml", "README.md"] {
        let resp = http
            .get(server.url(&format!("/graphql/assets/{file}")))
            .send()
            .await
            .expect("get an unknown asset");
        assert_eq!(resp.status(), StatusCode::NOT_FOUND, "{file}");
    }
}
