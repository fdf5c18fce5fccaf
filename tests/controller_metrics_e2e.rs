//! `weir controller`'s `/metrics` as the dashboards built on Argo's controller read it: a
//! real Prometheus scrapes the controller while it walks Argo's nginx getting-started
//! Rollout, and the queries of Argo's own Grafana dashboard (`examples/dashboard.json`)
//! answer with what happened: the Rollout paused and then completed, its replicas, its
//! reconciles, the controller's uptime.

mod support;
#[path = "../control/tests/support_prometheus.rs"]
mod support_prometheus;

use std::time::Duration;

use serde_json::{json, Value};
use support::kube::{merge_patch, rollout_path, rs_name, until, Controller, SHORT_LEASE};

const NAME: &str = "rollouts-demo";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The value of the one series `query` returns, after waiting for one that `check` accepts.
async fn series(
    prom: &support_prometheus::Prometheus,
    query: &str,
    check: impl Fn(&Value) -> bool,
) -> Value {
    series_within(prom, query, check, Duration::from_secs(20)).await
}

async fn series_within(
    prom: &support_prometheus::Prometheus,
    query: &str,
    check: impl Fn(&Value) -> bool,
    within: Duration,
) -> Value {
    let deadline = std::time::Instant::now() + within;
    loop {
        let result = prom.query(query).await.unwrap_or_default();
        if let Some(found) = result.as_array().into_iter().flatten().find(|s| check(s)) {
            return found.clone();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{query}: {result}\n{}",
            prom.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn value(s: &Value) -> f64 {
    s["value"][1].as_str().unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn argos_dashboard_queries_answer_from_weirs_metrics() {
    let Some(binary) = support_prometheus::binary().await else {
        return;
    };
    let metrics: std::net::SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let prom = support_prometheus::Prometheus::start(&binary, &[metrics])
        .await
        .unwrap();
    let server = support::kube::server_with(&support::kube::NGINX_EXAMPLE).await;
    let address = metrics.to_string();
    let args: Vec<&str> = SHORT_LEASE
        .iter()
        .copied()
        .chain(["--metrics-address", address.as_str()])
        .collect();
    let controller = Controller::start_with(&server, &args);
    until(&server, &controller, NAME, "healthy", |r, sets| {
        r["status"]["phase"] == "Healthy" && sets.get(&rs_name(r)) == Some(&(1, 1))
    })
    .await;

    // Argo's dashboard: "Rollouts by phase", replicas, reconcile durations, uptime.
    let info = |phase: &'static str| {
        move |s: &Value| {
            s["metric"]["name"] == NAME
                && s["metric"]["phase"] == phase
                && s["metric"]["strategy"] == "canary"
                && s["metric"]["traffic_router"] == "Nginx"
        }
    };
    series(&prom, "rollout_info{job=\"test\"}", info("Completed")).await;
    let desired = series(&prom, "rollout_info_replicas_desired{job=\"test\"}", |_| {
        true
    })
    .await;
    assert_eq!(value(&desired), 1.0);

    merge_patch(
        &server,
        &rollout_path(NAME),
        json!({"spec": {"template": {"spec": {"containers": [{"name": "rollouts-demo", "image": "argoproj/rollouts-demo:yellow"}]}}}}),
    )
    .await;
    until(&server, &controller, NAME, "paused", |r, _| {
        r["status"]["phase"] == "Paused"
    })
    .await;
    series(&prom, "rollout_info{job=\"test\"}", info("Paused")).await;
    let paused = series(&prom, "sum(rollout_info{phase=\"Paused\"})", |_| true).await;
    assert_eq!(value(&paused), 1.0);
    let available = series(
        &prom,
        "rollout_info_replicas_available{job=\"test\"}",
        |s| value(s) == 2.0,
    )
    .await;
    assert_eq!(available["metric"]["name"], NAME);
    series(
        &prom,
        "rollout_info_replicas_unavailable{job=\"test\"}",
        |s| value(s) == 0.0,
    )
    .await;

    merge_patch(
        &server,
        &format!("{}/status", rollout_path(NAME)),
        json!({"status": {"pauseConditions": null}}),
    )
    .await;
    // Completed once the old version's pod is gone: a traffic-routed canary keeps it for
    // the default scaleDownDelaySeconds (30 s), and Argo's Healthy condition (and so its
    // calculated phase) waits for that.
    series_within(
        &prom,
        "rollout_info{job=\"test\"}",
        info("Completed"),
        Duration::from_secs(60),
    )
    .await;
    let reconciles = series(
        &prom,
        "sum(increase(rollout_reconcile_count{job=\"test\"}[10m]))",
        |s| value(s) > 0.0,
    )
    .await;
    assert!(value(&reconciles) > 0.0);
    let buckets = prom
        .query("sum(increase(rollout_reconcile_bucket[10m])) by (le)")
        .await
        .unwrap();
    let les: Vec<&str> = buckets
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["metric"]["le"].as_str())
        .collect();
    for le in ["0.01", "0.15", "0.25", "0.5", "1", "+Inf"] {
        assert!(les.contains(&le), "{le} not in {les:?}");
    }
    let uptime = series(
        &prom,
        "time() - max(process_start_time_seconds{job=\"test\"})",
        |_| true,
    )
    .await;
    assert!(value(&uptime) > 0.0 && value(&uptime) < 600.0, "{uptime}");
    series(&prom, "rollout_events_total{job=\"test\"}", |s| {
        s["metric"]["reason"] == "RolloutCompleted" && s["metric"]["type"] == "Normal"
    })
    .await;
    // Argo's client request counter: the Rollout read afresh, by kind, verb and code.
    series(
        &prom,
        "controller_clientset_k8s_request_total{job=\"test\",kind=\"rollouts\",verb=\"Get\"}",
        |s| s["metric"]["status_code"] == "200" && s["metric"]["namespace"] == "default",
    )
    .await;
    series(
        &prom,
        "controller_clientset_k8s_request_total{job=\"test\",kind=\"replicasets\",verb=\"List\"}",
        |s| s["metric"]["name"] == "N/A",
    )
    .await;
    let version = series(&prom, "argo_rollouts_controller_info", |_| true).await;
    assert!(version["metric"]["version"]
        .as_str()
        .unwrap()
        .starts_with("weir-"));
    server.shutdown();
}
