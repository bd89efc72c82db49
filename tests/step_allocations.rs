//! Stepping allocates nothing: 10k steps of cheetah-vel (with its time limit and the resets it
//! forces) under a counting global allocator.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use metarl::envs::{make, EnvOptions};

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator, only counting calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        System.alloc(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn ten_thousand_steps_allocate_nothing() {
    for name in ["cheetah-vel", "ant-goal", "humanoid-dir", "walker-rand-params", "point-robot-wind"] {
        let mut env = make(name, &EnvOptions::default()).unwrap();
        let dim = env.action_space().dim();
        let actions: Vec<Vec<f64>> = (0..97).map(|i| (0..dim).map(|j| ((i * 7 + j * 3) % 11) as f64 / 11.0 - 0.5).collect()).collect();
        env.reset().unwrap();
        let before = ALLOCATIONS.load(Ordering::Relaxed);
        let mut resets = 0;
        for t in 0..10_000 {
            if env.step(&actions[t % actions.len()]).unwrap().done() {
                env.reset().unwrap();
                resets += 1;
            }
        }
        let allocations = ALLOCATIONS.load(Ordering::Relaxed) - before;
        assert_eq!(allocations, 0, "{name}: {allocations} allocations in 10k steps and {resets} resets");
    }
}
