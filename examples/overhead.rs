//! Measures what autopar adds to a loop: the warm per-call overhead on a tiny loop, the
//! first-call (profiling) cost, and 1000 × 1 ms sleeps under `auto` and `io` vs the
//! plain loop. Prints medians of repeated runs, side by side.
//!
//! `cargo run --release --example overhead`

use std::hint::black_box;
use std::time::{Duration, Instant};

use autopar::Parallel;

fn median_ns(reps: usize, mut run: impl FnMut()) -> f64 {
    let mut samples: Vec<f64> = (0..reps)
        .map(|_| {
            let start = Instant::now();
            run();
            start.elapsed().as_nanos() as f64
        })
        .collect();
    samples.sort_by(f64::total_cmp);
    samples[reps / 2]
}

fn plain_sum(items: &[u64]) -> u64 {
    let mut total = 0u64;
    for &x in items {
        total = total.wrapping_add(x ^ (x >> 3));
    }
    total
}

fn auto_sum(items: &[u64]) -> u64 {
    Parallel::auto().reduce(
        items,
        || 0u64,
        |acc, &x| acc.wrapping_add(x ^ (x >> 3)),
        u64::wrapping_add,
    )
}

fn main() {
    let items: Vec<u64> = (0..1000).collect();
    // Interleave the two so machine noise hits both alike; 10k calls per sample.
    let calls = 10_000;
    let mut plain = Vec::new();
    let mut auto = Vec::new();
    for _ in 0..15 {
        plain.push(
            median_ns(1, || {
                for _ in 0..calls {
                    black_box(plain_sum(black_box(&items)));
                }
            }) / calls as f64,
        );
        auto.push(
            median_ns(1, || {
                for _ in 0..calls {
                    black_box(auto_sum(black_box(&items)));
                }
            }) / calls as f64,
        );
    }
    plain.sort_by(f64::total_cmp);
    auto.sort_by(f64::total_cmp);
    let (p, a) = (plain[7], auto[7]);
    println!("1000 × ~1 ns loop, per call (median of 15 × {calls} calls):");
    println!("  plain loop            {p:>9.1} ns");
    println!(
        "  Parallel::auto warm   {a:>9.1} ns   ({:.3}× plain, +{:.1} ns)",
        a / p,
        a - p
    );

    // First call at a fresh site: profiling + decision.
    let cold: Vec<f64> = (0..5)
        .map(|_| {
            // Each closure type is a fresh site entry: a new body type at this site.
            let start = Instant::now();
            black_box(fresh_site_sum(&items));
            start.elapsed().as_nanos() as f64
        })
        .collect();
    println!("  first call (profiles) {:>9.1} ns", cold[0]);

    let sleeps: Vec<u32> = (0..1000).collect();
    let nap = |_: &u32| std::thread::sleep(Duration::from_millis(1));
    let io50 = median_ns(5, || Parallel::io().workers(50).for_each(&sleeps, nap));
    let mut auto_runs = Vec::new();
    for _ in 0..5 {
        let start = Instant::now();
        Parallel::auto().for_each(&sleeps, nap);
        auto_runs.push(start.elapsed().as_nanos() as f64);
    }
    let auto_cold = auto_runs[0];
    let mut warm = auto_runs[1..].to_vec();
    warm.sort_by(f64::total_cmp);
    println!("1000 × 1 ms sleep:");
    println!(
        "  io, workers = 50      {:>9.1} ms  (ideal 20 ms)",
        io50 / 1e6
    );
    println!("  auto, first call      {:>9.1} ms", auto_cold / 1e6);
    println!(
        "  auto, warm (median)   {:>9.1} ms",
        warm[warm.len() / 2] / 1e6
    );
    println!("\n{}", autopar::report());
}

fn fresh_site_sum(items: &[u64]) -> u64 {
    Parallel::auto().label("cold").reduce(
        items,
        || 0u64,
        |a, &x| a.wrapping_add(x),
        u64::wrapping_add,
    )
}
