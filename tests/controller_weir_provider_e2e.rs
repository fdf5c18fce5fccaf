//! `weir controller` judging a canary with the built-in `weir` provider over two real
//! `weir proxy` processes carrying real traffic to real backends on loopback, found through
//! their admin Service's EndpointSlices (`--proxy-service`): a good canary is promoted, a
//! failing one aborted, and the latency the run records is the quantile of the two proxies'
//! histograms merged, as one histogram of every request would give it.

mod support;

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::client::{load, Client};
use support::kube::{
    assert_allowed_by_rbac, merge_patch, rollout_path, rs_name, until, Controller, SHORT_LEASE,
};
use support::weir::config;
use support::{Backend, BackendOptions, Weir};
use weir_apiserver_sim::{ApiServer, Options};

const ADMIN_SERVICE: &str = "weir-proxy-admin";

const MANIFESTS: &str = "\
apiVersion: v1
kind: Service
metadata: {name: weir-proxy-admin, namespace: default}
spec: {ports: [{name: admin, port: 9901}]}
---
apiVersion: v1
kind: Service
metadata: {name: web-stable, namespace: default}
spec: {selector: {app: web}, ports: [{port: 80}]}
---
apiVersion: v1
kind: Service
metadata: {name: web-canary, namespace: default}
spec: {selector: {app: web}, ports: [{port: 80}]}
---
apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata: {name: canary-health, namespace: default}
spec:
  metrics:
  - name: success-rate
    successCondition: result >= 0.95
    provider:
      weir: {route: web, backend: canary, metric: success-rate, window: 60s, minRequests: 20}
  - name: p99
    successCondition: result < 5
    provider:
      weir: {route: web, backend: canary, metric: latency, quantile: 0.99, window: 60s, minRequests: 20}
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
      canaryService: web-canary
      stableService: web-stable
      steps:
      - setWeight: 50
      - analysis: {templates: [{templateName: canary-health}]}
";

/// One EndpointSlice of the admin Service per proxy (they share 127.0.0.1).
fn create_slice(server: &ApiServer, name: &str, admin: std::net::SocketAddr) {
    server
        .create(json!({
            "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": name, "namespace": "default",
                "labels": {"kubernetes.io/service-name": ADMIN_SERVICE}},
            "addressType": "IPv4",
            "endpoints": [{"addresses": ["127.0.0.1"], "conditions": {"ready": true}}],
            "ports": [{"name": "admin", "port": admin.port(), "protocol": "TCP"}],
        }))
        .unwrap();
}

async fn send(weir: &Weir, n: usize) {
    let outcomes = load(&Client::http1(), &weir.authority(), n, 4).await;
    assert!(outcomes.iter().all(|o| o.backend.is_some()));
}

async fn set_image(server: &ApiServer, image: &str) {
    merge_patch(
        server,
        &rollout_path("web"),
        json!({"spec": {"template": {"spec": {"containers": [{"name": "web", "image": image}]}}}}),
    )
    .await;
}

