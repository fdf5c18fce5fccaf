//! Soak: `weir run` under a storm, bounded in time (`WEIR_SOAK_SECS`, default 100 s of
//! storm, about two minutes in all; `WEIR_SOAK_SECS=3600` for an hour):
//! `cargo test --test soak -- --nocapture`.
//!
//! While load runs (keep-alive and fresh-connection clients, a request deadline each) a
//! canary Rollout walks its steps (setWeight, timed pauses, an analysis on weir's own
//! histograms) again and again, a new version each time the last one was promoted, and all
//! at once:
//! - backends are killed and restarted on the same port;
//! - the run file is rewritten every second, about a third of the time with something
//!   invalid (the old configuration must keep serving and the refusal be reported),
//!   sometimes followed by SIGHUP;
//! - the weights of a route the Rollout does not manage change through the admin API
//!   every half second (a 0-weight backend must get nothing), and now and then those of the
//!   managed route (the controller must put the Rollout's back);
//! - slow clients trickle requests byte by byte, half-open ones connect and send nothing
//!   or half a head, others leave in the middle of an answer or before it;
//! - weir is killed with SIGKILL and restarted from the same state directory.
//!
//! What must hold: every request a load client sent was answered (any status) or failed
//! with a counted reason, the totals adding up exactly; no request ran past its deadline
//! while weir was up, and no connection was refused while it was up; every 200 carries
//! its backend's own body; a backend at weight 0 answered nothing; every valid file was
//! served and every broken one refused, counted and logged with the previous one still
//! serving; the managed route's weights were put back; every Rollout ended Healthy with
//! its canary promoted; the state directory parsed after every kill and the restarted
//! weir resumed from it; slow and half-open clients were closed within the header-read
//! timeout and a bit; once the storm was over the final process's descriptors came back
//! to their baseline and its memory stayed within [`rss_bound`] (both measured with no
//! client connected and the idle timeouts past, after the last kill's warm-up and after
//! the storm).
//!
//! The report (printed; `--nocapture` to see it) gives the figures: requests by phase,
//! client kind, status and failure reason, the rollouts, the kills, the reloads, the
//! slow clients' outcomes, memory and descriptors by kind. weir's log, the last run file
//! and the state are kept in `target/tmp/soak/` (`$CARGO_TARGET_DIR/tmp/soak/`).
//!
//! Bugs it found, now fixed, with their own regression tests in tests/hostile_input.rs:
//! a connection that never sent a byte was never closed; a SIGHUP sent as soon as the
//! ready file appeared ended the process.

// /proc (memory, descriptors, sockets) and kill(1): Linux.
#![cfg(target_os = "linux")]

mod support;

use parking_lot::Mutex;
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::soak::{self as raw, Answer, Failure, KeepAlive, ProcStats};
use support::{Backend, BackendOptions, Weir};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// weir's header-read timeout, which is also its idle keep-alive timeout: half-open
/// clients must be gone this long after they stopped sending.
const IDLE: Duration = Duration::from_secs(2);
/// How long a client waits for a whole answer. The routes' request timeouts are 2-3 s,
/// so a request over this is one weir never answered.
const DEADLINE: Duration = Duration::from_secs(5);
/// How long after a half-open client's last byte weir may take to close it.
const REAP_WITHIN: Duration = Duration::from_millis(IDLE.as_millis() as u64 + 2500);
/// Pooled upstream connections weir may hold after the storm: a pool grows only to the
/// concurrency it saw, and this test has at most 6 load clients and 24 slow or leaving
/// clients in flight, over a handful of live endpoints. A connection leaked per request
/// (or per client that left) would be thousands.
const MAX_POOLED: u64 = 64;
/// A down interval is stretched by this after weir is back (connections queued in the
/// listener's backlog while it started).
const UP_GRACE: Duration = Duration::from_secs(1);

/// The canary's steps; a completed Rollout has `currentStepIndex` equal to their count.
const STEPS: &str = "        - setWeight: 10
        - pause: {duration: 3s}
        - setWeight: 30
        - analysis:
            templates: [{templateName: success-rate}]
        - setWeight: 60
        - pause: {duration: 4s}
        - setWeight: 90
        - pause: {duration: 2s}
        - setWeight: 100
        - pause: {duration: 2s}
";
const NSTEPS: u64 = 10;

/// The canary's success rate from weir's histograms, lenient: backends are killed on
/// purpose, and a canary down for a second of the window must not fail it. The window
/// (10 s) is longer than the quiet moments in which this test measures weir with no
/// client connected (load paused for up to 9 s): a whole window with too few requests to
/// the canary would be Inconclusive, and the Rollout would pause for a human, as Argo's
/// does.
fn success_rate() -> String {
    let schedule =
        "      interval: 2s\n      count: 2\n      failureLimit: 1\n      inconclusiveLimit: 1\n";
    support::rollout::success_rate_template("10s", 10, schedule)
        .replace("result >= 0.95", "result >= 0.5")
}

