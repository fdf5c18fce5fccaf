//! Request latency through `weir proxy --kubernetes` while EndpointSlices churn, with a
//! cluster of 5,000 Ingresses (not a timed test: it prints figures for BENCHMARKS.md).
//! `cargo bench --bench ingress_churn --profile release`; `cargo test --all-targets` runs it
//! with 50 Ingresses and a short load, as a smoke test.
//!
//! Real processes: the in-memory API server (in this process) holding N Ingresses of
//! weir's class (default 5,000; `WEIR_BENCH_INGRESSES`), each with its Service and an
//! EndpointSlice of 10 endpoints, and one more Ingress whose Service's endpoints are four
//! real backends on loopback. A `weir proxy --kubernetes` process serves them. One client
//! sends requests to the real backends' route, one after another, for the same time twice:
//! first with the cluster still, then while EndpointSlices change every 250 ms (one of the
//! real backends' endpoints flips readiness, and one other Service's slice changes). Each
//! change makes the proxy translate the whole cluster and swap its table, which is what
//! the latency under churn pays for on a 2-core machine.

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::{Backend, Client, Weir};
use weir_apiserver_sim::{ApiServer, Options};

const HOST: &str = "churn.test";

fn quantile(sorted: &[Duration], q: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

fn ingress(name: &str, host: &str, service: &str) -> Value {
    json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"ingressClassName": "weir", "rules": [{"host": host, "http": {"paths": [
            {"path": "/", "pathType": "Prefix",
             "backend": {"service": {"name": service, "port": {"number": 80}}}}]}}]}})
}

fn service(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Service",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"ports": [{"name": "http", "port": 80}]}})
}

fn slice(service: &str, port: u16, endpoints: Value) -> Value {
    json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"name": format!("{service}-x"), "namespace": "default",
            "labels": {"kubernetes.io/service-name": service}},
        "addressType": "IPv4", "ports": [{"name": "http", "port": port, "protocol": "TCP"}],
        "endpoints": endpoints})
}

fn synthetic_endpoints(i: usize, ready_flip: bool) -> Value {
    Value::Array(
        (0..10)
            .map(|k| {
                let a = i * 16 + k;
                json!({"addresses": [format!("10.{}.{}.{}", (a >> 16) & 255, (a >> 8) & 255, a & 255)],
                    "conditions": {"ready": !(ready_flip && k == 0)}})
            })
            .collect(),
    )
}

/// Real backend `k`'s slice of the `churn` Service (each backend listens on its own
/// port, and a slice has one port for all its endpoints).
fn real_slice(k: usize, backend: &Backend, ready: bool) -> Value {
    let mut s = slice(
        "churn",
        backend.addr.port(),
        json!([{"addresses": ["127.0.0.1"], "conditions": {"ready": ready}}]),
    );
    s["metadata"]["name"] = json!(format!("churn-{k}"));
    s
}

fn apply(server: &ApiServer, v: Value) {
    server.apply_yaml(&v.to_string()).unwrap();
}

/// Sequential requests for `for_how_long`: each one's latency; panics on a failed one.
async fn measure(client: &Client, weir: &Weir, for_how_long: Duration) -> Vec<Duration> {
    let mut out = Vec::new();
    let end = Instant::now() + for_how_long;
    while Instant::now() < end {
        let start = Instant::now();
        let o = client
            .get(&weir.authority(), "/", &[("host", HOST)])
            .await
            .unwrap();
        assert_eq!(o.status, 200, "{o:?}");
        out.push(start.elapsed());
    }
    out.sort();
    out
}

fn report(what: &str, latencies: &[Duration]) {
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    println!(
        "  {what}: {} requests, p50 {:.0} us, p99 {:.0} us, p99.9 {:.0} us, max {:.0} us",
        latencies.len(),
        us(quantile(latencies, 0.5)),
        us(quantile(latencies, 0.99)),
        us(quantile(latencies, 0.999)),
        us(*latencies.last().unwrap()),
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let n: usize = std::env::var("WEIR_BENCH_INGRESSES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if full { 5_000 } else { 50 });
    let phase = if full {
        Duration::from_secs(15)
    } else {
        Duration::from_secs(2)
    };
    let server = std::sync::Arc::new(
        ApiServer::start(Options {
            endpointslice_controller: false,
            ..Options::default()
        })
        .await
        .unwrap(),
    );
    let mut backends = Vec::new();
    for k in 0..4 {
        backends.push(Backend::start(&format!("b{k}")).await);
    }
    let built = Instant::now();
    for i in 0..n {
        let svc = format!("app-{i}");
        apply(&server, service(&svc));
        apply(&server, slice(&svc, 8080, synthetic_endpoints(i, false)));
        apply(&server, ingress(&svc, &format!("app-{i}.test"), &svc));
    }
    apply(&server, service("churn"));
    for (k, b) in backends.iter().enumerate() {
        apply(&server, real_slice(k, b, true));
    }
    apply(&server, ingress("churn", HOST, "churn"));
    let kubeconfig = server.kubeconfig();
    let weir = Weir::start_proxy_with_args(
        "listeners:\n  - address: 127.0.0.1:0\nadmin:\n  address: 127.0.0.1:0\n",
        &["--kubernetes", "--kubeconfig", "kubeconfig"],
        &[("kubeconfig", kubeconfig.as_bytes())],
    )
    .await;
    let client = Client::http1();
    let deadline = Instant::now() + Duration::from_secs(120);
    while client
        .get(&weir.authority(), "/", &[("host", HOST)])
        .await
        .map_or(true, |o| o.status != 200)
    {
        assert!(Instant::now() < deadline, "never served\n{}", weir.logs());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    println!(
        "ingress churn: {} Ingresses ({} endpoints), served {:.1} s after the first object",
        n + 1,
        n * 10 + backends.len(),
        built.elapsed().as_secs_f64()
    );
    // Warm the connection pools, then the still cluster.
    measure(&client, &weir, Duration::from_millis(500)).await;
    let still = measure(&client, &weir, phase).await;

    // The same, while slices change every 250 ms.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let churn = {
        let stop = stop.clone();
        let server = server.clone();
        let first = real_slice(0, &backends[0], true);
        tokio::spawn(async move {
            let mut k = 0usize;
            let mut changes = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                k += 1;
                let mut flipped = first.clone();
                flipped["endpoints"][0]["conditions"]["ready"] = json!(k.is_multiple_of(2));
                apply(&server, flipped);
                let i = k % n.max(1);
                apply(
                    &server,
                    slice(
                        &format!("app-{i}"),
                        8080,
                        synthetic_endpoints(i, k % 2 == 1),
                    ),
                );
                changes += 2;
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            changes
        })
    };
    let churning = measure(&client, &weir, phase).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let changes = churn.await.unwrap();
    report("still", &still);
    report(&format!("churning ({changes} slice changes)"), &churning);
    drop(weir);
    drop(backends);
    server.shutdown();
}
