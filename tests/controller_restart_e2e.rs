//! `spec.restartAt` (Argo CD's restart action, `kubectl argo rollouts restart`) carried out
//! by `weir controller` against the in-memory API server as Argo's pod restarter does it:
//! every pod of the Rollout made before it evicted and replaced by its ReplicaSet, never
//! more unavailable than maxUnavailable allows (one at a time here), stable and canary
//! alike and while paused, `status.restartedAt` set when none is left; a `restartAt` still
//! ahead waited for.

mod support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};
use support::kube::{assert_allowed_by_rbac, merge_patch, rollout_path, rs_name, Controller};
use weir_apiserver_sim::{ApiServer, Options};
use weir_control::analysis::Timestamp;
use weir_control::engine::clock::format_time;

/// Pods that take a while to become ready and to terminate, so that a restart's
/// unavailable pods are there to be seen.
async fn server() -> ApiServer {
    let server = ApiServer::start(Options {
        pod_ready_delay: Duration::from_millis(400),
        pod_termination_delay: Duration::from_millis(300),
        ..Options::default()
    })
    .await
    .unwrap();
    server
        .apply_yaml(include_str!("../deploy/crds/weir-crds.yaml"))
        .unwrap();
    server
}

/// Argo's canary example (five replicas, maxUnavailable 25 %: one) and its Services.
fn rollout_canary() -> String {
    format!(
        "{}\n---\n{}",
        support::kube::rollout_canary(),
        support::kube::CANARY_SERVICES
    )
}

/// `restartAt` as the restart action writes it: UTC, whole seconds, `after` from now.
fn restart_at(after: Duration) -> String {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap() + after;
    format_time(Timestamp::from_millis(now.as_millis() as u64))
}

