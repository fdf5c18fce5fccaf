//! Weight changes and configuration reloads under load: no request fails, and the new
//! routing shows in every request that starts after the change is acknowledged.

mod support;

use std::time::{Duration, Instant};
use support::client::{Load, Timed};
use support::weir::config;
use support::{Backend, Weir};

fn assert_no_failures(all: &[Timed]) {
    let failed: Vec<_> = all.iter().filter(|t| t.outcome.status != 200).collect();
    assert!(
        failed.is_empty(),
        "{} of {} requests failed, first: {:?}",
        failed.len(),
        all.len(),
        failed.first()
    );
}

fn backends_after(all: &[Timed], after: Instant) -> std::collections::HashSet<String> {
    all.iter()
        .filter(|t| t.started > after)
        .filter_map(|t| t.outcome.backend.clone())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn weight_changes_under_load_fail_nothing_and_apply_at_once() {
    let a = Backend::start("a").await;
    let b = Backend::start("b").await;
    let weir = Weir::start(&config(&[("a", a.addr, 100), ("b", b.addr, 0)], "", "")).await;
    let load = Load::start(&weir.authority(), 50);
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Many changes while 50 connections send load.
    let mut generation = 0;
    for i in 0..40 {
        let w = if i % 2 == 0 {
            r#"{"a": 30, "b": 70}"#
        } else {
            r#"{"a": 70, "b": 30}"#
        };
        generation = weir.set_weights("web", w).await;
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    generation = generation.max(weir.set_weights("web", r#"{"a": 0, "b": 100}"#).await);
    let acknowledged = Instant::now();
    tokio::time::sleep(Duration::from_millis(400)).await;
    let all = load.stop().await;
    assert!(
        all.len() > 1000,
        "too little load to mean anything: {}",
        all.len()
    );
    assert_no_failures(&all);
    let after = backends_after(&all, acknowledged);
    assert_eq!(after, ["b".to_string()].into(), "requests after the change");
    assert!(all.iter().filter(|t| t.started > acknowledged).count() > 50);
    let routes = weir.admin_json("/routes").await;
    assert_eq!(routes["generation"].as_u64().unwrap(), generation);
    assert_eq!(routes["routes"][0]["backends"][0]["weight"], 0);
    assert_eq!(
        weir.metric("weir_backend_weight{route=\"web\",backend=\"b\"}")
            .await,
        100.0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn weights_api_rejects_bad_input_with_a_reason() {
    let a = Backend::start("a").await;
    let weir = Weir::start(&config(&[("a", a.addr, 1)], "", "")).await;
    let (s, body) = weir
        .admin_call("PUT", "/routes/web/weights", r#"{"nobody": 1}"#, None)
        .await;
    assert_eq!(s, 400);
    assert!(
        body.contains("no backend \\\"nobody\\\"") && body.contains("its backends are a"),
        "{body}"
    );
    let (s, body) = weir
        .admin_call("PUT", "/routes/web/weights", r#"{"a": -1}"#, None)
        .await;
    assert_eq!(s, 400, "{body}");
    let (s, body) = weir
        .admin_call("PUT", "/routes/nope/weights", r#"{"a": 1}"#, None)
        .await;
    assert_eq!(s, 404, "{body}");
    let (s, _) = weir.admin_call("GET", "/nothing-here", "", None).await;
    assert_eq!(s, 404);
}

async fn wait_for(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_valid_then_invalid_under_load() {
    let a = Backend::start("a").await;
    let b = Backend::start("b").await;
    let weir = Weir::start(&config(&[("a", a.addr, 100), ("b", b.addr, 0)], "", "")).await;
    let load = Load::start(&weir.authority(), 20);
    tokio::time::sleep(Duration::from_millis(300)).await;

    // A valid change: all traffic to b.
    let g0 = weir.admin_json("/routes").await["generation"]
        .as_u64()
        .unwrap();
    weir.write_config(&config(&[("a", a.addr, 0), ("b", b.addr, 100)], "", ""));
    wait_for("the valid reload", async || {
        weir.admin_json("/routes").await["generation"]
            .as_u64()
            .unwrap()
            > g0
    })
    .await;
    let applied = Instant::now();
    tokio::time::sleep(Duration::from_millis(300)).await;

    // An invalid one (misspelt field): refused, reported, the old config keeps serving.
    let bad =
        config(&[("a", a.addr, 100), ("b", b.addr, 0)], "", "").replace("weight: 0", "wieght: 0");
    weir.write_config(&bad);
    wait_for("the refusal", async || {
        weir.metric("weir_config_reloads_total{result=\"failure\"}")
            .await
            == 1.0
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let all = load.stop().await;

    assert_no_failures(&all);
    assert_eq!(backends_after(&all, applied), ["b".to_string()].into());
    assert_eq!(
        weir.metric("weir_config_reloads_total{result=\"success\"}")
            .await,
        1.0
    );
    let logs = weir.logs();
    assert!(logs.contains("configuration refused"), "{logs}");
    assert!(logs.contains("unknown field `wieght`"), "{logs}");
    // SIGHUP re-reads the (still invalid) file: refused again, still serving.
    weir.signal("HUP");
    wait_for("the SIGHUP reload", async || {
        weir.metric("weir_config_reloads_total{result=\"failure\"}")
            .await
            == 2.0
    })
    .await;
    let o = support::Client::http1()
        .get(&weir.authority(), "/", &[])
        .await
        .unwrap();
    assert_eq!((o.status, o.backend.as_deref()), (200, Some("b")));
}

/// `WEIR_BENCH_CHURN` (the benchmark's in-process weight changes, the path `weir run`'s
/// controller takes): changes at the asked rate under load, nothing fails, and what it did
/// is logged when weir stops.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_process_weight_churn_changes_weights_and_fails_nothing() {
    let a = Backend::start("a").await;
    let b = Backend::start("b").await;
    let yaml = config(&[("a", a.addr, 90), ("b", b.addr, 10)], "", "");
    let mut weir = Weir::start_with_env(&yaml, &[("WEIR_BENCH_CHURN", "web a b 1000")]).await;
    let generation = async |weir: &Weir| {
        weir.admin_json("/routes").await["generation"]
            .as_u64()
            .unwrap()
    };
    let g0 = generation(&weir).await;
    let load = Load::start(&weir.authority(), 20);
    tokio::time::sleep(Duration::from_millis(600)).await;
    let all = load.stop().await;
    let g1 = generation(&weir).await;
    assert!(all.len() > 200, "too little load: {}", all.len());
    assert_no_failures(&all);
    // 1,000 a second for 0.6 s; a loaded test machine may run the timer late, but an
    // open loop makes late ticks up.
    assert!(g1 - g0 >= 300, "{} changes in 600 ms", g1 - g0);
    let a_weight = &weir.admin_json("/routes").await["routes"][0]["backends"][0]["weight"];
    assert!(a_weight == 90 || a_weight == 89, "{a_weight}");

    weir.signal("TERM");
    assert!(weir.wait_exit(Duration::from_secs(10)).is_some());
    let logs = weir.logs();
    let line = logs
        .lines()
        .find(|l| l.contains("bench churn stopped"))
        .unwrap_or_else(|| panic!("no summary in the log:\n{logs}"));
    assert!(line.contains("errors=0"), "{line}");
    let changes: u64 = line
        .split("changes=")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no count in {line}"));
    assert!(changes >= g1 - g0, "{changes} logged, {} seen", g1 - g0);
}

#[test]
fn a_bad_churn_spec_stops_weir_before_it_serves() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = config(&[("a", "127.0.0.1:9".parse().unwrap(), 100)], "", "");
    std::fs::write(dir.path().join("weir.yaml"), yaml).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_weir"))
        .args(["proxy", "-c"])
        .arg(dir.path().join("weir.yaml"))
        .env("WEIR_BENCH_CHURN", "web a b fast")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("WEIR_BENCH_CHURN: RATE must be"), "{err}");
}
