//! `weir controller` when things go wrong around it, against the in-memory API server:
//! killed with SIGKILL at each kind of step and restarted (it carries on from the objects'
//! status alone: the same step, the pause's own clock, the same AnalysisRun and the same
//! Jobs), and walked through a whole rollout while the API server drops watches, forgets
//! its history, answers 409 and 500 and answers slowly (it converges: every step once, one
//! AnalysisRun, the weights never half-applied).

mod support;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::kube::{assert_allowed_by_rbac, rs_name, until, Controller};
use weir_apiserver_sim::{ApiServer, Options, WriteFailure};

const NAME: &str = "rollouts-demo";
const CANARY_INGRESS: &str = "rollouts-demo-rollouts-demo-stable-canary";

/// Argo's nginx getting-started set, with every kind of canary step: a scale, a weight, a
/// step analysis (a `job` metric measured twice), a timed pause, a weight, an indefinite
/// pause.
fn manifests() -> Vec<String> {
    let rollout = include_str!("../config/tests/data/argo-examples/nginx/rollout.yaml")
        .replace("  name: rollouts-demo\n", "  name: rollouts-demo\n  namespace: default\n")
        .replace("  replicas: 1\n", "  replicas: 2\n")
        .replace(
            "      - setWeight: 5\n      - pause: {}\n",
            "      - setCanaryScale: {replicas: 1}\n      - setWeight: 20\n      - analysis: {templates: [{templateName: smoke}]}\n      - pause: {duration: 4s}\n      - setWeight: 60\n      - pause: {}\n",
        );
    assert!(rollout.contains("setCanaryScale"));
    let template = "\
apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata: {name: smoke, namespace: default}
spec:
  metrics:
  - name: smoke
    count: 2
    interval: 1s
    provider:
      job:
        spec:
          backoffLimit: 0
          template:
            spec:
              restartPolicy: Never
              containers: [{name: smoke, image: 'curlimages/curl:8.8.0', command: [curl, 'http://rollouts-demo-canary']}]
";
    vec![
        include_str!("../config/tests/data/argo-examples/nginx/services.yaml").to_owned(),
        include_str!("../config/tests/data/argo-examples/nginx/ingress.yaml").to_owned(),
        template.to_owned(),
        rollout,
    ]
}

async fn server() -> ApiServer {
    let server = ApiServer::start(Options {
        pod_ready_delay: Duration::from_millis(200),
        job_duration: Duration::from_millis(1500),
        ..Options::default()
    })
    .await
    .unwrap();
    server
        .apply_yaml(include_str!("../deploy/crds/weir-crds.yaml"))
        .unwrap();
    for doc in manifests() {
        server.apply_yaml(&doc).unwrap();
    }
    server
}

fn canary_weight(server: &ApiServer) -> Option<String> {
    server
        .get("networking.k8s.io/v1", "Ingress", "default", CANARY_INGRESS)
        .ok()?["metadata"]["annotations"]["nginx.ingress.kubernetes.io/canary-weight"]
        .as_str()
        .map(str::to_owned)
}

fn names(server: &ApiServer, api_version: &str, kind: &str) -> BTreeSet<String> {
    server
        .list(api_version, kind, "default")
        .unwrap()
        .iter()
        .map(|o| o["metadata"]["name"].as_str().unwrap().to_owned())
        .collect()
}

fn analysis_runs(server: &ApiServer) -> BTreeSet<String> {
    names(server, "argoproj.io/v1alpha1", "AnalysisRun")
}

fn step(r: &Value) -> i64 {
    r["status"]["currentStepIndex"].as_i64().unwrap_or(-1)
}

/// Changes the image, in process (the API server's faults are for the controller): read,
/// change, write with the resourceVersion read, again on a conflict.
async fn set_image(server: &ApiServer, tag: &str) {
    write(server, false, |r| {
        r["spec"]["template"]["spec"]["containers"][0]["image"] =
            json!(format!("argoproj/rollouts-demo:{tag}"));
    })
    .await;
}

/// What `kubectl argo rollouts promote` does at a pause: the pause conditions cleared on
/// the status (in process, as [`set_image`]).
async fn promote(server: &ApiServer) {
    write(server, true, |r| {
        r["status"]
            .as_object_mut()
            .unwrap()
            .remove("pauseConditions");
    })
    .await;
}

