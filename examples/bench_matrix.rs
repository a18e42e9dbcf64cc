//! The benchmark matrix: autopar against the strategies an expert would pick by hand,
//! side by side in one run.
//!
//! ```sh
//! cargo run --release --example bench_matrix                 # full matrix (~5 min on 2 vCPUs)
//! cargo run --release --example bench_matrix -- --quick      # a few small cells (~10 s, CI smoke)
//! cargo run --release --example bench_matrix -- \
//!     --markdown BENCHMARKS.md --svg examples/results/regret.svg --scaling 1,2,4,8,16
//! ```
//!
//! Every cell (workload × input size) runs every strategy, interleaved repetition by
//! repetition so the machine's noise hits them alike, and reports medians. The metric is
//! the *regret*: a strategy's median time divided by the best median of the strategies
//! that do not use autopar (plain loop, rayon default, rayon with the best `with_min_len`
//! of a grid, orx-parallel, and for blocking work rayon `ThreadPool`s and
//! `std::thread::scope` with the best worker count of a grid). 1.00 = as fast as the best
//! expert choice for that cell.
//!
//! autopar runs twice per cell: *cold* (the first call of a loop that has never run:
//! profiling and deciding included) and *warm* (the same loop after a few calls).
//! A cold call must find no cached knowledge: autopar keys what it learns by the
//! source location of `Parallel::auto()` and by the loop body's type, so each cold
//! repetition takes a fresh (location, body type) pair: one of [`SLOTS`] distinct
//! `Parallel::auto()` lines (see [`site`]) × one of the monomorphisations
//! `auto_for_each::<K>` etc., whose closure types differ by `K`. No pair is ever used
//! twice, so every cold call profiles. Process-wide state (rayon's threads, autopar's
//! one-time calibration of the pool's wake-up cost and its I/O pool's threads) is warm,
//! as it is in any program that has run one parallel loop before.
//!
//! Options:
//! - `--quick`: a few small cells, no timing assertions (CI smoke run).
//! - `--reps N`: repetitions per strategy (default 5; medians are reported); cells under
//!   20 ms take 3 × N (cold calls: N).
//! - `--markdown PATH`: write (or update) this machine's section of a BENCHMARKS.md.
//! - `--svg PATH`: write the regret chart.
//! - `--scaling LIST`: also measure speedup vs threads (RAYON_NUM_THREADS = each value)
//!   on a CPU-heavy and an I/O workload, each in a child process.
//! - `--only TEXT`: only the cells whose name contains TEXT.
//! - `--changing-only`: only the "changing cost" section (see `bench_changing.rs`),
//!   which a full run measures after the cells.

#[path = "bench_changing.rs"]
mod changing;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use autopar::Parallel;
use autopar::policy::Plan;
use orx_parallel::{IntoParIter, Par};
use rayon::prelude::*;

// ---------------------------------------------------------------------------------------
// Workloads
// ---------------------------------------------------------------------------------------

/// A deterministic arithmetic kernel: `iters` steps of a dependent multiply / xor-shift
/// chain (~1.5–2 ns a step), so its cost is linear in `iters` and it cannot be
/// vectorised or folded away.
#[inline]
fn spin(seed: u64, iters: u32) -> u64 {
    let mut x = seed | 1;
    for _ in 0..iters {
        x = x
            .wrapping_mul(0x5851_F42D_4C95_7F2D)
            .wrapping_add(0x1405_7B7E_F767_814F);
        x ^= x >> 29;
    }
    x
}

/// A hash of the index: picks the 1% of irregular items that are 100× costlier.
#[inline]
fn mix(i: u64) -> u64 {
    let mut z = i.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The body of the reduction cells: ~0.3 ns, memory-bound on big inputs.
#[inline]
fn sum_item(x: u64) -> u64 {
    x ^ (x >> 3)
}

/// The body of the overhead loop: ~1 ns (two scalar 64-bit multiplies).
#[inline]
fn tiny_item(x: u64) -> u64 {
    (x.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (x >> 29)).wrapping_mul(0xBF58_476D_1CE4_E5B9)
}

#[derive(Clone, Copy, Debug)]
enum Kind {
    /// Uniform CPU work.
    Spin { iters: u32 },
    /// Cost rising linearly with the index (mean `iters`); 1% of items cost 100× the mean.
    Ramp { iters: u32 },
    /// Blocking: sleep this many µs.
    Sleep { us: u64 },
    /// Even items spin, odd items sleep.
    Mixed { iters: u32, us: u64 },
    /// Read a small file from the temp dir (page cache: mostly CPU in the kernel).
    File,
}

/// One item-level workload over the indices `0..n`.
#[derive(Clone, Copy, Debug)]
struct Work {
    kind: Kind,
    n: usize,
    files: &'static [PathBuf],
}

impl Work {
    #[inline]
    fn item(&self, i: usize) -> u64 {
        match self.kind {
            Kind::Spin { iters } => spin(i as u64, iters),
            Kind::Ramp { iters } => {
                let iters = if mix(i as u64).is_multiple_of(100) {
                    iters.saturating_mul(100)
                } else {
                    (2 * iters as u64 * i as u64 / self.n.max(1) as u64) as u32
                };
                spin(i as u64, iters)
            }
            Kind::Sleep { us } => {
                std::thread::sleep(Duration::from_micros(us));
                i as u64
            }
            Kind::Mixed { iters, us } => {
                if i.is_multiple_of(2) {
                    spin(i as u64, iters)
                } else {
                    std::thread::sleep(Duration::from_micros(us));
                    i as u64
                }
            }
            Kind::File => {
                let bytes = std::fs::read(&self.files[i % self.files.len()])
                    .expect("bench_matrix: reading a temp file");
                bytes.len() as u64 + u64::from(bytes[i % bytes.len()])
            }
        }
    }
}

/// What a cell's loop computes.
#[derive(Clone, Copy, Debug)]
enum Shape {
    /// `for i in 0..n { black_box(work.item(i)) }`
    ForEach(Work),
    /// `data.iter().map(sum_item).sum()`
    Sum(&'static [u64]),
    /// `data.iter().map(|x| spin(x, iters)).collect::<Vec<_>>()`, in order.
    Map { data: &'static [u64], iters: u32 },
}

impl Shape {
    fn len(&self) -> usize {
        match self {
            Shape::ForEach(w) => w.n,
            Shape::Sum(data) | Shape::Map { data, .. } => data.len(),
        }
    }
}

/// Digest of a map's output, cheap enough to leave inside the timing (O(1)).
fn map_digest(v: &[u64]) -> u64 {
    match v {
        [] => 0,
        _ => {
            v.len() as u64 ^ v[0] ^ v[v.len() / 2].rotate_left(17) ^ v[v.len() - 1].rotate_left(31)
        }
    }
}

// ---------------------------------------------------------------------------------------
// Fresh autopar call sites, for cold calls (and one per cell for warm calls)
// ---------------------------------------------------------------------------------------

/// Distinct `Parallel::auto()` source locations in [`site`].
const SLOTS: usize = 16;

/// One of [`SLOTS`] distinct call sites: autopar keys its cache by the source location
/// of `Parallel::auto()`, so each arm is a different loop as far as it knows.
///
/// Inlined into the loop functions below, which build their `Parallel` where they call
/// it, as a loop written in place would: a builder handed across a non-inlined call
/// travels through memory, and reading it back right away costs a store-forwarding
/// stall (~4 ns) that no real loop pays.
#[inline(always)]
fn site(slot: usize) -> Parallel {
    match slot {
        0 => Parallel::auto(),
        1 => Parallel::auto(),
        2 => Parallel::auto(),
        3 => Parallel::auto(),
        4 => Parallel::auto(),
        5 => Parallel::auto(),
        6 => Parallel::auto(),
        7 => Parallel::auto(),
        8 => Parallel::auto(),
        9 => Parallel::auto(),
        10 => Parallel::auto(),
        11 => Parallel::auto(),
        12 => Parallel::auto(),
        13 => Parallel::auto(),
        14 => Parallel::auto(),
        15 => Parallel::auto(),
        _ => unreachable!("slot {slot} >= SLOTS"),
    }
}

// The loop bodies, one monomorphisation per `K`: `K` is part of the closure's type, so
// of autopar's per-site key. Each builds its call site `site(at.slot).label(label)`.

fn auto_for_each<const K: usize>(at: FreshSite, label: &'static str, w: Work) {
    site(at.slot).label(label).for_each(0..w.n, |i| {
        black_box(w.item(i));
    });
}

fn auto_sum<const K: usize>(at: FreshSite, label: &'static str, data: &[u64]) -> u64 {
    site(at.slot).label(label).reduce(
        data,
        || 0u64,
        |acc, &x| acc.wrapping_add(sum_item(x)),
        u64::wrapping_add,
    )
}

fn auto_map<const K: usize>(
    at: FreshSite,
    label: &'static str,
    data: &[u64],
    iters: u32,
) -> Vec<u64> {
    site(at.slot).label(label).map(data, |&x| spin(x, iters))
}

fn auto_tiny<const K: usize>(at: FreshSite, data: &[u64]) -> u64 {
    site(at.slot).reduce(
        data,
        || 0u64,
        |acc, &x| acc.wrapping_add(tiny_item(x)),
        u64::wrapping_add,
    )
}

macro_rules! instances {
    ($f:ident: $($k:literal)*) => { [$($f::<$k>),*] };
}

type ForEachFn = fn(FreshSite, &'static str, Work);
type SumFn = fn(FreshSite, &'static str, &[u64]) -> u64;
type MapFn = fn(FreshSite, &'static str, &[u64], u32) -> Vec<u64>;
type TinyFn = fn(FreshSite, &[u64]) -> u64;

// Enough (slot, instance) pairs for the cold calls of `MAX_RUNS` runs (see `Fresh`).
static FOR_EACH: [ForEachFn; 64] = instances!(auto_for_each:
    0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32 33 34 35 36 37 38 39 40 41 42 43 44 45 46 47 48 49 50 51 52 53 54 55 56 57 58 59 60 61 62 63);
static SUM: [SumFn; 8] = instances!(auto_sum: 0 1 2 3 4 5 6 7);
static MAP: [MapFn; 8] = instances!(auto_map: 0 1 2 3 4 5 6 7);
static TINY: [TinyFn; 8] = instances!(auto_tiny: 0 1 2 3 4 5 6 7);

/// A (call site, body type) pair that autopar has never seen.
#[derive(Clone, Copy, Debug)]
struct FreshSite {
    slot: usize,
    instance: usize,
}

/// Hands out each (slot, instance) pair once, per loop shape.
#[derive(Default)]
struct Fresh {
    used: BTreeMap<&'static str, usize>,
}

impl Fresh {
    fn take(&mut self, shape: &'static str, instances: usize) -> Option<FreshSite> {
        let used = self.used.entry(shape).or_insert(0);
        if *used >= SLOTS * instances {
            return None;
        }
        // Slot-major: every site gets one new body type before any gets a second, so
        // the per-site list autopar searches on a first call stays short.
        let site = FreshSite {
            slot: *used % SLOTS,
            instance: *used / SLOTS,
        };
        *used += 1;
        Some(site)
    }

    fn for_shape(&mut self, shape: &Shape) -> Option<FreshSite> {
        match shape {
            Shape::ForEach(_) => self.take("for_each", FOR_EACH.len()),
            Shape::Sum(_) => self.take("sum", SUM.len()),
            Shape::Map { .. } => self.take("map", MAP.len()),
        }
    }
}

fn run_auto(at: FreshSite, label: &'static str, shape: &Shape) -> u64 {
    match *shape {
        Shape::ForEach(w) => {
            FOR_EACH[at.instance](at, label, w);
            0
        }
        Shape::Sum(data) => SUM[at.instance](at, label, data),
        Shape::Map { data, iters } => map_digest(&MAP[at.instance](at, label, data, iters)),
    }
}

// ---------------------------------------------------------------------------------------
// Strategies
// ---------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Strat {
    Seq,
    Rayon,
    /// rayon with `with_min_len(m)`.
    MinLen(usize),
    Orx,
    /// `par_iter` inside a rayon `ThreadPool` of this many threads (built once).
    Pool(usize),
    /// This many `std::thread::scope` threads pulling indices from an atomic counter.
    Scope(usize),
    /// autopar's first call at a fresh site.
    Cold,
    /// autopar after a few calls at the same site.
    Warm,
    /// The plain loop timed one call at a time, right before each cold call.
    SeqOnce,
    /// The cell's best non-autopar strategy timed one call at a time, each right after a
    /// plain-loop call, as cold calls are: what a single call costs on this machine
    /// (thread wake-ups, a helper queued behind a busy thread) with the expert's choice.
    BestOnce,
    /// autopar warm timed the same way: a loop called now and then, not back to back.
    WarmOnce,
    /// `Parallel::io().workers(50)`: the manual I/O override.
    Io50,
}

impl Strat {
    /// Strategies that do not use autopar: the best of them is the reference.
    fn is_baseline(self) -> bool {
        !matches!(
            self,
            Strat::Cold
                | Strat::Warm
                | Strat::Io50
                | Strat::SeqOnce
                | Strat::BestOnce
                | Strat::WarmOnce
        )
    }

    fn name(self) -> String {
        match self {
            Strat::Seq => "seq".into(),
            Strat::Rayon => "rayon".into(),
            Strat::MinLen(m) => format!("rayon min_len {m}"),
            Strat::Orx => "orx".into(),
            Strat::Pool(t) => format!("rayon pool {t}"),
            Strat::Scope(t) => format!("scope {t}"),
            Strat::Cold => "autopar cold".into(),
            Strat::Warm => "autopar warm".into(),
            Strat::Io50 => "io(50)".into(),
            Strat::SeqOnce => "seq, one call".into(),
            Strat::BestOnce => "best, one call".into(),
            Strat::WarmOnce => "autopar warm, one call".into(),
        }
    }

    /// Whether this strategy's threads keep the CPUs busy after its call returns: a
    /// rayon pool with more threads than cores. Each idle rayon thread spins (yields
    /// and tries to steal from every other thread) for a while before it sleeps; with
    /// 256 threads on 2 cores that lasts 70–80 ms, 128: ~23 ms, 64: ~8 ms, 32: ~4 ms
    /// (measured the way [`settle`] measures). A sample of a 2–4 ms cell timed in that wake would
    /// pay for the previous strategy's threads, and which strategy follows the pool is
    /// chance (the order is shuffled), so [`settle`] runs after these.
    fn leaves_threads_spinning(self) -> bool {
        matches!(self, Strat::Pool(t) if t > cores())
    }
}

/// Waits, asleep, until the process's other threads are idle: until they use under
/// 5% of one CPU during a 1 ms sleep of this thread (at most 300 ms). Called after a
/// strategy that [leaves threads spinning](Strat::leaves_threads_spinning), so every
/// sample starts from a quiet process whatever ran before it.
fn settle() {
    let start = Instant::now();
    while start.elapsed() < Duration::from_millis(300) {
        let Some(before) = process_cpu_ns() else {
            // No process CPU clock: the longest spin measured, and some margin.
            std::thread::sleep(Duration::from_millis(100));
            return;
        };
        let slept_from = Instant::now();
        std::thread::sleep(Duration::from_millis(1));
        let slept = slept_from.elapsed().as_nanos() as f64;
        let others = process_cpu_ns().map_or(0, |after| after.saturating_sub(before));
        if (others as f64) < 0.05 * slept {
            return;
        }
    }
}

/// CPU time used by all of this process's threads, in ns.
#[cfg(target_os = "linux")]
fn process_cpu_ns() -> Option<u64> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec for the duration of the call.
    if unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) } != 0 {
        return None;
    }
    Some(ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64)
}

#[cfg(not(target_os = "linux"))]
fn process_cpu_ns() -> Option<u64> {
    None
}

struct Ctx {
    pools: BTreeMap<usize, rayon::ThreadPool>,
    fresh: Fresh,
}

impl Ctx {
    fn pool(&mut self, threads: usize) -> &rayon::ThreadPool {
        self.pools.entry(threads).or_insert_with(|| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .expect("bench_matrix: building a rayon pool")
        })
    }
}

fn for_each_scope(w: Work, threads: usize) {
    let next = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..threads.min(w.n) {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= w.n {
                        break;
                    }
                    black_box(w.item(i));
                }
            });
        }
    });
}

