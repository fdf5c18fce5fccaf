//! The prometheus provider in a real rollout: a real Prometheus server scrapes weir's own
//! `/metrics`, and the rollout's analysis queries it. A canary answering 500s is aborted.

mod support;

#[path = "../control/tests/support_prometheus.rs"]
mod support_prometheus;

use std::time::{Duration, Instant};
use support::client::Load;
use support::{Backend, Weir};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_analysis_over_weirs_own_metrics_aborts_a_failing_canary() {
    let Some(binary) = support_prometheus::binary().await else {
        return;
    };
    let stable = Backend::start("v1").await;
    let canary = Backend::start_failing("v2").await;
    // Prometheus must know weir's admin address before weir starts, and weir's template
    // must know Prometheus': pick weir's admin port first.
    let admin: std::net::SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let prom = support_prometheus::Prometheus::start(&binary, &[admin])
        .await
        .unwrap();
    let steps = "      steps:\n        - setWeight: 30\n        - analysis:\n            templates: [{templateName: error-ratio}]\n            args: [{name: service, value: web-canary}]\n        - setWeight: 60\n";
    let template = format!(
        r#"---
apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata:
  name: error-ratio
spec:
  args:
    - name: service
  metrics:
    - name: error-ratio
      initialDelay: 3s
      interval: 1s
      count: 5
      consecutiveErrorLimit: 30
      successCondition: result[0] < 0.05
      provider:
        prometheus:
          address: {prom_url}
          query: sum(weir_requests_total{{route="web",backend="{{{{args.service}}}}",code=~"5.."}}) / sum(weir_requests_total{{route="web",backend="{{{{args.service}}}}"}})
"#,
        prom_url = prom.url,
    );
    let yaml = support::rollout::canary_run_file(
        &admin.to_string(),
        stable.addr,
        canary.addr,
        steps,
        &template,
    );
    let weir = Weir::start_run(&yaml).await;
    let load = Load::start(&weir.authority(), 4);
    let deadline = Instant::now() + Duration::from_secs(25);
    let status = loop {
        let r = weir.admin_json("/rollouts/web").await;
        if r["status"]["phase"] == "Degraded" {
            break r["status"].clone();
        }
        if Instant::now() > deadline {
            let runs = weir.admin_json("/rollouts/web/analysisruns").await;
            panic!(
                "not aborted: {}\nruns: {}\n{}\nprometheus:\n{}",
                r["status"],
                runs,
                weir.logs(),
                prom.log_tail()
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let _ = load.stop().await;
    assert_eq!(status["canary"]["weights"]["canary"]["weight"], 0);
    let runs = weir.admin_json("/rollouts/web/analysisruns").await;
    let metric = &runs["items"][0]["status"]["metricResults"][0];
    assert_eq!(metric["phase"], "Failed", "{metric}");
    // The failing measurement is Prometheus' answer over weir's counters: all 5xx.
    let failed = metric["measurements"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["phase"] == "Failed")
        .unwrap();
    assert_eq!(failed["value"], "[1]", "{metric}");
}
