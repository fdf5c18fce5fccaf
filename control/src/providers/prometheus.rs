//! The `prometheus` provider: one instant query against Prometheus' HTTP API, answered as
//! Argo's provider answers (`metricproviders/prometheus/prometheus.go`, `processResponse`):
//! a scalar is a number; a vector is the list of its sample values, in Prometheus' order
//! (`[42]` for one series, `[]` for none, so `len(result) > 0` works); a matrix is every
//! sample of every series, flattened; a string is an error. NaN and ±Inf stay floats so
//! `isNaN(result)` can see them.
//!
//! The query is a GET without `time`, so Prometheus evaluates it at its own "now": what
//! Argo's client asks for (`time.Now()`), minus any clock skew between the two machines.
//! Argo's response warnings have nowhere to go in a [`MeasurementResult`] and are dropped.

use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use http::header::{HeaderValue, ACCEPT, AUTHORIZATION};
use http::Request;
use http_body_util::Full;
use serde_json::Value;
use weir_config::argo::PrometheusMetric;

use super::client::set_headers;
use super::ProviderContext;
use crate::analysis::{MeasurementResult, MetricValue};

/// Argo's default when a metric sets no `timeout`.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Argo reads the address from here when a metric leaves `address` empty.
pub const ADDRESS_ENV: &str = "ARGO_ROLLOUTS_PROMETHEUS_ADDRESS";

pub async fn measure(metric: &PrometheusMetric, ctx: &ProviderContext) -> MeasurementResult {
    match query(metric, ctx).await {
        Ok(value) => MeasurementResult::Value(value),
        Err(text) => MeasurementResult::Error(text),
    }
}

async fn query(metric: &PrometheusMetric, ctx: &ProviderContext) -> Result<MetricValue, String> {
    if metric.range_query.is_some() {
        return Err(
            "rangeQuery is not supported by weir yet; use a range vector \
                    (e.g. rate(x[5m])) in an instant query"
                .to_owned(),
        );
    }
    let timeout = match metric.timeout {
        None => DEFAULT_TIMEOUT,
        Some(s) if s > 0 => Duration::from_secs(s.unsigned_abs()),
        Some(s) => {
            return Err(format!(
                "prometheus timeout must be positive seconds, not {s}"
            ))
        }
    };
    let url = query_url(metric)?;
    let mut request = Request::get(url.as_str())
        .header(ACCEPT, "application/json")
        .body(Full::new(Bytes::new()))
        .map_err(|e| format!("prometheus request to {url}: {e}"))?;
    let headers = request.headers_mut();
    if let Some(auth) = basic_auth(metric)? {
        headers.insert(AUTHORIZATION, auth);
    }
    // Set, not appended, as Argo's header round-tripper does: a metric's header wins.
    set_headers(headers, &metric.headers)?;
    let answer = ctx
        .http
        .send(request, metric.insecure, timeout)
        .await
        .map_err(|e| format!("prometheus query {url}: {e}"))?;
    let body: Value = match serde_json::from_slice(&answer.body) {
        Ok(body) => body,
        Err(_) => {
            return Err(format!(
                "prometheus answered {} with a body that is not its API's JSON: {}",
                answer.status,
                super::excerpt(&answer.body)
            ))
        }
    };
    // Prometheus answers errors as JSON on 400, 422 and 503 alike; its text is the message,
    // as client_golang gives it to Argo (`errorType: error`).
    if body["status"] != "success" {
        let kind = body["errorType"].as_str().unwrap_or("error");
        let text = body["error"].as_str().unwrap_or("no error text");
        return Err(format!("{kind}: {text}"));
    }
    if !answer.status.is_success() {
        return Err(format!("prometheus answered {}", answer.status));
    }
    result_value(&body["data"])
}