/// Runs one call of `shape` under a non-autopar strategy; returns a digest of the result.
fn run_baseline(pool: Option<&rayon::ThreadPool>, strat: Strat, shape: &Shape) -> u64 {
    match (*shape, strat) {
        (Shape::ForEach(w), Strat::Seq) => {
            for i in 0..w.n {
                black_box(w.item(i));
            }
            0
        }
        (Shape::ForEach(w), Strat::Rayon) => {
            (0..w.n).into_par_iter().for_each(|i| {
                black_box(w.item(i));
            });
            0
        }
        (Shape::ForEach(w), Strat::MinLen(m)) => {
            (0..w.n).into_par_iter().with_min_len(m).for_each(|i| {
                black_box(w.item(i));
            });
            0
        }
        (Shape::ForEach(w), Strat::Orx) => {
            (0..w.n).into_par().for_each(|i| {
                black_box(w.item(i));
            });
            0
        }
        (Shape::ForEach(w), Strat::Pool(_)) => {
            pool.expect("pool").install(|| {
                (0..w.n).into_par_iter().for_each(|i| {
                    black_box(w.item(i));
                })
            });
            0
        }
        (Shape::ForEach(w), Strat::Scope(t)) => {
            for_each_scope(w, t);
            0
        }
        (Shape::Sum(data), Strat::Seq) => data
            .iter()
            .fold(0u64, |acc, &x| acc.wrapping_add(sum_item(x))),
        (Shape::Sum(data), Strat::Rayon) => data
            .par_iter()
            .map(|&x| sum_item(x))
            .reduce(|| 0, u64::wrapping_add),
        (Shape::Sum(data), Strat::MinLen(m)) => data
            .par_iter()
            .with_min_len(m)
            .map(|&x| sum_item(x))
            .reduce(|| 0, u64::wrapping_add),
        (Shape::Sum(data), Strat::Orx) => data
            .into_par()
            .map(|&x| sum_item(x))
            .reduce(u64::wrapping_add)
            .unwrap_or(0),
        (Shape::Map { data, iters }, Strat::Seq) => {
            let out: Vec<u64> = data.iter().map(|&x| spin(x, iters)).collect();
            map_digest(&out)
        }
        (Shape::Map { data, iters }, Strat::Rayon) => {
            let out: Vec<u64> = data.par_iter().map(|&x| spin(x, iters)).collect();
            map_digest(&out)
        }
        (Shape::Map { data, iters }, Strat::MinLen(m)) => {
            let out: Vec<u64> = data
                .par_iter()
                .with_min_len(m)
                .map(|&x| spin(x, iters))
                .collect();
            map_digest(&out)
        }
        (Shape::Map { data, iters }, Strat::Orx) => {
            let out: Vec<u64> = data.into_par().map(|&x| spin(x, iters)).collect();
            map_digest(&out)
        }
        (shape, strat) => unreachable!("{strat:?} is not run on {shape:?}"),
    }
}

// ---------------------------------------------------------------------------------------
// Cells
// ---------------------------------------------------------------------------------------

struct CellSpec {
    name: String,
    shape: Shape,
    strats: Vec<Strat>,
    /// Run even if the sequential estimate is over the limit (the I/O goal's cell).
    force: bool,
}

/// What one cell measured.
struct CellResult {
    name: String,
    n: usize,
    /// Median ns per call, per strategy.
    medians: BTreeMap<Strat, f64>,
    warm_plan: String,
    cold_plans: String,
}

impl CellResult {
    fn get(&self, s: Strat) -> Option<f64> {
        self.medians.get(&s).copied()
    }
    fn seq(&self) -> f64 {
        self.medians[&Strat::Seq]
    }
    /// The best non-autopar strategy and its median.
    fn best(&self) -> (Strat, f64) {
        self.medians
            .iter()
            .filter(|(s, _)| s.is_baseline())
            .map(|(&s, &t)| (s, t))
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .expect("a cell has baselines")
    }
    fn regret(&self, s: Strat) -> Option<f64> {
        self.get(s).map(|t| t / self.best().1)
    }
    /// The best of a family of grid strategies (`MinLen`, `Pool`, `Scope`).
    fn best_of(&self, family: fn(Strat) -> bool) -> Option<(Strat, f64)> {
        self.medians
            .iter()
            .filter(|(s, _)| family(**s))
            .map(|(&s, &t)| (s, t))
            .min_by(|a, b| a.1.total_cmp(&b.1))
    }
    /// `a`'s median ÷ `b`'s, for cells whose sequential time is at least 1 ms.
    fn ratio_if_long(&self, a: Strat, b: Strat) -> Option<f64> {
        let (a, b) = (self.get(a)?, self.get(b)?);
        (self.seq() >= 1e6).then_some(a / b)
    }
    /// The best hand-tuned grid point (min_len, pool or scope size).
    fn tuned(&self) -> Option<(Strat, f64)> {
        self.best_of(|s| matches!(s, Strat::MinLen(_) | Strat::Pool(_) | Strat::Scope(_)))
    }
}

/// Mean cost of the items `first..first + count` of `w`, run as the plain loop does (the
/// minimum of a few tries: the quiet-machine cost).
fn mean_item_ns(w: Work, first: usize, count: usize) -> f64 {
    (0..3)
        .map(|_| {
            let w = black_box(w);
            let start = Instant::now();
            for i in first..first + count {
                black_box(w.item(i));
            }
            start.elapsed().as_nanos() as f64 / count as f64
        })
        .fold(f64::INFINITY, f64::min)
}

