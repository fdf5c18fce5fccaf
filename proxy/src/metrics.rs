//! `/metrics`: the proxy's measurements through the Prometheus project's client library
//! (`prometheus-client`). The proxy's families are a [`Collector`] that reads the live
//! statistics when scraped: histogram buckets are derived from the HDR histograms then,
//! so nothing is recorded twice and the request path is unchanged. Labels are bounded:
//! route and backend names from the configuration, status codes, and closed sets of error
//! reasons and mirror outcomes.
//!
//! The text format (0.0.4) is served unless the scraper asks for OpenMetrics in its
//! `Accept` header, as Prometheus does ([`Format::negotiate`]).

use crate::state::Proxy;
use crate::stats::{ErrorKind, MirrorOutcome};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;
use std::fmt;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// Bucket bounds in seconds, Prometheus' defaults extended down to 0.5 ms.
pub const BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The two exposition formats `/metrics` serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Prometheus' text format, version 0.0.4: the default.
    Text,
    /// OpenMetrics 1.0 text.
    OpenMetrics,
}

impl Format {
    /// The format an `Accept` header prefers: OpenMetrics when it is offered with a
    /// quality above zero and at least that of the text format (or of `*/*` when the text
    /// format is not named), as Prometheus' own scrape header offers it; text otherwise.
    pub fn negotiate(accept: Option<&str>) -> Format {
        let Some(accept) = accept else {
            return Format::Text;
        };
        let (mut open, mut text, mut any) = (None::<f32>, None::<f32>, None::<f32>);
        for item in accept.split(',') {
            let mut parts = item.split(';').map(str::trim);
            let media = parts.next().unwrap_or_default().to_ascii_lowercase();
            let q = parts
                .filter_map(|p| p.strip_prefix("q="))
                .find_map(|q| q.parse::<f32>().ok())
                .unwrap_or(1.0);
            let slot = match media.as_str() {
                "application/openmetrics-text" => &mut open,
                "text/plain" => &mut text,
                "*/*" => &mut any,
                _ => continue,
            };
            *slot = Some(slot.map_or(q, |old: f32| old.max(q)));
        }
        match open {
            Some(q) if q > 0.0 && q >= text.or(any).unwrap_or(0.0) => Format::OpenMetrics,
            _ => Format::Text,
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Text => prometheus_client::encoding::prometheus_text::CONTENT_TYPE,
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }

    /// Everything `registry` collects, in this format.
    pub fn encode(self, registry: &Registry) -> String {
        let mut out = String::with_capacity(16 * 1024);
        // Writing to a String fails only if a collector does, and ours do not.
        let written = match self {
            Format::Text => {
                prometheus_client::encoding::prometheus_text::encode(&mut out, registry)
            }
            Format::OpenMetrics => prometheus_client::encoding::text::encode(&mut out, registry),
        };
        if let Err(e) = written {
            tracing::warn!("encoding /metrics failed: {e}");
        }
        out
    }
}

/// The proxy's metric families, read from its live table and statistics at each scrape.
pub struct ProxyCollector(pub Arc<Proxy>);

impl fmt::Debug for ProxyCollector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ProxyCollector")
    }
}

/// `route`, `backend` and one more label.
type Labels3<'a> = [(&'static str, &'a str); 3];

impl Collector for ProxyCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> fmt::Result {
        let proxy = &self.0;
        let table = proxy.table();
        let lifetimes: Vec<_> = proxy
            .stats
            .all()
            .into_iter()
            .map(|((route, backend), stats)| {
                let (codes, hist, sum) = stats.lifetime();
                (route, backend, stats, codes, hist, sum)
            })
            .collect();
        let served = || lifetimes.iter().filter(|l| !l.1.is_empty());

        let mut family = encoder.encode_descriptor(
            "weir_requests",
            "Requests answered, by route, backend and status code.",
            None,
            MetricType::Counter,
        )?;
        for (route, backend, _, codes, _, _) in served() {
            for (code, n) in codes {
                let code = code.to_string();
                let labels: Labels3 = [("route", route), ("backend", backend), ("code", &code)];
                family
                    .encode_family(&labels)?
                    .encode_counter::<NoLabelSet, _, u64>(n, None)?;
            }
        }

        let mut family = encoder.encode_descriptor(
            "weir_request_duration_seconds",
            "Request received to response headers sent.",
            None,
            MetricType::Histogram,
        )?;
        for (route, backend, _, _, hist, sum) in served() {
            // Per-bucket counts (the encoder accumulates them), from the HDR histogram.
            // The last bucket is +Inf, which the OpenMetrics encoder needs to be given.
            let mut below = 0;
            let buckets: Vec<(f64, u64)> = BUCKETS
                .iter()
                .chain(&[f64::INFINITY])
                .map(|&le| {
                    let upto = if le.is_finite() {
                        hist.count_between(0, (le * 1e6) as u64)
                    } else {
                        hist.len()
                    };
                    let n = upto.saturating_sub(below);
                    below = upto;
                    (le, n)
                })
                .collect();
            let labels = [("route", route.as_str()), ("backend", backend.as_str())];
            family
                .encode_family(&labels)?
                .encode_histogram::<NoLabelSet>(*sum as f64 / 1e6, hist.len(), &buckets, None)?;
        }

