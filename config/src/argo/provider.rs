//! Where a metric's measurements come from. weir implements its own `weir` provider (the
//! proxy's histograms), `prometheus` and `web`; the others are kept verbatim so templates
//! written for them load, and are reported as unsupported when run.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::common::is_false;
use super::duration::DurationString;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MetricProvider {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weir: Option<WeirMetric>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prometheus: Option<PrometheusMetric>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub web: Option<WebMetric>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kayenta: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub datadog: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wavefront: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_relic: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloud_watch: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub graphite: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub influxdb: Option<Value>,
    #[serde(
        default,
        rename = "skywalking",
        skip_serializing_if = "Option::is_none"
    )]
    pub sky_walking: Option<Value>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub plugin: BTreeMap<String, Value>,
}

/// The plugin name under which weir's provider may also be written,
/// `provider: {plugin: {weir.dev/weir: {route: ..., ...}}}`: Argo's own CRDs keep a
/// metric's `plugin` map as free-form fields but prune an unknown `provider.weir`, so this
/// form survives a cluster that has Argo's CRDs installed rather than weir's.
pub const WEIR_PLUGIN: &str = "weir.dev/weir";

impl MetricProvider {
    /// weir's provider, written as `weir:` or as the `weir.dev/weir` plugin; an error
    /// says what is wrong with a plugin entry that does not read as one.
    pub fn weir_metric(&self) -> Result<Option<WeirMetric>, String> {
        if let Some(w) = &self.weir {
            return Ok(Some(w.clone()));
        }
        match self.plugin.get(WEIR_PLUGIN) {
            None => Ok(None),
            Some(v) => serde_json::from_value(v.clone())
                .map(Some)
                .map_err(|e| format!("plugin {WEIR_PLUGIN}: {e}")),
        }
    }

    /// The names of the providers set, in field order; a metric needs exactly one.
    pub fn names(&self) -> Vec<String> {
        let mut names = Vec::new();
        let typed = [
            ("weir", self.weir.is_some()),
            ("prometheus", self.prometheus.is_some()),
            ("web", self.web.is_some()),
            ("kayenta", self.kayenta.is_some()),
            ("datadog", self.datadog.is_some()),
            ("wavefront", self.wavefront.is_some()),
            ("newRelic", self.new_relic.is_some()),
            ("job", self.job.is_some()),
            ("cloudWatch", self.cloud_watch.is_some()),
            ("graphite", self.graphite.is_some()),
            ("influxdb", self.influxdb.is_some()),
            ("skywalking", self.sky_walking.is_some()),
        ];
        for (name, set) in typed {
            if set {
                names.push(name.to_owned());
            }
        }
        names.extend(self.plugin.keys().map(|k| format!("plugin.{k}")));
        names
    }
}

/// weir's built-in provider: reads the proxy's own per-(route, backend) histograms.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WeirMetric {
    pub route: String,
    /// A role of the Rollout (`canary`, `stable`) or a service name.
    pub backend: String,
    pub metric: WeirMetricKind,
    /// Latency only: which quantile, in (0, 1].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantile: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<DurationString>,
    /// Fewer requests than this in the window gives an Inconclusive measurement.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_requests: Option<u64>,
    /// When set the result becomes `{value, baseline}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WeirMetricKind {
    SuccessRate,
    ErrorRate,
    RequestRate,
    Latency,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PrometheusMetric {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub address: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub query: String,
    /// Authentication to the Prometheus server (basicAuth, sigv4, oauth2); kept verbatim.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authentication: Option<Value>,
    /// Seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<i64>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub insecure: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<Header>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub range_query: Option<PrometheusRangeQuery>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PrometheusRangeQuery {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub start: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub end: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<DurationString>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Header {
    pub key: String,
    pub value: String,
}

/// An HTTP request whose JSON answer is the measurement.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WebMetric {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    pub url: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<Header>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<i64>,
    #[serde(default, rename = "jsonPath", skip_serializing_if = "Option::is_none")]
    pub json_path: Option<String>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub insecure: bool,
    #[serde(default, rename = "jsonBody", skip_serializing_if = "Option::is_none")]
    pub json_body: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authentication: Option<Value>,
}