/// The steps of [`spin`] that give items of the wanted cost, found by bisection on the
/// measured cost (short items overlap in the CPU's pipeline, long ones do not, so no
/// single per-step cost fits both).
struct Calibration {
    spin: BTreeMap<u64, u32>,
    /// `Kind::Ramp` steps for a mean item of ~1 µs.
    ramp_1us: u32,
}

impl Calibration {
    fn measure(spin_targets: &[f64]) -> Calibration {
        let spin = spin_targets
            .iter()
            .map(|&ns| {
                let iters = bisect(ns, |iters| {
                    let w = Work {
                        kind: Kind::Spin { iters },
                        n: 0,
                        files: &[],
                    };
                    let count = ((1e6 / ns) as usize).clamp(20, 100_000);
                    mean_item_ns(w, 1_000, count)
                });
                (ns as u64, iters)
            })
            .collect();
        let ramp_1us = bisect(1_000.0, |iters| {
            let w = Work {
                kind: Kind::Ramp { iters },
                n: 1_000,
                files: &[],
            };
            mean_item_ns(w, 0, 1_000)
        });
        Calibration { spin, ramp_1us }
    }

    /// Steps of [`spin`] for an item of about `ns` (one of the calibrated targets).
    fn iters(&self, ns: f64) -> u32 {
        self.spin[&(ns as u64)]
    }
}

/// The smallest `iters` whose `cost(iters)` reaches `target` (to ~2%).
fn bisect(target: f64, cost: impl Fn(u32) -> f64) -> u32 {
    if cost(0) >= target {
        return 0;
    }
    let mut hi = 1u32;
    while cost(hi) < target && hi < 1 << 28 {
        hi *= 2;
    }
    let mut lo = hi / 2;
    while hi - lo > (lo / 64).max(1) {
        let mid = lo + (hi - lo) / 2;
        if cost(mid) < target {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    if target - cost(lo) < cost(hi) - target {
        lo
    } else {
        hi
    }
}

const SPIN_TARGETS: [f64; 5] = [5.0, 50.0, 500.0, 5_000.0, 50_000.0];

fn fmt_n(n: usize) -> String {
    match n {
        n if n >= 1_000_000 && n % 1_000_000 == 0 => format!("{}M", n / 1_000_000),
        n if n >= 1_000 && n % 1_000 == 0 => format!("{}k", n / 1_000),
        n => n.to_string(),
    }
}

fn fmt_ns(ns: f64) -> String {
    if ns < 10.0 {
        format!("{ns:.2} ns")
    } else if ns >= 1e9 {
        format!("{:.2} s", ns / 1e9)
    } else if ns >= 1e6 {
        format!("{:.2} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.1} µs", ns / 1e3)
    } else {
        format!("{ns:.0} ns")
    }
}

fn fmt_cost(ns: f64) -> String {
    if ns >= 1e3 {
        format!("{}µs", (ns / 1e3).round())
    } else {
        format!("{}ns", ns.round())
    }
}

const MIN_LEN_GRID: [usize; 6] = [1, 8, 64, 512, 4096, 32768];
const WORKER_GRID: [usize; 7] = [4, 8, 16, 32, 64, 128, 256];

fn cpu_strats(n: usize) -> Vec<Strat> {
    let mut s = vec![
        Strat::Seq,
        Strat::Rayon,
        Strat::Orx,
        Strat::Cold,
        Strat::Warm,
    ];
    s.extend(
        MIN_LEN_GRID
            .iter()
            .filter(|&&m| m == 1 || m < n)
            .map(|&m| Strat::MinLen(m)),
    );
    s
}

fn io_strats(n: usize, with_io50: bool, with_min_len: bool) -> Vec<Strat> {
    let mut s = vec![
        Strat::Seq,
        Strat::Rayon,
        Strat::Orx,
        Strat::Cold,
        Strat::Warm,
    ];
    let workers = WORKER_GRID
        .iter()
        .filter(|&&t| t == WORKER_GRID[0] || t < 2 * n);
    s.extend(workers.clone().map(|&t| Strat::Pool(t)));
    s.extend(workers.map(|&t| Strat::Scope(t)));
    if with_min_len {
        s.extend(
            MIN_LEN_GRID
                .iter()
                .filter(|&&m| m == 1 || m < n)
                .map(|&m| Strat::MinLen(m)),
        );
    }
    if with_io50 {
        s.push(Strat::Io50);
    }
    s
}

fn leak<T>(v: Vec<T>) -> &'static [T] {
    Box::leak(v.into_boxed_slice())
}

fn cells(quick: bool, cal: &Calibration, files: &'static [PathBuf]) -> Vec<CellSpec> {
    let mut out = Vec::new();
    let work = |kind, n| Work { kind, n, files };
    let spin_cell = |out: &mut Vec<CellSpec>, ns: f64, n: usize| {
        out.push(CellSpec {
            name: format!("cpu {} × {}", fmt_cost(ns), fmt_n(n)),
            shape: Shape::ForEach(work(
                Kind::Spin {
                    iters: cal.iters(ns),
                },
                n,
            )),
            strats: cpu_strats(n),
            force: false,
        })
    };
    // The irregular loop's mean item is ~1 µs: about half from the ramp, half from the 1%
    // of spikes.
    let ramp = Kind::Ramp {
        iters: cal.ramp_1us,
    };
    let sleep = |us| Kind::Sleep { us };
    let mixed = Kind::Mixed {
        iters: cal.iters(50_000.0),
        us: 100,
    };
    let map_iters = cal.iters(50.0);
    let data = |n: usize| leak((0..n as u64).collect());
    if quick {
        spin_cell(&mut out, 50.0, 1_000);
        spin_cell(&mut out, 50.0, 100_000);
        spin_cell(&mut out, 5_000.0, 1_000);
        out.push(CellSpec {
            name: "irregular × 1k".into(),
            shape: Shape::ForEach(work(ramp, 1_000)),
            strats: cpu_strats(1_000),
            force: false,
        });
        out.push(CellSpec {
            name: "sleep 100µs × 100".into(),
            shape: Shape::ForEach(work(sleep(100), 100)),
            strats: io_strats(100, false, false),
            force: false,
        });
        out.push(CellSpec {
            name: "read 4KiB × 1k".into(),
            shape: Shape::ForEach(work(Kind::File, 1_000)),
            strats: io_strats(1_000, false, true),
            force: false,
        });
        out.push(CellSpec {
            name: "sum × 1M".into(),
            shape: Shape::Sum(data(1_000_000)),
            strats: cpu_strats(1_000_000),
            force: false,
        });
        out.push(CellSpec {
            name: "map 50ns × 10k".into(),
            shape: Shape::Map {
                data: data(10_000),
                iters: map_iters,
            },
            strats: cpu_strats(10_000),
            force: false,
        });
        return out;
    }
    let sizes = [10, 100, 1_000, 10_000, 100_000, 1_000_000];
    for ns in [5.0, 50.0, 500.0, 5_000.0, 50_000.0] {
        for n in sizes {
            spin_cell(&mut out, ns, n);
        }
    }
    for n in [100, 1_000, 10_000, 100_000] {
        out.push(CellSpec {
            name: format!("irregular × {}", fmt_n(n)),
            shape: Shape::ForEach(work(ramp, n)),
            strats: cpu_strats(n),
            force: false,
        });
    }
    for (us, label) in [(100, "100µs"), (1_000, "1ms")] {
        for n in [10, 100, 1_000] {
            out.push(CellSpec {
                name: format!("sleep {label} × {}", fmt_n(n)),
                shape: Shape::ForEach(work(sleep(us), n)),
                strats: io_strats(n, us == 1_000, false),
                // 1000 × 1 ms is the I/O goal's cell: run it although its sequential
                // time (~1.1 s) is over the limit.
                force: us == 1_000 && n == 1_000,
            });
        }
    }
    for n in [100, 1_000, 10_000] {
        out.push(CellSpec {
            name: format!("read 4KiB × {}", fmt_n(n)),
            shape: Shape::ForEach(work(Kind::File, n)),
            strats: io_strats(n, false, true),
            force: false,
        });
    }
    for n in [100, 1_000] {
        out.push(CellSpec {
            name: format!("mixed × {}", fmt_n(n)),
            shape: Shape::ForEach(work(mixed, n)),
            strats: io_strats(n, false, false),
            force: false,
        });
    }
    for n in [1_000, 100_000, 1_000_000, 10_000_000] {
        out.push(CellSpec {
            name: format!("sum × {}", fmt_n(n)),
            shape: Shape::Sum(data(n)),
            strats: cpu_strats(n),
            force: false,
        });
    }
    for n in [1_000, 10_000, 100_000, 1_000_000] {
        out.push(CellSpec {
            name: format!("map 50ns × {}", fmt_n(n)),
            shape: Shape::Map {
                data: data(n),
                iters: map_iters,
            },
            strats: cpu_strats(n),
            force: false,
        });
    }
    out
}

/// Sequential time of a cell, estimated from a strided sample of its items.
fn estimate_seq_ns(shape: &Shape) -> f64 {
    match shape {
        Shape::ForEach(w) => {
            let samples = w.n.min(64);
            let start = Instant::now();
            for j in 0..samples {
                black_box(w.item(j * w.n / samples));
            }
            start.elapsed().as_nanos() as f64 / samples as f64 * w.n as f64
        }
        _ => {
            let start = Instant::now();
            black_box(run_baseline(None, Strat::Seq, shape));
            start.elapsed().as_nanos() as f64
        }
    }
}

/// A small deterministic shuffler (xorshift64*): the same orders on every run.
struct Shuffle(u64);

impl Shuffle {
    fn new(seed: u64) -> Shuffle {
        Shuffle(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Fisher–Yates.
    fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = (self.next() % (i as u64 + 1)) as usize;
            items.swap(i, j);
        }
    }
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    }
}

/// Cells whose sequential time is over this are skipped (unless forced).
const SEQ_LIMIT_NS: f64 = 0.6e9;
/// Cells estimated below this time each sample as a batch of calls lasting ~BATCH_NS.
const BATCH_BELOW_NS: f64 = 20e6;
const BATCH_NS: f64 = 2e6;
/// Batched cells take this many times the repetitions (all but cold calls, which need a
/// fresh site each): a ~2 ms batch is short next to the machine's noise (another process
/// taking a core for a few ms), and more samples keep the median clear of it.
const BATCHED_REPS_FACTOR: usize = 3;
/// Warm-up calls of the warm autopar site before its timed calls.
const WARMUP_CALLS: usize = 3;

