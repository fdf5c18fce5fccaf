//! Table tests, one row per Argo rule. Times are explicit: `at(s)` is `s` seconds after the
//! epoch, runs start at `at(0)`.

mod args;
mod condition;
mod outcome;
mod run;
mod schedule;
mod validate;
mod wait;

use std::time::Duration;

use super::{Metric, MetricValue, Timestamp};

/// `s` seconds after the epoch.
fn at(s: u64) -> Timestamp {
    Timestamp::from_millis(s * 1000)
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// A metric with Argo's defaults (no interval, no count: measured once, no conditions).
fn metric(name: &str) -> Metric {
    Metric {
        name: name.to_string(),
        ..Metric::default()
    }
}

/// A measured value written as JSON.
fn json(text: &str) -> MetricValue {
    serde_json::from_str::<serde_json::Value>(text)
        .expect("test JSON")
        .into()
}
