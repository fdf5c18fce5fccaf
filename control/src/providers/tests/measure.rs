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
    let MeasurementResult::Error(none) = run(&MetricProvider::default()) else {
        panic!("no provider must be an error");
    };
    assert!(none.starts_with("the metric has no provider ("), "{none}");
    assert!(none.contains("provider.plugin.weir.dev/weir"), "{none}");
}

/// Argo's own CRDs prune `provider.weir`, but keep `plugin` entries: weir reads its
/// provider from `plugin: {weir.dev/weir: ...}` as well.
#[test]
fn the_weir_provider_also_reads_as_a_plugin() {
    let plugin = |config: serde_json::Value| MetricProvider {
        plugin: [(weir_config::argo::WEIR_PLUGIN.to_owned(), config)].into(),
        ..MetricProvider::default()
    };
    let good = plugin(json!({"route": "web", "backend": "canary", "metric": "success-rate"}));
    assert_eq!(
        run(&good),
        MeasurementResult::Value(MetricValue::Float(1.0))
    );
    let MeasurementResult::Error(bad) = run(&plugin(json!({"route": "web", "metric": "p99"})))
    else {
        panic!("a malformed plugin entry must be an error");
    };
    assert!(bad.starts_with("plugin weir.dev/weir: "), "{bad}");
}
