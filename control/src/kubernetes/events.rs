//! What a reconcile tells outside the Rollout's status: Kubernetes Events with Argo's
//! reasons (counted for `/metrics`), a condition written on a Rollout weir does not drive as
//! it is, and a traffic router's failure (an event, and the reconcile failed).

use kube::api::{Api, DynamicObject, Patch, PatchParams, PostParams};
use kube::Client;
use serde_json::{json, Value};

use super::rollouts::{now, ReconcileError};

/// Sets a condition (and Degraded phase) on a Rollout weir does not drive as it is.
pub(super) async fn write_condition(
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

/// A router write that failed: logged and recorded as Argo's TrafficRoutingError event; the
/// weight stays unverified, so the engine asks again.
pub(super) async fn routing_error(
    client: &Client,
    rollout: &Value,
    result: Result<(), String>,
) -> Result<(), ReconcileError> {
    if let Err(e) = result {
        record_event(client, rollout, "TrafficRoutingError", &e, true).await;
        return Err(ReconcileError::Action(e));
    }
    Ok(())
}

/// A core/v1 Event on the Rollout (or the Experiment: the object's own `kind`), with Argo's
/// reason; failures are logged, never fatal.
pub(super) async fn record_event(
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
            "apiVersion": "argoproj.io/v1alpha1", "kind": rollout["kind"].as_str().unwrap_or("Rollout"),
            "name": rollout["metadata"]["name"], "namespace": ns, "uid": rollout["metadata"]["uid"],
        },
        "reason": reason, "message": message, "type": if warning { "Warning" } else { "Normal" },
        "source": {"component": "rollouts-controller"},
        "firstTimestamp": stamp, "lastTimestamp": stamp, "count": 1,
    });
    super::metrics::count_event(
        ns,
        rollout["metadata"]["name"].as_str().unwrap_or_default(),
        warning,
        reason,
    );
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
