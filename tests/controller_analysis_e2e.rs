//! `weir controller` running analysis as Argo's controllers do, against the in-memory API
//! server: a canary Rollout's analysis step creates an AnalysisRun object (Argo's name,
//! labels, revision annotation, owner), the run controller measures it with the `web`
//! provider against a real HTTP server on loopback and writes Argo's status into the
//! object, and the Rollout promotes on Successful and aborts on Failed. An AnalysisRun a
//! user creates directly runs too, its Secret arguments read as Argo reads them.

mod support;

use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use support::kube::{
    assert_allowed_by_rbac, merge_patch, replica_sets, rollout_path, rs_name, until, Controller,
};
use weir_apiserver_sim::{ApiServer, Options};

/// A metrics endpoint answering `{"rate": <rate>}` at any path.
struct RateServer {
    addr: std::net::SocketAddr,
    rate: Arc<AtomicU64>,
    hits: Arc<AtomicU64>,
}

impl RateServer {
    async fn start(rate: f64) -> RateServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(AtomicU64::new(rate.to_bits()));
        let hits = Arc::new(AtomicU64::new(0));
        let (s, h) = (state.clone(), hits.clone());
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let (s, h) = (s.clone(), h.clone());
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |_req: Request<_>| {
                        let (s, h) = (s.clone(), h.clone());
                        async move {
                            h.fetch_add(1, Ordering::SeqCst);
                            let rate = f64::from_bits(s.load(Ordering::SeqCst));
                            let body = json!({ "rate": rate }).to_string();
                            Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(body))))
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        RateServer {
            addr,
            rate: state,
            hits,
        }
    }

    fn set(&self, rate: f64) {
        self.rate.store(rate.to_bits(), Ordering::SeqCst);
    }

    fn url(&self) -> String {
        format!("http://{}/rate", self.addr)
    }
}

fn manifests(url: &str) -> String {
    format!(
        "\
apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata: {{name: success-rate, namespace: default}}
spec:
  args: [{{name: url}}]
  metrics:
  - name: success-rate
    count: 2
    interval: 1s
    successCondition: result >= 0.95
    provider:
      web:
        url: '{{{{args.url}}}}'
        jsonPath: '{{$.rate}}'
---
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {{name: web, namespace: default}}
spec:
  replicas: 2
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec: {{containers: [{{name: web, image: 'web:1'}}]}}
  strategy:
    canary:
      steps:
      - setWeight: 50
      - analysis:
          templates: [{{templateName: success-rate}}]
          args: [{{name: url, value: '{url}'}}]
"
    )
}

async fn set_image(server: &ApiServer, image: &str) {
    merge_patch(
        server,
        &rollout_path("web"),
        json!({"spec": {"template": {"spec": {"containers": [{"name": "web", "image": image}]}}}}),
    )
    .await;
}

fn analysis_run(server: &ApiServer, name: &str) -> Option<Value> {
    server
        .get("argoproj.io/v1alpha1", "AnalysisRun", "default", name)
        .ok()
}

