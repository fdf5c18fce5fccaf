//! A small load generator: `clients` request loops (none for 0) against one URL, each at most one
//! request every `every`, counting answers by the first line of their body (the demo
//! backends answer with their name) and failures (a 5xx, or no answer). Used by `weir demo`
//! and `weir demo load URL`, so nobody needs another tool to try weir.

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use parking_lot::Mutex;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Answers so far: successes by body, and failures.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Answers below 500, by the first line of their body (cut to 24 characters).
    pub ok: BTreeMap<String, u64>,
    /// 5xx answers and requests that got no answer.
    pub failed: u64,
}

impl Counts {
    pub fn ok_total(&self) -> u64 {
        self.ok.values().sum()
    }

    /// What came in since `earlier`.
    pub fn since(&self, earlier: &Counts) -> Counts {
        Counts {
            ok: self
                .ok
                .iter()
                .map(|(k, n)| (k.clone(), n - earlier.ok.get(k).copied().unwrap_or(0)))
                .collect(),
            failed: self.failed - earlier.failed,
        }
    }

    /// `200 ok (v1 180, v2 20), 0 failed`.
    pub fn line(&self) -> String {
        let split: Vec<String> = self.ok.iter().map(|(k, n)| format!("{k} {n}")).collect();
        let split = if split.is_empty() {
            String::new()
        } else {
            format!(" ({})", split.join(", "))
        };
        format!("{} ok{split}, {} failed", self.ok_total(), self.failed)
    }
}

pub struct Load {
    stop: Arc<AtomicBool>,
    counts: Arc<Mutex<Counts>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Load {
    pub fn start(url: &str, clients: usize, every: Duration) -> anyhow::Result<Load> {
        let uri: hyper::Uri = url
            .parse()
            .map_err(|e| anyhow::anyhow!("{url}: not a URL: {e}"))?;
        if uri.scheme_str() != Some("http") {
            anyhow::bail!("{url}: only http:// URLs are supported");
        }
        let stop = Arc::new(AtomicBool::new(false));
        let counts = Arc::new(Mutex::new(Counts::default()));
        let client: Client<_, Empty<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
        let tasks = (0..clients)
            .map(|_| {
                let (client, uri, stop, counts) =
                    (client.clone(), uri.clone(), stop.clone(), counts.clone());
                tokio::spawn(async move {
                    let mut tick = tokio::time::interval(every);
                    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                    while !stop.load(Ordering::Relaxed) {
                        tick.tick().await;
                        let answer = tokio::time::timeout(Duration::from_secs(10), async {
                            let resp = client.get(uri.clone()).await.ok()?;
                            let status = resp.status();
                            let body = resp.into_body().collect().await.ok()?.to_bytes();
                            Some((status, body))
                        })
                        .await
                        .ok()
                        .flatten();
                        let mut c = counts.lock();
                        match answer {
                            Some((status, body)) if !status.is_server_error() => {
                                *c.ok.entry(first_line(&body)).or_default() += 1;
                            }
                            _ => c.failed += 1,
                        }
                    }
                })
            })
            .collect();
        Ok(Load {
            stop,
            counts,
            tasks,
        })
    }

    pub fn counts(&self) -> Counts {
        self.counts.lock().clone()
    }

    pub async fn stop(self) -> Counts {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.tasks {
            let _ = t.await;
        }
        self.counts.lock().clone()
    }
}

fn first_line(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let line = text.lines().next().unwrap_or("").trim();
    if line.is_empty() {
        return "(empty)".to_owned();
    }
    line.chars().take(24).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_read_as_a_line_and_subtract() {
        let mut a = Counts::default();
        a.ok.insert("v1".into(), 90);
        a.ok.insert("v2".into(), 10);
        a.failed = 2;
        assert_eq!(a.line(), "100 ok (v1 90, v2 10), 2 failed");
        let mut b = a.clone();
        *b.ok.get_mut("v2").unwrap() += 5;
        assert_eq!(b.since(&a).line(), "5 ok (v1 0, v2 5), 0 failed");
        assert_eq!(first_line(b"v1\nmore"), "v1");
        assert_eq!(first_line(b""), "(empty)");
    }
}
