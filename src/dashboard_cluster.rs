//! `weir controller`'s web dashboard (`--dashboard-address`, as `kubectl argo rollouts
//! dashboard` serves Argo's on port 3100): [`ClusterSource`] reads the cluster for
//! weir-dashboard, and [`serve`] answers on the dashboard's own listener.
//!
//! - Rollouts, AnalysisRuns and Experiments come from the controller's watch caches (the
//!   ones `/metrics` reads): the page and its two-second sampler add no calls to the API
//!   server. Events are listed when a Rollout's page asks for them.
//! - The traffic plotted is what weir's proxies (`--proxy-service`) serve: the Rollout's
//!   route found in their `/routes` as the controller finds it to verify weights, and its
//!   stable and canary backends' windows merged over every replica as the `weir` analysis
//!   provider merges them (`weir_control::kubernetes::fleet`).
//! - Actions are `weir rollouts --kubernetes`'s ([`ClusterClient::act`]): the patches
//!   `kubectl argo rollouts` sends, on which this controller (or Argo's) then acts.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::{header, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use k8s_openapi::api::core::v1::Event;
use kube::api::{Api, DynamicObject, ListParams};
use serde_json::{json, Value};
use weir_config::argo::CanaryStrategy;
use weir_control::kubernetes::fleet::{served_route, ProxyFleet};
use weir_control::kubernetes::rollouts::Context;
use weir_control::kubernetes::routers::Router;
use weir_control::providers::WindowSample;
use weir_dashboard::{Action, Dashboard, Sample, SideStats, Source};

use crate::rollouts_cli::client::Action as CliAction;
use crate::rollouts_cli::cluster::{ClusterClient, ClusterError};

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// How far back each plotted point looks (as `weir run`'s dashboard: about two of the
/// proxies' 5-second statistics slots).
const WINDOW: Duration = Duration::from_secs(5);
/// How long the proxies' addresses and `/routes` are reused: one sampling pass over every
/// Rollout reads them once, not once per Rollout.
const ROUTES_FOR: Duration = Duration::from_secs(1);
/// Names the API server in the messages of a failed action.
const SERVER: &str = "the controller's API server";

/// The proxies' admin addresses and their `/routes` answers, as read at one time.
type Proxies = Arc<(Vec<SocketAddr>, Vec<Value>)>;

/// The controller's watch caches the dashboard reads.
#[derive(Clone, Copy)]
enum Cached {
    Rollouts,
    AnalysisRuns,
    Experiments,
}

/// The dashboard's view of the cluster `weir controller` drives.
pub struct ClusterSource {
    ctx: Arc<Context>,
    /// `--namespace`: the one namespace the controller watches; `None`: all of them.
    namespace: Option<String>,
    /// The last read of the proxies, for [`ROUTES_FOR`].
    proxies: tokio::sync::Mutex<Option<(Instant, Proxies)>>,
}

impl ClusterSource {
    pub fn new(ctx: Arc<Context>, namespace: Option<String>) -> ClusterSource {
        ClusterSource {
            ctx,
            namespace,
            proxies: tokio::sync::Mutex::new(None),
        }
    }

    /// What the controller's cache of `kind` holds, as Argo's objects.
    fn cached(&self, kind: Cached) -> Result<Vec<Value>, String> {
        let Some(stores) = self.ctx.metrics.stores() else {
            return Err(
                "the controller is not watching yet (waiting for Argo Rollouts' CRDs)".to_owned(),
            );
        };
        let (store, name) = match kind {
            Cached::Rollouts => (&stores.0, "Rollout"),
            Cached::AnalysisRuns => (&stores.1, "AnalysisRun"),
            Cached::Experiments => (&stores.2, "Experiment"),
        };
        Ok(store.state().iter().map(|o| object(o, name)).collect())
    }

    /// Rollout `ns/name` from the cache.
    fn rollout(&self, ns: &str, name: &str) -> Option<Value> {
        self.cached(Cached::Rollouts)
            .ok()?
            .into_iter()
            .find(|r| weir_dashboard::key(r) == (ns.to_owned(), name.to_owned()))
    }

    /// Whether the controller watches namespace `ns`.
    fn watches(&self, ns: &str) -> bool {
        self.namespace.as_deref().is_none_or(|only| only == ns)
    }

