//! A canary Rollout's own part of the reconcile: the split it serves (its pods, or the
//! traffic router's objects), the engine, the ReplicaSets sized as Argo's canary sizes them,
//! the stable and canary Services, and the router's writes.

use kube::runtime::controller::Action as Requeue;
use weir_config::argo::CanaryStrategy;

use super::analysisruns::{carry_out, observe, RolloutRuns};
use super::events::{record_event, routing_error, write_condition};
use super::rollouts::{
    fill_replica_counts, now, point_service, requeue_after, split, Context, ReconcileError,
    Snapshot,
};
use super::routers::Router;
use super::step_experiments::RolloutExperiments;
use crate::engine::{self, Action, Observed, ObservedReplicas, ObservedTraffic};
use crate::replicas::canary::{
    at_desired_replica_counts_for_canary, canary_replica_counts, CanaryRollout,
};
use crate::replicas::scaledown::{
    plan_canary_older_replica_sets, CanaryScaleDown, ScaleDownContext, DEFAULT_RESYNC_PERIOD,
};
use crate::replicas::{self, RolloutStatusView};

/// What of a canary this adapter does not drive, if anything.
pub fn undriven(canary: &CanaryStrategy) -> Option<&'static str> {
    if let Some(what) = super::routers::unsupported(canary) {
        return Some(what);
    }
    None
}

