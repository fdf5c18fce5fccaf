//! On Kubernetes nobody sends the engine a command: `kubectl argo rollouts` (and Argo CD's
//! resource actions) patch the Rollout's spec and status, and the controller reads the
//! patched status as its state. These rows check that the engine reaches the same place
//! either way: the standalone [`Command`], or the JSON merge patches the plugin sends
//! (read from its `promote`, `abort`, `retry`, `pause` and `skip-current-step` sources,
//! commit 9f8d111d8f), applied to the Rollout and its status before the next reconcile.

use super::*;

/// RFC 7386: what a merge patch does to a JSON document.
fn merge_patch(target: &mut Value, patch: &Value) {
    let Some(patch) = patch.as_object() else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = json!({});
    }
    for (k, v) in patch {
        if v.is_null() {
            target.as_object_mut().unwrap().remove(k);
        } else {
            merge_patch(&mut target[k], v);
        }
    }
}

#[derive(Clone, Copy, Debug)]
enum Kubectl {
    Promote,
    PromoteFull,
    SkipCurrentStep,
    Abort,
    Retry,
    Pause,
}

/// The plugin's patches for `action` on a Rollout in `state`: (spec patch, status patch),
/// as its `getPatches` and the other commands build them.
fn patches(w: &World, action: Kubectl) -> (Option<Value>, Option<Value>) {
    let status = w.status();
    let paused = w.rollout.spec.paused;
    let steps = w
        .rollout
        .spec
        .strategy
        .canary
        .as_ref()
        .map_or(0, |c| c.steps.len() as i32);
    let next = || {
        let i = status.current_step_index.unwrap_or(0);
        if i < steps {
            i + 1
        } else {
            i
        }
    };
    let unpause = paused.then(|| json!({"paused": false}));
    match action {
        Kubectl::Abort => (None, Some(json!({"abort": true}))),
        Kubectl::Retry => (None, Some(json!({"abort": false}))),
        Kubectl::Pause => (Some(json!({"paused": true})), None),
        Kubectl::SkipCurrentStep => (None, Some(json!({"currentStepIndex": next()}))),
        Kubectl::PromoteFull => (
            unpause,
            (status.current_pod_hash != status.stable_rs).then(|| json!({"promoteFull": true})),
        ),
        Kubectl::Promote => {
            let inconclusive = status
                .canary
                .as_ref()
                .and_then(|c| c.current_step_analysis_run_status.as_ref())
                .is_some_and(|r| r.status == "Inconclusive");
            let status_patch = if inconclusive
                && !status.pause_conditions.is_empty()
                && status.controller_pause
            {
                json!({"pauseConditions": null, "controllerPause": false, "currentStepIndex": next()})
            } else if !status.pause_conditions.is_empty() {
                json!({"pauseConditions": null})
            } else {
                json!({"pauseConditions": null, "currentStepIndex": next()})
            };
            (unpause, Some(status_patch))
        }
    }
}

/// Applies the plugin's patches for `action` to the world's Rollout and status.
fn kubectl(w: &mut World, action: Kubectl) {
    let (spec, status) = patches(w, action);
    if let Some(spec) = spec {
        let mut rollout = serde_json::to_value(&w.rollout).unwrap();
        merge_patch(&mut rollout["spec"], &spec);
        w.rollout = serde_json::from_value(rollout).unwrap();
    }
    if let Some(status) = status {
        let mut value = serde_json::to_value(&w.state.status).unwrap();
        merge_patch(&mut value, &status);
        w.state.status = serde_json::from_value(value).unwrap();
    }
}

/// The standalone command that stands for `action`.
fn command(action: Kubectl) -> Command {
    match action {
        Kubectl::Promote | Kubectl::SkipCurrentStep => Command::Promote,
        Kubectl::PromoteFull => Command::PromoteFull,
        Kubectl::Abort => Command::Abort,
        Kubectl::Retry => Command::Retry,
        Kubectl::Pause => Command::Pause,
    }
}

