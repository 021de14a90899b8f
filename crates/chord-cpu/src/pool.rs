//! A persistent pool of worker threads for data-parallel ops, built for many short jobs: a
//! forward pass dispatches a few hundred jobs of 10–500 µs each, where spawning threads (or
//! waking them through the kernel every time) would cost a large share of the step.
//!
//! `run(job)` calls `job(i, n)` on the caller (`i = 0`) and on every worker that arrives while
//! the job is open. Jobs claim their work dynamically (an atomic counter over chunks), so the
//! caller never waits for a worker the OS has not scheduled yet: when the caller runs out of
//! work it closes the job and waits only for workers that joined it. On a busy machine (other
//! processes on our cores) this keeps a descheduled worker from stalling every op.
//!
//! Workers wait for the next job by spinning on the state word for a short while (the next op
//! of a forward pass starts within microseconds), then sleep on a condition variable, so an
//! idle engine costs no CPU.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::*};
use std::sync::{Arc, Condvar, Mutex, TryLockError};
use std::thread::JoinHandle;

/// The job type: `(thread index, thread count)`. A job must claim its work dynamically: any
/// subset of the threads (at least the caller) may run it.
type Job<'a> = dyn Fn(usize, usize) + Sync + 'a;

/// Spin iterations before a waiting worker goes to sleep (~0.1–1 ms).
const SPIN_LIMIT: u32 = 1 << 14;

/// State word: generation (high 32 bits), open flag, count of workers inside the job.
const OPEN: u64 = 1 << 31;
const COUNT_MASK: u64 = OPEN - 1;

fn generation(s: u64) -> u64 {
    s >> 32
}

struct Shared {
    state: AtomicU64,
    /// The open job (a `&Job` with its lifetime erased); valid while the job is open or any
    /// worker is inside it.
    job: Mutex<Option<JobPtr>>,
    panicked: AtomicBool,
    /// Workers asleep or about to sleep (the dispatcher notifies only when non-zero).
    sleepers: AtomicUsize,
    sleep_lock: Mutex<()>,
    wake: Condvar,
    shutdown: AtomicBool,
}

impl Shared {
    fn new() -> Arc<Shared> {
        Arc::new(Shared {
            state: AtomicU64::new(0),
            job: Mutex::new(None),
            panicked: AtomicBool::new(false),
            sleepers: AtomicUsize::new(0),
            sleep_lock: Mutex::new(()),
            wake: Condvar::new(),
            shutdown: AtomicBool::new(false),
        })
    }
}

