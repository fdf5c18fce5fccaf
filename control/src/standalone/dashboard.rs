//! The web dashboard's source in `weir run`: the controller's Rollouts, runs, events and
//! experiments, the in-process proxy's live weights and traffic, and the controller's own
//! commands for the actions.

use super::controller::Controller;
use super::documents;
use crate::engine::Command;
use futures_util::future::BoxFuture;
use http::StatusCode;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};
use weir_dashboard::{Action, Sample, SideStats, Source};
use weir_proxy::table::Route;

/// How far back each plotted point looks: the current statistics slot and the one before.
const WINDOW: Duration = Duration::from_secs(5);

pub struct StandaloneSource {
    pub controller: Arc<Controller>,
}

impl StandaloneSource {
    /// The route carrying the Rollout's traffic (the first one with both its services, or
    /// its active service for blue-green) and its (stable, canary) service names.
    fn route_of(&self, name: &str) -> Option<(Arc<Route>, String, String)> {
        let rollout = self.controller.rollout(name)?;
        let (stable, canary) = documents::services(&rollout)?;
        let table = self.controller.proxy.table();
        let has = |r: &Route, s: &str| r.backends.iter().any(|b| &*b.name == s);
        let route = table
            .routes
            .iter()
            .find(|r| has(r, &stable) && has(r, &canary))
            .or_else(|| table.routes.iter().find(|r| has(r, &stable)))?
            .clone();
        Some((route, stable, canary))
    }

    /// The Rollout as Argo's object, with `status.canary.weights` from the live table (the
    /// proxy is in this process: what its table holds is what it serves, so verified).
    fn rollout_json(&self, name: &str) -> Option<Value> {
        let rollout = self.controller.rollout(name)?;
        let (revision, created_at) = self
            .controller
            .inner
            .lock()
            .slots
            .get(name)
            .map(|slot| (slot.record.engine.revision, slot.record.created_at.clone()))
            .unwrap_or_default();
        let mut value = serde_json::to_value(&rollout).ok()?;
        if let Some(t) = created_at {
            value["metadata"]["creationTimestamp"] = json!(t);
        }
        if revision > 0 {
            // Where Argo's controller keeps it.
            value["metadata"]["annotations"]["rollout.argoproj.io/revision"] =
                json!(revision.to_string());
        }
        if value["metadata"]["namespace"].is_null() {
            value["metadata"]["namespace"] = json!(documents::namespace(&rollout));
        }
        if let Some((route, stable, canary)) = self.route_of(name) {
            let total: u64 = route.weights.iter().map(|w| u64::from(*w)).sum();
            let percent = |service: &str| {
                let i = route.backends.iter().position(|b| &*b.name == service)?;
                let w = u64::from(route.weights[i]);
                Some((w * 100 + total / 2).checked_div(total).unwrap_or(0))
            };
            if value["spec"]["strategy"]["canary"].is_object() {
                value["status"]["canary"]["weights"] = json!({
                    "canary": {"weight": percent(&canary).unwrap_or(0), "serviceName": canary},
                    "stable": {"weight": percent(&stable).unwrap_or(0), "serviceName": stable},
                    "verified": true,
                });
            }
        }
        Some(value)
    }
}

/// What `backend` of `route` served over the last [`WINDOW`].
fn side(route: &Route, backend: &str, now: Instant) -> Option<SideStats> {
    let b = route.backends.iter().find(|b| &*b.name == backend)?;
    let (interval, from) = b.stats.window_from(now, WINDOW);
    Some(SideStats::from_window(
        interval.requests,
        interval.failures,
        now.saturating_duration_since(from),
        |q| interval.latency.value_at_quantile(q),
    ))
}

impl Source for StandaloneSource {
    fn rollouts(&self) -> BoxFuture<'_, Result<Vec<Value>, String>> {
        Box::pin(async move {
            Ok(self
                .controller
                .rollout_names()
                .iter()
                .filter_map(|n| self.rollout_json(n))
                .collect())
        })
    }

    fn experiments(&self) -> BoxFuture<'_, Result<Vec<Value>, String>> {
        Box::pin(async move {
            Ok(self
                .controller
                .experiments()
                .iter()
                .filter_map(|e| serde_json::to_value(e).ok())
                .collect())
        })
    }

    fn analysis_runs<'a>(
        &'a self,
        _namespace: &'a str,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Vec<Value>, String>> {
        Box::pin(async move {
            let runs = self.controller.analysis_runs(name).unwrap_or_default();
            Ok(runs
                .iter()
                .filter_map(|r| serde_json::to_value(r).ok())
                .collect())
        })
    }

    fn events<'a>(
        &'a self,
        _namespace: &'a str,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Vec<Value>, String>> {
        Box::pin(async move {
            let inner = self.controller.inner.lock();
            let Some(slot) = inner.slots.get(name) else {
                return Ok(Vec::new());
            };
            Ok(slot
                .record
                .events
                .iter()
                .map(|e| {
                    json!({"time": e.time, "type": if e.warning { "Warning" } else { "Normal" },
                           "reason": e.reason, "message": e.message})
                })
                .collect())
        })
    }

    fn sample<'a>(&'a self, _namespace: &'a str, name: &'a str) -> BoxFuture<'a, Option<Sample>> {
        Box::pin(async move {
            let (route, stable, canary) = self.route_of(name)?;
            let now = Instant::now();
            let mut sample = Sample::default();
            for (i, b) in route.backends.iter().enumerate() {
                let role = if *b.name == *stable {
                    "stable"
                } else if *b.name == *canary {
                    "canary"
                } else if b.name.ends_with("-baseline") {
                    // A running experiment's baseline template, beside the canary.
                    "baseline"
                } else {
                    continue;
                };
                sample.weights.insert(role.to_owned(), route.weights[i]);
                if let Some(s) = side(&route, &b.name, now) {
                    sample.sides.insert(role.to_owned(), s);
                }
            }
            Some(sample)
        })
    }

    fn act<'a>(
        &'a self,
        _namespace: &'a str,
        name: &'a str,
        action: Action,
    ) -> BoxFuture<'a, Result<(), (StatusCode, String)>> {
        Box::pin(async move {
            let command = match action {
                Action::Promote => Command::Promote,
                Action::PromoteFull => Command::PromoteFull,
                Action::Abort => Command::Abort,
                Action::Retry => Command::Retry,
                Action::Pause => Command::Pause,
                Action::Resume => Command::Resume,
            };
            self.controller
                .command(name, command)
                .await
                .map_err(|e| (StatusCode::NOT_FOUND, e))
        })
    }
}
