//! `weir controller` end to end against the in-memory API server: the real binary, real
//! HTTP, Argo's own example Rollout (`rollout-canary.yaml`, a canary without a traffic
//! router), driven only by the patches `kubectl argo rollouts` makes.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{json, Value};
use weir_apiserver_sim::{ApiServer, Options};

/// Argo's example with its timed pauses shortened to a second, and a stable and a canary
/// Service.
fn rollout_canary() -> String {
    include_str!("../config/tests/data/argo-examples/rollout-canary.yaml")
        .replace("duration: 40s", "duration: 1s")
        .replace("duration: 20s", "duration: 1s")
        .replace(
            "  name: rollout-canary\n",
            "  name: rollout-canary\n  namespace: default\n",
        )
        .replace(
            "    canary:\n",
            "    canary:\n      stableService: canary-stable\n      canaryService: canary-preview\n",
        )
}

const SERVICES: &str = "\
apiVersion: v1
kind: Service
metadata: {name: canary-stable, namespace: default}
spec:
  selector: {app: rollout-canary}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: canary-preview, namespace: default}
spec:
  selector: {app: rollout-canary}
  ports: [{port: 80, targetPort: 8080}]
";

/// The pod-template hash a Service selects.
fn selects(server: &ApiServer, service: &str) -> String {
    server.get("v1", "Service", "default", service).unwrap()["spec"]["selector"]
        ["rollouts-pod-template-hash"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// Leader election on, with times short enough for a takeover within a test.
const SHORT_LEASE: [&str; 6] = [
    "--leader-election-lease-duration",
    "2s",
    "--leader-election-renew-deadline",
    "1500ms",
    "--leader-election-retry-period",
    "200ms",
];

struct Controller {
    child: Child,
    dir: tempfile::TempDir,
}

impl Controller {
    fn start(server: &ApiServer) -> Controller {
        Self::start_with(server, &SHORT_LEASE)
    }

    /// With `extra` arguments.
    fn start_with(server: &ApiServer, extra: &[&str]) -> Controller {
        let dir = tempfile::tempdir().unwrap();
        let kubeconfig = dir.path().join("kubeconfig");
        server.write_kubeconfig(&kubeconfig).unwrap();
        let log = std::fs::File::create(dir.path().join("controller.log")).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_weir"))
            .args([
                "controller",
                "--leader-election-namespace",
                "default",
                "--metrics-address",
                "127.0.0.1:0",
            ])
            .arg("--kubeconfig")
            .arg(&kubeconfig)
            .arg("--ready-file")
            .arg(dir.path().join("ready.json"))
            .args(extra)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        Controller { child, dir }
    }

    fn logs(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("controller.log")).unwrap_or_default()
    }

    async fn metrics(&self) -> String {
        self.get("/metrics").await.1
    }

    /// (status, body) of GET `path` on the metrics address.
    async fn get(&self, path: &str) -> (u16, String) {
        let ready = self.dir.path().join("ready.json");
        let deadline = Instant::now() + Duration::from_secs(10);
        while !ready.exists() {
            assert!(Instant::now() < deadline, "{}", self.logs());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let addr: Value = serde_json::from_str(&std::fs::read_to_string(ready).unwrap()).unwrap();
        let url = format!("http://{}{path}", addr["metrics"].as_str().unwrap());
        let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
        let resp = client.get(url.parse().unwrap()).await.unwrap();
        let status = resp.status().as_u16();
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        (status, String::from_utf8_lossy(&body).into_owned())
    }

    fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Controller {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A JSON merge patch over HTTP, as kubectl and the plugin send it.
async fn merge_patch(server: &ApiServer, path: &str, patch: Value) {
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let req = hyper::Request::patch(format!("{}{path}", server.url()))
        .header("content-type", "application/merge-patch+json")
        .body(Full::new(Bytes::from(patch.to_string())))
        .unwrap();
    let resp = client.request(req).await.unwrap();
    let status = resp.status();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    assert!(
        status.is_success(),
        "{status}: {}",
        String::from_utf8_lossy(&body)
    );
}

const ROLLOUT: &str = "/apis/argoproj.io/v1alpha1/namespaces/default/rollouts/rollout-canary";

fn rollout(server: &ApiServer) -> Value {
    server
        .get(
            "argoproj.io/v1alpha1",
            "Rollout",
            "default",
            "rollout-canary",
        )
        .unwrap()
}

/// The Rollout's ReplicaSets: name -> (spec replicas, ready replicas).
fn replica_sets(server: &ApiServer) -> std::collections::BTreeMap<String, (i64, i64)> {
    server
        .list("apps/v1", "ReplicaSet", "default")
        .unwrap()
        .into_iter()
        .map(|rs| {
            (
                rs["metadata"]["name"].as_str().unwrap().to_owned(),
                (
                    rs["spec"]["replicas"].as_i64().unwrap_or(0),
                    rs["status"]["readyReplicas"].as_i64().unwrap_or(0),
                ),
            )
        })
        .collect()
}

async fn until(
    server: &ApiServer,
    controller: &Controller,
    what: &str,
    check: impl Fn(&Value, &std::collections::BTreeMap<String, (i64, i64)>) -> bool,
) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let r = rollout(server);
        let sets = replica_sets(server);
        if check(&r, &sets) {
            return r;
        }
        assert!(
            Instant::now() < deadline,
            "never {what}:\nstatus {}\nreplica sets {sets:?}\nlog:\n{}",
            serde_json::to_string_pretty(&r["status"]).unwrap(),
            controller.logs()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn rs_name(r: &Value) -> String {
    format!(
        "rollout-canary-{}",
        r["status"]["currentPodHash"].as_str().unwrap()
    )
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
    })
    .await;
    assert_eq!(done["status"]["currentStepIndex"], 8);
    wait_for(|| selects(&server, "canary-stable") == green_hash).await;
    assert_eq!(selects(&server, "canary-preview"), green_hash);
    assert!(controller.metrics().await.contains(
        "rollout_info{namespace=\"default\",name=\"rollout-canary\",strategy=\"canary\",phase=\"Healthy\"} 1"
    ));

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

/// The (verb, resource) pairs a ClusterRole or Role of deploy/ grants.
fn granted(yaml: &str) -> std::collections::BTreeSet<(String, String)> {
    let mut out = std::collections::BTreeSet::new();
    for doc in yaml.split("\n---\n") {
        let v: Value = serde_saphyr::from_str(doc).unwrap();
        for rule in v["rules"].as_array().into_iter().flatten() {
            for resource in rule["resources"].as_array().unwrap() {
                for verb in rule["verbs"].as_array().unwrap() {
                    let (r, v) = (resource.as_str().unwrap(), verb.as_str().unwrap());
                    assert!(r != "*" && v != "*", "no wildcards: {rule}");
                    out.insert((v.to_owned(), r.to_owned()));
                }
            }
        }
    }
    out
}

/// Every API call the controller made is one deploy/'s RBAC allows (least privilege
/// that works: a call it does not allow would fail in a cluster).
fn assert_allowed_by_rbac(server: &ApiServer) {
    let mut allowed = granted(include_str!("../deploy/controller/clusterrole.yaml"));
    allowed.extend(granted(include_str!("../deploy/controller/role.yaml")));
    for ((verb, resource), n) in server.request_counts() {
        assert!(
            allowed.contains(&(verb.clone(), resource.clone())),
            "the controller made {n} `{verb} {resource}` call(s) that deploy/ does not allow"
        );
    }
}

async fn wait_for(check: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !check() {
        assert!(Instant::now() < deadline, "condition never held");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A Rollout this controller cannot drive yet (nginx traffic routing) gets a condition
/// saying so and nothing else: no ReplicaSet, nothing half-done.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rollout_it_cannot_drive_yet_is_told_so_and_left_alone() {
    let server = ApiServer::start(Options::default()).await.unwrap();
    server
        .apply_yaml(include_str!("../deploy/crds/weir-crds.yaml"))
        .unwrap();
    let routed = include_str!("../config/tests/data/argo-examples/nginx/rollout.yaml").replace(
        "  name: rollouts-demo\n",
        "  name: rollouts-demo\n  namespace: default\n",
    );
    server.apply_yaml(&routed).unwrap();
    let controller = Controller::start(&server);
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        let r = server
            .get(
                "argoproj.io/v1alpha1",
                "Rollout",
                "default",
                "rollouts-demo",
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
            .contains("does not drive canary Rollouts with a traffic router yet"),
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
