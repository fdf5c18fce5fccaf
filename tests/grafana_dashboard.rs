//! `deploy/grafana/weir.json`, weir's Grafana dashboard, against a real Prometheus: it
//! scrapes a live `weir run` (a rollout walking its steps under load, with an analysis and
//! a mirror) and a live `weir controller` (Argo's nginx getting-started Rollout in the
//! in-memory API server), and every query of every panel, annotation and variable is
//! evaluated there and must return data. A query naming a metric or label weir does not
//! expose returns nothing and fails the test.
//!
//! The same Prometheus checks the exposition format as a scraper: it asks for OpenMetrics
//! (the header it sends is recorded and negotiated as weir does), and both weir targets
//! must be up.

mod support;
#[path = "../control/tests/support_prometheus.rs"]
mod support_prometheus;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::client::Load;
use support::kube::{merge_patch, rollout_path, until, Controller, SHORT_LEASE};
use support::rollout::wait_status;
use support::{Backend, Weir};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const DASHBOARD: &str = include_str!("../deploy/grafana/weir.json");

fn free_addr() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

/// Every PromQL expression of the dashboard, with where it is: panel targets, annotations
/// and (as the series they list) the query variables.
fn queries(dashboard: &Value) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    let mut panels: Vec<&Value> = Vec::new();
    for p in dashboard["panels"].as_array().unwrap() {
        panels.push(p);
        panels.extend(p["panels"].as_array().into_iter().flatten());
    }
    for p in panels {
        for t in p["targets"].as_array().into_iter().flatten() {
            let expr = t["expr"].as_str().expect("every target has an expr");
            let legend = t["legendFormat"].as_str().unwrap_or_default().to_owned();
            out.push((
                format!("panel {:?} {}", p["title"], t["refId"]),
                expr.to_owned(),
                legend,
            ));
        }
    }
    for a in dashboard["annotations"]["list"]
        .as_array()
        .into_iter()
        .flatten()
    {
        if let Some(expr) = a["expr"].as_str() {
            out.push((
                format!("annotation {:?}", a["name"]),
                expr.to_owned(),
                String::new(),
            ));
        }
    }
    for v in dashboard["templating"]["list"]
        .as_array()
        .into_iter()
        .flatten()
    {
        if v["type"] != "query" {
            continue;
        }
        // `label_values(metric, label)` lists the label's values over the metric's series:
        // the same data as `count by (label) (metric)`.
        let q = v["query"]["query"].as_str().unwrap();
        let inner = q
            .strip_prefix("label_values(")
            .and_then(|r| r.strip_suffix(')'))
            .unwrap_or_else(|| panic!("variable {}: only label_values is used: {q}", v["name"]));
        let (metric, label) = inner.split_once(',').unwrap();
        out.push((
            format!("variable {}", v["name"]),
            format!("count by ({}) ({})", label.trim(), metric.trim()),
            String::new(),
        ));
    }
    out
}

/// The expression as Grafana sends it with a rate interval of a minute (four scrape
/// intervals and more at the test's one-second scrape) and every variable at "All", here
/// `.+` rather than the dashboard's `.*`, so that a matcher on a label weir does not expose
/// matches nothing.
fn as_grafana_sends(expr: &str) -> String {
    expr.replace("$__rate_interval", "1m")
        .replace("$route", ".+")
        .replace("$namespace", ".+")
}

/// The labels a query's answer must carry: those it groups by (`by (a, b)`) and those its
/// legend shows (`{{a}}`).
fn labels_used(expr: &str, legend: &str) -> Vec<String> {
    let mut out = Vec::new();
    for part in expr.split("by (").skip(1) {
        let list = part.split(')').next().unwrap_or_default();
        out.extend(list.split(',').map(|l| l.trim().to_owned()));
    }
    for part in legend.split("{{").skip(1) {
        out.push(
            part.split("}}")
                .next()
                .unwrap_or_default()
                .trim()
                .to_owned(),
        );
    }
    out.retain(|l| !l.is_empty() && l != "le");
    out.sort();
    out.dedup();
    out
}

