//! Keeping a run's idle workers polling for its pieces between ops.
//!
//! A decode step is ~130 ops, each split over the run's pool and joined
//! before the next one starts. Between two splits rayon's idle workers go
//! to sleep, and waking one costs tens of microseconds on a VM, as much as
//! a small matrix-vector product: on two cores, Gemma-3's 1024 x 640
//! projection ran only 1.15x faster on two threads than on one, and a
//! whole generation 1.37x. While a [`KeepBusy`] is alive, every other
//! worker of the pool polls for work instead (`rayon::yield_now`, which
//! steals), so a split starts on every core at once: 1.93x and 1.68x.
//!
//! Polling burns a core, so it is bounded: a worker stops after
//! [`IDLE_LIMIT`] without work (a worker that waits that long for its turn
//! on a busy machine stops too) and then sleeps as usual, and no worker
//! polls while another run of this process is in progress, so concurrent
//! re-executions (the watcher's) never compete with pollers.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// How long a worker polls without finding work before it goes to sleep:
/// longer than the gaps between the parallel ops of a decode step (tens of
/// microseconds), short next to a run.
const IDLE_LIMIT: Duration = Duration::from_millis(2);

/// Runs in progress in this process (each holds a [`KeepBusy`]).
static RUNS: AtomicUsize = AtomicUsize::new(0);

/// Workers polling right now (what the tests observe).
static POLLING: AtomicUsize = AtomicUsize::new(0);

/// Polling by the other workers of the current pool, until dropped.
pub(super) struct KeepBusy(Arc<AtomicBool>);

impl KeepBusy {
    /// Start polling on every worker of `pool` but the calling one (the
    /// run's own, which must be a worker of `pool`).
    pub(super) fn start(pool: &rayon::ThreadPool) -> Self {
        RUNS.fetch_add(1, Ordering::SeqCst);
        let done = Arc::new(AtomicBool::new(false));
        let me = rayon::current_thread_index();
        let flag = Arc::clone(&done);
        pool.spawn_broadcast(move |ctx| {
            // The run's own worker meets this job only while it waits for
            // a piece; polling there would never return to the run.
            if Some(ctx.index()) != me {
                poll(&flag);
            }
        });
        Self(done)
    }
}

impl Drop for KeepBusy {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Release);
        RUNS.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Execute the pool's pending pieces as they appear, until `done`, until
/// [`IDLE_LIMIT`] passes without any, or while another run is in progress.
fn poll(done: &AtomicBool) {
    POLLING.fetch_add(1, Ordering::SeqCst);
    poll_until(done);
    POLLING.fetch_sub(1, Ordering::SeqCst);
}

fn poll_until(done: &AtomicBool) {
    let mut idle_since = Instant::now();
    let mut misses = 0u32;
    while !done.load(Ordering::Acquire) && RUNS.load(Ordering::Relaxed) == 1 {
        if rayon::yield_now() == Some(rayon::Yield::Executed) {
            misses = 0;
            idle_since = Instant::now();
            continue;
        }
        misses += 1;
        if misses.is_multiple_of(64) {
            if idle_since.elapsed() > IDLE_LIMIT {
                return;
            }
            std::thread::yield_now();
        } else {
            std::hint::spin_loop();
        }
    }
}

#[cfg(test)]
mod tests {
    use rayon::prelude::*;

    use super::*;

    /// A pool of `n` workers.
    fn pool(n: usize) -> rayon::ThreadPool {
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build()
            .expect("a thread pool")
    }

    /// Whether `f` holds within a second.
    fn within_a_second(f: impl Fn() -> bool) -> bool {
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(1) {
            if f() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        false
    }

    fn polling() -> usize {
        POLLING.load(Ordering::SeqCst)
    }

    // One test, so that no other run of this test binary is in progress
    // while it counts pollers.
    #[test]
    fn other_workers_poll_while_the_run_lasts_and_no_longer() {
        // Two workers each: more busy threads than this machine's cores
        // would take turns, and a worker waiting for its turn longer than
        // IDLE_LIMIT counts as idle.
        let (a, b) = (pool(2), pool(2));
        a.install(|| {
            let busy = KeepBusy::start(&a);
            assert!(within_a_second(|| polling() == 1), "the other worker polls");
            let sum: u64 = (0..1_000_000u64).into_par_iter().sum();
            assert_eq!(sum, 499_999_500_000, "work still gets done");
            drop(busy);
            assert!(
                within_a_second(|| polling() == 0),
                "the run ended: no poller"
            );

            // Pieces keep coming, so a's workers never idle; still, once a
            // second run starts, they stop polling.
            let _busy = KeepBusy::start(&a);
            assert!(within_a_second(|| polling() == 1));
            let other = b.install(|| KeepBusy::start(&b));
            let start = Instant::now();
            while polling() > 0 && start.elapsed() < Duration::from_secs(1) {
                let sum: u64 = (0..100_000u64).into_par_iter().sum();
                assert_eq!(sum, 4_999_950_000);
            }
            assert_eq!(polling(), 0, "two runs in progress: nobody polls");
            drop(other);
        });

        a.install(|| {
            let _busy = KeepBusy::start(&a);
            assert!(within_a_second(|| polling() == 1));
            std::thread::sleep(IDLE_LIMIT * 20);
            assert_eq!(polling(), 0, "idle pollers go to sleep");
        });
    }
}
