//! The sampled history the plots draw: per rollout, a point every few seconds with the live
//! weights and each side's traffic, kept for a few minutes; and the marks placed on the
//! same time axis (weight changes, analysis verdicts).

use crate::Sample;
use parking_lot::Mutex;
use serde_json::{json, Value};
use std::collections::{HashMap, VecDeque};
use std::time::Duration;

/// What one side (stable, canary, baseline) served over the sample's window.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SideStats {
    /// Requests a second.
    pub rps: f64,
    /// The share of answers that were not failures; `None` without requests.
    pub success: Option<f64>,
    /// Latency quantiles in seconds; `None` without requests.
    pub p50: Option<f64>,
    pub p99: Option<f64>,
}

impl SideStats {
    /// From a statistics window: `requests` and `failures` over `covered`, and the latency
    /// quantiles of its histogram in microseconds (`quantile_micros(0.99)`).
    pub fn from_window(
        requests: u64,
        failures: u64,
        covered: Duration,
        quantile_micros: impl Fn(f64) -> u64,
    ) -> SideStats {
        let served = requests > 0;
        let quantile = |q: f64| served.then(|| quantile_micros(q) as f64 / 1e6);
        SideStats {
            rps: requests as f64 / covered.as_secs_f64().max(1e-3),
            success: served.then(|| 1.0 - failures as f64 / requests as f64),
            p50: quantile(0.5),
            p99: quantile(0.99),
        }
    }
}

/// One sample, at `t` (Unix seconds).
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    pub t: f64,
    pub sample: Sample,
}

impl Point {
    pub fn to_json(&self) -> Value {
        let sides: serde_json::Map<String, Value> = self
            .sample
            .sides
            .iter()
            .map(|(side, s)| {
                (
                    side.clone(),
                    json!({"rps": s.rps, "success": s.success, "p50": s.p50, "p99": s.p99}),
                )
            })
            .collect();
        json!({"t": self.t, "weights": self.sample.weights, "sides": sides})
    }

    /// The canary's share of the weights in percent, when there is a canary.
    fn canary_percent(&self) -> Option<u64> {
        let canary = *self.sample.weights.get("canary")?;
        let total: u64 = self.sample.weights.values().map(|w| u64::from(*w)).sum();
        // Rounded to the nearest percent; no weights at all is 0.
        Some(
            (u64::from(canary) * 100 + total / 2)
                .checked_div(total)
                .unwrap_or(0),
        )
    }
}

/// Points per rollout `(namespace, name)`, the oldest dropped past `keep`.
pub struct History {
    keep: Duration,
    series: Mutex<HashMap<(String, String), VecDeque<Point>>>,
}

impl History {
    pub fn new(keep: Duration) -> History {
        History {
            keep,
            series: Mutex::new(HashMap::new()),
        }
    }

    pub fn push(&self, namespace: &str, name: &str, point: Point) {
        let oldest = point.t - self.keep.as_secs_f64();
        let mut series = self.series.lock();
        let points = series
            .entry((namespace.to_owned(), name.to_owned()))
            .or_default();
        points.push_back(point);
        while points.front().is_some_and(|p| p.t < oldest) {
            points.pop_front();
        }
    }

    pub fn points(&self, namespace: &str, name: &str) -> Vec<Point> {
        self.series
            .lock()
            .get(&(namespace.to_owned(), name.to_owned()))
            .map(|p| p.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Forgets rollouts that are gone.
    pub fn retain(&self, live: &[(String, String)]) {
        self.series.lock().retain(|k, _| live.contains(k));
    }
}

/// A mark wherever the canary's share changed from one point to the next.
pub fn weight_marks(points: &[Point]) -> Vec<Value> {
    points
        .windows(2)
        .filter_map(|w| {
            let (before, after) = (w[0].canary_percent(), w[1].canary_percent()?);
            (before != Some(after))
                .then(|| json!({"t": w[1].t, "kind": "weight", "text": format!("canary {after}%")}))
        })
        .collect()
}

/// A mark for each measurement of `runs` (Argo AnalysisRuns) that finished since `since`
/// (Unix seconds): its verdict and value, on the same axis as the traffic.
pub fn measurement_marks(runs: &[Value], since: f64) -> Vec<Value> {
    let mut out = Vec::new();
    for run in runs {
        let run_name = run["metadata"]["name"].as_str().unwrap_or_default();
        for result in run["status"]["metricResults"]
            .as_array()
            .into_iter()
            .flatten()
        {
            for m in result["measurements"].as_array().into_iter().flatten() {
                let Some(t) = m["finishedAt"].as_str().and_then(unix_seconds) else {
                    continue;
                };
                if t < since {
                    continue;
                }
                out.push(json!({
                    "t": t, "kind": "measurement", "run": run_name,
                    "metric": result["name"], "phase": m["phase"],
                    "value": m["value"].as_str().unwrap_or_default(),
                }));
            }
        }
    }
    out
}

/// An RFC 3339 time as Unix seconds.
fn unix_seconds(text: &str) -> Option<f64> {
    let t = humantime::parse_rfc3339_weak(text).ok()?;
    Some(t.duration_since(std::time::UNIX_EPOCH).ok()?.as_secs_f64())
}
