//! The admin API: metrics, health, the live route table, weight changes and windowed
//! statistics. Mutating calls need the bearer token when one is configured (and one must
//! be whenever the admin listener is beyond loopback; the config refuses otherwise).
//!
//! Other parts of weir (the standalone controller) add their own endpoints through
//! [`AdminExtension`].

use crate::state::{Proxy, WeightsError};
use crate::stats::MAX_WINDOW;
use bytes::Bytes;
use futures_util::future::BoxFuture;
use http::{header, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use serde_json::json;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub type AdminResponse = Response<Full<Bytes>>;

/// A request as extensions see it: already read, already authorized or not.
pub struct AdminRequest {
    pub method: Method,
    pub path: String,
    pub query: HashMap<String, String>,
    pub body: Bytes,
    pub headers: http::HeaderMap,
    /// Whether the caller presented the token (or none is configured).
    pub authorized: bool,
}

/// Extra endpoints served on the admin listener.
pub trait AdminExtension: Send + Sync {
    /// `None` when the path is not this extension's.
    fn handle<'a>(&'a self, req: &'a AdminRequest) -> BoxFuture<'a, Option<AdminResponse>>;
    /// Adds this extension's metric families to those `/metrics` serves.
    fn register_metrics(&self, _registry: &mut prometheus_client::registry::Registry) {}
}

/// Everything the admin handlers need.
pub struct Admin {
    pub proxy: Arc<Proxy>,
    pub token: Option<String>,
    /// False while starting and once shutdown begins: `/readyz` answers 503.
    pub ready: AtomicBool,
    pub extensions: parking_lot::RwLock<Vec<Arc<dyn AdminExtension>>>,
    /// Limits "weights changed" log lines to one a second.
    pub weights_log: LogThrottle,
}

/// At most one log line per second for an event that can come a thousand times a second
/// (weight changes driven by a script): the line that is written says how many were left
/// out before it. The live state is always in `/routes` and `weir_route_table_generation`.
#[derive(Default)]
pub struct LogThrottle(parking_lot::Mutex<(Option<std::time::Instant>, u64)>);

impl LogThrottle {
    /// `Some(n)` when a line should be written now, `n` being the events left out since
    /// the last line; `None` when this event is to be left out.
    pub fn admit(&self) -> Option<u64> {
        let mut g = self.0.lock();
        let now = std::time::Instant::now();
        match g.0 {
            Some(last) if now.duration_since(last) < std::time::Duration::from_secs(1) => {
                g.1 += 1;
                None
            }
            _ => {
                g.0 = Some(now);
                Some(std::mem::take(&mut g.1))
            }
        }
    }
}

pub fn json_response(status: StatusCode, value: &serde_json::Value) -> AdminResponse {
    typed_json_response(status, value)
}

/// `json_response` for a typed value, without building a `serde_json::Value` first.
fn typed_json_response(status: StatusCode, value: &impl serde::Serialize) -> AdminResponse {
    let mut body = Vec::with_capacity(256);
    let _ = serde_json::to_writer_pretty(&mut body, value);
    body.push(b'\n');
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(body)))
        .expect("static response parts are valid")
}

/// The answer to `PUT /routes/NAME/weights`: the route's weights after the change.
#[derive(serde::Serialize)]
struct WeightsAnswer<'a> {
    route: &'a str,
    generation: u64,
    weights: BackendWeights<'a>,
}

/// A route's backends and weights as one JSON object, in the route's backend order.
struct BackendWeights<'a>(Option<&'a crate::table::Route>);

impl serde::Serialize for BackendWeights<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let pairs = self
            .0
            .into_iter()
            .flat_map(|r| r.backends.iter().map(|b| &*b.name).zip(&r.weights));
        s.collect_map(pairs)
    }
}

pub fn error_response(status: StatusCode, message: impl Into<String>) -> AdminResponse {
    json_response(status, &json!({ "error": message.into() }))
}

fn text(status: StatusCode, content_type: &'static str, body: String) -> AdminResponse {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, content_type)
        .body(Full::new(Bytes::from(body)))
        .expect("static response parts are valid")
}

