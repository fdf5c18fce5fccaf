//! `weir controller` with Argo's in-tree nginx router, on Argo's nginx getting-started
//! manifests (a Rollout with `trafficRouting.nginx.stableIngress`, its Ingress and
//! Services), against the in-memory API server: the canary Ingress carries the weight only
//! once the canary's pod is up, the Services select the right ReplicaSets, and promotion
//! ends with all traffic on the new version and the old one given Argo's scale-down delay.

mod support;

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::kube::{
    assert_allowed_by_rbac, merge_patch, rollout_path, rs_name, until, Controller,
};
use weir_apiserver_sim::{ApiServer, Options};

const NGINX: [&str; 3] = [
    include_str!("../config/tests/data/argo-examples/nginx/services.yaml"),
    include_str!("../config/tests/data/argo-examples/nginx/ingress.yaml"),
    include_str!("../config/tests/data/argo-examples/nginx/rollout.yaml"),
];

const CANARY_INGRESS: &str = "rollouts-demo-rollouts-demo-stable-canary";

fn canary_ingress(server: &ApiServer) -> Option<Value> {
    server
        .get("networking.k8s.io/v1", "Ingress", "default", CANARY_INGRESS)
        .ok()
}

fn weight(server: &ApiServer) -> Option<String> {
    canary_ingress(server)?["metadata"]["annotations"]["nginx.ingress.kubernetes.io/canary-weight"]
        .as_str()
        .map(str::to_owned)
}

fn selects(server: &ApiServer, service: &str) -> String {
    server.get("v1", "Service", "default", service).unwrap()["spec"]["selector"]
        ["rollouts-pod-template-hash"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn argos_nginx_getting_started_walks_to_healthy() {
    // Pods take a second to become ready, so the weight can be seen to wait for them.
    let server = ApiServer::start(Options {
        pod_ready_delay: Duration::from_secs(1),
        ..Options::default()
    })
    .await
    .unwrap();
    server
        .apply_yaml(include_str!("../deploy/crds/weir-crds.yaml"))
        .unwrap();
    for doc in NGINX {
        server.apply_yaml(doc).unwrap();
    }
    let controller = Controller::start(&server);
    let first = until(
        &server,
        &controller,
        "rollouts-demo",
        "healthy",
        |r, sets| r["status"]["phase"] == "Healthy" && sets.get(&rs_name(r)) == Some(&(1, 1)),
    )
    .await;
    let blue = first["status"]["currentPodHash"]
        .as_str()
        .unwrap()
        .to_owned();
    // At rest the canary Ingress exists and sends nothing to the canary.
    let deadline = Instant::now() + Duration::from_secs(10);
    while weight(&server).as_deref() != Some("0") {
        assert!(
            Instant::now() < deadline,
            "{:?}\n{}",
            canary_ingress(&server),
            controller.logs()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let ingress = canary_ingress(&server).unwrap();
    assert_eq!(
        ingress["metadata"]["annotations"]["nginx.ingress.kubernetes.io/canary"],
        "true"
    );
    assert_eq!(
        ingress["metadata"]["annotations"]["kubernetes.io/ingress.class"],
        "nginx"
    );
    assert_eq!(
        ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"],
        "rollouts-demo-canary"
    );
    assert_eq!(
        ingress["metadata"]["ownerReferences"][0]["uid"],
        first["metadata"]["uid"]
    );

    // The yellow image: a canary pod, then 5% of the traffic to it, then the pause.
    merge_patch(
        &server,
        &rollout_path("rollouts-demo"),
        json!({"spec": {"template": {"spec": {"containers": [{"name": "rollouts-demo", "image": "argoproj/rollouts-demo:yellow", "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}], "resources": {"requests": {"memory": "32Mi", "cpu": "5m"}}}]}}}}),
    )
    .await;
    let paused = until(
        &server,
        &controller,
        "rollouts-demo",
        "paused at 5%",
        |r, sets| r["status"]["phase"] == "Paused" && sets.get(&rs_name(r)) == Some(&(1, 1)),
    )
    .await;
    let yellow = paused["status"]["currentPodHash"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(weight(&server).as_deref(), Some("5"));
    assert_eq!(selects(&server, "rollouts-demo-canary"), yellow);
    assert_eq!(selects(&server, "rollouts-demo-stable"), blue);
    let sets = support::kube::replica_sets(&server);
    assert_eq!(
        sets.get(&format!("rollouts-demo-{blue}")),
        Some(&(1, 1)),
        "stable keeps its pod"
    );

    // kubectl argo rollouts promote: all traffic to yellow, which becomes stable; the
    // canary Ingress goes back to 0 and blue gets Argo's scale-down deadline.
    merge_patch(
        &server,
        &format!("{}/status", rollout_path("rollouts-demo")),
        json!({"status": {"pauseConditions": null}}),
    )
    .await;
    until(&server, &controller, "rollouts-demo", "promoted", |r, _| {
        r["status"]["phase"] == "Healthy" && r["status"]["stableRS"] == json!(yellow)
    })
    .await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let blue_rs = server
            .get(
                "apps/v1",
                "ReplicaSet",
                "default",
                &format!("rollouts-demo-{blue}"),
            )
            .unwrap();
        let deadline_set = blue_rs["metadata"]["annotations"]["scale-down-deadline"].is_string();
        if weight(&server).as_deref() == Some("0")
            && selects(&server, "rollouts-demo-stable") == yellow
            && deadline_set
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{blue_rs}\n{}",
            controller.logs()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let events = server.list("v1", "Event", "default").unwrap();
    assert!(events.iter().any(|e| e["reason"] == "TrafficWeightUpdated"));
    assert_allowed_by_rbac(&server);
    server.shutdown();
}
