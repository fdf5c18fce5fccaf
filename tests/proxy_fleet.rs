//! The `weir` provider over a fleet of proxies, as on Kubernetes: two real `weir proxy`
//! processes with real traffic, found through the in-memory API server's EndpointSlices,
//! their windows fetched from `/stats` and merged. The merge must be what the two proxies'
//! own answers add up to, and the provider must judge the merge; a proxy that is gone or a
//! Service without slices is an error, never a verdict on part of the traffic.

mod support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kube::config::{KubeConfigOptions, Kubeconfig};
use serde_json::{json, Value};
use support::client::{load, Client};
use support::weir::config;
use support::{Backend, BackendOptions, Weir};
use weir_apiserver_sim::{ApiServer, Options};
use weir_config::argo::{DurationString, WeirMetric, WeirMetricKind};
use weir_control::analysis::{MeasurementResult, MetricValue};
use weir_control::kubernetes::fleet::{AdminPort, FleetWindows, ProxyFleet};
use weir_control::providers::{
    weir as provider, HttpClient, ProviderContext, WindowSample, WindowSource,
};

const SERVICE: &str = "weir-proxy-admin";
const WINDOW: Duration = Duration::from_secs(60);

async fn kube_client(server: &ApiServer) -> kube::Client {
    let kc = Kubeconfig::from_yaml(&server.kubeconfig()).unwrap();
    let config = kube::Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
        .await
        .unwrap();
    kube::Client::try_from(config).unwrap()
}

/// A Service without selector, as one whose slices someone else writes.
fn create_service(server: &ApiServer, name: &str) {
    server
        .create(json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"ports": [{"name": "admin", "port": 9901}]},
        }))
        .unwrap();
}

/// One EndpointSlice of `SERVICE`: 127.0.0.1, ready, with `admin` at this proxy's port.
/// The proxies share an address, so each needs its own slice for its own port.
fn create_slice(server: &ApiServer, name: &str, admin: std::net::SocketAddr) {
    server
        .create(json!({
            "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {
                "name": name, "namespace": "default",
                "labels": {"kubernetes.io/service-name": SERVICE},
            },
            "addressType": "IPv4",
            "endpoints": [{"addresses": [admin.ip().to_string()], "conditions": {"ready": true}}],
            "ports": [{"name": "admin", "port": admin.port(), "protocol": "TCP"}],
        }))
        .unwrap();
}

fn fleet(client: kube::Client, service: &str) -> ProxyFleet {
    let port = AdminPort::Named("admin".into());
    ProxyFleet::new(client, "default", service, port, HttpClient::new())
}

/// `n` requests through `weir`, all answered (by a backend, whatever its status).
async fn send(weir: &Weir, n: usize) {
    let outcomes = load(&Client::http1(), &weir.authority(), n, 4).await;
    assert!(
        outcomes.iter().all(|o| o.backend.is_some()),
        "{:?}",
        outcomes.iter().find(|o| o.backend.is_none())
    );
}

/// A proxy's own answer for `backend`, as a sample (its times left at zero).
fn own(stats: &Value, backend: &str) -> WindowSample {
    let b = stats["backends"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["backend"] == backend)
        .unwrap();
    WindowSample {
        requests: b["requests"].as_u64().unwrap(),
        failures: b["failures"].as_u64().unwrap(),
        latency: weir_proxy::hdr::decode(b["histogram"].as_str().unwrap()).unwrap(),
        covered: Duration::ZERO,
        since_split: Duration::ZERO,
    }
}

fn weir_metric(metric: WeirMetricKind) -> WeirMetric {
    WeirMetric {
        route: "web".into(),
        backend: "canary".into(),
        metric,
        quantile: Some(0.99),
        window: Some(DurationString("60s".into())),
        min_requests: Some(20),
        baseline: Some("stable".into()),
    }
}

