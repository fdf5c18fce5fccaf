//! Blue-green in `weir run`: the switch is atomic (a client hammering the active route
//! sees only the old version, then only the new one), a failing post-promotion analysis
//! switches back, and an abort before promotion never lets the new version onto the active
//! route (retry then takes the update up again).

mod support;

use std::time::{Duration, Instant};
use support::client::Load;
use support::rollout::{rollout_doc, wait_status as until};
use support::{Backend, Client, Weir};

fn run_file(
    v1: std::net::SocketAddr,
    v2: std::net::SocketAddr,
    strategy: &str,
    templates: &str,
) -> String {
    let rollout = rollout_doc(&format!("    blueGreen:\n      activeService: web-active\n      previewService: web-preview\n{strategy}"));
    format!(
        r#"listeners:
  - address: 127.0.0.1:0
admin:
  address: 127.0.0.1:0
services:
  web-active:
    endpoints: ["{v1}"]
  web-preview:
    endpoints: ["{v2}"]
routes:
  - name: web
    backends:
      - {{service: web-active, weight: 1}}
    retries: {{attempts: 0}}
  - name: preview
    hosts: ["preview.local"]
    backends:
      - {{service: web-preview, weight: 1}}
{rollout}
{templates}"#
    )
}

async fn status(weir: &Weir) -> serde_json::Value {
    weir.admin_json("/rollouts/web").await["status"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_good_preview_is_switched_to_atomically() {
    let v1 = Backend::start("v1").await;
    let v2 = Backend::start("v2").await;
    let weir = Weir::start_run(&run_file(
        v1.addr,
        v2.addr,
        "      autoPromotionEnabled: false\n      scaleDownDelaySeconds: 5\n",
        "",
    ))
    .await;
    let s = until(
        &weir,
        "paused for promotion",
        Duration::from_secs(10),
        |s| s["phase"] == "Paused",
    )
    .await;
    assert_eq!(s["pauseConditions"][0]["reason"], "BlueGreenPause", "{s}");
    let c = Client::http1();
    // The preview route already serves the new version; the active one the old.
    assert_eq!(
        c.get(&weir.authority(), "/", &[("host", "preview.local")])
            .await
            .unwrap()
            .backend
            .as_deref(),
        Some("v2")
    );
    assert_eq!(
        c.get(&weir.authority(), "/", &[])
            .await
            .unwrap()
            .backend
            .as_deref(),
        Some("v1")
    );

    let load = Load::start(&weir.authority(), 16);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (code, body) = weir
        .admin_call("POST", "/rollouts/web/promote", "", None)
        .await;
    assert_eq!(code, 200, "{body}");
    until(&weir, "promoted", Duration::from_secs(10), |s| {
        s["phase"] == "Healthy" && s["stableRS"] == s["currentPodHash"]
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut all = load.stop().await;
    assert!(
        all.iter().all(|t| t.outcome.status == 200),
        "a request failed"
    );
    // Ordered by start: once any request saw v2, no later-started request saw v1.
    all.sort_by_key(|t| t.started);
    let first_v2 = all
        .iter()
        .position(|t| t.outcome.backend.as_deref() == Some("v2"))
        .expect("v2 took over");
    let first_v2_done = all[first_v2].started + all[first_v2].outcome.elapsed;
    let mixed: Vec<_> = all
        .iter()
        .filter(|t| t.started > first_v2_done && t.outcome.backend.as_deref() == Some("v1"))
        .collect();
    assert!(
        mixed.is_empty(),
        "{} requests saw v1 after v2 answered",
        mixed.len()
    );
    assert!(all[..first_v2]
        .iter()
        .all(|t| t.outcome.backend.as_deref() == Some("v1")));
    assert!(first_v2 > 50, "the old version served before the switch");
    let s = status(&weir).await;
    assert_eq!(s["blueGreen"]["activeSelector"], s["currentPodHash"], "{s}");
    assert!(weir
        .metrics()
        .await
        .contains("strategy=\"blueGreen\",phase=\"Healthy\""));
}

const ACTIVE_SUCCESS: &str = r#"---
apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata:
  name: active-success
spec:
  metrics:
    - name: success-rate
      initialDelay: 1s
      interval: 1s
      count: 3
      successCondition: result >= 0.95
      provider:
        weir:
          route: web
          backend: active
          metric: success-rate
          window: 5s
          minRequests: 10
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_post_promotion_analysis_switches_back() {
    let v1 = Backend::start("v1").await;
    let v2 = Backend::start_failing("v2").await;
    let strategy =
        "      postPromotionAnalysis:\n        templates: [{templateName: active-success}]\n";
    let weir = Weir::start_run(&run_file(v1.addr, v2.addr, strategy, ACTIVE_SUCCESS)).await;
    let load = Load::start(&weir.authority(), 8);
    let s = until(&weir, "aborted", Duration::from_secs(20), |s| {
        s["phase"] == "Degraded"
    })
    .await;
    let switched_back = Instant::now();
    assert_eq!(s["abort"], true, "{s}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let all = load.stop().await;
    assert!(
        all.iter()
            .any(|t| t.outcome.backend.as_deref() == Some("v2")),
        "v2 was active for a while"
    );
    let late: Vec<_> = all.iter().filter(|t| t.started > switched_back).collect();
    assert!(late.len() > 20);
    assert!(late
        .iter()
        .all(|t| t.outcome.backend.as_deref() == Some("v1") && t.outcome.status == 200));
    let runs = weir.admin_json("/rollouts/web/analysisruns").await;
    let post = runs["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["metadata"]["name"].as_str().unwrap().ends_with("-post"))
        .expect("a post-promotion run");
    assert_eq!(post["status"]["phase"], "Failed", "{post}");
    assert_eq!(s["blueGreen"]["activeSelector"], s["stableRS"], "{s}");
}

async fn backend_of(c: &Client, weir: &Weir, headers: &[(&str, &str)]) -> String {
    c.get(&weir.authority(), "/", headers)
        .await
        .unwrap()
        .backend
        .unwrap_or_default()
}

/// Aborted while paused before promotion: the active service never serves the new version
/// (Argo's reconcileActiveService keeps it on stableRS when aborted) and the rollout is
/// Degraded. The preview keeps serving the new version: Argo keeps the preview selector and
/// scales the new ReplicaSet down after abortScaleDownDelaySeconds, which has no standalone
/// equivalent (weir does not run the versions). A retry takes the update up again: paused
/// for promotion once more, and a promotion then switches.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_abort_before_promotion_keeps_the_old_version_active_and_retry_resumes() {
    let v1 = Backend::start("v1").await;
    let v2 = Backend::start("v2").await;
    let weir = Weir::start_run(&run_file(
        v1.addr,
        v2.addr,
        "      autoPromotionEnabled: false\n",
        "",
    ))
    .await;
    let within = Duration::from_secs(30);
    let paused = until(&weir, "paused for promotion", within, |s| {
        s["phase"] == "Paused"
    })
    .await;
    assert_eq!(
        paused["pauseConditions"][0]["reason"], "BlueGreenPause",
        "{paused}"
    );
    let (old, new) = (
        paused["stableRS"].as_str().unwrap().to_string(),
        paused["currentPodHash"].as_str().unwrap().to_string(),
    );
    assert_ne!(old, new);
    let load = Load::start(&weir.authority(), 8);
    tokio::time::sleep(Duration::from_millis(300)).await;

    let (code, text) = weir.cli(&["rollouts", "abort", "web"]).await;
    assert_eq!(code, 0, "{text}");
    let s = until(&weir, "Degraded", within, |s| s["phase"] == "Degraded").await;
    assert_eq!(s["abort"], true, "{s}");
    assert!(
        s["message"]
            .as_str()
            .unwrap()
            .starts_with("RolloutAborted: Rollout aborted update to revision"),
        "{s}"
    );
    assert_eq!(s["pauseConditions"], serde_json::Value::Null, "{s}");
    assert_eq!(s["blueGreen"]["activeSelector"], old.as_str(), "{s}");
    assert_eq!(s["blueGreen"]["previewSelector"], new.as_str(), "{s}");
    let progressing = s["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "Progressing")
        .cloned()
        .unwrap_or_default();
    assert_eq!(progressing["status"], "False", "{s}");
    assert_eq!(progressing["reason"], "RolloutAborted", "{s}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let c = Client::http1();
    assert_eq!(
        backend_of(&c, &weir, &[("host", "preview.local")]).await,
        "v2"
    );
    let (_, text) = weir.cli(&["rollouts", "get", "web"]).await;
    assert!(text.contains("Degraded"), "{text}");

    // Retry: the update starts again and pauses for promotion; still nothing on v2.
    let (code, text) = weir.cli(&["rollouts", "retry", "web"]).await;
    assert_eq!(code, 0, "{text}");
    let s = until(&weir, "paused again after retry", within, |s| {
        s["phase"] == "Paused"
    })
    .await;
    assert_eq!(s["abort"], serde_json::Value::Null, "{s}");
    assert_eq!(s["pauseConditions"][0]["reason"], "BlueGreenPause", "{s}");
    assert_eq!(s["blueGreen"]["activeSelector"], old.as_str(), "{s}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let all = load.stop().await;
    assert!(all.len() > 50, "only {} requests", all.len());
    let other: Vec<_> = all
        .iter()
        .filter(|t| t.outcome.status != 200 || t.outcome.backend.as_deref() != Some("v1"))
        .map(|t| &t.outcome)
        .collect();
    assert!(
        other.is_empty(),
        "{} of {} requests were not answered 200 by v1: {:?}",
        other.len(),
        all.len(),
        other.first()
    );

    // And a promotion now switches to the new version.
    let (code, text) = weir.cli(&["rollouts", "promote", "web"]).await;
    assert_eq!(code, 0, "{text}");
    until(&weir, "promoted after retry", within, |s| {
        s["phase"] == "Healthy" && s["stableRS"] == new.as_str()
    })
    .await;
    assert_eq!(backend_of(&c, &weir, &[]).await, "v2");
}
