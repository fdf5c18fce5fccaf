//! `weir demo`: one command, no set-up. Starts two built-in backends (stable, and a
//! canary whose error rate and latency are flags), a load generator, and standalone
//! weir (proxy and rollout controller) with an example Rollout and AnalysisTemplate, and
//! shows the rollout live until it ends: Healthy with a good canary, rolled back
//! (Degraded, all traffic on stable) with `--bad-canary`.

pub mod backend;

use backend::DemoBackend;
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use weir_control::standalone::{self, Controller, Store};

#[derive(Clone, Debug, clap::Args)]
pub struct DemoArgs {
    /// A canary that fails 30% of its requests: analysis rolls it back.
    #[arg(long)]
    pub bad_canary: bool,
    /// Share of canary requests that fail with 500 (0.0 to 1.0).
    #[arg(long)]
    pub canary_error_rate: Option<f64>,
    /// Extra latency of every canary answer, e.g. 20ms.
    #[arg(long, default_value = "0ms", value_parser = parse_duration)]
    pub canary_latency: Duration,
    /// Concurrent clients of the load generator.
    #[arg(long, default_value_t = 8)]
    pub clients: usize,
    /// Print each view below the last instead of redrawing the screen.
    #[arg(long)]
    pub no_redraw: bool,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    weir_config::duration::parse(s).map(|d| d.get())
}

/// The run file the demo feeds to standalone weir: the same one a user would write.
fn run_file(stable: std::net::SocketAddr, canary: std::net::SocketAddr) -> String {
    include_str!("../../examples/demo-rollout.yaml")
        .replace("127.0.0.1:18081", &stable.to_string())
        .replace("127.0.0.1:18082", &canary.to_string())
        .replace("127.0.0.1:8080", "127.0.0.1:0")
        .replace("127.0.0.1:9901", "127.0.0.1:0")
}

pub async fn run(args: DemoArgs) -> anyhow::Result<()> {
    let error_rate = args
        .canary_error_rate
        .unwrap_or(if args.bad_canary { 0.3 } else { 0.0 });
    let stable = DemoBackend {
        name: "v1".into(),
        error_rate: 0.0,
        latency: Duration::from_millis(2),
    }
    .spawn()
    .await?;
    let canary = DemoBackend {
        name: "v2".into(),
        error_rate,
        latency: Duration::from_millis(2) + args.canary_latency,
    }
    .spawn()
    .await?;

    let dir = tempfile::tempdir()?;
    let path = dir.path().join("weir.yaml");
    std::fs::write(&path, run_file(stable, canary))?;
    let file = standalone::parse_run_file("demo-rollout.yaml", &std::fs::read_to_string(&path)?)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let store = Store::open(&dir.path().join("state")).map_err(|e| anyhow::anyhow!(e))?;
    let running = weir_proxy::run::start_with(file.proxy.clone(), dir.path(), |p| {
        standalone::prepare(p, &file, &store)
    })
    .await
    .map_err(|e| anyhow::anyhow!(e))?;
    let controller = Controller::new(running.proxy.clone(), path, file, store)
        .map_err(|e| anyhow::anyhow!(e))?;
    running
        .admin
        .extensions
        .write()
        .push(Arc::new(standalone::api::ControlApi {
            controller: controller.clone(),
        }));

    // Load first, so the analysis has traffic to judge from the first step.
    let url = format!("http://{}/", running.listeners[0]);
    let stop = Arc::new(AtomicBool::new(false));
    let (ok, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let client: Client<_, Empty<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let mut load = Vec::new();
    for _ in 0..args.clients {
        let (client, url, stop, ok, failed) = (
            client.clone(),
            url.clone(),
            stop.clone(),
            ok.clone(),
            failed.clone(),
        );
        load.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                match client.get(url.parse().expect("valid url")).await {
                    Ok(resp) if resp.status().is_success() => {
                        ok.fetch_add(1, Ordering::Relaxed);
                        let _ = resp.into_body().collect().await;
                    }
                    _ => {
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                }
                tokio::time::sleep(Duration::from_millis(4)).await;
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    controller.spawn();

    let header = format!(
        "weir demo: stable v1 at {stable}, canary v2 at {canary} (error rate {:.0}%, +{:?} latency)\nproxy {url}  admin http://{}/  (try: weir rollouts get web --watch --admin {})\n",
        error_rate * 100.0,
        args.canary_latency,
        running.admin_address,
        running.admin_address
    );
    let mut last = String::new();
    let outcome = loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let Some(r) = controller.rollout("web") else {
            continue;
        };
        let runs = controller.analysis_runs("web").unwrap_or_default();
        let view = crate::rollouts_cli::view::rollout(&r, &runs);
        let status = r.status.clone().unwrap_or_default();
        let finished = status.phase == "Degraded"
            || (status.phase == "Healthy"
                && !status.stable_rs.is_empty()
                && status.stable_rs == status.current_pod_hash);
        if view != last || finished {
            let traffic = format!(
                "load: {} ok, {} failed\n",
                ok.load(Ordering::Relaxed),
                failed.load(Ordering::Relaxed)
            );
            let mut out = std::io::stdout().lock();
            if args.no_redraw {
                let _ = writeln!(out, "{header}\n{view}\n{traffic}");
            } else {
                let _ = write!(out, "\x1b[2J\x1b[H{header}\n{view}\n{traffic}");
            }
            let _ = out.flush();
            last = view;
        }
        if finished {
            break status.phase.clone();
        }
    };
    // A little more traffic on the final routing, then stop.
    tokio::time::sleep(Duration::from_secs(1)).await;
    stop.store(true, Ordering::Relaxed);
    for t in load {
        let _ = t.await;
    }
    running.shutdown(Duration::from_secs(5)).await;
    match outcome.as_str() {
        "Healthy" => println!("\nresult: Healthy. v2 passed analysis at every step and is now stable: the stable service serves its endpoints."),
        _ => println!("\nresult: {outcome}. Analysis failed v2, the rollout was aborted and all traffic is back on v1."),
    }
    Ok(())
}
