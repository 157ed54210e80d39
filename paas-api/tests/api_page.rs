//! The status page in a real browser: headless Chromium driven over
//! WebDriver (chromedriver). Loads the page, watches a task go live from
//! pending to completed, cancels one from the page, reads an attempt's
//! error, checks the console has no error, and saves a screenshot to
//! `target/paas-api-page.png`.
//!
//! Skips, saying so, when chromedriver or Chromium is missing
//! (`apt-get install chromium chromium-driver`), unless
//! `PAAS_REQUIRE_BROWSER=1` (as CI sets it), where that fails.

mod support;

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder, Locator};
use paas_core::Status;
use serde_json::{Value, json};
use support::{Engine, Job, Node, Script, until_status};

/// Chromium's log of the page's console, through chromedriver.
#[derive(Debug)]
struct BrowserLog;

impl WebDriverCompatibleCommand for BrowserLog {
    fn endpoint(
        &self,
        base: &url::Url,
        session: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base.join(&format!("session/{}/se/log", session.unwrap_or_default()))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (
            http::Method::POST,
            Some(json!({ "type": "browser" }).to_string()),
        )
    }
}

fn tool(var: &str, default: &str) -> Option<PathBuf> {
    let path = std::env::var_os(var).map_or_else(|| PathBuf::from(default), PathBuf::from);
    path.exists().then_some(path)
}

