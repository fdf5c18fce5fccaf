//! A standalone `kind: Experiment` in `weir run`: the proxy configuration's route splits
//! traffic among stable, baseline and canary services; the Experiment's baseline and canary
//! templates name those services, and an AnalysisTemplate with the built-in provider's
//! `baseline` comparison judges the canary against the baseline over the same window. The
//! Experiment never changes the route table (Argo's Experiment has no weights). A canary
//! slower than its baseline ends the experiment Failed early; a healthy one ends Successful
//! when its duration has passed, across a kill -9 and restart of weir.
//!
//! The AnalysisTemplate is experiment_e2e.rs's ([`support::rollout::CANARY_VS_BASELINE`]);
//! the slow canary is 500 ms slower than its baseline.

mod support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};
use support::client::Load;
use support::rollout::{wait_experiment, CANARY_VS_BASELINE};
use support::{Backend, BackendOptions, Weir};

/// Waits are generous: the machine may be loaded; nothing here measures speed.
const WITHIN: Duration = Duration::from_secs(60);

fn run_file(
    stable: SocketAddr,
    baseline: SocketAddr,
    canary: SocketAddr,
    duration: &str,
) -> String {
    format!(
        r#"listeners:
  - address: 127.0.0.1:0
admin:
  address: 127.0.0.1:0
services:
  web-stable:
    endpoints: ["{stable}"]
  web-baseline:
    endpoints: ["{baseline}"]
  web-canary:
    endpoints: ["{canary}"]
routes:
  - name: web
    backends:
      - {{service: web-stable, weight: 80}}
      - {{service: web-baseline, weight: 10}}
      - {{service: web-canary, weight: 10}}
    retries: {{attempts: 0}}
---
apiVersion: argoproj.io/v1alpha1
kind: Experiment
metadata:
  name: compare
spec:
  duration: {duration}
  templates:
    - name: baseline
      selector: {{matchLabels: {{app: web}}}}
      service: {{name: web-baseline}}
    - name: canary
      selector: {{matchLabels: {{app: web}}}}
      service: {{name: web-canary}}
  analyses:
    - name: p99
      templateName: canary-vs-baseline
{CANARY_VS_BASELINE}"#
    )
}

fn phase(e: &serde_json::Value) -> &str {
    e["status"]["phase"].as_str().unwrap_or("")
}

/// The route's backends and weights as the proxy serves them.
async fn route_weights(weir: &Weir) -> Vec<(String, u64)> {
    let routes = weir.admin_json("/routes").await;
    routes["routes"][0]["backends"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                b["service"].as_str().unwrap().to_string(),
                b["weight"].as_u64().unwrap(),
            )
        })
        .collect()
}

