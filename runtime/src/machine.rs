//! What parallelism costs on this machine, measured once, lazily.
//!
//! The policy needs the fixed cost of one parallel call. It varies a lot between
//! machines (an idle pool on a shared 2-vCPU VM takes 40–120 µs to wake; a quiet
//! workstation, a few µs), so it is measured the first time a decision could go
//! parallel — never for loops that are obviously too small.

use std::sync::OnceLock;
use std::time::Instant;

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
    // A rayon worker must never measure nor wait for the measurement: measuring needs
    // every rayon worker to answer, so a worker blocked here (or measuring from inside
    // the pool) would deadlock it. I/O workers keep out too: their callers may be rayon
    // workers waiting on them.
    if rayon::current_thread_index().is_some() || io_pool::on_worker_thread() {
        return CALIBRATION.get().copied().unwrap_or(UNMEASURED);
    }
    *CALIBRATION.get_or_init(|| {
        if !cpu::global_pool_runs() {
            return Calibration {
                cpu_fork_ns: FORK_NS_RANGE.1,
            };
        }
        // Median of a few round trips through every thread of the pool: the wake-up and
        // join a parallel call pays. The first round also starts rayon's threads.
        let mut samples: Vec<f64> = (0..5)
            .map(|_| {
                let start = Instant::now();
                rayon::broadcast(|_| ());
                start.elapsed().as_nanos() as f64
            })
            .collect();
        samples.sort_by(f64::total_cmp);
        let median = samples[samples.len() / 2];
        Calibration {
            cpu_fork_ns: median.clamp(FORK_NS_RANGE.0, FORK_NS_RANGE.1),
        }
    })
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