fn leak_str(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

fn measure_cell(ctx: &mut Ctx, spec: &CellSpec, reps: usize) -> Option<CellResult> {
    let shape = spec.shape;
    let est = estimate_seq_ns(&shape);
    if est > SEQ_LIMIT_NS && !spec.force {
        println!(
            "  (skipped {}: sequential ≈ {} > {})",
            spec.name,
            fmt_ns(est),
            fmt_ns(SEQ_LIMIT_NS)
        );
        return None;
    }
    let cold_label = leak_str(format!("cold {}", spec.name));
    let warm_label = leak_str(format!("warm {}", spec.name));
    let warm_site = ctx.fresh.for_shape(&shape);
    let reference = run_baseline(None, Strat::Seq, &shape);
    // One untimed call each (warm-up, correctness check) and the batch size for cells
    // too short to time one call at a time.
    let mut batch: BTreeMap<Strat, usize> = BTreeMap::new();
    for &s in &spec.strats {
        let call = |ctx: &mut Ctx| -> Option<u64> {
            Some(match s {
                Strat::Cold => return None,
                Strat::Warm => {
                    let at = warm_site?;
                    let mut digest = 0;
                    for _ in 0..WARMUP_CALLS {
                        digest = run_auto(at, warm_label, &shape);
                    }
                    digest
                }
                Strat::Io50 => {
                    if let Shape::ForEach(w) = shape {
                        Parallel::io().workers(50).for_each(0..w.n, |i| {
                            black_box(w.item(i));
                        });
                    }
                    0
                }
                Strat::Pool(t) => run_baseline(Some(ctx.pool(t)), s, &shape),
                s => run_baseline(None, s, &shape),
            })
        };
        let Some(digest) = call(ctx) else { continue };
        if s.leaves_threads_spinning() {
            settle();
        }
        assert_eq!(
            digest, reference,
            "{}: {s:?} computed a different result",
            spec.name
        );
        // Every strategy's batch is sized from a warm call (for autopar warm: from
        // calls after the warm-up, not from the warm-up, whose first call profiles).
        // Sized from the warm-up, its batches were 100× shorter than the plain loop's,
        // and each paid the cold caches left by the previous strategy on a few calls
        // instead of thousands.
        let k = if est < BATCH_BELOW_NS {
            let calls = if s == Strat::Warm { WARMUP_CALLS } else { 1 };
            let start = Instant::now();
            call(ctx);
            let t = start.elapsed().as_nanos() as f64 / calls as f64;
            if s.leaves_threads_spinning() {
                settle();
            }
            (BATCH_NS / t.max(1.0)).ceil().clamp(1.0, 100_000.0) as usize
        } else {
            1
        };
        batch.insert(s, k);
    }

    let mut samples: BTreeMap<Strat, Vec<f64>> = BTreeMap::new();
    let strats = &spec.strats;
    let all_reps = if est < BATCH_BELOW_NS {
        reps * BATCHED_REPS_FACTOR
    } else {
        reps
    };
    let mut order: Vec<Strat> = strats.clone();
    let mut rng = Shuffle::new(spec.name.len() as u64);
    for rep in 0..all_reps {
        // A new order each repetition: every strategy runs after every other one about
        // equally often. (Pool threads still spinning from the previous strategy slow
        // the next one down; a rotated fixed order would always pair the same two.)
        rng.shuffle(&mut order);
        for &s in &order {
            let ns = match s {
                Strat::Cold if rep >= reps => continue,
                Strat::Cold => {
                    let Some(at) = ctx.fresh.for_shape(&shape) else {
                        continue;
                    };
                    // The plain loop timed the same way, just before: the context for
                    // the cold call's one-call timing.
                    let start = Instant::now();
                    black_box(run_baseline(None, Strat::Seq, &shape));
                    let once = start.elapsed().as_nanos() as f64;
                    samples.entry(Strat::SeqOnce).or_default().push(once);
                    let start = Instant::now();
                    let digest = run_auto(at, cold_label, &shape);
                    let ns = start.elapsed().as_nanos() as f64;
                    assert_eq!(digest, reference, "{}: cold autopar", spec.name);
                    ns
                }
                _ => {
                    let Some(&k) = batch.get(&s) else { continue };
                    let pool = match s {
                        Strat::Pool(t) => Some(ctx.pool(t)),
                        _ => None,
                    };
                    let start = Instant::now();
                    for _ in 0..k {
                        black_box(match s {
                            Strat::Warm => {
                                run_auto(warm_site.expect("warm site"), warm_label, &shape)
                            }
                            Strat::Io50 => {
                                if let Shape::ForEach(w) = shape {
                                    Parallel::io().workers(50).for_each(0..w.n, |i| {
                                        black_box(w.item(i));
                                    });
                                }
                                0
                            }
                            s => run_baseline(pool, s, &shape),
                        });
                    }
                    start.elapsed().as_nanos() as f64 / k as f64
                }
            };
            samples.entry(s).or_default().push(ns);
            if s.leaves_threads_spinning() {
                settle();
            }
        }
    }
    if samples.contains_key(&Strat::Cold) {
        let warm = warm_site.map(|at| move || run_auto(at, warm_label, &shape));
        time_best_once(ctx, &shape, reps, warm, &mut samples);
    }
    let medians = samples
        .into_iter()
        .map(|(s, mut v)| (s, median(&mut v)))
        .collect();
    Some(CellResult {
        name: spec.name.clone(),
        n: shape.len(),
        medians,
        warm_plan: String::new(),
        cold_plans: String::new(),
    })
}

/// Times the best baseline of `samples` (by median) `reps` times as single calls, each
/// right after a plain-loop call, the way cold calls are timed: the same conditions
/// (one core busy, the others idle for as long as the plain loop ran) for the expert's
/// choice. Cold calls are compared with this to tell what autopar's first call adds
/// from what any single parallel call costs on the machine. `warm` (autopar's warm
/// site) is timed the same way, interleaved: a loop called now and then.
fn time_best_once(
    ctx: &mut Ctx,
    shape: &Shape,
    reps: usize,
    warm: Option<impl Fn() -> u64>,
    samples: &mut BTreeMap<Strat, Vec<f64>>,
) {
    let Some(best) = samples
        .iter()
        .filter(|(s, _)| s.is_baseline())
        .map(|(&s, v)| (s, median(&mut v.clone())))
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(s, _)| s)
    else {
        return;
    };
    for _ in 0..reps {
        black_box(run_baseline(None, Strat::Seq, shape));
        let pool = match best {
            Strat::Pool(t) => Some(ctx.pool(t)),
            _ => None,
        };
        let start = Instant::now();
        black_box(run_baseline(pool, best, shape));
        let ns = start.elapsed().as_nanos() as f64;
        samples.entry(Strat::BestOnce).or_default().push(ns);
        if best.leaves_threads_spinning() {
            settle();
        }
        if let Some(warm) = &warm {
            black_box(run_baseline(None, Strat::Seq, shape));
            let start = Instant::now();
            black_box(warm());
            let ns = start.elapsed().as_nanos() as f64;
            samples.entry(Strat::WarmOnce).or_default().push(ns);
        }
    }
}

/// Most runs of the whole matrix in one process: each needs fresh call sites for its
/// cold calls, and there are `SLOTS` × instances of them per loop shape.
const MAX_RUNS: usize = 3;

/// One result per cell. Each run's medians are taken relative to that run's plain
/// loop, and the median of those ratios is scaled by the median plain-loop time: a
/// strategy's ratio to another is then a ratio measured side by side in one run, even
/// when the machine's speed moved between runs. (Taking each strategy's median of
/// medians on its own compared numbers from different runs: the plain `cpu 5ns × 10`
/// loop measured 53, 70 and 85 ns in three runs of one process, and autopar's warm
/// loop, 1.05-1.25× the plain loop within each run, came out 1.25× across them.)
fn median_of_runs(runs: Vec<Vec<CellResult>>) -> Vec<CellResult> {
    let mut runs = runs.into_iter();
    let Some(first) = runs.next() else {
        return Vec::new();
    };
    let rest: Vec<Vec<CellResult>> = runs.collect();
    first
        .into_iter()
        .map(|cell| {
            let all: Vec<&CellResult> = std::iter::once(&cell)
                .chain(
                    rest.iter()
                        .filter_map(|run| run.iter().find(|r| r.name == cell.name)),
                )
                .collect();
            let mut seqs: Vec<f64> = all.iter().map(|r| r.seq()).collect();
            let seq = median(&mut seqs);
            let medians = cell
                .medians
                .keys()
                .map(|&strat| {
                    let mut ratios: Vec<f64> = all
                        .iter()
                        .filter_map(|r| r.get(strat).map(|ns| ns / r.seq()))
                        .collect();
                    (strat, median(&mut ratios) * seq)
                })
                .collect();
            CellResult { medians, ..cell }
        })
        .collect()
}

/// Fills in the plans autopar chose, from its report.
fn attach_plans(results: &mut [CellResult]) {
    let report = autopar::report();
    let plan_of = |label: &str, n: usize| -> Vec<String> {
        let class_min = if n == 0 { 0 } else { 1usize << n.ilog2() };
        report
            .sites
            .iter()
            .filter(|s| s.label.as_deref() == Some(label))
            .filter_map(|s| {
                let class = s.classes.iter().find(|c| c.min_len == Some(class_min))?;
                let plan = short_plan(class.plan?);
                Some(if s.retunes > 0 {
                    format!("{plan} (re-tuned {}×)", s.retunes)
                } else {
                    plan
                })
            })
            .collect()
    };
    for r in results {
        r.warm_plan = plan_of(&format!("warm {}", r.name), r.n).join(", ");
        let mut cold = plan_of(&format!("cold {}", r.name), r.n);
        cold.sort();
        cold.dedup();
        r.cold_plans = cold.join(" / ");
    }
}

fn short_plan(plan: Plan) -> String {
    match plan {
        Plan::Sequential => "seq".into(),
        Plan::Cpu { threads, chunk } => format!("cpu {threads}t c{chunk}"),
        Plan::Io { workers, chunk: 1 } => format!("io {workers}w"),
        Plan::Io { workers, chunk } => format!("io {workers}w c{chunk}"),
    }
}

// ---------------------------------------------------------------------------------------
// Overheads
// ---------------------------------------------------------------------------------------

struct Overheads {
    tiny_n: usize,
    plain_ns: f64,
    warm_ns: f64,
    /// The same items through `map`, against a plain `collect`: the per-item cost of
    /// writing ordered outputs.
    plain_map_ns: f64,
    warm_map_ns: f64,
    one_plain_ns: f64,
    one_warm_ns: f64,
    cold: Vec<(usize, f64, f64)>,
}

