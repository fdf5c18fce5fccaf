//! Carrying out the engine's actions for one Rollout: traffic on the proxy, analysis runs
//! started or stopped, promotion of the stable service, events.

use super::controller::{Controller, Slot};
use super::documents;
use super::runs::{start_run, terminate_run};
use super::store::StoredBackend;
use super::store::StoredEvent;
use super::traffic;
use crate::analysis::Timestamp;
use crate::engine::clock::format_time;
use crate::engine::experiment::ExperimentAction;
use crate::engine::{Action, Event, ServiceAction};

/// Events kept per rollout for `weir rollouts get`.
const EVENTS_KEPT: usize = 50;

impl Controller {
    pub(super) fn apply(
        &self,
        name: &str,
        slot: &mut Slot,
        action: Action,
        canary_eps: &[String],
        now: Timestamp,
    ) {
        let ns = documents::namespace(&slot.rollout);
        match action {
            Action::SetWeights { canary, stable } => {
                match traffic::set_weights(
                    &self.proxy,
                    &slot.routes,
                    &slot.stable_service,
                    &slot.canary_service,
                    stable,
                    canary,
                ) {
                    Ok(generation) => {
                        tracing::info!(rollout = name, canary, stable, generation, "weights set")
                    }
                    Err(e) => tracing::error!(rollout = name, "cannot set weights: {e}"),
                }
            }
            Action::SetHeaderRoute {
                name: route_name,
                matches,
            } => {
                for route in &slot.routes {
                    let hr = (!matches.is_empty()).then(|| {
                        traffic::header_route(&route_name, &matches, &slot.canary_service)
                    });
                    if let Err(e) = self.proxy.set_managed_header_route(route, &route_name, hr) {
                        tracing::error!(
                            rollout = name,
                            "cannot set header route {route_name}: {e}"
                        );
                    }
                }
                if matches.is_empty() {
                    slot.record.header_routes.remove(&route_name);
                } else {
                    slot.record.header_routes.insert(route_name, matches);
                }
            }
            Action::SetMirrorRoute {
                name: route_name,
                percentage,
                matches,
            } => {
                for route in &slot.routes {
                    let m = (!matches.is_empty()).then(|| {
                        traffic::mirror(&route_name, percentage, &matches, &slot.canary_service)
                    });
                    if let Err(e) = self.proxy.set_managed_mirror(route, &route_name, m) {
                        tracing::error!(
                            rollout = name,
                            "cannot set mirror route {route_name}: {e}"
                        );
                    }
                }
                if matches.is_empty() {
                    slot.record.mirrors.remove(&route_name);
                } else {
                    slot.record
                        .mirrors
                        .insert(route_name, (percentage, matches));
                }
            }
            Action::RemoveManagedRoutes => {
                for route in &slot.routes {
                    let _ = self.proxy.clear_managed_routes(route);
                }
                slot.record.header_routes.clear();
                slot.record.mirrors.clear();
            }
            Action::StartAnalysis(start) => start_run(
                &format!("rollout {name}"),
                &mut slot.runs,
                &slot.record.runs,
                &start,
                now,
            ),
            Action::TerminateAnalysis { name: run_name } => {
                terminate_run(&mut slot.runs, &run_name, now)
            }
            Action::PromoteStable { pod_hash } => {
                match self
                    .proxy
                    .set_service_endpoints(&slot.stable_service, canary_eps.to_vec())
                {
                    Ok(_) => {
                        slot.record.stable_endpoints = Some(canary_eps.to_vec());
                        tracing::info!(rollout = name, %pod_hash, stable = %slot.stable_service, endpoints = ?canary_eps, "stable service now serves the promoted version");
                    }
                    Err(e) => tracing::error!(rollout = name, "cannot promote: {e}"),
                }
            }
            Action::Event(ev) => {
                if ev.warning {
                    tracing::warn!(namespace = %ns, rollout = name, reason = %ev.reason, "{}", ev.message);
                } else {
                    tracing::info!(namespace = %ns, rollout = name, reason = %ev.reason, "{}", ev.message);
                }
                record_event(&mut slot.record.events, ev, now);
            }
        }
    }

