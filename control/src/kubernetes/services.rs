//! Pointing a canary Rollout's `stableService` and `canaryService` at ReplicaSets, as Argo's
//! `reconcileStableAndCanaryService` and `ensureSVCTargets` do (commit 9f8d111d8f):
//!
//! - the stable Service selects the stable ReplicaSet's hash, the canary Service the new
//!   one's (or the stable one's once aborted without a traffic router);
//! - the `rollouts-pod-template-hash` selector is written with a strategic merge patch,
//!   with the `argo-rollouts.argoproj.io/managed-by-rollouts: <rollout>` annotation the first
//!   time (adopting the Service);
//! - a Service being adopted switches only to a fully available ReplicaSet; afterwards, to
//!   one with at least one available pod, so a Service never points at nothing.

use serde_json::{json, Value};

use super::hash::POD_TEMPLATE_HASH_LABEL;

/// The annotation Argo marks the Services it manages with.
pub const MANAGED_BY_ANNOTATION: &str = "argo-rollouts.argoproj.io/managed-by-rollouts";

/// The ReplicaSet a Service should select, as the rule reads it.
#[derive(Clone, Copy, Debug)]
pub struct Target<'a> {
    pub hash: &'a str,
    pub spec_replicas: i32,
    pub available_replicas: i32,
}

/// The patch that points `service` at `target`, or `None` when it already does or must
/// wait (the ReplicaSet not available enough yet, when `check_availability`: Argo skips the
/// check only when an abort sends a traffic-routed canary Service back to stable).
pub fn selector_patch(
    service: &Value,
    target: &Target,
    rollout: &str,
    check_availability: bool,
) -> Option<Value> {
    let current = service["spec"]["selector"][POD_TEMPLATE_HASH_LABEL].as_str();
    if current == Some(target.hash) {
        return None;
    }
    let managed = service["metadata"]["annotations"]
        .get(MANAGED_BY_ANNOTATION)
        .is_some();
    let fully = target.spec_replicas != 0
        && target.available_replicas != 0
        && target.spec_replicas <= target.available_replicas;
    if check_availability && ((!managed && !fully) || target.available_replicas == 0) {
        return None;
    }
    let mut patch = json!({"spec": {"selector": {POD_TEMPLATE_HASH_LABEL: target.hash}}});
    if !managed {
        patch["metadata"] = json!({"annotations": {MANAGED_BY_ANNOTATION: rollout}});
    }
    Some(patch)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service(hash: Option<&str>, managed: bool) -> Value {
        let mut s =
            json!({"metadata": {"name": "web-canary"}, "spec": {"selector": {"app": "web"}}});
        if let Some(h) = hash {
            s["spec"]["selector"][POD_TEMPLATE_HASH_LABEL] = json!(h);
        }
        if managed {
            s["metadata"]["annotations"] = json!({MANAGED_BY_ANNOTATION: "web"});
        }
        s
    }

    fn target(hash: &str, spec: i32, available: i32) -> Target<'_> {
        Target {
            hash,
            spec_replicas: spec,
            available_replicas: available,
        }
    }

    #[test]
    fn a_service_is_adopted_only_by_a_fully_available_replica_set() {
        assert_eq!(
            selector_patch(&service(None, false), &target("h2", 3, 2), "web", true),
            None
        );
        assert_eq!(
            selector_patch(&service(None, false), &target("h2", 3, 3), "web", true),
            Some(json!({
                "metadata": {"annotations": {MANAGED_BY_ANNOTATION: "web"}},
                "spec": {"selector": {POD_TEMPLATE_HASH_LABEL: "h2"}},
            }))
        );
    }

    #[test]
    fn a_managed_service_switches_to_any_replica_set_with_a_pod() {
        let managed = service(Some("h1"), true);
        assert_eq!(
            selector_patch(&managed, &target("h2", 5, 0), "web", true),
            None
        );
        assert_eq!(
            selector_patch(&managed, &target("h2", 5, 1), "web", true),
            Some(json!({"spec": {"selector": {POD_TEMPLATE_HASH_LABEL: "h2"}}}))
        );
        assert_eq!(
            selector_patch(&managed, &target("h1", 5, 5), "web", true),
            None
        );
    }

    #[test]
    fn a_service_already_selecting_the_hash_is_left_alone() {
        assert_eq!(
            selector_patch(
                &service(Some("h1"), false),
                &target("h1", 0, 0),
                "web",
                true
            ),
            None
        );
    }

    #[test]
    fn without_the_availability_check_the_switch_happens_at_once() {
        assert_eq!(
            selector_patch(
                &service(Some("h2"), true),
                &target("h1", 5, 0),
                "web",
                false
            ),
            Some(json!({"spec": {"selector": {POD_TEMPLATE_HASH_LABEL: "h1"}}}))
        );
    }
}