fn configured() -> Vec<(String, u64)> {
    [("web-stable", 80), ("web-baseline", 10), ("web-canary", 10)]
        .map(|(s, w)| (s.to_string(), w))
        .to_vec()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slower_canary_than_its_baseline_fails_the_experiment() {
    let stable = Backend::start("stable").await;
    let baseline = Backend::start("baseline").await;
    let canary = Backend::start_with(
        "canary",
        BackendOptions {
            delay: Duration::from_millis(500),
            status: 0,
        },
    )
    .await;
    // Long enough that only the analysis can end it within the test.
    let weir = Weir::start_run(&run_file(stable.addr, baseline.addr, canary.addr, "10m")).await;
    let load = Load::start(&weir.authority(), 16);
    // `get --watch` follows it to the end and exits non-zero on a Failed experiment.
    let watch = {
        let admin = weir.admin.to_string();
        tokio::task::spawn_blocking(move || {
            std::process::Command::new(env!("CARGO_BIN_EXE_weir"))
                .args([
                    "experiments",
                    "get",
                    "compare",
                    "--watch",
                    "--admin",
                    &admin,
                ])
                .output()
                .unwrap()
        })
    };
    let running = wait_experiment(&weir, "compare", "Running", WITHIN, |e| {
        phase(e) == "Running"
    })
    .await;
    assert_eq!(
        running["status"]["templateStatuses"][1]["serviceName"], "web-canary",
        "{running}"
    );
    // Running changes nothing on the proxy: the configuration's split stands.
    assert_eq!(route_weights(&weir).await, configured());
    let failed =
        wait_experiment(&weir, "compare", "Failed", WITHIN, |e| phase(e) == "Failed").await;
    let all = load.stop().await;
    let run = &failed["status"]["analysisRuns"][0];
    assert_eq!(run["analysisRun"], "compare-p99", "{failed}");
    assert_eq!(run["phase"], "Failed", "{failed}");
    assert_eq!(route_weights(&weir).await, configured());
    // Every version kept its traffic throughout, and nothing failed.
    for name in ["stable", "baseline", "canary"] {
        assert!(
            all.iter()
                .any(|t| t.outcome.backend.as_deref() == Some(name)),
            "{name} got no traffic"
        );
    }
    assert!(
        all.iter().all(|t| t.outcome.status == 200),
        "a request failed"
    );
    let runs = weir.admin_json("/experiments/compare/analysisruns").await;
    assert_eq!(runs["items"][0]["status"]["phase"], "Failed", "{runs}");
    assert_eq!(
        runs["items"][0]["metadata"]["labels"]["experiment"], "compare",
        "{runs}"
    );

    let watched = watch.await.unwrap();
    let text = String::from_utf8_lossy(&watched.stdout);
    assert_eq!(watched.status.code(), Some(1), "{text}");
    assert!(text.contains("✖ Failed"), "{text}");
    let (code, text) = weir.cli(&["experiments", "get", "compare"]).await;
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("Status:          ✖ Failed"), "{text}");
    assert!(text.contains("service web-canary"), "{text}");
    assert!(text.contains("compare-p99"), "{text}");
    assert!(!text.contains("weight"), "{text}");
    let (_, text) = weir.cli(&["experiments", "list"]).await;
    assert!(
        text.lines()
            .any(|l| l.starts_with("compare") && l.contains("Failed")),
        "{text}"
    );
    assert!(weir
        .metrics()
        .await
        .contains("experiment_info{namespace=\"default\",name=\"compare\",phase=\"Failed\"} 1"));

    // A finished experiment stays finished across a kill -9: nothing runs again. (Its
    // templates stop counting as running one tick after the end; wait for that.)
    let settled = wait_experiment(&weir, "compare", "settled", WITHIN, |e| {
        e["status"]["templateStatuses"]
            .as_array()
            .is_some_and(|ts| ts.iter().all(|t| t["availableReplicas"] == 0))
    })
    .await;
    let weir = weir.kill9_and_restart().await;
    let e = weir.admin_json("/experiments/compare").await;
    assert_eq!(e["status"], settled["status"], "{e}");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let e = weir.admin_json("/experiments/compare").await;
    assert_eq!(e["status"], settled["status"], "{e}");
    let runs = weir.admin_json("/experiments/compare/analysisruns").await;
    assert_eq!(runs["items"], serde_json::json!([]), "{runs}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_healthy_canary_succeeds_when_its_duration_has_passed_even_across_a_restart() {
    let stable = Backend::start("stable").await;
    let baseline = Backend::start("baseline").await;
    let canary = Backend::start("canary").await;
    let duration = Duration::from_secs(15);
    let weir = Weir::start_run(&run_file(stable.addr, baseline.addr, canary.addr, "15s")).await;
    let load = Load::start(&weir.authority(), 16);
    let running = wait_experiment(&weir, "compare", "Running", WITHIN, |e| {
        phase(e) == "Running"
    })
    .await;
    let seen_running = Instant::now();
    let available_at = running["status"]["availableAt"].clone();
    assert!(available_at.is_string(), "{running}");
    // The analysis ends well before the duration; the experiment runs on.
    let judged = wait_experiment(&weir, "compare", "judged", WITHIN, |e| {
        e["status"]["analysisRuns"][0]["phase"] == "Successful"
    })
    .await;
    let _ = load.stop().await;
    if phase(&judged) != "Running" {
        // Only a machine too slow to judge within the duration gets here; the rest of
        // the test would not mean anything.
        assert_eq!(phase(&judged), "Successful", "{judged}");
        assert!(seen_running.elapsed() + Duration::from_secs(2) >= duration);
        return;
    }

    // kill -9 in the middle: weir comes back with the same status and carries on.
    let weir = weir.kill9_and_restart().await;
    let after = weir.admin_json("/experiments/compare").await;
    assert_eq!(after["status"]["availableAt"], available_at, "{after}");
    assert_eq!(
        after["status"]["analysisRuns"], judged["status"]["analysisRuns"],
        "{after}"
    );
    assert!(matches!(phase(&after), "Running" | "Successful"), "{after}");
    let done = wait_experiment(&weir, "compare", "Successful", WITHIN, |e| {
        phase(e) != "Running"
    })
    .await;
    assert_eq!(phase(&done), "Successful", "{done}");
    // Ended by its duration, counted from when it first ran (not from the restart), and
    // not before.
    assert!(
        seen_running.elapsed() + Duration::from_secs(2) >= duration,
        "ended after {:?}",
        seen_running.elapsed()
    );
    assert_eq!(done["status"]["availableAt"], available_at, "{done}");
    for t in done["status"]["templateStatuses"].as_array().unwrap() {
        assert_eq!(t["status"], "Successful", "{done}");
    }
    assert_eq!(route_weights(&weir).await, configured());
    let (code, text) = weir.cli(&["experiments", "get", "compare"]).await;
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("Status:          ✔ Successful"), "{text}");
    assert!(text.contains("service web-baseline"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terminate_written_into_the_file_ends_a_running_experiment() {
    let stable = Backend::start("stable").await;
    let baseline = Backend::start("baseline").await;
    let canary = Backend::start("canary").await;
    let yaml = run_file(stable.addr, baseline.addr, canary.addr, "10m");
    let weir = Weir::start_run(&yaml).await;
    let load = Load::start(&weir.authority(), 8);
    wait_experiment(&weir, "compare", "Running", WITHIN, |e| {
        phase(e) == "Running"
    })
    .await;
    // Argo's `spec.terminate`, as `kubectl argo rollouts terminate` patches it: here, an
    // edit of the run file, picked up like any other.
    weir.write_config(&yaml.replacen(
        "  duration: 10m\n",
        "  duration: 10m\n  terminate: true\n",
        1,
    ));
    let done = wait_experiment(&weir, "compare", "terminated", WITHIN, |e| {
        phase(e) != "Running"
    })
    .await;
    let _ = load.stop().await;
    assert_eq!(phase(&done), "Successful", "{done}");
    assert_eq!(done["spec"]["terminate"], true, "{done}");
    for t in done["status"]["templateStatuses"].as_array().unwrap() {
        assert_eq!(t["status"], "Successful", "{done}");
    }
    assert_eq!(route_weights(&weir).await, configured());
}
