//! Local measurements for one (route, backend): status counters and latency histograms
//! over a ring of short intervals, so statistics over any recent window are exact.
//!
//! Recording never takes a lock shared by all requests: each worker thread writes to its
//! own shard (a `Mutex` that only that thread normally touches). A shard holds the
//! histogram of the interval ("slot") it is filling; when a record lands in a newer slot,
//! the shard first folds the finished one into the shared ring and the lifetime totals.
//! Readers merge the ring with the shards' unfolded slots, so nothing is counted twice and
//! nothing is lost.
//!
//! A route's split (its backends, weights, endpoints) changes at a *cut*
//! ([`BackendStats::cut`]): what was recorded in the current slot until then is set apart in
//! that slot's `before_cut`, so a window measured since the cut
//! ([`BackendStats::window_since`]) holds only requests served under the new split, to the
//! request, while the plain window and the lifetime totals still hold everything.

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
    InvalidBackend,
    /// The client stopped sending its request body (`limits.clientBodyTimeout`).
    ClientTimeout,
    /// The upstream stopped sending its response body (`timeouts.read`).
    ReadTimeout,
}

impl ErrorKind {
    pub const ALL: [ErrorKind; 11] = [
        ErrorKind::Connect,
        ErrorKind::Timeout,
        ErrorKind::Reset,
        ErrorKind::Protocol,
        ErrorKind::NoEndpoints,
        ErrorKind::ZeroWeight,
        ErrorKind::NoRoute,
        ErrorKind::BadRequest,
        ErrorKind::InvalidBackend,
        ErrorKind::ClientTimeout,
        ErrorKind::ReadTimeout,
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
            ErrorKind::InvalidBackend => "invalid_backend",
            ErrorKind::ClientTimeout => "client_timeout",
            ErrorKind::ReadTimeout => "read_timeout",
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
    /// Made on the shard's first request: a (route, backend) pair that never serves costs
    /// no histogram (a cluster's thousands of routes, most of them idle).
    current: Option<Interval>,
    /// Status-code counts and latency sum of `current`, folded into the lifetime totals.
    codes: Vec<(u16, u64)>,
    sum_micros: u64,
}

struct RingSlot {
    slot: u64,
    interval: Option<Interval>,
    /// What this slot held when a cut fell in it: requests served before the split
    /// changed, left out of windows measured since the cut.
    before_cut: Option<Interval>,
}

impl RingSlot {
    /// Makes this entry hold `slot`, dropping what it held for a slot a ring-turn older.
    fn claim(&mut self, slot: u64) {
        if self.slot == slot {
            return;
        }
        self.slot = slot;
        for i in [&mut self.interval, &mut self.before_cut]
            .into_iter()
            .flatten()
        {
            i.clear();
        }
    }
}

/// The instant slot `slot` starts at.
fn slot_start(slot: u64) -> Instant {
    origin() + SLOT * u32::try_from(slot).unwrap_or(u32::MAX)
}

/// Lifetime totals, for Prometheus counters.
struct Lifetime {
    /// Made when the first slot is folded in.
    latency: Option<Histogram<u64>>,
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
                    current: None,
                    codes: Vec::new(),
                    sum_micros: 0,
                })
            })
            .collect();
        let ring = (0..RING_SLOTS)
            .map(|_| RingSlot {
                slot: u64::MAX,
                interval: None,
                before_cut: None,
            })
            .collect();
        BackendStats {
            shards,
            ring: Mutex::new(ring),
            lifetime: Mutex::new(Lifetime {
                latency: None,
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
        let current = shard.current.get_or_insert_with(Interval::new);
        current.requests += 1;
        current.failures += failed as u64;
        current.latency.saturating_record(micros);
        shard.sum_micros += micros;
        bump(&mut shard.codes, code, 1);
    }

    /// Moves a shard's finished slot into the ring and the lifetime totals.
    fn fold(&self, shard: &mut Shard) {
        self.fold_into(shard, false);
    }

    /// [`Self::fold`], into the slot's `before_cut` part when `before_cut` is set (a cut in
    /// the shard's slot).
    fn fold_into(&self, shard: &mut Shard, before_cut: bool) {
        let Some(current) = shard.current.as_mut().filter(|c| c.requests > 0) else {
            return;
        };
        {
            let mut ring = self.ring.lock();
            let entry = &mut ring[(shard.slot % RING_SLOTS as u64) as usize];
            entry.claim(shard.slot);
            let part = if before_cut {
                &mut entry.before_cut
            } else {
                &mut entry.interval
            };
            part.get_or_insert_with(Interval::new).add(current);
        }
        {
            let mut life = self.lifetime.lock();
            let _ = life
                .latency
                .get_or_insert_with(new_hist)
                .add(&current.latency);
            life.sum_micros += shard.sum_micros;
            for &(code, n) in &shard.codes {
                bump(&mut life.codes, code, n);
            }
        }
        current.clear();
        shard.codes.clear();
        shard.sum_micros = 0;
    }

    /// Marks the moment `at` the route's split changed: everything recorded in `at`'s slot
    /// so far is set apart, so [`Self::window_since`]`(.., at)` counts only what comes
    /// after. Only shards filling that slot are touched (older slots fall before the cut
    /// by their number), and none when they hold nothing, so a cut costs a few lock
    /// round trips unless requests were recorded in this slot since the last cut.
    pub fn cut(&self, at: Instant) {
        let slot = slot_of(at);
        // Lock order: shards, then ring, then lifetime (as `window` and `fold`).
        let mut shards: Vec<_> = self.shards.iter().map(|s| s.lock()).collect();
        {
            let mut ring = self.ring.lock();
            let entry = &mut ring[(slot % RING_SLOTS as u64) as usize];
            entry.claim(slot);
            // Requests folded into this slot since an earlier cut in it came before this
            // one too.
            if let Some(after) = entry.interval.as_mut().filter(|i| i.requests > 0) {
                entry
                    .before_cut
                    .get_or_insert_with(Interval::new)
                    .add(after);
                after.clear();
            }
        }
        for shard in shards.iter_mut().filter(|s| s.slot == slot) {
            self.fold_into(shard, true);
        }
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
        self.collect(now, window, None).0
    }

    /// [`Self::window`], and when what the interval covers begins: the start of its oldest
    /// slot (so a window can cover a little more than `window`, never less).
    pub fn window_from(&self, now: Instant, window: Duration) -> (Interval, Instant) {
        self.collect(now, window, None)
    }

    /// Like [`Self::window`], but without anything recorded before `since`, the moment of
    /// the last [`Self::cut`] (a route's split change): the window is cut there. Also
    /// returns when what the interval covers begins: `since`, or the start of the oldest
    /// slot when the cut is older than the window.
    pub fn window_since(
        &self,
        now: Instant,
        window: Duration,
        since: Instant,
    ) -> (Interval, Instant) {
        let (interval, from) = self.collect(now, window, Some(slot_of(since)));
        (interval, from.max(since))
    }

    /// The window's interval and the start of its oldest slot; with `cut`, slots before
    /// it are left out and so is the cut slot's `before_cut`.
    fn collect(&self, now: Instant, window: Duration, cut: Option<u64>) -> (Interval, Instant) {
        let newest = slot_of(now);
        let span = window
            .as_millis()
            .div_ceil(SLOT.as_millis())
            .min(RING_SLOTS as u128 - 1) as u64;
        let oldest = newest.saturating_sub(span).max(cut.unwrap_or(0));
        let in_window = |s: u64| s >= oldest && s <= newest;
        let mut out = Interval::new();
        // Lock order everywhere: shards, then ring, then lifetime. Holding every shard
        // while reading the ring means no slot can move between the two mid-read.
        let shards: Vec<_> = self.shards.iter().map(|s| s.lock()).collect();
        for shard in &shards {
            if let (true, Some(current)) = (in_window(shard.slot), &shard.current) {
                out.add(current);
            }
        }
        let ring = self.ring.lock();
        for entry in ring.iter().filter(|e| in_window(e.slot)) {
            if let Some(i) = &entry.interval {
                out.add(i);
            }
            if let (Some(i), false) = (&entry.before_cut, cut == Some(entry.slot)) {
                out.add(i);
            }
        }
        (out, slot_start(oldest))
    }

    /// Lifetime totals: counts by status code, the latency histogram and its exact sum
    /// in microseconds.
    pub fn lifetime(&self) -> (Vec<(u16, u64)>, Histogram<u64>, u64) {
        let shards: Vec<_> = self.shards.iter().map(|s| s.lock()).collect();
        let life = self.lifetime.lock();
        let mut codes = life.codes.clone();
        let mut hist = life.latency.clone().unwrap_or_else(new_hist);
        let mut sum = life.sum_micros;
        drop(life);
        for shard in &shards {
            if let Some(current) = &shard.current {
                let _ = hist.add(&current.latency);
            }
            sum += shard.sum_micros;
            for &(code, n) in &shard.codes {
                bump(&mut codes, code, n);
            }
        }
        (codes, hist, sum)
    }
}

#[cfg(test)]
#[path = "stats_tests.rs"]
mod tests;