/// The provider's `{value, baseline}` for `metric` over the fleet's windows.
fn measure(windows: &FleetWindows, metric: WeirMetricKind) -> (f64, f64) {
    let ctx = ProviderContext {
        roles: BTreeMap::new(),
        windows: Arc::new(windows.clone()),
        http: HttpClient::new(),
        now: Instant::now(),
    };
    let MeasurementResult::Value(MetricValue::Object(o)) =
        provider::measure(&weir_metric(metric), &ctx)
    else {
        panic!("no value")
    };
    let float = |k: &str| match o[k] {
        MetricValue::Float(f) => f,
        ref other => panic!("{k}: {other:?}"),
    };
    (float("value"), float("baseline"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fleet_merges_every_proxys_window_and_fails_without_one() {
    // Both proxies route `web` half and half; proxy 2's canary is slow and failing, so the
    // two proxies' canary distributions differ.
    let fast = || BackendOptions::default();
    let slow_failing = BackendOptions {
        delay: Duration::from_millis(20),
        status: 500,
    };
    let (stable1, canary1) = (
        Backend::start_with("stable", fast()).await,
        Backend::start_with("canary", fast()).await,
    );
    let (stable2, canary2) = (
        Backend::start_with("stable", fast()).await,
        Backend::start_with("canary", slow_failing).await,
    );
    let proxy = |s: &Backend, c: &Backend| {
        config(&[("stable", s.addr, 50), ("canary", c.addr, 50)], "", "")
    };
    let weir1 = Weir::start(&proxy(&stable1, &canary1)).await;
    let mut weir2 = Weir::start(&proxy(&stable2, &canary2)).await;
    send(&weir1, 300).await;
    send(&weir2, 160).await;

    let server = ApiServer::start(Options::api_only()).await.unwrap();
    create_service(&server, SERVICE);
    create_slice(&server, "weir-proxy-admin-1", weir1.admin);
    create_slice(&server, "weir-proxy-admin-2", weir2.admin);
    let fleet = fleet(kube_client(&server).await, SERVICE);
    let mut addresses = fleet.admin_addresses().await.unwrap();
    addresses.sort();
    let mut expected = vec![weir1.admin, weir2.admin];
    expected.sort();
    assert_eq!(addresses, expected);

    let windows = fleet.windows("web", WINDOW).await.unwrap();
    assert_eq!((windows.route(), windows.proxies()), ("web", 2));
    // Each proxy's own answer, after the fleet's: no traffic since, so the same counts.
    let path = "/stats?route=web&window=60s&format=hdr&since=split";
    let (stats1, stats2) = (weir1.admin_json(path).await, weir2.admin_json(path).await);
    for backend in ["stable", "canary"] {
        let (a, b) = (own(&stats1, backend), own(&stats2, backend));
        let merged = windows.sample(backend).unwrap();
        assert_eq!(merged.requests, a.requests + b.requests, "{backend}");
        assert_eq!(merged.failures, a.failures + b.failures, "{backend}");
        let mut sum = a.latency.clone();
        sum.add(&b.latency).unwrap();
        assert_eq!(merged.latency.len(), merged.requests, "{backend}");
        for q in [0.5, 0.9, 0.99, 0.999] {
            assert_eq!(
                merged.latency.value_at_quantile(q),
                sum.value_at_quantile(q),
                "{backend} q {q}"
            );
        }
        // Both proxies' splits are as old as the proxies: the younger one counts.
        let youngest = stats1["splitAgeSeconds"]
            .as_f64()
            .unwrap()
            .min(stats2["splitAgeSeconds"].as_f64().unwrap());
        assert!(merged.since_split.as_secs_f64() <= youngest, "{backend}");
        assert!(merged.covered <= merged.since_split, "{backend}");
    }
    let canary = windows.sample("canary").unwrap();
    assert_eq!(canary.failures, own(&stats2, "canary").requests);
    assert!(
        canary.failures > 20 && canary.requests - canary.failures > 20,
        "{}",
        canary.requests
    );

    // The provider judges the merge, exactly as computed by hand from it.
    let stable = windows.sample("stable").unwrap();
    let (value, baseline) = measure(&windows, WeirMetricKind::SuccessRate);
    let rate = |s: &WindowSample| (s.requests - s.failures) as f64 / s.requests as f64;
    assert_eq!((value, baseline), (rate(canary), rate(stable)));
    let (value, baseline) = measure(&windows, WeirMetricKind::Latency);
    let p99 = |s: &WindowSample| s.latency.value_at_quantile(0.99) as f64 / 1e6;
    assert_eq!((value, baseline), (p99(canary), p99(stable)));
    // The slow canary's requests are its slowest 1%: the fleet's p99 is at least the
    // backend's 20 ms, far from the mean of the two proxies' p99s.
    let (a, b) = (own(&stats1, "canary"), own(&stats2, "canary"));
    let mean_of_p99s = (p99(&a) + p99(&b)) / 2.0;
    assert!(
        value >= 0.020 && value > mean_of_p99s * 1.2,
        "p99 {value}, mean of p99s {mean_of_p99s}"
    );
    // The source answers as the in-process one for what it does not hold.
    let err = windows
        .window("web", "beta", Instant::now(), WINDOW)
        .err()
        .unwrap();
    assert!(err.contains("\"canary\", \"stable\""), "{err}");

    // One proxy gone: the whole fetch fails and names it.
    weir2.child.kill().unwrap();
    weir2.child.wait().unwrap();
    let err = fleet.windows("web", WINDOW).await.err().unwrap();
    assert!(err.contains(&format!("proxy {}: ", weir2.admin)), "{err}");
    assert!(!err.contains(&format!("proxy {}: ", weir1.admin)), "{err}");
    // An unknown route on a live proxy is the proxy's 404, named too.
    let err = fleet_of_one(&server, &weir1)
        .await
        .windows("api", WINDOW)
        .await
        .err()
        .unwrap();
    assert!(
        err.contains(&format!("proxy {}: 404", weir1.admin))
            && err.contains("no route named \"api\""),
        "{err}"
    );
}

/// A fleet of `weir` alone, behind a Service of its own.
async fn fleet_of_one(server: &ApiServer, weir: &Weir) -> ProxyFleet {
    create_service(server, "one-proxy");
    server
        .create(json!({
            "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {
                "name": "one-proxy-1", "namespace": "default",
                "labels": {"kubernetes.io/service-name": "one-proxy"},
            },
            "addressType": "IPv4",
            "endpoints": [{"addresses": ["127.0.0.1"]}],
            "ports": [{"name": "admin", "port": weir.admin.port()}],
        }))
        .unwrap();
    fleet(kube_client(server).await, "one-proxy")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_without_endpoint_slices_is_an_error_naming_it() {
    let server = ApiServer::start(Options::api_only()).await.unwrap();
    create_service(&server, "lonely");
    let fleet = fleet(kube_client(&server).await, "lonely");
    let err = fleet.windows("web", WINDOW).await.err().unwrap();
    assert!(
        err.contains("Service default/lonely has no EndpointSlices"),
        "{err}"
    );
}
