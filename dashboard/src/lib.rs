//! weir's web dashboard: a page to watch rollouts, served by weir itself (the admin
//! listener of `weir run` under `/dashboard/`, `weir controller`'s own listener at `/`).
//!
//! - The page (`assets/`: HTML, one script, one stylesheet, and uPlot for the plots) is
//!   part of the binary: no separate install, nothing built with Node.js.
//! - Its JSON API (below) reads a [`Source`]: standalone weir's controller, or a cluster.
//! - Plots draw a history this module samples every [`SAMPLE_EVERY`] per rollout (request
//!   rate, success rate, p50 and p99 for each side, and the weights), kept for
//!   [`HISTORY`]; the analysis verdicts are placed on the same time axis from the runs'
//!   measurements.
//!
//! API, relative to the page: `GET api/info`, `GET api/rollouts`,
//! `GET api/rollouts/{ns}/{name}`, `GET api/rollouts/{ns}/{name}/series`,
//! `POST api/rollouts/{ns}/{name}/{promote|promote-full|abort|retry|pause|resume}`.
//! Actions need the caller to be authorized as the admin API's mutating calls are (a token
//! when one is configured) and are refused when a browser says the request comes from
//! another site ([`cross_site`]), so no other page can drive them.

mod assets;
mod history;
mod summary;

pub use history::{History, Point, SideStats};
pub use summary::summary;

use bytes::Bytes;
use futures_util::future::BoxFuture;
use http::{header, HeaderMap, HeaderValue, Method, Response, StatusCode};
use http_body_util::Full;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::{Arc, Weak};
use std::time::Duration;

/// How often each rollout's traffic is sampled for the plots.
pub const SAMPLE_EVERY: Duration = Duration::from_secs(2);
/// How much history the plots can show.
pub const HISTORY: Duration = Duration::from_secs(600);

/// What the action buttons ask for, as `weir rollouts` and `kubectl argo rollouts` do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Promote,
    PromoteFull,
    Abort,
    Retry,
    Pause,
    Resume,
}

impl Action {
    pub fn parse(s: &str) -> Option<Action> {
        Some(match s {
            "promote" => Action::Promote,
            "promote-full" => Action::PromoteFull,
            "abort" => Action::Abort,
            "retry" => Action::Retry,
            "pause" => Action::Pause,
            "resume" => Action::Resume,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Action::Promote => "promote",
            Action::PromoteFull => "promote-full",
            Action::Abort => "abort",
            Action::Retry => "retry",
            Action::Pause => "pause",
            Action::Resume => "resume",
        }
    }
}

/// One sample of a rollout's traffic: the live weights and, per side (`stable`, `canary`,
/// `baseline`), what its backend served lately.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sample {
    pub weights: BTreeMap<String, u32>,
    pub sides: BTreeMap<String, SideStats>,
}

/// Where the dashboard reads rollouts from and sends actions to.
pub trait Source: Send + Sync + 'static {
    /// Every Rollout, as Argo's objects (JSON), with its status. `status.canary.weights`
    /// carries the live weights when the source knows them.
    fn rollouts(&self) -> BoxFuture<'_, Result<Vec<Value>, String>>;
    /// Every Experiment, as Argo's objects.
    fn experiments(&self) -> BoxFuture<'_, Result<Vec<Value>, String>>;
    /// A Rollout's AnalysisRuns (Argo's objects), oldest first.
    fn analysis_runs<'a>(
        &'a self,
        namespace: &'a str,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Vec<Value>, String>>;
    /// A Rollout's events: `{time, type, reason, message}`, oldest first.
    fn events<'a>(
        &'a self,
        namespace: &'a str,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Vec<Value>, String>>;
    /// The rollout's traffic now, `None` when there is none to read (no route).
    fn sample<'a>(&'a self, namespace: &'a str, name: &'a str) -> BoxFuture<'a, Option<Sample>>;
    /// Carries out `action`; an error is the status and the sentence to show.
    fn act<'a>(
        &'a self,
        namespace: &'a str,
        name: &'a str,
        action: Action,
    ) -> BoxFuture<'a, Result<(), (StatusCode, String)>>;
}

pub type DashboardResponse = Response<Full<Bytes>>;

/// The dashboard over one [`Source`].
pub struct Dashboard {
    source: Arc<dyn Source>,
    history: History,
    /// `standalone` or `kubernetes`, shown by the page.
    mode: &'static str,
    /// Whether actions need a token (the page then asks for one).
    token_required: bool,
    /// When each rollout's page last asked for it (Unix seconds).
    viewed: parking_lot::Mutex<std::collections::HashMap<(String, String), f64>>,
}

