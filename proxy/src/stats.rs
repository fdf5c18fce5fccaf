//! Local measurements for one (route, backend): status counters and latency histograms
//! over a ring of short intervals, so statistics over any recent window are exact.
//!
//! Recording never takes a lock shared by all requests: each worker thread writes to its
//! own shard (a `Mutex` that only that thread normally touches). A shard holds the
//! histogram of the interval ("slot") it is filling; when a record lands in a newer slot,
//! the shard first folds the finished one into the shared ring and the lifetime totals.
//! Readers merge the ring with the shards' unfolded slots, so nothing is counted twice and
//! nothing is lost.

use hdrhistogram::Histogram;
use parking_lot::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Width of one slot of the ring.
pub const SLOT: Duration = Duration::from_secs(5);
/// Slots kept: a little over ten minutes.
pub const RING_SLOTS: usize = 128;
/// The longest window `/stats` serves.
pub const MAX_WINDOW: Duration = Duration::from_secs(600);
/// Latency is recorded in microseconds, from 1 us to this many.
const MAX_MICROS: u64 = 3_600_000_000;
/// Two significant digits: every quantile is within 1% of the true value.
const SIGFIG: u8 = 2;

/// Every proxy error kind, the closed label set of `weir_upstream_errors_total{reason}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    Connect,
    Timeout,
    Reset,
    Protocol,
    NoEndpoints,
    ZeroWeight,
    NoRoute,
    BadRequest,
}

impl ErrorKind {
    pub const ALL: [ErrorKind; 8] = [
        ErrorKind::Connect,
        ErrorKind::Timeout,
        ErrorKind::Reset,
        ErrorKind::Protocol,
        ErrorKind::NoEndpoints,
        ErrorKind::ZeroWeight,
        ErrorKind::NoRoute,
        ErrorKind::BadRequest,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Connect => "connect",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Reset => "reset",
            ErrorKind::Protocol => "protocol",
            ErrorKind::NoEndpoints => "no_endpoints",
            ErrorKind::ZeroWeight => "zero_weight",
            ErrorKind::NoRoute => "no_route",
            ErrorKind::BadRequest => "bad_request",
        }
    }
}

/// The process-wide time origin that slot numbers count from.
fn origin() -> Instant {
    static ORIGIN: OnceLock<Instant> = OnceLock::new();
    *ORIGIN.get_or_init(Instant::now)
}

/// The slot number `at` falls in.
pub fn slot_of(at: Instant) -> u64 {
    (at.saturating_duration_since(origin()).as_millis() / SLOT.as_millis()) as u64
}

fn new_hist() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_MICROS, SIGFIG).expect("static histogram bounds are valid")
}

/// `WEIR_BENCH_NO_RECORDING=1` turns request recording (counters and histograms) off,
/// for ``benches/peers.sh` (mode features)` to measure what recording costs. Not for production: the
/// metrics and the analyses read nothing then.
fn recording_off() -> bool {
    static OFF: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *OFF.get_or_init(|| std::env::var_os("WEIR_BENCH_NO_RECORDING").is_some_and(|v| v == "1"))
}

/// What one slot (or a merge of slots) holds.
#[derive(Clone)]
pub struct Interval {
    pub requests: u64,
    /// 5xx answers and proxy errors.
    pub failures: u64,
    pub latency: Histogram<u64>,
}

impl Interval {
    fn new() -> Self {
        Interval {
            requests: 0,
            failures: 0,
            latency: new_hist(),
        }
    }

    fn clear(&mut self) {
        self.requests = 0;
        self.failures = 0;
        self.latency.reset();
    }

    fn add(&mut self, other: &Interval) {
        self.requests += other.requests;
        self.failures += other.failures;
        // Same bounds on both sides: adding cannot fail.
        let _ = self.latency.add(&other.latency);
    }
}

struct Shard {
    slot: u64,
    current: Interval,
    /// Status-code counts and latency sum of `current`, folded into the lifetime totals.
    codes: Vec<(u16, u64)>,
    sum_micros: u64,
}

struct RingSlot {
    slot: u64,
    interval: Option<Interval>,
}

/// Lifetime totals, for Prometheus counters.
struct Lifetime {
    latency: Histogram<u64>,
    codes: Vec<(u16, u64)>,
    sum_micros: u64,
}

