//! Dispatch: one provider per metric, unsupported ones named.

use std::time::Instant;

use serde_json::json;
use weir_config::argo::{MetricProvider, WeirMetric, WeirMetricKind};

use super::{context, Stats};
use crate::analysis::{MeasurementResult, MetricValue};
use crate::providers::measure;

fn run(provider: &MetricProvider) -> MeasurementResult {
    let now = Instant::now();
    let mut stats = Stats::default();
    stats.record("web", "web-canary", now, 40, 0);
    let ctx = context(stats, now);
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(measure(provider, &ctx))
}

#[test]
fn the_weir_provider_is_dispatched() {
    let provider = MetricProvider {
        weir: Some(WeirMetric {
            route: "web".to_owned(),
            backend: "canary".to_owned(),
            metric: WeirMetricKind::SuccessRate,
            quantile: None,
            window: None,
            min_requests: None,
            baseline: None,
        }),
        ..MetricProvider::default()
    };
    assert_eq!(
        run(&provider),
        MeasurementResult::Value(MetricValue::Float(1.0))
    );
}

#[test]
fn unsupported_and_missing_providers_are_errors() {
    let datadog = MetricProvider {
        datadog: Some(json!({"query": "avg:x"})),
        ..MetricProvider::default()
    };
    assert_eq!(
        run(&datadog),
        MeasurementResult::Error(
            "provider datadog is not supported by weir; use weir, prometheus or web".to_owned()
        )
    );
    assert_eq!(
        run(&MetricProvider::default()),
        MeasurementResult::Error("the metric has no provider".to_owned())
    );
}