impl Overheads {
    /// Each measurement: the median over the runs.
    fn median_of_runs(runs: Vec<Overheads>) -> Overheads {
        let field = |f: fn(&Overheads) -> f64| {
            let mut all: Vec<f64> = runs.iter().map(f).collect();
            median(&mut all)
        };
        let first = &runs[0];
        Overheads {
            tiny_n: first.tiny_n,
            plain_ns: field(|o| o.plain_ns),
            warm_ns: field(|o| o.warm_ns),
            plain_map_ns: field(|o| o.plain_map_ns),
            warm_map_ns: field(|o| o.warm_map_ns),
            one_plain_ns: field(|o| o.one_plain_ns),
            one_warm_ns: field(|o| o.one_warm_ns),
            cold: first
                .cold
                .iter()
                .enumerate()
                .map(|(i, &(n, _, _))| {
                    let mut first_call: Vec<f64> = runs.iter().map(|o| o.cold[i].1).collect();
                    let mut plain: Vec<f64> = runs.iter().map(|o| o.cold[i].2).collect();
                    (n, median(&mut first_call), median(&mut plain))
                })
                .collect(),
        }
    }
}

#[inline(never)]
fn plain_tiny(items: &[u64]) -> u64 {
    let mut acc = 0u64;
    for &x in items {
        acc = acc.wrapping_add(tiny_item(x));
    }
    acc
}

#[inline(never)]
fn warm_tiny(items: &[u64]) -> u64 {
    Parallel::auto().reduce(
        items,
        || 0u64,
        |acc, &x| acc.wrapping_add(tiny_item(x)),
        u64::wrapping_add,
    )
}

#[inline(never)]
fn plain_tiny_map(items: &[u64]) -> u64 {
    let out: Vec<u64> = items.iter().map(|&x| tiny_item(x)).collect();
    map_digest(&out)
}

#[inline(never)]
fn warm_tiny_map(items: &[u64]) -> u64 {
    map_digest(&Parallel::auto().map(items, |&x| tiny_item(x)))
}

/// Interleaved medians of `samples` samples of `calls` calls each of `plain` and `auto`:
/// (plain, auto) ns/call.
fn interleaved(
    samples: usize,
    calls: usize,
    items: &[u64],
    plain: fn(&[u64]) -> u64,
    auto: fn(&[u64]) -> u64,
) -> (f64, f64) {
    let mut plain_ns = Vec::new();
    let mut auto_ns = Vec::new();
    for _ in 0..samples {
        let start = Instant::now();
        for _ in 0..calls {
            black_box(plain(black_box(items)));
        }
        plain_ns.push(start.elapsed().as_nanos() as f64 / calls as f64);
        let start = Instant::now();
        for _ in 0..calls {
            black_box(auto(black_box(items)));
        }
        auto_ns.push(start.elapsed().as_nanos() as f64 / calls as f64);
    }
    (median(&mut plain_ns), median(&mut auto_ns))
}

fn measure_overheads(ctx: &mut Ctx, quick: bool) -> Overheads {
    let tiny_n = 1_000;
    let items: Vec<u64> = (0..tiny_n as u64).collect();
    let (samples, calls) = if quick { (7, 2_000) } else { (21, 20_000) };
    // Warm-up of the warm site (profiles once).
    for _ in 0..10 {
        black_box(warm_tiny(&items));
    }
    let (plain_ns, warm_ns) = interleaved(samples, calls, &items, plain_tiny, warm_tiny);
    for _ in 0..10 {
        black_box(warm_tiny_map(&items));
    }
    let (plain_map_ns, warm_map_ns) =
        interleaved(samples, calls, &items, plain_tiny_map, warm_tiny_map);
    // The fixed cost of a warm call: one item.
    let one = &items[..1];
    let (one_plain_ns, one_warm_ns) = interleaved(samples, calls * 10, one, plain_tiny, warm_tiny);

    // First calls: a fresh site per call, vs the plain loop on the same items. The two
    // sizes take turns, so that both meet the same conditions (the machine settling
    // after the matrix, the I/O pool's threads retiring).
    let sizes = [10, tiny_n];
    let mut first = vec![Vec::new(); sizes.len()];
    let mut plain = vec![Vec::new(); sizes.len()];
    'calls: for _ in 0..(if quick { 5 } else { 15 }) {
        for (i, &n) in sizes.iter().enumerate() {
            let data = &items[..n];
            let Some(at) = ctx.fresh.take("tiny", TINY.len()) else {
                break 'calls;
            };
            let start = Instant::now();
            black_box(TINY[at.instance](at, black_box(data)));
            first[i].push(start.elapsed().as_nanos() as f64);
            let start = Instant::now();
            black_box(plain_tiny(black_box(data)));
            plain[i].push(start.elapsed().as_nanos() as f64);
        }
    }
    let cold = sizes
        .iter()
        .enumerate()
        .map(|(i, &n)| (n, median(&mut first[i]), median(&mut plain[i])))
        .collect();
    Overheads {
        tiny_n,
        plain_ns,
        warm_ns,
        plain_map_ns,
        warm_map_ns,
        one_plain_ns,
        one_warm_ns,
        cold,
    }
}

// ---------------------------------------------------------------------------------------
// Scaling (speedup vs threads), each thread count in a child process
// ---------------------------------------------------------------------------------------

const SCALING_CPU_N: usize = 40_000;
const SCALING_IO_N: usize = 1_000;

/// In a child process with RAYON_NUM_THREADS set: medians of rayon and warm autopar on
/// the two scaling workloads, printed as one line.
fn scaling_child(reps: usize) {
    let cal = Calibration::measure(&[5_000.0]);
    let cpu = Work {
        kind: Kind::Spin {
            iters: cal.iters(5_000.0),
        },
        n: SCALING_CPU_N,
        files: &[],
    };
    let io = Work {
        kind: Kind::Sleep { us: 1_000 },
        n: SCALING_IO_N,
        files: &[],
    };
    let mut line = format!("SCALING threads={}", rayon::current_num_threads());
    for (name, label, w, instance) in [("cpu", "scaling cpu", cpu, 0), ("io", "scaling io", io, 1)]
    {
        let shape = Shape::ForEach(w);
        let at = FreshSite { slot: 0, instance };
        for _ in 0..WARMUP_CALLS {
            run_auto(at, label, &shape);
        }
        let mut rayon_t = Vec::new();
        let mut auto_t = Vec::new();
        for _ in 0..reps {
            let start = Instant::now();
            run_baseline(None, Strat::Rayon, &shape);
            rayon_t.push(start.elapsed().as_nanos() as f64);
            let start = Instant::now();
            run_auto(at, label, &shape);
            auto_t.push(start.elapsed().as_nanos() as f64);
        }
        let plan = autopar::report()
            .sites
            .iter()
            .filter(|s| s.label.as_deref() == Some(label))
            .filter_map(|s| {
                let class_min = 1usize << w.n.ilog2();
                let c = s.classes.iter().find(|c| c.min_len == Some(class_min))?;
                Some(short_plan(c.plan?).replace(' ', "_"))
            })
            .next()
            .unwrap_or_default();
        write!(
            line,
            " {name}_rayon={:.0} {name}_auto={:.0} {name}_plan={plan}",
            median(&mut rayon_t),
            median(&mut auto_t)
        )
        .unwrap();
    }
    println!("{line}");
}

struct ScalingRow {
    threads: usize,
    values: BTreeMap<String, String>,
}

fn run_scaling(threads: &[usize], reps: usize) -> (f64, f64, Vec<ScalingRow>) {
    // Sequential references, measured here once (they do not depend on the pool size).
    let cal = Calibration::measure(&[5_000.0]);
    let seq = |kind| {
        let n = if matches!(kind, Kind::Sleep { .. }) {
            SCALING_IO_N
        } else {
            SCALING_CPU_N
        };
        let shape = Shape::ForEach(Work {
            kind,
            n,
            files: &[],
        });
        let mut t: Vec<f64> = (0..reps)
            .map(|_| {
                let start = Instant::now();
                run_baseline(None, Strat::Seq, &shape);
                start.elapsed().as_nanos() as f64
            })
            .collect();
        median(&mut t)
    };
    let cpu_seq = seq(Kind::Spin {
        iters: cal.iters(5_000.0),
    });
    let io_seq = seq(Kind::Sleep { us: 1_000 });
    let exe = std::env::current_exe().expect("bench_matrix: current_exe");
    let mut rows = Vec::new();
    for &t in threads {
        let out = Command::new(&exe)
            .args(["--scaling-child", "--reps", &reps.to_string()])
            .env("RAYON_NUM_THREADS", t.to_string())
            .output()
            .expect("bench_matrix: running the scaling child");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let Some(line) = stdout.lines().find(|l| l.starts_with("SCALING")) else {
            eprintln!(
                "scaling child for {t} threads failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            continue;
        };
        let values = line
            .split_whitespace()
            .skip(1)
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        rows.push(ScalingRow { threads: t, values });
    }
    (cpu_seq, io_seq, rows)
}

fn scaling_table(cpu_seq: f64, io_seq: f64, rows: &[ScalingRow]) -> String {
    let mut s = String::new();
    writeln!(
        s,
        "Speedup over the sequential loop (CPU: {} × ~5 µs, sequential {}; I/O: {} × sleep 1 ms, sequential {}). \
         autopar's I/O pool does not depend on RAYON_NUM_THREADS.\n",
        fmt_n(SCALING_CPU_N),
        fmt_ns(cpu_seq),
        fmt_n(SCALING_IO_N),
        fmt_ns(io_seq)
    )
    .unwrap();
    s.push_str("| RAYON_NUM_THREADS | CPU rayon | CPU autopar warm | autopar plan | I/O rayon | I/O autopar warm | autopar plan |\n");
    s.push_str("|---:|---:|---:|---|---:|---:|---|\n");
    for r in rows {
        let num = |k: &str| r.values.get(k).and_then(|v| v.parse::<f64>().ok());
        let cell = |k: &str, seq: f64| match num(k) {
            Some(t) => format!("{} ({:.1}×)", fmt_ns(t), seq / t),
            None => "-".into(),
        };
        let plan = |k: &str| {
            r.values
                .get(k)
                .map(|p| p.replace('_', " "))
                .unwrap_or_default()
        };
        writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} |",
            r.threads,
            cell("cpu_rayon", cpu_seq),
            cell("cpu_auto", cpu_seq),
            plan("cpu_plan"),
            cell("io_rayon", io_seq),
            cell("io_auto", io_seq),
            plan("io_plan"),
        )
        .unwrap();
    }
    s
}

// ---------------------------------------------------------------------------------------
// Reporting
// ---------------------------------------------------------------------------------------

fn fmt_regret(r: Option<f64>) -> String {
    match r {
        None => "-".into(),
        Some(r) if r >= 100.0 => format!("{r:.0}"),
        Some(r) if r >= 10.0 => format!("{r:.1}"),
        Some(r) => format!("{r:.2}"),
    }
}

struct Summary {
    name: &'static str,
    worst: Option<(f64, String)>,
    geomean: Option<f64>,
    cells: usize,
}

