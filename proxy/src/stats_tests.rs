//! Tests of [`super::BackendStats`]: exact windows, cuts, concurrency.

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

/// The start of a slot boundary a little ahead, so tests place records in chosen slots.
fn slot_boundary() -> Instant {
    slot_start(slot_of(Instant::now()) + 2)
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[test]
fn a_window_since_a_cut_holds_only_what_came_after_it_to_the_request() {
    let stats = BackendStats::new();
    let t0 = slot_boundary();
    // Three good requests, then the cut in the middle of the same slot, then two failures.
    for i in 0..3 {
        stats.record(t0 + ms(100 * i), 200, false, ms(1));
    }
    let cut = t0 + ms(2_000);
    stats.cut(cut);
    stats.record(cut + ms(1), 500, true, ms(300));
    stats.record(cut + ms(2), 500, true, ms(300));
    let now = cut + ms(500);

    let (since, from) = stats.window_since(now, Duration::from_secs(10), cut);
    assert_eq!((since.requests, since.failures), (2, 2));
    assert_eq!(since.latency.len(), 2);
    assert!(
        since.latency.min() >= 297_000,
        "only the slow requests after the cut"
    );
    assert_eq!(
        from, cut,
        "the interval starts at the cut, not at its slot's start"
    );
    // The plain window and the lifetime totals still hold everything.
    let all = stats.window(now, Duration::from_secs(10));
    assert_eq!((all.requests, all.failures), (5, 2));
    assert_eq!(stats.lifetime().1.len(), 5);
}

#[test]
fn a_second_cut_in_the_same_slot_leaves_out_both_earlier_parts() {
    let stats = BackendStats::new();
    let t0 = slot_boundary();
    stats.record(t0, 200, false, ms(1));
    stats.cut(t0 + ms(100));
    stats.record(t0 + ms(200), 200, false, ms(1));
    stats.record(t0 + ms(300), 200, false, ms(1));
    let second = t0 + ms(400);
    stats.cut(second);
    stats.record(t0 + ms(500), 503, true, ms(1));
    let now = t0 + ms(600);
    let (since, _) = stats.window_since(now, Duration::from_secs(10), second);
    assert_eq!((since.requests, since.failures), (1, 1));
    assert_eq!(stats.window(now, Duration::from_secs(10)).requests, 4);
}

#[test]
fn slots_before_the_cut_are_left_out_and_later_ones_counted_whole() {
    let stats = BackendStats::new();
    let t0 = slot_boundary();
    // Slot 0: before the cut, unfolded in its shard when the cut comes two slots later.
    stats.record(t0, 500, true, ms(1));
    let cut = t0 + SLOT * 2 + ms(4_000);
    stats.cut(cut);
    // After the cut: the rest of the cut's slot and the next two slots.
    for k in 0..3u32 {
        stats.record(cut + ms(500) + SLOT * k, 200, false, ms(1));
    }
    let now = cut + SLOT * 2 + ms(600);
    let (since, from) = stats.window_since(now, Duration::from_secs(600), cut);
    assert_eq!((since.requests, since.failures), (3, 0));
    assert_eq!(from, cut);
    // A window shorter than the time since the cut starts at its oldest slot, and holds
    // only what the plain window of the same length holds.
    let (short, from) = stats.window_since(now, SLOT, cut);
    assert!(from > cut, "{from:?} should be after the cut {cut:?}");
    assert_eq!(short.requests, stats.window(now, SLOT).requests);
}

#[test]
fn a_cut_sets_apart_what_every_thread_recorded_before_it() {
    let stats = std::sync::Arc::new(BackendStats::new());
    let t0 = slot_boundary();
    let record_on_threads = |at: Instant, code: u16| {
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let s = stats.clone();
                std::thread::spawn(move || {
                    for _ in 0..100 {
                        s.record(at, code, code >= 500, ms(1));
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
    };
    record_on_threads(t0 + ms(10), 200);
    let cut = t0 + ms(20);
    stats.cut(cut);
    record_on_threads(t0 + ms(30), 500);
    let (since, _) = stats.window_since(t0 + ms(40), Duration::from_secs(5), cut);
    assert_eq!((since.requests, since.failures), (400, 400));
    assert_eq!(stats.window(t0 + ms(40), SLOT).requests, 800);
}
