//! One Rollout reconciled against the cluster: read it and its ReplicaSets, run the engine
//! with the Rollout's own status as its state, size and create ReplicaSets as Argo does,
//! record events, and write the status back.
//!
//! The status is the engine's whole memory here: `kubectl argo rollouts` and Argo CD act
//! by patching it (`abort`, `promoteFull`, `pauseConditions: null`, `currentStepIndex`) and
//! `spec.paused`, which the engine reads exactly as it reads its own commands
//! (`engine/tests/kubectl.rs`), so a restarted controller resumes from the objects alone.
//!
//! What this adapter drives so far: canary Rollouts without a traffic router (the split is
//! the ReplicaSets' pod ratio), with Argo's nginx router (the canary Ingress) or with the
//! Gateway API plugin (HTTPRoutes, header routes included), their `setWeight`, `pause`,
//! `setCanaryScale` and `setHeaderRoute` steps, promote, abort, retry, pause. A Rollout it
//! cannot drive yet (blue-green, other routers, analysis or experiment steps) gets a
//! condition saying so and is otherwise left alone, never half-driven.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::apps::v1::ReplicaSet as K8sReplicaSet;
use kube::api::{Api, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::controller::Action as Requeue;
use kube::{Client, ResourceExt};
use serde_json::{json, Value};
use weir_config::argo::{CanaryStrategy, Rollout, RolloutStatus};

use super::hash::pod_template_hash;
use super::replicasets::{self, owned_by, with_template, REVISION_ANNOTATION};
use super::routers::Router;
use crate::analysis::Timestamp;
use crate::engine::{self, Action, EngineState, Observed, ObservedReplicas, ObservedTraffic};
use crate::replicas::canary::{
    at_desired_replica_counts_for_canary, canary_replica_counts, CanaryRollout,
};
use crate::replicas::scaledown::{
    plan_canary_older_replica_sets, CanaryScaleDown, OlderReplicaSetAction, ScaleDownContext,
    DEFAULT_RESYNC_PERIOD,
};
use crate::replicas::{self, RolloutStatusView};

/// What every reconcile shares.
pub struct Context {
    pub client: Client,
    /// Argo's `--instance-id`: only Rollouts labelled with it are this controller's; without
    /// one, only Rollouts without the label.
    pub instance_id: Option<String>,
    /// True while this replica may act (leader election; always true without it).
    pub leading: tokio::sync::watch::Receiver<bool>,
    /// The last phase seen of each Rollout, for `rollout_info` on /metrics.
    pub phases: parking_lot::Mutex<BTreeMap<(String, String), (String, String)>>,
}

pub const INSTANCE_ID_LABEL: &str = "argo-rollouts.argoproj.io/controller-instance-id";

/// Why a reconcile failed; the error policy retries it with a backoff.
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    #[error("{0}")]
    Api(#[from] kube::Error),
    #[error("{0}")]
    Json(#[from] serde_json::Error),
}

fn now() -> Timestamp {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    Timestamp::from_millis(u64::try_from(ms).unwrap_or(u64::MAX))
}

/// Reconciles one Rollout.
pub async fn reconcile(
    obj: Arc<DynamicObject>,
    ctx: Arc<Context>,
) -> Result<Requeue, ReconcileError> {
    if !*ctx.leading.borrow() {
        return Ok(Requeue::requeue(Duration::from_secs(5)));
    }
    let raw = serde_json::to_value(obj.as_ref())?;
    let ns = obj.namespace().unwrap_or_else(|| "default".to_owned());
    let name = obj.name_any();
    let label = obj.labels().get(INSTANCE_ID_LABEL);
    if label != ctx.instance_id.as_ref() {
        return Ok(Requeue::await_change());
    }
    let rollouts = rollout_api(&ctx.client, &ns);
    let rollout: Rollout = match serde_json::from_value(raw.clone()) {
        Ok(r) => r,
        Err(e) => {
            let message = format!("The Rollout \"{name}\" is invalid: {e}");
            write_condition(&rollouts, &raw, "InvalidSpec", &message).await?;
            return Ok(Requeue::await_change());
        }
    };
    let Some(canary) = rollout.spec.strategy.canary.as_ref() else {
        return not_driven(&rollouts, &raw, "blue-green Rollouts").await;
    };
    if let Some(what) = undriven_canary(canary) {
        return not_driven(&rollouts, &raw, what).await;
    }

    let rs_api: Api<K8sReplicaSet> = Api::namespaced(ctx.client.clone(), &ns);
    let uid = obj.uid().unwrap_or_default();
    let owned: Vec<K8sReplicaSet> = rs_api
        .list(&ListParams::default())
        .await?
        .items
        .into_iter()
        .filter(|rs| owned_by(rs, &uid))
        .collect();
    let status = rollout.status.clone().unwrap_or_default();
    let template = &raw["spec"]["template"];
    let weir_hash = pod_template_hash(template, status.collision_count);
    let by_name = format!("{name}-{weir_hash}");
    let new_rs = owned
        .iter()
        .find(|rs| rs.name_any() == by_name)
        .or_else(|| with_template(&owned, &super::podtemplate::defaulted(template)));
    let hash = new_rs
        .and_then(|rs| {
            rs.labels()
                .get(super::hash::POD_TEMPLATE_HASH_LABEL)
                .cloned()
        })
        .unwrap_or(weir_hash);
    let revision = obj
        .annotations()
        .get(REVISION_ANNOTATION)
        .and_then(|r| r.parse().ok())
        .unwrap_or(0);
    let views: Vec<replicas::ReplicaSet> = owned.iter().map(replicasets::view).collect();
    let replicas = replicas::replicas_or_default(rollout.spec.replicas);

    // The split a basic canary serves is its pods: the weights asked for are in effect once
    // the ReplicaSets reach the counts they ask for (Argo's AtDesiredReplicaCountsForCanary).
    let mut view = RolloutStatusView::of(&rollout);
    view.current_pod_hash = hash.clone();
    let (new_v, stable_v, older) = split(&views, &hash, &status.stable_rs);
    let had_new = new_v.is_some();
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
    let router = match Router::of(&name, &ns, canary) {
        Ok(r) => r,
        Err(e) => {
            write_condition(&rollouts, &raw, "InvalidSpec", &e).await?;
            return Ok(Requeue::await_change());
        }
    };
    let traffic = match &router {
        // The weight the router's objects carry is the weight served (ingress-nginx, a
        // Gateway API implementation, or weir's proxy, splits by it).
        Some(r) => r
            .observed_weight(&ctx.client, &ns, &raw)
            .await?
            .map(|w| ObservedTraffic {
                canary_weight: w,
                stable_weight: r.stable_weight(w, crate::engine::steps::max_weight(canary)),
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
    let managed_routes_set = match &router {
        Some(r) => r.managed_routes_set(&ctx.client).await?,
        None => false,
    };
    let state = EngineState {
        status: status.clone(),
        revision,
        paused: None,
        spec_paused: rollout.spec.paused,
        managed_routes_set,
        experiments: Vec::new(),
    };
    let observed = Observed {
        canary_hash: hash.clone(),
        stable_hash: status.stable_rs.clone(),
        traffic,
        replicas: Some(ObservedReplicas {
            new_available: new_v.map_or(0, |v| v.available_replicas),
            at_desired,
        }),
        ..Observed::default()
    };
    let out = engine::reconcile(&rollout, &state, &observed, &[], now());

    // ReplicaSets for the status the engine decided.
    let mut next = rollout.clone();
    next.status = Some(out.state.status.clone());
    let mut next_view = RolloutStatusView::of(&next);
    next_view.current_pod_hash = hash.clone();
    let mut views = views;
    if !had_new {
        let fresh = replicasets::new_replica_set(&raw, &hash, out.state.revision.max(1));
        let created = match rs_api
            .create(&PostParams::default(), &serde_json::from_value(fresh)?)
            .await
        {
            Ok(rs) => rs,
            // Made since the list (a previous reconcile's create): read it.
            Err(kube::Error::Api(e)) if e.code == 409 => {
                rs_api.get(&format!("{name}-{hash}")).await?
            }
            Err(e) => return Err(e.into()),
        };
        tracing::info!(rollout = %name, replicaset = %created.name_any(), "created ReplicaSet");
        views.push(replicasets::view(&created));
    }
    let (new_v, stable_v, older) = split(&views, &hash, &next_view.stable_rs);
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
    let all_available = replicas::total_available_replicas(views.iter());
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
    for action in &plan.actions {
        match action {
            OlderReplicaSetAction::Scale { name, replicas } => {
                scales.push((name.clone(), *replicas))
            }
            OlderReplicaSetAction::SetScaleDownDeadline { name, at } => {
                let patch = json!({"metadata": {"annotations": {
                    replicas::SCALE_DOWN_DEADLINE_ANNOTATION: replicas::scaledown::format_deadline(*at)
                }}});
                rs_api
                    .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
                    .await?;
            }
        }
    }
    for (rs, count) in &scales {
        let patch = json!({
            "metadata": {"annotations": {replicasets::DESIRED_REPLICAS_ANNOTATION: replicas.to_string()}},
            "spec": {"replicas": count},
        });
        rs_api
            .patch(rs, &PatchParams::default(), &Patch::Merge(&patch))
            .await?;
        tracing::info!(rollout = %name, replicaset = %rs, replicas = count, "scaled ReplicaSet");
    }

    point_services(&ctx.client, &ns, &raw, canary, &views, &hash, &next_view).await?;

    for action in &out.actions {
        match action {
            Action::Event(ev) => {
                record_event(&ctx.client, &raw, &ev.reason, &ev.message, ev.warning).await
            }
            Action::SetWeights { canary: weight, .. } => {
                if let Some(r) = &router {
                    let result = r.set_weight(&ctx.client, &ns, &raw, *weight).await;
                    routing_error(&ctx.client, &raw, result).await;
                }
            }
            Action::SetHeaderRoute {
                name: route,
                matches,
            } => {
                if let Some(r) = &router {
                    let result = r.set_header_route(&ctx.client, route, matches).await;
                    routing_error(&ctx.client, &raw, result).await;
                }
            }
            Action::RemoveManagedRoutes => {
                if let Some(r) = &router {
                    let result = r.remove_managed_routes(&ctx.client).await;
                    routing_error(&ctx.client, &raw, result).await;
                }
            }
            Action::SetMirrorRoute { name: route, .. } => {
                // The Gateway API plugin's SetMirrorRoute does nothing; neither does weir.
                tracing::info!(rollout = %name, %route, "setMirrorRoute is not carried out by this traffic router");
            }
            Action::StartAnalysis(start) => {
                tracing::warn!(rollout = %name, run = %start.name, "analysis runs are not driven by weir's Kubernetes controller yet");
            }
            _ => {}
        }
    }

    // Status: the engine's, with the ReplicaSets' counts as Argo reports them.
    let mut written = out.state.status.clone();
    fill_replica_counts(&mut written, &views, &hash, &raw);
    write_status(&rollouts, &raw, &written, out.state.revision, revision).await?;
    ctx.phases.lock().insert(
        (ns.clone(), name.clone()),
        ("canary".to_owned(), written.phase.clone()),
    );
    let requeue = match (out.requeue_at, plan.requeue_after) {
        (Some(at), _) => Duration::from_millis(at.as_millis().saturating_sub(now().as_millis())),
        (None, Some(d)) => d,
        (None, None) if !scales.is_empty() => Duration::from_secs(1),
        (None, None) => Duration::from_secs(300),
    };
    Ok(Requeue::requeue(requeue.max(Duration::from_millis(200))))
}

/// Points the stable Service at the stable ReplicaSet and the canary Service at the new
/// one (or at the stable one once aborted), as [`super::services::selector_patch`] rules.
async fn point_services(
    client: &Client,
    ns: &str,
    raw: &Value,
    canary: &CanaryStrategy,
    views: &[replicas::ReplicaSet],
    hash: &str,
    status: &RolloutStatusView,
) -> Result<(), ReconcileError> {
    let rollout = raw["metadata"]["name"].as_str().unwrap_or_default();
    let by_hash = |h: &str| views.iter().find(|v| !h.is_empty() && v.hash() == h);
    // Aborted: the canary Service goes back to the stable pods; with a traffic router at
    // once (no weight reaches it), without one once they are available.
    let canary_target = if status.abort {
        by_hash(&status.stable_rs)
    } else {
        by_hash(hash)
    };
    let routed_abort = status.abort && canary.traffic_routing.is_some();
    let services: Api<k8s_openapi::api::core::v1::Service> = Api::namespaced(client.clone(), ns);
    for (service, target, check) in [
        (&canary.stable_service, by_hash(&status.stable_rs), true),
        (&canary.canary_service, canary_target, !routed_abort),
    ] {
        let (Some(target), false) = (target, service.is_empty()) else {
            continue;
        };
        let Some(svc) = services.get_opt(service).await? else {
            tracing::warn!(%rollout, %service, "the Rollout's Service does not exist");
            record_event(
                client,
                raw,
                "ServiceNotFound",
                &format!("Service '{service}' not found"),
                true,
            )
            .await;
            continue;
        };
        let current = serde_json::to_value(&svc)?;
        let target = super::services::Target {
            hash: target.hash(),
            spec_replicas: target.spec_replicas,
            available_replicas: target.available_replicas,
        };
        if let Some(patch) = super::services::selector_patch(&current, &target, rollout, check) {
            services
                .patch(service, &PatchParams::default(), &Patch::Strategic(&patch))
                .await?;
            let old = current["spec"]["selector"][super::hash::POD_TEMPLATE_HASH_LABEL]
                .as_str()
                .unwrap_or_default();
            let message = format!(
                "Switched selector for service '{service}' from '{old}' to '{}'",
                target.hash
            );
            tracing::info!(%rollout, "{message}");
            record_event(client, raw, "SwitchService", &message, false).await;
        }
    }
    Ok(())
}

/// The new, the stable and the other ReplicaSets of `views`, by hash. The stable one is
/// `None` when it is the new one (the first version, or a rollback to the stable).
fn split<'a>(
    views: &'a [replicas::ReplicaSet],
    hash: &str,
    stable: &str,
) -> (
    Option<&'a replicas::ReplicaSet>,
    Option<&'a replicas::ReplicaSet>,
    Vec<replicas::ReplicaSet>,
) {
    let new = views.iter().find(|v| v.hash() == hash);
    let stable = views
        .iter()
        .find(|v| !stable.is_empty() && stable != hash && v.hash() == stable);
    let older = views
        .iter()
        .filter(|v| v.hash() != hash && v.hash() != stable.map_or("", |s| s.hash()))
        .cloned()
        .collect();
    (new, stable, older)
}

/// What of a canary this adapter does not drive yet, if anything.
fn undriven_canary(canary: &CanaryStrategy) -> Option<&'static str> {
    if let Some(what) = super::routers::unsupported(canary) {
        return Some(what);
    }
    if canary.analysis.is_some() {
        return Some("canary Rollouts with background analysis");
    }
    canary.steps.iter().find_map(|s| {
        if s.analysis.is_some() {
            Some("canary Rollouts with analysis steps")
        } else if s.experiment.is_some() {
            Some("canary Rollouts with experiment steps")
        } else {
            None
        }
    })
}

fn rollout_api(client: &Client, ns: &str) -> Api<DynamicObject> {
    Api::namespaced_with(client.clone(), ns, &rollout_resource())
}

/// argoproj.io/v1alpha1 Rollout, for dynamic access.
pub fn rollout_resource() -> kube::core::ApiResource {
    kube::core::ApiResource::from_gvk_with_plural(
        &kube::core::GroupVersionKind::gvk("argoproj.io", "v1alpha1", "Rollout"),
        "rollouts",
    )
}

/// `status.replicas` and friends from the ReplicaSets, and the selector the scale
/// subresource (and so an HPA) reads.
fn fill_replica_counts(
    status: &mut RolloutStatus,
    views: &[replicas::ReplicaSet],
    hash: &str,
    raw: &Value,
) {
    status.replicas = Some(replicas::total_status_replicas(views.iter()));
    status.available_replicas = Some(replicas::total_available_replicas(views.iter()));
    status.ready_replicas = status.available_replicas;
    status.updated_replicas = Some(
        views
            .iter()
            .filter(|v| v.hash() == hash)
            .map(|v| v.status_replicas)
            .sum(),
    );
    status.hpa_replicas = status.replicas;
    status.selector = selector_string(&raw["spec"]["selector"]);
}

/// `a=b,c=d` from a label selector's matchLabels (what `status.selector` holds).
fn selector_string(selector: &Value) -> String {
    selector["matchLabels"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default()
}

/// Writes `status` through the status subresource, preconditioned on the resourceVersion
/// read (a concurrent write is a 409, retried with a fresh read), and the revision
/// annotation when it changed.
async fn write_status(
    rollouts: &Api<DynamicObject>,
    raw: &Value,
    status: &RolloutStatus,
    revision: u64,
    old_revision: u64,
) -> Result<(), ReconcileError> {
    let name = raw["metadata"]["name"].as_str().unwrap_or_default();
    let new_status = serde_json::to_value(status)?;
    if raw.get("status") != Some(&new_status) {
        // The whole status replaced (a merge patch could not remove what the engine
        // cleared, pauseConditions say), preconditioned on the resourceVersion read.
        let mut object = raw.clone();
        object["status"] = new_status;
        let object: DynamicObject = serde_json::from_value(object)?;
        match rollouts
            .replace_status(name, &PostParams::default(), &object)
            .await
        {
            Ok(_) => {}
            // Someone wrote in between (a kubectl patch, another reconcile): the next
            // reconcile reads it and decides again. The annotation waits with it, so the
            // two never disagree.
            Err(kube::Error::Api(e)) if e.code == 409 => {
                tracing::debug!(rollout = name, "status write conflicted; reading again");
                return Ok(());
            }
            Err(e) => return Err(e.into()),
        }
    }
    if revision != old_revision {
        let patch =
            json!({"metadata": {"annotations": {REVISION_ANNOTATION: revision.to_string()}}});
        rollouts
            .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
            .await?;
    }
    Ok(())
}

/// Sets a condition (and Degraded phase) on a Rollout weir does not drive as it is.
async fn write_condition(
    rollouts: &Api<DynamicObject>,
    raw: &Value,
    reason: &str,
    message: &str,
) -> Result<(), ReconcileError> {
    let name = raw["metadata"]["name"].as_str().unwrap_or_default();
    let stamp = crate::engine::clock::format_time(now());
    let patch = json!({"status": {
        "phase": "Degraded",
        "message": format!("{reason}: {message}"),
        "conditions": [{
            "type": "InvalidSpec", "status": "True", "reason": reason, "message": message,
            "lastTransitionTime": stamp, "lastUpdateTime": stamp,
        }],
    }});
    rollouts
        .patch_status(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await?;
    Ok(())
}

async fn not_driven(
    rollouts: &Api<DynamicObject>,
    raw: &Value,
    what: &str,
) -> Result<Requeue, ReconcileError> {
    let message = format!(
        "weir's Kubernetes controller does not drive {what} yet; the Rollout is left as it is"
    );
    let already = raw["status"]["message"]
        .as_str()
        .is_some_and(|m| m.contains(&message));
    if !already {
        tracing::warn!(rollout = %raw["metadata"]["name"], "{message}");
        write_condition(rollouts, raw, "NotSupported", &message).await?;
    }
    Ok(Requeue::await_change())
}

/// A router write that failed: logged and recorded as Argo's TrafficRoutingError event; the
/// weight stays unverified, so the engine asks again.
async fn routing_error(client: &Client, rollout: &Value, result: Result<(), String>) {
    if let Err(e) = result {
        tracing::warn!(rollout = %rollout["metadata"]["name"], "{e}");
        record_event(client, rollout, "TrafficRoutingError", &e, true).await;
    }
}

/// A core/v1 Event on the Rollout, with Argo's reason; failures are logged, never fatal.
async fn record_event(
    client: &Client,
    rollout: &Value,
    reason: &str,
    message: &str,
    warning: bool,
) {
    let ns = rollout["metadata"]["namespace"]
        .as_str()
        .unwrap_or("default");
    let stamp = crate::engine::clock::format_time(now());
    let event = json!({
        "apiVersion": "v1", "kind": "Event",
        "metadata": {"generateName": format!("{}.", rollout["metadata"]["name"].as_str().unwrap_or("rollout")), "namespace": ns},
        "involvedObject": {
            "apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout",
            "name": rollout["metadata"]["name"], "namespace": ns, "uid": rollout["metadata"]["uid"],
        },
        "reason": reason, "message": message, "type": if warning { "Warning" } else { "Normal" },
        "source": {"component": "rollouts-controller"},
        "firstTimestamp": stamp, "lastTimestamp": stamp, "count": 1,
    });
    let events: Api<k8s_openapi::api::core::v1::Event> = Api::namespaced(client.clone(), ns);
    match serde_json::from_value(event) {
        Ok(e) => {
            if let Err(err) = events.create(&PostParams::default(), &e).await {
                tracing::warn!("recording event {reason}: {err}");
            }
        }
        Err(err) => tracing::warn!("building event {reason}: {err}"),
    }
}