fn storm_secs() -> u64 {
    std::env::var("WEIR_SOAK_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100)
}

// ---------------------------------------------------------------------------------------
// Phases, weir's life, the tally.

const PHASES: [&str; 4] = ["warmup", "storm", "final-process", "finish"];
const WARMUP: usize = 0;
const STORM: usize = 1;
const FINAL: usize = 2;
const FINISH: usize = 3;

/// When weir was down: from just before each SIGKILL to a moment after the restarted
/// process reported its listeners.
#[derive(Default)]
struct Life {
    epoch: u64,
    down_since: Option<Instant>,
    downs: Vec<(Instant, Instant)>,
}

impl Life {
    fn overlaps_down(&self, start: Instant, end: Instant) -> bool {
        if self.down_since.is_some_and(|d| d <= end) {
            return true;
        }
        self.downs
            .iter()
            .any(|&(d, u)| d <= end && start <= u + UP_GRACE)
    }
}

#[derive(Default, Clone)]
struct Counts {
    sent: u64,
    answered: BTreeMap<u16, u64>,
    failed: BTreeMap<String, u64>,
    slowest_answer: Duration,
}

impl Counts {
    fn answered_total(&self) -> u64 {
        self.answered.values().sum()
    }
    fn failed_total(&self) -> u64 {
        self.failed.values().sum()
    }
}

/// One change of the side route's weights through the admin API.
struct WeightChange {
    sent: Instant,
    acked: Option<Instant>,
    epoch: u64,
    a: u32,
    b: u32,
}

#[derive(Default)]
struct Report {
    kills: Vec<String>,
    cycles: Vec<String>,
    reloads_valid: u64,
    reloads_valid_confirmed: u64,
    reloads_invalid: BTreeMap<String, u64>,
    reloads_invalid_confirmed: u64,
    sighups: u64,
    weight_changes: u64,
    weight_changes_acked: u64,
    zero_weight_checked: u64,
    managed_puts: BTreeMap<String, u64>,
    flaps: u64,
    abusers: BTreeMap<(String, String), u64>,
    samples: Vec<(u64, u64, ProcStats)>,
}

struct World {
    start: Instant,
    proxy: SocketAddr,
    admin: SocketAddr,
    dir: PathBuf,
    storm_end: Instant,
    phase: AtomicUsize,
    stop_load: AtomicBool,
    stop_chaos: AtomicBool,
    /// Set while the descriptors and memory are measured: nothing new connects to weir.
    quiet: AtomicBool,
    /// Connections to weir open from this test right now (idle keep-alive ones aside).
    in_flight: AtomicUsize,
    pid: AtomicU32,
    /// The generation of the last valid file written.
    last_valid: AtomicU64,
    life: Mutex<Life>,
    tally: Mutex<BTreeMap<(usize, &'static str), Counts>>,
    weights: Mutex<Vec<WeightChange>>,
    problems: Mutex<Vec<String>>,
    report: Mutex<Report>,
    cfg: tokio::sync::Mutex<Cfg>,
    backends: Backends,
}

struct InFlight<'a>(&'a AtomicUsize);
impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl World {
    fn t(&self) -> f64 {
        self.start.elapsed().as_secs_f64()
    }
    /// Whether a valid file newer than `generation` was written.
    fn superseded(&self, generation: u64) -> bool {
        self.last_valid.load(Ordering::SeqCst) != generation
    }
    fn epoch(&self) -> u64 {
        self.life.lock().epoch
    }
    fn is_down(&self) -> bool {
        self.life.lock().down_since.is_some()
    }
    fn quiet(&self) -> bool {
        self.quiet.load(Ordering::SeqCst)
    }
    fn conn(&self) -> InFlight<'_> {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        InFlight(&self.in_flight)
    }
    fn problem(&self, p: String) {
        eprintln!("[{:7.1}s] PROBLEM: {p}", self.t());
        self.problems.lock().push(p);
    }
    fn log(&self, line: &str) {
        println!("[{:7.1}s] {line}", self.t());
    }
    fn config_path(&self) -> PathBuf {
        self.dir.join("weir.yaml")
    }
    fn state_dir(&self) -> PathBuf {
        self.dir.join("state")
    }

    /// An admin call on a connection of its own.
    async fn admin(&self, method: &str, path: &str, body: Option<&str>) -> Result<Answer, Failure> {
        let _c = self.conn();
        let req = match body {
            Some(b) => raw::with_body(method, "admin", path, b),
            None => format!("{method} {path} HTTP/1.1\r\nhost: admin\r\nconnection: close\r\n\r\n")
                .into_bytes(),
        };
        raw::one_shot(self.admin, &req, DEADLINE).await
    }

    async fn admin_json(&self, path: &str) -> Result<Value, String> {
        match self.admin("GET", path, None).await {
            Ok(a) if a.status == 200 => serde_json::from_slice(&a.body).map_err(|e| e.to_string()),
            Ok(a) => Err(format!(
                "{path}: {} {}",
                a.status,
                String::from_utf8_lossy(&a.body)
            )),
            Err(f) => Err(format!("{path}: {}", f.label())),
        }
    }

    /// An admin call failed: a problem unless weir was down or restarted meanwhile.
    fn admin_failed(&self, epoch: u64, what: &str, e: &str) {
        if self.epoch() == epoch && !self.is_down() {
            self.problem(format!(
                "{what}: the admin API failed while weir was up: {e}"
            ));
        }
    }

    async fn metric(&self, series: &str) -> Result<f64, String> {
        let a = self
            .admin("GET", "/metrics", None)
            .await
            .map_err(|f| f.label())?;
        let text = String::from_utf8_lossy(&a.body);
        Ok(text
            .lines()
            .find_map(|l| l.strip_prefix(series).and_then(|r| r.strip_prefix(' ')))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0.0))
    }

    fn sent(&self, phase: usize, kind: &'static str) {
        self.tally.lock().entry((phase, kind)).or_default().sent += 1;
    }

    /// Files one load request's outcome, and checks what an answer says.
    fn record(
        &self,
        phase: usize,
        kind: &'static str,
        host: &str,
        (start, epoch, reused): (Instant, u64, bool),
        result: Result<Answer, Failure>,
    ) {
        let end = Instant::now();
        let (down, epoch_now) = {
            let life = self.life.lock();
            (life.overlaps_down(start, end), life.epoch)
        };
        match result {
            Ok(a) => {
                {
                    let mut t = self.tally.lock();
                    let c = t.entry((phase, kind)).or_default();
                    *c.answered.entry(a.status).or_default() += 1;
                    if !down {
                        c.slowest_answer = c.slowest_answer.max(end - start);
                    }
                }
                let backend = a.header("x-backend").map(str::to_string);
                if a.status == 200 {
                    match &backend {
                        Some(b) if a.body != b.as_bytes() => self.problem(format!(
                            "{kind} {host}: answer from {b} with a body that is not its own: {:?}",
                            String::from_utf8_lossy(&a.body[..a.body.len().min(200)])
                        )),
                        None => {
                            self.problem(format!("{kind} {host}: a 200 without x-backend: {a:?}"))
                        }
                        _ => {}
                    }
                }
                if host == "side.test" && epoch == epoch_now {
                    if let Some(b) = backend {
                        self.check_zero_weight(&b, start, end, epoch);
                    }
                }
            }
            Err(f) => {
                let mut label = f.label();
                if reused && matches!(f, Failure::ClosedBeforeAnswer | Failure::Reset) {
                    label.push_str(" (reused connection)");
                }
                if down {
                    label.push_str(" [weir down]");
                } else if matches!(f, Failure::Timeout) {
                    self.problem(format!(
                        "{kind} {host}: no answer within {DEADLINE:?} while weir was up (started at {:.1}s)",
                        (start - self.start).as_secs_f64()
                    ));
                } else if matches!(f, Failure::Refused) {
                    self.problem(format!(
                        "{kind} {host}: connection refused while weir was up"
                    ));
                }
                let mut t = self.tally.lock();
                *t.entry((phase, kind))
                    .or_default()
                    .failed
                    .entry(label)
                    .or_default() += 1;
            }
        }
    }

    /// A side request answered by `backend`: if the weights in force for the whole of the
    /// request (acknowledged before it started, not changed before it ended, same weir
    /// process) gave that backend 0, weir broke "weight 0 gets nothing".
    fn check_zero_weight(&self, backend: &str, start: Instant, end: Instant, epoch: u64) {
        let changes = self.weights.lock();
        // The last change sent before the request ended; it must have been sent (and
        // acknowledged) before the request started.
        let Some(c) = changes.iter().rev().find(|c| c.sent <= end) else {
            return;
        };
        if c.sent >= start || c.epoch != epoch || c.acked.is_none_or(|a| a > start) {
            return;
        }
        let weight = match backend {
            "side-a" => c.a,
            "side-b" => c.b,
            _ => return,
        };
        drop(changes);
        self.report.lock().zero_weight_checked += 1;
        if weight == 0 {
            self.problem(format!(
                "side request answered by {backend}, whose weight was 0 (acknowledged before the request)"
            ));
        }
    }
}

// ---------------------------------------------------------------------------------------
// Backends that come and go.

struct BSlot {
    addr: SocketAddr,
    backend: Option<Backend>,
    flappable: bool,
}

#[derive(Default)]
struct Backends {
    slots: Mutex<BTreeMap<String, BSlot>>,
    /// Every port a backend of this test ever had, with its name (for the report).
    ports: Mutex<BTreeMap<u16, String>>,
}

impl Backends {
    async fn add(&self, name: &str, flappable: bool) -> SocketAddr {
        let b = Backend::start(name).await;
        let addr = b.addr;
        self.ports.lock().insert(addr.port(), name.to_string());
        self.slots.lock().insert(
            name.to_string(),
            BSlot {
                addr,
                backend: Some(b),
                flappable,
            },
        );
        addr
    }

    fn flappable_up(&self) -> Vec<String> {
        self.slots
            .lock()
            .iter()
            .filter(|(_, s)| s.flappable && s.backend.is_some())
            .map(|(n, _)| n.clone())
            .collect()
    }

    /// Kills `name`: its listener and every connection to it close.
    fn take_down(&self, name: &str) -> bool {
        let b = self
            .slots
            .lock()
            .get_mut(name)
            .and_then(|s| s.backend.take());
        match b {
            Some(b) => {
                b.kill();
                drop(b);
                true
            }
            None => false,
        }
    }

