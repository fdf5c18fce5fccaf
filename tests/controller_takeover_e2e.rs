//! Switching a cluster from Argo's controller to weir's: a Rollout Argo was managing, paused
//! at a canary step, with the ReplicaSets, pods and status exactly as Argo left them (its
//! own pod-template hashes, which weir does not reproduce), is taken over in place: no
//! ReplicaSet made, no pod restarted, the same step, and then driven to the end.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{json, Value};
use support::kube::{assert_allowed_by_rbac, replica_sets, until, Controller};
use weir_apiserver_sim::{ApiServer, Options};

/// Argo's hashes for the two templates (computed by Argo's controller from a Go debug
/// print; any valid name will do, and they are not weir's).
const STABLE: &str = "6f9c8d7b54";
const CANARY: &str = "58b4c9d7f6";

fn template(image: &str, hash: Option<&str>) -> Value {
    let mut labels = json!({"app": "web"});
    if let Some(h) = hash {
        labels["rollouts-pod-template-hash"] = json!(h);
    }
    json!({
        "metadata": {"labels": labels},
        "spec": {"containers": [{"name": "web", "image": image, "ports": [{"containerPort": 8080}]}]},
    })
}

/// A ReplicaSet as Argo's controller makes it for `rollout`.
fn argos_replica_set(
    rollout: &Value,
    hash: &str,
    image: &str,
    replicas: i64,
    revision: &str,
) -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {
            "name": format!("web-{hash}"),
            "namespace": "default",
            "labels": {"app": "web", "rollouts-pod-template-hash": hash},
            "annotations": {
                "rollout.argoproj.io/revision": revision,
                "rollout.argoproj.io/desired-replicas": "5",
            },
            "ownerReferences": [{
                "apiVersion": "argoproj.io/v1alpha1",
                "kind": "Rollout",
                "name": "web",
                "uid": rollout["metadata"]["uid"],
                "controller": true,
                "blockOwnerDeletion": true,
            }],
        },
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "web", "rollouts-pod-template-hash": hash}},
            "template": template(image, Some(hash)),
        },
    })
}

