//! The line a list shows for a Rollout or an Experiment, from Argo's objects.

use crate::key;
use serde_json::{json, Value};

/// A Rollout's summary: phase, step, weights (the step's set weight and the live one,
/// verified or not), revision, age, as the page's list and header show them.
pub fn summary(r: &Value) -> Value {
    let (namespace, name) = key(r);
    let status = &r["status"];
    let blue_green = r["spec"]["strategy"]["blueGreen"].is_object();
    let canary = &r["spec"]["strategy"]["canary"];
    let steps = canary["steps"].as_array();
    let index = status["currentStepIndex"].as_u64();
    let aborted = status["abort"].as_bool().unwrap_or(false);
    let weights = &status["canary"]["weights"];
    let paused = status["pauseConditions"]
        .as_array()
        .is_some_and(|p| !p.is_empty())
        || r["spec"]["paused"].as_bool().unwrap_or(false)
        || status["controllerPause"].as_bool().unwrap_or(false);
    json!({
        "namespace": namespace,
        "name": name,
        "strategy": if blue_green { "blueGreen" } else { "canary" },
        "phase": status["phase"].as_str().unwrap_or("Progressing"),
        "message": status["message"].as_str().unwrap_or_default(),
        "stepIndex": index,
        "stepCount": steps.map_or(0, Vec::len),
        "setWeight": (!blue_green).then(|| set_weight(steps.map_or(&[][..], Vec::as_slice), index, aborted)),
        "actualWeight": weights["canary"]["weight"].as_u64(),
        "weightsVerified": weights["verified"].as_bool(),
        "revision": r["metadata"]["annotations"]["rollout.argoproj.io/revision"].as_str(),
        "createdAt": r["metadata"]["creationTimestamp"].as_str(),
        "aborted": aborted,
        "paused": paused,
    })
}

/// The canary weight the steps set by now, as Argo's `GetCurrentSetWeight`: 0 once
/// aborted, 100 past the last step (or with none), else the last `setWeight` at or before
/// the current step (0 before any).
fn set_weight(steps: &[Value], index: Option<u64>, aborted: bool) -> u64 {
    if aborted {
        return 0;
    }
    let index = index.unwrap_or(0) as usize;
    if index >= steps.len() {
        return 100;
    }
    steps[..=index]
        .iter()
        .rev()
        .find_map(|s| s["setWeight"].as_u64())
        .unwrap_or(0)
}

/// An Experiment's summary, with the Rollout that owns it (if one does).
pub fn experiment(e: &Value) -> Value {
    let (namespace, name) = key(e);
    let rollout = e["metadata"]["ownerReferences"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|o| o["kind"] == "Rollout")
        .and_then(|o| o["name"].as_str());
    json!({
        "namespace": namespace,
        "name": name,
        "phase": e["status"]["phase"].as_str().unwrap_or("Pending"),
        "message": e["status"]["message"].as_str().unwrap_or_default(),
        "createdAt": e["metadata"]["creationTimestamp"].as_str(),
        "rollout": rollout,
    })
}