        let mut family = encoder.encode_descriptor(
            "weir_backend_weight",
            "The weight of each backend in the live route table.",
            None,
            MetricType::Gauge,
        )?;
        for r in &table.routes {
            for (b, w) in r.backends.iter().zip(&r.weights) {
                let labels = [("route", &*r.name), ("backend", &*b.name)];
                family.encode_family(&labels)?.encode_gauge(w)?;
            }
        }

        let mut family = encoder.encode_descriptor(
            "weir_upstream_errors",
            "Requests the proxy answered itself, by reason.",
            None,
            MetricType::Counter,
        )?;
        for (route, backend, stats, _, _, _) in &lifetimes {
            for kind in ErrorKind::ALL {
                let n = stats.errors(kind);
                if n > 0 {
                    let labels: Labels3 = [
                        ("route", route),
                        ("backend", backend),
                        ("reason", kind.as_str()),
                    ];
                    family
                        .encode_family(&labels)?
                        .encode_counter::<NoLabelSet, _, u64>(&n, None)?;
                }
            }
        }
        let no_route = proxy.no_route.load(Ordering::Relaxed);
        let labels: Labels3 = [("route", ""), ("backend", ""), ("reason", "no_route")];
        family
            .encode_family(&labels)?
            .encode_counter::<NoLabelSet, _, u64>(&no_route, None)?;
        let refused = proxy.refused.load(Ordering::Relaxed);
        let labels: Labels3 = [("route", ""), ("backend", ""), ("reason", "bad_request")];
        family
            .encode_family(&labels)?
            .encode_counter::<NoLabelSet, _, u64>(&refused, None)?;

        let mut family = encoder.encode_descriptor(
            "weir_spilled_requests",
            "Requests moved off a backend with no live endpoint.",
            None,
            MetricType::Counter,
        )?;
        for (route, backend, stats, _, _, _) in served() {
            let labels = [("route", route.as_str()), ("backend", backend.as_str())];
            family
                .encode_family(&labels)?
                .encode_counter::<NoLabelSet, _, u64>(&stats.spilled(), None)?;
        }

        let mut family = encoder.encode_descriptor(
            "weir_mirror_requests",
            "Mirrored copies, by outcome.",
            None,
            MetricType::Counter,
        )?;
        for r in &table.routes {
            for m in &r.mirrors {
                for outcome in MirrorOutcome::ALL {
                    let labels: Labels3 = [
                        ("route", &r.name),
                        ("backend", &m.target.name),
                        ("outcome", outcome.as_str()),
                    ];
                    family
                        .encode_family(&labels)?
                        .encode_counter::<NoLabelSet, _, u64>(
                            &m.target.stats.mirrors(outcome),
                            None,
                        )?;
                }
            }
        }

        let mut family = encoder.encode_descriptor(
            "weir_config_reloads",
            "Configuration reloads, by result.",
            None,
            MetricType::Counter,
        )?;
        for (result, n) in [
            ("success", &proxy.reloads_ok),
            ("failure", &proxy.reloads_failed),
        ] {
            family
                .encode_family(&[("result", result)])?
                .encode_counter::<NoLabelSet, _, u64>(&n.load(Ordering::Relaxed), None)?;
        }

        encoder
            .encode_descriptor(
                "weir_route_table_generation",
                "Generation of the live route table.",
                None,
                MetricType::Gauge,
            )?
            .encode_gauge(&table.generation)?;

        encoder
            .encode_descriptor(
                "weir_parked_connections",
                "Idle client connections parked (no task of their own).",
                None,
                MetricType::Gauge,
            )?
            .encode_gauge(&proxy.parked_connections.load(Ordering::Relaxed))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::Format;

    #[test]
    fn the_format_follows_the_accept_header() {
        // Prometheus 2.x/3.x scrape header: OpenMetrics first.
        let prometheus = "application/openmetrics-text;version=1.0.0;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2";
        assert_eq!(Format::negotiate(Some(prometheus)), Format::OpenMetrics);
        assert_eq!(
            Format::negotiate(Some("application/openmetrics-text")),
            Format::OpenMetrics
        );
        assert_eq!(Format::negotiate(None), Format::Text);
        assert_eq!(Format::negotiate(Some("*/*")), Format::Text);
        assert_eq!(Format::negotiate(Some("text/plain")), Format::Text);
        // Text preferred, or OpenMetrics refused.
        assert_eq!(
            Format::negotiate(Some(
                "text/plain;version=0.0.4;q=0.9,application/openmetrics-text;q=0.5"
            )),
            Format::Text
        );
        assert_eq!(
            Format::negotiate(Some("application/openmetrics-text;q=0,*/*")),
            Format::Text
        );
    }
}
