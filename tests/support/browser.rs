//! A real browser for tests: Debian's `chromium`, headless, driven over WebDriver through
//! Debian's `chromedriver` (fantoccini is the WebDriver client). The driver runs on a free
//! loopback port and is killed when the handle is dropped.
//!
//! [`Browser::start`] returns `None` (after saying why) when the packages are missing,
//! unless `WEIR_REQUIRE_BROWSER` is set (the README's test command sets it after installing
//! them): then a missing browser fails the test.

#![allow(dead_code)]

use fantoccini::{Client, ClientBuilder};
use serde_json::{json, Value};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Browser {
    pub client: Client,
    driver: Child,
}

impl Drop for Browser {
    /// Kills chromedriver and the Chromium it started: they share a process group of their
    /// own, so a test that fails halfway leaves no browser behind either.
    fn drop(&mut self) {
        let group = format!("-{}", self.driver.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.driver.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Browser {
    pub async fn start() -> Option<Browser> {
        let (chromium, driver) = ("/usr/bin/chromium", "/usr/bin/chromedriver");
        let present =
            std::path::Path::new(chromium).exists() && std::path::Path::new(driver).exists();
        if !present {
            assert!(
                std::env::var_os("WEIR_REQUIRE_BROWSER").is_none(),
                "WEIR_REQUIRE_BROWSER is set but {chromium} or {driver} is missing"
            );
            eprintln!("SKIPPED: no {chromium} and {driver}; install Debian's chromium and chromium-driver");
            return None;
        }
        let port = free_port();
        let child = Command::new(driver)
            // Its own process group, which Chromium joins: see `Drop`.
            .process_group(0)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            json!({"binary": chromium, "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1280,1100", "--hide-scrollbars"]}),
        );
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let connector = hyper_util::client::legacy::connect::HttpConnector::new();
            match ClientBuilder::new(connector)
                .capabilities(caps.clone())
                .connect(&format!("http://127.0.0.1:{port}"))
                .await
            {
                Ok(client) => {
                    return Some(Browser {
                        client,
                        driver: child,
                    })
                }
                Err(e) if Instant::now() < deadline => {
                    let _ = e;
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(e) => panic!("no WebDriver session with chromium: {e}"),
            }
        }
    }

    pub async fn goto(&self, url: &str) {
        self.client.goto(url).await.expect("the page loads");
    }

    /// Runs `script` (a function body; `arguments[0..]` are `args`) in the page.
    pub async fn eval(&self, script: &str, args: Vec<Value>) -> Value {
        self.client
            .execute(script, args)
            .await
            .expect("the script runs")
    }

    /// The text of the first element `selector` matches, `None` when there is none.
    pub async fn text(&self, selector: &str) -> Option<String> {
        self.eval(
            "const e = document.querySelector(arguments[0]); return e ? e.textContent.trim() : null;",
            vec![json!(selector)],
        )
        .await
        .as_str()
        .map(str::to_owned)
    }

    /// An attribute of the first element `selector` matches.
    pub async fn attr(&self, selector: &str, name: &str) -> Option<String> {
        self.eval(
            "const e = document.querySelector(arguments[0]); return e ? e.getAttribute(arguments[1]) : null;",
            vec![json!(selector), json!(name)],
        )
        .await
        .as_str()
        .map(str::to_owned)
    }

    /// Whether `selector` matches a visible element.
    pub async fn visible(&self, selector: &str) -> bool {
        self.eval(
            "const e = document.querySelector(arguments[0]); if (!e) return false; const s = getComputedStyle(e); return !e.hidden && s.display !== 'none' && s.visibility !== 'hidden';",
            vec![json!(selector)],
        )
        .await
        .as_bool()
        .unwrap_or(false)
    }

    /// Clicks the first element `selector` matches (through WebDriver, as a user would).
    pub async fn click(&self, selector: &str) {
        let e = self
            .client
            .find(fantoccini::Locator::Css(selector))
            .await
            .unwrap_or_else(|e| panic!("no element {selector}: {e}"));
        e.click()
            .await
            .unwrap_or_else(|e| panic!("clicking {selector}: {e}"));
    }

    /// Polls `check` on the page until it returns `Some`, or panics with `what` and the
    /// page's text after `within`.
    pub async fn until<T, F, Fut>(&self, what: &str, within: Duration, check: F) -> T
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Option<T>>,
    {
        let deadline = Instant::now() + within;
        loop {
            if let Some(v) = check().await {
                return v;
            }
            if Instant::now() > deadline {
                let body = self.text("body").await.unwrap_or_default();
                panic!("never {what}; the page says:\n{body}");
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// A PNG of the window, written to `path`.
    pub async fn screenshot(&self, path: &std::path::Path) {
        let png = self.client.screenshot().await.expect("a screenshot");
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).unwrap();
        }
        std::fs::write(path, png).unwrap();
        eprintln!("screenshot: {}", path.display());
    }
}