fn summarise(
    results: &[CellResult],
    name: &'static str,
    pick: impl Fn(&CellResult) -> Option<f64>,
) -> Summary {
    let vals: Vec<(f64, &str)> = results
        .iter()
        .filter_map(|r| pick(r).map(|v| (v, r.name.as_str())))
        .collect();
    let worst = vals
        .iter()
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|&(v, n)| (v, n.to_string()));
    let geomean = (!vals.is_empty())
        .then(|| (vals.iter().map(|(v, _)| v.ln()).sum::<f64>() / vals.len() as f64).exp());
    Summary {
        name,
        worst,
        geomean,
        cells: vals.len(),
    }
}

/// The main table, as markdown (also printed to stdout).
fn table(results: &[CellResult]) -> String {
    let mut s = String::new();
    s.push_str("| cell | per item | seq | best non-autopar | rayon | tuned (grid best) | orx | best, one call | autopar cold | autopar warm | autopar warm, one call | warm plan | cold plans |\n");
    s.push_str("|---|---:|---:|---|---:|---|---:|---:|---:|---:|---:|---|---|\n");
    for r in results {
        let (best, best_t) = r.best();
        let tuned = r
            .tuned()
            .map(|(s, t)| format!("{} ({})", fmt_regret(Some(t / best_t)), s.name()))
            .unwrap_or_else(|| "-".into());
        writeln!(
            s,
            "| {} | {} | {} | {} {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            r.name,
            fmt_ns(r.seq() / r.n.max(1) as f64),
            fmt_ns(r.seq()),
            best.name(),
            fmt_ns(best_t),
            fmt_regret(r.regret(Strat::Rayon)),
            tuned,
            fmt_regret(r.regret(Strat::Orx)),
            fmt_regret(r.regret(Strat::BestOnce)),
            fmt_regret(r.regret(Strat::Cold)),
            fmt_regret(r.regret(Strat::Warm)),
            fmt_regret(r.regret(Strat::WarmOnce)),
            r.warm_plan,
            r.cold_plans,
        )
        .unwrap();
    }
    s
}

fn summaries(results: &[CellResult]) -> Vec<Summary> {
    vec![
        summarise(results, "autopar warm", |r| r.regret(Strat::Warm)),
        summarise(results, "autopar cold", |r| r.regret(Strat::Cold)),
        summarise(results, "autopar cold, seq ≥ 1 ms", |r| {
            (r.seq() >= 1e6).then(|| r.regret(Strat::Cold)).flatten()
        }),
        summarise(results, "best non-autopar, one call, seq ≥ 1 ms", |r| {
            (r.seq() >= 1e6)
                .then(|| r.regret(Strat::BestOnce))
                .flatten()
        }),
        summarise(
            results,
            "autopar warm ÷ best, both one call, seq ≥ 1 ms",
            |r| r.ratio_if_long(Strat::WarmOnce, Strat::BestOnce),
        ),
        summarise(
            results,
            "autopar cold ÷ best one call, seq ≥ 1 ms",
            |r| r.ratio_if_long(Strat::Cold, Strat::BestOnce),
        ),
        summarise(results, "rayon default", |r| r.regret(Strat::Rayon)),
        summarise(results, "orx-parallel default", |r| r.regret(Strat::Orx)),
        summarise(results, "rayon tuned (grid best)", |r| {
            r.tuned().map(|(_, t)| t / r.best().1)
        }),
    ]
}

fn summary_table(sums: &[Summary]) -> String {
    let mut s = String::new();
    s.push_str(
        "| strategy | cells | worst regret (cell) | geometric mean |\n|---|---:|---|---:|\n",
    );
    for x in sums {
        let worst = x
            .worst
            .as_ref()
            .map(|(v, n)| format!("{} ({n})", fmt_regret(Some(*v))))
            .unwrap_or_else(|| "-".into());
        writeln!(
            s,
            "| {} | {} | {} | {} |",
            x.name,
            x.cells,
            worst,
            fmt_regret(x.geomean)
        )
        .unwrap();
    }
    s
}

fn overhead_table(o: &Overheads, results: &[CellResult]) -> String {
    let mut s = String::new();
    s.push_str(
        "| measurement | plain loop | autopar | ratio / difference |\n|---|---:|---:|---:|\n",
    );
    writeln!(
        s,
        "| warm call, {} × ~{:.1} ns (`Parallel::auto().reduce`) | {} | {} | {:.3}× (+{:.1} ns) |",
        o.tiny_n,
        o.plain_ns / o.tiny_n as f64,
        fmt_ns(o.plain_ns),
        fmt_ns(o.warm_ns),
        o.warm_ns / o.plain_ns,
        o.warm_ns - o.plain_ns
    )
    .unwrap();
    writeln!(
        s,
        "| warm call, {} × ~{:.1} ns, ordered outputs (`Parallel::auto().map` vs `collect`) | {} | {} | {:.3}× (+{:.2} ns per item) |",
        o.tiny_n,
        o.plain_map_ns / o.tiny_n as f64,
        fmt_ns(o.plain_map_ns),
        fmt_ns(o.warm_map_ns),
        o.warm_map_ns / o.plain_map_ns,
        (o.warm_map_ns - o.plain_map_ns) / o.tiny_n as f64
    )
    .unwrap();
    writeln!(
        s,
        "| warm call, 1 item: the cached-decision path | {:.1} ns | {:.1} ns | +{:.1} ns per call |",
        o.one_plain_ns,
        o.one_warm_ns,
        o.one_warm_ns - o.one_plain_ns
    )
    .unwrap();
    for &(n, first, plain) in &o.cold {
        writeln!(
            s,
            "| first call at a fresh site, {} items (profiling + decision) | {} | {} | +{} |",
            n,
            fmt_ns(plain),
            fmt_ns(first),
            fmt_ns(first - plain)
        )
        .unwrap();
    }
    if let Some(r) = results.iter().find(|r| r.name == "sleep 1ms × 1k") {
        let best_grid = r.best_of(|s| matches!(s, Strat::Pool(_) | Strat::Scope(_)));
        if let Some(io50) = r.get(Strat::Io50) {
            writeln!(
                s,
                "| 1000 × sleep 1 ms, `Parallel::io().workers(50)` vs the 20 ms ideal | 20.00 ms | {} | {:.2}× |",
                fmt_ns(io50),
                io50 / 20e6
            )
            .unwrap();
            // A 1 ms sleep takes longer than 1 ms (timer slack, the wake-up): the
            // plain loop measures how much longer on this machine.
            let slept = r.seq() / r.n as f64;
            writeln!(
                s,
                "| the same vs 20 × one sleep as measured here ({}) | {} | {} | {:.2}× |",
                fmt_ns(slept),
                fmt_ns(20.0 * slept),
                fmt_ns(io50),
                io50 / (20.0 * slept)
            )
            .unwrap();
        }
        if let (Some((g, gt)), Some(w)) = (best_grid, r.get(Strat::Warm)) {
            writeln!(
                s,
                "| 1000 × sleep 1 ms, autopar warm (`auto`) vs best grid worker count ({}) | {} | {} | {:.2}× |",
                g.name(),
                fmt_ns(gt),
                fmt_ns(w),
                w / gt
            )
            .unwrap();
        }
    }
    s
}

/// Goals of issue #5, checked on this run's numbers.
fn goals(results: &[CellResult], o: &Overheads, quick: bool) -> String {
    let sums = summaries(results);
    let find = |name: &str| sums.iter().find(|s| s.name == name);
    let mut s = String::new();
    let check = |s: &mut String, what: String, ok: bool| {
        writeln!(s, "- [{}] {what}", if ok { "x" } else { " " }).unwrap();
    };
    if let (Some(w), Some(r), Some(x)) = (
        find("autopar warm"),
        find("rayon default"),
        find("orx-parallel default"),
    ) && let (Some((ww, _)), Some(wg), Some((rw, _)), Some(rg), Some((xw, _)), Some(xg)) = (
        w.worst.clone(),
        w.geomean,
        r.worst.clone(),
        r.geomean,
        x.worst.clone(),
        x.geomean,
    ) {
        check(
            &mut s,
            format!("autopar warm: worst regret {ww:.2} ≤ 1.15 and geometric mean {wg:.3} ≤ 1.05"),
            ww <= 1.15 && wg <= 1.05,
        );
        check(
            &mut s,
            format!(
                "autopar warm better than rayon default (worst {rw:.2}, geomean {rg:.2}) and orx-parallel (worst {xw:.2}, geomean {xg:.2}) on both"
            ),
            ww < rw && ww < xw && wg < rg && wg < xg,
        );
    }
    if let Some(c) = find("autopar cold, seq ≥ 1 ms")
        && let Some((cw, cell)) = c.worst.clone()
    {
        check(
            &mut s,
            format!("autopar cold: worst regret {cw:.2} ≤ 1.5 on cells with seq ≥ 1 ms ({cell})"),
            cw <= 1.5,
        );
    }
    if let (Some(once), Some(ratio)) = (
        find("best non-autopar, one call, seq ≥ 1 ms"),
        find("autopar cold ÷ best one call, seq ≥ 1 ms"),
    ) && let (Some((ow, ocell)), Some(og), Some((rw, rcell)), Some(rg)) = (
        once.worst.clone(),
        once.geomean,
        ratio.worst.clone(),
        ratio.geomean,
    ) {
        writeln!(
            s,
            "  - for scale: the best non-autopar strategy, timed as one call the same way, \
             has worst regret {ow:.2} ({ocell}) and geometric mean {og:.2}; autopar cold \
             ÷ that one call: worst {rw:.2} ({rcell}), geometric mean {rg:.2}"
        )
        .unwrap();
    }
    if let Some(&(n, first, plain)) = o
        .cold
        .iter()
        .max_by(|a, b| (a.1 - a.2).total_cmp(&(b.1 - b.2)))
    {
        check(
            &mut s,
            format!(
                "first-call profiling overhead on tiny calls: +{} ({n} items) ≤ 20 µs",
                fmt_ns(first - plain)
            ),
            first - plain <= 20_000.0,
        );
    }
    check(
        &mut s,
        format!(
            "warm tiny loop ({} × ~1 ns): {:.3}× the plain loop ≤ 1.05×",
            o.tiny_n,
            o.warm_ns / o.plain_ns
        ),
        o.warm_ns / o.plain_ns <= 1.05,
    );
    check(
        &mut s,
        format!(
            "cached-decision path: +{:.1} ns per call ≤ 20 ns",
            o.one_warm_ns - o.one_plain_ns
        ),
        o.one_warm_ns - o.one_plain_ns <= 20.0,
    );
    if let Some(r) = results.iter().find(|r| r.name == "sleep 1ms × 1k") {
        if let Some(io50) = r.get(Strat::Io50) {
            check(
                &mut s,
                format!(
                    "1000 × 1 ms sleeps, io().workers(50): {} = {:.2}× the 20 ms ideal ≤ 1.15×",
                    fmt_ns(io50),
                    io50 / 20e6
                ),
                io50 / 20e6 <= 1.15,
            );
        }
        let grid = r.best_of(|s| matches!(s, Strat::Pool(_) | Strat::Scope(_)));
        if let (Some((g, gt)), Some(w)) = (grid, r.get(Strat::Warm)) {
            check(
                &mut s,
                format!(
                    "1000 × 1 ms sleeps, auto (warm): {:.2}× the best grid worker count ({}) ≤ 1.5×",
                    w / gt,
                    g.name()
                ),
                w / gt <= 1.5,
            );
        }
    }
    if quick {
        s.push_str("\n(quick run: a few small cells only; not a check of the goals.)\n");
    }
    s
}

