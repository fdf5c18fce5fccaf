//! `weir demo`: one command, no set-up. Starts two built-in backends (stable, and a
//! canary whose error rate and latency are flags), the proxy in front of them, and a
//! load generator, then walks the canary's weight up step by step, showing what the
//! proxy measures at each step.

pub mod backend;

use backend::DemoBackend;
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

#[derive(Clone, Debug, clap::Args)]
pub struct DemoArgs {
    /// Share of canary requests that fail with 500 (0.0 to 1.0).
    #[arg(long, default_value_t = 0.0)]
    pub canary_error_rate: f64,
    /// Extra latency of every canary answer, e.g. 20ms.
    #[arg(long, default_value = "0ms", value_parser = parse_duration)]
    pub canary_latency: Duration,
    /// Seconds spent at each weight step.
    #[arg(long, default_value_t = 3)]
    pub step_seconds: u64,
    /// Concurrent clients of the load generator.
    #[arg(long, default_value_t = 8)]
    pub clients: usize,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    weir_config::duration::parse(s).map(|d| d.get())
}

fn config(stable: std::net::SocketAddr, canary: std::net::SocketAddr) -> String {
    format!(
        "listeners:\n  - address: 127.0.0.1:0\nadmin:\n  address: 127.0.0.1:0\nservices:\n  stable:\n    endpoints: [\"{stable}\"]\n  canary:\n    endpoints: [\"{canary}\"]\nroutes:\n  - name: web\n    backends:\n      - service: stable\n        weight: 100\n      - service: canary\n        weight: 0\n"
    )
}

pub async fn run(args: DemoArgs) -> anyhow::Result<()> {
    let stable = DemoBackend {
        name: "stable".into(),
        error_rate: 0.0,
        latency: Duration::from_millis(2),
    }
    .spawn()
    .await?;
    let canary = DemoBackend {
        name: "canary".into(),
        error_rate: args.canary_error_rate,
        latency: Duration::from_millis(2) + args.canary_latency,
    }
    .spawn()
    .await?;
    let yaml = config(stable, canary);
    let cfg = weir_config::parse_proxy_config("demo.yaml", &yaml, 1)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let running = weir_proxy::run::start(cfg, std::path::Path::new("."))
        .await
        .map_err(|e| anyhow::anyhow!(e))?;
    let url = format!("http://{}/", running.listeners[0]);
    println!(
        "weir demo: stable {stable}, canary {canary} (error rate {}, +{:?})",
        args.canary_error_rate, args.canary_latency
    );
    println!(
        "proxy on {}, admin on http://{}/ (try /metrics, /routes, /stats?route=web)",
        running.listeners[0], running.admin_address
    );

    let stop = Arc::new(AtomicBool::new(false));
    let client: Client<_, Empty<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let mut load = Vec::new();
    for _ in 0..args.clients {
        let (client, url, stop) = (client.clone(), url.clone(), stop.clone());
        load.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                if let Ok(resp) = client.get(url.parse().expect("valid url")).await {
                    let _ = resp.into_body().collect().await;
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }));
    }

    for weight in [10u32, 25, 50, 100] {
        let weights: HashMap<String, u32> = [
            ("stable".to_string(), 100 - weight),
            ("canary".to_string(), weight),
        ]
        .into();
        let generation = running.proxy.set_weights("web", &weights)?;
        println!("\nstep: canary weight {weight}% (route table generation {generation})");
        tokio::time::sleep(Duration::from_secs(args.step_seconds)).await;
        let table = running.proxy.table();
        let route = table.route("web").expect("the demo route exists");
        for b in &route.backends {
            let w = b.stats.window(
                std::time::Instant::now(),
                Duration::from_secs(args.step_seconds),
            );
            let rate = if w.requests == 0 {
                f64::NAN
            } else {
                (w.requests - w.failures) as f64 / w.requests as f64 * 100.0
            };
            let p99 = w.latency.value_at_quantile(0.99) as f64 / 1000.0;
            println!(
                "  {:<7} {:>6} requests  success {:>6.2}%  p99 {:>7.2} ms",
                &*b.name, w.requests, rate, p99
            );
        }
    }
    stop.store(true, Ordering::Relaxed);
    for t in load {
        let _ = t.await;
    }
    running.shutdown(Duration::from_secs(5)).await;
    println!("\ndone: the canary carries all traffic. (The rollout engine will drive these steps from an Argo Rollout.)");
    Ok(())
}
