//! Profiling: run the first items on the calling thread and measure them.
//!
//! Items are timed in batches of growing size (1, 2, 4, …) so the clock's ~25 ns cost
//! is amortised even on nanosecond bodies, until a small budget is spent or the input
//! ends. Profiled items are real work: they go into the call's first accumulator and
//! are never run again.

use std::time::Instant;

use crate::clock::{thread_cpu_ns, voluntary_switches};
use crate::policy::Profile;

/// Items a profile cut short by an early exit needs to be learned (or see below).
const CUT_SHORT_MIN_ITEMS: usize = 256;
/// Time a profile cut short by an early exit needs to be learned (or see above).
const CUT_SHORT_MIN_NS: u64 = 20_000;

/// Profiling stops once it has spent this much wall time (and seen a few batches), or
/// less where the loop is short next to its parallel run on all cores.
pub(crate) const BUDGET_NS: u64 = 100_000;
/// ...but never less than this, where clock reads would be a visible share of it.
const MIN_BUDGET_NS: f64 = 5_000.0;
/// ...or once it has spent this fraction of the estimated total, whichever is later.
/// Expensive items are decided on fewer batches rather than spend more than this.
pub(crate) const MAX_FRACTION_OF_TOTAL: f64 = 0.02;
/// Items this slow are decided on whatever batches fit in this time: the spread
/// matters little when each item is worth many scheduling costs.
const EXPENSIVE_NS: u64 = 10 * BUDGET_NS;
/// Batches needed to estimate the spread.
const MIN_BATCHES: usize = 3;
/// Profiling never runs more than this many batches (2^20 items at most).
const MAX_BATCHES: usize = 21;

/// Timings of the batches run so far.
pub(crate) struct Profiler {
    started: Instant,
    cpu_start: Option<u64>,
    blocks_start: Option<u64>,
    /// (items, ns) per batch.
    batches: Vec<(usize, u64)>,
    items: usize,
    elapsed_ns: u64,
    /// Cores to budget for; `None`: ask the machine, only once the budget matters (the
    /// first query costs tens of µs, more than a whole tiny loop).
    cores: Option<usize>,
    /// Wall and CPU time this profiler spent on that first query, inside the profiling
    /// window: not the items' time, so left out of the CPU fraction.
    query_wall_ns: u64,
    query_cpu_ns: u64,
}

impl Profiler {
    /// Starts profiling.
    pub(crate) fn start() -> Self {
        Profiler::with_cores(None)
    }

    /// Starts profiling a loop that could run on `cores` cores (if known).
    fn with_cores(cores: Option<usize>) -> Self {
        let cpu_start = thread_cpu_ns();
        Profiler {
            started: Instant::now(),
            cpu_start,
            blocks_start: voluntary_switches(),
            batches: Vec::with_capacity(MAX_BATCHES),
            items: 0,
            elapsed_ns: 0,
            cores,
            query_wall_ns: 0,
            query_cpu_ns: 0,
        }
    }

    /// The cores to budget for. The process's first query reads cgroup files (~120 µs of
    /// CPU on a 2-vCPU VM); counted in the profile, it made a loop of 1 ms sleeps look
    /// 13% CPU-bound, and the process's first I/O loop got 32 workers instead of ~200.
    fn cores(&mut self) -> usize {
        if let Some(cores) = self.cores.or_else(crate::machine::known_cores) {
            return cores;
        }
        let (wall, cpu) = (Instant::now(), thread_cpu_ns());
        let cores = crate::machine::cores();
        self.query_wall_ns += wall.elapsed().as_nanos() as u64;
        if let (Some(before), Some(after)) = (cpu, thread_cpu_ns()) {
            self.query_cpu_ns += after.saturating_sub(before);
        }
        self.cores = Some(cores);
        cores
    }

    /// The calling thread's CPU time when profiling started (`None` without a clock).
    pub(crate) fn cpu_start(&self) -> Option<u64> {
        self.cpu_start
    }

    /// Whether the batches so far say enough about the items to decide from when
    /// profiling is cut short (an early exit): at least [`CUT_SHORT_MIN_ITEMS`] items, or
    /// [`CUT_SHORT_MIN_NS`] of them. A search that hits its first item would otherwise
    /// judge the loop by one item, timer included.
    pub(crate) fn enough_when_cut_short(&self) -> bool {
        self.items >= CUT_SHORT_MIN_ITEMS || self.elapsed_ns >= CUT_SHORT_MIN_NS
    }