// ---------------------------------------------------------------------------------------
// SVG chart
// ---------------------------------------------------------------------------------------

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A chart series: its name, its colour and its regret in a cell.
type Series = (&'static str, &'static str, fn(&CellResult) -> Option<f64>);

fn svg_chart(results: &[CellResult], title: &str) -> String {
    let series: [Series; 5] = [
        ("rayon default", "#9e9e9e", |r| r.regret(Strat::Rayon)),
        ("rayon / pools, tuned (grid best)", "#5c6bc0", |r| {
            r.tuned().map(|(_, t)| t / r.best().1)
        }),
        ("orx-parallel default", "#ffa726", |r| r.regret(Strat::Orx)),
        ("autopar cold", "#ef5350", |r| r.regret(Strat::Cold)),
        ("autopar warm", "#2e7d32", |r| r.regret(Strat::Warm)),
    ];
    let (lo, hi) = (0.5f64, 1000.0f64);
    let label_w = 170.0;
    let plot_w = 640.0;
    let bar_h = 5.0;
    let row_h = bar_h * series.len() as f64 + 7.0;
    let top = 70.0;
    let height = top + row_h * results.len() as f64 + 40.0;
    let width = label_w + plot_w + 30.0;
    let x = |v: f64| label_w + (v.clamp(lo, hi).ln() - lo.ln()) / (hi.ln() - lo.ln()) * plot_w;
    let mut s = String::new();
    writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0}" height="{height:.0}" font-family="sans-serif" font-size="11">"#
    )
    .unwrap();
    writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#).unwrap();
    writeln!(
        s,
        r#"<text x="10" y="18" font-size="14" font-weight="bold">{}</text>"#,
        xml_escape(title)
    )
    .unwrap();
    // Legend.
    let mut lx = 10.0;
    for (name, color, _) in &series {
        writeln!(
            s,
            r#"<rect x="{lx}" y="30" width="10" height="10" fill="{color}"/><text x="{}" y="39">{}</text>"#,
            lx + 14.0,
            xml_escape(name)
        )
        .unwrap();
        lx += 24.0 + 6.2 * name.chars().count() as f64;
    }
    // Grid lines and ticks (log scale).
    // The goal's 1.15 as a dashed line (no label: it would overlap 1's).
    writeln!(
        s,
        r##"<line x1="{0:.1}" y1="{1:.1}" x2="{0:.1}" y2="{2:.1}" stroke="#2e7d32" stroke-width="0.8" stroke-dasharray="3,3"/>"##,
        x(1.15),
        top - 6.0,
        height - 30.0
    )
    .unwrap();
    for t in [0.5, 1.0, 1.5, 2.0, 5.0, 10.0, 100.0, 1000.0] {
        let tx = x(t);
        let (color, w) = if t == 1.0 {
            ("#000", 1.2)
        } else {
            ("#ddd", 0.8)
        };
        writeln!(
            s,
            r##"<line x1="{tx:.1}" y1="{:.1}" x2="{tx:.1}" y2="{:.1}" stroke="{color}" stroke-width="{w}"/><text x="{tx:.1}" y="{:.1}" text-anchor="middle" fill="#555">{t}</text>"##,
            top - 6.0,
            height - 30.0,
            top - 9.0
        )
        .unwrap();
    }
    writeln!(
        s,
        r##"<text x="{:.1}" y="{:.1}" text-anchor="middle" fill="#555">regret = time / best non-autopar strategy (log scale; 1 = the expert's best, lower is better; dashed: 1.15)</text>"##,
        label_w + plot_w / 2.0,
        height - 12.0
    )
    .unwrap();
    let one = x(1.0);
    for (row, r) in results.iter().enumerate() {
        let y0 = top + row as f64 * row_h;
        if row % 2 == 1 {
            writeln!(
                s,
                r##"<rect x="0" y="{:.1}" width="{width:.0}" height="{row_h:.1}" fill="#f6f6f6"/>"##,
                y0 - 2.0
            )
            .unwrap();
        }
        writeln!(
            s,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
            label_w - 6.0,
            y0 + row_h / 2.0 + 1.0,
            xml_escape(&r.name)
        )
        .unwrap();
        for (i, (name, color, pick)) in series.iter().enumerate() {
            let Some(v) = pick(r) else { continue };
            let y = y0 + i as f64 * bar_h;
            let (x0, x1) = if v >= 1.0 { (one, x(v)) } else { (x(v), one) };
            let w = (x1 - x0).max(1.5);
            writeln!(
                s,
                r#"<rect x="{x0:.1}" y="{y:.1}" width="{w:.1}" height="{:.1}" fill="{color}"><title>{}: {} {v:.3}</title></rect>"#,
                bar_h - 0.5,
                xml_escape(&r.name),
                xml_escape(name)
            )
            .unwrap();
        }
    }
    s.push_str("</svg>\n");
    s
}

// ---------------------------------------------------------------------------------------
// Machine, date, markdown
// ---------------------------------------------------------------------------------------

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into())
}

/// The 1-minute load average: how busy the machine was besides this run.
fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".into())
}

fn cores() -> usize {
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *CORES.get_or_init(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    })
}

/// Today's date (UTC), from the system clock.
fn today() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = (secs / 86_400) as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

fn rustc_version() -> String {
    Command::new("rustc")
        .arg("--version")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "rustc not on this machine".into())
}

const INTRO: &str = "# Benchmarks

Produced by `examples/bench_matrix.rs`; every number below was measured by it, side by side in
one run per machine, as medians of repeated runs. Re-run it to update this file:

```sh
cargo run --release --example bench_matrix -- --runs 3 --markdown BENCHMARKS.md --svg examples/results/regret.svg
```

Each machine's run replaces only its own section (keyed by its core count).

## Method

- **Cells**: a workload × an input size. Pure CPU items of ~5 ns … 50 µs (a calibrated
  dependent multiply/xor-shift chain, `black_box`ed) × n = 10 … 10⁶, skipping cells whose
  sequential time is over 0.6 s; irregular items (cost rising linearly with the index, 1% of
  items 100× the mean); blocking items (`sleep` 100 µs / 1 ms; reading 4 KiB files from a
  temp dir, which the page cache makes CPU work in the kernel); mixed (even items 50 µs of
  CPU, odd items a 100 µs sleep); a sum reduction (~0.3 ns/item, memory-bound at 10⁷) and an
  ordered map/collect of ~50 ns items.
- **Strategies** (all in the same process, interleaved repetition by repetition, in a new
  shuffled order each repetition): the plain sequential loop; rayon `par_iter` default; rayon
  `with_min_len(m)` for m in {1, 8, 64, 512, 4096, 32768} (the expert's hand tuning: the best
  m per cell); orx-parallel's default (its own persistent pool); for blocking items rayon
  `ThreadPool`s and `std::thread::scope` with 4 … 256 workers (pools built once, outside the
  timing; scoped threads are spawned per call, that is their cost); autopar
  `Parallel::auto()` cold and warm; for sleeps also `Parallel::io().workers(50)`.
  After each call of a pool with more threads than cores, the run waits until the
  process is idle before timing anything else: an idle rayon thread spins before it
  sleeps, and 256 of them on 2 cores kept both busy for 70–80 ms after each call,
  charging whatever ran next.
- **Cold**: every cold repetition is the first call of a loop autopar has never seen: autopar
  keys what it learns by the call site of `Parallel::auto()` and the loop body's type, and
  each cold call uses a (site, body type) pair never used before (16 distinct
  `Parallel::auto()` lines × monomorphisations `auto_for_each::<K>` whose closure types differ
  by `K`). Process-wide state is warm (rayon's threads, autopar's one-time measurement of the
  pool's wake-up cost, its I/O pool's threads), as in any program that has run one parallel
  loop before. **Warm**: one fresh site per cell, called 3 times before the timed calls.
- **Best, one call**: for cells with cold calls, the cell's best non-autopar strategy is
  also timed the way cold calls are (single calls, each right after a plain-loop call), to
  tell what any single parallel call costs on the machine (waking threads, on some VMs a
  woken thread queued behind a busy one for up to a scheduler tick; see
  `examples/wake_placement.rs`) from what autopar's first call adds. autopar's warm
  site is timed the same way, interleaved (**autopar warm, one call**): a loop called now
  and then rather than back to back.
- **Timing**: cells whose sequential time is under 20 ms time each sample as a batch of calls
  lasting ~2 ms (per-call time = batch / calls), and take 3× the repetitions (a 2 ms
  batch is short next to another process taking a core for a few ms); longer cells time
  single calls. Cold calls are always timed one by one (each needs a fresh site), with
  the base number of repetitions.
- **Runs**: `--runs N` (up to 3) measures the whole matrix N times in one process; each
  number is then, per cell and strategy, the median over the runs of its median ÷ that
  run's plain-loop median, times the median plain-loop time: ratios between strategies
  stay ratios measured in one run (a noisy machine moves single cells by up to 2×
  between runs).
- **Regret** = a strategy's median / the best median among the strategies that do not use
  autopar (seq, rayon, rayon tuned, orx, pools, scoped threads). 1.00 = as fast as the best
  expert choice for the cell; below 1 = faster than all of them.
";

fn section_markers(cores: usize) -> (String, String) {
    (
        format!("<!-- bench_matrix: cores={cores} begin -->"),
        format!("<!-- bench_matrix: cores={cores} end -->"),
    )
}

/// Writes `section` into `path`, replacing this machine's previous section if any.
fn write_markdown(path: &Path, section: &str) -> std::io::Result<()> {
    let (begin, end) = section_markers(cores());
    let block = format!("{begin}\n{section}{end}\n");
    let old = std::fs::read_to_string(path).unwrap_or_default();
    let new = if old.trim().is_empty() {
        format!("{INTRO}\n{block}")
    } else if let (Some(b), Some(e)) = (old.find(&begin), old.find(&end)) {
        format!(
            "{}{block}{}",
            &old[..b],
            old[e + end.len()..].trim_start_matches('\n')
        )
    } else {
        format!("{}\n{block}", old.trim_end_matches('\n').to_string() + "\n")
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, new)
}

// ---------------------------------------------------------------------------------------
// main
// ---------------------------------------------------------------------------------------