async fn run_until(server: &ApiServer, controller: &Controller, name: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let run = server
            .get("argoproj.io/v1alpha1", "AnalysisRun", "default", name)
            .ok();
        let done = run.as_ref().is_some_and(|r| {
            matches!(
                r["status"]["phase"].as_str(),
                Some("Successful" | "Failed" | "Error" | "Inconclusive")
            )
        });
        if done {
            return run.unwrap();
        }
        assert!(
            Instant::now() < deadline,
            "run {name} never completed: {run:?}\n{}",
            controller.logs()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The canary's p99 over both proxies' windows merged, in seconds, as the provider gives it.
async fn merged_p99(proxies: &[&Weir]) -> f64 {
    let mut histograms = Vec::new();
    for weir in proxies {
        let stats = weir
            .admin_json("/stats?route=web&window=60s&format=hdr&since=split")
            .await;
        let canary = stats["backends"]
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b["backend"] == "web-canary")
            .unwrap()
            .clone();
        histograms.push(weir_proxy::hdr::decode(canary["histogram"].as_str().unwrap()).unwrap());
    }
    let mut merged = histograms.remove(0);
    for h in &histograms {
        merged.add(h).unwrap();
    }
    merged.value_at_quantile(0.99) as f64 / 1e6
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_weir_provider_judges_the_canary_over_every_proxy() {
    // Two proxies splitting `web` half and half between the Rollout's two Services; the
    // second proxy's canary is slower, so the two latency distributions differ.
    let stable = Backend::start("web-stable").await;
    let canary = Backend::start("web-canary").await;
    let slow_canary = Backend::start_with(
        "web-canary",
        BackendOptions {
            delay: Duration::from_millis(15),
            status: 200,
        },
    )
    .await;
    let weir1 = Weir::start(&config(
        &[
            ("web-stable", stable.addr, 50),
            ("web-canary", canary.addr, 50),
        ],
        "",
        "",
    ))
    .await;
    let weir2 = Weir::start(&config(
        &[
            ("web-stable", stable.addr, 50),
            ("web-canary", slow_canary.addr, 50),
        ],
        "",
        "",
    ))
    .await;

    let server = ApiServer::start(Options {
        pod_ready_delay: Duration::from_millis(200),
        ..Options::default()
    })
    .await
    .unwrap();
    server
        .apply_yaml(include_str!("../deploy/crds/weir-crds.yaml"))
        .unwrap();
    server.apply_yaml(MANIFESTS).unwrap();
    create_slice(&server, "weir-proxy-admin-1", weir1.admin);
    create_slice(&server, "weir-proxy-admin-2", weir2.admin);
    let mut args = SHORT_LEASE.to_vec();
    let proxy_service = format!("default/{ADMIN_SERVICE}");
    args.extend(["--proxy-service", &proxy_service]);
    let controller = Controller::start_with(&server, &args);
    until(&server, &controller, "web", "healthy", |r, sets| {
        r["status"]["phase"] == "Healthy" && sets.get(&rs_name(r)) == Some(&(2, 2))
    })
    .await;

    // Good canary: traffic through both proxies, then the new version.
    send(&weir1, 200).await;
    send(&weir2, 200).await;
    set_image(&server, "web:2").await;
    let promoted = until(&server, &controller, "web", "promoted", |r, _| {
        r["status"]["phase"] == "Healthy"
            && r["status"]["stableRS"] == r["status"]["currentPodHash"]
            && r["metadata"]["annotations"]["rollout.argoproj.io/revision"] == "2"
    })
    .await;
    let hash = promoted["status"]["currentPodHash"].as_str().unwrap();
    let run = run_until(&server, &controller, &format!("web-{hash}-2-1")).await;
    assert_eq!(run["status"]["phase"], "Successful", "{}", run["status"]);
    let results = run["status"]["metricResults"].as_array().unwrap();
    let value = |name: &str| -> f64 {
        results.iter().find(|r| r["name"] == name).unwrap()["measurements"][0]["value"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap()
    };
    assert_eq!(value("success-rate"), 1.0);
    // No traffic since: the recorded p99 is the merge of both proxies' windows now.
    let p99 = value("p99");
    assert_eq!(p99, merged_p99(&[&weir1, &weir2]).await);
    assert!(
        p99 >= 0.015,
        "the slow proxy's canary requests are the slowest 1%: {p99}"
    );

    // Failing canary: a new split on both proxies (so the window starts afresh), the canary
    // backend answering 500, and the next version.
    canary.status.store(500, Ordering::SeqCst);
    slow_canary.status.store(500, Ordering::SeqCst);
    for weir in [&weir1, &weir2] {
        weir.set_weights("web", r#"{"web-stable": 60, "web-canary": 40}"#)
            .await;
    }
    send(&weir1, 200).await;
    send(&weir2, 200).await;
    set_image(&server, "web:3").await;
    let aborted = until(&server, &controller, "web", "aborted", |r, _| {
        r["status"]["phase"] == "Degraded" && r["status"]["abort"] == true
    })
    .await;
    let bad = aborted["status"]["currentPodHash"].as_str().unwrap();
    let run = run_until(&server, &controller, &format!("web-{bad}-3-1")).await;
    assert_eq!(run["status"]["phase"], "Failed", "{}", run["status"]);
    assert_eq!(
        aborted["status"]["stableRS"],
        json!(hash),
        "the stable version stays"
    );
    assert_allowed_by_rbac(&server);
    server.shutdown();
}