    /// The proxies' addresses and `/routes`, read at most every [`ROUTES_FOR`].
    async fn proxies(&self, fleet: &ProxyFleet) -> Option<Proxies> {
        let mut last = self.proxies.lock().await;
        if let Some((at, proxies)) = last.as_ref() {
            if at.elapsed() < ROUTES_FOR {
                return Some(proxies.clone());
            }
        }
        let read = async {
            let addresses = fleet.admin_addresses().await?;
            let routes = fleet.routes_at(&addresses).await?;
            Ok::<_, String>((addresses, routes.into_iter().map(|(_, v)| v).collect()))
        };
        match read.await {
            Ok(read) => {
                let proxies = Arc::new(read);
                *last = Some((Instant::now(), proxies.clone()));
                Some(proxies)
            }
            Err(e) => {
                tracing::debug!("dashboard: the weir proxies' routes: {e}");
                *last = None;
                None
            }
        }
    }
}

/// A cached object as Argo's JSON: with its apiVersion and kind, without managedFields.
fn object(o: &DynamicObject, kind: &str) -> Value {
    let mut v = serde_json::to_value(o).unwrap_or_default();
    if let Some(meta) = v.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("managedFields");
    }
    if v["apiVersion"].is_null() {
        v["apiVersion"] = json!("argoproj.io/v1alpha1");
    }
    if v["kind"].is_null() {
        v["kind"] = json!(kind);
    }
    v
}

/// Oldest first: by creation time, then name.
fn by_creation(objects: &mut [Value]) {
    objects.sort_by(|a, b| {
        let key = |o: &Value| {
            (
                o["metadata"]["creationTimestamp"]
                    .as_str()
                    .and_then(|t| t.parse::<k8s_openapi::jiff::Timestamp>().ok()),
                o["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            )
        };
        key(a).cmp(&key(b))
    });
}

/// What one side served over the window, merged over every proxy.
fn side(sample: &WindowSample) -> SideStats {
    SideStats::from_window(sample.requests, sample.failures, sample.covered, |q| {
        sample.latency.value_at_quantile(q)
    })
}

/// An action's failure for the page: 404 when the Rollout is not there.
fn act_error(e: ClusterError) -> (StatusCode, String) {
    let status = match &e {
        ClusterError::NotFound { .. } | ClusterError::NoRollouts { .. } => StatusCode::NOT_FOUND,
        _ => StatusCode::BAD_GATEWAY,
    };
    (status, e.to_string())
}

impl Source for ClusterSource {
    fn rollouts(&self) -> BoxFuture<'_, Result<Vec<Value>, String>> {
        Box::pin(async move { self.cached(Cached::Rollouts) })
    }

    fn experiments(&self) -> BoxFuture<'_, Result<Vec<Value>, String>> {
        Box::pin(async move { self.cached(Cached::Experiments) })
    }

    fn analysis_runs<'a>(
        &'a self,
        namespace: &'a str,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Vec<Value>, String>> {
        Box::pin(async move {
            let Some(rollout) = self.rollout(namespace, name) else {
                return Ok(Vec::new());
            };
            let uid = rollout["metadata"]["uid"].as_str().unwrap_or_default();
            let mut runs: Vec<Value> = self
                .cached(Cached::AnalysisRuns)?
                .into_iter()
                .filter(|run| {
                    weir_dashboard::key(run).0 == namespace
                        && !uid.is_empty()
                        && run["metadata"]["ownerReferences"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .any(|o| o["uid"] == uid)
                })
                .collect();
            by_creation(&mut runs);
            Ok(runs)
        })
    }

    fn events<'a>(
        &'a self,
        namespace: &'a str,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Vec<Value>, String>> {
        Box::pin(async move {
            if !self.watches(namespace) {
                return Ok(Vec::new());
            }
            let api: Api<Event> = Api::namespaced(self.ctx.client.clone(), namespace);
            let fields = format!("involvedObject.kind=Rollout,involvedObject.name={name}");
            let list = api
                .list(&ListParams::default().fields(&fields))
                .await
                .map_err(|e| format!("listing the events of rollout {namespace}/{name}: {e}"))?;
            let mut events: Vec<(Option<k8s_openapi::jiff::Timestamp>, Value)> = list
                .items
                .into_iter()
                .map(|e| {
                    let time = e
                        .last_timestamp
                        .map(|t| t.0)
                        .or(e.event_time.map(|t| t.0))
                        .or(e.first_timestamp.map(|t| t.0));
                    let value = json!({
                        "time": time.map(|t| t.to_string()),
                        "type": e.type_.unwrap_or_else(|| "Normal".to_owned()),
                        "reason": e.reason.unwrap_or_default(),
                        "message": e.message.unwrap_or_default(),
                    });
                    (time, value)
                })
                .collect();
            events.sort_by_key(|e| e.0);
            Ok(events.into_iter().map(|(_, v)| v).collect())
        })
    }

    fn sample<'a>(&'a self, namespace: &'a str, name: &'a str) -> BoxFuture<'a, Option<Sample>> {
        Box::pin(async move {
            let fleet = self.ctx.runs.fleet()?;
            let rollout = self.rollout(namespace, name)?;
            let canary: CanaryStrategy =
                serde_json::from_value(rollout["spec"]["strategy"]["canary"].clone()).ok()?;
            let router = Router::of(name, namespace, &canary).ok()??;
            let (objects, canary_service, stable_service) = router.served_objects(namespace);
            let proxies = self.proxies(fleet).await?;
            let (addresses, answers) = (&proxies.0, &proxies.1);
            let route = answers
                .iter()
                .find_map(|a| served_route(a, &objects, &canary_service, &stable_service))?;
            let mut sample = Sample::default();
            let sides = [
                ("stable", Some(&route.stable)),
                ("canary", route.canary.as_ref()),
            ];
            for (role, backend) in sides {
                if let Some((_, weight)) = backend {
                    sample
                        .weights
                        .insert(role.to_owned(), u32::try_from(*weight).unwrap_or(0));
                }
            }
            match fleet.windows_at(addresses, &route.name, WINDOW).await {
                Ok(windows) => {
                    for (role, backend) in sides {
                        if let Some(s) = backend.and_then(|(b, _)| windows.sample(b)) {
                            sample.sides.insert(role.to_owned(), side(s));
                        }
                    }
                }
                Err(e) => tracing::debug!("dashboard: the traffic of route {:?}: {e}", route.name),
            }
            Some(sample)
        })
    }

    fn act<'a>(
        &'a self,
        namespace: &'a str,
        name: &'a str,
        action: Action,
    ) -> BoxFuture<'a, Result<(), (StatusCode, String)>> {
        Box::pin(async move {
            if !self.watches(namespace) {
                return Err((
                    StatusCode::NOT_FOUND,
                    format!("this controller does not watch namespace {namespace:?}"),
                ));
            }
            let action = match action {
                Action::Promote => CliAction::Promote { full: false },
                Action::PromoteFull => CliAction::Promote { full: true },
                Action::Abort => CliAction::Abort,
                Action::Retry => CliAction::Retry,
                Action::Pause => CliAction::Pause,
                Action::Resume => CliAction::Resume,
            };
            let client =
                ClusterClient::with_client(self.ctx.client.clone(), SERVER.to_owned(), namespace);
            client
                .act(name, action)
                .await
                .map(|_| ())
                .map_err(act_error)?;
            tracing::info!(
                namespace,
                rollout = name,
                action = action.done(),
                "dashboard action"
            );
            Ok(())
        })
    }
}

