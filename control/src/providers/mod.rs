//! Analysis providers: where a metric's measurements come from.
//!
//! The analysis core ([`crate::analysis`]) says *when* a metric is due and judges what was
//! measured; this module does the measuring, and is the only part of analysis with I/O. The
//! controller calls [`measure`] for each due measurement with the metric's provider (its
//! `{{args.x}}` already resolved) and a [`ProviderContext`], and hands the
//! [`MeasurementResult`] back to the run.
//!
//! - [`weir`]: the built-in provider, reading the proxy's windowed histograms through a
//!   [`WindowSource`];
//! - [`prometheus`]: an instant query against a Prometheus server;
//! - [`web`]: an HTTP request and a JSON path into its answer;
//! - [`client`]: the HTTP client the last two share (TLS choices explained there).
//!
//! Providers never panic and never fail the caller: whatever goes wrong is an Error
//! measurement whose message says what, which Argo's `consecutiveErrorLimit` then counts.

pub mod client;
pub mod prometheus;
pub mod web;
pub mod weir;
pub mod window;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use weir_config::argo::MetricProvider;

use crate::analysis::MeasurementResult;
pub use client::HttpClient;
pub use window::{WindowSample, WindowSource};

/// What a measurement needs beyond the metric itself.
#[derive(Clone)]
pub struct ProviderContext {
    /// The Rollout's roles, `canary` and `stable`, to its service names, so a metric can say
    /// `backend: canary` whatever the services are called. Names not in here are services.
    pub roles: BTreeMap<String, String>,
    /// The built-in provider's traffic figures (the in-process proxy, standalone).
    pub windows: Arc<dyn WindowSource>,
    /// Shared by the prometheus and web providers, so connections are pooled across
    /// measurements.
    pub http: HttpClient,
    /// When the measurement is taken: the end of the built-in provider's window.
    pub now: Instant,
}

impl ProviderContext {
    /// The service a metric's `backend` or `baseline` names: a role's service, or the name
    /// itself.
    pub fn service<'a>(&'a self, name: &'a str) -> &'a str {
        self.roles.get(name).map_or(name, String::as_str)
    }
}

/// Takes one measurement with the metric's provider. Exactly one provider must be set;
/// the ones weir does not implement (datadog, newRelic, job, ...) are an Error measurement
/// that names them.
pub async fn measure(provider: &MetricProvider, ctx: &ProviderContext) -> MeasurementResult {
    let names = provider.names();
    if names.len() != 1 {
        return MeasurementResult::Error(match names.len() {
            // On a cluster with Argo's own CRDs the API server drops `provider.weir`.
            0 => format!(
                "the metric has no provider (on a cluster with Argo's own CRDs the API server drops provider.weir: install weir's CRDs, `weir crds`, or write it as provider.plugin.{})",
                weir_config::argo::WEIR_PLUGIN
            ),
            _ => format!(
                "the metric has {} providers ({}); it needs exactly one",
                names.len(),
                names.join(", ")
            ),
        });
    }
    match provider.weir_metric() {
        Ok(Some(m)) => return weir::measure(&m, ctx),
        Err(e) => return MeasurementResult::Error(e),
        Ok(None) => {}
    }
    if let Some(m) = &provider.prometheus {
        prometheus::measure(m, ctx).await
    } else if let Some(m) = &provider.web {
        web::measure(m, ctx).await
    } else {
        MeasurementResult::Error(format!(
            "provider {} is not supported by weir; use weir, prometheus or web",
            names[0]
        ))
    }
}

/// The start of an HTTP body for an error message: one line, at most 200 characters.
fn excerpt(body: &[u8]) -> String {
    const MAX: usize = 200;
    let text = String::from_utf8_lossy(body);
    let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if line.is_empty() {
        return "(empty body)".to_owned();
    }
    match line.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}...", &line[..cut]),
        None => line,
    }
}
