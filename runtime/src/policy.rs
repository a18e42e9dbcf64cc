//! The decision policy: a pure function from a measured profile to a [`Plan`].
//!
//! Nothing here reads a clock or touches a thread, so every rule is unit-tested on
//! synthetic profiles. The inputs are what profiling measured ([`Profile`]), how many
//! items are left, what running in parallel costs on this machine ([`Machine`]) and
//! what the user pinned ([`Constraints`]).
//!
//! The model, in one paragraph: sequential time is `n × item_ns`. A CPU plan pays a
//! fork cost (waking the pool, tens of µs on a quiet machine), then divides the CPU work
//! by the threads' effective speedup, plus a scheduling cost per chunk and a tail (the
//! last chunk runs alone). An I/O plan overlaps the *waiting* part of each item across
//! many workers but cannot beat the CPU part divided by the cores; it pays a dispatch
//! cost per worker. The cheapest plan wins, and a parallel plan must beat sequential by
//! a clear margin ([`PARALLEL_MARGIN`], [`MIN_GAIN_NS`]) so borderline sites do not flap.

use std::fmt;

/// What profiling measured about one item of a loop body.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Profile {
    /// Mean wall time of one item, in nanoseconds.
    pub item_ns: f64,
    /// Thread CPU time / wall time while profiling: ~1 for computation, ~0 for sleeping
    /// or blocking I/O.
    pub cpu_fraction: f64,
    /// Coefficient of variation of the per-item time across profiling batches.
    pub spread: f64,
}

/// What parallelism costs on this machine (see `machine.rs` for how it is measured).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Machine {
    /// Cores available to this process.
    pub cores: usize,
    /// Threads of the CPU pool a plan would use.
    pub cpu_threads: usize,
    /// Fixed cost of one parallel call on the CPU pool (waking it and joining), ns.
    pub cpu_fork_ns: f64,
    /// Scheduling cost of one chunk (a task) on the CPU pool, ns.
    pub cpu_task_ns: f64,
    /// Fixed cost of one call on the I/O pool, ns.
    pub io_call_ns: f64,
    /// Caller-side cost of handing work to one more I/O worker, ns.
    pub io_worker_ns: f64,
    /// Most I/O workers this call may use (pool maximum minus what is busy).
    pub io_max_workers: usize,
}

/// What the user pinned with `cpu`/`io`/`seq` and `workers`/`chunk`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Constraints {
    /// The kind of plan forced by the mode, if any (`auto` leaves it `None`).
    pub kind: Option<PlanKind>,
    /// `workers = n`: threads of a CPU plan or workers of an I/O plan.
    pub workers: Option<usize>,
    /// `chunk = n`: items per task.
    pub chunk: Option<usize>,
}

/// The three kinds of plan.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PlanKind {
    /// Inline on the calling thread.
    Sequential,
    /// rayon's CPU pool.
    Cpu,
    /// The I/O pool: many workers for blocking items.
    Io,
}

/// How to run the items of one call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(tag = "kind", rename_all = "snake_case"))]
pub enum Plan {
    /// Run every item on the calling thread, in order.
    Sequential,
    /// Run on the CPU pool with `threads` threads, `chunk` items per task.
    Cpu {
        /// Threads of the pool.
        threads: usize,
        /// Items per task.
        chunk: usize,
    },
    /// Run on the I/O pool with `workers` concurrent workers, `chunk` items per hand-out.
    Io {
        /// Concurrent workers (the calling thread is one of them).
        workers: usize,
        /// Items per hand-out.
        chunk: usize,
    },
}

impl Plan {
    /// The kind of this plan.
    pub fn kind(self) -> PlanKind {
        match self {
            Plan::Sequential => PlanKind::Sequential,
            Plan::Cpu { .. } => PlanKind::Cpu,
            Plan::Io { .. } => PlanKind::Io,
        }
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Plan::Sequential => f.write_str("sequential"),
            Plan::Cpu { threads, chunk } => write!(f, "rayon, chunk {chunk}, {threads} threads"),
            Plan::Io { workers, chunk: 1 } => write!(f, "io pool, {workers} workers"),
            Plan::Io { workers, chunk } => write!(f, "io pool, {workers} workers, chunk {chunk}"),
        }
    }
}

