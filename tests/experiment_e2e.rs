//! The canonical experiment: a Rollout step runs a baseline (the stable version) and a
//! canary at 5% each, and an AnalysisTemplate with the built-in provider's `baseline`
//! comparison decides it. A slower canary aborts the rollout; a healthy one continues.
//! The condition allows 50% plus 50 ms over the baseline's p99: a loaded CI machine makes a
//! p99 over a few dozen requests noisy, and the slow canary is 500 ms slower.

mod support;

use std::time::{Duration, Instant};
use support::client::Load;
use support::rollout::wait_status;
use support::{Backend, BackendOptions, Weir};

async fn until(
    weir: &Weir,
    what: &str,
    check: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    wait_status(weir, what, Duration::from_secs(30), check).await
}

fn run_file(stable: std::net::SocketAddr, canary: std::net::SocketAddr) -> String {
    const CANARY: &str = r#"      trafficRouting:
        managedRoutes: []
      steps:
        - experiment:
            duration: 6s
            templates:
              - {name: baseline, specRef: stable, weight: 5}
              - {name: canary, specRef: canary, weight: 5}
            analyses:
              - name: compare
                templateName: canary-vs-baseline
                requiredForCompletion: true
        - setWeight: 40
        - pause: {}
"#;
    support::rollout::canary_run_file(
        "127.0.0.1:0",
        stable,
        canary,
        CANARY,
        support::rollout::CANARY_VS_BASELINE,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slower_canary_than_its_baseline_aborts_the_rollout() {
    let stable = Backend::start("v1").await;
    let canary = Backend::start_with(
        "v2",
        BackendOptions {
            delay: Duration::from_millis(500),
            status: 0,
        },
    )
    .await;
    let weir = Weir::start_run(&run_file(stable.addr, canary.addr)).await;
    let load = Load::start(&weir.authority(), 16);
    // While the experiment runs, its two backends are on the route at 5% each.
    let s = until(&weir, "running the experiment", |s| {
        s["canary"]["currentExperiment"]
            .as_str()
            .is_some_and(|e| !e.is_empty())
    })
    .await;
    let experiment = s["canary"]["currentExperiment"]
        .as_str()
        .unwrap()
        .to_string();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let routes = weir.admin_json("/routes").await;
        let backends = routes["routes"][0]["backends"].as_array().unwrap().clone();
        if backends.len() == 4 {
            let weight = |n: String| {
                backends
                    .iter()
                    .find(|b| b["service"] == n.as_str())
                    .map(|b| b["weight"].clone())
            };
            assert_eq!(
                weight(format!("{experiment}-baseline")),
                Some(serde_json::json!(5)),
                "{routes}"
            );
            assert_eq!(
                weight(format!("{experiment}-canary")),
                Some(serde_json::json!(5)),
                "{routes}"
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "experiment backends never appeared: {routes}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let s = until(&weir, "aborted", |s| s["phase"] == "Degraded").await;
    assert!(s["message"].as_str().unwrap().contains("Experiment"), "{s}");
    let _ = load.stop().await;
    // The experiment's backends are gone from the route; all traffic on stable.
    let routes = weir.admin_json("/routes").await;
    let names: Vec<_> = routes["routes"][0]["backends"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["service"].clone())
        .collect();
    assert_eq!(
        names,
        vec![
            serde_json::json!("web-stable"),
            serde_json::json!("web-canary")
        ],
        "{routes}"
    );
    let exps = weir.admin_json("/experiments").await;
    assert_eq!(exps["items"][0]["status"]["phase"], "Failed", "{exps}");
    // The CLI shows it too, with its two backends.
    let admin = weir.admin.to_string();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_weir"))
            .args(["experiments", "get", &experiment, "--admin", &admin])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("Failed") && text.contains("-baseline") && text.contains("-canary"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_canary_as_fast_as_its_baseline_continues() {
    let stable = Backend::start("v1").await;
    let canary = Backend::start("v2").await;
    let weir = Weir::start_run(&run_file(stable.addr, canary.addr)).await;
    let load = Load::start(&weir.authority(), 16);
    let s = until(&weir, "past the experiment", |s| {
        s["currentStepIndex"] == 2 && s["phase"] == "Paused"
    })
    .await;
    let _ = load.stop().await;
    assert_eq!(s["canary"]["weights"]["canary"]["weight"], 40, "{s}");
    let exps = weir.admin_json("/experiments").await;
    assert_eq!(exps["items"][0]["status"]["phase"], "Successful", "{exps}");
    let runs = weir.admin_json("/rollouts/web/analysisruns").await;
    assert_eq!(runs["items"][0]["status"]["phase"], "Successful", "{runs}");
}