/// Measurements of one (route, backend) pair.
pub struct BackendStats {
    shards: Box<[Mutex<Shard>]>,
    ring: Mutex<Vec<RingSlot>>,
    lifetime: Mutex<Lifetime>,
    errors: [AtomicU64; ErrorKind::ALL.len()],
    spilled: AtomicU64,
    mirrors: [AtomicU64; 3],
}

/// Outcomes of mirrored requests (`weir_mirror_requests_total{outcome}`).
#[derive(Clone, Copy, Debug)]
pub enum MirrorOutcome {
    Sent,
    Failed,
    Dropped,
}

impl MirrorOutcome {
    pub const ALL: [MirrorOutcome; 3] = [
        MirrorOutcome::Sent,
        MirrorOutcome::Failed,
        MirrorOutcome::Dropped,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            MirrorOutcome::Sent => "sent",
            MirrorOutcome::Failed => "failed",
            MirrorOutcome::Dropped => "dropped",
        }
    }
}

fn shard_count() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(4)
        .clamp(1, 64)
}

fn shard_index(n: usize) -> usize {
    thread_local! {
        static INDEX: usize = {
            static NEXT: AtomicU64 = AtomicU64::new(0);
            NEXT.fetch_add(1, Ordering::Relaxed) as usize
        };
    }
    INDEX.with(|i| *i % n)
}

fn bump(codes: &mut Vec<(u16, u64)>, code: u16, by: u64) {
    match codes.iter_mut().find(|(c, _)| *c == code) {
        Some((_, n)) => *n += by,
        None => {
            codes.push((code, by));
            codes.sort_unstable();
        }
    }
}

impl Default for BackendStats {
    fn default() -> Self {
        Self::new()
    }
}

impl BackendStats {
    pub fn new() -> Self {
        let shards = (0..shard_count())
            .map(|_| {
                Mutex::new(Shard {
                    slot: 0,
                    current: Interval::new(),
                    codes: Vec::new(),
                    sum_micros: 0,
                })
            })
            .collect();
        let ring = (0..RING_SLOTS)
            .map(|_| RingSlot {
                slot: u64::MAX,
                interval: None,
            })
            .collect();
        BackendStats {
            shards,
            ring: Mutex::new(ring),
            lifetime: Mutex::new(Lifetime {
                latency: new_hist(),
                codes: Vec::new(),
                sum_micros: 0,
            }),
            errors: Default::default(),
            spilled: AtomicU64::new(0),
            mirrors: Default::default(),
        }
    }

    /// Records one answered request: its status code (the proxy's own for proxy errors),
    /// whether it failed, and its latency (request received to response headers sent).
    pub fn record(&self, now: Instant, code: u16, failed: bool, latency: Duration) {
        if recording_off() {
            return;
        }
        let slot = slot_of(now);
        let micros = (latency.as_micros() as u64).clamp(1, MAX_MICROS);
        let mut shard = self.shards[shard_index(self.shards.len())].lock();
        if shard.slot != slot {
            self.fold(&mut shard);
            shard.slot = slot;
        }
        shard.current.requests += 1;
        shard.current.failures += failed as u64;
        shard.current.latency.saturating_record(micros);
        shard.sum_micros += micros;
        bump(&mut shard.codes, code, 1);
    }

    /// Moves a shard's finished slot into the ring and the lifetime totals.
    fn fold(&self, shard: &mut Shard) {
        if shard.current.requests == 0 {
            return;
        }
        {
            let mut ring = self.ring.lock();
            let entry = &mut ring[(shard.slot % RING_SLOTS as u64) as usize];
            if entry.slot != shard.slot {
                entry.slot = shard.slot;
                match &mut entry.interval {
                    Some(i) => i.clear(),
                    None => entry.interval = Some(Interval::new()),
                }
            }
            if let Some(i) = &mut entry.interval {
                i.add(&shard.current);
            }
        }
        {
            let mut life = self.lifetime.lock();
            let _ = life.latency.add(&shard.current.latency);
            life.sum_micros += shard.sum_micros;
            for &(code, n) in &shard.codes {
                bump(&mut life.codes, code, n);
            }
        }
        shard.current.clear();
        shard.codes.clear();
        shard.sum_micros = 0;
    }

    pub fn record_error(&self, kind: ErrorKind) {
        self.errors[kind as usize].fetch_add(1, Ordering::Relaxed);
    }

    pub fn record_spill(&self) {
        self.spilled.fetch_add(1, Ordering::Relaxed);
    }

    pub fn record_mirror(&self, outcome: MirrorOutcome) {
        self.mirrors[outcome as usize].fetch_add(1, Ordering::Relaxed);
    }