/// A plan with what the model predicts for it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Decision {
    /// The chosen plan.
    pub plan: Plan,
    /// Predicted wall time of the remaining items under `plan`, ns.
    pub predicted_ns: f64,
    /// Predicted wall time of the remaining items run sequentially, ns.
    pub sequential_ns: f64,
}

impl Decision {
    /// Predicted speedup over the sequential loop (1.0 for a sequential plan).
    pub fn speedup(&self) -> f64 {
        if self.predicted_ns > 0.0 {
            (self.sequential_ns / self.predicted_ns).max(0.0)
        } else {
            1.0
        }
    }
}

/// A parallel plan must predict at least this factor below sequential time.
pub const PARALLEL_MARGIN: f64 = 1.25;
/// ...and save at least this much absolute time, ns, so tiny calls never pay a wake-up
/// on a prediction that is within the noise of this machine.
pub const MIN_GAIN_NS: f64 = 30_000.0;
/// Work a CPU task should carry to amortise its scheduling (oneTBB's ~100k cycles).
pub const CPU_TASK_TARGET_NS: f64 = 40_000.0;
/// Tasks per thread a CPU plan aims for, so one slow task does not leave threads idle.
pub const CPU_TASKS_PER_THREAD: usize = 4;
/// ...and with a high spread, where balance matters more than per-task overhead.
pub const CPU_TASKS_PER_THREAD_IRREGULAR: usize = 16;
/// Above this spread (coefficient of variation) a loop counts as irregular.
pub const HIGH_SPREAD: f64 = 0.5;
/// Below this CPU fraction the items mostly wait: an I/O plan with many workers pays.
pub const IO_BOUND_CPU_FRACTION: f64 = 0.3;
/// I/O workers per core beyond `1 ÷ CPU fraction`.
pub const IO_WORKER_HEADROOM: f64 = 2.0;
/// Work an I/O hand-out should carry when items are cheap, ns.
pub const IO_TASK_TARGET_NS: f64 = 20_000.0;
/// Fraction of a second thread that a shared, noisy machine actually delivers.
pub const THREAD_EFFICIENCY: f64 = 0.9;

/// Chooses how to run `n` remaining items whose cost is described by `profile`.
///
/// Pure: the same arguments always give the same decision.
pub fn decide(profile: &Profile, n: usize, machine: &Machine, pinned: &Constraints) -> Decision {
    let item_ns = profile.item_ns.max(0.0);
    let sequential_ns = item_ns * n as f64;
    let sequential = Decision {
        plan: Plan::Sequential,
        predicted_ns: sequential_ns,
        sequential_ns,
    };
    if n <= 1 {
        return match pinned.kind {
            // One item cannot be split; a forced kind still gets a valid plan.
            Some(PlanKind::Cpu) => cpu_plan(profile, n, machine, pinned, sequential_ns),
            Some(PlanKind::Io) => io_plan(profile, n, machine, pinned, sequential_ns),
            _ => sequential,
        };
    }
    match pinned.kind {
        Some(PlanKind::Sequential) => sequential,
        Some(PlanKind::Cpu) => cpu_plan(profile, n, machine, pinned, sequential_ns),
        Some(PlanKind::Io) => io_plan(profile, n, machine, pinned, sequential_ns),
        None => {
            let cpu = cpu_plan(profile, n, machine, pinned, sequential_ns);
            let io = io_plan(profile, n, machine, pinned, sequential_ns);
            // CPU-bound work prefers rayon on a tie: its threads are already there and it
            // composes with nested loops by work stealing.
            let io_is_better = io.predicted_ns * 1.1 < cpu.predicted_ns;
            let best = if io_is_better { io } else { cpu };
            let pays = best.predicted_ns * PARALLEL_MARGIN < sequential_ns
                && sequential_ns - best.predicted_ns > MIN_GAIN_NS;
            if pays { best } else { sequential }
        }
    }
}

