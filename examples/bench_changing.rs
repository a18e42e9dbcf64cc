//! The "changing cost" section of the benchmark matrix: one loop whose per-item cost
//! changes between calls, as a function called on different data does (thumbnails, then
//! 4K images). One call site per input size is called in a fixed sequence of phases;
//! each phase's items cost 10×, 100× or 1000× more or less than the previous phase's.
//! Every call is timed on its own, and its regret is its time over the best baseline's
//! median for that size and cost (plain loop, rayon, rayon with the best `with_min_len`
//! of a grid, orx-parallel), measured beforehand in the same run.
//!
//! What matters is the first call after a change (the cached decision was made for
//! other items) and the calls after it (how fast the site follows the data).

use super::{
    Calibration, Kind, MIN_LEN_GRID, Shape, Strat, Work, fmt_cost, fmt_n, fmt_ns, median,
    run_baseline,
};
use autopar::Parallel;
use std::fmt::Write as _;
use std::hint::black_box;
use std::time::Instant;

/// Item costs of the phases, in ns.
const COSTS: [f64; 4] = [20.0, 200.0, 2_000.0, 20_000.0];
/// Input sizes: one call site each.
const SIZES: [usize; 5] = [30, 300, 3_000, 30_000, 300_000];
/// Phases whose sequential call would take longer than this are left out.
const MAX_CALL_NS: f64 = 60e6;
/// The phases: from 20 ns, 10× up and down, 100× up and down, 1000× up and down.
const SEQUENCE: [f64; 7] = [20.0, 200.0, 20.0, 2_000.0, 20.0, 20_000.0, 20.0];

/// One phase of one scenario, as measured.
pub(crate) struct Phase {
    n: usize,
    from_ns: Option<f64>,
    cost_ns: f64,
    best: (Strat, f64),
    /// Regret of each call of the phase, in order.
    regrets: Vec<f64>,
}

impl Phase {
    fn first(&self) -> f64 {
        self.regrets[0]
    }

    /// Median regret of the calls after the first.
    fn steady(&self) -> f64 {
        let mut rest = self.regrets[1..].to_vec();
        median(&mut rest)
    }

    fn worst_after_first(&self) -> f64 {
        self.regrets[1..].iter().copied().fold(0.0, f64::max)
    }

    fn change(&self) -> String {
        match self.from_ns {
            None => format!("start at {}", fmt_cost(self.cost_ns)),
            Some(from) => {
                let factor = self.cost_ns / from;
                let (times, way) = if factor >= 1.0 {
                    (factor, "up")
                } else {
                    (1.0 / factor, "down")
                };
                format!(
                    "{} → {} ({:.0}× {way})",
                    fmt_cost(from),
                    fmt_cost(self.cost_ns),
                    times
                )
            }
        }
    }
}

/// The call site of the scenario `K`: the same location for every size, a distinct
/// closure type (and so a distinct autopar cache entry) per `K`.
#[inline(never)]
fn site<const K: usize>(w: Work) {
    Parallel::auto()
        .label("changing cost")
        .for_each(0..w.n, move |i| {
            black_box(w.item(i));
        });
}

fn call_site(k: usize, w: Work) {
    match k {
        0 => site::<0>(w),
        1 => site::<1>(w),
        2 => site::<2>(w),
        3 => site::<3>(w),
        _ => site::<4>(w),
    }
}

/// Median time of each baseline on `w`, interleaved repetition by repetition.
fn best_baseline(w: Work, reps: usize) -> (Strat, f64) {
    let mut strats = vec![Strat::Seq, Strat::Rayon, Strat::Orx];
    strats.extend(
        MIN_LEN_GRID
            .iter()
            .filter(|&&m| m < w.n)
            .map(|&m| Strat::MinLen(m)),
    );
    let shape = Shape::ForEach(w);
    let mut times = vec![Vec::new(); strats.len()];
    for _ in 0..reps {
        for (s, strat) in strats.iter().enumerate() {
            let start = Instant::now();
            black_box(run_baseline(None, *strat, &shape));
            times[s].push(start.elapsed().as_nanos() as f64);
        }
    }
    strats
        .into_iter()
        .zip(times)
        .map(|(s, mut t)| (s, median(&mut t)))
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .expect("at least the plain loop")
}