pub(super) async fn reconcile(
    ctx: &Context,
    snap: &mut Snapshot,
    canary: &CanaryStrategy,
) -> Result<Requeue, ReconcileError> {
    let (name, ns, hash) = (snap.name.clone(), snap.ns.clone(), snap.hash.clone());
    let status = snap.status.clone();
    let replicas = snap.replicas;

    // The split a basic canary serves is its pods: the weights asked for are in effect once
    // the ReplicaSets reach the counts they ask for (Argo's AtDesiredReplicaCountsForCanary).
    let view = snap.view_of(&status);
    let (new_v, stable_v, older) = split(&snap.views, &hash, &status.stable_rs);
    let status_weights = status
        .canary
        .as_ref()
        .and_then(|c| c.weights.as_ref())
        .map(replicas::TrafficWeights::from);
    let at_desired = at_desired_replica_counts_for_canary(
        &CanaryRollout {
            replicas,
            strategy: canary,
            status: &view,
        },
        new_v,
        stable_v,
        &older,
        status_weights.as_ref(),
    );
    let new_available = new_v.map_or(0, |v| v.available_replicas);
    let router = match Router::of(&name, &ns, canary) {
        Ok(r) => r,
        Err(e) => {
            write_condition(&snap.rollouts, &snap.raw, "InvalidSpec", &e).await?;
            return Ok(Requeue::await_change());
        }
    };
    let additional = |s: &weir_config::argo::RolloutStatus| {
        s.canary
            .as_ref()
            .and_then(|c| c.weights.as_ref())
            .map(|w| w.additional.clone())
            .unwrap_or_default()
    };
    let traffic = match &router {
        // The weight the router's objects carry is the weight served (ingress-nginx, a
        // Gateway API implementation, or weir's proxy, splits by it).
        Some(r) => r
            .observed_weights(
                &ctx.client,
                &ns,
                &snap.raw,
                crate::engine::steps::max_weight(canary),
                &additional(&status),
            )
            .await?
            .map(|(canary_weight, stable_weight)| ObservedTraffic {
                canary_weight,
                stable_weight,
                generation: 0,
            }),
        // Without a router the pods are the split: the weights asked for are served once
        // the ReplicaSets have the pods they ask for.
        None => status
            .canary
            .as_ref()
            .and_then(|c| c.weights.as_ref())
            .filter(|_| at_desired)
            .map(|w| ObservedTraffic {
                canary_weight: w.canary.weight,
                stable_weight: w.stable.weight,
                generation: 0,
            }),
    };
    // Served by weir's proxies (`--proxy-service`): the weight is the one every replica
    // serves, which is what `weights.verified` then means.
    let mut served_by_proxies = false;
    let traffic = match (&router, ctx.runs.fleet()) {
        (Some(r), Some(fleet)) => match r.served_by_proxies(fleet, &ns).await {
            None => traffic,
            Some(served) => {
                served_by_proxies = true;
                served.map(|(canary_weight, stable_weight)| ObservedTraffic {
                    canary_weight,
                    stable_weight,
                    generation: 0,
                })
            }
        },
        _ => traffic,
    };
    let managed_routes_set = match &router {
        Some(r) => r.managed_routes_set(&ctx.client).await?,
        None => false,
    };
    let runs = RolloutRuns::new(&ctx.client, &ns, &snap.raw);
    let uses_analysis =
        canary.analysis.is_some() || canary.steps.iter().any(|s| s.analysis.is_some());
    let (analysis_runs, templates) = observe(&runs, uses_analysis).await?;
    let observed = Observed {
        canary_hash: hash.clone(),
        stable_hash: status.stable_rs.clone(),
        traffic,
        analysis_runs,
        templates,
        replicas: Some(ObservedReplicas {
            new_available,
            at_desired,
        }),
        pods: Some(snap.pod_counts()),
    };
    // Experiment steps: the Rollout's Experiments as their objects stand; their own
    // controller runs them ([`super::experiments`]).
    let experiments = if canary.steps.iter().any(|s| s.experiment.is_some()) {
        Some(RolloutExperiments::read(&ctx.client, &ns, &snap.raw).await?)
    } else {
        None
    };
    let mut state = snap.engine_state(managed_routes_set);
    let out = match &experiments {
        Some(e) => {
            state.experiments = e.engine_experiments(&snap.rollout);
            engine::reconcile_with_experiment_objects(&snap.rollout, &state, &observed, &[], now())
        }
        None => engine::reconcile(&snap.rollout, &state, &observed, &[], now()),
    };

    // ReplicaSets for the status the engine decided.
    snap.ensure_new_replica_set(out.state.revision).await?;
    let next_view = snap.view_of(&out.state.status);
    let (new_v, stable_v, older) = split(&snap.views, &hash, &next_view.stable_rs);
    let cr = CanaryRollout {
        replicas,
        strategy: canary,
        status: &next_view,
    };
    let next_weights = out
        .state
        .status
        .canary
        .as_ref()
        .and_then(|c| c.weights.as_ref())
        .map(replicas::TrafficWeights::from);
    let counts = canary_replica_counts(&cr, new_v, stable_v, &older, next_weights.as_ref());
    let mut scales: Vec<(String, i32)> = Vec::new();
    if let Some(n) = new_v.filter(|n| n.spec_replicas != counts.canary) {
        scales.push((n.name.clone(), counts.canary));
    }
    if let Some(s) = stable_v.filter(|s| s.spec_replicas != counts.stable) {
        scales.push((s.name.clone(), counts.stable));
    }
    let all_available = replicas::total_available_replicas(snap.views.iter());
    let referenced = |rs: &replicas::ReplicaSet| {
        !rs.hash().is_empty() && (rs.hash() == next_view.stable_rs || rs.hash() == hash)
    };
    let plan = plan_canary_older_replica_sets(
        &CanaryScaleDown {
            rollout: cr,
            all_available,
            target_groups_verified: true,
        },
        &older,
        &ScaleDownContext {
            now: now(),
            resync_period: DEFAULT_RESYNC_PERIOD,
            is_referenced: &referenced,
        },
    );
    snap.older_plan(&plan, &mut scales).await?;
    snap.scale(&scales).await?;

    point_services(ctx, snap, canary, &next_view).await?;

    for action in &out.actions {
        match action {
            Action::Event(ev) => {
                record_event(&ctx.client, &snap.raw, &ev.reason, &ev.message, ev.warning).await
            }
            Action::SetWeights { canary: weight, .. } => {
                if let Some(r) = &router {
                    let result = r
                        .set_weight(
                            &ctx.client,
                            &ns,
                            &snap.raw,
                            *weight,
                            &additional(&out.state.status),
                            &additional(&snap.status),
                        )
                        .await;
                    routing_error(&ctx.client, &snap.raw, result).await?;
                }
            }
            Action::SetHeaderRoute {
                name: route,
                matches,
            } => {
                if let Some(r) = &router {
                    let result = r.set_header_route(&ctx.client, route, matches).await;
                    routing_error(&ctx.client, &snap.raw, result).await?;
                }
            }
            Action::RemoveManagedRoutes => {
                if let Some(r) = &router {
                    let result = r.remove_managed_routes(&ctx.client).await;
                    routing_error(&ctx.client, &snap.raw, result).await?;
                }
            }
            Action::SetMirrorRoute { name: route, .. } => {
                // The Gateway API plugin's SetMirrorRoute does nothing; neither does weir.
                tracing::info!(rollout = %name, %route, "setMirrorRoute is not carried out by this traffic router");
            }
            _ => {}
        }
    }
    carry_out(&runs, &out.actions, &hash, out.state.revision).await?;
    runs.prune(&out.state.status, &snap.replica_set_hashes, &snap.rollout)
        .await?;
    if let Some(e) = &experiments {
        e.carry_out(
            &snap.raw,
            out.state.revision,
            &hash,
            &out.state.status.stable_rs,
            &out.state.experiments,
            &snap.rs_api,
        )
        .await?;
        let current = out
            .state
            .status
            .canary
            .as_ref()
            .map(|c| c.current_experiment.as_str())
            .filter(|c| !c.is_empty());
        e.prune(
            &out.state.status,
            current,
            &snap.replica_set_hashes,
            &snap.rollout,
        )
        .await?;
    }

    // Status: the engine's, with the ReplicaSets' counts as Argo reports them.
    let mut written = out.state.status.clone();
    fill_replica_counts(&mut written, &snap.views, &hash, &snap.raw);
    snap.finish(&written, out.state.revision).await?;
    // Weights weir's proxies do not serve yet are looked at again soon: the proxies swap
    // a change in tens of milliseconds and their `/routes` is cheap to read, where Argo's
    // 10 s retry is sized for a cloud load balancer's API.
    let unverified = out
        .state
        .status
        .canary
        .as_ref()
        .and_then(|c| c.weights.as_ref())
        .is_some_and(|w| w.verified == Some(false));
    let engine_at = match (served_by_proxies && unverified, out.requeue_at) {
        (true, at) => {
            let soon = now().saturating_add(PROXY_VERIFY_RETRY);
            Some(at.map_or(soon, |at| at.min(soon)))
        }
        (false, at) => at,
    };
    Ok(requeue_after(
        snap.sooner(engine_at),
        plan.requeue_after,
        !scales.is_empty(),
    ))
}