/// Fork cost of a CPU pool whose threads are still awake from a recent call, ns.
pub const WARM_FORK_NS: f64 = 5_000.0;
/// A plan tried on trust must predict at least this factor below sequential.
pub const TRIAL_MARGIN: f64 = 1.15;

/// The parallel plan worth *trying* at a site where [`decide`] chose sequential only
/// because the pool may be asleep.
///
/// The fork cost `decide` charges is that of a pool woken from sleep. A loop called
/// over and over keeps the pool awake, and then parallel pays far earlier. No model can
/// know which case a site is in, so the engine tries this plan now and then on warm
/// calls and keeps it only if it measures faster than the sequential calls.
pub fn trial(
    profile: &Profile,
    n: usize,
    machine: &Machine,
    pinned: &Constraints,
) -> Option<Decision> {
    if pinned.kind.is_some() || n <= 1 {
        return None;
    }
    let warm = Machine {
        cpu_fork_ns: machine.cpu_fork_ns.min(WARM_FORK_NS),
        ..*machine
    };
    let sequential_ns = profile.item_ns.max(0.0) * n as f64;
    let cpu = cpu_plan(profile, n, &warm, pinned, sequential_ns);
    (cpu.predicted_ns * TRIAL_MARGIN < sequential_ns).then_some(cpu)
}

/// The outcome of a finished trial run (see [`trial`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TrialVerdict {
    /// The median ns per item of the calls with the tried plan.
    pub ns_per_item: f64,
    /// The median ns per item of the reference calls, with the site's plan.
    pub reference_ns_per_item: f64,
    /// Whether the tried plan replaces the site's plan.
    pub keep: bool,
}

/// Judges a trial run: the tried plan is kept if the median ns per item of its calls is
/// [`TRIAL_MARGIN`] below the median of the reference calls, made with the site's plan
/// just before, back to back like the tried ones.
///
/// Medians, not best calls: the best of eight noisy parallel calls against a typical
/// sequential call kept plans that ran slower than sequential on most calls. A median
/// also ignores the few calls of a run that found the pool asleep.
///
/// ```
/// use autopar::policy::trial_verdict;
/// let reference = [100.0, 101.0, 99.0, 100.0, 140.0, 100.0, 98.0, 102.0];
/// // One lucky call of eight does not make a plan faster.
/// let lucky = [40.0, 120.0, 118.0, 125.0, 121.0, 119.0, 130.0, 122.0];
/// assert!(!trial_verdict(&lucky, &reference).keep);
/// // Most calls 1.15× faster or more: kept, two slow (asleep) pool calls or not.
/// let faster = [80.0, 82.0, 400.0, 79.0, 81.0, 300.0, 80.0, 83.0];
/// let verdict = trial_verdict(&faster, &reference);
/// assert!(verdict.keep);
/// assert_eq!((verdict.ns_per_item, verdict.reference_ns_per_item), (81.5, 100.0));
/// ```
pub fn trial_verdict(calls_ns_per_item: &[f64], reference_ns_per_item: &[f64]) -> TrialVerdict {
    let ns_per_item = median(calls_ns_per_item);
    let reference_ns_per_item = median(reference_ns_per_item);
    TrialVerdict {
        ns_per_item,
        reference_ns_per_item,
        keep: ns_per_item * TRIAL_MARGIN < reference_ns_per_item,
    }
}