#[derive(Clone, Copy)]
struct JobPtr(*const Job<'static>);
// SAFETY: the pointee is `Sync`, and `run` keeps it alive until the job is closed and every
// worker that joined it has left.
unsafe impl Send for JobPtr {}

/// An output buffer shared by the threads of one job. Sound only when every element is written
/// by exactly one thread (work items own disjoint parts) and the buffer outlives the job, which
/// `ThreadPool::run` guarantees by returning only after every thread left the job.
#[derive(Clone, Copy)]
pub(crate) struct SharedOut<T>(*mut T);
// SAFETY: see above.
unsafe impl<T> Send for SharedOut<T> {}
unsafe impl<T> Sync for SharedOut<T> {}

impl<T> SharedOut<T> {
    pub(crate) fn new(buf: &mut [T]) -> Self {
        Self(buf.as_mut_ptr())
    }
    /// The pointer (a method, so closures capture the `Sync` wrapper, not the raw field).
    pub(crate) fn get(self) -> *mut T {
        self.0
    }
}

pub struct ThreadPool {
    shared: Arc<Shared>,
    workers: Vec<JoinHandle<()>>,
    /// One dispatch at a time; a concurrent caller runs its job alone on its own thread.
    dispatch: Mutex<()>,
}

impl ThreadPool {
    /// A pool of `n_threads` (the caller counts as one: `n_threads - 1` workers are spawned).
    pub fn new(n_threads: usize) -> Self {
        let n_workers = n_threads.max(1) - 1;
        let shared = Shared::new();
        let mut workers = Vec::with_capacity(n_workers);
        for index in 1..=n_workers {
            let sh = Arc::clone(&shared);
            match std::thread::Builder::new()
                .name(format!("chord-cpu-{index}"))
                .spawn(move || worker(sh, index, n_workers + 1))
            {
                Ok(h) => workers.push(h),
                Err(_) => break,
            }
        }
        if workers.len() != n_workers {
            // The OS refused a thread: thread indices must be dense, so run without workers
            // (those already started see `shutdown` and exit).
            shared.shutdown.store(true, SeqCst);
            return Self {
                shared: Shared::new(),
                workers: Vec::new(),
                dispatch: Mutex::new(()),
            };
        }
        Self {
            shared,
            workers,
            dispatch: Mutex::new(()),
        }
    }

    /// Threads a job may run on (workers plus the caller).
    pub fn n_threads(&self) -> usize {
        self.workers.len() + 1
    }

    /// Runs `job(i, n)` on the caller (`i = 0`) and on the workers that join in time, and
    /// returns when all of those are done. If another dispatch is in progress (two callers
    /// sharing one backend), the job runs on the caller alone as `job(0, 1)`. A panic in a
    /// worker is re-raised here.
    pub fn run(&self, job: &(dyn Fn(usize, usize) + Sync)) {
        let n = self.n_threads();
        if n == 1 {
            return job(0, 1);
        }
        let _guard = match self.dispatch.try_lock() {
            Ok(g) => g,
            Err(TryLockError::Poisoned(p)) => p.into_inner(),
            Err(TryLockError::WouldBlock) => return job(0, 1),
        };
        let s = &*self.shared;
        // SAFETY: only the lifetime is erased; the job is closed and every worker inside it
        // has left before this function returns (the `Close` guard, also on unwind).
        let ptr = JobPtr(unsafe {
            std::mem::transmute::<*const Job<'_>, *const Job<'static>>(job as *const Job<'_>)
        });
        *s.job.lock().unwrap_or_else(|p| p.into_inner()) = Some(ptr);
        let g = generation(s.state.load(SeqCst)) + 1;
        s.state.store((g << 32) | OPEN, SeqCst);
        if s.sleepers.load(SeqCst) > 0 {
            let _l = s.sleep_lock.lock().unwrap_or_else(|p| p.into_inner());
            s.wake.notify_all();
        }
        struct Close<'a>(&'a Shared);
        impl Drop for Close<'_> {
            fn drop(&mut self) {
                self.0.state.fetch_and(!OPEN, SeqCst);
                let mut spins = 0u32;
                while self.0.state.load(Acquire) & COUNT_MASK != 0 {
                    spins += 1;
                    if spins < SPIN_LIMIT {
                        std::hint::spin_loop();
                    } else {
                        std::thread::yield_now();
                    }
                }
                *self.0.job.lock().unwrap_or_else(|p| p.into_inner()) = None;
            }
        }
        let close = Close(s);
        job(0, n);
        drop(close);
        if s.panicked.swap(false, SeqCst) {
            panic!("a chord-cpu worker thread panicked");
        }
    }
}

