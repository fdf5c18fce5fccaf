//! The built-in `weir` provider: a backend's success rate, error rate, request rate or
//! latency quantile over a recent window, straight from the proxy's histograms.
//!
//! Argo has no equivalent, so the defaults are weir's own: a window of [`DEFAULT_WINDOW`],
//! the p99 for latency, and [`DEFAULT_MIN_REQUESTS`] requests before a ratio or a quantile
//! means anything. Below that the measurement is Inconclusive and says so: too little
//! traffic is never a pass.
//!
//! A verdict is about the current split only. The window never reaches back before the
//! route's split (backends, weights, endpoints) last changed, so an analysis started just
//! after `setWeight: 20` is not judged on traffic from the 0% before it. Until a whole
//! window has passed since that change, a sample short of `minRequests` is not a
//! measurement: the metric waits ([`MeasurementResult::Wait`]) and is asked again shortly.
//! Only a whole window after the change with too few requests is Inconclusive.

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
    let value = query.sample(ctx, ctx.service(&metric.backend))?;
    let baseline = match &metric.baseline {
        Some(b) => Some(query.sample(ctx, ctx.service(b))?),
        None => None,
    };
    query.ready(std::iter::once(&value).chain(baseline.as_ref()))?;
    let value = query.value(&value.sample);
    let Some(baseline) = baseline else {
        return Ok(MetricValue::Float(value));
    };
    Ok(MetricValue::Object(BTreeMap::from([
        ("value".to_owned(), MetricValue::Float(value)),
        (
            "baseline".to_owned(),
            MetricValue::Float(query.value(&baseline.sample)),
        ),
    ])))
}

/// How often a metric waiting for data is asked again.
const RECHECK: Duration = Duration::from_secs(1);

/// One backend's sample and the service it is of.
struct Side<'a> {
    service: &'a str,
    sample: WindowSample,
}

impl Query<'_> {
    /// The sample of one backend (a service name).
    fn sample<'s>(
        &self,
        ctx: &ProviderContext,
        service: &'s str,
    ) -> Result<Side<'s>, MeasurementResult> {
        let sample = ctx
            .windows
            .window(self.route, service, ctx.now, self.window)
            .map_err(MeasurementResult::Error)?;
        Ok(Side { service, sample })
    }

    /// Requests a side needs. A rate needs none once a whole window has passed (zero
    /// requests is a true zero), but waits for `minRequests` before that like the rest. A
    /// ratio or a quantile of nothing is undefined even when minRequests is 0.
    fn needed(&self) -> u64 {
        match self.kind {
            WeirMetricKind::RequestRate => self.min_requests,
            _ => self.min_requests.max(1),
        }
    }

    /// Whether the sides can be measured: `Wait` while the split is younger than the
    /// window and a side is short of requests; Inconclusive when a whole window has
    /// passed and a side is still short.
    fn ready<'a>(
        &self,
        sides: impl Iterator<Item = &'a Side<'a>>,
    ) -> Result<(), MeasurementResult> {
        let sides: Vec<&Side> = sides.collect();
        let needed = self.needed();
        let short: Vec<&&Side> = sides
            .iter()
            .filter(|s| s.sample.requests < needed)
            .collect();
        let Some(first) = short.first() else {
            return Ok(());
        };
        let since = first.sample.since_split;
        if since < self.window {
            let counts: Vec<String> = short
                .iter()
                .map(|s| {
                    format!(
                        "{} of {needed} requests to {}",
                        s.sample.requests, s.service
                    )
                })
                .collect();
            return Err(MeasurementResult::Wait {
                reason: format!(
                    "waiting for data: {:.1}s of a {} window since the split changed, {}",
                    since.as_secs_f64(),
                    self.window_text,
                    counts.join(", ")
                ),
                retry_after: RECHECK.min(self.window - since),
            });
        }
        if self.kind == WeirMetricKind::RequestRate {
            return Ok(());
        }
        Err(MeasurementResult::Inconclusive(self.too_few(first)))
    }

    /// The metric's value over a sample that is ready.
    fn value(&self, sample: &WindowSample) -> f64 {
        let requests = sample.requests as f64;
        let failures = sample.failures.min(sample.requests) as f64;
        match self.kind {
            // Per second of the time the sample covers: the window as the proxy's slots
            // hold it, or less when the split changed inside it.
            WeirMetricKind::RequestRate => requests / sample.covered.as_secs_f64().max(1e-3),
            WeirMetricKind::SuccessRate => (requests - failures) / requests,
            WeirMetricKind::ErrorRate => failures / requests,
            WeirMetricKind::Latency => {
                sample.latency.value_at_quantile(self.quantile) as f64 / 1_000_000.0
            }
        }
    }

    fn too_few(&self, side: &Side) -> String {
        let service = side.service;
        if side.sample.requests == 0 {
            return format!(
                "no requests to {service} in the last {}; minRequests is {}",
                self.window_text, self.min_requests
            );
        }
        format!(
            "only {} requests to {service} in the last {}; minRequests is {}",
            side.sample.requests, self.window_text, self.min_requests
        )
    }
}