/// The median of `values` (the mean of the middle two for an even count); NaN if empty.
fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_unstable_by(f64::total_cmp);
    let n = sorted.len();
    match n {
        0 => f64::NAN,
        _ if n % 2 == 1 => sorted[n / 2],
        _ => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

/// The best CPU-pool plan for `n` items.
fn cpu_plan(
    profile: &Profile,
    n: usize,
    machine: &Machine,
    pinned: &Constraints,
    sequential_ns: f64,
) -> Decision {
    let threads = pinned.workers.unwrap_or(machine.cpu_threads).max(1);
    let item_ns = profile.item_ns.max(1e-3);
    let chunk = pinned.chunk.unwrap_or_else(|| {
        let per_thread = if profile.spread > HIGH_SPREAD {
            CPU_TASKS_PER_THREAD_IRREGULAR
        } else {
            CPU_TASKS_PER_THREAD
        };
        // Irregular items get shorter tasks: a long task that happens to hold the
        // slow items would run alone at the end.
        let target_ns = CPU_TASK_TARGET_NS / (1.0 + profile.spread.min(4.0));
        let for_overhead = (target_ns / item_ns).ceil() as usize;
        let for_balance = n / (threads * per_thread);
        for_overhead.min(for_balance).max(1)
    });
    let chunk = chunk.clamp(1, n.max(1));
    let tasks = n.div_ceil(chunk);
    let usable = threads.min(tasks).min(machine.cores.max(1)).max(1);
    let speedup = effective_threads(usable);
    let tail_ns = chunk as f64 * item_ns * (0.5 + profile.spread.min(4.0) / 2.0);
    let predicted_ns = machine.cpu_fork_ns
        + sequential_ns / speedup
        + tasks as f64 * machine.cpu_task_ns / usable as f64
        + if usable > 1 { tail_ns } else { 0.0 };
    Decision {
        plan: Plan::Cpu { threads, chunk },
        predicted_ns,
        sequential_ns,
    }
}

/// The best I/O-pool plan for `n` items.
fn io_plan(
    profile: &Profile,
    n: usize,
    machine: &Machine,
    pinned: &Constraints,
    sequential_ns: f64,
) -> Decision {
    let cpu_fraction = profile.cpu_fraction.clamp(0.01, 1.0);
    // The CPU this plan may use: the cores, or fewer if the user sized rayon's pool
    // smaller (RAYON_NUM_THREADS is how Rust programs say "use this many cores").
    let cores = machine.cores.min(machine.cpu_threads).max(1);
    let cap = machine.io_max_workers.max(1).min(n.max(1));
    let workers = match pinned.workers {
        Some(w) => w.clamp(1, machine.io_max_workers.max(1)),
        // Enough workers that the waiting of the others keeps every core busy, with
        // headroom: the measured CPU fraction of a short blocking item includes fixed
        // syscall and timer costs that do not grow with more workers.
        None => ((IO_WORKER_HEADROOM * cores as f64 / cpu_fraction).ceil() as usize).clamp(1, cap),
    };
    let item_ns = profile.item_ns.max(1e-3);
    let chunk = pinned.chunk.unwrap_or_else(|| {
        let for_overhead = (IO_TASK_TARGET_NS / item_ns).ceil() as usize;
        let for_balance = (n / (workers * 2)).max(1);
        for_overhead.min(for_balance).max(1)
    });
    let hand_outs = n.div_ceil(chunk.max(1));
    let active = workers.min(hand_outs).max(1);
    let waiting_bound = sequential_ns / active as f64;
    let cpu_bound = sequential_ns * cpu_fraction / effective_threads(cores.min(active));
    let tail_ns = if active > 1 {
        chunk as f64 * item_ns / 2.0
    } else {
        0.0
    };
    let predicted_ns = machine.io_call_ns
        + active as f64 * machine.io_worker_ns
        + waiting_bound.max(cpu_bound)
        + tail_ns;
    Decision {
        plan: Plan::Io {
            workers,
            chunk: chunk.max(1),
        },
        predicted_ns,
        sequential_ns,
    }
}

/// What `threads` threads deliver on a shared machine, in units of one thread.
fn effective_threads(threads: usize) -> f64 {
    1.0 + threads.saturating_sub(1) as f64 * THREAD_EFFICIENCY
}

/// Whether a profile says the items mostly wait rather than compute.
pub fn is_io_bound(profile: &Profile) -> bool {
    profile.cpu_fraction < IO_BOUND_CPU_FRACTION
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trial_is_judged_by_its_median_call_against_the_reference_median() {
        let reference = [100.0, 20.0, 500.0];
        let odd = trial_verdict(&[90.0, 10.0, 80.0], &reference);
        assert_eq!((odd.ns_per_item, odd.reference_ns_per_item), (80.0, 100.0));
        assert!(odd.keep, "80 × 1.15 < 100");
        assert!(
            !trial_verdict(&[90.0, 10.0, 88.0], &reference).keep,
            "88 × 1.15 > 100"
        );
        assert!(!trial_verdict(&[], &reference).keep, "no tried call");
        assert!(!trial_verdict(&[1.0], &[]).keep, "no reference call");
    }

    /// The 2-core machine of `shared/notes/machine-and-anchors.md`.
    fn two_cores() -> Machine {
        Machine {
            cores: 2,
            cpu_threads: 2,
            cpu_fork_ns: 50_000.0,
            cpu_task_ns: 500.0,
            io_call_ns: 50_000.0,
            io_worker_ns: 3_000.0,
            io_max_workers: 256,
        }
    }

    fn sixteen_cores() -> Machine {
        Machine {
            cores: 16,
            cpu_threads: 16,
            ..two_cores()
        }
    }

    fn cpu(item_ns: f64) -> Profile {
        Profile {
            item_ns,
            cpu_fraction: 1.0,
            spread: 0.05,
        }
    }

    fn sleepy(item_ns: f64) -> Profile {
        Profile {
            item_ns,
            cpu_fraction: 0.03,
            spread: 0.05,
        }
    }

    fn auto() -> Constraints {
        Constraints::default()
    }

    /// Table of (name, profile, n, machine, expected kind).
    #[test]
    fn kinds_on_synthetic_profiles() {
        let m2 = two_cores();
        let m16 = sixteen_cores();
        let mixed = Profile {
            item_ns: 100_000.0,
            cpu_fraction: 0.5,
            spread: 0.1,
        };
        let table: &[(&str, Profile, usize, Machine, PlanKind)] = &[
            ("tiny n, cheap", cpu(5.0), 10, m2, PlanKind::Sequential),
            ("1000 × 5 ns", cpu(5.0), 1_000, m2, PlanKind::Sequential),
            (
                "20k × 5 ns (0.1 ms)",
                cpu(5.0),
                20_000,
                m2,
                PlanKind::Sequential,
            ),
            ("1M × 5 ns (5 ms)", cpu(5.0), 1_000_000, m2, PlanKind::Cpu),
            (
                "10M × 5 ns (50 ms)",
                cpu(5.0),
                10_000_000,
                m2,
                PlanKind::Cpu,
            ),
            ("10 × 1 µs", cpu(1_000.0), 10, m2, PlanKind::Sequential),
            ("100 × 1 µs", cpu(1_000.0), 100, m2, PlanKind::Sequential),
            ("1000 × 1 µs (1 ms)", cpu(1_000.0), 1_000, m2, PlanKind::Cpu),
            ("100k × 10 µs", cpu(10_000.0), 100_000, m2, PlanKind::Cpu),
            ("2 × 50 ms", cpu(50e6), 2, m2, PlanKind::Cpu),
            ("single item", cpu(50e6), 1, m2, PlanKind::Sequential),
            ("200 × 1 ms sleep", sleepy(1e6), 200, m2, PlanKind::Io),
            ("1000 × 100 µs sleep", sleepy(1e5), 1_000, m2, PlanKind::Io),
            ("3 × 10 µs sleep", sleepy(1e4), 3, m2, PlanKind::Sequential),
            ("mixed half cpu", mixed, 1_000, m2, PlanKind::Io),
            (
                "16 cores, 1000 × 1 µs",
                cpu(1_000.0),
                1_000,
                m16,
                PlanKind::Cpu,
            ),
        ];
        for (name, profile, n, machine, want) in table {
            let got = decide(profile, *n, machine, &auto());
            assert_eq!(got.plan.kind(), *want, "{name}: {got:?}");
        }
    }

    #[test]
    fn parallel_plans_predict_a_real_gain() {
        for n in [1_000, 10_000, 100_000, 1_000_000, 10_000_000] {
            for item_ns in [1.0, 10.0, 100.0, 1e3, 1e4, 1e5, 1e6] {
                for profile in [cpu(item_ns), sleepy(item_ns)] {
                    let d = decide(&profile, n, &two_cores(), &auto());
                    if d.plan != Plan::Sequential {
                        assert!(d.speedup() >= PARALLEL_MARGIN, "{profile:?} n={n}: {d:?}");
                        assert!(d.sequential_ns - d.predicted_ns > MIN_GAIN_NS);
                    }
                }
            }
        }
    }

    #[test]
    fn cpu_chunks_amortise_scheduling_and_leave_tasks_for_balance() {
        let m = two_cores();
        // 1M × 10 ns: a task must carry ≥ CPU_TASK_TARGET_NS of work...
        let Plan::Cpu { chunk, threads } = decide(&cpu(10.0), 10_000_000, &m, &auto()).plan else {
            panic!("expected a CPU plan");
        };
        assert_eq!(threads, 2);
        let task_ns = chunk as f64 * 10.0;
        assert!(
            (0.8 * CPU_TASK_TARGET_NS..=CPU_TASK_TARGET_NS).contains(&task_ns),
            "{chunk}"
        );
        // ...but never so few tasks that a thread idles: ≥ 4 per thread.
        let Plan::Cpu { chunk, .. } = decide(&cpu(1e6), 100, &m, &auto()).plan else {
            panic!("expected a CPU plan");
        };
        assert!(
            100usize.div_ceil(chunk) >= 2 * CPU_TASKS_PER_THREAD,
            "chunk {chunk}"
        );
    }

    #[test]
    fn high_spread_gives_smaller_chunks() {
        let m = two_cores();
        let regular = cpu(2_000.0);
        let irregular = Profile {
            spread: 2.0,
            ..regular
        };
        let chunk_of = |p: &Profile| match decide(p, 10_000, &m, &auto()).plan {
            Plan::Cpu { chunk, .. } => chunk,
            other => panic!("expected a CPU plan, got {other:?}"),
        };
        assert!(chunk_of(&irregular) < chunk_of(&regular));
    }

    #[test]
    fn io_workers_scale_with_the_waiting_fraction_and_respect_the_caps() {
        let m = two_cores();
        let Plan::Io { workers, chunk } = decide(&sleepy(1e6), 1_000, &m, &auto()).plan else {
            panic!("expected an I/O plan");
        };
        // headroom × cores ÷ CPU fraction = 2 × 2 / 0.03 ≈ 134.
        assert_eq!(workers, 134);
        assert_eq!(chunk, 1);
        // Never more workers than items...
        let Plan::Io { workers, .. } = decide(&sleepy(1e6), 20, &m, &auto()).plan else {
            panic!("expected an I/O plan");
        };
        assert_eq!(workers, 20);
        // ...nor than the pool allows.
        let small_pool = Machine {
            io_max_workers: 8,
            ..m
        };
        let Plan::Io { workers, .. } = decide(&sleepy(1e6), 1_000, &small_pool, &auto()).plan
        else {
            panic!("expected an I/O plan");
        };
        assert_eq!(workers, 8);
    }

    #[test]
    fn a_smaller_cpu_pool_is_the_cpu_budget_of_io_plans_too() {
        // RAYON_NUM_THREADS=1 on 16 cores: CPU-bound work must not spread over 16 I/O
        // workers behind the user's back.
        let one_thread = Machine {
            cpu_threads: 1,
            ..sixteen_cores()
        };
        let d = decide(&cpu(50_000.0), 10_000, &one_thread, &auto());
        assert!(d.speedup() < 1.5, "{d:?}");
        // Blocking work still gets many workers.
        let Plan::Io { workers, .. } = decide(&sleepy(1e6), 1_000, &one_thread, &auto()).plan
        else {
            panic!("expected an I/O plan");
        };
        assert!(workers > 16);
    }

    #[test]
    fn pinned_options_win() {
        let m = two_cores();
        let io50 = Constraints {
            kind: Some(PlanKind::Io),
            workers: Some(50),
            chunk: None,
        };
        assert_eq!(
            decide(&cpu(5.0), 10, &m, &io50).plan,
            Plan::Io {
                workers: 50,
                chunk: 1
            }
        );
        let cpu256 = Constraints {
            kind: Some(PlanKind::Cpu),
            workers: None,
            chunk: Some(256),
        };
        assert_eq!(
            decide(&cpu(5.0), 10_000, &m, &cpu256).plan,
            Plan::Cpu {
                threads: 2,
                chunk: 256
            }
        );
        let seq = Constraints {
            kind: Some(PlanKind::Sequential),
            ..auto()
        };
        assert_eq!(decide(&sleepy(1e6), 1_000, &m, &seq).plan, Plan::Sequential);
        // workers above the pool maximum are clamped.
        let huge = Constraints {
            kind: Some(PlanKind::Io),
            workers: Some(100_000),
            chunk: None,
        };
        let Plan::Io { workers, .. } = decide(&sleepy(1e6), 1_000, &m, &huge).plan else {
            panic!("expected an I/O plan");
        };
        assert_eq!(workers, 256);
    }

    #[test]
    fn decisions_do_not_flap_around_the_threshold() {
        // Moving n by ±10% around the crossover changes the plan at most once.
        let m = two_cores();
        let p = cpu(100.0);
        let kinds: Vec<PlanKind> = (1..400)
            .map(|k| decide(&p, k * 100, &m, &auto()).plan.kind())
            .collect();
        let changes = kinds.windows(2).filter(|w| w[0] != w[1]).count();
        assert_eq!(changes, 1, "{kinds:?}");
    }

    #[test]
    fn trials_cover_the_gap_a_warm_pool_opens() {
        let m = two_cores();
        // 10k × 5 ns = 50 µs: sequential by `decide` (a cold wake-up costs ~50 µs)...
        let p = cpu(5.0);
        assert_eq!(decide(&p, 10_000, &m, &auto()).plan, Plan::Sequential);
        // ...but worth trying: a warm pool forks in ~5 µs.
        let t = trial(&p, 10_000, &m, &auto()).expect("a trial plan");
        assert!(matches!(t.plan, Plan::Cpu { .. }));
        // Nothing to try where even a warm pool cannot pay, or the user pinned a mode.
        assert_eq!(trial(&p, 1_000, &m, &auto()), None);
        let pinned = Constraints {
            kind: Some(PlanKind::Sequential),
            ..auto()
        };
        assert_eq!(trial(&p, 10_000, &m, &pinned), None);
    }

    #[test]
    fn more_cores_means_more_speedup_and_io_bound_detection() {
        let p = cpu(1_000.0);
        let d2 = decide(&p, 100_000, &two_cores(), &auto());
        let d16 = decide(&p, 100_000, &sixteen_cores(), &auto());
        assert!(d16.speedup() > 4.0 * d2.speedup() / 2.0, "{d2:?} {d16:?}");
        assert!(is_io_bound(&sleepy(1.0)));
        assert!(!is_io_bound(&cpu(1.0)));
    }
}