fn worker(s: Arc<Shared>, index: usize, n: usize) {
    let mut seen = 0u64;
    loop {
        // Wait for a job newer than the last one seen: spin, then sleep.
        let mut spins = 0u32;
        let joined = loop {
            if s.shutdown.load(Acquire) {
                return;
            }
            let st = s.state.load(Acquire);
            if generation(st) != seen {
                if st & OPEN == 0 {
                    // Closed before we got here: the caller did the work.
                    seen = generation(st);
                    continue;
                }
                if s.state
                    .compare_exchange_weak(st, st + 1, AcqRel, Acquire)
                    .is_ok()
                {
                    seen = generation(st);
                    break true;
                }
                continue;
            }
            spins += 1;
            if spins < SPIN_LIMIT {
                std::hint::spin_loop();
                continue;
            }
            s.sleepers.fetch_add(1, SeqCst);
            let mut l = s.sleep_lock.lock().unwrap_or_else(|p| p.into_inner());
            while generation(s.state.load(SeqCst)) == seen && !s.shutdown.load(SeqCst) {
                l = s.wake.wait(l).unwrap_or_else(|p| p.into_inner());
            }
            drop(l);
            s.sleepers.fetch_sub(1, SeqCst);
            spins = 0;
        };
        if joined {
            let job = *s.job.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(JobPtr(ptr)) = job {
                // SAFETY: we are counted inside the job, so `run` has not returned and the job
                // is alive until our decrement below.
                let f = unsafe { &*ptr };
                if catch_unwind(AssertUnwindSafe(|| f(index, n))).is_err() {
                    s.panicked.store(true, SeqCst);
                }
            }
            s.state.fetch_sub(1, Release);
        }
    }
}

impl Drop for ThreadPool {
    fn drop(&mut self) {
        self.shared.shutdown.store(true, SeqCst);
        {
            let _l = self
                .shared
                .sleep_lock
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            self.shared.wake.notify_all();
        }
        for w in self.workers.drain(..) {
            let _ = w.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    /// Work items claimed from a counter are all done exactly once, whoever joins.
    #[test]
    fn every_item_is_done_once() {
        let pool = ThreadPool::new(3);
        assert_eq!(pool.n_threads(), 3);
        for round in 0..2000 {
            let items: Vec<AtomicUsize> = (0..64).map(|_| AtomicUsize::new(0)).collect();
            let next = AtomicUsize::new(0);
            pool.run(&|i, n| {
                assert!(i < n && n == 3);
                loop {
                    let k = next.fetch_add(1, SeqCst);
                    if k >= items.len() {
                        break;
                    }
                    items[k].fetch_add(1, SeqCst);
                }
            });
            for it in &items {
                assert_eq!(it.load(SeqCst), 1, "round {round}");
            }
            if round == 1000 {
                // Let the workers fall asleep, then wake them with the next job.
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
        }
    }

    /// Workers do join jobs (the pool is not silently single-threaded).
    #[test]
    fn workers_take_part() {
        let pool = ThreadPool::new(2);
        let by_worker = AtomicUsize::new(0);
        for _ in 0..200 {
            pool.run(&|i, _| {
                if i == 1 {
                    by_worker.fetch_add(1, SeqCst);
                }
                // Long enough that a spinning worker arrives before the caller closes.
                std::thread::sleep(std::time::Duration::from_micros(200));
            });
        }
        assert!(by_worker.load(SeqCst) > 0);
    }

    #[test]
    fn a_worker_panic_is_reported_and_the_pool_keeps_working() {
        let pool = ThreadPool::new(2);
        let mut reported = false;
        for _ in 0..50 {
            let r = catch_unwind(AssertUnwindSafe(|| {
                pool.run(&|i, _| {
                    std::thread::sleep(std::time::Duration::from_micros(500));
                    if i == 1 {
                        panic!("boom");
                    }
                })
            }));
            if r.is_err() {
                reported = true;
                break;
            }
        }
        assert!(reported);
        let sum = AtomicUsize::new(0);
        pool.run(&|_, _| {
            sum.fetch_add(1, SeqCst);
        });
        assert!(sum.load(SeqCst) >= 1);
    }

    #[test]
    fn one_thread_runs_inline() {
        let pool = ThreadPool::new(1);
        let sum = AtomicUsize::new(0);
        pool.run(&|i, n| {
            assert_eq!((i, n), (0, 1));
            sum.fetch_add(1, SeqCst);
        });
        assert_eq!(sum.load(SeqCst), 1);
    }
}