    pub fn errors(&self, kind: ErrorKind) -> u64 {
        self.errors[kind as usize].load(Ordering::Relaxed)
    }

    pub fn spilled(&self) -> u64 {
        self.spilled.load(Ordering::Relaxed)
    }

    pub fn mirrors(&self, outcome: MirrorOutcome) -> u64 {
        self.mirrors[outcome as usize].load(Ordering::Relaxed)
    }

    /// Requests, failures and latencies over the slots that intersect the last `window`
    /// before `now`: the current slot and the `ceil(window / SLOT)` slots before it.
    pub fn window(&self, now: Instant, window: Duration) -> Interval {
        let newest = slot_of(now);
        let span = window
            .as_millis()
            .div_ceil(SLOT.as_millis())
            .min(RING_SLOTS as u128 - 1) as u64;
        let oldest = newest.saturating_sub(span);
        let in_window = |s: u64| s >= oldest && s <= newest;
        let mut out = Interval::new();
        // Lock order everywhere: shards, then ring, then lifetime. Holding every shard
        // while reading the ring means no slot can move between the two mid-read.
        let shards: Vec<_> = self.shards.iter().map(|s| s.lock()).collect();
        for shard in &shards {
            if in_window(shard.slot) {
                out.add(&shard.current);
            }
        }
        let ring = self.ring.lock();
        for entry in ring.iter() {
            if let (true, Some(i)) = (in_window(entry.slot), &entry.interval) {
                out.add(i);
            }
        }
        out
    }

    /// Lifetime totals: counts by status code, the latency histogram and its exact sum
    /// in microseconds.
    pub fn lifetime(&self) -> (Vec<(u16, u64)>, Histogram<u64>, u64) {
        let shards: Vec<_> = self.shards.iter().map(|s| s.lock()).collect();
        let life = self.lifetime.lock();
        let mut codes = life.codes.clone();
        let mut hist = life.latency.clone();
        let mut sum = life.sum_micros;
        drop(life);
        for shard in &shards {
            let _ = hist.add(&shard.current.latency);
            sum += shard.sum_micros;
            for &(code, n) in &shard.codes {
                bump(&mut codes, code, n);
            }
        }
        (codes, hist, sum)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_counts_are_exact_and_quantiles_within_precision() {
        let stats = BackendStats::new();
        let now = Instant::now();
        for i in 1..=1000u64 {
            let code = if i % 10 == 0 { 503 } else { 200 };
            stats.record(now, code, code >= 500, Duration::from_micros(i * 100));
        }
        let w = stats.window(now, Duration::from_secs(60));
        assert_eq!(w.requests, 1000);
        assert_eq!(w.failures, 100);
        let p99 = w.latency.value_at_quantile(0.99) as f64;
        assert!((p99 - 99_000.0).abs() / 99_000.0 <= 0.01, "p99 {p99}");
        let (codes, hist, sum) = stats.lifetime();
        assert_eq!(codes, vec![(200, 900), (503, 100)]);
        assert_eq!(hist.len(), 1000);
        assert_eq!(sum, (1..=1000u64).map(|i| i * 100).sum::<u64>());
    }

    #[test]
    fn old_slots_fall_out_of_the_window_but_stay_in_the_lifetime() {
        let stats = BackendStats::new();
        let t0 = Instant::now();
        stats.record(t0, 200, false, Duration::from_millis(1));
        let later = t0 + Duration::from_secs(120);
        stats.record(later, 500, true, Duration::from_millis(2));
        let recent = stats.window(later, Duration::from_secs(30));
        assert_eq!((recent.requests, recent.failures), (1, 1));
        let all = stats.window(later, Duration::from_secs(600));
        assert_eq!((all.requests, all.failures), (2, 1));
        assert_eq!(stats.lifetime().1.len(), 2);
    }

    #[test]
    fn records_from_many_threads_are_all_counted() {
        let stats = std::sync::Arc::new(BackendStats::new());
        let now = Instant::now();
        let handles: Vec<_> = (0..8)
            .map(|_| {
                let s = stats.clone();
                std::thread::spawn(move || {
                    for _ in 0..10_000 {
                        s.record(now, 200, false, Duration::from_micros(50));
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        assert_eq!(stats.window(now, Duration::from_secs(5)).requests, 80_000);
        assert_eq!(stats.lifetime().0, vec![(200, 80_000)]);
    }
}