    /// Starts `name` again on its port (if it is still wanted).
    async fn bring_up(&self, name: &str) {
        let Some(addr) = self.slots.lock().get(name).map(|s| s.addr) else {
            return;
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        let listener = loop {
            match tokio::net::TcpListener::bind(addr).await {
                Ok(l) => break l,
                Err(e) => {
                    assert!(
                        Instant::now() < deadline,
                        "cannot bind {name} at {addr} again: {e}"
                    );
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        };
        let b = Backend::serve(name, listener, BackendOptions::default());
        if let Some(s) = self.slots.lock().get_mut(name) {
            s.backend = Some(b);
        }
    }

    fn remove(&self, name: &str) {
        self.take_down(name);
        self.slots.lock().remove(name);
    }

    async fn all_up(&self) {
        let down: Vec<String> = self
            .slots
            .lock()
            .iter()
            .filter(|(_, s)| s.backend.is_none())
            .map(|(n, _)| n.clone())
            .collect();
        for n in down {
            self.bring_up(&n).await;
        }
    }
}

// ---------------------------------------------------------------------------------------
// The run file.

struct Cfg {
    generation: u64,
    stable: SocketAddr,
    canary: (String, SocketAddr),
    version: u64,
    side: (SocketAddr, SocketAddr),
    big: SocketAddr,
    listen: u16,
    admin: u16,
    /// A new version waits for the next file.
    new_version: bool,
    /// What the file holds now, and the last valid text written.
    current_valid: bool,
    last_valid: String,
    last_valid_generation: u64,
}

impl Cfg {
    fn render(&self, generation: u64) -> String {
        let web_timeout = if generation.is_multiple_of(3) {
            "3s"
        } else {
            "2s"
        };
        let extra = if !generation.is_multiple_of(2) {
            format!(
                "  - name: extra\n    hosts: [extra.test]\n    pathPrefix: /gen{generation}\n    backends:\n      - {{service: side-a, weight: 1}}\n"
            )
        } else {
            String::new()
        };
        let rollout = support::rollout::rollout_doc(&format!(
            "    canary:\n      stableService: web-stable\n      canaryService: web-canary\n      steps:\n{STEPS}"
        ));
        format!(
            r#"listeners:
  - address: 127.0.0.1:{listen}
admin:
  address: 127.0.0.1:{admin}
limits: {{headerReadTimeout: {idle}ms, maxConnections: 4000}}
services:
  web-stable:
    endpoints: ["{stable}"]
  web-canary:
    endpoints: ["{canary}"]
  side-a:
    endpoints: ["{a}"]
  side-b:
    endpoints: ["{b}"]
  big:
    endpoints: ["{big}"]
routes:
  - name: web
    backends:
      - {{service: web-stable, weight: 100}}
      - {{service: web-canary, weight: 0}}
    timeouts: {{connect: 500ms, request: {web_timeout}}}
  - name: side
    hosts: [side.test]
    backends:
      - {{service: side-a, weight: 50}}
      - {{service: side-b, weight: 50}}
    timeouts: {{connect: 500ms, request: 2s}}
    responseHeaders: {{set: {{x-config-gen: "{generation}"}}}}
  - name: big
    hosts: [big.test]
    backends:
      - {{service: big, weight: 1}}
    timeouts: {{connect: 500ms, request: 10s}}
{extra}{rollout}
{success_rate}"#,
            success_rate = success_rate(),
            listen = self.listen,
            admin = self.admin,
            idle = IDLE.as_millis(),
            stable = self.stable,
            canary = self.canary.1,
            a = self.side.0,
            b = self.side.1,
            big = self.big,
        )
    }
}

/// The ways a run file is broken on purpose; each must be refused whole.
const INVALID: [&str; 9] = [
    "empty",
    "unknown field",
    "yaml syntax",
    "unknown service",
    "weight out of range",
    "truncated",
    "bad duration",
    "bad rollout step",
    "duplicate route",
];

fn break_config(kind: &str, valid: &str) -> String {
    let out = match kind {
        "empty" => String::new(),
        "unknown field" => valid.replacen("{service: side-b, weight: 50}", "{service: side-b, wieght: 50}", 1),
        "yaml syntax" => valid.replacen("routes:\n", "routes:\n  - name: [broken\n", 1),
        "unknown service" => valid.replacen("{service: side-b,", "{service: side-nope,", 1),
        "weight out of range" => valid.replacen("{service: side-b, weight: 50}", "{service: side-b, weight: -5}", 1),
        "truncated" => {
            let at = valid.find("side-b:\n    endpoints: [\"").unwrap() + "side-b:\n    endpoints: [\"".len() + 5;
            valid[..at].to_string()
        }
        "bad duration" => valid.replacen("request: 2s", "request: 2 parsecs", 1),
        "bad rollout step" => valid.replacen("- setWeight: 30", "- setWeight: 130", 1),
        "duplicate route" => valid.replacen(
            "  - name: big\n",
            "  - name: side\n    hosts: [side.test]\n    backends:\n      - {service: side-a, weight: 1}\n  - name: big\n",
            1,
        ),
        _ => unreachable!(),
    };
    assert_ne!(out, valid, "{kind} changed nothing");
    out
}

fn write_file(path: &Path, text: &str) {
    let tmp = path.with_extension("yaml.tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

// ---------------------------------------------------------------------------------------
// The state directory.

/// Every file of the state directory: the Rollout's record through weir's own loader, and
/// every JSON file as JSON. Returns (persisted step index, phase, bytes of web.json,
/// leftover temporary files).
fn check_state_dir(dir: &Path) -> Result<(Option<i64>, String, u64, usize), String> {
    let store = weir_control::standalone::Store::open(dir)?;
    let record = store.load("web")?.ok_or("no state for rollout web")?;
    let mut tmp = 0;
    for sub in ["rollouts", "experiments"] {
        for entry in std::fs::read_dir(dir.join(sub)).map_err(|e| e.to_string())? {
            let path = entry.map_err(|e| e.to_string())?.path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if name.ends_with(".json") {
                let bytes = std::fs::read(&path).map_err(|e| e.to_string())?;
                serde_json::from_slice::<Value>(&bytes)
                    .map_err(|e| format!("{}: does not parse: {e}", path.display()))?;
            } else {
                tmp += 1;
            }
        }
    }
    let size = std::fs::metadata(dir.join("rollouts/web.json"))
        .map(|m| m.len())
        .unwrap_or(0);
    let status = &record.engine.status;
    Ok((
        status.current_step_index.map(i64::from),
        status.phase.clone(),
        size,
        tmp,
    ))
}

// ---------------------------------------------------------------------------------------
// The load.

async fn load_client(w: Arc<World>, kind: &'static str, id: usize, per_second: u32) {
    let mut ka = KeepAlive::new(w.proxy);
    let mut tick = tokio::time::interval(Duration::from_secs(1) / per_second);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut n = 0u64;
    while !w.stop_load.load(Ordering::SeqCst) {
        tick.tick().await;
        if w.quiet() {
            ka = KeepAlive::new(w.proxy);
            continue;
        }
        n += 1;
        let side = fastrand::u32(0..10) < 3;
        let (host, path) = if side {
            ("side.test", format!("/s/{id}/{n}"))
        } else {
            ("web.test", format!("/w/{id}/{n}"))
        };
        let close = kind == "fresh" && n.is_multiple_of(2);
        let req = raw::get(host, &path, close);
        let phase = w.phase.load(Ordering::SeqCst);
        let epoch = w.epoch();
        w.sent(phase, kind);
        let start = Instant::now();
        let (result, reused) = {
            let _c = w.conn();
            if kind == "keep-alive" {
                ka.send(&req, DEADLINE).await
            } else {
                (raw::one_shot(w.proxy, &req, DEADLINE).await, false)
            }
        };
        w.record(phase, kind, host, (start, epoch, reused), result);
    }
}

// ---------------------------------------------------------------------------------------
// Slow, half-open and leaving clients.

/// What one abusive client saw: (kind, outcome), and a problem if weir misbehaved.
async fn abuse(w: Arc<World>, kind: &'static str) -> (&'static str, String) {
    let _c = w.conn();
    let epoch = w.epoch();
    let start = Instant::now();
    let outcome = abuse_inner(&w, kind).await;
    let down = w.life.lock().overlaps_down(start, Instant::now()) || w.epoch() != epoch;
    let outcome = match outcome {
        Ok(o) if down => format!("{o} [weir restarted]"),
        Ok(o) => o,
        Err(o) if down => format!("{o} [weir down]"),
        Err(o) => {
            w.problem(format!("{kind} client: {o} while weir was up"));
            format!("{o} (PROBLEM)")
        }
    };
    (kind, outcome)
}

/// Waits for weir to close `s` (reading whatever it sends); `Ok` with a label when it
/// does within `within`.
async fn until_closed(s: &mut tokio::net::TcpStream, within: Duration) -> Result<String, String> {
    let start = Instant::now();
    let mut got = Vec::new();
    let read = tokio::time::timeout(within, async {
        let mut chunk = [0u8; 4096];
        loop {
            match s.read(&mut chunk).await {
                Ok(0) => return "closed",
                Ok(n) => got.extend_from_slice(&chunk[..n]),
                Err(_) => return "reset",
            }
        }
    })
    .await;
    match read {
        Ok(how) => {
            let status = String::from_utf8_lossy(&got)
                .split_whitespace()
                .nth(1)
                .map(|s| format!(" after a {s}"))
                .unwrap_or_default();
            let secs = start.elapsed().as_secs_f64();
            Ok(format!("{how}{status} within {:.0}s", secs.ceil()))
        }
        Err(_) => Err(format!("still open {within:?} after its last byte")),
    }
}

async fn abuse_inner(w: &World, kind: &'static str) -> Result<String, String> {
    let mut s = match raw::connect(w.proxy).await {
        Ok(s) => s,
        Err(f) => return Err(f.label()),
    };
    match kind {
        "silent" => until_closed(&mut s, REAP_WITHIN).await,
        "half-head" => {
            let _ = s.write_all(b"GET /s HTTP/1.1\r\nhost: side.te").await;
            until_closed(&mut s, REAP_WITHIN).await
        }
        "trickle-ok" => {
            // About half a second for the whole head: well within the header-read
            // timeout, unless this test's own tasks are held up (a burst of connections
            // on two busy cores): a head that took longer than the timeout to go out may
            // be closed, and that is no fault of weir's.
            let started = Instant::now();
            let too_slow = |what: &str| {
                let took = started.elapsed();
                if took + Duration::from_millis(100) >= IDLE {
                    Ok(format!(
                        "{what} after {:.1}s of trickling (too slow, timed out)",
                        took.as_secs_f64()
                    ))
                } else {
                    Err(format!(
                        "{what} after only {:.1}s of trickling",
                        took.as_secs_f64()
                    ))
                }
            };
            for b in raw::get("side.test", "/trickle", true) {
                if s.write_all(&[b]).await.is_err() {
                    return too_slow("closed");
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            let sent = started.elapsed();
            let mut buf = Vec::new();
            match tokio::time::timeout(DEADLINE, raw::read_answer(&mut s, &mut buf, false)).await {
                Ok(Ok(a)) => Ok(format!("answered {}", a.status)),
                Ok(Err(f)) if sent + Duration::from_millis(100) >= IDLE => Ok(format!(
                    "{} (the head took {:.1}s, timed out)",
                    f.label(),
                    sent.as_secs_f64()
                )),
                Ok(Err(f)) => Err(format!("no answer: {}", f.label())),
                Err(_) => Err("no answer within the deadline".into()),
            }
        }
        "trickle-slow" => {
            // A byte every 300 ms: the head is never done within the header-read timeout.
            let (mut rd, mut wr) = s.into_split();
            let started = Instant::now();
            let writer = async {
                for b in raw::get("side.test", "/slow", true) {
                    if wr.write_all(&[b]).await.is_err() {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(300)).await;
                }
                std::future::pending::<()>().await
            };
            let reader = async {
                let mut chunk = [0u8; 4096];
                loop {
                    match rd.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(_) => {}
                    }
                }
            };
            tokio::select! {
                _ = writer => unreachable!(),
                _ = reader => Ok(format!("closed within {:.0}s", started.elapsed().as_secs_f64().ceil())),
                _ = tokio::time::sleep(REAP_WITHIN) => Err(format!("still open after {REAP_WITHIN:?} of trickling")),
            }
        }
        "leave-mid-body" => {
            let _ = s.write_all(&raw::get("big.test", "/big", false)).await;
            let mut got = 0;
            let mut chunk = [0u8; 4096];
            let read = tokio::time::timeout(DEADLINE, async {
                while got < 20_000 {
                    match s.read(&mut chunk).await {
                        Ok(0) | Err(_) => return false,
                        Ok(n) => got += n,
                    }
                }
                true
            })
            .await;
            match read {
                Ok(true) => Ok("left mid-body".into()),
                Ok(false) => Err(format!("closed after {got} bytes")),
                Err(_) => Err(format!("only {got} bytes within the deadline")),
            }
        }
        "leave-before-answer" => {
            let _ = s
                .write_all(&raw::get("web.test", "/w/leave?delay=500ms", false))
                .await;
            tokio::time::sleep(Duration::from_millis(100)).await;
            Ok("left before the answer".into())
        }
        _ => unreachable!(),
    }
}

async fn abusers(w: Arc<World>) {
    const KINDS: [&str; 6] = [
        "silent",
        "half-head",
        "trickle-ok",
        "trickle-slow",
        "leave-mid-body",
        "leave-before-answer",
    ];
    let mut set: tokio::task::JoinSet<(&'static str, String)> = tokio::task::JoinSet::new();
    let mut last_burst = Instant::now();
    while !w.stop_chaos.load(Ordering::SeqCst) {
        tokio::time::sleep(Duration::from_millis(150)).await;
        while let Some(r) = set.try_join_next() {
            let (kind, outcome) = r.unwrap();
            *w.report
                .lock()
                .abusers
                .entry((kind.into(), outcome))
                .or_default() += 1;
        }
        if w.quiet() {
            continue;
        }
        if last_burst.elapsed() > Duration::from_secs(15) {
            // A burst of idle connections at once: all of them must be reaped.
            last_burst = Instant::now();
            for _ in 0..100 {
                set.spawn(abuse(w.clone(), "silent"));
            }
        }
        if set.len() < 24 {
            set.spawn(abuse(w.clone(), KINDS[fastrand::usize(..KINDS.len())]));
        }
    }
    while let Some(r) = set.join_next().await {
        let (kind, outcome) = r.unwrap();
        *w.report
            .lock()
            .abusers
            .entry((kind.into(), outcome))
            .or_default() += 1;
    }
}

// ---------------------------------------------------------------------------------------
// Chaos.

/// Rewrites the run file every second: valid (a new generation, shown by the side route's
/// `x-config-gen`) or broken; checks that each took effect or was refused and reported.
async fn config_writer(w: Arc<World>) {
    let mut n = 0u64;
    while !w.stop_chaos.load(Ordering::SeqCst) {
        tokio::time::sleep(Duration::from_secs(1)).await;
        if w.quiet() || w.stop_chaos.load(Ordering::SeqCst) {
            continue;
        }
        n += 1;
        let invalid = if n.is_multiple_of(3) {
            Some(INVALID[fastrand::usize(..INVALID.len())])
        } else {
            None
        };
        let epoch = w.epoch();
        let failures_before = if invalid.is_some() {
            match w
                .metric("weir_config_reloads_total{result=\"failure\"}")
                .await
            {
                Ok(v) => Some(v),
                Err(e) => {
                    w.admin_failed(epoch, "metrics before a broken file", &e);
                    None
                }
            }
        } else {
            None
        };
        let mut cfg = w.cfg.lock().await;
        let epoch = w.epoch();
        let invalid = invalid.filter(|_| !cfg.new_version);
        cfg.new_version = false;
        let hup = match invalid {
            None => {
                cfg.generation += 1;
                let text = cfg.render(cfg.generation);
                write_file(&w.config_path(), &text);
                cfg.last_valid = text;
                cfg.last_valid_generation = cfg.generation;
                w.last_valid.store(cfg.generation, Ordering::SeqCst);
                cfg.current_valid = true;
                w.report.lock().reloads_valid += 1;
                fastrand::u32(0..5) == 0
            }
            Some(kind) => {
                let text = break_config(kind, &cfg.render(cfg.generation + 1));
                write_file(&w.config_path(), &text);
                cfg.current_valid = false;
                *w.report
                    .lock()
                    .reloads_invalid
                    .entry(kind.into())
                    .or_default() += 1;
                fastrand::u32(0..4) == 0
            }
        };
        if hup && !w.is_down() {
            let pid = w.pid.load(Ordering::SeqCst);
            let _ = std::process::Command::new("kill")
                .arg("-HUP")
                .arg(pid.to_string())
                .status();
            w.report.lock().sighups += 1;
        }
        let served = cfg.last_valid_generation;
        drop(cfg);
        // Check the effect.
        let deadline = Instant::now() + Duration::from_secs(4);
        match invalid {
            None => loop {
                let gen = side_generation(&w).await;
                if w.epoch() != epoch {
                    break;
                }
                if gen == Some(served) {
                    w.report.lock().reloads_valid_confirmed += 1;
                    break;
                }
                if w.superseded(served) {
                    // The rollout follower wrote a newer one meanwhile.
                    break;
                }
                if Instant::now() > deadline {
                    w.problem(format!(
                        "generation {served} written, still serving {gen:?} after 4 s"
                    ));
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            },
            Some(kind) => {
                let Some(before) = failures_before else {
                    continue;
                };
                loop {
                    let now = w
                        .metric("weir_config_reloads_total{result=\"failure\"}")
                        .await;
                    if w.epoch() != epoch {
                        break;
                    }
                    match now {
                        Ok(v) if v > before => {
                            // Refused and counted: the previous generation still serves.
                            let gen = loop {
                                let gen = side_generation(&w).await;
                                if gen.is_some() || Instant::now() > deadline || w.epoch() != epoch
                                {
                                    break gen;
                                }
                                tokio::time::sleep(Duration::from_millis(100)).await;
                            };
                            if w.epoch() == epoch {
                                if gen == Some(served) {
                                    w.report.lock().reloads_invalid_confirmed += 1;
                                } else if !w.superseded(served) {
                                    w.problem(format!("after a refused file ({kind}): serving generation {gen:?}, not {served}"));
                                }
                            }
                            break;
                        }
                        Ok(_) if Instant::now() > deadline => {
                            if w.superseded(served) {
                                // A valid file (the rollout follower's) replaced it before
                                // weir looked.
                                break;
                            }
                            w.problem(format!(
                                "a broken file ({kind}) was not counted as refused within 4 s"
                            ));
                            break;
                        }
                        Ok(_) => {}
                        Err(e) => {
                            w.admin_failed(epoch, "metrics after a broken file", &e);
                            break;
                        }
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    }
}

/// The configuration generation the side route serves (`x-config-gen`), if a side
/// request got an answer from a backend.
async fn side_generation(w: &World) -> Option<u64> {
    let _c = w.conn();
    let a = raw::one_shot(w.proxy, &raw::get("side.test", "/gen", true), DEADLINE)
        .await
        .ok()?;
    a.header("x-config-gen")?.parse().ok()
}

/// Changes the side route's weights every half second, and every ten seconds puts other
/// weights on the managed route, which the controller must undo.
async fn weight_changer(w: Arc<World>) {
    let mut n = 0u64;
    while !w.stop_chaos.load(Ordering::SeqCst) {
        tokio::time::sleep(Duration::from_millis(500)).await;
        if w.quiet() || w.is_down() {
            continue;
        }
        n += 1;
        let a = [0, 10, 50, 90, 100][fastrand::usize(..5)];
        let b = 100 - a;
        let body = format!(r#"{{"side-a": {a}, "side-b": {b}}}"#);
        let epoch = w.epoch();
        let index = {
            let mut changes = w.weights.lock();
            changes.push(WeightChange {
                sent: Instant::now(),
                acked: None,
                epoch,
                a,
                b,
            });
            changes.len() - 1
        };
        w.report.lock().weight_changes += 1;
        match w.admin("PUT", "/routes/side/weights", Some(&body)).await {
            Ok(r) if r.status == 200 => {
                w.weights.lock()[index].acked = Some(Instant::now());
                w.report.lock().weight_changes_acked += 1;
            }
            Ok(r) => w.problem(format!(
                "PUT side weights {body}: {} {}",
                r.status,
                String::from_utf8_lossy(&r.body)
            )),
            Err(f) => w.admin_failed(epoch, "PUT side weights", &f.label()),
        }
        if n.is_multiple_of(20) {
            managed_weights(&w).await;
        }
    }
}

/// The Rollout's weights as its status says and as the proxy serves them on `web`.
async fn web_weights(w: &World) -> Result<((u64, u64), (u64, u64)), String> {
    let r = w.admin_json("/rollouts/web").await?;
    let ws = &r["status"]["canary"]["weights"];
    let status = (
        ws["stable"]["weight"]
            .as_u64()
            .ok_or("no weights in the status")?,
        ws["canary"]["weight"]
            .as_u64()
            .ok_or("no weights in the status")?,
    );
    let routes = w.admin_json("/routes").await?;
    let web = routes["routes"]
        .as_array()
        .and_then(|rs| rs.iter().find(|r| r["name"] == "web"))
        .ok_or("no route web")?;
    let weight = |svc: &str| {
        web["backends"]
            .as_array()
            .and_then(|bs| bs.iter().find(|b| b["service"] == svc))
            .and_then(|b| b["weight"].as_u64())
    };
    Ok((
        status,
        (
            weight("web-stable").ok_or("no web-stable")?,
            weight("web-canary").ok_or("no web-canary")?,
        ),
    ))
}

async fn managed_weights(w: &World) {
    let epoch = w.epoch();
    let Ok(((s, c), _)) = web_weights(w).await else {
        return;
    };
    let (ps, pc) = if c == 37 { (50, 50) } else { (63, 37) };
    let body = format!(r#"{{"web-stable": {ps}, "web-canary": {pc}}}"#);
    let put = w.admin("PUT", "/routes/web/weights", Some(&body)).await;
    let label = match &put {
        Ok(r) => format!("PUT answered {}", r.status),
        Err(f) => format!("PUT failed: {}", f.label()),
    };
    let deadline = Instant::now() + Duration::from_secs(3);
    let result = loop {
        match web_weights(w).await {
            Ok((status, served)) if status == served => break "restored".to_string(),
            Ok((status, served)) if Instant::now() > deadline => {
                break format!("not restored: status {status:?}, served {served:?} (was {s}/{c})")
            }
            Err(e) if Instant::now() > deadline => break format!("unknown: {e}"),
            _ => {}
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    if w.epoch() != epoch {
        return;
    }
    if result.starts_with("not restored") {
        w.problem(format!("managed route after {body}: {result}"));
    }
    *w.report
        .lock()
        .managed_puts
        .entry(format!("{label}, {result}"))
        .or_default() += 1;
}

/// Kills a backend every 2-4 s for 0.3-1.5 s.
async fn flapper(w: Arc<World>) {
    while !w.stop_chaos.load(Ordering::SeqCst) {
        tokio::time::sleep(Duration::from_millis(fastrand::u64(2000..4000))).await;
        if w.quiet() {
            continue;
        }
        let names = w.backends.flappable_up();
        if names.is_empty() {
            continue;
        }
        let name = &names[fastrand::usize(..names.len())];
        if w.backends.take_down(name) {
            w.report.lock().flaps += 1;
            tokio::time::sleep(Duration::from_millis(fastrand::u64(300..1500))).await;
            w.backends.bring_up(name).await;
        }
    }
    w.backends.all_up().await;
}

/// Follows the Rollout: each time the current canary is promoted (Healthy, stable ==
/// canary, every step done), starts the next version while the storm has time for it.
/// A Degraded phase is a problem.
async fn cycles(w: Arc<World>) {
    let mut started = Instant::now();
    let mut kills_at_start = 0usize;
    let mut degraded_seen = false;
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        if w.quiet() || w.is_down() {
            continue;
        }
        let epoch = w.epoch();
        let status = match w.admin_json("/rollouts/web").await {
            Ok(r) => r["status"].clone(),
            Err(e) => {
                w.admin_failed(epoch, "GET /rollouts/web", &e);
                continue;
            }
        };
        if status["phase"] == "Degraded" && !degraded_seen {
            degraded_seen = true;
            w.problem(format!("the rollout is Degraded: {status}"));
        }
        let (version, canary) = {
            let cfg = w.cfg.lock().await;
            (cfg.version, cfg.canary.1)
        };
        let hash = weir_control::standalone::traffic::version_hash(&[canary.to_string()]);
        let done = status["phase"] == "Healthy"
            && status["currentPodHash"] == hash.as_str()
            && status["stableRS"] == hash.as_str()
            && status["currentStepIndex"].as_u64() == Some(NSTEPS);
        if !done {
            continue;
        }
        let kills = w.report.lock().kills.len();
        let line = format!(
            "v{version} promoted after {:.1}s ({} kill -9 during it)",
            started.elapsed().as_secs_f64(),
            kills - kills_at_start
        );
        w.log(&line);
        w.report.lock().cycles.push(line);
        if w.stop_chaos.load(Ordering::SeqCst)
            || Instant::now() + Duration::from_secs(15) > w.storm_end
        {
            return;
        }
        // The next version: a new backend, the file's canary service pointed at it.
        let next = format!("v{}", version + 1);
        let addr = w.backends.add(&next, true).await;
        {
            let mut cfg = w.cfg.lock().await;
            let old_stable = format!("v{}", version - 1);
            cfg.stable = cfg.canary.1;
            cfg.canary = (next.clone(), addr);
            cfg.version = version + 1;
            // The config writer's next file (valid) carries it: one writer, so no valid
            // file is replaced before weir has read it.
            cfg.new_version = true;
            w.backends.remove(&old_stable);
        }
        started = Instant::now();
        kills_at_start = kills;
        degraded_seen = false;
    }
}

/// Samples the current weir's memory and descriptors every 5 s.
async fn sampler(w: Arc<World>) {
    while !w.stop_load.load(Ordering::SeqCst) {
        let pid = w.pid.load(Ordering::SeqCst);
        if let Some(s) = raw::proc_stats(pid) {
            let t = w.start.elapsed().as_secs();
            let epoch = w.epoch();
            w.report.lock().samples.push((t, epoch, s));
        }
        tokio::time::sleep(Duration::from_secs(5)).await;
    }
}

/// weir's memory and descriptors at a quiet moment, the descriptors by kind.
#[derive(Clone, Debug, Default)]
struct Quiet {
    /// When (since the test started).
    taken: Duration,
    rss_kib: u64,
    fds: BTreeMap<String, u64>,
}

impl Quiet {
    fn count(&self, f: impl Fn(&str) -> bool) -> u64 {
        self.fds.iter().filter(|(k, _)| f(k)).map(|(_, n)| n).sum()
    }
    fn total(&self) -> u64 {
        self.count(|_| true)
    }
    /// Connections from clients (this test's: all closed by then) still open in weir.
    fn clients(&self) -> u64 {
        self.count(|k| k.contains("client connection") || k.contains("admin connection"))
    }
    /// Pooled connections to backends.
    fn upstream(&self) -> u64 {
        self.count(|k| k.contains("upstream"))
    }
    /// Pooled connections to a backend no service names any more, or no longer
    /// established.
    fn stale_upstream(&self) -> u64 {
        self.count(|k| {
            k.contains("upstream") && (k.contains("(gone)") || !k.starts_with("tcp ESTABLISHED"))
        })
    }
    /// Pooled connections to an endpoint no service names any more.
    fn gone_upstream(&self) -> u64 {
        self.count(|k| k.contains("(gone)"))
    }
    /// Everything else: listeners, epoll and event descriptors, files, pipes.
    fn other(&self) -> u64 {
        self.total() - self.clients() - self.upstream()
    }
}

/// Descriptors and memory of weir with nothing of this test connected: every client
/// paused, in-flight ones done, idle timeouts past. Of three samples, the one with the
/// fewest descriptors (and the least memory of the three).
async fn quiet_measure(w: &World) -> Quiet {
    w.quiet.store(true, Ordering::SeqCst);
    let deadline = Instant::now() + Duration::from_secs(15);
    while w.in_flight.load(Ordering::SeqCst) > 0 {
        assert!(
            Instant::now() < deadline,
            "clients still connected after 15 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(IDLE + Duration::from_millis(1500)).await;
    let pid = w.pid.load(Ordering::SeqCst);
    let ports = w.backends.ports.lock().clone();
    let live: std::collections::BTreeSet<u16> = w
        .backends
        .slots
        .lock()
        .values()
        .map(|s| s.addr.port())
        .collect();
    let name = |local: u16, remote: u16| -> String {
        if local == w.proxy.port() {
            if remote == 0 {
                "listener".into()
            } else {
                "client connection".into()
            }
        } else if local == w.admin.port() {
            if remote == 0 {
                "admin listener".into()
            } else {
                "admin connection".into()
            }
        } else if let Some(name) = ports.get(&remote) {
            if live.contains(&remote) || name == "big" {
                format!("upstream to {name}")
            } else {
                format!("upstream to {name} (gone)")
            }
        } else {
            format!("{local} -> {remote}")
        }
    };
    let mut best: Option<Quiet> = None;
    let mut least_rss = u64::MAX;
    for _ in 0..3 {
        let s = raw::proc_stats(pid).expect("weir is running");
        least_rss = least_rss.min(s.rss_kib);
        let q = Quiet {
            taken: Duration::ZERO,
            rss_kib: s.rss_kib,
            fds: raw::fd_breakdown(pid, name),
        };
        if best.as_ref().is_none_or(|b| q.total() < b.total()) {
            best = Some(q);
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    w.quiet.store(false, Ordering::SeqCst);
    Quiet {
        taken: w.start.elapsed(),
        rss_kib: least_rss,
        ..best.unwrap()
    }
}

/// weir's statistics keep, per (route, backend), a ring of 128 five-second slots (a little
/// over ten minutes: `weir_proxy::stats::RING_SLOTS`), each slot's histograms made the
/// first time the slot is used, and a second set for a slot in which the split changed.
/// So a process's memory grows for its first ten minutes and a half and then stays:
/// about 250 KiB a slot with this test's five busy backends (measured over a 900 s soak,
/// in a debug build). The bound: 8 MiB (allocator caches, buffers) plus 320 KiB for each
/// slot that began between the two measurements.
const RING_SLOT_KIB: u64 = 320;

fn rss_bound(baseline: &Quiet, after: &Quiet) -> u64 {
    let slots = ((after.taken.saturating_sub(baseline.taken)).as_secs() / 5 + 1).min(128);
    baseline.rss_kib + 8 * 1024 + slots * RING_SLOT_KIB
}

/// Kills weir with SIGKILL every `every` (give or take a fifth) until 60% of the storm,
/// checks the state directory while it is down and that the new process resumed from it;
/// then measures the last process's baseline. Returns weir and the baseline.
async fn killer(w: Arc<World>, mut weir: Weir, storm: Duration) -> (Weir, Quiet) {
    let every = (storm / 6).clamp(Duration::from_secs(12), Duration::from_secs(60));
    let storm_start = Instant::now();
    let mut next = every;
    while next < storm.mul_f64(0.6) {
        let at = storm_start + next - every.mul_f64(0.2) + every.mul_f64(fastrand::f64() * 0.4);
        tokio::time::sleep_until(at.into()).await;
        next += every;
        let mut cfg = w.cfg.lock().await;
        let before = w.admin_json("/rollouts/web").await.ok();
        let before_step = before
            .as_ref()
            .and_then(|r| r["status"]["currentStepIndex"].as_u64());
        let killed_at = Instant::now();
        {
            let mut life = w.life.lock();
            life.epoch += 1;
            life.down_since = Some(killed_at);
        }
        let state = w.state_dir();
        let config = w.config_path();
        let mut checked = None;
        weir = weir
            .kill9_and_restart_after(async {
                checked = Some(check_state_dir(&state));
                // Restart on a valid file (a broken one would stop weir at start-up, as it
                // should).
                if !cfg.current_valid {
                    write_file(&config, &cfg.last_valid);
                }
            })
            .await;
        let up = Instant::now();
        cfg.current_valid = true;
        {
            let mut life = w.life.lock();
            life.down_since = None;
            life.downs.push((killed_at, up));
        }
        w.pid.store(weir.child.id(), Ordering::SeqCst);
        let (persisted_step, persisted_phase, size, tmp) = match checked.unwrap() {
            Ok(c) => c,
            Err(e) => {
                w.problem(format!("state directory after kill -9: {e}"));
                (None, String::new(), 0, 0)
            }
        };
        // Resumed: the status carries on from the saved step, and the proxy serves the
        // status' weights.
        let mut resumed = String::from("?");
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            match (w.admin_json("/rollouts/web").await, web_weights(&w).await) {
                (Ok(r), Ok((status, served))) => {
                    let s = &r["status"];
                    let step = s["currentStepIndex"].as_i64();
                    let ok = step >= persisted_step && s["phase"] != "Degraded" && status == served;
                    resumed = format!("step {step:?} {} weights {status:?}", s["phase"]);
                    if ok {
                        break;
                    }
                    if Instant::now() > deadline {
                        w.problem(format!(
                            "after kill -9: saved step {persisted_step:?} ({persisted_phase}), now {resumed}, served {served:?}"
                        ));
                        break;
                    }
                }
                (a, b) if Instant::now() > deadline => {
                    w.problem(format!(
                        "after kill -9 the API did not answer: {:?} {:?}",
                        a.err(),
                        b.err()
                    ));
                    break;
                }
                _ => {}
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let line = format!(
            "kill -9 at {:.1}s: step {before_step:?} live, saved step {persisted_step:?} ({persisted_phase}), state {size} B, {tmp} temp file(s) left; back in {} ms, resumed at {resumed}",
            (killed_at - w.start).as_secs_f64(),
            (up - killed_at).as_millis(),
        );
        w.log(&line);
        w.report.lock().kills.push(line);
        drop(cfg);
    }
    w.phase.store(FINAL, Ordering::SeqCst);
    w.log("last kill done: the final process warms up");
    tokio::time::sleep(Duration::from_secs(8)).await;
    let baseline = quiet_measure(&w).await;
    w.log(&format!("baseline of the final process: {baseline:?}"));
    (weir, baseline)
}

/// The Rollout ended Healthy with `version` promoted: `weir rollouts status` says so, the
/// status agrees, both services of the managed route are on its endpoints, and it answers.
async fn check_promoted(
    w: &World,
    weir: &Weir,
    version: &(String, SocketAddr),
) -> Result<String, String> {
    let (code, out) = weir
        .cli(&["rollouts", "status", "web", "--timeout", "10s"])
        .await;
    if code != 0 {
        return Err(format!("weir rollouts status web: exit {code}: {out}"));
    }
    let status = w.admin_json("/rollouts/web").await?["status"].clone();
    if status["phase"] != "Healthy" || status["stableRS"] != status["currentPodHash"] {
        return Err(format!("not Healthy and promoted: {status}"));
    }
    let routes = w.admin_json("/routes").await?;
    let web = routes["routes"]
        .as_array()
        .and_then(|rs| rs.iter().find(|r| r["name"] == "web"))
        .ok_or("no route web")?;
    for b in web["backends"].as_array().ok_or("no backends")? {
        if b["endpoints"][0]["address"] != version.1.to_string().as_str() {
            return Err(format!("a backend of web is not on {}: {web}", version.0));
        }
    }
    for _ in 0..10 {
        let a = raw::one_shot(w.proxy, &raw::get("web.test", "/", true), DEADLINE)
            .await
            .map_err(|f| f.label())?;
        if (a.status, a.header("x-backend")) != (200, Some(version.0.as_str())) {
            return Err(format!(
                "web answered {} from {:?}, not {}",
                a.status,
                a.header("x-backend"),
                version.0
            ));
        }
    }
    Ok(format!(
        "{} Healthy and promoted ({})",
        version.0,
        out.lines().last().unwrap_or("").trim()
    ))
}

// ---------------------------------------------------------------------------------------

fn render_tally(tally: &BTreeMap<(usize, &'static str), Counts>) -> String {
    let mut out = String::new();
    let mut total = Counts::default();
    for ((phase, kind), c) in tally {
        let answered: Vec<String> = c
            .answered
            .iter()
            .map(|(s, n)| format!("{s}: {n}"))
            .collect();
        let failed: Vec<String> = c.failed.iter().map(|(s, n)| format!("{s}: {n}")).collect();
        let _ = writeln!(
            out,
            "  {:<13} {:<10} sent {:>7} = answered {:>7} [{}] + failed {:>5} [{}]; slowest answer while up {:?}",
            PHASES[*phase],
            kind,
            c.sent,
            c.answered_total(),
            answered.join(", "),
            c.failed_total(),
            failed.join(", "),
            c.slowest_answer,
        );
        total.sent += c.sent;
        for (s, n) in &c.answered {
            *total.answered.entry(*s).or_default() += n;
        }
        for (s, n) in &c.failed {
            *total.failed.entry(s.clone()).or_default() += n;
        }
    }
    let answered: Vec<String> = total
        .answered
        .iter()
        .map(|(s, n)| format!("{s}: {n}"))
        .collect();
    let failed: Vec<String> = total
        .failed
        .iter()
        .map(|(s, n)| format!("{s}: {n}"))
        .collect();
    let _ = writeln!(
        out,
        "  {:<24} sent {:>7} = answered {:>7} [{}] + failed {:>5} [{}]",
        "all",
        total.sent,
        total.answered_total(),
        answered.join(", "),
        total.failed_total(),
        failed.join(", "),
    );
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn soak_weir_run_under_a_storm() {
    let storm = Duration::from_secs(storm_secs());
    let backends = Backends::default();
    let stable = backends.add("v1", true).await;
    let canary = backends.add("v2", true).await;
    let side_a = backends.add("side-a", true).await;
    let side_b = backends.add("side-b", true).await;
    let (big, _big_task) = raw::big_backend(512 * 1024).await;
    backends.ports.lock().insert(big.port(), "big".into());
    let (listen, admin) = (raw::free_port(), raw::free_port());
    let mut cfg = Cfg {
        generation: 1,
        stable,
        canary: ("v2".into(), canary),
        version: 2,
        side: (side_a, side_b),
        big,
        listen,
        admin,
        new_version: false,
        current_valid: true,
        last_valid: String::new(),
        last_valid_generation: 1,
    };
    cfg.last_valid = cfg.render(1);
    let weir = Weir::start_run(&cfg.last_valid).await;
    assert_eq!(weir.listeners[0].port(), listen);
    let start = Instant::now();
    let w = Arc::new(World {
        start,
        proxy: weir.listeners[0],
        admin: weir.admin,
        dir: weir.dir.path().to_path_buf(),
        storm_end: start + Duration::from_secs(5) + storm,
        phase: AtomicUsize::new(WARMUP),
        stop_load: AtomicBool::new(false),
        stop_chaos: AtomicBool::new(false),
        quiet: AtomicBool::new(false),
        in_flight: AtomicUsize::new(0),
        pid: AtomicU32::new(weir.child.id()),
        last_valid: AtomicU64::new(1),
        life: Mutex::new(Life::default()),
        tally: Mutex::new(BTreeMap::new()),
        weights: Mutex::new(Vec::new()),
        problems: Mutex::new(Vec::new()),
        report: Mutex::new(Report::default()),
        cfg: tokio::sync::Mutex::new(cfg),
        backends,
    });
    w.log(&format!(
        "weir run on {} (admin {}), storm {storm:?}, state in {}",
        w.proxy,
        w.admin,
        w.state_dir().display()
    ));

    // Load: four keep-alive clients at 40/s, two fresh-connection ones at 20/s.
    let mut load = Vec::new();
    for id in 0..4 {
        load.push(tokio::spawn(load_client(w.clone(), "keep-alive", id, 40)));
    }
    for id in 4..6 {
        load.push(tokio::spawn(load_client(w.clone(), "fresh", id, 20)));
    }
    let sampler = tokio::spawn(sampler(w.clone()));
    tokio::time::sleep(Duration::from_secs(5)).await;

    // The storm.
    w.phase.store(STORM, Ordering::SeqCst);
    w.log("storm starts");
    let chaos = vec![
        tokio::spawn(config_writer(w.clone())),
        tokio::spawn(weight_changer(w.clone())),
        tokio::spawn(flapper(w.clone())),
        tokio::spawn(abusers(w.clone())),
    ];
    let cycles = tokio::spawn(cycles(w.clone()));
    let killer = tokio::spawn(killer(w.clone(), weir, storm));
    tokio::time::sleep_until(w.storm_end.into()).await;
    let (weir, baseline) = killer.await.unwrap();
    w.stop_chaos.store(true, Ordering::SeqCst);
    for t in chaos {
        t.await.unwrap();
    }
    w.phase.store(FINISH, Ordering::SeqCst);
    w.log("storm over: every backend up, the file valid; waiting for the rollout to finish");
    w.backends.all_up().await;
    {
        let mut cfg = w.cfg.lock().await;
        if !cfg.current_valid || cfg.new_version {
            cfg.generation += 1;
            let text = cfg.render(cfg.generation);
            write_file(&w.config_path(), &text);
            cfg.current_valid = true;
            cfg.new_version = false;
        }
    }
    // The last version must be promoted, with the load still running.
    let finished = tokio::time::timeout(Duration::from_secs(120), cycles).await;
    let final_version = w.cfg.lock().await.canary.clone();
    let promoted = match finished {
        Ok(r) => {
            r.unwrap();
            check_promoted(&w, &weir, &final_version).await
        }
        Err(_) => Err(format!(
            "the last rollout (to {}) did not finish within 2 minutes after the storm: {}",
            final_version.0,
            w.admin_json("/rollouts/web")
                .await
                .map(|r| r["status"].to_string())
                .unwrap_or_else(|e| e)
        )),
    };
    if let Err(e) = &promoted {
        w.problem(e.clone());
    }

    // Load off; every client done.
    w.stop_load.store(true, Ordering::SeqCst);
    for t in load {
        t.await.unwrap();
    }
    sampler.await.unwrap();
    let after = quiet_measure(&w).await;
    let (persisted_step, persisted_phase, state_size, tmp) =
        check_state_dir(&w.state_dir()).expect("the state directory parses at the end");
    let logs = weir.logs();
    let refusals = logs.matches("configuration refused").count() as u64;
    let panics: Vec<&str> = logs.lines().filter(|l| l.contains("panicked")).collect();

    // The report.
    let tally = w.tally.lock().clone();
    let report = w.report.lock();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\n===== weir soak report: storm {storm:?}, {:.0}s in all =====",
        w.t()
    );
    let _ = writeln!(out, "requests (by phase of the test and client kind):");
    out.push_str(&render_tally(&tally));
    let _ = writeln!(out, "rollouts ({} promoted):", report.cycles.len());
    for c in &report.cycles {
        let _ = writeln!(out, "  {c}");
    }
    let _ = writeln!(out, "kill -9 ({}):", report.kills.len());
    for k in &report.kills {
        let _ = writeln!(out, "  {k}");
    }
    let _ = writeln!(
        out,
        "state at the end: step {persisted_step:?} ({persisted_phase}), rollouts/web.json {state_size} B, {tmp} temp file(s)"
    );
    let _ = writeln!(
        out,
        "run file rewrites: {} valid ({} seen served), {} broken ({} seen refused, old generation still serving) {:?}, {} SIGHUP; {} refusals in weir's log",
        report.reloads_valid,
        report.reloads_valid_confirmed,
        report.reloads_invalid.values().sum::<u64>(),
        report.reloads_invalid_confirmed,
        report.reloads_invalid,
        report.sighups,
        refusals,
    );
    let _ = writeln!(
        out,
        "weights: {} side changes ({} acknowledged), {} side answers checked against a 0 weight; managed route: {:?}",
        report.weight_changes, report.weight_changes_acked, report.zero_weight_checked, report.managed_puts
    );
    let _ = writeln!(out, "backend flaps: {}", report.flaps);
    let _ = writeln!(out, "slow, half-open and leaving clients:");
    for ((kind, outcome), n) in &report.abusers {
        let _ = writeln!(out, "  {kind:<20} {outcome:<40} {n}");
    }
    let peak = report
        .samples
        .iter()
        .filter(|(_, e, _)| *e == w.epoch())
        .fold(ProcStats::default(), |m, (_, _, s)| ProcStats {
            rss_kib: m.rss_kib.max(s.rss_kib),
            fds: m.fds.max(s.fds),
        });
    let _ = writeln!(
        out,
        "final process (pid {}), quiet (no client connected, idle timeouts past):",
        w.pid.load(Ordering::SeqCst)
    );
    for (what, q) in [("baseline", &baseline), ("after the storm", &after)] {
        let _ = writeln!(
            out,
            "  {what:<16} RSS {:>6} KiB, {:>3} fds: {} client connections, {} pooled upstream ({} closed by the backend or gone), {} other",
            q.rss_kib,
            q.total(),
            q.clients(),
            q.upstream(),
            q.stale_upstream(),
            q.other()
        );
        let _ = writeln!(out, "    {:?}", q.fds);
    }
    let _ = writeln!(
        out,
        "  growth over {:.0}s: {:+} KiB RSS (bound {} KiB), {:+} fds; under the storm at most {} KiB, {} fds",
        (after.taken.saturating_sub(baseline.taken)).as_secs_f64(),
        after.rss_kib as i64 - baseline.rss_kib as i64,
        rss_bound(&baseline, &after) - baseline.rss_kib,
        after.total() as i64 - baseline.total() as i64,
        peak.rss_kib,
        peak.fds
    );
    // At most about 40 of them, evenly spread.
    let every = report.samples.len().div_ceil(40).max(1);
    let samples: Vec<String> = report
        .samples
        .iter()
        .step_by(every)
        .map(|(t, e, s)| format!("{t}s#{e}:{}M/{}", s.rss_kib / 1024, s.fds))
        .collect();
    let _ = writeln!(
        out,
        "samples (time#process: RSS/fds): {}",
        samples.join(" ")
    );
    match &promoted {
        Ok(p) => {
            let _ = writeln!(out, "end: {p}");
        }
        Err(e) => {
            let _ = writeln!(out, "end: NOT PROMOTED: {e}");
        }
    }
    let problems = w.problems.lock().clone();
    let _ = writeln!(out, "problems: {}", problems.len());
    for p in &problems {
        let _ = writeln!(out, "  {p}");
    }
    // weir's log, the last run file and the state, for the humans.
    let keep = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("soak");
    let _ = std::fs::remove_dir_all(&keep);
    let _ = std::fs::create_dir_all(keep.join("state"));
    for f in ["weir.log", "weir.yaml", "state/rollouts/web.json"] {
        let _ = std::fs::copy(
            w.dir.join(f),
            keep.join(f.replace("state/rollouts/", "state/")),
        );
    }
    let _ = writeln!(
        out,
        "weir's log, run file and state kept in {}",
        keep.display()
    );
    println!("{out}");
    drop(report);

    // The assertions.
    let report = w.report.lock();
    for ((phase, kind), c) in &tally {
        assert_eq!(
            c.sent,
            c.answered_total() + c.failed_total(),
            "{} {kind}: every request sent is answered or failed with a reason",
            PHASES[*phase]
        );
    }
    let answered: u64 = tally.values().map(Counts::answered_total).sum();
    assert!(
        answered > storm.as_secs() * 50,
        "too little load to mean anything: {answered}"
    );
    assert!(
        problems.is_empty(),
        "{} problems (see the report above)",
        problems.len()
    );
    assert!(panics.is_empty(), "weir panicked:\n{}", panics.join("\n"));
    assert!(!report.kills.is_empty(), "weir was killed at least once");
    assert!(
        report.cycles.len() >= 2,
        "at least two versions promoted: {:?}",
        report.cycles
    );
    assert!(report.reloads_invalid_confirmed > 0 && report.reloads_valid_confirmed > 0);
    assert!(
        refusals >= report.reloads_invalid_confirmed,
        "each refused file is reported in the log: {refusals} lines for {} refusals",
        report.reloads_invalid_confirmed
    );
    assert!(
        report.zero_weight_checked > 100,
        "{}",
        report.zero_weight_checked
    );
    assert_eq!(tmp, 0, "no temporary file left in the state directory");
    // Flat after the storm. Descriptors: no client connection left open (every client of
    // this test has closed), no pooled connection to an endpoint that left the
    // configuration, the rest (listeners, epoll, files) as at the baseline give or take
    // two. Pooled upstream connections vary with the concurrency they last saw, and those
    // a killed backend closed wait in the pool (CLOSE_WAIT) until they are next looked at
    // or age out (60 s): the total may differ from the baseline by a few. Memory: see
    // [`rss_bound`].
    assert_eq!(
        after.clients(),
        0,
        "client connections left open in weir: {after:?}"
    );
    assert_eq!(
        after.gone_upstream(),
        0,
        "pooled connections to endpoints no longer configured: {after:?}"
    );
    assert!(
        after.other() <= baseline.other() + 2,
        "descriptors grew: baseline {baseline:?}, after {after:?}"
    );
    assert!(
        after.upstream() <= MAX_POOLED,
        "more pooled upstream connections than this test ever has requests in flight: {after:?}"
    );
    let rss_bound = rss_bound(&baseline, &after);
    assert!(
        after.rss_kib <= rss_bound,
        "memory grew: baseline {baseline:?}, after {after:?} (bound {rss_bound} KiB)"
    );
}
