//! Streaming hashing keeps memory bounded: the peak number of heap bytes
//! allocated while hashing N boundary states does not grow with N.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

use trace_vm::commit::{DType, TensorHeader, TraceHasher};

struct Counting;
static CUR: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(l) };
        if !p.is_null() {
            let c = CUR.fetch_add(l.size(), Relaxed) + l.size();
            PEAK.fetch_max(c, Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { System.dealloc(p, l) };
        CUR.fetch_sub(l.size(), Relaxed);
    }
}

#[global_allocator]
static A: Counting = Counting;

/// Peak heap bytes above the level at the start, for hashing `states` states
/// of `per_state` tensors each (one reused live tensor buffer of `bytes`).
fn peak_for(states: usize, per_state: usize, tensor: &[u8]) -> (usize, usize) {
    let h = TensorHeader::new(DType::F32, &[(tensor.len() / 4) as u64]);
    let base = CUR.load(Relaxed);
    PEAK.store(base, Relaxed);
    let mut th = TraceHasher::new(false);
    let mut max_held = 0;
    for _ in 0..states {
        for id in 0..per_state {
            th.tensor(id as u32, &h, tensor)
                .expect("tensor matches its header");
        }
        th.end_state();
        max_held = max_held.max(th.held_bytes());
    }
    let c = th.finish();
    assert_eq!(c.n_states, states as u64);
    (PEAK.load(Relaxed) - base, max_held)
}

#[test]
fn peak_memory_does_not_grow_with_tensor_count() {
    let small = vec![7u8; 4 << 10];
    let (p10, h10) = peak_for(10, 4, &small);
    let (p2000, h2000) = peak_for(2000, 4, &small);
    println!(
        "4 KiB tensors: peak {p10} B for 40 tensors, {p2000} B for 8000; hasher holds {h10} / {h2000} B"
    );
    // O(log n) stacks only: a few hundred bytes of growth at most, no per-tensor growth.
    assert!(p2000 <= p10 + 2048, "peak grew from {p10} to {p2000}");
    assert!(h2000 <= h10 + 2048);
    // large tensors are hashed on several threads; still no growth with their number
    let big = vec![1u8; 4 << 20];
    let (b2, _) = peak_for(2, 1, &big);
    let (b12, _) = peak_for(6, 1, &big);
    println!("4 MiB tensors: peak {b2} B for 2 tensors, {b12} B for 6");
    assert!(b12 <= b2 + 4096, "peak grew from {b2} to {b12}");
    assert!(b12 < 1 << 20, "hashing a 4 MiB tensor allocated {b12} B");
}
