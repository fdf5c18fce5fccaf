//! The route pick: the weighted choice every request makes.

use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;
use weir_proxy::pick::WeightedPick;

fn bench(c: &mut Criterion) {
    let two = WeightedPick::new([90, 10]);
    c.bench_function("pick 90/10", |b| b.iter(|| black_box(two.pick())));
    let five = WeightedPick::new([40, 30, 20, 10, 0]);
    c.bench_function("pick 5 backends", |b| b.iter(|| black_box(five.pick())));
    let weights = [90u32, 10];
    c.bench_function("pick_among (spill)", |b| {
        b.iter(|| black_box(two.pick_among(&weights, |i| i != 1)))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
