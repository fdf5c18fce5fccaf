//! `weir controller` end to end against the in-memory API server: the real binary, real
//! HTTP, Argo's own example Rollout (`rollout-canary.yaml`, a canary without a traffic
//! router), driven only by the patches `kubectl argo rollouts` makes.

mod support;

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::kube::{
    assert_allowed_by_rbac, merge_patch, replica_sets, rs_name, wait_for, Controller,
};
use weir_apiserver_sim::{ApiServer, Options};

const ROLLOUT: &str = "/apis/argoproj.io/v1alpha1/namespaces/default/rollouts/rollout-canary";

fn rollout(server: &ApiServer) -> Value {
    support::kube::rollout(server, "rollout-canary")
}

async fn until(
    server: &ApiServer,
    controller: &Controller,
    what: &str,
    check: impl Fn(&Value, &std::collections::BTreeMap<String, (i64, i64)>) -> bool,
) -> Value {
    support::kube::until(server, controller, "rollout-canary", what, check).await
}

use support::kube::{rollout_canary, CANARY_SERVICES as SERVICES};

/// The pod-template hash a Service selects.
/// (status, message) of the Rollout's condition of this type.
fn condition<'a>(rollout: &'a Value, type_: &str) -> (&'a str, &'a str) {
    let c = rollout["status"]["conditions"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["type"] == type_))
        .unwrap_or_else(|| panic!("no {type_} condition: {}", rollout["status"]));
    (
        c["status"].as_str().unwrap_or_default(),
        c["message"].as_str().unwrap_or_default(),
    )
}

