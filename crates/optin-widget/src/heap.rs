//! A small allocator for the widget's wasm build, in place of std's dlmalloc.
//!
//! Power-of-two size classes, each with a free list threaded through its free
//! blocks; new blocks come from a bump region grown with `memory.grow`. Freed
//! blocks are reused by the next allocation of the same class, so a page that
//! keeps the widget open for hours does not grow. Wasm pages run one thread.

use core::{
    alloc::{GlobalAlloc, Layout},
    cell::UnsafeCell,
    ptr::null_mut,
};

const PAGE: usize = 65_536;
const MIN_CLASS: u32 = 4; // 16 bytes: room for the free-list link at any alignment ≤ 16
const CLASSES: usize = 32;

struct State {
    free: [*mut u8; CLASSES],
    next: usize,
    end: usize,
}

/// The global allocator.
pub struct Heap(UnsafeCell<State>);

// SAFETY: wasm32-unknown-unknown without atomics is single-threaded.
unsafe impl Sync for Heap {}

impl Default for Heap {
    fn default() -> Heap {
        Heap::new()
    }
}

impl Heap {
    /// An empty heap; memory is taken on first use.
    pub const fn new() -> Heap {
        Heap(UnsafeCell::new(State {
            free: [null_mut(); CLASSES],
            next: 0,
            end: 0,
        }))
    }
}

fn class(layout: Layout) -> usize {
    let size = layout.size().max(layout.align()).max(1 << MIN_CLASS);
    (usize::BITS - (size - 1).leading_zeros()) as usize
}

unsafe impl GlobalAlloc for Heap {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let s = &mut *self.0.get();
        let c = class(layout);
        if c >= CLASSES {
            return null_mut();
        }
        let head = s.free[c];
        if !head.is_null() {
            s.free[c] = *(head as *mut *mut u8);
            return head;
        }
        let size = 1usize << c;
        let start = (s.next + size.min(PAGE) - 1) & !(size.min(PAGE) - 1);
        if start + size > s.end || s.end == 0 {
            let pages = size.div_ceil(PAGE) + 1;
            let prev = core::arch::wasm32::memory_grow(0, pages);
            if prev == usize::MAX {
                return null_mut();
            }
            let base = prev * PAGE;
            if base != s.end {
                s.next = base;
            }
            s.end = base + pages * PAGE;
            return self.alloc(layout);
        }
        s.next = start + size;
        start as *mut u8
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        let s = &mut *self.0.get();
        let c = class(layout);
        *(ptr as *mut *mut u8) = s.free[c];
        s.free[c] = ptr;
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let new = Layout::from_size_align_unchecked(new_size, layout.align());
        if class(new) == class(layout) {
            return ptr;
        }
        let out = self.alloc(new);
        if !out.is_null() {
            core::ptr::copy_nonoverlapping(ptr, out, layout.size().min(new_size));
            self.dealloc(ptr, layout);
        }
        out
    }
}