/// `{address}/api/v1/query?query=...`, keeping any path prefix of the address (a
/// Prometheus behind `--web.route-prefix` or a gateway), as client_golang does.
fn query_url(metric: &PrometheusMetric) -> Result<url::Url, String> {
    let address = if metric.address.is_empty() {
        std::env::var(ADDRESS_ENV).map_err(|_| {
            format!("prometheus address is not configured: set address or {ADDRESS_ENV}")
        })?
    } else {
        metric.address.clone()
    };
    let mut url = url::Url::parse(&address)
        .map_err(|e| format!("prometheus address {address:?} is not a URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(format!(
            "prometheus address {address:?} must be an http:// or https:// URL with a host"
        ));
    }
    let path = format!("{}/api/v1/query", url.path().trim_end_matches('/'));
    url.set_path(&path);
    url.query_pairs_mut().append_pair("query", &metric.query);
    Ok(url)
}

/// `authentication.basicAuth`; the other kinds (sigv4, oauth2) need cloud accounts and are
/// refused by name rather than ignored.
fn basic_auth(metric: &PrometheusMetric) -> Result<Option<HeaderValue>, String> {
    let Some(Value::Object(auth)) = &metric.authentication else {
        return Ok(None);
    };
    let mut header = None;
    for (kind, config) in auth {
        let empty = match config {
            Value::Null => true,
            Value::Object(fields) => fields.values().all(|v| v.is_null() || v == ""),
            _ => false,
        };
        match kind.as_str() {
            _ if empty => {}
            "basicAuth" => {
                let username = config["username"].as_str().unwrap_or_default();
                let password = config["password"].as_str().unwrap_or_default();
                if username.is_empty() || password.is_empty() {
                    return Err("basicAuth needs both username and password".to_owned());
                }
                let token = base64::engine::general_purpose::STANDARD
                    .encode(format!("{username}:{password}"));
                let value = HeaderValue::from_str(&format!("Basic {token}"))
                    .map_err(|e| format!("basicAuth: {e}"))?;
                header = Some(value);
            }
            other => {
                return Err(format!(
                    "prometheus authentication.{other} is not supported by weir; basicAuth is"
                ))
            }
        }
    }
    Ok(header)
}

/// Argo's `processResponse` over the API's `data` object.
fn result_value(data: &Value) -> Result<MetricValue, String> {
    let result = &data["result"];
    match data["resultType"].as_str().unwrap_or_default() {
        "scalar" => Ok(MetricValue::Float(sample_value(result)?)),
        "vector" => {
            let samples = series(result)?;
            let values = samples
                .iter()
                .map(|s| match s.get("value") {
                    Some(v) => sample_value(v),
                    None => Err(NATIVE_HISTOGRAM.to_owned()),
                })
                .collect::<Result<Vec<f64>, String>>()?;
            Ok(values.into())
        }
        "matrix" => {
            let mut values = Vec::new();
            for s in series(result)? {
                let Some(points) = s.get("values").and_then(Value::as_array) else {
                    return Err(NATIVE_HISTOGRAM.to_owned());
                };
                for p in points {
                    values.push(sample_value(p)?);
                }
            }
            Ok(values.into())
        }
        other => Err(format!(
            "Prometheus metric type not supported: {}",
            if other.is_empty() { "(none)" } else { other }
        )),
    }
}

const NATIVE_HISTOGRAM: &str =
    "Prometheus answered native histogram samples, which have no single value; \
     query a quantile or a count instead";

fn series(result: &Value) -> Result<&Vec<Value>, String> {
    result
        .as_array()
        .ok_or_else(|| format!("malformed Prometheus result: {result}"))
}

/// `[<unix time>, "<value>"]`; the value is Go's float text (`1`, `0.5`, `NaN`, `+Inf`).
fn sample_value(point: &Value) -> Result<f64, String> {
    let text = point[1]
        .as_str()
        .ok_or_else(|| format!("malformed Prometheus sample: {point}"))?;
    text.parse::<f64>()
        .map_err(|_| format!("malformed Prometheus sample value {text:?}"))
}