/// Runs `action` both ways on copies of `w` and checks they end in the same status, the
/// same weights and the same analysis runs asked for.
fn same_either_way(w: &World, action: Kubectl) -> World {
    let mut by_command = World {
        history: Vec::new(),
        ..w.clone()
    };
    by_command.command(&[command(action)]);
    by_command.settle();
    let mut by_patch = World {
        history: Vec::new(),
        ..w.clone()
    };
    kubectl(&mut by_patch, action);
    by_patch.settle();
    assert_eq!(
        serde_json::to_value(by_patch.status()).unwrap(),
        serde_json::to_value(by_command.status()).unwrap(),
        "{action:?}"
    );
    assert_eq!(
        by_patch.observed.traffic, by_command.observed.traffic,
        "{action:?}"
    );
    assert_eq!(
        effects(&by_patch.history),
        effects(&by_command.history),
        "{action:?}"
    );
    by_patch
}

#[test]
fn promote_out_of_a_pause_step_either_way() {
    let mut w = World::healthy(four_steps());
    w.deploy("c2");
    assert_eq!(w.pause_reasons(), ["CanaryPauseStep"]);
    let after = same_either_way(&w, Kubectl::Promote);
    assert_eq!(after.step(), Some(3));
    assert_eq!(after.served(), (40, 60));
}

#[test]
fn skip_current_step_and_promote_full_either_way() {
    let mut w = World::healthy(four_steps());
    w.deploy("c2");
    let after = same_either_way(&w, Kubectl::SkipCurrentStep);
    assert_eq!(after.step(), Some(3));
    let full = same_either_way(&w, Kubectl::PromoteFull);
    assert_eq!(full.status().stable_rs, "c2");
    assert_eq!(full.phase().0, "Healthy");
}

#[test]
fn abort_then_retry_either_way() {
    let mut w = World::healthy(four_steps());
    w.deploy("c2");
    let aborted = same_either_way(&w, Kubectl::Abort);
    assert_eq!(aborted.phase().0, "Degraded");
    assert_eq!(aborted.served(), (0, 100));
    let retried = same_either_way(&aborted, Kubectl::Retry);
    assert_eq!(retried.served(), (20, 80));
}

#[test]
fn a_manual_pause_and_its_promotion_either_way() {
    let mut w = World::healthy(
        json!({"steps": [{"setWeight": 20}, {"pause": {"duration": "1h"}}, {"setWeight": 60}]}),
    );
    w.deploy("c2");
    let paused = same_either_way(&w, Kubectl::Pause);
    assert_eq!(paused.phase().0, "Paused");
    assert!(
        paused.rollout.spec.paused,
        "kubectl pauses through spec.paused"
    );
    // Promote unpauses (spec.paused: false) and clears every pause condition, the timed
    // step's too, as Argo's does: the rollout goes on past that step to the end.
    let resumed = same_either_way(&paused, Kubectl::Promote);
    assert!(!resumed.rollout.spec.paused);
    assert_eq!(resumed.step(), Some(3));
    assert_eq!(resumed.phase().0, "Healthy");
}

#[test]
fn promote_out_of_an_inconclusive_analysis_either_way() {
    let mut w = World::healthy(json!({"steps": [
        {"setWeight": 20},
        {"analysis": {"templates": [{"templateName": "rate"}]}},
        {"pause": {}},
    ]}));
    w.observed
        .templates
        .namespaced
        .insert("rate".into(), success_rate_template());
    w.deploy("c2");
    let (run, _) = w
        .step_run()
        .map(|(n, s)| (n.to_owned(), s.to_owned()))
        .unwrap();
    w.set_run(&run, AnalysisPhase::Inconclusive, "too few requests");
    w.settle();
    assert_eq!(w.pause_reasons(), ["InconclusiveAnalysisRun"]);
    let after = same_either_way(&w, Kubectl::Promote);
    assert_eq!(after.step(), Some(2));
}