/// Whether a browser says this request comes from another site: `Sec-Fetch-Site` other
/// than `same-origin` or `none` (the user typed the address), or, from browsers that do not
/// send it, an `Origin` whose host is not the request's `Host`. Clients that are not
/// browsers (weir's CLI, curl, a controller) send neither and are not refused here.
pub fn cross_site(headers: &http::HeaderMap) -> bool {
    if let Some(site) = headers.get("sec-fetch-site") {
        return !matches!(site.as_bytes(), b"same-origin" | b"none");
    }
    let Some(origin) = headers.get(header::ORIGIN) else {
        return false;
    };
    let origin_host = origin
        .to_str()
        .ok()
        .and_then(|o| o.split_once("://").map(|(_, h)| h.trim_end_matches('/')));
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    match (origin_host, host) {
        (Some(o), Some(h)) => !o.eq_ignore_ascii_case(h),
        // `Origin: null` (a sandboxed frame, a file) or no Host: not the same site.
        _ => true,
    }
}

/// Compares without an early exit, so timing does not reveal the token (the admin API's
/// and `weir controller`'s dashboard's).
pub fn same_token(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The query's parameters, percent-decoded (a route from the cluster is named
/// `namespace/ingress:host/path`, which a client encodes).
fn parse_query(q: Option<&str>) -> HashMap<String, String> {
    form_urlencoded::parse(q.unwrap_or("").as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

impl Admin {
    /// Answers one admin request (hyper's `Incoming` body on the listener; any body in
    /// benchmarks and tests).
    pub async fn serve<B>(
        self: Arc<Self>,
        req: Request<B>,
    ) -> Result<AdminResponse, std::convert::Infallible>
    where
        B: http_body::Body<Data = Bytes>,
        B::Error: std::error::Error + Send + Sync + 'static,
    {
        let (parts, body) = req.into_parts();
        let body = match Limited::new(body, 1 << 20).collect().await {
            Ok(b) => b.to_bytes(),
            Err(_) => {
                return Ok(error_response(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "request body over 1 MiB",
                ))
            }
        };
        let authorized = match &self.token {
            None => true,
            Some(t) => parts
                .headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
                .is_some_and(|given| same_token(given.trim().as_bytes(), t.as_bytes())),
        };
        let req = AdminRequest {
            method: parts.method,
            path: parts.uri.path().to_string(),
            query: parse_query(parts.uri.query()),
            body,
            headers: parts.headers,
            authorized,
        };
        Ok(self.route(&req).await)
    }

    async fn route(&self, req: &AdminRequest) -> AdminResponse {
        // A page in the user's browser must not drive the admin API (on loopback, with no
        // token, a form on any site could otherwise POST an abort).
        if req.method != Method::GET && req.method != Method::HEAD && cross_site(&req.headers) {
            return error_response(
                StatusCode::FORBIDDEN,
                "refused: a browser sent this request from another site",
            );
        }
        let segments: Vec<&str> = req.path.trim_matches('/').split('/').collect();
        match (&req.method, segments.as_slice()) {
            (&Method::GET, ["metrics"]) => {
                let mut registry = prometheus_client::registry::Registry::default();
                registry.register_collector(Box::new(crate::metrics::ProxyCollector(
                    self.proxy.clone(),
                )));
                for ext in self.extensions.read().iter() {
                    ext.register_metrics(&mut registry);
                }
                let accept = req.headers.get(header::ACCEPT);
                let format =
                    crate::metrics::Format::negotiate(accept.and_then(|v| v.to_str().ok()));
                text(
                    StatusCode::OK,
                    format.content_type(),
                    format.encode(&registry),
                )
            }
            (&Method::GET, ["healthz"]) => text(StatusCode::OK, "text/plain", "ok\n".into()),
            (&Method::GET, ["readyz"]) => {
                if self.ready.load(Ordering::Relaxed) {
                    text(StatusCode::OK, "text/plain", "ready\n".into())
                } else {
                    text(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "text/plain",
                        "not ready\n".into(),
                    )
                }
            }
            (&Method::GET, ["routes"]) => json_response(StatusCode::OK, &self.routes_json()),
            (&Method::PUT, ["routes", route, "weights"]) => {
                if !req.authorized {
                    return unauthorized();
                }
                self.put_weights(route, &req.body)
            }
            (&Method::GET, ["stats"]) => self.stats(&req.query),
            _ => {
                let exts: Vec<_> = self.extensions.read().clone();
                for ext in exts {
                    if let Some(resp) = ext.handle(req).await {
                        return resp;
                    }
                }
                error_response(
                    StatusCode::NOT_FOUND,
                    format!("no admin endpoint {} {}", req.method, req.path),
                )
            }
        }
    }

    fn routes_json(&self) -> serde_json::Value {
        let table = self.proxy.table();
        let routes: Vec<_> = table
            .routes
            .iter()
            .map(|r| {
                let backends: Vec<_> = r
                    .backends
                    .iter()
                    .zip(&r.weights)
                    .map(|(b, w)| {
                        let endpoints: Vec<_> = b
                            .pool
                            .endpoints()
                            .iter()
                            .map(|e| json!({ "address": e.addr.to_string(), "live": e.is_live() }))
                            .collect();
                        let mut shown = json!({ "service": &*b.name, "weight": w, "endpoints": endpoints });
                        if let Some(reason) = &b.invalid {
                            shown["invalid"] = (**reason).into();
                        }
                        shown
                    })
                    .collect();
                let header_routes: Vec<_> = r
                    .header_routes
                    .iter()
                    .map(|h| {
                        let matches: Vec<_> = h
                            .matches
                            .iter()
                            .map(|(n, m)| json!({ "headerName": n, "headerValue": m.describe() }))
                            .collect();
                        json!({ "name": h.name, "match": matches, "backend": &*r.backends[h.backend].name })
                    })
                    .collect();
                let mirrors: Vec<_> = r
                    .mirrors
                    .iter()
                    .map(|m| json!({ "name": m.name, "backend": &*m.target.name, "percentage": m.percentage }))
                    .collect();
                let mut shown = json!({
                    "name": &*r.name,
                    "pathPrefix": r.path_prefix,
                    "pathMatch": format!("{:?}", r.path_match).to_lowercase(),
                    "backends": backends,
                    "headerRoutes": header_routes,
                    "mirrors": mirrors,
                });
                if let Some(conditions) = r.conditions.describe() {
                    shown["match"] = conditions;
                }
                if !r.rules.is_empty() {
                    let rules: Vec<_> = r.rules.iter().map(|x| x.describe(&r.backends)).collect();
                    shown["rules"] = rules.into();
                }
                if let Some(m) = &r.request_headers {
                    shown["requestHeaders"] = m.describe();
                }
                if let Some(m) = &r.response_headers {
                    shown["responseHeaders"] = m.describe();
                }
                if let Some(redirect) = &r.redirect {
                    shown["redirect"] = redirect.describe();
                }
                if let Some(rewrite) = &r.rewrite {
                    shown["rewrite"] = rewrite.describe();
                }
                shown
            })
            .collect();
        let mut answer = json!({ "generation": table.generation, "routes": routes });
        let sources = self.proxy.sources();
        if !sources.is_null() {
            answer["sources"] = sources;
        }
        answer
    }

    fn put_weights(&self, route: &str, body: &[u8]) -> AdminResponse {
        let weights: HashMap<String, u32> = match serde_json::from_slice(body) {
            Ok(w) => w,
            Err(e) => {
                return error_response(
                    StatusCode::BAD_REQUEST,
                    format!("body must be a JSON object of backend name to weight (0 to 4294967295), e.g. {{\"web-stable\": 80, \"web-canary\": 20}}: {e}"),
                )
            }
        };
        match self.proxy.set_weights(route, &weights) {
            Ok(generation) => {
                let table = self.proxy.table();
                if let Some(left_out) = self.weights_log.admit() {
                    tracing::info!(route, ?weights, generation, left_out, "weights changed");
                }
                // Written from a typed answer, not a `serde_json::Value`: at a thousand
                // changes a second the tree of maps cost more than the change itself.
                let answer = WeightsAnswer {
                    route,
                    generation,
                    weights: BackendWeights(table.route(route)),
                };
                typed_json_response(StatusCode::OK, &answer)
            }
            Err(e @ WeightsError::UnknownRoute(_)) => {
                error_response(StatusCode::NOT_FOUND, e.to_string())
            }
            Err(e) => error_response(StatusCode::BAD_REQUEST, e.to_string()),
        }
    }

    fn stats(&self, query: &HashMap<String, String>) -> AdminResponse {
        let Some(route_name) = query.get("route") else {
            return error_response(StatusCode::BAD_REQUEST, "missing ?route=NAME");
        };
        let window = match query.get("window") {
            None => Duration::from_secs(60),
            Some(w) => match weir_config::duration::parse(w) {
                Ok(d) if d.get() > Duration::ZERO && d.get() <= MAX_WINDOW => d.get(),
                Ok(_) => {
                    return error_response(
                        StatusCode::BAD_REQUEST,
                        format!("window {w:?} must be more than 0 and at most 10m"),
                    )
                }
                Err(e) => return error_response(StatusCode::BAD_REQUEST, e),
            },
        };
        let hdr = query.get("format").is_some_and(|f| f == "hdr");
        let cut = match query.get("since").map(String::as_str) {
            None => false,
            Some("split") => true,
            Some(other) => {
                return error_response(
                    StatusCode::BAD_REQUEST,
                    format!("since={other:?}: the only value is \"split\" (cut the window where the route's current split took effect)"),
                )
            }
        };
        let table = self.proxy.table();
        let Some(route) = table.route(route_name) else {
            return error_response(
                StatusCode::NOT_FOUND,
                format!("no route named {route_name:?}"),
            );
        };
        let now = Instant::now();
        let backends: Vec<_> = route
            .backends
            .iter()
            .map(|b| {
                let (w, from) = if cut {
                    b.stats.window_since(now, window, route.split_since)
                } else {
                    b.stats.window_from(now, window)
                };
                let q = |p: f64| {
                    if w.latency.is_empty() {
                        serde_json::Value::Null
                    } else {
                        json!(w.latency.value_at_quantile(p) as f64 / 1e6)
                    }
                };
                let success = if w.requests == 0 {
                    serde_json::Value::Null
                } else {
                    json!((w.requests - w.failures) as f64 / w.requests as f64)
                };
                let mut v = json!({
                    "backend": &*b.name,
                    "requests": w.requests,
                    "failures": w.failures,
                    "successRate": success,
                    "latency": { "p50": q(0.5), "p90": q(0.9), "p95": q(0.95), "p99": q(0.99), "p999": q(0.999) },
                    // What the sample spans up to now: the ring's slots reach back a little
                    // past `window`, and no further than the split with `since=split`. A
                    // request rate divides by this; a controller merging several proxies
                    // takes the shortest.
                    "coveredSeconds": now.saturating_duration_since(from).as_secs_f64(),
                });
                if hdr {
                    v["histogram"] = json!(crate::hdr::encode(&w.latency));
                }
                v
            })
            .collect();
        json_response(
            StatusCode::OK,
            &json!({
                "route": route_name,
                "window": weir_config::Duration(window).to_string(),
                "generation": table.generation,
                "splitAgeSeconds": now.saturating_duration_since(route.split_since).as_secs_f64(),
                "backends": backends,
            }),
        )
    }
}

fn unauthorized() -> AdminResponse {
    let mut r = error_response(
        StatusCode::UNAUTHORIZED,
        "this call needs the admin token: send Authorization: Bearer <token>",
    );
    r.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        http::HeaderValue::from_static("Bearer"),
    );
    r
}

#[cfg(test)]
mod log_throttle_tests {
    use super::LogThrottle;
    use std::time::Duration;

    #[test]
    fn one_line_a_second_saying_how_many_were_left_out() {
        let t = LogThrottle::default();
        assert_eq!(t.admit(), Some(0));
        assert_eq!(t.admit(), None);
        assert_eq!(t.admit(), None);
        std::thread::sleep(Duration::from_millis(1050));
        assert_eq!(t.admit(), Some(2));
        assert_eq!(t.admit(), None);
    }
}

#[cfg(test)]
mod put_weights_tests {
    use super::*;
    use futures_util::FutureExt;

    pub(super) fn admin() -> Arc<Admin> {
        let yaml = "listeners:\n  - address: 127.0.0.1:0\nservices:\n  stable: {endpoints: [\"127.0.0.1:1\"]}\n  canary: {endpoints: [\"127.0.0.1:2\"]}\nroutes:\n  - name: web\n    backends: [{service: stable, weight: 90}, {service: canary, weight: 10}]\n";
        let cfg = weir_config::parse_proxy_config("t.yaml", yaml, 1).unwrap();
        Arc::new(Admin {
            proxy: Proxy::new(cfg).unwrap(),
            token: None,
            ready: true.into(),
            extensions: Default::default(),
            weights_log: Default::default(),
        })
    }

    fn put(admin: &Arc<Admin>, route: &str, body: &str) -> (StatusCode, String) {
        let req = Request::put(format!("/routes/{route}/weights"))
            .body(Full::new(Bytes::from(body.to_string())))
            .unwrap();
        let resp = admin.clone().serve(req).now_or_never().unwrap().unwrap();
        let status = resp.status();
        let body = resp.into_body().collect().now_or_never().unwrap().unwrap();
        (status, String::from_utf8(body.to_bytes().to_vec()).unwrap())
    }

    #[test]
    fn answers_with_the_routes_weights_in_backend_order() {
        let admin = admin();
        let g0 = admin.proxy.generation();
        let (status, body) = put(&admin, "web", r#"{"canary": 30, "stable": 70}"#);
        assert_eq!(status, StatusCode::OK, "{body}");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["route"], "web");
        assert_eq!(v["generation"], g0 + 1);
        assert_eq!(
            v["weights"],
            serde_json::json!({"stable": 70, "canary": 30})
        );
        // In the route's backend order, whatever the order of the request.
        let (s, c) = (
            body.find("\"stable\"").unwrap(),
            body.find("\"canary\"").unwrap(),
        );
        assert!(s < c, "{body}");
        // A change naming one backend keeps the other's weight.
        let (_, body) = put(&admin, "web", r#"{"canary": 5}"#);
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["weights"], serde_json::json!({"stable": 70, "canary": 5}));
        assert_eq!(v["generation"], g0 + 2);
    }

    #[test]
    fn bad_changes_name_what_was_wrong_and_change_nothing() {
        let admin = admin();
        let g0 = admin.proxy.generation();
        let (status, body) = put(&admin, "web", r#"{"nope": 1}"#);
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(body.contains("nope") && body.contains("stable"), "{body}");
        let (status, body) = put(&admin, "other", r#"{"stable": 1}"#);
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert!(body.contains("other"), "{body}");
        let (status, body) = put(&admin, "web", r#"{"stable": -1}"#);
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(
            body.contains("JSON object of backend name to weight"),
            "{body}"
        );
        assert_eq!(admin.proxy.generation(), g0);
    }
}

#[cfg(test)]
mod stats_tests {
    use super::*;
    use crate::stats::SLOT;
    use futures_util::FutureExt;

    fn get(admin: &Arc<Admin>, path: &str) -> serde_json::Value {
        let req = Request::get(path).body(Full::new(Bytes::new())).unwrap();
        let resp = admin.clone().serve(req).now_or_never().unwrap().unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        let body = resp.into_body().collect().now_or_never().unwrap().unwrap();
        serde_json::from_slice(&body.to_bytes()).unwrap()
    }

    /// Each backend's `coveredSeconds`.
    fn covered(v: &serde_json::Value) -> Vec<f64> {
        let backends = v["backends"].as_array().unwrap();
        backends
            .iter()
            .map(|b| b["coveredSeconds"].as_f64().unwrap())
            .collect()
    }

    #[test]
    fn covered_seconds_spans_the_window_or_only_the_split_since_it_changed() {
        let admin = super::put_weights_tests::admin();
        let table = admin.proxy.table();
        for b in &table.route("web").unwrap().backends {
            b.stats
                .record(Instant::now(), 200, false, Duration::from_millis(3));
        }
        // The plain window reaches back to the start of its oldest slot: at most one
        // slot more than asked for, never before the process began.
        let plain = get(&admin, "/stats?route=web&window=60s");
        for c in covered(&plain) {
            assert!(
                c >= 0.0 && c <= (Duration::from_secs(60) + SLOT).as_secs_f64(),
                "{plain}"
            );
        }
        assert_eq!(plain["backends"][0]["requests"], 1, "{plain}");

        // Right after a weight change, since=split covers only the moments since.
        admin
            .proxy
            .set_weights("web", &HashMap::from([("canary".to_owned(), 50)]))
            .unwrap();
        let cut = get(&admin, "/stats?route=web&window=60s&since=split&format=hdr");
        let age = cut["splitAgeSeconds"].as_f64().unwrap();
        for c in covered(&cut) {
            assert!(c <= age && c < 1.0, "{cut}");
        }
        assert_eq!(cut["backends"][0]["requests"], 0, "{cut}");
        assert!(cut["backends"][0]["histogram"].is_string(), "{cut}");
    }
}

#[cfg(test)]
mod query_tests {
    #[test]
    fn parameters_are_percent_decoded() {
        let q = super::parse_query(Some(
            "route=default%2Fweb%3Ademo.test%2F&window=10s&format=hdr&flag",
        ));
        assert_eq!(q["route"], "default/web:demo.test/");
        assert_eq!(q["window"], "10s");
        assert_eq!(q["flag"], "");
        assert!(super::parse_query(None).is_empty());
    }
}
