//! The built-in provider over known records.

use std::time::{Duration, Instant};

use weir_config::argo::{WeirMetric, WeirMetricKind};

use super::{context, Stats};
use crate::analysis::condition::evaluate_condition;
use crate::analysis::{MeasurementResult, MetricValue};
use crate::providers::weir::measure;

fn metric(kind: WeirMetricKind) -> WeirMetric {
    WeirMetric {
        route: "web".to_owned(),
        backend: "canary".to_owned(),
        metric: kind,
        quantile: None,
        window: None,
        min_requests: None,
        baseline: None,
    }
}

fn float(result: MeasurementResult) -> f64 {
    match result {
        MeasurementResult::Value(MetricValue::Float(f)) => f,
        other => panic!("expected a number, got {other:?}"),
    }
}

/// 200 canary requests, 10 failed; 100 stable requests, 1 failed; all at `now`.
fn traffic(now: Instant) -> Stats {
    let mut stats = Stats::default();
    stats.record("web", "web-canary", now, 200, 10);
    stats.record("web", "web-stable", now, 100, 1);
    stats
}

#[test]
fn success_and_error_rates_are_exact() {
    let now = Instant::now();
    let ctx = context(traffic(now), now);
    let success = float(measure(&metric(WeirMetricKind::SuccessRate), &ctx));
    assert_eq!(success, 190.0 / 200.0);
    let error = float(measure(&metric(WeirMetricKind::ErrorRate), &ctx));
    assert_eq!(error, 10.0 / 200.0);
}

#[test]
fn request_rate_is_requests_per_second_of_the_window() {
    let now = Instant::now();
    let ctx = context(traffic(now), now);
    let mut m = metric(WeirMetricKind::RequestRate);
    m.window = Some("20s".into());
    assert_eq!(float(measure(&m, &ctx)), 200.0 / 20.0);
    // The default window is a minute.
    m.window = None;
    assert_eq!(float(measure(&m, &ctx)), 200.0 / 60.0);
}

#[test]
fn request_rate_of_no_traffic_is_zero_not_inconclusive() {
    let now = Instant::now();
    let mut stats = Stats::default();
    stats.record("web", "web-canary", now, 0, 0);
    let ctx = context(stats, now);
    assert_eq!(
        float(measure(&metric(WeirMetricKind::RequestRate), &ctx)),
        0.0
    );
}

#[test]
fn latency_is_the_quantile_in_seconds_within_hdr_precision() {
    let now = Instant::now();
    let ctx = context(traffic(now), now);
    // Latencies are 1..=200 ms: the p99 is 198 ms, the median 100 ms.
    let p99 = float(measure(&metric(WeirMetricKind::Latency), &ctx));
    assert!((p99 - 0.198).abs() <= 0.198 * 0.01, "p99 {p99}");
    let mut m = metric(WeirMetricKind::Latency);
    m.quantile = Some(0.5);
    let p50 = float(measure(&m, &ctx));
    assert!((p50 - 0.100).abs() <= 0.100 * 0.01, "p50 {p50}");
}

#[test]
fn too_few_requests_is_inconclusive_and_says_why() {
    let now = Instant::now();
    let mut stats = Stats::default();
    stats.record("web", "web-canary", now, 3, 0);
    let ctx = context(stats, now);
    assert_eq!(
        measure(&metric(WeirMetricKind::SuccessRate), &ctx),
        MeasurementResult::Inconclusive(
            "only 3 requests to web-canary in the last 1m; minRequests is 20".to_owned()
        )
    );
    let mut m = metric(WeirMetricKind::Latency);
    m.window = Some("30s".into());
    m.min_requests = Some(3);
    assert!(matches!(measure(&m, &ctx), MeasurementResult::Value(_)));
}

#[test]
fn no_requests_is_inconclusive_even_with_min_requests_zero() {
    let now = Instant::now();
    let mut stats = Stats::default();
    stats.record("web", "web-canary", now, 0, 0);
    let ctx = context(stats, now);
    let mut m = metric(WeirMetricKind::ErrorRate);
    m.min_requests = Some(0);
    assert_eq!(
        measure(&m, &ctx),
        MeasurementResult::Inconclusive(
            "no requests to web-canary in the last 1m; minRequests is 0".to_owned()
        )
    );
}

#[test]
fn old_traffic_falls_out_of_the_window() {
    let then = Instant::now();
    let now = then + Duration::from_secs(300);
    let ctx = context(traffic(then), now);
    assert!(matches!(
        measure(&metric(WeirMetricKind::SuccessRate), &ctx),
        MeasurementResult::Inconclusive(_)
    ));
    let mut m = metric(WeirMetricKind::SuccessRate);
    m.window = Some("10m".into());
    assert_eq!(float(measure(&m, &ctx)), 0.95);
}

#[test]
fn baseline_gives_value_and_baseline_over_the_same_window() {
    let now = Instant::now();
    let ctx = context(traffic(now), now);
    let mut m = metric(WeirMetricKind::ErrorRate);
    m.baseline = Some("stable".to_owned());
    let MeasurementResult::Value(result) = measure(&m, &ctx) else {
        panic!("expected a value");
    };
    assert_eq!(result.to_string(), r#"{"baseline":0.01,"value":0.05}"#);
    assert!(evaluate_condition("result.value > result.baseline * 1.2", &result).unwrap());
    assert!(evaluate_condition("result.value <= 0.05", &result).unwrap());
}

#[test]
fn baseline_may_name_a_service_and_needs_min_requests_too() {
    let now = Instant::now();
    let mut stats = traffic(now);
    stats.record("web", "web-old", now, 5, 0);
    let ctx = context(stats, now);
    let mut m = metric(WeirMetricKind::SuccessRate);
    m.baseline = Some("web-old".to_owned());
    assert_eq!(
        measure(&m, &ctx),
        MeasurementResult::Inconclusive(
            "only 5 requests to web-old in the last 1m; minRequests is 20".to_owned()
        )
    );
}

#[test]
fn results_are_numbers_conditions_can_compare() {
    let now = Instant::now();
    let ctx = context(traffic(now), now);
    let MeasurementResult::Value(result) = measure(&metric(WeirMetricKind::SuccessRate), &ctx)
    else {
        panic!("expected a value");
    };
    assert!(evaluate_condition("result >= 0.95", &result).unwrap());
    assert!(!evaluate_condition("result >= 0.99", &result).unwrap());
}

#[test]
fn unknown_backends_and_bad_settings_are_errors() {
    let now = Instant::now();
    let ctx = context(traffic(now), now);
    let mut m = metric(WeirMetricKind::SuccessRate);
    m.backend = "nope".to_owned();
    assert_eq!(
        measure(&m, &ctx),
        MeasurementResult::Error(r#"no backend "nope" on route "web""#.to_owned())
    );
    let mut m = metric(WeirMetricKind::Latency);
    m.quantile = Some(1.5);
    assert!(matches!(measure(&m, &ctx), MeasurementResult::Error(e) if e.contains("(0, 1]")),);
    let mut m = metric(WeirMetricKind::SuccessRate);
    m.window = Some("1h".into());
    assert!(matches!(measure(&m, &ctx), MeasurementResult::Error(e) if e.contains("window 1h")),);
    m.window = Some("soon".into());
    assert!(matches!(measure(&m, &ctx), MeasurementResult::Error(e) if e.starts_with("window: ")),);
}