    /// Size of the next batch: doubling from 1.
    pub(crate) fn next_batch_len(&self) -> usize {
        1 << self.batches.len()
    }

    /// Records a batch timed elsewhere: `items` items run in `ns` by a helper thread
    /// while this thread profiled (the CPU fraction stays this thread's).
    pub(crate) fn add_batch(&mut self, items: usize, ns: u64) {
        if items > 0 {
            self.batches.push((items, ns));
            self.items += items;
        }
    }

    /// Runs `batch` (which processes the given number of items and returns how many it
    /// actually processed) and records its time.
    #[inline]
    pub(crate) fn time<R>(&mut self, batch: impl FnOnce() -> (usize, R)) -> R {
        let start = Instant::now();
        let (items, result) = batch();
        let ns = start.elapsed().as_nanos() as u64;
        if items > 0 {
            self.batches.push((items, ns));
            self.items += items;
            self.elapsed_ns += ns;
        }
        result
    }

    /// Whether profiling has seen enough, given `remaining` items left (if known).
    pub(crate) fn done(&mut self, remaining: Option<usize>) -> bool {
        if remaining == Some(0) || self.batches.len() >= MAX_BATCHES {
            return true;
        }
        if self.items == 0 {
            return false;
        }
        let item_ns = self.elapsed_ns as f64 / self.items as f64;
        let total_ns = item_ns * (self.items + remaining.unwrap_or(self.items)) as f64;
        // Profiling runs on one thread while the others wait: on many cores, a budget
        // that is small next to the whole loop is large next to its parallel run.
        if (self.elapsed_ns as f64) < MIN_BUDGET_NS {
            return false;
        }
        let budget_ns = match remaining {
            Some(_) => {
                let cores = self.cores().max(1);
                (BUDGET_NS as f64)
                    .min(total_ns / (2.0 * cores as f64))
                    .max(MIN_BUDGET_NS)
            }
            None => BUDGET_NS as f64,
        };
        if (self.elapsed_ns as f64) < budget_ns {
            return false;
        }
        self.batches.len() >= MIN_BATCHES
            || self.elapsed_ns >= EXPENSIVE_NS
            || self.elapsed_ns as f64 >= MAX_FRACTION_OF_TOTAL * total_ns
    }

    /// The measured profile (`None` if no item ran).
    pub(crate) fn finish(self) -> Option<Profile> {
        if self.items == 0 {
            return None;
        }
        let wall_ns = (self.started.elapsed().as_nanos() as u64).saturating_sub(self.query_wall_ns);
        let never_blocked = match (self.blocks_start, voluntary_switches()) {
            (Some(start), Some(end)) => end == start,
            _ => false,
        };
        let on_cpu = match (self.cpu_start, thread_cpu_ns()) {
            (Some(start), Some(end)) if wall_ns > 0 => {
                let cpu_ns = end.saturating_sub(start).saturating_sub(self.query_cpu_ns);
                Some((cpu_ns as f64 / wall_ns as f64).min(1.0))
            }
            _ => None,
        };
        let cpu_fraction = match on_cpu {
            // Wall time off the CPU without ever blocking was spent waiting for a CPU
            // (preempted by other threads): the items are CPU-bound all the same.
            _ if never_blocked => 1.0,
            Some(on_cpu) => on_cpu,
            // No thread CPU clock: assume CPU-bound, the safe side (no big I/O pools).
            None => 1.0,
        };
        let profile = summarise(&self.batches, cpu_fraction);
        Some(match on_cpu {
            Some(on_cpu) if never_blocked => without_preemption(profile, on_cpu),
            _ => profile,
        })
    }
}

/// The profile of items whose thread never blocked but had a CPU only `on_cpu` of the
/// time: they cost their CPU time, and the rest of the wall time was spent waiting for a
/// CPU. Without this, one preemption of a few ms during the profiling of a loop of
/// nanosecond items made them look like 30 µs items, worth a parallel plan. Small
/// shortfalls are clock noise, and left alone.
fn without_preemption(profile: Profile, on_cpu: f64) -> Profile {
    if on_cpu >= PREEMPTED_BELOW {
        return profile;
    }
    Profile {
        item_ns: profile.item_ns * on_cpu.max(0.0),
        ..profile
    }
}

