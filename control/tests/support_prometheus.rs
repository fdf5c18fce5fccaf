//! A real Prometheus server for tests: the Debian package's `prometheus` binary, started on
//! a free loopback port with its own temporary storage, scraping the given targets every
//! second, and killed when the handle is dropped.
//!
//! Include it from any test crate with
//! `#[path = "<relative>/control/tests/support_prometheus.rs"] mod support_prometheus;`.
//! It needs only tokio, serde_json and tempfile.
//!
//! ```ignore
//! let Some(binary) = support_prometheus::binary().await else { return }; // says why
//! let prom = support_prometheus::Prometheus::start(&binary, &[metrics_addr]).await?;
//! prom.wait_for_samples("sum(demo_requests_total)", Duration::from_secs(30)).await?;
//! ```

#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{sleep, Instant};

/// How long [`binary`] waits for the package to appear (it may still be installing).
pub const INSTALL_WAIT: Duration = Duration::from_secs(180);

/// The `prometheus` binary: on `PATH` or at `/usr/bin/prometheus`, waiting up to
/// [`INSTALL_WAIT`] for it. `None` after printing why, so a test can skip, except when
/// `WEIR_REQUIRE_PROMETHEUS` is set (the README's test command sets it after installing
/// the package): then a missing server fails the test instead of skipping it.
pub async fn binary() -> Option<PathBuf> {
    if std::env::var_os("WEIR_REQUIRE_PROMETHEUS").is_some() {
        return Some(
            find_binary_now()
                .expect("WEIR_REQUIRE_PROMETHEUS is set but no prometheus binary is installed"),
        );
    }
    let deadline = Instant::now() + INSTALL_WAIT;
    loop {
        if let Some(found) = find_binary_now() {
            return Some(found);
        }
        if Instant::now() >= deadline {
            eprintln!(
                "SKIPPED: no `prometheus` binary on PATH or at /usr/bin/prometheus after {}s; \
                 install the Debian package `prometheus`",
                INSTALL_WAIT.as_secs()
            );
            return None;
        }
        sleep(Duration::from_secs(2)).await;
    }
}

pub fn find_binary_now() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|dir| dir.join("prometheus"));
    on_path
        .chain([PathBuf::from("/usr/bin/prometheus")])
        .find(|p| p.is_file())
}

/// A running Prometheus. Dropping it kills the process and removes its storage.
pub struct Prometheus {
    /// `http://127.0.0.1:PORT`, what a metric's `address` takes.
    pub url: String,
    pub addr: SocketAddr,
    child: Child,
    /// Config, TSDB and log; removed on drop, after the process is gone.
    dir: tempfile::TempDir,
}

impl Prometheus {
    /// Starts Prometheus scraping `targets` (`/metrics`, every second) and waits until it
    /// is ready. A port taken between choosing and binding it is retried.
    pub async fn start(binary: &Path, targets: &[SocketAddr]) -> Result<Prometheus, String> {
        let mut last = String::new();
        for _ in 0..3 {
            match Self::start_once(binary, targets).await {
                Ok(p) => return Ok(p),
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    async fn start_once(binary: &Path, targets: &[SocketAddr]) -> Result<Prometheus, String> {
        let dir = tempfile::tempdir().map_err(|e| format!("tempdir: {e}"))?;
        let list = targets
            .iter()
            .map(|t| format!("'{t}'"))
            .collect::<Vec<_>>()
            .join(", ");
        let config = format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
             scrape_configs:\n  - job_name: test\n    scrape_interval: 1s\n\
             \x20   scrape_timeout: 1s\n    metrics_path: /metrics\n\
             \x20   static_configs:\n      - targets: [{list}]\n"
        );
        let config_path = dir.path().join("prometheus.yml");
        std::fs::write(&config_path, config).map_err(|e| format!("writing config: {e}"))?;
        let addr = free_port()?;
        let log = std::fs::File::create(dir.path().join("prometheus.log"))
            .map_err(|e| format!("log file: {e}"))?;
        let log_err = log.try_clone().map_err(|e| format!("log file: {e}"))?;
        let child = Command::new(binary)
            .arg(format!("--config.file={}", config_path.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address={addr}"))
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err)
            .spawn()
            .map_err(|e| format!("starting {}: {e}", binary.display()))?;
        let mut prom = Prometheus {
            url: format!("http://{addr}"),
            addr,
            child,
            dir,
        };
        prom.wait_ready(Duration::from_secs(30)).await?;
        Ok(prom)
    }

    /// Polls `/-/ready` until 200, failing early if the process exits.
    async fn wait_ready(&mut self, within: Duration) -> Result<(), String> {
        let deadline = Instant::now() + within;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!(
                    "prometheus exited with {status}; its log:\n{}",
                    self.log_tail()
                ));
            }
            if let Ok((200, _)) = get(self.addr, "/-/ready").await {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "prometheus not ready after {}s; its log:\n{}",
                    within.as_secs(),
                    self.log_tail()
                ));
            }
            sleep(Duration::from_millis(200)).await;
        }
    }

    /// Runs `query` until its result is non-empty (the targets have been scraped), and
    /// returns the API's `data.result`.
    pub async fn wait_for_samples(
        &self,
        query: &str,
        within: Duration,
    ) -> Result<serde_json::Value, String> {
        let deadline = Instant::now() + within;
        let mut last;
        loop {
            match self.query(query).await {
                Ok(result) if result.as_array().is_some_and(|r| !r.is_empty()) => {
                    return Ok(result)
                }
                Ok(result) => last = result.to_string(),
                Err(e) => last = e,
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "no samples for {query:?} after {}s (last answer: {last}); log:\n{}",
                    within.as_secs(),
                    self.log_tail()
                ));
            }
            sleep(Duration::from_millis(250)).await;
        }
    }

    /// One instant query; the API's `data.result`, or its error text.
    pub async fn query(&self, query: &str) -> Result<serde_json::Value, String> {
        let (status, body) =
            get(self.addr, &format!("/api/v1/query?query={}", encode(query))).await?;
        let json: serde_json::Value = serde_json::from_str(&body)
            .map_err(|e| format!("HTTP {status}, not JSON ({e}): {body}"))?;
        if json["status"] != "success" {
            return Err(format!("HTTP {status}: {body}"));
        }
        Ok(json["data"]["result"].clone())
    }

    /// The last lines of the server's log, for failure messages.
    pub fn log_tail(&self) -> String {
        let log =
            std::fs::read_to_string(self.dir.path().join("prometheus.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> Result<SocketAddr, String> {
    let listener =
        std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| format!("free port: {e}"))?;
    listener.local_addr().map_err(|e| format!("free port: {e}"))
}

/// Percent-encodes a query parameter (unreserved characters kept).
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A minimal HTTP/1.0 GET: status code and body. Kept dependency-free so any test crate can
/// include this file.
async fn get(addr: SocketAddr, path: &str) -> Result<(u16, String), String> {
    let exchange = async {
        let mut stream = TcpStream::connect(addr).await?;
        let request = format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n");
        stream.write_all(request.as_bytes()).await?;
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).await?;
        Ok::<_, std::io::Error>(answer)
    };
    let answer = tokio::time::timeout(Duration::from_secs(5), exchange)
        .await
        .map_err(|_| format!("GET {path}: no answer within 5s"))?
        .map_err(|e| format!("GET {path}: {e}"))?;
    let text = String::from_utf8_lossy(&answer);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("GET {path}: malformed answer {head:?}"))?;
    Ok((status, body.to_owned()))
}
