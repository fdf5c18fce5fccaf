//! `weir controller` at scale against the in-memory API server (not a timed test: it prints
//! figures for BENCHMARKS.md). `cargo bench --bench controller --profile release` (the
//! figures in BENCHMARKS.md; `cargo test --all-targets` runs it small, as a smoke test).
//!
//! 1. N Rollouts (default 1,000; `WEIR_BENCH_ROLLOUTS`), each a basic canary with one pod
//!    and steps `setWeight: 20, pause: {}`, brought to Healthy: how long that takes.
//! 2. Steady state for 30 s: the controller's CPU per second of wall time (user + system
//!    from /proc), its resident memory, and the API requests it makes.
//! 3. 100 images changed at once: for each Rollout, the time from its change to the first
//!    setWeight applied (the step done: its canary pod up), p50 and p99; and the API
//!    requests per reconcile meanwhile, by verb and resource (reconciles counted by the
//!    controller's own `rollout_reconcile_count`).

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use weir_apiserver_sim::{ApiServer, Options};

fn rollout(i: usize) -> Value {
    json!({
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Rollout",
        "metadata": {"name": format!("app-{i}"), "namespace": "default"},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": format!("app-{i}")}},
            "template": {
                "metadata": {"labels": {"app": format!("app-{i}")}},
                "spec": {"containers": [{"name": "app", "image": "app:1"}]},
            },
            "strategy": {"canary": {"steps": [{"setWeight": 20}, {"pause": {}}]}},
        },
    })
}

/// (user + system seconds, resident bytes) of process `pid`.
fn usage(pid: u32) -> (f64, u64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let rest = stat.rsplit(')').next().unwrap_or_default();
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of stat, 12 and 13 after the state field.
    let cpu = (ticks(11) + ticks(12)) / 100.0;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let rss = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<u64>().ok())
        .unwrap_or(0)
        * 1024;
    (cpu, rss)
}

fn get(addr: SocketAddr, path: &str) -> String {
    let Ok(mut s) = TcpStream::connect(addr) else {
        return String::new();
    };
    let _ = write!(s, "GET {path} HTTP/1.0\r\nHost: x\r\n\r\n");
    let mut body = String::new();
    let _ = s.read_to_string(&mut body);
    body
}

