//! The global allocator on the allocations a proxied HTTP/1.1 request makes: the boxed
//! request future (2,240 bytes, align 8), the read buffer (4 KiB), a `HeaderMap`'s
//! entries (about 200 bytes). `mimalloc::MiMalloc` (every call through
//! `mi_malloc_aligned`) against weir's `Mimalloc` (`src/alloc.rs`: `mi_malloc` when the
//! alignment is one mimalloc gives anyway). Each iteration allocates and frees 16 blocks
//! of the shape, a few live at once as on a connection.

#[path = "../src/alloc.rs"]
#[allow(dead_code, unused_imports)] // its tests module is compiled out here
mod alloc;

use criterion::{criterion_group, criterion_main, Criterion};
use std::alloc::{GlobalAlloc, Layout};
use std::hint::black_box;

fn churn(a: &dyn GlobalAlloc, layout: Layout) {
    let mut held = [std::ptr::null_mut::<u8>(); 4];
    for i in 0..16 {
        let slot = &mut held[i % 4];
        // SAFETY: every block is freed once, with the layout it was allocated with, and
        // written only within its size.
        #[allow(unsafe_code)]
        unsafe {
            if !slot.is_null() {
                a.dealloc(*slot, layout);
            }
            *slot = a.alloc(layout);
            assert!(!slot.is_null());
            slot.write(i as u8);
        }
    }
    for p in held {
        // SAFETY: as above.
        #[allow(unsafe_code)]
        unsafe {
            a.dealloc(black_box(p), layout)
        };
    }
}

fn bench(c: &mut Criterion) {
    for (what, size) in [
        ("request future 2240 B", 2240),
        ("read buffer 4096 B", 4096),
        ("header entries 200 B", 200),
    ] {
        let layout = Layout::from_size_align(size, 8).unwrap();
        let mut g = c.benchmark_group(format!("alloc+free x16 {what}"));
        g.bench_function("mimalloc::MiMalloc", |b| {
            b.iter(|| churn(&mimalloc::MiMalloc, black_box(layout)))
        });
        g.bench_function("weir Mimalloc", |b| {
            b.iter(|| churn(&alloc::Mimalloc, black_box(layout)))
        });
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
