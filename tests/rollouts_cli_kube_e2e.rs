//! `weir rollouts` against a cluster: the real binary, with KUBECONFIG pointing at the
//! in-memory API server, on Rollouts the real `weir controller` drives. Every command is
//! checked by what it prints and by the object it leaves in the API server: list, get and
//! status as in standalone mode, then pause, promote, abort, retry and promote --full to
//! Healthy; another namespace (`-n`, a context's namespace); and the errors for a rollout
//! that is not there and a cluster that is gone.

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::kube::{merge_patch, rollout, rollout_path, rs_name, until, wait_for, Controller};
use weir_apiserver_sim::{ApiServer, Options};

/// A canary of four pods: 25%, a pause, 75%, a pause. No traffic router: the split is the
/// pods.
const WEB: &str = "\
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {name: web, namespace: default}
spec:
  replicas: 4
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: 'shop/web:1'}]
  strategy:
    canary:
      steps:
      - setWeight: 25
      - pause: {}
      - setWeight: 75
      - pause: {}
";

/// Another team's rollout, in namespace `other`.
const API: &str = "\
apiVersion: v1
kind: Namespace
metadata: {name: other}
---
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {name: api, namespace: other}
spec:
  replicas: 2
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec:
      containers: [{name: api, image: 'shop/api:1'}]
  strategy:
    canary:
      steps:
      - setWeight: 50
      - pause: {}
";

/// The sim's kubeconfig plus a context `sim-other` whose namespace is `other`.
fn write_kubeconfig(server: &ApiServer, path: &Path) {
    let kubeconfig = server.kubeconfig().replacen(
        "contexts:\n",
        "contexts:\n- name: sim-other\n  context:\n    cluster: sim\n    user: sim\n    namespace: other\n",
        1,
    );
    std::fs::write(path, kubeconfig).unwrap();
}

/// `weir rollouts --kubernetes ARGS` with KUBECONFIG set: (exit code, stdout, stderr).
async fn kube(kubeconfig: &Path, args: &[&str]) -> (i32, String, String) {
    cli(kubeconfig, &[&["--kubernetes"], args].concat()).await
}