/// Whether `headers` carry `Authorization: Bearer <token>` (compared in constant time, as
/// the admin API compares).
fn bearer(headers: &hyper::HeaderMap, token: &str) -> bool {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|given| {
            weir_proxy::admin::same_token(given.trim().as_bytes(), token.as_bytes())
        })
}

/// Serves `dashboard` on `listener`: the page at `/`, its assets and its API. Actions need
/// `token` when one is given; reads never do.
pub async fn serve(
    listener: tokio::net::TcpListener,
    dashboard: Arc<Dashboard>,
    token: Option<Arc<str>>,
) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let (dashboard, token) = (dashboard.clone(), token.clone());
        tokio::spawn(async move {
            let svc =
                hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    let (dashboard, token) = (dashboard.clone(), token.clone());
                    async move {
                        let authorized = token.as_deref().is_none_or(|t| bearer(req.headers(), t));
                        let path = req.uri().path().trim_start_matches('/');
                        let resp = match dashboard
                            .handle(req.method(), path, req.headers(), authorized)
                            .await
                        {
                            Some(resp) => resp,
                            None => {
                                let mut resp =
                                    Response::new(Full::new(Bytes::from_static(b"not found\n")));
                                *resp.status_mut() = StatusCode::NOT_FOUND;
                                resp
                            }
                        };
                        Ok::<_, std::convert::Infallible>(resp)
                    }
                });
            let _ = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(Duration::from_secs(10))
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}
