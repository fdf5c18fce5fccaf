//! `weir controller` running Experiments as Argo's controllers do, against the in-memory
//! API server: Argo's `rollout-experiment-step.yaml` example makes an Experiment object
//! (Argo's name, labels, owner, the canary's pod template), whose template runs as a
//! ReplicaSet and whose analysis runs as an AnalysisRun (a Job), and the Rollout goes on
//! when it succeeds; a failing experiment aborts its Rollout; Argo's
//! `experiment-with-analysis.yaml`, created by a user, runs on its own; a template with a
//! Service gets one, and its pods and Service go when the experiment ends.

mod support;

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::kube::{assert_allowed_by_rbac, merge_patch, rollout_path, until, Controller};
use weir_apiserver_sim::{ApiServer, Options};

fn in_default(yaml: &str) -> String {
    yaml.replace(
        "metadata:\n  name:",
        "metadata:\n  namespace: default\n  name:",
    )
}

async fn started() -> (ApiServer, Controller) {
    let server = ApiServer::start(Options {
        pod_ready_delay: Duration::from_millis(100),
        job_duration: Duration::from_millis(300),
        ..Options::default()
    })
    .await
    .unwrap();
    server
        .apply_yaml(include_str!("../deploy/crds/weir-crds.yaml"))
        .unwrap();
    server
        .apply_yaml(&in_default(include_str!(
            "../config/tests/data/argo-examples/analysis-templates.yaml"
        )))
        .unwrap();
    let controller = Controller::start(&server);
    (server, controller)
}

fn get(server: &ApiServer, kind: &str, name: &str) -> Option<Value> {
    let api = match kind {
        "ReplicaSet" => "apps/v1",
        "Service" => "v1",
        _ => "argoproj.io/v1alpha1",
    };
    server.get(api, kind, "default", name).ok()
}

