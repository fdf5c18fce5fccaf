//! `weir run` end to end: real backends, the real binary, real load. A healthy canary is
//! promoted; a failing one is aborted by analysis; too little traffic pauses as
//! Inconclusive; commands through the control API; kill -9 in a pause resumes the same
//! step and weight with no wrong traffic.

mod support;

use std::time::{Duration, Instant};
use support::client::{Load, Timed};
use support::rollout::steps_run_file;
use support::{Backend, Client, Weir};

const SUCCESS_RATE: &str = r#"---
apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata:
  name: success-rate
spec:
  metrics:
    - name: success-rate
      interval: 1s
      count: 2
      successCondition: result >= 0.95
      provider:
        weir:
          route: web
          backend: canary
          metric: success-rate
          window: 5s
          minRequests: 10
"#;

async fn rollout(weir: &Weir) -> serde_json::Value {
    weir.admin_json("/rollouts/web").await
}

async fn wait_phase(weir: &Weir, phase: &str, within: Duration) -> serde_json::Value {
    let deadline = Instant::now() + within;
    loop {
        let r = rollout(weir).await;
        if r["status"]["phase"] == phase {
            return r;
        }
        assert!(
            Instant::now() < deadline,
            "rollout never reached {phase}; status now:\n{}\nlogs:\n{}",
            serde_json::to_string_pretty(&r["status"]).unwrap(),
            weir.logs()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn backends_seen(all: &[Timed], after: Instant) -> std::collections::BTreeSet<String> {
    all.iter()
        .filter(|t| t.started > after)
        .filter_map(|t| t.outcome.backend.clone())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_healthy_canary_goes_20_50_100_and_becomes_stable() {
    let stable = Backend::start("v1").await;
    let canary = Backend::start("v2").await;
    let steps = "        - setWeight: 20\n        - analysis:\n            templates: [{templateName: success-rate}]\n        - setWeight: 50\n        - pause: {duration: 1s}\n        - setWeight: 100\n        - pause: {duration: 1s}\n";
    let weir = Weir::start_run(&steps_run_file(
        stable.addr,
        canary.addr,
        steps,
        SUCCESS_RATE,
    ))
    .await;
    let load = Load::start(&weir.authority(), 8);
    let done = wait_phase(&weir, "Healthy", Duration::from_secs(30)).await;
    // Healthy only counts once the rollout really finished (not the initial Healthy).
    let done = if done["status"]["stableRS"] == done["status"]["currentPodHash"]
        && done["status"]["currentStepIndex"] == 6
    {
        done
    } else {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let r = rollout(&weir).await;
            if r["status"]["currentStepIndex"] == 6 && r["status"]["phase"] == "Healthy" {
                break r;
            }
            assert!(Instant::now() < deadline, "{}", weir.logs());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    let finished = Instant::now();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let all = load.stop().await;
    assert!(
        all.iter().all(|t| t.outcome.status == 200),
        "a request failed during the rollout"
    );
    assert_eq!(done["status"]["stableRS"], done["status"]["currentPodHash"]);
    // The stable service now serves the canary's endpoints: everything goes to v2.
    assert_eq!(backends_seen(&all, finished), ["v2".to_string()].into());
    let routes = weir.admin_json("/routes").await;
    let eps = |i: usize| routes["routes"][0]["backends"][i]["endpoints"][0]["address"].clone();
    assert_eq!(eps(0), eps(1));
    assert_eq!(eps(0), canary.addr.to_string());
    // The weights went through 20 and 50: both appear in the events.
    let events = weir.admin_json("/rollouts/web/events").await;
    let text = events.to_string();
    assert!(
        text.contains("Traffic weight updated to 20") && text.contains("from 20 to 50"),
        "{text}"
    );
    assert!(text.contains("RolloutCompleted"), "{text}");
    let runs = weir.admin_json("/rollouts/web/analysisruns").await;
    assert_eq!(runs["items"][0]["status"]["phase"], "Successful");
    let metrics = weir.metrics().await;
    assert!(metrics.contains("rollout_info{namespace=\"default\",name=\"web\",strategy=\"canary\",phase=\"Healthy\"} 1"), "{metrics}");
    assert!(
        metrics.contains("analysis_run_metric_phase{namespace=\"default\","),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_canary_is_aborted_by_analysis_and_stable_never_fails() {
    let stable = Backend::start("v1").await;
    let canary = Backend::start_failing("v2").await;
    let steps = "        - setWeight: 20\n        - analysis:\n            templates: [{templateName: success-rate}]\n        - setWeight: 50\n";
    let weir = Weir::start_run(&steps_run_file(
        stable.addr,
        canary.addr,
        steps,
        SUCCESS_RATE,
    ))
    .await;
    let load = Load::start(&weir.authority(), 8);
    let started = Instant::now();
    let r = wait_phase(&weir, "Degraded", Duration::from_secs(20)).await;
    let aborted = Instant::now();
    // Aborted within the analysis' interval of the run starting (1s), give or take the
    // window filling up: well under the 20s limit.
    assert!(
        aborted - started < Duration::from_secs(10),
        "abort took {:?}",
        aborted - started
    );
    assert_eq!(r["status"]["abort"], true);
    assert!(
        r["status"]["message"]
            .as_str()
            .unwrap()
            .contains("RolloutAborted"),
        "{}",
        r["status"]
    );
    assert_eq!(r["status"]["canary"]["weights"]["canary"]["weight"], 0);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let all = load.stop().await;
    // No request to stable failed, ever; after the abort nothing reaches the canary.
    assert!(all
        .iter()
        .filter(|t| t.outcome.backend.as_deref() == Some("v1"))
        .all(|t| t.outcome.status == 200));
    assert!(
        all.iter()
            .any(|t| t.outcome.backend.as_deref() == Some("v2")),
        "the canary did get its 20%"
    );
    assert_eq!(
        backends_seen(&all, aborted + Duration::from_millis(50)),
        ["v1".to_string()].into()
    );
    let runs = weir.admin_json("/rollouts/web/analysisruns").await;
    assert_eq!(runs["items"][0]["status"]["phase"], "Failed");
    assert!(weir.logs().contains("reason=RolloutAborted"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_little_traffic_pauses_as_inconclusive_and_promote_continues() {
    let stable = Backend::start("v1").await;
    let canary = Backend::start("v2").await;
    let template = SUCCESS_RATE
        .replace("minRequests: 10", "minRequests: 1000")
        .replace("count: 2", "count: 1");
    let steps = "        - setWeight: 20\n        - analysis:\n            templates: [{templateName: success-rate}]\n        - setWeight: 60\n";
    let weir = Weir::start_run(&steps_run_file(stable.addr, canary.addr, steps, &template)).await;
    let r = wait_phase(&weir, "Paused", Duration::from_secs(20)).await;
    let reasons: Vec<_> = r["status"]["pauseConditions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["reason"].clone())
        .collect();
    assert_eq!(
        reasons,
        vec![serde_json::json!("InconclusiveAnalysisRun")],
        "{}",
        r["status"]
    );
    let runs = weir.admin_json("/rollouts/web/analysisruns").await;
    let m = &runs["items"][0]["status"]["metricResults"][0];
    assert_eq!(m["phase"], "Inconclusive");
    assert!(
        m["measurements"][0]["message"]
            .as_str()
            .unwrap()
            .contains("minRequests"),
        "{m}"
    );
    // A human looks and promotes: the rollout moves on to 60%.
    let (s, body) = weir
        .admin_call("POST", "/rollouts/web/promote", "", None)
        .await;
    assert_eq!(s, 200, "{body}");
    let deadline = Instant::now() + Duration::from_secs(10);
    while rollout(&weir).await["status"]["canary"]["weights"]["canary"]["weight"] != 60 {
        assert!(Instant::now() < deadline, "{}", weir.logs());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abort_retry_and_promote_full_through_the_api() {
    let stable = Backend::start("v1").await;
    let canary = Backend::start("v2").await;
    let steps = "        - setWeight: 30\n        - pause: {}\n        - setWeight: 60\n        - pause: {}\n";
    let weir = Weir::start_run(&steps_run_file(stable.addr, canary.addr, steps, "")).await;
    wait_phase(&weir, "Paused", Duration::from_secs(10)).await;
    let (s, _) = weir
        .admin_call("POST", "/rollouts/web/abort", "", None)
        .await;
    assert_eq!(s, 200);
    let r = wait_phase(&weir, "Degraded", Duration::from_secs(10)).await;
    assert_eq!(r["status"]["canary"]["weights"]["canary"]["weight"], 0);
    let c = Client::http1();
    c.assert_served_by(&weir.authority(), 20, "v1").await;
    let (s, _) = weir
        .admin_call("POST", "/rollouts/web/retry", "", None)
        .await;
    assert_eq!(s, 200);
    let r = wait_phase(&weir, "Paused", Duration::from_secs(10)).await;
    assert_eq!(r["status"]["currentStepIndex"], 1);
    assert_eq!(r["status"]["canary"]["weights"]["canary"]["weight"], 30);
    let (s, _) = weir
        .admin_call("POST", "/rollouts/web/promote?full=true", "", None)
        .await;
    assert_eq!(s, 200);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = rollout(&weir).await;
        if r["status"]["phase"] == "Healthy"
            && r["status"]["stableRS"] == r["status"]["currentPodHash"]
        {
            break;
        }
        assert!(Instant::now() < deadline, "{}", weir.logs());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    c.assert_served_by(&weir.authority(), 20, "v2").await;
    let (s, body) = weir
        .admin_call("POST", "/rollouts/nope/promote", "", None)
        .await;
    assert_eq!(s, 404, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_in_a_pause_resumes_the_same_step_and_weight() {
    let stable = Backend::start("v1").await;
    let canary = Backend::start("v2").await;
    // The paused weight (100) is the opposite of the file's (stable 100): a restart that
    // served the file's weights even once would show up as a v1 answer.
    let steps = "        - setWeight: 100\n        - pause: {}\n        - setWeight: 50\n";
    let weir = Weir::start_run(&steps_run_file(stable.addr, canary.addr, steps, "")).await;
    let before = wait_phase(&weir, "Paused", Duration::from_secs(10)).await;
    assert_eq!(before["status"]["currentStepIndex"], 1);
    let weir = weir.kill9_and_restart().await;
    // The very first requests after the restart go to the canary.
    let c = Client::http1();
    c.assert_served_by(&weir.authority(), 30, "v2").await;
    let after = rollout(&weir).await;
    assert_eq!(after["status"]["phase"], "Paused");
    assert_eq!(after["status"]["currentStepIndex"], 1);
    assert_eq!(
        after["status"]["canary"]["weights"]["canary"]["weight"],
        100
    );
    assert_eq!(
        after["status"]["pauseConditions"],
        before["status"]["pauseConditions"]
    );
    // And it carries on from there.
    let (s, _) = weir
        .admin_call("POST", "/rollouts/web/promote", "", None)
        .await;
    assert_eq!(s, 200);
    let deadline = Instant::now() + Duration::from_secs(10);
    while rollout(&weir).await["status"]["canary"]["weights"]["canary"]["weight"] != 50 {
        assert!(Instant::now() < deadline, "{}", weir.logs());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