/// `restartAt` now, once the clock's whole second is past every pod of `pods`: a pod made
/// in the same second as `restartAt` counts as made after it (Argo compares whole seconds).
async fn restart_now(pods: &BTreeMap<String, PodState>) -> String {
    loop {
        let at = restart_at(Duration::ZERO);
        if pods.values().all(|p| p.created < at) {
            return at;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A pod of the Rollout as the test watches it.
#[derive(Debug)]
struct PodState {
    created: String,
    ready: bool,
    terminating: bool,
}

/// The Rollout's pods (its `app` label), by name.
fn pods(server: &ApiServer, app: &str) -> BTreeMap<String, PodState> {
    server
        .list("v1", "Pod", "default")
        .unwrap()
        .into_iter()
        .filter(|p| p["metadata"]["labels"]["app"] == app)
        .map(|p| {
            let ready = p["status"]["conditions"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|c| c["type"] == "Ready" && c["status"] == "True");
            (
                p["metadata"]["name"].as_str().unwrap().to_owned(),
                PodState {
                    created: p["metadata"]["creationTimestamp"]
                        .as_str()
                        .unwrap()
                        .to_owned(),
                    ready,
                    terminating: !p["metadata"]["deletionTimestamp"].is_null(),
                },
            )
        })
        .collect()
}

/// Ready pods not being deleted.
fn available(pods: &BTreeMap<String, PodState>) -> usize {
    pods.values().filter(|p| p.ready && !p.terminating).count()
}

fn evictions(server: &ApiServer) -> u64 {
    server
        .request_counts()
        .get(&("create".to_owned(), "pods/eviction".to_owned()))
        .copied()
        .unwrap_or(0)
}

async fn set_restart_at(server: &ApiServer, name: &str, at: &str) {
    merge_patch(
        server,
        &rollout_path(name),
        json!({"spec": {"restartAt": at}}),
    )
    .await;
}

/// Polls every 20 ms until the restart to `at` is recorded, checking on every look that at
/// least `min_available` pods are available and that the phase says what Argo's would.
/// Returns the Rollout and the fewest pods seen available.
async fn restart(
    server: &ApiServer,
    controller: &Controller,
    name: &str,
    at: &str,
    min_available: usize,
    phase_while: (&str, &str),
) -> (Value, usize) {
    let deadline = Instant::now() + Duration::from_secs(40);
    let mut fewest = usize::MAX;
    loop {
        let r = support::kube::rollout(server, name);
        let now = pods(server, name);
        let up = available(&now);
        fewest = fewest.min(up);
        assert!(
            up >= min_available,
            "{up} pods available, fewer than {min_available}: {now:?}\nlog:\n{}",
            controller.logs()
        );
        let observed = r["status"]["observedGeneration"].as_str()
            == r["metadata"]["generation"]
                .as_i64()
                .map(|g| g.to_string())
                .as_deref();
        if observed && r["status"]["restartedAt"] == at {
            return (r, fewest);
        }
        if observed {
            assert_eq!(
                (
                    r["status"]["phase"].as_str(),
                    r["status"]["message"].as_str()
                ),
                (Some(phase_while.0), Some(phase_while.1)),
                "{}",
                r["status"]
            );
        }
        assert!(
            Instant::now() < deadline,
            "never restarted:\nstatus {}\npods {now:?}\nlog:\n{}",
            serde_json::to_string_pretty(&r["status"]).unwrap(),
            controller.logs()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Every pod of `before` is gone or going, and every other pod of `after` was made at `at`
/// or later.
fn all_replaced(before: &BTreeMap<String, PodState>, after: &BTreeMap<String, PodState>, at: &str) {
    for (name, pod) in after.iter().filter(|(_, p)| !p.terminating) {
        assert!(!before.contains_key(name), "{name} was not restarted");
        assert!(pod.created.as_str() >= at, "{name}: {pod:?} before {at}");
    }
}

/// Five pods, maxUnavailable one: the pods are evicted one at a time (never fewer than four
/// available), each exactly once, the ReplicaSet never rescaled, Progressing "rollout is
/// restarting" until status.restartedAt records it, then Healthy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_canary_restarts_its_pods_one_at_a_time() {
    let server = server().await;
    server.apply_yaml(&rollout_canary()).unwrap();
    let controller = Controller::start(&server);
    let first = support::kube::until(
        &server,
        &controller,
        "rollout-canary",
        "healthy",
        |r, sets| r["status"]["phase"] == "Healthy" && sets.get(&rs_name(r)) == Some(&(5, 5)),
    )
    .await;
    let rs = rs_name(&first);
    let before = pods(&server, "rollout-canary");
    assert_eq!(available(&before), 5);

    let at = restart_now(&before).await;
    set_restart_at(&server, "rollout-canary", &at).await;
    let (done, fewest) = restart(
        &server,
        &controller,
        "rollout-canary",
        &at,
        4,
        ("Progressing", "rollout is restarting"),
    )
    .await;
    assert_eq!(fewest, 4, "a pod at a time was unavailable");
    let after = support::kube::until(
        &server,
        &controller,
        "rollout-canary",
        "healthy again",
        |r, sets| r["status"]["phase"] == "Healthy" && sets.get(&rs) == Some(&(5, 5)),
    )
    .await;
    assert_eq!(after["status"]["restartedAt"], json!(at));
    assert_eq!(
        done["status"]["currentPodHash"],
        first["status"]["currentPodHash"]
    );
    // The ReplicaSet's counts can lag the last eviction by a pass: wait for the pods.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let mut now = pods(&server, "rollout-canary");
    while available(&now) != 5 {
        assert!(std::time::Instant::now() < deadline, "{now:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
        now = pods(&server, "rollout-canary");
    }
    all_replaced(&before, &now, &at);
    assert_eq!(evictions(&server), 5);
    assert_eq!(support::kube::replica_sets(&server).len(), 1);
    assert_allowed_by_rbac(&server);
    server.shutdown();
}

/// Scaled from five to three in the same patch that asks for a restart (Argo's scaling
/// event): that pass only resizes, so exactly the three pods that stay are evicted, never
/// one that the scale-down removes anyway.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_with_a_scale_down_evicts_only_the_pods_that_stay() {
    let server = server().await;
    server.apply_yaml(&rollout_canary()).unwrap();
    let controller = Controller::start(&server);
    let first = support::kube::until(
        &server,
        &controller,
        "rollout-canary",
        "healthy",
        |r, sets| r["status"]["phase"] == "Healthy" && sets.get(&rs_name(r)) == Some(&(5, 5)),
    )
    .await;
    let rs = rs_name(&first);
    let before = pods(&server, "rollout-canary");
    let at = restart_now(&before).await;
    merge_patch(
        &server,
        &rollout_path("rollout-canary"),
        json!({"spec": {"replicas": 3, "restartAt": at}}),
    )
    .await;
    support::kube::until(
        &server,
        &controller,
        "rollout-canary",
        "restarted at three",
        |r, sets| r["status"]["restartedAt"] == at && sets.get(&rs) == Some(&(3, 3)),
    )
    .await;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let mut now = pods(&server, "rollout-canary");
    while available(&now) != 3 || now.values().any(|p| p.terminating) {
        assert!(std::time::Instant::now() < deadline, "{now:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
        now = pods(&server, "rollout-canary");
    }
    all_replaced(&before, &now, &at);
    assert_eq!(evictions(&server), 3, "{}", controller.logs());
    server.shutdown();
}

/// A restartAt a few seconds ahead: nothing is evicted before it (the phase already says
/// the restart is pending, as Argo's does), and the controller wakes for it by itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_ahead_waits_for_its_time() {
    let server = server().await;
    server.apply_yaml(&rollout_canary()).unwrap();
    let controller = Controller::start(&server);
    support::kube::until(
        &server,
        &controller,
        "rollout-canary",
        "healthy",
        |r, sets| r["status"]["phase"] == "Healthy" && sets.get(&rs_name(r)) == Some(&(5, 5)),
    )
    .await;
    let before = pods(&server, "rollout-canary");

    let at = restart_at(Duration::from_secs(4));
    set_restart_at(&server, "rollout-canary", &at).await;
    let due = UNIX_EPOCH
        + Duration::from_millis(
            weir_control::engine::clock::parse_time(&at)
                .unwrap()
                .as_millis(),
        );
    support::kube::until(
        &server,
        &controller,
        "rollout-canary",
        "restart pending",
        |r, _| r["status"]["message"] == "rollout is restarting",
    )
    .await;
    while SystemTime::now() < due {
        assert_eq!(evictions(&server), 0, "evicted before {at}");
        assert_eq!(pods(&server, "rollout-canary").len(), 5);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Due: done well within the controller's resync (which nothing else would shorten).
    restart(
        &server,
        &controller,
        "rollout-canary",
        &at,
        4,
        ("Progressing", "rollout is restarting"),
    )
    .await;
    all_replaced(&before, &pods(&server, "rollout-canary"), &at);
    assert_eq!(evictions(&server), 5);
    assert_allowed_by_rbac(&server);
    server.shutdown();
}

/// Blue-green, paused before promoting green: the restart goes on while paused (Argo's
/// restarter does not look at pauses) and replaces the pods of both versions, the active
/// and the preview ReplicaSet's, one at a time (maxUnavailable 25 % of two is none, so one
/// at a time); the Rollout stays paused on the same versions.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_blue_green_restarts_both_versions() {
    let server = server().await;
    server
        .apply_yaml(include_str!(
            "../config/tests/data/argo-examples/rollout-bluegreen.yaml"
        ))
        .unwrap();
    let controller = Controller::start(&server);
    let name = "rollout-bluegreen";
    let first = support::kube::until(&server, &controller, name, "healthy", |r, sets| {
        r["status"]["phase"] == "Healthy" && sets.get(&rs_name(r)) == Some(&(2, 2))
    })
    .await;
    let blue = rs_name(&first);
    merge_patch(
        &server,
        &rollout_path(name),
        json!({"spec": {"template": {"spec": {"containers": [{"name": "rollouts-demo", "image": "argoproj/rollouts-demo:green", "imagePullPolicy": "Always", "ports": [{"containerPort": 8080}]}]}}}}),
    )
    .await;
    let paused = support::kube::until(&server, &controller, name, "paused", |r, sets| {
        r["status"]["message"] == "BlueGreenPause"
            && sets.get(&rs_name(r)) == Some(&(2, 2))
            && sets.get(&blue) == Some(&(2, 2))
    })
    .await;
    let green = rs_name(&paused);
    let before = pods(&server, name);
    assert_eq!(available(&before), 4);

    let at = restart_now(&before).await;
    set_restart_at(&server, name, &at).await;
    // Two ReplicaSets of two: three of the four pods stay available.
    let (done, fewest) = restart(
        &server,
        &controller,
        name,
        &at,
        3,
        ("Paused", "BlueGreenPause"),
    )
    .await;
    assert_eq!(fewest, 3);
    assert_eq!(done["status"]["phase"], "Paused");
    assert_eq!(
        done["status"]["blueGreen"]["activeSelector"],
        first["status"]["currentPodHash"]
    );
    support::kube::until(&server, &controller, name, "all pods back", |_, sets| {
        sets.get(&blue) == Some(&(2, 2)) && sets.get(&green) == Some(&(2, 2))
    })
    .await;
    // The ReplicaSets' counts can lag the last eviction by a pass of their controller:
    // wait for the pods themselves.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let mut now = pods(&server, name);
    while available(&now) != 4 {
        assert!(std::time::Instant::now() < deadline, "{now:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
        now = pods(&server, name);
    }
    all_replaced(&before, &now, &at);
    assert_eq!(evictions(&server), 4);
    assert_allowed_by_rbac(&server);
    server.shutdown();
}
