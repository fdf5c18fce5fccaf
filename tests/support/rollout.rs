//! Helpers for `weir run` tests: the Rollout document every test starts from, and waiting
//! for a rollout's status to reach a condition.

use super::Weir;
use std::time::{Duration, Instant};

/// A Rollout named `web` (with the selector and pod template Argo requires) whose
/// `spec.strategy` is `strategy`, indented as a mapping under `strategy:`.
pub fn rollout_doc(strategy: &str) -> String {
    format!(
        "---\napiVersion: argoproj.io/v1alpha1\nkind: Rollout\nmetadata:\n  name: web\nspec:\n  selector:\n    matchLabels: {{app: web}}\n  template:\n    metadata:\n      labels: {{app: web}}\n    spec:\n      containers: [{{name: web, image: \"web:2\"}}]\n  strategy:\n{strategy}"
    )
}

/// Polls `GET /rollouts/web` until `check` holds on its status; panics after `within`
/// with the status, the experiments, the analysis runs and weir's log.
pub async fn wait_status(
    weir: &Weir,
    what: &str,
    within: Duration,
    check: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let deadline = Instant::now() + within;
    loop {
        let s = weir.admin_json("/rollouts/web").await["status"].clone();
        if check(&s) {
            return s;
        }
        if Instant::now() > deadline {
            let exps = weir.admin_call("GET", "/experiments", "", None).await.1;
            let runs = weir
                .admin_call("GET", "/rollouts/web/analysisruns", "", None)
                .await
                .1;
            panic!(
                "never {what}: {s}\nexperiments: {exps}\nruns: {runs}\n{}",
                weir.logs()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A `weir run` file: services `web-stable` and `web-canary` on the given addresses, one
/// route `web` over both (100/0, no retries, so every failure shows), the admin listener
/// on `admin`, then a canary Rollout whose `spec.strategy.canary` continues with
/// `canary_body` (lines indented six spaces: `steps:`, `trafficRouting:`, ...), then `rest`
/// (AnalysisTemplates and so on).
pub fn canary_run_file(
    admin: &str,
    stable: std::net::SocketAddr,
    canary: std::net::SocketAddr,
    canary_body: &str,
    rest: &str,
) -> String {
    let rollout = rollout_doc(&format!(
        "    canary:\n      stableService: web-stable\n      canaryService: web-canary\n{canary_body}"
    ));
    format!(
        "listeners:\n  - address: 127.0.0.1:0\nadmin:\n  address: {admin}\nservices:\n  web-stable:\n    endpoints: [\"{stable}\"]\n  web-canary:\n    endpoints: [\"{canary}\"]\nroutes:\n  - name: web\n    backends:\n      - {{service: web-stable, weight: 100}}\n      - {{service: web-canary, weight: 0}}\n    retries: {{attempts: 0}}\n{rollout}\n{rest}"
    )
}

/// [`canary_run_file`] with `steps` (lines indented eight spaces: `- setWeight: 20`) as
/// the canary's steps, an admin listener on port 0, and `templates` after.
#[allow(dead_code)]
pub fn steps_run_file(
    stable: std::net::SocketAddr,
    canary: std::net::SocketAddr,
    steps: &str,
    templates: &str,
) -> String {
    canary_run_file(
        "127.0.0.1:0",
        stable,
        canary,
        &format!("      steps:\n{steps}"),
        templates,
    )
}

/// Polls `GET /experiments/{name}` until `check` holds on the Experiment; panics after
/// `within` with the experiment, its analysis runs and weir's log.
pub async fn wait_experiment(
    weir: &Weir,
    name: &str,
    what: &str,
    within: Duration,
    check: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let deadline = Instant::now() + within;
    loop {
        let (code, body) = weir
            .admin_call("GET", &format!("/experiments/{name}"), "", None)
            .await;
        let e: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        if code == 200 && check(&e) {
            return e;
        }
        if Instant::now() > deadline {
            let runs = weir
                .admin_call(
                    "GET",
                    &format!("/experiments/{name}/analysisruns"),
                    "",
                    None,
                )
                .await
                .1;
            panic!(
                "experiment {name} never {what}: {body}\nruns: {runs}\n{}",
                weir.logs()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The AnalysisTemplate `canary-vs-baseline` both experiment tests judge by: the canary's
/// p99 against the baseline's over the same 10s window on route `web` (`backend: canary`,
/// `baseline: baseline`), twice, after 2s. It allows 50% plus 50 ms over the baseline: a
/// loaded CI machine makes a p99 over a few dozen requests noisy, and the slow canaries in
/// the tests are 500 ms slower.
pub const CANARY_VS_BASELINE: &str = r#"---
apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata:
  name: canary-vs-baseline
spec:
  metrics:
    - name: p99-vs-baseline
      initialDelay: 2s
      interval: 1s
      count: 2
      successCondition: result.value <= result.baseline * 1.5 + 0.05
      provider:
        weir:
          route: web
          backend: canary
          baseline: baseline
          metric: latency
          quantile: 0.99
          window: 10s
          minRequests: 10
"#;

/// An AnalysisTemplate `success-rate` whose one metric reads the canary's success rate on
/// route `web` from weir's own histograms over `window`, needing `min_requests`, and
/// succeeding at 0.95 (`schedule`: lines indented six spaces, e.g. `interval` and `count`,
/// or nothing for one measurement).
#[allow(dead_code)]
pub fn success_rate_template(window: &str, min_requests: u32, schedule: &str) -> String {
    format!(
        r#"---
apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata:
  name: success-rate
spec:
  metrics:
    - name: success-rate
{schedule}      successCondition: result >= 0.95
      provider:
        weir:
          route: web
          backend: canary
          metric: success-rate
          window: {window}
          minRequests: {min_requests}
"#
    )
}

/// `file` (a run file) with a route `shadowed` (host `shadowed.test`) to `web-stable` that
/// copies every request to a service `shadow` at `shadow`.
#[allow(dead_code)]
pub fn with_mirrored_route(file: &str, shadow: std::net::SocketAddr) -> String {
    file.replace(
        "routes:\n",
        "routes:\n  - name: shadowed\n    hosts: [shadowed.test]\n    backends:\n      - {service: web-stable, weight: 100}\n    mirrors:\n      - {name: copy, backend: shadow, percentage: 100}\n",
    )
    .replace(
        "services:\n",
        &format!("services:\n  shadow:\n    endpoints: [\"{shadow}\"]\n"),
    )
}
