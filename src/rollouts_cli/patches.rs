//! The merge patches `kubectl argo rollouts` sends for promote, abort, retry and pause, and
//! where it sends them, so that `weir rollouts` on a cluster does to a Rollout exactly what
//! Argo's plugin does (and weir's controller, like Argo's, acts on the result). Pure: the
//! Rollout as read in, the patches out; `cluster.rs` sends them.
//!
//! Facts from Argo Rollouts' `pkg/kubectl-argo-rollouts/cmd/{promote,abort,retry,pause}`:
//! a status patch goes to the status subresource first, and when that is 404 (a CRD
//! without a status subresource, Argo Rollouts before v0.10) the unified patch goes to the
//! object instead; a spec patch goes to the object.

use serde_json::{json, Value};
use weir_config::argo::Rollout;

/// The patches of one command.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Patches {
    /// Sent to the object (`PATCH rollouts/NAME`), after the status patch.
    pub spec: Option<Value>,
    /// Sent first, to the status subresource (`PATCH rollouts/NAME/status`).
    pub status: Option<Value>,
    /// Sent to the object in place of `spec` when the status patch is answered 404.
    pub unified: Option<Value>,
}

/// `abort`: `status.abort` set, on the status subresource.
pub fn abort() -> Patches {
    status_first(json!({"status": {"abort": true}}))
}

/// `retry rollout`: `status.abort` cleared, on the status subresource.
pub fn retry() -> Patches {
    status_first(json!({"status": {"abort": false}}))
}

/// `pause`: `spec.paused` set, on the object only.
pub fn pause() -> Patches {
    Patches {
        spec: Some(json!({"spec": {"paused": true}})),
        ..Patches::default()
    }
}

/// Resume (Argo's dashboard's unpause, the reverse of `pause`): `spec.paused` cleared, on
/// the object only.
pub fn resume() -> Patches {
    Patches {
        spec: Some(json!({"spec": {"paused": false}})),
        ..Patches::default()
    }
}

/// `promote` (`full: false`) or `promote --full` of `r` as it was read (the plugin's
/// `getPatches` without the deprecated skip flags).
pub fn promote(r: &Rollout, full: bool) -> Patches {
    let default = Default::default();
    let status = r.status.as_ref().unwrap_or(&default);
    let unpause = r.spec.paused.then(|| json!({"spec": {"paused": false}}));
    if full {
        return Patches {
            spec: unpause,
            // Nothing to promote when the canary is already the stable version.
            status: (status.current_pod_hash != status.stable_rs)
                .then(|| json!({"status": {"promoteFull": true}})),
            unified: Some(json!({"spec": {"paused": false}, "status": {"promoteFull": true}})),
        };
    }
    let mut patches = Patches {
        spec: unpause,
        status: None,
        unified: Some(json!({"spec": {"paused": false}, "status": {"pauseConditions": null}})),
    };
    let paused_by_conditions = !status.pause_conditions.is_empty();
    if inconclusive(r) && paused_by_conditions && status.controller_pause {
        // An Inconclusive step analysis paused the rollout: resume it past that step, or a
        // pause step right after would hold it.
        patches.status = step_after_current(r).map(|next| {
            json!({"status": {
                "pauseConditions": null,
                "controllerPause": false,
                "currentStepIndex": next,
            }})
        });
    } else if paused_by_conditions {
        patches.status = Some(json!({"status": {"pauseConditions": null}}));
    } else if r.spec.strategy.canary.is_some() {
        // Not paused by a condition (running an analysis, an experiment, a timed pause):
        // skip the current step. A paused rollout, above, only has its conditions cleared.
        if let Some(next) = step_after_current(r) {
            patches.status =
                Some(json!({"status": {"pauseConditions": null, "currentStepIndex": next}}));
            patches.unified = Some(json!({
                "spec": {"paused": false},
                "status": {"pauseConditions": null, "currentStepIndex": next},
            }));
        }
    }
    patches
}

fn status_first(patch: Value) -> Patches {
    Patches {
        spec: None,
        status: Some(patch.clone()),
        unified: Some(patch),
    }
}

/// The plugin's `isInconclusive`: a canary whose current step's analysis is Inconclusive.
fn inconclusive(r: &Rollout) -> bool {
    r.spec.strategy.canary.is_some()
        && r.status
            .as_ref()
            .and_then(|s| s.canary.as_ref())
            .and_then(|c| c.current_step_analysis_run_status.as_ref())
            .is_some_and(|run| run.status == "Inconclusive")
}

/// Argo's `GetCurrentCanaryStep` index (0 when unset) moved one step on unless it is already
/// past the last step; `None` for a rollout that is not a canary with steps.
fn step_after_current(r: &Rollout) -> Option<i32> {
    let steps = r.spec.strategy.canary.as_ref()?.steps.len();
    if steps == 0 {
        return None;
    }
    let index = r
        .status
        .as_ref()
        .and_then(|s| s.current_step_index)
        .unwrap_or(0);
    let steps = i32::try_from(steps).unwrap_or(i32::MAX);
    Some(if index < steps { index + 1 } else { index })
}