#[test]
fn the_dashboard_is_well_formed() {
    let d: Value = serde_json::from_str(DASHBOARD).unwrap();
    assert_eq!(d["uid"], "weir");
    let mut ids = std::collections::BTreeSet::new();
    for p in d["panels"].as_array().unwrap() {
        assert!(
            ids.insert(p["id"].as_u64().unwrap()),
            "panel ids are unique"
        );
        let g = &p["gridPos"];
        let (x, w) = (g["x"].as_u64().unwrap(), g["w"].as_u64().unwrap());
        assert!(x + w <= 24, "{} fits the 24-column grid", p["title"]);
        if p["type"] != "row" {
            assert_eq!(
                p["datasource"]["uid"], "${datasource}",
                "{} reads the chosen data source",
                p["title"]
            );
            assert!(p["targets"].as_array().is_some_and(|t| !t.is_empty()));
            assert!(p["description"].as_str().is_some_and(|t| !t.is_empty()));
        }
    }
    let names: Vec<&str> = d["templating"]["list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["datasource", "route", "namespace"]);
    // Every variable a query uses is defined.
    for (what, expr, _) in queries(&d) {
        let leftover = as_grafana_sends(&expr);
        assert!(
            !leftover.contains('$'),
            "{what}: an undefined variable in {expr}"
        );
    }
}

/// A listener that answers one scrape with an empty exposition and hands over the
/// request's `Accept` header.
async fn record_accept() -> (SocketAddr, tokio::sync::oneshot::Receiver<String>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let mut tx = Some(tx);
        loop {
            let Ok((mut s, _)) = listener.accept().await else {
                return;
            };
            let mut buf = vec![0u8; 8192];
            let n = s.read(&mut buf).await.unwrap_or(0);
            let head = String::from_utf8_lossy(&buf[..n]).into_owned();
            let accept = head
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("accept")
                        .then(|| v.trim().to_owned())
                })
                .unwrap_or_default();
            let _ = s
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                .await;
            if let Some(tx) = tx.take() {
                let _ = tx.send(accept);
            }
        }
    });
    (addr, rx)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_panel_query_returns_data_from_a_live_weir() {
    let Some(binary) = support_prometheus::binary().await else {
        return;
    };
    let admin = free_addr();
    let controller_metrics = free_addr();
    let (recorder, accept) = record_accept().await;
    let prom =
        support_prometheus::Prometheus::start(&binary, &[admin, controller_metrics, recorder])
            .await
            .unwrap();

    // weir run: a rollout with an analysis, a mirrored route beside it, load throughout.
    let stable = Backend::start("v1").await;
    let canary = Backend::start("v2").await;
    let shadow = Backend::start("shadow").await;
    let template = support::rollout::success_rate_template("2s", 5, "");
    let steps = "      steps:\n        - setWeight: 20\n        - analysis:\n            templates: [{templateName: success-rate}]\n        - setWeight: 50\n        - pause: {}\n";
    let file = support::rollout::canary_run_file(
        &admin.to_string(),
        stable.addr,
        canary.addr,
        steps,
        &template,
    );
    // A mirrored route, and one to a backend that is down.
    let file = support::rollout::with_mirrored_route(&file, shadow.addr)
        .replace(
            "routes:\n",
            "routes:\n  - name: dead\n    hosts: [dead.test]\n    backends:\n      - {service: gone, weight: 100}\n    retries: {attempts: 0}\n",
        )
        .replace(
            "services:\n",
            &format!("services:\n  gone:\n    endpoints: [\"{}\"]\n", free_addr()),
        );
    let weir = Weir::start_run(&file).await;
    let load = Load::start(&weir.authority(), 2);
    wait_status(&weir, "paused at 50%", Duration::from_secs(60), |s| {
        s["currentStepIndex"] == 3 && s["pauseConditions"].is_array()
    })
    .await;
    let mirrored = support::Client::http1()
        .get(&weir.authority(), "/", &[("host", "shadowed.test")])
        .await
        .unwrap();
    assert_eq!(mirrored.status, 200);
    // A backend that is down: weir answers 502 itself (an error by reason, a 5xx ratio).
    for _ in 0..3 {
        let dead = support::Client::http1()
            .get(&weir.authority(), "/", &[("host", "dead.test")])
            .await
            .unwrap();
        assert_eq!(dead.status, 502);
    }

    // weir controller: Argo's nginx getting-started Rollout, to Healthy, then an update
    // that pauses it (reconciles, events, API requests and replicas to show).
    let server = support::kube::server_with(&support::kube::NGINX_EXAMPLE).await;
    let address = controller_metrics.to_string();
    let args: Vec<&str> = SHORT_LEASE
        .iter()
        .copied()
        .chain(["--metrics-address", address.as_str()])
        .collect();
    let controller = Controller::start_with(&server, &args);
    until(&server, &controller, "rollouts-demo", "healthy", |r, _| {
        r["status"]["phase"] == "Healthy"
    })
    .await;
    merge_patch(
        &server,
        &rollout_path("rollouts-demo"),
        json!({"spec": {"template": {"spec": {"containers": [{"name": "rollouts-demo", "image": "argoproj/rollouts-demo:yellow"}]}}}}),
    )
    .await;
    until(&server, &controller, "rollouts-demo", "paused", |r, _| {
        r["status"]["phase"] == "Paused"
    })
    .await;

    // Prometheus asked for OpenMetrics, which weir serves it.
    let accept = tokio::time::timeout(Duration::from_secs(10), accept)
        .await
        .expect("Prometheus scraped the recorder")
        .unwrap();
    assert_eq!(
        weir_proxy::metrics::Format::negotiate(Some(&accept)),
        weir_proxy::metrics::Format::OpenMetrics,
        "Prometheus' Accept header: {accept}"
    );

    // A weight change Prometheus sees happen (the annotation marks it): promote the
    // paused rollout once weir's table has been scraped.
    prom.wait_for_samples(
        &format!("weir_route_table_generation{{instance=\"{admin}\"}}"),
        Duration::from_secs(10),
    )
    .await
    .unwrap();
    let (code, out) = weir.cli(&["rollouts", "promote", "web"]).await;
    assert_eq!(code, 0, "{out}");
    wait_status(&weir, "completed", Duration::from_secs(30), |s| {
        s["phase"] == "Healthy"
    })
    .await;

    // Every query answers with data (scrapes are a second apart: allow for a few).
    let dashboard: Value = serde_json::from_str(DASHBOARD).unwrap();
    let all = queries(&dashboard);
    assert!(all.len() >= 20, "{} queries", all.len());
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut empty: Vec<String>;
    loop {
        empty = Vec::new();
        for (what, expr, legend) in &all {
            let sent = as_grafana_sends(expr);
            match prom.query(&sent).await {
                Ok(result) if result.as_array().is_some_and(|r| !r.is_empty()) => {
                    // Each label grouped by or shown is one weir sets, on some series.
                    for label in labels_used(expr, legend) {
                        let carried =
                            result.as_array().unwrap().iter().any(|s| {
                                s["metric"][&label].as_str().is_some_and(|v| !v.is_empty())
                            });
                        if !carried {
                            empty.push(format!(
                                "{what}: no series carries {label:?}: {sent} -> {result}"
                            ));
                        }
                    }
                }
                Ok(result) => empty.push(format!("{what}: {sent} -> {result}")),
                Err(e) => empty.push(format!("{what}: {sent} -> {e}")),
            }
        }
        if empty.is_empty() || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    assert!(
        empty.is_empty(),
        "queries without data:\n{}\n{}",
        empty.join("\n"),
        prom.log_tail()
    );
    // Both weir targets were scraped (the OpenMetrics answer parsed) and are up.
    for target in [admin, controller_metrics] {
        let up = prom
            .query(&format!("up{{instance=\"{target}\"}}"))
            .await
            .unwrap();
        assert_eq!(up[0]["value"][1], "1", "{target}: {up}");
    }
    // The panels read both sides of the split: the canary's and the stable's latency.
    let p99 = prom
        .query(&as_grafana_sends(
            "histogram_quantile(0.99, sum by (route, backend, le) (rate(weir_request_duration_seconds_bucket{route=\"web\"}[$__rate_interval])))",
        ))
        .await
        .unwrap();
    let backends: std::collections::BTreeSet<&str> = p99
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["metric"]["backend"].as_str())
        .collect();
    assert_eq!(
        backends,
        ["web-canary", "web-stable"].into_iter().collect(),
        "{p99}"
    );
    let outcomes = load.stop().await;
    assert!(outcomes.iter().all(|t| t.outcome.status == 200));
}
