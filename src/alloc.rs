//! The global allocator: mimalloc, reached through its plain entry points whenever the
//! alignment asked for is one every mimalloc block has anyway.
//!
//! The `mimalloc` crate's `MiMalloc` sends every allocation through `mi_malloc_aligned`.
//! mimalloc 3 serves that from its free list only for blocks up to 1 KiB; a larger block
//! whose size is not a power of two (a request's boxed future, 2.2 KB; a read buffer)
//! goes to its generic aligned path, which over-allocates and adjusts the pointer. That
//! was about 650 instructions per proxied HTTP/1.1 request (`benches/profile.sh`).
//!
//! Every mimalloc block of 16 bytes or more starts on a 16-byte boundary and every
//! smaller one on an 8-byte boundary (`MI_MAX_ALIGN_SIZE`; size classes are whole pairs
//! of words). So when the alignment is at most 16 and at most the size, `mi_malloc`'s
//! block is aligned enough: the rule Rust's `System` allocator applies to `malloc`, and
//! the one mimalloc's own aligned path checks first (`mi_malloc_is_naturally_aligned`).
//! `tests` below check it over many layouts.

use libmimalloc_sys as mi;
use std::alloc::{GlobalAlloc, Layout};
use std::ffi::c_void;

/// The alignment every mimalloc block of at least this size has.
const MI_MAX_ALIGN_SIZE: usize = 16;

/// Whether mimalloc's plain entry points give a block of `size` bytes aligned to `align`.
#[inline(always)]
fn plain(size: usize, align: usize) -> bool {
    align <= MI_MAX_ALIGN_SIZE && align <= size
}

/// mimalloc, with the plain entry points where they suffice (see the module docs).
pub struct Mimalloc;

// SAFETY (for every method): mimalloc's functions are thread-safe and return null on
// failure, as `GlobalAlloc` requires. The plain ones are used only when `plain` holds,
// when their block is aligned as `layout` asks (module docs); otherwise the aligned ones
// are, exactly as `mimalloc::MiMalloc` calls them. `mi_free` and the `realloc`s take any
// block mimalloc returned, from either kind of entry point.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Mimalloc {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if plain(layout.size(), layout.align()) {
            mi::mi_malloc(layout.size()) as *mut u8
        } else {
            mi::mi_malloc_aligned(layout.size(), layout.align()) as *mut u8
        }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if plain(layout.size(), layout.align()) {
            mi::mi_zalloc(layout.size()) as *mut u8
        } else {
            mi::mi_zalloc_aligned(layout.size(), layout.align()) as *mut u8
        }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
        mi::mi_free(ptr as *mut c_void)
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if plain(new_size, layout.align()) {
            mi::mi_realloc(ptr as *mut c_void, new_size) as *mut u8
        } else {
            mi::mi_realloc_aligned(ptr as *mut c_void, new_size, layout.align()) as *mut u8
        }
    }
}

#[cfg(test)]
#[allow(unsafe_code)]
mod tests {
    use super::*;

    /// Sizes around every small size class and the page-size boundaries.
    fn sizes() -> impl Iterator<Item = usize> {
        (1..=300).chain((300..70_000).step_by(211)).chain([
            1023,
            1024,
            1025,
            2240,
            4095,
            4096,
            4097,
            65_536,
            65_537,
            1 << 20,
        ])
    }

    /// Every block is aligned as asked and usable over its whole size, by either entry
    /// point, zeroed when asked, and keeps its contents through `realloc`.
    #[test]
    fn blocks_are_aligned_and_usable_for_every_layout() {
        let a = Mimalloc;
        for align in [1, 2, 4, 8, 16, 32, 64, 4096] {
            let mut live = Vec::new();
            for size in sizes() {
                let layout = Layout::from_size_align(size, align).unwrap();
                // SAFETY: a non-zero size; each block is written within its size and
                // freed once with its own layout.
                unsafe {
                    let p = a.alloc(layout);
                    assert!(!p.is_null());
                    assert_eq!(p as usize % align, 0, "size {size} align {align}");
                    std::ptr::write_bytes(p, 0xa5, size);
                    let z = a.alloc_zeroed(layout);
                    assert_eq!(z as usize % align, 0, "zeroed: size {size} align {align}");
                    assert!(std::slice::from_raw_parts(z, size).iter().all(|b| *b == 0));
                    let grown = size * 2 + 8;
                    let r = a.realloc(p, layout, grown);
                    assert_eq!(r as usize % align, 0, "realloc: size {size} align {align}");
                    let kept = std::slice::from_raw_parts(r, size);
                    assert!(kept.iter().all(|b| *b == 0xa5), "realloc lost the contents");
                    live.push((r, Layout::from_size_align(grown, align).unwrap()));
                    live.push((z, layout));
                }
            }
            for (p, layout) in live {
                // SAFETY: allocated above with this layout, freed once.
                unsafe { a.dealloc(p, layout) };
            }
        }
    }

    #[test]
    fn the_plain_path_is_taken_only_where_mimalloc_aligns_on_its_own() {
        assert!(plain(16, 16) && plain(2240, 8) && plain(1, 1) && plain(8, 8));
        assert!(!plain(8, 16), "a block under 16 bytes is only 8-aligned");
        assert!(!plain(64, 32) && !plain(4096, 4096));
    }
}