/// A never-blocked thread on a CPU less than this share of the profiling time was
/// preempted for a significant part of it.
const PREEMPTED_BELOW: f64 = 0.8;

/// Per-item time and spread from batch timings.
fn summarise(batches: &[(usize, u64)], cpu_fraction: f64) -> Profile {
    // The very first item often pays for cold caches and first-touch page faults; leave
    // it out of the estimates when later batches exist.
    let steady = if batches.len() >= 3 {
        &batches[1..]
    } else {
        batches
    };
    let items: usize = steady.iter().map(|(n, _)| n).sum();
    let ns: u64 = steady.iter().map(|(_, ns)| ns).sum();
    let item_ns = ns as f64 / items.max(1) as f64;
    let per_item: Vec<f64> = steady.iter().map(|&(n, ns)| ns as f64 / n as f64).collect();
    let spread = if per_item.len() >= 2 && item_ns > 0.0 {
        let mean = per_item.iter().sum::<f64>() / per_item.len() as f64;
        let var = per_item.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / per_item.len() as f64;
        var.sqrt() / mean.max(f64::MIN_POSITIVE)
    } else {
        0.0
    };
    Profile {
        item_ns,
        cpu_fraction,
        spread,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn preemption_is_taken_out_of_the_item_cost() {
        let measured = super::Profile {
            item_ns: 30_000.0,
            cpu_fraction: 1.0,
            spread: 0.5,
        };
        // On a CPU 1% of the time: the items cost 1% of their wall time.
        let corrected = super::without_preemption(measured, 0.01);
        assert!((corrected.item_ns - 300.0).abs() < 1e-9, "{corrected:?}");
        assert_eq!(
            (corrected.cpu_fraction, corrected.spread),
            (measured.cpu_fraction, measured.spread)
        );
        // Nearly always on a CPU: clock noise, not preemption.
        assert_eq!(super::without_preemption(measured, 0.95), measured);
    }

    use super::*;

    #[test]
    fn summary_skips_the_cold_first_item() {
        let p = summarise(&[(1, 5_000), (2, 200), (4, 400), (8, 800)], 1.0);
        assert!((p.item_ns - 100.0).abs() < 1e-9, "{p:?}");
        assert!(p.spread < 1e-9);
    }

    #[test]
    fn spread_is_the_coefficient_of_variation() {
        let p = summarise(&[(1, 100), (1, 100), (1, 300), (1, 100)], 1.0);
        assert!(p.spread > 0.5, "{p:?}");
    }

    #[test]
    fn profiling_stops_at_the_budget_or_the_end() {
        let mut profiler = Profiler::with_cores(Some(2));
        assert!(!profiler.done(Some(10)));
        profiler.time(|| (1, ()));
        assert!(profiler.done(Some(0)));
        // Cheap items: keeps going while under budget.
        assert!(!profiler.done(Some(1_000_000)));
        let mut profiler = Profiler::with_cores(Some(2));
        // Expensive items: one batch worth 2% of the total is enough...
        profiler.batches.push((1, 200_000));
        profiler.items = 1;
        profiler.elapsed_ns = 200_000;
        assert!(profiler.done(Some(20)));
        assert!(!profiler.done(Some(10_000)));
        // ...and so is any batch over EXPENSIVE_NS.
        profiler.batches.push((2, 2_000_000));
        profiler.items = 3;
        profiler.elapsed_ns = 2_200_000;
        assert!(profiler.done(Some(10_000)));
    }

    #[test]
    fn many_cores_cut_profiling_short_on_short_loops() {
        // Six batches (63 items) of a 1000-item loop at 500 ns per item.
        let done_after = |cores: usize, item_ns: u64| {
            let mut profiler = Profiler::with_cores(Some(cores));
            profiler.batches = (0..6).map(|b| (1 << b, (1 << b) * item_ns)).collect();
            profiler.items = 63;
            profiler.elapsed_ns = 63 * item_ns;
            profiler.done(Some(1000 - 63))
        };
        // 1000 × 500 ns = 500 µs: 2 cores profile up to the 100 µs budget; 16 cores
        // stop at 1/32 of the loop (~16 µs), a fraction of its ~35 µs parallel run.
        assert!(!done_after(2, 500));
        assert!(done_after(16, 500));
        // Never below MIN_BUDGET_NS, however short the loop.
        assert!(!done_after(16, 50));
    }
}