/// The pods: name -> uid.
fn pods(server: &ApiServer) -> BTreeMap<String, String> {
    server
        .list("v1", "Pod", "default")
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["metadata"]["name"].as_str().unwrap().to_owned(),
                p["metadata"]["uid"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn selects(server: &ApiServer, service: &str) -> Value {
    server.get("v1", "Service", "default", service).unwrap()["spec"]["selector"]
        ["rollouts-pod-template-hash"]
        .clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rollout_argo_was_managing_is_taken_over_in_place() {
    let server = ApiServer::start(Options {
        pod_ready_delay: Duration::from_millis(100),
        ..Options::default()
    })
    .await
    .unwrap();
    server
        .apply_yaml(include_str!("../deploy/crds/weir-crds.yaml"))
        .unwrap();
    let rollout = server
        .create(json!({
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "Rollout",
            "metadata": {
                "name": "web",
                "namespace": "default",
                "annotations": {"rollout.argoproj.io/revision": "2"},
            },
            "spec": {
                "replicas": 5,
                "selector": {"matchLabels": {"app": "web"}},
                "template": template("web:2", None),
                "strategy": {"canary": {
                    "stableService": "web-stable",
                    "canaryService": "web-canary",
                    "steps": [{"setWeight": 20}, {"pause": {}}, {"setWeight": 60}, {"pause": {}}],
                }},
            },
        }))
        .unwrap();
    for (name, hash) in [("web-stable", STABLE), ("web-canary", CANARY)] {
        server
            .create(json!({
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": name, "namespace": "default",
                    "annotations": {"argo-rollouts.argoproj.io/managed-by-rollouts": "web"}},
                "spec": {
                    "selector": {"app": "web", "rollouts-pod-template-hash": hash},
                    "ports": [{"port": 80, "targetPort": 8080}],
                },
            }))
            .unwrap();
    }
    server
        .create(argos_replica_set(&rollout, STABLE, "web:1", 4, "1"))
        .unwrap();
    server
        .create(argos_replica_set(&rollout, CANARY, "web:2", 1, "2"))
        .unwrap();
    // Argo's status at the first pause: step 1 of 4, 1 of 5 pods on the canary.
    let mut paused = server
        .get("argoproj.io/v1alpha1", "Rollout", "default", "web")
        .unwrap();
    paused["status"] = json!({
        "phase": "Paused",
        "message": "CanaryPauseStep",
        "currentPodHash": CANARY,
        "stableRS": STABLE,
        "currentStepIndex": 1,
        // Argo's ComputeStepHash of these steps: FNV-1a of
        // `[{"setWeight":20},{"pause":{}},{"setWeight":60},{"pause":{}}]`, safe-encoded.
        "currentStepHash": "b8dc68f97",
        "pauseConditions": [{"reason": "CanaryPauseStep", "startTime": "2026-12-05T08:00:00Z"}],
        "controllerPause": true,
        "observedGeneration": "1",
        "replicas": 5, "updatedReplicas": 1, "readyReplicas": 5, "availableReplicas": 5,
        "HPAReplicas": 5,
        "selector": "app=web",
        "canary": {},
        "conditions": [
            {"type": "Progressing", "status": "Unknown", "reason": "RolloutPaused", "message": "Rollout is paused",
             "lastUpdateTime": "2026-12-05T08:00:00Z", "lastTransitionTime": "2026-12-05T08:00:00Z"},
            {"type": "Paused", "status": "True", "reason": "RolloutPaused", "message": "Rollout is paused",
             "lastUpdateTime": "2026-12-05T08:00:00Z", "lastTransitionTime": "2026-12-05T08:00:00Z"},
        ],
    });
    server.update_status(paused).unwrap();
    let sets_before = {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let sets = replica_sets(&server);
            if sets.values().map(|s| s.1).sum::<i64>() == 5 {
                break sets;
            }
            assert!(std::time::Instant::now() < deadline, "{sets:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    let pods_before = pods(&server);
    assert_eq!(pods_before.len(), 5);

    // weir's controller starts: nothing moves while the pause stands.
    let controller = Controller::start(&server);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let r = support::kube::rollout(&server, "web");
    assert_eq!(
        r["status"]["currentStepIndex"],
        1,
        "{}\n{}",
        r["status"],
        controller.logs()
    );
    assert_eq!(r["status"]["phase"], "Paused", "{}", r["status"]);
    assert_eq!(r["status"]["currentPodHash"], CANARY);
    assert_eq!(r["status"]["stableRS"], STABLE);
    assert_eq!(replica_sets(&server), sets_before, "{}", controller.logs());
    assert_eq!(pods(&server), pods_before, "no pod restarted");
    assert_eq!(selects(&server, "web-stable"), STABLE);
    assert_eq!(selects(&server, "web-canary"), CANARY);

    // Promoted: the next weight with Argo's ReplicaSets, then the end.
    let promote = |server: &ApiServer| {
        let mut r = support::kube::rollout(server, "web");
        r["status"]
            .as_object_mut()
            .unwrap()
            .remove("pauseConditions");
        server.update_status(r).unwrap();
    };
    promote(&server);
    let canary = format!("web-{CANARY}");
    let stable = format!("web-{STABLE}");
    until(&server, &controller, "web", "at 60%", |r, sets| {
        r["status"]["currentStepIndex"] == 3
            && r["status"]["phase"] == "Paused"
            && sets.get(&canary) == Some(&(3, 3))
            && sets.get(&stable).map(|s| s.0) == Some(2)
    })
    .await;
    promote(&server);
    let done = until(&server, &controller, "web", "promoted", |r, sets| {
        r["status"]["phase"] == "Healthy"
            && r["status"]["stableRS"] == CANARY
            && sets.get(&canary) == Some(&(5, 5))
    })
    .await;
    assert_eq!(done["status"]["currentPodHash"], CANARY);
    let names: Vec<String> = replica_sets(&server).into_keys().collect();
    assert_eq!(
        names,
        [canary.clone(), stable.clone()],
        "no ReplicaSet made"
    );
    assert_eq!(selects(&server, "web-stable"), CANARY);
    assert_eq!(
        done["metadata"]["annotations"]["rollout.argoproj.io/revision"],
        "2"
    );
    let rs = server
        .get("apps/v1", "ReplicaSet", "default", &canary)
        .unwrap();
    assert_eq!(
        rs["metadata"]["annotations"]["rollout.argoproj.io/revision"],
        "2"
    );
    assert_allowed_by_rbac(&server);
    server.shutdown();
}