    /// Blue-green's service actions. In standalone mode a version is an endpoint list, so
    /// the switch is one endpoint override of the active service: one route-table swap.
    pub(super) fn apply_service(&self, name: &str, slot: &mut Slot, action: ServiceAction) {
        match action {
            ServiceAction::SetPreview { pod_hash } => {
                tracing::info!(rollout = name, %pod_hash, preview = %slot.canary_service, "preview service serves the new version");
            }
            ServiceAction::SwitchActive { pod_hash } => {
                let Some(eps) = slot.record.versions.get(&pod_hash).cloned() else {
                    tracing::error!(rollout = name, %pod_hash, "cannot switch: no endpoints recorded for this version");
                    return;
                };
                match self
                    .proxy
                    .set_service_endpoints(&slot.stable_service, eps.clone())
                {
                    Ok(generation) => {
                        tracing::info!(rollout = name, %pod_hash, active = %slot.stable_service, endpoints = ?eps, generation, "active service switched");
                        slot.record.stable_endpoints = Some(eps);
                    }
                    Err(e) => {
                        tracing::error!(rollout = name, "cannot switch the active service: {e}")
                    }
                }
            }
            ServiceAction::ScaleDownOld { pod_hash, at } => {
                // Pools outlive route tables, so requests in flight on the old version
                // finish on their connections; the endpoints stay recorded so a later
                // switch back is still possible.
                tracing::info!(rollout = name, %pod_hash, until = %format_time(at), "old version leaves the active service; it stays known for a switch back");
            }
        }
    }

    /// An experiment's backends join the managed routes while it runs (one table swap),
    /// and leave when it ends.
    pub(super) fn apply_experiment(
        &self,
        name: &str,
        slot: &mut Slot,
        action: ExperimentAction,
        canary_eps: &[String],
        stable_eps: &[String],
    ) {
        match action {
            ExperimentAction::Start {
                name: experiment,
                templates,
                ..
            } => {
                let backends: Vec<StoredBackend> = templates
                    .iter()
                    .map(|t| StoredBackend {
                        template: t.name.clone(),
                        backend: format!("{experiment}-{}", t.name),
                        endpoints: match t.spec_ref.as_str() {
                            "stable" => stable_eps.to_vec(),
                            "canary" => canary_eps.to_vec(),
                            other => self.proxy.service_endpoints(other).unwrap_or_default(),
                        },
                        weight: t.weight.unwrap_or(0).max(0) as u32,
                    })
                    .collect();
                for route in &slot.routes {
                    if let Err(e) =
                        self.proxy
                            .set_extra_backends(route, &experiment, extra_backends(&backends))
                    {
                        tracing::error!(rollout = name, %experiment, "cannot add the experiment's backends: {e}");
                        return;
                    }
                }
                tracing::info!(rollout = name, %experiment, backends = ?backends.iter().map(|b| (&b.backend, b.weight)).collect::<Vec<_>>(), "experiment backends serving");
                slot.record.experiments.insert(experiment, backends);
            }
            ExperimentAction::Stop { name: experiment } => {
                for route in &slot.routes {
                    let _ = self
                        .proxy
                        .set_extra_backends(route, &experiment, Vec::new());
                }
                if slot.record.experiments.remove(&experiment).is_some() {
                    tracing::info!(rollout = name, %experiment, "experiment backends removed");
                }
            }
        }
    }
}

/// Keeps an event for `weir rollouts get` / `weir experiments get`: the newest
/// [`EVENTS_KEPT`].
pub(super) fn record_event(events: &mut Vec<StoredEvent>, ev: Event, now: Timestamp) {
    events.push(StoredEvent {
        time: format_time(now),
        reason: ev.reason,
        message: ev.message,
        warning: ev.warning,
    });
    let excess = events.len().saturating_sub(EVENTS_KEPT);
    events.drain(..excess);
}

pub(super) fn extra_backends(stored: &[StoredBackend]) -> Vec<weir_proxy::ExtraBackend> {
    stored
        .iter()
        .map(|b| weir_proxy::ExtraBackend {
            name: b.backend.clone(),
            endpoints: b.endpoints.clone(),
            weight: b.weight,
        })
        .collect()
}
