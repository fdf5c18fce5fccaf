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

// ---------------------------------------------------------------------------------------
// Windows cut at the split change

fn demo_metric(kind: WeirMetricKind) -> WeirMetric {
    WeirMetric {
        window: Some("10s".into()),
        min_requests: Some(20),
        ..metric(kind)
    }
}

fn secs_f(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

#[test]
fn right_after_a_weight_change_a_short_sample_waits_and_says_why() {
    let t0 = Instant::now();
    let mut stats = Stats::default();
    // Before the change: the canary at 0%, the stable busy.
    stats.record("web", "web-stable", t0, 500, 0);
    stats.record("web", "web-canary", t0, 0, 0);
    let change = t0 + secs_f(0.2);
    stats.split("web", change);
    stats.record("web", "web-canary", change + secs_f(0.1), 8, 0);
    let ctx = context(stats, change + secs_f(0.5));
    assert_eq!(
        measure(&demo_metric(WeirMetricKind::SuccessRate), &ctx),
        MeasurementResult::Wait {
            reason: "waiting for data: 0.5s of a 10s window since the split changed, \
                     8 of 20 requests to web-canary"
                .to_owned(),
            retry_after: Duration::from_secs(1),
        }
    );
}

#[test]
fn once_min_requests_came_in_after_the_change_it_measures_them_alone() {
    let t0 = Instant::now();
    let mut stats = Stats::default();
    // 100 good canary requests before the change (at 10%), then it fails every request.
    stats.record("web", "web-canary", t0, 100, 0);
    let change = t0 + secs_f(1.0);
    stats.split("web", change);
    stats.record("web", "web-canary", change + secs_f(0.5), 25, 25);
    let ctx = context(stats, change + secs_f(2.0));
    // Judged on the 25 after the change only: 0.0, not 100/125.
    assert_eq!(
        float(measure(&demo_metric(WeirMetricKind::SuccessRate), &ctx)),
        0.0
    );
    // A rate is per second since the change when the change is inside the window.
    assert_eq!(
        float(measure(&demo_metric(WeirMetricKind::RequestRate), &ctx)),
        25.0 / 2.0
    );
}

#[test]
fn a_whole_window_after_the_change_too_little_traffic_is_inconclusive() {
    let t0 = Instant::now();
    let mut stats = Stats::default();
    stats.record("web", "web-canary", t0, 0, 0);
    stats.split("web", t0);
    stats.record("web", "web-canary", t0 + secs_f(1.0), 8, 0);
    // Half a second short of the window: still waiting, and asked again when it ends.
    let ctx = context(stats, t0 + secs_f(9.5));
    let MeasurementResult::Wait { retry_after, .. } =
        measure(&demo_metric(WeirMetricKind::Latency), &ctx)
    else {
        panic!("expected a wait");
    };
    assert_eq!(retry_after, secs_f(0.5));
    let mut ctx = ctx;
    ctx.now = t0 + secs_f(10.0);
    assert_eq!(
        measure(&demo_metric(WeirMetricKind::Latency), &ctx),
        MeasurementResult::Inconclusive(
            "only 8 requests to web-canary in the last 10s; minRequests is 20".to_owned()
        )
    );
    // A rate has no minimum once the window is whole. (Within a millisecond: the stats'
    // slots count from their first use, a moment after `t0`.)
    let rate = float(measure(&demo_metric(WeirMetricKind::RequestRate), &ctx));
    assert!((rate - 0.8).abs() < 1e-3, "{rate}");
}

/// Half a second before `change`: 50 canary requests, all failed, and 50 good stable ones;
/// just after it 40 canary requests (2 failed) and 10 stable ones.
fn around_a_change(change: Instant) -> Stats {
    let before = change - secs_f(0.5);
    let mut stats = Stats::default();
    stats.record("web", "web-canary", before, 50, 50);
    stats.record("web", "web-stable", before, 50, 0);
    stats.split("web", change);
    stats.record("web", "web-canary", change + secs_f(0.1), 40, 2);
    stats.record("web", "web-stable", change + secs_f(0.1), 10, 0);
    stats
}

#[test]
fn a_baseline_is_measured_over_the_same_cut_window_and_can_make_it_wait() {
    let change = Instant::now() + secs_f(1.0);
    let mut m = demo_metric(WeirMetricKind::ErrorRate);
    m.baseline = Some("stable".to_owned());
    let ctx = context(around_a_change(change), change + secs_f(1.0));
    assert_eq!(
        measure(&m, &ctx),
        MeasurementResult::Wait {
            reason: "waiting for data: 1.0s of a 10s window since the split changed, \
                     10 of 20 requests to web-stable"
                .to_owned(),
            retry_after: Duration::from_secs(1),
        }
    );
    let mut stats = around_a_change(change);
    stats.record("web", "web-stable", change + secs_f(1.5), 10, 1);
    let ctx = context(stats, change + secs_f(2.0));
    let MeasurementResult::Value(result) = measure(&m, &ctx) else {
        panic!("expected a value");
    };
    // Both sides after the change only: 2 of 40 and 1 of 20.
    assert_eq!(result.to_string(), r#"{"baseline":0.05,"value":0.05}"#);
}
