//! The recording path: one status code and latency into the windowed HDR stats, from one
//! thread and from two contending threads.

use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};
use weir_proxy::stats::BackendStats;

fn bench(c: &mut Criterion) {
    let stats = BackendStats::new();
    let now = Instant::now();
    c.bench_function("record one request", |b| {
        let mut i = 0u64;
        b.iter(|| {
            i = i.wrapping_add(7919);
            stats.record(
                black_box(now),
                200,
                false,
                Duration::from_micros(100 + i % 5000),
            );
        })
    });

    let shared = Arc::new(BackendStats::new());
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let other = {
        let (s, stop) = (shared.clone(), stop.clone());
        std::thread::spawn(move || {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                s.record(Instant::now(), 200, false, Duration::from_micros(250));
            }
        })
    };
    c.bench_function("record one request, another thread recording", |b| {
        b.iter(|| shared.record(Instant::now(), 200, false, Duration::from_micros(250)))
    });
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let _ = other.join();

    c.bench_function("window query 60s", |b| {
        b.iter(|| black_box(stats.window(now, Duration::from_secs(60)).requests))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