/// How soon weights not yet served by every weir proxy replica are looked at again.
const PROXY_VERIFY_RETRY: std::time::Duration = std::time::Duration::from_millis(250);

/// Points the stable Service at the stable ReplicaSet and the canary Service at the new
/// one (or at the stable one once aborted), as Argo's `ensureSVCTargets` does.
async fn point_services(
    ctx: &Context,
    snap: &Snapshot,
    canary: &CanaryStrategy,
    status: &RolloutStatusView,
) -> Result<(), ReconcileError> {
    // Aborted: the canary Service goes back to the stable pods; with a traffic router at
    // once (no weight reaches it), without one once they are available.
    let canary_target = if status.abort {
        snap.by_hash(&status.stable_rs)
    } else {
        snap.by_hash(&snap.hash)
    };
    let routed_abort = status.abort && canary.traffic_routing.is_some();
    for (service, target, check) in [
        (
            &canary.stable_service,
            snap.by_hash(&status.stable_rs),
            true,
        ),
        (&canary.canary_service, canary_target, !routed_abort),
    ] {
        let (Some(target), false) = (target, service.is_empty()) else {
            continue;
        };
        point_service(
            &ctx.client,
            &snap.ns,
            &snap.raw,
            service,
            target,
            check,
            true,
        )
        .await?;
    }
    Ok(())
}
