//! `weir demo`: one command, no set-up. Starts two built-in backends (stable, and a
//! canary whose error rate and latency are flags), a load generator, and standalone
//! weir (proxy and rollout controller) with an example Rollout and AnalysisTemplate, and
//! shows the rollout live until it ends: Healthy with a good canary, rolled back
//! (Degraded, all traffic on stable) with `--bad-canary` or `--canary-latency 300ms`. It
//! exits 0 when Healthy and 1 when Degraded, like `weir rollouts status`; weir's log goes
//! to a file, so it never writes between the lines of the view.
//!
//! `weir demo backends` and `weir demo load URL` are the same pieces on their own, for the
//! README's walkthrough.

pub mod backend;
pub mod load;

use crate::rollouts_cli::{outcome, view};
use crate::LogFormat;
use backend::DemoBackend;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use weir_control::standalone::{self, Controller, Store};

#[derive(Clone, Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct DemoArgs {
    #[command(subcommand)]
    command: Option<DemoCommand>,
    #[command(flatten)]
    rollout: RolloutDemo,
}

#[derive(Clone, Debug, clap::Subcommand)]
enum DemoCommand {
    /// Serve the demo's backends, v1 (stable) and v2 (canary), until Ctrl-C: what
    /// examples/demo-rollout.yaml expects on 127.0.0.1:18081 and 127.0.0.1:18082.
    Backends(BackendsArgs),
    /// Send a steady load to URL and print each second how the answers split between
    /// backends (by the first line of their body: the demo backends answer v1 or v2).
    Load(LoadArgs),
}

/// How the demo's canary (v2) behaves.
#[derive(Clone, Debug, clap::Args)]
struct CanaryArgs {
    /// A canary that fails 30% of its requests: analysis rolls it back.
    #[arg(long)]
    bad_canary: bool,
    /// Share of canary requests that fail with 500 (0.0 to 1.0).
    #[arg(long, value_name = "SHARE")]
    canary_error_rate: Option<f64>,
    /// Extra latency of every canary answer, e.g. 300ms.
    #[arg(long, default_value = "0ms", value_parser = parse_duration)]
    canary_latency: Duration,
}

impl CanaryArgs {
    fn error_rate(&self) -> anyhow::Result<f64> {
        let rate = self
            .canary_error_rate
            .unwrap_or(if self.bad_canary { 0.3 } else { 0.0 });
        if !(0.0..=1.0).contains(&rate) {
            anyhow::bail!("--canary-error-rate must be between 0.0 and 1.0, got {rate}");
        }
        Ok(rate)
    }

    fn backends(&self) -> anyhow::Result<(DemoBackend, DemoBackend)> {
        let base = Duration::from_millis(2);
        Ok((
            DemoBackend {
                name: "v1".into(),
                error_rate: 0.0,
                latency: base,
            },
            DemoBackend {
                name: "v2".into(),
                error_rate: self.error_rate()?,
                latency: base + self.canary_latency,
            },
        ))
    }
}

#[derive(Clone, Debug, clap::Args)]
struct RolloutDemo {
    #[command(flatten)]
    canary: CanaryArgs,
    /// Concurrent clients of the load generator; 0 for no load, to see an analysis wait
    /// for data and then pause the rollout as Inconclusive.
    #[arg(long, default_value_t = 8)]
    clients: usize,
    /// Print each view below the last instead of redrawing the screen.
    #[arg(long)]
    no_redraw: bool,
    /// Keep serving (proxy, backends, load, admin API) after the outcome until Ctrl-C, to
    /// look around with `weir rollouts get web --admin ...`.
    #[arg(long)]
    hold: bool,
}

#[derive(Clone, Debug, clap::Args)]
struct BackendsArgs {
    #[command(flatten)]
    canary: CanaryArgs,
    /// Address of v1, the stable version.
    #[arg(long, default_value = "127.0.0.1:18081")]
    stable: SocketAddr,
    /// Address of v2, the canary.
    #[arg(long = "canary", default_value = "127.0.0.1:18082")]
    canary_address: SocketAddr,
}

