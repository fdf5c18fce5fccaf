//! `weir controller` with blue-green Rollouts, against the in-memory API server: Argo's own
//! `rollout-bluegreen.yaml` (manual promotion) walked through a promotion and an abort with
//! only the patches `kubectl argo rollouts` makes, checking the preview and active Services,
//! the ReplicaSets (the old one kept until its scale-down deadline, an aborted one held for
//! `abortScaleDownDelaySeconds`) and the status at each stage; and `previewReplicaCount`.

mod support;

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::kube::{
    assert_allowed_by_rbac, merge_patch, replica_sets, rollout_path, rs_name, until, Controller,
};
use weir_apiserver_sim::{ApiServer, Options};

const NAME: &str = "rollout-bluegreen";
const ACTIVE: &str = "rollout-bluegreen-active";
const PREVIEW: &str = "rollout-bluegreen-preview";

fn selects(server: &ApiServer, service: &str) -> String {
    server.get("v1", "Service", "default", service).unwrap()["spec"]["selector"]
        ["rollouts-pod-template-hash"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

fn replica_set(server: &ApiServer, hash: &str) -> Value {
    server
        .get(
            "apps/v1",
            "ReplicaSet",
            "default",
            &format!("{NAME}-{hash}"),
        )
        .unwrap()
}

async fn server() -> ApiServer {
    let server = ApiServer::start(Options {
        pod_ready_delay: Duration::from_millis(300),
        ..Options::default()
    })
    .await
    .unwrap();
    server
        .apply_yaml(include_str!("../deploy/crds/weir-crds.yaml"))
        .unwrap();
    server
}

async fn set_image(server: &ApiServer, image: &str) {
    merge_patch(
        server,
        &rollout_path(NAME),
        json!({"spec": {"template": {"spec": {"containers": [{"name": "rollouts-demo", "image": image, "imagePullPolicy": "Always", "ports": [{"containerPort": 8080}]}]}}}}),
    )
    .await;
}

async fn status_patch(server: &ApiServer, patch: Value) {
    merge_patch(
        server,
        &format!("{}/status", rollout_path(NAME)),
        json!({ "status": patch }),
    )
    .await;
}

/// Polls until `check` holds for the ReplicaSet of `hash`, or fails with the log.
async fn replica_set_until(
    server: &ApiServer,
    controller: &Controller,
    hash: &str,
    what: &str,
    check: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let rs = replica_set(server, hash);
        if check(&rs) {
            return rs;
        }
        assert!(
            Instant::now() < deadline,
            "ReplicaSet {hash} never {what}: {rs}\n{}",
            controller.logs()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn argos_blue_green_example_promotes_and_aborts() {
    let server = server().await;
    server
        .apply_yaml(include_str!(
            "../config/tests/data/argo-examples/rollout-bluegreen.yaml"
        ))
        .unwrap();
    // Argo's defaults keep old pods for 30 s; shortened so the test sees them go.
    merge_patch(
        &server,
        &rollout_path(NAME),
        json!({"spec": {"strategy": {"blueGreen": {"scaleDownDelaySeconds": 2, "abortScaleDownDelaySeconds": 2}}}}),
    )
    .await;
    let controller = Controller::start(&server);

    // First version: both Services select it, it is stable at once.
    let first = until(&server, &controller, NAME, "healthy", |r, sets| {
        r["status"]["phase"] == "Healthy" && sets.get(&rs_name(r)) == Some(&(2, 2))
    })
    .await;
    let blue = first["status"]["currentPodHash"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(first["status"]["stableRS"], json!(blue));
    assert_eq!(selects(&server, ACTIVE), blue);
    assert_eq!(selects(&server, PREVIEW), blue);
    assert_eq!(
        first["status"]["blueGreen"]["activeSelector"],
        json!(blue),
        "{first}"
    );
    assert_eq!(
        first["status"]["selector"],
        json!(format!(
            "app=rollout-bluegreen,rollouts-pod-template-hash={blue}"
        ))
    );
    let svc = server.get("v1", "Service", "default", ACTIVE).unwrap();
    assert_eq!(
        svc["metadata"]["annotations"]["argo-rollouts.argoproj.io/managed-by-rollouts"],
        NAME
    );

    // Green: the preview Service follows it at once; the pause comes once its two pods are
    // available; the active Service stays on blue.
    set_image(&server, "argoproj/rollouts-demo:green").await;
    let paused = until(&server, &controller, NAME, "paused", |r, sets| {
        r["status"]["phase"] == "Paused" && sets.get(&rs_name(r)) == Some(&(2, 2))
    })
    .await;
    let green = paused["status"]["currentPodHash"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        paused["status"]["pauseConditions"][0]["reason"],
        "BlueGreenPause"
    );
    assert_eq!(selects(&server, PREVIEW), green);
    assert_eq!(selects(&server, ACTIVE), blue);
    assert_eq!(
        replica_sets(&server).get(&format!("{NAME}-{blue}")),
        Some(&(2, 2))
    );

    // kubectl argo rollouts promote: the active Service switches, green is stable, blue
    // gets its scale-down deadline and goes to 0 after it.
    status_patch(&server, json!({"pauseConditions": null})).await;
    let promoted = until(&server, &controller, NAME, "promoted", |r, _| {
        r["status"]["phase"] == "Healthy" && r["status"]["stableRS"] == json!(green)
    })
    .await;
    assert_eq!(selects(&server, ACTIVE), green);
    assert_eq!(
        promoted["status"]["blueGreen"]["activeSelector"],
        json!(green)
    );
    let old = replica_set(&server, &blue);
    assert!(
        old["metadata"]["annotations"]["scale-down-deadline"].is_string(),
        "{old}"
    );
    replica_set_until(&server, &controller, &blue, "scaled to 0", |rs| {
        rs["spec"]["replicas"] == 0
    })
    .await;
    let events = server.list("v1", "Event", "default").unwrap();
    assert!(
        events.iter().any(|e| e["reason"] == "SwitchService"
            && e["message"]
                .as_str()
                .unwrap_or_default()
                .contains(&format!("'{ACTIVE}' from '{blue}' to '{green}'"))),
        "{events:?}"
    );

    // Yellow, then kubectl argo rollouts abort at the pause: the active Service never left
    // green; yellow is held for abortScaleDownDelaySeconds, then scaled to 0.
    set_image(&server, "argoproj/rollouts-demo:yellow").await;
    let paused = until(&server, &controller, NAME, "paused on yellow", |r, sets| {
        r["status"]["phase"] == "Paused" && sets.get(&rs_name(r)) == Some(&(2, 2))
    })
    .await;
    let yellow = paused["status"]["currentPodHash"]
        .as_str()
        .unwrap()
        .to_owned();
    status_patch(&server, json!({"abort": true})).await;
    until(&server, &controller, NAME, "aborted", |r, _| {
        r["status"]["phase"] == "Degraded"
    })
    .await;
    assert_eq!(selects(&server, ACTIVE), green);
    let held = replica_set_until(&server, &controller, &yellow, "given a deadline", |rs| {
        rs["metadata"]["annotations"]["scale-down-deadline"].is_string()
    })
    .await;
    assert_eq!(held["spec"]["replicas"], 2, "held until the deadline");
    replica_set_until(&server, &controller, &yellow, "scaled to 0", |rs| {
        rs["spec"]["replicas"] == 0
    })
    .await;
    assert_eq!(
        replica_sets(&server).get(&format!("{NAME}-{green}")),
        Some(&(2, 2))
    );
    assert_allowed_by_rbac(&server);
    server.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preview_replica_count_scales_up_only_after_promotion() {
    let server = server().await;
    let yaml = include_str!("../config/tests/data/argo-examples/rollout-bluegreen.yaml")
        .replace("  replicas: 2\n", "  replicas: 3\n")
        .replace(
            "      autoPromotionEnabled: false\n",
            "      autoPromotionEnabled: false\n      previewReplicaCount: 1\n",
        );
    server.apply_yaml(&yaml).unwrap();
    let controller = Controller::start(&server);
    until(&server, &controller, NAME, "healthy", |r, sets| {
        r["status"]["phase"] == "Healthy" && sets.get(&rs_name(r)) == Some(&(3, 3))
    })
    .await;

    // One preview pod, then the pause.
    set_image(&server, "argoproj/rollouts-demo:green").await;
    let paused = until(
        &server,
        &controller,
        NAME,
        "paused with one pod",
        |r, sets| r["status"]["phase"] == "Paused" && sets.get(&rs_name(r)) == Some(&(1, 1)),
    )
    .await;
    let blue = paused["status"]["stableRS"].as_str().unwrap().to_owned();
    assert_eq!(selects(&server, ACTIVE), blue);
    assert_eq!(
        paused["status"]["blueGreen"]["scaleUpPreviewCheckPoint"],
        json!(null)
    );

    // Promoted: the checkpoint is passed, green grows to three, and only then does the
    // active Service switch: whenever it is seen selecting green, green has three ready pods.
    let green = paused["status"]["currentPodHash"]
        .as_str()
        .unwrap()
        .to_owned();
    status_patch(&server, json!({"pauseConditions": null})).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut grew = false;
    loop {
        let ready = replica_set(&server, &green)["status"]["readyReplicas"]
            .as_i64()
            .unwrap_or(0);
        grew |= ready > 1;
        if selects(&server, ACTIVE) == green {
            assert_eq!(ready, 3, "switched before green was saturated");
            break;
        }
        assert!(Instant::now() < deadline, "{}", controller.logs());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(grew);
    let done = until(&server, &controller, NAME, "promoted", |r, _| {
        r["status"]["phase"] == "Healthy" && r["status"]["stableRS"] == json!(green)
    })
    .await;
    assert_eq!(done["status"]["blueGreen"]["activeSelector"], json!(green));
    assert_allowed_by_rbac(&server);
    server.shutdown();
}