impl Dashboard {
    /// A dashboard over `source`, sampling its rollouts in a task of the current runtime
    /// for as long as the dashboard lives.
    pub fn start(source: Arc<dyn Source>, mode: &'static str, token_required: bool) -> Arc<Self> {
        let dashboard = Arc::new(Dashboard {
            source,
            history: History::new(HISTORY),
            mode,
            token_required,
            viewed: Default::default(),
        });
        tokio::spawn(sample_forever(Arc::downgrade(&dashboard)));
        dashboard
    }

    /// Samples the rollouts worth plotting once (the sampler's step; tests call it
    /// directly): those under way (not Healthy) and those whose page was open within the
    /// history's span. A cluster's thousand Rollouts at rest cost no reads of the proxies.
    pub async fn sample_now(&self) {
        let Ok(rollouts) = self.source.rollouts().await else {
            return;
        };
        let now = unix_now();
        let recent = now - HISTORY.as_secs_f64();
        self.viewed.lock().retain(|_, t| *t >= recent);
        let mut live = Vec::new();
        for r in &rollouts {
            let (ns, name) = key(r);
            let at_rest = r["status"]["phase"] == "Healthy";
            let viewed = self.viewed.lock().contains_key(&(ns.clone(), name.clone()));
            if at_rest && !viewed {
                live.push((ns, name));
                continue;
            }
            if let Some(sample) = self.source.sample(&ns, &name).await {
                self.history.push(&ns, &name, Point { t: now, sample });
            }
            live.push((ns, name));
        }
        self.history.retain(&live);
    }

    /// Answers `method path` (`path` relative to the dashboard's base, e.g. `""`,
    /// `assets/app.js`, `api/rollouts`), or `None` when the path is not the dashboard's.
    /// `authorized` says whether the caller may act (the admin token, or none needed).
    pub async fn handle(
        &self,
        method: &Method,
        path: &str,
        headers: &HeaderMap,
        authorized: bool,
    ) -> Option<DashboardResponse> {
        let path = path.trim_start_matches('/');
        if let Some(api) = path.strip_prefix("api/") {
            return Some(self.api(method, api, headers, authorized).await);
        }
        if method != Method::GET && method != Method::HEAD {
            return None;
        }
        let asset = if path.is_empty() || path == "index.html" {
            "index.html"
        } else {
            path.strip_prefix("assets/")?
        };
        let (body, content_type) = assets::get(asset)?;
        let mut resp = Response::new(Full::new(Bytes::from_static(body)));
        resp.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        resp.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        secure(resp.headers_mut());
        Some(resp)
    }

    async fn api(
        &self,
        method: &Method,
        path: &str,
        headers: &HeaderMap,
        authorized: bool,
    ) -> DashboardResponse {
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        match (method, segments.as_slice()) {
            (&Method::GET, ["info"]) => json_response(
                StatusCode::OK,
                &json!({"mode": self.mode, "version": env!("CARGO_PKG_VERSION"),
                        "tokenRequired": self.token_required}),
            ),
            (&Method::GET, ["rollouts"]) => self.list().await,
            (&Method::GET, ["rollouts", ns, name]) => self.detail(ns, name).await,
            (&Method::GET, ["rollouts", ns, name, "series"]) => self.series(ns, name).await,
            (&Method::POST, ["rollouts", ns, name, action]) => {
                if cross_site(headers) {
                    return error(
                        StatusCode::FORBIDDEN,
                        "refused: the request comes from another site",
                    );
                }
                if !authorized {
                    return error(
                        StatusCode::UNAUTHORIZED,
                        "this action needs the admin token: send Authorization: Bearer <token>",
                    );
                }
                let Some(action) = Action::parse(action) else {
                    return error(
                        StatusCode::NOT_FOUND,
                        &format!("no action {action:?}; use promote, promote-full, abort, retry, pause or resume"),
                    );
                };
                match self.source.act(ns, name, action).await {
                    Ok(()) => match self.find(ns, name).await {
                        Ok(Some(r)) => {
                            json_response(StatusCode::OK, &json!({"summary": summary(&r)}))
                        }
                        Ok(None) => not_found(ns, name),
                        Err(e) => error(StatusCode::BAD_GATEWAY, &e),
                    },
                    Err((status, e)) => error(status, &e),
                }
            }
            _ => error(
                StatusCode::NOT_FOUND,
                &format!("no dashboard endpoint {method} api/{path}"),
            ),
        }
    }

    async fn find(&self, ns: &str, name: &str) -> Result<Option<Value>, String> {
        Ok(self
            .source
            .rollouts()
            .await?
            .into_iter()
            .find(|r| key(r) == (ns.to_owned(), name.to_owned())))
    }