/// `weir rollouts ARGS` with KUBECONFIG set.
async fn cli(kubeconfig: &Path, args: &[&str]) -> (i32, String, String) {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_weir"))
        .arg("rollouts")
        .args(args)
        .env("KUBECONFIG", kubeconfig)
        .env_remove("WEIR_ADMIN")
        .env_remove("RUST_LOG")
        .output()
        .await
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs a command that must succeed; its stdout.
#[track_caller]
fn ok((code, out, err): (i32, String, String)) -> String {
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    assert_eq!(err, "", "stdout:\n{out}");
    out
}

#[track_caller]
fn assert_line(text: &str, line: &str) {
    assert!(
        text.lines().any(|l| l.trim_end() == line),
        "no line {line:?} in:\n{text}"
    );
}

/// The cells of the table row whose first cell is `first`: columns are two or more spaces
/// apart.
#[track_caller]
fn row(text: &str, first: &str) -> Vec<String> {
    let line = text
        .lines()
        .find(|l| {
            l.strip_prefix(first)
                .is_some_and(|r| r.is_empty() || r.starts_with("  "))
        })
        .unwrap_or_else(|| panic!("no row {first:?} in:\n{text}"));
    std::iter::once(first)
        .chain(
            line[first.len()..]
                .split("  ")
                .map(str::trim)
                .filter(|c| !c.is_empty()),
        )
        .map(str::to_owned)
        .collect()
}

fn hash(r: &Value) -> String {
    r["status"]["currentPodHash"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operators_drive_a_cluster_rollout_with_the_cli() {
    let server = ApiServer::start(Options::default()).await.unwrap();
    server
        .apply_yaml(include_str!("../deploy/crds/weir-crds.yaml"))
        .unwrap();
    server.apply_yaml(WEB).unwrap();
    server.apply_yaml(API).unwrap();
    let controller = Controller::start(&server);
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    write_kubeconfig(&server, &kubeconfig);
    let kc = kubeconfig.as_path();

    let first = until(
        &server,
        &controller,
        "web",
        "healthy at first",
        |r, sets| {
            r["status"]["phase"] == "Healthy"
                && r["status"]["stableRS"] == r["status"]["currentPodHash"]
                && sets.get(&rs_name(r)) == Some(&(4, 4))
        },
    )
    .await;
    let (blue, blue_hash) = (rs_name(&first), hash(&first));

    // A new image: the canary gets one pod of four (25%), then the indefinite pause.
    merge_patch(
        &server,
        &rollout_path("web"),
        json!({"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "shop/web:2"}]}}}}),
    )
    .await;
    let paused = until(&server, &controller, "web", "paused at 25%", |r, sets| {
        r["status"]["phase"] == "Paused"
            && r["status"]["currentStepIndex"] == 1
            && sets.get(&rs_name(r)) == Some(&(1, 1))
            && sets.get(&blue) == Some(&(3, 3))
            && r["status"]["availableReplicas"] == 4
    })
    .await;
    let (green, green_hash) = (rs_name(&paused), hash(&paused));

    // list: the default namespace (the context's) only, the weight from the pods.
    let out = ok(kube(kc, &["list"]).await);
    assert_eq!(
        row(&out, "NAME"),
        [
            "NAME",
            "STRATEGY",
            "STATUS",
            "STEP",
            "SET-WEIGHT",
            "ACTUAL-WEIGHT"
        ]
    );
    assert_eq!(
        row(&out, "web"),
        ["web", "Canary", "Paused", "1/4", "25", "25"]
    );
    assert!(!out.contains("api"), "{out}");

    // get: the standalone view (status, step, weights, revisions, steps) with what the
    // cluster adds (images, replicas, ReplicaSets by revision).
    let out = ok(kube(kc, &["get", "web"]).await);
    for line in [
        "Name:            web",
        "Namespace:       default",
        "Status:          ॥ Paused",
        "Message:         CanaryPauseStep",
        "Strategy:        Canary",
        "  Step:          1/4",
        "  SetWeight:     25",
        "  ActualWeight:  25",
        &format!("  Canary:        {green_hash}"),
        &format!("  Stable:        {blue_hash}"),
        "Images:          shop/web:1 (stable)",
        "                 shop/web:2 (canary)",
        "  Desired:       4",
        "  Current:       4",
        "  Available:     4",
        "  ✔ 0  setWeight: 25",
        "  → 1  pause (until promoted)",
    ] {
        assert_line(&out, line);
    }
    assert_eq!(
        row(&out, "├──# revision:2"),
        ["├──# revision:2"],
        "revisions newest first:\n{out}"
    );
    assert_eq!(
        row(&out, &format!("│  └──⧉ {green}")),
        [
            format!("│  └──⧉ {green}").as_str(),
            "ReplicaSet",
            "✔ Healthy",
            "canary",
            "ready:1/1"
        ]
    );
    assert_eq!(
        row(&out, &format!("   └──⧉ {blue}")),
        [
            format!("   └──⧉ {blue}").as_str(),
            "ReplicaSet",
            "✔ Healthy",
            "stable",
            "ready:3/3"
        ]
    );
    assert_line(&out, "└──# revision:1");

    // status: as standalone, no outcome within the timeout while paused (exit 1), and
    // `--watch=false` only says where it stands.
    let (code, out, err) = kube(kc, &["status", "web", "--timeout", "1s"]).await;
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.starts_with("Paused - CanaryPauseStep\n"), "{out}");
    assert!(
        err.contains("rollout 'web' is not Healthy after 1s"),
        "{err}"
    );
    let (code, out, _) = kube(kc, &["status", "web", "--watch=false"]).await;
    assert_eq!((code, out.as_str()), (0, "Paused - CanaryPauseStep\n"));

    // pause: spec.paused on the object.
    let out = ok(kube(kc, &["pause", "web"]).await);
    assert!(out.starts_with("rollout 'web' paused\n"), "{out}");
    assert_eq!(rollout(&server, "web")["spec"]["paused"], true);

    // promote: unpaused on the object, the pause condition cleared on the status; on to
    // 75% (three pods of four) and the second pause.
    let out = ok(kube(kc, &["promote", "web"]).await);
    assert!(out.starts_with("rollout 'web' promoted\n"), "{out}");
    assert_ne!(rollout(&server, "web")["spec"]["paused"], true);
    until(&server, &controller, "web", "paused at 75%", |r, sets| {
        r["status"]["phase"] == "Paused"
            && r["status"]["currentStepIndex"] == 3
            && sets.get(&green) == Some(&(3, 3))
            && sets.get(&blue).map(|s| s.0) == Some(1)
    })
    .await;
    let out = ok(kube(kc, &["get", "web"]).await);
    assert_line(&out, "  Step:          3/4");
    assert_line(&out, "  SetWeight:     75");

    // abort: status.abort on the status subresource (the object's own status is not
    // writable there), then back to the stable pods, Degraded.
    let out = ok(kube(kc, &["abort", "web"]).await);
    assert!(out.starts_with("rollout 'web' aborted\n"), "{out}");
    assert_eq!(rollout(&server, "web")["status"]["abort"], true);
    until(&server, &controller, "web", "aborted", |r, sets| {
        r["status"]["phase"] == "Degraded"
            && sets.get(&blue) == Some(&(4, 4))
            && sets.get(&green).map(|s| s.0) == Some(0)
    })
    .await;
    let out = ok(kube(kc, &["get", "web"]).await);
    assert_line(&out, "Status:          ✖ Degraded");
    assert!(out.contains("RolloutAborted"), "{out}");
    let (code, out, err) = kube(kc, &["status", "web"]).await;
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.starts_with("Degraded - RolloutAborted"), "{out}");
    assert!(
        err.contains("rollout 'web' is Degraded: aborted by a user"),
        "{err}"
    );

    // retry: the abort cleared; from the first step again, to the first pause.
    let out = ok(kube(kc, &["retry", "web"]).await);
    assert!(out.starts_with("rollout 'web' retried\n"), "{out}");
    assert_ne!(rollout(&server, "web")["status"]["abort"], true);
    until(
        &server,
        &controller,
        "web",
        "paused again after retry",
        |r, sets| {
            r["status"]["phase"] == "Paused"
                && r["status"]["currentStepIndex"] == 1
                && sets.get(&green) == Some(&(1, 1))
        },
    )
    .await;

    // promote --full: status.promoteFull, every remaining step skipped, the canary stable.
    let out = ok(kube(kc, &["promote", "web", "--full"]).await);
    assert!(out.starts_with("rollout 'web' fully promoted\n"), "{out}");
    until(&server, &controller, "web", "fully promoted", |r, sets| {
        r["status"]["phase"] == "Healthy"
            && r["status"]["stableRS"] == green_hash.as_str()
            && sets.get(&green) == Some(&(4, 4))
            && sets.get(&blue).map(|s| s.0) == Some(0)
    })
    .await;
    // The old pods gone too (the header lists the images of ReplicaSets with pods).
    wait_for(|| {
        let rs = server
            .get("apps/v1", "ReplicaSet", "default", &blue)
            .unwrap();
        rs["status"]["replicas"].as_i64().unwrap_or(0) == 0
    })
    .await;
    let (code, out, _) = kube(kc, &["status", "web", "--timeout", "10s"]).await;
    assert_eq!((code, out.as_str()), (0, "Healthy\n"));
    let out = ok(kube(kc, &["get", "web"]).await);
    assert_line(&out, "Status:          ✔ Healthy");
    assert_line(&out, "  Step:          4/4");
    assert_line(&out, "Images:          shop/web:2 (stable)");
    assert!(!out.contains("shop/web:1"), "{out}");
    assert_eq!(
        row(&out, &format!("   └──⧉ {blue}"))[1..3],
        ["ReplicaSet", "• ScaledDown"]
    );

    // Another namespace: -n, or a context whose namespace it is.
    let api = wait_healthy(&server, "other", "api").await;
    let out = ok(cli(kc, &["-n", "other", "list"]).await);
    assert_eq!(
        row(&out, "api"),
        ["api", "Canary", "Healthy", "2/2", "100", "100"]
    );
    assert!(!out.contains("web"), "{out}");
    // Its tree holds the AnalysisRuns it owns, under their revision, and no others.
    for (name, owned) in [("api-smoke", true), ("unrelated", false)] {
        let mut run = json!({
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "AnalysisRun",
            "metadata": {
                "name": name,
                "namespace": "other",
                "annotations": {"rollout.argoproj.io/revision": "1"},
            },
            "spec": {"metrics": [{
                "name": "smoke",
                "count": 1,
                "successCondition": "result == 1",
                "provider": {"web": {"url": "http://127.0.0.1:1/"}},
            }]},
        });
        if owned {
            run["metadata"]["ownerReferences"] = json!([{
                "apiVersion": "argoproj.io/v1alpha1",
                "kind": "Rollout",
                "name": "api",
                "uid": api["metadata"]["uid"],
                "controller": true,
            }]);
        }
        server.create(run).unwrap();
    }
    let out = ok(cli(kc, &["--context", "sim-other", "get", "api"]).await);
    assert_line(&out, "└──# revision:1");
    assert_eq!(
        row(&out, &format!("   ├──⧉ {}", rs_name(&api)))[1..4],
        ["ReplicaSet", "✔ Healthy", "stable"]
    );
    assert_eq!(row(&out, "   └──α api-smoke")[1], "AnalysisRun");
    assert_eq!(row(&out, "      └──smoke")[1], "Metric");
    assert!(!out.contains("unrelated"), "{out}");
    assert_line(&out, "Namespace:       other");
    assert_line(&out, "Status:          ✔ Healthy");
    assert_line(&out, "Images:          shop/api:1 (stable)");
    let out = ok(cli(kc, &["-n", "empty", "list"]).await);
    assert_eq!(out, "No rollouts found in namespace \"empty\".\n");

    // A rollout that is not there: named, with the namespace looked in.
    let (code, out, err) = kube(kc, &["get", "api"]).await;
    assert_eq!((code, out.as_str()), (1, ""));
    assert_eq!(
        err,
        "weir: rollout \"api\" not found in namespace \"default\"\n"
    );
    for args in [
        &["promote", "nope"][..],
        &["abort", "nope"],
        &["pause", "nope"],
    ] {
        let (code, _, err) = kube(kc, args).await;
        assert_eq!(code, 1, "{args:?}: {err}");
        assert_eq!(
            err, "weir: rollout \"nope\" not found in namespace \"default\"\n",
            "{args:?}"
        );
    }
    assert!(server
        .get("argoproj.io/v1alpha1", "Rollout", "default", "nope")
        .is_err());

    // A cluster that is gone: said so, with its address.
    drop(controller);
    server.shutdown();
    let started = Instant::now();
    let (code, _, err) = kube(kc, &["list"]).await;
    assert_eq!(code, 1, "{err}");
    assert!(
        err.starts_with(&format!(
            "weir: cannot reach the Kubernetes API server at {}: ",
            server.url()
        )),
        "{err}"
    );
    assert!(started.elapsed() < Duration::from_secs(10));
}

/// Polls Rollout `name` in `namespace` until Healthy on its first revision.
async fn wait_healthy(server: &ApiServer, namespace: &str, name: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let r = server
            .get("argoproj.io/v1alpha1", "Rollout", namespace, name)
            .unwrap();
        if r["status"]["phase"] == "Healthy"
            && r["status"]["availableReplicas"] == 2
            && r["status"]["stableRS"] == r["status"]["currentPodHash"]
        {
            return r;
        }
        assert!(
            Instant::now() < deadline,
            "{namespace}/{name} never healthy: {}",
            r["status"]
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
