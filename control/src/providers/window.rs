//! [`WindowSource`]: where the built-in provider reads a (route, backend)'s recent traffic.
//!
//! Standalone, that is the in-process proxy's histograms ([`Proxy`] implements it). In
//! Kubernetes mode it will be the proxies' `/stats` merged; the trait keeps the provider
//! blind to which.

use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use weir_proxy::stats::{BackendStats, Interval};
use weir_proxy::Proxy;

/// Requests, failures and latencies of one backend over a recent window, cut at the
/// moment its route's current split (backends, weights, endpoints) took effect.
#[derive(Clone)]
pub struct WindowSample {
    pub requests: u64,
    /// 5xx answers and proxy errors (connect, timeout, reset).
    pub failures: u64,
    /// Latency in microseconds, request received to response headers sent.
    pub latency: Histogram<u64>,
    /// The time the sample covers, up to `now`: from the split change when that falls
    /// inside the window, else from the start of the window's oldest slot.
    pub covered: Duration,
    /// How long the route's current split has been in effect at `now`.
    pub since_split: Duration,
}

impl WindowSample {
    /// A sample of what a stats ring holds since `split` (its last cut) over `window`.
    pub fn since(
        stats: &BackendStats,
        now: Instant,
        window: Duration,
        split: Instant,
    ) -> WindowSample {
        let (i, from): (Interval, Instant) = stats.window_since(now, window, split);
        WindowSample {
            requests: i.requests,
            failures: i.failures,
            latency: i.latency,
            covered: now.saturating_duration_since(from),
            since_split: now.saturating_duration_since(split),
        }
    }
}

pub trait WindowSource: Send + Sync {
    /// The sample of `backend` (a service name) on `route` over the `window` before `now`,
    /// never reaching back before the route's current split took effect, or a sentence
    /// saying why there is none (unknown route or backend, naming the valid ones).
    fn window(
        &self,
        route: &str,
        backend: &str,
        now: Instant,
        window: Duration,
    ) -> Result<WindowSample, String>;
}

impl WindowSource for Proxy {
    fn window(
        &self,
        route: &str,
        backend: &str,
        now: Instant,
        window: Duration,
    ) -> Result<WindowSample, String> {
        let table = self.table();
        let Some(r) = table.route(route) else {
            let known: Vec<&str> = table.routes.iter().map(|r| &*r.name).collect();
            return Err(format!(
                "no route named {route:?}; routes are {}",
                list(&known)
            ));
        };
        match r.backends.iter().find(|b| &*b.name == backend) {
            Some(b) => Ok(WindowSample::since(&b.stats, now, window, r.split_since)),
            None => {
                let known: Vec<&str> = r.backends.iter().map(|b| &*b.name).collect();
                Err(format!(
                    "route {route:?} has no backend {backend:?}; its backends are {}",
                    list(&known)
                ))
            }
        }
    }
}

/// `"a", "b"` or `(none)`.
fn list(names: &[&str]) -> String {
    if names.is_empty() {
        return "(none)".to_owned();
    }
    names
        .iter()
        .map(|n| format!("{n:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}
