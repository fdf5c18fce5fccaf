//! The time from a Rollout's `setWeight` to every weir proxy replica serving it (not a
//! timed test: it prints figures for BENCHMARKS.md). `cargo bench --bench rollout_weights
//! --profile release`; `cargo test --all-targets` runs it with a few steps, as a smoke test.
//!
//! The whole path, with real processes: the in-memory API server, `weir controller`, and
//! two `weir proxy --kubernetes --ingress-class nginx` replicas serving Argo's nginx
//! getting-started Ingress. The Rollout's steps are `setWeight` 10, 20, ... 90, each
//! followed by an indefinite pause. At each pause the bench sends the promote patch
//! (`kubectl argo rollouts promote`) and measures, polling every 2 ms:
//! - until both replicas' `/routes` serve the next weight (the controller's reconcile, its
//!   canary Ingress write, each proxy's watch, translation and table swap);
//! - until the Rollout's status says the weight is verified (the controller read both
//!   replicas' `/routes`).

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::{Backend, Weir};
use weir_apiserver_sim::{ApiServer, Options};

const ROUTE: &str = "default/rollouts-demo-stable:rollouts-demo.local/";

fn slice(service: &str, backend: &Backend) -> Value {
    json!({
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"name": format!("{service}-abcde"), "namespace": "default",
            "labels": {"kubernetes.io/service-name": service}},
        "addressType": "IPv4",
        "ports": [{"name": "http", "port": backend.addr.port(), "protocol": "TCP"}],
        "endpoints": [{"addresses": ["127.0.0.1"], "conditions": {"ready": true}}],
    })
}

fn apply(server: &ApiServer, v: &Value) {
    server
        .apply_yaml(&serde_json::to_string(v).unwrap())
        .unwrap();
}

fn in_default(yaml: &str) -> String {
    yaml.replace(
        "metadata:\n  name:",
        "metadata:\n  namespace: default\n  name:",
    )
}

/// The canary weight a proxy serves on the Ingress' route, if it serves the route.
async fn served(proxy: &Weir) -> Option<i64> {
    let routes = proxy.admin_json("/routes").await;
    let route = routes["routes"]
        .as_array()?
        .iter()
        .find(|r| r["name"] == ROUTE)?
        .clone();
    route["backends"][1]["weight"].as_i64().or(Some(0))
}

fn quantile(sorted: &[Duration], q: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

async fn poll_until(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !check().await {
        assert!(Instant::now() < deadline, "never {what}");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let changes = if full { 3 } else { 1 };
    let server = ApiServer::start(Options {
        endpointslice_controller: false,
        pod_ready_delay: Duration::from_millis(100),
        ..Options::default()
    })
    .await
    .unwrap();
    server
        .apply_yaml(include_str!("../deploy/crds/weir-crds.yaml"))
        .unwrap();
    let stable = Backend::start("stable").await;
    let canary = Backend::start("canary").await;
    server
        .apply_yaml(&in_default(include_str!(
            "../config/tests/data/argo-examples/nginx/services.yaml"
        )))
        .unwrap();
    apply(&server, &slice("rollouts-demo-stable", &stable));
    apply(&server, &slice("rollouts-demo-canary", &canary));
    server
        .apply_yaml(
            &include_str!("../config/tests/data/argo-examples/nginx/ingress.yaml").replace(
                "metadata:\n  name: rollouts-demo-stable\n",
                "metadata:\n  name: rollouts-demo-stable\n  namespace: default\n",
            ),
        )
        .unwrap();
    let kubeconfig = server.kubeconfig();
    let mut proxies = Vec::new();
    for i in 0..2 {
        let p = Weir::start_proxy_with_args(
            "listeners:\n  - address: 127.0.0.1:0\nadmin:\n  address: 127.0.0.1:0\n",
            &[
                "--kubernetes",
                "--ingress-class",
                "nginx",
                "--kubeconfig",
                "kubeconfig",
            ],
            &[("kubeconfig", kubeconfig.as_bytes())],
        )
        .await;
        apply(&server, &p.admin_endpoint_slice(i));
        proxies.push(p);
    }
    let steps: String = (1..=9)
        .map(|w| format!("      - setWeight: {}\n      - pause: {{}}\n", w * 10))
        .collect();
    let rollout = in_default(include_str!(
        "../config/tests/data/argo-examples/nginx/rollout.yaml"
    ))
    .replace("      - setWeight: 5\n      - pause: {}\n", &steps);
    assert!(rollout.contains("setWeight: 90"));
    server.apply_yaml(&rollout).unwrap();
    let controller = support::kube::Controller::start_with(
        &server,
        &["--proxy-service", "default/weir-proxy-admin:admin"],
    );
    let name = "rollouts-demo";
    let status = || support::kube::rollout(&server, name)["status"].clone();
    poll_until("Healthy", async || status()["phase"] == "Healthy").await;

    let (mut to_served, mut to_verified) = (Vec::new(), Vec::new());
    let images = ["yellow", "green", "red"];
    for image in &images[..changes] {
        support::kube::set_image_with_http_port(
            &server,
            name,
            "rollouts-demo",
            &format!("argoproj/rollouts-demo:{image}"),
        )
        .await;
        poll_until("paused at 10%", async || {
            let s = status();
            s["phase"] == "Paused" && s["canary"]["weights"]["verified"] == true
        })
        .await;
        let steps_here = if full { 8 } else { 2 };
        for k in 2..=(1 + steps_here) {
            let weight = i64::from(k) * 10;
            let start = Instant::now();
            support::kube::merge_patch(
                &server,
                &format!("{}/status", support::kube::rollout_path(name)),
                json!({"status": {"pauseConditions": null}}),
            )
            .await;
            poll_until("served by both", async || {
                for p in &proxies {
                    if served(p).await != Some(weight) {
                        return false;
                    }
                }
                true
            })
            .await;
            to_served.push(start.elapsed());
            poll_until("verified", async || {
                let s = status();
                s["canary"]["weights"]["canary"]["weight"] == weight
                    && s["canary"]["weights"]["verified"] == true
                    && s["phase"] == "Paused"
            })
            .await;
            to_verified.push(start.elapsed());
        }
        // Promote the rest of the way, for the next image.
        support::kube::merge_patch(
            &server,
            &format!("{}/status", support::kube::rollout_path(name)),
            json!({"status": {"promoteFull": true, "pauseConditions": null}}),
        )
        .await;
        poll_until("Healthy again", async || {
            let s = status();
            s["phase"] == "Healthy" && s["stableRS"] == s["currentPodHash"]
        })
        .await;
    }
    to_served.sort();
    to_verified.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "setWeight to both proxies serving it, over {} steps: p50 {:.0} ms, p99 {:.0} ms",
        to_served.len(),
        ms(quantile(&to_served, 0.5)),
        ms(quantile(&to_served, 0.99)),
    );
    println!(
        "setWeight to weights.verified in the Rollout's status: p50 {:.0} ms, p99 {:.0} ms",
        ms(quantile(&to_verified, 0.5)),
        ms(quantile(&to_verified, 0.99)),
    );
    drop(controller);
    drop(proxies);
    server.shutdown();
}