#[derive(Clone, Debug, clap::Args)]
struct LoadArgs {
    /// Where to send the requests, e.g. http://127.0.0.1:8080/.
    url: String,
    /// Requests a second, all clients together.
    #[arg(long, default_value_t = 50)]
    rate: u32,
    /// Concurrent clients.
    #[arg(long, default_value_t = 4)]
    clients: u32,
    /// Stop after this long (default: at Ctrl-C).
    #[arg(long, value_parser = parse_duration)]
    duration: Option<Duration>,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    weir_config::duration::parse(s).map(|d| d.get())
}

pub async fn run(args: DemoArgs, log_format: LogFormat) -> anyhow::Result<ExitCode> {
    match args.command {
        None => rollout_demo(args.rollout, log_format).await,
        Some(DemoCommand::Backends(b)) => {
            crate::logging::init(log_format);
            serve_backends(b).await
        }
        Some(DemoCommand::Load(l)) => {
            crate::logging::init(log_format);
            send_load(l).await
        }
    }
}

async fn serve_backends(args: BackendsArgs) -> anyhow::Result<ExitCode> {
    let (v1, v2) = args.canary.backends()?;
    let described = format!(
        "{:.0}% errors, {:?} latency",
        v2.error_rate * 100.0,
        v2.latency
    );
    let stable = v1.spawn_on(args.stable).await?;
    let canary = v2.spawn_on(args.canary_address).await?;
    println!("v1 (stable) on http://{stable}/");
    println!("v2 (canary) on http://{canary}/ ({described})");
    println!("serving until Ctrl-C");
    tokio::signal::ctrl_c().await?;
    Ok(ExitCode::SUCCESS)
}

async fn send_load(args: LoadArgs) -> anyhow::Result<ExitCode> {
    if args.rate == 0 || args.clients == 0 {
        anyhow::bail!("--rate and --clients must be at least 1");
    }
    let every = Duration::from_secs(1) * args.clients / args.rate;
    let load = load::Load::start(&args.url, args.clients as usize, every)?;
    println!(
        "{} requests a second to {} from {} clients; a line a second, Ctrl-C to stop",
        args.rate, args.url, args.clients
    );
    let stop_at = args.duration.map(|d| tokio::time::Instant::now() + d);
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    let mut second = tokio::time::interval(Duration::from_secs(1));
    second.tick().await;
    let mut last = load.counts();
    loop {
        tokio::select! {
            _ = second.tick() => {}
            _ = &mut ctrl_c => break,
        }
        let now = load.counts();
        println!("{}", now.since(&last).line());
        last = now;
        if stop_at.is_some_and(|t| tokio::time::Instant::now() >= t) {
            break;
        }
    }
    let total = load.stop().await;
    println!("total: {}", total.line());
    Ok(ExitCode::SUCCESS)
}

/// The run file the demo feeds to standalone weir: the same one a user would write.
fn run_file(stable: SocketAddr, canary: SocketAddr) -> String {
    include_str!("../../examples/demo-rollout.yaml")
        .replace("127.0.0.1:18081", &stable.to_string())
        .replace("127.0.0.1:18082", &canary.to_string())
        .replace("127.0.0.1:8080", "127.0.0.1:0")
        .replace("127.0.0.1:9901", "127.0.0.1:0")
}

/// How to call this binary from the user's shell: `weir` when that is what PATH finds,
/// else its path (relative to the working directory when under it, e.g.
/// `target/release/weir`).
fn weir_command() -> String {
    let Ok(exe) = std::env::current_exe() else {
        return "weir".to_owned();
    };
    let on_path = std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|dir| dir.join("weir") == exe));
    if on_path {
        return "weir".to_owned();
    }
    std::env::current_dir()
        .ok()
        .and_then(|cwd| exe.strip_prefix(cwd).ok().map(Path::to_path_buf))
        .unwrap_or(exe)
        .display()
        .to_string()
}