struct Opts {
    quick: bool,
    reps: usize,
    runs: usize,
    markdown: Option<PathBuf>,
    svg: Option<PathBuf>,
    scaling: Option<Vec<usize>>,
    scaling_child: bool,
    only: Option<String>,
    changing_only: bool,
}

fn parse_args() -> Opts {
    let mut o = Opts {
        quick: false,
        reps: 5,
        runs: 1,
        markdown: None,
        svg: None,
        scaling: None,
        scaling_child: false,
        only: None,
        changing_only: false,
    };
    let mut args = std::env::args().skip(1);
    let usage = "usage: bench_matrix [--quick] [--reps N] [--runs N] [--markdown PATH] [--svg PATH] [--scaling 1,2,4] [--only TEXT] [--changing-only]";
    while let Some(a) = args.next() {
        let mut value = || {
            args.next().unwrap_or_else(|| {
                eprintln!("{a} needs a value\n{usage}");
                std::process::exit(2)
            })
        };
        match a.as_str() {
            "--quick" => o.quick = true,
            "--reps" => o.reps = value().parse().unwrap_or(5).max(1),
            "--runs" => match value().parse() {
                Ok(runs @ 1..=MAX_RUNS) => o.runs = runs,
                _ => {
                    eprintln!("--runs takes 1 to {MAX_RUNS}\n{usage}");
                    std::process::exit(2)
                }
            },
            "--markdown" => o.markdown = Some(value().into()),
            "--svg" => o.svg = Some(value().into()),
            "--only" => o.only = Some(value()),
            "--scaling" => {
                o.scaling = Some(
                    value()
                        .split(',')
                        .filter_map(|t| t.trim().parse().ok())
                        .filter(|&t| t > 0)
                        .collect(),
                )
            }
            "--scaling-child" => o.scaling_child = true,
            "--changing-only" => o.changing_only = true,
            "-h" | "--help" => {
                println!("{usage}");
                std::process::exit(0)
            }
            other => {
                eprintln!("unknown argument {other}\n{usage}");
                std::process::exit(2)
            }
        }
    }
    o
}

/// 1000 files of 4 KiB in a fresh temp dir, removed at exit.
struct TempFiles {
    dir: PathBuf,
    paths: &'static [PathBuf],
}

impl TempFiles {
    fn create(count: usize) -> std::io::Result<TempFiles> {
        let dir = std::env::temp_dir().join(format!("autopar-bench-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let mut paths = Vec::with_capacity(count);
        for i in 0..count {
            let path = dir.join(format!("f{i:05}"));
            let bytes: Vec<u8> = (0..4096u32)
                .map(|b| (mix(u64::from(b) + i as u64 * 4096) & 0xff) as u8)
                .collect();
            std::fs::write(&path, bytes)?;
            paths.push(path);
        }
        Ok(TempFiles {
            dir,
            paths: leak(paths),
        })
    }
}

impl Drop for TempFiles {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn main() {
    let opts = parse_args();
    if opts.scaling_child {
        scaling_child(opts.reps);
        return;
    }
    let started = Instant::now();
    let command = std::iter::once("cargo run --release --example bench_matrix --".to_string())
        .chain(std::env::args().skip(1))
        .collect::<Vec<_>>()
        .join(" ");
    let machine = format!(
        "{} cores (available_parallelism), {}, rayon threads {}",
        cores(),
        cpu_model(),
        rayon::current_num_threads()
    );
    let load_before = loadavg();
    println!(
        "bench_matrix: {machine}; {}; {}; load average {load_before}",
        today(),
        rustc_version()
    );

    // Process-wide warm-up: start rayon's and orx's threads and autopar's calibration
    // before anything is timed (see "Cold" in the method).
    {
        let w = Work {
            kind: Kind::Spin { iters: 64 },
            n: 100_000,
            files: &[],
        };
        let shape = Shape::ForEach(w);
        run_baseline(None, Strat::Rayon, &shape);
        run_baseline(None, Strat::Orx, &shape);
        Parallel::auto()
            .label("process warm-up")
            .for_each(0..w.n, |i| {
                black_box(w.item(i));
            });
        Parallel::io().workers(64).for_each(0..256, |_| {
            std::thread::sleep(Duration::from_micros(200));
        });
    }
    if opts.changing_only {
        let phases = changing::run(opts.quick, opts.reps);
        println!("\n{}", changing::markdown(&phases));
        return;
    }
    let cal = Calibration::measure(&SPIN_TARGETS);
    println!(
        "kernel steps per item: {}; irregular (1 µs mean): {}",
        SPIN_TARGETS
            .iter()
            .map(|&ns| format!("{} = {}", fmt_cost(ns), cal.iters(ns)))
            .collect::<Vec<_>>()
            .join(", "),
        cal.ramp_1us
    );
    let files = TempFiles::create(1_000).expect("bench_matrix: writing temp files");
    let mut ctx = Ctx {
        pools: BTreeMap::new(),
        fresh: Fresh::default(),
    };
    let specs: Vec<CellSpec> = cells(opts.quick, &cal, files.paths)
        .into_iter()
        .filter(|c| {
            opts.only
                .as_ref()
                .is_none_or(|o| c.name.contains(o.as_str()))
        })
        .collect();
    println!(
        "{} cells, {} repetitions each (3× for cells under 20 ms, but cold calls){}; regret = median / best non-autopar median",
        specs.len(),
        opts.reps,
        if opts.runs > 1 {
            format!(
                ", {} runs (each cell: the median of its runs' ratios to their plain loop)",
                opts.runs
            )
        } else {
            String::new()
        }
    );
    let mut runs: Vec<Vec<CellResult>> = Vec::new();
    let mut run_overheads = Vec::new();
    for run in 0..opts.runs {
        if opts.runs > 1 {
            println!("\nrun {} of {}", run + 1, opts.runs);
        }
        println!(
            "\n{:<22} {:>9} {:>10}  {:<26} {:>7} {:>7} {:>7} {:>7} {:>7} {:>9} {:>9} {:>9}",
            "cell",
            "per item",
            "seq",
            "best",
            "rayon",
            "tuned",
            "orx",
            "cold",
            "warm",
            "seq once",
            "best once",
            "warm once"
        );
        let mut results = Vec::new();
        for spec in &specs {
            let Some(r) = measure_cell(&mut ctx, spec, opts.reps) else {
                continue;
            };
            let (best, best_t) = r.best();
            println!(
                "{:<22} {:>9} {:>10}  {:<26} {:>7} {:>7} {:>7} {:>7} {:>7} {:>9} {:>9} {:>9}",
                r.name,
                fmt_ns(r.seq() / r.n.max(1) as f64),
                fmt_ns(r.seq()),
                format!("{} {}", best.name(), fmt_ns(best_t)),
                fmt_regret(r.regret(Strat::Rayon)),
                fmt_regret(r.tuned().map(|(_, t)| t / best_t)),
                fmt_regret(r.regret(Strat::Orx)),
                fmt_regret(r.regret(Strat::Cold)),
                fmt_regret(r.regret(Strat::Warm)),
                fmt_regret(r.regret(Strat::SeqOnce)),
                fmt_regret(r.regret(Strat::BestOnce)),
                fmt_regret(r.regret(Strat::WarmOnce)),
            );
            results.push(r);
        }
        runs.push(results);
        run_overheads.push(measure_overheads(&mut ctx, opts.quick));
    }
    let changing_phases = changing::run(opts.quick, opts.reps);
    let changing_md = changing::markdown(&changing_phases);
    let mut results = median_of_runs(runs);
    attach_plans(&mut results);
    let overheads = Overheads::median_of_runs(run_overheads);
    let scaling = opts
        .scaling
        .as_ref()
        .filter(|t| !t.is_empty())
        .map(|t| run_scaling(t, opts.reps));

    let main_table = table(&results);
    let sums = summary_table(&summaries(&results));
    let over = overhead_table(&overheads, &results);
    let goal_list = goals(&results, &overheads, opts.quick);
    let elapsed = started.elapsed();
    println!("\n{main_table}\n{sums}\n{over}\n{goal_list}");
    let scaling_md = scaling
        .as_ref()
        .map(|(c, i, rows)| scaling_table(*c, *i, rows));
    if let Some(s) = &scaling_md {
        println!("{s}");
    }
    println!("changing cost:\n{changing_md}");
    println!("total time: {:.0} s", elapsed.as_secs_f64());

    let title = format!(
        "autopar regret per cell: {} cores, {} ({})",
        cores(),
        cpu_model(),
        today()
    );
    if let Some(path) = &opts.svg {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).expect("bench_matrix: creating the SVG's folder");
        }
        std::fs::write(path, svg_chart(&results, &title)).expect("bench_matrix: writing the SVG");
        println!("wrote {}", path.display());
    }
    if let Some(path) = &opts.markdown {
        let mut section = String::new();
        writeln!(section, "## {} cores: {}\n", cores(), cpu_model()).unwrap();
        writeln!(
            section,
            "- Machine: {machine}\n- Load average (1 min) before / after the run: {load_before} / {} (other work on the machine skews the numbers)\n- Date: {}\n- Toolchain: {}\n- Command: `{command}` (release build), {} repetitions per strategy (3× for cells under 20 ms, but for cold calls), {} run{} of the whole matrix{}, total {:.0} s\n",
            loadavg(),
            today(),
            rustc_version(),
            opts.reps,
            opts.runs,
            if opts.runs == 1 { "" } else { "s" },
            if opts.runs == 1 {
                ""
            } else {
                " (each number below: per cell and strategy, the median of its runs' medians ÷ their plain loop, times the median plain loop; the overheads: the median of the runs' medians)"
            },
            elapsed.as_secs_f64()
        )
        .unwrap();
        writeln!(section, "### Regret per cell\n\nRegret columns: time / best non-autopar time (`best non-autopar` gives which strategy and its median). *Plans* are what autopar decided for the cell's size class (`cpu 2t c64` = rayon, 2 threads, chunks of 64; `io 67w` = I/O pool, 67 workers).\n\n{main_table}").unwrap();
        writeln!(section, "### Summary\n\n{sums}").unwrap();
        writeln!(section, "### Overheads and the I/O goal\n\n{over}").unwrap();
        writeln!(
            section,
            "### Goals (issue #5), as measured in this run\n\n{goal_list}"
        )
        .unwrap();
        writeln!(
            section,
            "### Changing cost\n\nOne call site per input size, called {} times per phase; each phase's items cost 10×, 100× or 1000× more or less than the previous phase's. Regret: each call's time / the best baseline's median for that size and cost (plain loop, rayon, best rayon `with_min_len`, orx-parallel), measured in the same run. *First call*: the first call after the change.\n\n{changing_md}",
            if opts.quick { 3 } else { 8 }
        )
        .unwrap();
        if let Some(s) = &scaling_md {
            writeln!(section, "### Speedup vs threads\n\n{s}").unwrap();
        }
        write_markdown(path, &section).expect("bench_matrix: writing the markdown");
        println!("wrote {}", path.display());
    }
}
