//! What parallelism costs on this machine, measured once, lazily.
//!
//! The policy needs the fixed cost of one parallel call. It varies a lot between
//! machines (an idle pool on a shared 2-vCPU VM takes 40–120 µs to wake; a quiet
//! workstation, a few µs), so it is measured the first time a decision could go
//! parallel — never for loops that are obviously too small. The measurement waits for
//! no particular thread of rayon's pool (any of them may be blocked in user code) and
//! gives up after a few milliseconds.

use std::sync::{Arc, Condvar, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use crate::exec::cpu;
use crate::exec::io_pool::{self, IoPool};
use crate::policy::Machine;

/// Costs that are measured once per process.
#[derive(Clone, Copy, Debug)]
struct Calibration {
    cpu_fork_ns: f64,
}

/// Bounds on the measured fork cost: below, timer noise; above, a stall while measuring.
const FORK_NS_RANGE: (f64, f64) = (5_000.0, 300_000.0);
/// Scheduling cost of one rayon task (a `join` from inside a worker is ~30–50 ns, a
/// stolen task costs more: a cache miss and an atomic or two).
const CPU_TASK_NS: f64 = 300.0;
/// Caller-side cost of handing one job to an I/O worker (a channel send and a wake-up).
const IO_WORKER_NS: f64 = 3_000.0;

/// What a loop decided on a pool thread assumes until a thread outside the pools has
/// measured the machine: the middle of the range measured on shared 2-vCPU machines.
const UNMEASURED: Calibration = Calibration {
    cpu_fork_ns: 50_000.0,
};

fn calibration() -> Calibration {
    static CALIBRATION: OnceLock<Calibration> = OnceLock::new();
    // Pool threads never measure: a measurement from inside the pool would count its own
    // thread as a helper, and an I/O worker's caller may be a rayon worker waiting on it.
    if rayon::current_thread_index().is_some() || io_pool::on_worker_thread() {
        return CALIBRATION.get().copied().unwrap_or(UNMEASURED);
    }
    *CALIBRATION.get_or_init(|| {
        if !cpu::global_pool_runs() {
            return Calibration {
                cpu_fork_ns: FORK_NS_RANGE.1,
            };
        }
        // The first round also starts rayon's threads, which can take milliseconds.
        let _ = fork_round_trip(cpu::threads(), FIRST_ROUND_PATIENCE);
        let mut samples: Vec<f64> = (0..5)
            .map(|_| fork_round_trip(cpu::threads(), ROUND_PATIENCE))
            .collect();
        samples.sort_by(f64::total_cmp);
        let median = samples[samples.len() / 2];
        Calibration {
            cpu_fork_ns: median.clamp(FORK_NS_RANGE.0, FORK_NS_RANGE.1),
        }
    })
}

/// How long the first measuring round waits for rayon's threads (it starts them).
const FIRST_ROUND_PATIENCE: Duration = Duration::from_millis(20);
/// How long a measuring round waits: past the top of [`FORK_NS_RANGE`], the answer is
/// the top of the range anyway.
const ROUND_PATIENCE: Duration = Duration::from_millis(2);

/// Nanoseconds until `threads - 1` empty jobs handed to rayon's global pool have run:
/// the wake-up a parallel call pays before its helpers work. Waits at most `patience`
/// (and then reports that long): a pool thread may be blocked on something that only
/// this thread will provide later (a `rayon::spawn`ed job waiting on a channel), so the
/// measurement must never wait for any particular pool thread, nor for all of them. Jobs
/// that run after the deadline find nobody waiting and do nothing.
fn fork_round_trip(threads: usize, patience: Duration) -> f64 {
    let jobs = threads.saturating_sub(1).max(1);
    let left = Arc::new((Mutex::new(jobs), Condvar::new()));
    let start = Instant::now();
    for _ in 0..jobs {
        let left = Arc::clone(&left);
        rayon::spawn(move || {
            let (count, done) = &*left;
            let mut count = count.lock().unwrap_or_else(PoisonError::into_inner);
            *count -= 1;
            if *count == 0 {
                done.notify_one();
            }
        });
    }
    let (count, done) = &*left;
    let count = count.lock().unwrap_or_else(PoisonError::into_inner);
    let _ = done
        .wait_timeout_while(count, patience, |left| *left > 0)
        .unwrap_or_else(PoisonError::into_inner);
    start.elapsed().as_nanos() as f64
}

static CORES: OnceLock<usize> = OnceLock::new();

/// Cores available to this process (cached: the first call reads cgroup files, tens to
/// a hundred µs).
pub(crate) fn cores() -> usize {
    *CORES.get_or_init(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    })
}

/// [`cores`] if it has been asked already (free), else `None`.
pub(crate) fn known_cores() -> Option<usize> {
    CORES.get().copied()
}

/// The machine as the policy sees it from the calling thread, for a CPU plan of
/// `cpu_threads` threads.
pub(crate) fn current(cpu_threads: usize) -> Machine {
    let calibration = calibration();
    let pool = IoPool::global();
    let on_cpu_worker = rayon::current_thread_index().is_some();
    // Nesting: inside an I/O worker, the pool's busy workers are taken; inside a rayon
    // worker, a CPU plan costs a `join`, not a wake-up.
    let io_free = pool.max_workers().saturating_sub(pool.busy()).max(1);
    let io_max_workers = if io_pool::on_worker_thread() {
        io_free.min(pool.max_workers() / 4).max(1)
    } else {
        io_free
    };
    Machine {
        cores: cores(),
        cpu_threads,
        cpu_fork_ns: if on_cpu_worker {
            1_000.0
        } else {
            calibration.cpu_fork_ns
        },
        cpu_task_ns: CPU_TASK_NS,
        io_call_ns: calibration.cpu_fork_ns,
        io_worker_ns: IO_WORKER_NS,
        io_max_workers,
    }
}