/// Polls object `kind/name` until `check` holds; panics after 30 s with the object and
/// the controller's log.
async fn object_until(
    server: &ApiServer,
    controller: &Controller,
    kind: &str,
    name: &str,
    what: &str,
    check: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let o = get(server, kind, name);
        if let Some(o) = o.as_ref().filter(|o| check(o)) {
            return o.clone();
        }
        assert!(
            Instant::now() < deadline,
            "{kind} {name} never {what}: {}\nlog:\n{}",
            serde_json::to_string_pretty(&o).unwrap(),
            controller.logs()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn names(server: &ApiServer, api: &str, kind: &str) -> Vec<String> {
    server
        .list(api, kind, "default")
        .unwrap()
        .iter()
        .map(|o| o["metadata"]["name"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn argos_experiment_step_example_runs_its_experiment_and_the_rollout_goes_on() {
    let (server, controller) = started().await;
    // The example's experiment has no duration, and so (as with Argo) runs until something
    // ends it; with its analysis required for completion, it ends when the analysis does.
    let example = in_default(include_str!(
        "../config/tests/data/argo-examples/rollout-experiment-step.yaml"
    ))
    .replace(
        "            templateName: random-fail\n",
        "            templateName: random-fail\n            requiredForCompletion: true\n",
    );
    assert!(example.contains("requiredForCompletion: true"));
    server.apply_yaml(&example).unwrap();
    let name = "rollout-experiment-step";
    let first = until(&server, &controller, name, "healthy", |r, _| {
        r["status"]["phase"] == "Healthy"
    })
    .await;
    assert!(names(&server, "argoproj.io/v1alpha1", "Experiment").is_empty());

    merge_patch(
        &server,
        &rollout_path(name),
        json!({"spec": {"template": {"spec": {"containers": [{"name": "rollouts-demo", "image": "argoproj/rollouts-demo:yellow"}]}}}}),
    )
    .await;
    let at_experiment = until(&server, &controller, name, "at the experiment", |r, _| {
        r["status"]["currentStepIndex"] == 1
            && r["status"]["canary"]["currentExperiment"].is_string()
    })
    .await;
    let hash = at_experiment["status"]["currentPodHash"].as_str().unwrap();
    let ex_name = at_experiment["status"]["canary"]["currentExperiment"]
        .as_str()
        .unwrap()
        .to_owned();
    // Argo's GetExperimentFromTemplate: `<rollout>-<hash>-<revision>-<step>`, owned by the
    // Rollout, labelled with the canary's hash, the canary's pod template.
    assert_eq!(ex_name, format!("{name}-{hash}-2-1"));
    let ex = get(&server, "Experiment", &ex_name).unwrap();
    assert_eq!(ex["metadata"]["ownerReferences"][0]["kind"], "Rollout");
    assert_eq!(
        ex["metadata"]["ownerReferences"][0]["uid"],
        first["metadata"]["uid"]
    );
    assert_eq!(ex["metadata"]["labels"]["rollouts-pod-template-hash"], hash);
    assert_eq!(
        ex["metadata"]["annotations"]["rollout.argoproj.io/revision"],
        "2"
    );
    let template = &ex["spec"]["templates"][0];
    assert_eq!(template["name"], "canary");
    assert_eq!(
        template["template"]["spec"]["containers"][0]["image"],
        "argoproj/rollouts-demo:yellow"
    );
    assert_eq!(ex["spec"]["analyses"][0]["templateName"], "random-fail");

    // The experiment's template is a ReplicaSet of its own, its analysis a run of its own.
    let rs_name = format!("{ex_name}-canary");
    let rs = object_until(
        &server,
        &controller,
        "ReplicaSet",
        &rs_name,
        "ready",
        |rs| rs["status"]["availableReplicas"] == 1,
    )
    .await;
    assert_eq!(rs["metadata"]["ownerReferences"][0]["kind"], "Experiment");
    assert_eq!(
        rs["metadata"]["ownerReferences"][0]["uid"],
        ex["metadata"]["uid"]
    );
    assert_eq!(
        rs["metadata"]["annotations"]["experiment.argoproj.io/name"],
        json!(ex_name)
    );
    assert_eq!(
        rs["metadata"]["annotations"]["experiment.argoproj.io/template-name"],
        "canary"
    );
    let rs_hash = rs["metadata"]["labels"]["rollouts-pod-template-hash"].clone();
    assert_eq!(
        rs["spec"]["selector"]["matchLabels"]["rollouts-pod-template-hash"],
        rs_hash
    );
    let run = object_until(
        &server,
        &controller,
        "AnalysisRun",
        &format!("{ex_name}-random-fail"),
        "Successful",
        |r| r["status"]["phase"] == "Successful",
    )
    .await;
    assert_eq!(run["metadata"]["ownerReferences"][0]["kind"], "Experiment");

    // The experiment succeeds with its analysis, its status in Argo's shape; the Rollout
    // completes.
    let ex = object_until(
        &server,
        &controller,
        "Experiment",
        &ex_name,
        "Successful",
        // The phase first, its templates on the next reconcile (as with Argo).
        |e| {
            e["status"]["phase"] == "Successful"
                && e["status"]["templateStatuses"][0]["status"] == "Successful"
        },
    )
    .await;
    let status = &ex["status"];
    assert_eq!(status["message"], "Required AnalysisRuns completed");
    assert!(status["availableAt"].is_string(), "{status}");
    assert_eq!(status["templateStatuses"][0]["name"], "canary");
    assert_eq!(status["templateStatuses"][0]["status"], "Successful");
    assert_eq!(status["templateStatuses"][0]["podTemplateHash"], rs_hash);
    assert_eq!(
        status["analysisRuns"][0]["analysisRun"],
        run["metadata"]["name"]
    );
    assert_eq!(
        status["analysisRuns"][0]["phase"], "Successful",
        "{status}\n{}",
        run["status"]
    );
    until(&server, &controller, name, "promoted", |r, _| {
        r["status"]["phase"] == "Healthy" && r["status"]["stableRS"] == json!(hash)
    })
    .await;
    // Argo scales an ended experiment's pods down after its scale-down delay (30 s).
    object_until(
        &server,
        &controller,
        "ReplicaSet",
        &rs_name,
        "to be scaled down",
        |rs| rs["metadata"]["annotations"]["scale-down-deadline"].is_string(),
    )
    .await;
    assert_eq!(
        names(&server, "argoproj.io/v1alpha1", "Experiment"),
        [ex_name.as_str()],
        "one experiment, made once"
    );
    assert_allowed_by_rbac(&server);
    server.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn old_experiments_go_past_the_history_limit() {
    // Argo's FilterExperimentsToDelete, with the AnalysisRuns' limits: with
    // `successfulRunHistoryLimit: 1` the second promotion deletes the first experiment
    // (and with it, as its owner, its ReplicaSet and run).
    let (server, controller) = started().await;
    let example = in_default(include_str!(
        "../config/tests/data/argo-examples/rollout-experiment-step.yaml"
    ))
    .replace(
        "            templateName: random-fail\n",
        "            templateName: random-fail\n            requiredForCompletion: true\n",
    )
    .replace(
        "  revisionHistoryLimit: 2\n",
        "  revisionHistoryLimit: 2\n  analysis: {successfulRunHistoryLimit: 1}\n",
    );
    assert!(example.contains("successfulRunHistoryLimit"));
    server.apply_yaml(&example).unwrap();
    let name = "rollout-experiment-step";
    until(&server, &controller, name, "healthy", |r, _| {
        r["status"]["phase"] == "Healthy"
    })
    .await;
    let mut made = Vec::new();
    for (revision, image) in [(2, "yellow"), (3, "green")] {
        merge_patch(
            &server,
            &rollout_path(name),
            json!({"spec": {"template": {"spec": {"containers": [{"name": "rollouts-demo", "image": format!("argoproj/rollouts-demo:{image}")}]}}}}),
        )
        .await;
        let done = until(&server, &controller, name, image, |r, _| {
            r["status"]["phase"] == "Healthy"
                && r["status"]["stableRS"] == r["status"]["currentPodHash"]
                && r["metadata"]["annotations"]["rollout.argoproj.io/revision"]
                    .as_str()
                    .and_then(|v| v.parse::<i32>().ok())
                    == Some(revision)
        })
        .await;
        let hash = done["status"]["currentPodHash"].as_str().unwrap();
        made.push(format!("{name}-{hash}-{revision}-1"));
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let left: Vec<String> = server
            .list("argoproj.io/v1alpha1", "Experiment", "default")
            .unwrap()
            .iter()
            .filter(|e| e["metadata"]["deletionTimestamp"].is_null())
            .map(|e| e["metadata"]["name"].as_str().unwrap().to_owned())
            .collect();
        if left == made[1..] {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{left:?}, made {made:?}\n{}",
            controller.logs()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_allowed_by_rbac(&server);
    server.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_set_of_the_same_name_that_is_not_the_experiments_is_left_alone() {
    // Someone else's ReplicaSet holds the name a template's would have: it is never
    // claimed or resized, and the Experiment says why.
    let (server, controller) = started().await;
    server
        .apply_yaml(
            "\
apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: experiment-with-analysis-purple, namespace: default}
spec:
  replicas: 2
  selector: {matchLabels: {app: other}}
  template:
    metadata: {labels: {app: other}}
    spec: {containers: [{name: other, image: 'other:1'}]}
",
        )
        .unwrap();
    server
        .apply_yaml(&in_default(include_str!(
            "../config/tests/data/argo-examples/experiment-with-analysis.yaml"
        )))
        .unwrap();
    let name = "experiment-with-analysis";
    // The other template runs.
    object_until(
        &server,
        &controller,
        "ReplicaSet",
        &format!("{name}-orange"),
        "made",
        |rs| rs["status"]["availableReplicas"] == 1,
    )
    .await;
    let deadline = Instant::now() + Duration::from_secs(20);
    let warning = loop {
        let events = server.list("v1", "Event", "default").unwrap();
        if let Some(e) = events
            .iter()
            .find(|e| e["reason"] == "FailedRSCreate" && e["involvedObject"]["name"] == name)
        {
            break e.clone();
        }
        assert!(Instant::now() < deadline, "{}", controller.logs());
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(warning["type"], "Warning");
    assert!(
        warning["message"]
            .as_str()
            .unwrap()
            .contains("\"experiment-with-analysis-purple\""),
        "{warning}"
    );
    let other = get(&server, "ReplicaSet", &format!("{name}-purple")).unwrap();
    assert_eq!(other["spec"]["replicas"], 2);
    assert!(other["metadata"]["ownerReferences"].is_null(), "{other}");
    assert_eq!(
        other["spec"]["template"]["spec"]["containers"][0]["image"],
        "other:1"
    );
    server.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_template_of_no_replicas_runs_at_once() {
    // Argo: a template asking for 0 replicas has all it wants at once; its ReplicaSet is
    // made with no pods, and the experiment runs its duration and succeeds.
    let (server, controller) = started().await;
    server
        .apply_yaml(
            "\
apiVersion: argoproj.io/v1alpha1
kind: Experiment
metadata: {name: idle, namespace: default}
spec:
  duration: 2s
  templates:
  - name: none
    replicas: 0
    selector: {matchLabels: {app: idle}}
    template:
      metadata: {labels: {app: idle}}
      spec: {containers: [{name: idle, image: 'idle:1'}]}
",
        )
        .unwrap();
    let running = object_until(&server, &controller, "Experiment", "idle", "running", |e| {
        e["status"]["phase"] == "Running"
    })
    .await;
    assert_eq!(
        running["status"]["templateStatuses"][0]["status"],
        "Running"
    );
    let rs = get(&server, "ReplicaSet", "idle-none").unwrap();
    assert_eq!(rs["spec"]["replicas"], 0);
    object_until(
        &server,
        &controller,
        "Experiment",
        "idle",
        "Successful",
        |e| e["status"]["phase"] == "Successful",
    )
    .await;
    server.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_experiment_aborts_its_rollout() {
    let (server, controller) = started().await;
    server
        .apply_yaml(
            "\
apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata: {name: fails, namespace: default}
spec:
  metrics:
  - name: fails
    provider:
      job:
        metadata:
          annotations: {apiserver-sim.weir.dev/job-outcome: Failed}
        spec:
          backoffLimit: 0
          template:
            spec:
              containers: [{name: check, image: alpine, command: [sh, -c, exit 1]}]
              restartPolicy: Never
---
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {name: web, namespace: default}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: 'web:1', ports: [{containerPort: 8080}]}]}
  strategy:
    canary:
      steps:
      - experiment:
          duration: 1h
          templates:
          - {name: baseline, specRef: stable}
          - {name: canary, specRef: canary}
          analyses:
          - {name: fails, templateName: fails}
      - setWeight: 50
",
        )
        .unwrap();
    until(&server, &controller, "web", "healthy", |r, _| {
        r["status"]["phase"] == "Healthy"
    })
    .await;
    merge_patch(
        &server,
        &rollout_path("web"),
        json!({"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "web:2"}]}}}}),
    )
    .await;
    let aborted = until(&server, &controller, "web", "aborted", |r, _| {
        r["status"]["abort"] == true && r["status"]["phase"] == "Degraded"
    })
    .await;
    let hash = aborted["status"]["currentPodHash"].as_str().unwrap();
    let ex_name = format!("web-{hash}-2-0");
    let ex = get(&server, "Experiment", &ex_name).unwrap();
    assert_eq!(ex["status"]["phase"], "Failed", "{}", ex["status"]);
    assert!(
        aborted["status"]["message"]
            .as_str()
            .unwrap()
            .contains("Experiment analysis phase is error/failed"),
        "{}",
        aborted["status"]["message"]
    );
    // Both templates ran, the baseline from the stable's pod template.
    let baseline = get(&server, "ReplicaSet", &format!("{ex_name}-baseline")).unwrap();
    assert_eq!(
        baseline["spec"]["template"]["spec"]["containers"][0]["image"],
        "web:1"
    );
    let canary = get(&server, "ReplicaSet", &format!("{ex_name}-canary")).unwrap();
    assert_eq!(
        canary["spec"]["template"]["spec"]["containers"][0]["image"],
        "web:2"
    );
    assert_allowed_by_rbac(&server);
    server.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_experiment_a_user_creates_runs_on_its_own() {
    let (server, controller) = started().await;
    server
        .apply_yaml(&in_default(include_str!(
            "../config/tests/data/argo-examples/experiment-with-analysis.yaml"
        )))
        .unwrap();
    let name = "experiment-with-analysis";
    // No duration and no required analysis: as with Argo, it runs once its analyses are done,
    // until it is terminated.
    let running = object_until(&server, &controller, "Experiment", name, "analysed", |e| {
        e["status"]["phase"] == "Running"
            && e["status"]["analysisRuns"].as_array().is_some_and(|runs| {
                runs.len() == 2 && runs.iter().all(|r| r["phase"] == "Successful")
            })
    })
    .await;
    assert!(running["status"]["availableAt"].is_string());
    for (template, image) in [("purple", "purple"), ("orange", "orange")] {
        let rs = get(&server, "ReplicaSet", &format!("{name}-{template}")).unwrap();
        assert_eq!(
            rs["spec"]["template"]["spec"]["containers"][0]["image"],
            json!(format!("argoproj/rollouts-demo:{image}"))
        );
        assert_eq!(rs["spec"]["replicas"], 1);
    }
    merge_patch(
        &server,
        &format!("/apis/argoproj.io/v1alpha1/namespaces/default/experiments/{name}"),
        json!({"spec": {"terminate": true}}),
    )
    .await;
    let ex = object_until(
        &server,
        &controller,
        "Experiment",
        name,
        "Successful",
        |e| e["status"]["phase"] == "Successful",
    )
    .await;
    let statuses = ex["status"]["templateStatuses"].as_array().unwrap();
    let templates: Vec<&str> = statuses
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(templates, ["purple", "orange"]);
    for t in statuses {
        assert_eq!(t["status"], "Successful", "{t}");
    }
    // Its pods go after the scale-down delay (Argo's default 30 s).
    for template in ["purple", "orange"] {
        object_until(
            &server,
            &controller,
            "ReplicaSet",
            &format!("{name}-{template}"),
            "to be scaled down",
            |rs| rs["metadata"]["annotations"]["scale-down-deadline"].is_string(),
        )
        .await;
    }
    let runs = names(&server, "argoproj.io/v1alpha1", "AnalysisRun");
    assert_eq!(
        runs,
        [format!("{name}-pass"), format!("{name}-random-fail")]
    );
    // /metrics under Argo's names, from the controller's cache.
    let line =
        format!(r#"experiment_info{{name="{name}",namespace="default",phase="Successful"}} 1"#);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = controller.metrics().await;
        let template = r#"analysis_template_metric_info{metric="pass",name="pass",namespace="default",type="Job"} 1"#;
        if text.contains(&line)
            && text.contains("experiment_reconcile_count{")
            && text.contains(template)
        {
            break;
        }
        assert!(Instant::now() < deadline, "no {line} in\n{text}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_allowed_by_rbac(&server);
    server.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_templates_service_serves_its_pods_until_the_experiment_ends() {
    let (server, controller) = started().await;
    server
        .apply_yaml(
            "\
apiVersion: argoproj.io/v1alpha1
kind: Experiment
metadata: {name: preview, namespace: default}
spec:
  duration: 2s
  scaleDownDelaySeconds: 0
  templates:
  - name: green
    replicas: 2
    service: {}
    selector: {matchLabels: {app: green}}
    template:
      metadata: {labels: {app: green}}
      spec:
        containers:
        - name: web
          image: web:green
          ports: [{name: http, containerPort: 8080}]
",
        )
        .unwrap();
    let svc = object_until(
        &server,
        &controller,
        "Service",
        "preview-green",
        "made",
        |_| true,
    )
    .await;
    let rs = get(&server, "ReplicaSet", "preview-green").unwrap();
    assert_eq!(svc["metadata"]["ownerReferences"][0]["kind"], "Experiment");
    assert_eq!(
        svc["spec"]["selector"]["rollouts-pod-template-hash"],
        rs["metadata"]["labels"]["rollouts-pod-template-hash"]
    );
    assert_eq!(svc["spec"]["selector"]["app"], "green");
    assert_eq!(svc["spec"]["ports"][0]["port"], 8080);
    assert_eq!(svc["spec"]["ports"][0]["name"], "http");
    let running = object_until(
        &server,
        &controller,
        "Experiment",
        "preview",
        "Running",
        |e| e["status"]["phase"] == "Running",
    )
    .await;
    assert_eq!(
        running["status"]["templateStatuses"][0]["serviceName"],
        "preview-green"
    );
    assert_eq!(running["status"]["templateStatuses"][0]["replicas"], 2);
    // Two seconds after the pods were available: Successful, the pods scaled away at once
    // (no scale-down delay) and the Service deleted once they are gone.
    object_until(
        &server,
        &controller,
        "Experiment",
        "preview",
        "Successful",
        |e| e["status"]["phase"] == "Successful",
    )
    .await;
    object_until(
        &server,
        &controller,
        "ReplicaSet",
        "preview-green",
        "scaled down",
        |rs| rs["spec"]["replicas"] == 0,
    )
    .await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while get(&server, "Service", "preview-green").is_some() {
        assert!(
            Instant::now() < deadline,
            "the Service stays:\n{}",
            controller.logs()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_allowed_by_rbac(&server);
    server.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_during_an_experiment_it_carries_on_with_the_same_one() {
    let (server, mut controller) = started().await;
    server
        .apply_yaml(
            "\
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
      - experiment:
          duration: 4s
          templates: [{name: canary, specRef: canary}]
          analyses: [{name: pass, templateName: pass}]
",
        )
        .unwrap();
    until(&server, &controller, "web", "healthy", |r, _| {
        r["status"]["phase"] == "Healthy"
    })
    .await;
    merge_patch(
        &server,
        &rollout_path("web"),
        json!({"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "web:2"}]}}}}),
    )
    .await;
    let at = until(&server, &controller, "web", "experimenting", |r, _| {
        r["status"]["canary"]["currentExperiment"].is_string()
    })
    .await;
    let ex_name = at["status"]["canary"]["currentExperiment"]
        .as_str()
        .unwrap()
        .to_owned();
    // Killed while the experiment runs, twice (the second time after its run started).
    controller.kill9();
    controller = Controller::start(&server);
    object_until(
        &server,
        &controller,
        "AnalysisRun",
        &format!("{ex_name}-pass"),
        "made",
        |_| true,
    )
    .await;
    controller.kill9();
    controller = Controller::start(&server);
    until(&server, &controller, "web", "promoted", |r, _| {
        r["status"]["phase"] == "Healthy"
            && r["status"]["stableRS"] == at["status"]["currentPodHash"]
    })
    .await;
    assert_eq!(
        names(&server, "argoproj.io/v1alpha1", "Experiment"),
        [ex_name.as_str()],
        "no experiment made twice"
    );
    assert_eq!(
        names(&server, "argoproj.io/v1alpha1", "AnalysisRun"),
        [format!("{ex_name}-pass")]
    );
    let ex = get(&server, "Experiment", &ex_name).unwrap();
    assert_eq!(ex["status"]["phase"], "Successful", "{}", ex["status"]);
    assert_eq!(
        names(&server, "apps/v1", "ReplicaSet")
            .iter()
            .filter(|n| n.starts_with(&ex_name))
            .count(),
        1
    );
    assert_allowed_by_rbac(&server);
    server.shutdown();
}