async fn run_until(server: &ApiServer, controller: &Controller, name: &str, phase: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let run = analysis_run(server, name);
        if run.as_ref().is_some_and(|r| r["status"]["phase"] == phase) {
            return run.unwrap();
        }
        assert!(
            Instant::now() < deadline,
            "AnalysisRun {name} never {phase}: {run:?}\n{}",
            controller.logs()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_analysis_step_promotes_a_good_canary_and_aborts_a_bad_one() {
    let metrics = RateServer::start(0.99).await;
    let server = ApiServer::start(Options {
        pod_ready_delay: Duration::from_millis(200),
        ..Options::default()
    })
    .await
    .unwrap();
    server
        .apply_yaml(include_str!("../deploy/crds/weir-crds.yaml"))
        .unwrap();
    server.apply_yaml(&manifests(&metrics.url())).unwrap();
    let controller = Controller::start(&server);
    let first = until(&server, &controller, "web", "healthy", |r, sets| {
        r["status"]["phase"] == "Healthy" && sets.get(&rs_name(r)) == Some(&(2, 2))
    })
    .await;

    // A good canary: the run is made as Argo makes it, measured twice, Successful, and the
    // Rollout completes.
    set_image(&server, "web:2").await;
    let at_analysis = until(
        &server,
        &controller,
        "web",
        "at the analysis step",
        |r, _| {
            r["status"]["currentStepIndex"] == 1
                && r["status"]["canary"]["currentStepAnalysisRunStatus"]["name"].is_string()
        },
    )
    .await;
    let hash = at_analysis["status"]["currentPodHash"]
        .as_str()
        .unwrap()
        .to_owned();
    let name = at_analysis["status"]["canary"]["currentStepAnalysisRunStatus"]["name"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(name, format!("web-{hash}-2-1"));
    let run = run_until(&server, &controller, &name, "Successful").await;
    assert_eq!(run["metadata"]["labels"]["rollout-type"], "Step");
    assert_eq!(run["metadata"]["labels"]["step-index"], "1");
    assert_eq!(
        run["metadata"]["labels"]["rollouts-pod-template-hash"],
        json!(hash)
    );
    assert_eq!(
        run["metadata"]["annotations"]["rollout.argoproj.io/revision"],
        "2"
    );
    assert_eq!(run["metadata"]["ownerReferences"][0]["kind"], "Rollout");
    assert_eq!(
        run["metadata"]["ownerReferences"][0]["uid"],
        first["metadata"]["uid"]
    );
    assert_eq!(run["spec"]["args"][0]["value"], json!(metrics.url()));
    let result = &run["status"]["metricResults"][0];
    assert_eq!(result["name"], "success-rate");
    assert_eq!(result["count"], 2);
    assert_eq!(result["successful"], 2);
    assert_eq!(result["measurements"].as_array().unwrap().len(), 2);
    assert_eq!(result["measurements"][0]["value"], "0.99");
    assert!(run["status"]["startedAt"].is_string() && run["status"]["completedAt"].is_string());
    until(&server, &controller, "web", "promoted", |r, _| {
        r["status"]["phase"] == "Healthy" && r["status"]["stableRS"] == json!(hash)
    })
    .await;
    let runs = server
        .list("argoproj.io/v1alpha1", "AnalysisRun", "default")
        .unwrap();
    let names: Vec<&str> = runs
        .iter()
        .map(|r| r["metadata"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, [name.as_str()], "one run, made once");

    // A bad canary: the run fails and the Rollout aborts back to the stable version.
    metrics.set(0.5);
    set_image(&server, "web:3").await;
    let aborted = until(&server, &controller, "web", "aborted", |r, _| {
        r["status"]["phase"] == "Degraded" && r["status"]["abort"] == true
    })
    .await;
    let bad = aborted["status"]["currentPodHash"].as_str().unwrap();
    let failed = run_until(&server, &controller, &format!("web-{bad}-3-1"), "Failed").await;
    assert_eq!(failed["status"]["metricResults"][0]["failed"], 1);
    assert_eq!(
        aborted["status"]["message"],
        json!(format!(
            "RolloutAborted: Rollout aborted update to revision 3: Step-based analysis phase error/failed: {}",
            failed["status"]["message"].as_str().unwrap()
        ))
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while replica_sets(&server).get(&format!("web-{hash}")) != Some(&(2, 2)) {
        assert!(Instant::now() < deadline, "{:?}", replica_sets(&server));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(metrics.hits.load(Ordering::SeqCst) >= 3);
    assert_allowed_by_rbac(&server);
    server.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_analysis_run_a_user_creates_runs_with_its_secret_arguments() {
    let metrics = RateServer::start(0.97).await;
    let server = ApiServer::start(Options::default()).await.unwrap();
    server
        .apply_yaml(include_str!("../deploy/crds/weir-crds.yaml"))
        .unwrap();
    server
        .apply_yaml(&format!(
            "\
apiVersion: v1
kind: Secret
metadata: {{name: metrics, namespace: default}}
stringData: {{url: '{}'}}
---
apiVersion: argoproj.io/v1alpha1
kind: AnalysisRun
metadata: {{name: by-hand, namespace: default}}
spec:
  args:
  - name: url
    valueFrom: {{secretKeyRef: {{name: metrics, key: url}}}}
  metrics:
  - name: rate
    successCondition: result > 0.9
    provider:
      web: {{url: '{{{{args.url}}}}', jsonPath: '{{$.rate}}'}}
---
apiVersion: argoproj.io/v1alpha1
kind: AnalysisRun
metadata: {{name: missing-secret, namespace: default}}
spec:
  args:
  - name: url
    valueFrom: {{secretKeyRef: {{name: nowhere, key: url}}}}
  metrics:
  - name: rate
    provider:
      web: {{url: '{{{{args.url}}}}'}}
",
            metrics.url()
        ))
        .unwrap();
    let controller = Controller::start(&server);
    let run = run_until(&server, &controller, "by-hand", "Successful").await;
    assert_eq!(
        run["status"]["metricResults"][0]["measurements"][0]["value"],
        "0.97"
    );
    // The Secret's value is used, never written into the object.
    assert!(run["spec"]["args"][0]["value"].is_null(), "{run}");
    let broken = run_until(&server, &controller, "missing-secret", "Error").await;
    assert!(
        broken["status"]["message"]
            .as_str()
            .unwrap()
            .contains("secret \"nowhere\" not found"),
        "{}",
        broken["status"]
    );
    assert_allowed_by_rbac(&server);
    server.shutdown();
}

/// The random-fail Jobs the runs made so far, by name.
fn random_fail_jobs(server: &ApiServer) -> Vec<Value> {
    server
        .list("batch/v1", "Job", "default")
        .unwrap()
        .into_iter()
        .filter(|j| {
            j["metadata"]["annotations"]["analysisrun.argoproj.io/metric-name"] == "random-fail"
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn argos_analysis_step_example_runs_its_jobs() {
    // Argo's own example: a step analysis over the `random-fail` AnalysisTemplate and the
    // `always-pass` ClusterAnalysisTemplate, both `job` metrics. Jobs take 1 s here and
    // succeed unless the test marks them to fail (the stand-in runs no pods).
    let server = ApiServer::start(Options {
        pod_ready_delay: Duration::from_millis(200),
        job_duration: Duration::from_secs(1),
        ..Options::default()
    })
    .await
    .unwrap();
    server
        .apply_yaml(include_str!("../deploy/crds/weir-crds.yaml"))
        .unwrap();
    for doc in [
        include_str!("../config/tests/data/argo-examples/analysis-templates.yaml"),
        include_str!("../config/tests/data/argo-examples/cluster-analysis-templates.yaml"),
        include_str!("../config/tests/data/argo-examples/rollout-analysis-step.yaml"),
    ] {
        server.apply_yaml(doc).unwrap();
    }
    let controller = Controller::start(&server);
    let name = "rollout-analysis-step";
    until(&server, &controller, name, "healthy", |r, sets| {
        r["status"]["phase"] == "Healthy" && sets.get(&rs_name(r)) == Some(&(4, 4))
    })
    .await;
    let image = |tag: &str| json!({"spec": {"template": {"spec": {"containers": [{"name": "rollouts-demo", "image": format!("argoproj/rollouts-demo:{tag}"), "imagePullPolicy": "Always", "ports": [{"containerPort": 8080}]}]}}}});

    // Every Job succeeds: two random-fail measurements 5 s apart and one always-pass, then
    // the Rollout completes.
    merge_patch(&server, &rollout_path(name), image("yellow")).await;
    let done = until(&server, &controller, name, "promoted", |r, _| {
        r["status"]["phase"] == "Healthy"
            && r["status"]["stableRS"] == r["status"]["currentPodHash"]
            && r["metadata"]["annotations"]["rollout.argoproj.io/revision"] == "2"
    })
    .await;
    let hash = done["status"]["currentPodHash"].as_str().unwrap();
    let run = run_until(
        &server,
        &controller,
        &format!("{name}-{hash}-2-1"),
        "Successful",
    )
    .await;
    let uid = run["metadata"]["uid"].as_str().unwrap();
    let results = run["status"]["metricResults"].as_array().unwrap();
    let by_name = |m: &str| results.iter().find(|r| r["name"] == m).unwrap().clone();
    assert_eq!(by_name("random-fail")["successful"], 2);
    assert_eq!(by_name("pass")["successful"], 1);
    let jobs = server.list("batch/v1", "Job", "default").unwrap();
    let mut names: Vec<&str> = jobs
        .iter()
        .map(|j| j["metadata"]["name"].as_str().unwrap())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            format!("{uid}.pass.1"),
            format!("{uid}.random-fail.1"),
            format!("{uid}.random-fail.2"),
        ]
    );
    let job = &jobs[0];
    assert_eq!(
        job["metadata"]["labels"]["analysisrun.argoproj.io/uid"],
        uid
    );
    assert_eq!(job["metadata"]["ownerReferences"][0]["kind"], "AnalysisRun");
    assert_eq!(job["metadata"]["ownerReferences"][0]["uid"], uid);

    // Both random-fail Jobs fail (failureLimit 1 tolerates one): the run fails and the
    // Rollout aborts.
    merge_patch(&server, &rollout_path(name), image("red")).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut failed = std::collections::BTreeSet::new();
    while failed.len() < 4 {
        for job in random_fail_jobs(&server) {
            let job_name = job["metadata"]["name"].as_str().unwrap().to_owned();
            if job_name.starts_with(uid) || failed.contains(&job_name) {
                continue;
            }
            // In process, so that the RBAC check below counts only the controller's calls.
            let mut marked = job.clone();
            marked["metadata"]["annotations"]["apiserver-sim.weir.dev/job-outcome"] =
                json!("Failed");
            if server.update(marked).is_err() {
                continue; // changed since the list (its status): try again
            }
            failed.insert(job_name);
        }
        let aborted = support::kube::rollout(&server, name)["status"]["abort"] == true;
        if aborted {
            break;
        }
        assert!(Instant::now() < deadline, "{}", controller.logs());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let aborted = until(&server, &controller, name, "aborted", |r, _| {
        r["status"]["phase"] == "Degraded" && r["status"]["abort"] == true
    })
    .await;
    let bad = aborted["status"]["currentPodHash"].as_str().unwrap();
    let run = run_until(&server, &controller, &format!("{name}-{bad}-3-1"), "Failed").await;
    let random = run["status"]["metricResults"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "random-fail")
        .unwrap()
        .clone();
    assert_eq!(random["failed"], 2, "{random}");
    assert_allowed_by_rbac(&server);
    server.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_aborted_rollout_deletes_the_job_its_analysis_is_running() {
    // Jobs that would take a minute: the abort comes while the first one runs.
    let server = ApiServer::start(Options {
        pod_ready_delay: Duration::from_millis(100),
        job_duration: Duration::from_secs(60),
        ..Options::default()
    })
    .await
    .unwrap();
    server
        .apply_yaml(include_str!("../deploy/crds/weir-crds.yaml"))
        .unwrap();
    server
        .apply_yaml(
            "\
apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata: {name: slow, namespace: default}
spec:
  metrics:
  - name: slow
    provider:
      job:
        spec:
          backoffLimit: 0
          template:
            spec:
              restartPolicy: Never
              containers: [{name: check, image: 'busybox:1.36', command: [sleep, '60']}]
---
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {name: web, namespace: default}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: 'web:1'}]}
  strategy:
    canary:
      steps:
      - setWeight: 50
      - analysis: {templates: [{templateName: slow}]}
",
        )
        .unwrap();
    let mut controller = Controller::start(&server);
    until(&server, &controller, "web", "healthy", |r, sets| {
        r["status"]["phase"] == "Healthy" && sets.get(&rs_name(r)) == Some(&(2, 2))
    })
    .await;
    set_image(&server, "web:2").await;
    let deadline = Instant::now() + Duration::from_secs(30);
    let job = loop {
        let jobs = server.list("batch/v1", "Job", "default").unwrap();
        if let Some(j) = jobs.first() {
            break j["metadata"]["name"].as_str().unwrap().to_owned();
        }
        assert!(Instant::now() < deadline, "{}", controller.logs());
        tokio::time::sleep(Duration::from_millis(50)).await;
    };

    // While the Job runs, the run shows its measurement as Argo does: Running, naming the
    // Job, with the time it is looked at again.
    let running = |controller: &Controller| {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let runs = server
                .list("argoproj.io/v1alpha1", "AnalysisRun", "default")
                .unwrap();
            let shown = runs.first().and_then(|r| {
                r["status"]["metricResults"][0]["measurements"]
                    .as_array()
                    .and_then(|m| m.last().cloned())
            });
            if let Some(m) = shown {
                return m;
            }
            assert!(Instant::now() < deadline, "{}", controller.logs());
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    let shown = running(&controller);
    assert_eq!(shown["phase"], "Running", "{shown}");
    assert_eq!(shown["metadata"]["job-name"], job.as_str(), "{shown}");
    assert_eq!(shown["metadata"]["job-namespace"], "default", "{shown}");
    assert!(
        shown["finishedAt"].is_null() && shown["resumeAt"].is_string(),
        "{shown}"
    );

    // A restarted controller takes the same measurement up: same Job, same start.
    controller.kill9();
    let controller = Controller::start(&server);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let again = running(&controller);
        assert_eq!(again["phase"], "Running", "{again}");
        assert_eq!(again["startedAt"], shown["startedAt"], "{again}");
        assert_eq!(again["metadata"]["job-name"], job.as_str(), "{again}");
        if again["resumeAt"] != shown["resumeAt"] {
            break; // looked at again by the new controller
        }
        assert!(Instant::now() < deadline, "{}", controller.logs());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(server.list("batch/v1", "Job", "default").unwrap().len(), 1);

    // `kubectl argo rollouts abort`: the run is terminated and its running Job deleted.
    merge_patch(
        &server,
        &format!("{}/status", rollout_path("web")),
        json!({"status": {"abort": true}}),
    )
    .await;
    until(&server, &controller, "web", "aborted", |r, _| {
        r["status"]["phase"] == "Degraded"
    })
    .await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while server
        .get("batch/v1", "Job", "default", &job)
        .is_ok_and(|j| j["metadata"]["deletionTimestamp"].is_null())
    {
        assert!(
            Instant::now() < deadline,
            "the Job still runs: {}",
            controller.logs()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let runs = server
        .list("argoproj.io/v1alpha1", "AnalysisRun", "default")
        .unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0]["spec"]["terminate"], true);
    assert!(controller
        .logs()
        .contains("deleted the terminated run's Job"));
    assert_allowed_by_rbac(&server);
    server.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn old_analysis_runs_go_past_the_history_limit() {
    // Argo's FilterAnalysisRunsToDelete: with `successfulRunHistoryLimit: 1`, each promotion
    // leaves only the newest successful run; the current one is never touched.
    let server = ApiServer::start(Options {
        pod_ready_delay: Duration::from_millis(100),
        job_duration: Duration::from_millis(200),
        ..Options::default()
    })
    .await
    .unwrap();
    server
        .apply_yaml(include_str!("../deploy/crds/weir-crds.yaml"))
        .unwrap();
    server
        .apply_yaml(include_str!(
            "../config/tests/data/argo-examples/cluster-analysis-templates.yaml"
        ))
        .unwrap();
    server
        .apply_yaml(
            "\
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {name: web, namespace: default}
spec:
  replicas: 1
  analysis: {successfulRunHistoryLimit: 1}
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: 'web:1'}]}
  strategy:
    canary:
      steps:
      - setWeight: 50
      - analysis: {templates: [{templateName: always-pass, clusterScope: true}]}
",
        )
        .unwrap();
    let controller = Controller::start(&server);
    until(&server, &controller, "web", "healthy", |r, sets| {
        r["status"]["phase"] == "Healthy" && sets.get(&rs_name(r)) == Some(&(1, 1))
    })
    .await;
    let run_names = || {
        let mut names: Vec<String> = server
            .list("argoproj.io/v1alpha1", "AnalysisRun", "default")
            .unwrap()
            .iter()
            .filter(|r| r["metadata"]["deletionTimestamp"].is_null())
            .map(|r| r["metadata"]["name"].as_str().unwrap().to_owned())
            .collect();
        names.sort();
        names
    };
    for (revision, image) in [(2, "web:2"), (3, "web:3"), (4, "web:4")] {
        set_image(&server, image).await;
        let done = until(&server, &controller, "web", image, |r, _| {
            r["status"]["phase"] == "Healthy"
                && r["status"]["stableRS"] == r["status"]["currentPodHash"]
                && r["metadata"]["annotations"]["rollout.argoproj.io/revision"]
                    .as_str()
                    .and_then(|v| v.parse::<i32>().ok())
                    == Some(revision)
        })
        .await;
        let hash = done["status"]["currentPodHash"].as_str().unwrap();
        let newest = format!("web-{hash}-{revision}-1");
        let deadline = Instant::now() + Duration::from_secs(20);
        while run_names() != [newest.clone()] {
            assert!(
                Instant::now() < deadline,
                "after revision {revision}: {:?}\n{}",
                run_names(),
                controller.logs()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    assert_allowed_by_rbac(&server);
    server.shutdown();
}