    async fn list(&self) -> DashboardResponse {
        let rollouts = match self.source.rollouts().await {
            Ok(r) => r,
            Err(e) => return error(StatusCode::BAD_GATEWAY, &e),
        };
        let experiments = self.source.experiments().await.unwrap_or_default();
        let mut summaries: Vec<Value> = rollouts.iter().map(summary).collect();
        summaries.sort_by_key(|s| (s["namespace"].to_string(), s["name"].to_string()));
        let experiments: Vec<Value> = experiments.iter().map(summary::experiment).collect();
        json_response(
            StatusCode::OK,
            &json!({"rollouts": summaries, "experiments": experiments}),
        )
    }

    /// Notes that a page shows this rollout (its traffic is sampled from now on).
    fn viewing(&self, ns: &str, name: &str) {
        self.viewed
            .lock()
            .insert((ns.to_owned(), name.to_owned()), unix_now());
    }

    async fn detail(&self, ns: &str, name: &str) -> DashboardResponse {
        self.viewing(ns, name);
        let rollout = match self.find(ns, name).await {
            Ok(Some(r)) => r,
            Ok(None) => return not_found(ns, name),
            Err(e) => return error(StatusCode::BAD_GATEWAY, &e),
        };
        let runs = self
            .source
            .analysis_runs(ns, name)
            .await
            .unwrap_or_default();
        let events = self.source.events(ns, name).await.unwrap_or_default();
        let experiments: Vec<Value> = self
            .source
            .experiments()
            .await
            .unwrap_or_default()
            .into_iter()
            .filter(|e| summary::experiment(e)["rollout"] == name && key(e).0 == ns)
            .collect();
        json_response(
            StatusCode::OK,
            &json!({"summary": summary(&rollout), "rollout": rollout, "analysisRuns": runs,
                    "experiments": experiments, "events": events}),
        )
    }

    async fn series(&self, ns: &str, name: &str) -> DashboardResponse {
        self.viewing(ns, name);
        match self.find(ns, name).await {
            Ok(Some(_)) => {}
            Ok(None) => return not_found(ns, name),
            Err(e) => return error(StatusCode::BAD_GATEWAY, &e),
        }
        let points = self.history.points(ns, name);
        let runs = self
            .source
            .analysis_runs(ns, name)
            .await
            .unwrap_or_default();
        let now = unix_now();
        let since = now - HISTORY.as_secs_f64();
        let mut marks = history::weight_marks(&points);
        marks.extend(history::measurement_marks(&runs, since));
        marks.sort_by(|a, b| {
            a["t"]
                .as_f64()
                .partial_cmp(&b["t"].as_f64())
                .unwrap_or(std::cmp::Ordering::Equal)
        });
        let mut sides: Vec<&str> = vec!["stable", "canary"];
        if points
            .iter()
            .any(|p| p.sample.sides.contains_key("baseline"))
        {
            sides.push("baseline");
        }
        json_response(
            StatusCode::OK,
            &json!({"now": now, "sides": sides,
                    "points": points.iter().map(Point::to_json).collect::<Vec<_>>(),
                    "marks": marks}),
        )
    }
}

async fn sample_forever(dashboard: Weak<Dashboard>) {
    let mut tick = tokio::time::interval(SAMPLE_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(d) = dashboard.upgrade() else {
            return;
        };
        d.sample_now().await;
    }
}

/// A Rollout's or Experiment's `(namespace, name)`; the namespace `default` when unset.
pub fn key(object: &Value) -> (String, String) {
    let m = &object["metadata"];
    (
        m["namespace"].as_str().unwrap_or("default").to_owned(),
        m["name"].as_str().unwrap_or_default().to_owned(),
    )
}

/// Seconds since the Unix epoch, now.
pub fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or_default()
}

pub use weir_proxy::admin::cross_site;

/// The headers every dashboard answer carries: only weir's own scripts and styles run in
/// the page, and no other site may frame it.
fn secure(headers: &mut HeaderMap) {
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
        ),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
}

fn json_response(status: StatusCode, body: &Value) -> DashboardResponse {
    let mut resp = Response::new(Full::new(Bytes::from(body.to_string())));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    secure(resp.headers_mut());
    resp
}

fn error(status: StatusCode, message: &str) -> DashboardResponse {
    json_response(status, &json!({ "error": message }))
}

fn not_found(ns: &str, name: &str) -> DashboardResponse {
    error(
        StatusCode::NOT_FOUND,
        &format!("no rollout {name:?} in namespace {ns:?}"),
    )
}

#[cfg(test)]
mod tests;