/// Polls `script` (which returns a value) until `ok` accepts it, 15 s at most.
async fn until(browser: &Client, what: &str, script: &str, ok: impl Fn(&Value) -> bool) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let value = browser
            .execute(script, vec![])
            .await
            .expect("the script runs");
        if ok(&value) {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: the page shows {value}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The text of the status chip in the latest-tasks row of `job`.
fn status_of(job: &Job) -> String {
    format!(
        "const c = document.querySelector('#recent tr[data-key=\"{}\"] .status'); return c ? c.textContent : null;",
        paas_api::key_hex(job)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_follows_tasks_live_and_acts_on_them() {
    let (Some(driver), Some(chromium)) = (
        tool("PAAS_CHROMEDRIVER", "/usr/bin/chromedriver"),
        tool("PAAS_CHROMIUM", "/usr/bin/chromium"),
    ) else {
        let message = "skipping the browser test: chromedriver or chromium not found \
                       (apt-get install -y chromium chromium-driver, or set PAAS_CHROMEDRIVER and PAAS_CHROMIUM)";
        assert!(
            std::env::var("PAAS_REQUIRE_BROWSER").as_deref() != Ok("1"),
            "{message}"
        );
        eprintln!("{message}");
        return;
    };

    let node = Node::start().await;
    let flaky = Job::new(1, Script::Flaky);
    let failing = Job::new(2, Script::Fail);
    node.handle
        .submit_many([flaky.clone(), failing.clone()])
        .await
        .expect("submitted");
    node.handle
        .wait_all([flaky.clone(), failing.clone()])
        .await
        .expect("finished");

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let mut chromedriver = tokio::process::Command::new(driver)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("chromedriver starts");
    let profile = tempfile::tempdir().expect("a profile folder");
    let capabilities = json!({
        "browserName": "chrome",
        "goog:chromeOptions": {
            "binary": chromium,
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--window-size=1280,1400",
                format!("--user-data-dir={}", profile.path().display()),
            ],
        },
        "goog:loggingPrefs": { "browser": "ALL" },
    });
    let Value::Object(capabilities) = capabilities else {
        unreachable!("an object literal");
    };
    let webdriver = format!("http://127.0.0.1:{port}/");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let browser = loop {
        let attempt = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(capabilities.clone())
            .connect(&webdriver)
            .await;
        match attempt {
            Ok(browser) => break browser,
            Err(e) => {
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "no WebDriver session: {e}"
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    };

    browser.goto(&node.base).await.expect("the page loads");
    until(
        &browser,
        "the stream is live",
        "return document.getElementById('conn').dataset.state;",
        |v| v == "live",
    )
    .await;
    until(
        &browser,
        "the counts",
        "return document.querySelector('#counts tfoot td[data-status=completed]')?.textContent;",
        |v| v == "1",
    )
    .await;

    // The node itself, the one node of its embedded store.
    let pid = until(
        &browser,
        "the node",
        "return document.querySelector('#nodes tbody tr td.n')?.textContent;",
        |v| v.is_string(),
    )
    .await;
    assert_eq!(pid, std::process::id().to_string());

    // Cancel a running task from the page.
    let held = Job::new(3, Script::Hold);
    node.handle.submit(held.clone()).await.expect("submitted");
    until_status(&node.handle, &held, Status::Proving).await;
    let key = paas_api::key_hex(&held);
    until(
        &browser,
        "the running task",
        &format!("return !!document.querySelector('#running tr[data-key=\"{key}\"]');"),
        |v| v == true,
    )
    .await;
    browser
        .find(Locator::Css(&format!(
            "#running tr[data-key=\"{key}\"] button[data-action=cancel]"
        )))
        .await
        .expect("a cancel button")
        .click()
        .await
        .expect("clicked");
    until_status(&node.handle, &held, Status::Cancelled).await;
    until(&browser, "the cancelled task", &status_of(&held), |v| {
        v == "cancelled"
    })
    .await;

    // A task goes live from pending to completed, with no reload.
    let holder = Job::new(4, Script::Hold).on(Engine::Slow);
    let queued = Job::prove(5).on(Engine::Slow);
    node.handle.submit(holder.clone()).await.expect("submitted");
    until_status(&node.handle, &holder, Status::Proving).await;
    node.handle.submit(queued.clone()).await.expect("submitted");
    until(&browser, "the queued task", &status_of(&queued), |v| {
        v == "pending"
    })
    .await;
    until(
        &browser,
        "the slow pool busy",
        "return document.querySelector('#counts tr[data-backend=slow] td[data-pool=workers]')?.textContent;",
        |v| v == "1 / 1",
    )
    .await;
    node.demo.release();
    until(&browser, "the task done", &status_of(&queued), |v| {
        v == "completed"
    })
    .await;
    until(&browser, "the holder done", &status_of(&holder), |v| {
        v == "completed"
    })
    .await;

    // A task's detail shows its failed attempt's error.
    browser
        .find(Locator::Css(&format!(
            "#recent tr[data-key=\"{}\"] a[data-open]",
            paas_api::key_hex(&flaky)
        )))
        .await
        .expect("the flaky task's link")
        .click()
        .await
        .expect("clicked");
    let error = until(
        &browser,
        "the attempt's error",
        "return document.querySelector('#attempts li .error')?.textContent;",
        |v| v.is_string(),
    )
    .await;
    assert_eq!(error, "attempt 1 — transient: flaky first attempt of 1");
    let failure = until(
        &browser,
        "the recent failure",
        "return document.querySelector('#failures td.error')?.textContent;",
        |v| v.is_string(),
    )
    .await;
    assert_eq!(failure, "permanent: no witness for 2");

    // The counts and the running list catch up (summaries come at most
    // every half second, lists reload a moment after a change).
    until(
        &browser,
        "the counts",
        "return document.querySelector('#counts tfoot td[data-status=completed]')?.textContent;",
        |v| v == "3",
    )
    .await;
    until(&browser, "the slow line", "return document.querySelector('#counts tr[data-backend=slow] td[data-status=completed]')?.textContent;", |v| v == "2").await;
    until(
        &browser,
        "the slow pool idle",
        "return document.querySelector('#counts tr[data-backend=slow] td[data-pool=workers]')?.textContent;",
        |v| v == "0 / 1",
    )
    .await;
    until(
        &browser,
        "nothing running",
        "return document.getElementById('running-empty').hidden;",
        |v| v == false,
    )
    .await;

    let log = browser
        .issue_cmd(BrowserLog)
        .await
        .expect("the console log");
    let entries = log.as_array().expect("the log is a list of entries");
    let errors: Vec<&Value> = entries.iter().filter(|e| e["level"] == "SEVERE").collect();
    assert!(errors.is_empty(), "console errors: {errors:?}");

    let screenshot = browser.screenshot().await.expect("a screenshot");
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"),
        PathBuf::from,
    );
    std::fs::create_dir_all(&target).expect("the target folder");
    let path = target.join("paas-api-page.png");
    std::fs::write(&path, screenshot).expect("the screenshot is saved");
    eprintln!("screenshot: {}", path.display());

    browser.close().await.expect("the session closes");
    let _ = chromedriver.kill().await;
}