async fn write(server: &ApiServer, status: bool, change: impl Fn(&mut Value)) {
    let mut last = None;
    for _ in 0..50 {
        let mut r = support::kube::rollout(server, NAME);
        change(&mut r);
        let written = match status {
            true => server.update_status(r),
            false => server.update(r),
        };
        match written {
            Ok(_) => return,
            Err(e) => last = Some(e),
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("could not write the Rollout: {last:?}");
}

/// Kills `controller` and starts another; it has to win the lease first.
fn restart(server: &ApiServer, controller: &mut Controller) {
    controller.kill9();
    *controller = Controller::start(server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_at_each_kind_of_step_it_carries_on_from_the_status() {
    let server = server().await;
    let mut controller = Controller::start(&server);
    until(&server, &controller, NAME, "healthy", |r, sets| {
        r["status"]["phase"] == "Healthy" && sets.get(&rs_name(r)) == Some(&(2, 2))
    })
    .await;
    set_image(&server, "yellow").await;

    // At the scale or the weight step (whichever it is on when seen): killed, it goes on to
    // the analysis with the canary's one pod and 20% on the canary Ingress.
    let early = until(&server, &controller, NAME, "on the new version", |r, _| {
        r["status"]["currentPodHash"] != r["status"]["stableRS"]
    })
    .await;
    assert!(step(&early) <= 1, "{}", early["status"]);
    let hash = early["status"]["currentPodHash"]
        .as_str()
        .unwrap()
        .to_owned();
    restart(&server, &mut controller);
    let at_analysis = until(&server, &controller, NAME, "at the analysis", |r, sets| {
        step(r) == 2
            && r["status"]["canary"]["currentStepAnalysisRunStatus"]["name"].is_string()
            && sets.get(&format!("{NAME}-{hash}")) == Some(&(1, 1))
    })
    .await;
    assert_eq!(canary_weight(&server).as_deref(), Some("20"));
    let run = at_analysis["status"]["canary"]["currentStepAnalysisRunStatus"]["name"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(run, format!("{NAME}-{hash}-2-2"));

    // During the analysis, with its first Job running: the same run and the same Jobs go
    // on, measured twice in all.
    let deadline = Instant::now() + Duration::from_secs(20);
    while names(&server, "batch/v1", "Job").is_empty() {
        assert!(Instant::now() < deadline, "{}", controller.logs());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    restart(&server, &mut controller);
    let paused = until(&server, &controller, NAME, "in the timed pause", |r, _| {
        step(r) == 3 && r["status"]["pauseConditions"][0]["reason"] == "CanaryPauseStep"
    })
    .await;
    assert_eq!(analysis_runs(&server), BTreeSet::from([run.clone()]));
    let measured = server
        .get("argoproj.io/v1alpha1", "AnalysisRun", "default", &run)
        .unwrap();
    assert_eq!(measured["status"]["phase"], "Successful", "{measured}");
    assert_eq!(measured["status"]["metricResults"][0]["count"], 2);
    let uid = measured["metadata"]["uid"].as_str().unwrap();
    assert_eq!(
        names(&server, "batch/v1", "Job"),
        BTreeSet::from([format!("{uid}.smoke.1"), format!("{uid}.smoke.2")]),
        "one Job per measurement, none made twice"
    );

    // In the timed pause: it keeps the pause's start, so it ends when it would have.
    let started = paused["status"]["pauseConditions"][0]["startTime"].clone();
    restart(&server, &mut controller);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let still = support::kube::rollout(&server, NAME);
    if step(&still) == 3 {
        assert_eq!(still["status"]["pauseConditions"][0]["startTime"], started);
    }
    until(&server, &controller, NAME, "at the last pause", |r, _| {
        step(r) == 5 && r["status"]["phase"] == "Paused"
    })
    .await;
    assert_eq!(canary_weight(&server).as_deref(), Some("60"));

    // In the indefinite pause: nothing moves until promoted.
    let before = support::kube::replica_sets(&server);
    restart(&server, &mut controller);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let still = support::kube::rollout(&server, NAME);
    assert_eq!(step(&still), 5, "{}", controller.logs());
    assert_eq!(support::kube::replica_sets(&server), before);
    assert_eq!(canary_weight(&server).as_deref(), Some("60"));
    promote(&server).await;
    let done = until(&server, &controller, NAME, "promoted", |r, sets| {
        r["status"]["phase"] == "Healthy"
            && r["status"]["stableRS"] == json!(hash)
            && sets.get(&format!("{NAME}-{hash}")) == Some(&(2, 2))
    })
    .await;
    assert_eq!(step(&done), 6);
    assert_eq!(analysis_runs(&server), BTreeSet::from([run]));
    assert_eq!(
        names(&server, "apps/v1", "ReplicaSet").len(),
        2,
        "no ReplicaSet made twice"
    );
    assert_allowed_by_rbac(&server);
    server.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_faulty_api_server_slows_it_down_but_it_converges() {
    let server = server().await;
    let mut controller = Controller::start(&server);
    until(&server, &controller, NAME, "healthy", |r, sets| {
        r["status"]["phase"] == "Healthy" && sets.get(&rs_name(r)) == Some(&(2, 2))
    })
    .await;

    // From now on: watches end after a few events, every answer is slow, and the first
    // writes of every kind the controller makes fail with a conflict or a server error.
    let faults = server.faults();
    faults.end_watches_after(Some(3));
    faults.set_latency(Duration::from_millis(30));
    for (resource, failure) in [
        ("rollouts/status", WriteFailure::Conflict),
        ("rollouts", WriteFailure::InternalError),
        ("replicasets", WriteFailure::Conflict),
        ("ingresses", WriteFailure::Conflict),
        ("services", WriteFailure::InternalError),
        ("analysisruns", WriteFailure::InternalError),
        ("jobs", WriteFailure::InternalError),
    ] {
        faults.fail_writes(resource, 2, failure);
    }
    set_image(&server, "yellow").await;

    // Every weight it shows is one a step asked for, and the Rollout reaches the last
    // pause; meanwhile the history is compacted and every watch dropped (410 on resume).
    let mut weights = BTreeSet::new();
    let mut compacted = false;
    let deadline = Instant::now() + Duration::from_secs(90);
    let hash = loop {
        if let Some(w) = canary_weight(&server) {
            weights.insert(w);
        }
        let r = support::kube::rollout(&server, NAME);
        if step(&r) >= 2 && !compacted {
            faults.compact();
            faults.drop_watches();
            compacted = true;
        }
        if step(&r) == 5 && r["status"]["phase"] == "Paused" {
            break r["status"]["currentPodHash"].as_str().unwrap().to_owned();
        }
        assert!(
            Instant::now() < deadline,
            "never reached the last pause: {}\n{}",
            r["status"],
            controller.logs()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let pending = faults.pending_write_failures();
    assert!(pending.is_empty(), "writes it never retried: {pending:?}");
    let allowed: BTreeSet<String> = ["0", "20", "60"].map(String::from).into();
    assert!(weights.is_subset(&allowed), "{weights:?}");
    assert_eq!(canary_weight(&server).as_deref(), Some("60"));
    let runs = analysis_runs(&server);
    assert_eq!(runs, BTreeSet::from([format!("{NAME}-{hash}-2-2")]));
    assert_eq!(
        names(&server, "batch/v1", "Job").len(),
        2,
        "one Job per measurement"
    );

    // Promoted (the first status writes conflict again): Healthy, all traffic on the new
    // version, the old one scaled down after its delay.
    faults.fail_writes("rollouts/status", 2, WriteFailure::Conflict);
    faults.fail_writes("ingresses", 1, WriteFailure::InternalError);
    promote(&server).await;
    until(&server, &controller, NAME, "promoted", |r, sets| {
        r["status"]["phase"] == "Healthy"
            && r["status"]["stableRS"] == json!(hash)
            && sets.get(&format!("{NAME}-{hash}")) == Some(&(2, 2))
    })
    .await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while canary_weight(&server).as_deref() != Some("0") {
        assert!(Instant::now() < deadline, "{}", controller.logs());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(analysis_runs(&server), runs);
    assert_eq!(names(&server, "apps/v1", "ReplicaSet").len(), 2);
    assert!(
        server
            .get("v1", "Service", "default", "rollouts-demo-stable")
            .unwrap()["spec"]["selector"]["rollouts-pod-template-hash"]
            == json!(hash),
        "the stable Service selects the new version"
    );
    faults.set_latency(Duration::ZERO);
    faults.end_watches_after(None);
    controller.kill9();
    assert_allowed_by_rbac(&server);
    server.shutdown();
}