fn selects(server: &ApiServer, service: &str) -> String {
    server.get("v1", "Service", "default", service).unwrap()["spec"]["selector"]
        ["rollouts-pod-template-hash"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn argos_canary_example_walks_its_steps_driven_by_kubectl_patches() {
    let server = ApiServer::start(Options::default()).await.unwrap();
    server
        .apply_yaml(include_str!("../deploy/crds/weir-crds.yaml"))
        .unwrap();
    server.apply_yaml(SERVICES).unwrap();
    server.apply_yaml(&rollout_canary()).unwrap();
    let controller = Controller::start(&server);

    // First sight: the template's ReplicaSet gets all five pods and becomes stable.
    let first = until(&server, &controller, "healthy at first", |r, sets| {
        r["status"]["phase"] == "Healthy"
            && r["status"]["stableRS"] == r["status"]["currentPodHash"]
            && sets.get(&rs_name(r)) == Some(&(5, 5))
            && r["status"]["availableReplicas"] == 5
    })
    .await;
    let blue = rs_name(&first);
    let blue_hash = first["status"]["currentPodHash"]
        .as_str()
        .unwrap()
        .to_owned();
    // Both Services are adopted by the fully available first version.
    wait_for(|| {
        selects(&server, "canary-stable") == blue_hash
            && selects(&server, "canary-preview") == blue_hash
    })
    .await;
    assert_eq!(first["status"]["selector"], "app=rollout-canary");

    // A new image: a new ReplicaSet, 20% of the pods (1 of 5, as Argo's basic canary
    // sizes it), then the indefinite pause.
    merge_patch(
        &server,
        ROLLOUT,
        json!({"spec": {"template": {"spec": {"containers": [{"name": "rollouts-demo", "image": "argoproj/rollouts-demo:green", "imagePullPolicy": "Always", "ports": [{"containerPort": 8080}]}]}}}}),
    )
    .await;
    let paused = until(&server, &controller, "paused at 20%", |r, sets| {
        r["status"]["phase"] == "Paused"
            && r["status"]["currentStepIndex"] == 1
            && sets.get(&rs_name(r)) == Some(&(1, 1))
            && sets.get(&blue).map(|s| s.0) == Some(4)
    })
    .await;
    let green = rs_name(&paused);
    assert_ne!(green, blue);
    // Argo's conditions on the pods: five available (Available), but not every pod is the
    // new version's (not Healthy).
    assert_eq!(
        condition(&paused, "Available"),
        ("True", "Rollout has minimum availability")
    );
    assert_eq!(
        condition(&paused, "Healthy"),
        ("False", "Rollout is not healthy")
    );
    assert_eq!(
        paused["status"]["pauseConditions"][0]["reason"],
        "CanaryPauseStep"
    );
    assert_eq!(
        paused["status"]["stableRS"],
        first["status"]["currentPodHash"]
    );
    let green_hash = paused["status"]["currentPodHash"]
        .as_str()
        .unwrap()
        .to_owned();
    wait_for(|| {
        selects(&server, "canary-preview") == green_hash
            && selects(&server, "canary-stable") == blue_hash
    })
    .await;

    // `kubectl argo rollouts promote`: the status patch clearing the pause conditions. The
    // timed pauses pass by themselves, and green becomes stable with all five pods.
    merge_patch(
        &server,
        &format!("{ROLLOUT}/status"),
        json!({"status": {"pauseConditions": null}}),
    )
    .await;
    let done = until(&server, &controller, "promoted", |r, sets| {
        r["status"]["phase"] == "Healthy"
            && r["status"]["stableRS"] == r["status"]["currentPodHash"]
            && sets.get(&green) == Some(&(5, 5))
            && sets.get(&blue).map(|s| s.0) == Some(0)
            && condition(r, "Healthy").0 == "True"
    })
    .await;
    assert_eq!(done["status"]["currentStepIndex"], 8);
    assert_eq!(done["status"]["replicas"], 5, "the old pods are gone");
    assert_eq!(
        condition(&done, "Progressing"),
        (
            "True",
            format!("ReplicaSet \"{green}\" has successfully progressed.").as_str()
        )
    );
    wait_for(|| selects(&server, "canary-stable") == green_hash).await;
    assert_eq!(selects(&server, "canary-preview"), green_hash);
    // Argo's calculated phase: Completed (tests/controller_metrics_e2e.rs has the rest).
    let metrics = controller.metrics().await;
    assert!(
        metrics.contains(
            "rollout_info{name=\"rollout-canary\",namespace=\"default\",phase=\"Completed\",strategy=\"canary\",traffic_router=\"\"} 1"
        ),
        "{metrics}"
    );

    // Another image, then `kubectl argo rollouts abort`: back to green's five pods, Degraded.
    merge_patch(
        &server,
        ROLLOUT,
        json!({"spec": {"template": {"spec": {"containers": [{"name": "rollouts-demo", "image": "argoproj/rollouts-demo:yellow", "imagePullPolicy": "Always", "ports": [{"containerPort": 8080}]}]}}}}),
    )
    .await;
    until(&server, &controller, "paused again", |r, _| {
        r["status"]["phase"] == "Paused"
    })
    .await;
    merge_patch(
        &server,
        &format!("{ROLLOUT}/status"),
        json!({"status": {"abort": true}}),
    )
    .await;
    let aborted = until(&server, &controller, "aborted", |r, sets| {
        r["status"]["phase"] == "Degraded"
            && sets.get(&green) == Some(&(5, 5))
            && sets.get(&rs_name(r)).map(|s| s.0) == Some(0)
    })
    .await;
    assert!(
        aborted["status"]["message"]
            .as_str()
            .unwrap()
            .contains("RolloutAborted"),
        "{}",
        aborted["status"]
    );
    let events = server.list("v1", "Event", "default").unwrap();
    let reasons: Vec<&str> = events.iter().filter_map(|e| e["reason"].as_str()).collect();
    assert!(reasons.contains(&"RolloutAborted"), "{reasons:?}");
    assert!(reasons.contains(&"SwitchService"), "{reasons:?}");
    assert_allowed_by_rbac(&server);
    server.shutdown();
}

/// A Rollout this controller cannot drive yet (blue-green) gets a condition saying so and
/// nothing else: no ReplicaSet, nothing half-done.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rollout_it_cannot_drive_yet_is_told_so_and_left_alone() {
    let server = ApiServer::start(Options::default()).await.unwrap();
    server
        .apply_yaml(include_str!("../deploy/crds/weir-crds.yaml"))
        .unwrap();
    // Argo's canary example routed by Istio, which weir's controller does not drive.
    let istio = rollout_canary().replace(
        "      stableService: canary-stable\n",
        "      stableService: canary-stable\n      trafficRouting:\n        istio:\n          virtualService: {name: web-vsvc, routes: [primary]}\n",
    );
    server.apply_yaml(SERVICES).unwrap();
    server.apply_yaml(&istio).unwrap();
    let controller = Controller::start(&server);
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        let r = server
            .get(
                "argoproj.io/v1alpha1",
                "Rollout",
                "default",
                "rollout-canary",
            )
            .unwrap();
        if !r["status"].is_null() {
            break r["status"].clone();
        }
        assert!(Instant::now() < deadline, "{}", controller.logs());
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(
        status["conditions"][0]["reason"], "NotSupported",
        "{status}"
    );
    assert!(
        status["message"]
            .as_str()
            .unwrap()
            .contains("does not drive canary Rollouts with a traffic router other than nginx"),
        "{status}"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(replica_sets(&server).is_empty());
    assert_allowed_by_rbac(&server);
    server.shutdown();
}

/// Up to the 20% pause with a fresh server and the example Rollout; returns the blue
/// ReplicaSet's name and the paused Rollout.
async fn paused_at_20(server: &ApiServer, controller: &Controller) -> (String, Value) {
    server
        .apply_yaml(include_str!("../deploy/crds/weir-crds.yaml"))
        .unwrap();
    server.apply_yaml(SERVICES).unwrap();
    server.apply_yaml(&rollout_canary()).unwrap();
    let first = until(server, controller, "healthy at first", |r, sets| {
        r["status"]["phase"] == "Healthy" && sets.get(&rs_name(r)) == Some(&(5, 5))
    })
    .await;
    merge_patch(
        server,
        ROLLOUT,
        json!({"spec": {"template": {"spec": {"containers": [{"name": "rollouts-demo", "image": "argoproj/rollouts-demo:green", "imagePullPolicy": "Always", "ports": [{"containerPort": 8080}]}]}}}}),
    )
    .await;
    let paused = until(server, controller, "paused at 20%", |r, sets| {
        r["status"]["phase"] == "Paused" && sets.get(&rs_name(r)) == Some(&(1, 1))
    })
    .await;
    (rs_name(&first), paused)
}

/// kill -9 mid-rollout, then a new controller: it resumes from the objects' status alone,
/// at the same step, making no ReplicaSet and moving no pod until promoted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_controller_resumes_from_the_status_alone() {
    let server = ApiServer::start(Options::default()).await.unwrap();
    let mut first = Controller::start(&server);
    let (blue, paused) = paused_at_20(&server, &first).await;
    first.kill9();
    let before = replica_sets(&server);
    let controller = Controller::start(&server);
    // A few reconciles' worth: nothing changes while the pause stands.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let still = rollout(&server);
    assert_eq!(
        still["status"]["currentStepIndex"],
        paused["status"]["currentStepIndex"]
    );
    assert_eq!(
        still["status"]["pauseConditions"],
        paused["status"]["pauseConditions"]
    );
    assert_eq!(replica_sets(&server), before, "{}", controller.logs());
    merge_patch(
        &server,
        &format!("{ROLLOUT}/status"),
        json!({"status": {"pauseConditions": null}}),
    )
    .await;
    let green = rs_name(&paused);
    until(
        &server,
        &controller,
        "promoted after the restart",
        |r, sets| {
            r["status"]["phase"] == "Healthy"
                && sets.get(&green) == Some(&(5, 5))
                && sets.get(&blue).map(|s| s.0) == Some(0)
        },
    )
    .await;
    assert_eq!(replica_sets(&server).len(), 2, "no ReplicaSet made twice");
    server.shutdown();
}

/// Two controllers: one leads (ready, acting), the other waits; when the leader dies the
/// other takes over within the lease and carries the rollout on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn of_two_controllers_one_acts_and_the_other_takes_over() {
    let server = ApiServer::start(Options::default()).await.unwrap();
    let mut a = Controller::start(&server);
    let (_, paused) = paused_at_20(&server, &a).await;
    let b = Controller::start(&server);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(a.get("/readyz").await.0, 200);
    assert_eq!(b.get("/readyz").await.0, 503, "{}", b.logs());
    assert!(b.metrics().await.contains("weir_controller_leader 0"));
    a.kill9();
    let deadline = Instant::now() + Duration::from_secs(10);
    while b.get("/readyz").await.0 != 200 {
        assert!(Instant::now() < deadline, "{}", b.logs());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    merge_patch(
        &server,
        &format!("{ROLLOUT}/status"),
        json!({"status": {"pauseConditions": null}}),
    )
    .await;
    let green = rs_name(&paused);
    until(&server, &b, "promoted by the new leader", |r, sets| {
        r["status"]["phase"] == "Healthy" && sets.get(&green) == Some(&(5, 5))
    })
    .await;
    server.shutdown();
}
