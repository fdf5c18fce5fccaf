//! The `web` provider: one HTTP request whose JSON answer is the measurement, with Argo's
//! rules (`metricproviders/webmetric/webmetric.go`): GET by default; `body` or `jsonBody`
//! (not both, and not with GET); `jsonBody` sets `Content-Type: application/json`; a non-2xx
//! answer is an Error; an answer that is not JSON is its text; `jsonPath` picks the first
//! match, and without one the whole JSON body is the result.
//!
//! Argo evaluates `jsonPath` with Kubernetes' JSONPath templates (`{$.data.ok}`). weir
//! strips the braces and evaluates the path with `serde_json_path`, an implementation of
//! the JSONPath standard (RFC 9535) over `serde_json` values: the same dotted, indexed and
//! wildcard paths Argo's templates use in practice, a maintained crate and no hand-written
//! parser. Kubernetes-only template forms (`{range}`, several `{}` in one template) are
//! refused with a parse error naming the path.

use std::time::Duration;

use bytes::Bytes;
use http::header::{HeaderValue, CONTENT_TYPE};
use http::{Method, Request};
use http_body_util::Full;
use serde_json::Value;
use serde_json_path::JsonPath;
use weir_config::argo::WebMetric;

use super::client::set_headers;
use super::ProviderContext;
use crate::analysis::{MeasurementResult, MetricValue};

/// Argo's default when a metric sets no positive `timeoutSeconds`.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

pub async fn measure(metric: &WebMetric, ctx: &ProviderContext) -> MeasurementResult {
    match call(metric, ctx).await {
        Ok(value) => MeasurementResult::Value(value),
        Err(text) => MeasurementResult::Error(text),
    }
}

async fn call(metric: &WebMetric, ctx: &ProviderContext) -> Result<MetricValue, String> {
    if metric.authentication.as_ref().is_some_and(has_settings) {
        return Err("web authentication (oauth2) is not supported by weir yet; \
                    pass a token in headers instead"
            .to_owned());
    }
    // Parsed before the request, so a bad path costs no call.
    let path = json_path(metric.json_path.as_deref())?;
    let method = match metric.method.as_deref().unwrap_or("GET") {
        "" | "GET" => Method::GET,
        "POST" => Method::POST,
        "PUT" => Method::PUT,
        other => return Err(format!("method {other:?} is not one of GET, POST, PUT")),
    };
    let text_body = metric.body.as_deref().filter(|b| !b.is_empty());
    let body = match (text_body, &metric.json_body) {
        (Some(_), Some(_)) => {
            return Err(
                "use either Body or JSONBody; both cannot exists for WebMetric payload".to_owned(),
            )
        }
        (Some(_), _) | (_, Some(_)) if method == Method::GET => {
            return Err(
                "Body/JSONBody can only be used with POST or PUT WebMetric Method types".to_owned(),
            )
        }
        (Some(text), None) => Bytes::from(text.to_owned()),
        (None, Some(json)) => Bytes::from(json.to_string()),
        (None, None) => Bytes::new(),
    };
    let mut request = Request::builder()
        .method(method)
        .uri(&metric.url)
        .body(Full::new(body))
        .map_err(|e| format!("web metric url {:?}: {e}", metric.url))?;
    let headers = request.headers_mut();
    set_headers(headers, &metric.headers)?;
    if metric.json_body.is_some() {
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    }
    let timeout = match metric.timeout_seconds {
        Some(s) if s > 0 => Duration::from_secs(s.unsigned_abs()),
        _ => DEFAULT_TIMEOUT,
    };
    let answer = ctx
        .http
        .send(request, metric.insecure, timeout)
        .await
        .map_err(|e| format!("web metric {}: {e}", metric.url))?;
    if !answer.status.is_success() {
        return Err(format!(
            "received non 2xx response code: {}: {}",
            answer.status.as_u16(),
            super::excerpt(&answer.body)
        ));
    }
    let Ok(json) = serde_json::from_slice::<Value>(&answer.body) else {
        return Ok(MetricValue::String(
            String::from_utf8_lossy(&answer.body).into_owned(),
        ));
    };
    let Some((path, written)) = path else {
        return Ok(json.into());
    };
    match path.query(&json).first() {
        Some(found) => Ok(found.clone().into()),
        None => Err(format!(
            "Could not find JSONPath in body: {written} matched nothing in {}",
            super::excerpt(&answer.body)
        )),
    }
}

/// Argo's `{$.data.ok}` (or Kubernetes' `{.data.ok}`) as an RFC 9535 path, with the text
/// the user wrote for messages. `None` (no path, or `{$}`) means the whole body.
pub(super) fn json_path(written: Option<&str>) -> Result<Option<(JsonPath, &str)>, String> {
    let Some(written) = written.map(str::trim).filter(|p| !p.is_empty()) else {
        return Ok(None);
    };
    let inner = written
        .strip_prefix('{')
        .and_then(|p| p.strip_suffix('}'))
        .unwrap_or(written)
        .trim();
    let rooted = match inner {
        "" | "$" => return Ok(None),
        _ if inner.starts_with('$') => inner.to_owned(),
        _ => format!("${inner}"),
    };
    let path = JsonPath::parse(&rooted)
        .map_err(|e| format!("jsonPath {written:?} is not a JSONPath: {e}"))?;
    Ok(Some((path, written)))
}

/// Whether an `authentication` block asks for anything (Argo ignores empty ones).
fn has_settings(auth: &Value) -> bool {
    match auth {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Object(fields) => fields.values().any(has_settings),
        Value::Array(items) => items.iter().any(has_settings),
        _ => true,
    }
}
