//! `weir proxy --kubernetes` at scale, in process (not a timed test: it prints figures for
//! BENCHMARKS.md). `cargo bench --bench ingress --profile release` (the figures in
//! BENCHMARKS.md; `cargo test --all-targets` runs it small, as a smoke test).
//!
//! N Ingresses (default 5,000; `WEIR_BENCH_INGRESSES`), every other one with an
//! ingress-nginx canary Ingress beside it, each Service with 10 ready endpoints (50,000 at
//! the default): the time from a change (one canary weight, one EndpointSlice) to the new
//! table swapped in, p50 and p99 over 40 changes: translate the cluster, merge with the
//! file, validate, build and swap the table (what `watch.rs` does per event); and the
//! process' resident memory with that table live.

use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::Ingress;
use serde_json::json;
use weir_ingress::endpoints::Endpoints;
use weir_ingress::ingress::{merge, translate, ClassOptions};

fn ingress(i: usize, canary: Option<u32>) -> Ingress {
    let (name, service, annotations) = match canary {
        None => (format!("app-{i}"), format!("app-{i}-stable"), json!({})),
        Some(w) => (
            format!("app-{i}-canary"),
            format!("app-{i}-canary"),
            json!({"nginx.ingress.kubernetes.io/canary": "true",
                   "nginx.ingress.kubernetes.io/canary-weight": w.to_string()}),
        ),
    };
    serde_json::from_value(json!({
        "metadata": {"name": name, "namespace": "default", "annotations": annotations},
        "spec": {"ingressClassName": "weir", "rules": [{"host": format!("app-{i}.test"),
            "http": {"paths": [{"path": "/", "pathType": "Prefix",
                "backend": {"service": {"name": service, "port": {"number": 80}}}}]}}]},
    }))
    .unwrap()
}

fn service(name: &str) -> Service {
    serde_json::from_value(json!({"metadata": {"name": name, "namespace": "default"},
        "spec": {"ports": [{"name": "http", "port": 80}]}}))
    .unwrap()
}

fn slice(name: &str, n: usize, base: usize) -> EndpointSlice {
    let endpoints: Vec<_> = (0..n)
        .map(|k| {
            let a = base * 16 + k;
            json!({"addresses": [format!("10.{}.{}.{}", (a >> 16) & 255, (a >> 8) & 255, a & 255)],
                   "conditions": {"ready": true}})
        })
        .collect();
    serde_json::from_value(json!({
        "metadata": {"name": format!("{name}-x"), "namespace": "default",
            "labels": {"kubernetes.io/service-name": name}},
        "addressType": "IPv4", "ports": [{"name": "http", "port": 8080}], "endpoints": endpoints,
    }))
    .unwrap()
}

fn rss_mib() -> f64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: f64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0.0);
    pages * 4096.0 / 1_048_576.0
}

fn quantile(sorted: &[Duration], q: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let n: usize = std::env::var("WEIR_BENCH_INGRESSES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if full { 5_000 } else { 200 });
    let per_service = 10;
    let mut ingresses = Vec::new();
    let mut services = Vec::new();
    let mut slices = Vec::new();
    for i in 0..n {
        ingresses.push(ingress(i, None));
        services.push(service(&format!("app-{i}-stable")));
        slices.push(slice(&format!("app-{i}-stable"), per_service, 2 * i));
        if i % 2 == 0 {
            ingresses.push(ingress(i, Some(10)));
            services.push(service(&format!("app-{i}-canary")));
            slices.push(slice(&format!("app-{i}-canary"), per_service, 2 * i + 1));
        }
    }
    let endpoints_total: usize = slices.iter().map(|s| s.endpoints.len()).sum();
    let base = weir_config::parse_proxy_config(
        "weir.yaml",
        "listeners:\n  - address: 127.0.0.1:0\nadmin:\n  address: 127.0.0.1:0\n",
        1,
    )
    .unwrap();
    let options = ClassOptions {
        class: "weir".into(),
    };
    let rss_before = rss_mib();
    let build = |ingresses: &[Ingress], slices: &[EndpointSlice]| {
        let endpoints = Endpoints::new(&services, slices);
        let t = translate(ingresses, &[], &options, &endpoints);
        assert!(t.problems.is_empty(), "{:?}", t.problems.iter().next());
        merge(&base, &t.config).unwrap()
    };
    let started = Instant::now();
    let first = build(&ingresses, &slices);
    let proxy = weir_proxy::Proxy::new(first).unwrap();
    let initial = started.elapsed();
    let routes = proxy.table().routes.len();
    let rss_after = rss_mib();

    // Changes: a canary weight, then an EndpointSlice (an endpoint not ready), in turn.
    let mut took = Vec::new();
    let mut phases = [Duration::ZERO; 3];
    for k in 0..40 {
        let i = (k * 7919) % n;
        if k % 2 == 0 {
            let idx = ingresses
                .iter()
                .position(|x| {
                    x.metadata.name.as_deref() == Some(&format!("app-{}-canary", i - i % 2))
                })
                .unwrap();
            ingresses[idx] = ingress(i - i % 2, Some(10 + (k as u32 % 80)));
        } else {
            let idx = slices
                .iter()
                .position(|s| s.metadata.name.as_deref() == Some(&format!("app-{i}-stable-x")))
                .unwrap();
            let mut s = slices[idx].clone();
            s.endpoints[k % per_service]
                .conditions
                .get_or_insert_default()
                .ready = Some(k % 4 == 1);
            slices[idx] = s;
        }
        let t0 = Instant::now();
        let endpoints = Endpoints::new(&services, &slices);
        let t = translate(&ingresses, &[], &options, &endpoints);
        let t1 = Instant::now();
        let config = merge(&base, &t.config).unwrap();
        let t2 = Instant::now();
        proxy.reload(config).unwrap();
        let t3 = Instant::now();
        took.push(t3 - t0);
        phases[0] += t1 - t0;
        phases[1] += t2 - t1;
        phases[2] += t3 - t2;
    }
    took.sort();
    println!(
        "ingress: {} Ingresses ({} routes), {} Services, {} endpoints",
        ingresses.len(),
        routes,
        services.len(),
        endpoints_total
    );
    println!("  first table: {:.0} ms", initial.as_secs_f64() * 1e3);
    println!(
        "  change -> new table swapped in: p50 {:.0} ms, p99 {:.0} ms (40 changes)",
        quantile(&took, 0.5).as_secs_f64() * 1e3,
        quantile(&took, 0.99).as_secs_f64() * 1e3
    );
    println!(
        "  of which, on average: translate {:.0} ms, merge and validate {:.0} ms, build and swap the table {:.0} ms",
        phases[0].as_secs_f64() * 1e3 / 40.0,
        phases[1].as_secs_f64() * 1e3 / 40.0,
        phases[2].as_secs_f64() * 1e3 / 40.0
    );
    println!(
        "  resident memory: {:.0} MiB with the table live ({:.0} MiB before building it)",
        rss_after, rss_before
    );
}