/// Runs every scenario; prints each phase as it ends.
pub(crate) fn run(quick: bool, reps: usize) -> Vec<Phase> {
    let sizes: &[usize] = if quick { &[30, 3_000] } else { &SIZES };
    let calls = if quick { 3 } else { 8 };
    let cal = Calibration::measure(&COSTS);
    println!(
        "\nchanging cost: {} calls per phase; kernel steps per item: {}",
        calls,
        COSTS
            .iter()
            .map(|&ns| format!("{} = {}", fmt_cost(ns), cal.iters(ns)))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!(
        "{:>8}  {:<26} {:<24} {:>7} {:>7} {:>7}",
        "items", "change", "best baseline", "first", "steady", "worst"
    );
    let mut phases = Vec::new();
    for (k, &n) in sizes.iter().enumerate() {
        let sequence: Vec<f64> = SEQUENCE
            .iter()
            .copied()
            .filter(|&c| n as f64 * c <= MAX_CALL_NS)
            .filter(|&c| !quick || c <= 2_000.0)
            .collect();
        // Consecutive equal costs (a left-out phase between them) are one phase.
        let mut sequence_dedup: Vec<f64> = Vec::new();
        for c in sequence {
            if sequence_dedup.last() != Some(&c) {
                sequence_dedup.push(c);
            }
        }
        let mut from = None;
        for cost in sequence_dedup {
            let w = Work {
                kind: Kind::Spin {
                    iters: cal.iters(cost),
                },
                n,
                files: &[],
            };
            let best = best_baseline(w, reps);
            let regrets: Vec<f64> = (0..calls)
                .map(|_| {
                    let start = Instant::now();
                    call_site(k, w);
                    start.elapsed().as_nanos() as f64 / best.1
                })
                .collect();
            let phase = Phase {
                n,
                from_ns: from,
                cost_ns: cost,
                best,
                regrets,
            };
            println!(
                "{:>8}  {:<26} {:<24} {:>7.2} {:>7.2} {:>7.2}",
                fmt_n(n),
                phase.change(),
                format!("{} {}", phase.best.0.name(), fmt_ns(phase.best.1)),
                phase.first(),
                phase.steady(),
                phase.worst_after_first()
            );
            phases.push(phase);
            from = Some(cost);
        }
    }
    phases
}

/// The section as markdown: one row per phase, then the goals.
pub(crate) fn markdown(phases: &[Phase]) -> String {
    let mut s = String::new();
    writeln!(
        s,
        "| items | change | best baseline | first call | steady (median after) | worst after |\n|---|---|---|---|---|---|"
    )
    .unwrap();
    for p in phases {
        writeln!(
            s,
            "| {} | {} | {} {} | {:.2} | {:.2} | {:.2} |",
            fmt_n(p.n),
            p.change(),
            p.best.0.name(),
            fmt_ns(p.best.1),
            p.first(),
            p.steady(),
            p.worst_after_first()
        )
        .unwrap();
    }
    let changes: Vec<&Phase> = phases.iter().filter(|p| p.from_ns.is_some()).collect();
    let worst_first = changes.iter().map(|p| p.first()).fold(0.0, f64::max);
    let worst_after = phases
        .iter()
        .map(|p| p.worst_after_first())
        .fold(0.0, f64::max);
    let calls: usize = phases.iter().map(|p| p.regrets.len()).sum();
    let within = phases
        .iter()
        .flat_map(|p| &p.regrets)
        .filter(|&&r| r <= 1.5)
        .count();
    writeln!(
        s,
        "\n- Every call ≤ 1.5× the best for that call: {within} of {calls} calls (worst first call after a change {worst_first:.2}).\n- Calls after the first of a phase ≤ 1.2×: worst {worst_after:.2}."
    )
    .unwrap();
    s
}
