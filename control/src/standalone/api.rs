//! The standalone control API on the admin listener, which `weir rollouts` calls:
//! `GET /rollouts`, `GET /rollouts/{name}` (the Rollout with its status in Argo's shape),
//! `GET /rollouts/{name}/analysisruns`, `GET /rollouts/{name}/events`,
//! `POST /rollouts/{name}/promote[?full=true]|abort|retry|pause|resume` (token-guarded), and
//! `GET /experiments`, `GET /experiments/{name}` (Argo Experiment objects: those of Rollout
//! steps and the run file's standalone ones), `GET /experiments/{name}/analysisruns`
//! (a standalone Experiment's runs with their measurements).

use super::controller::Controller;
use super::metrics;
use crate::engine::Command;
use futures_util::future::BoxFuture;
use http::{Method, StatusCode};
use serde_json::json;
use std::sync::Arc;
use weir_config::argo::Rollout;
use weir_proxy::admin::{
    error_response, json_response, AdminExtension, AdminRequest, AdminResponse,
};

pub struct ControlApi {
    pub controller: Arc<Controller>,
    /// The web dashboard, under `/dashboard/`.
    pub dashboard: Arc<weir_dashboard::Dashboard>,
}

impl ControlApi {
    /// The API over `controller`, with its dashboard sampling on the current runtime.
    /// `token_required`: whether the admin listener asks mutating calls for a token (the
    /// dashboard's page then asks for it).
    pub fn new(controller: Arc<Controller>, token_required: bool) -> ControlApi {
        let source = Arc::new(super::dashboard::StandaloneSource {
            controller: controller.clone(),
        });
        ControlApi {
            controller,
            dashboard: weir_dashboard::Dashboard::start(source, "standalone", token_required),
        }
    }

    fn rollout_json(&self, name: &str) -> Option<Rollout> {
        self.controller.rollout(name)
    }

    fn list(&self) -> AdminResponse {
        let names = self.controller.rollout_names();
        let items: Vec<Rollout> = names.iter().filter_map(|n| self.rollout_json(n)).collect();
        json_response(StatusCode::OK, &json!({ "items": items }))
    }

    fn analysis_runs(&self, name: &str) -> Option<AdminResponse> {
        let items = self.controller.analysis_runs(name)?;
        Some(json_response(StatusCode::OK, &json!({ "items": items })))
    }

    fn events(&self, name: &str) -> Option<AdminResponse> {
        let inner = self.controller.inner.lock();
        let slot = inner.slots.get(name)?;
        Some(json_response(
            StatusCode::OK,
            &json!({ "items": slot.record.events }),
        ))
    }

    async fn command(&self, name: &str, command: Command) -> AdminResponse {
        match self.controller.command(name, command).await {
            Ok(()) => match self.rollout_json(name) {
                Some(r) => {
                    json_response(StatusCode::OK, &serde_json::to_value(r).unwrap_or_default())
                }
                None => not_found(name),
            },
            Err(e) => error_response(StatusCode::NOT_FOUND, e),
        }
    }
}

fn not_found(name: &str) -> AdminResponse {
    error_response(StatusCode::NOT_FOUND, format!("no rollout named {name:?}"))
}

impl AdminExtension for ControlApi {
    fn handle<'a>(&'a self, req: &'a AdminRequest) -> BoxFuture<'a, Option<AdminResponse>> {
        Box::pin(async move {
            if req.path == "/dashboard" {
                // The page's links are relative: it must be served under a trailing slash.
                let mut resp = error_response(StatusCode::PERMANENT_REDIRECT, "see /dashboard/");
                resp.headers_mut().insert(
                    http::header::LOCATION,
                    http::HeaderValue::from_static("/dashboard/"),
                );
                return Some(resp);
            }
            if let Some(rest) = req.path.strip_prefix("/dashboard/") {
                return self
                    .dashboard
                    .handle(&req.method, rest, &req.headers, req.authorized)
                    .await;
            }
            let segments: Vec<&str> = req.path.trim_matches('/').split('/').collect();
            if segments.first() == Some(&"experiments") && req.method == Method::GET {
                let all = self.controller.experiments();
                return Some(match &segments[1..] {
                    [] => json_response(StatusCode::OK, &json!({ "items": all })),
                    [name] => match all
                        .iter()
                        .find(|e| e.metadata.name.as_deref() == Some(*name))
                    {
                        Some(e) => json_response(
                            StatusCode::OK,
                            &serde_json::to_value(e).unwrap_or_default(),
                        ),
                        None => error_response(
                            StatusCode::NOT_FOUND,
                            format!("no experiment named {name:?}"),
                        ),
                    },
                    [name, "analysisruns"] => match self.controller.experiment_runs(name) {
                        Some(items) => json_response(StatusCode::OK, &json!({ "items": items })),
                        None => error_response(
                            StatusCode::NOT_FOUND,
                            format!("no standalone experiment named {name:?} (a Rollout's experiment's runs are under /rollouts/{{name}}/analysisruns)"),
                        ),
                    },
                    _ => error_response(
                        StatusCode::NOT_FOUND,
                        format!("no endpoint GET {}", req.path),
                    ),
                });
            }
            if segments.first() != Some(&"rollouts") {
                return None;
            }
            let resp = match (&req.method, &segments[1..]) {
                (&Method::GET, []) => self.list(),
                (&Method::GET, [name]) => match self.rollout_json(name) {
                    Some(r) => {
                        json_response(StatusCode::OK, &serde_json::to_value(r).unwrap_or_default())
                    }
                    None => not_found(name),
                },
                (&Method::GET, [name, "analysisruns"]) => {
                    self.analysis_runs(name).unwrap_or_else(|| not_found(name))
                }
                (&Method::GET, [name, "events"]) => {
                    self.events(name).unwrap_or_else(|| not_found(name))
                }
                (&Method::POST, [name, action]) => {
                    if !req.authorized {
                        return Some(error_response(
                            StatusCode::UNAUTHORIZED,
                            "this call needs the admin token: send Authorization: Bearer <token>",
                        ));
                    }
                    let full = req
                        .query
                        .get("full")
                        .is_some_and(|v| v == "true" || v.is_empty());
                    let command = match *action {
                        "promote" if full => Command::PromoteFull,
                        "promote" => Command::Promote,
                        "abort" => Command::Abort,
                        "retry" => Command::Retry,
                        "pause" => Command::Pause,
                        "resume" => Command::Resume,
                        other => {
                            return Some(error_response(
                                StatusCode::NOT_FOUND,
                                format!(
                                "no action {other:?}; use promote, abort, retry, pause or resume"
                            ),
                            ))
                        }
                    };
                    self.command(name, command).await
                }
                _ => error_response(
                    StatusCode::NOT_FOUND,
                    format!("no endpoint {} {}", req.method, req.path),
                ),
            };
            Some(resp)
        })
    }

    fn register_metrics(&self, registry: &mut prometheus_client::registry::Registry) {
        registry.register_collector(Box::new(metrics::ControlCollector(self.controller.clone())));
    }
}