async fn rollout_demo(args: RolloutDemo, log_format: LogFormat) -> anyhow::Result<ExitCode> {
    // Kept after the demo: its log, run file and state are there to look at.
    let dir: PathBuf = tempfile::Builder::new()
        .prefix("weir-demo-")
        .tempdir()?
        .keep();
    let log = dir.join("weir.log");
    crate::logging::init_file(log_format, &log)?;
    let (v1, v2) = args.canary.backends()?;
    let (error_rate, latency) = (v2.error_rate, args.canary.canary_latency);
    let stable = v1.spawn().await?;
    let canary = v2.spawn().await?;

    let path = dir.join("weir.yaml");
    std::fs::write(&path, run_file(stable, canary))?;
    let file = standalone::parse_run_file("demo-rollout.yaml", &std::fs::read_to_string(&path)?)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let store = Store::open(&dir.join("state")).map_err(|e| anyhow::anyhow!(e))?;
    let running = weir_proxy::run::start_with(file.proxy.clone(), &dir, |p| {
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
        .push(Arc::new(standalone::api::ControlApi::new(
            controller.clone(),
            false,
        )));

    // Load first, so the analysis has traffic to judge from the first step.
    let url = format!("http://{}/", running.listeners[0]);
    let load = load::Load::start(&url, args.clients, Duration::from_millis(4))?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    controller.spawn();

    let weir = weir_command();
    let admin = running.admin_address;
    let header = format!(
        "weir demo: stable v1 at {stable}, canary v2 at {canary} (error rate {:.0}%, +{latency:?} latency)\n\
         proxy {url}  admin http://{admin}/  log {}\n\
         watch it from another terminal: {weir} rollouts get web --watch --admin {admin}\n\
         or in a browser: http://{admin}/dashboard/#/rollouts/default/web\n",
        error_rate * 100.0,
        log.display(),
    );
    let mut last = String::new();
    let (ended, rollout) = loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let Some(r) = controller.rollout("web") else {
            continue;
        };
        let runs = controller.analysis_runs("web").unwrap_or_default();
        let shown = view::rollout(&r, &runs);
        let outcome = outcome::outcome(&r, &runs);
        let finished = matches!(
            outcome,
            outcome::Outcome::Healthy(_) | outcome::Outcome::Degraded(_)
        );
        let waiting = match &outcome {
            outcome::Outcome::NeedsPerson(why) => format!(
                "\nwaiting for you: {why}. In another terminal:\n  {weir} rollouts promote web --admin {admin}\n  (or {weir} rollouts abort web --admin {admin} to roll back)\n"
            ),
            _ => String::new(),
        };
        if shown != last || finished || !waiting.is_empty() {
            let traffic = format!("load: {}\n{waiting}", load.counts().line());
            let mut out = std::io::stdout().lock();
            if args.no_redraw {
                let _ = writeln!(out, "{header}\n{shown}\n{traffic}");
            } else {
                let _ = write!(out, "\x1b[2J\x1b[H{header}\n{shown}\n{traffic}");
            }
            let _ = out.flush();
            last = shown;
        }
        if finished {
            break (outcome, r);
        }
    };
    // A little more traffic on the final routing, then say how it ended.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (text, code) = match &ended {
        outcome::Outcome::Healthy(why) => (
            format!("result: Healthy: {why}: the stable service now serves v2's endpoints."),
            ExitCode::SUCCESS,
        ),
        outcome::Outcome::Degraded(why) => (
            format!("result: Degraded: {why}. All traffic is back on v1."),
            ExitCode::FAILURE,
        ),
        _ => unreachable!("the loop ends on Healthy or Degraded"),
    };
    println!("\n{text}\nload: {}", load.counts().line());
    println!(
        "weir's log, the run file and the rollout's state: {}",
        dir.display()
    );
    if args.hold {
        let status = rollout.status.map(|s| s.phase).unwrap_or_default();
        println!(
            "\nholding ({status}): proxy {url}, admin http://{admin}/, load still running. Try:\n  {weir} rollouts get web --admin {admin}\n  curl {url}\nCtrl-C to stop."
        );
        tokio::signal::ctrl_c().await?;
    }
    load.stop().await;
    running.shutdown(Duration::from_secs(5)).await;
    Ok(code)
}
