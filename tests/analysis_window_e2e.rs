//! The built-in provider's windows end to end (`weir run`, real backends, real load): a
//! measurement never reaches back before the weight change, waits for its data while the
//! window since the change is young, and is Inconclusive only a whole window after it.

mod support;

use std::time::{Duration, Instant};
use support::client::Load;
use support::rollout::wait_status;
use support::{Backend, Weir};

/// A template measuring the canary's success rate once, over `window`, needing
/// `min_requests`.
fn template(window: &str, min_requests: u32) -> String {
    support::rollout::success_rate_template(window, min_requests, "")
}

fn run_file(stable: &Backend, canary: &Backend, steps: &str, template: &str) -> String {
    support::rollout::steps_run_file(stable.addr, canary.addr, steps, template)
}

const ANALYSIS: &str =
    "        - analysis:\n            templates: [{templateName: success-rate}]\n";

/// The first metric result of the rollout's only analysis run.
async fn metric_result(weir: &Weir) -> serde_json::Value {
    weir.admin_json("/rollouts/web/analysisruns").await["items"][0]["status"]["metricResults"][0]
        .clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_analysis_right_after_set_weight_waits_for_its_data_instead_of_pausing() {
    let (stable, canary) = (Backend::start("v1").await, Backend::start("v2").await);
    let steps = format!("        - setWeight: 20\n{ANALYSIS}        - setWeight: 60\n");
    let weir = Weir::start_run(&run_file(&stable, &canary, &steps, &template("10s", 20))).await;
    // About 15 requests a second: the canary's 20 take some seven seconds to come in.
    let load = Load::paced(&weir.authority(), 15);

    // While they do, the metric waits and says why, in the API and in `weir rollouts get`.
    let deadline = Instant::now() + Duration::from_secs(10);
    let waiting = loop {
        let m = metric_result(&weir).await;
        if m["message"]
            .as_str()
            .is_some_and(|t| t.starts_with("waiting for data: "))
        {
            break m;
        }
        assert!(
            Instant::now() < deadline,
            "never waited: {m}\n{}",
            weir.logs()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(
        waiting["message"]
            .as_str()
            .unwrap()
            .contains("of a 10s window since the split changed"),
        "{waiting}"
    );
    assert!(
        waiting["measurements"].as_array().is_none_or(Vec::is_empty),
        "a wait is not a measurement: {waiting}"
    );
    let (code, shown) = weir.cli(&["rollouts", "get", "web"]).await;
    assert_eq!(code, 0, "{shown}");
    assert!(shown.contains("waiting for data: "), "{shown}");

    // Then it is measured once, on requests served at 20%, and the rollout moves on.
    wait_status(&weir, "past the analysis", Duration::from_secs(20), |s| {
        s["currentStepIndex"] == 3
    })
    .await;
    load.stop().await;
    let m = metric_result(&weir).await;
    assert_eq!(m["phase"], "Successful", "{m}");
    assert_eq!(m["count"], 1, "{m}");
    assert_eq!(m["inconclusive"], serde_json::Value::Null, "{m}");
    assert_eq!(m["measurements"][0]["phase"], "Successful", "{m}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_canary_that_gets_too_little_traffic_is_inconclusive_one_window_after_the_change() {
    let (stable, canary) = (Backend::start("v1").await, Backend::start("v2").await);
    let steps = format!("        - setWeight: 20\n{ANALYSIS}");
    let weir = Weir::start_run(&run_file(&stable, &canary, &steps, &template("3s", 50))).await;
    let load = Load::paced(&weir.authority(), 10);
    let set = wait_status(&weir, "at 20%", Duration::from_secs(10), |s| {
        s["canary"]["weights"]["canary"]["weight"] == 20
    })
    .await;
    let changed = Instant::now();
    assert_ne!(set["phase"], "Paused");
    let paused = wait_status(&weir, "paused", Duration::from_secs(15), |s| {
        s["phase"] == "Paused"
    })
    .await;
    let after = changed.elapsed();
    load.stop().await;
    assert_eq!(
        paused["pauseConditions"][0]["reason"], "InconclusiveAnalysisRun",
        "{paused}"
    );
    // Not before the 3s window since the change was whole (less the polling interval).
    assert!(
        after >= Duration::from_millis(2800),
        "paused after {after:?}"
    );
    let m = metric_result(&weir).await;
    assert_eq!(m["count"], 1, "one measurement, after the waits: {m}");
    let message = m["measurements"][0]["message"].as_str().unwrap();
    assert!(
        message.contains("requests to web-canary in the last 3s; minRequests is 50"),
        "{message}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_canary_failing_from_the_change_is_judged_on_the_requests_after_it_only() {
    let (stable, canary) = (Backend::start("v1").await, Backend::start("v2").await);
    // Three seconds of good answers at 50%, then no canary traffic while it turns bad,
    // then 20% and the analysis. Its 10s window reaches back over the good answers: were
    // they counted, the success rate would be well above zero.
    let steps = format!(
        "        - setWeight: 50\n        - pause: {{duration: 3s}}\n        - setWeight: 0\n        - pause: {{duration: 2s}}\n        - setWeight: 20\n{ANALYSIS}"
    );
    let weir = Weir::start_run(&run_file(&stable, &canary, &steps, &template("10s", 20))).await;
    let load = Load::start(&weir.authority(), 4);
    wait_status(&weir, "in the 0% pause", Duration::from_secs(15), |s| {
        s["currentStepIndex"] == 3
    })
    .await;
    let good = canary.hits();
    assert!(good > 20, "the canary answered {good} requests at 50%");
    canary
        .status
        .store(500, std::sync::atomic::Ordering::Relaxed);
    let done = wait_status(&weir, "aborted", Duration::from_secs(20), |s| {
        s["phase"] == "Degraded"
    })
    .await;
    load.stop().await;
    assert_eq!(done["abort"], true, "{done}");
    let m = metric_result(&weir).await;
    assert_eq!(m["phase"], "Failed", "{m}");
    assert_eq!(m["measurements"][0]["value"], "0", "{m}");
}
