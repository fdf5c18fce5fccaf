//! The built-in `weir` provider: a backend's success rate, error rate, request rate or
//! latency quantile over a recent window, straight from the proxy's histograms.
//!
//! Argo has no equivalent, so the defaults are weir's own: a window of [`DEFAULT_WINDOW`],
//! the p99 for latency, and [`DEFAULT_MIN_REQUESTS`] requests before a ratio or a quantile
//! means anything. Below that the measurement is Inconclusive and says so: too little
//! traffic is never a pass.

use std::collections::BTreeMap;
use std::time::Duration;

use weir_config::argo::{WeirMetric, WeirMetricKind};
use weir_proxy::stats::MAX_WINDOW;

use super::window::WindowSample;
use super::ProviderContext;
use crate::analysis::{MeasurementResult, MetricValue};

/// The window when a metric names none: what the design's examples use.
pub const DEFAULT_WINDOW: Duration = Duration::from_secs(60);
/// How `window` reads in messages when a metric names none.
const DEFAULT_WINDOW_TEXT: &str = "1m";
/// The latency quantile when a metric names none.
pub const DEFAULT_QUANTILE: f64 = 0.99;
/// Requests a window needs, per backend, when a metric names no `minRequests`. At 20, one
/// failure moves the success rate by 5 points: about the coarsest a gate can be and still
/// tell 99% from 90%.
pub const DEFAULT_MIN_REQUESTS: u64 = 20;

/// Measures `metric` over the window before `ctx.now`. The result is a number, or with
/// `baseline` the object `{"value": .., "baseline": ..}` over the same window, so conditions
/// read `result >= 0.99` or `result.value <= result.baseline * 1.2`.
pub fn measure(metric: &WeirMetric, ctx: &ProviderContext) -> MeasurementResult {
    match evaluate(metric, ctx) {
        Ok(value) => MeasurementResult::Value(value),
        Err(unmeasured) => unmeasured,
    }
}

/// What one measurement asks of a sample, validated once for both backends.
struct Query<'a> {
    route: &'a str,
    kind: WeirMetricKind,
    window: Duration,
    /// The window as the user wrote it, for messages.
    window_text: &'a str,
    quantile: f64,
    min_requests: u64,
}

fn evaluate(metric: &WeirMetric, ctx: &ProviderContext) -> Result<MetricValue, MeasurementResult> {
    let error = |text: String| MeasurementResult::Error(text);
    let (window, window_text) = match &metric.window {
        None => (DEFAULT_WINDOW, DEFAULT_WINDOW_TEXT),
        Some(w) => (
            w.to_duration().map_err(|e| error(format!("window: {e}")))?,
            w.0.as_str(),
        ),
    };
    if window.is_zero() || window > MAX_WINDOW {
        return Err(error(format!(
            "window {window_text} is out of range: the proxy keeps between 1s and {}s",
            MAX_WINDOW.as_secs()
        )));
    }
    let quantile = metric.quantile.unwrap_or(DEFAULT_QUANTILE);
    if !(quantile > 0.0 && quantile <= 1.0) {
        return Err(error(format!(
            "quantile {quantile} is out of range: it must be in (0, 1], e.g. 0.99"
        )));
    }
    let query = Query {
        route: &metric.route,
        kind: metric.metric,
        window,
        window_text,
        quantile,
        min_requests: metric.min_requests.unwrap_or(DEFAULT_MIN_REQUESTS),
    };
    let value = query.one(ctx, ctx.service(&metric.backend))?;
    let Some(baseline) = &metric.baseline else {
        return Ok(MetricValue::Float(value));
    };
    let baseline = query.one(ctx, ctx.service(baseline))?;
    Ok(MetricValue::Object(BTreeMap::from([
        ("value".to_owned(), MetricValue::Float(value)),
        ("baseline".to_owned(), MetricValue::Float(baseline)),
    ])))
}

impl Query<'_> {
    /// The metric for one backend (a service name).
    fn one(&self, ctx: &ProviderContext, service: &str) -> Result<f64, MeasurementResult> {
        let sample = ctx
            .windows
            .window(self.route, service, ctx.now, self.window)
            .map_err(MeasurementResult::Error)?;
        // A rate needs no minimum: zero requests is a true zero, not a lack of data. A ratio
        // or a quantile of nothing is undefined even when minRequests is 0.
        let needs_traffic = self.kind != WeirMetricKind::RequestRate;
        if needs_traffic && sample.requests < self.min_requests.max(1) {
            return Err(MeasurementResult::Inconclusive(
                self.too_few(service, &sample),
            ));
        }
        let requests = sample.requests as f64;
        let failures = sample.failures.min(sample.requests) as f64;
        Ok(match self.kind {
            // Over the window as written; the proxy rounds windows up to whole 5s slots, so
            // this can overstate by up to one slot's traffic.
            WeirMetricKind::RequestRate => requests / self.window.as_secs_f64(),
            WeirMetricKind::SuccessRate => (requests - failures) / requests,
            WeirMetricKind::ErrorRate => failures / requests,
            WeirMetricKind::Latency => {
                sample.latency.value_at_quantile(self.quantile) as f64 / 1_000_000.0
            }
        })
    }

    fn too_few(&self, service: &str, sample: &WindowSample) -> String {
        if sample.requests == 0 {
            return format!(
                "no requests to {service} in the last {}; minRequests is {}",
                self.window_text, self.min_requests
            );
        }
        format!(
            "only {} requests to {service} in the last {}; minRequests is {}",
            sample.requests, self.window_text, self.min_requests
        )
    }
}