/// The sum of `rollout_reconcile_count` over all Rollouts.
fn reconciles(metrics: SocketAddr) -> f64 {
    get(metrics, "/metrics")
        .lines()
        .filter(|l| l.starts_with("rollout_reconcile_count{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

fn requests(server: &ApiServer) -> BTreeMap<(String, String), u64> {
    server.request_counts()
}

fn delta(
    after: &BTreeMap<(String, String), u64>,
    before: &BTreeMap<(String, String), u64>,
) -> BTreeMap<(String, String), u64> {
    after
        .iter()
        .map(|(k, v)| (k.clone(), v - before.get(k).copied().unwrap_or(0)))
        .filter(|(_, v)| *v > 0)
        .collect()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    // `cargo bench` passes `--bench`. Without it (`cargo test --all-targets`) this is a
    // smoke run: 20 Rollouts, a 2 s window, 5 changes, so the suite checks that the
    // benchmark still works without spending minutes on it.
    let measuring = std::env::args().any(|a| a == "--bench");
    let n: usize = std::env::var("WEIR_BENCH_ROLLOUTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if measuring { 1000 } else { 20 });
    let bin = std::env::var("WEIR_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_weir").into());
    let server = ApiServer::start(Options::default()).await.unwrap();
    server
        .apply_yaml(include_str!("../deploy/crds/weir-crds.yaml"))
        .unwrap();
    for i in 0..n {
        server.create(rollout(i)).unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    server.write_kubeconfig(&kubeconfig).unwrap();
    let metrics: SocketAddr = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let log_path = std::env::var("WEIR_BENCH_LOG_FILE")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| dir.path().join("controller.log"));
    let log = std::fs::File::create(log_path).unwrap();
    let started = Instant::now();
    let controller = Killed(
        Command::new(&bin)
            .args(["controller", "--leader-elect=false", "--kubeconfig"])
            .arg(&kubeconfig)
            .args(["--metrics-address", &metrics.to_string()])
            // What is measured is the controller; the dashboard samples every 2 s.
            .args(["--dashboard-address", "off"])
            .env(
                "RUST_LOG",
                std::env::var("WEIR_BENCH_LOG").unwrap_or("warn".into()),
            )
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap(),
    );
    let pid = controller.0.id();

    // 1. All Healthy.
    let healthy = |server: &ApiServer| {
        server
            .list("argoproj.io/v1alpha1", "Rollout", "default")
            .unwrap()
            .iter()
            .filter(|r| r["status"]["phase"] == "Healthy")
            .count()
    };
    while healthy(&server) < n {
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "only {} of {n} Healthy after 600 s",
            healthy(&server)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let converged = started.elapsed();
    println!(
        "{n} Rollouts created before the controller started: all Healthy after {converged:.1?}"
    );

    // 2. Steady state.
    tokio::time::sleep(Duration::from_secs(if measuring { 5 } else { 1 })).await;
    let (cpu0, _) = usage(pid);
    let req0 = requests(&server);
    let rec0 = reconciles(metrics);
    let window = Duration::from_secs(if measuring { 30 } else { 2 });
    let t0 = Instant::now();
    tokio::time::sleep(window).await;
    let (cpu1, rss) = usage(pid);
    let wall = t0.elapsed().as_secs_f64();
    let steady = delta(&requests(&server), &req0);
    println!(
        "steady state over {wall:.0} s: CPU {:.2}% of one core ({:.1} ms/s), RSS {:.1} MiB, {} API requests ({:.1}/s), {} reconciles",
        (cpu1 - cpu0) / wall * 100.0,
        (cpu1 - cpu0) / wall * 1000.0,
        rss as f64 / (1024.0 * 1024.0),
        steady.values().sum::<u64>(),
        steady.values().sum::<u64>() as f64 / wall,
        reconciles(metrics) - rec0,
    );

    // 3. 100 image changes at once.
    let changed = if measuring { 100 } else { 5 }.min(n);
    let req0 = requests(&server);
    let rec0 = reconciles(metrics);
    let (cpu0, _) = usage(pid);
    let mut at = Vec::with_capacity(changed);
    for i in 0..changed {
        let mut r = server
            .get(
                "argoproj.io/v1alpha1",
                "Rollout",
                "default",
                &format!("app-{i}"),
            )
            .unwrap();
        r["spec"]["template"]["spec"]["containers"][0]["image"] = json!("app:2");
        server.update(r).unwrap();
        at.push(Instant::now());
    }
    let mut done: Vec<Option<Duration>> = vec![None; changed];
    let t0 = Instant::now();
    while done.iter().any(Option::is_none) {
        assert!(
            t0.elapsed() < Duration::from_secs(300),
            "image changes not applied"
        );
        for (i, d) in done.iter_mut().enumerate().filter(|(_, d)| d.is_none()) {
            let r = server
                .get(
                    "argoproj.io/v1alpha1",
                    "Rollout",
                    "default",
                    &format!("app-{i}"),
                )
                .unwrap();
            let new_version = r["status"]["currentPodHash"] != r["status"]["stableRS"];
            if new_version && r["status"]["currentStepIndex"].as_i64() >= Some(1) {
                *d = Some(at[i].elapsed());
            }
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let (cpu1, _) = usage(pid);
    let mut times: Vec<Duration> = done.into_iter().flatten().collect();
    times.sort();
    println!(
        "{changed} image changes at once: first setWeight applied p50 {:.2?}, p99 {:.2?}, max {:.2?}; controller CPU {:.2} s",
        percentile(&times, 0.5),
        percentile(&times, 0.99),
        times.last().unwrap(),
        cpu1 - cpu0
    );
    // Let the last reconciles land before counting.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let burst = delta(&requests(&server), &req0);
    let recs = reconciles(metrics) - rec0;
    let total: u64 = burst.values().sum();
    println!(
        "API requests per Rollout reconcile while they moved: {:.1} ({total} requests, {recs} reconciles)",
        total as f64 / recs.max(1.0)
    );
    for ((verb, resource), count) in &burst {
        println!(
            "  {verb:>6} {resource:<28} {count:>6}  ({:.2} per reconcile)",
            *count as f64 / recs.max(1.0)
        );
    }
    drop(controller);
    server.shutdown();
}
