//! Unit tests for the providers that need no socket. The HTTP providers are tested against
//! real servers in `control/tests/providers.rs`.

mod measure;
mod web;
mod weir;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use weir_proxy::stats::BackendStats;

use super::{HttpClient, ProviderContext, WindowSample, WindowSource};

/// `(route, service)` to its stats: the proxy's recording code without the proxy. A route
/// with no split recorded has had its split for an hour.
#[derive(Default)]
struct Stats(
    HashMap<(String, String), BackendStats>,
    HashMap<String, Instant>,
);

impl Stats {
    /// The route's split changes at `at`, as the proxy does it: its backends' stats are
    /// cut there.
    fn split(&mut self, route: &str, at: Instant) {
        for ((r, _), stats) in &self.0 {
            if r == route {
                stats.cut(at);
            }
        }
        self.1.insert(route.to_owned(), at);
    }

    /// Records `n` answers on `route`/`service` at `at`, `failures` of them 503s, with
    /// latencies 1ms, 2ms, ... n ms.
    fn record(&mut self, route: &str, service: &str, at: Instant, n: u64, failures: u64) {
        let stats = self
            .0
            .entry((route.to_owned(), service.to_owned()))
            .or_default();
        for i in 1..=n {
            let failed = i <= failures;
            let code = if failed { 503 } else { 200 };
            stats.record(at, code, failed, Duration::from_millis(i));
        }
    }
}

impl WindowSource for Stats {
    fn window(
        &self,
        route: &str,
        backend: &str,
        now: Instant,
        window: Duration,
    ) -> Result<WindowSample, String> {
        let stats = self
            .0
            .get(&(route.to_owned(), backend.to_owned()))
            .ok_or_else(|| format!("no backend {backend:?} on route {route:?}"))?;
        Ok(match self.1.get(route) {
            Some(&split) => WindowSample::since(stats, now, window, split),
            None => {
                let i = stats.window(now, window);
                WindowSample {
                    requests: i.requests,
                    failures: i.failures,
                    latency: i.latency,
                    covered: window,
                    since_split: Duration::from_secs(3600),
                }
            }
        })
    }
}

/// A context over `stats` with the roles canary -> web-canary, stable -> web-stable.
fn context(stats: Stats, now: Instant) -> ProviderContext {
    ProviderContext {
        roles: BTreeMap::from([
            ("canary".to_owned(), "web-canary".to_owned()),
            ("stable".to_owned(), "web-stable".to_owned()),
        ]),
        windows: Arc::new(stats),
        http: HttpClient::new(),
        now,
    }
}
